/* immune findings [--host ID] [--framework KEY] [--status S] [--json] [--server-config FILE]:
 * results of the hosts' latest scans. Exit 1 when a failing or errored result is listed. */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "policy/catalog.h"

#include <getopt.h>

static const char *const statuses[] = { "fail", "error", "pass", "not_applicable", "all" };

static void print_help(void)
{
	printf("usage: immune findings [--host ID] [--framework KEY] [--status STATUS] [--json]\n\n"
	       "Lists the results of every host's latest scan; by default the failing and\n"
	       "errored ones (the server's default).\n\n"
	       "  --host ID            only this host\n"
	       "  --framework KEY      only checks mapped to this framework (cis, pci_dss, ...)\n"
	       "  --status STATUS      fail, error, pass, not_applicable or all\n"
	       "  --json               print the server's answer (GET /v1/findings, docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n\n"
	       "Exit status: 0 nothing listed failed, 1 a failing or errored result is listed,\n"
	       "2 usage or runtime error.\n");
}

static bool valid_status(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(statuses); i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}

static char *query(const char *host, const char *framework, const char *status)
{
	struct buf b;
	const char *names[] = { "host", "framework", "status" };
	const char *vals[] = { host, framework, status };
	char sep = '?';

	buf_init(&b, 1u << 16);
	buf_puts(&b, "/v1/findings");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *e = NULL;
		if (!vals[i])
			continue;
		e = api_escape(vals[i]);
		buf_printf(&b, "%c%s=%s", sep, names[i], e);
		sep = '&';
	}
	return buf_steal(&b);
}

static bool print_findings(const json_t *findings)
{
	static const char *const head[] = { "HOST", "STATUS", "SEVERITY", "CHECK", "MESSAGE" };
	static const char *const keys[] = { "hostname", "status", "severity", "id", "message" };
	bool failing = false;
	struct table tb;
	const json_t *f;
	size_t i;

	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(findings, i, f) {
		const char *st = json_string_value(json_object_get(f, "status"));
		char *cells[ARRAY_SIZE(keys)];
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			cells[k] = fleet_text(json_object_get(f, keys[k]));
		table_row(&tb, (const char *const *)cells);
		table_color(&tb, 1, status_color(st));
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			free(cells[k]);
	}
	if (tb.nrows == 1)
		printf("No findings.\n");
	else
		table_print(&tb, stdout, cli_color());
	table_free(&tb);
	json_array_foreach(findings, i, f) {
		const char *st = json_string_value(json_object_get(f, "status"));
		failing = failing || (st && (strcmp(st, "fail") == 0 || strcmp(st, "error") == 0));
	}
	return failing;
}

int cmd_findings(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "framework", required_argument, NULL, 'f' },
		{ "status", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *host = NULL, *framework = NULL, *status = NULL;
	_cleanup_free_ char *path = NULL;
	bool json = false, failing = false;
	json_t *ans = NULL, *f;
	size_t i;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "H:f:s:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'f': framework = optarg; break;
		case 's': status = optarg; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("findings", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("findings", "unexpected argument '%s'", argv[optind]);
	if (framework && catalog_framework_index(framework) < 0)
		return cli_unknown_framework("findings", framework);
	if (status && !valid_status(status))
		return cli_usage_error("findings",
				       "unknown status '%s' (valid: fail, error, pass, "
				       "not_applicable, all)",
				       status);
	if (host && !*host)
		return cli_usage_error("findings", "--host wants a host id (see 'immune hosts')");
	r = fleet_config("findings", config, &cfg);
	if (r)
		return r;
	path = query(host, framework, status);
	r = fleet_call("findings", cfg, "GET", path, NULL, &ans);
	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
		json_array_foreach(json_object_get(ans, "findings"), i, f) {
			const char *st = json_string_value(json_object_get(f, "status"));
			failing = failing ||
				  (st && (strcmp(st, "fail") == 0 || strcmp(st, "error") == 0));
		}
	} else {
		failing = print_findings(json_object_get(ans, "findings"));
		r = EXIT_OK;
	}
	json_decref(ans);
	return r ? r : failing ? EXIT_FINDINGS : EXIT_OK;
}
