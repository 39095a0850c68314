#define G_LOG_DOMAIN "mailbell"

#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */

#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>

extern char **environ;

#define READ_CHUNK 4096

struct capture {
	GInputStream *stream;       /* the read end of the child's pipe, owned */
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
	GCancellable *cancel;       /* the reads */
	pid_t pgid;                 /* the shell's pid, and its process group's
	                             * id: the group may outlive the shell */
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
	g_clear_object(&sp->out.stream);
	g_clear_object(&sp->err.stream);
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

/* The shell ended (GLib's child watch reaped it): runs even after a cancel,
 * so that no zombie is left, and holds a reference until then. */
static void on_child(GPid pid, gint wait_status, gpointer data)
{
	struct mb_spawn *sp = data;
	g_spawn_close_pid(pid);
	if (!sp->finished) {
		sp->ms = (double)(g_get_monotonic_time() - sp->started) / 1000.0;
		sp->shell_ended = true;
		if (WIFEXITED(wait_status)) {
			sp->exited = true;
			sp->status = WEXITSTATUS(wait_status);
		} else if (WIFSIGNALED(wait_status)) {
			sp->signal = WTERMSIG(wait_status);
		}
		maybe_finish(sp);
	}
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

static void set_gerror_errno(GError **error, const char *what, int err)
{
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", what, g_strerror(err));
}

/* /bin/sh -c command with posix_spawn (a vfork-like clone: nothing of
 * mailbell is copied, however large it grew), in a process group of its
 * own, with SIGPIPE back at its default (mailbell ignores it for its
 * sockets; an ignored signal stays ignored across exec, and "producer |
 * head" relies on it) and no signal blocked. Standard input is stdin_fd
 * (taken) or /dev/null; standard output and error are the daemon's, or
 * pipes whose read ends go to out_r/err_r. No other descriptor is
 * inherited. */
static pid_t spawn_shell(const struct mb_spawn_params *p, int *out_r, int *err_r, GError **error)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t pid = -1;
	if (p->capture && (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)) {
		set_gerror_errno(error, "pipe", errno);
		goto out;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (p->stdin_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, p->stdin_fd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (p->capture) {
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	}
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigset_t def, none;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF
		| POSIX_SPAWN_SETSIGMASK);
	char *argv[] = { "/bin/sh", "-c", (char *)p->command, NULL };
	int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, p->env ? p->env : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		pid = -1;
		set_gerror_errno(error, "cannot start /bin/sh", rc);
	}
out:
	if (out[1] >= 0)
		close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	if (pid < 0) {
		if (out[0] >= 0)
			close(out[0]);
		if (err[0] >= 0)
			close(err[0]);
	} else {
		*out_r = out[0];
		*err_r = err[0];
	}
	if (p->stdin_fd >= 0)
		close(p->stdin_fd); /* taken, whatever happened */
	return pid;
}

struct mb_spawn *mb_spawn_start(const struct mb_spawn_params *p, mb_spawn_done_fn done,
	void *data, GError **error)
{
	int out_fd = -1, err_fd = -1;
	pid_t pid = spawn_shell(p, &out_fd, &err_fd, error);
	if (pid < 0)
		return NULL;

	struct mb_spawn *sp = g_new0(struct mb_spawn, 1);
	sp->refs = 1;
	sp->cancel = g_cancellable_new();
	sp->label = g_strdup(p->label ? p->label : p->command);
	sp->timeout = p->timeout;
	sp->done = done;
	sp->data = data;
	sp->capture = p->capture;
	sp->secret = p->capture && p->secret_output;
	sp->started = g_get_monotonic_time();
	/* posix_spawn returns once the child runs /bin/sh (or failed to):
	 * its group exists by then. */
	sp->pgid = pid;
	g_child_watch_add(pid, on_child, spawn_ref(sp));
	if (sp->capture) {
		sp->out.stream = g_unix_input_stream_new(out_fd, TRUE);
		sp->err.stream = g_unix_input_stream_new(err_fd, TRUE);
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
	/* the pending reads complete (cancelled) later, or from within this
	 * call, and drop their references; the child watch reaps the shell
	 * and drops its own */
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
