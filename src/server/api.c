/* The operators' HTTPS JSON API (docs/api.md): evhttp on the server's loop, TLS with the
 * server certificate (no client certificates), bearer tokens checked against the store. */
#include "server/api_int.h"
#include "lib/log.h"
#include "respond/action.h"
#include "store/store.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <time.h>

void api_reply(struct evhttp_request *req, int code, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	struct evbuffer *out = evbuffer_new();
	if (!text || !out) {
		free(text);
		if (out)
			evbuffer_free(out);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, NULL, out);
	evbuffer_free(out);
}

void api_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_reply(req, code, json_pack("{s:s}", "error", msg));
}

json_t *api_body_object(struct evhttp_request *req)
{
	return api_body_object_capped(req, API_MAX_BODY);
}

json_t *api_body_object_capped(struct evhttp_request *req, size_t max)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len == 0)
		return json_object();
	if (len > max) {
		api_error(req, 413, "request body larger than %zu bytes", max);
		return NULL;
	}
	json_error_t err;
	json_t *obj = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES,
				 &err);
	if (!obj || !json_is_object(obj)) {
		json_decref(obj);
		api_error(req, 400, "the body must be a JSON object (%s)",
			  obj ? "not an object" : err.text);
		return NULL;
	}
	return obj;
}

const char *api_unknown_key(json_t *obj, const char *const *keys, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i = 0;
		while (i < n && strcmp(key, keys[i]) != 0)
			i++;
		if (i == n)
			return key;
	}
	return NULL;
}

json_t *api_time(int64_t t)
{
	if (t == 0)
		return json_null();
	struct tm tm;
	time_t tt = (time_t)t;
	char out[32];
	if (!gmtime_r(&tt, &tm))
		return json_null();
	strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(out);
}

/* ---- roles (docs/api.md "Roles") ---- */

static int role_rank(const char *role)
{
	if (!role)
		return 0;
	if (!strcmp(role, "viewer"))
		return 1;
	if (!strcmp(role, "auditor"))
		return 2;
	if (!strcmp(role, "approver"))
		return 3;
	if (!strcmp(role, "admin"))
		return 4;
	return 0;
}

bool api_caller_may(const struct api_caller *c, enum api_need need)
{
	const char *role = c && c->role ? c->role : "";
	switch (need) {
	case API_NEED_SELF: return c != NULL;
	case API_NEED_READ: return role_rank(role) >= 1;
	case API_NEED_AUDIT: return !strcmp(role, "auditor") || !strcmp(role, "admin");
	case API_NEED_APPROVE: return !strcmp(role, "approver") || !strcmp(role, "admin");
	case API_NEED_ADMIN: return !strcmp(role, "admin");
	}
	return false;
}

bool api_require(struct evhttp_request *req, const struct api_caller *c, enum api_need need)
{
	static const char *const needs[] = {
		[API_NEED_SELF] = "an identity",
		[API_NEED_READ] = "the viewer, auditor, approver or admin role",
		[API_NEED_AUDIT] = "the auditor or admin role",
		[API_NEED_APPROVE] = "the approver or admin role",
		[API_NEED_ADMIN] = "the admin role",
	};
	if (api_caller_may(c, need))
		return true;
	const char *role = c && c->role && *c->role ? c->role : NULL;
	api_error(req, 403, "this needs %s; %s has %s", needs[need], c ? c->name : "the caller",
		  role ? role : "no role");
	return false;
}

/* Checks "Authorization: Bearer TOKEN"; returns 0 with the operator's name and role in c
 * (caller frees both), or replies 401 and returns a negative errno. */
static int authorized(struct server *s, struct evhttp_request *req, struct api_caller *c)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0 || !h[7] || strlen(h + 7) > 256) {
		api_error(req, 401,
			  "missing or malformed 'Authorization: Bearer TOKEN' "
			  "(the token is in the server's client.yaml)");
		return -EACCES;
	}
	unsigned char hash[32];
	EVP_Digest(h + 7, strlen(h + 7), hash, NULL, EVP_sha256(), NULL);
	char *name = NULL, *role = NULL;
	int r = store_operator_find(s->store, hash, &name, &role);
	if (r == 0 && name && role) {
		c->name = name;
		c->role = role;
		return 0;
	}
	free(name);
	free(role);
	if (r == -ENOENT)
		api_error(req, 401, "unknown operator token");
	else
		api_error(req, 500, "cannot check the operator token");
	return r < 0 ? r : -EIO;
}

/* What the endpoints of this file need: reading is READ (join tokens: ADMIN), approving or
 * rejecting a response action APPROVE, every other change ADMIN. */
static enum api_need route_need(const char *path, enum evhttp_cmd_type m)
{
	if (!strcmp(path, "/v1/tokens"))
		return API_NEED_ADMIN;
	if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
		return API_NEED_READ;
	if (m == EVHTTP_REQ_POST && !strncmp(path, "/v1/actions/", 12)) {
		const char *verb = strrchr(path, '/');
		if (!strcmp(verb, "/approve") || !strcmp(verb, "/reject"))
			return API_NEED_APPROVE;
	}
	return API_NEED_ADMIN;
}

static void method_not_allowed(struct evhttp_request *req)
{
	api_error(req, 405, "method not allowed on %s", evhttp_request_get_uri(req));
}

/* /v1/hosts/ID and its sub-resources (/v1/hosts/ID/commands). */
static void route_host(struct server *s, struct evhttp_request *req, const char *rest,
		       const char *op)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *slash = strchr(rest, '/');
	char id[64];

	if (!*rest || (slash ? (size_t)(slash - rest) : strlen(rest)) >= sizeof(id)) {
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
		return;
	}
	snprintf(id, sizeof(id), "%.*s", slash ? (int)(slash - rest) : (int)strlen(rest), rest);
	const char *sub = slash ? slash + 1 : NULL;
	if (!sub && m == EVHTTP_REQ_GET)
		api_host_show(s, req, id);
	else if (!sub && m == EVHTTP_REQ_DELETE)
		api_host_delete(s, req, id);
	else if (!sub)
		method_not_allowed(req);
	else if (!strcmp(sub, "commands") && m == EVHTTP_REQ_POST)
		api_host_command(s, req, id);
	else if (!strcmp(sub, "commands"))
		method_not_allowed(req);
	else if (!strcmp(sub, "baseline") && m == EVHTTP_REQ_GET)
		api_host_baseline(s, req, id);
	else if (!strcmp(sub, "baseline"))
		method_not_allowed(req);
	else if (!strcmp(sub, "respond") && m == EVHTTP_REQ_POST)
		api_host_respond(s, req, id, op);
	else if (!strcmp(sub, "respond"))
		method_not_allowed(req);
	else
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
}

/* /v1/actions/UID and /v1/actions/UID/{approve,reject,rollback}. */
static void route_action(struct server *s, struct evhttp_request *req, const char *rest,
			 const char *op)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	char uid[ACTION_UID_LEN + 1];

	if (n == 0 || n > ACTION_UID_LEN || (slash && strchr(slash + 1, '/'))) {
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
		return;
	}
	snprintf(uid, sizeof(uid), "%.*s", (int)n, rest);
	if (!slash && m == EVHTTP_REQ_GET)
		api_action_show(s, req, uid);
	else if (slash && m == EVHTTP_REQ_POST)
		api_action_verb(s, req, uid, slash + 1, op);
	else
		method_not_allowed(req);
}

static void route_alert(struct server *s, struct evhttp_request *req, const char *id)
{
	if (!*id || strchr(id, '/'))
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
	else
		api_alert_show(s, req, id);
}

static void route(struct server *s, struct evhttp_request *req, const char *path, const char *query,
		  const struct api_caller *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool get = m == EVHTTP_REQ_GET;
	const char *op = c->name;
	/* the access endpoints check their own needs */
	if (api_route_identities(s, req, path, query, c) ||
	    api_route_access(s, req, path, query, c) || api_route_sessions(s, req, path, query, c))
		return;
	if (!api_require(req, c, route_need(path, m)))
		return;
	if (query && strcmp(path, "/v1/findings") != 0 && strcmp(path, "/v1/alerts") != 0 &&
	    strcmp(path, "/v1/actions") != 0 && *query)
		api_error(req, 400, "%s takes no query parameters", path);
	else if (!strcmp(path, "/v1/tokens") && m == EVHTTP_REQ_POST)
		api_tokens_create(s, req);
	else if (!strcmp(path, "/v1/tokens") && get)
		api_tokens_list(s, req);
	else if (!strcmp(path, "/v1/hosts") && get)
		api_hosts_list(s, req);
	else if (!strncmp(path, "/v1/hosts/", 10))
		route_host(s, req, path + 10, op);
	else if (!strcmp(path, "/v1/findings") && get)
		api_findings(s, req, query);
	else if (!strcmp(path, "/v1/alerts") && get)
		api_alerts_list(s, req, query);
	else if (!strncmp(path, "/v1/alerts/", 11) && get)
		route_alert(s, req, path + 11);
	else if (!strcmp(path, "/v1/status") && get)
		api_status(s, req);
	else if (!strcmp(path, "/v1/actions") && get)
		api_actions_list(s, req, query);
	else if (!strncmp(path, "/v1/actions/", 12))
		route_action(s, req, path + 12, op);
	else if (!strcmp(path, "/v1/tokens") || !strcmp(path, "/v1/hosts") ||
		 !strcmp(path, "/v1/findings") || !strcmp(path, "/v1/status") ||
		 !strcmp(path, "/v1/alerts") || !strncmp(path, "/v1/alerts/", 11) ||
		 !strcmp(path, "/v1/actions"))
		method_not_allowed(req);
	else
		api_error(req, 404, "no such endpoint: %s", path);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct api_caller c = { 0 };
	if (authorized(s, req, &c) < 0)
		return;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	_cleanup_free_ char *decoded = path ? evhttp_uridecode(path, 0, NULL) : NULL;
	if (!decoded)
		api_error(req, 400, "malformed request URI");
	else
		route(s, req, decoded, evhttp_uri_get_query(uri), &c);
	free((char *)c.name);
	free((char *)c.role);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct server *s = arg;
	SSL *ssl = SSL_new(s->api_ctx);
	if (!ssl)
		return NULL;
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL); /* operators present bearer tokens */
	struct bufferevent *bev =
		bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev)
		SSL_free(ssl);
	else
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int api_open(struct server *s)
{
	s->http = evhttp_new(s->base);
	if (!s->http)
		return -ENOMEM;
	evhttp_set_bevcb(s->http, make_bev, s);
	evhttp_set_gencb(s->http, on_request, s);
	/* the largest body any endpoint takes; each endpoint checks its own cap */
	evhttp_set_max_body_size(s->http, API_MAX_BODY_LARGE);
	evhttp_set_max_headers_size(s->http, 16 * 1024);
	evhttp_set_timeout(s->http, 30);
	/* every method reaches the router, which answers 405 in JSON */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	struct evconnlistener *l = listener_bind(s, s->opt.api_addr, NULL, NULL, &s->api_port);
	if (!l)
		return -EADDRNOTAVAIL;
	if (!evhttp_bind_listener(s->http, l)) {
		evconnlistener_free(l);
		return -ENOMEM;
	}
	return 0;
}

void api_close(struct server *s)
{
	if (s->http)
		evhttp_free(s->http);
	s->http = NULL;
}
