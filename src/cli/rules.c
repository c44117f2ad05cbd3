/* immune rules check [PATH] [--json]
 * immune rules test [PATH] [--events FILE] [--cases DIR] [--json]
 *
 * check loads and compiles Sigma rules and lists what was rejected; test runs OCSF JSON events
 * (docs/events.md) through the detection pipeline and prints the alerts, or replays each
 * rule's cases (DIR/<stem>.match.jsonl must alert with the rule, DIR/<stem>.nomatch.jsonl must
 * not). See docs/cli.md and docs/rules.md. */
#include "cli/cli.h"
#include "detect/event_json.h"
#include "detect/pipeline.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/str.h"

#include "config.h"

#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVENTS_FILE_MAX (256u << 20) /* bytes of JSON lines read from one file or stdin */

static void print_help(void)
{
	printf("usage: immune rules check [PATH] [--json]\n"
	       "       immune rules test [PATH] [--events FILE] [--cases DIR] [--json]\n\n"
	       "check  loads and compiles the Sigma rules at PATH (a file or a directory) and\n"
	       "       prints how many loaded and each rejected rule as FILE:LINE: RULE-ID: "
	       "reason.\n"
	       "       Exit 0 when all loaded, 1 when some were rejected.\n"
	       "test   runs OCSF JSON events, one per line, through the detection pipeline with\n"
	       "       these rules and prints the alerts (rule id, title, level, evidence "
	       "count).\n\n"
	       "  --events FILE  the events (default: standard input; '-' is standard input)\n"
	       "  --cases DIR    replay every rule's cases instead: DIR/<stem>.match.jsonl must\n"
	       "                 alert with the rule, DIR/<stem>.nomatch.jsonl must not (stem: "
	       "the\n"
	       "                 rule's file name without .yml); exit 1 on any failure or rule\n"
	       "                 without cases\n"
	       "  --json         print JSON (schemas immune.rules_check/v1, immune.rules_test/v1,\n"
	       "                 immune.rules_cases/v1)\n\n"
	       "PATH defaults to the installed rules (" IMMUNE_RULES_DIR "/linux), else the\n"
	       "source tree's rules/linux.\n");
}

/* ---- check ------------------------------------------------------------------------------ */

static json_t *errors_json(const struct sigma_error *e, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:I, s:s?, s:s}", "file", e[i].file,
						   "line", (json_int_t)e[i].line, "rule_id",
						   e[i].rule_id, "message", e[i].message));
	return a;
}

static void print_errors(FILE *f, const struct sigma_error *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *msg = fleet_safe(e[i].message);
		fprintf(f, "%s:%u: %s: %s\n", e[i].file, e[i].line,
			e[i].rule_id ? e[i].rule_id : "-", msg);
	}
}

static int rules_check(const char *path, bool json)
{
	struct sigma_ruleset *rs = NULL;
	const struct sigma_error *errs;
	size_t n_err;
	int r;

	r = sigma_ruleset_new(&rs);
	if (r == 0)
		r = sigma_ruleset_load(rs, path);
	if (r < 0) {
		sigma_ruleset_free(rs);
		fprintf(stderr, "immune rules check: cannot read '%s': %s\n", path, strerror(-r));
		return EXIT_ERROR;
	}
	sigma_ruleset_compile(rs);
	errs = sigma_ruleset_errors(rs, &n_err);
	if (json) {
		json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:o}", "schema",
					"immune.rules_check/v1", "path", path, "loaded",
					(json_int_t)sigma_ruleset_count(rs), "rejected",
					(json_int_t)n_err, "errors", errors_json(errs, n_err));
		r = fleet_print_json(doc);
		json_decref(doc);
		if (r != EXIT_OK) {
			sigma_ruleset_free(rs);
			return r;
		}
	} else {
		printf("%s: %zu rules loaded, %zu rejected\n", path, sigma_ruleset_count(rs),
		       n_err);
		print_errors(stdout, errs, n_err);
	}
	sigma_ruleset_free(rs);
	return n_err ? EXIT_FINDINGS : EXIT_OK;
}

/* ---- reading events --------------------------------------------------------------------- */

static int read_events_file(const char *path, struct buf *out)
{
	if (!strcmp(path, "-"))
		return fd_read_capped(STDIN_FILENO, EVENTS_FILE_MAX, out);
	return file_read_capped(path, EVENTS_FILE_MAX, out);
}

typedef void (*event_fn)(struct host_event *ev, unsigned line, void *arg);

/* Calls fn for each event line of text (blank lines and lines starting with '#' skipped);
 * unreadable lines are reported as "name:line: ..." on stderr and counted. */
static size_t for_each_event(const char *name, const struct buf *text, event_fn fn, void *arg,
			     size_t *n_events)
{
	const char *p = buf_str(text), *end = p + buf_len(text);
	struct host_event ev;
	size_t bad = 0;
	unsigned line = 0;

	host_event_init(&ev);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *s = p;
		line++;
		p = nl ? nl + 1 : end;
		while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		while (len && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		if (!len || *s == '#')
			continue;
		if (host_event_from_json_text(s, len, &ev) < 0) {
			fprintf(stderr, "%s:%u: not an OCSF event as docs/events.md describes\n",
				name, line);
			bad++;
			continue;
		}
		(*n_events)++;
		fn(&ev, line, arg);
	}
	host_event_free(&ev);
	return bad;
}

/* ---- test --events ---------------------------------------------------------------------- */

/* The same colours as immune alerts: critical bold red, high red, medium yellow, low cyan. */
static const char *level_color(enum sigma_level l)
{
	switch (l) {
	case SIGMA_LEVEL_CRITICAL: return "\033[1;31m";
	case SIGMA_LEVEL_HIGH: return "\033[31m";
	case SIGMA_LEVEL_MEDIUM: return "\033[33m";
	case SIGMA_LEVEL_LOW: return "\033[36m";
	default: return "\033[2m";
	}
}

struct events_run {
	bool json, color;
	json_t *alerts;
	size_t n_alerts;
};

static void events_alert(const struct alert *a, void *arg)
{
	struct events_run *run = arg;

	run->n_alerts++;
	if (run->json) {
		json_array_append_new(run->alerts,
				      json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?}", "rule_id",
						a->rule_id, "title", a->title, "level",
						sigma_level_name(a->level), "source",
						a->source == ALERT_CORRELATION ? "correlation"
						: a->source == ALERT_ANOMALY   ? "anomaly"
									       : "rule",
						"evidence", (json_int_t)a->n_evidence, "group_key",
						a->group_key));
		return;
	}
	_cleanup_free_ char *title = fleet_safe(a->title);
	_cleanup_free_ char *key =
		a->group_key && a->group_key[0] ? fleet_safe(a->group_key) : NULL;
	printf("%s%-13s%s %-36s %s (%zu evidence%s%s)\n", run->color ? level_color(a->level) : "",
	       sigma_level_name(a->level), run->color ? "\033[0m" : "", a->rule_id, title,
	       a->n_evidence, key ? ", group " : "", key ? key : "");
}

static void events_feed(struct host_event *ev, unsigned line, void *arg)
{
	(void)line;
	pipeline_event(arg, ev);
}

static int report_rule_errors(const struct pipeline *p)
{
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(pipeline_rules(p), &n);
	print_errors(stderr, e, n);
	return (int)(n > 0);
}

static int rules_test_events(const char *rules, const char *events, bool json)
{
	struct events_run run = { .json = json,
				  .color = !json && cli_color(),
				  .alerts = json_array() };
	struct pipeline_options o = { .rules = rules,
				      .hostname = "replay",
				      .sink = { .alert = events_alert, .arg = &run } };
	struct pipeline *p = NULL;
	struct buf text = { 0 };
	size_t bad, n_events = 0;
	int r;

	r = read_events_file(events, &text);
	if (r < 0) {
		fprintf(stderr, "immune rules test: cannot read events from '%s': %s\n", events,
			strerror(-r));
		json_decref(run.alerts);
		return EXIT_ERROR;
	}
	r = pipeline_new(&o, &p);
	if (r < 0) {
		fprintf(stderr, "immune rules test: cannot load the rules at '%s': %s\n", rules,
			strerror(-r));
		buf_free(&text);
		json_decref(run.alerts);
		return EXIT_ERROR;
	}
	report_rule_errors(p);
	bad = for_each_event(strcmp(events, "-") ? events : "<stdin>", &text, events_feed, p,
			     &n_events);
	pipeline_free(p);
	buf_free(&text);
	if (json) {
		json_t *doc = json_pack("{s:s, s:I, s:I, s:o}", "schema", "immune.rules_test/v1",
					"events", (json_int_t)n_events, "bad_lines",
					(json_int_t)bad, "alerts", run.alerts);
		r = fleet_print_json(doc);
		json_decref(doc);
		if (r != EXIT_OK)
			return r;
	} else {
		json_decref(run.alerts);
		printf("%zu events, %zu alerts, %zu unreadable lines\n", n_events, run.n_alerts,
		       bad);
	}
	return bad ? EXIT_FINDINGS : EXIT_OK;
}

/* ---- test --cases ----------------------------------------------------------------------- */

/* One replay of a case file: did the rule under test alert (or, for a detection rule whose
 * own alerts only feed correlations, match) on each event, and on which line first. */
struct case_run {
	struct pipeline *p;
	struct sigma_scratch *sc;
	size_t rule; /* index in the pipeline's ruleset */
	const char *rule_id;
	bool detection;
	unsigned line, hit_line, missed_line; /* first line that alerted, that did not */
	bool hit, ev_hit;
};

static void case_alert(const struct alert *a, void *arg)
{
	struct case_run *c = *(struct case_run **)arg;
	if (c && !strcmp(a->rule_id, c->rule_id))
		c->ev_hit = true;
}

static void case_match(size_t rule, void *arg)
{
	struct case_run *c = arg;
	if (rule == c->rule)
		c->ev_hit = true;
}

static void case_feed(struct host_event *ev, unsigned line, void *arg)
{
	struct case_run *c = arg;

	c->line = line;
	c->ev_hit = false;
	pipeline_event(c->p, ev);
	/* a rule referenced only by correlations without generate does not alert alone: its
	 * cases check that it matches */
	if (c->detection && !c->ev_hit)
		sigma_match(pipeline_rules(c->p), ev, c->sc, case_match, c);
	if (c->ev_hit && !c->hit) {
		c->hit = true;
		c->hit_line = line;
	} else if (!c->ev_hit && !c->missed_line)
		c->missed_line = line;
}

struct cases_ctx {
	struct case_run *cur; /* the pipelines' sink argument */
	struct pipeline *shared;
	const char *rules, *dir;
	bool json;
	json_t *failures;
	struct sigma_scratch *sc;
	size_t bad_lines;
};

static void case_failure(struct cases_ctx *x, const struct sigma_rule *r, const char *file,
			 unsigned line, const char *what)
{
	if (x->json) {
		json_array_append_new(x->failures,
				      json_pack("{s:s, s:s, s:s, s:I, s:s}", "rule_id", r->id,
						"rule", r->file, "case", file, "line",
						(json_int_t)line, "message", what));
		return;
	}
	_cleanup_free_ char *title = fleet_safe(r->title);
	if (line)
		printf("FAIL %s:%u: %s (%s): %s\n", file, line, r->id, title, what);
	else
		printf("FAIL %s: %s (%s): %s\n", file, r->id, title, what);
}

static int new_pipeline(struct cases_ctx *x, struct pipeline **out)
{
	struct pipeline_options o = { .rules = x->rules,
				      .hostname = "replay",
				      .sink = { .alert = case_alert, .arg = &x->cur } };
	int r = pipeline_new(&o, out);
	if (r < 0)
		fprintf(stderr, "immune rules test: cannot load the rules at '%s': %s\n", x->rules,
			strerror(-r));
	return r;
}

/* Replays one case file; returns 1 when it behaved as expected, 0 when not, -1 when the
 * file is missing, -2 on a pipeline error. */
static int replay_case(struct cases_ctx *x, const struct sigma_rule *rule, const char *file,
		       bool expect, const char **what, unsigned *line)
{
	struct case_run c = { .sc = x->sc, .rule_id = rule->id };
	struct buf text = { 0 };
	size_t n_events = 0, bad;
	int r;

	r = file_read_capped(file, EVENTS_FILE_MAX, &text);
	if (r == -ENOENT)
		return -1;
	if (r < 0) {
		*what = strerror(-r);
		*line = 0;
		return 0;
	}
	/* a correlation's case gets a fresh pipeline, so that no state leaks between cases;
	 * detection rules do not depend on earlier events and share one */
	if (rule->correlation || !x->shared) {
		r = new_pipeline(x, rule->correlation ? &c.p : &x->shared);
		if (r < 0) {
			buf_free(&text);
			return -2;
		}
	}
	if (!rule->correlation)
		c.p = x->shared;
	ssize_t idx = sigma_ruleset_find(pipeline_rules(c.p), rule->id);
	if (idx >= 0) {
		c.rule = (size_t)idx;
		c.detection = !sigma_ruleset_rule(pipeline_rules(c.p), c.rule)->correlation;
	}
	x->cur = &c;
	bad = for_each_event(file, &text, case_feed, &c, &n_events);
	x->cur = NULL;
	if (c.p != x->shared)
		pipeline_free(c.p);
	buf_free(&text);
	x->bad_lines += bad;
	*line = c.hit_line;
	if (bad) {
		*what = "unreadable event lines";
		*line = 0;
		return 0;
	}
	if (!n_events) {
		*what = "no events";
		return 0;
	}
	if (expect && !c.hit) {
		*what = "did not alert";
		return 0;
	}
	/* each event of a detection rule's match file is a case of its own */
	if (expect && c.detection && c.missed_line) {
		*what = "this event did not alert";
		*line = c.missed_line;
		return 0;
	}
	if (!expect && c.hit) {
		*what = "alerted on a near miss";
		return 0;
	}
	return 1;
}

/* The rule's file name without directory and .yml/.yaml. */
static char *rule_stem(const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	size_t n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".yml"))
		n -= 4;
	else if (n > 5 && !strcmp(base + n - 5, ".yaml"))
		n -= 5;
	return xstrndup(base, n);
}

static int rules_test_cases(const char *rules, const char *dir, bool json)
{
	struct cases_ctx x = { .rules = rules, .dir = dir, .json = json };
	struct sigma_ruleset *rs = NULL;
	size_t n_err, passed = 0, failed = 0, without = 0;
	const struct sigma_error *errs;
	struct stat st;
	int r;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "immune rules test: '%s' is not a directory of cases\n", dir);
		return EXIT_ERROR;
	}
	r = sigma_ruleset_new(&rs);
	if (r == 0)
		r = sigma_ruleset_load(rs, rules);
	if (r < 0) {
		sigma_ruleset_free(rs);
		fprintf(stderr, "immune rules test: cannot read '%s': %s\n", rules, strerror(-r));
		return EXIT_ERROR;
	}
	sigma_ruleset_compile(rs);
	errs = sigma_ruleset_errors(rs, &n_err);
	print_errors(stderr, errs, n_err);
	x.failures = json_array();
	x.sc = sigma_scratch_new();

	size_t n = sigma_ruleset_count(rs);
	for (size_t i = 0; i < n; i++) {
		const struct sigma_rule *rule = sigma_ruleset_rule(rs, i);
		_cleanup_free_ char *stem = rule_stem(rule->file);
		bool ok = true, missing = false;
		for (int k = 0; k < 2; k++) {
			_cleanup_free_ char *file = xasprintf("%s/%s.%s.jsonl", dir, stem,
							      k == 0 ? "match" : "nomatch");
			const char *what = NULL;
			unsigned line = 0;
			r = replay_case(&x, rule, file, k == 0, &what, &line);
			if (r == -2) {
				pipeline_free(x.shared);
				json_decref(x.failures);
				sigma_scratch_free(x.sc);
				sigma_ruleset_free(rs);
				return EXIT_ERROR;
			}
			if (r == -1) {
				missing = true;
				case_failure(&x, rule, file, 0, "no case file");
			} else if (r == 0) {
				ok = false;
				case_failure(&x, rule, file, line, what);
			}
		}
		if (missing)
			without++;
		else if (ok)
			passed++;
		else
			failed++;
	}
	if (json) {
		json_t *doc = json_pack(
			"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "schema",
			"immune.rules_cases/v1", "rules_path", rules, "cases", dir, "rules",
			(json_int_t)n, "passed", (json_int_t)passed, "failed", (json_int_t)failed,
			"without_cases", (json_int_t)without, "rejected", (json_int_t)n_err,
			"bad_lines", (json_int_t)x.bad_lines, "failures", x.failures);
		r = fleet_print_json(doc);
		json_decref(doc);
	} else {
		json_decref(x.failures);
		printf("%zu rules: %zu passed, %zu failed, %zu without cases", n, passed, failed,
		       without);
		if (n_err)
			printf(", %zu rejected", n_err);
		if (x.bad_lines)
			printf(", %zu unreadable event lines", x.bad_lines);
		printf("\n");
		r = EXIT_OK;
	}
	pipeline_free(x.shared);
	sigma_scratch_free(x.sc);
	sigma_ruleset_free(rs);
	if (r != EXIT_OK)
		return r;
	return failed || without || n_err ? EXIT_FINDINGS : EXIT_OK;
}

/* ---- dispatch --------------------------------------------------------------------------- */

int cmd_rules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "events", required_argument, NULL, 'e' },
		{ "cases", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *events = NULL, *cases = NULL, *verb;
	bool json = false, test;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_help();
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	verb = argv[1];
	if (strcmp(verb, "check") && strcmp(verb, "test"))
		return cli_usage_error("rules", "unknown verb '%s' (check, test)", verb);
	test = !strcmp(verb, "test");
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'e': events = optarg; break;
		case 'c': cases = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default:
			return cli_usage_error("rules", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!test && (events || cases))
		return cli_usage_error("rules", "--events and --cases belong to 'rules test'");
	if (events && cases)
		return cli_usage_error("rules", "--events and --cases exclude each other");
	if (argc - optind > 1)
		return cli_usage_error("rules", "one PATH at most");
	const char *path = optind < argc ? argv[optind] : sigma_shipped_rules_dir();
	if (!path)
		return cli_usage_error("rules", "no PATH given and no shipped rules found");
	if (!test)
		return rules_check(path, json);
	if (cases)
		return rules_test_cases(path, cases, json);
	return rules_test_events(path, events ? events : "-", json);
}
