#define G_LOG_DOMAIN "mailbell"

#include "notify.h"
#include "notify-text.h"
#include "hook.h"
#include "text.h"
#include "quiet.h"
#include "state.h"

#include <string.h>

#include "mb-config.h"

#if HAVE_LIBNOTIFY
#include <libnotify/notify.h>
#endif

/* The threads and why: see notify.h. */
#define QUEUE_MAX 32       /* requests unanswered; new notifications beyond
                            * are refused */
#define SHUTDOWN_WAIT 2    /* seconds for queued requests at exit */
#define LIVE_MAX 64        /* new-mail notifications remembered for updates,
                            * gone and actions; servers that keep them on
                            * screen until dismissed never say when */
#define DEDUPE_MAX 10000   /* Message-IDs remembered */

/* --- what passes between the threads ---------------------------------------
 * Plain data with one owner at a time: a request belongs to the notification
 * thread once queued, a result to the main thread once queued. */

enum request_kind {
	REQUEST_SHOW,   /* show notification id, or update it in place */
	REQUEST_TEXT,   /* show once and keep nothing (alerts, summaries) */
	REQUEST_CLOSE,  /* CloseNotification, then drop it */
	REQUEST_FORGET, /* drop it, leaving it on screen */
	REQUEST_QUIT,
};

struct request {
	enum request_kind kind;
	guint serial;         /* its RESULT_DONE carries it back */
	guint id;             /* SHOW, CLOSE, FORGET: mailbell's id of the
	                       * notification (not the server's) */
	guint seq;            /* SHOW: the how-many-th show of id */
	char *summary;
	char *body;           /* plain text: escaped on the thread */
	char *icon;
	char *category;       /* or NULL */
	enum mb_urgency urgency;
	bool sound;           /* hint sound-name */
	bool open;            /* offer the "default" action */
	bool mark_read;       /* offer "mark-read" */
};

enum result_kind {
	RESULT_DONE,    /* a request was handled, in the order sent */
	RESULT_ACTION,  /* the user invoked an action of notification id */
	RESULT_CLOSED,  /* the user or the service closed notification id */
};

struct result {
	enum result_kind kind;
	guint serial;         /* DONE */
	bool ok;              /* DONE: the service took it */
	bool alive;           /* DONE of a SHOW: the thread still holds id */
	guint id;
	guint seq;            /* CLOSED: the last show of id the thread made */
	char *action;         /* ACTION */
};

static void request_free(struct request *q)
{
	g_free(q->summary);
	g_free(q->body);
	g_free(q->icon);
	g_free(q->category);
	g_free(q);
}

#if HAVE_LIBNOTIFY
static void result_free(struct result *r)
{
	g_free(r->action);
	g_free(r);
}
#endif

/* --- main thread state ----------------------------------------------------- */

static bool initialized;        /* the thread runs */
#if HAVE_LIBNOTIFY
static GMainContext *main_ctx;  /* where results are handled */
#endif

/* A done callback waiting for the answer to a request. */
struct waiter {
	mb_notify_done_fn fn;
	void *data;
};

/* A request sent and not answered yet. The thread answers in order. */
struct flight {
	guint serial;
	guint id;             /* SHOW: which notification; else 0 */
	GArray *waiters;      /* struct waiter, or NULL */
};

static GQueue flights;          /* oldest first */
static guint next_serial;
static bool full_told;          /* warned that requests pile up */

/* Answers already known (held, refused, no libnotify), delivered from an
 * idle source so that done never runs inside mb_notify_mail(). */
struct settled {
	struct waiter w;
	bool shown;
};
static GQueue settled;

/* An account's notification settings, copied. */
struct options {
	char *open_cmd;
	bool mark_read;
	bool sound;
	char *icon;
	unsigned coalesce;
	char *rule;
};

/* Mail given in this main-loop iteration and not sent yet. */
struct incoming {
	struct mb_message *msg;   /* copy */
	enum mb_urgency urgency;
	struct options opt;
	struct waiter w;
};
static GQueue incoming;
static guint flush_id;

/* A new-mail notification that is (as far as we know) on screen. At most
 * one SHOW of it is in flight: what comes meanwhile waits in pending and
 * goes in one update when the service answers, so a flood never costs more
 * than two requests per notification. */
struct live {
	guint id;
	guint seq;              /* of the last SHOW sent */
	char *key;              /* account \x1f mailbox */
	struct mb_notify_group *group;
	struct options opt;     /* the last given for its mailbox */
	gint64 last;            /* monotonic µs of its last mail */
	bool in_flight;         /* a SHOW is unanswered */
	bool dirty;             /* it changed since that SHOW was sent */
	GArray *pending;        /* struct waiter for the next SHOW, or NULL */
	GList link;             /* in lives */
};
static GQueue lives;            /* oldest first */
static GHashTable *lives_by_id; /* id -> struct live * */
static GHashTable *current;     /* key -> the live of that mailbox that
                                 * later mail may join */
static guint next_id;
static unsigned max_lines;
static mb_notify_mark_read_fn mark_read_fn;
static void *mark_read_data;
static struct mb_notify_seen *seen;

static void options_set(struct options *o, const struct mb_notify_options *from)
{
	o->open_cmd = from->open_cmd && *from->open_cmd ? g_strdup(from->open_cmd) : NULL;
	o->mark_read = from->mark_read;
	o->sound = from->sound;
	o->icon = from->icon && *from->icon ? g_strdup(from->icon) : NULL;
	o->coalesce = from->coalesce;
	o->rule = g_strdup(from->rule);
}

static void options_finish(struct options *o)
{
	g_clear_pointer(&o->open_cmd, g_free);
	g_clear_pointer(&o->icon, g_free);
	g_clear_pointer(&o->rule, g_free);
}

static void run_waiters(GArray *waiters, bool as_shown)
{
	if (!waiters)
		return;
	for (guint i = 0; i < waiters->len; i++) {
		const struct waiter *w = &g_array_index(waiters, struct waiter, i);
		w->fn(as_shown, w->data);
	}
	g_array_unref(waiters);
}

static void add_waiter(GArray **waiters, const struct waiter *w)
{
	if (!w->fn)
		return;
	if (!*waiters)
		*waiters = g_array_new(FALSE, FALSE, sizeof(struct waiter));
	g_array_append_val(*waiters, *w);
}

static void schedule_flush(void);

static void settle(const struct waiter *w, bool as_shown)
{
	if (!w->fn)
		return;
	struct settled *s = g_new(struct settled, 1);
	s->w = *w;
	s->shown = as_shown;
	g_queue_push_tail(&settled, s);
	schedule_flush();
}

static void settle_all(GArray *waiters, bool as_shown)
{
	for (guint i = 0; waiters && i < waiters->len; i++)
		settle(&g_array_index(waiters, struct waiter, i), as_shown);
	if (waiters)
		g_array_unref(waiters);
}

static void run_settled(void)
{
	struct settled *s;
	while ((s = g_queue_pop_head(&settled))) {
		s->w.fn(s->shown, s->w.data);
		g_free(s);
	}
}

/* --- the notification thread ------------------------------------------------ */

#if HAVE_LIBNOTIFY

static GThread *thread;
static GMainContext *thread_ctx;
static GAsyncQueue *requests;   /* main -> thread */
static GAsyncQueue *results;    /* thread -> main */

/* Everything below up to the main thread's side is the thread's alone. */
struct tnote {
	NotifyNotification *nn;
	guint id;
	guint seq;                  /* of the last show */
	gulong closed_handler;
};

static bool ready;              /* notify_init() worked */
static GMainLoop *thread_loop;
static GHashTable *tnotes;      /* id -> struct tnote * */
static bool outage;             /* warned about a missing service */
static bool caps_known, has_actions;
static guint quit_serial;

static gboolean on_results(gpointer data);
static gboolean on_request(gpointer data);

/* Wakes the other thread for one queued item: an idle source attached to
 * its context, which runs there whatever state the context is in. */
static void wake(GMainContext *ctx, GSourceFunc fn)
{
	GSource *s = g_idle_source_new();
	g_source_set_priority(s, G_PRIORITY_DEFAULT);
	g_source_set_callback(s, fn, NULL, NULL);
	g_source_set_name(s, "mailbell notify");
	g_source_attach(s, ctx);
	g_source_unref(s);
}

static void post(struct result *r)
{
	g_async_queue_push(results, r);
	wake(main_ctx, on_results);
}

static void tnote_free(gpointer data)
{
	struct tnote *s = data;
	g_signal_handler_disconnect(s->nn, s->closed_handler);
	g_object_unref(s->nn);
	g_free(s);
}

/* NotificationClosed, dispatched here because the proxy was made with our
 * context as thread-default: libnotify zeroes the object's id after this,
 * so the object is done with; later mail makes a new one. */
static void on_closed(NotifyNotification *nn, gpointer data)
{
	guint id = GPOINTER_TO_UINT(data);
	struct tnote *s = g_hash_table_lookup(tnotes, data);
	if (!s || s->nn != nn)
		return;
	g_debug("notification %u closed (reason %d)", id, notify_notification_get_closed_reason(nn));
	struct result *r = g_new0(struct result, 1);
	r->kind = RESULT_CLOSED;
	r->id = id;
	r->seq = s->seq;
	post(r);
	g_hash_table_remove(tnotes, data);
}

static void on_action(NotifyNotification *nn, char *action, gpointer data)
{
	struct result *r = g_new0(struct result, 1);
	r->kind = RESULT_ACTION;
	r->id = GPOINTER_TO_UINT(data);
	r->action = g_strdup(action);
	post(r);
}

/* GetCapabilities, once, and again after an outage (another service may
 * have taken the name). Only asked when a notification would have
 * actions. */
static bool server_has_actions(void)
{
	if (!caps_known) {
		GList *caps = notify_get_server_caps();
		has_actions = g_list_find_custom(caps, "actions", (GCompareFunc)strcmp) != NULL;
		caps_known = caps != NULL;
		g_list_free_full(caps, g_free);
		g_debug("notification service %s actions", has_actions ? "offers" : "does not offer");
	}
	return has_actions;
}

static NotifyUrgency urgency_of(enum mb_urgency u)
{
	return u == MB_URGENCY_CRITICAL ? NOTIFY_URGENCY_CRITICAL
		: u == MB_URGENCY_LOW ? NOTIFY_URGENCY_LOW : NOTIFY_URGENCY_NORMAL;
}

/* Shows q; a SHOW of an id already shown reuses its object, so Notify
 * carries its replaces_id and the server updates it in place. Returns
 * whether the service took it; *alive_r: the object is kept. */
static bool show(const struct request *q, bool *alive_r)
{
	*alive_r = false;
	if (!ready)
		return false;
	struct tnote *s = q->id ? g_hash_table_lookup(tnotes, GUINT_TO_POINTER(q->id)) : NULL;
	/* The body may be rendered as markup by the server (body-markup
	 * capability): escape so mail can't inject tags or links (H9). */
	char *body = g_markup_escape_text(q->body, -1);
	const char *summary = *q->summary ? q->summary : "mailbell";
	NotifyNotification *nn;
	if (s) {
		nn = s->nn;
		notify_notification_update(nn, summary, body, q->icon);
	} else {
		nn = notify_notification_new(summary, body, q->icon);
	}
	g_free(body);
	if (q->category)
		notify_notification_set_category(nn, q->category);
	notify_notification_set_urgency(nn, urgency_of(q->urgency));
	notify_notification_set_hint(nn, "desktop-entry", g_variant_new_string("mailbell"));
	notify_notification_set_hint(nn, "sound-name", q->sound ? g_variant_new_string("message-new-email") : NULL);
	notify_notification_clear_actions(nn);
	if ((q->open || q->mark_read) && server_has_actions()) {
		if (q->open)
			notify_notification_add_action(nn, "default", "Open", on_action, GUINT_TO_POINTER(q->id), NULL);
		if (q->mark_read)
			notify_notification_add_action(nn, "mark-read", "Mark as read", on_action,
				GUINT_TO_POINTER(q->id), NULL);
	}
	GError *error = NULL;
	bool ok = notify_notification_show(nn, &error);
	if (!ok) {
		if (!outage)
			g_warning("cannot show a desktop notification (is a notification service running?): %s",
				error->message);
		else
			g_debug("notification not shown: %s", error->message);
		outage = true;
		caps_known = false;
		g_error_free(error);
	} else if (outage) {
		g_message("desktop notifications work again");
		outage = false;
	}
	if (ok && q->id) {
		if (!s) {
			s = g_new0(struct tnote, 1);
			s->nn = nn;
			s->id = q->id;
			s->closed_handler = g_signal_connect(nn, "closed", G_CALLBACK(on_closed),
				GUINT_TO_POINTER(q->id));
			g_hash_table_insert(tnotes, GUINT_TO_POINTER(q->id), s);
		}
		s->seq = q->seq;
		*alive_r = true;
	} else if (s) {
		/* no service, or it failed: start afresh next time */
		g_hash_table_remove(tnotes, GUINT_TO_POINTER(q->id));
	} else {
		g_object_unref(nn);
	}
	return ok;
}

static void drop(guint id, bool close)
{
	struct tnote *s = g_hash_table_lookup(tnotes, GUINT_TO_POINTER(id));
	if (!s)
		return;
	GError *error = NULL;
	if (close && !notify_notification_close(s->nn, &error)) {
		g_debug("cannot close notification %u: %s", id, error->message);
		g_error_free(error);
	}
	g_hash_table_remove(tnotes, GUINT_TO_POINTER(id));
}

/* One queued request (each has its own wake-up). */
static gboolean on_request(gpointer data)
{
	struct request *q = g_async_queue_try_pop(requests);
	if (!q)
		return G_SOURCE_REMOVE;
	struct result *r = g_new0(struct result, 1);
	r->kind = RESULT_DONE;
	r->serial = q->serial;
	r->id = q->id;
	r->ok = true;
	switch (q->kind) {
	case REQUEST_SHOW:
	case REQUEST_TEXT:
		r->ok = show(q, &r->alive);
		break;
	case REQUEST_CLOSE:
		drop(q->id, true);
		break;
	case REQUEST_FORGET:
		drop(q->id, false);
		break;
	case REQUEST_QUIT:
		/* answered last thing, once libnotify is released */
		quit_serial = q->serial;
		g_main_loop_quit(thread_loop);
		g_clear_pointer(&r, result_free);
		break;
	}
	request_free(q);
	if (r)
		post(r);
	return G_SOURCE_REMOVE;
}

static gpointer thread_main(gpointer data)
{
	/* before notify_init() and any NotifyNotification: libnotify makes
	 * its proxy here, and a proxy emits its signals in the thread-default
	 * context it was made in */
	g_main_context_push_thread_default(thread_ctx);
	ready = notify_init("mailbell");
	if (!ready)
		g_warning("cannot initialize libnotify: no desktop notifications");
	tnotes = g_hash_table_new_full(NULL, NULL, NULL, tnote_free);
	thread_loop = g_main_loop_new(thread_ctx, FALSE);
	g_main_loop_run(thread_loop);
	/* Dropped, not closed: a notification stays on screen after mailbell
	 * ends (notify_uninit() would close those with actions, one D-Bus
	 * call each). */
	g_hash_table_destroy(tnotes);
	if (ready)
		notify_uninit();
	/* GDBus frees a proxy's signal subscriptions from an idle in the
	 * context that made it: run those now, or they leak */
	while (g_main_context_iteration(thread_ctx, FALSE))
		;
	g_main_loop_unref(thread_loop);
	g_main_context_pop_thread_default(thread_ctx);
	struct result *r = g_new0(struct result, 1);
	r->kind = RESULT_DONE;
	r->serial = quit_serial;
	r->ok = true;
	post(r);
	return NULL;
}

#endif /* HAVE_LIBNOTIFY */

/* --- the main thread's side ---------------------------------------------- */

#if HAVE_LIBNOTIFY
static void handle_result(struct result *r, bool stopping);

static gboolean on_results(gpointer data)
{
	if (!initialized)
		return G_SOURCE_REMOVE; /* after a shutdown that gave up waiting */
	struct result *r;
	while ((r = g_async_queue_try_pop(results)))
		handle_result(r, false);
	return G_SOURCE_REMOVE;
}
#endif

/* Sends q; waiters (taken, may be NULL) run with its answer. Returns its
 * serial. */
static guint send_request(struct request *q, GArray *waiters)
{
	q->serial = ++next_serial;
	struct flight *f = g_new0(struct flight, 1);
	f->serial = q->serial;
	f->id = q->kind == REQUEST_SHOW ? q->id : 0;
	f->waiters = waiters;
	g_queue_push_tail(&flights, f);
#if HAVE_LIBNOTIFY
	g_async_queue_push(requests, q);
	wake(thread_ctx, on_request);
#else
	/* not reached: nothing is sent unless initialized */
	request_free(q);
#endif
	return f->serial;
}

/* Whether a new notification may be queued: not when the service leaves
 * QUEUE_MAX requests unanswered (it hangs). */
static bool can_send(void)
{
	if (!initialized)
		return false;
	if (flights.length < QUEUE_MAX)
		return true;
	if (!full_told)
		g_warning("%d requests wait for the notification service: new notifications are dropped "
			"until it answers", QUEUE_MAX);
	else
		g_debug("notification dropped: %d still waiting for the notification service", QUEUE_MAX);
	full_told = true;
	return false;
}

static void init_lives(void)
{
	if (lives_by_id)
		return;
	lives_by_id = g_hash_table_new(NULL, NULL);
	current = g_hash_table_new(g_str_hash, g_str_equal);
}

static char *mailbox_key(const char *account, const char *mailbox)
{
	/* account names have no control characters */
	return g_strdup_printf("%s\x1f%s", account, mailbox);
}

/* Forgets l. Messages that wait for its next update get done(as_shown):
 * true when the notification was closed or they were read meanwhile, false
 * when it is dropped. Sends nothing. */
static void forget(struct live *l, bool as_shown)
{
	g_queue_unlink(&lives, &l->link);
	g_hash_table_remove(lives_by_id, GUINT_TO_POINTER(l->id));
	if (g_hash_table_lookup(current, l->key) == l)
		g_hash_table_remove(current, l->key);
	settle_all(l->pending, as_shown);
	g_free(l->key);
	mb_notify_group_destroy(l->group);
	options_finish(&l->opt);
	g_free(l);
}

static void send_simple(enum request_kind kind, guint id)
{
	struct request *q = g_new0(struct request, 1);
	q->kind = kind;
	q->id = id;
	send_request(q, NULL);
}

/* Sends l's text as it is now, or, while a SHOW of it is unanswered, marks
 * it for one more when the answer comes. waiters (taken, may be NULL) wait
 * for the show that first includes their messages. */
static void show_live(struct live *l, GArray *waiters)
{
	if (waiters) {
		if (!l->pending)
			l->pending = g_array_new(FALSE, FALSE, sizeof(struct waiter));
		g_array_append_vals(l->pending, waiters->data, waiters->len);
		g_array_unref(waiters);
	}
	if (l->in_flight) {
		l->dirty = true;
		return;
	}
	struct request *q = g_new0(struct request, 1);
	q->kind = REQUEST_SHOW;
	q->id = l->id;
	q->seq = ++l->seq;
	q->summary = mb_notify_group_summary(l->group);
	q->body = mb_notify_group_body(l->group, max_lines);
	q->icon = g_strdup(l->opt.icon ? l->opt.icon : "mail-unread");
	q->category = g_strdup("email.arrived");
	q->urgency = mb_notify_group_urgency(l->group);
	q->sound = l->opt.sound;
	q->open = l->opt.open_cmd != NULL;
	q->mark_read = l->opt.mark_read;
	l->in_flight = true;
	l->dirty = false;
	GArray *w = l->pending;
	l->pending = NULL;
	send_request(q, w);
}

static void close_live(struct live *l, bool as_shown)
{
	send_simple(REQUEST_CLOSE, l->id);
	forget(l, as_shown);
}

/* A new notification for account/mailbox. The oldest one known goes when
 * there are too many (preferably one not being updated). */
static struct live *live_new(const char *key, const char *account, const char *mailbox)
{
	init_lives();
	while (lives.length >= LIVE_MAX) {
		struct live *old = NULL;
		for (GList *k = lives.head; k && !old; k = k->next) {
			struct live *c = k->data;
			if (!c->in_flight && !c->dirty)
				old = c;
		}
		if (!old)
			old = lives.head->data;
		send_simple(REQUEST_FORGET, old->id);
		forget(old, false);
	}
	struct live *l = g_new0(struct live, 1);
	if (++next_id == 0)
		next_id = 1;
	l->id = next_id;
	l->key = g_strdup(key);
	l->group = mb_notify_group_create(account, mailbox);
	l->link.data = l;
	g_queue_push_tail_link(&lives, &l->link);
	g_hash_table_insert(lives_by_id, GUINT_TO_POINTER(l->id), l);
	g_hash_table_replace(current, l->key, l); /* the key of the new one */
	return l;
}

/* What came for one mailbox in this iteration (struct incoming *, in
 * order, taken): one new notification, or one update of the mailbox's
 * notification when its last mail is less than coalesce seconds ago. */
static void send_batch(const char *key, GPtrArray *batch, gint64 now)
{
	init_lives();
	const struct incoming *newest = batch->pdata[batch->len - 1];
	struct live *l = g_hash_table_lookup(current, key);
	if (l && !(newest->opt.coalesce > 0 && now - l->last <= (gint64)newest->opt.coalesce * G_USEC_PER_SEC))
		l = NULL;
	if (!l && !can_send()) {
		for (guint i = 0; i < batch->len; i++) {
			struct incoming *in = batch->pdata[i];
			settle(&in->w, false);
		}
		return;
	}
	bool update = l != NULL;
	if (!l)
		l = live_new(key, newest->msg->account, newest->msg->mailbox);
	l->last = now;
	GArray *waiters = NULL;
	for (guint i = 0; i < batch->len; i++) {
		struct incoming *in = batch->pdata[i];
		mb_notify_group_take(l->group, in->msg, in->urgency, in->opt.rule);
		in->msg = NULL;
		add_waiter(&waiters, &in->w);
	}
	/* the newest settings apply: moved, not copied */
	struct incoming *last = batch->pdata[batch->len - 1];
	options_finish(&l->opt);
	l->opt = last->opt;
	memset(&last->opt, 0, sizeof last->opt);
	g_debug("%s/%s: notification %u %s: %u message(s)", mb_notify_group_account(l->group),
		mb_notify_group_mailbox(l->group), l->id, update ? "updated" : "shown",
		mb_notify_group_size(l->group));
	show_live(l, waiters);
}

static void incoming_free(struct incoming *in)
{
	mb_message_destroy(in->msg);
	options_finish(&in->opt);
	g_free(in);
}

static void flush_incoming(void)
{
	gint64 now = g_get_monotonic_time();
	while (!g_queue_is_empty(&incoming)) {
		const struct incoming *first = g_queue_peek_head(&incoming);
		char *key = mailbox_key(first->msg->account, first->msg->mailbox);
		GPtrArray *batch = g_ptr_array_new_with_free_func((GDestroyNotify)incoming_free);
		for (GList *k = incoming.head; k;) {
			GList *next = k->next;
			struct incoming *in = k->data;
			if (strcmp(in->msg->account, first->msg->account) == 0
				&& strcmp(in->msg->mailbox, first->msg->mailbox) == 0) {
				g_ptr_array_add(batch, in);
				g_queue_delete_link(&incoming, k);
			}
			k = next;
		}
		send_batch(key, batch, now);
		g_ptr_array_unref(batch);
		g_free(key);
	}
}

static gboolean on_flush(gpointer data)
{
	flush_id = 0;
	flush_incoming();
	run_settled();
	return G_SOURCE_REMOVE;
}

/* Next iteration, not when the loop is idle: mail must not wait behind a
 * busy connection. */
static void schedule_flush(void)
{
	if (!flush_id)
		flush_id = g_idle_add_full(G_PRIORITY_DEFAULT, on_flush, NULL, NULL);
}

#if HAVE_LIBNOTIFY
/* mark-read: one call per UIDVALIDITY; the group is no longer reachable,
 * so a handler that calls back (mb_notify_gone) cannot change it. */
struct mark {
	const char *account;
	const char *mailbox;
};

static void mark_uids(uint32_t uidvalidity, const uint32_t *uids, size_t n, void *data)
{
	const struct mark *m = data;
	g_info("%s/%s: marking %zu message(s) as read", m->account, m->mailbox, n);
	mark_read_fn(m->account, m->mailbox, uidvalidity, uids, n, mark_read_data);
}

static void on_action_main(guint id, const char *action)
{
	struct live *l = g_hash_table_lookup(lives_by_id, GUINT_TO_POINTER(id));
	if (!l) {
		g_debug("action %s of a notification no longer known", action);
		return;
	}
	if (strcmp(action, "default") == 0) {
		const char *rule = NULL;
		const struct mb_message *msg = mb_notify_group_newest(l->group, &rule);
		if (l->opt.open_cmd && msg) {
			g_info("%s/%s: opening uid %u (open_cmd)", msg->account, msg->mailbox, msg->uid);
			mb_hook_run(l->opt.open_cmd, msg, rule, NULL, NULL);
		}
	} else if (strcmp(action, "mark-read") == 0) {
		struct mb_notify_group *group = l->group;
		l->group = mb_notify_group_create(mb_notify_group_account(group), mb_notify_group_mailbox(group));
		close_live(l, true);
		if (mark_read_fn) {
			struct mark m = { mb_notify_group_account(group), mb_notify_group_mailbox(group) };
			mb_notify_group_foreach_uids(group, mark_uids, &m);
		}
		mb_notify_group_destroy(group);
	} else {
		g_debug("unknown action %s", action);
	}
}

static void handle_result(struct result *r, bool stopping)
{
	switch (r->kind) {
	case RESULT_DONE: {
		struct flight *f = g_queue_pop_head(&flights);
		g_assert(f && f->serial == r->serial);
		if (g_queue_is_empty(&flights))
			full_told = false;
		run_waiters(f->waiters, r->ok);
		struct live *l = f->id ? g_hash_table_lookup(lives_by_id, GUINT_TO_POINTER(f->id)) : NULL;
		if (l) {
			l->in_flight = false;
			if (l->dirty && !stopping)
				show_live(l, NULL); /* the thread makes a new one if it dropped it */
			else if (!r->alive)
				forget(l, false);
		}
		g_free(f);
		break;
	}
	case RESULT_ACTION:
		if (!stopping)
			on_action_main(r->id, r->action);
		break;
	case RESULT_CLOSED: {
		struct live *l = g_hash_table_lookup(lives_by_id, GUINT_TO_POINTER(r->id));
		/* else a later show of it is on its way and makes a new one */
		if (l && l->seq == r->seq && !l->in_flight)
			forget(l, true);
		break;
	}
	}
	result_free(r);
}
#endif

bool mb_notify_init(void)
{
#if HAVE_LIBNOTIFY
	if (initialized)
		return true;
	if (!main_ctx)
		main_ctx = g_main_context_ref(g_main_context_default());
	if (!requests) {
		requests = g_async_queue_new();
		results = g_async_queue_new();
	}
	thread_ctx = g_main_context_new();
	GError *error = NULL;
	thread = g_thread_try_new("mb-notify", thread_main, NULL, &error);
	if (!thread) {
		g_warning("cannot start the notification thread: %s", error->message);
		g_error_free(error);
		g_clear_pointer(&thread_ctx, g_main_context_unref);
		return false;
	}
	initialized = true;
	return true;
#else
	return false;
#endif
}

void mb_notify_set_max_lines(unsigned lines)
{
	max_lines = lines;
}

void mb_notify_set_mark_read_handler(mb_notify_mark_read_fn fn, void *data)
{
	mark_read_fn = fn;
	mark_read_data = data;
}

enum mb_notify_dup mb_notify_dedupe(const struct mb_message *msg, unsigned window)
{
	if (!seen)
		seen = mb_notify_seen_create(DEDUPE_MAX);
	return mb_notify_seen_check(seen, msg->message_id, msg->account, msg->mailbox, msg->uidvalidity,
		msg->uid, g_get_monotonic_time(), (gint64)window * G_USEC_PER_SEC);
}

/* Alerts and held-mail summaries: shown once, never updated. */
static bool show_now(const char *summary, const char *body, const char *icon,
	const char *category, enum mb_urgency urgency)
{
	if (!can_send())
		return false;
	struct request *q = g_new0(struct request, 1);
	q->kind = REQUEST_TEXT;
	q->summary = mb_text_ellipsize(summary, MB_NOTIFY_SUMMARY_MAX);
	q->body = mb_text_ellipsize(body ? body : "", MB_NOTIFY_BODY_MAX);
	q->icon = g_strdup(icon);
	q->category = g_strdup(category);
	q->urgency = urgency;
	send_request(q, NULL);
	return true;
}

void mb_notify_shutdown(void)
{
	g_clear_handle_id(&flush_id, g_source_remove);
	flush_incoming();
#if HAVE_LIBNOTIFY
	if (initialized) {
		struct request *q = g_new0(struct request, 1);
		q->kind = REQUEST_QUIT;
		guint quit = send_request(q, NULL);
		/* Shown notifications count as notified in the state file: give a
		 * working service a moment to take what is queued, but don't wait
		 * for a hung one; the process is about to exit. */
		gint64 end = g_get_monotonic_time() + SHUTDOWN_WAIT * G_USEC_PER_SEC;
		bool finished = false;
		while (!finished) {
			gint64 left = end - g_get_monotonic_time();
			struct result *r = left > 0 ? g_async_queue_timeout_pop(results, (guint64)left) : NULL;
			if (!r)
				break;
			finished = r->kind == RESULT_DONE && r->serial == quit;
			handle_result(r, true);
		}
		if (finished) {
			g_thread_join(thread);
			g_clear_pointer(&thread_ctx, g_main_context_unref);
		} else {
			g_warning("the notification service did not answer within %d s: %u notification "
				"request(s) left unanswered", SHUTDOWN_WAIT, flights.length - 1);
			/* it may still post to the queues and contexts: they stay */
			g_thread_unref(thread);
		}
		thread = NULL;
		initialized = false;
	}
#endif
	/* what was not answered counts as not shown */
	struct flight *f;
	while ((f = g_queue_pop_head(&flights))) {
		run_waiters(f->waiters, false);
		g_free(f);
	}
	while (!g_queue_is_empty(&lives))
		forget(g_queue_peek_head(&lives), false);
	run_settled();
	g_clear_pointer(&seen, mb_notify_seen_destroy);
}

/* --- holding: pause and quiet hours (main thread only) ----------------------
 * While notifications are paused, or an account is in its quiet hours, its
 * new-mail notifications are counted instead of shown; when the reason ends
 * one summary says what arrived. Hooks never see any of this. Timers run
 * only at the few moments something changes (the pause's end, each quiet
 * period's start and end), never periodically. */

struct quiet {
	struct mb_quiet_hours hours;
	guint timer;          /* at the next start or end */
};

static struct mb_state *store;     /* where the pause is kept, or NULL */
static bool paused;
static gint64 paused_until;        /* Unix seconds, 0: until resumed */
static guint pause_timer;
static GHashTable *held;           /* account -> count (GUINT_TO_POINTER) */
static GHashTable *quiets;         /* account -> struct quiet * */
static GTimeZone *local_tz;
static void (*changed_fn)(void *);
static void *changed_data;

static void quiet_free(struct quiet *q)
{
	g_clear_handle_id(&q->timer, g_source_remove);
	mb_quiet_hours_finish(&q->hours);
	g_free(q);
}

static void init_tables(void)
{
	if (held)
		return;
	held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	quiets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)quiet_free);
	local_tz = g_time_zone_new_local();
}

static void changed(void)
{
	if (changed_fn)
		changed_fn(changed_data);
}

static void save_pause(void)
{
	GError *error = NULL;
	if (store && !mb_state_set_pause(store, paused, paused_until, held, &error)) {
		g_warning("cannot save the notification pause: %s", error->message);
		g_error_free(error);
	}
}

bool mb_notify_quiet(const char *account, gint64 *end_r)
{
	init_tables();
	struct quiet *q = g_hash_table_lookup(quiets, account);
	if (!q)
		return false;
	GDateTime *now = g_date_time_new_now(local_tz);
	GDateTime *end = NULL;
	bool active = mb_quiet_hours_active(&q->hours, now, local_tz, &end, NULL);
	if (active && end_r)
		*end_r = g_date_time_to_unix(end);
	if (end)
		g_date_time_unref(end);
	g_date_time_unref(now);
	return active;
}

/* Shows one summary for every account whose reason to hold has ended. */
static void flush(const char *why)
{
	GString *parts = g_string_new(NULL);
	unsigned total = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, held);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (paused || mb_notify_quiet(k, NULL))
			continue;
		unsigned n = GPOINTER_TO_UINT(v);
		g_string_append_printf(parts, "%s%u %s", parts->len ? ", " : "", n, (const char *)k);
		total += n;
		g_hash_table_iter_remove(&it);
	}
	if (total > 0) {
		char *summary = g_strdup_printf("%u new message%s %s: %s", total, total == 1 ? "" : "s",
			why, parts->str);
		g_message("%s", summary);
		show_now(summary, "", "mail-unread", "email.arrived", MB_URGENCY_UNSET);
		g_free(summary);
	}
	g_string_free(parts, TRUE);
}

static void schedule_quiet(const char *account, struct quiet *q);

static gboolean on_quiet_change(gpointer data)
{
	const char *account = data; /* the key in quiets: lives as long as q */
	struct quiet *q = g_hash_table_lookup(quiets, account);
	if (!q)
		return G_SOURCE_REMOVE;
	q->timer = 0;
	if (!mb_notify_quiet(account, NULL))
		flush("during quiet hours");
	schedule_quiet(account, q);
	changed();
	return G_SOURCE_REMOVE;
}

static void schedule_quiet(const char *account, struct quiet *q)
{
	g_clear_handle_id(&q->timer, g_source_remove);
	GDateTime *now = g_date_time_new_now(local_tz);
	GDateTime *end = NULL, *next = NULL;
	mb_quiet_hours_active(&q->hours, now, local_tz, &end, &next);
	GDateTime *at = end ? end : next;
	if (at) {
		GTimeSpan us = g_date_time_difference(at, now);
		/* a second late rather than early: then the period is over */
		guint secs = (guint)MIN(MAX(us / G_USEC_PER_SEC + 1, 1), (GTimeSpan)G_MAXUINT / 2);
		q->timer = g_timeout_add_seconds(secs, on_quiet_change, (gpointer)account);
	}
	if (end)
		g_date_time_unref(end);
	if (next)
		g_date_time_unref(next);
	g_date_time_unref(now);
}

void mb_notify_set_quiet_hours(const char *account, const struct mb_quiet_hours *hours)
{
	init_tables();
	g_hash_table_remove(quiets, account);
	if (hours && hours->n > 0) {
		struct quiet *q = g_new0(struct quiet, 1);
		q->hours.n = hours->n;
		q->hours.ranges = g_memdup2(hours->ranges, hours->n * sizeof hours->ranges[0]);
		char *key = g_strdup(account);
		g_hash_table_insert(quiets, key, q);
		schedule_quiet(key, q);
	}
	/* mail held under hours that no longer apply is shown now */
	flush("during quiet hours");
}

static gboolean on_pause_over(gpointer data)
{
	pause_timer = 0;
	g_message("the notification pause has ended");
	mb_notify_resume();
	return G_SOURCE_REMOVE;
}

void mb_notify_pause(gint64 until)
{
	init_tables();
	paused = true;
	paused_until = until;
	g_clear_handle_id(&pause_timer, g_source_remove);
	if (until > 0) {
		gint64 left = until - g_get_real_time() / G_USEC_PER_SEC;
		pause_timer = g_timeout_add_seconds((guint)CLAMP(left, 0, (gint64)G_MAXUINT / 2),
			on_pause_over, NULL);
	}
	save_pause();
	changed();
}

void mb_notify_resume(void)
{
	init_tables();
	if (!paused)
		return;
	paused = false;
	paused_until = 0;
	g_clear_handle_id(&pause_timer, g_source_remove);
	flush("while paused");
	save_pause(); /* removes the file */
	changed();
}

bool mb_notify_paused(gint64 *until_r)
{
	if (paused && until_r)
		*until_r = paused_until;
	return paused;
}

unsigned mb_notify_held(const char *account)
{
	init_tables();
	if (account)
		return GPOINTER_TO_UINT(g_hash_table_lookup(held, account));
	unsigned n = 0;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, held);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += GPOINTER_TO_UINT(v);
	return n;
}

void mb_notify_hold_init(struct mb_state *state, void (*fn)(void *), void *data)
{
	init_tables();
	store = state;
	changed_fn = fn;
	changed_data = data;
	gint64 until = 0;
	if (state && mb_state_get_pause(state, &until, held)) {
		gint64 now = g_get_real_time() / G_USEC_PER_SEC;
		if (until != 0 && until <= now) {
			/* it ended while mailbell was not running */
			paused = true;
			mb_notify_resume();
		} else {
			if (until) {
				GDateTime *t = g_date_time_new_from_unix_local(until);
				char *text = g_date_time_format(t, "%F %R");
				g_message("notifications are paused until %s", text);
				g_free(text);
				g_date_time_unref(t);
			} else {
				g_message("notifications are paused until resumed");
			}
			mb_notify_pause(until);
		}
	}
}

/* Counts n notifications of account instead of showing them when it must
 * hold them; returns whether it did. */
static bool hold(const char *account, unsigned n)
{
	init_tables();
	if (!paused && !mb_notify_quiet(account, NULL))
		return false;
	guint have = GPOINTER_TO_UINT(g_hash_table_lookup(held, account));
	g_hash_table_insert(held, g_strdup(account), GUINT_TO_POINTER(have + n));
	if (paused)
		save_pause();
	changed();
	return true;
}

void mb_notify_mail(const struct mb_message *msg, enum mb_urgency urgency,
	const struct mb_notify_options *opt, mb_notify_done_fn done, void *data)
{
	struct waiter w = { done, data };
	if (hold(msg->account, 1)) {
		g_info("%s/%s uid %u: notification held (%s)", msg->account, msg->mailbox, msg->uid,
			paused ? "paused" : "quiet hours");
		settle(&w, true);
		return;
	}
	if (!initialized) {
		settle(&w, false);
		return;
	}
	struct incoming *in = g_new0(struct incoming, 1);
	in->msg = mb_notify_message_copy(msg);
	in->urgency = urgency;
	options_set(&in->opt, opt);
	in->w = w;
	g_queue_push_tail(&incoming, in);
	schedule_flush();
}

void mb_notify_gone(const char *account, const char *mailbox, uint32_t uidvalidity, uint32_t uid)
{
	/* not sent yet: read or deleted before it could be shown */
	for (GList *k = incoming.head; k; k = k->next) {
		struct incoming *in = k->data;
		if (in->msg->uid == uid && in->msg->uidvalidity == uidvalidity
			&& strcmp(in->msg->account, account) == 0 && strcmp(in->msg->mailbox, mailbox) == 0) {
			g_queue_delete_link(&incoming, k);
			settle(&in->w, true);
			incoming_free(in);
			return;
		}
	}
	for (GList *k = lives.head; k; k = k->next) {
		struct live *l = k->data;
		if (strcmp(mb_notify_group_account(l->group), account) != 0
			|| strcmp(mb_notify_group_mailbox(l->group), mailbox) != 0
			|| !mb_notify_group_remove(l->group, uidvalidity, uid))
			continue;
		g_debug("%s/%s: uid %u left notification %u", account, mailbox, uid, l->id);
		if (mb_notify_group_size(l->group) == 0)
			close_live(l, true);
		else
			show_live(l, NULL);
		return;
	}
}

bool mb_notify_text(const char *summary, const char *body, const char *category, bool urgent)
{
	return show_now(summary, body, urgent ? "dialog-warning" : "mail-unread", category,
		urgent ? MB_URGENCY_CRITICAL : MB_URGENCY_UNSET);
}
