/* The sharing of an account's mailboxes over connections (share.c). */
#include <check.h>
#include <stdlib.h>
#include <glib.h>

#include "share.h"

static const struct {
	const char *what;
	unsigned n, max;
	bool notify;
	unsigned k;
	struct mb_share want[6];
} cases[] = {
	{ "one mailbox", 1, 5, false, 1, { { 0, 1, MB_SHARE_ALONE } } },
	{ "one mailbox with NOTIFY: still one connection", 1, 5, true, 1,
	  { { 0, 1, MB_SHARE_ALONE } } },
	{ "NOTIFY: one connection for all", 4, 5, true, 1, { { 0, 4, MB_SHARE_NOTIFY } } },
	{ "no NOTIFY: one connection each", 3, 5, false, 3,
	  { { 0, 1, MB_SHARE_ALONE }, { 1, 1, MB_SHARE_ALONE }, { 2, 1, MB_SHARE_ALONE } } },
	{ "no NOTIFY, more mailboxes than connections: the last checks the rest", 6, 3, false, 3,
	  { { 0, 1, MB_SHARE_ALONE }, { 1, 1, MB_SHARE_ALONE }, { 2, 4, MB_SHARE_STATUS } } },
	{ "max_connections 1: one connection, STATUS for the rest", 3, 1, false, 1,
	  { { 0, 3, MB_SHARE_STATUS } } },
	{ "max_connections 0 counts as 1", 2, 0, false, 1, { { 0, 2, MB_SHARE_STATUS } } },
	{ "exactly as many", 2, 2, false, 2, { { 0, 1, MB_SHARE_ALONE }, { 1, 1, MB_SHARE_ALONE } } },
};

START_TEST(test_table)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_share out[64];
		unsigned k = mb_share_plan(cases[i].n, cases[i].notify, cases[i].max, out);
		ck_assert_msg(k == cases[i].k, "%s: %u connections", cases[i].what, k);
		for (unsigned j = 0; j < k; j++) {
			ck_assert_msg(out[j].first == cases[i].want[j].first
				&& out[j].count == cases[i].want[j].count
				&& out[j].others == cases[i].want[j].others,
				"%s: connection %u: first %u count %u others %d", cases[i].what, j,
				out[j].first, out[j].count, out[j].others);
		}
	}
}
END_TEST

/* Every name in exactly one share, in order, connection 0 first, for all n
 * and limits. */
START_TEST(test_cover)
{
	for (unsigned n = 1; n <= 60; n++)
		for (unsigned max = 0; max <= 50; max++)
			for (int notify = 0; notify <= 1; notify++) {
				struct mb_share out[64];
				unsigned k = mb_share_plan(n, notify, max, out);
				ck_assert(k >= 1 && k <= (max ? max : 1) && k <= n);
				unsigned next = 0;
				for (unsigned j = 0; j < k; j++) {
					ck_assert_uint_eq(out[j].first, next);
					ck_assert_uint_ge(out[j].count, 1);
					ck_assert(out[j].others
						== mb_share_others_for(out[j].count, notify));
					next += out[j].count;
				}
				ck_assert_uint_eq(next, n);
			}
}
END_TEST

START_TEST(test_others_for)
{
	ck_assert_int_eq(mb_share_others_for(1, true), MB_SHARE_ALONE);
	ck_assert_int_eq(mb_share_others_for(2, true), MB_SHARE_NOTIFY);
	ck_assert_int_eq(mb_share_others_for(2, false), MB_SHARE_STATUS);
	ck_assert_int_eq(mb_share_others_for(0, false), MB_SHARE_ALONE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("share");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_cover);
	tcase_add_test(tc, test_others_for);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
