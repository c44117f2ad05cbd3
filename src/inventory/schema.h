/* The inventory's tables and their typed columns: the contract between the collectors that
 * fill rows and the compliance predicates that read them. Every row is a JSON object whose
 * keys are columns of its table; a column absent from a row means "unknown / not set". */
#pragma once

#include "lib/common.h"

enum inv_type { INV_STR, INV_INT, INV_BOOL };

struct inv_column {
	const char *name;
	enum inv_type type;
	const char *doc;
};

struct inv_table {
	const char *name;
	const char *doc;
	const struct inv_column *columns; /* terminated by a NULL name */
};

/* Returns the table named name, or NULL. */
const struct inv_table *inv_schema_table(const char *name);
/* Returns the column named name in t, or NULL. */
const struct inv_column *inv_schema_column(const struct inv_table *t, const char *name);
/* Returns the array of all tables and stores its length in *n. */
const struct inv_table *inv_schema_tables(size_t *n);
/* Returns "string", "integer" or "boolean". */
const char *inv_type_name(enum inv_type t);
