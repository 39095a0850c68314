/* One configured account: one IMAP session per watched mailbox, each
 * supervised (reconnect with exponential backoff and jitter, credential
 * commands run afresh for every sign-in), new messages turned into
 * notifications and hook runs through the rules, progress saved to the
 * state store after every batch. */
#ifndef MB_ACCOUNT_H
#define MB_ACCOUNT_H

#include <stdbool.h>
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

/* Frees the account, closing sessions without LOGOUT. NULL is a no-op. */
void mb_account_destroy(struct mb_account *acct);

#endif
