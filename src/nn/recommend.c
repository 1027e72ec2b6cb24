/*
 * recommend.c — the top k of many users at once (the batch path), in chunks
 * of users that threads take in turn: a chunk's embeddings (the wave of
 * infer.c), then every item's score, the top k not yet seen and the
 * softmax's log-sum-exp of its users, each thread with one-thread GEMMs.
 * Only the core's own threads run: the OpenBLAS threads stay asleep,
 * instead of spinning beside them between two shared GEMMs.  A thread may
 * join a batch when it becomes free (nn_recommend_take), as a backend does
 * when it has read the next block's rows before this block is scored.
 */
#include "blas.h"

#include "nn_internal.h"

/* users a thread scores at a time, one GEMM: their scores stay in cache for the top k */
#define SCORE_CHUNK 16

/* users a chunk: two score chunks, so that both kinds of chunk start at the same users */
#define RECOMMEND_CHUNK (2 * SCORE_CHUNK)

/* one nn_recommend_batch, shared by the threads that take its chunks */
struct nn_recommend_job
{
	const nn_model *m;
	const float *score_table;
	const float *u;
	const int32_t *seen_ptr;
	const int32_t *seen;
	nn_topk_batch *out;
	float	   *scores;			/* (slices, SCORE_CHUNK, N+1) */
	uint8_t    *exclude;		/* (slices, N+1) */
	bool		embedded;		/* u was computed by nn_recommend_begin (a small batch) */
	nn_infer_job infer;			/* else: the embeddings, chunk by chunk */
	nn_chunks	chunks;			/* of RECOMMEND_CHUNK users */
};

/*
 * nn_rows_fn: scores (one GEMM), top k and log-sum-exp of users [b0, b1),
 * a chunk of at most SCORE_CHUNK users, in the scratch of thread slice
 */
static void
recommend_slice(void *arg, int32_t slice, int32_t b0, int32_t b1)
{
	const nn_recommend_job *j = arg;
	int32_t		N = j->m->cfg.n_items,
				D = j->m->cfg.dim,
				k = j->out->k;
	size_t		N1 = (size_t) N + 1;
	uint8_t    *exclude = j->exclude + (size_t) slice * N1;
	float	   *scores = j->scores + (size_t) slice * SCORE_CHUNK * N1;

	nn_scores(j->m, j->score_table, j->u + (size_t) b0 * D, b1 - b0, scores);
	for (int32_t b = b0; b < b1; b++, scores += N1)
	{
		const int32_t *s0 = j->seen + j->seen_ptr[b],
				   *s1 = j->seen + j->seen_ptr[b + 1];

		for (const int32_t *s = s0; s < s1; s++)
			exclude[*s] = 1;
		j->out->got[b] = nn_topk(scores, N, k, exclude, j->out->idx + (size_t) b * k,
								 j->out->score + (size_t) b * k);
		j->out->lse[b] = nn_logsumexp(scores, N);
		for (const int32_t *s = s0; s < s1; s++)
			exclude[*s] = 0;
	}
}

/*
 * nn_rows_fn: the users [b0, b1) of a chunk of the job arg: their
 * embeddings unless nn_recommend_begin computed them, then their scores
 */
static void
recommend_chunk(void *arg, int32_t slice, int32_t b0, int32_t b1)
{
	nn_recommend_job *j = arg;

	if (!j->embedded)
		nn_infer_rows(&j->infer, slice, b0, b1);
	for (int32_t c = b0; c < b1; c += SCORE_CHUNK)
		recommend_slice(j, slice, c, c + SCORE_CHUNK < b1 ? c + SCORE_CHUNK : b1);
}

/* floats of the score scratch for threads threads: (threads, SCORE_CHUNK, N+1) */
size_t
nn_recommend_scores_floats(const nn_model *m, int32_t threads)
{
	return (size_t) threads * SCORE_CHUNK * ((size_t) m->cfg.n_items + 1);
}

/* bytes of an nn_recommend_job */
size_t
nn_recommend_job_bytes(void)
{
	return sizeof(nn_recommend_job);
}

/*
 * Set up the top k of B users as a job in mem (nn_recommend_job_bytes()),
 * with nn_recommend_batch's arguments (scores and exclude for as many
 * slices as will take chunks); a batch of fewer than NN_INFER_WAVE_MIN
 * users gets its embeddings here, layer by layer.  No chunk is taken yet.
 */
nn_recommend_job *
nn_recommend_begin(void *mem, const nn_model *m, const nn_serving *s, const float *item_gates,
				   int32_t B, int32_t T,
				   const int32_t *items, const float *ratings, const int32_t *users,
				   const int32_t *utag_ptr, const int32_t *utag_idx,
				   const int32_t *seen_ptr, const int32_t *seen, nn_topk_batch *out,
				   float *u, float *scores, uint8_t *exclude, float *work)
{
	nn_recommend_job *j = mem;

	*j = (nn_recommend_job) {
		.m = m, .score_table = s->score_table, .u = u, .seen_ptr = seen_ptr, .seen = seen,
		.out = out, .scores = scores, .exclude = exclude, .embedded = B < NN_INFER_WAVE_MIN
	};
	if (j->embedded)
		nn_infer_on(m, s->packed, B, T, items, ratings, users, utag_ptr, utag_idx, item_gates, u, work, 1);
	else
		nn_infer_job_init(&j->infer, m, s->packed, T, items, ratings, users, utag_ptr, utag_idx,
						  item_gates, u, work);
	nn_chunks_init(&j->chunks, B, RECOMMEND_CHUNK, recommend_chunk, j);
	return j;
}

/* Take the job's chunks on threads threads, as slices first_slice, ... (nn_chunks_run). */
void
nn_recommend_run(nn_recommend_job *j, int32_t threads, int32_t first_slice)
{
	nn_chunks_run(&j->chunks, threads, first_slice);
}

/* Take the job's chunks on the calling thread as slice slice until none is left. */
void
nn_recommend_take(nn_recommend_job *j, int32_t slice)
{
	nn_chunks_take(&j->chunks, slice);
}

/* Leave the job's chunks no thread has taken yet (their users' results are then missing). */
void
nn_recommend_stop(nn_recommend_job *j)
{
	nn_chunks_stop(&j->chunks);
}

/*
 * The top k of B users: histories items/ratings (B, T) as in nn_infer_batch
 * (user rows users (B) and user tags utag_ptr/utag_idx may be NULL), the
 * items each user has seen as CSR seen_ptr (B + 1) / seen (dense ids, never
 * recommended), s the model's tables (nn_serving_build), item_gates
 * (N+1, 4H) from nn_item_gates or NULL.  Fills
 * out (B users, out->k each) on threads threads, OpenBLAS set to one, each
 * thread taking RECOMMEND_CHUNK users at a time; u (B, D) gets the embeddings, scores (nn_recommend_scores_floats)
 * each thread's scores of its chunk; exclude has threads * (N+1) zero bytes
 * and is zero again afterwards; work has nn_batch_work_floats(m, B, T)
 * floats.
 */
void
nn_recommend_batch(const nn_model *m, const nn_serving *s, const float *item_gates,
				   int32_t B, int32_t T,
				   const int32_t *items, const float *ratings, const int32_t *users,
				   const int32_t *utag_ptr, const int32_t *utag_idx,
				   const int32_t *seen_ptr, const int32_t *seen, nn_topk_batch *out,
				   int32_t threads, float *u, float *scores, uint8_t *exclude, float *work)
{
	nn_recommend_job j;

	nn_recommend_begin(&j, m, s, item_gates, B, T, items, ratings, users, utag_ptr, utag_idx,
					   seen_ptr, seen, out, u, scores, exclude, work);
	nn_recommend_run(&j, threads, 0);
}
