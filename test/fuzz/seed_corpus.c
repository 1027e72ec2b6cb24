/*
 * seed_corpus.c — write the seed corpora of fuzz_weights and fuzz_resume
 * (`make fuzz-corpus`): into WEIGHTS_DIR valid weight blobs of a few small
 * configurations and a few recipes (see fuzz_weights.c); into RESUME_DIR
 * valid training states of resume_trainer.h's trainer, with and without an
 * averaged copy.  Deterministic; each file is a few KB.
 *
 *   seed_corpus WEIGHTS_DIR RESUME_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn/nn.h"
#include "resume_trainer.h"

/* write len bytes of data to DIR/name; exits on failure */
static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

/*
 * Write the blob of a model of cfg whose item j has j % 3 tags (if the
 * configuration has tags) and id 1000 + 5 j; with user rows, user_ids (U)
 * gives their ids (format version 2), or NULL none (version 1, as 0.2.0
 * wrote them).
 */
static void
write_blob(const char *dir, const char *name, const nn_config *cfg, const int64_t *user_ids)
{
	int32_t		ptr[66] = {0};
	int32_t		idx[3 * 65];
	int64_t		ids[65] = {0};
	nn_model	m;
	nn_error	err;
	void	   *blob;
	size_t		len;
	int32_t		j;
	int32_t		k;

	for (j = 0; j <= cfg->n_items; j++)
	{
		ptr[j + 1] = ptr[j];
		for (k = 0; cfg->n_tags > 0 && j > 0 && k < j % 3; k++)
			idx[ptr[j + 1]++] = 1 + (j + k) % cfg->n_tags;
		ids[j] = j == 0 ? 0 : 1000 + 5 * (int64_t) j;
	}
	if (nn_model_create(&m, cfg, ptr, idx, ids, 7, &nn_malloc_allocator, &err) != NN_OK)
	{
		fprintf(stderr, "seed_corpus: %s: %s\n", name, err.msg);
		exit(1);
	}
	if (user_ids == NULL)
		m.user_ids = NULL;
	else if (nn_model_set_user_ids(&m, user_ids, &err) != NN_OK)
	{
		fprintf(stderr, "seed_corpus: %s: %s\n", name, err.msg);
		exit(1);
	}
	len = nn_weights_size(&m);
	if (posix_memalign(&blob, 64, len) != 0 || nn_weights_write(&m, blob, len, &err) != NN_OK)
	{
		fprintf(stderr, "seed_corpus: %s: cannot write the blob\n", name);
		exit(1);
	}
	write_file(dir, name, blob, len);
	free(blob);
	nn_model_free(&m);
}

/*
 * Write the training states of resume_trainer.h's trainer after one step on
 * a two-row batch: without and with an averaged copy of the parameters.
 */
static void
write_states(const char *dir)
{
	nn_model	m;
	nn_trainer *t = resume_trainer(&m);
	const int32_t items[10] = {0, 1, 2, 3, 4, 0, 0, 5, 1, 2};
	const float ratings[10] = {0};
	const int32_t utag_ptr[3] = {0, 1, 1};
	const int32_t utag_idx[1] = {1};
	nn_batch	b = {2, 4, items, ratings, NULL, utag_ptr, utag_idx};
	double		loss = 0.0;
	int64_t		npos = 0;
	nn_error	err;
	int			with_avg;

	if (nn_trainer_step(t, &b, &loss, &npos, &err) != NN_OK)
	{
		fprintf(stderr, "seed_corpus: state step: %s\n", err.msg);
		exit(1);
	}
	for (with_avg = 0; with_avg <= 1; with_avg++)
	{
		size_t		len = nn_resume_size(t, with_avg);
		unsigned char *blob = malloc(len);

		if (blob == NULL ||
			nn_resume_write(t, with_avg ? m.params : NULL, 7, blob, len, &err) != NN_OK)
		{
			fprintf(stderr, "seed_corpus: cannot write the state\n");
			exit(1);
		}
		write_file(dir, with_avg ? "state-average" : "state-plain", blob, len);
		free(blob);
	}
	nn_trainer_free(t);
	nn_model_free(&m);
}

int
main(int argc, char **argv)
{
	const nn_config small = {.n_items = 9, .n_tags = 4, .dim = 4, .hidden = 6, .layers = 1,
	.maxlen = 5, .rating_min = 1.0f, .rating_max = 10.0f};
	const nn_config full = {.n_items = 13, .n_user_tags = 5, .n_users = 3, .dim = 3,
	.hidden = 5, .layers = 3, .maxlen = 7, .rating_min = -2.5f, .rating_max = 2.5f};
	const nn_config tiny = {.n_items = 1, .n_tags = 1, .dim = 1, .hidden = 1, .layers = 2,
	.maxlen = 1, .rating_min = 0.0f, .rating_max = 0.0f};
	const nn_config wide = {.n_items = 64, .n_tags = 9, .n_user_tags = 2, .n_users = 4,
	.dim = 8, .hidden = 8, .layers = 2, .maxlen = 16, .rating_min = 1.0f, .rating_max = 5.0f};
	/* '!' and 12 recipe bytes: dims, tags, ids, seed, reseal/cut flags; then edits */
	const uint8_t recipe_plain[] = "!\x05\x02\x01\x01\x02\x03\x01\x04\x00\x07\x01\x00";
	const uint8_t recipe_sealed[] = "!\x0f\x04\x03\x03\x03\x03\x07\x07\x02\x09\x02\x01\x90\x00\x01";
	const uint8_t recipe_cut[] = "!\x03\x01\x00\x00\x00\x00\x00\x00\x01\x00\x03\x1a";
	const int64_t user_ids[3] = {-3, 8, (int64_t) 1 << 40};

	if (argc != 3)
	{
		fprintf(stderr, "usage: seed_corpus WEIGHTS_DIR RESUME_DIR\n");
		return 2;
	}
	write_blob(argv[1], "blob-small", &small, NULL);
	write_blob(argv[1], "blob-full", &full, NULL);
	write_blob(argv[1], "blob-tiny", &tiny, NULL);
	write_blob(argv[1], "blob-wide", &wide, NULL);
	write_blob(argv[1], "blob-users", &full, user_ids);
	write_file(argv[1], "recipe-plain", recipe_plain, sizeof(recipe_plain) - 1);
	write_file(argv[1], "recipe-sealed", recipe_sealed, sizeof(recipe_sealed) - 1);
	write_file(argv[1], "recipe-cut", recipe_cut, sizeof(recipe_cut) - 1);
	write_states(argv[2]);
	return 0;
}
