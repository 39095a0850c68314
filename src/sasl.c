#define G_LOG_DOMAIN "mailbell"

#include "sasl.h"

#include <stdbool.h>
#include <string.h>

#include "spawn.h"
#include "text.h"

/* The clear-text payloads hold passwords and tokens: wipe them before their
 * memory goes back to the allocator. */
static void
wipe(void *buf, size_t len)
{
	volatile unsigned char *p = buf;
	while (len--)
		*p++ = 0;
}

static char *
encode_and_wipe(GString *payload)
{
	char *out = g_base64_encode((const guchar *)payload->str, payload->len);
	wipe(payload->str, payload->allocated_len);
	g_string_free(payload, TRUE);
	return out;
}

char *
mb_sasl_plain(const char *user, const char *password)
{
	GString *s = g_string_sized_new(strlen(user) + strlen(password) + 2);
	/* empty authorization identity: act as user */
	g_string_append_c(s, '\0');
	g_string_append(s, user);
	g_string_append_c(s, '\0');
	g_string_append(s, password);
	return encode_and_wipe(s);
}

char *
mb_sasl_xoauth2(const char *user, const char *token)
{
	GString *s = g_string_new("user=");
	g_string_append(s, user);
	g_string_append(s, "\001auth=Bearer ");
	g_string_append(s, token);
	g_string_append(s, "\001\001");
	return encode_and_wipe(s);
}

char *
mb_sasl_oauthbearer(const char *user, const char *host, unsigned port, const char *token)
{
	GString *s = g_string_new("n,a=");
	for (const char *c = user; *c; c++) {
		if (*c == ',')
			g_string_append(s, "=2C");
		else if (*c == '=')
			g_string_append(s, "=3D");
		else
			g_string_append_c(s, *c);
	}
	g_string_append_printf(s, ",\001host=%s\001port=%u\001auth=Bearer ", host, port);
	g_string_append(s, token);
	g_string_append(s, "\001\001");
	return encode_and_wipe(s);
}

/* A small JSON reader (RFC 8259), just enough to find one member of the
 * error object; json-glib is not a dependency. Strict: anything malformed
 * makes the whole answer NULL. */
struct json {
	const char *p;
	const char *end;
};

#define JSON_MAX_DEPTH 32

static void
json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int d = g_ascii_xdigit_value(s[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Reads a string at j->p (on the opening quote) and appends its decoded
 * value to out unless out is NULL. */
static bool
json_string(struct json *j, GString *out)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\') {
			if (out)
				g_string_append_c(out, (char)c);
			continue;
		}
		if (j->p >= j->end)
			return false;
		char e = *j->p++;
		gunichar u;
		switch (e) {
		case '"': u = '"'; break;
		case '\\': u = '\\'; break;
		case '/': u = '/'; break;
		case 'b': u = '\b'; break;
		case 'f': u = '\f'; break;
		case 'n': u = '\n'; break;
		case 'r': u = '\r'; break;
		case 't': u = '\t'; break;
		case 'u': {
			if (j->end - j->p < 4)
				return false;
			int hi = hex4(j->p);
			if (hi < 0)
				return false;
			j->p += 4;
			if (hi >= 0xdc00 && hi <= 0xdfff)
				return false;
			if (hi >= 0xd800 && hi <= 0xdbff) {
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
					return false;
				int lo = hex4(j->p + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return false;
				j->p += 6;
				u = 0x10000 + (((gunichar)hi - 0xd800) << 10) + ((gunichar)lo - 0xdc00);
			} else {
				u = (gunichar)hi;
			}
			if (u == 0)
				return false;
			break;
		}
		default:
			return false;
		}
		if (out)
			g_string_append_unichar(out, u);
	}
	return false;
}

static bool
json_digits(struct json *j)
{
	const char *start = j->p;
	while (j->p < j->end && g_ascii_isdigit(*j->p))
		j->p++;
	return j->p > start;
}

static bool
json_number(struct json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!json_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!json_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!json_digits(j))
			return false;
	}
	return true;
}

static bool
json_literal(struct json *j, const char *word)
{
	size_t len = strlen(word);
	if ((size_t)(j->end - j->p) < len || memcmp(j->p, word, len) != 0)
		return false;
	j->p += len;
	return true;
}

static bool json_value(struct json *j, int depth);

/* Reads an object or array at j->p; for an object, the first "status"
 * member's string or number value goes to status (if not NULL). */
static bool
json_container(struct json *j, int depth, char **status)
{
	char close = *j->p == '{' ? '}' : ']';
	bool object = close == '}';
	j->p++;
	json_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		bool want = false;
		if (object) {
			GString *key = g_string_new(NULL);
			bool ok = json_string(j, key);
			want = ok && status && !*status && strcmp(key->str, "status") == 0;
			g_string_free(key, TRUE);
			if (!ok)
				return false;
			json_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return false;
			j->p++;
			json_ws(j);
		}
		if (want && j->p < j->end && *j->p == '"') {
			GString *value = g_string_new(NULL);
			if (!json_string(j, value)) {
				g_string_free(value, TRUE);
				return false;
			}
			*status = g_string_free(value, FALSE);
		} else if (want && j->p < j->end && (*j->p == '-' || g_ascii_isdigit(*j->p))) {
			const char *start = j->p;
			if (!json_number(j))
				return false;
			*status = g_strndup(start, (gsize)(j->p - start));
		} else if (!json_value(j, depth + 1)) {
			return false;
		}
		json_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == close) {
			j->p++;
			return true;
		}
		if (*j->p != ',')
			return false;
		j->p++;
		json_ws(j);
	}
}

static bool
json_value(struct json *j, int depth)
{
	if (depth > JSON_MAX_DEPTH || j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
	case '[':
		return json_container(j, depth, NULL);
	case '"':
		return json_string(j, NULL);
	case 't':
		return json_literal(j, "true");
	case 'f':
		return json_literal(j, "false");
	case 'n':
		return json_literal(j, "null");
	default:
		return json_number(j);
	}
}

char *
mb_sasl_oauth_error_status(const char *challenge_b64)
{
	if (!challenge_b64)
		return NULL;
	/* g_base64_decode() skips characters outside the alphabet; insist on a
	 * clean encoding (white space around it aside) so that garbage is not
	 * read as JSON. */
	char *b64 = g_strstrip(g_strdup(challenge_b64));
	size_t len = strlen(b64);
	bool clean = len > 0 && len % 4 == 0;
	for (size_t i = 0; clean && i < len; i++) {
		char c = b64[i];
		bool pad = c == '=' && i >= len - 2 && (i == len - 1 || b64[len - 1] == '=');
		if (!g_ascii_isalnum(c) && c != '+' && c != '/' && !pad)
			clean = false;
	}
	if (!clean) {
		g_free(b64);
		return NULL;
	}
	gsize size;
	guchar *raw = g_base64_decode(b64, &size);
	g_free(b64);
	char *status = NULL;
	struct json j = { (const char *)raw, (const char *)raw + size };
	if (memchr(raw, '\0', size) || !g_utf8_validate((const char *)raw, (gssize)size, NULL))
		goto out;
	json_ws(&j);
	if (j.p >= j.end || *j.p != '{' || !json_container(&j, 0, &status))
		goto malformed;
	json_ws(&j);
	if (j.p != j.end)
		goto malformed;
	goto out;
malformed:
	g_clear_pointer(&status, g_free);
out:
	g_free(raw);
	return status;
}

/* --- credential commands ------------------------------------------------ */

struct mb_sasl_secret_cmd {
	struct mb_spawn *sp;        /* NULL when it could not start */
	guint idle;                 /* reports that failure from the main loop */
	char *why;
	unsigned timeout;
	mb_sasl_secret_fn done;
	void *data;
};

static void
secret_cmd_free(struct mb_sasl_secret_cmd *cmd)
{
	g_free(cmd->why);
	g_free(cmd);
}

/* The first line of what the command printed, as bytes (a password need not
 * be UTF-8), or NULL when it printed no line or a NUL in it. */
static char *
first_line(GBytes *out)
{
	gsize len = 0;
	const char *p = out ? g_bytes_get_data(out, &len) : NULL;
	if (!p)
		return NULL;
	size_t n = 0;
	while (n < len && p[n] != '\r' && p[n] != '\n')
		n++;
	if (n == 0 || memchr(p, '\0', n))
		return NULL;
	return g_strndup(p, n);
}

static void
on_secret_cmd_done(const struct mb_spawn_result *r, void *data)
{
	struct mb_sasl_secret_cmd *cmd = data;
	char *secret = NULL, *why = NULL;
	if (r->timed_out) {
		why = g_strdup_printf("did not finish within %us", cmd->timeout);
	} else if (r->error) {
		why = g_strdup_printf("failed: %s", r->error);
	} else if (!r->exited || r->status != 0) {
		gsize elen = 0;
		const char *ep = r->err ? g_bytes_get_data(r->err, &elen) : NULL;
		char *e = mb_text_sanitize(ep, elen);
		char *how = r->exited ? g_strdup_printf("exit status %d", r->status)
			: g_strdup_printf("killed by signal %d", r->signal);
		why = g_strdup_printf("failed (%s)%s%s", how, *e ? ": " : "", e);
		g_free(how);
		g_free(e);
	} else if (!(secret = first_line(r->out))) {
		why = g_strdup("printed nothing");
	}
	cmd->sp = NULL;
	cmd->done(secret, why, cmd->data);
	if (secret) {
		wipe(secret, strlen(secret));
		g_free(secret);
	}
	g_free(why);
	secret_cmd_free(cmd);
}

static gboolean
on_secret_cmd_failed(gpointer data)
{
	struct mb_sasl_secret_cmd *cmd = data;
	cmd->idle = 0;
	cmd->done(NULL, cmd->why, cmd->data);
	secret_cmd_free(cmd);
	return G_SOURCE_REMOVE;
}

struct mb_sasl_secret_cmd *
mb_sasl_secret_run(const char *command, unsigned timeout,
	const char *label, mb_sasl_secret_fn done, void *data)
{
	struct mb_sasl_secret_cmd *cmd = g_new0(struct mb_sasl_secret_cmd, 1);
	cmd->timeout = timeout;
	cmd->done = done;
	cmd->data = data;
	/* stdin is /dev/null: it cannot prompt on a terminal */
	struct mb_spawn_params p = {
		.command = command,
		.stdin_fd = -1,
		.capture = true,
		.secret_output = true,
		.timeout = timeout,
		.label = label,
	};
	GError *error = NULL;
	cmd->sp = mb_spawn_start(&p, on_secret_cmd_done, cmd, &error);
	if (!cmd->sp) {
		char *e = mb_text_sanitize(error->message, strlen(error->message));
		cmd->why = g_strdup_printf("cannot start: %s", e);
		g_free(e);
		g_error_free(error);
		cmd->idle = g_idle_add(on_secret_cmd_failed, cmd);
	}
	return cmd;
}

void
mb_sasl_secret_cancel(struct mb_sasl_secret_cmd *cmd)
{
	if (!cmd)
		return;
	g_clear_handle_id(&cmd->idle, g_source_remove);
	mb_spawn_cancel(cmd->sp);
	secret_cmd_free(cmd);
}
