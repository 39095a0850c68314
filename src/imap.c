#define G_LOG_DOMAIN "mailbell"

#include "imap.h"
#include "imap-session.h"
#include "imap-auth.h"

#include <stddef.h>
#include <string.h>

#include "boottimer.h"
#include "idle-period.h"
#include "imap-parser.h"
#include "imap-sched.h"
#include "imap-utf7.h"
#include "log.h"
#include "text.h"
#include "net.h"

/* Deadline for LOGOUT and for a probe, seconds: shutdown and network changes
 * must not wait the full command timeout. */
#define LOGOUT_TIMEOUT 3
/* Octets fetched per message of each group of header fields (subject,
 * date, message-id, list-id; from and sender; to and cc), so a huge From
 * can't push the subject out, and a few thousand recipients still fit. */
#define MB_HEADER_FETCH_MAX 65536
#define PROBE_TIMEOUT 10
/* Messages whose sequence number a session follows (for closing their
 * notifications when they are read or expunged elsewhere). */
#define TRACK_MAX 512
/* Renewals of IDLE after which new mail showed up, with none ever pushed
 * during IDLE, before the session calls the server's IDLE silent and polls
 * (servers.md S10). Two: one could be mail that came just as DONE went out. */
G_STATIC_ASSERT(MB_IMAP_LATE_RENEWALS == 2); /* the log says "twice" */

struct tracked {
	uint32_t uid;
	uint32_t seq;
};

/* A new message of the selected mailbox that the server pushed with its
 * attributes (NOTIFY MessageNew fetch-att, RFC 5465 5.2), not yet taken. */
struct pushed {
	uint32_t seq;
	struct mb_imap_fetch *f;
};

static const char *const state_names[] = { STATES(AS_NAME) };

/* What a STATUS answer or NOTIFY STATUS event said of a mailbox; a NOTIFY
 * event may carry only some of the items (Dovecot: "(UNSEEN 0)"). */
enum {
	ST_MESSAGES = 1 << 0,
	ST_UIDNEXT = 1 << 1,
	ST_UIDVALIDITY = 1 << 2,
	ST_UNSEEN = 1 << 3,
	ST_MODSEQ = 1 << 4,
};

struct mbox_status {
	unsigned have;           /* ST_* present */
	uint32_t messages, uidnext, uidvalidity, unseen;
	uint64_t modseq;
};

struct mbox {
	char *name;              /* UTF-8 */
	char *wire;              /* modified UTF-7, encoded as an astring */
	uint32_t known_uidvalidity;
	uint32_t last_uid;
	bool dirty;              /* needs EXAMINE and UID FETCH */
	bool news;               /* a STATUS or NOTIFY event said it has new mail */
	bool synced;             /* fetched once since sign-in: later fetches
	                          * are live mail, not catch-up */
	struct mbox_status seen; /* every item last reported since sign-in,
	                          * the baseline for the changed event */
};

static void handle_response(struct mb_imap_session *s, struct mb_imap_response *r);
static void go_idle(struct mb_imap_session *s);

static void session_ref(struct mb_imap_session *s)
{
	s->refs++;
}

static void cmd_free(struct cmd *c)
{
	char *part;
	while ((part = g_queue_pop_head(&c->parts))) {
		explicit_bzero(part, strlen(part));
		g_free(part);
	}
	if (c->sasl_response) {
		explicit_bzero(c->sasl_response, strlen(c->sasl_response));
		g_free(c->sasl_response);
	}
	g_free(c);
}

static void session_unref(struct mb_imap_session *s)
{
	if (--s->refs > 0)
		return;
	struct cmd *c;
	while ((c = g_queue_pop_head(&s->cmds)))
		cmd_free(c);
	if (s->secret) {
		explicit_bzero(s->secret, strlen(s->secret));
		g_free(s->secret);
	}
	g_free(s->name);
	g_strfreev(s->patterns);
	g_ptr_array_unref(s->listed);
	g_ptr_array_unref(s->mboxes);
	g_ptr_array_unref(s->caps);
	g_ptr_array_unref(s->fetched);
	g_free(s->task_mailbox);
	mb_imap_fetch_free(s->task_result);
	if (s->task_store)
		g_array_free(s->task_store, TRUE);
	g_array_free(s->tracked, TRUE);
	g_ptr_array_unref(s->pushed);
	mb_timer_free(s->deadline);
	mb_timer_free(s->timer);
	g_free(s);
}

static void pushed_free(struct pushed *p)
{
	mb_imap_fetch_free(p->f);
	g_free(p);
}

static void mbox_free(struct mbox *m)
{
	g_free(m->name);
	g_free(m->wire);
	g_free(m);
}

static char *encode_mailbox(const char *utf8)
{
	char *mutf7 = mb_imap_utf7_encode(utf8);
	enum mb_imap_astring_kind kind;
	size_t len;
	char *enc = mb_imap_astring_encode(mutf7, strlen(mutf7), false, &kind, &len);
	/* Modified UTF-7 is 7-bit without CR/LF: never a literal. */
	char *wire = g_strndup(enc, len);
	free(enc);
	g_free(mutf7);
	return wire;
}

void set_state(struct mb_imap_session *s, enum state to)
{
	/* with a reason, a second command of the same kind (EXAMINE) is
	 * traced too */
	if (s->why[0])
		g_debug("%s: %s -> %s (%s)", s->name, state_names[s->why_from], state_names[to], s->why);
	else if (s->state != to)
		g_debug("%s: %s -> %s", s->name, state_names[s->state], state_names[to]);
	s->why[0] = '\0';
	s->state = to;
}

static void clear_source(guint *id)
{
	if (*id) {
		g_source_remove(*id);
		*id = 0;
	}
}

static void teardown(struct mb_imap_session *s)
{
	mb_timer_disarm(s->deadline);
	mb_timer_disarm(s->timer);
	clear_source(&s->kick);
	clear_source(&s->grace);
	mb_net_destroy(s->net);
	s->net = NULL;
	mb_imap_parser_destroy(s->parser);
	s->parser = NULL;
	g_ptr_array_set_size(s->fetched, 0);
}

void close_session(struct mb_imap_session *s, enum mb_imap_close how, const char *fmt, ...)
{
	if (s->state == S_CLOSED || s->destroyed)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	set_state(s, S_CLOSED);
	teardown(s);
	session_ref(s);
	s->ev.closed(s, how, reason, s->data);
	session_unref(s);
	g_free(reason);
}

static gboolean on_deadline(gpointer user_data)
{
	struct mb_imap_session *s = user_data;
	if (s->state == S_LOGOUT)
		close_session(s, MB_IMAP_CLOSE_LOGOUT, "logged out (server did not answer LOGOUT)");
	else if (s->state == S_IDLING || s->state == S_POLL_WAIT)
		close_session(s, MB_IMAP_CLOSE_ERROR, "server left a response unfinished for %us",
			s->timeout);
	else
		close_session(s, MB_IMAP_CLOSE_ERROR, "server did not answer within %us (%s)",
			s->probing ? MIN(s->timeout, PROBE_TIMEOUT) : s->timeout,
			state_names[s->state]);
	return G_SOURCE_REMOVE;
}

void arm_deadline(struct mb_imap_session *s, unsigned seconds)
{
	mb_timer_arm(s->deadline, seconds);
}

void send_raw(struct mb_imap_session *s, const char *buf, size_t len, bool secret)
{
	if (mb_log_tracing()) {
		if (secret)
			mb_log_trace(s->name, "C", "***", 3);
		else
			mb_log_trace(s->name, "C", buf, len >= 2 ? len - 2 : len);
	}
	mb_net_write(s->net, buf, len);
}

/* Sends "TAG " + text + CRLF and registers the command. text must not hold
 * CR or LF; literal continuations go in parts. */
struct cmd *send_command(struct mb_imap_session *s, enum cmd_kind kind, const char *text)
{
	struct cmd *c = g_new0(struct cmd, 1);
	g_snprintf(c->tag, sizeof c->tag, "a%u", ++s->next_tag);
	c->kind = kind;
	g_queue_init(&c->parts);
	g_queue_push_tail(&s->cmds, c);
	char *line = g_strdup_printf("%s %s\r\n", c->tag, text);
	send_raw(s, line, strlen(line), false);
	g_free(line);
	arm_deadline(s, s->state == S_LOGOUT ? LOGOUT_TIMEOUT
		: s->probing ? MIN(s->timeout, PROBE_TIMEOUT) : s->timeout);
	return c;
}

bool has_cap(const struct mb_imap_session *s, const char *cap)
{
	for (guint i = 0; i < s->caps->len; i++)
		if (g_ascii_strcasecmp(s->caps->pdata[i], cap) == 0)
			return true;
	return false;
}

static void set_caps_from_text(struct mb_imap_session *s, const char *text)
{
	g_ptr_array_set_size(s->caps, 0);
	char **words = g_strsplit_set(text, " ", -1);
	for (char **w = words; *w; w++)
		if (**w)
			g_ptr_array_add(s->caps, g_ascii_strup(*w, -1));
	g_strfreev(words);
}

static void set_caps_from_list(struct mb_imap_session *s, const struct mb_imap_value *list)
{
	g_ptr_array_set_size(s->caps, 0);
	for (size_t i = 0; list && i < list->n_items; i++)
		if (list->items[i].type == MB_IMAP_ATOM)
			g_ptr_array_add(s->caps, g_ascii_strup(list->items[i].str, -1));
}

/* Capabilities sent before TLS on a STARTTLS account are not trusted
 * (RFC 3501 6.2.1; an attacker may have rewritten them). */
static bool caps_trusted(const struct mb_imap_session *s)
{
	return mb_net_is_tls(s->net) || s->account->tls == MB_TLS_NONE;
}

void send_capability(struct mb_imap_session *s, enum state next)
{
	set_state(s, next);
	send_command(s, CMD_CAPABILITY, "CAPABILITY");
}

/* --- sign-in ------------------------------------------------------------ */

static void after_greeting_ok(struct mb_imap_session *s)
{
	if (s->account->tls == MB_TLS_STARTTLS && !mb_net_is_tls(s->net)) {
		/* Ask for STARTTLS whatever the (untrusted) capabilities say: a
		 * server that refuses it is refused in turn. */
		set_state(s, S_STARTTLS);
		send_command(s, CMD_STARTTLS, "STARTTLS");
		return;
	}
	if (s->caps->len > 0)
		mb_imap_auth_start(s);
	else
		send_capability(s, S_CAPABILITY);
}

/* --- mailbox ------------------------------------------------------------ */

static bool is_wildcard(const char *pattern)
{
	return strpbrk(pattern, "*%") != NULL;
}

static bool mailbox_equal(const char *a, const char *b)
{
	/* INBOX is case-insensitive (RFC 3501 5.1). */
	if (g_ascii_strcasecmp(a, "INBOX") == 0)
		return g_ascii_strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

static struct mbox *find_mbox(struct mb_imap_session *s, const char *name)
{
	for (guint i = 0; i < s->mboxes->len; i++) {
		struct mbox *m = s->mboxes->pdata[i];
		if (mailbox_equal(m->name, name))
			return m;
	}
	return NULL;
}

static void send_uid_fetch(struct mb_imap_session *s, uint32_t last_uid);

static void send_examine(struct mb_imap_session *s, struct mbox *m)
{
	set_state(s, S_EXAMINE);
	/* Mail that reached the mailbox we leave and was not yet announced
	 * as EXISTS is dropped on the switch (Dovecot), and NOTIFY only tells
	 * of later changes: ask STATUS of the others once back on the first. */
	if (s->notify_others && s->cur && s->cur != s->mboxes->pdata[0]) {
		s->status_due = true;
		s->status_verify = false; /* that mail was never NOTIFY's to tell */
	}
	s->cur = NULL; /* a failed EXAMINE leaves no mailbox selected */
	g_array_set_size(s->tracked, 0); /* sequence numbers are per mailbox */
	s->examining = m;
	s->uidvalidity = 0;
	s->uidnext = 0;
	s->exists = 0;
	s->highestmodseq = 0;
	s->need_fetch = false;
	s->known = 0;
	g_ptr_array_set_size(s->pushed, 0); /* sequence numbers are per mailbox */
	s->push_distrust = false;
	bool ahead = m->news && m != s->mboxes->pdata[0] && m->known_uidvalidity != 0
		&& m->last_uid < UINT32_MAX && !s->task_uid && !s->task_store;
	m->news = false;
	char *text = g_strdup_printf("EXAMINE %s", m->wire);
	send_command(s, CMD_EXAMINE, text);
	g_free(text);
	if (ahead) {
		/* New mail another mailbox's event told of: its UID FETCH
		 * rides behind the EXAMINE (RFC 9051 5.5), one round trip for
		 * both. A new UIDVALIDITY or a failed EXAMINE voids it. */
		s->fetch_ahead = true;
		send_uid_fetch(s, m->last_uid);
	}
}

static void add_listed(struct mb_imap_session *s, const char *name)
{
	for (guint i = 0; i < s->listed->len; i++)
		if (mailbox_equal(s->listed->pdata[i], name))
			return;
	g_ptr_array_add(s->listed, g_strdup(name));
}

/* The mailboxes the account assigned (list copied), all to be synced. */
static void assign(struct mb_imap_session *s, const struct mb_imap_mailbox *list, size_t n)
{
	g_ptr_array_set_size(s->mboxes, 0);
	for (size_t i = 0; i < n; i++) {
		struct mbox *m = g_new0(struct mbox, 1);
		m->name = g_strdup(list[i].name);
		m->wire = encode_mailbox(list[i].name);
		m->known_uidvalidity = list[i].uidvalidity;
		m->last_uid = list[i].uidvalidity ? list[i].last_uid : 0;
		m->dirty = true;
		g_ptr_array_add(s->mboxes, m);
	}
}

/* Every pattern is expanded in order; plain names are taken as given (a
 * missing one fails at EXAMINE, with a clear error). */
static void list_next(struct mb_imap_session *s)
{
	while (s->patterns[s->list_index]) {
		const char *pattern = s->patterns[s->list_index++];
		if (!is_wildcard(pattern)) {
			add_listed(s, pattern);
			continue;
		}
		set_state(s, S_LIST);
		char *wire = encode_mailbox(pattern);
		char *text = g_strdup_printf("LIST \"\" %s", wire);
		send_command(s, CMD_LIST, text);
		g_free(text);
		g_free(wire);
		return;
	}
	g_ptr_array_add(s->listed, NULL);
	bool has_notify = has_cap(s, "NOTIFY");
	struct mb_imap_assignment as = {
		.mailboxes = g_array_new(FALSE, TRUE, sizeof(struct mb_imap_mailbox)),
	};
	session_ref(s);
	s->ev.mailboxes(s, (const char *const *)s->listed->pdata, has_notify, &as, s->data);
	g_ptr_array_set_size(s->listed, 0);
	bool gone = s->state == S_CLOSED || s->destroyed;
	session_unref(s);
	if (gone) {
		g_array_free(as.mailboxes, TRUE);
		return;
	}
	assign(s, (const struct mb_imap_mailbox *)(void *)as.mailboxes->data, as.mailboxes->len);
	g_array_free(as.mailboxes, TRUE);
	s->notify_others = has_notify && as.others == MB_SHARE_NOTIFY && s->mboxes->len > 1;
	if (s->mboxes->len == 0) {
		close_session(s, MB_IMAP_CLOSE_REFUSED, "no configured mailbox exists on the server");
		return;
	}
	/* NOTIFY with one mailbox too: its MessageNew attributes save the
	 * round trip of the UID FETCH (see send_notify()) */
	s->use_notify = has_notify;
	/* STATUS of the others once synced: the baseline of the changed
	 * event, which the next poll or NOTIFY event is compared with. */
	s->status_due = s->mboxes->len > 1;
	go_idle(s);
}

/* RFC 7162: with CONDSTORE enabled EXAMINE reports HIGHESTMODSEQ, kept in
 * the state file beside the last UID. */
static void after_id(struct mb_imap_session *s)
{
	if (s->task_check) {
		/* every name the server has, so the user sees the real ones */
		set_state(s, S_LIST);
		send_command(s, CMD_LIST, "LIST \"\" \"*\"");
		return;
	}
	if (s->task_store) {
		/* mark as read: the only command that changes anything on a
		 * server, on a connection of its own, never the watching one */
		struct mbox *m = g_new0(struct mbox, 1);
		m->name = g_strdup(s->task_mailbox);
		m->wire = encode_mailbox(s->task_mailbox);
		g_ptr_array_add(s->mboxes, m);
		s->examining = m;
		s->uidvalidity = 0;
		set_state(s, S_EXAMINE);
		char *text = g_strdup_printf("SELECT %s", m->wire);
		send_command(s, CMD_EXAMINE, text);
		g_free(text);
		return;
	}
	if (s->task_uid) {
		/* One mailbox, read-only, no LIST, no state: EXAMINE and fetch. */
		struct mbox *m = g_new0(struct mbox, 1);
		m->name = g_strdup(s->task_mailbox);
		m->wire = encode_mailbox(s->task_mailbox);
		g_ptr_array_add(s->mboxes, m);
		send_examine(s, m);
		return;
	}
	/* Pipelined with what follows (RFC 9051 5.5): the server reads it
	 * before the EXAMINE, and nothing waits for its answer. Without
	 * CONDSTORE, EXAMINE reports no HIGHESTMODSEQ and none is stored. */
	if (has_cap(s, "CONDSTORE") && has_cap(s, "ENABLE"))
		send_command(s, CMD_ENABLE, "ENABLE CONDSTORE");
	list_next(s);
}

void after_auth(struct mb_imap_session *s)
{
	s->authenticated = true;
	/* RFC 2971; some providers (NetEase) refuse clients that don't.
	 * Pipelined like ENABLE: its answer changes nothing, and a server
	 * reads it before the commands behind it, so sign-in to IDLE costs
	 * two round trips fewer. */
	if (has_cap(s, "ID"))
		send_command(s, CMD_ID, "ID (\"name\" \"mailbell\" \"version\" \"" MB_VERSION "\")");
	after_id(s);
}

static void emit_messages(struct mb_imap_session *s, GPtrArray *msgs);
static void leave_rest(struct mb_imap_session *s);

static int compare_u32(gconstpointer a, gconstpointer b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The attributes of a new message, as a parenthesized list (RFC 3501
 * 6.4.5): for the UID FETCH, and for NOTIFY's MessageNew (RFC 5465 5.2), so
 * that a pushed message holds just what a fetched one would.
 * Header fields rather than ENVELOPE: as a literal with a partial limit, a
 * sender's 2 MB From header costs 16 KiB and parses, where an ENVELOPE line
 * would pass the parser's line limit every time and block the mailbox for
 * good. */
static void append_fetch_atts(struct mb_imap_session *s, GString *text)
{
	g_string_append_printf(text, "(UID FLAGS RFC822.SIZE "
		"BODY.PEEK[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID LIST-ID CONTENT-TYPE "
		"CONTENT-TRANSFER-ENCODING)]<0.%u> "
		"BODY.PEEK[HEADER.FIELDS (FROM SENDER)]<0.%u> "
		"BODY.PEEK[HEADER.FIELDS (TO CC)]<0.%u>",
		MB_HEADER_FETCH_MAX, MB_HEADER_FETCH_MAX, MB_HEADER_FETCH_MAX);
	if (s->want_header)
		g_string_append_printf(text, " BODY.PEEK[HEADER]<0.%u>", MB_IMAP_HEADER_MAX);
	/* The preview costs no round trip: the server's own (RFC 8970), or
	 * the first few KiB of the body, read as MIME by message.c. */
	if (s->want_preview && has_cap(s, "PREVIEW"))
		g_string_append(text, " PREVIEW");
	else if (s->want_preview)
		g_string_append_printf(text, " BODY.PEEK[TEXT]<0.%u>", MB_IMAP_TEXT_MAX);
	g_string_append_c(text, ')');
}

/* UID FETCH last_uid+1:* of the new messages (RFC 3501 6.4.8). */
static void send_uid_fetch(struct mb_imap_session *s, uint32_t last_uid)
{
	g_ptr_array_set_size(s->fetched, 0);
	s->fetch_max_seq = 0;
	GString *text = g_string_new(NULL);
	g_string_append_printf(text, "UID FETCH %u:* ", last_uid + 1);
	append_fetch_atts(s, text);
	send_command(s, CMD_FETCH, text->str);
	g_string_free(text, TRUE);
}

static void send_fetch(struct mb_imap_session *s)
{
	s->need_fetch = false;
	s->left_idle = false;
	if (s->cur->last_uid == UINT32_MAX) {
		/* UIDs are 32-bit (RFC 3501 2.3.1.1): nothing can follow, and
		 * "UID FETCH 0:*" would be invalid. Only a new UIDVALIDITY
		 * gets this mailbox going again. */
		g_warning("%s: %s: the server used the highest possible UID", s->name, s->cur->name);
		emit_messages(s, g_ptr_array_new());
		if (s->state != S_CLOSED)
			go_idle(s);
		return;
	}
	set_state(s, S_FETCH);
	send_uid_fetch(s, s->cur->last_uid);
}

static int compare_uid(gconstpointer a, gconstpointer b)
{
	const struct mb_imap_fetch *x = *(const struct mb_imap_fetch *const *)a;
	const struct mb_imap_fetch *y = *(const struct mb_imap_fetch *const *)b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void append_uid_set(GString *out, const GArray *uids)
{
	/* ascending UIDs as ranges: "3:5,9" (RFC 3501 sequence-set) */
	for (guint i = 0; i < uids->len;) {
		uint32_t first = g_array_index(uids, uint32_t, i), last = first;
		while (++i < uids->len && g_array_index(uids, uint32_t, i) == last + 1)
			last++;
		if (out->len && out->str[out->len - 1] != ' ')
			g_string_append_c(out, ',');
		if (first == last)
			g_string_append_printf(out, "%u", first);
		else
			g_string_append_printf(out, "%u:%u", first, last);
	}
}

/* Asks the account which messages of the batch to download and sends one
 * pipelined UID FETCH per distinct size limit, all in one write. Returns
 * false when nothing is to be downloaded. */
static bool send_body_fetches(struct mb_imap_session *s)
{
	if (!s->ev.plan || s->fetched->len == 0)
		return false;
	uint32_t *limits = g_new0(uint32_t, s->fetched->len);
	struct mb_imap_mailbox progress = {
		.name = s->cur->name,
		.uidvalidity = s->uidvalidity,
		.last_uid = s->cur->last_uid,
		.highestmodseq = s->highestmodseq,
	};
	session_ref(s);
	s->ev.plan(s, &progress, s->fetched, limits, !s->cur->synced, s->data);
	bool gone = s->state == S_CLOSED || s->destroyed;
	session_unref(s);
	if (gone) {
		g_free(limits);
		return true;
	}
	GArray *done = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	for (guint i = 0; i < s->fetched->len; i++) {
		uint32_t limit = MIN(limits[i], MB_IMAP_BODY_MAX);
		if (limit == 0 || g_array_binary_search(done, &limit, compare_u32, NULL))
			continue;
		GArray *uids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
		for (guint j = i; j < s->fetched->len; j++) {
			if (MIN(limits[j], MB_IMAP_BODY_MAX) == limit) {
				uint32_t uid = ((struct mb_imap_fetch *)s->fetched->pdata[j])->uid;
				g_array_append_val(uids, uid);
			}
		}
		GString *cmd = g_string_new("UID FETCH ");
		append_uid_set(cmd, uids);
		/* A partial fetch: a server whose RFC822.SIZE was wrong still
		 * cannot send more than the limit (message.c sees the cut). */
		g_string_append_printf(cmd, " (UID BODY.PEEK[]<0.%u>)", limit);
		if (s->body_cmds == 0) {
			leave_rest(s); /* pushed messages were taken in IDLE */
			set_state(s, S_FETCH_BODY);
		}
		send_command(s, CMD_FETCH_BODY, cmd->str);
		s->body_cmds++;
		g_string_free(cmd, TRUE);
		g_array_free(uids, TRUE);
		g_array_append_val(done, limit);
		g_array_sort(done, compare_u32);
	}
	g_array_free(done, TRUE);
	g_free(limits);
	return s->body_cmds > 0;
}

/* A cut body (the server sent less than RFC822.SIZE said, or the limit
 * cut it) is no full download. */
static void drop_cut_bodies(struct mb_imap_session *s)
{
	for (guint i = 0; i < s->fetched->len; i++) {
		struct mb_imap_fetch *f = s->fetched->pdata[i];
		if (f->body && f->size && g_bytes_get_size(f->body) < f->size) {
			g_info("%s: %s uid %u: got %zu of %u octets: treated as not downloaded",
				s->name, s->cur->name, f->uid, g_bytes_get_size(f->body), f->size);
			g_clear_pointer(&f->body, g_bytes_unref);
		}
	}
}

static void finish_fetch(struct mb_imap_session *s)
{
	drop_cut_bodies(s);
	GPtrArray *msgs = s->fetched;
	s->fetched = g_ptr_array_new_with_free_func((GDestroyNotify)mb_imap_fetch_free);
	for (guint i = 0; i < msgs->len; i++) {
		const struct mb_imap_fetch *f = msgs->pdata[i];
		if (f->uid > s->cur->last_uid)
			s->cur->last_uid = f->uid;
	}
	for (guint i = 0; i < s->pushed->len;) {
		const struct pushed *p = s->pushed->pdata[i];
		if (p->f->uid <= s->cur->last_uid || p->seq <= s->known)
			g_ptr_array_remove_index(s->pushed, i); /* fetched meanwhile */
		else
			i++;
	}
	emit_messages(s, msgs);
	if (s->state != S_CLOSED && !s->destroyed)
		go_idle(s);
}

static void emit_messages(struct mb_imap_session *s, GPtrArray *msgs)
{
	struct mbox *m = s->cur;
	bool catchup = !m->synced;
	bool rebaselined = s->rebaselined;
	m->synced = true;
	m->dirty = false;
	s->rebaselined = false;
	m->known_uidvalidity = s->uidvalidity;
	struct mb_imap_mailbox progress = {
		.name = m->name,
		.uidvalidity = s->uidvalidity,
		.last_uid = m->last_uid,
		.highestmodseq = s->highestmodseq,
	};
	s->ev.messages(s, &progress, msgs, catchup, rebaselined, s->data);
}

static void baseline_done(struct mb_imap_session *s, uint32_t last_uid)
{
	s->cur->last_uid = last_uid;
	s->known = s->exists; /* every message there is old */
	s->rebaselined = true;
	s->cur->synced = true; /* nothing old is reported as catch-up */
	emit_messages(s, g_ptr_array_new());
	if (s->state != S_CLOSED)
		go_idle(s);
}

static void examine_done(struct mb_imap_session *s)
{
	struct mbox *m = s->cur;
	if (m->known_uidvalidity != 0 && m->known_uidvalidity == s->uidvalidity) {
		if (s->uidnext != 0 && s->uidnext - 1 <= m->last_uid && s->uidnext > m->last_uid) {
			/* Nothing arrived since we last looked. */
			s->known = s->exists;
			emit_messages(s, g_ptr_array_new());
			if (s->state != S_CLOSED)
				go_idle(s);
		} else {
			send_fetch(s);
		}
		return;
	}
	if (m->known_uidvalidity != 0)
		g_warning("%s: %s: UIDVALIDITY changed from %u to %u: old messages are not reported",
			s->name, m->name, m->known_uidvalidity, s->uidvalidity);
	if (s->uidnext != 0) {
		baseline_done(s, s->uidnext - 1);
	} else if (s->exists == 0) {
		baseline_done(s, 0);
	} else {
		/* R13: no UIDNEXT; the highest UID is that of message "*". */
		set_state(s, S_BASELINE);
		s->baseline_uid = 0;
		send_command(s, CMD_BASELINE, "UID FETCH * (UID)");
	}
}

/* A name that modified UTF-7 changes: 8-bit, or '&' (RFC 3501 5.1.3). */
static bool name_needs_encoding(const char *name)
{
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p >= 0x80 || *p == '&')
			return true;
	return false;
}

/* RFC 5465: new mail in the selected mailbox arrives as EXISTS, elsewhere
 * as STATUS; MessageNew needs MessageExpunge. FlagChange: a message read
 * elsewhere closes its notification, and expunges and flag changes feed
 * the changed event everywhere.
 * Dovecot 2.3.19 (shared/cases/servers.md S3) keeps the names of a
 * "mailboxes" filter as sent, in modified UTF-7, and compares them with its
 * UTF-8 names: "Caf&AOk-" or "R&-D" never match and their mail is never
 * announced. "personal" matches every mailbox of the user's namespaces
 * (its events name them in UTF-8, see status_mbox()), so it is added when
 * a watched name needs encoding and the events of other mailboxes are
 * ignored; "mailboxes" stays for the names it does match, which may lie
 * outside the personal namespaces. Plain names alone keep the exact
 * filter: no traffic for mailboxes nobody watches.
 * For the selected mailbox MessageNew carries the attributes a UID FETCH
 * would ask for (RFC 5465 5.2: "* 3 EXISTS" and "* 3 FETCH (UID 9 ...)" in
 * one write, on Dovecot), so new mail is acted on with no round trip at
 * all, one mailbox or many; a server that refuses that is asked again
 * without them. */
static void send_notify(struct mb_imap_session *s)
{
	static const char events[] = "(MessageNew MessageExpunge FlagChange)";
	GString *cmd = g_string_new("NOTIFY SET (selected ");
	s->notify_fetch = !s->notify_fetch_refused;
	if (s->notify_fetch) {
		s->notify_header = s->want_header;
		s->notify_preview = s->want_preview;
		g_string_append(cmd, "(MessageNew ");
		append_fetch_atts(s, cmd);
		g_string_append(cmd, " MessageExpunge FlagChange))");
	} else {
		g_string_append_printf(cmd, "%s)", events);
	}
	if (s->notify_others) {
		bool encoded = false;
		GString *names = g_string_new(NULL);
		for (guint i = 0; i < s->mboxes->len; i++) {
			struct mbox *m = s->mboxes->pdata[i];
			g_string_append_printf(names, "%s%s", i ? " " : "", m->wire);
			encoded |= name_needs_encoding(m->name);
		}
		if (encoded)
			g_string_append_printf(cmd, " (personal %s)", events);
		g_string_append_printf(cmd, " (mailboxes (%s) %s)", names->str, events);
		g_string_free(names, TRUE);
	}
	set_state(s, S_NOTIFY);
	send_command(s, CMD_NOTIFY, cmd->str);
	g_string_free(cmd, TRUE);
}

static void send_status_next(struct mb_imap_session *s)
{
	while (s->status_index < s->mboxes->len) {
		struct mbox *m = s->mboxes->pdata[s->status_index++];
		if (m == s->cur)
			continue;
		set_state(s, S_STATUS);
		s->status_asked = m;
		/* MESSAGES and HIGHESTMODSEQ (RFC 7162 3.1.2): for the changed
		 * event (see mbox_changes()). */
		char *text = g_strdup_printf("STATUS %s (MESSAGES UIDNEXT UIDVALIDITY UNSEEN%s)",
			m->wire, has_cap(s, "CONDSTORE") ? " HIGHESTMODSEQ" : "");
		send_command(s, CMD_STATUS, text);
		g_free(text);
		return;
	}
	s->status_asked = NULL;
	s->status_due = false;
	s->status_verify = false;
	go_idle(s);
}

static gboolean on_timer(gpointer user_data);

static bool notify_trusted(const struct mb_imap_session *s)
{
	return s->notify_others && s->notify_set && !s->notify_failed;
}

static bool polls_others(const struct mb_imap_session *s)
{
	return s->mboxes->len > 1 && !notify_trusted(s);
}

static bool resting(const struct mb_imap_session *s)
{
	return s->state == S_IDLING || s->state == S_POLL_WAIT;
}

/* Leaves IDLE or the wait for the next poll, so that a command can follow
 * at once: DONE goes out in the same write as that command (pipelining
 * after DONE, RFC 2177 and RFC 9051 5.5), whose answer then comes a single
 * round trip later. The IDLE's own tagged OK is read on the way. */
static void leave_rest(struct mb_imap_session *s)
{
	mb_timer_disarm(s->timer);
	if (s->state != S_IDLING)
		return;
	s->left_idle = true;
	send_raw(s, "DONE\r\n", 6, false);
	s->state = S_IDLE_DONE; /* traced with the command's state, see set_state() */
}

/* How many of the messages known+1..exists came pushed, in a row from
 * known+1, each with all that a UID FETCH would have asked for. */
static uint32_t pushed_ready(const struct mb_imap_session *s)
{
	if (!s->notify_fetch || !s->notify_set || s->exists <= s->known || !s->cur
	    || s->push_distrust
	    || s->notify_header != s->want_header || s->notify_preview != s->want_preview)
		return 0;
	uint32_t n = 0, prev_uid = s->cur->last_uid;
	for (uint32_t seq = s->known + 1; seq <= s->exists; seq++, n++) {
		const struct mb_imap_fetch *f = NULL;
		for (guint i = 0; i < s->pushed->len && !f; i++) {
			const struct pushed *p = s->pushed->pdata[i];
			if (p->seq == seq)
				f = p->f;
		}
		/* UIDs ascend with sequence numbers (RFC 3501 2.3.1.1) */
		if (!f || f->uid <= prev_uid || !f->header_fields || !f->has_flags
		    || (s->want_header && !f->header)
		    || (s->want_preview && !f->preview && !f->text))
			break;
		prev_uid = f->uid;
	}
	return n;
}

static bool send_body_fetches(struct mb_imap_session *s);
static void finish_fetch(struct mb_imap_session *s);
static void track(struct mb_imap_session *s, uint32_t seq, uint32_t uid);

/* STEP_TAKE: the pushed messages known+1..known+n become the batch, as if
 * a UID FETCH had returned them; bodies the plan asks for are fetched as
 * usual (leaving IDLE for that). */
static void take_pushed(struct mb_imap_session *s, uint32_t n)
{
	uint32_t last = s->known + n;
	s->left_idle = false;
	g_ptr_array_set_size(s->fetched, 0);
	for (guint i = 0; i < s->pushed->len;) {
		struct pushed *p = s->pushed->pdata[i];
		if (p->seq > s->known && p->seq <= last) {
			track(s, p->seq, p->f->uid);
			g_ptr_array_add(s->fetched, g_steal_pointer(&p->f));
			g_ptr_array_remove_index(s->pushed, i);
		} else {
			i++;
		}
	}
	s->known = last;
	s->need_fetch = s->exists > s->known; /* the rest of a burst */
	g_ptr_array_sort(s->fetched, compare_uid);
	if (!send_body_fetches(s))
		finish_fetch(s);
}

static void start_polling(struct mb_imap_session *s, bool switched)
{
	set_state(s, S_POLL_WAIT);
	mb_timer_disarm(s->deadline);
	mb_timer_disarm(s->timer);
	mb_timer_arm(s->timer, s->poll_interval);
	if (switched) {
		s->idle_silent = true;
		s->polling_told = true;
		g_message("%s: the server reported new mail only after IDLE ended (twice), never "
			"during IDLE: polling %s every %us instead", s->name, s->cur->name,
			s->poll_interval);
	}
	if (!s->polling_told) {
		s->polling_told = true;
		if (s->idle_silent && has_cap(s, "IDLE"))
			g_info("%s: polling %s every %us (IDLE did not deliver on an earlier connection)",
				s->name, s->cur->name, s->poll_interval);
		else
			g_message("%s: polling %s every %us (server has no usable IDLE)", s->name,
				s->cur->name, s->poll_interval);
	}
	if (!s->announced || switched) {
		/* also on the switch: the account shows "polling" from now on */
		s->announced = true;
		s->ev.idling(s, s->data);
	}
}

static gboolean on_grace(gpointer user_data);

/* The scheduler: asks mb_imap_next_step() what to do (see imap-sched.h),
 * traces the decision and does it. Called whenever a command completes,
 * and when something arrives while resting. */
static void go_idle(struct mb_imap_session *s)
{
	gint64 now = g_get_monotonic_time();
	if (s->idle_refused && now >= s->idle_retry_at)
		s->idle_refused = false;
	guint n = s->mboxes->len;
	bool *dirty = g_newa(bool, n ? n : 1);
	const char **names = g_newa(const char *, n ? n : 1);
	int selected = -1;
	for (guint i = 0; i < n; i++) {
		struct mbox *m = s->mboxes->pdata[i];
		dirty[i] = m->dirty;
		names[i] = m->name;
		if (m == s->cur)
			selected = (int)i;
	}
	struct mb_imap_sched_in in = {
		.resting = resting(s),
		.idling = s->state == S_IDLING,
		.selected = selected,
		.n_mailboxes = n,
		.dirty = dirty,
		.names = names,
		.need_fetch = s->need_fetch && s->cur,
		.exists = s->exists,
		.known = s->known,
		.pushed_ready = s->need_fetch ? pushed_ready(s) : 0,
		.pushed_pending = s->notify_fetch && s->parser && mb_imap_parser_pending(s->parser) > 0,
		.push_recent = s->last_push
			&& now - s->last_push < MB_IMAP_PUSH_GRACE_MS * (gint64)1000,
		.notify_wanted = s->use_notify && (s->notify_others || !s->notify_fetch_refused),
		.notify_set = s->notify_set,
		.status_due = s->status_due,
		.renew = s->renew || s->probing,
		.has_idle = has_cap(s, "IDLE"),
		.idle_refused = s->idle_refused,
		.idle_silent = s->idle_silent,
		.idle_pushed = s->idle_pushed,
		.late_renewals = s->late_renewals,
	};
	struct mb_imap_sched_out out;
	mb_imap_next_step(&in, &out);
	/* The trace shows each decision with the state it leaves: "IDLING ->
	 * FETCH (exists 12 > 11)", on the state change the step makes. */
	if (out.step == MB_IMAP_STEP_TAKE || (out.step == MB_IMAP_STEP_STAY && in.need_fetch))
		g_debug("%s: %s -> %s (%s)", s->name, state_names[s->state],
			mb_imap_step_name(out.step), out.reason);
	else if (out.step != MB_IMAP_STEP_STAY) {
		s->why_from = s->state;
		g_snprintf(s->why, sizeof s->why, "%s", out.reason);
	}
	switch (out.step) {
	case MB_IMAP_STEP_STAY:
		if (in.need_fetch && in.push_recent && !s->grace) {
			/* look again when the grace is over */
			gint64 left = MB_IMAP_PUSH_GRACE_MS * (gint64)1000 - (now - s->last_push);
			s->grace = g_timeout_add((guint)(left / 1000) + 1, on_grace, s);
		}
		return;
	case MB_IMAP_STEP_TAKE:
		take_pushed(s, in.pushed_ready);
		return;
	case MB_IMAP_STEP_FETCH:
		leave_rest(s);
		send_fetch(s);
		return;
	case MB_IMAP_STEP_EXAMINE: {
		leave_rest(s);
		struct mbox *m = s->mboxes->pdata[out.mailbox];
		m->dirty = true;
		send_examine(s, m);
		return;
	}
	case MB_IMAP_STEP_NOTIFY:
		leave_rest(s);
		send_notify(s);
		return;
	case MB_IMAP_STEP_STATUS:
		leave_rest(s);
		s->status_index = 0;
		send_status_next(s);
		return;
	case MB_IMAP_STEP_NOOP:
		leave_rest(s);
		s->renew = false;
		set_state(s, S_NOOP);
		send_command(s, CMD_NOOP, "NOOP");
		return;
	case MB_IMAP_STEP_IDLE:
		set_state(s, S_IDLE_START);
		send_command(s, CMD_IDLE, "IDLE");
		return;
	case MB_IMAP_STEP_POLL:
		start_polling(s, out.now_silent);
		return;
	}
}

/* Something arrived while resting (new mail, an event, a warning): decide
 * once everything that came in the same read has been handled, so a FETCH
 * pushed right behind its EXISTS is seen before IDLE is left for nothing. */
static gboolean on_kick(gpointer user_data)
{
	struct mb_imap_session *s = user_data;
	s->kick = 0;
	if (resting(s) && !s->destroyed)
		go_idle(s);
	return G_SOURCE_REMOVE;
}

static gboolean on_grace(gpointer user_data)
{
	struct mb_imap_session *s = user_data;
	s->grace = 0;
	if (resting(s) && !s->destroyed)
		go_idle(s);
	return G_SOURCE_REMOVE;
}

static void kick(struct mb_imap_session *s)
{
	if (!s->kick && resting(s))
		s->kick = g_idle_add_full(G_PRIORITY_DEFAULT, on_kick, s, NULL);
}

static gboolean on_timer(gpointer user_data)
{
	struct mb_imap_session *s = user_data;
	/* STATUS of the other mailboxes doubles as the keepalive. Under
	 * NOTIFY too: whatever the server's NOTIFY does, mail anywhere is
	 * seen within keepalive, and a server whose NOTIFY misses it is
	 * found out (handle_status). */
	if (s->mboxes->len > 1) {
		s->status_due = true;
		s->status_verify = notify_trusted(s);
	} else {
		s->renew = true;
	}
	if (resting(s))
		go_idle(s);
	return G_SOURCE_REMOVE;
}

static void idle_started(struct mb_imap_session *s)
{
	set_state(s, S_IDLING);
	mb_timer_disarm(s->deadline);
	mb_timer_disarm(s->timer);
	s->left_idle = false;
	s->idle_since = g_get_monotonic_time();
	bool dirty = false;
	for (guint i = 0; i < s->mboxes->len; i++)
		dirty |= ((struct mbox *)s->mboxes->pdata[i])->dirty;
	if (s->need_fetch || dirty || s->renew || s->probing) {
		/* R14: EXISTS (or a NOTIFY STATUS) arrived before the
		 * continuation. */
		go_idle(s);
		return;
	}
	unsigned every = s->keepalive;
	if (polls_others(s) && s->poll_interval < every)
		every = s->poll_interval;
	mb_timer_arm(s->timer, every);
	if (!s->announced) {
		s->announced = true;
		for (guint i = 0; i < s->mboxes->len; i++) {
			struct mbox *m = s->mboxes->pdata[i];
			g_message("%s: idling on %s%s", s->name, m->name, i == 0 ? ""
				: s->notify_others ? " (NOTIFY)" : " (STATUS polling)");
		}
	}
	s->probing = false;
	s->ev.idling(s, s->data);
}

/* --- responses ---------------------------------------------------------- */

static void handle_code(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	if (!r->code)
		return;
	const char *code = r->code;
	if (strcmp(code, "CAPABILITY") == 0) {
		if (caps_trusted(s) || s->state == S_GREETING)
			set_caps_from_text(s, r->code_text);
	} else if (strcmp(code, "UIDVALIDITY") == 0 && s->state == S_EXAMINE) {
		uint32_t v;
		if (mb_imap_parse_u32(r->code_text, false, &v))
			s->uidvalidity = v;
	} else if (strcmp(code, "UIDNEXT") == 0 && s->state == S_EXAMINE) {
		uint32_t v;
		if (mb_imap_parse_u32(r->code_text, false, &v))
			s->uidnext = v;
	} else if (strcmp(code, "HIGHESTMODSEQ") == 0 && s->state == S_EXAMINE) {
		uint64_t v;
		if (mb_imap_parse_u64(r->code_text, &v))
			s->highestmodseq = v;
	} else if (strcmp(code, "NOTIFICATIONOVERFLOW") == 0) {
		/* RFC 5465 5.8: events were lost and the server sends no more
		 * (as after NOTIFY NONE): look at everything again, set NOTIFY
		 * anew. */
		for (guint i = 0; i < s->mboxes->len; i++)
			((struct mbox *)s->mboxes->pdata[i])->dirty = true;
		s->notify_set = false;
		kick(s);
	} else if (strcmp(code, "ALERT") == 0 && s->authenticated && caps_trusted(s)) {
		char *text = mb_text_sanitize(r->text, strlen(r->text));
		s->ev.alert(s, text, s->data);
		g_free(text);
	}
}

static struct mb_imap_fetch *find_fetched(struct mb_imap_session *s, uint32_t uid)
{
	for (guint i = 0; i < s->fetched->len; i++) {
		struct mb_imap_fetch *f = s->fetched->pdata[i];
		if (f->uid == uid)
			return f;
	}
	return NULL;
}

static void emit_gone(struct mb_imap_session *s, uint32_t uid, bool expunge)
{
	if (!s->ev.gone || !s->cur)
		return;
	g_debug("%s: %s uid %u %s elsewhere", s->name, s->cur->name, uid, expunge ? "expunged" : "read");
	s->ev.gone(s, s->cur->name, s->uidvalidity, uid, expunge, s->data);
}

/* Emits changed; returns false when the session ended meanwhile. */
static bool emit_changed(struct mb_imap_session *s, const char *mailbox, unsigned changes)
{
	if (!changes || !s->ev.changed)
		return true;
	session_ref(s);
	s->ev.changed(s, mailbox, changes, s->data);
	bool alive = s->state != S_CLOSED && !s->destroyed;
	session_unref(s);
	return alive;
}

/* An EXPUNGE or a flag update in the selected mailbox. */
static void selected_changed(struct mb_imap_session *s, unsigned changes)
{
	if (s->cur && !s->task_uid && !s->task_store)
		emit_changed(s, s->cur->name, changes);
}

static void track(struct mb_imap_session *s, uint32_t seq, uint32_t uid)
{
	for (guint i = 0; i < s->tracked->len; i++) {
		struct tracked *t = &g_array_index(s->tracked, struct tracked, i);
		if (t->uid == uid) {
			t->seq = seq;
			return;
		}
	}
	if (s->tracked->len >= TRACK_MAX)
		g_array_remove_index(s->tracked, 0);
	struct tracked t = { .uid = uid, .seq = seq };
	g_array_append_val(s->tracked, t);
}

/* RFC 3501 7.4.1: every later message moves down by one. */
static void expunged(struct mb_imap_session *s, uint32_t seq)
{
	if (seq <= s->known)
		s->known--;
	for (guint i = 0; i < s->pushed->len;) {
		struct pushed *p = s->pushed->pdata[i];
		if (p->seq == seq) {
			g_ptr_array_remove_index(s->pushed, i); /* came and went */
			continue;
		}
		if (p->seq > seq)
			p->seq--;
		i++;
	}
	for (guint i = 0; i < s->tracked->len;) {
		struct tracked *t = &g_array_index(s->tracked, struct tracked, i);
		if (t->seq == seq) {
			uint32_t uid = t->uid;
			g_array_remove_index(s->tracked, i);
			emit_gone(s, uid, true);
			continue;
		}
		if (t->seq > seq)
			t->seq--;
		i++;
	}
}

/* A FETCH with FLAGS outside our own fetches: another client changed flags
 * (during IDLE, or NOTIFY FlagChange). Without UID it names a sequence
 * number, which the tracked messages map. */
static void flags_changed(struct mb_imap_session *s, const struct mb_imap_value *att, uint32_t seq)
{
	const struct mb_imap_value *flags = mb_imap_fetch_item(att, "FLAGS");
	if (!flags || !mb_imap_flags_have(flags, "\\Seen"))
		return;
	const struct mb_imap_value *uid_v = mb_imap_fetch_item(att, "UID");
	uint32_t uid = 0;
	if (uid_v && uid_v->type == MB_IMAP_ATOM)
		mb_imap_parse_u32(uid_v->str, false, &uid);
	for (guint i = 0; i < s->tracked->len; i++) {
		struct tracked *t = &g_array_index(s->tracked, struct tracked, i);
		if (uid ? t->uid == uid : t->seq == seq) {
			uid = t->uid;
			g_array_remove_index(s->tracked, i);
			emit_gone(s, uid, false);
			return;
		}
	}
}

/* Whether a FETCH during the body fetch is for a message of the batch (or
 * has no UID to tell): else the server pushed it meanwhile (NOTIFY
 * MessageNew), or it is a flag change. */
static bool in_batch(struct mb_imap_session *s, const struct mb_imap_value *att)
{
	const struct mb_imap_value *uid_v = mb_imap_fetch_item(att, "UID");
	uint32_t uid;
	if (!uid_v || uid_v->type != MB_IMAP_ATOM || !mb_imap_parse_u32(uid_v->str, false, &uid))
		return true;
	return find_fetched(s, uid) != NULL;
}

/* A FETCH outside our own UID FETCH that brings a new message of the
 * selected mailbox with its attributes: NOTIFY's MessageNew (RFC 5465 5.2),
 * before or after its EXISTS (erratum 4833 allows either order). Kept until
 * taken (STEP_TAKE) or fetched anyway. Returns 1 when kept, 0 when it is
 * no such message (a flag change: FLAGS, maybe UID, nothing else), -1 when
 * it was malformed and the session closed. */
static void kick(struct mb_imap_session *s);

static int take_push(struct mb_imap_session *s, const struct mb_imap_value *att,
	const struct mb_imap_response *r)
{
	/* RFC822.SIZE: only asked for in MessageNew's attributes; a flag
	 * change sends FLAGS (and UID) */
	if (!s->notify_fetch || !s->cur || !r->has_number || r->number == 0 || s->task_uid
	    || s->task_store || !mb_imap_fetch_item(att, "RFC822.SIZE"))
		return 0;
	if (s->push_distrust)
		return 1; /* the UID FETCH will bring it */
	struct mb_imap_fetch f = { 0 };
	const char *err = NULL;
	if (!mb_imap_fetch_parse(att, &f, &err)) {
		if (!err)
			return 0;
		close_session(s, MB_IMAP_CLOSE_ERROR, "malformed FETCH response: %s", err);
		return -1;
	}
	if (f.uid <= s->cur->last_uid) {
		/* the event of a message a UID FETCH already brought (it
		 * came while that ran): nothing new, no flag change either */
		mb_imap_fetch_clear(&f);
		return 1;
	}
	if (r->number <= s->known) { /* r->number >= 1, see above */
		/* a new UID where every message was thought known: trust the
		 * server, count from before it and fetch what is missing */
		g_debug("%s: %s: pushed uid %u at %u, not above %u", s->name, s->cur->name, f.uid,
			r->number, s->known);
		s->known = r->number - 1;
		s->need_fetch = true;
	}
	for (guint i = 0; i < s->pushed->len; i++) {
		struct pushed *p = s->pushed->pdata[i];
		if (p->seq == r->number && p->f->uid != f.uid) {
			/* two messages at one sequence number: the server's
			 * pushes cannot be believed; fetch by UID instead */
			g_warning("%s: %s: the server pushed uid %u and uid %u as message %u; fetching "
				"new mail by UID", s->name, s->cur->name, p->f->uid, f.uid, r->number);
			mb_imap_fetch_clear(&f);
			g_ptr_array_set_size(s->pushed, 0);
			s->push_distrust = true;
			s->need_fetch = true;
			kick(s);
			return 1;
		}
		if (p->f->uid == f.uid) {
			/* twice (a flag change in between): keep the first */
			p->seq = r->number;
			mb_imap_fetch_merge(p->f, &f);
			mb_imap_fetch_clear(&f);
			kick(s);
			return 1;
		}
	}
	if (s->pushed->len >= TRACK_MAX) {
		/* more than a burst can need: the UID FETCH gets them all */
		mb_imap_fetch_clear(&f);
		return 1;
	}
	struct pushed *p = g_new0(struct pushed, 1);
	p->seq = r->number;
	p->f = mb_imap_fetch_copy(&f);
	mb_imap_fetch_clear(&f);
	g_ptr_array_add(s->pushed, p);
	s->last_push = g_get_monotonic_time();
	kick(s); /* the scheduler may have been waiting for it */
	return 1;
}

static void handle_fetch(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	/* resp->data holds what follows "FETCH": exactly one msg-att list. */
	if (r->data->n_items != 1 || r->data->items[0].type != MB_IMAP_LIST) {
		close_session(s, MB_IMAP_CLOSE_ERROR, "malformed FETCH response");
		return;
	}
	const struct mb_imap_value *att = &r->data->items[0];
	if (s->state == S_BASELINE) {
		const struct mb_imap_value *uid_v = mb_imap_fetch_item(att, "UID");
		uint32_t uid;
		if (uid_v && uid_v->type == MB_IMAP_ATOM && mb_imap_parse_u32(uid_v->str, false, &uid)
		    && uid > s->baseline_uid)
			s->baseline_uid = uid;
		return;
	}
	if (s->state != S_FETCH && (s->state != S_FETCH_BODY || !r->has_number
	    || !in_batch(s, att))) {
		int pushed = take_push(s, att, r);
		if (pushed != 0)
			return; /* a new message (1), or the session closed (-1) */
		if (!s->task_uid && !s->task_store && r->has_number) {
			flags_changed(s, att, r->number);
			if (mb_imap_fetch_item(att, "FLAGS") && s->state != S_CLOSED && !s->destroyed)
				selected_changed(s, MB_IMAP_CHANGE_FLAGS);
		}
		return;
	}
	if (s->fetch_void)
		return;
	struct mb_imap_fetch f = { 0 };
	const char *err = NULL;
	if (!mb_imap_fetch_parse(att, &f, &err)) {
		/* Unsolicited FETCH (flag changes) may come without UID. */
		if (err)
			close_session(s, MB_IMAP_CLOSE_ERROR, "malformed FETCH response: %s", err);
		return;
	}
	/* ours (header fields), new or R11's old last message: see known */
	if (s->state == S_FETCH && r->has_number && f.header_fields && r->number > s->fetch_max_seq)
		s->fetch_max_seq = r->number;
	if (s->task_uid) {
		if (f.uid == s->task_uid && f.body && !s->task_result)
			s->task_result = mb_imap_fetch_copy(&f);
	} else if (s->state == S_FETCH_BODY) {
		/* Only the bodies we asked for, to the messages of this batch. */
		struct mb_imap_fetch *known = find_fetched(s, f.uid);
		if (known)
			mb_imap_fetch_merge(known, &f);
	} else if (f.uid > s->cur->last_uid) {
		if (r->has_number)
			track(s, r->number, f.uid);
		/* R11: "*" returns the last message even when old. A server
		 * may answer one UID twice (a flag change in between): keep
		 * the first, fill in what it lacked. */
		struct mb_imap_fetch *known = find_fetched(s, f.uid);
		if (known)
			mb_imap_fetch_merge(known, &f);
		else
			g_ptr_array_add(s->fetched, mb_imap_fetch_copy(&f));
	}
	mb_imap_fetch_clear(&f);
}

/* "* LIST (\HasNoChildren) "/" "Work/a"" (RFC 3501 7.2.2) */
static void handle_list(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	const struct mb_imap_value *d = r->data;
	if (d->n_items < 3 || d->items[0].type != MB_IMAP_LIST
	    || (d->items[2].type != MB_IMAP_ATOM && d->items[2].type != MB_IMAP_STRING)) {
		close_session(s, MB_IMAP_CLOSE_ERROR, "malformed LIST response");
		return;
	}
	if (d->items[1].type == MB_IMAP_STRING && d->items[1].len == 1)
		s->delimiter = d->items[1].str[0];
	if (mb_imap_flags_have(&d->items[0], "\\Noselect")
	    || mb_imap_flags_have(&d->items[0], "\\NonExistent"))
		return;
	char *name = mb_imap_utf7_decode(d->items[2].str);
	if (!name || memchr(d->items[2].str, '\0', d->items[2].len)) {
		g_warning("%s: skipping mailbox with an invalid name", s->name);
		g_free(name);
		return;
	}
	add_listed(s, name);
	g_free(name);
}

/* The watched mailbox a STATUS names: in modified UTF-7 (RFC 3501 5.1.3),
 * or in UTF-8 as Dovecot 2.3.19 names mailboxes in NOTIFY events ("* STATUS
 * {5} Café (...)", "* STATUS R&D (...)"): tried when the name is no valid
 * modified UTF-7 or decodes to no watched name. NULL for the others (a
 * "personal" filter reports every mailbox). */
static struct mbox *status_mbox(struct mb_imap_session *s, const struct mb_imap_value *v)
{
	if (memchr(v->str, '\0', v->len))
		return NULL;
	char *name = mb_imap_utf7_decode(v->str);
	struct mbox *m = name ? find_mbox(s, name) : NULL;
	g_free(name);
	if (!m && g_utf8_validate(v->str, (gssize)v->len, NULL))
		m = find_mbox(s, v->str);
	return m;
}

static void parse_status(const struct mb_imap_value *att, struct mbox_status *st)
{
	static const struct {
		const char *name;
		unsigned bit;
		size_t offset;       /* of a uint32_t in struct mbox_status */
		bool zero_ok;        /* counts may be 0, UIDs not */
	} items[] = {
		{ "MESSAGES", ST_MESSAGES, offsetof(struct mbox_status, messages), true },
		{ "UIDNEXT", ST_UIDNEXT, offsetof(struct mbox_status, uidnext), false },
		{ "UIDVALIDITY", ST_UIDVALIDITY, offsetof(struct mbox_status, uidvalidity), false },
		{ "UNSEEN", ST_UNSEEN, offsetof(struct mbox_status, unseen), true },
	};
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i + 1 < att->n_items; i += 2) {
		const struct mb_imap_value *k = &att->items[i], *v = &att->items[i + 1];
		if (k->type != MB_IMAP_ATOM || v->type != MB_IMAP_ATOM)
			continue;
		if (g_ascii_strcasecmp(k->str, "HIGHESTMODSEQ") == 0) {
			if (mb_imap_parse_u64(v->str, &st->modseq))
				st->have |= ST_MODSEQ;
			continue;
		}
		for (size_t j = 0; j < G_N_ELEMENTS(items); j++) {
			uint32_t *field = (uint32_t *)((char *)st + items[j].offset);
			if (g_ascii_strcasecmp(k->str, items[j].name) == 0
			    && mb_imap_parse_u32(v->str, items[j].zero_ok, field))
				st->have |= items[j].bit;
		}
	}
}

/* What changed since the last STATUS of the mailbox (a NOTIFY event may
 * carry only some items; each is compared with its own last value), as
 * enum mb_imap_change: EXPUNGE when MESSAGES is lower than the last count
 * plus the UIDs handed out since (mail that came and went counts too),
 * FLAGS when UNSEEN or HIGHESTMODSEQ moved without new mail. A first value
 * only sets the baseline; a new UIDVALIDITY starts a new one. Then old takes
 * the new values. */
static unsigned mbox_changes(struct mbox_status *old, const struct mbox_status *now)
{
	unsigned both = old->have & now->have;
	if ((both & ST_UIDVALIDITY) && old->uidvalidity != now->uidvalidity) {
		*old = *now;
		return 0;
	}
	uint64_t new_uids = 0;
	if ((both & ST_UIDNEXT) && now->uidnext > old->uidnext)
		new_uids = now->uidnext - old->uidnext;
	bool new_mail = new_uids > 0 || ((both & ST_MESSAGES) && now->messages > old->messages);
	unsigned changes = 0;
	if ((both & ST_MESSAGES) && now->messages < old->messages + new_uids)
		changes = MB_IMAP_CHANGE_EXPUNGE;
	else if (!new_mail && (((both & ST_UNSEEN) && now->unseen != old->unseen)
	    || ((both & ST_MODSEQ) && now->modseq != old->modseq)))
		changes = MB_IMAP_CHANGE_FLAGS;
	if (now->have & ST_MESSAGES)
		old->messages = now->messages;
	if (now->have & ST_UIDNEXT)
		old->uidnext = now->uidnext;
	if (now->have & ST_UIDVALIDITY)
		old->uidvalidity = now->uidvalidity;
	if (now->have & ST_UNSEEN)
		old->unseen = now->unseen;
	if (now->have & ST_MODSEQ)
		old->modseq = now->modseq;
	old->have |= now->have;
	return changes;
}

/* Whether a STATUS may mean new mail (or a new UIDVALIDITY) in m: worth
 * an EXAMINE and UID FETCH. Call before mbox_changes() moves the baseline. */
static bool status_has_news(const struct mbox *m, const struct mbox_status *st)
{
	if (st->have & (ST_UIDNEXT | ST_UIDVALIDITY))
		return ((st->have & ST_UIDVALIDITY) && st->uidvalidity != m->known_uidvalidity)
			|| ((st->have & ST_UIDNEXT) && st->uidnext && st->uidnext - 1 > m->last_uid);
	if (st->have & ST_MESSAGES)
		return !(m->seen.have & ST_MESSAGES) || st->messages > m->seen.messages;
	/* flags only (NOTIFY FlagChange), else a bare event: look anyway */
	return !(st->have & (ST_UNSEEN | ST_MODSEQ));
}

/* "* STATUS "Lists/rust" (UIDNEXT 7 UIDVALIDITY 3)": an answer to our STATUS
 * poll, or a NOTIFY event (RFC 5465 5.2). */
static void handle_status(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	const struct mb_imap_value *d = r->data;
	if (d->n_items < 2 || d->items[d->n_items - 1].type != MB_IMAP_LIST
	    || (d->items[0].type != MB_IMAP_ATOM && d->items[0].type != MB_IMAP_STRING)) {
		close_session(s, MB_IMAP_CLOSE_ERROR, "malformed STATUS response");
		return;
	}
	struct mbox *m = status_mbox(s, &d->items[0]);
	if (!m)
		return;
	struct mbox_status st;
	parse_status(&d->items[d->n_items - 1], &st);
	bool news = status_has_news(m, &st);
	unsigned changes = mbox_changes(&m->seen, &st);
	if (m == s->cur)
		changes = 0; /* EXPUNGE and FETCH tell, see selected_changed() */
	if ((st.have & ST_UNSEEN) && s->ev.unseen) {
		/* free with the STATUS we ask or NOTIFY sends anyway: for status */
		session_ref(s);
		s->ev.unseen(s, m->name, st.unseen, s->data);
		bool gone = s->state == S_CLOSED || s->destroyed;
		session_unref(s);
		if (gone)
			return;
	}
	if (!emit_changed(s, m->name, changes))
		return;
	if (!news || m == s->cur)
		return;
	if (s->status_verify && s->state == S_STATUS && m == s->status_asked && !m->dirty
	    && (st.have & ST_UIDNEXT) && st.uidnext - 1 > m->last_uid && !s->notify_failed) {
		/* Our own STATUS found mail that no NOTIFY event announced
		 * (shared/cases/servers.md S3): trust the server's NOTIFY no
		 * more on this session. (An event for mail that came a moment
		 * before the check may come after its answer: then it is
		 * polling for nothing, never a loss.) */
		s->notify_failed = true;
		g_warning("%s: the server's NOTIFY did not report new mail in %s; checking it with "
			"STATUS every %us", s->name, m->name, MIN(s->poll_interval, s->keepalive));
	}
	m->dirty = true;
	m->news = true;
	kick(s);
}

/* New mail in the selected mailbox: where it showed up says whether the
 * server's IDLE delivers. Pushed during IDLE: it does (and when, since the
 * IDLE began, may show a timer: servers.md S5, S7). Only after DONE, at a
 * renewal or another command: it held the mail back (S10). */
static void idle_evidence(struct mb_imap_session *s)
{
	if (s->state == S_IDLING) {
		s->idle_pushed = true;
		if (s->period_told || s->n_push_delays >= PUSH_DELAYS_MAX)
			return;
		s->push_delays[s->n_push_delays++] =
			(double)(g_get_monotonic_time() - s->idle_since) / G_USEC_PER_SEC;
		unsigned period = mb_idle_period(s->push_delays, s->n_push_delays);
		if (period) {
			s->period_told = true;
			g_message("%s: new mail arrives only every %us during IDLE; the server may check "
				"mailboxes on a timer (Cyrus without idled, Courier with "
				"IMAP_ENHANCEDIDLE=0)", s->name, period);
		}
	} else if (s->left_idle && (s->state == S_IDLE_DONE || s->state == S_NOOP
			|| s->state == S_STATUS)) {
		s->left_idle = false; /* one count per renewal */
		s->late_renewals++;
		g_debug("%s: new mail seen only after IDLE ended (%u)", s->name, s->late_renewals);
	}
}

static void handle_untagged(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	if (r->status != MB_IMAP_STATUS_NONE) {
		if (r->status == MB_IMAP_STATUS_BYE) {
			if (s->state == S_LOGOUT)
				return;
			char *text = mb_text_sanitize(r->text, strlen(r->text));
			if (s->state == S_GREETING)
				close_session(s, MB_IMAP_CLOSE_ERROR, "server refused the connection: %s", text);
			else
				close_session(s, MB_IMAP_CLOSE_ERROR, "server closed the session: %s", text);
			g_free(text);
			return;
		}
		if (s->state == S_GREETING) {
			/* Only the greeting may carry OK/PREAUTH without a tag. */
			handle_code(s, r);
			if (r->status == MB_IMAP_STATUS_PREAUTH) {
				if (s->account->tls == MB_TLS_STARTTLS && !mb_net_is_tls(s->net)) {
					close_session(s, MB_IMAP_CLOSE_REFUSED,
						"PREAUTH greeting on a STARTTLS account: refusing the unencrypted session");
					return;
				}
				s->authenticated = true;
				if (s->caps->len > 0)
					after_auth(s);
				else
					send_capability(s, S_POSTAUTH_CAPABILITY);
			} else if (r->status == MB_IMAP_STATUS_OK) {
				after_greeting_ok(s);
			} else {
				close_session(s, MB_IMAP_CLOSE_ERROR, "bad greeting");
			}
			return;
		}
		handle_code(s, r);
		if ((r->status == MB_IMAP_STATUS_NO || r->status == MB_IMAP_STATUS_BAD)
		    && !r->code && s->state == S_IDLING) {
			/* A bare warning in the middle of IDLE may mean the session
			 * is broken (Dovecot: "* NO Internal error" when the mailbox
			 * was deleted under us, the BYE only at the next command):
			 * renew now, not at the next keepalive, lest mail in a
			 * recreated mailbox fall under the new baseline. Warnings
			 * with a code (R15: WEBALERT, ALERT) are information. */
			s->renew = true;
			kick(s);
		}
		return;
	}
	if (s->state == S_GREETING) {
		close_session(s, MB_IMAP_CLOSE_ERROR, "malformed greeting");
		return;
	}
	const char *name = r->name;
	if (strcmp(name, "CAPABILITY") == 0) {
		if (caps_trusted(s))
			set_caps_from_list(s, r->data);
	} else if (strcmp(name, "EXISTS") == 0) {
		bool grew = r->number > s->exists;
		s->exists = r->number;
		if (s->state == S_EXAMINE)
			return;
		/* A pushed FETCH may come before its EXISTS (RFC 5465 erratum
		 * 4833), never after the next one: one numbered past this
		 * EXISTS belongs to no message. */
		for (guint i = 0; i < s->pushed->len;) {
			const struct pushed *p = s->pushed->pdata[i];
			if (p->seq > s->exists) {
				g_debug("%s: %s: dropping a pushed uid %u at %u past EXISTS %u", s->name,
					s->cur ? s->cur->name : "?", p->f->uid, p->seq, s->exists);
				g_ptr_array_remove_index(s->pushed, i);
			} else {
				i++;
			}
		}
		if (grew)
			idle_evidence(s);
		s->need_fetch = true;
		kick(s);
	} else if (strcmp(name, "LIST") == 0 && s->state == S_LIST) {
		handle_list(s, r);
	} else if (strcmp(name, "STATUS") == 0) {
		handle_status(s, r);
	} else if (strcmp(name, "EXPUNGE") == 0) {
		if (s->exists > 0)
			s->exists--;
		expunged(s, r->number);
		if (s->state != S_CLOSED && !s->destroyed)
			selected_changed(s, MB_IMAP_CHANGE_EXPUNGE);
	} else if (strcmp(name, "FETCH") == 0) {
		handle_fetch(s, r);
	}
}

static void handle_continuation(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	if (s->state == S_LOGOUT)
		return; /* the "+" of an IDLE that DONE and LOGOUT already ended */
	struct cmd *c = g_queue_peek_tail(&s->cmds);
	if (!c) {
		close_session(s, MB_IMAP_CLOSE_ERROR, "unexpected continuation request");
		return;
	}
	if (c->kind == CMD_IDLE) {
		if (s->state == S_IDLE_START)
			idle_started(s);
		return;
	}
	if (mb_imap_auth_continuation(s, c, r))
		return;
	close_session(s, MB_IMAP_CLOSE_ERROR, "unexpected continuation request");
}

static void handle_tagged(struct mb_imap_session *s, const struct mb_imap_response *r)
{
	struct cmd *c = NULL;
	for (GList *l = s->cmds.head; l; l = l->next) {
		struct cmd *x = l->data;
		if (strcmp(x->tag, r->tag) == 0) {
			c = x;
			g_queue_delete_link(&s->cmds, l);
			break;
		}
	}
	if (!c) {
		g_debug("%s: ignoring response with unknown tag %s", s->name, r->tag);
		return;
	}
	if (g_queue_is_empty(&s->cmds))
		mb_timer_disarm(s->deadline);
	enum cmd_kind kind = c->kind;
	cmd_free(c);
	if (s->state == S_LOGOUT && kind != CMD_LOGOUT)
		return; /* whatever was under way no longer matters */
	handle_code(s, r);
	bool ok = r->status == MB_IMAP_STATUS_OK;
	char *text = mb_text_sanitize(r->text, strlen(r->text));

	switch (kind) {
	case CMD_CAPABILITY:
		if (!ok)
			close_session(s, MB_IMAP_CLOSE_ERROR, "CAPABILITY failed: %s", text);
		else if (s->state == S_POSTAUTH_CAPABILITY)
			after_auth(s);
		else
			mb_imap_auth_start(s);
		break;
	case CMD_STARTTLS:
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_REFUSED, "server refused STARTTLS: %s", text);
		} else if (mb_imap_parser_pending(s->parser) > 0) {
			/* Bytes after the OK were sent in plaintext and would be
			 * read as if they came over TLS (CVE-2011-0411 class). */
			close_session(s, MB_IMAP_CLOSE_REFUSED,
				"server sent data after the STARTTLS response: possible injection attack");
		} else {
			g_ptr_array_set_size(s->caps, 0);
			set_state(s, S_TLS_HANDSHAKE);
			mb_net_start_tls(s->net);
		}
		break;
	case CMD_AUTHENTICATE:
	case CMD_LOGIN:
		mb_imap_auth_done(s, r, text);
		break;
	case CMD_ID:     /* pipelined (after_auth()); failing is harmless */
	case CMD_ENABLE: /* pipelined (after_id()); without it no mod-sequence */
		break;
	case CMD_LIST:
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_ERROR, "LIST failed: %s", text);
		} else if (s->task_check) {
			g_ptr_array_add(s->listed, NULL);
			g_ptr_array_add(s->caps, NULL);
			struct mb_imap_check_result res = {
				.caps = (const char *const *)s->caps->pdata,
				.names = (const char *const *)s->listed->pdata,
				.delimiter = s->delimiter,
				.mechanism = mb_imap_auth_mech_name(s),
			};
			session_ref(s);
			s->ev.checked(s, &res, s->data);
			g_ptr_array_set_size(s->caps, s->caps->len - 1);
			if (s->state != S_CLOSED && !s->destroyed)
				mb_imap_session_logout(s);
			session_unref(s);
		} else {
			list_next(s);
		}
		break;
	case CMD_EXAMINE:
		if (s->task_store) {
			if (!ok) {
				close_session(s, MB_IMAP_CLOSE_REFUSED, "cannot open mailbox %s: %s",
					s->examining->name, text);
			} else if (s->task_uidvalidity && s->uidvalidity != s->task_uidvalidity) {
				close_session(s, MB_IMAP_CLOSE_REFUSED, "%s has a new UIDVALIDITY (%u, was %u): "
					"nothing marked", s->examining->name, s->uidvalidity, s->task_uidvalidity);
			} else {
				s->cur = s->examining;
				set_state(s, S_FETCH);
				GString *cmd = g_string_new("UID STORE ");
				append_uid_set(cmd, s->task_store);
				g_string_append(cmd, " +FLAGS.SILENT (\\Seen)");
				send_command(s, CMD_TASK_STORE, cmd->str);
				g_string_free(cmd, TRUE);
			}
			break;
		}
		if (s->task_uid) {
			if (!ok) {
				close_session(s, MB_IMAP_CLOSE_REFUSED, "cannot open mailbox %s: %s",
					s->examining->name, text);
			} else {
				s->cur = s->examining;
				set_state(s, S_FETCH);
				char *cmd = g_strdup_printf("UID FETCH %u (UID RFC822.SIZE BODY.PEEK[])",
					s->task_uid);
				send_command(s, CMD_TASK_FETCH, cmd);
				g_free(cmd);
			}
			break;
		}
		if (!ok) {
			/* One missing mailbox must not silence the others: the
			 * account looks for it again on a schedule of its own. */
			char *name = g_strdup(s->examining->name);
			g_ptr_array_remove(s->mboxes, s->examining);
			s->examining = NULL;
			bool gone = false;
			if (s->ev.missing) {
				session_ref(s);
				s->ev.missing(s, name, text, s->data);
				gone = s->state == S_CLOSED || s->destroyed;
				session_unref(s);
			} else {
				g_warning("%s: cannot open mailbox %s: %s", s->name, name, text);
			}
			if (!gone && s->mboxes->len == 0) {
				close_session(s, MB_IMAP_CLOSE_REFUSED, "cannot open mailbox %s: %s", name, text);
			} else if (!gone && s->fetch_ahead) {
				/* its UID FETCH fails too: wait for that */
				s->fetch_ahead = false;
				s->fetch_void = true;
				set_state(s, S_FETCH);
			} else if (!gone) {
				go_idle(s);
			}
			g_free(name);
		} else if (s->fetch_ahead) {
			s->cur = s->examining;
			s->fetch_ahead = false;
			s->need_fetch = false;
			s->left_idle = false;
			s->fetch_void = s->uidvalidity != s->cur->known_uidvalidity;
			set_state(s, S_FETCH); /* the UID FETCH is under way */
		} else {
			s->cur = s->examining;
			examine_done(s);
		}
		break;
	case CMD_STATUS:
		if (!ok)
			g_warning("%s: STATUS failed: %s", s->name, text);
		send_status_next(s);
		break;
	case CMD_NOTIFY:
		if (ok) {
			s->notify_set = true;
		} else if (s->notify_fetch) {
			/* RFC 5465 5.2 lets MessageNew carry fetch attributes;
			 * a server that will not is asked for the plain events
			 * (when other mailboxes need them), and new mail is
			 * fetched after each EXISTS */
			s->notify_fetch = false;
			s->notify_fetch_refused = true;
			g_info("%s: NOTIFY refused the fetch attributes of new messages (%s)", s->name, text);
		} else {
			s->use_notify = s->notify_others = false;
			g_message("%s: NOTIFY refused (%s): checking other mailboxes every %us",
				s->name, text, s->poll_interval);
		}
		go_idle(s);
		break;
	case CMD_BASELINE:
		baseline_done(s, s->baseline_uid);
		break;
	case CMD_FETCH:
		if (s->fetch_void) {
			/* sent ahead of an EXAMINE that failed or found a new
			 * UIDVALIDITY: what it returned means nothing */
			s->fetch_void = false;
			g_ptr_array_set_size(s->fetched, 0);
			if (s->cur)
				examine_done(s);
			else
				go_idle(s);
			break;
		}
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_ERROR, "UID FETCH failed: %s", text);
			break;
		}
		/* Every message up to the highest sequence number returned is
		 * known now: UIDs ascend with sequence numbers, and "n:*"
		 * covers all that existed (R11: at least the last one). */
		if (s->fetch_max_seq > s->known)
			s->known = s->fetch_max_seq;
		s->push_distrust = false;
		g_ptr_array_sort(s->fetched, compare_uid);
		if (!send_body_fetches(s))
			finish_fetch(s);
		break;
	case CMD_FETCH_BODY:
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_ERROR, "UID FETCH of message bodies failed: %s", text);
			break;
		}
		if (--s->body_cmds == 0)
			finish_fetch(s);
		break;
	case CMD_TASK_STORE:
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_REFUSED, "UID STORE failed: %s", text);
			break;
		}
		session_ref(s);
		s->ev.stored(s, s->data);
		if (s->state != S_CLOSED && !s->destroyed)
			mb_imap_session_logout(s);
		session_unref(s);
		break;
	case CMD_TASK_FETCH:
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_REFUSED, "UID FETCH %u failed: %s", s->task_uid, text);
			break;
		}
		session_ref(s);
		s->ev.fetched(s, s->task_result, s->data);
		if (s->state != S_CLOSED && !s->destroyed)
			mb_imap_session_logout(s);
		session_unref(s);
		break;
	case CMD_IDLE:
		if (s->state == S_IDLE_START && !ok) {
			/* R7: IDLE refused; poll for a while, then try again. */
			s->idle_refused = true;
			s->idle_retry_at = g_get_monotonic_time() + (gint64)s->keepalive * G_USEC_PER_SEC;
			/* Said once per session: refused again at a retry
			 * (every keepalive) is for the verbose log only. */
			if (s->polling_told)
				g_info("%s: server refused IDLE again (%s)", s->name, text);
			else
				g_message("%s: server refused IDLE (%s): polling every %us", s->name,
					text, s->poll_interval);
			s->polling_told = true;
			go_idle(s);
		} else if (s->state == S_IDLING || s->state == S_IDLE_START || s->state == S_IDLE_DONE) {
			/* the server ended IDLE by itself (or nothing followed
			 * our DONE): decide again */
			mb_timer_disarm(s->timer);
			set_state(s, S_IDLE_DONE);
			go_idle(s);
		}
		/* else DONE went out with the next command, which is under way */
		break;
	case CMD_NOOP:
		if (!ok) {
			close_session(s, MB_IMAP_CLOSE_ERROR, "NOOP failed: %s", text);
			break;
		}
		s->probing = false;
		go_idle(s);
		break;
	case CMD_LOGOUT:
		close_session(s, MB_IMAP_CLOSE_LOGOUT, "logged out");
		break;
	}
	g_free(text);
}

static void handle_response(struct mb_imap_session *s, struct mb_imap_response *r)
{
	switch (r->kind) {
	case MB_IMAP_CONTINUATION:
		handle_continuation(s, r);
		break;
	case MB_IMAP_UNTAGGED:
		handle_untagged(s, r);
		break;
	case MB_IMAP_TAGGED:
		if (s->state == S_GREETING)
			close_session(s, MB_IMAP_CLOSE_ERROR, "tagged response before the greeting");
		else
			handle_tagged(s, r);
		break;
	}
}

/* --- network callbacks -------------------------------------------------- */

static void trace_input(struct mb_imap_session *s, const char *buf, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			size_t end = i;
			if (end > start && buf[end - 1] == '\r')
				end--;
			mb_log_trace(s->name, "S", buf + start, end - start);
			start = i + 1;
		}
	}
	if (start < len)
		mb_log_trace(s->name, "S", buf + start, len - start);
}

static void on_input(struct mb_net *net, const char *buf, size_t len, void *data)
{
	struct mb_imap_session *s = data;
	if (s->state == S_CLOSED || s->state == S_TLS_HANDSHAKE)
		return;
	if (mb_log_tracing())
		trace_input(s, buf, len);
	session_ref(s);
	if (!mb_imap_parser_feed(s->parser, buf, len)) {
		struct mb_imap_response *r = NULL;
		const char *err = NULL;
		mb_imap_parser_next(s->parser, &r, &err); /* says which bound */
		if (s->task_uid && s->state == S_FETCH)
			close_session(s, MB_IMAP_CLOSE_ERROR, "the message is larger than mailbell "
				"fetch can hold (%u MiB): %s", MB_IMAP_MAX_LITERAL / (1024 * 1024),
				err ? err : "over the size limits");
		else
			close_session(s, MB_IMAP_CLOSE_ERROR, "malformed response: %s",
				err ? err : "over the size limits");
		goto out;
	}
	while (s->state != S_CLOSED && s->state != S_TLS_HANDSHAKE && !s->destroyed) {
		struct mb_imap_response *r = NULL;
		const char *err = NULL;
		enum mb_imap_parse_result res = mb_imap_parser_next(s->parser, &r, &err);
		if (res == MB_IMAP_PARSE_NEED_MORE)
			break;
		if (res == MB_IMAP_PARSE_ERROR) {
			close_session(s, MB_IMAP_CLOSE_ERROR, "malformed response: %s",
				err ? err : "parse error");
			break;
		}
		handle_response(s, r);
		mb_imap_response_free(r);
	}
	/* A long catch-up or a big body over a slow link is progress, not a
	 * hang: every chunk that arrives buys another deadline. A server that
	 * stops sending still runs out. */
	if ((s->state == S_FETCH || s->state == S_FETCH_BODY) && mb_timer_armed(s->deadline)
	    && !s->destroyed)
		arm_deadline(s, s->timeout);
	if ((s->state == S_IDLING || s->state == S_POLL_WAIT) && !s->destroyed) {
		/* No command runs here, so no deadline either: a response the
		 * server starts and never finishes (a line or literal that never
		 * ends) would hold the connection until the next keepalive. Give
		 * it the command timeout, counted from its first byte. */
		if (mb_imap_parser_pending(s->parser) == 0)
			mb_timer_disarm(s->deadline);
		else if (!mb_timer_armed(s->deadline))
			arm_deadline(s, s->timeout);
	}
out:
	session_unref(s);
}

static void on_ready(struct mb_net *net, void *data)
{
	struct mb_imap_session *s = data;
	if (s->state == S_CONNECTING) {
		set_state(s, S_GREETING);
		arm_deadline(s, s->timeout);
	} else if (s->state == S_TLS_HANDSHAKE) {
		/* Fresh capabilities over TLS (RFC 3501 6.2.1). */
		send_capability(s, S_CAPABILITY);
	}
}

static void on_failed(struct mb_net *net, const GError *error, void *data)
{
	struct mb_imap_session *s = data;
	if (s->state == S_LOGOUT) {
		close_session(s, MB_IMAP_CLOSE_LOGOUT, "logged out");
		return;
	}
	bool cert = strstr(error->message, "certificate") != NULL;
	close_session(s, cert ? MB_IMAP_CLOSE_REFUSED : MB_IMAP_CLOSE_ERROR, "%s", error->message);
}

/* --- public ------------------------------------------------------------- */

struct mb_imap_session *mb_imap_session_create(const struct mb_imap_session_params *p,
	const struct mb_imap_events *events, void *data)
{
	struct mb_imap_session *s = g_new0(struct mb_imap_session, 1);
	s->refs = 1;
	s->name = g_strdup(p->name);
	s->account = p->account;
	s->patterns = g_strdupv((char **)p->mailboxes);
	s->listed = g_ptr_array_new_with_free_func(g_free);
	s->mboxes = g_ptr_array_new_with_free_func((GDestroyNotify)mbox_free);
	s->secret = g_strdup(p->secret ? p->secret : "");
	s->timeout = p->timeout ? p->timeout : 30;
	s->keepalive = p->keepalive ? p->keepalive : 600;
	s->poll_interval = p->poll_interval ? p->poll_interval : 120;
	s->ev = *events;
	s->data = data;
	s->caps = g_ptr_array_new_with_free_func(g_free);
	s->fetched = g_ptr_array_new_with_free_func((GDestroyNotify)mb_imap_fetch_free);
	s->want_header = p->want_header;
	s->want_preview = p->want_preview;
	s->idle_silent = p->idle_silent;
	s->task_check = p->task_check;
	s->tracked = g_array_new(FALSE, FALSE, sizeof(struct tracked));
	s->pushed = g_ptr_array_new_with_free_func((GDestroyNotify)pushed_free);
	s->deadline = mb_timer_new(on_deadline, s);
	s->timer = mb_timer_new(on_timer, s);
	if (p->task_store_n > 0) {
		s->task_store = g_array_new(FALSE, FALSE, sizeof(uint32_t));
		g_array_append_vals(s->task_store, p->task_store_uids, (guint)p->task_store_n);
		s->task_uidvalidity = p->task_uidvalidity;
		if (!s->task_mailbox)
			s->task_mailbox = g_strdup(p->task_mailbox ? p->task_mailbox : "INBOX");
	}
	if (p->task_uid) {
		s->task_uid = p->task_uid;
		s->task_mailbox = g_strdup(p->task_mailbox ? p->task_mailbox : "INBOX");
	}
	g_queue_init(&s->cmds);
	s->parser = mb_imap_parser_create(0);
	s->state = S_CONNECTING;
	mb_log_trace_reset(s->name);

	struct mb_net_params np = {
		.host = p->account->host,
		.port = p->account->port,
		.implicit_tls = p->account->tls == MB_TLS_IMPLICIT,
		.ca_file = p->account->ca_file,
		.fingerprint = p->account->tls_fingerprint,
		.timeout = s->timeout,
	};
	static const struct mb_net_callbacks cb = {
		.ready = on_ready,
		.input = on_input,
		.failed = on_failed,
	};
	s->net = mb_net_connect(&np, &cb, s);
	return s;
}

void mb_imap_session_logout(struct mb_imap_session *s)
{
	if (s->state == S_CLOSED || s->state == S_LOGOUT)
		return;
	if (!s->authenticated || s->state == S_CONNECTING) {
		close_session(s, MB_IMAP_CLOSE_LOGOUT, "closed before sign-in");
		return;
	}
	mb_timer_disarm(s->timer);
	if (s->state == S_IDLING || s->state == S_IDLE_START)
		send_raw(s, "DONE\r\n", 6, false);
	set_state(s, S_LOGOUT);
	send_command(s, CMD_LOGOUT, "LOGOUT");
}

void mb_imap_session_probe(struct mb_imap_session *s)
{
	if (resting(s)) {
		s->probing = true;
		go_idle(s); /* DONE and NOOP in one write */
	}
}

bool mb_imap_session_is_polling(const struct mb_imap_session *s)
{
	return s->state == S_POLL_WAIT || (s->state == S_NOOP && !has_cap(s, "IDLE"))
		|| s->idle_refused || s->idle_silent;
}

enum mb_imap_polling mb_imap_session_polling(const struct mb_imap_session *s)
{
	if (!mb_imap_session_is_polling(s))
		return MB_IMAP_POLLING_NONE;
	if (s->idle_silent && has_cap(s, "IDLE"))
		return MB_IMAP_POLLING_IDLE_SILENT;
	if (s->idle_refused)
		return MB_IMAP_POLLING_IDLE_REFUSED;
	return MB_IMAP_POLLING_NO_IDLE;
}

void mb_imap_session_update(struct mb_imap_session *s, const struct mb_account_config *account,
	bool want_header, bool want_preview)
{
	s->account = account;
	if (s->notify_fetch && (want_header != s->want_header || want_preview != s->want_preview)) {
		/* NOTIFY's MessageNew attributes follow the UID FETCH's */
		s->notify_set = false;
		kick(s);
	}
	s->want_header = want_header;
	s->want_preview = want_preview;
}

void mb_imap_session_destroy(struct mb_imap_session *s)
{
	if (!s)
		return;
	s->destroyed = true;
	teardown(s);
	session_unref(s);
}
