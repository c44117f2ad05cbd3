/* immune host show HOST [--table T] [--json] [--server-config FILE]
 * immune host remove ID [--json] [--server-config FILE]
 * immune host command HOST NAME [--json] [--server-config FILE] */
#include "cli/api_client.h"
#include "cli/cli.h"

#include <getopt.h>

static void print_help(void)
{
	printf("usage: immune host show HOST [--table TABLE] [--json]\n"
	       "       immune host remove ID [--json]\n"
	       "       immune host command HOST scan-now|inventory-now [--json]\n\n"
	       "HOST is a host id or a hostname that one host has; remove takes the id only.\n"
	       "show: the host's fields, its inventory (tables and row counts, or the rows of\n"
	       "one table with --table), its data streams, its sensors' health, and the failing\n"
	       "checks of its latest scan with their evidence.\n"
	       "remove: revokes the host; its agent is disconnected and cannot reconnect.\n"
	       "command: sends a command to the host's agent, which must be connected:\n"
	       "scan-now collects the inventory and scans; inventory-now collects the\n"
	       "inventory (and scans only when it changed).\n\n"
	       "  --table TABLE        show: print the rows of this inventory table\n"
	       "  --json               print the server's answer (docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n");
}

static void field(const char *label, const char *value)
{
	_cleanup_free_ char *s = fleet_safe(value ? value : "-");
	printf("  %-13s %s\n", label, s);
}

static void field_json(const char *label, const json_t *v)
{
	_cleanup_free_ char *s = fleet_text(v);
	field(label, s);
}

static void heading(const char *what, size_t n, const char *unit, bool color)
{
	printf("\n%s%s (%zu%s)%s\n", color ? "\033[1m" : "", what, n, unit, color ? "\033[0m" : "");
}

static void print_host(const json_t *h, bool color)
{
	_cleanup_free_ char *name = fleet_text(json_object_get(h, "hostname"));
	_cleanup_free_ char *id = fleet_text(json_object_get(h, "id"));
	_cleanup_free_ char *seen = fleet_ago(json_object_get(h, "last_seen"));
	_cleanup_free_ char *scanned = fleet_ago(json_object_get(h, "scanned_at"));
	_cleanup_free_ char *conn =
		xasprintf("%s (last seen %s)",
			  json_is_true(json_object_get(h, "connected")) ? "yes" : "no", seen);
	const json_t *score = json_object_get(h, "score");
	_cleanup_free_ char *sc =
		json_is_number(score)
			? xasprintf("%.1f (%" JSON_INTEGER_FORMAT " failing checks, scanned %s)",
				    json_number_value(score),
				    json_integer_value(json_object_get(h, "checks_failed")),
				    scanned)
			: xstrdup("not scanned yet");
	_cleanup_free_ char *title = xasprintf("Host %s (id %s)", name, id);
	_cleanup_free_ char *safe = fleet_safe(title);

	printf("%s%s%s\n", color ? "\033[1m" : "", safe, color ? "\033[0m" : "");
	field_json("OS:", json_object_get(h, "os"));
	field_json("Agent:", json_object_get(h, "agent_version"));
	field_json("Labels:", json_object_get(h, "labels"));
	field("Connected:", conn);
	field_json("Enrolled:", json_object_get(h, "enrolled_at"));
	field_json("Cert until:", json_object_get(h, "cert_not_after"));
	field_json("Revoked:", json_object_get(h, "revoked"));
	field("Score:", sc);
}

static size_t row_count(const json_t *rows)
{
	if (json_is_array(rows))
		return json_array_size(rows);
	if (json_is_integer(rows) && json_integer_value(rows) > 0)
		return (size_t)json_integer_value(rows);
	return 0;
}

static void print_inventory(const json_t *inv, bool color)
{
	static const char *const head[] = { "TABLE", "ROWS" };
	struct table tb;
	const char *k;
	json_t *rows;

	heading("Inventory", json_object_size(inv), " tables", color);
	if (json_object_size(inv) == 0) {
		printf("  none received yet\n");
		return;
	}
	table_init(&tb, 2, head);
	json_object_foreach((json_t *)inv, k, rows) {
		_cleanup_free_ char *n = xasprintf("%zu", row_count(rows));
		const char *cells[] = { k, n };
		table_row(&tb, cells);
	}
	tb.indent = 2;
	table_print(&tb, stdout, color);
	table_free(&tb);
}

static void print_streams(const json_t *streams, bool color)
{
	static const char *const head[] = { "STREAM", "COMMITTED SEQ", "RECORDS", "GAPS",
					    "DROPPED" };
	static const char *const keys[] = { "stream", "committed_seq", "records", "gaps",
					    "dropped" };
	struct table tb;
	const json_t *s;
	size_t i;

	heading("Streams", json_array_size(streams), "", color);
	if (json_array_size(streams) == 0) {
		printf("  none\n");
		return;
	}
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(streams, i, s) {
		char *cells[ARRAY_SIZE(keys)];
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			cells[k] = fleet_text(json_object_get(s, keys[k]));
		table_row(&tb, (const char *const *)cells);
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			free(cells[k]);
	}
	tb.indent = 2;
	table_print(&tb, stdout, color);
	table_free(&tb);
}

static void print_evidence(const json_t *ev, const json_t *finding_msg)
{
	const json_t *file = json_object_get(ev, "file"), *line = json_object_get(ev, "line");
	_cleanup_free_ char *msg = fleet_text(json_object_get(ev, "message"));
	_cleanup_free_ char *loc = NULL, *text = NULL, *safe = NULL;

	if (json_is_string(file) && json_is_integer(line))
		loc = xasprintf("%s:%" JSON_INTEGER_FORMAT, json_string_value(file),
				json_integer_value(line));
	else if (json_is_string(file))
		loc = xstrdup(json_string_value(file));
	else if (json_is_string(json_object_get(ev, "path")))
		loc = xstrdup(json_string_value(json_object_get(ev, "path")));
	if (json_equal(json_object_get(ev, "message"), finding_msg))
		text = loc ? xasprintf("at %s", loc) : NULL;
	else
		text = loc ? xasprintf("%s  %s", loc, msg) : xstrdup(msg);
	if (!text)
		return;
	safe = fleet_safe(text);
	printf("      %s\n", safe);
}

static void print_findings(const json_t *findings, bool color)
{
	const json_t *f, *ev;
	size_t i, j;

	heading("Failing checks", json_array_size(findings), "", color);
	if (json_array_size(findings) == 0) {
		printf("  none\n");
		return;
	}
	json_array_foreach(findings, i, f) {
		const char *st = json_string_value(json_object_get(f, "status"));
		_cleanup_free_ char *status = fleet_text(json_object_get(f, "status"));
		_cleanup_free_ char *line = NULL, *msg = NULL;
		_cleanup_free_ char *sev = fleet_text(json_object_get(f, "severity"));
		_cleanup_free_ char *id = fleet_text(json_object_get(f, "id"));
		_cleanup_free_ char *title = fleet_text(json_object_get(f, "title"));
		_cleanup_free_ char *m = fleet_text(json_object_get(f, "message"));
		const char *col = color ? status_color(st) : NULL;

		for (char *p = status; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		line = fleet_safe(id);
		printf("  %s%-5s%s  %-8s  %s  ", col ? col : "", status, col ? "\033[0m" : "", sev,
		       line);
		free(line);
		line = fleet_safe(title);
		printf("%s\n", line);
		msg = fleet_safe(m);
		printf("      %s\n", msg);
		json_array_foreach(json_object_get(f, "evidence"), j, ev)
			print_evidence(ev, json_object_get(f, "message"));
	}
}

static void print_sensors(const json_t *health, bool color)
{
	static const char *const head[] = { "SENSOR", "MECHANISM", "ACTIVE", "EVENTS",
					    "LOST",   "SKIPPED",   "MESSAGE" };
	static const char *const keys[] = { "name", "mechanism", "active", "events",
					    "lost", "skipped",	 "message" };
	const json_t *sensors = json_object_get(health, "sensors"), *s;
	struct table tb;
	size_t i;

	heading("Sensors", json_array_size(sensors), "", color);
	if (json_array_size(sensors) == 0) {
		printf("  no sensor health received yet\n");
		return;
	}
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(sensors, i, s) {
		char *cells[ARRAY_SIZE(keys)];
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			const json_t *v = json_object_get(s, keys[k]);
			cells[k] = json_is_string(v) && !*json_string_value(v) ? xstrdup("-")
									       : fleet_text(v);
		}
		table_row(&tb, (const char *const *)cells);
		if (!json_is_true(json_object_get(s, "active")))
			table_color(&tb, 2, "\033[31m");
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			free(cells[k]);
	}
	tb.indent = 2;
	table_print(&tb, stdout, color);
	table_free(&tb);
}

/* The rows of one inventory table as an aligned table (columns in order of appearance). */
static int print_table_rows(const json_t *inv, const char *name, bool json, bool color)
{
	const json_t *rows = json_object_get(inv, name), *row;
	json_t *cols = json_array(), *seen = json_object();
	const char *k;
	json_t *v;
	struct table tb;
	size_t i, nc;

	if (!json_is_array(rows)) {
		fprintf(stderr, "immune host: the host has no inventory table '%s' (it has:", name);
		json_object_foreach((json_t *)inv, k, v) {
			_cleanup_free_ char *s = fleet_safe(k);
			fprintf(stderr, " %s", s);
		}
		fprintf(stderr, ")\n");
		json_decref(cols);
		json_decref(seen);
		return EXIT_ERROR;
	}
	if (json) {
		json_decref(cols);
		json_decref(seen);
		return fleet_print_json(rows);
	}
	json_array_foreach(rows, i, row)
		json_object_foreach((json_t *)row, k, v)
			if (!json_object_get(seen, k)) {
				json_object_set_new(seen, k, json_true());
				json_array_append_new(cols, json_string(k));
			}
	nc = json_array_size(cols);
	if (nc == 0) {
		printf("%zu rows\n", json_array_size(rows));
	} else {
		const char **head = xcalloc(nc, sizeof(*head));
		char **cells = xcalloc(nc, sizeof(*cells));
		for (size_t c = 0; c < nc; c++)
			head[c] = json_string_value(json_array_get(cols, c));
		table_init(&tb, nc, head);
		json_array_foreach(rows, i, row) {
			for (size_t c = 0; c < nc; c++)
				cells[c] = fleet_text(json_object_get(row, head[c]));
			table_row(&tb, (const char *const *)cells);
			for (size_t c = 0; c < nc; c++)
				free(cells[c]);
		}
		table_print(&tb, stdout, color);
		table_free(&tb);
		free(head);
		free(cells);
	}
	json_decref(cols);
	json_decref(seen);
	return EXIT_OK;
}

static int do_show(const struct api_config *cfg, const char *host, const char *table, bool json)
{
	_cleanup_free_ char *path = NULL;
	json_t *ans = NULL;
	bool color = cli_color();
	int r = fleet_host_path("host", cfg, host, NULL, &path);

	if (!r)
		r = fleet_call("host", cfg, "GET", path, NULL, &ans);
	if (r)
		return r;
	if (table)
		r = print_table_rows(json_object_get(ans, "inventory"), table, json, color);
	else if (json)
		r = fleet_print_json(ans);
	else {
		print_host(json_object_get(ans, "host"), color);
		print_inventory(json_object_get(ans, "inventory"), color);
		print_streams(json_object_get(ans, "streams"), color);
		print_sensors(json_object_get(ans, "sensor_health"), color);
		print_findings(json_object_get(ans, "findings"), color);
	}
	json_decref(ans);
	return r;
}

static int do_remove(const struct api_config *cfg, const char *id, bool json)
{
	_cleanup_free_ char *esc = api_escape(id);
	_cleanup_free_ char *path = xasprintf("/v1/hosts/%s", esc);
	_cleanup_free_ char *safe = fleet_safe(id);
	json_t *ans = NULL;
	int r = fleet_call("host", cfg, "DELETE", path, NULL, &ans);

	if (r)
		return r;
	if (json)
		r = fleet_print_json(ans);
	else
		printf("Host %s revoked: %s\n", safe,
		       json_is_true(json_object_get(ans, "disconnected"))
			       ? "its agent was disconnected and cannot reconnect."
			       : "it was not connected and cannot reconnect.");
	json_decref(ans);
	return r;
}

static int do_command(const struct api_config *cfg, const char *id, const char *name, bool json)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *safe = fleet_safe(id);
	_cleanup_free_ char *safe_name = fleet_safe(name);
	json_t *body = json_pack("{s:s}", "name", name);
	json_t *ans = NULL;
	int r = fleet_host_path("host", cfg, id, "commands", &path);

	if (!r)
		r = fleet_call("host", cfg, "POST", path, body, &ans);
	json_decref(body);
	if (r)
		return r;
	if (json)
		r = fleet_print_json(ans);
	else
		printf("Sent '%s' to host %s (command id %" JSON_INTEGER_FORMAT ").\n", safe_name,
		       safe, json_integer_value(json_object_get(ans, "id")));
	json_decref(ans);
	return r;
}

int cmd_host(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *table = NULL, *verb, *id, *name = NULL;
	bool json = false, show, command;
	int c, r;

	if (argc < 2)
		return cli_usage_error("host", "missing verb (show, remove or command)");
	verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		print_help();
		return EXIT_OK;
	}
	show = strcmp(verb, "show") == 0;
	command = strcmp(verb, "command") == 0;
	if (!show && !command && strcmp(verb, "remove") != 0)
		return cli_usage_error("host", "unknown verb '%s' (valid: show, remove, command)",
				       verb);
	optind = 2;
	while ((c = getopt_long(argc, argv, "t:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': table = optarg; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("host", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("host", "%s wants a host id (see 'immune hosts')", verb);
	id = argv[optind++];
	if (command && optind >= argc)
		return cli_usage_error("host",
				       "command wants a command name (scan-now, inventory-now)");
	if (command)
		name = argv[optind++];
	if (optind < argc)
		return cli_usage_error("host", "unexpected argument '%s'", argv[optind]);
	if (!*id)
		return cli_usage_error("host", "the host id is empty (see 'immune hosts')");
	if (table && !show)
		return cli_usage_error("host", "--table is for 'host show'");
	r = fleet_config("host", config, &cfg);
	if (r)
		return r;
	if (command)
		return do_command(cfg, id, name, json);
	return show ? do_show(cfg, id, table, json) : do_remove(cfg, id, json);
}
