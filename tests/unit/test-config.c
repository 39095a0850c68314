/* Tests of config.c: every error with its file:line, defaults, durations,
 * sizes, rule keys, quiet_hours; the settings table (printed values,
 * comparing accounts for a reload) and that mailbell.ini(5) documents each
 * of its keys as the table has it. */
#define G_LOG_DOMAIN "mailbell-test"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "rules.h"

/* The minimal account most tests append to what they check. */
#define ACCOUNT "[account a]\nhost = h\nuser = u\npassword = p\n"

static char *tmpdir;
static char *cfg_path;
static GString *warnings; /* g_warning() texts seen, one per line */

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	(void)data;
	if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) {
		for (gsize i = 0; i < n_fields; i++) {
			if (strcmp(fields[i].key, "MESSAGE") == 0) {
				g_string_append(warnings, fields[i].value);
				g_string_append_c(warnings, '\n');
			}
		}
	}
	return G_LOG_WRITER_HANDLED;
}

static void
setup(void)
{
	tmpdir = g_dir_make_tmp("mb-test-config-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	cfg_path = g_build_filename(tmpdir, "config.ini", NULL);
	g_string_truncate(warnings, 0);
}

static void
teardown(void)
{
	g_unlink(cfg_path);
	g_rmdir(tmpdir);
	g_clear_pointer(&cfg_path, g_free);
	g_clear_pointer(&tmpdir, g_free);
}

static void
write_config(const char *text, mode_t mode)
{
	ck_assert(g_file_set_contents(cfg_path, text, -1, NULL));
	ck_assert_int_eq(chmod(cfg_path, mode), 0);
}

static struct mb_config *
load_ok(const char *text)
{
	write_config(text, 0600);
	GError *error = NULL;
	struct mb_config *config = mb_config_load(cfg_path, &error);
	ck_assert_msg(config != NULL, "unexpected error: %s\nfor:\n%s", error ? error->message : "?", text);
	ck_assert_ptr_null(error);
	return config;
}

/* suffix follows "FILE:", e.g. "3: unknown key 'x' in [general]". */
#define assert_error(text, suffix) assert_error_at(text, suffix, __LINE__)

static void
assert_error_at(const char *text, const char *suffix, int line)
{
	write_config(text, 0600);
	GError *error = NULL;
	struct mb_config *config = mb_config_load(cfg_path, &error);
	ck_assert_msg(config == NULL, "line %d: config accepted:\n%s", line, text);
	ck_assert_msg(error != NULL, "line %d: no GError", line);
	ck_assert(g_error_matches(error, MB_CONFIG_ERROR, MB_CONFIG_ERROR_INVALID));
	char *want = g_strdup_printf("%s:%s", cfg_path, suffix);
	ck_assert_msg(strcmp(error->message, want) == 0, "line %d:\n got: %s\nwant: %s", line,
		error->message, want);
	g_free(want);
	g_error_free(error);
}

static const struct mb_account_config *
account(const struct mb_config *config, guint i)
{
	ck_assert_uint_gt(config->accounts->len, i);
	return config->accounts->pdata[i];
}

static const struct mb_rule *
rule(const struct mb_config *config, guint i)
{
	ck_assert_uint_gt(config->rules->len, i);
	return config->rules->pdata[i];
}

START_TEST(test_duration_parse)
{
	static const struct {
		const char *text;
		bool ok;
		unsigned seconds;
	} cases[] = {
		{ "90", true, 90 },
		{ "0", true, 0 },
		{ "45s", true, 45 },
		{ "10m", true, 600 },
		{ "1h", true, 3600 },
		{ "1d", true, 86400 },
		{ "30d", true, 30 * 86400 },
		{ "49710d", true, 4294944000u },
		{ "007s", true, 7 },
		{ "4294967295", true, 4294967295u },
		{ "71582788m", true, 4294967280u },
		{ "", false, 0 },
		{ "-1", false, 0 },
		{ "+1", false, 0 },
		{ "1x", false, 0 },
		{ "10 m", false, 0 },
		{ " 10m", false, 0 },
		{ "10m ", false, 0 },
		{ "10M", false, 0 },
		{ "1h30m", false, 0 },
		{ "1.5h", false, 0 },
		{ "m", false, 0 },
		{ "s10", false, 0 },
		{ "4294967296", false, 0 },
		{ "71582789m", false, 0 },
		{ "1193047h", false, 0 },
		{ "49711d", false, 0 },
		{ "1D", false, 0 },
		{ "1w", false, 0 },
		{ "d", false, 0 },
		{ "99999999999999999999", false, 0 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		unsigned seconds = 12345;
		bool ok = mb_duration_parse(cases[i].text, &seconds);
		ck_assert_msg(ok == cases[i].ok, "'%s': got %d", cases[i].text, ok);
		if (ok)
			ck_assert_msg(seconds == cases[i].seconds, "'%s': got %u", cases[i].text, seconds);
		else
			ck_assert_uint_eq(seconds, 12345);
	}
}
END_TEST

START_TEST(test_size_parse)
{
	static const struct {
		const char *text;
		bool ok;
		uint64_t octets;
	} cases[] = {
		{ "0", true, 0 },
		{ "65536", true, 65536 },
		{ "007", true, 7 },
		{ "1K", true, 1024 },
		{ "64k", true, 65536 },
		{ "100K", true, 102400 },
		{ "1M", true, 1048576 },
		{ "5m", true, 5242880 },
		{ "1G", true, 1073741824 },
		{ "2g", true, 2147483648u },
		{ "1KB", true, 1024 },
		{ "1kb", true, 1024 },
		{ "1MB", true, 1048576 },
		{ "5MiB", true, 5242880 },
		{ "5mib", true, 5242880 },
		{ "1GiB", true, 1073741824 },
		{ "0K", true, 0 },
		{ "100B", true, 100 },
		{ "100b", true, 100 },
		{ "18446744073709551615", true, UINT64_MAX },
		{ "17179869183G", true, 17179869183ull << 30 },
		{ "", false, 0 },
		{ "K", false, 0 },
		{ "MB", false, 0 },
		{ "-1", false, 0 },
		{ "+1", false, 0 },
		{ "-1K", false, 0 },
		{ "1.5M", false, 0 },
		{ "0.5K", false, 0 },
		{ ",5K", false, 0 },
		{ "1 K", false, 0 },
		{ " 1K", false, 0 },
		{ "1K ", false, 0 },
		{ "1T", false, 0 },
		{ "1KK", false, 0 },
		{ "1KiBB", false, 0 },
		{ "1iB", false, 0 },
		{ "1Ki", false, 0 },
		{ "1BB", false, 0 },
		{ "1e6", false, 0 },
		{ "0x10", false, 0 },
		{ "18446744073709551616", false, 0 },
		{ "99999999999999999999", false, 0 },
		{ "17179869184G", false, 0 },
		{ "18014398509481984K", false, 0 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t octets = 12345;
		bool ok = mb_size_parse(cases[i].text, &octets);
		ck_assert_msg(ok == cases[i].ok, "'%s': got %d", cases[i].text, ok);
		if (ok)
			ck_assert_msg(octets == cases[i].octets, "'%s': got %" G_GUINT64_FORMAT, cases[i].text, octets);
		else
			ck_assert_uint_eq(octets, 12345);
	}
	uint64_t octets = 7;
	ck_assert(!mb_size_parse(NULL, &octets));
	ck_assert_uint_eq(octets, 7);
}
END_TEST

START_TEST(test_defaults)
{
	struct mb_config *c = load_ok(ACCOUNT);
	ck_assert_str_eq(c->path, cfg_path);
	ck_assert_uint_eq(c->keepalive, 600);
	ck_assert_uint_eq(c->timeout, 30);
	ck_assert_uint_eq(c->poll_interval, 120);
	ck_assert_uint_eq(c->hook_timeout, 60);
	/* derived from the machine: its CPUs, at least 4 */
	ck_assert_uint_eq(c->hook_concurrency, CLAMP(g_get_num_processors(), 4, 256));
	ck_assert(c->notify);
	ck_assert_ptr_null(c->open_cmd);
	ck_assert(c->mark_read);
	ck_assert(!c->sound);
	ck_assert_str_eq(c->icon, "mail-unread");
	ck_assert_uint_eq(c->coalesce, 2);
	ck_assert_uint_eq(c->dedupe_window, 86400);
	ck_assert_ptr_null(c->hook);
	ck_assert_ptr_null(c->state_dir);
	ck_assert(c->catchup);
	ck_assert_uint_eq(c->catchup_summary, 5);
	ck_assert_uint_eq(c->download_limit, 0);
	ck_assert(c->preview);
	ck_assert_ptr_null(c->quiet_hours);
	ck_assert_uint_eq(c->accounts->len, 1);
	ck_assert_uint_eq(c->rules->len, 0);
	ck_assert_uint_eq(g_hash_table_size(c->key_lines), 0);

	const struct mb_account_config *a = account(c, 0);
	ck_assert_str_eq(a->name, "a");
	ck_assert_str_eq(a->host, "h");
	ck_assert_uint_eq(a->port, 993);
	ck_assert_int_eq(a->tls, MB_TLS_IMPLICIT);
	ck_assert_ptr_null(a->ca_file);
	ck_assert_ptr_null(a->tls_fingerprint);
	ck_assert_str_eq(a->user, "u");
	ck_assert_str_eq(a->password, "p");
	ck_assert_ptr_null(a->password_cmd);
	ck_assert_ptr_null(a->oauth_token_cmd);
	ck_assert_int_eq(a->auth, MB_AUTH_AUTO);
	ck_assert_ptr_nonnull(a->mailboxes);
	ck_assert_str_eq(a->mailboxes[0], "INBOX");
	ck_assert_ptr_null(a->mailboxes[1]);
	ck_assert_int_eq(a->notify, -1);
	ck_assert_ptr_null(a->open_cmd);
	ck_assert_int_eq(a->mark_read, -1);
	ck_assert_int_eq(a->sound, -1);
	ck_assert_ptr_null(a->icon);
	ck_assert_ptr_null(a->hook);
	ck_assert_uint_eq(a->poll_interval, 0);
	ck_assert_uint_eq(a->max_connections, 5);
	ck_assert_int_eq(a->download_limit, -1);
	ck_assert_int_eq(a->preview, -1);
	ck_assert_ptr_null(a->quiet_hours);
	ck_assert_int_eq(a->line, 1);
	ck_assert_uint_eq(g_hash_table_size(a->key_lines), 3);
	ck_assert_int_eq(GPOINTER_TO_INT(g_hash_table_lookup(a->key_lines, "password")), 4);

	ck_assert(mb_account_config_notify(c, a));
	ck_assert_ptr_null(mb_account_config_open_cmd(c, a));
	ck_assert(mb_account_config_mark_read(c, a));
	ck_assert(!mb_account_config_sound(c, a));
	ck_assert_str_eq(mb_account_config_icon(c, a), "mail-unread");
	ck_assert_ptr_null(mb_account_config_hook(c, a));
	ck_assert_uint_eq(mb_account_config_poll_interval(c, a), 120);
	ck_assert_uint_eq(mb_account_config_download_limit(c, a), 0);
	ck_assert(mb_account_config_preview(c, a));
	ck_assert_ptr_null(mb_account_config_quiet_hours(c, a));
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_rule_defaults)
{
	struct mb_config *c = load_ok(ACCOUNT "[rule r]\nfrom = X@y\n");
	const struct mb_rule *r = rule(c, 0);
	ck_assert_str_eq(r->name, "r");
	ck_assert_ptr_nonnull(r->from);
	ck_assert_uint_eq(r->from->n_patterns, 1);
	/* how a glob is kept (folded or as written) is rules.c's business */
	ck_assert_int_eq(g_ascii_strcasecmp(r->from->patterns[0].glob, "x@y"), 0);
	ck_assert(!r->from->patterns[0].negate);
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
	ck_assert_int_eq(r->line, 5);
	mb_config_destroy(c);

	/* a rule without any condition is allowed: it matches every message */
	c = load_ok(ACCOUNT "[rule r]\naction = notify\n[rule all]\n");
	ck_assert_uint_eq(c->rules->len, 2);
	ck_assert_ptr_null(rule(c, 0)->from);
	ck_assert_uint_eq(rule(c, 0)->actions, MB_ACTION_NOTIFY);
	ck_assert_str_eq(rule(c, 1)->name, "all");
	ck_assert_int_eq(rule(c, 1)->line, 7);
	ck_assert_uint_eq(rule(c, 1)->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_full_fixture)
{
	GError *error = NULL;
	const char *path = MB_TEST_DATA "/config/full.ini";
	struct mb_config *c = mb_config_load(path, &error);
	ck_assert_msg(c != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(c->keepalive, 900);
	ck_assert_uint_eq(c->timeout, 45);
	ck_assert(!c->notify);
	ck_assert_str_eq(c->open_cmd, "thunderbird -mail");
	ck_assert(!c->mark_read);
	ck_assert(c->sound);
	ck_assert_str_eq(c->icon, "/usr/share/icons/mail.svg");
	ck_assert_uint_eq(c->coalesce, 5);
	ck_assert_uint_eq(c->dedupe_window, 2 * 86400);
	ck_assert_str_eq(c->hook, "notify-send \"$MAILBELL_SUBJECT\"");
	ck_assert_uint_eq(c->hook_timeout, 120);
	ck_assert_uint_eq(c->hook_concurrency, 2);
	ck_assert_str_eq(c->state_dir, "/var/tmp/mailbell-state");
	ck_assert_uint_eq(c->poll_interval, 300);
	ck_assert(!c->catchup);
	ck_assert_uint_eq(c->catchup_summary, 3);
	ck_assert_uint_eq(c->download_limit, 65536);
	ck_assert(!c->preview);
	ck_assert_ptr_nonnull(c->quiet_hours);
	ck_assert_uint_eq(c->quiet_hours->n, 2);
	ck_assert_uint_eq(c->quiet_hours->ranges[0].start, 22 * 60);
	ck_assert_uint_eq(c->quiet_hours->ranges[0].end, 7 * 60);
	ck_assert_uint_eq(c->quiet_hours->ranges[1].start, 12 * 60);
	ck_assert_uint_eq(c->quiet_hours->ranges[1].end, 13 * 60);

	ck_assert_uint_eq(c->accounts->len, 3);
	const struct mb_account_config *w = account(c, 0);
	ck_assert_str_eq(w->name, "work");
	ck_assert_str_eq(w->host, "imap.example.org");
	ck_assert_uint_eq(w->port, 1993);
	ck_assert_int_eq(w->tls, MB_TLS_IMPLICIT);
	ck_assert_str_eq(w->ca_file, "/etc/ssl/work-ca.pem");
	ck_assert_str_eq(w->tls_fingerprint, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	ck_assert_str_eq(w->user, "alice@example.org");
	ck_assert_ptr_null(w->password);
	ck_assert_str_eq(w->password_cmd, "pass show mail/work");
	ck_assert_int_eq(w->auth, MB_AUTH_PLAIN);
	ck_assert_str_eq(w->mailboxes[0], "INBOX");
	ck_assert_str_eq(w->mailboxes[1], "Lists/dev");
	ck_assert_str_eq(w->mailboxes[2], "Work Stuff");
	ck_assert_ptr_null(w->mailboxes[3]);
	ck_assert_int_eq(w->notify, 1);
	ck_assert_str_eq(w->open_cmd, "");
	ck_assert_int_eq(w->mark_read, 1);
	ck_assert_int_eq(w->sound, 0);
	ck_assert_str_eq(w->icon, "mail-message-new");
	ck_assert_str_eq(w->hook, "");
	ck_assert_uint_eq(w->poll_interval, 30);
	ck_assert_uint_eq(w->max_connections, 2);
	ck_assert_int_eq(w->download_limit, 1048576);
	ck_assert_int_eq(w->preview, 1);
	ck_assert_ptr_nonnull(w->quiet_hours);
	ck_assert_uint_eq(w->quiet_hours->n, 0);
	ck_assert_int_eq(w->line, 27);
	ck_assert(mb_account_config_notify(c, w));
	ck_assert_ptr_null(mb_account_config_open_cmd(c, w));
	ck_assert(mb_account_config_mark_read(c, w));
	ck_assert(!mb_account_config_sound(c, w));
	ck_assert_str_eq(mb_account_config_icon(c, w), "mail-message-new");
	ck_assert_ptr_null(mb_account_config_hook(c, w));
	ck_assert_uint_eq(mb_account_config_poll_interval(c, w), 30);
	ck_assert_uint_eq(mb_account_config_quiet_hours(c, w)->n, 0);

	const struct mb_account_config *g = account(c, 1);
	ck_assert_str_eq(g->name, "gmail");
	ck_assert_uint_eq(g->port, 143);
	ck_assert_int_eq(g->tls, MB_TLS_STARTTLS);
	ck_assert_int_eq(g->auth, MB_AUTH_XOAUTH2);
	ck_assert_str_eq(g->oauth_token_cmd, "oama access alice@gmail.com");
	ck_assert_str_eq(g->mailboxes[0], "[Gmail]/All Mail");
	ck_assert_ptr_null(g->mailboxes[1]);
	ck_assert(!mb_account_config_notify(c, g));
	ck_assert_str_eq(mb_account_config_open_cmd(c, g), "thunderbird -mail");
	ck_assert(!mb_account_config_mark_read(c, g));
	ck_assert(mb_account_config_sound(c, g));
	ck_assert_str_eq(mb_account_config_icon(c, g), "/usr/share/icons/mail.svg");
	ck_assert_str_eq(mb_account_config_hook(c, g), c->hook);
	const struct mb_quiet_hours *q = mb_account_config_quiet_hours(c, g);
	ck_assert_uint_eq(q->n, 1);
	ck_assert_uint_eq(q->ranges[0].start, 23 * 60);
	ck_assert_uint_eq(q->ranges[0].end, 6 * 60 + 30);

	const struct mb_account_config *l = account(c, 2);
	ck_assert_str_eq(l->password, "not-a-real-password");
	ck_assert_int_eq(l->tls, MB_TLS_NONE);
	ck_assert_ptr_eq(mb_account_config_quiet_hours(c, l), c->quiet_hours);

	ck_assert_uint_eq(c->rules->len, 3);
	const struct mb_rule *n = rule(c, 0);
	ck_assert_str_eq(n->name, "newsletters");
	ck_assert_ptr_nonnull(n->from);
	ck_assert_uint_eq(n->from->n_patterns, 2);
	ck_assert_str_eq(n->from->patterns[0].glob, "*@news.example.com");
	ck_assert_int_eq(g_ascii_strcasecmp(n->from->patterns[1].glob, "newsletter?@*.example.net"), 0);
	ck_assert_uint_eq(n->actions, MB_ACTION_IGNORE);
	ck_assert_uint_eq(rule(c, 1)->actions, MB_ACTION_NOTIFY);
	ck_assert_int_eq(rule(c, 1)->line, 72);
	const struct mb_rule *e = rule(c, 2);
	ck_assert_ptr_nonnull(e->to);
	ck_assert_ptr_nonnull(e->subject);
	ck_assert_ptr_nonnull(e->list);
	ck_assert_ptr_nonnull(e->account);
	ck_assert_ptr_nonnull(e->mailbox);
	ck_assert(e->has_larger && e->larger == 1024);
	ck_assert(e->has_smaller && e->smaller == 5 * 1024 * 1024);
	ck_assert_uint_eq(e->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	ck_assert_int_eq(e->urgency, MB_URGENCY_CRITICAL);
	ck_assert_str_eq(e->hook, "~/bin/urgent.sh");
	ck_assert_int_eq(e->download, MB_DOWNLOAD_FULL);

	/* the fixture sets every [general] and [account] key of the table */
	size_t n_settings;
	const struct mb_setting_info *settings = mb_config_settings(&n_settings);
	for (size_t i = 0; i < n_settings; i++) {
		const struct mb_setting_info *si = &settings[i];
		bool found = false;
		if (strcmp(si->section, "account") == 0 && g_str_has_suffix(si->key, ".MAILBOX")) {
			/* written with a real mailbox name */
			for (guint j = 0; j < c->accounts->len && !found; j++)
				found = account(c, j)->sync_hooks != NULL;
		} else if (strcmp(si->section, "general") == 0) {
			found = g_hash_table_contains(c->key_lines, si->key);
		} else if (strcmp(si->section, "account") == 0) {
			for (guint j = 0; j < c->accounts->len && !found; j++)
				found = g_hash_table_contains(account(c, j)->key_lines, si->key);
		} else {
			continue;
		}
		ck_assert_msg(found, "%s: [%s] key not set in full.ini", si->key, si->section);
	}
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_minimal_fixture)
{
	GError *error = NULL;
	struct mb_config *c = mb_config_load(MB_TEST_DATA "/config/minimal.ini", &error);
	ck_assert_msg(c != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(c->accounts->len, 1);
	ck_assert_int_eq(account(c, 0)->line, 2);
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_ports_per_tls)
{
	static const struct {
		const char *extra;
		unsigned port;
		enum mb_tls_mode tls;
	} cases[] = {
		{ "", 993, MB_TLS_IMPLICIT },
		{ "tls = implicit\n", 993, MB_TLS_IMPLICIT },
		{ "tls = starttls\n", 143, MB_TLS_STARTTLS },
		{ "tls = none\n", 143, MB_TLS_NONE },
		{ "tls = STARTTLS\n", 143, MB_TLS_STARTTLS },
		{ "tls = starttls\nport = 1143\n", 1143, MB_TLS_STARTTLS },
		{ "port = 1\n", 1, MB_TLS_IMPLICIT },
		{ "port = 65535\ntls = none\n", 65535, MB_TLS_NONE },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strconcat(ACCOUNT, cases[i].extra, NULL);
		struct mb_config *c = load_ok(text);
		ck_assert_msg(account(c, 0)->port == cases[i].port, "%s: port %u", text, account(c, 0)->port);
		ck_assert_int_eq(account(c, 0)->tls, cases[i].tls);
		mb_config_destroy(c);
		g_free(text);
	}
}
END_TEST

START_TEST(test_general_durations)
{
	struct mb_config *c = load_ok("[general]\nkeepalive = 1m\ntimeout = 1s\npoll_interval = 10s\n"
		"hook_timeout = 1\n" ACCOUNT);
	ck_assert_uint_eq(c->keepalive, 60);
	ck_assert_uint_eq(c->timeout, 1);
	ck_assert_uint_eq(c->poll_interval, 10);
	ck_assert_uint_eq(c->hook_timeout, 1);
	mb_config_destroy(c);
	c = load_ok("[general]\nkeepalive = 29m\ntimeout = 10m\npoll_interval = 1h\n" ACCOUNT);
	ck_assert_uint_eq(c->keepalive, 1740);
	ck_assert_uint_eq(c->timeout, 600);
	ck_assert_uint_eq(c->poll_interval, 3600);
	mb_config_destroy(c);
	c = load_ok("[general]\nkeepalive = 1740\n" ACCOUNT);
	ck_assert_uint_eq(c->keepalive, 1740);
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_range_errors)
{
	assert_error("[general]\nkeepalive = 59s\n" ACCOUNT, "2: keepalive must be between 1m and 29m");
	assert_error("[general]\nkeepalive = 30m\n" ACCOUNT, "2: keepalive must be between 1m and 29m");
	assert_error("[general]\nkeepalive = 1741\n" ACCOUNT, "2: keepalive must be between 1m and 29m");
	assert_error("[general]\ntimeout = 0\n" ACCOUNT, "2: timeout must be between 1s and 10m");
	assert_error("[general]\ntimeout = 601s\n" ACCOUNT, "2: timeout must be between 1s and 10m");
	assert_error("[general]\npoll_interval = 9s\n" ACCOUNT, "2: poll_interval must be between 10s and 1h");
	assert_error("[general]\npoll_interval = 61m\n" ACCOUNT, "2: poll_interval must be between 10s and 1h");
	assert_error(ACCOUNT "poll_interval = 2h\n", "5: poll_interval must be between 10s and 1h");
	assert_error("[general]\ncatchup_summary = 0\n" ACCOUNT, "2: catchup_summary must be at least 1");
	assert_error("[general]\ncatchup_summary = -1\n" ACCOUNT, "2: bad number '-1' for catchup_summary");
	assert_error(ACCOUNT "port = 0\n", "5: port must be between 1 and 65535");
	assert_error(ACCOUNT "port = 65536\n", "5: port must be between 1 and 65535");
	assert_error(ACCOUNT "port = 99999999999\n", "5: bad number '99999999999' for port");
	assert_error(ACCOUNT "port = imaps\n", "5: bad number 'imaps' for port");
	assert_error(ACCOUNT "port = 9 93\n", "5: bad number '9 93' for port");
	assert_error("[general]\nhook_concurrency = 0\n" ACCOUNT, "2: hook_concurrency must be between 1 and 256");
	assert_error("[general]\nhook_concurrency = 257\n" ACCOUNT, "2: hook_concurrency must be between 1 and 256");
	assert_error(ACCOUNT "max_connections = 0\n", "5: max_connections must be between 1 and 50");
	assert_error(ACCOUNT "max_connections = 51\n", "5: max_connections must be between 1 and 50");

	struct mb_config *c = load_ok("[general]\ncatchup_summary = 1\nhook_concurrency = 1\n" ACCOUNT
		"max_connections = 50\n");
	ck_assert_uint_eq(c->catchup_summary, 1);
	ck_assert_uint_eq(c->hook_concurrency, 1);
	ck_assert_uint_eq(account(c, 0)->max_connections, 50);
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_bad_values)
{
	assert_error("[general]\nkeepalive = 10 m\n" ACCOUNT,
		"2: bad duration '10 m' for keepalive: use e.g. 45s, 10m, 1h");
	assert_error("[general]\ntimeout = soon\n" ACCOUNT,
		"2: bad duration 'soon' for timeout: use e.g. 45s, 10m, 1h");
	assert_error("[general]\nhook_timeout =\n" ACCOUNT,
		"2: bad duration '' for hook_timeout: use e.g. 45s, 10m, 1h");
	assert_error("[general]\nnotify = maybe\n" ACCOUNT, "2: bad boolean 'maybe' for notify: use yes or no");
	assert_error("[general]\ncatchup = 2\n" ACCOUNT, "2: bad boolean '2' for catchup: use yes or no");
	assert_error(ACCOUNT "notify = y\n", "5: bad boolean 'y' for notify: use yes or no");
	assert_error(ACCOUNT "tls = ssl\n", "5: bad value 'ssl' for tls: use implicit, starttls or none");
	assert_error(ACCOUNT "auth = cram-md5\n",
		"5: bad value 'cram-md5' for auth: use auto, plain, login, xoauth2 or oauthbearer");
	assert_error(ACCOUNT "tls_fingerprint = abcd\n",
		"5: bad tls_fingerprint 'abcd': use the SHA-256 fingerprint, 64 hex digits (colons allowed)");
	/* 65 digits, and 64 with a non-hex one */
	assert_error(ACCOUNT "tls_fingerprint = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\n",
		"5: bad tls_fingerprint '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0': "
		"use the SHA-256 fingerprint, 64 hex digits (colons allowed)");
	assert_error(ACCOUNT "tls_fingerprint = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n",
		"5: bad tls_fingerprint '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg': "
		"use the SHA-256 fingerprint, 64 hex digits (colons allowed)");
	assert_error(ACCOUNT "host =\n", "5: duplicate key 'host' in [account a] (first on line 2)");
	assert_error("[account a]\nhost =\n", "2: empty value for host");
	assert_error("[account a]\nhost = h\nuser = \n", "3: empty value for user");
	assert_error("[account a]\nhost = h\nuser = u\npassword =\n", "4: empty value for password");
	assert_error(ACCOUNT "mailbox =\n", "5: empty value for mailbox");
	assert_error(ACCOUNT "mailboxes =\n", "5: empty value for mailboxes");
	assert_error(ACCOUNT "mailboxes = INBOX,,Sent\n", "5: empty item in mailboxes list 'INBOX,,Sent'");
	assert_error(ACCOUNT "mailboxes = INBOX, Sent,\n", "5: empty item in mailboxes list 'INBOX, Sent,'");
	assert_error(ACCOUNT "mailboxes = INBOX, Sent, INBOX\n", "5: mailbox 'INBOX' is listed twice");
}
END_TEST

START_TEST(test_bools)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
		{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
		{ "on", true }, { "off", false }, { "1", true }, { "0", false },
		{ "YES", true }, { "Off", false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strdup_printf("[general]\nnotify = %s\ncatchup = %s\n" ACCOUNT "notify = %s\n",
			cases[i].text, cases[i].text, cases[i].text);
		struct mb_config *c = load_ok(text);
		ck_assert_int_eq(c->notify, cases[i].value);
		ck_assert_int_eq(c->catchup, cases[i].value);
		ck_assert_int_eq(account(c, 0)->notify, cases[i].value ? 1 : 0);
		ck_assert_int_eq(mb_account_config_notify(c, account(c, 0)), cases[i].value);
		mb_config_destroy(c);
		g_free(text);
	}
	/* account notify overrides [general] in both directions */
	struct mb_config *c = load_ok("[general]\nnotify = no\n" ACCOUNT "notify = yes\n"
		"[account b]\nhost = h\nuser = u\npassword_cmd = x\n");
	ck_assert(mb_account_config_notify(c, account(c, 0)));
	ck_assert(!mb_account_config_notify(c, account(c, 1)));
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_hook_empty_vs_unset)
{
	struct mb_config *c = load_ok("[general]\nhook = run-general\n"
		"[account set]\nhost = h\nuser = u\npassword = p\nhook = run-own --flag\n"
		"[account empty]\nhost = h\nuser = u\npassword = p\nhook =\n"
		"[account unset]\nhost = h\nuser = u\npassword = p\n");
	ck_assert_str_eq(c->hook, "run-general");
	ck_assert_str_eq(account(c, 0)->hook, "run-own --flag");
	ck_assert_str_eq(mb_account_config_hook(c, account(c, 0)), "run-own --flag");
	ck_assert_ptr_nonnull(account(c, 1)->hook);
	ck_assert_str_eq(account(c, 1)->hook, "");
	ck_assert_ptr_null(mb_account_config_hook(c, account(c, 1)));
	ck_assert_ptr_null(account(c, 2)->hook);
	ck_assert_str_eq(mb_account_config_hook(c, account(c, 2)), "run-general");
	mb_config_destroy(c);

	/* an empty [general] hook is no hook */
	c = load_ok("[general]\nhook =\n" ACCOUNT);
	ck_assert_ptr_null(c->hook);
	ck_assert_ptr_null(mb_account_config_hook(c, account(c, 0)));
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_sync_hooks)
{
	struct mb_config *c = load_ok("[general]\nsync_hook = mbsync -a\nsync_delay = 0s\n"
		"[account work]\nhost = h\nuser = u\npassword = p\nmailboxes = INBOX, Lists/*, Café\n"
		"sync_on = flags, NEW\nsync_hook.inbox = sync-inbox\nsync_hook.Lists/rust = sync-rust\n"
		"sync_hook.Café =\n"
		"[account none]\nhost = h\nuser = u\npassword = p\nsync_hook =\n"
		"[account plain]\nhost = h\nuser = u\npassword = p\n");
	ck_assert_uint_eq(c->sync_on, MB_SYNC_NEW);
	ck_assert_uint_eq(c->sync_delay, 0);
	const struct mb_account_config *w = account(c, 0);
	ck_assert_uint_eq(mb_account_config_sync_on(c, w), MB_SYNC_NEW | MB_SYNC_FLAGS);
	/* INBOX is case-insensitive, a pattern's match is accepted, empty is none */
	ck_assert_str_eq(mb_account_config_sync_hook(c, w, "INBOX"), "sync-inbox");
	ck_assert_str_eq(mb_account_config_sync_hook(c, w, "Lists/rust"), "sync-rust");
	ck_assert_str_eq(mb_account_config_sync_hook(c, w, "Lists/dev"), "mbsync -a");
	ck_assert_ptr_null(mb_account_config_sync_hook(c, w, "Café"));
	ck_assert_str_eq(mb_account_config_sync_hook(c, w, NULL), "mbsync -a");
	ck_assert(mb_account_config_has_sync_hook(c, w));
	ck_assert_ptr_null(mb_account_config_sync_hook(c, account(c, 1), "INBOX"));
	ck_assert(!mb_account_config_has_sync_hook(c, account(c, 1)));
	ck_assert_str_eq(mb_account_config_sync_hook(c, account(c, 2), "INBOX"), "mbsync -a");
	ck_assert_uint_eq(mb_account_config_sync_on(c, account(c, 2)), MB_SYNC_NEW);
	mb_config_destroy(c);

	/* a per-mailbox hook alone is a sync hook */
	c = load_ok(ACCOUNT "sync_hook.INBOX = x\n");
	ck_assert(mb_account_config_has_sync_hook(c, account(c, 0)));
	ck_assert_ptr_null(mb_account_config_sync_hook(c, account(c, 0), NULL));
	mb_config_destroy(c);

	/* a key may be a pattern: the exact name wins, then the first match */
	c = load_ok(ACCOUNT "mailboxes = INBOX, Lists.*\nsync_hook.Lists.%.old =\nsync_hook.Lists.* = lists\n"
		"sync_hook.Lists.rust = rust\n");
	ck_assert_str_eq(mb_account_config_sync_hook(c, account(c, 0), "Lists.dev"), "lists");
	ck_assert_str_eq(mb_account_config_sync_hook(c, account(c, 0), "Lists.rust"), "rust");
	ck_assert_ptr_null(mb_account_config_sync_hook(c, account(c, 0), "Lists.a.old"));
	ck_assert_ptr_null(mb_account_config_sync_hook(c, account(c, 0), "INBOX"));
	mb_config_destroy(c);
	c = load_ok(ACCOUNT "mailboxes = INBOX, Lists/rust\nsync_hook.Lists/* = lists\n");
	ck_assert_str_eq(mb_account_config_sync_hook(c, account(c, 0), "Lists/rust"), "lists");
	mb_config_destroy(c);
	assert_error(ACCOUNT "mailboxes = INBOX, col:on\nsync_hook.col:on = x\n",
		"6: a mailbox name with ':' cannot be written in sync_hook.MAILBOX: use a pattern, e.g. sync_hook.col*");

	assert_error(ACCOUNT "sync_hook.Work = x\n",
		"5: account a: sync_hook.Work: Work is not one of the mailboxes watched (INBOX)");
	assert_error(ACCOUNT "sync_hook. = x\n", "5: missing mailbox name in 'sync_hook.': use sync_hook.MAILBOX = COMMAND");
	assert_error(ACCOUNT "sync_hook.INBOX = x\nsync_hook.INBOX = y\n",
		"6: duplicate key 'sync_hook.INBOX' in [account a] (first on line 5)");
	assert_error(ACCOUNT "sync_on = new, moved\n", "5: bad word 'moved' in sync_on: use new, expunge and flags");
	assert_error(ACCOUNT "sync_on =\n", "5: empty value for sync_on");
	assert_error("[general]\nsync_hook.INBOX = x\n", "2: unknown key 'sync_hook.INBOX' in [general]");
	assert_error("[general]\nsync_delay = 2h\n" ACCOUNT, "2: sync_delay must be between 0s and 1h");
}
END_TEST

START_TEST(test_notification_keys)
{
	/* each account key overrides [general] in both directions; an empty
	 * open_cmd means none */
	struct mb_config *c = load_ok("[general]\nopen_cmd = xdg-open https://mail.example.org\nmark_read = no\n"
		"sound = yes\nicon = mail-message-new\ncoalesce = 0s\ndedupe_window = 0\n"
		"[account own]\nhost = h\nuser = u\npassword = p\nopen_cmd = thunderbird\nmark_read = yes\n"
		"sound = no\nicon = ~/mail.png\n"
		"[account none]\nhost = h\nuser = u\npassword = p\nopen_cmd =\n"
		"[account inherit]\nhost = h\nuser = u\npassword = p\n");
	ck_assert_str_eq(c->open_cmd, "xdg-open https://mail.example.org");
	ck_assert(!c->mark_read);
	ck_assert(c->sound);
	ck_assert_str_eq(c->icon, "mail-message-new");
	ck_assert_uint_eq(c->coalesce, 0);
	ck_assert_uint_eq(c->dedupe_window, 0);
	ck_assert_str_eq(mb_account_config_open_cmd(c, account(c, 0)), "thunderbird");
	ck_assert(mb_account_config_mark_read(c, account(c, 0)));
	ck_assert(!mb_account_config_sound(c, account(c, 0)));
	/* a string, not a path: "~" is the icon name's business */
	ck_assert_str_eq(mb_account_config_icon(c, account(c, 0)), "~/mail.png");
	ck_assert_str_eq(account(c, 1)->open_cmd, "");
	ck_assert_ptr_null(mb_account_config_open_cmd(c, account(c, 1)));
	ck_assert(!mb_account_config_mark_read(c, account(c, 1)));
	ck_assert_str_eq(mb_account_config_open_cmd(c, account(c, 2)), c->open_cmd);
	ck_assert(mb_account_config_sound(c, account(c, 2)));
	ck_assert_str_eq(mb_account_config_icon(c, account(c, 2)), "mail-message-new");
	mb_config_destroy(c);

	/* an empty [general] open_cmd is none */
	c = load_ok("[general]\nopen_cmd =\ncoalesce = 1h\ndedupe_window = 30d\n" ACCOUNT);
	ck_assert_ptr_null(c->open_cmd);
	ck_assert_ptr_null(mb_account_config_open_cmd(c, account(c, 0)));
	ck_assert_uint_eq(c->coalesce, 3600);
	ck_assert_uint_eq(c->dedupe_window, 30 * 86400);
	mb_config_destroy(c);
	c = load_ok("[general]\ndedupe_window = 12h\ncoalesce = 90\n" ACCOUNT);
	ck_assert_uint_eq(c->dedupe_window, 12 * 3600);
	ck_assert_uint_eq(c->coalesce, 90);
	mb_config_destroy(c);

	assert_error("[general]\ncoalesce = 61m\n" ACCOUNT, "2: coalesce must be between 0s and 1h");
	assert_error("[general]\ncoalesce = 2 s\n" ACCOUNT,
		"2: bad duration '2 s' for coalesce: use e.g. 45s, 10m, 1h");
	assert_error("[general]\ndedupe_window = 31d\n" ACCOUNT, "2: dedupe_window must be between 0s and 30d");
	assert_error("[general]\ndedupe_window = 1w\n" ACCOUNT,
		"2: bad duration '1w' for dedupe_window: use e.g. 45s, 10m, 1h");
	assert_error("[general]\nicon =\n" ACCOUNT, "2: empty value for icon");
	assert_error(ACCOUNT "icon =\n", "5: empty value for icon");
	assert_error(ACCOUNT "mark_read = sometimes\n", "5: bad boolean 'sometimes' for mark_read: use yes or no");
	assert_error("[general]\nsound = loud\n" ACCOUNT, "2: bad boolean 'loud' for sound: use yes or no");
	/* [general] only */
	assert_error(ACCOUNT "coalesce = 2s\n", "5: unknown key 'coalesce' in [account a]");
	assert_error(ACCOUNT "dedupe_window = 1d\n", "5: unknown key 'dedupe_window' in [account a]");
}
END_TEST

START_TEST(test_download_preview)
{
	struct mb_config *c = load_ok("[general]\ndownload_limit = 64K\npreview = no\n"
		"[account own]\nhost = h\nuser = u\npassword = p\ndownload_limit = 1MiB\npreview = yes\n"
		"[account none]\nhost = h\nuser = u\npassword = p\ndownload_limit = 0\n"
		"[account inherit]\nhost = h\nuser = u\npassword = p\n");
	ck_assert_uint_eq(c->download_limit, 65536);
	ck_assert(!c->preview);
	ck_assert_int_eq(account(c, 0)->download_limit, 1048576);
	ck_assert_int_eq(account(c, 0)->preview, 1);
	ck_assert_uint_eq(mb_account_config_download_limit(c, account(c, 0)), 1048576);
	ck_assert(mb_account_config_preview(c, account(c, 0)));
	/* 0 is a value of its own (headers only), not "inherit" */
	ck_assert_int_eq(account(c, 1)->download_limit, 0);
	ck_assert_int_eq(account(c, 1)->preview, -1);
	ck_assert_uint_eq(mb_account_config_download_limit(c, account(c, 1)), 0);
	ck_assert(!mb_account_config_preview(c, account(c, 1)));
	ck_assert_int_eq(account(c, 2)->download_limit, -1);
	ck_assert_uint_eq(mb_account_config_download_limit(c, account(c, 2)), 65536);
	ck_assert(!mb_account_config_preview(c, account(c, 2)));
	mb_config_destroy(c);

	/* and the other way round */
	c = load_ok("[general]\npreview = yes\ndownload_limit = 32M\n" ACCOUNT "preview = off\n");
	ck_assert_uint_eq(c->download_limit, 32u * 1024 * 1024);
	ck_assert(!mb_account_config_preview(c, account(c, 0)));
	ck_assert_uint_eq(mb_account_config_download_limit(c, account(c, 0)), 32u * 1024 * 1024);
	mb_config_destroy(c);

	assert_error("[general]\ndownload_limit = 1.5M\n" ACCOUNT,
		"2: bad size '1.5M' for download_limit: use e.g. 65536, 100K, 5M");
	assert_error("[general]\ndownload_limit =\n" ACCOUNT,
		"2: bad size '' for download_limit: use e.g. 65536, 100K, 5M");
	assert_error(ACCOUNT "download_limit = -1\n",
		"5: bad size '-1' for download_limit: use e.g. 65536, 100K, 5M");
	assert_error(ACCOUNT "download_limit = 10T\n",
		"5: bad size '10T' for download_limit: use e.g. 65536, 100K, 5M");
	assert_error(ACCOUNT "download_limit = 9223372036854775808\n",
		"5: download_limit must be at most 32M (the most mailbell downloads of one message)");
	assert_error("[general]\npreview = some\n" ACCOUNT, "2: bad boolean 'some' for preview: use yes or no");
	assert_error(ACCOUNT "preview = 2\n", "5: bad boolean '2' for preview: use yes or no");
	assert_error(ACCOUNT "preview = no\npreview = no\n",
		"6: duplicate key 'preview' in [account a] (first on line 5)");
}
END_TEST

START_TEST(test_rule_keys)
{
	struct mb_config *c = load_ok(ACCOUNT
		"[rule every]\n"
		"from = boss@*, ~^The Boss$\n"
		"to = me@*, !team@*\n"
		"subject = ~\\d{3\\,} , *urgent*\n"
		"list = rust.lists.*\n"
		"account = a, b*\n"
		"mailbox = Lists/*\n"
		"larger = 10K\n"
		"smaller = 5MiB\n"
		"action = hook, notify\n"
		"urgency = Critical\n"
		"hook = ~/bin/boss-hook \"$MAILBELL_SUBJECT\"\n"
		"download = full\n"
		"[rule quiet]\n"
		"mailbox = Newsletters\n"
		"action = hook\n"
		"download = HEADERS\n"
		"[rule low]\n"
		"smaller = 1\n"
		"action = notify\n"
		"urgency = low\n"
		"[rule big]\n"
		"larger = 0\n"
		"action = ignore\n");
	ck_assert_uint_eq(c->rules->len, 4);
	const struct mb_rule *r = rule(c, 0);
	ck_assert_uint_eq(r->from->n_patterns, 2);
	ck_assert_str_eq(r->from->patterns[0].glob, "boss@*");
	ck_assert_str_eq(g_regex_get_pattern(r->from->patterns[1].regex), "^The Boss$");
	ck_assert_uint_eq(r->to->n_patterns, 2);
	ck_assert(r->to->patterns[1].negate);
	ck_assert_str_eq(r->to->patterns[1].glob, "team@*");
	ck_assert_uint_eq(r->subject->n_patterns, 2);
	ck_assert_str_eq(g_regex_get_pattern(r->subject->patterns[0].regex), "\\d{3,}");
	ck_assert_str_eq(r->subject->patterns[1].glob, "*urgent*");
	ck_assert_str_eq(r->list->patterns[0].glob, "rust.lists.*");
	ck_assert_uint_eq(r->account->n_patterns, 2);
	ck_assert_int_eq(g_ascii_strcasecmp(r->mailbox->patterns[0].glob, "lists/*"), 0);
	ck_assert(r->has_larger);
	ck_assert_uint_eq(r->larger, 10240);
	ck_assert(r->has_smaller);
	ck_assert_uint_eq(r->smaller, 5 * 1024 * 1024);
	ck_assert_uint_eq(r->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	ck_assert_int_eq(r->urgency, MB_URGENCY_CRITICAL);
	/* a command, not a path: "~" stays */
	ck_assert_str_eq(r->hook, "~/bin/boss-hook \"$MAILBELL_SUBJECT\"");
	ck_assert_int_eq(r->download, MB_DOWNLOAD_FULL);

	r = rule(c, 1);
	ck_assert_uint_eq(r->actions, MB_ACTION_HOOK);
	ck_assert_int_eq(r->download, MB_DOWNLOAD_HEADERS);
	ck_assert_int_eq(r->urgency, MB_URGENCY_UNSET);
	ck_assert_ptr_null(r->hook);
	ck_assert(!r->has_larger);
	ck_assert(!r->has_smaller);
	r = rule(c, 2);
	ck_assert(r->has_smaller);
	ck_assert_uint_eq(r->smaller, 1);
	ck_assert_int_eq(r->urgency, MB_URGENCY_LOW);
	r = rule(c, 3);
	ck_assert(r->has_larger);
	ck_assert_uint_eq(r->larger, 0);
	ck_assert_uint_eq(r->actions, MB_ACTION_IGNORE);
	mb_config_destroy(c);

	/* a long pattern list, past inih's line buffer */
	GString *from = g_string_new("[rule long]\nfrom = ");
	for (int i = 0; i < 40; i++)
		g_string_append_printf(from, "%ssender%d@example.org", i ? ", " : "", i);
	g_string_append_c(from, '\n');
	char *text = g_strconcat(ACCOUNT, from->str, NULL);
	c = load_ok(text);
	ck_assert_uint_eq(rule(c, 0)->from->n_patterns, 40);
	ck_assert_str_eq(rule(c, 0)->from->patterns[39].glob, "sender39@example.org");
	mb_config_destroy(c);
	g_free(text);
	g_string_free(from, TRUE);
}
END_TEST

START_TEST(test_rule_errors)
{
	GError *error = NULL;
	ck_assert_ptr_null(g_regex_new("[unclosed", G_REGEX_CASELESS, 0, &error));
	char *want = g_strdup_printf("6: bad regular expression in subject: %s", error->message);
	g_clear_error(&error);
	assert_error(ACCOUNT "[rule r]\nsubject = ok*, ~[unclosed\n", want);
	g_free(want);
	ck_assert_ptr_null(g_regex_new("(", G_REGEX_CASELESS, 0, &error));
	want = g_strdup_printf("7: bad regular expression in list: %s", error->message);
	g_clear_error(&error);
	assert_error(ACCOUNT "[rule r]\nfrom = *\nlist = !~(\n", want);
	g_free(want);

	/* a regex with a comma it does not escape is two patterns */
	struct mb_config *c = load_ok(ACCOUNT "[rule r]\nfrom = ~^a{1,3}$\n");
	ck_assert_uint_eq(rule(c, 0)->from->n_patterns, 2);
	mb_config_destroy(c);

	assert_error(ACCOUNT "[rule r]\nfrom =  \naction = ignore\n", "6: empty value for from");
	assert_error(ACCOUNT "[rule r]\nto = a@b, ,c@d\n", "6: empty item in to list 'a@b, ,c@d'");
	assert_error(ACCOUNT "[rule r]\nsubject = x,\n", "6: empty item in subject list 'x,'");
	assert_error(ACCOUNT "[rule r]\nmailbox = INBOX, !\n", "6: empty pattern after '!' in mailbox list 'INBOX, !'");
	assert_error(ACCOUNT "[rule r]\nlist = !~\n", "6: empty regular expression after '~' in list list '!~'");
	assert_error(ACCOUNT "[rule r]\naccount =\n", "6: empty value for account");
	assert_error(ACCOUNT "[rule r]\nlarger = 1.5M\n", "6: bad size '1.5M' for larger: use e.g. 65536, 100K, 5M");
	assert_error(ACCOUNT "[rule r]\nsmaller = -1\n", "6: bad size '-1' for smaller: use e.g. 65536, 100K, 5M");
	assert_error(ACCOUNT "[rule r]\nsmaller =\n", "6: bad size '' for smaller: use e.g. 65536, 100K, 5M");
	assert_error(ACCOUNT "[rule r]\nurgency = high\n", "6: bad value 'high' for urgency: use low, normal or critical");
	assert_error(ACCOUNT "[rule r]\nurgency =\n", "6: bad value '' for urgency: use low, normal or critical");
	assert_error(ACCOUNT "[rule r]\ndownload = body\n", "6: bad value 'body' for download: use full or headers");
	assert_error(ACCOUNT "[rule r]\nhook =\n", "6: empty value for hook");
	assert_error(ACCOUNT "[rule r]\nfrom = a\nfrom = b\n", "7: duplicate key 'from' in [rule r] (first on line 6)");
	assert_error(ACCOUNT "[rule r]\npreview = no\n", "6: unknown key 'preview' in [rule r]");
	assert_error(ACCOUNT "[rule r]\ndownload_limit = 1K\n", "6: unknown key 'download_limit' in [rule r]");

	/* size bounds no message can meet */
	assert_error(ACCOUNT "[rule r]\nsmaller = 0\n", "5: rule r: smaller = 0 (line 6) matches no message");
	assert_error(ACCOUNT "[rule r]\nlarger = 5M\nsmaller = 1M\n",
		"5: rule r: no message is larger than 5242880 and smaller than 1048576 octets (lines 6 and 7)");
	assert_error(ACCOUNT "[rule r]\nsmaller = 101\nlarger = 100\n",
		"5: rule r: no message is larger than 100 and smaller than 101 octets (lines 7 and 6)");
	c = load_ok(ACCOUNT "[rule r]\nlarger = 100\nsmaller = 102\n");
	mb_config_destroy(c);

	/* a rule for accounts that are not configured, wherever they are */
	assert_error(ACCOUNT "[rule r]\naccount = wrok\n[account work]\nhost = h\nuser = u\npassword = p\n",
		"6: rule r: account matches no [account NAME] section");
	assert_error(ACCOUNT "[rule r]\nfrom = *\naccount = !a\n", "7: rule r: account matches no [account NAME] section");
	c = load_ok(ACCOUNT "[rule r]\naccount = wor*, x\n[account work]\nhost = h\nuser = u\npassword = p\n");
	mb_config_destroy(c);
	/* the first error still wins */
	assert_error(ACCOUNT "[rule r]\naccount = nope\n[general]\nfoo = 1\n", "8: unknown key 'foo' in [general]");
}
END_TEST

/* Results that would do nothing are errors at the rule's header line. */
START_TEST(test_rule_contradictions)
{
	assert_error(ACCOUNT "[rule r]\nfrom = *\naction = hook\nurgency = critical\n",
		"5: rule r: urgency (line 8) needs notify in action (line 7)");
	assert_error(ACCOUNT "[rule r]\nurgency = low\naction = hook\n",
		"5: rule r: urgency (line 6) needs notify in action (line 7)");
	assert_error(ACCOUNT "[rule r]\naction = notify\nhook = run-it\n",
		"5: rule r: hook (line 7) needs hook in action (line 6)");
	assert_error(ACCOUNT "[rule r]\naction = ignore\nurgency = low\n",
		"5: rule r: urgency (line 7) does nothing with action = ignore (line 6)");
	assert_error(ACCOUNT "[rule r]\nhook = run-it\naction = ignore\n",
		"5: rule r: hook (line 6) does nothing with action = ignore (line 7)");
	assert_error(ACCOUNT "[rule r]\naction = ignore\ndownload = full\n",
		"5: rule r: download (line 7) does nothing with action = ignore (line 6)");
	/* found when the section ends, before the next one is read */
	assert_error(ACCOUNT "[rule r]\naction = ignore\ndownload = headers\n[general]\nfoo = 1\n",
		"5: rule r: download (line 7) does nothing with action = ignore (line 6)");

	/* what makes sense is accepted; the default action has notify and hook */
	struct mb_config *c = load_ok(ACCOUNT "[rule r]\nurgency = critical\nhook = run-it\ndownload = full\n"
		"[rule s]\naction = notify\nurgency = low\ndownload = headers\n"
		"[rule t]\naction = hook\nhook = other\ndownload = full\n");
	ck_assert_uint_eq(rule(c, 0)->actions, MB_ACTION_NOTIFY | MB_ACTION_HOOK);
	ck_assert_int_eq(rule(c, 0)->urgency, MB_URGENCY_CRITICAL);
	ck_assert_str_eq(rule(c, 0)->hook, "run-it");
	ck_assert_str_eq(rule(c, 2)->hook, "other");
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_password_exclusive)
{
	assert_error("[account a]\nhost = h\nuser = u\npassword = p\npassword_cmd = pass x\n",
		"5: account a: password and password_cmd exclude each other (password is set on line 4)");
	assert_error("[account a]\npassword_cmd = pass x\nhost = h\nuser = u\npassword = p\n",
		"5: account a: password_cmd and password exclude each other (password_cmd is set on line 2)");
}
END_TEST

START_TEST(test_mailboxes)
{
	struct mb_config *c = load_ok(ACCOUNT "mailboxes =  INBOX ,Lists/dev,  Über uns  \n");
	char **m = account(c, 0)->mailboxes;
	ck_assert_str_eq(m[0], "INBOX");
	ck_assert_str_eq(m[1], "Lists/dev");
	ck_assert_str_eq(m[2], "Über uns");
	ck_assert_ptr_null(m[3]);
	mb_config_destroy(c);

	/* a single mailbox name may hold a comma */
	c = load_ok(ACCOUNT "mailbox = Archive, 2024\n");
	m = account(c, 0)->mailboxes;
	ck_assert_str_eq(m[0], "Archive, 2024");
	ck_assert_ptr_null(m[1]);
	mb_config_destroy(c);

	assert_error(ACCOUNT "mailbox = INBOX\nmailboxes = INBOX, Sent\n",
		"6: account a: mailbox and mailboxes exclude each other (mailbox is set on line 5)");
	assert_error(ACCOUNT "mailboxes = INBOX, Sent\nmailbox = INBOX\n",
		"6: account a: mailboxes and mailbox exclude each other (mailboxes is set on line 5)");
}
END_TEST

START_TEST(test_auth_requirements)
{
	assert_error("[general]\n\n[account x]\nhost = h\nuser = u\nauth = xoauth2\npassword = p\n",
		"3: account x: auth = xoauth2 needs oauth_token_cmd");
	assert_error("[account x]\nhost = h\nuser = u\nauth = oauthbearer\n",
		"1: account x: auth = oauthbearer needs oauth_token_cmd");
	assert_error("[account x]\nhost = h\nuser = u\nauth = plain\noauth_token_cmd = t\n",
		"1: account x: auth = plain needs password or password_cmd");
	assert_error("[account x]\nhost = h\nuser = u\nauth = login\n",
		"1: account x: auth = login needs password or password_cmd");
	assert_error("[account x]\nhost = h\nuser = u\n",
		"1: account x: missing password, password_cmd or oauth_token_cmd");
	/* a secret no sign-in would use */
	assert_error("[account x]\nhost = h\nuser = u\nauth = plain\npassword = p\noauth_token_cmd = t\n",
		"1: account x: oauth_token_cmd is not used with auth = plain: remove it");
	assert_error("[account x]\nhost = h\nuser = u\nauth = xoauth2\npassword_cmd = p\noauth_token_cmd = t\n",
		"1: account x: password_cmd is not used with auth = xoauth2: remove it");
	assert_error("[account x]\nhost = h\nuser = u\npassword = p\noauth_token_cmd = t\n",
		"1: account x: with oauth_token_cmd, auth = auto signs in with the token and password is "
		"not used: remove one, or set auth = plain or login");
	assert_error("[general]\ndownload_limit = 33M\n[account x]\nhost = h\nuser = u\npassword = p\n",
		"2: download_limit must be at most 32M (the most mailbell downloads of one message)");

	struct mb_config *c = load_ok("[account x]\nhost = h\nuser = u\noauth_token_cmd = t\n"
		"[account y]\nhost = h\nuser = u\nauth = OAuthBearer\noauth_token_cmd = t\n"
		"[account z]\nhost = h\nuser = u\nauth = login\npassword_cmd = p\n");
	ck_assert_int_eq(account(c, 0)->auth, MB_AUTH_AUTO);
	ck_assert_int_eq(account(c, 1)->auth, MB_AUTH_OAUTHBEARER);
	ck_assert_int_eq(account(c, 2)->auth, MB_AUTH_LOGIN);
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_missing_required)
{
	assert_error("# comment\n\n[account work]\nuser = u\npassword = p\n[general]\n",
		"3: account work: missing host");
	/* found when the next section starts, reported at its own header */
	assert_error("[account one]\nhost = h\nuser = u\npassword = p\n[account two]\nuser = u\n"
		"[general]\nunknown = 1\n", "5: account two: missing host");
	assert_error("[account a]\nhost = h\npassword = p\n", "1: account a: missing user");
	/* a section with no keys at all is still seen */
	assert_error(ACCOUNT "[account empty]\n", "5: account empty: missing host");
}
END_TEST

START_TEST(test_structure_errors)
{
	assert_error("[general]\nfoo = 1\n" ACCOUNT, "2: unknown key 'foo' in [general]");
	assert_error(ACCOUNT "Host = x\n", "5: unknown key 'Host' in [account a]");
	assert_error(ACCOUNT "[rule spam]\nfrom = x\nhost = y\n", "7: unknown key 'host' in [rule spam]");
	assert_error(ACCOUNT "[foo]\n", "5: unknown section [foo]");
	assert_error(ACCOUNT "[accounts]\n", "5: unknown section [accounts]");
	assert_error(ACCOUNT "[Account b]\n", "5: unknown section [Account b]");
	assert_error(ACCOUNT "[account]\n", "5: missing account name: use [account NAME]");
	assert_error(ACCOUNT "[account   ]\n", "5: missing account name: use [account NAME]");
	assert_error(ACCOUNT "[rule]\n", "5: missing rule name: use [rule NAME]");
	assert_error(ACCOUNT "[account a]\n", "5: duplicate account name 'a' (first on line 1)");
	assert_error(ACCOUNT "[rule r]\nfrom = x\n[rule r]\nfrom = y\n",
		"7: duplicate rule name 'r' (first on line 5)");
	assert_error("[general]\nnotify = no\nnotify = yes\n" ACCOUNT,
		"3: duplicate key 'notify' in [general] (first on line 2)");
	/* [general] twice is one section */
	assert_error("[general]\nnotify = no\n" ACCOUNT "[general]\nnotify = yes\n",
		"8: duplicate key 'notify' in [general] (first on line 2)");
	assert_error("host = h\n" ACCOUNT,
		"1: 'host' is outside any section: put it under [general], [account NAME] or [rule NAME]");
	assert_error(ACCOUNT "just words\n", "5: expected 'key = value', '[section]' or a comment");
	assert_error(ACCOUNT "[general\n", "5: missing ']' in section header");
	assert_error(ACCOUNT "[general] x\n", "5: unexpected text after ']'");
	assert_error(ACCOUNT "= value\n", "5: missing key before '='");
	assert_error(ACCOUNT "[account b\x01]\n", "5: control character in account name");
	assert_error("[account a]\nhost = h\xff\n", "2: line is not valid UTF-8");
	assert_error("", " no [account ...] section");
	assert_error("# nothing\n[general]\nnotify = no\n", " no [account ...] section");
	assert_error("[general]\n[rule r]\nfrom = *\n", " no [account ...] section");
}
END_TEST

START_TEST(test_bytes)
{
	/* Latin-1 in a comment is ignored; a NUL in a setting is not */
	const char text[] = "[account a]\n# J\xfcrgen's\nhost = h\0x\n";
	ck_assert(g_file_set_contents(cfg_path, text, sizeof text - 1, NULL));
	GError *error = NULL;
	ck_assert_ptr_null(mb_config_load(cfg_path, &error));
	char *want = g_strdup_printf("%s:3: NUL character in line", cfg_path);
	ck_assert_str_eq(error->message, want);
	g_free(want);
	g_error_free(error);
}
END_TEST

START_TEST(test_first_error_wins)
{
	assert_error("[general]\nkeepalive = 1s\nfoo = bar\n[bar]\n", "2: keepalive must be between 1m and 29m");
	assert_error("[general]\nnope\nfoo = bar\n", "2: expected 'key = value', '[section]' or a comment");
	assert_error("[general]\nfoo = bar\nnope\n", "2: unknown key 'foo' in [general]");
}
END_TEST

START_TEST(test_syntax_accepted)
{
	/* BOM, CRLF, indentation (not a continuation), ':' separator, comments
	 * at line start with ';' and '#', inline "; comment", comment after a
	 * header, section name with spaces and a long one inih would cut */
	const char *long_name = "a very long account name that is longer than fifty-one bytes";
	char *text = g_strdup_printf("\xEF\xBB\xBF; first\r\n"
		"[general]   # trailing\r\n"
		"\tnotify : no\r\n"
		"\tcatchup = no ; inline\r\n"
		"[account  my work ]\n"
		"  host = h\n"
		"  user = u\n"
		"  password = p#not;a comment\n"
		"[account %s]\n"
		"host=h2\n"
		"user=u2\n"
		"password_cmd=cat /dev/null\n", long_name);
	struct mb_config *c = load_ok(text);
	ck_assert(!c->notify);
	ck_assert(!c->catchup);
	ck_assert_str_eq(account(c, 0)->name, "my work");
	ck_assert_int_eq(account(c, 0)->line, 5);
	ck_assert_str_eq(account(c, 0)->password, "p#not;a comment");
	ck_assert_str_eq(account(c, 1)->name, long_name);
	ck_assert_str_eq(account(c, 1)->host, "h2");
	ck_assert_int_eq(account(c, 1)->line, 9);
	mb_config_destroy(c);
	g_free(text);
}
END_TEST

START_TEST(test_long_line)
{
	/* inih's line buffer holds 199 characters (INI_MAX_LINE 200) */
	GString *line = g_string_new("hook = ");
	while (line->len < 199)
		g_string_append_c(line, 'x');
	char *text = g_strconcat(ACCOUNT, line->str, "\n", NULL);
	struct mb_config *c = load_ok(text);
	ck_assert_str_eq(account(c, 0)->hook, line->str + strlen("hook = "));
	mb_config_destroy(c);
	g_free(text);

	/* comments may be longer */
	text = g_strconcat(ACCOUNT, "# ", line->str, line->str, "\n", NULL);
	c = load_ok(text);
	mb_config_destroy(c);
	g_free(text);

	/* longer values are taken whole, inline comment cut as inih would */
	GString *big = g_string_new(NULL);
	while (big->len < 1000)
		g_string_append(big, "echo \"$MAILBELL_SUBJECT\" >> /tmp/x; ");
	g_strstrip(big->str);
	text = g_strconcat(ACCOUNT, "hook =   ", big->str, "   ; a comment\n", NULL);
	c = load_ok(text);
	ck_assert_str_eq(account(c, 0)->hook, big->str);
	mb_config_destroy(c);
	g_free(text);
	g_string_free(big, TRUE);

	/* a key (or section header) that long is still an error */
	GString *key = g_string_new(NULL);
	while (key->len < 250)
		g_string_append_c(key, 'k');
	g_string_append(key, " = v");
	text = g_strconcat(ACCOUNT, key->str, "\n", NULL);
	write_config(text, 0600);
	g_free(text);
	g_string_free(key, TRUE);
	GError *error = NULL;
	c = mb_config_load(cfg_path, &error);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(error);
	char *prefix = g_strdup_printf("%s:5: line is too long", cfg_path);
	ck_assert_msg(g_str_has_prefix(error->message, prefix), "%s", error->message);
	g_free(prefix);
	g_error_free(error);
	g_string_free(line, TRUE);
}
END_TEST

START_TEST(test_paths)
{
	struct mb_config *c = load_ok("[general]\nstate_dir = ~/state/mb\n" ACCOUNT "ca_file = ~/ca.pem\n"
		"[account b]\nhost = h\nuser = u\npassword = p\nca_file = ~other/ca.pem\n");
	char *state = g_build_filename(g_get_home_dir(), "state", "mb", NULL);
	char *ca = g_build_filename(g_get_home_dir(), "ca.pem", NULL);
	ck_assert_str_eq(c->state_dir, state);
	ck_assert_str_eq(account(c, 0)->ca_file, ca);
	ck_assert_str_eq(account(c, 1)->ca_file, "~other/ca.pem");
	g_free(state);
	g_free(ca);
	mb_config_destroy(c);
}
END_TEST

START_TEST(test_cannot_open)
{
	GError *error = NULL;
	char *missing = g_build_filename(tmpdir, "nope.ini", NULL);
	ck_assert_ptr_null(mb_config_load(missing, &error));
	ck_assert(g_error_matches(error, MB_CONFIG_ERROR, MB_CONFIG_ERROR_READ));
	char *want = g_strdup_printf("%s: %s", missing, g_strerror(ENOENT));
	ck_assert_str_eq(error->message, want);
	g_clear_error(&error);
	g_free(want);
	g_free(missing);

	ck_assert_ptr_null(mb_config_load(tmpdir, &error));
	want = g_strdup_printf("%s: %s", tmpdir, g_strerror(EISDIR));
	ck_assert_str_eq(error->message, want);
	g_clear_error(&error);
	g_free(want);
}
END_TEST

START_TEST(test_permission_warning)
{
	write_config(ACCOUNT, 0644);
	struct mb_config *c = mb_config_load(cfg_path, NULL);
	ck_assert_ptr_nonnull(c);
	mb_config_destroy(c);
	char *want = g_strdup_printf("%s is readable by others but holds a password: chmod 600 %s\n",
		cfg_path, cfg_path);
	ck_assert_str_eq(warnings->str, want);
	g_free(want);

	/* group-readable is enough */
	g_string_truncate(warnings, 0);
	write_config(ACCOUNT, 0640);
	mb_config_destroy(mb_config_load(cfg_path, NULL));
	ck_assert_uint_gt(warnings->len, 0);

	g_string_truncate(warnings, 0);
	write_config(ACCOUNT, 0600);
	mb_config_destroy(mb_config_load(cfg_path, NULL));
	ck_assert_str_eq(warnings->str, "");

	/* no password in the file: nothing to hide */
	write_config("[account a]\nhost = h\nuser = u\npassword_cmd = pass a\n", 0644);
	mb_config_destroy(mb_config_load(cfg_path, NULL));
	ck_assert_str_eq(warnings->str, "");
}
END_TEST

START_TEST(test_default_path_xdg)
{
	g_setenv("XDG_CONFIG_HOME", "/tmp/mb-xdg-test", TRUE);
	char *path = mb_config_default_path();
	ck_assert_str_eq(path, "/tmp/mb-xdg-test/mailbell/config.ini");
	g_free(path);
}
END_TEST

START_TEST(test_default_path_home)
{
	g_unsetenv("XDG_CONFIG_HOME");
	g_setenv("HOME", "/tmp/mb-home-test", TRUE);
	char *path = mb_config_default_path();
	ck_assert_str_eq(path, "/tmp/mb-home-test/.config/mailbell/config.ini");
	g_free(path);
}
END_TEST

START_TEST(test_quiet_hours)
{
	struct mb_config *c = load_ok("[general]\nquiet_hours = 22:00-07:00\n" ACCOUNT
		"[account own]\nhost = h\nuser = u\npassword = p\nquiet_hours = 12:00-13:00, 18:00 - 24:00\n"
		"[account none]\nhost = h\nuser = u\npassword = p\nquiet_hours =\n");
	ck_assert_uint_eq(c->quiet_hours->n, 1);
	ck_assert_uint_eq(c->quiet_hours->ranges[0].start, 22 * 60);
	ck_assert_uint_eq(c->quiet_hours->ranges[0].end, 7 * 60);
	/* inherited */
	ck_assert_ptr_null(account(c, 0)->quiet_hours);
	ck_assert_ptr_eq(mb_account_config_quiet_hours(c, account(c, 0)), c->quiet_hours);
	/* its own */
	const struct mb_quiet_hours *q = mb_account_config_quiet_hours(c, account(c, 1));
	ck_assert_uint_eq(q->n, 2);
	ck_assert_uint_eq(q->ranges[1].start, 18 * 60);
	ck_assert_uint_eq(q->ranges[1].end, 24 * 60);
	/* an empty value is none, overriding [general] */
	q = mb_account_config_quiet_hours(c, account(c, 2));
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(q->n, 0);
	mb_config_destroy(c);

	/* in [general], empty is the same as unset */
	c = load_ok("[general]\nquiet_hours =\n" ACCOUNT);
	ck_assert_ptr_null(c->quiet_hours);
	ck_assert_ptr_null(mb_account_config_quiet_hours(c, account(c, 0)));
	mb_config_destroy(c);

	assert_error("[general]\nquiet_hours = 25:00-07:00\n" ACCOUNT,
		"2: bad quiet_hours '25:00-07:00': 25:00 is not a time of day (00:00 to 23:59, or 24:00 as an end)");
	assert_error(ACCOUNT "quiet_hours = 07:00-07:00\n",
		"5: bad quiet_hours '07:00-07:00': 07:00-07:00 starts and ends at the same time");
	assert_error(ACCOUNT "quiet_hours = 22:00-07:00,,12:00-13:00\n",
		"5: bad quiet_hours '22:00-07:00,,12:00-13:00': empty item");
	assert_error(ACCOUNT "quiet_hours = 10pm-7am\n",
		"5: bad quiet_hours '10pm-7am': '10pm-7am' is not HH:MM-HH:MM (e.g. 22:00-07:00)");
	assert_error(ACCOUNT "quiet_hours = 24:00-07:00\n",
		"5: bad quiet_hours '24:00-07:00': a range cannot start at 24:00");
	assert_error(ACCOUNT "quiet_hours =\nquiet_hours = 12:00-13:00\n",
		"6: duplicate key 'quiet_hours' in [account a] (first on line 5)");
	assert_error(ACCOUNT "[rule r]\nquiet_hours = 12:00-13:00\n", "6: unknown key 'quiet_hours' in [rule r]");
}
END_TEST

static const struct mb_setting_info *
setting(const char *section, const char *key)
{
	size_t n;
	const struct mb_setting_info *s = mb_config_settings(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s[i].section, section) == 0 && strcmp(s[i].key, key) == 0)
			return &s[i];
	}
	return NULL;
}

START_TEST(test_settings_table)
{
	size_t n = 0;
	const struct mb_setting_info *s = mb_config_settings(&n);
	ck_assert_uint_gt(n, 40);
	ck_assert_ptr_eq(mb_config_settings(NULL), s);

	static const char *const types[] = {
		"duration", "boolean", "number", "size", "path", "command", "string", "list", "pattern list",
		"time ranges", "choice",
	};
	/* what shapes the IMAP connections */
	static const char *const session[] = {
		"general/keepalive", "general/timeout", "general/poll_interval",
		"account/host", "account/port", "account/tls", "account/ca_file", "account/tls_fingerprint",
		"account/user", "account/password", "account/password_cmd", "account/oauth_token_cmd",
		"account/auth", "account/mailbox", "account/mailboxes", "account/poll_interval",
		"account/max_connections",
	};
	const char *last_section = "general";
	for (size_t i = 0; i < n; i++) {
		const struct mb_setting_info *r = &s[i];
		char *name = g_strdup_printf("%s/%s", r->section, r->key);
		ck_assert_msg(strcmp(r->section, "general") == 0 || strcmp(r->section, "account") == 0
			|| strcmp(r->section, "rule") == 0, "%s: section", name);
		/* in the order of the man page */
		ck_assert_msg(strcmp(r->section, last_section) == 0 || (strcmp(last_section, "general") == 0
			&& strcmp(r->section, "account") == 0) || (strcmp(last_section, "account") == 0
			&& strcmp(r->section, "rule") == 0), "%s: out of order", name);
		last_section = r->section;
		ck_assert_msg(*r->key != '\0', "%s: key", name);
		bool known = false;
		for (size_t j = 0; j < G_N_ELEMENTS(types); j++)
			known |= r->type && strcmp(r->type, types[j]) == 0;
		ck_assert_msg(known, "%s: unknown type '%s'", name, r->type ? r->type : "(null)");
		ck_assert_msg(r->description && *r->description && !strchr(r->description, '\n')
			&& r->description[strlen(r->description) - 1] != '.', "%s: description", name);
		ck_assert_msg((strcmp(r->type, "choice") == 0) == (r->range && strstr(r->range, " | ")),
			"%s: a choice lists its words", name);
		for (size_t j = 0; j < i; j++) {
			ck_assert_msg(strcmp(s[j].section, r->section) != 0 || strcmp(s[j].key, r->key) != 0,
				"%s: twice", name);
		}
		bool want_session = false;
		for (size_t j = 0; j < G_N_ELEMENTS(session); j++)
			want_session |= strcmp(session[j], name) == 0;
		ck_assert_msg(!!(r->flags & MB_SETTING_SESSION) == want_session, "%s: MB_SETTING_SESSION", name);
		ck_assert_msg(!(r->flags & MB_SETTING_SECRET) == (strcmp(name, "account/password") != 0),
			"%s: MB_SETTING_SECRET", name);
		if (r->flags & MB_SETTING_INHERITS) {
			ck_assert_msg(strcmp(r->section, "account") == 0, "%s: only accounts inherit", name);
			const struct mb_setting_info *g = setting("general", r->key);
			ck_assert_msg(g != NULL, "%s: inherits no [general] key", name);
			ck_assert_msg(strcmp(g->type, r->type) == 0, "%s: type differs from [general]'s", name);
			ck_assert_msg(r->def == NULL, "%s: a default of its own", name);
		}
		if (r->flags & MB_SETTING_REQUIRED)
			ck_assert_msg(r->def == NULL, "%s: required with a default", name);
		g_free(name);
	}

	ck_assert_str_eq(setting("general", "keepalive")->range, "1m..29m");
	ck_assert_str_eq(setting("general", "keepalive")->def, "10m");
	ck_assert_str_eq(setting("general", "timeout")->range, "1s..10m");
	ck_assert_str_eq(setting("general", "hook_timeout")->range, "1s..1h");
	ck_assert_str_eq(setting("general", "hook_concurrency")->range, "1..256");
	ck_assert_ptr_null(setting("general", "hook_concurrency")->def);
	ck_assert_str_eq(setting("general", "catchup_summary")->range, "1..");
	ck_assert_str_eq(setting("general", "coalesce")->range, "0s..1h");
	ck_assert_str_eq(setting("general", "coalesce")->def, "2s");
	ck_assert_str_eq(setting("general", "dedupe_window")->range, "0s..30d");
	ck_assert_str_eq(setting("general", "dedupe_window")->def, "1d");
	ck_assert_ptr_null(setting("account", "coalesce"));
	ck_assert(setting("account", "open_cmd")->flags & MB_SETTING_INHERITS);
	ck_assert(setting("account", "icon")->flags & MB_SETTING_INHERITS);
	ck_assert_ptr_null(setting("general", "download_limit")->range);
	ck_assert_ptr_null(setting("general", "quiet_hours")->def);
	ck_assert_str_eq(setting("general", "quiet_hours")->type, "time ranges");
	ck_assert_str_eq(setting("account", "port")->range, "1..65535");
	ck_assert_ptr_null(setting("account", "port")->def);
	ck_assert_str_eq(setting("account", "tls")->range, "implicit | starttls | none");
	ck_assert_str_eq(setting("account", "auth")->range, "auto | plain | login | xoauth2 | oauthbearer");
	ck_assert_str_eq(setting("account", "mailboxes")->def, "INBOX");
	ck_assert(setting("account", "host")->flags & MB_SETTING_REQUIRED);
	ck_assert(setting("account", "quiet_hours")->flags & MB_SETTING_INHERITS);
	ck_assert_str_eq(setting("rule", "urgency")->range, "low | normal | critical");
	ck_assert_str_eq(setting("rule", "download")->range, "full | headers");
	ck_assert_str_eq(setting("rule", "action")->def, "notify, hook");
	ck_assert_ptr_null(setting("rule", "preview"));
}
END_TEST

/* mb_config_foreach_value() output, one "key = value" line per key; "*" in
 * front when is_default, "(unset)" for NULL. */
static void
collect_value(const struct mb_setting_info *s, const char *value, bool is_default, void *data)
{
	g_string_append_printf(data, "%s%s = %s\n", is_default ? "*" : "", s->key, value ? value : "(unset)");
}

static char *
values(const struct mb_config *c, const struct mb_account_config *a)
{
	GString *out = g_string_new(NULL);
	mb_config_foreach_value(c, a, collect_value, out);
	return g_string_free(out, FALSE);
}

START_TEST(test_foreach_value)
{
	struct mb_config *c = load_ok(ACCOUNT);
	char *text = values(c, NULL);
	/* hook_concurrency's default is derived from the machine */
	char *want = g_strdup_printf(
		"*keepalive = 10m\n"
		"*timeout = 30s\n"
		"*notify = yes\n"
		"*open_cmd = (unset)\n"
		"*mark_read = yes\n"
		"*sound = no\n"
		"*icon = mail-unread\n"
		"*coalesce = 2s\n"
		"*dedupe_window = 1d\n"
		"*hook = (unset)\n"
		"*hook_timeout = 1m\n"
		"*hook_concurrency = %u\n"
		"*sync_hook = (unset)\n"
		"*sync_on = new\n"
		"*sync_delay = 1s\n"
		"*state_dir = (unset)\n"
		"*poll_interval = 2m\n"
		"*catchup = yes\n"
		"*catchup_summary = 5\n"
		"*download_limit = 0\n"
		"*preview = yes\n"
		"*quiet_hours = (unset)\n", CLAMP(g_get_num_processors(), 4, 256));
	ck_assert_str_eq(text, want);
	g_free(want);
	g_free(text);
	text = values(c, account(c, 0));
	ck_assert_str_eq(text,
		"host = h\n"
		"*port = 993\n"
		"*tls = implicit\n"
		"*ca_file = (unset)\n"
		"*tls_fingerprint = (unset)\n"
		"user = u\n"
		"password = ***\n"
		"*password_cmd = (unset)\n"
		"*oauth_token_cmd = (unset)\n"
		"*auth = auto\n"
		"*mailbox = INBOX\n"
		"*notify = yes\n"
		"*open_cmd = (unset)\n"
		"*mark_read = yes\n"
		"*sound = no\n"
		"*icon = mail-unread\n"
		"*hook = (unset)\n"
		"*sync_hook = (unset)\n"
		"*sync_hook.MAILBOX = (unset)\n"
		"*sync_on = new\n"
		"*poll_interval = 2m\n"
		"*max_connections = 5\n"
		"*download_limit = 0\n"
		"*preview = yes\n"
		"*quiet_hours = (unset)\n");
	g_free(text);

	/* every default prints as the table writes it */
	size_t n;
	const struct mb_setting_info *s = mb_config_settings(&n);
	for (int section = 0; section < 2; section++) {
		text = values(c, section ? account(c, 0) : NULL);
		for (size_t i = 0; i < n; i++) {
			if (!s[i].def || strcmp(s[i].section, section ? "account" : "general") != 0
				|| strcmp(s[i].key, "mailboxes") == 0)
				continue;
			char *line = g_strdup_printf("*%s = %s\n", s[i].key, s[i].def);
			ck_assert_msg(strstr(text, line), "%s/%s: default '%s' not printed as such", s[i].section,
				s[i].key, s[i].def);
			g_free(line);
		}
		g_free(text);
	}
	mb_config_destroy(c);

	GError *error = NULL;
	c = mb_config_load(MB_TEST_DATA "/config/full.ini", &error);
	ck_assert_msg(c != NULL, "%s", error ? error->message : "");
	text = values(c, NULL);
	ck_assert_str_eq(text,
		"keepalive = 15m\n"
		"timeout = 45s\n"
		"notify = no\n"
		"open_cmd = thunderbird -mail\n"
		"mark_read = no\n"
		"sound = yes\n"
		"icon = /usr/share/icons/mail.svg\n"
		"coalesce = 5s\n"
		"dedupe_window = 2d\n"
		"hook = notify-send \"$MAILBELL_SUBJECT\"\n"
		"hook_timeout = 2m\n"
		"hook_concurrency = 2\n"
		"sync_hook = mbsync -a\n"
		"sync_on = new, expunge\n"
		"sync_delay = 3s\n"
		"state_dir = /var/tmp/mailbell-state\n"
		"poll_interval = 5m\n"
		"catchup = no\n"
		"catchup_summary = 3\n"
		"download_limit = 65536\n"
		"preview = no\n"
		"quiet_hours = 22:00-07:00, 12:00-13:00\n");
	g_free(text);
	text = values(c, account(c, 0));
	ck_assert_str_eq(text,
		"host = imap.example.org\n"
		"port = 1993\n"
		"tls = implicit\n"
		"ca_file = /etc/ssl/work-ca.pem\n"
		"tls_fingerprint = abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n"
		"user = alice@example.org\n"
		"*password = (unset)\n"
		"password_cmd = pass show mail/work\n"
		"*oauth_token_cmd = (unset)\n"
		"auth = plain\n"
		"mailboxes = INBOX, Lists/dev, Work Stuff\n"
		"notify = yes\n"
		"open_cmd = \n"
		"mark_read = yes\n"
		"sound = no\n"
		"icon = mail-message-new\n"
		"hook = \n"
		"sync_hook = mbsync work\n"
		"sync_hook.MAILBOX = Lists/dev: mbsync work:dev; Work Stuff: \n"
		"sync_on = new, expunge, flags\n"
		"poll_interval = 30s\n"
		"max_connections = 2\n"
		"download_limit = 1048576\n"
		"preview = yes\n"
		"quiet_hours = \n");
	g_free(text);
	text = values(c, account(c, 1));
	ck_assert_str_eq(text,
		"host = imap.gmail.com\n"
		"*port = 143\n"
		"tls = starttls\n"
		"*ca_file = (unset)\n"
		"*tls_fingerprint = (unset)\n"
		"user = alice@gmail.com\n"
		"*password = (unset)\n"
		"*password_cmd = (unset)\n"
		"oauth_token_cmd = oama access alice@gmail.com\n"
		"auth = xoauth2\n"
		"mailbox = [Gmail]/All Mail\n"
		"*notify = no\n"
		"*open_cmd = thunderbird -mail\n"
		"*mark_read = no\n"
		"*sound = yes\n"
		"*icon = /usr/share/icons/mail.svg\n"
		"*hook = notify-send \"$MAILBELL_SUBJECT\"\n"
		"*sync_hook = mbsync -a\n"
		"*sync_hook.MAILBOX = (unset)\n"
		"*sync_on = new, expunge\n"
		"*poll_interval = 5m\n"
		"*max_connections = 5\n"
		"*download_limit = 65536\n"
		"*preview = no\n"
		"quiet_hours = 23:00-06:30\n");
	g_free(text);
	/* the secret is never printed */
	text = values(c, account(c, 2));
	ck_assert(strstr(text, "\npassword = ***\n"));
	ck_assert_ptr_null(strstr(text, "not-a-real-password"));
	g_free(text);
	mb_config_destroy(c);
}
END_TEST

static const struct mb_account_config *
named(const struct mb_config *c, const char *name)
{
	for (guint i = 0; i < c->accounts->len; i++) {
		if (strcmp(account(c, i)->name, name) == 0)
			return account(c, i);
	}
	ck_abort_msg("no account %s", name);
	return NULL;
}

/* Compares account name in two configs: equal and session_equal as wanted. */
#define assert_compare(a, b, name, equal, session) assert_compare_at(a, b, name, equal, session, __LINE__)

static void
assert_compare_at(const char *text_a, const char *text_b, const char *name, bool equal, bool session, int line)
{
	/* each config is in memory once loaded: the file is rewritten */
	struct mb_config *ca = load_ok(text_a);
	struct mb_config *cb = load_ok(text_b);
	const struct mb_account_config *a = named(ca, name), *b = named(cb, name);
	ck_assert_msg(mb_account_config_equal(ca, a, cb, b) == equal, "line %d: %s: equal is %d\n%s\n--\n%s",
		line, name, !equal, text_a, text_b);
	ck_assert_msg(mb_account_config_session_equal(ca, a, cb, b) == session,
		"line %d: %s: session_equal is %d\n%s\n--\n%s", line, name, !session, text_a, text_b);
	/* both ways round, and each with itself */
	ck_assert(mb_account_config_equal(cb, b, ca, a) == equal);
	ck_assert(mb_account_config_session_equal(cb, b, ca, a) == session);
	ck_assert(mb_account_config_equal(ca, a, ca, a));
	ck_assert(mb_account_config_session_equal(cb, b, cb, b));
	mb_config_destroy(ca);
	mb_config_destroy(cb);
}

START_TEST(test_equal_same)
{
	GError *error = NULL;
	struct mb_config *ca = mb_config_load(MB_TEST_DATA "/config/full.ini", &error);
	struct mb_config *cb = mb_config_load(MB_TEST_DATA "/config/full.ini", &error);
	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(cb);
	ck_assert_uint_eq(ca->accounts->len, 3);
	for (guint i = 0; i < ca->accounts->len; i++) {
		ck_assert(mb_account_config_equal(ca, account(ca, i), cb, account(cb, i)));
		ck_assert(mb_account_config_session_equal(ca, account(ca, i), cb, account(cb, i)));
		/* and different accounts differ */
		guint j = (i + 1) % ca->accounts->len;
		ck_assert(!mb_account_config_equal(ca, account(ca, i), cb, account(cb, j)));
		ck_assert(!mb_account_config_session_equal(ca, account(ca, i), cb, account(cb, j)));
	}
	mb_config_destroy(ca);
	mb_config_destroy(cb);

	/* values count, not how they are written */
	assert_compare(ACCOUNT, "# moved\n[account a]\nuser = u\npassword = p\nhost = h\n", "a", true, true);
	assert_compare(ACCOUNT, ACCOUNT "tls = IMPLICIT\nport = 993\nmax_connections = 5\nauth = auto\n"
		"mailbox = INBOX\n", "a", true, true);
	assert_compare(ACCOUNT "mailbox = Sent\n", ACCOUNT "mailboxes = Sent\n", "a", true, true);
	assert_compare("[general]\nkeepalive = 600\ntimeout = 30\n" ACCOUNT, ACCOUNT "poll_interval = 2m\n", "a",
		true, true);
	/* an effective value is the same whether inherited or written */
	assert_compare("[general]\nnotify = no\n" ACCOUNT, "[general]\nnotify = no\n" ACCOUNT "notify = no\n", "a",
		true, true);
	assert_compare("[general]\npreview = no\n" ACCOUNT, ACCOUNT "preview = no\n", "a", true, true);
	assert_compare("[general]\ndownload_limit = 1K\n" ACCOUNT, ACCOUNT "download_limit = 1024\n", "a", true, true);
	/* none is none */
	assert_compare(ACCOUNT, ACCOUNT "hook =\n", "a", true, true);
	assert_compare(ACCOUNT, "[general]\nhook =\n" ACCOUNT, "a", true, true);
	assert_compare(ACCOUNT, ACCOUNT "quiet_hours =\n", "a", true, true);
	assert_compare("[general]\nquiet_hours =\n" ACCOUNT, ACCOUNT "quiet_hours = \n", "a", true, true);
	/* a [general] value the account overrides does not matter to it */
	assert_compare("[general]\nnotify = no\nhook = x\npoll_interval = 1m\nquiet_hours = 01:00-02:00\n" ACCOUNT
		"notify = yes\nhook = y\npoll_interval = 3m\nquiet_hours = 03:00-04:00\n",
		"[general]\nnotify = yes\nhook = z\npoll_interval = 5m\n" ACCOUNT
		"notify = yes\nhook = y\npoll_interval = 3m\nquiet_hours = 03:00-04:00\n", "a", true, true);
	/* nor does another account, or a rule only for another account */
	assert_compare(ACCOUNT "[account b]\nhost = h\nuser = u\npassword = p\n"
		"[rule r]\naccount = b\naction = ignore\n",
		ACCOUNT "[account b]\nhost = other\nuser = u\npassword = p\n"
		"[rule r]\naccount = b\naction = notify\n[rule s]\naccount = !a\n", "a", true, true);
	assert_compare(ACCOUNT "[account b]\nhost = h\nuser = u\npassword = p\n"
		"[rule r]\naccount = b\naction = ignore\n",
		ACCOUNT "[account b]\nhost = h\nuser = u\npassword = p\n"
		"[rule r]\naccount = b\naction = notify\n", "b", false, true);
}
END_TEST

/* One key changed between two configs; account "a" is compared. */
struct change {
	const char *section;
	const char *key;
	const char *a, *b;
};

static const struct change session_changes[] = {
	{ "general", "keepalive", ACCOUNT, "[general]\nkeepalive = 11m\n" ACCOUNT },
	{ "general", "timeout", "[general]\ntimeout = 30s\n" ACCOUNT, "[general]\ntimeout = 31s\n" ACCOUNT },
	/* the account inherits it */
	{ "general", "poll_interval", ACCOUNT, "[general]\npoll_interval = 5m\n" ACCOUNT },
	{ "account", "host", ACCOUNT, "[account a]\nhost = h2\nuser = u\npassword = p\n" },
	{ "account", "port", ACCOUNT, ACCOUNT "port = 994\n" },
	{ "account", "tls", ACCOUNT "port = 993\n", ACCOUNT "port = 993\ntls = starttls\n" },
	{ "account", "ca_file", ACCOUNT, ACCOUNT "ca_file = /etc/ca.pem\n" },
	{ "account", "tls_fingerprint", ACCOUNT "tls_fingerprint = " "0000000000000000000000000000000000000000000000000000000000000000\n",
		ACCOUNT "tls_fingerprint = " "0000000000000000000000000000000000000000000000000000000000000001\n" },
	{ "account", "user", ACCOUNT, "[account a]\nhost = h\nuser = u2\npassword = p\n" },
	{ "account", "password", ACCOUNT, "[account a]\nhost = h\nuser = u\npassword = p2\n" },
	{ "account", "password_cmd", "[account a]\nhost = h\nuser = u\npassword_cmd = pass a\n",
		"[account a]\nhost = h\nuser = u\npassword_cmd = pass b\n" },
	{ "account", "oauth_token_cmd", "[account a]\nhost = h\nuser = u\noauth_token_cmd = oama access u\n",
		"[account a]\nhost = h\nuser = u\noauth_token_cmd = oama access v\n" },
	{ "account", "auth", ACCOUNT, ACCOUNT "auth = login\n" },
	{ "account", "mailbox", ACCOUNT, ACCOUNT "mailbox = Sent\n" },
	{ "account", "mailboxes", ACCOUNT "mailboxes = INBOX, Sent\n", ACCOUNT "mailboxes = Sent, INBOX\n" },
	{ "account", "poll_interval", ACCOUNT, ACCOUNT "poll_interval = 3m\n" },
	{ "account", "max_connections", ACCOUNT, ACCOUNT "max_connections = 4\n" },
};

static const struct change other_changes[] = {
	{ "general", "notify", ACCOUNT, "[general]\nnotify = no\n" ACCOUNT },
	{ "general", "open_cmd", ACCOUNT, "[general]\nopen_cmd = thunderbird\n" ACCOUNT },
	{ "general", "mark_read", ACCOUNT, "[general]\nmark_read = no\n" ACCOUNT },
	{ "general", "sound", ACCOUNT, "[general]\nsound = yes\n" ACCOUNT },
	{ "general", "icon", ACCOUNT, "[general]\nicon = mail-message-new\n" ACCOUNT },
	{ "general", "coalesce", ACCOUNT, "[general]\ncoalesce = 0s\n" ACCOUNT },
	{ "general", "dedupe_window", ACCOUNT, "[general]\ndedupe_window = 2d\n" ACCOUNT },
	{ "general", "hook", ACCOUNT, "[general]\nhook = run-it\n" ACCOUNT },
	{ "general", "hook_timeout", ACCOUNT, "[general]\nhook_timeout = 2m\n" ACCOUNT },
	{ "general", "hook_concurrency", ACCOUNT, "[general]\nhook_concurrency = 3\n" ACCOUNT },
	{ "general", "sync_hook", ACCOUNT, "[general]\nsync_hook = mbsync -a\n" ACCOUNT },
	{ "general", "sync_on", ACCOUNT, "[general]\nsync_on = new, flags\n" ACCOUNT },
	{ "general", "sync_delay", ACCOUNT, "[general]\nsync_delay = 0s\n" ACCOUNT },
	{ "general", "state_dir", ACCOUNT, "[general]\nstate_dir = /tmp/mb\n" ACCOUNT },
	{ "general", "catchup", ACCOUNT, "[general]\ncatchup = no\n" ACCOUNT },
	{ "general", "catchup_summary", ACCOUNT, "[general]\ncatchup_summary = 6\n" ACCOUNT },
	{ "general", "download_limit", ACCOUNT, "[general]\ndownload_limit = 1\n" ACCOUNT },
	{ "general", "preview", ACCOUNT, "[general]\npreview = no\n" ACCOUNT },
	{ "general", "quiet_hours", ACCOUNT, "[general]\nquiet_hours = 22:00-07:00\n" ACCOUNT },
	{ "account", "notify", ACCOUNT, ACCOUNT "notify = no\n" },
	{ "account", "open_cmd", ACCOUNT, ACCOUNT "open_cmd = thunderbird\n" },
	{ "account", "open_cmd", "[general]\nopen_cmd = thunderbird\n" ACCOUNT,
		"[general]\nopen_cmd = thunderbird\n" ACCOUNT "open_cmd =\n" },
	{ "account", "mark_read", ACCOUNT, ACCOUNT "mark_read = no\n" },
	{ "account", "sound", ACCOUNT, ACCOUNT "sound = yes\n" },
	{ "account", "icon", ACCOUNT, ACCOUNT "icon = mail-message-new\n" },
	{ "account", "hook", ACCOUNT "hook = a\n", ACCOUNT "hook = b\n" },
	{ "account", "sync_hook", ACCOUNT, ACCOUNT "sync_hook = mbsync a\n" },
	{ "account", "sync_hook", "[general]\nsync_hook = x\n" ACCOUNT, "[general]\nsync_hook = x\n" ACCOUNT "sync_hook =\n" },
	{ "account", "sync_hook.MAILBOX", ACCOUNT, ACCOUNT "sync_hook.INBOX = x\n" },
	{ "account", "sync_hook.MAILBOX", ACCOUNT "sync_hook.INBOX = x\n", ACCOUNT "sync_hook.INBOX = y\n" },
	{ "account", "sync_on", ACCOUNT, ACCOUNT "sync_on = expunge\n" },
	{ "account", "download_limit", ACCOUNT, ACCOUNT "download_limit = 64K\n" },
	{ "account", "preview", ACCOUNT, ACCOUNT "preview = off\n" },
	{ "account", "quiet_hours", ACCOUNT "quiet_hours = 22:00-07:00\n", ACCOUNT "quiet_hours = 22:00-07:30\n" },
	/* rules */
	{ "rule", "from", ACCOUNT, ACCOUNT "[rule r]\nfrom = *@example.org\n" },
	{ "rule", "from", ACCOUNT "[rule r]\nfrom = *@example.org\n", ACCOUNT "[rule r]\nfrom = *@example.com\n" },
	{ "rule", "from", ACCOUNT "[rule r]\nfrom = *@example.org\n", ACCOUNT "[rule r]\nfrom = !*@example.org\n" },
	{ "rule", "from", ACCOUNT "[rule r]\nfrom = ~x\n", ACCOUNT "[rule r]\nfrom = x\n" },
	{ "rule", "to", ACCOUNT "[rule r]\nto = a\n", ACCOUNT "[rule r]\nto = a, b\n" },
	{ "rule", "subject", ACCOUNT "[rule r]\nsubject = ~a\n", ACCOUNT "[rule r]\nsubject = ~b\n" },
	{ "rule", "list", ACCOUNT "[rule r]\nlist = a\n", ACCOUNT "[rule r]\nlist = b\n" },
	{ "rule", "account", ACCOUNT "[rule r]\naccount = a\n", ACCOUNT "[rule r]\naccount = a*\n" },
	{ "rule", "mailbox", ACCOUNT "[rule r]\nmailbox = a\n", ACCOUNT "[rule r]\nmailbox = b\n" },
	{ "rule", "larger", ACCOUNT "[rule r]\nfrom = x\n", ACCOUNT "[rule r]\nfrom = x\nlarger = 0\n" },
	{ "rule", "smaller", ACCOUNT "[rule r]\nsmaller = 1M\n", ACCOUNT "[rule r]\nsmaller = 2M\n" },
	{ "rule", "action", ACCOUNT "[rule r]\nfrom = x\n", ACCOUNT "[rule r]\nfrom = x\naction = notify\n" },
	{ "rule", "urgency", ACCOUNT "[rule r]\nfrom = x\n", ACCOUNT "[rule r]\nfrom = x\nurgency = normal\n" },
	{ "rule", "hook", ACCOUNT "[rule r]\nhook = a\n", ACCOUNT "[rule r]\nhook = b\n" },
	{ "rule", "download", ACCOUNT "[rule r]\ndownload = full\n", ACCOUNT "[rule r]\ndownload = headers\n" },
	/* a rule's name reaches hooks; the order of rules decides */
	{ "rule", NULL, ACCOUNT "[rule r]\nfrom = x\n", ACCOUNT "[rule s]\nfrom = x\n" },
	{ "rule", NULL, ACCOUNT "[rule r]\nfrom = x\n[rule s]\nfrom = y\n",
		ACCOUNT "[rule s]\nfrom = y\n[rule r]\nfrom = x\n" },
};

static bool
has_change(const struct change *changes, size_t n, const char *section, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(changes[i].section, section) == 0 && changes[i].key && strcmp(changes[i].key, key) == 0)
			return true;
	}
	return false;
}

START_TEST(test_equal_changes)
{
	for (size_t i = 0; i < G_N_ELEMENTS(session_changes); i++) {
		const struct change *ch = &session_changes[i];
		ck_assert_msg(setting(ch->section, ch->key)->flags & MB_SETTING_SESSION, "%s", ch->key);
		assert_compare_at(ch->a, ch->b, "a", false, false, (int)i);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(other_changes); i++) {
		const struct change *ch = &other_changes[i];
		if (ch->key)
			ck_assert_msg(!(setting(ch->section, ch->key)->flags & MB_SETTING_SESSION), "%s", ch->key);
		assert_compare_at(ch->a, ch->b, "a", false, true, 1000 + (int)i);
	}
	/* every key of the table is tried */
	size_t n;
	const struct mb_setting_info *s = mb_config_settings(&n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(has_change(session_changes, G_N_ELEMENTS(session_changes), s[i].section, s[i].key)
			|| has_change(other_changes, G_N_ELEMENTS(other_changes), s[i].section, s[i].key),
			"%s/%s: no test changes it", s[i].section, s[i].key);
	}

	/* a [general] keepalive or timeout affects every account */
	const char *two = ACCOUNT "[account b]\nhost = h2\nuser = u\npassword_cmd = x\npoll_interval = 1m\n";
	char *changed = g_strconcat("[general]\nkeepalive = 20m\n", two, NULL);
	assert_compare(two, changed, "a", false, false);
	assert_compare(two, changed, "b", false, false);
	g_free(changed);
	/* a [general] poll_interval only those that inherit it */
	changed = g_strconcat("[general]\npoll_interval = 10m\n", two, NULL);
	assert_compare(two, changed, "a", false, false);
	assert_compare(two, changed, "b", true, true);
	g_free(changed);
	/* an account by another name is another account */
	assert_compare(ACCOUNT "[account b]\nhost = h\nuser = u\npassword = p\n", ACCOUNT, "a", true, true);
	struct mb_config *c = load_ok(ACCOUNT "[account b]\nhost = h\nuser = u\npassword = p\n");
	ck_assert(!mb_account_config_equal(c, account(c, 0), c, account(c, 1)));
	ck_assert(!mb_account_config_session_equal(c, account(c, 0), c, account(c, 1)));
	mb_config_destroy(c);
}
END_TEST

/* mailbell.ini(5): the section a key is documented in, and the text of its
 * entry's first lines (up to the indented description), joined. */
struct doc_key {
	char *section;
	char *key;
	char *header;
};

static void
doc_key_free(gpointer data)
{
	struct doc_key *d = data;
	g_free(d->section);
	g_free(d->key);
	g_free(d->header);
	g_free(d);
}

static GPtrArray *
read_man_keys(const char *path)
{
	char *text = NULL;
	GError *error = NULL;
	ck_assert_msg(g_file_get_contents(path, &text, NULL, &error), "%s", error ? error->message : "");
	char **lines = g_strsplit(text, "\n", -1);
	g_free(text);
	GPtrArray *keys = g_ptr_array_new_with_free_func(doc_key_free);
	const char *section = NULL;
	bool code = false;
	for (size_t i = 0; lines[i]; i++) {
		const char *line = lines[i];
		if (g_str_has_prefix(line, "```")) {
			code = !code;
			continue;
		}
		if (code)
			continue;
		if (g_str_has_prefix(line, "# ")) {
			section = strcmp(line, "# [general]") == 0 ? "general"
				: strcmp(line, "# [account NAME]") == 0 ? "account"
				: strcmp(line, "# [rule NAME]") == 0 ? "rule" : NULL;
			continue;
		}
		if (!section || line[0] != '*')
			continue;
		const char *end = strchr(line + 1, '*');
		if (!end || !g_str_has_prefix(end, "* = "))
			continue;
		GString *header = g_string_new(line);
		for (size_t j = i + 1; lines[j] && lines[j][0] != '\0' && lines[j][0] != '\t'; j++)
			g_string_append_printf(header, " %s", lines[j]);
		struct doc_key *d = g_new0(struct doc_key, 1);
		d->section = g_strdup(section);
		d->key = g_strndup(line + 1, (size_t)(end - line - 1));
		d->header = g_string_free(header, FALSE);
		g_ptr_array_add(keys, d);
	}
	g_strfreev(lines);
	return keys;
}

static const struct doc_key *
find_doc(GPtrArray *keys, const char *section, const char *key)
{
	for (guint i = 0; i < keys->len; i++) {
		const struct doc_key *d = keys->pdata[i];
		if (strcmp(d->section, section) == 0 && strcmp(d->key, key) == 0)
			return d;
	}
	return NULL;
}

START_TEST(test_man_page)
{
	GPtrArray *docs = read_man_keys(MB_SOURCE_ROOT "/man/mailbell.ini.5.scd");
	/* the reading itself works: a few known entries */
	ck_assert_uint_gt(docs->len, 40);
	ck_assert_ptr_nonnull(find_doc(docs, "general", "keepalive"));
	ck_assert_ptr_nonnull(find_doc(docs, "account", "host"));
	ck_assert_ptr_nonnull(find_doc(docs, "rule", "download"));
	ck_assert_ptr_null(find_doc(docs, "rule", "host"));

	GString *problems = g_string_new(NULL);
	size_t n;
	const struct mb_setting_info *s = mb_config_settings(&n);
	for (size_t i = 0; i < n; i++) {
		const struct mb_setting_info *r = &s[i];
		const struct doc_key *d = find_doc(docs, r->section, r->key);
		const char *where = strcmp(r->section, "general") == 0 ? "[general]"
			: strcmp(r->section, "account") == 0 ? "[account NAME]" : "[rule NAME]";
		if (!d) {
			g_string_append_printf(problems, "%s: not documented in %s as *%s* =\n", r->key, where, r->key);
			continue;
		}
		/* the type, or for a choice its words */
		GString *want = g_string_new(NULL);
		g_string_printf(want, "*%s* = ", r->key);
		if (strcmp(r->type, "choice") == 0) {
			char **words = g_strsplit(r->range, " | ", -1);
			for (char **w = words; *w; w++)
				g_string_append_printf(want, "%s*%s*", w == words ? "" : " | ", *w);
			g_strfreev(words);
		} else {
			g_string_append_printf(want, "_%s_", r->type);
		}
		if (!g_str_has_prefix(d->header, want->str))
			g_string_append_printf(problems, "%s in %s: want \"%s\", the page says \"%s\"\n", r->key, where,
				want->str, d->header);
		if (r->def) {
			g_string_printf(want, "(default: *%s*", r->def);
			if (!strstr(d->header, want->str))
				g_string_append_printf(problems, "%s in %s: want \"%s\", the page says \"%s\"\n", r->key,
					where, want->str, d->header);
		}
		if ((r->flags & MB_SETTING_INHERITS) && !strstr(d->header, "(default: the *[general]* value"))
			g_string_append_printf(problems, "%s in %s: want \"(default: the *[general]* value\", "
				"the page says \"%s\"\n", r->key, where, d->header);
		if ((r->flags & MB_SETTING_REQUIRED) && !strstr(d->header, "(required)"))
			g_string_append_printf(problems, "%s in %s: want \"(required)\", the page says \"%s\"\n", r->key,
				where, d->header);
		if (r->range && strcmp(r->type, "choice") != 0) {
			char **bounds = g_strsplit(r->range, "..", 2);
			if (*bounds[1])
				g_string_printf(want, "from *%s* to *%s*", bounds[0], bounds[1]);
			else
				g_string_printf(want, "at least *%s*", bounds[0]);
			g_strfreev(bounds);
			if (!strstr(d->header, want->str))
				g_string_append_printf(problems, "%s in %s: want \"%s\", the page says \"%s\"\n", r->key,
					where, want->str, d->header);
		}
		g_string_free(want, TRUE);
	}
	/* and nothing is documented that does not exist */
	for (guint i = 0; i < docs->len; i++) {
		const struct doc_key *d = docs->pdata[i];
		if (!setting(d->section, d->key))
			g_string_append_printf(problems, "%s: documented in [%s] but not in the settings table\n", d->key,
				d->section);
	}
	ck_assert_msg(problems->len == 0, "mailbell.ini(5) and the settings table disagree:\n%s", problems->str);
	g_string_free(problems, TRUE);
	g_ptr_array_free(docs, TRUE);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_duration_parse);
	tcase_add_test(tc, test_size_parse);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_rule_defaults);
	tcase_add_test(tc, test_full_fixture);
	tcase_add_test(tc, test_minimal_fixture);
	tcase_add_test(tc, test_ports_per_tls);
	tcase_add_test(tc, test_general_durations);
	tcase_add_test(tc, test_range_errors);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_bools);
	tcase_add_test(tc, test_hook_empty_vs_unset);
	tcase_add_test(tc, test_sync_hooks);
	tcase_add_test(tc, test_notification_keys);
	tcase_add_test(tc, test_download_preview);
	tcase_add_test(tc, test_rule_keys);
	tcase_add_test(tc, test_rule_errors);
	tcase_add_test(tc, test_rule_contradictions);
	tcase_add_test(tc, test_password_exclusive);
	tcase_add_test(tc, test_mailboxes);
	tcase_add_test(tc, test_auth_requirements);
	tcase_add_test(tc, test_missing_required);
	tcase_add_test(tc, test_structure_errors);
	tcase_add_test(tc, test_bytes);
	tcase_add_test(tc, test_first_error_wins);
	tcase_add_test(tc, test_syntax_accepted);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_cannot_open);
	tcase_add_test(tc, test_permission_warning);
	tcase_add_test(tc, test_quiet_hours);
	tcase_add_test(tc, test_settings_table);
	tcase_add_test(tc, test_foreach_value);
	tcase_add_test(tc, test_equal_same);
	tcase_add_test(tc, test_equal_changes);
	tcase_add_test(tc, test_man_page);
	suite_add_tcase(s, tc);

	/* GLib caches these directories on first use, so each of these tests
	 * needs a process of its own: they only run in check's fork mode. */
	const char *fork_env = getenv("CK_FORK");
	if (!fork_env || strcmp(fork_env, "no") != 0) {
		TCase *paths = tcase_create("default-path");
		tcase_add_test(paths, test_default_path_xdg);
		tcase_add_test(paths, test_default_path_home);
		suite_add_tcase(s, paths);
	}
	return s;
}

int
main(void)
{
	warnings = g_string_new(NULL);
	g_log_set_writer_func(capture_writer, NULL, NULL);
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	g_string_free(warnings, TRUE);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
