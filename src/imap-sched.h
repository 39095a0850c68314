/* What an IMAP session does next, as a pure function of its state: the
 * scheduler behind imap.c's go_idle(). State in, one step and the reason out;
 * no I/O, no clock, no globals, so unit tests drive it as a table and the
 * trace prints each decision ("IDLING -> FETCH (exists 12 > 11)").
 *
 * The steps are the commands a watching session sends between sign-in and
 * LOGOUT: UID FETCH of new mail (RFC 3501 6.4.8), EXAMINE (6.3.2), NOTIFY SET
 * (RFC 5465 3.1), STATUS of the other mailboxes (RFC 3501 6.3.10), NOOP
 * (6.1.2), IDLE (RFC 2177) and waiting to poll. Leaving IDLE for any of them
 * costs no round trip of its own: the caller sends DONE and the step's
 * command in one write (RFC 2177, RFC 9051 5.5). */
#ifndef MB_IMAP_SCHED_H
#define MB_IMAP_SCHED_H

#include <stdbool.h>
#include <stdint.h>

enum mb_imap_step {
	MB_IMAP_STEP_STAY,    /* resting (IDLE or waiting to poll), nothing to do */
	MB_IMAP_STEP_TAKE,    /* act on the new messages the server pushed with
	                       * NOTIFY's MessageNew fetch attributes (RFC 5465
	                       * 5.2), the pushed_ready of them: no command */
	MB_IMAP_STEP_FETCH,   /* UID FETCH last_uid+1:* in the selected mailbox */
	MB_IMAP_STEP_EXAMINE, /* EXAMINE mailbox [out.mailbox] */
	MB_IMAP_STEP_NOTIFY,  /* NOTIFY SET */
	MB_IMAP_STEP_STATUS,  /* STATUS each mailbox but the selected one */
	MB_IMAP_STEP_NOOP,    /* a renewal or probe: NOOP */
	MB_IMAP_STEP_IDLE,    /* IDLE */
	MB_IMAP_STEP_POLL,    /* wait poll_interval, then NOOP */
};

/* The session as the scheduler sees it. Mailbox indexes are those of the
 * session's watched list; [0] is the one kept selected under IDLE. */
struct mb_imap_sched_in {
	bool resting;          /* in IDLE (its "+" came) or waiting to poll */
	bool idling;           /* ... in IDLE: leaving it takes a DONE */
	int selected;          /* index of the selected mailbox, -1: none */
	unsigned n_mailboxes;  /* watched, at least 1 */
	const bool *dirty;     /* [n_mailboxes]: needs EXAMINE and UID FETCH
	                        * (a STATUS or NOTIFY event, sign-in, overflow) */
	const char *const *names; /* [n_mailboxes], UTF-8, for the reason only */
	bool need_fetch;       /* EXISTS grew past what was fetched */
	uint32_t exists;       /* messages in the selected mailbox (EXISTS) */
	uint32_t known;        /* ... of them already fetched */
	uint32_t pushed_ready; /* new messages of the selected mailbox the server
	                        * pushed, with all the attributes a UID FETCH
	                        * would ask for, in a row from known+1 */
	bool pushed_pending;   /* a pushed response is still arriving (the
	                        * parser holds part of it) */
	bool push_recent;      /* a message was pushed a moment ago
	                        * (MB_IMAP_PUSH_GRACE_MS): more of a burst may
	                        * be on its way in the next reads */
	bool notify_wanted;    /* the server has NOTIFY and the session uses it */
	bool notify_set;       /* NOTIFY SET succeeded this session */
	bool status_due;       /* time to STATUS the other mailboxes */
	bool renew;            /* a keepalive renewal or probe is due */
	bool has_idle;         /* IDLE in the capabilities */
	bool idle_refused;     /* the server refused IDLE and the retry is not due */
	bool idle_silent;      /* IDLE does not deliver here (servers.md S10) */
	bool idle_pushed;      /* an EXISTS came during IDLE this session */
	unsigned late_renewals; /* renewals after which mail showed only after DONE */
};

/* How long after the last pushed message the rest of a burst is waited
 * for before the UID FETCH fetches it, milliseconds. A burst that fills
 * many reads keeps the window open; a server that pushes nothing never
 * opens it. */
#define MB_IMAP_PUSH_GRACE_MS 50

/* Renewals that brought mail only after DONE, with none ever pushed during
 * IDLE, before a session calls the server's IDLE silent and polls. */
#define MB_IMAP_LATE_RENEWALS 2

struct mb_imap_sched_out {
	enum mb_imap_step step;
	unsigned mailbox;      /* MB_IMAP_STEP_EXAMINE: which */
	bool now_silent;       /* this decision found IDLE silent: poll from now
	                        * on (the caller logs it and sets idle_silent) */
	char reason[96];       /* why, for the trace: "exists 12 > 11" */
};

/* Decides the session's next step from in (borrowed, unchanged) into out.
 * Order: new mail in the selected mailbox first (taken as pushed when it all
 * came with NOTIFY, else fetched); then mailboxes to bring up to date, the
 * first one last so that it ends up selected; NOTIFY SET; STATUS of the
 * others; a renewal; then rest in IDLE, or poll where IDLE is missing,
 * refused or silent. Never fails. */
void mb_imap_next_step(const struct mb_imap_sched_in *in, struct mb_imap_sched_out *out);

/* The step's name for the trace ("FETCH"); static storage. */
const char *mb_imap_step_name(enum mb_imap_step step);

#endif
