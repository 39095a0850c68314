/* A new message as the user sees it: decoded from the IMAP ENVELOPE with GMime
 * (RFC 2047 encoded words, dates), sanitized to valid UTF-8 without control
 * characters before it leaves the program. */
#ifndef MB_MESSAGE_H
#define MB_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "imap-parser.h"

struct mb_message {
	char *account;      /* account name from the config */
	char *mailbox;      /* mailbox name, UTF-8 */
	uint32_t uid;
	uint32_t uidvalidity;
	uint32_t size;      /* RFC822.SIZE in octets, 0 if unknown */
	bool seen;          /* \Seen flag was set */
	char *from_name;    /* decoded display name, "" if none */
	char *from_address; /* "local@domain", "" if none */
	char *from;         /* "Name <address>", or the address alone, or
	                     * "(unknown sender)" */
	char *subject;      /* decoded, "" if none */
	char *date;         /* RFC 3339 ("2026-11-29T10:00:00+01:00"), "" if none
	                     * or unparsable */
	char *message_id;   /* as in the header, "<...>", "" if none */
};

/* Initializes GMime once; call before anything below. Idempotent. */
void mb_message_library_init(void);

/* Builds a message from the item list of an untagged FETCH response
 * (RFC 3501 section 7.4.2): reads UID, FLAGS, RFC822.SIZE and ENVELOPE, or
 * instead of ENVELOPE a BODY[HEADER.FIELDS (FROM SENDER SUBJECT DATE
 * MESSAGE-ID)] items (header blocks, parsed here with GMime).
 * account and mailbox are copied. Returns NULL and sets *errstr_r to a static
 * description when the list lacks a UID or holds a malformed ENVELOPE. A
 * missing ENVELOPE gives empty fields. Free with mb_message_destroy(). */
struct mb_message *mb_message_from_fetch(const struct mb_imap_value *fetch_list,
	const char *account, const char *mailbox, uint32_t uidvalidity,
	const char **errstr_r);

/* Decodes one header value with RFC 2047 encoded words to sanitized UTF-8.
 * raw may hold 8-bit bytes: taken as UTF-8 when valid, else windows-1252.
 * Returns a newly allocated string (g_free). */
char *mb_message_decode_header(const char *raw, size_t len);

/* Makes text safe to show and pass on: invalid UTF-8 replaced, C0/C1 control
 * characters and DEL dropped, tabs and line breaks turned into one space.
 * Returns a newly allocated string (g_free). */
char *mb_message_sanitize(const char *text, size_t len);

/* Returns a copy of UTF-8 text cut to at most max_bytes octets on a
 * character boundary, with "…" at the end when something was cut (included
 * in max_bytes; max_bytes >= 4). g_free() the result. A sender controls
 * these lengths: an environment variable over 128 KiB would keep a hook from
 * starting at all. */
char *mb_message_ellipsize(const char *text, size_t max_bytes);

/* Frees msg. NULL is a no-op. */
void mb_message_destroy(struct mb_message *msg);

#endif
