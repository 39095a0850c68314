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

/* Frees the account, closing sessions without LOGOUT. NULL is a no-op. */
void mb_account_destroy(struct mb_account *acct);

#endif
