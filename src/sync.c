#define G_LOG_DOMAIN "mailbell"

#include "sync.h"
#include "spawn.h"
#include "text.h"

#include <string.h>

#include <glib.h>

/* The notes for one command, waiting for their run. */
struct batch {
	char *command;
	GPtrArray *mailboxes;       /* char *, UTF-8, each once, first noted first */
	GArray *n_new;              /* unsigned, new messages per mailbox */
	enum mb_sync_reason reason;
};

struct mb_sync {
	char *account;
	unsigned delay, timeout;
	char *config;
	GQueue batches;             /* struct batch *, first noted first */
	guint timer;
	gint64 first_note;          /* monotonic µs of the oldest note not yet
	                             * waited for, 0: none */
	bool running;
	bool destroyed;             /* freed by its owner, kept for the run */
};

/* Every runner not yet freed, including destroyed ones whose command is
 * still running: one account name never runs two at once. */
static GList *runners;
static void (*idle_fn)(void *);
static void *idle_data;

static const char *const reason_names[] = {
	[MB_SYNC_REASON_CHANGE] = "change",
	[MB_SYNC_REASON_RECONNECT] = "reconnect",
	[MB_SYNC_REASON_START] = "start",
};

const char *mb_sync_reason_name(enum mb_sync_reason reason)
{
	return (unsigned)reason < G_N_ELEMENTS(reason_names) ? reason_names[reason] : "change";
}

static void batch_free(struct batch *b)
{
	g_free(b->command);
	g_ptr_array_free(b->mailboxes, TRUE);
	g_array_free(b->n_new, TRUE);
	g_free(b);
}

unsigned mb_sync_pending(void)
{
	unsigned n = 0;
	for (GList *l = runners; l; l = l->next) {
		const struct mb_sync *s = l->data;
		n += s->running + (s->destroyed ? 0 : s->batches.length);
	}
	return n;
}

static void maybe_idle(void)
{
	if (idle_fn && mb_sync_pending() == 0) {
		void (*fn)(void *) = idle_fn;
		idle_fn = NULL;
		fn(idle_data);
	}
}

void mb_sync_when_idle(void (*fn)(void *data), void *data)
{
	idle_fn = fn;
	idle_data = data;
	maybe_idle();
}

static bool name_running(const char *account)
{
	for (GList *l = runners; l; l = l->next) {
		const struct mb_sync *s = l->data;
		if (s->running && strcmp(s->account, account) == 0)
			return true;
	}
	return false;
}

static void maybe_start(struct mb_sync *s);

static void run_done(const struct mb_spawn_result *r, void *data)
{
	struct mb_sync *s = data;
	s->running = false;
	if (r->error)
		g_warning("sync hook for %s: %s", s->account, r->error);
	else if (r->exited && r->status == 0)
		g_info("sync hook for %s exited 0 after %.1f ms", s->account, r->ms);
	else if (r->exited)
		g_warning("sync hook for %s exited with status %d", s->account, r->status);
	else if (r->signal)
		g_warning("sync hook for %s killed by signal %d", s->account, r->signal);
	char *account = g_strdup(s->account);
	if (s->destroyed) {
		runners = g_list_remove(runners, s);
		g_free(s->account);
		g_free(s->config);
		g_free(s);
	}
	/* this one, or the runner that replaced it at a reload */
	for (GList *l = runners; l; l = l->next) {
		struct mb_sync *o = l->data;
		if (strcmp(o->account, account) == 0)
			maybe_start(o);
	}
	g_free(account);
	maybe_idle();
}

static unsigned batch_new(const struct batch *b)
{
	unsigned n = 0;
	for (guint i = 0; i < b->n_new->len; i++)
		n += g_array_index(b->n_new, unsigned, i);
	return n;
}

static char *batch_names(const struct batch *b, const char *sep)
{
	GString *names = g_string_new(NULL);
	for (guint i = 0; i < b->mailboxes->len; i++)
		g_string_append_printf(names, "%s%s", i ? sep : "", (const char *)b->mailboxes->pdata[i]);
	return g_string_free(names, FALSE);
}

static char **run_environ(const struct mb_sync *s, const struct batch *b)
{
	char **env = mb_spawn_environ();
	char *names = batch_names(b, "\n");
	char num[16];
	g_snprintf(num, sizeof num, "%u", batch_new(b));
	env = g_environ_setenv(env, "MAILBELL_ACCOUNT", s->account, TRUE);
	env = g_environ_setenv(env, "MAILBELL_MAILBOXES", names, TRUE);
	env = g_environ_setenv(env, "MAILBELL_NEW", num, TRUE);
	env = g_environ_setenv(env, "MAILBELL_REASON", mb_sync_reason_name(b->reason), TRUE);
	if (s->config)
		env = g_environ_setenv(env, "MAILBELL_CONFIG", s->config, TRUE);
	g_free(names);
	return env;
}

static void maybe_start(struct mb_sync *s)
{
	while (!s->destroyed && !s->running && !s->timer && !g_queue_is_empty(&s->batches)
		&& !name_running(s->account)) {
		struct batch *b = g_queue_pop_head(&s->batches);
		char **env = run_environ(s, b);
		char *label = g_strdup_printf("sync hook for %s", s->account);
		struct mb_spawn_params p = {
			.command = b->command,
			.env = env,
			.stdin_fd = -1,
			.timeout = s->timeout,
			.label = label,
		};
		char *names = batch_names(b, ", ");
		char *shown = mb_text_ellipsize(names, 200);
		g_info("%s: running the sync hook (%s, %u new) for %s", s->account,
			mb_sync_reason_name(b->reason), batch_new(b), shown);
		g_free(shown);
		g_free(names);
		GError *error = NULL;
		s->running = mb_spawn_start(&p, run_done, s, &error) != NULL;
		if (!s->running) {
			g_warning("sync hook for %s: cannot start /bin/sh: %s", s->account, error->message);
			g_error_free(error);
		}
		g_strfreev(env);
		g_free(label);
		batch_free(b);
	}
}

static gboolean on_timer(gpointer data)
{
	struct mb_sync *s = data;
	s->timer = 0;
	s->first_note = 0;
	maybe_start(s);
	maybe_idle();
	return G_SOURCE_REMOVE;
}

struct mb_sync *mb_sync_create(const char *account, unsigned delay, unsigned timeout, const char *config)
{
	struct mb_sync *s = g_new0(struct mb_sync, 1);
	s->account = g_strdup(account);
	g_queue_init(&s->batches);
	mb_sync_set_limits(s, delay, timeout, config);
	runners = g_list_prepend(runners, s);
	return s;
}

void mb_sync_set_limits(struct mb_sync *s, unsigned delay, unsigned timeout, const char *config)
{
	s->delay = delay;
	s->timeout = timeout;
	g_free(s->config);
	s->config = config ? g_canonicalize_filename(config, NULL) : NULL;
}

/* Adds one mailbox's notes to the batch of command. */
static void add(struct mb_sync *s, const char *command, const char *mailbox, unsigned n_new,
	enum mb_sync_reason reason)
{
	struct batch *b = NULL;
	for (GList *l = s->batches.head; l && !b; l = l->next) {
		if (strcmp(((struct batch *)l->data)->command, command) == 0)
			b = l->data;
	}
	if (!b) {
		b = g_new0(struct batch, 1);
		b->command = g_strdup(command);
		b->mailboxes = g_ptr_array_new_with_free_func(g_free);
		b->n_new = g_array_new(FALSE, TRUE, sizeof(unsigned));
		g_queue_push_tail(&s->batches, b);
	}
	/* one name per line: a control character in a name must not split
	 * it (the name is kept exact otherwise) */
	bool control = false;
	for (const char *c = mailbox; *c && !control; c++)
		control = (unsigned char)*c < 0x20 || *c == 0x7f;
	char *name = control ? mb_text_sanitize(mailbox, strlen(mailbox)) : g_strdup(mailbox);
	guint i = 0;
	while (i < b->mailboxes->len && strcmp(b->mailboxes->pdata[i], name) != 0)
		i++;
	if (i < b->mailboxes->len) {
		g_free(name);
	} else {
		g_ptr_array_add(b->mailboxes, name);
		unsigned zero = 0;
		g_array_append_val(b->n_new, zero);
	}
	g_array_index(b->n_new, unsigned, i) += n_new;
	if (reason > b->reason)
		b->reason = reason;
}

void mb_sync_note(struct mb_sync *s, const char *command, const char *mailbox, unsigned n_new,
	enum mb_sync_reason reason)
{
	add(s, command, mailbox, n_new, reason);

	/* wait for delay seconds of quiet, but not forever */
	gint64 now = g_get_monotonic_time();
	if (!s->first_note)
		s->first_note = now;
	gint64 latest = s->first_note + (gint64)s->delay * MB_SYNC_MAX_WAIT_FACTOR * G_USEC_PER_SEC;
	gint64 at = MIN(now + (gint64)s->delay * G_USEC_PER_SEC, latest);
	g_clear_handle_id(&s->timer, g_source_remove);
	s->timer = g_timeout_add((guint)MAX(0, (at - now) / 1000), on_timer, s);
}

void mb_sync_retarget(struct mb_sync *s, mb_sync_command_fn command_for, void *data)
{
	GQueue old = s->batches;
	g_queue_init(&s->batches);
	for (GList *l = old.head; l; l = l->next) {
		struct batch *b = l->data;
		for (guint i = 0; i < b->mailboxes->len; i++) {
			const char *cmd = command_for(b->mailboxes->pdata[i], data);
			if (cmd)
				add(s, cmd, b->mailboxes->pdata[i], g_array_index(b->n_new, unsigned, i), b->reason);
		}
	}
	g_queue_clear_full(&old, (GDestroyNotify)batch_free);
	if (g_queue_is_empty(&s->batches)) {
		g_clear_handle_id(&s->timer, g_source_remove);
		s->first_note = 0;
		maybe_idle();
	}
}

void mb_sync_flush(struct mb_sync *s)
{
	g_clear_handle_id(&s->timer, g_source_remove);
	s->first_note = 0;
	maybe_start(s);
}

void mb_sync_destroy(struct mb_sync *s)
{
	if (!s)
		return;
	g_clear_handle_id(&s->timer, g_source_remove);
	g_queue_clear_full(&s->batches, (GDestroyNotify)batch_free);
	if (s->running) {
		s->destroyed = true; /* run_done frees it */
	} else {
		runners = g_list_remove(runners, s);
		g_free(s->account);
		g_free(s->config);
		g_free(s);
	}
	maybe_idle();
}
