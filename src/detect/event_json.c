/* The OCSF JSON form of events (event_json.h, docs/events.md). */
#include "detect/event_json.h"

#include "config.h"
#include "lib/str.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>

#define OCSF_VERSION "1.1.0"
#define OCSF_SHA256_ALGORITHM 3
/* Largest JSON text host_event_from_json_text accepts: well above EVENT_MAX_BYTES escaped. */
#define EVENT_JSON_MAX (1024u * 1024)
#define PATH_MAX_PARTS 8

/* The full path of field f for an event of class class_uid, as "a.b.c" in buf. */
static const char *field_path(enum event_field f, uint32_t class_uid, char *buf, size_t size)
{
	const char *path = event_field_ocsf_path(f);

	if (!(event_field_flags(f) & EVENT_FIELD_PROCESS))
		return path;
	snprintf(buf, size, "%s%s", class_uid == 1007 ? "process." : "actor.process.", path);
	return buf;
}

/* Splits path at dots into parts (each NUL-terminated inside store). Returns the count. */
static size_t split_path(const char *path, char *store, size_t size, char *parts[PATH_MAX_PARTS])
{
	size_t n = 0;

	snprintf(store, size, "%s", path);
	for (char *p = store; n < PATH_MAX_PARTS;) {
		parts[n++] = p;
		char *dot = strchr(p, '.');
		if (!dot)
			break;
		*dot = '\0';
		p = dot + 1;
	}
	return n;
}

/* Returns the object at parts[0..n-1) below root, creating missing objects. NULL when a
 * member on the way is not an object. */
static json_t *walk_create(json_t *root, char **parts, size_t n)
{
	json_t *o = root;

	for (size_t i = 0; i < n; i++) {
		json_t *next = json_object_get(o, parts[i]);
		if (!next) {
			next = json_object();
			json_object_set_new(o, parts[i], next);
		}
		if (!json_is_object(next))
			return NULL;
		o = next;
	}
	return o;
}

static json_t *field_value_json(const struct host_event *ev, enum event_field f)
{
	const struct event_value *v = &ev->v[f];
	int64_t n;

	char canon[24];

	/* only text that is exactly the decimal form becomes a number ("012" stays text) */
	if ((event_field_flags(f) & EVENT_FIELD_NUMBER) &&
	    parse_i64(v->p, INT64_MIN, INT64_MAX, &n) == 0 &&
	    (size_t)snprintf(canon, sizeof(canon), "%" PRId64, n) == v->len &&
	    memcmp(canon, v->p, v->len) == 0)
		return json_integer(n);
	return json_stringn(v->p, v->len);
}

static void put_sha256(json_t *root, const struct host_event *ev, enum event_field f)
{
	json_t *file = walk_create(root, (char *[]){ "file" }, 1);
	if (!file)
		return;
	json_t *hashes = json_array();
	json_array_append_new(hashes, json_pack("{s:i, s:s, s:s%}", "algorithm_id",
						OCSF_SHA256_ALGORITHM, "algorithm", "SHA-256",
						"value", ev->v[f].p, (size_t)ev->v[f].len));
	json_object_set_new(file, "hashes", hashes);
}

static void put_field(json_t *root, const struct host_event *ev, enum event_field f)
{
	char pbuf[128], store[128];
	char *parts[PATH_MAX_PARTS];

	if (f == EF_FILE_SHA256) {
		put_sha256(root, ev, f);
		return;
	}
	const char *path = field_path(f, event_kind_class_uid(ev->kind), pbuf, sizeof(pbuf));
	size_t n = split_path(path, store, sizeof(store), parts);
	json_t *parent = walk_create(root, parts, n - 1);
	if (parent)
		json_object_set_new(parent, parts[n - 1], field_value_json(ev, f));
}

json_t *host_event_to_json(const struct host_event *ev)
{
	uint32_t cls = event_kind_class_uid(ev->kind);
	uint32_t act = event_kind_activity_id(ev->kind);
	json_t *root = json_object();

	json_object_set_new(root, "class_uid", json_integer(cls));
	json_object_set_new(root, "activity_id", json_integer(act));
	json_object_set_new(root, "category_uid", json_integer(cls / 1000));
	json_object_set_new(root, "type_uid", json_integer((json_int_t)cls * 100 + act));
	json_object_set_new(root, "time", json_integer(ev->time_ns / 1000000));
	json_object_set_new(root, "severity_id", json_integer(1));

	json_t *meta =
		json_pack("{s:{s:s, s:s, s:s}, s:s}", "product", "name", "Immune", "vendor_name",
			  "Immune", "version", IMMUNE_VERSION, "version", OCSF_VERSION);
	if (ev->id) {
		char id[24];
		snprintf(id, sizeof(id), "%" PRIu64, ev->id);
		json_object_set_new(meta, "uid", json_string(id));
	}
	json_object_set_new(root, "metadata", meta);

	json_t *unmapped = json_pack("{s:s}", "kind", event_kind_name(ev->kind));
	if (ev->truncated)
		json_object_set_new(unmapped, "truncated", json_true());
	json_object_set_new(root, "unmapped", unmapped);

	for (int f = 0; f < EF_COUNT; f++)
		if (host_event_has(ev, f))
			put_field(root, ev, f);
	return root;
}

/* ---- the direct line writer ----
 *
 * host_event_to_json_line() writes the JSON that host_event_to_json() builds, without a tree.
 * For each of the two layouts (process events put the process under "process.", every other
 * class under "actor.process.": field_path()) a table is built once: every member the tree
 * form may hold (the fixed ones, then each field at its path, file.hashes included) goes into
 * a tree of names in the order the tree form inserts them; its leaves read depth first give
 * the order in which to write members, so that the members of one object are contiguous and,
 * when every object's first member is present, the bytes equal json_dumps' output. Per event
 * the writer walks that order, skips absent members and opens or closes objects by comparing
 * the member's chain of objects with the open ones. */

enum leaf_kind {
	LEAF_FIELD,  /* ev->v[f], as field_value_json() decides */
	LEAF_SHA256, /* file.hashes: one SHA-256 entry */
	LEAF_CLASS_UID,
	LEAF_ACTIVITY_ID,
	LEAF_CATEGORY_UID,
	LEAF_TYPE_UID,
	LEAF_TIME,
	LEAF_SEVERITY_ID,
	LEAF_PRODUCT_NAME,
	LEAF_VENDOR_NAME,
	LEAF_PRODUCT_VERSION,
	LEAF_OCSF_VERSION,
	LEAF_EVENT_UID, /* only when ev->id is set */
	LEAF_KIND,
	LEAF_TRUNCATED, /* only when ev->truncated */
};

#define LAYOUT_MAX_NODES 128
#define LAYOUT_KEYS 4096
/* Bytes a member may take besides its key, its objects' keys and its value's text: commas,
 * braces, quotes, an integer, the file.hashes entry around its value, a fixed string. */
#define LEAF_SLACK 128

struct layout_node {
	uint16_t key;	 /* offset of its `"name":` text in keys */
	uint8_t key_len; /* length of that text */
	bool object;	 /* an object (else a member with a value) */
	int16_t first;	 /* its first child (objects), -1: none */
	int16_t last;	 /* its last child */
	int16_t next;	 /* its next sibling, in insertion order */
	uint8_t kind;	 /* enum leaf_kind (members) */
	uint8_t field;	 /* enum event_field (LEAF_FIELD, LEAF_SHA256) */
	uint8_t number;	 /* the field has EVENT_FIELD_NUMBER */
};

struct leaf {
	uint8_t kind, field, number;
	uint8_t depth; /* objects it is in */
	uint16_t key;  /* its `"name":` text in keys */
	uint8_t key_len;
	int16_t chain[PATH_MAX_PARTS]; /* those objects (node indexes), outermost first */
};

struct layout {
	struct layout_node nodes[LAYOUT_MAX_NODES]; /* nodes[0] is the root */
	size_t n_nodes;
	struct leaf leaves[LAYOUT_MAX_NODES];
	size_t n_leaves;
	size_t cost; /* bytes all members may take besides the values' text */
	char keys[LAYOUT_KEYS];
	size_t keys_used;
};

static struct layout layouts[2]; /* [0]: actor.process, [1]: process (class 1007) */
static pthread_once_t layouts_once = PTHREAD_ONCE_INIT;

/* The child of parent named name[0..n), or -1. */
static int layout_child(const struct layout *l, int parent, const char *name, size_t n)
{
	for (int c = l->nodes[parent].first; c >= 0; c = l->nodes[c].next) {
		const struct layout_node *x = &l->nodes[c];
		if (x->key_len == n + 3 && memcmp(l->keys + x->key + 1, name, n) == 0)
			return c;
	}
	return -1;
}

static int layout_node_new(struct layout *l, int parent, const char *name, size_t n, bool object)
{
	/* the table is fixed at build time: running out of room is a bug */
	if (l->n_nodes >= LAYOUT_MAX_NODES || l->keys_used + n + 3 > LAYOUT_KEYS || n + 3 > 255)
		abort();
	int i = (int)l->n_nodes++;
	struct layout_node *x = &l->nodes[i];
	char *k = l->keys + l->keys_used;

	k[0] = '"';
	memcpy(k + 1, name, n);
	k[n + 1] = '"';
	k[n + 2] = ':';
	*x = (struct layout_node){ .key = (uint16_t)l->keys_used,
				   .key_len = (uint8_t)(n + 3),
				   .object = object,
				   .first = -1,
				   .last = -1,
				   .next = -1 };
	l->keys_used += n + 3;
	if (l->nodes[parent].last >= 0)
		l->nodes[l->nodes[parent].last].next = (int16_t)i;
	else
		l->nodes[parent].first = (int16_t)i;
	l->nodes[parent].last = (int16_t)i;
	return i;
}

/* Adds the member at path ("a.b.c"), creating its objects after the existing ones. */
static void layout_add(struct layout *l, const char *path, enum leaf_kind kind, int field)
{
	int parent = 0;

	for (const char *p = path;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		int node = layout_child(l, parent, p, n);
		/* two members at one path, or a member where an object is: a table bug */
		if (node >= 0 && (!dot || !l->nodes[node].object))
			abort();
		if (node < 0)
			node = layout_node_new(l, parent, p, n, dot != NULL);
		if (!dot) {
			l->nodes[node].kind = (uint8_t)kind;
			l->nodes[node].field = (uint8_t)field;
			l->nodes[node].number =
				(event_field_flags(field) & EVENT_FIELD_NUMBER) != 0;
			return;
		}
		parent = node;
		p = dot + 1;
	}
}

/* Appends the members below node (at depth, inside chain[0..depth)) in depth-first order. */
static void layout_walk(struct layout *l, int node, int16_t *chain, unsigned depth)
{
	for (int c = l->nodes[node].first; c >= 0; c = l->nodes[c].next) {
		const struct layout_node *x = &l->nodes[c];
		if (x->object) {
			if (depth + 1 >= PATH_MAX_PARTS)
				abort();
			chain[depth] = (int16_t)c;
			layout_walk(l, c, chain, depth + 1);
			continue;
		}
		struct leaf *lf = &l->leaves[l->n_leaves++];
		*lf = (struct leaf){ .kind = x->kind,
				     .field = x->field,
				     .number = x->number,
				     .depth = (uint8_t)depth,
				     .key = x->key,
				     .key_len = x->key_len };
		memcpy(lf->chain, chain, depth * sizeof(*chain));
		l->cost += LEAF_SLACK + x->key_len;
		for (unsigned d = 0; d < depth; d++)
			l->cost += l->nodes[chain[d]].key_len + 3u; /* ,"name":{ } */
	}
}

static void layout_build(struct layout *l, uint32_t class_uid)
{
	static const struct {
		const char *path;
		enum leaf_kind kind;
	} fixed[] = {
		/* the order host_event_to_json() sets them in */
		{ "class_uid", LEAF_CLASS_UID },
		{ "activity_id", LEAF_ACTIVITY_ID },
		{ "category_uid", LEAF_CATEGORY_UID },
		{ "type_uid", LEAF_TYPE_UID },
		{ "time", LEAF_TIME },
		{ "severity_id", LEAF_SEVERITY_ID },
		{ "metadata.product.name", LEAF_PRODUCT_NAME },
		{ "metadata.product.vendor_name", LEAF_VENDOR_NAME },
		{ "metadata.product.version", LEAF_PRODUCT_VERSION },
		{ "metadata.version", LEAF_OCSF_VERSION },
		{ "metadata.uid", LEAF_EVENT_UID },
		{ "unmapped.kind", LEAF_KIND },
		{ "unmapped.truncated", LEAF_TRUNCATED },
	};
	int16_t chain[PATH_MAX_PARTS];
	char pbuf[128];

	l->n_nodes = 1;
	l->nodes[0] = (struct layout_node){ .object = true, .first = -1, .last = -1, .next = -1 };
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		layout_add(l, fixed[i].path, fixed[i].kind, 0);
	for (int f = 0; f < EF_COUNT; f++)
		layout_add(l, field_path(f, class_uid, pbuf, sizeof(pbuf)),
			   f == EF_FILE_SHA256 ? LEAF_SHA256 : LEAF_FIELD, f);
	layout_walk(l, 0, chain, 0);
	l->cost += 2 + strlen(IMMUNE_VERSION) + strlen(OCSF_VERSION);
	for (int k = 0; k < EVENT_KIND_COUNT; k++)
		l->cost += strlen(event_kind_name(k)); /* more than enough for unmapped.kind */
}

static void layouts_build(void)
{
	layout_build(&layouts[0], 0);
	layout_build(&layouts[1], 1007);
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_i64(char *p, int64_t v)
{
	if (v >= 0)
		return put_u64(p, (uint64_t)v);
	*p++ = '-';
	return put_u64(p, -(uint64_t)v);
}

/* Whether s[0..len) is the canonical decimal form of an int64 (what "%" PRId64 prints):
 * field_value_json() writes exactly these as integers. */
static bool canonical_i64(const char *s, size_t len)
{
	bool neg = len > 0 && s[0] == '-';

	if (neg) {
		s++;
		len--;
	}
	if (len == 0 || len > 19)
		return false;
	if (s[0] == '0')
		return len == 1 && !neg;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return len < 19 || memcmp(s, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* The length of the UTF-8 sequence at s (at most left bytes), or 0 when it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are not): jansson's rules. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* Writes s[0..len) as a JSON string (at most 6 * len + 2 bytes), escaped as json_dumps does.
 * Returns the end, or NULL when s is not valid UTF-8 (json_stringn refuses it too). */
static char *put_string(char *p, const char *str, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;

	*p++ = '"';
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*p++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_len(s + i, len - i);
			if (n == 0)
				return NULL;
			memcpy(p, s + i, n);
			p += n;
			i += n;
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\b': *p++ = 'b'; break;
		case '\f': *p++ = 'f'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		default:
			memcpy(p, "u00", 3);
			p[3] = hex[c >> 4];
			p[4] = hex[c & 0xF];
			p += 5;
		}
		i++;
	}
	*p++ = '"';
	return p;
}

static char *put_literal(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

/* file.hashes as put_sha256() builds it; an empty array when the value is not UTF-8. */
static char *put_sha256_entry(char *p, const struct event_value *v)
{
	static const char head[] = "{\"algorithm_id\":3,\"algorithm\":\"SHA-256\",\"value\":";
	_Static_assert(OCSF_SHA256_ALGORITHM == 3, "head spells the algorithm id");

	*p++ = '[';
	char *q = put_string(put_literal(p, head, sizeof(head) - 1), v->p, v->len);
	if (q) {
		p = q;
		*p++ = '}';
	}
	*p++ = ']';
	return p;
}

struct line_writer {
	char *p;
	unsigned depth;		       /* objects open below the root */
	int16_t open[PATH_MAX_PARTS];  /* their layout nodes, outermost first */
	bool more[PATH_MAX_PARTS + 1]; /* a member was written at that depth (0: the root) */
	const struct host_event *ev;
	uint32_t cls, act;
};

static bool leaf_present(const struct leaf *lf, const struct host_event *ev)
{
	switch (lf->kind) {
	case LEAF_FIELD:
	case LEAF_SHA256: return host_event_has(ev, lf->field);
	case LEAF_EVENT_UID: return ev->id != 0;
	case LEAF_TRUNCATED: return ev->truncated;
	default: return true;
	}
}

/* Writes lf's value; returns the end, or NULL when the tree form would drop the member. */
static char *put_value(char *p, const struct line_writer *w, const struct leaf *lf)
{
	const struct host_event *ev = w->ev;
	const struct event_value *v = &ev->v[lf->field];
	const char *s;

	switch (lf->kind) {
	case LEAF_FIELD:
		if (lf->number && canonical_i64(v->p, v->len))
			return put_literal(p, v->p, v->len);
		return put_string(p, v->p, v->len);
	case LEAF_SHA256: return put_sha256_entry(p, v);
	case LEAF_CLASS_UID: return put_u64(p, w->cls);
	case LEAF_ACTIVITY_ID: return put_u64(p, w->act);
	case LEAF_CATEGORY_UID: return put_u64(p, w->cls / 1000);
	case LEAF_TYPE_UID: return put_u64(p, (uint64_t)w->cls * 100 + w->act);
	case LEAF_TIME: return put_i64(p, ev->time_ns / 1000000);
	case LEAF_SEVERITY_ID: return put_u64(p, 1);
	case LEAF_PRODUCT_NAME:
	case LEAF_VENDOR_NAME: return put_literal(p, "\"Immune\"", 8);
	case LEAF_PRODUCT_VERSION: return put_string(p, IMMUNE_VERSION, strlen(IMMUNE_VERSION));
	case LEAF_OCSF_VERSION: return put_string(p, OCSF_VERSION, strlen(OCSF_VERSION));
	case LEAF_EVENT_UID:
		*p++ = '"';
		p = put_u64(p, ev->id);
		*p++ = '"';
		return p;
	case LEAF_KIND: s = event_kind_name(ev->kind); return put_string(p, s, strlen(s));
	case LEAF_TRUNCATED: return put_literal(p, "true", 4);
	}
	abort();
}

/* Closes the open objects lf is not in, then opens the ones it is in. */
static void move_to(struct line_writer *w, const struct layout *l, const struct leaf *lf)
{
	unsigned k = 0;

	while (k < w->depth && k < lf->depth && w->open[k] == lf->chain[k])
		k++;
	for (; w->depth > k; w->depth--)
		*w->p++ = '}';
	for (; w->depth < lf->depth; w->depth++) {
		const struct layout_node *x = &l->nodes[lf->chain[w->depth]];
		if (w->more[w->depth])
			*w->p++ = ',';
		w->more[w->depth] = true;
		w->p = put_literal(w->p, l->keys + x->key, x->key_len);
		*w->p++ = '{';
		w->open[w->depth] = lf->chain[w->depth];
		w->more[w->depth + 1] = false;
	}
}

static void put_leaf(struct line_writer *w, const struct layout *l, const struct leaf *lf)
{
	move_to(w, l, lf);
	char *mark = w->p;
	if (w->more[w->depth])
		*w->p++ = ',';
	char *end = put_value(put_literal(w->p, l->keys + lf->key, lf->key_len), w, lf);
	if (!end) {
		w->p = mark; /* dropped, as json_object_set_new drops a NULL value; objects stay */
		return;
	}
	w->p = end;
	w->more[w->depth] = true;
}

/* The tree form dumped: for kinds outside the table, which the layouts do not cover. */
static char *tree_line(const struct host_event *ev)
{
	json_t *o = host_event_to_json(ev);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		abort(); /* only allocation failure makes a dump of our own object fail */
	return s;
}

char *host_event_to_json_line(const struct host_event *ev)
{
	if ((unsigned)ev->kind >= EVENT_KIND_COUNT)
		return tree_line(ev);
	pthread_once(&layouts_once, layouts_build);

	struct line_writer w = { .ev = ev,
				 .cls = event_kind_class_uid(ev->kind),
				 .act = event_kind_activity_id(ev->kind) };
	const struct layout *l = &layouts[w.cls == 1007];
	size_t text = 0;

	for (uint64_t m = ev->present; m; m &= m - 1)
		text += ev->v[__builtin_ctzll(m)].len;
	size_t bound = l->cost + 6 * text;
	char *line = xmalloc(bound);

	w.p = line;
	*w.p++ = '{';
	for (size_t i = 0; i < l->n_leaves; i++)
		if (leaf_present(&l->leaves[i], ev))
			put_leaf(&w, l, &l->leaves[i]);
	for (; w.depth > 0; w.depth--)
		*w.p++ = '}';
	*w.p++ = '}';
	*w.p = '\0';

	size_t len = (size_t)(w.p - line);
	assert(len < bound);
	if (bound - len > 1024)
		line = xrealloc(line, len + 1); /* lines may wait in queues: give back the slack */
	return line;
}

/* ---- reading ---- */

static const json_t *walk(const json_t *root, char **parts, size_t n)
{
	const json_t *o = root;

	for (size_t i = 0; i < n && o; i++)
		o = json_is_object(o) ? json_object_get(o, parts[i]) : NULL;
	return o;
}

static int read_sha256(const json_t *root, struct host_event *ev)
{
	const json_t *hashes = walk(root, (char *[]){ "file", "hashes" }, 2);
	size_t i;
	const json_t *h;

	if (!hashes)
		return 0;
	if (!json_is_array(hashes))
		return -EBADMSG;
	json_array_foreach(hashes, i, h) {
		const json_t *alg = json_object_get(h, "algorithm_id");
		const json_t *val = json_object_get(h, "value");
		if (json_is_integer(alg) && json_integer_value(alg) == OCSF_SHA256_ALGORITHM &&
		    json_is_string(val))
			return host_event_set(ev, EF_FILE_SHA256, json_string_value(val),
					      json_string_length(val));
	}
	return 0;
}

static int read_field(const json_t *root, struct host_event *ev, enum event_field f)
{
	char pbuf[128], store[128];
	char *parts[PATH_MAX_PARTS];

	if (f == EF_FILE_SHA256)
		return read_sha256(root, ev);
	const char *path = field_path(f, event_kind_class_uid(ev->kind), pbuf, sizeof(pbuf));
	size_t n = split_path(path, store, sizeof(store), parts);
	const json_t *v = walk(root, parts, n);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return host_event_set(ev, f, json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		return host_event_set_int(ev, f, json_integer_value(v));
	return -EBADMSG;
}

/* The kind: unmapped.kind when present, else the first kind with this class and activity. */
static int read_kind(const json_t *obj)
{
	const json_t *kind = walk(obj, (char *[]){ "unmapped", "kind" }, 2);

	if (kind) {
		if (!json_is_string(kind))
			return -EBADMSG;
		int k = event_kind_by_name(json_string_value(kind));
		return k < 0 ? -EBADMSG : k;
	}
	const json_t *cls = json_object_get(obj, "class_uid");
	const json_t *act = json_object_get(obj, "activity_id");
	if (!json_is_integer(cls) || !json_is_integer(act))
		return -EBADMSG;
	for (int k = 1; k < EVENT_KIND_COUNT; k++)
		if (event_kind_class_uid(k) == json_integer_value(cls) &&
		    event_kind_activity_id(k) == json_integer_value(act))
			return k;
	return -EBADMSG;
}

int host_event_from_json(const json_t *obj, struct host_event *ev)
{
	if (!json_is_object(obj))
		return -EBADMSG;
	int kind = read_kind(obj);
	if (kind < 0)
		return kind;

	int64_t time_ns = 0;
	const json_t *t = json_object_get(obj, "time");
	if (t) {
		if (!json_is_integer(t))
			return -EBADMSG;
		json_int_t ms = json_integer_value(t);
		if (ms < 0 || ms > INT64_MAX / 1000000)
			return -EBADMSG;
		time_ns = ms * 1000000;
	}

	host_event_reset(ev, kind, time_ns);
	const json_t *uid = walk(obj, (char *[]){ "metadata", "uid" }, 2);
	uint64_t id;
	if (json_is_string(uid) && parse_u64(json_string_value(uid), 10, UINT64_MAX, &id) == 0)
		ev->id = id;
	if (json_is_true(walk(obj, (char *[]){ "unmapped", "truncated" }, 2)))
		ev->truncated = true;
	for (int f = 0; f < EF_COUNT; f++) {
		int r = read_field(obj, ev, f);
		if (r < 0)
			return r;
	}
	return 0;
}

int host_event_from_json_text(const char *p, size_t len, struct host_event *ev)
{
	if (len > EVENT_JSON_MAX)
		return -EBADMSG;
	json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!o)
		return -EBADMSG;
	int r = host_event_from_json(o, ev);
	json_decref(o);
	return r;
}
