/* Quiet hours: daily ranges of local wall-clock time ("22:00-07:00") during
 * which notifications are held. Pure: no I/O, no clock reading of its own;
 * the caller passes the time and the time zone. See mailbell.ini(5),
 * quiet_hours. */
#ifndef MB_QUIET_H
#define MB_QUIET_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* One range in minutes after local midnight: start 0..1439, end 1..1440,
 * start != end; end < start crosses midnight (22:00-07:00 is 1320, 420). */
struct mb_quiet_range {
	unsigned start, end;
};

/* A list of ranges in the order written; n == 0 means no quiet hours.
 * Ranges may overlap or touch; they are joined when they are used. */
struct mb_quiet_hours {
	size_t n;
	struct mb_quiet_range *ranges; /* n items, owned; NULL when n == 0 */
};

/* Parses "HH:MM-HH:MM[, HH:MM-HH:MM...]" (24-hour clock; the hour has one or
 * two digits, the minutes two; white space around items and around the '-'
 * is ignored; 24:00 only as an end). Empty or blank text gives n == 0. On
 * success fills *out (release it with mb_quiet_hours_finish()) and returns
 * true. On failure returns false, leaves *out empty (n == 0) and sets
 * *errstr_r (may be NULL; g_free) to what is wrong, naming the item: an
 * empty item, a malformed range, a time out of range, or a range that
 * starts and ends at the same time. */
bool mb_quiet_hours_parse(const char *text, struct mb_quiet_hours *out, char **errstr_r);

/* Frees the ranges of q and leaves it empty. q itself is the caller's; NULL
 * is a no-op. */
void mb_quiet_hours_finish(struct mb_quiet_hours *q);

/* Whether a and b hold the same ranges in the same order; NULL counts as
 * empty. */
bool mb_quiet_hours_equal(const struct mb_quiet_hours *a, const struct mb_quiet_hours *b);

/* Whether now (any GDateTime; it is converted to tz) falls in a range. When
 * it does, *end_r (may be NULL) gets the moment the quiet period ends: the
 * end of the range, or of the run of overlapping or adjacent ranges it
 * belongs to, as a new GDateTime in tz (unref it); NULL when the ranges
 * cover the whole day, so quiet never ends. When it does not, *next_start_r
 * (may be NULL) gets the moment the next range starts, a new GDateTime in
 * tz, or NULL when q is NULL or empty. The pointer not concerned is set to
 * NULL.
 * DST-safe: each wall-clock time is resolved in tz on the actual day, as
 * g_date_time_new() does (a time the clock skips in spring, 02:30 when it
 * jumps from 02:00 to 03:00, becomes 03:00; a time that happens twice in
 * autumn is taken once, at its second occurrence), so quiet 01:00-04:00 lasts
 * 2 hours on the spring day and 4 on the autumn day. A range that the
 * change makes empty is skipped that day. */
bool mb_quiet_hours_active(const struct mb_quiet_hours *q, GDateTime *now, GTimeZone *tz,
	GDateTime **end_r, GDateTime **next_start_r);

/* The ranges as text in the order written, "22:00-07:00, 12:00-13:00"; ""
 * for NULL or no ranges. mb_quiet_hours_parse() reads it back. Caller
 * frees with g_free(). */
char *mb_quiet_hours_format(const struct mb_quiet_hours *q);

#endif
