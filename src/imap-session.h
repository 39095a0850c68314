/* What imap.c and imap-auth.c share of an IMAP session: the session and
 * command structures, the state table, and the helpers of imap.c that
 * sign-in calls back. Private to those two files: not installed, included
 * by nothing else (the rest of the program sees imap.h only).
 *
 * The helpers keep the short names they had as static functions in imap.c
 * (so its other code did not change) and are G_GNUC_INTERNAL; the sign-in
 * entry points are in imap-auth.h, prefixed mb_imap_auth_. */
#ifndef MB_IMAP_SESSION_H
#define MB_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "imap.h"
#include "imap-parser.h"

/* Push delays kept for the fixed-period hint (servers.md S5, S7). */
#define PUSH_DELAYS_MAX 16

#define STATES(X) \
	X(CONNECTING) \
	X(GREETING) \
	X(CAPABILITY) \
	X(STARTTLS) \
	X(TLS_HANDSHAKE) \
	X(AUTHENTICATE) \
	X(POSTAUTH_CAPABILITY) \
	X(LIST) \
	X(EXAMINE) \
	X(BASELINE) \
	X(FETCH) \
	X(FETCH_BODY) \
	X(IDLE_START) \
	X(IDLING) \
	X(IDLE_DONE) \
	X(NOOP) \
	X(STATUS) \
	X(NOTIFY) \
	X(POLL_WAIT) \
	X(LOGOUT) \
	X(CLOSED)

#define AS_ENUM(s) S_##s,
#define AS_NAME(s) #s,
enum state { STATES(AS_ENUM) };

enum cmd_kind {
	CMD_CAPABILITY,
	CMD_STARTTLS,
	CMD_AUTHENTICATE,
	CMD_LOGIN,
	CMD_ID,
	CMD_ENABLE,
	CMD_LIST,
	CMD_EXAMINE,
	CMD_BASELINE,
	CMD_FETCH,
	CMD_FETCH_BODY,
	CMD_TASK_FETCH,
	CMD_TASK_STORE,
	CMD_IDLE,
	CMD_NOOP,
	CMD_STATUS,
	CMD_NOTIFY,
	CMD_LOGOUT,
};

enum auth_mech {
	MECH_NONE,
	MECH_PLAIN,
	MECH_LOGIN,
	MECH_XOAUTH2,
	MECH_OAUTHBEARER,
};

struct cmd {
	char tag[16];
	enum cmd_kind kind;
	/* Literal parts still to send, each after a continuation (RFC 3501
	 * 7.5); the parts hold secrets when kind is CMD_LOGIN. */
	GQueue parts;
	/* AUTHENTICATE: the initial response not yet sent (no SASL-IR). */
	char *sasl_response;
	bool sasl_error_answered;
};

struct mbox;

struct mb_imap_session {
	int refs;
	bool destroyed;
	char *name;
	const struct mb_account_config *account;
	char **patterns;         /* configured names, maybe with wildcards */
	char *secret;
	unsigned timeout, keepalive, poll_interval;
	struct mb_imap_events ev;
	void *data;

	enum state state;
	struct mb_net *net;
	struct mb_imap_parser *parser;
	unsigned next_tag;
	GQueue cmds;             /* struct cmd *, oldest first */
	GPtrArray *caps;         /* upper-cased capability names */
	bool authenticated;
	enum auth_mech mech;

	/* mailboxes */
	guint list_index;        /* next pattern to LIST */
	GPtrArray *listed;       /* names LIST returned (UTF-8) */
	GPtrArray *mboxes;       /* struct mbox *; [0] is where we IDLE */
	struct mbox *cur;        /* the EXAMINEd mailbox, or NULL */
	struct mbox *examining;  /* target of the EXAMINE under way */
	guint status_index;      /* next mailbox to ask STATUS of */
	struct mbox *status_asked; /* target of the STATUS under way */
	bool use_notify;         /* NOTIFY (RFC 5465) in use: for the selected
	                          * mailbox's new messages (see send_notify()) */
	bool notify_others;      /* ... and watching mboxes[1..] (the
	                          * assignment's MB_SHARE_NOTIFY) */
	bool notify_set;
	bool notify_failed;      /* a STATUS check found mail NOTIFY never
	                          * reported: poll as without NOTIFY */
	bool status_due;         /* time to STATUS-poll mboxes[1..] */
	bool status_verify;      /* this STATUS round checks NOTIFY's word */
	uint32_t uidvalidity;    /* of cur, from EXAMINE */
	uint32_t uidnext;        /* of cur, from EXAMINE, 0 if not sent (R13) */
	uint32_t exists;
	uint64_t highestmodseq;  /* of cur, from EXAMINE with CONDSTORE */
	uint32_t baseline_uid;
	bool rebaselined;
	bool need_fetch;         /* EXISTS seen since the last fetch of cur */
	bool fetch_ahead;        /* a UID FETCH went out right behind the
	                          * EXAMINE under way (see send_examine()) */
	bool fetch_void;         /* the UID FETCH under way is not to be used:
	                          * its EXAMINE failed or found a new UIDVALIDITY */
	uint32_t known;          /* messages of cur (by sequence number, 1..known)
	                          * that are fetched or were there before */
	uint32_t fetch_max_seq;  /* highest sequence number the running UID
	                          * FETCH returned */
	/* NOTIFY SET asked for the new messages of the selected mailbox with
	 * their fetch attributes (RFC 5465 5.2), as the UID FETCH would: then
	 * new mail costs no round trip (STEP_TAKE) */
	bool notify_fetch;
	bool notify_fetch_refused; /* the server refused that: plain events */
	bool notify_header, notify_preview; /* what that fetch-att held */
	GPtrArray *pushed;       /* struct pushed *, by arrival */
	guint kick;              /* idle source: decide once the input is read */
	gint64 last_push;        /* monotonic µs of the last pushed message */
	bool push_distrust;      /* the server contradicted its own pushes: take
	                          * none until a UID FETCH has run */
	guint grace;             /* timeout: the rest of a push did not come */
	char why[96];            /* the scheduler's reason, for the next state
	                          * change's trace line */
	enum state why_from;     /* the state the decision was made in */
	bool renew;              /* keepalive: NOOP before the next IDLE */
	bool probing;
	GPtrArray *fetched;      /* struct mb_imap_fetch * of the running fetch */
	unsigned body_cmds;      /* UID FETCH ... BODY.PEEK[] still running */
	bool want_header, want_preview;
	char *task_mailbox;      /* one-shot task (params.task_uid), else NULL */
	uint32_t task_uid;
	struct mb_imap_fetch *task_result;
	bool task_check;         /* params.task_check: LIST "" "*", report, LOGOUT */
	GArray *task_store;      /* params.task_store_uids: SELECT, UID STORE */
	uint32_t task_uidvalidity;
	/* Messages fetched in this session of the selected mailbox, by
	 * sequence number, so flag updates and EXPUNGEs (which name sequence
	 * numbers) can be told apart: the most recent TRACK_MAX. */
	GArray *tracked;         /* struct tracked, in fetch order */
	char delimiter;          /* hierarchy delimiter LIST reported, for the check */

	bool idle_refused;
	gint64 idle_retry_at;    /* monotonic microseconds */
	bool announced;          /* "idling on" logged */
	bool polling_told;       /* "polling" logged: once per session */
	/* Does IDLE deliver? (servers.md S10, S5) */
	bool idle_silent;        /* no: poll instead */
	bool idle_pushed;        /* yes: EXISTS came during IDLE at least once */
	bool left_idle;          /* DONE sent, no fetch since: an EXISTS now was
	                          * held back during the IDLE */
	unsigned late_renewals;  /* IDLEs whose mail showed only after DONE */
	gint64 idle_since;       /* monotonic µs of the last "+" to IDLE */
	double push_delays[PUSH_DELAYS_MAX]; /* seconds from "+" to EXISTS */
	size_t n_push_delays;
	bool period_told;        /* the fixed-period hint was logged */

	struct mb_timer *deadline; /* the running command's (boottimer.h) */
	struct mb_timer *timer;  /* keepalive or poll, on CLOCK_BOOTTIME: one
	                          * due during a suspend fires at resume */
};

/* The helpers of imap.c, in imap.c's words. */

/* Moves the session to state to, traced "A -> B" at debug level. */
G_GNUC_INTERNAL void set_state(struct mb_imap_session *s, enum state to);

/* Closes the connection and reports how and why (fmt, printf-style) to the
 * closed event, once; a no-op on a session already closed or destroyed.
 * The session may be gone from the caller's point of view afterwards: check
 * s->state == S_CLOSED || s->destroyed before touching it again. */
G_GNUC_INTERNAL void close_session(struct mb_imap_session *s, enum mb_imap_close how,
	const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* (Re)starts the deadline for the server's answer, seconds. */
G_GNUC_INTERNAL void arm_deadline(struct mb_imap_session *s, unsigned seconds);

/* Writes len bytes as they are; the trace shows "***" for them when secret. */
G_GNUC_INTERNAL void send_raw(struct mb_imap_session *s, const char *buf, size_t len,
	bool secret);

/* Sends "TAG " + text + CRLF, registers the command in s->cmds (which owns
 * it) and arms the deadline. text must not hold CR or LF. */
G_GNUC_INTERNAL struct cmd *send_command(struct mb_imap_session *s, enum cmd_kind kind,
	const char *text);

/* Whether the server announced capability cap (case-insensitive). */
G_GNUC_INTERNAL bool has_cap(const struct mb_imap_session *s, const char *cap);

/* Moves to state next and sends CAPABILITY. */
G_GNUC_INTERNAL void send_capability(struct mb_imap_session *s, enum state next);

/* Signed in: ID (RFC 2971) if offered and ENABLE, pipelined with LIST or
 * EXAMINE and the rest. */
G_GNUC_INTERNAL void after_auth(struct mb_imap_session *s);

#endif
