/*
 * resume.c — the training state: everything a trainer carries from one step
 * to the next, as one blob, so that a run stopped between two steps and
 * continued in a fresh trainer makes the same steps bit for bit.
 *
 * Format version 1.  All integers little-endian; offsets in bytes.
 *
 *   offset size  field
 *        0    8  magic "ANRECRS1"
 *        8    4  uint32  format version = 1
 *       12    4  uint32  header size = 128
 *       16   40  the model's nn_config, as in the weight file (format.c)
 *       56    8  uint64  n_params      floats of each array below
 *       64    8  int64   step          Adam steps taken (>= 0)
 *       72   32  uint64  rng[4]        xoshiro256** state of dropout and negatives
 *                                      (not all zero)
 *      104    4  uint32  flags         bit 0: an averaged copy follows; others 0
 *      108    4  uint32  zero
 *      112    8  int64   average_steps the caller's count of averaging steps (>= 0,
 *                                      0 without flag bit 0)
 *      120    8  uint64  total size    bytes of the whole blob, CRC included
 *      128       float32 params  (n_params)  the model's parameters, nn.h's order
 *                float32 adam_m  (n_params)  Adam's first moments
 *                float32 adam_v  (n_params)  Adam's second moments
 *                float32 average (n_params)  only with flag bit 0
 *            4   uint32  crc           CRC32C of every byte before it
 *
 * The arrays are copied in and out (no alignment needed).  The blob is
 * separate from the weight file, which stays version 1: a served model never
 * carries optimiser state, and weight blobs of every release still load.
 * -DNN_FUZZ_SKIP_CRC (the fuzz build) accepts any stored checksum.
 */
#include "nn_internal.h"

#define RS_MAGIC		"ANRECRS1"
#define RS_VERSION		1
#define RS_HEADER_SIZE	128
#define RS_HAS_AVERAGE	1u

/* bytes of a state of n_params floats per array, with or without the average */
static bool
state_bytes(size_t n_params, bool with_average, size_t *total)
{
	size_t		arrays = with_average ? 4 : 3;
	size_t		floats;

	return !__builtin_mul_overflow(n_params, arrays, &floats) &&
		!__builtin_mul_overflow(floats, sizeof(float), total) &&
		!__builtin_add_overflow(*total, (size_t) RS_HEADER_SIZE + sizeof(uint32_t), total);
}

/* bytes of t's state blob, with room for an averaged copy when with_average */
size_t
nn_resume_size(const nn_trainer *t, bool with_average)
{
	nn_trainer_state_parts parts;
	size_t		total;

	nn_trainer_parts((nn_trainer *) t, &parts);	/* only read here */
	return state_bytes(parts.m->n_params, with_average, &total) ? total : 0;
}

/*
 * Serialise t's state into buf (len >= nn_resume_size(t, average != NULL)
 * bytes): the model's parameters, Adam's moments and step, the generator,
 * and the caller's averaged parameters average (n_params floats, or NULL)
 * with its step count average_steps.
 */
int
nn_resume_write(const nn_trainer *t, const float *average, int64_t average_steps,
				void *buf, size_t len, nn_error *err)
{
	nn_trainer_state_parts parts;
	unsigned char *p = buf;
	size_t		total = nn_resume_size(t, average != NULL);
	size_t		bytes;
	int			i;

	if (buf == NULL)
		return nn_fail(err, NN_EINVAL, "nn_resume_write: NULL buffer");
	if (!nn_host_little_endian())
		return nn_fail(err, NN_EINVAL, "training states need a little-endian host");
	if (total == 0 || len < total)
		return nn_fail(err, NN_EINVAL, "buffer of %zu bytes, the state needs %zu", len, total);
	if (average_steps < 0)
		return nn_fail(err, NN_EINVAL, "average_steps %lld is negative", (long long) average_steps);
	nn_trainer_parts((nn_trainer *) t, &parts);
	bytes = parts.m->n_params * sizeof(float);
	memset(p, 0, RS_HEADER_SIZE);
	memcpy(p, RS_MAGIC, 8);
	nn_put_le32(p + 8, RS_VERSION);
	nn_put_le32(p + 12, RS_HEADER_SIZE);
	nn_put_config(p + 16, &parts.m->cfg);
	nn_put_le64(p + 56, parts.m->n_params);
	nn_put_le64(p + 64, (uint64_t) *parts.step);
	for (i = 0; i < 4; i++)
		nn_put_le64(p + 72 + 8 * i, parts.rng->s[i]);
	nn_put_le32(p + 104, average ? RS_HAS_AVERAGE : 0);
	nn_put_le64(p + 112, (uint64_t) (average ? average_steps : 0));
	nn_put_le64(p + 120, total);
	memcpy(p + RS_HEADER_SIZE, parts.m->params, bytes);
	memcpy(p + RS_HEADER_SIZE + bytes, parts.adam_m, bytes);
	memcpy(p + RS_HEADER_SIZE + 2 * bytes, parts.adam_v, bytes);
	if (average)
		memcpy(p + RS_HEADER_SIZE + 3 * bytes, average, bytes);
	nn_put_le32(p + total - 4, nn_crc32c(0, p, total - 4));
	return NN_OK;
}

/*
 * Check a state blob (len bytes) against the trainer's model m: header,
 * sizes, checksum, the model's configuration.  Sets *has_average.
 */
static int
state_check(const unsigned char *p, size_t len, const nn_model *m, bool *has_average,
			nn_error *err)
{
	nn_config	cfg;
	uint32_t	flags;
	uint64_t	n_params;
	size_t		total;

	if (len < 16 || memcmp(p, RS_MAGIC, 8) != 0)
		return nn_fail(err, NN_ECORRUPT, "not an animerec training state (%zu bytes, bad magic)", len);
	if (nn_get_le32(p + 8) != RS_VERSION)
		return nn_fail(err, NN_EVERSION, "unknown training state version %u (this build reads %d)",
					   (unsigned) nn_get_le32(p + 8), RS_VERSION);
	if (nn_get_le32(p + 12) != RS_HEADER_SIZE || len < RS_HEADER_SIZE)
		return nn_fail(err, NN_ECORRUPT, "truncated or bad header: %zu bytes, header size %u",
					   len, (unsigned) nn_get_le32(p + 12));
	nn_get_config(p + 16, &cfg);
	n_params = nn_get_le64(p + 56);
	flags = nn_get_le32(p + 104);
	if ((flags & ~RS_HAS_AVERAGE) != 0 || nn_get_le32(p + 108) != 0)
		return nn_fail(err, NN_ECORRUPT, "unknown flags %08X", (unsigned) flags);
	*has_average = (flags & RS_HAS_AVERAGE) != 0;
	if (n_params > SIZE_MAX || !state_bytes((size_t) n_params, *has_average, &total) ||
		nn_get_le64(p + 120) != total)
		return nn_fail(err, NN_ECORRUPT, "total size %llu, the counts imply another",
					   (unsigned long long) nn_get_le64(p + 120));
	if (len != total)
		return nn_fail(err, NN_ECORRUPT, "%zu bytes, the state has %zu", len, total);
	if (nn_crc_check(p, total - 4, err) != NN_OK)
		return NN_ECORRUPT;
	if ((int64_t) nn_get_le64(p + 64) < 0 || (int64_t) nn_get_le64(p + 112) < 0)
		return nn_fail(err, NN_ECORRUPT, "negative step count");
	if (!*has_average && nn_get_le64(p + 112) != 0)
		return nn_fail(err, NN_ECORRUPT, "average_steps %llu without an averaged copy",
					   (unsigned long long) nn_get_le64(p + 112));
	if ((nn_get_le64(p + 72) | nn_get_le64(p + 80) | nn_get_le64(p + 88) | nn_get_le64(p + 96)) == 0)
		return nn_fail(err, NN_ECORRUPT, "all-zero generator state");
	if (memcmp(&cfg, &m->cfg, sizeof(cfg)) != 0 || n_params != m->n_params)
		return nn_fail(err, NN_EINVAL, "the training state is of another model configuration");
	return NN_OK;
}

/*
 * Restore t's state from blob (len bytes, any alignment) written for a model
 * of the same configuration: parameters, moments, step and generator.  The
 * averaged copy, when the blob has one, goes to average (n_params floats;
 * skipped when NULL) with its step count to *average_steps; *has_average
 * says whether there was one.  Nothing changes unless the whole blob is valid.
 */
int
nn_resume_read(nn_trainer *t, const void *blob, size_t len, float *average,
			   int64_t *average_steps, bool *has_average, nn_error *err)
{
	nn_trainer_state_parts parts;
	const unsigned char *p = blob;
	size_t		bytes;
	int			i;
	int			rc;

	if (blob == NULL || t == NULL)
		return nn_fail(err, NN_EINVAL, "nn_resume_read: NULL trainer or blob");
	if (!nn_host_little_endian())
		return nn_fail(err, NN_EINVAL, "training states need a little-endian host");
	nn_trainer_parts(t, &parts);
	if ((rc = state_check(p, len, parts.m, has_average, err)) != NN_OK)
		return rc;
	bytes = parts.m->n_params * sizeof(float);
	*parts.step = (int64_t) nn_get_le64(p + 64);
	for (i = 0; i < 4; i++)
		parts.rng->s[i] = nn_get_le64(p + 72 + 8 * i);
	memcpy(parts.m->params, p + RS_HEADER_SIZE, bytes);
	memcpy(parts.adam_m, p + RS_HEADER_SIZE + bytes, bytes);
	memcpy(parts.adam_v, p + RS_HEADER_SIZE + 2 * bytes, bytes);
	*average_steps = *has_average ? (int64_t) nn_get_le64(p + 112) : 0;
	if (*has_average && average)
		memcpy(average, p + RS_HEADER_SIZE + 3 * bytes, bytes);
	return NN_OK;
}
