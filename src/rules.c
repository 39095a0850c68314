#define G_LOG_DOMAIN "mailbell"

#include "rules.h"

#include <string.h>

/* A shell glob as a GRegex, so that matching is by UTF-8 character and
 * Unicode case folding whatever the locale (fnmatch's '?' is one byte under
 * LANG=C): '*' any run of characters ('/' and '.' too: "*@*.example.org",
 * "Lists/" then '*'), '?' one character, "[...]" and "[!...]" (or "[^...]")
 * a set, a backslash makes the next character literal; the whole value must
 * match. An unclosed '[' is literal. */
static GRegex *
glob_compile(const char *glob, GError **error)
{
	GString *re = g_string_new("\\A(?:");
	const char *p = glob;
	while (*p) {
		const char *next = g_utf8_next_char(p);
		if (*p == '*') {
			g_string_append(re, ".*");
		} else if (*p == '?') {
			g_string_append_c(re, '.');
		} else if (*p == '\\' && p[1]) {
			p++;
			next = g_utf8_next_char(p);
			char *lit = g_regex_escape_string(p, (gint)(next - p));
			g_string_append(re, lit);
			g_free(lit);
		} else if (*p == '[') {
			const char *q = p + 1;
			bool negate = *q == '!' || *q == '^';
			if (negate)
				q++;
			const char *body = q;
			if (*q == ']')
				q++; /* a ']' first is one of the set */
			while (*q && *q != ']')
				q++;
			if (!*q) {
				g_string_append(re, "\\[");
			} else {
				g_string_append(re, negate ? "[^" : "[");
				for (const char *c = body; c < q; c++) {
					if (*c == '\\' || *c == '[' || *c == ']' || (*c == '^' && c == body))
						g_string_append_c(re, '\\');
					g_string_append_c(re, *c);
				}
				g_string_append_c(re, ']');
				next = q + 1;
			}
		} else {
			char *lit = g_regex_escape_string(p, (gint)(next - p));
			g_string_append(re, lit);
			g_free(lit);
		}
		p = next;
	}
	g_string_append(re, ")\\z");
	GRegex *regex = g_regex_new(re->str, G_REGEX_CASELESS | G_REGEX_DOTALL, 0, error);
	g_string_free(re, TRUE);
	return regex;
}

bool
mb_glob_match(const char *pattern, const char *text)
{
	char *p = g_utf8_make_valid(pattern, -1);
	char *t = g_utf8_make_valid(text, -1);
	GRegex *re = glob_compile(p, NULL);
	bool match = re && g_regex_match(re, t, 0, NULL);
	if (re)
		g_regex_unref(re);
	g_free(p);
	g_free(t);
	return match;
}

struct mb_rule *
mb_rule_create(const char *name, int line)
{
	struct mb_rule *rule = g_new0(struct mb_rule, 1);
	rule->name = g_strdup(name);
	rule->line = line;
	rule->actions = MB_ACTION_NOTIFY | MB_ACTION_HOOK;
	rule->urgency = MB_URGENCY_UNSET;
	rule->download = MB_DOWNLOAD_POLICY;
	return rule;
}

void
mb_rule_destroy(struct mb_rule *rule)
{
	if (!rule)
		return;
	g_free(rule->name);
	mb_condition_destroy(rule->from);
	mb_condition_destroy(rule->to);
	mb_condition_destroy(rule->subject);
	mb_condition_destroy(rule->list);
	mb_condition_destroy(rule->account);
	mb_condition_destroy(rule->mailbox);
	g_free(rule->hook);
	g_free(rule);
}

void
mb_condition_destroy(struct mb_condition *cond)
{
	if (!cond)
		return;
	for (size_t i = 0; i < cond->n_patterns; i++) {
		g_free(cond->patterns[i].glob);
		if (cond->patterns[i].regex)
			g_regex_unref(cond->patterns[i].regex);
	}
	g_free(cond->patterns);
	g_free(cond);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits text at the commas that are not written "\,", which become plain
 * commas; every other backslash stays as written, together with the
 * character after it, so "\\," is a backslash (for the glob or regex) and
 * then a separator. Items are trimmed of blanks, but for a blank written
 * after a backslash. */
static GPtrArray *
split_patterns(const char *text)
{
	GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
	GString *item = g_string_new(NULL);
	size_t kept = 0; /* item->str up to here ends with an escape: no trimming */
	for (const char *s = text;; s++) {
		if (*s == '\\' && s[1] == ',') {
			g_string_append_c(item, ',');
			s++;
			kept = item->len;
		} else if (*s == '\\' && s[1] != '\0') {
			g_string_append_len(item, s, 2);
			s++;
			kept = item->len;
		} else if (*s == ',' || *s == '\0') {
			size_t start = 0, end = item->len;
			while (start < end && is_blank(item->str[start]))
				start++;
			while (end > start && end > kept && is_blank(item->str[end - 1]))
				end--;
			g_ptr_array_add(items, g_strndup(item->str + start, end - start));
			g_string_truncate(item, 0);
			kept = 0;
			if (*s == '\0')
				break;
		} else {
			g_string_append_c(item, *s);
		}
	}
	g_string_free(item, TRUE);
	return items;
}

struct mb_condition *
mb_condition_compile(const char *text, char **errstr_r)
{
	/* Messages are "WHAT" or "WHAT: DETAIL"; config.c puts the key's name
	 * after WHAT ("bad regular expression in subject: ..."). */
	char *err = NULL;
	if (!text || text[strspn(text, " \t")] == '\0') {
		if (errstr_r)
			*errstr_r = g_strdup("empty value");
		return NULL;
	}
	GPtrArray *items = split_patterns(text);
	struct mb_condition *cond = g_new0(struct mb_condition, 1);
	cond->patterns = g_new0(struct mb_pattern, items->len);
	for (guint i = 0; i < items->len; i++) {
		const char *item = items->pdata[i];
		struct mb_pattern *pat = &cond->patterns[cond->n_patterns];
		if (*item == '\0') {
			err = g_strdup("empty item");
			goto error;
		}
		if (*item == '!') {
			pat->negate = true;
			item++;
		}
		if (*item == '~') {
			item++;
			if (*item == '\0') {
				err = g_strdup("empty regular expression after '~'");
				goto error;
			}
			GError *error = NULL;
			pat->regex = g_regex_new(item, G_REGEX_CASELESS, 0, &error);
			if (!pat->regex) {
				err = g_strdup_printf("bad regular expression: %s", error->message);
				g_error_free(error);
				goto error;
			}
		} else {
			if (*item == '\0') {
				err = g_strdup("empty pattern after '!'");
				goto error;
			}
			GError *error = NULL;
			pat->regex = glob_compile(item, &error);
			if (!pat->regex) {
				/* e.g. a set with a range backwards: [z-a] */
				err = g_strdup_printf("bad pattern: %s", error->message);
				g_error_free(error);
				goto error;
			}
			pat->glob = g_strdup(item);
		}
		cond->n_patterns++;
	}
	g_ptr_array_free(items, TRUE);
	return cond;
error:
	g_ptr_array_free(items, TRUE);
	mb_condition_destroy(cond);
	if (errstr_r)
		*errstr_r = err;
	else
		g_free(err);
	return NULL;
}

static bool
pattern_match(const struct mb_pattern *pat, const char *value)
{
	return g_regex_match(pat->regex, value, 0, NULL);
}

bool
mb_condition_match(const struct mb_condition *cond, const char *const *values, size_t n)
{
	if (!cond)
		return true;
	/* GRegex needs valid UTF-8, which message.c guarantees, but a caller
	 * may not. */
	char **valid = g_new0(char *, n ? n : 1);
	for (size_t j = 0; j < n; j++) {
		if (!g_utf8_validate(values[j], -1, NULL))
			valid[j] = g_utf8_make_valid(values[j], -1);
	}
	bool has_positive = false, positive = false, negative = false;
	for (size_t i = 0; i < cond->n_patterns && !negative; i++) {
		const struct mb_pattern *pat = &cond->patterns[i];
		if (!pat->negate) {
			has_positive = true;
			if (positive)
				continue;
		}
		for (size_t j = 0; j < n; j++) {
			if (pattern_match(pat, valid[j] ? valid[j] : values[j])) {
				if (pat->negate)
					negative = true;
				else
					positive = true;
				break;
			}
		}
	}
	for (size_t j = 0; j < n; j++)
		g_free(valid[j]);
	g_free(valid);
	return !negative && (positive || !has_positive);
}

static bool
match_one(const struct mb_condition *cond, const char *value)
{
	const char *values[] = { value ? value : "" };
	return mb_condition_match(cond, values, 1);
}

static bool
match_from(const struct mb_condition *cond, const struct mb_message *msg)
{
	const char *values[2];
	size_t n = 0;
	values[n++] = msg->from_address ? msg->from_address : "";
	if (msg->from_name && *msg->from_name)
		values[n++] = msg->from_name;
	return mb_condition_match(cond, values, n);
}

static bool
match_to(const struct mb_condition *cond, const struct mb_message *msg)
{
	const char **values = g_new(const char *, 2 * msg->n_to + 1);
	size_t n = 0;
	for (size_t i = 0; msg->to && i < msg->n_to; i++) {
		if (msg->to[i].address && *msg->to[i].address)
			values[n++] = msg->to[i].address;
		if (msg->to[i].name && *msg->to[i].name)
			values[n++] = msg->to[i].name;
	}
	bool match = mb_condition_match(cond, values, n);
	g_free(values);
	return match;
}

static bool
match_list(const struct mb_condition *cond, const struct mb_message *msg)
{
	const char *values[] = { msg->list_id };
	size_t n = msg->list_id && *msg->list_id ? 1 : 0;
	return mb_condition_match(cond, values, n);
}

bool
mb_rule_match(const struct mb_rule *rule, const struct mb_message *msg)
{
	/* the cheap conditions first */
	if (rule->has_larger && !(msg->size > rule->larger))
		return false;
	if (rule->has_smaller && !(msg->size < rule->smaller))
		return false;
	if (rule->account && !match_one(rule->account, msg->account))
		return false;
	if (rule->mailbox && !match_one(rule->mailbox, msg->mailbox))
		return false;
	if (rule->from && !match_from(rule->from, msg))
		return false;
	if (rule->to && !match_to(rule->to, msg))
		return false;
	if (rule->subject && !match_one(rule->subject, msg->subject))
		return false;
	if (rule->list && !match_list(rule->list, msg))
		return false;
	return true;
}

const struct mb_rule *
mb_rules_match(const GPtrArray *rules, const struct mb_message *msg)
{
	if (!rules || !msg)
		return NULL;
	for (guint i = 0; i < rules->len; i++) {
		const struct mb_rule *rule = rules->pdata[i];
		if (mb_rule_match(rule, msg))
			return rule;
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

bool
mb_rules_parse_urgency(const char *text, enum mb_urgency *urgency_r)
{
	static const char *const names[] = {
		[MB_URGENCY_LOW] = "low",
		[MB_URGENCY_NORMAL] = "normal",
		[MB_URGENCY_CRITICAL] = "critical",
	};
	for (size_t i = MB_URGENCY_LOW; text && i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(text, names[i]) == 0) {
			*urgency_r = (enum mb_urgency)i;
			return true;
		}
	}
	return false;
}

bool
mb_rules_parse_download(const char *text, enum mb_download *download_r)
{
	static const char *const names[] = {
		[MB_DOWNLOAD_FULL] = "full",
		[MB_DOWNLOAD_HEADERS] = "headers",
	};
	for (size_t i = MB_DOWNLOAD_FULL; text && i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(text, names[i]) == 0) {
			*download_r = (enum mb_download)i;
			return true;
		}
	}
	return false;
}
