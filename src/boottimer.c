#define G_LOG_DOMAIN "mailbell"

#include "boottimer.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

struct boottimer {
	GSource source;
	int fd;
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

static gboolean dispatch(GSource *source, GSourceFunc func, gpointer data)
{
	struct boottimer *t = (struct boottimer *)source;
	uint64_t expirations;
	/* nothing to read: not expired after all, so keep waiting */
	if (read(t->fd, &expirations, sizeof expirations) != sizeof expirations)
		return G_SOURCE_CONTINUE;
	if (func)
		func(data);
	return G_SOURCE_REMOVE;
}

static void finalize(GSource *source)
{
	struct boottimer *t = (struct boottimer *)source;
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
	g_source_add_unix_fd(source, fd, G_IO_IN);
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
