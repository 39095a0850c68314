/* Tests for src/message.c: header decoding (cases/headers.md H1..H12),
 * ENVELOPE handling (cases/imap-responses.md R22..R24) and sanitizing.
 *
 * FETCH item lists are written in IMAP syntax and turned into value trees by
 * a small reader below, so these tests do not depend on the real parser;
 * the tests at the end run the same wire text through it as well. */
#define G_LOG_DOMAIN "mailbell"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "message.h"
#include "text.h"

/* ---- value constructors ---- */

static struct mb_imap_value *v_new(enum mb_imap_value_type type)
{
	struct mb_imap_value *v = g_new0(struct mb_imap_value, 1);

	v->type = type;
	return v;
}

static struct mb_imap_value *v_bytes(enum mb_imap_value_type type, const char *s,
	size_t len, bool literal)
{
	struct mb_imap_value *v = v_new(type);

	v->str = g_malloc(len + 1);
	memcpy(v->str, s, len);
	v->str[len] = '\0';
	v->len = len;
	v->literal = literal;
	return v;
}

/* Moves item into list (item's shell is freed). */
static void v_append(struct mb_imap_value *list, struct mb_imap_value *item)
{
	list->items = g_renew(struct mb_imap_value, list->items, list->n_items + 1);
	list->items[list->n_items++] = *item;
	g_free(item);
}

static void v_finish(struct mb_imap_value *v)
{
	g_free(v->str);
	for (size_t i = 0; i < v->n_items; i++)
		v_finish(&v->items[i]);
	g_free(v->items);
}

static void v_free(struct mb_imap_value *v)
{
	if (v == NULL)
		return;
	v_finish(v);
	g_free(v);
}

/* ---- a reader for test input: NIL, atoms (with [...] sections), quoted
 * strings, {N}\r\n literals and lists ---- */

static struct mb_imap_value *read_value(const char **pp, const char *end)
{
	const char *p = *pp;
	struct mb_imap_value *v;

	while (p < end && *p == ' ')
		p++;
	ck_assert_msg(p < end, "test input ends early");
	if (*p == '(') {
		v = v_new(MB_IMAP_LIST);
		p++;
		for (;;) {
			while (p < end && *p == ' ')
				p++;
			ck_assert_msg(p < end, "unterminated list in test input");
			if (*p == ')') {
				p++;
				break;
			}
			v_append(v, read_value(&p, end));
		}
	} else if (*p == '"') {
		GString *s = g_string_new(NULL);

		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			g_string_append_c(s, *p);
		}
		ck_assert_msg(p < end, "unterminated string in test input");
		p++;
		v = v_bytes(MB_IMAP_STRING, s->str, s->len, false);
		g_string_free(s, TRUE);
	} else if (*p == '{') {
		char *num_end;
		size_t n = strtoul(p + 1, &num_end, 10);

		ck_assert(num_end[0] == '}' && num_end[1] == '\r' && num_end[2] == '\n');
		p = num_end + 3;
		ck_assert((size_t)(end - p) >= n);
		v = v_bytes(MB_IMAP_STRING, p, n, true);
		p += n;
	} else {
		const char *start = p;
		int depth = 0;

		while (p < end && (depth > 0 || (*p != ' ' && *p != '(' && *p != ')'))) {
			if (*p == '[')
				depth++;
			else if (*p == ']')
				depth--;
			p++;
		}
		ck_assert_msg(p > start, "unexpected character in test input");
		if (p - start == 3 && g_ascii_strncasecmp(start, "NIL", 3) == 0)
			v = v_new(MB_IMAP_NIL);
		else
			v = v_bytes(MB_IMAP_ATOM, start, p - start, false);
	}
	*pp = p;
	return v;
}

static struct mb_imap_value *read_len(const char *text, size_t len)
{
	const char *p = text;
	struct mb_imap_value *v = read_value(&p, text + len);

	ck_assert_msg(p == text + len, "trailing test input: %s", p);
	return v;
}

static struct mb_message *from_fetch_len(const char *text, size_t len,
	const char **errstr_r)
{
	struct mb_imap_value *v = read_len(text, len);
	struct mb_message *msg;

	*errstr_r = NULL;
	msg = mb_message_from_fetch(v, "work", "INBOX", 42, errstr_r);
	v_free(v);
	return msg;
}

static struct mb_message *from_fetch(const char *text, const char **errstr_r)
{
	return from_fetch_len(text, strlen(text), errstr_r);
}

/* A FETCH list whose ENVELOPE has the given date, subject, from and sender
 * fields (IMAP syntax) and NIL elsewhere except the Message-ID. */
static struct mb_message *with_envelope(const char *date, const char *subject,
	const char *from, const char *sender)
{
	char *text = g_strdup_printf("(UID 7 ENVELOPE (%s %s %s %s NIL NIL NIL NIL NIL \"<id@x>\"))",
		date, subject, from, sender);
	const char *err;
	struct mb_message *msg = from_fetch(text, &err);

	ck_assert_msg(msg != NULL, "from_fetch failed: %s", err);
	g_free(text);
	return msg;
}

static struct mb_message *with_from(const char *from)
{
	return with_envelope("NIL", "NIL", from, "NIL");
}

static void assert_decodes(const char *raw, const char *expected)
{
	char *got = mb_text_decode_header(raw, strlen(raw));

	ck_assert_msg(strcmp(got, expected) == 0, "decode [%s]: got [%s], want [%s]",
		raw, got, expected);
	g_free(got);
}

static void assert_sanitizes_len(const char *text, size_t len, const char *expected)
{
	char *got = mb_text_sanitize(text, len);

	ck_assert_msg(strcmp(got, expected) == 0, "sanitize: got [%s], want [%s]",
		got, expected);
	ck_assert(g_utf8_validate(got, -1, NULL));
	g_free(got);
}

static void assert_sanitizes(const char *text, const char *expected)
{
	assert_sanitizes_len(text, strlen(text), expected);
}

/* ---- H1..H12 (cases/headers.md) ---- */

static const struct {
	const char *name;
	const char *raw;
	const char *expected;
} header_cases[] = {
	{ "H1", "=?UTF-8?B?SGVsbG8gw6l0w6k=?=", "Hello \xc3\xa9t\xc3\xa9" },
	{ "H2", "=?ISO-8859-1?Q?Caf=E9_au_lait?=", "Caf\xc3\xa9 au lait" },
	{ "H3", "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab" },
	{ "H4", "=?UTF-8?Q?a?= b", "a b" },
	{ "H5", "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
	/* GMime would decode this as "Hi" (x-unknown = locale charset) */
	{ "H6", "=?x-unknown?B?SGk=?=", "=?x-unknown?B?SGk=?=" },
	{ "H7", "=?UTF-8?Q?" "?=", "" },
	{ "H9", "<b>Win</b> & more", "<b>Win</b> & more" },
	{ "H10", "-rf /", "-rf /" },
	{ "H11", "=?windows-1252?Q?=93Quoted=94?=", "\xe2\x80\x9cQuoted\xe2\x80\x9d" },
	{ "H12", "Doe, Jane", "Doe, Jane" },
};

START_TEST(test_header_cases)
{
	assert_decodes(header_cases[_i].raw, header_cases[_i].expected);
}
END_TEST

START_TEST(test_h8_word_followed_by_text)
{
	const char *raw = "=?utf-8?q?foo?=bar";
	char *got = mb_text_decode_header(raw, strlen(raw));

	ck_assert_msg(strcmp(got, "foobar") == 0 || strcmp(got, raw) == 0, "got [%s]", got);
	g_free(got);
}
END_TEST

START_TEST(test_h3_folded)
{
	assert_decodes("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab");
	assert_decodes("=?UTF-8?Q?a?=\r\n\t=?UTF-8?Q?b?=", "ab");
}
END_TEST

START_TEST(test_h6_unknown_charset_among_known_words)
{
	assert_decodes("=?utf-8?q?a?= =?x-unknown?b?SGk=?= =?utf-8?q?b?=",
		"a =?x-unknown?b?SGk=?= b");
	/* GMime would drop the 0xE9 silently and show "caf" */
	assert_decodes("=?x-unknown?Q?caf=E9?=", "=?x-unknown?Q?caf=E9?=");
	assert_decodes("=?x-gbk?B?xOO6ww==?=", "=?x-gbk?B?xOO6ww==?=");
	/* odd characters in a charset name never reach iconv */
	assert_decodes("=?../../x?Q?a?=", "=?../../x?Q?a?=");
	/* an empty RFC 2231 language is still the charset before it */
	assert_decodes("=?UTF-8*?Q?x?=", "x");
}
END_TEST

START_TEST(test_known_charsets)
{
	assert_decodes("=?utf8?q?caf=C3=A9?=", "caf\xc3\xa9");
	assert_decodes("=?latin1?q?caf=E9?=", "caf\xc3\xa9");
	assert_decodes("=?ks_c_5601-1987?B?x9GxuQ==?=", "\xed\x95\x9c\xea\xb5\xad");
	/* RFC 1428's "unknown-8bit": best guess rather than the raw word */
	assert_decodes("=?unknown-8bit?q?caf=E9?=", "caf\xc3\xa9");
	/* a character split across two words */
	assert_decodes("=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?=", "caf\xc3\xa9");
}
END_TEST

START_TEST(test_unpadded_base64)
{
	/* GMime returns "" for these */
	assert_decodes("=?UTF-8?B?SGk?=", "Hi");
	assert_decodes("=?UTF-8?B?w6k?=", "\xc3\xa9");
	assert_decodes("=?UTF-8?B?SGk?= =?UTF-8?B?w6k?=", "Hi\xc3\xa9");
	assert_decodes("=?UTF-8?B?SGVsbG8=?=", "Hello");
	assert_decodes("=?UTF-8?B?S G\tk?=", "Hi");
}
END_TEST

START_TEST(test_adjacent_padded_base64)
{
	/* GMime gives "H" and "Hi" for these */
	assert_decodes("=?UTF-8?B?SA==?= =?UTF-8?B?aQ==?=", "Hi");
	assert_decodes("=?UTF-8?B?SGk=?= =?UTF-8?B?w6k=?=", "Hi\xc3\xa9");
	/* padding ends a quantum even inside one word */
	assert_decodes("=?UTF-8?B?SA==aQ==?=", "Hi");
	/* a character split across two padded words */
	assert_decodes("=?UTF-8?B?w6HD?= =?UTF-8?B?qQ==?=", "\xc3\xa1\xc3\xa9");
	assert_decodes("=?UTF-8?B?wg==?= =?UTF-8?B?qQ==?=", "\xc2\xa9");
	assert_decodes("=?UTF-16BE?B?AGgAaQ==?=", "hi");
	/* B and Q mixed */
	assert_decodes("=?UTF-8?B?SGk=?= =?UTF-8?Q?_x?=", "Hi x");
}
END_TEST

START_TEST(test_decoded_controls_removed)
{
	assert_decodes("=?UTF-8?Q?a=0D=0Ab?=", "a b");
	/* GMime turns a NUL into '?'; that is kept */
	assert_decodes("=?UTF-8?Q?a=00b=07c=7F?=", "a?bc");
	/* U+202E RIGHT-TO-LEFT OVERRIDE hidden in an encoded word */
	assert_decodes("=?UTF-8?Q?invoice=E2=80=AEfdp.exe?=", "invoicefdp.exe");
	assert_decodes("=?UTF-8?B?wp8=?=x", "x");  /* U+009F */
}
END_TEST

START_TEST(test_decode_malformed_words)
{
	assert_decodes("=?utf-8?q?x", "=?utf-8?q?x");
	assert_decodes("=?", "=?");
	assert_decodes("?=", "?=");
	assert_decodes("=?utf-8?x?foo?=", "=?utf-8?x?foo?=");
	assert_decodes("=??q?x?=", "=??q?x?=");
	assert_decodes("=?=?utf-8?q?a?=", "=?a");
	assert_decodes("", "");
}
END_TEST

START_TEST(test_decode_raw_8bit)
{
	/* R22: valid UTF-8 as is */
	assert_decodes("Caf\xc3\xa9 raw utf8 \xe2\x9c\x93", "Caf\xc3\xa9 raw utf8 \xe2\x9c\x93");
	/* windows-1252 */
	assert_decodes("Caf\xe9 \x93ok\x94 \x80", "Caf\xc3\xa9 \xe2\x80\x9cok\xe2\x80\x9d \xe2\x82\xac");
	/* mixed: the UTF-8 sequences stay, the rest is windows-1252 */
	assert_decodes("\xe2\x9c\x93 caf\xe9", "\xe2\x9c\x93 caf\xc3\xa9");
	/* 0x81 is unassigned in windows-1252 */
	assert_decodes("a\x81z", "a\xef\xbf\xbdz");
	/* 8-bit text next to an encoded word */
	assert_decodes("caf\xe9 =?UTF-8?Q?=E2=9C=93?=", "caf\xc3\xa9 \xe2\x9c\x93");
}
END_TEST

START_TEST(test_decode_nul_and_null)
{
	char *got = mb_text_decode_header("a\0b", 3);

	ck_assert_str_eq(got, "ab");
	g_free(got);
	got = mb_text_decode_header(NULL, 0);
	ck_assert_str_eq(got, "");
	g_free(got);
	assert_decodes("  \t padded \r\n ", "padded");
}
END_TEST

START_TEST(test_decode_many_unterminated_words)
{
	/* would be quadratic with a naive search for "?=" */
	GString *s = g_string_new(NULL);
	char *got;

	for (int i = 0; i < 20000; i++)
		g_string_append(s, "=?utf-8?q?x ");
	got = mb_text_decode_header(s->str, s->len);
	g_string_truncate(s, s->len - 1);
	ck_assert(strcmp(got, s->str) == 0);
	g_free(got);
	g_string_free(s, TRUE);
}
END_TEST

/* ---- sanitize ---- */

START_TEST(test_sanitize_controls)
{
	assert_sanitizes("a\x01" "b\x1b[31mc", "ab[31mc");
	assert_sanitizes("a\x7f" "b", "ab");
	assert_sanitizes("a\xc2\x85" "b\xc2\x80" "c\xc2\x9f", "abc");  /* C1 */
	assert_sanitizes("a\tb", "a b");
	assert_sanitizes("a\r\nb", "a b");
	assert_sanitizes("a \r\n\t b", "a b");
	assert_sanitizes("a\r\x01\nb", "a b");
	assert_sanitizes("a  b", "a  b");
	assert_sanitizes("a\xe2\x80\xa8" "b", "a b");  /* U+2028 */
	assert_sanitizes("\v\fx\f", "x");
}
END_TEST

START_TEST(test_sanitize_bidi)
{
	assert_sanitizes("a\xe2\x80\xaa" "b\xe2\x80\xab" "c\xe2\x80\xac" "d\xe2\x80\xad" "e\xe2\x80\xae" "f",
		"abcdef");
	assert_sanitizes("a\xe2\x81\xa6" "b\xe2\x81\xa7" "c\xe2\x81\xa8" "d\xe2\x81\xa9" "e", "abcde");
	/* neighbours of the ranges stay */
	assert_sanitizes("\xe2\x80\xa9x\xe2\x80\xafy\xe2\x81\xa5z\xe2\x81\xaa",
		"x\xe2\x80\xafy\xe2\x81\xa5z\xe2\x81\xaa");
	/* LRM and RLM are not overrides */
	assert_sanitizes("a\xe2\x80\x8e" "b", "a\xe2\x80\x8e" "b");
}
END_TEST

START_TEST(test_sanitize_invalid_utf8)
{
	assert_sanitizes("caf\xe9", "caf\xef\xbf\xbd");
	assert_sanitizes("a\xff\xfe" "b", "a\xef\xbf\xbd" "b");
	assert_sanitizes("\xc0\xaf", "\xef\xbf\xbd");           /* overlong '/' */
	assert_sanitizes("\xed\xa0\x80x", "\xef\xbf\xbdx");     /* surrogate */
	assert_sanitizes("x\xe2\x9c", "x\xef\xbf\xbd");         /* truncated */
	assert_sanitizes_len("a\0b", 3, "ab");
	assert_sanitizes_len("ab", 1, "a");
}
END_TEST

START_TEST(test_sanitize_trim)
{
	assert_sanitizes("   x y  ", "x y");
	assert_sanitizes("\xc2\xa0x\xc2\xa0y\xc2\xa0", "x\xc2\xa0y");
	assert_sanitizes(" \t\r\n ", "");
	assert_sanitizes("", "");
	assert_sanitizes_len(NULL, 0, "");
}
END_TEST

/* ---- FETCH ---- */

START_TEST(test_fetch_basic)
{
	const char *err;
	struct mb_message *msg = from_fetch("(UID 6 FLAGS (\\Seen \\Recent) RFC822.SIZE 4711 "
		"ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"Hello\" "
		"((\"Jane Doe\" NIL \"jane\" \"example.org\")) ((\"Jane Doe\" NIL \"jane\" \"example.org\")) "
		"NIL ((NIL NIL \"me\" \"example.com\")) NIL NIL NIL \"<abc@example.org>\"))", &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_str_eq(msg->account, "work");
	ck_assert_str_eq(msg->mailbox, "INBOX");
	ck_assert_uint_eq(msg->uid, 6);
	ck_assert_uint_eq(msg->uidvalidity, 42);
	ck_assert_uint_eq(msg->size, 4711);
	ck_assert(msg->seen);
	ck_assert_str_eq(msg->from_name, "Jane Doe");
	ck_assert_str_eq(msg->from_address, "jane@example.org");
	ck_assert_str_eq(msg->from, "Jane Doe <jane@example.org>");
	ck_assert_str_eq(msg->subject, "Hello");
	ck_assert_str_eq(msg->date, "1996-07-17T02:23:25-07:00");
	ck_assert_str_eq(msg->message_id, "<abc@example.org>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_item_names_case_insensitive)
{
	const char *err;
	struct mb_message *msg = from_fetch("(rfc822.size 12 flags (\\SEEN) uid 9 envelope "
		"(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL))", &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_uint_eq(msg->uid, 9);
	ck_assert_uint_eq(msg->size, 12);
	ck_assert(msg->seen);
	ck_assert_str_eq(msg->subject, "s");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_without_uid)
{
	const char *err;

	ck_assert_ptr_null(from_fetch("(FLAGS (\\Seen) RFC822.SIZE 4)", &err));
	ck_assert_str_eq(err, "FETCH without UID");
	ck_assert_ptr_null(from_fetch("()", &err));
	ck_assert_str_eq(err, "FETCH without UID");
	/* a value that reads "UID" is not the UID item */
	ck_assert_ptr_null(from_fetch("(X-FOO UID)", &err));
	ck_assert_str_eq(err, "FETCH without UID");
	ck_assert_ptr_null(mb_message_from_fetch(NULL, "a", "b", 1, &err));
	ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_fetch_invalid_uid)
{
	static const char *bad[] = {
		"(UID 0)", "(UID abc)", "(UID 4294967296)", "(UID -1)", "(UID \"5\")",
		"(UID NIL)", "(UID (5))", "(UID 12345678901)",
	};
	const char *err;
	struct mb_message *msg;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		ck_assert_msg(from_fetch(bad[i], &err) == NULL, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(err);
	}
	msg = from_fetch("(UID 4294967295)", &err);
	ck_assert_ptr_nonnull(msg);
	ck_assert_uint_eq(msg->uid, 4294967295u);
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_missing_envelope)
{
	const char *err;
	struct mb_message *msg = from_fetch("(UID 3 FLAGS ())", &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_uint_eq(msg->uid, 3);
	ck_assert(!msg->seen);
	ck_assert_uint_eq(msg->size, 0);
	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	ck_assert_str_eq(msg->subject, "");
	ck_assert_str_eq(msg->date, "");
	ck_assert_str_eq(msg->message_id, "");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_nil_everywhere)
{
	const char *err;
	struct mb_message *msg = from_fetch("(UID 3 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))", &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	ck_assert_str_eq(msg->subject, "");
	ck_assert_str_eq(msg->date, "");
	ck_assert_str_eq(msg->message_id, "");
	mb_message_destroy(msg);

	/* NIL inside an address */
	msg = with_from("((NIL NIL NIL \"example.org\"))");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_malformed_envelope)
{
	static const char *bad[] = {
		"(UID 1 ENVELOPE NIL)",
		"(UID 1 ENVELOPE \"x\")",
		"(UID 1 ENVELOPE ())",
		"(UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (NIL (\"s\") NIL NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (DATE NIL NIL NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (NIL NIL \"a@b\" NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (NIL NIL (NIL) NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (NIL NIL ((NIL NIL \"a\" (\"b\"))) NIL NIL NIL NIL NIL NIL NIL))",
		"(UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL ((NIL NIL a b)) NIL NIL))",
		"(UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL (\"x\") NIL))",
		"(UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL ()))",
	};
	const char *err;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		ck_assert_msg(from_fetch(bad[i], &err) == NULL, "%s accepted", bad[i]);
		ck_assert_str_eq(err, "malformed ENVELOPE");
	}
}
END_TEST

START_TEST(test_fetch_envelope_extra_items)
{
	/* more than ten items: the extra ones are ignored */
	const char *err;
	struct mb_message *msg = from_fetch("(UID 1 ENVELOPE (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL x))", &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_str_eq(msg->subject, "s");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_seen_flag)
{
	static const struct {
		const char *text;
		bool seen;
	} cases[] = {
		{ "(UID 1 FLAGS (\\Seen))", true },
		{ "(UID 1 FLAGS (\\Recent \\seen))", true },
		{ "(UID 1 FLAGS ())", false },
		{ "(UID 1 FLAGS (\\Recent $Seen \\Seenx))", false },
		{ "(UID 1 FLAGS NIL)", false },
		{ "(UID 1)", false },
	};
	const char *err;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_message *msg = from_fetch(cases[i].text, &err);

		ck_assert_msg(msg != NULL, "%s: %s", cases[i].text, err);
		ck_assert_msg(msg->seen == cases[i].seen, "%s", cases[i].text);
		mb_message_destroy(msg);
	}
}
END_TEST

START_TEST(test_fetch_size)
{
	static const struct {
		const char *text;
		uint32_t size;
	} cases[] = {
		{ "(UID 1 RFC822.SIZE 0)", 0 },
		{ "(UID 1 RFC822.SIZE 123456)", 123456 },
		{ "(UID 1 RFC822.SIZE 4294967295)", 4294967295u },
		{ "(UID 1 RFC822.SIZE 4294967296)", 0 },
		{ "(UID 1 RFC822.SIZE x)", 0 },
		{ "(UID 1 RFC822.SIZE NIL)", 0 },
	};
	const char *err;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_message *msg = from_fetch(cases[i].text, &err);

		ck_assert_msg(msg != NULL, "%s: %s", cases[i].text, err);
		ck_assert_uint_eq(msg->size, cases[i].size);
		mb_message_destroy(msg);
	}
}
END_TEST

START_TEST(test_fetch_date)
{
	static const struct {
		const char *date;
		const char *expected;
	} cases[] = {
		{ "\"Wed, 17 Jul 1996 02:23:25 -0700\"", "1996-07-17T02:23:25-07:00" },
		{ "\"Mon, 1 Jan 2024 10:00:00 GMT\"", "2024-01-01T10:00:00+00:00" },
		{ "\"29 Nov 2026 10:00:00 +0100\"", "2026-11-29T10:00:00+01:00" },
		{ "\"Fri, 3 Oct 2025 23:59:59 +0530\"", "2025-10-03T23:59:59+05:30" },
		{ "\"Wed, 17 Jul 1996 02:23:25 EST\"", "1996-07-17T02:23:25-05:00" },
		{ "\"garbage\"", "" },
		{ "\"\"", "" },
		{ "NIL", "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_message *msg = with_envelope(cases[i].date, "NIL", "NIL", "NIL");

		ck_assert_msg(strcmp(msg->date, cases[i].expected) == 0, "%s: got [%s]",
			cases[i].date, msg->date);
		mb_message_destroy(msg);
	}
}
END_TEST

START_TEST(test_fetch_subject_and_message_id)
{
	const char *err;
	struct mb_message *msg = from_fetch("(UID 1 ENVELOPE (NIL \"=?UTF-8?B?SGVsbG8gw6l0w6k=?=\" "
		"NIL NIL NIL NIL NIL NIL NIL \" <a\tb@x>\x01 \"))", &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_str_eq(msg->subject, "Hello \xc3\xa9t\xc3\xa9");
	ck_assert_str_eq(msg->message_id, "<a b@x>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_h9_h10_unchanged)
{
	struct mb_message *msg = with_envelope("NIL", "\"<b>Win</b> & more\"",
		"((\"<i>Boss</i> & co\" NIL \"a\" \"b.org\"))", "NIL");

	ck_assert_str_eq(msg->subject, "<b>Win</b> & more");
	ck_assert_str_eq(msg->from, "<i>Boss</i> & co <a@b.org>");
	mb_message_destroy(msg);
	msg = with_envelope("NIL", "\"-rf /\"", "((\"--help\" NIL \"-x\" \"b.org\"))", "NIL");
	ck_assert_str_eq(msg->subject, "-rf /");
	ck_assert_str_eq(msg->from_name, "--help");
	ck_assert_str_eq(msg->from_address, "-x@b.org");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_h12_name_with_comma)
{
	struct mb_message *msg = with_from("((\"Doe, Jane\" NIL \"jane\" \"example.org\"))");

	ck_assert_str_eq(msg->from_name, "Doe, Jane");
	ck_assert_str_eq(msg->from_address, "jane@example.org");
	ck_assert_str_eq(msg->from, "Doe, Jane <jane@example.org>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_encoded_name)
{
	struct mb_message *msg = with_from("((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\"))");

	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9 Pirard");
	ck_assert_str_eq(msg->from, "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_from_forms)
{
	struct mb_message *msg = with_from("((NIL NIL \"jane\" \"example.org\"))");

	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from, "jane@example.org");
	mb_message_destroy(msg);

	/* an empty name counts as none */
	msg = with_from("((\"\" NIL \"jane\" \"example.org\"))");
	ck_assert_str_eq(msg->from, "jane@example.org");
	mb_message_destroy(msg);

	/* a local mailbox without host and no group around it */
	msg = with_from("((NIL NIL \"root\" NIL))");
	ck_assert_str_eq(msg->from_address, "root");
	ck_assert_str_eq(msg->from, "root");
	mb_message_destroy(msg);

	/* the first of several */
	msg = with_from("((NIL NIL \"a\" \"x.org\")(NIL NIL \"b\" \"x.org\"))");
	ck_assert_str_eq(msg->from_address, "a@x.org");
	mb_message_destroy(msg);

	/* control characters and bidi overrides in every part */
	msg = with_from("((\"Ev\xe2\x80\xaeil\r\n Corp\" NIL \"a\x01\" \"x\x7f.org\"))");
	ck_assert_str_eq(msg->from, "Evil Corp <a@x.org>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fetch_sender_fallback)
{
	struct mb_message *msg = with_envelope("NIL", "NIL", "NIL",
		"((\"List\" NIL \"list\" \"x.org\"))");

	ck_assert_str_eq(msg->from, "List <list@x.org>");
	mb_message_destroy(msg);

	msg = with_envelope("NIL", "NIL", "()", "((NIL NIL \"s\" \"x.org\"))");
	ck_assert_str_eq(msg->from, "s@x.org");
	mb_message_destroy(msg);

	/* from holds only an empty group */
	msg = with_envelope("NIL", "NIL", "((NIL NIL \"Team\" NIL)(NIL NIL NIL NIL))",
		"((NIL NIL \"s\" \"x.org\"))");
	ck_assert_str_eq(msg->from, "s@x.org");
	mb_message_destroy(msg);

	/* from wins when it has an address */
	msg = with_envelope("NIL", "NIL", "((NIL NIL \"f\" \"x.org\"))", "((NIL NIL \"s\" \"x.org\"))");
	ck_assert_str_eq(msg->from, "f@x.org");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_r23_dovecot_missing_address)
{
	struct mb_message *msg = with_from("((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");

	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);

	msg = with_from("((\"Jane\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	ck_assert_str_eq(msg->from_name, "Jane");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->from, "Jane");
	mb_message_destroy(msg);

	msg = with_from("((NIL NIL \"root\" \"MISSING_DOMAIN\"))");
	ck_assert_str_eq(msg->from_address, "root");
	ck_assert_str_eq(msg->from, "root");
	mb_message_destroy(msg);

	/* same as R23 but as Dovecot sends it when sender = from */
	msg = with_envelope("NIL", "NIL", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))",
		"((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);

	/* UW imapd's markers */
	msg = with_from("((NIL NIL \"UNEXPECTED_DATA_AFTER_ADDRESS\" \".SYNTAX-ERROR.\"))");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_r24_group)
{
	struct mb_message *msg = with_from("((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(NIL NIL NIL NIL))");

	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from_address, "a@x.org");
	ck_assert_str_eq(msg->from, "a@x.org");
	mb_message_destroy(msg);

	msg = with_from("((NIL NIL \"Team\" NIL)(\"Ann\" NIL \"a\" \"x.org\")(NIL NIL NIL NIL)"
		"(NIL NIL \"b\" \"y.org\"))");
	ck_assert_str_eq(msg->from, "Ann <a@x.org>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_r22_literal_subject)
{
	static const char utf8[] = "(UID 6 ENVELOPE (NIL {18}\r\nCaf\xc3\xa9 raw utf8 \xe2\x9c\x93"
		" NIL NIL NIL NIL NIL NIL NIL NIL))";
	static const char cp1252[] = "(UID 6 ENVELOPE (NIL {12}\r\nCaf\xe9 \x93raw\x94\x00!"
		" NIL NIL NIL NIL NIL NIL NIL NIL))";
	const char *err;
	struct mb_message *msg = from_fetch_len(utf8, sizeof(utf8) - 1, &err);

	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_str_eq(msg->subject, "Caf\xc3\xa9 raw utf8 \xe2\x9c\x93");
	mb_message_destroy(msg);

	msg = from_fetch_len(cp1252, sizeof(cp1252) - 1, &err);
	ck_assert_msg(msg != NULL, "%s", err);
	ck_assert_str_eq(msg->subject, "Caf\xc3\xa9 \xe2\x80\x9craw\xe2\x80\x9d!");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_strings_are_valid_utf8)
{
	struct mb_message *msg = with_envelope("\"\xff\xfe\"", "\"\xff=?UTF-8?B?/w==?=\"",
		"((\"\xc3\" NIL \"\xff\" \"\xfe\"))", "NIL");
	const char *fields[] = { msg->from_name, msg->from_address, msg->from, msg->subject,
		msg->date, msg->message_id };

	for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
		ck_assert_ptr_nonnull(fields[i]);
		ck_assert(g_utf8_validate(fields[i], -1, NULL));
	}
	mb_message_destroy(msg);
	mb_message_destroy(NULL);
}
END_TEST

START_TEST(test_library_init_idempotent)
{
	mb_message_library_init();
	mb_message_library_init();
	assert_decodes("=?UTF-8?Q?a?=", "a");
}
END_TEST

/* ---- wire text through the real parser ---- */

/* Parses one complete response line; returns the FETCH item list (owned by
 * *resp_r). */
static const struct mb_imap_value *parse_fetch(const char *wire, size_t len,
	struct mb_imap_response **resp_r)
{
	struct mb_imap_parser *parser = mb_imap_parser_create(0);
	struct mb_imap_response *resp = NULL;
	const char *err = NULL;

	ck_assert(mb_imap_parser_feed(parser, wire, len));
	ck_assert_msg(mb_imap_parser_next(parser, &resp, &err) == MB_IMAP_PARSE_OK,
		"parse error: %s", err ? err : "need more");
	mb_imap_parser_destroy(parser);
	ck_assert_int_eq(resp->kind, MB_IMAP_UNTAGGED);
	ck_assert_str_eq(resp->name, "FETCH");
	ck_assert_uint_eq(resp->data->n_items, 1);
	ck_assert_int_eq(resp->data->items[0].type, MB_IMAP_LIST);
	*resp_r = resp;
	return &resp->data->items[0];
}

static void assert_same_message(const struct mb_message *a, const struct mb_message *b)
{
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert(a->seen == b->seen);
	ck_assert_str_eq(a->from_name, b->from_name);
	ck_assert_str_eq(a->from_address, b->from_address);
	ck_assert_str_eq(a->from, b->from);
	ck_assert_str_eq(a->subject, b->subject);
	ck_assert_str_eq(a->date, b->date);
	ck_assert_str_eq(a->message_id, b->message_id);
}

/* Runs "* N FETCH <list>\r\n" through the parser and <list> through the
 * test reader, checks that both give the same message, returns it. */
static struct mb_message *wire_message(const char *wire, size_t len)
{
	struct mb_imap_response *resp;
	const struct mb_imap_value *list = parse_fetch(wire, len, &resp);
	const char *list_text = memchr(wire, '(', len);
	const char *err = NULL;
	struct mb_message *msg, *other;

	msg = mb_message_from_fetch(list, "work", "INBOX", 42, &err);
	ck_assert_msg(msg != NULL, "%s", err);
	mb_imap_response_free(resp);
	/* the list ends before the final CRLF */
	other = from_fetch_len(list_text, (size_t)(wire + len - 2 - list_text), &err);
	ck_assert_msg(other != NULL, "%s", err);
	assert_same_message(msg, other);
	mb_message_destroy(other);
	return msg;
}

START_TEST(test_wire_r22)
{
	static const char utf8[] = "* 5 FETCH (UID 6 ENVELOPE (NIL {18}\r\nCaf\xc3\xa9 raw utf8 \xe2\x9c\x93"
		" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n";
	static const char cp1252[] = "* 5 FETCH (UID 6 ENVELOPE (NIL {12}\r\nCaf\xe9 \x93raw\x94\x00!"
		" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n";
	struct mb_message *msg = wire_message(utf8, sizeof(utf8) - 1);

	ck_assert_uint_eq(msg->uid, 6);
	ck_assert_str_eq(msg->subject, "Caf\xc3\xa9 raw utf8 \xe2\x9c\x93");
	mb_message_destroy(msg);
	msg = wire_message(cp1252, sizeof(cp1252) - 1);
	ck_assert_str_eq(msg->subject, "Caf\xc3\xa9 \xe2\x80\x9craw\xe2\x80\x9d!");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_wire_r23)
{
	static const char wire[] = "* 12 FETCH (UID 40 FLAGS () ENVELOPE "
		"(\"Tue, 01 Dec 2026 09:00:00 +0000\" \"No sender\" "
		"((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
		"((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
		"((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
		"((NIL NIL \"me\" \"example.com\")) NIL NIL NIL \"<r23@x>\"))\r\n";
	struct mb_message *msg = wire_message(wire, sizeof(wire) - 1);

	ck_assert_str_eq(msg->from, "(unknown sender)");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->subject, "No sender");
	ck_assert_str_eq(msg->date, "2026-12-01T09:00:00+00:00");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_wire_r24)
{
	static const char wire[] = "* 3 FETCH (UID 9 RFC822.SIZE 1234 ENVELOPE (NIL \"Group\" "
		"((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(NIL NIL NIL NIL)) "
		"NIL NIL NIL NIL NIL NIL NIL))\r\n";
	struct mb_message *msg = wire_message(wire, sizeof(wire) - 1);

	ck_assert_str_eq(msg->from, "a@x.org");
	ck_assert_uint_eq(msg->size, 1234);
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_wire_r11)
{
	static const char wire[] = "* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n";
	struct mb_message *msg = wire_message(wire, sizeof(wire) - 1);

	/* dropping UID 2 (not above the last seen) is the account's job */
	ck_assert_uint_eq(msg->uid, 2);
	ck_assert(!msg->seen);
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_wire_full)
{
	/* shaped like Dovecot's answer to UID FETCH ... (UID FLAGS RFC822.SIZE
	 * ENVELOPE), with a name in an encoded word and a quoted comma */
	static const char wire[] = "* 7 FETCH (UID 1007 FLAGS (\\Seen $NotJunk) RFC822.SIZE 20480 "
		"ENVELOPE (\"Sat, 28 Nov 2026 18:04:11 +0100\" "
		"\"=?UTF-8?Q?R=C3=A9union_de_l=E2=80=99=C3=A9quipe?=\" "
		"((\"=?ISO-8859-1?Q?Andr=E9?= \\\"Dr\\\" Dupont\" NIL \"andre\" \"example.fr\")) "
		"((\"Doe, Jane\" NIL \"jane\" \"example.org\")) NIL "
		"((NIL NIL \"me\" \"example.com\")) NIL NIL NIL \"<CAF=xyz@mail.example.fr>\"))\r\n";
	struct mb_message *msg = wire_message(wire, sizeof(wire) - 1);

	ck_assert_uint_eq(msg->uid, 1007);
	ck_assert(msg->seen);
	ck_assert_uint_eq(msg->size, 20480);
	ck_assert_str_eq(msg->subject, "R\xc3\xa9union de l\xe2\x80\x99\xc3\xa9quipe");
	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9 \"Dr\" Dupont");
	ck_assert_str_eq(msg->from, "Andr\xc3\xa9 \"Dr\" Dupont <andre@example.fr>");
	ck_assert_str_eq(msg->date, "2026-11-28T18:04:11+01:00");
	ck_assert_str_eq(msg->message_id, "<CAF=xyz@mail.example.fr>");
	mb_message_destroy(msg);
}
END_TEST

/* Header fields instead of ENVELOPE, as mailbell fetches them: two
 * BODY[HEADER.FIELDS (...)]<0> literals (subject group first). */
static struct mb_message *header_message(const char *subject_block, const char *from_block)
{
	GString *w = g_string_new("* 7 FETCH (UID 9 FLAGS () RFC822.SIZE 1234 ");
	g_string_append_printf(w, "BODY[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID)]<0> {%zu}\r\n%s ",
		strlen(subject_block), subject_block);
	g_string_append_printf(w, "BODY[HEADER.FIELDS (FROM SENDER)]<0> {%zu}\r\n%s)\r\n",
		strlen(from_block), from_block);
	struct mb_imap_response *resp;
	const struct mb_imap_value *list = parse_fetch(w->str, w->len, &resp);
	const char *err = NULL;
	struct mb_message *msg = mb_message_from_fetch(list, "work", "INBOX", 42, &err);
	ck_assert_msg(msg != NULL, "%s", err);
	mb_imap_response_free(resp);
	g_string_free(w, TRUE);
	return msg;
}

START_TEST(test_headers_basic)
{
	struct mb_message *m = header_message(
		"Subject: =?UTF-8?B?SGVsbG8gw6l0w6k=?=\r\n"
		"Date: Wed, 17 Jul 1996 02:23:25 -0700\r\n"
		"Message-ID: <abc@example.org>\r\n\r\n",
		"From: \"Doe, Jane\" <jane@example.org>\r\n\r\n");
	ck_assert_uint_eq(m->uid, 9);
	ck_assert_uint_eq(m->size, 1234);
	ck_assert_str_eq(m->subject, "Hello été");
	ck_assert_str_eq(m->date, "1996-07-17T02:23:25-07:00");
	ck_assert_str_eq(m->message_id, "<abc@example.org>");
	ck_assert_str_eq(m->from_name, "Doe, Jane");
	ck_assert_str_eq(m->from_address, "jane@example.org");
	ck_assert_str_eq(m->from, "Doe, Jane <jane@example.org>");
	mb_message_destroy(m);
}
END_TEST

START_TEST(test_headers_folded_8bit_group)
{
	/* folded subject with raw windows-1252 bytes; From is a group */
	struct mb_message *m = header_message(
		"subject: \x93Quoted\x94\r\n and folded\r\n\r\n",
		"From: Team: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>, b@x.org;\r\n"
		"Sender: s@example.org\r\n\r\n");
	ck_assert_str_eq(m->subject, "\u201cQuoted\u201d and folded");
	ck_assert_str_eq(m->from_name, "André");
	ck_assert_str_eq(m->from_address, "andre@example.org");
	ck_assert_str_eq(m->date, "");
	ck_assert_str_eq(m->message_id, "");
	mb_message_destroy(m);
}
END_TEST

START_TEST(test_headers_empty_from)
{
	/* "From: <>" (bounces) falls back to Sender; with neither, a placeholder */
	struct mb_message *m = header_message("Subject: x\r\n\r\n",
		"From: <>\r\nSender: Mailer <mailer@example.org>\r\n\r\n");
	ck_assert_str_eq(m->from_address, "mailer@example.org");
	mb_message_destroy(m);
	m = header_message("Subject: x\r\n\r\n", "From: <>\r\n\r\n");
	ck_assert_str_eq(m->from, "(unknown sender)");
	ck_assert_str_eq(m->from_address, "");
	mb_message_destroy(m);
	m = header_message("\r\n", "\r\n");
	ck_assert_str_eq(m->from, "(unknown sender)");
	ck_assert_str_eq(m->subject, "");
	mb_message_destroy(m);
}
END_TEST

START_TEST(test_ellipsize)
{
	char *s = mb_text_ellipsize("short", 16);
	ck_assert_str_eq(s, "short");
	g_free(s);
	/* cut on a character boundary: "ééé" is 6 octets */
	s = mb_text_ellipsize("ééééé", 8);
	ck_assert_str_eq(s, "éé\u2026");
	ck_assert(g_utf8_validate(s, -1, NULL));
	g_free(s);
}
END_TEST

static Suite *message_suite(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("decode");

	tcase_add_loop_test(tc, test_header_cases, 0, G_N_ELEMENTS(header_cases));
	tcase_add_test(tc, test_h8_word_followed_by_text);
	tcase_add_test(tc, test_h3_folded);
	tcase_add_test(tc, test_h6_unknown_charset_among_known_words);
	tcase_add_test(tc, test_known_charsets);
	tcase_add_test(tc, test_unpadded_base64);
	tcase_add_test(tc, test_adjacent_padded_base64);
	tcase_add_test(tc, test_decoded_controls_removed);
	tcase_add_test(tc, test_decode_malformed_words);
	tcase_add_test(tc, test_decode_raw_8bit);
	tcase_add_test(tc, test_decode_nul_and_null);
	tcase_add_test(tc, test_decode_many_unterminated_words);
	tcase_add_test(tc, test_library_init_idempotent);
	suite_add_tcase(s, tc);

	tc = tcase_create("sanitize");
	tcase_add_test(tc, test_sanitize_controls);
	tcase_add_test(tc, test_sanitize_bidi);
	tcase_add_test(tc, test_sanitize_invalid_utf8);
	tcase_add_test(tc, test_sanitize_trim);
	suite_add_tcase(s, tc);

	tc = tcase_create("fetch");
	tcase_add_test(tc, test_fetch_basic);
	tcase_add_test(tc, test_fetch_item_names_case_insensitive);
	tcase_add_test(tc, test_fetch_without_uid);
	tcase_add_test(tc, test_fetch_invalid_uid);
	tcase_add_test(tc, test_fetch_missing_envelope);
	tcase_add_test(tc, test_fetch_nil_everywhere);
	tcase_add_test(tc, test_fetch_malformed_envelope);
	tcase_add_test(tc, test_fetch_envelope_extra_items);
	tcase_add_test(tc, test_fetch_seen_flag);
	tcase_add_test(tc, test_fetch_size);
	tcase_add_test(tc, test_fetch_date);
	tcase_add_test(tc, test_fetch_subject_and_message_id);
	tcase_add_test(tc, test_fetch_h9_h10_unchanged);
	tcase_add_test(tc, test_fetch_h12_name_with_comma);
	tcase_add_test(tc, test_fetch_encoded_name);
	tcase_add_test(tc, test_fetch_from_forms);
	tcase_add_test(tc, test_fetch_sender_fallback);
	tcase_add_test(tc, test_r23_dovecot_missing_address);
	tcase_add_test(tc, test_r24_group);
	tcase_add_test(tc, test_r22_literal_subject);
	tcase_add_test(tc, test_strings_are_valid_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_add_test(tc, test_wire_r22);
	tcase_add_test(tc, test_wire_r23);
	tcase_add_test(tc, test_wire_r24);
	tcase_add_test(tc, test_wire_r11);
	tcase_add_test(tc, test_wire_full);
	tcase_add_test(tc, test_headers_basic);
	tcase_add_test(tc, test_headers_folded_8bit_group);
	tcase_add_test(tc, test_headers_empty_from);
	tcase_add_test(tc, test_ellipsize);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	mb_message_library_init();
	sr = srunner_create(message_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
