/* Predicate evaluation: a fast pass computes each node's truth, then an explanation pass
 * walks the nodes that decided the result and collects their rows as evidence. */
#include "policy/eval.h"
#include "lib/buf.h"
#include "policy/pred.h"

#include <inttypes.h>

#define REGEX_MATCH_LIMIT 1000000
#define REGEX_DEPTH_LIMIT 10000

struct eval_ctx {
	const struct inventory *inv;
	size_t ntables;
	json_t **rows;	 /* per schema table: its rows (borrowed) */
	json_t **errors; /* per schema table: its error rows (owned, possibly empty) */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	json_t *indexes;	      /* "table/column" -> {value key -> [row numbers]} */
	const struct pred *memo_pred; /* last predicate counted by count_selected, and its count */
	size_t memo_count;
	struct fsroot *fs; /* opened on first use by applies.files */
	bool fs_tried;
};

static const char *const status_names[] = {
	[CHECK_PASS] = "pass",
	[CHECK_FAIL] = "fail",
	[CHECK_NOT_APPLICABLE] = "not_applicable",
	[CHECK_ERROR] = "error",
};

const char *check_status_name(enum check_status s)
{
	return status_names[s];
}

int check_status_parse(const char *s, enum check_status *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
		if (strcmp(status_names[i], s) == 0) {
			*out = (enum check_status)i;
			return 0;
		}
	return -EINVAL;
}

struct eval_ctx *eval_new(const struct inventory *inv)
{
	struct eval_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const struct inv_table *t = inv_schema_tables(&ctx->ntables);
	ctx->inv = inv;
	ctx->rows = xcalloc(ctx->ntables, sizeof(*ctx->rows));
	ctx->errors = xcalloc(ctx->ntables, sizeof(*ctx->errors));
	json_t *errors = json_object_get(inv->tables, "errors");
	for (size_t i = 0; i < ctx->ntables; i++) {
		ctx->rows[i] = json_object_get(inv->tables, t[i].name);
		if (!json_is_array(ctx->rows[i]))
			ctx->rows[i] = NULL;
		ctx->errors[i] = json_array();
	}
	size_t i;
	json_t *row;
	json_array_foreach(errors, i, row) {
		const struct inv_table *et =
			inv_schema_table(json_string_value(json_object_get(row, "table")) ?: "");
		if (et)
			json_array_append(ctx->errors[et - t], row);
	}
	ctx->indexes = json_object();
	ctx->md = pcre2_match_data_create(1, NULL);
	ctx->mctx = pcre2_match_context_create(NULL);
	if (!ctx->md || !ctx->mctx)
		abort();
	pcre2_set_match_limit(ctx->mctx, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(ctx->mctx, REGEX_DEPTH_LIMIT);
	return ctx;
}

void eval_free(struct eval_ctx *ctx)
{
	if (!ctx)
		return;
	for (size_t i = 0; i < ctx->ntables; i++)
		json_decref(ctx->errors[i]);
	free(ctx->errors);
	free(ctx->rows);
	json_decref(ctx->indexes);
	pcre2_match_data_free(ctx->md);
	pcre2_match_context_free(ctx->mctx);
	fsroot_free(ctx->fs);
	free(ctx);
}

void check_result_clear(struct check_result *r)
{
	free(r->message);
	json_decref(r->evidence);
	memset(r, 0, sizeof(*r));
}

/* ---- matching ---- */

/* Reads v as an integer: integers as such, strings when they are a whole decimal number. */
static bool value_int(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		_cleanup_free_ char *s = xstrdup(json_string_value(v));
		return parse_i64(str_trim(s), INT64_MIN, INT64_MAX, out) == 0;
	}
	return false;
}

static bool value_eq(const struct operand *o, enum inv_type t, const json_t *v)
{
	int64_t i;
	if (json_is_string(v))
		return str_case_eq(json_string_value(v), o->s);
	if (json_is_boolean(v))
		return t == INV_BOOL && json_is_true(v) == o->b;
	if (json_is_integer(v)) {
		if (t == INV_INT)
			return json_integer_value(v) == o->i;
		return parse_i64(o->s, INT64_MIN, INT64_MAX, &i) == 0 && i == json_integer_value(v);
	}
	return false;
}

static bool regex_match(struct eval_ctx *ctx, const struct cond *c, const json_t *v)
{
	if (!json_is_string(v))
		return false;
	PCRE2_SPTR subject = (PCRE2_SPTR)json_string_value(v);
	int rc = c->jit ? pcre2_jit_match(c->re, subject, json_string_length(v), 0, 0, ctx->md,
					  ctx->mctx)
			: pcre2_match(c->re, subject, json_string_length(v), 0, 0, ctx->md,
				      ctx->mctx);
	return rc >= 0;
}

static bool mode_within(const json_t *v, int64_t max)
{
	int64_t m;
	if (json_is_integer(v))
		m = json_integer_value(v);
	else if (json_is_string(v)) {
		unsigned u;
		if (parse_mode(json_string_value(v), &u) < 0)
			return false;
		m = u;
	} else
		return false;
	return m >= 0 && (m & ~max) == 0;
}

static bool cond_holds(struct eval_ctx *ctx, const struct cond *c, enum inv_type t, const json_t *v)
{
	int64_t i;
	if (!v || json_is_null(v))
		return c->op == OP_NE || c->op == OP_NOT_IN || (c->op == OP_EXISTS && !c->v.b);
	switch (c->op) {
	case OP_EXISTS: return c->v.b;
	case OP_EQ: return value_eq(&c->v, t, v);
	case OP_NE: return !value_eq(&c->v, t, v);
	case OP_IN:
	case OP_NOT_IN:
		for (size_t k = 0; k < c->nlist; k++)
			if (value_eq(&c->list[k], t, v))
				return c->op == OP_IN;
		return c->op == OP_NOT_IN;
	case OP_LT: return value_int(v, &i) && i < c->v.i;
	case OP_LE: return value_int(v, &i) && i <= c->v.i;
	case OP_GT: return value_int(v, &i) && i > c->v.i;
	case OP_GE: return value_int(v, &i) && i >= c->v.i;
	case OP_REGEX: return regex_match(ctx, c, v);
	case OP_CONTAINS: return json_is_string(v) && strcasestr(json_string_value(v), c->v.s);
	case OP_HAS:
	case OP_LACKS: {
		bool has = json_is_string(v) &&
			   str_list_has(json_string_value(v), c->v.s, ", \t\n", true);
		return c->op == OP_HAS ? has : !has;
	}
	case OP_MODE_MAX: return mode_within(v, c->v.i);
	}
	return false;
}

/* Returns the index of the first condition of m that fails on v, or -1 when all hold. */
static int matcher_fails(struct eval_ctx *ctx, const struct matcher *m, const json_t *v)
{
	enum inv_type t = m->col ? m->col->type : INV_INT;
	for (size_t i = 0; i < m->n; i++)
		if (!cond_holds(ctx, &m->conds[i], t, v))
			return (int)i;
	return -1;
}

static bool row_value_matches(struct eval_ctx *ctx, const struct matcher *m, const json_t *row)
{
	return matcher_fails(ctx, m, json_object_get(row, m->col->name)) < 0;
}

static bool row_selected(struct eval_ctx *ctx, const struct pred *p, const json_t *row)
{
	for (size_t i = 0; i < p->nwhere; i++)
		if (!row_value_matches(ctx, &p->where[i], row))
			return false;
	return true;
}

/* Returns the first expect matcher the row fails, or NULL when it satisfies expect. */
static const struct matcher *row_expect_fails(struct eval_ctx *ctx, const struct pred *p,
					      const json_t *row)
{
	for (size_t i = 0; i < p->nexpect; i++)
		if (!row_value_matches(ctx, &p->expect[i], row))
			return &p->expect[i];
	return NULL;
}

static json_t *table_rows(struct eval_ctx *ctx, const struct pred *p)
{
	return p->table_index < ctx->ntables ? ctx->rows[p->table_index] : NULL;
}

/* ---- equality indexes ----
 *
 * A where (or expect) matcher with eq or in on a column selects few rows of a big table
 * (a sysctl key, a package name, a path). The first time such a column is used, its table is
 * indexed: value (lower-cased, as eq compares) -> row numbers. Rows whose value does not have
 * the column's type land in a bucket that is always a candidate, so a lookup yields a superset
 * of the matching rows; the full matcher still runs on every candidate. */

#define OTHER_BUCKET "\001"

/* Writes the index key of v for a column of type t; returns false for a mistyped value. */
static bool index_key(const json_t *v, enum inv_type t, struct buf *key)
{
	buf_reset(key);
	if (t == INV_STR && json_is_string(v)) {
		buf_append(key, json_string_value(v), json_string_length(v));
		str_lower(key->data ? key->data : (char *)"");
		return true;
	}
	if (t == INV_INT && json_is_integer(v))
		return buf_printf(key, "%" PRId64, (int64_t)json_integer_value(v)) == 0;
	if (t == INV_BOOL && json_is_boolean(v))
		return buf_puts(key, json_is_true(v) ? "true" : "false") == 0;
	return false;
}

static bool operand_key(const struct operand *o, enum inv_type t, struct buf *key)
{
	buf_reset(key);
	if (t == INV_STR) {
		buf_puts(key, o->s);
		str_lower(key->data ? key->data : (char *)"");
		return true;
	}
	if (t == INV_INT)
		return buf_printf(key, "%" PRId64, o->i) == 0;
	return buf_puts(key, o->b ? "true" : "false") == 0;
}

static void bucket_add(json_t *index, const char *key, size_t row)
{
	json_t *b = json_object_get(index, key);
	if (!b) {
		b = json_array();
		json_object_set_new(index, key, b);
	}
	json_array_append_new(b, json_integer((json_int_t)row));
}

static json_t *column_index(struct eval_ctx *ctx, size_t table, const struct inv_column *col)
{
	char name[256];
	snprintf(name, sizeof(name), "%zu/%s", table, col->name);
	json_t *index = json_object_get(ctx->indexes, name);
	if (index)
		return index;
	index = json_object();
	struct buf key;
	buf_init(&key, 1u << 20);
	size_t i;
	json_t *row;
	json_array_foreach(ctx->rows[table], i, row) {
		json_t *v = json_object_get(row, col->name);
		if (!v)
			continue; /* eq and in never match a missing column */
		if (index_key(v, col->type, &key) && strcmp(buf_str(&key), OTHER_BUCKET) != 0)
			bucket_add(index, buf_str(&key), i);
		else
			bucket_add(index, OTHER_BUCKET, i);
	}
	buf_free(&key);
	json_object_set_new(ctx->indexes, name, index);
	return index;
}

static const struct cond *indexable(const struct matcher *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->conds[i].op == OP_EQ || m->conds[i].op == OP_IN)
			return &m->conds[i];
	return NULL;
}

/* Rows of a table predicate to look at: all of them, or the candidates an index gives. */
struct rowiter {
	json_t *rows;
	size_t *idx; /* NULL: every row */
	size_t n, pos;
};

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static void collect_bucket(json_t *index, const char *key, struct rowiter *it)
{
	json_t *b = json_object_get(index, key), *v;
	size_t i;
	it->idx = xrealloc(it->idx, (it->n + json_array_size(b) + 1) * sizeof(size_t));
	json_array_foreach(b, i, v)
		it->idx[it->n++] = (size_t)json_integer_value(v);
}

static bool try_index(struct eval_ctx *ctx, const struct pred *p, const struct matcher *m,
		      size_t nm, struct rowiter *it)
{
	for (size_t k = 0; k < nm; k++) {
		const struct cond *c = indexable(&m[k]);
		if (!c)
			continue;
		json_t *index = column_index(ctx, p->table_index, m[k].col);
		struct buf key;
		buf_init(&key, 1u << 20);
		it->idx = xcalloc(1, sizeof(size_t));
		if (c->op == OP_EQ) {
			if (operand_key(&c->v, m[k].col->type, &key))
				collect_bucket(index, buf_str(&key), it);
		} else
			for (size_t j = 0; j < c->nlist; j++)
				if (operand_key(&c->list[j], m[k].col->type, &key))
					collect_bucket(index, buf_str(&key), it);
		collect_bucket(index, OTHER_BUCKET, it);
		buf_free(&key);
		/* keep table order (evidence is listed in it) and drop duplicates */
		sort_array(it->idx, it->n, sizeof(size_t), cmp_size);
		size_t w = 0;
		for (size_t i = 0; i < it->n; i++)
			if (w == 0 || it->idx[w - 1] != it->idx[i])
				it->idx[w++] = it->idx[i];
		it->n = w;
		return true;
	}
	return false;
}

/* Starts iterating the rows that may satisfy where (and expect too, when with_expect). */
static void rowiter_init(struct eval_ctx *ctx, const struct pred *p, bool with_expect,
			 struct rowiter *it)
{
	*it = (struct rowiter){ .rows = table_rows(ctx, p) };
	if (!it->rows || json_array_size(it->rows) < 16)
		return;
	if (!try_index(ctx, p, p->where, p->nwhere, it) && with_expect)
		try_index(ctx, p, p->expect, p->nexpect, it);
}

/* Returns the next row that satisfies where, or NULL. */
static json_t *rowiter_next(struct eval_ctx *ctx, const struct pred *p, struct rowiter *it)
{
	for (;;) {
		json_t *row;
		if (it->idx)
			row = it->pos < it->n ? json_array_get(it->rows, it->idx[it->pos++]) : NULL;
		else
			row = json_array_get(it->rows, it->pos++);
		if (!row || row_selected(ctx, p, row))
			return row;
	}
}

static void rowiter_done(struct rowiter *it)
{
	free(it->idx);
	it->idx = NULL;
}

static size_t count_selected(struct eval_ctx *ctx, const struct pred *p)
{
	struct rowiter it;
	size_t n = 0;
	/* the explanation pass asks again for what the evaluation pass just counted */
	if (ctx->memo_pred == p)
		return ctx->memo_count;
	rowiter_init(ctx, p, false, &it);
	while (rowiter_next(ctx, p, &it))
		n++;
	rowiter_done(&it);
	ctx->memo_pred = p;
	ctx->memo_count = n;
	return n;
}

static bool count_holds(struct eval_ctx *ctx, const struct pred *p, size_t n)
{
	json_t *v = json_integer((json_int_t)n);
	bool ok = matcher_fails(ctx, &p->count, v) < 0;
	json_decref(v);
	return ok;
}

static bool eval_table(struct eval_ctx *ctx, const struct pred *p)
{
	struct rowiter it;
	json_t *row;
	bool result;
	if (p->has_count)
		return count_holds(ctx, p, count_selected(ctx, p));
	/* all: every selected row satisfies expect; none/any: whether some selected row does */
	rowiter_init(ctx, p, p->rows != ROWS_ALL, &it);
	size_t selected = 0;
	bool found = false;
	while (!found && (row = rowiter_next(ctx, p, &it))) {
		selected++;
		bool ok = !row_expect_fails(ctx, p, row);
		found = p->rows == ROWS_ALL ? !ok : ok;
	}
	rowiter_done(&it);
	switch (p->rows) {
	case ROWS_ALL: result = found ? false : selected ? true : p->empty_pass; break;
	case ROWS_NONE: result = !found; break;
	case ROWS_ANY:
	default:
		/* the candidates may not include every selected row: ask again for emptiness */
		result = found ? true : count_selected(ctx, p) ? false : p->empty_pass;
		break;
	}
	return result;
}

static bool eval_pred(struct eval_ctx *ctx, const struct pred *p)
{
	switch (p->kind) {
	case PRED_ALL:
		for (size_t i = 0; i < p->n; i++)
			if (!eval_pred(ctx, p->kids[i]))
				return false;
		return true;
	case PRED_ANY:
		for (size_t i = 0; i < p->n; i++)
			if (eval_pred(ctx, p->kids[i]))
				return true;
		return false;
	case PRED_NOT: return !eval_pred(ctx, p->kids[0]);
	case PRED_TABLE: return eval_table(ctx, p);
	}
	return false;
}

/* ---- evidence ---- */

struct explain {
	json_t *evidence;
	size_t total; /* entries found, including those past the cap */
	bool truth;   /* whether the entries explain a truth (pass) or a falsity (fail) */
};

static void value_text(struct buf *b, const json_t *v, bool octal)
{
	if (!v || json_is_null(v))
		buf_puts(b, "not set");
	else if (json_is_string(v))
		buf_printf(b, "'%s'", json_string_value(v));
	else if (json_is_integer(v) && octal)
		buf_printf(b, "%04" PRIo64, (uint64_t)json_integer_value(v) & 07777);
	else if (json_is_integer(v))
		buf_printf(b, "%" PRId64, (int64_t)json_integer_value(v));
	else
		buf_puts(b, json_is_true(v) ? "true" : "false");
}

static bool is_mode_matcher(const struct matcher *m)
{
	if (m->col && m->col->type == INV_INT && str_has_suffix(m->col->name, "mode"))
		return true;
	for (size_t i = 0; i < m->n; i++)
		if (m->conds[i].op == OP_MODE_MAX)
			return true;
	return false;
}

static bool push(struct explain *ex, json_t *entry)
{
	ex->total++;
	if (json_array_size(ex->evidence) >= EVAL_MAX_EVIDENCE) {
		json_decref(entry);
		return false;
	}
	json_array_append_new(ex->evidence, entry);
	return true;
}

/* An evidence entry for one row: which column was looked at, its value, what was expected. */
static void add_row(struct explain *ex, const struct pred *p, json_t *row, const struct matcher *m,
		    const char *expected)
{
	if (json_array_size(ex->evidence) >= EVAL_MAX_EVIDENCE) {
		ex->total++;
		return;
	}
	json_t *e = json_object();
	struct buf msg;
	buf_init(&msg, 64 * 1024);
	json_object_set_new(e, "table", json_string(p->table->name));
	json_t *file = json_object_get(row, "file"), *line = json_object_get(row, "line");
	if (json_is_string(file))
		json_object_set(e, "file", file);
	if (json_is_integer(line))
		json_object_set(e, "line", line);
	buf_puts(&msg, p->table->name);
	if (json_is_string(file)) {
		buf_printf(&msg, " (%s", json_string_value(file));
		if (json_is_integer(line))
			buf_printf(&msg, ":%" PRId64, (int64_t)json_integer_value(line));
		buf_puts(&msg, ")");
	}
	if (m) {
		json_t *v = json_object_get(row, m->col->name);
		json_object_set_new(e, "column", json_string(m->col->name));
		json_object_set(e, "value", v ?: json_null());
		buf_printf(&msg, ": %s is ", m->col->name);
		value_text(&msg, v, is_mode_matcher(m));
		buf_printf(&msg, ", expected %s", expected);
	} else
		buf_printf(&msg, ": row %s", expected);
	json_object_set_new(e, "expected", json_string(expected));
	json_object_set_new(e, "message", json_string(buf_str(&msg)) ?: json_string("?"));
	json_object_set(e, "row", row);
	buf_free(&msg);
	push(ex, e);
}

static void add_note(struct explain *ex, const struct pred *p, const char *expected,
		     const char *msg)
{
	json_t *e = json_pack("{s:s, s:s, s:s}", "table", p->table->name, "expected", expected,
			      "message", msg);
	if (e)
		push(ex, e);
}

static char *selection_text(const struct pred *p, const char *what)
{
	return p->where_text ? xasprintf("%s where %s", what, p->where_text) : xstrdup(what);
}

static void explain_count(struct eval_ctx *ctx, struct explain *ex, const struct pred *p)
{
	struct rowiter it;
	json_t *row;
	size_t selected = count_selected(ctx, p);
	_cleanup_free_ char *expected = xasprintf("count %s", p->count.text);
	_cleanup_free_ char *sel = selection_text(p, "rows");
	_cleanup_free_ char *msg =
		xasprintf("%s: %zu %s, expected %s", p->table->name, selected, sel, expected);
	json_t *e = json_pack("{s:s, s:s, s:I, s:s}", "table", p->table->name, "expected", expected,
			      "value", (json_int_t)selected, "message", msg);
	if (e)
		push(ex, e);
	_cleanup_free_ char *which = xasprintf("selected (%s)", expected);
	rowiter_init(ctx, p, false, &it);
	while (selected && json_array_size(ex->evidence) < EVAL_MAX_EVIDENCE &&
	       (row = rowiter_next(ctx, p, &it)))
		add_row(ex, p, row, NULL, which);
	rowiter_done(&it);
}

static void explain_table(struct eval_ctx *ctx, struct explain *ex, const struct pred *p,
			  bool truth)
{
	if (p->has_count) {
		explain_count(ctx, ex, p);
		return;
	}
	_cleanup_free_ char *sel = selection_text(p, "row");
	if (p->rows == ROWS_NONE && truth) {
		/* nothing to list: no selected row has what must not be */
		_cleanup_free_ char *expected =
			p->expect_text ? xasprintf("no %s with %s", sel, p->expect_text)
				       : xasprintf("no %s", sel);
		_cleanup_free_ char *msg =
			xasprintf("%s: %s, as required", p->table->name, expected);
		add_note(ex, p, expected, msg);
		return;
	}
	struct rowiter it;
	json_t *row;
	size_t selected = 0;
	_cleanup_free_ char *none_exp =
		p->expect_text ? xasprintf("no row with %s", p->expect_text) : NULL;
	/* none (failing) and any (passing) list the rows that satisfy expect: an index helps */
	rowiter_init(ctx, p, (p->rows == ROWS_NONE && !truth) || (p->rows == ROWS_ANY && truth),
		     &it);
	while ((row = rowiter_next(ctx, p, &it))) {
		selected++;
		const struct matcher *bad = row_expect_fails(ctx, p, row);
		const struct matcher *first = p->nexpect ? &p->expect[0] : NULL;
		bool ok = !bad;
		if (p->rows == ROWS_NONE) {
			if (ok)
				add_row(ex, p, row, first, none_exp ? none_exp : "must not exist");
		} else if (ok == truth)
			add_row(ex, p, row, ok ? first : bad,
				ok ? (first ? first->text : "exists") : bad->text);
		/* a pass needs no count of its supporting rows */
		if (truth && json_array_size(ex->evidence) >= EVAL_MAX_EVIDENCE)
			break;
	}
	rowiter_done(&it);
	if (selected == 0 && p->rows != ROWS_NONE && !count_selected(ctx, p)) {
		_cleanup_free_ char *expected = xasprintf("at least one %s", sel);
		_cleanup_free_ char *msg = xasprintf("%s: no %s%s", p->table->name, sel,
						     p->empty_pass ? " (allowed)" : "");
		add_note(ex, p, expected, msg);
	}
}

static void explain(struct eval_ctx *ctx, struct explain *ex, const struct pred *p, bool truth)
{
	switch (p->kind) {
	case PRED_ALL:
	case PRED_ANY: {
		/* all true / any false: every kid has that value; otherwise the kids that decided */
		bool every = (p->kind == PRED_ALL) == truth;
		for (size_t i = 0; i < p->n; i++)
			if (every || eval_pred(ctx, p->kids[i]) == truth)
				explain(ctx, ex, p->kids[i], truth);
		return;
	}
	case PRED_NOT: explain(ctx, ex, p->kids[0], !truth); return;
	case PRED_TABLE: explain_table(ctx, ex, p, truth); return;
	}
}

/* ---- applicability and errors ---- */

static const char *os_str(struct eval_ctx *ctx, const char *col)
{
	size_t n;
	const struct inv_table *t = inv_schema_tables(&n);
	const struct inv_table *os = inv_schema_table("os");
	json_t *row = json_array_get(ctx->rows[os - t], 0);
	return json_string_value(json_object_get(row, col));
}

static bool applies_os(struct eval_ctx *ctx, char *const *list)
{
	const char *id = os_str(ctx, "id"), *ver = os_str(ctx, "version_id");
	size_t n;
	const struct inv_table *t = inv_schema_tables(&n);
	json_t *row = json_array_get(ctx->rows[inv_schema_table("os") - t], 0);
	json_t *major = json_object_get(row, "version_major");
	if (!id)
		return false;
	_cleanup_free_ char *full = ver ? xasprintf("%s-%s", id, ver) : NULL;
	_cleanup_free_ char *maj =
		json_is_integer(major)
			? xasprintf("%s-%" PRId64, id, (int64_t)json_integer_value(major))
			: NULL;
	for (size_t i = 0; list[i]; i++)
		if ((full && str_case_eq(list[i], full)) || (maj && str_case_eq(list[i], maj)))
			return true;
	return false;
}

static bool applies_packages(struct eval_ctx *ctx, char *const *list)
{
	size_t n, i;
	const struct inv_table *t = inv_schema_tables(&n);
	json_t *row;
	json_array_foreach(ctx->rows[inv_schema_table("packages") - t], i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		if (name && strv_contains(list, name))
			return true;
	}
	return false;
}

static bool applies_files(struct eval_ctx *ctx, char *const *list)
{
	if (!ctx->fs_tried) {
		ctx->fs_tried = true;
		if (ctx->inv->root && fsroot_new(ctx->inv->root, &ctx->fs) < 0)
			ctx->fs = NULL;
	}
	if (!ctx->fs)
		return false;
	for (size_t i = 0; list[i]; i++) {
		struct stat st;
		if (fsroot_stat(ctx->fs, list[i], true, &st) == 0)
			return true;
	}
	return false;
}

static char *join(char *const *v)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; v[i]; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", v[i]);
	return buf_steal(&b);
}

/* Returns NULL when the check applies, else why not (a new string). */
static char *not_applicable(struct eval_ctx *ctx, const struct check *c)
{
	const struct check_applies *a = &c->applies;
	if (a->family) {
		const char *fam = os_str(ctx, "family") ?: "unknown";
		bool ok = false;
		for (size_t i = 0; a->family[i]; i++)
			ok |= str_case_eq(a->family[i], fam);
		if (!ok) {
			_cleanup_free_ char *l = join(a->family);
			return xasprintf("os family is '%s'; the check applies to %s", fam, l);
		}
	}
	if (a->os && !applies_os(ctx, a->os)) {
		_cleanup_free_ char *l = join(a->os);
		const char *id = os_str(ctx, "id") ?: "?", *v = os_str(ctx, "version_id") ?: "?";
		return xasprintf("os is %s-%s; the check applies to %s", id, v, l);
	}
	if (a->packages && !applies_packages(ctx, a->packages)) {
		_cleanup_free_ char *l = join(a->packages);
		return xasprintf("none of these packages is installed: %s", l);
	}
	if (a->files && !applies_files(ctx, a->files)) {
		_cleanup_free_ char *l = join(a->files);
		return xasprintf("none of these files exists: %s", l);
	}
	return NULL;
}

/* Fills out with the error rows of the tables in mask; returns true when there were any. */
static bool table_errors(struct eval_ctx *ctx, uint64_t mask, struct check_result *out)
{
	size_t n = 0, i;
	json_t *ev = NULL, *row;
	for (size_t t = 0; t < ctx->ntables && t < 64; t++) {
		if (!(mask & (UINT64_C(1) << t)))
			continue;
		json_array_foreach(ctx->errors[t], i, row) {
			const char *table = json_string_value(json_object_get(row, "table")) ?: "";
			const char *path = json_string_value(json_object_get(row, "path")) ?: "";
			const char *err = json_string_value(json_object_get(row, "error")) ?: "";
			_cleanup_free_ char *msg =
				xasprintf("%s: cannot read %s: %s", table, path, err);
			if (!ev) {
				ev = json_array();
				out->message = xstrdup(msg);
			}
			if (json_array_size(ev) < EVAL_MAX_EVIDENCE)
				json_array_append_new(ev, json_pack("{s:s, s:s, s:s, s:s}", "table",
								    table, "path", path, "error",
								    err, "message", msg));
			n++;
		}
	}
	if (!ev)
		return false;
	if (n > 1) {
		char *m = xasprintf("%s (and %zu more)", out->message, n - 1);
		free(out->message);
		out->message = m;
	}
	out->status = CHECK_ERROR;
	out->evidence = ev;
	return true;
}

void eval_check(struct eval_ctx *ctx, const struct check *c, struct check_result *out)
{
	memset(out, 0, sizeof(*out));
	ctx->memo_pred = NULL;
	if (table_errors(ctx, c->apply_tables, out))
		return;
	char *why = not_applicable(ctx, c);
	if (why) {
		out->status = CHECK_NOT_APPLICABLE;
		out->message = xasprintf("not applicable: %s", why);
		out->evidence = json_array();
		free(why);
		return;
	}
	if (table_errors(ctx, c->cond_tables, out))
		return;
	bool ok = eval_pred(ctx, c->condition);
	struct explain ex = { .evidence = json_array(), .truth = ok };
	explain(ctx, &ex, c->condition, ok);
	out->status = ok ? CHECK_PASS : CHECK_FAIL;
	out->evidence = ex.evidence;
	const char *first =
		json_string_value(json_object_get(json_array_get(ex.evidence, 0), "message"));
	if (!first)
		out->message = xstrdup(ok ? "the condition holds" : "the condition does not hold");
	else if (ex.total > 1)
		out->message = xasprintf("%s (and %zu more)", first, ex.total - 1);
	else
		out->message = xstrdup(first);
}
