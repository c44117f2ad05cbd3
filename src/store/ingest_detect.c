/* Parsing of detection records (events, baselines, sensor health); see ingest_parse.h.
 * Alerts are parsed by alert_parse() (detect/alert.h). */
#include "store/ingest_parse.h"

/* The string at a dotted path below obj, or NULL (also when too long to index). */
static const char *path_str(const json_t *obj, const char *path)
{
	char key[64];

	for (;;) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (!json_is_object(obj) || n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = json_object_get(obj, key);
		if (!dot)
			break;
		path = dot + 1;
	}
	if (!json_is_string(obj) || json_string_length(obj) == 0 ||
	    json_string_length(obj) > INGEST_MAX_INDEXED)
		return NULL;
	return json_string_value(obj);
}

int ingest_parse_event(const void *p, size_t len, struct ingest_event *out)
{
	struct ingest_event e = { 0 };
	const json_t *cls, *t;
	bool process;

	if (!p || len == 0 || len > INGEST_MAX_EVENT_JSON)
		return -EBADMSG;
	e.root = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(e.root))
		goto bad;
	cls = json_object_get(e.root, "class_uid");
	if (!json_is_integer(cls))
		goto bad;
	process = json_integer_value(cls) == 1007;
	t = json_object_get(e.root, "time");
	if (t) {
		if (!json_is_integer(t) || json_integer_value(t) < 0 ||
		    json_integer_value(t) > INT64_MAX / 1000000)
			goto bad;
		e.time_ns = (int64_t)json_integer_value(t) * 1000000;
	}
	e.kind = path_str(e.root, "unmapped.kind");
	e.image = path_str(e.root, process ? "process.file.path" : "actor.process.file.path");
	e.user = path_str(e.root, "user.name");
	if (!e.user)
		e.user =
			path_str(e.root, process ? "process.user.name" : "actor.process.user.name");
	e.src_ip = path_str(e.root, "src_endpoint.ip");
	*out = e;
	return 0;
bad:
	json_decref(e.root);
	return -EBADMSG;
}

void ingest_event_free(struct ingest_event *e)
{
	if (!e)
		return;
	json_decref(e->root);
	memset(e, 0, sizeof(*e));
}

int ingest_parse_baseline(const void *p, size_t len, json_t **out)
{
	json_t *o;

	if (!p || len == 0 || len > INGEST_MAX_BASELINE_JSON)
		return -EBADMSG;
	o = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	*out = o;
	return 0;
}

int ingest_parse_sensor_health(const void *p, size_t len, json_t **out)
{
	json_t *a, *v;
	size_t i;

	if (!p || len == 0 || len > 256u * 1024)
		return -EBADMSG;
	a = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(a) || json_array_size(a) > INGEST_MAX_SENSORS)
		goto bad;
	json_array_foreach(a, i, v) {
		const json_t *name = json_object_get(v, "name");

		if (!json_is_object(v) || !json_is_string(name) || json_string_length(name) == 0 ||
		    json_string_length(name) > 64)
			goto bad;
	}
	*out = a;
	return 0;
bad:
	json_decref(a);
	return -EBADMSG;
}
