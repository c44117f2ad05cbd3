/* Parsing of recorded-session records (RECORD_SESSION); see ingest_parse.h. The agent makes
 * them from what a recorder running as the logged-in user sent: the server checks their
 * shape again and stores nothing it cannot replay. */
#include "store/ingest_parse.h"

#include "agent/session_msg.h"

static const char *const keys[] = {
	"session", "part",  "cast",   "identity",   "account",	"uid",	"pid",
	"command", "width", "height", "started_ns", "ended_ns", "exit", "identity_verified"
};
static const char *const first_keys[] = { "identity", "account",    "uid",
					  "pid",      "command",    "width",
					  "height",   "started_ns", "identity_verified" };

static bool one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

/* The string member key: NULL when absent or null; else 1..max bytes without NUL, or *bad. */
static const char *opt_str(const json_t *o, const char *key, size_t max, bool *bad)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	if (!v || json_is_null(v))
		return NULL;
	n = json_is_string(v) ? json_string_length(v) : 0;
	if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static bool int_member(const json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* The header line: one JSON object with "version": 2 and a width and height, then "\n". */
static bool header_ok(const char *cast, size_t len)
{
	json_t *h;
	bool ok;

	if (len < 2 || cast[len - 1] != '\n' || memchr(cast, '\n', len - 1))
		return false;
	h = json_loadb(cast, len - 1, JSON_REJECT_DUPLICATES, NULL);
	ok = json_is_object(h) && json_integer_value(json_object_get(h, "version")) == 2 &&
	     json_is_integer(json_object_get(h, "width")) &&
	     json_is_integer(json_object_get(h, "height"));
	json_decref(h);
	return ok;
}

static int parse_first(struct ingest_session_part *s)
{
	const json_t *v;
	bool bad = false;

	s->identity = opt_str(s->root, "identity", SESSION_MAX_IDENTITY, &bad);
	s->account = opt_str(s->root, "account", SESSION_MAX_ACCOUNT, &bad);
	s->command = opt_str(s->root, "command", SESSION_MAX_COMMAND, &bad);
	v = json_object_get(s->root, "identity_verified");
	if (v && !json_is_boolean(v))
		return -EBADMSG;
	s->identity_verified = json_is_true(v) && s->identity;
	if (bad || !s->account || !int_member(s->root, "uid", 0, UINT32_MAX, &s->uid) ||
	    !int_member(s->root, "pid", 0, INT32_MAX, &s->pid) ||
	    !int_member(s->root, "width", 1, SESSION_MAX_SIZE, &s->width) ||
	    !int_member(s->root, "height", 1, SESSION_MAX_SIZE, &s->height) ||
	    !int_member(s->root, "started_ns", 0, INT64_MAX, &s->started_ns) ||
	    !header_ok(s->cast, s->cast_len))
		return -EBADMSG;
	return 0;
}

int ingest_parse_session_part(const void *p, size_t len, struct ingest_session_part *out)
{
	struct ingest_session_part s = { .exit = -1 };
	const json_t *cast, *v;
	const char *key;
	bool bad = false;
	double last = 0;

	if (!p || len == 0 || len > INGEST_MAX_SESSION_JSON)
		return -EBADMSG;
	s.root = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(s.root))
		goto bad;
	json_object_foreach(s.root, key, v) {
		if (!one_of(key, keys, ARRAY_SIZE(keys)))
			goto bad;
	}
	s.session = opt_str(s.root, "session", SESSION_ID_LEN, &bad);
	cast = json_object_get(s.root, "cast");
	if (bad || !session_id_ok(s.session) || !json_is_string(cast) ||
	    !int_member(s.root, "part", 0, INGEST_MAX_SESSION_PARTS, &s.part))
		goto bad;
	s.cast = json_string_value(cast);
	s.cast_len = json_string_length(cast);
	if (s.part == 0) {
		if (parse_first(&s) < 0)
			goto bad;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(first_keys); i++)
			if (json_object_get(s.root, first_keys[i]))
				goto bad;
		if (session_cast_check_events(s.cast, s.cast_len, &last) < 0)
			goto bad;
	}
	if (json_object_get(s.root, "ended_ns")) {
		int64_t code;

		if (s.part == 0 || !int_member(s.root, "ended_ns", 0, INT64_MAX, &s.ended_ns))
			goto bad;
		v = json_object_get(s.root, "exit");
		if (v && !json_is_null(v)) {
			if (!int_member(s.root, "exit", 0, 255, &code))
				goto bad;
			s.exit = (int)code;
		}
		s.end = true;
	} else if (json_object_get(s.root, "exit")) {
		goto bad;
	}
	*out = s;
	return 0;
bad:
	json_decref(s.root);
	return -EBADMSG;
}

void ingest_session_part_free(struct ingest_session_part *s)
{
	if (!s)
		return;
	json_decref(s->root);
	memset(s, 0, sizeof(*s));
}
