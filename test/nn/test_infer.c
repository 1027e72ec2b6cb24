/*
 * test_infer.c — inference: incremental steps equal the batched pass (with
 * left padding, skipped items and user context, at benchmark shapes), top-k
 * and rank against brute force, the batch path's top k against one user at
 * a time, item id lookup and rating scaling.
 */
#include <stdio.h>

#include "nn/blas.h"

#include "tap.h"
#include "testlib.h"

/* brute-force position of j in the order: higher score, then smaller index */
static int
better(const float *s, int32_t a, int32_t b)
{
	float		sa = isnan(s[a]) ? -INFINITY : s[a],
				sb = isnan(s[b]) ? -INFINITY : s[b];

	return sa > sb || (sa == sb && a < b);
}

#define n 1000

/* nn_topk and nn_rank against brute force over 1000 scores with ties */
static void
test_topk(void)
{
	float		s[n + 1],
				top_s[n];
	int32_t		top_i[n],
				want[n];
	uint8_t		ex[n + 1];
	nn_rng		r;
	int32_t		j,
				k,
				m = 0,
				got,
				rank_ok = 1;
	int			ok = 1;

	nn_rng_seed(&r, 3);
	for (j = 1; j <= n; j++)
	{
		s[j] = (float) nn_rng_below(&r, 50);	/* many ties */
		ex[j] = nn_rng_below(&r, 4) == 0;
	}
	s[17] = NAN;
	ex[17] = 0;
	/* brute force: selection of the non-excluded in order */
	for (j = 1; j <= n; j++)
		if (!ex[j])
			want[m++] = j;
	for (j = 0; j < m; j++)
		for (k = j + 1; k < m; k++)
			if (better(s, want[k], want[j]))
			{
				int32_t		t = want[j];

				want[j] = want[k];
				want[k] = t;
			}
	got = nn_topk(s, n, 10, ex, top_i, top_s);
	for (j = 0; j < 10; j++)
		ok &= top_i[j] == want[j] && top_s[j] == s[want[j]];
	tap_ok(got == 10 && ok, "nn_topk(10) equals the brute-force order with ties and exclusions");
	got = nn_topk(s, n, n, ex, top_i, top_s);
	ok = got == m;
	for (j = 0; ok && j < m; j++)
		ok &= top_i[j] == want[j];
	tap_ok(ok && top_i[m - 1] == 17, "nn_topk(k > available) returns all %d in order, NaN last", m);
	tap_ok(nn_topk(s, n, 0, ex, top_i, top_s) == 0, "nn_topk(0) returns nothing");

	for (j = 0; j < m && j < 200; j++)
	{
		int32_t		target = want[j],
					higher = 0;

		for (k = 1; k <= n; k++)
			if (k != target && !ex[k] && !isnan(s[k]) && s[k] >= s[target])
				higher++;
		rank_ok &= nn_rank(s, n, target, ex) == higher;
	}
	tap_ok(rank_ok, "nn_rank counts the non-excluded items scoring at least as high");
}

/* nn_logsumexp against a double-precision sum, at logits that overflow exp */
static void
test_logsumexp(void)
{
	float		s[1001];
	double		mx = -INFINITY,
				sum = 0.0,
				want;
	nn_rng		r;
	int32_t		j;

	nn_rng_seed(&r, 5);
	s[0] = -INFINITY;
	for (j = 1; j <= 1000; j++)
	{
		s[j] = 100.0f + 0.01f * (float) nn_rng_below(&r, 2000);	/* exp(s) overflows a float */
		mx = s[j] > mx ? s[j] : mx;
	}
	for (j = 1; j <= 1000; j++)
		sum += exp(s[j] - mx);
	want = mx + log(sum);
	tap_ok(fabs(nn_logsumexp(s, 1000) - want) < 1e-4 * fabs(want),
		   "nn_logsumexp equals the double-precision value (%.6f) without overflow", want);
	mx = fmax(fmax(s[1], s[2]), s[3]);
	want = mx + log(exp(s[1] - mx) + exp(s[2] - mx) + exp(s[3] - mx));
	tap_ok(fabs(nn_logsumexp(s, 3) - want) < 1e-4, "nn_logsumexp over fewer items than a vector");
	tap_ok(isinf(nn_logsumexp(s, 0)) && nn_logsumexp(s, 0) < 0, "nn_logsumexp of no item is -inf");
}

#undef n

/* nn_item_index over non-contiguous ids, nn_scale_rating at the edges */
static void
test_lookup(void)
{
	nn_config	cfg = small_config(5, 0, 0, 0, 2, 2, 1, 3);
	int64_t		ids[6] = {0, -7, 10, 20, 35, 1000};
	nn_model	m;
	nn_error	err;
	int			ok = 1;
	int32_t		j;

	nn_model_create(&m, &cfg, NULL, NULL, ids, 1, &nn_malloc_allocator, &err);
	for (j = 1; j <= 5; j++)
		ok &= nn_item_index(&m, ids[j]) == j;
	tap_ok(ok && nn_item_index(&m, 0) == 0 && nn_item_index(&m, 11) == 0 &&
		   nn_item_index(&m, 5000) == 0 && nn_item_index(&m, -8) == 0,
		   "nn_item_index finds every id and returns 0 for unknown ones");
	tap_near(nn_scale_rating(&cfg, 1.0f), -1.0f, 0, "rating_min scales to -1");
	tap_near(nn_scale_rating(&cfg, 5.0f), 1.0f, 0, "rating_max scales to 1");
	tap_near(nn_scale_rating(&cfg, 4.0f), 0.5f, 1e-7, "a rating inside the range scales linearly");
	tap_near(nn_scale_rating(&cfg, 9.0f), 1.0f, 0, "ratings above the range clamp to 1");
	tap_near(nn_scale_rating(&cfg, NAN), 0.0f, 0, "a NULL (NaN) rating scales to 0");
	tap_near(nn_scale_rating(&cfg, INFINITY), 0.0f, 0, "an infinite rating counts as missing: 0");
	tap_near(nn_scale_rating(&cfg, -INFINITY), 0.0f, 0, "and so does -Infinity");
	nn_model_free(&m);
}

#define MAX_B 40
#define T_MAX 50

/*
 * nb histories step by step against nn_infer_batch with `threads` OpenBLAS
 * threads (fewer than 8 histories run layer by layer, more as a wave split
 * between threads from 32 on), with padding, gaps and user context; D 64,
 * H 128, T 50, or D 16, H 32, T 20 at ANIMEREC_TEST_SCALE=small (valgrind);
 * and weights packed once by nn_pack_layers (as a server keeps them) give
 * the same embeddings, bit for bit, as weights packed on the call.
 */
static void
test_step_equals_batch(int32_t nb, int threads)
{
	bool		small = test_scale_small();
	int32_t		T = small ? 20 : T_MAX,
				D = small ? 16 : 64,
				H = small ? 32 : 128,
				pad = small ? 3 : 9;
	nn_config	cfg = small_config(500, 19, 4, 9, D, H, 2, T);
	nn_model	m;
	nn_rng		r;
	int32_t		items[MAX_B * T_MAX],
				users[MAX_B],
				uptr[MAX_B + 1],
				uidx[2 * MAX_B];
	float		ratings[MAX_B * T_MAX];
	float	   *u_batch = calloc(MAX_B * 64, sizeof(float)),
			   *u_packed = calloc(MAX_B * 64, sizeof(float));
	float		u_step[64];
	float	   *work,
			   *swork,
			   *state,
			   *packed;
	double		e = 0.0;
	int32_t		b,
				t,
				d;

	make_model(&m, &cfg, 4, 0.0f);
	work = calloc(nn_batch_work_floats(&m, nb, T), sizeof(float));
	swork = calloc(nn_step_work_floats(&m), sizeof(float));
	state = calloc(nn_state_floats(&m), sizeof(float));
	nn_rng_seed(&r, 5);
	uptr[0] = 0;
	for (b = 0; b < nb; b++)
	{
		for (t = 0; t < T; t++)
		{
			/* row b left-padded with pad * (b % 6) zeros, one unknown item (0) inside */
			items[b * T + t] = t < pad * (b % 6) || t == T - 7 ? 0 : 1 + (int32_t) nn_rng_below(&r, 500);
			ratings[b * T + t] = 2.0f * nn_rng_uniform(&r) - 1.0f;
		}
		users[b] = (int32_t) nn_rng_below(&r, 10);
		uptr[b + 1] = uptr[b] + (b % 3);
		for (t = uptr[b]; t < uptr[b + 1]; t++)
			uidx[t] = 1 + (int32_t) nn_rng_below(&r, 4);
	}
	nn_blas_set_threads(threads);
	nn_infer_batch(&m, NULL, nb, T, items, ratings, users, uptr, uidx, u_batch, work);
	packed = calloc(nn_packed_layers_floats(&m), sizeof(float));
	nn_pack_layers(&m, packed);
	nn_infer_batch(&m, packed, nb, T, items, ratings, users, uptr, uidx, u_packed, work);
	tap_ok(memcmp(u_batch, u_packed, sizeof(float) * nb * D) == 0,
		   "nn_infer_batch of %d histories: weights packed once give the embeddings of weights packed "
		   "on the call", nb);
	for (b = 0; b < nb; b++)
	{
		nn_state_reset(&m, state);
		for (t = 0; t < T; t++)
			nn_infer_step(&m, state, items[b * T + t], ratings[b * T + t], users[b],
						  uidx + uptr[b], uptr[b + 1] - uptr[b], swork);
		nn_infer_embedding(&m, state, u_step);
		for (d = 0; d < D; d++)
			e = fmax(e, fabs(u_step[d] - u_batch[b * D + d]));
	}
	tap_ok(e <= 1e-6, "nn_infer_step equals nn_infer_batch at D=%d, H=%d, T=%d, B=%d, "
		   "%d OpenBLAS thread(s) (max diff %.2g)", D, H, T, nb, nn_blas_threads(), e);
	nn_blas_set_threads(1);
	free(u_batch);
	free(u_packed);
	free(packed);
	free(work);
	free(swork);
	free(state);
	nn_model_free(&m);
}

#undef MAX_B
#undef T_MAX

#define NB 40
#define T_MAX 50
#define N_ITEMS 500
#define K 10

/* how test_recommend_batch runs the batch */
typedef enum batch_mode
{
	BATCH_HERE,					/* nn_recommend_batch on this thread */
	BATCH_ASYNC,				/* nn_recommend_batch as a job on a thread of its own */
	BATCH_HELPED,				/* nn_recommend_run on threads - 1 threads as a job, this thread taking chunks too */
	BATCH_STOPPED				/* nn_recommend_stop before nn_recommend_run: no user scored */
} batch_mode;

/* the arguments of one nn_recommend_batch, for a job on a thread of its own */
typedef struct batch_args
{
	const nn_model *m;
	const nn_serving *sv;
	const float *gates;
	const int32_t *items,
			   *uptr,
			   *uidx,
			   *seen_ptr,
			   *seen;
	const float *ratings;
	nn_topk_batch *top;
	int			threads;
	float	   *u,
			   *scores,
			   *work;
	uint8_t    *exclude;
	nn_recommend_job *job;		/* set up by nn_recommend_begin (BATCH_HELPED, BATCH_STOPPED) */
} batch_args;

/* nn_async job: nn_recommend_batch over NB users */
static void
batch_job(void *arg)
{
	batch_args *a = arg;

	nn_recommend_batch(a->m, a->sv, a->gates, NB, a->m->cfg.maxlen, a->items, a->ratings, NULL,
					   a->uptr, a->uidx, a->seen_ptr, a->seen, a->top, a->threads, a->u, a->scores, a->exclude, a->work);
}

/* nn_async job: the chunks of a->job on a->threads - 1 threads (at least one) */
static void
workers_job(void *arg)
{
	batch_args *a = arg;

	nn_recommend_run(a->job, a->threads > 1 ? a->threads - 1 : 1, 0);
}

/*
 * Run the batch of a in mode: here, as a job, as a job of threads - 1
 * threads that this thread helps (the last slice), or stopped before it runs.
 */
static void
run_batch(batch_args *a, batch_mode mode)
{
	nn_async	job;

	if (mode == BATCH_HERE)
	{
		batch_job(a);
		return;
	}
	if (mode == BATCH_ASYNC)
	{
		if (nn_async_start(&job, batch_job, a))
			nn_async_wait(&job);
		else
			batch_job(a);
		return;
	}
	a->job = nn_recommend_begin(malloc(nn_recommend_job_bytes()), a->m, a->sv, a->gates, NB,
								a->m->cfg.maxlen, a->items, a->ratings, NULL, a->uptr, a->uidx,
								a->seen_ptr, a->seen, a->top, a->u, a->scores, a->exclude, a->work);
	if (mode == BATCH_STOPPED)
	{
		nn_recommend_stop(a->job);
		workers_job(a);
	}
	else if (nn_async_start(&job, workers_job, a))
	{
		nn_recommend_take(a->job, a->threads - 1);
		nn_async_wait(&job);
	}
	else
		workers_job(a);
	free(a->job);
}

/*
 * nn_recommend_batch over NB users (padding, an unknown item, seen items
 * excluded, user tags) on `threads` threads, run as mode says (run_batch),
 * with nn_item_gates's table when gates, against each user alone:
 * nn_infer_batch of one history, nn_scores, nn_topk, nn_logsumexp; when
 * stopped, no user's result written.  D 64, H 128, T 50; D 16, H 32, T 20
 * at ANIMEREC_TEST_SCALE=small (valgrind).
 */
static void
test_recommend_batch(int threads, batch_mode mode, bool gates)
{
	static const char *const how[] = {"", ", as a job on its own thread,",
	", as a job on one thread fewer that this one helps,", ""};
	bool		small = test_scale_small();
	int32_t		T = small ? 20 : T_MAX,
				D = small ? 16 : 64;
	nn_config	cfg = small_config(N_ITEMS, 19, 4, 9, D, small ? 32 : 128, 2, T);
	nn_model	m;
	nn_rng		r;
	nn_topk_batch top;
	int32_t		items[NB * T_MAX],
				seen_ptr[NB + 1],
				seen[NB * T_MAX],
				uptr[NB + 1],
				uidx[2 * NB],
				idx1[K];
	float		ratings[NB * T_MAX],
				sc1[K],
				u1[64];
	float	   *tables,
			   *P = NULL,
			   *u = calloc(NB * D, sizeof(float)),
			   *s1 = calloc(N_ITEMS + 1, sizeof(float)),
			   *scores,
			   *work;
	uint8_t    *exclude = calloc((size_t) threads * (N_ITEMS + 1), 1),
			   *ex1 = calloc(N_ITEMS + 1, 1);
	batch_args	args;
	nn_serving	sv;
	double		score_err = 0.0,
				lse_err = 0.0;
	int			same_items = 1,
				clean = 1;

	make_model(&m, &cfg, 7, 0.0f);
	tables = calloc(nn_serving_floats(&m), sizeof(float));
	nn_serving_build(&m, tables, &sv);
	if (gates)
	{
		float	   *gw = calloc(nn_item_gates_work_floats(&m), sizeof(float));

		P = calloc(nn_item_gates_floats(&m), sizeof(float));
		nn_item_gates(&m, P, gw);
		free(gw);
	}
	nn_rng_seed(&r, 11);
	seen_ptr[0] = uptr[0] = 0;
	for (int32_t b = 0; b < NB; b++)
	{
		seen_ptr[b + 1] = seen_ptr[b];
		for (int32_t t = 0; t < T; t++)
		{
			/* row b left-padded with (T / 7)(b % 8) zeros, one unknown item */
			int32_t		j = t < T / 7 * (b % 8) || t == T - 3 ? 0 : 1 + (int32_t) nn_rng_below(&r, N_ITEMS);

			items[b * T + t] = j;
			ratings[b * T + t] = 2.0f * nn_rng_uniform(&r) - 1.0f;
			if (j > 0)
				seen[seen_ptr[b + 1]++] = j;
		}
		uptr[b + 1] = uptr[b] + (b % 3);
		for (int32_t t = uptr[b]; t < uptr[b + 1]; t++)
			uidx[t] = 1 + (int32_t) nn_rng_below(&r, 4);
	}
	top.k = K;
	top.idx = calloc(NB * K, sizeof(int32_t));
	top.score = calloc(NB * K, sizeof(float));
	top.got = malloc(NB * sizeof(int32_t));
	for (int32_t b = 0; b < NB; b++)
		top.got[b] = -1;		/* not written yet */
	top.lse = calloc(NB, sizeof(float));
	work = calloc(nn_batch_work_floats(&m, NB, T), sizeof(float));
	scores = calloc(nn_recommend_scores_floats(&m, threads), sizeof(float));
	args = (batch_args) {&m, &sv, P, items, uptr, uidx, seen_ptr, seen, ratings, &top, threads, u,
	scores, work, exclude, NULL};
	nn_blas_set_threads(1);
	run_batch(&args, mode);
	for (size_t i = 0; i < (size_t) threads * (N_ITEMS + 1); i++)
		clean &= exclude[i] == 0;
	if (mode == BATCH_STOPPED)
	{
		int			untouched = 1;

		for (int32_t b = 0; b < NB; b++)
			untouched &= top.got[b] == -1;
		tap_ok(untouched && clean, "nn_recommend_stop before nn_recommend_run: no user of %d scored, "
			   "the exclusion scratch zero", NB);
	}
	for (int32_t b = 0; mode != BATCH_STOPPED && b < NB; b++)
	{
		int32_t		got;

		nn_infer_batch(&m, NULL, 1, T, items + b * T, ratings + b * T, NULL, uptr + b, uidx, u1, work);
		nn_scores(&m, sv.score_table, u1, 1, s1);
		for (int32_t s = seen_ptr[b]; s < seen_ptr[b + 1]; s++)
			ex1[seen[s]] = 1;
		got = nn_topk(s1, N_ITEMS, K, ex1, idx1, sc1);
		for (int32_t s = seen_ptr[b]; s < seen_ptr[b + 1]; s++)
			ex1[seen[s]] = 0;
		same_items &= got == top.got[b];
		for (int32_t i = 0; i < got; i++)
		{
			same_items &= idx1[i] == top.idx[b * K + i];
			score_err = fmax(score_err, fabs(sc1[i] - top.score[b * K + i]));
		}
		lse_err = fmax(lse_err, fabs(nn_logsumexp(s1, N_ITEMS) - top.lse[b]));
	}
	if (mode != BATCH_STOPPED)
	{
		tap_ok(same_items && score_err < 1e-4 && lse_err < 1e-4,
			   "nn_recommend_batch on %d thread(s)%s%s gives each of %d users the top %d of that user alone "
			   "(max score diff %.2g, log-sum-exp diff %.2g)", threads, how[mode],
			   gates ? " with item gates" : "", NB, K, score_err, lse_err);
		tap_ok(clean, "nn_recommend_batch leaves its exclusion scratch zero");
	}
	free(top.idx);
	free(top.score);
	free(top.got);
	free(top.lse);
	free(tables);
	free(P);
	free(u);
	free(s1);
	free(scores);
	free(work);
	free(exclude);
	free(ex1);
	nn_model_free(&m);
}

/*
 * nn_item_gates: every row against the sum over W_ih[0]'s item and tag
 * columns done here in double, row 0 zero.
 */
static void
test_item_gates(void)
{
	nn_config	cfg = small_config(N_ITEMS, 19, 4, 9, 16, 32, 2, 20);
	nn_model	m;
	int32_t		D = cfg.dim,
				G = 4 * cfg.hidden;
	float	   *P,
			   *work,
				x[32];
	double		err = 0.0;
	int			zero = 1;

	make_model(&m, &cfg, 5, 0.0f);
	P = calloc(nn_item_gates_floats(&m), sizeof(float));
	work = calloc(nn_item_gates_work_floats(&m), sizeof(float));
	nn_item_gates(&m, P, work);
	for (int32_t g = 0; g < G; g++)
		zero &= P[g] == 0.0f;
	for (int32_t j = 1; j <= N_ITEMS; j++)
	{
		memcpy(x, m.item_emb + (size_t) j * D, sizeof(float) * D);
		nn_item_tag_mean(&m, j, x + D);
		for (int32_t g = 0; g < G; g++)
		{
			double		want = 0.0;

			for (int32_t c = 0; c < 2 * D; c++)
				want += (double) m.w_ih[0][(size_t) g * m.in_dim + c] * x[c];
			err = fmax(err, fabs(want - P[(size_t) j * G + g]));
		}
	}
	tap_ok(zero && err < 1e-5, "nn_item_gates: row 0 zero, rows 1..%d the item columns' input "
		   "projection (max diff %.2g)", N_ITEMS, err);
	{
		/* a wave batch reads the table: zeroing its rows changes the embeddings */
		int32_t		B = 8,
					T = cfg.maxlen,
					items[8 * 20];
		float		ratings[8 * 20] = {0},
					u[2][8 * 16],
				   *bw = calloc(nn_batch_work_floats(&m, B, T), sizeof(float));
		double		moved = 0.0;

		for (int32_t i = 0; i < B * T; i++)
			items[i] = 1 + i % N_ITEMS;
		nn_infer_on(&m, NULL, B, T, items, ratings, NULL, NULL, NULL, P, u[0], bw, 1);
		memset(P, 0, sizeof(float) * nn_item_gates_floats(&m));
		nn_infer_on(&m, NULL, B, T, items, ratings, NULL, NULL, NULL, P, u[1], bw, 1);
		for (int32_t i = 0; i < B * D; i++)
			moved = fmax(moved, fabs(u[0][i] - u[1][i]));
		tap_ok(moved > 1e-3, "a wave batch of %d histories reads the item gates (embeddings move "
			   "by %.2g when they are zeroed)", B, moved);
		free(bw);
	}
	free(P);
	free(work);
	nn_model_free(&m);
}

#undef NB
#undef T_MAX
#undef N_ITEMS
#undef K

/* inference entry points */
/*
 * The packed score table against the item output table: nn_scores equals
 * bias + u · row in double for every item, and nn_item_similarities the
 * cosine of two rows, for an item count that leaves the last panel partly
 * empty and a zero row (item 1: cosine 0 with every item).
 */
static void
test_score_table(void)
{
	nn_config	cfg = small_config(37, 5, 0, 0, 12, 8, 1, 6);
	nn_model	m;
	nn_serving	sv;
	int32_t		N = cfg.n_items,
				D = cfg.dim,
				q = 3;
	float	   *out = calloc(((size_t) N + 1) * D, sizeof(float)),
			   *tables,
			   *scores = calloc((size_t) N + 1, sizeof(float)),
			   *sims = calloc((size_t) N + 1, sizeof(float)),
				u[12],
				work[12];
	double		e_score = 0.0,
				e_sim = 0.0,
				e_norm = 0.0;

	make_model(&m, &cfg, 13, 0.2f);
	memset(m.item_emb + D, 0, sizeof(float) * D);	/* item 1 has no tags: a zero row */
	tables = calloc(nn_serving_floats(&m), sizeof(float));
	nn_serving_build(&m, tables, &sv);
	nn_item_output(&m, out);
	for (int32_t d = 0; d < D; d++)
		u[d] = 0.1f * (float) (d - 5);
	nn_scores(&m, sv.score_table, u, 1, scores);
	nn_item_similarities(&m, &sv, q, sims, work);
	for (int32_t j = 1; j <= N; j++)
	{
		double		dot = m.item_bias[j],
					qj = 0.0,
					qq = 0.0,
					jj = 0.0,
					cos;

		for (int32_t d = 0; d < D; d++)
		{
			dot += (double) u[d] * out[j * D + d];
			qj += (double) out[q * D + d] * out[j * D + d];
			qq += (double) out[q * D + d] * out[q * D + d];
			jj += (double) out[j * D + d] * out[j * D + d];
		}
		cos = qq > 0 && jj > 0 ? qj / sqrt(qq * jj) : 0.0;
		e_score = fmax(e_score, fabs(scores[j] - dot));
		e_sim = fmax(e_sim, fabs(sims[j] - cos));
		e_norm = fmax(e_norm, fabs(sv.item_norms[j - 1] - sqrt(jj)));
	}
	tap_ok(e_score < 1e-5 && isinf(scores[0]) && scores[0] < 0,
		   "nn_scores on the packed score table: bias + u . row of every item (max diff %.2g), "
		   "column 0 -inf", e_score);
	tap_ok(e_sim < 1e-5 && sims[0] == 0.0f && sims[1] == 0.0f && fabs(sims[q] - 1.0) < 1e-5,
		   "nn_item_similarities: the cosine of the rows (max diff %.2g), 0 for a zero row, 1 "
		   "with itself", e_sim);
	tap_ok(e_norm < 1e-5 && sv.item_norms[0] == 0.0f,
		   "nn_serving_build: the length of every item's row (max diff %.2g), 0 for a zero row", e_norm);
	free(out);
	free(tables);
	free(scores);
	free(sims);
	nn_model_free(&m);
}

int
main(void)
{
	test_topk();
	test_logsumexp();
	test_lookup();
	test_score_table();
	test_step_equals_batch(6, 1);
	test_step_equals_batch(40, 1);
	test_step_equals_batch(40, 2);
	test_recommend_batch(1, BATCH_HERE, false);
	test_recommend_batch(2, BATCH_HERE, false);
	test_recommend_batch(2, BATCH_ASYNC, false);
	test_recommend_batch(2, BATCH_HELPED, false);
	test_recommend_batch(3, BATCH_HELPED, true);
	test_recommend_batch(2, BATCH_STOPPED, false);
	test_item_gates();
	test_recommend_batch(1, BATCH_HERE, true);
	test_recommend_batch(2, BATCH_ASYNC, true);
	return tap_done();
}
