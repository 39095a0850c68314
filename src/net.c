#define G_LOG_DOMAIN "mailbell"

#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "boottimer.h"
#include "epoll-source.h"
#include "tls-resume.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#define SSL_get1_peer_certificate SSL_get_peer_certificate
#endif

/* TCP keepalive as a second line behind the IMAP keepalive: the kernel
 * notices a peer that vanished without FIN or RST. Seconds. */
#define TCP_KEEPALIVE_IDLE 120
#define TCP_KEEPALIVE_INTERVAL 30
#define TCP_KEEPALIVE_COUNT 4

/* Session resumption (tls-resume.h): full handshakes at once per server
 * while tickets are short, the longest a connection waits for a ticket,
 * tickets kept per server, and the longest a ticket is offered after it
 * came (seconds; less if the server says so). */
#define RESUME_PARALLEL 8
#define RESUME_MAX_WAIT_MS 2000
#define RESUME_KEEP 64
#define RESUME_MAX_AGE 3600

enum net_state {
	NET_CONNECTING,
	NET_HANDSHAKE,
	NET_OPEN,
	NET_FAILED,
};

struct mb_net {
	int refs;
	bool doomed;            /* mb_net_destroy() was called */
	enum net_state state;
	char *host;
	uint16_t port;
	bool implicit_tls;
	char *ca_file;
	char *fingerprint;
	unsigned timeout;
	struct mb_net_callbacks cb;
	void *data;

	GCancellable *cancel;
	GSocketConnection *conn;
	int fd;
	SSL *ssl;
	bool tls_ok;
	bool io_wants_write;    /* a read, write or handshake needs POLLOUT */
	GByteArray *out;
	/* in the shared epoll set rather than a GSource of its own: GLib would
	 * poll every connection's socket at each iteration (epoll-source.h) */
	struct mb_epoll_watch *watch;  /* G_IO_IN, plus G_IO_OUT while needed */
	/* connect and handshake deadline: a timerfd in the epoll set, not a
	 * GLib timeout, which every main loop iteration would look at while a
	 * thousand connections start */
	struct mb_timer *deadline;

	/* session resumption (tls-resume.h) */
	struct mb_resume *resume;   /* this server's pool, lives until exit */
	bool resume_waiting;        /* queued for a ticket */
	bool resume_owed;           /* started through the pool: settle once */
	bool resume_skip;           /* start without the pool (data came while queued) */
	bool brought_ticket;        /* this connection gave the pool a ticket */
	bool offered_ticket;        /* its ClientHello offered one */
	SSL_SESSION *ticket;        /* handed over by the pool, not yet offered */
};

static GQuark net_error_quark(void)
{
	return g_quark_from_static_string("mb-net-error");
}

static void net_ref(struct mb_net *net)
{
	net->refs++;
}

static void net_unref(struct mb_net *net)
{
	if (--net->refs > 0)
		return;
	mb_timer_free(net->deadline);
	g_free(net->host);
	g_free(net->ca_file);
	g_free(net->fingerprint);
	g_byte_array_unref(net->out);
	g_free(net);
}

static void resume_settle(struct mb_net *net)
{
	if (net->resume_owed) {
		net->resume_owed = false;
		mb_resume_settled(net->resume, net->brought_ticket, net->offered_ticket,
			SSL_session_reused(net->ssl) == 1);
	}
}

static void close_all(struct mb_net *net)
{
	if (net->resume_waiting) {
		mb_resume_cancel(net->resume, net);
		net->resume_waiting = false;
	}
	if (net->resume_owed) {
		/* closed or failed before the server's first data: that says
		 * nothing about its tickets */
		net->resume_owed = false;
		mb_resume_abandoned(net->resume);
	}
	if (net->ticket) {
		SSL_SESSION_free(net->ticket);
		net->ticket = NULL;
	}
	/* out of the epoll set before the socket is closed */
	mb_epoll_watch_remove(net->watch);
	net->watch = NULL;
	mb_timer_disarm(net->deadline);
	if (net->cancel) {
		g_cancellable_cancel(net->cancel);
		g_clear_object(&net->cancel);
	}
	if (net->ssl) {
		SSL_free(net->ssl);
		net->ssl = NULL;
	}
	if (net->conn) {
		/* g_io_stream_close would block on a TLS-less socket only for
		 * the close() itself; the fd belongs to the GSocket. */
		g_io_stream_close(G_IO_STREAM(net->conn), NULL, NULL);
		g_clear_object(&net->conn);
	}
	net->fd = -1;
}

static void fail(struct mb_net *net, GQuark domain, int code, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void fail(struct mb_net *net, GQuark domain, int code, const char *fmt, ...)
{
	if (net->state == NET_FAILED || net->doomed)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	GError *error = g_error_new_literal(domain, code, msg);
	g_free(msg);
	net->state = NET_FAILED;
	close_all(net);
	net_ref(net);
	net->cb.failed(net, error, net->data);
	net_unref(net);
	g_error_free(error);
}

static char *ssl_error_text(void)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		return g_strdup("unknown TLS error");
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return g_strdup(buf);
}

static void deliver(struct mb_net *net, const char *buf, size_t len)
{
	net->cb.input(net, buf, len, net->data);
}

/* Reads until the socket would block. Stops early when a callback changed the
 * state (STARTTLS began, or the owner destroyed us): plaintext that arrived
 * after a STARTTLS response must never be delivered. */
static void do_read(struct mb_net *net)
{
	char buf[16384];

	while (net->state == NET_OPEN && !net->doomed) {
		if (net->ssl) {
			ERR_clear_error();
			int n = SSL_read(net->ssl, buf, sizeof buf);
			if (n > 0) {
				/* the server's tickets come before its first data */
				resume_settle(net);
				deliver(net, buf, (size_t)n);
				continue;
			}
			int err = SSL_get_error(net->ssl, n);
			if (err == SSL_ERROR_WANT_READ)
				return;
			if (err == SSL_ERROR_WANT_WRITE) {
				net->io_wants_write = true;
				return;
			}
			if (err == SSL_ERROR_ZERO_RETURN
			    || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)) {
				fail(net, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
					"connection closed by server");
				return;
			}
			if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
				fail(net, G_IO_ERROR, g_io_error_from_errno(errno),
					"read: %s", g_strerror(errno));
				return;
			}
			char *text = ssl_error_text();
			fail(net, net_error_quark(), 0, "TLS: %s", text);
			g_free(text);
			return;
		}
		ssize_t n = recv(net->fd, buf, sizeof buf, 0);
		if (n > 0) {
			deliver(net, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			fail(net, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
				"connection closed by server");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		fail(net, G_IO_ERROR, g_io_error_from_errno(errno), "read: %s", g_strerror(errno));
		return;
	}
}

static void do_flush(struct mb_net *net)
{
	while (net->state == NET_OPEN && !net->doomed && net->out->len > 0) {
		if (net->ssl) {
			ERR_clear_error();
			int len = net->out->len > INT_MAX ? INT_MAX : (int)net->out->len;
			int n = SSL_write(net->ssl, net->out->data, len);
			if (n > 0) {
				g_byte_array_remove_range(net->out, 0, (guint)n);
				continue;
			}
			int err = SSL_get_error(net->ssl, n);
			if (err == SSL_ERROR_WANT_WRITE) {
				net->io_wants_write = true;
				return;
			}
			if (err == SSL_ERROR_WANT_READ)
				return; /* the read watch retries */
			if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
				fail(net, G_IO_ERROR, g_io_error_from_errno(errno),
					"write: %s", g_strerror(errno));
				return;
			}
			char *text = ssl_error_text();
			fail(net, net_error_quark(), 0, "TLS: %s", text);
			g_free(text);
			return;
		}
		ssize_t n = send(net->fd, net->out->data, net->out->len, MSG_NOSIGNAL);
		if (n > 0) {
			g_byte_array_remove_range(net->out, 0, (guint)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			net->io_wants_write = true;
			return;
		}
		fail(net, G_IO_ERROR, g_io_error_from_errno(errno), "write: %s", g_strerror(errno));
		return;
	}
}

static bool hex_equal_sha256(X509 *cert, const char *want)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &md_len) || md_len != 32)
		return false;
	char hex[65];
	for (unsigned i = 0; i < md_len; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return g_ascii_strcasecmp(hex, want) == 0;
}

/* The fingerprint replaces chain verification, so the handshake itself must
 * not fail on an untrusted chain; the check happens right after it, before
 * a single byte of application data is sent. */
static int verify_accept_all(int preverify_ok, X509_STORE_CTX *ctx)
{
	return 1;
}

static bool check_peer(struct mb_net *net)
{
	X509 *cert = SSL_get1_peer_certificate(net->ssl);
	if (!cert) {
		fail(net, net_error_quark(), 0, "TLS: server sent no certificate");
		return false;
	}
	if (net->fingerprint) {
		bool ok = hex_equal_sha256(cert, net->fingerprint);
		X509_free(cert);
		if (!ok) {
			fail(net, net_error_quark(), 0,
				"certificate verify failed: SHA-256 fingerprint does not match tls_fingerprint");
			return false;
		}
		return true;
	}
	X509_free(cert);
	long res = SSL_get_verify_result(net->ssl);
	if (res != X509_V_OK) {
		fail(net, net_error_quark(), 0, "certificate verify failed: %s",
			X509_verify_cert_error_string(res));
		return false;
	}
	return true;
}

static void tls_ready(struct mb_net *net)
{
	mb_timer_disarm(net->deadline);
	net->state = NET_OPEN;
	net->tls_ok = true;
	g_debug("%s:%u: %s, %s%s", net->host, net->port, SSL_get_version(net->ssl),
		SSL_get_cipher_name(net->ssl), SSL_session_reused(net->ssl) ? ", session resumed"
		: net->offered_ticket ? ", ticket not accepted: new session" : "");
	net->cb.ready(net, net->data);
}

static void do_handshake(struct mb_net *net)
{
	ERR_clear_error();
	int r = SSL_do_handshake(net->ssl);
	if (r == 1) {
		if (check_peer(net))
			tls_ready(net);
		return;
	}
	int err = SSL_get_error(net->ssl, r);
	if (err == SSL_ERROR_WANT_READ)
		return;
	if (err == SSL_ERROR_WANT_WRITE) {
		net->io_wants_write = true;
		return;
	}
	long res = SSL_get_verify_result(net->ssl);
	if (res != X509_V_OK) {
		ERR_clear_error();
		fail(net, net_error_quark(), 0, "certificate verify failed: %s",
			X509_verify_cert_error_string(res));
		return;
	}
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		fail(net, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
			"TLS handshake: connection closed by server%s%s",
			errno ? ": " : "", errno ? g_strerror(errno) : "");
		return;
	}
	char *text = ssl_error_text();
	fail(net, net_error_quark(), 0, "TLS handshake failed: %s", text);
	g_free(text);
}

static gboolean on_deadline(gpointer user_data)
{
	struct mb_net *net = user_data;
	if (net->state == NET_CONNECTING)
		fail(net, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "connect to %s:%u timed out after %us",
			net->host, net->port, net->timeout);
	else if (net->state == NET_HANDSHAKE)
		fail(net, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "TLS handshake timed out after %us",
			net->timeout);
	return G_SOURCE_REMOVE;
}

/* A ticket from the server (RFC 8446 4.6.1; RFC 5077 for TLS 1.2), for
 * the pool of the connection it came on. Returning 1 keeps the reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
	struct mb_net *net = SSL_get_app_data(ssl);
	if (!net || !net->resume || !SSL_SESSION_is_resumable(session))
		return 0;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 lifetime = (gint64)SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session) - now;
	if (lifetime <= 0)
		return 0;
	gint64 expires = (now + MIN(lifetime, RESUME_MAX_AGE)) * G_USEC_PER_SEC;
	net->brought_ticket = true;
	mb_resume_ticket(net->resume, session, expires);
	return 1;
}

static void on_resume_go(void *waiter, void *ticket);

/* The pool for this connection's server and trust settings: a ticket is
 * only ever offered where the handshake that earned it was verified the
 * same way (same host name, port, ca_file or pinned fingerprint, TLS
 * mode). Pools live until exit, like the contexts. */
static struct mb_resume *pool_for(const struct mb_net *net)
{
	static GHashTable *pools;
	if (!pools)
		pools = g_hash_table_new(g_str_hash, g_str_equal);
	char *key = g_strdup_printf("%s\n%u\n%s\n%s\n%s", net->host, net->port,
		net->ca_file ? net->ca_file : "", net->fingerprint ? net->fingerprint : "",
		net->implicit_tls ? "implicit" : "starttls");
	struct mb_resume *r = g_hash_table_lookup(pools, key);
	if (r) {
		g_free(key);
		return r;
	}
	r = mb_resume_new(RESUME_PARALLEL, RESUME_MAX_WAIT_MS, RESUME_KEEP, on_resume_go,
		(GDestroyNotify)SSL_SESSION_free);
	g_hash_table_insert(pools, key, r);
	return r;
}

/* (Re)starts the deadline of the connect or handshake under way, seconds
 * from now. */
static void arm_deadline(struct mb_net *net, unsigned seconds)
{
	if (net->state != NET_FAILED && !net->doomed)
		mb_timer_arm(net->deadline, seconds);
}

static SSL_CTX *get_ctx(const char *ca_file, GError **error)
{
	/* One context per trust store: loading the system store costs a few
	 * milliseconds and a few hundred kilobytes, not worth repeating per
	 * reconnect. Contexts live until exit. */
	static GHashTable *cache;
	if (!cache)
		cache = g_hash_table_new(g_str_hash, g_str_equal);
	const char *key = ca_file ? ca_file : "";
	SSL_CTX *ctx = g_hash_table_lookup(cache, key);
	if (ctx)
		return ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		goto ssl_error;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
		| SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* tickets go to the pools (pool_for()), never to OpenSSL's own cache
	 * nor to disk */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	if (ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			char *text = ssl_error_text();
			g_set_error(error, net_error_quark(), 0, "cannot load ca_file %s: %s",
				ca_file, text);
			g_free(text);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		goto ssl_error;
	}
	g_hash_table_insert(cache, g_strdup(key), ctx);
	return ctx;

ssl_error:;
	char *text = ssl_error_text();
	g_set_error(error, net_error_quark(), 0, "TLS setup: %s", text);
	g_free(text);
	if (ctx)
		SSL_CTX_free(ctx);
	return NULL;
}

/* Whether the handshake may start now: through the pool (a ticket to
 * offer, or a full handshake allowed), or false while it waits, in state
 * NET_HANDSHAKE and watching only for input (on_io() gives up waiting when
 * the server speaks or hangs up first). While it waits the deadline is
 * timeout plus the pool's longest wait; the handshake then gets timeout of
 * its own. */
static bool resume_gate(struct mb_net *net)
{
	if (net->resume_waiting)
		return false;
	net->resume = pool_for(net);
	if (net->resume_skip)
		return true;
	void *ticket = NULL;
	if (mb_resume_begin(net->resume, net, &ticket)) {
		net->resume_owed = true;
		net->ticket = ticket;
		return true;
	}
	net->resume_waiting = true;
	net->state = NET_HANDSHAKE; /* implicit TLS comes here from NET_CONNECTING */
	net->io_wants_write = false;
	arm_deadline(net, net->timeout + (RESUME_MAX_WAIT_MS + 999) / 1000);
	return false;
}

/* The ClientHello, with the pool's ticket if it gave one. */
static void start_handshake(struct mb_net *net)
{
	GError *error = NULL;
	SSL_CTX *ctx = get_ctx(net->ca_file, &error);
	if (!ctx) {
		fail(net, error->domain, error->code, "%s", error->message);
		g_error_free(error);
		return;
	}
	net->ssl = SSL_new(ctx);
	if (!net->ssl || SSL_set_fd(net->ssl, net->fd) != 1) {
		char *text = ssl_error_text();
		fail(net, net_error_quark(), 0, "TLS setup: %s", text);
		g_free(text);
		return;
	}
	SSL_set_app_data(net->ssl, net);
	if (net->ticket) {
		SSL_set_session(net->ssl, net->ticket); /* takes its own reference */
		net->offered_ticket = true;
		SSL_SESSION_free(net->ticket);
		net->ticket = NULL;
	}
	if (net->fingerprint) {
		SSL_set_verify(net->ssl, SSL_VERIFY_PEER, verify_accept_all);
	} else {
		X509_VERIFY_PARAM *param = SSL_get0_param(net->ssl);
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		int ok = g_hostname_is_ip_address(net->host)
			? X509_VERIFY_PARAM_set1_ip_asc(param, net->host)
			: X509_VERIFY_PARAM_set1_host(param, net->host, 0);
		if (ok != 1) {
			fail(net, net_error_quark(), 0, "TLS setup: bad host name %s", net->host);
			return;
		}
	}
	if (!g_hostname_is_ip_address(net->host))
		SSL_set_tlsext_host_name(net->ssl, net->host);
	SSL_set_connect_state(net->ssl);
	net->state = NET_HANDSHAKE;
	arm_deadline(net, net->timeout);
	do_handshake(net);
}

static void begin_handshake(struct mb_net *net)
{
	if (resume_gate(net))
		start_handshake(net);
}

static void update_write_watch(struct mb_net *net);

static void on_resume_go(void *waiter, void *ticket)
{
	struct mb_net *net = waiter;
	net->resume_waiting = false;
	net->resume_owed = true;
	net->ticket = ticket;
	net_ref(net);
	start_handshake(net);
	update_write_watch(net);
	net_unref(net);
}

/* The kernel refuses a change only when out of memory. Failing the
 * connection here would call failed() from inside mb_net_write() or
 * mb_net_start_tls(), which promise no callback: the session's command
 * deadline ends a connection that hangs for want of the change. */
static void set_watch(struct mb_net *net, GIOCondition events)
{
	GError *error = NULL;
	if (!mb_epoll_watch_modify(net->watch, events, &error)) {
		g_warning("%s:%u: %s", net->host, net->port, error->message);
		g_error_free(error);
	}
}

static void update_write_watch(struct mb_net *net)
{
	if (net->state == NET_FAILED || net->doomed || !net->watch)
		return;
	bool need = net->io_wants_write || (net->state == NET_OPEN && net->out->len > 0);
	set_watch(net, need ? G_IO_IN | G_IO_OUT : G_IO_IN);
}

static void on_io(int fd, GIOCondition cond, void *user_data)
{
	struct mb_net *net = user_data;
	net_ref(net);
	net->io_wants_write = false;
	if (net->state == NET_HANDSHAKE && !net->ssl) {
		if (net->resume_waiting) {
			/* the server spoke or hung up before our ClientHello:
			 * no more waiting (level-triggered input would spin) */
			mb_resume_cancel(net->resume, net);
			net->resume_waiting = false;
			net->resume_skip = true;
		}
		begin_handshake(net);
	} else if (net->state == NET_HANDSHAKE) {
		do_handshake(net);
	} else if (net->state == NET_OPEN) {
		if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
			do_read(net);
		if (net->state == NET_OPEN)
			do_flush(net);
	}
	/* STARTTLS may have begun inside do_read(); drive it now. */
	if (net->state == NET_HANDSHAKE && !net->ssl && !net->doomed)
		begin_handshake(net);
	update_write_watch(net);
	net_unref(net);
}

static void set_socket_options(int fd)
{
	int one = 1;
	int idle = TCP_KEEPALIVE_IDLE, intvl = TCP_KEEPALIVE_INTERVAL, cnt = TCP_KEEPALIVE_COUNT;
	/* Data unacknowledged this long means the peer is gone (RFC 5482). */
	unsigned user_timeout = (TCP_KEEPALIVE_IDLE + TCP_KEEPALIVE_INTERVAL * TCP_KEEPALIVE_COUNT) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	struct mb_net *net = user_data;
	GError *error = NULL;
	GSocketConnection *conn = g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(source),
		res, &error);
	if (net->doomed || net->state != NET_CONNECTING) {
		if (conn)
			g_object_unref(conn);
		g_clear_error(&error);
		net_unref(net);
		return;
	}
	if (!conn) {
		fail(net, error->domain, error->code, "%s", error->message);
		g_error_free(error);
		net_unref(net);
		return;
	}
	net->conn = conn;
	GSocket *sock = g_socket_connection_get_socket(conn);
	net->fd = g_socket_get_fd(sock);
	g_socket_set_blocking(sock, FALSE);
	set_socket_options(net->fd);
	g_debug("%s:%u: connected", net->host, net->port);
	net->watch = mb_epoll_watch_add(net->fd, G_IO_IN, on_io, net, &error);
	if (!net->watch) {
		fail(net, error->domain, error->code, "%s", error->message);
		g_error_free(error);
		net_unref(net);
		return;
	}
	if (net->implicit_tls) {
		begin_handshake(net);
		update_write_watch(net);
	} else {
		mb_timer_disarm(net->deadline);
		net->state = NET_OPEN;
		net->cb.ready(net, net->data);
	}
	net_unref(net);
}

struct mb_net *mb_net_connect(const struct mb_net_params *params,
	const struct mb_net_callbacks *callbacks, void *data)
{
	struct mb_net *net = g_new0(struct mb_net, 1);
	net->refs = 1;
	net->state = NET_CONNECTING;
	net->host = g_strdup(params->host);
	net->port = params->port;
	net->implicit_tls = params->implicit_tls;
	net->ca_file = g_strdup(params->ca_file);
	net->fingerprint = g_strdup(params->fingerprint);
	net->timeout = params->timeout ? params->timeout : 30;
	net->cb = *callbacks;
	net->data = data;
	net->fd = -1;
	net->out = g_byte_array_new();
	net->cancel = g_cancellable_new();
	net->deadline = mb_timer_new(on_deadline, net);

	GSocketClient *client = g_socket_client_new();
	g_socket_client_set_enable_proxy(client, FALSE);
	net_ref(net); /* held by the async connect */
	g_socket_client_connect_to_host_async(client, net->host, net->port, net->cancel,
		on_connected, net);
	g_object_unref(client);
	arm_deadline(net, net->timeout);
	return net;
}

void mb_net_start_tls(struct mb_net *net)
{
	if (net->state != NET_OPEN || net->ssl)
		return;
	/* Switch state now so do_read() stops delivering plaintext; the
	 * handshake itself starts when the current dispatch unwinds. */
	net->state = NET_HANDSHAKE;
	set_watch(net, G_IO_IN | G_IO_OUT);
}

bool mb_net_is_tls(const struct mb_net *net)
{
	return net->tls_ok;
}

void mb_net_write(struct mb_net *net, const void *buf, size_t len)
{
	if (net->state == NET_FAILED || net->doomed)
		return;
	g_byte_array_append(net->out, buf, (guint)len);
	if (net->state == NET_OPEN)
		update_write_watch(net);
}

void mb_net_destroy(struct mb_net *net)
{
	if (!net)
		return;
	net->doomed = true;
	if (net->ssl && net->state == NET_OPEN && net->tls_ok) {
		/* close_notify (RFC 8446 6.1), not waited for: without it a
		 * server may count the session as broken and refuse its tickets */
		ERR_clear_error();
		SSL_shutdown(net->ssl);
		ERR_clear_error();
	}
	close_all(net);
	net_unref(net);
}
