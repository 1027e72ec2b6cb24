/*
 * html.c — decode the HTML character references found in scraped titles
 * (the Kaggle anime.csv has &#039;, &amp;, &quot; and &gt;): the named
 * references &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric ones (&#39;
 * &#x27;) of a Unicode scalar value other than 0.  Anything else is kept as
 * it is.  A reference is never shorter than its UTF-8 encoding, so the
 * output is never longer than the input.
 */
#include <string.h>

#include "text/html.h"

/* a named character reference and the code point it stands for */
typedef struct named_entity
{
	const char *name;
	uint32_t	code;
} named_entity;

static const named_entity named_entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	{"nbsp", 0xA0}
};

/* value of the digits s[from..to) in base 10 or 16; -1 when one is not a digit */
static int64_t
parse_digits(const char *s, size_t from, size_t to, int hex)
{
	int64_t		c = 0;
	size_t		i;

	for (i = from; i < to; i++)
	{
		int			d;

		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (hex && s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (hex && s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return -1;
		c = c * (hex ? 16 : 10) + d;
	}
	return c;
}

/*
 * The reference that starts at s[0] == '&' (at most len bytes): returns its
 * length including '&' and ';' and sets *code, or returns 0 when s does not
 * start a reference decoded here.
 */
size_t
html_entity(const char *s, size_t len, uint32_t *code)
{
	size_t		end;
	size_t		i;

	for (end = 1; end < len && end < HTML_MAX_ENTITY_LEN && s[end] != ';'; end++)
		;
	if (end >= len || end >= HTML_MAX_ENTITY_LEN || s[end] != ';' || end == 1)
		return 0;

	if (s[1] == '#')
	{
		int			hex = (s[2] == 'x' || s[2] == 'X');
		size_t		start = hex ? 3 : 2;
		int64_t		c;

		if (start >= end)
			return 0;
		c = parse_digits(s, start, end, hex);
		if (c <= 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
		*code = (uint32_t) c;
		return end + 1;
	}

	for (i = 0; i < sizeof(named_entities) / sizeof(named_entities[0]); i++)
	{
		const char *name = named_entities[i].name;

		if (strlen(name) == end - 1 && memcmp(s + 1, name, end - 1) == 0)
		{
			*code = named_entities[i].code;
			return end + 1;
		}
	}
	return 0;
}

/* write the UTF-8 encoding of the scalar value code to buf (4 bytes); returns its length */
size_t
utf8_encode(uint32_t code, char *buf)
{
	unsigned char *b = (unsigned char *) buf;

	if (code < 0x80)
	{
		b[0] = (unsigned char) code;
		return 1;
	}
	if (code < 0x800)
	{
		b[0] = (unsigned char) (0xC0 | (code >> 6));
		b[1] = (unsigned char) (0x80 | (code & 0x3F));
		return 2;
	}
	if (code < 0x10000)
	{
		b[0] = (unsigned char) (0xE0 | (code >> 12));
		b[1] = (unsigned char) (0x80 | ((code >> 6) & 0x3F));
		b[2] = (unsigned char) (0x80 | (code & 0x3F));
		return 3;
	}
	b[0] = (unsigned char) (0xF0 | (code >> 18));
	b[1] = (unsigned char) (0x80 | ((code >> 12) & 0x3F));
	b[2] = (unsigned char) (0x80 | ((code >> 6) & 0x3F));
	b[3] = (unsigned char) (0x80 | (code & 0x3F));
	return 4;
}

/*
 * Decode the references of the UTF-8 text s[0..len) into out (room for len
 * bytes; may not overlap s).  Returns the length written, at most len.
 */
size_t
html_unescape(const char *s, size_t len, char *out)
{
	size_t		i = 0;
	size_t		n = 0;

	while (i < len)
	{
		const char *amp = memchr(s + i, '&', len - i);
		size_t		plain = amp ? (size_t) (amp - (s + i)) : len - i;
		uint32_t	code;
		size_t		ref;

		memcpy(out + n, s + i, plain);
		n += plain;
		i += plain;
		if (i == len)
			break;
		ref = html_entity(s + i, len - i, &code);
		if (ref > 0)
		{
			n += utf8_encode(code, out + n);
			i += ref;
		}
		else
			out[n++] = s[i++];
	}
	return n;
}
