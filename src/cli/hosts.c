/* immune hosts [--json] [--server-config FILE]: the fleet's hosts. */
#include "cli/api_client.h"
#include "cli/cli.h"

#include <getopt.h>

static void print_help(void)
{
	printf("usage: immune hosts [--json] [--server-config FILE]\n\n"
	       "Lists the enrolled hosts: id, name, operating system, labels, whether the agent\n"
	       "is connected, when it was last seen and its posture score (100 x pass / (pass +\n"
	       "fail + error) of its latest scan).\n\n"
	       "  --json               print the server's answer (GET /v1/hosts, docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n");
}

static const char *score_color(const json_t *score)
{
	double s = json_number_value(score);

	if (!json_is_number(score))
		return "\033[2m";
	return s >= 90 ? "\033[32m" : s >= 70 ? "\033[33m" : "\033[31m";
}

static void print_hosts(const json_t *hosts)
{
	static const char *const head[] = { "ID",	 "NAME",      "OS",    "LABELS",
					    "CONNECTED", "LAST SEEN", "SCORE", "FAILED" };
	struct table tb;
	const json_t *h;
	size_t i;

	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(hosts, i, h) {
		const json_t *score = json_object_get(h, "score");
		bool conn = json_is_true(json_object_get(h, "connected"));
		bool revoked = json_is_true(json_object_get(h, "revoked"));
		_cleanup_free_ char *id = fleet_text(json_object_get(h, "id"));
		_cleanup_free_ char *name = fleet_text(json_object_get(h, "hostname"));
		_cleanup_free_ char *os = fleet_text(json_object_get(h, "os"));
		_cleanup_free_ char *labels = fleet_text(json_object_get(h, "labels"));
		_cleanup_free_ char *seen = fleet_ago(json_object_get(h, "last_seen"));
		_cleanup_free_ char *sc =
			json_is_number(score) ? fleet_text(score) : xstrdup("not scanned");
		_cleanup_free_ char *failed = fleet_text(json_object_get(h, "checks_failed"));
		const char *cells[] = {
			id,   name, os,	   labels, revoked ? "revoked" : conn ? "yes" : "no",
			seen, sc,   failed
		};
		table_row(&tb, cells);
		table_color(&tb, 4, conn ? "\033[32m" : "\033[2m");
		table_color(&tb, 6, score_color(score));
	}
	if (tb.nrows == 1)
		printf("No hosts are enrolled. Create a join token with 'immune token create'.\n");
	else
		table_print(&tb, stdout, cli_color());
	table_free(&tb);
}

int cmd_hosts(int argc, char **argv)
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

	optind = 1;
	while ((c = getopt_long(argc, argv, "jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("hosts", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("hosts",
				       "unexpected argument '%s' (to see one host: immune "
				       "host show ID)",
				       argv[optind]);
	r = fleet_config("hosts", config, &cfg);
	if (r == 0)
		r = fleet_call("hosts", cfg, "GET", "/v1/hosts", NULL, &ans);
	if (r)
		return r;
	if (json)
		r = fleet_print_json(ans);
	else
		print_hosts(json_object_get(ans, "hosts"));
	json_decref(ans);
	return r;
}
