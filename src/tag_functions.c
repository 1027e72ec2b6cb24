/*
 * tag_functions.c — animerec.parse_tags(text, separator) and animerec.clean_tags(text[]):
 * tag lists as the loaders store them and training reads them (trimmed,
 * non-empty, distinct, in order of first occurrence).  The parsing itself is
 * src/text/tags.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "text/tags.h"

/* an empty set with room for max_tags tags, in CurrentMemoryContext */
static void
tag_set_alloc(tag_set *set, size_t max_tags)
{
	size_t		n_slots = tag_set_slots(max_tags);

	tag_set_init(set,
				 MemoryContextAllocHuge(CurrentMemoryContext, sizeof(tag_span) * max_tags),
				 MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * n_slots),
				 n_slots);
}

/* the tags of set as a text[] (empty array for none) */
static Datum
tag_set_array(const tag_set *set)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(set->n, 1));
	size_t		i;

	for (i = 0; i < set->n; i++)
		elems[i] = PointerGetDatum(cstring_to_text_with_len(set->tags[i].p, (int) set->tags[i].len));
	return PointerGetDatum(construct_array(elems, (int) set->n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(animerec_parse_tags);

/*
 * parse_tags(tags text, separator text) -> text[]
 * Splits tags at every separator, trims ASCII whitespace, drops empty tags
 * and repeated ones.
 */
Datum
animerec_parse_tags(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	text	   *sep = PG_GETARG_TEXT_PP(1);
	const char *s = VARDATA_ANY(in);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	size_t		sep_len = VARSIZE_ANY_EXHDR(sep);
	tag_set		set;

	if (sep_len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("separator must not be empty"),
				 errhint("Pass the text between two tags, such as ',' or '|'.")));
	tag_set_alloc(&set, tags_count_pieces(s, len, VARDATA_ANY(sep), sep_len));
	tags_split(&set, s, len, VARDATA_ANY(sep), sep_len);
	PG_RETURN_DATUM(tag_set_array(&set));
}

PG_FUNCTION_INFO_V1(animerec_clean_tags);

/*
 * clean_tags(tags text[]) -> text[]
 * The elements of the array (of any dimensions, in storage order) trimmed
 * of ASCII whitespace, without NULLs, empty tags and repeated ones.
 */
Datum
animerec_clean_tags(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	tag_set		set;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	tag_set_alloc(&set, (size_t) n);
	for (i = 0; i < n; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		tag_set_add(&set, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	PG_RETURN_DATUM(tag_set_array(&set));
}
