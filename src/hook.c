#define G_LOG_DOMAIN "mailbell"

#include "hook.h"
#include "text.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#define KILL_GRACE 5 /* seconds between SIGTERM and SIGKILL */

struct job {
	char *command;
	char **env;
	char *label; /* "work/INBOX uid 42" */
	mb_hook_started_fn started;
	void *data;
	int input_fd;   /* standard input: an unlinked file holding the raw
	                 * message or its header, or -1 for /dev/null */
};

struct running {
	GSubprocess *proc;
	char *label;
	guint term_timer;
	guint kill_timer;
	gint64 started;
};

static unsigned hook_timeout = 60;
static char *config_path;
static unsigned hook_max = 4;
static unsigned n_running;
static GQueue queue = G_QUEUE_INIT;

void mb_hook_init(unsigned timeout, unsigned max_running, const char *config)
{
	/* Every queued hook holds its input file open: a catch-up of
	 * thousands must not run out of descriptors (the soft limit is often
	 * 1024, the hard one far higher). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	hook_timeout = timeout;
	hook_max = max_running ? max_running : 1;
	g_free(config_path);
	config_path = config ? g_canonicalize_filename(config, NULL) : NULL;
}

static void (*idle_fn)(void *);
static void *idle_data;

unsigned mb_hook_pending(void)
{
	return n_running + queue.length;
}

static void maybe_idle(void)
{
	if (idle_fn && mb_hook_pending() == 0) {
		void (*fn)(void *) = idle_fn;
		idle_fn = NULL;
		fn(idle_data);
	}
}

void mb_hook_when_idle(void (*fn)(void *data), void *data)
{
	idle_fn = fn;
	idle_data = data;
	maybe_idle();
}

/* Per variable, octets: far below the kernel's 128 KiB per string. */
#define HOOK_VALUE_MAX 16384

static char **setenv_capped(char **env, const char *name, const char *value)
{
	char *v = mb_text_ellipsize(value, HOOK_VALUE_MAX);
	env = g_environ_setenv(env, name, v, TRUE);
	g_free(v);
	return env;
}

char **mb_hook_environ(char **base, const struct mb_message *msg, const char *rule)
{
	char **env = base ? g_strdupv(base) : g_get_environ();
	char num[16];
	env = g_environ_setenv(env, "MAILBELL_ACCOUNT", msg->account, TRUE);
	env = g_environ_setenv(env, "MAILBELL_MAILBOX", msg->mailbox, TRUE);
	g_snprintf(num, sizeof num, "%u", msg->uid);
	env = g_environ_setenv(env, "MAILBELL_UID", num, TRUE);
	g_snprintf(num, sizeof num, "%u", msg->uidvalidity);
	env = g_environ_setenv(env, "MAILBELL_UIDVALIDITY", num, TRUE);
	env = setenv_capped(env, "MAILBELL_FROM", msg->from);
	env = setenv_capped(env, "MAILBELL_FROM_NAME", msg->from_name);
	env = setenv_capped(env, "MAILBELL_FROM_ADDRESS", msg->from_address);
	env = setenv_capped(env, "MAILBELL_SUBJECT", msg->subject);
	env = setenv_capped(env, "MAILBELL_DATE", msg->date);
	env = setenv_capped(env, "MAILBELL_MESSAGE_ID", msg->message_id);
	g_snprintf(num, sizeof num, "%u", msg->size);
	env = g_environ_setenv(env, "MAILBELL_SIZE", num, TRUE);
	env = g_environ_setenv(env, "MAILBELL_RULE", rule ? rule : "", TRUE);
	env = setenv_capped(env, "MAILBELL_TO", msg->to_text);
	env = setenv_capped(env, "MAILBELL_LIST_ID", msg->list_id);
	env = setenv_capped(env, "MAILBELL_PREVIEW", msg->preview);
	env = g_environ_setenv(env, "MAILBELL_DOWNLOADED", msg->raw ? "full" : "headers", TRUE);
	env = g_environ_setenv(env, "MAILBELL_DUPLICATE", msg->duplicate ? "1" : "0", TRUE);
	if (config_path)
		env = g_environ_setenv(env, "MAILBELL_CONFIG", config_path, TRUE);
	return env;
}

static void job_free(struct job *job)
{
	if (job->input_fd >= 0)
		close(job->input_fd);
	g_free(job->command);
	g_strfreev(job->env);
	g_free(job->label);
	g_free(job);
}

static void start_next(void);

/* The hook's standard input is a file, not a pipe: a hook reads it at its
 * own pace, or not at all, and gets all of it even when mailbell has
 * stopped meanwhile; mailbell never waits on it, and a queued message costs
 * disk (a tmpfs under $XDG_RUNTIME_DIR, usually), not memory. The file is
 * unlinked at once: only the descriptor holds it. */
static int input_file(GBytes *input, const char *label)
{
	const char *dir = g_get_user_runtime_dir();
	if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR))
		dir = g_get_tmp_dir();
	char *path = g_build_filename(dir, "mailbell-hook-XXXXXX", NULL);
	int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_warning("hook for %s gets no standard input: cannot create a file in %s: %s", label, dir,
			g_strerror(errno));
		g_free(path);
		return -1;
	}
	unlink(path);
	g_free(path);
	gsize len;
	const char *p = g_bytes_get_data(input, &len);
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_warning("hook for %s gets no standard input: cannot write it: %s", label,
				g_strerror(n < 0 ? errno : ENOSPC));
			close(fd);
			return -1;
		}
		p += n;
		len -= (gsize)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Each hook leads a process group of its own (see hook_child_setup), so a
 * timeout ends everything it started, not just /bin/sh. The identifier is
 * NULL once the shell was reaped; the number may then be someone else's. */
static void signal_group(struct running *r, int sig)
{
	const char *id = g_subprocess_get_identifier(r->proc);
	if (id)
		kill(-(pid_t)g_ascii_strtoll(id, NULL, 10), sig);
}

static void hook_child_setup(gpointer data)
{
	setpgid(0, 0);
}

static gboolean on_kill(gpointer data)
{
	struct running *r = data;
	r->kill_timer = 0;
	g_warning("hook for %s ignored SIGTERM; killing it", r->label);
	signal_group(r, SIGKILL);
	return G_SOURCE_REMOVE;
}

static gboolean on_term(gpointer data)
{
	struct running *r = data;
	r->term_timer = 0;
	g_warning("hook for %s still running after %us; sending SIGTERM", r->label, hook_timeout);
	signal_group(r, SIGTERM);
	r->kill_timer = g_timeout_add_seconds(KILL_GRACE, on_kill, r);
	return G_SOURCE_REMOVE;
}

static void hook_exited(GObject *source, GAsyncResult *res, gpointer data)
{
	struct running *r = data;
	GError *error = NULL;
	if (!g_subprocess_wait_finish(r->proc, res, &error)) {
		g_warning("hook for %s: %s", r->label, error->message);
		g_error_free(error);
	} else {
		double ms = (double)(g_get_monotonic_time() - r->started) / 1000.0;
		if (g_subprocess_get_if_exited(r->proc)) {
			int status = g_subprocess_get_exit_status(r->proc);
			if (status == 0)
				g_info("hook for %s exited 0 after %.1f ms", r->label, ms);
			else
				g_warning("hook for %s exited with status %d", r->label, status);
		} else if (g_subprocess_get_if_signaled(r->proc)) {
			g_warning("hook for %s killed by signal %d", r->label,
				g_subprocess_get_term_sig(r->proc));
		}
	}
	if (r->term_timer)
		g_source_remove(r->term_timer);
	if (r->kill_timer)
		g_source_remove(r->kill_timer);
	g_object_unref(r->proc);
	g_free(r->label);
	g_free(r);
	n_running--;
	start_next();
	maybe_idle();
}

static void start_next(void)
{
	while (n_running < hook_max && !g_queue_is_empty(&queue)) {
		struct job *job = g_queue_pop_head(&queue);
		/* stdin is the message (else /dev/null, GIO's default: the
		 * daemon's own stdin may be a terminal). stdout and stderr go
		 * where the daemon's go. */
		GSubprocessLauncher *l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
		if (job->input_fd >= 0) {
			g_subprocess_launcher_take_stdin_fd(l, job->input_fd);
			job->input_fd = -1;
		}
		g_subprocess_launcher_set_environ(l, job->env);
		g_subprocess_launcher_set_child_setup(l, hook_child_setup, NULL, NULL);
		GError *error = NULL;
		const char *argv[] = { "/bin/sh", "-c", job->command, NULL };
		GSubprocess *proc = g_subprocess_launcher_spawnv(l, argv, &error);
		g_object_unref(l);
		if (job->started)
			job->started(job->data);
		if (!proc) {
			g_warning("hook for %s: cannot start /bin/sh: %s", job->label, error->message);
			g_error_free(error);
			job_free(job);
			continue;
		}
		struct running *r = g_new0(struct running, 1);
		r->proc = proc;
		r->label = g_steal_pointer(&job->label);
		r->started = g_get_monotonic_time();
		if (hook_timeout)
			r->term_timer = g_timeout_add_seconds(hook_timeout, on_term, r);
		n_running++;
		g_subprocess_wait_async(proc, NULL, hook_exited, r);
		job_free(job);
	}
}

void mb_hook_run(const char *command, const struct mb_message *msg, const char *rule,
	mb_hook_started_fn started, void *data)
{
	struct job *job = g_new0(struct job, 1);
	job->started = started;
	job->data = data;
	job->command = g_strdup(command);
	job->env = mb_hook_environ(NULL, msg, rule);
	job->label = g_strdup_printf("%s/%s uid %u", msg->account, msg->mailbox, msg->uid);
	job->input_fd = input_file(msg->raw ? msg->raw : msg->header, job->label);
	g_queue_push_tail(&queue, job);
	start_next();
}
