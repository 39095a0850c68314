#define G_LOG_DOMAIN "mailbell"

#include "quiet.h"

#include <string.h>

#define DAY_MINUTES (24 * 60)

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* "H:MM" or "HH:MM" at *sp into minutes after midnight, 24:00 included.
 * Advances *sp past the digits even when the time is out of range, which
 * *bad_r then says (it stays false otherwise). */
static bool
parse_time(const char **sp, unsigned *minutes_r, bool *bad_r)
{
	const char *s = *sp;
	unsigned hour = 0;
	int digits = 0;
	for (; g_ascii_isdigit(*s) && digits < 2; s++, digits++)
		hour = hour * 10 + (unsigned)(*s - '0');
	if (digits == 0 || *s != ':' || !g_ascii_isdigit(s[1]) || !g_ascii_isdigit(s[2]))
		return false;
	unsigned minute = (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
	*sp = s + 3;
	*bad_r = hour > 24 || minute > 59 || (hour == 24 && minute != 0);
	*minutes_r = hour * 60 + minute;
	return true;
}

/* One trimmed item, "HH:MM-HH:MM". */
static bool
parse_range(const char *item, struct mb_quiet_range *r, char **errstr_r)
{
	const char *s = item, *t1 = s, *t2 = NULL, *t2_end = NULL;
	bool bad1 = false, bad2 = false;
	bool ok = parse_time(&s, &r->start, &bad1);
	const char *t1_end = s;
	while (ok && is_blank(*s))
		s++;
	ok = ok && *s++ == '-';
	while (ok && is_blank(*s))
		s++;
	if (ok) {
		t2 = s;
		ok = parse_time(&s, &r->end, &bad2) && *s == '\0';
		t2_end = s;
	}
	char *err = NULL;
	if (!ok)
		err = g_strdup_printf("'%s' is not HH:MM-HH:MM (e.g. 22:00-07:00)", item);
	else if (bad1 || bad2)
		err = g_strdup_printf("%.*s is not a time of day (00:00 to 23:59, or 24:00 as an end)",
			bad1 ? (int)(t1_end - t1) : (int)(t2_end - t2), bad1 ? t1 : t2);
	else if (r->start == 24 * 60)
		err = g_strdup("a range cannot start at 24:00");
	else if (r->start == r->end)
		err = g_strdup_printf("%s starts and ends at the same time", item);
	if (!err)
		return true;
	if (errstr_r)
		*errstr_r = err;
	else
		g_free(err);
	return false;
}

bool
mb_quiet_hours_parse(const char *text, struct mb_quiet_hours *out, char **errstr_r)
{
	out->n = 0;
	out->ranges = NULL;
	if (errstr_r)
		*errstr_r = NULL;
	if (!text)
		return true;
	const char *t = text;
	while (is_blank(*t))
		t++;
	if (*t == '\0')
		return true;

	GArray *ranges = g_array_new(FALSE, FALSE, sizeof(struct mb_quiet_range));
	char **items = g_strsplit(text, ",", -1);
	bool ok = true;
	for (char **item = items; *item && ok; item++) {
		g_strstrip(*item);
		struct mb_quiet_range r;
		if (**item == '\0') {
			if (errstr_r)
				*errstr_r = g_strdup("empty item");
			ok = false;
		} else if ((ok = parse_range(*item, &r, errstr_r))) {
			g_array_append_val(ranges, r);
		}
	}
	g_strfreev(items);
	if (!ok) {
		g_array_free(ranges, TRUE);
		return false;
	}
	out->n = ranges->len;
	out->ranges = (struct mb_quiet_range *)(void *)g_array_free(ranges, FALSE);
	return true;
}

void
mb_quiet_hours_finish(struct mb_quiet_hours *q)
{
	if (!q)
		return;
	g_free(q->ranges);
	q->ranges = NULL;
	q->n = 0;
}

bool
mb_quiet_hours_equal(const struct mb_quiet_hours *a, const struct mb_quiet_hours *b)
{
	size_t na = a ? a->n : 0, nb = b ? b->n : 0;
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (a->ranges[i].start != b->ranges[i].start || a->ranges[i].end != b->ranges[i].end)
			return false;
	}
	return true;
}

char *
mb_quiet_hours_format(const struct mb_quiet_hours *q)
{
	GString *s = g_string_new(NULL);
	for (size_t i = 0; q && i < q->n; i++) {
		const struct mb_quiet_range *r = &q->ranges[i];
		g_string_append_printf(s, "%s%02u:%02u-%02u:%02u", i ? ", " : "", r->start / 60, r->start % 60,
			r->end / 60, r->end % 60);
	}
	return g_string_free(s, FALSE);
}

/* Whether the ranges cover every minute of the wall-clock day, so that quiet
 * never ends. */
static bool
covers_day(const struct mb_quiet_hours *q)
{
	bool minute[DAY_MINUTES] = { false };
	for (size_t i = 0; i < q->n; i++) {
		unsigned start = q->ranges[i].start, end = q->ranges[i].end;
		unsigned len = end > start ? end - start : end + DAY_MINUTES - start;
		for (unsigned k = 0; k < len; k++)
			minute[(start + k) % DAY_MINUTES] = true;
	}
	for (unsigned m = 0; m < DAY_MINUTES; m++) {
		if (!minute[m])
			return false;
	}
	return true;
}

static gint64
usec(GDateTime *t)
{
	return g_date_time_to_unix(t) * G_USEC_PER_SEC + g_date_time_get_microsecond(t);
}

/* The wall-clock time minutes (0..1440) after the midnight that starts the
 * day `days` after day, resolved in tz by g_date_time_new(). NULL outside
 * GDateTime's years. */
static GDateTime *
wall_time(GTimeZone *tz, const GDate *day, int days, unsigned minutes)
{
	GDate d = *day;
	days += (int)(minutes / DAY_MINUTES);
	minutes %= DAY_MINUTES;
	if (days > 0)
		g_date_add_days(&d, (guint)days);
	else if (days < 0)
		g_date_subtract_days(&d, (guint)-days);
	if (!g_date_valid(&d))
		return NULL;
	return g_date_time_new(tz, g_date_get_year(&d), g_date_get_month(&d), g_date_get_day(&d),
		(gint)(minutes / 60), (gint)(minutes % 60), 0);
}

/* A range on one actual day, as two instants. */
struct span {
	GDateTime *start, *end;
	gint64 start_us, end_us;
};

static void
span_clear(gpointer data)
{
	struct span *sp = data;
	g_date_time_unref(sp->start);
	g_date_time_unref(sp->end);
}

bool
mb_quiet_hours_active(const struct mb_quiet_hours *q, GDateTime *now, GTimeZone *tz,
	GDateTime **end_r, GDateTime **next_start_r)
{
	if (end_r)
		*end_r = NULL;
	if (next_start_r)
		*next_start_r = NULL;
	if (!q || q->n == 0)
		return false;
	if (covers_day(q))
		return true;

	GDateTime *local = g_date_time_to_timezone(now, tz);
	if (!local)
		return false;
	gint y, m, d;
	g_date_time_get_ymd(local, &y, &m, &d);
	g_date_time_unref(local);
	GDate today;
	g_date_clear(&today, 1);
	g_date_set_dmy(&today, (GDateDay)d, (GDateMonth)m, (GDateYear)y);
	gint64 now_us = usec(now);

	/* Yesterday's ranges may reach into today. Without a range that covers
	 * the whole day there is a gap every day; the days after today reach
	 * past the next gap even when a clock change swallows one. */
	GArray *spans = g_array_new(FALSE, FALSE, sizeof(struct span));
	g_array_set_clear_func(spans, span_clear);
	for (int day = -1; day <= 3; day++) {
		for (size_t i = 0; i < q->n; i++) {
			const struct mb_quiet_range *r = &q->ranges[i];
			struct span sp = {
				.start = wall_time(tz, &today, day, r->start),
				.end = wall_time(tz, &today, day + (r->end < r->start ? 1 : 0), r->end),
			};
			if (sp.start && sp.end) {
				sp.start_us = usec(sp.start);
				sp.end_us = usec(sp.end);
			}
			if (!sp.start || !sp.end || sp.end_us <= sp.start_us) {
				/* emptied by a clock change, or out of range */
				if (sp.start)
					g_date_time_unref(sp.start);
				if (sp.end)
					g_date_time_unref(sp.end);
				continue;
			}
			g_array_append_val(spans, sp);
		}
	}

	const struct span *end = NULL;
	for (guint i = 0; i < spans->len; i++) {
		const struct span *sp = &g_array_index(spans, struct span, i);
		if (sp->start_us <= now_us && now_us < sp->end_us && (!end || sp->end_us > end->end_us))
			end = sp;
	}
	bool active = end != NULL;
	if (active) {
		/* join the ranges that overlap or touch this one */
		for (bool grown = true; grown;) {
			grown = false;
			for (guint i = 0; i < spans->len; i++) {
				const struct span *sp = &g_array_index(spans, struct span, i);
				if (sp->start_us <= end->end_us && sp->end_us > end->end_us) {
					end = sp;
					grown = true;
				}
			}
		}
		if (end_r)
			*end_r = g_date_time_ref(end->end);
	} else {
		const struct span *next = NULL;
		for (guint i = 0; i < spans->len; i++) {
			const struct span *sp = &g_array_index(spans, struct span, i);
			if (sp->start_us > now_us && (!next || sp->start_us < next->start_us))
				next = sp;
		}
		if (next && next_start_r)
			*next_start_r = g_date_time_ref(next->start);
	}
	g_array_free(spans, TRUE);
	return active;
}
