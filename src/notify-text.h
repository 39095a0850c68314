/* The pure part of notify.c, kept apart so that it can be tested without a
 * bus: what a (grouped) new-mail notification says, and the table of
 * Message-IDs behind mb_notify_dedupe(). Main thread only, like everything
 * that uses it; nothing here talks to libnotify or reads a clock. */
#ifndef MB_NOTIFY_TEXT_H
#define MB_NOTIFY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "message.h"
#include "notify.h"
#include "rules.h"

/* The most octets of a summary and of a body (the rest is cut with "…"),
 * and of one "Sender: Subject" line of a grouped body. */
#define MB_NOTIFY_SUMMARY_MAX 256
#define MB_NOTIFY_BODY_MAX 2048
#define MB_NOTIFY_LINE_MAX 200

/* Lines of a grouped body when nothing else is set (catchup_summary's
 * default). */
#define MB_NOTIFY_LINES_DEFAULT 5

/* Returns a deep copy of msg (strings, recipients; raw and header are
 * referenced, not copied). Free with mb_message_destroy(). */
struct mb_message *mb_notify_message_copy(const struct mb_message *msg);

/* The messages one notification shows, all of one account and mailbox, in
 * the order they arrived. It keeps a copy of the newest messages for the
 * "default" action (open_cmd): the newest one whole, raw message and header
 * included; the next few without their raw message and header; of older
 * ones only what their line in the body needs. */
struct mb_notify_group;

/* An empty group for account/mailbox (copied). Free with
 * mb_notify_group_destroy(). */
struct mb_notify_group *mb_notify_group_create(const char *account, const char *mailbox);

/* Frees group. NULL is a no-op. */
void mb_notify_group_destroy(struct mb_notify_group *group);

/* Adds msg, which the group takes (it must be of the group's account and
 * mailbox), as the newest message, with its urgency and the name of the
 * rule that matched it (copied; may be NULL). */
void mb_notify_group_take(struct mb_notify_group *group, struct mb_message *msg, enum mb_urgency urgency,
	const char *rule);

/* Removes message uidvalidity/uid. Returns false when the group does not
 * hold it. */
bool mb_notify_group_remove(struct mb_notify_group *group, uint32_t uidvalidity, uint32_t uid);

/* Number of messages in group. */
unsigned mb_notify_group_size(const struct mb_notify_group *group);

/* The group's account and mailbox (borrowed). */
const char *mb_notify_group_account(const struct mb_notify_group *group);
const char *mb_notify_group_mailbox(const struct mb_notify_group *group);

/* The summary (g_free), plain text, at most MB_NOTIFY_SUMMARY_MAX octets:
 * for one message the sender's display name, else the address, else the
 * From text; for more "N new messages in ACCOUNT/MAILBOX". Empty group:
 * "". */
char *mb_notify_group_summary(const struct mb_notify_group *group);

/* The body (g_free), plain text (the caller escapes it), at most
 * MB_NOTIFY_BODY_MAX octets: for one message its subject, then its preview
 * on a line of its own when there is one; for more one line "Sender:
 * Subject" per message, newest first, at most max_lines of them (0:
 * MB_NOTIFY_LINES_DEFAULT), and "… and N more" for the rest. */
char *mb_notify_group_body(const struct mb_notify_group *group, unsigned max_lines);

/* The highest urgency of the group's messages (MB_URGENCY_UNSET counts as
 * normal; MB_URGENCY_UNSET for an empty group). */
enum mb_urgency mb_notify_group_urgency(const struct mb_notify_group *group);

/* The newest message of which the group kept a copy, and in *rule_r (may
 * be NULL) the name of its rule or NULL; NULL when there is none. Both are
 * borrowed. */
const struct mb_message *mb_notify_group_newest(const struct mb_notify_group *group, const char **rule_r);

/* Calls fn once for each UIDVALIDITY among the group's messages (in the
 * order first seen), with its UIDs in ascending order (n >= 1; valid during
 * the call). */
typedef void (*mb_notify_uids_fn)(uint32_t uidvalidity, const uint32_t *uids, size_t n, void *data);
void mb_notify_group_foreach_uids(const struct mb_notify_group *group, mb_notify_uids_fn fn, void *data);

/* The Message-IDs seen lately, for mb_notify_dedupe(): at most max of
 * them, the oldest dropped first. */
struct mb_notify_seen;

/* An empty table for up to max (>= 1) Message-IDs. Free with
 * mb_notify_seen_destroy(). */
struct mb_notify_seen *mb_notify_seen_create(size_t max);

/* Frees seen. NULL is a no-op. */
void mb_notify_seen_destroy(struct mb_notify_seen *seen);

/* Whether message_id was seen within window microseconds before now (a
 * monotonic time in microseconds that never goes back between calls), and
 * where: MB_NOTIFY_DUP_SAME_MAILBOX when it was under another UID of the
 * same account, mailbox and UIDVALIDITY; MB_NOTIFY_DUP_ELSEWHERE when in
 * another account or mailbox (or under another UIDVALIDITY of the same
 * mailbox); MB_NOTIFY_DUP_NO when not seen within the window, or seen as
 * this very message (the same UID fetched again). A message that is new
 * (MB_NOTIFY_DUP_NO) is remembered from now; a duplicate leaves the first
 * entry as it was, so that the window counts from the first sighting.
 * Entries older than the window go first. An empty message_id, or window
 * 0, gives MB_NOTIFY_DUP_NO and remembers nothing. Strings are copied. */
enum mb_notify_dup mb_notify_seen_check(struct mb_notify_seen *seen, const char *message_id,
	const char *account, const char *mailbox, uint32_t uidvalidity, uint32_t uid, gint64 now,
	gint64 window);

/* Number of Message-IDs remembered. */
size_t mb_notify_seen_size(const struct mb_notify_seen *seen);

#endif
