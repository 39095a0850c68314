#define G_LOG_DOMAIN "mailbell"

#include "boottimer.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "epoll-source.h"

gint64 mb_boottimer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* The timerfd sits in the shared epoll set (epoll-source.h), not in GLib's
 * own poll: every idle account has a keepalive deadline and a command
 * deadline, and GLib would poll them all at each iteration. */
struct mb_timer {
	GSourceFunc func;
	gpointer data;
	int fd;                         /* -1: the fallback */
	struct mb_epoll_watch *watch;
	guint fallback;                 /* GLib timeout id when there is no fd */
	bool armed;
};

static void timer_expired(int fd, GIOCondition cond, void *data)
{
	struct mb_timer *t = data;
	uint64_t expirations;
	if (read(t->fd, &expirations, sizeof expirations) != sizeof expirations || !t->armed)
		return; /* rearmed or disarmed since it expired */
	t->armed = false;
	t->func(t->data); /* may free t */
}

static gboolean timer_fallback(gpointer data)
{
	struct mb_timer *t = data;
	t->fallback = 0;
	t->armed = false;
	t->func(t->data);
	return G_SOURCE_REMOVE;
}

struct mb_timer *mb_timer_new(GSourceFunc func, gpointer data)
{
	struct mb_timer *t = g_new0(struct mb_timer, 1);
	t->func = func;
	t->data = data;
	t->fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	GError *error = NULL;
	if (t->fd >= 0)
		t->watch = mb_epoll_watch_add(t->fd, G_IO_IN, timer_expired, t, &error);
	if (!t->watch) {
		static bool told;
		if (!told)
			g_warning("cannot make a CLOCK_BOOTTIME timer (%s): deadlines do not count time "
				"asleep", error ? error->message : g_strerror(errno));
		told = true;
		g_clear_error(&error);
		if (t->fd >= 0)
			close(t->fd);
		t->fd = -1;
	}
	return t;
}

void mb_timer_disarm(struct mb_timer *t)
{
	if (!t->armed)
		return;
	t->armed = false;
	if (t->fd >= 0) {
		struct itimerspec its = { 0 };
		timerfd_settime(t->fd, 0, &its, NULL);
	}
	g_clear_handle_id(&t->fallback, g_source_remove);
}

void mb_timer_arm(struct mb_timer *t, unsigned seconds)
{
	mb_timer_disarm(t);
	t->armed = true;
	if (t->fd >= 0) {
		struct itimerspec its = { .it_value.tv_sec = seconds };
		if (seconds == 0)
			its.it_value.tv_nsec = 1; /* 0 would disarm */
		if (timerfd_settime(t->fd, 0, &its, NULL) == 0)
			return;
		g_warning("timerfd_settime: %s", g_strerror(errno));
	}
	t->fallback = g_timeout_add_seconds(seconds, timer_fallback, t);
}

bool mb_timer_armed(const struct mb_timer *t)
{
	return t->armed;
}

void mb_timer_free(struct mb_timer *t)
{
	if (!t)
		return;
	mb_timer_disarm(t);
	mb_epoll_watch_remove(t->watch);
	if (t->fd >= 0)
		close(t->fd);
	g_free(t);
}
