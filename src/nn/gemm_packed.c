/*
 * gemm_packed.c — the matrix product of a batch inference's steps, Z = A W^T
 * with W (G, K) packed once per batch into panels of NN_PANEL columns of
 * Z, so that the many small products of a wave (a few dozen rows each, one
 * per layer and step) do not pack the weights again every time as a BLAS
 * call does; a single history's steps (one row) run on the same panels.
 * Register tiles of 6 rows by two vectors (one row by eight for one row), written with GCC
 * vector types (gemm_tile.h) for vectors of 8 floats (AVX2) and of 16
 * (AVX-512), each compiled for each x86-64 level (NN_SIMD_CLONES); the CPU's
 * feature bits choose the width.
 */
#include <pthread.h>
#include <string.h>

#include "blas.h"
#include "nn_internal.h"

/* rows of a register tile */
#define TILE_ROWS 6

/* column groups of the tile of a one-row product */
#define WIDE_GROUPS 4

/* panels of W (G, K) packed: ceil(G / NN_PANEL), padded to an even count (a 16-float tile takes two) */
static int32_t
packed_panels(int32_t G)
{
	int32_t		panels = (G + NN_PANEL - 1) / NN_PANEL;

	return panels + panels % 2;
}

/* floats of W (G, K) packed: packed_panels(G) panels of (K, NN_PANEL) */
size_t
nn_packed_floats(int32_t G, int32_t K)
{
	return (size_t) packed_panels(G) * NN_PANEL * (size_t) K;
}

/*
 * Pack the G rows of W (G, K), row g made of its first K1 floats at
 * w1 + g * ld1 and its other K - K1 at w2 + g * ld2 (two matrices side by
 * side, as [W_ih | W_hh]), into Wp (nn_packed_floats(G, K)): panel p holds
 * for each k the NN_PANEL values W[p * NN_PANEL + j][k], zero past row G
 * (and in the panel that pads the count to an even one).
 */
void
nn_pack_cols(int32_t G, int32_t K, const float *w1, size_t ld1, int32_t K1,
			 const float *w2, size_t ld2, float *Wp)
{
	int32_t		panels = packed_panels(G);

	for (int32_t p = 0; p < panels; p++)
		for (int32_t k = 0; k < K; k++)
			for (int32_t j = 0; j < NN_PANEL; j++)
			{
				int32_t		g = p * NN_PANEL + j;

				*Wp++ = g >= G ? 0.0f : (k < K1 ? w1[(size_t) g * ld1 + k]
										 : w2[(size_t) g * ld2 + (k - K1)]);
			}
}

/* vectors of 8 floats: tiles of 6 rows by one panel */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));

#define VW 8
#define SPLAT(x) ((v8f) {(x), (x), (x), (x), (x), (x), (x), (x)})
#define VEC v8f
#define VEC_U v8f_u
#define TILE_FN tile_8
#define PANELS_FN panels_8
#include "gemm_tile.h"

/* vectors of 16 floats: tiles of 6 rows by two panels */
typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));

#define VW 16
#define SPLAT(x) ((v16f) {(x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x)})
#define VEC v16f
#define VEC_U v16f_u
#define TILE_FN tile_16
#define PANELS_FN panels_16
#include "gemm_tile.h"

/*
 * nn_gemm_packed with vectors of width floats (8 or 16), whatever the CPU:
 * the kernel's clone for the CPU's level runs either (a width the CPU has
 * no registers for in two or four pieces), so that both are tested
 * everywhere.
 */
void
nn_gemm_packed_width(int32_t width, int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
					 const float *Wp, size_t ldp, float *Z, size_t ldz, bool accumulate)
{
	if (width == 16)
		panels_16(n, G, K, A, lda, Wp, ldp, Z, ldz, accumulate);
	else
		panels_8(n, G, K, A, lda, Wp, ldp, Z, ldz, accumulate);
}

static pthread_once_t width_once = PTHREAD_ONCE_INIT;
static int32_t width_chosen;

/*
 * pthread_once: 16-float vectors on an x86-64-v4 CPU (AVX-512 saved by the
 * OS), else 8 (always 8 in a benchmark's build with NN_SIMD_NO_V4)
 */
static void
choose_width(void)
{
#ifdef NN_SIMD_NO_V4
	width_chosen = 8;
#else
	width_chosen = strcmp(nn_cpu_level(nn_cpu_features()), "x86-64-v4") == 0 ? 16 : 8;
#endif
}

/* the vector width nn_gemm_packed uses on this CPU: 16 floats with AVX-512, else 8 */
int32_t
nn_gemm_width(void)
{
	pthread_once(&width_once, choose_width);
	return width_chosen;
}

/*
 * Z (n, G; rows ldz apart) = A (n, K; rows lda apart) W^T, or Z += A W^T
 * when accumulate, W packed by nn_pack_cols into panels ldp floats apart
 * starting at Wp, with the CPU's vector width (nn_gemm_width).  W may be K
 * consecutive columns of a wider packed matrix: Wp then points k0 *
 * NN_PANEL floats into it and ldp is its panels' stride.
 */
void
nn_gemm_packed(int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
			   const float *Wp, size_t ldp, float *Z, size_t ldz, bool accumulate)
{
	nn_gemm_packed_width(nn_gemm_width(), n, G, K, A, lda, Wp, ldp, Z, ldz, accumulate);
}
