/*
 * registry.h — read access to the model registry (animerec.models), shared by
 * training (src/train_procedure.c) and serving.
 *
 * The read functions run their own SPI connection (nesting inside a caller's SPI
 * connection is fine) with the caller's privileges, and return memory
 * allocated in the caller's CurrentMemoryContext.
 */
#ifndef ANIMEREC_REGISTRY_H
#define ANIMEREC_REGISTRY_H

#include "postgres.h"

#include "utils/timestamp.h"

/* The active version of a model name, as stored in animerec.models. */
typedef struct RegistryModel
{
	char	   *name;
	int32		version;
	TimestampTz created_at;		/* with name and version, identifies the row's weights */
	char	   *ratings_table;	/* qualified, quoted relation name (usable in SQL) */
	char	   *user_col;		/* column names, unquoted (quote_identifier them) */
	char	   *item_col;
	char	   *rating_col;		/* NULL: no rating column */
	char	   *order_col;		/* NULL: no order column (item id order) */
	char	   *items_table;	/* NULL: no item metadata */
	char	   *item_key;
	char	   *tags_col;
	char	   *user_tags_table;	/* NULL: no user tags */
	Datum		user_tag_vocab; /* text[]: user tag g is element g; (Datum) 0 when none */
	void	   *weights;		/* NULL unless with_weights: the nn weight blob, */
	size_t		weights_len;	/* 64-byte aligned, ready for nn_weights_view() */
} RegistryModel;

/*
 * Fill *out with the active version of model name; with_weights also copies
 * the weights bytea (64-byte aligned).  Returns false when the name has no
 * active version (out is then untouched).
 */
extern bool registry_fetch_active(const char *name, RegistryModel *out, bool with_weights);

/*
 * ereport(ERROR) 55000 for model name without an active version, saying why:
 * its first training is still running (with the training backend's pid and
 * progress, and a hint at animerec.training_progress), it has no trained
 * version, or none of its ready versions is active.  Never returns.
 */
extern void registry_report_no_active(const char *name) pg_attribute_noreturn();

/* ---- writes by training (src/train_procedure.c), inside the caller's SPI connection ---- */

/* A training run's row, as written when the run starts. */
typedef struct RegistryRun
{
	const char *name;
	const char *ratings_table;
	const char *user_col;
	const char *item_col;
	const char *rating_col;		/* NULL allowed from here on */
	const char *order_col;
	const char *items_table;
	const char *item_key;
	const char *tags_col;
	const char *user_tags_table;
	const char *hyperparams;	/* json text */
	int64		n_rows;
	int32		n_users;
	int32		n_items;
	int32		n_tags;
	Datum		tag_vocab;		/* text[] or (Datum) 0 */
	Datum		user_tag_vocab; /* text[] or (Datum) 0 */
} RegistryRun;

/* An interrupted run that resume => true continues. */
typedef struct RegistryCheckpoint
{
	int32		version;
	int32		epochs_done;
	int32		best_epoch;		/* 0: no checkpoint yet */
	double		best_val_ndcg;
	double		best_val_hr;
	int32		epochs_since_best;
	void	   *weights;		/* NULL, or the best weights so far (64-byte aligned) */
	size_t		weights_len;
	void	   *state;			/* NULL (a 0.2.0 checkpoint), or the nn training state */
	size_t		state_len;		/* (src/nn/resume.c) and loop state after epochs_done */
	char	   *changed_params; /* NULL, or the hyperparameters (but epochs and patience) */
								/* whose values differ from the resuming call's, ", "-separated */
} RegistryCheckpoint;

/*
 * Hold the name's training lock (train_lock.h) for the rest of the
 * transaction too: after a run inside a transaction block the name stays
 * held until that transaction ends, so the next run sees its version.
 */
extern void registry_lock_name(const char *name);

/*
 * Take model name for the current user when it is new (animerec.model_owners);
 * error 42501 unless the current user manages it.
 */
extern void registry_claim_name(const char *name);

/*
 * Mark the 'training' rows of name as 'failed'.  Called under the name's
 * training lock (train_lock.h), so none of them is still running.
 */
extern void registry_fail_stale(const char *name);

/* insert a new version with status 'training'; returns the version */
extern int32 registry_insert_run(const RegistryRun *run);

/*
 * The arguments naming train's data ("ratings", "user_col", ..., "items",
 * "user_tags", comma-separated) in which run differs from the registry row
 * (name, version), or NULL when it reads the same tables and columns.
 */
extern char *registry_source_changes(const char *name, int32 version, const RegistryRun *run);

/*
 * The newest 'training' row of name (an interrupted run: called under the
 * name's training lock), taken over by this backend; false when there is none.
 * Weights and state are copied into CurrentMemoryContext; hyperparams (json
 * text of the resuming call) is compared with the row's.
 */
extern bool registry_find_resumable(const char *name, const char *hyperparams,
									RegistryCheckpoint *out);

/*
 * Store a checkpoint: weights (nn format, len bytes), the training state
 * (state_len bytes, or NULL: none), metrics (json text), epochs done and the best epoch; and
 * the epoch's training_log row.
 */
extern void registry_checkpoint(const char *name, int32 version, const void *weights,
								size_t len, const void *state, size_t state_len,
								const char *metrics, int32 epochs_done,
								int32 best_epoch, int32 epoch, double loss, double val_hr,
								double val_ndcg, bool have_val, double seconds,
								double positions_per_s);

/*
 * Status 'ready' with final metrics, and make version the active one of name,
 * under the transaction-level advisory lock that animerec.activate() takes
 * (so that the two, run at once, activate one after the other).
 */
extern void registry_finish(const char *name, int32 version, const char *metrics);

#endif
