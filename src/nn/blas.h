/*
 * blas.h — the BLAS of the numeric core: the CPU's feature bits, the
 * OpenBLAS kernel chosen from them, and the few BLAS functions the core calls.
 *
 * OpenBLAS is not linked: nn_blas_load() (called by the PostgreSQL module's
 * _PG_init, otherwise by the first BLAS call) reads cpuid, chooses the
 * OpenBLAS core from the feature bits (never from model numbers, which
 * OpenBLAS 0.3.21 does not know for newer CPUs and then falls back to
 * Prescott), sets OPENBLAS_CORETYPE for the library's constructor when the
 * user has not set it (and removes it again afterwards), dlopen()s
 * NN_BLAS_SONAME and resolves the functions below.  Plain C11 + dlfcn, no
 * PostgreSQL headers; the enums and blasint come from OpenBLAS's cblas.h.
 */
#ifndef ANIMEREC_NN_BLAS_H
#define ANIMEREC_NN_BLAS_H

#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- CPU feature bits (cpuid, and XCR0 for what the OS saves) ---------- */

enum
{
	NN_CPU_SSE3 = 1u << 0,
	NN_CPU_SSSE3 = 1u << 1,
	NN_CPU_SSE41 = 1u << 2,
	NN_CPU_SSE42 = 1u << 3,
	NN_CPU_POPCNT = 1u << 4,
	NN_CPU_CX16 = 1u << 5,
	NN_CPU_LAHF = 1u << 6,
	NN_CPU_AVX = 1u << 7,
	NN_CPU_AVX2 = 1u << 8,
	NN_CPU_FMA = 1u << 9,
	NN_CPU_BMI1 = 1u << 10,
	NN_CPU_BMI2 = 1u << 11,
	NN_CPU_F16C = 1u << 12,
	NN_CPU_LZCNT = 1u << 13,
	NN_CPU_MOVBE = 1u << 14,
	NN_CPU_AVX512F = 1u << 15,
	NN_CPU_AVX512BW = 1u << 16,
	NN_CPU_AVX512CD = 1u << 17,
	NN_CPU_AVX512DQ = 1u << 18,
	NN_CPU_AVX512VL = 1u << 19,
	NN_CPU_OS_YMM = 1u << 20,	/* XCR0: the OS saves SSE and AVX state */
	NN_CPU_OS_ZMM = 1u << 21,	/* XCR0: ... and the AVX-512 state too */
	NN_CPU_AMD = 1u << 22		/* vendor AuthenticAMD or HygonGenuine */
};

/* the feature bits of the CPU running this code (0 off x86-64) */
uint32_t	nn_cpu_features(void);

/* "x86-64-v4", "x86-64-v3", "x86-64-v2" or "x86-64": the psABI level the bits reach */
const char *nn_cpu_level(uint32_t bits);

/*
 * The OpenBLAS core for these feature bits: AVX-512 F/BW/VL/DQ -> "SkylakeX",
 * AVX2 + FMA -> "Zen" on AMD, "Haswell" otherwise, AVX -> "SandyBridge",
 * else "Prescott" (each needing the OS to save the registers it uses).
 */
const char *nn_blas_core_for(uint32_t bits);

/* whether an OpenBLAS core name is one of the AVX2 + FMA kernels (or wider) */
bool		nn_blas_core_has_avx2(const char *core);

/*
 * whether a CPU with these feature bits can run the OpenBLAS core (true for
 * cores of SSE3 or less and for names not known here)
 */
bool		nn_blas_core_runs_on(const char *core, uint32_t bits);

/* ---- loading OpenBLAS --------------------------------------------------- */

#ifndef NN_BLAS_SONAME
#define NN_BLAS_SONAME "libopenblas.so.0"
#endif

/* how the BLAS came to be what it is; the outcome of nn_blas_load() */
typedef enum nn_blas_status
{
	NN_BLAS_CHOSEN,				/* loaded with the core chosen from the feature bits */
	NN_BLAS_USER_CORE,			/* loaded with the user's OPENBLAS_CORETYPE */
	NN_BLAS_PRELOADED,			/* already in the process, with a core that fits the CPU */
	NN_BLAS_PRELOADED_GENERIC,	/* already in the process, without AVX2 on a CPU that has it */
	NN_BLAS_WEAK_CORE,			/* loaded, but the library has no AVX2 core for this CPU */
	NN_BLAS_NOT_FOUND,			/* dlopen failed */
	NN_BLAS_MISSING_SYMBOL,		/* a needed function is missing from the library */
	NN_BLAS_CORE_UNSUPPORTED	/* the core in use needs instructions the CPU lacks */
} nn_blas_status;

/*
 * Load the BLAS once per process (later calls return the first outcome).
 * When the status is not usable (nn_blas_usable) nn_blas_message() says why
 * and any BLAS call aborts the process: NN_BLAS_CORE_UNSUPPORTED would
 * otherwise stop it with SIGILL in the first product.
 */
nn_blas_status nn_blas_load(void);

/*
 * nn_blas_load() choosing the core for the given feature bits instead of the
 * CPU's: to show that the kernel follows the bits whatever the CPU.  Only
 * before any other BLAS call of the process (the first load decides).
 */
nn_blas_status nn_blas_load_for(uint32_t bits);

/* whether a status means the BLAS functions can be called */
bool		nn_blas_usable(nn_blas_status st);

/* the outcome of the load as text (the dlerror, or which core and why) */
const char *nn_blas_message(void);

/* the OpenBLAS core in use (openblas_get_corename()), loading if needed */
const char *nn_blas_core(void);

/* openblas_get_config(), loading if needed */
const char *nn_blas_config(void);

/* ---- the BLAS functions the core uses (forwarded to the loaded library) -- */

/* C (M,N) = alpha op(A) op(B) + beta C, as cblas_sgemm */
void		nn_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
					 blasint M, blasint N, blasint K, float alpha, const float *A, blasint lda,
					 const float *B, blasint ldb, float beta, float *C, blasint ldc);

/* y = alpha op(A) x + beta y, A (M,N), as cblas_sgemv */
void		nn_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, blasint M, blasint N,
					 float alpha, const float *A, blasint lda, const float *x, blasint incx,
					 float beta, float *y, blasint incy);

/* openblas_get_num_threads() / openblas_set_num_threads() */
int			nn_blas_threads(void);
void		nn_blas_set_threads(int n);

#endif							/* ANIMEREC_NN_BLAS_H */
