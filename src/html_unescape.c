/*
 * html_unescape.c — animerec.html_unescape(text): decode the HTML character
 * references found in scraped titles (the Kaggle anime.csv has &#039;, &amp;,
 * &quot; and &gt;).  Used by the loaders in sql/install/10_data.sql; the
 * decoding itself is src/text/html.c, which works on UTF-8.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "text/html.h"

PG_FUNCTION_INFO_V1(animerec_html_unescape);

/*
 * html_unescape(text) -> text
 * Replaces &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric references
 * (&#39; &#x27;) by their characters; anything else is kept as it is.  In a
 * database whose encoding is not UTF-8 the text is decoded through UTF-8
 * (an error when a decoded character has no equivalent in that encoding).
 */
Datum
animerec_html_unescape(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(in);
	int			len = VARSIZE_ANY_EXHDR(in);
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	const char *u;
	size_t		ulen;
	char	   *out;
	size_t		n;
	char	   *res;

	if (memchr(s, '&', len) == NULL)
		PG_RETURN_TEXT_P(in);

	u = utf8 ? s : pg_server_to_any(s, len, PG_UTF8);
	ulen = u == s ? (size_t) len : strlen(u);
	out = palloc(ulen + 1);
	n = html_unescape(u, ulen, out);
	res = utf8 ? out : pg_any_to_server(out, (int) n, PG_UTF8);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(res, res == out ? (int) n : (int) strlen(res)));
}
