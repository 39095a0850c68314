/* The session scheduler (imap-sched.c) as a table: session state in, the
 * step, its mailbox and its reason out. Row fields left out are zero: one
 * mailbox (INBOX), selected, IDLE offered, nothing to do. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "imap-sched.h"

#define MAX_MB 4

struct row {
	const char *what;
	/* the input; selected is stored +1 so that 0 means "INBOX" */
	bool resting, idling;
	int selected_plus1_or_0; /* 0: [0] selected; -1: none; k: [k-1] */
	unsigned n;
	unsigned dirty;          /* bit i: mailbox i */
	bool need_fetch;
	uint32_t exists, known;
	uint32_t pushed_ready;
	bool pushed_pending, push_recent;
	bool notify_wanted, notify_set, status_due, renew;
	bool no_idle, idle_refused, idle_silent, idle_pushed;
	unsigned late;
	/* what must come out */
	enum mb_imap_step step;
	unsigned mailbox;
	bool now_silent;
	const char *reason;      /* exact */
};

#define IDLE_NOW .resting = true, .idling = true

static const struct row rows[] = {
	/* sign-in */
	{ "first EXAMINE after sign-in", .selected_plus1_or_0 = -1, .dirty = 1,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 0, .reason = "INBOX to sync" },
	{ "the others before the first, so the first stays selected", .selected_plus1_or_0 = -1,
	  .n = 3, .dirty = 7, .step = MB_IMAP_STEP_EXAMINE, .mailbox = 1, .reason = "Lists to sync" },
	{ "then the next other", .selected_plus1_or_0 = 2, .n = 3, .dirty = 5,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 2, .reason = "Archive to sync" },
	{ "then the first", .selected_plus1_or_0 = 3, .n = 3, .dirty = 1,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 0, .reason = "INBOX to sync" },
	{ "back to the first after another was fetched", .selected_plus1_or_0 = 2, .n = 2,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 0, .reason = "back to INBOX" },
	{ "nothing selected, nothing dirty: select the first", .selected_plus1_or_0 = -1,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 0, .reason = "select INBOX" },
	{ "NOTIFY SET once synced", .notify_wanted = true, .n = 2,
	  .step = MB_IMAP_STEP_NOTIFY, .reason = "NOTIFY not set" },
	{ "then STATUS of the others as the changed event's baseline", .notify_wanted = true,
	  .notify_set = true, .n = 3, .status_due = true,
	  .step = MB_IMAP_STEP_STATUS, .reason = "2 other mailboxes due" },
	{ "one other mailbox", .n = 2, .status_due = true,
	  .step = MB_IMAP_STEP_STATUS, .reason = "1 other mailbox due" },
	{ "STATUS due with one mailbox means nothing", .status_due = true,
	  .step = MB_IMAP_STEP_IDLE, .reason = "up to date" },
	{ "up to date: IDLE", .notify_wanted = true, .notify_set = true,
	  .step = MB_IMAP_STEP_IDLE, .reason = "up to date" },

	/* new mail */
	{ "EXISTS in IDLE, nothing pushed: UID FETCH (DONE in the same write)", IDLE_NOW,
	  .need_fetch = true, .exists = 12, .known = 11,
	  .step = MB_IMAP_STEP_FETCH, .reason = "exists 12 > 11" },
	{ "EXISTS with every new message pushed: taken, no command", IDLE_NOW,
	  .need_fetch = true, .exists = 14, .known = 11, .pushed_ready = 3,
	  .step = MB_IMAP_STEP_TAKE, .reason = "pushed 3 new" },
	{ "a burst over several reads: take what came", IDLE_NOW, .need_fetch = true,
	  .exists = 20, .known = 0, .pushed_ready = 6,
	  .step = MB_IMAP_STEP_TAKE, .reason = "pushed 6 of 20 new" },
	{ "then wait for the rest while pushes keep coming", IDLE_NOW, .need_fetch = true,
	  .exists = 20, .known = 6, .push_recent = true,
	  .step = MB_IMAP_STEP_STAY, .reason = "rest of the push expected" },
	{ "the grace over and the rest not pushed: UID FETCH it", IDLE_NOW, .need_fetch = true,
	  .exists = 20, .known = 6, .step = MB_IMAP_STEP_FETCH, .reason = "exists 20 > 6" },
	{ "a recent push is no reason to wait after a command", .need_fetch = true,
	  .exists = 20, .known = 6, .push_recent = true,
	  .step = MB_IMAP_STEP_FETCH, .reason = "exists 20 > 6" },
	{ "the pushed FETCH still arriving: wait in IDLE", IDLE_NOW,
	  .need_fetch = true, .exists = 12, .known = 11, .pushed_pending = true,
	  .step = MB_IMAP_STEP_STAY, .reason = "pushed FETCH still arriving" },
	{ "a partial response after a command is no reason to wait", .need_fetch = true,
	  .exists = 12, .known = 11, .pushed_pending = true,
	  .step = MB_IMAP_STEP_FETCH, .reason = "exists 12 > 11" },
	{ "pushed and complete after a command (NOOP): taken", .need_fetch = true,
	  .exists = 12, .known = 11, .pushed_ready = 1,
	  .step = MB_IMAP_STEP_TAKE, .reason = "pushed 1 new" },
	{ "EXISTS that did not grow: fetch anyway (R11 keeps it harmless)", IDLE_NOW,
	  .need_fetch = true, .exists = 11, .known = 11,
	  .step = MB_IMAP_STEP_FETCH, .reason = "EXISTS 11" },
	{ "EXISTS while polling", .resting = true, .need_fetch = true, .exists = 2, .known = 1,
	  .no_idle = true, .step = MB_IMAP_STEP_FETCH, .reason = "exists 2 > 1" },
	{ "need_fetch with nothing selected: EXAMINE first", .selected_plus1_or_0 = -1,
	  .need_fetch = true, .dirty = 1, .exists = 3,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 0, .reason = "INBOX to sync" },

	/* precedence */
	{ "new mail here before another mailbox's event", IDLE_NOW, .n = 2, .dirty = 2,
	  .need_fetch = true, .exists = 5, .known = 4,
	  .step = MB_IMAP_STEP_FETCH, .reason = "exists 5 > 4" },
	{ "a NOTIFY STATUS event in IDLE: EXAMINE it", IDLE_NOW, .n = 2, .dirty = 2,
	  .notify_wanted = true, .notify_set = true,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 1, .reason = "Lists to sync" },
	{ "dirty before NOTIFY SET", .n = 2, .dirty = 2, .notify_wanted = true,
	  .step = MB_IMAP_STEP_EXAMINE, .mailbox = 1, .reason = "Lists to sync" },
	{ "NOTIFY SET again (overflow) before STATUS", IDLE_NOW, .n = 2, .notify_wanted = true,
	  .status_due = true, .step = MB_IMAP_STEP_NOTIFY, .reason = "NOTIFY not set" },
	{ "STATUS (the keepalive of many mailboxes) before a renewal", IDLE_NOW, .n = 2,
	  .status_due = true, .renew = true,
	  .step = MB_IMAP_STEP_STATUS, .reason = "1 other mailbox due" },
	{ "keepalive of one mailbox: NOOP", IDLE_NOW, .renew = true,
	  .step = MB_IMAP_STEP_NOOP, .reason = "renewal" },
	{ "a renewal after a command", .renew = true,
	  .step = MB_IMAP_STEP_NOOP, .reason = "renewal" },
	{ "in IDLE with nothing to do: stay", IDLE_NOW,
	  .step = MB_IMAP_STEP_STAY, .reason = "nothing to do" },
	{ "waiting to poll with nothing to do: stay", .resting = true, .no_idle = true,
	  .step = MB_IMAP_STEP_STAY, .reason = "nothing to do" },

	/* IDLE or polling */
	{ "no IDLE capability", .no_idle = true, .step = MB_IMAP_STEP_POLL, .reason = "no IDLE" },
	{ "IDLE refused, retry not due", .idle_refused = true,
	  .step = MB_IMAP_STEP_POLL, .reason = "IDLE refused" },
	{ "IDLE known silent", .idle_silent = true,
	  .step = MB_IMAP_STEP_POLL, .reason = "IDLE does not deliver" },
	{ "two late renewals, never a push: silent from now on", .late = 2,
	  .step = MB_IMAP_STEP_POLL, .now_silent = true, .reason = "IDLE does not deliver" },
	{ "one late renewal is not enough", .late = 1,
	  .step = MB_IMAP_STEP_IDLE, .reason = "up to date" },
	{ "late renewals do not count once IDLE pushed", .late = 5, .idle_pushed = true,
	  .step = MB_IMAP_STEP_IDLE, .reason = "up to date" },
	{ "the switch waits for the end of IDLE", IDLE_NOW, .late = 2,
	  .step = MB_IMAP_STEP_STAY, .reason = "nothing to do" },
	{ "no IDLE and silent: said once, as no IDLE", .no_idle = true, .late = 2,
	  .step = MB_IMAP_STEP_POLL, .now_silent = true, .reason = "no IDLE" },
};

static const char *const names[MAX_MB] = { "INBOX", "Lists", "Archive", "Sent" };

static void input_of(const struct row *r, struct mb_imap_sched_in *in, bool *dirty)
{
	unsigned n = r->n ? r->n : 1;
	for (unsigned i = 0; i < MAX_MB; i++)
		dirty[i] = (r->dirty >> i) & 1;
	*in = (struct mb_imap_sched_in){
		.resting = r->resting,
		.idling = r->idling,
		.selected = r->selected_plus1_or_0 == 0 ? 0
			: r->selected_plus1_or_0 < 0 ? -1 : r->selected_plus1_or_0 - 1,
		.n_mailboxes = n,
		.dirty = dirty,
		.names = names,
		.need_fetch = r->need_fetch,
		.exists = r->exists,
		.known = r->known,
		.pushed_ready = r->pushed_ready,
		.pushed_pending = r->pushed_pending,
		.push_recent = r->push_recent,
		.notify_wanted = r->notify_wanted,
		.notify_set = r->notify_set,
		.status_due = r->status_due,
		.renew = r->renew,
		.has_idle = !r->no_idle,
		.idle_refused = r->idle_refused,
		.idle_silent = r->idle_silent,
		.idle_pushed = r->idle_pushed,
		.late_renewals = r->late,
	};
}

START_TEST(test_table)
{
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		const struct row *r = &rows[i];
		bool dirty[MAX_MB];
		struct mb_imap_sched_in in;
		input_of(r, &in, dirty);
		struct mb_imap_sched_out out;
		memset(&out, 0xa5, sizeof out);
		mb_imap_next_step(&in, &out);
		ck_assert_msg(out.step == r->step, "%s: step %s, want %s", r->what,
			mb_imap_step_name(out.step), mb_imap_step_name(r->step));
		if (r->step == MB_IMAP_STEP_EXAMINE)
			ck_assert_msg(out.mailbox == r->mailbox, "%s: mailbox %u, want %u", r->what,
				out.mailbox, r->mailbox);
		ck_assert_msg(out.now_silent == r->now_silent, "%s: now_silent %d", r->what,
			out.now_silent);
		ck_assert_msg(strcmp(out.reason, r->reason) == 0, "%s: reason \"%s\", want \"%s\"",
			r->what, out.reason, r->reason);
	}
}
END_TEST

/* Pure: the input is not changed, and the same input gives the same step. */
START_TEST(test_pure)
{
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		bool dirty[MAX_MB];
		struct mb_imap_sched_in in, copy;
		input_of(&rows[i], &in, dirty);
		copy = in;
		bool dirty_copy[MAX_MB];
		memcpy(dirty_copy, dirty, sizeof dirty);
		struct mb_imap_sched_out a, b;
		mb_imap_next_step(&in, &a);
		mb_imap_next_step(&in, &b);
		ck_assert(memcmp(&in, &copy, sizeof in) == 0);
		ck_assert(memcmp(dirty, dirty_copy, sizeof dirty) == 0);
		ck_assert(a.step == b.step && a.mailbox == b.mailbox && strcmp(a.reason, b.reason) == 0);
	}
}
END_TEST

/* Whatever the flags, a session never sits resting with new mail it could
 * fetch, and never sends a command while resting unless there is a reason. */
START_TEST(test_exhaustive_invariants)
{
	bool dirty[2] = { false, false };
	for (unsigned bits = 0; bits < (1u << 13); bits++) {
		struct mb_imap_sched_in in = {
			.resting = bits & 1,
			.idling = (bits & 1) && (bits & 2),
			.selected = 0,
			.n_mailboxes = 2,
			.dirty = dirty,
			.names = names,
			.need_fetch = bits & 4,
			.exists = 7,
			.known = 6,
			.pushed_ready = bits & 8 ? 1 : 0,
			.pushed_pending = bits & 16,
			.push_recent = bits & 4096,
			.notify_wanted = bits & 32,
			.notify_set = bits & 64,
			.status_due = bits & 128,
			.renew = bits & 256,
			.has_idle = bits & 512,
			.idle_refused = bits & 1024,
			.idle_silent = bits & 2048,
		};
		struct mb_imap_sched_out out;
		mb_imap_next_step(&in, &out);
		ck_assert_msg(out.reason[0] != '\0', "bits %#x: no reason", bits);
		if (in.need_fetch)
			ck_assert_msg(out.step == MB_IMAP_STEP_FETCH || out.step == MB_IMAP_STEP_TAKE
				|| (out.step == MB_IMAP_STEP_STAY && in.resting
					&& (in.pushed_pending || in.push_recent)),
				"bits %#x: new mail left: %s", bits, mb_imap_step_name(out.step));
		if (out.step == MB_IMAP_STEP_IDLE)
			ck_assert_msg(in.has_idle && !in.idle_refused && !in.idle_silent && !in.resting,
				"bits %#x: IDLE", bits);
		if (out.step == MB_IMAP_STEP_STAY)
			ck_assert_msg(in.resting, "bits %#x: stays while a command is expected", bits);
		if (in.resting && !in.need_fetch && !(in.notify_wanted && !in.notify_set)
		    && !in.status_due && !in.renew)
			ck_assert_msg(out.step == MB_IMAP_STEP_STAY, "bits %#x: %s while resting", bits,
				mb_imap_step_name(out.step));
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(mb_imap_step_name(MB_IMAP_STEP_FETCH), "FETCH");
	ck_assert_str_eq(mb_imap_step_name(MB_IMAP_STEP_TAKE), "TAKE");
	ck_assert_str_eq(mb_imap_step_name(MB_IMAP_STEP_POLL), "POLL");
	ck_assert_str_eq(mb_imap_step_name((enum mb_imap_step)99), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap-sched");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_pure);
	tcase_add_test(tc, test_exhaustive_invariants);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
