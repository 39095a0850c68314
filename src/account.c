#define G_LOG_DOMAIN "mailbell"

#include "account.h"

#include <string.h>

#include <gio/gio.h>

#include "hook.h"
#include "imap.h"
#include "message.h"
#include "notify.h"
#include "rules.h"

#define BACKOFF_MIN 1    /* seconds */
#define BACKOFF_MAX 300  /* seconds */
#define STABLE_AFTER 60  /* seconds connected before the backoff resets */

struct watch {
	struct mb_account *acct;
	char *mailbox;
	char *name;                 /* for logs: "work" or "work/Lists" */
	struct mb_imap_session *session;
	struct mb_mailbox_state st;
	bool reported_before;       /* a batch was handled since start */
	unsigned backoff;           /* seconds before the next attempt */
	guint retry_timer;
	bool waiting_network;       /* a retry is due but the network is down */
	gint64 healthy_since;       /* monotonic µs when IDLE began, 0 if not */
	bool failure_told;          /* the user heard of this failure streak */
	GSubprocess *cred_proc;
	GCancellable *cred_cancel;
	guint cred_timer;
};

struct mb_account {
	const struct mb_config *config;
	const struct mb_account_config *ac;
	struct mb_state *state;
	GPtrArray *watches;         /* struct watch * */
	GHashTable *alerts;         /* texts already shown */
	bool network_up;
	bool stopping;
	unsigned stop_pending;
	void (*stop_done)(void *);
	void *stop_data;
};

static void connect_watch(struct watch *w);

/* --- reporting ---------------------------------------------------------- */

static void report(struct watch *w, GPtrArray *msgs, bool summarize)
{
	struct mb_account *a = w->acct;
	bool notify = mb_account_config_notify(a->config, a->ac);
	const char *hook = mb_account_config_hook(a->config, a->ac);
	if (hook && !*hook)
		hook = NULL;
	unsigned n_notify = 0;
	const struct mb_message *last_notified = NULL;

	for (guint i = 0; i < msgs->len; i++) {
		const struct mb_message *m = msgs->pdata[i];
		if (m->seen) {
			g_debug("%s: uid %u is already \\Seen: not reported", w->name, m->uid);
			continue;
		}
		const struct mb_rule *rule = mb_rules_match(a->config->rules, m->from_address);
		unsigned actions = rule ? rule->actions : MB_ACTION_NOTIFY | MB_ACTION_HOOK;
		if (actions & MB_ACTION_IGNORE) {
			g_info("%s: uid %u from %s ignored by rule %s", w->name, m->uid,
				m->from_address, rule->name);
			continue;
		}
		g_info("%s: new message uid %u from %s%s%s", w->name, m->uid, m->from,
			rule ? ", rule " : "", rule ? rule->name : "");
		if (notify && (actions & MB_ACTION_NOTIFY)) {
			n_notify++;
			last_notified = m;
			if (!summarize)
				mb_notify_message(m);
		}
		if (hook && (actions & MB_ACTION_HOOK))
			mb_hook_run(hook, m, rule ? rule->name : NULL);
	}
	if (summarize && n_notify == 1) {
		mb_notify_message(last_notified);
	} else if (summarize && n_notify > 1) {
		char *summary = g_strdup_printf("%u new messages in %s/%s while offline", n_notify,
			a->ac->name, w->mailbox);
		mb_notify_text(summary, "", "email.arrived", false);
		g_free(summary);
	}
}

static void save_state(struct watch *w)
{
	GError *error = NULL;
	if (!mb_state_set(w->acct->state, w->acct->ac->name, w->mailbox, &w->st, &error)) {
		g_warning("%s: cannot save state: %s", w->name, error->message);
		g_error_free(error);
	}
}

/* --- session events ------------------------------------------------------ */

static void on_idling(struct mb_imap_session *session, void *data)
{
	struct watch *w = data;
	if (!w->healthy_since)
		w->healthy_since = g_get_monotonic_time();
	if (w->failure_told)
		g_message("%s: connected again", w->name);
	w->failure_told = false;
}

static void on_messages(struct mb_imap_session *session, uint32_t uidvalidity,
	uint32_t last_uid, GPtrArray *msgs, bool catchup, bool rebaselined, void *data)
{
	struct watch *w = data;
	const struct mb_config *c = w->acct->config;
	if (rebaselined)
		g_info("%s: starting from UID %u (UIDVALIDITY %u)", w->name, last_uid + 1, uidvalidity);
	if (catchup && !w->reported_before && !c->catchup && msgs->len > 0)
		g_message("%s: %u messages arrived while mailbell was not running: not reported (catchup = no)",
			w->name, msgs->len);
	else
		report(w, msgs, catchup && msgs->len > c->catchup_summary);
	w->reported_before = true;
	bool changed = w->st.uidvalidity != uidvalidity || w->st.last_uid != last_uid;
	w->st.uidvalidity = uidvalidity;
	w->st.last_uid = last_uid;
	if (changed)
		save_state(w);
	g_ptr_array_unref(msgs);
}

static void on_alert(struct mb_imap_session *session, const char *text, void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	if (g_hash_table_contains(a->alerts, text))
		return;
	g_hash_table_add(a->alerts, g_strdup(text));
	g_warning("%s: server alert: %s", a->ac->name, text);
	char *summary = g_strdup_printf("Mail server alert (%s)", a->ac->name);
	mb_notify_text(summary, text, "email", true);
	g_free(summary);
}

static gboolean on_retry(gpointer data)
{
	struct watch *w = data;
	w->retry_timer = 0;
	connect_watch(w);
	return G_SOURCE_REMOVE;
}

/* A server on this machine stays reachable when the network goes down. */
static bool is_loopback(const char *host)
{
	return g_ascii_strcasecmp(host, "localhost") == 0 || g_str_has_prefix(host, "127.")
		|| strcmp(host, "::1") == 0;
}

static void schedule_retry(struct watch *w, unsigned delay)
{
	if (w->acct->stopping)
		return;
	if (w->retry_timer)
		g_source_remove(w->retry_timer);
	w->retry_timer = 0;
	if (!w->acct->network_up && !is_loopback(w->acct->ac->host)) {
		g_message("%s: waiting for the network", w->name);
		w->waiting_network = true;
		return;
	}
	/* Jitter up to a quarter keeps many clients (and our own mailboxes)
	 * from reconnecting in lockstep after a server restart. */
	guint ms = delay * 1000 + (guint)g_random_int_range(0, (gint32)(delay * 250 + 1));
	g_message("%s: reconnecting in %.1fs", w->name, ms / 1000.0);
	w->retry_timer = g_timeout_add(ms, on_retry, w);
}

static void tell_user_once(struct watch *w, const char *what, const char *reason)
{
	if (w->failure_told)
		return;
	w->failure_told = true;
	char *summary = g_strdup_printf("mailbell: %s (%s)", what, w->name);
	mb_notify_text(summary, reason, "email", true);
	g_free(summary);
}

static void on_closed(struct mb_imap_session *session, enum mb_imap_close how,
	const char *reason, void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	mb_imap_session_destroy(w->session);
	w->session = NULL;

	if (how == MB_IMAP_CLOSE_LOGOUT || a->stopping) {
		g_debug("%s: %s", w->name, reason);
		if (a->stopping && a->stop_pending > 0 && --a->stop_pending == 0 && a->stop_done)
			a->stop_done(a->stop_data);
		return;
	}
	gint64 now = g_get_monotonic_time();
	if (w->healthy_since && now - w->healthy_since >= (gint64)STABLE_AFTER * G_USEC_PER_SEC)
		w->backoff = BACKOFF_MIN;
	w->healthy_since = 0;

	unsigned delay;
	switch (how) {
	case MB_IMAP_CLOSE_AUTH_FAILED:
		/* R4: retrying quickly could get the account locked. */
		g_warning("%s: %s", w->name, reason);
		tell_user_once(w, "sign-in failed", reason);
		delay = BACKOFF_MAX;
		break;
	case MB_IMAP_CLOSE_REFUSED:
		g_warning("%s: %s", w->name, reason);
		tell_user_once(w, "cannot connect", reason);
		delay = BACKOFF_MAX;
		break;
	default:
		g_warning("%s: %s", w->name, reason);
		delay = w->backoff;
		w->backoff = MIN(w->backoff * 2, BACKOFF_MAX);
		break;
	}
	schedule_retry(w, delay);
}

static const struct mb_imap_events session_events = {
	.idling = on_idling,
	.messages = on_messages,
	.alert = on_alert,
	.closed = on_closed,
};

/* --- credentials -------------------------------------------------------- */

static void start_session(struct watch *w, const char *secret)
{
	struct mb_account *a = w->acct;
	struct mb_imap_session_params p = {
		.name = w->name,
		.account = a->ac,
		.mailbox = w->mailbox,
		.secret = secret,
		.timeout = a->config->timeout,
		.keepalive = a->config->keepalive,
		.poll_interval = a->ac->poll_interval ? a->ac->poll_interval : a->config->poll_interval,
		.uidvalidity = w->st.uidvalidity,
		.last_uid = w->st.last_uid,
	};
	g_debug("%s: connecting to %s:%u", w->name, a->ac->host, a->ac->port);
	w->session = mb_imap_session_create(&p, &session_events, w);
}

static void cred_cleanup(struct watch *w)
{
	if (w->cred_timer)
		g_source_remove(w->cred_timer);
	w->cred_timer = 0;
	if (w->cred_cancel) {
		g_cancellable_cancel(w->cred_cancel);
		g_clear_object(&w->cred_cancel);
	}
	if (w->cred_proc) {
		g_subprocess_force_exit(w->cred_proc);
		g_clear_object(&w->cred_proc);
	}
}

static const char *cred_key(const struct mb_account *a)
{
	return a->ac->oauth_token_cmd ? "oauth_token_cmd" : "password_cmd";
}

static void cred_failed(struct watch *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void cred_failed(struct watch *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("%s: %s %s", w->name, cred_key(w->acct), why);
	tell_user_once(w, "cannot get credentials", why);
	g_free(why);
	unsigned delay = w->backoff;
	w->backoff = MIN(w->backoff * 2, BACKOFF_MAX);
	schedule_retry(w, delay);
}

static void on_cred_done(GObject *source, GAsyncResult *res, gpointer data)
{
	GSubprocess *proc = G_SUBPROCESS(source);
	char *out = NULL, *err = NULL;
	GError *error = NULL;
	bool ok = g_subprocess_communicate_utf8_finish(proc, res, &out, &err, &error);
	if (!ok && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_error_free(error);
		return; /* the watch is gone or gave up; data may be stale */
	}
	struct watch *w = data;
	if (w->cred_timer)
		g_source_remove(w->cred_timer);
	w->cred_timer = 0;
	g_clear_object(&w->cred_cancel);
	if (!ok) {
		cred_failed(w, "failed: %s", error->message);
		g_error_free(error);
	} else if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != 0) {
		char *e = g_strstrip(g_strdup(err ? err : ""));
		cred_failed(w, "failed (exit status %d)%s%s",
			g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1,
			*e ? ": " : "", e);
		g_free(e);
	} else {
		size_t n = strcspn(out ? out : "", "\r\n");
		if (n == 0) {
			cred_failed(w, "printed nothing");
		} else {
			out[n] = '\0';
			start_session(w, out);
		}
	}
	g_clear_object(&w->cred_proc);
	if (out) {
		explicit_bzero(out, strlen(out));
		g_free(out);
	}
	g_free(err);
}

static gboolean on_cred_timeout(gpointer data)
{
	struct watch *w = data;
	w->cred_timer = 0;
	cred_cleanup(w);
	cred_failed(w, "did not finish within %us", w->acct->config->timeout);
	return G_SOURCE_REMOVE;
}

static void connect_watch(struct watch *w)
{
	struct mb_account *a = w->acct;
	w->waiting_network = false;
	if (a->stopping || w->session || w->cred_proc)
		return;
	const char *cmd = a->ac->oauth_token_cmd ? a->ac->oauth_token_cmd : a->ac->password_cmd;
	if (!cmd) {
		start_session(w, a->ac->password);
		return;
	}
	/* Run afresh for every sign-in: tokens expire and keyrings lock. */
	GError *error = NULL;
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	w->cred_proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE
		| G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
	if (!w->cred_proc) {
		cred_failed(w, "cannot start: %s", error->message);
		g_error_free(error);
		return;
	}
	w->cred_cancel = g_cancellable_new();
	g_subprocess_communicate_utf8_async(w->cred_proc, NULL, w->cred_cancel, on_cred_done, w);
	w->cred_timer = g_timeout_add_seconds(a->config->timeout, on_cred_timeout, w);
}

/* --- public ------------------------------------------------------------- */

struct mb_account *mb_account_create(const struct mb_config *config,
	const struct mb_account_config *ac, struct mb_state *state)
{
	struct mb_account *a = g_new0(struct mb_account, 1);
	a->config = config;
	a->ac = ac;
	a->state = state;
	a->network_up = true;
	a->alerts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	a->watches = g_ptr_array_new();
	bool several = ac->mailboxes[0] && ac->mailboxes[1];
	for (char **mb = ac->mailboxes; *mb; mb++) {
		struct watch *w = g_new0(struct watch, 1);
		w->acct = a;
		w->mailbox = g_strdup(*mb);
		w->name = several ? g_strdup_printf("%s/%s", ac->name, *mb) : g_strdup(ac->name);
		w->backoff = BACKOFF_MIN;
		mb_state_get(state, ac->name, *mb, &w->st);
		g_ptr_array_add(a->watches, w);
	}
	return a;
}

void mb_account_start(struct mb_account *a)
{
	for (guint i = 0; i < a->watches->len; i++)
		connect_watch(a->watches->pdata[i]);
}

void mb_account_stop(struct mb_account *a, void (*done)(void *), void *data)
{
	a->stopping = true;
	a->stop_done = done;
	a->stop_data = data;
	a->stop_pending = 0;
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		if (w->retry_timer)
			g_source_remove(w->retry_timer);
		w->retry_timer = 0;
		cred_cleanup(w);
		if (w->session)
			a->stop_pending++;
	}
	if (a->stop_pending == 0) {
		done(data);
		return;
	}
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		if (w->session)
			mb_imap_session_logout(w->session);
	}
}

void mb_account_network_changed(struct mb_account *a, bool available)
{
	a->network_up = available;
	if (!available || a->stopping)
		return;
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		if (w->session) {
			mb_imap_session_probe(w->session);
		} else if (w->retry_timer || w->waiting_network) {
			if (w->retry_timer)
				g_source_remove(w->retry_timer);
			w->retry_timer = 0;
			w->backoff = BACKOFF_MIN;
			connect_watch(w);
		}
	}
}

void mb_account_resumed(struct mb_account *a)
{
	if (a->stopping)
		return;
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		if (w->retry_timer)
			g_source_remove(w->retry_timer);
		w->retry_timer = 0;
		if (w->session) {
			mb_imap_session_destroy(w->session);
			w->session = NULL;
		}
		w->healthy_since = 0;
		w->backoff = BACKOFF_MIN;
		if (!w->cred_proc)
			connect_watch(w);
	}
}

void mb_account_destroy(struct mb_account *a)
{
	if (!a)
		return;
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		if (w->retry_timer)
			g_source_remove(w->retry_timer);
		cred_cleanup(w);
		mb_imap_session_destroy(w->session);
		g_free(w->mailbox);
		g_free(w->name);
		g_free(w);
	}
	g_ptr_array_unref(a->watches);
	g_hash_table_unref(a->alerts);
	g_free(a);
}
