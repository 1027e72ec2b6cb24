/*
 * trainer.c — the trainer: one allocation for gradients, Adam moments and a
 * batch's workspace, and the training step (forward, backward, clipping,
 * Adam) over a batch of left-padded windows.
 */
#include "nn_internal.h"

struct nn_trainer
{
	nn_model   *m;
	nn_train_config tc;
	nn_allocator alloc;
	void	   *block;
	size_t		bytes;
	nn_rng		rng;
	int64_t		step;
	nn_adam		adam;
	int32_t		K;				/* negatives per batch (sampled loss) */

	float	   *grad;			/* (n_params) */
	float	   *adam_m;			/* (n_params) */
	float	   *adam_v;			/* (n_params) */
	nn_model	g;				/* named views into grad */

	uint8_t    *live;			/* (T, B) real input steps */
	int32_t    *pos;			/* (T*B) row t*B+b of each prediction */
	int32_t    *targets;		/* (T*B) item predicted there */
	float	   *ctx;			/* (B, ctx_dim) user context */
	float	   *dctx;			/* (B, ctx_dim) */
	float	   *X[NN_MAX_LAYERS];	/* layer inputs: (T, B, in_0), then (T, B, H) */
	float	   *mask[NN_MAX_LAYERS];	/* dropout scales of X[l], same shape */
	nn_lstm_acts acts[NN_MAX_LAYERS];
	float	   *mask_top;		/* (T*B, H) dropout scales before P, per position */
	float	   *Hv;				/* (T*B, H) top hidden state of each position */
	float	   *dHv;			/* (T*B, H) */
	float	   *U;				/* (T*B, D) projected states */
	float	   *dU;				/* (T*B, D) */
	float	   *dZ;				/* (T, B, 4H) */
	float	   *dh;				/* (B, H) */
	float	   *dc;				/* (B, H) */
	float	   *dHa;			/* (T, B, H) gradient on a layer's hidden states */
	float	   *dHb;			/* (T, B, H) the same for the layer below */
	float	   *dX0;			/* (T, B, in_0) */
	float	   *out;			/* (N+1, D) item output table */
	float	   *dout;			/* (N+1, D) */
	float	   *logits;			/* output loss workspace: see nn_output_full or _sampled */
	int32_t    *neg;			/* (K) sampled negatives */
	float	   *nout;			/* (K, D) their output rows */
	float	   *dnout;			/* (K, D) */
	float	   *logq;			/* (N+1) log expected count of each item in K draws */
	double	   *cdf;			/* (N+1) popularity CDF over items 1..N */
	nn_touched	touched;		/* lazy Adam: rows reached by the batch */
};

/* check the training configuration against the model */
static int
check_train_config(const nn_model *m, const nn_train_config *tc, nn_error *err)
{
	int32_t		j;

	if (tc->batch_size < 1 || (int64_t) tc->batch_size * m->cfg.maxlen > INT32_MAX / 8)
		return nn_fail(err, NN_EINVAL, "batch_size must be at least 1 and batch_size * maxlen small enough");
	if (!(tc->learning_rate > 0.0f) || !isfinite(tc->learning_rate))
		return nn_fail(err, NN_EINVAL, "learning_rate must be positive");
	if (!(tc->dropout >= 0.0f && tc->dropout < 1.0f))
		return nn_fail(err, NN_EINVAL, "dropout must be in [0, 1)");
	if (tc->beta1 < 0.0f || tc->beta1 >= 1.0f || tc->beta2 < 0.0f || tc->beta2 >= 1.0f ||
		tc->eps < 0.0f)
		return nn_fail(err, NN_EINVAL, "Adam needs beta1, beta2 in [0, 1) and eps >= 0");
	if (tc->loss != NN_LOSS_FULL && tc->loss != NN_LOSS_SAMPLED)
		return nn_fail(err, NN_EINVAL, "unknown loss %d", tc->loss);
	if (tc->loss == NN_LOSS_SAMPLED)
	{
		if (tc->n_negatives < 1 || tc->n_negatives > (1 << 24))
			return nn_fail(err, NN_EINVAL, "n_negatives must be between 1 and %d", 1 << 24);
		if (tc->negatives_by_popularity)
		{
			if (!tc->item_popularity)
				return nn_fail(err, NN_EINVAL, "popularity negatives need item_popularity");
			for (j = 1; j <= m->cfg.n_items; j++)
				if (!(tc->item_popularity[j] >= 0.0f) || !isfinite(tc->item_popularity[j]))
					return nn_fail(err, NN_EINVAL, "item_popularity[%d] is not a finite count", j);
		}
	}
	return NN_OK;
}

/*
 * Carve every array of the trainer from the arena (a dry run when its base
 * is NULL): sizes for batches of up to batch_size rows of maxlen steps.
 */
static void
carve(nn_trainer *t, nn_arena *a)
{
	const nn_config *cfg = &t->m->cfg;
	size_t		M = (size_t) t->tc.batch_size * cfg->maxlen;
	size_t		B = (size_t) t->tc.batch_size;
	size_t		D = (size_t) cfg->dim,
				H = (size_t) cfg->hidden,
				in0 = (size_t) t->m->in_dim;
	size_t		N1 = (size_t) cfg->n_items + 1;
	size_t		cd = (size_t) nn_context_dim(cfg);
	size_t		np = t->m->n_params;
	bool		drop = t->tc.dropout > 0.0f;
	bool		sampled = t->tc.loss == NN_LOSS_SAMPLED;
	size_t		K = (size_t) t->K;
	int32_t		l;

	t->grad = nn_arena_take(a, sizeof(float) * np);
	t->adam_m = nn_arena_take(a, sizeof(float) * np);
	t->adam_v = nn_arena_take(a, sizeof(float) * np);
	t->live = nn_arena_take(a, M);
	t->pos = nn_arena_take(a, sizeof(int32_t) * M);
	t->targets = nn_arena_take(a, sizeof(int32_t) * M);
	/* one float a row at least: the row pointers ctx + b * cd are then never
	 * offsets of NULL (undefined behaviour) in a model without user context */
	t->ctx = nn_arena_take(a, sizeof(float) * B * (cd ? cd : 1));
	t->dctx = nn_arena_take(a, sizeof(float) * B * (cd ? cd : 1));
	for (l = 0; l < cfg->layers; l++)
	{
		size_t		in = l == 0 ? in0 : H;

		t->X[l] = l == 0 || drop ? nn_arena_take(a, sizeof(float) * M * in) : NULL;
		t->mask[l] = drop ? nn_arena_take(a, sizeof(float) * M * in) : NULL;
		t->acts[l].Z = nn_arena_take(a, sizeof(float) * M * 4 * H);
		t->acts[l].C = nn_arena_take(a, sizeof(float) * M * H);
		t->acts[l].TC = nn_arena_take(a, sizeof(float) * M * H);
		t->acts[l].Hs = nn_arena_take(a, sizeof(float) * M * H);
	}
	t->mask_top = drop ? nn_arena_take(a, sizeof(float) * M * H) : NULL;
	t->Hv = nn_arena_take(a, sizeof(float) * M * H);
	t->dHv = nn_arena_take(a, sizeof(float) * M * H);
	t->U = nn_arena_take(a, sizeof(float) * M * D);
	t->dU = nn_arena_take(a, sizeof(float) * M * D);
	t->dZ = nn_arena_take(a, sizeof(float) * M * 4 * H);
	t->dh = nn_arena_take(a, sizeof(float) * B * H);
	t->dc = nn_arena_take(a, sizeof(float) * B * H);
	t->dHa = nn_arena_take(a, sizeof(float) * M * H);
	t->dHb = cfg->layers > 1 ? nn_arena_take(a, sizeof(float) * M * H) : NULL;
	t->dX0 = nn_arena_take(a, sizeof(float) * M * in0);
	t->out = nn_arena_take(a, sizeof(float) * N1 * D);
	t->dout = nn_arena_take(a, sizeof(float) * N1 * D);
	t->logits = nn_arena_take(a, sizeof(float) * (sampled ? NN_OUTPUT_CHUNK * (K + 1) :
												  nn_output_full_work_floats(cfg->n_items, cfg->dim)));
	t->neg = sampled ? nn_arena_take(a, sizeof(int32_t) * K) : NULL;
	t->nout = sampled ? nn_arena_take(a, sizeof(float) * K * D) : NULL;
	t->dnout = sampled ? nn_arena_take(a, sizeof(float) * K * D) : NULL;
	t->logq = sampled ? nn_arena_take(a, sizeof(float) * N1) : NULL;
	t->cdf = sampled && t->tc.negatives_by_popularity ?
		nn_arena_take(a, sizeof(double) * N1) : NULL;
	if (t->tc.lazy_adam)
	{
		t->touched.item = nn_arena_take(a, N1);
		t->touched.tag = nn_arena_take(a, (size_t) cfg->n_tags + 1);
		t->touched.utag = nn_arena_take(a, (size_t) cfg->n_user_tags + 1);
		t->touched.user = nn_arena_take(a, (size_t) cfg->n_users + 1);
	}
}

/* negative sampling tables: popularity CDF and log expected counts */
static void
init_sampling(nn_trainer *t)
{
	int32_t		N = t->m->cfg.n_items;
	double		total = 0.0,
				acc = 0.0;
	int32_t		j;

	if (!t->cdf)
	{
		for (j = 1; j <= N; j++)
			t->logq[j] = (float) log((double) t->K / N);
		return;
	}
	/* counts plus one: every item can be drawn and log q stays finite */
	for (j = 1; j <= N; j++)
		total += (double) t->tc.item_popularity[j] + 1.0;
	for (j = 1; j <= N; j++)
	{
		double		q = ((double) t->tc.item_popularity[j] + 1.0) / total;

		acc += q;
		t->cdf[j] = acc;
		t->logq[j] = (float) log((double) t->K * q);
	}
	t->cdf[N] = 1.0;
}

/* allocate the trainer: gradients, Adam moments and one batch's workspace */
nn_trainer *
nn_trainer_create(nn_model *m, const nn_train_config *tc, const nn_allocator *a,
				  nn_error *err)
{
	nn_trainer *t;
	nn_arena	ar = {NULL, 0};

	if (check_train_config(m, tc, err) != NN_OK)
		return NULL;
	t = a->alloc(a->ctx, sizeof(nn_trainer));
	if (!t)
	{
		nn_fail(err, NN_ENOMEM, "out of memory for the trainer");
		return NULL;
	}
	t->m = m;
	t->tc = *tc;
	t->alloc = *a;
	t->adam.lr = tc->learning_rate;
	t->adam.beta1 = tc->beta1 > 0.0f ? tc->beta1 : 0.9f;
	t->adam.beta2 = tc->beta2 > 0.0f ? tc->beta2 : 0.999f;
	t->adam.eps = tc->eps > 0.0f ? tc->eps : 1e-8f;
	t->K = tc->loss == NN_LOSS_SAMPLED ? tc->n_negatives : 0;
	nn_rng_seed(&t->rng, tc->seed);

	carve(t, &ar);
	t->bytes = ar.used + 64 + sizeof(nn_trainer);
	t->block = a->alloc(a->ctx, ar.used + 64);
	if (!t->block)
	{
		nn_fail(err, NN_ENOMEM, "out of memory for the trainer's %zu bytes", ar.used);
		a->free(a->ctx, t);
		return NULL;
	}
	ar.base = (char *) (((uintptr_t) t->block + 63) & ~(uintptr_t) 63);
	ar.used = 0;
	carve(t, &ar);
	t->g.cfg = m->cfg;
	nn_model_bind(&t->g, t->grad);
	if (t->logq)
		init_sampling(t);
	return t;
}

/* bytes the trainer allocated (gradients, moments, workspace) */
size_t
nn_trainer_bytes(const nn_trainer *t)
{
	return t->bytes;
}

/* free the trainer and everything it allocated (NULL is a no-op) */
void
nn_trainer_free(nn_trainer *t)
{
	nn_allocator a;

	if (!t)
		return;
	a = t->alloc;
	a.free(a.ctx, t->block);
	a.free(a.ctx, t);
}

/* the gradient buffer, laid out as the model's parameters */
float *
nn_trainer_grad(nn_trainer *t)
{
	return t->grad;
}

/* the parts of the trainer's state that outlive a step (see resume.c) */
void
nn_trainer_parts(nn_trainer *t, nn_trainer_state_parts *parts)
{
	parts->m = t->m;
	parts->adam_m = t->adam_m;
	parts->adam_v = t->adam_v;
	parts->step = &t->step;
	parts->rng = &t->rng;
}

/*
 * mask (n) of inverted-dropout scales: 0 with probability rate, else
 * 1/(1-rate); each 64-bit draw decides two elements by its 32-bit halves.
 */
static void
dropout_mask(nn_rng *r, float *mask, size_t n, float rate)
{
	float		keep = 1.0f / (1.0f - rate);
	uint32_t	drop_below = (uint32_t) ((double) rate * 4294967296.0);
	uint64_t	x = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (i % 2 == 0)
			x = nn_rng_next(r);
		else
			x >>= 32;
		mask[i] = (uint32_t) x < drop_below ? 0.0f : keep;
	}
}

/* y (n) = x (n) * mask (n); y may be x */
static void
apply_mask(const float *x, const float *mask, float *y, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		y[i] = x[i] * mask[i];
}

/* draw the batch's K shared negatives, uniformly or by popularity */
static void
draw_negatives(nn_trainer *t)
{
	int32_t		N = t->m->cfg.n_items;
	int32_t		k;

	for (k = 0; k < t->K; k++)
	{
		if (!t->cdf)
			t->neg[k] = 1 + (int32_t) nn_rng_below(&t->rng, (uint32_t) N);
		else
		{
			double		u = (double) (nn_rng_next(&t->rng) >> 11) * (1.0 / 9007199254740992.0);
			int32_t		lo = 1,
						hi = N;

			while (lo < hi)		/* first j with cdf[j] > u */
			{
				int32_t		mid = lo + (hi - lo) / 2;

				if (t->cdf[mid] > u)
					hi = mid;
				else
					lo = mid + 1;
			}
			t->neg[k] = lo;
		}
	}
}

/* check b's shape and items; fill live (T, B) and the prediction list */
static int
prepare_batch(nn_trainer *t, const nn_batch *b, int32_t *P, nn_error *err)
{
	int32_t		N = t->m->cfg.n_items;
	int32_t		B = b->B,
				T = b->T;
	int32_t		r,
				s;

	if (B < 1 || B > t->tc.batch_size || T < 1 || T > t->m->cfg.maxlen)
		return nn_fail(err, NN_EINVAL, "batch of %d x %d exceeds the trainer's %d x %d",
					   B, T, t->tc.batch_size, t->m->cfg.maxlen);
	if (!b->items || !b->ratings)
		return nn_fail(err, NN_EINVAL, "batch without items or ratings");
	for (r = 0; r < B * (T + 1); r++)
		if (b->items[r] < 0 || b->items[r] > N)
			return nn_fail(err, NN_EINVAL, "item %d outside 0..%d in the batch", b->items[r], N);
	*P = 0;
	for (s = 0; s < T; s++)
		for (r = 0; r < B; r++)
		{
			const int32_t *row = b->items + (size_t) r * (T + 1);

			t->live[s * B + r] = row[s] != 0;
			if (row[s] != 0 && row[s + 1] != 0)
			{
				t->pos[*P] = s * B + r;
				t->targets[*P] = row[s + 1];
				(*P)++;
			}
		}
	return NN_OK;
}

/* forward through input assembly, dropout and the LSTM stack */
static void
forward_lstm(nn_trainer *t, const nn_batch *b)
{
	const nn_model *m = t->m;
	size_t		M = (size_t) b->B * b->T;
	size_t		H = (size_t) m->cfg.hidden;
	float		rate = t->tc.dropout;
	nn_lstm_weights w;
	int32_t		l;

	nn_input_forward(m, b->B, b->T, b->T + 1, b->items, b->ratings, b->users,
					 b->utag_ptr, b->utag_idx, t->ctx, t->X[0]);
	if (rate > 0.0f)
	{
		dropout_mask(&t->rng, t->mask[0], M * m->in_dim, rate);
		apply_mask(t->X[0], t->mask[0], t->X[0], M * m->in_dim);
	}
	for (l = 0; l < m->cfg.layers; l++)
	{
		if (l > 0 && rate > 0.0f)
		{
			dropout_mask(&t->rng, t->mask[l], M * H, rate);
			apply_mask(t->acts[l - 1].Hs, t->mask[l], t->X[l], M * H);
		}
		nn_layer_weights(m, l, &w);
		nn_lstm_forward(&w, b->B, b->T, l > 0 && rate == 0.0f ? t->acts[l - 1].Hs : t->X[l],
						t->live, &t->acts[l]);
	}
}

/* the output layer's loss of P positions from Hv; fills dU, dout, dbias */
static double
output_loss(nn_trainer *t, int32_t P, const int32_t *neg, int32_t K)
{
	const nn_model *m = t->m;
	int32_t		N = m->cfg.n_items,
				D = m->cfg.dim;
	float		scale = 1.0f / (float) P;
	int32_t		k;

	nn_project(m->proj, D, m->cfg.hidden, P, t->Hv, t->U);
	nn_item_output(m, t->out);
	memset(t->dout, 0, sizeof(float) * ((size_t) N + 1) * D);
	if (t->tc.loss == NN_LOSS_FULL)
	{
		if (t->touched.item)
			memset(t->touched.item + 1, 1, (size_t) N);
		return nn_output_full(N, D, P, t->U, t->targets, t->out, m->item_bias, scale,
							  t->dU, t->dout, t->g.item_bias, t->logits);
	}
	if (!neg)
	{
		draw_negatives(t);
		neg = t->neg;
		K = t->K;
	}
	if (t->touched.item)
	{
		for (k = 0; k < K; k++)
			t->touched.item[neg[k]] = 1;
		for (k = 0; k < P; k++)
			t->touched.item[t->targets[k]] = 1;
	}
	return nn_output_sampled(D, P, t->U, t->targets, K, neg, t->logq, t->out,
							 m->item_bias, scale, t->dU, t->dout, t->g.item_bias,
							 t->logits, t->nout, t->dnout);
}

/* backward from dU through P, the LSTM stack and the input assembly */
static void
backward(nn_trainer *t, const nn_batch *b, int32_t P)
{
	const nn_model *m = t->m;
	size_t		M = (size_t) b->B * b->T;
	size_t		H = (size_t) m->cfg.hidden;
	bool		drop = t->tc.dropout > 0.0f;
	nn_touched *touched = t->touched.item ? &t->touched : NULL;
	float	   *dH = t->dHa,
			   *dX;
	nn_lstm_weights w;
	nn_lstm_grads gw;
	int32_t		l,
				p;

	nn_project_backward(m->proj, m->cfg.dim, m->cfg.hidden, P, t->Hv, t->dU, t->dHv,
						t->g.proj);
	if (drop)
		apply_mask(t->dHv, t->mask_top, t->dHv, (size_t) P * H);
	memset(dH, 0, sizeof(float) * M * H);
	for (p = 0; p < P; p++)
		memcpy(dH + (size_t) t->pos[p] * H, t->dHv + (size_t) p * H, sizeof(float) * H);

	for (l = m->cfg.layers - 1; l >= 0; l--)
	{
		dX = l > 0 ? (dH == t->dHa ? t->dHb : t->dHa) : t->dX0;
		nn_layer_weights(m, l, &w);
		gw.w_ih = t->g.w_ih[l];
		gw.w_hh = t->g.w_hh[l];
		gw.b_ih = t->g.b_ih[l];
		gw.b_hh = t->g.b_hh[l];
		nn_lstm_backward(&w, b->B, b->T, l > 0 && !drop ? t->acts[l - 1].Hs : t->X[l],
						 t->live, &t->acts[l], dH, dX, &gw, t->dZ, t->dh, t->dc);
		if (drop)
			apply_mask(dX, t->mask[l], dX, M * (l > 0 ? H : (size_t) m->in_dim));
		dH = dX;
	}
	nn_input_backward(m, b->B, b->T, b->T + 1, b->items, b->users, b->utag_ptr,
					  b->utag_idx, t->dX0, t->dctx, &t->g, touched);
	nn_item_output_backward(m, t->dout, &t->g, touched);
}

/*
 * Forward and backward of one batch without the update: fills the gradient
 * buffer with the gradient of the mean loss; returns the summed loss in
 * *loss and the number of positions in *n_pos.  When neg is not NULL it
 * replaces the sampled negatives (K of them).
 */
int
nn_trainer_gradient(nn_trainer *t, const nn_batch *b, const int32_t *neg, int32_t K,
					double *loss, int64_t *n_pos, nn_error *err)
{
	size_t		H = (size_t) t->m->cfg.hidden;
	const float *Htop;
	int32_t		P = 0,
				p;
	int			rc;

	*loss = 0.0;
	*n_pos = 0;
	if ((rc = prepare_batch(t, b, &P, err)) != NN_OK)
		return rc;
	memset(t->grad, 0, sizeof(float) * t->m->n_params);
	if (P == 0)
		return NN_OK;
	forward_lstm(t, b);
	Htop = t->acts[t->m->cfg.layers - 1].Hs;
	for (p = 0; p < P; p++)
		memcpy(t->Hv + (size_t) p * H, Htop + (size_t) t->pos[p] * H, sizeof(float) * H);
	if (t->tc.dropout > 0.0f)
	{
		dropout_mask(&t->rng, t->mask_top, (size_t) P * H, t->tc.dropout);
		apply_mask(t->Hv, t->mask_top, t->Hv, (size_t) P * H);
	}
	*loss = output_loss(t, P, neg, K);
	*n_pos = P;
	if (!isfinite(*loss))
		return nn_fail(err, NN_ENUMERIC, "the loss became %g", *loss);
	backward(t, b, P);
	return NN_OK;
}

/* Adam on every parameter, or lazily on the embedding rows the batch reached */
static void
update(nn_trainer *t)
{
	nn_model   *m = t->m;
	size_t		D = (size_t) m->cfg.dim;
	nn_touched *tt = &t->touched;
	float	   *p = m->params;

#define ADAM_RANGE(ptr, n) \
	nn_adam_update(&t->adam, (ptr), t->grad + ((ptr) - p), t->adam_m + ((ptr) - p), \
				   t->adam_v + ((ptr) - p), (n))
#define ADAM_ROWS(ptr, width, rows, flags) \
	nn_adam_rows(&t->adam, (ptr), t->grad + ((ptr) - p), t->adam_m + ((ptr) - p), \
				 t->adam_v + ((ptr) - p), (width), (rows), (flags))

	if (!tt->item)
	{
		ADAM_RANGE(p, m->n_params);
		return;
	}
	ADAM_ROWS(m->item_emb, D, m->cfg.n_items + 1, tt->item);
	ADAM_ROWS(m->tag_emb, D, m->cfg.n_tags + 1, tt->tag);
	if (m->utag_emb)
		ADAM_ROWS(m->utag_emb, D, m->cfg.n_user_tags + 1, tt->utag);
	if (m->user_emb)
		ADAM_ROWS(m->user_emb, D, m->cfg.n_users + 1, tt->user);
	ADAM_RANGE(m->w_ih[0], (size_t) (m->item_bias - m->w_ih[0]));
	ADAM_ROWS(m->item_bias, 1, m->cfg.n_items + 1, tt->item);
	memset(tt->item, 0, (size_t) m->cfg.n_items + 1);
	memset(tt->tag, 0, (size_t) m->cfg.n_tags + 1);
	memset(tt->utag, 0, (size_t) m->cfg.n_user_tags + 1);
	memset(tt->user, 0, (size_t) m->cfg.n_users + 1);
#undef ADAM_RANGE
#undef ADAM_ROWS
}

/*
 * Forward, backward, clip and Adam update on one batch.  Adds the summed
 * cross-entropy to *loss_sum and the number of predicted positions to *n_pos.
 * A batch without predictions changes nothing.
 */
int
nn_trainer_step(nn_trainer *t, const nn_batch *b, double *loss_sum, int64_t *n_pos,
				nn_error *err)
{
	double		loss,
				norm;
	int64_t		np;
	float		scale = 1.0f;
	int			rc;

	if ((rc = nn_trainer_gradient(t, b, NULL, 0, &loss, &np, err)) != NN_OK)
		return rc;
	if (np == 0)
		return NN_OK;
	norm = nn_grad_norm(t->grad, t->m->n_params);
	if (!isfinite(norm))
		return nn_fail(err, NN_ENUMERIC, "the gradient norm became %g", norm);
	if (t->tc.clip > 0.0f && norm > t->tc.clip)
		scale = (float) (t->tc.clip / (norm + 1e-6));
	t->step++;
	nn_adam_begin(&t->adam, t->step, scale);
	update(t);
	*loss_sum += loss;
	*n_pos += np;
	return NN_OK;
}
