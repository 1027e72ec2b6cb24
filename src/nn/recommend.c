/*
 * recommend.c — the top k of many users at once (the batch path): their
 * embeddings (the wave of infer.c, in chunks of users the threads take in
 * turn), then, once every embedding is done, every item's score, the top k
 * not yet seen and the softmax's log-sum-exp, again in chunks taken in turn,
 * each thread with one-thread GEMMs.  Only the core's own threads run: the
 * OpenBLAS threads stay asleep, instead of spinning beside them between two
 * shared GEMMs.
 */
#include "blas.h"

#include "nn_internal.h"

/* users a thread scores at a time, one GEMM: their scores stay in cache for the top k */
#define SCORE_CHUNK 16

/* the arguments of one nn_recommend_batch, shared by the threads */
typedef struct recommend_job
{
	const nn_model *m;
	const float *score_table;
	const float *u;
	const int32_t *seen_ptr;
	const int32_t *seen;
	nn_topk_batch *out;
	float	   *scores;			/* (slices, SCORE_CHUNK, N+1) */
	uint8_t    *exclude;		/* (slices, N+1) */
} recommend_job;

/*
 * nn_rows_fn: scores (one GEMM), top k and log-sum-exp of users [b0, b1),
 * a chunk of at most SCORE_CHUNK users, in the scratch of thread slice
 */
static void
recommend_slice(void *arg, int32_t slice, int32_t b0, int32_t b1)
{
	const recommend_job *j = arg;
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

/* floats of the score scratch for threads threads: (threads, SCORE_CHUNK, N+1) */
size_t
nn_recommend_scores_floats(const nn_model *m, int32_t threads)
{
	return (size_t) threads * SCORE_CHUNK * ((size_t) m->cfg.n_items + 1);
}

/*
 * The top k of B users: histories items/ratings (B, T) as in nn_infer_batch
 * (user rows users (B) and user tags utag_ptr/utag_idx may be NULL), the
 * items each user has seen as CSR seen_ptr (B + 1) / seen (dense ids, never
 * recommended), s the model's tables (nn_serving_build), item_gates
 * (N+1, 4H) from nn_item_gates or NULL.  Fills
 * out (B users, out->k each) on threads threads, OpenBLAS set to one, each
 * thread taking SCORE_CHUNK users at a time; u (B, D) gets the embeddings, scores (nn_recommend_scores_floats)
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
	recommend_job j = {m, s->score_table, u, seen_ptr, seen, out, scores, exclude};

	nn_infer_on(m, s->packed, B, T, items, ratings, users, utag_ptr, utag_idx, item_gates, u, work, threads);
	nn_parallel_chunks(threads, B, SCORE_CHUNK, recommend_slice, &j);
}
