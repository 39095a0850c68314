/* Tests for src/message.c and the text helpers it uses (src/text.c): header
 * decoding (cases/headers.md H1..H12, cases/imap-responses.md R22..R24)
 * through mb_message_create() with header fields as mailbell fetches them,
 * To/Cc, List-Id, the raw header and body, previews from the server's
 * PREVIEW, a downloaded body or the start of one (BODY[TEXT]<0.N>), HTML to
 * text and sanitizing. Fixture messages are read from tests/data/messages. */
#define G_LOG_DOMAIN "mailbell"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "imap-fetch.h"
#include "imap-parser.h"
#include "message.h"
#include "text.h"

/* ---- building fetch attributes ---- */

static GBytes *bytes_len(const char *s, size_t len)
{
	return s != NULL ? g_bytes_new(s, len) : NULL;
}

static GBytes *bytes(const char *s)
{
	return s != NULL ? g_bytes_new(s, strlen(s)) : NULL;
}

/* The attributes of UID 7 with the given pieces (NULL for none). */
static struct mb_imap_fetch *fetch_of(const char *fields, const char *header,
	const char *body, const char *text, const char *preview)
{
	struct mb_imap_fetch *f = g_new0(struct mb_imap_fetch, 1);

	f->uid = 7;
	f->header_fields = bytes(fields);
	f->header = bytes(header);
	f->body = bytes(body);
	f->text = bytes(text);
	f->preview = g_strdup(preview);
	return f;
}

static struct mb_message *create(const struct mb_imap_fetch *f, bool preview)
{
	struct mb_message *msg = mb_message_create(f, "work", "INBOX", 42, preview);

	ck_assert_ptr_nonnull(msg);
	return msg;
}

/* A message from header fields alone. */
static struct mb_message *from_fields_len(const char *fields, size_t len)
{
	struct mb_imap_fetch *f = fetch_of(NULL, NULL, NULL, NULL, NULL);
	struct mb_message *msg;

	f->header_fields = bytes_len(fields, len);
	msg = create(f, true);
	mb_imap_fetch_free(f);
	return msg;
}

static struct mb_message *from_fields(const char *fields)
{
	return from_fields_len(fields, strlen(fields));
}

/* The preview of a downloaded message (BODY[]). */
static char *preview_of_body(const char *body)
{
	struct mb_imap_fetch *f = fetch_of(NULL, NULL, body, NULL, NULL);
	struct mb_message *msg = create(f, true);
	char *preview = g_strdup(msg->preview);

	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
	return preview;
}

/* The preview from header fields and BODY[TEXT]<0.N> (text_len octets). */
static char *preview_of_text(const char *fields, const char *text, size_t text_len)
{
	struct mb_imap_fetch *f = fetch_of(fields, NULL, NULL, NULL, NULL);
	struct mb_message *msg;
	char *preview;

	f->text = bytes_len(text, text_len);
	msg = create(f, true);
	preview = g_strdup(msg->preview);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
	return preview;
}

static void assert_body_preview_len(const char *body, size_t len, const char *expected)
{
	struct mb_imap_fetch *f = fetch_of(NULL, NULL, NULL, NULL, NULL);
	struct mb_message *msg;

	f->body = bytes_len(body, len);
	msg = create(f, true);
	ck_assert_msg(strcmp(msg->preview, expected) == 0, "preview: got [%s], want [%s]",
		msg->preview, expected);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
}

static void assert_body_preview(const char *body, const char *expected)
{
	assert_body_preview_len(body, strlen(body), expected);
}

/* A fixture message with CRLF line ends, as a server sends it (the files
 * have LF ends, like every text file here). */
static GBytes *read_fixture(const char *name)
{
	char *path = g_build_filename(MB_TEST_DATA, "messages", name, NULL);
	char *data = NULL;
	gsize len = 0;
	GError *error = NULL;
	GString *crlf;

	ck_assert_msg(g_file_get_contents(path, &data, &len, &error), "%s: %s", path,
		error != NULL ? error->message : "?");
	g_free(path);
	crlf = g_string_sized_new(len + len / 16);
	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			g_string_append_c(crlf, '\r');
		g_string_append_c(crlf, data[i]);
	}
	g_free(data);
	return g_string_free_to_bytes(crlf);
}

/* A fixture message as BODY[] and, separately, as its header plus
 * BODY[TEXT]<0.cut>: both ways must give the same preview. */
static char *fixture_preview(const char *name, size_t cut, char **from_text_r)
{
	GBytes *file = read_fixture(name);
	gsize len;
	const char *data = g_bytes_get_data(file, &len);
	const char *sep = g_strstr_len(data, (gssize)len, "\r\n\r\n");
	size_t hlen = sep != NULL ? (size_t)(sep - data) + 4 : 0;
	struct mb_imap_fetch *f = fetch_of(NULL, NULL, NULL, NULL, NULL);
	struct mb_message *msg;
	char *preview;

	ck_assert_msg(hlen > 0, "%s: fixtures use CRLF", name);
	f->body = g_bytes_ref(file);
	msg = create(f, true);
	preview = g_strdup(msg->preview);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);

	f = fetch_of(NULL, NULL, NULL, NULL, NULL);
	f->header_fields = bytes_len(data, hlen);
	f->text = bytes_len(data + hlen, MIN(cut, len - hlen));
	msg = create(f, true);
	*from_text_r = g_strdup(msg->preview);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
	g_bytes_unref(file);
	return preview;
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
	char *fields = g_strdup_printf("Subject: %s\r\n", header_cases[_i].raw);
	struct mb_message *msg = from_fields(fields);

	assert_decodes(header_cases[_i].raw, header_cases[_i].expected);
	/* and the same through a message's header fields */
	ck_assert_msg(strcmp(msg->subject, header_cases[_i].expected) == 0,
		"%s: subject [%s], want [%s]", header_cases[_i].name, msg->subject,
		header_cases[_i].expected);
	mb_message_destroy(msg);
	g_free(fields);
}
END_TEST

START_TEST(test_h8_word_followed_by_text)
{
	const char *raw = "=?utf-8?q?foo?=bar";
	char *got = mb_text_decode_header(raw, strlen(raw));
	struct mb_message *msg = from_fields("Subject: =?utf-8?q?foo?=bar\r\n");

	ck_assert_msg(strcmp(got, "foobar") == 0 || strcmp(got, raw) == 0, "got [%s]", got);
	ck_assert_str_eq(msg->subject, got);
	mb_message_destroy(msg);
	g_free(got);
}
END_TEST

START_TEST(test_h3_folded)
{
	struct mb_message *msg;

	assert_decodes("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab");
	assert_decodes("=?UTF-8?Q?a?=\r\n\t=?UTF-8?Q?b?=", "ab");
	/* folded in a header block: unfolding keeps the white space, which
	 * goes between two encoded words */
	msg = from_fields("Subject: =?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=\r\nDate: x\r\n");
	ck_assert_str_eq(msg->subject, "ab");
	mb_message_destroy(msg);
	msg = from_fields("Subject: =?UTF-8?Q?a?=\r\n\t=?UTF-8?Q?b?=\r\n");
	ck_assert_str_eq(msg->subject, "ab");
	mb_message_destroy(msg);
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

START_TEST(test_library_init_idempotent)
{
	mb_message_library_init();
	mb_message_library_init();
	assert_decodes("=?UTF-8?Q?a?=", "a");
}
END_TEST

/* ---- header fields (the fields mailbell fetches) ---- */

START_TEST(test_fields_basic)
{
	struct mb_imap_fetch *f = fetch_of("Subject: =?UTF-8?B?SGVsbG8gw6l0w6k=?=\r\n"
		"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
		"Message-ID: <abc@example.org>\r\n"
		"From: Jane Doe <jane@example.org>\r\n"
		"Sender: Other <other@example.org>\r\n", NULL, NULL, NULL, NULL);
	struct mb_message *msg;

	f->uid = 6;
	f->size = 4711;
	f->seen = true;
	f->has_flags = true;
	msg = create(f, true);
	ck_assert_str_eq(msg->account, "work");
	ck_assert_str_eq(msg->mailbox, "INBOX");
	ck_assert_uint_eq(msg->uid, 6);
	ck_assert_uint_eq(msg->uidvalidity, 42);
	ck_assert_uint_eq(msg->size, 4711);
	ck_assert(msg->seen);
	ck_assert_str_eq(msg->from_name, "Jane Doe");
	ck_assert_str_eq(msg->from_address, "jane@example.org");
	ck_assert_str_eq(msg->from, "Jane Doe <jane@example.org>");
	ck_assert_str_eq(msg->subject, "Hello \xc3\xa9t\xc3\xa9");
	ck_assert_str_eq(msg->date, "1996-07-17T02:23:25-07:00");
	ck_assert_str_eq(msg->message_id, "<abc@example.org>");
	/* nothing to preview */
	ck_assert_str_eq(msg->preview, "");
	ck_assert_str_eq(msg->to_text, "");
	ck_assert_uint_eq(msg->n_to, 0);
	ck_assert_ptr_null(msg->to);
	ck_assert_str_eq(msg->list_id, "");
	ck_assert_ptr_null(msg->raw);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
}
END_TEST

START_TEST(test_fields_names_case_and_spacing)
{
	struct mb_message *msg = from_fields("SUBJECT: up\r\n"
		"from : a@b.org\r\n"
		"message-id:<x@y>\r\n"
		"X-Subject: not this\r\n"
		"Subjects: nor this\r\n");

	ck_assert_str_eq(msg->subject, "up");
	ck_assert_str_eq(msg->from, "a@b.org");
	ck_assert_str_eq(msg->message_id, "<x@y>");
	mb_message_destroy(msg);

	/* the first of two; a continuation line is not a field */
	msg = from_fields(" Subject: folded junk\r\nSubject: first\r\nSubject: second\r\n");
	ck_assert_str_eq(msg->subject, "first");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fields_empty)
{
	static const char *const blocks[] = { "", "\r\n", "garbage without colon\r\n",
		"Subject:\r\nFrom:\r\n", ":\r\n::\r\n" };

	for (size_t i = 0; i < G_N_ELEMENTS(blocks); i++) {
		struct mb_message *msg = from_fields(blocks[i]);

		ck_assert_str_eq(msg->from_name, "");
		ck_assert_str_eq(msg->from_address, "");
		ck_assert_str_eq(msg->from, "(unknown sender)");
		ck_assert_str_eq(msg->subject, "");
		ck_assert_str_eq(msg->date, "");
		ck_assert_str_eq(msg->message_id, "");
		ck_assert_str_eq(msg->list_id, "");
		ck_assert_str_eq(msg->to_text, "");
		ck_assert_str_eq(msg->preview, "");
		ck_assert_ptr_nonnull(msg->header);
		mb_message_destroy(msg);
	}
}
END_TEST

START_TEST(test_create_null_fetch)
{
	struct mb_message *msg = mb_message_create(NULL, NULL, NULL, 0, true);

	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(msg->account, "");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	ck_assert_ptr_nonnull(msg->header);
	ck_assert_uint_eq(g_bytes_get_size(msg->header), 0);
	mb_message_destroy(msg);
	mb_message_destroy(NULL);
}
END_TEST

START_TEST(test_fields_date)
{
	static const struct {
		const char *date;
		const char *expected;
	} cases[] = {
		{ "Wed, 17 Jul 1996 02:23:25 -0700", "1996-07-17T02:23:25-07:00" },
		{ "Mon, 1 Jan 2024 10:00:00 GMT", "2024-01-01T10:00:00+00:00" },
		{ "29 Nov 2026 10:00:00 +0100", "2026-11-29T10:00:00+01:00" },
		{ "Fri, 3 Oct 2025 23:59:59 +0530", "2025-10-03T23:59:59+05:30" },
		{ "Wed, 17 Jul 1996 02:23:25 EST", "1996-07-17T02:23:25-05:00" },
		{ "Tue, 1 Dec 2026\r\n 09:00:00 +0000", "2026-12-01T09:00:00+00:00" },
		{ "garbage", "" },
		{ "", "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *fields = g_strdup_printf("Date: %s\r\n", cases[i].date);
		struct mb_message *msg = from_fields(fields);

		ck_assert_msg(strcmp(msg->date, cases[i].expected) == 0, "%s: got [%s]",
			cases[i].date, msg->date);
		mb_message_destroy(msg);
		g_free(fields);
	}
}
END_TEST

START_TEST(test_fields_message_id_sanitized)
{
	struct mb_message *msg = from_fields("Message-ID:  <a\tb@x>\x01 \r\n");

	ck_assert_str_eq(msg->message_id, "<a b@x>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fields_h9_h10_unchanged)
{
	struct mb_message *msg = from_fields("Subject: <b>Win</b> & more\r\n"
		"From: \"<i>Boss</i> & co\" <a@b.org>\r\n");

	ck_assert_str_eq(msg->subject, "<b>Win</b> & more");
	ck_assert_str_eq(msg->from, "<i>Boss</i> & co <a@b.org>");
	mb_message_destroy(msg);
	msg = from_fields("Subject: -rf /\r\nFrom: \"--help\" <-x@b.org>\r\n");
	ck_assert_str_eq(msg->subject, "-rf /");
	ck_assert_str_eq(msg->from_name, "--help");
	ck_assert_str_eq(msg->from_address, "-x@b.org");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fields_h12_name_with_comma)
{
	struct mb_message *msg = from_fields("From: \"Doe, Jane\" <jane@example.org>\r\n");

	ck_assert_str_eq(msg->from_name, "Doe, Jane");
	ck_assert_str_eq(msg->from_address, "jane@example.org");
	ck_assert_str_eq(msg->from, "Doe, Jane <jane@example.org>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fields_encoded_name)
{
	struct mb_message *msg = from_fields("From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n");

	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9 Pirard");
	ck_assert_str_eq(msg->from, "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>");
	mb_message_destroy(msg);

	/* H11 in a name */
	msg = from_fields("From: =?windows-1252?Q?=93Q=94?= <q@x.org>\r\n");
	ck_assert_str_eq(msg->from_name, "\xe2\x80\x9cQ\xe2\x80\x9d");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fields_from_forms)
{
	struct mb_message *msg = from_fields("From: jane@example.org\r\n");

	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from, "jane@example.org");
	mb_message_destroy(msg);

	/* an empty name counts as none */
	msg = from_fields("From: \"\" <jane@example.org>\r\n");
	ck_assert_str_eq(msg->from, "jane@example.org");
	mb_message_destroy(msg);

	/* the old comment form */
	msg = from_fields("From: jane@example.org (Jane Doe)\r\n");
	ck_assert_str_eq(msg->from_address, "jane@example.org");
	mb_message_destroy(msg);

	/* a local mailbox without a domain */
	msg = from_fields("From: root\r\n");
	ck_assert_str_eq(msg->from, "root");
	mb_message_destroy(msg);

	/* the first of several */
	msg = from_fields("From: a@x.org, b@x.org\r\n");
	ck_assert_str_eq(msg->from_address, "a@x.org");
	mb_message_destroy(msg);

	/* control characters and bidi overrides in the name, and a folded
	 * line inside the quotes */
	msg = from_fields("From: \"Ev\xe2\x80\xaeil\x01\r\n Corp\" <a@x.org>\r\n");
	ck_assert_str_eq(msg->from, "Evil Corp <a@x.org>");
	mb_message_destroy(msg);

	/* raw 8-bit name: UTF-8 kept, windows-1252 read as such */
	msg = from_fields("From: Andr\xc3\xa9 <a@x.org>\r\n");
	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9");
	mb_message_destroy(msg);
	msg = from_fields("From: Andr\xe9 <a@x.org>\r\n");
	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_fields_sender_fallback)
{
	struct mb_message *msg = from_fields("Sender: List <list@x.org>\r\n");

	ck_assert_str_eq(msg->from, "List <list@x.org>");
	mb_message_destroy(msg);

	/* From holds only an empty group */
	msg = from_fields("From: Team:;\r\nSender: s@x.org\r\n");
	ck_assert_str_eq(msg->from, "s@x.org");
	mb_message_destroy(msg);

	/* From wins when it has an address */
	msg = from_fields("Sender: s@x.org\r\nFrom: f@x.org\r\n");
	ck_assert_str_eq(msg->from, "f@x.org");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_r23_empty_from)
{
	/* "From: <>" (bounces; Dovecot's MISSING_MAILBOX in an ENVELOPE) */
	struct mb_message *msg = from_fields("From: <>\r\n");

	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from_address, "");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);

	/* falls back to Sender */
	msg = from_fields("From: <>\r\nSender: Mailer <mailer@example.org>\r\n");
	ck_assert_str_eq(msg->from_address, "mailer@example.org");
	ck_assert_str_eq(msg->from, "Mailer <mailer@example.org>");
	mb_message_destroy(msg);

	msg = from_fields("From: <>\r\nSender: <>\r\n");
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_r24_group)
{
	struct mb_message *msg = from_fields("From: Team: a@x.org;\r\n");

	ck_assert_str_eq(msg->from_name, "");
	ck_assert_str_eq(msg->from_address, "a@x.org");
	ck_assert_str_eq(msg->from, "a@x.org");
	mb_message_destroy(msg);

	msg = from_fields("From: Team: Ann <a@x.org>;, b@y.org\r\n");
	ck_assert_str_eq(msg->from, "Ann <a@x.org>");
	mb_message_destroy(msg);

	/* an empty group before the real mailbox */
	msg = from_fields("From: Nobody:;, c@z.org\r\n");
	ck_assert_str_eq(msg->from, "c@z.org");
	mb_message_destroy(msg);

	/* folded, raw windows-1252, with an encoded word in the group */
	msg = from_fields("From: Team: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>,\r\n"
		" b@x.org;\r\nSender: s@example.org\r\n");
	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9");
	ck_assert_str_eq(msg->from_address, "andre@example.org");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_r22_raw_8bit_subject)
{
	static const char cp1252[] = "Subject: Caf\xe9 \x93raw\x94\x00!\r\n";
	struct mb_message *msg = from_fields("Subject: Caf\xc3\xa9 raw utf8 \xe2\x9c\x93\r\n");

	ck_assert_str_eq(msg->subject, "Caf\xc3\xa9 raw utf8 \xe2\x9c\x93");
	mb_message_destroy(msg);

	/* windows-1252, with a NUL from a literal */
	msg = from_fields_len(cp1252, sizeof(cp1252) - 1);
	ck_assert_str_eq(msg->subject, "Caf\xc3\xa9 \xe2\x80\x9craw\xe2\x80\x9d!");
	mb_message_destroy(msg);

	/* folded with 8-bit bytes */
	msg = from_fields("subject: \x93Quoted\x94\r\n and folded\r\n");
	ck_assert_str_eq(msg->subject, "\xe2\x80\x9cQuoted\xe2\x80\x9d and folded");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_strings_are_valid_utf8)
{
	struct mb_message *msg = from_fields("Date: \xff\xfe\r\n"
		"Subject: \xff=?UTF-8?B?/w==?=\r\n"
		"From: \"\xc3\" <\xff@\xfe>\r\n"
		"To: \xc3\xc3 <\x80@x>, \xff\r\n"
		"List-Id: <\xfe\xff>\r\n"
		"Message-ID: <\xc0\xaf>\r\n");
	const char *fields[] = { msg->from_name, msg->from_address, msg->from, msg->subject,
		msg->date, msg->message_id, msg->list_id, msg->to_text, msg->preview };

	for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
		ck_assert_ptr_nonnull(fields[i]);
		ck_assert_msg(g_utf8_validate(fields[i], -1, NULL), "field %zu", i);
	}
	for (size_t i = 0; i < msg->n_to; i++) {
		ck_assert(g_utf8_validate(msg->to[i].name, -1, NULL));
		ck_assert(g_utf8_validate(msg->to[i].address, -1, NULL));
	}
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_huge_from)
{
	/* a 2 MB From from a downloaded message: the address parser sees a
	 * 16 KiB cut, the first mailbox is still found, and the rest of the
	 * header still counts */
	GString *h = g_string_new("From: First <first@example.org>, ");
	struct mb_message *msg;

	while (h->len < 2 * 1024 * 1024)
		g_string_append(h, "\"Some Name\" <x@example.org>,\r\n ");
	g_string_append(h, "last@example.org\r\nSubject: after\r\n\r\nbody\r\n");
	msg = from_fields_len(h->str, h->len);
	ck_assert_str_eq(msg->from, "First <first@example.org>");
	ck_assert_str_eq(msg->subject, "after");
	mb_message_destroy(msg);

	/* one enormous display name */
	g_string_assign(h, "From: \"");
	while (h->len < 2 * 1024 * 1024)
		g_string_append(h, "aaaaaaaaaaaaaaaa");
	g_string_append(h, "\" <a@b.org>\r\nSubject: s\r\n");
	msg = from_fields_len(h->str, h->len);
	ck_assert(g_utf8_validate(msg->from, -1, NULL));
	ck_assert_uint_le(strlen(msg->from), 16384 + 64);
	ck_assert_str_eq(msg->subject, "s");
	mb_message_destroy(msg);
	g_string_free(h, TRUE);
}
END_TEST

/* ---- To and Cc ---- */

START_TEST(test_recipients)
{
	struct mb_message *msg = from_fields("To: Ann <a@x.org>, b@y.org\r\n"
		"Cc: \"Doe, Jane\" <jane@example.org>,\r\n Team: c@z.org, =?UTF-8?Q?D=C3=A9?= <d@z.org>;\r\n");
	static const char *const names[] = { "Ann", "", "Doe, Jane", "", "D\xc3\xa9" };
	static const char *const addresses[] = { "a@x.org", "b@y.org", "jane@example.org",
		"c@z.org", "d@z.org" };

	ck_assert_uint_eq(msg->n_to, 5);
	for (size_t i = 0; i < msg->n_to; i++) {
		ck_assert_str_eq(msg->to[i].name, names[i]);
		ck_assert_str_eq(msg->to[i].address, addresses[i]);
	}
	ck_assert_str_eq(msg->to_text, "Ann <a@x.org>, b@y.org, \"Doe, Jane\" <jane@example.org>, "
		"c@z.org, D\xc3\xa9 <d@z.org>");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_recipients_groups_and_empty)
{
	/* R24 as header syntax */
	struct mb_message *msg = from_fields("To: Team: a@x.org, b@y.org;\r\n");

	ck_assert_uint_eq(msg->n_to, 2);
	ck_assert_str_eq(msg->to[0].address, "a@x.org");
	ck_assert_str_eq(msg->to[1].address, "b@y.org");
	ck_assert_str_eq(msg->to_text, "a@x.org, b@y.org");
	mb_message_destroy(msg);

	/* Cc alone */
	msg = from_fields("Cc: c@z.org\r\n");
	ck_assert_uint_eq(msg->n_to, 1);
	ck_assert_str_eq(msg->to_text, "c@z.org");
	mb_message_destroy(msg);

	/* nothing real */
	msg = from_fields("To: undisclosed-recipients:;\r\nCc: <>\r\n");
	ck_assert_uint_eq(msg->n_to, 0);
	ck_assert_ptr_null(msg->to);
	ck_assert_str_eq(msg->to_text, "");
	mb_message_destroy(msg);

	/* controls in names are gone, and a name of nothing else with them */
	msg = from_fields("To: \"A\x1b[31m\xe2\x80\xae\" <a@x.org>\r\n");
	ck_assert_str_eq(msg->to_text, "A[31m <a@x.org>");
	mb_message_destroy(msg);
	msg = from_fields("To: \"\x01\" <>, \"\x1b\" <>, b@y.org\r\n");
	ck_assert_uint_eq(msg->n_to, 1);
	ck_assert_str_eq(msg->to_text, "b@y.org");
	mb_message_destroy(msg);
	msg = from_fields("From: \"\x01\" <>\r\nSender: s@x.org\r\n");
	ck_assert_str_eq(msg->from, "s@x.org");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_recipients_many)
{
	/* a long To is bounded by the field cut, not refused */
	GString *h = g_string_new("To: ");
	struct mb_message *msg;

	for (int i = 0; i < 20000; i++)
		g_string_append_printf(h, "u%d@example.org, ", i);
	g_string_append(h, "\r\n");
	msg = from_fields_len(h->str, h->len);
	ck_assert_uint_gt(msg->n_to, 100);
	ck_assert_uint_lt(msg->n_to, 20000);
	ck_assert_str_eq(msg->to[0].address, "u0@example.org");
	mb_message_destroy(msg);
	g_string_free(h, TRUE);
}
END_TEST

/* ---- List-Id ---- */

START_TEST(test_list_id)
{
	static const struct {
		const char *value;
		const char *expected;
	} cases[] = {
		{ "Food <food.example.org>", "food.example.org" },
		{ "<x.y.example>", "x.y.example" },
		{ "\"Quoted, name\" <q.example>", "q.example" },
		{ "plain.id.example", "plain.id.example" },
		{ "  spaced.example  ", "spaced.example" },
		{ "A long name\r\n <long.example>", "long.example" },
		{ "Name <broken", "Name <broken" },
		{ "<>", "" },
		{ "<a\x01" "b\xe2\x80\xae" "c>", "abc" },
		{ "=?UTF-8?Q?Caf=C3=A9?= <cafe.example>", "cafe.example" },
		{ "", "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *fields = g_strdup_printf("List-Id: %s\r\n", cases[i].value);
		struct mb_message *msg = from_fields(fields);

		ck_assert_msg(strcmp(msg->list_id, cases[i].expected) == 0, "[%s]: got [%s]",
			cases[i].value, msg->list_id);
		mb_message_destroy(msg);
		g_free(fields);
	}
}
END_TEST

/* ---- where fields, header and raw come from ---- */

START_TEST(test_field_sources)
{
	static const char header[] = "Subject: from header\r\nList-Id: <h.example>\r\n\r\n";
	static const char body[] = "Subject: from body\r\nFrom: b@body.org\r\nTo: t@body.org\r\n"
		"\r\nSubject: not a header\r\n";
	struct mb_imap_fetch *f = fetch_of("Subject: from fields\r\n", header, body, NULL, NULL);
	struct mb_message *msg = create(f, false);

	/* header fields first; what they lack comes from the whole header,
	 * then the downloaded message's */
	ck_assert_str_eq(msg->subject, "from fields");
	ck_assert_str_eq(msg->list_id, "h.example");
	ck_assert_str_eq(msg->from, "b@body.org");
	ck_assert_str_eq(msg->to_text, "t@body.org");
	/* header: BODY[HEADER] itself, raw: BODY[] itself */
	ck_assert_ptr_eq(msg->header, f->header);
	ck_assert_ptr_eq(msg->raw, f->body);
	mb_message_destroy(msg);

	/* only the body: its header, up to the first empty line */
	g_clear_pointer(&f->header_fields, g_bytes_unref);
	g_clear_pointer(&f->header, g_bytes_unref);
	msg = create(f, false);
	ck_assert_str_eq(msg->subject, "from body");
	ck_assert_uint_eq(g_bytes_get_size(msg->header), strstr(body, "\r\n\r\n") + 4 - body);
	ck_assert(memcmp(g_bytes_get_data(msg->header, NULL), body,
		g_bytes_get_size(msg->header)) == 0);
	ck_assert_ptr_eq(msg->raw, f->body);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);

	/* only the header fields: they are the header */
	f = fetch_of("Subject: s\r\n", NULL, NULL, NULL, NULL);
	msg = create(f, true);
	ck_assert_ptr_eq(msg->header, f->header_fields);
	ck_assert_ptr_null(msg->raw);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);

	/* nothing: an empty header, never NULL */
	f = fetch_of(NULL, NULL, NULL, NULL, NULL);
	msg = create(f, true);
	ck_assert_ptr_nonnull(msg->header);
	ck_assert_uint_eq(g_bytes_get_size(msg->header), 0);
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
}
END_TEST

START_TEST(test_body_header_forms)
{
	/* a body with bare LF line ends, one without a body, one starting
	 * with the empty line */
	static const struct {
		const char *body;
		size_t header_len;
		const char *subject;
	} cases[] = {
		{ "Subject: lf\n\nSubject: no\n", 13, "lf" },
		{ "Subject: only a header\r\n", 24, "only a header" },
		{ "\r\nSubject: in the body\r\n", 2, "" },
		{ "", 0, "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_imap_fetch *f = fetch_of(NULL, NULL, cases[i].body, NULL, NULL);
		struct mb_message *msg = create(f, true);

		ck_assert_uint_eq(g_bytes_get_size(msg->header), cases[i].header_len);
		ck_assert_str_eq(msg->subject, cases[i].subject);
		mb_message_destroy(msg);
		mb_imap_fetch_free(f);
	}
}
END_TEST

/* The GBytes of a message outlive the fetch attributes. */
START_TEST(test_bytes_referenced)
{
	struct mb_imap_fetch *f = fetch_of(NULL, "Subject: h\r\n\r\n", "Subject: b\r\n\r\nx", NULL, NULL);
	struct mb_message *msg = create(f, true);

	mb_imap_fetch_free(f);
	ck_assert_uint_eq(g_bytes_get_size(msg->header), 14);
	ck_assert_uint_eq(g_bytes_get_size(msg->raw), 15);
	mb_message_destroy(msg);
}
END_TEST

/* ---- previews ---- */

START_TEST(test_preview_plain)
{
	assert_body_preview("Subject: x\r\n\r\n\r\n\r\n  Hello   there,\r\n\r\n\tsee you\r\n",
		"Hello there, see you");
	/* no Content-Type: text/plain */
	assert_body_preview("Subject: x\r\n\r\nJust text", "Just text");
	assert_body_preview("Subject: x\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=\"utf-8\"\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n",
		"Gr\xc3\xbc\xc3\x9f" "e");
	/* no text at all */
	assert_body_preview("Subject: x\r\n\r\n", "");
	assert_body_preview("", "");
	assert_body_preview("Content-Type: image/png\r\n\r\n\x89PNG", "");
}
END_TEST

START_TEST(test_preview_html_only)
{
	assert_body_preview("Content-Type: text/html; charset=utf-8\r\n\r\n"
		"<html><head><title>Title</title><style>p { color: red; }</style></head>\r\n"
		"<body><p>Hi&nbsp;<b>Bob</b>,</p><p>Price: 5&euro; &amp; no&nbsp;more</p>"
		"<script>alert(1)</script></body></html>\r\n",
		"Hi Bob, Price: 5\xe2\x82\xac & no more");
}
END_TEST

static const char alternative_plain_first[] =
	"Subject: alt\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
	"This is a multi-part message in MIME format.\r\n"
	"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n"
	"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n"
	"--b1--\r\n";

static const char alternative_html_first[] =
	"Subject: alt\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
	"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n"
	"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n"
	"--b1--\r\n";

START_TEST(test_preview_alternative)
{
	/* the plain part wins wherever it is */
	assert_body_preview(alternative_plain_first, "Plain version");
	assert_body_preview(alternative_html_first, "Plain version");
	/* an empty plain part next to the real text in HTML */
	assert_body_preview("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
		"--b\r\nContent-Type: text/html\r\n\r\n<div>Only here</div>\r\n--b--\r\n",
		"Only here");
}
END_TEST

START_TEST(test_preview_transfer_encodings)
{
	/* "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln" */
	assert_body_preview("Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSBhdXMgS8O2bG4=\r\n",
		"Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln");
	assert_body_preview("Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"Caf=C3=A9 with a soft =\r\nbreak and =3D sign\r\n",
		"Caf\xc3\xa9 with a soft break and = sign");
	/* case and spacing of the encoding name */
	assert_body_preview("Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding:  BASE64 \r\n\r\nSGk=\r\n", "Hi");
}
END_TEST

START_TEST(test_preview_charsets)
{
	/* Latin-1 as labelled, read as windows-1252 like browsers do */
	assert_body_preview("Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
		"Caf\xe9 \x80 5\r\n", "Caf\xc3\xa9 \xe2\x82\xac 5");
	assert_body_preview("Content-Type: text/plain; charset=\"ISO-8859-15\"\r\n\r\n"
		"\xa4uro\r\n", "\xe2\x82\xac" "uro");
	assert_body_preview("Content-Type: text/plain; charset=koi8-r\r\n\r\n"
		"\xf0\xd2\xc9\xd7\xc5\xd4\r\n", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	/* 8-bit junk without a charset: UTF-8 where valid, else windows-1252 */
	assert_body_preview("Subject: x\r\n\r\nCaf\xe9 \xc3\xa9 \x93q\x94\r\n",
		"Caf\xc3\xa9 \xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d");
	/* an unknown charset, and a name that is no charset */
	assert_body_preview("Content-Type: text/plain; charset=x-unknown\r\n\r\nCaf\xe9\r\n",
		"Caf\xc3\xa9");
	assert_body_preview("Content-Type: text/plain; charset=\"../../etc\"\r\n\r\nok\r\n", "ok");
	/* bytes that do not convert: the same fallback */
	static const char utf16[] = "Content-Type: text/plain; charset=utf-16le\r\n\r\nh\0i\0";

	assert_body_preview_len(utf16, sizeof(utf16) - 1, "hi");
	assert_body_preview("Content-Type: text/plain; charset=shift_jis\r\n\r\n\x81\xff" "a\xe9",
		"\xef\xbf\xbd\xc3\xbf" "a\xc3\xa9");
}
END_TEST

START_TEST(test_preview_skips_attachment)
{
	assert_body_preview("Content-Type: multipart/mixed; boundary=m\r\n\r\n"
		"--m\r\nContent-Type: text/plain; name=a.txt\r\n"
		"Content-Disposition: attachment; filename=a.txt\r\n\r\nATTACHED FILE\r\n"
		"--m\r\nContent-Type: text/html\r\n\r\n<p>The body</p>\r\n--m--\r\n",
		"The body");
	/* an inline text part after an attached one */
	assert_body_preview("Content-Type: multipart/mixed; boundary=m\r\n\r\n"
		"--m\r\nContent-Type: text/plain\r\nContent-Disposition: ATTACHMENT\r\n\r\nno\r\n"
		"--m\r\nContent-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nyes\r\n--m--\r\n",
		"yes");
	/* an attached message's text is not this message's */
	assert_body_preview("Content-Type: multipart/mixed; boundary=m\r\n\r\n"
		"--m\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n"
		"--m--\r\n", "");
}
END_TEST

START_TEST(test_preview_cut_base64)
{
	/* BODY[TEXT]<0.4096> ends in the middle of a base64 part; the
	 * top-level fields come from the header fields */
	static const char fields[] = "Subject: long\r\n"
		"Content-Type: text/plain;\r\n charset=\"utf-8\"\r\n"
		"Content-Transfer-Encoding: base64\r\n";
	GString *plain = g_string_new(NULL);
	char *b64, *got;
	size_t cut;

	while (plain->len < 8000)
		g_string_append(plain, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln. ");
	b64 = g_base64_encode((const guchar *)plain->str, plain->len);
	/* odd cut, inside a 4-character group */
	cut = 4096 - 3;
	ck_assert_uint_gt(strlen(b64), cut);
	got = preview_of_text(fields, b64, cut);
	ck_assert_msg(g_str_has_prefix(got, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln. Gr"), "got [%s]", got);
	ck_assert(g_str_has_suffix(got, "\xe2\x80\xa6"));
	ck_assert_uint_eq(g_utf8_strlen(got, -1), MB_PREVIEW_CHARS);
	g_free(got);

	/* a short cut: a few bytes of base64, the last character cut in
	 * half (dropped, not read as windows-1252) */
	got = preview_of_text(fields, b64, 6);
	ck_assert_str_eq(got, "Gr");
	g_free(got);
	g_free(b64);
	g_string_free(plain, TRUE);
}
END_TEST

START_TEST(test_preview_cut_multipart)
{
	static const char fields[] = "Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n";
	static const char cut_in_html[] = "--=_b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"Hello from a cut multipart, caf=C3=A9\r\n"
		"--=_b1\r\nContent-Type: text/html\r\n\r\n<p>Hel";
	static const char cut_in_plain[] = "--=_b1\r\nContent-Type: text/plain\r\n\r\nHello fr";
	static const char cut_in_headers[] = "--=_b1\r\nContent-Type: text/pl";
	static const char cut_in_qp[] = "--=_b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =C3=";
	char *got;

	got = preview_of_text(fields, cut_in_html, sizeof(cut_in_html) - 1);
	ck_assert_str_eq(got, "Hello from a cut multipart, caf\xc3\xa9");
	g_free(got);
	got = preview_of_text(fields, cut_in_plain, sizeof(cut_in_plain) - 1);
	ck_assert_str_eq(got, "Hello fr");
	g_free(got);
	got = preview_of_text(fields, cut_in_headers, sizeof(cut_in_headers) - 1);
	ck_assert(g_utf8_validate(got, -1, NULL));
	g_free(got);
	/* a character cut in half: dropped, nothing invalid */
	got = preview_of_text(fields, cut_in_qp, sizeof(cut_in_qp) - 1);
	ck_assert_msg(g_str_has_prefix(got, "Caf\xc3\xa9"), "got [%s]", got);
	ck_assert(g_utf8_validate(got, -1, NULL));
	g_free(got);
}
END_TEST

START_TEST(test_preview_text_fields_from_header)
{
	/* the MIME fields of BODY[HEADER] when there are no header fields */
	struct mb_imap_fetch *f = fetch_of(NULL, "Subject: s\r\nContent-Type: text/html\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n", NULL,
		"<p>caf=C3=A9 &amp; cr=\r\nème</p>", NULL);
	struct mb_message *msg = create(f, true);

	ck_assert_str_eq(msg->preview, "caf\xc3\xa9 & cr\xc3\xa8me");
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);

	/* without any: plain text */
	f = fetch_of("Subject: s\r\n", NULL, NULL, "  plain start of a body\r\n", NULL);
	msg = create(f, true);
	ck_assert_str_eq(msg->preview, "plain start of a body");
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);

	/* a header-injection attempt in the fields stays one field */
	f = fetch_of("Content-Type: text/plain\r\n\tboundary=x\r\n", NULL, NULL, "ok", NULL);
	msg = create(f, true);
	ck_assert_str_eq(msg->preview, "ok");
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
}
END_TEST

START_TEST(test_preview_server_first)
{
	/* the server's PREVIEW wins over a body and a start of one */
	struct mb_imap_fetch *f = fetch_of("Subject: s\r\n", NULL, "Subject: s\r\n\r\nBody says",
		"Text says", "  Server   says\r\n\x01hi ");
	struct mb_message *msg = create(f, true);

	ck_assert_str_eq(msg->preview, "Server says hi");
	mb_message_destroy(msg);

	/* an empty one does not hide the body */
	g_free(f->preview);
	f->preview = g_strdup("");
	msg = create(f, true);
	ck_assert_str_eq(msg->preview, "Body says");
	mb_message_destroy(msg);

	/* the body wins over its start */
	g_clear_pointer(&f->preview, g_free);
	msg = create(f, true);
	ck_assert_str_eq(msg->preview, "Body says");
	mb_message_destroy(msg);

	/* and then the start */
	g_clear_pointer(&f->body, g_bytes_unref);
	msg = create(f, true);
	ck_assert_str_eq(msg->preview, "Text says");
	mb_message_destroy(msg);

	/* cut like every preview */
	f->preview = g_strnfill(300, 'x');
	msg = create(f, true);
	ck_assert_uint_eq(g_utf8_strlen(msg->preview, -1), MB_PREVIEW_CHARS);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
}
END_TEST

START_TEST(test_preview_not_asked)
{
	struct mb_imap_fetch *f = fetch_of("Subject: s\r\n", NULL, "Subject: s\r\n\r\nBody",
		"Text", "Server");
	struct mb_message *msg = create(f, false);

	ck_assert_str_eq(msg->preview, "");
	ck_assert_str_eq(msg->subject, "s");
	ck_assert_ptr_eq(msg->raw, f->body);
	mb_message_destroy(msg);
	mb_imap_fetch_free(f);
}
END_TEST

START_TEST(test_preview_long_body)
{
	GString *body = g_string_new("Content-Type: text/plain; charset=utf-8\r\n\r\n");
	char *got;

	for (int i = 0; i < 300; i++)
		g_string_append(body, "\xc3\xa9");
	got = preview_of_body(body->str);
	ck_assert_uint_eq(g_utf8_strlen(got, -1), MB_PREVIEW_CHARS);
	ck_assert(g_utf8_validate(got, -1, NULL));
	ck_assert(g_str_has_suffix(got, "\xc3\xa9\xe2\x80\xa6"));
	g_free(got);
	g_string_free(body, TRUE);
}
END_TEST

START_TEST(test_preview_huge_body)
{
	/* 16 MB: only the start is parsed, in bounded time */
	GString *body = g_string_new("Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n"
		"Content-Type: text/html\r\n\r\n<p>Start</p>");
	gint64 start = g_get_monotonic_time();
	char *got;

	while (body->len < 16 * 1024 * 1024)
		g_string_append(body, "<b>x</b> &amp; <i>y</i> <!-- c --> ");
	got = preview_of_body(body->str);
	ck_assert(g_str_has_prefix(got, "Start x & y x & y"));
	ck_assert_uint_eq(g_utf8_strlen(got, -1), MB_PREVIEW_CHARS);
	ck_assert_msg(g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC, "too slow");
	g_free(got);
	g_string_free(body, TRUE);
}
END_TEST

START_TEST(test_preview_deep_nesting)
{
	/* multiparts nested far deeper than anyone writes */
	GString *body = g_string_new(NULL);
	char *got;

	for (int i = 0; i < 2000; i++)
		g_string_append_printf(body, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
			i, i);
	g_string_append(body, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	got = preview_of_body(body->str);
	ck_assert(g_utf8_validate(got, -1, NULL));
	g_free(got);
	g_string_free(body, TRUE);
}
END_TEST

/* ---- fixture messages (tests/data/messages) ---- */

static const struct {
	const char *file;
	const char *preview;
} fixtures[] = {
	{ "apple-alternative-qp.eml", "Hi Anna, the slides are attached \xe2\x80\x94 see you "
		"on Thursday at 10:00. Cheers, Ben" },
	{ "outlook-html-cp1252.eml", "Dear team, The \xe2\x80\x9cQ4 review\xe2\x80\x9d moves "
		"to Friday \xe2\x80\x93 same room. Regards, Claire" },
	{ "newsletter-preheader-base64.eml", "Our winter sale starts now: 30 % off everything "
		"\xe2\x80\xa6 View in browser Hello Dana, Winter is here & so are our deals." },
	{ "attachment-first.eml", "Here is the report you asked for. Best, Eve" },
	{ "related-alternative.eml", "Caf\xc3\xa9 tonight? The usual place. \xe2\x80\x94 F" },
};

START_TEST(test_fixtures)
{
	char *from_text;
	char *got = fixture_preview(fixtures[_i].file, 4096, &from_text);

	ck_assert_msg(strcmp(got, fixtures[_i].preview) == 0, "%s: got [%s], want [%s]",
		fixtures[_i].file, got, fixtures[_i].preview);
	/* the start of the body with the header's MIME fields gives the same */
	ck_assert_msg(strcmp(from_text, fixtures[_i].preview) == 0, "%s from text: got [%s]",
		fixtures[_i].file, from_text);
	g_free(from_text);
	g_free(got);
}
END_TEST

START_TEST(test_fixtures_cut_anywhere)
{
	/* every cut of BODY[TEXT] gives valid text and never crashes */
	for (size_t i = 0; i < G_N_ELEMENTS(fixtures); i++) {
		for (size_t cut = 0; cut < 1500; cut += 7) {
			char *from_text;
			char *got = fixture_preview(fixtures[i].file, cut, &from_text);

			ck_assert(g_utf8_validate(from_text, -1, NULL));
			ck_assert_uint_le(g_utf8_strlen(from_text, -1), MB_PREVIEW_CHARS);
			g_free(from_text);
			g_free(got);
		}
	}
}
END_TEST

/* ---- mb_text_html_to_text ---- */

static void assert_html(const char *html, const char *expected)
{
	char *got = mb_text_html_to_text(html, strlen(html));

	ck_assert_msg(strcmp(got, expected) == 0, "html [%s]: got [%s], want [%s]",
		html, got, expected);
	g_free(got);
}

START_TEST(test_html_entities)
{
	assert_html("&amp; &lt; &gt; &quot; &apos; &#39;", "& < > \" ' '");
	assert_html("a&nbsp;b", "a b");
	assert_html("&#233;&#xE9;&#XE9;&#x1F600;", "\xc3\xa9\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80");
	/* NUL, surrogates and too large: U+FFFD */
	assert_html("&#0;|&#xD800;|&#1114112;|&#99999999999999999999;",
		"\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd");
	/* windows-1252 numbers, as browsers read them */
	assert_html("&#150;&#151;&#147;", "\xe2\x80\x93\xe2\x80\x94\xe2\x80\x9c");
	/* numeric without ';' */
	assert_html("&#65B", "AB");
	assert_html("&copy; &reg; &hellip; &mdash; &ndash; &lsquo;&rsquo; &ldquo;&rdquo; &euro; "
		"&eacute;&Eacute; &trade;",
		"\xc2\xa9 \xc2\xae \xe2\x80\xa6 \xe2\x80\x94 \xe2\x80\x93 \xe2\x80\x98\xe2\x80\x99 "
		"\xe2\x80\x9c\xe2\x80\x9d \xe2\x82\xac \xc3\xa9\xc3\x89 \xe2\x84\xa2");
	/* unknown, unterminated or empty: as written */
	assert_html("&bogus; &amp &; &# &#x; AT&T &", "&bogus; &amp &; &# &#x; AT&T &");
	assert_html("&verylongentityname;", "&verylongentityname;");
	assert_html("&AMP;&LT;", "&<");
}
END_TEST

START_TEST(test_html_hidden)
{
	assert_html("<html><head><title>T</title><meta charset=utf-8></head><body>x</body></html>",
		"x");
	assert_html("a<style type=\"text/css\">p > b { x: \"</b>\" }</style>b", "ab");
	assert_html("a<SCRIPT>if (a < b) document.write('<p>x</p>')</SCRIPT>b", "ab");
	assert_html("a<!-- hidden <p>x</p> -->b<!---->c", "abc");
	assert_html("a<!--[if mso]><xml>o:stuff</xml><![endif]-->b", "ab");
	assert_html("<!DOCTYPE html><?xml version=\"1.0\"?>x", "x");
	/* <head> closed by <body> alone */
	assert_html("<head><title>t</title>junk<body>text", "text");
	/* never closed: the rest is hidden */
	assert_html("a<!-- never closed", "a");
	assert_html("a<style>never closed", "a");
	/* a self-closed style hides nothing */
	assert_html("<style/>shown", "shown");
	/* "</stylex" does not close <style> */
	assert_html("<style></stylex>a</style>b", "b");
}
END_TEST

START_TEST(test_html_tags_and_breaks)
{
	assert_html("<p>one</p><p>two</p>", "one\n\ntwo");
	assert_html("a<br>b<BR/>c<br />d", "a\nb\nc\nd");
	assert_html("<div>x</div><div>y</div>", "x\n\ny");
	assert_html("<ul><li>a</li><li>b</li></ul>", "a\n\nb");
	assert_html("<h1>Title</h1>text", "Title\ntext");
	assert_html("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
		"a b\n\nc");
	assert_html("<b>bold</b> and <a href=\"x>y\" title='a>b'>link</a>", "bold and link");
	/* white space of the source collapses */
	assert_html("  a \r\n\t b  ", "a b");
	/* a lone '<' is text */
	assert_html("1 < 2 and 3 <4", "1 < 2 and 3 <4");
	/* cut in the middle of a tag */
	assert_html("text<a href=\"http://exa", "text");
	assert_html("", "");
	char *got = mb_text_html_to_text(NULL, 0);
	ck_assert_str_eq(got, "");
	g_free(got);
	got = mb_text_html_to_text("a\0b", 3);
	ck_assert_str_eq(got, "ab");
	g_free(got);
}
END_TEST

START_TEST(test_html_linear)
{
	/* inputs that would be quadratic for a naive scanner */
	static const char *const units[] = { "<!--", "<style>", "<a href='", "&#", "&amp", "<", "<head>" };

	for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
		GString *s = g_string_new(NULL);
		gint64 start = g_get_monotonic_time();
		char *got;

		while (s->len < 4 * 1024 * 1024)
			g_string_append(s, units[i]);
		got = mb_text_html_to_text(s->str, s->len);
		g_free(got);
		ck_assert_msg(g_get_monotonic_time() - start < G_USEC_PER_SEC, "%s: too slow", units[i]);
		g_string_free(s, TRUE);
	}
}
END_TEST

/* ---- mb_text_preview ---- */

static void assert_preview_n(const char *text, size_t max, const char *expected)
{
	char *got = mb_text_preview(text, strlen(text), max);

	ck_assert_msg(strcmp(got, expected) == 0, "preview [%s] %zu: got [%s], want [%s]",
		text, max, got, expected);
	ck_assert(g_utf8_validate(got, -1, NULL));
	g_free(got);
}

START_TEST(test_text_preview)
{
	assert_preview_n("\r\n\r\n  a \t\r\n b  \r\n", 200, "a b");
	assert_preview_n("a\x01\x1b[0m\x7f" "b\xc2\x85" "c", 200, "a[0mb c");
	assert_preview_n("a\xe2\x80\xae" "b\xe2\x81\xa6" "c", 200, "abc");
	/* newsletter padding: zero-width and soft hyphens vanish */
	assert_preview_n("Sale\xe2\x80\x8c\xc2\xa0\xe2\x80\x8c\xc2\xa0\xe2\x80\x8c\xc2\xa0\xc2\xad"
		"\xcd\x8f\xef\xbb\xbf now", 200, "Sale now");
	/* ZWJ in an emoji sequence stays */
	assert_preview_n("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 200,
		"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9");
	/* invalid UTF-8: one U+FFFD a run */
	assert_preview_n("a\xff\xfe" "b", 200, "a\xef\xbf\xbd" "b");
	assert_preview_n("", 200, "");
	assert_preview_n(" \r\n\t ", 200, "");
	/* exact fit, and one more */
	assert_preview_n("abcde", 5, "abcde");
	assert_preview_n("abcdef", 5, "abcd\xe2\x80\xa6");
	assert_preview_n("ab cdef", 3, "ab\xe2\x80\xa6");
	/* no space before the ellipsis */
	assert_preview_n("abc defgh", 5, "abc\xe2\x80\xa6");
	/* trailing white space is no reason to cut */
	assert_preview_n("abcde   \r\n", 5, "abcde");
	assert_preview_n("abcdef", 1, "\xe2\x80\xa6");
	assert_preview_n("abcdef", 0, "");
	char *got = mb_text_preview(NULL, 0, 200);
	ck_assert_str_eq(got, "");
	g_free(got);
	got = mb_text_preview("a\0b", 3, 200);
	ck_assert_str_eq(got, "ab");
	g_free(got);
}
END_TEST

START_TEST(test_text_preview_counts_characters)
{
	/* 300 two-octet characters: cut to 199 of them and the ellipsis, on a
	 * character boundary */
	GString *s = g_string_new(NULL);
	char *got;

	for (int i = 0; i < 300; i++)
		g_string_append(s, "\xc3\xa9");
	got = mb_text_preview(s->str, s->len, MB_PREVIEW_CHARS);
	ck_assert(g_utf8_validate(got, -1, NULL));
	ck_assert_uint_eq(g_utf8_strlen(got, -1), 200);
	ck_assert_uint_eq(strlen(got), 199 * 2 + 3);
	g_free(got);

	/* four-octet characters, exactly 200: no cut */
	g_string_truncate(s, 0);
	for (int i = 0; i < 200; i++)
		g_string_append(s, "\xf0\x9f\x98\x80");
	got = mb_text_preview(s->str, s->len, MB_PREVIEW_CHARS);
	ck_assert_str_eq(got, s->str);
	g_free(got);
	g_string_free(s, TRUE);
}
END_TEST

START_TEST(test_ellipsize)
{
	char *s = mb_text_ellipsize("short", 16);

	ck_assert_str_eq(s, "short");
	g_free(s);
	/* cut on a character boundary: "ééé" is 6 octets */
	s = mb_text_ellipsize("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8);
	ck_assert_str_eq(s, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	ck_assert(g_utf8_validate(s, -1, NULL));
	g_free(s);
}
END_TEST

/* ---- wire text through the parser, imap-fetch and message ---- */

static struct mb_message *wire_message(const char *wire, size_t len, bool preview)
{
	struct mb_imap_parser *parser = mb_imap_parser_create(0);
	struct mb_imap_response *resp = NULL;
	struct mb_imap_fetch f;
	struct mb_message *msg;
	const char *err = NULL;

	ck_assert(mb_imap_parser_feed(parser, wire, len));
	ck_assert_msg(mb_imap_parser_next(parser, &resp, &err) == MB_IMAP_PARSE_OK,
		"parse error: %s", err != NULL ? err : "need more");
	mb_imap_parser_destroy(parser);
	ck_assert_msg(mb_imap_fetch_parse(&resp->data->items[0], &f, &err), "fetch: %s", err);
	mb_imap_response_free(resp);
	msg = create(&f, preview);
	mb_imap_fetch_clear(&f);
	return msg;
}

START_TEST(test_wire_dovecot)
{
	/* as Dovecot answers mailbell's UID FETCH: two groups of header
	 * fields, the start of the text and the PREVIEW */
	static const char fields1[] = "Subject: =?UTF-8?Q?R=C3=A9union_de_l=E2=80=99=C3=A9quipe?=\r\n"
		"Date: Sat, 28 Nov 2026 18:04:11 +0100\r\n"
		"Message-ID: <CAF=xyz@mail.example.fr>\r\n"
		"List-Id: =?UTF-8?Q?=C3=89quipe?= <equipe.example.fr>\r\n\r\n";
	static const char fields2[] = "From: =?ISO-8859-1?Q?Andr=E9?= \"Dr\" Dupont <andre@example.fr>\r\n"
		"Sender: Doe Jane <jane@example.org>\r\n"
		"To: me@example.com\r\nCc: \"Doe, Jane\" <jane@example.org>\r\n"
		"Content-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n";
	static const char text[] = "Rendez-vous =E0 10h.\r\n";
	char *wire = g_strdup_printf("* 7 FETCH (UID 1007 FLAGS (\\Seen $NotJunk) RFC822.SIZE 20480 "
		"BODY[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID LIST-ID)]<0> {%zu}\r\n%s "
		"BODY[HEADER.FIELDS (FROM SENDER TO CC CONTENT-TYPE CONTENT-TRANSFER-ENCODING)]<0> "
		"{%zu}\r\n%s BODY[TEXT]<0> {%zu}\r\n%s)\r\n",
		strlen(fields1), fields1, strlen(fields2), fields2, strlen(text), text);
	struct mb_message *msg = wire_message(wire, strlen(wire), true);

	ck_assert_uint_eq(msg->uid, 1007);
	ck_assert(msg->seen);
	ck_assert_uint_eq(msg->size, 20480);
	ck_assert_str_eq(msg->subject, "R\xc3\xa9union de l\xe2\x80\x99\xc3\xa9quipe");
	ck_assert_str_eq(msg->from_name, "Andr\xc3\xa9 Dr Dupont");
	ck_assert_str_eq(msg->from_address, "andre@example.fr");
	ck_assert_str_eq(msg->date, "2026-11-28T18:04:11+01:00");
	ck_assert_str_eq(msg->message_id, "<CAF=xyz@mail.example.fr>");
	ck_assert_str_eq(msg->list_id, "equipe.example.fr");
	ck_assert_str_eq(msg->to_text, "me@example.com, \"Doe, Jane\" <jane@example.org>");
	ck_assert_str_eq(msg->preview, "Rendez-vous \xc3\xa0 10h.");
	ck_assert_ptr_nonnull(msg->header);
	ck_assert_ptr_null(msg->raw);
	mb_message_destroy(msg);
	g_free(wire);
}
END_TEST

START_TEST(test_wire_courier_preview)
{
	static const char wire[] = "* 1 FETCH (UID 5 BODY[HEADER.FIELDS (\"FROM\" \"SUBJECT\")] {38}\r\n"
		"From: a@x.org\r\nSubject: Courier\r\n\r\n\r\n PREVIEW \"Short text\")\r\n";
	struct mb_message *msg = wire_message(wire, sizeof(wire) - 1, true);

	ck_assert_str_eq(msg->from, "a@x.org");
	ck_assert_str_eq(msg->subject, "Courier");
	ck_assert_str_eq(msg->preview, "Short text");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_wire_r11_flags_only)
{
	/* dropping UID 2 (not above the last seen) is the account's job */
	static const char wire[] = "* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n";
	struct mb_message *msg = wire_message(wire, sizeof(wire) - 1, true);

	ck_assert_uint_eq(msg->uid, 2);
	ck_assert(!msg->seen);
	ck_assert_str_eq(msg->from, "(unknown sender)");
	mb_message_destroy(msg);
}
END_TEST

START_TEST(test_wire_full_body)
{
	static const char body[] = "From: Jane <jane@example.org>\r\nSubject: full\r\n"
		"Content-Type: text/plain\r\n\r\nThe whole message.\r\n";
	char *wire = g_strdup_printf("* 9 FETCH (UID 70 RFC822.SIZE %zu BODY[] {%zu}\r\n%s)\r\n",
		strlen(body), strlen(body), body);
	struct mb_message *msg = wire_message(wire, strlen(wire), true);

	ck_assert_str_eq(msg->from, "Jane <jane@example.org>");
	ck_assert_str_eq(msg->subject, "full");
	ck_assert_str_eq(msg->preview, "The whole message.");
	ck_assert_ptr_nonnull(msg->raw);
	ck_assert_uint_eq(g_bytes_get_size(msg->raw), strlen(body));
	ck_assert_uint_eq(g_bytes_get_size(msg->header), strstr(body, "\r\n\r\n") + 4 - body);
	mb_message_destroy(msg);
	g_free(wire);
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
	tcase_add_test(tc, test_ellipsize);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, test_fields_basic);
	tcase_add_test(tc, test_fields_names_case_and_spacing);
	tcase_add_test(tc, test_fields_empty);
	tcase_add_test(tc, test_create_null_fetch);
	tcase_add_test(tc, test_fields_date);
	tcase_add_test(tc, test_fields_message_id_sanitized);
	tcase_add_test(tc, test_fields_h9_h10_unchanged);
	tcase_add_test(tc, test_fields_h12_name_with_comma);
	tcase_add_test(tc, test_fields_encoded_name);
	tcase_add_test(tc, test_fields_from_forms);
	tcase_add_test(tc, test_fields_sender_fallback);
	tcase_add_test(tc, test_r23_empty_from);
	tcase_add_test(tc, test_r24_group);
	tcase_add_test(tc, test_r22_raw_8bit_subject);
	tcase_add_test(tc, test_strings_are_valid_utf8);
	tcase_add_test(tc, test_huge_from);
	tcase_add_test(tc, test_recipients);
	tcase_add_test(tc, test_recipients_groups_and_empty);
	tcase_add_test(tc, test_recipients_many);
	tcase_add_test(tc, test_list_id);
	tcase_add_test(tc, test_field_sources);
	tcase_add_test(tc, test_body_header_forms);
	tcase_add_test(tc, test_bytes_referenced);
	suite_add_tcase(s, tc);

	tc = tcase_create("preview");
	/* the huge-input tests take a while under sanitizers and valgrind */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_preview_plain);
	tcase_add_test(tc, test_preview_html_only);
	tcase_add_test(tc, test_preview_alternative);
	tcase_add_test(tc, test_preview_transfer_encodings);
	tcase_add_test(tc, test_preview_charsets);
	tcase_add_test(tc, test_preview_skips_attachment);
	tcase_add_test(tc, test_preview_cut_base64);
	tcase_add_test(tc, test_preview_cut_multipart);
	tcase_add_test(tc, test_preview_text_fields_from_header);
	tcase_add_test(tc, test_preview_server_first);
	tcase_add_test(tc, test_preview_not_asked);
	tcase_add_test(tc, test_preview_long_body);
	tcase_add_test(tc, test_preview_huge_body);
	tcase_add_test(tc, test_preview_deep_nesting);
	tcase_add_loop_test(tc, test_fixtures, 0, G_N_ELEMENTS(fixtures));
	tcase_add_test(tc, test_fixtures_cut_anywhere);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_html_entities);
	tcase_add_test(tc, test_html_hidden);
	tcase_add_test(tc, test_html_tags_and_breaks);
	tcase_add_test(tc, test_html_linear);
	tcase_add_test(tc, test_text_preview);
	tcase_add_test(tc, test_text_preview_counts_characters);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_add_test(tc, test_wire_dovecot);
	tcase_add_test(tc, test_wire_courier_preview);
	tcase_add_test(tc, test_wire_r11_flags_only);
	tcase_add_test(tc, test_wire_full_body);
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
