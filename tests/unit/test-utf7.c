/* Modified UTF-7 mailbox names (RFC 3501 section 5.1.3). */
#include <check.h>
#include <stdlib.h>
#include <glib.h>

#include "imap-utf7.h"

static const struct {
	const char *utf8;
	const char *mutf7;
} pairs[] = {
	{ "INBOX", "INBOX" },
	{ "", "" },
	{ "Lists/rust", "Lists/rust" },
	{ "Tom & Jerry", "Tom &- Jerry" },
	/* RFC 3501 5.1.3's example */
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-" },
	/* outside the BMP: a surrogate pair */
	{ "mail \xf0\x9f\x93\xa7", "mail &2D3c5w-" },
	{ "&&", "&-&-" },
};

START_TEST(test_roundtrip)
{
	for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
		char *enc = mb_imap_utf7_encode(pairs[i].utf8);
		ck_assert_str_eq(enc, pairs[i].mutf7);
		char *dec = mb_imap_utf7_decode(pairs[i].mutf7);
		ck_assert_ptr_nonnull(dec);
		ck_assert_str_eq(dec, pairs[i].utf8);
		g_free(enc);
		g_free(dec);
	}
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad[] = {
		"&",            /* unterminated shift */
		"&AOk",         /* no closing '-' */
		"&A-",          /* not a whole UTF-16 unit */
		"&AGE-",        /* "a" must be written directly */
		"&2D0-",        /* lone high surrogate */
		"&3ec-",        /* lone low surrogate */
		"&AOk*-",       /* not base64 */
		"caf\xc3\xa9",  /* 8-bit byte on the wire */
		"tab\there",
		"&AOkA6Q-x&AOk", /* valid, then unterminated */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *dec = mb_imap_utf7_decode(bad[i]);
		ck_assert_msg(dec == NULL, "'%s' decoded to '%s'", bad[i], dec);
	}
}
END_TEST

START_TEST(test_encode_invalid_utf8)
{
	char *enc = mb_imap_utf7_encode("a\xff" "b");
	ck_assert_str_eq(enc, "a&,,0-b"); /* U+FFFD; modified base64 has "," for "/" */
	g_free(enc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("utf7");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_encode_invalid_utf8);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
