/* Helpers for inventory collector tests: collect a fixture root, find rows and columns. */
#pragma once

#include "unit.h"

#include "inventory/inventory.h"

static inline struct inventory *collect_root(const char *root, const char *table)
{
	struct inv_options opt = { .only_table = table, .skip_walk = true };
	struct inventory *inv;
	char msg[256] = "";
	assert_int_equal(inventory_collect(root, &opt, &inv), 0);
	if (inventory_validate(inv, msg, sizeof(msg)) < 0)
		fail_msg("%s", msg);
	return inv;
}

/* Collects fixture tests/fixtures/<area>/<name>. */
static inline struct inventory *collect_fixture(const char *area, const char *name,
						const char *table)
{
	_cleanup_free_ char *root = xasprintf("%s/%s/%s", getenv("IMMUNE_FIXTURES"), area, name);
	return collect_root(root, table);
}

/* Returns the first row of table whose column col is the string val, or NULL. */
static inline json_t *find_row(struct inventory *inv, const char *table, const char *col,
			       const char *val)
{
	size_t i;
	json_t *row;
	json_array_foreach(inventory_rows(inv, table), i, row) {
		const char *v = json_string_value(json_object_get(row, col));
		if (v && strcmp(v, val) == 0)
			return row;
	}
	return NULL;
}

static inline json_t *must_row(struct inventory *inv, const char *table, const char *col,
			       const char *val)
{
	json_t *row = find_row(inv, table, col, val);
	if (!row)
		fail_msg("no %s row with %s=%s", table, col, val);
	return row;
}

static inline const char *col_str(json_t *row, const char *col)
{
	return json_string_value(json_object_get(row, col));
}

static inline int64_t col_int(json_t *row, const char *col)
{
	json_t *v = json_object_get(row, col);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static inline bool col_bool(json_t *row, const char *col)
{
	json_t *v = json_object_get(row, col);
	assert_true(json_is_boolean(v));
	return json_is_true(v);
}

static inline size_t n_rows(struct inventory *inv, const char *table)
{
	return json_array_size(inventory_rows(inv, table));
}

static inline size_t n_errors(struct inventory *inv, const char *table)
{
	json_t *e = inventory_errors_for(inv, table);
	size_t n = json_array_size(e);
	json_decref(e);
	return n;
}

/* Returns how many errors were recorded for table; when all is given it receives their
 * messages, each followed by '|'. */
static inline size_t error_text(struct inventory *inv, const char *table, char *all, size_t size)
{
	json_t *errs = inventory_errors_for(inv, table), *e;
	size_t i, n = json_array_size(errs);
	if (all) {
		all[0] = '\0';
		json_array_foreach(errs, i, e) {
			size_t len = strlen(all);
			snprintf(all + len, size - len, "%s|", col_str(e, "error"));
		}
	}
	json_decref(errs);
	return n;
}

/* Returns true when an error row for table names path. */
static inline bool has_error(struct inventory *inv, const char *table, const char *path)
{
	json_t *e = inventory_errors_for(inv, table);
	size_t i;
	json_t *row;
	bool found = false;
	json_array_foreach(e, i, row) {
		const char *p = col_str(row, "path");
		if (p && strcmp(p, path) == 0)
			found = true;
	}
	json_decref(e);
	return found;
}

#include <ftw.h>
#include <unistd.h>

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Removes a temporary tree made by a test. */
static inline void rm_tree(const char *path)
{
	assert_int_equal(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
