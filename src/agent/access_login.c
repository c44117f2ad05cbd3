/* Socket messages and login decisions of the access role (access.h). Pure: no I/O, so unit
 * tests and fuzz/fuzz_access_query.c reach all of it. */
#include "agent/access.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <time.h>

static int qfail(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static int qfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* A local account name as useradd accepts it by default. */
static bool account_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.' || (c == '$' && i == n - 1)))
			return false;
	}
	return true;
}

static bool short_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool base64_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ACCESS_MSG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			return false;
	}
	return true;
}

static const char *str_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int access_query_parse(const void *data, size_t len, struct access_query *q, char *err,
		       size_t errlen)
{
	if (len == 0 || len > ACCESS_MSG_MAX)
		return qfail(err, errlen, "a message of %zu bytes (1 to %u)", len, ACCESS_MSG_MAX);
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return qfail(err, errlen, "not a JSON object");
	}
	struct access_query r = { .root = root };
	const char *type = str_field(root, "type");
	if (!type) {
		json_decref(root);
		return qfail(err, errlen, "no \"type\"");
	}
	if (!strcmp(type, "login")) {
		r.type = ACCESS_MSG_LOGIN;
		r.account = str_field(root, "account");
		r.cert = str_field(root, "cert");
		r.connection = str_field(root, "connection");
		if (!r.account || !account_ok(r.account)) {
			json_decref(root);
			return qfail(err, errlen, "login: \"account\" is not an account name");
		}
		if (!r.cert || !base64_ok(r.cert)) {
			json_decref(root);
			return qfail(err, errlen, "login: \"cert\" is not base64");
		}
		const json_t *cj = json_object_get(root, "connection");
		if ((cj && !json_is_string(cj)) ||
		    (r.connection && (strlen(r.connection) > 256 ||
				      !str_is_text(r.connection, strlen(r.connection))))) {
			json_decref(root);
			return qfail(err, errlen, "login: \"connection\" is not valid");
		}
	} else if (!strcmp(type, "session")) {
		r.type = ACCESS_MSG_SESSION;
		const json_t *pid = json_object_get(root, "pid");
		r.identity = str_field(root, "identity");
		r.session_id = str_field(root, "session_id");
		if (!json_is_integer(pid) || json_integer_value(pid) <= 1 ||
		    json_integer_value(pid) > INT32_MAX) {
			json_decref(root);
			return qfail(err, errlen, "session: \"pid\" is not a process id");
		}
		r.pid = json_integer_value(pid);
		if (!r.identity || !short_name_ok(r.identity, ACCESS_NAME_MAX) || !r.session_id ||
		    !short_name_ok(r.session_id, 128)) {
			json_decref(root);
			return qfail(err, errlen,
				     "session: \"identity\" and \"session_id\" needed");
		}
	} else if (!strcmp(type, "session-start") || !strcmp(type, "session-data") ||
		   !strcmp(type, "session-end")) {
		r.type = ACCESS_MSG_SESSION_OTHER;
	} else {
		json_decref(root);
		return qfail(err, errlen, "unknown type");
	}
	*q = r;
	return 0;
}

void access_query_free(struct access_query *q)
{
	if (!q)
		return;
	json_decref(q->root);
	*q = (struct access_query){ 0 };
}

int access_connection_source(const char *connection, struct sockaddr_storage *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	size_t n = connection ? strcspn(connection, " ") : 0;
	if (n == 0 || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, connection, n);
	addr[n] = '\0';
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return -EINVAL;
	*out = ss;
	return 0;
}

/* ---- the decision ---- */

static void deny(struct access_outcome *o, const char *fmt, ...) _printf_(2, 3);
static void deny(struct access_outcome *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	o->allow = false;
}

#define MAX_GROUPS 64
#define MAX_ATTRS 64

/* The identity extension, decoded into borrowed pointers of root. */
struct identity {
	json_t *root;
	const char *name;
	const char *groups[MAX_GROUPS];
	size_t n_groups;
	struct access_attr attrs[MAX_ATTRS];
	size_t n_attrs;
};

static int identity_parse(const struct sshcert_extension *e, struct identity *id)
{
	if (!e || !e->data || e->len == 0 || e->len > 16384)
		return -EBADMSG;
	json_t *root = json_loadb((const char *)e->data, e->len, JSON_REJECT_DUPLICATES, NULL);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	id->root = root;
	id->name = str_field(root, "name");
	if (!id->name || !short_name_ok(id->name, ACCESS_NAME_MAX))
		return -EBADMSG;
	const json_t *g = json_object_get(root, "groups"), *v;
	size_t i;
	/* groups and attributes may be null (none); values that are not strings are left out,
	 * so conditions on them are unknown */
	if (g && !json_is_array(g) && !json_is_null(g))
		return -EBADMSG;
	json_array_foreach(g, i, v) {
		if (id->n_groups >= MAX_GROUPS)
			return -EBADMSG;
		if (json_is_string(v))
			id->groups[id->n_groups++] = json_string_value(v);
	}
	const json_t *a = json_object_get(root, "attributes");
	const char *k;
	if (a && !json_is_object(a) && !json_is_null(a))
		return -EBADMSG;
	json_object_foreach((json_t *)a, k, v) {
		if (id->n_attrs >= MAX_ATTRS)
			return -EBADMSG;
		if (json_is_string(v))
			id->attrs[id->n_attrs++] = (struct access_attr){ k, json_string_value(v) };
	}
	return 0;
}

static bool label_matches(const struct access_host *h, const char *label)
{
	const char *eq = strchr(label, '=');
	if (!eq)
		return false;
	size_t kl = (size_t)(eq - label);
	for (size_t i = 0; i < h->n_labels; i++)
		if (strlen(h->labels[i].key) == kl && !strncmp(h->labels[i].key, label, kl) &&
		    !strcmp(h->labels[i].value, eq + 1))
			return true;
	return false;
}

/* The grant named by the key id, checked for this identity, account, host and time. Returns
 * NULL (reason in o) when it does not cover the login. */
static const struct access_grant *grant_check(const struct access_env *env, const char *gid,
					      const char *identity, const char *account,
					      struct access_outcome *o)
{
	const struct access_grant *g = NULL;
	for (size_t i = 0; env->bundle && i < env->bundle->n_grants && !g; i++)
		if (!strcmp(env->bundle->grants[i].id, gid))
			g = &env->bundle->grants[i];
	if (!g) {
		deny(o, "grant %s is not known on this host (expired or revoked)", gid);
		return NULL;
	}
	if (strcmp(g->identity, identity) != 0) {
		deny(o, "grant %s belongs to another identity", gid);
		return NULL;
	}
	if (g->revoked) {
		deny(o, "grant %s is revoked", gid);
		return NULL;
	}
	if ((g->starts && env->now < g->starts) || (g->expires && env->now >= g->expires)) {
		deny(o, "grant %s is not active now", gid);
		return NULL;
	}
	if (strcmp(g->account, account) != 0) {
		deny(o, "grant %s is for account %s", gid, g->account);
		return NULL;
	}
	bool host_ok = !g->host && !g->label;
	if (g->host && ((env->host.id && !strcmp(g->host, env->host.id)) ||
			(env->host.name && !strcmp(g->host, env->host.name))))
		host_ok = true;
	if (g->label && label_matches(&env->host, g->label))
		host_ok = true;
	if (!host_ok) {
		deny(o, "grant %s is for another host", gid);
		return NULL;
	}
	return g;
}

/* Splits "IDENTITY/GRANT/SERIAL" into its parts (copied). Returns 0 or -EINVAL. */
static int key_id_split(const char *key_id, char *ident, char *grant, size_t size)
{
	const char *a = strchr(key_id, '/');
	const char *b = a ? strchr(a + 1, '/') : NULL;
	if (!a || !b || (size_t)(a - key_id) >= size || (size_t)(b - a - 1) >= size ||
	    a == key_id || b == a + 1)
		return -EINVAL;
	memcpy(ident, key_id, (size_t)(a - key_id));
	ident[a - key_id] = '\0';
	memcpy(grant, a + 1, (size_t)(b - a - 1));
	grant[b - a - 1] = '\0';
	return 0;
}

static bool cert_checks(const struct access_env *env, const struct sshcert *c, const char *account,
			struct access_outcome *o)
{
	if (c->type != 1) {
		deny(o, "not a user certificate");
		return false;
	}
	if (!env->bundle || !env->bundle->has_ca) {
		deny(o, "no access bundle with a CA on this host");
		return false;
	}
	if (!c->signature_valid ||
	    memcmp(c->signature_key.pub, env->bundle->ca.pub, sizeof(c->signature_key.pub)) != 0) {
		deny(o, "the certificate is not signed by the access CA");
		return false;
	}
	if ((uint64_t)env->now < c->valid_after || (uint64_t)env->now >= c->valid_before) {
		deny(o, "the certificate is not valid now");
		return false;
	}
	bool named = false;
	for (size_t i = 0; i < c->n_principals && !named; i++)
		named = !strcmp(c->principals[i], account);
	if (!named) {
		deny(o, "the certificate is not for account %s", account);
		return false;
	}
	if (access_bundle_serial_revoked(env->bundle, c->serial) ||
	    access_bundle_serial_revoked(env->local, c->serial)) {
		deny(o, "certificate serial %llu is revoked", (unsigned long long)c->serial);
		return false;
	}
	if (access_bundle_key_id_revoked(env->bundle, c->key_id)) {
		deny(o, "certificate key id %s is revoked", c->key_id);
		return false;
	}
	return true;
}

static void decide_cert(const struct access_env *env, const struct sshcert *c, const char *account,
			const char *connection, struct access_outcome *o)
{
	struct identity id = { 0 };
	char kid_ident[ACCESS_NAME_MAX + 1], kid_grant[ACCESS_NAME_MAX + 1];
	o->serial = c->serial;
	o->has_serial = true;
	if (!cert_checks(env, c, account, o))
		goto out;
	if (identity_parse(sshcert_extension(c, ACCESS_IDENTITY_EXT), &id) < 0) {
		deny(o, "the certificate carries no valid %s extension", ACCESS_IDENTITY_EXT);
		goto out;
	}
	snprintf(o->identity, sizeof(o->identity), "%s", id.name);
	if (!c->key_id || key_id_split(c->key_id, kid_ident, kid_grant, sizeof(kid_ident)) < 0 ||
	    strcmp(kid_ident, id.name) != 0) {
		deny(o, "the certificate's key id does not name identity %s", id.name);
		goto out;
	}
	if (access_bundle_disabled(env->bundle, id.name) ||
	    access_bundle_disabled(env->local, id.name)) {
		deny(o, "identity %s is disabled", id.name);
		goto out;
	}
	struct access_request req = {
		.principal = { .name = id.name,
			       .groups = id.groups,
			       .n_groups = id.n_groups,
			       .attrs = id.attrs,
			       .n_attrs = id.n_attrs },
		.action = ACCESS_LOGIN,
		.account = account,
		.host = env->host,
		.context = { .now = env->now, .posture = env->posture },
	};
	memcpy(req.context.open_alerts, env->open_alerts, sizeof(req.context.open_alerts));
	if (strcmp(kid_grant, "-") != 0) {
		const struct access_grant *g = grant_check(env, kid_grant, id.name, account, o);
		if (!g)
			goto out;
		snprintf(o->grant, sizeof(o->grant), "%s", g->id);
		req.context.grant = true;
		req.context.ticket = g->ticket;
	}
	if (connection)
		access_connection_source(connection, &req.context.source);
	if (!env->policies) {
		deny(o, "no access policies on this host");
		goto out;
	}
	struct access_decision d = { 0 };
	access_decide(env->policies, &req, &d);
	if (d.decided_by)
		snprintf(o->policy, sizeof(o->policy), "%s", d.decided_by->name);
	o->allow = d.allow;
	if (d.allow)
		snprintf(o->reason, sizeof(o->reason), "permitted by policy %s",
			 d.decided_by ? d.decided_by->name : "?");
	else if (d.decided_by)
		snprintf(o->reason, sizeof(o->reason), "forbidden by policy %s",
			 d.decided_by->name);
	else
		snprintf(o->reason, sizeof(o->reason), "no policy permits it");
out:
	json_decref(id.root);
}

void access_login_decide(const struct access_env *env, const char *account, const char *cert_b64,
			 const char *connection, struct access_outcome *out)
{
	*out = (struct access_outcome){ 0 };
	if (connection) {
		size_t n = strcspn(connection, " ");
		snprintf(out->source, sizeof(out->source), "%.*s", (int)(n < 63 ? n : 63),
			 connection);
	}
	if (!account || !account_ok(account)) {
		deny(out, "not an account name");
		return;
	}
	struct buf blob = { 0 };
	buf_init(&blob, ACCESS_MSG_MAX);
	struct sshcert c = { 0 };
	if (!cert_b64 || sshcert_blob_from_base64(cert_b64, &blob) < 0)
		deny(out, "not an SSH certificate");
	else if (sshcert_parse(buf_str(&blob), buf_len(&blob), &c) < 0)
		deny(out, "the certificate does not decode");
	else
		decide_cert(env, &c, account, connection, out);
	sshcert_free(&c);
	buf_free(&blob);
}

json_t *access_outcome_json(const struct access_outcome *o, const char *account, int64_t now)
{
	char when[32];
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", o->allow ? "login" : "denied",
			      "account", account ? account : "", "source", o->source, "reason",
			      o->reason, "time", when);
	json_object_set_new(j, "identity", o->identity[0] ? json_string(o->identity) : json_null());
	json_object_set_new(j, "grant", o->grant[0] ? json_string(o->grant) : json_null());
	json_object_set_new(j, "policy", o->policy[0] ? json_string(o->policy) : json_null());
	json_object_set_new(j, "time_ns", json_integer((json_int_t)now * 1000000000));
	if (o->has_serial) {
		char num[24];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)o->serial);
		json_object_set_new(j, "serial", json_string(num));
	} else {
		json_object_set_new(j, "serial", json_null());
	}
	return j;
}
