/*
 * test_torch_parity.c — forward and gradient parity with PyTorch.
 *
 * torch_reference.txt (written by gen_torch_reference.py from torch.nn.LSTM
 * in float64) holds a small 2-layer model with user context, a batch of
 * left-padded windows, and PyTorch's user embeddings, scores, summed
 * cross-entropy and gradient of the mean loss.  The float32 core must match
 * to 1e-5; no torch is needed to run this test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "testlib.h"

#define MAXV 4096

typedef struct ref_array
{
	char		name[32];
	int			n;
	double		v[MAXV];
} ref_array;

static ref_array arrays[32];
static int	n_arrays;
static double cfgv[10];
static int	batch_B,
			batch_T;

/* read the reference file into arrays[] (name count values...) */
static int
load(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		name[32];
	int			i;

	if (!f)
		return 0;
	while (fscanf(f, "%31s", name) == 1)
	{
		if (strcmp(name, "config") == 0)
		{
			for (i = 0; i < 10; i++)
				if (fscanf(f, "%lf", &cfgv[i]) != 1)
					return 0;
			continue;
		}
		if (strcmp(name, "batch") == 0)
		{
			if (fscanf(f, "%d %d", &batch_B, &batch_T) != 2)
				return 0;
			continue;
		}
		strcpy(arrays[n_arrays].name, name);
		if (fscanf(f, "%d", &arrays[n_arrays].n) != 1 || arrays[n_arrays].n > MAXV)
			return 0;
		for (i = 0; i < arrays[n_arrays].n; i++)
			if (fscanf(f, "%lf", &arrays[n_arrays].v[i]) != 1)
				return 0;
		n_arrays++;
	}
	fclose(f);
	return 1;
}

/* the array called name */
static const ref_array *
get(const char *name)
{
	int			i;

	for (i = 0; i < n_arrays; i++)
		if (strcmp(arrays[i].name, name) == 0)
			return &arrays[i];
	fprintf(stderr, "missing %s\n", name);
	exit(1);
}

/* the array called name as int32 */
static int32_t *
ints(const char *name)
{
	const ref_array *a = get(name);
	int32_t    *r = calloc(a->n + 1, sizeof(int32_t));
	int			i;

	for (i = 0; i < a->n; i++)
		r[i] = (int32_t) a->v[i];
	return r;
}

/* the array called name as float */
static float *
floats(const char *name)
{
	const ref_array *a = get(name);
	float	   *r = calloc(a->n + 1, sizeof(float));
	int			i;

	for (i = 0; i < a->n; i++)
		r[i] = (float) a->v[i];
	return r;
}

/* largest |got - want| / (1 + |want|) over n values */
static double
max_err(const float *got, const double *want, int n)
{
	double		e = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		d = fabs((double) got[i] - want[i]) / (1.0 + fabs(want[i]));

		e = d > e ? d : e;
	}
	return e;
}

/* load the reference, then compare inference, scores, loss and gradient */
int
main(void)
{
	nn_config	cfg;
	nn_model	m;
	nn_error	err = {0};
	nn_train_config tc = {0};
	nn_trainer *tr;
	nn_batch	b = {0};
	const ref_array *pr;
	int32_t    *items,
			   *hist,
			   *tag_ptr,
			   *tag_idx;
	float	   *u,
			   *u_step,
			   *work,
			   *state,
			   *tables,
			   *scores;
	double		e,
				e_step,
				loss;
	int64_t		npos;
	nn_serving	sv;
	int			i,
				r,
				t;

	if (!tap_ok(load("torch_reference.txt"), "torch_reference.txt loads"))
		return tap_done();
	cfg = small_config((int32_t) cfgv[0], (int32_t) cfgv[1], (int32_t) cfgv[2],
					   (int32_t) cfgv[3], (int32_t) cfgv[4], (int32_t) cfgv[5],
					   (int32_t) cfgv[6], (int32_t) cfgv[7]);
	cfg.rating_min = (float) cfgv[8];
	cfg.rating_max = (float) cfgv[9];
	tag_ptr = ints("item_tag_ptr");
	tag_idx = ints("item_tag_idx");
	tap_ok(nn_model_create(&m, &cfg, tag_ptr, tag_idx, NULL, 1,
						   &nn_malloc_allocator, &err) == NN_OK, "model created: %s", err.msg);
	free(tag_ptr);
	free(tag_idx);
	pr = get("params");
	tap_ok((size_t) pr->n == m.n_params, "parameter count %d matches %zu", pr->n, m.n_params);
	for (i = 0; i < pr->n; i++)
		m.params[i] = (float) pr->v[i];

	/* inference: batch and step by step over items[:, 0..T-1] */
	items = ints("items");
	hist = calloc((size_t) batch_B * batch_T, sizeof(int32_t));
	for (r = 0; r < batch_B; r++)
		for (t = 0; t < batch_T; t++)
			hist[r * batch_T + t] = items[r * (batch_T + 1) + t];
	{
		float	   *ratings = floats("ratings");
		float	   *hr = calloc((size_t) batch_B * batch_T, sizeof(float));
		int32_t    *users = ints("users"),
				   *uptr = ints("utag_ptr"),
				   *uidx = ints("utag_idx");

		for (r = 0; r < batch_B; r++)
			for (t = 0; t < batch_T; t++)
				hr[r * batch_T + t] = ratings[r * (batch_T + 1) + t];
		u = calloc((size_t) batch_B * cfg.dim, sizeof(float));
		u_step = calloc((size_t) batch_B * cfg.dim, sizeof(float));
		work = calloc(nn_batch_work_floats(&m, batch_B, batch_T), sizeof(float));
		nn_infer_batch(&m, NULL, batch_B, batch_T, hist, hr, users, uptr, uidx, u, work);
		e = max_err(u, get("u_last")->v, batch_B * cfg.dim);
		tap_ok(e <= 1e-5, "nn_infer_batch matches torch u = P h_T (max rel err %.2g)", e);

		state = calloc(nn_state_floats(&m), sizeof(float));
		free(work);
		work = calloc(nn_step_work_floats(&m), sizeof(float));
		for (r = 0; r < batch_B; r++)
		{
			nn_state_reset(&m, state);
			for (t = 0; t < batch_T; t++)
				nn_infer_step(&m, state, hist[r * batch_T + t], hr[r * batch_T + t], users[r],
							  uidx + uptr[r], uptr[r + 1] - uptr[r], work);
			nn_infer_embedding(&m, state, u_step + r * cfg.dim);
		}
		e_step = max_err(u_step, get("u_last")->v, batch_B * cfg.dim);
		tap_ok(e_step <= 1e-5, "nn_infer_step matches torch (max rel err %.2g)", e_step);
		e = 0.0;
		for (i = 0; i < batch_B * cfg.dim; i++)
			e = fmax(e, fabs(u[i] - u_step[i]));
		tap_ok(e <= 1e-6, "nn_infer_step equals nn_infer_batch (max abs diff %.2g)", e);

		tables = calloc(nn_serving_floats(&m), sizeof(float));
		scores = calloc(cfg.n_items + 1, sizeof(float));
		nn_serving_build(&m, tables, &sv);
		nn_scores(&m, sv.score_table, u, 1, scores);
		e = max_err(scores + 1, get("scores0")->v, cfg.n_items);
		tap_ok(e <= 1e-5 && isinf(scores[0]) && scores[0] < 0,
			   "nn_scores matches torch, column 0 is -inf (max rel err %.2g)", e);

		/* training forward and backward: loss and gradient of the mean loss */
		tc.batch_size = batch_B;
		tc.learning_rate = 1e-3f;
		tc.loss = NN_LOSS_FULL;
		tr = nn_trainer_create(&m, &tc, &nn_malloc_allocator, &err);
		tap_ok(tr != NULL, "trainer created: %s", err.msg);
		b.B = batch_B;
		b.T = batch_T;
		b.items = items;
		b.ratings = ratings;
		b.users = users;
		b.utag_ptr = uptr;
		b.utag_idx = uidx;
		tap_ok(nn_trainer_gradient(tr, &b, NULL, 0, &loss, &npos, &err) == NN_OK,
			   "gradient computed: %s", err.msg);
		tap_ok(npos == (int64_t) get("npos")->v[0], "positions: %lld", (long long) npos);
		tap_near(loss, get("loss")->v[0], 1e-5 * get("loss")->v[0], "summed cross-entropy matches torch");
		e = max_err(nn_trainer_grad(tr), get("grad")->v, (int) m.n_params);
		tap_ok(e <= 1e-5, "gradient of every parameter matches torch autograd (max rel err %.2g)", e);
		nn_trainer_free(tr);
		free(ratings);
		free(hr);
		free(users);
		free(uptr);
		free(uidx);
	}
	free(items);
	free(hist);
	free(u);
	free(u_step);
	free(work);
	free(state);
	free(tables);
	free(scores);
	nn_model_free(&m);
	return tap_done();
}
