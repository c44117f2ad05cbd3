/* Loading Sigma YAML: each document of a file becomes a rule (metadata parsed here; the
 * detection is compiled later from the kept document tree). Documents are split at "---"
 * lines before YAML parsing, so a document that is not valid YAML costs only itself. */
#include "detect/sigma_int.h"
#include "lib/str.h"

#include <ctype.h>

#define SIGMA_MAX_RULES 100000

void srule_free(struct srule *r)
{
	if (!r)
		return;
	free(r->pub.id);
	free(r->pub.name);
	free(r->pub.title);
	free(r->pub.description);
	free(r->pub.status);
	strv_free(r->pub.tags);
	free(r->pub.file);
	free(r->corr.refs);
	free(r->corr.group_by);
	strv_free(r->corr_refs);
	strv_free(r->corr_group_by);
	free(r->corr_value_field);
	ytree_free_docs(r->docs, r->n_docs);
	sdetect_free(&r->det);
	free(r);
}

/* The line of n in its file. */
static unsigned nline(const struct srule *r, const struct ynode *n)
{
	return r->line_base + (n ? n->line : 1);
}

static bool scalar_null(const struct ynode *n)
{
	return n && n->type == YNODE_SCALAR && !n->quoted &&
	       (!n->scalar[0] || !strcmp(n->scalar, "null") || !strcmp(n->scalar, "~") ||
		!strcmp(n->scalar, "Null") || !strcmp(n->scalar, "NULL"));
}

/* Reads an optional string key; returns 0, or -EBADMSG after recording an error. */
static int opt_str(struct sigma_ruleset *rs, struct srule *r, const char *key, char **out)
{
	const struct ynode *n = ynode_get(r->doc, key);
	if (!n || scalar_null(n))
		return 0;
	if (n->type != YNODE_SCALAR) {
		sigma_error_add(rs, r->pub.file, nline(r, n), r->pub.id, "%s: expected a string",
				key);
		return -EBADMSG;
	}
	*out = xstrdup(n->scalar);
	return 0;
}

static int parse_level(struct sigma_ruleset *rs, struct srule *r)
{
	static const char *const names[] = { "informational", "low", "medium", "high", "critical" };
	const struct ynode *n = ynode_get(r->doc, "level");

	r->pub.level = SIGMA_LEVEL_MEDIUM;
	if (!n)
		return 0;
	if (n->type == YNODE_SCALAR)
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (str_case_eq(n->scalar, names[i])) {
				r->pub.level = (enum sigma_level)(i + 1);
				return 0;
			}
	sigma_error_add(rs, r->pub.file, nline(r, n), r->pub.id,
			"level: expected informational, low, medium, high or critical");
	return -EBADMSG;
}

/* A scalar or a list of scalars as a vector. */
static int str_list(struct sigma_ruleset *rs, struct srule *r, const struct ynode *n,
		    const char *what, strv *out)
{
	strv v = NULL;

	if (n->type == YNODE_SCALAR) {
		strv_push(&v, n->scalar);
	} else if (n->type == YNODE_SEQ) {
		for (size_t i = 0; i < n->n; i++) {
			if (n->items[i]->type != YNODE_SCALAR) {
				strv_free(v);
				sigma_error_add(rs, r->pub.file, nline(r, n->items[i]), r->pub.id,
						"%s: expected a list of strings", what);
				return -EBADMSG;
			}
			strv_push(&v, n->items[i]->scalar);
		}
	} else {
		sigma_error_add(rs, r->pub.file, nline(r, n), r->pub.id,
				"%s: expected a string or a list of strings", what);
		return -EBADMSG;
	}
	if (!v)
		v = xcalloc(1, sizeof(char *));
	*out = v;
	return 0;
}

/* "30s", "5m", "1h", "2d" (a bare number is seconds). */
static int parse_timespan(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int64_t mult = 1, v;
	char num[32];

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	switch (s[n - 1]) {
	case 's': n--; break;
	case 'm':
		mult = 60;
		n--;
		break;
	case 'h':
		mult = 3600;
		n--;
		break;
	case 'd':
		mult = 86400;
		n--;
		break;
	default: break;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_i64(num, 1, INT64_MAX / 1000000000 / mult, &v) < 0)
		return -EINVAL;
	*out = v * mult * 1000000000;
	return 0;
}

static int corr_condition(struct sigma_ruleset *rs, struct srule *r, const struct ynode *c)
{
	struct sigma_correlation *k = &r->corr;

	k->min = 1;
	k->max = INT64_MAX;
	if (!c) {
		if (k->type == SIGMA_CORR_EVENT_COUNT || k->type == SIGMA_CORR_VALUE_COUNT) {
			sigma_error_add(rs, r->pub.file, r->corr_line, r->pub.id,
					"correlation: %s needs a condition",
					k->type == SIGMA_CORR_EVENT_COUNT ? "event_count"
									  : "value_count");
			return -EBADMSG;
		}
		return 0;
	}
	if (c->type != YNODE_MAP) {
		sigma_error_add(rs, r->pub.file, nline(r, c), r->pub.id,
				"correlation condition: expected a map of gt, gte, lt, lte, eq");
		return -EBADMSG;
	}
	for (size_t i = 0; i < c->n; i++) {
		const char *key = c->keys[i]->scalar;
		const struct ynode *v = c->items[i];
		int64_t x;

		if (!strcmp(key, "field")) {
			if (v->type != YNODE_SCALAR) {
				sigma_error_add(rs, r->pub.file, nline(r, v), r->pub.id,
						"correlation condition field: expected a string");
				return -EBADMSG;
			}
			free(r->corr_value_field);
			r->corr_value_field = xstrdup(v->scalar);
			continue;
		}
		if (v->type != YNODE_SCALAR || parse_i64(v->scalar, 0, INT64_MAX - 1, &x) < 0) {
			sigma_error_add(rs, r->pub.file, nline(r, v), r->pub.id,
					"correlation condition %s: expected a count", key);
			return -EBADMSG;
		}
		if (!strcmp(key, "gt"))
			k->min = x + 1;
		else if (!strcmp(key, "gte"))
			k->min = x;
		else if (!strcmp(key, "lt"))
			k->max = x - 1;
		else if (!strcmp(key, "lte"))
			k->max = x;
		else if (!strcmp(key, "eq"))
			k->min = k->max = x;
		else {
			sigma_error_add(rs, r->pub.file, nline(r, c->keys[i]), r->pub.id,
					"correlation condition: unknown operator '%s'", key);
			return -EBADMSG;
		}
	}
	if (k->type == SIGMA_CORR_VALUE_COUNT && !r->corr_value_field) {
		sigma_error_add(rs, r->pub.file, nline(r, c), r->pub.id,
				"correlation: value_count needs condition field");
		return -EBADMSG;
	}
	return 0;
}

static int parse_correlation(struct sigma_ruleset *rs, struct srule *r, const struct ynode *c)
{
	static const char *const types[] = { "event_count", "value_count", "temporal",
					     "temporal_ordered" };
	const struct ynode *n;
	bool gen = false;
	struct yerror yerr;

	r->corr_line = nline(r, c);
	if (c->type != YNODE_MAP) {
		sigma_error_add(rs, r->pub.file, nline(r, c), r->pub.id,
				"correlation: expected a map");
		return -EBADMSG;
	}
	n = ynode_get(c, "type");
	if (n && n->type == YNODE_SCALAR)
		for (size_t i = 0; i < ARRAY_SIZE(types); i++)
			if (!strcmp(n->scalar, types[i]))
				r->corr.type = (enum sigma_corr_type)(i + 1);
	if (!r->corr.type) {
		sigma_error_add(rs, r->pub.file, nline(r, n ? n : c), r->pub.id,
				"correlation type: expected event_count, value_count, temporal or "
				"temporal_ordered");
		return -EBADMSG;
	}
	n = ynode_get(c, "rules");
	if (!n) {
		sigma_error_add(rs, r->pub.file, nline(r, c), r->pub.id, "correlation: no rules");
		return -EBADMSG;
	}
	if (str_list(rs, r, n, "correlation rules", &r->corr_refs) < 0)
		return -EBADMSG;
	if (!r->corr_refs[0]) {
		sigma_error_add(rs, r->pub.file, nline(r, n), r->pub.id, "correlation: no rules");
		return -EBADMSG;
	}
	n = ynode_get(c, "group-by");
	if (n && str_list(rs, r, n, "correlation group-by", &r->corr_group_by) < 0)
		return -EBADMSG;
	n = ynode_get(c, "timespan");
	if (!n)
		n = ynode_get(c, "timeframe");
	if (!n || n->type != YNODE_SCALAR || parse_timespan(n->scalar, &r->corr.timespan_ns) < 0) {
		sigma_error_add(
			rs, r->pub.file, nline(r, n ? n : c), r->pub.id,
			"correlation timespan: expected a duration such as 30s, 5m, 1h, 1d");
		return -EBADMSG;
	}
	if (corr_condition(rs, r, ynode_get(c, "condition")) < 0)
		return -EBADMSG;
	n = ynode_get(c, "generate");
	if (!n)
		n = ynode_get(r->doc, "generate");
	if (n && ynode_as_bool(n, "generate", &gen, &yerr) < 0) {
		sigma_error_add(rs, r->pub.file, nline(r, n), r->pub.id,
				"generate: expected true or false");
		return -EBADMSG;
	}
	r->corr.generate = gen;
	r->pub.correlation = &r->corr;
	return 0;
}

static int parse_rule(struct sigma_ruleset *rs, struct srule *r)
{
	const struct ynode *n;

	if (r->doc->type != YNODE_MAP) {
		sigma_error_add(rs, r->pub.file, r->pub.line, NULL,
				"a Sigma rule document must be a map");
		return -EBADMSG;
	}
	/* the id first, so that later errors name it */
	if (opt_str(rs, r, "id", &r->pub.id) < 0 || opt_str(rs, r, "name", &r->pub.name) < 0)
		return -EBADMSG;
	if (!r->pub.id && r->pub.name)
		r->pub.id = xstrdup(r->pub.name);
	if (!r->pub.id) {
		sigma_error_add(rs, r->pub.file, r->pub.line, NULL, "rule has no id (nor name)");
		return -EBADMSG;
	}
	if (opt_str(rs, r, "title", &r->pub.title) < 0 ||
	    opt_str(rs, r, "description", &r->pub.description) < 0 ||
	    opt_str(rs, r, "status", &r->pub.status) < 0 || parse_level(rs, r) < 0)
		return -EBADMSG;
	if (!r->pub.title) {
		sigma_error_add(rs, r->pub.file, r->pub.line, r->pub.id, "rule has no title");
		return -EBADMSG;
	}
	n = ynode_get(r->doc, "tags");
	if (n && !scalar_null(n) && str_list(rs, r, n, "tags", &r->pub.tags) < 0)
		return -EBADMSG;
	if (!r->pub.tags)
		r->pub.tags = xcalloc(1, sizeof(char *));
	n = ynode_get(r->doc, "correlation");
	if (n)
		return parse_correlation(rs, r, n);
	n = ynode_get(r->doc, "detection");
	if (!n) {
		sigma_error_add(rs, r->pub.file, r->pub.line, r->pub.id,
				"rule has neither detection nor correlation");
		return -EBADMSG;
	}
	return 0;
}

static void load_doc(struct sigma_ruleset *rs, const char *file, const char *text, size_t len,
		     unsigned line_base)
{
	struct yerror err;
	struct ynode **docs;
	size_t ndocs;
	struct srule *r;

	if (ytree_parse_stream(text, len, &docs, &ndocs, &err) < 0) {
		sigma_error_add(rs, file, line_base + (err.line ? err.line : 1), NULL, "%s",
				err.msg);
		return;
	}
	if (ndocs == 0) {
		ytree_free_docs(docs, ndocs);
		return;
	}
	if (ndocs != 1 || rs->n_rules >= SIGMA_MAX_RULES) {
		sigma_error_add(rs, file, line_base + docs[0]->line, NULL,
				ndocs != 1 ? "unexpected YAML document split" : "too many rules");
		ytree_free_docs(docs, ndocs);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->docs = docs;
	r->n_docs = ndocs;
	r->doc = docs[0];
	r->line_base = line_base;
	r->pub.file = xstrdup(file);
	r->pub.line = line_base + (r->doc->line ? r->doc->line : 1);
	/* empty documents (comments only) parse as a null scalar: skip them */
	if (scalar_null(r->doc)) {
		srule_free(r);
		return;
	}
	if (parse_rule(rs, r) < 0) {
		srule_free(r);
		return;
	}
	if (rs->n_rules == rs->cap_rules) {
		rs->cap_rules = rs->cap_rules ? 2 * rs->cap_rules : 64;
		rs->rules = xrealloc(rs->rules, rs->cap_rules * sizeof(*rs->rules));
	}
	rs->rules[rs->n_rules++] = r;
}

/* A line "---" (optionally followed by blanks or a comment) starts a new document. */
static bool is_doc_start(const char *p, const char *end)
{
	if (end - p < 3 || memcmp(p, "---", 3))
		return false;
	p += 3;
	return p == end || *p == '\n' || *p == '\r' || *p == ' ' || *p == '\t';
}

void sigma_load_stream(struct sigma_ruleset *rs, const char *file, const char *text, size_t len)
{
	const char *end = text + len, *start = text, *p = text;
	unsigned line = 0, start_line = 0;

	if (memchr(text, '\0', len)) {
		sigma_error_add(rs, file, 1, NULL, "NUL byte in a rule file");
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (p != start && is_doc_start(p, eol)) {
			load_doc(rs, file, start, (size_t)(p - start), start_line);
			start = p;
			start_line = line;
		}
		line++;
		p = nl ? nl + 1 : end;
	}
	if (start < end)
		load_doc(rs, file, start, (size_t)(end - start), start_line);
}
