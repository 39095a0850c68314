/* Sign-in of an IMAP session: LOGIN (RFC 3501 6.2.3) or AUTHENTICATE (RFC
 * 3501 6.2.2) with PLAIN (RFC 4616), XOAUTH2 (Google, Microsoft) or
 * OAUTHBEARER (RFC 7628), the initial response on the command line when the
 * server has SASL-IR (RFC 4959), else after the first continuation.
 *
 * Private to the session: only imap.c calls these, with the session's fields
 * and helpers from imap-session.h. Every function may close the session
 * (close_session()); the caller checks s->state before going on.
 *
 * Secrets: s->secret is read, never kept. The buffers it is copied into (the
 * command line, LOGIN literal parts, a held-back initial response) are wiped
 * with explicit_bzero() once written or when the command is freed, and the
 * trace shows none of it: LOGIN and AUTHENTICATE lines go through the trace's
 * redaction, continuation answers that hold a secret are traced as "***". */
#ifndef MB_IMAP_AUTH_H
#define MB_IMAP_AUTH_H

#include <stdbool.h>
#include "imap-parser.h"

struct mb_imap_session;
struct cmd;

/* Signs in once the capabilities are known: picks the mechanism from the
 * account's auth setting and the capabilities (auto: OAUTHBEARER then
 * XOAUTH2 with an oauth_token_cmd, else PLAIN then LOGIN), sets s->mech,
 * enters S_AUTHENTICATE and sends LOGIN or AUTHENTICATE. Closes with
 * MB_IMAP_CLOSE_REFUSED instead, sending nothing, without TLS on an account
 * whose tls is not none ("refusing to sign in without TLS") or when no
 * allowed mechanism is offered ("cannot sign in: ..."). */
void mb_imap_auth_start(struct mb_imap_session *s);

/* Answers the continuation request r ("+", RFC 3501 7.5) to c, the newest
 * command, if c is LOGIN or AUTHENTICATE: the next LOGIN literal; the
 * initial response held back without SASL-IR; for XOAUTH2 and OAUTHBEARER
 * an error challenge (R18/R19), logged once as a warning with its status
 * and answered with an empty response or ^A so the server sends its tagged
 * NO (RFC 7628 3.2.3); any other challenge with "*", cancelling the exchange
 * (RFC 3501 6.2.2). Wipes and frees each secret part it sends (c keeps
 * ownership of the rest). Returns false, sending nothing, when the
 * continuation is not sign-in's: the caller calls it unexpected. */
bool mb_imap_auth_continuation(struct mb_imap_session *s, struct cmd *c,
	const struct mb_imap_response *r);

/* Handles the tagged answer r to LOGIN or AUTHENTICATE; text is r->text
 * sanitized for the log (borrowed). OK: after_auth(), asking CAPABILITY
 * first unless the OK carried a CAPABILITY code. NO with an RFC 5530 code
 * meaning "later" (UNAVAILABLE, SERVERBUG, INUSE, LIMIT): closes with
 * MB_IMAP_CLOSE_ERROR ("sign-in refused for now: ..."), so the account
 * retries with backoff. Any other NO, and BAD: closes with
 * MB_IMAP_CLOSE_AUTH_FAILED ("sign-in failed: ..."). */
void mb_imap_auth_done(struct mb_imap_session *s, const struct mb_imap_response *r,
	const char *text);

/* The mechanism chosen by mb_imap_auth_start(): "PLAIN", "LOGIN", "XOAUTH2",
 * "OAUTHBEARER", or "none" before (static strings). */
const char *mb_imap_auth_mech_name(const struct mb_imap_session *s);

#endif
