/*
 * nn_train.c — training throughput, FLOP efficiency and inference latency
 * of the numeric core on random data with MovieLens ml-latest-small shapes.
 *
 *   bench/bin/nn_train --items 9724 --tags 19 --dim 64 --hidden 128 --layers 2
 *       --maxlen 50 --batch 128 --threads 1|2 [--steps N] [--loss full|sampled]
 *       [--negatives K] [--seed S]
 *
 * Data: 610 users (as ml-latest-small) with history lengths 20 + Exp(mean
 * 145) (mean ~165 as there), random items and ratings, random 1-4 tags per
 * item; histories cut into windows of maxlen+1 items from the end, windows
 * shuffled into batches.  Positions are the predicted (input, target) pairs
 * the trainer reported, so padding is not counted as work done.
 *
 * FLOPs are 2*m*n*k of every GEMM the trainer runs for the batch shapes it
 * got (B rows, T steps, P positions; in = layer input width, G = 4H):
 *   per layer  forward  2*T*B*in*G (input) + 2*(T-1)*B*H*G (recurrent)
 *              backward 2*(T-1)*B*G*H (dh) + 2*G*in*T*B (dW_ih)
 *                       + 2*G*H*(T-1)*B (dW_hh) + 2*T*B*G*in (dX)
 *   projection 2*P*D*H forward, 4*P*D*H backward
 *   output     3 * 2*P*N*D (logits, dU, dOut) full; N -> K with sampling.
 * Elementwise work (gates, softmax, Adam) is not counted.  The rate is
 * compared with single-thread sgemm measured in the same run on two shapes
 * the trainer uses: 6400x9724x64 (logits) and 512x128x6400 (dW); with
 * --threads > 1 the logits-shaped sgemm is also timed on that many threads,
 * whose speed-up over one thread bounds what training can scale to here.
 *
 * Inference: one 50-item history -> nn_infer_batch (B = 1), nn_scores over
 * all items with the item output table precomputed (as a loaded model keeps
 * it), nn_topk(10) excluding the history; one thread, median of 200 runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "nn/nn_internal.h"
#include "sgemm_time.h"

typedef struct options
{
	int			items,
				tags,
				dim,
				hidden,
				layers,
				maxlen,
				batch,
				threads,
				steps,
				loss,
				negatives;
	uint64_t	seed;
} options;

/* parse --name value pairs into o; exits with a usage line on anything else */
static void
parse(int argc, char **argv, options *o)
{
	int			i;

	for (i = 1; i + 1 < argc; i += 2)
	{
		const char *k = argv[i],
				   *v = argv[i + 1];

		if (!strcmp(k, "--items"))
			o->items = atoi(v);
		else if (!strcmp(k, "--tags"))
			o->tags = atoi(v);
		else if (!strcmp(k, "--dim"))
			o->dim = atoi(v);
		else if (!strcmp(k, "--hidden"))
			o->hidden = atoi(v);
		else if (!strcmp(k, "--layers"))
			o->layers = atoi(v);
		else if (!strcmp(k, "--maxlen"))
			o->maxlen = atoi(v);
		else if (!strcmp(k, "--batch"))
			o->batch = atoi(v);
		else if (!strcmp(k, "--threads"))
			o->threads = atoi(v);
		else if (!strcmp(k, "--steps"))
			o->steps = atoi(v);
		else if (!strcmp(k, "--negatives"))
			o->negatives = atoi(v);
		else if (!strcmp(k, "--seed"))
			o->seed = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--loss") && (!strcmp(v, "full") || !strcmp(v, "sampled")))
			o->loss = !strcmp(v, "full") ? NN_LOSS_FULL : NN_LOSS_SAMPLED;
		else
			break;
	}
	if (i < argc)
	{
		fprintf(stderr, "usage: %s [--items N] [--tags G] [--dim D] [--hidden H] [--layers L] "
				"[--maxlen T] [--batch B] [--threads 1|2] [--steps N] [--loss full|sampled] "
				"[--negatives K] [--seed S]\n", argv[0]);
		exit(2);
	}
}

/* GEMM FLOPs of one training step (see the header comment) */
static double
step_flops(const options *o, int in0, int B, int T, int64_t P)
{
	double		G = 4.0 * o->hidden,
				H = o->hidden,
				D = o->dim;
	double		f = 0.0;
	int			l;

	for (l = 0; l < o->layers; l++)
	{
		double		in = l == 0 ? in0 : H;

		f += 2.0 * T * B * in * G + 2.0 * (T - 1) * B * H * G;
		f += 2.0 * (T - 1) * B * G * H + 2.0 * G * in * T * B + 2.0 * G * H * (T - 1) * B +
			2.0 * T * B * G * in;
	}
	f += 6.0 * (double) P * D * H;
	f += 6.0 * (double) P * (o->loss == NN_LOSS_FULL ? o->items : o->negatives) * D;
	return f;
}

/* random training windows: fills windows (n, T+1) and returns n */
static int
make_windows(const options *o, nn_rng *r, int32_t **windows, float **ratings, nn_config *cfg)
{
	int			T1 = o->maxlen + 1;
	int			cap = 4096,
				n = 0,
				u,
				i;

	*windows = calloc((size_t) cap * T1, sizeof(int32_t));
	*ratings = calloc((size_t) cap * T1, sizeof(float));
	for (u = 0; u < 610; u++)
	{
		int			len = 20 + (int) (-145.0 * log(1.0 - nn_rng_uniform(r)));
		int			end;

		/* windows of T+1 items from the end, consecutive ones sharing one item */
		for (end = len; end > 1; end -= o->maxlen)
		{
			int			start = end - T1 > 0 ? end - T1 : 0;

			if (n == cap)
			{
				cap *= 2;
				*windows = realloc(*windows, sizeof(int32_t) * (size_t) cap * T1);
				*ratings = realloc(*ratings, sizeof(float) * (size_t) cap * T1);
			}
			for (i = 0; i < T1; i++)
			{
				int			pad = T1 - (end - start);

				(*windows)[(size_t) n * T1 + i] = i < pad ? 0 : 1 + (int32_t) nn_rng_below(r, (uint32_t) o->items);
				(*ratings)[(size_t) n * T1 + i] = i < pad ? 0.0f :
					nn_scale_rating(cfg, 0.5f + 0.5f * (float) nn_rng_below(r, 10));
			}
			n++;
		}
	}
	return n;
}

/* item->tags CSR with 1-4 random tags per item */
static void
make_tags(const options *o, nn_rng *r, int32_t **ptr, int32_t **idx)
{
	int			j,
				k;

	*ptr = calloc((size_t) o->items + 2, sizeof(int32_t));
	*idx = calloc((size_t) o->items * 4 + 1, sizeof(int32_t));
	for (j = 1; j <= o->items; j++)
	{
		int			n = o->tags > 0 ? 1 + (int) nn_rng_below(r, 4) : 0;

		(*ptr)[j + 1] = (*ptr)[j] + n;
		for (k = 0; k < n; k++)
			(*idx)[(*ptr)[j] + k] = 1 + (int32_t) nn_rng_below(r, (uint32_t) o->tags);
	}
}

/* inference latency: history of 50 -> top-10, one thread; prints infer_ms */
static void
bench_inference(const nn_model *m, nn_rng *r)
{
	int32_t		N = m->cfg.n_items;
	int32_t		hist[50];
	float		rat[50];
	float	   *tables = calloc(nn_serving_floats(m), sizeof(float));
	nn_serving	sv;
	float	   *scores = calloc((size_t) N + 1, sizeof(float));
	float	   *work = calloc(nn_batch_work_floats(m, 1, 50), sizeof(float));
	float	   *state = calloc(nn_state_floats(m), sizeof(float));
	float	   *swork = calloc(nn_step_work_floats(m), sizeof(float));
	uint8_t    *exclude = calloc((size_t) N + 1, 1);
	double		times[200],
				stimes[200],
				t0;
	float		u[1024],
				top_s[10];
	int32_t		top_i[10];
	int			i,
				k;

	nn_blas_set_threads(1);
	for (i = 0; i < 50; i++)
	{
		hist[i] = 1 + (int32_t) nn_rng_below(r, (uint32_t) N);
		rat[i] = nn_scale_rating(&m->cfg, 0.5f + 0.5f * (float) nn_rng_below(r, 10));
		exclude[hist[i]] = 1;
	}
	t0 = now();
	nn_serving_build(m, tables, &sv);
	printf("serving_tables_ms=%.3f (item output table, packed: once per loaded model)\n",
		   (now() - t0) * 1e3);
	for (k = 0; k < 200; k++)
	{
		t0 = now();
		nn_infer_batch(m, sv.packed, 1, 50, hist, rat, NULL, NULL, NULL, u, work);
		nn_scores(m, sv.score_table, u, 1, scores);
		nn_topk(scores, N, 10, exclude, top_i, top_s);
		times[k] = now() - t0;

		t0 = now();
		nn_state_reset(m, state);
		for (i = 0; i < 50; i++)
			nn_infer_step(m, state, hist[i], rat[i], 0, NULL, 0, swork);
		nn_infer_embedding(m, state, u);
		nn_scores(m, sv.score_table, u, 1, scores);
		nn_topk(scores, N, 10, exclude, top_i, top_s);
		stimes[k] = now() - t0;
	}
	qsort(times, 200, sizeof(double), cmp_double);
	qsort(stimes, 200, sizeof(double), cmp_double);
	printf("infer_ms=%.3f (nn_infer_batch + nn_scores + nn_topk, median; p90 %.3f)\n",
		   times[100] * 1e3, times[180] * 1e3);
	printf("infer_step_ms=%.3f (50 x nn_infer_step + nn_scores + nn_topk, median)\n",
		   stimes[100] * 1e3);
	free(tables);
	free(scores);
	free(work);
	free(state);
	free(swork);
	free(exclude);
}

/* parse flags, measure the sgemm references, train, then time inference */
int
main(int argc, char **argv)
{
	options		o = {9724, 19, 64, 128, 2, 50, 128, 1, 20, NN_LOSS_FULL, 1024, 42};
	nn_config	cfg = {0};
	nn_train_config tc = {0};
	nn_model	m;
	nn_error	err = {0};
	nn_trainer *tr;
	nn_rng		r;
	int32_t    *ptr,
			   *idx,
			   *windows;
	float	   *ratings;
	int			n_windows,
				s,
				warm = 2,
				T1;
	double		t0,
				c0,
				secs = 0.0,
				cpu_secs = 0.0,
				flops = 0.0,
				loss = 0.0,
				g1,
				g2,
				gn = 0.0;
	int64_t		npos = 0;
	float	   *A,
			   *Bm,
			   *C;

	parse(argc, argv, &o);
	T1 = o.maxlen + 1;
	nn_rng_seed(&r, o.seed);
	cfg.n_items = o.items;
	cfg.n_tags = o.tags;
	cfg.dim = o.dim;
	cfg.hidden = o.hidden;
	cfg.layers = o.layers;
	cfg.maxlen = o.maxlen;
	cfg.rating_min = 0.5f;
	cfg.rating_max = 5.0f;
	make_tags(&o, &r, &ptr, &idx);
	if (nn_model_create(&m, &cfg, ptr, idx, NULL, o.seed, &nn_malloc_allocator, &err) != NN_OK)
	{
		fprintf(stderr, "model: %s\n", err.msg);
		return 1;
	}
	n_windows = make_windows(&o, &r, &windows, &ratings, &cfg);

	printf("cpu=%s blas_core=%s\n", nn_cpu_level(nn_cpu_features()), nn_blas_core());

	/* single-thread sgemm reference rates */
	nn_blas_set_threads(1);
	A = calloc((size_t) 6400 * 9724, sizeof(float));
	Bm = calloc((size_t) 9724 * 128, sizeof(float));
	C = calloc((size_t) 6400 * 9724, sizeof(float));
	for (s = 0; s < 6400 * 64; s++)
		A[s] = nn_rng_uniform(&r);
	for (s = 0; s < 64 * 9724; s++)
		Bm[s] = nn_rng_uniform(&r);
	g1 = sgemm_gflops(6400, 9724, 64, A, Bm, C, 3);
	g2 = sgemm_gflops(512, 128, 6400, A, Bm, C, 3);
	printf("sgemm_1thread_gflops=%.1f (6400x9724x64) %.1f (512x128x6400)\n", g1, g2);
	if (o.threads > 1)
	{
		/* what this machine gives plain sgemm on the same threads: the ceiling for scaling */
		nn_blas_set_threads(o.threads);
		gn = sgemm_gflops(6400, 9724, 64, A, Bm, C, 3);
		printf("sgemm_%dthread_gflops=%.1f (6400x9724x64) sgemm_scaling=%.2f\n",
			   o.threads, gn, gn / g1);
	}
	free(A);
	free(Bm);
	free(C);

	tc.batch_size = o.batch;
	tc.learning_rate = 1e-3f;
	tc.clip = 5.0f;
	tc.dropout = 0.2f;
	tc.loss = o.loss;
	tc.n_negatives = o.negatives;
	tc.seed = o.seed;
	tr = nn_trainer_create(&m, &tc, &nn_malloc_allocator, &err);
	if (!tr)
	{
		fprintf(stderr, "trainer: %s\n", err.msg);
		return 1;
	}
	nn_blas_set_threads(o.threads);
	for (s = 0; s < warm + o.steps; s++)
	{
		int			first = (s * o.batch) % n_windows;
		nn_batch	b = {0};
		double		l = 0.0;
		int64_t		np = 0;

		b.B = first + o.batch <= n_windows ? o.batch : n_windows - first;
		b.T = o.maxlen;
		b.items = windows + (size_t) first * T1;
		b.ratings = ratings + (size_t) first * T1;
		t0 = now();
		c0 = cpu_now();
		if (nn_trainer_step(tr, &b, &l, &np, &err) != NN_OK)
		{
			fprintf(stderr, "step: %s\n", err.msg);
			return 1;
		}
		if (s < warm)
			continue;
		secs += now() - t0;
		cpu_secs += cpu_now() - c0;
		loss += l;
		npos += np;
		flops += step_flops(&o, m.in_dim, b.B, b.T, np);
	}
	printf("config items=%d tags=%d dim=%d hidden=%d layers=%d maxlen=%d batch=%d threads=%d "
		   "loss=%s negatives=%d steps=%d windows=%d trainer_mb=%.1f\n",
		   o.items, o.tags, o.dim, o.hidden, o.layers, o.maxlen, o.batch, o.threads,
		   o.loss == NN_LOSS_FULL ? "full" : "sampled",
		   o.loss == NN_LOSS_FULL ? 0 : o.negatives, o.steps, n_windows,
		   nn_trainer_bytes(tr) / 1048576.0);
	printf("positions=%lld seconds=%.3f mean_loss=%.4f\n", (long long) npos, secs, loss / npos);
	printf("positions_per_s=%.0f\npositions_per_cpu_s=%.0f\n", npos / secs, npos / cpu_secs);
	printf("gemm_gflops=%.1f share_of_1thread_sgemm=%.2f (vs the faster reference shape)\n",
		   flops / secs * 1e-9, flops / secs * 1e-9 / fmax(g1, g2));
	if (o.threads > 1)
		printf("share_of_%dthread_sgemm=%.2f (6400x9724x64 on %d threads)\n",
			   o.threads, flops / secs * 1e-9 / gn, o.threads);
	bench_inference(&m, &r);
	nn_trainer_free(tr);
	nn_model_free(&m);
	return 0;
}
