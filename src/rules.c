#define G_LOG_DOMAIN "mailbell"

#include "rules.h"

#include <fnmatch.h>
#include <string.h>

/* g_utf8_strdown() requires valid UTF-8; anything else is folded as ASCII. */
static char *
fold(const char *s)
{
	if (g_utf8_validate(s, -1, NULL))
		return g_utf8_strdown(s, -1);
	return g_ascii_strdown(s, -1);
}

bool
mb_glob_match(const char *pattern, const char *text)
{
	char *p = fold(pattern);
	char *t = fold(text);
	/* No FNM_PATHNAME or FNM_PERIOD: '*' matches '/' and '.' too, which is
	 * what "*@*.example.org" needs. */
	bool match = fnmatch(p, t, 0) == 0;
	g_free(p);
	g_free(t);
	return match;
}

const struct mb_rule *
mb_rules_match(const GPtrArray *rules, const char *address)
{
	if (!rules)
		return NULL;
	if (!address)
		address = "";
	for (guint i = 0; i < rules->len; i++) {
		const struct mb_rule *rule = rules->pdata[i];
		for (char **glob = rule->from; glob && *glob; glob++) {
			if (mb_glob_match(*glob, address))
				return rule;
		}
	}
	return NULL;
}

bool
mb_rules_parse_actions(const char *text, unsigned *actions_r, const char **bad_r)
{
	static const struct {
		const char *word;
		unsigned bit;
	} words[] = {
		{ "notify", MB_ACTION_NOTIFY },
		{ "hook", MB_ACTION_HOOK },
		{ "ignore", MB_ACTION_IGNORE },
	};
	const char *bad = NULL;
	unsigned actions = 0;
	char **tokens = g_strsplit_set(text ? text : "", ", \t", -1);
	for (char **t = tokens; *t; t++) {
		if (**t == '\0')
			continue;
		unsigned bit = 0;
		for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
			if (g_ascii_strcasecmp(*t, words[i].word) == 0)
				bit = words[i].bit;
		}
		if (!bit) {
			bad = "unknown action: use notify, hook or ignore";
			goto out;
		}
		actions |= bit;
	}
	if (actions == 0)
		bad = "empty action list: use notify, hook or ignore";
	else if ((actions & MB_ACTION_IGNORE) && actions != MB_ACTION_IGNORE)
		bad = "ignore cannot be combined with other actions";
out:
	g_strfreev(tokens);
	if (bad) {
		if (bad_r)
			*bad_r = bad;
		return false;
	}
	*actions_r = actions;
	return true;
}
