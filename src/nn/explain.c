/*
 * explain.c — leave-one-out explanations: how much each item of a history
 * raised the log-probability of a target item.
 *
 * For a chronological window of T items the target's log-probability
 * log p(j | window) = s_j - log sum_{i=1..N} exp(s_i) is computed after the
 * whole window and after the window with item t left out, for every t; the
 * contribution of item t is the difference (positive: item t raised it).
 * Leaving item t out is exact: the LSTM carries its state over step t, which
 * is the state of the window without that item.  The T + 1 windows share
 * their prefixes, so they run as one triangular batch (see nn_explain) and
 * one nn_scores.
 */
#include "nn_internal.h"

/* log sum_{j=1..n} exp(s[j]), in double */
static double
log_sum_exp(const float *s, int32_t n)
{
	double		max = -INFINITY,
				sum = 0.0;
	int32_t		j;

	for (j = 1; j <= n; j++)
		if (s[j] > max)
			max = s[j];
	for (j = 1; j <= n; j++)
		sum += exp((double) s[j] - max);
	return max + log(sum);
}

/*
 * floats of workspace nn_explain needs for a window of T items: user
 * context, step inputs (T, in_0) and their layer-0 projections (T, 4H),
 * per layer the hidden and cell states of T + 1 rows twice (before and
 * after a step), one step's gates (T + 1, 4H) and tanh(c) (T + 1, H),
 * embeddings (T + 1, D) and scores (T + 1, N + 1).
 */
size_t
nn_explain_work_floats(const nn_model *m, int32_t T)
{
	size_t		B = (size_t) T + 1,
				H = (size_t) m->cfg.hidden;

	return (size_t) nn_context_dim(&m->cfg) + (size_t) T * (m->in_dim + 4 * H) +
		(size_t) m->cfg.layers * 4 * B * H + B * 5 * H +
		B * m->cfg.dim + B * ((size_t) m->cfg.n_items + 1);
}

/*
 * Leave-one-out explanation of target (dense, 1..N) after the chronological
 * window items/ratings (T >= 1, dense items, ratings scaled) of a user with
 * user row user (0: none) and user tags utags (n_utags, may be NULL/0).
 * sv holds the model's tables (nn_serving_build).  Writes *logp = log p(target | window) and
 * contrib (T): contrib[t] = *logp - log p(target | window without item t).
 * work has nn_explain_work_floats(m, T) floats.
 *
 * Row 0 is the whole window, row 1 + t the window without item t.  Row
 * 1 + t equals row 0 before step t, carries row 0's state over step t
 * (the item is left out) and runs on its own after it; so step s computes
 * only rows 0..s, which are contiguous: one GEMM per layer and step over
 * s + 1 rows, about half the work of T + 1 full windows, and the layer-0
 * input projection, the same for every row, once per step.
 */
void
nn_explain(const nn_model *m, const nn_serving *sv, int32_t T,
		   const int32_t *items, const float *ratings,
		   int32_t user, const int32_t *utags, int32_t n_utags, int32_t target,
		   double *logp, double *contrib, float *work)
{
	int32_t		B = T + 1,
				N = m->cfg.n_items,
				H = m->cfg.hidden,
				G = 4 * m->cfg.hidden,
				L = m->cfg.layers,
				in0 = m->in_dim;
	size_t		N1 = (size_t) N + 1,
				BH = (size_t) B * H;
	float	   *ctx = work;
	float	   *X = ctx + nn_context_dim(&m->cfg);
	float	   *Zin = X + (size_t) T * in0;
	float	   *state = Zin + (size_t) T * G;	/* per layer: H[2], C[2], (B, H) each */
	float	   *Z = state + (size_t) L * 4 * BH;
	float	   *TC = Z + (size_t) B * G;
	float	   *u = TC + BH;
	float	   *scores = u + (size_t) B * m->cfg.dim;
	nn_lstm_weights w;
	int32_t		p = 0,
				s,
				l,
				r,
				t;

	nn_user_context(m, user, utags, n_utags, ctx);
	for (s = 0; s < T; s++)
		nn_step_input(m, items[s], ratings[s], ctx, X + (size_t) s * in0);
	nn_packed_layer_weights(m, sv->packed, 0, &w);
	nn_gemm_packed(T, G, in0, X, in0, nn_lstm_packed_cols(&w, 0), nn_lstm_packed_ldp(&w), Zin, G, false);
	memset(state, 0, sizeof(float) * (size_t) L * 4 * BH);
	for (s = 0; s < T; s++)
	{
		int32_t		rows = s + 1;	/* row 0 and the rows that left out an earlier item */

		for (l = 0; l < L; l++)
		{
			float	   *Hp = state + (size_t) l * 4 * BH + (size_t) p * BH,
					   *Hn = state + (size_t) l * 4 * BH + (size_t) (1 - p) * BH,
					   *Cp = Hp + 2 * BH,
					   *Cn = Hn + 2 * BH;

			nn_packed_layer_weights(m, sv->packed, l, &w);
			if (l == 0)
				for (r = 0; r < rows; r++)
					memcpy(Z + (size_t) r * G, Zin + (size_t) s * G, sizeof(float) * G);
			else
				nn_gemm_packed(rows, G, H, state + (size_t) (l - 1) * 4 * BH + (size_t) (1 - p) * BH, H,
							   nn_lstm_packed_cols(&w, 0), nn_lstm_packed_ldp(&w), Z, G, false);
			nn_gemm_packed(rows, G, H, Hp, H, nn_lstm_packed_cols(&w, w.in), nn_lstm_packed_ldp(&w),
						   Z, G, true);
			nn_lstm_cells(&w, rows, Z, Cp, Cn, TC, Hn);
			/* row 1 + s leaves item s out: it keeps row 0's state from before the step */
			memcpy(Hn + (size_t) (s + 1) * H, Hp, sizeof(float) * H);
			memcpy(Cn + (size_t) (s + 1) * H, Cp, sizeof(float) * H);
		}
		p = 1 - p;
	}
	nn_project(m->proj, m->cfg.dim, H, B, state + (size_t) (L - 1) * 4 * BH + (size_t) p * BH, u);
	nn_scores(m, sv->score_table, u, B, scores);
	*logp = scores[target] - log_sum_exp(scores, N);
	for (t = 0; t < T; t++)
	{
		const float *sc = scores + (size_t) (t + 1) * N1;

		contrib[t] = *logp - (sc[target] - log_sum_exp(sc, N));
	}
}
