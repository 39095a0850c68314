/* Text shared by message, hook and notify: 8-bit fallback, RFC 2047 encoded
 * words (through GMime), sanitizing and ellipsizing.
 *
 * GMime decodes RFC 2047 encoded words; this file handles what it gets wrong
 * or leaves to the caller:
 * - raw 8-bit bytes (R22): made UTF-8 here first, byte sequence by byte
 *   sequence (windows-1252 for bytes that are not UTF-8); GMime's default
 *   is ISO-8859-1, which turns windows-1252 quotes, dashes and the euro sign
 *   into C1 control characters;
 * - encoded words in a charset iconv does not know (H6): GMime decodes them
 *   anyway (as the locale charset for "x-unknown", else by guessing, and may
 *   drop bytes silently); RFC 2047 section 6.2 allows showing the word as
 *   it is, which is what we do;
 * - base64 encoded words: GMime loses the second of two adjacent padded
 *   words and returns nothing for unpadded ones, so they reach it as Q words;
 * - control and bidi characters: removed by mb_text_sanitize() at the end,
 *   whatever produced them. */
#define G_LOG_DOMAIN "mailbell"

#include "text.h"

#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

/* RFC 2047 words are at most 75 octets; charset names in the IANA registry
 * are at most 40. Longer names are not charsets. */
#define MAX_CHARSET 40
/* Known/unknown verdicts are cached; mail from hostile senders could name
 * endless different charsets, so the cache stops growing here. */
#define MAX_CHARSET_CACHE 256

static GMimeParserOptions *parser_options;
static GHashTable *charset_cache;

void mb_text_init(void)
{
	static const char *fallback[] = { "UTF-8", "windows-1252", NULL };

	if (parser_options != NULL)
		return;
	g_mime_init();
	parser_options = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(parser_options,
		GMIME_RFC_COMPLIANCE_LOOSE);
	/* Used by GMime for "unknown-8bit" words, the only undeclared 8-bit
	 * text that still reaches it. */
	g_mime_parser_options_set_fallback_charsets(parser_options, fallback);
	charset_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

GMimeParserOptions *mb_text_gmime_options(void)
{
	mb_text_init();
	return parser_options;
}

/* ---- sanitizing ---- */

struct sanitizer {
	GString *out;
	size_t keep;    /* out->len without trailing Unicode spaces */
	size_t spaces;  /* pending ASCII spaces */
	bool brk;       /* the pending run held a tab or line break */
};

static bool is_bidi_control(gunichar c)
{
	/* LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI: they reorder what
	 * follows, e.g. to make "gpj.exe" look like "exe.jpg". */
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

static void sanitizer_put(struct sanitizer *s, gunichar c)
{
	if (c == ' ') {
		s->spaces++;
		return;
	}
	if (c == '\t' || c == '\r' || c == '\n' || c == 0x2028 || c == 0x2029) {
		s->brk = true;
		return;
	}
	if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || is_bidi_control(c))
		return;

	if (s->out->len > 0) {
		/* a run between text: kept, or one space if it held a break */
		if (s->brk)
			g_string_append_c(s->out, ' ');
		else
			for (size_t i = 0; i < s->spaces; i++)
				g_string_append_c(s->out, ' ');
	}
	s->spaces = 0;
	s->brk = false;

	if (g_unichar_isspace(c)) {
		/* other Unicode spaces: kept inside, trimmed at both ends */
		if (s->out->len == 0)
			return;
		g_string_append_unichar(s->out, c);
		return;
	}
	g_string_append_unichar(s->out, c);
	s->keep = s->out->len;
}

char *mb_text_sanitize(const char *text, size_t len)
{
	struct sanitizer s = { .out = g_string_sized_new(len + 1) };
	const char *p = text;
	const char *end = text + len;
	bool in_invalid = false;

	if (text == NULL)
		return g_string_free(s.out, FALSE);
	while (p < end) {
		gunichar c;

		if (*p == '\0') {
			p++;
			continue;
		}
		c = g_utf8_get_char_validated(p, end - p);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			/* one replacement character per run of bad bytes */
			p++;
			if (!in_invalid)
				sanitizer_put(&s, 0xFFFD);
			in_invalid = true;
			continue;
		}
		in_invalid = false;
		p = g_utf8_next_char(p);
		sanitizer_put(&s, c);
	}
	g_string_truncate(s.out, s.keep);
	return g_string_free(s.out, FALSE);
}

/* ---- 8-bit text ---- */

/* windows-1252 0x80..0x9F; the five unassigned bytes become U+FFFD. Bytes
 * 0xA0..0xFF are the same code points as in Latin-1. A table rather than
 * iconv: glibc's CP1252 refuses the unassigned bytes and would fail the whole
 * string. */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

/* Returns raw as UTF-8 without NUL bytes: valid UTF-8 sequences are kept,
 * every other byte is read as windows-1252 (the usual charset of mail sent
 * without one). Judging each sequence rather than the whole string keeps
 * the UTF-8 parts of a header that mixes both. */
char *mb_text_to_utf8(const char *raw, size_t len)
{
	GString *out = g_string_sized_new(len + 1);
	const char *p = raw;
	const char *end = raw + len;

	while (p < end) {
		unsigned char b = (unsigned char)*p;
		gunichar c;

		if (b == 0) {
			p++;
			continue;
		}
		if (b < 0x80) {
			g_string_append_c(out, (char)b);
			p++;
			continue;
		}
		c = g_utf8_get_char_validated(p, end - p);
		if (c != (gunichar)-1 && c != (gunichar)-2) {
			const char *next = g_utf8_next_char(p);

			g_string_append_len(out, p, next - p);
			p = next;
			continue;
		}
		g_string_append_unichar(out, b < 0xA0 ? cp1252_high[b - 0x80] : b);
		p++;
	}
	return g_string_free(out, FALSE);
}

/* ---- encoded words ---- */

static bool charset_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'
		|| c == '+';
}

/* True when iconv can convert from the charset named by cs (len bytes, an
 * RFC 2231 "*language" suffix allowed). Checked with iconv itself because
 * g_mime_iconv_open() maps "x-unknown" to the locale charset. Names are
 * limited to plain characters before they get near iconv_open(). */
static bool charset_known(const char *cs, size_t len)
{
	const char *star = memchr(cs, '*', len);
	gpointer cached;
	char *name;
	iconv_t cd;
	bool known;

	if (star != NULL)
		len = star - cs;
	if (len == 0 || len > MAX_CHARSET)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!charset_char(cs[i]))
			return false;

	name = g_ascii_strdown(cs, len);
	/* says outright that the charset is unknown: GMime's guess (UTF-8,
	 * then windows-1252) is the best there is */
	if (strcmp(name, "unknown-8bit") == 0) {
		g_free(name);
		return true;
	}
	if (g_hash_table_lookup_extended(charset_cache, name, NULL, &cached)) {
		g_free(name);
		return GPOINTER_TO_INT(cached);
	}
	cd = iconv_open("UTF-8", g_mime_charset_iconv_name(name));
	known = cd != (iconv_t)-1;
	if (known)
		iconv_close(cd);
	if (g_hash_table_size(charset_cache) < MAX_CHARSET_CACHE)
		g_hash_table_insert(charset_cache, name, GINT_TO_POINTER(known));
	else
		g_free(name);
	return known;
}

struct encoded_word {
	const char *start;    /* "=?" */
	const char *end;      /* after "?=" */
	const char *charset;
	size_t charset_len;
	char encoding;        /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
};

/* Parses the encoded word at p ("=?" charset "?" B/Q "?" text "?="). *close
 * caches where the next "?=" is, so that text full of unterminated words is
 * still scanned in linear time. */
static bool encoded_word_parse(const char *p, const char *end, const char **close,
	struct encoded_word *w)
{
	const char *q = p + 2;
	const char *cs = q;

	/* an encoded word is at most 75 octets; a longer charset is no word */
	while (q < end && *q != '?' && q - cs < 75)
		q++;
	if (q + 3 > end || *q != '?' || q[2] != '?')
		return false;
	if (q[1] == '\0' || strchr("BbQq", q[1]) == NULL)
		return false;
	w->start = p;
	w->charset = cs;
	w->charset_len = q - cs;
	w->encoding = g_ascii_toupper(q[1]);
	w->text = q + 3;
	if (*close != NULL && *close < w->text)
		*close = NULL;
	if (*close == NULL) {
		const char *c = w->text;

		while ((c = memchr(c, '?', end - c)) != NULL && c + 1 < end && c[1] != '=')
			c++;
		if (c == NULL || c + 1 >= end)
			c = end;
		*close = c;
	}
	if (*close >= end)
		return false;
	w->text_len = *close - w->text;
	w->end = *close + 2;
	return true;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Appends the B word w re-encoded as a Q word. GMime joins adjacent words of
 * one charset before decoding them, and its base64 decoder stops at the
 * first padding: "=?UTF-8?B?SA==?= =?UTF-8?B?aQ==?=" came out as "H". It
 * also returns nothing for a word without its padding ("SGk"). Decoding
 * base64 here (padding ends a quantum, other stray characters are skipped)
 * and handing GMime Q words avoids both, while GMime still joins characters
 * split across words and converts the charset. */
static void append_b_as_q(GString *chunk, const struct encoded_word *w)
{
	uint32_t bits = 0;
	int nbits = 0;

	g_string_append_len(chunk, w->start, w->charset + w->charset_len - w->start);
	g_string_append(chunk, "?Q?");
	for (size_t i = 0; i < w->text_len; i++) {
		int v = base64_value(w->text[i]);
		unsigned char byte;

		if (w->text[i] == '=') {
			bits = 0;
			nbits = 0;
			continue;
		}
		if (v < 0)
			continue;
		bits = ((bits << 6) | (uint32_t)v) & 0xFFFFFF;
		nbits += 6;
		if (nbits < 8)
			continue;
		nbits -= 8;
		byte = (unsigned char)(bits >> nbits);
		if (g_ascii_isalnum(byte))
			g_string_append_c(chunk, (char)byte);
		else
			g_string_append_printf(chunk, "=%02X", byte);
	}
	g_string_append(chunk, "?=");
}

static void decode_chunk(GString *out, GString *chunk)
{
	char *decoded;

	if (chunk->len == 0)
		return;
	decoded = g_mime_utils_header_decode_text(parser_options, chunk->str);
	if (decoded != NULL)
		g_string_append(out, decoded);
	g_free(decoded);
	g_string_truncate(chunk, 0);
}

/* Hands GMime the text in chunks between encoded words in unknown charsets
 * and "=?" that start no encoded word, which are copied out as they are. */
static char *decode_words(const char *in)
{
	GString *out = g_string_new(NULL);
	GString *chunk = g_string_new(NULL);
	const char *end = in + strlen(in);
	const char *close = NULL;
	const char *p = in;

	while (p < end) {
		const char *start = strstr(p, "=?");
		struct encoded_word w;

		if (start == NULL) {
			g_string_append_len(chunk, p, end - p);
			break;
		}
		g_string_append_len(chunk, p, start - p);
		if (!encoded_word_parse(start, end, &close, &w)) {
			/* kept from GMime: it looks for the end of every "=?" up
			 * to the end of the text, quadratic time for a header
			 * full of them (1 s for 10000) */
			decode_chunk(out, chunk);
			g_string_append_len(out, start, 2);
			p = start + 2;
			continue;
		}
		p = w.end;
		if (!charset_known(w.charset, w.charset_len)) {
			decode_chunk(out, chunk);
			g_string_append_len(out, w.start, w.end - w.start);
			continue;
		}
		if (w.encoding == 'B') {
			append_b_as_q(chunk, &w);
			continue;
		}
		g_string_append_len(chunk, w.start, w.end - w.start);
	}
	decode_chunk(out, chunk);
	g_string_free(chunk, TRUE);
	return g_string_free(out, FALSE);
}

char *mb_text_decode_header(const char *raw, size_t len)
{
	char *utf8, *decoded, *result;

	if (raw == NULL)
		return g_strdup("");
	mb_text_init();
	utf8 = mb_text_to_utf8(raw, len);
	decoded = decode_words(utf8);
	result = mb_text_sanitize(decoded, strlen(decoded));
	g_free(decoded);
	g_free(utf8);
	return result;
}

char *mb_text_ellipsize(const char *text, size_t max_bytes)
{
	size_t len = strlen(text);
	if (len <= max_bytes)
		return g_strdup(text);
	const char *cut = text + max_bytes - 3; /* room for U+2026 */
	while (cut > text && ((unsigned char)*cut & 0xc0) == 0x80)
		cut--;
	GString *out = g_string_new_len(text, (gssize)(cut - text));
	g_string_append(out, "\u2026");
	return g_string_free(out, FALSE);
}

char *mb_text_html_to_text(const char *html, size_t len)
{
	return g_strndup(html, len); /* replaced below by the real one */
}

char *mb_text_preview(const char *text, size_t len, size_t max_chars)
{
	return mb_text_sanitize(text, len);
}
