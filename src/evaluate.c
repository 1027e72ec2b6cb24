/*
 * evaluate.c — HR/NDCG/MRR@k on held-out items, for training's validation and
 * test metrics and the SQL function animerec.evaluate().
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include <math.h>

#include "animerec.h"
#include "evaluate.h"
#include "registry.h"
#include "serving_acl.h"
#include "train_data.h"

/* users ranked at once: at most 256, and a score matrix of at most 16M floats */
#define EVAL_BATCH(n_items) ((int32) Max(1, Min(256, (16 << 20) / ((int64) (n_items) + 1))))

/* see evaluate.h */
float *
eval_popularity(const TrainData *d, bool holdout, bool test)
{
	float	   *pop = palloc0(sizeof(float) * (d->n_items + 1));
	int32		u;

	for (u = 0; u < d->n_users; u++)
	{
		int64		end;
		int64		r;

		if (data_user_split(d, u, holdout, &end) && test)
			end++;
		for (r = d->user_off[u]; r < end; r++)
			pop[d->items[r]] += 1.0f;
	}
	pop[0] = 0;
	return pop;
}

/* add the metrics of a 0-based rank to res's sums (hr, ndcg, mrr) */
static void
add_rank(int32 rank, int32 k, double *hr, double *ndcg, double *mrr)
{
	if (rank < k)
	{
		*hr += 1.0;
		*ndcg += 1.0 / log2(rank + 2.0);
		*mrr += 1.0 / (rank + 1.0);
	}
}

/*
 * Fill one row of items/ratings (T, left-padded, zeroed) with the last T
 * items of rows [begin, end) of d that the model knows.
 */
static void
fill_history(const TrainData *d, int64 begin, int64 end, int32 T,
			 int32 *items, float *ratings)
{
	int32		t = T;
	int64		r;

	for (r = end - 1; r >= begin && t > 0; r--)
	{
		if (d->items[r] == 0)
			continue;
		t--;
		items[t] = d->items[r];
		ratings[t] = d->ratings[r];
	}
}

/* see evaluate.h */
void
eval_ranking(const nn_model *m, const TrainData *d, bool test, int32 k,
			 const float *popularity, EvalResult *res)
{
	int32		N = m->cfg.n_items;
	int32		D = m->cfg.dim;
	int32		T = m->cfg.maxlen;
	int32		max_b = EVAL_BATCH(N);
	float	   *tables = palloc_extended(sizeof(float) * nn_serving_floats(m), MCXT_ALLOC_HUGE);
	nn_serving	sv;
	float	   *u_out = palloc(sizeof(float) * max_b * D);
	float	   *scores = palloc_extended(sizeof(float) * ((size_t) N + 1) * max_b,
										 MCXT_ALLOC_HUGE);
	float	   *pop_scores = NULL;
	float	   *work = palloc_extended(sizeof(float) * nn_batch_work_floats(m, max_b, T),
									   MCXT_ALLOC_HUGE);
	int32	   *items = palloc(sizeof(int32) * max_b * T);
	float	   *ratings = palloc(sizeof(float) * max_b * T);
	int32	   *utag_ptr = d->utag_ptr ? palloc(sizeof(int32) * (max_b + 1)) : NULL;
	int32	   *utag_idx = NULL;
	int32		utag_cap = 0;
	uint8	   *exclude = palloc0((size_t) N + 1);
	int32	   *batch_user = palloc(sizeof(int32) * max_b);
	int32	   *user_rows = m->user_ids ? palloc(sizeof(int32) * max_b) : NULL;
	double		hr = 0,
				ndcg = 0,
				mrr = 0,
				phr = 0,
				pndcg = 0,
				pmrr = 0;
	int64		users = 0;
	int32		u = 0;

	nn_serving_build(m, tables, &sv);
	if (popularity)
	{
		int32		j;

		pop_scores = palloc(sizeof(float) * ((size_t) N + 1));
		for (j = 0; j <= N; j++)
			pop_scores[j] = popularity[j];
		pop_scores[0] = -INFINITY;
	}
	while (u < d->n_users)
	{
		int32		B = 0;
		int32		b;

		/* gather up to max_b users with held-out items */
		for (; u < d->n_users && B < max_b; u++)
		{
			int64		end;

			if (!data_user_split(d, u, true, &end))
				continue;
			batch_user[B++] = u;
		}
		if (B == 0)
			break;
		memset(items, 0, sizeof(int32) * B * T);
		memset(ratings, 0, sizeof(float) * B * T);
		if (utag_ptr)
		{
			int32		need = 0;

			utag_ptr[0] = 0;
			for (b = 0; b < B; b++)
				need += d->utag_ptr[batch_user[b] + 1] - d->utag_ptr[batch_user[b]];
			if (need > utag_cap)
			{
				utag_cap = Max(need, 1024);
				utag_idx = utag_idx ? repalloc(utag_idx, sizeof(int32) * utag_cap)
					: palloc(sizeof(int32) * utag_cap);
			}
			for (b = 0; b < B; b++)
			{
				int32		from = d->utag_ptr[batch_user[b]],
							to = d->utag_ptr[batch_user[b] + 1];

				memcpy(utag_idx + utag_ptr[b], d->utag_idx + from, sizeof(int32) * (to - from));
				utag_ptr[b + 1] = utag_ptr[b] + (to - from);
			}
		}
		for (b = 0; b < B; b++)
		{
			int64		end;

			if (user_rows)
				user_rows[b] = nn_user_index(m, d->user_ids[batch_user[b]]);
			(void) data_user_split(d, batch_user[b], true, &end);
			fill_history(d, d->user_off[batch_user[b]], test ? end + 1 : end, T,
						 items + (size_t) b * T, ratings + (size_t) b * T);
		}
		nn_infer_batch(m, sv.packed, B, T, items, ratings, user_rows, utag_ptr, utag_idx, u_out, work);
		nn_scores(m, sv.score_table, u_out, B, scores);
		for (b = 0; b < B; b++)
		{
			int32		bu = batch_user[b];
			int64		end;
			int64		begin = d->user_off[bu];
			int64		r;
			int32		target;

			(void) data_user_split(d, bu, true, &end);
			if (test)
				end++;
			target = d->items[end];
			users++;
			for (r = begin; r < end; r++)
				exclude[d->items[r]] = 1;
			exclude[0] = 0;
			if (target != 0)
			{
				exclude[target] = 0;
				add_rank(nn_rank(scores + (size_t) b * (N + 1), N, target, exclude), k,
						 &hr, &ndcg, &mrr);
				if (pop_scores)
					add_rank(nn_rank(pop_scores, N, target, exclude), k, &phr, &pndcg, &pmrr);
			}
			for (r = begin; r < end; r++)
				exclude[d->items[r]] = 0;
		}
		CHECK_FOR_INTERRUPTS();
	}
	memset(res, 0, sizeof(*res));
	res->users = users;
	if (users > 0)
	{
		res->hr = hr / users;
		res->ndcg = ndcg / users;
		res->mrr = mrr / users;
		res->pop_hr = phr / users;
		res->pop_ndcg = pndcg / users;
		res->pop_mrr = pmrr / users;
	}
	pfree(tables);
	pfree(u_out);
	pfree(scores);
	pfree(work);
	pfree(items);
	pfree(ratings);
	pfree(exclude);
	pfree(batch_user);
	if (user_rows)
		pfree(user_rows);
	if (pop_scores)
		pfree(pop_scores);
	if (utag_ptr)
		pfree(utag_ptr);
	if (utag_idx)
		pfree(utag_idx);
}

PG_FUNCTION_INFO_V1(animerec_evaluate);

/*
 * evaluate(name text, k int) -> (users, hr, ndcg, mrr, popularity_hr,
 * popularity_ndcg, popularity_mrr): the active version of the model on the
 * test items of its source table, read again with the training split; NULL
 * metrics when no user has a test item.
 */
Datum
animerec_evaluate(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	int32		k = PG_ARGISNULL(1) ? 10 : PG_GETARG_INT32(1);
	char	   *name;
	ServingAccess acc;
	RegistryModel rm;
	TrainSource src;
	TrainData	d;
	nn_model	m;
	nn_error	err;
	EvalResult	res;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {0};
	MemoryContext cxt;

	if (k < 1 || k > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 100000, not %d", k)));
	serving_resolve(arg, &acc);
	serving_require_manager(&acc, "evaluate, which reads the training data");
	name = acc.name;
	serving_fetch_active(&acc, &rm, true);
	if (rm.weights == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("active version %d of model \"%s\" has no weights", rm.version, name)));
	if (nn_weights_view(rm.weights, rm.weights_len, &m, &err) != NN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("weights of model \"%s\" version %d are unreadable: %s",
						name, rm.version, err.msg)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "evaluate must return a composite type");

	memset(&src, 0, sizeof(src));
	src.user_col = rm.user_col;
	src.item_col = rm.item_col;
	src.rating_col = rm.rating_col;
	src.order_col = rm.order_col;
	src.tags_col = rm.tags_col;
	source_resolve(&src, source_relation_oid(rm.ratings_table), InvalidOid,
				   rm.user_tags_table ? source_relation_oid(rm.user_tags_table) : InvalidOid);

	cxt = CurrentMemoryContext;
	SPI_connect();
	MemoryContextSwitchTo(cxt);
	data_read(&src, &d, m.item_ids, m.cfg.n_items, (Datum) 0, rm.user_tag_vocab);
	SPI_finish();
	MemoryContextSwitchTo(cxt);

	data_scale_ratings(&d, m.cfg.rating_min, m.cfg.rating_max);
	animerec_set_blas_threads();
	eval_ranking(&m, &d, true, k, eval_popularity(&d, true, true), &res);

	/* no user to evaluate: the metrics are unknown, not 0 */
	for (int i = 1; i < 7; i++)
		nulls[i] = res.users == 0;
	values[0] = Int64GetDatum(res.users);
	values[1] = Float8GetDatum(res.hr);
	values[2] = Float8GetDatum(res.ndcg);
	values[3] = Float8GetDatum(res.mrr);
	values[4] = Float8GetDatum(res.pop_hr);
	values[5] = Float8GetDatum(res.pop_ndcg);
	values[6] = Float8GetDatum(res.pop_mrr);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
