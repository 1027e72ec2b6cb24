/*
 * nn.h — public interface of animerec's numeric core.
 *
 * Plain C11 + CBLAS, no PostgreSQL headers: the core is unit-tested and
 * benchmarked alone (test/nn/, bench/).  The model is docs/design.md#the-model:
 *
 *   x_t = [E_item[i_t] ; mean_{g in tags(i_t)} E_tag[g] ; r_t (; user context)]
 *   stacked LSTM (PyTorch gate order i, f, g, o), u = P h_T,
 *   s_j = u · (E_item[j] + mean_{g in tags(j)} E_tag[g]) + b_j.
 *
 * Conventions
 *   - Items are dense indices 1..N, tags 1..G; index 0 is padding everywhere.
 *   - All memory comes from the caller's nn_allocator; nothing is allocated per
 *     batch; errors are returned as NN_E* codes with a message in nn_error.
 *   - Float arrays are row-major; shapes are written (rows, cols).
 *   - Deterministic: same seed, same data, one BLAS thread -> identical bits.
 */
#ifndef ANIMEREC_NN_H
#define ANIMEREC_NN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_LAYERS 8
#define NN_MAX_SLICES 16		/* threads a parallel loop of the core uses, at most */

/* ---- errors and memory ------------------------------------------------ */

enum
{
	NN_OK = 0,
	NN_EINVAL = 1,			/* bad argument or configuration */
	NN_ENOMEM = 2,			/* the allocator returned NULL */
	NN_ECORRUPT = 3,		/* weight blob truncated, inconsistent or bad checksum */
	NN_EVERSION = 4,		/* weight blob of an unknown format version */
	NN_ENUMERIC = 5,		/* loss or gradient became NaN/Inf */
	NN_EMAGIC = 6			/* not a blob of the expected kind (model export) */
};

typedef struct nn_error
{
	int			code;
	char		msg[256];
} nn_error;

/* Caller-supplied allocator: alloc returns zeroed memory or NULL. */
typedef struct nn_allocator
{
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*free) (void *ctx, void *ptr);
	void	   *ctx;
} nn_allocator;

/* malloc/calloc-based allocator for tests and benchmarks */
extern const nn_allocator nn_malloc_allocator;

/* ---- model ------------------------------------------------------------- */

typedef struct nn_config
{
	int32_t		n_items;		/* N: items 1..N */
	int32_t		n_tags;			/* G: item tags 1..G (0: no tags) */
	int32_t		n_user_tags;	/* user-tag vocabulary (0: no user tags) */
	int32_t		n_users;		/* user-id embedding rows 1..U (0: none) */
	int32_t		dim;			/* D */
	int32_t		hidden;			/* H */
	int32_t		layers;			/* L, 1..NN_MAX_LAYERS */
	int32_t		maxlen;			/* T: longest window fed to the LSTM */
	float		rating_min;		/* training data's rating range, for scaling */
	float		rating_max;
} nn_config;

/*
 * A model: configuration, the parameter buffer with named views into it, the
 * item->tags lists and the external item ids.  Parameters are one contiguous
 * float32 buffer in this order (the weight-file order too):
 *   item_emb (N+1, D), tag_emb (G+1, D), utag_emb (UG+1, D) if UG > 0,
 *   user_emb (U+1, D) if U > 0,
 *   per layer l: w_ih (4H, in_l), w_hh (4H, H), b_ih (4H), b_hh (4H),
 *   proj (D, H), item_bias (N+1).
 * in_0 = 2D + 1 (+ D with user tags) (+ D with user ids); in_l = H for l > 0.
 */
typedef struct nn_model
{
	nn_config	cfg;
	int32_t		in_dim;			/* in_0 */
	size_t		n_params;		/* floats in params */
	float	   *params;
	float	   *item_emb;
	float	   *tag_emb;
	float	   *utag_emb;		/* NULL when n_user_tags == 0 */
	float	   *user_emb;		/* NULL when n_users == 0 */
	float	   *w_ih[NN_MAX_LAYERS];
	float	   *w_hh[NN_MAX_LAYERS];
	float	   *b_ih[NN_MAX_LAYERS];
	float	   *b_hh[NN_MAX_LAYERS];
	float	   *proj;
	float	   *item_bias;
	const int32_t *item_tag_ptr;	/* (N+2) CSR offsets: tags of item j are */
	const int32_t *item_tag_idx;	/* item_tag_idx[item_tag_ptr[j] .. item_tag_ptr[j+1]) */
	const int64_t *item_ids;	/* (N+1) external id of each dense item; [0] = 0 */
	const int64_t *user_ids;	/* (U+1) external id of each user row; [0] = 0;
								 * NULL when U = 0 or no ids are known */
	void	   *owned;			/* memory to free in nn_model_free, or NULL for a view */
	nn_allocator alloc;
} nn_model;

/*
 * Create a model owning a fresh parameter buffer and copies of the tag lists
 * and item ids; item_ids may be NULL (then j is its own id).  Parameters are
 * initialised as PyTorch does (docs/design.md#the-model) from seed.
 */
int			nn_model_create(nn_model *m, const nn_config *cfg,
							const int32_t *item_tag_ptr, const int32_t *item_tag_idx,
							const int64_t *item_ids, uint64_t seed,
							const nn_allocator *a, nn_error *err);
void		nn_model_free(nn_model *m);

/* check cfg's ranges; NN_OK, or NN_EINVAL with a message */
int			nn_config_check(const nn_config *cfg, nn_error *err);

/* floats in the parameter buffer of a model of configuration cfg (valid cfg) */
size_t		nn_param_floats(const nn_config *cfg);

/*
 * Set m->in_dim and m->n_params from m->cfg and point m's named parameter
 * views into params (nn_param_floats(&m->cfg) floats, in the order above).
 */
void		nn_model_bind(nn_model *m, float *params);

/* copy all parameters of src into dst (same configuration) */
void		nn_model_copy_params(nn_model *dst, const nn_model *src);

/* scale a raw rating to [-1, 1] from cfg's range (clamped); NaN -> 0 */
float		nn_scale_rating(const nn_config *cfg, float rating);

/*
 * Give a model with user embeddings (U > 0) the external ids of its users
 * 1..U: ids (U), strictly ascending.  A created model starts with ids 1..U.
 */
int			nn_model_set_user_ids(nn_model *m, const int64_t *ids, nn_error *err);

/* user row of an external user id (binary search in user_ids), 0 if unknown or none */
int32_t		nn_user_index(const nn_model *m, int64_t user_id);

/* dense index of an external item id (binary search in item_ids), 0 if unknown */
int32_t		nn_item_index(const nn_model *m, int64_t item_id);

/* ---- training ------------------------------------------------------------ */

enum
{
	NN_LOSS_FULL = 0,			/* full-softmax cross-entropy */
	NN_LOSS_SAMPLED = 1			/* sampled softmax with logQ correction */
};

typedef struct nn_train_config
{
	int32_t		batch_size;		/* B, the largest batch a step will get */
	float		learning_rate;
	float		beta1, beta2, eps;	/* Adam; 0 means 0.9, 0.999, 1e-8 */
	float		clip;			/* global gradient-norm clip; <= 0: none */
	float		dropout;		/* rate on step inputs, between layers, before P */
	int32_t		loss;			/* NN_LOSS_* */
	int32_t		n_negatives;	/* sampled softmax: negatives per batch */
	bool		negatives_by_popularity;	/* else uniform */
	const float *item_popularity;	/* (N+1) counts, for popularity negatives */
	bool		lazy_adam;		/* row-wise Adam on embedding rows touched */
	uint64_t	seed;			/* dropout and negative sampling */
} nn_train_config;

/*
 * One batch of left-padded windows.  Row b holds T+1 items; the LSTM reads
 * items[b][0..T-1] and predicts items[b][1..T]: position t is a prediction
 * when both items[b][t] and items[b][t+1] are non-zero.
 */
typedef struct nn_batch
{
	int32_t		B;				/* rows, <= batch_size */
	int32_t		T;				/* steps, <= maxlen */
	const int32_t *items;		/* (B, T+1), 0 = padding (left) */
	const float *ratings;		/* (B, T+1), already scaled to [-1, 1] */
	const int32_t *users;		/* (B) user indices, or NULL */
	const int32_t *utag_ptr;	/* (B+1) CSR offsets of each row's user tags, or NULL */
	const int32_t *utag_idx;
} nn_batch;

typedef struct nn_trainer nn_trainer;

/* allocate the trainer: gradients, Adam moments and one batch's workspace */
nn_trainer *nn_trainer_create(nn_model *m, const nn_train_config *tc,
							  const nn_allocator *a, nn_error *err);
/*
 * Forward, backward, clip and Adam update on one batch.  Adds the summed
 * cross-entropy to *loss_sum and the number of predicted positions to *n_pos.
 */
int			nn_trainer_step(nn_trainer *t, const nn_batch *b,
							double *loss_sum, int64_t *n_pos, nn_error *err);
/* bytes the trainer allocated (gradients, moments, workspace) */
size_t		nn_trainer_bytes(const nn_trainer *t);
void		nn_trainer_free(nn_trainer *t);

/*
 * The training state, to continue a run exactly (src/nn/resume.c): the
 * model's parameters, Adam's moments and step count, the generator of
 * dropout and negatives, and optionally the caller's averaged copy of the
 * parameters (n_params floats) with its step count.  A trainer restored from
 * it into a model of the same configuration makes, batch for batch, the same
 * steps bit for bit as the trainer that wrote it (one BLAS thread).
 */
/* bytes of the state blob (0 if it would overflow size_t) */
size_t		nn_resume_size(const nn_trainer *t, bool with_average);
/* serialise t's state (and average, if not NULL) into buf of len bytes */
int			nn_resume_write(const nn_trainer *t, const float *average, int64_t average_steps,
							void *buf, size_t len, nn_error *err);
/*
 * Restore t's state from blob (any alignment).  NN_ECORRUPT / NN_EVERSION for
 * a damaged or unknown blob, NN_EINVAL for one of another configuration;
 * nothing changes unless it is valid.  *has_average says whether the blob
 * holds an averaged copy; it is copied to average unless that is NULL.
 */
int			nn_resume_read(nn_trainer *t, const void *blob, size_t len, float *average,
						   int64_t *average_steps, bool *has_average, nn_error *err);

/* ---- inference ------------------------------------------------------------ */

/* floats in a recurrent state: L * 2 * H ((h, c) per layer) */
size_t		nn_state_floats(const nn_model *m);
/* floats of workspace nn_infer_step needs */
size_t		nn_step_work_floats(const nn_model *m);
/* zero the state */
void		nn_state_reset(const nn_model *m, float *state);

/*
 * Advance the state by one step: item (dense, 0 = skip), rating already
 * scaled, user context (user index or 0, user-tag list or NULL/0).
 */
void		nn_infer_step(const nn_model *m, float *state, int32_t item, float rating,
						  int32_t user, const int32_t *utags, int32_t n_utags,
						  float *work);
/* u = P h_top: (D) */
void		nn_infer_embedding(const nn_model *m, const float *state, float *u);

/*
 * Every layer's [W_ih | W_hh] packed for inference's products
 * (nn_packed_layers_floats(m) floats): a server packs them once per model.
 */
size_t		nn_packed_layers_floats(const nn_model *m);
void		nn_pack_layers(const nn_model *m, float *packed);

/*
 * Embeddings of B left-padded histories at once (one product per layer and
 * step): items/ratings (B, T), users/utag_* as in nn_batch (may be NULL);
 * u_out (B, D); packed from nn_pack_layers, or NULL to pack the weights on
 * each call.  work has nn_batch_work_floats(m, B, T) floats.  With more
 * than one OpenBLAS thread the threads take the histories in chunks of 32
 * in turn, each with its own step products (nn_gemm_packed) and one-thread
 * GEMMs.
 */
size_t		nn_batch_work_floats(const nn_model *m, int32_t B, int32_t T);
void		nn_infer_batch(const nn_model *m, const float *packed, int32_t B, int32_t T,
						   const int32_t *items, const float *ratings,
						   const int32_t *users, const int32_t *utag_ptr,
						   const int32_t *utag_idx, float *u_out, float *work);

/*
 * The tables serving reads besides the weights, derived from them once
 * per loaded model (serving.c), from one buffer of nn_serving_floats(m)
 * floats: score_table from nn_pack_score_table (the item output table in
 * the layout of the scores' product), packed from nn_pack_layers, and
 * item_norms (N) the length of items 1..N's rows of the item output table.
 * nn_serving_build computes them; nn_serving_locate only says where they
 * lie in a buffer built before (another process's view of shared memory).
 */
typedef struct nn_serving
{
	const float *score_table;
	const float *packed;
	const float *item_norms;
} nn_serving;

size_t		nn_serving_floats(const nn_model *m);
void		nn_serving_build(const nn_model *m, float *buf, nn_serving *s);
void		nn_serving_locate(const nn_model *m, const float *buf, nn_serving *s);

/* the top k of a batch of users (nn_recommend_batch) */
typedef struct nn_topk_batch
{
	int32_t		k;
	int32_t    *idx;			/* (B, k) dense item ids, best first */
	float	   *score;			/* (B, k) their scores */
	int32_t    *got;			/* (B) how many of the k each user got */
	float	   *lse;			/* (B) log-sum-exp of each user's N scores */
} nn_topk_batch;

/*
 * The first layer's input projection of every item's own columns, for
 * batches that see each item many times: row j (4H) = W_ih[0] restricted to
 * the item embedding and tag mean columns, times [E_item[j]; mean
 * E_tag[tags(j)]]; row 0 zero.  P has nn_item_gates_floats(m) floats,
 * (N+1, 4H), work nn_item_gates_work_floats(m).  It costs (N+1) 2D 4H
 * multiply-adds: the item columns' share of the input projection of N+1
 * history steps.
 */
size_t		nn_item_gates_floats(const nn_model *m);
size_t		nn_item_gates_work_floats(const nn_model *m);
void		nn_item_gates(const nn_model *m, float *P, float *work);

/* floats of nn_recommend_batch's score scratch for threads threads: (threads, 16, N+1) */
size_t		nn_recommend_scores_floats(const nn_model *m, int32_t threads);

/*
 * The top k of B users not yet seen, with the log-sum-exp of their scores:
 * histories items/ratings (B, T), user rows users (B) and user tags utag_*
 * as in nn_infer_batch (each may be NULL),
 * seen items as CSR seen_ptr (B + 1) / seen, s the model's tables
 * (nn_serving_build), item_gates (N+1, 4H) from nn_item_gates or NULL (the
 * same results up to rounding, with a quarter fewer FLOPs at the default
 * shapes).  Runs on threads threads (this one and threads - 1 new
 * ones), which take the users in chunks in turn, each with its own step
 * products and one-thread GEMMs: OpenBLAS must be set to one thread
 * (nn_blas_set_threads) while it runs.  u (B, D) gets the
 * embeddings; scores has nn_recommend_scores_floats(m, threads) floats;
 * exclude has threads * (N+1) zero bytes (zero again after); work has
 * nn_batch_work_floats(m, B, T) floats.  Calls nothing but the core and
 * BLAS, so it may run on a thread of its own (nn_async_start).
 */
void		nn_recommend_batch(const nn_model *m, const nn_serving *s,
							   const float *item_gates, int32_t B, int32_t T,
							   const int32_t *items, const float *ratings, const int32_t *users,
							   const int32_t *utag_ptr, const int32_t *utag_idx,
							   const int32_t *seen_ptr, const int32_t *seen, nn_topk_batch *out,
							   int32_t threads, float *u, float *scores, uint8_t *exclude,
							   float *work);

/*
 * nn_recommend_batch as a job that threads join as they become free:
 * nn_recommend_begin sets it up in mem (nn_recommend_job_bytes() bytes,
 * the arguments of nn_recommend_batch, scores and exclude for as many
 * slices as will take part); nn_recommend_run takes its chunks of users
 * on threads threads as slices first_slice, first_slice + 1, ...;
 * nn_recommend_take takes them on the calling thread as slice slice, at the
 * same time; each returns when no chunk is left to take (one another
 * thread took may still run).  nn_recommend_stop leaves the chunks not
 * taken yet, their users unscored.  Every chunk is done once the threads
 * of nn_recommend_run have returned and every nn_recommend_take has.
 */
typedef struct nn_recommend_job nn_recommend_job;

size_t		nn_recommend_job_bytes(void);
nn_recommend_job *nn_recommend_begin(void *mem, const nn_model *m, const nn_serving *s,
									 const float *item_gates, int32_t B, int32_t T,
									 const int32_t *items, const float *ratings,
									 const int32_t *users, const int32_t *utag_ptr,
									 const int32_t *utag_idx, const int32_t *seen_ptr,
									 const int32_t *seen, nn_topk_batch *out, float *u,
									 float *scores, uint8_t *exclude, float *work);
void		nn_recommend_run(nn_recommend_job *j, int32_t threads, int32_t first_slice);
void		nn_recommend_take(nn_recommend_job *j, int32_t slice);
void		nn_recommend_stop(nn_recommend_job *j);

/* a job running on a thread of its own while its starter goes on (parallel.c) */
typedef struct nn_async
{
	pthread_t	thread;
	bool		running;
	void		(*fn) (void *);
	void	   *arg;
} nn_async;

/*
 * Start fn(arg) on a thread of its own (every signal blocked) and return at
 * once; false when no thread could be started (fn has not run).  The
 * starter must call nn_async_wait before anything fn uses goes away.
 */
bool		nn_async_start(nn_async *a, void (*fn) (void *), void *arg);
/* Wait until the job of nn_async_start has ended (at once if none runs). */
void		nn_async_wait(nn_async *a);

/* item output table (N+1, D): row j = E_item[j] + mean E_tag[tags(j)]; row 0 zero */
void		nn_item_output(const nn_model *m, float *out);
/*
 * The score table: the item output table's rows 1..N packed for
 * nn_scores's product (nn_score_table_floats(m) floats; a server packs it
 * once per model), each row computed in row (D floats of workspace).
 */
size_t		nn_score_table_floats(const nn_model *m);
void		nn_pack_score_table(const nn_model *m, float *table, float *row);
/* norms (N): the length of items 1..N's rows of the item output table, from the score table */
void		nn_item_norms(const nn_model *m, const float *table, float *norms);
/*
 * scores (B, N+1) = U (B, D) · out^T + item_bias, out the item output
 * table, given as its score table; column 0 is -inf.  Calling thread only.
 */
void		nn_scores(const nn_model *m, const float *table, const float *u,
					  int32_t B, float *scores);

/*
 * sims (N+1) = the cosine similarity of item q's row of the item output
 * table with every item's, from the model's tables (nn_serving_build: the
 * score table and the rows' lengths); sims[0] and any pair with a zero row
 * 0.  work has D floats.
 */
void		nn_item_similarities(const nn_model *m, const nn_serving *s, int32_t q, float *sims,
								 float *work);

/*
 * Top k of scores[1..n] skipping j with exclude[j] != 0 (exclude may be NULL),
 * in descending score order (ties: smaller index first) without a full sort.
 * Writes up to k indices and scores; returns how many.
 */
int32_t		nn_topk(const float *scores, int32_t n, int32_t k, const uint8_t *exclude,
					int32_t *idx_out, float *score_out);

/*
 * 0-based rank of target among scores[1..n] not excluded (the number of
 * non-excluded items scoring higher; ties count against the target).
 */
int32_t		nn_rank(const float *scores, int32_t n, int32_t target, const uint8_t *exclude);

/* ---- explanations (explain.c) ------------------------------------------ */

/* floats of workspace nn_explain needs for a window of T items */
size_t		nn_explain_work_floats(const nn_model *m, int32_t T);

/*
 * Leave-one-out explanation of target (dense, 1..N) after a chronological
 * window items/ratings (T >= 1, dense items, ratings scaled) of user row
 * user (0: none) with user tags utags (n_utags, may be NULL/0); s the
 * model's tables (nn_serving_build).
 * *logp = log p(target | window) under the full softmax over items 1..N;
 * contrib (T): contrib[t] = *logp - log p(target | window without item t),
 * exact (the state is carried over the left-out step).  The T + 1 windows
 * share prefixes and run as one triangular batch: about half the work of
 * T + 1 histories.  work has nn_explain_work_floats(m, T) floats.
 */
void		nn_explain(const nn_model *m, const nn_serving *s, int32_t T,
					   const int32_t *items, const float *ratings,
					   int32_t user, const int32_t *utags, int32_t n_utags, int32_t target,
					   double *logp, double *contrib, float *work);

/*
 * log sum_{j=1..n} exp(scores[j]): the softmax normaliser over the catalogue,
 * so that exp(scores[j] - nn_logsumexp(scores, n)) is item j's probability.
 */
float		nn_logsumexp(const float *scores, int32_t n);

/* ---- weight file --------------------------------------------------------- */

/*
 * Format (little-endian): magic "ANRECNN1", format version, header size,
 * all nn_config fields, counts, then item_tag_ptr, item_tag_idx, item_ids,
 * (version 2: user_ids,) params in the order above, each array 64-byte
 * aligned within the blob, then CRC32C of everything before it.  A model
 * with user ids is written as version 2, any other as version 1.  See
 * src/nn/format.c.
 */
size_t		nn_weights_size(const nn_model *m);
/* serialise m into buf (nn_weights_size bytes) */
int			nn_weights_write(const nn_model *m, void *buf, size_t len, nn_error *err);
/*
 * Validate blob and make m a read-only view into it (no copy).  blob must be
 * 64-byte aligned.  Rejects anything truncated, oversized, inconsistent or
 * failing the checksum; never reads outside [blob, blob + len).
 */
int			nn_weights_view(const void *blob, size_t len, nn_model *m, nn_error *err);
/* CRC32C (Castagnoli) of data, continuing from crc (start with 0) */
uint32_t	nn_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- model export envelope ---------------------------------------------- */

/*
 * A weight file with its registry metadata (JSON text) and a CRC32C of the
 * whole: magic "ANRECEX1", format version, lengths, metadata, weight file,
 * checksum.  See src/nn/export.c.
 */
typedef struct nn_export_parts
{
	const char *meta;			/* JSON text, not NUL-terminated */
	size_t		meta_len;
	const void *weights;		/* the weight file (unaligned: copy before nn_weights_view) */
	size_t		weights_len;
} nn_export_parts;

/* bytes of an envelope around meta_len and weights_len bytes; 0 when too large */
size_t		nn_export_size(size_t meta_len, size_t weights_len);
/* write the envelope into buf (exactly nn_export_size bytes) */
int			nn_export_write(const char *meta, size_t meta_len, const void *weights,
							size_t weights_len, void *buf, size_t len, nn_error *err);
/*
 * Check an envelope (magic: NN_EMAGIC; version: NN_EVERSION; lengths and
 * checksum: NN_ECORRUPT) and point out's fields into buf; never reads outside
 * [buf, buf + len).  The weight file inside is not validated here.
 */
int			nn_export_read(const void *buf, size_t len, nn_export_parts *out, nn_error *err);

#endif
