/* Sync hooks (sync_hook, mailbell.ini(5)): a command run once per burst of
 * changes in an account's mailboxes rather than once per message, the way
 * "mbsync work && notmuch new" wants to be run. Changes are noted as they
 * come; a run starts after delay seconds without a further change (at the
 * latest MB_SYNC_MAX_WAIT_FACTOR * delay after the first one), never two at
 * once for one account name (also across a reload that replaced the
 * account), and changes noted while one runs cause exactly one more run
 * after it. Commands go through spawn.h: /bin/sh -c in a process group of
 * their own, standard input /dev/null, SIGTERM at the timeout and SIGKILL of
 * the group 5 s later. The environment carries MAILBELL_ACCOUNT,
 * MAILBELL_MAILBOXES (the changed mailboxes, UTF-8, one per line),
 * MAILBELL_NEW (new messages among the changes), MAILBELL_REASON ("start",
 * "reconnect" or "change") and MAILBELL_CONFIG. */
#ifndef MB_SYNC_H
#define MB_SYNC_H

#include <stdbool.h>

/* A run waits for quiet at most this many times delay after the first
 * change it covers, so that a steady trickle still gets synced. */
#define MB_SYNC_MAX_WAIT_FACTOR 10

/* Why a run happens; a run covering several notes takes the highest: start
 * only when it is the first sign-in since mailbell started for every
 * mailbox it covers (a mailbox added by a reload makes a reconnect of the
 * others no start). */
enum mb_sync_reason {
	MB_SYNC_REASON_CHANGE,    /* new mail, expunges or flag changes */
	MB_SYNC_REASON_START,     /* the first sign-in since mailbell started */
	MB_SYNC_REASON_RECONNECT, /* a connection signed in again */
};

struct mb_sync;

/* Creates the sync hook runner of the account named account (copied).
 * delay and timeout are seconds (timeout 0: none); config is the config
 * file's path for MAILBELL_CONFIG (copied; NULL: not set). */
struct mb_sync *mb_sync_create(const char *account, unsigned delay, unsigned timeout, const char *config);

/* Changes the limits after a reload; a run under way keeps its own. */
void mb_sync_set_limits(struct mb_sync *sync, unsigned delay, unsigned timeout, const char *config);

/* Notes a change in mailbox (UTF-8, copied) to be handled by command (a
 * sync hook from the config, copied): n_new new messages (0 for an expunge,
 * a flag change or a sign-in), for reason. Notes for the same command are
 * run together, one run per command, in the order first noted. */
void mb_sync_note(struct mb_sync *sync, const char *command, const char *mailbox, unsigned n_new,
	enum mb_sync_reason reason);

/* Returns the sync hook command for mailbox now (borrowed), or NULL. */
typedef const char *(*mb_sync_command_fn)(const char *mailbox, void *data);

/* After a reload: every noted mailbox not yet run moves to the command
 * command_for gives it now, or is dropped when that is NULL. A run under
 * way is not touched. */
void mb_sync_retarget(struct mb_sync *sync, mb_sync_command_fn command_for, void *data);

/* Starts what is noted now instead of after the delay (mailbell --once,
 * before the account stops). */
void mb_sync_flush(struct mb_sync *sync);

/* Frees the runner: notes not yet run are dropped (the next start's run
 * covers them); a command already running is left to finish, and its end is
 * still logged. NULL is a no-op. */
void mb_sync_destroy(struct mb_sync *sync);

/* Number of sync hooks running or waiting to run, over all accounts. */
unsigned mb_sync_pending(void);

/* Runs fn(data) once no sync hook is running or waiting: at once when none
 * is. Replaces an earlier request (mailbell --once). */
void mb_sync_when_idle(void (*fn)(void *data), void *data);

/* The name of reason as MAILBELL_REASON spells it. */
const char *mb_sync_reason_name(enum mb_sync_reason reason);

#endif
