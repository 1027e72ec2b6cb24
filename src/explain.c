/*
 * explain.c — "because you watched": explain and explain_for_history.
 *
 * The history items that most raised an item's score, each with its
 * contribution: the drop in the item's log-probability (full softmax over
 * the catalogue) when that item is left out of the window (src/nn/explain.c,
 * exact, one batch of T + 1 windows).
 *
 * explain(user_id, ...) reads the user's window itself, through SPI with the
 * caller's own privileges and never through a serving grant: an explanation
 * names the items the user rated, which is more than a recommendation tells.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "animerec.h"
#include "serve.h"
#include "train_data.h"

/* n from argument argno: error when NULL or < 1 */
static int32
get_n(FunctionCallInfo fcinfo, int argno)
{
	int32		n;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("n must not be null")));
	n = PG_GETARG_INT32(argno);
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be at least 1, not %d", n)));
	return n;
}

/* dense index of the item of argument argno in sm's catalogue; error when unknown */
static int32
get_target(FunctionCallInfo fcinfo, int argno, const ServeModel *sm)
{
	int64		item_id = PG_GETARG_INT64(argno);
	int32		j = nn_item_index(&sm->m, item_id);

	if (j == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not in the catalogue of model \"%s\"",
						item_id, sm->name)));
	return j;
}

/* a window: T dense items and scaled ratings, chronological, and the user's tags */
typedef struct Window
{
	int32	   *items;			/* (maxlen) */
	float	   *ratings;		/* (maxlen) */
	int32		T;
	int32	   *utags;			/* NULL when the model has no user tags */
	int32		n_utags;
}			Window;

/*
 * Read user_id's window (the newest maxlen known items, like recommend) and
 * user tags into *w, with plain SPI queries run as the calling role.
 */
static void
read_window(const ServeModel *sm, int64 user_id, Window *w)
{
	const nn_model *m = &sm->m;
	int32		maxlen = m->cfg.maxlen;
	MemoryContext caller = CurrentMemoryContext;
	RegistryModel rm;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];

	w->items = palloc(sizeof(int32) * maxlen);
	w->ratings = palloc(sizeof(float) * maxlen);
	w->T = 0;
	w->utags = NULL;
	w->n_utags = 0;
	SPI_connect();
	if (!registry_fetch_active(sm->name, &rm, false))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no active version", sm->name)));
	values[0] = Int64GetDatum(user_id);
	values[1] = Int64GetDatum(maxlen);
	if (SPI_execute_with_args(psprintf("%s LIMIT $2", history_sql(&rm, "", "= $1", "")),
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the history of user " INT64_FORMAT, user_id);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
		int32		j = isnull ? 0 : nn_item_index(m, DatumGetInt64(d));

		if (j == 0)
			continue;
		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
		/* rows come newest first: fill the window from its end */
		w->items[maxlen - 1 - w->T] = j;
		w->ratings[maxlen - 1 - w->T] = nn_scale_rating(&m->cfg, isnull ? NAN : DatumGetFloat4(d));
		w->T++;
	}
	if (m->cfg.n_user_tags > 0 && rm.user_tags_table != NULL && rm.user_tag_vocab != (Datum) 0)
	{
		types[1] = TEXTARRAYOID;
		values[1] = rm.user_tag_vocab;
		if (SPI_execute_with_args(data_user_tags_sql(rm.user_tags_table, rm.user_col, "= $1"),
								  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the user tags of user " INT64_FORMAT, user_id);
		w->utags = MemoryContextAlloc(caller, sizeof(int32) * (SPI_processed + 1));
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			w->utags[w->n_utags++] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
																 SPI_tuptable->tupdesc, 2, &isnull));
		}
	}
	SPI_finish();
	memmove(w->items, w->items + (maxlen - w->T), sizeof(int32) * w->T);
	memmove(w->ratings, w->ratings + (maxlen - w->T), sizeof(float) * w->T);
}

/*
 * Explain target's score after window w and put the up to n window items
 * with the largest positive contributions into the SRF's tuplestore as
 * (rank, history_item_id, contribution, position), position 1 being the
 * newest item of the window.
 */
static void
emit_explanation(ReturnSetInfo *rsinfo, const ServeModel *sm, const Window *w,
				 int32 target, int32 n)
{
	double	   *contrib;
	double		logp;
	float	   *work;
	bool	   *taken;

	if (w->T == 0)
		return;
	contrib = palloc(sizeof(double) * w->T);
	taken = palloc0(sizeof(bool) * w->T);
	work = MemoryContextAllocHuge(CurrentMemoryContext,
								  sizeof(float) * nn_explain_work_floats(&sm->m, w->T));
	animerec_set_blas_threads();
	nn_explain(&sm->m, sm->item_out, w->T, w->items, w->ratings, w->utags, w->n_utags,
			   target, &logp, contrib, work);
	/* selection of the n largest (n is small), ties to the newest item */
	for (int32 r = 1; r <= n; r++)
	{
		int32		best = -1;
		Datum		values[4];
		bool		nulls[4] = {false};

		for (int32 t = w->T - 1; t >= 0; t--)
			if (!taken[t] && contrib[t] > 0 && (best < 0 || contrib[t] > contrib[best]))
				best = t;
		if (best < 0)
			break;
		taken[best] = true;
		values[0] = Int32GetDatum(r);
		values[1] = Int64GetDatum(sm->m.item_ids[w->items[best]]);
		values[2] = Float8GetDatum(contrib[best]);
		values[3] = Int32GetDatum(w->T - best);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(work);
	pfree(contrib);
	pfree(taken);
}

PG_FUNCTION_INFO_V1(animerec_explain);

/*
 * explain(user_id bigint, item_id bigint, model text, n int)
 *   -> setof (rank int, history_item_id bigint, contribution float8, position int)
 * The up to n items of the user's window (the newest maxlen rows, as
 * recommend reads them, with the caller's privileges) that most raised
 * item_id's log-probability.  NULL user or item: no rows.
 */
Datum
animerec_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		n = get_n(fcinfo, 3);
	const ServeModel *sm;
	Window		w;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	sm = get_model(fcinfo, 2);
	read_window(sm, PG_GETARG_INT64(0), &w);
	emit_explanation(rsinfo, sm, &w, get_target(fcinfo, 1, sm), n);
	serve_model_release(sm);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(animerec_explain_for_history);

/*
 * explain_for_history(item_ids bigint[], ratings real[], item_id bigint,
 *                     model text, n int)
 *   -> setof (rank int, history_item_id bigint, contribution float8, position int)
 * The same for an anonymous chronological history, read as
 * recommend_for_history reads it (unknown or NULL ids skipped, the last
 * maxlen known ones kept, ratings clamped, NULL: no rating).
 */
Datum
animerec_explain_for_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		n = get_n(fcinfo, 4);
	const ServeModel *sm;
	Window		w = {0};

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		return (Datum) 0;
	sm = get_model(fcinfo, 3);
	w.T = history_from_args(fcinfo, 0, sm, &w.items, &w.ratings, NULL);
	emit_explanation(rsinfo, sm, &w, get_target(fcinfo, 2, sm), n);
	serve_model_release(sm);
	return (Datum) 0;
}
