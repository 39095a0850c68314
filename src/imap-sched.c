#include "imap-sched.h"

#include <stdarg.h>
#include <stdio.h>

#define STEPS(X) X(STAY) X(TAKE) X(FETCH) X(EXAMINE) X(NOTIFY) X(STATUS) X(NOOP) X(IDLE) X(POLL)
#define AS_NAME(s) [MB_IMAP_STEP_##s] = #s,
static const char *const step_names[] = { STEPS(AS_NAME) };

const char *mb_imap_step_name(enum mb_imap_step step)
{
	if ((unsigned)step < sizeof step_names / sizeof step_names[0])
		return step_names[step];
	return "?";
}

static void decide(struct mb_imap_sched_out *out, enum mb_imap_step step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void decide(struct mb_imap_sched_out *out, enum mb_imap_step step, const char *fmt, ...)
{
	out->step = step;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof out->reason, fmt, ap);
	va_end(ap);
}

static const char *name_of(const struct mb_imap_sched_in *in, unsigned i)
{
	return in->names && in->names[i] ? in->names[i] : "?";
}

void mb_imap_next_step(const struct mb_imap_sched_in *in, struct mb_imap_sched_out *out)
{
	out->mailbox = 0;
	out->now_silent = false;
	out->reason[0] = '\0';
	unsigned n = in->n_mailboxes ? in->n_mailboxes : 1;

	/* New mail where we are: the reason the session exists. */
	if (in->need_fetch && in->selected >= 0) {
		uint32_t fresh = in->exists > in->known ? in->exists - in->known : 0;
		if (in->pushed_ready > 0 && in->pushed_ready >= fresh) {
			decide(out, MB_IMAP_STEP_TAKE, "pushed %u new", in->pushed_ready);
			return;
		}
		if (in->pushed_ready > 0) {
			/* a burst pushed over several reads: act on what came,
			 * the rest follows */
			decide(out, MB_IMAP_STEP_TAKE, "pushed %u of %u new", in->pushed_ready, fresh);
			return;
		}
		if (in->resting && in->pushed_pending) {
			/* the rest of a pushed FETCH is on its way: leaving IDLE
			 * now would cost the round trip it saves */
			decide(out, MB_IMAP_STEP_STAY, "pushed FETCH still arriving");
			return;
		}
		if (in->resting && in->push_recent) {
			decide(out, MB_IMAP_STEP_STAY, "rest of the push expected");
			return;
		}
		if (in->exists > in->known)
			decide(out, MB_IMAP_STEP_FETCH, "exists %u > %u", in->exists, in->known);
		else
			decide(out, MB_IMAP_STEP_FETCH, "EXISTS %u", in->exists);
		return;
	}

	/* Mailboxes to bring up to date: every other one first, the first
	 * (IDLE) one last so it stays selected. */
	for (unsigned k = 1; k <= n; k++) {
		unsigned i = k % n;
		if (in->dirty && in->dirty[i]) {
			out->mailbox = i;
			decide(out, MB_IMAP_STEP_EXAMINE, "%s to sync", name_of(in, i));
			return;
		}
	}
	if (in->selected != 0) {
		out->mailbox = 0;
		decide(out, MB_IMAP_STEP_EXAMINE, in->selected < 0 ? "select %s" : "back to %s",
			name_of(in, 0));
		return;
	}

	if (in->notify_wanted && !in->notify_set) {
		decide(out, MB_IMAP_STEP_NOTIFY, "NOTIFY not set");
		return;
	}
	if (in->status_due && n > 1) {
		decide(out, MB_IMAP_STEP_STATUS, "%u other mailbox%s due", n - 1, n > 2 ? "es" : "");
		return;
	}
	if (in->renew) {
		decide(out, MB_IMAP_STEP_NOOP, "renewal");
		return;
	}
	if (in->resting) {
		decide(out, MB_IMAP_STEP_STAY, "nothing to do");
		return;
	}

	bool silent = in->idle_silent;
	if (!silent && !in->idle_pushed && in->late_renewals >= MB_IMAP_LATE_RENEWALS) {
		silent = true;
		out->now_silent = true;
	}
	if (!in->has_idle)
		decide(out, MB_IMAP_STEP_POLL, "no IDLE");
	else if (silent)
		decide(out, MB_IMAP_STEP_POLL, "IDLE does not deliver");
	else if (in->idle_refused)
		decide(out, MB_IMAP_STEP_POLL, "IDLE refused");
	else
		decide(out, MB_IMAP_STEP_IDLE, "up to date");
}
