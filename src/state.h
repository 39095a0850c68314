/* Per account and mailbox: UIDVALIDITY, highest UID reported and
 * HIGHESTMODSEQ (RFC 7162), kept on disk so a restart neither misses nor
 * repeats a message. One key file per account under the state directory,
 * written atomically (temporary file, rename; fsync only when durable). */
#ifndef MB_STATE_H
#define MB_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

struct mb_state;

struct mb_mailbox_state {
	uint32_t uidvalidity;   /* 0: nothing known */
	uint32_t last_uid;      /* highest UID fetched and notified */
	uint32_t hook_uid;      /* every UID up to this one had its hook
	                         * started (<= last_uid); the next fetch starts
	                         * after it so no hook is lost to a crash */
	uint32_t notified_uid;  /* every UID up to this one had its notification
	                         * taken by the notification service (or held,
	                         * or none was due) (<= last_uid); one still
	                         * queued when mailbell died is shown after
	                         * the next start */
	uint64_t highestmodseq; /* 0: unknown or no CONDSTORE */
};

/* Opens (creating with mode 0700) the state directory dir, or the default
 * $XDG_STATE_HOME/mailbell (~/.local/state/mailbell) when dir is NULL.
 * Returns NULL and sets *error when the directory cannot be created. Free
 * with mb_state_destroy(). */
struct mb_state *mb_state_open(const char *dir, GError **error);

/* Frees state, first flushing baselines not yet made durable
 * (mb_state_set_baseline()). NULL is a no-op. */
void mb_state_destroy(struct mb_state *state);

/* Looks up account/mailbox. Returns false (and zeroes *out) when nothing is
 * stored. A corrupt or unreadable file is logged once as a warning and
 * treated as empty. */
bool mb_state_get(struct mb_state *state, const char *account, const char *mailbox,
	struct mb_mailbox_state *out);

/* Stores account/mailbox and rewrites the account's file atomically
 * (temporary file, rename), with fsync when durable: survives a crash of
 * mailbell either way, a power loss only when durable. Returns false and
 * sets *error when the file cannot be written (the in-memory value is kept,
 * so the next write may succeed). */
bool mb_state_set(struct mb_state *state, const char *account, const char *mailbox,
	const struct mb_mailbox_state *value, bool durable, GError **error);

/* Stores a first baseline of account/mailbox: nothing was stored for it
 * before, and no mail has been reported under it. Written atomically like
 * mb_state_set() but without fsync; one flush of the state directory's file
 * system (syncfs, on a worker thread) a second later makes every baseline
 * written meanwhile durable, and mb_state_destroy() flushes one still due.
 * Until then a power loss may lose the baseline, so that the next start
 * takes a new one (as a first start does): nothing reported is lost or
 * repeated. Returns false and sets *error when the file cannot be written
 * (as mb_state_set()). Needs the main loop for the flush. */
bool mb_state_set_baseline(struct mb_state *state, const char *account, const char *mailbox,
	const struct mb_mailbox_state *value, GError **error);

/* Takes an exclusive lock on the state directory (a "lock" file in it) for
 * the life of the process: two mailbells with one state directory would run
 * every hook twice and overwrite each other's state. Returns false and sets
 * *error when another process holds it or the directory is not writable. */
bool mb_state_lock(struct mb_state *state, GError **error);

/* The notification pause ("mailbell ctl pause"), kept in the state
 * directory's pause.ini so that it survives a restart. Returns true when a
 * pause is stored: *until_r gets its end (Unix time, seconds; 0: until
 * resumed) and held (account name -> count of notifications held, as
 * GUINT_TO_POINTER; may be NULL; keys newly allocated, the table must free
 * them) is filled. A broken file is logged and counts as no pause. */
bool mb_state_get_pause(struct mb_state *state, gint64 *until_r, GHashTable *held);

/* Stores the pause (paused false removes the file). held as above, may be
 * NULL. Written atomically (no fsync: a lost pause after a power loss is
 * harmless). Returns false and sets *error on failure. */
bool mb_state_set_pause(struct mb_state *state, bool paused, gint64 until, GHashTable *held,
	GError **error);

#endif
