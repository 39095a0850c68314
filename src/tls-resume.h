/* TLS session resumption across the connections to one server: which
 * handshake may start now, with which ticket, and which must wait for one.
 *
 * A full TLS handshake costs the client about a millisecond of CPU
 * (certificate decoding and signature checks; tests/bench/tls-floor.py), a
 * resumed one about half of that (RFC 8446 2.2, RFC 5077). Tickets come
 * from earlier connections to the same server and are used once each (RFC
 * 8446 C.4). When many connections start together (a thousand accounts at
 * start, or every account after the network came back) none has a ticket
 * yet: the pool lets a few handshakes go first and hands the tickets they
 * bring to the connections waiting behind them.
 *
 * The rules, per pool (one server with one set of trust settings):
 * - a waiting connection gets a ticket as soon as one is in the pool;
 * - until some handshake of this pool has settled, one full handshake runs
 *   at a time (the probe: does this server issue tickets at all?);
 * - once one brought a ticket, up to `parallel` full handshakes run while
 *   the pool is empty;
 * - if the first to settle brought none, or `parallel` in a row brought
 *   none, or `parallel` offered tickets were refused since one was last
 *   taken back, nobody waits
 *   any more (a server without tickets, or whose processes each have their
 *   own ticket key, is not slowed down); tickets are still offered;
 * - no connection waits longer than max_wait_ms.
 *
 * Tickets are opaque here (an SSL_SESSION * in net.c), owned by the pool
 * once given, freed with the free function given at creation. Expired
 * ones are dropped, never handed out. Main loop only; not thread-safe.
 * Knows nothing of OpenSSL, so that it can be tested alone. */
#ifndef MB_TLS_RESUME_H
#define MB_TLS_RESUME_H

#include <stdbool.h>
#include <glib.h>

struct mb_resume;

/* Called from the main loop (never from inside a call into this module)
 * when a waiting connection may start its handshake: with a ticket it now
 * owns, or NULL for a full handshake. */
typedef void (*mb_resume_go_fn)(void *waiter, void *ticket);

/* A new, empty pool. parallel >= 1: full handshakes at once once tickets
 * are known to come; max_wait_ms: the longest any connection waits; keep:
 * the most tickets kept (the oldest go first). free_ticket frees a ticket
 * the pool drops. */
struct mb_resume *mb_resume_new(unsigned parallel, unsigned max_wait_ms, unsigned keep,
	mb_resume_go_fn go, GDestroyNotify free_ticket);

/* Frees the pool, its tickets and its timer. Waiters are forgotten
 * without a call. NULL is a no-op. */
void mb_resume_free(struct mb_resume *r);

/* A connection (waiter, an identity: never dereferenced) is ready for its
 * handshake. Returns true when it may start now, with *ticket_r a ticket
 * it owns or NULL (full handshake). Returns false when it is queued: go()
 * will be called for it once, unless mb_resume_cancel() comes first.
 * Either way, one mb_resume_settled() or mb_resume_abandoned() must follow
 * the start. */
bool mb_resume_begin(struct mb_resume *r, void *waiter, void **ticket_r);

/* The waiter is gone before its go(): forget it. A waiter not queued is
 * ignored. */
void mb_resume_cancel(struct mb_resume *r, void *waiter);

/* A ticket arrived from the server (the pool owns it now). expires is the
 * wall-clock time (g_get_real_time(), µs) after which it must not be
 * offered. A waiter may get it at once. */
void mb_resume_ticket(struct mb_resume *r, void *ticket, gint64 expires);

/* A handshake that mb_resume_begin() or go() started has settled: the
 * connection's first data arrived (tickets come before it).
 * brought_ticket: whether this connection gave the pool a ticket; offered:
 * its ClientHello offered one; resumed: the server took it back (an
 * offered ticket not resumed was refused). */
void mb_resume_settled(struct mb_resume *r, bool brought_ticket, bool offered, bool resumed);

/* A handshake that mb_resume_begin() or go() started ended before it
 * settled (the connection was closed by its owner, or failed before the
 * server's first data): it teaches nothing about tickets, and frees its
 * place for a waiter. */
void mb_resume_abandoned(struct mb_resume *r);

/* Counters for the log and tests: tickets in the pool, connections
 * queued, handshakes started and not settled. */
unsigned mb_resume_tickets(const struct mb_resume *r);
unsigned mb_resume_waiting(const struct mb_resume *r);
unsigned mb_resume_in_flight(const struct mb_resume *r);

#endif
