/*
 * fuzz_weights.c — libFuzzer target for the weight-file reader
 * (nn_weights_view in src/nn/format.c), built by `make fuzz-weights` with
 * -fsanitize=fuzzer,address,undefined and -DNN_FUZZ_SKIP_CRC.
 *
 * Two paths, chosen by the first input byte:
 *   - anything but '!': the input itself is the blob (the seed corpus holds
 *     valid blobs, so mutations of them reach the structural checks);
 *   - '!': a recipe.  The next RECIPE_HEADER bytes pick a small configuration,
 *     a valid blob of it is written, and the rest of the input lists byte
 *     edits (offset: 2 bytes little-endian, xor: 1 byte) applied to it, with
 *     the CRC resealed or not and the length cut or extended.
 *
 * Either way the blob sits in an exactly-sized 64-byte aligned allocation, so
 * AddressSanitizer sees any read outside it.  The oracles: a rejection has a
 * reader error code and a message; an accepted blob has every array inside
 * the blob, ids nn_item_index finds, and is rewritten byte-for-byte (CRC aside,
 * which the fuzz build does not check); an unedited recipe blob is accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

#define RECIPE_HEADER 12

/* stop the fuzzer with a message: an oracle failed */
static void
fuzz_fail(const char *what, const nn_error *err)
{
	fprintf(stderr, "fuzz_weights: %s (%d: %s)\n", what, err->code, err->msg);
	abort();
}

/* an exactly-sized, 64-byte aligned copy of len bytes of src (NULL: zeros) */
static unsigned char *
aligned_blob(const void *src, size_t len)
{
	void	   *p;

	if (posix_memalign(&p, 64, len ? len : 1) != 0)
		abort();
	memset(p, 0, len ? len : 1);
	if (src != NULL && len > 0)
		memcpy(p, src, len);
	return p;
}

/* true when [p, p + bytes) lies inside [blob, blob + len) */
static int
inside(const void *p, size_t bytes, const unsigned char *blob, size_t len)
{
	const unsigned char *q = p;

	return q >= blob && q <= blob + len && bytes <= (size_t) (blob + len - q);
}

/*
 * Oracles on an accepted blob (len bytes) and its view m: the arrays lie in
 * the blob, every id maps back to its index, and the rewritten view (which
 * reads every array through) equals the blob but for the CRC.
 */
static void
check_view(const nn_model *m, const unsigned char *blob, size_t len)
{
	size_t		items = (size_t) m->cfg.n_items + 1;
	size_t		n_idx;
	unsigned char *again;
	nn_error	err = {0, ""};
	size_t		i;

	if (!inside(m->item_tag_ptr, (items + 1) * 4, blob, len) ||
		!inside(m->item_ids, items * 8, blob, len) ||
		!inside(m->params, m->n_params * 4, blob, len) || m->owned != NULL)
		fuzz_fail("view points outside the blob", &err);
	n_idx = (size_t) m->item_tag_ptr[items];
	if (!inside(m->item_tag_idx, n_idx * 4, blob, len))
		fuzz_fail("tag indices outside the blob", &err);
	for (i = 1; i < items; i++)
		if (nn_item_index(m, m->item_ids[i]) != (int32_t) i)
			fuzz_fail("an accepted item id is not found", &err);
	if (nn_weights_size(m) != len)
		fuzz_fail("nn_weights_size of the view differs from the blob", &err);
	again = aligned_blob(NULL, len);
	if (nn_weights_write(m, again, len, &err) != NN_OK)
		fuzz_fail("the view cannot be rewritten", &err);
	if (memcmp(again, blob, len - 4) != 0)
		fuzz_fail("the rewritten view differs from the accepted blob", &err);
	free(again);
}

/* view blob (len bytes) and apply the oracles to the outcome */
static int
view_and_check(const unsigned char *blob, size_t len)
{
	nn_model	m;
	nn_error	err = {0, ""};
	int			rc = nn_weights_view(blob, len, &m, &err);

	if (rc == NN_OK)
		check_view(&m, blob, len);
	else if ((rc != NN_ECORRUPT && rc != NN_EVERSION) || err.code != rc || err.msg[0] == '\0')
		fuzz_fail("a rejection without a reader error code and message", &err);
	return rc;
}

/*
 * Build a model from the recipe header r (RECIPE_HEADER bytes): small
 * dimensions, item j with (j + r[8]) % 3 tags, ids r[9] + 3 j.
 */
static void
recipe_model(const uint8_t *r, nn_model *m)
{
	nn_config	cfg = {0};
	int32_t		ptr[18] = {0};
	int32_t		idx[3 * 17];
	int64_t		ids[17] = {0};
	nn_error	err = {0, ""};
	int32_t		j;
	int32_t		k;

	cfg.n_items = 1 + r[0] % 16;
	cfg.n_tags = r[1] % 5;
	cfg.n_user_tags = r[2] % 4;
	cfg.n_users = r[3] % 4;
	cfg.dim = 1 + r[4] % 4;
	cfg.hidden = 1 + r[5] % 4;
	cfg.layers = 1 + r[6] % NN_MAX_LAYERS;
	cfg.maxlen = 1 + r[7] % 8;
	cfg.rating_min = 1.0f;
	cfg.rating_max = 10.0f;
	for (j = 0; j <= cfg.n_items; j++)
	{
		ptr[j + 1] = ptr[j];
		for (k = 0; cfg.n_tags > 0 && j > 0 && k < (j + r[8]) % 3; k++)
			idx[ptr[j + 1]++] = 1 + (j + k) % cfg.n_tags;
		ids[j] = j == 0 ? 0 : r[9] + 3 * (int64_t) j;
	}
	if (nn_model_create(m, &cfg, ptr, idx, ids, r[10], &nn_malloc_allocator, &err) != NN_OK)
		fuzz_fail("recipe model not created", &err);
}

/* recompute the CRC32C in the last 4 bytes of blob (len bytes) */
static void
reseal(unsigned char *blob, size_t len)
{
	uint32_t	crc = nn_crc32c(0, blob, len - 4);

	memcpy(blob + len - 4, &crc, 4);
}

/*
 * The recipe path: write the recipe's blob, apply the edits, reseal the CRC
 * if r[11] & 1, cut (r[11] & 6 == 2) or extend (== 4) the length by
 * r[11] >> 3 bytes, then view it.
 */
static void
run_recipe(const uint8_t *r, size_t size)
{
	nn_model	m;
	nn_error	err = {0, ""};
	size_t		len;
	size_t		cut = r[11] >> 3;
	unsigned char *blob;
	unsigned char *final;
	size_t		i;
	int			edited = 0;

	recipe_model(r, &m);
	len = nn_weights_size(&m);
	blob = aligned_blob(NULL, len + cut);
	if (nn_weights_write(&m, blob, len, &err) != NN_OK)
		fuzz_fail("recipe blob not written", &err);
	nn_model_free(&m);
	for (i = RECIPE_HEADER; i + 3 <= size; i += 3)
	{
		blob[(r[i] | (size_t) r[i + 1] << 8) % len] ^= r[i + 2];
		edited |= r[i + 2] != 0;
	}
	if (r[11] & 1)
		reseal(blob, len);
	if ((r[11] & 6) == 2)
		len = cut < len ? len - cut : 0;
	else if ((r[11] & 6) == 4)
		len += cut;
	else
		cut = 0;
	final = aligned_blob(blob, len);
	if (view_and_check(final, len) != NN_OK && !edited && cut == 0)
		fuzz_fail("an unedited recipe blob is rejected", &err);
	free(final);
	free(blob);
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *blob;

	if (size >= 1 + RECIPE_HEADER && data[0] == '!')
	{
		run_recipe(data + 1, size - 1);
		return 0;
	}
	blob = aligned_blob(data, size);
	view_and_check(blob, size);
	free(blob);
	return 0;
}
