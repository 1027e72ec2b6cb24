/*
 * infer.c — inference: the recurrent state advanced one step at a time (for
 * an aggregate fed row by row), the user embedding u = P h_top, and the
 * embeddings of a batch of histories at once.
 */
#include "blas.h"

#include "nn_internal.h"

/* floats in a recurrent state: L * 2 * H ((h, c) per layer) */
size_t
nn_state_floats(const nn_model *m)
{
	return (size_t) m->cfg.layers * 2 * m->cfg.hidden;
}

/* floats of workspace nn_infer_step needs: ctx, x (in_0), a layer step's 6H */
size_t
nn_step_work_floats(const nn_model *m)
{
	return (size_t) nn_context_dim(&m->cfg) + m->in_dim + 6 * (size_t) m->cfg.hidden;
}

/* zero the state */
void
nn_state_reset(const nn_model *m, float *state)
{
	memset(state, 0, sizeof(float) * nn_state_floats(m));
}

/*
 * Advance the state (L, 2, H) by one step: item (dense, 0 or unknown =
 * skip), rating already scaled, user context (user index or 0, user-tag
 * list or NULL/0).  work has nn_step_work_floats(m) floats.
 */
void
nn_infer_step(const nn_model *m, float *state, int32_t item, float rating,
			  int32_t user, const int32_t *utags, int32_t n_utags, float *work)
{
	size_t		H = (size_t) m->cfg.hidden;
	float	   *ctx = work;
	float	   *x = ctx + nn_context_dim(&m->cfg);
	float	   *step_work = x + m->in_dim;
	const float *in = x;
	nn_lstm_weights w;
	int32_t		l;

	if (item < 1 || item > m->cfg.n_items)
		return;
	nn_user_context(m, user, utags, n_utags, ctx);
	nn_step_input(m, item, rating, ctx, x);
	for (l = 0; l < m->cfg.layers; l++)
	{
		float	   *h = state + (size_t) l * 2 * H;

		nn_layer_weights(m, l, &w);
		nn_lstm_step(&w, in, h, h + H, step_work);
		in = h;
	}
}

/* u = P h_top: (D) */
void
nn_infer_embedding(const nn_model *m, const float *state, float *u)
{
	size_t		H = (size_t) m->cfg.hidden;

	nn_sgemv(CblasRowMajor, CblasNoTrans, m->cfg.dim, m->cfg.hidden, 1.0f,
			 m->proj, m->cfg.hidden, state + (size_t) (m->cfg.layers - 1) * 2 * H, 1,
			 0.0f, u, 1);
}

/* bytes of B*T live flags, in whole floats */
static size_t
live_floats(size_t M)
{
	return (M + sizeof(float) - 1) / sizeof(float);
}

/*
 * floats of workspace one history of T steps takes in nn_infer_batch: its
 * user context (ctx_dim), live flags (T), step inputs (T, in_0) and one
 * layer's activations (T, 7H).  A slice of b histories uses at most b times
 * this, so slices of a batch take disjoint parts of the workspace.
 */
static size_t
history_work_floats(const nn_model *m, int32_t T)
{
	return (size_t) nn_context_dim(&m->cfg) + live_floats((size_t) T) +
		(size_t) T * m->in_dim + (size_t) T * 7 * (size_t) m->cfg.hidden;
}

/* floats of workspace for nn_infer_batch: B histories of T steps */
size_t
nn_batch_work_floats(const nn_model *m, int32_t B, int32_t T)
{
	return (size_t) B * history_work_floats(m, T);
}

/*
 * Embeddings of B left-padded histories on the calling thread: items/ratings
 * (B, T), users/utag_* as in nn_batch (may be NULL); u_out (B, D).  work is
 * laid out as user context (B, ctx_dim), live flags (T, B), step inputs
 * (T, B, in_0) and one layer's activations (T, B, 7H); each layer reads the
 * previous layer's hidden states from the buffer it then overwrites (its
 * input projection is computed before the steps run).
 */
static void
infer_histories(const nn_model *m, int32_t B, int32_t T,
				const int32_t *items, const float *ratings,
				const int32_t *users, const int32_t *utag_ptr,
				const int32_t *utag_idx, float *u_out, float *work)
{
	size_t		M = (size_t) B * T;
	size_t		H = (size_t) m->cfg.hidden;
	float	   *ctx = work;
	uint8_t    *live = (uint8_t *) (ctx + (size_t) B * nn_context_dim(&m->cfg));
	float	   *X0 = (float *) live + live_floats(M);
	nn_lstm_acts a;
	nn_lstm_weights w;
	int32_t		l,
				t,
				b;

	a.Z = X0 + M * m->in_dim;
	a.C = a.Z + M * 4 * H;
	a.TC = a.C + M * H;
	a.Hs = a.TC + M * H;
	for (t = 0; t < T; t++)
		for (b = 0; b < B; b++)
		{
			int32_t		j = items[(size_t) b * T + t];

			live[(size_t) t * B + b] = j >= 1 && j <= m->cfg.n_items;
		}
	nn_input_forward(m, B, T, T, items, ratings, users, utag_ptr, utag_idx, ctx, X0);
	for (l = 0; l < m->cfg.layers; l++)
	{
		nn_layer_weights(m, l, &w);
		nn_lstm_forward(&w, B, T, l == 0 ? X0 : a.Hs, live, &a);
	}
	nn_project(m->proj, m->cfg.dim, m->cfg.hidden, B, a.Hs + (M - B) * H, u_out);
}

/* the arguments of one nn_infer_batch, shared by its slices */
typedef struct infer_job
{
	const nn_model *m;
	int32_t		T;
	const int32_t *items;
	const float *ratings;
	const int32_t *users;
	const int32_t *utag_ptr;
	const int32_t *utag_idx;
	float	   *u_out;
	float	   *work;
} infer_job;

/* nn_rows_fn: the histories [b0, b1) of an infer_job, in their part of work */
static void
infer_slice(void *arg, int32_t b0, int32_t b1)
{
	const infer_job *j = arg;
	size_t		T = (size_t) j->T;

	infer_histories(j->m, b1 - b0, j->T, j->items + b0 * T, j->ratings + b0 * T,
					j->users ? j->users + b0 : NULL,
					j->utag_ptr ? j->utag_ptr + b0 : NULL, j->utag_idx,
					j->u_out + (size_t) b0 * j->m->cfg.dim,
					j->work + (size_t) b0 * history_work_floats(j->m, j->T));
}

/* histories a thread takes at least: below this, GEMMs shared are better */
#define INFER_MIN_SLICE 16

/*
 * Embeddings of B left-padded histories at once: items/ratings (B, T),
 * users/utag_* as in nn_batch (may be NULL); u_out (B, D).  With more than
 * one OpenBLAS thread the histories are split between the threads, each
 * slice with its own one-thread GEMMs (a step's recurrent GEMM is too small
 * to share between threads well).  Histories do not interact, so the split
 * changes nothing but the rounding of the GEMMs.
 */
void
nn_infer_batch(const nn_model *m, int32_t B, int32_t T,
			   const int32_t *items, const float *ratings,
			   const int32_t *users, const int32_t *utag_ptr,
			   const int32_t *utag_idx, float *u_out, float *work)
{
	infer_job	j = {m, T, items, ratings, users, utag_ptr, utag_idx, u_out, work};

	nn_parallel_blas_rows(B, INFER_MIN_SLICE, infer_slice, &j);
}
