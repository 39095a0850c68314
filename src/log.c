#define G_LOG_DOMAIN "mailbell"

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

/* Literal bodies longer than this are left out of the trace. */
#define TRACE_LITERAL_MAX 256

static bool log_verbose;
static bool log_trace;
static bool log_journald;
static bool log_installed;

static bool
is_our_domain(const char *domain)
{
	return domain && g_str_has_prefix(domain, G_LOG_DOMAIN);
}

/* Appends text with control characters escaped so that server-provided
 * strings cannot drive the terminal; keep_newlines keeps "\n" and "\t" for
 * multi-line messages. Invalid UTF-8 is escaped byte by byte. */
static void
append_escaped(GString *out, const char *text, size_t len, bool keep_newlines)
{
	bool utf8 = g_utf8_validate(text, (gssize)len, NULL);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (keep_newlines && (c == '\n' || c == '\t'))
			g_string_append_c(out, (char)c);
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (char)c);
	}
}

static const char *
level_name(GLogLevelFlags level)
{
	switch (level & G_LOG_LEVEL_MASK) {
	case G_LOG_LEVEL_ERROR:
		return "error";
	case G_LOG_LEVEL_CRITICAL:
		return "critical";
	case G_LOG_LEVEL_WARNING:
		return "warning";
	case G_LOG_LEVEL_MESSAGE:
		return NULL;
	case G_LOG_LEVEL_INFO:
		return "info";
	default:
		return "debug";
	}
}

static GLogWriterOutput
write_stderr(GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
	const char *message = NULL, *domain = NULL;
	gssize message_len = -1;
	for (gsize i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0) {
			message = fields[i].value;
			message_len = fields[i].length;
		} else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0) {
			domain = fields[i].value;
		}
	}
	if (!message)
		message = "(no message)";
	size_t len = message_len < 0 ? strlen(message) : (size_t)message_len;

	GString *line = g_string_new("mailbell: ");
	const char *name = level_name(level);
	if (name)
		g_string_append_printf(line, "%s: ", name);
	if (domain && strcmp(domain, G_LOG_DOMAIN) != 0)
		g_string_append_printf(line, "%s: ", domain);
	append_escaped(line, message, len, true);
	g_string_append_c(line, '\n');
	/* one write per message, so lines from a hook's stderr do not interleave */
	fwrite(line->str, 1, line->len, stderr);
	fflush(stderr);
	g_string_free(line, TRUE);
	return G_LOG_WRITER_HANDLED;
}

static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	GLogLevelFlags l = level & G_LOG_LEVEL_MASK;
	if (l & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) {
		if (!log_verbose)
			return G_LOG_WRITER_HANDLED;
		const char *domain = NULL;
		for (gsize i = 0; i < n_fields; i++) {
			if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
				domain = fields[i].value;
		}
		/* --verbose is about mailbell, not about the libraries under it */
		if (!is_our_domain(domain))
			return G_LOG_WRITER_HANDLED;
	}
	if (log_journald && g_log_writer_journald(level, fields, n_fields, data) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;
	return write_stderr(level, fields, n_fields);
}

void
mb_log_init(bool verbose, bool trace)
{
	log_trace = trace;
	log_verbose = verbose || trace;
	log_journald = g_log_writer_is_journald(fileno(stderr));
	/* GLib allows setting the writer only once per process. */
	if (!log_installed) {
		g_log_set_writer_func(writer, NULL, NULL);
		log_installed = true;
	}
}

bool
mb_log_tracing(void)
{
	return log_trace;
}

/* Parses "{N}", "{N+}" or "{N-}" ending at end (exclusive, just after '}').
 * Returns N, or -1. */
static gint64
literal_size_before(const char *start, const char *end)
{
	if (end - start < 3 || end[-1] != '}')
		return -1;
	const char *p = end - 2;
	if (*p == '+' || *p == '-')
		p--;
	const char *digits_end = p + 1;
	while (p >= start && g_ascii_isdigit(*p))
		p--;
	if (p < start || *p != '{' || p + 1 == digits_end || digits_end - (p + 1) > 12)
		return -1;
	gint64 n = 0;
	for (const char *d = p + 1; d < digits_end; d++)
		n = n * 10 + (*d - '0');
	return n;
}

/* Octets of a long literal still to be left out of the trace, per account
 * and direction: callers trace one line at a time, so a literal spans calls. */
static GHashTable *literal_left; /* "account\x1fdir" -> guint64 * */

static char *
trace_key(const char *account, const char *dir)
{
	return g_strdup_printf("%s\x1f%s", account ? account : "", dir ? dir : "");
}

static void
set_literal_left(const char *key, guint64 left)
{
	if (left == 0) {
		if (literal_left)
			g_hash_table_remove(literal_left, key);
		return;
	}
	if (!literal_left)
		literal_left = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	guint64 *value = g_new(guint64, 1);
	*value = left;
	g_hash_table_replace(literal_left, g_strdup(key), value);
}

void
mb_log_trace_reset(const char *account)
{
	for (const char *const *dir = (const char *const[]){ "C", "S", NULL }; *dir; dir++) {
		char *key = trace_key(account, *dir);
		set_literal_left(key, 0);
		g_free(key);
	}
}

void
mb_log_trace(const char *account, const char *dir, const char *line, size_t len)
{
	if (!log_trace || !line)
		return;
	char *redacted = NULL;
	if (dir && strcmp(dir, "C") == 0) {
		redacted = mb_log_redact_command(line, len, false);
		line = redacted;
		len = strlen(redacted);
	}
	char *key = trace_key(account, dir);
	guint64 *leftp = literal_left ? g_hash_table_lookup(literal_left, key) : NULL;
	guint64 left = leftp ? *leftp : 0;
	/* A line passed without its terminator had "\r\n" stripped by the
	 * caller; those two octets count towards a literal too. */
	bool terminated = len > 0 && line[len - 1] == '\n';
	size_t i = 0;
	if (left > 0) {
		guint64 avail = len + (terminated ? 0 : 2);
		if (left >= avail || left >= len) {
			/* all of it is literal */
			set_literal_left(key, left >= avail ? left - avail : 0);
			goto out;
		}
		i = (size_t)left;
		left = 0;
	}
	GString *text = g_string_new(NULL);
	while (i < len) {
		const char *eol = memchr(line + i, '\n', len - i);
		size_t stop = eol ? (size_t)(eol - line) + 1 : len;
		append_escaped(text, line + i, stop - i, false);
		/* a line ending in "{N}" is followed by N octets of literal */
		size_t content_end = stop;
		if (eol) {
			content_end--;
			if (content_end > i && line[content_end - 1] == '\r')
				content_end--;
		}
		gint64 n = literal_size_before(line + i, line + content_end);
		i = stop;
		if (n > TRACE_LITERAL_MAX) {
			g_string_append_printf(text, "<%" G_GINT64_FORMAT " octets>", n);
			if ((guint64)n <= len - i) {
				i += (size_t)n;
			} else {
				left = (guint64)n - (len - i);
				i = len;
			}
		}
	}
	set_literal_left(key, left);
	g_debug("%s %s: %s", account ? account : "-", dir ? dir : "?", text->str);
	g_string_free(text, TRUE);
out:
	g_free(key);
	g_free(redacted);
}

/* The line terminator at the end of line[0..len), kept on redacted lines. */
static const char *
line_ending(const char *line, size_t len)
{
	if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
		return "\r\n";
	if (len >= 1 && line[len - 1] == '\n')
		return "\n";
	return "";
}

static bool
is_word_end(char c)
{
	return c == ' ' || c == '\r' || c == '\n';
}

/* Redacts one command starting at line[0]; the rest of the buffer after a
 * LOGIN or AUTHENTICATE belongs to it (literals, SASL-IR), so it all goes. */
static bool
redact_one(GString *out, const char *line, size_t len, const char *ending)
{
	const char *end = line + len;
	const char *sp = memchr(line, ' ', len);
	if (!sp || sp == line)
		return false;
	for (const char *c = line; c < sp; c++) {
		if (*c == '\r' || *c == '\n')
			return false;
	}
	const char *cmd = sp + 1;
	const char *cmd_end = cmd;
	while (cmd_end < end && !is_word_end(*cmd_end))
		cmd_end++;
	size_t cmd_len = (size_t)(cmd_end - cmd);
	if (cmd_len == 5 && g_ascii_strncasecmp(cmd, "LOGIN", 5) == 0) {
		g_string_append_len(out, line, cmd_end - line);
		g_string_append(out, " ***");
		g_string_append(out, ending);
		return true;
	}
	if (cmd_len == 12 && g_ascii_strncasecmp(cmd, "AUTHENTICATE", 12) == 0) {
		const char *mech = cmd_end;
		if (mech < end && *mech == ' ')
			mech++;
		const char *mech_end = mech;
		while (mech_end < end && !is_word_end(*mech_end))
			mech_end++;
		g_string_append_len(out, line, mech_end - line);
		/* anything after the mechanism but the line ending is secret */
		if ((size_t)(end - mech_end) > strlen(ending))
			g_string_append(out, " ***");
		g_string_append(out, ending);
		return true;
	}
	return false;
}

char *
mb_log_redact_command(const char *line, size_t len, bool sasl)
{
	if (!line)
		len = 0;
	const char *ending = line ? line_ending(line, len) : "";
	if (sasl)
		return g_strconcat("***", ending, NULL);

	/* A buffer may hold several pipelined commands; check each line, and
	 * once a LOGIN or AUTHENTICATE is seen, nothing after it is shown. */
	GString *out = g_string_new(NULL);
	size_t i = 0;
	while (i < len) {
		const char *eol = memchr(line + i, '\n', len - i);
		size_t stop = eol ? (size_t)(eol - line) + 1 : len;
		if (redact_one(out, line + i, len - i, ending))
			return g_string_free(out, FALSE);
		g_string_append_len(out, line + i, (gssize)(stop - i));
		i = stop;
	}
	return g_string_free(out, FALSE);
}
