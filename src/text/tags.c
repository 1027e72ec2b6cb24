/*
 * tags.c — tag lists as text: "Action, Comedy,,action , Comedy" becomes the
 * tags Action, Comedy, action (split at the separator, ASCII whitespace
 * trimmed, empty pieces dropped, later duplicates dropped, byte-exact
 * comparison, order of first occurrence kept).
 */
#include <string.h>

#include "text/tags.h"

/* true for the ASCII whitespace trimmed from tags: space \t \n \v \f \r */
int
tag_is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Number of pieces s[0..len) splits into at sep[0..sep_len) (sep_len >= 1):
 * one more than the non-overlapping occurrences of sep, found left to right.
 * It bounds the tags tags_split adds.
 */
size_t
tags_count_pieces(const char *s, size_t len, const char *sep, size_t sep_len)
{
	size_t		n = 1;
	size_t		i = 0;

	while (i + sep_len <= len)
	{
		if (memcmp(s + i, sep, sep_len) == 0)
		{
			n++;
			i += sep_len;
		}
		else
			i++;
	}
	return n;
}

/* hash table size for up to max_tags tags: a power of two >= 2 * max_tags */
size_t
tag_set_slots(size_t max_tags)
{
	size_t		n = 2;

	while (n < 2 * max_tags)
		n *= 2;
	return n;
}

/*
 * An empty set over the caller's arrays: tags with room for every tag that
 * will be added, slots[n_slots] with n_slots from tag_set_slots.
 */
void
tag_set_init(tag_set *set, tag_span *tags, uint32_t *slots, size_t n_slots)
{
	set->tags = tags;
	set->n = 0;
	set->slots = slots;
	set->mask = n_slots - 1;
	memset(slots, 0, sizeof(uint32_t) * n_slots);
}

/* FNV-1a hash of p[0..len) */
static uint64_t
tag_hash(const char *p, size_t len)
{
	uint64_t	h = 14695981039346656037u;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) p[i];
		h *= 1099511628211u;
	}
	return h;
}

/*
 * Trim p[0..len) and add it to set unless it is empty or already there.
 * Returns 1 when it was added, 0 otherwise.
 */
int
tag_set_add(tag_set *set, const char *p, size_t len)
{
	size_t		slot;

	while (len > 0 && tag_is_space((unsigned char) p[0]))
	{
		p++;
		len--;
	}
	while (len > 0 && tag_is_space((unsigned char) p[len - 1]))
		len--;
	if (len == 0)
		return 0;

	for (slot = tag_hash(p, len) & set->mask; set->slots[slot] != 0; slot = (slot + 1) & set->mask)
	{
		const tag_span *t = &set->tags[set->slots[slot] - 1];

		if (t->len == len && memcmp(t->p, p, len) == 0)
			return 0;
	}
	set->tags[set->n].p = p;
	set->tags[set->n].len = len;
	set->n++;
	set->slots[slot] = (uint32_t) set->n;
	return 1;
}

/*
 * Split s[0..len) at sep[0..sep_len) (sep_len >= 1, occurrences found left
 * to right without overlap) and add every piece to set, which needs room for
 * tags_count_pieces(s, len, sep, sep_len) more tags.
 */
void
tags_split(tag_set *set, const char *s, size_t len, const char *sep, size_t sep_len)
{
	size_t		start = 0;
	size_t		i = 0;

	while (i + sep_len <= len)
	{
		if (memcmp(s + i, sep, sep_len) == 0)
		{
			tag_set_add(set, s + start, i - start);
			i += sep_len;
			start = i;
		}
		else
			i++;
	}
	tag_set_add(set, s + start, len - start);
}
