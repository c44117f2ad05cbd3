/* Response actions in the API (docs/api.md "Actions"): GET /v1/actions, GET /v1/actions/UID,
 * POST /v1/actions/UID/approve|reject|rollback and POST /v1/hosts/ID/respond. Every action
 * records the operator who asked for it or approved it. */
#include "server/api_int.h"

#include "lib/log.h"
#include "lib/str.h"
#include "respond/action.h"
#include "store/store.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#define MAX_PARAM 256

static const char *const states[] = {
	"pending_approval", "sent",	"verified", "failed",  "refused",
	"rolled_back",	    "rejected", "expired",  "dry_run", "notified",
};

static bool state_known(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(states); i++)
		if (!strcmp(s, states[i]))
			return true;
	return false;
}

/* Checks GET /v1/actions parameters into f (strings borrowed from q). Returns NULL, or what
 * is wrong (a static message). */
static const char *query_parse(struct evkeyvalq *q, struct store_action_filter *f)
{
	for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
		const char *k = kv->key, *v = kv->value;
		int64_t n;

		if (strlen(v) > MAX_PARAM)
			return "a query parameter is too long";
		if (!strcmp(k, "host")) {
			f->host = v;
		} else if (!strcmp(k, "state")) {
			if (!state_known(v))
				return "state must be one of pending_approval, sent, verified, "
				       "failed, "
				       "refused, rolled_back, rejected, expired, dry_run, notified";
			f->state = v;
		} else if (!strcmp(k, "since")) {
			const char *err = api_since_parse(v, server_now_s(), &f->since_ns);
			if (err)
				return err;
		} else if (!strcmp(k, "limit")) {
			if (parse_i64(v, 1, STORE_ACTIONS_LIMIT_MAX, &n) < 0)
				return "limit must be a whole number from 1 to 1000";
			f->limit = (size_t)n;
		} else {
			return "unknown query parameter (valid: host, state, since, limit)";
		}
	}
	return NULL;
}

void api_actions_list(struct server *s, struct evhttp_request *req, const char *query)
{
	struct store_action_filter f = { 0 };
	struct evkeyvalq q;
	json_t *out = NULL;
	const char *err;

	TAILQ_INIT(&q);
	if (query && *query && evhttp_parse_query_str(query, &q) < 0) {
		api_error(req, 400, "malformed query string");
		return;
	}
	err = query_parse(&q, &f);
	if (err) {
		api_error(req, 400, "%s", err);
	} else if (store_actions_list(s->store, &f, &out) < 0) {
		api_error(req, 500, "cannot read the actions");
	} else {
		api_reply(req, 200, out);
	}
	evhttp_clear_headers(&q);
}

void api_action_show(struct server *s, struct evhttp_request *req, const char *uid)
{
	json_t *a = NULL;
	int r = store_action_get(s->store, uid, &a);

	if (r == -ENOENT)
		api_error(req, 404, "no such action: %s", uid);
	else if (r < 0)
		api_error(req, 500, "cannot read action %s", uid);
	else
		api_reply(req, 200, json_pack("{s:o}", "action", a));
}

/* Replies with the action as stored now (code), or 500. */
static void reply_action(struct server *s, struct evhttp_request *req, int code, const char *uid)
{
	json_t *a = NULL;

	if (store_action_get(s->store, uid, &a) < 0)
		api_error(req, 500, "cannot read action %s", uid);
	else
		api_reply(req, code, json_pack("{s:o}", "action", a));
}

/* The typed action of a stored one (its kind and parameters), or NULL after replying. */
static Action *stored_action(struct evhttp_request *req, const json_t *row)
{
	const char *kind = json_string_value(json_object_get(row, "kind"));
	int k = kind ? action_kind_by_name(kind) : -ENOENT;
	char err[256];
	Action *a = NULL;

	if (k < 0 || action_from_json((Immune__V1__ActionKind)k, json_object_get(row, "params"), &a,
				      err, sizeof(err)) < 0) {
		api_error(req, 500, "the stored action is not valid any more: %s",
			  k < 0 ? "unknown kind" : err);
		return NULL;
	}
	return a;
}

/* Sends a stored, approved action; on failure it becomes failed with the reason. */
static void approve(struct server *s, struct evhttp_request *req, const char *uid, json_t *row,
		    const char *op)
{
	static const char *const from[] = { "pending_approval", NULL };
	const char *host = json_string_value(json_object_get(row, "host"));
	_cleanup_(action_freep) Action *a = stored_action(req, row);
	int r;

	if (!a)
		return;
	if (!hostmap_get(&s->hosts, host)) {
		api_error(req, 409,
			  "host %s is not connected; the action stays pending until it is approved "
			  "while the host is connected",
			  host);
		return;
	}
	r = store_action_update(s->store, uid, from, "sent", op, NULL, server_now_ns());
	if (r == -EBUSY) {
		api_error(req, 409, "action %s is no longer pending approval", uid);
		return;
	}
	if (r < 0) {
		api_error(req, 500, "cannot update action %s", uid);
		return;
	}
	r = respond_send(s, host, uid, a, IMMUNE__V1__ACTION_OP__OP_APPLY, false);
	if (r < 0) {
		static const char *const sent[] = { "sent", NULL };
		store_action_update(s->store, uid, sent, "failed", NULL,
				    "the connection to the host failed while sending",
				    server_now_ns());
		api_error(req, 503, "the connection to host %s failed while sending", host);
		return;
	}
	log_info("action %s approved by %s", uid, op);
	reply_action(s, req, 202, uid);
}

static void reject(struct server *s, struct evhttp_request *req, const char *uid, const char *op)
{
	static const char *const from[] = { "pending_approval", NULL };
	_cleanup_free_ char *msg = xasprintf("rejected by %s", op);
	int r = store_action_update(s->store, uid, from, "rejected", NULL, msg, server_now_ns());

	if (r == -EBUSY) {
		api_error(req, 409, "action %s is not pending approval", uid);
		return;
	}
	if (r < 0) {
		api_error(req, 500, "cannot update action %s", uid);
		return;
	}
	log_info("action %s rejected by %s", uid, op);
	reply_action(s, req, 200, uid);
}

/* Sends OP_ROLLBACK for an applied action; its state changes when the result arrives. */
static void rollback(struct server *s, struct evhttp_request *req, const char *uid, json_t *row,
		     const char *op)
{
	const char *host = json_string_value(json_object_get(row, "host"));
	const char *state = json_string_value(json_object_get(row, "state"));
	_cleanup_(action_freep) Action *a = NULL;
	_cleanup_free_ char *msg = NULL;
	int r;

	if (!state || (strcmp(state, "verified") != 0 && strcmp(state, "failed") != 0)) {
		api_error(req, 409,
			  "action %s is %s; only a verified or failed action can be rolled back",
			  uid, state ? state : "in an unknown state");
		return;
	}
	a = stored_action(req, row);
	if (!a)
		return;
	r = respond_send(s, host, uid, a, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, false);
	if (r == -ENOTCONN) {
		api_error(req, 409,
			  "host %s is not connected; rollbacks go only to connected hosts", host);
		return;
	}
	if (r < 0) {
		api_error(req, 503, "the connection to host %s failed while sending", host);
		return;
	}
	{
		const char *const from[] = { state, NULL };
		msg = xasprintf("rollback requested by %s", op);
		store_action_update(s->store, uid, from, state, NULL, msg, server_now_ns());
	}
	log_info("rollback of action %s sent by %s", uid, op);
	reply_action(s, req, 202, uid);
}

void api_action_verb(struct server *s, struct evhttp_request *req, const char *uid,
		     const char *verb, const char *op)
{
	json_t *row = NULL;
	int r;

	if (strcmp(verb, "approve") != 0 && strcmp(verb, "reject") != 0 &&
	    strcmp(verb, "rollback") != 0) {
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
		return;
	}
	r = store_action_get(s->store, uid, &row);
	if (r == -ENOENT) {
		api_error(req, 404, "no such action: %s", uid);
		return;
	}
	if (r < 0) {
		api_error(req, 500, "cannot read action %s", uid);
		return;
	}
	if (!strcmp(verb, "approve"))
		approve(s, req, uid, row, op);
	else if (!strcmp(verb, "reject"))
		reject(s, req, uid, op);
	else
		rollback(s, req, uid, row, op);
	json_decref(row);
}

/* The action a POST /v1/hosts/ID/respond body asks for, or NULL after replying 400. */
static Action *respond_body(struct evhttp_request *req, json_t *body)
{
	const char *key, *kind;
	json_t *v, *params, *dur;
	char err[512];
	Action *a = NULL;
	int k;

	json_object_foreach(body, key, v) {
		if (strcmp(key, "kind") != 0 && strcmp(key, "params") != 0 &&
		    strcmp(key, "for") != 0) {
			api_error(req, 400, "unknown key '%s' (valid: kind, params, for)", key);
			return NULL;
		}
	}
	kind = json_string_value(json_object_get(body, "kind"));
	if (!kind) {
		api_error(req, 400, "the body must be {\"kind\": KIND, \"params\": {...}}");
		return NULL;
	}
	k = action_kind_by_name(kind);
	if (k < 0) {
		api_error(req, 400,
			  "unknown action kind '%s' (valid: kill-process, block-address, "
			  "isolate-host, lock-user, remove-authorized-key, quarantine-file, "
			  "restore-file, apply-fix, disable-service, disable-cron)",
			  kind);
		return NULL;
	}
	v = json_object_get(body, "params");
	if (v && !json_is_object(v)) {
		api_error(req, 400, "params must be a JSON object");
		return NULL;
	}
	params = v ? json_copy(v) : json_object();
	dur = json_object_get(body, "for");
	if (dur) {
		if (json_object_get(params, "duration")) {
			json_decref(params);
			api_error(req, 400,
				  "give the duration either as 'for' or as params.duration");
			return NULL;
		}
		json_object_set(params, "duration", dur);
	}
	if (action_from_json((Immune__V1__ActionKind)k, params, &a, err, sizeof(err)) < 0) {
		json_decref(params);
		api_error(req, 400, "%s", err);
		return NULL;
	}
	json_decref(params);
	return a;
}

void api_host_respond(struct server *s, struct evhttp_request *req, const char *id, const char *op)
{
	json_t *body = api_body_object(req);
	_cleanup_(action_freep) Action *a = NULL;
	char uid[ACTION_UID_LEN + 1];
	char *params = NULL;
	struct store_host h;
	bool revoked;
	int r;

	if (!body)
		return;
	a = respond_body(req, body);
	if (!a)
		goto out;
	r = store_host_get(s->store, id, &h);
	if (r == -ENOENT) {
		api_error(req, 404, "no such host: %s", id);
		goto out;
	}
	if (r < 0) {
		api_error(req, 500, "cannot read host %s", id);
		goto out;
	}
	revoked = h.revoked;
	store_host_free(&h);
	if (revoked) {
		api_error(req, 409, "host %s was removed from the fleet", id);
		goto out;
	}
	if (!hostmap_get(&s->hosts, id)) {
		api_error(req, 409, "host %s is not connected; actions go only to connected hosts",
			  id);
		goto out;
	}
	action_new_uid(uid);
	{
		json_t *pj = action_params_json(a);
		params = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(pj);
	}
	struct store_action_new n = {
		.uid = uid,
		.host_id = id,
		.kind = action_kind_name(a->kind),
		.op = "apply",
		.params_json = params,
		.mode = "manual",
		.state = "sent",
		.origin = "manual",
		.requested_by = op,
		.created_ns = server_now_ns(),
	};
	r = params ? store_action_add(s->store, &n) : -ENOMEM;
	if (r < 0) {
		api_error(req, 500, "cannot store the action");
		goto out;
	}
	r = respond_send(s, id, uid, a, IMMUNE__V1__ACTION_OP__OP_APPLY, false);
	if (r < 0) {
		static const char *const sent[] = { "sent", NULL };
		store_action_update(s->store, uid, sent, "failed", NULL,
				    "the connection to the host failed while sending",
				    server_now_ns());
		api_error(req, 503, "the connection to host %s failed while sending", id);
		goto out;
	}
	log_info("action %s (%s) on host %s requested by %s", uid, action_kind_name(a->kind), id,
		 op);
	reply_action(s, req, 202, uid);
out:
	free(params);
	json_decref(body);
}
