/*
 * adam.c — the Adam update (PyTorch's formulation), dense and row-wise for
 * lazy updates of embedding rows, and the global gradient norm for clipping.
 */
#include "nn_internal.h"

/* set the per-step coefficients of a for step number step (1-based) */
void
nn_adam_begin(nn_adam *a, int64_t step, float grad_scale)
{
	a->step_size = a->lr / (float) (1.0 - pow((double) a->beta1, (double) step));
	a->inv_sqrt_bc2 = (float) (1.0 / sqrt(1.0 - pow((double) a->beta2, (double) step)));
	a->grad_scale = grad_scale;
}

/*
 * One Adam step on n parameters p (n) with moments m, v (n) from the
 * gradient g (n) times a->grad_scale:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 */
void
nn_adam_update(const nn_adam *a, float *p, const float *g, float *m, float *v, size_t n)
{
	float		b1 = a->beta1,
				b2 = a->beta2;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		gi = g[i] * a->grad_scale;

		m[i] = b1 * m[i] + (1.0f - b1) * gi;
		v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
		p[i] -= a->step_size * m[i] / (sqrtf(v[i]) * a->inv_sqrt_bc2 + a->eps);
	}
}

/*
 * Lazy Adam on a table of rows of width floats: only the rows flagged in
 * touched (rows) are updated.
 */
void
nn_adam_rows(const nn_adam *a, float *p, const float *g, float *m, float *v,
			 size_t width, int32_t rows, uint8_t *touched)
{
	int32_t		r;
	size_t		o;

	for (r = 0; r < rows; r++)
		if (touched[r])
		{
			o = (size_t) r * width;
			nn_adam_update(a, p + o, g + o, m + o, v + o, width);
		}
}

/* Euclidean norm of g (n), summed in double */
double
nn_grad_norm(const float *g, size_t n)
{
	double		s = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
		s += (double) g[i] * g[i];
	return sqrt(s);
}
