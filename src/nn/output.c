/*
 * output.c — the output layer: projection u = P h, the tied item output
 * table (E_item[j] + mean E_tag[tags(j)]), scores, and the softmax
 * cross-entropy losses (full and sampled) fused with their gradients.
 *
 * The losses work on chunks of NN_OUTPUT_CHUNK positions so that the logits
 * buffer stays small: per chunk one GEMM for the logits, their exponentials
 * in place, then dU = dlogits · out and dout += dlogits^T · U as GEMMs.
 * The GEMMs use BLAS's threads, the exponentials as many of their own.
 */
#include "blas.h"

#include "nn_internal.h"

/* row (D) = item j's row of the item output table: E_item[j] + mean E_tag[tags(j)] */
static void
item_output_row(const nn_model *m, int32_t j, float *row)
{
	const float *e = m->item_emb + (size_t) j * m->cfg.dim;

	nn_item_tag_mean(m, j, row);
	for (int32_t d = 0; d < m->cfg.dim; d++)
		row[d] += e[d];
}

/* item output table (N+1, D): row j = E_item[j] + mean E_tag[tags(j)]; row 0 zero */
void
nn_item_output(const nn_model *m, float *out)
{
	int32_t		D = m->cfg.dim;

	memset(out, 0, sizeof(float) * D);
	for (int32_t j = 1; j <= m->cfg.n_items; j++)
		item_output_row(m, j, out + (size_t) j * D);
}

/*
 * Backward of nn_item_output: dout (N+1, D) into dE_item and dE_tag of g.
 * With touched, only the items flagged in touched->item are read (the rows
 * the loss reached) and the tag rows written are flagged.
 */
void
nn_item_output_backward(const nn_model *m, const float *dout, nn_model *g,
						nn_touched *touched)
{
	int32_t		D = m->cfg.dim;
	int32_t		j,
				k,
				d;

	for (j = 1; j <= m->cfg.n_items; j++)
	{
		const float *dj = dout + (size_t) j * D;
		float	   *ge = g->item_emb + (size_t) j * D;
		int32_t		lo = m->item_tag_ptr[j],
					hi = m->item_tag_ptr[j + 1];

		if (touched && !touched->item[j])
			continue;
		for (d = 0; d < D; d++)
			ge[d] += dj[d];
		for (k = lo; k < hi; k++)
		{
			float	   *gt = g->tag_emb + (size_t) m->item_tag_idx[k] * D;
			float		s = 1.0f / (float) (hi - lo);

			for (d = 0; d < D; d++)
				gt[d] += s * dj[d];
			if (touched)
				touched->tag[m->item_tag_idx[k]] = 1;
		}
	}
}

/* floats of the score table: item_out's rows 1..N packed by nn_pack_cols as W (N, D) */
size_t
nn_score_table_floats(const nn_model *m)
{
	return nn_packed_floats(m->cfg.n_items, m->cfg.dim);
}

/*
 * table (nn_score_table_floats) = the item output table's rows 1..N packed
 * as nn_pack_cols packs W (N, D), each row computed in row (D floats)
 */
void
nn_pack_score_table(const nn_model *m, float *table, float *row)
{
	int32_t		D = m->cfg.dim;

	memset(table, 0, sizeof(float) * nn_score_table_floats(m));
	for (int32_t j = 1; j <= m->cfg.n_items; j++)
	{
		float	   *col = table + (size_t) ((j - 1) / NN_PANEL) * D * NN_PANEL + (j - 1) % NN_PANEL;

		item_output_row(m, j, row);
		for (int32_t d = 0; d < D; d++)
			col[(size_t) d * NN_PANEL] = row[d];
	}
}

/*
 * scores (B, N+1) = U (B, D) · out^T + item_bias, column 0 -inf, on the
 * calling thread with the packed score table (nn_pack_score_table): one
 * pass over the table for any B, with no packing per call as a BLAS GEMM
 * does and no thread to wake as a BLAS GEMV does
 */
void
nn_scores(const nn_model *m, const float *table, const float *u, int32_t B, float *scores)
{
	int32_t		N = m->cfg.n_items,
				D = m->cfg.dim;

	/* the biases first, the products added to them */
	for (int32_t b = 0; b < B; b++)
	{
		float	   *s = scores + (size_t) b * (N + 1);

		s[0] = -INFINITY;
		memcpy(s + 1, m->item_bias + 1, sizeof(float) * N);
	}
	nn_gemm_packed(B, N, D, u, D, table, (size_t) D * NN_PANEL, scores + 1, (size_t) N + 1, true);
}

/*
 * norms (N): the length of items 1..N's rows of the item output table, from
 * the score table (nn_pack_score_table), one panel of rows at a time
 */
void
nn_item_norms(const nn_model *m, const float *table, float *norms)
{
	int32_t		N = m->cfg.n_items,
				D = m->cfg.dim,
				panels = (N + NN_PANEL - 1) / NN_PANEL;
	size_t		ldp = (size_t) D * NN_PANEL;

	for (int32_t p = 0; p < panels; p++)
	{
		const float *panel = table + p * ldp;
		float		sq[NN_PANEL] = {0};

		for (int32_t d = 0; d < D; d++)
			for (int32_t j = 0; j < NN_PANEL; j++)
				sq[j] += panel[(size_t) d * NN_PANEL + j] * panel[(size_t) d * NN_PANEL + j];
		for (int32_t j = 0; j < NN_PANEL && p * NN_PANEL + j < N; j++)
			norms[p * NN_PANEL + j] = sqrtf(sq[j]);
	}
}

/*
 * sims (N+1): sims[j] = the cosine similarity of items q and j (1..N) in the
 * item output table, 0 where either row is zero, sims[0] = 0; from the
 * model's score table and row lengths, with work (D floats) for item q's row.
 */
void
nn_item_similarities(const nn_model *m, const nn_serving *s, int32_t q, float *sims, float *work)
{
	int32_t		N = m->cfg.n_items,
				D = m->cfg.dim;
	size_t		ldp = (size_t) D * NN_PANEL;
	const float *qp = s->score_table + (size_t) ((q - 1) / NN_PANEL) * ldp + (q - 1) % NN_PANEL;
	float		qnorm = s->item_norms[q - 1];

	for (int32_t d = 0; d < D; d++)
		work[d] = qp[(size_t) d * NN_PANEL];
	sims[0] = 0.0f;
	nn_gemm_packed(1, N, D, work, D, s->score_table, ldp, sims + 1, N, false);
	for (int32_t j = 0; j < N; j++)
	{
		float		norm = s->item_norms[j] * qnorm;

		sims[1 + j] = norm > 0.0f ? sims[1 + j] / norm : 0.0f;
	}
}

/* U (P, D) = Hv (P, H) · proj^T, proj (D, H) */
void
nn_project(const float *proj, int32_t D, int32_t H, int32_t P, const float *Hv, float *U)
{
	nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, D, H, 1.0f, Hv, H,
			 proj, H, 0.0f, U, D);
}

/* dHv (P, H) = dU (P, D) · proj; dproj (D, H) += dU^T · Hv */
void
nn_project_backward(const float *proj, int32_t D, int32_t H, int32_t P,
					const float *Hv, const float *dU, float *dHv, float *dproj)
{
	nn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, H, D, 1.0f, dU, D,
			 proj, H, 0.0f, dHv, H);
	nn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, H, P, 1.0f, dU, D,
			 Hv, H, 1.0f, dproj, H);
}

/* largest of the 4 lanes */
static inline float
hmax(nn_v4f v)
{
	float		a = v[0] > v[1] ? v[0] : v[1];
	float		b = v[2] > v[3] ? v[2] : v[3];

	return a > b ? a : b;
}

/*
 * Exponentiate one row of n logits s (n) in place, shifted by its maximum
 * after adding bias (n, may be NULL): s_j becomes exp(s_j + b_j - max).
 * Returns the sum of the exponentials, so that the row's cross-entropy
 * against column tgt is log(sum) - *tgt_shifted.  Two passes over the row
 * (it stays in L1/L2): bias and max, exp and sum; the max and the sum run
 * in 4-float vectors with two accumulators, the rest is vectorised by the
 * compiler.
 */
NN_SIMD_CLONES static float
softmax_exp_row(float *s, int32_t n, int32_t tgt, const float *bias, float *tgt_shifted)
{
	const nn_v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
	nn_v4f		m0 = zero - INFINITY,
				m1 = m0,
				a0 = zero,
				a1 = zero;
	float		mx,
				sum;
	int32_t		j,
				nv = n - n % 8;

	if (bias)
		for (j = 0; j < n; j++)
			s[j] += bias[j];
	for (j = 0; j < nv; j += 8)
	{
		m0 = nn_v4_max(m0, nn_v4_load(s + j));
		m1 = nn_v4_max(m1, nn_v4_load(s + j + 4));
	}
	mx = hmax(nn_v4_max(m0, m1));
	for (j = nv; j < n; j++)
		mx = s[j] > mx ? s[j] : mx;
	*tgt_shifted = s[tgt] - mx;

	for (j = 0; j < n; j++)
		s[j] = nn_expf(s[j] - mx);
	for (j = 0; j < nv; j += 8)
	{
		a0 += nn_v4_load(s + j);
		a1 += nn_v4_load(s + j + 4);
	}
	a0 += a1;
	sum = (a0[0] + a0[1]) + (a0[2] + a0[3]);
	for (j = nv; j < n; j++)
		sum += s[j];
	return sum;
}

/* s (n) = exp(s + bias - shift), elementwise */
NN_SIMD_CLONES static void
exp_shifted_row(float *restrict s, const float *restrict bias, float shift, int32_t n)
{
	int32_t		j;

	for (j = 0; j < n; j++)
		s[j] = nn_expf(s[j] + bias[j] - shift);
}

/* rows of the exponentials pass of nn_output_full */
typedef struct exp_rows
{
	float	   *E;				/* (rows, N) logits, exponentiated in place */
	const float *bias;			/* (N) */
	const float *shift;			/* (rows) */
	int32_t		N;
} exp_rows;

/* nn_rows_fn: rows r0..r1-1 of E = exp(E + bias - shift) */
static void
exp_rows_fn(void *ctx, int32_t slice, int32_t r0, int32_t r1)
{
	exp_rows   *x = ctx;
	int32_t		r;

	for (r = r0; r < r1; r++)
		exp_shifted_row(x->E + (size_t) r * x->N, x->bias, x->shift[r], x->N);
}

/* dot product of a and b (n) */
static float
dot(const float *a, const float *b, int32_t n)
{
	float		s = 0.0f;
	int32_t		i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* largest Euclidean norm among the rows of x (rows, D) */
static float
max_row_norm(const float *x, int32_t rows, int32_t D)
{
	float		m = 0.0f;
	int32_t		r;

	for (r = 0; r < rows; r++)
	{
		float		n2 = dot(x + (size_t) r * D, x + (size_t) r * D, D);

		m = n2 > m ? n2 : m;
	}
	return sqrtf(m);
}

/* smallest row sum of exp(logit - shift) trusted from the bound shift */
#define NN_TINY_SUM 1e-20f

/*
 * floats of nn_output_full's workspace for N items of D floats: a chunk's
 * exponentials (NN_OUTPUT_CHUNK, N), its rows of U times w
 * (NN_OUTPUT_CHUNK, D), w and z (NN_OUTPUT_CHUNK each), ones (N) and the
 * transposed sum (D, N)
 */
size_t
nn_output_full_work_floats(int32_t N, int32_t D)
{
	return (size_t) NN_OUTPUT_CHUNK * ((size_t) N + D + 2) + (size_t) N + (size_t) D * N;
}

/*
 * Full-softmax cross-entropy of P positions: U (P, D), targets (P) in 1..N,
 * out (N+1, D), bias (N+1).  Returns the summed loss; writes dU (P, D) and
 * adds into dout (N+1, D) and dbias (N+1) the gradients of scale * loss.
 * work has nn_output_full_work_floats(N, D) floats.  Column 0 (padding) is
 * left out.
 *
 * One pass over the logits: each row is exponentiated against a shift known
 * in advance, the Cauchy-Schwarz bound m_p = |u_p| max_j |out_j| + max_j b_j
 * >= every logit of the row, so nothing overflows; the row sums z_p come
 * from a GEMV with a ones vector.  A row whose sum is tiny (the bound far
 * above its largest logit) is redone with its true maximum.  The
 * normalisation w_p = scale / z_p then goes into the small operands:
 *   dU = diag(w) E out - scale out[targets]
 *   dout += E^T diag(w) U - scale onehot^T U,  dbias += E^T w - scale onehot.
 * The product E^T diag(w) U is summed over the chunks transposed, as
 * (diag(w) U)^T E (D, N), and added into dout once at the end: with E as
 * its second operand in its own layout, the BLAS packs it faster than as a
 * transposed first one (training 12 % faster at 9,724 items, D 64,
 * OpenBLAS Zen: docs/cpu-and-blas.md).
 */
double
nn_output_full(int32_t N, int32_t D, int32_t P, const float *U,
			   const int32_t *targets, const float *out, const float *bias,
			   float scale, float *dU, float *dout, float *dbias, float *work)
{
	float	   *E = work;		/* (chunk, N) */
	float	   *Uw = E + (size_t) NN_OUTPUT_CHUNK * N;	/* (chunk, D) rows of U times w */
	float	   *w = Uw + (size_t) NN_OUTPUT_CHUNK * D;	/* (chunk) */
	float	   *z = w + NN_OUTPUT_CHUNK;	/* (chunk) row sums */
	float	   *ones = z + NN_OUTPUT_CHUNK; /* (N) */
	float	   *doutT = ones + N;	/* (D, N): sum over the chunks of (diag(w) U)^T E */
	float		out_norm = max_row_norm(out + D, N, D);
	float		bias_max = -INFINITY,
				shift,
				st;
	double		loss = 0.0;
	exp_rows	xr;
	int32_t		p0,
				c,
				r,
				d,
				j;

	xr.bias = bias + 1;
	xr.N = N;
	for (j = 1; j <= N; j++)
	{
		bias_max = bias[j] > bias_max ? bias[j] : bias_max;
		ones[j - 1] = 1.0f;
	}
	memset(doutT, 0, sizeof(float) * (size_t) D * N);
	for (p0 = 0; p0 < P; p0 += NN_OUTPUT_CHUNK)
	{
		const float *Uc = U + (size_t) p0 * D;
		float	   *dUc = dU + (size_t) p0 * D;

		c = P - p0 < NN_OUTPUT_CHUNK ? P - p0 : NN_OUTPUT_CHUNK;
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, N, D, 1.0f, Uc, D,
				 out + D, D, 0.0f, E, N);
		for (r = 0; r < c; r++)		/* w holds each row's shift until its sum is known */
			w[r] = sqrtf(dot(Uc + (size_t) r * D, Uc + (size_t) r * D, D)) * out_norm + bias_max;
		xr.E = E;
		xr.shift = w;
		nn_parallel_rows(c, 16, exp_rows_fn, &xr);
		nn_sgemv(CblasRowMajor, CblasNoTrans, c, N, 1.0f, E, N, ones, 1, 0.0f, z, 1);
		for (r = 0; r < c; r++)
		{
			const float *u = Uc + (size_t) r * D;
			int32_t		t = targets[p0 + r];
			float		logit = dot(u, out + (size_t) t * D, D) + bias[t];

			shift = w[r];
			if (!(z[r] >= NN_TINY_SUM))
			{
				/* the bound was too loose (or the row is not finite): exact redo */
				nn_sgemv(CblasRowMajor, CblasNoTrans, N, D, 1.0f, out + D, D, u, 1,
						 0.0f, E + (size_t) r * N, 1);
				z[r] = softmax_exp_row(E + (size_t) r * N, N, t - 1, bias + 1, &st);
				shift = logit - st;
			}
			loss += log((double) z[r]) + (double) shift - (double) logit;
			w[r] = scale / z[r];
			for (d = 0; d < D; d++)
				Uw[(size_t) r * D + d] = w[r] * u[d];
		}
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, D, N, 1.0f, E, N,
				 out + D, D, 0.0f, dUc, D);
		nn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, N, c, 1.0f, Uw, D,
				 E, N, 1.0f, doutT, N);
		nn_sgemv(CblasRowMajor, CblasTrans, c, N, 1.0f, E, N, w, 1, 1.0f, dbias + 1, 1);
		for (r = 0; r < c; r++)
		{
			int32_t		t = targets[p0 + r];
			const float *ot = out + (size_t) t * D;
			const float *u = Uc + (size_t) r * D;
			float	   *du = dUc + (size_t) r * D;

			for (d = 0; d < D; d++)
			{
				du[d] = w[r] * du[d] - scale * ot[d];
				dout[(size_t) t * D + d] -= scale * u[d];
			}
			dbias[t] -= scale;
		}
	}
	for (j = 0; j < N; j++)
		for (d = 0; d < D; d++)
			dout[(size_t) (j + 1) * D + d] += doutT[(size_t) d * N + j];
	return loss;
}

/*
 * Sampled softmax with K shared negatives neg (K) and logQ correction logq
 * (N+1, log of each item's expected count among the draws): position p's
 * logits are its target's (column 0) and the negatives' (a negative equal to
 * the target is masked out), each minus its logq.  Shapes and outputs as
 * nn_output_full; gradients reach only the target and negative rows.
 * Workspace: logits (NN_OUTPUT_CHUNK, K + 1), nout (K, D), dnout (K, D).
 */
double
nn_output_sampled(int32_t D, int32_t P, const float *U,
				  const int32_t *targets, int32_t K, const int32_t *neg,
				  const float *logq, const float *out, const float *bias,
				  float scale, float *dU, float *dout, float *dbias,
				  float *logits, float *nout, float *dnout)
{
	double		loss = 0.0;
	int32_t		W = K + 1;
	float		z,
				st;
	int32_t		p0,
				c,
				r,
				k,
				d;

	for (k = 0; k < K; k++)
		memcpy(nout + (size_t) k * D, out + (size_t) neg[k] * D, sizeof(float) * D);
	memset(dnout, 0, sizeof(float) * (size_t) K * D);
	for (p0 = 0; p0 < P; p0 += NN_OUTPUT_CHUNK)
	{
		const float *Uc = U + (size_t) p0 * D;
		float	   *dUc = dU + (size_t) p0 * D;

		c = P - p0 < NN_OUTPUT_CHUNK ? P - p0 : NN_OUTPUT_CHUNK;
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, K, D, 1.0f, Uc, D,
				 nout, D, 0.0f, logits + 1, W);
		for (r = 0; r < c; r++)
		{
			float	   *s = logits + (size_t) r * W;
			const float *u = Uc + (size_t) r * D;
			int32_t		tgt = targets[p0 + r];
			const float *ot = out + (size_t) tgt * D;
			float		dot = 0.0f;

			for (d = 0; d < D; d++)
				dot += u[d] * ot[d];
			s[0] = dot + bias[tgt] - logq[tgt];
			for (k = 0; k < K; k++)
				s[k + 1] = neg[k] == tgt ? -INFINITY : s[k + 1] + bias[neg[k]] - logq[neg[k]];
			z = softmax_exp_row(s, W, 0, NULL, &st);
			loss += log((double) z) - (double) st;
			for (k = 0; k <= K; k++)
				s[k] *= scale / z;
			s[0] -= scale;
			for (k = 0; k < K; k++)
			{
				if (neg[k] == tgt)
					s[k + 1] = 0.0f;
				dbias[neg[k]] += s[k + 1];
			}
			dbias[tgt] += s[0];
			for (d = 0; d < D; d++)
				dout[(size_t) tgt * D + d] += s[0] * u[d];
		}
		/* dU = dlogits[:, 1:] · nout + dlogit[:, 0] * out[target] */
		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, D, K, 1.0f, logits + 1, W,
				 nout, D, 0.0f, dUc, D);
		for (r = 0; r < c; r++)
		{
			const float *ot = out + (size_t) targets[p0 + r] * D;
			float		g0 = logits[(size_t) r * W];

			for (d = 0; d < D; d++)
				dUc[(size_t) r * D + d] += g0 * ot[d];
		}
		nn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, c, 1.0f, logits + 1, W,
				 Uc, D, 1.0f, dnout, D);
	}
	for (k = 0; k < K; k++)
		for (d = 0; d < D; d++)
			dout[(size_t) neg[k] * D + d] += dnout[(size_t) k * D + d];
	return loss;
}
