/*
 * test_html.c — HTML character references (src/text/html.c): every named
 * reference, decimal and hexadecimal ones across the UTF-8 length classes,
 * what is kept literally, and that the output never grows.
 */
#include <string.h>

#include "text/html.h"
#include "tap.h"

/* check that decoding in gives want (want_len bytes) */
static void
check_unescape(const char *in, const char *want, size_t want_len)
{
	char		out[64];
	size_t		len = strlen(in);
	size_t		n = html_unescape(in, len, out);

	tap_ok(n == want_len && memcmp(out, want, want_len) == 0 && n <= len,
		   "\"%s\" decodes to %zu bytes (got %zu)", in, want_len, n);
}

/* check that in is kept as it is */
static void
check_kept(const char *in)
{
	check_unescape(in, in, strlen(in));
}

int
main(void)
{
	char		buf[4];
	uint32_t	code = 0;

	check_unescape("&amp;&lt;&gt;&quot;&apos;&nbsp;", "&<>\"'\xc2\xa0", 7);
	check_unescape("Fate&#039;s &quot;Heaven&#39;s Feel&quot;", "Fate's \"Heaven's Feel\"", 22);
	check_unescape("&#x27;&#X27;&#x2a;&#x2A;", "''**", 4);
	check_unescape("&#1;", "\x01", 1);
	check_unescape("&#127;&#128;", "\x7f\xc2\x80", 3);
	check_unescape("&#x7FF;&#x800;", "\xdf\xbf\xe0\xa0\x80", 5);
	check_unescape("&#x4E00;", "\xe4\xb8\x80", 3);
	check_unescape("&#xFFFF;&#65536;", "\xef\xbf\xbf\xf0\x90\x80\x80", 7);
	check_unescape("&#128512;", "\xf0\x9f\x98\x80", 4);
	check_unescape("&#x10FFFF;", "\xf4\x8f\xbf\xbf", 4);
	check_unescape("&#0000065;", "A", 1);
	check_unescape("&amp;amp;", "&amp;", 5);
	check_unescape("&&amp;&", "&&&", 3);
	check_unescape("caf\xc3\xa9 &amp; cr\xc3\xa8me", "caf\xc3\xa9 & cr\xc3\xa8me", 14);

	check_kept("AT&T");
	check_kept("&");
	check_kept("tail &amp");
	check_kept("&;");
	check_kept("&#;");
	check_kept("&#x;");
	check_kept("&#0;");
	check_kept("&#x0;");
	check_kept("&#xD800;");
	check_kept("&#xDFFF;");
	check_kept("&#x110000;");
	check_kept("&#1114112;");
	check_kept("&#12a;");
	check_kept("&#xG1;");
	check_kept("&#x0010FFFF;");
	check_kept("&#00000065;");
	check_unescape("&#1114111;", "\xf4\x8f\xbf\xbf", 4);
	check_kept("&unknown;");
	check_kept("&AMP;");
	check_kept("&ampx;");
	check_kept("&#-1;");
	check_kept("&# 1;");

	tap_ok(html_entity("&amp;rest", 9, &code) == 5 && code == '&', "html_entity reads &amp; as 5 bytes");
	tap_ok(html_entity("&amp", 4, &code) == 0, "html_entity stops at the end of the text");
	tap_ok(utf8_encode(0x7F, buf) == 1 && utf8_encode(0x80, buf) == 2 && utf8_encode(0x7FF, buf) == 2 &&
		   utf8_encode(0x800, buf) == 3 && utf8_encode(0xFFFF, buf) == 3 && utf8_encode(0x10000, buf) == 4,
		   "UTF-8 lengths change at 0x80, 0x800 and 0x10000");
	tap_ok(html_unescape("", 0, buf) == 0, "the empty text decodes to nothing");
	return tap_done();
}
