/*
 * recommend_all.c — the batch path: top k for every user of a model's ratings
 * table (or for given users), streamed block by block.
 *
 * One query reads every history (users in ascending order, each user's rows
 * oldest first, the reverse of recommend's order, which an index on (user,
 * order column) gives with only ties left to sort) through an SPI cursor
 * that stays open between calls; each user's newest maxlen known items,
 * kept in a ring while its rows go by, fill the user's row of a block,
 * which is scored with one GEMM per step (block_score_begin, then
 * block_score_all, or _workers and _help, src/serve.c) into a small
 * tuplestore, and the rows leave from there one per call
 * (value-per-call).  The first block is scored at once, so the
 * first row comes after one block; from then on a full block is scored on
 * threads of its own (animerec.threads - 1 of them, or one; no more than
 * NN_MAX_SLICES nor than the block has chunks of 32 users) while this
 * backend reads the next block's rows and returns the previous block's (a
 * pipeline of two blocks), and then, when the next block is full, helps
 * score the one still being scored: at most animerec.threads threads score
 * at once, and no core waits while users are left.  A LIMIT or a closed
 * cursor stops the work after the chunks of users in hand.  Over the whole
 * table the first block has FIRST_BLOCK users and each next one twice as
 * many, up to BATCH_USERS: a preview is quick and a whole run scores almost
 * every user in full blocks (refresh_recommendations reads one such scan).
 * For given users every block is full-sized from the start.
 * SQL calls it through recommend_all, a SQL function whose body calls
 * _recommend_all_rows in a select list, so that the planner inlines it and
 * the rows stream (a set-returning function in FROM is always run to
 * completion first).
 *
 * A block scored on other threads reads the pinned model and the scan's
 * memory: it is waited for before the scan's memory goes (a reset callback
 * on it), before the scan releases the model, and before a transaction's
 * end drops the pins (recommend_all_wait_scoring, called by src/shmem.c),
 * the users no thread has taken yet left since the scan is over; and
 * before the backend uses BLAS itself (helping, since the scan goes on).
 */
#include "postgres.h"

#include "nn/blas.h"
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "animerec.h"
#include "serve.h"

#define FIRST_BLOCK 8			/* users of the first block; each next one doubles, up to BATCH_USERS */

/* one row of the histories' query: a user's item (dense, 0: unknown) and rating (NaN: none) */
typedef struct HistoryRow
{
	int64		user;
	int32		item;
	float		rating;
} HistoryRow;

/* the state of one recommend_all scan, in the SRF's multi-call context */
typedef struct Stream
{
	MemoryContext cxt;			/* the multi-call context */
	const ServeModel *sm;		/* pinned until the scan ends */
	ServingAccess acc;			/* with whose rights the histories are read */
	int32		k;
	int64	   *wanted;			/* the users asked for, ascending, or NULL: all */
	int			n_wanted;
	int			next_wanted;
	UserBlock	blocks[2];
	UserBlock  *b;				/* the block being filled */
	UserBlock  *scoring;		/* the block being scored on other threads, or NULL */
	BlockScratch scratch;		/* for scoring, one block at a time */
	int64		steps;			/* history steps of the blocks scored so far */
	nn_async	job;			/* scores *scoring */
	bool		first_scored;	/* the first block has been scored (on this thread) */
	MemoryContextCallback on_reset; /* waits for the job before cxt goes */
	char	   *portal;			/* name of the open cursor over the histories; NULL once closed */
	bool		holdable;		/* that cursor is WITH HOLD, as the one reading this scan */
	HistoryRow *rows;			/* (FETCH_ROWS) the last rows fetched */
	int			n_rows;
	int			next_row;		/* the first row not yet added to a block */
	bool		have_user;		/* a user's rows are being read */
	int64		cur_user;
	int64		n_known;		/* known items of the current user so far */
	int32	   *ring_items;		/* (T) its last T known items, item n at n % T */
	float	   *ring_ratings;	/* (T) their scaled ratings */
	bool		finished;		/* every user has been scored */
	Tuplestorestate *out;		/* scored rows not yet returned */
	ReturnSetInfo sink;			/* block_emit's view of out */
	TupleTableSlot *slot;
} Stream;

/* scans with a block being scored on other threads (at most MAX_SCORING at once) */
#define MAX_SCORING 16
static Stream *scoring_scans[MAX_SCORING];

/* nn_async job: score the scan's block *scoring, set up by block_score_begin (OpenBLAS set to one thread) */
static void
score_job(void *arg)
{
	Stream	   *st = arg;

	block_score_workers(&st->scratch);
}

/*
 * Wait for the scan's block being scored on other threads, if any (it stays
 * in *scoring): when its rows are wanted, help score it; else leave the
 * users no thread has taken yet.
 */
static void
stream_wait(Stream *st, bool want_rows)
{
	if (!st->job.running)
		return;
	if (want_rows)
		block_score_help(&st->scratch);
	else
		block_score_stop(&st->scratch);
	nn_async_wait(&st->job);
	for (int i = 0; i < MAX_SCORING; i++)
		if (scoring_scans[i] == st)
			scoring_scans[i] = NULL;
}

/* See animerec.h: every block being scored on other threads has ended. */
void
recommend_all_wait_scoring(bool finish)
{
	for (int i = 0; i < MAX_SCORING; i++)
		if (scoring_scans[i] != NULL)
			stream_wait(scoring_scans[i], finish);
}

/*
 * MemoryContextCallback: the scan's memory goes (its end, an error, its
 * cursor closed): wait for its job first.  A holdable histories' cursor
 * still open (the scan's own cursor closed before reading to its end) is
 * closed too, outside an aborting (sub)transaction, which drops it itself:
 * else COMMIT would read it to its end and keep it for the session.
 */
static void
stream_memory_reset(void *arg)
{
	Stream	   *st = (Stream *) arg;
	Portal		portal;

	stream_wait(st, false);
	if (st->holdable && st->portal != NULL && IsTransactionState() &&
		(portal = SPI_cursor_find(st->portal)) != NULL)
		SPI_cursor_close(portal);
}

/*
 * Give the scan's scoring nn_item_gates's table (the first layer's item
 * columns of every item, so that each history step reads a row instead of
 * multiplying them) once the blocks scored so far have run as many history
 * steps as the model has items, so that building it costs at most what the
 * scan has already done, and when it fits in the memory a hash table may
 * take (work_mem times hash_mem_multiplier).  No block is being scored.
 */
static void
stream_item_gates(Stream *st)
{
	const nn_model *m = &st->sm->m;
	size_t		bytes = sizeof(float) * nn_item_gates_floats(m);
	float	   *work;

	if (st->scratch.item_gates != NULL || st->steps < (int64) m->cfg.n_items + 1 ||
		bytes > get_hash_memory_limit())
		return;
	work = palloc(sizeof(float) * nn_item_gates_work_floats(m));
	st->scratch.item_gates = MemoryContextAllocHuge(st->cxt, bytes);
	nn_item_gates(m, st->scratch.item_gates, work);
	pfree(work);
}

/*
 * The block being filled is full (or the last): emit the block being scored
 * (after helping to finish it), then score the full one on threads of its
 * own while this backend goes on with the other block.  The first block,
 * and every block when no thread can be started, is scored here at once.
 * Inside an SPI connection.
 */
static void
stream_score_block(Stream *st, const HistoryPlan *hp)
{
	int			slot = -1;

	if (st->scoring != NULL)
	{
		stream_wait(st, true);
		block_emit(st->scoring, &st->sink, st->sm);
		st->scoring = NULL;
	}
	if (st->b->B == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	block_read_user_tags(st->b, hp);
	nn_blas_set_threads(1);
	stream_item_gates(st);
	for (int32 i = 0; i < st->b->B; i++)
		st->steps += st->b->n_win[i];
	for (int i = 0; st->first_scored && i < MAX_SCORING && slot < 0; i++)
		if (scoring_scans[i] == NULL)
			slot = i;
	st->first_scored = true;
	st->scoring = st->b;
	block_score_begin(st->scoring, st->sm, &st->scratch);
	if (slot >= 0 && nn_async_start(&st->job, score_job, st))
		scoring_scans[slot] = st;
	else
	{
		block_score_all(&st->scratch);
		block_emit(st->scoring, &st->sink, st->sm);
		st->scoring = NULL;
	}
	st->b = st->b == &st->blocks[0] ? &st->blocks[1] : &st->blocks[0];
}

/* comparator for int64 qsort */
static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * Wait for the block being scored, close the cursor, end the row store
 * (and its temporary file, when it spilled) and release the model, once
 * (normal end, early shutdown).
 */
static void
stream_close(Stream *st)
{
	stream_wait(st, false);
	st->scoring = NULL;
	if (st->out != NULL)
	{
		ExecClearTuple(st->slot);
		tuplestore_end(st->out);
		st->out = NULL;
	}
	if (st->portal != NULL)
	{
		Portal		portal = SPI_cursor_find(st->portal);

		if (portal != NULL)
			SPI_cursor_close(portal);
		st->portal = NULL;
	}
	if (st->sm != NULL)
	{
		serve_model_release(st->sm);
		st->sm = NULL;
	}
}

/*
 * ExprContext callback: the scan stops before its end (LIMIT, cursor closed,
 * rescan).  Registered after the SRF's own shutdown callback, so called
 * before it (they run last registered first), while st still exists.
 */
static void
stream_shutdown(Datum arg)
{
	stream_close((Stream *) DatumGetPointer(arg));
}

/*
 * Close the block's current user: its newest T known items from the ring,
 * oldest first and left-padded, become its window; a full block is scored,
 * and the next one is twice as large.
 */
static void
stream_end_user(Stream *st, const HistoryPlan *hp)
{
	UserBlock  *b = st->b;
	int32		n = (int32) Min(st->n_known, (int64) b->T);
	int64		first = st->n_known - n;	/* the oldest item kept */

	for (int32 i = 0; i < n; i++)
	{
		size_t		at = (size_t) b->B * b->T + (b->T - n + i);

		b->items[at] = st->ring_items[(first + i) % b->T];
		b->ratings[at] = st->ring_ratings[(first + i) % b->T];
	}
	b->n_win[b->B] = n;
	st->n_known = 0;
	if (block_end_user(st->b))
	{
		int32		limit = Min(2 * st->b->limit, BATCH_USERS);

		stream_score_block(st, hp);
		st->b->limit = limit;
	}
}

/*
 * Close the current user, then add the requested users without rows below
 * user (all that are left when last) with the cold-start ranking.
 */
static void
stream_next_user(Stream *st, const HistoryPlan *hp, int64 user, bool last)
{
	if (st->have_user)
		stream_end_user(st, hp);
	/* requested users without rows: cold start, in id order */
	while (st->next_wanted < st->n_wanted && (last || st->wanted[st->next_wanted] <= user))
	{
		if (last || st->wanted[st->next_wanted] < user)
		{
			block_begin_user(st->b, &st->sm->m, st->wanted[st->next_wanted]);
			stream_end_user(st, hp);
		}
		st->next_wanted++;
	}
	st->have_user = false;
}

/* Add one history row to the block. */
static void
stream_add_row(Stream *st, const HistoryPlan *hp, const HistoryRow *row)
{
	UserBlock  *b;

	if (!st->have_user || row->user != st->cur_user)
	{
		stream_next_user(st, hp, row->user, false);
		block_begin_user(st->b, &st->sm->m, row->user);
		st->have_user = true;
		st->cur_user = row->user;
	}
	b = st->b;
	if (row->item == 0)
		return;
	block_add_seen(b, row->item);
	/* rows come oldest first: the ring keeps the last T */
	st->ring_items[st->n_known % b->T] = row->item;
	st->ring_ratings[st->n_known % b->T] = nn_scale_rating(&st->sm->m.cfg, row->rating);
	st->n_known++;
}

/*
 * Fetch the next rows of the cursor into st->rows: 128 per user of the
 * block being filled (a quick first block), at most FETCH_ROWS; false when
 * there are no more.  Inside an SPI connection.
 */
static bool
stream_fetch(Stream *st, Portal portal)
{
	SPI_cursor_fetch(portal, true, Min(FETCH_ROWS, 128 * st->b->limit));
	st->n_rows = (int) SPI_processed;
	st->next_row = 0;
	for (int r = 0; r < st->n_rows; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		st->rows[r].user = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		d = SPI_getbinval(tup, td, 2, &isnull);
		st->rows[r].item = isnull ? 0 : nn_item_index(&st->sm->m, DatumGetInt64(d));
		d = SPI_getbinval(tup, td, 3, &isnull);
		st->rows[r].rating = isnull ? NAN : DatumGetFloat4(d);
	}
	SPI_freetuptable(SPI_tuptable);
	return st->n_rows > 0;
}

/*
 * Add history rows to the block until it has been scored into st->out, or
 * every user has been (then the cursor is closed).
 */
static void
stream_advance(Stream *st)
{
	const HistoryPlan *hp;
	Portal		portal;
	MemoryContext spi;
	ServingUser su;

	SPI_connect();
	hp = get_history_plan(st->sm, &st->acc);
	history_become_reader(hp, &st->acc, &su);
	portal = SPI_cursor_find(st->portal);
	if (portal == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_CURSOR_STATE),
				 errmsg("recommend_all can no longer read the histories of this scan"),
				 errdetail("Its reading began in a subtransaction that has since been rolled back (ROLLBACK TO SAVEPOINT, or an exception block)."),
				 errhint("Run the query or declare the cursor again; fetch a recommend_all cursor's first rows outside the savepoint you may roll back.")));
	spi = MemoryContextSwitchTo(st->cxt);
	while (tuplestore_tuple_count(st->out) == 0)
	{
		if (st->next_row == st->n_rows && !stream_fetch(st, portal))
		{
			stream_next_user(st, hp, 0, true);
			stream_score_block(st, hp);		/* the last block, partial */
			stream_score_block(st, hp);		/* emits it */
			SPI_cursor_close(portal);
			st->portal = NULL;
			st->finished = true;
			break;
		}
		stream_add_row(st, hp, &st->rows[st->next_row++]);
	}
	MemoryContextSwitchTo(spi);
	serving_restore(&su);
	SPI_finish();
}

/*
 * Set up a scan: pin the model, sort the requested users, open the cursor
 * over the histories, and prepare the block and the tuplestore.  In the
 * multi-call context.
 */
static Stream *
stream_begin(FunctionCallInfo fcinfo, TupleDesc tupdesc)
{
	Stream	   *st = palloc0(sizeof(Stream));
	RegistryModel rm;
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	char	   *sql;
	SPIPlanPtr	plan;
	Portal		portal;
	const HistoryPlan *hp;
	ServingUser su;

	st->cxt = CurrentMemoryContext;
	st->k = get_k(fcinfo, 0);
	st->sm = get_model(fcinfo, 1, &st->acc);
	if (!PG_ARGISNULL(2))
	{
		Datum	   *elems;
		bool	   *enulls;
		int			n;

		values[0] = PG_GETARG_DATUM(2);
		deconstruct_array(get_vector(fcinfo, 2, "users"), INT8OID, 8, FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &elems, &enulls, &n);
		st->wanted = palloc(sizeof(int64) * (n + 1));
		for (int i = 0; i < n; i++)
			if (!enulls[i])
				st->wanted[st->n_wanted++] = DatumGetInt64(elems[i]);
		qsort(st->wanted, st->n_wanted, sizeof(int64), cmp_int64);
		n = st->n_wanted;
		st->n_wanted = 0;
		for (int i = 0; i < n; i++)
			if (st->n_wanted == 0 || st->wanted[st->n_wanted - 1] != st->wanted[i])
				st->wanted[st->n_wanted++] = st->wanted[i];
	}
	serving_fetch_active(&st->acc, &rm, false);
	sql = history_sql(&rm, psprintf("%s::bigint, ", quote_identifier(rm.user_col)),
					  st->wanted ? "= ANY($1)" : "IS NOT NULL",
					  psprintf("%s, ", quote_identifier(rm.user_col)), true);
	block_init(&st->blocks[0], st->sm, st->k);
	block_init(&st->blocks[1], st->sm, st->k);
	st->ring_items = palloc(sizeof(int32) * st->blocks[0].T);
	st->ring_ratings = palloc(sizeof(float) * st->blocks[0].T);
	block_scratch_init(&st->scratch, st->sm, animerec_threads);
	st->b = &st->blocks[0];
	st->b->limit = st->wanted ? BATCH_USERS : FIRST_BLOCK;
	st->on_reset.func = stream_memory_reset;
	st->on_reset.arg = st;
	MemoryContextRegisterResetCallback(st->cxt, &st->on_reset);
	st->rows = palloc(sizeof(HistoryRow) * FETCH_ROWS);
	st->out = tuplestore_begin_heap(false, false, work_mem);
	st->sink.type = T_ReturnSetInfo;
	st->sink.setResult = st->out;
	st->sink.setDesc = tupdesc;
	st->slot = MakeSingleTupleTableSlot(tupdesc, &TTSOpsMinimalTuple);

	SPI_connect();
	hp = get_history_plan(st->sm, &st->acc);	/* says once when the ratings table lacks an index */
	history_become_reader(hp, &st->acc, &su);
	/*
	 * Planned for the first rows (cursor_tuple_fraction): e.g. an index scan
	 * and an incremental sort rather than sorting the whole table first.
	 * Read through a WITH HOLD cursor, the histories' cursor is holdable too:
	 * at COMMIT, PostgreSQL runs the held cursor to its end, and may take
	 * the portals in any order, so ours must outlive that commit (it is
	 * then kept, its rows read to the end, and we read on from them).
	 */
	st->holdable = ActivePortal != NULL && (ActivePortal->cursorOptions & CURSOR_OPT_HOLD);
	plan = SPI_prepare_cursor(sql, st->wanted ? 1 : 0, argtypes,
							  CURSOR_OPT_FAST_PLAN | (st->holdable ? CURSOR_OPT_HOLD : 0));
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	st->portal = MemoryContextStrdup(st->cxt, portal->name);
	serving_restore(&su);
	SPI_finish();
	return st;
}

PG_FUNCTION_INFO_V1(animerec_recommend_all);

/*
 * _recommend_all_rows(k int, model text, users bigint[])
 * (the symbol keeps the name under which earlier versions' scripts create
 * recommend_all itself, so that updates from them find it)
 *   -> setof (user_id bigint, rank int, item_id bigint, score real, probability real,
 *             personalized bool, model_version int)
 * Top k for every user of the model's ratings table (or for the given users;
 * those without rows get the cold-start ranking), in ascending user order,
 * seen items excluded; value-per-call, one block of users scored at a
 * time.  A serving grantee's histories are read with the model owner's
 * rights unless it may read them itself (src/serving_acl.c), the cursor's
 * opening and every fetch alike.  It has no SET clause, which would cost a
 * GUC nest level on every row: the search_path is fixed here around the
 * work of the first call and of each block.
 */
Datum
animerec_recommend_all(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	Stream	   *st;
	int			guc_level;

	if (SRF_IS_FIRSTCALL())
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
		MemoryContext old;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(tupdesc);
		guc_level = animerec_fix_search_path();
		st = stream_begin(fcinfo, tupdesc);
		animerec_restore_search_path(guc_level);
		funcctx->user_fctx = st;
		RegisterExprContextCallback(rsinfo->econtext, stream_shutdown, PointerGetDatum(st));
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = funcctx->user_fctx;
	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(st->cxt);
		bool		got;

		/*
		 * a tuplestore spilled to disk (more rows than work_mem) reads a row
		 * into new memory that the slot frees at the next row: in the scan's
		 * context, not the per-call one, which is reset in between
		 */
		got = tuplestore_gettupleslot(st->out, true, false, st->slot);
		MemoryContextSwitchTo(old);
		if (got)
			SRF_RETURN_NEXT(funcctx, ExecFetchSlotHeapTupleDatum(st->slot));
		if (st->finished)
			break;
		tuplestore_clear(st->out);
		CHECK_FOR_INTERRUPTS();
		guc_level = animerec_fix_search_path();
		stream_advance(st);
		animerec_restore_search_path(guc_level);
	}
	stream_close(st);
	/* st goes with the multi-call context now: the callback must not see it */
	UnregisterExprContextCallback(((ReturnSetInfo *) fcinfo->resultinfo)->econtext,
								  stream_shutdown, PointerGetDatum(st));
	SRF_RETURN_DONE(funcctx);
}
