#define G_LOG_DOMAIN "mailbell"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "account.h"
#include "config.h"
#include "hook.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "state.h"

/* Hooks allowed to run at once; more wait in order. */
#define HOOK_MAX_RUNNING 4
/* Seconds SIGTERM waits for LOGOUTs before exiting anyway. */
#define SHUTDOWN_GRACE 5
/* Seconds between checks of CLOCK_BOOTTIME against CLOCK_MONOTONIC, and the
 * gap between them that means the machine was suspended. */
#define SUSPEND_CHECK 10
#define SUSPEND_GAP 5

static GMainLoop *loop;
static GPtrArray *accounts;
static unsigned stopping_accounts;
static bool shutting_down;
static gint64 sleep_offset; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC, µs */

/* --- mailbell fetch ACCOUNT MAILBOX UID ---------------------------------- */

static void on_fetch_done(GBytes *raw, enum mb_account_fetch_status status, const char *error,
	void *data)
{
	int *exit_r = data;
	switch (status) {
	case MB_ACCOUNT_FETCH_OK: {
		gsize len;
		const char *buf = g_bytes_get_data(raw, &len);
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
			fprintf(stderr, "mailbell: cannot write the message: %s\n", g_strerror(errno));
			*exit_r = 74; /* EX_IOERR */
		} else {
			*exit_r = 0;
		}
		break;
	}
	case MB_ACCOUNT_FETCH_NOT_FOUND:
		fprintf(stderr, "mailbell: %s\n", error);
		*exit_r = 66; /* EX_NOINPUT */
		break;
	case MB_ACCOUNT_FETCH_AUTH_FAILED:
		fprintf(stderr, "mailbell: %s\n", error);
		*exit_r = 77; /* EX_NOPERM */
		break;
	case MB_ACCOUNT_FETCH_FAILED:
		fprintf(stderr, "mailbell: %s\n", error);
		*exit_r = 69; /* EX_UNAVAILABLE */
		break;
	}
	g_main_loop_quit(loop);
}

/* Writes one whole message to stdout over a short connection of its own;
 * touches no state, so it runs beside the daemon (from a hook, say). */
static int fetch_main(struct mb_config *config, char **args)
{
	const char *name = args[0], *mailbox = args[1];
	const struct mb_account_config *ac = NULL;
	for (guint i = 0; i < config->accounts->len && !ac; i++) {
		const struct mb_account_config *a = config->accounts->pdata[i];
		if (strcmp(a->name, name) == 0)
			ac = a;
	}
	if (!ac) {
		fprintf(stderr, "mailbell: %s: no [account %s] in the config\n", config->path, name);
		return 64; /* EX_USAGE */
	}
	char *end = NULL;
	errno = 0;
	guint64 uid = g_ascii_strtoull(args[2], &end, 10);
	if (!g_ascii_isdigit(args[2][0]) || *end || errno || uid == 0 || uid > UINT32_MAX) {
		fprintf(stderr, "mailbell: bad UID '%s': a number from 1 to %u\n", args[2], UINT32_MAX);
		return 64;
	}
	if (*mailbox == '\0') {
		fprintf(stderr, "mailbell: empty mailbox name\n");
		return 64;
	}
	mb_message_library_init();
	loop = g_main_loop_new(NULL, FALSE);
	int status = 69;
	struct mb_account *a = mb_account_create(config, ac, NULL);
	mb_account_fetch(a, mailbox, (uint32_t)uid, on_fetch_done, &status);
	g_main_loop_run(loop);
	mb_account_destroy(a);
	g_main_loop_unref(loop);
	return status;
}

static void quit(void)
{
	g_main_loop_quit(loop);
}

static void account_stopped(void *data)
{
	if (stopping_accounts > 0 && --stopping_accounts == 0)
		quit();
}

static gboolean on_grace_over(gpointer data)
{
	g_message("not every server answered LOGOUT in time; exiting");
	quit();
	return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
	if (shutting_down) {
		quit();
		return G_SOURCE_CONTINUE;
	}
	shutting_down = true;
	g_message("signal %d: logging out", GPOINTER_TO_INT(data));
	/* Hooks still queued are not started now (a backlog would fork
	 * hundreds at once); the state's hook_uid makes them run after the
	 * next start. */
	if (mb_hook_pending() > 0)
		g_message("%u hook(s) still queued or running; queued ones run at the next start",
			mb_hook_pending());
	stopping_accounts = accounts->len + 1;
	for (guint i = 0; i < accounts->len; i++)
		mb_account_stop(accounts->pdata[i], account_stopped, NULL);
	account_stopped(NULL); /* drop the +1 that kept it from quitting early */
	g_timeout_add_seconds(SHUTDOWN_GRACE, on_grace_over, NULL);
	return G_SOURCE_CONTINUE;
}

static void on_network_changed(GNetworkMonitor *monitor, gboolean available, gpointer data)
{
	if (shutting_down)
		return;
	g_info("network %s", available ? "changed" : "is down");
	for (guint i = 0; i < accounts->len; i++)
		mb_account_network_changed(accounts->pdata[i], available);
}

static void on_network_available(GObject *monitor, GParamSpec *pspec, gpointer data)
{
	on_network_changed(G_NETWORK_MONITOR(monitor),
		g_network_monitor_get_network_available(G_NETWORK_MONITOR(monitor)), data);
}

static void resumed(const char *how)
{
	if (shutting_down)
		return;
	g_message("%s: reconnecting every account", how);
	for (guint i = 0; i < accounts->len; i++)
		mb_account_resumed(accounts->pdata[i]);
}

/* For the user's own sleep or VPN scripts: reconnect now. */
static gboolean on_usr1(gpointer data)
{
	resumed("SIGUSR1");
	return G_SOURCE_CONTINUE;
}

static gint64 boot_minus_monotonic(void)
{
	struct timespec b, m;
	clock_gettime(CLOCK_BOOTTIME, &b);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((gint64)b.tv_sec - m.tv_sec) * G_USEC_PER_SEC + (b.tv_nsec - m.tv_nsec) / 1000;
}

/* CLOCK_MONOTONIC stops during suspend, CLOCK_BOOTTIME does not: the gap
 * between them grows by the time spent asleep. Works without logind. */
static gboolean on_suspend_check(gpointer data)
{
	gint64 now = boot_minus_monotonic();
	if (now - sleep_offset > (gint64)SUSPEND_GAP * G_USEC_PER_SEC) {
		sleep_offset = now;
		resumed("resumed from suspend (clock gap)");
	}
	sleep_offset = now;
	return G_SOURCE_CONTINUE;
}

static void on_prepare_for_sleep(GDBusConnection *bus, const char *sender, const char *path,
	const char *iface, const char *signal, GVariant *params, gpointer data)
{
	gboolean going_down = FALSE;
	if (g_variant_is_of_type(params, G_VARIANT_TYPE("(b)")))
		g_variant_get(params, "(b)", &going_down);
	if (!going_down) {
		sleep_offset = boot_minus_monotonic();
		resumed("resumed from suspend (logind)");
	}
}

static void on_system_bus(GObject *source, GAsyncResult *res, gpointer data)
{
	GDBusConnection *bus = g_bus_get_finish(res, NULL);
	if (!bus)
		return; /* no system bus: the clock check still works */
	g_dbus_connection_signal_subscribe(bus, "org.freedesktop.login1",
		"org.freedesktop.login1.Manager", "PrepareForSleep", "/org/freedesktop/login1",
		NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_prepare_for_sleep, NULL, NULL);
	/* keep the connection for the life of the process */
}

int main(int argc, char **argv)
{
	char *config_path = NULL;
	gboolean verbose = FALSE, trace = FALSE, version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Read FILE instead of $XDG_CONFIG_HOME/mailbell/config.ini", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log more (each message, each hook)", NULL },
		{ "trace", 0, 0, G_OPTION_ARG_NONE, &trace,
		  "Log the IMAP conversation (sign-in arguments redacted)", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};

	setlocale(LC_ALL, "");
	GOptionContext *ctx = g_option_context_new("[fetch ACCOUNT MAILBOX UID] - desktop notifications for new mail over IMAP IDLE");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"mailbell keeps an IMAP IDLE connection to each account in its config and\n"
		"announces new mail by desktop notification and/or a hook command.\n"
		"See mailbell(1) and mailbell.ini(5).");
	GError *error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailbell: %s\nTry 'mailbell --help'.\n", error->message);
		g_error_free(error);
		g_option_context_free(ctx);
		return 64; /* EX_USAGE */
	}
	g_option_context_free(ctx);
	bool fetch = argc > 1 && strcmp(argv[1], "fetch") == 0;
	if (version || (argc > 1 && !fetch) || (fetch && argc != 5)) {
		g_free(config_path);
		if (version) {
			printf("mailbell %s\n", MB_VERSION);
			return 0;
		}
		if (fetch)
			fprintf(stderr, "mailbell: usage: mailbell [-c FILE] fetch ACCOUNT MAILBOX UID\n");
		else
			fprintf(stderr, "mailbell: unexpected argument '%s'\nTry 'mailbell --help'.\n", argv[1]);
		return 64;
	}

	mb_log_init(verbose, trace);
	/* A hook's "mailbell fetch" finds the daemon's config through the
	 * environment the daemon gave it. */
	if (!config_path && fetch && g_getenv("MAILBELL_CONFIG") && *g_getenv("MAILBELL_CONFIG"))
		config_path = g_strdup(g_getenv("MAILBELL_CONFIG"));
	if (!config_path)
		config_path = mb_config_default_path();
	struct mb_config *config = mb_config_load(config_path, &error);
	g_free(config_path);
	if (!config) {
		fprintf(stderr, "mailbell: %s\n", error->message);
		g_error_free(error);
		return MB_EXIT_CONFIG;
	}
	if (fetch) {
		int status = fetch_main(config, argv + 2);
		mb_config_destroy(config);
		return status;
	}

	mb_message_library_init();
	struct mb_state *state = mb_state_open(config->state_dir, &error);
	if (!state) {
		fprintf(stderr, "mailbell: %s\n", error->message);
		g_error_free(error);
		mb_config_destroy(config);
		return 73; /* EX_CANTCREAT */
	}
	if (!mb_state_lock(state, &error)) {
		fprintf(stderr, "mailbell: %s\n", error->message);
		bool busy = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_AGAIN);
		g_error_free(error);
		mb_state_destroy(state);
		mb_config_destroy(config);
		return busy ? 75 : 73; /* EX_TEMPFAIL, EX_CANTCREAT */
	}

	bool want_notify = false;
	for (guint i = 0; i < config->accounts->len; i++)
		want_notify |= mb_account_config_notify(config, config->accounts->pdata[i]);
	if (want_notify && !mb_notify_init())
		g_warning("built without libnotify: desktop notifications are off; hooks still run");
	mb_hook_init(config->hook_timeout, HOOK_MAX_RUNNING, config->path);

	loop = g_main_loop_new(NULL, FALSE);
	accounts = g_ptr_array_new();
	for (guint i = 0; i < config->accounts->len; i++) {
		struct mb_account *a = mb_account_create(config, config->accounts->pdata[i], state);
		g_ptr_array_add(accounts, a);
	}
	g_unix_signal_add(SIGINT, on_signal, GINT_TO_POINTER(SIGINT));
	g_unix_signal_add(SIGTERM, on_signal, GINT_TO_POINTER(SIGTERM));
	/* A closed terminal or session: leave as politely as on SIGTERM. */
	g_unix_signal_add(SIGHUP, on_signal, GINT_TO_POINTER(SIGHUP));
	g_unix_signal_add(SIGUSR1, on_usr1, NULL);
	signal(SIGPIPE, SIG_IGN);

	GNetworkMonitor *monitor = g_network_monitor_get_default();
	g_signal_connect(monitor, "network-changed", G_CALLBACK(on_network_changed), NULL);
	/* GIO's NetworkManager monitor reports NetworkManager's view only
	 * through these properties; route changes still come as
	 * network-changed. Either way the connections are probed. */
	g_signal_connect(monitor, "notify::network-available", G_CALLBACK(on_network_available), NULL);
	g_signal_connect(monitor, "notify::connectivity", G_CALLBACK(on_network_available), NULL);
	sleep_offset = boot_minus_monotonic();
	g_timeout_add_seconds(SUSPEND_CHECK, on_suspend_check, NULL);
	g_bus_get(G_BUS_TYPE_SYSTEM, NULL, on_system_bus, NULL);

	g_message("mailbell %s: watching %u account%s", MB_VERSION, accounts->len,
		accounts->len == 1 ? "" : "s");
	for (guint i = 0; i < accounts->len; i++)
		mb_account_start(accounts->pdata[i]);

	g_main_loop_run(loop);

	for (guint i = 0; i < accounts->len; i++)
		mb_account_destroy(accounts->pdata[i]);
	g_ptr_array_unref(accounts);
	mb_notify_shutdown();
	mb_state_destroy(state);
	mb_config_destroy(config);
	g_main_loop_unref(loop);
	return 0;
}
