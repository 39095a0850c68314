/* A new message as the user sees it, built with GMime from the raw fetch
 * attributes the session received (header fields, and the body, its start or
 * the server's PREVIEW when those were fetched): RFC 2047 encoded words,
 * addresses, dates and a text preview, sanitized to valid UTF-8 without
 * control characters before it leaves the program. */
#ifndef MB_MESSAGE_H
#define MB_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "imap-fetch.h"

/* Characters of body text in a preview (RFC 8970 allows servers 256). */
#define MB_PREVIEW_CHARS 200

/* One address of an address list, decoded. */
struct mb_address {
	char *name;         /* display name, "" if none */
	char *address;      /* "local@domain", "" if none */
};

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
	struct mb_address *to; /* every mailbox of To, then Cc, groups looked
	                     * into (RFC 5322 3.4); n_to entries */
	size_t n_to;
	char *to_text;      /* the same as "Name <address>" items joined by ", ",
	                     * "" if none */
	char *subject;      /* decoded, "" if none */
	char *date;         /* RFC 3339 ("2026-11-29T10:00:00+01:00"), "" if none
	                     * or unparsable */
	char *message_id;   /* as in the header, "<...>", "" if none */
	char *list_id;      /* RFC 2919 List-Id: the list-id between <>, or the
	                     * trimmed value when there are none; "" if none */
	char *preview;      /* up to MB_PREVIEW_CHARS characters of the text, ""
	                     * if none or not asked for */
	GBytes *raw;        /* the whole raw message when it was downloaded in
	                     * full, else NULL */
	bool duplicate;     /* set by the account: its Message-ID was notified
	                     * from another mailbox or account (dedupe_window) */
	GBytes *header;     /* the raw header block (BODY[HEADER], or the
	                     * header fields when that was not fetched); never
	                     * NULL, may be empty */
};

/* Initializes GMime once; call before anything below. Idempotent. */
void mb_message_library_init(void);

/* Builds a message from the raw attributes of a FETCH: the fields from
 * f->header_fields (else f->header, else f->body's header), and, when
 * preview is true, a preview from f->preview (the server's, RFC 8970), else
 * from f->body, else from f->text, which is the start of the body after
 * the header (BODY[TEXT]<0.N>) and is read as MIME with the top-level
 * Content-Type and Content-Transfer-Encoding of the header fields.
 * The preview text is the first text/plain part that is not an attachment,
 * else the first text/html part turned to text, decoded (transfer encoding,
 * charset) by GMime. f is not modified; the GBytes are referenced, not
 * copied. account and mailbox are copied. Never fails: missing pieces give
 * empty fields. Free with mb_message_destroy(). */
struct mb_message *mb_message_create(const struct mb_imap_fetch *f, const char *account,
	const char *mailbox, uint32_t uidvalidity, bool preview);

/* Frees msg. NULL is a no-op. */
void mb_message_destroy(struct mb_message *msg);

#endif
