/* Logging through GLib (journald under systemd), verbosity and the protocol
 * trace with secret redaction. */
#ifndef MB_LOG_H
#define MB_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Sets up GLib's log writer. verbose enables debug messages; trace enables
 * the IMAP protocol trace (implies verbose). Info and debug messages are shown
 * only with verbose, and only from log domains starting with "mailbell";
 * G_MESSAGES_DEBUG is not consulted. Under journald (stderr connected to it)
 * messages go to the journal, else to stderr as "mailbell: LEVEL: text" (no
 * LEVEL for g_message()) with control characters escaped. May be called again
 * to change the flags. */
void mb_log_init(bool verbose, bool trace);

/* True when --trace was given. */
bool mb_log_tracing(void);

/* Logs one protocol line when tracing. dir is "C" (client) or "S" (server).
 * The line is shown with control characters escaped, literal bodies longer
 * than 256 octets elided, and client lines passed through
 * mb_log_redact_command() first. line may hold several lines or be one line
 * with its CRLF stripped; a literal announced by "{N}" at the end of a line is
 * then counted through the following calls for the same account and dir
 * (each call without a trailing LF counting 2 more octets for the stripped
 * CRLF), and nothing is logged for calls wholly inside it. */
void mb_log_trace(const char *account, const char *dir, const char *line, size_t len);

/* Forgets the state of a long literal being left out of account's trace, as
 * when its connection drops halfway through one. Call on every new
 * connection. */
void mb_log_trace_reset(const char *account);

/* Returns a copy of a client command line with secrets replaced by "***":
 * the arguments of LOGIN and AUTHENTICATE (the mechanism name is kept), and
 * any line flagged by the caller as a SASL continuation (sasl = true).
 * Everything after a LOGIN or AUTHENTICATE line in the buffer goes too; a
 * trailing CRLF or LF is kept. g_free() the result. */
char *mb_log_redact_command(const char *line, size_t len, bool sasl);

#endif
