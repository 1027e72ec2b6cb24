/*
 * train_data.c — reading the ratings (and item / user tags) through SPI
 * cursors in chunks into compact arrays, dense indexing, the holdout split
 * and the training windows.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include <math.h>

#include "animerec.h"
#include "train_data.h"

#define FETCH_ROWS 10000

/* qualified, quoted name of a relation */
char *
source_relation_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/* look a stored qualified relation name up again */
Oid
source_relation_oid(const char *qualified_name)
{
	List	   *names = stringToQualifiedNameList(qualified_name);

	return RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, false);
}

/*
 * Base type of column col of relation relid; undefined_column with a hint
 * naming the argument and listing the relation's columns when it is missing.
 */
static Oid
column_type(Oid relid, const char *col, const char *argname)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData cols;
	Oid			type = InvalidOid;
	int			i;

	initStringInfo(&cols);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (strcmp(NameStr(att->attname), col) == 0)
			type = getBaseType(att->atttypid);
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", quote_identifier(NameStr(att->attname)));
	}
	if (type == InvalidOid)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" does not exist in %s", col,
						source_relation_name(relid)),
				 errhint("Pass %s => the name of the column to use; the columns are: %s.",
						 argname, cols.data)));
	relation_close(rel, AccessShareLock);
	return type;
}

/* error unless col is an integer id column (smallint, int or bigint) */
static void
require_id_column(Oid relid, const char *col, const char *argname)
{
	Oid			t = column_type(relid, col, argname);

	if (t != INT2OID && t != INT4OID && t != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of %s has type %s, not an integer type", col,
						source_relation_name(relid), format_type_be(t)),
				 errhint("Ids must be int or bigint; pass %s => another column or cast it in a view.",
						 argname)));
}

/* error unless col holds tags (text[] or comma-separated text); true for an array */
static bool
require_tags_column(Oid relid, const char *col, const char *argname)
{
	Oid			t = column_type(relid, col, argname);

	if (t == TEXTARRAYOID || t == VARCHARARRAYOID)
		return true;
	if (t == TEXTOID || t == VARCHAROID)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of %s has type %s, not text[] or text", col,
					source_relation_name(relid), format_type_be(t)),
			 errhint("Tags must be text[] or comma-separated text; pass %s => another column.",
					 argname)));
	return false;
}

/* see train_data.h */
void
source_resolve(TrainSource *src, Oid ratings, Oid items, Oid user_tags)
{
	src->ratings_table = source_relation_name(ratings);
	require_id_column(ratings, src->user_col, "user_col");
	require_id_column(ratings, src->item_col, "item_col");
	if (src->rating_col)
	{
		Oid			t = column_type(ratings, src->rating_col, "rating_col");

		if (t != INT2OID && t != INT4OID && t != INT8OID && t != FLOAT4OID &&
			t != FLOAT8OID && t != NUMERICOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of %s has type %s, not a numeric type",
							src->rating_col, src->ratings_table, format_type_be(t)),
					 errhint("Pass rating_col => a numeric column, or NULL for none.")));
	}
	if (src->order_col)
		(void) column_type(ratings, src->order_col, "order_col");
	src->items_table = NULL;
	if (OidIsValid(items))
	{
		src->items_table = source_relation_name(items);
		require_id_column(items, src->item_key, "item_key");
		src->tags_is_array = require_tags_column(items, src->tags_col, "tags_col");
	}
	src->user_tags_table = NULL;
	if (OidIsValid(user_tags))
	{
		src->user_tags_table = source_relation_name(user_tags);
		require_id_column(user_tags, src->user_col, "user_col");
		src->utags_is_array = require_tags_column(user_tags, "tag", "user_tags (column \"tag\")");
	}
}

/* position of id in the ascending ids[0..n-1], -1 when absent */
static int32
find_pos(const int64 *ids, int32 n, int64 id)
{
	int32		lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * SQL expression of the tags of column col (text[] or comma-separated text)
 * as a text[] of trimmed, non-empty, distinct tags (src/text/tags.c)
 */
static char *
tags_array_expr(const char *col, bool is_array)
{
	return is_array ? psprintf("animerec.clean_tags(t.%s::text[])", quote_identifier(col))
		: psprintf("animerec.parse_tags(t.%s::text)", quote_identifier(col));
}

/* see train_data.h */
char *
data_user_tags_sql(const char *user_tags_table, const char *user_col, const char *cond)
{
	bool		is_array = require_tags_column(source_relation_oid(user_tags_table), "tag",
											   "user_tags (column \"tag\")");

	return psprintf("SELECT DISTINCT t.%s::int8, v.g::int4 FROM %s t"
					" CROSS JOIN LATERAL unnest(%s) x(tag)"
					" JOIN unnest($2::text[]) WITH ORDINALITY v(tag, g) ON v.tag = x.tag"
					" WHERE t.%s %s ORDER BY 1, 2",
					quote_identifier(user_col), user_tags_table,
					tags_array_expr("tag", is_array), quote_identifier(user_col), cond);
}

/* called for every row of a streamed query */
typedef void (*row_fn) (HeapTuple tup, TupleDesc desc, void *state);

/*
 * Run sql (nargs parameters) through an SPI cursor, FETCH_ROWS rows at a
 * time, calling fn on every row; never holds more than one chunk.
 */
static void
stream_query(const char *sql, int nargs, Oid *types, Datum *values, row_fn fn, void *state)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	for (;;)
	{
		uint64		r;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (r = 0; r < SPI_processed; r++)
			fn(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, state);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
}

/* text[] of the distinct trimmed non-empty tags of table.col, in "C" order */
static Datum
read_vocab(const char *table, const char *col, bool is_array, MemoryContext out)
{
	char	   *sql = psprintf("SELECT coalesce(array_agg(tag ORDER BY tag COLLATE \"C\"), '{}')"
							   " FROM (SELECT DISTINCT x AS tag FROM %s t,"
							   " unnest(%s) x) s",
							   table, tags_array_expr(col, is_array));
	bool		isnull;
	Datum		d;
	MemoryContext old;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the tags of %s", table);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	old = MemoryContextSwitchTo(out);
	d = PointerGetDatum(DatumGetArrayTypePCopy(d));
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return d;
}

/* state of read_tag_pairs's row callback */
typedef struct TagPairs
{
	const int64 *keys;			/* ascending keys, n_keys */
	int32		n_keys;
	int			lead;
	int32	   *count;			/* becomes ptr */
	int32	   *idx;
	int64		n_idx;
	int64		cap;
} TagPairs;

/* row callback: (key int8, tag int4) appended when key is known */
static void
tag_pair_row(HeapTuple tup, TupleDesc desc, void *state)
{
	TagPairs   *tp = state;
	bool		n1,
				n2;
	int64		key = DatumGetInt64(SPI_getbinval(tup, desc, 1, &n1));
	int32		g = DatumGetInt32(SPI_getbinval(tup, desc, 2, &n2));
	int32		pos = find_pos(tp->keys, tp->n_keys, key);

	if (pos < 0)
		return;
	if (tp->n_idx == tp->cap)
	{
		tp->cap *= 2;
		tp->idx = repalloc_huge(tp->idx, sizeof(int32) * tp->cap);
	}
	tp->idx[tp->n_idx++] = g;
	tp->count[pos + tp->lead + 1]++;
}

/*
 * Read (key, tag index) pairs of table (key column key_col, tags column
 * tag_col) into CSR arrays: the tags of keys[p] (ascending, n_keys) go to
 * idx[ptr[p + lead] .. ptr[p + lead + 1]); ptr has n_keys + lead + 1 entries
 * (lead leading empty slots, e.g. padding item 0).  Unknown keys are skipped.
 */
static void
read_tag_pairs(const char *table, const char *key_col, const char *tag_col, bool is_array,
			   Datum vocab, const int64 *keys, int32 n_keys, int lead,
			   int32 **ptr_out, int32 **idx_out)
{
	char	   *sql = psprintf("SELECT DISTINCT t.%s::int8, v.g::int4 FROM %s t"
							   " CROSS JOIN LATERAL unnest(%s) x(tag)"
							   " JOIN unnest($1::text[]) WITH ORDINALITY v(tag, g) ON v.tag = x.tag"
							   " WHERE t.%s IS NOT NULL ORDER BY 1, 2",
							   quote_identifier(key_col), table,
							   tags_array_expr(tag_col, is_array), quote_identifier(key_col));
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1] = {vocab};
	TagPairs	tp;
	int32		k;

	tp.keys = keys;
	tp.n_keys = n_keys;
	tp.lead = lead;
	tp.count = palloc0(sizeof(int32) * (n_keys + lead + 1));
	tp.cap = 1024;
	tp.idx = palloc(sizeof(int32) * tp.cap);
	tp.n_idx = 0;
	stream_query(sql, 1, argtypes, values, tag_pair_row, &tp);
	for (k = 0; k < n_keys + lead; k++)
		tp.count[k + 1] += tp.count[k];
	*ptr_out = tp.count;
	*idx_out = tp.idx;
}

/* hash entry: external item id -> provisional index */
typedef struct ItemEntry
{
	int64		id;
	int32		index;
} ItemEntry;

/* sort comparator on ItemEntry by id */
static int
cmp_item_entry(const void *a, const void *b)
{
	int64		x = ((const ItemEntry *) a)->id,
				y = ((const ItemEntry *) b)->id;

	return x < y ? -1 : x > y;
}

/* SQL of the ratings query: (user int8, item int8, rating float4), ordered */
static char *
ratings_sql(const TrainSource *src)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "SELECT t.%s::int8, t.%s::int8, ",
					 quote_identifier(src->user_col), quote_identifier(src->item_col));
	if (src->rating_col)
		appendStringInfo(&s, "t.%s::float4", quote_identifier(src->rating_col));
	else
		appendStringInfoString(&s, "NULL::float4");
	appendStringInfo(&s, " FROM %s t ORDER BY 1", src->ratings_table);
	if (src->order_col)
		appendStringInfo(&s, ", t.%s", quote_identifier(src->order_col));
	appendStringInfoString(&s, ", 2");
	return s.data;
}

/* state of read_ratings's row callback */
typedef struct RatingReader
{
	TrainData  *d;
	HTAB	   *hash;			/* external id -> provisional index, or NULL */
	const int64 *model_item_ids;	/* (N + 1) when mapping to a model's items */
	int32		model_n_items;
	int32		n_distinct;
	int64		cap;
	int32		user_cap;
} RatingReader;

/* row callback: (user int8, item int8, rating float4) appended to the arrays */
static void
rating_row(HeapTuple tup, TupleDesc desc, void *state)
{
	RatingReader *rr = state;
	TrainData  *d = rr->d;
	bool		nu,
				ni,
				nr;
	int64		user = DatumGetInt64(SPI_getbinval(tup, desc, 1, &nu));
	int64		item = DatumGetInt64(SPI_getbinval(tup, desc, 2, &ni));
	Datum		rd = SPI_getbinval(tup, desc, 3, &nr);
	float		rating = nr ? NAN : DatumGetFloat4(rd);
	int32		index;

	/* NaN and +-Infinity ratings count as missing, like NULL */
	if (!isfinite(rating))
	{
		rating = NAN;
		nr = true;
	}

	if (nu || ni)
	{
		d->n_null++;
		return;
	}
	if (d->n_users == 0 || user != d->user_ids[d->n_users - 1])
	{
		if (d->n_users == rr->user_cap)
		{
			rr->user_cap *= 2;
			d->user_ids = repalloc_huge(d->user_ids, sizeof(int64) * rr->user_cap);
			d->user_off = repalloc_huge(d->user_off, sizeof(int64) * (rr->user_cap + 1));
		}
		d->user_ids[d->n_users] = user;
		d->user_off[d->n_users] = d->n_rows;
		d->n_users++;
	}
	if (rr->model_item_ids)
		index = find_pos(rr->model_item_ids + 1, rr->model_n_items, item) + 1;
	else
	{
		bool		found;
		ItemEntry  *e = hash_search(rr->hash, &item, HASH_ENTER, &found);

		if (!found)
			e->index = ++rr->n_distinct;
		index = e->index;
	}
	if (d->n_rows == rr->cap)
	{
		rr->cap *= 2;
		d->items = repalloc_huge(d->items, sizeof(int32) * rr->cap);
		d->ratings = repalloc_huge(d->ratings, sizeof(float) * rr->cap);
	}
	d->items[d->n_rows] = index;
	d->ratings[d->n_rows] = rating;
	d->n_rows++;
	if (!nr)
	{
		d->rating_min = Min(d->rating_min, rating);
		d->rating_max = Max(d->rating_max, rating);
	}
}

/*
 * Stream the ratings into d (users, user_off, items as provisional or model
 * indices, raw ratings).  Without model ids, distinct items go into hash
 * (provisional index = order of first appearance, from 1).
 */
static void
read_ratings(const TrainSource *src, TrainData *d, HTAB *hash,
			 const int64 *model_item_ids, int32 model_n_items)
{
	RatingReader rr;

	rr.d = d;
	rr.hash = hash;
	rr.model_item_ids = model_item_ids;
	rr.model_n_items = model_n_items;
	rr.n_distinct = 0;
	rr.cap = 65536;
	rr.user_cap = 1024;
	d->items = palloc(sizeof(int32) * rr.cap);
	d->ratings = palloc(sizeof(float) * rr.cap);
	d->user_ids = palloc(sizeof(int64) * rr.user_cap);
	d->user_off = palloc(sizeof(int64) * (rr.user_cap + 1));
	d->n_rows = d->n_null = 0;
	d->n_users = 0;
	d->rating_min = INFINITY;
	d->rating_max = -INFINITY;
	stream_query(ratings_sql(src), 0, NULL, NULL, rating_row, &rr);
	d->user_off[d->n_users] = d->n_rows;
	if (d->rating_min > d->rating_max)
		d->rating_min = d->rating_max = 0;
}

/*
 * Turn provisional item indices (order of first appearance) into dense
 * indices by ascending external id; fills d->item_ids and d->n_items.
 */
static void
densify_items(TrainData *d, HTAB *hash)
{
	int32		n = hash_get_num_entries(hash);
	ItemEntry  *all = palloc(sizeof(ItemEntry) * Max(n, 1));
	int32	   *remap = palloc(sizeof(int32) * (n + 1));
	HASH_SEQ_STATUS seq;
	ItemEntry  *e;
	int32		i = 0;
	int64		r;

	hash_seq_init(&seq, hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		all[i++] = *e;
	qsort(all, n, sizeof(ItemEntry), cmp_item_entry);
	d->item_ids = palloc(sizeof(int64) * (n + 1));
	d->item_ids[0] = 0;
	for (i = 0; i < n; i++)
	{
		d->item_ids[i + 1] = all[i].id;
		remap[all[i].index] = i + 1;
	}
	for (r = 0; r < d->n_rows; r++)
		d->items[r] = remap[d->items[r]];
	d->n_items = n;
	pfree(all);
	pfree(remap);
}

/* see train_data.h */
void
data_read(const TrainSource *src, TrainData *d, const int64 *model_item_ids,
		  int32 model_n_items, Datum tag_vocab, Datum user_tag_vocab)
{
	MemoryContext out = CurrentMemoryContext;
	HTAB	   *hash = NULL;

	memset(d, 0, sizeof(*d));
	if (model_item_ids == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ItemEntry);
		ctl.hcxt = CurrentMemoryContext;
		hash = hash_create("animerec items", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	read_ratings(src, d, hash, model_item_ids, model_n_items);
	if (hash)
	{
		densify_items(d, hash);
		hash_destroy(hash);
	}
	else
	{
		d->n_items = model_n_items;
		d->item_ids = (int64 *) model_item_ids;
	}

	if (src->items_table)
	{
		d->tag_vocab = tag_vocab ? tag_vocab
			: read_vocab(src->items_table, src->tags_col, src->tags_is_array, out);
		d->n_tags = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d->tag_vocab)),
								   ARR_DIMS(DatumGetArrayTypeP(d->tag_vocab)));
		read_tag_pairs(src->items_table, src->item_key, src->tags_col, src->tags_is_array,
					   d->tag_vocab, d->item_ids + 1, d->n_items, 1,
					   &d->item_tag_ptr, &d->item_tag_idx);
	}
	if (src->user_tags_table)
	{
		d->user_tag_vocab = user_tag_vocab ? user_tag_vocab
			: read_vocab(src->user_tags_table, "tag", src->utags_is_array, out);
		d->n_user_tags = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d->user_tag_vocab)),
										ARR_DIMS(DatumGetArrayTypeP(d->user_tag_vocab)));
		read_tag_pairs(src->user_tags_table, src->user_col, "tag", src->utags_is_array,
					   d->user_tag_vocab, d->user_ids, d->n_users, 0,
					   &d->utag_ptr, &d->utag_idx);
	}
}

/* see train_data.h */
void
data_scale_ratings(TrainData *d, float lo, float hi)
{
	nn_config	cfg;
	int64		r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.rating_min = lo;
	cfg.rating_max = hi;
	for (r = 0; r < d->n_rows; r++)
		d->ratings[r] = nn_scale_rating(&cfg, d->ratings[r]);
}

/* see train_data.h */
bool
data_user_split(const TrainData *d, int32 u, bool holdout, int64 *train_end)
{
	int64		n = d->user_off[u + 1] - d->user_off[u];

	if (holdout && n >= 5)
	{
		*train_end = d->user_off[u + 1] - 2;
		return true;
	}
	*train_end = d->user_off[u + 1];
	return false;
}

/* see train_data.h */
TrainWindow *
data_windows(const TrainData *d, bool holdout, int32 maxlen, int64 *n_windows)
{
	TrainWindow *w = NULL;
	int			pass;
	int64		n = 0;

	/* pass 0 counts, pass 1 fills */
	for (pass = 0; pass < 2; pass++)
	{
		int32		u;

		n = 0;
		for (u = 0; u < d->n_users; u++)
		{
			int64		begin = d->user_off[u];
			int64		end;

			(void) data_user_split(d, u, holdout, &end);
			while (end - begin >= 2)
			{
				int64		start = Max(begin, end - (maxlen + 1));

				if (pass == 1)
				{
					w[n].start = start;
					w[n].len = (int32) (end - start);
					w[n].user = u;
				}
				n++;
				if (start == begin)
					break;
				end = start + 1;
			}
		}
		if (pass == 0)
			w = palloc_extended(sizeof(TrainWindow) * Max(n, 1), MCXT_ALLOC_HUGE);
	}
	*n_windows = n;
	return w;
}
