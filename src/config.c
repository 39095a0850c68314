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
	const char *line;       /* the current line as written, and its length */
	size_t line_len;

	/* The section being read. inih never reports section headers (and
	 * truncates their names to 50 bytes), so read_line() tracks them. */
	enum section_kind kind;
	int section_line;
	char *label;            /* "[account work]", for messages */
	struct mb_account_config *account;
	struct mb_rule *rule;
	GHashTable *seen;       /* key -> line it was set on, current section:
	                         * the config's or the account's key_lines,
	                         * or owned here for a rule */
	GHashTable *account_lines; /* account name -> header line */
	GHashTable *rule_lines;    /* rule name -> header line */
	GArray *account_checks; /* struct account_check: rules' account
	                         * conditions, checked once every account is
	                         * known */
	/* inih's line buffer holds 199 characters (INI_MAX_LINE is fixed when
	 * the library is built): a longer "key = value" line reaches inih as
	 * "key =" and its value waits here for handle_pair(). */
	char *long_value;
	const char *key;        /* the key handle_pair() is setting */
};

/* A rule's "account =" line, which must match a configured account. */
struct account_check {
	const struct mb_rule *rule;
	int line;
};

struct setting;
typedef bool (*setter)(struct parser *p, const struct setting *s, void *field, const char *value);

/* How a value is stored at a row's offset: what comparing, printing and the
 * "unset" state go by. */
enum value_kind {
	KIND_DURATION,     /* unsigned seconds; 0 is unset where it inherits */
	KIND_NUMBER,       /* unsigned */
	KIND_PORT,         /* uint16_t */
	KIND_BOOL,         /* bool */
	KIND_TRISTATE,     /* int: -1 unset, 0, 1 */
	KIND_STRING,       /* char *: NULL unset; "" means none where allowed */
	KIND_LIST,         /* NULL-terminated char ** */
	KIND_ENUM,         /* an enum (int-sized), words in the row's names */
	KIND_SIZE,         /* uint64_t octets */
	KIND_ACCOUNT_SIZE, /* int64_t octets, -1 unset */
	KIND_RULE_SIZE,    /* uint64_t octets, set when the bool at aux is */
	KIND_QUIET,        /* struct mb_quiet_hours *: NULL unset */
	KIND_CONDITION,    /* struct mb_condition *: NULL unset */
	KIND_ACTIONS,      /* unsigned MB_ACTION_* bits */
	KIND_SYNC_ON,      /* unsigned MB_SYNC_* bits; 0 is unset */
	KIND_SYNC_MAP,     /* char **: MAILBOX, COMMAND pairs ("sync_hook.MAILBOX") */
};

/* One row per key: the parser, the defaults (applied by running set on def
 * when a section starts), --check's output, reload's comparison and the
 * test that every key is documented in mailbell.ini(5) all read it. */
struct setting {
	enum section_kind section;
	const char *key;
	const char *type;       /* as mailbell.ini(5) names it */
	const char *def;        /* as mailbell.ini(5) writes it; NULL: none */
	unsigned flags;         /* MB_SETTING_* */
	const char *description;
	setter set;
	enum value_kind kind;
	size_t offset;          /* into mb_config, mb_account_config or mb_rule */
	unsigned min, max;      /* for durations and numbers */
	const char *const *names; /* KIND_ENUM: value -> word (NULL: none) */
	size_t n_names;
	size_t aux;             /* KIND_RULE_SIZE: offset of its "has" bool */
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

/* "10m", "1h", "45s", "1d": the largest unit that divides seconds. */
static char *
format_duration(unsigned seconds)
{
	if (seconds != 0 && seconds % 86400 == 0)
		return g_strdup_printf("%ud", seconds / 86400);
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
	case 'd':
		unit = 86400;
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
	bool b = false; /* set_bool() sets it when it succeeds */
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

/* [general] hook and open_cmd: empty means none (NULL). */
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

/* An account's hook and open_cmd: empty is kept as "" to override
 * [general]'s. */
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

/* Whether LIST pattern (RFC 3501 6.3.8: "*" matches anything, "%" anything
 * but the hierarchy delimiter, which is not known here, so also anything)
 * matches name. INBOX is case-insensitive (RFC 3501 5.1). */
static bool
pattern_matches(const char *pattern, const char *name)
{
	if (g_ascii_strcasecmp(pattern, "INBOX") == 0)
		return g_ascii_strcasecmp(name, "INBOX") == 0;
	for (;;) {
		if (*pattern == '*' || *pattern == '%') {
			while (*pattern == '*' || *pattern == '%')
				pattern++;
			if (!*pattern)
				return true;
			for (const char *n = name; *n; n++) {
				if (pattern_matches(pattern, n))
					return true;
			}
			return false;
		}
		if (!*pattern || *pattern != *name)
			return !*pattern && !*name;
		pattern++;
		name++;
	}
}

/* Whether the account watches mailbox: one of its mailboxes, or matched by
 * one of its LIST patterns. */
static bool
mailbox_watched(const struct mb_account_config *a, const char *mailbox)
{
	for (size_t i = 0; a->mailboxes && a->mailboxes[i]; i++) {
		/* mailbox may itself be a pattern (sync_hook.Lists/%) */
		if (pattern_matches(a->mailboxes[i], mailbox) || pattern_matches(mailbox, a->mailboxes[i]))
			return true;
	}
	return false;
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

static const char *const tls_names[] = {
	[MB_TLS_IMPLICIT] = "implicit",
	[MB_TLS_STARTTLS] = "starttls",
	[MB_TLS_NONE] = "none",
};

static const char *const auth_names[] = {
	[MB_AUTH_AUTO] = "auto",
	[MB_AUTH_PLAIN] = "plain",
	[MB_AUTH_LOGIN] = "login",
	[MB_AUTH_XOAUTH2] = "xoauth2",
	[MB_AUTH_OAUTHBEARER] = "oauthbearer",
};

/* MB_URGENCY_UNSET and MB_DOWNLOAD_POLICY are what a rule that says nothing
 * gets; they cannot be written. */
static const char *const urgency_names[] = {
	[MB_URGENCY_UNSET] = NULL,
	[MB_URGENCY_LOW] = "low",
	[MB_URGENCY_NORMAL] = "normal",
	[MB_URGENCY_CRITICAL] = "critical",
};

static const char *const download_names[] = {
	[MB_DOWNLOAD_POLICY] = NULL,
	[MB_DOWNLOAD_FULL] = "full",
	[MB_DOWNLOAD_HEADERS] = "headers",
};

/* Every enum of the config is stored as an int. */
G_STATIC_ASSERT(sizeof(enum mb_tls_mode) == sizeof(int));
G_STATIC_ASSERT(sizeof(enum mb_auth_method) == sizeof(int));
G_STATIC_ASSERT(sizeof(enum mb_urgency) == sizeof(int));
G_STATIC_ASSERT(sizeof(enum mb_download) == sizeof(int));

/* "a, b or c" of the words of an enum row. */
static char *
join_names(const struct setting *s, const char *sep, const char *last_sep)
{
	GString *out = g_string_new(NULL);
	size_t n = 0, count = 0;
	for (size_t i = 0; i < s->n_names; i++)
		count += s->names[i] != NULL;
	for (size_t i = 0; i < s->n_names; i++) {
		if (!s->names[i])
			continue;
		if (n > 0)
			g_string_append(out, n + 1 == count ? last_sep : sep);
		g_string_append(out, s->names[i]);
		n++;
	}
	return g_string_free(out, FALSE);
}

/* tls, auth, a rule's urgency and download: one of the row's words, any
 * case. */
static bool
set_enum(struct parser *p, const struct setting *s, void *field, const char *value)
{
	for (size_t i = 0; i < s->n_names; i++) {
		if (s->names[i] && g_ascii_strcasecmp(value, s->names[i]) == 0) {
			*(int *)field = (int)i;
			return true;
		}
	}
	char *words = join_names(s, ", ", " or ");
	fail(p, p->lineno, "bad value '%s' for %s: use %s", value, s->key, words);
	g_free(words);
	return false;
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
	if (s->max && octets > s->max)
		return fail(p, p->lineno, "%s must be at most %uM (the most mailbell downloads of one "
			"message)", s->key, s->max / (1024 * 1024));
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

static void
quiet_destroy(struct mb_quiet_hours *q)
{
	mb_quiet_hours_finish(q);
	g_free(q);
}

/* quiet_hours: empty is none; in [general] that is NULL, in an account it
 * is kept as no ranges, to override [general]'s. */
static bool
set_quiet_hours(struct parser *p, const struct setting *s, void *field, const char *value)
{
	struct mb_quiet_hours q;
	char *err = NULL;
	if (!mb_quiet_hours_parse(value, &q, &err)) {
		fail(p, p->lineno, "bad %s '%s': %s", s->key, value, err);
		g_free(err);
		return false;
	}
	struct mb_quiet_hours **out = field;
	quiet_destroy(*out);
	*out = NULL;
	if (q.n > 0 || s->section == SECTION_ACCOUNT) {
		*out = g_new(struct mb_quiet_hours, 1);
		**out = q;
	}
	return true;
}

/* A rule's larger and smaller, which also note that they are set. */
static bool
set_rule_size(struct parser *p, const struct setting *s, void *field, const char *value)
{
	if (!set_size(p, s, field, value))
		return false;
	*(bool *)((char *)field - s->offset + s->aux) = true;
	return true;
}

static const char *const sync_on_names[] = { "new", "expunge", "flags" };

/* sync_on: a list of new, expunge, flags. */
static bool
set_sync_on(struct parser *p, const struct setting *s, void *field, const char *value)
{
	char **words = split_list(p, s, value);
	if (!words)
		return false;
	unsigned mask = 0;
	for (size_t i = 0; words[i]; i++) {
		size_t k = 0;
		while (k < G_N_ELEMENTS(sync_on_names) && g_ascii_strcasecmp(words[i], sync_on_names[k]) != 0)
			k++;
		if (k == G_N_ELEMENTS(sync_on_names)) {
			fail(p, p->lineno, "bad word '%s' in %s: use new, expunge and flags", words[i], s->key);
			g_strfreev(words);
			return false;
		}
		mask |= 1u << k;
	}
	g_strfreev(words);
	*(unsigned *)field = mask;
	return true;
}

/* "sync_hook.MAILBOX = COMMAND": one more pair; an empty command means none
 * for that mailbox (overriding the account's sync_hook). */
static bool
set_sync_map(struct parser *p, const struct setting *s, void *field, const char *value)
{
	const char *mailbox = p->key + strlen("sync_hook.");
	if (*mailbox == '\0')
		return fail(p, p->lineno, "missing mailbox name in '%s': use sync_hook.MAILBOX = COMMAND", p->key);
	(void)s;
	char ***pairs = field;
	size_t n = *pairs ? g_strv_length(*pairs) : 0;
	*pairs = g_renew(char *, *pairs, n + 3);
	(*pairs)[n] = g_strdup(mailbox);
	(*pairs)[n + 1] = g_strdup(value);
	(*pairs)[n + 2] = NULL;
	return true;
}

/* The type of a row: its setter, how the value is stored and the type's
 * name in mailbell.ini(5). */
#define T_DURATION .set = set_duration, .kind = KIND_DURATION, .type = "duration"
#define T_NUMBER .set = set_number, .kind = KIND_NUMBER, .type = "number"
#define T_PORT .set = set_port, .kind = KIND_PORT, .type = "number"
#define T_BOOL .set = set_bool, .kind = KIND_BOOL, .type = "boolean"
#define T_TRISTATE .set = set_tristate, .kind = KIND_TRISTATE, .type = "boolean"
#define T_STRING(set_) .set = set_, .kind = KIND_STRING, .type = "string"
#define T_PATH .set = set_path, .kind = KIND_STRING, .type = "path"
#define T_COMMAND(set_) .set = set_, .kind = KIND_STRING, .type = "command"
#define T_LIST(set_) .set = set_, .kind = KIND_LIST, .type = "list"
#define T_ENUM(names_) .set = set_enum, .kind = KIND_ENUM, .type = "choice", .names = names_, \
	.n_names = G_N_ELEMENTS(names_)
#define T_SIZE .set = set_size, .kind = KIND_SIZE, .type = "size"
#define T_ACCOUNT_SIZE .set = set_account_size, .kind = KIND_ACCOUNT_SIZE, .type = "size"
#define T_RULE_SIZE(has) .set = set_rule_size, .kind = KIND_RULE_SIZE, .type = "size", \
	.aux = offsetof(struct mb_rule, has)
#define T_QUIET .set = set_quiet_hours, .kind = KIND_QUIET, .type = "time ranges"
#define T_CONDITION .set = set_condition, .kind = KIND_CONDITION, .type = "pattern list"
#define T_ACTIONS .set = set_actions, .kind = KIND_ACTIONS, .type = "list"
#define T_SYNC_ON .set = set_sync_on, .kind = KIND_SYNC_ON, .type = "list"

/* ROW(key, member, default, flags, description, type[, .min = , .max = ]) */
#define GENERAL(key_, member, def_, flags_, desc_, ...) \
	{ .section = SECTION_GENERAL, .key = key_, .offset = offsetof(struct mb_config, member), \
	  .def = def_, .flags = flags_, .description = desc_, __VA_ARGS__ }
#define ACCOUNT(key_, member, def_, flags_, desc_, ...) \
	{ .section = SECTION_ACCOUNT, .key = key_, .offset = offsetof(struct mb_account_config, member), \
	  .def = def_, .flags = flags_, .description = desc_, __VA_ARGS__ }
#define RULE(key_, member, def_, flags_, desc_, ...) \
	{ .section = SECTION_RULE, .key = key_, .offset = offsetof(struct mb_rule, member), \
	  .def = def_, .flags = flags_, .description = desc_, __VA_ARGS__ }

#define SECRET MB_SETTING_SECRET
#define SESSION MB_SETTING_SESSION
#define INHERITS MB_SETTING_INHERITS
#define REQUIRED MB_SETTING_REQUIRED

static const struct setting settings[] = {
	GENERAL("keepalive", keepalive, "10m", SESSION,
		"how long a connection stays in IDLE before it is renewed",
		T_DURATION, .min = 60, .max = 29 * 60),
	GENERAL("timeout", timeout, "30s", SESSION,
		"deadline for connecting, each TLS handshake, each command and credential commands",
		T_DURATION, .min = 1, .max = 10 * 60),
	GENERAL("notify", notify, "yes", 0,
		"show desktop notifications for new mail",
		T_BOOL),
	GENERAL("open_cmd", open_cmd, NULL, 0,
		"command run when a new-mail notification is clicked",
		T_COMMAND(set_general_hook)),
	GENERAL("mark_read", mark_read, "yes", 0,
		"offer a \"Mark as read\" button on new-mail notifications",
		T_BOOL),
	GENERAL("sound", sound, "no", 0,
		"ask the notification service to play the new-mail sound",
		T_BOOL),
	GENERAL("icon", icon, "mail-unread", 0,
		"icon of new-mail notifications: an icon name or a file",
		T_STRING(set_string)),
	GENERAL("coalesce", coalesce, "2s", 0,
		"mail for a mailbox within this long of the previous one joins its notification; 0s: never",
		T_DURATION, .min = 0, .max = 3600),
	GENERAL("dedupe_window", dedupe_window, "1d", 0,
		"a Message-ID notified within this long is not notified again from another mailbox; 0s: off",
		T_DURATION, .min = 0, .max = 30 * 86400),
	GENERAL("hook", hook, NULL, 0,
		"command run for every new message",
		T_COMMAND(set_general_hook)),
	GENERAL("hook_timeout", hook_timeout, "1m", 0,
		"how long a hook or sync hook may run before it gets SIGTERM",
		T_DURATION, .min = 1, .max = 3600),
	GENERAL("hook_concurrency", hook_concurrency, NULL, 0,
		"the most hooks that run at once; more wait in order",
		T_NUMBER, .min = 1, .max = 256),
	GENERAL("sync_hook", sync_hook, NULL, 0,
		"command run once per burst of changes in an account's mailboxes, and after each sign-in",
		T_COMMAND(set_general_hook)),
	GENERAL("sync_on", sync_on, "new", 0,
		"which changes start the sync hook: new, expunge, flags",
		T_SYNC_ON),
	GENERAL("sync_delay", sync_delay, "1s", 0,
		"how long changes must pause before the sync hook runs",
		T_DURATION, .min = 0, .max = 3600),
	GENERAL("state_dir", state_dir, NULL, 0,
		"where the UIDVALIDITY and last UID of each mailbox are kept",
		T_PATH),
	GENERAL("poll_interval", poll_interval, "2m", SESSION,
		"how often to poll a server without IDLE, and mailboxes without a connection of their own",
		T_DURATION, .min = 10, .max = 3600),
	GENERAL("catchup", catchup, "yes", 0,
		"report mail that arrived while mailbell was not running",
		T_BOOL),
	GENERAL("catchup_summary", catchup_summary, "5", 0,
		"the most messages listed one per line in a grouped notification; the rest are counted",
		T_NUMBER, .min = 1, .max = UINT_MAX),
	GENERAL("download_limit", download_limit, "0", 0,
		"messages up to this size are downloaded in full; 0: headers only",
		T_SIZE, .max = MB_DOWNLOAD_MAX),
	GENERAL("preview", preview, "yes", 0,
		"show the start of the message's text",
		T_BOOL),
	GENERAL("quiet_hours", quiet_hours, NULL, 0,
		"local times during which notifications are held, then summed up",
		T_QUIET),

	ACCOUNT("host", host, NULL, SESSION | REQUIRED,
		"the IMAP server's host name or IP address",
		T_STRING(set_string)),
	ACCOUNT("port", port, NULL, SESSION,
		"the TCP port; 993 with tls = implicit, else 143",
		T_PORT, .min = 1, .max = 65535),
	ACCOUNT("tls", tls, "implicit", SESSION,
		"how the connection is protected",
		T_ENUM(tls_names)),
	ACCOUNT("ca_file", ca_file, NULL, SESSION,
		"certificate authorities to trust instead of the system's",
		T_PATH),
	ACCOUNT("tls_fingerprint", tls_fingerprint, NULL, SESSION,
		"SHA-256 fingerprint the server's certificate must have, instead of any other check",
		T_STRING(set_fingerprint)),
	ACCOUNT("user", user, NULL, SESSION | REQUIRED,
		"the user name to sign in with",
		T_STRING(set_string)),
	ACCOUNT("password", password, NULL, SESSION | SECRET,
		"the password",
		T_STRING(set_password)),
	ACCOUNT("password_cmd", password_cmd, NULL, SESSION,
		"command that prints the password",
		T_COMMAND(set_password)),
	ACCOUNT("oauth_token_cmd", oauth_token_cmd, NULL, SESSION,
		"command that prints an OAuth2 access token",
		T_COMMAND(set_string)),
	ACCOUNT("auth", auth, "auto", SESSION,
		"how to sign in",
		T_ENUM(auth_names)),
	ACCOUNT("mailbox", mailboxes, "INBOX", SESSION,
		"the mailbox to watch",
		.set = set_mailbox, .kind = KIND_LIST, .type = "string"),
	ACCOUNT("mailboxes", mailboxes, "INBOX", SESSION,
		"the mailboxes to watch; LIST patterns allowed",
		T_LIST(set_mailboxes)),
	ACCOUNT("notify", notify, NULL, INHERITS,
		"desktop notifications for this account",
		T_TRISTATE),
	ACCOUNT("open_cmd", open_cmd, NULL, INHERITS,
		"the open_cmd for this account; empty: none",
		T_COMMAND(set_account_hook)),
	ACCOUNT("mark_read", mark_read, NULL, INHERITS,
		"the \"Mark as read\" button for this account",
		T_TRISTATE),
	ACCOUNT("sound", sound, NULL, INHERITS,
		"the new-mail sound for this account",
		T_TRISTATE),
	ACCOUNT("icon", icon, NULL, INHERITS,
		"the icon of this account's notifications",
		T_STRING(set_string)),
	ACCOUNT("hook", hook, NULL, INHERITS,
		"the hook for this account; empty: none",
		T_COMMAND(set_account_hook)),
	ACCOUNT("sync_hook", sync_hook, NULL, INHERITS,
		"the sync hook for this account; empty: none",
		T_COMMAND(set_account_hook)),
	ACCOUNT("sync_hook.MAILBOX", sync_hooks, NULL, 0,
		"the sync hook for changes in MAILBOX instead of the account's; empty: none",
		.set = set_sync_map, .kind = KIND_SYNC_MAP, .type = "command"),
	ACCOUNT("sync_on", sync_on, NULL, INHERITS,
		"sync_on for this account",
		T_SYNC_ON),
	ACCOUNT("poll_interval", poll_interval, NULL, SESSION | INHERITS,
		"the polling interval for this account",
		T_DURATION, .min = 10, .max = 3600),
	ACCOUNT("max_connections", max_connections, "5", SESSION,
		"the most connections to this account when the server has no NOTIFY",
		T_NUMBER, .min = 1, .max = 50),
	ACCOUNT("download_limit", download_limit, NULL, INHERITS,
		"download_limit for this account",
		T_ACCOUNT_SIZE, .max = MB_DOWNLOAD_MAX),
	ACCOUNT("preview", preview, NULL, INHERITS,
		"previews for this account",
		T_TRISTATE),
	ACCOUNT("quiet_hours", quiet_hours, NULL, INHERITS,
		"quiet hours for this account; empty: none",
		T_QUIET),

	RULE("from", from, NULL, 0, "sender address or display name", T_CONDITION),
	RULE("to", to, NULL, 0, "any recipient in To or Cc, address or display name", T_CONDITION),
	RULE("subject", subject, NULL, 0, "the decoded subject", T_CONDITION),
	RULE("list", list, NULL, 0, "the List-Id between its angle brackets", T_CONDITION),
	RULE("account", account, NULL, 0, "the account name", T_CONDITION),
	RULE("mailbox", mailbox, NULL, 0, "the mailbox name", T_CONDITION),
	RULE("larger", larger, NULL, 0, "matches messages larger than this", T_RULE_SIZE(has_larger)),
	RULE("smaller", smaller, NULL, 0, "matches messages smaller than this", T_RULE_SIZE(has_smaller)),
	RULE("action", actions, "notify, hook", 0,
		"what to do with a matching message: notify, hook, or ignore",
		T_ACTIONS),
	RULE("urgency", urgency, NULL, 0,
		"the urgency of the notification; normal when unset",
		T_ENUM(urgency_names)),
	RULE("hook", hook, NULL, 0,
		"the hook for matching messages instead of the account's",
		T_COMMAND(set_string)),
	RULE("download", download, NULL, 0,
		"how much of a matching message to download, instead of download_limit",
		T_ENUM(download_names)),
};

#undef SECRET
#undef SESSION
#undef INHERITS
#undef REQUIRED

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
	g_free(account->open_cmd);
	g_free(account->icon);
	g_free(account->hook);
	g_free(account->sync_hook);
	g_strfreev(account->sync_hooks);
	quiet_destroy(account->quiet_hours);
	if (account->key_lines)
		g_hash_table_destroy(account->key_lines);
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
		/* A secret that no sign-in would use is a mistake, not a spare. */
		const char *pw_key = a->password ? "password" : "password_cmd";
		if (a->oauth_token_cmd && (a->auth == MB_AUTH_PLAIN || a->auth == MB_AUTH_LOGIN))
			return fail(p, line, "account %s: oauth_token_cmd is not used with auth = %s: remove it",
				a->name, a->auth == MB_AUTH_PLAIN ? "plain" : "login");
		if (has_password && (a->auth == MB_AUTH_XOAUTH2 || a->auth == MB_AUTH_OAUTHBEARER))
			return fail(p, line, "account %s: %s is not used with auth = %s: remove it", a->name,
				pw_key, a->auth == MB_AUTH_XOAUTH2 ? "xoauth2" : "oauthbearer");
		if (has_password && a->oauth_token_cmd && a->auth == MB_AUTH_AUTO)
			return fail(p, line, "account %s: with oauth_token_cmd, auth = auto signs in with the "
				"token and %s is not used: remove one, or set auth = plain or login", a->name, pw_key);
		if (!seen(p, "port"))
			a->port = a->tls == MB_TLS_IMPLICIT ? 993 : 143;
		for (size_t i = 0; a->sync_hooks && a->sync_hooks[i]; i += 2) {
			if (!mailbox_watched(a, a->sync_hooks[i])) {
				char *key = g_strconcat("sync_hook.", a->sync_hooks[i], NULL);
				int at = seen_line(p, key);
				g_free(key);
				char *list = g_strjoinv(", ", a->mailboxes);
				fail(p, at, "account %s: sync_hook.%s: %s is not one of the mailboxes watched (%s)",
					a->name, a->sync_hooks[i], a->sync_hooks[i], list);
				g_free(list);
				return false;
			}
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

static GHashTable *
new_key_lines(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/* The defaults of section's rows, set by their own setters from the text
 * mailbell.ini(5) shows, on base (a struct mb_config, mb_account_config or
 * mb_rule). Rows without a default get the kind's "unset" value. */
static void
apply_defaults(struct parser *p, enum section_kind section, void *base)
{
	int lineno = p->lineno;
	p->lineno = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
		const struct setting *s = &settings[i];
		if (s->section != section)
			continue;
		void *field = (char *)base + s->offset;
		if (s->def) {
			if (!s->set(p, s, field, s->def))
				g_error("settings table: bad default for %s: %s", s->key, p->error->message);
		} else if (s->kind == KIND_TRISTATE) {
			*(int *)field = -1;
		} else if (s->kind == KIND_ACCOUNT_SIZE) {
			*(int64_t *)field = -1;
		}
	}
	p->lineno = lineno;
}

/* Ends the section being read: a rule's key lines are the parser's own. */
static void
leave_section(struct parser *p)
{
	if (p->kind == SECTION_RULE && p->seen)
		g_hash_table_destroy(p->seen);
	p->seen = NULL;
	p->account = NULL;
	p->rule = NULL;
	p->kind = SECTION_NONE;
	g_clear_pointer(&p->label, g_free);
}

static bool
begin_section(struct parser *p, char *header)
{
	if (!finish_section(p))
		return false;
	leave_section(p);

	const char *name = NULL;
	if (strcmp(header, "general") == 0) {
		p->kind = SECTION_GENERAL;
		p->seen = p->config->key_lines;
		p->label = g_strdup("[general]");
	} else if ((name = named_section(header, "account"))) {
		if (!begin_named(p, "account", name, p->account_lines))
			return false;
		struct mb_account_config *a = g_new0(struct mb_account_config, 1);
		a->name = g_strdup(name);
		a->line = p->lineno;
		a->key_lines = new_key_lines();
		g_ptr_array_add(p->config->accounts, a);
		p->account = a;
		p->kind = SECTION_ACCOUNT;
		p->seen = a->key_lines;
		p->label = g_strdup_printf("[account %s]", name);
		apply_defaults(p, SECTION_ACCOUNT, a);
	} else if ((name = named_section(header, "rule"))) {
		if (!begin_named(p, "rule", name, p->rule_lines))
			return false;
		struct mb_rule *r = mb_rule_create(name, p->lineno);
		g_ptr_array_add(p->config->rules, r);
		p->rule = r;
		p->kind = SECTION_RULE;
		p->seen = new_key_lines();
		p->label = g_strdup_printf("[rule %s]", name);
		apply_defaults(p, SECTION_RULE, r);
	} else {
		return fail(p, p->lineno, "unknown section [%s]", header);
	}
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
	p->line = line;
	p->line_len = len;
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
	bool per_mailbox = p->kind == SECTION_ACCOUNT && g_str_has_prefix(key, "sync_hook.");
	for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
		if (settings[i].section == p->kind
		    && strcmp(settings[i].key, per_mailbox ? "sync_hook.MAILBOX" : key) == 0) {
			s = &settings[i];
			break;
		}
	}
	if (!s)
		return fail(p, p->lineno, "unknown key '%s' in %s", key, p->label);
	if (per_mailbox) {
		/* inih ends a key at ':' as well as '=': "sync_hook.a:b = x"
		 * would become key "sync_hook.a", value "b = x" */
		const char *eq = p->line ? memchr(p->line, '=', p->line_len) : NULL;
		const char *colon = p->line ? memchr(p->line, ':', p->line_len) : NULL;
		if (colon && (!eq || colon < eq))
			return fail(p, p->lineno, "a mailbox name with ':' cannot be written in sync_hook.MAILBOX: "
				"use a pattern, e.g. sync_hook.%s*", key + strlen("sync_hook."));
	}
	p->key = key;

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
	config->key_lines = new_key_lines();
	config->accounts = g_ptr_array_new_with_free_func((GDestroyNotify)account_destroy);
	config->rules = g_ptr_array_new_with_free_func((GDestroyNotify)mb_rule_destroy);

	struct parser p = {
		.path = path,
		.config = config,
		.data = data,
		.size = size,
		.account_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		.rule_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		.account_checks = g_array_new(FALSE, FALSE, sizeof(struct account_check)),
	};
	apply_defaults(&p, SECTION_GENERAL, config);
	/* derived: a burst of mail starts hooks as fast as the machine can run
	 * them, and a small one still gets a few at once */
	config->hook_concurrency = CLAMP(g_get_num_processors(), 4, 256);
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

	leave_section(&p);
	g_hash_table_destroy(p.account_lines);
	g_hash_table_destroy(p.rule_lines);
	g_array_free(p.account_checks, TRUE);
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
	g_free(config->open_cmd);
	g_free(config->icon);
	g_free(config->hook);
	g_free(config->sync_hook);
	g_free(config->state_dir);
	quiet_destroy(config->quiet_hours);
	if (config->key_lines)
		g_hash_table_destroy(config->key_lines);
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
mb_account_config_sync_hook(const struct mb_config *config, const struct mb_account_config *account,
	const char *mailbox)
{
	/* the exact name first, then the first pattern that matches */
	for (int patterns = 0; mailbox && patterns < 2; patterns++) {
		for (size_t i = 0; account->sync_hooks && account->sync_hooks[i]; i += 2) {
			const char *m = account->sync_hooks[i];
			bool hit = patterns ? pattern_matches(m, mailbox)
				: strcmp(m, mailbox) == 0 || (g_ascii_strcasecmp(m, "INBOX") == 0
					&& g_ascii_strcasecmp(mailbox, "INBOX") == 0);
			if (hit)
				return account->sync_hooks[i + 1][0] ? account->sync_hooks[i + 1] : NULL;
		}
	}
	if (account->sync_hook)
		return account->sync_hook[0] ? account->sync_hook : NULL;
	return config->sync_hook;
}

bool
mb_account_config_has_sync_hook(const struct mb_config *config, const struct mb_account_config *account)
{
	if (mb_account_config_sync_hook(config, account, NULL))
		return true;
	for (size_t i = 0; account->sync_hooks && account->sync_hooks[i]; i += 2) {
		if (account->sync_hooks[i + 1][0])
			return true;
	}
	return false;
}

unsigned
mb_account_config_sync_on(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->sync_on ? account->sync_on : config->sync_on;
}

const char *
mb_account_config_hook(const struct mb_config *config, const struct mb_account_config *account)
{
	if (account->hook)
		return account->hook[0] ? account->hook : NULL;
	return config->hook;
}

const char *
mb_account_config_open_cmd(const struct mb_config *config, const struct mb_account_config *account)
{
	if (account->open_cmd)
		return account->open_cmd[0] ? account->open_cmd : NULL;
	return config->open_cmd;
}

bool
mb_account_config_mark_read(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->mark_read >= 0 ? account->mark_read != 0 : config->mark_read;
}

bool
mb_account_config_sound(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->sound >= 0 ? account->sound != 0 : config->sound;
}

const char *
mb_account_config_icon(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->icon ? account->icon : config->icon;
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

const struct mb_quiet_hours *
mb_account_config_quiet_hours(const struct mb_config *config, const struct mb_account_config *account)
{
	return account->quiet_hours ? account->quiet_hours : config->quiet_hours;
}

/* --- the settings table, read from outside ------------------------------ */

static const char *const section_names[] = {
	[SECTION_GENERAL] = "general",
	[SECTION_ACCOUNT] = "account",
	[SECTION_RULE] = "rule",
};

/* Built once from settings[]; the strings it makes are never freed. */
static struct mb_setting_info *infos;

static const char *
make_range(const struct setting *s)
{
	switch (s->kind) {
	case KIND_DURATION: {
		char *min = format_duration(s->min), *max = format_duration(s->max);
		char *range = g_strdup_printf("%s..%s", min, max);
		g_free(min);
		g_free(max);
		return range;
	}
	case KIND_NUMBER:
	case KIND_PORT:
		if (s->max == UINT_MAX)
			return g_strdup_printf("%u..", s->min);
		return g_strdup_printf("%u..%u", s->min, s->max);
	case KIND_ENUM:
		return join_names(s, " | ", " | ");
	default:
		return NULL;
	}
}

const struct mb_setting_info *
mb_config_settings(size_t *n_r)
{
	static gsize built;
	if (g_once_init_enter(&built)) {
		infos = g_new0(struct mb_setting_info, G_N_ELEMENTS(settings));
		for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
			const struct setting *s = &settings[i];
			infos[i] = (struct mb_setting_info){
				.section = section_names[s->section],
				.key = s->key,
				.type = s->type,
				.def = s->def,
				.range = make_range(s),
				.flags = s->flags,
				.description = s->description,
			};
		}
		g_once_init_leave(&built, 1);
	}
	if (n_r)
		*n_r = G_N_ELEMENTS(settings);
	return infos;
}

static const struct setting *
find_setting(enum section_kind section, const char *key)
{
	for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
		if (settings[i].section == section && strcmp(settings[i].key, key) == 0)
			return &settings[i];
	}
	return NULL;
}

/* A [general] row whose value reaches accounts only through an account row
 * that inherits it: compared there, as the account's effective value. */
static bool
is_inherited(const struct setting *s)
{
	const struct setting *a = find_setting(SECTION_ACCOUNT, s->key);
	return a && (a->flags & MB_SETTING_INHERITS);
}

/* A value read from a row's field, made comparable across the kinds an
 * account row and the [general] row it inherits use (tristate and bool,
 * int64 and uint64 sizes; "" and NULL both mean no string). */
struct value {
	enum { V_NONE, V_INT, V_STRING, V_LIST, V_QUIET, V_CONDITION } type;
	guint64 u;
	const char *str;
	char *const *list;
	const struct mb_quiet_hours *quiet;
	const struct mb_condition *cond;
};

static struct value
get_value(const struct setting *s, const void *field)
{
	struct value v = { .type = V_INT };
	switch (s->kind) {
	case KIND_DURATION:
	case KIND_NUMBER:
	case KIND_ACTIONS:
		v.u = *(const unsigned *)field;
		break;
	case KIND_SYNC_ON:
		v.u = *(const unsigned *)field;
		if (v.u == 0)
			v.type = V_NONE;
		break;

	case KIND_PORT:
		v.u = *(const uint16_t *)field;
		break;
	case KIND_BOOL:
		v.u = *(const bool *)field;
		break;
	case KIND_TRISTATE:
		if (*(const int *)field < 0)
			v.type = V_NONE;
		v.u = *(const int *)field > 0;
		break;
	case KIND_ENUM:
		v.u = (guint64)*(const int *)field;
		break;
	case KIND_SIZE:
		v.u = *(const uint64_t *)field;
		break;
	case KIND_ACCOUNT_SIZE:
		if (*(const int64_t *)field < 0)
			v.type = V_NONE;
		else
			v.u = (guint64)*(const int64_t *)field;
		break;
	case KIND_RULE_SIZE:
		if (!*(const bool *)((const char *)field - s->offset + s->aux))
			v.type = V_NONE;
		else
			v.u = *(const uint64_t *)field;
		break;
	case KIND_STRING:
		v.type = V_STRING;
		v.str = *(char *const *)field;
		if (v.str && !*v.str)
			v.str = NULL;
		break;
	case KIND_LIST:
	case KIND_SYNC_MAP:
		v.type = V_LIST;
		v.list = *(char **const *)field;
		break;
	case KIND_QUIET:
		v.type = V_QUIET;
		v.quiet = *(struct mb_quiet_hours *const *)field;
		break;
	case KIND_CONDITION:
		v.type = V_CONDITION;
		v.cond = *(struct mb_condition *const *)field;
		break;
	}
	return v;
}

static bool
strv_equal(char *const *a, char *const *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++) {
		if (strcmp(*a, *b) != 0)
			return false;
	}
	return *a == *b;
}

static bool
condition_equal(const struct mb_condition *a, const struct mb_condition *b)
{
	if (!a || !b)
		return a == b;
	if (a->n_patterns != b->n_patterns)
		return false;
	for (size_t i = 0; i < a->n_patterns; i++) {
		const struct mb_pattern *pa = &a->patterns[i], *pb = &b->patterns[i];
		if (pa->negate != pb->negate || !pa->glob != !pb->glob)
			return false;
		if (pa->glob ? strcmp(pa->glob, pb->glob) != 0
			: strcmp(g_regex_get_pattern(pa->regex), g_regex_get_pattern(pb->regex)) != 0)
			return false;
	}
	return true;
}

static bool
value_equal(struct value a, struct value b)
{
	if (a.type != b.type)
		return false;
	switch (a.type) {
	case V_NONE:
		return true;
	case V_INT:
		return a.u == b.u;
	case V_STRING:
		return g_strcmp0(a.str, b.str) == 0;
	case V_LIST:
		return strv_equal(a.list, b.list);
	case V_QUIET:
		return mb_quiet_hours_equal(a.quiet, b.quiet);
	case V_CONDITION:
		return condition_equal(a.cond, b.cond);
	}
	return false;
}

/* Whether the field of an inheriting account row is unset. */
static bool
is_unset(const struct setting *s, const void *field)
{
	switch (s->kind) {
	case KIND_DURATION:
	case KIND_SYNC_ON:
		return *(const unsigned *)field == 0;
	case KIND_TRISTATE:
		return *(const int *)field < 0;
	case KIND_ACCOUNT_SIZE:
		return *(const int64_t *)field < 0;
	case KIND_STRING:
		return *(char *const *)field == NULL;
	case KIND_QUIET:
		return *(struct mb_quiet_hours *const *)field == NULL;
	default:
		return false;
	}
}

/* The field that holds the effective value of account row *s_r: the
 * account's own, or [general]'s when the row inherits and the account does
 * not set it (then *s_r becomes the [general] row). */
static const void *
effective_field(const struct mb_config *c, const struct mb_account_config *a, const struct setting **s_r)
{
	const struct setting *s = *s_r;
	const void *field = (const char *)a + s->offset;
	if (!(s->flags & MB_SETTING_INHERITS) || !is_unset(s, field))
		return field;
	const struct setting *g = find_setting(SECTION_GENERAL, s->key);
	g_assert(g != NULL);
	*s_r = g;
	return (const char *)c + g->offset;
}

/* Whether rule r can apply to the account named name. */
static bool
rule_applies(const struct mb_rule *r, const char *name)
{
	return !r->account || mb_condition_match(r->account, &name, 1);
}

static bool
rules_equal(const struct mb_config *ca, const char *a_name, const struct mb_config *cb, const char *b_name)
{
	guint i = 0, j = 0;
	guint na = ca->rules ? ca->rules->len : 0, nb = cb->rules ? cb->rules->len : 0;
	for (;;) {
		while (i < na && !rule_applies(ca->rules->pdata[i], a_name))
			i++;
		while (j < nb && !rule_applies(cb->rules->pdata[j], b_name))
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		const struct mb_rule *ra = ca->rules->pdata[i++], *rb = cb->rules->pdata[j++];
		if (strcmp(ra->name, rb->name) != 0)
			return false;
		for (size_t k = 0; k < G_N_ELEMENTS(settings); k++) {
			const struct setting *s = &settings[k];
			if (s->section != SECTION_RULE)
				continue;
			if (!value_equal(get_value(s, (const char *)ra + s->offset),
				get_value(s, (const char *)rb + s->offset)))
				return false;
		}
	}
}

/* Compares every row with all of flags (0: every row). */
static bool
accounts_equal(const struct mb_config *ca, const struct mb_account_config *a, const struct mb_config *cb,
	const struct mb_account_config *b, unsigned flags)
{
	if (strcmp(a->name, b->name) != 0)
		return false;
	for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
		const struct setting *s = &settings[i];
		if ((s->flags & flags) != flags)
			continue;
		struct value va, vb;
		if (s->section == SECTION_GENERAL && !is_inherited(s)) {
			va = get_value(s, (const char *)ca + s->offset);
			vb = get_value(s, (const char *)cb + s->offset);
		} else if (s->section == SECTION_ACCOUNT) {
			const struct setting *sa = s, *sb = s;
			const void *fa = effective_field(ca, a, &sa);
			const void *fb = effective_field(cb, b, &sb);
			va = get_value(sa, fa);
			vb = get_value(sb, fb);
		} else {
			continue;
		}
		if (!value_equal(va, vb))
			return false;
	}
	return flags != 0 || rules_equal(ca, a->name, cb, b->name);
}

bool
mb_account_config_equal(const struct mb_config *ca, const struct mb_account_config *a,
	const struct mb_config *cb, const struct mb_account_config *b)
{
	return accounts_equal(ca, a, cb, b, 0);
}

bool
mb_account_config_session_equal(const struct mb_config *ca, const struct mb_account_config *a,
	const struct mb_config *cb, const struct mb_account_config *b)
{
	return accounts_equal(ca, a, cb, b, MB_SETTING_SESSION);
}

/* A value as config text; NULL when unset. */
static char *
format_value(const struct setting *s, const void *field)
{
	struct value v = get_value(s, field);
	switch (v.type) {
	case V_NONE:
		return NULL;
	case V_STRING:
		/* "hook =" in an account, written: "" */
		return g_strdup(*(char *const *)field);
	case V_LIST:
		if (s->kind == KIND_SYNC_MAP && v.list) {
			GString *out = g_string_new(NULL);
			for (size_t i = 0; v.list[i] && v.list[i + 1]; i += 2)
				g_string_append_printf(out, "%s%s: %s", i ? "; " : "", v.list[i], v.list[i + 1]);
			return g_string_free(out, FALSE);
		}
		return v.list ? g_strjoinv(", ", (char **)v.list) : NULL;
	case V_QUIET:
		return v.quiet ? mb_quiet_hours_format(v.quiet) : NULL;
	case V_CONDITION: {
		if (!v.cond)
			return NULL;
		GString *out = g_string_new(NULL);
		for (size_t i = 0; i < v.cond->n_patterns; i++) {
			const struct mb_pattern *pat = &v.cond->patterns[i];
			const char *text = pat->glob ? pat->glob : g_regex_get_pattern(pat->regex);
			g_string_append_printf(out, "%s%s%s", i ? ", " : "", pat->negate ? "!" : "",
				pat->glob ? "" : "~");
			for (; *text; text++) {
				if (*text == ',')
					g_string_append_c(out, '\\');
				g_string_append_c(out, *text);
			}
		}
		return g_string_free(out, FALSE);
	}
	case V_INT:
		break;
	}
	switch (s->kind) {
	case KIND_DURATION:
		return format_duration((unsigned)v.u);
	case KIND_BOOL:
	case KIND_TRISTATE:
		return g_strdup(v.u ? "yes" : "no");
	case KIND_ENUM:
		return v.u < s->n_names && s->names[v.u] ? g_strdup(s->names[v.u]) : NULL;
	case KIND_ACTIONS: {
		if (v.u & MB_ACTION_IGNORE)
			return g_strdup("ignore");
		const char *notify = v.u & MB_ACTION_NOTIFY ? "notify" : NULL;
		const char *hook = v.u & MB_ACTION_HOOK ? "hook" : NULL;
		return g_strjoin(", ", notify ? notify : hook, notify ? hook : NULL, NULL);
	}
	case KIND_SYNC_ON: {
		GString *out = g_string_new(NULL);
		for (size_t k = 0; k < G_N_ELEMENTS(sync_on_names); k++) {
			if (v.u & (1u << k))
				g_string_append_printf(out, "%s%s", out->len ? ", " : "", sync_on_names[k]);
		}
		return g_string_free(out, FALSE);
	}
	default:
		return g_strdup_printf("%" G_GUINT64_FORMAT, v.u);
	}
}

/* Of rows that share one field (mailbox, mailboxes), only one is shown:
 * the one written, else the first. */
static bool
is_shown(size_t i, GHashTable *key_lines)
{
	const struct setting *s = &settings[i];
	size_t first = G_N_ELEMENTS(settings);
	bool any_written = false;
	for (size_t j = 0; j < G_N_ELEMENTS(settings); j++) {
		const struct setting *t = &settings[j];
		if (t->section != s->section || t->offset != s->offset)
			continue;
		if (first == G_N_ELEMENTS(settings))
			first = j;
		any_written |= key_lines && g_hash_table_contains(key_lines, t->key);
	}
	if (any_written)
		return key_lines && g_hash_table_contains(key_lines, s->key);
	return i == first;
}

void
mb_config_foreach_value(const struct mb_config *config, const struct mb_account_config *account,
	mb_config_value_fn fn, void *data)
{
	const struct mb_setting_info *info = mb_config_settings(NULL);
	enum section_kind section = account ? SECTION_ACCOUNT : SECTION_GENERAL;
	GHashTable *key_lines = account ? account->key_lines : config->key_lines;
	for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
		const struct setting *s = &settings[i];
		if (s->section != section || !is_shown(i, key_lines))
			continue;
		const struct setting *e = s;
		const void *field = account ? effective_field(config, account, &e) : (const char *)config + s->offset;
		char *value;
		if (s->flags & MB_SETTING_SECRET)
			value = *(char *const *)field ? g_strdup("***") : NULL;
		else
			value = format_value(e, field);
		bool written = key_lines && g_hash_table_contains(key_lines, s->key);
		if (s->kind == KIND_SYNC_MAP)
			written = value != NULL;
		fn(&info[i], value, !written, data);
		g_free(value);
	}
}
