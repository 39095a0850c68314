#define G_LOG_DOMAIN "mailbell"

#include "notify-text.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Copies of whole messages kept per group, for open_cmd: a flood of
 * thousands in one group keeps only their lines. */
#define KEEP_COPIES 16

struct mb_message *mb_notify_message_copy(const struct mb_message *msg)
{
	/* field by field, not *c = *msg: a pointer added to the struct later
	 * must not end up shared (and freed twice) */
	struct mb_message *c = g_new0(struct mb_message, 1);
	c->uid = msg->uid;
	c->uidvalidity = msg->uidvalidity;
	c->size = msg->size;
	c->seen = msg->seen;
	c->duplicate = msg->duplicate;
	c->n_to = msg->n_to;
	c->account = g_strdup(msg->account);
	c->mailbox = g_strdup(msg->mailbox);
	c->from_name = g_strdup(msg->from_name);
	c->from_address = g_strdup(msg->from_address);
	c->from = g_strdup(msg->from);
	c->to = g_new0(struct mb_address, msg->n_to ? msg->n_to : 1);
	for (size_t i = 0; i < msg->n_to; i++) {
		c->to[i].name = g_strdup(msg->to[i].name);
		c->to[i].address = g_strdup(msg->to[i].address);
	}
	c->to_text = g_strdup(msg->to_text);
	c->subject = g_strdup(msg->subject);
	c->date = g_strdup(msg->date);
	c->message_id = g_strdup(msg->message_id);
	c->list_id = g_strdup(msg->list_id);
	c->preview = g_strdup(msg->preview);
	c->raw = msg->raw ? g_bytes_ref(msg->raw) : NULL;
	c->header = msg->header ? g_bytes_ref(msg->header) : g_bytes_new(NULL, 0);
	return c;
}

/* --- groups -------------------------------------------------------------- */

struct entry {
	uint32_t uid;
	uint32_t uidvalidity;
	enum mb_urgency urgency;
	char *sender;             /* cut to MB_NOTIFY_LINE_MAX */
	char *subject;            /* the same */
	char *rule;               /* or NULL */
	struct mb_message *msg;   /* the whole message, or NULL when no longer
	                           * kept */
};

struct mb_notify_group {
	char *account;
	char *mailbox;
	GPtrArray *entries;       /* struct entry *, oldest first */
};

static void entry_free(gpointer data)
{
	struct entry *e = data;
	g_free(e->sender);
	g_free(e->subject);
	g_free(e->rule);
	mb_message_destroy(e->msg);
	g_free(e);
}

static const char *sender(const struct mb_message *msg)
{
	return *msg->from_name ? msg->from_name : *msg->from_address ? msg->from_address : msg->from;
}

struct mb_notify_group *mb_notify_group_create(const char *account, const char *mailbox)
{
	struct mb_notify_group *g = g_new0(struct mb_notify_group, 1);
	g->account = g_strdup(account);
	g->mailbox = g_strdup(mailbox);
	g->entries = g_ptr_array_new_with_free_func(entry_free);
	return g;
}

void mb_notify_group_destroy(struct mb_notify_group *group)
{
	if (!group)
		return;
	g_free(group->account);
	g_free(group->mailbox);
	g_ptr_array_unref(group->entries);
	g_free(group);
}

/* Only the newest message keeps its raw message and header (the hook's
 * standard input, up to download_limit octets each); older ones keep their
 * fields, and past KEEP_COPIES only their line. */
static void trim(struct mb_notify_group *g)
{
	guint n = g->entries->len;
	for (guint i = 0; i + 1 < n; i++) {
		struct entry *e = g->entries->pdata[i];
		if (!e->msg)
			continue;
		if (i + KEEP_COPIES < n) {
			g_clear_pointer(&e->msg, mb_message_destroy);
			continue;
		}
		g_clear_pointer(&e->msg->raw, g_bytes_unref);
		if (g_bytes_get_size(e->msg->header) > 0) {
			g_bytes_unref(e->msg->header);
			e->msg->header = g_bytes_new(NULL, 0);
		}
	}
}

void mb_notify_group_take(struct mb_notify_group *group, struct mb_message *msg, enum mb_urgency urgency,
	const char *rule)
{
	struct entry *e = g_new0(struct entry, 1);
	e->uid = msg->uid;
	e->uidvalidity = msg->uidvalidity;
	e->urgency = urgency;
	e->sender = mb_text_ellipsize(sender(msg), MB_NOTIFY_LINE_MAX);
	e->subject = mb_text_ellipsize(msg->subject, MB_NOTIFY_LINE_MAX);
	e->rule = g_strdup(rule);
	e->msg = msg;
	g_ptr_array_add(group->entries, e);
	trim(group);
}

bool mb_notify_group_remove(struct mb_notify_group *group, uint32_t uidvalidity, uint32_t uid)
{
	for (guint i = 0; i < group->entries->len; i++) {
		const struct entry *e = group->entries->pdata[i];
		if (e->uid == uid && e->uidvalidity == uidvalidity) {
			g_ptr_array_remove_index(group->entries, i);
			return true;
		}
	}
	return false;
}

unsigned mb_notify_group_size(const struct mb_notify_group *group)
{
	return group->entries->len;
}

const char *mb_notify_group_account(const struct mb_notify_group *group)
{
	return group->account;
}

const char *mb_notify_group_mailbox(const struct mb_notify_group *group)
{
	return group->mailbox;
}

char *mb_notify_group_summary(const struct mb_notify_group *group)
{
	guint n = group->entries->len;
	if (n == 0)
		return g_strdup("");
	char *text;
	const struct entry *e = group->entries->pdata[0];
	if (n == 1 && e->msg)
		text = g_strdup(sender(e->msg));
	else if (n == 1)
		text = g_strdup(e->sender);
	else
		text = g_strdup_printf("%u new messages in %s/%s", n, group->account, group->mailbox);
	char *cut = mb_text_ellipsize(text, MB_NOTIFY_SUMMARY_MAX);
	g_free(text);
	return cut;
}

char *mb_notify_group_body(const struct mb_notify_group *group, unsigned max_lines)
{
	guint n = group->entries->len;
	GString *out = g_string_new(NULL);
	if (n == 1) {
		const struct entry *e = group->entries->pdata[0];
		if (e->msg) {
			/* the preview under the subject, on a line of its own */
			g_string_append(out, e->msg->subject);
			if (*e->msg->preview)
				g_string_append_printf(out, "\n%s", e->msg->preview);
		} else {
			g_string_append(out, e->subject);
		}
	} else if (n > 1) {
		if (max_lines == 0)
			max_lines = MB_NOTIFY_LINES_DEFAULT;
		guint shown = MIN(n, max_lines);
		for (guint i = 0; i < shown; i++) {
			const struct entry *e = group->entries->pdata[n - 1 - i];
			char *line = g_strdup_printf("%s: %s", e->sender, *e->subject ? e->subject : "(no subject)");
			char *cut = mb_text_ellipsize(line, MB_NOTIFY_LINE_MAX);
			g_string_append_printf(out, "%s%s", i ? "\n" : "", cut);
			g_free(cut);
			g_free(line);
		}
		if (n > shown)
			g_string_append_printf(out, "\n\u2026 and %u more", n - shown);
	}
	char *body = mb_text_ellipsize(out->str, MB_NOTIFY_BODY_MAX);
	g_string_free(out, TRUE);
	return body;
}

static int urgency_rank(enum mb_urgency u)
{
	switch (u) {
	case MB_URGENCY_LOW:
		return 0;
	case MB_URGENCY_CRITICAL:
		return 2;
	default:
		return 1;
	}
}

enum mb_urgency mb_notify_group_urgency(const struct mb_notify_group *group)
{
	enum mb_urgency best = MB_URGENCY_UNSET;
	for (guint i = 0; i < group->entries->len; i++) {
		const struct entry *e = group->entries->pdata[i];
		if (i == 0 || urgency_rank(e->urgency) > urgency_rank(best))
			best = e->urgency;
	}
	return best;
}

const struct mb_message *mb_notify_group_newest(const struct mb_notify_group *group, const char **rule_r)
{
	for (guint i = group->entries->len; i-- > 0;) {
		const struct entry *e = group->entries->pdata[i];
		if (e->msg) {
			if (rule_r)
				*rule_r = e->rule;
			return e->msg;
		}
	}
	if (rule_r)
		*rule_r = NULL;
	return NULL;
}

static int compare_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void mb_notify_group_foreach_uids(const struct mb_notify_group *group, mb_notify_uids_fn fn, void *data)
{
	guint n = group->entries->len;
	bool *done = g_new0(bool, n ? n : 1);
	uint32_t *uids = g_new(uint32_t, n ? n : 1);
	for (guint i = 0; i < n; i++) {
		if (done[i])
			continue;
		uint32_t uidvalidity = ((const struct entry *)group->entries->pdata[i])->uidvalidity;
		size_t k = 0;
		for (guint j = i; j < n; j++) {
			const struct entry *e = group->entries->pdata[j];
			if (!done[j] && e->uidvalidity == uidvalidity) {
				uids[k++] = e->uid;
				done[j] = true;
			}
		}
		qsort(uids, k, sizeof uids[0], compare_uid);
		fn(uidvalidity, uids, k, data);
	}
	g_free(uids);
	g_free(done);
}

/* --- Message-IDs seen ---------------------------------------------------- */

struct sighting {
	char *message_id;         /* the key in the table */
	char *account;
	char *mailbox;
	uint32_t uidvalidity;
	uint32_t uid;
	gint64 time;
	GList link;               /* in order, oldest first */
};

struct mb_notify_seen {
	size_t max;
	GHashTable *table;        /* message_id -> struct sighting * (owned) */
	GQueue order;             /* of the same, oldest first */
};

static void sighting_free(gpointer data)
{
	struct sighting *s = data;
	g_free(s->message_id);
	g_free(s->account);
	g_free(s->mailbox);
	g_free(s);
}

struct mb_notify_seen *mb_notify_seen_create(size_t max)
{
	struct mb_notify_seen *seen = g_new0(struct mb_notify_seen, 1);
	seen->max = MAX(max, 1);
	seen->table = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, sighting_free);
	g_queue_init(&seen->order);
	return seen;
}

void mb_notify_seen_destroy(struct mb_notify_seen *seen)
{
	if (!seen)
		return;
	g_hash_table_destroy(seen->table);
	g_free(seen);
}

static void drop_oldest(struct mb_notify_seen *seen)
{
	GList *l = g_queue_pop_head_link(&seen->order);
	struct sighting *s = l->data;
	g_hash_table_remove(seen->table, s->message_id);
}

enum mb_notify_dup mb_notify_seen_check(struct mb_notify_seen *seen, const char *message_id,
	const char *account, const char *mailbox, uint32_t uidvalidity, uint32_t uid, gint64 now,
	gint64 window)
{
	if (!message_id || !*message_id || window <= 0)
		return MB_NOTIFY_DUP_NO;
	/* insertion order is time order: what is too old is at the head */
	while (seen->order.head && now - ((struct sighting *)seen->order.head->data)->time > window)
		drop_oldest(seen);
	const struct sighting *s = g_hash_table_lookup(seen->table, message_id);
	if (s) {
		bool same_box = strcmp(s->account, account) == 0 && strcmp(s->mailbox, mailbox) == 0
			&& s->uidvalidity == uidvalidity;
		if (same_box && s->uid == uid)
			return MB_NOTIFY_DUP_NO;
		return same_box ? MB_NOTIFY_DUP_SAME_MAILBOX : MB_NOTIFY_DUP_ELSEWHERE;
	}
	while (g_hash_table_size(seen->table) >= seen->max)
		drop_oldest(seen);
	struct sighting *n = g_new0(struct sighting, 1);
	n->message_id = g_strdup(message_id);
	n->account = g_strdup(account);
	n->mailbox = g_strdup(mailbox);
	n->uidvalidity = uidvalidity;
	n->uid = uid;
	n->time = now;
	n->link.data = n;
	g_hash_table_insert(seen->table, n->message_id, n);
	g_queue_push_tail_link(&seen->order, &n->link);
	return MB_NOTIFY_DUP_NO;
}

size_t mb_notify_seen_size(const struct mb_notify_seen *seen)
{
	return g_hash_table_size(seen->table);
}
