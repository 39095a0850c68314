#define G_LOG_DOMAIN "mailbell"

#include "notify.h"
#include "text.h"

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

static bool enqueue(const char *summary, const char *body, const char *icon,
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

bool mb_notify_message(const struct mb_message *msg, enum mb_urgency urgency)
{
	const char *summary = *msg->from_name ? msg->from_name
		: *msg->from_address ? msg->from_address : msg->from;
	/* The preview goes under the subject, on its own line; both are
	 * escaped in show(). */
	char *body = *msg->preview ? g_strdup_printf("%s\n%s", msg->subject, msg->preview)
		: g_strdup(msg->subject);
	bool ok = enqueue(summary, body, "mail-unread", "email.arrived", urgency);
	g_free(body);
	return ok;
}

bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent)
{
	return enqueue(summary, body, urgent ? "dialog-warning" : "mail-unread", category,
		urgent ? MB_URGENCY_CRITICAL : MB_URGENCY_UNSET);
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

bool mb_notify_message(const struct mb_message *msg, enum mb_urgency urgency)
{
	return false;
}

bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent)
{
	return false;
}

void mb_notify_shutdown(void)
{
}

#endif
