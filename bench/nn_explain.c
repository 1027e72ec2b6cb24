/*
 * nn_explain.c — latency of a leave-one-out explanation (nn_explain) in the
 * numeric core: a window of T items, T + 1 windows through one
 * nn_infer_batch and nn_scores over the catalogue, log-softmax per window.
 *
 *   bench/bin/nn_explain [--items 2000] [--dim 64] [--hidden 128] [--layers 2]
 *       [--maxlen 50] [--runs 200] [--seed 1]
 *
 * Random untrained weights (the cost does not depend on their values), one
 * OpenBLAS thread; prints the median and p90 of --runs calls in wall time,
 * and the median CPU time of the thread (which other processes on a shared
 * machine do not add to).
 */
#include "nn/blas.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_args.h"
#include "nn/nn_internal.h"

/* seconds on clock (CLOCK_MONOTONIC: wall; CLOCK_THREAD_CPUTIME_ID: this thread's CPU) */
static double
now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	nn_config	cfg = {0};
	nn_model	m;
	nn_error	err;
	nn_rng		r;
	int			runs = 200,
				i;
	uint64_t	seed = 1;
	int32_t    *items;
	float	   *ratings,
			   *tables,
			   *work;
	nn_serving	sv;
	double	   *contrib,
			   *times,
			   *cpu,
				logp,
				t0,
				c0;

	model_defaults(&cfg, 2000);
	for (i = 1; i + 1 < argc; i += 2)
	{
		const char *k = argv[i];
		int			v = atoi(argv[i + 1]);

		if (model_option(&cfg, k, v))
			continue;
		if (!strcmp(k, "--runs"))
			runs = v;
		else if (!strcmp(k, "--seed"))
			seed = (uint64_t) v;
		else
			break;
	}
	if (i < argc || runs < 1)
	{
		fprintf(stderr, "usage: %s [--items N] [--dim D] [--hidden H] [--layers L] [--maxlen T] "
				"[--runs R] [--seed S]\n", argv[0]);
		return 2;
	}
	if (nn_model_create(&m, &cfg, NULL, NULL, NULL, seed, &nn_malloc_allocator, &err) != NN_OK)
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	nn_blas_set_threads(1);
	nn_rng_seed(&r, seed);
	items = calloc((size_t) cfg.maxlen, sizeof(int32_t));
	ratings = calloc((size_t) cfg.maxlen, sizeof(float));
	contrib = calloc((size_t) cfg.maxlen, sizeof(double));
	times = calloc((size_t) runs, sizeof(double));
	cpu = calloc((size_t) runs, sizeof(double));
	tables = calloc(nn_serving_floats(&m), sizeof(float));
	work = calloc(nn_explain_work_floats(&m, cfg.maxlen), sizeof(float));
	for (i = 0; i < cfg.maxlen; i++)
	{
		items[i] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) cfg.n_items);
		ratings[i] = 2.0f * nn_rng_uniform(&r) - 1.0f;
	}
	nn_serving_build(&m, tables, &sv);
	for (i = 0; i < runs; i++)
	{
		t0 = now(CLOCK_MONOTONIC);
		c0 = now(CLOCK_THREAD_CPUTIME_ID);
		nn_explain(&m, &sv, cfg.maxlen, items, ratings, 0, NULL, 0, 1 + i % cfg.n_items,
				   &logp, contrib, work);
		cpu[i] = now(CLOCK_THREAD_CPUTIME_ID) - c0;
		times[i] = now(CLOCK_MONOTONIC) - t0;
	}
	qsort(times, (size_t) runs, sizeof(double), cmp_double);
	qsort(cpu, (size_t) runs, sizeof(double), cmp_double);
	printf("explain_ms=%.3f (nn_explain, T=%d, N=%d, D=%d, H=%d, L=%d, 1 thread, median of %d; p90 %.3f)"
		   " cpu_ms=%.3f (median)\n",
		   times[runs / 2] * 1e3, cfg.maxlen, cfg.n_items, cfg.dim, cfg.hidden, cfg.layers, runs,
		   times[runs * 9 / 10] * 1e3, cpu[runs / 2] * 1e3);
	free(items);
	free(ratings);
	free(contrib);
	free(times);
	free(cpu);
	free(tables);
	free(work);
	nn_model_free(&m);
	return 0;
}
