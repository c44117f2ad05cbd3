/* GET /v1/hosts, GET and DELETE /v1/hosts/ID, GET /v1/findings, GET /v1/status. */
#include "server/api_int.h"
#include "lib/log.h"
#include "store/store.h"

#include "config.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <sys/queue.h>

static const char *const stream_names[3] = { "events", "state", "alerts" };

static json_t *host_json(struct server *s, const struct store_host *h)
{
	json_t *labels = json_object();
	for (size_t i = 0; i < h->n_labels; i++)
		json_object_set_new(labels, h->labels[i].key,
				    json_string(h->labels[i].value ? h->labels[i].value : ""));
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(h->id));
	json_object_set_new(o, "hostname", json_string(h->hostname ? h->hostname : ""));
	json_object_set_new(o, "os", json_string(h->os ? h->os : ""));
	json_object_set_new(o, "agent_version",
			    json_string(h->agent_version ? h->agent_version : ""));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "connected", json_boolean(hostmap_get(&s->hosts, h->id) != NULL));
	json_object_set_new(o, "last_seen", api_time(h->last_seen));
	json_object_set_new(o, "enrolled_at", api_time(h->enrolled_at));
	json_object_set_new(o, "revoked", json_boolean(h->revoked));
	json_object_set_new(o, "cert_not_after", api_time(h->cert_not_after));
	json_object_set_new(o, "score", isnan(h->score) ? json_null() : json_real(h->score));
	json_object_set_new(o, "checks_failed", json_integer(h->checks_failed));
	json_object_set_new(o, "scanned_at", api_time(h->scanned_at));
	return o;
}

static int cmp_host(const void *a, const void *b)
{
	const struct store_host *x = a, *y = b;
	int r = strcmp(x->hostname ? x->hostname : "", y->hostname ? y->hostname : "");
	return r ? r : strcmp(x->id, y->id);
}

void api_hosts_list(struct server *s, struct evhttp_request *req)
{
	struct store_host *hosts = NULL;
	size_t n = 0;
	int r = store_hosts_list(s->store, &hosts, &n);
	if (r < 0) {
		api_error(req, 500, "cannot list hosts: %s", strerror(-r));
		return;
	}
	sort_array(hosts, n, sizeof(*hosts), cmp_host);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, host_json(s, &hosts[i]));
	store_hosts_free(hosts, n);
	api_reply(req, 200, json_pack("{s:o}", "hosts", arr));
}

static json_t *streams_json(struct server *s, const char *id)
{
	struct store_stream st[3];
	json_t *arr = json_array();
	if (store_host_streams(s->store, id, st) < 0)
		return arr;
	for (size_t i = 0; i < 3; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:I, s:I, s:I}", "stream", stream_names[i],
				       "committed_seq", (json_int_t)st[i].committed_seq, "records",
				       (json_int_t)st[i].records, "gaps", (json_int_t)st[i].gaps,
				       "dropped", (json_int_t)st[i].dropped));
	return arr;
}

void api_host_show(struct server *s, struct evhttp_request *req, const char *id)
{
	struct store_host h = { 0 };
	int r = store_host_get(s->store, id, &h);
	if (r < 0) {
		api_error(req, r == -ENOENT ? 404 : 500, "%s: %s", id,
			  r == -ENOENT ? "no such host" : strerror(-r));
		return;
	}
	json_t *inv = NULL, *findings = NULL;
	if (store_host_inventory(s->store, id, &inv) < 0)
		inv = json_object();
	struct store_finding_filter f = { .host = id };
	if (store_findings(s->store, &f, &findings) < 0)
		findings = json_array();
	json_t *out = json_pack("{s:o, s:o, s:o, s:o, s:o}", "host", host_json(s, &h), "inventory",
				inv, "streams", streams_json(s, id), "findings", findings,
				"sensor_health", api_host_sensors(s, id));
	store_host_free(&h);
	api_reply(req, 200, out);
}

void api_host_delete(struct server *s, struct evhttp_request *req, const char *id)
{
	int r = store_host_revoke(s->store, id, server_now_s());
	if (r < 0) {
		api_error(req, r == -ENOENT ? 404 : 500, "%s: %s", id,
			  r == -ENOENT ? "no such host" : strerror(-r));
		return;
	}
	struct conn *c = hostmap_get(&s->hosts, id);
	if (c) {
		server_count(s, CTR_REVOKE_DISCONNECTED);
		conn_refuse(c, IMMUNE__V1__REFUSAL__REASON__REASON_HOST_REVOKED,
			    "this host was removed from the fleet");
	}
	log_info("revoked host %s%s", id, c ? " and closed its connection" : "");
	api_reply(req, 200, json_pack("{s:s, s:b}", "revoked", id, "disconnected", c != NULL));
}

static bool status_known(const char *v)
{
	static const char *const ok[] = { "fail", "error", "pass", "not_applicable", "all" };
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (!strcmp(v, ok[i]))
			return true;
	return false;
}

static const char *parse_filter(struct evkeyvalq *q, struct store_finding_filter *f)
{
	for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
		if (!strcmp(kv->key, "host"))
			f->host = kv->value;
		else if (!strcmp(kv->key, "framework"))
			f->framework = kv->value;
		else if (!strcmp(kv->key, "status") && status_known(kv->value))
			f->status = kv->value;
		else if (!strcmp(kv->key, "status"))
			return "status must be fail, error, pass, not_applicable or all";
		else
			return "unknown query parameter (allowed: host, framework, status)";
	}
	return NULL;
}

void api_findings(struct server *s, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq q = { 0 };
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		api_error(req, 400, "malformed query string");
		return;
	}
	struct store_finding_filter f = { 0 };
	const char *err = parse_filter(&q, &f);
	json_t *findings = NULL;
	int r = err ? 0 : store_findings(s->store, &f, &findings);
	if (err)
		api_error(req, 400, "%s", err);
	else if (r < 0)
		api_error(req, 500, "cannot read findings: %s", strerror(-r));
	else
		api_reply(req, 200, json_pack("{s:o}", "findings", findings));
	evhttp_clear_headers(&q);
}

void api_status(struct server *s, struct evhttp_request *req)
{
	struct store_host *hosts = NULL;
	size_t n = 0;
	if (store_hosts_list(s->store, &hosts, &n) == 0)
		store_hosts_free(hosts, n);
	struct store_stats st;
	store_get_stats(s->store, &st);
	json_t *ctr = json_object();
	for (int i = 0; i < CTR_COUNT; i++)
		json_object_set_new(ctr, server_counter_name(i),
				    json_integer((json_int_t)server_counter(s, i)));
	json_object_set_new(ctr, "records_stored", json_integer((json_int_t)st.records));
	json_object_set_new(ctr, "records_duplicate", json_integer((json_int_t)st.duplicates));
	json_object_set_new(ctr, "store_transactions", json_integer((json_int_t)st.transactions));
	json_object_set_new(ctr, "records_unparsed", json_integer((json_int_t)st.records_unparsed));
	json_object_set_new(ctr, "alerts_grouped", json_integer((json_int_t)st.alerts_grouped));
	json_object_set_new(ctr, "alerts_duplicate", json_integer((json_int_t)st.alerts_duplicate));
	json_object_set_new(ctr, "action_results", json_integer((json_int_t)st.action_results));
	api_reply(req, 200,
		  json_pack("{s:s, s:I, s:I, s:I, s:o}", "version", IMMUNE_VERSION, "uptime_s",
			    (json_int_t)(server_now_s() - s->started_s), "agents_connected",
			    (json_int_t)s->hosts.n, "hosts", (json_int_t)n, "counters", ctr));
}
