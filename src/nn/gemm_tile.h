/*
 * gemm_tile.h — the kernel of nn_gemm_packed for one vector width, included
 * by gemm_packed.c once per width (no include guard): before including it,
 * define VW (floats a vector), VEC and VEC_U (the GCC vector types of VW
 * floats, aligned and at any alignment), SPLAT(x) (the vector of VW copies
 * of x: a macro, since a function passing VEC by value would change its ABI
 * per clone), and TILE_FN and PANELS_FN (the names of the functions to
 * define); it undefines them at its end.  A column group is 2 VW columns:
 * one panel of NN_PANEL columns at VW 8, two panels side by side at VW 16
 * (the packing pads the panels to an even count, so the second one is
 * always there).  A tile is TILE_ROWS rows by one group (twelve vector
 * accumulators), or for a product of one or two rows, that row by
 * WIDE_GROUPS groups or those two by two groups (eight accumulators), so
 * that enough independent sums are in flight to hide the latency of a
 * multiply-add.
 */

/*
 * The tile of rows r0 .. r0 + nr - 1 and column groups g .. g + ng - 1
 * (columns g * 2 VW ..., G at most; nr and ng constants at each call, so
 * that the accumulators stay in registers) of Z = Z0 + A W^T, A rows lda
 * apart, Z rows ldz apart, the panels of W ldp floats apart.
 */
static inline __attribute__((always_inline)) void
TILE_FN(int32_t nr, int32_t ng, int32_t G, int32_t K, const float *A, size_t lda, int32_t r0,
		int32_t g, const float *Wp, size_t ldp, float *Z, size_t ldz, bool accumulate)
{
	const float *w[2 * WIDE_GROUPS];
	int32_t		col[2 * WIDE_GROUPS];
	VEC			c[TILE_ROWS][2 * WIDE_GROUPS];
	float		t[VW];

	for (int j = 0; j < 2 * ng; j++)
	{
		col[j] = g * 2 * VW + j * VW;
		w[j] = Wp + (size_t) (col[j] / NN_PANEL) * ldp + col[j] % NN_PANEL;
	}
	for (int32_t r = 0; r < nr; r++)
		for (int j = 0; j < 2 * ng; j++)
			c[r][j] = SPLAT(0.0f);
	for (int32_t k = 0; k < K; k++)
	{
		VEC			wk[2 * WIDE_GROUPS];

		for (int j = 0; j < 2 * ng; j++)
			wk[j] = *(const VEC_U *) (w[j] + (size_t) k * NN_PANEL);
		for (int32_t r = 0; r < nr; r++)
		{
			VEC			b = SPLAT(A[(size_t) (r0 + r) * lda + k]);

			for (int j = 0; j < 2 * ng; j++)
				c[r][j] += b * wk[j];
		}
	}
	for (int32_t r = 0; r < nr; r++)
		for (int j = 0; j < 2 * ng; j++)
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
 * width.  One or two rows (a GEMV, as a single history's recurrent step):
 * wide tiles along the columns.  More: column group by column group, so
 * that the group's panels (2 VW K floats) stay in the first-level cache
 * while the rows of A go past them, the last rows of a group in one tile
 * of their count.  One clone per x86-64 level.
 */
NN_SIMD_CLONES static void
PANELS_FN(int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
		  const float *Wp, size_t ldp, float *Z, size_t ldz, bool accumulate)
{
	int32_t		groups = (G + 2 * VW - 1) / (2 * VW);
	int32_t		g = 0;

	if (n == 1)
	{
		for (; g + WIDE_GROUPS <= groups; g += WIDE_GROUPS)
			TILE_FN(1, WIDE_GROUPS, G, K, A, lda, 0, g, Wp, ldp, Z, ldz, accumulate);
		for (; g < groups; g++)
			TILE_FN(1, 1, G, K, A, lda, 0, g, Wp, ldp, Z, ldz, accumulate);
		return;
	}
	if (n == 2)
	{
		for (; g + 2 <= groups; g += 2)
			TILE_FN(2, 2, G, K, A, lda, 0, g, Wp, ldp, Z, ldz, accumulate);
		for (; g < groups; g++)
			TILE_FN(2, 1, G, K, A, lda, 0, g, Wp, ldp, Z, ldz, accumulate);
		return;
	}
	for (; g < groups; g++)
	{
		int32_t		r = 0;

		for (; r + TILE_ROWS <= n; r += TILE_ROWS)
			TILE_FN(TILE_ROWS, 1, G, K, A, lda, r, g, Wp, ldp, Z, ldz, accumulate);
		switch (n - r)
		{
			case 5:
				TILE_FN(5, 1, G, K, A, lda, r, g, Wp, ldp, Z, ldz, accumulate);
				break;
			case 4:
				TILE_FN(4, 1, G, K, A, lda, r, g, Wp, ldp, Z, ldz, accumulate);
				break;
			case 3:
				TILE_FN(3, 1, G, K, A, lda, r, g, Wp, ldp, Z, ldz, accumulate);
				break;
			case 2:
				TILE_FN(2, 1, G, K, A, lda, r, g, Wp, ldp, Z, ldz, accumulate);
				break;
			case 1:
				TILE_FN(1, 1, G, K, A, lda, r, g, Wp, ldp, Z, ldz, accumulate);
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
