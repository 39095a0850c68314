#define G_LOG_DOMAIN "mailbell"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "rules.h"

G_DEFINE_QUARK(mb-config-error-quark, mb_config_error)

/* A config file is a few kilobytes; refuse to slurp a device or a huge file. */
#define MAX_FILE_SIZE (1024 * 1024)

enum section_kind {
	SECTION_NONE,
	SECTION_GENERAL,
	SECTION_ACCOUNT,
	SECTION_RULE,
};

struct parser {
	const char *path;
	struct mb_config *config;
	GError *error;          /* the first error; parsing stops there */

	/* The file, handed to inih one line at a time by read_line(), which is
	 * how we know line numbers: Debian's inih is built without
	 * INI_HANDLER_LINENO. */
	const char *data;
	size_t size;
	size_t pos;
	int lineno;

	/* The section being read. inih never reports section headers (and
	 * truncates their names to 50 bytes), so read_line() tracks them. */
	enum section_kind kind;
	int section_line;
	char *label;            /* "[account work]", for messages */
	struct mb_account_config *account;
	struct mb_rule *rule;
	GHashTable *seen;       /* key -> line it was set on, current section */
	GHashTable *general_seen; /* [general] may appear more than once */
	GHashTable *account_lines; /* account name -> header line */
	GHashTable *rule_lines;    /* rule name -> header line */
	GArray *account_checks; /* struct account_check: rules' account
	                         * conditions, checked once every account is
	                         * known */
	/* inih's line buffer holds 199 characters (INI_MAX_LINE is fixed when
	 * the library is built): a longer "key = value" line reaches inih as
	 * "key =" and its value waits here for handle_pair(). */
	char *long_value;
};

/* A rule's "account =" line, which must match a configured account. */
struct account_check {
	const struct mb_rule *rule;
	int line;
};

struct setting;
typedef bool (*setter)(struct parser *p, const struct setting *s, void *field, const char *value);

/* One row per key: docs (mailbell.ini(5)), defaults below and parsing must
 * agree with this table. */
struct setting {
	enum section_kind section;
	const char *key;
	setter set;
	size_t offset;          /* into mb_config, mb_account_config or mb_rule */
	unsigned min, max;      /* for durations and numbers */
};

static bool fail(struct parser *p, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static bool
fail(struct parser *p, int line, const char *fmt, ...)
{
	if (p->error)
		return false;
	va_list ap;
	va_start(ap, fmt);
	char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (line > 0)
		g_set_error(&p->error, MB_CONFIG_ERROR, MB_CONFIG_ERROR_INVALID, "%s:%d: %s", p->path, line, what);
	else
		g_set_error(&p->error, MB_CONFIG_ERROR, MB_CONFIG_ERROR_INVALID, "%s: %s", p->path, what);
	g_free(what);
	return false;
}

/* Overwrites a secret before freeing it, so it does not linger in freed heap. */
static void
free_secret(char *secret)
{
	if (!secret)
		return;
	volatile char *v = secret;
	while (*v)
		*v++ = '\0';
	g_free(secret);
}

/* inih's notion of white space (isspace() in the C locale). */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool
has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* "10m", "1h", "45s": the largest unit that divides seconds. */
static char *
format_duration(unsigned seconds)
{
	if (seconds != 0 && seconds % 3600 == 0)
		return g_strdup_printf("%uh", seconds / 3600);
	if (seconds != 0 && seconds % 60 == 0)
		return g_strdup_printf("%um", seconds / 60);
	return g_strdup_printf("%us", seconds);
}

bool
mb_duration_parse(const char *text, unsigned *seconds_r)
{
	if (!text || !g_ascii_isdigit(text[0]))
		return false;
	guint64 value = 0;
	const char *s = text;
	for (; g_ascii_isdigit(*s); s++) {
		value = value * 10 + (guint64)(*s - '0');
		if (value > UINT_MAX)
			return false;
	}
	guint64 unit = 1;
	switch (*s) {
	case '\0':
		break;
	case 's':
		s++;
		break;
	case 'm':
		unit = 60;
		s++;
		break;
	case 'h':
		unit = 3600;
		s++;
		break;
	default:
		return false;
	}
	if (*s != '\0')
		return false;
	value *= unit;
	if (value > UINT_MAX)
		return false;
	*seconds_r = (unsigned)value;
	return true;
}

bool
mb_size_parse(const char *text, uint64_t *octets_r)
{
	if (!text || !g_ascii_isdigit(text[0]))
		return false;
	uint64_t value = 0;
	const char *s = text;
	for (; g_ascii_isdigit(*s); s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	unsigned shift = 0;
	switch (g_ascii_toupper(*s)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	}
	if (shift) {
		s++;
		if (g_ascii_toupper(s[0]) == 'I' && g_ascii_toupper(s[1]) == 'B')
			s += 2;
		else if (g_ascii_toupper(s[0]) == 'B')
			s++;
	} else if (g_ascii_toupper(*s) == 'B') {
		s++;
	}
	if (*s != '\0')
		return false;
	if (value > (UINT64_MAX >> shift))
		return false;
	*octets_r = value << shift;
	return true;
}

/* Decimal digits only: no sign, no white space, no overflow. */
static bool
parse_uint(const char *text, unsigned *value_r)
{
	if (!g_ascii_isdigit(text[0]))
		return false;
	guint64 value = 0;
	for (const char *s = text; *s; s++) {
		if (!g_ascii_isdigit(*s))
			return false;
		value = value * 10 + (guint64)(*s - '0');
		if (value > UINT_MAX)
			return false;
	}
	*value_r = (unsigned)value;
	return true;
}

static bool
parse_bool(const char *text, bool *value_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(text, yes[i]) == 0) {
			*value_r = true;
			return true;
		}
		if (g_ascii_strcasecmp(text, no[i]) == 0) {
			*value_r = false;
			return true;
		}
	}
	return false;
}

/* "~" and "~/..." name the home directory; "~user" is not supported. */
static char *
expand_path(const char *value)
{
	if (value[0] == '~' && (value[1] == '\0' || value[1] == '/'))
		return g_build_filename(g_get_home_dir(), value + 1, NULL);
	return g_strdup(value);
}

/* Splits a comma-separated list into trimmed, non-empty items. Returns NULL
 * after reporting an empty item. */
static char **
split_list(struct parser *p, const struct setting *s, const char *value)
{
	/* g_strsplit("") gives no items at all: an empty list, never meant */
	if (value[strspn(value, " \t")] == '\0') {
		fail(p, p->lineno, "empty value for %s", s->key);
		return NULL;
	}
	char **items = g_strsplit(value, ",", -1);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	for (char **item = items; *item; item++) {
		g_strstrip(*item);
		if (**item == '\0') {
			fail(p, p->lineno, "empty item in %s list '%s'", s->key, value);
			g_strfreev(items);
			g_ptr_array_free(out, TRUE);
			return NULL;
		}
		g_ptr_array_add(out, g_strdup(*item));
	}
	g_strfreev(items);
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

static bool
set_duration(struct parser *p, const struct setting *s, void *field, const char *value)
{
	unsigned seconds;
	if (!mb_duration_parse(value, &seconds))
		return fail(p, p->lineno, "bad duration '%s' for %s: use e.g. 45s, 10m, 1h", value, s->key);
	if (seconds < s->min || seconds > s->max) {
		char *min = format_duration(s->min), *max = format_duration(s->max);
		fail(p, p->lineno, "%s must be between %s and %s", s->key, min, max);
		g_free(min);
		g_free(max);
		return false;
	}
	*(unsigned *)field = seconds;
	return true;
}

static bool
set_number(struct parser *p, const struct setting *s, void *field, const char *value)
{
	unsigned n;
	if (!parse_uint(value, &n))
		return fail(p, p->lineno, "bad number '%s' for %s", value, s->key);
	if (n < s->min || n > s->max) {
		if (s->max == UINT_MAX)
			return fail(p, p->lineno, "%s must be at least %u", s->key, s->min);
		return fail(p, p->lineno, "%s must be between %u and %u", s->key, s->min, s->max);
	}
	*(unsigned *)field = n;
	return true;
}

static bool
set_port(struct parser *p, const struct setting *s, void *field, const char *value)
{
	unsigned n;
	if (!set_number(p, s, &n, value))
		return false;
	*(uint16_t *)field = (uint16_t)n;
	return true;
}

static bool
set_bool(struct parser *p, const struct setting *s, void *field, const char *value)
{
	bool b;
	if (!parse_bool(value, &b))
		return fail(p, p->lineno, "bad boolean '%s' for %s: use yes or no", value, s->key);
	*(bool *)field = b;
	return true;
}

/* An account's notify: -1 (unset, inherit), 0 or 1. */
static bool
set_tristate(struct parser *p, const struct setting *s, void *field, const char *value)
{
	bool b;
	if (!set_bool(p, s, &b, value))
		return false;
	*(int *)field = b;
	return true;
}

static bool
set_string(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (*value == '\0')
		return fail(p, p->lineno, "empty value for %s", s->key);
	char **str = field;
	g_free(*str);
	*str = g_strdup(value);
	return true;
}

static bool
set_secret(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (*value == '\0')
		return fail(p, p->lineno, "empty value for %s", s->key);
	char **str = field;
	free_secret(*str);
	*str = g_strdup(value);
	return true;
}

static bool
set_path(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (*value == '\0')
		return fail(p, p->lineno, "empty value for %s", s->key);
	char **str = field;
	g_free(*str);
	*str = expand_path(value);
	return true;
}

/* [general] hook: empty means none (NULL). */
static bool
set_general_hook(struct parser *p, const struct setting *s, void *field, const char *value)
{
	(void)p;
	(void)s;
	char **str = field;
	g_free(*str);
	*str = *value ? g_strdup(value) : NULL;
	return true;
}

/* An account's hook: empty is kept as "" to override [general]'s hook. */
static bool
set_account_hook(struct parser *p, const struct setting *s, void *field, const char *value)
{
	(void)p;
	(void)s;
	char **str = field;
	g_free(*str);
	*str = g_strdup(value);
	return true;
}

/* For pairs of keys that exclude each other (password / password_cmd,
 * mailbox / mailboxes): the second one is the error. */
static bool
check_exclusive(struct parser *p, const char *key, const char *other)
{
	gpointer line;
	if (g_hash_table_lookup_extended(p->seen, other, NULL, &line))
		return fail(p, p->lineno, "account %s: %s and %s exclude each other (%s is set on line %d)",
			p->account->name, other, key, other, GPOINTER_TO_INT(line));
	return true;
}

static bool
set_password(struct parser *p, const struct setting *s, void *field, const char *value)
{
	const char *other = strcmp(s->key, "password") == 0 ? "password_cmd" : "password";
	if (!check_exclusive(p, s->key, other))
		return false;
	return set_secret(p, s, field, value);
}

static bool
set_tls(struct parser *p, const struct setting *s, void *field, const char *value)
{
	static const char *const names[] = {
		[MB_TLS_IMPLICIT] = "implicit",
		[MB_TLS_STARTTLS] = "starttls",
		[MB_TLS_NONE] = "none",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(value, names[i]) == 0) {
			*(enum mb_tls_mode *)field = (enum mb_tls_mode)i;
			return true;
		}
	}
	return fail(p, p->lineno, "bad value '%s' for %s: use implicit, starttls or none", value, s->key);
}

static bool
set_auth(struct parser *p, const struct setting *s, void *field, const char *value)
{
	static const char *const names[] = {
		[MB_AUTH_AUTO] = "auto",
		[MB_AUTH_PLAIN] = "plain",
		[MB_AUTH_LOGIN] = "login",
		[MB_AUTH_XOAUTH2] = "xoauth2",
		[MB_AUTH_OAUTHBEARER] = "oauthbearer",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(value, names[i]) == 0) {
			*(enum mb_auth_method *)field = (enum mb_auth_method)i;
			return true;
		}
	}
	return fail(p, p->lineno, "bad value '%s' for %s: use auto, plain, login, xoauth2 or oauthbearer",
		value, s->key);
}

static bool
set_fingerprint(struct parser *p, const struct setting *s, void *field, const char *value)
{
	GString *hex = g_string_new(NULL);
	for (const char *c = value; *c; c++) {
		if (*c == ':')
			continue;
		if (!g_ascii_isxdigit(*c) || hex->len == 64) {
			g_string_free(hex, TRUE);
			goto bad;
		}
		g_string_append_c(hex, g_ascii_tolower(*c));
	}
	if (hex->len != 64) {
		g_string_free(hex, TRUE);
		goto bad;
	}
	char **str = field;
	g_free(*str);
	*str = g_string_free(hex, FALSE);
	return true;
bad:
	return fail(p, p->lineno, "bad %s '%s': use the SHA-256 fingerprint, 64 hex digits (colons allowed)",
		s->key, value);
}

static bool
set_mailbox(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (!check_exclusive(p, s->key, "mailboxes"))
		return false;
	if (*value == '\0')
		return fail(p, p->lineno, "empty value for %s", s->key);
	char ***list = field;
	g_strfreev(*list);
	*list = g_new0(char *, 2);
	(*list)[0] = g_strdup(value);
	return true;
}

static bool
set_mailboxes(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (!check_exclusive(p, s->key, "mailbox"))
		return false;
	char **list = split_list(p, s, value);
	if (!list)
		return false;
	for (size_t i = 0; list[i]; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(list[i], list[j]) == 0) {
				fail(p, p->lineno, "mailbox '%s' is listed twice", list[i]);
				g_strfreev(list);
				return false;
			}
		}
	}
	char ***out = field;
	g_strfreev(*out);
	*out = list;
	return true;
}

/* [general] download_limit, a rule's larger and smaller. */
static bool
set_size(struct parser *p, const struct setting *s, void *field, const char *value)
{
	uint64_t octets;
	if (!mb_size_parse(value, &octets))
		return fail(p, p->lineno, "bad size '%s' for %s: use e.g. 65536, 100K, 5M", value, s->key);
	*(uint64_t *)field = octets;
	return true;
}

/* An account's download_limit: -1 (unset, inherit) or octets. */
static bool
set_account_size(struct parser *p, const struct setting *s, void *field, const char *value)
{
	uint64_t octets = 0;
	if (!set_size(p, s, &octets, value))
		return false;
	if (octets > INT64_MAX)
		return fail(p, p->lineno, "%s '%s' is too large", s->key, value);
	*(int64_t *)field = (int64_t)octets;
	return true;
}

/* A rule's condition on a message field, compiled now. mb_condition_compile()
 * reports "WHAT" or "WHAT: DETAIL"; the key goes after WHAT. */
static bool
set_condition(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (value[strspn(value, " \t")] == '\0')
		return fail(p, p->lineno, "empty value for %s", s->key);
	char *err = NULL;
	struct mb_condition *cond = mb_condition_compile(value, &err);
	if (!cond) {
		const char *detail = err ? strstr(err, ": ") : NULL;
		if (detail)
			fail(p, p->lineno, "%.*s in %s%s", (int)(detail - err), err, s->key, detail);
		else
			fail(p, p->lineno, "%s in %s list '%s'", err ? err : "bad pattern", s->key, value);
		g_free(err);
		return false;
	}
	struct mb_condition **out = field;
	mb_condition_destroy(*out);
	*out = cond;
	if (strcmp(s->key, "account") == 0) {
		struct account_check check = { p->rule, p->lineno };
		g_array_append_val(p->account_checks, check);
	}
	return true;
}

static bool
set_actions(struct parser *p, const struct setting *s, void *field, const char *value)
{
	const char *bad = NULL;
	if (!mb_rules_parse_actions(value, field, &bad))
		return fail(p, p->lineno, "bad %s '%s': %s", s->key, value, bad);
	return true;
}

static bool
set_urgency(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (!mb_rules_parse_urgency(value, field))
		return fail(p, p->lineno, "bad value '%s' for %s: use low, normal or critical", value, s->key);
	return true;
}

static bool
set_download(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (!mb_rules_parse_download(value, field))
		return fail(p, p->lineno, "bad value '%s' for %s: use full or headers", value, s->key);
	return true;
}

#define GENERAL(key, set, member, min, max) \
	{ SECTION_GENERAL, key, set, offsetof(struct mb_config, member), min, max }
#define ACCOUNT(key, set, member, min, max) \
	{ SECTION_ACCOUNT, key, set, offsetof(struct mb_account_config, member), min, max }
#define RULE(key, set, member) \
	{ SECTION_RULE, key, set, offsetof(struct mb_rule, member), 0, 0 }

static const struct setting settings[] = {
	GENERAL("keepalive", set_duration, keepalive, 60, 29 * 60),
	GENERAL("timeout", set_duration, timeout, 1, 10 * 60),
	GENERAL("notify", set_bool, notify, 0, 0),
	GENERAL("hook", set_general_hook, hook, 0, 0),
	GENERAL("hook_timeout", set_duration, hook_timeout, 1, 3600),
	GENERAL("state_dir", set_path, state_dir, 0, 0),
	GENERAL("poll_interval", set_duration, poll_interval, 10, 3600),
	GENERAL("catchup", set_bool, catchup, 0, 0),
	GENERAL("catchup_summary", set_number, catchup_summary, 1, UINT_MAX),
	GENERAL("download_limit", set_size, download_limit, 0, 0),
	GENERAL("preview", set_bool, preview, 0, 0),

	ACCOUNT("host", set_string, host, 0, 0),
	ACCOUNT("port", set_port, port, 1, 65535),
	ACCOUNT("tls", set_tls, tls, 0, 0),
	ACCOUNT("ca_file", set_path, ca_file, 0, 0),
	ACCOUNT("tls_fingerprint", set_fingerprint, tls_fingerprint, 0, 0),
	ACCOUNT("user", set_string, user, 0, 0),
	ACCOUNT("password", set_password, password, 0, 0),
	ACCOUNT("password_cmd", set_password, password_cmd, 0, 0),
	ACCOUNT("oauth_token_cmd", set_string, oauth_token_cmd, 0, 0),
	ACCOUNT("auth", set_auth, auth, 0, 0),
	ACCOUNT("mailbox", set_mailbox, mailboxes, 0, 0),
	ACCOUNT("mailboxes", set_mailboxes, mailboxes, 0, 0),
	ACCOUNT("notify", set_tristate, notify, 0, 0),
	ACCOUNT("hook", set_account_hook, hook, 0, 0),
	ACCOUNT("poll_interval", set_duration, poll_interval, 10, 3600),
	ACCOUNT("max_connections", set_number, max_connections, 1, 50),
	ACCOUNT("download_limit", set_account_size, download_limit, 0, 0),
	ACCOUNT("preview", set_tristate, preview, 0, 0),

	RULE("from", set_condition, from),
	RULE("to", set_condition, to),
	RULE("subject", set_condition, subject),
	RULE("list", set_condition, list),
	RULE("account", set_condition, account),
	RULE("mailbox", set_condition, mailbox),
	RULE("larger", set_size, larger),
	RULE("smaller", set_size, smaller),
	RULE("action", set_actions, actions),
	RULE("urgency", set_urgency, urgency),
	RULE("hook", set_string, hook),
	RULE("download", set_download, download),
};

static void
account_destroy(struct mb_account_config *account)
{
	if (!account)
		return;
	g_free(account->name);
	g_free(account->host);
	g_free(account->ca_file);
	g_free(account->tls_fingerprint);
	g_free(account->user);
	free_secret(account->password);
	g_free(account->password_cmd);
	g_free(account->oauth_token_cmd);
	g_strfreev(account->mailboxes);
	g_free(account->hook);
	g_free(account);
}

static bool
seen(struct parser *p, const char *key)
{
	return g_hash_table_contains(p->seen, key);
}

/* The line key was set on in the current section; 0 if it was not. */
static int
seen_line(struct parser *p, const char *key)
{
	return GPOINTER_TO_INT(g_hash_table_lookup(p->seen, key));
}

/* Results that would do nothing with the rule's actions are errors, not
 * silently dropped; so are size bounds no message can meet. */
static bool
finish_rule(struct parser *p)
{
	struct mb_rule *r = p->rule;
	int line = p->section_line;
	r->has_larger = seen(p, "larger");
	r->has_smaller = seen(p, "smaller");
	if (r->has_smaller && r->smaller == 0)
		return fail(p, line, "rule %s: smaller = 0 (line %d) matches no message", r->name,
			seen_line(p, "smaller"));
	if (r->has_larger && r->has_smaller && r->smaller - 1 <= r->larger)
		return fail(p, line, "rule %s: no message is larger than %" PRIu64 " and smaller than %" PRIu64
			" octets (lines %d and %d)", r->name, r->larger, r->smaller, seen_line(p, "larger"),
			seen_line(p, "smaller"));

	int action_line = seen_line(p, "action");
	static const char *const results[] = { "urgency", "hook", "download" };
	if (r->actions == MB_ACTION_IGNORE) {
		for (size_t i = 0; i < G_N_ELEMENTS(results); i++) {
			if (seen(p, results[i]))
				return fail(p, line, "rule %s: %s (line %d) does nothing with action = ignore (line %d)",
					r->name, results[i], seen_line(p, results[i]), action_line);
		}
	}
	if (seen(p, "urgency") && !(r->actions & MB_ACTION_NOTIFY))
		return fail(p, line, "rule %s: urgency (line %d) needs notify in action (line %d)", r->name,
			seen_line(p, "urgency"), action_line);
	if (seen(p, "hook") && !(r->actions & MB_ACTION_HOOK))
		return fail(p, line, "rule %s: hook (line %d) needs hook in action (line %d)", r->name,
			seen_line(p, "hook"), action_line);
	return true;
}

/* A rule limited to accounts that do not exist would never match. */
static bool
check_rule_accounts(struct parser *p)
{
	for (guint i = 0; i < p->account_checks->len; i++) {
		const struct account_check *check = &g_array_index(p->account_checks, struct account_check, i);
		bool any = false;
		for (guint j = 0; j < p->config->accounts->len && !any; j++) {
			const struct mb_account_config *a = p->config->accounts->pdata[j];
			const char *name = a->name;
			any = mb_condition_match(check->rule->account, &name, 1);
		}
		if (!any)
			return fail(p, check->line, "rule %s: account matches no [account NAME] section",
				check->rule->name);
	}
	return true;
}

/* Checks and completes the section just read; errors point at its header. */
static bool
finish_section(struct parser *p)
{
	if (p->kind == SECTION_ACCOUNT) {
		struct mb_account_config *a = p->account;
		int line = p->section_line;
		if (!a->host)
			return fail(p, line, "account %s: missing host", a->name);
		if (!a->user)
			return fail(p, line, "account %s: missing user", a->name);
		bool has_password = a->password || a->password_cmd;
		switch (a->auth) {
		case MB_AUTH_XOAUTH2:
		case MB_AUTH_OAUTHBEARER:
			if (!a->oauth_token_cmd)
				return fail(p, line, "account %s: auth = %s needs oauth_token_cmd", a->name,
					a->auth == MB_AUTH_XOAUTH2 ? "xoauth2" : "oauthbearer");
			break;
		case MB_AUTH_PLAIN:
		case MB_AUTH_LOGIN:
			if (!has_password)
				return fail(p, line, "account %s: auth = %s needs password or password_cmd", a->name,
					a->auth == MB_AUTH_PLAIN ? "plain" : "login");
			break;
		case MB_AUTH_AUTO:
			if (!has_password && !a->oauth_token_cmd)
				return fail(p, line, "account %s: missing password, password_cmd or oauth_token_cmd",
					a->name);
			break;
		}
		if (!seen(p, "port"))
			a->port = a->tls == MB_TLS_IMPLICIT ? 993 : 143;
		if (!a->mailboxes) {
			a->mailboxes = g_new0(char *, 2);
			a->mailboxes[0] = g_strdup("INBOX");
		}
	} else if (p->kind == SECTION_RULE) {
		return finish_rule(p);
	}
	return true;
}

/* Header name "account NAME" or "rule NAME": NAME trimmed, or NULL when the
 * header does not start with kind. */
static const char *
named_section(const char *header, const char *kind)
{
	size_t len = strlen(kind);
	if (strncmp(header, kind, len) != 0)
		return NULL;
	if (header[len] != '\0' && !is_space(header[len]))
		return NULL;
	const char *name = header + len;
	while (is_space(*name))
		name++;
	return name;
}

static bool
begin_named(struct parser *p, const char *kind, const char *name, GHashTable *lines)
{
	if (*name == '\0')
		return fail(p, p->lineno, "missing %s name: use [%s NAME]", kind, kind);
	if (has_control(name))
		return fail(p, p->lineno, "control character in %s name", kind);
	gpointer first;
	if (g_hash_table_lookup_extended(lines, name, NULL, &first))
		return fail(p, p->lineno, "duplicate %s name '%s' (first on line %d)", kind, name,
			GPOINTER_TO_INT(first));
	g_hash_table_insert(lines, g_strdup(name), GINT_TO_POINTER(p->lineno));
	return true;
}

static bool
begin_section(struct parser *p, char *header)
{
	if (!finish_section(p))
		return false;
	if (p->seen && p->seen != p->general_seen)
		g_hash_table_destroy(p->seen);
	p->seen = NULL;
	p->account = NULL;
	p->rule = NULL;
	p->kind = SECTION_NONE;
	g_clear_pointer(&p->label, g_free);

	const char *name = NULL;
	if (strcmp(header, "general") == 0) {
		p->kind = SECTION_GENERAL;
		p->seen = p->general_seen;
	} else if ((name = named_section(header, "account"))) {
		if (!begin_named(p, "account", name, p->account_lines))
			return false;
		struct mb_account_config *a = g_new0(struct mb_account_config, 1);
		a->name = g_strdup(name);
		a->tls = MB_TLS_IMPLICIT;
		a->auth = MB_AUTH_AUTO;
		a->notify = -1;
		a->max_connections = 5;
		a->download_limit = -1;
		a->preview = -1;
		a->line = p->lineno;
		g_ptr_array_add(p->config->accounts, a);
		p->account = a;
		p->kind = SECTION_ACCOUNT;
	} else if ((name = named_section(header, "rule"))) {
		if (!begin_named(p, "rule", name, p->rule_lines))
			return false;
		struct mb_rule *r = mb_rule_create(name, p->lineno);
		g_ptr_array_add(p->config->rules, r);
		p->rule = r;
		p->kind = SECTION_RULE;
	} else {
		return fail(p, p->lineno, "unknown section [%s]", header);
	}
	if (!p->seen)
		p->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (p->kind == SECTION_GENERAL)
		p->label = g_strdup("[general]");
	else
		p->label = g_strdup_printf("[%s %s]", p->kind == SECTION_ACCOUNT ? "account" : "rule", name);
	p->section_line = p->lineno;
	return true;
}

/* inih's find_chars_or_comment(): the first of chars, or an inline ';'
 * comment (one preceded by white space), or end. */
static const char *
find_chars_or_comment(const char *s, const char *end, const char *chars)
{
	bool was_space = false;
	while (s < end && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = is_space(*s);
		s++;
	}
	return s;
}

/* The ini_reader: hands inih one line, checked first, with leading white
 * space removed. That stripping also turns off inih's multi-line values
 * (indented continuation lines), which would otherwise show up as a
 * confusing duplicate key. Returns NULL at the end or after an error, which
 * stops inih. */
static char *
read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	if (p->long_value) {
		explicit_bzero(p->long_value, strlen(p->long_value));
		g_clear_pointer(&p->long_value, g_free);
	}
	if (p->error || p->pos >= p->size)
		return NULL;
	const char *line = p->data + p->pos;
	const char *nl = memchr(line, '\n', p->size - p->pos);
	size_t len = nl ? (size_t)(nl - line) : p->size - p->pos;
	p->pos += len + (nl ? 1 : 0);
	p->lineno++;

	if (p->lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	while (len > 0 && is_space(*line)) {
		line++;
		len--;
	}
	while (len > 0 && is_space(line[len - 1]))
		len--;
	if (len == 0 || *line == '#' || *line == ';') {
		/* blank or comment: inih skips it, however long, whatever bytes */
		str[0] = '\0';
		return str;
	}
	if (memchr(line, '\0', len)) {
		fail(p, p->lineno, "NUL character in line");
		return NULL;
	}
	if (!g_utf8_validate(line, (gssize)len, NULL)) {
		fail(p, p->lineno, "line is not valid UTF-8");
		return NULL;
	}
	const char *end = line + len;
	if (num < 2 || len > (size_t)num - 1) {
		const char *sep = *line == '[' ? end : find_chars_or_comment(line, end, "=:");
		size_t klen = (size_t)(sep - line);
		if (sep == end || klen + 2 > (size_t)num - 1) {
			fail(p, p->lineno, "line is too long (the limit is %d characters "
				"but for values)", num - 1);
			return NULL;
		}
		/* The value as inih would give it: trimmed, an inline ';'
		 * comment cut off. */
		const char *v = sep + 1;
		while (v < end && is_space(*v))
			v++;
		const char *vend = find_chars_or_comment(v, end, "");
		while (vend > v && is_space(vend[-1]))
			vend--;
		p->long_value = g_strndup(v, (size_t)(vend - v));
		memcpy(str, line, klen + 1);
		str[klen + 1] = '\0';
		return str;
	}

	if (*line == '[') {
		const char *close = find_chars_or_comment(line + 1, end, "]");
		if (close == end || *close != ']') {
			fail(p, p->lineno, "missing ']' in section header");
			return NULL;
		}
		const char *rest = close + 1;
		while (rest < end && is_space(*rest))
			rest++;
		if (rest < end && *rest != '#' && *rest != ';') {
			fail(p, p->lineno, "unexpected text after ']'");
			return NULL;
		}
		char *header = g_strndup(line + 1, (size_t)(close - line - 1));
		g_strstrip(header);
		bool ok = begin_section(p, header);
		g_free(header);
		if (!ok)
			return NULL;
	} else {
		const char *sep = find_chars_or_comment(line, end, "=:");
		if (sep == end || (*sep != '=' && *sep != ':')) {
			fail(p, p->lineno, "expected 'key = value', '[section]' or a comment");
			return NULL;
		}
	}
	memcpy(str, line, len);
	str[len] = '\0';
	return str;
}

static int
handle_pair(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;
	(void)section; /* tracked by read_line(), uncut */
	if (p->error)
		return 0;
	if (p->long_value)
		value = p->long_value;
	if (p->kind == SECTION_NONE)
		return fail(p, p->lineno, "'%s' is outside any section: put it under [general], "
			"[account NAME] or [rule NAME]", key);
	if (*key == '\0')
		return fail(p, p->lineno, "missing key before '='");

	const struct setting *s = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
		if (settings[i].section == p->kind && strcmp(settings[i].key, key) == 0) {
			s = &settings[i];
			break;
		}
	}
	if (!s)
		return fail(p, p->lineno, "unknown key '%s' in %s", key, p->label);

	gpointer first;
	if (g_hash_table_lookup_extended(p->seen, key, NULL, &first))
		return fail(p, p->lineno, "duplicate key '%s' in %s (first on line %d)", key, p->label,
			GPOINTER_TO_INT(first));

	void *base = p->kind == SECTION_GENERAL ? (void *)p->config
		: p->kind == SECTION_ACCOUNT ? (void *)p->account : (void *)p->rule;
	if (!s->set(p, s, (char *)base + s->offset, value))
		return 0;
	g_hash_table_insert(p->seen, g_strdup(key), GINT_TO_POINTER(p->lineno));
	return 1;
}

/* Reads the whole file through one descriptor, so the permission check below
 * looks at the very file that was parsed. */
static bool
read_file(const char *path, char **data_r, size_t *size_r, struct stat *st, GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto error;
	if (fstat(fd, st) < 0)
		goto error;
	if (S_ISDIR(st->st_mode)) {
		errno = EISDIR;
		goto error;
	}
	GString *buf = g_string_new(NULL);
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			g_string_free(buf, TRUE);
			errno = saved;
			goto error;
		}
		if (n == 0)
			break;
		if (buf->len + (size_t)n > MAX_FILE_SIZE) {
			g_string_free(buf, TRUE);
			close(fd);
			g_set_error(error, MB_CONFIG_ERROR, MB_CONFIG_ERROR_READ,
				"%s: file is larger than %d bytes", path, MAX_FILE_SIZE);
			return false;
		}
		g_string_append_len(buf, chunk, n);
	}
	close(fd);
	*size_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	return true;
error:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	g_set_error(error, MB_CONFIG_ERROR, MB_CONFIG_ERROR_READ, "%s: %s", path, g_strerror(saved));
	return false;
}

struct mb_config *
mb_config_load(const char *path, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	char *data;
	size_t size;
	struct stat st;
	if (!read_file(path, &data, &size, &st, error))
		return NULL;

	struct mb_config *config = g_new0(struct mb_config, 1);
	config->path = g_strdup(path);
	config->keepalive = 600;
	config->timeout = 30;
	config->poll_interval = 120;
	config->hook_timeout = 60;
	config->notify = true;
	config->catchup = true;
	config->catchup_summary = 5;
	config->download_limit = 0;
	config->preview = true;
	config->accounts = g_ptr_array_new_with_free_func((GDestroyNotify)account_destroy);
	config->rules = g_ptr_array_new_with_free_func((GDestroyNotify)mb_rule_destroy);

	struct parser p = {
		.path = path,
		.config = config,
		.data = data,
		.size = size,
		.general_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		.account_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		.rule_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		.account_checks = g_array_new(FALSE, FALSE, sizeof(struct account_check)),
	};
	int ret = ini_parse_stream(read_line, &p, handle_pair, &p);
	if (!p.error && ret > 0)
		fail(&p, ret, "syntax error");
	else if (!p.error && ret < 0)
		fail(&p, 0, "cannot parse (inih error %d)", ret);
	if (!p.error)
		finish_section(&p);
	if (!p.error && config->accounts->len == 0)
		fail(&p, 0, "no [account ...] section");
	if (!p.error)
		check_rule_accounts(&p);

	if (p.seen && p.seen != p.general_seen)
		g_hash_table_destroy(p.seen);
	g_hash_table_destroy(p.general_seen);
	g_hash_table_destroy(p.account_lines);
	g_hash_table_destroy(p.rule_lines);
	g_array_free(p.account_checks, TRUE);
	g_free(p.label);
	if (p.long_value) {
		explicit_bzero(p.long_value, strlen(p.long_value));
		g_free(p.long_value);
	}
	/* The file may hold a password. */
	memset(data, 0, size);
	g_free(data);

	if (p.error) {
		g_propagate_error(error, p.error);
		mb_config_destroy(config);
		return NULL;
	}

	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		for (guint i = 0; i < config->accounts->len; i++) {
			const struct mb_account_config *a = config->accounts->pdata[i];
			if (a->password) {
				g_warning("%s is readable by others but holds a password: chmod 600 %s", path, path);
				break;
			}
		}
	}
	return config;
}

void
mb_config_destroy(struct mb_config *config)
{
	if (!config)
		return;
	g_free(config->path);
	g_free(config->hook);
	g_free(config->state_dir);
	if (config->accounts)
		g_ptr_array_free(config->accounts, TRUE);
	if (config->rules)
		g_ptr_array_free(config->rules, TRUE);
	g_free(config);
}

char *
mb_config_default_path(void)
{
	return g_build_filename(g_get_user_config_dir(), "mailbell", "config.ini", NULL);
}

bool
mb_account_config_notify(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->notify >= 0 ? account->notify != 0 : config->notify;
}

const char *
mb_account_config_hook(const struct mb_config *config, const struct mb_account_config *account)
{
	if (account->hook)
		return account->hook[0] ? account->hook : NULL;
	return config->hook;
}

unsigned
mb_account_config_poll_interval(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->poll_interval ? account->poll_interval : config->poll_interval;
}

uint64_t
mb_account_config_download_limit(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->download_limit >= 0 ? (uint64_t)account->download_limit : config->download_limit;
}

bool
mb_account_config_preview(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->preview >= 0 ? account->preview != 0 : config->preview;
}
