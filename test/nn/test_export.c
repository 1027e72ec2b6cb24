/*
 * test_export.c — the model export envelope (src/nn/export.c): round trip
 * with a real weight file, and rejection of a wrong magic, an unknown
 * version, every truncation, trailing bytes, lying lengths and every single
 * bit flip, each with its error code.  Buffers are exactly as long as the
 * data, so ASan sees any read outside.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "tap.h"

/* a malloc'd copy of len bytes of src (at least one byte allocated) */
static unsigned char *
copy_of(const void *src, size_t len)
{
	unsigned char *p = malloc(len + (len == 0));

	if (p == NULL)
	{
		printf("Bail out! out of memory\n");
		exit(255);
	}
	memcpy(p, src, len);
	return p;
}

/* nn_export_read of a copy of exactly len bytes of buf; the error code */
static int
read_code(const unsigned char *buf, size_t len, nn_error *err)
{
	unsigned char *c = copy_of(buf, len);
	nn_export_parts parts;
	int			rc = nn_export_read(c, len, &parts, err);

	free(c);
	return rc;
}

/* recompute the trailing CRC32C of an envelope after editing it */
static void
reseal(unsigned char *buf, size_t len)
{
	nn_put_le32(buf + len - 4, nn_crc32c(0, buf, len - 4));
}

int
main(void)
{
	nn_config	c = small_config(9, 2, 0, 0, 4, 5, 1, 6);
	nn_model	m, view;
	nn_error	err;
	nn_export_parts parts;
	const char *meta = "{\"model\": {\"version\": 3}}";
	size_t		meta_len = strlen(meta);
	size_t		wlen, len, i;
	unsigned char *weights, *env, *bad;
	void	   *aligned;
	int			all_rejected = 1, magic_ok = 1, crc_ok = 1;

	if (make_model(&m, &c, 7, 0.5f) != NN_OK)
	{
		printf("Bail out! make_model\n");
		return 255;
	}
	wlen = nn_weights_size(&m);
	weights = malloc(wlen);
	nn_weights_write(&m, weights, wlen, &err);
	len = nn_export_size(meta_len, wlen);
	tap_ok(len == 24 + meta_len + wlen + 4, "nn_export_size is header + metadata + weights + CRC (%zu)", len);
	env = malloc(len);
	tap_ok(nn_export_write(meta, meta_len, weights, wlen, env, len - 1, &err) == NN_EINVAL,
		   "writing into a buffer of the wrong size is refused: %s", err.msg);
	tap_ok(nn_export_write(meta, meta_len, weights, wlen, env, len, &err) == NN_OK, "an envelope is written");

	/* round trip: the parts point at the same bytes; the weights validate after an aligned copy */
	tap_ok(read_code(env, len, &err) == NN_OK, "the envelope reads back");
	nn_export_read(env, len, &parts, &err);
	tap_ok(parts.meta_len == meta_len && memcmp(parts.meta, meta, meta_len) == 0, "with its metadata");
	tap_ok(parts.weights_len == wlen && memcmp(parts.weights, weights, wlen) == 0, "and its weight file");
	if (posix_memalign(&aligned, 64, wlen) != 0)
		return 255;
	memcpy(aligned, parts.weights, wlen);
	tap_ok(nn_weights_view(aligned, wlen, &view, &err) == NN_OK && view.cfg.n_items == 9 &&
		   memcmp(view.params, m.params, m.n_params * sizeof(float)) == 0,
		   "the weight file inside is a valid view of the model");

	/* wrong kinds of blob */
	tap_ok(read_code((const unsigned char *) "", 0, &err) == NN_EMAGIC, "an empty blob: %s", err.msg);
	tap_ok(read_code(weights, wlen, &err) == NN_EMAGIC, "a bare weight file is not an export: %s", err.msg);
	bad = copy_of(env, len);
	nn_put_le32(bad + 8, 2);
	reseal(bad, len);
	tap_ok(read_code(bad, len, &err) == NN_EVERSION, "format version 2: %s", err.msg);
	memcpy(bad, env, len);
	nn_put_le32(bad + 12, (uint32_t) meta_len + 1);
	reseal(bad, len);
	tap_ok(read_code(bad, len, &err) == NN_ECORRUPT && strstr(err.msg, "announces") != NULL,
		   "a metadata length that disagrees with the size: %s", err.msg);
	memcpy(bad, env, len);
	nn_put_le64(bad + 16, UINT64_MAX - 3);
	reseal(bad, len);
	tap_ok(read_code(bad, len, &err) == NN_ECORRUPT, "a huge weights length: %s", err.msg);
	free(bad);

	/* every truncation, and one trailing byte */
	for (i = 0; i < len; i++)
		if (read_code(env, i, &err) == NN_OK)
			all_rejected = 0;
	tap_ok(all_rejected, "every truncation (0..%zu bytes) is rejected", len - 1);
	bad = malloc(len + 1);
	memcpy(bad, env, len);
	bad[len] = 0;
	tap_ok(read_code(bad, len + 1, &err) == NN_ECORRUPT, "a trailing byte: %s", err.msg);
	free(bad);

	/* every single bit flip: the magic's are NN_EMAGIC, the others fail the checks */
	bad = copy_of(env, len);
	all_rejected = 1;
	for (i = 0; i < len * 8; i++)
	{
		int			rc;

		bad[i / 8] ^= (unsigned char) (1u << (i % 8));
		rc = read_code(bad, len, &err);
		bad[i / 8] ^= (unsigned char) (1u << (i % 8));
		if (rc == NN_OK)
			all_rejected = 0;
		if (i < 64 && rc != NN_EMAGIC)
			magic_ok = 0;
		if (i >= 24 * 8 && rc != NN_ECORRUPT)
			crc_ok = 0;
	}
	tap_ok(all_rejected, "each of the %zu single bit flips is rejected", len * 8);
	tap_ok(magic_ok, "a flip in the magic says it is not an export");
	tap_ok(crc_ok, "a flip in the metadata, weights or checksum fails the checksum");
	free(bad);

	tap_ok(nn_export_size((size_t) UINT32_MAX + 1, 0) == 0 && nn_export_size(0, SIZE_MAX - 10) == 0,
		   "sizes that overflow give 0");
	free(aligned);
	free(env);
	free(weights);
	nn_model_free(&m);
	return tap_done();
}
