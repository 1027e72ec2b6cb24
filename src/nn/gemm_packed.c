/*
 * gemm_packed.c — the matrix product of a batch inference's steps, Z = A W^T
 * with W (G, K) packed once per batch into panels of NN_PANEL columns of
 * Z, so that the many small products of a wave (a few dozen rows each, one
 * per layer and step) do not pack the weights again every time as a BLAS
 * call does.  A register tile of 6 rows by NN_PANEL columns, written with
 * GCC vector types and compiled for each x86-64 level (NN_SIMD_CLONES).
 */
#include "nn_internal.h"

/* 8 floats as one vector; loaded and stored at any alignment */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));

/* rows of the register tile */
#define TILE_ROWS 6

/* floats of W (G, K) packed: ceil(G / NN_PANEL) panels of (K, NN_PANEL) */
size_t
nn_packed_floats(int32_t G, int32_t K)
{
	return (size_t) ((G + NN_PANEL - 1) / NN_PANEL) * NN_PANEL * (size_t) K;
}

/*
 * Pack the G rows of W (G, K), row g made of its first K1 floats at
 * w1 + g * ld1 and its other K - K1 at w2 + g * ld2 (two matrices side by
 * side, as [W_ih | W_hh]), into Wp (nn_packed_floats(G, K)): panel p holds
 * for each k the NN_PANEL values W[p * NN_PANEL + j][k], zero past row G.
 */
void
nn_pack_cols(int32_t G, int32_t K, const float *w1, size_t ld1, int32_t K1,
			 const float *w2, size_t ld2, float *Wp)
{
	int32_t		panels = (G + NN_PANEL - 1) / NN_PANEL;

	for (int32_t p = 0; p < panels; p++)
		for (int32_t k = 0; k < K; k++)
			for (int32_t j = 0; j < NN_PANEL; j++)
			{
				int32_t		g = p * NN_PANEL + j;

				*Wp++ = g >= G ? 0.0f : (k < K1 ? w1[(size_t) g * ld1 + k]
										 : w2[(size_t) g * ld2 + (k - K1)]);
			}
}

/* the vector of 8 copies of x (a macro: a function passing v8f by value would change its ABI per clone) */
#define splat(x) ((v8f) {(x), (x), (x), (x), (x), (x), (x), (x)})

/*
 * Store the tile's row (two vectors *c0, *c1: NN_PANEL columns) into z: its
 * first cols columns, added to z's values when accumulate.
 */
static inline __attribute__((always_inline)) void
store_row(float *z, const v8f *c0, const v8f *c1, int32_t cols, bool accumulate)
{
	float		t[NN_PANEL];

	if (cols == NN_PANEL)
	{
		v8f			z0 = *c0,
					z1 = *c1;

		if (accumulate)
		{
			z0 += *(const v8f_u *) z;
			z1 += *(const v8f_u *) (z + 8);
		}
		*(v8f_u *) z = z0;
		*(v8f_u *) (z + 8) = z1;
		return;
	}
	*(v8f_u *) t = *c0;
	*(v8f_u *) (t + 8) = *c1;
	for (int32_t j = 0; j < cols; j++)
		z[j] = accumulate ? z[j] + t[j] : t[j];
}

/* one panel wp (K, NN_PANEL) times TILE_ROWS rows of A (lda apart) into Z (ldz apart) */
static inline __attribute__((always_inline)) void
tile_full(int32_t K, const float *A, size_t lda, const float *wp, float *Z, size_t ldz,
		  int32_t cols, bool accumulate)
{
	const float *a0 = A,
			   *a1 = A + lda,
			   *a2 = A + 2 * lda,
			   *a3 = A + 3 * lda,
			   *a4 = A + 4 * lda,
			   *a5 = A + 5 * lda;
	v8f			c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0},
				c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};

	for (int32_t k = 0; k < K; k++, wp += NN_PANEL)
	{
		v8f			w0 = *(const v8f_u *) wp,
					w1 = *(const v8f_u *) (wp + 8),
					b;

		b = splat(a0[k]);
		c00 += b * w0;
		c01 += b * w1;
		b = splat(a1[k]);
		c10 += b * w0;
		c11 += b * w1;
		b = splat(a2[k]);
		c20 += b * w0;
		c21 += b * w1;
		b = splat(a3[k]);
		c30 += b * w0;
		c31 += b * w1;
		b = splat(a4[k]);
		c40 += b * w0;
		c41 += b * w1;
		b = splat(a5[k]);
		c50 += b * w0;
		c51 += b * w1;
	}
	store_row(Z, &c00, &c01, cols, accumulate);
	store_row(Z + ldz, &c10, &c11, cols, accumulate);
	store_row(Z + 2 * ldz, &c20, &c21, cols, accumulate);
	store_row(Z + 3 * ldz, &c30, &c31, cols, accumulate);
	store_row(Z + 4 * ldz, &c40, &c41, cols, accumulate);
	store_row(Z + 5 * ldz, &c50, &c51, cols, accumulate);
}

/* one panel wp (K, NN_PANEL) times one row a of A into z */
static inline __attribute__((always_inline)) void
tile_row(int32_t K, const float *a, const float *wp, float *z, int32_t cols, bool accumulate)
{
	v8f			c0 = {0},
				c1 = {0};

	for (int32_t k = 0; k < K; k++, wp += NN_PANEL)
	{
		v8f			b = splat(a[k]);

		c0 += b * *(const v8f_u *) wp;
		c1 += b * *(const v8f_u *) (wp + 8);
	}
	store_row(z, &c0, &c1, cols, accumulate);
}

/*
 * nn_gemm_packed's work, one clone per x86-64 level (static: clang emits
 * the dispatcher of a function with clones only where it is called).
 * Panel by panel, so that a panel (K * NN_PANEL floats) stays in the
 * first-level cache while the rows of A go past it.
 */
NN_SIMD_CLONES static void
gemm_panels(int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
			const float *Wp, float *Z, size_t ldz, bool accumulate)
{
	int32_t		panels = (G + NN_PANEL - 1) / NN_PANEL;

	for (int32_t p = 0; p < panels; p++)
	{
		const float *wp = Wp + (size_t) p * K * NN_PANEL;
		int32_t		cols = G - p * NN_PANEL < NN_PANEL ? G - p * NN_PANEL : NN_PANEL,
					r = 0;
		float	   *z = Z + (size_t) p * NN_PANEL;

		for (; r + TILE_ROWS <= n; r += TILE_ROWS)
			tile_full(K, A + (size_t) r * lda, lda, wp, z + (size_t) r * ldz, ldz, cols, accumulate);
		for (; r < n; r++)
			tile_row(K, A + (size_t) r * lda, wp, z + (size_t) r * ldz, cols, accumulate);
	}
}

/*
 * Z (n, G; rows ldz apart) = A (n, K; rows lda apart) W^T, or Z += A W^T
 * when accumulate, W packed by nn_pack_cols into Wp.
 */
void
nn_gemm_packed(int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
			   const float *Wp, float *Z, size_t ldz, bool accumulate)
{
	gemm_panels(n, G, K, A, lda, Wp, Z, ldz, accumulate);
}
