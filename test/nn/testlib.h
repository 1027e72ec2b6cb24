/*
 * testlib.h — small models and batches shared by the numeric core's tests.
 */
#ifndef ANIMEREC_TESTLIB_H
#define ANIMEREC_TESTLIB_H

#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

/*
 * True when ANIMEREC_TEST_SCALE=small (the valgrind run of scripts/test): the
 * slowest tests then work on fewer coordinates or steps, with the same
 * assertions.
 */
static inline int
test_scale_small(void)
{
	const char *s = getenv("ANIMEREC_TEST_SCALE");

	return s != NULL && strcmp(s, "small") == 0;
}

/* a small configuration with user context */
static inline nn_config
small_config(int32_t N, int32_t G, int32_t UG, int32_t U, int32_t D, int32_t H,
			 int32_t L, int32_t T)
{
	nn_config	c = {0};

	c.n_items = N;
	c.n_tags = G;
	c.n_user_tags = UG;
	c.n_users = U;
	c.dim = D;
	c.hidden = H;
	c.layers = L;
	c.maxlen = T;
	c.rating_min = 1.0f;
	c.rating_max = 5.0f;
	return c;
}

/*
 * Create m with 0-3 random tags per item (item 1 has none) and, when
 * spread > 0, every parameter redrawn uniform in [-spread, spread] (padding
 * rows stay zero) so that gradients are far from zero.
 */
static inline int
make_model(nn_model *m, const nn_config *c, uint64_t seed, float spread)
{
	int32_t    *ptr = calloc((size_t) c->n_items + 2, sizeof(int32_t));
	int32_t    *idx = calloc((size_t) c->n_items * 3 + 1, sizeof(int32_t));
	nn_rng		r;
	nn_error	err;
	int32_t		j,
				k,
				n;
	size_t		i;
	int			rc;

	nn_rng_seed(&r, seed);
	for (j = 1; j <= c->n_items; j++)
	{
		n = j == 1 || c->n_tags == 0 ? 0 : (int32_t) nn_rng_below(&r, 4);
		ptr[j + 1] = ptr[j] + n;
		for (k = 0; k < n; k++)
			idx[ptr[j] + k] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) c->n_tags);
	}
	rc = nn_model_create(m, c, ptr, idx, NULL, seed, &nn_malloc_allocator, &err);
	free(ptr);
	free(idx);
	if (rc != NN_OK || spread <= 0.0f)
		return rc;
	for (i = 0; i < m->n_params; i++)
		m->params[i] = spread * (2.0f * nn_rng_uniform(&r) - 1.0f);
	memset(m->item_emb, 0, sizeof(float) * c->dim);
	memset(m->tag_emb, 0, sizeof(float) * c->dim);
	if (m->utag_emb)
		memset(m->utag_emb, 0, sizeof(float) * c->dim);
	if (m->user_emb)
		memset(m->user_emb, 0, sizeof(float) * c->dim);
	m->item_bias[0] = 0.0f;
	return NN_OK;
}

/* a batch and the arrays it points to */
typedef struct test_batch
{
	nn_batch	b;
	int32_t    *items;
	float	   *ratings;
	int32_t    *users;
	int32_t    *utag_ptr;
	int32_t    *utag_idx;
} test_batch;

/*
 * B random windows of T+1 items, row r left-padded with r % (T-1) zeros,
 * with random ratings, users and 0-2 user tags per row.
 */
static inline void
make_batch(test_batch *tb, const nn_config *c, int32_t B, int32_t T, uint64_t seed)
{
	nn_rng		r;
	int32_t		row,
				t,
				k,
				n;

	nn_rng_seed(&r, seed);
	tb->items = calloc((size_t) B * (T + 1), sizeof(int32_t));
	tb->ratings = calloc((size_t) B * (T + 1), sizeof(float));
	tb->users = calloc((size_t) B, sizeof(int32_t));
	tb->utag_ptr = calloc((size_t) B + 1, sizeof(int32_t));
	tb->utag_idx = calloc((size_t) B * 2 + 1, sizeof(int32_t));
	for (row = 0; row < B; row++)
	{
		int32_t		pad = T > 1 ? row % (T - 1) : 0;

		for (t = pad; t <= T; t++)
		{
			tb->items[row * (T + 1) + t] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) c->n_items);
			tb->ratings[row * (T + 1) + t] = 2.0f * nn_rng_uniform(&r) - 1.0f;
		}
		tb->users[row] = c->n_users ? (int32_t) nn_rng_below(&r, (uint32_t) c->n_users + 1) : 0;
		n = c->n_user_tags ? (int32_t) nn_rng_below(&r, 3) : 0;
		tb->utag_ptr[row + 1] = tb->utag_ptr[row] + n;
		for (k = 0; k < n; k++)
			tb->utag_idx[tb->utag_ptr[row] + k] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) c->n_user_tags);
	}
	memset(&tb->b, 0, sizeof(tb->b));
	tb->b.B = B;
	tb->b.T = T;
	tb->b.items = tb->items;
	tb->b.ratings = tb->ratings;
	tb->b.users = c->n_users ? tb->users : NULL;
	tb->b.utag_ptr = c->n_user_tags ? tb->utag_ptr : NULL;
	tb->b.utag_idx = c->n_user_tags ? tb->utag_idx : NULL;
}

/* free the arrays of make_batch */
static inline void
free_batch(test_batch *tb)
{
	free(tb->items);
	free(tb->ratings);
	free(tb->users);
	free(tb->utag_ptr);
	free(tb->utag_idx);
}

#endif
