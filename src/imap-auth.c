/* Sign-in: the choice of mechanism, LOGIN and AUTHENTICATE on the wire,
 * the continuations they ask for, and their tagged answer. Moved out of
 * imap.c as it was; see imap-auth.h for what each entry point does. */
#define G_LOG_DOMAIN "mailbell"

#include "imap-auth.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "imap-parser.h"
#include "imap-session.h"
#include "log.h"
#include "net.h"
#include "sasl.h"

const char *mb_imap_auth_mech_name(const struct mb_imap_session *s)
{
	switch (s->mech) {
	case MECH_PLAIN:
		return "PLAIN";
	case MECH_LOGIN:
		return "LOGIN";
	case MECH_XOAUTH2:
		return "XOAUTH2";
	case MECH_OAUTHBEARER:
		return "OAUTHBEARER";
	case MECH_NONE:
		break;
	}
	return "none";
}

static enum auth_mech choose_mech(struct mb_imap_session *s, const char **why_r)
{
	const struct mb_account_config *a = s->account;
	bool oauth = a->oauth_token_cmd != NULL;
	switch (a->auth) {
	case MB_AUTH_PLAIN:
		if (has_cap(s, "AUTH=PLAIN"))
			return MECH_PLAIN;
		*why_r = "server does not offer AUTH=PLAIN";
		return MECH_NONE;
	case MB_AUTH_LOGIN:
		if (!has_cap(s, "LOGINDISABLED"))
			return MECH_LOGIN;
		*why_r = "server has LOGINDISABLED";
		return MECH_NONE;
	case MB_AUTH_XOAUTH2:
		if (has_cap(s, "AUTH=XOAUTH2"))
			return MECH_XOAUTH2;
		*why_r = "server does not offer AUTH=XOAUTH2";
		return MECH_NONE;
	case MB_AUTH_OAUTHBEARER:
		if (has_cap(s, "AUTH=OAUTHBEARER"))
			return MECH_OAUTHBEARER;
		*why_r = "server does not offer AUTH=OAUTHBEARER";
		return MECH_NONE;
	case MB_AUTH_AUTO:
		break;
	}
	if (oauth) {
		if (has_cap(s, "AUTH=OAUTHBEARER"))
			return MECH_OAUTHBEARER;
		if (has_cap(s, "AUTH=XOAUTH2"))
			return MECH_XOAUTH2;
		*why_r = "server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2";
		return MECH_NONE;
	}
	if (has_cap(s, "AUTH=PLAIN"))
		return MECH_PLAIN;
	if (!has_cap(s, "LOGINDISABLED"))
		return MECH_LOGIN;
	*why_r = "server has LOGINDISABLED and offers no AUTH=PLAIN";
	return MECH_NONE;
}

static void send_login(struct mb_imap_session *s)
{
	bool literal_plus = has_cap(s, "LITERAL+");
	GString *line = g_string_new(NULL);
	struct cmd *c = g_new0(struct cmd, 1);
	g_queue_init(&c->parts);
	g_snprintf(c->tag, sizeof c->tag, "a%u", ++s->next_tag);
	c->kind = CMD_LOGIN;
	g_string_append_printf(line, "%s LOGIN ", c->tag);

	/* Each argument may need a literal; a synchronizing literal makes
	 * the rest of the command wait for a continuation. */
	const char *args[2] = { s->account->user, s->secret };
	GString *segment = line;
	for (int i = 0; i < 2; i++) {
		enum mb_imap_astring_kind kind;
		size_t enc_len;
		char *enc = mb_imap_astring_encode(args[i], strlen(args[i]), literal_plus,
			&kind, &enc_len);
		if (i == 1)
			g_string_append_c(segment, ' ');
		if (kind == MB_IMAP_ASTRING_LITERAL && !literal_plus) {
			const char *body = strstr(enc, "\r\n") + 2;
			g_string_append_len(segment, enc, body - enc);
			if (segment != line)
				g_queue_push_tail(&c->parts, g_string_free(segment, FALSE));
			segment = g_string_new(NULL);
			g_string_append_len(segment, body, enc_len - (size_t)(body - enc));
		} else {
			g_string_append_len(segment, enc, enc_len);
		}
		explicit_bzero(enc, enc_len);
		free(enc);
	}
	g_string_append(segment, "\r\n");
	if (segment != line)
		g_queue_push_tail(&c->parts, g_string_free(segment, FALSE));
	g_queue_push_tail(&s->cmds, c);
	/* The first segment holds the password unless it went in a literal;
	 * the trace redacts LOGIN arguments either way. */
	if (mb_log_tracing())
		mb_log_trace(s->name, "C", line->str, line->len - 2);
	mb_net_write(s->net, line->str, line->len);
	explicit_bzero(line->str, line->len);
	g_string_free(line, TRUE);
	arm_deadline(s, s->timeout);
}

static void send_authenticate(struct mb_imap_session *s)
{
	const struct mb_account_config *a = s->account;
	const char *name = NULL;
	char *ir = NULL;
	switch (s->mech) {
	case MECH_PLAIN:
		name = "PLAIN";
		ir = mb_sasl_plain(a->user, s->secret);
		break;
	case MECH_XOAUTH2:
		name = "XOAUTH2";
		ir = mb_sasl_xoauth2(a->user, s->secret);
		break;
	case MECH_OAUTHBEARER:
		name = "OAUTHBEARER";
		ir = mb_sasl_oauthbearer(a->user, a->host, a->port, s->secret);
		break;
	default:
		g_assert_not_reached();
	}
	struct cmd *c;
	if (has_cap(s, "SASL-IR")) {
		/* RFC 4959: the initial response rides on the command line. */
		char *text = g_strdup_printf("AUTHENTICATE %s %s", name, ir);
		c = send_command(s, CMD_AUTHENTICATE, text);
		explicit_bzero(text, strlen(text));
		g_free(text);
		explicit_bzero(ir, strlen(ir));
		g_free(ir);
	} else {
		char *text = g_strdup_printf("AUTHENTICATE %s", name);
		c = send_command(s, CMD_AUTHENTICATE, text);
		g_free(text);
		c->sasl_response = ir;
	}
}

void mb_imap_auth_start(struct mb_imap_session *s)
{
	/* Never a credential over plaintext unless the user asked for it. */
	if (!mb_net_is_tls(s->net) && s->account->tls != MB_TLS_NONE) {
		close_session(s, MB_IMAP_CLOSE_REFUSED, "refusing to sign in without TLS");
		return;
	}
	const char *why = NULL;
	s->mech = choose_mech(s, &why);
	if (s->mech == MECH_NONE) {
		close_session(s, MB_IMAP_CLOSE_REFUSED, "cannot sign in: %s", why);
		return;
	}
	set_state(s, S_AUTHENTICATE);
	if (s->mech == MECH_LOGIN)
		send_login(s);
	else
		send_authenticate(s);
}

bool mb_imap_auth_continuation(struct mb_imap_session *s, struct cmd *c,
	const struct mb_imap_response *r)
{
	if (c->kind == CMD_LOGIN && !g_queue_is_empty(&c->parts)) {
		char *part = g_queue_pop_head(&c->parts);
		send_raw(s, part, strlen(part), true);
		explicit_bzero(part, strlen(part));
		g_free(part);
		return true;
	}
	if (c->kind == CMD_AUTHENTICATE) {
		if (c->sasl_response) {
			char *line = g_strdup_printf("%s\r\n", c->sasl_response);
			send_raw(s, line, strlen(line), true);
			explicit_bzero(line, strlen(line));
			g_free(line);
			explicit_bzero(c->sasl_response, strlen(c->sasl_response));
			g_clear_pointer(&c->sasl_response, g_free);
			return true;
		}
		if (!c->sasl_error_answered
		    && (s->mech == MECH_XOAUTH2 || s->mech == MECH_OAUTHBEARER)) {
			/* R18/R19: an error challenge; answer so the server
			 * sends its tagged NO (RFC 7628 3.2.3). */
			char *status = mb_sasl_oauth_error_status(r->text);
			g_warning("%s: OAuth2 token refused by the server (status %s)", s->name,
				status ? status : "unknown");
			g_free(status);
			c->sasl_error_answered = true;
			if (s->mech == MECH_XOAUTH2)
				send_raw(s, "\r\n", 2, false);
			else
				send_raw(s, "AQ==\r\n", 6, false);
			return true;
		}
		/* Any other challenge: cancel the exchange (RFC 3501 6.2.2). */
		send_raw(s, "*\r\n", 3, false);
		return true;
	}
	return false;
}

static bool is_auth_failure(const struct mb_imap_response *r)
{
	if (!r->code)
		return true;
	/* RFC 5530: these say "try again later", not "wrong password". */
	return strcmp(r->code, "UNAVAILABLE") != 0 && strcmp(r->code, "SERVERBUG") != 0
		&& strcmp(r->code, "INUSE") != 0 && strcmp(r->code, "LIMIT") != 0;
}

void mb_imap_auth_done(struct mb_imap_session *s, const struct mb_imap_response *r,
	const char *text)
{
	bool ok = r->status == MB_IMAP_STATUS_OK;
	if (ok) {
		if (r->code && strcmp(r->code, "CAPABILITY") == 0)
			after_auth(s);
		else
			send_capability(s, S_POSTAUTH_CAPABILITY);
	} else if (r->status == MB_IMAP_STATUS_NO && !is_auth_failure(r)) {
		close_session(s, MB_IMAP_CLOSE_ERROR, "sign-in refused for now: %s", text);
	} else {
		close_session(s, MB_IMAP_CLOSE_AUTH_FAILED, "sign-in failed: %s", text);
	}
}
