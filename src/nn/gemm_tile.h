/*
 * gemm_tile.h — the kernel of nn_gemm_packed for one vector width, included
 * by gemm_packed.c once per width (no include guard): before including it,
 * define VW (floats a vector), VEC and VEC_U (the GCC vector types of VW
 * floats, aligned and at any alignment), SPLAT(x) (the vector of VW copies
 * of x: a macro, since a function passing VEC by value would change its ABI
 * per clone), and TILE_FN and PANELS_FN (the names of the functions to
 * define); it undefines them at its end.  A tile is TILE_ROWS rows by 2 VW
 * columns: one panel of NN_PANEL columns at VW 8, two panels side by side
 * at VW 16 (the packing pads the panels to an even count, so the second one
 * is always there), twelve vector accumulators either way.
 */

/*
 * The tile of rows r0 .. r0 + nr - 1 (nr a constant at each call, so that
 * the accumulators stay in registers) and column group g (columns g * 2 VW
 * ..., G at most) of Z = Z0 + A W^T, A rows lda apart, Z rows ldz apart.
 */
static inline __attribute__((always_inline)) void
TILE_FN(int32_t nr, int32_t G, int32_t K, const float *A, size_t lda, int32_t r0, int32_t g,
		const float *Wp, float *Z, size_t ldz, bool accumulate)
{
	const float *w[2];
	int32_t		col[2];
	VEC			c[TILE_ROWS][2];
	float		t[VW];

	for (int j = 0; j < 2; j++)
	{
		col[j] = g * 2 * VW + j * VW;
		w[j] = Wp + (size_t) (col[j] / NN_PANEL) * K * NN_PANEL + col[j] % NN_PANEL;
	}
	for (int32_t r = 0; r < nr; r++)
		c[r][0] = c[r][1] = SPLAT(0.0f);
	for (int32_t k = 0; k < K; k++)
	{
		VEC			w0 = *(const VEC_U *) (w[0] + (size_t) k * NN_PANEL),
					w1 = *(const VEC_U *) (w[1] + (size_t) k * NN_PANEL);

		for (int32_t r = 0; r < nr; r++)
		{
			VEC			b = SPLAT(A[(size_t) (r0 + r) * lda + k]);

			c[r][0] += b * w0;
			c[r][1] += b * w1;
		}
	}
	for (int32_t r = 0; r < nr; r++)
		for (int j = 0; j < 2; j++)
		{
			float	   *z = Z + (size_t) (r0 + r) * ldz + col[j];
			int32_t		cols = G - col[j] < VW ? G - col[j] : VW;

			if (cols == VW)
			{
				VEC			v = c[r][j];

				if (accumulate)
					v += *(const VEC_U *) z;
				*(VEC_U *) z = v;
			}
			else if (cols > 0)
			{
				*(VEC_U *) t = c[r][j];
				for (int32_t x = 0; x < cols; x++)
					z[x] = accumulate ? z[x] + t[x] : t[x];
			}
		}
}

/*
 * Z (n, G) = A W^T, or Z += A W^T when accumulate, with tiles of this
 * width: column group by column group, so that the group's panels (2 VW K
 * floats) stay in the first-level cache while the rows of A go past them;
 * the last rows of a group in one tile of their count.  One clone per
 * x86-64 level.
 */
NN_SIMD_CLONES static void
PANELS_FN(int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
		  const float *Wp, float *Z, size_t ldz, bool accumulate)
{
	int32_t		groups = (G + 2 * VW - 1) / (2 * VW);

	for (int32_t g = 0; g < groups; g++)
	{
		int32_t		r = 0;

		for (; r + TILE_ROWS <= n; r += TILE_ROWS)
			TILE_FN(TILE_ROWS, G, K, A, lda, r, g, Wp, Z, ldz, accumulate);
		switch (n - r)
		{
			case 5:
				TILE_FN(5, G, K, A, lda, r, g, Wp, Z, ldz, accumulate);
				break;
			case 4:
				TILE_FN(4, G, K, A, lda, r, g, Wp, Z, ldz, accumulate);
				break;
			case 3:
				TILE_FN(3, G, K, A, lda, r, g, Wp, Z, ldz, accumulate);
				break;
			case 2:
				TILE_FN(2, G, K, A, lda, r, g, Wp, Z, ldz, accumulate);
				break;
			case 1:
				TILE_FN(1, G, K, A, lda, r, g, Wp, Z, ldz, accumulate);
				break;
		}
	}
}

/* the parameters go, for the next width */
#undef VW
#undef SPLAT
#undef VEC
#undef VEC_U
#undef TILE_FN
#undef PANELS_FN
