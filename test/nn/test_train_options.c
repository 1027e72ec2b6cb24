/*
 * test_train_options.c — train()'s option rules (src/text/train_options.c): model names,
 * loss names and the bounds of every hyperparameter, NaN and infinities
 * included.
 */
#include <math.h>
#include <string.h>

#include "nn/nn.h"
#include "text/train_options.h"
#include "tap.h"

int
main(void)
{
	static const char *good[] = {"a", "model_1", "_x", "anime_lstm2", "z_9_"};
	static const char *bad[] = {"", "1a", "Bad", "a-b", "a b", "caf\xc3\xa9", "a;drop", "\"q\""};
	char		name[70];
	size_t		i;
	int			p;
	int			bounds_ok = 1;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		tap_ok(opt_model_name_ok(good[i], strlen(good[i])), "\"%s\" is a model name", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_ok(!opt_model_name_ok(bad[i], strlen(bad[i])), "\"%s\" is not a model name", bad[i]);
	memset(name, 'a', sizeof(name));
	tap_ok(opt_model_name_ok(name, 63) && !opt_model_name_ok(name, 64), "names have at most 63 bytes");
	tap_ok(!opt_model_name_ok("ab\0c", 4), "a NUL byte is not part of a name");

	tap_ok(opt_loss("full", 4) == NN_LOSS_FULL && opt_loss("sampled", 7) == NN_LOSS_SAMPLED,
		   "'full' and 'sampled' are the losses");
	tap_ok(opt_loss("Full", 4) < 0 && opt_loss("full ", 5) < 0 && opt_loss("", 0) < 0 &&
		   opt_loss("sample", 6) < 0 && opt_loss("fullx", 5) < 0 && opt_loss("full", 3) < 0,
		   "no other spelling is a loss");
	tap_ok(opt_loss_is_auto("auto", 4) && !opt_loss_is_auto("Auto", 4) && !opt_loss_is_auto("auto", 3) &&
		   !opt_loss_is_auto("full", 4) && opt_loss("auto", 4) < 0,
		   "'auto' is the automatic choice, not a loss of the trainer");
	/* the data sets of docs/training.md: ml-latest-small, anime caserec-5k, the seed's scale */
	tap_ok(opt_auto_loss(64, 9724, 98000) == NN_LOSS_FULL && opt_auto_loss(64, 7157, 405000) == NN_LOSS_FULL,
		   "'auto' keeps the full softmax on ml-latest-small and anime caserec-5k");
	tap_ok(opt_auto_loss(64, 12000, 7.5e6) == NN_LOSS_SAMPLED,
		   "'auto' takes the sampled softmax at the seed's scale (12,000 items, 7.5M positions)");
	tap_ok(opt_full_output_flop(64, 12000, 7.5e6) == 6.0 * 64 * 12000 * 7.5e6 &&
		   opt_auto_loss(1, 1e6, OPT_AUTO_SAMPLED_FLOP / 6e6) == NN_LOSS_FULL &&
		   opt_auto_loss(1, 1e6, OPT_AUTO_SAMPLED_FLOP / 6e6 * 1.001) == NN_LOSS_SAMPLED,
		   "the switch is at 6 D N positions = OPT_AUTO_SAMPLED_FLOP");

	for (p = 0; p < OPT_N_PARAMS; p++)
	{
		const opt_bound *b = &opt_bounds[p];

		bounds_ok &= b->arg != NULL && b->lo < b->hi;
		bounds_ok &= opt_in_bounds(p, b->hi) && !opt_in_bounds(p, nextafter(b->hi, INFINITY));
		bounds_ok &= opt_in_bounds(p, b->lo) == !b->open_lo;
		bounds_ok &= opt_in_bounds(p, nextafter(b->lo, INFINITY)) && !opt_in_bounds(p, nextafter(b->lo, -INFINITY));
		bounds_ok &= !opt_in_bounds(p, NAN) && !opt_in_bounds(p, INFINITY) && !opt_in_bounds(p, -INFINITY);
		bounds_ok &= !b->integer || (b->lo == floor(b->lo) && b->hi == floor(b->hi));
	}
	tap_ok(bounds_ok, "every hyperparameter takes its bounds (lo excluded when open), nothing beyond, no NaN or infinity");
	tap_ok(opt_in_bounds(OPT_DIM, 4096) && !opt_in_bounds(OPT_DIM, 4097) && !opt_in_bounds(OPT_DIM, 0),
		   "dim is 1..4096");
	tap_ok(opt_in_bounds(OPT_LAYERS, NN_MAX_LAYERS) && !opt_in_bounds(OPT_LAYERS, NN_MAX_LAYERS + 1),
		   "layers is at most NN_MAX_LAYERS");
	tap_ok(!opt_in_bounds(OPT_LEARNING_RATE, 0) && opt_in_bounds(OPT_LEARNING_RATE, 1e-300),
		   "learning_rate must be above 0");
	tap_ok(opt_in_bounds(OPT_PATIENCE, 0) && opt_in_bounds(OPT_CLIP, 0) && opt_in_bounds(OPT_EMA_DECAY, 0),
		   "patience, clip and ema_decay may be 0");
	tap_ok(!opt_in_bounds(OPT_DROPOUT, 0.96) && !opt_in_bounds(OPT_EMA_DECAY, 1),
		   "dropout is below 0.96 and ema_decay below 1");
	return tap_done();
}
