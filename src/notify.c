#define G_LOG_DOMAIN "mailbell"

#include "notify.h"

#include "mb-config.h"

#if HAVE_LIBNOTIFY
#include <libnotify/notify.h>

static bool initialized;
static bool outage; /* warned about a missing service, not yet recovered */

bool mb_notify_init(void)
{
	if (!initialized)
		initialized = notify_init("mailbell");
	return initialized;
}

static bool show(const char *summary, const char *body_plain, const char *icon,
	const char *category, bool urgent)
{
	if (!initialized)
		return false;
	/* The body may be rendered as markup by the server (body-markup
	 * capability): escape so mail can't inject tags or links (H9). */
	char *body = g_markup_escape_text(body_plain ? body_plain : "", -1);
	NotifyNotification *n = notify_notification_new(summary, body, icon);
	g_free(body);
	if (category)
		notify_notification_set_category(n, category);
	notify_notification_set_urgency(n, urgent ? NOTIFY_URGENCY_CRITICAL : NOTIFY_URGENCY_NORMAL);
	notify_notification_set_hint(n, "desktop-entry", g_variant_new_string("mailbell"));
	GError *error = NULL;
	bool ok = notify_notification_show(n, &error);
	g_object_unref(n);
	if (!ok) {
		if (!outage)
			g_warning("cannot show a desktop notification (is a notification service running?): %s",
				error->message);
		else
			g_debug("notification not shown: %s", error->message);
		outage = true;
		g_error_free(error);
		return false;
	}
	if (outage)
		g_message("desktop notifications work again");
	outage = false;
	return true;
}

bool mb_notify_message(const struct mb_message *msg)
{
	const char *summary = *msg->from_name ? msg->from_name
		: *msg->from_address ? msg->from_address : msg->from;
	return show(summary, msg->subject, "mail-unread", "email.arrived", false);
}

bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent)
{
	return show(summary, body, urgent ? "dialog-warning" : "mail-unread", category, urgent);
}

void mb_notify_shutdown(void)
{
	if (initialized)
		notify_uninit();
	initialized = false;
}

#else

bool mb_notify_init(void)
{
	return false;
}

bool mb_notify_message(const struct mb_message *msg)
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
