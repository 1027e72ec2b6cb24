/*
 * html_entities.c — animerec.html_unescape(text): decode the HTML character
 * references found in scraped titles (the Kaggle anime.csv has &#039;, &amp;,
 * &quot; and &gt;).  Used by the loaders in sql/install/10_data.sql.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

/* A named character reference and the code point it stands for */
typedef struct NamedEntity
{
	const char *name;
	pg_wchar	code;
} NamedEntity;

static const NamedEntity named_entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	{"nbsp", 0xA0}
};

/* The longest reference we decode: "&#x10FFFF;" */
#define MAX_ENTITY_LEN 10

/*
 * Parse the reference that starts at s[0] == '&' (at most len bytes).
 * Returns its length including '&' and ';' and sets *code, or returns 0 when
 * s does not start a reference we decode (it is then copied literally).
 */
static int
parse_entity(const char *s, int len, pg_wchar *code)
{
	int			end;
	int			i;

	for (end = 1; end < len && end <= MAX_ENTITY_LEN && s[end] != ';'; end++)
		;
	if (end >= len || s[end] != ';' || end == 1)
		return 0;

	if (s[1] == '#')
	{
		bool		hex = (s[2] == 'x' || s[2] == 'X');
		int			start = hex ? 3 : 2;
		pg_wchar	c = 0;

		if (start >= end)
			return 0;
		for (i = start; i < end; i++)
		{
			int			d;

			if (s[i] >= '0' && s[i] <= '9')
				d = s[i] - '0';
			else if (hex && s[i] >= 'a' && s[i] <= 'f')
				d = s[i] - 'a' + 10;
			else if (hex && s[i] >= 'A' && s[i] <= 'F')
				d = s[i] - 'A' + 10;
			else
				return 0;
			c = c * (hex ? 16 : 10) + d;
		}
		if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
		*code = c;
		return end + 1;
	}

	for (i = 0; i < (int) lengthof(named_entities); i++)
	{
		const char *name = named_entities[i].name;

		if ((int) strlen(name) == end - 1 && strncmp(s + 1, name, end - 1) == 0)
		{
			*code = named_entities[i].code;
			return end + 1;
		}
	}
	return 0;
}

PG_FUNCTION_INFO_V1(animerec_html_unescape);

/*
 * html_unescape(text) -> text
 * Replaces &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric references
 * (&#39; &#x27;) by their characters; anything else is kept as it is.
 */
Datum
animerec_html_unescape(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(in);
	int			len = VARSIZE_ANY_EXHDR(in);
	StringInfoData out;
	int			i = 0;

	if (memchr(s, '&', len) == NULL)
		PG_RETURN_TEXT_P(in);

	initStringInfo(&out);
	while (i < len)
	{
		pg_wchar	code;
		int			n = s[i] == '&' ? parse_entity(s + i, len - i, &code) : 0;

		if (n > 0)
		{
			unsigned char buf[MAX_UNICODE_EQUIVALENT_STRING + 1];

			pg_unicode_to_server(code, buf);
			appendStringInfoString(&out, (const char *) buf);
			i += n;
		}
		else
			appendStringInfoChar(&out, s[i++]);
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
