/* Pure, resumable parser of IMAP server responses (RFC 3501 section 7 and 9,
 * RFC 9051). No I/O: the session feeds bytes as they arrive and takes out
 * complete responses. Bounded: line length, literal size and list nesting. */
#ifndef MB_IMAP_PARSER_H
#define MB_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_IMAP_MAX_LINE (1024 * 1024)            /* octets per line, CRLF included */
#define MB_IMAP_MAX_LITERAL (64u * 1024 * 1024)   /* default literal size limit */
#define MB_IMAP_MAX_DEPTH 64                      /* nesting of parenthesized lists */

enum mb_imap_value_type {
	MB_IMAP_NIL,     /* the atom NIL, outside quotes */
	MB_IMAP_ATOM,    /* any other atom, also numbers and flags like \Seen;
	                  * an atom may contain a bracketed section such as
	                  * BODY[HEADER.FIELDS (FROM)] as one unit */
	MB_IMAP_STRING,  /* quoted string (unescaped) or literal */
	MB_IMAP_LIST,    /* parenthesized list */
};

struct mb_imap_value {
	enum mb_imap_value_type type;
	/* ATOM and STRING: NUL-terminated copy of the bytes; len excludes the
	 * NUL. A literal may hold NUL bytes: use len, not strlen. */
	char *str;
	size_t len;
	bool literal;            /* STRING came as {N} or ~{N} literal */
	/* LIST: the items. */
	struct mb_imap_value *items;
	size_t n_items;
};

enum mb_imap_response_kind {
	MB_IMAP_TAGGED,        /* "a1 OK ..." */
	MB_IMAP_UNTAGGED,      /* "* ..." */
	MB_IMAP_CONTINUATION,  /* "+ ..." */
};

enum mb_imap_status {
	MB_IMAP_STATUS_NONE,   /* not a status response (data, or continuation) */
	MB_IMAP_STATUS_OK,
	MB_IMAP_STATUS_NO,
	MB_IMAP_STATUS_BAD,
	MB_IMAP_STATUS_PREAUTH,
	MB_IMAP_STATUS_BYE,
};

/* One complete server response. All strings are NUL-terminated and owned by
 * the response; free with mb_imap_response_free(). */
struct mb_imap_response {
	enum mb_imap_response_kind kind;
	char *tag;                   /* TAGGED only, else NULL */
	enum mb_imap_status status;  /* OK/NO/BAD/PREAUTH/BYE, or NONE */
	/* Untagged "* 12 EXISTS": has_number = true, number = 12. Numbers
	 * outside 32 bits are a parse error. */
	bool has_number;
	uint32_t number;
	/* Upper-cased response name for untagged data: "EXISTS", "EXPUNGE",
	 * "FETCH", "CAPABILITY", "FLAGS", "LIST", "STATUS", "SEARCH", "ENABLED",
	 * "ID", "VANISHED", ... NULL for status responses and continuations. */
	char *name;
	/* Untagged data after the name, e.g. the FETCH list or the capability
	 * atoms, as a LIST value (never NULL for data responses). It holds the
	 * values as they appear: for "* 2 FETCH (UID 2 ...)" data->items[0] is
	 * the (UID 2 ...) list; for "* 3 EXISTS" data is an empty list. */
	struct mb_imap_value *data;
	/* Status responses: the response code (RFC 3501 section 7.1), e.g.
	 * code = "UIDVALIDITY", code_text = "1795986951"; code upper-cased,
	 * code_text is the raw text between the code name and ']' (may be "").
	 * Both NULL when there is no code. */
	char *code;
	char *code_text;
	/* Status responses: human-readable text after the code; continuations:
	 * everything after "+ " (may be "", e.g. for a bare "+"). Never NULL for
	 * those kinds. Not sanitized: may hold any byte but CR/LF/NUL. */
	char *text;
};

enum mb_imap_parse_result {
	MB_IMAP_PARSE_OK,        /* *resp_r is set, consumed bytes removed */
	MB_IMAP_PARSE_NEED_MORE, /* feed more bytes */
	MB_IMAP_PARSE_ERROR,     /* malformed or over a bound; the stream is
	                          * unusable: drop the connection */
};

struct mb_imap_parser;

/* Creates a parser. max_literal limits any one literal in octets (0 means
 * MB_IMAP_MAX_LITERAL); a whole response (lines and literals) is limited to
 * 2 * max_literal + MB_IMAP_MAX_LINE octets. Never returns NULL (aborts on out
 * of memory like GLib). */
struct mb_imap_parser *mb_imap_parser_create(size_t max_literal);

/* Frees the parser and any buffered bytes. NULL is a no-op. */
void mb_imap_parser_destroy(struct mb_imap_parser *parser);

/* Appends len bytes from the network to the parser's buffer. Cheap: no parsing
 * happens here. Returns false (and the parser is in error state) when the
 * buffered, still unframed data exceeds the bounds. */
bool mb_imap_parser_feed(struct mb_imap_parser *parser, const void *data, size_t len);

/* Takes the next complete response out of the buffer. On MB_IMAP_PARSE_OK,
 * *resp_r receives a response the caller owns. On ERROR, *errstr_r (if not
 * NULL) points at a static description such as "literal too large" or
 * "unexpected ')'". Work is resumable: bytes already framed are not scanned
 * again, so feeding one byte at a time costs linear time. */
enum mb_imap_parse_result mb_imap_parser_next(struct mb_imap_parser *parser,
	struct mb_imap_response **resp_r, const char **errstr_r);

/* Number of bytes buffered but not yet returned as responses. Used after
 * STARTTLS to detect injected plaintext (RFC 3501 section 6.2.1 and
 * CVE-2011-0411 style attacks). */
size_t mb_imap_parser_pending(const struct mb_imap_parser *parser);

/* Frees a response. NULL is a no-op. */
void mb_imap_response_free(struct mb_imap_response *resp);

/* Frees the contents of a value (not the struct itself). */
void mb_imap_value_finish(struct mb_imap_value *value);

/* Parses a decimal number of 1..10 digits that fits in 32 bits (nz or not,
 * as allowed by min): "0" passes only when allow_zero. Returns false for
 * anything else, including a sign, spaces or an empty string. */
bool mb_imap_parse_u32(const char *s, bool allow_zero, uint32_t *out);

/* Parses a decimal number that fits in 63 bits (RFC 7162 mod-sequence). */
bool mb_imap_parse_u64(const char *s, uint64_t *out);

/* Case-insensitive lookup of a named item in a FETCH list such as
 * (UID 5 FLAGS (\Seen) ENVELOPE (...)): returns the value that follows the
 * atom name, or NULL. list must be a LIST value; the resp->data of a FETCH
 * response (a list holding just the msg-att list) is accepted as well. */
const struct mb_imap_value *mb_imap_fetch_item(const struct mb_imap_value *list, const char *name);

/* True when a LIST value of flags holds flag (case-insensitive). */
bool mb_imap_flags_have(const struct mb_imap_value *flags, const char *flag);

/* Command argument encoding (RFC 3501 sections 4.3 and 9, astring): an atom
 * when s is one, else a quoted string when s holds only 7-bit text without
 * CR, LF or NUL, else a literal. */
enum mb_imap_astring_kind {
	MB_IMAP_ASTRING_ATOM,
	MB_IMAP_ASTRING_QUOTED,
	MB_IMAP_ASTRING_LITERAL,
};

/* Encodes s (len bytes) as described above into a newly allocated
 * NUL-terminated string (free() it) and sets *kind_r. For a literal the
 * returned string is "{N}\r\n" followed by the bytes (or "{N+}\r\n..."); the
 * caller must wait for a continuation before sending the bytes unless
 * literal_plus. *out_len_r receives the length (literals may hold NUL). */
char *mb_imap_astring_encode(const char *s, size_t len, bool literal_plus,
	enum mb_imap_astring_kind *kind_r, size_t *out_len_r);

#endif
