/* One configured account: one IMAP session per watched mailbox, each
 * supervised (reconnect with exponential backoff and jitter, credential
 * commands run afresh for every sign-in), new messages turned into
 * notifications and hook runs through the rules, progress saved to the
 * state store after every batch. */
#ifndef MB_ACCOUNT_H
#define MB_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "config.h"
#include "state.h"

struct mb_account;

/* Creates an account. config, account and state are borrowed and must
 * outlive it. Nothing happens until mb_account_start(). */
struct mb_account *mb_account_create(const struct mb_config *config,
	const struct mb_account_config *account, struct mb_state *state);

/* Starts connecting every mailbox. */
void mb_account_start(struct mb_account *acct);

/* Logs out of every session; done(data) runs once all are closed (at most a
 * few seconds later, or from within this call when nothing was connected). */
void mb_account_stop(struct mb_account *acct, void (*done)(void *data), void *data);

/* The network came up or changed (available) or went away: connections are
 * probed with NOOP and reconnects waiting on backoff start at once; while it
 * is down, no reconnect is attempted. */
void mb_account_network_changed(struct mb_account *acct, bool available);

/* The machine resumed from suspend: every connection is assumed dead and is
 * replaced at once. */
void mb_account_resumed(struct mb_account *acct);

enum mb_account_fetch_status {
	MB_ACCOUNT_FETCH_OK,
	MB_ACCOUNT_FETCH_NOT_FOUND,   /* no such mailbox, or no such UID in it */
	MB_ACCOUNT_FETCH_AUTH_FAILED, /* the server rejected the credentials */
	MB_ACCOUNT_FETCH_FAILED,      /* connect, TLS, credential command, protocol */
};

/* Called once by mb_account_fetch(): raw is the whole message (borrowed,
 * valid during the call) when status is MB_ACCOUNT_FETCH_OK, else NULL and
 * error is a sentence naming the account. */
typedef void (*mb_account_fetch_fn)(GBytes *raw, enum mb_account_fetch_status status,
	const char *error, void *data);

/* "mailbell fetch": instead of watching, signs in once (running
 * password_cmd / oauth_token_cmd as for watching), EXAMINEs mailbox (UTF-8;
 * read-only, RFC 3501 6.3.2), sends UID FETCH uid (BODY.PEEK[]) so no flag
 * changes, logs out and calls done. Never retries; reads and writes no
 * state. Call instead of mb_account_start(); the state given to
 * mb_account_create() may be NULL. */
void mb_account_fetch(struct mb_account *acct, const char *mailbox, uint32_t uid,
	mb_account_fetch_fn done, void *data);

/* What a connection is doing, for mailbell ctl status. */
enum mb_watch_state {
	MB_WATCH_CONNECTING,      /* connecting, TLS, signing in, catching up */
	MB_WATCH_IDLE,            /* in IDLE (or NOTIFY) waiting for mail */
	MB_WATCH_POLLING,         /* no usable IDLE: NOOP every poll_interval */
	MB_WATCH_BACKOFF,         /* waiting to reconnect after a failure */
	MB_WATCH_WAITING_NETWORK, /* waiting for the network to come back */
	MB_WATCH_AUTH_FAILED,     /* stopped after rejected sign-ins */
	MB_WATCH_STOPPED,         /* logged out */
};

/* fn(data) runs whenever some account's state, or a mailbox's unseen count,
 * changes (for the StatusChanged D-Bus signal). One callback for all
 * accounts; NULL removes it. */
void mb_account_set_changed_callback(void (*fn)(void *data), void *data);

/* The account's name (borrowed). */
const char *mb_account_name(const struct mb_account *acct);

/* The account's settings (borrowed from the config it was given last). */
const struct mb_account_config *mb_account_get_config(const struct mb_account *acct);

/* Appends the account's status as one JSON object (the "accounts" items
 * documented in mailbell(1), CONTROL): name, state, since, retry_at,
 * last_error, quiet, quiet_until, held, connections[], mailboxes[]. Times
 * are Unix seconds or null. */
void mb_account_status_json(const struct mb_account *acct, GString *out);

/* mailbell ctl reconnect: every connection is replaced at once, and an
 * account stopped after rejected sign-ins tries again. */
void mb_account_reconnect(struct mb_account *acct);

/* After a reload: config and account (borrowed, must outlive acct) replace
 * the ones it had; rules, hooks and notification settings apply to the next
 * message. With reconnect (the connection settings changed), every
 * connection is dropped and made anew; else the connections stay. What was
 * reported and queued is kept either way. */
void mb_account_reconfigure(struct mb_account *acct, const struct mb_config *config,
	const struct mb_account_config *account, bool reconnect);

/* mailbell --once: starts the account like mb_account_start(), but a
 * connection that fails before it caught up is not retried; done(ok, data)
 * runs once every connection has caught up (reported what arrived since the
 * stored state) or failed; ok is false when one failed. Stop the account
 * afterwards with mb_account_stop(). */
typedef void (*mb_account_once_fn)(bool ok, void *data);
void mb_account_once(struct mb_account *acct, mb_account_once_fn done, void *data);

enum mb_account_check_status {
	MB_ACCOUNT_CHECK_OK,
	MB_ACCOUNT_CHECK_MAILBOX_MISSING, /* signed in; a configured name matches nothing */
	MB_ACCOUNT_CHECK_CONNECT_FAILED,  /* DNS, connect, TLS, certificate, credential command */
	MB_ACCOUNT_CHECK_AUTH_FAILED,     /* the server rejected the credentials */
};

/* mailbell --check: connects once (TLS verified as always), signs in
 * (running password_cmd / oauth_token_cmd), lists every mailbox (LIST "" "*",
 * RFC 3501 6.3.8), compares the configured names, logs out. Changes no
 * state, notifies nothing, runs no hook. done(status, line, data) runs once;
 * line (borrowed) is one human-readable line starting with the account
 * name: what was found, or what failed, with a hint for a " #" comment left
 * in user or password. Call instead of mb_account_start(); the state given
 * to mb_account_create() may be NULL. */
typedef void (*mb_account_check_fn)(enum mb_account_check_status status, const char *line, void *data);
void mb_account_check(struct mb_account *acct, mb_account_check_fn done, void *data);

/* Called once by mb_account_mark_seen(): ok, or error (a sentence naming
 * the account; borrowed). */
typedef void (*mb_account_store_fn)(bool ok, const char *error, void *data);

/* The "Mark as read" action: on a short connection of its own (never a
 * watching one), signs in, SELECTs mailbox (UTF-8), checks that its
 * UIDVALIDITY is still uidvalidity (0: any), sends UID STORE uids
 * +FLAGS.SILENT (\Seen) (RFC 3501 6.4.6) and logs out: the only change
 * mailbell ever makes on a server. Never retries. Call on an account made
 * for this alone (mb_account_create() with a NULL state), instead of
 * mb_account_start(); uids (n, ascending) are copied. */
void mb_account_mark_seen(struct mb_account *acct, const char *mailbox, uint32_t uidvalidity,
	const uint32_t *uids, size_t n, mb_account_store_fn done, void *data);

/* Frees the account, closing sessions without LOGOUT. NULL is a no-op. */
void mb_account_destroy(struct mb_account *acct);

#endif
