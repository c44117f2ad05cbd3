/* Compiled predicates: the internal form of a check's condition, shared by the catalog loader
 * (which builds and validates it) and the evaluator (which runs it). Not a public API. */
#pragma once

#include "inventory/schema.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum pred_kind { PRED_ALL, PRED_ANY, PRED_NOT, PRED_TABLE };
enum rows_mode { ROWS_ALL, ROWS_ANY, ROWS_NONE };
enum match_op {
	OP_EQ,
	OP_NE,
	OP_IN,
	OP_NOT_IN,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_REGEX,
	OP_CONTAINS,
	OP_HAS,
	OP_LACKS,
	OP_MODE_MAX,
	OP_EXISTS,
};

/* One operand, converted once for the column's type. */
struct operand {
	char *s;   /* text as written */
	int64_t i; /* integer columns and comparisons; octal value for mode_max */
	bool b;	   /* boolean columns and exists */
};

struct cond {
	enum match_op op;
	struct operand v;     /* scalar operators */
	struct operand *list; /* in, not_in */
	size_t nlist;
	pcre2_code *re; /* regex */
	bool jit;	/* re was JIT-compiled */
};

/* A column matcher: all its conditions must hold. */
struct matcher {
	const struct inv_column *col; /* NULL for a count matcher */
	struct cond *conds;
	size_t n;
	char *text; /* "le 4", "eq no and ne yes" */
};

struct pred {
	enum pred_kind kind;
	unsigned line, col;
	struct pred **kids; /* all, any: n kids; not: one */
	size_t n;
	/* PRED_TABLE */
	const struct inv_table *table;
	size_t table_index;
	struct matcher *where, *expect;
	size_t nwhere, nexpect;
	enum rows_mode rows;
	bool has_count;
	struct matcher count;
	bool empty_pass;
	char *where_text;  /* "key eq permitrootlogin and match eq ''", or NULL */
	char *expect_text; /* "value eq no", or NULL */
};

/* Frees a predicate tree; accepts NULL. */
void pred_free(struct pred *p);
/* Returns the name of an operator ("le"). */
const char *match_op_name(enum match_op op);
