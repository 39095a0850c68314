/* The control interface: mailbell owns the well-known name
 * org.mailbell.Mailbell on the session bus and serves the interface
 * org.mailbell.Mailbell1 at /org/mailbell/Mailbell (introspectable;
 * documented in mailbell(1), CONTROL):
 *
 *   GetStatus() -> s json      everything "mailbell ctl status" shows
 *   Pause(t seconds)           notifications off (0: until Resume)
 *   Resume()
 *   Reconnect(s account)       "" for every account
 *   Reload()                   errors: org.mailbell.Mailbell1.Error.Config
 *   properties Version s, Paused b, PausedUntil t (Unix seconds, 0: until
 *   resumed or not paused), Held u
 *   signal StatusChanged()     something GetStatus shows has changed
 *
 * "mailbell ctl ..." is its client. Everything runs on the main loop; the
 * server never blocks on the bus. */
#ifndef MB_CTL_H
#define MB_CTL_H

#include <stdbool.h>
#include <glib.h>

#define MB_CTL_BUS_NAME "org.mailbell.Mailbell"
#define MB_CTL_OBJECT_PATH "/org/mailbell/Mailbell"
#define MB_CTL_INTERFACE "org.mailbell.Mailbell1"

/* What the daemon does for each method; data is given to every call. */
struct mb_ctl_handlers {
	/* The status document (newly allocated JSON, g_free). */
	char *(*status_json)(void *data);
	/* Reconnects account (every account for ""). Returns false and sets
	 * *error_r (g_free) for an unknown account. */
	bool (*reconnect)(const char *account, char **error_r, void *data);
	/* Re-reads the configuration. Returns false and sets *error_r
	 * (g_free) to "FILE:LINE: what is wrong" when it is rejected; the
	 * running configuration then stays. */
	bool (*reload)(char **error_r, void *data);
};

/* Starts owning the bus name (asynchronously; without a session bus, or
 * when another process owns the name, this is logged and mailbell runs on
 * without it). h is copied. Pause and Resume go to notify.c directly. */
void mb_ctl_start(const struct mb_ctl_handlers *h, void *data);

/* Emits StatusChanged and the changed properties, at most once per main
 * loop iteration however often it is called. */
void mb_ctl_status_changed(void);

/* Releases the name. */
void mb_ctl_stop(void);

/* "mailbell ctl ARGS...": args[0] is the subcommand (status [--json],
 * pause [DURATION], resume, reconnect [ACCOUNT], reload). Prints results
 * on stdout and errors on stderr; returns the exit status: 0, 64 (usage),
 * 69 (no mailbell on the session bus, or no bus), 78 (reload rejected the
 * configuration), 1 (another error reported by the daemon). */
int mb_ctl_client(int argc, char **args);

#endif
