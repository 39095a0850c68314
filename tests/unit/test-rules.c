/* Tests of rules.c: globs, regexes, negation, every condition kind, first
 * match wins, action, urgency and download words. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "message.h"
#include "rules.h"

/* fnmatch's '?' is one byte in the C locale: globs must not depend on it */
START_TEST(test_glob_any_locale)
{
	const char *saved = setlocale(LC_ALL, NULL);
	char *keep = g_strdup(saved);
	setlocale(LC_ALL, "C");
	ck_assert(mb_glob_match("caf?", "café"));
	ck_assert(!mb_glob_match("caf??", "café"));
	ck_assert(mb_glob_match("[é]mile", "Émile"));
	ck_assert(mb_glob_match("ÉMILE*", "émile zola"));
	ck_assert(mb_glob_match("a\\*b", "a*b"));
	ck_assert(!mb_glob_match("a\\*b", "axb"));
	ck_assert(mb_glob_match("x[", "x["));
	ck_assert(mb_glob_match("[]]", "]"));
	ck_assert(mb_glob_match("(a|b).+", "(A|B).+"));
	setlocale(LC_ALL, keep);
	g_free(keep);
}
END_TEST

START_TEST(test_glob)
{
	static const struct {
		const char *pattern;
		const char *text;
		bool match;
	} cases[] = {
		{ "*@example.org", "alice@example.org", true },
		{ "*@example.org", "alice@example.org.evil", false },
		{ "*@example.org", "alice@sub.example.org", false },
		{ "*@example.org", "@example.org", true },
		{ "*@*.example.org", "bob@lists.example.org", true },
		{ "*@*.example.org", "bob@a.b.example.org", true },
		{ "*@*.example.org", "bob@example.org", false },
		{ "news?@x.org", "news1@x.org", true },
		{ "news?@x.org", "newsx@x.org", true },
		{ "news?@x.org", "news@x.org", false },
		{ "news?@x.org", "news12@x.org", false },
		{ "[ab]*@x", "alice@x", true },
		{ "[ab]*@x", "bob@x", true },
		{ "[ab]*@x", "carol@x", false },
		{ "[!ab]*@x", "carol@x", true },
		/* case-insensitive both ways, ASCII and beyond */
		{ "*@example.org", "Alice@Example.ORG", true },
		{ "ALICE@*", "alice@example.org", true },
		{ "[AB]*@x", "bob@X", true },
		{ "jürgen@*", "JÜRGEN@example.de", true },
		{ "*", "", true },
		{ "*", "anything/with/slashes.and.dots", true },
		{ "?*", "", false },
		{ "", "", true },
		{ "", "a", false },
		{ "exact@x.org", "exact@x.org", true },
		{ "exact@x.org", "exact@x.orgg", false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		bool got = mb_glob_match(cases[i].pattern, cases[i].text);
		ck_assert_msg(got == cases[i].match, "'%s' vs '%s': got %d", cases[i].pattern, cases[i].text, got);
	}
}
END_TEST

/* Messages as message.c builds them, filled by hand. */
static struct mb_message *
msg_new(const char *from_name, const char *from_address, const char *subject)
{
	struct mb_message *m = g_new0(struct mb_message, 1);
	m->account = g_strdup("work");
	m->mailbox = g_strdup("INBOX");
	m->uid = 1;
	m->size = 1000;
	m->from_name = g_strdup(from_name);
	m->from_address = g_strdup(from_address);
	m->subject = g_strdup(subject);
	m->list_id = g_strdup("");
	return m;
}

static void
msg_add_to(struct mb_message *m, const char *name, const char *address)
{
	m->to = g_renew(struct mb_address, m->to, m->n_to + 1);
	m->to[m->n_to].name = g_strdup(name);
	m->to[m->n_to].address = g_strdup(address);
	m->n_to++;
}

static void
msg_set(char **field, const char *value)
{
	g_free(*field);
	*field = g_strdup(value);
}

/* Frees what the tests filled in, whatever message.c's destroy covers. */
static void
msg_free(struct mb_message *m)
{
	g_free(m->account);
	g_free(m->mailbox);
	g_free(m->from_name);
	g_free(m->from_address);
	g_free(m->subject);
	g_free(m->list_id);
	for (size_t i = 0; i < m->n_to; i++) {
		g_free(m->to[i].name);
		g_free(m->to[i].address);
	}
	g_free(m->to);
	g_free(m);
}

static struct mb_condition *
compile_ok(const char *text)
{
	char *err = NULL;
	struct mb_condition *c = mb_condition_compile(text, &err);
	ck_assert_msg(c != NULL, "'%s': %s", text, err ? err : "?");
	ck_assert_ptr_null(err);
	return c;
}

/* A rule with the given conditions; keys are "from", "to", "subject",
 * "list", "account", "mailbox"; NULL-terminated key, value pairs. */
static struct mb_rule *
make_rule(const char *name, ...)
{
	struct mb_rule *r = mb_rule_create(name, 1);
	va_list ap;
	va_start(ap, name);
	const char *key;
	while ((key = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);
		struct mb_condition **field = strcmp(key, "from") == 0 ? &r->from
			: strcmp(key, "to") == 0 ? &r->to
			: strcmp(key, "subject") == 0 ? &r->subject
			: strcmp(key, "list") == 0 ? &r->list
			: strcmp(key, "account") == 0 ? &r->account
			: strcmp(key, "mailbox") == 0 ? &r->mailbox : NULL;
		ck_assert_msg(field != NULL, "unknown key %s", key);
		*field = compile_ok(value);
	}
	va_end(ap);
	return r;
}

/* One rule, one message: does it match? */
static bool
rule_matches(struct mb_rule *r, const struct mb_message *m)
{
	bool match = mb_rule_match(r, m);
	mb_rule_destroy(r);
	return match;
}

START_TEST(test_compile)
{
	struct mb_condition *c = compile_ok("  *@Example.ORG , !~^News(letter)?$,~a\\,b{1\\,3}  ,!x ");
	ck_assert_uint_eq(c->n_patterns, 4);
	ck_assert(!c->patterns[0].negate);
	ck_assert_str_eq(c->patterns[0].glob, "*@Example.ORG");
	ck_assert_ptr_nonnull(c->patterns[0].regex); /* globs are compiled too */
	ck_assert(c->patterns[1].negate);
	ck_assert_ptr_null(c->patterns[1].glob);
	ck_assert_str_eq(g_regex_get_pattern(c->patterns[1].regex), "^News(letter)?$");
	ck_assert(!c->patterns[2].negate);
	ck_assert_str_eq(g_regex_get_pattern(c->patterns[2].regex), "a,b{1,3}");
	ck_assert(c->patterns[3].negate);
	ck_assert_str_eq(c->patterns[3].glob, "x");
	mb_condition_destroy(c);

	/* "\," is a comma, other backslashes stay; "\\," ends an item; a
	 * blank after a backslash is kept */
	c = compile_ok("a\\*b, c\\\\,d\\ ");
	ck_assert_uint_eq(c->n_patterns, 3);
	ck_assert_str_eq(c->patterns[0].glob, "a\\*b");
	ck_assert_str_eq(c->patterns[1].glob, "c\\\\");
	ck_assert_str_eq(c->patterns[2].glob, "d\\ ");
	mb_condition_destroy(c);
	/* a glob beginning with '!' or '~' is written with a backslash */
	c = compile_ok("\\!bang, \\~tilde");
	ck_assert(!c->patterns[0].negate);
	ck_assert_ptr_nonnull(c->patterns[1].glob);
	const char *v[] = { "!bang" };
	ck_assert(mb_condition_match(c, v, 1));
	v[0] = "~tilde";
	ck_assert(mb_condition_match(c, v, 1));
	mb_condition_destroy(c);

	GError *error = NULL;
	ck_assert_ptr_null(g_regex_new("a(", G_REGEX_CASELESS, 0, &error));
	char *regex_err = g_strdup_printf("bad regular expression: %s", error->message);
	g_clear_error(&error);
	const struct {
		const char *text;
		const char *err;
	} bad[] = {
		{ "", "empty value" },
		{ " \t ", "empty value" },
		{ "a,,b", "empty item" },
		{ "a, ", "empty item" },
		{ ",a", "empty item" },
		{ "a,!", "empty pattern after '!'" },
		{ "~", "empty regular expression after '~'" },
		{ "!~", "empty regular expression after '~'" },
		{ "x, ~a(", regex_err },
		{ "!~a(", regex_err },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *err = NULL;
		ck_assert_msg(mb_condition_compile(bad[i].text, &err) == NULL, "'%s' compiled", bad[i].text);
		ck_assert_ptr_nonnull(err);
		ck_assert_str_eq(err, bad[i].err);
		g_free(err);
	}
	/* a glob that cannot be compiled (a set whose range runs backwards;
	 * the fuzzer found it leaking) */
	for (int i = 0; i < 2; i++) {
		char *err = NULL;
		ck_assert_ptr_null(mb_condition_compile(i ? "x, [z-a]" : "!=[\x01rom-=[ ]", &err));
		ck_assert_msg(g_str_has_prefix(err, "bad pattern: "), "%s", err);
		g_free(err);
	}
	/* errstr_r may be NULL */
	ck_assert_ptr_null(mb_condition_compile("~(", NULL));
	g_free(regex_err);
	mb_condition_destroy(NULL);
}
END_TEST

START_TEST(test_condition_match)
{
	static const struct {
		const char *cond;
		const char *values[3];
		bool match;
	} cases[] = {
		/* globs: whole value, case-insensitive */
		{ "*@example.org", { "Bob@EXAMPLE.org" }, true },
		{ "*@example.org", { "bob@example.org.evil" }, false },
		/* any pattern of the list, against any value */
		{ "a@x, b@x", { "b@x" }, true },
		{ "a@x, b@x", { "c@x", "B@X" }, true },
		{ "a@x, b@x", { "c@x", "d@x" }, false },
		/* regexes: searched anywhere, case-insensitive unless (?-i) */
		{ "~invoice", { "Your INVOICE for May" }, true },
		{ "~^invoice$", { "Your invoice" }, false },
		{ "~^invoice$", { "Invoice" }, true },
		{ "~(?-i)Invoice", { "invoice" }, false },
		{ "~(?-i)Invoice", { "An Invoice" }, true },
		{ "~^\\[[a-z]+-dev\\]", { "[Rust-Dev] release" }, true },
		{ "~\\d{3\\,}", { "order 12" }, false },
		{ "~\\d{3\\,}", { "order 1234" }, true },
		{ "~ü", { "GRÜSSE" }, true },
		/* "\," is a literal comma in a glob too */
		{ "Doe\\, *", { "Doe, Jane" }, true },
		{ "Doe\\, *", { "Doe" }, false },
		/* negation: no value may match */
		{ "!*@spam.example", { "a@ham.example" }, true },
		{ "!*@spam.example", { "a@SPAM.example" }, false },
		{ "!*@spam.example", { "a@ham.example", "x@spam.example" }, false },
		{ "!~spam", { "ham" }, true },
		{ "!~spam", { "SPAM!" }, false },
		/* positive and negative mixed: a positive one matches and no
		 * negative one does */
		{ "*@example.org, !boss@*", { "carol@example.org" }, true },
		{ "*@example.org, !boss@*", { "boss@example.org" }, false },
		{ "*@example.org, !boss@*", { "boss@elsewhere.net" }, false },
		{ "*@example.org, !boss@*", { "x@elsewhere.net" }, false },
		{ "!boss@*, *@example.org", { "carol@example.org" }, true },
		{ "!a@*, !b@*", { "c@x" }, true },
		{ "!a@*, !b@*", { "b@x" }, false },
		/* the empty value */
		{ "*", { "" }, true },
		{ "?*", { "" }, false },
		{ "!?*", { "" }, true },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mb_condition *c = compile_ok(cases[i].cond);
		size_t n = 0;
		while (n < G_N_ELEMENTS(cases[i].values) && cases[i].values[n])
			n++;
		bool got = mb_condition_match(c, cases[i].values, n);
		ck_assert_msg(got == cases[i].match, "'%s' vs '%s'...: got %d", cases[i].cond, cases[i].values[0], got);
		mb_condition_destroy(c);
	}

	/* no values: positive patterns fail, negative ones hold */
	struct mb_condition *c = compile_ok("*");
	ck_assert(!mb_condition_match(c, NULL, 0));
	mb_condition_destroy(c);
	c = compile_ok("!*");
	ck_assert(mb_condition_match(c, NULL, 0));
	mb_condition_destroy(c);
	c = compile_ok("a, !b");
	ck_assert(!mb_condition_match(c, NULL, 0));
	mb_condition_destroy(c);
	/* no condition holds */
	ck_assert(mb_condition_match(NULL, NULL, 0));
	/* invalid UTF-8 from a careless caller neither crashes nor warns */
	c = compile_ok("~x, !~zz");
	const char *bad[] = { "\xff x" };
	ck_assert(mb_condition_match(c, bad, 1));
	mb_condition_destroy(c);
}
END_TEST

START_TEST(test_from)
{
	struct mb_message *m = msg_new("The Boss", "boss@example.org", "hi");
	/* the address */
	ck_assert(rule_matches(make_rule("r", "from", "boss@example.org", NULL), m));
	ck_assert(rule_matches(make_rule("r", "from", "*@EXAMPLE.org", NULL), m));
	/* or the display name */
	ck_assert(rule_matches(make_rule("r", "from", "the boss", NULL), m));
	ck_assert(rule_matches(make_rule("r", "from", "~\\bboss\\b", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "from", "boss", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "from", "*@example.net", NULL), m));
	/* a negative pattern is checked against both */
	ck_assert(!rule_matches(make_rule("r", "from", "!The*", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "from", "!boss@*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "from", "!carol@*", NULL), m));

	/* no display name: only the address */
	msg_set(&m->from_name, "");
	ck_assert(rule_matches(make_rule("r", "from", "boss@*", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "from", "The Boss", NULL), m));
	/* no sender at all: the empty address, which only "*" (or a
	 * negation) matches */
	msg_set(&m->from_address, "");
	ck_assert(rule_matches(make_rule("r", "from", "*", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "from", "?*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "from", "!*@*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "from", "~^$", NULL), m));
	/* display name without address */
	msg_set(&m->from_name, "Jürgen");
	ck_assert(rule_matches(make_rule("r", "from", "JÜRGEN", NULL), m));
	msg_free(m);
}
END_TEST

START_TEST(test_to_cc)
{
	struct mb_message *m = msg_new("", "a@x.org", "s");
	/* no recipients: no values */
	ck_assert(!rule_matches(make_rule("r", "to", "*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "to", "!me@*", NULL), m));

	/* To: me, then Cc: the team list (no name) and a name without address */
	msg_add_to(m, "Me Myself", "me@example.org");
	msg_add_to(m, "", "team@lists.example.org");
	msg_add_to(m, "Undisclosed recipients", "");
	ck_assert(rule_matches(make_rule("r", "to", "me@example.org", NULL), m));
	ck_assert(rule_matches(make_rule("r", "to", "team@*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "to", "me myself", NULL), m));
	ck_assert(rule_matches(make_rule("r", "to", "~^undisclosed", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "to", "boss@*", NULL), m));
	/* empty names and addresses are no values: "" is not matched */
	ck_assert(!rule_matches(make_rule("r", "to", "~^$", NULL), m));
	/* "not sent to me directly, only to the list" */
	ck_assert(!rule_matches(make_rule("r", "to", "team@*, !me@*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "to", "team@*, !boss@*", NULL), m));
	msg_free(m);
}
END_TEST

START_TEST(test_subject)
{
	struct mb_message *m = msg_new("", "a@x.org", "[rust-dev] Release 1.80 ready, please test");
	ck_assert(rule_matches(make_rule("r", "subject", "\\[rust-dev\\]*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "subject", "*RELEASE*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "subject", "*ready\\, please*", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "subject", "release*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "subject", "~release [0-9]+\\.[0-9]+", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "subject", "~(?-i)release", NULL), m));
	ck_assert(rule_matches(make_rule("r", "subject", "~(?-i)Release", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "subject", "*release*, !~\\bready\\b", NULL), m));
	/* the empty subject is one value */
	msg_set(&m->subject, "");
	ck_assert(rule_matches(make_rule("r", "subject", "*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "subject", "~^$", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "subject", "?*", NULL), m));
	msg_free(m);
}
END_TEST

START_TEST(test_list)
{
	struct mb_message *m = msg_new("", "a@x.org", "s");
	/* no List-Id: no value; "list = *" is "any list mail" */
	ck_assert(!rule_matches(make_rule("r", "list", "*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "list", "!foo*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "list", "!*", NULL), m));
	msg_set(&m->list_id, "rust.lists.example.org");
	ck_assert(rule_matches(make_rule("r", "list", "*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "list", "rust.lists.*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "list", "RUST.Lists.Example.Org", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "list", "rust", NULL), m));
	ck_assert(rule_matches(make_rule("r", "list", "~^rust\\.", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "list", "!rust.*", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "list", "!*", NULL), m));
	msg_free(m);
}
END_TEST

START_TEST(test_account_mailbox)
{
	struct mb_message *m = msg_new("", "a@x.org", "s");
	msg_set(&m->mailbox, "Lists/rust");
	ck_assert(rule_matches(make_rule("r", "account", "work", NULL), m));
	ck_assert(rule_matches(make_rule("r", "account", "WORK, home", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "account", "home", NULL), m));
	ck_assert(rule_matches(make_rule("r", "account", "!home", NULL), m));
	ck_assert(rule_matches(make_rule("r", "account", "w*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "mailbox", "Lists/*", NULL), m));
	ck_assert(rule_matches(make_rule("r", "mailbox", "lists/rust", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "mailbox", "INBOX", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "mailbox", "Lists", NULL), m));
	ck_assert(rule_matches(make_rule("r", "mailbox", "~^Lists/", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "mailbox", "Lists/*, !*/rust", NULL), m));
	/* both together */
	ck_assert(rule_matches(make_rule("r", "account", "work", "mailbox", "Lists/*", NULL), m));
	ck_assert(!rule_matches(make_rule("r", "account", "home", "mailbox", "Lists/*", NULL), m));
	/* UTF-8 names, folded */
	msg_set(&m->mailbox, "Über uns");
	ck_assert(rule_matches(make_rule("r", "mailbox", "über*", NULL), m));
	msg_free(m);
}
END_TEST

START_TEST(test_size)
{
	struct mb_message *m = msg_new("", "a@x.org", "s");
	struct mb_rule *larger = mb_rule_create("big", 1);
	larger->has_larger = true;
	larger->larger = 1000;
	struct mb_rule *smaller = mb_rule_create("small", 1);
	smaller->has_smaller = true;
	smaller->smaller = 1000;
	/* strict bounds: 1000 is neither larger nor smaller than 1000 */
	m->size = 1000;
	ck_assert(!mb_rule_match(larger, m));
	ck_assert(!mb_rule_match(smaller, m));
	m->size = 1001;
	ck_assert(mb_rule_match(larger, m));
	ck_assert(!mb_rule_match(smaller, m));
	m->size = 999;
	ck_assert(!mb_rule_match(larger, m));
	ck_assert(mb_rule_match(smaller, m));
	/* a range */
	larger->has_smaller = true;
	larger->smaller = 2000;
	m->size = 1500;
	ck_assert(mb_rule_match(larger, m));
	m->size = 2000;
	ck_assert(!mb_rule_match(larger, m));
	/* a bound without its flag is no condition */
	struct mb_rule *none = mb_rule_create("none", 1);
	none->larger = 5000;
	ck_assert(mb_rule_match(none, m));
	mb_rule_destroy(larger);
	mb_rule_destroy(smaller);
	mb_rule_destroy(none);
	msg_free(m);
}
END_TEST

START_TEST(test_and)
{
	struct mb_message *m = msg_new("Rust bot", "bot@rust.example.org", "[ci] build failed");
	msg_set(&m->list_id, "ci.rust.example.org");
	msg_add_to(m, "", "dev@rust.example.org");
	m->size = 5000;
	/* every condition holds */
	struct mb_rule *r = make_rule("r", "from", "*@rust.example.org", "to", "dev@*", "subject", "~failed$",
		"list", "ci.*", "account", "work", "mailbox", "INBOX", NULL);
	r->has_larger = true;
	r->larger = 1000;
	r->has_smaller = true;
	r->smaller = 10000;
	ck_assert(mb_rule_match(r, m));
	/* each one alone can veto */
	msg_set(&m->subject, "[ci] build passed");
	ck_assert(!mb_rule_match(r, m));
	msg_set(&m->subject, "[ci] build failed");
	msg_set(&m->list_id, "");
	ck_assert(!mb_rule_match(r, m));
	msg_set(&m->list_id, "ci.rust.example.org");
	msg_set(&m->mailbox, "Archive");
	ck_assert(!mb_rule_match(r, m));
	msg_set(&m->mailbox, "INBOX");
	m->size = 20000;
	ck_assert(!mb_rule_match(r, m));
	m->size = 5000;
	msg_set(&m->to[0].address, "users@rust.example.org");
	ck_assert(!mb_rule_match(r, m));
	msg_set(&m->to[0].address, "dev@rust.example.org");
	msg_set(&m->account, "home");
	ck_assert(!mb_rule_match(r, m));
	msg_set(&m->account, "work");
	msg_set(&m->from_address, "bot@elsewhere.org");
	ck_assert(!mb_rule_match(r, m));
	msg_set(&m->from_address, "bot@rust.example.org");
	ck_assert(mb_rule_match(r, m));
	mb_rule_destroy(r);
	msg_free(m);
}
END_TEST

START_TEST(test_match_order)
{
	GPtrArray *rules = g_ptr_array_new_with_free_func((GDestroyNotify)mb_rule_destroy);
	g_ptr_array_add(rules, make_rule("boss", "from", "boss@example.org", NULL));
	g_ptr_array_add(rules, make_rule("lists", "list", "*", NULL));
	g_ptr_array_add(rules, make_rule("company", "from", "*@example.org,*@*.example.org", NULL));
	g_ptr_array_add(rules, make_rule("catchall", NULL));

	struct mb_message *m = msg_new("", "BOSS@Example.org", "s");
	msg_set(&m->list_id, "all.example.org");
	const struct mb_rule *r;
	/* the boss's list mail also matches "lists", "company" and
	 * "catchall": the first one wins */
	r = mb_rules_match(rules, m);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "boss");
	msg_set(&m->from_address, "dev@example.org");
	r = mb_rules_match(rules, m);
	ck_assert_str_eq(r->name, "lists");
	msg_set(&m->list_id, "");
	r = mb_rules_match(rules, m);
	ck_assert_str_eq(r->name, "company");
	/* the second glob of a rule counts as much as the first */
	msg_set(&m->from_address, "dev@eu.example.org");
	r = mb_rules_match(rules, m);
	ck_assert_str_eq(r->name, "company");
	/* a rule without conditions matches everything */
	msg_set(&m->from_address, "someone@elsewhere.net");
	r = mb_rules_match(rules, m);
	ck_assert_str_eq(r->name, "catchall");
	msg_set(&m->from_address, "");
	r = mb_rules_match(rules, m);
	ck_assert_str_eq(r->name, "catchall");

	/* without the catch-all, no match is NULL */
	g_ptr_array_remove_index(rules, 3);
	ck_assert_ptr_null(mb_rules_match(rules, m));
	msg_set(&m->from_address, "someone@elsewhere.net");
	ck_assert_ptr_null(mb_rules_match(rules, m));

	g_ptr_array_set_size(rules, 0);
	msg_set(&m->from_address, "boss@example.org");
	ck_assert_ptr_null(mb_rules_match(rules, m));
	ck_assert_ptr_null(mb_rules_match(NULL, m));
	g_ptr_array_free(rules, TRUE);
	msg_free(m);
}
END_TEST

START_TEST(test_create_destroy)
{
	struct mb_rule *r = mb_rule_create("name", 12);
	ck_assert_str_eq(r->name, "name");
	ck_assert_int_eq(r->line, 12);
	ck_assert_ptr_null(r->from);
	ck_assert_ptr_null(r->to);
	ck_assert_ptr_null(r->subject);
	ck_assert_ptr_null(r->list);
	ck_assert_ptr_null(r->account);
	ck_assert_ptr_null(r->mailbox);
	ck_assert(!r->has_larger);
	ck_assert(!r->has_smaller);
	ck_assert_uint_eq(r->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	ck_assert_int_eq(r->urgency, MB_URGENCY_UNSET);
	ck_assert_ptr_null(r->hook);
	ck_assert_int_eq(r->download, MB_DOWNLOAD_POLICY);
	r->hook = g_strdup("run");
	r->subject = compile_ok("~x, y");
	mb_rule_destroy(r);
	mb_rule_destroy(NULL);
}
END_TEST

static char *
write_tmp_config(char **dir_r, const char *text)
{
	*dir_r = g_dir_make_tmp("mb-test-rules-XXXXXX", NULL);
	char *path = g_build_filename(*dir_r, "config.ini", NULL);
	ck_assert(g_file_set_contents(path, text, -1, NULL));
	return path;
}

static void
remove_tmp_config(char *dir, char *path)
{
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
}

/* Rules as config.c builds them from a file. */
START_TEST(test_match_from_config)
{
	char *dir;
	char *path = write_tmp_config(&dir,
		"[account a]\nhost = h\nuser = u\npassword_cmd = p\n"
		"[rule news]\nfrom = *@News.Example.COM , digest?@*\naction = ignore\n"
		"[rule lists]\nmailbox = Lists/*\nlist = ~^(rust|go)\\.\nhook = list-hook\n"
		"[rule big]\nlarger = 1M\ndownload = headers\nurgency = low\n"
		"[rule all]\n");
	GError *error = NULL;
	struct mb_config *c = mb_config_load(path, &error);
	ck_assert_msg(c != NULL, "%s", error ? error->message : "");
	struct mb_message *m = msg_new("", "Daily@news.example.com", "s");
	const struct mb_rule *r = mb_rules_match(c->rules, m);
	ck_assert_str_eq(r->name, "news");
	ck_assert_uint_eq(r->actions, MB_ACTION_IGNORE);
	msg_set(&m->from_address, "DIGEST1@lists.org");
	r = mb_rules_match(c->rules, m);
	ck_assert_str_eq(r->name, "news");
	msg_set(&m->from_address, "digest12@lists.org");
	r = mb_rules_match(c->rules, m);
	ck_assert_str_eq(r->name, "all");
	ck_assert_uint_eq(r->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	msg_set(&m->mailbox, "Lists/rust");
	msg_set(&m->list_id, "Rust.lists.example.org");
	r = mb_rules_match(c->rules, m);
	ck_assert_str_eq(r->name, "lists");
	ck_assert_str_eq(r->hook, "list-hook");
	msg_set(&m->list_id, "python.lists.example.org");
	m->size = 1024 * 1024 + 1;
	r = mb_rules_match(c->rules, m);
	ck_assert_str_eq(r->name, "big");
	ck_assert_int_eq(r->download, MB_DOWNLOAD_HEADERS);
	ck_assert_int_eq(r->urgency, MB_URGENCY_LOW);
	m->size = 1024 * 1024;
	r = mb_rules_match(c->rules, m);
	ck_assert_str_eq(r->name, "all");
	msg_free(m);
	mb_config_destroy(c);
	remove_tmp_config(dir, path);
}
END_TEST

START_TEST(test_parse_actions)
{
	static const struct {
		const char *text;
		unsigned actions;
	} good[] = {
		{ "notify", MB_ACTION_NOTIFY },
		{ "hook", MB_ACTION_HOOK },
		{ "ignore", MB_ACTION_IGNORE },
		{ "notify, hook", MB_ACTION_NOTIFY | MB_ACTION_HOOK },
		{ "hook,notify", MB_ACTION_NOTIFY | MB_ACTION_HOOK },
		{ "notify hook", MB_ACTION_NOTIFY | MB_ACTION_HOOK },
		{ "  NOTIFY ,\tHook  ", MB_ACTION_NOTIFY | MB_ACTION_HOOK },
		{ "Ignore", MB_ACTION_IGNORE },
		{ "notify, notify", MB_ACTION_NOTIFY },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		unsigned actions = 0;
		const char *bad = NULL;
		ck_assert_msg(mb_rules_parse_actions(good[i].text, &actions, &bad), "'%s': %s", good[i].text, bad);
		ck_assert_msg(actions == good[i].actions, "'%s': got %u", good[i].text, actions);
	}

	static const struct {
		const char *text;
		const char *why;
	} bad_cases[] = {
		{ "", "empty action list: use notify, hook or ignore" },
		{ " , ", "empty action list: use notify, hook or ignore" },
		{ "beep", "unknown action: use notify, hook or ignore" },
		{ "notify, beep", "unknown action: use notify, hook or ignore" },
		{ "notifyhook", "unknown action: use notify, hook or ignore" },
		{ "ignore, notify", "ignore cannot be combined with other actions" },
		{ "hook ignore", "ignore cannot be combined with other actions" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		unsigned actions = 12345;
		const char *bad = NULL;
		ck_assert_msg(!mb_rules_parse_actions(bad_cases[i].text, &actions, &bad), "'%s' accepted",
			bad_cases[i].text);
		ck_assert_uint_eq(actions, 12345);
		ck_assert_ptr_nonnull(bad);
		ck_assert_str_eq(bad, bad_cases[i].why);
	}
}
END_TEST

START_TEST(test_parse_urgency_download)
{
	static const struct {
		const char *text;
		bool ok;
		enum mb_urgency urgency;
	} urgencies[] = {
		{ "low", true, MB_URGENCY_LOW },
		{ "normal", true, MB_URGENCY_NORMAL },
		{ "critical", true, MB_URGENCY_CRITICAL },
		{ "Critical", true, MB_URGENCY_CRITICAL },
		{ "LOW", true, MB_URGENCY_LOW },
		{ "", false, 0 },
		{ "high", false, 0 },
		{ "unset", false, 0 },
		{ "low ", false, 0 },
		{ "crit", false, 0 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(urgencies); i++) {
		enum mb_urgency u = MB_URGENCY_UNSET;
		bool ok = mb_rules_parse_urgency(urgencies[i].text, &u);
		ck_assert_msg(ok == urgencies[i].ok, "'%s': got %d", urgencies[i].text, ok);
		ck_assert_int_eq(u, ok ? urgencies[i].urgency : MB_URGENCY_UNSET);
	}

	static const struct {
		const char *text;
		bool ok;
		enum mb_download download;
	} downloads[] = {
		{ "full", true, MB_DOWNLOAD_FULL },
		{ "headers", true, MB_DOWNLOAD_HEADERS },
		{ "Full", true, MB_DOWNLOAD_FULL },
		{ "HEADERS", true, MB_DOWNLOAD_HEADERS },
		{ "", false, 0 },
		{ "policy", false, 0 },
		{ "header", false, 0 },
		{ "body", false, 0 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(downloads); i++) {
		enum mb_download d = MB_DOWNLOAD_POLICY;
		bool ok = mb_rules_parse_download(downloads[i].text, &d);
		ck_assert_msg(ok == downloads[i].ok, "'%s': got %d", downloads[i].text, ok);
		ck_assert_int_eq(d, ok ? downloads[i].download : MB_DOWNLOAD_POLICY);
	}
}
END_TEST

/* config.c reports a bad action list or pattern list at its line. */
START_TEST(test_action_error_in_config)
{
	char *dir;
	char *path = write_tmp_config(&dir,
		"[account a]\nhost = h\nuser = u\npassword_cmd = p\n"
		"[rule r]\nfrom = *\naction = ignore, notify\n");
	GError *error = NULL;
	ck_assert_ptr_null(mb_config_load(path, &error));
	char *want = g_strdup_printf("%s:7: bad action 'ignore, notify': ignore cannot be combined with other actions",
		path);
	ck_assert_str_eq(error->message, want);
	g_clear_error(&error);
	g_free(want);

	ck_assert(g_file_set_contents(path,
		"[account a]\nhost = h\nuser = u\npassword_cmd = p\n"
		"[rule r]\nfrom = a@b, ,c@d\n", -1, NULL));
	ck_assert_ptr_null(mb_config_load(path, &error));
	want = g_strdup_printf("%s:6: empty item in from list 'a@b, ,c@d'", path);
	ck_assert_str_eq(error->message, want);
	g_clear_error(&error);
	g_free(want);

	remove_tmp_config(dir, path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_glob);
	tcase_add_test(tc, test_glob_any_locale);
	tcase_add_test(tc, test_compile);
	tcase_add_test(tc, test_condition_match);
	tcase_add_test(tc, test_from);
	tcase_add_test(tc, test_to_cc);
	tcase_add_test(tc, test_subject);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_account_mailbox);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_and);
	tcase_add_test(tc, test_match_order);
	tcase_add_test(tc, test_create_destroy);
	tcase_add_test(tc, test_match_from_config);
	tcase_add_test(tc, test_parse_actions);
	tcase_add_test(tc, test_parse_urgency_download);
	tcase_add_test(tc, test_action_error_in_config);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
