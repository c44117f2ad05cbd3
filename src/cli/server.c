/* immune server status [--json] [--server-config FILE]: the server's version, uptime,
 * connected agents and its counters of refused or dropped work (GET /v1/status). */
#include "cli/api_client.h"
#include "cli/cli.h"

#include <getopt.h>
#include <inttypes.h>

static void print_help(void)
{
	printf("usage: immune server status [--json] [--server-config FILE]\n\n"
	       "Shows the server's version, uptime, connected agents, hosts and counters (what\n"
	       "it refused or dropped since it started; docs/api.md lists them).\n\n"
	       "  --json               print the server's answer (GET /v1/status)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n");
}

static char *uptime_text(const json_t *v)
{
	int64_t s =
		json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)json_number_value(v);

	if (s < 0)
		s = 0;
	if (s < 3600)
		return xasprintf("%" PRId64 "m %" PRId64 "s", s / 60, s % 60);
	if (s < 86400)
		return xasprintf("%" PRId64 "h %" PRId64 "m", s / 3600, s % 3600 / 60);
	return xasprintf("%" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
}

static void print_status(const struct api_config *cfg, const json_t *st, bool color)
{
	static const char *const head[] = { "COUNTER", "VALUE" };
	_cleanup_free_ char *ver = fleet_text(json_object_get(st, "version"));
	_cleanup_free_ char *up = uptime_text(json_object_get(st, "uptime_s"));
	_cleanup_free_ char *agents = fleet_text(json_object_get(st, "agents_connected"));
	_cleanup_free_ char *hosts = fleet_text(json_object_get(st, "hosts"));
	_cleanup_free_ char *api = fleet_safe(cfg->api);
	const json_t *counters = json_object_get(st, "counters");
	struct table tb;
	const char *k;
	json_t *v;

	printf("%simmune-server at %s%s\n", color ? "\033[1m" : "", api, color ? "\033[0m" : "");
	table_init(&tb, 2, head);
	tb.indent = 2;
	{
		const char *rows[][2] = { { "version", ver },
					  { "uptime", up },
					  { "agents connected", agents },
					  { "hosts", hosts } };
		for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
			_cleanup_free_ char *s = fleet_safe(rows[i][1]);
			printf("  %-17s %s\n", rows[i][0], s);
		}
	}
	json_object_foreach((json_t *)counters, k, v) {
		_cleanup_free_ char *n = fleet_text(v);
		const char *cells[] = { k, n };
		table_row(&tb, cells);
	}
	if (tb.nrows > 1) {
		printf("\n");
		table_print(&tb, stdout, color);
	}
	table_free(&tb);
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL;
	bool json = false;
	json_t *ans = NULL;
	int c, r;

	if (argc < 2)
		return cli_usage_error("server", "missing verb (status)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_help();
		return EXIT_OK;
	}
	if (strcmp(argv[1], "status") != 0)
		return cli_usage_error("server", "unknown verb '%s' (valid: status)", argv[1]);
	optind = 2;
	while ((c = getopt_long(argc, argv, "jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("server", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("server", "unexpected argument '%s'", argv[optind]);
	r = fleet_config("server", config, &cfg);
	if (r == 0)
		r = fleet_call("server", cfg, "GET", "/v1/status", NULL, &ans);
	if (r)
		return r;
	if (json)
		r = fleet_print_json(ans);
	else
		print_status(cfg, ans, cli_color());
	json_decref(ans);
	return r;
}
