#define G_LOG_DOMAIN "mailbell"
/* syncfs(2): one flush for a batch of first baselines (Linux) */
#define _GNU_SOURCE

#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <gio/gio.h>

#include "imap-parser.h"

/* First baselines written within this long share one flush. Seconds. */
#define BASELINE_SYNC_DELAY 1

struct mb_state {
	char *dir;
	int lock_fd;
	GHashTable *files; /* account name -> GKeyFile */
	guint sync_id;     /* a flush of first baselines is due */
};

struct mb_state *mb_state_open(const char *dir, GError **error)
{
	char *path = dir ? g_strdup(dir) : g_build_filename(g_get_user_state_dir(), "mailbell", NULL);
	if (g_mkdir_with_parents(path, 0700) != 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			"cannot create state directory %s: %s", path, g_strerror(e));
		g_free(path);
		return NULL;
	}
	struct mb_state *state = g_new0(struct mb_state, 1);
	state->dir = path;
	state->lock_fd = -1;
	state->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
		(GDestroyNotify)g_key_file_unref);
	return state;
}

static int open_dir(const struct mb_state *state)
{
	return open(state->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void flush_dir(int fd, const char *dir)
{
	if (syncfs(fd) != 0)
		g_warning("cannot flush state directory %s: %s", dir, g_strerror(errno));
}

void mb_state_destroy(struct mb_state *state)
{
	if (!state)
		return;
	if (state->sync_id) {
		/* first baselines still unflushed: flush them now */
		g_clear_handle_id(&state->sync_id, g_source_remove);
		int fd = open_dir(state);
		if (fd >= 0) {
			flush_dir(fd, state->dir);
			close(fd);
		}
	}
	g_hash_table_unref(state->files);
	if (state->lock_fd >= 0)
		close(state->lock_fd);
	g_free(state->dir);
	g_free(state);
}

bool mb_state_lock(struct mb_state *state, GError **error)
{
	char *path = g_build_filename(state->dir, "lock", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			"cannot use state directory %s: %s", state->dir, g_strerror(e));
		g_free(path);
		return false;
	}
	g_free(path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			e == EWOULDBLOCK ? "another mailbell is running with state directory %s"
				: "cannot lock state directory %s: %s", state->dir, g_strerror(e));
		close(fd);
		return false;
	}
	/* Kept open (and locked) until exit; hooks don't inherit it. */
	state->lock_fd = fd;
	return true;
}

static char *file_path(const struct mb_state *state, const char *account)
{
	char *esc = g_uri_escape_string(account, NULL, FALSE);
	char *name = g_strconcat(esc, ".state", NULL);
	char *path = g_build_filename(state->dir, name, NULL);
	g_free(name);
	g_free(esc);
	return path;
}

static GKeyFile *load(struct mb_state *state, const char *account)
{
	GKeyFile *kf = g_hash_table_lookup(state->files, account);
	if (kf)
		return kf;
	kf = g_key_file_new();
	char *path = file_path(state, account);
	GError *error = NULL;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("%s: cannot read state file %s: %s; starting afresh (old mail is not reported)",
				account, path, error->message);
		g_error_free(error);
		g_key_file_free(kf);
		kf = g_key_file_new();
	}
	g_free(path);
	g_hash_table_insert(state->files, g_strdup(account), kf);
	return kf;
}

/* Mailbox names may hold '[', ']' and '=' which key files cannot: escape. */
static char *group_name(const char *mailbox)
{
	return g_uri_escape_string(mailbox, NULL, FALSE);
}

static bool read_u64(GKeyFile *kf, const char *group, const char *key, uint64_t *out)
{
	char *v = g_key_file_get_value(kf, group, key, NULL);
	if (!v)
		return false;
	bool ok = mb_imap_parse_u64(v, out);
	g_free(v);
	return ok;
}

bool mb_state_get(struct mb_state *state, const char *account, const char *mailbox,
	struct mb_mailbox_state *out)
{
	memset(out, 0, sizeof *out);
	GKeyFile *kf = load(state, account);
	char *group = group_name(mailbox);
	uint64_t uv = 0, last = 0, modseq = 0;
	bool ok = read_u64(kf, group, "uidvalidity", &uv) && read_u64(kf, group, "last_uid", &last);
	if (ok && (uv == 0 || uv > UINT32_MAX || last > UINT32_MAX)) {
		g_warning("%s: state for %s is corrupt; starting afresh (old mail is not reported)",
			account, mailbox);
		ok = false;
	}
	if (ok) {
		uint64_t hook = last, notified = last;
		read_u64(kf, group, "highestmodseq", &modseq);
		if (read_u64(kf, group, "hook_uid", &hook) && hook > last)
			hook = last;
		/* files from before notified_uid: every notification was sent */
		if (read_u64(kf, group, "notified_uid", &notified) && notified > last)
			notified = last;
		out->uidvalidity = (uint32_t)uv;
		out->last_uid = (uint32_t)last;
		out->hook_uid = (uint32_t)hook;
		out->notified_uid = (uint32_t)notified;
		out->highestmodseq = modseq;
	}
	g_free(group);
	return ok;
}

/* Writes path anew through a temporary file and rename(), without fsync:
 * a crash of mailbell (kill -9 included) leaves the old file or the new one,
 * as the kernel has the data once write() returned; only a power loss may
 * lose the change. GLib's CONSISTENT flag would fsync the file and its
 * directory each time: two disk flushes per hook started in a burst. The
 * temporary file's name is fixed: the lock keeps other mailbells out. */
static bool replace_file(const char *path, const char *data, size_t len, GError **error)
{
	char *tmp = g_strconcat(path, ".new", NULL);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int e = 0;
	if (fd < 0) {
		e = errno;
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : ENOSPC;
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (e)
		unlink(tmp);
out:
	if (e)
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot write %s: %s", tmp,
			g_strerror(e));
	g_free(tmp);
	return e == 0;
}

enum write_mode {
	WRITE_LAZY,     /* temporary file and rename */
	WRITE_DURABLE,  /* and fsync, through GLib */
};

static bool set(struct mb_state *state, const char *account, const char *mailbox,
	const struct mb_mailbox_state *value, enum write_mode mode, GError **error)
{
	GKeyFile *kf = load(state, account);
	char *group = group_name(mailbox);
	char buf[32];
	g_key_file_set_string(kf, group, "mailbox", mailbox);
	g_snprintf(buf, sizeof buf, "%u", value->uidvalidity);
	g_key_file_set_value(kf, group, "uidvalidity", buf);
	g_snprintf(buf, sizeof buf, "%u", value->last_uid);
	g_key_file_set_value(kf, group, "last_uid", buf);
	g_snprintf(buf, sizeof buf, "%u", value->hook_uid);
	g_key_file_set_value(kf, group, "hook_uid", buf);
	g_snprintf(buf, sizeof buf, "%u", value->notified_uid);
	g_key_file_set_value(kf, group, "notified_uid", buf);
	g_snprintf(buf, sizeof buf, "%" G_GUINT64_FORMAT, (guint64)value->highestmodseq);
	g_key_file_set_value(kf, group, "highestmodseq", buf);
	g_free(group);

	gsize len;
	char *data = g_key_file_to_data(kf, &len, NULL);
	char *path = file_path(state, account);
	bool ok = mode == WRITE_DURABLE ? g_file_set_contents_full(path, data, (gssize)len,
		G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, error)
		: replace_file(path, data, len, error);
	g_free(path);
	g_free(data);
	return ok;
}

bool mb_state_set(struct mb_state *state, const char *account, const char *mailbox,
	const struct mb_mailbox_state *value, bool durable, GError **error)
{
	return set(state, account, mailbox, value, durable ? WRITE_DURABLE : WRITE_LAZY, error);
}

/* syncfs() waits for the disk: on a worker thread, not the main loop. The
 * task owns the descriptor. */
static void sync_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
	int fd = GPOINTER_TO_INT(data);
	flush_dir(fd, "(first baselines)");
	close(fd);
	g_task_return_boolean(task, TRUE);
}

static gboolean on_sync(gpointer data)
{
	struct mb_state *state = data;
	state->sync_id = 0;
	int fd = open_dir(state);
	if (fd < 0) {
		g_warning("cannot flush state directory %s: %s", state->dir, g_strerror(errno));
		return G_SOURCE_REMOVE;
	}
	GTask *task = g_task_new(NULL, NULL, NULL, NULL);
	g_task_set_task_data(task, GINT_TO_POINTER(fd), NULL);
	g_task_run_in_thread(task, sync_thread);
	g_object_unref(task);
	return G_SOURCE_REMOVE;
}

/* A first baseline is written without fsync, and one syncfs() a second
 * later makes every baseline of the batch durable: 1000 accounts starting
 * for the first time cost one disk flush instead of 2000 fsyncs blocking
 * the loop. Nothing can be lost or repeated by it. A crash of mailbell
 * alone loses nothing (the kernel has the renamed file). A power loss
 * before the flush may lose the file, or leave it empty or unreadable:
 * then nothing is stored, and the next start takes a new baseline, exactly
 * as if this first start had not happened (what arrived before it counts
 * as old mail, as at any first start). Mail reported meanwhile was
 * written durably by mb_state_set(), and the file it rewrote holds the
 * baseline too. */
bool mb_state_set_baseline(struct mb_state *state, const char *account, const char *mailbox,
	const struct mb_mailbox_state *value, GError **error)
{
	if (!set(state, account, mailbox, value, WRITE_LAZY, error))
		return false;
	if (!state->sync_id)
		state->sync_id = g_timeout_add_seconds(BASELINE_SYNC_DELAY, on_sync, state);
	return true;
}

/* --- the notification pause (mailbell ctl pause) ---------------------------
 * A file of its own, "pause.ini": account files all end in ".state", so no
 * account name can collide with it. */

static char *pause_path(const struct mb_state *state)
{
	return g_build_filename(state->dir, "pause.ini", NULL);
}

bool mb_state_get_pause(struct mb_state *state, gint64 *until_r, GHashTable *held)
{
	char *path = pause_path(state);
	GKeyFile *kf = g_key_file_new();
	GError *error = NULL;
	bool paused = false;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("%s: %s: notifications are not paused", path, error->message);
		g_error_free(error);
		goto out;
	}
	gint64 until = g_key_file_get_int64(kf, "pause", "until", &error);
	if (error || until < 0) {
		g_warning("%s: bad or missing [pause] until: notifications are not paused", path);
		g_clear_error(&error);
		goto out;
	}
	paused = true;
	*until_r = until;
	char **keys = g_key_file_get_keys(kf, "held", NULL, NULL);
	for (char **k = keys; held && k && *k; k++) {
		gint64 n = g_key_file_get_int64(kf, "held", *k, NULL);
		if (n > 0 && n <= G_MAXUINT) {
			char *name = g_uri_unescape_string(*k, NULL);
			if (name)
				g_hash_table_insert(held, name, GUINT_TO_POINTER((guint)n));
		}
	}
	g_strfreev(keys);
out:
	g_key_file_unref(kf);
	g_free(path);
	return paused;
}

bool mb_state_set_pause(struct mb_state *state, bool paused, gint64 until, GHashTable *held,
	GError **error)
{
	char *path = pause_path(state);
	bool ok;
	if (!paused) {
		ok = unlink(path) == 0 || errno == ENOENT;
		if (!ok) {
			int e = errno;
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot remove %s: %s",
				path, g_strerror(e));
		}
		g_free(path);
		return ok;
	}
	GKeyFile *kf = g_key_file_new();
	g_key_file_set_int64(kf, "pause", "until", until);
	if (held) {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, held);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			/* account names may hold '=', '[' or spaces */
			char *key = g_uri_escape_string(k, NULL, FALSE);
			g_key_file_set_int64(kf, "held", key, GPOINTER_TO_UINT(v));
			g_free(key);
		}
	}
	gsize len;
	char *data = g_key_file_to_data(kf, &len, NULL);
	ok = g_file_set_contents_full(path, data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
		error);
	g_free(data);
	g_key_file_unref(kf);
	g_free(path);
	return ok;
}
