/* Parser and decoder throughput: a stream of realistic FETCH responses
 * (header-field literals, as mailbell asks for them) fed in network-sized chunks and one byte at a time. Prints
 * figures; asserts nothing about speed (see README: benchmarks, not tests).
 * For repeatable numbers: valgrind --tool=callgrind build/tests/bench/bench-parser */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "imap-parser.h"
#include "message.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static GString *make_stream(unsigned n)
{
	GString *s = g_string_new(NULL);
	for (unsigned i = 1; i <= n; i++) {
		char *h1 = g_strdup_printf("Subject: =?UTF-8?B?SGVsbG8gw6l0w6k=?= number %u\r\n"
			"Date: Sun, 29 Nov 2026 10:%02u:00 +0100\r\n"
			"Message-ID: <msg-%u@example.org>\r\n"
			"List-Id: Rust users <rust.lists.example.org>\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n\r\n", i, i % 60, i);
		const char *h2 = "From: Alice Example <alice@example.org>\r\n\r\n";
		const char *h3 = "To: Bob <bob@example.net>, team: c@x.org;\r\n\r\n";
		g_string_append_printf(s,
			"* %u FETCH (UID %u FLAGS (\\Recent) RFC822.SIZE %u "
			"BODY[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID LIST-ID CONTENT-TYPE CONTENT-TRANSFER-ENCODING)]<0> {%zu}\r\n%s "
			"BODY[HEADER.FIELDS (FROM SENDER)]<0> {%zu}\r\n%s "
			"BODY[HEADER.FIELDS (TO CC)]<0> {%zu}\r\n%s "
			"PREVIEW \"Hello Bob, here is the report you asked for.\")\r\n",
			i, i, 1000 + i, strlen(h1), h1, strlen(h2), h2, strlen(h3), h3);
		g_free(h1);
	}
	g_string_append(s, "a5 OK Fetch completed.\r\n");
	return s;
}

static unsigned run(const GString *s, size_t chunk, bool decode, double *secs)
{
	struct mb_imap_parser *p = mb_imap_parser_create(0);
	unsigned responses = 0;
	double t0 = now();
	for (size_t off = 0; off < s->len; off += chunk) {
		size_t len = MIN(chunk, s->len - off);
		if (!mb_imap_parser_feed(p, s->str + off, len))
			abort();
		for (;;) {
			struct mb_imap_response *r = NULL;
			const char *err = NULL;
			enum mb_imap_parse_result res = mb_imap_parser_next(p, &r, &err);
			if (res == MB_IMAP_PARSE_NEED_MORE)
				break;
			if (res == MB_IMAP_PARSE_ERROR) {
				fprintf(stderr, "parse error: %s\n", err);
				abort();
			}
			if (decode && r->name && strcmp(r->name, "FETCH") == 0) {
				struct mb_imap_fetch f = { 0 };
				if (!mb_imap_fetch_parse(&r->data->items[0], &f, &err))
					abort();
				struct mb_message *m = mb_message_create(&f, "bench", "INBOX", 1, true);
				mb_message_destroy(m);
				mb_imap_fetch_clear(&f);
			}
			responses++;
			mb_imap_response_free(r);
		}
	}
	*secs = now() - t0;
	mb_imap_parser_destroy(p);
	return responses;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	mb_message_library_init();
	GString *s = make_stream(n);
	double secs;
	unsigned r = run(s, 16384, false, &secs);
	printf("parse, 16 KiB chunks: %u responses, %.1f MiB in %.3f s: %.1f MiB/s, %.0f responses/s\n",
		r, s->len / 1048576.0, secs, s->len / 1048576.0 / secs, r / secs);
	r = run(s, 16384, true, &secs);
	printf("parse + decode header fields and preview: %.0f messages/s (%.1f us per message)\n", r / secs,
		secs * 1e6 / r);
	GString *small = make_stream(n / 20 ? n / 20 : 1);
	r = run(small, 1, false, &secs);
	printf("parse, 1-byte chunks: %u responses, %.1f KiB in %.3f s: %.1f MiB/s\n",
		r, small->len / 1024.0, secs, small->len / 1048576.0 / secs);
	g_string_free(small, TRUE);
	g_string_free(s, TRUE);
	return 0;
}
