#define G_LOG_DOMAIN "mailbell"

#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#define READ_CHUNK 4096

struct capture {
	GInputStream *stream;       /* borrowed from the GSubprocess */
	char *data;                 /* at most MB_SPAWN_CAPTURE_MAX octets */
	size_t len, cap;
	char chunk[READ_CHUNK];     /* what the pending read fills */
	bool eof;                   /* end of file, or a read failed */
};

/* The handle, and also the state that outlives it: the SIGKILL timer after a
 * timeout, and asynchronous operations that complete after a cancel. Each of
 * those holds a reference; single-threaded (the main loop), so a counter. */
struct mb_spawn {
	unsigned refs;
	GSubprocess *proc;
	GCancellable *cancel;       /* the wait and the reads */
	pid_t pgid;                 /* remembered at spawn: GIO forgets the pid
	                             * once the shell is reaped, its group may
	                             * live on */
	char *label;
	unsigned timeout;
	mb_spawn_done_fn done;
	void *data;
	bool capture;
	bool secret;
	bool finished;              /* done ran or the caller cancelled: the
	                             * handle is gone */
	bool shell_ended;           /* the wait completed */
	bool timed_out;             /* SIGTERM sent */
	bool killed;                /* SIGKILL sent after the grace */
	bool exited;
	int status;
	int signal;
	double ms;
	char *error;
	gint64 started;             /* monotonic µs */
	guint term_timer;
	guint kill_timer;
	guint recheck_timer;        /* timed out, shell gone: is the group? */
	struct capture out, err;
};

static struct mb_spawn *spawn_ref(struct mb_spawn *sp)
{
	sp->refs++;
	return sp;
}

static void capture_finish(struct capture *c, bool secret)
{
	if (c->data && secret)
		explicit_bzero(c->data, c->cap);
	if (secret)
		explicit_bzero(c->chunk, sizeof c->chunk);
	g_clear_pointer(&c->data, g_free);
	c->len = c->cap = 0;
}

static void spawn_unref(struct mb_spawn *sp)
{
	if (--sp->refs > 0)
		return;
	g_clear_handle_id(&sp->term_timer, g_source_remove);
	g_clear_handle_id(&sp->kill_timer, g_source_remove);
	g_clear_handle_id(&sp->recheck_timer, g_source_remove);
	capture_finish(&sp->out, sp->secret);
	capture_finish(&sp->err, false);
	g_clear_object(&sp->proc);
	g_clear_object(&sp->cancel);
	g_free(sp->label);
	g_free(sp->error);
	g_free(sp);
}

/* The group, not only the shell: a hook's children, a hung password
 * manager's pinentry. kill() is async-signal-safe and harmless on a group
 * that is gone (ESRCH). */
static void signal_group(struct mb_spawn *sp, int sig)
{
	if (sp->pgid > 1)
		kill(-sp->pgid, sig);
}

static void set_error(struct mb_spawn *sp, const char *what, const GError *e)
{
	if (sp->error)
		return;
	char *msg = g_utf8_make_valid(e->message, -1);
	sp->error = g_strdup_printf("%s: %s", what, msg);
	g_free(msg);
}

static void finish(struct mb_spawn *sp)
{
	sp->finished = true;
	g_clear_handle_id(&sp->term_timer, g_source_remove);
	/* After a SIGKILL the reads may still be pending (a process that left
	 * the group can hold the pipe): stop them. The callbacks may run from
	 * within this call; our own reference keeps sp. */
	g_cancellable_cancel(sp->cancel);
	struct mb_spawn_result r = {
		.exited = sp->exited,
		.status = sp->status,
		.signal = sp->signal,
		.timed_out = sp->timed_out,
		.ms = sp->ms,
		.error = sp->error,
	};
	if (sp->capture) {
		r.out = g_bytes_new_static(sp->out.data, sp->out.len);
		r.err = g_bytes_new_static(sp->err.data, sp->err.len);
	}
	sp->done(&r, sp->data);
	if (r.out)
		g_bytes_unref(r.out);
	if (r.err)
		g_bytes_unref(r.err);
	if (sp->secret)
		capture_finish(&sp->out, true);
	spawn_unref(sp); /* the handle's */
}

/* Timed-out groups waiting for their SIGKILL, for mb_spawn_kill_pending(). */
static GList *dying;

static bool group_alive(const struct mb_spawn *sp)
{
	return sp->pgid > 1 && kill(-sp->pgid, 0) == 0;
}

#define RECHECK_MS 50

static gboolean on_recheck(gpointer data);

static void maybe_finish(struct mb_spawn *sp)
{
	if (sp->finished || !sp->shell_ended)
		return;
	if (sp->capture && !(sp->out.eof && sp->err.eof) && !sp->killed)
		return;
	/* A command that timed out is over when its group is: a shell that
	 * died of the SIGTERM may leave a child that ignores it, and the
	 * caller's "one at a time" and "wait for every hook" must count it
	 * until the SIGKILL. */
	if (sp->timed_out && !sp->killed && group_alive(sp)) {
		/* the rest of the group usually dies of the same SIGTERM a
		 * moment later: look again soon, else the SIGKILL decides */
		if (!sp->recheck_timer)
			sp->recheck_timer = g_timeout_add(RECHECK_MS, on_recheck, spawn_ref(sp));
		return;
	}
	finish(sp);
}

static gboolean on_recheck(gpointer data)
{
	struct mb_spawn *sp = data;
	sp->recheck_timer = 0;
	maybe_finish(sp);
	spawn_unref(sp); /* the timer's */
	return G_SOURCE_REMOVE;
}

static void on_wait(GObject *source, GAsyncResult *res, gpointer data)
{
	struct mb_spawn *sp = data;
	GError *e = NULL;
	bool ok = g_subprocess_wait_finish(sp->proc, res, &e);
	if (!sp->finished) {
		sp->ms = (double)(g_get_monotonic_time() - sp->started) / 1000.0;
		sp->shell_ended = true;
		if (!ok) {
			set_error(sp, "cannot wait for it", e);
		} else if (g_subprocess_get_if_exited(sp->proc)) {
			sp->exited = true;
			sp->status = g_subprocess_get_exit_status(sp->proc);
		} else if (g_subprocess_get_if_signaled(sp->proc)) {
			sp->signal = g_subprocess_get_term_sig(sp->proc);
		}
		maybe_finish(sp);
	}
	g_clear_error(&e);
	spawn_unref(sp);
}

static void read_next(struct mb_spawn *sp, struct capture *c);

static void on_read(GObject *source, GAsyncResult *res, gpointer data)
{
	struct mb_spawn *sp = data;
	struct capture *c = G_INPUT_STREAM(source) == sp->out.stream ? &sp->out : &sp->err;
	GError *e = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &e);
	if (sp->finished) {
		g_clear_error(&e);
		spawn_unref(sp);
		return;
	}
	if (n < 0) {
		set_error(sp, "cannot read its output", e);
		g_clear_error(&e);
		c->eof = true;
	} else if (n == 0) {
		c->eof = true;
	} else {
		size_t keep = MIN((size_t)n, MB_SPAWN_CAPTURE_MAX - c->len);
		if (c->len + keep > c->cap) {
			/* grow by hand, not g_realloc: the old block must be
			 * wiped when it holds a secret */
			size_t cap = MAX(c->cap * 2, (size_t)READ_CHUNK);
			cap = MIN(MAX(cap, c->len + keep), (size_t)MB_SPAWN_CAPTURE_MAX);
			char *p = g_malloc(cap);
			if (c->len)
				memcpy(p, c->data, c->len);
			if (c->data && c == &sp->out && sp->secret)
				explicit_bzero(c->data, c->cap);
			g_free(c->data);
			c->data = p;
			c->cap = cap;
		}
		if (keep)
			memcpy(c->data + c->len, c->chunk, keep);
		c->len += keep;
		if (c == &sp->out && sp->secret)
			explicit_bzero(c->chunk, (size_t)n);
		read_next(sp, c);
	}
	maybe_finish(sp);
	spawn_unref(sp);
}

static void read_next(struct mb_spawn *sp, struct capture *c)
{
	g_input_stream_read_async(c->stream, c->chunk, sizeof c->chunk, G_PRIORITY_DEFAULT,
		sp->cancel, on_read, spawn_ref(sp));
}

static gboolean on_kill(gpointer data)
{
	struct mb_spawn *sp = data;
	sp->kill_timer = 0;
	sp->killed = true;
	dying = g_list_remove(dying, sp);
	/* Whatever the shell did meanwhile: it may have exited on SIGTERM and
	 * left a child that ignores it. */
	if (sp->pgid > 1 && kill(-sp->pgid, 0) == 0) {
		g_warning("%s (process group %d) still running %ds after SIGTERM; sending SIGKILL",
			sp->label, (int)sp->pgid, MB_SPAWN_KILL_GRACE);
		signal_group(sp, SIGKILL);
	}
	maybe_finish(sp);
	spawn_unref(sp); /* the timer's */
	return G_SOURCE_REMOVE;
}

static gboolean on_term(gpointer data)
{
	struct mb_spawn *sp = data;
	sp->term_timer = 0;
	sp->timed_out = true;
	g_warning("%s still running after %us; sending SIGTERM", sp->label, sp->timeout);
	signal_group(sp, SIGTERM);
	/* holds its own reference: it outlives the handle */
	sp->kill_timer = g_timeout_add_seconds(MB_SPAWN_KILL_GRACE, on_kill, spawn_ref(sp));
	dying = g_list_prepend(dying, sp);
	return G_SOURCE_REMOVE;
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void child_setup(gpointer data)
{
	setpgid(0, 0);
	/* mailbell ignores SIGPIPE (for its sockets); an ignored signal stays
	 * ignored across exec, and "producer | head" relies on it. */
	signal(SIGPIPE, SIG_DFL);
}

struct mb_spawn *mb_spawn_start(const struct mb_spawn_params *p, mb_spawn_done_fn done,
	void *data, GError **error)
{
	GSubprocessLauncher *l = g_subprocess_launcher_new(p->capture
		? G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE
		: G_SUBPROCESS_FLAGS_NONE);
	/* without a descriptor: /dev/null, GIO's default (the daemon's own
	 * stdin may be a terminal); the launcher closes it when freed */
	if (p->stdin_fd >= 0)
		g_subprocess_launcher_take_stdin_fd(l, p->stdin_fd);
	if (p->env)
		g_subprocess_launcher_set_environ(l, p->env);
	g_subprocess_launcher_set_child_setup(l, child_setup, NULL, NULL);
	const char *argv[] = { "/bin/sh", "-c", p->command, NULL };
	GSubprocess *proc = g_subprocess_launcher_spawnv(l, argv, error);
	g_object_unref(l);
	if (!proc)
		return NULL;

	struct mb_spawn *sp = g_new0(struct mb_spawn, 1);
	sp->refs = 1;
	sp->proc = proc;
	sp->cancel = g_cancellable_new();
	sp->label = g_strdup(p->label ? p->label : p->command);
	sp->timeout = p->timeout;
	sp->done = done;
	sp->data = data;
	sp->capture = p->capture;
	sp->secret = p->capture && p->secret_output;
	sp->started = g_get_monotonic_time();
	/* NULL when GIO reaped the shell already (it does so on its worker
	 * thread); then there is no group to kill later. */
	const char *id = g_subprocess_get_identifier(proc);
	sp->pgid = id ? (pid_t)g_ascii_strtoll(id, NULL, 10) : 0;
	/* Also from this side (the usual double setpgid): whichever runs first,
	 * the group exists before anybody signals it. EACCES once the child
	 * has exec'd is expected. */
	if (sp->pgid > 0)
		setpgid(sp->pgid, sp->pgid);
	g_subprocess_wait_async(proc, sp->cancel, on_wait, spawn_ref(sp));
	if (sp->capture) {
		sp->out.stream = g_subprocess_get_stdout_pipe(proc);
		sp->err.stream = g_subprocess_get_stderr_pipe(proc);
		read_next(sp, &sp->out);
		read_next(sp, &sp->err);
	}
	if (sp->timeout)
		sp->term_timer = g_timeout_add_seconds(sp->timeout, on_term, sp);
	return sp;
}

void mb_spawn_cancel(struct mb_spawn *sp)
{
	if (!sp || sp->finished)
		return;
	sp->finished = true;
	signal_group(sp, SIGKILL);
	g_clear_handle_id(&sp->term_timer, g_source_remove);
	if (sp->kill_timer) {
		g_clear_handle_id(&sp->kill_timer, g_source_remove);
		dying = g_list_remove(dying, sp);
		spawn_unref(sp); /* the timer's; the handle's is still held */
	}
	/* the pending wait and reads complete (cancelled) later, or from
	 * within this call, and drop their references */
	g_cancellable_cancel(sp->cancel);
	spawn_unref(sp); /* the handle's */
}

void mb_spawn_kill_pending(void)
{
	for (GList *l = dying; l; l = l->next) {
		struct mb_spawn *sp = l->data;
		if (group_alive(sp)) {
			g_warning("%s (process group %d): mailbell is exiting; sending SIGKILL now", sp->label,
				(int)sp->pgid);
			signal_group(sp, SIGKILL);
		}
	}
}

char **mb_spawn_environ(void)
{
	char **env = g_get_environ();
	size_t n = 0;
	for (size_t i = 0; env[i]; i++) {
		if (g_str_has_prefix(env[i], "MAILBELL_"))
			g_free(env[i]);
		else
			env[n++] = env[i];
	}
	env[n] = NULL;
	return env;
}

int mb_spawn_pgid(const struct mb_spawn *sp)
{
	return sp ? (int)sp->pgid : 0;
}
