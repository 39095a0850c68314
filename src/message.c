/* Message fields from an IMAP ENVELOPE, decoded and sanitized.
 *
 * GMime decodes RFC 2047 encoded words; this file handles what it gets wrong
 * or leaves to the caller:
 * - raw 8-bit bytes (R22): made UTF-8 here first, byte sequence by byte
 *   sequence (windows-1252 for bytes that are not UTF-8); GMime's default
 *   is ISO-8859-1, which turns windows-1252 quotes, dashes and the euro sign
 *   into C1 control characters;
 * - encoded words in a charset iconv does not know (H6): GMime decodes them
 *   anyway (as the locale charset for "x-unknown", else by guessing, and may
 *   drop bytes silently); RFC 2047 section 6.2 allows showing the word as
 *   it is, which is what we do;
 * - base64 encoded words: GMime loses the second of two adjacent padded
 *   words and returns nothing for unpadded ones, so they reach it as Q words;
 * - control and bidi characters: removed by mb_text_sanitize() at the end,
 *   whatever produced them.
 * It keeps no GMime objects beyond one parser options object. */
#define G_LOG_DOMAIN "mailbell"

#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "message.h"
#include "text.h"

/* RFC 2047 words are at most 75 octets; charset names in the IANA registry
 * are at most 40. Longer names are not charsets. */
#define MAX_CHARSET 40
/* Known/unknown verdicts are cached; mail from hostile senders could name
 * endless different charsets, so the cache stops growing here. */
#define MAX_CHARSET_CACHE 256

void mb_message_library_init(void)
{
	mb_text_init();
}

/* ---- FETCH items ---- */

static bool is_nstring(const struct mb_imap_value *v)
{
	return v->type == MB_IMAP_NIL || v->type == MB_IMAP_STRING;
}

static bool is_string(const struct mb_imap_value *v)
{
	return v != NULL && v->type == MB_IMAP_STRING && v->str != NULL;
}

static bool value_is(const struct mb_imap_value *v, const char *s)
{
	return is_string(v) && v->len == strlen(s) && strcmp(v->str, s) == 0;
}

/* Items come in name/value pairs; walking pairs means a value can never be
 * taken for a name. */
static const struct mb_imap_value *fetch_item(const struct mb_imap_value *list,
	const char *name)
{
	for (size_t i = 0; i + 1 < list->n_items; i += 2) {
		const struct mb_imap_value *key = &list->items[i];

		if (key->type == MB_IMAP_ATOM && key->str != NULL
			&& key->len == strlen(name)
			&& g_ascii_strcasecmp(key->str, name) == 0)
			return &list->items[i + 1];
	}
	return NULL;
}

static bool parse_u32(const struct mb_imap_value *v, bool allow_zero, uint32_t *out)
{
	uint64_t n = 0;

	if (v == NULL || v->type != MB_IMAP_ATOM || v->str == NULL
		|| v->len == 0 || v->len > 10)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v->str[i] - '0');
	}
	if (n > UINT32_MAX || (n == 0 && !allow_zero))
		return false;
	*out = (uint32_t)n;
	return true;
}

static bool flags_have_seen(const struct mb_imap_value *flags)
{
	if (flags == NULL || flags->type != MB_IMAP_LIST)
		return false;
	for (size_t i = 0; i < flags->n_items; i++) {
		const struct mb_imap_value *f = &flags->items[i];

		if (f->type == MB_IMAP_ATOM && f->str != NULL && f->len == 5
			&& g_ascii_strcasecmp(f->str, "\\Seen") == 0)
			return true;
	}
	return false;
}

/* ---- ENVELOPE ---- */

enum {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_FIELDS,
};

enum { ADDR_NAME, ADDR_ADL, ADDR_MAILBOX, ADDR_HOST };

/* NIL, or a list of addresses, each (name adl mailbox host) of nstrings. */
static bool address_list_valid(const struct mb_imap_value *v)
{
	if (v->type == MB_IMAP_NIL)
		return true;
	if (v->type != MB_IMAP_LIST)
		return false;
	for (size_t i = 0; i < v->n_items; i++) {
		const struct mb_imap_value *a = &v->items[i];

		if (a->type != MB_IMAP_LIST || a->n_items < 4)
			return false;
		for (size_t j = 0; j < 4; j++)
			if (!is_nstring(&a->items[j]))
				return false;
	}
	return true;
}

static bool envelope_valid(const struct mb_imap_value *env)
{
	if (env->type != MB_IMAP_LIST || env->n_items < ENV_FIELDS)
		return false;
	for (size_t i = 0; i < ENV_FIELDS; i++) {
		bool ok;

		switch (i) {
		case ENV_DATE:
		case ENV_SUBJECT:
		case ENV_IN_REPLY_TO:
		case ENV_MESSAGE_ID:
			ok = is_nstring(&env->items[i]);
			break;
		default:
			ok = address_list_valid(&env->items[i]);
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Placeholders servers put in for a missing part: Dovecot for "From: <>" or
 * an address without a domain (R23), UW imapd for unparsable addresses. */
static bool mailbox_missing(const struct mb_imap_value *v)
{
	return !is_string(v) || v->len == 0 || value_is(v, "MISSING_MAILBOX")
		|| value_is(v, "UNEXPECTED_DATA_AFTER_ADDRESS");
}

static bool host_missing(const struct mb_imap_value *v)
{
	return !is_string(v) || v->len == 0 || value_is(v, "MISSING_DOMAIN")
		|| value_is(v, ".MISSING-HOST-NAME.") || value_is(v, ".SYNTAX-ERROR.")
		|| value_is(v, "SYNTAX_ERROR");
}

static bool is_group_end(const struct mb_imap_value *a)
{
	return a->items[ADDR_NAME].type == MB_IMAP_NIL
		&& a->items[ADDR_MAILBOX].type == MB_IMAP_NIL
		&& a->items[ADDR_HOST].type == MB_IMAP_NIL;
}

/* RFC 3501: a NIL host marks the start of a group, whose name is in the
 * mailbox field. A bare local address ("From: root") looks the same on some
 * servers, so it only counts as a group start when a group end follows
 * (last_end is the index of the last group end, or SIZE_MAX for none). */
static bool is_group_start(const struct mb_imap_value *a, size_t i, size_t last_end)
{
	return a->items[ADDR_MAILBOX].type != MB_IMAP_NIL
		&& a->items[ADDR_HOST].type == MB_IMAP_NIL
		&& last_end != SIZE_MAX && i < last_end;
}

static bool address_has_name(const struct mb_imap_value *a)
{
	const struct mb_imap_value *name = &a->items[ADDR_NAME];

	return is_string(name) && name->len > 0;
}

/* First address in list that is not a group marker and has a mailbox (or,
 * with need_mailbox false, a display name). */
static const struct mb_imap_value *pick_address(const struct mb_imap_value *list,
	bool need_mailbox)
{
	size_t last_end = SIZE_MAX;

	if (list->type != MB_IMAP_LIST)
		return NULL;
	for (size_t i = 0; i < list->n_items; i++)
		if (is_group_end(&list->items[i]))
			last_end = i;
	for (size_t i = 0; i < list->n_items; i++) {
		const struct mb_imap_value *a = &list->items[i];

		if (is_group_end(a) || is_group_start(a, i, last_end))
			continue;
		if (need_mailbox ? !mailbox_missing(&a->items[ADDR_MAILBOX])
			: address_has_name(a))
			return a;
	}
	return NULL;
}

static void set_from_fields(struct mb_message *msg, char *name, char *address);

static void set_sender(struct mb_message *msg, const struct mb_imap_value *env)
{
	const struct mb_imap_value *from = &env->items[ENV_FROM];
	const struct mb_imap_value *sender = &env->items[ENV_SENDER];
	const struct mb_imap_value *a;
	char *name = NULL;
	char *address = NULL;

	a = pick_address(from, true);
	if (a == NULL)
		a = pick_address(sender, true);
	if (a == NULL)
		a = pick_address(from, false);
	if (a == NULL)
		a = pick_address(sender, false);

	if (a != NULL) {
		const struct mb_imap_value *n = &a->items[ADDR_NAME];
		const struct mb_imap_value *mbox = &a->items[ADDR_MAILBOX];
		const struct mb_imap_value *host = &a->items[ADDR_HOST];

		if (is_string(n))
			name = mb_text_decode_header(n->str, n->len);
		if (!mailbox_missing(mbox)) {
			char *local = mb_text_sanitize(mbox->str, mbox->len);

			if (!host_missing(host)) {
				char *domain = mb_text_sanitize(host->str, host->len);

				address = g_strconcat(local, "@", domain, NULL);
				g_free(domain);
				g_free(local);
			} else {
				address = local;
			}
		}
	}
	set_from_fields(msg, name, address);
}

/* Takes ownership of name and address (either may be NULL). */
static void set_from_fields(struct mb_message *msg, char *name, char *address)
{
	if (name == NULL)
		name = g_strdup("");
	if (address == NULL)
		address = g_strdup("");

	if (*name != '\0' && *address != '\0')
		msg->from = g_strdup_printf("%s <%s>", name, address);
	else if (*address != '\0')
		msg->from = g_strdup(address);
	else if (*name != '\0')
		msg->from = g_strdup(name);
	else
		msg->from = g_strdup("(unknown sender)");
	msg->from_name = name;
	msg->from_address = address;
}

/* RFC 3339 with a numeric offset; formatted by hand because GLib's %Y does
 * not pad years below 1000 to four digits. */
static char *format_date_text(const char *raw, size_t len)
{
	GDateTime *dt;
	char *text;
	char *result = NULL;

	text = mb_text_sanitize(raw, len);
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

static char *format_date(const struct mb_imap_value *v)
{
	return is_string(v) ? format_date_text(v->str, v->len) : g_strdup("");
}

/* --- header fields (BODY.PEEK[HEADER.FIELDS (...)]) ------------------------ */

/* The unfolded raw value of the first field called name in a header block,
 * or NULL. RFC 5322 2.2.3: a line starting with white space continues the
 * field before it. */
static char *header_field(const char *hdr, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = hdr, *end = hdr + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if ((size_t)(end - p) > nlen && g_ascii_strncasecmp(p, name, nlen) == 0) {
			const char *q = p + nlen;
			while (q < next && (*q == ' ' || *q == '\t'))
				q++;
			if (q < next && *q == ':') {
				GString *v = g_string_new_len(q + 1, (gssize)(next - q - 1));
				while (next < end && (*next == ' ' || *next == '\t')) {
					const char *e2 = memchr(next, '\n', (size_t)(end - next));
					const char *n2 = e2 ? e2 + 1 : end;
					g_string_append_len(v, next, (gssize)(n2 - next));
					next = n2;
				}
				/* unfolding drops the line breaks, keeps the white space */
				char *out = g_string_free(v, FALSE), *o = out;
				for (const char *c = out; *c; c++)
					if (*c != '\r' && *c != '\n')
						*o++ = *c;
				*o = '\0';
				return g_strstrip(out);
			}
		}
		p = next;
	}
	return NULL;
}

/* First real mailbox of an address list header (groups looked into). */
static bool parse_address(const char *raw, char **name_r, char **address_r)
{
	char *utf8 = mb_text_to_utf8(raw, strlen(raw));
	InternetAddressList *list = internet_address_list_parse(mb_text_gmime_options(), utf8);
	g_free(utf8);
	bool found = false;
	for (int i = 0; list && i < internet_address_list_length(list) && !found; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		InternetAddressList *members = NULL;
		if (INTERNET_ADDRESS_IS_GROUP(ia))
			members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
		int n = members ? internet_address_list_length(members) : 1;
		for (int j = 0; j < n && !found; j++) {
			InternetAddress *m = members ? internet_address_list_get_address(members, j) : ia;
			if (!INTERNET_ADDRESS_IS_MAILBOX(m))
				continue;
			const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(m));
			const char *name = internet_address_get_name(m);
			if ((!addr || !*addr) && (!name || !*name))
				continue;
			*address_r = mb_text_sanitize(addr ? addr : "", addr ? strlen(addr) : 0);
			*name_r = mb_text_sanitize(name ? name : "", name ? strlen(name) : 0);
			found = true;
		}
	}
	if (list)
		g_object_unref(list);
	return found;
}

static void set_from_headers(struct mb_message *msg, const struct mb_imap_value *hdr)
{
	static const char *const senders[] = { "From", "Sender" };
	char *name = NULL, *address = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(senders) && !address; i++) {
		char *raw = header_field(hdr->str, hdr->len, senders[i]);
		if (raw)
			parse_address(raw, &name, &address);
		g_free(raw);
	}
	set_from_fields(msg, name, address);

	char *raw = header_field(hdr->str, hdr->len, "Subject");
	msg->subject = raw ? mb_text_decode_header(raw, strlen(raw)) : g_strdup("");
	g_free(raw);
	raw = header_field(hdr->str, hdr->len, "Date");
	msg->date = raw ? format_date_text(raw, strlen(raw)) : g_strdup("");
	g_free(raw);
	raw = header_field(hdr->str, hdr->len, "Message-ID");
	msg->message_id = raw ? mb_text_sanitize(raw, strlen(raw)) : g_strdup("");
	g_free(raw);
}

/* Every BODY[HEADER.FIELDS (...)]<0> item, whatever the field lists,
 * joined into one header block; NULL when there is none. */
static struct mb_imap_value *header_items(const struct mb_imap_value *list)
{
	GString *block = NULL;
	for (size_t i = 0; i + 1 < list->n_items; i += 2) {
		const struct mb_imap_value *k = &list->items[i];
		const struct mb_imap_value *v = &list->items[i + 1];
		if (k->type != MB_IMAP_ATOM || g_ascii_strncasecmp(k->str, "BODY[HEADER.FIELDS", 18) != 0
		    || !is_string(v))
			continue;
		if (!block)
			block = g_string_new(NULL);
		g_string_append_len(block, v->str, (gssize)v->len);
		g_string_append(block, "\r\n");
	}
	if (!block)
		return NULL;
	struct mb_imap_value *hdr = g_new0(struct mb_imap_value, 1);
	hdr->type = MB_IMAP_STRING;
	hdr->len = block->len;
	hdr->str = g_string_free(block, FALSE);
	return hdr;
}

struct mb_message *mb_message_from_fetch(const struct mb_imap_value *fetch_list,
	const char *account, const char *mailbox, uint32_t uidvalidity,
	const char **errstr_r)
{
	const struct mb_imap_value *uid, *env, *size, *subject, *message_id;
	struct mb_message *msg;
	const char *dummy;

	if (errstr_r == NULL)
		errstr_r = &dummy;
	if (fetch_list == NULL || fetch_list->type != MB_IMAP_LIST) {
		*errstr_r = "malformed FETCH response";
		return NULL;
	}
	uid = fetch_item(fetch_list, "UID");
	if (uid == NULL) {
		*errstr_r = "FETCH without UID";
		return NULL;
	}
	env = fetch_item(fetch_list, "ENVELOPE");
	if (env != NULL && !envelope_valid(env)) {
		*errstr_r = "malformed ENVELOPE";
		return NULL;
	}

	mb_message_library_init();
	msg = g_new0(struct mb_message, 1);
	if (!parse_u32(uid, false, &msg->uid)) {
		g_free(msg);
		*errstr_r = "FETCH with an invalid UID";
		return NULL;
	}
	msg->account = g_strdup(account != NULL ? account : "");
	msg->mailbox = g_strdup(mailbox != NULL ? mailbox : "");
	msg->uidvalidity = uidvalidity;
	size = fetch_item(fetch_list, "RFC822.SIZE");
	if (size == NULL || !parse_u32(size, true, &msg->size))
		msg->size = 0;
	msg->seen = flags_have_seen(fetch_item(fetch_list, "FLAGS"));

	struct mb_imap_value *hdr = env == NULL ? header_items(fetch_list) : NULL;
	if (hdr != NULL) {
		set_from_headers(msg, hdr);
		g_free(hdr->str);
		g_free(hdr);
		return msg;
	}
	if (env == NULL) {
		msg->from_name = g_strdup("");
		msg->from_address = g_strdup("");
		msg->from = g_strdup("(unknown sender)");
		msg->subject = g_strdup("");
		msg->date = g_strdup("");
		msg->message_id = g_strdup("");
		return msg;
	}

	set_sender(msg, env);
	subject = &env->items[ENV_SUBJECT];
	msg->subject = is_string(subject)
		? mb_text_decode_header(subject->str, subject->len) : g_strdup("");
	msg->date = format_date(&env->items[ENV_DATE]);
	message_id = &env->items[ENV_MESSAGE_ID];
	msg->message_id = is_string(message_id)
		? mb_text_sanitize(message_id->str, message_id->len) : g_strdup("");
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
	g_free(msg->subject);
	g_free(msg->date);
	g_free(msg->message_id);
	g_free(msg);
}
