#include "lib/ytree.h"
#include "lib/str.h"

#include <stdarg.h>
#include <yaml.h>

#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES (4u << 20)

struct builder {
	yaml_parser_t parser;
	struct yerror *err;
	size_t nodes;
};

int yerror_at(struct yerror *err, const struct ynode *node, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EBADMSG;
	err->line = node ? node->line : 0;
	err->col = node ? node->col : 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int fail_mark(struct builder *b, const yaml_mark_t *m, const char *msg)
{
	b->err->line = (unsigned)m->line + 1;
	b->err->col = (unsigned)m->column + 1;
	snprintf(b->err->msg, sizeof(b->err->msg), "%s", msg);
	return -EBADMSG;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (yaml_parser_parse(&b->parser, ev))
		return 0;
	const yaml_mark_t *m = &b->parser.problem_mark;
	b->err->line = (unsigned)m->line + 1;
	b->err->col = (unsigned)m->column + 1;
	snprintf(b->err->msg, sizeof(b->err->msg), "invalid YAML: %s%s%s",
		 b->parser.problem ? b->parser.problem : "syntax error",
		 b->parser.context ? " " : "", b->parser.context ? b->parser.context : "");
	return -EBADMSG;
}

static struct ynode *node_new(enum ynode_type t, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));
	n->type = t;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

static void node_push(struct ynode *parent, struct ynode *key, struct ynode *item)
{
	parent->items = xrealloc(parent->items, (parent->n + 1) * sizeof(*parent->items));
	if (parent->type == YNODE_MAP) {
		parent->keys = xrealloc(parent->keys, (parent->n + 1) * sizeof(*parent->keys));
		parent->keys[parent->n] = key;
	}
	parent->items[parent->n++] = item;
}

static int build_node(struct builder *b, yaml_event_t *ev, unsigned depth, struct ynode **out);

static int build_children(struct builder *b, struct ynode *parent, unsigned depth)
{
	yaml_event_type_t end =
		parent->type == YNODE_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	for (;;) {
		yaml_event_t ev;
		struct ynode *key = NULL, *val = NULL;
		int r = next_event(b, &ev);
		if (r < 0)
			return r;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		r = build_node(b, &ev, depth + 1, parent->type == YNODE_MAP ? &key : &val);
		if (r < 0)
			return r;
		if (parent->type == YNODE_MAP) {
			if (key->type != YNODE_SCALAR) {
				r = yerror_at(b->err, key, "mapping keys must be plain strings");
				ytree_free(key);
				return r;
			}
			if (ynode_get(parent, key->scalar)) {
				r = yerror_at(b->err, key, "duplicate key '%s'", key->scalar);
				ytree_free(key);
				return r;
			}
			r = next_event(b, &ev);
			if (r == 0)
				r = build_node(b, &ev, depth + 1, &val);
			if (r < 0) {
				ytree_free(key);
				return r;
			}
		}
		node_push(parent, key, val);
	}
}

static int build_node(struct builder *b, yaml_event_t *ev, unsigned depth, struct ynode **out)
{
	int r = 0;
	struct ynode *n = NULL;

	if (depth > YTREE_MAX_DEPTH)
		r = fail_mark(b, &ev->start_mark, "YAML nested too deeply");
	else if (++b->nodes > YTREE_MAX_NODES)
		r = fail_mark(b, &ev->start_mark, "YAML document has too many nodes");
	else if (ev->type == YAML_ALIAS_EVENT ||
		 (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
		 (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
		 (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor))
		r = fail_mark(b, &ev->start_mark, "YAML anchors and aliases are not supported");
	else if (ev->type == YAML_SCALAR_EVENT) {
		n = node_new(YNODE_SCALAR, &ev->start_mark);
		n->scalar = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (strlen(n->scalar) != ev->data.scalar.length)
			r = yerror_at(b->err, n, "NUL byte inside a YAML string");
	} else if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? YNODE_MAP : YNODE_SEQ,
			     &ev->start_mark);
		yaml_event_delete(ev);
		r = build_children(b, n, depth);
	} else
		r = fail_mark(b, &ev->start_mark, "unexpected YAML event");
	yaml_event_delete(ev);
	if (r < 0) {
		ytree_free(n);
		return r;
	}
	*out = n;
	return 0;
}

int ytree_parse_stream(const char *data, size_t len, struct ynode ***docs, size_t *ndocs,
		       struct yerror *err)
{
	struct builder b = { .err = err };
	struct ynode **v = NULL;
	size_t n = 0;
	int r = 0;

	memset(err, 0, sizeof(*err));
	if (!yaml_parser_initialize(&b.parser))
		abort();
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)data, len);
	for (;;) {
		yaml_event_t ev;
		r = next_event(&b, &ev);
		if (r < 0)
			break;
		yaml_event_type_t t = ev.type;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
		if (t != YAML_DOCUMENT_START_EVENT)
			continue;
		r = next_event(&b, &ev);
		if (r < 0)
			break;
		struct ynode *root;
		r = build_node(&b, &ev, 0, &root);
		if (r < 0)
			break;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = root;
	}
	yaml_parser_delete(&b.parser);
	if (r < 0) {
		ytree_free_docs(v, n);
		return r;
	}
	*docs = v;
	*ndocs = n;
	return 0;
}

int ytree_parse(const char *data, size_t len, struct ynode **out, struct yerror *err)
{
	struct ynode **docs;
	size_t n;
	int r = ytree_parse_stream(data, len, &docs, &n, err);
	if (r < 0)
		return r;
	if (n != 1) {
		r = n ? yerror_at(err, docs[1], "expected one YAML document, found %zu", n)
		      : yerror_at(err, NULL, "empty YAML document");
		ytree_free_docs(docs, n);
		return r;
	}
	*out = docs[0];
	free(docs);
	return 0;
}

void ytree_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		ytree_free(n->items[i]);
		if (n->keys)
			ytree_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->scalar);
	free(n);
}

void ytree_free_docs(struct ynode **docs, size_t ndocs)
{
	for (size_t i = 0; i < ndocs; i++)
		ytree_free(docs[i]);
	free(docs);
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->scalar, key) == 0)
			return map->items[i];
	return NULL;
}

int ynode_check_keys(const struct ynode *map, const char *const *allowed, const char *what,
		     struct yerror *err)
{
	if (!map || map->type != YNODE_MAP)
		return yerror_at(err, map, "expected a mapping for %s", what);
	for (size_t i = 0; i < map->n; i++) {
		bool ok = false;
		for (size_t j = 0; allowed[j] && !ok; j++)
			ok = strcmp(map->keys[i]->scalar, allowed[j]) == 0;
		if (!ok)
			return yerror_at(err, map->keys[i], "unknown key '%s' in %s",
					 map->keys[i]->scalar, what);
	}
	return 0;
}

const char *ynode_as_str(const struct ynode *n, const char *what, struct yerror *err)
{
	if (!n || n->type != YNODE_SCALAR) {
		yerror_at(err, n, "expected a string for %s", what);
		return NULL;
	}
	return n->scalar;
}

int ynode_as_bool(const struct ynode *n, const char *what, bool *out, struct yerror *err)
{
	const char *s = ynode_as_str(n, what, err);
	if (!s)
		return -EBADMSG;
	if (str_case_eq(s, "true") || str_case_eq(s, "yes"))
		*out = true;
	else if (str_case_eq(s, "false") || str_case_eq(s, "no"))
		*out = false;
	else
		return yerror_at(err, n, "expected true or false for %s, got '%s'", what, s);
	return 0;
}

int ynode_as_i64(const struct ynode *n, const char *what, int64_t min, int64_t max, int64_t *out,
		 struct yerror *err)
{
	const char *s = ynode_as_str(n, what, err);
	if (!s)
		return -EBADMSG;
	int r = parse_i64(s, min, max, out);
	if (r == -ERANGE)
		return yerror_at(err, n, "%s must be between %lld and %lld", what, (long long)min,
				 (long long)max);
	if (r < 0)
		return yerror_at(err, n, "expected an integer for %s, got '%s'", what, s);
	return 0;
}
