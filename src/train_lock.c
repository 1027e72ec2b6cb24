/*
 * train_lock.c — one training per model name at a time.
 *
 * A CALL of animerec.train commits after every epoch, so a transaction-level
 * lock would be gone after the first commit.  The training holds a
 * session-level advisory lock instead, the one pg_advisory_lock(
 * hashtext('animerec.train'), hashtext(name)) would take in its database; it
 * is released at the end of the CALL, by the caller's PG_FINALLY after an
 * error or cancel, and by the server when the backend exits or crashes.
 * Inside a transaction block the registry's transaction-level lock on the
 * same key (registry_lock_name) keeps the name held until the transaction
 * ends, while the new version is not yet visible to others.
 * While a session holds it, no other backend trains that name, so every
 * other 'training' row of the name is an interrupted run.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "train_lock.h"

/* hashtext() of s: the same value as SQL's hashtext for a deterministic collation */
static uint32
hash_string(const char *s)
{
	return DatumGetUInt32(hash_any((const unsigned char *) s, (int) strlen(s)));
}

/* process id of the other backend holding tag's advisory lock, or 0 (inside SPI) */
static int
lock_holder(const LOCKTAG *tag)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(tag->locktag_field2),
	ObjectIdGetDatum(tag->locktag_field3)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
							  " AND database = (SELECT oid FROM pg_catalog.pg_database"
							  " WHERE datname = current_database())"
							  " AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted"
							  " AND pid <> pg_backend_pid() LIMIT 1",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed == 0)
		return 0;
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* See train_lock.h. */
void
train_lock_acquire(const char *name, LOCKTAG *tag)
{
	int			pid;

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, hash_string("animerec.train"), hash_string(name), 2);
	if (LockAcquire(tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL)
		return;
	pid = lock_holder(tag);
	if (pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("model \"%s\" is being trained by another session", name),
				 errhint("Process %d is training it (or trained it in a transaction block not yet ended): wait for it to finish, or stop it with pg_cancel_backend(%d).",
						 pid, pid)));
	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("model \"%s\" is being trained by another session", name),
			 errhint("Wait for it to finish, or stop it with pg_cancel_backend().")));
}

/* See train_lock.h. */
void
train_lock_release(const LOCKTAG *tag)
{
	LockRelease(tag, ExclusiveLock, true);
}
