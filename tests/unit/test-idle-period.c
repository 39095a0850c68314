/* The fixed-period detector (idle-period.c, servers.md S5/S7): which push
 * delays since the start of IDLE count as "only ever on a timer". */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <glib.h>

#include "idle-period.h"

#define END -1.0

static const struct {
	const char *what;
	double delays[20]; /* ends at END */
	unsigned period;   /* expected; 0: no hint */
} cases[] = {
	{ "nothing", { END }, 0 },
	{ "two pushes are not enough", { 60.1, 60.2, END }, 0 },
	{ "Cyrus without idled: three right at the first check", { 60.1, 60.3, 59.9, END }, 60 },
	{ "Courier: later checks, the fit is unlikely chance", { 60.2, 120.3, 180.1, 300.2, END }, 60 },
	{ "three on 1x, 2x, 3x: could be chance, wait for more", { 60.2, 120.3, 180.1, END }, 0 },
	{ "all on even multiples: the longest period that fits", { 120.1, 240.2, 120.3, 480.2, END }, 120 },
	{ "a push at IDLE start is catch-up, left out", { 0.2, 60.1, 0.4, 60.3, 59.8, END }, 60 },
	{ "one push off the period breaks it", { 60.1, 60.2, 60.0, 33.0, END }, 0 },
	{ "a push a few seconds in: a pushing server", { 60.1, 5.0, 60.2, 60.0, END }, 0 },
	{ "within 1s either side", { 59.1, 60.9, 60.0, END }, 60 },
	{ "1.5s off is not the same period", { 58.5, 61.5, 58.5, 61.5, END }, 0 },
	{ "the shortest period, with enough pushes", { 10.1, 20.0, 30.2, 10.0, 40.1, 10.2, 20.1, END }, 10 },
	{ "a 10s timer seen a little early", { 9.99, 9.98, 10.0, 9.97, 9.99, END }, 10 },
	{ "a short period with few pushes is chance", { 10.1, 20.0, 30.2, END }, 0 },
	{ "below the shortest period", { 5.0, 10.1, 5.1, 15.0, 5.0, 5.2, 10.0, 5.1, END }, 0 },
	{ "30s (Dovecot out of inotify, S4)", { 30.2, 30.1, 60.3, 30.4, 90.2, END }, 30 },
	{ "a pushing server (Dovecot, 0.5s batching) over a 10 minute keepalive",
	  { 37.5, 412.9, 121.3, 5.8, 291.0, 77.7, END }, 0 },
	{ "random delays that fit 3x17 by chance do not count", { 17.0, 34.0, 51.0, END }, 0 },
	{ "negative and too long delays are left out",
	  { -3.0, 7200.0, 60.0, 60.1, 59.9, END }, 60 },
};

START_TEST(test_table)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		size_t n = 0;
		while (cases[i].delays[n] != END)
			n++;
		unsigned got = mb_idle_period(cases[i].delays, n);
		ck_assert_msg(got == cases[i].period, "%s: got %u, want %u", cases[i].what, got,
			cases[i].period);
	}
}
END_TEST

START_TEST(test_nan)
{
	double d[] = { 60.0, NAN, 60.1, 59.9 };
	ck_assert_uint_eq(mb_idle_period(d, G_N_ELEMENTS(d)), 60);
}
END_TEST

/* A server pushing at random moments gets the hint rarely: under 1% of
 * sessions of 16 pushes over a 10 minute keepalive (fixed seed). */
START_TEST(test_random_rarely)
{
	GRand *r = g_rand_new_with_seed(10);
	unsigned hints = 0;
	for (int session = 0; session < 2000; session++) {
		double d[16];
		for (size_t n = 0; n < G_N_ELEMENTS(d); n++) {
			d[n] = g_rand_double_range(r, 0, 600);
			if (mb_idle_period(d, n + 1)) {
				hints++;
				break;
			}
		}
	}
	g_rand_free(r);
	ck_assert_msg(hints < 20, "%u of 2000 random sessions got the hint", hints);
}
END_TEST

/* And a server on a 60s timer gets it after a few pushes. */
START_TEST(test_timer_soon)
{
	GRand *r = g_rand_new_with_seed(60);
	unsigned pushes = 0, sessions = 500;
	for (unsigned session = 0; session < sessions; session++) {
		double d[16];
		size_t n = 0;
		for (; n < G_N_ELEMENTS(d); n++) {
			d[n] = 60.0 * g_rand_int_range(r, 1, 11) + g_rand_double_range(r, 0, 0.3);
			if (mb_idle_period(d, n + 1))
				break;
		}
		ck_assert_msg(n < G_N_ELEMENTS(d), "session %u: no hint after 16 pushes", session);
		pushes += n + 1;
	}
	g_rand_free(r);
	ck_assert_msg(pushes <= 5 * sessions, "%.1f pushes on average", (double)pushes / sessions);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idle-period");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_nan);
	tcase_add_test(tc, test_random_rarely);
	tcase_add_test(tc, test_timer_soon);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
