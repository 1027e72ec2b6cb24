/*
 * serving.c — the tables inference derives from a model's weights, which a
 * server builds once per loaded model and every call then reads: the item
 * output table packed for the scores' product, every layer's weights
 * packed for the LSTM's products, and the length of each item's row (for
 * similar_items).  One buffer holds them, one after the other, so that a
 * server can place them in shared memory as a block.
 */
#include "nn_internal.h"

/*
 * floats of the tables of model m: the score table, the packed layers (both
 * whole pairs of panels, so the layers start 64-byte aligned when the buffer
 * is), then the items' row lengths (N)
 */
size_t
nn_serving_floats(const nn_model *m)
{
	return nn_score_table_floats(m) + nn_packed_layers_floats(m) + (size_t) m->cfg.n_items;
}

/* *s = where the tables of model m lie in buf (nn_serving_floats(m) floats), nothing computed */
void
nn_serving_locate(const nn_model *m, const float *buf, nn_serving *s)
{
	s->score_table = buf;
	s->packed = buf + nn_score_table_floats(m);
	s->item_norms = s->packed + nn_packed_layers_floats(m);
}

/*
 * Compute the tables of model m into buf (nn_serving_floats(m) floats) and
 * locate them in *s.  The layers' part, larger than a row of D floats
 * (layer 0 alone has 4H (2D + 1 + H) floats), is the score table's
 * workspace before the layers are packed into it.
 */
void
nn_serving_build(const nn_model *m, float *buf, nn_serving *s)
{
	float	   *layers = buf + nn_score_table_floats(m);

	nn_pack_score_table(m, buf, layers);
	nn_pack_layers(m, layers);
	nn_item_norms(m, buf, layers + nn_packed_layers_floats(m));
	nn_serving_locate(m, buf, s);
}
