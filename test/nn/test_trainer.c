/*
 * test_trainer.c — model creation (validation, PyTorch-style initialisation,
 * items without tags) and the trainer's contract: one allocation up front
 * and none per batch, errors as codes (bad batch, NaN loss), lazy Adam
 * touching only the rows a batch reached, gradient clipping, the Adam step.
 */
#include <stdio.h>

#include "tap.h"
#include "testlib.h"

/* an allocator that counts its calls */
static int	n_allocs;

/* calloc, counted */
static void *
count_alloc(void *ctx, size_t size)
{
	(void) ctx;
	n_allocs++;
	return calloc(1, size);
}

/* free */
static void
count_free(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

static const nn_allocator counting = {count_alloc, count_free, NULL};

/* nn_model_create: refusals, then the initialisation of a valid model */
static void
test_create(void)
{
	nn_config	cfg = small_config(4, 3, 0, 0, 8, 16, 2, 5);
	int32_t		ptr[6] = {0, 0, 0, 2, 2, 3};	/* items 1, 3 without tags */
	int32_t		idx[3] = {1, 3, 2};
	int32_t		bad_idx[3] = {1, 4, 2};
	int64_t		bad_ids[5] = {0, 5, 9, 9, 12};
	nn_config	bad = cfg;
	nn_model	m;
	nn_error	err = {0};
	float	   *out;
	double		s2 = 0.0,
				k = 1.0 / sqrt(16.0);
	float		wmax = 0.0f;
	size_t		i,
				n_lstm;
	int			ok = 1;

	tap_ok(nn_model_create(&m, &cfg, ptr, bad_idx, NULL, 1, &nn_malloc_allocator, &err) == NN_EINVAL,
		   "a tag outside 1..G is refused: %s", err.msg);
	tap_ok(nn_model_create(&m, &cfg, ptr, idx, bad_ids, 1, &nn_malloc_allocator, &err) == NN_EINVAL,
		   "item ids that do not ascend are refused: %s", err.msg);
	bad.layers = NN_MAX_LAYERS + 1;
	tap_ok(nn_model_create(&m, &bad, ptr, idx, NULL, 1, &nn_malloc_allocator, &err) == NN_EINVAL,
		   "too many layers are refused: %s", err.msg);
	bad = cfg;
	bad.rating_min = 6.0f;
	tap_ok(nn_model_create(&m, &bad, ptr, idx, NULL, 1, &nn_malloc_allocator, &err) == NN_EINVAL,
		   "an empty rating range is refused: %s", err.msg);

	cfg.n_items = 400;
	{
		int32_t    *p = calloc(402, sizeof(int32_t));

		tap_ok(nn_model_create(&m, &cfg, p, idx, NULL, 1, &nn_malloc_allocator, &err) == NN_OK,
			   "a model whose items have no tags is created");
		free(p);
	}
	for (i = 0; i < (size_t) 8; i++)
		ok &= m.item_emb[i] == 0.0f && m.tag_emb[i] == 0.0f;
	for (i = 8; i < (size_t) 401 * 8; i++)
		s2 += (double) m.item_emb[i] * m.item_emb[i];
	tap_ok(ok, "padding rows of the embeddings are zero");
	tap_near(sqrt(s2 / (400 * 8)), 0.05, 0.004, "item embeddings have standard deviation 0.05");
	n_lstm = (size_t) (m.proj - m.w_ih[0]) + 8 * 16;
	for (i = 0; i < n_lstm; i++)
		wmax = fmaxf(wmax, fabsf(m.w_ih[0][i]));
	tap_ok(wmax <= k && wmax > 0.95 * k, "LSTM weights, biases and P are uniform in +-1/sqrt(H) (max %.4f)", wmax);
	ok = 1;
	for (i = 0; i <= 400; i++)
		ok &= m.item_bias[i] == 0.0f;
	tap_ok(ok, "item bias starts at zero");
	out = calloc(401 * 8, sizeof(float));
	nn_item_output(&m, out);
	tap_ok(memcmp(out, m.item_emb, sizeof(float) * 401 * 8) == 0,
		   "an item without tags outputs its own embedding (mean of no tags is zero)");
	free(out);
	nn_model_free(&m);
}

/* allocation once, lazy Adam, refused batches, NaN detection */
static void
test_trainer(void)
{
	nn_config	cfg = small_config(50, 4, 0, 0, 8, 16, 2, 6);
	nn_model	m,
				before;
	nn_train_config tc = {0};
	nn_trainer *tr;
	test_batch	tb;
	nn_error	err = {0};
	double		loss = 0.0;
	int64_t		np = 0;
	int			rc = NN_OK,
				s,
				allocs,
				lazy_ok = 1,
				moved = 0;
	int32_t		j,
				d,
				bad_item;
	uint8_t		seen[51] = {0};

	make_model(&m, &cfg, 8, 0.0f);
	tc.batch_size = 4;
	tc.learning_rate = 1e-2f;
	tc.loss = NN_LOSS_SAMPLED;
	tc.n_negatives = 3;
	tc.lazy_adam = true;
	tc.clip = 1.0f;
	tc.dropout = 0.2f;
	tc.seed = 3;
	n_allocs = 0;
	tr = nn_trainer_create(&m, &tc, &counting, &err);
	allocs = n_allocs;
	tap_ok(tr && allocs <= 2 && nn_trainer_bytes(tr) > 0, "trainer created with %d allocations, %zu bytes",
		   allocs, tr ? nn_trainer_bytes(tr) : 0);

	/* lazy Adam: rows of items the batch never reached stay as they were */
	make_batch(&tb, &cfg, 2, 3, 9);
	nn_model_create(&before, &cfg, NULL, NULL, NULL, 1, &nn_malloc_allocator, NULL);
	nn_model_copy_params(&before, &m);
	rc = nn_trainer_step(tr, &tb.b, &loss, &np, &err);
	for (j = 0; j < 2 * 4; j++)
		seen[tb.items[j]] = 1;
	for (j = 1; j <= 50; j++)
	{
		int			changed = memcmp(m.item_emb + j * 8, before.item_emb + j * 8, 32) != 0 ||
			m.item_bias[j] != before.item_bias[j];

		if (!seen[j] && changed)
			moved++;
		lazy_ok &= !(seen[j] && !changed);
	}
	tap_ok(rc == NN_OK && lazy_ok && moved <= 3,
		   "lazy Adam updates the batch's items and at most the 3 negatives (%d others moved)", moved);
	free_batch(&tb);
	nn_model_free(&before);

	n_allocs = 0;
	for (s = 0; s < 5 && rc == NN_OK; s++)
	{
		make_batch(&tb, &cfg, 4, 6, 20 + s);
		rc = nn_trainer_step(tr, &tb.b, &loss, &np, &err);
		free_batch(&tb);
	}
	tap_ok(rc == NN_OK && n_allocs == 0, "no allocation per batch (%d)", n_allocs);

	make_batch(&tb, &cfg, 4, 6, 30);
	tb.b.B = 5;
	tap_ok(nn_trainer_step(tr, &tb.b, &loss, &np, &err) == NN_EINVAL,
		   "a batch larger than batch_size is refused: %s", err.msg);
	tb.b.B = 4;
	bad_item = tb.items[3];
	tb.items[3] = 51;
	tap_ok(nn_trainer_step(tr, &tb.b, &loss, &np, &err) == NN_EINVAL,
		   "an item outside 0..N is refused: %s", err.msg);
	tb.items[3] = bad_item;
	for (d = 0; d < 8; d++)
		m.proj[d] = NAN;
	tap_ok(nn_trainer_step(tr, &tb.b, &loss, &np, &err) == NN_ENUMERIC,
		   "a NaN loss is NN_ENUMERIC: %s", err.msg);
	free_batch(&tb);
	nn_trainer_free(tr);
	nn_model_free(&m);
}

/* clipping: with a tiny clip, Adam sees the gradient scaled to norm clip */
static void
test_clip(void)
{
	nn_config	cfg = small_config(20, 0, 0, 0, 4, 8, 1, 4);
	nn_model	a,
				b;
	nn_train_config tc = {0};
	nn_trainer *ta,
			   *tb_;
	test_batch	tb;
	double		loss = 0.0;
	int64_t		np = 0;
	double		da = 0.0,
				db = 0.0;
	size_t		i;
	float	   *p0;

	make_model(&a, &cfg, 2, 0.0f);
	make_model(&b, &cfg, 2, 0.0f);
	p0 = malloc(sizeof(float) * a.n_params);
	memcpy(p0, a.params, sizeof(float) * a.n_params);
	tc.batch_size = 4;
	tc.learning_rate = 1e-3f;
	tc.eps = 1e-3f;				/* large eps: the update grows with the gradient */
	ta = nn_trainer_create(&a, &tc, &nn_malloc_allocator, NULL);
	tc.clip = 1e-4f;
	tb_ = nn_trainer_create(&b, &tc, &nn_malloc_allocator, NULL);
	make_batch(&tb, &cfg, 4, 4, 3);
	nn_trainer_step(ta, &tb.b, &loss, &np, NULL);
	nn_trainer_step(tb_, &tb.b, &loss, &np, NULL);
	for (i = 0; i < a.n_params; i++)
	{
		da += fabs(a.params[i] - p0[i]);
		db += fabs(b.params[i] - p0[i]);
	}
	tap_ok(db < 0.2 * da, "gradient-norm clipping shrinks the first Adam step (%.3g vs %.3g)", db, da);
	free(p0);
	free_batch(&tb);
	nn_trainer_free(ta);
	nn_trainer_free(tb_);
	nn_model_free(&a);
	nn_model_free(&b);
}

/* the first Adam step moves each parameter by -lr g / (|g| + eps) */
static void
test_adam_step(void)
{
	nn_config	cfg = small_config(20, 3, 0, 0, 4, 8, 2, 4);
	nn_model	m;
	nn_train_config tc = {0};
	nn_trainer *tr;
	test_batch	tb;
	float	   *g,
			   *p0;
	double		loss = 0.0,
				e = 0.0;
	int64_t		np = 0;
	size_t		i,
				n;

	make_model(&m, &cfg, 12, 0.5f);
	n = m.n_params;
	tc.batch_size = 4;
	tc.learning_rate = 1e-2f;
	tc.eps = 1e-6f;
	tr = nn_trainer_create(&m, &tc, &nn_malloc_allocator, NULL);
	make_batch(&tb, &cfg, 4, 4, 13);
	g = malloc(sizeof(float) * n);
	p0 = malloc(sizeof(float) * n);
	nn_trainer_gradient(tr, &tb.b, NULL, 0, &loss, &np, NULL);
	memcpy(g, nn_trainer_grad(tr), sizeof(float) * n);
	memcpy(p0, m.params, sizeof(float) * n);
	nn_trainer_step(tr, &tb.b, &loss, &np, NULL);
	for (i = 0; i < n; i++)
	{
		double		want = -1e-2 * g[i] / (fabs(g[i]) + 1e-6);

		e = fmax(e, fabs((m.params[i] - p0[i]) - want));
	}
	tap_ok(e <= 2e-7, "first Adam step is -lr g / (|g| + eps) for all %zu parameters (max err %.2g)", n, e);
	free(g);
	free(p0);
	free_batch(&tb);
	nn_trainer_free(tr);
	nn_model_free(&m);
}

/* model creation and the trainer contract */
int
main(void)
{
	test_create();
	test_trainer();
	test_clip();
	test_adam_step();
	return tap_done();
}
