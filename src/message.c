/* A message built from the raw attributes of a FETCH: header fields decoded
 * through text.c (RFC 2047, 8-bit fallback, sanitizing) and GMime's address
 * parser, and a preview of the body through GMime's MIME parser.
 *
 * Everything here reads text a sender wrote, so every step is bounded: one
 * pass over the header for all fields, at most MAX_FIELD octets of any one
 * field value, at most MAX_PARSE octets of a body handed to GMime, and
 * previews that stop at MB_PREVIEW_CHARS characters. Malformed input gives
 * empty fields, never a failure. */
#define G_LOG_DOMAIN "mailbell"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "message.h"
#include "text.h"

/* Octets of one header field value that are decoded. The session fetches
 * each group of header fields with this partial limit too, so a huge From
 * costs the same from a downloaded body as from the fields: GMime's address
 * parser sees at most this much. */
#define MAX_FIELD 16384
/* Octets of a downloaded message given to GMime for the preview. The text
 * sits near the start; GMime copes with a cut message like with a cut
 * BODY[TEXT]<0.N>. */
#define MAX_PARSE (256 * 1024)
/* Multipart nesting looked into for the text part (GMime stops at its own,
 * larger limit while parsing). */
#define MAX_DEPTH 16
/* Charset names longer than this are no charsets (IANA's are at most 40). */
#define MAX_CHARSET 40

void mb_message_library_init(void)
{
	mb_text_init();
}

/* ---- header fields ---- */

enum field {
	F_FROM, F_SENDER, F_TO, F_CC, F_SUBJECT, F_DATE, F_MESSAGE_ID, F_LIST_ID,
	F_CONTENT_TYPE, F_CONTENT_TRANSFER_ENCODING, F_COUNT,
};

static const char *const field_names[F_COUNT] = {
	[F_FROM] = "From",
	[F_SENDER] = "Sender",
	[F_TO] = "To",
	[F_CC] = "Cc",
	[F_SUBJECT] = "Subject",
	[F_DATE] = "Date",
	[F_MESSAGE_ID] = "Message-ID",
	[F_LIST_ID] = "List-Id",
	[F_CONTENT_TYPE] = "Content-Type",
	[F_CONTENT_TRANSFER_ENCODING] = "Content-Transfer-Encoding",
};

/* Unfolded raw values (NUL-terminated, trimmed), NULL when absent. */
struct fields {
	char *value[F_COUNT];
};

static void fields_finish(struct fields *h)
{
	for (size_t i = 0; i < F_COUNT; i++)
		g_free(h->value[i]);
}

/* Appends line [p, end) to v without its line break, up to MAX_FIELD
 * octets. RFC 5322 2.2.3: unfolding drops the CRLF and keeps the white
 * space. CRs and LFs are dropped everywhere, so that a value can never
 * carry a line break into the header built for the preview; NULs too (R22:
 * they reach us in literals and would end the string). */
static void append_unfolded(GString *v, const char *p, const char *end)
{
	for (; p < end && v->len < MAX_FIELD; p++)
		if (*p != '\r' && *p != '\n' && *p != '\0')
			g_string_append_c(v, *p);
}

/* The length of the header block at the start of data: up to and with the
 * first empty line, or all of it when there is none. */
static size_t header_length(const char *data, size_t len)
{
	const char *p = data;
	const char *end = data + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (*p == '\n')
			return (size_t)(p + 1 - data);
		if (*p == '\r' && p + 1 < end && p[1] == '\n')
			return (size_t)(p + 2 - data);
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return len;
}

/* One pass over a header block: fills the fields still missing in h with the
 * first occurrence of each. Stops at the empty line that ends a header. */
static void fields_scan(struct fields *h, const char *hdr, size_t len)
{
	const char *p = hdr;
	const char *end = hdr + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;
		const char *colon, *name_end;
		size_t nlen;
		int which = -1;

		if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n')))
			break;
		colon = memchr(p, ':', (size_t)(next - p));
		if (colon == NULL || *p == ' ' || *p == '\t') {
			p = next;
			continue;
		}
		/* "Subject : x" is obsolete syntax (RFC 5322 4.5.3), still seen */
		name_end = colon;
		while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		nlen = (size_t)(name_end - p);
		for (int i = 0; i < F_COUNT; i++) {
			if (h->value[i] == NULL && strlen(field_names[i]) == nlen
				&& g_ascii_strncasecmp(p, field_names[i], nlen) == 0) {
				which = i;
				break;
			}
		}
		if (which < 0) {
			p = next;
			continue;
		}

		GString *v = g_string_new(NULL);

		append_unfolded(v, colon + 1, next);
		while (next < end && (*next == ' ' || *next == '\t')) {
			const char *e2 = memchr(next, '\n', (size_t)(end - next));
			const char *n2 = e2 != NULL ? e2 + 1 : end;

			append_unfolded(v, next, n2);
			next = n2;
		}
		h->value[which] = g_strstrip(g_string_free(v, FALSE));
		p = next;
	}
}

static void fields_scan_bytes(struct fields *h, GBytes *b)
{
	gsize len;
	const char *data;

	if (b == NULL)
		return;
	data = g_bytes_get_data(b, &len);
	if (data != NULL)
		fields_scan(h, data, len);
}

/* ---- addresses ---- */

/* Calls fn for every mailbox of the address list raw (groups looked into,
 * RFC 5322 3.4) that has an address or a name, with both sanitized; stops
 * when fn returns false. */
typedef bool (*mailbox_fn)(char *name, char *address, void *data);

static void each_mailbox(const char *raw, mailbox_fn fn, void *data)
{
	char *utf8 = mb_text_to_utf8(raw, strlen(raw));
	InternetAddressList *list = internet_address_list_parse(mb_text_gmime_options(), utf8);
	bool go_on = true;

	g_free(utf8);
	if (list == NULL)
		return;
	for (int i = 0; go_on && i < internet_address_list_length(list); i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		InternetAddressList *members = NULL;
		int n = 1;

		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
			n = members != NULL ? internet_address_list_length(members) : 0;
		}
		for (int j = 0; go_on && j < n; j++) {
			InternetAddress *m = members != NULL
				? internet_address_list_get_address(members, j) : ia;
			const char *addr, *name;
			char *clean_name, *clean_addr;

			if (!INTERNET_ADDRESS_IS_MAILBOX(m))
				continue;
			addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(m));
			name = internet_address_get_name(m);
			clean_name = mb_text_sanitize(name, name != NULL ? strlen(name) : 0);
			clean_addr = mb_text_sanitize(addr, addr != NULL ? strlen(addr) : 0);
			/* "From: <>" (bounces, R23) has neither; nor has a name
			 * made only of control characters */
			if (*clean_name == '\0' && *clean_addr == '\0') {
				g_free(clean_name);
				g_free(clean_addr);
				continue;
			}
			go_on = fn(clean_name, clean_addr, data);
		}
	}
	g_object_unref(list);
}

struct first_mailbox {
	char *name;
	char *address;
};

static bool take_first(char *name, char *address, void *data)
{
	struct first_mailbox *first = data;

	first->name = name;
	first->address = address;
	return false;
}

static bool add_recipient(char *name, char *address, void *data)
{
	GArray *to = data;
	struct mb_address a = { .name = name, .address = address };

	g_array_append_val(to, a);
	return true;
}

/* "Name <address>", or whichever of the two there is. */
static char *address_text(const char *name, const char *address)
{
	if (*name != '\0' && *address != '\0')
		return g_strdup_printf("%s <%s>", name, address);
	return g_strdup(*address != '\0' ? address : name);
}

/* For MAILBELL_TO, a list joined by ", ": a display name with a comma or
 * another RFC 5322 special is quoted ("Doe, Jane" <jane@x.org>), so the
 * list can be split again. */
static char *list_item_text(const char *name, const char *address)
{
	if (*name == '\0' || strpbrk(name, ",;<>\"\\") == NULL)
		return address_text(name, address);
	GString *q = g_string_new("\"");
	for (const char *c = name; *c; c++) {
		if (*c == '"' || *c == '\\')
			g_string_append_c(q, '\\');
		g_string_append_c(q, *c);
	}
	g_string_append_c(q, '"');
	if (*address != '\0')
		g_string_append_printf(q, " <%s>", address);
	return g_string_free(q, FALSE);
}

/* Takes ownership of name and address (either may be NULL). */
static void set_from_fields(struct mb_message *msg, char *name, char *address)
{
	if (name == NULL)
		name = g_strdup("");
	if (address == NULL)
		address = g_strdup("");
	if (*name == '\0' && *address == '\0')
		msg->from = g_strdup("(unknown sender)");
	else
		msg->from = address_text(name, address);
	msg->from_name = name;
	msg->from_address = address;
}

static void set_sender(struct mb_message *msg, const struct fields *h)
{
	struct first_mailbox first = { 0 };

	/* From's first real mailbox (R24: a group is looked into), else
	 * Sender's (R23: "From: <>") */
	if (h->value[F_FROM] != NULL)
		each_mailbox(h->value[F_FROM], take_first, &first);
	if (first.address == NULL && h->value[F_SENDER] != NULL)
		each_mailbox(h->value[F_SENDER], take_first, &first);
	set_from_fields(msg, first.name, first.address);
}

static void set_recipients(struct mb_message *msg, const struct fields *h)
{
	GArray *to = g_array_new(FALSE, FALSE, sizeof(struct mb_address));
	GString *text = g_string_new(NULL);

	if (h->value[F_TO] != NULL)
		each_mailbox(h->value[F_TO], add_recipient, to);
	if (h->value[F_CC] != NULL)
		each_mailbox(h->value[F_CC], add_recipient, to);
	for (guint i = 0; i < to->len; i++) {
		const struct mb_address *a = &g_array_index(to, struct mb_address, i);
		char *item = list_item_text(a->name, a->address);

		if (i > 0)
			g_string_append(text, ", ");
		g_string_append(text, item);
		g_free(item);
	}
	msg->n_to = to->len;
	if (msg->n_to > 0)
		msg->to = (struct mb_address *)(void *)g_array_free(to, FALSE);
	else
		g_array_free(to, TRUE);
	msg->to_text = g_string_free(text, FALSE);
}

/* ---- other fields ---- */

/* RFC 3339 with a numeric offset; formatted by hand because GLib's %Y does
 * not pad years below 1000 to four digits. */
static char *format_date(const char *raw)
{
	GDateTime *dt;
	char *text;
	char *result = NULL;

	if (raw == NULL)
		return g_strdup("");
	text = mb_text_sanitize(raw, strlen(raw));
	dt = g_mime_utils_header_decode_date(text);
	g_free(text);
	if (dt != NULL) {
		GTimeSpan offset = g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE;
		int year, month, day;
		char sign = offset < 0 ? '-' : '+';

		if (offset < 0)
			offset = -offset;
		g_date_time_get_ymd(dt, &year, &month, &day);
		if (offset < 24 * 60 && year >= 1 && year <= 9999)
			result = g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
				year, month, day, g_date_time_get_hour(dt),
				g_date_time_get_minute(dt), g_date_time_get_second(dt),
				sign, (int)(offset / 60), (int)(offset % 60));
		g_date_time_unref(dt);
	}
	return result != NULL ? result : g_strdup("");
}

static char *sanitized(const char *raw)
{
	return raw != NULL ? mb_text_sanitize(raw, strlen(raw)) : g_strdup("");
}

/* RFC 2919: List-Id: [phrase] "<" list-id ">". Lists that leave out the
 * brackets are common enough to keep the whole value then. */
static char *list_id(const char *raw)
{
	const char *open, *close;
	char *utf8, *id;

	if (raw == NULL)
		return g_strdup("");
	open = strchr(raw, '<');
	close = open != NULL ? strchr(open + 1, '>') : NULL;
	if (close != NULL)
		utf8 = mb_text_to_utf8(open + 1, (size_t)(close - open - 1));
	else
		utf8 = mb_text_to_utf8(raw, strlen(raw));
	id = mb_text_sanitize(utf8, strlen(utf8));
	g_free(utf8);
	return id;
}

/* ---- preview ---- */

static bool charset_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'
		|| c == '+';
}

/* len without a UTF-8 sequence cut short at the end (BODY[TEXT]<0.N> cuts
 * anywhere), which the fallback would read as windows-1252 bytes. */
static size_t utf8_uncut_length(const char *data, size_t len)
{
	size_t start = len;

	/* back to the last lead byte, at most 3 continuation bytes */
	while (start > 0 && len - start < 4 && ((unsigned char)data[start - 1] & 0xC0) == 0x80)
		start--;
	if (start == 0 || (unsigned char)data[start - 1] < 0xC0)
		return len;
	start--;
	if (g_utf8_get_char_validated(data + start, (gssize)(len - start)) == (gunichar)-2)
		return start;
	return len;
}

/* Converts a part's decoded bytes to UTF-8 (may hold NUL). Without a
 * charset, with one iconv does not know, or when the bytes do not convert,
 * it reads them as text.c does (UTF-8 where valid, else windows-1252). A
 * cut at the end (BODY[TEXT]<0.N>) only loses the last character. */
static GString *to_utf8(const char *data, size_t len, const char *charset)
{
	char name[MAX_CHARSET + 1];
	const char *iconv_name;
	GString *out;
	iconv_t cd;
	char *in = (char *)data;
	size_t in_left = len;
	size_t n = charset != NULL ? strlen(charset) : 0;
	bool failed = false;

	if (n == 0 || n > MAX_CHARSET)
		goto fallback;
	for (size_t i = 0; i < n; i++) {
		if (!charset_char(charset[i]))
			goto fallback;
		name[i] = g_ascii_tolower(charset[i]);
	}
	name[n] = '\0';
	/* the fallback is already right for these, and kinder to 8-bit text
	 * mislabelled as ASCII */
	if (strcmp(name, "utf-8") == 0 || strcmp(name, "utf8") == 0) {
		len = utf8_uncut_length(data, len);
		goto fallback;
	}
	if (strcmp(name, "us-ascii") == 0 || strcmp(name, "ascii") == 0)
		goto fallback;
	/* what mail labelled Latin-1 is written in (as browsers read it) */
	if (strcmp(name, "iso-8859-1") == 0 || strcmp(name, "iso8859-1") == 0
		|| strcmp(name, "latin1") == 0)
		iconv_name = "WINDOWS-1252";
	else
		iconv_name = g_mime_charset_iconv_name(name);
	/* iconv itself: g_mime_iconv_open() maps "x-unknown" to the locale */
	cd = iconv_open("UTF-8", iconv_name);
	if (cd == (iconv_t)-1)
		goto fallback;

	out = g_string_sized_new(len + len / 2 + 16);
	while (in_left > 0) {
		char buf[4096];
		char *o = buf;
		size_t o_left = sizeof(buf);
		size_t r = iconv(cd, &in, &in_left, &o, &o_left);

		g_string_append_len(out, buf, (gssize)(o - buf));
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		if (errno != EINVAL)
			failed = true;
		break;  /* EINVAL: a character cut at the end */
	}
	if (!failed) {
		char buf[64];
		char *o = buf;
		size_t o_left = sizeof(buf);

		/* back to the initial state (ISO-2022-JP) */
		if (iconv(cd, NULL, NULL, &o, &o_left) != (size_t)-1)
			g_string_append_len(out, buf, (gssize)(o - buf));
	}
	iconv_close(cd);
	if (!failed)
		return out;
	g_string_free(out, TRUE);

fallback:
	{
		char *utf8 = mb_text_to_utf8(data, len);

		out = g_string_new(utf8);
		g_free(utf8);
	}
	return out;
}

/* The decoded (transfer encoding, charset) text of a part. */
static GString *part_text(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *stream;
	GByteArray *bytes;
	GString *text;

	if (content == NULL)
		return g_string_new(NULL);
	stream = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(content, stream);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	text = to_utf8((const char *)bytes->data, bytes->len,
		g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset"));
	g_object_unref(stream);
	return text;
}

struct text_parts {
	GMimePart *plain;  /* first text/plain that is not an attachment */
	GMimePart *html;   /* first text/html that is not an attachment */
};

/* Depth first, in the order the parts appear. Attached messages
 * (message/rfc822) are not looked into: their text is not this message's. */
static void find_text_parts(GMimeObject *obj, int depth, struct text_parts *t)
{
	GMimeContentType *type;

	if (obj == NULL || depth > MAX_DEPTH || (t->plain != NULL && t->html != NULL))
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n && (t->plain == NULL || t->html == NULL); i++)
			find_text_parts(g_mime_multipart_get_part(mp, i), depth + 1, t);
		return;
	}
	if (!GMIME_IS_PART(obj) || g_mime_part_is_attachment(GMIME_PART(obj)))
		return;
	type = g_mime_object_get_content_type(obj);
	if (type == NULL)
		return;
	if (t->plain == NULL && g_mime_content_type_is_type(type, "text", "plain"))
		t->plain = GMIME_PART(obj);
	else if (t->html == NULL && g_mime_content_type_is_type(type, "text", "html"))
		t->html = GMIME_PART(obj);
}

static char *preview_of_plain(GMimePart *part)
{
	GString *text = part_text(part);
	char *preview = mb_text_preview(text->str, text->len, MB_PREVIEW_CHARS);

	g_string_free(text, TRUE);
	return preview;
}

static char *preview_of_html(GMimePart *part)
{
	GString *html = part_text(part);
	char *text = mb_text_html_to_text(html->str, html->len);
	char *preview = mb_text_preview(text, strlen(text), MB_PREVIEW_CHARS);

	g_free(text);
	g_string_free(html, TRUE);
	return preview;
}

/* The preview of a whole message (or the start of one) in data. */
static char *preview_of_mime(const char *data, size_t len)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *message;
	struct text_parts t = { 0 };
	char *preview = NULL;

	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_object_unref(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	message = g_mime_parser_construct_message(parser, mb_text_gmime_options());
	g_object_unref(parser);
	if (message == NULL)
		return g_strdup("");
	find_text_parts(g_mime_message_get_mime_part(message), 0, &t);
	if (t.plain != NULL)
		preview = preview_of_plain(t.plain);
	/* an empty text/plain next to the real text in HTML */
	if (t.html != NULL && (preview == NULL || *preview == '\0')) {
		g_free(preview);
		preview = preview_of_html(t.html);
	}
	g_object_unref(message);
	return preview != NULL ? preview : g_strdup("");
}

/* BODY[TEXT]<0.N> is the body without its header: give it back the
 * top-level MIME fields (unfolded, so without line breaks) for GMime to know
 * its type, boundary, transfer encoding and charset. */
static char *preview_of_text(GBytes *text, const struct fields *h)
{
	GString *entity = g_string_new("MIME-Version: 1.0\r\n");
	gsize len;
	const char *data = g_bytes_get_data(text, &len);
	char *preview;

	if (h->value[F_CONTENT_TYPE] != NULL)
		g_string_append_printf(entity, "Content-Type: %s\r\n", h->value[F_CONTENT_TYPE]);
	if (h->value[F_CONTENT_TRANSFER_ENCODING] != NULL)
		g_string_append_printf(entity, "Content-Transfer-Encoding: %s\r\n",
			h->value[F_CONTENT_TRANSFER_ENCODING]);
	g_string_append(entity, "\r\n");
	if (data != NULL)
		g_string_append_len(entity, data, (gssize)MIN(len, (gsize)MAX_PARSE));
	preview = preview_of_mime(entity->str, entity->len);
	g_string_free(entity, TRUE);
	return preview;
}

static char *make_preview(const struct mb_imap_fetch *f, const struct fields *h)
{
	if (f->preview != NULL) {
		char *preview = mb_text_preview(f->preview, strlen(f->preview), MB_PREVIEW_CHARS);

		/* "" is the server's way to say it has none; the body, when
		 * there is one, may still give one */
		if (*preview != '\0' || (f->body == NULL && f->text == NULL))
			return preview;
		g_free(preview);
	}
	if (f->body != NULL) {
		gsize len;
		const char *data = g_bytes_get_data(f->body, &len);

		if (data == NULL)
			return g_strdup("");
		return preview_of_mime(data, MIN(len, (gsize)MAX_PARSE));
	}
	if (f->text != NULL)
		return preview_of_text(f->text, h);
	return g_strdup("");
}

/* ---- the message ---- */

static GBytes *body_header(GBytes *body)
{
	gsize len;
	const char *data = g_bytes_get_data(body, &len);

	if (data == NULL)
		return g_bytes_new(NULL, 0);
	return g_bytes_new_from_bytes(body, 0, header_length(data, len));
}

struct mb_message *mb_message_create(const struct mb_imap_fetch *f, const char *account,
	const char *mailbox, uint32_t uidvalidity, bool preview)
{
	static const struct mb_imap_fetch none = { 0 };
	struct mb_message *msg = g_new0(struct mb_message, 1);
	struct fields h = { { 0 } };
	GBytes *body_hdr = NULL;

	mb_message_library_init();
	if (f == NULL)
		f = &none;
	msg->account = g_strdup(account != NULL ? account : "");
	msg->mailbox = g_strdup(mailbox != NULL ? mailbox : "");
	msg->uid = f->uid;
	msg->uidvalidity = uidvalidity;
	msg->size = f->size;
	msg->seen = f->seen;

	if (f->body != NULL)
		body_hdr = body_header(f->body);
	/* the header fields, else the whole header, else the downloaded
	 * message's; a field missing from the first is looked for in the
	 * others, which are the same message's header */
	fields_scan_bytes(&h, f->header_fields);
	fields_scan_bytes(&h, f->header);
	fields_scan_bytes(&h, body_hdr);

	set_sender(msg, &h);
	set_recipients(msg, &h);
	msg->subject = h.value[F_SUBJECT] != NULL
		? mb_text_decode_header(h.value[F_SUBJECT], strlen(h.value[F_SUBJECT]))
		: g_strdup("");
	msg->date = format_date(h.value[F_DATE]);
	msg->message_id = sanitized(h.value[F_MESSAGE_ID]);
	msg->list_id = list_id(h.value[F_LIST_ID]);
	msg->preview = preview ? make_preview(f, &h) : g_strdup("");

	if (f->header != NULL)
		msg->header = g_bytes_ref(f->header);
	else if (body_hdr != NULL)
		msg->header = g_bytes_ref(body_hdr);
	else if (f->header_fields != NULL)
		msg->header = g_bytes_ref(f->header_fields);
	else
		msg->header = g_bytes_new(NULL, 0);
	msg->raw = f->body != NULL ? g_bytes_ref(f->body) : NULL;

	if (body_hdr != NULL)
		g_bytes_unref(body_hdr);
	fields_finish(&h);
	return msg;
}

void mb_message_destroy(struct mb_message *msg)
{
	if (msg == NULL)
		return;
	g_free(msg->account);
	g_free(msg->mailbox);
	g_free(msg->from_name);
	g_free(msg->from_address);
	g_free(msg->from);
	for (size_t i = 0; i < msg->n_to; i++) {
		g_free(msg->to[i].name);
		g_free(msg->to[i].address);
	}
	g_free(msg->to);
	g_free(msg->to_text);
	g_free(msg->subject);
	g_free(msg->date);
	g_free(msg->message_id);
	g_free(msg->list_id);
	g_free(msg->preview);
	if (msg->raw != NULL)
		g_bytes_unref(msg->raw);
	if (msg->header != NULL)
		g_bytes_unref(msg->header);
	g_free(msg);
}
