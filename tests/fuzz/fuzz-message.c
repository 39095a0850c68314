/* libFuzzer harness for src/message.c: the input is taken both as a header
 * value (mb_message_decode_header, mb_message_sanitize) and as IMAP server
 * responses whose FETCH lists go through mb_message_from_fetch. Besides
 * crashes it checks the promises of message.h: every output string is valid
 * UTF-8 without control characters, bidi overrides or outer whitespace. */
#define G_LOG_DOMAIN "mailbell"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "imap-parser.h"
#include "message.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *s)
{
	const char *p;
	size_t len;

	if (s == NULL || !g_utf8_validate(s, -1, NULL))
		abort();
	for (p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E)
			|| (c >= 0x2066 && c <= 0x2069))
			abort();
	}
	len = strlen(s);
	if (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))
		abort();
}

static void check_message(const struct mb_message *msg)
{
	check_clean(msg->from_name);
	check_clean(msg->from_address);
	check_clean(msg->from);
	check_clean(msg->subject);
	check_clean(msg->date);
	check_clean(msg->message_id);
	if (msg->uid == 0 || msg->from[0] == '\0')
		abort();
}

static void fuzz_responses(const uint8_t *data, size_t size)
{
	struct mb_imap_parser *parser = mb_imap_parser_create(0);
	struct mb_imap_response *resp;

	if (!mb_imap_parser_feed(parser, data, size)) {
		mb_imap_parser_destroy(parser);
		return;
	}
	while (mb_imap_parser_next(parser, &resp, NULL) == MB_IMAP_PARSE_OK) {
		if (resp->name != NULL && strcmp(resp->name, "FETCH") == 0
			&& resp->data != NULL && resp->data->n_items > 0) {
			const char *err = NULL;
			struct mb_message *msg = mb_message_from_fetch(&resp->data->items[0],
				"fuzz", "INBOX", 1, &err);

			if (msg != NULL)
				check_message(msg);
			else if (err == NULL)
				abort();
			mb_message_destroy(msg);
		}
		mb_imap_response_free(resp);
	}
	mb_imap_parser_destroy(parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	mb_message_library_init();

	s = mb_text_decode_header((const char *)data, size);
	check_clean(s);
	g_free(s);

	s = mb_text_sanitize((const char *)data, size);
	check_clean(s);
	g_free(s);

	fuzz_responses(data, size);
	return 0;
}
