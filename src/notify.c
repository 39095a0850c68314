#define G_LOG_DOMAIN "mailbell"

#include "notify.h"
#include "text.h"
#include "quiet.h"
#include "state.h"

#include "mb-config.h"

#if HAVE_LIBNOTIFY
#include <libnotify/notify.h>

/* libnotify's show is a synchronous D-Bus call: a hung notification service
 * would freeze IDLE, hooks and signals for 25 s a message. So every call to
 * libnotify after notify_init() happens on one worker thread, in order; the
 * main loop only queues. */
#define QUEUE_MAX 32      /* notifications waiting; more are dropped */
#define SUMMARY_MAX 256   /* octets */
#define BODY_MAX 2048
#define SHUTDOWN_WAIT 2   /* seconds for queued notifications at exit */

struct note {
	char *summary;
	char *body;       /* plain text */
	const char *icon;
	const char *category;
	enum mb_urgency urgency;
};

static bool initialized;
static GThreadPool *pool;
static gint queued;
static bool outage; /* worker thread only: warned about a missing service */

static void note_free(struct note *n)
{
	g_free(n->summary);
	g_free(n->body);
	g_free(n);
}

static void show(gpointer data, gpointer user_data)
{
	struct note *n = data;
	/* The body may be rendered as markup by the server (body-markup
	 * capability): escape so mail can't inject tags or links (H9). */
	char *body = g_markup_escape_text(n->body, -1);
	NotifyNotification *nn = notify_notification_new(n->summary, body, n->icon);
	g_free(body);
	if (n->category)
		notify_notification_set_category(nn, n->category);
	notify_notification_set_urgency(nn, n->urgency == MB_URGENCY_CRITICAL ? NOTIFY_URGENCY_CRITICAL
		: n->urgency == MB_URGENCY_LOW ? NOTIFY_URGENCY_LOW : NOTIFY_URGENCY_NORMAL);
	notify_notification_set_hint(nn, "desktop-entry", g_variant_new_string("mailbell"));
	GError *error = NULL;
	if (!notify_notification_show(nn, &error)) {
		if (!outage)
			g_warning("cannot show a desktop notification (is a notification service running?): %s",
				error->message);
		else
			g_debug("notification not shown: %s", error->message);
		outage = true;
		g_error_free(error);
	} else {
		if (outage)
			g_message("desktop notifications work again");
		outage = false;
	}
	g_object_unref(nn);
	note_free(n);
	g_atomic_int_add(&queued, -1);
}

bool mb_notify_init(void)
{
	if (!initialized) {
		initialized = notify_init("mailbell");
		if (initialized)
			pool = g_thread_pool_new(show, NULL, 1, TRUE, NULL);
	}
	return initialized;
}

static bool show_now(const char *summary, const char *body, const char *icon,
	const char *category, enum mb_urgency urgency)
{
	if (!initialized)
		return false;
	if (g_atomic_int_get(&queued) >= QUEUE_MAX) {
		g_debug("notification dropped: %d still waiting for the notification service", QUEUE_MAX);
		return false;
	}
	struct note *n = g_new0(struct note, 1);
	n->summary = mb_text_ellipsize(summary, SUMMARY_MAX);
	n->body = mb_text_ellipsize(body ? body : "", BODY_MAX);
	n->icon = icon;
	n->category = category;
	n->urgency = urgency;
	g_atomic_int_inc(&queued);
	g_thread_pool_push(pool, n, NULL);
	return true;
}

void mb_notify_shutdown(void)
{
	if (!initialized)
		return;
	/* Queued notifications count as shown in the state file: give a
	 * working service a moment to take them, but don't wait for a hung
	 * one; the process is about to exit. */
	gint64 until = g_get_monotonic_time() + SHUTDOWN_WAIT * G_USEC_PER_SEC;
	while (g_atomic_int_get(&queued) > 0 && g_get_monotonic_time() < until)
		g_usleep(10000);
	bool idle = g_atomic_int_get(&queued) == 0;
	g_thread_pool_free(pool, !idle, idle);
	if (idle)
		notify_uninit();
	initialized = false;
}

#else

bool mb_notify_init(void)
{
	return false;
}

static bool show_now(const char *summary, const char *body, const char *icon,
	const char *category, enum mb_urgency urgency)
{
	return false;
}

void mb_notify_shutdown(void)
{
}

#endif

/* --- holding: pause and quiet hours (main thread only) ----------------------
 * While notifications are paused, or an account is in its quiet hours, its
 * new-mail notifications are counted instead of shown; when the reason ends
 * one summary says what arrived. Hooks never see any of this. Timers run
 * only at the few moments something changes (the pause's end, each quiet
 * period's start and end), never periodically. */

struct quiet {
	struct mb_quiet_hours hours;
	guint timer;          /* at the next start or end */
};

static struct mb_state *store;     /* where the pause is kept, or NULL */
static bool paused;
static gint64 paused_until;        /* Unix seconds, 0: until resumed */
static guint pause_timer;
static GHashTable *held;           /* account -> count (GUINT_TO_POINTER) */
static GHashTable *quiets;         /* account -> struct quiet * */
static GTimeZone *local_tz;
static void (*changed_fn)(void *);
static void *changed_data;

static void quiet_free(struct quiet *q)
{
	g_clear_handle_id(&q->timer, g_source_remove);
	mb_quiet_hours_finish(&q->hours);
	g_free(q);
}

static void init_tables(void)
{
	if (held)
		return;
	held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	quiets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)quiet_free);
	local_tz = g_time_zone_new_local();
}

static void changed(void)
{
	if (changed_fn)
		changed_fn(changed_data);
}

static void save_pause(void)
{
	GError *error = NULL;
	if (store && !mb_state_set_pause(store, paused, paused_until, held, &error)) {
		g_warning("cannot save the notification pause: %s", error->message);
		g_error_free(error);
	}
}

bool mb_notify_quiet(const char *account, gint64 *end_r)
{
	init_tables();
	struct quiet *q = g_hash_table_lookup(quiets, account);
	if (!q)
		return false;
	GDateTime *now = g_date_time_new_now(local_tz);
	GDateTime *end = NULL;
	bool active = mb_quiet_hours_active(&q->hours, now, local_tz, &end, NULL);
	if (active && end_r)
		*end_r = g_date_time_to_unix(end);
	if (end)
		g_date_time_unref(end);
	g_date_time_unref(now);
	return active;
}

/* Shows one summary for every account whose reason to hold has ended. */
static void flush(const char *why)
{
	GString *parts = g_string_new(NULL);
	unsigned total = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, held);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (paused || mb_notify_quiet(k, NULL))
			continue;
		unsigned n = GPOINTER_TO_UINT(v);
		g_string_append_printf(parts, "%s%u %s", parts->len ? ", " : "", n, (const char *)k);
		total += n;
		g_hash_table_iter_remove(&it);
	}
	if (total > 0) {
		char *summary = g_strdup_printf("%u new message%s %s: %s", total, total == 1 ? "" : "s",
			why, parts->str);
		g_message("%s", summary);
		show_now(summary, "", "mail-unread", "email.arrived", MB_URGENCY_UNSET);
		g_free(summary);
	}
	g_string_free(parts, TRUE);
}

static void schedule_quiet(const char *account, struct quiet *q);

static gboolean on_quiet_change(gpointer data)
{
	const char *account = data; /* the key in quiets: lives as long as q */
	struct quiet *q = g_hash_table_lookup(quiets, account);
	if (!q)
		return G_SOURCE_REMOVE;
	q->timer = 0;
	if (!mb_notify_quiet(account, NULL))
		flush("during quiet hours");
	schedule_quiet(account, q);
	changed();
	return G_SOURCE_REMOVE;
}

static void schedule_quiet(const char *account, struct quiet *q)
{
	g_clear_handle_id(&q->timer, g_source_remove);
	GDateTime *now = g_date_time_new_now(local_tz);
	GDateTime *end = NULL, *next = NULL;
	mb_quiet_hours_active(&q->hours, now, local_tz, &end, &next);
	GDateTime *at = end ? end : next;
	if (at) {
		GTimeSpan us = g_date_time_difference(at, now);
		/* a second late rather than early: then the period is over */
		guint secs = (guint)MIN(MAX(us / G_USEC_PER_SEC + 1, 1), (GTimeSpan)G_MAXUINT / 2);
		q->timer = g_timeout_add_seconds(secs, on_quiet_change, (gpointer)account);
	}
	if (end)
		g_date_time_unref(end);
	if (next)
		g_date_time_unref(next);
	g_date_time_unref(now);
}

void mb_notify_set_quiet_hours(const char *account, const struct mb_quiet_hours *hours)
{
	init_tables();
	g_hash_table_remove(quiets, account);
	if (hours && hours->n > 0) {
		struct quiet *q = g_new0(struct quiet, 1);
		q->hours.n = hours->n;
		q->hours.ranges = g_memdup2(hours->ranges, hours->n * sizeof hours->ranges[0]);
		char *key = g_strdup(account);
		g_hash_table_insert(quiets, key, q);
		schedule_quiet(key, q);
	}
	/* mail held under hours that no longer apply is shown now */
	flush("during quiet hours");
}

static gboolean on_pause_over(gpointer data)
{
	pause_timer = 0;
	g_message("the notification pause has ended");
	mb_notify_resume();
	return G_SOURCE_REMOVE;
}

void mb_notify_pause(gint64 until)
{
	init_tables();
	paused = true;
	paused_until = until;
	g_clear_handle_id(&pause_timer, g_source_remove);
	if (until > 0) {
		gint64 left = until - g_get_real_time() / G_USEC_PER_SEC;
		pause_timer = g_timeout_add_seconds((guint)CLAMP(left, 0, (gint64)G_MAXUINT / 2),
			on_pause_over, NULL);
	}
	save_pause();
	changed();
}

void mb_notify_resume(void)
{
	init_tables();
	if (!paused)
		return;
	paused = false;
	paused_until = 0;
	g_clear_handle_id(&pause_timer, g_source_remove);
	flush("while paused");
	save_pause(); /* removes the file */
	changed();
}

bool mb_notify_paused(gint64 *until_r)
{
	if (paused && until_r)
		*until_r = paused_until;
	return paused;
}

unsigned mb_notify_held(const char *account)
{
	init_tables();
	if (account)
		return GPOINTER_TO_UINT(g_hash_table_lookup(held, account));
	unsigned n = 0;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, held);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += GPOINTER_TO_UINT(v);
	return n;
}

void mb_notify_hold_init(struct mb_state *state, void (*fn)(void *), void *data)
{
	init_tables();
	store = state;
	changed_fn = fn;
	changed_data = data;
	gint64 until = 0;
	if (state && mb_state_get_pause(state, &until, held)) {
		gint64 now = g_get_real_time() / G_USEC_PER_SEC;
		if (until != 0 && until <= now) {
			/* it ended while mailbell was not running */
			paused = true;
			mb_notify_resume();
		} else {
			if (until) {
				GDateTime *t = g_date_time_new_from_unix_local(until);
				char *text = g_date_time_format(t, "%F %R");
				g_message("notifications are paused until %s", text);
				g_free(text);
				g_date_time_unref(t);
			} else {
				g_message("notifications are paused until resumed");
			}
			mb_notify_pause(until);
		}
	}
}

/* Counts n notifications of account instead of showing them when it must
 * hold them; returns whether it did. */
static bool hold(const char *account, unsigned n)
{
	init_tables();
	if (!paused && !mb_notify_quiet(account, NULL))
		return false;
	guint have = GPOINTER_TO_UINT(g_hash_table_lookup(held, account));
	g_hash_table_insert(held, g_strdup(account), GUINT_TO_POINTER(have + n));
	if (paused)
		save_pause();
	changed();
	return true;
}

bool mb_notify_message(const struct mb_message *msg, enum mb_urgency urgency)
{
	if (hold(msg->account, 1)) {
		g_info("%s/%s uid %u: notification held (%s)", msg->account, msg->mailbox, msg->uid,
			paused ? "paused" : "quiet hours");
		return true;
	}
	const char *summary = *msg->from_name ? msg->from_name
		: *msg->from_address ? msg->from_address : msg->from;
	/* The preview goes under the subject, on its own line; both are
	 * escaped in show(). */
	char *body = *msg->preview ? g_strdup_printf("%s\n%s", msg->subject, msg->preview)
		: g_strdup(msg->subject);
	bool ok = show_now(summary, body, "mail-unread", "email.arrived", urgency);
	g_free(body);
	return ok;
}

bool mb_notify_batch(const char *account, const char *mailbox, unsigned n, bool catchup)
{
	if (hold(account, n))
		return true;
	char *summary = g_strdup_printf("%u new messages in %s/%s%s", n, account, mailbox,
		catchup ? " while offline" : "");
	bool ok = show_now(summary, "", "mail-unread", "email.arrived", MB_URGENCY_UNSET);
	g_free(summary);
	return ok;
}

bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent)
{
	return show_now(summary, body, urgent ? "dialog-warning" : "mail-unread", category,
		urgent ? MB_URGENCY_CRITICAL : MB_URGENCY_UNSET);
}
