/*
 * shmem.h — the model cache that serving reads from (src/shmem.c).
 *
 * With shared_preload_libraries = 'animerec' each active model version is
 * kept once in a DSA area for all connections; otherwise each backend keeps
 * its own copy.  Either way a caller gets a pinned, read-only ServeModel: the
 * version it started with stays valid until it releases the pin (or its
 * transaction ends), even if another session activates a new version.
 */
#ifndef ANIMEREC_SHMEM_H
#define ANIMEREC_SHMEM_H

#include "animerec.h"
#include "utils/timestamp.h"

typedef struct ServeModel
{
	char		name[NAMEDATALEN];
	int32		version;
	TimestampTz created_at;		/* of the registry row: identifies the weights */
	nn_model	m;				/* read-only view into the cached weight blob */
	nn_serving	t;				/* the tables derived from the weights (nn_serving_build) */
	int			slot;			/* cache slot (private to src/shmem.c) */
	uint64		load_id;		/* identity of the cached copy (private) */
} ServeModel;

/*
 * Pin the active version of model name, loading it into the cache when it
 * is missing or stale.  Errors: unknown model or no active version, corrupt
 * weights (data_corrupted), the animerec.max_shared_memory cap.
 */
extern const ServeModel *serve_model_acquire(const char *name);

/* Drop the pin taken by serve_model_acquire (pins left are dropped at transaction end). */
extern void serve_model_release(const ServeModel *sm);

#endif
