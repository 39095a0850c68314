/* The raw attributes of one message as a UID FETCH (or a NOTIFY MessageNew
 * event) returned them (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2):
 * what the session hands the account, and what message.c builds a message
 * from. No decoding happens here. */
#ifndef MB_IMAP_FETCH_H
#define MB_IMAP_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "imap-parser.h"

struct mb_imap_fetch {
	uint32_t uid;          /* UID, never 0 */
	uint32_t size;         /* RFC822.SIZE in octets, 0 if not sent */
	bool seen;             /* FLAGS held \Seen */
	bool has_flags;        /* FLAGS was sent */
	GBytes *header_fields; /* every BODY[HEADER.FIELDS (...)] block, joined,
	                        * each ending in CRLF; NULL if none */
	GBytes *header;        /* BODY[HEADER] (the whole header block, maybe cut
	                        * by a partial fetch); NULL if not fetched */
	GBytes *body;          /* BODY[] (the whole raw RFC 5322 message); NULL if
	                        * not downloaded */
	GBytes *text;          /* BODY[TEXT]<0.N>: the start of the body after the
	                        * header block; NULL if not fetched */
	char *preview;         /* PREVIEW (RFC 8970), as sent (not yet
	                        * sanitized); NULL if not sent or NIL */
};

/* Fills *out from the msg-att list of an untagged FETCH response (the list
 * after "FETCH"). Items come in name/value pairs; unknown items are ignored,
 * and the names of BODY[...] items are matched case-insensitively whatever
 * the server quotes or spaces inside them (Courier quotes header names).
 * Returns false without touching *out when the list has no valid UID (an
 * unsolicited FETCH with flags only), or sets *errstr_r (static) and returns
 * false for a malformed item we asked for. Free with mb_imap_fetch_clear(). */
bool mb_imap_fetch_parse(const struct mb_imap_value *att, struct mb_imap_fetch *out,
	const char **errstr_r);

/* Merges src into dst (same UID): items dst lacks are moved over from src,
 * src is cleared. For a second FETCH of the same message (the body). */
void mb_imap_fetch_merge(struct mb_imap_fetch *dst, struct mb_imap_fetch *src);

/* Frees what *f owns and zeroes it. */
void mb_imap_fetch_clear(struct mb_imap_fetch *f);

/* A newly allocated copy (free with mb_imap_fetch_free()). */
struct mb_imap_fetch *mb_imap_fetch_copy(const struct mb_imap_fetch *f);
void mb_imap_fetch_free(struct mb_imap_fetch *f);

#endif
