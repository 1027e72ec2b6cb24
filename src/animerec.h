/*
 * animerec.h — declarations shared by the PostgreSQL-facing modules of animerec.
 *
 * The numeric core (src/nn/) never includes this file: it has no PostgreSQL
 * headers.  Everything here may use PostgreSQL's APIs.
 */
#ifndef ANIMEREC_H
#define ANIMEREC_H

#include "postgres.h"
#include "nn/nn.h"

/* ANIMEREC_VERSION comes from animerec.control (default_version), passed by the Makefile */

/* GUCs (src/animerec.c) */
extern char *animerec_default_model;     /* animerec.model */
extern int  animerec_threads;            /* animerec.threads */
extern int  animerec_max_shared_memory;  /* animerec.max_shared_memory, in MB */
extern int  animerec_max_models;         /* animerec.max_models: model cache slots */
extern bool animerec_progress_notices;   /* animerec.progress_notices */

/* true when the library was loaded through shared_preload_libraries */
extern bool animerec_preloaded;

/* nn_allocator whose memory comes from CurrentMemoryContext (huge allocations allowed) */
extern const nn_allocator animerec_palloc_allocator;

/*
 * apply animerec.threads to OpenBLAS, after waiting for any block still being
 * scored on other threads; call before numeric work, never in the postmaster
 */
extern void animerec_set_blas_threads(void);

/*
 * search_path = pg_catalog, pg_temp from animerec_fix_search_path (which
 * returns the GUC nest level) until animerec_restore_search_path(level) or
 * the end of the (sub)transaction: a SET clause's effect, for entry points
 * without one (src/animerec.c)
 */
extern int	animerec_fix_search_path(void);
extern void animerec_restore_search_path(int level);

/*
 * Wait for every block being scored on threads of its own (recommend_all's
 * pipeline, src/recommend_all.c): before this thread uses BLAS itself
 * (finish: the scans go on, so this thread helps score their blocks), and
 * before the models they read are unpinned at the end of the transaction
 * or of the backend (!finish: the scans are over, and the users no thread
 * has taken yet are left).
 */
extern void recommend_all_wait_scoring(bool finish);

/*
 * Shared memory of the model cache (src/shmem.c) and of the training progress
 * slots (src/progress.c), set up by the one hook chain of src/animerec.c when
 * preloaded: *_shmem_request from shmem_request_hook, *_shmem_startup from
 * shmem_startup_hook with AddinShmemInitLock held.
 */
extern void model_cache_shmem_request(void);
extern void model_cache_shmem_startup(void);
extern void progress_shmem_request(void);
extern void progress_shmem_startup(void);

#endif
