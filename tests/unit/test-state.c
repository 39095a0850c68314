/* Tests of state.c: what mb_state_set() writes, durable or not, is what a
 * fresh mb_state reads back; a write that is not durable leaves no temporary
 * file behind, replaces the file (a new inode: never rewritten in place, so
 * a crash leaves the old contents or the new) and keeps it private; a write
 * that cannot be done says so and keeps the old file; a first baseline
 * (written without fsync, flushed in a batch) reads back the same at once,
 * its flush runs from the loop or at destroy without a warning. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "state.h"

static char *dir;

static void
setup(void)
{
	dir = g_dir_make_tmp("mb-test-state-XXXXXX", NULL);
	ck_assert_ptr_nonnull(dir);
}

static void
remove_all(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		char *p = g_build_filename(path, name, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			remove_all(p);
		else
			g_unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(path);
}

static void
teardown(void)
{
	remove_all(dir);
	g_free(dir);
}

static struct mb_mailbox_state
read_back(const char *account, const char *mailbox)
{
	struct mb_state *st = mb_state_open(dir, NULL);
	ck_assert_ptr_nonnull(st);
	struct mb_mailbox_state v;
	ck_assert(mb_state_get(st, account, mailbox, &v));
	mb_state_destroy(st);
	return v;
}

static guint
n_files(void)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	guint n = 0;
	while (g_dir_read_name(d))
		n++;
	g_dir_close(d);
	return n;
}

START_TEST(test_round_trip)
{
	struct mb_state *st = mb_state_open(dir, NULL);
	struct mb_mailbox_state v = { .uidvalidity = 7, .last_uid = 42, .hook_uid = 40,
		.notified_uid = 41, .highestmodseq = 1234567890123ULL };
	GError *error = NULL;
	ck_assert(mb_state_set(st, "work", "INBOX", &v, true, &error));
	struct mb_mailbox_state got = read_back("work", "INBOX");
	ck_assert_uint_eq(got.uidvalidity, 7);
	ck_assert_uint_eq(got.last_uid, 42);
	ck_assert_uint_eq(got.hook_uid, 40);
	ck_assert_uint_eq(got.notified_uid, 41);
	ck_assert(got.highestmodseq == 1234567890123ULL);

	/* hooks and notifications move on without fsync; another mailbox keeps its values */
	struct mb_mailbox_state other = { .uidvalidity = 9, .last_uid = 3, .hook_uid = 3, .notified_uid = 3 };
	ck_assert(mb_state_set(st, "work", "Lists/rust", &other, true, &error));
	v.hook_uid = 42;
	v.notified_uid = 42;
	ck_assert(mb_state_set(st, "work", "INBOX", &v, false, &error));
	got = read_back("work", "INBOX");
	ck_assert_uint_eq(got.hook_uid, 42);
	ck_assert_uint_eq(got.notified_uid, 42);
	got = read_back("work", "Lists/rust");
	ck_assert_uint_eq(got.last_uid, 3);
	/* one file per account, no temporary file left */
	ck_assert_uint_eq(n_files(), 1);
	mb_state_destroy(st);
}
END_TEST

START_TEST(test_not_durable_replaces)
{
	struct mb_state *st = mb_state_open(dir, NULL);
	struct mb_mailbox_state v = { .uidvalidity = 1, .last_uid = 10, .hook_uid = 5, .notified_uid = 10 };
	GError *error = NULL;
	ck_assert(mb_state_set(st, "a b", "INBOX", &v, true, &error));
	char *path = g_build_filename(dir, "a%20b.state", NULL);
	GStatBuf before, after;
	ck_assert_int_eq(g_stat(path, &before), 0);
	/* kept open, the old file still holds the old contents: a rename, not a rewrite */
	char *old = NULL;
	ck_assert(g_file_get_contents(path, &old, NULL, NULL));
	for (uint32_t uid = 6; uid <= 10; uid++) {
		v.hook_uid = uid;
		ck_assert_msg(mb_state_set(st, "a b", "INBOX", &v, false, &error), "%s",
			error ? error->message : "");
	}
	ck_assert_int_eq(g_stat(path, &after), 0);
	ck_assert(before.st_ino != after.st_ino);
	ck_assert_uint_eq(after.st_mode & 0777, 0600);
	ck_assert_uint_eq(read_back("a b", "INBOX").hook_uid, 10);
	ck_assert_uint_eq(n_files(), 1);
	ck_assert_ptr_nonnull(strstr(old, "hook_uid=5"));
	g_free(old);
	g_free(path);
	mb_state_destroy(st);
}
END_TEST

START_TEST(test_write_fails)
{
	struct mb_state *st = mb_state_open(dir, NULL);
	struct mb_mailbox_state v = { .uidvalidity = 1, .last_uid = 10, .hook_uid = 10, .notified_uid = 10 };
	GError *error = NULL;
	ck_assert(mb_state_set(st, "work", "INBOX", &v, true, &error));
	/* the temporary file's place is taken by a directory: the write fails (root
	 * included), the old file stays */
	char *blocker = g_build_filename(dir, "work.state.new", NULL);
	ck_assert_int_eq(g_mkdir(blocker, 0700), 0);
	v.hook_uid = 9;
	ck_assert(!mb_state_set(st, "work", "INBOX", &v, false, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_nonnull(strstr(error->message, "work.state.new"));
	g_clear_error(&error);
	ck_assert_uint_eq(read_back("work", "INBOX").hook_uid, 10);
	g_rmdir(blocker);
	g_free(blocker);
	mb_state_destroy(st);
}
END_TEST

static gboolean
on_quit(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

START_TEST(test_baseline)
{
	/* the flush on its worker thread, or at destroy, must not warn */
	g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
	struct mb_state *st = mb_state_open(dir, NULL);
	struct mb_mailbox_state v = { .uidvalidity = 3, .last_uid = 17, .hook_uid = 17,
		.notified_uid = 17, .highestmodseq = 99 };
	GError *error = NULL;
	const char *names[] = { "a", "b b", "c" };
	for (int i = 0; i < 3; i++)
		ck_assert(mb_state_set_baseline(st, names[i], "INBOX", &v, &error));
	/* readable at once by another process, one file each, no temporary file */
	for (int i = 0; i < 3; i++) {
		struct mb_mailbox_state got = read_back(names[i], "INBOX");
		ck_assert_uint_eq(got.uidvalidity, 3);
		ck_assert_uint_eq(got.last_uid, 17);
		ck_assert(got.highestmodseq == 99);
	}
	ck_assert_uint_eq(n_files(), 3);
	char *path = g_build_filename(dir, "b%20b.state", NULL);
	GStatBuf sb;
	ck_assert_int_eq(g_stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	g_free(path);
	/* mail reported after it is written durably, over the baseline */
	v.last_uid = v.hook_uid = v.notified_uid = 18;
	ck_assert(mb_state_set(st, "a", "INBOX", &v, true, &error));
	ck_assert_uint_eq(read_back("a", "INBOX").last_uid, 18);
	/* the batch's flush runs from the main loop */
	bool done = false;
	g_timeout_add_seconds(2, on_quit, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
	mb_state_destroy(st);

	/* a flush still due when the state is destroyed happens then */
	st = mb_state_open(dir, NULL);
	ck_assert(mb_state_set_baseline(st, "d", "INBOX", &v, &error));
	mb_state_destroy(st);
	ck_assert_uint_eq(read_back("d", "INBOX").last_uid, 18);
	ck_assert_uint_eq(n_files(), 4);

	/* a baseline that cannot be written says so and keeps the old file */
	st = mb_state_open(dir, NULL);
	char *blocker = g_build_filename(dir, "e.state.new", NULL);
	ck_assert_int_eq(g_mkdir(blocker, 0700), 0);
	ck_assert(!mb_state_set_baseline(st, "e", "INBOX", &v, &error));
	ck_assert_ptr_nonnull(error);
	g_clear_error(&error);
	g_rmdir(blocker);
	g_free(blocker);
	mb_state_destroy(st);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_not_durable_replaces);
	tcase_add_test(tc, test_write_fails);
	tcase_add_test(tc, test_baseline);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(state_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
