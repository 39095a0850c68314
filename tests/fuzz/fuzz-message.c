/* libFuzzer harness for src/message.c, src/imap-fetch.c and the text
 * helpers of src/text.c. The input is used three ways:
 * - whole, as a header value (mb_text_decode_header, mb_text_sanitize), as
 *   HTML (mb_text_html_to_text) and as preview text (mb_text_preview);
 * - split into fetch attributes for mb_message_create(): the first byte's
 *   bits say which pieces are present (PIECE_* below), the rest is split at
 *   "\n%%\n" and the pieces go, in order, to the attributes whose bits are
 *   set;
 * - as IMAP server responses whose FETCH lists go through
 *   mb_imap_fetch_parse() and then mb_message_create().
 * Besides crashes it checks the promises of message.h and text.h: every
 * output string is valid UTF-8 without control characters, bidi overrides
 * or outer white space, and a preview has at most MB_PREVIEW_CHARS
 * characters. */
#define G_LOG_DOMAIN "mailbell"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "imap-fetch.h"
#include "imap-parser.h"
#include "message.h"
#include "text.h"

enum {
	PIECE_HEADER_FIELDS = 1 << 0,
	PIECE_HEADER = 1 << 1,
	PIECE_BODY = 1 << 2,
	PIECE_TEXT = 1 << 3,
	PIECE_PREVIEW = 1 << 4,
	PIECES = 5,
};

#define SEPARATOR "\n%%\n"

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

static void check_preview(const char *s)
{
	check_clean(s);
	if (g_utf8_strlen(s, -1) > MB_PREVIEW_CHARS)
		abort();
	/* white space runs are collapsed */
	if (strstr(s, "  ") != NULL)
		abort();
}

static void check_message(const struct mb_message *msg, const struct mb_imap_fetch *f,
	bool preview)
{
	check_clean(msg->from_name);
	check_clean(msg->from_address);
	check_clean(msg->from);
	check_clean(msg->subject);
	check_clean(msg->date);
	check_clean(msg->message_id);
	check_clean(msg->list_id);
	check_clean(msg->to_text);
	check_preview(msg->preview);
	if (msg->from[0] == '\0' || msg->header == NULL || msg->uid != f->uid)
		abort();
	if ((msg->raw != NULL) != (f->body != NULL))
		abort();
	if ((msg->n_to == 0) != (msg->to == NULL) || (msg->n_to == 0) != (msg->to_text[0] == '\0'))
		abort();
	for (size_t i = 0; i < msg->n_to; i++) {
		check_clean(msg->to[i].name);
		check_clean(msg->to[i].address);
	}
	if (!preview && msg->preview[0] != '\0')
		abort();
}

/* The next SEPARATOR in [p, end), or NULL; NUL bytes are data here. */
static const char *find_separator(const char *p, const char *end)
{
	size_t n = strlen(SEPARATOR);

	while ((p = memchr(p, SEPARATOR[0], (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= n && memcmp(p, SEPARATOR, n) == 0)
			return p;
		p++;
	}
	return NULL;
}

static void fuzz_pieces(const uint8_t *data, size_t size)
{
	struct mb_imap_fetch f = { .uid = 1 };
	const char *p, *end;
	unsigned flags;
	struct mb_message *msg;

	if (size == 0)
		return;
	flags = data[0];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	for (int bit = 0; bit < PIECES; bit++) {
		const char *sep;
		size_t n;

		if (!(flags & (1u << bit)))
			continue;
		sep = find_separator(p, end);
		n = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);
		switch (1 << bit) {
		case PIECE_HEADER_FIELDS:
			f.header_fields = g_bytes_new(p, n);
			break;
		case PIECE_HEADER:
			f.header = g_bytes_new(p, n);
			break;
		case PIECE_BODY:
			f.body = g_bytes_new(p, n);
			break;
		case PIECE_TEXT:
			f.text = g_bytes_new(p, n);
			break;
		case PIECE_PREVIEW:
			f.preview = g_strndup(p, n);
			break;
		}
		p = sep != NULL ? sep + strlen(SEPARATOR) : end;
	}
	msg = mb_message_create(&f, "fuzz", "INBOX", 1, true);
	check_message(msg, &f, true);
	mb_message_destroy(msg);
	/* bit 7: once more without a preview */
	if (flags & 0x80) {
		msg = mb_message_create(&f, "fuzz", "INBOX", 1, false);
		check_message(msg, &f, false);
		mb_message_destroy(msg);
	}
	mb_imap_fetch_clear(&f);
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
			struct mb_imap_fetch f;
			const char *err = "unset";

			if (mb_imap_fetch_parse(&resp->data->items[0], &f, &err)) {
				struct mb_message *msg;
				struct mb_imap_fetch *copy;

				if (f.uid == 0)
					abort();
				copy = mb_imap_fetch_copy(&f);
				msg = mb_message_create(copy, "fuzz", "INBOX", 1, true);
				check_message(msg, copy, true);
				mb_message_destroy(msg);
				mb_imap_fetch_merge(&f, copy);
				mb_imap_fetch_free(copy);
				mb_imap_fetch_clear(&f);
			} else if (err != NULL && strcmp(err, "unset") == 0) {
				abort();  /* errstr must be set or NULL */
			}
		}
		mb_imap_response_free(resp);
	}
	mb_imap_parser_destroy(parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *t;

	mb_message_library_init();

	s = mb_text_decode_header((const char *)data, size);
	check_clean(s);
	g_free(s);

	s = mb_text_sanitize((const char *)data, size);
	check_clean(s);
	g_free(s);

	s = mb_text_preview((const char *)data, size, MB_PREVIEW_CHARS);
	check_preview(s);
	g_free(s);

	/* HTML in, not sanitized out: only previews of it must be clean */
	s = mb_text_html_to_text((const char *)data, size);
	t = mb_text_preview(s, strlen(s), MB_PREVIEW_CHARS);
	check_preview(t);
	g_free(t);
	g_free(s);

	fuzz_pieces(data, size);
	fuzz_responses(data, size);
	return 0;
}
