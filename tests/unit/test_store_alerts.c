/* Unit tests for the store's detection records (store.h, docs/alerts.md): the event index and
 * its retention, alert grouping by host + rule + group key within an hour, de-duplication
 * across re-delivery, evidence bounds, listing with filters and cursors, the fleet view,
 * baselines and sensor health, bad payloads counted and skipped, and the migration. */
#include "unit.h"

#include "detect/alert.h"
#include "detect/event_json.h"
#include "lib/str.h"
#include "proto/immune.pb-c.h"
#include "store/store.h"
#include "store/store_backend.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zstd.h>

#define EVENTS IMMUNE__V1__STREAM__STREAM_EVENTS
#define STATE IMMUNE__V1__STREAM__STREAM_STATE
#define ALERTS IMMUNE__V1__STREAM__STREAM_ALERTS
#define RAW IMMUNE__V1__ENCODING__ENCODING_RAW
#define ZSTD IMMUNE__V1__ENCODING__ENCODING_ZSTD
#define K_EVENT IMMUNE__V1__RECORD_KIND__RECORD_EVENT
#define K_ALERT IMMUNE__V1__RECORD_KIND__RECORD_ALERT
#define K_BASELINE IMMUNE__V1__RECORD_KIND__RECORD_BASELINE
#define K_HEALTH IMMUNE__V1__RECORD_KIND__RECORD_SENSOR_HEALTH

#define SEC 1000000000LL
#define T0 (1800000000LL * SEC)

struct ctx {
	char dir[64];
	char path[128];
	char url[160];
	struct store *st;
};

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));

	snprintf(c->dir, sizeof(c->dir), "/tmp/test-store-alerts-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/store.db", c->dir);
	snprintf(c->url, sizeof(c->url), "sqlite:%s", c->path);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char p[200];

	store_close(c->st);
	unlink(c->path);
	snprintf(p, sizeof(p), "%s-wal", c->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", c->path);
	unlink(p);
	rmdir(c->dir);
	free(c);
	return 0;
}

static int64_t query_int(struct ctx *c, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static char *enroll(struct ctx *c, const char *machine)
{
	char *id = NULL;

	assert_int_equal(store_host_enroll(c->st, machine, machine, NULL, 0, "01", 0, 1000, &id),
			 0);
	return id;
}

/* ---- submitting records and waiting for them ---- */

static pthread_mutex_t wm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int pending, last_result;

static void on_done(struct store_batch *b, int result, uint64_t committed, void *userdata)
{
	pthread_mutex_lock(&wm);
	pending--;
	last_result = result;
	pthread_cond_broadcast(&wcv);
	pthread_mutex_unlock(&wm);
}

static int submit(struct ctx *c, const char *host, uint32_t stream, uint64_t seq, uint32_t kind,
		  int64_t time_ns, uint32_t enc, const void *p, size_t len)
{
	struct store_batch *b = store_batch_new(host, stream, 1);

	store_batch_set(b, 0, seq, kind, time_ns, enc, p, len);
	b->done = on_done;
	pthread_mutex_lock(&wm);
	pending++;
	pthread_mutex_unlock(&wm);
	assert_int_equal(store_ingest_submit(c->st, b), 0);
	pthread_mutex_lock(&wm);
	while (pending > 0)
		pthread_cond_wait(&wcv, &wm);
	pthread_mutex_unlock(&wm);
	return last_result;
}

static int submit_text(struct ctx *c, const char *host, uint32_t stream, uint64_t seq,
		       uint32_t kind, const char *text)
{
	return submit(c, host, stream, seq, kind, T0, RAW, text, strlen(text));
}

/* ---- building events and alerts ---- */

static void logon_event(struct host_event *ev, int64_t t, const char *user, const char *ip)
{
	host_event_init(ev);
	host_event_reset(ev, EVENT_AUTH_LOGON, t);
	assert_int_equal(host_event_set_str(ev, EF_TARGET_USER, user), 0);
	assert_int_equal(host_event_set_str(ev, EF_SRC_IP, ip), 0);
	assert_int_equal(host_event_set_str(ev, EF_OUTCOME, "Failure"), 0);
	assert_int_equal(host_event_set_str(ev, EF_IMAGE, "/usr/sbin/sshd"), 0);
}

/* A serialized alert (caller frees) with n_ev evidence events at t - i s. */
static char *alert_text(const char *rule, const char *key, int level, int64_t t, size_t n_ev,
			const char *uid)
{
	struct alert a = { 0 };

	alert_new_uid(&a);
	if (uid)
		snprintf(a.uid, sizeof(a.uid), "%s", uid);
	a.source = key ? ALERT_CORRELATION : ALERT_RULE;
	a.rule_id = xstrdup(rule);
	a.title = xasprintf("Title of %s", rule);
	a.level = level;
	strv_push(&a.tags, "attack.credential_access");
	strv_push(&a.tags, "attack.t1110.003");
	a.explanation = xasprintf("explained at %lld", (long long)(t / SEC));
	a.group_key = key ? xstrdup(key) : NULL;
	a.hostname = xstrdup("h");
	a.time_ns = t;
	for (size_t i = n_ev; i > 0; i--) {
		struct host_event ev;
		char user[32];

		snprintf(user, sizeof(user), "u%lld", (long long)((t / SEC) % 100000 - (int64_t)i));
		logon_event(&ev, t - (int64_t)i * SEC, user, "10.0.0.9");
		alert_add_evidence(&a, &ev);
		host_event_free(&ev);
	}
	json_t *o = alert_to_json(&a);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	alert_clear(&a);
	return text;
}

static int put_alert(struct ctx *c, const char *host, uint64_t seq, const char *rule,
		     const char *key, int level, int64_t t, size_t n_ev)
{
	_cleanup_free_ char *text = alert_text(rule, key, level, t, n_ev, NULL);

	return submit_text(c, host, ALERTS, seq, K_ALERT, text);
}

static json_t *list(struct ctx *c, const struct store_alert_filter *f)
{
	json_t *o = NULL;

	assert_int_equal(store_alerts_list(c->st, f, &o), 0);
	return o;
}

static json_int_t jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- tests ---- */

static void test_event_index(void **state)
{
	struct ctx *c = *state;
	struct store_stats stats;
	struct host_event ev;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_schema_version(c->st), 5);
	id = enroll(c, "m1");

	/* an exec and a logon, then garbage */
	host_event_init(&ev);
	host_event_reset(&ev, EVENT_PROCESS_EXEC, T0);
	host_event_set_str(&ev, EF_IMAGE, "/usr/bin/curl");
	host_event_set_str(&ev, EF_USER, "root");
	host_event_set_str(&ev, EF_COMMAND_LINE, "curl -s http://x/a.sh");
	char *line = host_event_to_json_line(&ev);
	assert_int_equal(submit_text(c, id, EVENTS, 1, K_EVENT, line), 0);
	free(line);
	host_event_free(&ev);
	logon_event(&ev, T0, "alice", "192.0.2.7");
	line = host_event_to_json_line(&ev);
	/* compressed on the wire */
	size_t bound = ZSTD_compressBound(strlen(line));
	void *z = xmalloc(bound);
	size_t zlen = ZSTD_compress(z, bound, line, strlen(line), 1);
	assert_false(ZSTD_isError(zlen));
	assert_int_equal(submit(c, id, EVENTS, 2, K_EVENT, T0 + SEC, ZSTD, z, zlen), 0);
	free(z);
	free(line);
	host_event_free(&ev);
	assert_int_equal(submit_text(c, id, EVENTS, 3, K_EVENT, "{\"seq\":3}"), 0);
	assert_int_equal(submit_text(c, id, EVENTS, 4, K_EVENT, "[[[[not json"), 0);
	assert_int_equal(
		submit_text(c, id, EVENTS, 5, K_EVENT, "{\"class_uid\":1007,\"time\":\"x\"}"), 0);

	store_get_stats(c->st, &stats);
	assert_int_equal(stats.records, 5); /* every record is kept */
	assert_int_equal(stats.records_unparsed, 3);
	assert_int_equal(query_int(c, "SELECT count(*) FROM events"), 2);
	assert_int_equal(query_int(c, "SELECT count(*) FROM events WHERE kind = 'process_exec'"
				      " AND image = '/usr/bin/curl' AND user = 'root'"
				      " AND src_ip IS NULL"),
			 1);
	assert_int_equal(query_int(c, "SELECT count(*) FROM events WHERE kind = 'auth_logon'"
				      " AND image = '/usr/sbin/sshd' AND user = 'alice'"
				      " AND src_ip = '192.0.2.7'"),
			 1);
	assert_int_equal(query_int(c, "SELECT time_ns FROM events WHERE seq = 2"), T0 + SEC);

	/* re-delivery is skipped; retention removes the index with the records */
	assert_int_equal(submit_text(c, id, EVENTS, 1, K_EVENT, "{}"), 0);
	assert_int_equal(query_int(c, "SELECT count(*) FROM events"), 2);
	store_retention_set(c->st, 86400);
	assert_int_equal(store_retention_run(c->st, T0 / SEC + 2 * 86400), 5);
	assert_int_equal(query_int(c, "SELECT count(*) FROM events"), 0);
	free(id);
}

static void test_grouping(void **state)
{
	struct ctx *c = *state;
	struct store_stats stats;
	char *h1, *h2;

	assert_int_equal(store_open(c->url, &c->st), 0);
	h1 = enroll(c, "web1");
	h2 = enroll(c, "web2");
	/* three alerts of one rule and key on h1 within an hour: one group */
	assert_int_equal(put_alert(c, h1, 1, "spray", "10.0.0.9", 4, T0, 2), 0);
	assert_int_equal(put_alert(c, h1, 2, "spray", "10.0.0.9", 4, T0 + 600 * SEC, 2), 0);
	assert_int_equal(put_alert(c, h1, 3, "spray", "10.0.0.9", 5, T0 + 1200 * SEC, 2), 0);
	/* another key, and the same key more than an hour later: new groups */
	assert_int_equal(put_alert(c, h1, 4, "spray", "10.0.0.10", 4, T0 + 60 * SEC, 1), 0);
	assert_int_equal(put_alert(c, h1, 5, "spray", "10.0.0.9", 4, T0 + 4000 * SEC, 1), 0);
	/* the same rule and key on another host: its own group */
	assert_int_equal(put_alert(c, h2, 1, "spray", "10.0.0.9", 4, T0 + 30 * SEC, 1), 0);
	/* a late alert older than the group's first joins it and moves first_seen */
	assert_int_equal(put_alert(c, h1, 6, "spray", "10.0.0.9", 3, T0 - 300 * SEC, 1), 0);

	store_get_stats(c->st, &stats);
	assert_int_equal(stats.alerts_grouped, 3);
	assert_int_equal(query_int(c, "SELECT count(*) FROM alert_groups"), 4);

	json_t *o = list(c, NULL);
	assert_int_equal(jint(o, "total"), 4);
	assert_int_equal(jint(o, "count"), 7);
	json_t *alerts = json_object_get(o, "alerts");
	assert_int_equal(json_array_size(alerts), 4);
	/* newest first: the one at +4000 s */
	json_t *g0 = json_array_get(alerts, 0);
	assert_int_equal(jint(g0, "count"), 1);
	assert_string_equal(jstr(g0, "hostname"), "web1");
	json_t *g1 = json_array_get(alerts, 1);
	assert_int_equal(jint(g1, "count"), 4);
	assert_string_equal(jstr(g1, "severity"), "critical"); /* the highest level seen */
	assert_string_equal(jstr(g1, "group_key"), "10.0.0.9");
	assert_string_equal(jstr(g1, "first_seen"), "2027-01-15T07:55:00.000Z");
	assert_string_equal(jstr(g1, "last_seen"), "2027-01-15T08:20:00.000Z");
	/* the newest alert's explanation, not the late one's */
	assert_string_equal(jstr(g1, "explanation"), "explained at 1800001200");
	assert_string_equal(json_string_value(json_array_get(json_object_get(g1, "techniques"), 0)),
			    "T1110.003");
	assert_true(json_is_null(json_object_get(o, "next")));

	/* the fleet view: one rule on two hosts */
	json_t *fleet = json_object_get(o, "fleet");
	assert_int_equal(json_array_size(fleet), 1);
	json_t *f0 = json_array_get(fleet, 0);
	assert_string_equal(jstr(f0, "rule_id"), "spray");
	assert_int_equal(jint(f0, "hosts"), 2);
	assert_int_equal(jint(f0, "groups"), 4);
	assert_int_equal(jint(f0, "count"), 7);

	/* the group with its evidence, newest kept */
	json_t *full = NULL;
	assert_int_equal(store_alert_get(c->st, jstr(g1, "id"), &full), 0);
	json_t *ev = json_object_get(full, "evidence");
	assert_int_equal(json_array_size(ev), 7);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 6), "time")),
			 (T0 + 1199 * SEC) / 1000000);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(full, "finding"), "class_uid")),
		2004);
	assert_null(json_object_get(json_object_get(full, "finding"), "evidence"));
	json_decref(full);
	assert_int_equal(store_alert_get(c->st, "0123456789abcdef0123456789abcdef", &full),
			 -ENOENT);
	assert_int_equal(store_alert_get(c->st, "../x", &full), -ENOENT);
	json_decref(o);
	free(h1);
	free(h2);
}

static void test_redelivery(void **state)
{
	struct ctx *c = *state;
	struct store_stats stats;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	char *text = alert_text("r1", NULL, 3, T0, 1, NULL);
	assert_int_equal(submit_text(c, id, ALERTS, 1, K_ALERT, text), 0);
	/* the same record again (same seq): skipped by the stream's committed number */
	assert_int_equal(submit_text(c, id, ALERTS, 1, K_ALERT, text), 0);
	/* the same alert under a new seq (a re-spooled copy): skipped by its uid */
	assert_int_equal(submit_text(c, id, ALERTS, 2, K_ALERT, text), 0);
	store_get_stats(c->st, &stats);
	assert_int_equal(stats.duplicates, 1);
	assert_int_equal(stats.alerts_duplicate, 1);
	assert_int_equal(query_int(c, "SELECT count FROM alert_groups"), 1);
	/* and after a restart */
	store_close(c->st);
	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(submit_text(c, id, ALERTS, 3, K_ALERT, text), 0);
	assert_int_equal(query_int(c, "SELECT count FROM alert_groups"), 1);
	/* the server's own path refuses it too */
	assert_int_equal(store_alert_put(c->st, id, text, strlen(text)), -EALREADY);
	free(text);
	free(id);
}

static void test_evidence_bounds(void **state)
{
	struct ctx *c = *state;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	for (int i = 0; i < 10; i++)
		assert_int_equal(put_alert(c, id, (uint64_t)i + 1, "r", "k", 3,
					   T0 + (int64_t)i * 10 * SEC, 5),
				 0);
	assert_int_equal(query_int(c, "SELECT count FROM alert_groups"), 10);
	assert_int_equal(query_int(c, "SELECT json_array_length(evidence) FROM alert_groups"),
			 STORE_ALERT_EVIDENCE_MAX);
	/* the newest: the last alert's evidence ends at T0 + 89 s */
	assert_int_equal(query_int(c, "SELECT max(json_extract(value, '$.time'))"
				      " FROM alert_groups, json_each(alert_groups.evidence)"),
			 (T0 + 89 * SEC) / 1000000);
	assert_int_equal(query_int(c, "SELECT min(json_extract(value, '$.time'))"
				      " FROM alert_groups, json_each(alert_groups.evidence)"),
			 (T0 + 59 * SEC) / 1000000);

	/* large evidence is cut to the byte budget, newest kept */
	struct alert a = { 0 };
	alert_new_uid(&a);
	a.source = ALERT_RULE;
	a.rule_id = xstrdup("big");
	a.title = xstrdup("big");
	a.level = SIGMA_LEVEL_LOW;
	a.time_ns = T0;
	char *cmd = xmalloc(60000);
	memset(cmd, 'A', 59999);
	cmd[59999] = '\0';
	for (int i = 0; i < ALERT_MAX_EVIDENCE; i++) {
		struct host_event ev;
		host_event_init(&ev);
		host_event_reset(&ev, EVENT_PROCESS_EXEC, T0 - (ALERT_MAX_EVIDENCE - i) * SEC);
		host_event_set_str(&ev, EF_COMMAND_LINE, cmd);
		alert_add_evidence(&a, &ev);
		host_event_free(&ev);
	}
	free(cmd);
	json_t *o = alert_to_json(&a);
	char *text = json_dumps(o, JSON_COMPACT);
	assert_true(strlen(text) > STORE_ALERT_EVIDENCE_BYTES);
	assert_int_equal(submit_text(c, id, ALERTS, 100, K_ALERT, text), 0);
	assert_true(
		query_int(c, "SELECT length(evidence) FROM alert_groups WHERE rule_id = 'big'") <=
		STORE_ALERT_EVIDENCE_BYTES);
	int64_t kept = query_int(
		c, "SELECT json_array_length(evidence) FROM alert_groups WHERE rule_id = 'big'");
	assert_true(kept >= 1 && kept < ALERT_MAX_EVIDENCE);
	assert_int_equal(query_int(c, "SELECT max(json_extract(value, '$.time'))"
				      " FROM alert_groups, json_each(alert_groups.evidence)"
				      " WHERE rule_id = 'big'"),
			 (T0 - SEC) / 1000000);
	free(text);
	json_decref(o);
	alert_clear(&a);
	free(id);
}

static void test_list_filters(void **state)
{
	struct ctx *c = *state;
	char *h1, *h2;

	assert_int_equal(store_open(c->url, &c->st), 0);
	h1 = enroll(c, "alpha");
	h2 = enroll(c, "beta");
	/* 25 groups: distinct rules, levels cycling 1..5, one per minute, alternating hosts */
	for (int i = 0; i < 25; i++) {
		char rule[16];
		snprintf(rule, sizeof(rule), "rule-%02d", i);
		assert_int_equal(put_alert(c, i % 2 ? h2 : h1, (uint64_t)i / 2 + 1, rule, NULL,
					   i % 5 + 1, T0 + (int64_t)i * 60 * SEC, 1),
				 0);
	}
	struct store_alert_filter f = { .limit = 10 };
	json_t *o = list(c, &f);
	assert_int_equal(jint(o, "total"), 25);
	assert_int_equal(json_array_size(json_object_get(o, "alerts")), 10);
	assert_int_equal(jint(json_object_get(o, "by_severity"), "critical"), 5);
	/* walk every page: each group once, newest first */
	int seen = 0;
	char prev[64] = "9999";
	for (;;) {
		json_t *a = json_object_get(o, "alerts");
		size_t i;
		json_t *g;
		json_array_foreach(a, i, g) {
			assert_true(strcmp(jstr(g, "last_seen"), prev) < 0);
			snprintf(prev, sizeof(prev), "%s", jstr(g, "last_seen"));
			seen++;
		}
		json_t *next = json_object_get(o, "next");
		if (json_is_null(next))
			break;
		char *cur = xstrdup(json_string_value(next));
		json_decref(o);
		f.cursor = cur;
		o = list(c, &f);
		free(cur);
		f.cursor = NULL;
	}
	assert_int_equal(seen, 25);
	json_decref(o);

	/* severity: at or above; host by id or name; since; rule */
	f = (struct store_alert_filter){ .min_level = SIGMA_LEVEL_HIGH };
	o = list(c, &f);
	assert_int_equal(jint(o, "total"), 10);
	json_decref(o);
	f = (struct store_alert_filter){ .host = "beta" };
	o = list(c, &f);
	assert_int_equal(jint(o, "total"), 12);
	json_decref(o);
	f = (struct store_alert_filter){ .host = h1 };
	o = list(c, &f);
	assert_int_equal(jint(o, "total"), 13);
	json_decref(o);
	f = (struct store_alert_filter){ .since_ns = T0 + 20 * 60 * SEC };
	o = list(c, &f);
	assert_int_equal(jint(o, "total"), 5);
	json_decref(o);
	f = (struct store_alert_filter){ .rule = "rule-07" };
	o = list(c, &f);
	assert_int_equal(jint(o, "total"), 1);
	assert_int_equal(json_array_size(json_object_get(o, "fleet")), 1);
	json_decref(o);

	/* bad cursors */
	json_t *bad = NULL;
	f = (struct store_alert_filter){ .cursor = "x" };
	assert_int_equal(store_alerts_list(c->st, &f, &bad), -EINVAL);
	f.cursor = "12:-3";
	assert_int_equal(store_alerts_list(c->st, &f, &bad), -EINVAL);
	f.cursor = "1:2:3";
	assert_int_equal(store_alerts_list(c->st, &f, &bad), -EINVAL);
	/* the limit is capped */
	f = (struct store_alert_filter){ .limit = 1000000 };
	o = list(c, &f);
	assert_int_equal(json_array_size(json_object_get(o, "alerts")), 25);
	json_decref(o);
	free(h1);
	free(h2);
}

static void test_bad_alerts(void **state)
{
	struct ctx *c = *state;
	struct store_stats stats;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	assert_int_equal(submit_text(c, id, ALERTS, 1, K_ALERT, "garbage"), 0);
	assert_int_equal(submit_text(c, id, ALERTS, 2, K_ALERT, "{\"class_uid\":2004}"), 0);
	assert_int_equal(submit(c, id, ALERTS, 3, K_ALERT, T0, ZSTD, "nozstd", 6), 0);
	/* an alert on the wrong stream is not an alert */
	char *text = alert_text("r", NULL, 3, T0, 0, NULL);
	assert_int_equal(submit_text(c, id, EVENTS, 1, K_ALERT, text), 0);
	/* and ingest goes on */
	assert_int_equal(submit_text(c, id, ALERTS, 4, K_ALERT, text), 0);
	store_get_stats(c->st, &stats);
	assert_int_equal(stats.records_unparsed, 3);
	assert_int_equal(query_int(c, "SELECT count(*) FROM alert_groups"), 1);
	free(text);
	free(id);
}

static void test_server_alerts(void **state)
{
	struct ctx *c = *state;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	char *a1 = alert_text("fleet-spray", "10.0.0.9", 4, T0, 2, NULL);
	char *a2 = alert_text("fleet-spray", "10.0.0.9", 4, T0 + SEC, 2, NULL);
	assert_int_equal(store_alert_put(c->st, NULL, a1, strlen(a1)), 0);
	assert_int_equal(store_alert_put(c->st, NULL, a2, strlen(a2)), 0);
	assert_int_equal(store_alert_put(c->st, NULL, "{}", 2), -EBADMSG);
	assert_int_equal(store_alert_put(c->st, "ffffffffffffffffffffffffffffffff", a1, strlen(a1)),
			 -ENOENT);
	json_t *o = list(c, NULL);
	assert_int_equal(jint(o, "total"), 1);
	json_t *g = json_array_get(json_object_get(o, "alerts"), 0);
	assert_int_equal(jint(g, "count"), 2);
	assert_true(json_is_null(json_object_get(g, "host")));
	assert_string_equal(jstr(g, "source"), "correlation");
	json_decref(o);
	free(a1);
	free(a2);
	free(id);
}

static void test_baseline_health(void **state)
{
	struct ctx *c = *state;
	struct store_stats stats;
	json_t *o = NULL;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	assert_int_equal(store_host_baseline(c->st, id, &o), -ENODATA);
	assert_int_equal(store_host_sensors(c->st, id, &o), -ENODATA);
	assert_int_equal(store_host_baseline(c->st, "ffffffffffffffffffffffffffffffff", &o),
			 -ENOENT);
	assert_int_equal(submit_text(c, id, STATE, 1, K_BASELINE, "{\"learning\":true}"), 0);
	assert_int_equal(submit_text(c, id, STATE, 2, K_BASELINE, "{\"learning\":false}"), 0);
	assert_int_equal(submit_text(c, id, STATE, 3, K_BASELINE, "[1]"), 0);
	assert_int_equal(submit_text(c, id, STATE, 4, K_HEALTH,
				     "[{\"name\":\"process\",\"mechanism\":\"ebpf\","
				     "\"active\":true}]"),
			 0);
	assert_int_equal(submit_text(c, id, STATE, 5, K_HEALTH, "[{\"mechanism\":\"x\"}]"), 0);
	assert_int_equal(submit_text(c, id, STATE, 6, K_HEALTH, "{}"), 0);
	store_get_stats(c->st, &stats);
	assert_int_equal(stats.records_unparsed, 3);

	assert_int_equal(store_host_baseline(c->st, id, &o), 0);
	assert_string_equal(jstr(o, "host"), id);
	assert_true(json_is_string(json_object_get(o, "updated")));
	assert_true(json_is_false(json_object_get(json_object_get(o, "summary"), "learning")));
	json_decref(o);
	assert_int_equal(store_host_sensors(c->st, id, &o), 0);
	json_t *s0 = json_array_get(json_object_get(o, "sensors"), 0);
	assert_string_equal(jstr(s0, "mechanism"), "ebpf");
	json_decref(o);
	free(id);
}

static void test_migration(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(store_sqlite_migrate_to(c->path, 2), 0);
	assert_int_equal(query_int(c, "SELECT count(*) FROM sqlite_master WHERE name = 'events'"),
			 0);
	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_schema_version(c->st), 5);
	assert_int_equal(
		query_int(c, "SELECT count(*) FROM sqlite_master WHERE name = 'alert_groups'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grouping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redelivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evidence_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baseline_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
