/* immune playbooks check [PATH] [--json]
 * immune playbooks test [PATH] (--alert FILE | --check ID [--catalog PATH]) [--host NAME]
 *                       [--label KEY=VALUE]... [--json]
 *
 * check loads response playbooks and lists what was rejected; test shows the steps the
 * playbooks would take for an alert (OCSF JSON, as `immune-agent events --alerts` prints it)
 * or for a failing compliance check, with the steps guardrails or missing fields skip. See
 * docs/playbooks.md and docs/cli.md. */
#include "cli/cli.h"
#include "detect/alert.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "policy/catalog.h"
#include "respond/playbook.h"

#include "config.h"

#include <getopt.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALERTS_FILE_MAX (64u << 20)
#define MAX_LABELS 64

static void print_help(void)
{
	printf("usage: immune playbooks check [PATH] [--json]\n"
	       "       immune playbooks test [PATH] (--alert FILE | --check ID [--catalog PATH])\n"
	       "                             [--host NAME] [--label KEY=VALUE]... [--json]\n\n"
	       "check  loads the response playbooks at PATH (a file or a directory) and prints\n"
	       "       how many loaded and each problem as FILE:LINE: PLAYBOOK-ID: reason.\n"
	       "       Exit 0 when all loaded, 1 when some were rejected.\n"
	       "test   prints the steps the playbooks would take, with the steps skipped and why.\n"
	       "       Nothing is sent and nothing is changed.\n\n"
	       "  --alert FILE     alerts as OCSF JSON (one document, or one per line as\n"
	       "                   'immune-agent events --alerts' prints them; '-' is standard\n"
	       "                   input)\n"
	       "  --check ID       a failing compliance check instead; its fix comes from the\n"
	       "                   catalog (--catalog PATH, default the shipped catalog)\n"
	       "  --host NAME      the host's name (default: the alert's device.hostname)\n"
	       "  --label K=V      a host label, for when conditions and protected hosts\n"
	       "  --json           print JSON (schemas immune.playbooks_check/v1,\n"
	       "                   immune.playbooks_test/v1)\n\n"
	       "PATH defaults to the installed playbooks (" IMMUNE_RULES_DIR "/playbooks), else\n"
	       "the source tree's rules/playbooks.\n");
}

static const char *shipped_dir(void)
{
	struct stat st;
	if (stat(IMMUNE_RULES_DIR "/playbooks", &st) == 0)
		return IMMUNE_RULES_DIR "/playbooks";
	if (stat(IMMUNE_SOURCE_RULES_DIR "/playbooks", &st) == 0)
		return IMMUNE_SOURCE_RULES_DIR "/playbooks";
	return NULL;
}

static int load(const char *cmd, const char *path, struct playbook_set **s, strv *errors)
{
	int r = playbook_load(path, s, errors);
	if (r < 0) {
		fprintf(stderr, "immune playbooks %s: cannot read '%s': %s\n", cmd, path,
			strerror(-r));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* ---- check ------------------------------------------------------------------------------ */

static int playbooks_check(const char *path, bool json)
{
	struct playbook_set *s = NULL;
	_cleanup_strv_ strv errors = NULL;
	int r = load("check", path, &s, &errors);
	if (r != EXIT_OK)
		return r;
	size_t n_err = strv_len(errors);
	if (json) {
		json_t *errs = json_array();
		for (size_t i = 0; i < n_err; i++)
			json_array_append_new(errs, json_string(errors[i]));
		json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:o}", "schema",
					"immune.playbooks_check/v1", "path", path, "loaded",
					(json_int_t)playbook_set_count(s), "errors_count",
					(json_int_t)n_err, "errors", errs);
		r = fleet_print_json(doc);
		json_decref(doc);
	} else {
		printf("%s: %zu playbooks loaded, %zu errors\n", path, playbook_set_count(s),
		       n_err);
		for (size_t i = 0; i < n_err; i++) {
			_cleanup_free_ char *line = fleet_safe(errors[i]);
			printf("%s\n", line);
		}
	}
	playbook_set_free(s);
	if (r != EXIT_OK)
		return r;
	return n_err ? EXIT_FINDINGS : EXIT_OK;
}

/* ---- test ------------------------------------------------------------------------------- */

struct test_opts {
	const char *path, *alert, *check, *catalog, *host;
	const char *label_keys[MAX_LABELS], *label_values[MAX_LABELS];
	char *label_buf[MAX_LABELS];
	size_t n_labels;
	bool json;
};

static json_t *steps_json(const struct playbook_steps *st)
{
	json_t *steps = json_array(), *skipped = json_array();
	for (size_t i = 0; i < st->n; i++) {
		const struct playbook_step *p = &st->v[i];
		json_array_append_new(
			steps, json_pack("{s:s, s:I, s:s, s:s, s:b, s:b, s:o}", "playbook",
					 p->playbook_id, "step", (json_int_t)p->step, "action",
					 action_kind_name(p->action->kind), "mode",
					 playbook_mode_name(p->mode), "local", p->local, "dry_run",
					 p->dry_run, "params", action_params_json(p->action)));
	}
	for (size_t i = 0; i < st->n_skipped; i++)
		json_array_append_new(skipped, json_string(st->skipped[i]));
	return json_pack("{s:o, s:o}", "steps", steps, "skipped", skipped);
}

static void print_steps(const struct playbook_steps *st)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct playbook_step *p = &st->v[i];
		json_t *params = action_params_json(p->action);
		_cleanup_free_ char *text = fleet_text(params);
		_cleanup_free_ char *safe = fleet_safe(text);
		json_decref(params);
		printf("  %s step %zu: %s %s%s%s %s\n", p->playbook_id, p->step,
		       playbook_mode_name(p->mode), action_kind_name(p->action->kind),
		       p->local ? " (local)" : "", p->dry_run ? " (dry run)" : "", safe);
	}
	for (size_t i = 0; i < st->n_skipped; i++) {
		_cleanup_free_ char *safe = fleet_safe(st->skipped[i]);
		printf("  skipped: %s\n", safe);
	}
	if (!st->n && !st->n_skipped)
		printf("  no playbook matches\n");
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Matches in and adds its result to out (JSON) or prints it. */
static void run_input(const struct playbook_set *s, struct playbook_input *in,
		      const struct test_opts *o, const char *what, json_t *out)
{
	struct playbook_steps st = { 0 };
	if (o->host)
		in->hostname = o->host;
	in->label_keys = o->label_keys;
	in->label_values = o->label_values;
	in->n_labels = o->n_labels;
	playbook_match(s, in, false, false, now_ns(), &st);
	if (out) {
		json_t *r = steps_json(&st);
		json_object_set_new(r, "input", json_string(what));
		json_object_set_new(r, "rule_id", json_string(in->rule_id));
		json_array_append_new(out, r);
	} else {
		_cleanup_free_ char *safe = fleet_safe(what);
		printf("%s\n", safe);
		print_steps(&st);
	}
	playbook_steps_free(&st);
}

static int test_alert_text(const struct playbook_set *s, const char *p, size_t len,
			   const struct test_opts *o, json_t *out)
{
	struct alert_summary sum;
	if (alert_parse(p, len, &sum) < 0)
		return -EBADMSG;
	struct playbook_alert pa;
	if (playbook_input_from_alert_summary(&sum, &pa) < 0) {
		alert_summary_free(&sum);
		return -EBADMSG;
	}
	_cleanup_free_ char *what =
		xasprintf("alert %s: %s %s (%s)", sum.uid, sum.source, sum.rule_id, sum.title);
	run_input(s, &pa.in, o, what, out);
	playbook_alert_free(&pa);
	alert_summary_free(&sum);
	return 0;
}

/* One alert document, or one alert per line. Returns the number of unreadable ones, or -1
 * when the file cannot be read. */
static int test_alerts(const struct playbook_set *s, const struct test_opts *o, json_t *out)
{
	struct buf b;
	buf_init(&b, ALERTS_FILE_MAX);
	int r = !strcmp(o->alert, "-") ? fd_read_capped(STDIN_FILENO, ALERTS_FILE_MAX, &b)
				       : file_read_capped(o->alert, ALERTS_FILE_MAX, &b);
	if (r < 0) {
		fprintf(stderr, "immune playbooks test: cannot read '%s': %s\n", o->alert,
			strerror(-r));
		buf_free(&b);
		return -1;
	}
	int bad = 0;
	if (test_alert_text(s, buf_str(&b), buf_len(&b), o, out) < 0) {
		const char *p = buf_str(&b), *end = p + buf_len(&b);
		unsigned line = 0, n = 0;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			const char *l = p;
			line++;
			p = nl ? nl + 1 : end;
			while (len && strchr(" \t\r", l[len - 1]))
				len--;
			if (!len)
				continue;
			n++;
			if (test_alert_text(s, l, len, o, out) < 0) {
				fprintf(stderr,
					"%s:%u: not an alert (OCSF Detection Finding JSON)\n",
					o->alert, line);
				bad++;
			}
		}
		if (n == 0) {
			fprintf(stderr, "%s: no alert\n", o->alert);
			bad++;
		}
	}
	buf_free(&b);
	return bad;
}

static int test_check(const struct playbook_set *s, const struct test_opts *o, json_t *out)
{
	struct catalog *cat = NULL;
	if (cli_load_catalog(o->catalog, &cat) < 0)
		return -1;
	const struct check *c = catalog_find(cat, o->check);
	if (!c) {
		fprintf(stderr, "immune playbooks test: no check '%s' in the catalog\n", o->check);
		catalog_free(cat);
		return -1;
	}
	_cleanup_free_ char *fix =
		c->fix ? json_dumps(c->fix, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct playbook_input in = {
		.source = "check",
		.rule_id = o->check,
		.level = playbook_check_level(severity_name(c->severity)),
		.fix_json = fix,
	};
	_cleanup_free_ char *what = xasprintf("check %s (failing)", o->check);
	run_input(s, &in, o, what, out);
	catalog_free(cat);
	return 0;
}

static int playbooks_test(struct test_opts *o)
{
	struct playbook_set *s = NULL;
	_cleanup_strv_ strv errors = NULL;
	int r = load("test", o->path, &s, &errors);
	if (r != EXIT_OK)
		return r;
	for (size_t i = 0; errors && errors[i]; i++) {
		_cleanup_free_ char *line = fleet_safe(errors[i]);
		fprintf(stderr, "%s\n", line);
	}
	json_t *results = o->json ? json_array() : NULL;
	int bad = o->check ? test_check(s, o, results) : test_alerts(s, o, results);
	playbook_set_free(s);
	if (bad < 0) {
		json_decref(results);
		return EXIT_ERROR;
	}
	r = EXIT_OK;
	if (o->json) {
		json_t *doc =
			json_pack("{s:s, s:s, s:I, s:I, s:o}", "schema", "immune.playbooks_test/v1",
				  "path", o->path, "errors_count", (json_int_t)strv_len(errors),
				  "unreadable", (json_int_t)bad, "results", results);
		r = fleet_print_json(doc);
		json_decref(doc);
	}
	return r != EXIT_OK ? r : bad ? EXIT_ERROR : EXIT_OK;
}

/* ---- dispatch --------------------------------------------------------------------------- */

static int add_label(struct test_opts *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv || o->n_labels >= MAX_LABELS)
		return cli_usage_error("playbooks", "--label takes KEY=VALUE (at most %d)",
				       MAX_LABELS);
	char *k = xstrndup(kv, (size_t)(eq - kv));
	o->label_buf[o->n_labels] = k;
	o->label_keys[o->n_labels] = k;
	o->label_values[o->n_labels++] = eq + 1;
	return EXIT_OK;
}

static int parse_opts(int argc, char **argv, bool test, struct test_opts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "alert", required_argument, NULL, 'a' },
		{ "check", required_argument, NULL, 'c' },
		{ "catalog", required_argument, NULL, 'C' },
		{ "host", required_argument, NULL, 'H' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'a': o->alert = optarg; break;
		case 'c': o->check = optarg; break;
		case 'C': o->catalog = optarg; break;
		case 'H': o->host = optarg; break;
		case 'l':
			if ((r = add_label(o, optarg)) != EXIT_OK)
				return r;
			break;
		case 'h': print_help(); return -1;
		default:
			return cli_usage_error("playbooks", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!test && (o->alert || o->check || o->catalog || o->host || o->n_labels))
		return cli_usage_error("playbooks", "--alert, --check, --catalog, --host and "
						    "--label belong to 'playbooks test'");
	if (test && !!o->alert == !!o->check)
		return cli_usage_error("playbooks", "'playbooks test' needs --alert FILE or "
						    "--check ID");
	if (o->catalog && !o->check)
		return cli_usage_error("playbooks", "--catalog goes with --check");
	if (argc - optind > 1)
		return cli_usage_error("playbooks", "one PATH at most");
	o->path = optind < argc ? argv[optind] : shipped_dir();
	if (!o->path)
		return cli_usage_error("playbooks", "no PATH given and no shipped playbooks found");
	return EXIT_OK;
}

int cmd_playbooks(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_help();
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "check") && strcmp(verb, "test"))
		return cli_usage_error("playbooks", "unknown verb '%s' (check, test)", verb);
	bool test = !strcmp(verb, "test");
	struct test_opts o = { 0 };
	int r = parse_opts(argc - 1, argv + 1, test, &o);
	if (r == EXIT_OK)
		r = test ? playbooks_test(&o) : playbooks_check(o.path, o.json);
	else if (r < 0)
		r = EXIT_OK; /* --help */
	for (size_t i = 0; i < o.n_labels; i++)
		free(o.label_buf[i]);
	return r;
}
