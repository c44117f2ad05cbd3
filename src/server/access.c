/* The server's access authority (docs/access.md): the compiled policy set, identities, the
 * access bundle pushed to agents and the access-revoke command of offboarding. */
#include "server/access.h"
#include "access/policy.h"
#include "access/sshcert.h"
#include "lib/log.h"
#include "server/access_grants.h"
#include "server/api_int.h"
#include "server/server_int.h"
#include "store/store.h"

#include <event2/event.h>
#include <stdlib.h>

#define SETTINGS_ID "access"

json_t *access_doc_load(struct server *s, const char *kind, const char *id)
{
	_cleanup_free_ char *text = NULL;
	if (store_access_doc_get(s->store, kind, id, &text) < 0 || !text)
		return NULL;
	json_t *doc = json_loads(text, 0, NULL);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int access_doc_save(struct server *s, const char *kind, const char *id, const json_t *doc)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	return store_access_doc_put(s->store, kind, id, text, server_now_ns());
}

json_t *access_identity_get(struct server *s, const char *name)
{
	return access_doc_load(s, ACCESS_DOC_USER, name);
}

int access_identity_first_admin(struct server *s)
{
	json_t *old = access_identity_get(s, "admin");
	if (old) {
		json_decref(old);
		return 0;
	}
	json_t *doc =
		json_pack("{s:s, s:s, s:[], s:{}, s:s, s:s, s:o, s:n, s:[]}", "name", "admin",
			  "kind", "person", "groups", "attributes", "status", "active", "role",
			  "admin", "created", api_time(server_now_s()), "disabled_at", "accounts");
	int r = doc ? access_doc_save(s, ACCESS_DOC_USER, "admin", doc) : -ENOMEM;
	json_decref(doc);
	return r;
}

int64_t access_json_time(const json_t *v)
{
	int64_t ns;
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v) && api_rfc3339_parse(json_string_value(v), &ns) == 0)
		return ns / 1000000000;
	return 0;
}

int access_json_serial(const json_t *v, uint64_t *out)
{
	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	const char *t = json_string_value(v);
	if (!t || !*t || strlen(t) > 20)
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(t, &end, 10);
	if (errno || *end || t[0] == '-')
		return -EINVAL;
	*out = n;
	return 0;
}

/* ---- policies ---- */

/* Compiles files (a JSON array of {name, content}) into *out. */
static int policies_compile(json_t *files, struct access_policy_set **out, char *err,
			    size_t err_len)
{
	struct access_policy_builder *b = access_policy_builder_new();
	size_t i;
	json_t *f;
	if (!b)
		return -ENOMEM;
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *content = json_string_value(json_object_get(f, "content"));
		if (!name || !content) {
			snprintf(err, err_len, "policy file %zu needs a name and a content", i + 1);
			access_policy_builder_free(b);
			return -EINVAL;
		}
		int r = access_policy_add(b, name, content,
					  json_string_length(json_object_get(f, "content")), err,
					  err_len);
		if (r < 0) {
			access_policy_builder_free(b);
			return r;
		}
	}
	return access_policy_build(b, out, err, err_len);
}

bool access_policy_file_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 8 || n > 64 || strcmp(name + n - 7, ".policy") != 0)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

int access_policies_replace(struct server *s, json_t *files, char *err, size_t err_len)
{
	struct access_policy_set *set = NULL;
	size_t i, j;
	json_t *f, *old = NULL;
	if (!json_is_array(files)) {
		snprintf(err, err_len, "files must be an array of {name, content}");
		return -EINVAL;
	}
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		if (!json_is_object(f) || !access_policy_file_name_ok(name)) {
			snprintf(err, err_len,
				 "file %zu: the name must be 1-57 of [a-z0-9._-] ending in .policy",
				 i + 1);
			return -EINVAL;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(name, json_string_value(json_object_get(
						  json_array_get(files, j), "name")))) {
				snprintf(err, err_len, "%s is given twice", name);
				return -EINVAL;
			}
	}
	size_t total = 0;
	json_array_foreach(files, i, f)
		total += json_string_length(json_object_get(f, "content"));
	if (total > ACCESS_POLICY_FILES_MAX || json_array_size(files) >= FILE_SET_FILES_MAX) {
		snprintf(
			err, err_len,
			"the policy files must stay within %u KiB and %u files in all (they travel "
			"to every agent in one frame)",
			ACCESS_POLICY_FILES_MAX / 1024, FILE_SET_FILES_MAX - 1);
		return -EFBIG;
	}
	int r = policies_compile(files, &set, err, err_len);
	if (r < 0)
		return r;
	/* store: the new files, then drop the ones no longer there */
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		json_t *doc = json_pack("{s:s, s:O}", "name", name, "content",
					json_object_get(f, "content"));
		r = doc ? access_doc_save(s, ACCESS_DOC_POLICY, name, doc) : -ENOMEM;
		json_decref(doc);
		if (r < 0)
			goto fail;
	}
	if ((r = store_access_doc_list(s->store, ACCESS_DOC_POLICY, &old)) < 0)
		goto fail;
	json_array_foreach(old, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		bool keep = false;
		json_t *g;
		json_array_foreach(files, j, g)
			keep = keep ||
			       (name &&
				!strcmp(name, json_string_value(json_object_get(g, "name"))));
		if (name && !keep)
			store_access_doc_delete(s->store, ACCESS_DOC_POLICY, name);
	}
	json_decref(old);
	access_policy_set_free(s->access.policies);
	s->access.policies = set;
	r = access_bundle_refresh(s);
	if (r < 0)
		log_errno(r, "refreshing the access bundle after new policies");
	return 0;
fail:
	snprintf(err, err_len, "cannot store the policy files");
	access_policy_set_free(set);
	return r;
}

/* ---- the bundle ---- */

static json_t *settings_load(struct server *s)
{
	json_t *doc = access_doc_load(s, ACCESS_DOC_SETTINGS, SETTINGS_ID);
	return doc ? doc : json_object();
}

static void add_file(struct file_set *fs, const char *name, const void *data, size_t len)
{
	struct file_set_entry *e = &fs->files[fs->n++];
	e->name = xstrdup(name);
	e->content = xcalloc(len ? len : 1, 1);
	memcpy(e->content, data, len);
	e->len = len;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct file_set_entry *)a)->name,
		      ((const struct file_set_entry *)b)->name);
}

static bool identity_in(json_t *names, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v)
		if (name && !strcmp(json_string_value(v), name))
			return true;
	return false;
}

/* A grant as agents read it: the fields of docs/access.md only (the server's documents
 * may carry more, such as the hostname for listings). */
static json_t *grant_for_agents(const json_t *g)
{
	static const char *const keys[] = { "id",	   "identity", "host",	    "label",
					    "account",	   "sudo",     "starts",    "expires",
					    "reason",	   "ticket",   "request",   "approved_by",
					    "break_glass", "revoked",  "last_used", "review" };
	json_t *out = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(g, keys[i]);
		if (v)
			json_object_set(out, keys[i], v);
	}
	return out;
}

/* 64-bit serials: JSON numbers up to 2^63 - 1, decimal strings past it. */
static json_t *serial_json(uint64_t serial)
{
	char text[24];
	if (serial <= INT64_MAX)
		return json_integer((json_int_t)serial);
	snprintf(text, sizeof(text), "%llu", (unsigned long long)serial);
	return json_string(text);
}

/* access.json without its version: what the grants, identities and certificates say now. */
static json_t *bundle_state(struct server *s, json_t *settings)
{
	int64_t now = server_now_s();
	json_t *users = NULL, *grants = NULL, *certs = NULL, *v;
	json_t *out_grants = json_array(), *disabled = json_array(), *serials = json_array();
	size_t i;
	if (store_access_doc_list(s->store, ACCESS_DOC_USER, &users) == 0)
		json_array_foreach(users, i, v)
			if (!strcmp(json_string_value(json_object_get(v, "status")) ?: "",
				    "disabled"))
				json_array_append(disabled, json_object_get(v, "name"));
	if (store_access_doc_list(s->store, ACCESS_DOC_GRANT, &grants) == 0)
		json_array_foreach(grants, i, v) {
			int64_t exp = access_json_time(json_object_get(v, "expires"));
			if (json_is_true(json_object_get(v, "revoked")) || (exp && exp <= now))
				continue;
			if (identity_in(disabled,
					json_string_value(json_object_get(v, "identity"))))
				continue;
			json_array_append_new(out_grants, grant_for_agents(v));
		}
	if (store_access_doc_list(s->store, ACCESS_DOC_CERT, &certs) == 0)
		json_array_foreach(certs, i, v) {
			uint64_t serial;
			int64_t before = access_json_time(json_object_get(v, "valid_before"));
			if (before && before <= now)
				continue;
			if (!json_is_true(json_object_get(v, "revoked")) &&
			    !identity_in(disabled,
					 json_string_value(json_object_get(v, "identity"))))
				continue;
			if (access_json_serial(json_object_get(v, "serial"), &serial) == 0)
				json_array_append_new(serials, serial_json(serial));
		}
	json_decref(users);
	json_decref(grants);
	json_decref(certs);
	bool record = !json_is_false(json_object_get(settings, "record_sessions"));
	const char *cmd = access_session_command(s, settings);
	json_t *state =
		json_pack("{s:o, s:o, s:o, s:[], s:b, s:s}", "grants", out_grants, "disabled",
			  disabled, "revoked_serials", serials, "revoked_key_ids",
			  "record_sessions", record, "session_command", cmd);
	if (state && s->access.ssh_ca) {
		struct ssh_ed25519_key pub;
		if (sshcert_ca_public(s->access.ssh_ca, &pub) == 0) {
			char *line = ssh_ed25519_key_line(&pub, "immune-ssh-ca");
			if (line)
				json_object_set_new(state, "ca", json_string(line));
			free(line);
		}
	}
	return state;
}

/* Builds the bundle files from the policy documents and access.json (state plus version). */
static int bundle_build(json_t *policies, json_t *state, int64_t version, struct file_set **out)
{
	size_t n = json_array_size(policies) + 1, i, total = 0;
	json_t *p;
	if (n > FILE_SET_FILES_MAX)
		return -EFBIG;
	struct file_set *fs = xcalloc(1, sizeof(*fs));
	fs->files = xcalloc(n, sizeof(*fs->files));
	json_array_foreach(policies, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *c = json_object_get(p, "content");
		if (!name || !json_is_string(c))
			continue;
		add_file(fs, name, json_string_value(c), json_string_length(c));
		total += json_string_length(c);
	}
	json_t *doc = json_deep_copy(state);
	json_object_set_new(doc, "version", json_integer(version));
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text) {
		file_set_free(fs);
		return -ENOMEM;
	}
	add_file(fs, "access.json", text, strlen(text));
	total += strlen(text);
	free(text);
	if (total > FILE_SET_TOTAL_MAX) {
		file_set_free(fs);
		return -EFBIG;
	}
	qsort(fs->files, fs->n, sizeof(*fs->files), cmp_entry);
	file_set_digest(fs->files, fs->n, fs->digest);
	*out = fs;
	return 0;
}

/* Sends the bundle to every connected agent; returns how many. */
static size_t bundle_push(struct server *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->hosts.cap; i++) {
		struct conn *c = s->hosts.slots[i];
		if (!c || c->state != CONN_ESTABLISHED)
			continue;
		hello_send_access(c, NULL, 0);
		n++;
	}
	return n;
}

int access_bundle_refresh(struct server *s)
{
	json_t *settings = settings_load(s), *policies = NULL;
	json_t *state = NULL;
	struct file_set *probe = NULL, *fs = NULL;
	int r = store_access_doc_list(s->store, ACCESS_DOC_POLICY, &policies);
	if (r < 0)
		goto out;
	state = bundle_state(s, settings);
	if (!state) {
		r = -ENOMEM;
		goto out;
	}
	/* the version moves only when what the bundle says changes */
	if ((r = bundle_build(policies, state, 0, &probe)) < 0)
		goto out;
	int64_t version = json_integer_value(json_object_get(settings, "bundle_version"));
	const char *seen = json_string_value(json_object_get(settings, "bundle_content"));
	if (!seen || strcmp(seen, probe->digest) != 0 || version == 0) {
		version++;
		json_object_set_new(settings, "bundle_version", json_integer(version));
		json_object_set_new(settings, "bundle_content", json_string(probe->digest));
		if ((r = access_doc_save(s, ACCESS_DOC_SETTINGS, SETTINGS_ID, settings)) < 0)
			goto out;
	}
	if ((r = bundle_build(policies, state, version, &fs)) < 0)
		goto out;
	if (s->access.bundle && !strcmp(s->access.bundle->digest, fs->digest))
		goto out; /* unchanged: fs freed below */
	file_set_free(s->access.bundle);
	s->access.bundle = fs;
	fs = NULL;
	size_t n = bundle_push(s);
	log_info("access bundle version %lld (%zu files) sent to %zu connected agents",
		 (long long)version, s->access.bundle->n, n);
out:
	file_set_free(probe);
	file_set_free(fs);
	json_decref(state);
	json_decref(policies);
	json_decref(settings);
	return r;
}

static void refresh_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	if (!s->store)
		return; /* stopping */
	int r = access_bundle_refresh(s);
	if (r < 0)
		log_errno(r, "refreshing the access bundle");
}

int access_bundle_refresh_later(struct server *s)
{
	struct timeval now = { 0, 0 };
	return event_base_once(s->base, -1, EV_TIMEOUT, refresh_later_cb, s, &now) < 0 ? -ENOMEM
										       : 0;
}

/* ---- offboarding ---- */

size_t access_revoke_send(struct server *s, const char *identity, const uint64_t *serials,
			  size_t n_serials, char **accounts, size_t n_accounts)
{
	Immune__V1__AccessRevoke rv = IMMUNE__V1__ACCESS_REVOKE__INIT;
	rv.identity = (char *)identity;
	rv.serials = (uint64_t *)serials;
	rv.n_serials = n_serials;
	rv.accounts = accounts;
	rv.n_accounts = n_accounts;
	size_t sent = 0;
	for (size_t i = 0; i < s->hosts.cap; i++) {
		struct conn *c = s->hosts.slots[i];
		if (!c || c->state != CONN_ESTABLISHED)
			continue;
		Immune__V1__Command cmd = IMMUNE__V1__COMMAND__INIT;
		cmd.name = (char *)"access-revoke";
		cmd.access_revoke = &rv;
		if (command_send(s, c->host_id, &cmd) == 0)
			sent++;
	}
	return sent;
}

/* ---- start and stop ---- */

int access_init(struct server *s)
{
	json_t *files = NULL;
	char err[512] = "";
	int r = access_ssh_init(s);
	if (r < 0)
		return log_errno(r, "loading the SSH certificate authority");
	/* a data directory from before identities: its operator "admin" becomes one */
	if ((r = access_identity_first_admin(s)) < 0)
		return log_errno(r, "storing the identity of the operator admin");
	r = store_access_doc_list(s->store, ACCESS_DOC_POLICY, &files);
	if (r < 0)
		return log_errno(r, "reading the access policy files");
	r = policies_compile(files, &s->access.policies, err, sizeof(err));
	json_decref(files);
	if (r < 0) {
		/* stored files were valid when pushed: deny everything until they are fixed */
		log_error("the stored access policies do not compile (%s): every access is denied "
			  "until 'immune policy push' replaces them",
			  err);
		struct access_policy_builder *b = access_policy_builder_new();
		if (!b || access_policy_build(b, &s->access.policies, err, sizeof(err)) < 0)
			return log_errno(-ENOMEM, "building an empty policy set");
	}
	r = access_bundle_refresh(s);
	if (r < 0)
		return log_errno(r, "building the access bundle");
	return 0;
}

void access_fini(struct server *s)
{
	access_policy_set_free(s->access.policies);
	s->access.policies = NULL;
	file_set_free(s->access.bundle);
	s->access.bundle = NULL;
	/* the SSH CA and the grant tick belong to the grants (access_ssh_fini) */
}
