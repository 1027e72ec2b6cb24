/*
 * fuzz_html.c — libFuzzer target for the HTML reference decoder
 * (src/text/html.c), built by `make fuzz-html`.  The input is the text.
 *
 * Input and output sit in exactly-sized allocations (the output in one of
 * the input's length), so AddressSanitizer sees a read past the text or an
 * output longer than the input.  The oracles: the output is never longer;
 * it has no more '&' than the input; text without '&' is copied unchanged;
 * valid UTF-8 stays valid UTF-8; and escaping then decoding gives the text
 * back, both with the named references (& < > " ') and, for valid UTF-8,
 * with every non-ASCII character written as a decimal or hexadecimal
 * reference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/html.h"

/* stop the fuzzer with a message: an oracle failed */
static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_html: %s\n", what);
	abort();
}

/*
 * Length of the valid UTF-8 sequence at s[0] (at most len bytes) and its
 * code point in *code; 0 when the bytes are not valid UTF-8 (overlong
 * forms, surrogates and values above 0x10FFFF included).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *code)
{
	size_t		n,
				i;
	uint32_t	c;

	if (s[0] < 0x80)
		n = 1, c = s[0];
	else if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
		(c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*code = c;
	return n;
}

/* true when s[0..len) is valid UTF-8 */
static int
utf8_valid(const char *s, size_t len)
{
	size_t		i = 0;
	uint32_t	c;

	while (i < len)
	{
		size_t		n = utf8_decode((const unsigned char *) s + i, len - i, &c);

		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* occurrences of '&' in s[0..len) */
static size_t
count_amp(const char *s, size_t len)
{
	size_t		n = 0,
				i;

	for (i = 0; i < len; i++)
		n += s[i] == '&';
	return n;
}

/*
 * s[0..len) escaped into a fresh buffer (length in *out_len): & < > " ' as
 * named or numeric references and, when numeric is set (s valid UTF-8),
 * every non-ASCII character as &#N; or &#xH; (by the parity of its value).
 */
static char *
escape(const char *s, size_t len, int numeric, size_t *out_len)
{
	char	   *out = malloc(len * 12 + 1);
	size_t		n = 0,
				i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		uint32_t	code;
		size_t		k;

		if (c == '&')
			n += (size_t) sprintf(out + n, "&amp;");
		else if (c == '<')
			n += (size_t) sprintf(out + n, "&lt;");
		else if (c == '>')
			n += (size_t) sprintf(out + n, "&gt;");
		else if (c == '"')
			n += (size_t) sprintf(out + n, "&quot;");
		else if (c == '\'')
			n += (size_t) sprintf(out + n, "&#39;");
		else if (numeric && c >= 0x80 && (k = utf8_decode((const unsigned char *) s + i, len - i, &code)) > 0)
		{
			n += (size_t) sprintf(out + n, code % 2 ? "&#x%X;" : "&#%u;", (unsigned) code);
			i += k;
			continue;
		}
		else
			out[n++] = (char) c;
		i++;
	}
	*out_len = n;
	return out;
}

/* decoding the escaped form of text[0..len) must give text back */
static void
check_round_trip(const char *text, size_t len, int numeric)
{
	size_t		elen,
				n;
	char	   *esc = escape(text, len, numeric, &elen);
	char	   *back = malloc(elen ? elen : 1);

	n = html_unescape(esc, elen, back);
	if (n != len || memcmp(back, text, len) != 0)
		fuzz_fail(numeric ? "numeric escaping does not round-trip" : "escaping does not round-trip");
	free(esc);
	free(back);
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size ? size : 1);
	char	   *out = malloc(size ? size : 1);
	size_t		n;
	int			valid;

	memcpy(text, data, size);
	n = html_unescape(text, size, out);
	if (n > size)
		fuzz_fail("output longer than the input");
	if (count_amp(out, n) > count_amp(text, size))
		fuzz_fail("more '&' in the output than in the input");
	if (memchr(text, '&', size) == NULL && (n != size || memcmp(out, text, size) != 0))
		fuzz_fail("text without references changed");
	valid = utf8_valid(text, size);
	if (valid && !utf8_valid(out, n))
		fuzz_fail("valid UTF-8 decoded to invalid UTF-8");
	check_round_trip(text, size, 0);
	if (valid)
		check_round_trip(text, size, 1);
	free(text);
	free(out);
	return 0;
}
