/* immune inventory [--root DIR] [--table T] [--json] [--schema] */
#include "cli/cli.h"
#include "inventory/inventory.h"
#include "lib/log.h"

#include <getopt.h>

static void print_help(void)
{
	printf("usage: immune inventory [--root DIR] [--table NAME] [--json] [--schema]\n\n"
	       "Collects the host inventory below DIR (default /) and prints it.\n\n"
	       "  --root DIR     read a mounted image, container root or fixture instead of /\n"
	       "  --table NAME   print only this table\n"
	       "  --json         print JSON: {\"root\":..., \"tables\": {name: [rows]}}\n"
	       "  --schema       print the tables and their typed columns\n");
}

static void print_schema(bool json)
{
	size_t n;
	const struct inv_table *t = inv_schema_tables(&n);
	json_t *out = json_object();

	for (size_t i = 0; i < n; i++) {
		json_t *cols = json_array();
		if (!json)
			printf("%s: %s\n", t[i].name, t[i].doc);
		for (const struct inv_column *c = t[i].columns; c->name; c++) {
			if (!json)
				printf("  %-24s %-8s %s\n", c->name, inv_type_name(c->type),
				       c->doc);
			json_array_append_new(cols,
					      json_pack("{s:s, s:s, s:s}", "name", c->name, "type",
							inv_type_name(c->type), "doc", c->doc));
		}
		json_object_set_new(out, t[i].name,
				    json_pack("{s:s, s:o}", "doc", t[i].doc, "columns", cols));
	}
	if (json)
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(out);
	if (json)
		putchar('\n');
}

static void print_value(const json_t *v)
{
	if (json_is_string(v))
		fputs(json_string_value(v), stdout);
	else if (json_is_integer(v))
		printf("%lld", (long long)json_integer_value(v));
	else
		fputs(json_is_true(v) ? "true" : "false", stdout);
}

static void print_table(const char *name, const json_t *rows, bool color)
{
	size_t i;
	json_t *row;

	printf("%s%s%s (%zu)\n", color ? "\033[1m" : "", name, color ? "\033[0m" : "",
	       json_array_size(rows));
	json_array_foreach(rows, i, row) {
		const char *col;
		json_t *v;
		fputs("  ", stdout);
		json_object_foreach(row, col, v) {
			printf("%s%s%s=", color ? "\033[2m" : "", col, color ? "\033[0m" : "");
			print_value(v);
			putchar(' ');
		}
		putchar('\n');
	}
}

int cmd_inventory(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' }, { "table", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },	  { "schema", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },	  {},
	};
	const char *root = "/", *table = NULL;
	bool json = false, schema = false;
	int c;

	while ((c = getopt_long(argc, argv, "r:t:jsh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 't': table = optarg; break;
		case 'j': json = true; break;
		case 's': schema = true; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("inventory", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("inventory", "unexpected argument '%s'", argv[optind]);
	if (schema) {
		print_schema(json);
		return EXIT_OK;
	}
	if (table && !inv_schema_table(table))
		return cli_usage_error("inventory", "unknown table '%s' (see --schema)", table);

	struct inventory *inv;
	struct inv_options opt = { .only_table = table };
	int r = inventory_collect(root, &opt, &inv);
	if (r < 0) {
		log_errno(r, "cannot read root directory '%s'", root);
		return EXIT_ERROR;
	}
	if (json) {
		json_t *tables = inv->tables;
		if (table)
			tables = json_pack("{s:O}", table, inventory_rows(inv, table));
		else
			json_incref(tables);
		json_t *out = json_pack("{s:s, s:s, s:o}", "schema", "immune.inventory/v1", "root",
					root, "tables", tables);
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(out);
	} else {
		bool color = cli_color();
		const char *name;
		json_t *rows;
		json_object_foreach(inv->tables, name, rows)
			if (!table || strcmp(name, table) == 0 || strcmp(name, "errors") == 0)
				print_table(name, rows, color);
	}
	inventory_free(inv);
	return EXIT_OK;
}
