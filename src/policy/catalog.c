/* Catalog loader: YAML files -> validated checks with compiled predicates. */
#include "policy/catalog.h"
#include "lib/buf.h"
#include "lib/ytree.h"
#include "policy/pred.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct catalog_section sections[] = {
	{ "filesystems", "Filesystems, mounts and kernel modules" },
	{ "boot", "Boot loader and process hardening" },
	{ "services", "Services and packages" },
	{ "network", "Network kernel parameters" },
	{ "firewall", "Firewall" },
	{ "logging", "Logging (journald, rsyslog)" },
	{ "audit", "Audit (auditd and its rules)" },
	{ "ssh", "SSH server" },
	{ "pam", "PAM and password policy" },
	{ "sudo", "Privilege escalation (sudo, su)" },
	{ "accounts", "Users, groups and environment" },
	{ "permissions", "File permissions and integrity" },
	{ "cron", "Job scheduling" },
	{ "time", "Time synchronisation" },
	{ "banners", "Warning banners" },
};

static const struct catalog_framework frameworks[] = {
	{ "cis", "CIS Benchmarks (Debian 12 v1.1.0 numbering)", true },
	{ "pci_dss", "PCI DSS 4.0.1", true },
	{ "iso_27001", "ISO/IEC 27001:2022 Annex A", true },
	{ "soc2", "SOC 2 Trust Services Criteria", true },
	{ "nist_800_53", "NIST SP 800-53 Rev. 5", true },
	{ "bsi_c5", "BSI C5:2020", true },
	{ "sox_itgc", "SOX IT general controls", true },
	{ "mitre", "MITRE ATT&CK techniques (informative; not scored)", false },
};

static const char *const severities[] = { "low", "medium", "high", "critical" };

static const char *const op_names[] = {
	[OP_EQ] = "eq",
	[OP_NE] = "ne",
	[OP_IN] = "in",
	[OP_NOT_IN] = "not_in",
	[OP_LT] = "lt",
	[OP_LE] = "le",
	[OP_GT] = "gt",
	[OP_GE] = "ge",
	[OP_REGEX] = "regex",
	[OP_CONTAINS] = "contains",
	[OP_HAS] = "has",
	[OP_LACKS] = "lacks",
	[OP_MODE_MAX] = "mode_max",
	[OP_EXISTS] = "exists",
};

const struct catalog_section *catalog_sections(size_t *n)
{
	*n = ARRAY_SIZE(sections);
	return sections;
}

const struct catalog_framework *catalog_frameworks(size_t *n)
{
	*n = ARRAY_SIZE(frameworks);
	return frameworks;
}

int catalog_section_index(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (strcmp(sections[i].key, key) == 0)
			return (int)i;
	return -1;
}

int catalog_framework_index(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(frameworks); i++)
		if (strcmp(frameworks[i].key, key) == 0)
			return (int)i;
	return -1;
}

const char *severity_name(enum severity s)
{
	return severities[s];
}

const char *match_op_name(enum match_op op)
{
	return op_names[op];
}

/* ---- errors ---- */

struct loader {
	const char *file;
	const char *id; /* check being read, or NULL */
	struct catalog_error *err;
	struct catalog *cat;
	json_t *ids; /* id -> "file:line:col" of its first definition */
};

_printf_(4, 0) static int failv(struct loader *ld, unsigned line, unsigned col, const char *fmt,
				va_list ap)
{
	struct catalog_error *e = ld->err;
	snprintf(e->file, sizeof(e->file), "%s", ld->file);
	snprintf(e->id, sizeof(e->id), "%s", ld->id ? ld->id : "");
	e->line = line;
	e->col = col;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -EBADMSG;
}

_printf_(3, 4) static int fail(struct loader *ld, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = failv(ld, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
	return r;
}

/* Converts a ytree diagnostic into a catalog error. */
static int fail_y(struct loader *ld, const struct yerror *ye)
{
	return fail(ld, &(struct ynode){ .line = ye->line, .col = ye->col }, "%s", ye->msg);
}

const char *catalog_error_format(const struct catalog_error *err, char *buf, size_t size)
{
	int n = err->line ? snprintf(buf, size, "%s:%u:%u: ", err->file, err->line, err->col)
			  : snprintf(buf, size, "%s: ", err->file);
	if (n < 0 || (size_t)n >= size)
		return buf;
	if (err->id[0]) {
		int m = snprintf(buf + n, size - (size_t)n, "check %s: ", err->id);
		if (m < 0 || (size_t)m >= size - (size_t)n)
			return buf;
		n += m;
	}
	snprintf(buf + n, size - (size_t)n, "%s", err->msg);
	return buf;
}

/* ---- small node helpers ---- */

static int get_str(struct loader *ld, const struct ynode *n, const char *what, const char **out)
{
	if (!n || n->type != YNODE_SCALAR)
		return fail(ld, n, "expected a string for %s", what);
	if (!n->scalar[0])
		return fail(ld, n, "%s must not be empty", what);
	*out = n->scalar;
	return 0;
}

static int check_keys(struct loader *ld, const struct ynode *map, const char *const *allowed,
		      const char *what)
{
	struct yerror ye;
	if (ynode_check_keys(map, allowed, what, &ye) < 0)
		return fail_y(ld, &ye);
	return 0;
}

/* A non-empty list of non-empty strings. */
static int get_strv(struct loader *ld, const struct ynode *n, const char *what, strv *out)
{
	if (!n || n->type != YNODE_SEQ)
		return fail(ld, n, "expected a list for %s", what);
	if (n->n == 0)
		return fail(ld, n, "%s must not be an empty list", what);
	strv v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < n->n; i++) {
		const char *s = NULL;
		int r = get_str(ld, n->items[i], what, &s);
		if (r < 0) {
			strv_free(v);
			return r;
		}
		strv_push(&v, s);
	}
	*out = v;
	return 0;
}

static json_t *ynode_to_json(const struct ynode *n)
{
	if (n->type == YNODE_SCALAR)
		return json_string(n->scalar) ?: json_string("?");
	if (n->type == YNODE_SEQ) {
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(a, ynode_to_json(n->items[i]));
		return a;
	}
	json_t *o = json_object();
	for (size_t i = 0; i < n->n; i++)
		json_object_set_new(o, n->keys[i]->scalar, ynode_to_json(n->items[i]));
	return o;
}

/* ---- predicates ---- */

static void matcher_clear(struct matcher *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct cond *c = &m->conds[i];
		free(c->v.s);
		for (size_t j = 0; j < c->nlist; j++)
			free(c->list[j].s);
		free(c->list);
		pcre2_code_free(c->re);
	}
	free(m->conds);
	free(m->text);
}

void pred_free(struct pred *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		pred_free(p->kids[i]);
	free(p->kids);
	for (size_t i = 0; i < p->nwhere; i++)
		matcher_clear(&p->where[i]);
	for (size_t i = 0; i < p->nexpect; i++)
		matcher_clear(&p->expect[i]);
	free(p->where);
	free(p->expect);
	matcher_clear(&p->count);
	free(p->where_text);
	free(p->expect_text);
	free(p);
}

/* An integer operand: decimal, no leading zero (a YAML 0644 would silently be 644). */
static int parse_int_operand(struct loader *ld, const struct ynode *n, const char *what,
			     int64_t *out)
{
	const char *s = n->scalar;
	const char *d = s[0] == '-' ? s + 1 : s;
	if (d[0] == '0' && d[1])
		return fail(ld, n,
			    "'%s' for %s: integers are decimal without a leading zero (for file "
			    "modes use mode_max: \"%s\")",
			    s, what, s);
	if (parse_i64(s, INT64_MIN, INT64_MAX, out) < 0)
		return fail(ld, n, "expected an integer for %s, got '%s'", what, s);
	return 0;
}

/* Converts a scalar operand for comparison with a column of type t (eq, ne, in, not_in). */
static int parse_value_operand(struct loader *ld, const struct ynode *n, enum inv_type t,
			       const char *what, struct operand *out)
{
	if (!n || n->type != YNODE_SCALAR)
		return fail(ld, n, "expected a scalar for %s", what);
	struct operand o = { 0 };
	if (t == INV_INT) {
		int r = parse_int_operand(ld, n, what, &o.i);
		if (r < 0)
			return r;
	} else if (t == INV_BOOL) {
		struct yerror ye;
		if (ynode_as_bool(n, what, &o.b, &ye) < 0)
			return fail_y(ld, &ye);
	}
	o.s = xstrdup(n->scalar);
	*out = o;
	return 0;
}

static int compile_regex(struct loader *ld, const struct ynode *n, const char *what,
			 pcre2_code **out, bool *jit)
{
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)n->scalar, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
				       &errcode, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return fail(ld, n, "bad regex for %s at character %zu of the pattern: %s", what,
			    (size_t)off + 1, (const char *)msg);
	}
	/* JIT is an accelerator: where the platform lacks it, the interpreter runs instead. */
	*jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	*out = re;
	return 0;
}

static bool op_allowed(enum match_op op, enum inv_type t)
{
	switch (op) {
	case OP_EQ:
	case OP_NE:
	case OP_IN:
	case OP_NOT_IN:
	case OP_EXISTS: return true;
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
	case OP_MODE_MAX: return t != INV_BOOL;
	case OP_REGEX:
	case OP_CONTAINS:
	case OP_HAS:
	case OP_LACKS: return t == INV_STR;
	}
	return false;
}

static int parse_cond(struct loader *ld, const struct ynode *key, const struct ynode *val,
		      const struct inv_column *col, const char *what, struct cond *c)
{
	int op = -1;
	for (size_t i = 0; i < ARRAY_SIZE(op_names); i++)
		if (strcmp(op_names[i], key->scalar) == 0)
			op = (int)i;
	if (op < 0)
		return fail(ld, key,
			    "unknown operator '%s' for %s (eq, ne, in, not_in, lt, le, gt, ge, "
			    "regex, contains, has, lacks, mode_max, exists)",
			    key->scalar, what);
	enum inv_type t = col ? col->type : INV_INT;
	if (col && !op_allowed(op, t))
		return fail(ld, key, "operator '%s' does not apply to %s, a %s column", key->scalar,
			    what, inv_type_name(t));
	if (!col && (op == OP_REGEX || op == OP_CONTAINS || op == OP_HAS || op == OP_LACKS ||
		     op == OP_MODE_MAX || op == OP_EXISTS))
		return fail(ld, key, "operator '%s' does not apply to count", key->scalar);
	c->op = op;
	if (op == OP_IN || op == OP_NOT_IN) {
		if (val->type != YNODE_SEQ || val->n == 0)
			return fail(ld, val, "'%s' needs a non-empty list", key->scalar);
		c->list = xcalloc(val->n, sizeof(*c->list));
		for (size_t i = 0; i < val->n; i++) {
			int r = parse_value_operand(ld, val->items[i], t, what, &c->list[i]);
			if (r < 0)
				return r;
			c->nlist++;
		}
		return 0;
	}
	if (val->type != YNODE_SCALAR)
		return fail(ld, val, "'%s' needs a scalar operand", key->scalar);
	struct yerror ye;
	switch (c->op) {
	case OP_EQ:
	case OP_NE: return parse_value_operand(ld, val, t, what, &c->v);
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE: {
		int r = parse_int_operand(ld, val, what, &c->v.i);
		if (r < 0)
			return r;
		break;
	}
	case OP_REGEX: {
		int r = compile_regex(ld, val, what, &c->re, &c->jit);
		if (r < 0)
			return r;
		break;
	}
	case OP_CONTAINS:
	case OP_HAS:
	case OP_LACKS:
		if (!val->scalar[0])
			return fail(ld, val, "'%s' needs a non-empty string", key->scalar);
		break;
	case OP_MODE_MAX: {
		unsigned mode;
		if (parse_mode(val->scalar, &mode) < 0)
			return fail(ld, val,
				    "mode_max needs an octal mode such as \"0644\", got '%s'",
				    val->scalar);
		c->v.i = mode;
		break;
	}
	case OP_EXISTS:
		if (ynode_as_bool(val, "exists", &c->v.b, &ye) < 0)
			return fail_y(ld, &ye);
		break;
	default: break;
	}
	c->v.s = xstrdup(val->scalar);
	return 0;
}

static void operand_text(struct buf *b, const char *s)
{
	if (!s[0] || strpbrk(s, " ,[]'"))
		buf_printf(b, "'%s'", s);
	else
		buf_puts(b, s);
}

static char *matcher_text(const struct matcher *m, const char *prefix)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < m->n; i++) {
		const struct cond *c = &m->conds[i];
		if (i)
			buf_puts(&b, " and ");
		if (prefix)
			buf_printf(&b, "%s ", prefix);
		buf_printf(&b, "%s ", op_names[c->op]);
		if (c->op == OP_IN || c->op == OP_NOT_IN) {
			buf_puts(&b, "[");
			for (size_t j = 0; j < c->nlist; j++) {
				if (j)
					buf_puts(&b, ", ");
				operand_text(&b, c->list[j].s);
			}
			buf_puts(&b, "]");
		} else if (c->op == OP_EXISTS)
			buf_puts(&b, c->v.b ? "true" : "false");
		else
			operand_text(&b, c->v.s);
	}
	return buf_steal(&b);
}

/* Parses a column matcher (scalar shorthand for eq, or a mapping of operators). */
static int parse_matcher(struct loader *ld, const struct ynode *key, const struct ynode *val,
			 const struct inv_column *col, struct matcher *m)
{
	_cleanup_free_ char *what = col ? xasprintf("column '%s'", col->name) : xstrdup("count");
	m->col = col;
	if (val->type == YNODE_SEQ)
		return fail(ld, val, "a list is not a matcher for %s (use in: [...])", what);
	if (val->type == YNODE_SCALAR) {
		m->conds = xcalloc(1, sizeof(*m->conds));
		m->n = 1;
		struct ynode k = { .type = YNODE_SCALAR,
				   .line = val->line,
				   .col = val->col,
				   .scalar = (char *)"eq" };
		int r = parse_cond(ld, &k, val, col, what, &m->conds[0]);
		if (r < 0)
			return r;
	} else {
		if (val->n == 0)
			return fail(ld, val, "empty matcher for %s", what);
		m->conds = xcalloc(val->n, sizeof(*m->conds));
		for (size_t i = 0; i < val->n; i++) {
			int r = parse_cond(ld, val->keys[i], val->items[i], col, what,
					   &m->conds[m->n]);
			m->n++;
			if (r < 0)
				return r;
		}
	}
	m->text = matcher_text(m, NULL);
	return 0;
}

static int parse_matchers(struct loader *ld, const struct ynode *map, const struct inv_table *t,
			  const char *what, struct matcher **out, size_t *nout, char **text)
{
	if (map->type != YNODE_MAP || map->n == 0)
		return fail(ld, map, "%s must be a non-empty mapping of columns to matchers", what);
	*out = xcalloc(map->n, sizeof(**out));
	struct buf b;
	buf_init(&b, 256 * 1024);
	int r = 0;
	for (size_t i = 0; i < map->n && r == 0; i++) {
		const struct inv_column *col = inv_schema_column(t, map->keys[i]->scalar);
		if (!col) {
			r = fail(ld, map->keys[i],
				 "unknown column '%s' in table '%s' (see immune "
				 "inventory --schema)",
				 map->keys[i]->scalar, t->name);
			break;
		}
		r = parse_matcher(ld, map->keys[i], map->items[i], col, &(*out)[*nout]);
		(*nout)++;
		if (r == 0) {
			_cleanup_free_ char *mt = matcher_text(&(*out)[*nout - 1], col->name);
			buf_printf(&b, "%s%s", i ? ", " : "", mt);
		}
	}
	if (r == 0)
		*text = buf_steal(&b);
	buf_free(&b);
	return r;
}

static int parse_pred(struct loader *ld, const struct ynode *n, unsigned depth, uint64_t *tables,
		      struct pred **out);

static int parse_table_pred(struct loader *ld, const struct ynode *n, uint64_t *tables,
			    struct pred *p)
{
	static const char *const keys[] = { "table", "where", "rows", "expect",
					    "count", "empty", NULL };
	int r = check_keys(ld, n, keys, "a table predicate");
	if (r < 0)
		return r;
	const struct ynode *tn = ynode_get(n, "table");
	const char *name = NULL;
	r = get_str(ld, tn, "table", &name);
	if (r < 0)
		return r;
	p->kind = PRED_TABLE;
	p->table = inv_schema_table(name);
	if (!p->table)
		return fail(ld, tn, "unknown table '%s' (see immune inventory --schema)", name);
	size_t ntables;
	p->table_index = (size_t)(p->table - inv_schema_tables(&ntables));
	if (p->table_index < 64)
		*tables |= UINT64_C(1) << p->table_index;

	const struct ynode *where = ynode_get(n, "where"), *rows = ynode_get(n, "rows"),
			   *expect = ynode_get(n, "expect"), *count = ynode_get(n, "count"),
			   *empty = ynode_get(n, "empty");
	if (where) {
		r = parse_matchers(ld, where, p->table, "where", &p->where, &p->nwhere,
				   &p->where_text);
		if (r < 0)
			return r;
	}
	if (count) {
		const struct ynode *extra = rows ? rows : expect ? expect : empty;
		if (extra)
			return fail(ld, extra,
				    "count cannot be combined with rows, expect or empty");
		p->has_count = true;
		return parse_matcher(ld, count, count, NULL, &p->count);
	}
	p->rows = ROWS_ALL;
	if (rows) {
		const char *s = NULL;
		r = get_str(ld, rows, "rows", &s);
		if (r < 0)
			return r;
		if (strcmp(s, "all") == 0)
			p->rows = ROWS_ALL;
		else if (strcmp(s, "any") == 0)
			p->rows = ROWS_ANY;
		else if (strcmp(s, "none") == 0)
			p->rows = ROWS_NONE;
		else
			return fail(ld, rows, "rows must be all, any or none, not '%s'", s);
	}
	if (expect) {
		r = parse_matchers(ld, expect, p->table, "expect", &p->expect, &p->nexpect,
				   &p->expect_text);
		if (r < 0)
			return r;
	}
	if (empty) {
		const char *s = NULL;
		r = get_str(ld, empty, "empty", &s);
		if (r < 0)
			return r;
		if (p->rows == ROWS_NONE)
			return fail(ld, empty, "empty does not apply to rows: none");
		if (strcmp(s, "pass") == 0)
			p->empty_pass = true;
		else if (strcmp(s, "fail") != 0)
			return fail(ld, empty, "empty must be fail or pass, not '%s'", s);
	}
	return 0;
}

static int parse_pred(struct loader *ld, const struct ynode *n, unsigned depth, uint64_t *tables,
		      struct pred **out)
{
	if (depth > CATALOG_MAX_DEPTH)
		return fail(ld, n, "predicate nested too deeply (at most %d levels)",
			    CATALOG_MAX_DEPTH);
	if (n->type != YNODE_MAP)
		return fail(ld, n, "expected a predicate (a mapping with all, any, not or table)");
	struct pred *p = xcalloc(1, sizeof(*p));
	p->line = n->line;
	p->col = n->col;
	int r = 0;
	const struct ynode *all = ynode_get(n, "all"), *any = ynode_get(n, "any"),
			   *not = ynode_get(n, "not");
	if (all || any || not ) {
		const char *key = all ? "all" : any ? "any" : "not";
		const struct ynode *v = all ?: any ?: not ;
		if (n->n != 1) {
			for (size_t i = 0; i < n->n; i++)
				if (strcmp(n->keys[i]->scalar, key) != 0) {
					r = fail(ld, n->keys[i],
						 "unknown key '%s' in a predicate with '%s' (a "
						 "predicate has exactly one form)",
						 n->keys[i]->scalar, key);
					break;
				}
		} else if (not ) {
			p->kind = PRED_NOT;
			p->kids = xcalloc(1, sizeof(*p->kids));
			r = parse_pred(ld, v, depth + 1, tables, &p->kids[0]);
			if (r == 0)
				p->n = 1;
		} else if (v->type != YNODE_SEQ || v->n == 0) {
			r = fail(ld, v, "'%s' needs a non-empty list of predicates", key);
		} else {
			p->kind = all ? PRED_ALL : PRED_ANY;
			p->kids = xcalloc(v->n, sizeof(*p->kids));
			for (size_t i = 0; i < v->n && r == 0; i++) {
				r = parse_pred(ld, v->items[i], depth + 1, tables, &p->kids[i]);
				if (r == 0)
					p->n++;
			}
		}
	} else if (ynode_get(n, "table")) {
		r = parse_table_pred(ld, n, tables, p);
	} else if (n->n > 0) {
		static const char *const keys[] = { "all", "any", "not", "table", NULL };
		r = check_keys(ld, n, keys, "a predicate");
		if (r == 0)
			r = fail(ld, n, "a predicate needs one of all, any, not or table");
	} else
		r = fail(ld, n, "empty predicate: it needs one of all, any, not or table");
	if (r < 0) {
		pred_free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* ---- checks ---- */

static bool valid_id(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-'))
			return false;
	return strlen(s) < 120;
}

static void check_free(struct check *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->title);
	free(c->description);
	free(c->rationale);
	free(c->remediation);
	strv_free(c->applies.family);
	strv_free(c->applies.os);
	strv_free(c->applies.packages);
	strv_free(c->applies.files);
	pred_free(c->condition);
	json_decref(c->condition_src);
	json_decref(c->fix);
	json_decref(c->mappings);
	free(c);
}

static void set_table_bit(uint64_t *bits, const char *table)
{
	size_t n;
	const struct inv_table *all = inv_schema_tables(&n);
	const struct inv_table *t = inv_schema_table(table);
	if (t && (size_t)(t - all) < 64)
		*bits |= UINT64_C(1) << (t - all);
}

static int parse_applies(struct loader *ld, const struct ynode *n, struct check *c)
{
	static const char *const keys[] = { "family", "os", "packages", "files", NULL };
	static const char *const families[] = { "debian", "rhel", "suse", "alpine", "unknown" };
	int r = check_keys(ld, n, keys, "applies");
	if (r < 0)
		return r;
	if (n->n == 0)
		return fail(ld, n, "applies must not be empty (omit it instead)");
	const struct ynode *v;
	if ((v = ynode_get(n, "family"))) {
		if ((r = get_strv(ld, v, "applies.family", &c->applies.family)) < 0)
			return r;
		for (size_t i = 0; i < v->n; i++) {
			bool ok = false;
			for (size_t j = 0; j < ARRAY_SIZE(families); j++)
				ok |= strcmp(families[j], v->items[i]->scalar) == 0;
			if (!ok)
				return fail(ld, v->items[i],
					    "unknown family '%s' (debian, rhel, suse, alpine, "
					    "unknown)",
					    v->items[i]->scalar);
		}
		set_table_bit(&c->apply_tables, "os");
	}
	if ((v = ynode_get(n, "os"))) {
		if ((r = get_strv(ld, v, "applies.os", &c->applies.os)) < 0)
			return r;
		for (size_t i = 0; i < v->n; i++)
			if (!strchr(v->items[i]->scalar, '-'))
				return fail(ld, v->items[i],
					    "applies.os items are <id>-<version>, such as "
					    "debian-12, not '%s'",
					    v->items[i]->scalar);
		set_table_bit(&c->apply_tables, "os");
	}
	if ((v = ynode_get(n, "packages"))) {
		if ((r = get_strv(ld, v, "applies.packages", &c->applies.packages)) < 0)
			return r;
		set_table_bit(&c->apply_tables, "packages");
	}
	if ((v = ynode_get(n, "files"))) {
		if ((r = get_strv(ld, v, "applies.files", &c->applies.files)) < 0)
			return r;
		for (size_t i = 0; i < v->n; i++)
			if (v->items[i]->scalar[0] != '/')
				return fail(ld, v->items[i], "applies.files needs absolute paths");
	}
	return 0;
}

struct fix_type {
	const char *type;
	const char *required[4];
	const char *optional[4];
};

static const struct fix_type fix_types[] = {
	{ "config_set", { "file", "key", "value" }, { "separator", "section" } },
	{ "sysctl_set", { "key", "value" }, { "file" } },
	{ "file_mode", { "path" }, { "mode", "owner", "group" } },
	{ "module_disable", { "module" }, {} },
	{ "package_remove", { "package" }, {} },
	{ "service_disable", { "service" }, {} },
	{ "service_enable", { "service" }, {} },
	{ "mount_option", { "mount_point", "option" }, {} },
	{ "account_lock", {}, {} },
};

static int parse_fix(struct loader *ld, const struct ynode *n, json_t **out)
{
	if (n->type != YNODE_MAP)
		return fail(ld, n, "fix must be a mapping with a type");
	const struct ynode *tn = ynode_get(n, "type");
	const char *type = NULL;
	if (!tn)
		return fail(ld, n, "fix needs a type");
	int r = get_str(ld, tn, "fix type", &type);
	if (r < 0)
		return r;
	const struct fix_type *ft = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(fix_types); i++)
		if (strcmp(fix_types[i].type, type) == 0)
			ft = &fix_types[i];
	if (!ft)
		return fail(ld, tn,
			    "unknown fix type '%s' (config_set, sysctl_set, file_mode, "
			    "module_disable, package_remove, service_disable, service_enable, "
			    "mount_option, account_lock)",
			    type);
	const char *keys[10] = { "type" };
	size_t nk = 1;
	for (size_t i = 0; i < 4 && ft->required[i]; i++)
		keys[nk++] = ft->required[i];
	for (size_t i = 0; i < 4 && ft->optional[i]; i++)
		keys[nk++] = ft->optional[i];
	keys[nk] = NULL;
	_cleanup_free_ char *what = xasprintf("fix type %s", type);
	if ((r = check_keys(ld, n, keys, what)) < 0)
		return r;
	for (size_t i = 0; i < 4 && ft->required[i]; i++)
		if (!ynode_get(n, ft->required[i]))
			return fail(ld, n, "%s needs '%s'", what, ft->required[i]);
	json_t *fix = json_object();
	for (size_t i = 0; i < n->n; i++) {
		const char *k = n->keys[i]->scalar, *s = NULL;
		const struct ynode *v = n->items[i];
		_cleanup_free_ char *fw = xasprintf("fix field '%s'", k);
		/* separator may be a single space: accept it as written */
		if (strcmp(k, "separator") == 0 && v->type == YNODE_SCALAR && v->scalar[0])
			s = v->scalar;
		else if ((r = get_str(ld, v, fw, &s)) < 0)
			break;
		unsigned mode;
		if (strcmp(k, "mode") == 0 && parse_mode(s, &mode) < 0) {
			r = fail(ld, v, "fix mode must be an octal mode such as \"0600\", not '%s'",
				 s);
			break;
		}
		if ((strcmp(k, "file") == 0 || strcmp(k, "path") == 0 ||
		     strcmp(k, "mount_point") == 0) &&
		    s[0] != '/') {
			r = fail(ld, v, "fix field '%s' needs an absolute path, not '%s'", k, s);
			break;
		}
		json_object_set_new(fix, k, json_string(s) ?: json_string("?"));
	}
	if (r < 0) {
		json_decref(fix);
		return r;
	}
	*out = fix;
	return 0;
}

static bool valid_control(int fw, const char *s)
{
	const char *key = frameworks[fw].key;
	if (strchr(s, ' ') || strchr(s, '\t') || strchr(s, '\n'))
		return false;
	if (strcmp(key, "sox_itgc") == 0)
		return strcmp(s, "access-to-programs-and-data") == 0 ||
		       strcmp(s, "program-change") == 0 || strcmp(s, "program-development") == 0 ||
		       strcmp(s, "computer-operations") == 0;
	if (strcmp(key, "cis") == 0) {
		static const char *const prefixes[] = { "ubuntu2204:", "ubuntu2404:", "rhel9:" };
		for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
			if (str_has_prefix(s, prefixes[i]))
				s += strlen(prefixes[i]);
		bool digit = false;
		for (const char *p = s; *p; p++) {
			if (*p >= '0' && *p <= '9')
				digit = true;
			else if (*p == '.' && digit)
				digit = false;
			else
				return false;
		}
		return digit;
	}
	if (strcmp(key, "mitre") == 0) {
		if (s[0] != 'T' || strspn(s + 1, "0123456789") != 4)
			return false;
		return s[5] == '\0' || (s[5] == '.' && strspn(s + 6, "0123456789") == 3 && !s[9]);
	}
	return true;
}

static int parse_mappings(struct loader *ld, const struct ynode *n, json_t **out)
{
	if (n->type != YNODE_MAP) {
		/* "mappings:" with nothing after it, or {} written as a scalar */
		if (n->type == YNODE_SCALAR && !n->quoted && !n->scalar[0]) {
			*out = json_object();
			return 0;
		}
		return fail(ld, n, "mappings must be a mapping of framework keys to control lists");
	}
	json_t *m = json_object();
	int r = 0;
	for (size_t f = 0; f < ARRAY_SIZE(frameworks); f++) {
		const struct ynode *v = ynode_get(n, frameworks[f].key);
		if (!v)
			continue;
		strv ids = NULL;
		_cleanup_free_ char *what = xasprintf("mappings.%s", frameworks[f].key);
		if ((r = get_strv(ld, v, what, &ids)) < 0)
			break;
		json_t *a = json_array();
		for (size_t i = 0; ids[i]; i++) {
			if (!valid_control((int)f, ids[i])) {
				r = fail(ld, v->items[i], "'%s' is not a valid %s control id",
					 ids[i], frameworks[f].key);
				break;
			}
			for (size_t j = 0; j < i && r == 0; j++)
				if (strcmp(ids[j], ids[i]) == 0)
					r = fail(ld, v->items[i], "control '%s' listed twice",
						 ids[i]);
			if (r < 0)
				break;
			json_array_append_new(a, json_string(ids[i]));
		}
		strv_free(ids);
		json_object_set_new(m, frameworks[f].key, a);
		if (r < 0)
			break;
	}
	for (size_t i = 0; i < n->n && r == 0; i++)
		if (catalog_framework_index(n->keys[i]->scalar) < 0)
			r = fail(ld, n->keys[i],
				 "unknown framework '%s' (cis, pci_dss, iso_27001, soc2, "
				 "nist_800_53, bsi_c5, sox_itgc, mitre)",
				 n->keys[i]->scalar);
	if (r < 0) {
		json_decref(m);
		return r;
	}
	*out = m;
	return 0;
}

static int parse_text_fields(struct loader *ld, const struct ynode *n, struct check *c)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{ "title", offsetof(struct check, title) },
		{ "description", offsetof(struct check, description) },
		{ "rationale", offsetof(struct check, rationale) },
		{ "remediation", offsetof(struct check, remediation) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *s = NULL;
		int r = get_str(ld, ynode_get(n, fields[i].key), fields[i].key, &s);
		if (r < 0)
			return r;
		_cleanup_free_ char *t = xstrdup(s);
		*(char **)((char *)c + fields[i].off) = xstrdup(str_trim(t));
	}
	return 0;
}

static int parse_check(struct loader *ld, const struct ynode *n, struct check *c)
{
	static const char *const keys[] = { "id",	   "title",	"section",     "severity",
					    "description", "rationale", "remediation", "applies",
					    "condition",   "fix",	"mappings",    NULL };
	static const char *const required[] = { "id",	       "title",	      "section",
						"severity",    "description", "rationale",
						"remediation", "condition",   "mappings" };
	if (n->type != YNODE_MAP)
		return fail(ld, n, "expected a check (a mapping)");
	c->line = n->line;
	c->col = n->col;
	c->file = ld->file;
	const struct ynode *idn = ynode_get(n, "id");
	if (idn && idn->type == YNODE_SCALAR && idn->scalar[0]) {
		if (!valid_id(idn->scalar))
			return fail(ld, idn,
				    "invalid check id '%s' (lower-case letters, digits, '.' and "
				    "'-', starting with a letter or digit)",
				    idn->scalar);
		c->id = xstrdup(idn->scalar);
		ld->id = c->id;
	}
	int r = check_keys(ld, n, keys, "a check");
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++)
		if (!ynode_get(n, required[i]))
			return fail(ld, n, "missing required key '%s'", required[i]);
	if (!c->id)
		return fail(ld, idn, "id must be a non-empty string");
	const char *first = json_string_value(json_object_get(ld->ids, c->id));
	if (first)
		return fail(ld, idn, "duplicate id '%s' (first defined at %s)", c->id, first);

	if ((r = parse_text_fields(ld, n, c)) < 0)
		return r;
	const struct ynode *v = ynode_get(n, "section");
	const char *s = NULL;
	if ((r = get_str(ld, v, "section", &s)) < 0)
		return r;
	int sec = catalog_section_index(s);
	if (sec < 0)
		return fail(ld, v,
			    "unknown section '%s' (filesystems, boot, services, network, firewall, "
			    "logging, audit, ssh, pam, sudo, accounts, permissions, cron, time, "
			    "banners)",
			    s);
	c->section = (size_t)sec;
	v = ynode_get(n, "severity");
	if ((r = get_str(ld, v, "severity", &s)) < 0)
		return r;
	bool found = false;
	for (size_t i = 0; i < ARRAY_SIZE(severities); i++)
		if (strcmp(severities[i], s) == 0) {
			c->severity = (enum severity)i;
			found = true;
		}
	if (!found)
		return fail(ld, v, "unknown severity '%s' (low, medium, high, critical)", s);
	if ((v = ynode_get(n, "applies")) && (r = parse_applies(ld, v, c)) < 0)
		return r;
	if ((r = parse_pred(ld, ynode_get(n, "condition"), 1, &c->cond_tables, &c->condition)) < 0)
		return r;
	if ((v = ynode_get(n, "fix")) && (r = parse_fix(ld, v, &c->fix)) < 0)
		return r;
	if ((r = parse_mappings(ld, ynode_get(n, "mappings"), &c->mappings)) < 0)
		return r;
	c->condition_src = ynode_to_json(ynode_get(n, "condition"));
	json_object_set_new(ld->ids, c->id,
			    json_sprintf("%s:%u:%u", ld->file, idn->line, idn->col));
	return 0;
}

static int parse_doc(struct loader *ld, const struct ynode *root)
{
	if (root->type != YNODE_MAP)
		return fail(ld, root, "a catalog file holds one mapping with the key 'checks'");
	static const char *const keys[] = { "checks", NULL };
	int r = check_keys(ld, root, keys, "a catalog file");
	if (r < 0)
		return r;
	const struct ynode *list = ynode_get(root, "checks");
	if (!list)
		return fail(ld, root, "a catalog file needs the key 'checks'");
	if (list->type == YNODE_SCALAR && !list->quoted && !list->scalar[0])
		return 0; /* "checks:" with no items */
	if (list->type != YNODE_SEQ)
		return fail(ld, list, "checks must be a list");
	struct catalog *cat = ld->cat;
	for (size_t i = 0; i < list->n; i++) {
		if (cat->n >= CATALOG_MAX_CHECKS)
			return fail(ld, list->items[i], "too many checks (at most %d)",
				    CATALOG_MAX_CHECKS);
		struct check *c = xcalloc(1, sizeof(*c));
		ld->id = NULL;
		r = parse_check(ld, list->items[i], c);
		if (r < 0) {
			check_free(c);
			return r;
		}
		ld->id = NULL;
		cat->checks = xrealloc(cat->checks, (cat->n + 1) * sizeof(*cat->checks));
		cat->checks[cat->n++] = c;
	}
	return 0;
}

static int load_one(struct loader *ld, const char *name, const char *data, size_t len)
{
	strv_push(&ld->cat->files, name);
	ld->file = ld->cat->files[strv_len(ld->cat->files) - 1];
	ld->id = NULL;
	if (len > CATALOG_MAX_FILE_SIZE)
		return fail(ld, NULL, "file larger than %u bytes", CATALOG_MAX_FILE_SIZE);
	struct ynode *root;
	struct yerror ye;
	if (ytree_parse(data, len, &root, &ye) < 0)
		return fail_y(ld, &ye);
	int r = parse_doc(ld, root);
	ytree_free(root);
	return r;
}

static struct catalog *catalog_new(void)
{
	struct catalog *cat = xcalloc(1, sizeof(*cat));
	cat->files = xcalloc(1, sizeof(char *));
	return cat;
}

void catalog_free(struct catalog *cat)
{
	if (!cat)
		return;
	for (size_t i = 0; i < cat->n; i++)
		check_free(cat->checks[i]);
	free(cat->checks);
	strv_free(cat->files);
	free(cat);
}

static int loader_finish(struct loader *ld, int r, struct catalog **out)
{
	json_decref(ld->ids);
	if (r < 0) {
		catalog_free(ld->cat);
		return r;
	}
	*out = ld->cat;
	return 0;
}

int catalog_load_buffer(const char *name, const char *data, size_t len, struct catalog **out,
			struct catalog_error *err)
{
	memset(err, 0, sizeof(*err));
	struct loader ld = { .err = err, .cat = catalog_new(), .ids = json_object() };
	return loader_finish(&ld, load_one(&ld, name, data, len), out);
}

/* Reads a whole regular file of at most CATALOG_MAX_FILE_SIZE bytes. */
static int read_file(const char *path, struct buf *b)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > (off_t)CATALOG_MAX_FILE_SIZE)
		return -EFBIG;
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (buf_append(b, chunk, (size_t)n) < 0)
			return -EFBIG;
	}
}

static int fail_errno(struct loader *ld, const char *path, int r)
{
	snprintf(ld->err->file, sizeof(ld->err->file), "%s", path);
	if (r == -EFBIG)
		snprintf(ld->err->msg, sizeof(ld->err->msg), "file larger than %u bytes",
			 CATALOG_MAX_FILE_SIZE);
	else if (r == -EINVAL)
		snprintf(ld->err->msg, sizeof(ld->err->msg), "not a regular file");
	else
		snprintf(ld->err->msg, sizeof(ld->err->msg), "%s", strerror(-r));
	return r;
}

static int load_path(struct loader *ld, const char *path)
{
	struct buf b;
	buf_init(&b, CATALOG_MAX_FILE_SIZE);
	int r = read_file(path, &b);
	if (r < 0)
		r = fail_errno(ld, path, r);
	else
		r = load_one(ld, path, buf_str(&b), buf_len(&b));
	buf_free(&b);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct loader *ld, const char *dir, strv *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return fail_errno(ld, dir, -errno);
	strv names = xcalloc(1, sizeof(char *));
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    !(str_has_suffix(de->d_name, ".yml") || str_has_suffix(de->d_name, ".yaml")))
			continue;
		if (strv_len(names) >= CATALOG_MAX_FILES) {
			snprintf(ld->err->msg, sizeof(ld->err->msg), "more than %d catalog files",
				 CATALOG_MAX_FILES);
			snprintf(ld->err->file, sizeof(ld->err->file), "%s", dir);
			r = -E2BIG;
			break;
		}
		strv_push_take(&names, xasprintf("%s/%s", dir, de->d_name));
	}
	closedir(d);
	if (r < 0) {
		strv_free(names);
		return r;
	}
	sort_array(names, strv_len(names), sizeof(char *), cmp_str);
	*out = names;
	return 0;
}

int catalog_load(const char *path, struct catalog **out, struct catalog_error *err)
{
	memset(err, 0, sizeof(*err));
	struct loader ld = { .err = err, .cat = catalog_new(), .ids = json_object() };
	struct stat st;
	int r = 0;
	if (stat(path, &st) < 0)
		r = fail_errno(&ld, path, -errno);
	else if (S_ISDIR(st.st_mode)) {
		_cleanup_strv_ strv names = NULL;
		r = list_dir(&ld, path, &names);
		for (size_t i = 0; r == 0 && names[i]; i++)
			r = load_path(&ld, names[i]);
	} else
		r = load_path(&ld, path);
	return loader_finish(&ld, r, out);
}

const struct check *catalog_find(const struct catalog *cat, const char *id)
{
	for (size_t i = 0; i < cat->n; i++)
		if (strcmp(cat->checks[i]->id, id) == 0)
			return cat->checks[i];
	return NULL;
}

/* ---- rendering ---- */

static void render_table(struct buf *b, const struct pred *p)
{
	buf_puts(b, p->table->name);
	if (p->where_text)
		buf_printf(b, " where %s", p->where_text);
	buf_puts(b, ": ");
	if (p->has_count) {
		buf_printf(b, "the number of rows is %s", p->count.text);
		return;
	}
	if (p->rows == ROWS_NONE) {
		if (p->expect_text)
			buf_printf(b, "no row has %s", p->expect_text);
		else
			buf_puts(b, "no row exists");
		return;
	}
	if (!p->expect_text) {
		buf_puts(b,
			 p->empty_pass ? "always holds (empty: pass)" : "at least one row exists");
		return;
	}
	buf_printf(b, "%s row has %s", p->rows == ROWS_ALL ? "every" : "some", p->expect_text);
	buf_puts(b, p->empty_pass ? " (passes when no row is selected)"
				  : " (fails when no row is selected)");
}

static void render(struct buf *b, const struct pred *p, unsigned indent)
{
	buf_printf(b, "%*s", (int)indent * 2, "");
	switch (p->kind) {
	case PRED_ALL:
	case PRED_ANY:
		buf_printf(b, "%s of:\n", p->kind == PRED_ALL ? "all" : "any");
		for (size_t i = 0; i < p->n; i++)
			render(b, p->kids[i], indent + 1);
		return;
	case PRED_NOT:
		buf_puts(b, "not:\n");
		render(b, p->kids[0], indent + 1);
		return;
	case PRED_TABLE: render_table(b, p); buf_puts(b, "\n");
	}
}

char *check_condition_text(const struct check *c)
{
	struct buf b;
	buf_init(&b, 4u << 20);
	render(&b, c->condition, 0);
	return buf_steal(&b);
}

json_t *check_condition_json(const struct check *c)
{
	return json_incref(c->condition_src);
}
