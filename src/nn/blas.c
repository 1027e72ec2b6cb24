/*
 * blas.c — cpuid feature bits, the OpenBLAS core chosen from them, and
 * OpenBLAS loaded at run time with that core (see blas.h).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* setenv, unsetenv under -std=c11 */
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

#include "blas.h"

/* ---- feature bits --------------------------------------------------------- */

#if defined(__x86_64__) && defined(__GNUC__)
/* XCR0, the register state the OS saves (only valid when OSXSAVE is set) */
static uint64_t
read_xcr0(void)
{
	uint32_t	eax,
				edx;

	__asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	return ((uint64_t) edx << 32) | eax;
}

/* where each feature bit is: cpuid leaf (subleaf 0), register (ebx 1, ecx 2), bit */
static const struct
{
	uint32_t	leaf;
	int			reg;
	int			bit;
	uint32_t	flag;
}			cpuid_bits[] = {
	{1, 2, 0, NN_CPU_SSE3}, {1, 2, 9, NN_CPU_SSSE3}, {1, 2, 12, NN_CPU_FMA},
	{1, 2, 13, NN_CPU_CX16}, {1, 2, 19, NN_CPU_SSE41}, {1, 2, 20, NN_CPU_SSE42},
	{1, 2, 22, NN_CPU_MOVBE}, {1, 2, 23, NN_CPU_POPCNT}, {1, 2, 28, NN_CPU_AVX},
	{1, 2, 29, NN_CPU_F16C},
	{7, 1, 3, NN_CPU_BMI1}, {7, 1, 5, NN_CPU_AVX2}, {7, 1, 8, NN_CPU_BMI2},
	{7, 1, 16, NN_CPU_AVX512F}, {7, 1, 17, NN_CPU_AVX512DQ}, {7, 1, 28, NN_CPU_AVX512CD},
	{7, 1, 30, NN_CPU_AVX512BW}, {7, 1, 31, NN_CPU_AVX512VL},
	{0x80000001, 2, 0, NN_CPU_LAHF}, {0x80000001, 2, 5, NN_CPU_LZCNT},
};

uint32_t
nn_cpu_features(void)
{
	uint32_t	r0[4],
				r1[4] = {0},
				r7[4] = {0},
				rx[4] = {0},
				bits = 0;
	char		vendor[13];

	if (!__get_cpuid(0, &r0[0], &r0[1], &r0[2], &r0[3]))
		return 0;
	memcpy(vendor, &r0[1], 4);
	memcpy(vendor + 4, &r0[3], 4);
	memcpy(vendor + 8, &r0[2], 4);
	vendor[12] = '\0';
	if (strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0)
		bits |= NN_CPU_AMD;

	__get_cpuid(1, &r1[0], &r1[1], &r1[2], &r1[3]);
	if (r0[0] >= 7)
		__get_cpuid_count(7, 0, &r7[0], &r7[1], &r7[2], &r7[3]);
	__get_cpuid(0x80000001, &rx[0], &rx[1], &rx[2], &rx[3]);
	for (size_t i = 0; i < sizeof(cpuid_bits) / sizeof(cpuid_bits[0]); i++)
	{
		const uint32_t *r = cpuid_bits[i].leaf == 1 ? r1 : cpuid_bits[i].leaf == 7 ? r7 : rx;

		if (r[cpuid_bits[i].reg] & (1u << cpuid_bits[i].bit))
			bits |= cpuid_bits[i].flag;
	}
	if (r1[2] & (1u << 27))		/* OSXSAVE: XCR0 is readable */
	{
		uint64_t	xcr0 = read_xcr0();

		if ((xcr0 & 0x6) == 0x6)
			bits |= NN_CPU_OS_YMM;
		if ((xcr0 & 0xe6) == 0xe6)
			bits |= NN_CPU_OS_ZMM;
	}
	return bits;
}
#else
uint32_t
nn_cpu_features(void)
{
	return 0;
}
#endif

/* whether every flag of `need` is in bits */
static bool
has(uint32_t bits, uint32_t need)
{
	return (bits & need) == need;
}

#define LEVEL_V2 (NN_CPU_SSE3 | NN_CPU_SSSE3 | NN_CPU_SSE41 | NN_CPU_SSE42 | \
				  NN_CPU_POPCNT | NN_CPU_CX16 | NN_CPU_LAHF)
#define LEVEL_V3 (LEVEL_V2 | NN_CPU_AVX | NN_CPU_AVX2 | NN_CPU_FMA | NN_CPU_BMI1 | \
				  NN_CPU_BMI2 | NN_CPU_F16C | NN_CPU_LZCNT | NN_CPU_MOVBE | NN_CPU_OS_YMM)
#define LEVEL_V4 (LEVEL_V3 | NN_CPU_AVX512F | NN_CPU_AVX512BW | NN_CPU_AVX512CD | \
				  NN_CPU_AVX512DQ | NN_CPU_AVX512VL | NN_CPU_OS_ZMM)

const char *
nn_cpu_level(uint32_t bits)
{
	if (has(bits, LEVEL_V4))
		return "x86-64-v4";
	if (has(bits, LEVEL_V3))
		return "x86-64-v3";
	if (has(bits, LEVEL_V2))
		return "x86-64-v2";
	return "x86-64";
}

#define NEEDS_AVX (NN_CPU_AVX | NN_CPU_OS_YMM)
#define NEEDS_AVX2 (NEEDS_AVX | NN_CPU_AVX2 | NN_CPU_FMA)
#define NEEDS_AVX512 (NEEDS_AVX2 | NN_CPU_AVX512F | NN_CPU_AVX512BW | NN_CPU_AVX512VL | \
					  NN_CPU_AVX512DQ | NN_CPU_OS_ZMM)

/* the x86-64 kernels of OpenBLAS that use AVX or more, with what they need */
static const struct
{
	const char *name;
	uint32_t	needs;
}			core_needs[] = {
	{"SkylakeX", NEEDS_AVX512}, {"Cooperlake", NEEDS_AVX512}, {"SapphireRapids", NEEDS_AVX512},
	{"Haswell", NEEDS_AVX2}, {"Zen", NEEDS_AVX2}, {"SandyBridge", NEEDS_AVX},
};

const char *
nn_blas_core_for(uint32_t bits)
{
	if (has(bits, NEEDS_AVX512))
		return "SkylakeX";
	if (has(bits, NEEDS_AVX2))
		return (bits & NN_CPU_AMD) ? "Zen" : "Haswell";
	if (has(bits, NEEDS_AVX))
		return "SandyBridge";
	return "Prescott";
}

/* the features core needs (0 for a core of SSE3 or less, or one not known here) */
static uint32_t
core_needs_bits(const char *core)
{
	for (size_t i = 0; i < sizeof(core_needs) / sizeof(core_needs[0]); i++)
		if (strcasecmp(core, core_needs[i].name) == 0)
			return core_needs[i].needs;
	return 0;
}

bool
nn_blas_core_has_avx2(const char *core)
{
	return has(core_needs_bits(core), NEEDS_AVX2);
}

bool
nn_blas_core_runs_on(const char *core, uint32_t bits)
{
	return has(bits, core_needs_bits(core));
}

/* ---- loading ---------------------------------------------------------------- */

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool load_bits_given;	/* set by nn_blas_load_for before the load */
static uint32_t load_bits;
static nn_blas_status load_status;
static char load_message[512];

static __typeof__(cblas_sgemm) *p_sgemm;
static __typeof__(cblas_sgemv) *p_sgemv;
static __typeof__(openblas_get_num_threads) *p_get_num_threads;
static __typeof__(openblas_set_num_threads) *p_set_num_threads;
static __typeof__(openblas_get_config) *p_get_config;
static __typeof__(openblas_get_corename) *p_get_corename;

/* dlsym name from h into *slot; false (and the message) when it is missing */
static bool
resolve(void *h, const char *name, void **slot)
{
	*slot = dlsym(h, name);
	if (*slot == NULL)
		snprintf(load_message, sizeof(load_message), "%s has no function %s",
				 NN_BLAS_SONAME, name);
	return *slot != NULL;
}

/* pthread_once body of nn_blas_load: choose the core, dlopen, resolve, classify */
static void
load_blas(void)
{
	uint32_t	bits = load_bits_given ? load_bits : nn_cpu_features();
	const char *want = nn_blas_core_for(bits);
	const char *user = getenv("OPENBLAS_CORETYPE");
	bool		user_set = user != NULL && user[0] != '\0';
	void	   *h;
	bool		preloaded,
				weak;
	const char *core;

	/* already in the process (loaded by someone else): its core is fixed */
	h = dlopen(NN_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	preloaded = h != NULL;
	if (!preloaded)
	{
		/* OpenBLAS's constructor reads OPENBLAS_CORETYPE: set it only around dlopen */
		if (!user_set)
			setenv("OPENBLAS_CORETYPE", want, 1);
		h = dlopen(NN_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!user_set)
			unsetenv("OPENBLAS_CORETYPE");
	}
	if (h == NULL)
	{
		load_status = NN_BLAS_NOT_FOUND;
		snprintf(load_message, sizeof(load_message), "could not load %s: %s",
				 NN_BLAS_SONAME, dlerror());
		return;
	}
	if (!resolve(h, "cblas_sgemm", (void **) &p_sgemm) ||
		!resolve(h, "cblas_sgemv", (void **) &p_sgemv) ||
		!resolve(h, "openblas_get_num_threads", (void **) &p_get_num_threads) ||
		!resolve(h, "openblas_set_num_threads", (void **) &p_set_num_threads) ||
		!resolve(h, "openblas_get_config", (void **) &p_get_config) ||
		!resolve(h, "openblas_get_corename", (void **) &p_get_corename))
	{
		load_status = NN_BLAS_MISSING_SYMBOL;
		return;
	}

	core = p_get_corename();
	weak = nn_blas_core_has_avx2(want) && !nn_blas_core_has_avx2(core);
	if (!nn_blas_core_runs_on(core, bits))
	{
		load_status = NN_BLAS_CORE_UNSUPPORTED;
		snprintf(load_message, sizeof(load_message),
				 "OpenBLAS's %s kernel%s needs instructions this CPU lacks (its features call for %s)",
				 core, user_set ? ", set by OPENBLAS_CORETYPE," : "", want);
		return;
	}
	if (preloaded)
		load_status = weak ? NN_BLAS_PRELOADED_GENERIC : NN_BLAS_PRELOADED;
	else if (user_set)
		load_status = NN_BLAS_USER_CORE;
	else
		load_status = weak ? NN_BLAS_WEAK_CORE : NN_BLAS_CHOSEN;

	switch (load_status)
	{
		case NN_BLAS_PRELOADED:
		case NN_BLAS_PRELOADED_GENERIC:
			snprintf(load_message, sizeof(load_message),
					 "%s was already loaded in this process with core %s (the CPU's features call for %s)",
					 NN_BLAS_SONAME, core, want);
			break;
		case NN_BLAS_USER_CORE:
			snprintf(load_message, sizeof(load_message),
					 "%s loaded with OPENBLAS_CORETYPE=%s set by the user: core %s",
					 NN_BLAS_SONAME, user, core);
			break;
		default:
			snprintf(load_message, sizeof(load_message),
					 "%s loaded with core %s chosen from the CPU's features: core %s",
					 NN_BLAS_SONAME, want, core);
			break;
	}
}

nn_blas_status
nn_blas_load_for(uint32_t bits)
{
	load_bits = bits;
	load_bits_given = true;
	return nn_blas_load();
}

nn_blas_status
nn_blas_load(void)
{
	pthread_once(&load_once, load_blas);
	return load_status;
}

bool
nn_blas_usable(nn_blas_status st)
{
	return st != NN_BLAS_NOT_FOUND && st != NN_BLAS_MISSING_SYMBOL &&
		st != NN_BLAS_CORE_UNSUPPORTED;
}

const char *
nn_blas_message(void)
{
	nn_blas_load();
	return load_message;
}

/* load, or stop the process: a BLAS call cannot fail and has no way to say so */
static void
need_blas(void)
{
	if (!nn_blas_usable(nn_blas_load()))
	{
		fprintf(stderr, "animerec: %s\n", load_message);
		abort();
	}
}

const char *
nn_blas_core(void)
{
	return nn_blas_usable(nn_blas_load()) ? p_get_corename() : "";
}

const char *
nn_blas_config(void)
{
	return nn_blas_usable(nn_blas_load()) ? p_get_config() : "";
}

void
nn_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
		 blasint M, blasint N, blasint K, float alpha, const float *A, blasint lda,
		 const float *B, blasint ldb, float beta, float *C, blasint ldc)
{
	need_blas();
	p_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void
nn_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, blasint M, blasint N,
		 float alpha, const float *A, blasint lda, const float *x, blasint incx,
		 float beta, float *y, blasint incy)
{
	need_blas();
	p_sgemv(order, ta, M, N, alpha, A, lda, x, incx, beta, y, incy);
}

int
nn_blas_threads(void)
{
	need_blas();
	return p_get_num_threads();
}

void
nn_blas_set_threads(int n)
{
	need_blas();
	p_set_num_threads(n);
}
