/*
 * lstm.c — one LSTM layer (PyTorch gate order i, f, g, o): forward over a
 * batch of windows with the input projection of all steps as one GEMM and
 * the recurrent GEMM per step, backward through time, and the single-step
 * update used by incremental inference.
 */
#include "blas.h"

#include "nn_internal.h"

/* a model's layer l as nn_lstm_weights */
void
nn_layer_weights(const nn_model *m, int32_t l, nn_lstm_weights *w)
{
	w->in = l == 0 ? m->in_dim : m->cfg.hidden;
	w->H = m->cfg.hidden;
	w->w_ih = m->w_ih[l];
	w->w_hh = m->w_hh[l];
	w->b_ih = m->b_ih[l];
	w->b_hh = m->b_hh[l];
	w->packed = NULL;
}

/*
 * Layer l's weights as nn_layer_weights, with packed pointing at the layer's
 * [W_ih | W_hh] within packed (every layer's weights from nn_pack_layers).
 */
void
nn_packed_layer_weights(const nn_model *m, const float *packed, int32_t l, nn_lstm_weights *w)
{
	nn_layer_weights(m, l, w);
	w->packed = nn_packed_layer(m, packed, l);
}

/* floats between the panels of w's packed [W_ih | W_hh] (in + H columns each) */
size_t
nn_lstm_packed_ldp(const nn_lstm_weights *w)
{
	return (size_t) (w->in + w->H) * NN_PANEL;
}

/*
 * w's packed [W_ih | W_hh] from its column k0 on (0: the input's first,
 * w->in: W_hh's first), for nn_gemm_packed with nn_lstm_packed_ldp(w)
 */
const float *
nn_lstm_packed_cols(const nn_lstm_weights *w, int32_t k0)
{
	return w->packed + (size_t) k0 * NN_PANEL;
}

/*
 * The cell's loop over the H units of one row, with the previous cell state
 * read only when has_prev (a constant at each call, so that each copy is a
 * straight loop the compiler vectorises); no two arrays overlap.
 */
static inline __attribute__((always_inline)) void
cell_units(int32_t H, float *restrict z, const float *restrict b_ih,
		   const float *restrict b_hh, const float *restrict c_prev, bool has_prev,
		   float *restrict c, float *restrict tc, float *restrict h)
{
	/* one pointer per gate, so that the vectoriser sees unit strides */
	float	   *zi = z,
			   *zf = z + H,
			   *zg = z + 2 * H,
			   *zo = z + 3 * H;
	const float *bi = b_ih,
			   *bf = b_ih + H,
			   *bg = b_ih + 2 * H,
			   *bo = b_ih + 3 * H;
	const float *hi = b_hh,
			   *hf = b_hh + H,
			   *hg = b_hh + 2 * H,
			   *ho = b_hh + 3 * H;
	int32_t		k;

	for (k = 0; k < H; k++)
	{
		float		i = nn_sigmoidf(zi[k] + bi[k] + hi[k]);
		float		f = nn_sigmoidf(zf[k] + bf[k] + hf[k]);
		float		g = nn_tanhf(zg[k] + bg[k] + hg[k]);
		float		o = nn_sigmoidf(zo[k] + bo[k] + ho[k]);
		float		cn = has_prev ? i * g + f * c_prev[k] : i * g;
		float		t = nn_tanhf(cn);

		zi[k] = i;
		zf[k] = f;
		zg[k] = g;
		zo[k] = o;
		c[k] = cn;
		tc[k] = t;
		h[k] = o * t;
	}
}

/*
 * The cell of one row: z (4H) holds the gate pre-activations without bias
 * and gets the activated gates; c_prev (H) may be NULL (zero state); writes
 * c, tanh(c) and h (H each); no two arrays overlap.
 */
NN_SIMD_CLONES static void
lstm_cell(int32_t H, float *z, const float *b_ih, const float *b_hh,
		  const float *c_prev, float *c, float *tc, float *h)
{
	if (c_prev)
		cell_units(H, z, b_ih, b_hh, c_prev, true, c, tc, h);
	else
		cell_units(H, z, b_ih, b_hh, NULL, false, c, tc, h);
}

/*
 * Run one layer over X (T, B, in) into a (Z, C, TC, Hs).  live (T, B) marks
 * real steps; at any other step the row carries its state over (h_t = h_{t-1},
 * c_t = c_{t-1}, gates zero), so left padding leaves the state at zero.
 * With w->packed (inference) the products run on the packed weights, else
 * on the BLAS.
 */
void
nn_lstm_forward(const nn_lstm_weights *w, int32_t B, int32_t T,
				const float *X, const uint8_t *live, nn_lstm_acts *a)
{
	int32_t		H = w->H,
				G = 4 * w->H;
	int32_t		t,
				b;

	/* input projection of every step at once: (T*B, in) x (in, 4H) */
	if (w->packed)
		nn_gemm_packed(T * B, G, w->in, X, w->in, w->packed, nn_lstm_packed_ldp(w), a->Z, G, false);
	else
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * B, G, w->in,
				 1.0f, X, w->in, w->w_ih, w->in, 0.0f, a->Z, G);
	for (t = 0; t < T; t++)
	{
		size_t		row = (size_t) t * B;
		size_t		prev = row - B;

		if (t > 0 && w->packed)
			nn_gemm_packed(B, G, H, a->Hs + prev * H, H, nn_lstm_packed_cols(w, w->in),
						   nn_lstm_packed_ldp(w), a->Z + row * G, G, true);
		/* one history: GEMV, which does not repack W_hh per step */
		else if (t > 0 && B == 1)
			nn_sgemv(CblasRowMajor, CblasNoTrans, G, H, 1.0f, w->w_hh, H,
					 a->Hs + prev * H, 1, 1.0f, a->Z + row * G, 1);
		else if (t > 0)
			nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H,
					 1.0f, a->Hs + prev * H, H, w->w_hh, H,
					 1.0f, a->Z + row * G, G);
		for (b = 0; b < B; b++)
		{
			float	   *z = a->Z + (row + b) * G;
			float	   *c = a->C + (row + b) * H;
			float	   *tc = a->TC + (row + b) * H;
			float	   *h = a->Hs + (row + b) * H;

			if (live[row + b])
				lstm_cell(H, z, w->b_ih, w->b_hh,
						  t > 0 ? a->C + (prev + b) * H : NULL, c, tc, h);
			else
			{
				memset(z, 0, sizeof(float) * G);
				if (t > 0)
				{
					memcpy(c, a->C + (prev + b) * H, sizeof(float) * H);
					memcpy(tc, a->TC + (prev + b) * H, sizeof(float) * H);
					memcpy(h, a->Hs + (prev + b) * H, sizeof(float) * H);
				}
				else
				{
					memset(c, 0, sizeof(float) * H);
					memset(tc, 0, sizeof(float) * H);
					memset(h, 0, sizeof(float) * H);
				}
			}
		}
	}
}

/*
 * The backward cell loop over the H units of one row (see
 * lstm_cell_backward), with c_prev read only when has_prev; no two arrays
 * overlap.
 */
static inline __attribute__((always_inline)) void
cell_units_backward(int32_t H, const float *restrict dh, float *restrict dc,
					const float *restrict z, const float *restrict c_prev, bool has_prev,
					const float *restrict tc, float *restrict dz)
{
	const float *zi = z,
			   *zf = z + H,
			   *zg = z + 2 * H,
			   *zo = z + 3 * H;
	float	   *dzi = dz,
			   *dzf = dz + H,
			   *dzg = dz + 2 * H,
			   *dzo = dz + 3 * H;
	int32_t		k;

	for (k = 0; k < H; k++)
	{
		float		i = zi[k],
					f = zf[k],
					g = zg[k],
					o = zo[k];
		float		t = tc[k];
		float		dcell = dc[k] + dh[k] * o * (1.0f - t * t);
		float		di = dcell * g * i * (1.0f - i);
		float		df = has_prev ? dcell * c_prev[k] * f * (1.0f - f) : 0.0f;
		float		dg = dcell * i * (1.0f - g * g);
		float		dout = dh[k] * t * o * (1.0f - o);

		dc[k] = dcell * f;
		dzi[k] = di;
		dzf[k] = df;
		dzg[k] = dg;
		dzo[k] = dout;
	}
}

/*
 * Backward of lstm_cell for one row: dh (H) total gradient on h, dc (H) the
 * cell gradient arriving from the next step (replaced by the one leaving to
 * the previous step), z (4H) activated gates, c_prev (H) or NULL, tc (H).
 * Writes dz (4H), the gradient on the gate pre-activations.
 */
NN_SIMD_CLONES static void
lstm_cell_backward(int32_t H, const float *dh, float *dc, const float *z,
				   const float *c_prev, const float *tc, float *dz)
{
	if (c_prev)
		cell_units_backward(H, dh, dc, z, c_prev, true, tc, dz);
	else
		cell_units_backward(H, dh, dc, z, NULL, false, tc, dz);
}

/* bias gradients: db_ih and db_hh (G) each += column sums of dZ (rows, G) */
static void
add_bias_grads(const float *restrict dZ, size_t rows, int32_t G,
			   float *restrict db_ih, float *restrict db_hh)
{
	size_t		r;
	int32_t		k;

	for (r = 0; r < rows; r++)
	{
		const float *dz = dZ + r * G;

		for (k = 0; k < G; k++)
		{
			db_ih[k] += dz[k];
			db_hh[k] += dz[k];
		}
	}
}

/*
 * Backward through time.  dH (T, B, H) is the loss gradient on the hidden
 * states (overwritten); adds weight gradients into dw (same layout as w) and
 * writes dX (T, B, in) unless NULL.  Workspace: dZ (T, B, 4H), dh and dc
 * (B, H): the recurrent gradients on h_{t-1} and c_{t-1}.
 */
void
nn_lstm_backward(const nn_lstm_weights *w, int32_t B, int32_t T,
				 const float *X, const uint8_t *live,
				 const nn_lstm_acts *a, float *dH, float *dX,
				 nn_lstm_grads *dw, float *dZ, float *dh, float *dc)
{
	int32_t		H = w->H,
				G = 4 * w->H;
	int32_t		t,
				b,
				k;

	memset(dh, 0, sizeof(float) * (size_t) B * H);
	memset(dc, 0, sizeof(float) * (size_t) B * H);
	for (t = T - 1; t >= 0; t--)
	{
		size_t		row = (size_t) t * B;

		for (b = 0; b < B; b++)
		{
			float	   *dht = dH + (row + b) * H;
			float	   *dz = dZ + (row + b) * G;

			for (k = 0; k < H; k++)
				dht[k] += dh[(size_t) b * H + k];
			if (live[row + b])
				lstm_cell_backward(H, dht, dc + (size_t) b * H, a->Z + (row + b) * G,
								   t > 0 ? a->C + (row - B + b) * H : NULL,
								   a->TC + (row + b) * H, dz);
			else
				memset(dz, 0, sizeof(float) * G);
		}
		if (t == 0)
			break;
		/* gradient on h_{t-1}: through W_hh for real steps, carried otherwise */
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G,
				 1.0f, dZ + row * G, G, w->w_hh, H, 0.0f, dh, H);
		for (b = 0; b < B; b++)
			if (!live[row + b])
				memcpy(dh + (size_t) b * H, dH + (row + b) * H, sizeof(float) * H);
	}
	/* weight and bias gradients over all steps at once */
	add_bias_grads(dZ, (size_t) T * B, G, dw->b_ih, dw->b_hh);
	nn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, w->in, T * B,
			 1.0f, dZ, G, X, w->in, 1.0f, dw->w_ih, w->in);
	if (T > 1)
		nn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, (T - 1) * B,
				 1.0f, dZ + (size_t) B * G, G, a->Hs, H, 1.0f, dw->w_hh, H);
	if (dX)
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T * B, w->in, G,
				 1.0f, dZ, G, w->w_ih, w->in, 0.0f, dX, w->in);
}

/*
 * One step of one layer for a single sequence: h, c (H) updated in place
 * from x (in); work (6H) holds the gates, the new cell state and its tanh.
 */
void
nn_lstm_step(const nn_lstm_weights *w, const float *x, float *h, float *c, float *work)
{
	int32_t		G = 4 * w->H;
	float	   *c_new = work + G,
			   *tc = c_new + w->H;

	nn_sgemv(CblasRowMajor, CblasNoTrans, G, w->in, 1.0f, w->w_ih, w->in,
			 x, 1, 0.0f, work, 1);
	nn_sgemv(CblasRowMajor, CblasNoTrans, G, w->H, 1.0f, w->w_hh, w->H,
			 h, 1, 1.0f, work, 1);
	lstm_cell(w->H, work, w->b_ih, w->b_hh, c, c_new, tc, h);
	memcpy(c, c_new, sizeof(float) * w->H);
}

/*
 * One step of one layer for n rows of a batch kept as states only (batch
 * inference): A (n, K) holds each row's input and then its h_{t-1}, Wp the
 * matching K columns of [W_ih | W_hh] packed by nn_pack_cols, in panels ldp
 * floats apart; Z
 * (n, 4H) gets the gate pre-activations, added to what it holds when
 * accumulate (a part of each row's input projection computed before) or
 * replacing it; the state of row r is h at S + rows[r] * ld and c right
 * after it (H each), both updated in place.  scratch (2H) is workspace.
 */
void
nn_lstm_rows_step(const nn_lstm_weights *w, const float *Wp, size_t ldp, int32_t K, int32_t n,
				  const float *A, const int32_t *rows, float *S, size_t ld,
				  float *Z, bool accumulate, float *scratch)
{
	int32_t		H = w->H,
				G = 4 * w->H;

	nn_gemm_packed(n, G, K, A, K, Wp, ldp, Z, G, accumulate);
	for (int32_t r = 0; r < n; r++)
	{
		float	   *h = S + (size_t) rows[r] * ld;

		lstm_cell(H, Z + (size_t) r * G, w->b_ih, w->b_hh, h + H, scratch, scratch + H, h);
		memcpy(h + H, scratch, sizeof(float) * H);
	}
}

/*
 * The cells of B rows: Z (B, 4H) holds the gate pre-activations without
 * bias and gets the activated gates; C_prev (B, H) the previous cell states;
 * writes C, TC and Hs (B, H each).  No two arrays overlap.
 */
void
nn_lstm_cells(const nn_lstm_weights *w, int32_t B, float *Z, const float *C_prev,
			  float *C, float *TC, float *Hs)
{
	size_t		H = (size_t) w->H;
	int32_t		b;

	for (b = 0; b < B; b++)
		lstm_cell(w->H, Z + b * 4 * H, w->b_ih, w->b_hh, C_prev + b * H,
				  C + b * H, TC + b * H, Hs + b * H);
}
