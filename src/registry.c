/*
 * registry.c — reading the model registry (animerec.models) through SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "animerec.h"
#include "registry.h"

/*
 * Run the read-only query sql with the model name as $1, from a plan prepared
 * once per backend and kept in *plan: serving reads the registry on every
 * call, and planning its row-level security policy each time would cost more
 * than the query.  The kept plan follows the current role.  Inside an SPI
 * connection; max_rows as for SPI_execute.
 */
static void
exec_by_name(SPIPlanPtr *plan, const char *sql, const char *name, long max_rows)
{
	Datum		values[1];

	if (*plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		SPIPlanPtr	p = SPI_prepare(sql, 1, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare a query of animerec.models: %s",
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}
	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_plan(*plan, values, NULL, true, max_rows) != SPI_OK_SELECT)
		elog(ERROR, "could not read animerec.models");
}

/* text column attno of the current SPI row copied into the caller's context, or NULL */
static char *
copy_text_col(int attno, MemoryContext caller)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, attno, &isnull);

	return isnull ? NULL : MemoryContextStrdup(caller, TextDatumGetCString(d));
}

/* array column attno of the current SPI row copied into the caller's context, or 0 */
static Datum
copy_array_col(int attno, MemoryContext caller)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, attno, &isnull);
	MemoryContext old;

	if (isnull)
		return (Datum) 0;
	old = MemoryContextSwitchTo(caller);
	d = PointerGetDatum(DatumGetArrayTypePCopy(d));
	MemoryContextSwitchTo(old);
	return d;
}

/* the contents of bytea d copied 64-byte aligned into context cxt; length in *len */
static void *
copy_aligned_bytea(Datum d, MemoryContext cxt, size_t *len)
{
	bytea	   *b = DatumGetByteaPP(d);
	char	   *raw;
	char	   *aligned;

	*len = VARSIZE_ANY_EXHDR(b);
	raw = MemoryContextAllocHuge(cxt, *len + 64);
	aligned = (char *) TYPEALIGN(64, raw);
	memcpy(aligned, VARDATA_ANY(b), *len);
	return aligned;
}

/* See registry.h. */
bool
registry_fetch_active(const char *name, RegistryModel *out, bool with_weights)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};	/* without, with weights */
	MemoryContext caller = CurrentMemoryContext;
	bool		isnull;
	bool		found;

	SPI_connect();
	exec_by_name(&plans[with_weights ? 1 : 0], with_weights ?
				 "SELECT version, ratings_table, user_col, item_col, rating_col, order_col,"
				 " items_table, item_key, tags_col, user_tags_table, user_tag_vocab, weights,"
				 " created_at FROM animerec.models WHERE name = $1 AND active" :
				 "SELECT version, ratings_table, user_col, item_col, rating_col, order_col,"
				 " items_table, item_key, tags_col, user_tags_table, user_tag_vocab, NULL::bytea,"
				 " created_at FROM animerec.models WHERE name = $1 AND active",
				 name, 1);
	found = SPI_processed > 0;
	if (found)
	{
		Datum		w;

		memset(out, 0, sizeof(*out));
		out->name = MemoryContextStrdup(caller, name);
		out->version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
		out->ratings_table = copy_text_col(2, caller);
		out->user_col = copy_text_col(3, caller);
		out->item_col = copy_text_col(4, caller);
		out->rating_col = copy_text_col(5, caller);
		out->order_col = copy_text_col(6, caller);
		out->items_table = copy_text_col(7, caller);
		out->item_key = copy_text_col(8, caller);
		out->tags_col = copy_text_col(9, caller);
		out->user_tags_table = copy_text_col(10, caller);
		out->user_tag_vocab = copy_array_col(11, caller);
		out->created_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 13, &isnull));
		w = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 12, &isnull);
		if (!isnull)
			out->weights = copy_aligned_bytea(w, caller, &out->weights_len);
	}
	SPI_finish();
	return found;
}

/* run sql with args (nulls: NULL pointers in values_or_null become SQL NULLs); error on failure */
static void
exec_args(const char *sql, int nargs, Oid *types, Datum *values, const bool *isnull, int expect)
{
	char		nulls[32];
	int			i;
	int			rc;

	for (i = 0; i < nargs; i++)
		nulls[i] = isnull && isnull[i] ? 'n' : ' ';
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "animerec registry statement failed: %s", SPI_result_code_string(rc));
}

/* text Datum of s, or a NULL flag */
static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * The nine text arguments naming run's data, in the order of the models
 * table's columns ratings_table, user_col, item_col, rating_col, order_col,
 * items_table, item_key, tags_col, user_tags_table, into values/isnull (9)
 */
static void
source_values(const RegistryRun *run, Datum *values, bool *isnull)
{
	values[0] = CStringGetTextDatum(run->ratings_table);
	values[1] = CStringGetTextDatum(run->user_col);
	values[2] = CStringGetTextDatum(run->item_col);
	values[3] = text_or_null(run->rating_col, &isnull[3]);
	values[4] = text_or_null(run->order_col, &isnull[4]);
	values[5] = text_or_null(run->items_table, &isnull[5]);
	values[6] = text_or_null(run->items_table ? run->item_key : NULL, &isnull[6]);
	values[7] = text_or_null(run->items_table ? run->tags_col : NULL, &isnull[7]);
	values[8] = text_or_null(run->user_tags_table, &isnull[8]);
}

/* See registry.h. */
void
registry_lock_name(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	exec_args("SELECT pg_advisory_xact_lock(hashtext('animerec.train'), hashtext($1))",
			  1, types, values, NULL, SPI_OK_SELECT);
}

/* See registry.h. */
void
registry_claim_name(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	exec_args("INSERT INTO animerec.model_owners (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
			  1, types, values, NULL, SPI_OK_INSERT);
	/* a name that exists but stays invisible belongs to a role we are not a member of */
	exec_args("SELECT 1 FROM animerec.model_owners o WHERE o.name = $1", 1, types, values, NULL,
			  SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", name),
				 errdetail("The name belongs to a role you are not a member of."),
				 errhint("Choose another name.")));
	exec_args("SELECT animerec._check_manager($1)", 1, types, values, NULL, SPI_OK_SELECT);
}

/* See registry.h. */
void
registry_fail_stale(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	exec_args("UPDATE animerec.models m SET status = 'failed', finished_at = now(), train_state = NULL"
			  " WHERE m.name = $1 AND m.status = 'training'",
			  1, types, values, NULL, SPI_OK_UPDATE);
}

/* See registry.h. */
int32
registry_insert_run(const RegistryRun *run)
{
	Oid			types[17] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID, INT4OID,
	INT4OID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[17];
	bool		isnull[17] = {0};
	bool		dummy;
	Datum		v;

	values[0] = CStringGetTextDatum(run->name);
	source_values(run, values + 1, isnull + 1);
	values[10] = CStringGetTextDatum(run->hyperparams);
	values[11] = Int64GetDatum(run->n_rows);
	values[12] = Int32GetDatum(run->n_users);
	values[13] = Int32GetDatum(run->n_items);
	values[14] = Int32GetDatum(run->n_tags);
	values[15] = run->user_tag_vocab;
	isnull[15] = run->user_tag_vocab == (Datum) 0;
	values[16] = run->tag_vocab;
	isnull[16] = run->tag_vocab == (Datum) 0;
	exec_args("INSERT INTO animerec.models (name, version, status, ratings_table, user_col,"
			  " item_col, rating_col, order_col, items_table, item_key, tags_col,"
			  " user_tags_table, hyperparams, n_rows, n_users, n_items, n_tags,"
			  " user_tag_vocab, tag_vocab, train_pid, train_backend_start)"
			  " SELECT $1, coalesce(max(version), 0) + 1, 'training', $2, $3, $4, $5, $6, $7,"
			  " $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16, $17, pg_backend_pid(),"
			  " (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"
			  " FROM animerec.models WHERE name = $1 RETURNING version",
			  17, types, values, isnull, SPI_OK_INSERT_RETURNING);
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &dummy);
	return DatumGetInt32(v);
}

/* See registry.h. */
char *
registry_source_changes(const char *name, int32 version, const RegistryRun *run)
{
	Oid			types[11] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID};
	Datum		values[11];
	bool		isnull[11] = {0};
	bool		null_result;
	Datum		d;

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	source_values(run, values + 2, isnull + 2);
	exec_args("SELECT nullif(concat_ws(', ',"
			  " CASE WHEN m.ratings_table IS DISTINCT FROM $3 THEN 'ratings' END,"
			  " CASE WHEN m.user_col IS DISTINCT FROM $4 THEN 'user_col' END,"
			  " CASE WHEN m.item_col IS DISTINCT FROM $5 THEN 'item_col' END,"
			  " CASE WHEN m.rating_col IS DISTINCT FROM $6 THEN 'rating_col' END,"
			  " CASE WHEN m.order_col IS DISTINCT FROM $7 THEN 'order_col' END,"
			  " CASE WHEN (m.items_table, m.item_key, m.tags_col) IS DISTINCT FROM ($8, $9, $10)"
			  "      THEN 'items' END,"
			  " CASE WHEN m.user_tags_table IS DISTINCT FROM $11 THEN 'user_tags' END), '')"
			  " FROM animerec.models m WHERE m.name = $1 AND m.version = $2",
			  11, types, values, isnull, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null_result);
	return null_result ? NULL : TextDatumGetCString(d);
}

/* See registry.h. */
bool
registry_find_resumable(const char *name, const char *hyperparams, RegistryCheckpoint *out)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(name), CStringGetTextDatum(hyperparams)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	exec_args("UPDATE animerec.models SET train_pid = pg_backend_pid(),"
			  " train_backend_start = (SELECT backend_start FROM pg_stat_activity"
			  " WHERE pid = pg_backend_pid())"
			  " WHERE (name, version) = (SELECT m.name, m.version FROM animerec.models m"
			  " WHERE m.name = $1 AND m.status = 'training'"
			  " ORDER BY m.version DESC LIMIT 1)"
			  " RETURNING version, epochs_done, coalesce(best_epoch, 0),"
			  " coalesce((metrics->>'best_val_ndcg')::float8, -1),"
			  " coalesce((metrics->>'epochs_since_best')::int, 0), weights,"
			  " coalesce((metrics->>'val_hr@10')::float8, 0), train_state,"
			  " (SELECT string_agg(h.key, ', ' ORDER BY h.key) FROM jsonb_each(hyperparams) h"
			  "   WHERE h.key NOT IN ('epochs', 'patience')"
			  "     AND h.value IS DISTINCT FROM $2::jsonb -> h.key)",
			  2, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(out, 0, sizeof(*out));
	out->version = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	out->epochs_done = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	out->best_epoch = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	out->best_val_ndcg = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
	out->epochs_since_best = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	out->best_val_hr = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &isnull));
	d = SPI_getbinval(tup, desc, 6, &isnull);
	if (!isnull)
		out->weights = copy_aligned_bytea(d, caller, &out->weights_len);
	d = SPI_getbinval(tup, desc, 8, &isnull);
	if (!isnull)
		out->state = copy_aligned_bytea(d, caller, &out->state_len);
	d = SPI_getbinval(tup, desc, 9, &isnull);
	if (!isnull)
		out->changed_params = MemoryContextStrdup(caller, TextDatumGetCString(d));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* See registry.h. */
void
registry_checkpoint(const char *name, int32 version, const void *weights, size_t len,
					const void *state, size_t state_len,
					const char *metrics, int32 epochs_done, int32 best_epoch, int32 epoch,
					double loss, double val_hr, double val_ndcg, bool have_val,
					double seconds, double positions_per_s)
{
	Oid			ctypes[8] = {TEXTOID, INT4OID, BYTEAOID, TEXTOID, INT4OID, INT4OID, INT8OID,
	BYTEAOID};
	Datum		cvalues[8];
	Oid			ltypes[8] = {TEXTOID, INT4OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID, FLOAT8OID};
	Datum		lvalues[8];
	bool		lnull[8] = {0};
	bytea	   *b = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	bytea	   *st = state ? palloc_extended(VARHDRSZ + state_len, MCXT_ALLOC_HUGE) : NULL;
	bool		cnull[8] = {0};

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), weights, len);
	if (st)
	{
		SET_VARSIZE(st, VARHDRSZ + state_len);
		memcpy(VARDATA(st), state, state_len);
	}
	cnull[7] = st == NULL;
	cvalues[0] = CStringGetTextDatum(name);
	cvalues[1] = Int32GetDatum(version);
	cvalues[2] = PointerGetDatum(b);
	cvalues[3] = CStringGetTextDatum(metrics);
	cvalues[4] = Int32GetDatum(epochs_done);
	cvalues[5] = Int32GetDatum(best_epoch);
	cvalues[6] = Int64GetDatum((int64) len);
	cvalues[7] = PointerGetDatum(st);
	exec_args("UPDATE animerec.models SET weights = $3, metrics = $4::jsonb, epochs_done = $5,"
			  " best_epoch = $6, bytes = $7, train_state = $8 WHERE name = $1 AND version = $2",
			  8, ctypes, cvalues, cnull, SPI_OK_UPDATE);
	pfree(b);
	if (st)
		pfree(st);

	lvalues[0] = cvalues[0];
	lvalues[1] = cvalues[1];
	lvalues[2] = Int32GetDatum(epoch);
	lvalues[3] = Float8GetDatum(loss);
	lvalues[4] = Float8GetDatum(val_hr);
	lvalues[5] = Float8GetDatum(val_ndcg);
	lnull[4] = lnull[5] = !have_val;
	lvalues[6] = Float8GetDatum(seconds);
	lvalues[7] = Float8GetDatum(positions_per_s);
	exec_args("INSERT INTO animerec.training_log (name, version, epoch, loss, val_hr, val_ndcg,"
			  " seconds, positions_per_s) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
			  " ON CONFLICT (name, version, epoch) DO UPDATE SET loss = excluded.loss,"
			  " val_hr = excluded.val_hr, val_ndcg = excluded.val_ndcg,"
			  " seconds = excluded.seconds, positions_per_s = excluded.positions_per_s,"
			  " logged_at = now()",
			  8, ltypes, lvalues, lnull, SPI_OK_INSERT);
}

/* See registry.h. */
void
registry_finish(const char *name, int32 version, const char *metrics)
{
	Oid			types[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(metrics);
	/* the lock animerec.activate() takes: the next statements see its commit */
	exec_args("SELECT pg_advisory_xact_lock(hashtext('animerec.activate'), hashtext($1))",
			  1, types, values, NULL, SPI_OK_SELECT);
	exec_args("UPDATE animerec.models SET active = false WHERE name = $1 AND active",
			  1, types, values, NULL, SPI_OK_UPDATE);
	exec_args("UPDATE animerec.models SET status = 'ready', active = true, finished_at = now(),"
			  " metrics = $3::jsonb, train_state = NULL WHERE name = $1 AND version = $2",
			  3, types, values, NULL, SPI_OK_UPDATE);
}

/* See registry.h. */
void
registry_report_no_active(const char *name)
{
	static SPIPlanPtr plan = NULL;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull, no_pid, no_progress;
	int64		ready;
	int32		pid;

	SPI_connect();
	/* its ready versions; the backend holding its training lock (src/train_lock.c) and its progress */
	exec_by_name(&plan,
				 "SELECT (SELECT count(*) FROM animerec.models m WHERE m.name = $1 AND m.status = 'ready'),"
				 " l.pid, p.epoch, p.epochs, p.batch, p.batches"
				 " FROM (SELECT 1) one"
				 " LEFT JOIN pg_catalog.pg_locks l ON l.locktype = 'advisory' AND l.granted"
				 " AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d"
				 " WHERE d.datname = pg_catalog.current_database())"
				 " AND l.classid = pg_catalog.hashtext('animerec.train')::oid"
				 " AND l.objid = pg_catalog.hashtext($1)::oid AND l.objsubid = 2"
				 " LEFT JOIN animerec.training_progress p ON p.pid = l.pid AND p.model = $1"
				 " ORDER BY p.epoch IS NULL LIMIT 1",
				 name, 1);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	ready = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	pid = DatumGetInt32(SPI_getbinval(tup, desc, 2, &no_pid));
	(void) SPI_getbinval(tup, desc, 3, &no_progress);
	if (ready == 0 && !no_pid && !no_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is being trained for the first time and has no version to serve yet", name),
				 errdetail("Process %d is training it: epoch %d of %d, batch " INT64_FORMAT " of " INT64_FORMAT ".",
						   pid, DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull)),
						   DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull)),
						   DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull)),
						   DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull))),
				 errhint("SELECT * FROM animerec.training_progress shows how far it is; the model serves when its training ends.")));
	if (ready == 0 && !no_pid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is being trained for the first time and has no version to serve yet", name),
				 errdetail("Process %d is training it.", pid),
				 errhint("SELECT * FROM animerec.training_progress shows how far it is (when animerec is in shared_preload_libraries); the model serves when its training ends.")));
	if (ready == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no trained version", name),
				 errhint("Train it with CALL animerec.train('%s', ratings), or continue an interrupted training with resume => true.", name)));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("model \"%s\" has no active version", name),
			 errhint("Activate a ready version with animerec.activate('%s', version).", name)));
}
