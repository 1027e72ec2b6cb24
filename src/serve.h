/*
 * serve.h — pieces of src/serve.c that the other serving modules
 * (src/explain.c) share: argument checks, model pinning and the SQL text
 * reading a user's history.
 */
#ifndef ANIMEREC_SERVE_H
#define ANIMEREC_SERVE_H

#include "fmgr.h"
#include "utils/array.h"

#include "registry.h"
#include "shmem.h"

/* array argument argno (not NULL); error unless it has at most one dimension */
extern ArrayType *get_vector(FunctionCallInfo fcinfo, int argno, const char *arg);

/* pin the model named by argument argno (NULL: DESIGN §4's default rule) */
extern const ServeModel *get_model(FunctionCallInfo fcinfo, int argno);

/*
 * The window of arguments argno (item_ids bigint[]) and argno + 1 (ratings
 * real[] or NULL), read as recommend_for_history reads it, into palloc'd
 * items and ratings (dense, scaled); exclude (N+1, may be NULL) marks every
 * known item given.  Returns the window length.
 */
extern int32 history_from_args(FunctionCallInfo fcinfo, int argno, const ServeModel *sm,
							   int32 **items, float **ratings, uint8 *exclude);

/*
 * SQL text reading rows (item bigint, rating real) of the model's ratings
 * table, newest first; where is the condition on the user column ("= $1"),
 * select_user and order_user are prepended to the select list and ORDER BY.
 */
extern char *history_sql(const RegistryModel *rm, const char *select_user, const char *where,
						 const char *order_user);

#endif
