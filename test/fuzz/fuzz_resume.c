/*
 * fuzz_resume.c — libFuzzer target for the training-state reader
 * (nn_resume_read in src/nn/resume.c), built by `make fuzz-resume` with
 * -fsanitize=fuzzer,address,undefined and -DNN_FUZZ_SKIP_CRC.
 *
 * The input is the blob, in an exactly-sized allocation (AddressSanitizer
 * sees any read outside it), read into the trainer of resume_trainer.h (the
 * seed corpus holds valid states of it).  The oracles: a rejection has a
 * reader error code and a message and leaves the trainer as it was; an
 * accepted blob is written back byte for byte (CRC aside, which the fuzz
 * build does not check).
 */
#include <stdint.h>
#include <string.h>

#include "resume_trainer.h"

/* stop the fuzzer with a message: an oracle failed */
static void
fuzz_fail(const char *what, const nn_error *err)
{
	fprintf(stderr, "fuzz_resume: %s (%d: %s)\n", what, err->code, err->msg);
	abort();
}

/* t's state without an average, in a fresh malloc'd buffer of *len bytes */
static unsigned char *
snapshot(const nn_trainer *t, size_t *len)
{
	unsigned char *s;
	nn_error	err = {0, ""};

	*len = nn_resume_size(t, false);
	s = malloc(*len);
	if (s == NULL || nn_resume_write(t, NULL, 0, s, *len, &err) != NN_OK)
		fuzz_fail("snapshot not written", &err);
	return s;
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static nn_model m;
	static nn_trainer *t;
	static float *average;
	unsigned char *blob = malloc(size ? size : 1);
	unsigned char *before,
			   *after,
			   *again;
	size_t		len,
				len2;
	int64_t		steps = 0;
	bool		has_avg = false;
	nn_error	err = {0, ""};
	int			rc;

	if (t == NULL)
	{
		t = resume_trainer(&m);
		average = malloc(sizeof(float) * m.n_params);
	}
	if (blob == NULL)
		abort();
	memcpy(blob, data, size);
	before = snapshot(t, &len);
	rc = nn_resume_read(t, blob, size, average, &steps, &has_avg, &err);
	if (rc != NN_OK)
	{
		if ((rc != NN_ECORRUPT && rc != NN_EVERSION && rc != NN_EINVAL) || err.code != rc ||
			err.msg[0] == '\0')
			fuzz_fail("a rejection without a reader error code and message", &err);
		after = snapshot(t, &len2);
		if (len2 != len || memcmp(before, after, len) != 0)
			fuzz_fail("a rejected blob changed the trainer", &err);
		free(after);
	}
	else
	{
		len2 = nn_resume_size(t, has_avg);
		again = malloc(len2);
		if (len2 != size ||
			nn_resume_write(t, has_avg ? average : NULL, steps, again, len2, &err) != NN_OK ||
			memcmp(again, blob, size - 4) != 0)
			fuzz_fail("an accepted state is not written back byte for byte", &err);
		free(again);
	}
	free(before);
	free(blob);
	return 0;
}
