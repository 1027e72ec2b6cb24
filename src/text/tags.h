/*
 * tags.h — parsing tag lists: split comma-separated (or other) text, trim,
 * drop empty tags and duplicates.  Plain C, no PostgreSQL headers: the SQL
 * functions parse_tags() and clean_tags() (src/tag_functions.c) call it, and the
 * fuzzer test/fuzz/fuzz_tags.c drives it directly.
 */
#ifndef ANIMEREC_TEXT_TAGS_H
#define ANIMEREC_TEXT_TAGS_H

#include <stddef.h>
#include <stdint.h>

/* one tag: the bytes p[0..len) of the caller's text (not NUL-terminated) */
typedef struct tag_span
{
	const char *p;
	size_t		len;
} tag_span;

/*
 * The distinct tags added so far, in the order of their first addition, and
 * an open-addressing hash table over them.  All storage is the caller's.
 */
typedef struct tag_set
{
	tag_span   *tags;			/* room for as many tags as will be added */
	size_t		n;				/* distinct tags so far */
	uint32_t   *slots;			/* n_slots entries: 1 + index into tags, 0 for empty */
	size_t		mask;			/* n_slots - 1 */
} tag_set;

extern size_t tags_count_pieces(const char *s, size_t len, const char *sep, size_t sep_len);
extern size_t tag_set_slots(size_t max_tags);
extern void tag_set_init(tag_set *set, tag_span *tags, uint32_t *slots, size_t n_slots);
extern int	tag_set_add(tag_set *set, const char *p, size_t len);
extern void tags_split(tag_set *set, const char *s, size_t len, const char *sep, size_t sep_len);
extern int	tag_is_space(unsigned char c);

#endif
