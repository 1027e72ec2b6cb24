/*
 * train_procedure.c — CALL animerec.train(...): argument checks, the training loop with
 * early stopping, per-epoch checkpoints in the registry (committed when the
 * CALL is non-atomic), progress, and the final activation; the run has
 * search_path = pg_catalog, pg_temp (set here: a procedure with a SET clause
 * could not commit).
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include <math.h>

#include "animerec.h"
#include "evaluate.h"
#include "progress.h"
#include "registry.h"
#include "text/train_options.h"
#include "train_data.h"
#include "train_lock.h"

/* The arguments of train(), checked. */
typedef struct TrainParams
{
	char	   *name;
	Oid			ratings;
	Oid			items;
	Oid			user_tags;
	TrainSource src;
	int32		dim;
	int32		hidden;
	int32		layers;
	int32		maxlen;
	int32		batch_size;
	double		learning_rate;
	double		clip;
	double		dropout;
	int32		epochs;
	int32		patience;
	char	   *loss;
	int32		negatives;
	bool		holdout;
	bool		resume;
	int32		seed;
	double		ema_decay;		/* 0: validate and keep the raw weights */
	bool		user_embedding; /* learn a vector per training user */
} TrainParams;

/* State of a run between epochs. */
typedef struct TrainRun
{
	const TrainParams *p;
	TrainData	d;
	int32		version;
	nn_model	model;			/* trained in place */
	nn_model	best;			/* best epoch so far */
	nn_model	avg;			/* moving average of model (with ema_decay > 0) */
	int64		avg_steps;
	nn_trainer *trainer;
	TrainWindow *windows;
	int64		n_windows;
	float	   *popularity;		/* (N + 1) counts of the training rows */
	int32		first_epoch;
	void	   *resume_state;	/* the checkpoint's training state, or NULL */
	size_t		resume_state_len;
	int32		best_epoch;
	double		best_ndcg;
	double		best_hr;
	int32		since_best;
	int			progress_slot;
	bool		atomic;
	int			guc_level;		/* GUC nest level of the fixed search_path */
	double		seconds;		/* training time of all epochs of this call */
} TrainRun;

/* ereport invalid_parameter_value unless v is an allowed value of hyperparameter which */
static void
check_param(opt_param which, double v)
{
	const opt_bound *b = &opt_bounds[which];

	if (opt_in_bounds(which, v))
		return;
	if (b->integer)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %.0f and %.0f, not %.0f", b->arg, b->lo, b->hi, v),
				 errhint("See COMMENT ON PROCEDURE animerec.train for the defaults.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be %s %g and at most %g, not %g", b->arg,
					b->open_lo ? "above" : "at least", b->lo, b->hi, v),
			 errhint("See COMMENT ON PROCEDURE animerec.train for the defaults.")));
}

/* argument i as a C string, or NULL; error when NULL but required */
static char *
text_arg(FunctionCallInfo fcinfo, int i, const char *arg, bool required)
{
	if (PG_ARGISNULL(i))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", arg)));
		return NULL;
	}
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/* argument i, required */
static Datum
required_arg(FunctionCallInfo fcinfo, int i, const char *arg)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", arg)));
	return PG_GETARG_DATUM(i);
}

/* read and check train()'s arguments into p */
static void
parse_params(FunctionCallInfo fcinfo, TrainParams *p)
{
	memset(p, 0, sizeof(*p));
	p->name = text_arg(fcinfo, 0, "name", true);
	if (!opt_model_name_ok(p->name, strlen(p->name)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid model name \"%s\"", p->name),
				 errhint("A model name is 1 to 63 lower-case letters, digits and underscores, not starting with a digit.")));
	p->ratings = DatumGetObjectId(required_arg(fcinfo, 1, "ratings"));
	p->src.user_col = text_arg(fcinfo, 2, "user_col", true);
	p->src.item_col = text_arg(fcinfo, 3, "item_col", true);
	p->src.rating_col = text_arg(fcinfo, 4, "rating_col", false);
	p->src.order_col = text_arg(fcinfo, 5, "order_col", false);
	p->items = PG_ARGISNULL(6) ? InvalidOid : PG_GETARG_OID(6);
	p->src.item_key = text_arg(fcinfo, 7, "item_key", OidIsValid(p->items));
	p->src.tags_col = text_arg(fcinfo, 8, "tags_col", OidIsValid(p->items));
	p->user_tags = PG_ARGISNULL(9) ? InvalidOid : PG_GETARG_OID(9);
	p->dim = DatumGetInt32(required_arg(fcinfo, 10, "dim"));
	p->hidden = DatumGetInt32(required_arg(fcinfo, 11, "hidden"));
	p->layers = DatumGetInt32(required_arg(fcinfo, 12, "layers"));
	p->maxlen = DatumGetInt32(required_arg(fcinfo, 13, "maxlen"));
	p->batch_size = DatumGetInt32(required_arg(fcinfo, 14, "batch_size"));
	p->learning_rate = DatumGetFloat8(required_arg(fcinfo, 15, "learning_rate"));
	p->clip = DatumGetFloat8(required_arg(fcinfo, 16, "clip"));
	p->dropout = DatumGetFloat8(required_arg(fcinfo, 17, "dropout"));
	p->epochs = DatumGetInt32(required_arg(fcinfo, 18, "epochs"));
	p->patience = DatumGetInt32(required_arg(fcinfo, 19, "patience"));
	p->loss = text_arg(fcinfo, 20, "loss", true);
	p->negatives = DatumGetInt32(required_arg(fcinfo, 21, "negatives"));
	p->holdout = DatumGetBool(required_arg(fcinfo, 22, "holdout"));
	p->resume = DatumGetBool(required_arg(fcinfo, 23, "resume"));
	p->seed = DatumGetInt32(required_arg(fcinfo, 24, "seed"));
	p->ema_decay = DatumGetFloat8(required_arg(fcinfo, 25, "ema_decay"));
	p->user_embedding = DatumGetBool(required_arg(fcinfo, 26, "user_embedding"));

	check_param(OPT_DIM, p->dim);
	check_param(OPT_HIDDEN, p->hidden);
	check_param(OPT_LAYERS, p->layers);
	check_param(OPT_MAXLEN, p->maxlen);
	check_param(OPT_BATCH_SIZE, p->batch_size);
	check_param(OPT_LEARNING_RATE, p->learning_rate);
	check_param(OPT_CLIP, p->clip);
	check_param(OPT_DROPOUT, p->dropout);
	check_param(OPT_EPOCHS, p->epochs);
	check_param(OPT_PATIENCE, p->patience);
	check_param(OPT_NEGATIVES, p->negatives);
	check_param(OPT_EMA_DECAY, p->ema_decay);
	if (opt_loss(p->loss, strlen(p->loss)) < 0 && !opt_loss_is_auto(p->loss, strlen(p->loss)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("loss must be 'auto', 'full' or 'sampled', not '%s'", p->loss),
				 errhint("'full' is the full-softmax cross-entropy; 'sampled' a sampled softmax for large catalogues; 'auto' picks one by the size of the data.")));
}

/* hyperparameters as json text (the registry's hyperparams column) */
static char *
params_json(const TrainParams *p)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"dim\": %d, \"hidden\": %d, \"layers\": %d, \"maxlen\": %d,"
					 " \"batch_size\": %d, \"learning_rate\": %.17g, \"clip\": %.17g,"
					 " \"dropout\": %.17g, \"epochs\": %d, \"patience\": %d, \"loss\": \"%s\","
					 " \"negatives\": %d, \"holdout\": %s, \"seed\": %d, \"ema_decay\": %.17g,"
					 " \"user_embedding\": %s}",
					 p->dim, p->hidden, p->layers, p->maxlen, p->batch_size, p->learning_rate,
					 p->clip, p->dropout, p->epochs, p->patience, p->loss, p->negatives,
					 p->holdout ? "true" : "false", p->seed, p->ema_decay,
					 p->user_embedding ? "true" : "false");
	return s.data;
}

/* ereport the nn error err (from a call in what) */
static void
nn_raise(const nn_error *err, const char *what)
{
	if (err->code == NN_ENUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("training diverged: %s", err->msg),
				 errhint("Lower learning_rate or clip.")));
	ereport(ERROR,
			(errcode(err->code == NN_ENOMEM ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s failed: %s", what, err->msg)));
}

/* the data must allow training: rows, and users long enough for the split */
static void
check_data(const TrainParams *p, const TrainData *d, int64 n_windows)
{
	int32		u;
	int64		held = 0;

	if (d->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has no rows with a user and an item id", p->src.ratings_table),
				 errhint("%lld rows were skipped for a NULL %s or %s.",
						 (long long) d->n_null, p->src.user_col, p->src.item_col)));
	for (u = 0; u < d->n_users; u++)
	{
		int64		end;

		held += data_user_split(d, u, p->holdout, &end);
	}
	if (p->holdout && held == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no user of %s has at least 5 rows", p->src.ratings_table),
				 errhint("The holdout split needs users with 5 or more rows; pass holdout => false to train on every row.")));
	if (n_windows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no user of %s has at least 2 training rows", p->src.ratings_table),
				 errhint("A sequence model learns from users with two or more rows.")));
}

/* windows per length bucket: this many batches are sorted by length together */
#define BUCKET_BATCHES 32

/* Fisher-Yates shuffle of n elements of size bytes with the epoch's generator */
static void
shuffle(void *base, int64 n, size_t size, pg_prng_state *rng)
{
	char	   *a = base;
	char		tmp[sizeof(TrainWindow)];
	int64		i;

	Assert(size <= sizeof(tmp));
	for (i = n - 1; i > 0; i--)
	{
		int64		j = (int64) pg_prng_uint64_range(rng, 0, (uint64) i);

		memcpy(tmp, a + i * size, size);
		memcpy(a + i * size, a + j * size, size);
		memcpy(a + j * size, tmp, size);
	}
}

/* order of windows by length, then start row (a total order: deterministic) */
static int
cmp_window_len(const void *a, const void *b)
{
	const TrainWindow *x = a,
			   *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The epoch's batch order: shuffle the windows, sort each bucket of
 * BUCKET_BATCHES batches by length (so that a batch pads little), and
 * shuffle the order of the batches.  Returns the first window of every batch
 * (n_batches).
 */
static int64 *
plan_batches(TrainWindow *w, int64 n, int32 B, pg_prng_state *rng, int64 *n_batches)
{
	int64		bucket = (int64) B * BUCKET_BATCHES;
	int64		nb = (n + B - 1) / B;
	int64	   *first = palloc_extended(sizeof(int64) * Max(nb, 1), MCXT_ALLOC_HUGE);
	int64		i;

	shuffle(w, n, sizeof(TrainWindow), rng);
	for (i = 0; i < n; i += bucket)
		qsort(w + i, Min(bucket, n - i), sizeof(TrainWindow), cmp_window_len);
	for (i = 0; i < nb; i++)
		first[i] = i * B;
	shuffle(first, nb, sizeof(int64), rng);
	*n_batches = nb;
	return first;
}

/*
 * Fill a batch from windows w[0..B-1]: items/ratings (B, T+1) left-padded,
 * users (B) each window's user row (its data index + 1) when users is not
 * NULL, user tags CSR (B + 1) when the data has them.  Returns T (longest
 * window minus one).
 */
static int32
fill_batch(const TrainData *d, const TrainWindow *w, int32 B, int32 *items, float *ratings,
		   int32 *users, int32 *utag_ptr, int32 **utag_idx, int32 *utag_cap)
{
	int32		T = 1;
	int32		b;

	for (b = 0; b < B; b++)
		T = Max(T, w[b].len - 1);
	for (b = 0; users && b < B; b++)
		users[b] = w[b].user + 1;
	memset(items, 0, sizeof(int32) * B * (T + 1));
	memset(ratings, 0, sizeof(float) * B * (T + 1));
	for (b = 0; b < B; b++)
	{
		int32		pad = T + 1 - w[b].len;

		memcpy(items + (size_t) b * (T + 1) + pad, d->items + w[b].start, sizeof(int32) * w[b].len);
		memcpy(ratings + (size_t) b * (T + 1) + pad, d->ratings + w[b].start, sizeof(float) * w[b].len);
	}
	if (utag_ptr)
	{
		utag_ptr[0] = 0;
		for (b = 0; b < B; b++)
		{
			int32		from = d->utag_ptr[w[b].user],
						to = d->utag_ptr[w[b].user + 1];

			if (utag_ptr[b] + (to - from) > *utag_cap)
			{
				*utag_cap = Max(2 * *utag_cap, utag_ptr[b] + (to - from));
				*utag_idx = repalloc(*utag_idx, sizeof(int32) * *utag_cap);
			}
			memcpy(*utag_idx + utag_ptr[b], d->utag_idx + from, sizeof(int32) * (to - from));
			utag_ptr[b + 1] = utag_ptr[b] + (to - from);
		}
	}
	return T;
}

/*
 * The batch order of epoch (1-based): plan_batches with a generator seeded
 * from the seed and the epoch, over the windows as the previous epoch left
 * them (so the order depends on every earlier epoch's).  Returns the first
 * window of every batch (*n_batches).
 */
static int64 *
epoch_order(TrainRun *run, int32 epoch, int64 *n_batches)
{
	pg_prng_state rng;

	pg_prng_seed(&rng, (uint64) run->p->seed * 1000003 + epoch);
	return plan_batches(run->windows, run->n_windows, run->p->batch_size, &rng, n_batches);
}

/*
 * Bring the windows into the order the epochs before first_epoch left them
 * in, by planning those epochs again without training (a resumed run then
 * sees the batches of an uninterrupted one).
 */
static void
replay_order(TrainRun *run)
{
	int64		batches;
	int32		epoch;

	for (epoch = 1; epoch < run->first_epoch; epoch++)
	{
		pfree(epoch_order(run, epoch, &batches));
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Move the averaged weights toward the model's after a step:
 * avg += (1 - d) (model - avg) with d = min(ema_decay, (1 + t) / (10 + t))
 * at step t, so that short runs are not held back by the first weights.
 */
static void
average_update(TrainRun *run)
{
	double		d = Min(run->p->ema_decay, (1.0 + run->avg_steps) / (10.0 + run->avg_steps));
	float		w = (float) (1.0 - d);
	float	   *a = run->avg.params;
	const float *q = run->model.params;
	size_t		i;

	for (i = 0; i < run->model.n_params; i++)
		a[i] += w * (q[i] - a[i]);
	run->avg_steps++;
}

/*
 * One pass over the shuffled windows; returns the mean loss per predicted
 * position and sets *positions.  Checks for interrupts between batches.
 */
static double
train_epoch(TrainRun *run, int32 epoch, int64 *positions)
{
	const TrainParams *p = run->p;
	int32		B = p->batch_size;
	int32	   *items = palloc(sizeof(int32) * B * (p->maxlen + 1));
	float	   *ratings = palloc(sizeof(float) * B * (p->maxlen + 1));
	int32	   *users = run->model.cfg.n_users > 0 ? palloc(sizeof(int32) * B) : NULL;
	int32	   *utag_ptr = run->d.utag_ptr ? palloc(sizeof(int32) * (B + 1)) : NULL;
	int32		utag_cap = 1024;
	int32	   *utag_idx = palloc(sizeof(int32) * utag_cap);
	int64		batches;
	int64	   *first;
	int64		bi;
	double		loss_sum = 0;
	int64		n_pos = 0;
	instr_time	start,
				now;
	nn_error	err;

	first = epoch_order(run, epoch, &batches);
	INSTR_TIME_SET_CURRENT(start);
	for (bi = 0; bi < batches; bi++)
	{
		int32		nb = (int32) Min((int64) B, run->n_windows - first[bi]);
		nn_batch	batch;

		batch.B = nb;
		batch.T = fill_batch(&run->d, run->windows + first[bi], nb, items, ratings,
							 users, utag_ptr, &utag_idx, &utag_cap);
		batch.items = items;
		batch.ratings = ratings;
		batch.users = users;
		batch.utag_ptr = utag_ptr;
		batch.utag_idx = utag_idx;
		if (nn_trainer_step(run->trainer, &batch, &loss_sum, &n_pos, &err) != NN_OK)
			nn_raise(&err, "a training step");
		if (p->ema_decay > 0)
			average_update(run);
		CHECK_FOR_INTERRUPTS();
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		progress_update(run->progress_slot, epoch, bi + 1, n_pos ? loss_sum / n_pos : 0,
						n_pos / Max(INSTR_TIME_GET_DOUBLE(now), 1e-9));
	}
	pfree(first);
	pfree(items);
	pfree(ratings);
	pfree(utag_idx);
	if (utag_ptr)
		pfree(utag_ptr);
	if (users)
		pfree(users);
	*positions = n_pos;
	return n_pos ? loss_sum / n_pos : 0;
}

/*
 * metrics json of the run so far (with test metrics when test is given),
 * with the memory of the weights (model, best and averaged copies) and of the
 * trainer (gradients, Adam moments, one batch's workspace)
 */
static char *
metrics_json(const TrainRun *run, const EvalResult *test)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"best_epoch\": %d, \"epochs_since_best\": %d, \"train_seconds\": %.3f",
					 run->best_epoch, run->since_best, run->seconds);
	appendStringInfo(&s, ", \"weights_bytes\": %zu, \"weight_copies\": %d, \"trainer_bytes\": %zu",
					 run->model.n_params * sizeof(float), run->p->ema_decay > 0 ? 3 : 2,
					 nn_trainer_bytes(run->trainer));
	if (run->p->holdout)
		appendStringInfo(&s, ", \"best_val_ndcg\": %.17g, \"val_hr@10\": %.6f, \"val_ndcg@10\": %.6f",
						 run->best_ndcg, run->best_hr, run->best_ndcg);
	if (test)
		appendStringInfo(&s, ", \"test_users\": " INT64_FORMAT ", \"test_hr@10\": %.6f,"
						 " \"test_ndcg@10\": %.6f, \"test_mrr@10\": %.6f,"
						 " \"popularity_hr@10\": %.6f, \"popularity_ndcg@10\": %.6f,"
						 " \"popularity_mrr@10\": %.6f",
						 test->users, test->hr, test->ndcg, test->mrr, test->pop_hr,
						 test->pop_ndcg, test->pop_mrr);
	appendStringInfoChar(&s, '}');
	return s.data;
}

/*
 * Commit the work so far when the CALL is non-atomic (not inside a transaction
 * block).  The commit ends the fixed search_path, which is set again.
 */
static void
maybe_commit(TrainRun *run)
{
	if (!run->atomic)
	{
		SPI_commit();
		run->guc_level = animerec_fix_search_path();
	}
}

/*
 * Insert the run's registry row, or with resume take over the newest
 * interrupted one; *ck gets its checkpoint (zeroed for a new row).
 */
static void
open_registry_row(TrainRun *run, RegistryCheckpoint *ck)
{
	const TrainParams *p = run->p;
	const TrainData *d = &run->d;
	RegistryRun rr;

	registry_lock_name(p->name);
	memset(ck, 0, sizeof(*ck));
	rr.name = p->name;
	rr.ratings_table = p->src.ratings_table;
	rr.user_col = p->src.user_col;
	rr.item_col = p->src.item_col;
	rr.rating_col = p->src.rating_col;
	rr.order_col = p->src.order_col;
	rr.items_table = p->src.items_table;
	rr.item_key = p->src.item_key;
	rr.tags_col = p->src.tags_col;
	rr.user_tags_table = p->src.user_tags_table;
	if (p->resume)
	{
		char	   *changed;

		if (!registry_find_resumable(p->name, params_json(p), ck))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no interrupted training to resume", p->name),
					 errhint("Call animerec.train without resume => true to start a new version.")));
		run->version = ck->version;
		/* the same tables and columns: the row says what the weights were trained on */
		if ((changed = registry_source_changes(p->name, run->version, &rr)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot resume model \"%s\" version %d on other data than the interrupted run",
							p->name, run->version),
					 errdetail("These arguments differ: %s.", changed),
					 errhint("Resume with the ratings, columns, items and user_tags of the interrupted run, or train without resume => true.")));
		if (ck->changed_params)
			ereport(NOTICE,
					(errmsg("resuming model \"%s\" version %d with other values of %s than the interrupted run",
							p->name, run->version, ck->changed_params),
					 errdetail("The result will differ from an uninterrupted run's; only epochs and patience may change for an exact resume.")));
		return;
	}
	registry_fail_stale(p->name);
	rr.hyperparams = params_json(p);
	rr.n_rows = d->n_rows;
	rr.n_users = d->n_users;
	rr.n_items = d->n_items;
	rr.n_tags = d->n_tags;
	rr.tag_vocab = d->tag_vocab;
	rr.user_tag_vocab = d->user_tag_vocab;
	run->version = registry_insert_run(&rr);
}

/*
 * View the checkpoint's weights as *saved; they must fit the data and
 * configuration (whose rating range becomes the checkpoint's).
 */
static void
view_checkpoint(const TrainRun *run, const RegistryCheckpoint *ck, nn_config *cfg,
				nn_model *saved)
{
	nn_error	err;

	if (nn_weights_view(ck->weights, ck->weights_len, saved, &err) != NN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("checkpoint of model \"%s\" version %d is unreadable: %s",
						run->p->name, run->version, err.msg)));
	cfg->rating_min = saved->cfg.rating_min;
	cfg->rating_max = saved->cfg.rating_max;
	if (memcmp(&saved->cfg, cfg, sizeof(nn_config)) != 0 ||
		memcmp(saved->item_ids, run->d.item_ids, sizeof(int64) * (run->d.n_items + 1)) != 0 ||
		(cfg->n_users > 0 && (saved->user_ids == NULL ||
							  memcmp(saved->user_ids + 1, run->d.user_ids,
									 sizeof(int64) * run->d.n_users) != 0)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("checkpoint of model \"%s\" version %d does not match the data and hyperparameters",
						run->p->name, run->version),
				 errhint("Resume with the arguments and data of the interrupted run, or train without resume.")));
}

/* a model of configuration cfg for the run's items, initialised from the seed */
static void
new_model(const TrainRun *run, const nn_config *cfg, nn_model *m)
{
	const TrainData *d = &run->d;
	nn_error	err;

	if (nn_model_create(m, cfg, d->item_tag_ptr, d->item_tag_idx, d->item_ids,
						(uint64) run->p->seed, &animerec_palloc_allocator, &err) != NN_OK ||
		(cfg->n_users > 0 && nn_model_set_user_ids(m, d->user_ids, &err) != NN_OK))
		nn_raise(&err, "creating the model");
}

/*
 * Open the registry row and create the models (trained, best, averaged),
 * starting from a resumed run's checkpoint when there is one.
 */
static void
start_run(TrainRun *run, nn_config *cfg)
{
	RegistryCheckpoint ck;
	nn_model	saved;

	open_registry_row(run, &ck);
	/* others see at once that the name is being trained (registry_report_no_active) */
	maybe_commit(run);
	if (ck.weights)
		view_checkpoint(run, &ck, cfg, &saved);
	data_scale_ratings(&run->d, cfg->rating_min, cfg->rating_max);
	new_model(run, cfg, &run->model);
	new_model(run, cfg, &run->best);
	if (ck.weights)
	{
		nn_model_copy_params(&run->model, &saved);
		nn_model_copy_params(&run->best, &saved);
	}
	if (run->p->ema_decay > 0)
	{
		new_model(run, cfg, &run->avg);
		nn_model_copy_params(&run->avg, &run->model);
	}
	run->first_epoch = ck.epochs_done + 1;
	run->resume_state = ck.state;
	run->resume_state_len = ck.state_len;
	if (ck.weights && !ck.state)
		ereport(NOTICE,
				(errmsg("checkpoint of model \"%s\" version %d has no training state",
						run->p->name, run->version),
				 errdetail("It was written by animerec 0.2.0: training continues from its best weights with Adam restarted, so the result will differ from an uninterrupted run's.")));
	run->best_epoch = ck.best_epoch;
	run->best_ndcg = ck.best_val_ndcg;
	run->best_hr = ck.best_val_hr;
	run->since_best = ck.epochs_since_best;
}

/*
 * Continue the interrupted run's trainer exactly: its weights, Adam's
 * moments and step, the dropout and negatives generator, and the averaged
 * weights (from the checkpoint's training state, when it has one).
 */
static void
restore_state(TrainRun *run)
{
	bool		use_avg = run->p->ema_decay > 0;
	bool		has_avg;
	nn_error	err;

	if (!run->resume_state)
		return;
	if (nn_resume_read(run->trainer, run->resume_state, run->resume_state_len,
					   use_avg ? run->avg.params : NULL, &run->avg_steps, &has_avg,
					   &err) != NN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("training state of model \"%s\" version %d is unreadable: %s",
						run->p->name, run->version, err.msg),
				 errhint("Train without resume => true to start a new version.")));
	if (use_avg && !has_avg)
	{
		nn_model_copy_params(&run->avg, &run->model);
		run->avg_steps = 0;
	}
	run->resume_state = NULL;	/* inside a 64-byte aligned chunk: freed with the run */
}

/*
 * Serialise the best model and the training state and store them with the
 * epoch's log row.
 */
static void
checkpoint(TrainRun *run, int32 epoch, double loss, const EvalResult *val,
		   double seconds, double pos_per_s)
{
	const float *avg = run->p->ema_decay > 0 ? run->avg.params : NULL;
	size_t		len = nn_weights_size(&run->best);
	size_t		state_len = nn_resume_size(run->trainer, avg != NULL);
	bool		keep_state = state_len > 0 && state_len <= MaxAllocSize - VARHDRSZ;
	void	   *raw = palloc_extended(len + 64, MCXT_ALLOC_HUGE);
	void	   *buf = (void *) TYPEALIGN(64, raw);
	void	   *state = keep_state ? palloc_extended(state_len, MCXT_ALLOC_HUGE) : NULL;
	nn_error	err;

	if (nn_weights_write(&run->best, buf, len, &err) != NN_OK)
		nn_raise(&err, "writing the weights");
	if (keep_state &&
		nn_resume_write(run->trainer, avg, run->avg_steps, state, state_len, &err) != NN_OK)
		nn_raise(&err, "writing the training state");
	if (!keep_state && epoch == run->first_epoch)
		ereport(NOTICE,
				(errmsg("the training state of model \"%s\" (%zu bytes) exceeds the 1 GB of a bytea and is not checkpointed",
						run->p->name, state_len),
				 errdetail("Resuming this run would continue from its best weights with Adam restarted.")));
	registry_checkpoint(run->p->name, run->version, buf, len, state, keep_state ? state_len : 0,
						metrics_json(run, NULL), epoch, run->best_epoch, epoch, loss,
						val ? val->hr : 0, val ? val->ndcg : 0, val != NULL, seconds, pos_per_s);
	pfree(raw);
	if (state)
		pfree(state);
}

/*
 * The epochs, with early stopping on validation NDCG@10 of the averaged
 * weights (or of the model's without averaging); the best are kept.
 */
static void
train_loop(TrainRun *run)
{
	const TrainParams *p = run->p;
	const nn_model *kept = p->ema_decay > 0 ? &run->avg : &run->model;
	int32		epoch;

	for (epoch = run->first_epoch; epoch <= p->epochs; epoch++)
	{
		instr_time	start,
					end;
		int64		positions;
		double		loss,
					seconds;
		EvalResult	val;
		bool		improved;

		INSTR_TIME_SET_CURRENT(start);
		loss = train_epoch(run, epoch, &positions);
		INSTR_TIME_SET_CURRENT(end);
		INSTR_TIME_SUBTRACT(end, start);
		seconds = INSTR_TIME_GET_DOUBLE(end);
		run->seconds += seconds;
		if (p->holdout)
		{
			eval_ranking(kept, &run->d, false, 10, NULL, &val);
			improved = val.ndcg > run->best_ndcg;
		}
		else
			improved = true;
		if (improved)
		{
			nn_model_copy_params(&run->best, kept);
			run->best_epoch = epoch;
			run->best_ndcg = p->holdout ? val.ndcg : 0;
			run->best_hr = p->holdout ? val.hr : 0;
			run->since_best = 0;
		}
		else
			run->since_best++;
		checkpoint(run, epoch, loss, p->holdout ? &val : NULL, seconds,
				   positions / Max(seconds, 1e-9));
		maybe_commit(run);
		if (animerec_progress_notices)
		{
			if (p->holdout)
				ereport(NOTICE,
						(errmsg("epoch %d/%d: loss %.4f, validation HR@10 %.4f NDCG@10 %.4f%s, %.1f s, %.0f positions/s",
								epoch, p->epochs, loss, val.hr, val.ndcg,
								improved ? " (best)" : "", seconds,
								positions / Max(seconds, 1e-9))));
			else
				ereport(NOTICE,
						(errmsg("epoch %d/%d: loss %.4f, %.1f s, %.0f positions/s",
								epoch, p->epochs, loss, seconds, positions / Max(seconds, 1e-9))));
		}
		if (p->patience > 0 && run->since_best >= p->patience)
			break;
	}
}

/*
 * Resolve loss => 'auto' into 'full' or 'sampled' for the run's data (the
 * full softmax's output work an epoch against OPT_AUTO_SAMPLED_FLOP), and
 * say with a NOTICE what was chosen and why.  The resolved name is what the
 * registry records (and what a resume compares).
 */
static void
resolve_auto_loss(TrainParams *p, const TrainData *d, const TrainWindow *w, int64 n_windows)
{
	double		positions = 0,
				flop;
	bool		sampled;

	if (!opt_loss_is_auto(p->loss, strlen(p->loss)))
		return;
	for (int64 i = 0; i < n_windows; i++)
		positions += w[i].len - 1;
	flop = opt_full_output_flop(p->dim, d->n_items, positions);
	sampled = opt_auto_loss(p->dim, d->n_items, positions) == NN_LOSS_SAMPLED;
	p->loss = sampled ? "sampled" : "full";
	if (sampled)
		ereport(NOTICE,
				(errmsg("loss 'auto' chose the sampled softmax with %d negatives: the full one's output layer would take %.2g FLOP an epoch (%d items, %.0f positions, dim %d), above %.0e",
						Min(p->negatives, d->n_items), flop, d->n_items, positions, p->dim,
						OPT_AUTO_SAMPLED_FLOP)));
	else
		ereport(NOTICE,
				(errmsg("loss 'auto' chose the full softmax: its output layer takes %.2g FLOP an epoch (%d items, %.0f positions, dim %d), not above %.0e",
						flop, d->n_items, positions, p->dim, OPT_AUTO_SAMPLED_FLOP)));
}

/* the configuration of the model for the data and parameters */
static void
model_config(const TrainParams *p, const TrainData *d, nn_config *cfg)
{
	nn_error	err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->n_items = d->n_items;
	cfg->n_tags = d->n_tags;
	cfg->n_user_tags = d->n_user_tags;
	cfg->n_users = p->user_embedding ? d->n_users : 0;
	cfg->dim = p->dim;
	cfg->hidden = p->hidden;
	cfg->layers = p->layers;
	cfg->maxlen = p->maxlen;
	cfg->rating_min = d->rating_min;
	cfg->rating_max = d->rating_max;
	if (nn_config_check(cfg, &err) != NN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model configuration: %s", err.msg)));
}

/* the trainer for the run's model */
static void
create_trainer(TrainRun *run)
{
	const TrainParams *p = run->p;
	nn_train_config tc;
	nn_error	err;

	memset(&tc, 0, sizeof(tc));
	tc.batch_size = p->batch_size;
	tc.learning_rate = (float) p->learning_rate;
	tc.clip = (float) p->clip;
	tc.dropout = (float) p->dropout;
	tc.loss = opt_loss(p->loss, strlen(p->loss));
	tc.n_negatives = Min(p->negatives, run->d.n_items);
	tc.negatives_by_popularity = true;
	tc.item_popularity = run->popularity;
	tc.seed = (uint64) p->seed;
	run->trainer = nn_trainer_create(&run->model, &tc, &animerec_palloc_allocator, &err);
	if (run->trainer == NULL)
		nn_raise(&err, "creating the trainer");
}

/* NOTICE with the finished run's test metrics (animerec.progress_notices) */
static void
report_done(const TrainRun *run, const EvalResult *test)
{
	if (!animerec_progress_notices)
		return;
	if (run->p->holdout)
		ereport(NOTICE,
				(errmsg("model \"%s\" version %d is active: best epoch %d, test HR@10 %.4f NDCG@10 %.4f (popularity %.4f, %.4f) on " INT64_FORMAT " users",
						run->p->name, run->version, run->best_epoch, test->hr, test->ndcg,
						test->pop_hr, test->pop_ndcg, test->users)));
	else
		ereport(NOTICE,
				(errmsg("model \"%s\" version %d is active", run->p->name, run->version)));
}

/* may the CALL not commit (inside a transaction block, or not a CALL)? */
static bool
call_is_atomic(FunctionCallInfo fcinfo)
{
	return !(fcinfo->context && IsA(fcinfo->context, CallContext) &&
			 !castNode(CallContext, fcinfo->context)->atomic);
}

/*
 * Read the data, train with early stopping (a checkpoint after every epoch,
 * committed unless the CALL is atomic), activate the new version.  Inside an SPI
 * connection; allocations in cxt.  guc_level is the GUC nest level of the fixed
 * search_path; returns the level in force at the end (each commit sets it anew).
 */
static int
run_training(TrainParams *p, FunctionCallInfo fcinfo, MemoryContext cxt, int guc_level)
{
	TrainRun	run;
	nn_config	cfg;
	EvalResult	test;

	memset(&run, 0, sizeof(run));
	run.p = p;
	run.atomic = call_is_atomic(fcinfo);
	run.guc_level = guc_level;
	data_read(&p->src, &run.d, NULL, 0, (Datum) 0, (Datum) 0);
	run.windows = data_windows(&run.d, p->holdout, p->maxlen, &run.n_windows);
	check_data(p, &run.d, run.n_windows);
	ereport(NOTICE,
			(errmsg("training \"%s\" on " INT64_FORMAT " rows (" INT64_FORMAT " skipped for a NULL id): %d users, %d items, %d tags, " INT64_FORMAT " windows",
					p->name, run.d.n_rows, run.d.n_null, run.d.n_users, run.d.n_items,
					run.d.n_tags, run.n_windows)));

	resolve_auto_loss(p, &run.d, run.windows, run.n_windows);
	model_config(p, &run.d, &cfg);
	animerec_set_blas_threads();
	start_run(&run, &cfg);
	maybe_commit(&run);
	run.popularity = eval_popularity(&run.d, p->holdout, false);
	create_trainer(&run);
	restore_state(&run);
	replay_order(&run);
	run.progress_slot = progress_begin(p->name, run.version, run.first_epoch, p->epochs,
									   (run.n_windows + p->batch_size - 1) / p->batch_size, cxt);

	train_loop(&run);

	if (p->holdout)
		eval_ranking(&run.best, &run.d, true, 10, eval_popularity(&run.d, true, true), &test);
	registry_finish(p->name, run.version, metrics_json(&run, p->holdout ? &test : NULL));
	report_done(&run, &test);
	nn_trainer_free(run.trainer);
	return run.guc_level;
}

PG_FUNCTION_INFO_V1(animerec_train);

/*
 * CALL animerec.train(name, ratings, ...): check the arguments, take the
 * name's training lock (a second training of the name fails with 55P03),
 * train, and release the lock however the training ends.
 */
Datum
animerec_train(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	TrainParams p;
	LOCKTAG		lock;
	volatile int guc_level;	/* read after PG_TRY */

	/* the run's memory must outlive the commits after each epoch */
	cxt = AllocSetContextCreate(call_is_atomic(fcinfo) ? CurrentMemoryContext : PortalContext,
								"animerec train", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	parse_params(fcinfo, &p);
	source_resolve(&p.src, p.ratings, p.items, p.user_tags);

	guc_level = animerec_fix_search_path();
	SPI_connect_ext(call_is_atomic(fcinfo) ? 0 : SPI_OPT_NONATOMIC);
	MemoryContextSwitchTo(cxt);
	/*
	 * The name's lock first: a second training of a new name fails at once
	 * (55P03) rather than waiting on the first one's uncommitted claim of it
	 */
	train_lock_acquire(p.name, &lock);
	PG_TRY();
	{
		registry_claim_name(p.name);
		guc_level = run_training(&p, fcinfo, cxt, guc_level);
	}
	PG_FINALLY();
	{
		train_lock_release(&lock);
	}
	PG_END_TRY();
	SPI_finish();
	animerec_restore_search_path(guc_level);
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(cxt);
	PG_RETURN_VOID();
}
