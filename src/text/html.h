/*
 * html.h — decoding HTML character references in UTF-8 text.  Plain C, no
 * PostgreSQL headers: animerec.html_unescape() (src/html_unescape.c) calls
 * it, and the fuzzer test/fuzz/fuzz_html.c drives it directly.
 */
#ifndef ANIMEREC_TEXT_HTML_H
#define ANIMEREC_TEXT_HTML_H

#include <stddef.h>
#include <stdint.h>

/* the longest reference decoded, in bytes: "&#x10FFFF;" */
#define HTML_MAX_ENTITY_LEN 10

extern size_t html_entity(const char *s, size_t len, uint32_t *code);
extern size_t utf8_encode(uint32_t code, char *buf);
extern size_t html_unescape(const char *s, size_t len, char *out);

#endif
