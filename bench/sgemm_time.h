/*
 * sgemm_time.h — the clock and the sgemm rate shared by the benchmarks in
 * bench/ (header-only: each benchmark is one .c file).
 */
#ifndef ANIMEREC_BENCH_SGEMM_TIME_H
#define ANIMEREC_BENCH_SGEMM_TIME_H

#include <math.h>
#include <time.h>

#include "nn/blas.h"

/* seconds on the monotonic clock */
static inline double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/*
 * CPU seconds of this process, all its threads: on a machine shared with
 * other work, rates per CPU second compare runs made at different loads
 */
static inline double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/*
 * GFLOP/s of C (m,n) = A (m,k) B (k,n), row-major, on the current OpenBLAS
 * thread count: the best of reps runs (2*m*n*k FLOPs each)
 */
static inline double
sgemm_gflops(int m, int n, int k, const float *A, const float *B, float *C, int reps)
{
	double		best = 0.0;

	for (int r = 0; r < reps; r++)
	{
		double		t0 = now(),
					dt;

		nn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, A, k, B, n,
				 0.0f, C, n);
		dt = now() - t0;
		best = fmax(best, 2.0 * m * n * k / dt * 1e-9);
	}
	return best;
}

#endif
