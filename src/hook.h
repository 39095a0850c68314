/* Hook commands: "/bin/sh -c COMMAND" where COMMAND comes only from the
 * user's config; the message reaches the hook only through MAILBELL_*
 * environment variables and its standard input (the raw message when it was
 * downloaded in full, else its header block), never through the command
 * line. Standard input is an unlinked temporary file (under $XDG_RUNTIME_DIR,
 * else $TMPDIR), written when the hook is queued: a hook reads it when it
 * likes, or never, and mailbell never waits on it. Hooks run
 * asynchronously (through spawn.h), a few at a time, in the order queued;
 * one that outlives the timeout gets SIGTERM to its process group, then
 * SIGKILL to the group five seconds later, even if the shell has exited. */
#ifndef MB_HOOK_H
#define MB_HOOK_H

#include "message.h"

/* Sets the limits: timeout in seconds (0: none), max_running hooks at once,
 * and config, the config file's path, passed to hooks as MAILBELL_CONFIG
 * (made absolute; NULL: not set) so that "mailbell fetch" in a hook reads
 * the same file. */
void mb_hook_init(unsigned timeout, unsigned max_running, const char *config);

/* Called once when a queued hook has been started (or failed to start,
 * which is logged): from then on the message is the hook's business. */
typedef void (*mb_hook_started_fn)(void *data);

/* Queues command for msg. rule is the matching rule's name or NULL. Both
 * strings and the environment are copied, msg->raw or msg->header is written
 * to the input file; nothing is kept borrowed. started (may be NULL)
 * runs with data when the hook starts, possibly from within this call. A hook
 * that cannot start or fails is logged; it never stops the daemon. */
void mb_hook_run(const char *command, const struct mb_message *msg, const char *rule,
	mb_hook_started_fn started, void *data);


/* Number of hooks running or queued. */
unsigned mb_hook_pending(void);

/* Runs fn(data) once no hook is running or queued: at once when none is,
 * else when the last one exits (mailbell --once). Replaces an earlier
 * request. */
void mb_hook_when_idle(void (*fn)(void *data), void *data);

/* Builds the environment for msg on top of base (NULL: the process
 * environment without its MAILBELL_* variables, mb_spawn_environ()).
 * Returns a NULL-terminated array (g_strfreev). Exposed for tests. */
char **mb_hook_environ(char **base, const struct mb_message *msg, const char *rule);

#endif
