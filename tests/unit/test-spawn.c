/* Tests of spawn.c (exit status, signals, capture and its bound, stdin and
 * environment, the timeout's SIGTERM and the group's SIGKILL 5 s later even
 * after the shell is gone, cancel) and of the credential commands in sasl.c
 * built on it. They run real /bin/sh commands under a GMainLoop. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <errno.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "sasl.h"
#include "spawn.h"

/* What a done callback saw, copied out of the borrowed result. */
struct seen {
	int calls;
	struct mb_spawn_result r;
	GByteArray *out, *err;
	gint64 at;                  /* monotonic µs of the call */
};

static void
on_done(const struct mb_spawn_result *r, void *data)
{
	struct seen *s = data;
	s->calls++;
	s->r = *r;
	s->r.out = s->r.err = NULL;
	s->r.error = NULL;
	s->at = g_get_monotonic_time();
	gsize len;
	const void *p;
	if (r->out) {
		p = g_bytes_get_data(r->out, &len);
		s->out = g_byte_array_new();
		g_byte_array_append(s->out, p, (guint)len);
	}
	if (r->err) {
		p = g_bytes_get_data(r->err, &len);
		s->err = g_byte_array_new();
		g_byte_array_append(s->err, p, (guint)len);
	}
}

static void
seen_clear(struct seen *s)
{
	if (s->out)
		g_byte_array_unref(s->out);
	if (s->err)
		g_byte_array_unref(s->err);
}

static gboolean
on_give_up(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

/* Runs the main loop until *calls is nonzero or seconds have passed. */
static void
run_until(const int *calls, double seconds)
{
	bool over = false;
	guint t = g_timeout_add((guint)(seconds * 1000), on_give_up, &over);
	while (!over && (!calls || *calls == 0))
		g_main_context_iteration(NULL, TRUE);
	if (!over)
		g_source_remove(t);
}

static struct mb_spawn *
start(const char *command, bool capture, unsigned timeout, struct seen *s)
{
	struct mb_spawn_params p = {
		.command = command,
		.stdin_fd = -1,
		.capture = capture,
		.timeout = timeout,
		.label = "test command",
	};
	GError *error = NULL;
	struct mb_spawn *sp = mb_spawn_start(&p, on_done, s, &error);
	ck_assert_msg(sp != NULL, "cannot start: %s", error ? error->message : "?");
	return sp;
}

/* Runs command to its end (no timeout) and checks done ran once. */
static void
run_to_end(const char *command, bool capture, struct seen *s)
{
	start(command, capture, 0, s);
	run_until(&s->calls, 20);
	ck_assert_msg(s->calls == 1, "%s: done ran %d times", command, s->calls);
}

/* Some process of the group is alive (zombies aside: orphans are init's to
 * reap). */
static bool
group_alive(int pgid)
{
	GDir *d = g_dir_open("/proc", 0, NULL);
	const char *name;
	bool found = false;
	while (!found && d && (name = g_dir_read_name(d))) {
		if (!g_ascii_isdigit(name[0]))
			continue;
		char *path = g_strdup_printf("/proc/%s/stat", name);
		char *text = NULL;
		if (g_file_get_contents(path, &text, NULL, NULL)) {
			const char *rp = strrchr(text, ')');
			char state;
			int ppid, pg;
			if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pg) == 3)
				found = pg == pgid && state != 'Z';
		}
		g_free(text);
		g_free(path);
	}
	if (d)
		g_dir_close(d);
	return found;
}

START_TEST(test_exit_status)
{
	struct seen s = { 0 };
	run_to_end("exit 3", false, &s);
	ck_assert(s.r.exited);
	ck_assert_int_eq(s.r.status, 3);
	ck_assert_int_eq(s.r.signal, 0);
	ck_assert(!s.r.timed_out);
	ck_assert(s.r.ms > 0);
	ck_assert_ptr_null(s.out);
	seen_clear(&s);
}
END_TEST

START_TEST(test_signal)
{
	struct seen s = { 0 };
	run_to_end("kill -USR1 $$", false, &s);
	ck_assert(!s.r.exited);
	ck_assert_int_eq(s.r.signal, SIGUSR1);
	seen_clear(&s);
}
END_TEST

START_TEST(test_capture)
{
	struct seen s = { 0 };
	run_to_end("printf 'one\\ntwo'; echo oops >&2", true, &s);
	ck_assert(s.r.exited && s.r.status == 0);
	ck_assert_uint_eq(s.out->len, 7);
	ck_assert_mem_eq(s.out->data, "one\ntwo", 7);
	ck_assert_uint_eq(s.err->len, 5);
	ck_assert_mem_eq(s.err->data, "oops\n", 5);
	seen_clear(&s);

	/* nothing written: empty, not missing */
	struct seen n = { 0 };
	run_to_end("true", true, &n);
	ck_assert_uint_eq(n.out->len, 0);
	ck_assert_uint_eq(n.err->len, 0);
	seen_clear(&n);
}
END_TEST

START_TEST(test_capture_bounded)
{
	/* the rest is read and dropped: the command is not stuck on a full pipe */
	struct seen s = { 0 };
	run_to_end("head -c 300000 /dev/zero | tr '\\0' x; echo done >&2", true, &s);
	ck_assert(s.r.exited && s.r.status == 0);
	ck_assert_uint_eq(s.out->len, MB_SPAWN_CAPTURE_MAX);
	ck_assert_int_eq(s.out->data[0], 'x');
	ck_assert_int_eq(s.out->data[MB_SPAWN_CAPTURE_MAX - 1], 'x');
	ck_assert_uint_eq(s.err->len, 5);
	seen_clear(&s);
}
END_TEST

START_TEST(test_stdin_and_env)
{
	char path[] = "/tmp/mailbell-test-spawn-XXXXXX";
	int fd = g_mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, "from stdin,", 11), 11);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	struct stat before, after;
	ck_assert_int_eq(fstat(fd, &before), 0);
	char *env[] = { "MB_TEST_VALUE=from env", "PATH=/usr/bin:/bin", NULL };
	struct mb_spawn_params p = {
		.command = "cat; printf '%s,%s' \"$MB_TEST_VALUE\" \"${HOME-unset}\"",
		.env = env,
		.stdin_fd = fd,
		.capture = true,
		.label = "test command",
	};
	struct seen s = { 0 };
	ck_assert_ptr_nonnull(mb_spawn_start(&p, on_done, &s, NULL));
	/* taken over: already closed in this process (the number may have
	 * been given to another file since) */
	ck_assert(fstat(fd, &after) != 0 || after.st_ino != before.st_ino
		|| after.st_dev != before.st_dev);
	run_until(&s.calls, 10);
	ck_assert_int_eq(s.calls, 1);
	g_byte_array_append(s.out, (const guint8 *)"", 1);
	ck_assert_str_eq((const char *)s.out->data, "from stdin,from env,unset");
	seen_clear(&s);
}
END_TEST

START_TEST(test_own_process_group)
{
	struct seen s = { 0 };
	/* the shell lives on a while: GIO forgets the pid of a shell it has
	 * reaped, and a quick one may be reaped before spawn asks for it */
	struct mb_spawn *sp = start("echo $$ $(cut -d' ' -f5 /proc/$$/stat); sleep 1", true, 0, &s);
	int pgid = mb_spawn_pgid(sp);
	ck_assert_int_gt(pgid, 1);
	ck_assert_int_ne(pgid, getpgrp());
	run_until(&s.calls, 10);
	ck_assert_int_eq(s.calls, 1);
	g_byte_array_append(s.out, (const guint8 *)"", 1);
	int pid = 0, pg = 0;
	ck_assert_int_eq(sscanf((const char *)s.out->data, "%d %d", &pid, &pg), 2);
	ck_assert_int_eq(pid, pgid);
	ck_assert_int_eq(pg, pgid);
	seen_clear(&s);
}
END_TEST

/* The reported bug: the group's SIGKILL must come MB_SPAWN_KILL_GRACE
 * seconds after the SIGTERM even when the shell exits on the SIGTERM (here
 * without capture: done runs then) and leaves a child that ignores it; and
 * when the shell itself traps SIGTERM (with capture: done waits for the
 * SIGKILL). */
START_TEST(test_timeout_kills_the_group_later)
{
	const char *child = "(trap '' TERM; while :; do sleep 0.1; done) & ";
	char *dies = g_strconcat(child, "sleep 30", NULL);
	char *traps = g_strconcat("trap 'echo got TERM' TERM; ", child, "while :; do sleep 0.1; done",
		NULL);
	struct seen a = { 0 }, b = { 0 };
	gint64 t0 = g_get_monotonic_time();
	int pa = mb_spawn_pgid(start(dies, false, 1, &a));
	int pb = mb_spawn_pgid(start(traps, true, 1, &b));
	/* positive control: 2 s after the SIGTERM both groups live, and a
	 * command counts as running until its group is gone (a's shell died
	 * of the SIGTERM, its child did not) */
	run_until(NULL, 3);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 0);
	ck_assert(group_alive(pa));
	ck_assert(group_alive(pb));
	run_until(&a.calls, 10);
	ck_assert_int_eq(a.calls, 1);
	ck_assert(a.r.timed_out);
	ck_assert_int_eq(a.r.signal, SIGTERM);
	ck_assert(a.at - t0 >= (gint64)(MB_SPAWN_KILL_GRACE) * G_USEC_PER_SEC);
	run_until(&b.calls, 10);
	ck_assert_int_eq(b.calls, 1);
	ck_assert(b.r.timed_out);
	ck_assert_int_eq(b.r.signal, SIGKILL);
	ck_assert(b.at - t0 >= (gint64)(MB_SPAWN_KILL_GRACE) * G_USEC_PER_SEC);
	ck_assert_ptr_nonnull(strstr((const char *)b.out->data, "got TERM"));
	run_until(NULL, 0.5);
	ck_assert(!group_alive(pa));
	ck_assert(!group_alive(pb));
	seen_clear(&a);
	seen_clear(&b);
	g_free(dies);
	g_free(traps);
}
END_TEST

START_TEST(test_cancel)
{
	/* while the shell runs */
	struct seen s = { 0 };
	struct mb_spawn *sp = start("sleep 30", true, 0, &s);
	int pg = mb_spawn_pgid(sp);
	mb_spawn_cancel(sp);
	run_until(&s.calls, 0.5);
	ck_assert_int_eq(s.calls, 0);
	ck_assert(!group_alive(pg));

	/* after the shell exited, while a child still holds the pipes, and
	 * after the timeout's SIGTERM: nothing may fire later */
	struct seen t = { 0 };
	sp = start("trap '' TERM; (trap '' TERM; sleep 30) & sleep 0.3; exit 0", true, 1, &t);
	pg = mb_spawn_pgid(sp);
	run_until(&t.calls, 2.2); /* a seconds timer may fire late */
	ck_assert_int_eq(t.calls, 0);
	ck_assert(group_alive(pg));
	mb_spawn_cancel(sp);
	run_until(&t.calls, 0.5);
	ck_assert_int_eq(t.calls, 0);
	ck_assert(!group_alive(pg));
	mb_spawn_cancel(NULL);
}
END_TEST

/* --- credential commands ------------------------------------------------ */

struct secret_seen {
	int calls;
	char *secret;
	char *why;
};

static void
on_secret(const char *secret, const char *why, void *data)
{
	struct secret_seen *s = data;
	s->calls++;
	s->secret = g_strdup(secret);
	s->why = g_strdup(why);
}

static void
secret_run(const char *command, unsigned timeout, struct secret_seen *s)
{
	memset(s, 0, sizeof *s);
	ck_assert_ptr_nonnull(mb_sasl_secret_run(command, timeout, "test: password_cmd", on_secret, s));
	run_until(&s->calls, 10);
	ck_assert_int_eq(s->calls, 1);
}

static void
secret_clear(struct secret_seen *s)
{
	g_free(s->secret);
	g_free(s->why);
}

START_TEST(test_secret_first_line)
{
	struct secret_seen s;
	secret_run("printf 'pa ss\\r\\nsecond line\\n'", 5, &s);
	ck_assert_str_eq(s.secret, "pa ss");
	ck_assert_ptr_null(s.why);
	secret_clear(&s);
	/* bytes, not text */
	secret_run("printf '\\377pw'", 5, &s);
	ck_assert_str_eq(s.secret, "\377pw");
	secret_clear(&s);
}
END_TEST

START_TEST(test_secret_failures)
{
	static const struct {
		const char *command;
		unsigned timeout;
		const char *why;
	} cases[] = {
		{ "true", 5, "printed nothing" },
		{ "echo; echo pw", 5, "printed nothing" },
		{ "printf 'p\\0w\\n'", 5, "printed nothing" },
		/* stderr sanitized: tab to space, ESC dropped, ends trimmed */
		{ "echo pw; printf 'keyring\\tis \\033[31mlocked\\n' >&2; exit 3", 5,
		  "failed (exit status 3): keyring is [31mlocked" },
		{ "exit 1", 5, "failed (exit status 1)" },
		{ "kill -9 $$", 5, "failed (killed by signal 9)" },
		{ "echo pw; sleep 30", 1, "did not finish within 1s" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct secret_seen s;
		secret_run(cases[i].command, cases[i].timeout, &s);
		ck_assert_msg(s.secret == NULL, "%s: a secret", cases[i].command);
		ck_assert_str_eq(s.why, cases[i].why);
		secret_clear(&s);
	}
}
END_TEST

START_TEST(test_secret_cancel)
{
	struct secret_seen s = { 0 };
	struct mb_sasl_secret_cmd *cmd = mb_sasl_secret_run("sleep 30", 5, "test", on_secret, &s);
	mb_sasl_secret_cancel(cmd);
	run_until(&s.calls, 0.5);
	ck_assert_int_eq(s.calls, 0);
	mb_sasl_secret_cancel(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("spawn");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exit_status);
	tcase_add_test(tc, test_signal);
	tcase_add_test(tc, test_capture);
	tcase_add_test(tc, test_capture_bounded);
	tcase_add_test(tc, test_stdin_and_env);
	tcase_add_test(tc, test_own_process_group);
	tcase_add_test(tc, test_timeout_kills_the_group_later);
	tcase_add_test(tc, test_cancel);
	suite_add_tcase(s, tc);

	TCase *sec = tcase_create("secret");
	tcase_set_timeout(sec, 30);
	tcase_add_test(sec, test_secret_first_line);
	tcase_add_test(sec, test_secret_failures);
	tcase_add_test(sec, test_secret_cancel);
	suite_add_tcase(s, sec);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
