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

#include <cblas.h>
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
 * Set OpenBLAS's thread count from animerec.threads.  Called by the SQL entry
 * points before numeric work; never from _PG_init (which runs in the
 * postmaster when preloaded, where BLAS threads must not be started).
 */
void
animerec_set_blas_threads(void)
{
	if (openblas_get_num_threads() != animerec_threads)
		openblas_set_num_threads(animerec_threads);
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
 * Define the GUCs; remember whether we are being preloaded, and if so install
 * the one pair of shared-memory hooks (as pg_stat_statements does).
 */
void
_PG_init(void)
{
	animerec_preloaded = process_shared_preload_libraries_in_progress;

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

/* build_info() -> jsonb {version, postgres, blas, blas_config, blas_threads, preloaded} */
Datum
animerec_build_info(PG_FUNCTION_ARGS)
{
	StringInfoData s;

	animerec_set_blas_threads();
	initStringInfo(&s);
	appendStringInfo(&s, "{\"version\": \"%s\", \"postgres\": ", ANIMEREC_VERSION);
	escape_json(&s, PG_VERSION_STR);
	appendStringInfoString(&s, ", \"blas\": \"OpenBLAS\", \"blas_config\": ");
	escape_json(&s, openblas_get_config());
	appendStringInfo(&s, ", \"blas_threads\": %d, \"preloaded\": %s}",
					 openblas_get_num_threads(),
					 animerec_preloaded ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}
