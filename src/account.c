#define G_LOG_DOMAIN "mailbell"

#include "account.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hook.h"
#include "imap.h"
#include "message.h"
#include "notify.h"
#include "rules.h"
#include "sasl.h"
#include "sync.h"
#include "text.h"

#define BACKOFF_MIN 1    /* seconds */
#define BACKOFF_MAX 300  /* seconds */
#define STABLE_AFTER 60  /* seconds connected before the backoff resets */
/* Rejected sign-ins in a row before the account stops trying: servers lock
 * accounts that keep failing. */
#define AUTH_FAILURES_MAX 3
/* The first retry after a working connection dropped waits this long plus
 * up to FIRST_RETRY_SPREAD, milliseconds: soon, but not into the listener of
 * a server that is going down (servers.md S14), nor in step with every
 * other client it dropped. */
#define FIRST_RETRY_MS 1000
#define FIRST_RETRY_SPREAD_MS 2000
/* How long a server whose IDLE did not deliver (servers.md S10) is polled
 * from the start of each new connection, seconds; then IDLE is tried
 * again. */
#define IDLE_SILENT_FOR (24 * 3600)

/* Why a connection polls, for mailbell ctl status. */
static const char *const polling_reasons[] = {
	[MB_IMAP_POLLING_NONE] = NULL,
	[MB_IMAP_POLLING_NO_IDLE] = "the server has no IDLE",
	[MB_IMAP_POLLING_IDLE_REFUSED] = "the server refused IDLE",
	[MB_IMAP_POLLING_IDLE_SILENT] = "the server reports new mail only after IDLE ends",
};

static const char *const watch_state_names[] = {
	[MB_WATCH_CONNECTING] = "connecting",
	[MB_WATCH_IDLE] = "idle",
	[MB_WATCH_POLLING] = "polling",
	[MB_WATCH_BACKOFF] = "backoff",
	[MB_WATCH_WAITING_NETWORK] = "waiting_network",
	[MB_WATCH_AUTH_FAILED] = "auth_failed",
	[MB_WATCH_STOPPED] = "stopped",
};

static void (*changed_fn)(void *);
static void *changed_data;

/* A watched mailbox: what was reported so far. */
struct mstate {
	char *name;
	struct mb_mailbox_state st;
	bool reported_before;       /* a batch was handled since start */
	GQueue pending;             /* UIDs whose hook is queued, ascending */
	GQueue notify_pending;      /* UIDs whose notification is queued */
	bool reuse_told;            /* warned about a server reusing UIDs */
	bool in_report;             /* the batch saves once at its end */
	bool save_due;              /* hook or notification progress not yet
	                             * written (see save_soon()) */
	gint64 last_message;        /* Unix seconds of the last one reported, 0 */
	unsigned reported;          /* messages reported since start */
	gint64 unseen;              /* UNSEEN from STATUS/NOTIFY, -1: unknown */
	bool missing_told;          /* warned that it cannot be opened; until it can */
};

/* A connection; the first one expands the configured mailbox names and,
 * when the server lacks NOTIFY, the others take a share of the mailboxes. */
struct watch {
	struct mb_account *acct;
	char **share;               /* mailbox names for this connection; for
	                             * the first: the configured patterns */
	char *name;                 /* for logs: "work" or "work/Lists" */
	struct mb_imap_session *session;
	unsigned backoff;           /* seconds before the next attempt */
	guint retry_timer;
	bool waiting_network;       /* a retry is due but the network is down */
	gint64 healthy_since;       /* monotonic µs when IDLE began, 0 if not */
	bool failure_told;          /* the user heard of this failure streak */
	struct mb_sasl_secret_cmd *cred; /* the running credential command */
	/* for mailbell ctl status */
	enum mb_watch_state state;
	gint64 state_since;         /* Unix seconds */
	char *last_error;           /* the last failure, NULL after a success */
	gint64 retry_at;            /* Unix seconds of the next attempt, 0 */
	char **watching;            /* the mailboxes assigned at the last sign-in */
	/* rejected sign-ins: after AUTH_FAILURES_MAX in a row, stop until
	 * ctl reconnect, a reload that changes the account, or a new secret */
	unsigned auth_failures;
	char *secret_hash;          /* SHA-256 of the secret last signed in with */
	char *failed_hash;          /* ... of the one rejected last */
	bool probing_secret;        /* running the credential command only to
	                             * see whether its output changed */
	bool caught_up;             /* reached IDLE (or polling) once: --once */
	bool session_idled;         /* the current session reached IDLE */
	bool failed;                /* --once/--check: gave up */
	enum mb_imap_polling polling; /* why it polls, when it does */
	gint64 idle_silent_until;   /* monotonic µs: poll new sessions from the
	                             * start until then (servers.md S10) */
	bool missing;               /* its mailboxes could not be opened: retry
	                             * on the missing-mailbox schedule */
};

struct mb_account {
	const struct mb_config *config;
	const struct mb_account_config *ac;
	struct mb_state *state;
	GPtrArray *watches;         /* struct watch *, [0] leads */
	GHashTable *mstates;        /* mailbox name -> struct mstate * */
	GHashTable *alerts;         /* texts already shown */
	bool network_up;
	bool stopping;
	unsigned stop_pending;
	void (*stop_done)(void *);
	void *stop_data;
	/* mb_account_fetch(): a one-shot task instead of watching */
	char *task_mailbox;
	uint32_t task_uid;
	mb_account_fetch_fn task_done;
	void *task_data;
	GBytes *task_raw;
	bool task_found;
	/* mb_account_mark_seen() */
	GArray *store_uids;
	uint32_t store_uidvalidity;
	mb_account_store_fn store_done;
	void *store_data;
	bool stored;
	/* --once */
	mb_account_once_fn once_done;
	void *once_data;
	/* --check */
	mb_account_check_fn check_done;
	void *check_data;
	enum mb_account_check_status check_status;
	char *check_line;           /* set when the server answered LIST */
	GList *hook_ctxs;           /* struct hook_ctx * whose hook is queued */
	guint save_id;              /* save_soon()'s idle source */
	struct mb_sync *sync;       /* sync hooks; NULL unless watching */
	bool once;                  /* mb_account_once(): flush sync at stop */
};

static void connect_watch(struct watch *w);

/* --- reporting ---------------------------------------------------------- */

/* Holds the account, not the watch: a watch may be replaced (new mailbox
 * shares at a sign-in) while its messages' hooks still wait in the queue. */
struct hook_ctx {
	struct mb_account *acct;    /* NULL once the account is gone */
	struct mstate *ms;
	uint32_t uid;
};

static void set_watch_state(struct watch *w, enum mb_watch_state st)
{
	if (w->state == st)
		return;
	w->state = st;
	w->state_since = g_get_real_time() / G_USEC_PER_SEC;
	if (st != MB_WATCH_BACKOFF)
		w->retry_at = 0;
	if (changed_fn)
		changed_fn(changed_data);
}

static void set_last_error(struct watch *w, const char *reason)
{
	g_free(w->last_error);
	w->last_error = reason ? g_strdup(reason) : NULL;
}

static void save_state(struct mb_account *a, struct mstate *ms, bool durable);
static void save_soon(struct mb_account *a, struct mstate *ms);

/* Hooks start in queue order, so everything below the oldest hook still
 * queued is done. */
static void update_hook_uid(struct mstate *ms)
{
	if (g_queue_is_empty(&ms->pending))
		ms->st.hook_uid = ms->st.last_uid;
	else
		ms->st.hook_uid = GPOINTER_TO_UINT(g_queue_peek_head(&ms->pending)) - 1;
	/* notifications are taken in order too */
	if (g_queue_is_empty(&ms->notify_pending))
		ms->st.notified_uid = ms->st.last_uid;
	else
		ms->st.notified_uid = GPOINTER_TO_UINT(g_queue_peek_head(&ms->notify_pending)) - 1;
}

/* The notification thread took (or gave up on) one message's notification:
 * the state may move past it. */
static void notify_done(bool shown, void *data)
{
	struct hook_ctx *ctx = data;
	if (!ctx->acct) {
		g_free(ctx);
		return;
	}
	ctx->acct->hook_ctxs = g_list_remove(ctx->acct->hook_ctxs, ctx);
	struct mstate *ms = ctx->ms;
	g_queue_remove(&ms->notify_pending, GUINT_TO_POINTER(ctx->uid));
	if (!ms->in_report) {
		uint32_t before = ms->st.notified_uid;
		update_hook_uid(ms);
		/* At once, not at the next iteration (save_soon()): a notification
		 * is on the screen already, and a kill -9 before the write shows
		 * it again after a restart; the window stays the hand-over from
		 * the notification thread. Without fsync: a crash, not a power
		 * loss. */
		if (ms->st.notified_uid != before)
			save_state(ctx->acct, ms, false);
	}
	g_free(ctx);
}

static void hook_started(void *data)
{
	struct hook_ctx *ctx = data;
	if (!ctx->acct) {
		g_free(ctx); /* removed by a reload: nothing to record */
		return;
	}
	ctx->acct->hook_ctxs = g_list_remove(ctx->acct->hook_ctxs, ctx);
	struct mstate *ms = ctx->ms;
	g_queue_remove(&ms->pending, GUINT_TO_POINTER(ctx->uid));
	if (ms->in_report) {
		g_free(ctx);
		return;
	}
	uint32_t before = ms->st.hook_uid;
	update_hook_uid(ms);
	if (ms->st.hook_uid != before)
		save_soon(ctx->acct, ms); /* a crash, not a power loss */
	g_free(ctx);
}

/* What a message gets: the first matching rule's results, else the
 * account's. */
struct verdict {
	const struct mb_rule *rule;
	unsigned actions;
	const char *hook;           /* borrowed from the config, NULL: none */
	enum mb_urgency urgency;
};

static struct verdict judge(const struct mb_account *a, const struct mb_message *m)
{
	struct verdict v = { 0 };
	v.rule = mb_rules_match(a->config->rules, m);
	v.actions = v.rule ? v.rule->actions : MB_ACTION_NOTIFY | MB_ACTION_HOOK;
	v.hook = v.rule && v.rule->hook ? v.rule->hook : mb_account_config_hook(a->config, a->ac);
	v.urgency = v.rule ? v.rule->urgency : MB_URGENCY_UNSET;
	if (!mb_account_config_notify(a->config, a->ac))
		v.actions &= ~(unsigned)MB_ACTION_NOTIFY;
	if (!v.hook)
		v.actions &= ~(unsigned)MB_ACTION_HOOK;
	return v;
}

/* Whether any hook can run for this account: then the whole header block
 * is fetched for the hooks' standard input. */
static bool account_has_hook(const struct mb_account *a)
{
	if (mb_account_config_hook(a->config, a->ac))
		return true;
	for (guint i = 0; a->config->rules && i < a->config->rules->len; i++) {
		const struct mb_rule *r = a->config->rules->pdata[i];
		if (r->hook)
			return true;
	}
	return false;
}

static void notify_options(const struct mb_account *a, const struct verdict *v,
	struct mb_notify_options *opt)
{
	opt->open_cmd = mb_account_config_open_cmd(a->config, a->ac);
	opt->mark_read = mb_account_config_mark_read(a->config, a->ac);
	opt->sound = mb_account_config_sound(a->config, a->ac);
	opt->icon = mb_account_config_icon(a->config, a->ac);
	opt->coalesce = a->config->coalesce;
	opt->rule = v->rule ? v->rule->name : NULL;
}

/* Messages up to notify_after were notified before (or their notification
 * was still queued when mailbell stopped: then notify_after is below them),
 * and those up to hook_after had their hook started: a message gets what
 * it did not get yet, never anything twice. */
static void report(struct watch *w, struct mstate *ms, GPtrArray *msgs, uint32_t notify_after,
	uint32_t hook_after)
{
	struct mb_account *a = w->acct;
	unsigned window = a->config->dedupe_window;

	for (guint i = 0; i < msgs->len; i++) {
		struct mb_message *m = msgs->pdata[i];
		if (m->seen) {
			g_debug("%s: %s: uid %u is already \\Seen: not reported", w->name, m->mailbox, m->uid);
			continue;
		}
		struct verdict v = judge(a, m);
		if (v.actions & MB_ACTION_IGNORE) {
			g_info("%s: %s: uid %u from %s ignored by rule %s", w->name, m->mailbox, m->uid,
				m->from_address, v.rule->name);
			continue;
		}
		enum mb_notify_dup dup = mb_notify_dedupe(m, window);
		if (dup == MB_NOTIFY_DUP_SAME_MAILBOX) {
			/* servers.md S8: a read-only session handed out a UID
			 * for mail it had reported under another one */
			if (!ms->reuse_told)
				g_warning("%s: %s: the server reports %s again under UID %u without a new "
					"UIDVALIDITY (a server bug, seen in Courier under EXAMINE): not "
					"reported twice; mail delivered meanwhile may show only after "
					"a reconnect", w->name, m->mailbox, m->message_id, m->uid);
			ms->reuse_told = true;
			continue;
		}
		if (m->uid <= notify_after || g_queue_find(&ms->notify_pending, GUINT_TO_POINTER(m->uid)))
			v.actions &= ~(unsigned)MB_ACTION_NOTIFY;
		/* After a reconnect the fetch starts above the lower of the two
		 * marks, so a message whose hook ran (or still waits in the
		 * queue) can come again: it must not get a second run. */
		if (m->uid <= hook_after || g_queue_find(&ms->pending, GUINT_TO_POINTER(m->uid)))
			v.actions &= ~(unsigned)MB_ACTION_HOOK;
		if (dup == MB_NOTIFY_DUP_ELSEWHERE && (v.actions & MB_ACTION_NOTIFY)) {
			g_info("%s: %s: uid %u (%s) was notified from another mailbox: not again",
				w->name, m->mailbox, m->uid, m->message_id);
			v.actions &= ~(unsigned)MB_ACTION_NOTIFY;
		}
		m->duplicate = dup == MB_NOTIFY_DUP_ELSEWHERE;
		if (!v.actions)
			continue;
		ms->reported++;
		ms->last_message = g_get_real_time() / G_USEC_PER_SEC;
		g_info("%s: %s: new message uid %u from %s%s%s (%s)", w->name, m->mailbox, m->uid, m->from,
			v.rule ? ", rule " : "", v.rule ? v.rule->name : "",
			m->raw ? "downloaded" : "headers");
		if (v.actions & MB_ACTION_NOTIFY) {
			struct hook_ctx *ctx = g_new0(struct hook_ctx, 1);
			ctx->acct = a;
			ctx->ms = ms;
			ctx->uid = m->uid;
			g_queue_push_tail(&ms->notify_pending, GUINT_TO_POINTER(m->uid));
			a->hook_ctxs = g_list_prepend(a->hook_ctxs, ctx);
			struct mb_notify_options opt;
			notify_options(a, &v, &opt);
			mb_notify_mail(m, v.urgency, &opt, notify_done, ctx);
		}
		if (v.actions & MB_ACTION_HOOK) {
			struct hook_ctx *ctx = g_new0(struct hook_ctx, 1);
			ctx->acct = a;
			ctx->ms = ms;
			ctx->uid = m->uid;
			g_queue_push_tail(&ms->pending, GUINT_TO_POINTER(m->uid));
			a->hook_ctxs = g_list_prepend(a->hook_ctxs, ctx);
			mb_hook_run(v.hook, m, v.rule ? v.rule->name : NULL, hook_started, ctx);
		}
	}
}

static void save_state(struct mb_account *a, struct mstate *ms, bool durable)
{
	ms->save_due = false;
	GError *error = NULL;
	if (!mb_state_set(a->state, a->ac->name, ms->name, &ms->st, durable, &error)) {
		g_warning("%s: %s: cannot save state: %s", a->ac->name, ms->name, error->message);
		g_error_free(error);
	}
}

static void save_due(struct mb_account *a)
{
	g_clear_handle_id(&a->save_id, g_source_remove);
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, a->mstates);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct mstate *ms = v;
		if (ms->save_due)
			save_state(a, ms, false);
	}
}

static gboolean on_save(gpointer data)
{
	struct mb_account *a = data;
	a->save_id = 0;
	save_due(a);
	return G_SOURCE_REMOVE;
}

/* Progress of hooks and notifications is written at the start of the next
 * main loop iteration, before anything else runs: the notification service
 * taking 200 messages at once makes one write, not 200 in a row holding
 * up the hooks, and the hooks started in one iteration share one. A kill
 * -9 before it is as if during the write: what it records happens again
 * after a restart (README, honest limits); the window grows by the rest of
 * the iteration, a fraction of a millisecond. */
static void save_soon(struct mb_account *a, struct mstate *ms)
{
	ms->save_due = true;
	if (!a->save_id)
		a->save_id = g_idle_add_full(G_PRIORITY_HIGH, on_save, a, NULL);
}

/* --- session events ------------------------------------------------------ */

static void check_once(struct mb_account *a);

/* A change for the sync hook of mailbox, if one applies. */
static void note_sync(struct mb_account *a, const char *mailbox, unsigned n_new, enum mb_sync_reason reason)
{
	if (!a->sync || a->stopping)
		return;
	const char *cmd = mb_account_config_sync_hook(a->config, a->ac, mailbox);
	if (cmd)
		mb_sync_note(a->sync, cmd, mailbox, n_new, reason);
}

/* "account\nmailbox" of every mailbox a connection reached IDLE on since
 * mailbell started, across reloads that replace the account: a sign-in
 * after that is a reconnect. */
static GHashTable *signed_in;

static char *signin_key(const struct mb_account *a, const char *mailbox)
{
	return g_strconcat(a->ac->name, "\n", mailbox, NULL);
}

/* Mail found at sign-in and the sign-in itself go to the start or
 * reconnect run, whatever sync_on says. */
static enum mb_sync_reason signin_reason(struct mb_account *a, const char *mailbox)
{
	char *key = signin_key(a, mailbox);
	bool before = signed_in && g_hash_table_contains(signed_in, key);
	g_free(key);
	return before ? MB_SYNC_REASON_RECONNECT : MB_SYNC_REASON_START;
}

static const char *sync_command_for(const char *mailbox, void *data)
{
	struct mb_account *a = data;
	return mb_account_config_sync_hook(a->config, a->ac, mailbox);
}

static void on_changed(struct mb_imap_session *session, const char *mailbox, unsigned changes, void *data)
{
	struct watch *w = data;
	unsigned on = mb_account_config_sync_on(w->acct->config, w->acct->ac);
	g_debug("%s: %s: %s", w->name, mailbox,
		changes == (MB_IMAP_CHANGE_EXPUNGE | MB_IMAP_CHANGE_FLAGS) ? "messages expunged, flags changed"
		: changes & MB_IMAP_CHANGE_EXPUNGE ? "messages expunged" : "flags changed");
	if (((changes & MB_IMAP_CHANGE_EXPUNGE) && (on & MB_SYNC_EXPUNGE))
	    || ((changes & MB_IMAP_CHANGE_FLAGS) && (on & MB_SYNC_FLAGS)))
		note_sync(w->acct, mailbox, 0, MB_SYNC_REASON_CHANGE);
}

static void on_idling(struct mb_imap_session *session, void *data)
{
	struct watch *w = data;
	if (!w->healthy_since)
		w->healthy_since = g_get_monotonic_time();
	if (w->failure_told)
		g_message("%s: connected again", w->name);
	w->failure_told = false;
	w->auth_failures = 0;
	set_last_error(w, NULL);
	w->missing = false;
	w->polling = mb_imap_session_polling(session);
	gint64 now = g_get_monotonic_time();
	if (w->polling == MB_IMAP_POLLING_IDLE_SILENT && w->idle_silent_until <= now)
		w->idle_silent_until = now + (gint64)IDLE_SILENT_FOR * G_USEC_PER_SEC;
	set_watch_state(w, w->polling != MB_IMAP_POLLING_NONE ? MB_WATCH_POLLING : MB_WATCH_IDLE);
	if (!w->session_idled) {
		w->session_idled = true;
		for (char **n = w->watching; n && *n; n++) {
			note_sync(w->acct, *n, 0, signin_reason(w->acct, *n));
			if (!signed_in)
				signed_in = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
			g_hash_table_add(signed_in, signin_key(w->acct, *n));
		}
	}
	if (!w->caught_up) {
		w->caught_up = true;
		check_once(w->acct);
	}
}

static void on_gone(struct mb_imap_session *session, const char *mailbox, uint32_t uidvalidity,
	uint32_t uid, bool expunged, void *data)
{
	struct watch *w = data;
	mb_notify_gone(w->acct->ac->name, mailbox, uidvalidity, uid);
}

static void on_stored(struct mb_imap_session *session, void *data)
{
	struct watch *w = data;
	w->acct->stored = true;
}

static void on_unseen(struct mb_imap_session *session, const char *mailbox, uint32_t unseen,
	void *data)
{
	struct watch *w = data;
	struct mstate *ms = g_hash_table_lookup(w->acct->mstates, mailbox);
	if (ms && ms->unseen != (gint64)unseen) {
		ms->unseen = unseen;
		if (changed_fn)
			changed_fn(changed_data);
	}
}

static struct mstate *get_mstate(struct mb_account *a, const char *mailbox)
{
	struct mstate *ms = g_hash_table_lookup(a->mstates, mailbox);
	if (!ms) {
		ms = g_new0(struct mstate, 1);
		ms->name = g_strdup(mailbox);
		ms->unseen = -1;
		mb_state_get(a->state, a->ac->name, mailbox, &ms->st);
		g_hash_table_insert(a->mstates, ms->name, ms);
	}
	return ms;
}

/* Which new messages to download in full, decided on their header fields
 * before the body is fetched: nothing for \Seen or ignored mail or mail
 * that neither notifies nor runs a hook; the whole message when a rule says
 * download = full (up to MB_IMAP_BODY_MAX) or when it is no larger than
 * download_limit. */
static void on_plan(struct mb_imap_session *session, const struct mb_imap_mailbox *progress,
	const GPtrArray *fetches, uint32_t *limits, bool catchup, void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	struct mstate *ms = get_mstate(a, progress->name);
	if (catchup && !ms->reported_before && !a->config->catchup)
		return; /* none of it is reported (catchup = no) */
	uint64_t limit = mb_account_config_download_limit(a->config, a->ac);
	for (guint i = 0; i < fetches->len; i++) {
		const struct mb_imap_fetch *f = fetches->pdata[i];
		if (f->seen)
			continue;
		struct mb_message *m = mb_message_create(f, a->ac->name, progress->name,
			progress->uidvalidity, false);
		struct verdict v = judge(a, m);
		mb_message_destroy(m);
		if (!(v.actions & (MB_ACTION_NOTIFY | MB_ACTION_HOOK)))
			continue;
		enum mb_download d = v.rule ? v.rule->download : MB_DOWNLOAD_POLICY;
		if (d == MB_DOWNLOAD_FULL) {
			if (f->size > MB_IMAP_BODY_MAX)
				g_message("%s: %s uid %u: %u octets is more than mailbell downloads (%u): headers only",
					w->name, progress->name, f->uid, f->size, MB_IMAP_BODY_MAX);
			else
				limits[i] = MB_IMAP_BODY_MAX;
		} else if (d == MB_DOWNLOAD_POLICY && limit > 0 && f->size <= limit) {
			limits[i] = (uint32_t)MIN(limit, (uint64_t)MB_IMAP_BODY_MAX);
		}
	}
}

static void save_baseline(struct mb_account *a, struct mstate *ms)
{
	GError *error = NULL;
	if (!mb_state_set_baseline(a->state, a->ac->name, ms->name, &ms->st, &error)) {
		g_warning("%s: %s: cannot save state: %s", a->ac->name, ms->name, error->message);
		g_error_free(error);
	}
}

static void on_messages(struct mb_imap_session *session, const struct mb_imap_mailbox *progress,
	GPtrArray *fetches, bool catchup, bool rebaselined, void *data)
{
	const char *mailbox = progress->name;
	uint32_t uidvalidity = progress->uidvalidity, last_uid = progress->last_uid;
	struct watch *w = data;
	const struct mb_config *c = w->acct->config;
	struct mstate *ms = get_mstate(w->acct, mailbox);
	bool preview = mb_account_config_preview(c, w->acct->ac);
	GPtrArray *msgs = g_ptr_array_new_full(fetches->len, (GDestroyNotify)mb_message_destroy);
	for (guint i = 0; i < fetches->len; i++)
		g_ptr_array_add(msgs, mb_message_create(fetches->pdata[i], w->acct->ac->name, mailbox,
			uidvalidity, preview));
	g_ptr_array_unref(fetches);
	if (rebaselined)
		g_info("%s: %s: starting from UID %u (UIDVALIDITY %u)", w->name, mailbox,
			last_uid + 1, uidvalidity);
	if (ms->missing_told) {
		g_message("%s: mailbox %s can be opened now", w->name, mailbox);
		ms->missing_told = false;
	}
	struct mb_mailbox_state before = ms->st;
	uint32_t notify_after = ms->st.notified_uid, hook_after = ms->st.hook_uid;
	uint32_t known = ms->st.last_uid;
	if (ms->st.uidvalidity != uidvalidity || rebaselined) {
		/* Old UIDs mean nothing under a new UIDVALIDITY. */
		g_queue_clear(&ms->pending);
		g_queue_clear(&ms->notify_pending);
		notify_after = hook_after = known = 0;
	}
	ms->st.uidvalidity = uidvalidity;
	ms->st.last_uid = MAX(last_uid, known);
	ms->st.highestmodseq = progress->highestmodseq;
	if (msgs->len > 0) {
		if (catchup)
			note_sync(w->acct, mailbox, msgs->len, signin_reason(w->acct, mailbox));
		else if (mb_account_config_sync_on(c, w->acct->ac) & MB_SYNC_NEW)
			note_sync(w->acct, mailbox, msgs->len, MB_SYNC_REASON_CHANGE);
	}
	ms->in_report = true;
	if (catchup && !ms->reported_before && !c->catchup && msgs->len > 0)
		g_message("%s: %s: %u messages arrived while mailbell was not running: not reported (catchup = no)",
			w->name, mailbox, msgs->len);
	else
		report(w, ms, msgs, notify_after, hook_after);
	ms->in_report = false;
	ms->reported_before = true;
	update_hook_uid(ms);
	bool changed = before.uidvalidity != ms->st.uidvalidity || before.last_uid != ms->st.last_uid
		|| before.hook_uid != ms->st.hook_uid || before.notified_uid != ms->st.notified_uid
		|| before.highestmodseq != ms->st.highestmodseq;
	/* A first baseline (nothing stored, nothing reported) is flushed in
	 * one batch with the others: mb_state_set_baseline() says why no mail
	 * can be lost or repeated by that. */
	if (changed && before.uidvalidity == 0 && msgs->len == 0)
		save_baseline(w->acct, ms);
	else if (changed)
		save_state(w->acct, ms, true);
	g_ptr_array_unref(msgs);
}

/* Answers the session's mailboxes event: names (borrowed) with what is
 * known of each. */
static void assign(struct watch *w, char **names, enum mb_share_others others,
	struct mb_imap_assignment *as)
{
	g_strfreev(w->watching);
	w->watching = g_strdupv(names);
	for (char **n = names; n && *n; n++) {
		struct mstate *ms = get_mstate(w->acct, *n);
		struct mb_imap_mailbox m = {
			.name = ms->name,
			.uidvalidity = ms->st.uidvalidity,
			.last_uid = MIN(ms->st.hook_uid, ms->st.notified_uid),
			.highestmodseq = ms->st.highestmodseq,
		};
		g_array_append_val(as->mailboxes, m);
	}
	as->others = others;
}

static struct watch *watch_new(struct mb_account *a, char **share, const char *name);
static void watch_free(struct watch *w);

static bool strv_equal(char **a, char **b)
{
	return a && b && g_strv_equal((const char *const *)a, (const char *const *)b);
}

/* The first connection expands the names; the plan (share.c) says which
 * connection watches which, and this makes the connections match it. */
static void on_mailboxes(struct mb_imap_session *session, const char *const *names,
	bool has_notify, struct mb_imap_assignment *as, void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	guint n = g_strv_length((char **)names);
	if (w != a->watches->pdata[0]) {
		assign(w, (char **)names, mb_share_others_for(n, has_notify), as);
		return;
	}
	if (n == 0) {
		g_warning("%s: none of the configured mailboxes exists", w->name);
		assign(w, NULL, MB_SHARE_ALONE, as);
		return;
	}
	unsigned max = MAX(a->ac->max_connections, 1);
	struct mb_share *plan = g_newa(struct mb_share, max);
	guint k = mb_share_plan(n, has_notify, max, plan);
	for (guint i = 1; i < k; i++) {
		char **share = g_new0(char *, plan[i].count + 1);
		for (unsigned j = 0; j < plan[i].count; j++)
			share[j] = g_strdup(names[plan[i].first + j]);
		struct watch *x = i < a->watches->len ? a->watches->pdata[i] : NULL;
		if (x && strv_equal(x->share, share)) {
			g_strfreev(share);
			continue;
		}
		char *name = g_strdup_printf("%s/%s", a->ac->name, share[0]);
		struct watch *nw = watch_new(a, share, name);
		g_free(name);
		if (x) {
			watch_free(x);
			a->watches->pdata[i] = nw;
		} else {
			g_ptr_array_add(a->watches, nw);
		}
		connect_watch(nw);
	}
	while (a->watches->len > k) {
		watch_free(a->watches->pdata[a->watches->len - 1]);
		g_ptr_array_set_size(a->watches, a->watches->len - 1);
	}
	char **mine = g_new0(char *, plan[0].count + 1);
	for (unsigned j = 0; j < plan[0].count; j++)
		mine[j] = (char *)names[plan[0].first + j];
	assign(w, mine, plan[0].others, as);
	g_free(mine);
}

static void on_fetched(struct mb_imap_session *session, const struct mb_imap_fetch *f, void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	a->task_found = true;
	if (f && f->body)
		a->task_raw = g_bytes_ref(f->body);
}

/* The task's session ended: report once, never retry. */
static void finish_task(struct mb_account *a, enum mb_imap_close how, const char *reason)
{
	mb_account_fetch_fn done = a->task_done;
	a->task_done = NULL;
	if (!done)
		return;
	enum mb_account_fetch_status st;
	char *why = NULL;
	if (a->task_raw) {
		st = MB_ACCOUNT_FETCH_OK;
	} else if (a->task_found) {
		st = MB_ACCOUNT_FETCH_NOT_FOUND;
		why = g_strdup_printf("%s: no message with UID %u in %s", a->ac->name, a->task_uid,
			a->task_mailbox);
	} else if (how == MB_IMAP_CLOSE_AUTH_FAILED) {
		st = MB_ACCOUNT_FETCH_AUTH_FAILED;
		why = g_strdup_printf("%s: %s", a->ac->name, reason);
	} else if (reason && g_str_has_prefix(reason, "cannot open mailbox")) {
		st = MB_ACCOUNT_FETCH_NOT_FOUND;
		why = g_strdup_printf("%s: %s", a->ac->name, reason);
	} else {
		st = MB_ACCOUNT_FETCH_FAILED;
		why = g_strdup_printf("%s: %s", a->ac->name, reason ? reason : "failed");
	}
	done(a->task_raw, st, why, a->task_data);
	g_free(why);
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

static void schedule_retry_ms(struct watch *w, guint ms)
{
	if (w->acct->stopping)
		return;
	if (w->retry_timer)
		g_source_remove(w->retry_timer);
	w->retry_timer = 0;
	if (!w->acct->network_up && !is_loopback(w->acct->ac->host)) {
		g_message("%s: waiting for the network", w->name);
		w->waiting_network = true;
		set_watch_state(w, MB_WATCH_WAITING_NETWORK);
		return;
	}
	if (w->missing) {
		char *names = g_strjoinv(", ", w->share);
		g_message("%s: looking for mailbox %s again in %.1fs", w->name, names, ms / 1000.0);
		g_free(names);
	} else {
		g_message("%s: reconnecting in %.1fs", w->name, ms / 1000.0);
	}
	w->retry_timer = g_timeout_add(ms, on_retry, w);
	set_watch_state(w, MB_WATCH_BACKOFF);
	w->retry_at = g_get_real_time() / G_USEC_PER_SEC + (ms + 999) / 1000;
}

static void schedule_retry(struct watch *w, unsigned delay)
{
	/* Jitter up to a quarter keeps many clients (and our own mailboxes)
	 * from reconnecting in lockstep after a server restart. */
	schedule_retry_ms(w, delay * 1000 + (guint)g_random_int_range(0, (gint32)(delay * 250 + 1)));
}

/* A mailbox that cannot be opened is looked for again every poll_interval
 * at first, then less often, up to every BACKOFF_MAX (or poll_interval when
 * that is longer). */
static void schedule_missing_retry(struct watch *w)
{
	const struct mb_account *a = w->acct;
	unsigned poll = mb_account_config_poll_interval(a->config, a->ac);
	unsigned most = MAX(BACKOFF_MAX, poll);
	unsigned delay = MIN(MAX(w->backoff, poll), most);
	w->backoff = MIN(delay * 2, most);
	schedule_retry(w, delay);
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

static void finish_check(struct mb_account *a, enum mb_imap_close how, const char *reason);
static void on_checked(struct mb_imap_session *session, const struct mb_imap_check_result *res,
	void *data);
static gboolean on_secret_probe(gpointer data);

/* After AUTH_FAILURES_MAX rejected sign-ins in a row: no more attempts
 * until the user acts; a credential command is still run now and then, and
 * a different answer from it is worth one more attempt. */
static void stop_after_auth_failures(struct watch *w, const char *reason)
{
	struct mb_account *a = w->acct;
	bool cmd = a->ac->password_cmd || a->ac->oauth_token_cmd;
	g_warning("%s: sign-in rejected %u times in a row: not trying again until "
		"'mailbell ctl reconnect %s'%s", w->name, w->auth_failures, a->ac->name,
		cmd ? " or a new password from the credential command" : " or a reload with new credentials");
	set_watch_state(w, MB_WATCH_AUTH_FAILED);
	char *summary = g_strdup_printf("mailbell: sign-in failed %u times (%s): stopped trying",
		w->auth_failures, w->name);
	char *body = g_strdup_printf("%s\nFix the credentials, then run: mailbell ctl reconnect %s",
		reason, a->ac->name);
	mb_notify_text(summary, body, "email", true);
	g_free(summary);
	g_free(body);
	if (cmd)
		w->retry_timer = g_timeout_add_seconds(BACKOFF_MAX, on_secret_probe, w);
}

static void on_closed(struct mb_imap_session *session, enum mb_imap_close how,
	const char *reason, void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	mb_imap_session_destroy(w->session);
	w->session = NULL;
	if (a->task_uid) {
		finish_task(a, how, reason);
		return;
	}
	if (a->check_done) {
		finish_check(a, how, reason);
		return;
	}
	if (a->store_uids) {
		mb_account_store_fn done = a->store_done;
		a->store_done = NULL;
		if (done) {
			char *why = a->stored ? NULL : g_strdup_printf("%s: %s", a->ac->name, reason);
			done(a->stored, why, a->store_data);
			g_free(why);
		}
		return;
	}
	if (how == MB_IMAP_CLOSE_LOGOUT || a->stopping) {
		g_debug("%s: %s", w->name, reason);
		set_watch_state(w, MB_WATCH_STOPPED);
		if (a->stopping && a->stop_pending > 0 && --a->stop_pending == 0 && a->stop_done)
			a->stop_done(a->stop_data);
		return;
	}
	set_last_error(w, reason);
	gint64 now = g_get_monotonic_time();
	bool was_healthy = w->healthy_since != 0;
	if (w->healthy_since && now - w->healthy_since >= (gint64)STABLE_AFTER * G_USEC_PER_SEC)
		w->backoff = BACKOFF_MIN;
	w->healthy_since = 0;
	if (a->once_done && !w->caught_up) {
		/* --once does not retry */
		g_warning("%s: %s", w->name, reason);
		w->failed = true;
		set_watch_state(w, MB_WATCH_STOPPED);
		check_once(a);
		return;
	}

	unsigned delay;
	switch (how) {
	case MB_IMAP_CLOSE_AUTH_FAILED:
		/* R4: retrying quickly could get the account locked. */
		g_warning("%s: %s", w->name, reason);
		w->auth_failures++;
		g_free(w->failed_hash);
		w->failed_hash = g_strdup(w->secret_hash);
		if (w->auth_failures >= AUTH_FAILURES_MAX) {
			stop_after_auth_failures(w, reason);
			return;
		}
		tell_user_once(w, "sign-in failed", reason);
		delay = BACKOFF_MAX;
		break;
	case MB_IMAP_CLOSE_REFUSED:
		if (w->missing) {
			/* said by on_missing; the other connections go on */
			schedule_missing_retry(w);
			return;
		}
		g_warning("%s: %s", w->name, reason);
		tell_user_once(w, "cannot connect", reason);
		delay = BACKOFF_MAX;
		break;
	default:
		g_warning("%s: %s", w->name, reason);
		/* A session that was working (R9, R10: the server ended it)
		 * is replaced soon the first time (FIRST_RETRY_MS); the
		 * backoff still grows so a server that keeps doing it is not
		 * hammered. */
		if (was_healthy && w->backoff == BACKOFF_MIN) {
			w->backoff = MIN(w->backoff * 2, BACKOFF_MAX);
			schedule_retry_ms(w, FIRST_RETRY_MS
				+ (guint)g_random_int_range(0, FIRST_RETRY_SPREAD_MS + 1));
			return;
		}
		delay = w->backoff;
		w->backoff = MIN(w->backoff * 2, BACKOFF_MAX);
		break;
	}
	schedule_retry(w, delay);
}

/* Removes name from the NULL-terminated strv (which owns its strings). */
static void strv_remove(char **v, const char *name)
{
	for (size_t i = 0; v && v[i]; i++) {
		if (strcmp(v[i], name) == 0) {
			g_free(v[i]);
			memmove(v + i, v + i + 1, g_strv_length(v + i + 1) * sizeof *v + sizeof *v);
			return;
		}
	}
}

/* A mailbox this connection could not open (servers.md S9: the server
 * spells it "INBOX.Other", or it does not exist yet). The connection goes
 * on with its other mailboxes, undisturbed; this one is looked for again on
 * its own schedule, by a connection of its own, which then watches it. */
static void on_missing(struct mb_imap_session *session, const char *mailbox, const char *text,
	void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	struct mstate *ms = get_mstate(a, mailbox);
	char *line = g_strdup_printf("cannot open mailbox %s: %s", mailbox, text);
	strv_remove(w->watching, mailbox);
	bool last = !w->watching || !*w->watching;
	if (!ms->missing_told) {
		/* once until it can be opened: a retry every few minutes
		 * would fill the log */
		ms->missing_told = true;
		g_warning("%s: %s (mailbell --check lists the server's mailboxes)", w->name, line);
		char *summary = g_strdup_printf("mailbell: cannot open mailbox %s (%s)", mailbox,
			a->ac->name);
		mb_notify_text(summary, line, "email", true);
		g_free(summary);
	} else {
		g_info("%s: %s", w->name, line);
	}
	if (last) {
		/* the session closes: this connection retries on its own */
		w->missing = true;
	} else if (!a->once_done) {
		char *one[] = { (char *)mailbox, NULL };
		struct watch *x = NULL;
		for (guint i = 1; i < a->watches->len && !x; i++)
			if (strv_equal(((struct watch *)a->watches->pdata[i])->share, one))
				x = a->watches->pdata[i];
		if (!x) {
			char *name = g_strdup_printf("%s/%s", a->ac->name, mailbox);
			x = watch_new(a, g_strdupv(one), name);
			g_free(name);
			g_ptr_array_add(a->watches, x);
		}
		if (!x->session && !x->cred && !x->retry_timer) {
			x->missing = true;
			set_last_error(x, line);
			schedule_missing_retry(x);
		}
	}
	g_free(line);
}

static const struct mb_imap_events session_events = {
	.mailboxes = on_mailboxes,
	.idling = on_idling,
	.plan = on_plan,
	.messages = on_messages,
	.fetched = on_fetched,
	.checked = on_checked,
	.stored = on_stored,
	.gone = on_gone,
	.changed = on_changed,
	.unseen = on_unseen,
	.alert = on_alert,
	.missing = on_missing,
	.closed = on_closed,
};

/* --- credentials -------------------------------------------------------- */

static void start_session(struct watch *w, const char *secret)
{
	struct mb_account *a = w->acct;
	struct mb_imap_session_params p = {
		.name = w->name,
		.account = a->ac,
		.mailboxes = (const char *const *)w->share,
		.secret = secret,
		.timeout = a->config->timeout,
		.keepalive = a->config->keepalive,
		.poll_interval = mb_account_config_poll_interval(a->config, a->ac),
		.want_header = account_has_hook(a),
		.want_preview = mb_account_config_preview(a->config, a->ac),
		.idle_silent = w->idle_silent_until > g_get_monotonic_time(),
		.task_mailbox = a->task_mailbox,
		.task_uid = a->task_uid,
		.task_check = a->check_done != NULL,
		.task_store_uids = a->store_uids ? (const uint32_t *)(void *)a->store_uids->data : NULL,
		.task_store_n = a->store_uids ? a->store_uids->len : 0,
		.task_uidvalidity = a->store_uidvalidity,
	};
	g_free(w->secret_hash);
	w->secret_hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret ? secret : "", -1);
	w->missing = false; /* until this session finds its mailboxes missing again */
	g_debug("%s: connecting to %s:%u", w->name, a->ac->host, a->ac->port);
	set_watch_state(w, MB_WATCH_CONNECTING);
	w->session_idled = false;
	w->session = mb_imap_session_create(&p, &session_events, w);
}

/* The whole process group gets SIGKILL (see spawn.h): killing only the
 * shell would leave a hung password manager (or its pinentry) behind. */
static void cred_cleanup(struct watch *w)
{
	mb_sasl_secret_cancel(w->cred);
	w->cred = NULL;
}

/* Which secret the sign-in needs: an OAuth2 token for xoauth2/oauthbearer,
 * or for auto when a token command is set; else the password. */
static bool uses_oauth(const struct mb_account_config *ac)
{
	return ac->auth == MB_AUTH_XOAUTH2 || ac->auth == MB_AUTH_OAUTHBEARER
		|| (ac->auth == MB_AUTH_AUTO && ac->oauth_token_cmd);
}

static const char *cred_key(const struct mb_account *a)
{
	return uses_oauth(a->ac) ? "oauth_token_cmd" : "password_cmd";
}

static void cred_failed(struct watch *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void cred_failed(struct watch *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	struct mb_account *a = w->acct;
	char *reason = g_strdup_printf("%s %s", cred_key(a), why);
	set_last_error(w, reason);
	if (a->task_uid || a->check_done || a->store_uids || (a->once_done && !w->caught_up)) {
		if (a->store_uids) {
			mb_account_store_fn done = a->store_done;
			a->store_done = NULL;
			if (done) {
				char *full = g_strdup_printf("%s: %s", a->ac->name, reason);
				done(false, full, a->store_data);
				g_free(full);
			}
		} else if (a->task_uid) {
			finish_task(a, MB_IMAP_CLOSE_ERROR, reason);
		} else if (a->check_done) {
			finish_check(a, MB_IMAP_CLOSE_ERROR, reason);
		} else {
			g_warning("%s: %s", w->name, reason);
			w->failed = true;
			set_watch_state(w, MB_WATCH_STOPPED);
			check_once(a);
		}
		g_free(reason);
		g_free(why);
		return;
	}
	g_free(reason);
	g_warning("%s: %s %s", w->name, cred_key(w->acct), why);
	tell_user_once(w, "cannot get credentials", why);
	g_free(why);
	unsigned delay = w->backoff;
	w->backoff = MIN(w->backoff * 2, BACKOFF_MAX);
	schedule_retry(w, delay);
}

static void on_cred_done(const char *secret, const char *why, void *data)
{
	struct watch *w = data;
	w->cred = NULL; /* gone when this returns */
	bool probing = w->probing_secret;
	w->probing_secret = false;
	if (!secret) {
		cred_failed(w, "%s", why);
		return;
	}
	char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret, -1);
	if (probing && w->failed_hash && strcmp(hash, w->failed_hash) == 0) {
		/* still the rejected secret: keep waiting */
		w->retry_timer = g_timeout_add_seconds(BACKOFF_MAX, on_secret_probe, w);
	} else {
		if (probing) {
			g_message("%s: %s prints a new secret: signing in again", w->name,
				cred_key(w->acct));
			/* one more rejection stops it again */
			w->auth_failures = AUTH_FAILURES_MAX - 1;
		}
		start_session(w, secret);
	}
	g_free(hash);
}

/* Stopped after rejected sign-ins: see whether the credential command now
 * prints something else. */
static gboolean on_secret_probe(gpointer data)
{
	struct watch *w = data;
	w->retry_timer = 0;
	w->probing_secret = true;
	connect_watch(w);
	return G_SOURCE_REMOVE;
}

static void connect_watch(struct watch *w)
{
	struct mb_account *a = w->acct;
	w->waiting_network = false;
	if (a->stopping || w->session || w->cred)
		return;
	if (!w->probing_secret)
		set_watch_state(w, MB_WATCH_CONNECTING);
	const char *cmd = uses_oauth(a->ac) ? a->ac->oauth_token_cmd : a->ac->password_cmd;
	if (!cmd) {
		start_session(w, a->ac->password);
		return;
	}
	/* Run afresh for every sign-in: tokens expire and keyrings lock. */
	char *label = g_strdup_printf("%s: %s", w->name, cred_key(a));
	w->cred = mb_sasl_secret_run(cmd, a->config->timeout, label, on_cred_done, w);
	g_free(label);
}

/* --- public ------------------------------------------------------------- */

static struct watch *watch_new(struct mb_account *a, char **share, const char *name)
{
	struct watch *w = g_new0(struct watch, 1);
	w->acct = a;
	w->share = share;
	w->name = g_strdup(name);
	w->backoff = BACKOFF_MIN;
	w->state = MB_WATCH_CONNECTING;
	w->state_since = g_get_real_time() / G_USEC_PER_SEC;
	return w;
}

static void watch_free(struct watch *w)
{
	if (w->retry_timer)
		g_source_remove(w->retry_timer);
	cred_cleanup(w);
	mb_imap_session_destroy(w->session);
	g_strfreev(w->share);
	g_strfreev(w->watching);
	g_free(w->last_error);
	g_free(w->secret_hash);
	g_free(w->failed_hash);
	g_free(w->name);
	g_free(w);
}

static void mstate_free(struct mstate *ms)
{
	g_queue_clear(&ms->pending);
	g_queue_clear(&ms->notify_pending);
	g_free(ms->name);
	g_free(ms);
}

struct mb_account *mb_account_create(const struct mb_config *config,
	const struct mb_account_config *ac, struct mb_state *state)
{
	struct mb_account *a = g_new0(struct mb_account, 1);
	a->config = config;
	a->ac = ac;
	a->state = state;
	a->network_up = true;
	a->alerts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	a->mstates = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
		(GDestroyNotify)mstate_free);
	a->watches = g_ptr_array_new();
	g_ptr_array_add(a->watches, watch_new(a, g_strdupv(ac->mailboxes), ac->name));
	if (ac->tls == MB_TLS_NONE)
		g_warning("%s: tls = none: the password and all mail travel unencrypted", ac->name);
	return a;
}

void mb_account_start(struct mb_account *a)
{
	if (!a->sync)
		a->sync = mb_sync_create(a->ac->name, a->config->sync_delay, a->config->hook_timeout,
			a->config->path);
	for (guint i = 0; i < a->watches->len; i++)
		connect_watch(a->watches->pdata[i]);
}

void mb_account_stop(struct mb_account *a, void (*done)(void *), void *data)
{
	if (a->once && a->sync)
		mb_sync_flush(a->sync); /* the start run, before the LOGOUTs */
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
		} else if (w->state == MB_WATCH_AUTH_FAILED) {
			continue; /* stopped on purpose: a network change is no fix */
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
		/* Stopped after rejected sign-ins: a resume or SIGUSR1 must not
		 * send the rejected secret again (servers lock such accounts);
		 * only mb_account_reconnect() and a new secret restart it. */
		if (w->state == MB_WATCH_AUTH_FAILED)
			continue;
		if (w->retry_timer)
			g_source_remove(w->retry_timer);
		w->retry_timer = 0;
		if (w->session) {
			mb_imap_session_destroy(w->session);
			w->session = NULL;
		}
		w->healthy_since = 0;
		w->backoff = BACKOFF_MIN;
		if (!w->cred)
			connect_watch(w);
	}
}

void mb_account_mark_seen(struct mb_account *a, const char *mailbox, uint32_t uidvalidity,
	const uint32_t *uids, size_t n, mb_account_store_fn done, void *data)
{
	g_return_if_fail(n > 0 && done != NULL);
	g_free(a->task_mailbox);
	a->task_mailbox = g_strdup(mailbox);
	a->store_uids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	g_array_append_vals(a->store_uids, uids, (guint)n);
	a->store_uidvalidity = uidvalidity;
	a->store_done = done;
	a->store_data = data;
	connect_watch(a->watches->pdata[0]);
}

void mb_account_fetch(struct mb_account *a, const char *mailbox, uint32_t uid,
	mb_account_fetch_fn done, void *data)
{
	g_return_if_fail(uid != 0 && done != NULL);
	g_free(a->task_mailbox);
	a->task_mailbox = g_strdup(mailbox);
	a->task_uid = uid;
	a->task_done = done;
	a->task_data = data;
	connect_watch(a->watches->pdata[0]);
}

/* --- --check ------------------------------------------------------------ */

/* RFC 3501 6.3.8 wildcards: '*' matches anything, '%' anything but the
 * hierarchy delimiter. INBOX is case-insensitive. */
static bool list_match(const char *pattern, const char *name, char delim)
{
	if (g_ascii_strcasecmp(pattern, "INBOX") == 0)
		return g_ascii_strcasecmp(name, "INBOX") == 0;
	for (; *pattern; pattern++) {
		if (*pattern == '*' || *pattern == '%') {
			for (const char *n = name;; n++) {
				if (list_match(pattern + 1, n, delim))
					return true;
				if (!*n || (*pattern == '%' && delim && *n == delim))
					return false;
			}
		}
		if (*pattern != *name)
			return false;
		name++;
	}
	return *name == '\0';
}

static void check_report(struct mb_account *a, enum mb_account_check_status st, const char *line)
{
	mb_account_check_fn done = a->check_done;
	void *data = a->check_data;
	a->check_done = NULL;
	if (done)
		done(st, line, data);
}

/* The usual INI mistake: "user = me@example.org # work" keeps the comment
 * (only a ';' after white space starts one). Never shows the password. */
static char *comment_hint(const struct mb_account_config *ac)
{
	const char *what = NULL;
	if (ac->user && strstr(ac->user, " #"))
		what = "user";
	else if (ac->password && strstr(ac->password, " #"))
		what = "password";
	if (!what)
		return g_strdup("");
	return g_strdup_printf(" (hint: the %s value holds \" #\": a '#' after a value is part "
		"of it, not a comment; put comments on lines of their own)", what);
}

static void on_checked(struct mb_imap_session *session, const struct mb_imap_check_result *res,
	void *data)
{
	struct watch *w = data;
	struct mb_account *a = w->acct;
	GString *missing = g_string_new(NULL), *found = g_string_new(NULL);
	GHashTable *listed = g_hash_table_new(g_str_hash, g_str_equal); /* each name once */
	for (char **p = a->ac->mailboxes; p && *p; p++) {
		bool any = false;
		for (const char *const *n = res->names; *n; n++) {
			if (list_match(*p, *n, res->delimiter)) {
				any = true;
				if (found->len < 1000 && g_hash_table_add(listed, (gpointer)*n))
					g_string_append_printf(found, "%s%s", found->len ? ", " : "", *n);
			}
		}
		if (!any)
			g_string_append_printf(missing, "%s\"%s\"", missing->len ? ", " : "", *p);
	}
	g_hash_table_destroy(listed);
	GString *caps = g_string_new(NULL);
	static const char *const wanted[] = { "IDLE", "NOTIFY", "CONDSTORE", "PREVIEW" };
	for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++) {
		bool has = false;
		for (const char *const *c = res->caps; *c && !has; c++)
			has = g_ascii_strcasecmp(*c, wanted[i]) == 0;
		g_string_append_printf(caps, "%s%s %s", i ? ", " : "", wanted[i], has ? "yes" : "no");
	}
	const char *tls = a->ac->tls == MB_TLS_IMPLICIT ? "TLS" : a->ac->tls == MB_TLS_STARTTLS
		? "STARTTLS" : "no TLS";
	char *line;
	if (missing->len) {
		GString *all = g_string_new(NULL);
		guint n = 0;
		for (const char *const *x = res->names; *x; x++, n++)
			if (n < 40)
				g_string_append_printf(all, "%s%s", n ? ", " : "", *x);
		if (n > 40)
			g_string_append_printf(all, ", ... (%u more)", n - 40);
		char d[8];
		if (res->delimiter)
			g_snprintf(d, sizeof d, "\"%c\"", res->delimiter);
		else
			g_strlcpy(d, "none", sizeof d);
		line = g_strdup_printf("%s: signed in, but no mailbox matches %s; the server has: %s "
			"(hierarchy separator %s)", a->ac->name, missing->str, all->str, d);
		g_string_free(all, TRUE);
		a->check_status = MB_ACCOUNT_CHECK_MAILBOX_MISSING;
	} else {
		line = g_strdup_printf("%s: ok: %s:%u over %s, signed in as %s (%s); %s; mailboxes %s",
			a->ac->name, a->ac->host, a->ac->port, tls, a->ac->user, res->mechanism, caps->str,
			found->str);
		a->check_status = MB_ACCOUNT_CHECK_OK;
	}
	g_free(a->check_line);
	a->check_line = line;
	g_string_free(missing, TRUE);
	g_string_free(found, TRUE);
	g_string_free(caps, TRUE);
}

static void finish_check(struct mb_account *a, enum mb_imap_close how, const char *reason)
{
	if (a->check_line) {
		/* on_checked ran: the LOGOUT that followed ended the session */
		check_report(a, a->check_status, a->check_line);
		return;
	}
	char *hint = comment_hint(a->ac);
	char *line;
	enum mb_account_check_status st;
	if (how == MB_IMAP_CLOSE_AUTH_FAILED) {
		st = MB_ACCOUNT_CHECK_AUTH_FAILED;
		line = g_strdup_printf("%s: %s%s", a->ac->name, reason, hint);
	} else {
		st = MB_ACCOUNT_CHECK_CONNECT_FAILED;
		line = g_strdup_printf("%s: cannot connect: %s%s", a->ac->name, reason,
			g_str_has_prefix(reason, "password_cmd") || g_str_has_prefix(reason, "oauth_token_cmd")
			? "" : hint);
	}
	check_report(a, st, line);
	g_free(line);
	g_free(hint);
}

void mb_account_check(struct mb_account *a, mb_account_check_fn done, void *data)
{
	a->check_done = done;
	a->check_data = data;
	connect_watch(a->watches->pdata[0]);
}

/* --- --once -------------------------------------------------------------- */

static void check_once(struct mb_account *a)
{
	if (!a->once_done)
		return;
	bool ok = true;
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		if (!w->caught_up && !w->failed)
			return;
		ok &= !w->failed;
	}
	mb_account_once_fn done = a->once_done;
	a->once_done = NULL;
	done(ok, a->once_data);
}

void mb_account_once(struct mb_account *a, mb_account_once_fn done, void *data)
{
	a->once_done = done;
	a->once_data = data;
	a->once = true;
	mb_account_start(a);
}

/* --- control ------------------------------------------------------------ */

void mb_account_set_changed_callback(void (*fn)(void *data), void *data)
{
	changed_fn = fn;
	changed_data = data;
}

const char *mb_account_name(const struct mb_account *a)
{
	return a->ac->name;
}

const struct mb_account_config *mb_account_get_config(const struct mb_account *a)
{
	return a->ac;
}

void mb_account_reconnect(struct mb_account *a)
{
	if (a->stopping)
		return;
	g_message("%s: reconnecting (asked to)", a->ac->name);
	for (guint i = 0; i < a->watches->len; i++) {
		struct watch *w = a->watches->pdata[i];
		w->auth_failures = 0;
		g_free(w->failed_hash);
		w->failed_hash = NULL;
		w->failure_told = false;
		if (w->state == MB_WATCH_AUTH_FAILED) {
			g_clear_handle_id(&w->retry_timer, g_source_remove); /* the secret probe */
			w->probing_secret = false;
			set_watch_state(w, MB_WATCH_CONNECTING);
		}
	}
	mb_account_resumed(a);
}

static struct watch *watch_new(struct mb_account *a, char **share, const char *name);

void mb_account_reconfigure(struct mb_account *a, const struct mb_config *config,
	const struct mb_account_config *ac, bool reconnect)
{
	a->config = config;
	a->ac = ac;
	if (a->sync) {
		mb_sync_set_limits(a->sync, config->sync_delay, config->hook_timeout, config->path);
		mb_sync_retarget(a->sync, sync_command_for, a);
	}
	if (!reconnect) {
		for (guint i = 0; i < a->watches->len; i++) {
			struct watch *w = a->watches->pdata[i];
			if (w->session)
				mb_imap_session_update(w->session, ac, account_has_hook(a),
					mb_account_config_preview(config, ac));
		}
		return;
	}
	g_message("%s: settings changed: connecting anew", ac->name);
	/* The sessions still point at the old settings: they go now, not
	 * after a LOGOUT, so the old config can be freed at once. What they
	 * were fetching is fetched again (the state did not move). */
	for (guint i = 0; i < a->watches->len; i++)
		watch_free(a->watches->pdata[i]);
	g_ptr_array_set_size(a->watches, 0);
	g_ptr_array_add(a->watches, watch_new(a, g_strdupv(ac->mailboxes), ac->name));
	mb_account_start(a);
}

static void json_string(GString *out, const char *s)
{
	if (!s) {
		g_string_append(out, "null");
		return;
	}
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

static void json_time(GString *out, gint64 t)
{
	if (t > 0)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, t);
	else
		g_string_append(out, "null");
}

/* The account's state is its worst connection's. */
static enum mb_watch_state account_state(const struct mb_account *a, const struct watch **worst_r)
{
	static const int rank[] = {
		[MB_WATCH_IDLE] = 0, [MB_WATCH_POLLING] = 1, [MB_WATCH_CONNECTING] = 2,
		[MB_WATCH_STOPPED] = 3, [MB_WATCH_WAITING_NETWORK] = 4, [MB_WATCH_BACKOFF] = 5,
		[MB_WATCH_AUTH_FAILED] = 6,
	};
	const struct watch *worst = a->watches->pdata[0];
	for (guint i = 1; i < a->watches->len; i++) {
		const struct watch *w = a->watches->pdata[i];
		if (rank[w->state] > rank[worst->state])
			worst = w;
	}
	*worst_r = worst;
	return worst->state;
}

void mb_account_status_json(const struct mb_account *a, GString *out)
{
	const struct watch *worst;
	enum mb_watch_state st = account_state(a, &worst);
	gint64 quiet_end = 0;
	bool quiet = mb_notify_quiet(a->ac->name, &quiet_end);
	g_string_append(out, "{\"name\":");
	json_string(out, a->ac->name);
	g_string_append_printf(out, ",\"state\":\"%s\",\"since\":", watch_state_names[st]);
	json_time(out, worst->state_since);
	g_string_append(out, ",\"retry_at\":");
	json_time(out, st == MB_WATCH_BACKOFF ? worst->retry_at : 0);
	g_string_append(out, ",\"last_error\":");
	json_string(out, worst->last_error);
	g_string_append(out, ",\"reason\":");
	json_string(out, st == MB_WATCH_POLLING ? polling_reasons[worst->polling] : NULL);
	g_string_append_printf(out, ",\"notify\":%s,\"quiet\":%s,\"quiet_until\":",
		mb_account_config_notify(a->config, a->ac) ? "true" : "false", quiet ? "true" : "false");
	json_time(out, quiet ? quiet_end : 0);
	g_string_append_printf(out, ",\"held\":%u,\"connections\":[", mb_notify_held(a->ac->name));
	for (guint i = 0; i < a->watches->len; i++) {
		const struct watch *w = a->watches->pdata[i];
		g_string_append_printf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, w->name);
		g_string_append_printf(out, ",\"state\":\"%s\",\"since\":", watch_state_names[w->state]);
		json_time(out, w->state_since);
		g_string_append(out, ",\"retry_at\":");
		json_time(out, w->state == MB_WATCH_BACKOFF ? w->retry_at : 0);
		g_string_append(out, ",\"last_error\":");
		json_string(out, w->last_error);
		g_string_append(out, ",\"reason\":");
		json_string(out, w->state == MB_WATCH_POLLING ? polling_reasons[w->polling] : NULL);
		g_string_append(out, ",\"mailboxes\":[");
		for (char **m = w->watching; m && *m; m++) {
			if (m != w->watching)
				g_string_append_c(out, ',');
			json_string(out, *m);
		}
		g_string_append(out, "]}");
	}
	g_string_append(out, "],\"mailboxes\":[");
	/* in the order of the configuration, then any others */
	GPtrArray *names = g_ptr_array_new();
	GHashTableIter it;
	gpointer k;
	g_hash_table_iter_init(&it, a->mstates);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(names, k);
	g_ptr_array_sort(names, (GCompareFunc)(void *)g_strcmp0);
	for (guint i = 0; i < names->len; i++) {
		const struct mstate *ms = g_hash_table_lookup(a->mstates, names->pdata[i]);
		g_string_append_printf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, ms->name);
		g_string_append(out, ",\"last_message\":");
		json_time(out, ms->last_message);
		g_string_append_printf(out, ",\"reported\":%u,\"unseen\":", ms->reported);
		if (ms->unseen >= 0)
			g_string_append_printf(out, "%" G_GINT64_FORMAT, ms->unseen);
		else
			g_string_append(out, "null");
		g_string_append_c(out, '}');
	}
	g_ptr_array_free(names, TRUE);
	g_string_append(out, "]}");
}

void mb_account_destroy(struct mb_account *a)
{
	if (!a)
		return;
	save_due(a);
	for (GList *l = a->hook_ctxs; l; l = l->next)
		((struct hook_ctx *)l->data)->acct = NULL;
	g_list_free(a->hook_ctxs);
	mb_sync_destroy(a->sync);
	g_free(a->check_line);
	g_free(a->task_mailbox);
	if (a->store_uids)
		g_array_free(a->store_uids, TRUE);
	if (a->task_raw)
		g_bytes_unref(a->task_raw);
	for (guint i = 0; i < a->watches->len; i++)
		watch_free(a->watches->pdata[i]);
	g_ptr_array_unref(a->watches);
	g_hash_table_unref(a->alerts);
	g_hash_table_unref(a->mstates);
	g_free(a);
}
