/* One-shot deadlines on CLOCK_BOOTTIME for the GLib main loop.
 *
 * g_timeout_add_seconds() counts CLOCK_MONOTONIC, which stops while the
 * machine is suspended: a keepalive due in 5 minutes still waits 5 minutes
 * after a night asleep. CLOCK_BOOTTIME keeps counting during suspend, so a
 * deadline that passed while the machine slept fires as soon as it resumes.
 * Each timer is a timerfd in the shared epoll set (epoll-source.h): no
 * wake-up before it is due. */
#ifndef MB_BOOTTIMER_H
#define MB_BOOTTIMER_H

#include <stdbool.h>
#include <glib.h>

/* CLOCK_BOOTTIME now, in microseconds. */
gint64 mb_boottimer_now(void);

/* A reusable one-shot timer on CLOCK_BOOTTIME for a deadline that is armed
 * and disarmed often (each command's, each keepalive): one timerfd for its
 * whole life, in the shared epoll set, and no GLib source of its own, so a
 * thousand sessions' timers cost a main loop iteration nothing while they
 * wait. Same thread and context rules as epoll-source.h. */
struct mb_timer;

/* A disarmed timer that calls func(data) (the return value is ignored) from
 * the main loop each time an arming expires. Never NULL: without a timerfd
 * (out of descriptors) it logs a warning once and counts CLOCK_MONOTONIC with
 * a GLib timeout instead, which does not count time asleep. Free with
 * mb_timer_free(). */
struct mb_timer *mb_timer_new(GSourceFunc func, gpointer data);

/* (Re)arms the timer to fire once, seconds from now; an earlier arming is
 * replaced. */
void mb_timer_arm(struct mb_timer *t, unsigned seconds);

/* Disarms the timer: func does not run until it is armed again, even if it
 * expired in the current loop iteration. */
void mb_timer_disarm(struct mb_timer *t);

/* Whether the timer is armed (and has not fired since). */
bool mb_timer_armed(const struct mb_timer *t);

/* Disarms and frees t, from anywhere, its own callback included. NULL is a
 * no-op. */
void mb_timer_free(struct mb_timer *t);

#endif
