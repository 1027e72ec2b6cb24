/*
 * model.c — model configuration, parameter layout, creation with PyTorch's
 * default initialisation, and the small per-model lookups (rating scaling,
 * external item ids).
 */
#include "nn_internal.h"

/* check cfg's ranges; NN_OK, or NN_EINVAL with a message */
int
nn_config_check(const nn_config *cfg, nn_error *err)
{
	if (cfg->n_items < 1 || cfg->n_items > INT32_MAX - 2)
		return nn_fail(err, NN_EINVAL, "n_items must be between 1 and %d, not %d",
					   INT32_MAX - 2, cfg->n_items);
	if (cfg->n_tags < 0 || cfg->n_tags > INT32_MAX - 1 ||
		cfg->n_user_tags < 0 || cfg->n_user_tags > INT32_MAX - 1 ||
		cfg->n_users < 0 || cfg->n_users > INT32_MAX - 1)
		return nn_fail(err, NN_EINVAL, "n_tags, n_user_tags and n_users must not be negative");
	if (cfg->dim < 1 || cfg->dim > 65536 || cfg->hidden < 1 || cfg->hidden > 65536)
		return nn_fail(err, NN_EINVAL, "dim and hidden must be between 1 and 65536");
	if (cfg->layers < 1 || cfg->layers > NN_MAX_LAYERS)
		return nn_fail(err, NN_EINVAL, "layers must be between 1 and %d, not %d",
					   NN_MAX_LAYERS, cfg->layers);
	if (cfg->maxlen < 1 || cfg->maxlen > 1000000)
		return nn_fail(err, NN_EINVAL, "maxlen must be between 1 and 1000000, not %d",
					   cfg->maxlen);
	if (!isfinite(cfg->rating_min) || !isfinite(cfg->rating_max) ||
		cfg->rating_min > cfg->rating_max)
		return nn_fail(err, NN_EINVAL, "rating range [%g, %g] is not a finite interval",
					   (double) cfg->rating_min, (double) cfg->rating_max);
	return NN_OK;
}

/* in_0: item embedding, tag mean, rating, user context */
static int32_t
input_dim(const nn_config *cfg)
{
	return 2 * cfg->dim + 1 + nn_context_dim(cfg);
}

/* floats in the parameter buffer of a model of configuration cfg (valid cfg) */
size_t
nn_param_floats(const nn_config *cfg)
{
	size_t		D = (size_t) cfg->dim,
				H = (size_t) cfg->hidden;
	size_t		n;
	int32_t		l;

	n = ((size_t) cfg->n_items + 1) * D + ((size_t) cfg->n_tags + 1) * D;
	if (cfg->n_user_tags > 0)
		n += ((size_t) cfg->n_user_tags + 1) * D;
	if (cfg->n_users > 0)
		n += ((size_t) cfg->n_users + 1) * D;
	for (l = 0; l < cfg->layers; l++)
		n += 4 * H * (l == 0 ? (size_t) input_dim(cfg) : H) + 4 * H * H + 8 * H;
	n += D * H + (size_t) cfg->n_items + 1;
	return n;
}

/*
 * Set m->in_dim and m->n_params from m->cfg and point m's named parameter
 * views into params (nn_param_floats(&m->cfg) floats, in the order above).
 */
void
nn_model_bind(nn_model *m, float *params)
{
	const nn_config *cfg = &m->cfg;
	size_t		D = (size_t) cfg->dim,
				H = (size_t) cfg->hidden;
	float	   *p = params;
	int32_t		l;

	m->in_dim = input_dim(cfg);
	m->n_params = nn_param_floats(cfg);
	m->params = params;
	m->item_emb = p;
	p += ((size_t) cfg->n_items + 1) * D;
	m->tag_emb = p;
	p += ((size_t) cfg->n_tags + 1) * D;
	m->utag_emb = NULL;
	if (cfg->n_user_tags > 0)
	{
		m->utag_emb = p;
		p += ((size_t) cfg->n_user_tags + 1) * D;
	}
	m->user_emb = NULL;
	if (cfg->n_users > 0)
	{
		m->user_emb = p;
		p += ((size_t) cfg->n_users + 1) * D;
	}
	for (l = 0; l < NN_MAX_LAYERS; l++)
	{
		size_t		in = l == 0 ? (size_t) m->in_dim : H;

		if (l >= cfg->layers)
		{
			m->w_ih[l] = m->w_hh[l] = m->b_ih[l] = m->b_hh[l] = NULL;
			continue;
		}
		m->w_ih[l] = p;
		p += 4 * H * in;
		m->w_hh[l] = p;
		p += 4 * H * H;
		m->b_ih[l] = p;
		p += 4 * H;
		m->b_hh[l] = p;
		p += 4 * H;
	}
	m->proj = p;
	p += D * H;
	m->item_bias = p;
}

/* check the item->tags CSR lists and the item ids against cfg */
static int
check_items(const nn_config *cfg, const int32_t *ptr, const int32_t *idx,
			const int64_t *ids, nn_error *err)
{
	int32_t		N = cfg->n_items,
				j,
				k;

	if (ptr)
	{
		if (ptr[0] != 0)
			return nn_fail(err, NN_EINVAL, "item_tag_ptr[0] must be 0");
		for (j = 0; j <= N; j++)
		{
			if (ptr[j + 1] < ptr[j])
				return nn_fail(err, NN_EINVAL, "item_tag_ptr decreases at item %d", j);
			for (k = ptr[j]; k < ptr[j + 1]; k++)
				if (idx[k] < 1 || idx[k] > cfg->n_tags)
					return nn_fail(err, NN_EINVAL, "tag %d of item %d is outside 1..%d",
								   idx[k], j, cfg->n_tags);
		}
	}
	if (ids)
		for (j = 2; j <= N; j++)
			if (ids[j] <= ids[j - 1])
				return nn_fail(err, NN_EINVAL, "item ids are not ascending at dense index %d", j);
	return NN_OK;
}

/* (rows + 1, D) embedding table: row 0 zero, the others N(0, sd) */
static void
init_embedding(nn_rng *r, float *e, int32_t rows, int32_t D, float sd)
{
	size_t		i;

	memset(e, 0, sizeof(float) * D);
	for (i = (size_t) D; i < ((size_t) rows + 1) * D; i++)
		e[i] = sd * nn_rng_normal(r);
}

/* (n) floats uniform in [-k, k) */
static void
init_uniform(nn_rng *r, float *p, size_t n, float k)
{
	size_t		i;

	for (i = 0; i < n; i++)
		p[i] = k * (2.0f * nn_rng_uniform(r) - 1.0f);
}

/* PyTorch's defaults (docs/design.md#the-model), drawn in parameter order */
static void
init_params(nn_model *m, uint64_t seed)
{
	const nn_config *cfg = &m->cfg;
	size_t		H = (size_t) cfg->hidden;
	float		k = 1.0f / sqrtf((float) cfg->hidden);
	nn_rng		r;
	int32_t		l;

	nn_rng_seed(&r, seed);
	init_embedding(&r, m->item_emb, cfg->n_items, cfg->dim, 0.05f);
	init_embedding(&r, m->tag_emb, cfg->n_tags, cfg->dim, 0.05f);
	if (m->utag_emb)
		init_embedding(&r, m->utag_emb, cfg->n_user_tags, cfg->dim, 0.05f);
	if (m->user_emb)
		init_embedding(&r, m->user_emb, cfg->n_users, cfg->dim, 0.05f);
	for (l = 0; l < cfg->layers; l++)
		init_uniform(&r, m->w_ih[l],	/* w_ih, w_hh, b_ih, b_hh are adjacent */
					 4 * H * (l == 0 ? (size_t) m->in_dim : H) + 4 * H * H + 8 * H, k);
	init_uniform(&r, m->proj, (size_t) cfg->dim * H, k);
	memset(m->item_bias, 0, sizeof(float) * ((size_t) cfg->n_items + 1));
}

/*
 * Create a model owning a fresh parameter buffer and copies of the tag lists
 * and item ids; item_ids may be NULL (then j is its own id).  Parameters are
 * initialised as PyTorch does (docs/design.md#the-model) from seed.
 */
int
nn_model_create(nn_model *m, const nn_config *cfg,
				const int32_t *item_tag_ptr, const int32_t *item_tag_idx,
				const int64_t *item_ids, uint64_t seed,
				const nn_allocator *a, nn_error *err)
{
	int32_t		N = cfg->n_items;
	int32_t		nnz;
	nn_arena	ar = {NULL, 0};
	int32_t    *ptr,
			   *idx;
	int64_t    *ids,
			   *uids;
	float	   *params;
	void	   *block;
	int32_t		j;
	int			rc;

	memset(m, 0, sizeof(*m));
	if ((rc = nn_config_check(cfg, err)) != NN_OK)
		return rc;
	if ((rc = check_items(cfg, item_tag_ptr, item_tag_idx, item_ids, err)) != NN_OK)
		return rc;
	nnz = item_tag_ptr ? item_tag_ptr[N + 1] : 0;
	m->cfg = *cfg;

	/* dry run for the size, then carve the block */
	nn_arena_take(&ar, sizeof(float) * nn_param_floats(cfg));
	nn_arena_take(&ar, sizeof(int32_t) * ((size_t) N + 2));
	nn_arena_take(&ar, sizeof(int32_t) * (size_t) nnz);
	nn_arena_take(&ar, sizeof(int64_t) * ((size_t) N + 1));
	nn_arena_take(&ar, sizeof(int64_t) * (cfg->n_users > 0 ? (size_t) cfg->n_users + 1 : 0));
	block = a->alloc(a->ctx, ar.used + 64);
	if (!block)
		return nn_fail(err, NN_ENOMEM, "out of memory for a model of %zu bytes", ar.used);
	ar.base = (char *) (((uintptr_t) block + 63) & ~(uintptr_t) 63);
	ar.used = 0;
	params = nn_arena_take(&ar, sizeof(float) * nn_param_floats(cfg));
	ptr = nn_arena_take(&ar, sizeof(int32_t) * ((size_t) N + 2));
	idx = nn_arena_take(&ar, sizeof(int32_t) * (size_t) nnz);
	ids = nn_arena_take(&ar, sizeof(int64_t) * ((size_t) N + 1));
	uids = cfg->n_users > 0 ? nn_arena_take(&ar, sizeof(int64_t) * ((size_t) cfg->n_users + 1)) : NULL;

	if (item_tag_ptr)
	{
		memcpy(ptr, item_tag_ptr, sizeof(int32_t) * ((size_t) N + 2));
		if (nnz > 0)
			memcpy(idx, item_tag_idx, sizeof(int32_t) * (size_t) nnz);
	}
	for (j = 1; j <= N; j++)
		ids[j] = item_ids ? item_ids[j] : j;
	for (j = 1; uids && j <= cfg->n_users; j++)
		uids[j] = j;

	nn_model_bind(m, params);
	m->item_tag_ptr = ptr;
	m->item_tag_idx = idx;
	m->item_ids = ids;
	m->user_ids = uids;
	m->owned = block;
	m->alloc = *a;
	init_params(m, seed);
	return NN_OK;
}

/* free what the model owns (nothing for a view) and clear it */
void
nn_model_free(nn_model *m)
{
	if (m->owned)
		m->alloc.free(m->alloc.ctx, m->owned);
	memset(m, 0, sizeof(*m));
}

/* copy all parameters of src into dst (same configuration) */
void
nn_model_copy_params(nn_model *dst, const nn_model *src)
{
	memcpy(dst->params, src->params, sizeof(float) * src->n_params);
}

/* scale a raw rating to [-1, 1] from cfg's range (clamped); NaN, +-Inf (missing) -> 0 */
float
nn_scale_rating(const nn_config *cfg, float rating)
{
	float		s;

	if (!isfinite(rating) || !(cfg->rating_max > cfg->rating_min))
		return 0.0f;
	s = 2.0f * (rating - cfg->rating_min) / (cfg->rating_max - cfg->rating_min) - 1.0f;
	return s < -1.0f ? -1.0f : (s > 1.0f ? 1.0f : s);
}

/* index 1..n of id in ids[1..n] (strictly ascending), 0 if absent */
static int32_t
id_index(const int64_t *ids, int32_t n, int64_t id)
{
	int32_t		lo = 1,
				hi = n;

	while (lo <= hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

/* dense index of an external item id (binary search in item_ids), 0 if unknown */
int32_t
nn_item_index(const nn_model *m, int64_t item_id)
{
	return id_index(m->item_ids, m->cfg.n_items, item_id);
}

/* user row of an external user id (binary search in user_ids), 0 if unknown or none */
int32_t
nn_user_index(const nn_model *m, int64_t user_id)
{
	return m->user_ids ? id_index(m->user_ids, m->cfg.n_users, user_id) : 0;
}

/*
 * Give a model with user embeddings (U > 0) the external ids of its users
 * 1..U: ids (U), strictly ascending.  NN_EINVAL (nothing changed) for a
 * model without user rows, a view, or ids out of order.
 */
int
nn_model_set_user_ids(nn_model *m, const int64_t *ids, nn_error *err)
{
	int32_t		U = m->cfg.n_users;

	if (U == 0 || m->owned == NULL)
		return nn_fail(err, NN_EINVAL, "the model has no user rows of its own");
	for (int32_t u = 1; u < U; u++)
		if (ids[u] <= ids[u - 1])
			return nn_fail(err, NN_EINVAL, "user ids are not ascending at user %d", u + 1);
	memcpy((int64_t *) m->user_ids + 1, ids, sizeof(int64_t) * (size_t) U);
	return NN_OK;
}
