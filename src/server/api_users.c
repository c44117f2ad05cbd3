/* The access directory's endpoints (docs/api.md "Access"): /v1/users (identities, their
 * tokens, offboarding, directory import), /v1/groups and /v1/policies (policy files and
 * their test). */
#include "server/api_int.h"
#include "access/directory.h"
#include "access/policy.h"
#include "lib/log.h"
#include "server/access.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define ATTR_VALUE_MAX 256
#define LIST_MAX 64 /* groups, attributes and accounts of one identity */

/* ---- validation ---- */

/* Identity, group and attribute names: 1-64 of [a-z0-9._-], starting with a letter or a
 * digit. */
static bool name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len < 1 || len > ACCESS_NAME_MAX)
		return false;
	if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '.' ||
		      n[i] == '_' || n[i] == '-'))
			return false;
	return true;
}

/* Local account names as useradd takes them: 1-32 of [a-z0-9_-], starting with a letter or
 * an underscore. */
static bool account_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len < 1 || len > 32 || !((n[0] >= 'a' && n[0] <= 'z') || n[0] == '_'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_' ||
		      n[i] == '-'))
			return false;
	return true;
}

static bool role_ok(const char *r)
{
	return r && (!strcmp(r, "admin") || !strcmp(r, "approver") || !strcmp(r, "auditor") ||
		     !strcmp(r, "viewer"));
}

static bool text_ok(const char *t)
{
	if (!t || strlen(t) > ATTR_VALUE_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A sorted, unique copy of a list of names (groups or accounts), or NULL with err. */
static json_t *name_list(json_t *v, const char *what, bool (*ok)(const char *), char *err,
			 size_t err_len)
{
	size_t i;
	json_t *e;
	if (!json_is_array(v) || json_array_size(v) > LIST_MAX) {
		snprintf(err, err_len, "%s must be an array of at most %d names", what, LIST_MAX);
		return NULL;
	}
	json_t *out = json_array();
	json_array_foreach(v, i, e) {
		const char *n = json_string_value(e);
		if (!ok(n)) {
			snprintf(err, err_len, "%s: '%.64s' is not a valid name", what,
				 n ? n : "(not a string)");
			json_decref(out);
			return NULL;
		}
		bool dup = false;
		size_t j;
		json_t *f;
		json_array_foreach(out, j, f)
			dup = dup || !strcmp(json_string_value(f), n);
		if (!dup)
			json_array_append(out, e);
	}
	return out;
}

const char *api_identity_apply(json_t *doc, json_t *body, bool create, char *err, size_t err_len)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		json_t *set = NULL;
		if (create && !strcmp(key, "name")) {
			if (!name_ok(json_string_value(v)))
				return "name must be 1-64 of [a-z0-9._-], starting with a letter "
				       "or digit";
			set = json_incref(v);
		} else if (create && !strcmp(key, "kind")) {
			const char *k = json_string_value(v);
			if (!k || (strcmp(k, "person") && strcmp(k, "machine")))
				return "kind must be \"person\" or \"machine\"";
			set = json_incref(v);
		} else if (!strcmp(key, "groups")) {
			if (!(set = name_list(v, "groups", name_ok, err, err_len)))
				return err;
		} else if (!strcmp(key, "accounts")) {
			if (!(set = name_list(v, "accounts", account_ok, err, err_len)))
				return err;
		} else if (!strcmp(key, "role")) {
			if (!json_is_null(v) && !role_ok(json_string_value(v)))
				return "role must be admin, approver, auditor, viewer or null";
			set = json_incref(v);
		} else if (!strcmp(key, "attributes")) {
			const char *ak;
			json_t *av;
			if (!json_is_object(v) || json_object_size(v) > LIST_MAX)
				return "attributes must be an object of at most 64 text values";
			json_object_foreach(v, ak, av) {
				if (!name_ok(ak) || !text_ok(json_string_value(av))) {
					snprintf(
						err, err_len,
						"attribute '%.64s': the key must be a name and the "
						"value text of at most %d characters",
						ak, ATTR_VALUE_MAX);
					return err;
				}
			}
			set = json_incref(v);
		} else {
			snprintf(err, err_len, "unknown field '%.64s'%s", key,
				 create ? " (valid: name, kind, groups, attributes, role, accounts)"
					: " (valid: groups, attributes, role, accounts)");
			return err;
		}
		json_object_set_new(doc, key, set);
	}
	return NULL;
}

static json_t *identity_new(void)
{
	return json_pack("{s:s, s:[], s:{}, s:s, s:n, s:o, s:n, s:[]}", "kind", "person", "groups",
			 "attributes", "status", "active", "role", "created",
			 api_time(server_now_s()), "disabled_at", "accounts");
}

static const char *doc_role(const json_t *doc)
{
	const char *r = json_string_value(json_object_get(doc, "role"));
	return r ? r : "";
}

/* ---- /v1/users ---- */

static void users_list(struct server *s, struct evhttp_request *req)
{
	json_t *users = NULL;
	if (store_access_doc_list(s->store, ACCESS_DOC_USER, &users) < 0) {
		api_error(req, 500, "cannot read the identities");
		return;
	}
	api_reply(req, 200, json_pack("{s:o}", "users", users));
}

static void users_create(struct server *s, struct evhttp_request *req)
{
	char err[256];
	json_t *body = api_body_object(req);
	if (!body)
		return;
	json_t *doc = identity_new();
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *bad = api_identity_apply(doc, body, true, err, sizeof(err));
	json_t *old = NULL;
	if (!bad && !name)
		bad = "name is required";
	if (bad) {
		api_error(req, 400, "%s", bad);
		goto out;
	}
	if ((old = access_identity_get(s, name))) {
		api_error(req, 409, "identity %s exists (change it with PATCH /v1/users/%s)", name,
			  name);
		goto out;
	}
	if (access_doc_save(s, ACCESS_DOC_USER, name, doc) < 0) {
		api_error(req, 500, "cannot store identity %s", name);
		goto out;
	}
	log_info("identity %s created", name);
	api_reply(req, 201, json_incref(doc));
out:
	json_decref(old);
	json_decref(doc);
	json_decref(body);
}

/* Active grants of name: not revoked, not expired. */
static size_t grants_active(struct server *s, const char *name)
{
	json_t *grants = NULL, *g;
	size_t i, n = 0;
	int64_t now = server_now_s();
	if (store_access_doc_list(s->store, ACCESS_DOC_GRANT, &grants) < 0)
		return 0;
	json_array_foreach(grants, i, g) {
		int64_t exp = access_json_time(json_object_get(g, "expires"));
		if (!strcmp(json_string_value(json_object_get(g, "identity")) ?: "", name) &&
		    !json_is_true(json_object_get(g, "revoked")) && (!exp || exp > now))
			n++;
	}
	json_decref(grants);
	return n;
}

static void user_show(struct server *s, struct evhttp_request *req, const char *name,
		      const struct api_caller *c)
{
	if (!api_require(req, c, strcmp(c->name, name) ? API_NEED_READ : API_NEED_SELF))
		return;
	json_t *doc = access_identity_get(s, name);
	if (!doc) {
		api_error(req, 404, "no such identity: %s", name);
		return;
	}
	json_object_set_new(doc, "grants_active", json_integer((json_int_t)grants_active(s, name)));
	json_t *off = json_object_get(doc, "offboarding");
	int64_t confirmed = 0;
	if (json_is_object(off) &&
	    store_access_event_hosts(s->store, name, "revoked", &confirmed) == 0)
		json_object_set_new(off, "confirmations", json_integer(confirmed));
	api_reply(req, 200, doc);
}

/* Whether name is the one active identity with role admin (taking it away would leave
 * nobody able to administer the server). */
static bool last_admin(struct server *s, const char *name)
{
	json_t *users = NULL, *u;
	size_t i, admins = 0;
	bool is = false;
	if (store_access_doc_list(s->store, ACCESS_DOC_USER, &users) < 0)
		return false;
	json_array_foreach(users, i, u) {
		if (strcmp(doc_role(u), "admin") ||
		    !strcmp(json_string_value(json_object_get(u, "status")) ?: "", "disabled"))
			continue;
		admins++;
		is = is || !strcmp(json_string_value(json_object_get(u, "name")) ?: "", name);
	}
	json_decref(users);
	return is && admins == 1;
}

static void user_patch(struct server *s, struct evhttp_request *req, const char *name)
{
	char err[256];
	json_t *body = api_body_object(req);
	if (!body)
		return;
	json_t *doc = access_identity_get(s, name);
	const char *bad;
	if (!doc) {
		api_error(req, 404, "no such identity: %s", name);
	} else if (!strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "disabled")) {
		api_error(req, 409,
			  "identity %s is disabled (offboarded): it is never changed again", name);
	} else if ((bad = api_identity_apply(doc, body, false, err, sizeof(err)))) {
		api_error(req, 400, "%s", bad);
	} else if (strcmp(doc_role(doc), "admin") && last_admin(s, name)) {
		api_error(req, 409,
			  "%s is the last admin: give another identity the admin role first", name);
	} else if (access_doc_save(s, ACCESS_DOC_USER, name, doc) < 0) {
		api_error(req, 500, "cannot store identity %s", name);
	} else {
		if (json_object_get(body, "role")) {
			int r = store_operator_set_role(s->store, name, doc_role(doc));
			if (r < 0 && r != -ENOENT)
				log_errno(r, "changing the role of %s's token", name);
		}
		log_info("identity %s changed", name);
		api_reply(req, 200, json_incref(doc));
	}
	json_decref(doc);
	json_decref(body);
}

static void user_token(struct server *s, struct evhttp_request *req, const char *name)
{
	json_t *doc = access_identity_get(s, name);
	unsigned char raw[32], hash[32];
	char token[65];
	if (!doc) {
		api_error(req, 404, "no such identity: %s", name);
		return;
	}
	if (!strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "disabled")) {
		api_error(req, 409, "identity %s is disabled (offboarded)", name);
		json_decref(doc);
		return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		api_error(req, 500, "no randomness for a token");
		json_decref(doc);
		return;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	EVP_Digest(token, 64, hash, NULL, EVP_sha256(), NULL);
	if (store_operator_put(s->store, name, doc_role(doc), hash) < 0) {
		api_error(req, 500, "cannot store the token of %s", name);
	} else {
		log_info("new API token for identity %s (role %s)", name,
			 *doc_role(doc) ? doc_role(doc) : "none");
		api_reply(req, 201,
			  json_pack("{s:s, s:s, s:s?}", "token", token, "identity", name, "role",
				    *doc_role(doc) ? doc_role(doc) : NULL));
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(token, sizeof(token));
	json_decref(doc);
}

/* Revokes name's grants; returns how many. */
static size_t revoke_grants(struct server *s, const char *name)
{
	json_t *grants = NULL, *g;
	size_t i, n = 0;
	if (store_access_doc_list(s->store, ACCESS_DOC_GRANT, &grants) < 0)
		return 0;
	json_array_foreach(grants, i, g) {
		const char *id = json_string_value(json_object_get(g, "id"));
		if (!id || strcmp(json_string_value(json_object_get(g, "identity")) ?: "", name) ||
		    json_is_true(json_object_get(g, "revoked")))
			continue;
		json_object_set_new(g, "revoked", json_true());
		json_object_set_new(g, "revoked_at", api_time(server_now_s()));
		json_object_set_new(g, "revoked_by", json_string("offboarding"));
		if (access_doc_save(s, ACCESS_DOC_GRANT, id, g) == 0)
			n++;
	}
	json_decref(grants);
	return n;
}

/* The serials of name's unexpired certificates (marked revoked); returns how many. */
static size_t revoke_certs(struct server *s, const char *name, uint64_t **out)
{
	json_t *certs = NULL, *c;
	size_t i, n = 0;
	int64_t now = server_now_s();
	*out = NULL;
	if (store_access_doc_list(s->store, ACCESS_DOC_CERT, &certs) < 0)
		return 0;
	*out = xcalloc(json_array_size(certs) + 1, sizeof(**out));
	json_array_foreach(certs, i, c) {
		uint64_t serial;
		int64_t before = access_json_time(json_object_get(c, "valid_before"));
		if (strcmp(json_string_value(json_object_get(c, "identity")) ?: "", name) ||
		    (before && before <= now) ||
		    access_json_serial(json_object_get(c, "serial"), &serial) < 0)
			continue;
		(*out)[n++] = serial;
		if (!json_is_true(json_object_get(c, "revoked"))) {
			char id[24];
			snprintf(id, sizeof(id), "%llu", (unsigned long long)serial);
			json_object_set_new(c, "revoked", json_true());
			access_doc_save(s, ACCESS_DOC_CERT, id, c);
		}
	}
	json_decref(certs);
	return n;
}

/* Offboards the active identity doc (named name; changed and stored here): returns 0 with
 * *result {identity, hosts_notified, serials_revoked, grants_revoked} (new reference), or a
 * negative errno when it could not be stored. */
static int offboard(struct server *s, json_t *doc, const char *name, json_t **result)
{
	int64_t now = server_now_s();
	json_object_set_new(doc, "status", json_string("disabled"));
	json_object_set_new(doc, "disabled_at", api_time(now));
	/* from now on it can neither call the API nor get certificates */
	int r = store_operator_delete(s->store, name);
	if (r < 0 && r != -ENOENT)
		log_errno(r, "deleting the API token of %s", name);
	if ((r = access_doc_save(s, ACCESS_DOC_USER, name, doc)) < 0)
		return r;
	size_t n_grants = revoke_grants(s, name);
	_cleanup_free_ uint64_t *serials = NULL;
	size_t n_serials = revoke_certs(s, name, &serials);
	json_t *acc = json_object_get(doc, "accounts");
	size_t n_acc = json_array_size(acc), i;
	_cleanup_free_ char **accounts = xcalloc(n_acc + 1, sizeof(*accounts));
	for (i = 0; i < n_acc; i++)
		accounts[i] = (char *)json_string_value(json_array_get(acc, i));
	int64_t t0 = server_now_ms();
	size_t hosts = access_revoke_send(s, name, serials, n_serials, accounts, n_acc);
	int64_t send_ms = server_now_ms() - t0;
	json_object_set_new(doc, "offboarding",
			    json_pack("{s:o, s:I, s:I, s:I}", "sent", api_time(now),
				      "hosts_notified", (json_int_t)hosts, "serials_revoked",
				      (json_int_t)n_serials, "grants_revoked",
				      (json_int_t)n_grants));
	if (access_doc_save(s, ACCESS_DOC_USER, name, doc) < 0)
		log_error("cannot store the offboarding of %s", name);
	/* the revocations go out first; the bundle (for hosts connecting later) next */
	r = access_bundle_refresh_later(s);
	if (r < 0)
		log_errno(r, "refreshing the access bundle after disabling %s", name);
	log_info(
		"identity %s disabled: %zu grants and %zu certificates revoked, %zu hosts notified "
		"(queued in %lld ms)",
		name, n_grants, n_serials, hosts, (long long)send_ms);
	*result = json_pack("{s:s, s:I, s:I, s:I}", "identity", name, "hosts_notified",
			    (json_int_t)hosts, "serials_revoked", (json_int_t)n_serials,
			    "grants_revoked", (json_int_t)n_grants);
	return 0;
}

static bool is_disabled(const json_t *doc)
{
	return !strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "disabled");
}

static void user_disable(struct server *s, struct evhttp_request *req, const char *name)
{
	json_t *doc = access_identity_get(s, name), *result = NULL;
	if (!doc)
		api_error(req, 404, "no such identity: %s", name);
	else if (is_disabled(doc))
		api_error(req, 409, "identity %s is already disabled", name);
	else if (last_admin(s, name))
		api_error(req, 409,
			  "%s is the last admin: give another identity the admin role first", name);
	else if (offboard(s, doc, name, &result) < 0)
		api_error(req, 500, "cannot store identity %s", name);
	else
		api_reply(req, 200, result);
	json_decref(doc);
}

static void route_user(struct server *s, struct evhttp_request *req, const char *rest,
		       const struct api_caller *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	char name[ACCESS_NAME_MAX + 1];
	if (n == 0 || n > ACCESS_NAME_MAX || (slash && strchr(slash + 1, '/'))) {
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)n, rest);
	const char *sub = slash ? slash + 1 : NULL;
	if (!sub && m == EVHTTP_REQ_GET) {
		user_show(s, req, name, c);
		return;
	}
	if (!api_require(req, c, API_NEED_ADMIN))
		return;
	if (!sub && m == EVHTTP_REQ_PATCH)
		user_patch(s, req, name);
	else if (sub && !strcmp(sub, "token") && m == EVHTTP_REQ_POST)
		user_token(s, req, name);
	else if (sub && !strcmp(sub, "disable") && m == EVHTTP_REQ_POST)
		user_disable(s, req, name);
	else if (!sub || !strcmp(sub, "token") || !strcmp(sub, "disable"))
		api_error(req, 405, "method not allowed on %s", evhttp_request_get_uri(req));
	else
		api_error(req, 404, "no such object: %s", evhttp_request_get_uri(req));
}

/* ---- /v1/groups ---- */

static void groups_create(struct server *s, struct evhttp_request *req)
{
	json_t *body = api_body_object(req);
	if (!body)
		return;
	const char *name = json_string_value(json_object_get(body, "name"));
	json_t *desc = json_object_get(body, "description");
	json_t *attrs = json_object_get(body, "attributes");
	json_t *old = NULL, *doc = NULL;
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
		if (strcmp(key, "name") && strcmp(key, "description") &&
		    strcmp(key, "attributes")) {
			api_error(req, 400,
				  "unknown field '%.64s' (valid: name, description, "
				  "attributes)",
				  key);
			goto out;
		}
	if (!name_ok(name)) {
		api_error(req, 400,
			  "name must be 1-64 of [a-z0-9._-], starting with a letter or "
			  "digit");
		goto out;
	}
	if (desc && !text_ok(json_string_value(desc))) {
		api_error(req, 400, "description must be text of at most %d characters",
			  ATTR_VALUE_MAX);
		goto out;
	}
	if (attrs) {
		if (!json_is_object(attrs) || json_object_size(attrs) > LIST_MAX) {
			api_error(req, 400, "attributes must be an object of text values");
			goto out;
		}
		json_object_foreach(attrs, key, v)
			if (!name_ok(key) || !text_ok(json_string_value(v))) {
				api_error(req, 400,
					  "attribute '%.64s' is not a name with a text "
					  "value",
					  key);
				goto out;
			}
	}
	if ((old = access_doc_load(s, ACCESS_DOC_GROUP, name))) {
		api_error(req, 409, "group %s exists", name);
		goto out;
	}
	doc = json_pack("{s:s, s:s, s:o}", "name", name, "description",
			desc ? json_string_value(desc) : "", "attributes",
			attrs ? json_incref(attrs) : json_object());
	if (access_doc_save(s, ACCESS_DOC_GROUP, name, doc) < 0) {
		api_error(req, 500, "cannot store group %s", name);
		goto out;
	}
	api_reply(req, 201, json_incref(doc));
out:
	json_decref(doc);
	json_decref(old);
	json_decref(body);
}

static void groups_list(struct server *s, struct evhttp_request *req)
{
	json_t *groups = NULL, *users = NULL, *g, *u;
	size_t i, j;
	if (store_access_doc_list(s->store, ACCESS_DOC_GROUP, &groups) < 0 ||
	    store_access_doc_list(s->store, ACCESS_DOC_USER, &users) < 0) {
		json_decref(groups);
		api_error(req, 500, "cannot read the groups");
		return;
	}
	/* members: identities naming the group */
	json_array_foreach(groups, i, g) {
		json_t *members = json_array();
		const char *gname = json_string_value(json_object_get(g, "name"));
		json_array_foreach(users, j, u) {
			size_t k;
			json_t *x;
			json_array_foreach(json_object_get(u, "groups"), k, x)
				if (gname && !strcmp(json_string_value(x) ?: "", gname))
					json_array_append(members, json_object_get(u, "name"));
		}
		json_object_set_new(g, "members", members);
	}
	json_decref(users);
	api_reply(req, 200, json_pack("{s:o}", "groups", groups));
}

/* ---- /v1/policies ---- */

static void policies_list(struct server *s, struct evhttp_request *req)
{
	json_t *files = NULL, *f;
	size_t i;
	if (store_access_doc_list(s->store, ACCESS_DOC_POLICY, &files) < 0) {
		api_error(req, 500, "cannot read the policy files");
		return;
	}
	json_t *out_files = json_array(), *pols = json_array();
	json_array_foreach(files, i, f) {
		json_t *c = json_object_get(f, "content");
		json_array_append_new(out_files, json_pack("{s:O, s:I, s:O}", "name",
							   json_object_get(f, "name"), "size",
							   (json_int_t)json_string_length(c),
							   "content", c ? c : json_null()));
	}
	json_decref(files);
	size_t n = s->access.policies ? access_policy_count(s->access.policies) : 0;
	for (i = 0; i < n; i++) {
		const struct access_policy_info *p = access_policy_get(s->access.policies, i);
		json_t *appr = json_array();
		for (size_t k = 0; k < p->n_approvers; k++)
			json_array_append_new(appr, json_string(p->approvers[k]));
		json_array_append_new(
			pols, json_pack("{s:s, s:s, s:s, s:I, s:o, s:I}", "name", p->name, "effect",
					p->forbid ? "forbid" : "permit", "file", p->file, "line",
					(json_int_t)p->line, "approvers", appr, "max_grant_seconds",
					(json_int_t)p->max_grant_s));
	}
	api_reply(req, 200,
		  json_pack("{s:o, s:o, s:s?}", "files", out_files, "policies", pols, "digest",
			    s->access.bundle ? s->access.bundle->digest : NULL));
}

static void policies_put(struct server *s, struct evhttp_request *req)
{
	char err[512] = "";
	/* JSON escaping may double the text */
	json_t *body = api_body_object_capped(req, 2 * ACCESS_POLICY_FILES_MAX);
	if (!body)
		return;
	json_t *files = json_object_get(body, "files");
	if (json_object_size(body) != 1 || !json_is_array(files)) {
		api_error(req, 400, "the body must be {\"files\": [{\"name\", \"content\"}...]}");
	} else {
		int r = access_policies_replace(s, files, err, sizeof(err));
		if (r == -EINVAL || r == -EFBIG)
			api_error(req, r == -EFBIG ? 413 : 400, "%s", err);
		else if (r < 0)
			api_error(req, 500, "%s", err[0] ? err : "cannot replace the policies");
		else
			api_reply(req, 200,
				  json_pack("{s:I, s:I, s:s?}", "files",
					    (json_int_t)json_array_size(files), "policies",
					    (json_int_t)access_policy_count(s->access.policies),
					    "digest",
					    s->access.bundle ? s->access.bundle->digest : NULL));
		if (r == 0)
			log_info("access policies replaced: %zu files", json_array_size(files));
	}
	json_decref(body);
}

/* What POST /v1/policies/test decides about, with the storage its strings need. */
struct test_req {
	struct access_request r;
	const char *groups[LIST_MAX];
	struct access_attr attrs[LIST_MAX];
	struct access_attr *labels;
	struct store_host host;
	json_t *identity;
};

static const char *test_principal(struct server *s, json_t *body, struct test_req *t)
{
	const char *name = json_string_value(json_object_get(body, "principal"));
	if (!name_ok(name))
		return "principal must be an identity name";
	t->identity = access_identity_get(s, name);
	t->r.principal.name = name;
	if (!t->identity)
		return NULL; /* unknown: no groups, no attributes */
	size_t i;
	json_t *v;
	const char *k;
	json_array_foreach(json_object_get(t->identity, "groups"), i, v)
		if (json_is_string(v) && t->r.principal.n_groups < LIST_MAX)
			t->groups[t->r.principal.n_groups++] = json_string_value(v);
	json_object_foreach(json_object_get(t->identity, "attributes"), k, v)
		if (json_is_string(v) && t->r.principal.n_attrs < LIST_MAX)
			t->attrs[t->r.principal.n_attrs++] =
				(struct access_attr){ k, json_string_value(v) };
	t->r.principal.groups = t->groups;
	t->r.principal.attrs = t->attrs;
	return NULL;
}

/* The host by id, else by hostname (one host only). */
static const char *test_host(struct server *s, const char *host, struct test_req *t)
{
	struct store_host *all = NULL;
	size_t n = 0, found = 0;
	if (store_host_get(s->store, host, &t->host) == 0)
		goto have;
	if (store_hosts_list(s->store, &all, &n) < 0)
		return "cannot read the hosts";
	for (size_t i = 0; i < n; i++)
		if (!all[i].revoked && all[i].hostname && !strcmp(all[i].hostname, host)) {
			if (found++ == 0) {
				t->host = all[i];
				memset(&all[i], 0, sizeof(all[i]));
			}
		}
	store_hosts_free(all, n);
	if (found == 0)
		return "no such host (give a host id or hostname)";
	if (found > 1)
		return "several hosts have this hostname: give the host id";
have:
	t->labels = xcalloc(t->host.n_labels + 1, sizeof(*t->labels));
	for (size_t i = 0; i < t->host.n_labels; i++)
		t->labels[i] =
			(struct access_attr){ t->host.labels[i].key, t->host.labels[i].value };
	t->r.host =
		(struct access_host){ t->host.id, t->host.hostname, t->labels, t->host.n_labels };
	t->r.context.posture = isnan(t->host.score) ? -1 : (int)(t->host.score + 0.5);
	return NULL;
}

static const char *test_source(const char *src, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, src, &in4->sin_addr) == 1)
		in4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, src, &in6->sin6_addr) == 1)
		in6->sin6_family = AF_INET6;
	else
		return "source must be an IPv4 or IPv6 address";
	return NULL;
}

static const char *test_parse(struct server *s, json_t *body, struct test_req *t)
{
	static const char *const keys[] = { "principal", "action", "account", "command", "host",
					    "source",	 "ticket", "grant",   "time" };
	const char *bad;
	if (api_unknown_key(body, keys, ARRAY_SIZE(keys)))
		return "unknown field (valid: principal, action, account, command, host, "
		       "source, ticket, grant, time)";
	t->r.context.now = server_now_s();
	t->r.context.posture = -1;
	if ((bad = test_principal(s, body, t)))
		return bad;
	const char *action = json_string_value(json_object_get(body, "action"));
	if (action && access_action_from_name(action, &t->r.action) < 0)
		return "action must be login, sudo, sudo-command or port-forward";
	t->r.account = json_string_value(json_object_get(body, "account"));
	if (t->r.account && !account_ok(t->r.account))
		return "account is not a valid account name";
	t->r.command = json_string_value(json_object_get(body, "command"));
	const char *host = json_string_value(json_object_get(body, "host"));
	if (host && (bad = test_host(s, host, t)))
		return bad;
	const char *src = json_string_value(json_object_get(body, "source"));
	if (src && (bad = test_source(src, &t->r.context.source)))
		return bad;
	t->r.context.ticket = json_string_value(json_object_get(body, "ticket"));
	t->r.context.grant = json_is_true(json_object_get(body, "grant"));
	const char *time = json_string_value(json_object_get(body, "time"));
	int64_t ns;
	if (time) {
		if (api_rfc3339_parse(time, &ns) < 0)
			return "time must be an RFC 3339 time";
		t->r.context.now = ns / 1000000000;
	}
	return NULL;
}

static void policies_test(struct server *s, struct evhttp_request *req)
{
	json_t *body = api_body_object(req);
	if (!body)
		return;
	struct test_req t;
	memset(&t, 0, sizeof(t));
	const char *bad = test_parse(s, body, &t);
	if (bad) {
		api_error(req, 400, "%s", bad);
	} else {
		struct access_decision d;
		char *text = access_explain(s->access.policies, &t.r, &d);
		json_t *expl = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
		json_t *by = d.decided_by ? json_pack("{s:s, s:s, s:s, s:I}", "policy",
						      d.decided_by->name, "effect",
						      d.decided_by->forbid ? "forbid" : "permit",
						      "file", d.decided_by->file, "line",
						      (json_int_t)d.decided_by->line)
					  : json_null();
		api_reply(req, 200,
			  json_pack("{s:b, s:o, s:o, s:b}", "allow", d.allow, "decided_by", by,
				    "explanation", expl ? expl : json_array(), "known_identity",
				    t.identity != NULL));
	}
	free(t.labels);
	store_host_free(&t.host);
	json_decref(t.identity);
	json_decref(body);
}

/* ---- /v1/users/import ---- */

struct import_counts {
	json_int_t users_created, users_updated, users_unchanged, users_disabled;
	json_int_t groups_created, groups_updated;
	json_t *skipped; /* disabled identities the file names (never changed again) */
};

/* The API body of one directory identity: the fields api_identity_apply takes. */
static json_t *import_body(const json_t *id, bool create)
{
	static const char *const keys[] = { "name",	  "kind", "groups",
					    "attributes", "role", "accounts" };
	json_t *body = json_object();
	for (size_t i = create ? 0 : 2; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(id, keys[i]);
		if (v)
			json_object_set(body, keys[i], v);
	}
	return body;
}

/* Checks every identity of d (as POST /v1/users would) and that the result leaves an
 * active admin. Returns NULL or what is wrong (err). */
static const char *import_check(struct server *s, const struct directory *d, const char *file,
				char *err, size_t err_len)
{
	size_t i;
	json_t *id, *users = NULL, *u;
	char why[256];
	json_array_foreach(d->identities, i, id) {
		json_t *doc = json_object(), *body = import_body(id, true);
		const char *bad = api_identity_apply(doc, body, true, why, sizeof(why));
		json_decref(doc);
		json_decref(body);
		if (bad) {
			snprintf(err, err_len, "%s: identity '%.64s': %s", file,
				 json_string_value(json_object_get(id, "name")) ?: "?", bad);
			return err;
		}
	}
	/* admins after the import: the file's word wins for the identities it names */
	if (store_access_doc_list(s->store, ACCESS_DOC_USER, &users) < 0)
		return "cannot read the identities";
	size_t admins = 0;
	json_array_foreach(users, i, u) {
		const char *name = json_string_value(json_object_get(u, "name")) ?: "";
		bool named = false;
		size_t j;
		json_array_foreach(d->identities, j, id)
			named = named ||
				!strcmp(json_string_value(json_object_get(id, "name")) ?: "", name);
		if (!named && !is_disabled(u) && !strcmp(doc_role(u), "admin"))
			admins++;
	}
	json_array_foreach(d->identities, i, id) {
		const char *name = json_string_value(json_object_get(id, "name"));
		json_t *old = access_identity_get(s, name);
		bool was_disabled = old && is_disabled(old);
		json_decref(old);
		if (!was_disabled && !is_disabled(id) && !strcmp(doc_role(id), "admin"))
			admins++;
	}
	json_decref(users);
	return admins ? NULL : "the import would leave no active admin";
}

static int import_groups(struct server *s, const struct directory *d, struct import_counts *n)
{
	size_t i;
	json_t *g;
	json_array_foreach(d->groups, i, g) {
		const char *name = json_string_value(json_object_get(g, "name"));
		const char *desc = json_string_value(json_object_get(g, "description")) ?: "";
		json_t *attrs = json_object_get(g, "attributes");
		json_t *old = access_doc_load(s, ACCESS_DOC_GROUP, name);
		bool defines = *desc || json_object_size(attrs);
		int r = 0;
		if (!old || (defines && (!json_equal(json_object_get(old, "description"),
						     json_object_get(g, "description")) ||
					 !json_equal(json_object_get(old, "attributes"), attrs)))) {
			json_t *doc =
				json_pack("{s:s, s:s, s:o}", "name", name, "description", desc,
					  "attributes", attrs ? json_incref(attrs) : json_object());
			r = access_doc_save(s, ACCESS_DOC_GROUP, name, doc);
			json_decref(doc);
			if (r == 0 && old)
				n->groups_updated++;
			else if (r == 0)
				n->groups_created++;
		}
		json_decref(old);
		if (r < 0)
			return r;
	}
	return 0;
}

static int import_identity(struct server *s, json_t *id, struct import_counts *n)
{
	char why[256];
	const char *name = json_string_value(json_object_get(id, "name"));
	json_t *old = access_identity_get(s, name), *result = NULL;
	json_t *doc = old ? json_deep_copy(old) : identity_new();
	json_t *body = import_body(id, !old);
	int r = 0;
	if (old && is_disabled(old)) {
		json_array_append_new(n->skipped, json_string(name));
		goto out;
	}
	api_identity_apply(doc, body, !old, why, sizeof(why)); /* checked before */
	if (old && json_equal(old, doc) && !is_disabled(id)) {
		n->users_unchanged++;
		goto out;
	}
	if (!old && is_disabled(id)) {
		json_object_set_new(doc, "status", json_string("disabled"));
		json_object_set_new(doc, "disabled_at", api_time(server_now_s()));
	}
	if ((r = access_doc_save(s, ACCESS_DOC_USER, name, doc)) < 0)
		goto out;
	if (old && strcmp(doc_role(old), doc_role(doc))) {
		int q = store_operator_set_role(s->store, name, doc_role(doc));
		if (q < 0 && q != -ENOENT)
			log_errno(q, "changing the role of %s's token", name);
	}
	if (!old)
		n->users_created++;
	else if (!json_equal(old, doc))
		n->users_updated++;
	if (old && is_disabled(id)) {
		/* the directory says this person left: offboard at once */
		if ((r = offboard(s, doc, name, &result)) == 0)
			n->users_disabled++;
		json_decref(result);
	}
out:
	json_decref(body);
	json_decref(doc);
	json_decref(old);
	return r;
}

static void api_users_import(struct server *s, struct evhttp_request *req)
{
	char err[512];
	struct directory *d = NULL;
	enum directory_format fmt = DIRECTORY_AUTO;
	struct import_counts n = { .skipped = json_array() };
	json_t *body = api_body_object_capped(req, API_MAX_BODY_LARGE), *v;
	const char *key, *bad;
	size_t i;
	if (!body)
		goto out;
	json_object_foreach(body, key, v)
		if (strcmp(key, "format") && strcmp(key, "content") && strcmp(key, "file")) {
			api_error(req, 400, "unknown field '%.64s' (valid: format, content, file)",
				  key);
			goto out;
		}
	const char *format = json_string_value(json_object_get(body, "format"));
	const char *file = json_string_value(json_object_get(body, "file")) ?: "directory";
	json_t *content = json_object_get(body, "content");
	if (!json_is_string(content)) {
		api_error(req, 400, "content must be the directory file's text");
		goto out;
	}
	if (format && directory_format_from_name(format, &fmt) < 0) {
		api_error(req, 400, "format must be yaml, json or csv");
		goto out;
	}
	if (!text_ok(file) || strlen(file) > 128) {
		api_error(req, 400, "file must be a file name");
		goto out;
	}
	if (directory_parse(file, json_string_value(content), json_string_length(content), fmt, &d,
			    err, sizeof(err)) < 0) {
		api_error(req, 400, "%s", err);
		goto out;
	}
	if ((bad = import_check(s, d, file, err, sizeof(err)))) {
		api_error(req, strstr(bad, "no active admin") ? 409 : 400, "%s", bad);
		goto out;
	}
	int r = import_groups(s, d, &n);
	json_t *id;
	json_array_foreach(d->identities, i, id)
		if (r == 0)
			r = import_identity(s, id, &n);
	if (r < 0) {
		api_error(req, 500, "the import stopped: cannot store the documents");
		goto out;
	}
	log_info("directory %s imported: %lld identities created, %lld updated, %lld disabled; "
		 "%lld groups created, %lld updated",
		 file, (long long)n.users_created, (long long)n.users_updated,
		 (long long)n.users_disabled, (long long)n.groups_created,
		 (long long)n.groups_updated);
	api_reply(req, 200,
		  json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:O}", "users_created", n.users_created,
			    "users_updated", n.users_updated, "users_unchanged", n.users_unchanged,
			    "users_disabled", n.users_disabled, "groups_created", n.groups_created,
			    "groups_updated", n.groups_updated, "skipped", n.skipped));
out:
	directory_free(d);
	json_decref(n.skipped);
	json_decref(body);
}

/* ---- routing ---- */

bool api_route_identities(struct server *s, struct evhttp_request *req, const char *path,
			  const char *query, const struct api_caller *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool users = !strncmp(path, "/v1/users", 9) && (!path[9] || path[9] == '/');
	bool groups = !strcmp(path, "/v1/groups");
	bool policies = !strcmp(path, "/v1/policies") || !strcmp(path, "/v1/policies/test");
	if (!users && !groups && !policies)
		return false;
	if (query && *query) {
		api_error(req, 400, "%s takes no query parameters", path);
		return true;
	}
	if (!strcmp(path, "/v1/users")) {
		if (m == EVHTTP_REQ_GET && api_require(req, c, API_NEED_READ))
			users_list(s, req);
		else if (m == EVHTTP_REQ_POST && api_require(req, c, API_NEED_ADMIN))
			users_create(s, req);
		else if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST)
			api_error(req, 405, "method not allowed on %s", path);
	} else if (!strcmp(path, "/v1/users/import")) {
		if (m != EVHTTP_REQ_POST)
			api_error(req, 405, "method not allowed on %s", path);
		else if (api_require(req, c, API_NEED_ADMIN))
			api_users_import(s, req);
	} else if (users) {
		route_user(s, req, path + 10, c);
	} else if (groups) {
		if (m == EVHTTP_REQ_GET && api_require(req, c, API_NEED_READ))
			groups_list(s, req);
		else if (m == EVHTTP_REQ_POST && api_require(req, c, API_NEED_ADMIN))
			groups_create(s, req);
		else if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST)
			api_error(req, 405, "method not allowed on %s", path);
	} else if (!strcmp(path, "/v1/policies")) {
		if (m == EVHTTP_REQ_GET && api_require(req, c, API_NEED_READ))
			policies_list(s, req);
		else if (m == EVHTTP_REQ_PUT && api_require(req, c, API_NEED_ADMIN))
			policies_put(s, req);
		else if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_PUT)
			api_error(req, 405, "method not allowed on %s", path);
	} else {
		if (m != EVHTTP_REQ_POST)
			api_error(req, 405, "method not allowed on %s", path);
		else if (api_require(req, c, API_NEED_READ))
			policies_test(s, req);
	}
	return true;
}
