/* immune alerts [--since T] [--severity S] [--host H] [--rule R] [--limit N] [--cursor C]
 *               [--json]
 * immune alert show ID [--json]
 * immune baseline show HOST [--json]
 * Detection results at the server (docs/alerts.md, GET /v1/alerts in docs/api.md). */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "detect/alert.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <getopt.h>
#include <time.h>

#define BOLD "\033[1m"
#define RESET "\033[0m"

static const struct option common_opts[] = {
	{ "since", required_argument, NULL, 's' },
	{ "severity", required_argument, NULL, 'v' },
	{ "host", required_argument, NULL, 'H' },
	{ "rule", required_argument, NULL, 'r' },
	{ "limit", required_argument, NULL, 'n' },
	{ "cursor", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'j' },
	{ "server-config", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static void print_alerts_help(void)
{
	printf("usage: immune alerts [--since T] [--severity S] [--host H] [--rule R] [--limit N]\n"
	       "                     [--cursor C] [--json]\n\n"
	       "Lists alert groups, newest first. Alerts of the same host, rule and group key\n"
	       "within an hour are one group with a count; the fleet view below the table\n"
	       "shows each rule across hosts.\n\n"
	       "  --since T            groups active since T: a duration back from now (90m,\n"
	       "                       24h, 7d) or an RFC 3339 time (2026-11-23T10:00:00Z)\n"
	       "  --severity S         S or higher: informational, low, medium, high, critical\n"
	       "  --host H             only this host (id or hostname)\n"
	       "  --rule R             only this rule id\n"
	       "  --limit N            at most N groups (1-1000, default 100)\n"
	       "  --cursor C           the next page (the cursor printed under the table)\n"
	       "  --json               print the server's answer (GET /v1/alerts, docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n\n"
	       "Exit status: 0 no alert listed, 1 alerts listed, 2 usage or runtime error.\n");
}

static void print_alert_help(void)
{
	printf("usage: immune alert show ID [--json]\n\n"
	       "Shows one alert group: the rule, its severity and ATT&CK techniques, the host,\n"
	       "the count and times, the explanation, and the evidence events.\n\n"
	       "  --json               print the server's answer (GET /v1/alerts/ID)\n"
	       "  --server-config FILE the client configuration\n");
}

static void print_baseline_help(void)
{
	printf("usage: immune baseline show HOST [--json]\n\n"
	       "Shows the latest summary of what the host's agent learned as normal: the\n"
	       "learning state, counts per kind, users' login networks and hours, listening\n"
	       "ports and the most recent entries (docs/baselines.md). HOST is a host id or\n"
	       "a hostname that one host has.\n\n"
	       "  --json               print the server's answer (GET /v1/hosts/ID/baseline)\n"
	       "  --server-config FILE the client configuration\n");
}

static const char *severity_color(const char *sev)
{
	if (!sev)
		return NULL;
	if (!strcmp(sev, "critical"))
		return "\033[1;31m";
	if (!strcmp(sev, "high"))
		return "\033[31m";
	if (!strcmp(sev, "medium"))
		return "\033[33m";
	if (!strcmp(sev, "low"))
		return "\033[36m";
	return "\033[2m";
}

/* "2026-11-23T10:00:01.123Z" -> "2026-11-23 10:00:01" for tables. */
static char *short_time(const json_t *v)
{
	const char *s = json_string_value(v);
	char *t;

	if (!s || strlen(s) < 19)
		return xstrdup("-");
	t = xstrndup(s, 19);
	t[10] = ' ';
	return t;
}

static char *techniques_text(const json_t *a)
{
	size_t n = json_array_size(a);
	const char *first = json_string_value(json_array_get(a, 0));

	if (!first)
		return xstrdup("-");
	return n > 1 ? xasprintf("%s +%zu", first, n - 1) : xstrdup(first);
}

static char *alerts_query(const char *const *vals)
{
	static const char *const names[] = {
		"since", "severity", "host", "rule", "limit", "cursor"
	};
	struct buf b;
	char sep = '?';

	buf_init(&b, 1u << 16);
	buf_puts(&b, "/v1/alerts");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!vals[i])
			continue;
		_cleanup_free_ char *e = api_escape(vals[i]);
		buf_printf(&b, "%c%s=%s", sep, names[i], e);
		sep = '&';
	}
	return buf_steal(&b);
}

static void print_fleet(const json_t *fleet, bool color)
{
	static const char *const head[] = { "RULE",   "SEVERITY", "HOSTS",
					    "GROUPS", "ALERTS",	  "LAST SEEN" };
	struct table tb;
	const json_t *r;
	size_t i;

	if (json_array_size(fleet) == 0)
		return;
	printf("\n%sAcross the fleet%s\n", color ? BOLD : "", color ? RESET : "");
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(fleet, i, r) {
		_cleanup_free_ char *title = fleet_text(json_object_get(r, "title"));
		_cleanup_free_ char *sev = fleet_text(json_object_get(r, "severity"));
		_cleanup_free_ char *hosts = fleet_text(json_object_get(r, "hosts"));
		_cleanup_free_ char *groups = fleet_text(json_object_get(r, "groups"));
		_cleanup_free_ char *count = fleet_text(json_object_get(r, "count"));
		_cleanup_free_ char *last = short_time(json_object_get(r, "last_seen"));
		const char *cells[] = { title, sev, hosts, groups, count, last };
		table_row(&tb, cells);
		table_color(&tb, 1, severity_color(sev));
	}
	tb.indent = 2;
	table_print(&tb, stdout, color);
	table_free(&tb);
}

static void print_alerts(const json_t *ans, bool color)
{
	static const char *const head[] = { "LAST SEEN", "SEVERITY", "HOST", "RULE",
					    "TECHNIQUE", "COUNT",    "ID" };
	const json_t *alerts = json_object_get(ans, "alerts"), *g;
	const json_t *next = json_object_get(ans, "next");
	struct table tb;
	size_t i;

	if (json_array_size(alerts) == 0) {
		printf("No alerts.\n");
		return;
	}
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(alerts, i, g) {
		const json_t *hn = json_object_get(g, "hostname");
		_cleanup_free_ char *last = short_time(json_object_get(g, "last_seen"));
		_cleanup_free_ char *sev = fleet_text(json_object_get(g, "severity"));
		_cleanup_free_ char *host = json_is_string(hn) ? fleet_text(hn)
					    : json_is_null(json_object_get(g, "host"))
						    ? xstrdup("(fleet)")
						    : xstrdup("-");
		_cleanup_free_ char *title = fleet_text(json_object_get(g, "title"));
		_cleanup_free_ char *tech = techniques_text(json_object_get(g, "techniques"));
		_cleanup_free_ char *count = fleet_text(json_object_get(g, "count"));
		_cleanup_free_ char *id = fleet_text(json_object_get(g, "id"));
		const char *cells[] = { last, sev, host, title, tech, count, id };
		table_row(&tb, cells);
		table_color(&tb, 1, severity_color(sev));
	}
	table_print(&tb, stdout, color);
	table_free(&tb);
	printf("\n%zu of %" JSON_INTEGER_FORMAT " alert groups (%" JSON_INTEGER_FORMAT " alerts)\n",
	       json_array_size(alerts), json_integer_value(json_object_get(ans, "total")),
	       json_integer_value(json_object_get(ans, "count")));
	if (json_is_string(next)) {
		_cleanup_free_ char *c = fleet_safe(json_string_value(next));
		printf("More: immune alerts --cursor %s (with the same filters)\n", c);
	}
	print_fleet(json_object_get(ans, "fleet"), color);
}

int cmd_alerts(int argc, char **argv)
{
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *vals[6] = { 0 };
	_cleanup_free_ char *path = NULL;
	bool json = false;
	json_t *ans = NULL;
	int64_t n;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:v:H:r:n:c:jS:h", common_opts, NULL)) != -1) {
		switch (c) {
		case 's': vals[0] = optarg; break;
		case 'v': vals[1] = optarg; break;
		case 'H': vals[2] = optarg; break;
		case 'r': vals[3] = optarg; break;
		case 'n': vals[4] = optarg; break;
		case 'c': vals[5] = optarg; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_alerts_help(); return EXIT_OK;
		default: return cli_usage_error("alerts", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("alerts", "unexpected argument '%s'", argv[optind]);
	if (vals[1] && alert_level_by_name(vals[1]) < 0)
		return cli_usage_error("alerts",
				       "unknown severity '%s' (valid: informational, low, medium, "
				       "high, critical)",
				       vals[1]);
	if (vals[4] && parse_i64(vals[4], 1, 1000, &n) < 0)
		return cli_usage_error("alerts", "--limit wants a number from 1 to 1000, not '%s'",
				       vals[4]);
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++)
		if (vals[i] && !*vals[i])
			return cli_usage_error("alerts", "an option's value is empty");
	r = fleet_config("alerts", config, &cfg);
	if (r)
		return r;
	path = alerts_query(vals);
	r = fleet_call("alerts", cfg, "GET", path, NULL, &ans);
	if (r)
		return r;
	bool listed = json_array_size(json_object_get(ans, "alerts")) > 0;
	if (json)
		r = fleet_print_json(ans);
	else
		print_alerts(ans, cli_color());
	json_decref(ans);
	return r ? r : listed ? EXIT_FINDINGS : EXIT_OK;
}

/* ---- alert show ---- */

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

/* The leaves of an OCSF event below prefix as "path  value" lines (the envelope skipped). */
static void print_leaves(const char *prefix, const json_t *v, int depth)
{
	static const char *const skip[] = { "class_uid", "activity_id",	 "category_uid",
					    "type_uid",	 "severity_id",	 "time",
					    "metadata",	 "unmapped.kind" };
	const char *k;
	json_t *c;
	size_t i;

	for (i = 0; prefix && i < ARRAY_SIZE(skip); i++)
		if (!strcmp(prefix, skip[i]))
			return;
	if (depth > 8)
		return;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c) {
			_cleanup_free_ char *p =
				prefix ? xasprintf("%s.%s", prefix, k) : xstrdup(k);
			print_leaves(p, c, depth + 1);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			_cleanup_free_ char *p = xasprintf("%s[%zu]", prefix ? prefix : "", i);
			print_leaves(p, c, depth + 1);
		}
	} else {
		_cleanup_free_ char *t = fleet_text(v);
		_cleanup_free_ char *sp = fleet_safe(prefix ? prefix : "");
		_cleanup_free_ char *sv = fleet_safe(t);
		printf("      %-28s %s\n", sp, sv);
	}
}

/* One evidence event: its time and kind, then each value it carries. */
static void print_event(const json_t *ev)
{
	const json_t *t = json_object_get(ev, "time");
	const json_t *kind = json_object_get(json_object_get(ev, "unmapped"), "kind");
	char when[32] = "-";
	int ms = 0;

	if (json_is_integer(t) && json_integer_value(t) >= 0) {
		time_t s = (time_t)(json_integer_value(t) / 1000);
		struct tm tm;
		ms = (int)(json_integer_value(t) % 1000);
		if (gmtime_r(&s, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	}
	_cleanup_free_ char *k =
		fleet_safe(json_is_string(kind) ? json_string_value(kind) : "event");
	printf("  %s.%03d  %s\n", when, ms, k);
	print_leaves(NULL, ev, 0);
}

static void print_alert(const json_t *g, bool color)
{
	const json_t *ev = json_object_get(g, "evidence"), *e;
	_cleanup_free_ char *title = fleet_text(json_object_get(g, "title"));
	_cleanup_free_ char *id = fleet_text(json_object_get(g, "id"));
	_cleanup_free_ char *head = xasprintf("Alert: %s (id %s)", title, id);
	_cleanup_free_ char *safe = fleet_safe(head);
	_cleanup_free_ char *rule =
		xasprintf("%s (%s)", json_string_value(json_object_get(g, "rule_id")) ?: "-",
			  json_string_value(json_object_get(g, "source")) ?: "-");
	const json_t *hn = json_object_get(g, "hostname");
	_cleanup_free_ char *host =
		json_is_null(json_object_get(g, "host"))
			? xstrdup("the fleet (raised by the server)")
			: xasprintf("%s (id %s)", json_is_string(hn) ? json_string_value(hn) : "-",
				    json_string_value(json_object_get(g, "host")) ?: "-");
	_cleanup_free_ char *tech = NULL;
	{
		struct buf b;
		const json_t *t;
		size_t i;
		buf_init(&b, 1u << 16);
		json_array_foreach(json_object_get(g, "techniques"), i, t)
			buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(t) ?: "?");
		tech = buf_steal(&b);
	}
	_cleanup_free_ char *first = short_time(json_object_get(g, "first_seen"));
	_cleanup_free_ char *last = short_time(json_object_get(g, "last_seen"));
	_cleanup_free_ char *count =
		xasprintf("%" JSON_INTEGER_FORMAT " (first %s, last %s UTC)",
			  json_integer_value(json_object_get(g, "count")), first, last);
	const char *sev = json_string_value(json_object_get(g, "severity"));
	const char *col = color ? severity_color(sev) : NULL;
	size_t i;

	printf("%s%s%s\n", color ? BOLD : "", safe, color ? RESET : "");
	field("Rule:", rule);
	printf("  %-13s %s%s%s\n", "Severity:", col ? col : "", sev ? sev : "-", col ? RESET : "");
	field("Host:", host);
	field("Techniques:", *tech ? tech : "-");
	field_json("Group key:", json_object_get(g, "group_key"));
	field("Count:", count);
	if (json_is_number(json_object_get(g, "score"))) {
		_cleanup_free_ char *sc =
			xasprintf("%.2f", json_number_value(json_object_get(g, "score")));
		field("Score:", sc);
	}
	field_json("Explanation:", json_object_get(g, "explanation"));
	printf("\n%sEvidence (%zu events, newest kept)%s\n", color ? BOLD : "", json_array_size(ev),
	       color ? RESET : "");
	if (json_array_size(ev) == 0)
		printf("  none\n");
	json_array_foreach(ev, i, e)
		print_event(e);
}

/* "show ID [--json] [--server-config F]": the verb, the id and the options. */
static int parse_show(const char *cmd, int argc, char **argv, void (*help)(void), const char **id,
		      bool *json, const char **config)
{
	int c;

	if (argc < 2)
		return cli_usage_error(cmd, "missing verb (show)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help();
		return -1;
	}
	if (strcmp(argv[1], "show") != 0)
		return cli_usage_error(cmd, "unknown verb '%s' (valid: show)", argv[1]);
	optind = 2;
	while ((c = getopt_long(argc, argv, "jS:h", common_opts + 6, NULL)) != -1) {
		switch (c) {
		case 'j': *json = true; break;
		case 'S': *config = optarg; break;
		case 'h': help(); return -1;
		default: return cli_usage_error(cmd, "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "show wants %s",
				       !strcmp(cmd, "alert") ? "an alert id (see 'immune alerts')"
							     : "a host id (see 'immune hosts')");
	*id = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!**id)
		return cli_usage_error(cmd, "the id is empty");
	return 0;
}

int cmd_alert(int argc, char **argv)
{
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *id = NULL;
	bool json = false;
	json_t *ans = NULL;
	int r;

	r = parse_show("alert", argc, argv, print_alert_help, &id, &json, &config);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = fleet_config("alert", config, &cfg);
	if (r)
		return r;
	_cleanup_free_ char *esc = api_escape(id);
	_cleanup_free_ char *path = xasprintf("/v1/alerts/%s", esc);
	r = fleet_call("alert", cfg, "GET", path, NULL, &ans);
	if (r)
		return r;
	if (json)
		r = fleet_print_json(ans);
	else
		print_alert(json_object_get(ans, "alert"), cli_color());
	json_decref(ans);
	return r;
}

/* ---- baseline show ---- */

/* A JSON value as indented lines: objects as "key: value", arrays as "- item" (at most 50). */
static void print_tree(const char *key, const json_t *v, int depth)
{
	int ind = 2 + depth * 2;
	_cleanup_free_ char *k = key ? fleet_safe(key) : NULL;

	if (json_is_object(v) && json_object_size(v) > 0) {
		const char *ck;
		json_t *cv;
		if (k)
			printf("%*s%s:\n", ind, "", k);
		json_object_foreach((json_t *)v, ck, cv)
			print_tree(ck, cv, k ? depth + 1 : depth);
	} else if (json_is_array(v) && json_array_size(v) > 0) {
		size_t i, n = json_array_size(v);
		json_t *cv;
		if (k)
			printf("%*s%s: (%zu)\n", ind, "", k, n);
		json_array_foreach(v, i, cv) {
			if (i == 50) {
				printf("%*s  ... %zu more\n", ind, "", n - 50);
				break;
			}
			_cleanup_free_ char *t = fleet_text(cv);
			_cleanup_free_ char *s = fleet_safe(t);
			printf("%*s- %s\n", ind + 2, "", s);
		}
	} else {
		_cleanup_free_ char *t = fleet_text(v);
		_cleanup_free_ char *s = fleet_safe(t);
		printf("%*s%s: %s\n", ind, "", k ? k : "", s);
	}
}

int cmd_baseline(int argc, char **argv)
{
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *id = NULL;
	bool json = false, color = cli_color();
	json_t *ans = NULL;
	int r;

	r = parse_show("baseline", argc, argv, print_baseline_help, &id, &json, &config);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = fleet_config("baseline", config, &cfg);
	if (r)
		return r;
	_cleanup_free_ char *path = NULL;
	r = fleet_host_path("baseline", cfg, id, "baseline", &path);
	if (!r)
		r = fleet_call("baseline", cfg, "GET", path, NULL, &ans);
	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
	} else {
		_cleanup_free_ char *safe = fleet_safe(id);
		_cleanup_free_ char *upd = fleet_ago(json_object_get(ans, "updated"));
		printf("%sBaseline of host %s%s (received %s)\n", color ? BOLD : "", safe,
		       color ? RESET : "", upd);
		print_tree(NULL, json_object_get(ans, "summary"), 0);
	}
	json_decref(ans);
	return r;
}
