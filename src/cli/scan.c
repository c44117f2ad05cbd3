/* immune scan [--root DIR] [--catalog PATH] [--framework KEY] [--check ID] [--json]
 *             [--format text|json|html|oscal] [-o FILE] [--verbose] */
#include "cli/cli.h"
#include "lib/log.h"
#include "policy/catalog.h"
#include "policy/eval.h"
#include "policy/report.h"
#include "policy/scan.h"

#include <getopt.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

typedef int (*report_writer)(const json_t *, FILE *, const struct report_options *);

/* Report formats (src/policy/report.h). */
static const struct {
	const char *name;
	report_writer write;
} formats[] = {
	{ "text", report_write_text },
	{ "json", report_write_json },
	{ "html", report_write_html },
	{ "oscal", report_write_oscal },
};

static void print_help(void)
{
	printf("usage: immune scan [--root DIR] [--catalog DIR|FILE] [--framework KEY] [--check "
	       "ID]\n"
	       "                   [--json] [--format text|json|html|oscal] [-o FILE] "
	       "[--verbose]\n\n"
	       "Collects the inventory below DIR (default /), evaluates the compliance catalog\n"
	       "against it and prints a report.\n\n"
	       "  --root DIR        scan a mounted image, container root or fixture instead of /\n"
	       "  --catalog PATH    catalog directory or file (default: the installed catalog)\n"
	       "  --framework KEY   only checks mapped to this framework (cis, pci_dss, ...)\n"
	       "  --check ID        only this check\n"
	       "  --json            same as --format json (schema: docs/scan-json.md)\n"
	       "  --format FMT      text (default), json, html or oscal\n"
	       "  -o, --output FILE write the report to FILE instead of standard output\n"
	       "  -v, --verbose     text: list passing and not applicable checks too\n\n"
	       "Exit status: 0 nothing failed, 1 a check failed, 2 usage or runtime error or a\n"
	       "check in error.\n");
}

/* ---- progress on a terminal, only when the scan takes more than a second ---- */

struct progress {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, shown, started;
	const char *phase;
	struct timespec t0;
};

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == 0 || p->done)
			continue;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "\r\033[Kimmune scan: %s... %lds", p->phase,
			(long)(now.tv_sec - p->t0.tv_sec));
		fflush(stderr);
		p->shown = true;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 500000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	if (p->shown)
		fputs("\r\033[K", stderr);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void progress_start(struct progress *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->phase = "collecting the inventory";
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	if (isatty(STDERR_FILENO) && pthread_create(&p->thread, NULL, progress_main, p) == 0)
		p->started = true;
}

static void progress_phase(struct progress *p, const char *phase)
{
	pthread_mutex_lock(&p->lock);
	p->phase = phase;
	pthread_mutex_unlock(&p->lock);
}

static void progress_stop(struct progress *p)
{
	pthread_mutex_lock(&p->lock);
	p->done = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->started)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/* ---- helpers ---- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int unknown_check(const struct catalog *cat, const char *id)
{
	char list[1024] = "";
	size_t len = 0, shown = 0;
	/* name the ids that look alike first, then the first few of the catalog */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < cat->n && shown < 10 && len < sizeof(list); i++) {
			const char *cid = cat->checks[i]->id;
			bool like = strstr(cid, id) || strstr(id, cid);
			if (like != (pass == 0))
				continue;
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						shown++ ? ", " : "", cid);
		}
	if (!cat->n)
		return cli_usage_error("scan", "unknown check '%s' (the catalog is empty)", id);
	return cli_usage_error("scan", "unknown check '%s' (valid: %s%s; see 'immune checks list')",
			       id, list, cat->n > shown ? ", ..." : "");
}

static report_writer find_format(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (strcmp(formats[i].name, name) == 0)
			return formats[i].write;
	return NULL;
}

static int exit_code(const json_t *doc)
{
	const json_t *sum = json_object_get(doc, "summary");
	if (json_integer_value(json_object_get(sum, "error")) > 0)
		return EXIT_ERROR;
	if (json_integer_value(json_object_get(sum, "fail")) > 0)
		return EXIT_FINDINGS;
	return EXIT_OK;
}

static int write_report(const json_t *doc, report_writer write, const char *path, bool verbose)
{
	struct report_options ro = { .verbose = verbose, .color = !path && cli_color() };
	if (!path) {
		int r = write(doc, stdout, &ro);
		return r < 0 ? log_errno(r, "writing the report") : 0;
	}
	FILE *f = fopen(path, "we");
	if (!f)
		return log_errno(-errno, "cannot create '%s'", path);
	int r = write(doc, f, &ro);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r < 0 ? log_errno(r, "writing '%s'", path) : 0;
}

struct scan_args {
	const char *root, *catalog, *framework, *check, *format, *output;
	bool verbose;
};

static int parse_args(int argc, char **argv, struct scan_args *a)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "catalog", required_argument, NULL, 'c' },
		{ "framework", required_argument, NULL, 'f' },
		{ "check", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;
	*a = (struct scan_args){ .root = "/", .format = "text" };
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:c:f:k:jF:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': a->root = optarg; break;
		case 'c': a->catalog = optarg; break;
		case 'f': a->framework = optarg; break;
		case 'k': a->check = optarg; break;
		case 'j': a->format = "json"; break;
		case 'F': a->format = optarg; break;
		case 'o': a->output = optarg; break;
		case 'v': a->verbose = true; break;
		case 'h': print_help(); return -1;
		default: return cli_usage_error("scan", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("scan", "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_scan(int argc, char **argv)
{
	struct scan_args a;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	time_t started = time(NULL);
	int r = parse_args(argc, argv, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	report_writer write = find_format(a.format);
	if (!write)
		return cli_usage_error(
			"scan", "unknown format '%s' (valid: text, json, html, oscal)", a.format);
	if (a.framework && catalog_framework_index(a.framework) < 0)
		return cli_unknown_framework("scan", a.framework);

	_cleanup_(catalog_freep) struct catalog *cat = NULL;
	if (cli_load_catalog(a.catalog, &cat) < 0)
		return EXIT_ERROR;
	if (a.check && !catalog_find(cat, a.check))
		return unknown_check(cat, a.check);
	if (cat->n == 0)
		log_warn("the catalog holds no checks");
	double load_ms = ms_since(&t0);

	struct progress prog;
	struct inventory *inv = NULL;
	struct inv_options io = { 0 };
	progress_start(&prog);
	r = inventory_collect(a.root, &io, &inv);
	if (r < 0) {
		progress_stop(&prog);
		log_error("cannot read root directory '%s': %s", a.root, strerror(-r));
		return EXIT_ERROR;
	}
	progress_phase(&prog, "evaluating checks");
	struct scan_options so = {
		.framework = a.framework, .check = a.check, .started = started, .other_ms = load_ms
	};
	json_t *doc = NULL;
	r = scan_run(cat, inv, &so, &doc);
	progress_stop(&prog);
	inventory_free(inv);
	if (r < 0) {
		log_errno(r, "scanning '%s'", a.root);
		return EXIT_ERROR;
	}
	r = write_report(doc, write, a.output, a.verbose);
	int code = r < 0 ? EXIT_ERROR : exit_code(doc);
	json_decref(doc);
	return code;
}
