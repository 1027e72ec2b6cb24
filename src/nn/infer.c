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

/* columns of layer l's [W_ih | W_hh]: in_l + H */
static int32_t
wcat_cols(const nn_model *m, int32_t l)
{
	return (l == 0 ? m->in_dim : m->cfg.hidden) + m->cfg.hidden;
}

/* layer l's [W_ih | W_hh] (4H, in_l + H) in packed, every layer's from nn_pack_layers */
const float *
nn_packed_layer(const nn_model *m, const float *packed, int32_t l)
{
	for (int32_t k = 0; k < l; k++)
		packed += nn_packed_floats(4 * m->cfg.hidden, wcat_cols(m, k));
	return packed;
}

/* floats of every layer's [W_ih | W_hh] packed by nn_pack_layers */
size_t
nn_packed_layers_floats(const nn_model *m)
{
	size_t		n = 0;

	for (int32_t l = 0; l < m->cfg.layers; l++)
		n += nn_packed_floats(4 * m->cfg.hidden, wcat_cols(m, l));
	return n;
}

/*
 * floats of workspace one history of T steps takes in a layer-by-layer
 * batch: its user context (ctx_dim), live flags (T), step inputs (T, in_0)
 * and one layer's activations (T, 7H).
 */
static size_t
layered_history_floats(const nn_model *m, int32_t T)
{
	return (size_t) nn_context_dim(&m->cfg) + live_floats((size_t) T) +
		(size_t) T * m->in_dim + (size_t) T * 7 * (size_t) m->cfg.hidden;
}

/*
 * floats of workspace one history of T steps takes in a wave batch: its
 * user context (ctx_dim), live flags (T), step inputs (T, in_0), state
 * (L, 2H), a GEMM row (max(in_0, H) + H), gates (4H), a cell's scratch (2H)
 * and its row index.  A slice of b histories uses at most b times this, so
 * slices of a batch take disjoint parts of the workspace.
 */
static size_t
wave_history_floats(const nn_model *m, int32_t T)
{
	size_t		H = (size_t) m->cfg.hidden;
	size_t		in_max = (size_t) (m->in_dim > m->cfg.hidden ? m->in_dim : m->cfg.hidden);

	return (size_t) nn_context_dim(&m->cfg) + live_floats((size_t) T) +
		(size_t) T * m->in_dim + (size_t) m->cfg.layers * 2 * H + in_max + H + 6 * H + 1;
}

/*
 * floats of workspace for nn_infer_batch: B histories of T steps, after
 * room for the packed weights when the caller has none
 */
size_t
nn_batch_work_floats(const nn_model *m, int32_t B, int32_t T)
{
	return nn_packed_layers_floats(m) + (size_t) B *
		(B < NN_INFER_WAVE_MIN ? layered_history_floats(m, T) : wave_history_floats(m, T));
}

/* live (T, B): 1 where the step of a history holds an item of the model */
static void
mark_live(const nn_model *m, int32_t B, int32_t T, const int32_t *items, uint8_t *live)
{
	for (int32_t t = 0; t < T; t++)
		for (int32_t b = 0; b < B; b++)
		{
			int32_t		j = items[(size_t) b * T + t];

			live[(size_t) t * B + b] = j >= 1 && j <= m->cfg.n_items;
		}
}

/*
 * Embeddings of B left-padded histories, layer by layer (for a few
 * histories: the steps of one are products of one row), on the packed
 * weights of nn_pack_layers: items/ratings (B, T), users/utag_* as in
 * nn_batch (may be NULL); u_out (B, D).  work is laid out as user context
 * (B, ctx_dim), live flags (T, B), step inputs (T, B, in_0) and one layer's
 * activations (T, B, 7H); each layer reads the previous layer's hidden
 * states from the buffer it then overwrites (its input projection is
 * computed before the steps run).
 */
static void
infer_layered(const nn_model *m, const float *packed, int32_t B, int32_t T,
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

	a.Z = X0 + M * m->in_dim;
	a.C = a.Z + M * 4 * H;
	a.TC = a.C + M * H;
	a.Hs = a.TC + M * H;
	mark_live(m, B, T, items, live);
	nn_input_forward(m, B, T, T, items, ratings, users, utag_ptr, utag_idx, ctx, X0);
	for (int32_t l = 0; l < m->cfg.layers; l++)
	{
		nn_packed_layer_weights(m, packed, l, &w);
		nn_lstm_forward(&w, B, T, l == 0 ? X0 : a.Hs, live, &a);
	}
	nn_project(m->proj, m->cfg.dim, m->cfg.hidden, B, a.Hs + (M - B) * H, u_out);
}

/*
 * Write every layer's [W_ih | W_hh] (4H, in + H) packed by nn_pack_cols,
 * one after the other, into packed (nn_packed_layers_floats(m)): the
 * weights of inference's products, packed once per model by a server.
 */
void
nn_pack_layers(const nn_model *m, float *packed)
{
	int32_t		H = m->cfg.hidden;
	nn_lstm_weights w;

	for (int32_t l = 0; l < m->cfg.layers; l++)
	{
		nn_layer_weights(m, l, &w);
		nn_pack_cols(4 * H, w.in + H, w.w_ih, w.in, w.in, w.w_hh, H, packed);
		packed += nn_packed_floats(4 * H, w.in + H);
	}
}

/* floats of nn_item_gates's table: (N+1, 4H) */
size_t
nn_item_gates_floats(const nn_model *m)
{
	return ((size_t) m->cfg.n_items + 1) * 4 * m->cfg.hidden;
}

/* items a GEMM of nn_item_gates: their inputs (chunk, 2D) are its workspace */
#define GATES_CHUNK 256

/* floats of nn_item_gates's workspace: (GATES_CHUNK, 2D) */
size_t
nn_item_gates_work_floats(const nn_model *m)
{
	return (size_t) GATES_CHUNK * 2 * m->cfg.dim;
}

/*
 * P (N+1, 4H): row j = W_ih[0][:, 0:2D] [E_item[j]; mean E_tag[tags(j)]],
 * row 0 zero; GATES_CHUNK items a GEMM, their inputs built in work
 * (nn_item_gates_work_floats).
 */
void
nn_item_gates(const nn_model *m, float *P, float *work)
{
	int32_t		D = m->cfg.dim,
				G = 4 * m->cfg.hidden,
				N = m->cfg.n_items;

	memset(P, 0, sizeof(float) * G);
	for (int32_t j0 = 1; j0 <= N; j0 += GATES_CHUNK)
	{
		int32_t		n = N - j0 + 1 < GATES_CHUNK ? N - j0 + 1 : GATES_CHUNK;

		for (int32_t r = 0; r < n; r++)
		{
			memcpy(work + (size_t) r * 2 * D, m->item_emb + (size_t) (j0 + r) * D, sizeof(float) * D);
			nn_item_tag_mean(m, j0 + r, work + (size_t) r * 2 * D + D);
		}
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, G, 2 * D,
				 1.0f, work, 2 * D, m->w_ih[0], m->in_dim, 0.0f, P + (size_t) j0 * G, G);
	}
}

/*
 * Embeddings of B left-padded histories as a wave: step by step, every
 * layer of the step before the next step, each layer's step one GEMM over
 * only the histories with an item at that step (padding and unknown items
 * cost nothing) with input and recurrent weights together (packed, from
 * nn_pack_layers), the batch keeping nothing but each history's state.
 * With item_gates (N+1, 4H, nn_item_gates), layer 0's gates start from the
 * item's row and the GEMM covers only the packed columns of the rating,
 * the user context and h.  items/ratings (B, T), users/utag_* as in nn_batch (may
 * be NULL); u_out (B, D); work has B * wave_history_floats(m, T) floats,
 * laid out as user context (B, ctx_dim), live flags (T, B), step inputs
 * (T, B, in_0), states (B, L, 2H), GEMM rows (B, max(in_0, H) + H), gates
 * (B, 4H), cell scratch (2H) and row indices (B).
 */
static void
infer_wave(const nn_model *m, const float *packed, const float *item_gates, int32_t B, int32_t T,
		   const int32_t *items, const float *ratings,
		   const int32_t *users, const int32_t *utag_ptr,
		   const int32_t *utag_idx, float *u_out, float *work)
{
	size_t		H = (size_t) m->cfg.hidden,
				G = 4 * H,
				in0 = (size_t) m->in_dim,
				ld = (size_t) m->cfg.layers * 2 * H,
				K_max = (in0 > H ? in0 : H) + H;
	float	   *ctx = work;
	uint8_t    *live = (uint8_t *) (ctx + (size_t) B * nn_context_dim(&m->cfg));
	float	   *X0 = (float *) live + live_floats((size_t) B * T);
	float	   *S = X0 + (size_t) B * T * in0;
	float	   *A = S + (size_t) B * ld;
	float	   *Z = A + (size_t) B * K_max;
	float	   *scratch = Z + (size_t) B * G;
	int32_t    *rows = (int32_t *) (scratch + 2 * H);
	nn_lstm_weights w;

	mark_live(m, B, T, items, live);
	nn_input_forward(m, B, T, T, items, ratings, users, utag_ptr, utag_idx, ctx, X0);
	memset(S, 0, sizeof(float) * B * ld);
	for (int32_t t = 0; t < T; t++)
	{
		int32_t		n = 0;

		for (int32_t b = 0; b < B; b++)
			if (live[(size_t) t * B + b])
				rows[n++] = b;
		if (n == 0)
			continue;
		for (int32_t l = 0; l < m->cfg.layers; l++)
		{
			bool		gates = l == 0 && item_gates != NULL;
			size_t		skip = gates ? 2 * (size_t) m->cfg.dim : 0,
						in,
						K;

			nn_packed_layer_weights(m, packed, l, &w);
			in = (size_t) w.in - skip;
			K = in + H;

			for (int32_t r = 0; r < n; r++)
			{
				const float *state = S + (size_t) rows[r] * ld + (size_t) l * 2 * H;
				const float *x = l == 0 ? X0 + ((size_t) t * B + rows[r]) * in0 : state - 2 * H;

				memcpy(A + r * K, x + skip, sizeof(float) * in);
				memcpy(A + r * K + in, state, sizeof(float) * H);
				if (gates)
					memcpy(Z + r * G, item_gates + (size_t) items[(size_t) rows[r] * T + t] * G,
						   sizeof(float) * G);
			}
			nn_lstm_rows_step(&w, nn_lstm_packed_cols(&w, (int32_t) skip), nn_lstm_packed_ldp(&w),
							  (int32_t) K, n, A, rows, S + (size_t) l * 2 * H, ld, Z, gates, scratch);
		}
	}
	/* u = P h_top: the top layer's h of every history, with the state's stride */
	nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, m->cfg.dim, m->cfg.hidden,
			 1.0f, S + (m->cfg.layers - 1) * 2 * H, ld, m->proj, m->cfg.hidden,
			 0.0f, u_out, m->cfg.dim);
}

/*
 * Set j up for the embeddings of a batch of left-padded histories (the
 * arguments of nn_infer_on) with nn_infer_rows: packed every layer's weights
 * from nn_pack_layers, or NULL to pack them into the start of work.
 */
void
nn_infer_job_init(nn_infer_job *j, const nn_model *m, const float *packed, int32_t T,
				  const int32_t *items, const float *ratings,
				  const int32_t *users, const int32_t *utag_ptr,
				  const int32_t *utag_idx, const float *item_gates,
				  float *u_out, float *work)
{
	if (packed == NULL)
	{
		nn_pack_layers(m, work);
		packed = work;
	}
	*j = (nn_infer_job) {m, T, items, ratings, users, utag_ptr, utag_idx, u_out, packed, item_gates,
	work + nn_packed_layers_floats(m)};
}

/*
 * nn_rows_fn: the embeddings of histories [b0, b1) of the job arg
 * (nn_infer_job) as a wave, in their part of its workspace: any split of
 * a batch may run on any threads at once
 */
void
nn_infer_rows(void *arg, int32_t slice, int32_t b0, int32_t b1)
{
	const nn_infer_job *j = arg;
	size_t		T = (size_t) j->T;

	(void) slice;
	infer_wave(j->m, j->packed, j->item_gates, b1 - b0, j->T, j->items + b0 * T, j->ratings + b0 * T,
			   j->users ? j->users + b0 : NULL,
			   j->utag_ptr ? j->utag_ptr + b0 : NULL, j->utag_idx,
			   j->u_out + (size_t) b0 * j->m->cfg.dim,
			   j->work + (size_t) b0 * wave_history_floats(j->m, j->T));
}

/*
 * histories a thread takes at a time: the packed weights make a small chunk
 * cost no more per history than a large one, and small chunks keep the
 * threads busy to the end
 */
#define INFER_CHUNK 32

/*
 * Embeddings of B left-padded histories at once on threads threads:
 * items/ratings (B, T), users/utag_* as in nn_batch (may be NULL); u_out
 * (B, D); packed every layer's weights from nn_pack_layers, or NULL to
 * pack them into the start of work.  Fewer than NN_INFER_WAVE_MIN histories
 * run layer by layer on the calling thread; more run as a wave
 * (infer_wave, with item_gates when not NULL) in chunks of INFER_CHUNK
 * histories that the threads take in turn, each chunk's products on its
 * own thread (a step's product is too small to share between threads
 * well): with more than one thread, OpenBLAS must be set to one thread.
 * Histories do not interact, so neither choice changes anything but the
 * rounding of the products.
 */
void
nn_infer_on(const nn_model *m, const float *packed, int32_t B, int32_t T,
			const int32_t *items, const float *ratings,
			const int32_t *users, const int32_t *utag_ptr,
			const int32_t *utag_idx, const float *item_gates,
			float *u_out, float *work, int32_t threads)
{
	nn_infer_job j;

	nn_infer_job_init(&j, m, packed, T, items, ratings, users, utag_ptr, utag_idx, item_gates,
					  u_out, work);
	if (B < NN_INFER_WAVE_MIN)
	{
		infer_layered(m, j.packed, B, T, items, ratings, users, utag_ptr, utag_idx, u_out, j.work);
		return;
	}
	nn_parallel_chunks(threads, B, INFER_CHUNK, nn_infer_rows, &j);
}

/*
 * Embeddings of B left-padded histories at once (nn_infer_on) on the
 * OpenBLAS threads: OpenBLAS is set to one thread while a wave's slices
 * run, and back afterwards.
 */
void
nn_infer_batch(const nn_model *m, const float *packed, int32_t B, int32_t T,
			   const int32_t *items, const float *ratings,
			   const int32_t *users, const int32_t *utag_ptr,
			   const int32_t *utag_idx, float *u_out, float *work)
{
	int32_t		threads = nn_blas_threads();

	if (threads == 1 || B < NN_INFER_WAVE_MIN)
	{
		nn_infer_on(m, packed, B, T, items, ratings, users, utag_ptr, utag_idx, NULL, u_out, work, 1);
		return;
	}
	nn_blas_set_threads(1);
	nn_infer_on(m, packed, B, T, items, ratings, users, utag_ptr, utag_idx, NULL, u_out, work, threads);
	nn_blas_set_threads(threads);
}
