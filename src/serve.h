/*
 * serve.h — pieces of src/serve.c that the other serving modules
 * (src/explain.c) share: argument checks, model pinning and the SQL text
 * reading a user's history.
 */
#ifndef ANIMEREC_SERVE_H
#define ANIMEREC_SERVE_H

#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"

#include "registry.h"
#include "serving_acl.h"
#include "shmem.h"

/* k from argument argno: error when NULL or < 1 */
extern int32 get_k(FunctionCallInfo fcinfo, int argno);

/* array argument argno (not NULL); error unless it has at most one dimension */
extern ArrayType *get_vector(FunctionCallInfo fcinfo, int argno, const char *arg);

/*
 * Pin the model named by argument argno (NULL: animerec.model, else the
 * database's default model); *acc says with whose rights to read for it
 * (src/serving_acl.c).
 */
extern const ServeModel *get_model(FunctionCallInfo fcinfo, int argno, ServingAccess *acc);

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

/*
 * A user's history as dense items: win_items/win_ratings (n_win <= T) hold
 * the newest T known items in chronological order, ratings scaled (the rule
 * of recommend_for_history, recommend_all and explain too: unknown items take
 * no place).
 */
typedef struct History
{
	int32	   *win_items;
	float	   *win_ratings;
	int32		n_win;
	int32	   *utags;			/* the user's dense user tags (models trained with user tags) */
	int32		n_utags;
} History;

/*
 * Read user_id's history (and user tags) through the model's cached queries
 * into *h: newest first through a cursor until the window holds maxlen known
 * items (every row with exclude_seen, when exclude (N+1) gets a 1 for every
 * known item of the user, not only the newest T).  The rows are read with
 * the history reader's rights for acc (a serving grantee's with the model
 * owner's when it may not read them itself), or with own_rights always with
 * the caller's own privileges.
 */
extern void read_user_history(const ServeModel *sm, const ServingAccess *acc, bool own_rights,
							  int64 user_id, bool exclude_seen, uint8 *exclude, History *h);

/* ---- the batch path (src/serve.c: scoring blocks; src/recommend_all.c: the SRF) ---- */

#define BATCH_USERS 256			/* users per GEMM in recommend_all */
#define FETCH_ROWS 10000		/* rows per cursor fetch of histories, at most */

/* the cached queries of one model version (src/serve.c) */
typedef struct HistoryPlan HistoryPlan;

/*
 * The cached queries of sm's model version (built, and the index checked, on
 * first use, with the registry reader's rights: acc).  Inside an SPI
 * connection.
 */
extern HistoryPlan *get_history_plan(const ServeModel *sm, const ServingAccess *acc);

/*
 * Become the reader of hp's relations (ratings, user tags) for acc: the
 * model owner when the caller is a serving grantee that may not read them
 * itself (serving_become_reader); put back with serving_restore(saved).
 */
extern void history_become_reader(const HistoryPlan *hp, const ServingAccess *acc,
								  ServingUser *saved);

/* users collected for one GEMM: left-padded windows and each user's seen items */
typedef struct UserBlock
{
	int32		B;				/* users in the block */
	int32		limit;			/* users at which it is scored, <= BATCH_USERS */
	int32		T;				/* maxlen */
	int64	   *user_ids;		/* (BATCH_USERS) */
	int32	   *n_win;			/* (BATCH_USERS) window lengths */
	int32	   *items;			/* (BATCH_USERS, T) chronological, right-aligned */
	float	   *ratings;		/* (BATCH_USERS, T) */
	int32	   *seen_ptr;		/* (BATCH_USERS + 1) CSR offsets into seen */
	int32	   *seen;			/* dense items seen, grows */
	int32		seen_cap;
	int32	   *utag_ptr;		/* (BATCH_USERS + 1) CSR offsets of the users' tags */
	int32	   *utag_idx;		/* user tags, grows */
	int32		utag_cap;
	float	   *u;				/* (BATCH_USERS, D) */
	float	   *scores;			/* (BATCH_USERS, N+1) */
	float	   *work;
	uint8	   *exclude;		/* (NN_MAX_SLICES, N+1), all zero between blocks */
	nn_topk_batch top;			/* each user's top k, (BATCH_USERS, k) */
} UserBlock;

/* Allocate a block for model sm and the top k of each user (in CurrentMemoryContext). */
extern void block_init(UserBlock *b, const ServeModel *sm, int32 k);
/* Start a new user in the block (its window and seen list empty). */
extern void block_begin_user(UserBlock *b, int64 user_id);
/* Append a seen item of the block's current (last) user. */
extern void block_add_seen(UserBlock *b, int32 j);
/*
 * Score the block's users, put each user's top k (seen items excluded) as
 * (user_id, rank, item_id, score, probability, personalized,
 * model_version) into rsinfo->setResult, and empty the
 * block.  Inside an SPI connection.
 */
extern void block_flush(UserBlock *b, ReturnSetInfo *rsinfo, const ServeModel *sm,
						const HistoryPlan *hp);
/* Close the block's current user; flush when the block has limit users. */
extern void block_end_user(UserBlock *b, ReturnSetInfo *rsinfo, const ServeModel *sm,
						   const HistoryPlan *hp);

#endif
