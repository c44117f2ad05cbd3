/* immune checks list [--framework K] [--section S] [--json] [--catalog PATH]
 * immune checks show ID [--json] [--catalog PATH] */
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "policy/catalog.h"

#include "config.h"

#include <getopt.h>
#include <sys/stat.h>

int cli_load_catalog(const char *path, struct catalog **out)
{
	struct stat st;
	if (!path)
		path = stat(IMMUNE_POLICY_DIR, &st) == 0 ? IMMUNE_POLICY_DIR
							 : IMMUNE_SOURCE_POLICY_DIR;
	struct catalog_error err;
	int r = catalog_load(path, out, &err);
	if (r < 0) {
		char msg[1024];
		log_error("%s", catalog_error_format(&err, msg, sizeof(msg)));
		if (r != -EBADMSG)
			log_error("cannot load the catalog from '%s' (use --catalog DIR)", path);
	}
	return r;
}

static void print_help(void)
{
	printf("usage: immune checks list [--framework KEY] [--section KEY] [--json] [--catalog "
	       "PATH]\n"
	       "       immune checks show ID [--json] [--catalog PATH]\n\n"
	       "Lists the checks of the compliance catalog, or shows one in full.\n\n"
	       "  --framework KEY   only checks mapped to this framework\n"
	       "  --section KEY     only checks of this section\n"
	       "  --json            print JSON (schema immune.checks/v1, immune.check/v1)\n"
	       "  --catalog PATH    catalog directory or file (default: the installed catalog)\n");
}

static json_t *framework_keys(const struct check *c)
{
	size_t n;
	const struct catalog_framework *fw = catalog_frameworks(&n);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		if (json_array_size(json_object_get(c->mappings, fw[i].key)))
			json_array_append_new(a, json_string(fw[i].key));
	return a;
}

static char *join_json(const json_t *a, const char *sep)
{
	struct buf b;
	size_t i;
	json_t *v;
	buf_init(&b, 1u << 20);
	json_array_foreach(a, i, v)
		buf_printf(&b, "%s%s", i ? sep : "", json_string_value(v));
	return buf_steal(&b);
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void dump(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
}

static int do_list(const struct catalog *cat, const char *framework, const char *section, bool json)
{
	size_t nsec, idw = 2, tw = 5;
	const struct catalog_section *sec = catalog_sections(&nsec);
	bool *want = xcalloc(cat->n ? cat->n : 1, sizeof(bool));
	for (size_t i = 0; i < cat->n; i++) {
		const struct check *c = cat->checks[i];
		want[i] =
			(!framework || json_array_size(json_object_get(c->mappings, framework))) &&
			(!section || strcmp(sec[c->section].key, section) == 0);
		if (want[i]) {
			idw = strlen(c->id) > idw ? strlen(c->id) : idw;
			tw = strlen(c->title) > tw ? strlen(c->title) : tw;
		}
	}
	json_t *list = json_array();
	bool color = cli_color();
	if (!json)
		printf("%s%-*s  %-8s  %-11s  %-*s  %s%s\n", color ? "\033[1m" : "", (int)idw, "ID",
		       "SEVERITY", "SECTION", (int)tw, "TITLE", "FRAMEWORKS",
		       color ? "\033[0m" : "");
	for (size_t i = 0; i < cat->n; i++) {
		const struct check *c = cat->checks[i];
		if (!want[i])
			continue;
		json_t *fws = framework_keys(c);
		if (json) {
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:o}", "id",
							      c->id, "title", c->title, "section",
							      sec[c->section].key, "severity",
							      severity_name(c->severity),
							      "frameworks", fws));
			continue;
		}
		_cleanup_free_ char *f = join_json(fws, ",");
		printf("%-*s  %-8s  %-11s  %-*s  %s\n", (int)idw, c->id, severity_name(c->severity),
		       sec[c->section].key, (int)tw, c->title, f);
		json_decref(fws);
	}
	free(want);
	if (json)
		dump(json_pack("{s:s, s:o}", "schema", "immune.checks/v1", "checks", list));
	else
		json_decref(list);
	return EXIT_OK;
}

static json_t *applies_json(const struct check *c)
{
	const struct check_applies *a = &c->applies;
	json_t *o = json_object();
	if (a->family)
		json_object_set_new(o, "family", strv_json(a->family));
	if (a->os)
		json_object_set_new(o, "os", strv_json(a->os));
	if (a->packages)
		json_object_set_new(o, "packages", strv_json(a->packages));
	if (a->files)
		json_object_set_new(o, "files", strv_json(a->files));
	return o;
}

static json_t *check_json(const struct check *c)
{
	size_t n;
	const struct catalog_section *sec = catalog_sections(&n);
	_cleanup_free_ char *text = check_condition_text(c);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:s, s:O, "
			 "s:O}",
			 "schema", "immune.check/v1", "id", c->id, "title", c->title, "section",
			 sec[c->section].key, "severity", severity_name(c->severity), "description",
			 c->description, "rationale", c->rationale, "remediation", c->remediation,
			 "file", c->file, "line", (int)c->line, "applies", applies_json(c),
			 "condition", check_condition_json(c), "condition_text", text, "fix",
			 c->fix ? c->fix : json_null(), "mappings", c->mappings)
		       ?: json_object();
}

static void print_block(const char *title, const char *text, bool color)
{
	printf("\n%s%s%s\n", color ? "\033[1m" : "", title, color ? "\033[0m" : "");
	_cleanup_strv_ strv lines = str_split(text, "\n");
	for (size_t i = 0; lines[i]; i++)
		printf("  %s\n", lines[i]);
}

static void print_check(const struct check *c)
{
	size_t nsec, nfw;
	const struct catalog_section *sec = catalog_sections(&nsec);
	const struct catalog_framework *fw = catalog_frameworks(&nfw);
	bool color = cli_color();
	printf("%s%s%s: %s\n", color ? "\033[1m" : "", c->id, color ? "\033[0m" : "", c->title);
	printf("  section:   %s (%s)\n", sec[c->section].key, sec[c->section].title);
	printf("  severity:  %s\n", severity_name(c->severity));
	printf("  defined:   %s:%u\n", c->file, c->line);
	const struct check_applies *a = &c->applies;
	struct {
		const char *name;
		char *const *v;
	} ap[] = { { "family", a->family },
		   { "os", a->os },
		   { "packages", a->packages },
		   { "files", a->files } };
	for (size_t i = 0; i < ARRAY_SIZE(ap); i++) {
		if (!ap[i].v)
			continue;
		json_t *j = strv_json(ap[i].v);
		_cleanup_free_ char *s = join_json(j, ", ");
		printf("  applies:   %s in %s\n", ap[i].name, s);
		json_decref(j);
	}
	print_block("Description", c->description, color);
	print_block("Rationale", c->rationale, color);
	print_block("Remediation", c->remediation, color);
	_cleanup_free_ char *cond = check_condition_text(c);
	print_block("Condition (passes when it holds)", cond, color);
	printf("\n%sFix%s\n", color ? "\033[1m" : "", color ? "\033[0m" : "");
	if (!c->fix)
		printf("  none\n");
	else {
		const char *k;
		json_t *v;
		printf("  %s:", json_string_value(json_object_get(c->fix, "type")));
		json_object_foreach(c->fix, k, v)
			if (strcmp(k, "type") != 0)
				printf(" %s='%s'", k, json_string_value(v));
		putchar('\n');
	}
	printf("\n%sMappings%s\n", color ? "\033[1m" : "", color ? "\033[0m" : "");
	if (!json_object_size(c->mappings))
		printf("  none\n");
	for (size_t i = 0; i < nfw; i++) {
		json_t *ids = json_object_get(c->mappings, fw[i].key);
		if (!json_array_size(ids))
			continue;
		_cleanup_free_ char *s = join_json(ids, ", ");
		printf("  %-12s %s\n", fw[i].key, s);
	}
}

int cmd_checks(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "framework", required_argument, NULL, 'f' },
		{ "section", required_argument, NULL, 's' },
		{ "catalog", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *framework = NULL, *section = NULL, *path = NULL;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:s:c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': framework = optarg; break;
		case 's': section = optarg; break;
		case 'c': path = optarg; break;
		case 'j': json = true; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("checks", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("checks", "expected 'list' or 'show ID'");
	const char *verb = argv[optind++];
	bool list = strcmp(verb, "list") == 0, show = strcmp(verb, "show") == 0;
	if (!list && !show)
		return cli_usage_error("checks", "unknown verb '%s' (list or show)", verb);
	if (show && optind >= argc)
		return cli_usage_error("checks", "show needs a check id");
	const char *id = show ? argv[optind++] : NULL;
	if (optind < argc)
		return cli_usage_error("checks", "unexpected argument '%s'", argv[optind]);
	if (framework && catalog_framework_index(framework) < 0)
		return cli_usage_error("checks",
				       "unknown framework '%s' (valid: cis, pci_dss, iso_27001, "
				       "soc2, nist_800_53, bsi_c5, sox_itgc, mitre)",
				       framework);
	if (section && catalog_section_index(section) < 0)
		return cli_usage_error("checks",
				       "unknown section '%s' (valid: filesystems, boot, services, "
				       "network, firewall, logging, audit, ssh, pam, sudo, "
				       "accounts, permissions, cron, time, banners)",
				       section);
	if (show && (framework || section))
		return cli_usage_error("checks", "--framework and --section apply to list");

	_cleanup_(catalog_freep) struct catalog *cat = NULL;
	if (cli_load_catalog(path, &cat) < 0)
		return EXIT_ERROR;
	if (list)
		return do_list(cat, framework, section, json);
	const struct check *chk = catalog_find(cat, id);
	if (!chk)
		return cli_usage_error("checks", "unknown check '%s' (see 'immune checks list')",
				       id);
	if (json)
		dump(check_json(chk));
	else
		print_check(chk);
	return EXIT_OK;
}
