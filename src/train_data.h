/*
 * train_data.h — reading a ratings relation (and optional item tags and user
 * tags) through SPI into compact arrays, the holdout split and training windows.
 */
#ifndef ANIMEREC_TRAIN_DATA_H
#define ANIMEREC_TRAIN_DATA_H

#include "postgres.h"

/* Where the data comes from: relations and columns, checked by source_resolve. */
typedef struct TrainSource
{
	char	   *ratings_table;	/* qualified, quoted relation name */
	char	   *user_col;		/* unquoted column names */
	char	   *item_col;
	char	   *rating_col;		/* NULL: no ratings */
	char	   *order_col;		/* NULL: item id order */
	char	   *items_table;	/* NULL: no item tags */
	char	   *item_key;
	char	   *tags_col;
	bool		tags_is_array;	/* text[] (else comma-separated text) */
	char	   *user_tags_table;	/* NULL: no user tags; columns user_col and "tag" */
	bool		utags_is_array;
} TrainSource;

/*
 * The ratings, grouped by user (users ascending by external id) and ordered by
 * the order column, then item id.  8 bytes a rating (items, ratings) plus
 * 16 bytes a user.
 */
typedef struct TrainData
{
	int64		n_rows;			/* ratings kept */
	int64		n_null;			/* rows skipped for a NULL user or item id */
	int32		n_users;
	int64	   *user_ids;		/* (n_users) external ids, ascending */
	int64	   *user_off;		/* (n_users + 1) row offsets of each user */
	int32	   *items;			/* (n_rows) dense item index; 0 = not in the model */
	float	   *ratings;		/* (n_rows) raw rating (NaN: NULL), scaled by data_scale_ratings */
	int32		n_items;		/* N: distinct item ids seen in the ratings */
	int64	   *item_ids;		/* (N + 1) external ids ascending, [0] = 0 */
	float		rating_min;		/* range of the non-NULL ratings (0, 0 when none) */
	float		rating_max;
	int32		n_tags;			/* G: item tag vocabulary size (0: none) */
	int32	   *item_tag_ptr;	/* (N + 2) CSR offsets into item_tag_idx */
	int32	   *item_tag_idx;	/* tags 1..G */
	Datum		tag_vocab;		/* text[]: tag g is element g; (Datum) 0 when none */
	int32		n_user_tags;	/* user tag vocabulary size (0: none) */
	int32	   *utag_ptr;		/* (n_users + 1) CSR offsets into utag_idx */
	int32	   *utag_idx;		/* user tags 1..n_user_tags */
	Datum		user_tag_vocab; /* text[]; (Datum) 0 when none */
} TrainData;

/* A window of a user's sequence fed to the LSTM: rows [start, start + len). */
typedef struct TrainWindow
{
	int64		start;
	int32		len;			/* 2 .. maxlen + 1 */
	int32		user;			/* user index */
} TrainWindow;

/* check the relations and columns of src (errors with hints); fills the type flags */
extern void source_resolve(TrainSource *src, Oid ratings, Oid items, Oid user_tags);

/* qualified, quoted name of a relation */
extern char *source_relation_name(Oid relid);

/*
 * SQL reading the dense user tags of the users matching "user_col <cond>"
 * (cond uses $1) from a user_tags table, tag g being element g of the
 * vocabulary $2 (text[]), parsed as training parses them: rows (user int8,
 * tag int4) ordered by user and tag.  Checks the "tag" column's type.
 */
extern char *data_user_tags_sql(const char *user_tags_table, const char *user_col,
								const char *cond);
/* look a stored relation name up again (for evaluate and resume) */
extern Oid	source_relation_oid(const char *qualified_name);

/*
 * Read the ratings of src (inside an SPI connection; arrays in
 * CurrentMemoryContext).  With model_item_ids (N + 1, ascending) the items are
 * mapped to that catalogue (unknown ids -> 0); otherwise the catalogue is the
 * distinct item ids read.  Vocabularies given (tag_vocab / user_tag_vocab not
 * 0) are reused; otherwise they are built from the tables.
 */
extern void data_read(const TrainSource *src, TrainData *d,
					  const int64 *model_item_ids, int32 model_n_items,
					  Datum tag_vocab, Datum user_tag_vocab);

/* replace raw ratings by nn_scale_rating values of the range [lo, hi] */
extern void data_scale_ratings(TrainData *d, float lo, float hi);

/*
 * Holdout split of user u: users with at least 5 rows hold out their last row
 * (test) and the one before (validation).  Sets *train_end to the end of the
 * training rows; returns false for users without held-out rows.
 */
extern bool data_user_split(const TrainData *d, int32 u, bool holdout, int64 *train_end);

/*
 * Cut every user's training rows into windows of at most maxlen + 1 items,
 * from the end, consecutive windows sharing one item.  Returns the windows
 * (palloc'd) and their count in *n_windows.
 */
extern TrainWindow *data_windows(const TrainData *d, bool holdout, int32 maxlen,
								 int64 *n_windows);

#endif
