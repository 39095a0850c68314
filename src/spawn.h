/* Every child process mailbell starts: hooks, sync hooks, open_cmd and the
 * credential commands (password_cmd, oauth_token_cmd). Each runs as
 * "/bin/sh -c COMMAND" (COMMAND comes only from the user's config) and leads
 * a process group of its own, so that a deadline ends everything it started,
 * not only the shell. One that outlives its timeout gets SIGTERM (to the
 * group), and the group gets SIGKILL MB_SPAWN_KILL_GRACE seconds later
 * whatever the shell did meanwhile: a script that traps TERM, or a child the
 * shell left behind when it exited, is killed all the same. A process group
 * id is not reused while any member of the group lives, so the late SIGKILL
 * reaches only what the command started. Built on GSubprocess. */
#ifndef MB_SPAWN_H
#define MB_SPAWN_H

#include <stdbool.h>
#include <glib.h>

/* Seconds between the SIGTERM at the timeout and the SIGKILL. */
#define MB_SPAWN_KILL_GRACE 5
/* The most octets kept of a captured stdout or stderr; the rest is read
 * and dropped. */
#define MB_SPAWN_CAPTURE_MAX (64u * 1024)

struct mb_spawn;

struct mb_spawn_params {
	const char *command;  /* run by /bin/sh -c; copied */
	char **env;           /* the whole environment (NULL-terminated,
	                       * copied); NULL: the daemon's own */
	int stdin_fd;         /* standard input, taken over (closed by the
	                       * module, also on failure); -1: /dev/null */
	bool capture;         /* stdout and stderr are read (at most
	                       * MB_SPAWN_CAPTURE_MAX each) and handed to done;
	                       * false: they go where the daemon's go */
	bool secret_output;   /* capture holds a secret: the stdout buffer is
	                       * wiped (explicit_bzero) after done returns */
	unsigned timeout;     /* seconds before SIGTERM to the group; 0: none */
	const char *label;    /* for log lines, e.g. "hook for work/INBOX uid
	                       * 42", "sync hook for work"; copied */
};

struct mb_spawn_result {
	bool exited;          /* the shell exited (status is valid) */
	int status;           /* exit status when exited */
	int signal;           /* the signal that ended the shell, else 0 */
	bool timed_out;       /* SIGTERM was sent at the timeout */
	double ms;            /* milliseconds from start to the shell's end */
	/* capture only, else NULL: what the command wrote (borrowed, valid
	 * during the callback). With a timeout, what was read until then. */
	GBytes *out;
	GBytes *err;
	const char *error;    /* a failure to wait or read (sanitized, borrowed),
	                       * else NULL; exited and signal are then false/0 */
};

/* Called once, from the main loop, when the shell has ended (with capture:
 * and its stdout and stderr reached end of file, or the timeout killed the
 * group); after a timeout, not before the whole group is gone or got its
 * SIGKILL, so that a command counts as running until then. The mb_spawn is
 * gone when it returns. */
typedef void (*mb_spawn_done_fn)(const struct mb_spawn_result *result, void *data);

/* Starts p->command. Returns the running child, or NULL with *error set
 * when /bin/sh cannot be started (p->stdin_fd is closed either way; done
 * never runs then). The timeout's SIGTERM and SIGKILL are logged with
 * p->label at warning level; everything else is the caller's to log. */
struct mb_spawn *mb_spawn_start(const struct mb_spawn_params *p, mb_spawn_done_fn done,
	void *data, GError **error);

/* Sends SIGKILL to the child's process group at once and forgets it: done
 * never runs. For a caller that no longer wants the result (an account
 * removed, a credential command given up on). NULL is a no-op. */
void mb_spawn_cancel(struct mb_spawn *sp);

/* At exit: groups that got SIGTERM at their timeout and still wait for the
 * SIGKILL get it now, so none outlives mailbell. Commands that have not
 * timed out are left running (a hook may outlive mailbell on purpose). */
void mb_spawn_kill_pending(void);

/* The daemon's environment without its own MAILBELL_* variables, the base
 * of every command's: a hook sees only the MAILBELL_* values mailbell sets
 * for it. NULL-terminated, g_strfreev(). */
char **mb_spawn_environ(void);

/* Identifier of the process group (the shell's pid), for tests and logs. */
int mb_spawn_pgid(const struct mb_spawn *sp);

#endif
