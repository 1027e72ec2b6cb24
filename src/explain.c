/*
 * explain.c — "because you watched": explain and explain_for_history.
 *
 * The history items that most raised an item's score, each with its
 * contribution: the drop in the item's log-probability (full softmax over
 * the catalogue) when that item is left out of the window (src/nn/explain.c,
 * exact, one batch of T + 1 windows).
 *
 * explain(user_id, ...) reads the user's window as recommend does
 * (read_user_history), but with the caller's own privileges and never
 * through a serving grant: an explanation names the items the user rated,
 * which is more than a recommendation tells.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "animerec.h"
#include "serve.h"

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

/*
 * Explain target's score after window w and put the up to n window items
 * with the largest positive contributions into the SRF's tuplestore as
 * (rank, history_item_id, contribution, position), position 1 being the
 * newest item of the window.
 */
static void
emit_explanation(ReturnSetInfo *rsinfo, const ServeModel *sm, const History *w,
				 int32 target, int32 n)
{
	double	   *contrib;
	double		logp;
	float	   *work;
	bool	   *taken;

	if (w->n_win == 0)
		return;
	contrib = palloc(sizeof(double) * w->n_win);
	taken = palloc0(sizeof(bool) * w->n_win);
	work = MemoryContextAllocHuge(CurrentMemoryContext,
								  sizeof(float) * nn_explain_work_floats(&sm->m, w->n_win));
	animerec_set_blas_threads();
	nn_explain(&sm->m, &sm->t, w->n_win, w->win_items, w->win_ratings, w->user_row,
			   w->utags, w->n_utags, target, &logp, contrib, work);
	/* selection of the n largest (n is small), ties to the newest item */
	for (int32 r = 1; r <= n; r++)
	{
		int32		best = -1;
		Datum		values[4];
		bool		nulls[4] = {false};

		for (int32 t = w->n_win - 1; t >= 0; t--)
			if (!taken[t] && contrib[t] > 0 && (best < 0 || contrib[t] > contrib[best]))
				best = t;
		if (best < 0)
			break;
		taken[best] = true;
		values[0] = Int32GetDatum(r);
		values[1] = Int64GetDatum(sm->m.item_ids[w->win_items[best]]);
		values[2] = Float8GetDatum(contrib[best]);
		values[3] = Int32GetDatum(w->n_win - best);
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
 * The up to n items of the user's window (the newest maxlen known items, as
 * recommend reads them, but always with the caller's own privileges) that most raised
 * item_id's log-probability.  NULL user or item: no rows.
 */
Datum
animerec_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		n = get_n(fcinfo, 3);
	ServingAccess acc;
	const ServeModel *sm;
	History		w;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	sm = get_model(fcinfo, 2, &acc);
	read_user_history(sm, &acc, true, PG_GETARG_INT64(0), false, NULL, &w);
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
	ServingAccess acc;
	const ServeModel *sm;
	History		w = {0};

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		return (Datum) 0;
	sm = get_model(fcinfo, 3, &acc);
	w.n_win = history_from_args(fcinfo, 0, sm, &w.win_items, &w.win_ratings, NULL);
	emit_explanation(rsinfo, sm, &w, get_target(fcinfo, 2, sm), n);
	serve_model_release(sm);
	return (Datum) 0;
}
