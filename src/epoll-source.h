/* File descriptor watches through one shared epoll set on the GLib main loop.
 *
 * g_unix_fd_add() gives every watched descriptor its own GSource, and GLib
 * walks every source and polls every descriptor on every loop iteration:
 * with a thousand accounts (a socket and a timerfd each) one iteration costs
 * thousands of poll entries even when a single connection had bytes. Here all
 * watches live in one epoll set whose descriptor is the only one GLib polls;
 * an iteration costs in proportion to the descriptors that are ready.
 *
 * Level-triggered, like g_unix_fd_add(): a callback that leaves data unread
 * runs again at the next iteration. At most a fixed number of ready watches
 * run per dispatch; the rest run at the next iteration (the set stays
 * readable). Everything runs in the global default main context and must be
 * called from the thread that runs it (the main thread): not thread-safe. */
#ifndef MB_EPOLL_SOURCE_H
#define MB_EPOLL_SOURCE_H

#include <stdbool.h>
#include <glib.h>

struct mb_epoll_watch;

/* Called from the main loop when fd is ready. cond holds what happened:
 * G_IO_IN, G_IO_OUT, G_IO_PRI, and G_IO_HUP or G_IO_ERR (reported whether
 * asked for or not). The callback may add, modify or remove any watch, its
 * own included. */
typedef void (*mb_epoll_func)(int fd, GIOCondition cond, void *data);

/* Starts watching fd for events (any of G_IO_IN, G_IO_OUT, G_IO_PRI; 0
 * watches for G_IO_HUP and G_IO_ERR only) and returns the watch, owned by
 * the caller until mb_epoll_watch_remove(). fd stays the caller's: remove the
 * watch before closing it (epoll forgets a closed descriptor by itself, but a
 * new one given the same number must not be mistaken for it). The first call
 * creates the epoll set and attaches its source to the default main context;
 * both live until the process exits. Returns NULL and sets *error
 * (G_IO_ERROR, from errno) when the set cannot be created or fd cannot be
 * added (EBADF, EPERM for a regular file, EEXIST when fd is watched
 * already, ENOMEM, ENOSPC past fs.epoll.max_user_watches). */
struct mb_epoll_watch *mb_epoll_watch_add(int fd, GIOCondition events, mb_epoll_func func,
	void *data, GError **error);

/* Changes what the watch waits for (as in mb_epoll_watch_add()). Cheap when
 * events did not change (no system call). Returns false and sets *error when
 * the kernel refuses (ENOMEM); the watch keeps its former events then. */
bool mb_epoll_watch_modify(struct mb_epoll_watch *watch, GIOCondition events, GError **error);

/* What the watch waits for now. */
GIOCondition mb_epoll_watch_events(const struct mb_epoll_watch *watch);

/* Stops watching and frees watch: its callback never runs again, even for an
 * event already collected in the current dispatch. Safe from inside any
 * callback, the watch's own included. NULL is a no-op. */
void mb_epoll_watch_remove(struct mb_epoll_watch *watch);

#endif
