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
 * table, newest first or, when oldest_first, in the reverse order; where is
 * the condition on the user column ("= $1"), select_user and order_user are
 * prepended to the select list and ORDER BY.
 */
extern char *history_sql(const RegistryModel *rm, const char *select_user, const char *where,
						 const char *order_user, bool oldest_first);

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
	int32		user_row;		/* the user's row of the model's user embedding, 0: none */
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

/* users collected for one GEMM: left-padded windows, each user's seen items, and then their top k */
typedef struct UserBlock
{
	int32		B;				/* users in the block */
	int32		limit;			/* users at which it is scored, <= BATCH_USERS */
	int32		T;				/* maxlen */
	int64	   *user_ids;		/* (BATCH_USERS) */
	int32	   *user_rows;		/* (BATCH_USERS) user-embedding rows; NULL: the model has none */
	int32	   *n_win;			/* (BATCH_USERS) window lengths */
	int32	   *items;			/* (BATCH_USERS, T) chronological, right-aligned */
	float	   *ratings;		/* (BATCH_USERS, T) */
	int32	   *seen_ptr;		/* (BATCH_USERS + 1) CSR offsets into seen */
	int32	   *seen;			/* dense items seen, grows */
	int32		seen_cap;
	int32	   *utag_ptr;		/* (BATCH_USERS + 1) CSR offsets of the users' tags; NULL: none */
	int32	   *utag_idx;		/* user tags, grows */
	int32		utag_cap;
	bool		has_utags;		/* utag_ptr/utag_idx hold the block's user tags */
	nn_topk_batch top;			/* each user's top k, (BATCH_USERS, k) */
} UserBlock;

/*
 * What scoring a block takes besides the block itself, for threads threads:
 * shared by the blocks of one scan, which are scored one at a time.
 */
typedef struct BlockScratch
{
	int32		threads;
	float	   *u;				/* (BATCH_USERS, D) */
	float	   *scores;			/* nn_recommend_scores_floats */
	float	   *work;			/* nn_batch_work_floats(BATCH_USERS) */
	uint8	   *exclude;		/* (threads, N+1), all zero between blocks */
	float	   *item_gates;		/* nn_item_gates's table once the scan built it, else NULL */
	nn_recommend_job *job;		/* the block being scored (nn_recommend_job_bytes) */
} BlockScratch;

/* Allocate a block for model sm and the top k of each user (in CurrentMemoryContext). */
extern void block_init(UserBlock *b, const ServeModel *sm, int32 k);
/* Allocate the scratch to score sm's blocks on threads threads (in CurrentMemoryContext). */
extern void block_scratch_init(BlockScratch *s, const ServeModel *sm, int32 threads);
/* Start a new user of model m in the block (its window and seen list empty). */
extern void block_begin_user(UserBlock *b, const nn_model *m, int64 user_id);
/* Append a seen item of the block's current (last) user. */
extern void block_add_seen(UserBlock *b, int32 j);
/* Close the block's current user; true when the block now has limit users. */
extern bool block_end_user(UserBlock *b);
/* Read the user tags of the block's users when the model has them.  Inside an SPI connection. */
extern void block_read_user_tags(UserBlock *b, const HistoryPlan *hp);
/*
 * Score the block's users into b->top: plain numeric work (no PostgreSQL
 * call), OpenBLAS set to one thread while it runs.  block_score_begin sets
 * the job up (on this backend, before any thread starts); then either
 * block_score_all scores it here on s->threads threads, this one among
 * them, or, for a block scored on threads of its own while this backend
 * goes on, block_score_workers scores on s->threads - 1 threads (one when
 * s->threads is 1), the first the calling one; block_score_help joins them
 * from this backend once it is free (with s->threads > 1, so that at most
 * s->threads threads score at once), and block_score_stop leaves the users
 * no thread has taken (the block is then not emitted).
 */
extern void block_score_begin(UserBlock *b, const ServeModel *sm, BlockScratch *s);
extern void block_score_all(BlockScratch *s);
extern void block_score_workers(BlockScratch *s);
extern void block_score_help(BlockScratch *s);
extern void block_score_stop(BlockScratch *s);
/*
 * Put each scored user's top k (seen items excluded) as (user_id, rank,
 * item_id, score, probability, personalized, model_version) into
 * rsinfo->setResult, and empty the block.
 */
extern void block_emit(UserBlock *b, ReturnSetInfo *rsinfo, const ServeModel *sm);

#endif
