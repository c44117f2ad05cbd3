/* Just-in-time grants at the server (docs/access.md "Just-in-time access", "Least
 * privilege"): building decision requests from the stored identity and host, finding the
 * grant that covers a login, server alerts for break-glass and unused grants, and the tick
 * that expires requests and grants and revokes grants left unused. */
#include "server/access_grants.h"

#include "detect/alert.h"
#include "lib/log.h"
#include "lib/str.h"
#include "server/access.h"
#include "server/api_int.h"
#include "server/duration.h"
#include "store/store.h"

#include <event2/event.h>
#include <math.h>

/* ---- decision requests ---- */

static char *xstrdup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

int access_subject_init(struct server *s, struct access_subject *sub, json_t *identity,
			const struct store_host *h, enum access_action action, const char *account,
			const struct sockaddr_storage *source, int64_t now)
{
	const json_t *groups = json_object_get(identity, "groups");
	const json_t *attrs = json_object_get(identity, "attributes");
	struct store_alert_filter f = { 0 };
	json_t *alerts = NULL;
	size_t i, n = 0;
	const char *key;
	json_t *v;

	memset(sub, 0, sizeof(*sub));
	sub->identity = json_incref(identity);
	sub->host_id = xstrdup_or_empty(h->id);
	sub->hostname = xstrdup_or_empty(h->hostname);

	sub->groups = xcalloc(json_array_size(groups) + 1, sizeof(*sub->groups));
	json_array_foreach(groups, i, v) {
		if (json_is_string(v))
			sub->groups[n++] = json_string_value(v);
	}
	sub->req.principal.groups = sub->groups;
	sub->req.principal.n_groups = n;

	n = 0;
	sub->attrs = xcalloc(json_object_size(attrs) + 1, sizeof(*sub->attrs));
	json_object_foreach((json_t *)attrs, key, v) {
		if (!json_is_string(v))
			continue;
		sub->attrs[n].key = key;
		sub->attrs[n++].value = json_string_value(v);
	}
	sub->req.principal.attrs = sub->attrs;
	sub->req.principal.n_attrs = n;
	sub->req.principal.name = json_string_value(json_object_get(identity, "name"));

	sub->labels = xcalloc(h->n_labels + 1, sizeof(*sub->labels));
	sub->label_store = xcalloc(2 * h->n_labels + 1, sizeof(*sub->label_store));
	for (i = 0; i < h->n_labels; i++) {
		sub->label_store[2 * i] = xstrdup(h->labels[i].key);
		sub->label_store[2 * i + 1] = xstrdup(h->labels[i].value);
		sub->labels[i].key = sub->label_store[2 * i];
		sub->labels[i].value = sub->label_store[2 * i + 1];
	}
	sub->n_label_store = 2 * h->n_labels;
	sub->req.host.id = sub->host_id;
	sub->req.host.name = sub->hostname;
	sub->req.host.labels = sub->labels;
	sub->req.host.n_labels = h->n_labels;

	sub->req.action = action;
	sub->req.account = account;
	sub->req.context.now = now;
	if (source)
		sub->req.context.source = *source;
	sub->req.context.posture = isnan(h->score) ? -1 : (int)(h->score + 0.5);
	sub->req.context.attestation = ACCESS_ATTEST_UNKNOWN;

	/* open alerts: those raised on the host in the last 24 hours, by severity */
	f.host = h->id;
	f.since_ns = (now - 24 * 3600) * 1000000000LL;
	f.limit = 1;
	if (s && store_alerts_list(s->store, &f, &alerts) == 0) {
		const json_t *by = json_object_get(alerts, "by_severity");
		static const struct {
			const char *name;
			enum access_severity sev;
		} map[] = { { "informational", ACCESS_SEV_LOW },
			    { "low", ACCESS_SEV_LOW },
			    { "medium", ACCESS_SEV_MEDIUM },
			    { "high", ACCESS_SEV_HIGH },
			    { "critical", ACCESS_SEV_CRITICAL } };

		for (i = 0; i < ARRAY_SIZE(map); i++) {
			json_int_t c = json_integer_value(json_object_get(by, map[i].name));
			if (c > 0)
				sub->req.context.open_alerts[map[i].sev] +=
					c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
		}
	}
	json_decref(alerts);
	return 0;
}

void access_subject_fini(struct access_subject *sub)
{
	if (!sub)
		return;
	json_decref(sub->identity);
	free(sub->host_id);
	free(sub->hostname);
	free(sub->groups);
	free(sub->attrs);
	free(sub->labels);
	for (size_t i = 0; i < sub->n_label_store; i++)
		free(sub->label_store[i]);
	free(sub->label_store);
	memset(sub, 0, sizeof(*sub));
}

/* ---- documents ---- */

int64_t access_doc_time(const json_t *doc, const char *key)
{
	const char *t = json_string_value(json_object_get(doc, key));
	int64_t ns;

	if (!t || api_rfc3339_parse(t, &ns) < 0)
		return 0;
	return ns / 1000000000;
}

int access_for_parse(const json_t *v, int64_t *out)
{
	int64_t n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n < 1 || n > ACCESS_GRANT_MAX_S)
			return -ERANGE;
		*out = n;
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	int r = duration_parse(json_string_value(v), ACCESS_GRANT_MAX_S, &n);
	if (r < 0)
		return r;
	if (n < 1)
		return -ERANGE;
	*out = n;
	return 0;
}

static bool label_matches(const char *sel, const struct access_attr *labels, size_t n)
{
	const char *eq = strchr(sel, '=');

	if (!eq)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strlen(labels[i].key) == (size_t)(eq - sel) &&
		    !strncmp(labels[i].key, sel, (size_t)(eq - sel)) &&
		    !strcmp(labels[i].value, eq + 1))
			return true;
	}
	return false;
}

bool access_grant_covers(const json_t *grant, const char *identity, const char *host_id,
			 const struct access_attr *labels, size_t n_labels, const char *account,
			 int64_t now)
{
	const char *gi = json_string_value(json_object_get(grant, "identity"));
	const char *ga = json_string_value(json_object_get(grant, "account"));
	const char *gh = json_string_value(json_object_get(grant, "host"));
	const char *gl = json_string_value(json_object_get(grant, "label"));
	int64_t starts = access_doc_time(grant, "starts");
	int64_t expires = access_doc_time(grant, "expires");

	if (!gi || !ga || !identity || !account || strcmp(gi, identity) || strcmp(ga, account))
		return false;
	if (json_is_true(json_object_get(grant, "revoked")))
		return false;
	if (!expires || now < starts || now >= expires)
		return false;
	if (gh)
		return host_id && !strcmp(gh, host_id);
	if (gl)
		return label_matches(gl, labels, n_labels);
	return false;
}

json_t *access_grant_find(struct server *s, const char *identity, const struct store_host *h,
			  const char *account, int64_t now)
{
	_cleanup_free_ struct access_attr *labels = xcalloc(h->n_labels + 1, sizeof(*labels));
	json_t *all = NULL, *g, *found = NULL;
	size_t i;

	for (i = 0; i < h->n_labels; i++) {
		labels[i].key = h->labels[i].key;
		labels[i].value = h->labels[i].value;
	}
	if (store_access_doc_list(s->store, ACCESS_DOC_GRANT, &all) < 0)
		return NULL;
	json_array_foreach(all, i, g) {
		if (access_grant_covers(g, identity, h->id, labels, h->n_labels, account, now)) {
			found = json_incref(g);
			break;
		}
	}
	json_decref(all);
	return found;
}

json_t *access_active_identity(struct server *s, const char *name)
{
	_cleanup_free_ char *text = NULL;
	json_t *doc;

	if (!name || store_access_doc_get(s->store, ACCESS_DOC_USER, name, &text) < 0)
		return NULL;
	doc = json_loads(text, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	const char *st = json_string_value(json_object_get(doc, "status"));
	if (st && strcmp(st, "active") != 0) {
		json_decref(doc);
		return NULL;
	}
	if (!json_object_get(doc, "name"))
		json_object_set_new(doc, "name", json_string(name));
	return doc;
}

int access_host_lookup(struct server *s, const char *name, struct store_host *out)
{
	struct store_host *all = NULL;
	size_t n = 0, found = SIZE_MAX;
	int r;

	if (!name || !*name)
		return -ENOENT;
	if (strlen(name) == 32 && store_host_get(s->store, name, out) == 0)
		return 0;
	r = store_hosts_list(s->store, &all, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (all[i].revoked || !all[i].hostname || strcmp(all[i].hostname, name))
			continue;
		if (found != SIZE_MAX) {
			store_hosts_free(all, n);
			return -EEXIST;
		}
		found = i;
	}
	if (found == SIZE_MAX) {
		store_hosts_free(all, n);
		return -ENOENT;
	}
	r = store_host_get(s->store, all[found].id, out);
	store_hosts_free(all, n);
	return r;
}

bool access_is_approver(const json_t *approvers, const char *caller, const json_t *caller_doc)
{
	const json_t *groups = json_object_get(caller_doc, "groups");
	size_t i, j;
	json_t *a, *g;

	json_array_foreach(approvers, i, a) {
		const char *s = json_string_value(a);

		if (!s)
			continue;
		if (str_has_prefix(s, "user:") && !strcmp(s + 5, caller))
			return true;
		if (!str_has_prefix(s, "group:"))
			continue;
		json_array_foreach(groups, j, g) {
			if (json_is_string(g) && !strcmp(json_string_value(g), s + 6))
				return true;
		}
	}
	return false;
}

/* ---- alerts ---- */

int access_alert_raise(struct server *s, const char *host_id, const char *rule_id,
		       const char *title, int level, const char *explanation)
{
	struct alert a = { 0 };
	struct store_host h = { 0 };
	json_t *o;
	char *text;
	int r;

	alert_new_uid(&a);
	a.source = ALERT_RULE;
	a.rule_id = (char *)rule_id;
	a.title = (char *)title;
	a.level = (enum sigma_level)level;
	a.explanation = (char *)explanation;
	a.group_key = a.uid; /* each one stands alone */
	a.time_ns = server_now_ns();
	if (host_id && store_host_get(s->store, host_id, &h) == 0)
		a.hostname = h.hostname;
	o = alert_to_json(&a);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	store_host_free(&h);
	if (!text)
		return -ENOMEM;
	r = store_alert_put(s->store, host_id, text, strlen(text));
	free(text);
	return r;
}

/* ---- the tick ---- */

static int put_doc(struct server *s, const char *kind, const char *id, json_t *doc)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	if (!text)
		return -ENOMEM;
	return store_access_doc_put(s->store, kind, id, text, server_now_ns());
}

static int expire_requests(struct server *s, int64_t now)
{
	json_t *all = NULL, *q;
	size_t i;
	int changed = 0;

	if (store_access_doc_list(s->store, ACCESS_DOC_REQUEST, &all) < 0)
		return 0;
	json_array_foreach(all, i, q) {
		const char *st = json_string_value(json_object_get(q, "state"));
		const char *id = json_string_value(json_object_get(q, "id"));

		if (!id || !st || strcmp(st, "pending") ||
		    access_doc_time(q, "created") + ACCESS_REQUEST_TTL_S > now)
			continue;
		json_object_set_new(q, "state", json_string("expired"));
		json_object_set_new(q, "decided", api_time(now));
		if (put_doc(s, ACCESS_DOC_REQUEST, id, q) == 0) {
			log_info("access request %s expired after 24 h without a decision", id);
			changed++;
		}
	}
	json_decref(all);
	return changed;
}

/* The last use of grant g (Unix seconds), or 0: its last_used, or the access events. */
static int64_t grant_last_use(struct server *s, const json_t *g)
{
	int64_t t = access_doc_time(g, "last_used");
	int64_t ev = 0;
	const char *id = json_string_value(json_object_get(g, "id"));

	if (id && store_access_last_use_grant(s->store, id, &ev) == 0 && ev / 1000000000 > t)
		t = ev / 1000000000;
	return t;
}

static int expire_grants(struct server *s, int64_t now)
{
	int64_t unused =
		s->opt.access_unused_s > 0 ? s->opt.access_unused_s : ACCESS_UNUSED_DEFAULT_S;
	json_t *all = NULL, *g;
	size_t i;
	int changed = 0;

	if (store_access_doc_list(s->store, ACCESS_DOC_GRANT, &all) < 0)
		return 0;
	json_array_foreach(all, i, g) {
		const char *id = json_string_value(json_object_get(g, "id"));
		int64_t expires = access_doc_time(g, "expires");
		int64_t starts = access_doc_time(g, "starts");

		if (!id || json_is_true(json_object_get(g, "revoked")) ||
		    json_is_true(json_object_get(g, "expired")))
			continue;
		if (expires && now >= expires) {
			json_object_set_new(g, "expired", json_true());
			if (put_doc(s, ACCESS_DOC_GRANT, id, g) == 0) {
				log_info("access grant %s expired", id);
				changed++;
			}
			continue;
		}
		if (starts && now - starts >= unused && grant_last_use(s, g) == 0) {
			_cleanup_free_ char *why = xasprintf(
				"grant %s of %s (as %s) was not used in %lld days since it started;"
				" it was revoked",
				id, json_string_value(json_object_get(g, "identity")) ?: "?",
				json_string_value(json_object_get(g, "account")) ?: "?",
				(long long)(unused / 86400));

			json_object_set_new(g, "revoked", json_true());
			json_object_set_new(g, "revoked_by", json_string("unused"));
			json_object_set_new(g, "revoked_at", api_time(now));
			if (put_doc(s, ACCESS_DOC_GRANT, id, g) < 0)
				continue;
			changed++;
			log_info("%s", why);
			int r = access_alert_raise(s, json_string_value(json_object_get(g, "host")),
						   "access.grant_unused_revoked",
						   "Unused access grant revoked",
						   SIGMA_LEVEL_MEDIUM, why);
			if (r < 0)
				log_errno(r, "raising the alert for unused grant %s", id);
		}
	}
	json_decref(all);
	return changed;
}

int access_grants_tick(struct server *s, int64_t now)
{
	int changed = expire_requests(s, now);
	int grants = expire_grants(s, now);

	if (grants > 0) {
		int r = access_bundle_refresh(s);
		if (r < 0)
			log_errno(r, "refreshing the access bundle after grants changed");
	}
	return changed + grants;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	access_grants_tick(arg, server_now_s());
}

int access_grants_init(struct server *s)
{
	struct timeval every = { .tv_sec = ACCESS_TICK_S };
	int r = access_ssh_init(s);

	if (r < 0)
		return r;
	s->access.tick_ev = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	if (!s->access.tick_ev || event_add(s->access.tick_ev, &every) < 0)
		return log_errno(-ENOMEM, "setting up the access grant tick");
	return 0;
}

void access_grants_fini(struct server *s)
{
	if (s->access.tick_ev)
		event_free(s->access.tick_ev);
	s->access.tick_ev = NULL;
	access_ssh_fini(s);
}
