/* The raw attributes of one FETCH response, taken out of the parser's value
 * tree without decoding anything.
 *
 * Section names reach us as single atoms (the parser keeps
 * "BODY[HEADER.FIELDS (FROM)]<0>" whole), spelled the way each server likes:
 * Dovecot echoes "BODY[HEADER.FIELDS (SUBJECT DATE)]<0>", Courier quotes the
 * field names ("SUBJECT" "DATE"), some servers lower-case or add spaces. So
 * the section text is classified by its first word only; the field names in
 * it do not matter, since every header-field block is kept. */
#define G_LOG_DOMAIN "mailbell"

#include "imap-fetch.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

enum section {
	SECTION_NONE,    /* not a BODY[...] item we know */
	SECTION_BODY,    /* BODY[] */
	SECTION_HEADER,  /* BODY[HEADER] */
	SECTION_FIELDS,  /* BODY[HEADER.FIELDS (...)] or HEADER.FIELDS.NOT */
	SECTION_TEXT,    /* BODY[TEXT] */
};

static bool name_is(const struct mb_imap_value *key, const char *name)
{
	return key->len == strlen(name) && g_ascii_strcasecmp(key->str, name) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Classifies "BODY[section]<origin>" (also "BODY.PEEK[...]", which no server
 * should echo but costs nothing to accept). Only origin 0 or none counts: we
 * never ask for a later piece. */
static enum section classify(const char *s, size_t len)
{
	const char *end = s + len;
	const char *p, *open, *close, *q;
	size_t n;

	if (len < 6 || g_ascii_strncasecmp(s, "BODY", 4) != 0)
		return SECTION_NONE;
	p = s + 4;
	if (end - p >= 5 && g_ascii_strncasecmp(p, ".PEEK", 5) == 0)
		p += 5;
	if (p >= end || *p != '[')
		return SECTION_NONE;
	open = p + 1;
	/* the last ']': a quoted field name may hold one */
	close = end;
	while (close > open && close[-1] != ']')
		close--;
	if (close == open)
		return SECTION_NONE;
	q = close;
	close--;
	/* the origin, "<0>": a later piece of a section is not its start */
	if (q < end) {
		const char *d = q + 1;

		if (*q != '<' || end[-1] != '>' || d >= end - 1 || *d != '0')
			return SECTION_NONE;
		while (d < end - 1 && *d == '0')
			d++;
		/* "<0.N>" as some servers echo the partial range */
		if (d < end - 1 && *d == '.')
			for (d++; d < end - 1 && g_ascii_isdigit(*d); d++)
				;
		if (d != end - 1)
			return SECTION_NONE;
	}

	while (open < close && is_space(*open))
		open++;
	while (close > open && is_space(close[-1]))
		close--;
	n = (size_t)(close - open);
	if (n == 0)
		return SECTION_BODY;
	if (n == 6 && g_ascii_strncasecmp(open, "HEADER", 6) == 0)
		return SECTION_HEADER;
	if (n == 4 && g_ascii_strncasecmp(open, "TEXT", 4) == 0)
		return SECTION_TEXT;
	if (n > 13 && g_ascii_strncasecmp(open, "HEADER.FIELDS", 13) == 0) {
		const char *r = open + 13;

		if (close - r >= 4 && g_ascii_strncasecmp(r, ".NOT", 4) == 0)
			r += 4;
		while (r < close && is_space(*r))
			r++;
		if (r < close && *r == '(')
			return SECTION_FIELDS;
	}
	return SECTION_NONE;
}

/* A header-field block without its closing blank line, ending in exactly one
 * CRLF: joined blocks then read as one header, with no empty line in the
 * middle to end it early. A partial fetch may cut the last line; it gets its
 * CRLF too. */
static void append_fields(GByteArray **block, const struct mb_imap_value *v)
{
	size_t n = v->len;

	while (n > 0 && (v->str[n - 1] == '\r' || v->str[n - 1] == '\n'))
		n--;
	if (n == 0)
		return;
	if (*block == NULL)
		*block = g_byte_array_sized_new((guint)n + 2);
	g_byte_array_append(*block, (const guint8 *)v->str, (guint)n);
	g_byte_array_append(*block, (const guint8 *)"\r\n", 2);
}

static bool parse_uid(const struct mb_imap_value *v, uint32_t *out)
{
	return v->type == MB_IMAP_ATOM && mb_imap_parse_u32(v->str, false, out);
}

bool mb_imap_fetch_parse(const struct mb_imap_value *att, struct mb_imap_fetch *out,
	const char **errstr_r)
{
	struct mb_imap_fetch f = { 0 };
	GByteArray *fields = NULL;
	const char *dummy;
	bool have_uid = false;

	if (errstr_r == NULL)
		errstr_r = &dummy;
	*errstr_r = NULL;
	if (att == NULL || att->type != MB_IMAP_LIST) {
		*errstr_r = "FETCH data is not a list";
		return false;
	}
	/* resp->data of a FETCH response: the list holding the msg-att list */
	if (att->n_items == 1 && att->items[0].type == MB_IMAP_LIST)
		att = &att->items[0];

	/* name/value pairs: walking pairs means a value is never taken for a
	 * name; a name without a value is left to the checks below */
	for (size_t i = 0; i + 1 < att->n_items; i += 2) {
		const struct mb_imap_value *key = &att->items[i];
		const struct mb_imap_value *v = &att->items[i + 1];
		enum section section;
		GBytes **slot;

		if (key->type != MB_IMAP_ATOM) {
			*errstr_r = "FETCH item name is not an atom";
			goto error;
		}
		if (name_is(key, "UID")) {
			if (have_uid)
				continue;
			if (!parse_uid(v, &f.uid)) {
				*errstr_r = "invalid UID in FETCH";
				goto error;
			}
			have_uid = true;
			continue;
		}
		if (name_is(key, "FLAGS")) {
			if (v->type == MB_IMAP_NIL)
				continue;
			if (v->type != MB_IMAP_LIST) {
				*errstr_r = "FLAGS in FETCH is not a list";
				goto error;
			}
			f.has_flags = true;
			f.seen = mb_imap_flags_have(v, "\\Seen");
			continue;
		}
		if (name_is(key, "RFC822.SIZE")) {
			uint64_t size;

			if (v->type == MB_IMAP_NIL)
				continue;
			/* number64 in IMAP4rev2: clamp rather than fail */
			if (v->type != MB_IMAP_ATOM || !mb_imap_parse_u64(v->str, &size)) {
				*errstr_r = "invalid RFC822.SIZE in FETCH";
				goto error;
			}
			f.size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
			continue;
		}
		if (name_is(key, "PREVIEW")) {
			GString *s;

			if (v->type == MB_IMAP_NIL || f.preview != NULL)
				continue;
			if (v->type != MB_IMAP_STRING) {
				*errstr_r = "PREVIEW in FETCH is not a string";
				goto error;
			}
			/* a literal may hold NUL bytes; char * cannot */
			s = g_string_sized_new(v->len + 1);
			for (size_t j = 0; j < v->len; j++)
				if (v->str[j] != '\0')
					g_string_append_c(s, v->str[j]);
			f.preview = g_string_free(s, FALSE);
			continue;
		}

		section = classify(key->str, key->len);
		if (section == SECTION_NONE)
			continue;
		if (v->type == MB_IMAP_NIL)
			continue;
		if (v->type != MB_IMAP_STRING) {
			*errstr_r = "BODY[...] in FETCH is not a string";
			goto error;
		}
		switch (section) {
		case SECTION_FIELDS:
			append_fields(&fields, v);
			continue;
		case SECTION_BODY:
			slot = &f.body;
			break;
		case SECTION_HEADER:
			slot = &f.header;
			break;
		case SECTION_TEXT:
			slot = &f.text;
			break;
		default:
			continue;
		}
		/* the same section twice: the first one stands */
		if (*slot == NULL)
			*slot = g_bytes_new(v->str, v->len);
	}

	if (att->n_items % 2 != 0) {
		const struct mb_imap_value *key = &att->items[att->n_items - 1];

		if (key->type != MB_IMAP_ATOM) {
			*errstr_r = "FETCH item name is not an atom";
			goto error;
		}
		if (name_is(key, "UID") || name_is(key, "FLAGS") || name_is(key, "RFC822.SIZE")
			|| name_is(key, "PREVIEW") || classify(key->str, key->len) != SECTION_NONE) {
			*errstr_r = "FETCH item without a value";
			goto error;
		}
	}
	if (!have_uid)
		goto error;  /* unsolicited FETCH (flag change): not an error */
	if (fields != NULL)
		f.header_fields = g_byte_array_free_to_bytes(fields);
	*out = f;
	return true;

error:
	if (fields != NULL)
		g_byte_array_unref(fields);
	mb_imap_fetch_clear(&f);
	return false;
}

static void move_bytes(GBytes **dst, GBytes **src)
{
	if (*dst == NULL) {
		*dst = *src;
		*src = NULL;
	}
}

void mb_imap_fetch_merge(struct mb_imap_fetch *dst, struct mb_imap_fetch *src)
{
	if (dst == NULL || src == NULL || dst == src)
		return;
	if (dst->uid == 0)
		dst->uid = src->uid;
	if (dst->size == 0)
		dst->size = src->size;
	if (!dst->has_flags && src->has_flags) {
		dst->has_flags = true;
		dst->seen = src->seen;
	}
	move_bytes(&dst->header_fields, &src->header_fields);
	move_bytes(&dst->header, &src->header);
	move_bytes(&dst->body, &src->body);
	move_bytes(&dst->text, &src->text);
	if (dst->preview == NULL) {
		dst->preview = src->preview;
		src->preview = NULL;
	}
	mb_imap_fetch_clear(src);
}

void mb_imap_fetch_clear(struct mb_imap_fetch *f)
{
	if (f == NULL)
		return;
	g_clear_pointer(&f->header_fields, g_bytes_unref);
	g_clear_pointer(&f->header, g_bytes_unref);
	g_clear_pointer(&f->body, g_bytes_unref);
	g_clear_pointer(&f->text, g_bytes_unref);
	g_free(f->preview);
	memset(f, 0, sizeof(*f));
}

static GBytes *ref_or_null(GBytes *b)
{
	return b != NULL ? g_bytes_ref(b) : NULL;
}

struct mb_imap_fetch *mb_imap_fetch_copy(const struct mb_imap_fetch *f)
{
	struct mb_imap_fetch *copy = g_new0(struct mb_imap_fetch, 1);

	if (f == NULL)
		return copy;
	*copy = *f;
	/* GBytes are immutable: sharing them is a copy */
	copy->header_fields = ref_or_null(f->header_fields);
	copy->header = ref_or_null(f->header);
	copy->body = ref_or_null(f->body);
	copy->text = ref_or_null(f->text);
	copy->preview = g_strdup(f->preview);
	return copy;
}

void mb_imap_fetch_free(struct mb_imap_fetch *f)
{
	if (f == NULL)
		return;
	mb_imap_fetch_clear(f);
	g_free(f);
}
