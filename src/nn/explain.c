/*
 * explain.c — leave-one-out explanations: how much each item of a history
 * raised the log-probability of a target item.
 *
 * For a chronological window of T items the target's log-probability
 * log p(j | window) = s_j - log sum_{i=1..N} exp(s_i) is computed after the
 * whole window and after the window with item t left out, for every t; the
 * contribution of item t is the difference (positive: item t raised it).
 * Leaving item t out is exact: its step is marked padding, over which the
 * LSTM carries its state (nn_lstm_forward), which is the state of the window
 * without that item.  All T + 1 windows go through one nn_infer_batch and one
 * nn_scores, so the cost is one batch of T + 1 histories.
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
 * floats of workspace nn_explain needs for a window of T items and n_utags
 * user tags: T + 1 windows of items and ratings (T + 1, T), the user-tag CSR
 * arrays (T + 2) and (T + 1, n_utags), embeddings (T + 1, D), scores
 * (T + 1, N + 1) and nn_infer_batch's workspace for T + 1 histories.
 */
size_t
nn_explain_work_floats(const nn_model *m, int32_t T, int32_t n_utags)
{
	size_t		B = (size_t) T + 1;

	return 2 * B * T + (B + 1) + B * n_utags + B * m->cfg.dim +
		B * ((size_t) m->cfg.n_items + 1) + nn_batch_work_floats(m, (int32_t) B, T);
}

/*
 * Leave-one-out explanation of target (dense, 1..N) after the chronological
 * window items/ratings (T >= 1, dense items, ratings scaled) of a user with
 * user tags utags (n_utags, may be NULL/0).  item_out (N+1, D) is
 * nn_item_output's table.  Writes *logp = log p(target | window) and
 * contrib (T): contrib[t] = *logp - log p(target | window without item t).
 * work has nn_explain_work_floats(m, T, n_utags) floats.
 */
void
nn_explain(const nn_model *m, const float *item_out, int32_t T,
		   const int32_t *items, const float *ratings,
		   const int32_t *utags, int32_t n_utags, int32_t target,
		   double *logp, double *contrib, float *work)
{
	int32_t		B = T + 1;
	int32_t		N = m->cfg.n_items;
	size_t		N1 = (size_t) N + 1;
	int32_t    *win_items = (int32_t *) work;
	float	   *win_ratings = work + (size_t) B * T;
	int32_t    *utag_ptr = (int32_t *) (win_ratings + (size_t) B * T);
	int32_t    *utag_idx = utag_ptr + B + 1;
	float	   *u = (float *) (utag_idx + (size_t) B * n_utags);
	float	   *scores = u + (size_t) B * m->cfg.dim;
	float	   *batch_work = scores + (size_t) B * N1;
	int32_t		b,
				t;

	/* row 0: the whole window; row 1 + t: the window without item t */
	for (b = 0; b < B; b++)
	{
		memcpy(win_items + (size_t) b * T, items, sizeof(int32_t) * T);
		memcpy(win_ratings + (size_t) b * T, ratings, sizeof(float) * T);
		if (b > 0)
			win_items[(size_t) b * T + (b - 1)] = 0;
		utag_ptr[b] = b * n_utags;
		if (n_utags > 0)
			memcpy(utag_idx + (size_t) b * n_utags, utags, sizeof(int32_t) * n_utags);
	}
	utag_ptr[B] = B * n_utags;
	nn_infer_batch(m, B, T, win_items, win_ratings, NULL,
				   n_utags > 0 ? utag_ptr : NULL, n_utags > 0 ? utag_idx : NULL,
				   u, batch_work);
	nn_scores(m, item_out, u, B, scores);
	*logp = scores[target] - log_sum_exp(scores, N);
	for (t = 0; t < T; t++)
	{
		const float *s = scores + (size_t) (t + 1) * N1;

		contrib[t] = *logp - (s[target] - log_sum_exp(s, N));
	}
}
