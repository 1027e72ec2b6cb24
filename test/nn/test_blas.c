/*
 * test_blas.c — src/nn/blas.c: the pure choices "feature bits -> OpenBLAS
 * core" and "feature bits -> x86-64 level" over tables of CPUs, cpuid read
 * against the kernel's /proc/cpuinfo flags, and loading OpenBLAS (each case
 * in a child process, since a process loads it once): in the default
 * environment it runs the core the feature bits call for, a user's
 * OPENBLAS_CORETYPE is obeyed as set, and an OpenBLAS loaded by someone else
 * with a generic core on a CPU with AVX2 is reported as such.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/blas.h"
#include "tap.h"

/* valgrind runs the program on a CPU of its own, without AVX-512 (3.19) */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define V2 (NN_CPU_SSE3 | NN_CPU_SSSE3 | NN_CPU_SSE41 | NN_CPU_SSE42 | NN_CPU_POPCNT | \
			NN_CPU_CX16 | NN_CPU_LAHF)
#define V3 (V2 | NN_CPU_AVX | NN_CPU_AVX2 | NN_CPU_FMA | NN_CPU_BMI1 | NN_CPU_BMI2 | \
			NN_CPU_F16C | NN_CPU_LZCNT | NN_CPU_MOVBE | NN_CPU_OS_YMM)
#define V4 (V3 | NN_CPU_AVX512F | NN_CPU_AVX512BW | NN_CPU_AVX512CD | NN_CPU_AVX512DQ | \
			NN_CPU_AVX512VL | NN_CPU_OS_ZMM)

typedef struct cpu_case
{
	const char *name;
	uint32_t	bits;
	const char *core;
	const char *level;
} cpu_case;

static const cpu_case cpu_cases[] = {
	{"Intel Xeon family 6 model 207 (AVX-512, AMX)", V4, "SkylakeX", "x86-64-v4"},
	{"the same CPU, the OS not saving the AVX-512 state", V4 & ~NN_CPU_OS_ZMM, "Haswell", "x86-64-v3"},
	{"AMD Zen 3 (family 25 model 1)", V3 | NN_CPU_AMD, "Zen", "x86-64-v3"},
	{"AMD Zen 4 (AVX-512)", V4 | NN_CPU_AMD, "SkylakeX", "x86-64-v4"},
	{"Intel Haswell", V3, "Haswell", "x86-64-v3"},
	{"Knights Landing (AVX-512F and CD, no BW/VL/DQ)",
	 V3 | NN_CPU_AVX512F | NN_CPU_AVX512CD | NN_CPU_OS_ZMM, "Haswell", "x86-64-v3"},
	{"AVX2 without FMA (masked by a hypervisor)", V3 & ~NN_CPU_FMA, "SandyBridge", "x86-64-v2"},
	{"Intel Sandy Bridge", V2 | NN_CPU_AVX | NN_CPU_OS_YMM, "SandyBridge", "x86-64-v2"},
	{"AVX2 + FMA, the OS not saving the AVX state", V3 & ~NN_CPU_OS_YMM, "Prescott", "x86-64-v2"},
	{"Intel Nehalem", V2, "Prescott", "x86-64-v2"},
	{"baseline x86-64", NN_CPU_SSE3, "Prescott", "x86-64"},
	{"no features known", 0, "Prescott", "x86-64"},
};

/* the table: core and level of each CPU */
static void
test_choices(void)
{
	for (size_t i = 0; i < sizeof(cpu_cases) / sizeof(cpu_cases[0]); i++)
	{
		const cpu_case *c = &cpu_cases[i];
		const char *core = nn_blas_core_for(c->bits);
		const char *level = nn_cpu_level(c->bits);

		tap_ok(strcmp(core, c->core) == 0, "%s: core %s (want %s)", c->name, core, c->core);
		tap_ok(strcmp(level, c->level) == 0, "%s: level %s (want %s)", c->name, level, c->level);
	}
	tap_ok(!nn_blas_core_has_avx2("Prescott") && !nn_blas_core_has_avx2("SandyBridge") &&
		   nn_blas_core_has_avx2("Haswell") && nn_blas_core_has_avx2("zen") &&
		   nn_blas_core_has_avx2("SkylakeX"), "AVX2 cores are told from the others");
	tap_ok(!nn_blas_core_runs_on("SkylakeX", V3 | NN_CPU_AMD) && nn_blas_core_runs_on("Zen", V3 | NN_CPU_AMD) &&
		   nn_blas_core_runs_on("Haswell", V3 | NN_CPU_AMD) && nn_blas_core_runs_on("Prescott", V2) &&
		   !nn_blas_core_runs_on("Haswell", V2 | NN_CPU_AVX | NN_CPU_OS_YMM) &&
		   nn_blas_core_runs_on("SandyBridge", V2 | NN_CPU_AVX | NN_CPU_OS_YMM) &&
		   nn_blas_core_runs_on("SapphireRapids", V4),
		   "which kernels a CPU can run: SkylakeX not on Zen 3, Haswell not on Sandy Bridge, ...");
}

/* whether /proc/cpuinfo's first "flags" line lists flag (NULL: no cpuinfo) */
static int
cpuinfo_has(const char *flag)
{
	static char line[8192];
	char		want[64];
	FILE	   *f;

	if (line[0] == '\0')
	{
		if ((f = fopen("/proc/cpuinfo", "r")) == NULL)
			return -1;
		while (fgets(line, sizeof(line), f) && strncmp(line, "flags", 5) != 0)
			;
		fclose(f);
		if (strncmp(line, "flags", 5) != 0)
			return -1;
		line[strcspn(line, "\n")] = ' ';
	}
	snprintf(want, sizeof(want), " %s ", flag);
	return strstr(line, want) != NULL;
}

/*
 * cpuid as read by nn_cpu_features() against the flags the kernel shows;
 * under valgrind, a bit the kernel shows but valgrind's CPU hides is skipped
 */
static void
test_cpuid(void)
{
	static const struct
	{
		const char *flag;
		uint32_t	bit;
	} flags[] = {
		{"sse4_2", NN_CPU_SSE42}, {"avx", NN_CPU_AVX}, {"avx2", NN_CPU_AVX2},
		{"fma", NN_CPU_FMA}, {"bmi2", NN_CPU_BMI2}, {"avx512f", NN_CPU_AVX512F},
		{"avx512bw", NN_CPU_AVX512BW}, {"avx512vl", NN_CPU_AVX512VL},
		{"avx512dq", NN_CPU_AVX512DQ},
	};
	uint32_t	bits = nn_cpu_features();

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
	{
		int			k = cpuinfo_has(flags[i].flag);

		if (k < 0)
			printf("ok %d - cpuid bit %s # SKIP no /proc/cpuinfo flags\n", ++tap_count, flags[i].flag);
		else if (RUNNING_ON_VALGRIND && k && !(bits & flags[i].bit))
			printf("ok %d - cpuid bit %s # SKIP valgrind's CPU hides what /proc/cpuinfo shows\n",
				   ++tap_count, flags[i].flag);
		else
			tap_ok(k == ((bits & flags[i].bit) != 0), "cpuid bit %s is %d, /proc/cpuinfo says %d",
				   flags[i].flag, (bits & flags[i].bit) != 0, k);
	}
	printf("# this CPU: %s, OpenBLAS core for it %s\n", nn_cpu_level(bits), nn_blas_core_for(bits));
}

/* what a child process saw after loading: status, core, OPENBLAS_CORETYPE */
/* what a child is asked to do before loading OpenBLAS */
typedef struct load_setup
{
	const char *user_core;		/* OPENBLAS_CORETYPE set by the user, or NULL */
	const char *preload_core;	/* OpenBLAS dlopen()ed first with this core, or NULL */
	const uint32_t *bits;		/* feature bits to choose from instead of the CPU's, or NULL */
} load_setup;

typedef struct load_result
{
	int			status;
	char		core[64];
	char		env[64];			/* "-" when unset */
} load_result;

/*
 * In a child: when su.preload_core, first dlopen OpenBLAS with that core as
 * another library would (and unset the variable); set OPENBLAS_CORETYPE to
 * su.user_core (NULL: unset); then nn_blas_load(), or nn_blas_load_for(*su.bits).
 * Returns what it saw.
 */
static load_result
load_in_child(load_setup su)
{
	load_result r = {-1, "", ""};
	int			fd[2];
	pid_t		pid;

	fflush(stdout);				/* the child exits through exit(): nothing to flush twice */
	if (pipe(fd) != 0 || (pid = fork()) < 0)
		return r;
	if (pid == 0)
	{
		const char *env;

		close(fd[0]);
		unsetenv("OPENBLAS_CORETYPE");
		if (su.preload_core)
		{
			setenv("OPENBLAS_CORETYPE", su.preload_core, 1);
			if (dlopen(NN_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL) == NULL)
				_exit(2);
			unsetenv("OPENBLAS_CORETYPE");
		}
		if (su.user_core)
			setenv("OPENBLAS_CORETYPE", su.user_core, 1);
		r.status = su.bits ? nn_blas_load_for(*su.bits) : nn_blas_load();
		snprintf(r.core, sizeof(r.core), "%s", nn_blas_core());
		env = getenv("OPENBLAS_CORETYPE");
		snprintf(r.env, sizeof(r.env), "%s", env ? env : "-");
		if (write(fd[1], &r, sizeof(r)) != (ssize_t) sizeof(r))
			_exit(3);
		exit(0);				/* exit(), not _exit(): OpenBLAS's destructor joins its threads */
	}
	close(fd[1]);
	if (read(fd[0], &r, sizeof(r)) != (ssize_t) sizeof(r))
		r.status = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return r;
}

/* loading OpenBLAS in the three situations, on whatever CPU runs the test */
static void
test_loading(void)
{
	const char *want = nn_blas_core_for(nn_cpu_features());
	bool		cpu_avx2 = nn_blas_core_has_avx2(want);
	const uint32_t sandy_bridge = V2 | NN_CPU_AVX | NN_CPU_OS_YMM;
	const uint32_t intel_haswell = V3;
	load_result r;

	r = load_in_child((load_setup) {NULL, NULL, NULL});
	tap_ok(r.status == NN_BLAS_CHOSEN, "default environment: loaded with the chosen core (status %d)",
		   r.status);
	tap_ok(strcasecmp(r.core, want) == 0, "default environment: OpenBLAS runs %s, the feature bits call for %s",
		   r.core, want);
	tap_ok(strcmp(r.env, "-") == 0, "default environment: OPENBLAS_CORETYPE is unset again afterwards (%s)",
		   r.env);

	r = load_in_child((load_setup) {"Prescott", NULL, NULL});
	tap_ok(r.status == NN_BLAS_USER_CORE, "OPENBLAS_CORETYPE=Prescott set by the user: status %d", r.status);
	tap_ok(strcmp(r.core, "Prescott") == 0, "OPENBLAS_CORETYPE=Prescott set by the user: OpenBLAS runs %s",
		   r.core);
	tap_ok(strcmp(r.env, "Prescott") == 0, "the user's OPENBLAS_CORETYPE is left as set (%s)", r.env);

	r = load_in_child((load_setup) {NULL, "Prescott", NULL});
	tap_ok(r.status == (cpu_avx2 ? NN_BLAS_PRELOADED_GENERIC : NN_BLAS_PRELOADED),
		   "OpenBLAS loaded first by another library with Prescott: status %d (want %d: the CPU %s AVX2)",
		   r.status, cpu_avx2 ? NN_BLAS_PRELOADED_GENERIC : NN_BLAS_PRELOADED,
		   cpu_avx2 ? "has" : "lacks");
	tap_ok(strcmp(r.core, "Prescott") == 0, "OpenBLAS loaded first by another library: its core %s is kept",
		   r.core);

	/* a kernel the CPU cannot run is refused, even when the user asked for it */
	if (!(nn_cpu_features() & NN_CPU_AVX512F))
	{
		r = load_in_child((load_setup) {"SkylakeX", NULL, NULL});
		tap_ok(r.status == NN_BLAS_CORE_UNSUPPORTED,
			   "OPENBLAS_CORETYPE=SkylakeX on a CPU without AVX-512: refused (status %d)", r.status);
	}
	else
		printf("ok %d - OPENBLAS_CORETYPE=SkylakeX refused without AVX-512 # SKIP this CPU has AVX-512\n",
			   ++tap_count);

	/* the kernel follows the bits, not OpenBLAS's own model-number detection */
	r = load_in_child((load_setup) {NULL, NULL, &sandy_bridge});
	tap_ok(r.status == NN_BLAS_CHOSEN && strcasecmp(r.core, "SandyBridge") == 0,
		   "feature bits of a Sandy Bridge: OpenBLAS runs %s on this CPU (status %d)", r.core, r.status);
	r = load_in_child((load_setup) {NULL, NULL, &intel_haswell});
	tap_ok(r.status == NN_BLAS_CHOSEN && strcmp(r.core, "Haswell") == 0,
		   "feature bits of an Intel Haswell: OpenBLAS runs %s on this CPU (status %d)", r.core, r.status);
}

int
main(void)
{
	test_choices();
	test_cpuid();
	test_loading();
	return tap_done();
}
