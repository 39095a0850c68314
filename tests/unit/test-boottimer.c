/* Tests of boottimer.c: a timer fires once and never early, one armed for
 * 0 s fires at the next iteration (as a keepalive due during a suspend does
 * at resume), timers fire in their order, and a freed one never fires and
 * leaves no file descriptor behind. Suspend
 * itself cannot be had in a test; what is tested is that the deadlines are
 * CLOCK_BOOTTIME timerfds. No timing is asserted: the loop runs
 * until the callbacks ran, and check's timeout catches a hang. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <dirent.h>
#include <stdlib.h>

#include <glib.h>

#include "boottimer.h"

struct fired {
	int calls;
	int order;                  /* position among all calls, from 1 */
	gint64 at;                  /* mb_boottimer_now() in the callback */
};

static int calls_so_far;

static gboolean
on_fire(gpointer data)
{
	struct fired *f = data;
	f->calls++;
	f->order = ++calls_so_far;
	f->at = mb_boottimer_now();
	/* the return value is ignored: one-shot whatever it says */
	return G_SOURCE_CONTINUE;
}

static void
run_until(const int *calls)
{
	while (*calls == 0)
		g_main_context_iteration(NULL, TRUE);
}

static int
open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

START_TEST(test_fires_once)
{
	struct fired f = { 0 };
	struct mb_timer *t = mb_timer_new(on_fire, &f);
	gint64 due = mb_boottimer_now() + G_USEC_PER_SEC;
	mb_timer_arm(t, 1);
	run_until(&f.calls);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_ge(f.at, due);  /* a timer never fires early */
	ck_assert(!mb_timer_armed(t));
	/* one-shot: a second timer's wait shows the first one stays quiet */
	struct fired g = { 0 };
	struct mb_timer *u = mb_timer_new(on_fire, &g);
	mb_timer_arm(u, 1);
	run_until(&g.calls);
	ck_assert_int_eq(f.calls, 1);
	mb_timer_free(u);
	mb_timer_free(t);
}
END_TEST

START_TEST(test_zero_fires_at_once)
{
	/* 0 s (a deadline already due, as a keepalive is at resume after a
	 * suspend) fires at the next iteration: it_value 0 would disarm */
	struct fired now = { 0 }, later = { 0 };
	struct mb_timer *a = mb_timer_new(on_fire, &now), *b = mb_timer_new(on_fire, &later);
	mb_timer_arm(b, 3600);
	mb_timer_arm(a, 0);
	run_until(&now.calls);
	ck_assert_int_eq(now.calls, 1);
	ck_assert_int_eq(later.calls, 0);
	ck_assert(mb_timer_armed(b));
	mb_timer_free(a);
	mb_timer_free(b);
}
END_TEST

START_TEST(test_in_deadline_order)
{
	struct fired first = { 0 }, second = { 0 };
	struct mb_timer *a = mb_timer_new(on_fire, &second), *b = mb_timer_new(on_fire, &first);
	calls_so_far = 0;
	mb_timer_arm(a, 2);
	mb_timer_arm(b, 1);
	run_until(&second.calls);
	ck_assert_int_eq(first.calls, 1);
	ck_assert_int_eq(first.order, 1);
	ck_assert_int_eq(second.order, 2);
	mb_timer_free(a);
	mb_timer_free(b);
}
END_TEST

START_TEST(test_freed_never_fires)
{
	struct fired removed = { 0 }, kept = { 0 }, first = { 0 };
	/* the first timer makes the shared epoll set (epoll-source.h), which
	 * stays: count from after it */
	struct mb_timer *t = mb_timer_new(on_fire, &first);
	mb_timer_arm(t, 0);
	run_until(&first.calls);
	mb_timer_free(t);
	g_main_context_iteration(NULL, FALSE);  /* the context's own eventfd */
	int fds = open_fds();
	struct mb_timer *r = mb_timer_new(on_fire, &removed);
	ck_assert_int_eq(open_fds(), fds + 1);  /* one timerfd for its whole life */
	mb_timer_arm(r, 1);
	mb_timer_arm(r, 1);
	ck_assert_int_eq(open_fds(), fds + 1);
	mb_timer_free(r);
	ck_assert_int_eq(open_fds(), fds);
	struct mb_timer *k = mb_timer_new(on_fire, &kept);
	mb_timer_arm(k, 2);
	run_until(&kept.calls);
	ck_assert_int_eq(removed.calls, 0);
	mb_timer_free(k);
	ck_assert_int_eq(open_fds(), fds);
}
END_TEST

/* struct mb_timer: reusable, rearming replaces, disarming wins even over an
 * expiry already in the fd, and freeing from its own callback is safe. */
static struct mb_timer *self_freeing;

static gboolean
on_fire_free(gpointer data)
{
	on_fire(data);
	mb_timer_free(self_freeing);
	self_freeing = NULL;
	return G_SOURCE_REMOVE;
}

START_TEST(test_timer_reuse)
{
	struct fired f = { 0 }, g = { 0 };
	struct mb_timer *t = mb_timer_new(on_fire, &f);
	ck_assert(!mb_timer_armed(t));
	gint64 start = mb_boottimer_now();
	mb_timer_arm(t, 5);
	mb_timer_arm(t, 1); /* replaces the 5 s arming */
	ck_assert(mb_timer_armed(t));
	run_until(&f.calls);
	ck_assert_int_eq(f.calls, 1);
	ck_assert(f.at - start >= G_USEC_PER_SEC);
	ck_assert(f.at - start < 5 * G_USEC_PER_SEC);
	ck_assert(!mb_timer_armed(t));
	/* armed again: fires again */
	f.calls = 0;
	mb_timer_arm(t, 0);
	run_until(&f.calls);
	ck_assert_int_eq(f.calls, 1);
	/* expired (the fd is readable) but disarmed before the loop ran: never */
	f.calls = 0;
	mb_timer_arm(t, 0);
	g_usleep(20000);
	mb_timer_disarm(t);
	struct mb_timer *other = mb_timer_new(on_fire, &g);
	mb_timer_arm(other, 1);
	run_until(&g.calls);
	ck_assert_int_eq(f.calls, 0);
	mb_timer_free(other);
	mb_timer_free(t);
	/* freed from its own callback */
	struct fired h = { 0 };
	self_freeing = mb_timer_new(on_fire_free, &h);
	mb_timer_arm(self_freeing, 0);
	run_until(&h.calls);
	ck_assert_ptr_null(self_freeing);
	mb_timer_free(NULL);
}
END_TEST

static Suite *
boottimer_suite(void)
{
	Suite *s = suite_create("boottimer");
	TCase *tc = tcase_create("deadlines");
	tcase_add_test(tc, test_fires_once);
	tcase_add_test(tc, test_zero_fires_at_once);
	tcase_add_test(tc, test_in_deadline_order);
	tcase_add_test(tc, test_freed_never_fires);
	tcase_add_test(tc, test_timer_reuse);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(boottimer_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
