/*
 * registry.h — read access to the model registry (animerec.models), shared by
 * training (src/train.c) and serving.
 *
 * Both functions run their own SPI connection (nesting inside a caller's SPI
 * connection is fine) with the caller's privileges, and return memory
 * allocated in the caller's CurrentMemoryContext.
 */
#ifndef ANIMEREC_REGISTRY_H
#define ANIMEREC_REGISTRY_H

#include "postgres.h"

/* The active version of a model name, as stored in animerec.models. */
typedef struct RegistryModel
{
	char	   *name;
	int32		version;
	char	   *ratings_table;	/* qualified, quoted relation name (usable in SQL) */
	char	   *user_col;		/* column names, unquoted (quote_identifier them) */
	char	   *item_col;
	char	   *rating_col;		/* NULL: no rating column */
	char	   *order_col;		/* NULL: no order column (item id order) */
	char	   *items_table;	/* NULL: no item metadata */
	char	   *item_key;
	char	   *tags_col;
	char	   *user_tags_table;	/* NULL: no user tags */
	void	   *weights;		/* NULL unless with_weights: the nn weight blob, */
	size_t		weights_len;	/* 64-byte aligned, ready for nn_weights_view() */
} RegistryModel;

/*
 * The model name a function should use (DESIGN §4).  A non-NULL argument must
 * name an existing model; NULL means the GUC animerec.model, or, when that is
 * unset, the only model name there is.  Otherwise ereport(ERROR) with
 * ERRCODE_UNDEFINED_OBJECT and a hint listing the model names.  Returns a
 * palloc'd copy.
 */
extern char *registry_resolve_name(text *model_or_null);

/*
 * Fill *out with the active version of model name; with_weights also copies
 * the weights bytea (64-byte aligned).  Returns false when the name has no
 * active version (out is then untouched).
 */
extern bool registry_fetch_active(const char *name, RegistryModel *out, bool with_weights);

#endif
