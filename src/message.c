/* Message fields from an IMAP ENVELOPE, decoded and sanitized.
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
 * - control and bidi characters: removed by mb_message_sanitize() at the end,
 *   whatever produced them.
 * It keeps no GMime objects beyond one parser options object. */
#define G_LOG_DOMAIN "mailbell"

#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "message.h"

/* RFC 2047 words are at most 75 octets; charset names in the IANA registry
 * are at most 40. Longer names are not charsets. */
#define MAX_CHARSET 40
/* Known/unknown verdicts are cached; mail from hostile senders could name
 * endless different charsets, so the cache stops growing here. */
#define MAX_CHARSET_CACHE 256

static GMimeParserOptions *parser_options;
static GHashTable *charset_cache;

void mb_message_library_init(void)
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

char *mb_message_sanitize(const char *text, size_t len)
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
static char *raw_to_utf8(const char *raw, size_t len)
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

char *mb_message_decode_header(const char *raw, size_t len)
{
	char *utf8, *decoded, *result;

	if (raw == NULL)
		return g_strdup("");
	mb_message_library_init();
	utf8 = raw_to_utf8(raw, len);
	decoded = decode_words(utf8);
	result = mb_message_sanitize(decoded, strlen(decoded));
	g_free(decoded);
	g_free(utf8);
	return result;
}

/* ---- FETCH items ---- */

static bool is_nstring(const struct mb_imap_value *v)
{
	return v->type == MB_IMAP_NIL || v->type == MB_IMAP_STRING;
}

static bool is_string(const struct mb_imap_value *v)
{
	return v != NULL && v->type == MB_IMAP_STRING && v->str != NULL;
}

static bool value_is(const struct mb_imap_value *v, const char *s)
{
	return is_string(v) && v->len == strlen(s) && strcmp(v->str, s) == 0;
}

/* Items come in name/value pairs; walking pairs means a value can never be
 * taken for a name. */
static const struct mb_imap_value *fetch_item(const struct mb_imap_value *list,
	const char *name)
{
	for (size_t i = 0; i + 1 < list->n_items; i += 2) {
		const struct mb_imap_value *key = &list->items[i];

		if (key->type == MB_IMAP_ATOM && key->str != NULL
			&& key->len == strlen(name)
			&& g_ascii_strcasecmp(key->str, name) == 0)
			return &list->items[i + 1];
	}
	return NULL;
}

static bool parse_u32(const struct mb_imap_value *v, bool allow_zero, uint32_t *out)
{
	uint64_t n = 0;

	if (v == NULL || v->type != MB_IMAP_ATOM || v->str == NULL
		|| v->len == 0 || v->len > 10)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v->str[i] - '0');
	}
	if (n > UINT32_MAX || (n == 0 && !allow_zero))
		return false;
	*out = (uint32_t)n;
	return true;
}

static bool flags_have_seen(const struct mb_imap_value *flags)
{
	if (flags == NULL || flags->type != MB_IMAP_LIST)
		return false;
	for (size_t i = 0; i < flags->n_items; i++) {
		const struct mb_imap_value *f = &flags->items[i];

		if (f->type == MB_IMAP_ATOM && f->str != NULL && f->len == 5
			&& g_ascii_strcasecmp(f->str, "\\Seen") == 0)
			return true;
	}
	return false;
}

/* ---- ENVELOPE ---- */

enum {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_FIELDS,
};

enum { ADDR_NAME, ADDR_ADL, ADDR_MAILBOX, ADDR_HOST };

/* NIL, or a list of addresses, each (name adl mailbox host) of nstrings. */
static bool address_list_valid(const struct mb_imap_value *v)
{
	if (v->type == MB_IMAP_NIL)
		return true;
	if (v->type != MB_IMAP_LIST)
		return false;
	for (size_t i = 0; i < v->n_items; i++) {
		const struct mb_imap_value *a = &v->items[i];

		if (a->type != MB_IMAP_LIST || a->n_items < 4)
			return false;
		for (size_t j = 0; j < 4; j++)
			if (!is_nstring(&a->items[j]))
				return false;
	}
	return true;
}

static bool envelope_valid(const struct mb_imap_value *env)
{
	if (env->type != MB_IMAP_LIST || env->n_items < ENV_FIELDS)
		return false;
	for (size_t i = 0; i < ENV_FIELDS; i++) {
		bool ok;

		switch (i) {
		case ENV_DATE:
		case ENV_SUBJECT:
		case ENV_IN_REPLY_TO:
		case ENV_MESSAGE_ID:
			ok = is_nstring(&env->items[i]);
			break;
		default:
			ok = address_list_valid(&env->items[i]);
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Placeholders servers put in for a missing part: Dovecot for "From: <>" or
 * an address without a domain (R23), UW imapd for unparsable addresses. */
static bool mailbox_missing(const struct mb_imap_value *v)
{
	return !is_string(v) || v->len == 0 || value_is(v, "MISSING_MAILBOX")
		|| value_is(v, "UNEXPECTED_DATA_AFTER_ADDRESS");
}

static bool host_missing(const struct mb_imap_value *v)
{
	return !is_string(v) || v->len == 0 || value_is(v, "MISSING_DOMAIN")
		|| value_is(v, ".MISSING-HOST-NAME.") || value_is(v, ".SYNTAX-ERROR.")
		|| value_is(v, "SYNTAX_ERROR");
}

static bool is_group_end(const struct mb_imap_value *a)
{
	return a->items[ADDR_NAME].type == MB_IMAP_NIL
		&& a->items[ADDR_MAILBOX].type == MB_IMAP_NIL
		&& a->items[ADDR_HOST].type == MB_IMAP_NIL;
}

/* RFC 3501: a NIL host marks the start of a group, whose name is in the
 * mailbox field. A bare local address ("From: root") looks the same on some
 * servers, so it only counts as a group start when a group end follows
 * (last_end is the index of the last group end, or SIZE_MAX for none). */
static bool is_group_start(const struct mb_imap_value *a, size_t i, size_t last_end)
{
	return a->items[ADDR_MAILBOX].type != MB_IMAP_NIL
		&& a->items[ADDR_HOST].type == MB_IMAP_NIL
		&& last_end != SIZE_MAX && i < last_end;
}

static bool address_has_name(const struct mb_imap_value *a)
{
	const struct mb_imap_value *name = &a->items[ADDR_NAME];

	return is_string(name) && name->len > 0;
}

/* First address in list that is not a group marker and has a mailbox (or,
 * with need_mailbox false, a display name). */
static const struct mb_imap_value *pick_address(const struct mb_imap_value *list,
	bool need_mailbox)
{
	size_t last_end = SIZE_MAX;

	if (list->type != MB_IMAP_LIST)
		return NULL;
	for (size_t i = 0; i < list->n_items; i++)
		if (is_group_end(&list->items[i]))
			last_end = i;
	for (size_t i = 0; i < list->n_items; i++) {
		const struct mb_imap_value *a = &list->items[i];

		if (is_group_end(a) || is_group_start(a, i, last_end))
			continue;
		if (need_mailbox ? !mailbox_missing(&a->items[ADDR_MAILBOX])
			: address_has_name(a))
			return a;
	}
	return NULL;
}

static void set_from_fields(struct mb_message *msg, char *name, char *address);

static void set_sender(struct mb_message *msg, const struct mb_imap_value *env)
{
	const struct mb_imap_value *from = &env->items[ENV_FROM];
	const struct mb_imap_value *sender = &env->items[ENV_SENDER];
	const struct mb_imap_value *a;
	char *name = NULL;
	char *address = NULL;

	a = pick_address(from, true);
	if (a == NULL)
		a = pick_address(sender, true);
	if (a == NULL)
		a = pick_address(from, false);
	if (a == NULL)
		a = pick_address(sender, false);

	if (a != NULL) {
		const struct mb_imap_value *n = &a->items[ADDR_NAME];
		const struct mb_imap_value *mbox = &a->items[ADDR_MAILBOX];
		const struct mb_imap_value *host = &a->items[ADDR_HOST];

		if (is_string(n))
			name = mb_message_decode_header(n->str, n->len);
		if (!mailbox_missing(mbox)) {
			char *local = mb_message_sanitize(mbox->str, mbox->len);

			if (!host_missing(host)) {
				char *domain = mb_message_sanitize(host->str, host->len);

				address = g_strconcat(local, "@", domain, NULL);
				g_free(domain);
				g_free(local);
			} else {
				address = local;
			}
		}
	}
	set_from_fields(msg, name, address);
}

/* Takes ownership of name and address (either may be NULL). */
static void set_from_fields(struct mb_message *msg, char *name, char *address)
{
	if (name == NULL)
		name = g_strdup("");
	if (address == NULL)
		address = g_strdup("");

	if (*name != '\0' && *address != '\0')
		msg->from = g_strdup_printf("%s <%s>", name, address);
	else if (*address != '\0')
		msg->from = g_strdup(address);
	else if (*name != '\0')
		msg->from = g_strdup(name);
	else
		msg->from = g_strdup("(unknown sender)");
	msg->from_name = name;
	msg->from_address = address;
}

/* RFC 3339 with a numeric offset; formatted by hand because GLib's %Y does
 * not pad years below 1000 to four digits. */
static char *format_date_text(const char *raw, size_t len)
{
	GDateTime *dt;
	char *text;
	char *result = NULL;

	text = mb_message_sanitize(raw, len);
	dt = g_mime_utils_header_decode_date(text);
	g_free(text);
	if (dt != NULL) {
		GTimeSpan offset = g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE;
		int year, month, day;
		char sign = offset < 0 ? '-' : '+';

		if (offset < 0)
			offset = -offset;
		g_date_time_get_ymd(dt, &year, &month, &day);
		if (offset < 24 * 60 && year >= 1 && year <= 9999)
			result = g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
				year, month, day, g_date_time_get_hour(dt),
				g_date_time_get_minute(dt), g_date_time_get_second(dt),
				sign, (int)(offset / 60), (int)(offset % 60));
		g_date_time_unref(dt);
	}
	return result != NULL ? result : g_strdup("");
}

static char *format_date(const struct mb_imap_value *v)
{
	return is_string(v) ? format_date_text(v->str, v->len) : g_strdup("");
}

/* --- header fields (BODY.PEEK[HEADER.FIELDS (...)]) ------------------------ */

/* The unfolded raw value of the first field called name in a header block,
 * or NULL. RFC 5322 2.2.3: a line starting with white space continues the
 * field before it. */
static char *header_field(const char *hdr, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = hdr, *end = hdr + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if ((size_t)(end - p) > nlen && g_ascii_strncasecmp(p, name, nlen) == 0) {
			const char *q = p + nlen;
			while (q < next && (*q == ' ' || *q == '\t'))
				q++;
			if (q < next && *q == ':') {
				GString *v = g_string_new_len(q + 1, (gssize)(next - q - 1));
				while (next < end && (*next == ' ' || *next == '\t')) {
					const char *e2 = memchr(next, '\n', (size_t)(end - next));
					const char *n2 = e2 ? e2 + 1 : end;
					g_string_append_len(v, next, (gssize)(n2 - next));
					next = n2;
				}
				/* unfolding drops the line breaks, keeps the white space */
				char *out = g_string_free(v, FALSE), *o = out;
				for (const char *c = out; *c; c++)
					if (*c != '\r' && *c != '\n')
						*o++ = *c;
				*o = '\0';
				return g_strstrip(out);
			}
		}
		p = next;
	}
	return NULL;
}

/* First real mailbox of an address list header (groups looked into). */
static bool parse_address(const char *raw, char **name_r, char **address_r)
{
	char *utf8 = raw_to_utf8(raw, strlen(raw));
	InternetAddressList *list = internet_address_list_parse(parser_options, utf8);
	g_free(utf8);
	bool found = false;
	for (int i = 0; list && i < internet_address_list_length(list) && !found; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		InternetAddressList *members = NULL;
		if (INTERNET_ADDRESS_IS_GROUP(ia))
			members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
		int n = members ? internet_address_list_length(members) : 1;
		for (int j = 0; j < n && !found; j++) {
			InternetAddress *m = members ? internet_address_list_get_address(members, j) : ia;
			if (!INTERNET_ADDRESS_IS_MAILBOX(m))
				continue;
			const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(m));
			const char *name = internet_address_get_name(m);
			if ((!addr || !*addr) && (!name || !*name))
				continue;
			*address_r = mb_message_sanitize(addr ? addr : "", addr ? strlen(addr) : 0);
			*name_r = mb_message_sanitize(name ? name : "", name ? strlen(name) : 0);
			found = true;
		}
	}
	if (list)
		g_object_unref(list);
	return found;
}

static void set_from_headers(struct mb_message *msg, const struct mb_imap_value *hdr)
{
	static const char *const senders[] = { "From", "Sender" };
	char *name = NULL, *address = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(senders) && !address; i++) {
		char *raw = header_field(hdr->str, hdr->len, senders[i]);
		if (raw)
			parse_address(raw, &name, &address);
		g_free(raw);
	}
	set_from_fields(msg, name, address);

	char *raw = header_field(hdr->str, hdr->len, "Subject");
	msg->subject = raw ? mb_message_decode_header(raw, strlen(raw)) : g_strdup("");
	g_free(raw);
	raw = header_field(hdr->str, hdr->len, "Date");
	msg->date = raw ? format_date_text(raw, strlen(raw)) : g_strdup("");
	g_free(raw);
	raw = header_field(hdr->str, hdr->len, "Message-ID");
	msg->message_id = raw ? mb_message_sanitize(raw, strlen(raw)) : g_strdup("");
	g_free(raw);
}

/* Every BODY[HEADER.FIELDS (...)]<0> item, whatever the field lists,
 * joined into one header block; NULL when there is none. */
static struct mb_imap_value *header_items(const struct mb_imap_value *list)
{
	GString *block = NULL;
	for (size_t i = 0; i + 1 < list->n_items; i += 2) {
		const struct mb_imap_value *k = &list->items[i];
		const struct mb_imap_value *v = &list->items[i + 1];
		if (k->type != MB_IMAP_ATOM || g_ascii_strncasecmp(k->str, "BODY[HEADER.FIELDS", 18) != 0
		    || !is_string(v))
			continue;
		if (!block)
			block = g_string_new(NULL);
		g_string_append_len(block, v->str, (gssize)v->len);
		g_string_append(block, "\r\n");
	}
	if (!block)
		return NULL;
	struct mb_imap_value *hdr = g_new0(struct mb_imap_value, 1);
	hdr->type = MB_IMAP_STRING;
	hdr->len = block->len;
	hdr->str = g_string_free(block, FALSE);
	return hdr;
}

struct mb_message *mb_message_from_fetch(const struct mb_imap_value *fetch_list,
	const char *account, const char *mailbox, uint32_t uidvalidity,
	const char **errstr_r)
{
	const struct mb_imap_value *uid, *env, *size, *subject, *message_id;
	struct mb_message *msg;
	const char *dummy;

	if (errstr_r == NULL)
		errstr_r = &dummy;
	if (fetch_list == NULL || fetch_list->type != MB_IMAP_LIST) {
		*errstr_r = "malformed FETCH response";
		return NULL;
	}
	uid = fetch_item(fetch_list, "UID");
	if (uid == NULL) {
		*errstr_r = "FETCH without UID";
		return NULL;
	}
	env = fetch_item(fetch_list, "ENVELOPE");
	if (env != NULL && !envelope_valid(env)) {
		*errstr_r = "malformed ENVELOPE";
		return NULL;
	}

	mb_message_library_init();
	msg = g_new0(struct mb_message, 1);
	if (!parse_u32(uid, false, &msg->uid)) {
		g_free(msg);
		*errstr_r = "FETCH with an invalid UID";
		return NULL;
	}
	msg->account = g_strdup(account != NULL ? account : "");
	msg->mailbox = g_strdup(mailbox != NULL ? mailbox : "");
	msg->uidvalidity = uidvalidity;
	size = fetch_item(fetch_list, "RFC822.SIZE");
	if (size == NULL || !parse_u32(size, true, &msg->size))
		msg->size = 0;
	msg->seen = flags_have_seen(fetch_item(fetch_list, "FLAGS"));

	struct mb_imap_value *hdr = env == NULL ? header_items(fetch_list) : NULL;
	if (hdr != NULL) {
		set_from_headers(msg, hdr);
		g_free(hdr->str);
		g_free(hdr);
		return msg;
	}
	if (env == NULL) {
		msg->from_name = g_strdup("");
		msg->from_address = g_strdup("");
		msg->from = g_strdup("(unknown sender)");
		msg->subject = g_strdup("");
		msg->date = g_strdup("");
		msg->message_id = g_strdup("");
		return msg;
	}

	set_sender(msg, env);
	subject = &env->items[ENV_SUBJECT];
	msg->subject = is_string(subject)
		? mb_message_decode_header(subject->str, subject->len) : g_strdup("");
	msg->date = format_date(&env->items[ENV_DATE]);
	message_id = &env->items[ENV_MESSAGE_ID];
	msg->message_id = is_string(message_id)
		? mb_message_sanitize(message_id->str, message_id->len) : g_strdup("");
	return msg;
}

char *mb_message_ellipsize(const char *text, size_t max_bytes)
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

void mb_message_destroy(struct mb_message *msg)
{
	if (msg == NULL)
		return;
	g_free(msg->account);
	g_free(msg->mailbox);
	g_free(msg->from_name);
	g_free(msg->from_address);
	g_free(msg->from);
	g_free(msg->subject);
	g_free(msg->date);
	g_free(msg->message_id);
	g_free(msg);
}
