/* immune report --framework KEY [--format json|html|oscal] [-o FILE] [--server-config FILE]:
 * fleet-wide compliance evidence (docs/fleet-report.md) from GET /v1/hosts and
 * GET /v1/findings?framework=KEY&status=all. */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "policy/catalog.h"
#include "policy/fleet_report.h"

#include <getopt.h>
#include <unistd.h>

static const struct {
	const char *name;
	int (*write)(const json_t *, FILE *);
} formats[] = {
	{ "json", fleet_report_write_json },
	{ "html", fleet_report_write_html },
	{ "oscal", fleet_report_write_oscal },
};

static void print_help(void)
{
	printf("usage: immune report --framework KEY [--format json|html|oscal] [-o FILE]\n\n"
	       "Builds fleet-wide compliance evidence for one framework from the latest scan of\n"
	       "every host: per control, the checks mapped to it and each host's result, with\n"
	       "counts and scores (docs/fleet-report.md).\n\n"
	       "  --framework KEY      cis, pci_dss, nist_800_53, ... (required)\n"
	       "  --format FMT         json (immune.fleet-report/v1, default), html (one\n"
	       "                       self-contained file) or oscal (OSCAL 1.1.2\n"
	       "                       assessment-results)\n"
	       "  -o, --output FILE    write the report to FILE instead of standard output\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n");
}

static void progress(const char *what)
{
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[Kimmune report: %s...", what);
}

static void progress_done(void)
{
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
}

static int write_out(int (*write)(const json_t *, FILE *), const json_t *doc, const char *path)
{
	FILE *f;
	int r;

	if (!path) {
		r = write(doc, stdout);
		if (r < 0)
			fprintf(stderr, "immune report: writing the report: %s\n", strerror(-r));
		return r < 0 ? EXIT_ERROR : EXIT_OK;
	}
	f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "immune report: cannot create '%s': %s\n", path, strerror(errno));
		return EXIT_ERROR;
	}
	r = write(doc, f);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "immune report: writing '%s': %s\n", path, strerror(-r));
		unlink(path);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "framework", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *framework = NULL, *format = "json", *output = NULL;
	int (*write)(const json_t *, FILE *) = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	json_t *hosts = NULL, *findings = NULL, *doc = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:F:o:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': framework = optarg; break;
		case 'F': format = optarg; break;
		case 'o': output = optarg; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("report", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (!framework)
		return cli_usage_error("report", "--framework KEY is required (such as cis)");
	if (catalog_framework_index(framework) < 0)
		return cli_unknown_framework("report", framework);
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (strcmp(formats[i].name, format) == 0)
			write = formats[i].write;
	if (!write)
		return cli_usage_error("report", "unknown format '%s' (valid: json, html, oscal)",
				       format);
	r = fleet_config("report", config, &cfg);
	if (r)
		return r;

	progress("fetching the hosts");
	r = fleet_call("report", cfg, "GET", "/v1/hosts", NULL, &hosts);
	if (r == 0) {
		progress("fetching the findings");
		esc = api_escape(framework);
		path = xasprintf("/v1/findings?framework=%s&status=all", esc);
		r = fleet_call("report", cfg, "GET", path, NULL, &findings);
	}
	if (r == 0) {
		progress("building the report");
		r = fleet_report_build(hosts, findings, framework, 0, &doc);
		if (r < 0) {
			progress_done();
			fprintf(stderr,
				"immune report: the server's answers are not shaped as docs/api.md "
				"says (no hosts or findings array)\n");
			r = EXIT_ERROR;
		}
	}
	progress_done();
	if (r == 0)
		r = write_out(write, doc, output);
	if (r == 0 && output) {
		const json_t *sum = json_object_get(doc, "summary");
		const json_t *sc = json_object_get(sum, "score");
		_cleanup_free_ char *score = json_is_number(sc) ? fleet_text(sc) : xstrdup("n/a");
		fprintf(stderr,
			"immune report: wrote %s: %" JSON_INTEGER_FORMAT
			" hosts, %" JSON_INTEGER_FORMAT " controls, fleet score %s\n",
			output, json_integer_value(json_object_get(sum, "hosts")),
			json_integer_value(json_object_get(sum, "controls")), score);
	}
	json_decref(hosts);
	json_decref(findings);
	json_decref(doc);
	return r;
}
