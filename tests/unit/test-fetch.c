/* Tests for src/imap-fetch.c: untagged FETCH responses as servers send
 * them, run through the real parser (src/imap-parser.c) whole and one byte
 * at a time, then taken apart into struct mb_imap_fetch. */
#define G_LOG_DOMAIN "mailbell"

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "imap-fetch.h"
#include "imap-parser.h"

/* ---- helpers ---- */

/* Parses one complete response, fed whole or one byte at a time. */
static struct mb_imap_response *parse_response(const char *wire, size_t len, bool bytewise)
{
	struct mb_imap_parser *parser = mb_imap_parser_create(0);
	struct mb_imap_response *resp = NULL;
	const char *err = NULL;
	enum mb_imap_parse_result r = MB_IMAP_PARSE_NEED_MORE;

	if (bytewise) {
		for (size_t i = 0; i < len; i++) {
			ck_assert(mb_imap_parser_feed(parser, wire + i, 1));
			r = mb_imap_parser_next(parser, &resp, &err);
			if (i + 1 < len)
				ck_assert_msg(r == MB_IMAP_PARSE_NEED_MORE, "response ends early at %zu", i);
		}
	} else {
		ck_assert(mb_imap_parser_feed(parser, wire, len));
		r = mb_imap_parser_next(parser, &resp, &err);
	}
	ck_assert_msg(r == MB_IMAP_PARSE_OK, "parse error: %s", err != NULL ? err : "need more");
	ck_assert_uint_eq(mb_imap_parser_pending(parser), 0);
	mb_imap_parser_destroy(parser);
	ck_assert_int_eq(resp->kind, MB_IMAP_UNTAGGED);
	ck_assert_str_eq(resp->name, "FETCH");
	ck_assert_uint_eq(resp->data->n_items, 1);
	return resp;
}

/* mb_imap_fetch_parse() on the msg-att list of wire. */
static bool parse_fetch_len(const char *wire, size_t len, bool bytewise,
	struct mb_imap_fetch *out, const char **errstr_r)
{
	struct mb_imap_response *resp = parse_response(wire, len, bytewise);
	bool ok;

	*errstr_r = "not touched";
	ok = mb_imap_fetch_parse(&resp->data->items[0], out, errstr_r);
	mb_imap_response_free(resp);
	return ok;
}

static bool parse_fetch(const char *wire, struct mb_imap_fetch *out, const char **errstr_r)
{
	return parse_fetch_len(wire, strlen(wire), false, out, errstr_r);
}

/* Parses wire, which must succeed. */
static void fetch_ok(const char *wire, size_t len, struct mb_imap_fetch *out)
{
	const char *err;

	ck_assert_msg(parse_fetch_len(wire, len, false, out, &err), "rejected: %s", err);
}

static void assert_bytes(GBytes *b, const char *expected, size_t len)
{
	gsize n;
	const char *data;

	ck_assert_msg(b != NULL, "expected %zu octets, got NULL", len);
	data = g_bytes_get_data(b, &n);
	ck_assert_uint_eq(n, len);
	ck_assert_msg(len == 0 || memcmp(data, expected, len) == 0, "got [%.*s], want [%.*s]",
		(int)n, data, (int)len, expected);
}

static void assert_bytes_str(GBytes *b, const char *expected)
{
	assert_bytes(b, expected, strlen(expected));
}

/* A FETCH response with literals built from pieces: "%L" in fmt takes the
 * next string argument as a {N} literal. */
static GString *wire_printf(const char *fmt, ...)
{
	GString *w = g_string_new(NULL);
	va_list ap;

	va_start(ap, fmt);
	for (const char *p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'L') {
			const char *lit = va_arg(ap, const char *);

			g_string_append_printf(w, "{%zu}\r\n%s", strlen(lit), lit);
			p++;
		} else {
			g_string_append_c(w, *p);
		}
	}
	va_end(ap);
	return w;
}

/* ---- Dovecot ---- */

static const char dovecot_fields[] = "Subject: Lunch?\r\n"
	"Date: Tue, 01 Dec 2026 12:00:00 +0100\r\n"
	"Message-ID: <lunch@example.org>\r\n"
	"List-Id: Food <food.example.org>\r\n\r\n";
static const char dovecot_text[] = "Shall we go at one?\r\n";

static GString *dovecot_wire(void)
{
	/* as Dovecot 2.3 answers UID FETCH 7 (UID FLAGS RFC822.SIZE
	 * BODY.PEEK[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID LIST-ID)]<0.16384>
	 * BODY.PEEK[TEXT]<0.4096> PREVIEW) */
	return wire_printf("* 3 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 1234 "
		"BODY[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID LIST-ID)]<0> %L "
		"BODY[TEXT]<0> %L PREVIEW \"hi\")\r\n", dovecot_fields, dovecot_text);
}

static void assert_dovecot(const struct mb_imap_fetch *f)
{
	ck_assert_uint_eq(f->uid, 7);
	ck_assert(f->has_flags);
	ck_assert(f->seen);
	ck_assert_uint_eq(f->size, 1234);
	/* the block's blank line goes, its last line keeps its CRLF */
	assert_bytes_str(f->header_fields, "Subject: Lunch?\r\n"
		"Date: Tue, 01 Dec 2026 12:00:00 +0100\r\n"
		"Message-ID: <lunch@example.org>\r\n"
		"List-Id: Food <food.example.org>\r\n");
	assert_bytes_str(f->text, dovecot_text);
	ck_assert_ptr_null(f->header);
	ck_assert_str_eq(f->preview, "hi");
}

START_TEST(test_dovecot)
{
	GString *w = dovecot_wire();
	struct mb_imap_fetch f;
	const char *err;

	ck_assert(parse_fetch_len(w->str, w->len, false, &f, &err));
	assert_dovecot(&f);
	ck_assert_ptr_null(f.body);
	mb_imap_fetch_clear(&f);
	ck_assert_uint_eq(f.uid, 0);
	ck_assert_ptr_null(f.header_fields);
	ck_assert_ptr_null(f.preview);
	mb_imap_fetch_clear(&f);  /* twice is fine */

	/* one byte at a time gives the same */
	ck_assert(parse_fetch_len(w->str, w->len, true, &f, &err));
	assert_dovecot(&f);
	mb_imap_fetch_clear(&f);
	g_string_free(w, TRUE);
}
END_TEST

START_TEST(test_resp_data_accepted)
{
	/* resp->data itself (the list holding the msg-att list) works too,
	 * like mb_imap_fetch_item() */
	GString *w = dovecot_wire();
	struct mb_imap_response *resp = parse_response(w->str, w->len, false);
	struct mb_imap_fetch f;
	const char *err = NULL;

	ck_assert(mb_imap_fetch_parse(resp->data, &f, &err));
	assert_dovecot(&f);
	mb_imap_fetch_clear(&f);
	/* and errstr_r may be NULL */
	ck_assert(mb_imap_fetch_parse(&resp->data->items[0], &f, NULL));
	mb_imap_fetch_clear(&f);
	mb_imap_response_free(resp);
	g_string_free(w, TRUE);
}
END_TEST

START_TEST(test_two_field_groups_joined)
{
	/* mailbell's own request: two groups of header fields, each cut at
	 * 16 KiB; the second one cut mid-line, the third empty */
	GString *w = wire_printf("* 1 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT DATE)]<0> %L "
		"BODY[HEADER.FIELDS (FROM SENDER)]<0> %L BODY[HEADER.FIELDS (LIST-ID)]<0> %L)\r\n",
		"Subject: a\r\n\r\n", "From: Jane <jane@exa", "\r\n");
	struct mb_imap_fetch f;

	fetch_ok(w->str, w->len, &f);
	assert_bytes_str(f.header_fields, "Subject: a\r\nFrom: Jane <jane@exa\r\n");
	ck_assert(!f.has_flags);
	ck_assert(!f.seen);
	ck_assert_uint_eq(f.size, 0);
	ck_assert_ptr_null(f.preview);
	ck_assert_ptr_null(f.text);
	mb_imap_fetch_clear(&f);
	g_string_free(w, TRUE);

	/* only empty blocks: no header fields at all */
	w = wire_printf("* 1 FETCH (UID 9 BODY[HEADER.FIELDS (LIST-ID)]<0> %L)\r\n", "\r\n");
	fetch_ok(w->str, w->len, &f);
	ck_assert_ptr_null(f.header_fields);
	mb_imap_fetch_clear(&f);
	g_string_free(w, TRUE);

	/* bare LF endings (R-style Outlook) are kept, the last line ends in
	 * CRLF */
	w = wire_printf("* 1 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT)] %L)\r\n",
		"Subject: b\n c\n\n");
	fetch_ok(w->str, w->len, &f);
	assert_bytes_str(f.header_fields, "Subject: b\n c\r\n");
	mb_imap_fetch_clear(&f);
	g_string_free(w, TRUE);
}
END_TEST

/* ---- Courier and other spellings ---- */

START_TEST(test_courier_quoted_names)
{
	/* Courier-IMAP quotes the field names it echoes */
	GString *w = wire_printf("* 2 FETCH (UID 12 FLAGS () "
		"BODY[HEADER.FIELDS (\"SUBJECT\" \"DATE\")] %L "
		"BODY[HEADER.FIELDS (\"FROM\")]<0> %L)\r\n",
		"Subject: q\r\n\r\n", "From: a@b.org\r\n\r\n");
	struct mb_imap_fetch f;

	fetch_ok(w->str, w->len, &f);
	ck_assert_uint_eq(f.uid, 12);
	ck_assert(f.has_flags);
	ck_assert(!f.seen);
	assert_bytes_str(f.header_fields, "Subject: q\r\nFrom: a@b.org\r\n");
	mb_imap_fetch_clear(&f);
	g_string_free(w, TRUE);
}
END_TEST

START_TEST(test_section_spellings)
{
	static const char *const fields_names[] = {
		"body[header.fields (subject)]",
		"Body[Header.Fields (Subject)]<0>",
		"BODY[HEADER.FIELDS(SUBJECT)]",
		"BODY[ HEADER.FIELDS (SUBJECT) ]",
		"BODY[HEADER.FIELDS.NOT (RECEIVED)]",
		"BODY[HEADER.FIELDS (\"X]Y\")]<0>",
		"BODY[HEADER.FIELDS (SUBJECT)]<0.16384>",
		"BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(fields_names); i++) {
		GString *w = wire_printf("* 1 FETCH (UID 3 ");
		struct mb_imap_fetch f;

		g_string_append_printf(w, "%s {12}\r\nSubject: s\r\n)\r\n", fields_names[i]);
		fetch_ok(w->str, w->len, &f);
		ck_assert_msg(f.header_fields != NULL, "%s not taken", fields_names[i]);
		assert_bytes_str(f.header_fields, "Subject: s\r\n");
		mb_imap_fetch_clear(&f);
		g_string_free(w, TRUE);
	}
}
END_TEST

START_TEST(test_header_body_text)
{
	static const char wire[] = "* 4 FETCH (UID 5 BODY[HEADER] {16}\r\nSubject: x\r\n\r\n\r\n"
		"body[] {5}\r\nA\0B\r\n BODY[TEXT]<0> {3}\r\nabc)\r\n";
	struct mb_imap_fetch f;

	fetch_ok(wire, sizeof(wire) - 1, &f);
	/* BODY[HEADER] is kept as sent, blank line and all */
	assert_bytes_str(f.header, "Subject: x\r\n\r\n\r\n");
	assert_bytes(f.body, "A\0B\r\n", 5);
	assert_bytes_str(f.text, "abc");
	ck_assert_ptr_null(f.header_fields);
	mb_imap_fetch_clear(&f);

	/* BODY[]<0> and a literal8 (BINARY servers) */
	static const char wire8[] = "* 4 FETCH (UID 5 BODY[]<0> ~{2}\r\nhi)\r\n";
	fetch_ok(wire8, sizeof(wire8) - 1, &f);
	assert_bytes_str(f.body, "hi");
	mb_imap_fetch_clear(&f);

	/* an empty body is a body */
	static const char empty[] = "* 4 FETCH (UID 5 BODY[] \"\")\r\n";
	fetch_ok(empty, sizeof(empty) - 1, &f);
	assert_bytes(f.body, "", 0);
	mb_imap_fetch_clear(&f);
}
END_TEST

START_TEST(test_first_of_duplicates)
{
	static const char wire[] = "* 4 FETCH (UID 5 BODY[] \"one\" BODY[]<0> \"two\" "
		"PREVIEW \"p1\" PREVIEW \"p2\" UID 6)\r\n";
	struct mb_imap_fetch f;

	fetch_ok(wire, sizeof(wire) - 1, &f);
	ck_assert_uint_eq(f.uid, 5);
	assert_bytes_str(f.body, "one");
	ck_assert_str_eq(f.preview, "p1");
	mb_imap_fetch_clear(&f);
}
END_TEST

START_TEST(test_unknown_items_ignored)
{
	static const char wire[] = "* 9 FETCH (MODSEQ (12345) UID 77 X-GM-LABELS (\\Inbox) "
		"BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1) "
		"BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1) "
		"BODY[1.MIME] {2}\r\nxy BODY[]<16384> {2}\r\nzz BINARY[1] {2}\r\nbb "
		"EMAILID (M1) INTERNALDATE \"01-Dec-2026 12:00:00 +0000\" ENVELOPE NIL)\r\n";
	struct mb_imap_fetch f;

	fetch_ok(wire, sizeof(wire) - 1, &f);
	ck_assert_uint_eq(f.uid, 77);
	/* a later piece of BODY[] is not its start */
	ck_assert_ptr_null(f.body);
	ck_assert_ptr_null(f.header);
	ck_assert_ptr_null(f.header_fields);
	ck_assert_ptr_null(f.text);
	ck_assert_ptr_null(f.preview);
	mb_imap_fetch_clear(&f);
}
END_TEST

/* ---- NIL, missing UID, wrong types ---- */

START_TEST(test_nil_values_absent)
{
	static const char wire[] = "* 9 FETCH (UID 8 FLAGS NIL RFC822.SIZE NIL "
		"BODY[HEADER.FIELDS (LIST-ID)]<0> NIL BODY[HEADER] NIL BODY[] NIL "
		"BODY[TEXT]<0> NIL PREVIEW NIL)\r\n";
	struct mb_imap_fetch f;

	fetch_ok(wire, sizeof(wire) - 1, &f);
	ck_assert_uint_eq(f.uid, 8);
	ck_assert(!f.has_flags);
	ck_assert_uint_eq(f.size, 0);
	ck_assert_ptr_null(f.header_fields);
	ck_assert_ptr_null(f.header);
	ck_assert_ptr_null(f.body);
	ck_assert_ptr_null(f.text);
	ck_assert_ptr_null(f.preview);
	mb_imap_fetch_clear(&f);

	/* RFC 8970: "" is a preview (an empty one), unlike NIL */
	static const char empty[] = "* 9 FETCH (UID 8 PREVIEW \"\")\r\n";
	fetch_ok(empty, sizeof(empty) - 1, &f);
	ck_assert_str_eq(f.preview, "");
	mb_imap_fetch_clear(&f);
}
END_TEST

START_TEST(test_preview_literal)
{
	static const char wire[] = "* 9 FETCH (UID 8 PREVIEW {12}\r\nCaf\xc3\xa9\0 \xe2\x80\x94 x)\r\n";
	struct mb_imap_fetch f;

	fetch_ok(wire, sizeof(wire) - 1, &f);
	/* as sent, only without the NUL a char * cannot hold */
	ck_assert_str_eq(f.preview, "Caf\xc3\xa9 \xe2\x80\x94 x");
	mb_imap_fetch_clear(&f);
}
END_TEST

START_TEST(test_without_uid)
{
	static const char *const wires[] = {
		"* 3 FETCH (FLAGS (\\Seen))\r\n",
		"* 3 FETCH (FLAGS (\\Seen) MODSEQ (5))\r\n",
		"* 3 FETCH ()\r\n",
		"* 3 FETCH (X-UID 4 BODY[] \"x\")\r\n",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(wires); i++) {
		struct mb_imap_fetch f;
		const char *err;

		memset(&f, 0xA5, sizeof(f));
		ck_assert_msg(!parse_fetch(wires[i], &f, &err), "%s accepted", wires[i]);
		ck_assert_msg(err == NULL, "%s: errstr %s", wires[i], err);
		/* *out untouched */
		for (size_t j = 0; j < sizeof(f); j++)
			ck_assert_uint_eq(((unsigned char *)&f)[j], 0xA5);
	}
}
END_TEST

START_TEST(test_wrong_types)
{
	static const char *const wires[] = {
		"* 3 FETCH (UID 7 BODY[] (a b))\r\n",
		"* 3 FETCH (UID 7 BODY[]<0> 12)\r\n",
		"* 3 FETCH (UID 7 BODY[HEADER] (x))\r\n",
		"* 3 FETCH (UID 7 BODY[TEXT]<0> ())\r\n",
		"* 3 FETCH (UID 7 BODY[HEADER.FIELDS (FROM)]<0> (\"From: a\"))\r\n",
		"* 3 FETCH (UID 7 BODY[HEADER.FIELDS (FROM)] abc)\r\n",
		"* 3 FETCH (UID 7 PREVIEW (\"x\"))\r\n",
		"* 3 FETCH (UID 7 PREVIEW x)\r\n",
		"* 3 FETCH (UID 7 FLAGS \\Seen)\r\n",
		"* 3 FETCH (UID 7 FLAGS \"\\\\Seen\")\r\n",
		"* 3 FETCH (UID 7 RFC822.SIZE (1))\r\n",
		"* 3 FETCH (UID 7 RFC822.SIZE abc)\r\n",
		"* 3 FETCH (UID 7 RFC822.SIZE \"12\")\r\n",
		"* 3 FETCH (UID 0)\r\n",
		"* 3 FETCH (UID abc)\r\n",
		"* 3 FETCH (UID \"5\")\r\n",
		"* 3 FETCH (UID (5))\r\n",
		"* 3 FETCH (UID NIL)\r\n",
		"* 3 FETCH (UID 4294967296)\r\n",
		"* 3 FETCH (UID 7 FLAGS)\r\n",
		"* 3 FETCH (UID 7 BODY[])\r\n",
		"* 3 FETCH (FLAGS () UID)\r\n",
		"* 3 FETCH (UID 7 \"BODY[]\" \"x\")\r\n",
		"* 3 FETCH (UID 7 (X) Y)\r\n",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(wires); i++) {
		struct mb_imap_fetch f;
		const char *err;

		memset(&f, 0xA5, sizeof(f));
		ck_assert_msg(!parse_fetch(wires[i], &f, &err), "%s accepted", wires[i]);
		ck_assert_msg(err != NULL && strcmp(err, "not touched") != 0, "%s: no errstr",
			wires[i]);
		for (size_t j = 0; j < sizeof(f); j++)
			ck_assert_uint_eq(((unsigned char *)&f)[j], 0xA5);
	}

	/* a bare value at the end that names nothing we know is ignored */
	struct mb_imap_fetch f;
	const char *err;

	ck_assert(parse_fetch("* 3 FETCH (UID 7 X-FOO)\r\n", &f, &err));
	ck_assert_uint_eq(f.uid, 7);
	mb_imap_fetch_clear(&f);
	ck_assert(!mb_imap_fetch_parse(NULL, &f, &err));
	ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_numbers)
{
	static const struct {
		const char *wire;
		uint32_t uid, size;
	} cases[] = {
		{ "* 1 FETCH (UID 4294967295 RFC822.SIZE 0)\r\n", 4294967295u, 0 },
		{ "* 1 FETCH (RFC822.SIZE 123456 UID 1)\r\n", 1, 123456 },
		/* RFC 9051: RFC822.SIZE is a number64 */
		{ "* 1 FETCH (UID 1 RFC822.SIZE 4294967296)\r\n", 1, 4294967295u },
		{ "* 1 FETCH (UID 1 RFC822.SIZE 9223372036854775807)\r\n", 1, 4294967295u },
		{ "* 1 FETCH (uid 2 rfc822.size 4 flags (\\SEEN))\r\n", 2, 4 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_imap_fetch f;
		const char *err;

		ck_assert_msg(parse_fetch(cases[i].wire, &f, &err), "%s: %s", cases[i].wire, err);
		ck_assert_uint_eq(f.uid, cases[i].uid);
		ck_assert_uint_eq(f.size, cases[i].size);
		mb_imap_fetch_clear(&f);
	}
}
END_TEST

START_TEST(test_flags)
{
	static const struct {
		const char *wire;
		bool seen;
	} cases[] = {
		{ "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n", true },
		{ "* 1 FETCH (UID 1 FLAGS (\\Recent \\seen))\r\n", true },
		{ "* 1 FETCH (UID 1 FLAGS ())\r\n", false },
		{ "* 1 FETCH (UID 1 FLAGS (\\Recent $Seen \\Seenx))\r\n", false },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_imap_fetch f;
		const char *err;

		ck_assert_msg(parse_fetch(cases[i].wire, &f, &err), "%s: %s", cases[i].wire, err);
		ck_assert(f.has_flags);
		ck_assert_msg(f.seen == cases[i].seen, "%s", cases[i].wire);
		mb_imap_fetch_clear(&f);
	}
}
END_TEST

/* ---- merge, copy ---- */

START_TEST(test_merge_body)
{
	/* the header fields first, then a second FETCH of the same UID with
	 * the whole message, as when the body is downloaded afterwards */
	GString *w = dovecot_wire();
	static const char second[] = "* 3 FETCH (UID 7 FLAGS () RFC822.SIZE 99 "
		"BODY[] {22}\r\nSubject: Lunch?\r\n\r\nYes PREVIEW \"other\")\r\n";
	struct mb_imap_fetch dst, src;
	const char *err;

	ck_assert(parse_fetch_len(w->str, w->len, false, &dst, &err));
	ck_assert(parse_fetch_len(second, sizeof(second) - 1, false, &src, &err));
	mb_imap_fetch_merge(&dst, &src);
	/* dst keeps what it had */
	assert_dovecot(&dst);
	/* and gains the body */
	assert_bytes_str(dst.body, "Subject: Lunch?\r\n\r\nYes");
	/* src is cleared */
	ck_assert_uint_eq(src.uid, 0);
	ck_assert_ptr_null(src.body);
	ck_assert_ptr_null(src.preview);
	mb_imap_fetch_clear(&dst);

	/* the other way round: flags, size and preview come over */
	ck_assert(parse_fetch_len(second, sizeof(second) - 1, false, &src, &err));
	ck_assert(parse_fetch("* 3 FETCH (UID 7)\r\n", &dst, &err));
	mb_imap_fetch_merge(&dst, &src);
	ck_assert_uint_eq(dst.uid, 7);
	ck_assert(dst.has_flags);
	ck_assert(!dst.seen);
	ck_assert_uint_eq(dst.size, 99);
	ck_assert_str_eq(dst.preview, "other");
	assert_bytes_str(dst.body, "Subject: Lunch?\r\n\r\nYes");
	mb_imap_fetch_clear(&dst);
	mb_imap_fetch_clear(&src);

	/* NULLs and self-merges do nothing */
	mb_imap_fetch_merge(NULL, NULL);
	ck_assert(parse_fetch("* 3 FETCH (UID 7 PREVIEW \"p\")\r\n", &dst, &err));
	mb_imap_fetch_merge(&dst, &dst);
	ck_assert_str_eq(dst.preview, "p");
	mb_imap_fetch_clear(&dst);
	g_string_free(w, TRUE);
}
END_TEST

START_TEST(test_copy)
{
	GString *w = dovecot_wire();
	struct mb_imap_fetch f;
	struct mb_imap_fetch *copy;
	const char *err;

	ck_assert(parse_fetch_len(w->str, w->len, false, &f, &err));
	copy = mb_imap_fetch_copy(&f);
	mb_imap_fetch_clear(&f);
	/* the copy outlives the original */
	assert_dovecot(copy);
	mb_imap_fetch_free(copy);
	mb_imap_fetch_free(NULL);
	copy = mb_imap_fetch_copy(NULL);
	ck_assert_uint_eq(copy->uid, 0);
	mb_imap_fetch_free(copy);
	g_string_free(w, TRUE);
}
END_TEST

static Suite *fetch_suite(void)
{
	Suite *s = suite_create("fetch");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_dovecot);
	tcase_add_test(tc, test_resp_data_accepted);
	tcase_add_test(tc, test_two_field_groups_joined);
	tcase_add_test(tc, test_courier_quoted_names);
	tcase_add_test(tc, test_section_spellings);
	tcase_add_test(tc, test_header_body_text);
	tcase_add_test(tc, test_first_of_duplicates);
	tcase_add_test(tc, test_unknown_items_ignored);
	tcase_add_test(tc, test_nil_values_absent);
	tcase_add_test(tc, test_preview_literal);
	tcase_add_test(tc, test_without_uid);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_flags);
	suite_add_tcase(s, tc);

	tc = tcase_create("merge");
	tcase_add_test(tc, test_merge_body);
	tcase_add_test(tc, test_copy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fetch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
