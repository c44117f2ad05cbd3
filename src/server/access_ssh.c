/* The SSH certificate authority at the server (docs/access.md "Certificates"): the CA key in
 * DATA/ssh-ca.pem, GET /v1/ssh/ca and POST /v1/ssh/certificates, which decides with the
 * access policies (and the caller's grant, when one covers the login) and signs a
 * short-lived Ed25519 user certificate for the one account asked for. */
#include "server/access_grants.h"

#include "access/sshcert.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "respond/action.h"
#include "server/access.h"
#include "server/api_int.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <openssl/rand.h>

int access_ssh_init(struct server *s)
{
	_cleanup_free_ char *path = xasprintf("%s/ssh-ca.pem", s->data_dir);

	if (s->access.ssh_ca)
		return 0;
	s->access.ssh_ca = sshcert_ca_load_or_create(path);
	if (!s->access.ssh_ca)
		return log_errno(errno ? -errno : -EIO, "loading the SSH CA key %s", path);
	return 0;
}

void access_ssh_fini(struct server *s)
{
	sshcert_ca_free(s->access.ssh_ca);
	s->access.ssh_ca = NULL;
}

void access_api_ssh_ca(struct server *s, struct evhttp_request *req)
{
	struct ssh_ed25519_key k;
	char *line;

	if (!s->access.ssh_ca || sshcert_ca_public(s->access.ssh_ca, &k) < 0) {
		api_error(req, 500, "the SSH CA key is not available");
		return;
	}
	line = ssh_ed25519_key_line(&k, "immune-ssh-ca");
	if (!line) {
		api_error(req, 500, "cannot encode the SSH CA key");
		return;
	}
	api_reply(req, 200, json_pack("{s:s}", "public_key", line));
	free(line);
}

int access_peer_address(struct evhttp_request *req, struct sockaddr_storage *out, char *cidr,
			size_t cidr_len)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const char *addr = NULL;
	ev_uint16_t port = 0;

	memset(out, 0, sizeof(*out));
	if (!conn)
		return -ENOTCONN;
	evhttp_connection_get_peer(conn, (char **)&addr, &port);
	if (!addr)
		return -ENOTCONN;
	return access_address_parse(addr, out, cidr, cidr_len);
}

int access_address_parse(const char *addr, struct sockaddr_storage *out, char *cidr,
			 size_t cidr_len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	char text[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (str_has_prefix(addr, "::ffff:") && inet_pton(AF_INET, addr + 7, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET; /* an IPv4 client on a dual-stack socket */
	} else if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
	} else {
		return -EINVAL;
	}
	if (out->ss_family == AF_INET)
		inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
	else
		inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
	if ((size_t)snprintf(cidr, cidr_len, "%s/%d", text, out->ss_family == AF_INET ? 32 : 128) >=
	    cidr_len)
		return -ENAMETOOLONG;
	return 0;
}

/* The settings document "access" (new reference; {} when none). */
static json_t *settings(struct server *s)
{
	_cleanup_free_ char *text = NULL;
	json_t *o = NULL;

	if (store_access_doc_get(s->store, ACCESS_DOC_SETTINGS, "access", &text) == 0)
		o = json_loads(text, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	return o;
}

const char *access_session_command(struct server *s, json_t *settings_doc)
{
	const char *c = json_string_value(json_object_get(settings_doc, "session_command"));

	if (c && *c == '/')
		return c;
	return s->opt.session_command ? s->opt.session_command : ACCESS_SESSION_COMMAND_DEFAULT;
}

/* ---- POST /v1/ssh/certificates ---- */

const char *access_sign_args_parse(json_t *body, const char *identity, struct sign_args_pub *a)
{
	static const char *const keys[] = { "host", "account", "public_key", "lifetime",
					    "port_forward" };
	json_t *v;

	memset(a, 0, sizeof(*a));
	if (api_unknown_key(body, keys, ARRAY_SIZE(keys)))
		return "unknown field (valid: host, account, public_key, lifetime, "
		       "port_forward)";
	a->host = json_string_value(json_object_get(body, "host"));
	if (!a->host || !*a->host || strlen(a->host) > 255)
		return "host (a host id or hostname) is required";
	v = json_object_get(body, "account");
	if (v && !json_is_null(v)) {
		a->account = json_string_value(v);
		if (!a->account)
			return "account must be a string";
	} else {
		a->account = identity;
	}
	if (!a->account || !*a->account || strlen(a->account) > 32 || a->account[0] == '-' ||
	    strspn(a->account, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen(a->account))
		return "account must be a local account name (lowercase letters, digits, _ - .)";
	a->public_key = json_string_value(json_object_get(body, "public_key"));
	if (!a->public_key)
		return "public_key (an \"ssh-ed25519 ...\" line) is required";
	v = json_object_get(body, "lifetime");
	a->lifetime = ACCESS_CERT_DEFAULT_S;
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > ACCESS_CERT_MAX_S)
			return "lifetime must be a whole number of seconds from 1 to 3600";
		a->lifetime = json_integer_value(v);
	}
	v = json_object_get(body, "port_forward");
	if (v && !json_is_boolean(v))
		return "port_forward must be true or false";
	a->port_forward = json_is_true(v);
	return NULL;
}

/* The decision for sub: without a grant first, then with the caller's grant when one covers
 * the login. *grant (new reference) is the grant used, or NULL. */
static void decide_login(struct server *s, struct access_subject *sub, const struct store_host *h,
			 struct access_decision *d, json_t **grant)
{
	*grant = NULL;
	memset(d, 0, sizeof(*d));
	if (!s->access.policies)
		return; /* no policies loaded: nothing permits */
	sub->req.context.grant = false;
	access_decide(s->access.policies, &sub->req, d);
	if (d->allow)
		return;
	if (d->decided_by && d->decided_by->forbid)
		return; /* a forbid holds whatever the grant */
	*grant = access_grant_find(s, sub->req.principal.name, h, sub->req.account,
				   sub->req.context.now);
	if (!*grant)
		return;
	sub->req.context.grant = true;
	sub->req.context.ticket = json_string_value(json_object_get(*grant, "ticket"));
	access_decide(s->access.policies, &sub->req, d);
	if (!d->allow) {
		json_decref(*grant);
		*grant = NULL;
	}
}

static void reply_denied(struct server *s, struct evhttp_request *req, struct access_subject *sub,
			 const struct access_decision *d)
{
	json_t *ans = json_object();
	char *why = NULL;

	if (d->decided_by)
		why = xasprintf("denied by policy %s (%s:%u)", d->decided_by->name,
				d->decided_by->file ? d->decided_by->file : "?",
				d->decided_by->line);
	else
		why = xasprintf("no policy permits %s to log in as %s on %s",
				sub->req.principal.name, sub->req.account, sub->hostname);
	json_object_set_new(ans, "error", json_string(why));
	json_object_set_new(ans, "policy",
			    d->decided_by ? json_string(d->decided_by->name) : json_null());
	if (s->access.policies) {
		struct access_decision d2;
		char *ex = access_explain(s->access.policies, &sub->req, &d2);
		json_t *exj = ex ? json_loads(ex, 0, NULL) : NULL;
		json_object_set_new(ans, "explanation", exj ? exj : json_array());
		free(ex);
	}
	free(why);
	api_reply(req, 403, ans);
}

static uint64_t random_serial(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			abort(); /* no randomness: nothing can be signed safely */
	return v;
}

/* Signs, stores the cert document, and builds the 201 answer (NULL on failure). */
static json_t *issue(struct server *s, struct access_subject *sub, const struct sign_args_pub *a,
		     const struct ssh_ed25519_key *key, const json_t *grant, bool port_forward,
		     const char *cidr)
{
	const char *grant_id = grant ? json_string_value(json_object_get(grant, "id")) : NULL;
	int64_t now = sub->req.context.now;
	int64_t before = now + a->lifetime;
	int64_t gexp = grant ? access_doc_time(grant, "expires") : 0;
	uint64_t serial = random_serial();
	json_t *sett = settings(s);
	bool record = !json_is_false(json_object_get(sett, "record_sessions"));
	const char *principals[] = { sub->req.account };
	json_t *ident =
		json_pack("{s:s,s:O,s:O}", "name", sub->req.principal.name, "groups",
			  json_object_get(sub->identity, "groups") ?: json_null(), "attributes",
			  json_object_get(sub->identity, "attributes") ?: json_null());
	_cleanup_free_ char *ident_text = json_dumps(ident, JSON_COMPACT | JSON_SORT_KEYS);
	_cleanup_free_ char *key_id =
		xasprintf("%s/%s/%llu", sub->req.principal.name, grant_id ? grant_id : "-",
			  (unsigned long long)serial);
	struct sshcert_extension ext = { .name = "immune-identity@immune",
					 .data = (const unsigned char *)ident_text,
					 .len = ident_text ? strlen(ident_text) : 0 };
	struct sshcert_request r = {
		.key = *key,
		.serial = serial,
		.key_id = key_id,
		.principals = principals,
		.n_principals = 1,
		.valid_after = (uint64_t)(now - 60),
		.force_command = record ? access_session_command(s, sett) : NULL,
		.source_address = cidr,
		.permit_pty = true,
		.permit_port_forwarding = port_forward,
		.extra = &ext,
		.n_extra = 1,
	};
	struct buf blob;
	json_t *doc = NULL, *ans = NULL;
	char *line = NULL, serial_text[24];

	json_decref(ident);
	if (gexp && gexp < before)
		before = gexp;
	r.valid_before = (uint64_t)before;
	buf_init(&blob, 64 * 1024);
	if (!ident_text || sshcert_sign(&r, s->access.ssh_ca, &blob) < 0)
		goto out;
	line = sshcert_line(buf_str(&blob), buf_len(&blob), key_id);
	if (!line)
		goto out;
	snprintf(serial_text, sizeof(serial_text), "%llu", (unsigned long long)serial);
	doc = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s,s:o,s:o,s:s}", "serial", serial_text, "identity",
			sub->req.principal.name, "grant", grant_id, "host", sub->host_id,
			"hostname", sub->hostname, "account", sub->req.account, "issued",
			api_time(now), "valid_before", api_time(before), "key_id", key_id);
	{
		_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text || store_access_doc_put(s->store, ACCESS_DOC_CERT, serial_text, text,
						  server_now_ns()) < 0)
			goto out;
	}
	ans = json_pack("{s:s,s:s,s:s,s:o,s:[s],s:{s:s,s:s},s:s,s:b,s:b,s:s?}", "certificate", line,
			"serial", serial_text, "key_id", key_id, "valid_before", api_time(before),
			"principals", sub->req.account, "host", "id", sub->host_id, "hostname",
			sub->hostname, "address", sub->hostname, "port_forward", port_forward,
			"recorded", record, "grant", grant_id);
	log_info("SSH certificate %s issued to %s for %s@%s until %lld (grant %s)", serial_text,
		 sub->req.principal.name, sub->req.account, sub->hostname, (long long)before,
		 grant_id ? grant_id : "none");
out:
	json_decref(doc);
	json_decref(sett);
	free(line);
	buf_free(&blob);
	return ans;
}

/* Whether the host's latest inventory lists account in its users table. */
static bool host_has_account(struct server *s, const char *host_id, const char *account)
{
	json_t *inv = NULL, *row;
	bool found = false;
	size_t i;

	if (store_host_inventory(s->store, host_id, &inv) < 0)
		return false;
	json_array_foreach(json_object_get(inv, "users"), i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		if (name && !strcmp(name, account)) {
			found = true;
			break;
		}
	}
	json_decref(inv);
	return found;
}

/* When the deciding policy says create and the host's inventory does not list the account,
 * sends the executor action create-account (groups and sudo from the policy) to the
 * connected host. Logs; the signature goes on either way (the login fails until the account
 * exists). */
static void provision(struct server *s, const struct access_policy_info *p, const char *host_id,
		      const char *account, const char *by)
{
	Immune__V1__Action a = IMMUNE__V1__ACTION__INIT;
	char *all[] = { "ALL" };
	char uid[ACTION_UID_LEN + 1];
	json_t *pj;
	char *params;
	int r;

	if (!p || !p->create || host_has_account(s, host_id, account))
		return;
	if (!hostmap_get(&s->hosts, host_id)) {
		log_warn("account %s is not provisioned on host %s: the host is not connected",
			 account, host_id);
		return;
	}
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_CREATE_ACCOUNT;
	a.user = (char *)account;
	a.groups = (char **)p->create_groups;
	a.n_groups = p->n_create_groups;
	if (p->create_sudo) {
		a.sudo_commands = all;
		a.n_sudo_commands = 1;
	}
	pj = json_pack("{s:s,s:[],s:[]}", "user", account, "groups", "sudo_commands");
	for (size_t i = 0; i < p->n_create_groups; i++)
		json_array_append_new(json_object_get(pj, "groups"),
				      json_string(p->create_groups[i]));
	if (p->create_sudo)
		json_array_append_new(json_object_get(pj, "sudo_commands"), json_string("ALL"));
	params = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(pj);
	action_new_uid(uid);
	struct store_action_new n = {
		.uid = uid,
		.host_id = host_id,
		.kind = "create-account",
		.op = "apply",
		.params_json = params,
		.mode = "auto",
		.state = "sent",
		.origin = "server",
		.requested_by = by,
		.message = "provisioning for an SSH certificate (policy create)",
		.created_ns = server_now_ns(),
	};
	r = params ? store_action_add(s->store, &n) : -ENOMEM;
	free(params);
	if (r < 0) {
		log_errno(r, "storing the create-account action for %s on %s", account, host_id);
		return;
	}
	r = respond_send(s, host_id, uid, &a, IMMUNE__V1__ACTION_OP__OP_APPLY, false);
	if (r < 0) {
		static const char *const sent[] = { "sent", NULL };
		store_action_update(s->store, uid, sent, "failed", NULL,
				    "the connection to the host failed while sending",
				    server_now_ns());
		log_errno(r, "sending create-account for %s to host %s", account, host_id);
	}
}

void access_api_ssh_sign(struct server *s, struct evhttp_request *req, const struct api_caller *c)
{
	json_t *body = api_body_object(req), *identity = NULL, *grant = NULL, *ans;
	struct sign_args_pub a;
	struct access_subject sub = { 0 };
	struct access_decision d;
	struct store_host h = { 0 };
	struct ssh_ed25519_key key;
	struct sockaddr_storage peer;
	char cidr[INET6_ADDRSTRLEN + 8];
	bool pf = false, have_sub = false;
	const char *err;
	int r;

	if (!body)
		return;
	err = access_sign_args_parse(body, c->name, &a);
	if (err) {
		api_error(req, 400, "%s", err);
		goto out;
	}
	if (ssh_ed25519_key_parse_line(a.public_key, &key) < 0) {
		api_error(req, 400, "public_key is not an ssh-ed25519 public key line");
		goto out;
	}
	identity = access_active_identity(s, c->name);
	if (!identity) {
		api_error(req, 403, "identity %s is not active", c->name);
		goto out;
	}
	r = access_host_lookup(s, a.host, &h);
	if (r == -EEXIST) {
		api_error(req, 400, "two hosts are named %s: give the host id", a.host);
		goto out;
	} else if (r < 0) {
		api_error(req, 404, "no such host: %s", a.host);
		goto out;
	}
	if (h.revoked) {
		api_error(req, 403, "host %s is revoked", a.host);
		goto out;
	}
	if (access_peer_address(req, &peer, cidr, sizeof(cidr)) < 0) {
		api_error(req, 400, "the client's address is unknown");
		goto out;
	}
	if (!s->access.ssh_ca) {
		api_error(req, 500, "the SSH CA key is not available");
		goto out;
	}
	access_subject_init(s, &sub, identity, &h, ACCESS_LOGIN, a.account, &peer, server_now_s());
	have_sub = true;
	decide_login(s, &sub, &h, &d, &grant);
	if (!d.allow) {
		reply_denied(s, req, &sub, &d);
		goto out;
	}
	if (a.port_forward) {
		struct access_decision pd;

		sub.req.action = ACCESS_PORT_FORWARD;
		access_decide(s->access.policies, &sub.req, &pd);
		pf = pd.allow;
		sub.req.action = ACCESS_LOGIN;
	}
	provision(s, d.decided_by, h.id, a.account, c->name);
	ans = issue(s, &sub, &a, &key, grant, pf, cidr);
	if (!ans)
		api_error(req, 500, "cannot sign the certificate");
	else
		api_reply(req, 201, ans);
out:
	if (have_sub)
		access_subject_fini(&sub);
	store_host_free(&h);
	json_decref(grant);
	json_decref(identity);
	json_decref(body);
}
