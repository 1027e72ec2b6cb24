/*
 * shmem.c — the model cache serving reads from (docs/design.md#shared-memory).
 *
 * Preloaded (shared_preload_libraries = 'animerec'): a small control struct in
 * the main shared memory segment (an LWLock from the "animerec" tranche, a
 * generation counter, the byte count charged against animerec.max_shared_memory
 * and a table of animerec.max_models loaded-model entries, sized at server start) and one DSA area, created on
 * first use and pinned, holding each loaded model version once: the weight
 * blob (64-byte aligned, as nn_weights_view wants) followed by the item output
 * table (N+1, D).  Entries are keyed by (database, model name, version,
 * created_at): each database has its own registry, and a version number may
 * come back after its row was deleted.  They store dsa_pointers, never
 * addresses.
 *
 * Replacement: when the registry's active version differs from the loaded
 * one, the new version is loaded and published, and the old entry is
 * retired.  Every call pins the entry it uses (an atomic count in the entry);
 * a retired entry is freed when its last pin is dropped, so a call that
 * started on the old version finishes on it.  Pins a backend still holds when
 * its transaction ends (an error, say) are dropped by a transaction callback.
 *
 * Not preloaded: the same table lives in backend-local memory, each entry in
 * its own memory context under TopMemoryContext, and the first use says once
 * that every connection keeps its own copy.
 *
 * The LWLock is only held for table look-ups and updates: loading, checksum
 * validation and copying happen outside it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/dsa.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "animerec.h"
#include "registry.h"
#include "serving_acl.h"
#include "shmem.h"

#define BLOB_ALIGN 64

/* one loaded model version in shared memory */
typedef struct SharedEntry
{
	bool		used;
	bool		retired;		/* replaced or unloaded: freed at the last unpin */
	Oid			dbid;			/* the database whose registry the model is from */
	char		name[NAMEDATALEN];
	int32		version;
	TimestampTz created_at;		/* of the registry row */
	uint64		load_id;		/* unique per load (from the generation counter) */
	dsa_pointer dp;				/* allocation: slack, blob, item output table */
	Size		blob_len;
	Size		out_rel;		/* offset of the derived tables from the aligned blob */
	Size		alloc_bytes;	/* bytes charged against the cap */
	TimestampTz loaded_at;
	pg_atomic_uint64 calls;
	pg_atomic_uint32 pins;
} SharedEntry;

/* the control struct in the main shared memory segment */
typedef struct AnimerecShared
{
	LWLock	   *lock;
	int			dsa_tranche;
	dsa_handle	dsa;			/* DSM_HANDLE_INVALID until first use */
	uint64		generation;		/* bumped by every load, replacement and unload */
	Size		used_bytes;
	SharedEntry entries[FLEXIBLE_ARRAY_MEMBER];	/* animerec.max_models */
} AnimerecShared;

/* backend-local state of one slot: the view, pins held, and the local cache */
typedef struct LocalSlot
{
	ServeModel	sm;				/* sm.load_id == 0: no view built */
	int			pins_held;		/* pins this backend holds on the slot */
	uint64		pinned_load_id; /* the load those pins are on (shared mode) */
	/* not preloaded: the slot is the cache entry itself */
	bool		used;
	bool		retired;
	MemoryContext mcxt;			/* holds the blob and the tables derived from it */
	Size		bytes;
	TimestampTz loaded_at;
	uint64		calls;
} LocalSlot;

static AnimerecShared *ctl = NULL;
static dsa_area *area = NULL;
static LocalSlot *local = NULL;	/* animerec.max_models slots, from local_slots() */
static uint64 local_generation = 0;
static bool callbacks_registered = false;
static bool local_notice_given = false;

/* ---- shared memory set-up ----------------------------------------------- */

/* bytes of the control struct with animerec.max_models entries */
static Size
shared_size(void)
{
	return add_size(offsetof(AnimerecShared, entries),
					mul_size(sizeof(SharedEntry), animerec_max_models));
}

/* this backend's slot states, allocated (zeroed) on first use */
static void
local_slots(void)
{
	if (local == NULL)
		local = MemoryContextAllocZero(TopMemoryContext, sizeof(LocalSlot) * animerec_max_models);
}

/* Reserve the control struct and the LWLock tranche (from shmem_request_hook; see animerec.h). */
void
model_cache_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(shared_size()));
	RequestNamedLWLockTranche("animerec", 1);
}

/* Create (or find) the control struct (from shmem_startup_hook, AddinShmemInitLock held). */
void
model_cache_shmem_startup(void)
{
	bool		found;

	ctl = ShmemInitStruct("animerec", shared_size(), &found);
	if (!found)
	{
		memset(ctl, 0, shared_size());
		ctl->lock = &(GetNamedLWLockTranche("animerec"))->lock;
		ctl->dsa_tranche = LWLockNewTrancheId();
		ctl->dsa = DSM_HANDLE_INVALID;
		for (int i = 0; i < animerec_max_models; i++)
		{
			pg_atomic_init_u64(&ctl->entries[i].calls, 0);
			pg_atomic_init_u32(&ctl->entries[i].pins, 0);
		}
	}
	LWLockRegisterTranche(ctl->dsa_tranche, "animerec_dsa");
}

/* Attach this backend to the DSA area, creating and pinning it on first use. */
static void
attach_area(void)
{
	MemoryContext old;

	if (area != NULL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	LWLockAcquire(ctl->lock, LW_EXCLUSIVE);
	if (ctl->dsa == DSM_HANDLE_INVALID)
	{
		area = dsa_create(ctl->dsa_tranche);
		dsa_pin(area);
		ctl->dsa = dsa_get_handle(area);
	}
	else
		area = dsa_attach(ctl->dsa);
	LWLockRelease(ctl->lock);
	dsa_pin_mapping(area);
	MemoryContextSwitchTo(old);
}

/* ---- pins and their release at transaction end ---------------------------- */

/* Free a shared entry's memory; caller holds ctl->lock exclusively. */
static void
shared_free_locked(SharedEntry *e)
{
	dsa_free(area, e->dp);
	ctl->used_bytes -= e->alloc_bytes;
	e->used = false;
	e->retired = false;
	e->dp = InvalidDsaPointer;
}

/* Retire a shared entry (caller holds ctl->lock exclusively); free it when unpinned. */
static void
shared_retire_locked(SharedEntry *e)
{
	e->retired = true;
	ctl->generation++;
	if (pg_atomic_read_u32(&e->pins) == 0)
		shared_free_locked(e);
}

/* Drop one pin of shared slot i (load load_id); free the entry if it was the last of a retired one. */
static void
shared_unpin(int i, uint64 load_id)
{
	SharedEntry *e = &ctl->entries[i];

	if (pg_atomic_sub_fetch_u32(&e->pins, 1) != 0)
		return;
	LWLockAcquire(ctl->lock, LW_EXCLUSIVE);
	if (e->used && e->load_id == load_id && e->retired &&
		pg_atomic_read_u32(&e->pins) == 0)
		shared_free_locked(e);
	LWLockRelease(ctl->lock);
}

/* Free a local cache entry's memory. */
static void
local_free(LocalSlot *s)
{
	MemoryContextDelete(s->mcxt);
	s->mcxt = NULL;
	s->used = false;
	s->retired = false;
	s->sm.load_id = 0;
}

/* Drop one pin of slot i held by this backend. */
static void
unpin_slot(int i)
{
	LocalSlot  *s = &local[i];

	Assert(s->pins_held > 0);
	s->pins_held--;
	if (ctl != NULL)
		shared_unpin(i, s->pinned_load_id);
	else if (s->pins_held == 0 && s->retired)
		local_free(s);
}

/* Drop every pin this backend still holds. */
static void
release_all_pins(void)
{
	for (int i = 0; i < animerec_max_models; i++)
		while (local[i].pins_held > 0)
			unpin_slot(i);
}

/*
 * transaction callback: pins never outlive the transaction that took them
 * (after any block still being scored with them has ended: the scans of
 * the transaction are over)
 */
static void
serve_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		recommend_all_wait_scoring(false);
		release_all_pins();
	}
}

/* before_shmem_exit callback: a backend that exits drops its pins */
static void
serve_exit_callback(int code, Datum arg)
{
	recommend_all_wait_scoring(false);
	if (ctl != NULL && area != NULL)
		release_all_pins();
}

/* Allocate the local slots and register the callbacks above, once per backend. */
static void
register_callbacks(void)
{
	local_slots();
	if (callbacks_registered)
		return;
	RegisterXactCallback(serve_xact_callback, NULL);
	before_shmem_exit(serve_exit_callback, 0);
	callbacks_registered = true;
}

/* ---- loading -------------------------------------------------------------- */

/* ereport a corrupt registry row */
static void
report_corrupt(const char *name, int32 version, const nn_error *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("weights of model \"%s\" version %d are corrupt: %s",
					name, version, err->msg),
			 errhint("Activate another version of the model or train it again.")));
}

/*
 * Fetch the active version's weights into the current memory context and
 * validate them (checksum included) into *m.  Returns false when the name
 * has no active version any more.
 */
static bool
fetch_and_validate(const char *name, RegistryModel *rm, nn_model *m)
{
	nn_error	err;

	if (!registry_fetch_active(name, rm, true))
		return false;
	if (rm->weights == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("active version %d of model \"%s\" has no weights", rm->version, name)));
	if (nn_weights_view(rm->weights, rm->weights_len, m, &err) != NN_OK)
		report_corrupt(name, rm->version, &err);
	return true;
}

/* bytes of the tables serving derives from model m's weights (nn_serving_build) */
static Size
derived_bytes(const nn_model *m)
{
	return nn_serving_floats(m) * sizeof(float);
}

/* Build slot i's view over a cached blob (validated again: once per backend and load). */
static void
build_view(int i, const char *name, int32 version, TimestampTz created_at, uint64 load_id,
		   const void *blob, Size len, const float *derived)
{
	ServeModel *sm = &local[i].sm;
	nn_error	err;

	if (nn_weights_view(blob, len, &sm->m, &err) != NN_OK)
		report_corrupt(name, version, &err);
	strlcpy(sm->name, name, NAMEDATALEN);
	sm->version = version;
	sm->created_at = created_at;
	nn_serving_locate(&sm->m, derived, &sm->t);
	sm->slot = i;
	sm->load_id = load_id;
}

/* Pin the shared entry for registry row (name, version, created_at) if loaded; slot or -1. */
static int
shared_find_pin(const char *name, int32 version, TimestampTz created_at)
{
	int			found = -1;

	LWLockAcquire(ctl->lock, LW_SHARED);
	for (int i = 0; i < animerec_max_models; i++)
	{
		SharedEntry *e = &ctl->entries[i];

		if (e->used && !e->retired && e->dbid == MyDatabaseId && e->version == version &&
			e->created_at == created_at && strcmp(e->name, name) == 0)
		{
			pg_atomic_fetch_add_u32(&e->pins, 1);
			pg_atomic_fetch_add_u64(&e->calls, 1);
			local[i].pins_held++;
			local[i].pinned_load_id = e->load_id;
			if (local[i].sm.load_id != e->load_id)
				local[i].sm.load_id = 0;	/* view must be (re)built */
			found = i;
			break;
		}
	}
	LWLockRelease(ctl->lock);
	return found;
}

/* Make sure pinned shared slot i has a view in this backend. */
static void
shared_ensure_view(int i)
{
	SharedEntry *e = &ctl->entries[i];
	char	   *blob;

	if (local[i].sm.load_id != 0)
		return;
	/* the fields of a pinned entry do not change */
	blob = (char *) TYPEALIGN(BLOB_ALIGN, dsa_get_address(area, e->dp));
	build_view(i, e->name, e->version, e->created_at, e->load_id, blob, e->blob_len,
			   (const float *) (blob + e->out_rel));
}

/*
 * Load the active version of name into the DSA area and pin it; returns the
 * slot, or -1 when the name has no active version.  When another backend
 * published the same version meanwhile, its entry is pinned instead.
 */
static int
shared_load(const char *name)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "animerec load",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	RegistryModel rm;
	nn_model	m;
	nn_serving	tables;
	Size		out_rel, total, cap, used;
	dsa_pointer dp;
	char	   *blob;
	int			slot = -1;
	uint64		load_id;

	if (!fetch_and_validate(name, &rm, &m))
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
		return -1;
	}
	out_rel = TYPEALIGN(BLOB_ALIGN, rm.weights_len);
	total = BLOB_ALIGN + out_rel + derived_bytes(&m);
	cap = (Size) animerec_max_shared_memory * 1024 * 1024;

	/* reserve the bytes against the cap */
	LWLockAcquire(ctl->lock, LW_EXCLUSIVE);
	used = ctl->used_bytes;
	if (used + total <= cap)
		ctl->used_bytes += total;
	LWLockRelease(ctl->lock);
	if (used + total > cap)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" version %d needs %zu kB of shared memory, but only %zu kB of animerec.max_shared_memory are free",
						name, rm.version, total / 1024, used < cap ? (cap - used) / 1024 : 0),
				 errhint("Raise animerec.max_shared_memory (now %d MB) or unload other models with animerec.unload_model().",
						 animerec_max_shared_memory)));

	dp = dsa_allocate_extended(area, total, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	if (!DsaPointerIsValid(dp))
	{
		LWLockAcquire(ctl->lock, LW_EXCLUSIVE);
		ctl->used_bytes -= total;
		LWLockRelease(ctl->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of shared memory loading model \"%s\" (%zu kB)", name, total / 1024)));
	}
	blob = (char *) TYPEALIGN(BLOB_ALIGN, dsa_get_address(area, dp));
	memcpy(blob, rm.weights, rm.weights_len);
	animerec_set_blas_threads();
	nn_serving_build(&m, (float *) (blob + out_rel), &tables);	/* each backend locates them in its view */

	/* publish: retire the name's previous entry, or use a concurrent load of this version */
	LWLockAcquire(ctl->lock, LW_EXCLUSIVE);
	for (int i = 0; i < animerec_max_models; i++)
	{
		SharedEntry *e = &ctl->entries[i];

		if (!e->used || e->retired || e->dbid != MyDatabaseId || strcmp(e->name, name) != 0)
			continue;
		if (e->version == rm.version && e->created_at == rm.created_at)
			slot = i;
		else
			shared_retire_locked(e);
	}
	if (slot >= 0)
	{
		/* someone else published this version first: use theirs */
		dsa_free(area, dp);
		ctl->used_bytes -= total;
		dp = InvalidDsaPointer;
	}
	else
	{
		for (int i = 0; i < animerec_max_models && slot < 0; i++)
			if (!ctl->entries[i].used)
				slot = i;
		if (slot < 0)
		{
			dsa_free(area, dp);
			ctl->used_bytes -= total;
			LWLockRelease(ctl->lock);
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("cannot load model \"%s\": %d models are loaded already", name, animerec_max_models),
					 errhint("Unload a model with animerec.unload_model(), or raise animerec.max_models (restart needed).")));
		}
		else
		{
			SharedEntry *e = &ctl->entries[slot];

			e->used = true;
			e->retired = false;
			e->dbid = MyDatabaseId;
			strlcpy(e->name, name, NAMEDATALEN);
			e->version = rm.version;
			e->created_at = rm.created_at;
			e->load_id = ++ctl->generation;
			e->dp = dp;
			e->blob_len = rm.weights_len;
			e->out_rel = out_rel;
			e->alloc_bytes = total;
			e->loaded_at = GetCurrentTimestamp();
			pg_atomic_write_u64(&e->calls, 0);
			pg_atomic_write_u32(&e->pins, 0);
		}
	}
	pg_atomic_fetch_add_u32(&ctl->entries[slot].pins, 1);
	pg_atomic_fetch_add_u64(&ctl->entries[slot].calls, 1);
	local[slot].pins_held++;
	load_id = ctl->entries[slot].load_id;
	local[slot].pinned_load_id = load_id;
	LWLockRelease(ctl->lock);

	if (DsaPointerIsValid(dp))
		build_view(slot, name, rm.version, rm.created_at, load_id, blob, rm.weights_len,
				   (const float *) (blob + out_rel));
	else if (local[slot].sm.load_id != load_id)
		local[slot].sm.load_id = 0;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	return slot;
}

/* Pin the local cache entry for registry row (name, version, created_at) if present; slot or -1. */
static int
local_find_pin(const char *name, int32 version, TimestampTz created_at)
{
	for (int i = 0; i < animerec_max_models; i++)
	{
		LocalSlot  *s = &local[i];

		if (s->used && !s->retired && s->sm.version == version && s->sm.created_at == created_at &&
			strcmp(s->sm.name, name) == 0)
		{
			s->pins_held++;
			s->calls++;
			return i;
		}
	}
	return -1;
}

/* Retire a local entry, freeing it unless pinned. */
static void
local_retire(LocalSlot *s)
{
	s->retired = true;
	if (s->pins_held == 0)
		local_free(s);
}

/* Retire name's local entries; a free local slot, or -1 when all are used. */
static int
local_take_slot(const char *name)
{
	for (int i = 0; i < animerec_max_models; i++)
		if (local[i].used && !local[i].retired && strcmp(local[i].sm.name, name) == 0)
			local_retire(&local[i]);
	for (int i = 0; i < animerec_max_models; i++)
		if (!local[i].used)
			return i;
	return -1;
}

/* Load the active version of name into this backend's cache and pin it; slot or -1. */
static int
local_load(const char *name)
{
	MemoryContext mcxt = AllocSetContextCreate(TopMemoryContext, "animerec model",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	RegistryModel rm;
	nn_model	m;
	nn_serving	tables;
	float	   *out;
	int			slot;

	PG_TRY();
	{
		if (fetch_and_validate(name, &rm, &m))
		{
			out = MemoryContextAllocHuge(mcxt, derived_bytes(&m));
			animerec_set_blas_threads();
			nn_serving_build(&m, out, &tables);
		}
		else
			rm.weights = NULL;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	if (rm.weights == NULL)
	{
		MemoryContextDelete(mcxt);
		return -1;
	}
	slot = local_take_slot(name);
	if (slot < 0)
	{
		MemoryContextDelete(mcxt);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cannot load model \"%s\": %d models are loaded already", name, animerec_max_models),
				 errhint("Unload a model with animerec.unload_model(), or raise animerec.max_models (restart needed).")));
	}
	local[slot].used = true;
	local[slot].retired = false;
	local[slot].mcxt = mcxt;
	local[slot].bytes = rm.weights_len + derived_bytes(&m);
	local[slot].loaded_at = GetCurrentTimestamp();
	local[slot].calls = 1;
	local[slot].pins_held = 1;
	local[slot].sm.m = m;
	strlcpy(local[slot].sm.name, name, NAMEDATALEN);
	local[slot].sm.version = rm.version;
	local[slot].sm.created_at = rm.created_at;
	local[slot].sm.t = tables;
	local[slot].sm.slot = slot;
	local[slot].sm.load_id = ++local_generation;
	return slot;
}

/* Say once per backend that models are cached per connection. */
static void
local_notice(void)
{
	if (local_notice_given)
		return;
	local_notice_given = true;
	ereport(NOTICE,
			(errmsg("animerec is not in shared_preload_libraries: this connection keeps its own copy of each model"),
			 errhint("Add animerec to shared_preload_libraries and restart the server so that all connections share one copy.")));
}

/* See shmem.h. */
const ServeModel *
serve_model_acquire(const char *name)
{
	RegistryModel rm;
	int			slot;

	register_callbacks();
	if (!registry_fetch_active(name, &rm, false))
		registry_report_no_active(name);
	if (ctl != NULL)
	{
		attach_area();
		slot = shared_find_pin(name, rm.version, rm.created_at);
		if (slot < 0)
			slot = shared_load(name);
		if (slot < 0)
			registry_report_no_active(name);
		shared_ensure_view(slot);
	}
	else
	{
		local_notice();
		slot = local_find_pin(name, rm.version, rm.created_at);
		if (slot < 0)
			slot = local_load(name);
		if (slot < 0)
			registry_report_no_active(name);
	}
	return &local[slot].sm;
}

/* See shmem.h. */
void
serve_model_release(const ServeModel *sm)
{
	if (local[sm->slot].pins_held > 0)
		unpin_slot(sm->slot);
}

/* ---- SQL interface ----------------------------------------------------------- */

PG_FUNCTION_INFO_V1(animerec_load_model);

/* load_model(name text) -> int: load (or refresh) the active version, return it */
Datum
animerec_load_model(PG_FUNCTION_ARGS)
{
	ServingAccess acc;
	const ServeModel *sm;
	int32		version;

	serving_resolve(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), &acc);
	sm = serving_acquire(&acc);
	version = sm->version;

	serve_model_release(sm);
	PG_RETURN_INT32(version);
}

PG_FUNCTION_INFO_V1(animerec_unload_model);

/* unload_model(name text) -> bool: drop the name's cached versions; true if one was loaded */
Datum
animerec_unload_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		any = false;

	local_slots();

	if (ctl != NULL)
	{
		attach_area();			/* freeing an unpinned entry needs the area */
		LWLockAcquire(ctl->lock, LW_EXCLUSIVE);
		for (int i = 0; i < animerec_max_models; i++)
		{
			SharedEntry *e = &ctl->entries[i];

			if (e->used && !e->retired && e->dbid == MyDatabaseId && strcmp(e->name, name) == 0)
			{
				shared_retire_locked(e);
				any = true;
			}
		}
		LWLockRelease(ctl->lock);
	}
	else
	{
		for (int i = 0; i < animerec_max_models; i++)
			if (local[i].used && !local[i].retired && strcmp(local[i].sm.name, name) == 0)
			{
				local_retire(&local[i]);
				any = true;
			}
	}
	PG_RETURN_BOOL(any);
}

/* one cached model version as loaded_models() lists it */
typedef struct ListedModel
{
	char		name[NAMEDATALEN];
	int32		version;
	int64		bytes;
	TimestampTz loaded_at;
	int64		calls;
} ListedModel;

PG_FUNCTION_INFO_V1(animerec_loaded_models);

/*
 * loaded_models() -> setof (name, version, bytes, loaded_at, calls, shared):
 * the cached model versions of this database (shared ones, or this backend's
 * when not preloaded) that the current user may see (serving_may_list: the
 * view loaded_models says the same).  The entries are copied under the lock
 * and filtered after it, since the filter runs a query.
 */
Datum
animerec_loaded_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListedModel *rows = palloc(sizeof(ListedModel) * animerec_max_models);
	int			n = 0;
	Datum		values[6];
	bool		nulls[6] = {false};

	local_slots();
	InitMaterializedSRF(fcinfo, 0);
	if (ctl != NULL)
	{
		LWLockAcquire(ctl->lock, LW_SHARED);
		for (int i = 0; i < animerec_max_models; i++)
		{
			SharedEntry *e = &ctl->entries[i];

			if (!e->used || e->retired || e->dbid != MyDatabaseId)
				continue;
			strlcpy(rows[n].name, e->name, NAMEDATALEN);
			rows[n].version = e->version;
			rows[n].bytes = (int64) e->alloc_bytes;
			rows[n].loaded_at = e->loaded_at;
			rows[n++].calls = (int64) pg_atomic_read_u64(&e->calls);
		}
		LWLockRelease(ctl->lock);
	}
	else
	{
		for (int i = 0; i < animerec_max_models; i++)
		{
			LocalSlot  *s = &local[i];

			if (!s->used || s->retired)
				continue;
			strlcpy(rows[n].name, s->sm.name, NAMEDATALEN);
			rows[n].version = s->sm.version;
			rows[n].bytes = (int64) s->bytes;
			rows[n].loaded_at = s->loaded_at;
			rows[n++].calls = (int64) s->calls;
		}
	}
	for (int r = 0; r < n; r++)
	{
		if (!serving_may_list(rows[r].name))
			continue;
		values[0] = CStringGetTextDatum(rows[r].name);
		values[1] = Int32GetDatum(rows[r].version);
		values[2] = Int64GetDatum(rows[r].bytes);
		values[3] = TimestampTzGetDatum(rows[r].loaded_at);
		values[4] = Int64GetDatum(rows[r].calls);
		values[5] = BoolGetDatum(ctl != NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
