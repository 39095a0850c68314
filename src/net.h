/* One client connection: asynchronous connect through GIO (DNS never blocks
 * the loop), OpenSSL TLS (implicit or STARTTLS) with certificate and host
 * name verification, session resumption across the connections to one
 * server (tls-resume.h), and buffered non-blocking I/O on the GLib main
 * loop. The only file that includes OpenSSL. */
#ifndef MB_NET_H
#define MB_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

struct mb_net;

struct mb_net_params {
	const char *host;          /* copied */
	uint16_t port;
	bool implicit_tls;         /* handshake right after connect */
	const char *ca_file;       /* NULL: system trust store; copied */
	const char *fingerprint;   /* NULL, or SHA-256 of the server certificate
	                            * as 64 lower-case hex digits: when set, the
	                            * certificate must match it and the chain is
	                            * not checked (self-signed servers); copied */
	unsigned timeout;          /* seconds allowed for connect, and for each
	                            * TLS handshake */
};

struct mb_net_callbacks {
	/* The connection is usable: after TCP connect (plain), after the
	 * handshake (implicit TLS), or after mb_net_start_tls() finished. */
	void (*ready)(struct mb_net *net, void *data);
	/* Bytes arrived (already decrypted). */
	void (*input)(struct mb_net *net, const char *buf, size_t len, void *data);
	/* The connection failed or ended (connect error, DNS, timeout, TLS or
	 * certificate error, EOF, reset). Called at most once; afterwards the
	 * net does nothing but wait for mb_net_destroy(). error is borrowed. */
	void (*failed)(struct mb_net *net, const GError *error, void *data);
};

/* Creates a connection object and starts connecting at once. callbacks is
 * copied; data is passed to them. Callbacks run from the main loop, never
 * from inside this call. It is safe to call mb_net_destroy() from within a
 * callback. */
struct mb_net *mb_net_connect(const struct mb_net_params *params,
	const struct mb_net_callbacks *callbacks, void *data);

/* Starts a TLS handshake on a plain connection (STARTTLS, RFC 3501 6.2.1).
 * Plaintext received afterwards is never delivered. ready() or failed()
 * follows. */
void mb_net_start_tls(struct mb_net *net);

/* True once TLS is established and verified. */
bool mb_net_is_tls(const struct mb_net *net);

/* Queues len bytes for sending; they go out as the socket allows. Does
 * nothing after failure. */
void mb_net_write(struct mb_net *net, const void *buf, size_t len);

/* Closes the connection and frees net: an open TLS connection sends
 * close_notify first (RFC 8446 6.1), not waiting for the server's. No
 * callback runs afterwards. NULL is a no-op. */
void mb_net_destroy(struct mb_net *net);

#endif
