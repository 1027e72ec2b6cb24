/*
 * sgemm_rate.c — the machine's sgemm rate through the BLAS animerec loads
 * (src/nn/blas.c: OpenBLAS with the kernel chosen from the CPU's features),
 * the yardstick the other benchmarks compare their GEMM work with.
 *
 *   bench/bin/sgemm_rate [--size N] [--max-threads T]
 *
 * Prints the CPU level and OpenBLAS kernel, then for 1..T threads (default 2)
 * the best GFLOP/s of 5 runs of an N x N x N sgemm (default 1024), after one
 * warm-up run, as "sgemm_<t>thread_gflops=<rate>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "sgemm_time.h"

int
main(int argc, char **argv)
{
	int			n = 1024,
				max_threads = 2;
	float	   *A,
			   *B,
			   *C;
	nn_rng		r;

	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (!strcmp(argv[i], "--size"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--max-threads"))
			max_threads = atoi(argv[i + 1]);
		else
			n = 0;
	}
	if (n <= 0 || max_threads <= 0 || argc % 2 == 0)
	{
		fprintf(stderr, "usage: %s [--size N] [--max-threads T]\n", argv[0]);
		return 2;
	}
	A = malloc(sizeof(float) * n * n);
	B = malloc(sizeof(float) * n * n);
	C = malloc(sizeof(float) * n * n);
	if (!A || !B || !C)
	{
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	nn_rng_seed(&r, 1);
	for (size_t i = 0; i < (size_t) n * n; i++)
	{
		A[i] = nn_rng_uniform(&r);
		B[i] = nn_rng_uniform(&r);
	}
	printf("cpu=%s blas_core=%s size=%d\n", nn_cpu_level(nn_cpu_features()), nn_blas_core(), n);
	for (int t = 1; t <= max_threads; t++)
	{
		nn_blas_set_threads(t);
		sgemm_gflops(n, n, n, A, B, C, 1);
		printf("sgemm_%dthread_gflops=%.1f\n", t, sgemm_gflops(n, n, n, A, B, C, 5));
	}
	free(A);
	free(B);
	free(C);
	return 0;
}
