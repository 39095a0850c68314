/* Tests of epoll-source.c: a watch runs when its descriptor is ready and not
 * before, level-triggered (again while data is left unread); events can be
 * changed (G_IO_OUT on and off); HUP is reported without being asked for; a
 * watch removed by another watch's callback in the same dispatch never runs,
 * nor does one removing itself run again; a descriptor number reused by a new
 * watch after remove-then-close is not mistaken for the old one; more ready
 * watches than one dispatch takes all run, over several iterations; errors
 * come back as GError. No timing is asserted. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "epoll-source.h"

struct seen {
	int calls;
	GIOCondition cond;         /* of the last call */
	bool drain;                /* read what is there */
	struct mb_epoll_watch *remove;  /* remove this one from the callback */
	struct mb_epoll_watch **self;   /* and this one (set to NULL) */
};

static void on_ready(int fd, GIOCondition cond, void *data)
{
	struct seen *s = data;
	s->calls++;
	s->cond = cond;
	if (s->drain) {
		char buf[64];
		while (read(fd, buf, sizeof buf) > 0)
			;
	}
	if (s->remove) {
		mb_epoll_watch_remove(s->remove);
		s->remove = NULL;
	}
	if (s->self) {
		mb_epoll_watch_remove(*s->self);
		*s->self = NULL;
		s->self = NULL;
	}
}

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Runs the loop without blocking until it has nothing more to do now. */
static void drain_loop(void)
{
	for (int i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++)
		;
}

static void run_until(const int *calls, int n)
{
	while (*calls < n)
		g_main_context_iteration(NULL, TRUE);
}

START_TEST(test_readable_level_triggered)
{
	int sv[2];
	pair(sv);
	struct seen s = { 0 };
	struct mb_epoll_watch *w = mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &s, NULL);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(mb_epoll_watch_events(w), G_IO_IN);
	drain_loop();
	ck_assert_int_eq(s.calls, 0);  /* nothing to read yet */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	run_until(&s.calls, 1);
	ck_assert(s.cond & G_IO_IN);
	ck_assert(!(s.cond & G_IO_OUT));  /* not asked for, though writable */
	/* left unread: runs again */
	run_until(&s.calls, 3);
	s.drain = true;
	g_main_context_iteration(NULL, TRUE);
	int after = s.calls;
	drain_loop();
	ck_assert_int_eq(s.calls, after);
	mb_epoll_watch_remove(w);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_modify_out)
{
	int sv[2];
	pair(sv);
	struct seen s = { 0 };
	struct mb_epoll_watch *w = mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &s, NULL);
	drain_loop();
	ck_assert_int_eq(s.calls, 0);
	GError *error = NULL;
	ck_assert(mb_epoll_watch_modify(w, G_IO_IN | G_IO_OUT, &error));
	ck_assert_int_eq(mb_epoll_watch_events(w), G_IO_IN | G_IO_OUT);
	run_until(&s.calls, 1);
	ck_assert_int_eq(s.cond, G_IO_OUT);
	ck_assert(mb_epoll_watch_modify(w, G_IO_IN, &error));
	ck_assert(mb_epoll_watch_modify(w, G_IO_IN, &error));  /* no change: fine */
	int calls = s.calls;
	drain_loop();
	ck_assert_int_eq(s.calls, calls);
	mb_epoll_watch_remove(w);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_hangup_reported)
{
	int sv[2];
	pair(sv);
	struct seen s = { 0 };
	struct mb_epoll_watch *w = mb_epoll_watch_add(sv[0], 0, on_ready, &s, NULL);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	drain_loop();
	ck_assert_int_eq(s.calls, 0);  /* G_IO_IN not asked for */
	close(sv[1]);
	run_until(&s.calls, 1);
	ck_assert(s.cond & G_IO_HUP);
	mb_epoll_watch_remove(w);
	close(sv[0]);
}
END_TEST

START_TEST(test_remove_other_in_same_dispatch)
{
	int a[2], b[2];
	pair(a);
	pair(b);
	struct seen sa = { .drain = true }, sb = { .drain = true };
	struct mb_epoll_watch *wa = mb_epoll_watch_add(a[0], G_IO_IN, on_ready, &sa, NULL);
	struct mb_epoll_watch *wb = mb_epoll_watch_add(b[0], G_IO_IN, on_ready, &sb, NULL);
	/* whichever runs first removes the other: both are ready in one dispatch */
	sa.remove = wb;
	sb.remove = wa;
	ck_assert_int_eq(write(a[1], "x", 1), 1);
	ck_assert_int_eq(write(b[1], "x", 1), 1);
	while (sa.calls + sb.calls == 0)
		g_main_context_iteration(NULL, TRUE);
	drain_loop();
	ck_assert_int_eq(sa.calls + sb.calls, 1);
	/* the survivor is still watched (and still readable) */
	struct seen *alive = sa.calls ? &sa : &sb;
	struct mb_epoll_watch *w = sa.calls ? wa : wb;
	alive->remove = NULL;
	int before = alive->calls;
	ck_assert_int_eq(write(sa.calls ? a[1] : b[1], "y", 1), 1);
	run_until(&alive->calls, before + 1);
	mb_epoll_watch_remove(w);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}
END_TEST

START_TEST(test_remove_self_and_reuse_fd)
{
	int sv[2];
	pair(sv);
	struct seen s = { 0 };
	struct mb_epoll_watch *w = mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &s, NULL);
	s.self = &w;
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	run_until(&s.calls, 1);
	ck_assert_ptr_null(w);
	drain_loop();
	ck_assert_int_eq(s.calls, 1);  /* still readable, but no longer watched */
	/* remove, close, and a new descriptor that may get the same number */
	int fd = sv[0];
	close(fd);
	close(sv[1]);
	pair(sv);
	struct seen t = { 0 };
	struct mb_epoll_watch *w2 = mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &t, NULL);
	ck_assert_ptr_nonnull(w2);
	ck_assert_int_eq(write(sv[1], "z", 1), 1);
	run_until(&t.calls, 1);
	ck_assert_int_eq(s.calls, 1);
	mb_epoll_watch_remove(w2);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

#define MANY 300  /* more than one dispatch takes */

START_TEST(test_many_ready)
{
	static int sv[MANY][2];
	static struct seen s[MANY];
	static struct mb_epoll_watch *w[MANY];
	for (int i = 0; i < MANY; i++) {
		pair(sv[i]);
		s[i] = (struct seen){ .drain = true };
		w[i] = mb_epoll_watch_add(sv[i][0], G_IO_IN, on_ready, &s[i], NULL);
		ck_assert_ptr_nonnull(w[i]);
		ck_assert_int_eq(write(sv[i][1], "x", 1), 1);
	}
	int iterations = 0;
	for (;;) {
		int done = 0;
		for (int i = 0; i < MANY; i++)
			done += s[i].calls > 0;
		if (done == MANY)
			break;
		g_main_context_iteration(NULL, TRUE);
		iterations++;
	}
	ck_assert_int_gt(iterations, 1);  /* not all in one dispatch */
	for (int i = 0; i < MANY; i++) {
		ck_assert_int_eq(s[i].calls, 1);
		mb_epoll_watch_remove(w[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
}
END_TEST

START_TEST(test_errors)
{
	GError *error = NULL;
	struct seen s = { 0 };
	/* a closed descriptor */
	int sv[2];
	pair(sv);
	close(sv[0]);
	close(sv[1]);
	ck_assert_ptr_null(mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &s, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert(error->domain == G_IO_ERROR);
	g_clear_error(&error);
	/* a regular file cannot be watched by epoll */
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_null(mb_epoll_watch_add(fd, G_IO_IN, on_ready, &s, &error));
	ck_assert_ptr_nonnull(error);
	g_clear_error(&error);
	close(fd);
	/* the same descriptor twice */
	pair(sv);
	struct mb_epoll_watch *w = mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &s, NULL);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_null(mb_epoll_watch_add(sv[0], G_IO_IN, on_ready, &s, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	g_clear_error(&error);
	mb_epoll_watch_remove(w);
	mb_epoll_watch_remove(NULL);
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

static Suite *epoll_suite(void)
{
	Suite *s = suite_create("epoll-source");
	TCase *tc = tcase_create("watches");
	tcase_add_test(tc, test_readable_level_triggered);
	tcase_add_test(tc, test_modify_out);
	tcase_add_test(tc, test_hangup_reported);
	tcase_add_test(tc, test_remove_other_in_same_dispatch);
	tcase_add_test(tc, test_remove_self_and_reuse_fd);
	tcase_add_test(tc, test_many_ready);
	tcase_add_test(tc, test_errors);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(epoll_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
