/* bench-tls: the TLS library's own cost of a client handshake, the floor
 * under mailbell's per-connection CPU.
 *
 * Usage: bench-tls HOST PORT CA_FILE N [full|resume] [1.2|1.3]
 *
 * Opens N connections one after another to an implicit-TLS server, as
 * mailbell does (the same OpenSSL calls: one SSL_CTX, peer and host name
 * verification, SNI), reads the server's first line (an IMAP greeting),
 * and closes. "resume" offers each connection a session ticket the
 * previous ones received (each ticket once, RFC 8446 C.4). Prints the
 * process's CPU time (user + system, getrusage) per connection and how
 * many were resumed. Asserts nothing.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 4096

static SSL_SESSION *pool[POOL_MAX];
static int pool_len, tickets;

static double cpu_seconds(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec)
		+ (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
	(void)ssl;
	tickets++;
	if (pool_len == POOL_MAX)
		return 0; /* OpenSSL frees it */
	pool[pool_len++] = session;
	return 1; /* ours now */
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int e = getaddrinfo(host, port, &hints, &res);
	if (e) {
		fprintf(stderr, "bench-tls: %s: %s\n", host, gai_strerror(e));
		return -1;
	}
	int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		perror("bench-tls: connect");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench-tls HOST PORT CA_FILE N [full|resume] [1.2|1.3]\n");
		return 64;
	}
	const char *host = argv[1], *port = argv[2], *ca_file = argv[3];
	int n = atoi(argv[4]);
	int resume = argc > 5 && strcmp(argv[5], "resume") == 0;
	int v12 = argc > 6 && strcmp(argv[6], "1.2") == 0;

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (v12)
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 66;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);

	int reused = 0;
	double cpu0 = cpu_seconds(), wall0 = wall_seconds();
	for (int i = 0; i < n; i++) {
		int fd = connect_to(host, port);
		if (fd < 0)
			return 69;
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		SSL_set1_host(ssl, host);
		SSL_set_tlsext_host_name(ssl, host);
		if (resume && pool_len > 0) {
			SSL_SESSION *session = pool[--pool_len];
			SSL_set_session(ssl, session);
			SSL_SESSION_free(session);
		}
		if (SSL_connect(ssl) != 1) {
			ERR_print_errors_fp(stderr);
			return 69;
		}
		char line[512];
		if (SSL_read(ssl, line, sizeof line) <= 0) { /* the greeting; tickets come first */
			ERR_print_errors_fp(stderr);
			return 69;
		}
		reused += SSL_session_reused(ssl);
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
	printf("%s, %s: %d connections, %d resumed, %d tickets received; "
		"client CPU %.3f ms per connection (%.2f ms wall)\n",
		v12 ? "TLS 1.2" : "TLS 1.3", resume ? "resume" : "full", n, reused, tickets,
		cpu * 1000 / n, wall * 1000 / n);
	while (pool_len > 0)
		SSL_SESSION_free(pool[--pool_len]);
	SSL_CTX_free(ctx);
	return 0;
}
