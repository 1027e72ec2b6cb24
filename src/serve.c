/*
 * serve.c — recommendations from SQL: recommend, recommend_for_history,
 * recommend_for_embedding, similar_items, and the blocks of users that the
 * batch path recommend_all (src/recommend_all.c) scores.
 *
 * Every function pins the active model version (src/shmem.c), reads what it
 * needs through SPI with the caller's privileges (a serving grantee's with
 * the model owner's, src/serving_acl.c), runs the LSTM over the history,
 * scores all items with one product on the loaded model's packed score
 * table (nn_scores) and selects the top k
 * without a full sort (nn_topk).  Results are materialised in one call
 * (recommend_all's stream per block of users, src/recommend_all.c).
 *
 * The recommend* rows carry the item's probability under the softmax over
 * the whole catalogue (from the scores already computed) and whether any
 * known history item was used (personalized).
 *
 * Cold users: a history with no known item has the zero embedding, so its
 * scores are the learned item biases — under the full softmax these track
 * each item's (log) popularity in the training data.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "animerec.h"
#include "registry.h"
#include "serve.h"
#include "serving_acl.h"
#include "shmem.h"
#include "train_data.h"

/* the cached queries of one model version (HistoryPlan in serve.h) */
struct HistoryPlan
{
	char		name[NAMEDATALEN];
	int32		version;
	TimestampTz created_at;		/* of the model's registry row */
	SPIPlanPtr	plan;			/* the history of user $1 (int8), newest first */
	SPIPlanPtr	utags;			/* user tags: $1 user id, $2 vocabulary; NULL: none */
	SPIPlanPtr	utags_any;		/* the same for $1 int8[] of user ids */
	Datum		vocab;			/* user-tag vocabulary (text[]), in TopMemoryContext */
	Oid			rels[2];		/* the relations the queries read: ratings, user tags */
	int			n_rels;
	struct HistoryPlan *next;
};

static HistoryPlan *history_plans = NULL;

/* ---- arguments ------------------------------------------------------------- */

/* k from argument argno: error when NULL or < 1, clamped to the catalogue size later */
int32
get_k(FunctionCallInfo fcinfo, int argno)
{
	int32		k;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be null")));
	k = PG_GETARG_INT32(argno);
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
	return k;
}

/* array argument argno (not NULL); error unless it has at most one dimension */
ArrayType *
get_vector(FunctionCallInfo fcinfo, int argno, const char *arg)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional", arg, ARR_NDIM(a))));
	return a;
}

/*
 * Pin the model named by argument argno (NULL: animerec.model, else the
 * database's default model); *acc says with whose rights to read for it.
 */
const ServeModel *
get_model(FunctionCallInfo fcinfo, int argno, ServingAccess *acc)
{
	serving_resolve(PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno), acc);
	return serving_acquire(acc);
}

/*
 * The chronological history of arguments argno (item_ids bigint[], not
 * NULL) and argno + 1 (ratings real[] of the same length, or NULL) for model
 * sm, as recommend_for_history reads it: unknown or NULL ids are skipped,
 * ratings scaled (NULL: no rating), the last maxlen known items kept.
 * *items and *ratings get palloc'd arrays of the window; exclude (N+1, may
 * be NULL) gets a 1 for every known item given.  Returns the window length.
 */
int32
history_from_args(FunctionCallInfo fcinfo, int argno, const ServeModel *sm,
				  int32 **items, float **ratings, uint8 *exclude)
{
	Datum	   *ids, *rts = NULL;
	bool	   *id_nulls, *rt_nulls = NULL;
	int			n, n_rt = 0;
	int32		n_known = 0, start;

	deconstruct_array(get_vector(fcinfo, argno, "item_ids"), INT8OID, 8, FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &ids, &id_nulls, &n);
	if (!PG_ARGISNULL(argno + 1))
	{
		deconstruct_array(get_vector(fcinfo, argno + 1, "ratings"), FLOAT4OID, 4, true,
						  TYPALIGN_INT, &rts, &rt_nulls, &n_rt);
		if (n_rt != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("item_ids has %d elements but ratings has %d", n, n_rt)));
	}
	*items = palloc(sizeof(int32) * (n + 1));
	*ratings = palloc(sizeof(float) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		int32		j = id_nulls[i] ? 0 : nn_item_index(&sm->m, DatumGetInt64(ids[i]));

		if (j == 0)
			continue;
		if (exclude)
			exclude[j] = 1;
		(*items)[n_known] = j;
		(*ratings)[n_known] = nn_scale_rating(&sm->m.cfg, (rts == NULL || rt_nulls[i])
											  ? NAN : DatumGetFloat4(rts[i]));
		n_known++;
	}
	start = Max(0, n_known - sm->m.cfg.maxlen);
	*items += start;
	*ratings += start;
	return n_known - start;
}

/* ---- history reading ---------------------------------------------------------- */

/*
 * Say once (per model version and backend) when the ratings table has no
 * index starting with (user_col, order_col): every recommend call then scans
 * the table.  Inside an SPI connection.
 */
static void
check_history_index(const RegistryModel *rm)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;

	values[0] = CStringGetTextDatum(rm->ratings_table);
	values[1] = CStringGetTextDatum(rm->user_col);
	if (rm->order_col)
		values[2] = CStringGetTextDatum(rm->order_col);
	else
		nulls[2] = 'n';
	if (SPI_execute_with_args(
							  "SELECT EXISTS (SELECT 1 FROM pg_index i"
							  " JOIN pg_attribute u ON u.attrelid = i.indrelid AND u.attname = $2"
							  " LEFT JOIN pg_attribute o ON o.attrelid = i.indrelid AND o.attname = $3"
							  " WHERE i.indrelid = $1::regclass AND i.indkey[0] = u.attnum"
							  " AND ($3 IS NULL OR (i.indnkeyatts >= 2 AND i.indkey[1] = o.attnum)))",
							  3, argtypes, values, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_index");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(NOTICE,
				(errmsg("%s has no index on (%s%s%s): every recommendation scans the table",
						rm->ratings_table, quote_identifier(rm->user_col),
						rm->order_col ? ", " : "",
						rm->order_col ? quote_identifier(rm->order_col) : ""),
				 errhint("CREATE INDEX ON %s (%s%s%s);", rm->ratings_table,
						 quote_identifier(rm->user_col), rm->order_col ? ", " : "",
						 rm->order_col ? quote_identifier(rm->order_col) : "")));
}

/*
 * SQL text reading rows (item bigint, rating real) of the model's ratings
 * table, newest first (order column descending, then item descending; a
 * NULL order value counts as the newest) or, when oldest_first, in exactly
 * the reverse order (ascending, NULLs last).  where is the condition on the
 * user column, e.g. "= $1"; select_user and order_user are prepended to the
 * select list and the ORDER BY (for reading many users: "user::bigint, "
 * and "user, ").
 */
char *
history_sql(const RegistryModel *rm, const char *select_user, const char *where,
			const char *order_user, bool oldest_first)
{
	StringInfoData s;
	const char *item = quote_identifier(rm->item_col);
	const char *dir = oldest_first ? "" : " DESC";

	initStringInfo(&s);
	appendStringInfo(&s, "SELECT %s%s::bigint, %s::real FROM %s WHERE %s %s ORDER BY %s",
					 select_user, item,
					 rm->rating_col ? quote_identifier(rm->rating_col) : "NULL",
					 rm->ratings_table,
					 quote_identifier(rm->user_col), where, order_user);
	if (rm->order_col)
		appendStringInfo(&s, "%s%s, ", quote_identifier(rm->order_col), dir);
	appendStringInfo(&s, "%s%s", item, dir);
	return s.data;
}

/* SPI_prepare sql and keep the plan; error naming the model when it fails */
static SPIPlanPtr
prepare_kept(const ServeModel *sm, const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare a query of model \"%s\": %s",
			 sm->name, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/* Free the plans and vocabulary of hp. */
static void
history_plan_reset(HistoryPlan *hp)
{
	if (hp->plan)
		SPI_freeplan(hp->plan);
	if (hp->utags)
		SPI_freeplan(hp->utags);
	if (hp->utags_any)
		SPI_freeplan(hp->utags_any);
	if (hp->vocab)
		pfree(DatumGetPointer(hp->vocab));
	hp->plan = hp->utags = hp->utags_any = NULL;
	hp->vocab = (Datum) 0;
}

/*
 * The cached queries of sm's model version (built, and the index checked, on
 * first use, with the registry reader's rights: acc).  Inside an SPI
 * connection.
 */
HistoryPlan *
get_history_plan(const ServeModel *sm, const ServingAccess *acc)
{
	HistoryPlan *hp;
	RegistryModel rm;
	Oid			argtypes[1] = {INT8OID};
	ServingUser su;

	for (hp = history_plans; hp != NULL; hp = hp->next)
		if (strcmp(hp->name, sm->name) == 0)
			break;
	if (hp != NULL && hp->version == sm->version && hp->created_at == sm->created_at &&
		hp->plan != NULL)
		return hp;
	serving_fetch_active(acc, &rm, false);
	serving_become_owner(acc, &su);
	check_history_index(&rm);
	if (hp == NULL)
	{
		hp = MemoryContextAllocZero(TopMemoryContext, sizeof(HistoryPlan));
		strlcpy(hp->name, sm->name, NAMEDATALEN);
		hp->next = history_plans;
		history_plans = hp;
	}
	history_plan_reset(hp);
	hp->plan = prepare_kept(sm, history_sql(&rm, "", "= $1", "", false), 1, argtypes);
	hp->rels[0] = serving_relation_oid(rm.ratings_table);
	hp->n_rels = 1;
	if (sm->m.cfg.n_user_tags > 0 && rm.user_tags_table != NULL && rm.user_tag_vocab != (Datum) 0)
	{
		Oid			tag_types[2] = {INT8OID, TEXTARRAYOID};

		hp->utags = prepare_kept(sm, data_user_tags_sql(rm.user_tags_table, rm.user_col, "= $1"),
								 2, tag_types);
		tag_types[0] = INT8ARRAYOID;
		hp->utags_any = prepare_kept(sm, data_user_tags_sql(rm.user_tags_table, rm.user_col,
															"= ANY($1)"),
									 2, tag_types);
		hp->vocab = PointerGetDatum(MemoryContextAlloc(TopMemoryContext,
													   VARSIZE_ANY(DatumGetPointer(rm.user_tag_vocab))));
		memcpy(DatumGetPointer(hp->vocab), DatumGetPointer(rm.user_tag_vocab),
			   VARSIZE_ANY(DatumGetPointer(rm.user_tag_vocab)));
		hp->rels[hp->n_rels++] = serving_relation_oid(rm.user_tags_table);
	}
	serving_restore(&su);
	hp->version = sm->version;
	hp->created_at = sm->created_at;
	return hp;
}

/* See serve.h. */
void
history_become_reader(const HistoryPlan *hp, const ServingAccess *acc, ServingUser *saved)
{
	serving_become_reader(acc, hp->rels, hp->n_rels, saved);
}

/* See serve.h. */
void
read_user_history(const ServeModel *sm, const ServingAccess *acc, bool own_rights, int64 user_id,
				  bool exclude_seen, uint8 *exclude, History *h)
{
	const nn_model *m = &sm->m;
	MemoryContext caller = CurrentMemoryContext;
	int32		T = m->cfg.maxlen;
	Datum		values[2];
	HistoryPlan *hp;
	Portal		portal;
	long		batch = exclude_seen ? FETCH_ROWS : T;	/* rows per fetch */
	uint64		n_rows;
	ServingUser su;
	ServingAccess reader = *acc;

	if (own_rights)
		reader.owner = InvalidOid;	/* never through a serving grant */
	h->win_items = palloc(sizeof(int32) * T);
	h->win_ratings = palloc(sizeof(float) * T);
	h->n_win = 0;
	h->utags = NULL;
	h->n_utags = 0;
	h->user_row = nn_user_index(m, user_id);
	SPI_connect();
	hp = get_history_plan(sm, acc);
	history_become_reader(hp, &reader, &su);
	values[0] = Int64GetDatum(user_id);
	if (hp->utags != NULL)
	{
		values[1] = hp->vocab;
		if (SPI_execute_plan(hp->utags, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the user tags of user " INT64_FORMAT, user_id);
		h->utags = MemoryContextAlloc(caller, sizeof(int32) * (SPI_processed + 1));
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			h->utags[h->n_utags++] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
																 SPI_tuptable->tupdesc, 2, &isnull));
		}
	}
	/* newest first, until the window holds T known items (every row with exclude_seen) */
	portal = SPI_cursor_open(NULL, hp->plan, values, NULL, true);
	do
	{
		SPI_cursor_fetch(portal, true, batch);
		n_rows = SPI_processed;
		for (uint64 r = 0; r < n_rows; r++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
			int32		j = isnull ? 0 : nn_item_index(m, DatumGetInt64(d));
			float		rating;

			if (j == 0)
				continue;
			if (exclude_seen)
				exclude[j] = 1;
			if (h->n_win == T)
				continue;
			d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
			rating = isnull ? NAN : DatumGetFloat4(d);
			/* rows come newest first: fill the window from its end */
			h->win_items[T - 1 - h->n_win] = j;
			h->win_ratings[T - 1 - h->n_win] = nn_scale_rating(&m->cfg, rating);
			h->n_win++;
		}
		SPI_freetuptable(SPI_tuptable);
	} while (n_rows == (uint64) batch && (exclude_seen || h->n_win < T));
	SPI_cursor_close(portal);
	serving_restore(&su);
	SPI_finish();
	/* move the window to the start of the arrays */
	memmove(h->win_items, h->win_items + (T - h->n_win), sizeof(int32) * h->n_win);
	memmove(h->win_ratings, h->win_ratings + (T - h->n_win), sizeof(float) * h->n_win);
}

/* ---- scoring ------------------------------------------------------------------ */

/*
 * u (D) = the model's embedding of a chronological history of n dense items
 * of the user with user-embedding row user_row (0: none) and n_utags user
 * tags (utags may be NULL); zero when n = 0.
 */
static void
embed_history(const ServeModel *sm, const int32 *items, const float *ratings, int32 n,
			  int32 user_row, const int32 *utags, int32 n_utags, float *u)
{
	const nn_model *m = &sm->m;
	int32		utag_ptr[2] = {0, n_utags};
	float	   *work;

	if (n == 0)
	{
		memset(u, 0, sizeof(float) * m->cfg.dim);
		return;
	}
	animerec_set_blas_threads();
	work = palloc(sizeof(float) * nn_batch_work_floats(m, 1, n));
	nn_infer_batch(m, sm->t.packed, 1, n, items, ratings, user_row > 0 ? &user_row : NULL,
				   utags ? utag_ptr : NULL, utags, u, work);
	pfree(work);
}

/*
 * The columns of a result row, a slice of (user_id, rank, item_id, score,
 * probability, personalized, model_version): similar_items returns columns
 * 1-3, the recommend* functions 1-5, recommend_all 0-6.
 */
typedef struct RowShape
{
	int			first;			/* COL_USER or COL_RANK */
	int			last;			/* COL_SCORE, COL_PERSONALIZED or COL_VERSION */
	int64		user_id;
	bool		personalized;
} RowShape;

#define COL_USER 0
#define COL_RANK 1
#define COL_SCORE 3
#define COL_PERSONALIZED 5
#define COL_VERSION 6

/*
 * Put got ranked items idx/sc (dense ids, best first) into the SRF's
 * tuplestore as rows shaped by *shape; probability is exp(score - lse), lse
 * the log-sum-exp of all N scores: the item's share of the softmax over the
 * whole catalogue.
 */
static void
emit_rows(ReturnSetInfo *rsinfo, const ServeModel *sm, const int32 *idx, const float *sc,
		  int32 got, float lse, const RowShape *shape)
{
	Datum		values[COL_VERSION + 1];
	bool		nulls[COL_VERSION + 1] = {false};

	values[COL_USER] = Int64GetDatum(shape->user_id);
	values[COL_PERSONALIZED] = BoolGetDatum(shape->personalized);
	values[COL_VERSION] = Int32GetDatum(sm->version);
	for (int32 r = 0; r < got; r++)
	{
		values[COL_RANK] = Int32GetDatum(r + 1);
		values[2] = Int64GetDatum(sm->m.item_ids[idx[r]]);
		values[COL_SCORE] = Float4GetDatum(sc[r]);
		values[4] = Float4GetDatum(expf(sc[r] - lse));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values + shape->first,
							 nulls + shape->first);
	}
}

/*
 * Put the top k of scores (N+1) not excluded into the SRF's tuplestore as
 * rows shaped by *shape (emit_rows).
 */
static void
emit_topk(ReturnSetInfo *rsinfo, const ServeModel *sm, const float *scores,
		  const uint8 *exclude, int32 k, const RowShape *shape)
{
	int32		n = sm->m.cfg.n_items;
	int32	   *idx;
	float	   *sc;
	int32		got;

	k = Min(k, n);
	idx = palloc(sizeof(int32) * k);
	sc = palloc(sizeof(float) * k);
	got = nn_topk(scores, n, k, exclude, idx, sc);
	emit_rows(rsinfo, sm, idx, sc, got,
			  shape->last > COL_SCORE ? nn_logsumexp(scores, n) : 0.0f, shape);
	pfree(idx);
	pfree(sc);
}

/*
 * Score every item for embedding u (D) and emit the top k not excluded as
 * recommend* rows; personalized says whether u came from known history items.
 */
static void
recommend_from_embedding(ReturnSetInfo *rsinfo, const ServeModel *sm, const float *u,
						 const uint8 *exclude, int32 k, bool personalized)
{
	float	   *scores = palloc(sizeof(float) * (sm->m.cfg.n_items + 1));
	RowShape	shape = {COL_RANK, COL_PERSONALIZED, 0, personalized};

	nn_scores(&sm->m, sm->t.score_table, u, 1, scores);
	emit_topk(rsinfo, sm, scores, exclude, k, &shape);
	pfree(scores);
}

/* ---- SQL functions ------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(animerec_recommend);

/*
 * recommend(user_id bigint, k int, model text, exclude_seen bool)
 *   -> setof (rank int, item_id bigint, score real, probability real, personalized bool)
 * The user's newest T known items feed the LSTM; with exclude_seen every item
 * the user has rated is left out.  NULL user: no rows.
 */
Datum
animerec_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = get_k(fcinfo, 1);
	bool		exclude_seen = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
	ServingAccess acc;
	const ServeModel *sm;
	History		h;
	uint8	   *exclude;
	float	   *u;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	sm = get_model(fcinfo, 2, &acc);
	exclude = palloc0(sm->m.cfg.n_items + 1);
	read_user_history(sm, &acc, false, PG_GETARG_INT64(0), exclude_seen, exclude, &h);
	u = palloc(sizeof(float) * sm->m.cfg.dim);
	embed_history(sm, h.win_items, h.win_ratings, h.n_win, h.user_row, h.utags, h.n_utags, u);
	recommend_from_embedding(rsinfo, sm, u, exclude_seen ? exclude : NULL, k, h.n_win > 0);
	serve_model_release(sm);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(animerec_recommend_for_history);

/*
 * recommend_for_history(item_ids bigint[], ratings real[], k int, model text)
 *   -> setof (rank int, item_id bigint, score real, probability real, personalized bool)
 * An anonymous session's chronological history: unknown or NULL ids are
 * skipped, the last T known ones feed the LSTM, ratings are clamped to the
 * trained range (NULL: no rating), and the given items are excluded.
 */
Datum
animerec_recommend_for_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = get_k(fcinfo, 2);
	ServingAccess acc;
	const ServeModel *sm;
	int32	   *items;
	float	   *ratings, *u;
	int32		n;
	uint8	   *exclude;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	sm = get_model(fcinfo, 3, &acc);
	exclude = palloc0(sm->m.cfg.n_items + 1);
	n = history_from_args(fcinfo, 0, sm, &items, &ratings, exclude);
	u = palloc(sizeof(float) * sm->m.cfg.dim);
	embed_history(sm, items, ratings, n, 0, NULL, 0, u);
	recommend_from_embedding(rsinfo, sm, u, exclude, k, n > 0);
	serve_model_release(sm);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(animerec_recommend_for_embedding);

/*
 * recommend_for_embedding(embedding real[], k int, model text)
 *   -> setof (rank int, item_id bigint, score real, probability real, personalized bool)
 * Top k items for a user embedding (D), e.g. from the user_embedding aggregate;
 * the zero embedding (what no known item gives) is not personalized.
 */
Datum
animerec_recommend_for_embedding(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = get_k(fcinfo, 1);
	ServingAccess acc;
	const ServeModel *sm;
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	float	   *u;
	bool		nonzero = false;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	deconstruct_array(get_vector(fcinfo, 0, "embedding"), FLOAT4OID, 4, true, TYPALIGN_INT,
					  &elems, &enulls, &n);
	sm = get_model(fcinfo, 2, &acc);
	if (n != sm->m.cfg.dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embedding has %d elements but model \"%s\" has dimension %d",
						n, sm->name, sm->m.cfg.dim)));
	u = palloc(sizeof(float) * n);
	for (int i = 0; i < n; i++)
	{
		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("embedding must not contain nulls")));
		u[i] = DatumGetFloat4(elems[i]);
		if (!isfinite(u[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("embedding must contain only finite numbers, not %g at position %d",
							(double) u[i], i + 1)));
		nonzero |= u[i] != 0.0f;
	}
	recommend_from_embedding(rsinfo, sm, u, NULL, k, nonzero);
	serve_model_release(sm);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(animerec_similar_items);

/*
 * similar_items(item_id bigint, k int, model text)
 *   -> setof (rank int, item_id bigint, score real)
 * The k items whose output representations (E_item + mean tag embedding,
 * bias left out) have the highest cosine similarity with item_id's.
 */
Datum
animerec_similar_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = get_k(fcinfo, 1);
	ServingAccess acc;
	const ServeModel *sm;
	int64		item_id;
	RowShape	shape = {COL_RANK, COL_SCORE, 0, false};
	int32		q, n;
	float	   *scores;
	uint8	   *exclude;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	item_id = PG_GETARG_INT64(0);
	sm = get_model(fcinfo, 2, &acc);
	n = sm->m.cfg.n_items;
	q = nn_item_index(&sm->m, item_id);
	if (q == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not in the catalogue of model \"%s\"",
						item_id, sm->name)));
	scores = palloc(sizeof(float) * (n + 1));
	nn_item_similarities(&sm->m, &sm->t, q, scores,
						 palloc(sizeof(float) * sm->m.cfg.dim));
	exclude = palloc0(n + 1);
	exclude[q] = 1;
	emit_topk(rsinfo, sm, scores, exclude, k, &shape);
	serve_model_release(sm);
	return (Datum) 0;
}

/* ---- batch path ----------------------------------------------------------------- */

/* Allocate a block for model sm and the top k of each user. */
void
block_init(UserBlock *b, const ServeModel *sm, int32 k)
{
	const nn_model *m = &sm->m;

	b->B = 0;
	b->limit = BATCH_USERS;
	b->T = m->cfg.maxlen;
	b->user_ids = palloc(sizeof(int64) * BATCH_USERS);
	b->user_rows = m->user_ids ? palloc(sizeof(int32) * BATCH_USERS) : NULL;
	b->n_win = palloc(sizeof(int32) * BATCH_USERS);
	b->items = palloc0(sizeof(int32) * BATCH_USERS * b->T);
	b->ratings = palloc0(sizeof(float) * BATCH_USERS * b->T);
	b->seen_ptr = palloc0(sizeof(int32) * (BATCH_USERS + 1));
	b->seen_cap = 4096;
	b->seen = palloc(sizeof(int32) * b->seen_cap);
	b->utag_ptr = palloc0(sizeof(int32) * (BATCH_USERS + 1));
	b->utag_cap = 1024;
	b->utag_idx = palloc(sizeof(int32) * b->utag_cap);
	b->has_utags = false;
	b->top.k = Min(k, m->cfg.n_items);
	b->top.idx = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * BATCH_USERS * (size_t) b->top.k);
	b->top.score = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * BATCH_USERS * (size_t) b->top.k);
	b->top.got = palloc(sizeof(int32) * BATCH_USERS);
	b->top.lse = palloc(sizeof(float) * BATCH_USERS);
}

/* Allocate the scratch to score sm's blocks on threads threads. */
void
block_scratch_init(BlockScratch *s, const ServeModel *sm, int32 threads)
{
	const nn_model *m = &sm->m;

	s->threads = threads;
	s->u = palloc(sizeof(float) * BATCH_USERS * m->cfg.dim);
	s->scores = MemoryContextAllocHuge(CurrentMemoryContext,
									   sizeof(float) * nn_recommend_scores_floats(m, threads));
	s->work = MemoryContextAllocHuge(CurrentMemoryContext,
									 sizeof(float) * nn_batch_work_floats(m, BATCH_USERS, m->cfg.maxlen));
	s->exclude = MemoryContextAllocZero(CurrentMemoryContext,
										(size_t) threads * (m->cfg.n_items + 1));
	s->item_gates = NULL;
	s->job = palloc(nn_recommend_job_bytes());
}

/* Append a seen item of the block's current (last) user. */
void
block_add_seen(UserBlock *b, int32 j)
{
	int32		at = b->seen_ptr[b->B + 1];

	if (at == b->seen_cap)
	{
		b->seen_cap *= 2;
		b->seen = repalloc_huge(b->seen, sizeof(int32) * b->seen_cap);
	}
	b->seen[at] = j;
	b->seen_ptr[b->B + 1] = at + 1;
}

/* Start a new user of model m in the block (its window and seen list empty). */
void
block_begin_user(UserBlock *b, const nn_model *m, int64 user_id)
{
	b->user_ids[b->B] = user_id;
	if (b->user_rows)
		b->user_rows[b->B] = nn_user_index(m, user_id);
	b->n_win[b->B] = 0;
	b->seen_ptr[b->B + 1] = b->seen_ptr[b->B];
	memset(b->items + (size_t) b->B * b->T, 0, sizeof(int32) * b->T);
	memset(b->ratings + (size_t) b->B * b->T, 0, sizeof(float) * b->T);
}

/* Close the block's current user; true when the block now has limit users. */
bool
block_end_user(UserBlock *b)
{
	b->B++;
	return b->B == b->limit;
}

/*
 * Read the user tags of the block's users (ascending ids) with hp's utags_any
 * query into utag_ptr/utag_idx, when the model has user tags.  Inside an SPI
 * connection.
 */
void
block_read_user_tags(UserBlock *b, const HistoryPlan *hp)
{
	Datum	   *ids;
	Datum		values[2];
	int32		i = 0;

	b->has_utags = hp->utags_any != NULL;
	if (!b->has_utags || b->B == 0)
		return;
	ids = palloc(sizeof(Datum) * b->B);
	for (int32 j = 0; j < b->B; j++)
		ids[j] = Int64GetDatum(b->user_ids[j]);
	values[0] = PointerGetDatum(construct_array(ids, b->B, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = hp->vocab;
	if (SPI_execute_plan(hp->utags_any, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read user tags");
	/* rows come ordered by user, like the block: the tags are already grouped */
	if (SPI_processed > (uint64) b->utag_cap)
	{
		b->utag_cap = (int32) SPI_processed;
		b->utag_idx = repalloc_huge(b->utag_idx, sizeof(int32) * b->utag_cap);
	}
	b->utag_ptr[0] = 0;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		user = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

		for (; i < b->B && b->user_ids[i] < user; i++)
			b->utag_ptr[i + 1] = (int32) r;
		b->utag_idx[r] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
	}
	for (; i < b->B; i++)
		b->utag_ptr[i + 1] = (int32) SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	pfree(ids);
}

/*
 * Set up the scoring of the block's users into b->top (nn_recommend_begin)
 * in s->job; no user is scored yet unless the block is too small for a
 * wave.
 */
void
block_score_begin(UserBlock *b, const ServeModel *sm, BlockScratch *s)
{
	nn_recommend_begin(s->job, &sm->m, &sm->t, s->item_gates, b->B, b->T, b->items, b->ratings,
					   b->user_rows, b->has_utags ? b->utag_ptr : NULL, b->utag_idx, b->seen_ptr, b->seen,
					   &b->top, s->u, s->scores, s->exclude, s->work);
}

/*
 * Score the users of the block set up by block_score_begin on s->threads - 1
 * threads (one when s->threads is 1), slices 0 on: no PostgreSQL call, so
 * it may run on a thread of its own; OpenBLAS must be set to one thread.
 */
void
block_score_workers(BlockScratch *s)
{
	nn_recommend_run(s->job, s->threads > 1 ? s->threads - 1 : 1, 0);
}

/*
 * Take the block's users no worker has taken yet on this backend, as the
 * last slice, when s->threads > 1 (else the one worker scores them all).
 */
void
block_score_help(BlockScratch *s)
{
	if (s->threads > 1)
		nn_recommend_take(s->job, s->threads - 1);
}

/* Leave the block's users no thread has taken yet. */
void
block_score_stop(BlockScratch *s)
{
	nn_recommend_stop(s->job);
}

/*
 * Score the users of the block set up by block_score_begin on s->threads
 * threads, this one among them: no PostgreSQL call; OpenBLAS must be set to
 * one thread while it runs.
 */
void
block_score_all(BlockScratch *s)
{
	nn_recommend_run(s->job, s->threads, 0);
}

/* Emit each scored user's top k as recommend_all rows, and empty the block. */
void
block_emit(UserBlock *b, ReturnSetInfo *rsinfo, const ServeModel *sm)
{
	nn_topk_batch *top = &b->top;

	for (int32 i = 0; i < b->B; i++)
	{
		RowShape	shape = {COL_USER, COL_VERSION, b->user_ids[i], b->n_win[i] > 0};

		emit_rows(rsinfo, sm, top->idx + (size_t) i * top->k, top->score + (size_t) i * top->k,
				  top->got[i], top->lse[i], &shape);
	}
	b->B = 0;
	b->seen_ptr[0] = 0;
	b->has_utags = false;
}
