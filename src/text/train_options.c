/*
 * train_options.c — what train() accepts: model names of 1 to 63 lower-case
 * letters, digits and underscores not starting with a digit, the losses
 * 'full', 'sampled' and 'auto' (and what 'auto' picks), and the
 * hyperparameter bounds of opt_bounds.
 */
#include <string.h>

#include "nn/nn.h"
#include "text/train_options.h"

const opt_bound opt_bounds[OPT_N_PARAMS] = {
	[OPT_DIM] = {"dim", 1, 4096, false, true},
	[OPT_HIDDEN] = {"hidden", 1, 8192, false, true},
	[OPT_LAYERS] = {"layers", 1, NN_MAX_LAYERS, false, true},
	[OPT_MAXLEN] = {"maxlen", 1, 10000, false, true},
	[OPT_BATCH_SIZE] = {"batch_size", 1, 65536, false, true},
	[OPT_LEARNING_RATE] = {"learning_rate", 0, 10, true, false},
	[OPT_CLIP] = {"clip", 0, 1e6, false, false},
	[OPT_DROPOUT] = {"dropout", 0, 0.95, false, false},
	[OPT_EPOCHS] = {"epochs", 1, 100000, false, true},
	[OPT_PATIENCE] = {"patience", 0, 100000, false, true},
	[OPT_NEGATIVES] = {"negatives", 1, 1000000, false, true},
	[OPT_EMA_DECAY] = {"ema_decay", 0, 0.9999, false, false},
};

/* true when s[0..len) is a valid model name */
bool
opt_model_name_ok(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > OPT_MAX_NAME_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
			  (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* NN_LOSS_FULL or NN_LOSS_SAMPLED for the loss name s[0..len); -1 for anything else */
int
opt_loss(const char *s, size_t len)
{
	if (len == 4 && memcmp(s, "full", 4) == 0)
		return NN_LOSS_FULL;
	if (len == 7 && memcmp(s, "sampled", 7) == 0)
		return NN_LOSS_SAMPLED;
	return -1;
}

/* true when s[0..len) is the loss name 'auto' */
bool
opt_loss_is_auto(const char *s, size_t len)
{
	return len == 4 && memcmp(s, "auto", 4) == 0;
}

/*
 * FLOP of the full softmax's output layer in an epoch of positions predicted
 * positions over n_items items with embeddings of dim: 2 D N for the logits,
 * 4 D N for the gradients of the user vectors and of the item table
 */
double
opt_full_output_flop(double dim, double n_items, double positions)
{
	return 6.0 * dim * n_items * positions;
}

/*
 * What loss => 'auto' picks for an epoch of positions predicted positions
 * over n_items items at embedding size dim: NN_LOSS_SAMPLED when the full
 * softmax's output layer would exceed OPT_AUTO_SAMPLED_FLOP, else NN_LOSS_FULL
 */
int
opt_auto_loss(double dim, double n_items, double positions)
{
	return opt_full_output_flop(dim, n_items, positions) > OPT_AUTO_SAMPLED_FLOP
		? NN_LOSS_SAMPLED : NN_LOSS_FULL;
}

/* true when v is an allowed value of the hyperparameter which (never for NaN) */
bool
opt_in_bounds(opt_param which, double v)
{
	const opt_bound *b = &opt_bounds[which];

	return v >= b->lo && v <= b->hi && !(b->open_lo && v == b->lo);
}
