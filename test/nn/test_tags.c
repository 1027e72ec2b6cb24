/*
 * test_tags.c — tag lists (src/text/tags.c): splitting at one- and
 * multi-byte separators, trimming, dropping empty and repeated tags in order
 * of first occurrence, and a list large enough to fill the hash table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tags.h"
#include "tap.h"

/* the tags of s split at sep, joined by '/' into buf (size cap); returns the count */
static size_t
split_joined(const char *s, const char *sep, char *buf, size_t cap)
{
	size_t		len = strlen(s);
	size_t		max = tags_count_pieces(s, len, sep, strlen(sep));
	size_t		n_slots = tag_set_slots(max);
	tag_span   *tags = malloc(sizeof(tag_span) * max);
	uint32_t   *slots = malloc(sizeof(uint32_t) * n_slots);
	tag_set		set;
	size_t		i,
				n = 0;

	tag_set_init(&set, tags, slots, n_slots);
	tags_split(&set, s, len, sep, strlen(sep));
	buf[0] = '\0';
	for (i = 0; i < set.n; i++)
		n += (size_t) snprintf(buf + n, cap - n, "%s%.*s", i ? "/" : "", (int) tags[i].len, tags[i].p);
	free(tags);
	free(slots);
	return set.n;
}

/* s with control characters written as \xNN, in buf (size cap), for a test name */
static const char *
printable(const char *s, char *buf, size_t cap)
{
	size_t		n = 0;

	for (; *s && n + 5 < cap; s++)
		n += (size_t) snprintf(buf + n, cap - n, (unsigned char) *s < 0x20 ? "\\x%02x" : "%c",
							   (unsigned char) *s);
	buf[n] = '\0';
	return buf;
}

/* check that s split at sep gives the tags want ('/'-joined) */
static void
check_split(const char *s, const char *sep, const char *want, size_t want_n)
{
	char		buf[256],
				label[256];
	size_t		n = split_joined(s, sep, buf, sizeof(buf));

	tap_ok(n == want_n && strcmp(buf, want) == 0, "\"%s\" at \"%s\" gives %zu tags \"%s\" (got %zu \"%s\")",
		   printable(s, label, sizeof(label)), sep, want_n, want, n, buf);
}

int
main(void)
{
	size_t		big_cap = 600000;
	char	   *big = malloc(big_cap);
	size_t		len = 0;
	size_t		n_slots;
	tag_span   *tags;
	uint32_t   *slots;
	tag_set		set;
	int			i,
				ordered = 1;

	check_split("Action, Comedy,,action , Comedy", ",", "Action/Comedy/action", 3);
	check_split("Slice of Life,  Drama\t", ",", "Slice of Life/Drama", 2);
	check_split(" \t\n\v\f\r x \r\n", ",", "x", 1);
	check_split("", ",", "", 0);
	check_split(" , ,\t,", ",", "", 0);
	check_split("a,b,a,c,b", ",", "a/b/c", 3);
	check_split("Sci-Fi|Drama|(no genres listed)", "|", "Sci-Fi/Drama/(no genres listed)", 3);
	check_split("a|||b", "||", "a/|b", 2);
	check_split("a :: b ::c", "::", "a/b/c", 3);
	check_split("ab", "abc", "ab", 1);
	check_split("abc", "abc", "", 0);
	check_split("x,\xc3\xa9t\xc3\xa9 ,x", ",", "x/\xc3\xa9t\xc3\xa9", 2);
	check_split("\xc2\xa0" "a", ",", "\xc2\xa0" "a", 1);

	tap_ok(tags_count_pieces("", 0, ",", 1) == 1, "the empty text is one piece");
	tap_ok(tags_count_pieces("a,,b,", 5, ",", 1) == 4, "\"a,,b,\" is 4 pieces");
	tap_ok(tags_count_pieces("aaaa", 4, "aa", 2) == 3, "\"aaaa\" at \"aa\" is 3 pieces (no overlap)");
	tap_ok(tag_set_slots(0) == 2 && tag_set_slots(3) == 8 && tag_set_slots(4) == 8 && tag_set_slots(5) == 16,
		   "hash table sizes are powers of two >= 2 * tags");

	/* NUL bytes are ordinary bytes: "a\0b" and "a\0c" differ, "a\0b" repeats */
	n_slots = tag_set_slots(3);
	tags = malloc(sizeof(tag_span) * 3);
	slots = malloc(sizeof(uint32_t) * n_slots);
	tag_set_init(&set, tags, slots, n_slots);
	tap_ok(tag_set_add(&set, "a\0b", 3) == 1 && tag_set_add(&set, "a\0c", 3) == 1 &&
		   tag_set_add(&set, " a\0b\t", 5) == 0 && set.n == 2,
		   "tags are compared by their bytes, NUL included");
	free(tags);
	free(slots);

	/* 20000 distinct tags, each given twice: the table holds them all, in order */
	for (i = 0; i < 40000; i++)
		len += (size_t) snprintf(big + len, big_cap - len, "%s tag%d ", i ? "," : "", i % 20000);
	n_slots = tag_set_slots(40000);
	tags = malloc(sizeof(tag_span) * 40000);
	slots = malloc(sizeof(uint32_t) * n_slots);
	tag_set_init(&set, tags, slots, n_slots);
	tags_split(&set, big, len, ",", 1);
	for (i = 0; i < 20000 && (size_t) i < set.n; i++)
	{
		char		want[16];
		int			wl = snprintf(want, sizeof(want), "tag%d", i);

		ordered &= tags[i].len == (size_t) wl && memcmp(tags[i].p, want, (size_t) wl) == 0;
	}
	tap_ok(set.n == 20000 && ordered, "40000 tags with repeats give the 20000 distinct ones in order (got %zu)", set.n);
	free(tags);
	free(slots);
	free(big);
	return tap_done();
}
