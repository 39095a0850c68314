/* The INI configuration (inih) turned into struct mb_config, validated, with
 * "file:line: what is wrong" errors. See mailbell.ini(5). */
#ifndef MB_CONFIG_H
#define MB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

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
	char **mailboxes;       /* NULL-terminated, UTF-8, at least one ("INBOX") */
	int notify;             /* -1: inherit [general], 0 no, 1 yes */
	char *hook;             /* NULL: inherit [general]; "" means none */
	unsigned poll_interval; /* seconds; 0: inherit [general] */
	unsigned max_connections;
	int64_t download_limit; /* octets; -1: inherit [general] */
	int preview;            /* -1: inherit [general], 0 no, 1 yes */
	int line;               /* line of the section header */
};

struct mb_config {
	char *path;             /* the file read */
	unsigned keepalive;     /* seconds, 60..1740, default 600 */
	unsigned timeout;       /* seconds, default 30 */
	unsigned poll_interval; /* seconds, default 120 */
	unsigned hook_timeout;  /* seconds a hook may run before SIGTERM, default 60 */
	bool notify;            /* default true */
	char *hook;             /* NULL: no hook */
	char *state_dir;        /* NULL: $XDG_STATE_HOME/mailbell */
	bool catchup;           /* default true */
	unsigned catchup_summary; /* default 5 */
	uint64_t download_limit; /* octets: messages up to this size are
	                          * downloaded in full; default 0 (headers only) */
	bool preview;           /* default true */
	GPtrArray *accounts;    /* of struct mb_account_config *, file order */
	GPtrArray *rules;       /* of struct mb_rule * (rules.h), file order */
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
 * "s", "m", "h" ("45s", "10m", "1h"). Writes seconds to *seconds_r. Returns
 * false for anything else (empty, negative, overflow, unknown unit). */
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

/* Effective poll interval of an account in seconds: its own, else [general]'s. */
unsigned mb_account_config_poll_interval(const struct mb_config *config, const struct mb_account_config *account);

/* Effective download_limit (octets) and preview of an account: its own,
 * else [general]'s. */
uint64_t mb_account_config_download_limit(const struct mb_config *config, const struct mb_account_config *account);
bool mb_account_config_preview(const struct mb_config *config, const struct mb_account_config *account);

#endif
