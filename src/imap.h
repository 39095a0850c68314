/* One IMAP session watching one or more mailboxes (RFC 3501, RFC 9051, IDLE RFC 2177):
 * greeting, STARTTLS, CAPABILITY, AUTHENTICATE/LOGIN, ID, LIST, EXAMINE,
 * NOTIFY (RFC 5465), IDLE with
 * keepalive, UID FETCH of new messages; NOOP polling when IDLE is missing.
 * An explicit state machine; every transition is traced at debug level. */
#ifndef MB_IMAP_H
#define MB_IMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "config.h"
#include "imap-fetch.h"
#include "share.h"

/* The most a session downloads of one message (BODY.PEEK[]<0.N>), octets:
 * half the parser's literal limit, so a full download can never make the
 * connection fail on its own size. */
#define MB_IMAP_BODY_MAX MB_DOWNLOAD_MAX
/* The most of the whole header block (BODY.PEEK[HEADER]<0.N>) fetched for
 * a hook's standard input, octets. */
#define MB_IMAP_HEADER_MAX (64u * 1024)
/* Octets of the body text fetched for a preview (BODY.PEEK[TEXT]<0.N>) when
 * the server has no PREVIEW (RFC 8970) and the message is not downloaded. */
#define MB_IMAP_TEXT_MAX 4096u

struct mb_imap_session;

enum mb_imap_close {
	MB_IMAP_CLOSE_ERROR,       /* network, timeout, BYE, malformed response,
	                            * transient refusal: retry with backoff */
	MB_IMAP_CLOSE_AUTH_FAILED, /* credentials rejected (RFC 5530
	                            * AUTHENTICATIONFAILED and the like): retrying
	                            * fast may lock the account */
	MB_IMAP_CLOSE_REFUSED,     /* a security or capability problem that
	                            * retrying will not fix soon: STARTTLS
	                            * refused, PREAUTH on a STARTTLS account, no
	                            * usable sign-in mechanism, mailbox missing */
	MB_IMAP_CLOSE_LOGOUT,      /* mb_imap_session_logout() finished */
};

/* One mailbox as the account knows it. */
struct mb_imap_mailbox {
	const char *name;        /* UTF-8, exact (no wildcards) */
	uint32_t uidvalidity;    /* known UIDVALIDITY, 0 when none */
	uint32_t last_uid;       /* highest UID already reported */
	uint64_t highestmodseq;  /* RFC 7162 HIGHESTMODSEQ, 0 when unknown */
};

struct mb_imap_session_params {
	const char *name;        /* for logs, e.g. "work"; copied */
	const struct mb_account_config *account; /* borrowed, must outlive the session */
	/* NULL-terminated UTF-8 mailbox names; "*" and "%" are LIST wildcards
	 * (RFC 3501 6.3.8) expanded after sign-in; copied. */
	const char *const *mailboxes;
	const char *secret;      /* password or OAuth2 access token; copied and
	                          * wiped from memory on destroy */
	unsigned timeout;        /* seconds: connect, TLS and each command */
	unsigned keepalive;      /* seconds between IDLE renewals (DONE, NOOP, IDLE) */
	unsigned poll_interval;  /* seconds between NOOPs when IDLE is unavailable,
	                          * and between STATUS checks of mailboxes other
	                          * than the first when the server lacks NOTIFY */
	bool want_header;        /* fetch the whole header block of new messages
	                          * (BODY.PEEK[HEADER]<0.MB_IMAP_HEADER_MAX>) */
	bool want_preview;       /* fetch PREVIEW (RFC 8970) where the server has
	                          * it, else BODY.PEEK[TEXT]<0.MB_IMAP_TEXT_MAX> */
	bool idle_silent;        /* an earlier session found that this server's
	                          * IDLE does not deliver (MB_IMAP_POLLING_IDLE_SILENT):
	                          * poll from the start */
	/* A one-shot task instead of watching: when task_uid is not 0, the
	 * session signs in, EXAMINEs task_mailbox (UTF-8, copied), sends
	 * UID FETCH task_uid (BODY.PEEK[]), reports it through the fetched
	 * event and logs out. mailboxes is then ignored. */
	const char *task_mailbox;
	uint32_t task_uid;
	/* Another one-shot task (mailbell --check): sign in, LIST "" "*",
	 * report through the checked event, LOG OUT. */
	bool task_check;
	/* Another (mark as read): sign in, SELECT task_mailbox (read-write:
	 * the only time mailbell does), check its UIDVALIDITY is
	 * task_uidvalidity (0: any), UID STORE the task_store_n UIDs (copied)
	 * +FLAGS.SILENT (\Seen) (RFC 3501 6.4.6), report through the stored
	 * event, LOG OUT. */
	const uint32_t *task_store_uids;
	size_t task_store_n;
	uint32_t task_uidvalidity;
};

/* What mailbell --check learns from a server (all borrowed). */
struct mb_imap_check_result {
	const char *const *caps;   /* post-login capabilities, upper-cased,
	                            * NULL-terminated */
	const char *const *names;  /* every selectable mailbox LIST "" "*"
	                            * returned, UTF-8, NULL-terminated */
	char delimiter;            /* hierarchy delimiter, '\0' if none seen */
	const char *mechanism;     /* "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER" */
};

/* What the changed event reports, as a mask. */
enum mb_imap_change {
	MB_IMAP_CHANGE_EXPUNGE = 1 << 0, /* messages were expunged */
	MB_IMAP_CHANGE_FLAGS = 1 << 1,   /* flags of messages changed */
};

/* What the mailboxes event answers: which mailboxes the session watches and
 * how (see share.h, where that policy lives). */
struct mb_imap_assignment {
	/* struct mb_imap_mailbox, filled by the callee (the array belongs to
	 * the session, which copies each entry right after the event: the
	 * names need only live that long). The first one is kept selected
	 * (EXAMINE) under IDLE. None closes the session. */
	GArray *mailboxes;
	/* How the ones after the first are watched: NOTIFY's STATUS events,
	 * or STATUS every poll_interval. */
	enum mb_share_others others;
};

struct mb_imap_events {
	/* Signed in and mailbox names expanded: names (NULL-terminated, UTF-8,
	 * borrowed) are the watched mailboxes that exist, in configuration
	 * order; has_notify tells whether the server has NOTIFY (RFC 5465).
	 * The callee answers in *assign which of them this session watches.
	 * Must not call into the session. */
	void (*mailboxes)(struct mb_imap_session *session, const char *const *names,
		bool has_notify, struct mb_imap_assignment *assign, void *data);
	/* The session reached IDLE (or NOOP polling): it is healthy. */
	void (*idling)(struct mb_imap_session *session, void *data);
	/* The first UID FETCH of new messages in mailbox->name completed:
	 * fetches (struct mb_imap_fetch *, ascending UIDs, borrowed) hold their
	 * flags, size, header fields and preview material. The callee fills
	 * limits[i] (n = fetches->len, zeroed): 0 to leave message i as it is,
	 * else the most octets of it to download (BODY.PEEK[]<0.limits[i]>, at
	 * most MB_IMAP_BODY_MAX); the session then fetches those in one more
	 * round trip before the messages event. Must not call into the
	 * session. NULL: nothing is downloaded. */
	void (*plan)(struct mb_imap_session *session, const struct mb_imap_mailbox *mailbox,
		const GPtrArray *fetches, uint32_t *limits, bool catchup, void *data);
	/* New messages in mailbox->name (struct mb_imap_fetch *, ascending
	 * UIDs, with their body where the plan asked for one and the server
	 * returned all of it; ownership of the array passes to the callee; may
	 * be empty when only the baseline moved) and the state to remember
	 * (borrowed).
	 * catchup is true for the first fetch of a mailbox after sign-in (mail
	 * that came while disconnected). rebaselined is true when no state
	 * existed or UIDVALIDITY changed and old messages were skipped. */
	void (*messages)(struct mb_imap_session *session, const struct mb_imap_mailbox *mailbox,
		GPtrArray *messages, bool catchup, bool rebaselined, void *data);
	/* The task's UID FETCH finished (task_uid set): f is the message with
	 * its BODY[] (borrowed), or NULL when the mailbox holds no message with
	 * that UID. The session logs out afterwards. */
	void (*fetched)(struct mb_imap_session *session, const struct mb_imap_fetch *f, void *data);
	/* task_check: signed in and listed (see struct mb_imap_check_result);
	 * the session logs out afterwards. */
	void (*checked)(struct mb_imap_session *session, const struct mb_imap_check_result *res,
		void *data);
	/* The task's UID STORE succeeded (a failure closes the session with
	 * its reason). The session logs out afterwards. */
	void (*stored)(struct mb_imap_session *session, void *data);
	/* A message of the selected mailbox that this session fetched was
	 * read (\Seen set: a FETCH FLAGS update during IDLE, or NOTIFY
	 * FlagChange) or expunged (EXPUNGE) by another client. May be NULL. */
	void (*gone)(struct mb_imap_session *session, const char *mailbox, uint32_t uidvalidity,
		uint32_t uid, bool expunged, void *data);
	/* Messages of a watched mailbox (UTF-8, borrowed) were expunged or
	 * their flags changed, by any client (mailbell's own \Seen STORE
	 * included); changes is a mask of enum mb_imap_change. In the selected
	 * mailbox from EXPUNGE (RFC 3501 7.4.1), VANISHED (RFC 7162 3.2.10) or
	 * a FETCH with FLAGS that is not part of the session's own UID FETCH;
	 * elsewhere from NOTIFY STATUS events (RFC 5465 5.2, MessageExpunge and
	 * FlagChange) or, without NOTIFY, the STATUS checks: MESSAGES lower
	 * than the new UIDs explain, UNSEEN or HIGHESTMODSEQ moved without new
	 * mail. New messages are not reported here (see messages). May be
	 * NULL; must not call into the session. */
	void (*changed)(struct mb_imap_session *session, const char *mailbox, unsigned changes,
		void *data);
	/* A STATUS answer or NOTIFY STATUS event (RFC 5465 5.2) gave mailbox's
	 * UNSEEN count (RFC 3501 6.3.10). May be NULL. */
	void (*unseen)(struct mb_imap_session *session, const char *mailbox, uint32_t unseen,
		void *data);
	/* A watched mailbox (UTF-8, borrowed) cannot be opened: EXAMINE failed
	 * with text (the server's reason, sanitized, borrowed). The session
	 * goes on with its other mailboxes; when it has none left it closes
	 * (MB_IMAP_CLOSE_REFUSED) right after. Must not call into the session.
	 * NULL: the session logs a warning instead. */
	void (*missing)(struct mb_imap_session *session, const char *mailbox, const char *text,
		void *data);
	/* An [ALERT] (RFC 3501 7.1) received after authentication over a
	 * secure (or explicitly plaintext) connection. text is sanitized. */
	void (*alert)(struct mb_imap_session *session, const char *text, void *data);
	/* The session ended; reason is a human-readable sentence (borrowed).
	 * Called once. The callee may destroy the session from here. */
	void (*closed)(struct mb_imap_session *session, enum mb_imap_close how,
		const char *reason, void *data);
};

/* Creates a session and starts connecting. events is copied. Never NULL. */
struct mb_imap_session *mb_imap_session_create(const struct mb_imap_session_params *params,
	const struct mb_imap_events *events, void *data);


/* Leaves IDLE if needed and sends LOGOUT; closed(MB_IMAP_CLOSE_LOGOUT) follows
 * when the server answers or within timeout seconds. A session that is not
 * yet authenticated is closed at once. */
void mb_imap_session_logout(struct mb_imap_session *session);

/* Probes the connection after a network change or resume: leaves IDLE and
 * sends NOOP under a deadline of min(timeout, 10) seconds; a failure closes
 * the session with MB_IMAP_CLOSE_ERROR. Does nothing when not idling. */
void mb_imap_session_probe(struct mb_imap_session *session);

/* Whether the session checks its mailbox by polling (NOOP every
 * poll_interval) rather than IDLE: the server has no IDLE, refused it, or
 * its IDLE does not deliver. */
bool mb_imap_session_is_polling(const struct mb_imap_session *session);

/* Why a session polls (see mb_imap_session_polling()). */
enum mb_imap_polling {
	MB_IMAP_POLLING_NONE,         /* not polling (IDLE, or not there yet) */
	MB_IMAP_POLLING_NO_IDLE,      /* the server has no IDLE */
	MB_IMAP_POLLING_IDLE_REFUSED, /* the server refused IDLE; tried again
	                               * every keepalive */
	MB_IMAP_POLLING_IDLE_SILENT,  /* servers.md S10: the server sends nothing
	                               * during IDLE; new mail was seen only after
	                               * it ended (DONE, the renewal's NOOP) at two
	                               * renewals, and never pushed during IDLE in
	                               * this session. For the rest of the session,
	                               * or from its start with params.idle_silent */
};

/* Whether and why the session polls rather than idles. */
enum mb_imap_polling mb_imap_session_polling(const struct mb_imap_session *session);

/* After a reload that kept the connection: account (borrowed, must outlive
 * the session) replaces the one given at creation (its connection settings
 * are equal), and the fetch options apply from the next UID FETCH. */
void mb_imap_session_update(struct mb_imap_session *session, const struct mb_account_config *account,
	bool want_header, bool want_preview);

/* Closes the connection without LOGOUT and frees the session; no event runs
 * afterwards. Safe from inside an event callback. NULL is a no-op. */
void mb_imap_session_destroy(struct mb_imap_session *session);

#endif
