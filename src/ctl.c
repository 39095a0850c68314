#define G_LOG_DOMAIN "mailbell"

#include "ctl.h"

#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "notify.h"

#define ERROR_CONFIG MB_CTL_INTERFACE ".Error.Config"
#define ERROR_NO_ACCOUNT MB_CTL_INTERFACE ".Error.NoSuchAccount"
#define CALL_TIMEOUT_MS 10000

static const char introspection_xml[] =
	"<node>"
	" <interface name='" MB_CTL_INTERFACE "'>"
	"  <method name='GetStatus'><arg type='s' name='json' direction='out'/></method>"
	"  <method name='Pause'><arg type='t' name='seconds' direction='in'/></method>"
	"  <method name='Resume'/>"
	"  <method name='Reconnect'><arg type='s' name='account' direction='in'/></method>"
	"  <method name='Reload'/>"
	"  <property name='Version' type='s' access='read'/>"
	"  <property name='Paused' type='b' access='read'/>"
	"  <property name='PausedUntil' type='t' access='read'/>"
	"  <property name='Held' type='u' access='read'/>"
	"  <signal name='StatusChanged'/>"
	" </interface>"
	"</node>";

static struct mb_ctl_handlers handlers;
static void *handlers_data;
static guint owner_id;
static guint registration_id;
static GDBusConnection *bus;
static GDBusNodeInfo *node_info;
static guint changed_idle;

static void on_method_call(GDBusConnection *connection, const char *sender, const char *path,
	const char *iface, const char *method, GVariant *params, GDBusMethodInvocation *inv,
	gpointer data)
{
	if (strcmp(method, "GetStatus") == 0) {
		char *json = handlers.status_json(handlers_data);
		g_dbus_method_invocation_return_value(inv, g_variant_new("(s)", json));
		g_free(json);
	} else if (strcmp(method, "Pause") == 0) {
		guint64 seconds;
		g_variant_get(params, "(t)", &seconds);
		gint64 until = 0;
		if (seconds > 0)
			until = g_get_real_time() / G_USEC_PER_SEC + (gint64)MIN(seconds, (guint64)G_MAXINT32);
		g_message("notifications paused %s", seconds ? "for a while" : "until resumed");
		mb_notify_pause(until);
		g_dbus_method_invocation_return_value(inv, NULL);
	} else if (strcmp(method, "Resume") == 0) {
		if (mb_notify_paused(NULL))
			g_message("notifications resumed");
		mb_notify_resume();
		g_dbus_method_invocation_return_value(inv, NULL);
	} else if (strcmp(method, "Reconnect") == 0) {
		const char *account;
		char *error = NULL;
		g_variant_get(params, "(&s)", &account);
		if (handlers.reconnect(account, &error, handlers_data))
			g_dbus_method_invocation_return_value(inv, NULL);
		else
			g_dbus_method_invocation_return_dbus_error(inv, ERROR_NO_ACCOUNT, error);
		g_free(error);
	} else if (strcmp(method, "Reload") == 0) {
		char *error = NULL;
		if (handlers.reload(&error, handlers_data))
			g_dbus_method_invocation_return_value(inv, NULL);
		else
			g_dbus_method_invocation_return_dbus_error(inv, ERROR_CONFIG, error);
		g_free(error);
	} else {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
			"no method %s", method);
	}
}

static GVariant *property_value(const char *name)
{
	gint64 until = 0;
	bool paused = mb_notify_paused(&until);
	if (strcmp(name, "Version") == 0)
		return g_variant_new_string(MB_VERSION);
	if (strcmp(name, "Paused") == 0)
		return g_variant_new_boolean(paused);
	if (strcmp(name, "PausedUntil") == 0)
		return g_variant_new_uint64(paused && until > 0 ? (guint64)until : 0);
	if (strcmp(name, "Held") == 0)
		return g_variant_new_uint32(mb_notify_held(NULL));
	return NULL;
}

static GVariant *on_get_property(GDBusConnection *connection, const char *sender, const char *path,
	const char *iface, const char *name, GError **error, gpointer data)
{
	GVariant *v = property_value(name);
	if (!v)
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", name);
	return v;
}

static const GDBusInterfaceVTable vtable = {
	.method_call = on_method_call,
	.get_property = on_get_property,
};

static void on_bus_acquired(GDBusConnection *connection, const char *name, gpointer data)
{
	GError *error = NULL;
	bus = g_object_ref(connection);
	registration_id = g_dbus_connection_register_object(connection, MB_CTL_OBJECT_PATH,
		node_info->interfaces[0], &vtable, NULL, NULL, &error);
	if (!registration_id) {
		g_warning("cannot offer the control interface: %s", error->message);
		g_error_free(error);
	}
}

static void on_name_acquired(GDBusConnection *connection, const char *name, gpointer data)
{
	g_info("control interface: %s on the session bus", name);
}

static void on_name_lost(GDBusConnection *connection, const char *name, gpointer data)
{
	if (!connection)
		g_info("no session bus: 'mailbell ctl' cannot reach this mailbell");
	else
		g_warning("another program owns %s on the session bus: 'mailbell ctl' talks to it, "
			"not to this mailbell", name);
}

void mb_ctl_start(const struct mb_ctl_handlers *h, void *data)
{
	handlers = *h;
	handlers_data = data;
	if (!node_info)
		node_info = g_dbus_node_info_new_for_xml(introspection_xml, NULL);
	owner_id = g_bus_own_name(G_BUS_TYPE_SESSION, MB_CTL_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
		on_bus_acquired, on_name_acquired, on_name_lost, NULL, NULL);
}

static gboolean emit_changed(gpointer data)
{
	changed_idle = 0;
	if (!bus || !registration_id)
		return G_SOURCE_REMOVE;
	GVariantBuilder props;
	g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
	static const char *const names[] = { "Paused", "PausedUntil", "Held" };
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		g_variant_builder_add(&props, "{sv}", names[i], property_value(names[i]));
	g_dbus_connection_emit_signal(bus, NULL, MB_CTL_OBJECT_PATH, "org.freedesktop.DBus.Properties",
		"PropertiesChanged", g_variant_new("(sa{sv}as)", MB_CTL_INTERFACE, &props, NULL), NULL);
	g_dbus_connection_emit_signal(bus, NULL, MB_CTL_OBJECT_PATH, MB_CTL_INTERFACE, "StatusChanged",
		NULL, NULL);
	return G_SOURCE_REMOVE;
}

void mb_ctl_status_changed(void)
{
	if (!changed_idle && bus)
		changed_idle = g_idle_add(emit_changed, NULL);
}

void mb_ctl_stop(void)
{
	g_clear_handle_id(&changed_idle, g_source_remove);
	if (bus && registration_id)
		g_dbus_connection_unregister_object(bus, registration_id);
	registration_id = 0;
	g_clear_handle_id(&owner_id, g_bus_unown_name);
	g_clear_object(&bus);
	g_clear_pointer(&node_info, g_dbus_node_info_unref);
}

/* --- the client: mailbell ctl ------------------------------------------- */

/* "90", "45s", "30m", "2h", "1d", or combinations such as "1h30m". */
static bool parse_pause(const char *text, guint64 *seconds_r)
{
	guint64 total = 0;
	const char *p = text;
	bool bare = false;
	unsigned parts = 0;
	if (!*p)
		return false;
	while (*p) {
		parts++;
		if (!g_ascii_isdigit(*p))
			return false;
		guint64 n = 0;
		for (; g_ascii_isdigit(*p); p++) {
			n = n * 10 + (guint64)(*p - '0');
			if (n > G_MAXINT32)
				return false;
		}
		guint64 unit = 1;
		switch (*p) {
		case 's': unit = 1; p++; break;
		case 'm': unit = 60; p++; break;
		case 'h': unit = 3600; p++; break;
		case 'd': unit = 86400; p++; break;
		case '\0': bare = true; break;
		default: return false;
		}
		total += n * unit;
		if (total > G_MAXINT32)
			return false;
	}
	if (bare && parts > 1)
		return false; /* "1h30": is it seconds or minutes? a bare number stands alone */
	if (total == 0)
		return false;
	*seconds_r = total;
	return true;
}

static char *format_time(gint64 t)
{
	GDateTime *now = g_date_time_new_now_local();
	GDateTime *dt = g_date_time_new_from_unix_local(t);
	bool today = g_date_time_get_day_of_year(now) == g_date_time_get_day_of_year(dt)
		&& g_date_time_get_year(now) == g_date_time_get_year(dt);
	char *s = g_date_time_format(dt, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S");
	g_date_time_unref(dt);
	g_date_time_unref(now);
	return s;
}

static gint64 member_time(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : 0;
}

static const char *member_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;
}

static void print_state(const char *name, JsonObject *o, const char *indent)
{
	const char *state = member_string(o, "state");
	gint64 since = member_time(o, "since"), retry = member_time(o, "retry_at");
	const char *error = member_string(o, "last_error");
	const char *reason = member_string(o, "reason");
	char *s = since ? format_time(since) : g_strdup("?");
	static const struct {
		const char *state, *text;
	} words[] = {
		{ "idle", "idle" }, { "polling", "polling (no IDLE)" }, { "connecting", "connecting" },
		{ "backoff", "backing off" }, { "waiting_network", "waiting for the network" },
		{ "auth_failed", "sign-in failed, stopped trying" }, { "stopped", "stopped" },
	};
	const char *text = state;
	for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
		if (state && strcmp(state, words[i].state) == 0)
			text = words[i].text;
	if (reason && state && strcmp(state, "polling") == 0)
		printf("%s%s: polling (%s) since %s", indent, name, reason, s);
	else
		printf("%s%s: %s since %s", indent, name, text ? text : "?", s);
	g_free(s);
	if (retry) {
		char *r = format_time(retry);
		printf(", next try at %s", r);
		g_free(r);
	}
	if (error && state && strcmp(state, "idle") != 0)
		printf(" (%s)", error);
	printf("\n");
}

static void print_status(JsonObject *root)
{
	gint64 until = member_time(root, "paused_until");
	gint64 held = json_object_get_int_member_with_default(root, "held", 0);
	/* whether any account notifies ("notify" is absent from a mailbell
	 * older than this client: then yes) */
	JsonArray *accounts = json_object_get_array_member(root, "accounts");
	bool any_notify = !accounts || json_array_get_length(accounts) == 0;
	for (guint i = 0; accounts && i < json_array_get_length(accounts) && !any_notify; i++)
		any_notify = json_object_get_boolean_member_with_default(
			json_array_get_object_element(accounts, i), "notify", TRUE);
	if (!any_notify) {
		printf("notifications: off (notify = no)");
	} else if (json_object_get_boolean_member_with_default(root, "paused", FALSE)) {
		char *u = until ? format_time(until) : g_strdup("resumed");
		printf("notifications: paused until %s", u);
		g_free(u);
	} else {
		printf("notifications: on");
	}
	if (held)
		printf(" (%" G_GINT64_FORMAT " held)", held);
	printf("\n");
	for (guint i = 0; accounts && i < json_array_get_length(accounts); i++) {
		JsonObject *a = json_array_get_object_element(accounts, i);
		const char *name = member_string(a, "name");
		print_state(name ? name : "?", a, "");
		if (any_notify && !json_object_get_boolean_member_with_default(a, "notify", TRUE))
			printf("  no notifications (notify = no)\n");
		if (json_object_get_boolean_member_with_default(a, "quiet", FALSE)) {
			char *q = format_time(member_time(a, "quiet_until"));
			printf("  quiet hours until %s\n", q);
			g_free(q);
		}
		JsonArray *conns = json_object_get_array_member(a, "connections");
		for (guint j = 0; conns && json_array_get_length(conns) > 1 && j < json_array_get_length(conns); j++) {
			JsonObject *c = json_array_get_object_element(conns, j);
			const char *cn = member_string(c, "name");
			print_state(cn ? cn : "?", c, "  ");
		}
		JsonArray *boxes = json_object_get_array_member(a, "mailboxes");
		for (guint j = 0; boxes && j < json_array_get_length(boxes); j++) {
			JsonObject *m = json_array_get_object_element(boxes, j);
			printf("  %s: %" G_GINT64_FORMAT " reported since start", member_string(m, "name"),
				json_object_get_int_member_with_default(m, "reported", 0));
			gint64 last = member_time(m, "last_message");
			if (last) {
				char *l = format_time(last);
				printf(", the last at %s", l);
				g_free(l);
			}
			JsonNode *u = json_object_get_member(m, "unseen");
			if (u && JSON_NODE_HOLDS_VALUE(u))
				printf(", %" G_GINT64_FORMAT " unseen", json_node_get_int(u));
			printf("\n");
		}
	}
}

static int usage(const char *unknown)
{
	if (unknown)
		fprintf(stderr, "mailbell: unknown ctl command '%s'\n", unknown);
	fprintf(stderr, "usage: mailbell ctl status [--json] | pause [DURATION] | resume | "
		"reconnect [ACCOUNT] | reload\n");
	return 64; /* EX_USAGE */
}

int mb_ctl_client(int argc, char **args)
{
	if (argc < 1)
		return usage(NULL);
	const char *cmd = args[0];
	const char *method = NULL;
	GVariant *params = NULL;
	bool json = false;
	if (strcmp(cmd, "status") == 0) {
		if (argc > 2 || (argc == 2 && strcmp(args[1], "--json") != 0))
			return usage(NULL);
		json = argc == 2;
		method = "GetStatus";
	} else if (strcmp(cmd, "pause") == 0) {
		guint64 seconds = 0;
		if (argc > 2)
			return usage(NULL);
		if (argc == 2 && !parse_pause(args[1], &seconds)) {
			fprintf(stderr, "mailbell: bad duration '%s': use e.g. 30m, 2h, 1h30m, 1d\n", args[1]);
			return 64;
		}
		method = "Pause";
		params = g_variant_new("(t)", seconds);
	} else if (strcmp(cmd, "resume") == 0 && argc == 1) {
		method = "Resume";
	} else if (strcmp(cmd, "reconnect") == 0 && argc <= 2) {
		method = "Reconnect";
		params = g_variant_new("(s)", argc == 2 ? args[1] : "");
	} else if (strcmp(cmd, "reload") == 0 && argc == 1) {
		method = "Reload";
	} else {
		bool known = !strcmp(cmd, "status") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume")
			|| !strcmp(cmd, "reconnect") || !strcmp(cmd, "reload");
		return usage(known ? NULL : cmd);
	}

	GError *error = NULL;
	GDBusConnection *conn = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
	if (!conn) {
		fprintf(stderr, "mailbell: no mailbell is running here (no session bus: %s)\n", error->message);
		g_error_free(error);
		if (params)
			g_variant_unref(g_variant_ref_sink(params));
		return 69; /* EX_UNAVAILABLE */
	}
	GVariant *ret = g_dbus_connection_call_sync(conn, MB_CTL_BUS_NAME, MB_CTL_OBJECT_PATH,
		MB_CTL_INTERFACE, method, params, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS,
		NULL, &error);
	g_object_unref(conn);
	int status = 0;
	if (!ret) {
		char *remote = g_dbus_error_get_remote_error(error);
		g_dbus_error_strip_remote_error(error);
		if (remote && (strcmp(remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0
		    || strcmp(remote, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)) {
			fprintf(stderr, "mailbell: no mailbell is running on this session bus\n");
			status = 69;
		} else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
			fprintf(stderr, "mailbell: the running mailbell did not answer within %d s\n",
				CALL_TIMEOUT_MS / 1000);
			status = 69;
		} else if (remote && strcmp(remote, ERROR_CONFIG) == 0) {
			fprintf(stderr, "mailbell: reload rejected, the running configuration stays: %s\n",
				error->message);
			status = 78; /* EX_CONFIG */
		} else {
			fprintf(stderr, "mailbell: %s\n", error->message);
			status = 1;
		}
		g_free(remote);
		g_error_free(error);
		return status;
	}
	if (strcmp(method, "GetStatus") == 0) {
		const char *text;
		g_variant_get(ret, "(&s)", &text);
		if (json) {
			printf("%s\n", text);
		} else {
			JsonParser *parser = json_parser_new();
			if (json_parser_load_from_data(parser, text, -1, &error)
			    && JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
				print_status(json_node_get_object(json_parser_get_root(parser)));
			} else {
				fprintf(stderr, "mailbell: the daemon sent a status that is not JSON: %s\n",
					error ? error->message : "not an object");
				g_clear_error(&error);
				status = 1;
			}
			g_object_unref(parser);
		}
	} else if (strcmp(method, "Pause") == 0) {
		printf("notifications paused%s\n", args[1] ? "" : " until 'mailbell ctl resume'");
	} else if (strcmp(method, "Reload") == 0) {
		printf("configuration reloaded (see the log for what changed)\n");
	}
	g_variant_unref(ret);
	if (fflush(stdout) != 0)
		status = 74; /* EX_IOERR */
	return status;
}
