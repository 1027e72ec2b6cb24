/*
 * make_blob.c — write the weight blob of an untrained, seeded model, for the
 * serving tests and benchmarks that need a model of a given size without
 * training one (build: make test/nn/bin/make_blob).
 *
 *   make_blob OUT N_ITEMS N_TAGS DIM HIDDEN LAYERS MAXLEN SEED
 *
 * Item j (1..N) has external id 10*j and tag 1 + (j-1) % N_TAGS; its bias is
 * -0.001 * j, so the cold-start (popularity) ranking is item 10, 20, 30, ...
 * Ratings are scaled from the range [1, 10].
 */
#include <stdio.h>
#include <stdlib.h>

#include "nn/nn.h"

int
main(int argc, char **argv)
{
	nn_config	cfg = {0};
	nn_model	m;
	nn_error	err;
	int32_t    *tag_ptr, *tag_idx;
	int64_t    *ids;
	void	   *blob;
	size_t		len;
	FILE	   *f;

	if (argc != 9)
	{
		fprintf(stderr, "usage: %s OUT N_ITEMS N_TAGS DIM HIDDEN LAYERS MAXLEN SEED\n", argv[0]);
		return 2;
	}
	cfg.n_items = atoi(argv[2]);
	cfg.n_tags = atoi(argv[3]);
	cfg.dim = atoi(argv[4]);
	cfg.hidden = atoi(argv[5]);
	cfg.layers = atoi(argv[6]);
	cfg.maxlen = atoi(argv[7]);
	cfg.rating_min = 1.0f;
	cfg.rating_max = 10.0f;
	tag_ptr = calloc(cfg.n_items + 2, sizeof(int32_t));
	tag_idx = calloc(cfg.n_items + 1, sizeof(int32_t));
	ids = calloc(cfg.n_items + 1, sizeof(int64_t));
	for (int32_t j = 1; j <= cfg.n_items; j++)
	{
		int			has_tag = cfg.n_tags > 0;

		ids[j] = 10 * (int64_t) j;
		tag_ptr[j + 1] = tag_ptr[j] + has_tag;
		if (has_tag)
			tag_idx[tag_ptr[j]] = 1 + (j - 1) % cfg.n_tags;
	}
	if (nn_model_create(&m, &cfg, tag_ptr, tag_idx, ids, strtoull(argv[8], NULL, 10),
						&nn_malloc_allocator, &err) != NN_OK)
	{
		fprintf(stderr, "make_blob: %s\n", err.msg);
		return 1;
	}
	for (int32_t j = 1; j <= cfg.n_items; j++)
		m.item_bias[j] = -0.001f * j;
	len = nn_weights_size(&m);
	blob = aligned_alloc(64, (len + 63) / 64 * 64);
	if (nn_weights_write(&m, blob, len, &err) != NN_OK)
	{
		fprintf(stderr, "make_blob: %s\n", err.msg);
		return 1;
	}
	f = fopen(argv[1], "wb");
	if (f == NULL || fwrite(blob, 1, len, f) != len || fclose(f) != 0)
	{
		perror(argv[1]);
		return 1;
	}
	return 0;
}
