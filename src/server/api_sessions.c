/* GET /v1/sessions, /v1/sessions/ID and /v1/sessions/ID/cast: recorded sessions
 * (docs/api.md "Sessions", docs/sessions.md). Auditors and admins see every session; any
 * other identity sees its own only, and another's session is "not found" to it. */
#include "server/api_int.h"

#include "agent/session_msg.h"
#include "lib/str.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#define MAX_PARAM 256

/* Checks GET /v1/sessions parameters into f (strings borrowed from q). Returns NULL, or
 * what is wrong (a static message). */
static const char *query_parse(struct evkeyvalq *q, int64_t now_s, struct store_session_filter *f)
{
	for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
		const char *k = kv->key, *v = kv->value;
		int64_t n;

		if (strlen(v) > MAX_PARAM)
			return "a query parameter is too long";
		if (!strcmp(k, "since")) {
			const char *err = api_since_parse(v, now_s, &f->since_ns);
			if (err)
				return err;
		} else if (!strcmp(k, "host") && *v) {
			f->host = v;
		} else if (!strcmp(k, "identity") && *v) {
			f->identity = v;
		} else if (!strcmp(k, "limit")) {
			if (parse_i64(v, 1, STORE_SESSIONS_LIMIT_MAX, &n) < 0)
				return "limit must be a number from 1 to 1000";
			f->limit = (size_t)n;
		} else {
			return "unknown query parameter (allowed: host, identity, since, limit)";
		}
	}
	return NULL;
}

static void sessions_list(struct server *s, struct evhttp_request *req, const char *query,
			  const struct api_caller *c, bool all)
{
	struct store_session_filter f = { 0 };
	struct evkeyvalq q;
	json_t *out = NULL;
	const char *err;
	int r;

	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		api_error(req, 400, "malformed query string");
		return;
	}
	err = query_parse(&q, server_now_s(), &f);
	if (err) {
		api_error(req, 400, "%s", err);
	} else if (!all && f.identity && strcmp(f.identity, c->name)) {
		api_error(req, 403, "the sessions of other identities need the auditor role");
	} else {
		if (!all)
			f.identity = c->name;
		r = store_sessions_list(s->store, &f, &out);
		if (r < 0)
			api_error(req, 500, "cannot read sessions: %s", strerror(-r));
		else
			api_reply(req, 200, out);
	}
	evhttp_clear_headers(&q);
}

/* The session id's object when the caller may see it; otherwise replies and returns NULL. */
static json_t *session_visible(struct server *s, struct evhttp_request *req, const char *id,
			       const struct api_caller *c, bool all)
{
	json_t *o = NULL;
	int r = session_id_ok(id) ? store_session_get(s->store, id, &o) : -ENOENT;
	const char *who;

	if (r == 0) {
		who = json_string_value(json_object_get(o, "identity"));
		if (all || (who && !strcmp(who, c->name)))
			return o;
		json_decref(o);
		r = -ENOENT;
	}
	if (r == -ENOENT)
		api_error(req, 404, "no such session");
	else
		api_error(req, 500, "cannot read the session: %s", strerror(-r));
	return NULL;
}

static void session_cast(struct server *s, struct evhttp_request *req, const char *id)
{
	_cleanup_free_ char *text = NULL;
	struct evbuffer *out;
	size_t len = 0;
	int r = store_session_cast(s->store, id, &text, &len);

	if (r < 0) {
		api_error(req, r == -ENOENT ? 404 : 500, "cannot read the session's recording: %s",
			  strerror(-r));
		return;
	}
	out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(out, text, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-asciicast");
	evhttp_send_reply(req, 200, NULL, out);
	evbuffer_free(out);
}

bool api_route_sessions(struct server *s, struct evhttp_request *req, const char *path,
			const char *query, const struct api_caller *c)
{
	char id[SESSION_ID_LEN + 1];
	const char *rest, *slash;
	bool all;
	json_t *o;

	if (strcmp(path, "/v1/sessions") && !str_has_prefix(path, "/v1/sessions/"))
		return false;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		api_error(req, 405, "sessions are read-only: use GET");
		return true;
	}
	if (!api_require(req, c, API_NEED_SELF))
		return true;
	all = api_caller_may(c, API_NEED_AUDIT);
	if (!strcmp(path, "/v1/sessions")) {
		sessions_list(s, req, query, c, all);
		return true;
	}
	if (query && *query) {
		api_error(req, 400, "this endpoint takes no query parameters");
		return true;
	}
	rest = path + strlen("/v1/sessions/");
	slash = strchr(rest, '/');
	if ((slash ? (size_t)(slash - rest) : strlen(rest)) != SESSION_ID_LEN ||
	    (slash && strcmp(slash, "/cast"))) {
		api_error(req, 404, "no such session (ids are %d hex characters)", SESSION_ID_LEN);
		return true;
	}
	memcpy(id, rest, SESSION_ID_LEN);
	id[SESSION_ID_LEN] = '\0';
	o = session_visible(s, req, id, c, all);
	if (!o)
		return true;
	if (slash) {
		json_decref(o);
		session_cast(s, req, id);
	} else {
		api_reply(req, 200, json_pack("{s:o}", "session", o));
	}
	return true;
}
