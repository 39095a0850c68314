/* The INI configuration (inih) turned into struct mb_config, validated, with
 * "file:line: what is wrong" errors. See mailbell.ini(5). */
#ifndef MB_CONFIG_H
#define MB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "quiet.h"

/* The most octets mailbell downloads of one message (download_limit, a
 * rule's download = full): half the IMAP parser's literal limit. */
#define MB_DOWNLOAD_MAX (32u * 1024 * 1024)

/* Exit status for a bad configuration (sysexits.h EX_CONFIG). */
#define MB_EXIT_CONFIG 78

enum mb_tls_mode {
	MB_TLS_IMPLICIT,  /* TLS from the first byte (RFC 8314), port 993 */
	MB_TLS_STARTTLS,  /* plaintext then STARTTLS (RFC 3501 6.2.1), port 143 */
	MB_TLS_NONE,      /* no TLS at all; only when written explicitly */
};

enum mb_auth_method {
	MB_AUTH_AUTO,        /* best offered: OAUTHBEARER/XOAUTH2 with a token
	                      * command, else PLAIN, else LOGIN */
	MB_AUTH_PLAIN,       /* AUTHENTICATE PLAIN (RFC 4616) */
	MB_AUTH_LOGIN,       /* LOGIN command (RFC 3501 6.2.3) */
	MB_AUTH_XOAUTH2,     /* Google/Microsoft XOAUTH2 */
	MB_AUTH_OAUTHBEARER, /* RFC 7628 */
};

/* Which changes start a sync hook (sync_on), as a mask. */
enum mb_sync_on {
	MB_SYNC_NEW = 1 << 0,     /* new messages */
	MB_SYNC_EXPUNGE = 1 << 1, /* messages expunged */
	MB_SYNC_FLAGS = 1 << 2,   /* flags changed (read, flagged, ...) */
};

/* Defaults, ranges and descriptions of every key are in the settings table
 * (mb_config_settings(), mailbell.ini(5)); the comments here say what an
 * unset value means. */
struct mb_account_config {
	char *name;             /* from "[account NAME]" */
	char *host;
	uint16_t port;          /* 993 for implicit, 143 for starttls/none unless set */
	enum mb_tls_mode tls;
	char *ca_file;          /* NULL: system trust store */
	char *tls_fingerprint;  /* NULL, or 64 lower-case hex digits (SHA-256) */
	char *user;
	char *password;         /* at most one of password, password_cmd */
	char *password_cmd;
	char *oauth_token_cmd;
	enum mb_auth_method auth;
	char **mailboxes;       /* NULL-terminated, UTF-8, at least one */
	int notify;             /* -1: inherit [general], 0 no, 1 yes */
	char *open_cmd;         /* NULL: inherit [general]; "" means none */
	int mark_read;          /* -1: inherit [general], 0 no, 1 yes */
	int sound;              /* -1: inherit [general], 0 no, 1 yes */
	char *icon;             /* NULL: inherit [general] */
	char *hook;             /* NULL: inherit [general]; "" means none */
	char *sync_hook;        /* NULL: inherit [general]; "" means none */
	unsigned sync_on;       /* MB_SYNC_* mask; 0: inherit [general] */
	char **sync_hooks;      /* "sync_hook.MAILBOX" keys: NULL-terminated
	                         * pairs MAILBOX, COMMAND ("" means none), in
	                         * file order; NULL when there are none */
	unsigned poll_interval; /* seconds; 0: inherit [general] */
	unsigned max_connections;
	int64_t download_limit; /* octets; -1: inherit [general] */
	int preview;            /* -1: inherit [general], 0 no, 1 yes */
	struct mb_quiet_hours *quiet_hours; /* NULL: inherit [general]; n == 0:
	                         * none ("quiet_hours =") */
	int line;               /* line of the section header */
	GHashTable *key_lines;  /* key -> line it is set on (GINT_TO_POINTER),
	                         * for the keys written in this section */
};

struct mb_config {
	char *path;             /* the file read */
	unsigned keepalive;     /* seconds */
	unsigned timeout;       /* seconds */
	unsigned poll_interval; /* seconds */
	unsigned hook_timeout;  /* seconds a hook may run before SIGTERM */
	unsigned hook_concurrency; /* hooks running at once; when not written:
	                         * the number of CPUs, at least 4 */
	bool notify;
	char *open_cmd;         /* NULL: no "Open" action */
	bool mark_read;         /* offer "Mark as read" */
	bool sound;             /* ask for the new-mail sound */
	char *icon;             /* never NULL */
	unsigned coalesce;      /* seconds; 0: every message on its own */
	unsigned dedupe_window; /* seconds; 0: no dedupe */
	char *hook;             /* NULL: no hook */
	char *sync_hook;        /* NULL: no sync hook */
	unsigned sync_on;       /* MB_SYNC_* mask, never 0 */
	unsigned sync_delay;    /* seconds of quiet before a sync hook runs */
	char *state_dir;        /* NULL: $XDG_STATE_HOME/mailbell */
	bool catchup;
	unsigned catchup_summary; /* lines of a grouped notification */
	uint64_t download_limit; /* octets: messages up to this size are
	                          * downloaded in full; 0: headers only */
	bool preview;
	struct mb_quiet_hours *quiet_hours; /* NULL: none */
	GPtrArray *accounts;    /* of struct mb_account_config *, file order */
	GPtrArray *rules;       /* of struct mb_rule * (rules.h), file order */
	GHashTable *key_lines;  /* [general] key -> line it is set on
	                         * (GINT_TO_POINTER), for the keys written */
};

/* GError domain and codes of mb_config_load(). */
#define MB_CONFIG_ERROR (mb_config_error_quark())
GQuark mb_config_error_quark(void);
enum mb_config_error {
	MB_CONFIG_ERROR_READ,    /* the file cannot be opened or read */
	MB_CONFIG_ERROR_INVALID, /* a syntax error or a bad or missing setting */
};

/* Returns the default config path: $XDG_CONFIG_HOME/mailbell/config.ini, or
 * ~/.config/mailbell/config.ini. Caller frees with g_free(). */
char *mb_config_default_path(void);

/* Reads and validates path. On success returns a config the caller frees with
 * mb_config_destroy(). On failure returns NULL and sets *error to a message of
 * the form "FILE:LINE: what is wrong" (or "FILE: what is wrong" when no line
 * applies, e.g. it cannot be opened, or no account is defined). Warns through
 * g_warning() when the file holds a password and is readable by group or
 * others. */
struct mb_config *mb_config_load(const char *path, GError **error);

/* Frees config and everything it owns. NULL is a no-op. */
void mb_config_destroy(struct mb_config *config);

/* Parses a duration: plain seconds ("90"), or a number with a unit suffix
 * "s", "m", "h", "d" ("45s", "10m", "1h", "1d" = 86400 seconds). Writes
 * seconds to *seconds_r. Returns false for anything else (empty, negative,
 * overflow, unknown unit). */
bool mb_duration_parse(const char *text, unsigned *seconds_r);

/* Parses a size: plain octets ("65536"), or a number with a suffix "K",
 * "M" or "G" (binary: 1K = 1024 octets; lower case and a trailing "B" or
 * "iB" accepted: "64k", "1MB", "5MiB"). Writes octets to *octets_r. Returns
 * false for anything else (empty, negative, fraction, overflow). */
bool mb_size_parse(const char *text, uint64_t *octets_r);

/* Effective settings of an account, [general] applied. The hook is NULL when
 * the account runs no hook (its own "hook =" is empty, or neither it nor
 * [general] sets one); the string is borrowed from config or account. */
bool mb_account_config_notify(const struct mb_config *config, const struct mb_account_config *account);
const char *mb_account_config_hook(const struct mb_config *config, const struct mb_account_config *account);

/* Effective sync hook of changes in mailbox (UTF-8, as the server names it)
 * of account: the account's "sync_hook.MAILBOX", else its sync_hook, else
 * [general]'s; NULL when none applies (an empty value is none). mailbox NULL:
 * the account's own, ignoring per-mailbox keys. Borrowed. */
const char *mb_account_config_sync_hook(const struct mb_config *config, const struct mb_account_config *account,
	const char *mailbox);

/* Whether any sync hook can run for account (its own, [general]'s or a
 * per-mailbox one). */
bool mb_account_config_has_sync_hook(const struct mb_config *config, const struct mb_account_config *account);

/* Effective sync_on of an account (MB_SYNC_* mask, never 0). */
unsigned mb_account_config_sync_on(const struct mb_config *config, const struct mb_account_config *account);

/* Effective notification settings of an account: its own, else
 * [general]'s. open_cmd is NULL when the account has none (its own
 * "open_cmd =" is empty, or neither it nor [general] sets one); the icon is
 * never NULL. Strings are borrowed from config or account. */
const char *mb_account_config_open_cmd(const struct mb_config *config, const struct mb_account_config *account);
bool mb_account_config_mark_read(const struct mb_config *config, const struct mb_account_config *account);
bool mb_account_config_sound(const struct mb_config *config, const struct mb_account_config *account);
const char *mb_account_config_icon(const struct mb_config *config, const struct mb_account_config *account);

/* Effective poll interval of an account in seconds: its own, else [general]'s. */
unsigned mb_account_config_poll_interval(const struct mb_config *config, const struct mb_account_config *account);

/* Effective download_limit (octets) and preview of an account: its own,
 * else [general]'s. */
uint64_t mb_account_config_download_limit(const struct mb_config *config, const struct mb_account_config *account);
bool mb_account_config_preview(const struct mb_config *config, const struct mb_account_config *account);

/* Effective quiet hours of an account: its own (an empty "quiet_hours ="
 * gives no ranges), else [general]'s. NULL or no ranges: none. Borrowed
 * from config or account. */
const struct mb_quiet_hours *mb_account_config_quiet_hours(const struct mb_config *config,
	const struct mb_account_config *account);

/* Flags of a setting. */
enum {
	MB_SETTING_SECRET = 1 << 0,   /* never print the value */
	MB_SETTING_SESSION = 1 << 1,  /* shapes the IMAP connections: a change
	                               * means they must be made anew */
	MB_SETTING_INHERITS = 1 << 2, /* an account key that, unset, takes the
	                               * [general] key of the same name */
	MB_SETTING_REQUIRED = 1 << 3, /* must be set in every such section */
};

/* One row of the settings table: every key mailbell knows, its default and
 * range as mailbell.ini(5) writes them. All strings are static. */
struct mb_setting_info {
	const char *section;     /* "general", "account" or "rule" */
	const char *key;
	const char *type;        /* the value type as mailbell.ini(5) names it:
	                          * "duration", "boolean", "number", "size",
	                          * "path", "command", "string", "list",
	                          * "pattern list", "time ranges", or "choice" */
	const char *def;         /* the default as text ("10m", "yes", "INBOX"),
	                          * or NULL: none, derived (port) or inherited
	                          * from [general] (MB_SETTING_INHERITS) */
	const char *range;       /* "1m..29m", "1..50", "1.." (no upper bound);
	                          * for a choice its words, "implicit | starttls
	                          * | none"; NULL: any value of the type */
	unsigned flags;          /* MB_SETTING_* */
	const char *description; /* one line, lower case, no final period */
};

/* The settings table, in the order of mailbell.ini(5): [general] rows, then
 * [account NAME], then [rule NAME]. Writes the number of rows to *n_r.
 * Static; never freed. */
const struct mb_setting_info *mb_config_settings(size_t *n_r);

/* Called by mb_config_foreach_value() for each key of a section. value is
 * the effective value as config text ("10m", "yes", "65536", "INBOX,
 * Lists/dev", "22:00-07:00"), "***" for a secret that is set, or NULL when
 * the key is unset and has no value (no hook, no ca_file); valid during the
 * call only. is_default: the key is not written in the section (the value
 * is the default, derived, or inherited from [general], which s->flags &
 * MB_SETTING_INHERITS tells). */
typedef void (*mb_config_value_fn)(const struct mb_setting_info *s, const char *value, bool is_default,
	void *data);

/* Calls fn for every key of [general] (account NULL) or of account, in table
 * order, with its effective value. Of keys that are two spellings of one
 * value (mailbox, mailboxes) only the one written is reported, or the first
 * when neither is. */
void mb_config_foreach_value(const struct mb_config *config, const struct mb_account_config *account,
	mb_config_value_fn fn, void *data);

/* Whether two accounts' settings are all equal: the name, every [account]
 * key compared by value (effective values, [general]'s applied), every
 * [general] key that has no [account] counterpart (catchup, hook_timeout,
 * state_dir, keepalive, ...), and the rules that can apply to the account
 * (those whose account condition matches its name), in order, by name and
 * every key. ca and cb are the configs a and b belong to (they may be the
 * same). */
bool mb_account_config_equal(const struct mb_config *ca, const struct mb_account_config *a,
	const struct mb_config *cb, const struct mb_account_config *b);

/* Whether everything that shapes the IMAP connections is equal: the name and
 * the MB_SETTING_SESSION keys, effective values (an account's poll_interval
 * inherited from [general] counts), [general]'s keepalive and timeout
 * included. When true, a reload may keep the account's connections. */
bool mb_account_config_session_equal(const struct mb_config *ca, const struct mb_account_config *a,
	const struct mb_config *cb, const struct mb_account_config *b);

#endif
