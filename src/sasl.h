/* SASL initial responses (RFC 4422) for the mechanisms mailbell speaks. All
 * results are base64 (RFC 4648) ready to send, NUL-terminated, g_free() them,
 * and hold secrets: callers must not log them. */
#ifndef MB_SASL_H
#define MB_SASL_H

#include <glib.h>

/* PLAIN (RFC 4616): base64("" NUL user NUL password). */
char *mb_sasl_plain(const char *user, const char *password);

/* XOAUTH2 (Google, Microsoft): base64("user=" user ^A "auth=Bearer " token ^A ^A). */
char *mb_sasl_xoauth2(const char *user, const char *token);

/* OAUTHBEARER (RFC 7628 section 3.1): base64("n,a=" user "," ^A "host=" host
 * ^A "port=" port ^A "auth=Bearer " token ^A ^A), with "," and "=" in user
 * escaped as "=2C" and "=3D" (RFC 5801 saslname). */
char *mb_sasl_oauthbearer(const char *user, const char *host, unsigned port, const char *token);

/* Decodes the base64 error challenge a server sends after a failed XOAUTH2 or
 * OAUTHBEARER exchange (RFC 7628 section 3.2.2) and returns the JSON "status"
 * value ("401", "invalid_token", ...) or NULL when absent or malformed. */
char *mb_sasl_oauth_error_status(const char *challenge_b64);

/* Credential commands (password_cmd, oauth_token_cmd), run through spawn.h:
 * the command's first line of standard output is the secret, taken as bytes
 * (a password need not be UTF-8). Run afresh for every sign-in: tokens
 * expire and keyrings lock. */
struct mb_sasl_secret_cmd;

/* Called once with the secret (NUL-terminated; borrowed, wiped from memory
 * after the call returns) or with secret NULL and why, a sanitized sentence
 * without the key name: "failed (exit status 1): no such entry",
 * "printed nothing", "did not finish within 30s", "cannot start: ...". */
typedef void (*mb_sasl_secret_fn)(const char *secret, const char *why, void *data);

/* Starts command under a deadline of timeout seconds: then its process
 * group gets SIGTERM, and SIGKILL MB_SPAWN_KILL_GRACE seconds later (see
 * spawn.h); done runs once the command has ended, "did not finish ...".
 * label names it in those log lines ("work: password_cmd"; copied). Never
 * NULL: a command that cannot even start reports through done from the main
 * loop. The handle is gone once done has run. */
struct mb_sasl_secret_cmd *mb_sasl_secret_run(const char *command, unsigned timeout,
	const char *label, mb_sasl_secret_fn done, void *data);

/* Gives up on a command whose done has not run: its process group gets
 * SIGKILL and done never runs. NULL is a no-op. */
void mb_sasl_secret_cancel(struct mb_sasl_secret_cmd *cmd);

#endif
