/*
 * lstm.c — one LSTM layer (PyTorch gate order i, f, g, o): forward over a
 * batch of windows with the input projection of all steps as one GEMM and
 * the recurrent GEMM per step, backward through time, and the single-step
 * update used by incremental inference.
 */
#include <cblas.h>

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
}

/*
 * The cell of one row: z (4H) holds the gate pre-activations without bias
 * and gets the activated gates; c_prev (H) may be NULL (zero state); writes
 * c, tanh(c) and h (H each).  c may alias c_prev (element k is read before
 * it is written) and tc may alias h (h is written last).  Four hidden units
 * at a time in vectors, the rest one by one with the same arithmetic.
 */
static void
lstm_cell(int32_t H, float *z, const float *b_ih, const float *b_hh,
		  const float *c_prev, float *c, float *tc, float *h)
{
	const nn_v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
	int32_t		k,
				hv = H - H % 4;

	for (k = 0; k < hv; k += 4)
	{
		nn_v4f		i = nn_v4_sigmoid(nn_v4_load(z + k) + nn_v4_load(b_ih + k) +
									  nn_v4_load(b_hh + k));
		nn_v4f		f = nn_v4_sigmoid(nn_v4_load(z + H + k) + nn_v4_load(b_ih + H + k) +
									  nn_v4_load(b_hh + H + k));
		nn_v4f		g = nn_v4_tanh(nn_v4_load(z + 2 * H + k) + nn_v4_load(b_ih + 2 * H + k) +
								   nn_v4_load(b_hh + 2 * H + k));
		nn_v4f		o = nn_v4_sigmoid(nn_v4_load(z + 3 * H + k) + nn_v4_load(b_ih + 3 * H + k) +
									  nn_v4_load(b_hh + 3 * H + k));
		nn_v4f		cn = i * g + (c_prev ? f * nn_v4_load(c_prev + k) : zero);
		nn_v4f		t = nn_v4_tanh(cn);

		nn_v4_store(z + k, i);
		nn_v4_store(z + H + k, f);
		nn_v4_store(z + 2 * H + k, g);
		nn_v4_store(z + 3 * H + k, o);
		nn_v4_store(c + k, cn);
		nn_v4_store(tc + k, t);
		nn_v4_store(h + k, o * t);
	}
	for (k = hv; k < H; k++)
	{
		float		i = nn_sigmoidf(z[k] + b_ih[k] + b_hh[k]);
		float		f = nn_sigmoidf(z[H + k] + b_ih[H + k] + b_hh[H + k]);
		float		g = nn_tanhf(z[2 * H + k] + b_ih[2 * H + k] + b_hh[2 * H + k]);
		float		o = nn_sigmoidf(z[3 * H + k] + b_ih[3 * H + k] + b_hh[3 * H + k]);
		float		cn = i * g + (c_prev ? f * c_prev[k] : 0.0f);
		float		t = nn_tanhf(cn);

		z[k] = i;
		z[H + k] = f;
		z[2 * H + k] = g;
		z[3 * H + k] = o;
		c[k] = cn;
		tc[k] = t;
		h[k] = o * t;
	}
}

/*
 * Run one layer over X (T, B, in) into a (Z, C, TC, Hs).  live (T, B) marks
 * real steps; at any other step the row carries its state over (h_t = h_{t-1},
 * c_t = c_{t-1}, gates zero), so left padding leaves the state at zero.
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
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * B, G, w->in,
				1.0f, X, w->in, w->w_ih, w->in, 0.0f, a->Z, G);
	for (t = 0; t < T; t++)
	{
		size_t		row = (size_t) t * B;
		size_t		prev = row - B;

		if (t > 0)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H,
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
 * Backward of lstm_cell for one row: dh (H) total gradient on h, dc (H) the
 * cell gradient arriving from the next step (replaced by the one leaving to
 * the previous step), z (4H) activated gates, c_prev (H) or NULL, tc (H).
 * Writes dz (4H) pre-activation gradients and adds them to db (4H).
 */
static inline void
lstm_cell_backward(int32_t H, const float *dh, float *dc, const float *z,
				   const float *c_prev, const float *tc, float *dz,
				   float *db_ih, float *db_hh)
{
	int32_t		k;

	for (k = 0; k < H; k++)
	{
		float		i = z[k],
					f = z[H + k],
					g = z[2 * H + k],
					o = z[3 * H + k];
		float		t = tc[k];
		float		dcell = dc[k] + dh[k] * o * (1.0f - t * t);
		float		di = dcell * g * i * (1.0f - i);
		float		df = c_prev ? dcell * c_prev[k] * f * (1.0f - f) : 0.0f;
		float		dg = dcell * i * (1.0f - g * g);
		float		dout = dh[k] * t * o * (1.0f - o);

		dc[k] = dcell * f;
		dz[k] = di;
		dz[H + k] = df;
		dz[2 * H + k] = dg;
		dz[3 * H + k] = dout;
		db_ih[k] += di;
		db_ih[H + k] += df;
		db_ih[2 * H + k] += dg;
		db_ih[3 * H + k] += dout;
		db_hh[k] += di;
		db_hh[H + k] += df;
		db_hh[2 * H + k] += dg;
		db_hh[3 * H + k] += dout;
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
								   a->TC + (row + b) * H, dz, dw->b_ih, dw->b_hh);
			else
				memset(dz, 0, sizeof(float) * G);
		}
		if (t == 0)
			break;
		/* gradient on h_{t-1}: through W_hh for real steps, carried otherwise */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G,
					1.0f, dZ + row * G, G, w->w_hh, H, 0.0f, dh, H);
		for (b = 0; b < B; b++)
			if (!live[row + b])
				memcpy(dh + (size_t) b * H, dH + (row + b) * H, sizeof(float) * H);
	}
	/* weight gradients over all steps at once */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, w->in, T * B,
				1.0f, dZ, G, X, w->in, 1.0f, dw->w_ih, w->in);
	if (T > 1)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, (T - 1) * B,
					1.0f, dZ + (size_t) B * G, G, a->Hs, H, 1.0f, dw->w_hh, H);
	if (dX)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T * B, w->in, G,
					1.0f, dZ, G, w->w_ih, w->in, 0.0f, dX, w->in);
}

/*
 * One step of one layer for a single sequence: h, c (H) updated in place
 * from x (in); gates (4H) is workspace.
 */
void
nn_lstm_step(const nn_lstm_weights *w, const float *x, float *h, float *c, float *gates)
{
	int32_t		G = 4 * w->H;

	cblas_sgemv(CblasRowMajor, CblasNoTrans, G, w->in, 1.0f, w->w_ih, w->in,
				x, 1, 0.0f, gates, 1);
	cblas_sgemv(CblasRowMajor, CblasNoTrans, G, w->H, 1.0f, w->w_hh, w->H,
				h, 1, 1.0f, gates, 1);
	/* c updates in place; tanh(c) is not kept, so it shares h's storage */
	lstm_cell(w->H, gates, w->b_ih, w->b_hh, c, c, h, h);
}
