/*
 * test_gemm_packed.c — src/nn/gemm_packed.c: Z = A W^T and Z += A W^T with
 * W packed from two matrices side by side, against a double-precision sum
 * (within the error bound of a float32 sum of K terms), with vectors of 8
 * and of 16 floats whatever the CPU, over shapes that exercise every edge
 * of the tiling (rows not a multiple of the 6-row tile, columns not a
 * multiple of a panel or of two, the wide tiles of one and two rows with
 * and without a remainder, no row, one column, strides wider than the
 * rows, a product with the last columns of a wider packed matrix); and
 * nn_parallel_chunks's split of rows between threads, and nn_chunks joined by a
 * thread of their own or stopped.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"
#include "testlib.h"

/* uniform in [-1, 1] */
static float
draw(nn_rng *r)
{
	return 2.0f * nn_rng_uniform(r) - 1.0f;
}

/*
 * One shape: W = [W1 (G, K1) | W2 (G, K - K1)] with row strides K1 + 3 and
 * K - K1 + 5, packed whole; n rows of A (K - k0 columns, lda apart) times
 * W's columns k0 .. K - 1 (the packed matrix from column k0 on, with its
 * panel stride), Z (n, G; ldz apart) starting from random values; checks
 * the product and the accumulation against double sums, and that Z's
 * padding columns stay untouched.
 */
static void
check_shape(int32_t width, int32_t n, int32_t G, int32_t K, int32_t K1, int32_t k0, int32_t kn,
			size_t lda, size_t ldz)
{
	size_t		ld1 = (size_t) K1 + 3,
				ld2 = (size_t) (K - K1) + 5;
	size_t		rows = n > 0 ? (size_t) n : 1;	/* malloc(0) may be NULL */
	float	   *A = malloc(sizeof(float) * rows * lda),
			   *W1 = malloc(sizeof(float) * G * ld1),
			   *W2 = malloc(sizeof(float) * G * ld2),
			   *Wp = malloc(sizeof(float) * nn_packed_floats(G, K)),
			   *Z0 = malloc(sizeof(float) * rows * ldz),
			   *Z = malloc(sizeof(float) * rows * ldz);
	double		err_set = 0.0,
				err_add = 0.0;
	int			pad_ok = 1;
	nn_rng		r;

	nn_rng_seed(&r, (uint64_t) (n * 1000 + G * 10 + K));
	for (size_t i = 0; i < (size_t) n * lda; i++)
		A[i] = draw(&r);
	for (size_t i = 0; i < (size_t) G * ld1; i++)
		W1[i] = draw(&r);
	for (size_t i = 0; i < (size_t) G * ld2; i++)
		W2[i] = draw(&r);
	for (size_t i = 0; i < rows * ldz; i++)
		Z0[i] = draw(&r);
	nn_pack_cols(G, K, W1, ld1, K1, W2, ld2, Wp);
	for (int accumulate = 0; accumulate <= 1; accumulate++)
	{
		memcpy(Z, Z0, sizeof(float) * rows * ldz);
		nn_gemm_packed_width(width, n, G, kn, A, lda, Wp + (size_t) k0 * NN_PANEL,
							 (size_t) K * NN_PANEL, Z, ldz, accumulate);
		for (int32_t i = 0; i < n; i++)
		{
			for (int32_t g = 0; g < G; g++)
			{
				double		want = accumulate ? Z0[i * ldz + g] : 0.0,
							mag = fabs(want),
							e;

				for (int32_t k = k0; k < k0 + kn; k++)
				{
					double		p = (double) A[i * lda + (k - k0)] *
						(k < K1 ? W1[g * ld1 + k] : W2[g * ld2 + (k - K1)]);

					want += p;
					mag += fabs(p);
				}
				/* relative to float32 summation's bound (K + 1) u sum |terms| */
				e = fabs(Z[i * ldz + g] - want) / ((kn + 1) * 0x1p-24 * mag + 1e-30);
				if (accumulate)
					err_add = e > err_add ? e : err_add;
				else
					err_set = e > err_set ? e : err_set;
			}
			for (size_t g = (size_t) G; g < ldz; g++)
				pad_ok &= Z[i * ldz + g] == Z0[i * ldz + g];
		}
		for (size_t g = 0; n == 0 && g < ldz; g++)
			pad_ok &= Z[g] == Z0[g];	/* no row: Z untouched */
	}
	tap_ok(err_set <= 1.0 && err_add <= 1.0 && pad_ok,
		   "vectors of %d: n %d, G %d, K %d (%d + %d), columns %d to %d, lda %zu, ldz %zu: Z = A W^T and "
		   "Z += A W^T within float32 summation's error bound (at most %.2g and %.2g of it), columns "
		   "past G untouched", width, n, G, K, K1, K - K1, k0, k0 + kn - 1, lda, ldz, err_set, err_add);
	free(A);
	free(W1);
	free(W2);
	free(Wp);
	free(Z0);
	free(Z);
}

/*
 * The rows of an nn_parallel_chunks or nn_chunks run: how often each was
 * visited, and how many chunks were wrong (longer than asked, empty, of a
 * slice outside 0 .. max_slice, or of a slice whose previous chunk was
 * still running on another thread)
 */
typedef struct chunk_visits
{
	atomic_int	visits[200];
	atomic_int	wrong;
	atomic_int	busy[NN_MAX_SLICES + 1];	/* 1 while a chunk of that slice runs */
	int32_t		chunk,
				max_slice,
				stop_at;		/* the chunk starting at this row stops chunks; -1: none */
	nn_chunks  *chunks;
} chunk_visits;

/* nn_rows_fn: count the visit of rows [r0, r1) by slice, a little slowly so that chunks overlap */
static void
visit_rows(void *arg, int32_t slice, int32_t r0, int32_t r1)
{
	chunk_visits *v = arg;
	volatile int spin = 0;

	if (r1 - r0 > v->chunk || r1 <= r0 || slice < 0 || slice > v->max_slice ||
		atomic_exchange(&v->busy[slice], 1) != 0)
	{
		atomic_fetch_add(&v->wrong, 1);
		return;
	}
	if (r0 == v->stop_at)
		nn_chunks_stop(v->chunks);
	for (int32_t r = r0; r < r1; r++)
		atomic_fetch_add(&v->visits[r], 1);
	while (spin < 20000)
		spin = spin + 1;
	atomic_store(&v->busy[slice], 0);
}

/* set v up for rows counted by chunks of chunk rows on slices 0 .. max_slice */
static void
chunk_visits_init(chunk_visits *v, int32_t chunk, int32_t max_slice, int32_t stop_at, nn_chunks *chunks)
{
	for (int32_t r = 0; r < 200; r++)
		atomic_init(&v->visits[r], 0);
	for (int32_t s = 0; s <= NN_MAX_SLICES; s++)
		atomic_init(&v->busy[s], 0);
	atomic_init(&v->wrong, 0);
	v->chunk = chunk;
	v->max_slice = max_slice;
	v->stop_at = stop_at;
	v->chunks = chunks;
}

/* nn_parallel_chunks visits every row once, in chunks of at most chunk rows, on any thread count */
static void
check_chunks(int32_t threads, int32_t rows, int32_t chunk)
{
	chunk_visits v;
	int			once = 1;

	chunk_visits_init(&v, chunk, NN_MAX_SLICES - 1, -1, NULL);
	nn_parallel_chunks(threads, rows, chunk, visit_rows, &v);
	for (int32_t r = 0; r < 200; r++)
		once &= atomic_load(&v.visits[r]) == (r < rows ? 1 : 0);
	tap_ok(once && atomic_load(&v.wrong) == 0,
		   "nn_parallel_chunks on %d threads, %d rows, chunks of %d: every row once, no chunk longer",
		   threads, rows, chunk);
}

/* the chunks of check_joined_chunks, and the threads and first slice nn_chunks_run takes them on */
typedef struct joined_chunks
{
	nn_chunks	c;
	int32_t		threads,
				first_slice;
} joined_chunks;

/* nn_async job: nn_chunks_run on j->threads threads, slices from j->first_slice */
static void
run_chunks_job(void *arg)
{
	joined_chunks *j = arg;

	nn_chunks_run(&j->c, j->threads, j->first_slice);
}

/*
 * nn_chunks_run on threads threads as a job (slices 1 .. threads; none
 * when threads is 0), this thread taking chunks as slice 0 at the same
 * time, no slice on two threads at once: without a stop (stop_at -1) every
 * row once; stopped before the run (-2), no row; stopped by the chunk
 * starting at row stop_at, every row up to the end of that chunk once and
 * none twice (other threads may have taken chunks past it before the stop),
 * and alone (threads 0) no row past it
 */
static void
check_joined_chunks(int32_t threads, int32_t rows, int32_t chunk, int32_t stop_at)
{
	chunk_visits v;
	joined_chunks j = {.threads = threads};
	nn_async	job;
	int			ok = 1,
				past = 0;
	int32_t		end = stop_at == -1 ? rows : (stop_at == -2 ? 0 : stop_at + chunk);

	chunk_visits_init(&v, chunk, threads, stop_at, &j.c);
	nn_chunks_init(&j.c, rows, chunk, visit_rows, &v);
	j.first_slice = 1;
	if (stop_at == -2)
		nn_chunks_stop(&j.c);
	if (threads == 0)
		nn_chunks_take(&j.c, 0);
	else if (nn_async_start(&job, run_chunks_job, &j))
	{
		nn_chunks_take(&j.c, 0);
		nn_async_wait(&job);
	}
	else
		run_chunks_job(&j);
	for (int32_t r = 0; r < 200; r++)
	{
		int			n = atomic_load(&v.visits[r]);

		ok &= r < end ? n == 1 : n <= 1;
		past += r >= end && n == 1;
	}
	tap_ok(ok && ((threads > 0 && stop_at != -2) || past == 0) && atomic_load(&v.wrong) == 0,
		   "nn_chunks_run on %d threads (slices from 1) joined by nn_chunks_take (slice 0), %d rows, "
		   "chunks of %d%s: %s, no slice on two threads at once", threads, rows, chunk,
		   stop_at == -2 ? ", stopped first" : (stop_at >= 0 ? ", stopped by a chunk" : ""),
		   stop_at == -1 ? "every row once" : (stop_at == -2 ? "no row visited"
											   : (threads > 0 ? "the rows up to it once, none twice"
											  : "the rows up to it once, none past it")));
}

/* the shapes, with both vector widths whatever the CPU (the CPU's own in nn_gemm_width) */
int
main(void)
{
	for (int32_t width = 8; width <= 16; width += 8)
	{
		check_shape(width, 13, 40, 7, 3, 0, 7, 7, 40);	/* 2 full tiles + 1 row; 3 panels, the last partial */
		for (int32_t n = 1; n <= 5; n++)	/* every short tile */
			check_shape(width, n, 24, 9, 4, 0, 9, 11, 25);
		check_shape(width, 6, 16, 1, 0, 0, 1, 1, 16);	/* one tile, one panel, K 1 from W2 only */
		check_shape(width, 1, 1, 5, 5, 0, 5, 9, 3);	/* one row, one column, W1 only, wide strides */
		check_shape(width, 1, 200, 11, 6, 0, 11, 11, 203);	/* one row: wide tiles and a remainder */
		check_shape(width, 2, 200, 11, 6, 0, 11, 13, 200);	/* two rows: wide tiles and a remainder */
		check_shape(width, 50, 512, 257, 129, 0, 129, 129, 512);	/* layer 0's input projection: W_ih */
		check_shape(width, 1, 512, 257, 129, 129, 128, 128, 512);	/* its recurrent step: W_hh */
		check_shape(width, 50, 512, 257, 129, 128, 129, 129, 515);	/* layer 0 with item gates: from 2D */
		check_shape(width, 31, 512, 256, 128, 0, 256, 256, 512);	/* layer 1 in a wave */
		check_shape(width, 0, 40, 7, 3, 0, 7, 7, 40);	/* no row: nothing written */
	}
	check_chunks(2, 0, 32);
	check_chunks(2, 5, 32);
	check_chunks(3, 100, 7);
	check_chunks(16, 3, 1);
	check_chunks(1, 199, 32);
	check_joined_chunks(1, 199, 3, -1);
	check_joined_chunks(2, 150, 1, -1);
	check_joined_chunks(3, 190, 2, -1);
	check_joined_chunks(1, 100, 7, -2);
	check_joined_chunks(2, 150, 1, 60);
	check_joined_chunks(0, 120, 4, 40);
	tap_ok(nn_gemm_width() == 8 || nn_gemm_width() == 16, "nn_gemm_width() is %d floats on this CPU",
		   nn_gemm_width());
	return tap_done();
}
