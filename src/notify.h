/* Desktop notifications through libnotify (org.freedesktop.Notifications).
 * Without libnotify at build time every call is a no-op returning false. */
#ifndef MB_NOTIFY_H
#define MB_NOTIFY_H

#include <stdbool.h>
#include "message.h"
#include "rules.h"

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

/* Queues a notification with plain summary and body (escaped later), for
 * alerts, sign-in failures and catch-up summaries. category may be NULL. */
bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent);

/* Releases libnotify. */
void mb_notify_shutdown(void);

#endif
