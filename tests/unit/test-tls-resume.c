/* Tests of tls-resume.c, the pool that decides which TLS handshake starts
 * now, with which ticket, and which waits. Tickets are small integers here;
 * waiters are addresses in an array. The rules of tls-resume.h, one test
 * each: the probe, tickets handed to waiters oldest first and newest ticket
 * first, each ticket once, `parallel` full handshakes once tickets are known
 * to come, no waiting for a server without tickets (and after a run of
 * handshakes without), expired tickets never offered, the pool's bound, the
 * longest wait, cancelling, and go() never called from inside a call. No
 * timing is asserted beyond "not before max_wait_ms". */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "tls-resume.h"

#define NW 64

static int waiters[NW];         /* their addresses are the waiters */
static int went[NW];            /* per waiter: 0 not yet, else ticket + 1 (1: full) */
static int gone_count;
static int freed[1024];         /* per ticket: times freed */
static bool inside;             /* a call into the pool is under way */
static struct mb_resume *pool;
static bool settle_in_go;       /* go() settles at once (a handshake that fails at once) */

static void *ticket(int n)
{
	return GINT_TO_POINTER(n);
}

static int index_of(void *waiter)
{
	return (int)((int *)waiter - waiters);
}

static void on_go(void *waiter, void *t)
{
	ck_assert(!inside);
	int i = index_of(waiter);
	ck_assert_int_eq(went[i], 0); /* once */
	went[i] = t ? GPOINTER_TO_INT(t) + 1 : 1;
	gone_count++;
	if (settle_in_go)
		mb_resume_settled(pool, false, false, false);
}

static void on_free(void *t)
{
	freed[GPOINTER_TO_INT(t)]++;
}

static void setup(unsigned parallel, unsigned max_wait_ms, unsigned keep)
{
	memset(went, 0, sizeof went);
	memset(freed, 0, sizeof freed);
	gone_count = 0;
	settle_in_go = false;
	pool = mb_resume_new(parallel, max_wait_ms, keep, on_go, on_free);
}

/* begin for waiter i: 0 queued, else what it starts with (1 full, n+1 ticket n) */
static int begin(int i)
{
	void *t = NULL;
	inside = true;
	bool now = mb_resume_begin(pool, &waiters[i], &t);
	inside = false;
	if (!now) {
		ck_assert_ptr_null(t);
		return 0;
	}
	return t ? GPOINTER_TO_INT(t) + 1 : 1;
}

static void give(int n, gint64 expires)
{
	inside = true;
	mb_resume_ticket(pool, ticket(n), expires);
	inside = false;
}

static void settle_offered(bool brought, bool offered, bool resumed)
{
	inside = true;
	mb_resume_settled(pool, brought, offered, resumed);
	inside = false;
}

static void settle(bool brought)
{
	settle_offered(brought, false, false);
}

/* Runs the loop until nothing more is ready. */
static void drain(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static gint64 later(void)
{
	return g_get_real_time() + (gint64)3600 * G_USEC_PER_SEC;
}

START_TEST(test_probe_then_tickets)
{
	setup(2, 60000, 16);
	ck_assert_int_eq(begin(0), 1);          /* the probe: a full handshake */
	ck_assert_int_eq(begin(1), 0);          /* the others wait for it */
	ck_assert_int_eq(begin(2), 0);
	ck_assert_int_eq(begin(3), 0);
	ck_assert_uint_eq(mb_resume_waiting(pool), 3);
	give(10, later());
	give(11, later());
	ck_assert_int_eq(gone_count, 0);        /* never from inside a call */
	drain();
	/* oldest waiter first, newest ticket first; 3 has none and 3 are in
	 * flight, above parallel 2 */
	ck_assert_int_eq(went[1], 12);
	ck_assert_int_eq(went[2], 11);
	ck_assert_int_eq(went[3], 0);
	ck_assert_uint_eq(mb_resume_in_flight(pool), 3);
	settle(true);                           /* the probe settles */
	drain();
	ck_assert_int_eq(went[3], 0);           /* 2 in flight = parallel */
	settle(true);
	drain();
	ck_assert_int_eq(went[3], 1);           /* below parallel: a full handshake */
	ck_assert_uint_eq(mb_resume_waiting(pool), 0);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_ticket_used_once)
{
	setup(4, 60000, 16);
	give(5, later());
	ck_assert_int_eq(begin(0), 6);
	ck_assert_uint_eq(mb_resume_tickets(pool), 0);
	ck_assert_int_eq(begin(1), 1);          /* tickets are known to come: full, parallel 4 */
	ck_assert_int_eq(freed[5], 0);          /* handed over, not freed */
	mb_resume_free(pool);
	ck_assert_int_eq(freed[5], 0);
}
END_TEST

START_TEST(test_server_without_tickets)
{
	setup(2, 60000, 16);
	ck_assert_int_eq(begin(0), 1);
	for (int i = 1; i < 10; i++)
		ck_assert_int_eq(begin(i), 0);
	settle(false);                          /* the probe brought none */
	drain();
	for (int i = 1; i < 10; i++)
		ck_assert_int_eq(went[i], 1);   /* all at once, full */
	ck_assert_int_eq(begin(10), 1);         /* and nobody waits any more */
	ck_assert_int_eq(begin(11), 1);
	/* a ticket after all: back to the rules for a server with tickets */
	give(3, later());
	ck_assert_int_eq(begin(12), 4);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_tickets_stop_coming)
{
	setup(2, 60000, 16);
	give(1, later());
	ck_assert_int_eq(begin(0), 2);
	ck_assert_int_eq(begin(1), 1);
	ck_assert_int_eq(begin(2), 0);          /* 2 in flight */
	settle(false);
	drain();
	ck_assert_int_eq(went[2], 1);
	ck_assert_int_eq(begin(3), 0);
	settle(false);                          /* the second in a row without: parallel 2 */
	drain();
	ck_assert_int_eq(went[3], 1);
	ck_assert_int_eq(begin(4), 1);          /* no more waiting */
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_tickets_refused)
{
	/* every process of the server has its own ticket key: tickets come
	 * and are refused; after `parallel` refusals (full handshakes that
	 * offered none in between do not count either way) nobody waits,
	 * though tickets are still handed out; one taken back restores waiting */
	setup(2, 60000, 16);
	give(1, later());
	give(2, later());
	ck_assert_int_eq(begin(0), 3);
	ck_assert_int_eq(begin(1), 2);
	ck_assert_int_eq(begin(2), 0);          /* 2 in flight */
	settle_offered(true, true, false);      /* refused, a new session's ticket */
	drain();
	ck_assert_int_eq(went[2], 1);
	settle_offered(true, false, false);     /* a full handshake, offered none */
	ck_assert_int_eq(begin(3), 1);
	ck_assert_int_eq(begin(4), 0);
	settle_offered(true, true, false);      /* the second refusal */
	drain();
	ck_assert_int_eq(went[4], 1);
	ck_assert_int_eq(begin(5), 1);          /* nobody waits */
	ck_assert_int_eq(begin(6), 1);
	give(9, later());                       /* a new ticket does not undo it */
	ck_assert_int_eq(begin(7), 10);         /* still offered */
	ck_assert_int_eq(begin(8), 1);
	settle_offered(true, true, true);       /* taken back: waiting is worth it again */
	ck_assert_int_eq(begin(9), 0);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_expired_never_offered)
{
	setup(1, 60000, 16);
	give(7, g_get_real_time() - 1);
	give(8, later());
	give(9, g_get_real_time() - 1);
	ck_assert_int_eq(begin(0), 9);          /* 9 expired (dropped), 8 taken */
	ck_assert_int_eq(freed[9], 1);
	ck_assert_int_eq(begin(1), 0);          /* 7 expired too; parallel 1 in flight */
	ck_assert_int_eq(freed[7], 1);
	ck_assert_uint_eq(mb_resume_tickets(pool), 0);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_bounded_pool)
{
	setup(1, 60000, 3);
	for (int n = 1; n <= 5; n++)
		give(n, later());
	ck_assert_uint_eq(mb_resume_tickets(pool), 3);
	ck_assert_int_eq(freed[1], 1);          /* the oldest go */
	ck_assert_int_eq(freed[2], 1);
	ck_assert_int_eq(begin(0), 6);          /* the newest first */
	mb_resume_free(pool);
	ck_assert_int_eq(freed[3], 1);
	ck_assert_int_eq(freed[4], 1);
	ck_assert_int_eq(freed[5], 0);
}
END_TEST

START_TEST(test_longest_wait)
{
	setup(1, 200, 16);
	ck_assert_int_eq(begin(0), 1);
	gint64 start = g_get_monotonic_time();
	ck_assert_int_eq(begin(1), 0);
	while (went[1] == 0)
		g_main_context_iteration(NULL, TRUE);
	ck_assert_int_eq(went[1], 1);           /* no ticket came: full, after the wait */
	ck_assert(g_get_monotonic_time() - start >= 200 * 1000);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_cancel)
{
	setup(1, 60000, 16);
	ck_assert_int_eq(begin(0), 1);
	ck_assert_int_eq(begin(1), 0);
	ck_assert_int_eq(begin(2), 0);
	inside = true;
	mb_resume_cancel(pool, &waiters[1]);
	mb_resume_cancel(pool, &waiters[9]);    /* not queued: ignored */
	inside = false;
	give(4, later());
	drain();
	ck_assert_int_eq(went[1], 0);
	ck_assert_int_eq(went[2], 5);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_settle_inside_go)
{
	/* a handshake that fails inside go() settles at once: the others
	 * still get their turn, each once */
	setup(1, 60000, 16);
	ck_assert_int_eq(begin(0), 1);
	for (int i = 1; i < 6; i++)
		ck_assert_int_eq(begin(i), 0);
	settle_in_go = true;
	settle(false);                          /* no tickets: everybody goes */
	drain();
	for (int i = 1; i < 6; i++)
		ck_assert_int_eq(went[i], 1);
	ck_assert_uint_eq(mb_resume_in_flight(pool), 0);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_abandoned_teaches_nothing)
{
	/* the probe closed by its owner (or failed) before the server's first
	 * data: the next waiter probes in its place; the server is not taken
	 * for one without tickets */
	setup(2, 60000, 16);
	ck_assert_int_eq(begin(0), 1);
	ck_assert_int_eq(begin(1), 0);
	ck_assert_int_eq(begin(2), 0);
	inside = true;
	mb_resume_abandoned(pool);
	inside = false;
	drain();
	ck_assert_int_eq(went[1], 1);           /* the new probe */
	ck_assert_int_eq(went[2], 0);           /* still one at a time */
	ck_assert_uint_eq(mb_resume_in_flight(pool), 1);
	give(3, later());
	drain();
	ck_assert_int_eq(went[2], 4);
	mb_resume_free(pool);
}
END_TEST

START_TEST(test_free_with_waiters)
{
	setup(1, 100, 16);
	ck_assert_int_eq(begin(0), 1);
	ck_assert_int_eq(begin(1), 0);
	give(2, later());
	mb_resume_free(pool);                   /* its pump goes with it */
	g_usleep(150 * 1000);
	drain();
	ck_assert_int_eq(went[1], 0);
	ck_assert_int_eq(freed[2], 1);
}
END_TEST

static Suite *resume_suite(void)
{
	Suite *s = suite_create("tls-resume");
	TCase *tc = tcase_create("pool");
	tcase_add_test(tc, test_probe_then_tickets);
	tcase_add_test(tc, test_ticket_used_once);
	tcase_add_test(tc, test_server_without_tickets);
	tcase_add_test(tc, test_tickets_stop_coming);
	tcase_add_test(tc, test_tickets_refused);
	tcase_add_test(tc, test_expired_never_offered);
	tcase_add_test(tc, test_bounded_pool);
	tcase_add_test(tc, test_longest_wait);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_settle_inside_go);
	tcase_add_test(tc, test_abandoned_teaches_nothing);
	tcase_add_test(tc, test_free_with_waiters);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(resume_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
