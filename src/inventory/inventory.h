/* Host inventory: typed tables (see schema.h) collected below a root directory.
 *
 * inventory_collect() runs every collector in collectors.c against a root (the host's "/",
 * a mounted image, a container root or a test fixture). A collector never fails the whole
 * inventory: what it cannot read becomes a row of the "errors" table naming the table it was
 * filling, so checks over that table report an error instead of passing. */
#pragma once

#include "inventory/schema.h"
#include "lib/fsroot.h"

#include <jansson.h>

struct inventory {
	json_t *tables;	   /* object: table name -> array of row objects */
	char *root;	   /* root directory collected */
	double elapsed_ms; /* wall time of the collection */
};

struct inv_options {
	uint64_t walk_max_entries; /* file system walk limit (0 = default) */
	bool skip_walk;		   /* leave special_files and walk empty */
	const char *only_table;	   /* collect only the collectors filling this table (NULL = all) */
};

/* Context handed to each collector. */
struct inv_ctx {
	struct fsroot *root;
	const struct inv_options *opt;
	json_t *tables;
};

/* Appends a new empty row to table and returns it (borrowed; owned by the inventory). */
json_t *inv_row(struct inv_ctx *ctx, const char *table);
/* Set typed columns on a row; a NULL string leaves the column absent. */
void inv_set_str(json_t *row, const char *column, const char *value);
void inv_set_strn(json_t *row, const char *column, const char *value, size_t len);
void inv_set_int(json_t *row, const char *column, int64_t value);
void inv_set_bool(json_t *row, const char *column, bool value);
/* Records that path could not be read while filling table: err is a negative errno, or 0 with
 * a message in fmt (which may be NULL when err says it all). */
void inv_error(struct inv_ctx *ctx, const char *table, const char *path, int err, const char *fmt,
	       ...) _printf_(5, 6);
/* Returns the rows of table in an inventory being collected (borrowed; created if needed). */
json_t *inv_table_rows(struct inv_ctx *ctx, const char *table);

/* Collects the inventory of the directory root. Returns 0, or -ENOENT/-ENOTDIR when root is
 * not a directory. *out is the caller's (inventory_free). */
int inventory_collect(const char *root, const struct inv_options *opt, struct inventory **out);
/* Frees an inventory; accepts NULL. */
void inventory_free(struct inventory *inv);
/* Returns the rows of a schema table (borrowed; every table exists, possibly empty). */
json_t *inventory_rows(const struct inventory *inv, const char *table);
/* Returns the error rows recorded for table (a new reference to a new array). */
json_t *inventory_errors_for(const struct inventory *inv, const char *table);
/* Checks every row against the schema: unknown tables or columns and mistyped values.
 * Returns 0, or -EPROTO with a description of the first problem in msg. */
int inventory_validate(const struct inventory *inv, char *msg, size_t msgsize);
