/* Unit tests for the server's grants (access_grants.h, docs/access.md): which grant covers a
 * login (identity, account, host or label, time window, revocation), request durations and
 * their caps, approvers by user and group, the signing request's checks, client addresses as
 * source-address CIDRs; the access-event parser; and the store keeping access events for
 * the least-privilege review (last use per grant, usage per identity, account and host). */
#include "unit.h"

#include "detect/alert.h"
#include "proto/immune.pb-c.h"
#include "server/access_grants.h"
#include "server/api_int.h"
#include "server/server_int.h"
#include "store/ingest_parse.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define NOW 1800000000LL /* 2027-01-15T08:00:00Z */

static json_t *grant(const char *host, const char *label, bool revoked)
{
	json_t *g = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "id", "g1", "identity", "alice",
			      "account", "deploy", "starts", "2027-01-15T07:00:00Z", "expires",
			      "2027-01-15T09:00:00Z", "revoked", revoked);
	json_object_set_new(g, "host", host ? json_string(host) : json_null());
	json_object_set_new(g, "label", label ? json_string(label) : json_null());
	return g;
}

static void test_grant_covers_host(void **state)
{
	(void)state;
	json_t *g = grant("h1", NULL, false);
	struct access_attr env = { "env", "prod" };

	assert_true(access_grant_covers(g, "alice", "h1", &env, 1, "deploy", NOW));
	assert_false(access_grant_covers(g, "bob", "h1", &env, 1, "deploy", NOW));
	assert_false(access_grant_covers(g, "alice", "h2", &env, 1, "deploy", NOW));
	assert_false(access_grant_covers(g, "alice", "h1", &env, 1, "root", NOW));
	/* before it starts, at and after it expires */
	assert_false(access_grant_covers(g, "alice", "h1", NULL, 0, "deploy", NOW - 3601));
	assert_false(access_grant_covers(g, "alice", "h1", NULL, 0, "deploy", NOW + 3600));
	assert_true(access_grant_covers(g, "alice", "h1", NULL, 0, "deploy", NOW + 3599));
	json_decref(g);
	g = grant("h1", NULL, true);
	assert_false(access_grant_covers(g, "alice", "h1", NULL, 0, "deploy", NOW));
	json_decref(g);
}

static void test_grant_covers_label(void **state)
{
	(void)state;
	json_t *g = grant(NULL, "env=prod", false);
	struct access_attr prod[] = { { "role", "web" }, { "env", "prod" } };
	struct access_attr stage[] = { { "env", "staging" } };
	struct access_attr prefix[] = { { "envx", "prod" } };

	assert_true(access_grant_covers(g, "alice", "any", prod, 2, "deploy", NOW));
	assert_false(access_grant_covers(g, "alice", "any", stage, 1, "deploy", NOW));
	assert_false(access_grant_covers(g, "alice", "any", prefix, 1, "deploy", NOW));
	assert_false(access_grant_covers(g, "alice", "any", NULL, 0, "deploy", NOW));
	json_decref(g);
	/* neither host nor label: covers nothing */
	g = grant(NULL, NULL, false);
	assert_false(access_grant_covers(g, "alice", "h1", prod, 2, "deploy", NOW));
	json_decref(g);
}

static void test_for_and_duration(void **state)
{
	(void)state;
	int64_t v;
	json_t *j;

	j = json_string("2h");
	assert_int_equal(access_for_parse(j, &v), 0);
	assert_int_equal(v, 7200);
	json_decref(j);
	j = json_integer(90);
	assert_int_equal(access_for_parse(j, &v), 0);
	assert_int_equal(v, 90);
	json_decref(j);
	j = json_integer(0);
	assert_int_equal(access_for_parse(j, &v), -ERANGE);
	json_decref(j);
	j = json_string("8d");
	assert_true(access_for_parse(j, &v) < 0);
	json_decref(j);
	j = json_string("two hours");
	assert_true(access_for_parse(j, &v) < 0);
	json_decref(j);
	j = json_true();
	assert_int_equal(access_for_parse(j, &v), -EINVAL);
	json_decref(j);

	assert_int_equal(access_grant_duration(0, 0, false), ACCESS_GRANT_DEFAULT_S);
	assert_int_equal(access_grant_duration(7200, 3600, false), 3600);
	assert_int_equal(access_grant_duration(7200, 0, false), 7200);
	assert_int_equal(access_grant_duration(7200, 0, true), ACCESS_BREAK_GLASS_MAX_S);
	assert_int_equal(access_grant_duration(600, 0, true), 600);
}

static void test_approvers(void **state)
{
	(void)state;
	json_t *apps = json_pack("[s,s]", "group:leads", "user:carol");
	json_t *dave = json_pack("{s:[s,s]}", "groups", "ops", "leads");
	json_t *erin = json_pack("{s:[s]}", "groups", "ops");

	assert_true(access_is_approver(apps, "carol", NULL));
	assert_true(access_is_approver(apps, "dave", dave));
	assert_false(access_is_approver(apps, "erin", erin));
	assert_false(access_is_approver(apps, "leads", NULL)); /* a group name is not a user */
	json_decref(apps);
	json_decref(dave);
	json_decref(erin);
}

static void test_sign_args(void **state)
{
	(void)state;
	struct sign_args_pub a;
	json_t *b;

	b = json_pack("{s:s,s:s}", "host", "web1", "public_key", "ssh-ed25519 AAAA");
	assert_null(access_sign_args_parse(b, "alice", &a));
	assert_string_equal(a.account, "alice");
	assert_int_equal(a.lifetime, ACCESS_CERT_DEFAULT_S);
	assert_false(a.port_forward);
	json_decref(b);

	b = json_pack("{s:s,s:s,s:s,s:i,s:b}", "host", "web1", "public_key", "k", "account",
		      "deploy", "lifetime", 3600, "port_forward", 1);
	assert_null(access_sign_args_parse(b, "alice", &a));
	assert_string_equal(a.account, "deploy");
	assert_int_equal(a.lifetime, 3600);
	assert_true(a.port_forward);
	json_decref(b);

	static const char *const bad[] = {
		"{\"public_key\": \"k\"}",
		"{\"host\": \"h\"}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"lifetime\": 3601}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"lifetime\": 0}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"account\": \"Root\"}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"account\": \"-oProxy\"}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"account\": \"a b\"}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"port_forward\": \"yes\"}",
		"{\"host\": \"h\", \"public_key\": \"k\", \"principals\": [\"root\"]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		b = json_loads(bad[i], 0, NULL);
		assert_non_null(b);
		assert_non_null(access_sign_args_parse(b, "alice", &a));
		json_decref(b);
	}
}

static void test_address(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	char cidr[64];

	assert_int_equal(access_address_parse("127.0.0.1", &ss, cidr, sizeof(cidr)), 0);
	assert_string_equal(cidr, "127.0.0.1/32");
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(access_address_parse("::ffff:10.1.2.3", &ss, cidr, sizeof(cidr)), 0);
	assert_string_equal(cidr, "10.1.2.3/32");
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(access_address_parse("2001:db8::1", &ss, cidr, sizeof(cidr)), 0);
	assert_string_equal(cidr, "2001:db8::1/128");
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(access_address_parse("example.org", &ss, cidr, sizeof(cidr)), -EINVAL);
	assert_int_equal(access_address_parse("127.0.0.1", &ss, cidr, 8), -ENAMETOOLONG);
}

static void test_parse_access_event(void **state)
{
	(void)state;
	struct ingest_access_event e;
	const char *ok = "{\"event\":\"login\",\"identity\":\"alice\",\"account\":\"deploy\","
			 "\"grant\":\"g1\",\"serial\":\"123\",\"source\":\"127.0.0.1\","
			 "\"policy\":\"p\",\"reason\":null,\"time_ns\":5}";

	assert_int_equal(ingest_parse_access_event(ok, strlen(ok), &e), 0);
	assert_string_equal(e.event, "login");
	assert_string_equal(e.identity, "alice");
	assert_string_equal(e.account, "deploy");
	assert_string_equal(e.grant, "g1");
	assert_null(e.reason);
	assert_int_equal(e.time_ns, 5);
	ingest_access_event_free(&e);

	/* what agents send: empty account, null identity, the time as text, extra counters */
	const char *agent = "{\"event\":\"denied\",\"account\":\"\",\"source\":\"192.0.2.9\","
			    "\"reason\":\"r\",\"time\":\"2026-12-08T01:00:00Z\",\"identity\":null,"
			    "\"grant\":null,\"policy\":null,\"serial\":null,\"serials\":3}";
	assert_int_equal(ingest_parse_access_event(agent, strlen(agent), &e), 0);
	assert_null(e.account);
	assert_null(e.identity);
	assert_null(e.grant);
	assert_int_equal(e.time_ns, 0);
	ingest_access_event_free(&e);

	const char *nogrant = "{\"event\":\"login\",\"grant\":\"-\"}";
	assert_int_equal(ingest_parse_access_event(nogrant, strlen(nogrant), &e), 0);
	assert_null(e.grant);
	ingest_access_event_free(&e);

	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"{\"event\":\"\"}",
		"{\"event\":\"LOGIN\"}",
		"{\"event\":\"login\",\"identity\":5}",
		"{\"event\":\"login\",\"serial\":-1}",
		"{\"event\":\"login\",\"serial\":\"12a\"}",
		"{\"event\":\"login\",\"time_ns\":-1}",
		"{\"event\":\"login\",\"event\":\"denied\"}",
		"{\"event\":\"login\",\"identity\":\"a\\u0000b\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ingest_parse_access_event(bad[i], strlen(bad[i]), &e), -EBADMSG);

	/* too large */
	size_t n = INGEST_MAX_ACCESS_JSON + 100;
	char *big = xmalloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"event\":\"login\"}", 17);
	big[n] = '\0';
	assert_int_equal(ingest_parse_access_event(big, n, &e), -EBADMSG);
	free(big);
}

/* ---- the store ---- */

static pthread_mutex_t wm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int pending;

static void on_done(struct store_batch *b, int result, uint64_t committed, void *userdata)
{
	(void)b;
	(void)committed;
	(void)userdata;
	assert_int_equal(result, 0);
	pthread_mutex_lock(&wm);
	pending--;
	pthread_cond_broadcast(&wcv);
	pthread_mutex_unlock(&wm);
}

static void submit(struct store *st, const char *host, uint64_t seq, int64_t t, const char *text)
{
	struct store_batch *b = store_batch_new(host, IMMUNE__V1__STREAM__STREAM_ALERTS, 1);

	store_batch_set(b, 0, seq, IMMUNE__V1__RECORD_KIND__RECORD_ACCESS_EVENT, t,
			IMMUNE__V1__ENCODING__ENCODING_RAW, text, strlen(text));
	b->done = on_done;
	pthread_mutex_lock(&wm);
	pending++;
	pthread_mutex_unlock(&wm);
	assert_int_equal(store_ingest_submit(st, b), 0);
	pthread_mutex_lock(&wm);
	while (pending > 0)
		pthread_cond_wait(&wcv, &wm);
	pthread_mutex_unlock(&wm);
}

static void test_store_access_events(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-access-grants-XXXXXX", url[128], path[96];
	struct store *st;
	char *h1 = NULL, *h2 = NULL;
	int64_t t = 0;
	json_t *usage = NULL, *row;
	struct store_stats stats;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(store_host_enroll(st, "m1", "web1", NULL, 0, "01", 0, 1000, &h1), 0);
	assert_int_equal(store_host_enroll(st, "m2", "web2", NULL, 0, "02", 0, 1000, &h2), 0);

	assert_int_equal(store_access_last_use_grant(st, "g1", &t), 0);
	assert_int_equal(t, 0);

	submit(st, h1, 1, 100,
	       "{\"event\":\"login\",\"identity\":\"alice\",\"account\":\"deploy\",\"grant\":"
	       "\"g1\"}");
	submit(st, h1, 2, 300,
	       "{\"event\":\"login\",\"identity\":\"alice\",\"account\":\"deploy\",\"grant\":"
	       "\"g1\"}");
	submit(st, h2, 1, 200,
	       "{\"event\":\"login\",\"identity\":\"alice\",\"account\":\"alice\"}");
	/* a denial is no use of the grant */
	submit(st, h1, 3, 900,
	       "{\"event\":\"denied\",\"identity\":\"alice\",\"account\":\"deploy\",\"grant\":"
	       "\"g1\"}");
	/* bad payloads are counted and skipped */
	submit(st, h1, 4, 950, "{\"event\":7}");

	assert_int_equal(store_access_last_use_grant(st, "g1", &t), 0);
	assert_int_equal(t, 300);
	assert_int_equal(store_access_last_use_grant(st, "g2", &t), 0);
	assert_int_equal(t, 0);

	assert_int_equal(store_access_usage(st, &usage), 0);
	assert_int_equal(json_array_size(usage), 2);
	row = json_array_get(usage, 0); /* alice as alice on web2 sorts first */
	assert_string_equal(json_string_value(json_object_get(row, "account")), "alice");
	assert_string_equal(json_string_value(json_object_get(row, "hostname")), "web2");
	assert_int_equal(json_integer_value(json_object_get(row, "logins")), 1);
	row = json_array_get(usage, 1);
	assert_string_equal(json_string_value(json_object_get(row, "account")), "deploy");
	assert_string_equal(json_string_value(json_object_get(row, "host")), h1);
	assert_int_equal(json_integer_value(json_object_get(row, "last_used_ns")), 300);
	assert_int_equal(json_integer_value(json_object_get(row, "logins")), 2);
	json_decref(usage);

	store_get_stats(st, &stats);
	assert_int_equal(stats.records_unparsed, 1);

	store_close(st);
	free(h1);
	free(h2);
	char p[160];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
}

/* ---- with a store: host lookup, decision requests, request expiry ---- */

struct sctx {
	char dir[64], path[96];
	struct store *st;
	struct server s;
};

static void sctx_open(struct sctx *c)
{
	char url[128];

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-access-grants-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/store.db", c->dir);
	snprintf(url, sizeof(url), "sqlite:%s", c->path);
	assert_int_equal(store_open(url, &c->st), 0);
	c->s.store = c->st;
}

static void sctx_close(struct sctx *c)
{
	char p[160];

	store_close(c->st);
	unlink(c->path);
	snprintf(p, sizeof(p), "%s-wal", c->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", c->path);
	unlink(p);
	rmdir(c->dir);
}

static void put_alert(struct sctx *c, const char *host, int level)
{
	struct alert a = { 0 };
	json_t *o;
	char *t;

	alert_new_uid(&a);
	a.source = ALERT_RULE;
	a.rule_id = (char *)"r";
	a.title = (char *)"t";
	a.level = (enum sigma_level)level;
	a.group_key = a.uid;
	a.time_ns = (int64_t)time(NULL) * 1000000000LL;
	o = alert_to_json(&a);
	t = json_dumps(o, JSON_COMPACT);
	assert_int_equal(store_alert_put(c->st, host, t, strlen(t)), 0);
	free(t);
	json_decref(o);
}

static void test_subject_and_lookup(void **state)
{
	(void)state;
	struct sctx c;
	struct store_label labels[] = { { "env", "prod" } };
	struct store_host h;
	struct access_subject sub;
	char *h1 = NULL, *h2 = NULL, *h3 = NULL;
	json_t *ident = json_pack("{s:s,s:[s,s],s:{s:s,s:i}}", "name", "alice", "groups", "ops",
				  "leads", "attributes", "team", "sre", "level", 3);

	sctx_open(&c);
	assert_int_equal(store_host_enroll(c.st, "m1", "web1", labels, 1, "01", 0, 1000, &h1), 0);
	assert_int_equal(store_host_enroll(c.st, "m2", "twin", NULL, 0, "02", 0, 1000, &h2), 0);
	assert_int_equal(store_host_enroll(c.st, "m3", "twin", NULL, 0, "03", 0, 1000, &h3), 0);

	assert_int_equal(access_host_lookup(&c.s, "web1", &h), 0);
	assert_string_equal(h.id, h1);
	store_host_free(&h);
	assert_int_equal(access_host_lookup(&c.s, h1, &h), 0);
	assert_string_equal(h.hostname, "web1");
	store_host_free(&h);
	assert_int_equal(access_host_lookup(&c.s, "twin", &h), -EEXIST);
	assert_int_equal(access_host_lookup(&c.s, "nowhere", &h), -ENOENT);

	put_alert(&c, h1, 5); /* critical */
	put_alert(&c, h1, 4); /* high */
	put_alert(&c, h1, 1); /* informational counts as low */
	assert_int_equal(access_host_lookup(&c.s, "web1", &h), 0);
	assert_int_equal(access_subject_init(&c.s, &sub, ident, &h, ACCESS_LOGIN, "deploy", NULL,
					     (int64_t)time(NULL)),
			 0);
	assert_string_equal(sub.req.principal.name, "alice");
	assert_int_equal(sub.req.principal.n_groups, 2);
	assert_string_equal(sub.req.principal.groups[1], "leads");
	assert_int_equal(sub.req.principal.n_attrs, 1); /* only string attributes */
	assert_string_equal(sub.req.principal.attrs[0].value, "sre");
	assert_string_equal(sub.req.host.id, h1);
	assert_string_equal(sub.req.host.name, "web1");
	assert_int_equal(sub.req.host.n_labels, 1);
	assert_string_equal(sub.req.host.labels[0].key, "env");
	assert_string_equal(sub.req.account, "deploy");
	assert_int_equal(sub.req.context.posture, -1); /* no scan yet */
	assert_int_equal(sub.req.context.open_alerts[ACCESS_SEV_CRITICAL], 1);
	assert_int_equal(sub.req.context.open_alerts[ACCESS_SEV_HIGH], 1);
	assert_int_equal(sub.req.context.open_alerts[ACCESS_SEV_MEDIUM], 0);
	assert_int_equal(sub.req.context.open_alerts[ACCESS_SEV_LOW], 1);
	assert_false(sub.req.context.grant);
	assert_int_equal(sub.req.context.source.ss_family, 0);
	access_subject_fini(&sub);
	store_host_free(&h);

	json_decref(ident);
	free(h1);
	free(h2);
	free(h3);
	sctx_close(&c);
}

static void test_request_expiry(void **state)
{
	(void)state;
	struct sctx c;
	int64_t now = (int64_t)time(NULL);
	char *doc = NULL;
	json_t *q = json_pack("{s:s,s:s,s:s,s:o}", "id", "r1", "identity", "alice", "state",
			      "pending", "created", api_time(now));
	char *text = json_dumps(q, JSON_COMPACT);

	sctx_open(&c);
	assert_int_equal(store_access_doc_put(c.st, ACCESS_DOC_REQUEST, "r1", text, 1), 0);
	/* not yet: 23 hours later */
	assert_int_equal(access_grants_tick(&c.s, now + 23 * 3600), 0);
	assert_int_equal(store_access_doc_get(c.st, ACCESS_DOC_REQUEST, "r1", &doc), 0);
	assert_non_null(strstr(doc, "\"pending\""));
	free(doc);
	/* a day later it expired */
	assert_int_equal(access_grants_tick(&c.s, now + ACCESS_REQUEST_TTL_S + 1), 1);
	assert_int_equal(store_access_doc_get(c.st, ACCESS_DOC_REQUEST, "r1", &doc), 0);
	assert_non_null(strstr(doc, "\"expired\""));
	free(doc);
	/* once */
	assert_int_equal(access_grants_tick(&c.s, now + ACCESS_REQUEST_TTL_S + 2), 0);
	free(text);
	json_decref(q);
	sctx_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant_covers_host),
		cmocka_unit_test(test_grant_covers_label),
		cmocka_unit_test(test_for_and_duration),
		cmocka_unit_test(test_approvers),
		cmocka_unit_test(test_sign_args),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_parse_access_event),
		cmocka_unit_test(test_store_access_events),
		cmocka_unit_test(test_subject_and_lookup),
		cmocka_unit_test(test_request_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
