/*
 * train_options.h — the rules for train()'s text and numeric options: model names,
 * the loss name and the bounds of the hyperparameters.  Plain C, no
 * PostgreSQL headers: src/train_procedure.c reports what they reject, and the fuzzer
 * test/fuzz/fuzz_train_options.c drives them directly.
 */
#ifndef ANIMEREC_TEXT_TRAIN_OPTIONS_H
#define ANIMEREC_TEXT_TRAIN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* the longest model name (PostgreSQL's NAMEDATALEN - 1) */
#define OPT_MAX_NAME_LEN 63

/* the bounded hyperparameters of train(), indexes into opt_bounds */
typedef enum opt_param
{
	OPT_DIM, OPT_HIDDEN, OPT_LAYERS, OPT_MAXLEN, OPT_BATCH_SIZE, OPT_LEARNING_RATE,
	OPT_CLIP, OPT_DROPOUT, OPT_EPOCHS, OPT_PATIENCE, OPT_NEGATIVES, OPT_EMA_DECAY,
	OPT_N_PARAMS
} opt_param;

/* the allowed values of one hyperparameter: lo <= v <= hi, v > lo when open_lo */
typedef struct opt_bound
{
	const char *arg;			/* the argument name of train() */
	double		lo;
	double		hi;
	bool		open_lo;
	bool		integer;		/* an int argument (messages say "between") */
} opt_bound;

extern const opt_bound opt_bounds[OPT_N_PARAMS];

extern bool opt_model_name_ok(const char *s, size_t len);
extern int	opt_loss(const char *s, size_t len);
extern bool opt_in_bounds(opt_param which, double v);

/*
 * loss => 'auto' picks the sampled softmax when the full softmax's output
 * layer would do more than this many FLOP an epoch (6 D N per predicted
 * position: the logits and their two gradient products), else the full one
 */
#define OPT_AUTO_SAMPLED_FLOP 1e13

extern bool opt_loss_is_auto(const char *s, size_t len);
extern double opt_full_output_flop(double dim, double n_items, double positions);
extern int	opt_auto_loss(double dim, double n_items, double positions);

#endif
