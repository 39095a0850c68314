/* Filter rules ([rule NAME] sections): conditions on a message's fields,
 * compiled once when the config is read, matched per message in file order;
 * the first rule whose conditions all hold decides what happens (notify,
 * hook, ignore, urgency, its own hook, how much to download). See
 * mailbell.ini(5), RULES. */
#ifndef MB_RULES_H
#define MB_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "message.h"

/* Rule actions, a bit set. */
enum {
	MB_ACTION_NOTIFY = 1 << 0,
	MB_ACTION_HOOK = 1 << 1,
	MB_ACTION_IGNORE = 1 << 2,
};

enum mb_urgency {
	MB_URGENCY_UNSET,    /* the rule says nothing: normal */
	MB_URGENCY_LOW,
	MB_URGENCY_NORMAL,
	MB_URGENCY_CRITICAL,
};

enum mb_download {
	MB_DOWNLOAD_POLICY,  /* the rule says nothing: download_limit decides */
	MB_DOWNLOAD_FULL,    /* the whole message, whatever its size */
	MB_DOWNLOAD_HEADERS, /* the header block only */
};

/* One pattern of a condition: a shell glob (case-insensitive) or a GRegex
 * (PCRE2, case-insensitive unless it says (?-i)); negate: must not match. */
struct mb_pattern {
	bool negate;
	char *glob;          /* the glob as written, or NULL for a regex */
	GRegex *regex;       /* the regex, or the glob compiled to one
	                      * (anchored, case-insensitive, by character) */
};

/* A text condition: holds when one of the positive patterns matches one of
 * the values (or there is no positive pattern) and no negative pattern
 * matches any value. */
struct mb_condition {
	struct mb_pattern *patterns;
	size_t n_patterns;
};

struct mb_rule {
	char *name;          /* from "[rule NAME]" */
	int line;            /* line of the section header, for messages */
	/* Conditions; NULL where the rule has none. */
	struct mb_condition *from;     /* sender address or display name */
	struct mb_condition *to;       /* any address or name in To or Cc */
	struct mb_condition *subject;  /* decoded subject */
	struct mb_condition *list;     /* List-Id (the id between <>) */
	struct mb_condition *account;  /* account name */
	struct mb_condition *mailbox;  /* mailbox name, UTF-8 */
	bool has_larger, has_smaller;
	uint64_t larger;     /* matches when size > larger (octets) */
	uint64_t smaller;    /* matches when size < smaller (octets) */
	/* Results. */
	unsigned actions;    /* MB_ACTION_* bits; IGNORE excludes the others;
	                      * default NOTIFY | HOOK */
	enum mb_urgency urgency;
	char *hook;          /* this rule's hook command instead of the
	                      * account's; NULL: the account's */
	enum mb_download download;
};

/* A new rule named name (copied) with no conditions and the default
 * results. Free with mb_rule_destroy(). */
struct mb_rule *mb_rule_create(const char *name, int line);

/* Frees rule and its compiled patterns. NULL is a no-op. */
void mb_rule_destroy(struct mb_rule *rule);

/* Compiles a condition from its config text: a comma-separated list of
 * patterns ("\," is a comma inside a pattern), each a shell glob, or
 * "~REGEX", each optionally preceded by "!" (must not match). White space
 * around items is trimmed. Returns NULL and sets *errstr_r (g_free) for an
 * empty list or item, or a regex that does not compile (GRegex's message). */
struct mb_condition *mb_condition_compile(const char *text, char **errstr_r);

/* Frees cond. NULL is a no-op. */
void mb_condition_destroy(struct mb_condition *cond);

/* Whether cond holds for the n values (UTF-8, none NULL); see struct
 * mb_condition. With n == 0 a condition with positive patterns fails. */
bool mb_condition_match(const struct mb_condition *cond, const char *const *values, size_t n);

/* Whether every condition of rule holds for msg (msg->account and
 * msg->mailbox for the account and mailbox conditions). A rule without
 * conditions matches every message. */
bool mb_rule_match(const struct mb_rule *rule, const struct mb_message *msg);

/* First rule (file order) that matches msg, or NULL. rules holds struct
 * mb_rule * and may be NULL. The result is borrowed from rules. */
const struct mb_rule *mb_rules_match(const GPtrArray *rules, const struct mb_message *msg);

/* Parses an action list such as "notify, hook" or "ignore" into MB_ACTION_*
 * bits. Returns false for an unknown word, an empty list, or "ignore" mixed
 * with another action; *bad_r then points at a static description. */
bool mb_rules_parse_actions(const char *text, unsigned *actions_r, const char **bad_r);

/* Parses "low", "normal" or "critical" (any case). */
bool mb_rules_parse_urgency(const char *text, enum mb_urgency *urgency_r);

/* Parses "full" or "headers" (any case). */
bool mb_rules_parse_download(const char *text, enum mb_download *download_r);

/* Shell glob match (*, ?, [...]) of pattern against text, case-insensitive
 * (ASCII and UTF-8 case folding); '*' also matches '/' and '.'. */
bool mb_glob_match(const char *pattern, const char *text);

#endif
