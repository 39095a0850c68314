#define G_LOG_DOMAIN "mailbell"

#include "epoll-source.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

/* Ready watches run per dispatch; more wait for the next iteration, so a
 * flood on many connections still lets timers and signals in between. */
#define MAX_EVENTS 128

struct mb_epoll_watch {
	int fd;
	GIOCondition events;
	mb_epoll_func func;
	void *data;
	bool removed;
};

struct epoll_source {
	GSource source;
	int epfd;
	unsigned dispatching;   /* depth of dispatch() on the stack */
	GPtrArray *removed;     /* watches removed during a dispatch, freed after it */
};

static struct epoll_source *shared;

static uint32_t to_epoll(GIOCondition events)
{
	uint32_t e = 0;
	if (events & G_IO_IN)
		e |= EPOLLIN;
	if (events & G_IO_OUT)
		e |= EPOLLOUT;
	if (events & G_IO_PRI)
		e |= EPOLLPRI;
	return e;
}

static GIOCondition to_cond(uint32_t e)
{
	GIOCondition c = 0;
	if (e & EPOLLIN)
		c |= G_IO_IN;
	if (e & EPOLLOUT)
		c |= G_IO_OUT;
	if (e & EPOLLPRI)
		c |= G_IO_PRI;
	if (e & EPOLLHUP)
		c |= G_IO_HUP;
	if (e & EPOLLERR)
		c |= G_IO_ERR;
	return c;
}

static gboolean dispatch(GSource *source, GSourceFunc func, gpointer data)
{
	struct epoll_source *es = (struct epoll_source *)source;
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(es->epfd, ev, MAX_EVENTS, 0);
	if (n < 0) {
		if (errno != EINTR)
			g_warning("epoll_wait: %s", g_strerror(errno));
		return G_SOURCE_CONTINUE;
	}
	/* A callback may remove any watch, one whose event is still in ev[]
	 * among them: such a watch is only marked here and freed below. */
	es->dispatching++;
	for (int i = 0; i < n; i++) {
		struct mb_epoll_watch *w = ev[i].data.ptr;
		if (!w->removed)
			w->func(w->fd, to_cond(ev[i].events), w->data);
	}
	if (--es->dispatching == 0)
		g_ptr_array_set_size(es->removed, 0);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs funcs = {
	.dispatch = dispatch,
	/* no prepare or check: GLib dispatches the source when the epoll
	 * descriptor polled readable */
};

static struct epoll_source *get_shared(GError **error)
{
	if (shared)
		return shared;
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "epoll_create1: %s",
			g_strerror(e));
		return NULL;
	}
	GSource *source = g_source_new(&funcs, sizeof(struct epoll_source));
	struct epoll_source *es = (struct epoll_source *)source;
	es->epfd = epfd;
	es->removed = g_ptr_array_new_with_free_func(g_free);
	g_source_add_unix_fd(source, epfd, G_IO_IN);
	g_source_set_name(source, "mb-epoll");
	g_source_set_can_recurse(source, FALSE);
	g_source_attach(source, NULL);
	/* the default context holds the only reference from now on */
	g_source_unref(source);
	shared = es;
	return es;
}

static bool ctl(int op, struct mb_epoll_watch *w, GIOCondition events, GError **error)
{
	struct epoll_event ev = { .events = to_epoll(events), .data.ptr = w };
	if (epoll_ctl(shared->epfd, op, w->fd, &ev) == 0)
		return true;
	int e = errno;
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "epoll_ctl(%d) on fd %d: %s",
		op, w->fd, g_strerror(e));
	return false;
}

struct mb_epoll_watch *mb_epoll_watch_add(int fd, GIOCondition events, mb_epoll_func func,
	void *data, GError **error)
{
	if (!get_shared(error))
		return NULL;
	struct mb_epoll_watch *w = g_new0(struct mb_epoll_watch, 1);
	w->fd = fd;
	w->events = events;
	w->func = func;
	w->data = data;
	if (!ctl(EPOLL_CTL_ADD, w, events, error)) {
		g_free(w);
		return NULL;
	}
	return w;
}

bool mb_epoll_watch_modify(struct mb_epoll_watch *watch, GIOCondition events, GError **error)
{
	if (watch->events == events)
		return true;
	if (!ctl(EPOLL_CTL_MOD, watch, events, error))
		return false;
	watch->events = events;
	return true;
}

GIOCondition mb_epoll_watch_events(const struct mb_epoll_watch *watch)
{
	return watch->events;
}

void mb_epoll_watch_remove(struct mb_epoll_watch *watch)
{
	if (!watch)
		return;
	/* Fails only when the descriptor was closed already, which took it
	 * out of the set. */
	epoll_ctl(shared->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
	watch->removed = true;
	if (shared->dispatching)
		g_ptr_array_add(shared->removed, watch);
	else
		g_free(watch);
}
