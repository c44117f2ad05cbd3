/* The OCSF JSON form of events (event_json.h, docs/events.md). */
#include "detect/event_json.h"

#include "config.h"
#include "lib/str.h"

#include <inttypes.h>

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

char *host_event_to_json_line(const struct host_event *ev)
{
	json_t *o = host_event_to_json(ev);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		abort(); /* only allocation failure makes a dump of our own object fail */
	return s;
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
