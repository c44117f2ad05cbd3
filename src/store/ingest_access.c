/* Parsing of access-event records (RECORD_ACCESS_EVENT); see ingest_parse.h. Agents report
 * every login decision and revocation; the server keeps them for the least-privilege review.
 * Nothing about their shape is trusted: sizes, types and lengths are checked here. */
#include "store/ingest_parse.h"

static const char *const string_keys[] = { "identity", "account", "grant",
					   "source",   "policy",  "reason" };

/* The string at key: absent or null gives NULL (0); otherwise a string of at most max bytes
 * without NUL, or -EBADMSG. */
static int opt_string(const json_t *o, const char *key, size_t max, const char **out)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EBADMSG;
	n = json_string_length(v);
	if (n > max || strlen(json_string_value(v)) != n)
		return -EBADMSG;
	*out = n ? json_string_value(v) : NULL;
	return 0;
}

static bool event_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static int check_serial(const json_t *v)
{
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? 0 : -EBADMSG;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 20)
		return -EBADMSG;
	for (const char *c = json_string_value(v); *c; c++)
		if (*c < '0' || *c > '9')
			return -EBADMSG;
	return 0;
}

int ingest_parse_access_event(const void *p, size_t len, struct ingest_access_event *out)
{
	struct ingest_access_event e = { 0 };
	const char *unused;
	const json_t *t;

	if (!p || len == 0 || len > INGEST_MAX_ACCESS_JSON)
		return -EBADMSG;
	e.root = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(e.root) || json_object_size(e.root) > INGEST_MAX_ACCESS_KEYS)
		goto bad;
	if (opt_string(e.root, "event", 32, &e.event) < 0 || !e.event || !event_name_ok(e.event))
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++)
		if (opt_string(e.root, string_keys[i], INGEST_MAX_ACCESS_STRING, &unused) < 0)
			goto bad;
	opt_string(e.root, "identity", INGEST_MAX_ACCESS_STRING, &e.identity);
	opt_string(e.root, "account", INGEST_MAX_ACCESS_STRING, &e.account);
	opt_string(e.root, "grant", INGEST_MAX_ACCESS_STRING, &e.grant);
	opt_string(e.root, "reason", INGEST_MAX_ACCESS_STRING, &e.reason);
	if (e.grant && !strcmp(e.grant, "-"))
		e.grant = NULL; /* a certificate issued without a grant */
	if (check_serial(json_object_get(e.root, "serial")) < 0)
		goto bad;
	t = json_object_get(e.root, "time_ns");
	if (t && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 0)
			goto bad;
		e.time_ns = (int64_t)json_integer_value(t);
	}
	*out = e;
	return 0;
bad:
	json_decref(e.root);
	return -EBADMSG;
}

void ingest_access_event_free(struct ingest_access_event *e)
{
	if (!e)
		return;
	json_decref(e->root);
	memset(e, 0, sizeof(*e));
}
