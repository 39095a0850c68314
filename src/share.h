/* How an account's watched mailboxes are shared out over its connections:
 * the whole policy, in one pure function. A server with NOTIFY (RFC 5465)
 * lets one connection watch them all: the first mailbox selected under IDLE
 * (RFC 2177), the others through NOTIFY's STATUS events. Without NOTIFY each
 * mailbox gets its own IDLE connection, up to max_connections; the last
 * connection also checks the rest with STATUS (RFC 3501 6.3.10) every
 * poll_interval. No I/O; unit-tested in tests/unit/test-share.c. */
#ifndef MB_SHARE_H
#define MB_SHARE_H

#include <stdbool.h>

/* How a connection watches the mailboxes after its first one. */
enum mb_share_others {
	MB_SHARE_ALONE,  /* it has only one */
	MB_SHARE_NOTIFY, /* NOTIFY SET ... (mailboxes ...) */
	MB_SHARE_STATUS, /* STATUS of each every poll_interval (and keepalive) */
};

/* One connection's share: names[first .. first + count - 1]. */
struct mb_share {
	unsigned first, count;
	enum mb_share_others others;
};

/* Splits n mailbox names (n >= 1) over connections. out must hold at least
 * MAX(max_connections, 1) entries; max_connections 0 counts as 1. Returns
 * the number of connections, at least 1; connection 0 always starts with
 * names[0], and every name is in exactly one share, in order. */
unsigned mb_share_plan(unsigned n, bool has_notify, unsigned max_connections, struct mb_share *out);

/* How a connection that was given count mailboxes on its own (a share made
 * by an earlier plan, or a mailbox retried apart) watches the ones after its
 * first. */
enum mb_share_others mb_share_others_for(unsigned count, bool has_notify);

#endif
