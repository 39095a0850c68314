/* Text helpers shared by message, hook and notify: 8-bit fallback, RFC 2047
 * encoded words (through GMime), sanitizing, ellipsizing, HTML to text and
 * previews. Everything returns newly allocated UTF-8 (g_free) and never
 * fails: bad input gives U+FFFD or is dropped. */
#ifndef MB_TEXT_H
#define MB_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <gmime/gmime.h>

/* Initializes GMime and the charset cache once. Idempotent; the functions
 * below call it themselves. */
void mb_text_init(void);

/* The loose RFC 2047 parser options every GMime call here uses (borrowed,
 * lives for the whole process). */
GMimeParserOptions *mb_text_gmime_options(void);

/* Returns raw (len octets, may hold NUL) as UTF-8 without NUL bytes: valid
 * UTF-8 sequences are kept, every other byte is read as windows-1252 (the
 * usual charset of mail sent without one). */
char *mb_text_to_utf8(const char *raw, size_t len);

/* Decodes one header value with RFC 2047 encoded words (RFC 2047, RFC 2231
 * language suffixes) to sanitized UTF-8. raw may hold 8-bit bytes: taken as
 * UTF-8 when valid, else windows-1252. NULL gives "". */
char *mb_text_decode_header(const char *raw, size_t len);

/* Makes text safe to show and pass on: invalid UTF-8 replaced, C0/C1 control
 * characters, bidi controls and DEL dropped, tabs and line breaks turned into
 * one space, trimmed at both ends. NULL gives "". */
char *mb_text_sanitize(const char *text, size_t len);

/* Returns a copy of UTF-8 text cut to at most max_bytes octets on a
 * character boundary, with "…" at the end when something was cut (included
 * in max_bytes; max_bytes >= 4). A sender controls these lengths: an
 * environment variable over 128 KiB would keep a hook from starting. */
char *mb_text_ellipsize(const char *text, size_t max_bytes);

/* Text of an HTML document or fragment (UTF-8 in, UTF-8 out): tags dropped,
 * the contents of <head>, <style>, <script> and comments dropped, block
 * elements and <br> turned into line breaks, character references (&amp;,
 * &#233;, &#xE9;, &nbsp; and the common named ones) decoded. Not sanitized. */
char *mb_text_html_to_text(const char *html, size_t len);

/* A preview of body text: sanitized (white space runs collapsed to one space,
 * control characters removed) and cut to at most max_chars characters on a
 * character boundary, with "…" when cut (counted in max_chars). */
char *mb_text_preview(const char *text, size_t len, size_t max_chars);

#endif
