/* Tests of notify-text.c: what a single and a grouped new-mail notification
 * say, how messages leave a group, the UIDs a "mark-read" gets, the
 * message copy, and the Message-ID table behind dedupe (window, same
 * mailbox or elsewhere, bound). No bus: notify.c's thread is tested by the
 * integration tests. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "notify-text.h"

#define SECOND ((gint64)G_USEC_PER_SEC)

static struct mb_message *
message(const char *account, const char *mailbox, uint32_t uidvalidity, uint32_t uid, const char *name,
	const char *address, const char *subject, const char *preview)
{
	struct mb_message *m = g_new0(struct mb_message, 1);
	m->account = g_strdup(account);
	m->mailbox = g_strdup(mailbox);
	m->uid = uid;
	m->uidvalidity = uidvalidity;
	m->from_name = g_strdup(name);
	m->from_address = g_strdup(address);
	m->from = *name ? g_strdup_printf("%s <%s>", name, address) : *address ? g_strdup(address)
		: g_strdup("(unknown sender)");
	m->to_text = g_strdup("");
	m->subject = g_strdup(subject);
	m->date = g_strdup("");
	m->message_id = g_strdup_printf("<%u.%u@example.org>", uidvalidity, uid);
	m->list_id = g_strdup("");
	m->preview = g_strdup(preview);
	m->header = g_bytes_new_static("Subject: x\r\n\r\n", 14);
	return m;
}

static struct mb_message *
simple(uint32_t uid, const char *name, const char *subject)
{
	return message("work", "INBOX", 7, uid, name, "x@example.org", subject, "");
}

static void
add(struct mb_notify_group *g, uint32_t uid, const char *name, const char *subject, enum mb_urgency u)
{
	mb_notify_group_take(g, simple(uid, name, subject), u, NULL);
}

static void
assert_text(const struct mb_notify_group *g, unsigned lines, const char *summary, const char *body)
{
	char *s = mb_notify_group_summary(g);
	char *b = mb_notify_group_body(g, lines);
	ck_assert_str_eq(s, summary);
	ck_assert_str_eq(b, body);
	g_free(s);
	g_free(b);
}

START_TEST(test_single)
{
	struct mb_notify_group *g = mb_notify_group_create("work", "INBOX");
	assert_text(g, 5, "", "");
	ck_assert_uint_eq(mb_notify_group_size(g), 0);
	mb_notify_group_take(g, message("work", "INBOX", 7, 1, "Ann", "ann@example.org", "Hello", "Hi there."),
		MB_URGENCY_UNSET, "r");
	assert_text(g, 5, "Ann", "Hello\nHi there.");
	ck_assert_uint_eq(mb_notify_group_size(g), 1);
	ck_assert_str_eq(mb_notify_group_account(g), "work");
	ck_assert_str_eq(mb_notify_group_mailbox(g), "INBOX");
	mb_notify_group_destroy(g);

	/* the summary falls back to the address, then to the From text; no
	 * preview, no second line; the body is plain (escaping is later) */
	g = mb_notify_group_create("work", "INBOX");
	mb_notify_group_take(g, message("work", "INBOX", 7, 1, "", "no-name@example.org", "Tom & <b>", ""),
		MB_URGENCY_UNSET, NULL);
	assert_text(g, 5, "no-name@example.org", "Tom & <b>");
	mb_notify_group_destroy(g);
	g = mb_notify_group_create("work", "INBOX");
	mb_notify_group_take(g, message("work", "INBOX", 7, 1, "", "", "", "text"), MB_URGENCY_UNSET, NULL);
	assert_text(g, 5, "(unknown sender)", "\ntext");
	mb_notify_group_destroy(g);
	mb_notify_group_destroy(NULL);
}
END_TEST

START_TEST(test_grouped)
{
	struct mb_notify_group *g = mb_notify_group_create("work", "Lists/dev");
	add(g, 10, "Ann", "one", MB_URGENCY_UNSET);
	add(g, 11, "Bob", "", MB_URGENCY_UNSET);
	add(g, 12, "Cy", "three", MB_URGENCY_UNSET);
	/* newest first; an empty subject says so */
	assert_text(g, 5, "3 new messages in work/Lists/dev", "Cy: three\nBob: (no subject)\nAnn: one");
	/* at most max_lines lines, the rest counted */
	assert_text(g, 2, "3 new messages in work/Lists/dev", "Cy: three\nBob: (no subject)\n\u2026 and 1 more");
	assert_text(g, 1, "3 new messages in work/Lists/dev", "Cy: three\n\u2026 and 2 more");
	for (uint32_t uid = 13; uid < 20; uid++)
		add(g, uid, "Dee", "more", MB_URGENCY_UNSET);
	/* 0: the default, 5 */
	assert_text(g, 0, "10 new messages in work/Lists/dev",
		"Dee: more\nDee: more\nDee: more\nDee: more\nDee: more\n\u2026 and 5 more");
	mb_notify_group_destroy(g);
}
END_TEST

START_TEST(test_remove)
{
	struct mb_notify_group *g = mb_notify_group_create("work", "INBOX");
	mb_notify_group_take(g, message("work", "INBOX", 7, 1, "Ann", "a@x", "one", "first text"), MB_URGENCY_UNSET,
		NULL);
	add(g, 2, "Bob", "two", MB_URGENCY_UNSET);
	add(g, 3, "Cy", "three", MB_URGENCY_UNSET);
	ck_assert(!mb_notify_group_remove(g, 7, 4));
	ck_assert(!mb_notify_group_remove(g, 8, 2));
	ck_assert(mb_notify_group_remove(g, 7, 2));
	ck_assert(!mb_notify_group_remove(g, 7, 2));
	assert_text(g, 5, "2 new messages in work/INBOX", "Cy: three\nAnn: one");
	/* back to one: shown as a single message again, preview and all */
	ck_assert(mb_notify_group_remove(g, 7, 3));
	assert_text(g, 5, "Ann", "one\nfirst text");
	ck_assert(mb_notify_group_remove(g, 7, 1));
	ck_assert_uint_eq(mb_notify_group_size(g), 0);
	ck_assert_ptr_null(mb_notify_group_newest(g, NULL));
	mb_notify_group_destroy(g);
}
END_TEST

START_TEST(test_urgency)
{
	struct mb_notify_group *g = mb_notify_group_create("work", "INBOX");
	ck_assert_int_eq(mb_notify_group_urgency(g), MB_URGENCY_UNSET);
	add(g, 1, "A", "a", MB_URGENCY_LOW);
	ck_assert_int_eq(mb_notify_group_urgency(g), MB_URGENCY_LOW);
	add(g, 2, "B", "b", MB_URGENCY_UNSET);
	ck_assert_int_eq(mb_notify_group_urgency(g), MB_URGENCY_UNSET);
	add(g, 3, "C", "c", MB_URGENCY_CRITICAL);
	add(g, 4, "D", "d", MB_URGENCY_NORMAL);
	ck_assert_int_eq(mb_notify_group_urgency(g), MB_URGENCY_CRITICAL);
	ck_assert(mb_notify_group_remove(g, 7, 3));
	enum mb_urgency u = mb_notify_group_urgency(g);
	ck_assert(u == MB_URGENCY_NORMAL || u == MB_URGENCY_UNSET);
	mb_notify_group_destroy(g);
}
END_TEST

START_TEST(test_long_text)
{
	char *name = g_strnfill(400, 'n');
	char *subject = g_strnfill(5000, 's');
	struct mb_notify_group *g = mb_notify_group_create("work", "INBOX");
	mb_notify_group_take(g, message("work", "INBOX", 7, 1, name, "a@x", subject, ""), MB_URGENCY_UNSET, NULL);
	char *s = mb_notify_group_summary(g);
	char *b = mb_notify_group_body(g, 5);
	ck_assert_uint_le(strlen(s), MB_NOTIFY_SUMMARY_MAX);
	ck_assert(g_str_has_suffix(s, "\u2026"));
	ck_assert_uint_le(strlen(b), MB_NOTIFY_BODY_MAX);
	ck_assert(g_str_has_suffix(b, "\u2026"));
	g_free(s);
	g_free(b);
	for (uint32_t uid = 2; uid < 30; uid++)
		mb_notify_group_take(g, message("work", "INBOX", 7, uid, name, "a@x", subject, ""), MB_URGENCY_UNSET,
			NULL);
	b = mb_notify_group_body(g, 100);
	ck_assert_uint_le(strlen(b), MB_NOTIFY_BODY_MAX);
	/* each line is cut on its own */
	char **lines = g_strsplit(b, "\n", -1);
	ck_assert_uint_gt(g_strv_length(lines), 5);
	for (char **l = lines; *l; l++)
		ck_assert_uint_le(strlen(*l), MB_NOTIFY_LINE_MAX);
	ck_assert(g_utf8_validate(b, -1, NULL));
	g_strfreev(lines);
	g_free(b);
	mb_notify_group_destroy(g);
	g_free(name);
	g_free(subject);
}
END_TEST

static void
collect_uids(uint32_t uidvalidity, const uint32_t *uids, size_t n, void *data)
{
	GString *out = data;
	g_string_append_printf(out, "%u:", uidvalidity);
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(out, " %u", uids[i]);
	g_string_append_c(out, ';');
}

START_TEST(test_uids)
{
	struct mb_notify_group *g = mb_notify_group_create("work", "INBOX");
	GString *out = g_string_new(NULL);
	mb_notify_group_foreach_uids(g, collect_uids, out);
	ck_assert_str_eq(out->str, "");
	/* arrival order is not UID order (a catch-up and new mail mixed); a
	 * new UIDVALIDITY meanwhile gives a call of its own */
	mb_notify_group_take(g, message("work", "INBOX", 7, 30, "A", "a@x", "s", ""), MB_URGENCY_UNSET, NULL);
	mb_notify_group_take(g, message("work", "INBOX", 7, 12, "A", "a@x", "s", ""), MB_URGENCY_UNSET, NULL);
	mb_notify_group_take(g, message("work", "INBOX", 9, 2, "A", "a@x", "s", ""), MB_URGENCY_UNSET, NULL);
	mb_notify_group_take(g, message("work", "INBOX", 7, 20, "A", "a@x", "s", ""), MB_URGENCY_UNSET, NULL);
	mb_notify_group_take(g, message("work", "INBOX", 9, 1, "A", "a@x", "s", ""), MB_URGENCY_UNSET, NULL);
	mb_notify_group_foreach_uids(g, collect_uids, out);
	ck_assert_str_eq(out->str, "7: 12 20 30;9: 1 2;");
	g_string_free(out, TRUE);
	mb_notify_group_destroy(g);
}
END_TEST

START_TEST(test_newest)
{
	struct mb_notify_group *g = mb_notify_group_create("work", "INBOX");
	struct mb_message *m = simple(1, "A", "a");
	m->raw = g_bytes_new_static("raw", 3);
	mb_notify_group_take(g, m, MB_URGENCY_UNSET, "first");
	const char *rule = "x";
	const struct mb_message *n = mb_notify_group_newest(g, &rule);
	ck_assert_uint_eq(n->uid, 1);
	ck_assert_str_eq(rule, "first");
	ck_assert_ptr_nonnull(n->raw);
	mb_notify_group_take(g, simple(2, "B", "b"), MB_URGENCY_UNSET, NULL);
	n = mb_notify_group_newest(g, &rule);
	ck_assert_uint_eq(n->uid, 2);
	ck_assert_ptr_null(rule);
	ck_assert_uint_eq(g_bytes_get_size(n->header), 14);
	/* the newest gone: the one before it, without its raw message and
	 * header (only the newest keeps those) */
	ck_assert(mb_notify_group_remove(g, 7, 2));
	n = mb_notify_group_newest(g, &rule);
	ck_assert_uint_eq(n->uid, 1);
	ck_assert_str_eq(rule, "first");
	ck_assert_ptr_null(n->raw);
	ck_assert_ptr_nonnull(n->header);
	ck_assert_uint_eq(g_bytes_get_size(n->header), 0);
	ck_assert_str_eq(n->subject, "a");
	/* a flood keeps copies of the newest few only; text for all */
	for (uint32_t uid = 100; uid < 200; uid++)
		add(g, uid, "F", "flood", MB_URGENCY_UNSET);
	for (uint32_t uid = 199; uid >= 150; uid--)
		ck_assert(mb_notify_group_remove(g, 7, uid));
	n = mb_notify_group_newest(g, NULL);
	ck_assert(n == NULL || n->uid < 150);
	char *s = mb_notify_group_summary(g);
	ck_assert_str_eq(s, "51 new messages in work/INBOX");
	g_free(s);
	mb_notify_group_destroy(g);
}
END_TEST

START_TEST(test_copy)
{
	struct mb_message *m = message("work", "INBOX", 7, 5, "Ann", "ann@x", "Subject", "Preview");
	m->size = 1234;
	m->seen = true;
	m->duplicate = true;
	m->n_to = 2;
	m->to = g_new0(struct mb_address, 2);
	m->to[0].name = g_strdup("Me");
	m->to[0].address = g_strdup("me@x");
	m->to[1].name = g_strdup("");
	m->to[1].address = g_strdup("you@x");
	m->raw = g_bytes_new("raw", 3);
	struct mb_message *c = mb_notify_message_copy(m);
	ck_assert_ptr_ne(c->subject, m->subject);
	ck_assert_str_eq(c->account, "work");
	ck_assert_str_eq(c->mailbox, "INBOX");
	ck_assert_uint_eq(c->uid, 5);
	ck_assert_uint_eq(c->uidvalidity, 7);
	ck_assert_uint_eq(c->size, 1234);
	ck_assert(c->seen && c->duplicate);
	ck_assert_str_eq(c->from, "Ann <ann@x>");
	ck_assert_str_eq(c->message_id, "<7.5@example.org>");
	ck_assert_str_eq(c->preview, "Preview");
	ck_assert_uint_eq(c->n_to, 2);
	ck_assert_str_eq(c->to[1].address, "you@x");
	ck_assert_ptr_ne(c->to[0].name, m->to[0].name);
	ck_assert(g_bytes_equal(c->raw, m->raw));
	ck_assert(g_bytes_equal(c->header, m->header));
	mb_message_destroy(m);
	/* the copy stands alone */
	ck_assert_str_eq(c->to[0].name, "Me");
	ck_assert_uint_eq(g_bytes_get_size(c->raw), 3);
	mb_message_destroy(c);
}
END_TEST

static enum mb_notify_dup
check(struct mb_notify_seen *s, const char *id, const char *account, const char *mailbox, uint32_t uid,
	gint64 now)
{
	return mb_notify_seen_check(s, id, account, mailbox, 7, uid, now * SECOND, 100 * SECOND);
}

START_TEST(test_seen)
{
	struct mb_notify_seen *s = mb_notify_seen_create(100);
	ck_assert_int_eq(check(s, "<a@x>", "work", "INBOX", 1, 0), MB_NOTIFY_DUP_NO);
	/* the same message fetched again (a reconnect) is not a duplicate */
	ck_assert_int_eq(check(s, "<a@x>", "work", "INBOX", 1, 1), MB_NOTIFY_DUP_NO);
	/* another mailbox, another account: elsewhere */
	ck_assert_int_eq(check(s, "<a@x>", "work", "Lists/dev", 9, 2), MB_NOTIFY_DUP_ELSEWHERE);
	ck_assert_int_eq(check(s, "<a@x>", "home", "INBOX", 1, 3), MB_NOTIFY_DUP_ELSEWHERE);
	/* another UID in the same mailbox: the server reused it */
	ck_assert_int_eq(check(s, "<a@x>", "work", "INBOX", 2, 4), MB_NOTIFY_DUP_SAME_MAILBOX);
	/* another UIDVALIDITY of the same mailbox: elsewhere */
	ck_assert_int_eq(mb_notify_seen_check(s, "<a@x>", "work", "INBOX", 8, 1, 5 * SECOND, 100 * SECOND),
		MB_NOTIFY_DUP_ELSEWHERE);
	/* duplicates did not move the first sighting: it ends at 100 s */
	ck_assert_int_eq(check(s, "<a@x>", "home", "INBOX", 1, 100), MB_NOTIFY_DUP_ELSEWHERE);
	ck_assert_int_eq(check(s, "<a@x>", "home", "INBOX", 1, 101), MB_NOTIFY_DUP_NO);
	/* now home/INBOX is the first sighting */
	ck_assert_int_eq(check(s, "<a@x>", "work", "INBOX", 1, 102), MB_NOTIFY_DUP_ELSEWHERE);
	ck_assert_uint_eq(mb_notify_seen_size(s), 1);
	/* no Message-ID, or the window off: never a duplicate, nothing kept */
	ck_assert_int_eq(check(s, "", "work", "INBOX", 1, 103), MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(check(s, "", "work", "INBOX", 2, 103), MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(mb_notify_seen_check(s, NULL, "work", "INBOX", 7, 1, 103 * SECOND, 100 * SECOND),
		MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(mb_notify_seen_check(s, "<a@x>", "home", "Sent", 7, 1, 103 * SECOND, 0),
		MB_NOTIFY_DUP_NO);
	ck_assert_uint_eq(mb_notify_seen_size(s), 1);
	/* Message-IDs are compared exactly */
	ck_assert_int_eq(check(s, "<A@x>", "home", "Sent", 1, 104), MB_NOTIFY_DUP_NO);
	ck_assert_uint_eq(mb_notify_seen_size(s), 2);
	/* old entries go lazily, at the next check */
	ck_assert_int_eq(check(s, "<b@x>", "home", "INBOX", 5, 300), MB_NOTIFY_DUP_NO);
	ck_assert_uint_eq(mb_notify_seen_size(s), 1);
	mb_notify_seen_destroy(s);
	mb_notify_seen_destroy(NULL);
}
END_TEST

START_TEST(test_seen_bound)
{
	struct mb_notify_seen *s = mb_notify_seen_create(3);
	ck_assert_int_eq(check(s, "<1>", "a", "m", 1, 0), MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(check(s, "<2>", "a", "m", 2, 1), MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(check(s, "<3>", "a", "m", 3, 2), MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(check(s, "<4>", "a", "m", 4, 3), MB_NOTIFY_DUP_NO);
	ck_assert_uint_eq(mb_notify_seen_size(s), 3);
	/* the oldest went first */
	ck_assert_int_eq(check(s, "<1>", "b", "m", 1, 4), MB_NOTIFY_DUP_NO);
	ck_assert_int_eq(check(s, "<3>", "b", "m", 1, 5), MB_NOTIFY_DUP_ELSEWHERE);
	ck_assert_int_eq(check(s, "<4>", "b", "m", 1, 5), MB_NOTIFY_DUP_ELSEWHERE);
	ck_assert_uint_eq(mb_notify_seen_size(s), 3);
	mb_notify_seen_destroy(s);

	/* a day's window with ten thousand entries stays bounded */
	s = mb_notify_seen_create(10000);
	for (unsigned i = 0; i < 25000; i++) {
		char id[32];
		g_snprintf(id, sizeof id, "<%u@flood>", i);
		ck_assert_int_eq(mb_notify_seen_check(s, id, "a", "m", 1, i, (gint64)i * 1000, 86400 * SECOND),
			MB_NOTIFY_DUP_NO);
	}
	ck_assert_uint_eq(mb_notify_seen_size(s), 10000);
	ck_assert_int_eq(mb_notify_seen_check(s, "<24999@flood>", "b", "m", 1, 1, 25000000, 86400 * SECOND),
		MB_NOTIFY_DUP_ELSEWHERE);
	ck_assert_int_eq(mb_notify_seen_check(s, "<14999@flood>", "b", "m", 1, 1, 25000000, 86400 * SECOND),
		MB_NOTIFY_DUP_NO);
	mb_notify_seen_destroy(s);
}
END_TEST

static Suite *
notify_text_suite(void)
{
	Suite *s = suite_create("notify-text");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_single);
	tcase_add_test(tc, test_grouped);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_urgency);
	tcase_add_test(tc, test_long_text);
	tcase_add_test(tc, test_uids);
	tcase_add_test(tc, test_newest);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_seen);
	tcase_add_test(tc, test_seen_bound);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(notify_text_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
