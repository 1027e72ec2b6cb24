/*
 * test_learning.c — the model learns a planted sequential pattern.
 *
 * Sequences over N items follow x_{t+1} = succ(x_{t-1}) with succ(j) =
 * j mod N + 1 from two random starting items: the next item is fixed by the
 * item two steps back and says nothing about the current one, so the LSTM
 * must carry memory across a step.  After training (Adam, dropout, clipping)
 * next-item top-1 accuracy on fresh sequences, read step by step through
 * nn_infer_step and ranked with nn_scores/nn_topk, must exceed 90% at every
 * position from t = 1 (chance: 1/N).  Once with the full softmax and once
 * with sampled softmax (popularity negatives, logQ) and lazy Adam.
 */
#include <stdio.h>

#include "tap.h"
#include "testlib.h"

#define N_ITEMS 30
#define T_STEPS 8
#define BATCH 32

/* one sequence of n items with the planted pattern */
static void
planted(nn_rng *r, int32_t *seq, int32_t n)
{
	int32_t		t;

	seq[0] = 1 + (int32_t) nn_rng_below(r, N_ITEMS);
	seq[1] = 1 + (int32_t) nn_rng_below(r, N_ITEMS);
	for (t = 2; t < n; t++)
		seq[t] = seq[t - 2] % N_ITEMS + 1;
}

/* top-1 accuracy at positions t >= 1 over n_seq fresh sequences */
static double
accuracy(const nn_model *m, nn_rng *r, int32_t n_seq)
{
	int32_t		seq[T_STEPS + 1];
	float	   *state = calloc(nn_state_floats(m), sizeof(float));
	float	   *work = calloc(nn_step_work_floats(m), sizeof(float));
	float	   *tables = calloc(nn_serving_floats(m), sizeof(float));
	nn_serving	sv;
	float		scores[N_ITEMS + 1],
				u[64],
				top_s;
	int32_t		top,
				s,
				t,
				hits = 0,
				total = 0;

	nn_serving_build(m, tables, &sv);
	for (s = 0; s < n_seq; s++)
	{
		planted(r, seq, T_STEPS + 1);
		nn_state_reset(m, state);
		for (t = 0; t < T_STEPS; t++)
		{
			nn_infer_step(m, state, seq[t], 0.0f, 0, NULL, 0, work);
			if (t == 0)
				continue;
			nn_infer_embedding(m, state, u);
			nn_scores(m, sv.score_table, u, 1, scores);
			nn_topk(scores, N_ITEMS, 1, NULL, &top, &top_s);
			hits += top == seq[t + 1];
			total++;
		}
	}
	free(state);
	free(work);
	free(tables);
	return (double) hits / total;
}

/* train 600 steps on planted sequences, then measure top-1 accuracy */
static void
learn(const char *label, int32_t loss, bool lazy)
{
	nn_config	cfg = small_config(N_ITEMS, 4, 0, 0, 16, 32, 2, T_STEPS);
	nn_model	m;
	nn_train_config tc = {0};
	nn_trainer *tr;
	nn_error	err = {0};
	nn_rng		r;
	int32_t		items[BATCH * (T_STEPS + 1)];
	float		ratings[BATCH * (T_STEPS + 1)] = {0};
	float		pop[N_ITEMS + 1];
	nn_batch	b = {0};
	double		loss_sum = 0.0,
				acc;
	int64_t		npos = 0;
	int32_t		step,
				row,
				j;
	int			rc = NN_OK;

	make_model(&m, &cfg, 5, 0.0f);
	for (j = 0; j <= N_ITEMS; j++)
		pop[j] = (float) (1 + j % 7);
	tc.batch_size = BATCH;
	tc.learning_rate = 1e-2f;
	tc.clip = 5.0f;
	tc.dropout = 0.1f;
	tc.loss = loss;
	tc.n_negatives = 10;
	tc.negatives_by_popularity = true;
	tc.item_popularity = pop;
	tc.lazy_adam = lazy;
	tc.seed = 6;
	tr = nn_trainer_create(&m, &tc, &nn_malloc_allocator, &err);
	nn_rng_seed(&r, 7);
	b.B = BATCH;
	b.T = T_STEPS;
	b.items = items;
	b.ratings = ratings;
	for (step = 0; step < 600 && rc == NN_OK; step++)
	{
		for (row = 0; row < BATCH; row++)
			planted(&r, items + row * (T_STEPS + 1), T_STEPS + 1);
		if (step == 599)
		{
			loss_sum = 0.0;
			npos = 0;
		}
		rc = nn_trainer_step(tr, &b, &loss_sum, &npos, &err);
	}
	tap_ok(rc == NN_OK, "%s: 600 training steps: %s", label, err.msg);
	acc = accuracy(&m, &r, 200);
	tap_ok(acc > 0.9, "%s: next-item accuracy %.3f > 0.9 (chance %.3f, last batch loss %.3f)",
		   label, acc, 1.0 / N_ITEMS, loss_sum / (double) (npos ? npos : 1));
	nn_trainer_free(tr);
	nn_model_free(&m);
}

/*
 * The full and the sampled loss both learn the pattern; skipped at the small
 * test scale (valgrind in scripts/test).
 */
int
main(void)
{
	if (test_scale_small())
	{
		/* the sampled loss needs all 600 steps to pass 0.9: no smaller size tests the same */
		printf("1..0 # SKIP at ANIMEREC_TEST_SCALE=small: 2 x 600 training steps\n");
		return 0;
	}
	learn("full softmax", NN_LOSS_FULL, false);
	learn("sampled softmax + lazy Adam", NN_LOSS_SAMPLED, true);
	return tap_done();
}
