/*
 * fuzz_tags.c — libFuzzer target for the tag-list parser (src/text/tags.c),
 * built by `make fuzz-tags`.
 *
 * The first input byte picks the mode:
 *   - bit 7 clear: parse_tags.  Bits 0-1 give a separator of 1 + (b % 3)
 *     bytes taken from the next bytes; the rest is the text, split by
 *     tags_split.
 *   - bit 7 set: clean_tags.  The rest, cut at 0xFF bytes, gives the array
 *     elements, each added with tag_set_add.
 *
 * The text sits in an exactly-sized allocation, so AddressSanitizer sees any
 * read outside it.  The oracles: every tag lies inside the text, is
 * non-empty, has no whitespace at either end and contains no separator; no
 * two tags are equal; the tags are those of a plain reference
 * implementation (memmem split, trim, quadratic de-duplication), in the
 * same order; and for a one-byte separator, splitting the tags joined by the
 * separator gives them back.
 */
#define _GNU_SOURCE				/* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tags.h"

/* stop the fuzzer with a message: an oracle failed */
static void
fuzz_fail(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_tags: %s (tag %zu)\n", what, i);
	abort();
}

/* a set over fresh arrays with room for max tags (free with set_free) */
static void
set_alloc(tag_set *set, size_t max)
{
	size_t		n_slots = tag_set_slots(max);

	tag_set_init(set, malloc(sizeof(tag_span) * (max ? max : 1)), malloc(sizeof(uint32_t) * n_slots),
				 n_slots);
}

/* free the arrays of set_alloc */
static void
set_free(tag_set *set)
{
	free(set->tags);
	free(set->slots);
}

/* the reference: append the trimmed piece p[0..len) to ref unless empty or already there */
static void
ref_add(tag_span *ref, size_t *n, const char *p, size_t len)
{
	size_t		i;

	while (len > 0 && strchr(" \t\n\v\f\r", p[0]) != NULL && p[0] != '\0')
		p++, len--;
	while (len > 0 && strchr(" \t\n\v\f\r", p[len - 1]) != NULL && p[len - 1] != '\0')
		len--;
	if (len == 0)
		return;
	for (i = 0; i < *n; i++)
		if (ref[i].len == len && memcmp(ref[i].p, p, len) == 0)
			return;
	ref[*n].p = p;
	ref[*n].len = len;
	(*n)++;
}

/* the structural oracles over the tags of set, cut from text[0..len) */
static void
check_tags(const tag_set *set, const char *text, size_t len, const char *sep, size_t sep_len)
{
	size_t		i,
				j;

	for (i = 0; i < set->n; i++)
	{
		const tag_span *t = &set->tags[i];

		if (t->len == 0)
			fuzz_fail("empty tag", i);
		if (t->p < text || t->len > len || t->p > text + (len - t->len))
			fuzz_fail("tag outside the text", i);
		if (tag_is_space((unsigned char) t->p[0]) || tag_is_space((unsigned char) t->p[t->len - 1]))
			fuzz_fail("tag not trimmed", i);
		if (sep_len > 0 && memmem(t->p, t->len, sep, sep_len) != NULL)
			fuzz_fail("tag contains the separator", i);
		for (j = 0; j < i; j++)
			if (set->tags[j].len == t->len && memcmp(set->tags[j].p, t->p, t->len) == 0)
				fuzz_fail("repeated tag", i);
	}
}

/* the tags of set must be ref[0..n_ref), in order */
static void
check_same(const tag_set *set, const tag_span *ref, size_t n_ref)
{
	size_t		i;

	if (set->n != n_ref)
		fuzz_fail("not as many tags as the reference", set->n);
	for (i = 0; i < n_ref; i++)
		if (set->tags[i].len != ref[i].len || memcmp(set->tags[i].p, ref[i].p, ref[i].len) != 0)
			fuzz_fail("tag differs from the reference", i);
}

/* parse_tags mode: split text at sep, compare with the reference, round trip */
static void
fuzz_split(const char *text, size_t len, const char *sep, size_t sep_len)
{
	size_t		max = tags_count_pieces(text, len, sep, sep_len);
	tag_set		set;
	tag_span   *ref = malloc(sizeof(tag_span) * max);
	size_t		n_ref = 0;
	const char *start = text;
	const char *hit;

	set_alloc(&set, max);
	tags_split(&set, text, len, sep, sep_len);
	if (set.n > max)
		fuzz_fail("more tags than pieces", set.n);
	check_tags(&set, text, len, sep, sep_len);

	while ((hit = memmem(start, (size_t) (text + len - start), sep, sep_len)) != NULL)
	{
		ref_add(ref, &n_ref, start, (size_t) (hit - start));
		start = hit + sep_len;
	}
	ref_add(ref, &n_ref, start, (size_t) (text + len - start));
	check_same(&set, ref, n_ref);

	if (sep_len == 1)
	{
		size_t		jl = 0,
					i;
		char	   *joined = malloc(len + 1);
		tag_set		again;

		for (i = 0; i < set.n; i++)
		{
			if (i > 0)
				joined[jl++] = sep[0];
			memcpy(joined + jl, set.tags[i].p, set.tags[i].len);
			jl += set.tags[i].len;
		}
		set_alloc(&again, tags_count_pieces(joined, jl, sep, 1));
		tags_split(&again, joined, jl, sep, 1);
		check_same(&again, set.tags, set.n);
		set_free(&again);
		free(joined);
	}
	set_free(&set);
	free(ref);
}

/* clean_tags mode: the elements of text are cut at 0xFF bytes */
static void
fuzz_elements(const char *text, size_t len)
{
	size_t		max = 1,
				i,
				start = 0;
	tag_set		set;
	tag_span   *ref;
	size_t		n_ref = 0;

	for (i = 0; i < len; i++)
		max += (unsigned char) text[i] == 0xFF;
	ref = malloc(sizeof(tag_span) * max);
	set_alloc(&set, max);
	for (i = 0; i <= len; i++)
		if (i == len || (unsigned char) text[i] == 0xFF)
		{
			tag_set_add(&set, text + start, i - start);
			ref_add(ref, &n_ref, text + start, i - start);
			start = i + 1;
		}
	check_tags(&set, text, len, "\xff", 1);
	check_same(&set, ref, n_ref);
	set_free(&set);
	free(ref);
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		sep_len;
	char	   *text;
	char		sep[3];

	if (size < 1)
		return 0;
	if (data[0] & 0x80)
	{
		text = malloc(size - 1 ? size - 1 : 1);
		memcpy(text, data + 1, size - 1);
		fuzz_elements(text, size - 1);
		free(text);
		return 0;
	}
	sep_len = 1 + data[0] % 3;
	if (size < 1 + sep_len)
		return 0;
	memcpy(sep, data + 1, sep_len);
	text = malloc(size - 1 - sep_len ? size - 1 - sep_len : 1);
	memcpy(text, data + 1 + sep_len, size - 1 - sep_len);
	fuzz_split(text, size - 1 - sep_len, sep, sep_len);
	free(text);
	return 0;
}
