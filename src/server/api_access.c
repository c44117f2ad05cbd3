/* The access endpoints of the API (docs/api.md "Access"): SSH signing (access_ssh.c), just-
 * in-time requests, grants, break-glass and the least-privilege review. Each endpoint checks
 * its own need: every identity may act for itself (SELF); approving needs the approver or
 * admin role and a place in the request's approvers; the review needs auditor or admin. */
#include "server/access_grants.h"

#include "detect/sigma.h"
#include "lib/log.h"
#include "lib/str.h"
#include "respond/action.h"
#include "server/access.h"
#include "server/api_int.h"
#include "server/duration.h"
#include "store/store.h"

#include <event2/http.h>
#include <math.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#define MAX_APPROVERS 32
#define TICKET_MAX 256

/* ---- helpers ---- */

static json_t *doc_load(struct server *s, const char *kind, const char *id)
{
	_cleanup_free_ char *text = NULL;
	json_t *doc;

	if (store_access_doc_get(s->store, kind, id, &text) < 0)
		return NULL;
	doc = json_loads(text, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int doc_save(struct server *s, const char *kind, const char *id, json_t *doc)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	if (!text)
		return -ENOMEM;
	return store_access_doc_put(s->store, kind, id, text, server_now_ns());
}

static void refresh(struct server *s)
{
	int r = access_bundle_refresh(s);

	if (r < 0)
		log_errno(r, "refreshing the access bundle");
}

int64_t access_grant_duration(int64_t asked_s, int64_t policy_max_s, bool break_glass)
{
	int64_t d = asked_s > 0 ? asked_s : ACCESS_GRANT_DEFAULT_S;

	if (policy_max_s > 0 && d > policy_max_s)
		d = policy_max_s;
	if (break_glass && d > ACCESS_BREAK_GLASS_MAX_S)
		d = ACCESS_BREAK_GLASS_MAX_S;
	if (d > ACCESS_GRANT_MAX_S)
		d = ACCESS_GRANT_MAX_S;
	return d;
}

static const char *opt_str(json_t *body, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(body, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    !str_is_text(json_string_value(v), json_string_length(v)))
		return "a field is not a string of the right length";
	*out = json_string_value(v);
	return NULL;
}

/* ---- POST /v1/access/requests ---- */

struct req_args {
	const char *host, *label, *account, *reason, *ticket;
	bool sudo, break_glass;
	int64_t for_s;
};

static const char *req_args_parse(json_t *body, const char *identity, struct req_args *a)
{
	static const char *const keys[] = { "host", "label",  "account", "sudo",
					    "for",  "reason", "ticket",	 "break_glass" };
	const char *e;
	json_t *v;

	memset(a, 0, sizeof(*a));
	if (api_unknown_key(body, keys, ARRAY_SIZE(keys)))
		return "unknown field (valid: host, label, account, sudo, for, reason, "
		       "ticket, break_glass)";
	if ((e = opt_str(body, "host", 255, &a->host)) ||
	    (e = opt_str(body, "label", 255, &a->label)) ||
	    (e = opt_str(body, "account", 32, &a->account)) ||
	    (e = opt_str(body, "reason", ACCESS_REASON_MAX, &a->reason)) ||
	    (e = opt_str(body, "ticket", TICKET_MAX, &a->ticket)))
		return e;
	if (!a->host == !a->label)
		return "give either host (id or hostname) or label (k=v)";
	if (a->label && (!strchr(a->label, '=') || a->label[0] == '='))
		return "label must be key=value";
	if (!a->reason)
		return "reason is required";
	if (!a->account)
		a->account = identity;
	if (!a->account ||
	    strspn(a->account, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen(a->account) ||
	    a->account[0] == '-')
		return "account must be a local account name";
	v = json_object_get(body, "sudo");
	if (v && !json_is_boolean(v))
		return "sudo must be true or false";
	a->sudo = json_is_true(v);
	v = json_object_get(body, "break_glass");
	if (v && !json_is_boolean(v))
		return "break_glass must be true or false";
	a->break_glass = json_is_true(v);
	v = json_object_get(body, "for");
	if (v && !json_is_null(v)) {
		if (access_for_parse(v, &a->for_s) < 0)
			return "for must be a duration (90m, 2h, 1d) or seconds, at most 7 days";
	}
	return NULL;
}

/* The host a request is about: the real host, or for a label a host standing for every
 * host with that label (no id, the label as its only label). */
static int request_host(struct server *s, const struct req_args *a, struct store_host *h,
			struct store_label *lab, char *k, size_t klen)
{
	if (a->host)
		return access_host_lookup(s, a->host, h);
	memset(h, 0, sizeof(*h));
	snprintf(k, klen, "%.*s", (int)(strchr(a->label, '=') - a->label), a->label);
	lab->key = k;
	lab->value = (char *)strchr(a->label, '=') + 1;
	h->hostname = (char *)a->label;
	h->labels = lab;
	h->n_labels = 1;
	h->score = NAN; /* no posture known for a label */
	return 0;
}

static json_t *new_grant(struct server *s, const json_t *q, const char *approved_by, int64_t now)
{
	static const char *const copied[] = { "identity", "host",    "label",
					      "hostname", "account", "sudo",
					      "reason",	  "ticket",  "break_glass" };
	char id[ACTION_UID_LEN + 1];
	int64_t d = json_integer_value(json_object_get(q, "for"));
	json_t *g = json_object(), *v;

	action_new_uid(id);
	json_object_set_new(g, "id", json_string(id));
	for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
		v = json_object_get(q, copied[i]);
		json_object_set_new(g, copied[i], v ? json_incref(v) : json_null());
	}
	json_object_set_new(g, "starts", api_time(now));
	json_object_set_new(g, "expires", api_time(now + d));
	json_object_set(g, "request", json_object_get(q, "id"));
	json_object_set_new(g, "approved_by", json_string(approved_by));
	json_object_set_new(g, "revoked", json_false());
	json_object_set_new(g, "last_used", json_null());
	json_object_set_new(g, "review",
			    json_is_true(json_object_get(q, "break_glass"))
				    ? json_string("required")
				    : json_null());
	if (doc_save(s, ACCESS_DOC_GRANT, id, g) < 0) {
		json_decref(g);
		return NULL;
	}
	return g;
}

static void break_glass_alert(struct server *s, const json_t *q, const json_t *g)
{
	const char *host = json_string_value(json_object_get(q, "host"));
	_cleanup_free_ char *why = xasprintf(
		"break-glass access: %s took %s on %s for %lld s without approval (grant %s): %s",
		json_string_value(json_object_get(q, "identity")) ?: "?",
		json_string_value(json_object_get(q, "account")) ?: "?",
		json_string_value(json_object_get(q, "hostname")) ?: "?",
		(long long)json_integer_value(json_object_get(q, "for")),
		json_string_value(json_object_get(g, "id")) ?: "?",
		json_string_value(json_object_get(q, "reason")) ?: "");
	int r = access_alert_raise(s, host, "access.break_glass", "Break-glass access granted",
				   SIGMA_LEVEL_CRITICAL, why);

	if (r < 0)
		log_errno(r, "raising the break-glass alert");
	log_warn("%s", why);
}

static void requests_create(struct server *s, struct evhttp_request *req,
			    const struct api_caller *c)
{
	json_t *body = api_body_object(req), *identity = NULL, *q = NULL, *apps, *g = NULL;
	struct req_args a;
	struct store_host h = { 0 };
	struct store_label lab;
	struct access_subject sub = { 0 };
	struct access_decision d;
	const char *approvers[MAX_APPROVERS];
	char key[256], id[ACTION_UID_LEN + 1];
	int64_t now = server_now_s(), max_s = 0;
	bool have_sub = false, real_host = false;
	const char *err;
	size_t n;
	int r;

	if (!body)
		return;
	if ((err = req_args_parse(body, c->name, &a))) {
		api_error(req, 400, "%s", err);
		goto out;
	}
	identity = access_active_identity(s, c->name);
	if (!identity) {
		api_error(req, 403, "identity %s is not active", c->name);
		goto out;
	}
	r = request_host(s, &a, &h, &lab, key, sizeof(key));
	if (r == -EEXIST) {
		api_error(req, 400, "two hosts are named %s: give the host id", a.host);
		goto out;
	} else if (r < 0) {
		api_error(req, 404, "no such host: %s", a.host);
		goto out;
	}
	real_host = a.host != NULL;
	access_subject_init(s, &sub, identity, &h, a.sudo ? ACCESS_SUDO : ACCESS_LOGIN, a.account,
			    NULL, now);
	have_sub = true;
	if (!real_host)
		sub.req.host.id = NULL;
	sub.req.context.ticket = a.ticket;
	sub.req.context.grant = true;
	if (!s->access.policies) {
		api_error(req, 400, "no access policies are loaded: nothing can be granted");
		goto out;
	}
	access_decide(s->access.policies, &sub.req, &d);
	if (!d.allow) {
		api_error(req, 400, "no policy would permit %s to %s as %s on %s even with a grant",
			  c->name, a.sudo ? "run sudo" : "log in", a.account,
			  a.host ? a.host : a.label);
		goto out;
	}
	n = access_grant_approvers(s->access.policies, &sub.req, approvers, MAX_APPROVERS, &max_s);
	apps = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(apps, json_string(approvers[i]));
	action_new_uid(id);
	q = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:s,s:b,s:I,s:s,s:s?,s:b,s:o,s:s,s:o,s:n,s:n,s:n}",
		      "id", id, "identity", c->name, "host", real_host ? h.id : NULL, "label",
		      a.label, "hostname", real_host ? h.hostname : a.label, "account", a.account,
		      "sudo", a.sudo, "for",
		      (json_int_t)access_grant_duration(a.for_s, max_s, a.break_glass), "reason",
		      a.reason, "ticket", a.ticket, "break_glass", a.break_glass, "approvers", apps,
		      "state", a.break_glass ? "granted" : "pending", "created", api_time(now),
		      "decided", "decided_by", "grant");
	if (!q) {
		api_error(req, 500, "cannot build the request");
		goto out;
	}
	if (a.break_glass) {
		g = new_grant(s, q, "break-glass", now);
		if (!g) {
			api_error(req, 500, "cannot store the grant");
			goto out;
		}
		json_object_set_new(q, "decided", api_time(now));
		json_object_set_new(q, "decided_by", json_string("break-glass"));
		json_object_set(q, "grant", json_object_get(g, "id"));
	}
	if (doc_save(s, ACCESS_DOC_REQUEST, id, q) < 0) {
		api_error(req, 500, "cannot store the request");
		goto out;
	}
	log_info("access request %s by %s: %s on %s for %lld s%s", id, c->name, a.account,
		 a.host ? a.host : a.label,
		 (long long)json_integer_value(json_object_get(q, "for")),
		 a.break_glass ? " (break-glass)" : "");
	if (g) {
		break_glass_alert(s, q, g);
		refresh(s);
		json_object_set(q, "grant_doc", g);
	}
	api_reply(req, 201, json_incref(q));
out:
	if (have_sub)
		access_subject_fini(&sub);
	if (real_host)
		store_host_free(&h);
	json_decref(g);
	json_decref(q);
	json_decref(identity);
	json_decref(body);
}

/* ---- listings ---- */

static bool mine(const json_t *doc, const char *key, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, key));
	return v && !strcmp(v, name);
}

static void list_docs(struct server *s, struct evhttp_request *req, const struct api_caller *c,
		      const char *kind, const char *field)
{
	bool all = api_caller_may(c, API_NEED_APPROVE) || api_caller_may(c, API_NEED_AUDIT);
	json_t *docs = NULL, *out = json_array(), *d;
	size_t i;

	if (store_access_doc_list(s->store, kind, &docs) < 0) {
		json_decref(out);
		api_error(req, 500, "cannot read the %ss", kind);
		return;
	}
	json_array_foreach(docs, i, d) {
		if (!all && !mine(d, "identity", c->name))
			continue;
		if (!strcmp(kind, ACCESS_DOC_GRANT)) { /* last use as the agents report it */
			const char *id = json_string_value(json_object_get(d, "id"));
			int64_t last = 0;

			if (id && store_access_last_use_grant(s->store, id, &last) == 0 && last > 0)
				json_object_set_new(d, "last_used", api_time(last / 1000000000));
		}
		json_array_append(out, d);
	}
	json_decref(docs);
	api_reply(req, 200,
		  json_pack("{s:o,s:I}", field, out, "count", (json_int_t)json_array_size(out)));
}

/* ---- approve, deny ---- */

static void request_decide(struct server *s, struct evhttp_request *req, const struct api_caller *c,
			   const char *id, bool approve)
{
	json_t *q = doc_load(s, ACCESS_DOC_REQUEST, id), *me = NULL, *g = NULL;
	int64_t now = server_now_s();
	const json_t *apps;

	if (!q) {
		api_error(req, 404, "no such access request: %s", id);
		return;
	}
	if (!api_require(req, c, API_NEED_APPROVE))
		goto out;
	if (mine(q, "identity", c->name)) {
		api_error(req, 403, "%s cannot decide their own request", c->name);
		goto out;
	}
	apps = json_object_get(q, "approvers");
	me = access_active_identity(s, c->name);
	if (json_array_size(apps) ? !access_is_approver(apps, c->name, me)
				  : !api_caller_may(c, API_NEED_ADMIN)) {
		_cleanup_free_ char *list = json_dumps(apps, JSON_COMPACT);
		api_error(req, 403, "%s is not among the approvers of this request (%s)", c->name,
			  json_array_size(apps) ? list : "none named: an admin decides");
		goto out;
	}
	if (!mine(q, "state", "pending")) {
		api_error(req, 409, "the request is %s, not pending",
			  json_string_value(json_object_get(q, "state")));
		goto out;
	}
	json_object_set_new(q, "state", json_string(approve ? "approved" : "denied"));
	json_object_set_new(q, "decided", api_time(now));
	json_object_set_new(q, "decided_by", json_string(c->name));
	if (approve) {
		g = new_grant(s, q, c->name, now);
		if (!g) {
			api_error(req, 500, "cannot store the grant");
			goto out;
		}
		json_object_set(q, "grant", json_object_get(g, "id"));
	}
	if (doc_save(s, ACCESS_DOC_REQUEST, id, q) < 0) {
		api_error(req, 500, "cannot store the request");
		goto out;
	}
	log_info("access request %s %s by %s", id, approve ? "approved" : "denied", c->name);
	refresh(s);
	api_reply(req, 200, json_incref(g ? g : q));
out:
	json_decref(g);
	json_decref(me);
	json_decref(q);
}

/* ---- revoke, review ---- */

static void grant_verb(struct server *s, struct evhttp_request *req, const struct api_caller *c,
		       const char *id, const char *verb)
{
	json_t *g = doc_load(s, ACCESS_DOC_GRANT, id);
	int64_t now = server_now_s();

	if (!g) {
		api_error(req, 404, "no such grant: %s", id);
		return;
	}
	if (!strcmp(verb, "revoke")) {
		if (!mine(g, "identity", c->name) && !api_require(req, c, API_NEED_APPROVE))
			goto out;
		if (json_is_true(json_object_get(g, "revoked"))) {
			api_error(req, 409, "grant %s is already revoked", id);
			goto out;
		}
		json_object_set_new(g, "revoked", json_true());
		json_object_set_new(g, "revoked_by", json_string(c->name));
		json_object_set_new(g, "revoked_at", api_time(now));
	} else if (!strcmp(verb, "review")) {
		if (!api_require(req, c, API_NEED_APPROVE))
			goto out;
		if (!mine(g, "review", "required")) {
			api_error(req, 409, "grant %s needs no review", id);
			goto out;
		}
		json_object_set_new(g, "review", json_string("done"));
		json_object_set_new(g, "reviewed_by", json_string(c->name));
		json_object_set_new(g, "reviewed_at", api_time(now));
	} else {
		api_error(req, 404, "no such action on a grant: %s (revoke, review)", verb);
		goto out;
	}
	if (doc_save(s, ACCESS_DOC_GRANT, id, g) < 0) {
		api_error(req, 500, "cannot store the grant");
		goto out;
	}
	log_info("access grant %s: %s by %s", id, verb, c->name);
	refresh(s); /* the bundle carries grants whole: their review state too */
	api_reply(req, 200, json_incref(g));
out:
	json_decref(g);
}

/* ---- GET /v1/access/review?unused=D ---- */

static void review(struct server *s, struct evhttp_request *req, const struct api_caller *c,
		   const char *query)
{
	int64_t unused =
		s->opt.access_unused_s > 0 ? s->opt.access_unused_s : ACCESS_UNUSED_DEFAULT_S;
	int64_t now = server_now_s();
	json_t *grants = NULL, *usage = NULL, *users = NULL, *g, *u;
	json_t *out_g = json_array(), *out_p = json_array(), *out_i = json_array();
	struct evkeyvalq q;
	size_t i, j;

	if (!api_require(req, c, API_NEED_AUDIT))
		goto out;
	TAILQ_INIT(&q);
	if (query && *query) {
		if (evhttp_parse_query_str(query, &q) < 0) {
			api_error(req, 400, "malformed query string");
			goto out;
		}
		for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next) {
			if (strcmp(kv->key, "unused") != 0 ||
			    duration_parse(kv->value, 10LL * 365 * 86400, &unused) < 0) {
				evhttp_clear_headers(&q);
				api_error(req, 400, "the only parameter is unused=DURATION (30d)");
				goto out;
			}
		}
		evhttp_clear_headers(&q);
	}
	if (store_access_doc_list(s->store, ACCESS_DOC_GRANT, &grants) < 0 ||
	    store_access_usage(s->store, &usage) < 0 ||
	    store_access_doc_list(s->store, ACCESS_DOC_USER, &users) < 0) {
		api_error(req, 500, "cannot read the grants and their use");
		goto out;
	}
	json_array_foreach(grants, i, g) {
		const char *id = json_string_value(json_object_get(g, "id"));
		int64_t last = 0, exp = access_doc_time(g, "expires");

		if (!id || json_is_true(json_object_get(g, "revoked")) || (exp && exp <= now))
			continue;
		store_access_last_use_grant(s->store, id, &last);
		last /= 1000000000;
		if (now - (last ? last : access_doc_time(g, "starts")) < unused)
			continue;
		json_t *row = json_deep_copy(g);
		json_object_set_new(row, "last_used", api_time(last));
		json_array_append_new(out_g, row);
	}
	json_array_foreach(usage, i, u) {
		int64_t last = json_integer_value(json_object_get(u, "last_used_ns")) / 1000000000;

		if (now - last < unused)
			continue;
		json_t *row = json_deep_copy(u);
		json_object_del(row, "last_used_ns");
		json_object_set_new(row, "last_used", api_time(last));
		json_array_append_new(out_p, row);
	}
	json_array_foreach(users, i, u) {
		const char *name = json_string_value(json_object_get(u, "name"));
		bool used = false;

		if (!name || !mine(u, "status", "active"))
			continue;
		json_array_foreach(usage, j, g) {
			if (mine(g, "identity", name) &&
			    now - json_integer_value(json_object_get(g, "last_used_ns")) /
						    1000000000 <
				    unused)
				used = true;
		}
		if (!used)
			json_array_append_new(out_i, json_string(name));
	}
	api_reply(req, 200,
		  json_pack("{s:I,s:O,s:O,s:O}", "unused_s", (json_int_t)unused, "grants", out_g,
			    "accounts", out_p, "identities", out_i));
out:
	json_decref(out_g);
	json_decref(out_p);
	json_decref(out_i);
	json_decref(grants);
	json_decref(usage);
	json_decref(users);
}

/* ---- routing ---- */

/* Splits "ID" or "ID/VERB" of rest into id and *verb (NULL when none). */
static bool split_id(const char *rest, char *id, size_t idlen, const char **verb)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n >= idlen || (slash && (strchr(slash + 1, '/') || !slash[1])))
		return false;
	snprintf(id, idlen, "%.*s", (int)n, rest);
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	*verb = slash ? slash + 1 : NULL;
	return true;
}

bool api_route_access(struct server *s, struct evhttp_request *req, const char *path,
		      const char *query, const struct api_caller *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool get = m == EVHTTP_REQ_GET, post = m == EVHTTP_REQ_POST;
	char id[ACTION_UID_LEN + 1];
	const char *verb;

	if (strncmp(path, "/v1/ssh/", 8) != 0 && strncmp(path, "/v1/access/", 11) != 0)
		return false;
	if (!api_require(req, c, API_NEED_SELF))
		return true;
	if (query && *query && strcmp(path, "/v1/access/review") != 0) {
		api_error(req, 400, "%s takes no query parameters", path);
		return true;
	}
	if (!strcmp(path, "/v1/ssh/ca") && get)
		access_api_ssh_ca(s, req);
	else if (!strcmp(path, "/v1/ssh/certificates") && post)
		access_api_ssh_sign(s, req, c);
	else if (!strcmp(path, "/v1/access/requests") && post)
		requests_create(s, req, c);
	else if (!strcmp(path, "/v1/access/requests") && get)
		list_docs(s, req, c, ACCESS_DOC_REQUEST, "requests");
	else if (!strcmp(path, "/v1/access/grants") && get)
		list_docs(s, req, c, ACCESS_DOC_GRANT, "grants");
	else if (!strcmp(path, "/v1/access/review") && get)
		review(s, req, c, query);
	else if (!strncmp(path, "/v1/access/requests/", 20) && post &&
		 split_id(path + 20, id, sizeof(id), &verb) && verb &&
		 (!strcmp(verb, "approve") || !strcmp(verb, "deny")))
		request_decide(s, req, c, id, !strcmp(verb, "approve"));
	else if (!strncmp(path, "/v1/access/grants/", 18) && post &&
		 split_id(path + 18, id, sizeof(id), &verb) && verb)
		grant_verb(s, req, c, id, verb);
	else if (!strcmp(path, "/v1/ssh/ca") || !strcmp(path, "/v1/ssh/certificates") ||
		 !strcmp(path, "/v1/access/requests") || !strcmp(path, "/v1/access/grants") ||
		 !strcmp(path, "/v1/access/review"))
		api_error(req, 405, "method not allowed on %s", path);
	else
		api_error(req, 404, "no such endpoint: %s", path);
	return true;
}
