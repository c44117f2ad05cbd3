#include "inventory/collectors.h"
#include "inventory/walk.h"
#include "lib/log.h"
#include "lib/str.h"

#include <assert.h>
#include <stdarg.h>
#include <time.h>

json_t *inv_table_rows(struct inv_ctx *ctx, const char *table)
{
	json_t *rows = json_object_get(ctx->tables, table);
	if (!rows) {
		rows = json_array();
		json_object_set_new(ctx->tables, table, rows);
	}
	return rows;
}

json_t *inv_row(struct inv_ctx *ctx, const char *table)
{
	json_t *row = json_object();
	json_array_append_new(inv_table_rows(ctx, table), row);
	return row;
}

void inv_set_str(json_t *row, const char *column, const char *value)
{
	if (value)
		inv_set_strn(row, column, value, strlen(value));
}

void inv_set_strn(json_t *row, const char *column, const char *value, size_t len)
{
	/* Outside data may be any bytes: keep valid UTF-8 as is, replace the rest. */
	json_t *s = json_stringn(value, len);
	if (!s) {
		char *copy = xstrndup(value, len);
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		s = json_string(copy);
		free(copy);
	}
	if (s)
		json_object_set_new(row, column, s);
}

void inv_set_int(json_t *row, const char *column, int64_t value)
{
	json_object_set_new(row, column, json_integer(value));
}

void inv_set_bool(json_t *row, const char *column, bool value)
{
	json_object_set_new(row, column, json_boolean(value));
}

void inv_error(struct inv_ctx *ctx, const char *table, const char *path, int err, const char *fmt,
	       ...)
{
	char msg[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (err && fmt) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(-err));
	} else if (err)
		snprintf(msg, sizeof(msg), "%s", strerror(-err));
	json_t *row = inv_row(ctx, "errors");
	inv_set_str(row, "table", table);
	inv_set_str(row, "path", path ? path : "");
	inv_set_str(row, "error", msg);
}

static bool fills(const struct inv_collector *c, char *const *tables)
{
	for (size_t i = 0; c->tables[i]; i++)
		if (strv_contains(tables, c->tables[i]))
			return true;
	return false;
}

/* Marks which collectors run: all of them, or (only_table) those filling that table and,
 * transitively, the earlier collectors whose tables they read. */
static void choose_collectors(const struct inv_collector *cols, size_t n,
			      const struct inv_options *opt, bool *run)
{
	_cleanup_strv_ strv wanted = xcalloc(1, sizeof(char *));

	if (opt->only_table)
		strv_push(&wanted, opt->only_table);
	for (size_t i = n; i-- > 0;) {
		run[i] = !opt->only_table || fills(&cols[i], wanted);
		for (size_t j = 0; run[i] && cols[i].needs && cols[i].needs[j]; j++)
			strv_push(&wanted, cols[i].needs[j]);
	}
}

static bool walk_wanted(const struct inv_options *opt)
{
	if (opt->skip_walk)
		return false;
	return !opt->only_table || strcmp(opt->only_table, "special_files") == 0 ||
	       strcmp(opt->only_table, "walk") == 0;
}

int inventory_collect(const char *root, const struct inv_options *opt, struct inventory **out)
{
	static const struct inv_options defaults;
	_cleanup_(fsroot_freep) struct fsroot *fs = NULL;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = fsroot_new(root, &fs);
	if (r < 0)
		return r;

	struct inv_ctx ctx = { .root = fs, .opt = opt ? opt : &defaults, .tables = json_object() };
	size_t n;
	const struct inv_table *schema = inv_schema_tables(&n);
	for (size_t i = 0; i < n; i++)
		inv_table_rows(&ctx, schema[i].name);

	/* The file system walk runs in its own threads while the collectors run. */
	struct walk *walk = NULL;
	if (walk_wanted(ctx.opt)) {
		r = walk_start(fs, ctx.opt, &walk);
		if (r < 0)
			inv_error(&ctx, "special_files", "/", r, "starting the file system walk");
	}
	const struct inv_collector *cols = inv_collectors(&n);
	_cleanup_free_ bool *run = xcalloc(n, sizeof(bool));
	choose_collectors(cols, n, ctx.opt, run);
	for (size_t i = 0; i < n; i++)
		if (run[i])
			cols[i].collect(&ctx);
	walk_finish(walk, &ctx);

	struct inventory *inv = xcalloc(1, sizeof(*inv));
	inv->tables = ctx.tables;
	inv->root = xstrdup(root);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	inv->elapsed_ms =
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	*out = inv;
	return 0;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	json_decref(inv->tables);
	free(inv->root);
	free(inv);
}

json_t *inventory_rows(const struct inventory *inv, const char *table)
{
	json_t *rows = json_object_get(inv->tables, table);
	assert(rows); /* every table of the schema exists, possibly empty */
	return rows;
}

json_t *inventory_errors_for(const struct inventory *inv, const char *table)
{
	json_t *out = json_array();
	size_t i;
	json_t *row;

	json_array_foreach(inventory_rows(inv, "errors"), i, row) {
		if (strcmp(json_string_value(json_object_get(row, "table")) ?: "", table) == 0)
			json_array_append(out, row);
	}
	return out;
}

static bool type_fits(enum inv_type t, const json_t *v)
{
	switch (t) {
	case INV_STR: return json_is_string(v);
	case INV_INT: return json_is_integer(v);
	case INV_BOOL: return json_is_boolean(v);
	}
	return false;
}

int inventory_validate(const struct inventory *inv, char *msg, size_t msgsize)
{
	const char *name;
	json_t *rows;

	json_object_foreach(inv->tables, name, rows) {
		const struct inv_table *t = inv_schema_table(name);
		if (!t) {
			snprintf(msg, msgsize, "unknown table '%s'", name);
			return -EPROTO;
		}
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row) {
			const char *col;
			json_t *v;
			json_object_foreach(row, col, v) {
				const struct inv_column *c = inv_schema_column(t, col);
				if (!c || !type_fits(c->type, v)) {
					snprintf(msg, msgsize, "table '%s' row %zu: %s column '%s'",
						 name, i, c ? "mistyped" : "unknown", col);
					return -EPROTO;
				}
			}
		}
	}
	return 0;
}
