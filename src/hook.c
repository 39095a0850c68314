#define G_LOG_DOMAIN "mailbell"
#define _GNU_SOURCE /* memfd_create */

#include "hook.h"

#include <sys/mman.h>
#include "spawn.h"
#include "text.h"

#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <glib/gstdio.h>

struct job {
	char *command;
	char **env;
	char *label; /* "work/INBOX uid 42" */
	mb_hook_started_fn started;
	void *data;
	int input_fd;   /* standard input: a memfd (or unlinked file) holding
	                 * the raw message or its header, or -1 for /dev/null */
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
	char **env = base ? g_strdupv(base) : mb_spawn_environ();
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
 * stopped meanwhile; mailbell never waits on it. A memfd (in memory, as the
 * tmpfs under $XDG_RUNTIME_DIR it replaces was): no name, nothing to create
 * or unlink in a directory; a queued message holds at most its download
 * limit or header. Only the descriptor holds it. */
static int input_file(GBytes *input, const char *label)
{
	/* An anonymous file in memory (memfd): no name anyone could open, no
	 * disk, no directory to create it in; else an unlinked temporary file
	 * in the runtime directory. */
	int fd = memfd_create("mailbell-hook", MFD_CLOEXEC);
	if (fd < 0) {
		const char *dir = g_get_user_runtime_dir();
		if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR))
			dir = g_get_tmp_dir();
		char *path = g_build_filename(dir, "mailbell-hook-XXXXXX", NULL);
		fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0) {
			g_warning("hook for %s gets no standard input: cannot create a file in %s: %s",
				label, dir, g_strerror(errno));
			g_free(path);
			return -1;
		}
		unlink(path);
		g_free(path);
	}
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

static void hook_exited(const struct mb_spawn_result *r, void *data)
{
	char *label = data; /* "hook for work/INBOX uid 42" */
	if (r->error)
		g_warning("%s: %s", label, r->error);
	else if (r->exited && r->status == 0)
		g_info("%s exited 0 after %.1f ms", label, r->ms);
	else if (r->exited)
		g_warning("%s exited with status %d", label, r->status);
	else if (r->signal)
		g_warning("%s killed by signal %d", label, r->signal);
	g_free(label);
	n_running--;
	start_next();
	maybe_idle();
}

static void start_next(void)
{
	while (n_running < hook_max && !g_queue_is_empty(&queue)) {
		struct job *job = g_queue_pop_head(&queue);
		char *label = g_strdup_printf("hook for %s", job->label);
		/* stdin is the message (else /dev/null: the daemon's own stdin
		 * may be a terminal). stdout and stderr go where the daemon's
		 * go. */
		struct mb_spawn_params p = {
			.command = job->command,
			.env = job->env,
			.stdin_fd = job->input_fd,
			.timeout = hook_timeout,
			.label = label,
		};
		job->input_fd = -1; /* taken over */
		GError *error = NULL;
		struct mb_spawn *sp = mb_spawn_start(&p, hook_exited, label, &error);
		if (job->started)
			job->started(job->data);
		if (!sp) {
			g_warning("%s: cannot start /bin/sh: %s", label, error->message);
			g_error_free(error);
			g_free(label);
		} else {
			n_running++;
		}
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
