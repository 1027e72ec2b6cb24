/*
 * fuzz_train_options.c — libFuzzer target for train()'s option rules
 * (src/text/train_options.c), built by `make fuzz-train_options`.
 *
 * The first input byte picks what the rest is: a model name (0), a loss
 * name (1) or, for anything else, the parameter (byte 1 modulo the number
 * of parameters) and a double (the next 8 bytes, any bit pattern: NaN,
 * infinities and subnormals included).  Strings sit in exactly-sized
 * allocations.  The oracles are plain restatements of the rules: a name is
 * 1 to 63 bytes of [a-z0-9_] not starting with a digit; the losses are exactly
 * "full" and "sampled"; a value is allowed exactly when it is a number
 * within the parameter's bounds, the lower one excluded when open.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "text/train_options.h"

/* stop the fuzzer with a message: an oracle failed */
static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_train_options: %s\n", what);
	abort();
}

/* the model-name rule, restated */
static int
name_rule(const char *s, size_t len)
{
	size_t		i;

	if (len < 1 || len > 63 || strchr("abcdefghijklmnopqrstuvwxyz_", s[0]) == NULL || s[0] == '\0')
		return 0;
	for (i = 1; i < len; i++)
		if (s[i] == '\0' || strchr("abcdefghijklmnopqrstuvwxyz0123456789_", s[i]) == NULL)
			return 0;
	return 1;
}

/* the loss rule, restated: NN_LOSS_* or -1 */
static int
loss_rule(const char *s, size_t len)
{
	char		buf[8];

	if (len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return strcmp(buf, "full") == 0 ? NN_LOSS_FULL : strcmp(buf, "sampled") == 0 ? NN_LOSS_SAMPLED : -1;
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] <= 1)
	{
		size_t		len = size - 1;
		char	   *s = malloc(len ? len : 1);

		memcpy(s, data + 1, len);
		if (data[0] == 0 && opt_model_name_ok(s, len) != name_rule(s, len))
			fuzz_fail("model name check differs from the rule");
		if (data[0] == 1 && opt_loss(s, len) != loss_rule(s, len))
			fuzz_fail("loss differs from the rule");
		free(s);
	}
	else if (size >= 10)
	{
		opt_param	p = (opt_param) (data[1] % OPT_N_PARAMS);
		const opt_bound *b = &opt_bounds[p];
		double		v;
		int			want;

		memcpy(&v, data + 2, sizeof(v));
		want = !isnan(v) && !(v < b->lo) && !(v > b->hi) && (!b->open_lo || v > b->lo);
		if (opt_in_bounds(p, v) != want)
			fuzz_fail("bounds check differs from the rule");
	}
	return 0;
}
