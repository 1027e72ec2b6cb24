/*
 * evaluate.h — ranking metrics on the held-out items (the protocol of docs/design.md#training):
 * full ranking over all items with the user's earlier items excluded, HR@k,
 * NDCG@k, MRR@k, beside the popularity baseline on the same split.
 */
#ifndef ANIMEREC_EVALUATE_H
#define ANIMEREC_EVALUATE_H

#include "animerec.h"
#include "train_data.h"

typedef struct EvalResult
{
	int64		users;			/* users with held-out items */
	double		hr;
	double		ndcg;
	double		mrr;
	double		pop_hr;			/* popularity baseline; 0 when not asked for */
	double		pop_ndcg;
	double		pop_mrr;
} EvalResult;

/*
 * Item counts (N + 1, float) over the rows each user has before its
 * validation item (test = false) or its test item (test = true); without
 * holdout, over all rows.
 */
extern float *eval_popularity(const TrainData *d, bool holdout, bool test);

/*
 * Rank every held-out item of d (ratings already scaled) with model m: the
 * test items (test = true: histories include the validation item) or the
 * validation items.  popularity (N + 1) may be NULL.  Runs BLAS; no SPI.
 */
extern void eval_ranking(const nn_model *m, const TrainData *d, bool test, int32 k,
						 const float *popularity, EvalResult *res);

#endif
