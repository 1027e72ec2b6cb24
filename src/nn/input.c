/*
 * input.c — assembly of the LSTM's step inputs
 *   x_t = [E_item[i_t] ; mean E_tag[tags(i_t)] ; r_t ; user context]
 * and its backward pass into the embedding tables.
 */
#include "nn_internal.h"

/* floats of per-row user context: D with user tags, + D with user ids */
int32_t
nn_context_dim(const nn_config *cfg)
{
	return (cfg->n_user_tags > 0 ? cfg->dim : 0) + (cfg->n_users > 0 ? cfg->dim : 0);
}

/* out (D) += s * row (D) */
static inline void
axpy(int32_t D, float s, const float *row, float *out)
{
	int32_t		d;

	for (d = 0; d < D; d++)
		out[d] += s * row[d];
}

/* (D) mean of the tag embeddings of item j (zero for no tags or j out of range) */
void
nn_item_tag_mean(const nn_model *m, int32_t j, float *out)
{
	int32_t		D = m->cfg.dim;
	int32_t		k,
				lo,
				hi;

	memset(out, 0, sizeof(float) * D);
	if (j < 1 || j > m->cfg.n_items)
		return;
	lo = m->item_tag_ptr[j];
	hi = m->item_tag_ptr[j + 1];
	for (k = lo; k < hi; k++)
		axpy(D, 1.0f / (float) (hi - lo), m->tag_emb + (size_t) m->item_tag_idx[k] * D, out);
}

/* number of user tags inside the vocabulary 1..UG (the others are skipped) */
static int32_t
count_utags(const nn_model *m, const int32_t *utags, int32_t n_utags)
{
	int32_t		k,
				n = 0;

	for (k = 0; k < n_utags; k++)
		n += utags[k] >= 1 && utags[k] <= m->cfg.n_user_tags;
	return n;
}

/*
 * (ctx_dim) user context of one row: mean E_utag[utags] then E_user[user];
 * user tags outside the vocabulary are skipped, a user outside 1..U gives
 * a zero embedding.
 */
void
nn_user_context(const nn_model *m, int32_t user, const int32_t *utags,
				int32_t n_utags, float *ctx)
{
	int32_t		D = m->cfg.dim;
	int32_t		k,
				n;

	memset(ctx, 0, sizeof(float) * nn_context_dim(&m->cfg));
	if (m->utag_emb)
	{
		n = utags ? count_utags(m, utags, n_utags) : 0;
		for (k = 0; n > 0 && k < n_utags; k++)
			if (utags[k] >= 1 && utags[k] <= m->cfg.n_user_tags)
				axpy(D, 1.0f / (float) n, m->utag_emb + (size_t) utags[k] * D, ctx);
		ctx += D;
	}
	if (m->user_emb && user >= 1 && user <= m->cfg.n_users)
		memcpy(ctx, m->user_emb + (size_t) user * D, sizeof(float) * D);
}

/*
 * One step input x (in_0) = [E_item[item]; tag mean; rating; ctx (ctx_dim)];
 * an item outside 1..N (0 = padding) gives a zero vector.
 */
void
nn_step_input(const nn_model *m, int32_t item, float rating, const float *ctx, float *x)
{
	int32_t		D = m->cfg.dim;

	if (item < 1 || item > m->cfg.n_items)
	{
		memset(x, 0, sizeof(float) * m->in_dim);
		return;
	}
	memcpy(x, m->item_emb + (size_t) item * D, sizeof(float) * D);
	nn_item_tag_mean(m, item, x + D);
	x[2 * D] = rating;
	memcpy(x + 2 * D + 1, ctx, sizeof(float) * nn_context_dim(&m->cfg));
}

/* user tags of row b from an optional CSR, as a pointer and a count */
static const int32_t *
row_utags(const int32_t *utag_ptr, const int32_t *utag_idx, int32_t b, int32_t *n)
{
	if (!utag_ptr)
	{
		*n = 0;
		return NULL;
	}
	*n = utag_ptr[b + 1] - utag_ptr[b];
	return utag_idx + utag_ptr[b];
}

/*
 * Step inputs X (T, B, in_0) of B windows: items/ratings are (B, ld) read at
 * columns 0..T-1 (ratings may be NULL: zero); users (B) and the user-tag CSR
 * may be NULL; ctx (B, ctx_dim) is filled with each row's user context.
 */
void
nn_input_forward(const nn_model *m, int32_t B, int32_t T, int32_t ld,
				 const int32_t *items, const float *ratings,
				 const int32_t *users, const int32_t *utag_ptr,
				 const int32_t *utag_idx, float *ctx, float *X)
{
	int32_t		cd = nn_context_dim(&m->cfg);
	int32_t		b,
				t,
				n;
	const int32_t *utags;

	for (b = 0; b < B; b++)
	{
		utags = row_utags(utag_ptr, utag_idx, b, &n);
		nn_user_context(m, users ? users[b] : 0, utags, n, ctx + (size_t) b * cd);
	}
	for (t = 0; t < T; t++)
		for (b = 0; b < B; b++)
			nn_step_input(m, items[(size_t) b * ld + t],
						  ratings ? ratings[(size_t) b * ld + t] : 0.0f,
						  ctx + (size_t) b * cd, X + ((size_t) t * B + b) * m->in_dim);
}

/*
 * Backward of nn_input_forward: dX (T, B, in_0) into the embedding gradients
 * of g (a model view over the gradient buffer).  dctx (B, ctx_dim) is
 * workspace.  touched (optional) gets 1 for every embedding row written.
 */
void
nn_input_backward(const nn_model *m, int32_t B, int32_t T, int32_t ld,
				  const int32_t *items, const int32_t *users,
				  const int32_t *utag_ptr, const int32_t *utag_idx,
				  const float *dX, float *dctx, nn_model *g, nn_touched *touched)
{
	int32_t		D = m->cfg.dim;
	int32_t		cd = nn_context_dim(&m->cfg);
	int32_t		b,
				t,
				k,
				n,
				lo,
				hi;
	const int32_t *utags;

	memset(dctx, 0, sizeof(float) * (size_t) B * cd);
	for (t = 0; t < T; t++)
		for (b = 0; b < B; b++)
		{
			int32_t		j = items[(size_t) b * ld + t];
			const float *dx = dX + ((size_t) t * B + b) * m->in_dim;

			if (j < 1 || j > m->cfg.n_items)
				continue;
			axpy(D, 1.0f, dx, g->item_emb + (size_t) j * D);
			lo = m->item_tag_ptr[j];
			hi = m->item_tag_ptr[j + 1];
			for (k = lo; k < hi; k++)
			{
				axpy(D, 1.0f / (float) (hi - lo), dx + D,
					 g->tag_emb + (size_t) m->item_tag_idx[k] * D);
				if (touched)
					touched->tag[m->item_tag_idx[k]] = 1;
			}
			if (touched)
				touched->item[j] = 1;
			axpy(cd, 1.0f, dx + 2 * D + 1, dctx + (size_t) b * cd);
		}
	for (b = 0; b < B; b++)
	{
		const float *dc = dctx + (size_t) b * cd;
		int32_t		u = users ? users[b] : 0;

		if (m->utag_emb)
		{
			utags = row_utags(utag_ptr, utag_idx, b, &n);
			hi = utags ? count_utags(m, utags, n) : 0;
			for (k = 0; hi > 0 && k < n; k++)
				if (utags[k] >= 1 && utags[k] <= m->cfg.n_user_tags)
				{
					axpy(D, 1.0f / (float) hi, dc, g->utag_emb + (size_t) utags[k] * D);
					if (touched)
						touched->utag[utags[k]] = 1;
				}
			dc += D;
		}
		if (m->user_emb && u >= 1 && u <= m->cfg.n_users)
		{
			axpy(D, 1.0f, dc, g->user_emb + (size_t) u * D);
			if (touched)
				touched->user[u] = 1;
		}
	}
}
