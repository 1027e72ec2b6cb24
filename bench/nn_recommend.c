/*
 * nn_recommend.c — users per second of the batch path's numeric core
 * (nn_recommend_batch: embeddings, scores, top 10 and log-sum-exp of a block
 * of users), without PostgreSQL.
 *
 *   bench/bin/nn_recommend [--items 10000] [--dim 64] [--hidden 128]
 *       [--layers 2] [--maxlen 50] [--block 256] [--fill 100] [--threads 1]
 *       [--blocks 20] [--seed 1] [--item-gates 0|1]
 *
 * Random untrained weights (the cost does not depend on their values);
 * every history has maxlen steps of which the last fill percent hold an item
 * (the rest is left padding), each user has seen its history's items.
 * --item-gates 1 gives the blocks nn_item_gates's table (built once, before
 * the timed blocks, as recommend_all builds it once a scan).
 * Prints the best and the median users/s of --blocks blocks, the GEMM work
 * of one full-length user (without item gates) and the GFLOP/s at the
 * median, and the sgemm rate of this machine on the same threads (1024^3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "nn/nn_internal.h"
#include "sgemm_time.h"

/* GEMM FLOPs of one user with a history of T items: LSTM layers, projection, scores */
static double
flop_per_user(const nn_model *m, int32_t T)
{
	double		H = m->cfg.hidden,
				f = 0.0;

	for (int32_t l = 0; l < m->cfg.layers; l++)
		f += 2.0 * T * ((l == 0 ? m->in_dim : H) + H) * 4 * H;
	return f + 2.0 * H * m->cfg.dim + 2.0 * m->cfg.n_items * m->cfg.dim;
}

/* the sgemm rate (GFLOP/s, 1024^3) on the current OpenBLAS threads */
static double
sgemm_rate(void)
{
	size_t		n = 1024;
	float	   *A = calloc(n * n, sizeof(float)),
			   *B = calloc(n * n, sizeof(float)),
			   *C = calloc(n * n, sizeof(float));
	double		g;

	sgemm_gflops((int) n, (int) n, (int) n, A, B, C, 1);
	g = sgemm_gflops((int) n, (int) n, (int) n, A, B, C, 5);
	free(A);
	free(B);
	free(C);
	return g;
}

int
main(int argc, char **argv)
{
	nn_config	cfg = {0};
	nn_model	m;
	nn_error	err;
	nn_rng		r;
	nn_topk_batch top;
	int			B = 256,
				fill = 100,
				threads = 1,
				blocks = 20,
				with_gates = 0,
				i;
	uint64_t	seed = 1;
	int32_t    *items,
			   *seen_ptr;
	float	   *ratings,
			   *tables,
			   *u,
			   *scores,
			   *work,
			   *gates = NULL;
	uint8_t    *exclude;
	double	   *rate;

	model_defaults(&cfg, 10000);
	for (i = 1; i + 1 < argc; i += 2)
	{
		const char *k = argv[i];
		int			v = atoi(argv[i + 1]);

		if (model_option(&cfg, k, v))
			continue;
		if (!strcmp(k, "--block"))
			B = v;
		else if (!strcmp(k, "--fill"))
			fill = v;
		else if (!strcmp(k, "--threads"))
			threads = v;
		else if (!strcmp(k, "--blocks"))
			blocks = v;
		else if (!strcmp(k, "--seed"))
			seed = (uint64_t) v;
		else if (!strcmp(k, "--item-gates"))
			with_gates = v;
		else
			break;
	}
	if (i < argc || B < 1 || fill < 1 || fill > 100 || threads < 1 || blocks < 1 ||
		with_gates < 0 || with_gates > 1)
	{
		fprintf(stderr, "usage: %s [--items N] [--dim D] [--hidden H] [--layers L] [--maxlen T] "
				"[--block B] [--fill PERCENT] [--threads N] [--blocks N] [--seed S] "
				"[--item-gates 0|1]\n", argv[0]);
		return 2;
	}
	if (nn_model_create(&m, &cfg, NULL, NULL, NULL, seed, &nn_malloc_allocator, &err) != NN_OK)
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	nn_rng_seed(&r, seed);
	{
		size_t		BT = (size_t) B * cfg.maxlen,
					N1 = (size_t) cfg.n_items + 1;
		nn_serving	sv;
		int32_t		live = cfg.maxlen * fill / 100;

		items = calloc(BT, sizeof(int32_t));
		ratings = calloc(BT, sizeof(float));
		seen_ptr = calloc((size_t) B + 1, sizeof(int32_t));
		for (int32_t b = 0; b < B; b++)
		{
			for (int32_t t = cfg.maxlen - live; t < cfg.maxlen; t++)
			{
				items[(size_t) b * cfg.maxlen + t] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) cfg.n_items);
				ratings[(size_t) b * cfg.maxlen + t] = 2.0f * nn_rng_uniform(&r) - 1.0f;
			}
			seen_ptr[b + 1] = seen_ptr[b] + cfg.maxlen;	/* the row itself, padding (0) included */
		}
		top.k = 10;
		top.idx = calloc((size_t) B * top.k, sizeof(int32_t));
		top.score = calloc((size_t) B * top.k, sizeof(float));
		top.got = calloc((size_t) B, sizeof(int32_t));
		top.lse = calloc((size_t) B, sizeof(float));
		tables = calloc(nn_serving_floats(&m), sizeof(float));
		u = calloc((size_t) B * cfg.dim, sizeof(float));
		scores = calloc(nn_recommend_scores_floats(&m, threads), sizeof(float));
		exclude = calloc((size_t) threads * N1, 1);
		work = calloc(nn_batch_work_floats(&m, B, cfg.maxlen), sizeof(float));
		rate = calloc((size_t) blocks, sizeof(double));
		nn_serving_build(&m, tables, &sv);
		if (with_gates)
		{
			float	   *gw = calloc(nn_item_gates_work_floats(&m), sizeof(float));

			gates = calloc(nn_item_gates_floats(&m), sizeof(float));
			nn_item_gates(&m, gates, gw);
			free(gw);
		}
		nn_blas_set_threads(1);	/* nn_recommend_batch's slices run one-thread GEMMs */
		for (i = -1; i < blocks; i++)	/* one warm-up block */
		{
			double		t0 = now();

			nn_recommend_batch(&m, &sv, gates, B, cfg.maxlen, items, ratings, NULL, NULL, NULL,
							   seen_ptr, items, &top, threads, u, scores, exclude, work);
			if (i >= 0)
				rate[i] = B / (now() - t0);
		}
		qsort(rate, (size_t) blocks, sizeof(double), cmp_double);
		nn_blas_set_threads(threads);	/* the sgemm rate on as many threads */
		printf("cpu=%s blas_core=%s threads=%d items=%d T=%d fill=%d%% block=%d item_gates=%d\n",
			   nn_cpu_level(nn_cpu_features()), nn_blas_core(), threads, cfg.n_items,
			   cfg.maxlen, fill, B, with_gates);
		printf("users_per_s_best=%.0f users_per_s_median=%.0f mflop_per_full_user=%.1f "
			   "gflops_full_equivalent_at_median=%.1f sgemm_gflops=%.1f\n",
			   rate[blocks - 1], rate[blocks / 2], flop_per_user(&m, cfg.maxlen) * 1e-6,
			   rate[blocks / 2] * flop_per_user(&m, cfg.maxlen) * 1e-9, sgemm_rate());
	}
	return 0;
}
