#define G_LOG_DOMAIN "mailbell"

#include "boottimer.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "epoll-source.h"

/* The timerfd sits in the shared epoll set (epoll-source.h), not in GLib's
 * own poll: every idle account has a keepalive deadline, and GLib would
 * poll them all at each iteration. When it expires the source is made ready
 * (ready time 0) and GLib dispatches it; the source itself has no fd. */
struct boottimer {
	GSource source;
	int fd;
	struct mb_epoll_watch *watch;   /* NULL: expired, or the fd is in GLib's poll */
};

struct once {
	GSourceFunc func;
	gpointer data;
};

gint64 mb_boottimer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static bool expired(struct boottimer *t)
{
	uint64_t expirations;
	/* nothing to read: not expired after all, so keep waiting */
	return read(t->fd, &expirations, sizeof expirations) == sizeof expirations;
}

static void on_expiry(int fd, GIOCondition cond, void *data)
{
	struct boottimer *t = data;
	if (!expired(t))
		return;
	mb_epoll_watch_remove(t->watch);
	t->watch = NULL;
	g_source_set_ready_time(&t->source, 0);
}

static gboolean dispatch(GSource *source, GSourceFunc func, gpointer data)
{
	struct boottimer *t = (struct boottimer *)source;
	/* in GLib's poll (no epoll set): the fd polled readable */
	if (t->watch == NULL && g_source_get_ready_time(source) != 0 && !expired(t))
		return G_SOURCE_CONTINUE;
	if (func)
		func(data);
	return G_SOURCE_REMOVE;
}

static void finalize(GSource *source)
{
	struct boottimer *t = (struct boottimer *)source;
	mb_epoll_watch_remove(t->watch);
	if (t->fd >= 0)
		close(t->fd);
}

static GSourceFuncs funcs = {
	.dispatch = dispatch,
	.finalize = finalize,
	/* no prepare or check: GLib dispatches a source whose fd polled ready */
};

static gboolean call_once(gpointer data)
{
	struct once *o = data;
	o->func(o->data);
	return G_SOURCE_REMOVE;
}

guint mb_boottimer_add_at(gint64 at, GSourceFunc func, gpointer data)
{
	int fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = { 0 };
	/* it_value 0 would disarm the timer: a past deadline is 1 ns */
	gint64 us = MAX(at, 0);
	its.it_value.tv_sec = us / G_USEC_PER_SEC;
	its.it_value.tv_nsec = (long)(us % G_USEC_PER_SEC) * 1000;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (fd < 0 || timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		gint64 left = at - mb_boottimer_now();
		g_warning("cannot make a CLOCK_BOOTTIME timer (%s): this deadline does not count "
			"time asleep", g_strerror(e));
		struct once *o = g_new(struct once, 1);
		o->func = func;
		o->data = data;
		return g_timeout_add_full(G_PRIORITY_DEFAULT,
			(guint)CLAMP((left + 999) / 1000, 0, (gint64)G_MAXUINT), call_once, o, g_free);
	}
	GSource *source = g_source_new(&funcs, sizeof(struct boottimer));
	struct boottimer *t = (struct boottimer *)source;
	t->fd = fd;
	GError *error = NULL;
	t->watch = mb_epoll_watch_add(fd, G_IO_IN, on_expiry, t, &error);
	if (!t->watch) {
		g_debug("boottimer: %s; polling the timerfd on its own", error->message);
		g_error_free(error);
		g_source_add_unix_fd(source, fd, G_IO_IN);
	}
	g_source_set_callback(source, func, data, NULL);
	g_source_set_name(source, "mb-boottimer");
	guint id = g_source_attach(source, NULL);
	g_source_unref(source);
	return id;
}

guint mb_boottimer_add_seconds(unsigned seconds, GSourceFunc func, gpointer data)
{
	return mb_boottimer_add_at(mb_boottimer_now() + (gint64)seconds * G_USEC_PER_SEC, func, data);
}

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
