/*
 * model_args.h — what the numeric-core benchmarks share (header-only: each
 * benchmark is one .c file): a model of the original design's shape, its
 * command-line options, and a comparator for medians.
 */
#ifndef ANIMEREC_BENCH_MODEL_ARGS_H
#define ANIMEREC_BENCH_MODEL_ARGS_H

#include <stdbool.h>
#include <string.h>

#include "nn/nn.h"

/* qsort comparator for doubles */
static inline int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* the original design's model (D 64, H 128, 2 layers, T 50) over n_items items, ratings 1..10 */
static inline void
model_defaults(nn_config *cfg, int32_t n_items)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->n_items = n_items;
	cfg->dim = 64;
	cfg->hidden = 128;
	cfg->layers = 2;
	cfg->maxlen = 50;
	cfg->rating_min = 1.0f;
	cfg->rating_max = 10.0f;
}

/* apply option key (--items, --dim, --hidden, --layers, --maxlen) = v; false if key is none of them */
static inline bool
model_option(nn_config *cfg, const char *key, int v)
{
	if (!strcmp(key, "--items"))
		cfg->n_items = v;
	else if (!strcmp(key, "--dim"))
		cfg->dim = v;
	else if (!strcmp(key, "--hidden"))
		cfg->hidden = v;
	else if (!strcmp(key, "--layers"))
		cfg->layers = v;
	else if (!strcmp(key, "--maxlen"))
		cfg->maxlen = v;
	else
		return false;
	return true;
}

#endif
