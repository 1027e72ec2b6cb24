/*
 * test_determinism.c — same seed, same data, one BLAS thread: bit-identical
 * weights, with dropout and negative sampling in play; another seed
 * differs.
 */
#include "nn/blas.h"
#include <stdio.h>

#include "tap.h"
#include "testlib.h"

/* create a model and train it 6 steps; returns it and the summed loss */
static double
train(nn_model *m, uint64_t model_seed, uint64_t train_seed, int32_t loss)
{
	nn_config	cfg = small_config(40, 5, 3, 4, 8, 12, 2, 6);
	nn_train_config tc = {0};
	nn_trainer *tr;
	test_batch	tb;
	float		pop[41];
	double		loss_sum = 0.0;
	int64_t		npos = 0;
	int32_t		s,
				j;

	for (j = 0; j <= 40; j++)
		pop[j] = (float) (j % 5);
	nn_model_create(m, &cfg, NULL, NULL, NULL, model_seed, &nn_malloc_allocator, NULL);
	tc.batch_size = 8;
	tc.learning_rate = 1e-2f;
	tc.clip = 1.0f;
	tc.dropout = 0.3f;
	tc.loss = loss;
	tc.n_negatives = 7;
	tc.negatives_by_popularity = true;
	tc.item_popularity = pop;
	tc.lazy_adam = loss == NN_LOSS_SAMPLED;
	tc.seed = train_seed;
	tr = nn_trainer_create(m, &tc, &nn_malloc_allocator, NULL);
	for (s = 0; s < 6; s++)
	{
		make_batch(&tb, &cfg, 8, 6, 100 + s);
		nn_trainer_step(tr, &tb.b, &loss_sum, &npos, NULL);
		free_batch(&tb);
	}
	nn_trainer_free(tr);
	return loss_sum;
}

/* two equal runs are bit-identical, a third with another seed differs */
static void
check(const char *label, int32_t loss)
{
	nn_model	a,
				b,
				c,
				fresh;
	double		la = train(&a, 1, 2, loss),
				lb = train(&b, 1, 2, loss),
				lc = train(&c, 1, 3, loss);

	nn_model_create(&fresh, &a.cfg, NULL, NULL, NULL, 1, &nn_malloc_allocator, NULL);
	tap_ok(memcmp(a.params, fresh.params, sizeof(float) * a.n_params) != 0, "%s: training changed the weights", label);
	tap_ok(la == lb && memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0,
		   "%s: two runs give bit-identical weights and loss (%.17g)", label, la);
	tap_ok(memcmp(a.params, c.params, sizeof(float) * a.n_params) != 0 && la != lc,
		   "%s: another training seed gives other weights", label);
	nn_model_free(&a);
	nn_model_free(&b);
	nn_model_free(&c);
	nn_model_free(&fresh);
}

/* one BLAS thread, as the determinism contract says */
int
main(void)
{
	nn_model	a,
				b;
	nn_config	cfg = small_config(40, 5, 3, 4, 8, 12, 2, 6);

	nn_blas_set_threads(1);
	nn_model_create(&a, &cfg, NULL, NULL, NULL, 9, &nn_malloc_allocator, NULL);
	nn_model_create(&b, &cfg, NULL, NULL, NULL, 9, &nn_malloc_allocator, NULL);
	tap_ok(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0,
		   "same seed: identical initial weights");
	nn_model_free(&b);
	nn_model_create(&b, &cfg, NULL, NULL, NULL, 10, &nn_malloc_allocator, NULL);
	tap_ok(memcmp(a.params, b.params, sizeof(float) * a.n_params) != 0,
		   "another seed: other initial weights");
	nn_model_free(&a);
	nn_model_free(&b);
	check("full softmax, dropout", NN_LOSS_FULL);
	check("sampled softmax, dropout, lazy Adam", NN_LOSS_SAMPLED);
	return tap_done();
}
