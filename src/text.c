/* Text shared by message, hook and notify: 8-bit fallback, RFC 2047 encoded
 * words (through GMime), sanitizing, ellipsizing, HTML to text and previews.
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
#include <stdlib.h>
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

/* The next character of text at *p, advancing *p; 0 means "nothing here":
 * a NUL byte, or a bad byte after the first of its run (each run of bytes
 * that are not UTF-8 gives one U+FFFD). */
static gunichar next_char(const char **p, const char *end, bool *in_invalid)
{
	if (**p == '\0') {
		(*p)++;
		return 0;
	}
	gunichar c = g_utf8_get_char_validated(*p, end - *p);
	if (c == (gunichar)-1 || c == (gunichar)-2) {
		(*p)++;
		if (*in_invalid)
			return 0;
		*in_invalid = true;
		return 0xFFFD;
	}
	*in_invalid = false;
	*p = g_utf8_next_char(*p);
	return c;
}

char *mb_text_sanitize(const char *text, size_t len)
{
	struct sanitizer s = { .out = g_string_sized_new(len + 1) };
	const char *p = text;
	bool in_invalid = false;

	if (text == NULL)
		return g_string_free(s.out, FALSE);
	while (p < text + len) {
		gunichar c = next_char(&p, text + len, &in_invalid);

		if (c != 0)
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
	const char *end;

	if (raw == NULL)
		return g_string_free(out, FALSE);
	end = raw + len;
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


/* ---- HTML to text ---- */

/* A scanner, not a parser: mail HTML is too often broken, cut (a partial
 * fetch) or hostile for anything that builds a tree. Each byte is looked at
 * a bounded number of times: every search for an end ("-->", '>', "</style")
 * either succeeds and moves on or fails and drops the rest. */

struct named_entity {
	const char *name;
	uint16_t cp;
};

/* Sorted by strcmp() for bsearch(); case matters (&Eacute; is not &eacute;).
 * &nbsp; becomes a plain space: previews and notifications would only have
 * to undo it. */
static const struct named_entity named_entities[] = {
	{ "AElig", 0x00C6 }, { "AMP", 0x0026 }, { "Aacute", 0x00C1 },
	{ "Acirc", 0x00C2 }, { "Agrave", 0x00C0 }, { "Aring", 0x00C5 },
	{ "Atilde", 0x00C3 }, { "Auml", 0x00C4 }, { "Ccedil", 0x00C7 },
	{ "Eacute", 0x00C9 }, { "Ecirc", 0x00CA }, { "Egrave", 0x00C8 },
	{ "Euml", 0x00CB }, { "GT", 0x003E }, { "Iacute", 0x00CD },
	{ "Icirc", 0x00CE }, { "Igrave", 0x00CC }, { "Iuml", 0x00CF },
	{ "LT", 0x003C }, { "Ntilde", 0x00D1 }, { "OElig", 0x0152 },
	{ "Oacute", 0x00D3 }, { "Ocirc", 0x00D4 }, { "Ograve", 0x00D2 },
	{ "Oslash", 0x00D8 }, { "Otilde", 0x00D5 }, { "Ouml", 0x00D6 },
	{ "QUOT", 0x0022 }, { "Scaron", 0x0160 }, { "Uacute", 0x00DA },
	{ "Ucirc", 0x00DB }, { "Ugrave", 0x00D9 }, { "Uuml", 0x00DC },
	{ "Yacute", 0x00DD }, { "Yuml", 0x0178 }, { "aacute", 0x00E1 },
	{ "acirc", 0x00E2 }, { "aelig", 0x00E6 }, { "agrave", 0x00E0 },
	{ "amp", 0x0026 }, { "apos", 0x0027 }, { "aring", 0x00E5 },
	{ "atilde", 0x00E3 }, { "auml", 0x00E4 }, { "bdquo", 0x201E },
	{ "bull", 0x2022 }, { "ccedil", 0x00E7 }, { "cent", 0x00A2 },
	{ "copy", 0x00A9 }, { "dagger", 0x2020 }, { "deg", 0x00B0 },
	{ "divide", 0x00F7 }, { "eacute", 0x00E9 }, { "ecirc", 0x00EA },
	{ "egrave", 0x00E8 }, { "emsp", 0x2003 }, { "ensp", 0x2002 },
	{ "euml", 0x00EB }, { "euro", 0x20AC }, { "frac12", 0x00BD },
	{ "frac14", 0x00BC }, { "frac34", 0x00BE }, { "gt", 0x003E },
	{ "hellip", 0x2026 }, { "iacute", 0x00ED }, { "icirc", 0x00EE },
	{ "iexcl", 0x00A1 }, { "igrave", 0x00EC }, { "iquest", 0x00BF },
	{ "iuml", 0x00EF }, { "laquo", 0x00AB }, { "ldquo", 0x201C },
	{ "lrm", 0x200E }, { "lsaquo", 0x2039 }, { "lsquo", 0x2018 },
	{ "lt", 0x003C }, { "mdash", 0x2014 }, { "micro", 0x00B5 },
	{ "middot", 0x00B7 }, { "minus", 0x2212 }, { "nbsp", 0x0020 },
	{ "ndash", 0x2013 }, { "ntilde", 0x00F1 }, { "oacute", 0x00F3 },
	{ "ocirc", 0x00F4 }, { "oelig", 0x0153 }, { "ograve", 0x00F2 },
	{ "oslash", 0x00F8 }, { "otilde", 0x00F5 }, { "ouml", 0x00F6 },
	{ "para", 0x00B6 }, { "plusmn", 0x00B1 }, { "pound", 0x00A3 },
	{ "quot", 0x0022 }, { "raquo", 0x00BB }, { "rdquo", 0x201D },
	{ "reg", 0x00AE }, { "rlm", 0x200F }, { "rsaquo", 0x203A },
	{ "rsquo", 0x2019 }, { "sbquo", 0x201A }, { "scaron", 0x0161 },
	{ "sect", 0x00A7 }, { "shy", 0x00AD }, { "szlig", 0x00DF },
	{ "thinsp", 0x2009 }, { "times", 0x00D7 }, { "trade", 0x2122 },
	{ "uacute", 0x00FA }, { "ucirc", 0x00FB }, { "ugrave", 0x00F9 },
	{ "uml", 0x00A8 }, { "uuml", 0x00FC }, { "yacute", 0x00FD },
	{ "yen", 0x00A5 }, { "yuml", 0x00FF }, { "zwj", 0x200D },
	{ "zwnj", 0x200C },
};

/* The longest name above: a longer run of letters is no entity we know. */
#define MAX_ENTITY_NAME 6

static int entity_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct named_entity *)elem)->name);
}

/* Decodes the character reference at p ('&'). Returns the position after
 * it, or NULL when p starts none we know (the '&' is then text). Numeric
 * references follow HTML: the ';' may be missing, 0x80..0x9F mean
 * windows-1252, and NUL, surrogates and values past U+10FFFF give U+FFFD. */
static const char *html_entity(const char *p, const char *end, gunichar *c_r)
{
	const char *q = p + 1;
	char name[MAX_ENTITY_NAME + 1];
	const struct named_entity *e;
	size_t n;

	if (q < end && *q == '#') {
		bool hex = false;
		uint32_t v = 0;
		const char *digits;

		q++;
		if (q < end && (*q == 'x' || *q == 'X')) {
			hex = true;
			q++;
		}
		digits = q;
		for (; q < end && (hex ? g_ascii_isxdigit(*q) : g_ascii_isdigit(*q)); q++) {
			v = v * (hex ? 16 : 10) + (uint32_t)g_ascii_xdigit_value(*q);
			if (v > 0x10FFFF)
				v = 0x110000;  /* stays out of range, never overflows */
		}
		if (q == digits)
			return NULL;
		if (q < end && *q == ';')
			q++;
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		else if (v >= 0x80 && v <= 0x9F)
			v = cp1252_high[v - 0x80];
		*c_r = v;
		return q;
	}
	while (q < end && g_ascii_isalnum(*q) && (size_t)(q - p - 1) <= MAX_ENTITY_NAME)
		q++;
	n = (size_t)(q - p - 1);
	if (q >= end || *q != ';' || n == 0 || n > MAX_ENTITY_NAME)
		return NULL;
	memcpy(name, p + 1, n);
	name[n] = '\0';
	e = bsearch(name, named_entities, G_N_ELEMENTS(named_entities),
		sizeof(named_entities[0]), entity_cmp);
	if (e == NULL)
		return NULL;
	*c_r = e->cp;
	return q + 1;
}

struct html_text {
	GString *out;
	bool space;  /* source white space since the last text */
	int breaks;  /* line breaks at the end of out */
};

/* Source white space collapses to one space as a browser shows it; line
 * breaks come only from the markup, at most a blank line in a row. */
static void html_put_text(struct html_text *h, const char *s, size_t n)
{
	if (h->space && h->out->len > 0 && h->breaks == 0)
		g_string_append_c(h->out, ' ');
	h->space = false;
	h->breaks = 0;
	g_string_append_len(h->out, s, (gssize)n);
}

static void html_put_break(struct html_text *h)
{
	h->space = false;
	if (h->out->len == 0 || h->breaks >= 2)
		return;
	g_string_append_c(h->out, '\n');
	h->breaks++;
}

static bool html_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* True when the tag name at q (up to end) is name, case-insensitively, and
 * ends there. */
static bool tag_name_is(const char *q, const char *end, const char *name)
{
	size_t n = strlen(name);

	return (size_t)(end - q) >= n && g_ascii_strncasecmp(q, name, n) == 0
		&& (q + n == end || !g_ascii_isalnum(q[n]));
}

static bool tag_in(const char *name, const char *end, const char *const *names)
{
	for (; *names != NULL; names++)
		if (tag_name_is(name, end, *names))
			return true;
	return false;
}

/* Elements whose contents are never shown. */
static const char *const hidden_tags[] = { "head", "style", "script", "title", NULL };
/* Elements that start and end a line. */
static const char *const block_tags[] = {
	"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
	"ul", "ol", "dl", "dt", "dd", "table", "blockquote", "pre", NULL,
};
static const char *const cell_tags[] = { "td", "th", NULL };

/* The '>' that ends the tag whose attributes start at p, or end. A quote
 * only opens a value right after '=', so a stray one in broken markup does
 * not swallow the document. */
static const char *tag_end(const char *p, const char *end)
{
	char quote = '\0';
	bool after_eq = false;

	for (; p < end; p++) {
		char ch = *p;

		if (quote != '\0') {
			if (ch == quote)
				quote = '\0';
			continue;
		}
		if (ch == '>')
			return p;
		if ((ch == '"' || ch == '\'') && after_eq) {
			quote = ch;
			after_eq = false;
		} else if (ch == '=') {
			after_eq = true;
		} else if (!html_is_space(ch)) {
			after_eq = false;
		}
	}
	return end;
}

/* Where the contents of a hidden element opened before p end: at its
 * "</name", or for <head> also at "<body" (the end tag may be left out), or
 * at end when it is never closed (a cut document: nothing shown yet). */
static const char *hidden_end(const char *p, const char *end, const char *name)
{
	bool head = tag_name_is(name, end, "head");
	size_t n = strlen(name);

	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		const char *q = p + 1;

		if (q < end && *q == '/' && (size_t)(end - q - 1) >= n
			&& g_ascii_strncasecmp(q + 1, name, n) == 0
			&& (q + 1 + n == end || !g_ascii_isalnum(q[1 + n])))
			return p;
		if (head && tag_name_is(q, end, "body"))
			return p;
		p = q;
	}
	return end;
}

/* Handles the markup at p ('<'); returns where text goes on. */
static const char *html_tag(struct html_text *h, const char *p, const char *end)
{
	const char *q = p + 1;
	const char *name, *gt;
	bool closing = false;

	if (q < end && (*q == '!' || *q == '?')) {
		/* comment, doctype, CDATA, processing instruction */
		if (*q == '!' && end - q >= 3 && q[1] == '-' && q[2] == '-') {
			for (q += 3; (q = memchr(q, '-', (size_t)(end - q))) != NULL; q++)
				if (end - q >= 3 && q[1] == '-' && q[2] == '>')
					return q + 3;
			return end;
		}
		gt = memchr(q, '>', (size_t)(end - q));
		return gt != NULL ? gt + 1 : end;
	}
	if (q < end && *q == '/') {
		closing = true;
		q++;
	}
	if (q >= end || !g_ascii_isalpha(*q)) {
		/* "a < b": text, as a browser shows it */
		html_put_text(h, p, 1);
		return p + 1;
	}
	name = q;
	while (q < end && g_ascii_isalnum(*q))
		q++;
	gt = tag_end(q, end);
	if (gt >= end)
		return end;  /* cut inside a tag */
	if (!closing && gt[-1] != '/') {
		for (const char *const *t = hidden_tags; *t != NULL; t++)
			if (tag_name_is(name, end, *t))
				return hidden_end(gt + 1, end, *t);
	}
	if (tag_in(name, end, block_tags))
		html_put_break(h);
	else if (tag_in(name, end, cell_tags))
		h->space = true;
	return gt + 1;
}

char *mb_text_html_to_text(const char *html, size_t len)
{
	struct html_text h = { .out = g_string_sized_new(MIN(len, 65536) + 1) };
	const char *p = html;
	const char *end;

	if (html == NULL)
		return g_string_free(h.out, FALSE);
	end = html + len;
	while (p < end) {
		char ch = *p;
		gunichar c;
		const char *q;

		if (ch == '<') {
			p = html_tag(&h, p, end);
		} else if (ch == '&' && (q = html_entity(p, end, &c)) != NULL) {
			char buf[6];

			html_put_text(&h, buf, (size_t)g_unichar_to_utf8(c, buf));
			p = q;
		} else if (html_is_space(ch)) {
			h.space = true;
			p++;
		} else if (ch == '\0') {
			p++;
		} else {
			html_put_text(&h, p, 1);
			p++;
		}
	}
	while (h.out->len > 0 && h.out->str[h.out->len - 1] == '\n')
		g_string_truncate(h.out, h.out->len - 1);
	return g_string_free(h.out, FALSE);
}

/* ---- previews ---- */

/* Characters a preview leaves out besides controls: bidi controls (as
 * mb_text_sanitize) and the invisible ones newsletters pad their hidden
 * "preheader" with (&zwnj;&nbsp; repeated, soft hyphens, U+034F), which
 * would fill the preview with nothing. ZWJ stays: emoji sequences need it. */
static bool preview_drops(gunichar c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || is_bidi_control(c)
		|| c == 0x00AD || c == 0x034F || c == 0x061C || c == 0x180E
		|| c == 0x200B || c == 0x200C || c == 0x200E || c == 0x200F
		|| c == 0x2060 || c == 0xFEFF;
}

static bool preview_space(gunichar c)
{
	return c == 0x85 || g_unichar_isspace(c);
}

char *mb_text_preview(const char *text, size_t len, size_t max_chars)
{
	GString *out = g_string_new(NULL);
	const char *p = text;
	const char *end;
	size_t chars = 0;
	bool space = false;
	bool in_invalid = false;
	bool cut = false;

	if (text == NULL || max_chars == 0)
		return g_string_free(out, FALSE);
	end = text + len;
	/* stops at the first character past max_chars: the work is bounded
	 * by max_chars, not by len, once text is found */
	while (p < end) {
		gunichar c = next_char(&p, end, &in_invalid);

		if (c == 0)
			continue;
		if (preview_space(c)) {
			space = chars > 0;
			continue;
		}
		if (preview_drops(c))
			continue;
		if (chars + (space ? 1 : 0) >= max_chars) {
			cut = true;
			break;
		}
		if (space) {
			g_string_append_c(out, ' ');
			chars++;
			space = false;
		}
		g_string_append_unichar(out, c);
		chars++;
	}
	if (cut) {
		/* room for the ellipsis, and no space before it */
		if (chars >= max_chars) {
			const char *last = g_utf8_find_prev_char(out->str,
				out->str + out->len);

			g_string_truncate(out, last != NULL ? (size_t)(last - out->str) : 0);
		}
		while (out->len > 0 && out->str[out->len - 1] == ' ')
			g_string_truncate(out, out->len - 1);
		g_string_append(out, "\u2026");
	}
	return g_string_free(out, FALSE);
}
