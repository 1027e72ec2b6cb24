/*
 * test_explain.c — nn_explain against a brute-force recomputation: every
 * shortened window (item t removed and the rest moved together) run step by
 * step through nn_infer_step, scored by explicit dot products and a
 * log-softmax in double.
 */
#include <stdio.h>

#include "tap.h"
#include "testlib.h"

/* log p(target | u) with scores u · item_out[j] + bias[j] over items 1..N, in double */
static double
brute_logp(const nn_model *m, const float *item_out, const float *u, int32_t target)
{
	int32_t		N = m->cfg.n_items,
				D = m->cfg.dim;
	double		max = -INFINITY,
				sum = 0.0,
			   *s = calloc((size_t) N + 1, sizeof(double)),
				r;

	for (int32_t j = 1; j <= N; j++)
	{
		s[j] = m->item_bias[j];
		for (int32_t d = 0; d < D; d++)
			s[j] += (double) u[d] * item_out[(size_t) j * D + d];
		if (s[j] > max)
			max = s[j];
	}
	for (int32_t j = 1; j <= N; j++)
		sum += exp(s[j] - max);
	r = s[target] - max - log(sum);
	free(s);
	return r;
}

/* u (D) of n items stepped one by one (zero state, zero u when n = 0) */
static void
brute_embedding(const nn_model *m, const int32_t *items, const float *ratings, int32_t n,
				const int32_t *utags, int32_t n_utags, float *u)
{
	float	   *state = calloc(nn_state_floats(m), sizeof(float));
	float	   *work = calloc(nn_step_work_floats(m), sizeof(float));

	for (int32_t t = 0; t < n; t++)
		nn_infer_step(m, state, items[t], ratings[t], 0, utags, n_utags, work);
	nn_infer_embedding(m, state, u);
	free(state);
	free(work);
}

/*
 * A random window of T items for a model with (or without) user tags:
 * nn_explain's logp and every contribution equal the brute force.
 */
static void
test_against_brute_force(int32_t T, int32_t UG, int32_t layers)
{
	nn_config	cfg = small_config(300, 7, UG, 0, 16, 24, layers, 50);
	nn_model	m;
	nn_rng		r;
	int32_t    *items = calloc((size_t) T, sizeof(int32_t)),
			   *shorter = calloc((size_t) T, sizeof(int32_t));
	float	   *ratings = calloc((size_t) T, sizeof(float)),
			   *shorter_r = calloc((size_t) T, sizeof(float)),
			   *tables,
			   *item_out,
			   *work,
				u[16];
	nn_serving	sv;
	double	   *contrib = calloc((size_t) T, sizeof(double)),
				logp,
				want,
				e = 0.0;
	int32_t		utags[2] = {1, UG > 1 ? 2 : 1},
				n_utags = UG > 0 ? 2 : 0,
				target;

	make_model(&m, &cfg, 11, 0.3f);
	tables = calloc(nn_serving_floats(&m), sizeof(float));
	nn_serving_build(&m, tables, &sv);
	item_out = calloc(((size_t) cfg.n_items + 1) * cfg.dim, sizeof(float));
	nn_item_output(&m, item_out);
	nn_rng_seed(&r, 17 + T);
	for (int32_t t = 0; t < T; t++)
	{
		items[t] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) cfg.n_items);
		ratings[t] = 2.0f * nn_rng_uniform(&r) - 1.0f;
	}
	target = 1 + (int32_t) nn_rng_below(&r, (uint32_t) cfg.n_items);
	work = calloc(nn_explain_work_floats(&m, T), sizeof(float));
	nn_explain(&m, &sv, T, items, ratings, 0, n_utags ? utags : NULL, n_utags, target,
			   &logp, contrib, work);

	brute_embedding(&m, items, ratings, T, utags, n_utags, u);
	want = brute_logp(&m, item_out, u, target);
	tap_near(logp, want, 1e-4, "nn_explain: log p(target | window) equals the brute force");
	for (int32_t t = 0; t < T; t++)
	{
		int32_t		n = 0;
		double		d;

		for (int32_t s = 0; s < T; s++)
			if (s != t)
			{
				shorter[n] = items[s];
				shorter_r[n++] = ratings[s];
			}
		brute_embedding(&m, shorter, shorter_r, n, utags, n_utags, u);
		/* an empty window has the zero embedding, as serving gives it */
		if (n == 0)
			memset(u, 0, sizeof(u));
		d = fabs(contrib[t] - (want - brute_logp(&m, item_out, u, target)));
		if (d > e)
			e = d;
	}
	tap_ok(e <= 1e-4, "nn_explain: all %d leave-one-out contributions equal the brute force "
		   "(L=%d, %d user tags; max error %.3g)", T, layers, n_utags, e);
	free(items);
	free(shorter);
	free(ratings);
	free(shorter_r);
	free(tables);
	free(item_out);
	free(work);
	free(contrib);
	nn_model_free(&m);
}

/*
 * A window of one item: leaving it out leaves no item, the zero embedding
 * (what serving gives an empty history), so logp - contribution is the
 * cold-start log-probability.
 */
static void
test_single_item(void)
{
	nn_config	cfg = small_config(50, 0, 0, 0, 8, 8, 1, 10);
	nn_model	m;
	float	   *tables,
			   *item_out,
			   *work,
				u[8] = {0},
				rating = 0.5f;
	nn_serving	sv;
	int32_t		item = 7;
	double		contrib,
				logp;

	make_model(&m, &cfg, 3, 0.5f);
	tables = calloc(nn_serving_floats(&m), sizeof(float));
	nn_serving_build(&m, tables, &sv);
	item_out = calloc(((size_t) cfg.n_items + 1) * cfg.dim, sizeof(float));
	nn_item_output(&m, item_out);
	work = calloc(nn_explain_work_floats(&m, 1), sizeof(float));
	nn_explain(&m, &sv, 1, &item, &rating, 0, NULL, 0, 9, &logp, &contrib, work);
	tap_near(logp - contrib, brute_logp(&m, item_out, u, 9), 1e-5,
			 "a window of one item left out is the zero embedding (the cold-start scores)");
	free(tables);
	free(item_out);
	free(work);
	nn_model_free(&m);
}

int
main(void)
{
	test_against_brute_force(12, 0, 1);
	test_against_brute_force(12, 3, 2);
	test_against_brute_force(test_scale_small() ? 20 : 50, 0, 2);
	test_single_item();
	return tap_done();
}
