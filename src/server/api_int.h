/* The API's internals shared by api.c (transport, routing, auth) and its handlers. */
#pragma once

#include <jansson.h>

#include "server/server_int.h"
#include "store/store.h"

struct evhttp_request;

#define API_MAX_BODY (64u * 1024)

/* Who calls (api.c checks the bearer token): the identity and its operator role (admin,
 * approver, auditor, viewer; "" for none: an identity that may only act for itself). */
struct api_caller {
	const char *name;
	const char *role;
};

/* What an endpoint needs (docs/api.md "Roles"): SELF any identity (acting for itself),
 * READ viewer and above, AUDIT auditor or admin, APPROVE approver or admin, ADMIN. */
enum api_need { API_NEED_SELF, API_NEED_READ, API_NEED_AUDIT, API_NEED_APPROVE, API_NEED_ADMIN };
bool api_caller_may(const struct api_caller *c, enum api_need need);
/* Returns whether the caller may; otherwise replies 403 naming the role needed. */
bool api_require(struct evhttp_request *req, const struct api_caller *c, enum api_need need);

/* Route hooks of the access endpoints: each returns true when it answered the request.
 * api_users.c: /v1/users, /v1/groups, /v1/policies (docs/api.md "Access"). */
bool api_route_identities(struct server *s, struct evhttp_request *req, const char *path,
			  const char *query, const struct api_caller *c);
/* api_access.c: /v1/ssh/..., /v1/access/... */
bool api_route_access(struct server *s, struct evhttp_request *req, const char *path,
		      const char *query, const struct api_caller *c);
/* api_sessions.c: /v1/sessions... */
bool api_route_sessions(struct server *s, struct evhttp_request *req, const char *path,
			const char *query, const struct api_caller *c);

/* Sends obj (reference stolen) with code. */
void api_reply(struct evhttp_request *req, int code, json_t *obj);
/* Sends {"error": message} with code. */
void api_error(struct evhttp_request *req, int code, const char *fmt, ...) _printf_(3, 4);
/* The request body as a JSON object (an empty body is {}); NULL after replying 400, or 413
 * past API_MAX_BODY. */
json_t *api_body_object(struct evhttp_request *req);
/* The same with a larger cap, for the one endpoint that takes large bodies (at most
 * API_MAX_BODY_LARGE: POST /v1/users/import). */
#define API_MAX_BODY_LARGE (16u * 1024 * 1024)
json_t *api_body_object_capped(struct evhttp_request *req, size_t max);
/* The first key of obj that is not among keys[0..n), or NULL when there is none. */
const char *api_unknown_key(json_t *obj, const char *const *keys, size_t n);
/* Unix seconds as RFC 3339 (UTC), or JSON null for 0. */
json_t *api_time(int64_t t);

/* api_users.c: applies the fields of a POST /v1/users (create: name and kind too) or PATCH
 * body to the identity document doc (checked: names, roles, attribute text, list sizes).
 * Returns NULL, or what is wrong (err, or a static message); doc may be half changed then. */
const char *api_identity_apply(json_t *doc, json_t *body, bool create, char *err, size_t err_len);

/* api_tokens.c */
struct api_token_request {
	int64_t ttl;
	int64_t uses;				   /* 0: unlimited */
	struct store_label labels[MSG_MAX_LABELS]; /* borrowed from the body */
	size_t n_labels;
};
/* Checks a POST /v1/tokens body (a JSON object) into t (defaults: 1 h, one use). Returns
 * NULL, or what is wrong (a static message). */
const char *api_token_request_parse(json_t *body, struct api_token_request *t);
void api_tokens_create(struct server *s, struct evhttp_request *req);
void api_tokens_list(struct server *s, struct evhttp_request *req);
/* api_hosts.c */
void api_hosts_list(struct server *s, struct evhttp_request *req);
void api_host_show(struct server *s, struct evhttp_request *req, const char *id);
void api_host_delete(struct server *s, struct evhttp_request *req, const char *id);
void api_findings(struct server *s, struct evhttp_request *req, const char *query);
void api_status(struct server *s, struct evhttp_request *req);
/* api_commands.c */
void api_host_command(struct server *s, struct evhttp_request *req, const char *id);
/* api_alerts.c */
struct evkeyvalq;
/* Parses an RFC 3339 time ("2026-11-23T10:00:00Z", "...T10:00:00.5+01:00", "2026-11-23")
 * into ns since the epoch. Returns 0, -EINVAL or -ERANGE (before 1970 or too far). */
int api_rfc3339_parse(const char *s, int64_t *out_ns);
/* since: an RFC 3339 time, or a duration back from now_s ("24h"). Returns NULL, or what is
 * wrong (a static message). */
const char *api_since_parse(const char *v, int64_t now_s, int64_t *out_ns);
/* Checks GET /v1/alerts parameters into f (strings borrowed from q). Returns NULL, or what
 * is wrong (a static message). */
const char *api_alerts_query_parse(struct evkeyvalq *q, int64_t now_s,
				   struct store_alert_filter *f);
void api_alerts_list(struct server *s, struct evhttp_request *req, const char *query);
void api_alert_show(struct server *s, struct evhttp_request *req, const char *id);
void api_host_baseline(struct server *s, struct evhttp_request *req, const char *id);
/* The host's latest sensor health {updated, sensors} or JSON null (new reference). */
json_t *api_host_sensors(struct server *s, const char *id);
/* api_actions.c (docs/api.md "Actions"); op is the authenticated operator's name */
void api_actions_list(struct server *s, struct evhttp_request *req, const char *query);
void api_action_show(struct server *s, struct evhttp_request *req, const char *uid);
/* POST /v1/actions/UID/VERB: verb "approve", "reject" or "rollback". */
void api_action_verb(struct server *s, struct evhttp_request *req, const char *uid,
		     const char *verb, const char *op);
/* POST /v1/hosts/ID/respond */
void api_host_respond(struct server *s, struct evhttp_request *req, const char *id, const char *op);
