/* Sender filter rules: compiled by config.c, matched per message. */
#ifndef MB_RULES_H
#define MB_RULES_H

#include <stdbool.h>
#include <glib.h>
#include "config.h"

/* Shell glob match (*, ?, [...]) of pattern against text, case-insensitive
 * (ASCII and UTF-8 case folding). Neither pointer may be NULL. */
bool mb_glob_match(const char *pattern, const char *text);

/* First rule (file order) with a "from" glob matching address, or NULL.
 * rules holds struct mb_rule *; address may be NULL or "" (matches nothing
 * but a "*" glob). The result is borrowed from rules. */
const struct mb_rule *mb_rules_match(const GPtrArray *rules, const char *address);

/* Parses an action list such as "notify, hook" or "ignore" into MB_ACTION_*
 * bits. Returns false for an unknown word, an empty list, or "ignore" mixed
 * with another action; *bad_r then points at a static description. */
bool mb_rules_parse_actions(const char *text, unsigned *actions_r, const char **bad_r);

#endif
