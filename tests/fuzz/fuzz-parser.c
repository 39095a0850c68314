/* libFuzzer harness for src/imap-parser.c.
 *
 * The input is a server byte stream. It is parsed twice: fed all at once,
 * and fed in chunks whose sizes come from a hash of the input (so a seed file
 * is a plain transcript). Both runs must produce the same responses and the
 * same error: framing must not depend on how bytes arrive. Every response is
 * checked against the header's promises, and its strings go through
 * mb_imap_parse_u32/u64, mb_imap_fetch_item, mb_imap_flags_have and an
 * mb_imap_astring_encode round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

/* --- a digest of everything parsed, to compare the two runs ------------- */

struct digest {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct digest *d, const void *data, size_t n)
{
	if (d->cap - d->len < n) {
		size_t cap = d->cap ? d->cap : 256;
		while (cap - d->len < n)
			cap *= 2;
		d->p = realloc(d->p, cap);
		CHECK(d->p);
		d->cap = cap;
	}
	if (n)
		memcpy(d->p + d->len, data, n);
	d->len += n;
}

static void put_u64(struct digest *d, uint64_t v)
{
	put(d, &v, sizeof(v));
}

static void put_str(struct digest *d, const char *s)
{
	if (!s) {
		put_u64(d, UINT64_MAX);
		return;
	}
	put_u64(d, strlen(s));
	put(d, s, strlen(s));
}

/* --- exercising the helpers --------------------------------------------- */

static void check_u32(const char *s)
{
	uint32_t u = 0;
	uint64_t w = 0;
	const char *z = s;
	char tmp[32];

	if (mb_imap_parse_u32(s, true, &u)) {
		CHECK(strlen(s) >= 1 && strlen(s) <= 10);
		while (*z == '0' && z[1])
			z++;
		snprintf(tmp, sizeof(tmp), "%u", u);
		CHECK(strcmp(tmp, z) == 0);
		CHECK(mb_imap_parse_u32(s, false, &u) == (u != 0));
		CHECK(mb_imap_parse_u64(s, &w) && w == u);
	}
	if (mb_imap_parse_u64(s, &w)) {
		CHECK(w <= (uint64_t)INT64_MAX);
		while (*z == '0' && z[1])
			z++;
		snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)w);
		CHECK(strcmp(tmp, z) == 0);
	}
}

/* Encodes s as an astring and parses it back as a server would send it. */
static void check_astring(const char *s, size_t len, bool literal_plus)
{
	enum mb_imap_astring_kind kind;
	size_t n, i;
	char *enc = mb_imap_astring_encode(s, len, literal_plus, &kind, &n);
	struct mb_imap_parser *p;
	struct mb_imap_response *r = NULL;
	const char *err = NULL;
	char *line;

	CHECK(enc && enc[n] == '\0');
	switch (kind) {
	case MB_IMAP_ASTRING_ATOM:
		CHECK(n == len && len > 0 && memcmp(enc, s, len) == 0);
		for (i = 0; i < len; i++)
			CHECK((unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f
				&& !strchr("(){ \"\\%*]", s[i]));
		/* '[' is an ATOM-CHAR for servers; our parser reads it as the
		 * start of a section, so no round trip for those. */
		if (memchr(s, '[', len)) {
			free(enc);
			return;
		}
		break;
	case MB_IMAP_ASTRING_QUOTED:
		CHECK(n >= 2 && enc[0] == '"' && enc[n - 1] == '"');
		CHECK(!memchr(enc, '\r', n) && !memchr(enc, '\n', n) && !memchr(enc, '\0', n));
		break;
	case MB_IMAP_ASTRING_LITERAL:
		CHECK(enc[0] == '{');
		CHECK(n > len && memcmp(enc + n - len, s, len) == 0);
		break;
	default:
		CHECK(0);
	}

	line = malloc(n + 8);
	CHECK(line);
	memcpy(line, "* X ", 4);
	memcpy(line + 4, enc, n);
	memcpy(line + 4 + n, "\r\n", 2);
	p = mb_imap_parser_create(len + 1);
	CHECK(mb_imap_parser_feed(p, line, n + 6));
	CHECK(mb_imap_parser_next(p, &r, &err) == MB_IMAP_PARSE_OK);
	CHECK(r->data && r->data->n_items == 1);
	CHECK(r->data->items[0].type == (kind == MB_IMAP_ASTRING_ATOM ? MB_IMAP_ATOM : MB_IMAP_STRING));
	CHECK(r->data->items[0].len == len);
	CHECK(memcmp(r->data->items[0].str, s, len) == 0);
	CHECK(r->data->items[0].literal == (kind == MB_IMAP_ASTRING_LITERAL));
	mb_imap_response_free(r);
	CHECK(mb_imap_parser_next(p, &r, &err) == MB_IMAP_PARSE_NEED_MORE);
	CHECK(mb_imap_parser_pending(p) == 0);
	mb_imap_parser_destroy(p);
	free(line);
	free(enc);
}

static void check_value(const struct mb_imap_value *v, unsigned depth, bool deep,
	struct digest *d)
{
	size_t i;

	CHECK(depth <= MB_IMAP_MAX_DEPTH);
	put_u64(d, v->type);
	switch (v->type) {
	case MB_IMAP_NIL:
		CHECK(!v->str && !v->items && v->n_items == 0 && !v->literal);
		break;
	case MB_IMAP_ATOM:
	case MB_IMAP_STRING:
		CHECK(v->str && v->str[v->len] == '\0');
		CHECK(!v->items && v->n_items == 0);
		if (v->type == MB_IMAP_ATOM) {
			CHECK(v->len > 0 && strlen(v->str) == v->len && !v->literal);
			CHECK(!memchr(v->str, '\r', v->len) && !memchr(v->str, '\n', v->len));
		}
		if (!v->literal && v->type == MB_IMAP_STRING)
			CHECK(strlen(v->str) == v->len && !strchr(v->str, '\r') && !strchr(v->str, '\n'));
		put_u64(d, v->literal);
		put_u64(d, v->len);
		put(d, v->str, v->len);
		if (deep) {
			check_u32(v->str);
			check_astring(v->str, v->len, v->len & 1);
		}
		break;
	case MB_IMAP_LIST:
		CHECK(!v->str && !v->literal);
		CHECK(v->n_items == 0 || v->items);
		put_u64(d, v->n_items);
		for (i = 0; i < v->n_items; i++)
			check_value(&v->items[i], depth + 1, deep, d);
		if (deep) {
			const struct mb_imap_value *f;
			if (v->n_items > 0 && v->items[0].type == MB_IMAP_ATOM) {
				f = mb_imap_fetch_item(v, v->items[0].str);
				CHECK(v->n_items == 1 ? (!f || v->items[0].type == MB_IMAP_LIST)
					: f == &v->items[1]);
				CHECK(mb_imap_flags_have(v, v->items[0].str));
			}
			(void)mb_imap_flags_have(v, "\\Seen");
			(void)mb_imap_fetch_item(v, "BODY[]");
		}
		break;
	default:
		CHECK(0);
	}
}

static void check_text(const char *s)
{
	CHECK(s);
	CHECK(!strchr(s, '\r') && !strchr(s, '\n'));
}

static void check_response(const struct mb_imap_response *r, bool deep, struct digest *d)
{
	put_u64(d, r->kind);
	put_u64(d, r->status);
	put_u64(d, r->has_number);
	put_u64(d, r->number);
	put_str(d, r->tag);
	put_str(d, r->name);
	put_str(d, r->code);
	put_str(d, r->code_text);
	put_str(d, r->text);
	CHECK((r->code == NULL) == (r->code_text == NULL));
	if (r->code) {
		CHECK(r->code[0] != '\0');
		check_text(r->code);
		check_text(r->code_text);
	}
	switch (r->kind) {
	case MB_IMAP_TAGGED:
		CHECK(r->tag && r->tag[0] && strcmp(r->tag, "*") != 0 && r->tag[0] != '+');
		CHECK(r->status == MB_IMAP_STATUS_OK || r->status == MB_IMAP_STATUS_NO
			|| r->status == MB_IMAP_STATUS_BAD);
		CHECK(!r->name && !r->data && !r->has_number);
		check_text(r->text);
		break;
	case MB_IMAP_UNTAGGED:
		CHECK(!r->tag);
		if (r->status == MB_IMAP_STATUS_NONE) {
			CHECK(r->name && r->name[0] && r->data && r->data->type == MB_IMAP_LIST);
			CHECK(!r->text && !r->code);
			check_value(r->data, 0, deep, d);
			if (deep) {
				const struct mb_imap_value *uid = mb_imap_fetch_item(r->data, "UID");
				const struct mb_imap_value *flags = mb_imap_fetch_item(r->data, "FLAGS");
				if (uid && uid->str)
					check_u32(uid->str);
				(void)mb_imap_flags_have(flags, "\\Recent");
				(void)mb_imap_fetch_item(r->data, "ENVELOPE");
			}
		} else {
			CHECK(!r->name && !r->data && !r->has_number);
			check_text(r->text);
		}
		break;
	case MB_IMAP_CONTINUATION:
		CHECK(!r->tag && !r->name && !r->data && !r->code);
		CHECK(r->status == MB_IMAP_STATUS_NONE);
		check_text(r->text);
		break;
	default:
		CHECK(0);
	}
}

/* --- the two runs ------------------------------------------------------- */

static uint64_t hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	return h;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Drains complete responses. Returns false once the parser failed. */
static bool drain(struct mb_imap_parser *p, bool deep, struct digest *d)
{
	for (;;) {
		struct mb_imap_response *r = (void *)1;
		const char *err = NULL;
		enum mb_imap_parse_result res = mb_imap_parser_next(p, &r, &err);

		switch (res) {
		case MB_IMAP_PARSE_OK:
			CHECK(r);
			check_response(r, deep, d);
			mb_imap_response_free(r);
			break;
		case MB_IMAP_PARSE_NEED_MORE:
			CHECK(!r);
			return true;
		case MB_IMAP_PARSE_ERROR:
			CHECK(!r && err && err[0]);
			put_u64(d, 0xE7707);
			put_str(d, err);
			return false;
		default:
			CHECK(0);
		}
	}
}

static void run(const uint8_t *data, size_t size, size_t max_literal, uint64_t seed,
	bool deep, struct digest *d)
{
	struct mb_imap_parser *p = mb_imap_parser_create(max_literal);
	size_t off = 0;
	bool ok = true;

	while (ok && off < size) {
		size_t k = size - off;
		if (seed) {
			uint64_t r = xorshift(&seed);
			size_t c = (r & 7) == 0 ? 1 + (size_t)(r >> 8) % 1024 : 1 + (size_t)(r >> 8) % 8;
			if (c < k)
				k = c;
		}
		if (!mb_imap_parser_feed(p, data + off, k)) {
			const char *err = NULL;
			struct mb_imap_response *r;
			CHECK(mb_imap_parser_next(p, &r, &err) == MB_IMAP_PARSE_ERROR && err);
		}
		off += k;
		/* Sometimes let several chunks pile up before draining. */
		if (!seed || (seed & 0x30) != 0 || off == size)
			ok = drain(p, deep, d);
		CHECK(mb_imap_parser_pending(p) <= off);
	}
	if (ok)
		put_u64(d, mb_imap_parser_pending(p));
	mb_imap_parser_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = hash(data, size);
	/* Mostly the default limit; sometimes a tiny one to reach the bound. */
	size_t max_literal = (h & 3) == 0 ? 1 + (size_t)(h >> 2) % 64 : 0;
	struct digest whole = { 0 }, chunked = { 0 };

	run(data, size, max_literal, 0, true, &whole);
	run(data, size, max_literal, h | 1, false, &chunked);
	if (whole.len != chunked.len || memcmp(whole.p, chunked.p, whole.len) != 0) {
		fprintf(stderr, "whole and chunked parses differ\n");
		abort();
	}
	free(whole.p);
	free(chunked.p);

	/* The encoder on the raw input, too. */
	if (size < 64 * 1024)
		check_astring((const char *)data, size, h & 2);
	return 0;
}
