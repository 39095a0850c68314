/* Unit tests for the IMAP response parser (src/imap-parser.c). Every
 * well-formed case is parsed three ways: the whole buffer at once, one byte at
 * a time (NEED_MORE until the very last byte) and in odd-sized chunks; the
 * three results must be identical. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-parser.h"

/* --- helpers ------------------------------------------------------------ */

static bool values_equal(const struct mb_imap_value *a, const struct mb_imap_value *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	if (a->type != b->type || a->len != b->len || a->literal != b->literal
	    || a->n_items != b->n_items)
		return false;
	if ((a->str == NULL) != (b->str == NULL))
		return false;
	if (a->str && memcmp(a->str, b->str, a->len + 1) != 0)
		return false;
	for (i = 0; i < a->n_items; i++) {
		if (!values_equal(&a->items[i], &b->items[i]))
			return false;
	}
	return true;
}

static bool pstr_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool responses_equal(const struct mb_imap_response *a, const struct mb_imap_response *b)
{
	return a->kind == b->kind && a->status == b->status && a->has_number == b->has_number
		&& a->number == b->number && pstr_equal(a->tag, b->tag)
		&& pstr_equal(a->name, b->name) && pstr_equal(a->code, b->code)
		&& pstr_equal(a->code_text, b->code_text) && pstr_equal(a->text, b->text)
		&& values_equal(a->data, b->data);
}

/* Feeds in chunks of `chunk` bytes (0: all at once) and collects up to max
 * responses; asserts NEED_MORE before the final byte of each response. */
static size_t parse_chunked(const char *data, size_t len, size_t chunk,
	struct mb_imap_response **out, size_t max)
{
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	size_t off = 0, n = 0;

	if (chunk == 0)
		chunk = len;
	while (off < len) {
		size_t k = len - off < chunk ? len - off : chunk;
		struct mb_imap_response *r;
		const char *err = NULL;
		enum mb_imap_parse_result res;

		ck_assert(mb_imap_parser_feed(p, data + off, k));
		off += k;
		while ((res = mb_imap_parser_next(p, &r, &err)) == MB_IMAP_PARSE_OK) {
			ck_assert_ptr_nonnull(r);
			ck_assert_uint_lt(n, max);
			out[n++] = r;
		}
		ck_assert_msg(res == MB_IMAP_PARSE_NEED_MORE, "parse error: %s", err ? err : "?");
		ck_assert_ptr_null(r);
	}
	ck_assert_uint_eq(mb_imap_parser_pending(p), 0);
	mb_imap_parser_destroy(p);
	return n;
}

/* Parses data holding exactly n_expect responses three ways and checks the
 * results agree. With one byte at a time and a single response, every call
 * before the final byte must say NEED_MORE (checked by parse_chunked: a
 * response produced early would make the count or comparison wrong). */
static size_t parse_all(const char *data, size_t len, struct mb_imap_response **out, size_t max)
{
	struct mb_imap_response *b1[64], *b3[64];
	size_t n, n1, n3, i;

	ck_assert_uint_le(max, 64);
	n = parse_chunked(data, len, 0, out, max);
	n1 = parse_chunked(data, len, 1, b1, 64);
	n3 = parse_chunked(data, len, 3, b3, 64);
	ck_assert_uint_eq(n, n1);
	ck_assert_uint_eq(n, n3);
	for (i = 0; i < n; i++) {
		ck_assert_msg(responses_equal(out[i], b1[i]), "byte-wise result %zu differs", i);
		ck_assert_msg(responses_equal(out[i], b3[i]), "chunked result %zu differs", i);
		mb_imap_response_free(b1[i]);
		mb_imap_response_free(b3[i]);
	}
	return n;
}

/* Exactly one response; byte-wise feeding must report NEED_MORE after every
 * byte but the last, then OK. */
static struct mb_imap_response *parse_one(const char *data, size_t len)
{
	struct mb_imap_response *r[1];
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *br = NULL;
	size_t i;

	for (i = 0; i < len; i++) {
		const char *err = NULL;
		enum mb_imap_parse_result res;
		ck_assert(mb_imap_parser_feed(p, data + i, 1));
		res = mb_imap_parser_next(p, &br, &err);
		if (i + 1 < len) {
			ck_assert_msg(res == MB_IMAP_PARSE_NEED_MORE,
				"byte %zu of %zu: result %d (%s)", i, len, res, err ? err : "");
		} else {
			ck_assert_msg(res == MB_IMAP_PARSE_OK, "final byte: result %d (%s)", res,
				err ? err : "");
		}
	}
	ck_assert_uint_eq(mb_imap_parser_pending(p), 0);
	mb_imap_parser_destroy(p);

	ck_assert_uint_eq(parse_all(data, len, r, 1), 1);
	ck_assert(responses_equal(r[0], br));
	mb_imap_response_free(br);
	return r[0];
}

#define PARSE(lit) parse_one(lit, sizeof(lit) - 1)

/* Expects an error (from feed or next) with the given description, whole
 * and byte-wise. */
static void expect_error_chunk(const char *data, size_t len, size_t chunk, const char *want)
{
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	size_t off = 0;
	const char *err = NULL;
	bool failed = false;

	if (chunk == 0)
		chunk = len;
	while (off < len && !failed) {
		size_t k = len - off < chunk ? len - off : chunk;
		struct mb_imap_response *r = NULL;
		enum mb_imap_parse_result res;

		if (!mb_imap_parser_feed(p, data + off, k))
			failed = true;
		off += k;
		while ((res = mb_imap_parser_next(p, &r, &err)) == MB_IMAP_PARSE_OK)
			mb_imap_response_free(r);
		if (res == MB_IMAP_PARSE_ERROR) {
			ck_assert_ptr_null(r);
			failed = true;
		}
	}
	ck_assert_msg(failed, "no error for %s", want);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, want);
	/* The error is sticky. */
	ck_assert(!mb_imap_parser_feed(p, "* OK\r\n", 6));
	{
		struct mb_imap_response *r = NULL;
		err = NULL;
		ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
		ck_assert_str_eq(err, want);
	}
	mb_imap_parser_destroy(p);
}

static void expect_error(const char *data, size_t len, const char *want)
{
	expect_error_chunk(data, len, 0, want);
	expect_error_chunk(data, len, 1, want);
}

#define ERR(lit, want) expect_error(lit, sizeof(lit) - 1, want)

static const struct mb_imap_value *item(const struct mb_imap_value *v, size_t i)
{
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, MB_IMAP_LIST);
	ck_assert_uint_lt(i, v->n_items);
	return &v->items[i];
}

static void assert_atom(const struct mb_imap_value *v, const char *s)
{
	ck_assert_int_eq(v->type, MB_IMAP_ATOM);
	ck_assert_str_eq(v->str, s);
	ck_assert_uint_eq(v->len, strlen(s));
}

static void assert_string(const struct mb_imap_value *v, const char *s)
{
	ck_assert_int_eq(v->type, MB_IMAP_STRING);
	ck_assert_str_eq(v->str, s);
	ck_assert_uint_eq(v->len, strlen(s));
}

static void assert_nil(const struct mb_imap_value *v)
{
	ck_assert_int_eq(v->type, MB_IMAP_NIL);
	ck_assert_ptr_null(v->str);
}

static void assert_status(const struct mb_imap_response *r, enum mb_imap_response_kind kind,
	const char *tag, enum mb_imap_status st, const char *code, const char *code_text,
	const char *text)
{
	ck_assert_int_eq(r->kind, kind);
	ck_assert_pstr_eq(r->tag, tag);
	ck_assert_int_eq(r->status, st);
	ck_assert_pstr_eq(r->code, code);
	ck_assert_pstr_eq(r->code_text, code_text);
	ck_assert_pstr_eq(r->text, text);
	ck_assert_ptr_null(r->name);
	ck_assert_ptr_null(r->data);
	ck_assert(!r->has_number);
}

/* --- status responses --------------------------------------------------- */

START_TEST(tagged)
{
	struct mb_imap_response *r;

	r = PARSE("a1 OK LOGIN completed\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a1", MB_IMAP_STATUS_OK, NULL, NULL, "LOGIN completed");
	mb_imap_response_free(r);

	r = PARSE("a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a2", MB_IMAP_STATUS_NO, "AUTHENTICATIONFAILED", "",
		"Authentication failed.");
	mb_imap_response_free(r);

	r = PARSE("a3 BAD Command unknown\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a3", MB_IMAP_STATUS_BAD, NULL, NULL, "Command unknown");
	mb_imap_response_free(r);

	r = PARSE("a5 NO [UNAVAILABLE] IDLE temporarily unavailable\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a5", MB_IMAP_STATUS_NO, "UNAVAILABLE", "",
		"IDLE temporarily unavailable");
	mb_imap_response_free(r);

	/* Lower case, no text at all. */
	r = PARSE("a4 ok\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a4", MB_IMAP_STATUS_OK, NULL, NULL, "");
	mb_imap_response_free(r);

	r = PARSE("a6 OK [READ-ONLY]\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a6", MB_IMAP_STATUS_OK, "READ-ONLY", "", "");
	mb_imap_response_free(r);

	r = PARSE("a1 OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE CONDSTORE QRESYNC NOTIFY] Logged in\r\n");
	assert_status(r, MB_IMAP_TAGGED, "a1", MB_IMAP_STATUS_OK, "CAPABILITY",
		"IMAP4rev1 SASL-IR ID ENABLE IDLE CONDSTORE QRESYNC NOTIFY", "Logged in");
	mb_imap_response_free(r);

	/* Code names are upper-cased, code text is kept raw. */
	r = PARSE("A0007 ok [uidnext 42] Predicted next UID\r\n");
	assert_status(r, MB_IMAP_TAGGED, "A0007", MB_IMAP_STATUS_OK, "UIDNEXT", "42",
		"Predicted next UID");
	mb_imap_response_free(r);

	/* Bare LF as line end. */
	r = PARSE("a9 OK done\n");
	assert_status(r, MB_IMAP_TAGGED, "a9", MB_IMAP_STATUS_OK, NULL, NULL, "done");
	mb_imap_response_free(r);
}
END_TEST

START_TEST(untagged_status)
{
	struct mb_imap_response *r;

	/* R1 */
	r = PARSE("* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] ready.\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, "CAPABILITY",
		"IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN", "ready.");
	mb_imap_response_free(r);

	/* R2 */
	r = PARSE("* BYE Too many connections from your IP\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_BYE, NULL, NULL,
		"Too many connections from your IP");
	mb_imap_response_free(r);

	/* R3 */
	r = PARSE("* OK [ALERT] Your mailbox is almost full\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, "ALERT", "",
		"Your mailbox is almost full");
	mb_imap_response_free(r);

	r = PARSE("* PREAUTH IMAP4rev1 server logged in as Smith\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_PREAUTH, NULL, NULL,
		"IMAP4rev1 server logged in as Smith");
	mb_imap_response_free(r);

	/* R8, R9, R10 */
	r = PARSE("* OK Still here\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, NULL, NULL, "Still here");
	mb_imap_response_free(r);
	r = PARSE("* BYE Session invalidated - AccessTokenExpired\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_BYE, NULL, NULL,
		"Session invalidated - AccessTokenExpired");
	mb_imap_response_free(r);
	r = PARSE("* BYE Connection is closed. 13\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_BYE, NULL, NULL,
		"Connection is closed. 13");
	mb_imap_response_free(r);

	/* R12 */
	r = PARSE("* OK [UIDVALIDITY 1795986951] UIDs valid\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, "UIDVALIDITY", "1795986951",
		"UIDs valid");
	mb_imap_response_free(r);

	/* R15: an unknown code is just a code. */
	r = PARSE("* NO [WEBALERT https://accounts.example/x] Web login required.\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_NO, "WEBALERT",
		"https://accounts.example/x", "Web login required.");
	mb_imap_response_free(r);

	r = PARSE("* NO [WEBALERT https://x/y?a=b&c=[d]\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_NO, "WEBALERT",
		"https://x/y?a=b&c=[d", "");
	mb_imap_response_free(r);

	r = PARSE("* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, "PERMANENTFLAGS",
		"(\\Seen \\*)", "Limited");
	mb_imap_response_free(r);

	/* A ']' inside a quoted string does not close the code. */
	r = PARSE("* NO [BADCHARSET (\"x]y\" UTF-8)] Unsupported\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_NO, "BADCHARSET",
		"(\"x]y\" UTF-8)", "Unsupported");
	mb_imap_response_free(r);

	r = PARSE("* NO [BADCHARSET (\"x\\\"]\")] Escaped\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_NO, "BADCHARSET",
		"(\"x\\\"]\")", "Escaped");
	mb_imap_response_free(r);

	/* An unclosed '[' is text (liberal). */
	r = PARSE("* OK [ALERT this is not closed\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, NULL, NULL,
		"[ALERT this is not closed");
	mb_imap_response_free(r);
	r = PARSE("* OK [] empty\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, NULL, NULL, "[] empty");
	mb_imap_response_free(r);

	/* No space between status and code; lower-case status. */
	r = PARSE("* ok[ALERT]x\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, "ALERT", "", "x");
	mb_imap_response_free(r);

	r = PARSE("* OK\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, NULL, NULL, "");
	mb_imap_response_free(r);

	/* 8-bit text is kept as is. */
	r = PARSE("* OK Willkommen, \xc3\xbc\r\n");
	assert_status(r, MB_IMAP_UNTAGGED, NULL, MB_IMAP_STATUS_OK, NULL, NULL,
		"Willkommen, \xc3\xbc");
	mb_imap_response_free(r);
}
END_TEST

START_TEST(status_text_never_has_literals)
{
	struct mb_imap_response *r[4];
	static const char in[] = "* OK see {5}\r\n* 1 EXISTS\r\n+ {3}\r\na1 OK x\r\n";

	ck_assert_uint_eq(parse_all(in, sizeof(in) - 1, r, 4), 4);
	ck_assert_str_eq(r[0]->text, "see {5}");
	ck_assert_str_eq(r[1]->name, "EXISTS");
	ck_assert_str_eq(r[2]->text, "{3}");
	ck_assert_str_eq(r[3]->tag, "a1");
	for (size_t i = 0; i < 4; i++)
		mb_imap_response_free(r[i]);
}
END_TEST

START_TEST(continuation)
{
	struct mb_imap_response *r;

	r = PARSE("+ idling\r\n");
	assert_status(r, MB_IMAP_CONTINUATION, NULL, MB_IMAP_STATUS_NONE, NULL, NULL, "idling");
	mb_imap_response_free(r);

	r = PARSE("+ \r\n");
	assert_status(r, MB_IMAP_CONTINUATION, NULL, MB_IMAP_STATUS_NONE, NULL, NULL, "");
	mb_imap_response_free(r);

	r = PARSE("+\r\n");
	assert_status(r, MB_IMAP_CONTINUATION, NULL, MB_IMAP_STATUS_NONE, NULL, NULL, "");
	mb_imap_response_free(r);

	r = PARSE("+\n");
	assert_status(r, MB_IMAP_CONTINUATION, NULL, MB_IMAP_STATUS_NONE, NULL, NULL, "");
	mb_imap_response_free(r);

	/* R18: base64 is text, not parsed. */
	r = PARSE("+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIn0=\r\n");
	assert_status(r, MB_IMAP_CONTINUATION, NULL, MB_IMAP_STATUS_NONE, NULL, NULL,
		"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIn0=");
	mb_imap_response_free(r);

	/* A code in a continuation is not split off. */
	r = PARSE("+ [ALERT] go ahead\r\n");
	assert_status(r, MB_IMAP_CONTINUATION, NULL, MB_IMAP_STATUS_NONE, NULL, NULL,
		"[ALERT] go ahead");
	mb_imap_response_free(r);
}
END_TEST

/* --- data responses ----------------------------------------------------- */

START_TEST(numbered)
{
	struct mb_imap_response *r;

	r = PARSE("* 3 EXISTS\r\n");
	ck_assert_int_eq(r->kind, MB_IMAP_UNTAGGED);
	ck_assert_int_eq(r->status, MB_IMAP_STATUS_NONE);
	ck_assert(r->has_number);
	ck_assert_uint_eq(r->number, 3);
	ck_assert_str_eq(r->name, "EXISTS");
	ck_assert_ptr_nonnull(r->data);
	ck_assert_int_eq(r->data->type, MB_IMAP_LIST);
	ck_assert_uint_eq(r->data->n_items, 0);
	ck_assert_ptr_null(r->text);
	ck_assert_ptr_null(r->code);
	ck_assert_ptr_null(r->tag);
	mb_imap_response_free(r);

	r = PARSE("* 0 exists\r\n");
	ck_assert_uint_eq(r->number, 0);
	ck_assert_str_eq(r->name, "EXISTS");
	mb_imap_response_free(r);

	r = PARSE("* 4294967295 EXPUNGE\r\n");
	ck_assert_uint_eq(r->number, 4294967295u);
	ck_assert_str_eq(r->name, "EXPUNGE");
	mb_imap_response_free(r);

	r = PARSE("* 7 RECENT\n");
	ck_assert_uint_eq(r->number, 7);
	ck_assert_str_eq(r->name, "RECENT");
	mb_imap_response_free(r);
}
END_TEST

START_TEST(fetch_simple)
{
	struct mb_imap_response *r;
	const struct mb_imap_value *msg, *v;
	uint32_t uid;

	/* R11 */
	r = PARSE("* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n");
	ck_assert(r->has_number);
	ck_assert_uint_eq(r->number, 2);
	ck_assert_str_eq(r->name, "FETCH");
	ck_assert_uint_eq(r->data->n_items, 1);
	msg = item(r->data, 0);
	ck_assert_uint_eq(msg->n_items, 4);
	assert_atom(item(msg, 0), "UID");
	assert_atom(item(msg, 1), "2");
	assert_atom(item(msg, 2), "FLAGS");
	assert_atom(item(item(msg, 3), 0), "\\Recent");

	v = mb_imap_fetch_item(msg, "uid");
	ck_assert_ptr_eq(v, item(msg, 1));
	ck_assert(mb_imap_parse_u32(v->str, false, &uid));
	ck_assert_uint_eq(uid, 2);
	/* resp->data itself is accepted too. */
	ck_assert_ptr_eq(mb_imap_fetch_item(r->data, "UID"), v);
	v = mb_imap_fetch_item(msg, "FLAGS");
	ck_assert_ptr_eq(v, item(msg, 3));
	ck_assert(mb_imap_flags_have(v, "\\recent"));
	ck_assert(!mb_imap_flags_have(v, "\\Seen"));
	ck_assert_ptr_null(mb_imap_fetch_item(msg, "ENVELOPE"));
	/* "2" is a value, not a name. */
	ck_assert_ptr_null(mb_imap_fetch_item(msg, "2"));
	mb_imap_response_free(r);
}
END_TEST

START_TEST(fetch_envelope)
{
	/* R22, R23, R24 with a header-fields literal, as Dovecot sends it. */
	static const char in[] =
		"* 5 FETCH (UID 6 FLAGS () INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
		"ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" {18}\r\n"
		"Caf\xc3\xa9 raw utf8 \xe2\x9c\x93"
		" ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) NIL "
		"((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(NIL NIL NIL NIL)) NIL NIL NIL "
		"\"<B27397-0100000@cac.washington.edu>\") "
		"BODY[HEADER.FIELDS (FROM SUBJECT)] {41}\r\n"
		"From: a@x.org\r\nSubject: =?utf-8?q?x?=\r\n\r\n"
		")\r\n";
	struct mb_imap_response *r = PARSE(in);
	const struct mb_imap_value *msg, *env, *from, *to, *hdr;

	ck_assert_uint_eq(r->number, 5);
	msg = item(r->data, 0);
	ck_assert_uint_eq(msg->n_items, 10);
	assert_string(mb_imap_fetch_item(msg, "INTERNALDATE"), "17-Jul-1996 02:44:25 -0700");
	ck_assert_uint_eq(mb_imap_fetch_item(msg, "FLAGS")->n_items, 0);
	env = mb_imap_fetch_item(msg, "ENVELOPE");
	ck_assert_ptr_nonnull(env);
	ck_assert_uint_eq(env->n_items, 10);
	assert_string(item(env, 0), "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
	assert_string(item(env, 1), "Caf\xc3\xa9 raw utf8 \xe2\x9c\x93");
	ck_assert(item(env, 1)->literal);
	ck_assert(!item(env, 0)->literal);

	from = item(env, 2);
	ck_assert_uint_eq(from->n_items, 1);
	assert_nil(item(item(from, 0), 0));
	assert_nil(item(item(from, 0), 1));
	assert_string(item(item(from, 0), 2), "MISSING_MAILBOX");
	assert_string(item(item(from, 0), 3), "MISSING_DOMAIN");
	assert_string(item(item(item(env, 3), 0), 0), "Terry Gray");
	assert_nil(item(env, 4));

	to = item(env, 5);
	ck_assert_uint_eq(to->n_items, 3);
	assert_string(item(item(to, 0), 2), "Team");
	assert_nil(item(item(to, 0), 3));
	assert_string(item(item(to, 1), 2), "a");
	assert_string(item(item(to, 1), 3), "x.org");
	for (size_t i = 0; i < 4; i++)
		assert_nil(item(item(to, 2), i));
	assert_nil(item(env, 8));
	assert_string(item(env, 9), "<B27397-0100000@cac.washington.edu>");

	hdr = mb_imap_fetch_item(msg, "body[header.fields (from subject)]");
	ck_assert_ptr_nonnull(hdr);
	assert_string(hdr, "From: a@x.org\r\nSubject: =?utf-8?q?x?=\r\n\r\n");
	ck_assert(hdr->literal);
	assert_atom(item(msg, 8), "BODY[HEADER.FIELDS (FROM SUBJECT)]");
	mb_imap_response_free(r);
}
END_TEST

START_TEST(literals)
{
	struct mb_imap_response *r;
	const struct mb_imap_value *msg;

	/* CRLF, NUL and a fake literal announcement inside a literal. */
	r = PARSE("* 1 FETCH (BODY[] {10}\r\na\r\n\0b{2}\r\n UID 9)\r\n");
	msg = item(r->data, 0);
	ck_assert_int_eq(item(msg, 1)->type, MB_IMAP_STRING);
	ck_assert(item(msg, 1)->literal);
	ck_assert_uint_eq(item(msg, 1)->len, 10);
	ck_assert_mem_eq(item(msg, 1)->str, "a\r\n\0b{2}\r\n", 11);
	assert_atom(mb_imap_fetch_item(msg, "UID"), "9");
	ck_assert(!mb_imap_flags_have(msg, "a"));
	mb_imap_response_free(r);

	/* literal8 */
	r = PARSE("* 1 FETCH (BINARY[1] ~{3}\r\n\xff\0\x01)\r\n");
	msg = item(r->data, 0);
	assert_atom(item(msg, 0), "BINARY[1]");
	ck_assert(item(msg, 1)->literal);
	ck_assert_uint_eq(item(msg, 1)->len, 3);
	ck_assert_mem_eq(item(msg, 1)->str, "\xff\0\x01", 4);
	mb_imap_response_free(r);

	/* LITERAL+ style, empty literal, literal at the top level and last. */
	r = PARSE("* LIST () \"/\" {3+}\r\nabc\r\n");
	assert_string(item(r->data, 2), "abc");
	mb_imap_response_free(r);
	r = PARSE("* X {0}\r\n {0}\n{1}\r\n)\r\n");
	ck_assert_uint_eq(r->data->n_items, 3);
	assert_string(item(r->data, 0), "");
	ck_assert(item(r->data, 0)->literal);
	assert_string(item(r->data, 1), "");
	assert_string(item(r->data, 2), ")");
	mb_imap_response_free(r);

	/* Literal right after another. */
	r = PARSE("* X ({1}\r\na{2}\r\nbc)\r\n");
	assert_string(item(item(r->data, 0), 0), "a");
	assert_string(item(item(r->data, 0), 1), "bc");
	mb_imap_response_free(r);

	/* "{5}" not at the end of a line is no literal, and no atom either. */
	ERR("* X {1}\r\na{5} \r\n", "bad literal");
}
END_TEST

START_TEST(quoted)
{
	struct mb_imap_response *r;

	r = PARSE("* LIST () \"/\" \"a\\\\b\\\"c\"\r\n");
	assert_string(item(r->data, 2), "a\\b\"c");
	ck_assert(!item(r->data, 2)->literal);
	mb_imap_response_free(r);

	/* Unknown escapes keep the character; 8-bit and specials are fine. */
	r = PARSE("* X \"\\x \xc3\xa4 (){}[]%*\" \"\" NIL \"NIL\" nil\r\n");
	assert_string(item(r->data, 0), "x \xc3\xa4 (){}[]%*");
	assert_string(item(r->data, 1), "");
	assert_nil(item(r->data, 2));
	assert_string(item(r->data, 3), "NIL");
	assert_nil(item(r->data, 4));
	mb_imap_response_free(r);

	ERR("* X \"abc\r\n", "unterminated quoted string");
	ERR("* X \"abc\\\r\n", "unterminated quoted string");
	ERR("* X \"a\0c\"\r\n", "NUL in quoted string");
}
END_TEST

START_TEST(lists_and_atoms)
{
	struct mb_imap_response *r;
	const struct mb_imap_value *l;

	r = PARSE("* X (a (b (c)) () d)\r\n");
	l = item(r->data, 0);
	ck_assert_uint_eq(l->n_items, 4);
	assert_atom(item(l, 0), "a");
	assert_atom(item(item(l, 1), 0), "b");
	assert_atom(item(item(item(l, 1), 1), 0), "c");
	ck_assert_int_eq(item(l, 2)->type, MB_IMAP_LIST);
	ck_assert_uint_eq(item(l, 2)->n_items, 0);
	assert_atom(item(l, 3), "d");
	mb_imap_response_free(r);

	/* Sloppy spacing; atoms with sections, partial, flags, 8-bit. */
	r = PARSE("* X  ( a  b )  BODY[]<0> BODY[HEADER.FIELDS (FROM)] "
		"BODY[HEADER.FIELDS (\"X-A]\")]<0.100> \\Seen \\* caf\xc3\xa9 1:5,7 ~x ]x \r\n");
	ck_assert_uint_eq(r->data->n_items, 10);
	ck_assert_uint_eq(item(r->data, 0)->n_items, 2);
	assert_atom(item(r->data, 1), "BODY[]<0>");
	assert_atom(item(r->data, 2), "BODY[HEADER.FIELDS (FROM)]");
	assert_atom(item(r->data, 3), "BODY[HEADER.FIELDS (\"X-A]\")]<0.100>");
	assert_atom(item(r->data, 4), "\\Seen");
	assert_atom(item(r->data, 5), "\\*");
	assert_atom(item(r->data, 6), "caf\xc3\xa9");
	assert_atom(item(r->data, 7), "1:5,7");
	assert_atom(item(r->data, 8), "~x");
	assert_atom(item(r->data, 9), "]x");
	mb_imap_response_free(r);

	r = PARSE("* X BODY[HEADER.FIELDS (\"X-\\\"]\")] y\r\n");
	assert_atom(item(r->data, 0), "BODY[HEADER.FIELDS (\"X-\\\"]\")]");
	assert_atom(item(r->data, 1), "y");
	mb_imap_response_free(r);

	/* Address groups without spaces between lists. */
	r = PARSE("* X ((a)(b))\r\n");
	ck_assert_uint_eq(item(r->data, 0)->n_items, 2);
	mb_imap_response_free(r);

	ERR("* 1 FETCH (BODY[HEADER.FIELDS (FROM) {3}\r\nabc)\r\n", "unterminated section");
}
END_TEST

START_TEST(generic_data)
{
	struct mb_imap_response *r;

	r = PARSE("* CAPABILITY IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN\r\n");
	ck_assert(!r->has_number);
	ck_assert_str_eq(r->name, "CAPABILITY");
	ck_assert_uint_eq(r->data->n_items, 4);
	assert_atom(item(r->data, 0), "IMAP4rev1");
	assert_atom(item(r->data, 3), "AUTH=PLAIN");
	ck_assert(mb_imap_flags_have(r->data, "idle"));
	ck_assert(!mb_imap_flags_have(r->data, "QRESYNC"));
	mb_imap_response_free(r);

	r = PARSE("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n");
	ck_assert_str_eq(r->name, "LIST");
	ck_assert_uint_eq(r->data->n_items, 3);
	assert_atom(item(item(r->data, 0), 0), "\\HasNoChildren");
	assert_string(item(r->data, 1), "/");
	assert_string(item(r->data, 2), "INBOX");
	mb_imap_response_free(r);

	r = PARSE("* LIST (\\Noselect) NIL INBOX\r\n");
	assert_nil(item(r->data, 1));
	assert_atom(item(r->data, 2), "INBOX");
	mb_imap_response_free(r);

	r = PARSE("* STATUS \"Lists/rust\" (MESSAGES 3 UIDNEXT 7)\r\n");
	ck_assert_str_eq(r->name, "STATUS");
	assert_string(item(r->data, 0), "Lists/rust");
	assert_atom(mb_imap_fetch_item(item(r->data, 1), "UIDNEXT"), "7");
	assert_atom(mb_imap_fetch_item(item(r->data, 1), "messages"), "3");
	mb_imap_response_free(r);

	r = PARSE("* ID NIL\r\n");
	ck_assert_str_eq(r->name, "ID");
	ck_assert_uint_eq(r->data->n_items, 1);
	assert_nil(item(r->data, 0));
	mb_imap_response_free(r);

	r = PARSE("* ID (\"name\" \"Dovecot\")\r\n");
	assert_string(item(item(r->data, 0), 1), "Dovecot");
	mb_imap_response_free(r);

	r = PARSE("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n");
	ck_assert(mb_imap_flags_have(item(r->data, 0), "$forwarded"));
	mb_imap_response_free(r);

	/* Trailing space after SEARCH is common. */
	r = PARSE("* SEARCH 2 84 882 \r\n");
	ck_assert_str_eq(r->name, "SEARCH");
	ck_assert_uint_eq(r->data->n_items, 3);
	mb_imap_response_free(r);
	r = PARSE("* search\r\n");
	ck_assert_str_eq(r->name, "SEARCH");
	ck_assert_uint_eq(r->data->n_items, 0);
	mb_imap_response_free(r);

	r = PARSE("* ESEARCH (TAG \"a5\") UID MIN 4 MAX 9\r\n");
	ck_assert_str_eq(r->name, "ESEARCH");
	ck_assert_uint_eq(r->data->n_items, 6);
	mb_imap_response_free(r);

	r = PARSE("* VANISHED (EARLIER) 41,43:116,118\r\n");
	assert_atom(item(r->data, 1), "41,43:116,118");
	mb_imap_response_free(r);

	r = PARSE("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	assert_string(item(item(item(r->data, 0), 0), 0), "");
	mb_imap_response_free(r);

	r = PARSE("* ENABLED CONDSTORE QRESYNC\r\n");
	ck_assert_uint_eq(r->data->n_items, 2);
	mb_imap_response_free(r);

	r = PARSE("* QUOTA \"\" (STORAGE 10 512)\r\n");
	ck_assert_str_eq(r->name, "QUOTA");
	mb_imap_response_free(r);
}
END_TEST

START_TEST(several_in_one_feed)
{
	static const char in[] =
		"* OK [CAPABILITY IMAP4rev1 IDLE] ready.\r\n"
		"* 3 EXISTS\r\n"
		"+ idling\r\n"
		"* 1 FETCH (UID 10 BODY[] {5}\r\nhello)\n"
		"a1 OK done\r\n";
	struct mb_imap_response *r[8];
	size_t n = parse_all(in, sizeof(in) - 1, r, 8);

	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(r[0]->status, MB_IMAP_STATUS_OK);
	ck_assert_str_eq(r[1]->name, "EXISTS");
	ck_assert_int_eq(r[2]->kind, MB_IMAP_CONTINUATION);
	assert_string(mb_imap_fetch_item(item(r[3]->data, 0), "BODY[]"), "hello");
	ck_assert_str_eq(r[4]->tag, "a1");
	for (size_t i = 0; i < n; i++)
		mb_imap_response_free(r[i]);
}
END_TEST

START_TEST(pending_bytes)
{
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *r;
	const char *err = NULL;

	ck_assert_uint_eq(mb_imap_parser_pending(p), 0);
	ck_assert(mb_imap_parser_feed(p, "a1 OK Begin TLS\r\n* OK inj", 25));
	ck_assert_uint_eq(mb_imap_parser_pending(p), 25);
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	ck_assert_str_eq(r->text, "Begin TLS");
	mb_imap_response_free(r);
	/* The injected plaintext is still there to be noticed. */
	ck_assert_uint_eq(mb_imap_parser_pending(p), 8);
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_NEED_MORE);
	ck_assert_uint_eq(mb_imap_parser_pending(p), 8);
	ck_assert(mb_imap_parser_feed(p, NULL, 0));
	mb_imap_parser_destroy(p);
	mb_imap_parser_destroy(NULL);
	mb_imap_response_free(NULL);
	mb_imap_value_finish(NULL);
}
END_TEST

/* One byte at a time through a large literal must stay linear. */
START_TEST(bytewise_is_linear)
{
	const size_t n = 4u * 1024 * 1024;
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *r = NULL;
	const char *head = "* 1 FETCH (BODY[] {4194304}\r\n";
	const char *err = NULL;
	size_t i;

	ck_assert(mb_imap_parser_feed(p, head, strlen(head)));
	/* No ck_assert in the loops: each one is a write to check's pipe. */
	for (i = 0; i < n; i++) {
		char c = (char)('a' + i % 26);
		if (!mb_imap_parser_feed(p, &c, 1)
		    || mb_imap_parser_next(p, &r, &err) != MB_IMAP_PARSE_NEED_MORE)
			ck_abort_msg("literal byte %zu", i);
	}
	/* A long final line, also one byte at a time. */
	for (i = 0; i < 512 * 1024; i++) {
		if (!mb_imap_parser_feed(p, " ", 1)
		    || mb_imap_parser_next(p, &r, &err) != MB_IMAP_PARSE_NEED_MORE)
			ck_abort_msg("line byte %zu", i);
	}
	ck_assert(mb_imap_parser_feed(p, ")\r", 2));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_NEED_MORE);
	ck_assert(mb_imap_parser_feed(p, "\n", 1));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	ck_assert_uint_eq(item(item(r->data, 0), 1)->len, n);
	ck_assert_int_eq(item(item(r->data, 0), 1)->str[n - 1], 'a' + (n - 1) % 26);
	mb_imap_response_free(r);
	ck_assert_uint_eq(mb_imap_parser_pending(p), 0);
	mb_imap_parser_destroy(p);
}
END_TEST

/* Many responses streamed in chunks that straddle them: the buffer is
 * compacted and reused while responses are taken out. */
START_TEST(streamed)
{
	const size_t total = 300 * 1024, chunk = 997;
	char *in = malloc(total + 256);
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *r;
	const char *err = NULL;
	size_t len = 0, off, n = 0, expect = 0;

	while (len < total) {
		len += (size_t)sprintf(in + len, "* %zu FETCH (UID %zu BODY[] {%zu}\r\n",
			expect, expect + 1, expect % 50);
		memset(in + len, 'x', expect % 50);
		len += expect % 50;
		len += (size_t)sprintf(in + len, ")\r\n");
		expect++;
	}
	for (off = 0; off < len; off += chunk) {
		size_t k = len - off < chunk ? len - off : chunk;
		enum mb_imap_parse_result res;
		ck_assert(mb_imap_parser_feed(p, in + off, k));
		while ((res = mb_imap_parser_next(p, &r, &err)) == MB_IMAP_PARSE_OK) {
			const struct mb_imap_value *body = mb_imap_fetch_item(r->data, "BODY[]");
			if (r->number != n || !body || body->len != n % 50)
				ck_abort_msg("response %zu garbled", n);
			n++;
			mb_imap_response_free(r);
		}
		ck_assert_int_eq(res, MB_IMAP_PARSE_NEED_MORE);
		ck_assert_uint_le(mb_imap_parser_pending(p), chunk + 200);
	}
	ck_assert_uint_eq(n, expect);
	ck_assert_uint_eq(mb_imap_parser_pending(p), 0);
	mb_imap_parser_destroy(p);
	free(in);
}
END_TEST

/* A big literal followed, in the same feed, by the start of the next
 * response: the buffer shrinks and keeps the partial response. */
START_TEST(shrink_keeps_partial)
{
	const size_t big = 600 * 1024;
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *r;
	const char *err = NULL;
	char head[64], *body = malloc(big);
	static const char tail[] = ")\r\n* 7 EXI";

	memset(body, 'b', big);
	snprintf(head, sizeof(head), "* 1 FETCH (BODY[] {%zu}\r\n", big);
	ck_assert(mb_imap_parser_feed(p, head, strlen(head)));
	ck_assert(mb_imap_parser_feed(p, body, big));
	ck_assert(mb_imap_parser_feed(p, tail, sizeof(tail) - 1));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	ck_assert_uint_eq(item(item(r->data, 0), 1)->len, big);
	mb_imap_response_free(r);
	ck_assert_uint_eq(mb_imap_parser_pending(p), 7);
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_NEED_MORE);
	ck_assert(mb_imap_parser_feed(p, "STS\r\n", 5));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	ck_assert_uint_eq(r->number, 7);
	ck_assert_str_eq(r->name, "EXISTS");
	mb_imap_response_free(r);
	mb_imap_parser_destroy(p);
	free(body);
}
END_TEST

/* --- errors and bounds -------------------------------------------------- */

/* Feeding without ever calling next() is bounded too. */
START_TEST(unparsed_input_bounded)
{
	struct mb_imap_parser *p = mb_imap_parser_create(1000);
	struct mb_imap_response *r;
	const char *err = NULL;
	char chunk[6000];
	size_t fed = 0;
	bool ok = true;

	for (size_t i = 0; i < sizeof(chunk); i += 6)
		memcpy(chunk + i, "* OK\r\n", 6);
	while (ok && fed < 16u * MB_IMAP_MAX_LINE) {
		ok = mb_imap_parser_feed(p, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	ck_assert(!ok);
	ck_assert_uint_le(fed, 2 * 1000 + 2 * MB_IMAP_MAX_LINE + sizeof(chunk));
	/* next() reports it too; the stream is unusable from here. */
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
	ck_assert_str_eq(err, "too much unparsed input");
	mb_imap_parser_destroy(p);

	/* An unlimited parser does not overflow its bounds arithmetic. */
	p = mb_imap_parser_create(SIZE_MAX);
	ck_assert(mb_imap_parser_feed(p, "* X {5}\r\nhello\r\n", 16));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	assert_string(item(r->data, 0), "hello");
	mb_imap_response_free(r);
	mb_imap_parser_destroy(p);
}
END_TEST

START_TEST(literal_too_large)
{
	struct mb_imap_parser *p;
	struct mb_imap_response *r;
	const char *err = NULL;
	char buf[64];

	/* Announced 2^40: refused on the announcement, nothing else needed. */
	ERR("* 1 FETCH (BODY[] {1099511627776}\r\n", "literal too large");
	ERR("* 1 FETCH (BODY[] {99999999999999999999}\r\n", "literal too large");
	ERR("* 1 FETCH (BODY[] {18446744073709551616}\r\n", "literal too large");
	ERR("* 1 FETCH (BODY[] ~{67108865}\r\n", "literal too large");
	ERR("* X {000000000000000000001}\r\n", "literal too large");

	/* The default limit itself is fine, and nothing is allocated for it
	 * until the bytes come. */
	p = mb_imap_parser_create(0);
	snprintf(buf, sizeof(buf), "* 1 FETCH (BODY[] {%u}\r\n", MB_IMAP_MAX_LITERAL);
	ck_assert(mb_imap_parser_feed(p, buf, strlen(buf)));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_NEED_MORE);
	ck_assert_uint_eq(mb_imap_parser_pending(p), strlen(buf));
	mb_imap_parser_destroy(p);

	/* A custom limit. */
	p = mb_imap_parser_create(1000);
	ck_assert(!mb_imap_parser_feed(p, "* X {1001}\r\n", 12));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
	ck_assert_str_eq(err, "literal too large");
	mb_imap_parser_destroy(p);

	p = mb_imap_parser_create(1000);
	ck_assert(mb_imap_parser_feed(p, "* X {1000}\r\n", 12));
	for (int i = 0; i < 1000; i++)
		ck_assert(mb_imap_parser_feed(p, "z", 1));
	ck_assert(mb_imap_parser_feed(p, "\r\n", 2));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	ck_assert_uint_eq(item(r->data, 0)->len, 1000);
	mb_imap_response_free(r);
	mb_imap_parser_destroy(p);

	/* Many literals in one response are bounded as a whole. */
	p = mb_imap_parser_create(1000);
	{
		bool ok = true;
		int i;
		ck_assert(mb_imap_parser_feed(p, "* X", 3));
		for (i = 0; i < 10000 && ok; i++) {
			char lit[1000 + 16];
			memcpy(lit, " {1000}\r\n", 9);
			memset(lit + 9, 'q', 1000);
			ok = mb_imap_parser_feed(p, lit, 1009);
			if (ok)
				ck_assert_int_eq(mb_imap_parser_next(p, &r, &err),
					MB_IMAP_PARSE_NEED_MORE);
		}
		ck_assert(!ok);
		ck_assert_uint_le((size_t)i * 1009, 2 * 1000 + MB_IMAP_MAX_LINE + 1009);
		ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
		ck_assert_str_eq(err, "response too large");
	}
	mb_imap_parser_destroy(p);
}
END_TEST

static void long_line(const char *prefix, size_t chunk)
{
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *r = NULL;
	const char *err = NULL;
	char *buf = malloc(chunk);
	size_t fed = strlen(prefix);
	bool failed = false;

	memset(buf, 'a', chunk);
	ck_assert(mb_imap_parser_feed(p, prefix, strlen(prefix)));
	while (!failed && fed < 8u * MB_IMAP_MAX_LINE) {
		failed = !mb_imap_parser_feed(p, buf, chunk);
		fed += chunk;
		if (mb_imap_parser_next(p, &r, &err) == MB_IMAP_PARSE_ERROR)
			failed = true;
		/* Memory stays bounded: never more than a line and a chunk. */
		ck_assert_uint_le(mb_imap_parser_pending(p), MB_IMAP_MAX_LINE + chunk + strlen(prefix));
	}
	ck_assert(failed);
	ck_assert_ptr_null(r);
	ck_assert_uint_le(fed, MB_IMAP_MAX_LINE + chunk + strlen(prefix));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
	ck_assert_str_eq(err, "line too long");
	mb_imap_parser_destroy(p);
	free(buf);
}

START_TEST(line_too_long)
{
	struct mb_imap_parser *p;
	struct mb_imap_response *r;
	const char *err = NULL;
	char *line;

	long_line("* OK ", 4096);
	long_line("* OK ", 65536 + 7);
	long_line("* X (", 1000);
	/* The bound applies to each line after a literal too. */
	long_line("* X {3}\r\nabc ", 4096);

	/* Exactly MB_IMAP_MAX_LINE octets with CRLF is allowed, one more not. */
	line = malloc(MB_IMAP_MAX_LINE + 1);
	memset(line, 'a', MB_IMAP_MAX_LINE + 1);
	memcpy(line, "* OK ", 5);
	memcpy(line + MB_IMAP_MAX_LINE - 2, "\r\n", 2);
	p = mb_imap_parser_create(0);
	ck_assert(mb_imap_parser_feed(p, line, MB_IMAP_MAX_LINE));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_OK);
	ck_assert_uint_eq(strlen(r->text), MB_IMAP_MAX_LINE - 7);
	mb_imap_response_free(r);
	mb_imap_parser_destroy(p);

	memcpy(line + MB_IMAP_MAX_LINE - 2, "a\r\n", 3);
	p = mb_imap_parser_create(0);
	ck_assert(!mb_imap_parser_feed(p, line, MB_IMAP_MAX_LINE + 1));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
	ck_assert_str_eq(err, "line too long");
	mb_imap_parser_destroy(p);
	free(line);
}
END_TEST

static char *nested(unsigned depth, size_t *len_r)
{
	char *s = malloc(16 + 2 * depth);
	size_t n = 0;
	unsigned i;

	memcpy(s, "* X ", 4);
	n = 4;
	for (i = 0; i < depth; i++)
		s[n++] = '(';
	s[n++] = 'a';
	for (i = 0; i < depth; i++)
		s[n++] = ')';
	s[n++] = '\r';
	s[n++] = '\n';
	*len_r = n;
	return s;
}

START_TEST(nesting)
{
	struct mb_imap_response *r;
	const struct mb_imap_value *v;
	size_t len, i;
	char *s;

	s = nested(MB_IMAP_MAX_DEPTH, &len);
	r = parse_one(s, len);
	v = r->data;
	for (i = 0; i < MB_IMAP_MAX_DEPTH; i++)
		v = item(v, 0);
	assert_atom(item(v, 0), "a");
	mb_imap_response_free(r);
	free(s);

	s = nested(MB_IMAP_MAX_DEPTH + 1, &len);
	expect_error(s, len, "lists nested too deep");
	free(s);
	s = nested(100000, &len);
	expect_error_chunk(s, len, 0, "lists nested too deep");
	free(s);
}
END_TEST

START_TEST(bad_numbers)
{
	ERR("* 4294967296 EXISTS\r\n", "number out of range");
	ERR("* 99999999999999999999999 EXISTS\r\n", "number out of range");
	ERR("* 00000000001 EXISTS\r\n", "number out of range");
	ERR("* 5\r\n", "missing response name");
	ERR("* 5 \r\n", "missing response name");
	ERR("* 5x EXISTS\r\n", "missing response name");
}
END_TEST

START_TEST(malformed)
{
	ERR("* X a)\r\n", "unexpected ')'");
	ERR("* 1 FETCH (UID 1))\r\n", "unexpected ')'");
	ERR("* 1 FETCH (UID 1\r\n", "missing ')'");
	ERR("* 1 FETCH (UID 1 (\r\n", "missing ')'");
	ERR("\x00\x01\r\n", "bad tag");
	ERR("\x00\x01\n", "bad tag");
	ERR("\r\n", "empty line");
	ERR("* \r\n", "missing response name");
	ERR("*\r\n", "bad tag");
	ERR("*x OK\r\n", "bad tag");
	ERR("a1\r\n", "bad tag");
	ERR("a{1 OK\r\n", "bad tag");
	ERR("a1 FETCH (UID 1)\r\n", "bad tagged status");
	ERR("a1 BYE now\r\n", "bad tagged status");
	ERR("* OK a\0b\r\n", "control character in text");
	ERR("* OK a\rb\r\n", "control character in text");
	ERR("+ a\0\r\n", "control character in text");
	ERR("* X \x01\r\n", "unexpected character");
	ERR("* X a\rb\r\n", "unexpected character");
	ERR("* X {}\r\n", "bad literal");
	ERR("* X {3x}\r\n", "bad literal");
	ERR("* X {3} abc\r\n", "bad literal");
	ERR("* X ~{}\r\n", "bad literal");
}
END_TEST

/* After an error, further feeds are refused instead of buffering. */
START_TEST(error_is_final)
{
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	struct mb_imap_response *r;
	const char *err = NULL;

	ck_assert(mb_imap_parser_feed(p, "* X )\r\n* OK\r\n", 13));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, &err), MB_IMAP_PARSE_ERROR);
	ck_assert_str_eq(err, "unexpected ')'");
	ck_assert(!mb_imap_parser_feed(p, "x", 1));
	ck_assert_int_eq(mb_imap_parser_next(p, &r, NULL), MB_IMAP_PARSE_ERROR);
	mb_imap_parser_destroy(p);
}
END_TEST

/* --- numbers and encoding ----------------------------------------------- */

START_TEST(parse_numbers)
{
	uint32_t v = 7;
	uint64_t w = 7;

	ck_assert(mb_imap_parse_u32("1", false, &v));
	ck_assert_uint_eq(v, 1);
	ck_assert(mb_imap_parse_u32("4294967295", false, &v));
	ck_assert_uint_eq(v, 4294967295u);
	ck_assert(mb_imap_parse_u32("0", true, &v));
	ck_assert_uint_eq(v, 0);
	v = 7;
	ck_assert(!mb_imap_parse_u32("0", false, &v));
	ck_assert(!mb_imap_parse_u32("000", false, &v));
	ck_assert_uint_eq(v, 7);
	ck_assert(!mb_imap_parse_u32("4294967296", true, &v));
	ck_assert(!mb_imap_parse_u32("99999999999", true, &v));
	ck_assert(!mb_imap_parse_u32("00000000001", true, &v));
	ck_assert(mb_imap_parse_u32("0000000001", true, &v));
	ck_assert(!mb_imap_parse_u32("", true, &v));
	ck_assert(!mb_imap_parse_u32("-1", true, &v));
	ck_assert(!mb_imap_parse_u32("+1", true, &v));
	ck_assert(!mb_imap_parse_u32(" 1", true, &v));
	ck_assert(!mb_imap_parse_u32("1 ", true, &v));
	ck_assert(!mb_imap_parse_u32("1a", true, &v));
	ck_assert(!mb_imap_parse_u32("0x10", true, &v));
	ck_assert(!mb_imap_parse_u32(NULL, true, &v));
	ck_assert_uint_eq(v, 1);

	ck_assert(mb_imap_parse_u64("0", &w));
	ck_assert_uint_eq(w, 0);
	ck_assert(mb_imap_parse_u64("9223372036854775807", &w));
	ck_assert_uint_eq(w, INT64_MAX);
	ck_assert(!mb_imap_parse_u64("9223372036854775808", &w));
	ck_assert(!mb_imap_parse_u64("18446744073709551616", &w));
	ck_assert(!mb_imap_parse_u64("", &w));
	ck_assert(!mb_imap_parse_u64("-1", &w));
	ck_assert(!mb_imap_parse_u64("12 ", &w));
	ck_assert_uint_eq(w, INT64_MAX);
}
END_TEST

static void check_encode(const char *s, size_t len, bool lplus, enum mb_imap_astring_kind kind,
	const char *want, size_t want_len)
{
	enum mb_imap_astring_kind k;
	size_t n = 12345;
	char *out = mb_imap_astring_encode(s, len, lplus, &k, &n);

	ck_assert_int_eq(k, kind);
	ck_assert_uint_eq(n, want_len);
	ck_assert_mem_eq(out, want, want_len);
	ck_assert_int_eq(out[n], '\0');
	free(out);
}

#define ENC(s, lp, kind, want) \
	check_encode(s, sizeof(s) - 1, lp, kind, want, sizeof(want) - 1)

START_TEST(astring_encode)
{
	ENC("simple", false, MB_IMAP_ASTRING_ATOM, "simple");
	ENC("INBOX.a[b", false, MB_IMAP_ASTRING_ATOM, "INBOX.a[b");
	ENC("INBOX.Sent[1]", false, MB_IMAP_ASTRING_QUOTED, "\"INBOX.Sent[1]\"");
	ENC("has space", false, MB_IMAP_ASTRING_QUOTED, "\"has space\"");
	ENC("quo\"te\\back", false, MB_IMAP_ASTRING_QUOTED, "\"quo\\\"te\\\\back\"");
	ENC("", false, MB_IMAP_ASTRING_QUOTED, "\"\"");
	ENC("NIL", false, MB_IMAP_ASTRING_QUOTED, "\"NIL\"");
	ENC("nil", false, MB_IMAP_ASTRING_QUOTED, "\"nil\"");
	ENC("NILS", false, MB_IMAP_ASTRING_ATOM, "NILS");
	ENC("a%b", false, MB_IMAP_ASTRING_QUOTED, "\"a%b\"");
	ENC("a*", false, MB_IMAP_ASTRING_QUOTED, "\"a*\"");
	ENC("a]", false, MB_IMAP_ASTRING_QUOTED, "\"a]\"");
	ENC("{a}", false, MB_IMAP_ASTRING_QUOTED, "\"{a}\"");
	ENC("(x)", false, MB_IMAP_ASTRING_QUOTED, "\"(x)\"");
	ENC("tab\there", false, MB_IMAP_ASTRING_QUOTED, "\"tab\there\"");
	ENC("p\xc3\xa4", false, MB_IMAP_ASTRING_LITERAL, "{3}\r\np\xc3\xa4");
	ENC("p\xc3\xa4", true, MB_IMAP_ASTRING_LITERAL, "{3+}\r\np\xc3\xa4");
	ENC("line\r\nbreak", false, MB_IMAP_ASTRING_LITERAL, "{11}\r\nline\r\nbreak");
	ENC("line\nbreak", true, MB_IMAP_ASTRING_LITERAL, "{10+}\r\nline\nbreak");
	ENC("nul\0byte", false, MB_IMAP_ASTRING_LITERAL, "{8}\r\nnul\0byte");
	ENC("nul\0byte", true, MB_IMAP_ASTRING_LITERAL, "{8+}\r\nnul\0byte");
	ENC("simple", true, MB_IMAP_ASTRING_ATOM, "simple");

	/* Optional out-parameters. */
	free(mb_imap_astring_encode("x", 1, false, NULL, NULL));
}
END_TEST

/* Round trip: what we encode as a string, the parser reads back. */
START_TEST(astring_round_trip)
{
	static const char *inputs[] = { "simple", "has space", "quo\"te\\back", "", "NIL",
		"p\xc3\xa4", "line\r\nbreak" };
	size_t i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t n, len = strlen(inputs[i]);
		char *enc = mb_imap_astring_encode(inputs[i], len, false, NULL, &n);
		char *line = malloc(n + 8);
		struct mb_imap_response *r;
		const struct mb_imap_value *v;

		memcpy(line, "* X ", 4);
		memcpy(line + 4, enc, n);
		memcpy(line + 4 + n, "\r\n", 2);
		r = parse_one(line, n + 6);
		v = item(r->data, 0);
		ck_assert_uint_eq(v->len, len);
		ck_assert_mem_eq(v->str, inputs[i], len);
		mb_imap_response_free(r);
		free(line);
		free(enc);
	}
}
END_TEST

START_TEST(lookups)
{
	struct mb_imap_value atom = { .type = MB_IMAP_ATOM, .str = (char *)"UID", .len = 3 };
	struct mb_imap_value empty = { .type = MB_IMAP_LIST };

	ck_assert_ptr_null(mb_imap_fetch_item(NULL, "UID"));
	ck_assert_ptr_null(mb_imap_fetch_item(&atom, "UID"));
	ck_assert_ptr_null(mb_imap_fetch_item(&empty, "UID"));
	ck_assert(!mb_imap_flags_have(NULL, "\\Seen"));
	ck_assert(!mb_imap_flags_have(&atom, "UID"));
	ck_assert(!mb_imap_flags_have(&empty, "\\Seen"));
	{
		/* A dangling name without value is not found. */
		struct mb_imap_response *r = PARSE("* 1 FETCH (FLAGS (\\Seen) UID)\r\n");
		ck_assert_ptr_null(mb_imap_fetch_item(item(r->data, 0), "UID"));
		ck_assert(mb_imap_flags_have(mb_imap_fetch_item(r->data, "FLAGS"), "\\SEEN"));
		mb_imap_response_free(r);
	}
}
END_TEST

static Suite *parser_suite(void)
{
	Suite *s = suite_create("imap-parser");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tagged);
	tcase_add_test(tc, untagged_status);
	tcase_add_test(tc, status_text_never_has_literals);
	tcase_add_test(tc, continuation);
	tcase_add_test(tc, numbered);
	tcase_add_test(tc, fetch_simple);
	tcase_add_test(tc, fetch_envelope);
	tcase_add_test(tc, literals);
	tcase_add_test(tc, quoted);
	tcase_add_test(tc, lists_and_atoms);
	tcase_add_test(tc, generic_data);
	tcase_add_test(tc, several_in_one_feed);
	tcase_add_test(tc, pending_bytes);
	tcase_add_test(tc, bytewise_is_linear);
	tcase_add_test(tc, streamed);
	tcase_add_test(tc, shrink_keeps_partial);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, literal_too_large);
	tcase_add_test(tc, unparsed_input_bounded);
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, nesting);
	tcase_add_test(tc, bad_numbers);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, error_is_final);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, parse_numbers);
	tcase_add_test(tc, astring_encode);
	tcase_add_test(tc, astring_round_trip);
	tcase_add_test(tc, lookups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parser_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
