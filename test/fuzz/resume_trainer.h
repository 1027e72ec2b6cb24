/*
 * resume_trainer.h — the small model and trainer whose training states the
 * resume fuzz target reads (fuzz_resume.c) and the seed corpus writes
 * (seed_corpus.c): both must agree on the configuration.
 */
#ifndef ANIMEREC_RESUME_TRAINER_H
#define ANIMEREC_RESUME_TRAINER_H

#include <stdio.h>
#include <stdlib.h>

#include "nn/nn.h"

/* create m (5 items, 2 tags, one user tag, D 3, H 4, 2 layers) and its trainer */
static inline nn_trainer *
resume_trainer(nn_model *m)
{
	const nn_config cfg = {.n_items = 5, .n_tags = 2, .n_user_tags = 1, .dim = 3, .hidden = 4,
	.layers = 2, .maxlen = 4, .rating_min = 1.0f, .rating_max = 5.0f};
	nn_train_config tc = {0};
	nn_trainer *t;
	nn_error	err;

	tc.batch_size = 2;
	tc.learning_rate = 0.01f;
	tc.dropout = 0.2f;
	tc.seed = 3;
	if (nn_model_create(m, &cfg, NULL, NULL, NULL, 1, &nn_malloc_allocator, &err) != NN_OK ||
		(t = nn_trainer_create(m, &tc, &nn_malloc_allocator, &err)) == NULL)
	{
		fprintf(stderr, "resume_trainer: %s\n", err.msg);
		exit(1);
	}
	return t;
}

#endif
