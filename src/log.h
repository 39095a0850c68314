/* Logging through GLib (journald under systemd), verbosity and the protocol
 * trace with secret redaction. */
#ifndef MB_LOG_H
#define MB_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Sets up GLib's log writer. verbose enables debug messages; trace enables
 * the IMAP protocol trace (implies verbose). */
void mb_log_init(bool verbose, bool trace);

/* True when --trace was given. */
bool mb_log_tracing(void);

/* Logs one protocol line when tracing. dir is "C" (client) or "S" (server).
 * The line is shown with control characters escaped, literal bodies longer
 * than 256 octets elided, and client lines passed through
 * mb_log_redact_command() first. */
void mb_log_trace(const char *account, const char *dir, const char *line, size_t len);

/* Returns a copy of a client command line with secrets replaced by "***":
 * the arguments of LOGIN and AUTHENTICATE (the mechanism name is kept), and
 * any line flagged by the caller as a SASL continuation (sasl = true).
 * g_free() the result. */
char *mb_log_redact_command(const char *line, size_t len, bool sasl);

#endif
