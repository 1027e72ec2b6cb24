/*
 * animerec.c — module entry point: _PG_init, GUCs, build_info().
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "nn/blas.h"
#include <limits.h>

#include "animerec.h"

PG_MODULE_MAGIC;

char	   *animerec_default_model = NULL;
int			animerec_threads = 1;
int			animerec_max_shared_memory = 1024;
int			animerec_max_models = 64;
bool		animerec_progress_notices = true;
bool		animerec_preloaded = false;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* nn_allocator callback: huge-capable palloc0 in the current memory context */
static void *
palloc_cb(void *ctx, size_t size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* nn_allocator callback: pfree */
static void
pfree_cb(void *ctx, void *ptr)
{
	if (ptr)
		pfree(ptr);
}

const nn_allocator animerec_palloc_allocator = {palloc_cb, pfree_cb, NULL};

/*
 * Set OpenBLAS's thread count from animerec.threads, once no block is being
 * scored on other threads (whose one-thread GEMMs must not meet this
 * thread's).  Called by the SQL entry points before numeric work; never
 * from _PG_init (which runs in the postmaster when preloaded, where BLAS
 * threads must not be started).
 */
void
animerec_set_blas_threads(void)
{
	recommend_all_wait_scoring(true);
	if (nn_blas_threads() != animerec_threads)
		nn_blas_set_threads(animerec_threads);
}

/*
 * Set search_path = pg_catalog, pg_temp until animerec_restore_search_path(level)
 * or the end of the (sub)transaction, as a function's SET clause would; for
 * entry points that cannot have one (a procedure that commits) or should
 * not pay for one on every call (a value-per-call set-returning function,
 * called once per row).  Returns the GUC nest level.
 */
int
animerec_fix_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* the caller's search_path again (level from animerec_fix_search_path) */
void
animerec_restore_search_path(int level)
{
	AtEOXact_GUC(true, level);
}

/* shmem_request_hook: reserve the model cache's and the progress slots' shared memory */
static void
animerec_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	model_cache_shmem_request();
	progress_shmem_request();
}

/* shmem_startup_hook: create (or find) the model cache's and the progress slots' structs */
static void
animerec_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	model_cache_shmem_startup();
	progress_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Load OpenBLAS with the kernel chosen from the CPU's feature bits
 * (src/nn/blas.c): an ERROR when it cannot be loaded or runs a kernel the CPU
 * cannot execute (OPENBLAS_CORETYPE set wrong: SIGILL otherwise), a WARNING (once per
 * process, as _PG_init runs once) when it runs a kernel without AVX2 on a CPU
 * that has AVX2 and the user did not ask for that kernel.
 */
static void
load_blas(void)
{
	nn_blas_status st = nn_blas_load();
	const char *want = nn_blas_core_for(nn_cpu_features());

	if (st == NN_BLAS_CORE_UNSUPPORTED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the OpenBLAS kernel in use needs instructions this CPU lacks"),
				 errdetail("%s", nn_blas_message()),
				 errhint("Remove OPENBLAS_CORETYPE from the server's environment, or set it to %s.", want)));
	if (!nn_blas_usable(st))
		ereport(ERROR,
				(errcode(st == NN_BLAS_NOT_FOUND ? ERRCODE_UNDEFINED_FILE : ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not load OpenBLAS"),
				 errdetail("%s", nn_blas_message()),
				 errhint("Install OpenBLAS (Debian: libopenblas0-pthread).")));
	if (st == NN_BLAS_PRELOADED_GENERIC || st == NN_BLAS_WEAK_CORE)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("OpenBLAS runs its %s kernel on a CPU that supports the faster %s kernel",
						nn_blas_core(), want),
				 errdetail("%s", nn_blas_message()),
				 st == NN_BLAS_PRELOADED_GENERIC ?
				 errhint("Another library loaded OpenBLAS into the server first: set OPENBLAS_CORETYPE=%s in the server's environment and restart it.",
						 want) :
				 errhint("The installed OpenBLAS has no %s kernel: install a DYNAMIC_ARCH build (Debian: libopenblas0-pthread) or set OPENBLAS_CORETYPE in the server's environment to a kernel it has.",
						 want)));
}

/*
 * Load OpenBLAS, define the GUCs; remember whether we are being preloaded,
 * and if so install the one pair of shared-memory hooks (as pg_stat_statements
 * does).
 */
void
_PG_init(void)
{
	animerec_preloaded = process_shared_preload_libraries_in_progress;
	load_blas();

	DefineCustomStringVariable("animerec.model",
							   "Model used when a function's model argument is NULL.",
							   "When unset, the database's default model (animerec.set_default_model) is used.",
							   &animerec_default_model, NULL,
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("animerec.threads",
							"Number of OpenBLAS threads used by training and scoring in one backend.",
							NULL, &animerec_threads, 1, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("animerec.max_shared_memory",
							"Most shared memory that loaded models may occupy.",
							"Models that would exceed it are refused with an error.",
							&animerec_max_shared_memory, 1024, 1, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	/*
	 * Sizes the shared table, so a server-start setting when preloaded; a
	 * library loaded later may not define one (FATAL), and there it sizes
	 * each connection's own cache, fixed when the connection starts.
	 */
	DefineCustomIntVariable("animerec.max_models",
							"Most model versions the model cache holds at once (cluster-wide when preloaded, else per connection).",
							"Each slot takes about 200 bytes of shared memory; loading one more model than this is refused with an error.",
							&animerec_max_models, 64, 1, 100000,
							animerec_preloaded ? PGC_POSTMASTER : PGC_BACKEND, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("animerec.progress_notices",
							 "Emit a NOTICE after each training epoch.",
							 NULL, &animerec_progress_notices, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("animerec");
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = animerec_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = animerec_shmem_startup;
}

PG_FUNCTION_INFO_V1(animerec_build_info);

/* who chose the OpenBLAS kernel, for build_info() */
static const char *
blas_core_source(nn_blas_status st)
{
	switch (st)
	{
		case NN_BLAS_USER_CORE:
			return "OPENBLAS_CORETYPE";
		case NN_BLAS_PRELOADED:
		case NN_BLAS_PRELOADED_GENERIC:
			return "preloaded";
		default:
			return "cpu features";
	}
}

/*
 * build_info() -> jsonb {version, postgres, blas, blas_config, blas_core,
 * blas_core_source, cpu, blas_threads, preloaded}: cpu is the x86-64 level of
 * the CPU's feature bits, blas_core the OpenBLAS kernel in use, and
 * blas_core_source who chose it ("cpu features", "OPENBLAS_CORETYPE" or
 * "preloaded" when another library loaded OpenBLAS first)
 */
Datum
animerec_build_info(PG_FUNCTION_ARGS)
{
	StringInfoData s;

	animerec_set_blas_threads();
	initStringInfo(&s);
	appendStringInfo(&s, "{\"version\": \"%s\", \"postgres\": ", ANIMEREC_VERSION);
	escape_json(&s, PG_VERSION_STR);
	appendStringInfoString(&s, ", \"blas\": \"OpenBLAS\", \"blas_config\": ");
	escape_json(&s, nn_blas_config());
	appendStringInfoString(&s, ", \"blas_core\": ");
	escape_json(&s, nn_blas_core());
	appendStringInfo(&s, ", \"blas_core_source\": \"%s\", \"cpu\": \"%s\"",
					 blas_core_source(nn_blas_load()), nn_cpu_level(nn_cpu_features()));
	appendStringInfo(&s, ", \"blas_threads\": %d, \"preloaded\": %s}",
					 nn_blas_threads(),
					 animerec_preloaded ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}
