#define G_LOG_DOMAIN "mailbell"

#include "tls-resume.h"

/* Whether this server issues tickets, as far as its settled handshakes
 * have shown. */
enum known {
	KNOWN_UNKNOWN,  /* nothing settled yet: one probe at a time */
	KNOWN_TICKETS,  /* tickets come: `parallel` full handshakes at a time */
	KNOWN_NONE,     /* none came: nobody waits */
};

struct ticket {
	void *ticket;
	gint64 expires;   /* wall clock, µs */
};

struct waiter {
	void *waiter;
	gint64 since;     /* monotonic, µs */
};

struct mb_resume {
	unsigned parallel, max_wait_ms, keep;
	mb_resume_go_fn go;
	GDestroyNotify free_ticket;
	GQueue tickets;     /* struct ticket *, oldest first */
	GQueue waiters;     /* struct waiter *, oldest first */
	unsigned in_flight;
	unsigned dry;       /* handshakes settled in a row without a ticket */
	unsigned refused;   /* offered tickets refused since one was taken back */
	enum known known;
	guint pump;         /* GLib source id of the next pump() */
};

struct mb_resume *mb_resume_new(unsigned parallel, unsigned max_wait_ms, unsigned keep,
	mb_resume_go_fn go, GDestroyNotify free_ticket)
{
	struct mb_resume *r = g_new0(struct mb_resume, 1);
	r->parallel = MAX(parallel, 1);
	r->max_wait_ms = max_wait_ms;
	r->keep = MAX(keep, 1);
	r->go = go;
	r->free_ticket = free_ticket;
	g_queue_init(&r->tickets);
	g_queue_init(&r->waiters);
	return r;
}

static void drop_ticket(struct mb_resume *r, struct ticket *t)
{
	r->free_ticket(t->ticket);
	g_free(t);
}

void mb_resume_free(struct mb_resume *r)
{
	if (!r)
		return;
	struct ticket *t;
	while ((t = g_queue_pop_head(&r->tickets)))
		drop_ticket(r, t);
	g_queue_clear_full(&r->waiters, g_free);
	if (r->pump)
		g_source_remove(r->pump);
	g_free(r);
}

/* The newest ticket still valid, or NULL; expired ones are dropped. */
static void *take_ticket(struct mb_resume *r)
{
	gint64 now = g_get_real_time();
	struct ticket *t;
	while ((t = g_queue_pop_tail(&r->tickets))) {
		if (t->expires > now) {
			void *ticket = t->ticket;
			g_free(t);
			return ticket;
		}
		drop_ticket(r, t);
	}
	return NULL;
}

static bool may_start_full(const struct mb_resume *r)
{
	switch (r->known) {
	case KNOWN_UNKNOWN:
		return r->in_flight == 0;
	case KNOWN_TICKETS:
		return r->in_flight < r->parallel;
	case KNOWN_NONE:
		break;
	}
	return true;
}

static gboolean pump(gpointer data);

/* pump() after delay_ms, replacing a pump already planned. */
static void schedule(struct mb_resume *r, unsigned delay_ms)
{
	if (r->pump)
		g_source_remove(r->pump);
	r->pump = g_timeout_add(delay_ms, pump, r);
}

/* Lets go every waiter that may start, oldest first, and plans the next
 * look for the oldest that stays (its max_wait_ms). go() may call back into
 * the pool (a handshake that fails at once settles): each waiter is off the
 * queue before its go(). */
static gboolean pump(gpointer data)
{
	struct mb_resume *r = data;
	r->pump = 0;
	struct waiter *w;
	while ((w = g_queue_peek_head(&r->waiters))) {
		void *ticket = take_ticket(r);
		gint64 waited_ms = (g_get_monotonic_time() - w->since) / 1000;
		if (!ticket && !may_start_full(r) && waited_ms < r->max_wait_ms)
			break;
		g_queue_pop_head(&r->waiters);
		void *waiter = w->waiter;
		g_free(w);
		r->in_flight++;
		r->go(waiter, ticket);
	}
	if ((w = g_queue_peek_head(&r->waiters)) && !r->pump) {
		gint64 waited_ms = (g_get_monotonic_time() - w->since) / 1000;
		schedule(r, (unsigned)MAX(0, (gint64)r->max_wait_ms - waited_ms) + 1);
	}
	return G_SOURCE_REMOVE;
}

bool mb_resume_begin(struct mb_resume *r, void *waiter, void **ticket_r)
{
	*ticket_r = NULL;
	if (g_queue_is_empty(&r->waiters)) {
		void *ticket = take_ticket(r);
		if (ticket || may_start_full(r)) {
			r->in_flight++;
			*ticket_r = ticket;
			return true;
		}
	}
	struct waiter *w = g_new(struct waiter, 1);
	w->waiter = waiter;
	w->since = g_get_monotonic_time();
	g_queue_push_tail(&r->waiters, w);
	/* behind others: its turn comes at the pump, soon if it may go */
	bool now = !g_queue_is_empty(&r->tickets) || may_start_full(r);
	if (now || !r->pump)
		schedule(r, now ? 0 : r->max_wait_ms + 1);
	return false;
}

void mb_resume_cancel(struct mb_resume *r, void *waiter)
{
	for (GList *l = r->waiters.head; l; l = l->next) {
		struct waiter *w = l->data;
		if (w->waiter == waiter) {
			g_queue_delete_link(&r->waiters, l);
			g_free(w);
			return;
		}
	}
}

void mb_resume_ticket(struct mb_resume *r, void *ticket, gint64 expires)
{
	struct ticket *t = g_new(struct ticket, 1);
	t->ticket = ticket;
	t->expires = expires;
	g_queue_push_tail(&r->tickets, t);
	while (g_queue_get_length(&r->tickets) > r->keep)
		drop_ticket(r, g_queue_pop_head(&r->tickets));
	if (r->refused < r->parallel)
		r->known = KNOWN_TICKETS;
	r->dry = 0;
	if (!g_queue_is_empty(&r->waiters))
		schedule(r, 0);
}

void mb_resume_settled(struct mb_resume *r, bool brought_ticket, bool offered, bool resumed)
{
	if (r->in_flight > 0)
		r->in_flight--;
	if (resumed)
		r->refused = 0;
	else if (offered)
		r->refused++;
	r->dry = brought_ticket ? 0 : r->dry + 1;
	if (r->refused >= r->parallel) {
		/* tickets come but are not taken back (each of a server's
		 * processes has its own key, say): waiting for them gains
		 * nothing; they are still offered */
		r->known = KNOWN_NONE;
	} else if (brought_ticket) {
		r->known = KNOWN_TICKETS;
	} else if (r->known == KNOWN_UNKNOWN || r->dry >= r->parallel) {
		/* the first one, or `parallel` in a row, without a ticket:
		 * this server does not give them (any more) */
		r->known = KNOWN_NONE;
	}
	if (!g_queue_is_empty(&r->waiters))
		schedule(r, 0);
}

void mb_resume_abandoned(struct mb_resume *r)
{
	if (r->in_flight > 0)
		r->in_flight--;
	if (!g_queue_is_empty(&r->waiters))
		schedule(r, 0);
}

unsigned mb_resume_tickets(const struct mb_resume *r)
{
	return g_queue_get_length((GQueue *)&r->tickets);
}

unsigned mb_resume_waiting(const struct mb_resume *r)
{
	return g_queue_get_length((GQueue *)&r->waiters);
}

unsigned mb_resume_in_flight(const struct mb_resume *r)
{
	return r->in_flight;
}
