/* Desktop notifications through libnotify (org.freedesktop.Notifications).
 * Without libnotify at build time every call is a no-op returning false. */
#ifndef MB_NOTIFY_H
#define MB_NOTIFY_H

#include <stdbool.h>
#include "message.h"
#include "rules.h"
#include "quiet.h"

struct mb_state;

/* Connects libnotify as app "mailbell". Returns false when built without
 * libnotify. Does not need a notification service to be running yet. */
bool mb_notify_init(void);

/* Queues a new-mail notification: summary = sender name (else address),
 * body = subject, then the preview on a line of its own when there is one,
 * markup-escaped, both cut to a sane length; icon "mail-unread", category
 * "email.arrived", urgency from the matching rule (MB_URGENCY_UNSET:
 * normal). Never blocks: libnotify runs on a
 * worker thread. When no notification service answers, one warning is logged
 * per outage. Returns false when not initialized or when too many
 * notifications are already waiting (the service hangs). */
bool mb_notify_message(const struct mb_message *msg, enum mb_urgency urgency);

/* A burst of n new messages in account/mailbox (more than catchup_summary):
 * one notification "N new messages in ACCOUNT/MAILBOX" (" while offline"
 * for a catch-up), or n held ones. */
bool mb_notify_batch(const char *account, const char *mailbox, unsigned n, bool catchup);

/* Holding. While notifications are paused (mailbell ctl pause) or an
 * account is in its quiet hours, new-mail notifications (mb_notify_message,
 * mb_notify_batch) are counted per account instead of shown; when the pause
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

/* Queues a notification with plain summary and body (escaped later), for
 * alerts, sign-in failures and catch-up summaries. category may be NULL. */
bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent);

/* Releases libnotify. */
void mb_notify_shutdown(void);

#endif
