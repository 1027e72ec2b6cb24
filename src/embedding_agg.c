/*
 * embedding_agg.c — the aggregate animerec.user_embedding(item_id, rating
 * [, model] ORDER BY ...) -> real[] (D).
 *
 * The transition function advances the LSTM state (h, c per layer) by one row
 * (nn_infer_step), so memory does not grow with the history; the final
 * function projects the top hidden state to the user embedding
 * (nn_infer_embedding).  Unlike recommend(), which feeds the newest T known
 * items, the aggregate feeds every known item it is given.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "animerec.h"
#include "serving_acl.h"

/* one model argument seen at a call site, and its pinned model */
typedef struct AggModel
{
	char	   *asked;			/* model argument as given; "" for NULL */
	const ServeModel *sm;		/* pinned until the transaction ends */
} AggModel;

/*
 * The models a transition function call site uses, cached in fn_extra for the
 * query: one pin per distinct model argument, taken when the argument is
 * first seen, however often it changes between rows (groups of different
 * models may interleave, and each group's state keeps using its model).
 */
typedef struct AggModelCache
{
	int			n;
	int			cap;
	AggModel   *models;			/* (cap) */
} AggModelCache;

/* aggregate state: the model and its recurrent state */
typedef struct EmbeddingState
{
	const ServeModel *sm;
	float	   *state;			/* (L * 2 * H) */
	float	   *work;			/* (nn_step_work_floats) */
} EmbeddingState;

/* The pinned model for this row's model argument (argno, may be absent), cached per call site. */
static const ServeModel *
row_model(FunctionCallInfo fcinfo, int argno)
{
	AggModelCache *c = (AggModelCache *) fcinfo->flinfo->fn_extra;
	text	   *model = NULL;
	char	   *asked = "";
	AggModel   *am;
	ServingAccess acc;

	if (argno < PG_NARGS() && !PG_ARGISNULL(argno))
	{
		model = PG_GETARG_TEXT_PP(argno);
		asked = text_to_cstring(model);
	}
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AggModelCache));
		c->cap = 4;
		c->models = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(AggModel) * c->cap);
		fcinfo->flinfo->fn_extra = c;
	}
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->models[i].asked, asked) == 0)
			return c->models[i].sm;
	if (c->n == c->cap)
	{
		c->cap *= 2;
		c->models = repalloc(c->models, sizeof(AggModel) * c->cap);
	}
	am = &c->models[c->n];
	serving_resolve(model, &acc);
	am->sm = serving_acquire(&acc);
	am->asked = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, asked);
	c->n++;
	return am->sm;
}

PG_FUNCTION_INFO_V1(animerec_user_embedding_sfunc);

/*
 * _user_embedding_sfunc(state internal, item_id bigint, rating real [, model text])
 * -> internal: one LSTM step for a known item; NULL or unknown items are skipped.
 */
Datum
animerec_user_embedding_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	EmbeddingState *st;
	const ServeModel *sm;
	int32		j;
	float		rating;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "_user_embedding_sfunc called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (EmbeddingState *) PG_GETARG_POINTER(0);
	sm = row_model(fcinfo, 3);
	if (st == NULL)
	{
		st = MemoryContextAlloc(aggcxt, sizeof(EmbeddingState));
		st->sm = sm;
		st->state = MemoryContextAlloc(aggcxt, sizeof(float) * nn_state_floats(&sm->m));
		st->work = MemoryContextAlloc(aggcxt, sizeof(float) * nn_step_work_floats(&sm->m));
		nn_state_reset(&sm->m, st->state);
	}
	else if (st->sm != sm)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user_embedding cannot mix models within one group")));
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	j = nn_item_index(&sm->m, PG_GETARG_INT64(1));
	if (j == 0)
		PG_RETURN_POINTER(st);
	rating = nn_scale_rating(&sm->m.cfg, PG_ARGISNULL(2) ? NAN : PG_GETARG_FLOAT4(2));
	animerec_set_blas_threads();
	nn_infer_step(&sm->m, st->state, j, rating, 0, NULL, 0, st->work);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(animerec_user_embedding_final);

/* _user_embedding_final(state internal) -> real[] (D): u = P h_top; NULL for no rows */
Datum
animerec_user_embedding_final(PG_FUNCTION_ARGS)
{
	EmbeddingState *st;
	int32		D;
	float	   *u;
	Datum	   *elems;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (EmbeddingState *) PG_GETARG_POINTER(0);
	D = st->sm->m.cfg.dim;
	u = palloc(sizeof(float) * D);
	elems = palloc(sizeof(Datum) * D);
	nn_infer_embedding(&st->sm->m, st->state, u);
	for (int32 d = 0; d < D; d++)
		elems[d] = Float4GetDatum(u[d]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, D, FLOAT4OID, 4, true, TYPALIGN_INT));
}
