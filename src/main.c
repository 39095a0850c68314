#define G_LOG_DOMAIN "mailbell"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "account.h"
#include "config.h"
#include "ctl.h"
#include "hook.h"
#include "spawn.h"
#include "sync.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "state.h"

/* Seconds SIGTERM waits for LOGOUTs before exiting anyway. */
#define SHUTDOWN_GRACE 5
/* Seconds by which CLOCK_BOOTTIME must have run ahead of CLOCK_MONOTONIC
 * since the last look to mean that the machine was suspended. */
#define SUSPEND_GAP 5
/* Seconds after a resume seen by the clocks during which logind's
 * PrepareForSleep(false) announces that same resume, not another one. */
#define RESUME_SAME 30

static GMainLoop *loop;
static GPtrArray *accounts;      /* struct mb_account *, config order */
static unsigned stopping_accounts;
static bool shutting_down;
static gint64 sleep_offset; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC, µs */
static gint64 clock_resumed_at; /* monotonic µs of the last resume the clocks showed */
static int exit_status;

/* A configuration and the accounts still using it: a reload replaces the
 * current one, and the old one is freed once the accounts it removed have
 * logged out. */
struct cfg {
	struct mb_config *config;
	unsigned refs;
};
static struct cfg *current;
static char *config_file;        /* what -c named, for reloads */
static struct mb_state *state;
static gint64 started_at;        /* Unix seconds */

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

static void cfg_unref(struct cfg *c)
{
	if (c && --c->refs == 0) {
		mb_config_destroy(c->config);
		g_free(c);
	}
}

static void quit(void)
{
	mb_spawn_kill_pending();
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

static void stop_all(void (*done)(void *data))
{
	stopping_accounts = accounts->len + 1;
	for (guint i = 0; i < accounts->len; i++)
		mb_account_stop(accounts->pdata[i], done, NULL);
	done(NULL); /* drop the +1 that kept it from finishing early */
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
	stop_all(account_stopped);
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

/* Said, not silently fatal (its default action would end the daemon). */
static gboolean on_usr2(gpointer data)
{
	g_message("SIGUSR2 ignored (SIGHUP reloads, SIGUSR1 reconnects)");
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
 * between them grows by the time spent asleep. Works without logind, and
 * without a timer of its own: this source has no fd and no timeout, but
 * GLib runs its check after every poll of the main loop, whatever ended it.
 * After a resume the first such wake-up comes soon: a keepalive that fell
 * due while asleep fires at once (its deadline is on CLOCK_BOOTTIME), and
 * so do logind's signal, a dropped connection or a network change. */
static gboolean resume_prepare(GSource *source, gint *timeout)
{
	*timeout = -1;
	return FALSE;
}

static gboolean resume_check(GSource *source)
{
	gint64 now = boot_minus_monotonic();
	bool slept = now - sleep_offset > (gint64)SUSPEND_GAP * G_USEC_PER_SEC;
	sleep_offset = now;
	return slept;
}

static gboolean resume_dispatch(GSource *source, GSourceFunc func, gpointer data)
{
	clock_resumed_at = g_get_monotonic_time();
	resumed("resumed from suspend (clock gap)");
	return G_SOURCE_CONTINUE;
}

static void watch_resume(void)
{
	static GSourceFuncs funcs = {
		.prepare = resume_prepare,
		.check = resume_check,
		.dispatch = resume_dispatch,
	};
	sleep_offset = boot_minus_monotonic();
	GSource *source = g_source_new(&funcs, sizeof(GSource));
	/* before the sources that woke the loop: a keepalive due during
	 * the sleep would only probe a connection about to be replaced */
	g_source_set_priority(source, G_PRIORITY_HIGH);
	g_source_set_name(source, "mb-resume-check");
	g_source_attach(source, NULL);
	g_source_unref(source);
}

static void on_prepare_for_sleep(GDBusConnection *bus, const char *sender, const char *path,
	const char *iface, const char *signal, GVariant *params, gpointer data)
{
	gboolean going_down = FALSE;
	if (g_variant_is_of_type(params, G_VARIANT_TYPE("(b)")))
		g_variant_get(params, "(b)", &going_down);
	if (going_down)
		return;
	/* The wake-up that delivers this signal has run resume_check() first,
	 * so after a real sleep the clocks have usually seen it already. */
	sleep_offset = boot_minus_monotonic();
	if (clock_resumed_at && g_get_monotonic_time() - clock_resumed_at
	    < (gint64)RESUME_SAME * G_USEC_PER_SEC) {
		g_info("resumed from suspend (logind): already reconnecting");
		return;
	}
	resumed("resumed from suspend (logind)");
}

static void on_system_bus(GObject *source, GAsyncResult *res, gpointer data)
{
	GDBusConnection *bus = g_bus_get_finish(res, NULL);
	if (!bus)
		return; /* no system bus: resume_check() still works */
	g_dbus_connection_signal_subscribe(bus, "org.freedesktop.login1",
		"org.freedesktop.login1.Manager", "PrepareForSleep", "/org/freedesktop/login1",
		NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_prepare_for_sleep, NULL, NULL);
	/* keep the connection for the life of the process */
}

/* --- control ------------------------------------------------------------ */

static void on_changed(void *data)
{
	mb_ctl_status_changed();
}

static char *status_json(void *data)
{
	GString *out = g_string_new(NULL);
	gint64 until = 0;
	bool paused = mb_notify_paused(&until);
	g_string_append_printf(out, "{\"version\":\"%s\",\"pid\":%d,\"started\":%" G_GINT64_FORMAT
		",\"paused\":%s,\"paused_until\":", MB_VERSION, (int)getpid(), started_at,
		paused ? "true" : "false");
	if (paused && until > 0)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, until);
	else
		g_string_append(out, "null");
	g_string_append_printf(out, ",\"held\":%u,\"accounts\":[", mb_notify_held(NULL));
	for (guint i = 0; i < accounts->len; i++) {
		if (i)
			g_string_append_c(out, ',');
		mb_account_status_json(accounts->pdata[i], out);
	}
	g_string_append(out, "]}");
	return g_string_free(out, FALSE);
}

static bool ctl_reconnect(const char *name, char **error_r, void *data)
{
	bool found = false;
	for (guint i = 0; i < accounts->len; i++) {
		struct mb_account *a = accounts->pdata[i];
		if (!*name || strcmp(mb_account_name(a), name) == 0) {
			mb_account_reconnect(a);
			found = true;
		}
	}
	if (!found)
		*error_r = g_strdup_printf("no account named '%s'", name);
	return found;
}

static void set_quiet_hours(const struct mb_config *config)
{
	for (guint i = 0; i < config->accounts->len; i++) {
		const struct mb_account_config *ac = config->accounts->pdata[i];
		mb_notify_set_quiet_hours(ac->name, mb_account_config_quiet_hours(config, ac));
	}
}

static bool want_notify(const struct mb_config *config)
{
	bool want = false;
	for (guint i = 0; i < config->accounts->len; i++)
		want |= mb_account_config_notify(config, config->accounts->pdata[i]);
	return want;
}

struct retiring {
	struct mb_account *acct;
	struct cfg *cfg;
};
static GPtrArray *retiring_list; /* struct retiring *: logging out */

static void retiring_free(struct retiring *r)
{
	mb_account_destroy(r->acct);
	cfg_unref(r->cfg);
	g_free(r);
}

static gboolean destroy_retired(gpointer data)
{
	g_ptr_array_remove(retiring_list, data); /* frees it */
	return G_SOURCE_REMOVE;
}

static void retired_done(void *data)
{
	/* from inside the account's own callback: free it a little later */
	g_idle_add(destroy_retired, data);
}

/* SIGHUP and mailbell ctl reload. */
static bool reload(char **error_r, void *data)
{
	if (shutting_down) {
		*error_r = g_strdup("mailbell is shutting down");
		return false;
	}
	GError *error = NULL;
	struct mb_config *nc = mb_config_load(config_file, &error);
	if (!nc) {
		g_warning("reload: %s: the running configuration stays", error->message);
		*error_r = g_strdup(error->message);
		g_error_free(error);
		return false;
	}
	const struct mb_config *oc = current->config;
	if (g_strcmp0(nc->state_dir, oc->state_dir) != 0)
		g_warning("reload: state_dir changed: it takes effect at the next start");
	struct cfg *next = g_new0(struct cfg, 1);
	next->config = nc;
	next->refs = 1;
	GPtrArray *kept = g_ptr_array_new();
	unsigned added = 0, changed = 0, same = 0, removed = 0;
	for (guint i = 0; i < nc->accounts->len; i++) {
		const struct mb_account_config *ac = nc->accounts->pdata[i];
		struct mb_account *a = NULL;
		for (guint j = 0; j < accounts->len && !a; j++) {
			if (strcmp(mb_account_name(accounts->pdata[j]), ac->name) == 0) {
				a = accounts->pdata[j];
				g_ptr_array_remove_index(accounts, j);
			}
		}
		if (a) {
			bool keep = mb_account_config_session_equal(oc, mb_account_get_config(a), nc, ac);
			mb_account_reconfigure(a, nc, ac, !keep);
			if (keep)
				same++;
			else
				changed++;
		} else {
			a = mb_account_create(nc, ac, state);
			mb_account_start(a);
			g_message("%s: added by the reload", ac->name);
			added++;
		}
		g_ptr_array_add(kept, a);
	}
	for (guint i = 0; i < accounts->len; i++) {
		struct mb_account *a = accounts->pdata[i];
		g_message("%s: removed by the reload: logging out", mb_account_name(a));
		mb_notify_set_quiet_hours(mb_account_name(a), NULL);
		struct retiring *r = g_new0(struct retiring, 1);
		r->acct = a;
		r->cfg = current;
		current->refs++;
		if (!retiring_list)
			retiring_list = g_ptr_array_new_with_free_func((GDestroyNotify)retiring_free);
		g_ptr_array_add(retiring_list, r);
		mb_account_stop(a, retired_done, r);
		removed++;
	}
	g_ptr_array_unref(accounts);
	accounts = kept;
	cfg_unref(current);
	current = next;
	mb_hook_init(nc->hook_timeout, nc->hook_concurrency, nc->path);
	mb_notify_set_max_lines(nc->catchup_summary);
	set_quiet_hours(nc);
	if (want_notify(nc) && !mb_notify_init())
		g_warning("built without libnotify: desktop notifications are off; hooks still run");
	g_message("reloaded %s: %u account(s) unchanged, %u reconnecting, %u added, %u removed",
		nc->path, same, changed, added, removed);
	mb_ctl_status_changed();
	return true;
}

static gboolean on_hup(gpointer data)
{
	char *error = NULL;
	g_message("SIGHUP: reloading the configuration");
	if (!reload(&error, NULL))
		g_free(error);
	return G_SOURCE_CONTINUE;
}

/* --- mark as read (a notification's action) ------------------------------- */

struct marking {
	struct mb_account *acct;    /* made for this one STORE */
	struct cfg *cfg;
	char *what;                 /* "work/INBOX uid 4" for the log */
};

static gboolean marking_free(gpointer data)
{
	struct marking *m = data;
	mb_account_destroy(m->acct);
	cfg_unref(m->cfg);
	g_free(m->what);
	g_free(m);
	return G_SOURCE_REMOVE;
}

static GPtrArray *markings; /* struct marking * under way */

static void on_marked(bool ok, const char *error, void *data)
{
	struct marking *m = data;
	if (ok) {
		g_message("%s marked as read", m->what);
	} else {
		g_warning("cannot mark %s as read: %s", m->what, error);
		mb_notify_text("mailbell: could not mark as read", error, "email", true);
	}
	g_ptr_array_remove_fast(markings, m);
	g_idle_add(marking_free, m); /* from inside the account's callback */
}

static void on_mark_read(const char *account, const char *mailbox, uint32_t uidvalidity,
	const uint32_t *uids, size_t n, void *data)
{
	const struct mb_account_config *ac = NULL;
	for (guint i = 0; i < current->config->accounts->len && !ac; i++) {
		const struct mb_account_config *x = current->config->accounts->pdata[i];
		if (strcmp(x->name, account) == 0)
			ac = x;
	}
	if (!ac || shutting_down) {
		g_warning("cannot mark %u message(s) of %s/%s as read: the account is gone", (unsigned)n,
			account, mailbox);
		return;
	}
	struct marking *m = g_new0(struct marking, 1);
	m->cfg = current;
	current->refs++;
	m->what = n == 1 ? g_strdup_printf("%s/%s uid %u", account, mailbox, uids[0])
		: g_strdup_printf("%s/%s: %u messages", account, mailbox, (unsigned)n);
	m->acct = mb_account_create(current->config, ac, NULL);
	if (!markings)
		markings = g_ptr_array_new();
	g_ptr_array_add(markings, m);
	g_info("marking %s as read", m->what);
	mb_account_mark_seen(m->acct, mailbox, uidvalidity, uids, n, on_marked, m);
}

/* --- mailbell --once ----------------------------------------------------- */

static unsigned once_pending;

static void once_syncs_done(void *data)
{
	quit();
}

static void once_hooks_done(void *data)
{
	if (mb_sync_pending() > 0)
		g_info("waiting for %u sync hook(s)", mb_sync_pending());
	mb_sync_when_idle(once_syncs_done, NULL);
}

static void once_stopped(void *data)
{
	if (stopping_accounts > 0 && --stopping_accounts == 0) {
		/* the LOGOUTs are done; the hooks they started must finish */
		if (mb_hook_pending() > 0)
			g_info("waiting for %u hook(s)", mb_hook_pending());
		mb_hook_when_idle(once_hooks_done, NULL);
	}
}

static void once_account_done(bool ok, void *data)
{
	if (!ok)
		exit_status = 69; /* EX_UNAVAILABLE */
	if (--once_pending == 0 && !shutting_down) {
		shutting_down = true;
		stop_all(once_stopped);
	}
}

/* --- mailbell --check ---------------------------------------------------- */

struct check_result {
	enum mb_account_check_status status;
	char *line;
	bool done;
};
static struct check_result *checks;
static unsigned checks_pending;

static void print_setting(const struct mb_setting_info *s, const char *value, bool is_default,
	void *data)
{
	if (value && !is_default)
		printf("    %s = %s\n", s->key, value);
}

static void on_check_done(enum mb_account_check_status status, const char *line, void *data)
{
	struct check_result *r = data;
	r->status = status;
	r->line = g_strdup(line);
	r->done = true;
	if (--checks_pending == 0)
		quit();
}

static int check_main(struct mb_config *config, bool verbose)
{
	loop = g_main_loop_new(NULL, FALSE);
	guint n = config->accounts->len;
	checks = g_new0(struct check_result, n);
	checks_pending = n;
	GPtrArray *accts = g_ptr_array_new_with_free_func((GDestroyNotify)mb_account_destroy);
	for (guint i = 0; i < n; i++) {
		struct mb_account *a = mb_account_create(config, config->accounts->pdata[i], NULL);
		g_ptr_array_add(accts, a);
		mb_account_check(a, on_check_done, &checks[i]);
	}
	g_main_loop_run(loop);
	printf("%s: the configuration is valid\n", config->path);
	if (verbose) {
		printf("  [general]\n");
		mb_config_foreach_value(config, NULL, print_setting, NULL);
	}
	bool auth = false, conn = false, missing = false;
	for (guint i = 0; i < n; i++) {
		printf("%s\n", checks[i].line);
		if (verbose) {
			const struct mb_account_config *ac = config->accounts->pdata[i];
			printf("  [account %s]\n", ac->name);
			mb_config_foreach_value(config, ac, print_setting, NULL);
		}
		auth |= checks[i].status == MB_ACCOUNT_CHECK_AUTH_FAILED;
		conn |= checks[i].status == MB_ACCOUNT_CHECK_CONNECT_FAILED;
		missing |= checks[i].status == MB_ACCOUNT_CHECK_MAILBOX_MISSING;
		g_free(checks[i].line);
	}
	g_free(checks);
	g_ptr_array_unref(accts);
	g_main_loop_unref(loop);
	fflush(stdout);
	/* the most serious first: documented in mailbell(1), EXIT STATUS */
	return auth ? 77 : conn ? 69 : missing ? 66 : 0;
}

int main(int argc, char **argv)
{
	char *config_path = NULL;
	gboolean verbose = FALSE, trace = FALSE, version = FALSE, check = FALSE, once = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Read FILE instead of $XDG_CONFIG_HOME/mailbell/config.ini", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log more (each message, each hook)", NULL },
		{ "trace", 0, 0, G_OPTION_ARG_NONE, &trace,
		  "Log the IMAP conversation (sign-in arguments redacted)", NULL },
		{ "check", 0, 0, G_OPTION_ARG_NONE, &check,
		  "Check the config, connect and sign in to every account, then exit", NULL },
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once,
		  "Report what is new on every account, wait for the hooks, then exit", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};

	setlocale(LC_ALL, "");
	GOptionContext *ctx = g_option_context_new("[fetch ACCOUNT MAILBOX UID | ctl COMMAND...] "
		"- desktop notifications for new mail over IMAP IDLE");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"mailbell keeps an IMAP IDLE connection to each account in its config and\n"
		"announces new mail by desktop notification and/or a hook command.\n\n"
		"Commands:\n"
		"  fetch ACCOUNT MAILBOX UID   print one whole message\n"
		"  ctl status [--json]         what the running mailbell is doing\n"
		"  ctl pause [DURATION]        hold notifications (hooks still run)\n"
		"  ctl resume                  show them again, with a summary\n"
		"  ctl reconnect [ACCOUNT]     reconnect now\n"
		"  ctl reload                  re-read the configuration\n\n"
		"See mailbell(1) and mailbell.ini(5).");
	/* "ctl status --json": options after the command are the command's */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "ctl") == 0) {
			g_option_context_set_strict_posix(ctx, TRUE);
			break;
		}
		if (argv[i][0] != '-')
			break;
	}
	GError *error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailbell: %s\nTry 'mailbell --help'.\n", error->message);
		g_error_free(error);
		g_option_context_free(ctx);
		return 64; /* EX_USAGE */
	}
	g_option_context_free(ctx);
	if (version) {
		g_free(config_path);
		printf("mailbell %s\n", MB_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "ctl") == 0) {
		g_free(config_path);
		return mb_ctl_client(argc - 2, argv + 2);
	}
	bool fetch = argc > 1 && strcmp(argv[1], "fetch") == 0;
	if ((argc > 1 && !fetch) || (fetch && argc != 5) || (check && once)
	    || ((check || once) && fetch)) {
		g_free(config_path);
		if (fetch)
			fprintf(stderr, "mailbell: usage: mailbell [-c FILE] fetch ACCOUNT MAILBOX UID\n");
		else if (check || once)
			fprintf(stderr, "mailbell: --check and --once go alone\n");
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
	if (!config) {
		fprintf(stderr, "mailbell: %s\n", error->message);
		g_error_free(error);
		g_free(config_path);
		return MB_EXIT_CONFIG;
	}
	if (fetch || check) {
		g_free(config_path);
		mb_message_library_init();
		int status = fetch ? fetch_main(config, argv + 2) : check_main(config, verbose);
		mb_config_destroy(config);
		return status;
	}
	config_file = config_path;

	mb_message_library_init();
	state = mb_state_open(config->state_dir, &error);
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
	current = g_new0(struct cfg, 1);
	current->config = config;
	current->refs = 1;
	started_at = g_get_real_time() / G_USEC_PER_SEC;

	/* Threads of an idle mailbell, each asleep in poll() until it has work:
	 * this one, with the main loop; GLib's worker "gmain", which GLib starts
	 * for g_unix_signal_add() and child watches (hooks) and which wakes only
	 * for a signal; GDBus's "gdbus", which carries the ctl interface on the
	 * session bus and logind's PrepareForSleep on the system bus (none
	 * without a bus); and "mb-notify" (notify.c: libnotify's synchronous
	 * calls must not block this loop), started only if an account has
	 * notify = yes. GIO's "pool-mailbell" threads (DNS lookups, GTask jobs)
	 * end by themselves about 15 s after their last job. */
	if (want_notify(config) && !mb_notify_init())
		g_warning("built without libnotify: desktop notifications are off; hooks still run");
	mb_hook_init(config->hook_timeout, config->hook_concurrency, config->path);
	mb_notify_set_max_lines(config->catchup_summary);
	mb_notify_hold_init(state, on_changed, NULL);
	mb_notify_set_mark_read_handler(on_mark_read, NULL);
	set_quiet_hours(config);
	mb_account_set_changed_callback(on_changed, NULL);

	loop = g_main_loop_new(NULL, FALSE);
	accounts = g_ptr_array_new();
	for (guint i = 0; i < config->accounts->len; i++) {
		struct mb_account *a = mb_account_create(config, config->accounts->pdata[i], state);
		g_ptr_array_add(accounts, a);
	}
	g_unix_signal_add(SIGINT, on_signal, GINT_TO_POINTER(SIGINT));
	g_unix_signal_add(SIGTERM, on_signal, GINT_TO_POINTER(SIGTERM));
	g_unix_signal_add(SIGUSR1, on_usr1, NULL);
	g_unix_signal_add(SIGUSR2, on_usr2, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (once) {
		/* a closed terminal ends a --once run like SIGTERM */
		g_unix_signal_add(SIGHUP, on_signal, GINT_TO_POINTER(SIGHUP));
	} else {
		g_unix_signal_add(SIGHUP, on_hup, NULL);
		static const struct mb_ctl_handlers handlers = {
			.status_json = status_json,
			.reconnect = ctl_reconnect,
			.reload = reload,
		};
		mb_ctl_start(&handlers, NULL);
	}

	GNetworkMonitor *monitor = g_network_monitor_get_default();
	g_signal_connect(monitor, "network-changed", G_CALLBACK(on_network_changed), NULL);
	/* GIO's NetworkManager monitor reports NetworkManager's view only
	 * through these properties; route changes still come as
	 * network-changed. Either way the connections are probed. */
	g_signal_connect(monitor, "notify::network-available", G_CALLBACK(on_network_available), NULL);
	g_signal_connect(monitor, "notify::connectivity", G_CALLBACK(on_network_available), NULL);
	watch_resume();
	g_bus_get(G_BUS_TYPE_SYSTEM, NULL, on_system_bus, NULL);

	g_message("mailbell %s: %s %u account%s", MB_VERSION, once ? "checking" : "watching",
		accounts->len, accounts->len == 1 ? "" : "s");
	once_pending = accounts->len;
	for (guint i = 0; i < accounts->len; i++) {
		if (once)
			mb_account_once(accounts->pdata[i], once_account_done, NULL);
		else
			mb_account_start(accounts->pdata[i]);
	}

	g_main_loop_run(loop);

	mb_ctl_stop();
	if (retiring_list)
		g_ptr_array_unref(retiring_list);
	while (markings && markings->len > 0) {
		struct marking *m = g_ptr_array_steal_index_fast(markings, markings->len - 1);
		marking_free(m);
	}
	if (markings)
		g_ptr_array_unref(markings);
	/* first: the answers still to come reach the state file */
	mb_notify_shutdown();
	for (guint i = 0; i < accounts->len; i++)
		mb_account_destroy(accounts->pdata[i]);
	g_ptr_array_unref(accounts);
	mb_state_destroy(state);
	cfg_unref(current);
	g_free(config_file);
	g_main_loop_unref(loop);
	return exit_status;
}
