/* Desktop notifications through libnotify (org.freedesktop.Notifications).
 * Without libnotify at build time every call is a no-op returning false. */
#ifndef MB_NOTIFY_H
#define MB_NOTIFY_H

#include <stdbool.h>
#include "message.h"

/* Connects libnotify as app "mailbell". Returns false when built without
 * libnotify. Does not need a notification service to be running yet. */
bool mb_notify_init(void);

/* Shows a new-mail notification: summary = sender name (else address),
 * body = subject, markup-escaped; icon "mail-unread", category
 * "email.arrived". When no notification service answers, logs one warning
 * per outage and returns false. */
bool mb_notify_message(const struct mb_message *msg);

/* Shows a notification with plain summary and body (escaped here), for
 * alerts, sign-in failures and catch-up summaries. category may be NULL. */
bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent);

/* Releases libnotify. */
void mb_notify_shutdown(void);

#endif
