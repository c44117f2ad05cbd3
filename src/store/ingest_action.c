/* Parsing of action-result records (RECORD_ACTION_RESULT); see ingest_parse.h. The agent
 * writes them, but the server trusts nothing about their shape: every field is checked for
 * its type, its length and its set of values before the store uses it. */
#include "store/ingest_parse.h"

#include "respond/action.h"

static const char *const ops[] = { "apply", "verify", "rollback" };
static const char *const statuses[] = { "verified", "failed", "refused", "rolled_back", "dry_run" };
static const char *const origins[] = { "edge", "server", "manual" };
static const char *const keys[] = { "uid",     "kind",	       "op",	     "params",
				    "status",  "message",      "detail",     "origin",
				    "trigger", "requested_ns", "finished_ns" };
static const char *const trigger_keys[] = { "alert_uid", "rule_id", "playbook", "step" };

static bool one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

/* The string member key of o when it is a string of 1..max bytes without NUL, else NULL. */
static const char *str_member(const json_t *o, const char *key, size_t max)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(json_string_value(v)) != n)
		return NULL;
	return json_string_value(v);
}

/* A time in ns: absent is 0; present must be an integer in [0, INT64_MAX]. */
static int time_member(const json_t *o, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EBADMSG;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int check_trigger(const json_t *t)
{
	const char *key;
	const json_t *v;

	if (!json_is_object(t))
		return -EBADMSG;
	json_object_foreach((json_t *)t, key, v) {
		if (!one_of(key, trigger_keys, ARRAY_SIZE(trigger_keys)))
			return -EBADMSG;
		if (json_is_null(v))
			continue; /* a trigger without that part */
		if (!strcmp(key, "step")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1000)
				return -EBADMSG;
		} else if (!str_member(t, key, 256)) {
			return -EBADMSG;
		}
	}
	return 0;
}

static int check_top(const json_t *root)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)root, key, v) {
		if (!one_of(key, keys, ARRAY_SIZE(keys)))
			return -EBADMSG;
	}
	return 0;
}

int ingest_parse_action_result(const void *p, size_t len, struct ingest_action *out)
{
	struct ingest_action a = { 0 };
	const json_t *msg, *det, *trig;

	if (!p || len == 0 || len > INGEST_MAX_ACTION_JSON)
		return -EBADMSG;
	a.root = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(a.root) || check_top(a.root) < 0)
		goto bad;
	a.uid = str_member(a.root, "uid", ACTION_UID_LEN);
	if (!a.uid || !action_uid_ok(a.uid))
		goto bad;
	a.kind = str_member(a.root, "kind", 64);
	if (!a.kind || action_kind_by_name(a.kind) < 0)
		goto bad;
	a.op = str_member(a.root, "op", 16);
	a.status = str_member(a.root, "status", 16);
	a.origin = str_member(a.root, "origin", 16);
	if (!a.op || !one_of(a.op, ops, ARRAY_SIZE(ops)) || !a.status ||
	    !one_of(a.status, statuses, ARRAY_SIZE(statuses)) || !a.origin ||
	    !one_of(a.origin, origins, ARRAY_SIZE(origins)))
		goto bad;
	a.params = json_object_get(a.root, "params");
	if (!json_is_object(a.params) || json_object_size(a.params) > INGEST_MAX_ACTION_PARAMS)
		goto bad;
	msg = json_object_get(a.root, "message");
	if (msg && !json_is_null(msg)) {
		if (!json_is_string(msg) || json_string_length(msg) > INGEST_MAX_ACTION_MESSAGE ||
		    strlen(json_string_value(msg)) != json_string_length(msg))
			goto bad;
		a.message = json_string_value(msg);
	}
	det = json_object_get(a.root, "detail");
	if (det && !json_is_null(det)) {
		if (!json_is_object(det))
			goto bad;
		a.detail = (json_t *)det;
	}
	trig = json_object_get(a.root, "trigger");
	if (trig && !json_is_null(trig)) {
		if (check_trigger(trig) < 0)
			goto bad;
		a.trigger = (json_t *)trig;
	}
	if (time_member(a.root, "requested_ns", &a.requested_ns) < 0 ||
	    time_member(a.root, "finished_ns", &a.finished_ns) < 0)
		goto bad;
	*out = a;
	return 0;
bad:
	json_decref(a.root);
	return -EBADMSG;
}

void ingest_action_free(struct ingest_action *a)
{
	if (!a)
		return;
	json_decref(a->root);
	memset(a, 0, sizeof(*a));
}
