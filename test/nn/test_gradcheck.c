/*
 * test_gradcheck.c — finite-difference checks of every backward pass of the
 * numeric core: input assembly (item and tag embeddings, user tags, user
 * ids), item output table, one LSTM layer, two stacked layers through time,
 * the projection, the full and the sampled softmax cross-entropy, and the
 * whole training loss through nn_trainer_gradient (dropout off).
 *
 * Method: tiny models in float32 (parameters drawn in [-0.5, 0.5], in
 * [-1, 1] for the whole loss so that the gradient reaching the lowest LSTM
 * layer is not vanishingly small), each coordinate perturbed by h = 0.05
 * and 2h, central differences combined by Richardson extrapolation
 * (4 D(h) - D(2h)) / 3, whose truncation error is O(h^4).  What is left is
 * float rounding of the loss (~1e-7 relative) divided by the step.  A
 * group passes when both the relative 2-norm error and the largest
 * coordinate error relative to the largest gradient coordinate are below
 * TOL = 2e-3: the largest error seen over all groups is 5e-4 (the weakest
 * gradients, reported in each line), while a wrong term, sign, scale or
 * index gives errors of order 0.1-1 in the affected group (checked by
 * breaking the cell-state carry and the tied-output gradient: 54 and 3
 * groups fail).
 */
#include <stdio.h>

#include "tap.h"
#include "testlib.h"

#define TOL 2e-3
#define STEP 5e-2f

typedef double (*loss_fn) (void *ctx);

/* derivative of f along *x by Richardson-extrapolated central differences */
static double
numeric(float *x, loss_fn f, void *ctx)
{
	float		x0 = *x;
	double		d[2];
	int			s;

	for (s = 0; s < 2; s++)
	{
		float		hp = x0 + STEP * (float) (s + 1),
					hm = x0 - STEP * (float) (s + 1);
		double		lp,
					lm;

		*x = hp;
		lp = f(ctx);
		*x = hm;
		lm = f(ctx);
		d[s] = (lp - lm) / ((double) hp - (double) hm);
	}
	*x = x0;
	return (4.0 * d[0] - d[1]) / 3.0;
}

/*
 * Compare ana (n), the analytic gradient of f wrt x (n), with differences:
 * every coordinate, or every third one (from the first) at the small test
 * scale.
 */
static void
check(const char *name, float *x, const float *ana, size_t n, loss_fn f, void *ctx)
{
	float	   *a = malloc(sizeof(float) * (n ? n : 1));
	double		d2 = 0.0,
				n2 = 0.0,
				dmax = 0.0,
				nmax = 0.0;
	size_t		stride = test_scale_small() ? 3 : 1;
	size_t		i;

	memcpy(a, ana, sizeof(float) * n);
	for (i = 0; i < n; i += stride)
	{
		double		num = numeric(x + i, f, ctx);
		double		d = fabs(num - a[i]);

		d2 += d * d;
		n2 += num * num;
		dmax = fmax(dmax, d);
		nmax = fmax(nmax, fabs(num));
	}
	tap_ok(n2 > 0.0 && sqrt(d2 / n2) <= TOL && dmax <= TOL * nmax,
		   "%s: %zu of %zu coordinates, rel 2-norm err %.2g, max err / max |g| %.2g, |g| %.3g",
		   name, (n + stride - 1) / stride, n, sqrt(d2 / (n2 > 0 ? n2 : 1)), dmax / (nmax > 0 ? nmax : 1), sqrt(n2));
	free(a);
}

/* fill x (n) uniform in [-s, s] */
static void
fill(nn_rng *r, float *x, size_t n, float s)
{
	size_t		i;

	for (i = 0; i < n; i++)
		x[i] = s * (2.0f * nn_rng_uniform(r) - 1.0f);
}

/* sum of R (n) * Y (n) in double */
static double
dot(const float *R, const float *Y, size_t n)
{
	double		s = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
		s += (double) R[i] * Y[i];
	return s;
}

/* a model view over a zeroed gradient buffer */
static float *
grad_view(const nn_model *m, nn_model *g)
{
	float	   *buf = calloc(m->n_params, sizeof(float));

	memset(g, 0, sizeof(*g));
	g->cfg = m->cfg;
	nn_model_bind(g, buf);
	return buf;
}

/* ---- input assembly and item output table ---- */

typedef struct input_ctx
{
	nn_model   *m;
	test_batch *tb;
	float	   *R,
			   *X,
			   *ctxbuf;
} input_ctx;

/* sum R * X over the step inputs X (T, B, in_0) */
static double
input_loss(void *p)
{
	input_ctx  *c = p;
	const nn_batch *b = &c->tb->b;

	nn_input_forward(c->m, b->B, b->T, b->T + 1, b->items, b->ratings, b->users,
					 b->utag_ptr, b->utag_idx, c->ctxbuf, c->X);
	return dot(c->R, c->X, (size_t) b->B * b->T * c->m->in_dim);
}

/* sum R * out over the item output table (N+1, D) */
static double
item_output_loss(void *p)
{
	input_ctx  *c = p;

	nn_item_output(c->m, c->X);
	return dot(c->R, c->X, ((size_t) c->m->cfg.n_items + 1) * c->m->cfg.dim);
}

/* input assembly and item output table: every embedding table */
static void
test_input(void)
{
	nn_config	cfg = small_config(6, 3, 2, 2, 3, 4, 1, 4);
	nn_model	m,
				g;
	test_batch	tb;
	input_ctx	c;
	nn_rng		r;
	size_t		nx;
	float	   *gbuf;
	size_t		D = 3;

	make_model(&m, &cfg, 11, 0.5f);
	make_batch(&tb, &cfg, 3, 4, 12);
	nn_rng_seed(&r, 13);
	nx = (size_t) 3 * 4 * m.in_dim;
	c.m = &m;
	c.tb = &tb;
	c.R = malloc(sizeof(float) * (nx + (cfg.n_items + 1) * D));
	c.X = malloc(sizeof(float) * (nx + (cfg.n_items + 1) * D));
	c.ctxbuf = malloc(sizeof(float) * 3 * nn_context_dim(&cfg));
	fill(&r, c.R, nx, 1.0f);

	gbuf = grad_view(&m, &g);
	nn_input_backward(&m, 3, 4, 5, tb.items, tb.b.users, tb.b.utag_ptr, tb.b.utag_idx,
					  c.R, c.ctxbuf, &g, NULL);
	check("input: item embeddings", m.item_emb, g.item_emb, (cfg.n_items + 1) * D, input_loss, &c);
	check("input: tag embeddings (item tag mean)", m.tag_emb, g.tag_emb, (cfg.n_tags + 1) * D,
		  input_loss, &c);
	check("input: user-tag embeddings (user context)", m.utag_emb, g.utag_emb,
		  (cfg.n_user_tags + 1) * D, input_loss, &c);
	check("input: user-id embeddings (user context)", m.user_emb, g.user_emb,
		  (cfg.n_users + 1) * D, input_loss, &c);

	memset(gbuf, 0, sizeof(float) * m.n_params);
	fill(&r, c.R, (cfg.n_items + 1) * D, 1.0f);
	nn_item_output_backward(&m, c.R, &g, NULL);
	check("item output table: item embeddings", m.item_emb, g.item_emb,
		  (cfg.n_items + 1) * D, item_output_loss, &c);
	check("item output table: tag embeddings", m.tag_emb, g.tag_emb,
		  (cfg.n_tags + 1) * D, item_output_loss, &c);
	free(gbuf);
	free(c.R);
	free(c.X);
	free(c.ctxbuf);
	free_batch(&tb);
	nn_model_free(&m);
}

/* ---- LSTM layers ---- */

typedef struct lstm_ctx
{
	int32_t		B,
				T,
				layers;
	nn_lstm_weights w[2];
	nn_lstm_acts a[2];
	const uint8_t *live;
	float	   *X,
			   *R;
} lstm_ctx;

/* sum R * Hs of the top layer after running the stack over X */
static double
lstm_loss(void *p)
{
	lstm_ctx   *c = p;
	int32_t		l;

	for (l = 0; l < c->layers; l++)
		nn_lstm_forward(&c->w[l], c->B, c->T, l == 0 ? c->X : c->a[l - 1].Hs, c->live, &c->a[l]);
	return dot(c->R, c->a[c->layers - 1].Hs, (size_t) c->B * c->T * c->w[0].H);
}

/* activations of one layer for (B*T) rows of width H */
static void
alloc_acts(nn_lstm_acts *a, size_t M, size_t H)
{
	a->Z = malloc(sizeof(float) * M * 4 * H);
	a->C = malloc(sizeof(float) * M * H);
	a->TC = malloc(sizeof(float) * M * H);
	a->Hs = malloc(sizeof(float) * M * H);
}

/* one layer (layers = 1) or two stacked layers over 6 steps (layers = 2) */
static void
test_lstm(int32_t layers)
{
	int32_t		B = 3,
				T = layers == 1 ? 4 : 6,
				in = 5,
				H = 4;
	nn_config	cfg = small_config(6, 0, 0, 0, 2, H, layers, T);
	nn_model	m,
				g;
	lstm_ctx	c;
	nn_rng		r;
	size_t		M = (size_t) B * T;
	uint8_t		live[3 * 6];
	float	   *gbuf,
			   *dH,
			   *dX[2],
			   *dZ,
			   *dh,
			   *dc;
	nn_lstm_grads gw;
	char		name[96];
	int32_t		l,
				t,
				b;

	/* in_0 of this config is 2D + 1 = 5 */
	make_model(&m, &cfg, 21 + layers, 0.5f);
	gbuf = grad_view(&m, &g);
	nn_rng_seed(&r, 22);
	c.B = B;
	c.T = T;
	c.layers = layers;
	for (t = 0; t < T; t++)		/* row b starts at step b: left padding */
		for (b = 0; b < B; b++)
			live[t * B + b] = t >= b;
	c.live = live;
	c.X = malloc(sizeof(float) * M * in);
	c.R = malloc(sizeof(float) * M * H);
	fill(&r, c.X, M * in, 1.0f);
	fill(&r, c.R, M * H, 1.0f);
	for (l = 0; l < layers; l++)
	{
		nn_layer_weights(&m, l, &c.w[l]);
		alloc_acts(&c.a[l], M, H);
		dX[l] = malloc(sizeof(float) * M * (l == 0 ? in : H));
	}
	dH = malloc(sizeof(float) * M * H);
	dZ = malloc(sizeof(float) * M * 4 * H);
	dh = malloc(sizeof(float) * B * H);
	dc = malloc(sizeof(float) * B * H);

	lstm_loss(&c);
	memcpy(dH, c.R, sizeof(float) * M * H);
	for (l = layers - 1; l >= 0; l--)
	{
		gw.w_ih = g.w_ih[l];
		gw.w_hh = g.w_hh[l];
		gw.b_ih = g.b_ih[l];
		gw.b_hh = g.b_hh[l];
		nn_lstm_backward(&c.w[l], B, T, l == 0 ? c.X : c.a[l - 1].Hs, live, &c.a[l],
						 l == layers - 1 ? dH : dX[l + 1], dX[l], &gw, dZ, dh, dc);
	}
	for (l = 0; l < layers; l++)
	{
		size_t		inl = l == 0 ? (size_t) in : (size_t) H;

		snprintf(name, sizeof(name), "%s layer %d: W_ih", layers == 1 ? "LSTM" : "stacked LSTM, BPTT", l);
		check(name, m.w_ih[l], g.w_ih[l], 4 * H * inl, lstm_loss, &c);
		snprintf(name, sizeof(name), "%s layer %d: W_hh", layers == 1 ? "LSTM" : "stacked LSTM, BPTT", l);
		check(name, m.w_hh[l], g.w_hh[l], 4 * H * H, lstm_loss, &c);
		snprintf(name, sizeof(name), "%s layer %d: b_ih", layers == 1 ? "LSTM" : "stacked LSTM, BPTT", l);
		check(name, m.b_ih[l], g.b_ih[l], 4 * H, lstm_loss, &c);
		snprintf(name, sizeof(name), "%s layer %d: b_hh", layers == 1 ? "LSTM" : "stacked LSTM, BPTT", l);
		check(name, m.b_hh[l], g.b_hh[l], 4 * H, lstm_loss, &c);
	}
	snprintf(name, sizeof(name), "%s: input X (padding steps carry state)",
			 layers == 1 ? "LSTM" : "stacked LSTM, BPTT");
	check(name, c.X, dX[0], M * in, lstm_loss, &c);
	for (l = 0; l < layers; l++)
	{
		free(c.a[l].Z);
		free(c.a[l].C);
		free(c.a[l].TC);
		free(c.a[l].Hs);
		free(dX[l]);
	}
	free(c.X);
	free(c.R);
	free(dH);
	free(dZ);
	free(dh);
	free(dc);
	free(gbuf);
	nn_model_free(&m);
}

/* ---- projection and output losses ---- */

typedef struct out_ctx
{
	int32_t		N,
				D,
				H,
				P,
				K;
	float	   *proj,
			   *Hv,
			   *U,
			   *R,
			   *out,
			   *bias,
			   *logq,
			   *logits,
			   *nout,
			   *dnout;
	int32_t    *targets,
			   *neg;
	float	   *dU,
			   *dout,
			   *dbias,
			   *dHv,
			   *dproj;
} out_ctx;

/* sum R * U with U = Hv proj^T */
static double
proj_loss(void *p)
{
	out_ctx    *c = p;

	nn_project(c->proj, c->D, c->H, c->P, c->Hv, c->U);
	return dot(c->R, c->U, (size_t) c->P * c->D);
}

/* run the loss into scratch gradients (zeroed first), return the summed loss */
static double
full_loss(void *p)
{
	out_ctx    *c = p;

	memset(c->dout, 0, sizeof(float) * (c->N + 1) * c->D);
	memset(c->dbias, 0, sizeof(float) * (c->N + 1));
	return nn_output_full(c->N, c->D, c->P, c->U, c->targets, c->out, c->bias, 1.0f,
						  c->dU, c->dout, c->dbias, c->logits);
}

/* the sampled loss into scratch gradients (zeroed first), summed */
static double
sampled_loss(void *p)
{
	out_ctx    *c = p;

	memset(c->dout, 0, sizeof(float) * (c->N + 1) * c->D);
	memset(c->dbias, 0, sizeof(float) * (c->N + 1));
	return nn_output_sampled(c->D, c->P, c->U, c->targets, c->K, c->neg, c->logq,
							 c->out, c->bias, 1.0f, c->dU, c->dout, c->dbias,
							 c->logits, c->nout, c->dnout);
}

/* check the gradients of an output loss f wrt u, the item output rows and the bias */
static void
check_output_loss(out_ctx *c, const char *label, loss_fn f)
{
	size_t		nu = (size_t) c->P * c->D,
				no = (size_t) c->N * c->D;
	float	   *g = malloc(sizeof(float) * (nu + no + c->N));
	char		name[128];

	f(c);						/* gradients at the unperturbed point */
	memcpy(g, c->dU, sizeof(float) * nu);
	memcpy(g + nu, c->dout + c->D, sizeof(float) * no);
	memcpy(g + nu + no, c->dbias + 1, sizeof(float) * c->N);
	snprintf(name, sizeof(name), "%s: u", label);
	check(name, c->U, g, nu, f, c);
	snprintf(name, sizeof(name), "%s: item output rows (tied)", label);
	check(name, c->out + c->D, g + nu, no, f, c);
	snprintf(name, sizeof(name), "%s: item bias", label);
	check(name, c->bias + 1, g + nu + no, c->N, f, c);
	free(g);
}

/*
 * nn_output_full against a double-precision reference where some rows'
 * logit bound is far too loose (an item output row of norm 60 orthogonal to
 * those rows' u), so that they take the exact fallback path.
 */
static void
test_full_reference(void)
{
	int32_t		N = 9,
				D = 3,
				P = 40;
	float		U[40 * 3],
				out[10 * 3],
				bias[10],
				dU[40 * 3],
				dout[10 * 3] = {0},
				dbias[10] = {0};
	float	   *work = malloc(sizeof(float) * nn_output_full_work_floats(N, D));
	double		rdU[40 * 3],
				rdout[10 * 3] = {0},
				rdbias[10] = {0},
				loss = 0.0,
				got,
				e = 0.0;
	int32_t		targets[40];
	nn_rng		r;
	int32_t		p,
				j,
				d;

	nn_rng_seed(&r, 77);
	fill(&r, U, 40 * 3, 1.0f);
	fill(&r, out, 10 * 3, 1.0f);
	fill(&r, bias, 10, 0.5f);
	out[1 * 3 + 0] = 0.0f;		/* item 1 = (0, 0, 60) */
	out[1 * 3 + 1] = 0.0f;
	out[1 * 3 + 2] = 60.0f;
	for (p = 0; p < P; p++)
	{
		targets[p] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) N);
		if (p % 2 == 0)
			U[p * 3 + 2] = 0.0f;	/* u orthogonal to item 1: bound 60 |u| is loose */
		U[p * 3 + 0] += U[p * 3 + 0] < 0 ? -1.0f : 1.0f;	/* |u| >= 1 */
	}
	got = nn_output_full(N, D, P, U, targets, out, bias, 0.5f, dU, dout, dbias, work);
	for (p = 0; p < P; p++)
	{
		double		s[10],
					mx = -INFINITY,
					z = 0.0;

		for (j = 1; j <= N; j++)
		{
			s[j] = bias[j];
			for (d = 0; d < D; d++)
				s[j] += (double) U[p * 3 + d] * out[j * 3 + d];
			mx = fmax(mx, s[j]);
		}
		for (j = 1; j <= N; j++)
			z += exp(s[j] - mx);
		loss += log(z) + mx - s[targets[p]];
		for (d = 0; d < D; d++)
			rdU[p * 3 + d] = 0.0;
		for (j = 1; j <= N; j++)
		{
			double		g = 0.5 * (exp(s[j] - mx) / z - (j == targets[p]));

			rdbias[j] += g;
			for (d = 0; d < D; d++)
			{
				rdU[p * 3 + d] += g * out[j * 3 + d];
				rdout[j * 3 + d] += g * U[p * 3 + d];
			}
		}
	}
	for (p = 0; p < P * D; p++)
		e = fmax(e, fabs(dU[p] - rdU[p]));
	for (j = 3; j < 10 * 3; j++)
		e = fmax(e, fabs(dout[j] - rdout[j]));
	for (j = 1; j < 10; j++)
		e = fmax(e, fabs(dbias[j] - rdbias[j]));
	tap_ok(fabs(got - loss) <= 1e-5 * loss && e <= 1e-5,
		   "full softmax with loose logit bounds (exact fallback rows) matches a double reference "
		   "(loss %.9g vs %.9g, max grad err %.2g)", got, loss, e);
	free(work);
}

/* projection, then the full and sampled losses over two chunks of positions */
static void
test_output(void)
{
	out_ctx		c;
	nn_rng		r;
	int32_t		p;
	int32_t		neg[5] = {2, 5, 3, 5, 7};	/* a repeat, and hits of targets */

	nn_rng_seed(&r, 31);
	c.N = 9;
	c.D = 3;
	c.H = 4;
	c.P = NN_OUTPUT_CHUNK + 5;	/* two chunks */
	c.K = 5;
	c.proj = malloc(sizeof(float) * c.D * c.H);
	c.Hv = malloc(sizeof(float) * c.P * c.H);
	c.U = malloc(sizeof(float) * c.P * c.D);
	c.R = malloc(sizeof(float) * c.P * c.D);
	c.out = malloc(sizeof(float) * (c.N + 1) * c.D);
	c.bias = malloc(sizeof(float) * (c.N + 1));
	c.logq = malloc(sizeof(float) * (c.N + 1));
	c.logits = malloc(sizeof(float) * nn_output_full_work_floats(c.N, c.D));
	c.nout = malloc(sizeof(float) * c.K * c.D);
	c.dnout = malloc(sizeof(float) * c.K * c.D);
	c.targets = malloc(sizeof(int32_t) * c.P);
	c.neg = neg;
	c.dU = malloc(sizeof(float) * c.P * c.D);
	c.dout = malloc(sizeof(float) * (c.N + 1) * c.D);
	c.dbias = malloc(sizeof(float) * (c.N + 1));
	c.dHv = malloc(sizeof(float) * c.P * c.H);
	c.dproj = calloc(c.D * c.H, sizeof(float));
	fill(&r, c.proj, c.D * c.H, 0.5f);
	fill(&r, c.Hv, c.P * c.H, 1.0f);
	fill(&r, c.R, c.P * c.D, 1.0f);
	fill(&r, c.U, c.P * c.D, 1.0f);
	fill(&r, c.out, (c.N + 1) * c.D, 1.0f);
	fill(&r, c.bias, c.N + 1, 0.5f);
	fill(&r, c.logq, c.N + 1, 1.0f);
	for (p = 0; p < c.P; p++)
		c.targets[p] = 1 + (int32_t) nn_rng_below(&r, (uint32_t) c.N);

	nn_project_backward(c.proj, c.D, c.H, c.P, c.Hv, c.R, c.dHv, c.dproj);
	check("projection u = P h: P", c.proj, c.dproj, c.D * c.H, proj_loss, &c);
	check("projection u = P h: h", c.Hv, c.dHv, c.P * c.H, proj_loss, &c);

	check_output_loss(&c, "full softmax CE", full_loss);
	check_output_loss(&c, "sampled softmax CE (logQ, repeats, target hits)", sampled_loss);
	free(c.proj);
	free(c.Hv);
	free(c.U);
	free(c.R);
	free(c.out);
	free(c.bias);
	free(c.logq);
	free(c.logits);
	free(c.nout);
	free(c.dnout);
	free(c.targets);
	free(c.dU);
	free(c.dout);
	free(c.dbias);
	free(c.dHv);
	free(c.dproj);
}

/* ---- the whole training loss ---- */

typedef struct whole_ctx
{
	nn_trainer *t;
	test_batch *tb;
	const int32_t *neg;
	int32_t		K;
} whole_ctx;

/* mean loss of the batch (the trainer's gradient is of the mean) */
static double
whole_loss(void *p)
{
	whole_ctx  *c = p;
	double		loss;
	int64_t		np;

	nn_trainer_gradient(c->t, &c->tb->b, c->neg, c->K, &loss, &np, NULL);
	return loss / (double) np;
}

/* every parameter group of the mean training loss through the trainer */
static void
test_whole(const char *label, int32_t layers, int32_t T, int32_t loss)
{
	nn_config	cfg = small_config(7, 3, 2, 2, 3, 4, layers, T);
	nn_model	m,
				g;
	nn_train_config tc = {0};
	test_batch	tb;
	whole_ctx	c;
	int32_t		neg[4] = {3, 1, 6, 3};
	float	   *grad;
	double		loss_sum;
	int64_t		np;
	char		name[128];
	int32_t		l;
	size_t		D = 3;

	make_model(&m, &cfg, 41 + layers, 1.0f);
	make_batch(&tb, &cfg, 4, T, 42);
	tc.batch_size = 4;
	tc.learning_rate = 1e-3f;
	tc.loss = loss;
	tc.n_negatives = 4;
	c.t = nn_trainer_create(&m, &tc, &nn_malloc_allocator, NULL);
	c.tb = &tb;
	c.neg = loss == NN_LOSS_SAMPLED ? neg : NULL;
	c.K = 4;
	nn_trainer_gradient(c.t, &tb.b, c.neg, c.K, &loss_sum, &np, NULL);
	grad = malloc(sizeof(float) * m.n_params);
	memcpy(grad, nn_trainer_grad(c.t), sizeof(float) * m.n_params);
	memset(&g, 0, sizeof(g));
	g.cfg = cfg;
	nn_model_bind(&g, grad);

#define CHECK_GROUP(what, field, n) \
	do { \
		snprintf(name, sizeof(name), "whole loss, %s: %s", label, what); \
		check(name, m.field, g.field, (n), whole_loss, &c); \
	} while (0)
	CHECK_GROUP("item embeddings (input and tied output)", item_emb, (cfg.n_items + 1) * D);
	CHECK_GROUP("tag embeddings", tag_emb, (cfg.n_tags + 1) * D);
	CHECK_GROUP("user-tag embeddings", utag_emb, (cfg.n_user_tags + 1) * D);
	CHECK_GROUP("user embeddings", user_emb, (cfg.n_users + 1) * D);
	for (l = 0; l < layers; l++)
	{
		size_t		in = l == 0 ? (size_t) m.in_dim : 4;

		CHECK_GROUP("LSTM W_ih", w_ih[l], 16 * in);
		CHECK_GROUP("LSTM W_hh", w_hh[l], 16 * 4);
		CHECK_GROUP("LSTM b_ih", b_ih[l], 16);
		CHECK_GROUP("LSTM b_hh", b_hh[l], 16);
	}
	CHECK_GROUP("projection P", proj, D * 4);
	CHECK_GROUP("item bias", item_bias, (size_t) cfg.n_items + 1);
#undef CHECK_GROUP
	free(grad);
	nn_trainer_free(c.t);
	free_batch(&tb);
	nn_model_free(&m);
}

/* every backward pass, from the layers up to the whole loss */
int
main(void)
{
	test_input();
	test_lstm(1);
	test_lstm(2);
	test_output();
	test_full_reference();
	test_whole("full softmax, 2 layers", 2, 4, NN_LOSS_FULL);
	test_whole("sampled softmax, 2 layers", 2, 4, NN_LOSS_SAMPLED);
	test_whole("full softmax, 3 layers, T=8", 3, 8, NN_LOSS_FULL);
	return tap_done();
}
