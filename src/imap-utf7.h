/* Mailbox names on the wire: modified UTF-7 (RFC 3501 section 5.1.3). In
 * the config, logs and hooks they are UTF-8. */
#ifndef MB_IMAP_UTF7_H
#define MB_IMAP_UTF7_H

/* Encodes a UTF-8 mailbox name to modified UTF-7. Invalid UTF-8 is encoded as
 * U+FFFD. Returns a newly allocated string (g_free). */
char *mb_imap_utf7_encode(const char *utf8);

/* Decodes a modified UTF-7 mailbox name to UTF-8. Returns NULL when the input
 * is not valid modified UTF-7 (bad base64, unterminated shift, invalid
 * surrogates, 8-bit bytes); g_free the result. */
char *mb_imap_utf7_decode(const char *mutf7);

#endif
