/* Tests of quiet.c: parsing quiet_hours, whether a moment is quiet, when the
 * quiet period ends or the next one starts, across midnight and across the
 * clock changes of Europe/Berlin in 2026. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "quiet.h"

static GTimeZone *utc;
static GTimeZone *berlin;

static void
setup(void)
{
	utc = g_time_zone_new_utc();
	/* tzdata must be installed; g_time_zone_new_identifier() says NULL
	 * rather than quietly falling back to UTC */
	berlin = g_time_zone_new_identifier("Europe/Berlin");
	ck_assert_msg(berlin != NULL, "no Europe/Berlin: is tzdata (/usr/share/zoneinfo) installed?");
}

static void
teardown(void)
{
	g_time_zone_unref(utc);
	g_time_zone_unref(berlin);
}

static struct mb_quiet_hours
parse_ok(const char *text)
{
	struct mb_quiet_hours q;
	char *err = NULL;
	bool ok = mb_quiet_hours_parse(text, &q, &err);
	ck_assert_msg(ok, "'%s': %s", text, err ? err : "?");
	ck_assert_ptr_null(err);
	return q;
}

static GDateTime *
at(GTimeZone *tz, int y, int mo, int d, int h, int mi)
{
	GDateTime *t = g_date_time_new(tz, y, mo, d, h, mi, 0);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* got (consumed) is want in ISO 8601, e.g. "2026-03-29T04:00:00+02". */
#define assert_time(got, want) assert_time_at(got, want, __LINE__)

static void
assert_time_at(GDateTime *got, const char *want, int line)
{
	ck_assert_msg(got != NULL, "line %d: no time, want %s", line, want);
	char *text = g_date_time_format_iso8601(got);
	ck_assert_msg(strcmp(text, want) == 0, "line %d: got %s, want %s", line, text, want);
	g_free(text);
	g_date_time_unref(got);
}

/* Whether q is quiet at now (consumed); *end_r and *next_r as from
 * mb_quiet_hours_active(). */
static bool
active(const struct mb_quiet_hours *q, GDateTime *now, GTimeZone *tz, GDateTime **end_r, GDateTime **next_r)
{
	bool on = mb_quiet_hours_active(q, now, tz, end_r, next_r);
	g_date_time_unref(now);
	if (on && next_r)
		ck_assert_ptr_null(*next_r);
	if (!on && end_r)
		ck_assert_ptr_null(*end_r);
	return on;
}

START_TEST(test_parse_good)
{
	static const struct {
		const char *text;
		size_t n;
		unsigned ranges[3][2];
		const char *formatted;
	} cases[] = {
		{ "22:00-07:00", 1, { { 1320, 420 } }, "22:00-07:00" },
		{ "12:00-13:00, 22:00-07:00", 2, { { 720, 780 }, { 1320, 420 } }, "12:00-13:00, 22:00-07:00" },
		{ "12:00-13:00,22:00-07:00", 2, { { 720, 780 }, { 1320, 420 } }, "12:00-13:00, 22:00-07:00" },
		{ "  7:05 - 9:30  ", 1, { { 425, 570 } }, "07:05-09:30" },
		{ "00:00-24:00", 1, { { 0, 1440 } }, "00:00-24:00" },
		{ "23:00-00:00", 1, { { 1380, 0 } }, "23:00-00:00" },
		{ "23:59-00:00", 1, { { 1439, 0 } }, "23:59-00:00" },
		{ "18:00-24:00", 1, { { 1080, 1440 } }, "18:00-24:00" },
		{ "\t12:00-13:00\t,\t12:30-14:00, 12:00-13:00", 3, { { 720, 780 }, { 750, 840 }, { 720, 780 } },
			"12:00-13:00, 12:30-14:00, 12:00-13:00" },
		{ "", 0, { { 0, 0 } }, "" },
		{ "   ", 0, { { 0, 0 } }, "" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_quiet_hours q = parse_ok(cases[i].text);
		ck_assert_msg(q.n == cases[i].n, "'%s': %zu ranges", cases[i].text, q.n);
		for (size_t j = 0; j < q.n; j++) {
			ck_assert_msg(q.ranges[j].start == cases[i].ranges[j][0] && q.ranges[j].end == cases[i].ranges[j][1],
				"'%s' range %zu: %u-%u", cases[i].text, j, q.ranges[j].start, q.ranges[j].end);
		}
		if (q.n == 0)
			ck_assert_ptr_null(q.ranges);
		char *text = mb_quiet_hours_format(&q);
		ck_assert_str_eq(text, cases[i].formatted);
		/* the format reads back as the same ranges */
		struct mb_quiet_hours again = parse_ok(text);
		ck_assert(mb_quiet_hours_equal(&q, &again));
		g_free(text);
		mb_quiet_hours_finish(&again);
		mb_quiet_hours_finish(&q);
		ck_assert_uint_eq(q.n, 0);
		ck_assert_ptr_null(q.ranges);
	}

	struct mb_quiet_hours q = parse_ok(NULL);
	ck_assert_uint_eq(q.n, 0);
	char *text = mb_quiet_hours_format(NULL);
	ck_assert_str_eq(text, "");
	g_free(text);
	mb_quiet_hours_finish(NULL);
}
END_TEST

START_TEST(test_parse_bad)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "22:00", "'22:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22-07", "'22-07' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:00-07", "'22:00-07' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:00-", "'22:00-' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "-07:00", "'-07:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:0-07:00", "'22:0-07:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "123:00-07:00", "'123:00-07:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:000-07:00", "'22:000-07:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:00-07:00x", "'22:00-07:00x' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:00 07:00", "'22:00 07:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22.00-07.00", "'22.00-07.00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:00\xe2\x80\x93" "07:00", "'22:00\xe2\x80\x93" "07:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "+1:00-2:00", "'+1:00-2:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "22:00-07:00-08:00", "'22:00-07:00-08:00' is not HH:MM-HH:MM (e.g. 22:00-07:00)" },
		{ "25:00-07:00", "25:00 is not a time of day (00:00 to 23:59, or 24:00 as an end)" },
		{ "07:00-7:60", "7:60 is not a time of day (00:00 to 23:59, or 24:00 as an end)" },
		{ "22:00-24:01", "24:01 is not a time of day (00:00 to 23:59, or 24:00 as an end)" },
		{ "99:99-07:00", "99:99 is not a time of day (00:00 to 23:59, or 24:00 as an end)" },
		{ "24:00-07:00", "a range cannot start at 24:00" },
		{ "07:00-07:00", "07:00-07:00 starts and ends at the same time" },
		{ "12:00-13:00, 7:00 - 07:00", "7:00 - 07:00 starts and ends at the same time" },
		{ "00:00-00:00", "00:00-00:00 starts and ends at the same time" },
		{ "12:00-13:00,,22:00-07:00", "empty item" },
		{ "12:00-13:00,", "empty item" },
		{ ", 12:00-13:00", "empty item" },
		{ ",", "empty item" },
		{ "12:00-13:00, 25:00-26:00", "25:00 is not a time of day (00:00 to 23:59, or 24:00 as an end)" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_quiet_hours q = { 99, NULL };
		char *err = NULL;
		ck_assert_msg(!mb_quiet_hours_parse(cases[i].text, &q, &err), "'%s' accepted", cases[i].text);
		ck_assert_msg(err && strcmp(err, cases[i].error) == 0, "'%s':\n got: %s\nwant: %s", cases[i].text,
			err ? err : "(null)", cases[i].error);
		ck_assert_uint_eq(q.n, 0);
		ck_assert_ptr_null(q.ranges);
		g_free(err);
		/* errstr_r may be NULL */
		ck_assert(!mb_quiet_hours_parse(cases[i].text, &q, NULL));
	}
}
END_TEST

START_TEST(test_equal)
{
	struct mb_quiet_hours a = parse_ok("22:00-07:00, 12:00-13:00");
	struct mb_quiet_hours b = parse_ok("22:00 - 7:00,12:00-13:00");
	struct mb_quiet_hours c = parse_ok("12:00-13:00, 22:00-07:00");
	struct mb_quiet_hours none = parse_ok("");
	ck_assert(mb_quiet_hours_equal(&a, &b));
	ck_assert(!mb_quiet_hours_equal(&a, &c));
	ck_assert(!mb_quiet_hours_equal(&a, NULL));
	ck_assert(mb_quiet_hours_equal(&none, NULL));
	ck_assert(mb_quiet_hours_equal(NULL, NULL));
	mb_quiet_hours_finish(&a);
	mb_quiet_hours_finish(&b);
	mb_quiet_hours_finish(&c);
}
END_TEST

START_TEST(test_none)
{
	GDateTime *end = (GDateTime *)&end, *next = (GDateTime *)&next;
	ck_assert(!active(NULL, at(utc, 2026, 5, 1, 12, 0), utc, &end, &next));
	ck_assert_ptr_null(end);
	ck_assert_ptr_null(next);
	struct mb_quiet_hours q = parse_ok("");
	next = (GDateTime *)&next;
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 12, 0), utc, NULL, &next));
	ck_assert_ptr_null(next);
}
END_TEST

START_TEST(test_inside_outside)
{
	struct mb_quiet_hours q = parse_ok("12:00-13:00");
	GDateTime *end, *next;
	ck_assert(active(&q, at(utc, 2026, 5, 1, 12, 0), utc, &end, &next));
	assert_time(end, "2026-05-01T13:00:00Z");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 12, 59), utc, &end, &next));
	assert_time(end, "2026-05-01T13:00:00Z");
	/* the end is not quiet any more */
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 13, 0), utc, &end, &next));
	assert_time(next, "2026-05-02T12:00:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 11, 59), utc, &end, &next));
	assert_time(next, "2026-05-01T12:00:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 0, 0), utc, &end, &next));
	assert_time(next, "2026-05-01T12:00:00Z");
	/* seconds and microseconds count: a moment before 12:00 is not quiet */
	GDateTime *before = g_date_time_new(utc, 2026, 5, 1, 11, 59, 59.999);
	ck_assert(!active(&q, before, utc, &end, &next));
	assert_time(next, "2026-05-01T12:00:00Z");
	/* both out-parameters may be NULL */
	ck_assert(active(&q, at(utc, 2026, 5, 1, 12, 30), utc, NULL, NULL));
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 14, 30), utc, NULL, NULL));
	mb_quiet_hours_finish(&q);

	/* the first range of several, and the last */
	q = parse_ok("08:00-09:00, 12:00-13:00, 18:00-19:00");
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 10, 0), utc, &end, &next));
	assert_time(next, "2026-05-01T12:00:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 20, 0), utc, &end, &next));
	assert_time(next, "2026-05-02T08:00:00Z");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 18, 30), utc, &end, &next));
	assert_time(end, "2026-05-01T19:00:00Z");
	mb_quiet_hours_finish(&q);
}
END_TEST

START_TEST(test_across_midnight)
{
	struct mb_quiet_hours q = parse_ok("22:00-07:00");
	GDateTime *end, *next;
	ck_assert(active(&q, at(utc, 2026, 5, 1, 23, 0), utc, &end, &next));
	assert_time(end, "2026-05-02T07:00:00Z");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 22, 0), utc, &end, &next));
	assert_time(end, "2026-05-02T07:00:00Z");
	ck_assert(active(&q, at(utc, 2026, 5, 2, 0, 0), utc, &end, &next));
	assert_time(end, "2026-05-02T07:00:00Z");
	ck_assert(active(&q, at(utc, 2026, 5, 2, 6, 59), utc, &end, &next));
	assert_time(end, "2026-05-02T07:00:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 2, 7, 0), utc, &end, &next));
	assert_time(next, "2026-05-02T22:00:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 2, 21, 59), utc, &end, &next));
	assert_time(next, "2026-05-02T22:00:00Z");
	/* across the end of a month and a year */
	ck_assert(active(&q, at(utc, 2026, 12, 31, 23, 30), utc, &end, &next));
	assert_time(end, "2027-01-01T07:00:00Z");
	ck_assert(active(&q, at(utc, 2027, 1, 1, 3, 0), utc, &end, &next));
	assert_time(end, "2027-01-01T07:00:00Z");
	mb_quiet_hours_finish(&q);

	/* ending at midnight, written either way */
	const char *const midnight[] = { "23:00-24:00", "23:00-00:00" };
	for (size_t i = 0; i < G_N_ELEMENTS(midnight); i++) {
		q = parse_ok(midnight[i]);
		ck_assert(active(&q, at(utc, 2026, 2, 28, 23, 30), utc, &end, &next));
		assert_time(end, "2026-03-01T00:00:00Z");
		ck_assert(!active(&q, at(utc, 2026, 3, 1, 0, 0), utc, &end, &next));
		assert_time(next, "2026-03-01T23:00:00Z");
		mb_quiet_hours_finish(&q);
	}
}
END_TEST

START_TEST(test_adjacent_overlapping)
{
	GDateTime *end, *next;
	/* adjacent ranges are one quiet period, in any order */
	const char *const adjacent[] = { "12:00-13:00, 13:00-14:00", "13:00-14:00, 12:00-13:00" };
	for (size_t i = 0; i < G_N_ELEMENTS(adjacent); i++) {
		struct mb_quiet_hours q = parse_ok(adjacent[i]);
		ck_assert(active(&q, at(utc, 2026, 5, 1, 12, 30), utc, &end, &next));
		assert_time(end, "2026-05-01T14:00:00Z");
		ck_assert(active(&q, at(utc, 2026, 5, 1, 13, 0), utc, &end, &next));
		assert_time(end, "2026-05-01T14:00:00Z");
		ck_assert(!active(&q, at(utc, 2026, 5, 1, 14, 0), utc, &end, &next));
		assert_time(next, "2026-05-02T12:00:00Z");
		mb_quiet_hours_finish(&q);
	}

	/* overlapping ones too, a chain of three; one inside another */
	struct mb_quiet_hours q = parse_ok("14:00-14:30, 12:00-13:30, 13:00-14:00, 12:10-12:20");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 12, 15), utc, &end, &next));
	assert_time(end, "2026-05-01T14:30:00Z");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 13, 45), utc, &end, &next));
	assert_time(end, "2026-05-01T14:30:00Z");
	mb_quiet_hours_finish(&q);

	/* joined across midnight */
	q = parse_ok("22:00-24:00, 00:00-07:00");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 23, 0), utc, &end, &next));
	assert_time(end, "2026-05-02T07:00:00Z");
	mb_quiet_hours_finish(&q);
	q = parse_ok("06:00-09:00, 21:00-07:00");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 21, 30), utc, &end, &next));
	assert_time(end, "2026-05-02T09:00:00Z");
	mb_quiet_hours_finish(&q);

	/* a gap of one minute is a gap */
	q = parse_ok("12:00-13:00, 13:01-14:00");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 12, 30), utc, &end, &next));
	assert_time(end, "2026-05-01T13:00:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 13, 0), utc, &end, &next));
	assert_time(next, "2026-05-01T13:01:00Z");
	mb_quiet_hours_finish(&q);

	/* ranges that cover the whole day never end */
	const char *const always[] = { "00:00-24:00", "00:00-12:00, 12:00-24:00", "07:00-22:00, 21:00-07:01" };
	for (size_t i = 0; i < G_N_ELEMENTS(always); i++) {
		q = parse_ok(always[i]);
		end = (GDateTime *)&end;
		next = (GDateTime *)&next;
		ck_assert_msg(active(&q, at(berlin, 2026, 3, 29, 2, 30), berlin, &end, &next), "%s", always[i]);
		ck_assert_ptr_null(end);
		ck_assert_ptr_null(next);
		mb_quiet_hours_finish(&q);
	}
	/* all but a minute: that minute is not quiet */
	q = parse_ok("12:00-11:59");
	ck_assert(active(&q, at(utc, 2026, 5, 1, 11, 0), utc, &end, &next));
	assert_time(end, "2026-05-01T11:59:00Z");
	ck_assert(!active(&q, at(utc, 2026, 5, 1, 11, 59), utc, &end, &next));
	assert_time(next, "2026-05-01T12:00:00Z");
	mb_quiet_hours_finish(&q);
}
END_TEST

/* now may be in any time zone; the ranges are local time in tz, and so are
 * the answers. */
START_TEST(test_time_zones)
{
	struct mb_quiet_hours q = parse_ok("22:00-07:00");
	GDateTime *end, *next;
	/* 21:30 UTC is 23:30 in Berlin in summer */
	ck_assert(active(&q, at(utc, 2026, 7, 1, 21, 30), berlin, &end, &next));
	assert_time(end, "2026-07-02T07:00:00+02");
	ck_assert(!active(&q, at(utc, 2026, 7, 1, 19, 30), berlin, &end, &next));
	assert_time(next, "2026-07-01T22:00:00+02");
	/* in winter the offset is one hour */
	ck_assert(!active(&q, at(utc, 2026, 1, 15, 20, 30), berlin, &end, &next));
	assert_time(next, "2026-01-15T22:00:00+01");
	/* 23:30 UTC on the 1st is already the 2nd in Berlin */
	ck_assert(active(&q, at(utc, 2026, 1, 1, 23, 30), berlin, &end, &next));
	assert_time(end, "2026-01-02T07:00:00+01");
	mb_quiet_hours_finish(&q);
}
END_TEST

static GTimeSpan
span_minutes(GDateTime *a, GDateTime *b)
{
	return g_date_time_difference(b, a) / G_TIME_SPAN_MINUTE;
}

/* 2026-03-29 02:00 CET becomes 03:00 CEST; 2026-10-25 03:00 CEST becomes
 * 02:00 CET. */
START_TEST(test_dst_length)
{
	struct mb_quiet_hours q = parse_ok("01:00-04:00");
	GDateTime *end, *next;

	GDateTime *start = at(berlin, 2026, 3, 29, 1, 0);
	ck_assert(mb_quiet_hours_active(&q, start, berlin, &end, &next));
	ck_assert_int_eq(span_minutes(start, end), 120);
	assert_time(end, "2026-03-29T04:00:00+02");
	g_date_time_unref(start);

	start = at(berlin, 2026, 10, 25, 1, 0);
	ck_assert(mb_quiet_hours_active(&q, start, berlin, &end, &next));
	ck_assert_int_eq(span_minutes(start, end), 240);
	assert_time(end, "2026-10-25T04:00:00+01");
	g_date_time_unref(start);

	/* every moment of it is quiet, the repeated hour both times */
	for (int minutes = 0; minutes < 240; minutes += 15) {
		GDateTime *s = at(berlin, 2026, 10, 25, 1, 0);
		GDateTime *now = g_date_time_add_minutes(s, minutes);
		g_date_time_unref(s);
		ck_assert_msg(active(&q, now, berlin, &end, NULL), "%d minutes after 01:00", minutes);
		assert_time(end, "2026-10-25T04:00:00+01");
	}
	/* and the next start after it is the next day's 01:00 */
	ck_assert(!active(&q, at(berlin, 2026, 10, 25, 4, 0), berlin, &end, &next));
	assert_time(next, "2026-10-26T01:00:00+01");
	ck_assert(!active(&q, at(berlin, 2026, 3, 28, 12, 0), berlin, &end, &next));
	assert_time(next, "2026-03-29T01:00:00+01");
	mb_quiet_hours_finish(&q);

	/* a night across the change: 23:00 CET to 07:00 CEST is 7 hours */
	q = parse_ok("23:00-07:00");
	start = at(berlin, 2026, 3, 28, 23, 0);
	ck_assert(mb_quiet_hours_active(&q, start, berlin, &end, &next));
	ck_assert_int_eq(span_minutes(start, end), 7 * 60);
	assert_time(end, "2026-03-29T07:00:00+02");
	g_date_time_unref(start);
	start = at(berlin, 2026, 10, 24, 23, 0);
	ck_assert(mb_quiet_hours_active(&q, start, berlin, &end, &next));
	ck_assert_int_eq(span_minutes(start, end), 9 * 60);
	assert_time(end, "2026-10-25T07:00:00+01");
	g_date_time_unref(start);
	mb_quiet_hours_finish(&q);
}
END_TEST

/* Times the clock skips or repeats are resolved as g_date_time_new() does. */
START_TEST(test_dst_edges)
{
	GDateTime *end, *next;

	/* spring: 02:30 does not exist */
	struct mb_quiet_hours q = parse_ok("02:30-05:00");
	GDateTime *want = g_date_time_new(berlin, 2026, 3, 29, 2, 30, 0);
	GDateTime *before = g_date_time_add_seconds(want, -1);
	ck_assert(!mb_quiet_hours_active(&q, before, berlin, &end, &next));
	ck_assert_msg(g_date_time_equal(next, want), "next start is not g_date_time_new()'s 02:30");
	g_date_time_unref(next);
	ck_assert(mb_quiet_hours_active(&q, want, berlin, &end, &next));
	assert_time(end, "2026-03-29T05:00:00+02");
	g_date_time_unref(before);
	g_date_time_unref(want);
	mb_quiet_hours_finish(&q);

	/* a range wholly inside the skipped hour is empty that day */
	q = parse_ok("02:10-02:50");
	ck_assert(!active(&q, at(berlin, 2026, 3, 29, 1, 0), berlin, &end, &next));
	assert_time(next, "2026-03-30T02:10:00+02");
	ck_assert(!active(&q, at(berlin, 2026, 3, 28, 3, 0), berlin, &end, &next));
	assert_time(next, "2026-03-30T02:10:00+02");
	mb_quiet_hours_finish(&q);

	/* autumn: 02:00-02:30 happens twice; quiet once, at the occurrence
	 * g_date_time_new() picks */
	q = parse_ok("02:00-02:30");
	GDateTime *first = g_date_time_new(utc, 2026, 10, 25, 0, 15, 0);  /* 02:15 CEST */
	GDateTime *second = g_date_time_new(utc, 2026, 10, 25, 1, 15, 0); /* 02:15 CET */
	bool in_first = mb_quiet_hours_active(&q, first, berlin, NULL, NULL);
	bool in_second = mb_quiet_hours_active(&q, second, berlin, &end, NULL);
	ck_assert_msg(in_first != in_second, "quiet in %s of the two 02:15",
		in_first ? "both" : "neither");
	GDateTime *picked = g_date_time_new(berlin, 2026, 10, 25, 2, 15, 0);
	ck_assert(g_date_time_equal(picked, in_first ? first : second));
	g_date_time_unref(picked);
	if (end)
		g_date_time_unref(end);
	g_date_time_unref(first);
	g_date_time_unref(second);
	mb_quiet_hours_finish(&q);
}
END_TEST

static Suite *
quiet_suite(void)
{
	Suite *s = suite_create("quiet");
	TCase *tc = tcase_create("quiet");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_inside_outside);
	tcase_add_test(tc, test_across_midnight);
	tcase_add_test(tc, test_adjacent_overlapping);
	tcase_add_test(tc, test_time_zones);
	tcase_add_test(tc, test_dst_length);
	tcase_add_test(tc, test_dst_edges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(quiet_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
