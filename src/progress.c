/*
 * progress.c — a few progress slots in shared memory, one per running
 * training, written under a spinlock after every batch and read by the
 * animerec.training_progress view from any session.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "animerec.h"
#include "progress.h"
#include "serving_acl.h"

#define PROGRESS_SLOTS 8

typedef struct ProgressSlot
{
	int			pid;			/* 0: free */
	char		model[NAMEDATALEN];
	int32		version;
	int32		first_epoch;	/* first epoch of this call (resume starts late) */
	int32		epoch;
	int32		epochs;
	int64		batch;
	int64		batches;
	double		loss;
	double		positions_per_s;
	TimestampTz started;
} ProgressSlot;

typedef struct ProgressShared
{
	slock_t		lock;
	ProgressSlot slots[PROGRESS_SLOTS];
} ProgressShared;

static ProgressShared *progress = NULL;

/* Reserve the slots (from shmem_request_hook; see animerec.h). */
void
progress_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(ProgressShared)));
}

/* Create (or find) the slots (from shmem_startup_hook, AddinShmemInitLock held). */
void
progress_shmem_startup(void)
{
	bool		found;

	progress = ShmemInitStruct("animerec progress", sizeof(ProgressShared), &found);
	if (!found)
	{
		memset(progress, 0, sizeof(ProgressShared));
		SpinLockInit(&progress->lock);
	}
}

/* memory context callback: free the slot (arg: its index) if still ours */
static void
progress_release(void *arg)
{
	int			slot = (int) (intptr_t) arg;

	SpinLockAcquire(&progress->lock);
	if (progress->slots[slot].pid == MyProcPid)
		progress->slots[slot].pid = 0;
	SpinLockRelease(&progress->lock);
}

/*
 * see progress.h.  A slot is free when its pid is 0 or ours, or when it still
 * holds the pid that a look-up outside the spinlock (the proc array cannot be
 * read under it) found dead: a slot that another backend claimed meanwhile
 * holds that backend's pid and is left alone.  The slot's new contents and the
 * release callback are prepared before the spinlock is taken, so nothing
 * under it can fail or call the kernel, and a claimed slot always has its
 * callback.
 */
int
progress_begin(const char *model, int32 version, int32 first_epoch, int32 epochs,
			   int64 batches_per_epoch, MemoryContext context)
{
	int			i;
	int			found = -1;
	int			dead[PROGRESS_SLOTS];	/* pid a slot held when found dead, else 0 */
	ProgressSlot mine = {0};
	MemoryContextCallback *cb;

	if (progress == NULL)
		return -1;
	mine.pid = MyProcPid;
	strlcpy(mine.model, model, NAMEDATALEN);
	mine.version = version;
	mine.first_epoch = first_epoch;
	mine.epochs = epochs;
	mine.batches = batches_per_epoch;
	mine.started = GetCurrentTimestamp();
	cb = MemoryContextAlloc(context, sizeof(MemoryContextCallback));

	/* slots of backends that died without cleaning up (kill -9 of a child restarts all) */
	SpinLockAcquire(&progress->lock);
	for (i = 0; i < PROGRESS_SLOTS; i++)
		dead[i] = progress->slots[i].pid;
	SpinLockRelease(&progress->lock);
	for (i = 0; i < PROGRESS_SLOTS; i++)
		if (dead[i] == MyProcPid || (dead[i] != 0 && BackendPidGetProc(dead[i]) != NULL))
			dead[i] = 0;

	SpinLockAcquire(&progress->lock);
	for (i = 0; i < PROGRESS_SLOTS && found < 0; i++)
	{
		int			pid = progress->slots[i].pid;

		if (pid == 0 || pid == MyProcPid || (dead[i] != 0 && pid == dead[i]))
		{
			found = i;
			progress->slots[i] = mine;
		}
	}
	SpinLockRelease(&progress->lock);
	if (found < 0)
	{
		pfree(cb);
		return -1;
	}
	cb->func = progress_release;
	cb->arg = (void *) (intptr_t) found;
	MemoryContextRegisterResetCallback(context, cb);
	return found;
}

/* see progress.h */
void
progress_update(int slot, int32 epoch, int64 batch, double loss, double positions_per_s)
{
	ProgressSlot *s;

	if (slot < 0 || progress == NULL)
		return;
	s = &progress->slots[slot];
	SpinLockAcquire(&progress->lock);
	if (s->pid == MyProcPid)
	{
		s->epoch = epoch;
		s->batch = batch;
		s->loss = loss;
		s->positions_per_s = positions_per_s;
	}
	SpinLockRelease(&progress->lock);
}

/* interval of usecs microseconds */
static Datum
interval_usecs(int64 usecs)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = usecs;
	return IntervalPGetDatum(iv);
}

PG_FUNCTION_INFO_V1(animerec_training_progress);

/*
 * training_progress() -> SETOF (pid, model, version, epoch, epochs, batch,
 * batches, loss, positions_per_s, elapsed, remaining): one row per running
 * training of a model the current user may see (serving_may_list: the view
 * training_progress says the same); remaining extrapolates the time per
 * batch to the last epoch.
 */
Datum
animerec_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProgressSlot copy[PROGRESS_SLOTS];
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (progress == NULL)
		return (Datum) 0;
	SpinLockAcquire(&progress->lock);
	memcpy(copy, progress->slots, sizeof(copy));
	SpinLockRelease(&progress->lock);
	for (i = 0; i < PROGRESS_SLOTS; i++)
	{
		ProgressSlot *s = &copy[i];
		Datum		values[11];
		bool		nulls[11] = {0};
		int64		elapsed = now - s->started;
		int64		done = (int64) Max(s->epoch - s->first_epoch, 0) * s->batches + s->batch;
		int64		total = (int64) (s->epochs - s->first_epoch + 1) * s->batches;

		if (s->pid == 0 || BackendPidGetProc(s->pid) == NULL || !serving_may_list(s->model))
			continue;
		values[0] = Int32GetDatum(s->pid);
		values[1] = CStringGetTextDatum(s->model);
		values[2] = Int32GetDatum(s->version);
		values[3] = Int32GetDatum(s->epoch);
		values[4] = Int32GetDatum(s->epochs);
		values[5] = Int64GetDatum(s->batch);
		values[6] = Int64GetDatum(s->batches);
		values[7] = Float8GetDatum(s->loss);
		values[8] = Float8GetDatum(s->positions_per_s);
		values[9] = interval_usecs(elapsed);
		if (done > 0)
			values[10] = interval_usecs((int64) ((double) elapsed / done * (total - done)));
		else
			nulls[10] = true;
		nulls[3] = s->epoch == 0;
		nulls[7] = s->epoch == 0;
		nulls[8] = s->epoch == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
