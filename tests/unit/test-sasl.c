/* Tests of sasl.c against published examples, and of log.c's redaction and
 * protocol trace. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "sasl.h"

START_TEST(test_plain)
{
	/* base64 of "\0alice\0secret", computed independently */
	char *s = mb_sasl_plain("alice", "secret");
	ck_assert_str_eq(s, "AGFsaWNlAHNlY3JldA==");
	g_free(s);
	/* RFC 4616 section 4's example user/password: "\0tim\0tanstaaftanstaaf" */
	s = mb_sasl_plain("tim", "tanstaaftanstaaf");
	ck_assert_str_eq(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	g_free(s);
	/* non-ASCII goes through as UTF-8 octets */
	s = mb_sasl_plain("jörg", "pä");
	gsize len;
	guchar *raw = g_base64_decode(s, &len);
	ck_assert_uint_eq(len, 1 + strlen("jörg") + 1 + strlen("pä"));
	ck_assert_mem_eq(raw, "\0jörg\0pä", len);
	g_free(raw);
	g_free(s);
}
END_TEST

START_TEST(test_xoauth2)
{
	/* Google's XOAUTH2 protocol page example */
	char *s = mb_sasl_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	ck_assert_str_eq(s, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	g_free(s);
}
END_TEST

START_TEST(test_oauthbearer)
{
	/* RFC 7628 section 4.1 */
	char *s = mb_sasl_oauthbearer("user@example.com", "server.example.com", 143,
		"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	ck_assert_str_eq(s, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
	gsize len;
	guchar *raw = g_base64_decode(s, &len);
	const char want[] = "n,a=user@example.com,\001host=server.example.com\001port=143\001"
		"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001";
	ck_assert_uint_eq(len, sizeof want - 1);
	ck_assert_mem_eq(raw, want, len);
	g_free(raw);
	g_free(s);

	/* saslname escaping of ',' and '=' (RFC 5801) */
	s = mb_sasl_oauthbearer("a,b=c", "h", 993, "t");
	raw = g_base64_decode(s, &len);
	const char want2[] = "n,a=a=2Cb=3Dc,\001host=h\001port=993\001auth=Bearer t\001\001";
	ck_assert_uint_eq(len, sizeof want2 - 1);
	ck_assert_mem_eq(raw, want2, len);
	g_free(raw);
	g_free(s);
}
END_TEST

static char *
b64(const char *text)
{
	return g_base64_encode((const guchar *)text, strlen(text));
}

START_TEST(test_oauth_error_status)
{
	/* the failure challenge of RFC 7628 section 4.3 (R18) */
	char *status = mb_sasl_oauth_error_status("eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIn0=");
	ck_assert_str_eq(status, "401");
	g_free(status);

	static const struct {
		const char *json;
		const char *status; /* NULL: none */
	} cases[] = {
		{ "{\"status\":\"invalid_token\",\"scope\":\"https://mail.google.com/\"}", "invalid_token" },
		{ " { \"schemes\" : \"Bearer\" , \"status\" : \"401\" } ", "401" },
		{ "{\"status\":401}", "401" },
		{ "{\"status\":-1.5e3}", "-1.5e3" },
		{ "{\"status\":\"a\\\"b\\u00e9\\ud83d\\ude00\"}", "a\"b\u00e9\U0001F600" },
		{ "{\"nested\":{\"status\":\"x\"},\"list\":[1,\"status\",{}],\"status\":\"400\"}", "400" },
		{ "{\"status\":\"first\",\"status\":\"second\"}", "first" },
		{ "{\"nested\":{\"status\":\"x\"}}", NULL },
		{ "{\"status\":null}", NULL },
		{ "{\"status\":true}", NULL },
		{ "{}", NULL },
		{ "{\"scope\":\"x\"}", NULL },
		{ "", NULL },
		{ "status", NULL },
		{ "\"status\"", NULL },
		{ "[\"status\",\"401\"]", NULL },
		{ "{\"status\":\"401\"", NULL },
		{ "{\"status\":\"401}", NULL },
		{ "{\"status\":\"401\",}", NULL },
		{ "{\"status\" \"401\"}", NULL },
		{ "{\"status\":\"401\"} trailing", NULL },
		{ "{\"status\":01}", NULL },
		{ "{\"status\":\"\\x\"}", NULL },
		{ "{\"status\":\"\\ud800\"}", NULL },
		{ "{\"status\":\"\\u0000\"}", NULL },
		{ "{\"status\":\"tab\there\"}", NULL },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],\"status\":\"1\"}", NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *enc = b64(cases[i].json);
		status = mb_sasl_oauth_error_status(enc);
		if (cases[i].status)
			ck_assert_msg(status && strcmp(status, cases[i].status) == 0, "%s: got %s", cases[i].json,
				status ? status : "NULL");
		else
			ck_assert_msg(status == NULL, "%s: got %s", cases[i].json, status);
		g_free(status);
		g_free(enc);
	}

	status = mb_sasl_oauth_error_status(" eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIn0=\r\n");
	ck_assert_str_eq(status, "401");
	g_free(status);

	/* not base64 */
	ck_assert_ptr_null(mb_sasl_oauth_error_status(NULL));
	ck_assert_ptr_null(mb_sasl_oauth_error_status(""));
	ck_assert_ptr_null(mb_sasl_oauth_error_status("not base64!"));
	ck_assert_ptr_null(mb_sasl_oauth_error_status("eyJzdGF0dXMiOiI0MDEifQ"));
	ck_assert_ptr_null(mb_sasl_oauth_error_status("e=yJzdGF0dXMiOiI0MDEifQ=="));
	/* NUL inside */
	char *enc = g_base64_encode((const guchar *)"{\"status\":\"4\0\"}", 15);
	ck_assert_ptr_null(mb_sasl_oauth_error_status(enc));
	g_free(enc);
}
END_TEST

START_TEST(test_redact)
{
	static const struct {
		const char *line;
		bool sasl;
		const char *want;
	} cases[] = {
		{ "a1 LOGIN alice secret\r\n", false, "a1 LOGIN ***\r\n" },
		{ "a1 login \"alice\" \"se cret\"", false, "a1 login ***" },
		{ "a1 LoGiN {5}\r\n", false, "a1 LoGiN ***\r\n" },
		/* LITERAL+: the whole command in one buffer */
		{ "a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n", false, "a1 LOGIN ***\r\n" },
		{ "a1 LOGIN", false, "a1 LOGIN ***" },
		{ "a2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", false, "a2 AUTHENTICATE PLAIN ***\r\n" },
		{ "a2 authenticate xoauth2 dXNlcj1...\n", false, "a2 authenticate xoauth2 ***\n" },
		{ "a2 AUTHENTICATE PLAIN\r\n", false, "a2 AUTHENTICATE PLAIN\r\n" },
		{ "a2 AUTHENTICATE OAUTHBEARER", false, "a2 AUTHENTICATE OAUTHBEARER" },
		{ "a2 AUTHENTICATE PLAIN =\r\n", false, "a2 AUTHENTICATE PLAIN ***\r\n" },
		/* pipelined: what follows a LOGIN goes too */
		{ "a1 CAPABILITY\r\na2 LOGIN alice secret\r\n", false, "a1 CAPABILITY\r\na2 LOGIN ***\r\n" },
		{ "a3 EXAMINE INBOX\r\n", false, "a3 EXAMINE INBOX\r\n" },
		{ "a4 UID FETCH 5:* (UID ENVELOPE)", false, "a4 UID FETCH 5:* (UID ENVELOPE)" },
		{ "a5 LOGINX foo", false, "a5 LOGINX foo" },
		{ "DONE\r\n", false, "DONE\r\n" },
		{ "", false, "" },
		{ "AGFsaWNlAHNlY3JldA==\r\n", true, "***\r\n" },
		{ "secret", true, "***" },
		{ "a3 EXAMINE INBOX", true, "***" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = mb_log_redact_command(cases[i].line, strlen(cases[i].line), cases[i].sasl);
		ck_assert_msg(strcmp(got, cases[i].want) == 0, "'%s': got '%s'", cases[i].line, got);
		g_free(got);
	}
	/* len, not the NUL, ends the line */
	char *got = mb_log_redact_command("a1 NOOP\r\na2 LOGIN u p\r\n", 9, false);
	ck_assert_str_eq(got, "a1 NOOP\r\n");
	g_free(got);
}
END_TEST

/* Runs fn with stderr going to a file after mb_log_init(verbose, trace), and
 * returns what was written. */
static char *
capture_stderr(bool verbose, bool trace, void (*fn)(void))
{
	char *path = NULL;
	int fd = g_file_open_tmp("mb-test-log-XXXXXX", &path, NULL);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	mb_log_init(verbose, trace);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	char *text = NULL;
	ck_assert(g_file_get_contents(path, &text, NULL, NULL));
	unlink(path);
	g_free(path);
	return text;
}

static void
emit_trace(void)
{
	const char login[] = "a1 LOGIN alice secret\r\n";
	mb_log_trace("work", "C", login, strlen(login));
	const char ctl[] = "* OK \x1b[31mred\x7f\r\n";
	mb_log_trace("work", "S", ctl, strlen(ctl));
	GString *big = g_string_new("* 1 FETCH (BODY[] {300}\r\n");
	for (int i = 0; i < 300; i++)
		g_string_append_c(big, 'x');
	g_string_append(big, ")\r\n");
	mb_log_trace("work", "S", big->str, big->len);
	g_string_free(big, TRUE);
	const char small[] = "* 2 FETCH (BODY[] {3}\r\nabc)\r\n";
	mb_log_trace("work", "S", small, strlen(small));

	/* one line per call, CRLF stripped, as imap.c traces: two lines of
	 * 148 octets plus their CRLFs make the 300-octet literal */
	char body[300];
	memset(body, 'y', 148);
	const char head3[] = "* 3 FETCH (BODY[] {300}";
	mb_log_trace("work", "S", head3, strlen(head3));
	mb_log_trace("work", "S", body, 148);
	mb_log_trace("work", "S", body, 148);
	mb_log_trace("work", "S", ")", 1);
	/* the literal ends inside a line */
	const char head4[] = "* 4 FETCH (BODY[] {298}";
	mb_log_trace("work", "S", head4, strlen(head4));
	memset(body, 'z', 298);
	body[298] = ')';
	mb_log_trace("work", "S", body, 299);
	/* a literal cut short by a lost connection; other accounts go on */
	const char head5[] = "* 5 FETCH (BODY[] {1000}";
	mb_log_trace("work", "S", head5, strlen(head5));
	mb_log_trace("work", "S", "still literal", 13);
	mb_log_trace("home", "S", "* OK home", 9);
	mb_log_trace_reset("work");
	mb_log_trace("work", "S", "* OK again", 10);
}

START_TEST(test_trace)
{
	char *out = capture_stderr(false, true, emit_trace);
	ck_assert(mb_log_tracing());
	ck_assert_str_eq(out,
		"mailbell: debug: work C: a1 LOGIN ***\\r\\n\n"
		"mailbell: debug: work S: * OK \\x1b[31mred\\x7f\\r\\n\n"
		"mailbell: debug: work S: * 1 FETCH (BODY[] {300}\\r\\n<300 octets>)\\r\\n\n"
		"mailbell: debug: work S: * 2 FETCH (BODY[] {3}\\r\\nabc)\\r\\n\n"
		"mailbell: debug: work S: * 3 FETCH (BODY[] {300}<300 octets>\n"
		"mailbell: debug: work S: )\n"
		"mailbell: debug: work S: * 4 FETCH (BODY[] {298}<298 octets>\n"
		"mailbell: debug: work S: )\n"
		"mailbell: debug: work S: * 5 FETCH (BODY[] {1000}<1000 octets>\n"
		"mailbell: debug: home S: * OK home\n"
		"mailbell: debug: work S: * OK again\n");
	g_free(out);
}
END_TEST

START_TEST(test_no_trace)
{
	char *out = capture_stderr(true, false, emit_trace);
	ck_assert(!mb_log_tracing());
	ck_assert_str_eq(out, "");
	g_free(out);
}
END_TEST

static void
emit_levels(void)
{
	g_debug("debug %d", 1);
	g_info("info");
	g_message("hello");
	g_warning("work: connection lost \x1b]0;title\x07");
	g_log("mailbell", G_LOG_LEVEL_MESSAGE, "ours");
	g_log("mailbell", G_LOG_LEVEL_DEBUG, "our debug");
	g_log("GLib-GIO", G_LOG_LEVEL_DEBUG, "library chatter");
	g_log("GLib-GIO", G_LOG_LEVEL_WARNING, "library warning");
}

START_TEST(test_levels_quiet)
{
	char *out = capture_stderr(false, false, emit_levels);
	ck_assert_str_eq(out,
		"mailbell: mailbell-test: hello\n"
		"mailbell: warning: mailbell-test: work: connection lost \\x1b]0;title\\x07\n"
		"mailbell: ours\n"
		"mailbell: warning: GLib-GIO: library warning\n");
	g_free(out);
}
END_TEST

START_TEST(test_levels_verbose)
{
	char *out = capture_stderr(true, false, emit_levels);
	/* the test's own domain is "mailbell-test", which counts as ours */
	ck_assert_str_eq(out,
		"mailbell: debug: mailbell-test: debug 1\n"
		"mailbell: info: mailbell-test: info\n"
		"mailbell: mailbell-test: hello\n"
		"mailbell: warning: mailbell-test: work: connection lost \\x1b]0;title\\x07\n"
		"mailbell: ours\n"
		"mailbell: debug: our debug\n"
		"mailbell: warning: GLib-GIO: library warning\n");
	g_free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("sasl");
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_xoauth2);
	tcase_add_test(tc, test_oauthbearer);
	tcase_add_test(tc, test_oauth_error_status);
	suite_add_tcase(s, tc);

	TCase *log = tcase_create("log");
	tcase_add_test(log, test_redact);
	tcase_add_test(log, test_trace);
	tcase_add_test(log, test_no_trace);
	tcase_add_test(log, test_levels_quiet);
	tcase_add_test(log, test_levels_verbose);
	suite_add_tcase(s, log);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
