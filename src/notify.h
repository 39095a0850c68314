/* Desktop notifications through libnotify (org.freedesktop.Notifications).
 *
 * Threads. libnotify's calls are synchronous D-Bus calls (Notify,
 * CloseNotification, GetCapabilities wait up to 25 s each), so a hung or
 * slow notification service would freeze IDLE, timers, hooks and signals if
 * they ran on the main loop. Every libnotify call therefore runs on one
 * thread of this module's own, which owns a GMainContext and a GMainLoop and
 * makes that context its thread-default before notify_init() and before any
 * NotifyNotification exists: libnotify's D-Bus proxy then delivers the
 * service's ActionInvoked and NotificationClosed signals on that thread.
 * The two threads share no mutable state: the main thread hands plain
 * requests over (show this text with this id, close, forget) and the thread
 * hands results back (taken or not, action invoked, closed), each through a
 * queue whose item is announced by an idle source attached to the other
 * side's context (not g_main_context_invoke(), which runs the function
 * right there in the calling thread whenever the other context happens to be
 * free, as the default context is before and after g_main_loop_run()). The
 * coalescing, the dedupe table, pause and quiet hours all live on the main
 * thread; the notification thread knows only libnotify objects by id.
 * Updates never pile up: while a notification's last update is
 * unanswered, what comes meanwhile goes into one more when the answer
 * arrives. Beyond QUEUE_MAX (32) requests unanswered, new notifications are
 * refused (done(false)) rather than queued without bound. At exit queued requests
 * get two seconds, waited for on the result queue with a deadline, never
 * by polling; a thread stuck in a call is left behind.
 *
 * Without libnotify at build time nothing is shown: mb_notify_init()
 * returns false, mb_notify_mail() holds as usual or answers done(false),
 * mb_notify_text() returns false, and actions never happen. */
#ifndef MB_NOTIFY_H
#define MB_NOTIFY_H

#include <stdbool.h>
#include "message.h"
#include "rules.h"
#include "quiet.h"

struct mb_state;

/* Starts the notification thread, which connects libnotify as app
 * "mailbell"; again is a no-op. Captures g_main_context_default() as the
 * context results come back on (call it on the thread that runs that
 * context). Returns false when built without libnotify. Does not need a
 * notification service to be running yet. */
bool mb_notify_init(void);

/* The most messages listed one per line in a grouped notification
 * (catchup_summary); the rest are counted ("… and 7 more"). 0 or never
 * set: 5. Applies from the next update on. */
void mb_notify_set_max_lines(unsigned lines);

/* How a new-mail notification looks and what it offers (the account's
 * effective settings; strings are copied). */
struct mb_notify_options {
	const char *open_cmd;  /* run as the default action (clicking the
	                        * notification) with the message's MAILBELL_*
	                        * environment, through the hook queue; NULL: no
	                        * default action */
	bool mark_read;        /* offer a "Mark as read" action */
	bool sound;            /* hint sound-name=message-new-email */
	const char *icon;      /* NULL: "mail-unread" */
	unsigned coalesce;     /* seconds: mail for the same mailbox within this
	                        * long after the last one updates its
	                        * notification in place; 0: one each (those
	                        * given in one main-loop iteration still share
	                        * one) */
	const char *rule;      /* the matching rule's name, for open_cmd's
	                        * MAILBELL_RULE, or NULL */
};

/* Called on the main thread once for each message given to
 * mb_notify_mail(), never from within that call: shown is true when the
 * notification service took the Notify call that first showed it (or it
 * was held by a pause or quiet hours, or read, deleted or its notification
 * dismissed before it could be shown), false when it could not be shown (no
 * service, an error, too many requests waiting, the service did not answer
 * before mb_notify_shutdown() gave up, or built without libnotify; the
 * message counts as not notified and is offered again after a restart).
 * Messages shown by one Notify call get theirs in the order given; across
 * calls (held, refused, later updates) the order is not defined. */
typedef void (*mb_notify_done_fn)(bool shown, void *data);

/* A new message. The first one of a quiet period shows at once (on the
 * next main-loop iteration, with whatever else came for its mailbox in this
 * one): summary = sender name (else address), body = subject, then the
 * preview on a line of its own, markup-escaped, cut to a sane length; icon
 * (opt->icon), category "email.arrived", urgency (MB_URGENCY_UNSET: normal),
 * desktop-entry "mailbell", sound-name "message-new-email" if opt->sound.
 * More mail for the same account and mailbox within opt->coalesce seconds
 * of the previous one updates that notification in place (the same
 * notification id as replaces_id): "3 new messages in work/INBOX" with a
 * line per message ("Sender: Subject", newest first, at most
 * mb_notify_set_max_lines() of them, then "… and N more"), the highest
 * urgency of them; several messages given in one main-loop iteration (a
 * catch-up) become one update, or one new notification. Once the user or
 * the service closed it, later mail starts a new one. Actions, when the
 * notification service announces the "actions" capability: "default"
 * ("Open", if open_cmd: run through mb_hook_run() with the newest message
 * of the notification and opt->rule) and "mark-read" ("Mark as read", if
 * mark_read: the handler of mb_notify_set_mark_read_handler() gets every
 * UID the notification shows, and the notification is closed). The last
 * options given for a mailbox apply to its notification. While paused or
 * in quiet hours the message is held (counted) instead. msg, opt and its
 * strings are copied. Never blocks. done (may be NULL) runs as described
 * above. */
void mb_notify_mail(const struct mb_message *msg, enum mb_urgency urgency,
	const struct mb_notify_options *opt, mb_notify_done_fn done, void *data);

/* The message account/mailbox/uidvalidity/uid was read (\Seen) or expunged
 * elsewhere: it leaves its notification, which is closed
 * (CloseNotification) when it showed only that message, else updated in
 * place to show the others. Unknown messages (never shown, or their
 * notification was closed or is long gone) are ignored. */
void mb_notify_gone(const char *account, const char *mailbox, uint32_t uidvalidity, uint32_t uid);

/* Asked for by a "mark-read" action: set \Seen on uids (n >= 1 of them,
 * ascending) of account/mailbox under uidvalidity; one call per
 * account/mailbox/uidvalidity the notification shows. Runs on the main
 * thread; the strings and uids are valid during the call only; the handler
 * reports failures itself. fn NULL: the action does nothing. */
typedef void (*mb_notify_mark_read_fn)(const char *account, const char *mailbox,
	uint32_t uidvalidity, const uint32_t *uids, size_t n, void *data);
void mb_notify_set_mark_read_handler(mb_notify_mark_read_fn fn, void *data);

enum mb_notify_dup {
	MB_NOTIFY_DUP_NO,           /* first time its Message-ID is seen */
	MB_NOTIFY_DUP_ELSEWHERE,    /* notified within the window from another
	                             * mailbox or account */
	MB_NOTIFY_DUP_SAME_MAILBOX, /* the same Message-ID under another UID of
	                             * the same mailbox and UIDVALIDITY: the
	                             * server reused it (Courier, servers.md S8) */
};

/* Remembers msg's Message-ID for window seconds (0: off, always
 * MB_NOTIFY_DUP_NO) and says whether it was already seen. Messages without
 * a Message-ID are never duplicates; nor is the very message seen before
 * (same account, mailbox, UIDVALIDITY and UID: fetched again after a
 * reconnect). The window counts from the first sighting, on the monotonic
 * clock; a duplicate is not remembered again. The same Message-ID in the
 * same mailbox under another UIDVALIDITY counts as ELSEWHERE. The table is
 * bounded (10000 Message-IDs, oldest entries go first). Main thread. */
enum mb_notify_dup mb_notify_dedupe(const struct mb_message *msg, unsigned window);

/* Queues a notification with plain summary and body (escaped later), for
 * alerts, sign-in failures and mark-read failures: never held, never
 * grouped, no actions; icon "dialog-warning" and urgency critical when
 * urgent, else "mail-unread". category may be NULL. Returns false when not
 * initialized (or built without libnotify) or when too many requests are
 * waiting for the notification service. */
bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent);

/* Holding. While notifications are paused (mailbell ctl pause) or an
 * account is in its quiet hours, new-mail notifications (mb_notify_mail()) are
 * counted per account instead of shown (their done runs with true); when the pause
 * or the quiet period ends, one summary says what arrived ("7 new messages
 * while paused: 5 work, 2 home"). Alerts and failures (mb_notify_text) are
 * never held. All of it runs on the main thread. */

/* Loads a stored pause from state (may be NULL: not kept), ending it at once
 * if it expired while mailbell was not running; changed (may be NULL) runs
 * whenever the pause, a quiet period or a held count changes. */
void mb_notify_hold_init(struct mb_state *state, void (*changed)(void *data), void *data);

/* Pauses until until (Unix seconds; 0: until mb_notify_resume()); kept in
 * the state directory so it survives a restart. Pausing again moves the
 * end. */
void mb_notify_pause(gint64 until);

/* Ends the pause and shows the summary of what it held (accounts still in
 * quiet hours keep theirs until those end). No-op when not paused. */
void mb_notify_resume(void);

/* Whether notifications are paused; *until_r (may be NULL) gets the end as
 * for mb_notify_pause(). */
bool mb_notify_paused(gint64 *until_r);

/* Sets account's quiet hours (copied; NULL or empty: none), replacing what
 * was set before; held notifications no longer covered are shown. */
void mb_notify_set_quiet_hours(const char *account, const struct mb_quiet_hours *hours);

/* Whether account is in its quiet hours now; *end_r (may be NULL) gets when
 * they end (Unix seconds). */
bool mb_notify_quiet(const char *account, gint64 *end_r);

/* Notifications held for account (NULL: all accounts). */
unsigned mb_notify_held(const char *account);

/* Stops the notification thread: mail given but not sent yet is sent, then
 * queued requests get up to 2 seconds (waited for without polling) to be
 * answered by the notification service. Every done callback still
 * outstanding runs before it returns: true for what the service took
 * meanwhile, false for the rest (so call it while done's data is valid, and
 * before the state is written for the last time if those answers should be
 * recorded). A thread stuck in a D-Bus call is left behind for the process
 * to end. Notifications on screen stay there (their buttons no longer do
 * anything). */
void mb_notify_shutdown(void);

#endif
