/* Tests of rules.c: globs, first match wins, action lists. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "rules.h"

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

static struct mb_rule *
make_rule(const char *name, const char *globs, unsigned actions)
{
	struct mb_rule *r = g_new0(struct mb_rule, 1);
	r->name = g_strdup(name);
	r->from = g_strsplit(globs, ",", -1);
	r->actions = actions;
	return r;
}

static void
free_rule(gpointer data)
{
	struct mb_rule *r = data;
	g_free(r->name);
	g_strfreev(r->from);
	g_free(r);
}

START_TEST(test_match_order)
{
	GPtrArray *rules = g_ptr_array_new_with_free_func(free_rule);
	g_ptr_array_add(rules, make_rule("boss", "boss@example.org", MB_ACTION_NOTIFY));
	g_ptr_array_add(rules, make_rule("lists", "*@lists.example.org,*@*.lists.example.org", MB_ACTION_IGNORE));
	g_ptr_array_add(rules, make_rule("company", "*@example.org,*@*.example.org", MB_ACTION_HOOK));
	g_ptr_array_add(rules, make_rule("catchall", "*", MB_ACTION_NOTIFY | MB_ACTION_HOOK));

	const struct mb_rule *r;
	/* boss also matches "company" and "catchall": the first one wins */
	r = mb_rules_match(rules, "BOSS@Example.org");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "boss");
	r = mb_rules_match(rules, "dev@lists.example.org");
	ck_assert_str_eq(r->name, "lists");
	/* the second glob of a rule counts as much as the first */
	r = mb_rules_match(rules, "dev@eu.lists.example.org");
	ck_assert_str_eq(r->name, "lists");
	r = mb_rules_match(rules, "carol@example.org");
	ck_assert_str_eq(r->name, "company");
	r = mb_rules_match(rules, "someone@elsewhere.net");
	ck_assert_str_eq(r->name, "catchall");
	/* no address: only "*" matches */
	r = mb_rules_match(rules, NULL);
	ck_assert_str_eq(r->name, "catchall");
	r = mb_rules_match(rules, "");
	ck_assert_str_eq(r->name, "catchall");

	/* without the catch-all, no match is NULL */
	g_ptr_array_remove_index(rules, 3);
	ck_assert_ptr_null(mb_rules_match(rules, "someone@elsewhere.net"));
	ck_assert_ptr_null(mb_rules_match(rules, NULL));
	ck_assert_ptr_null(mb_rules_match(rules, ""));

	g_ptr_array_set_size(rules, 0);
	ck_assert_ptr_null(mb_rules_match(rules, "boss@example.org"));
	g_ptr_array_free(rules, TRUE);
}
END_TEST

/* Rules as config.c builds them from a file. */
START_TEST(test_match_from_config)
{
	char *dir = g_dir_make_tmp("mb-test-rules-XXXXXX", NULL);
	char *path = g_build_filename(dir, "config.ini", NULL);
	ck_assert(g_file_set_contents(path,
		"[account a]\nhost = h\nuser = u\npassword_cmd = p\n"
		"[rule news]\nfrom = *@News.Example.COM , digest?@*\naction = ignore\n"
		"[rule all]\nfrom = *\n", -1, NULL));
	GError *error = NULL;
	struct mb_config *c = mb_config_load(path, &error);
	ck_assert_msg(c != NULL, "%s", error ? error->message : "");
	const struct mb_rule *r = mb_rules_match(c->rules, "Daily@news.example.com");
	ck_assert_str_eq(r->name, "news");
	ck_assert_uint_eq(r->actions, MB_ACTION_IGNORE);
	r = mb_rules_match(c->rules, "DIGEST1@lists.org");
	ck_assert_str_eq(r->name, "news");
	r = mb_rules_match(c->rules, "digest12@lists.org");
	ck_assert_str_eq(r->name, "all");
	ck_assert_uint_eq(r->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	mb_config_destroy(c);
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
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

/* config.c reports a bad action list at its line. */
START_TEST(test_action_error_in_config)
{
	char *dir = g_dir_make_tmp("mb-test-rules-XXXXXX", NULL);
	char *path = g_build_filename(dir, "config.ini", NULL);
	ck_assert(g_file_set_contents(path,
		"[account a]\nhost = h\nuser = u\npassword_cmd = p\n"
		"[rule r]\nfrom = *\naction = ignore, notify\n", -1, NULL));
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

	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_glob);
	tcase_add_test(tc, test_match_order);
	tcase_add_test(tc, test_match_from_config);
	tcase_add_test(tc, test_parse_actions);
	tcase_add_test(tc, test_action_error_in_config);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
