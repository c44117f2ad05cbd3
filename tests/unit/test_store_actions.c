/* Unit tests for response actions in the store (store.h, docs/response.md): adding,
 * showing and listing actions with filters; state changes only from the states allowed;
 * action-result records that update the action they name (only for its own host), store the
 * actions the server never saw (edge), and roll back; bad results counted and skipped; the
 * parser of action results; new alerts handed to the batch's done callback; and the checks
 * a scan finds newly failing (with a fix) handed over likewise. */
#include "unit.h"

#include "detect/alert.h"
#include "lib/str.h"
#include "proto/immune.pb-c.h"
#include "store/ingest_parse.h"
#include "store/store.h"

#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#define ALERTS IMMUNE__V1__STREAM__STREAM_ALERTS
#define RAW IMMUNE__V1__ENCODING__ENCODING_RAW
#define K_ALERT IMMUNE__V1__RECORD_KIND__RECORD_ALERT
#define K_RESULT IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT
#define STATE IMMUNE__V1__STREAM__STREAM_STATE
#define K_SCAN IMMUNE__V1__RECORD_KIND__RECORD_SCAN

#define SEC 1000000000LL
#define T0 (1800000000LL * SEC)
#define UID1 "11111111111111111111111111111111"
#define UID2 "22222222222222222222222222222222"
#define UID3 "33333333333333333333333333333333"

struct ctx {
	char dir[64];
	char path[128];
	char url[160];
	struct store *st;
	char *h1, *h2;
};

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));

	snprintf(c->dir, sizeof(c->dir), "/tmp/test-store-actions-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/store.db", c->dir);
	snprintf(c->url, sizeof(c->url), "sqlite:%s", c->path);
	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_host_enroll(c->st, "m1", "web-1", NULL, 0, "01", 0, 1000, &c->h1),
			 0);
	assert_int_equal(store_host_enroll(c->st, "m2", "db-1", NULL, 0, "02", 0, 1000, &c->h2), 0);
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
	free(c->h1);
	free(c->h2);
	free(c);
	return 0;
}

/* ---- submitting records ---- */

static pthread_mutex_t wm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int pending, last_result;
static size_t last_new_alerts;
static char *last_alert;
static strv last_failing; /* "check_id severity fix_json" of the last batch's newly failing */

static void on_done(struct store_batch *b, int result, uint64_t committed, void *userdata)
{
	pthread_mutex_lock(&wm);
	pending--;
	last_result = result;
	last_new_alerts = b->n_new_alerts;
	free(last_alert);
	last_alert = b->n_new_alerts ? xstrdup(b->new_alerts[0]) : NULL;
	strv_free(last_failing);
	last_failing = NULL;
	for (size_t i = 0; i < b->n_new_failing; i++)
		strv_push_take(
			&last_failing,
			xasprintf("%s %s %s", b->new_failing[i].check_id,
				  b->new_failing[i].severity ? b->new_failing[i].severity : "-",
				  b->new_failing[i].fix_json));
	pthread_cond_broadcast(&wcv);
	pthread_mutex_unlock(&wm);
}

static int submit_to(struct ctx *c, const char *host, uint32_t stream, uint64_t seq, uint32_t kind,
		     const char *text)
{
	struct store_batch *b = store_batch_new(host, stream, 1);

	store_batch_set(b, 0, seq, kind, T0, RAW, text, strlen(text));
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

static int submit(struct ctx *c, const char *host, uint64_t seq, uint32_t kind, const char *text)
{
	return submit_to(c, host, ALERTS, seq, kind, text);
}

/* A result record's JSON (caller frees). */
static char *result_text(const char *uid, const char *kind, const char *op, const char *status,
			 const char *origin, const char *message)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:{s:i}, s:I, s:I}", "uid", uid,
			  "kind", kind, "op", op, "params", "address", "192.0.2.7", "status",
			  status, "message", message, "origin", origin, "detail", "elements", 1,
			  "requested_ns", (json_int_t)(T0 - SEC), "finished_ns", (json_int_t)T0);
	char *t = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return t;
}

static void add(struct ctx *c, const char *uid, const char *host, const char *state,
		int64_t created)
{
	struct store_action_new n = {
		.uid = uid,
		.host_id = host,
		.kind = "block-address",
		.op = "apply",
		.params_json = "{\"address\":\"192.0.2.7\",\"duration\":3600}",
		.mode = !strcmp(state, "pending_approval") ? "approve" : "manual",
		.state = state,
		.origin = "server",
		.trigger_json =
			"{\"alert_uid\":\"a\",\"rule_id\":\"r\",\"playbook\":\"p\",\"step\":0}",
		.requested_by = "admin",
		.created_ns = created,
	};

	assert_int_equal(store_action_add(c->st, &n), 0);
}

static json_t *get(struct ctx *c, const char *uid)
{
	json_t *o = NULL;

	assert_int_equal(store_action_get(c->st, uid, &o), 0);
	return o;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static size_t list_count(struct ctx *c, const char *host, const char *state, int64_t since)
{
	struct store_action_filter f = { .host = host, .state = state, .since_ns = since };
	json_t *o = NULL;
	size_t n;

	assert_int_equal(store_actions_list(c->st, &f, &o), 0);
	n = json_array_size(json_object_get(o, "actions"));
	assert_int_equal(json_integer_value(json_object_get(o, "count")), n);
	json_decref(o);
	return n;
}

/* ---- tests ---- */

static void test_add_get_list(void **state)
{
	struct ctx *c = *state;
	struct store_action_new dup = { .uid = UID1,
					.host_id = "f00",
					.kind = "lock-user",
					.op = "apply",
					.mode = "manual",
					.state = "sent",
					.origin = "manual",
					.created_ns = T0 };
	struct store_action_filter f = { .limit = 2 };
	json_t *a, *l = NULL;

	add(c, UID1, c->h1, "sent", T0);
	add(c, UID2, c->h2, "pending_approval", T0 + SEC);
	add(c, UID3, c->h1, "notified", T0 + 2 * SEC);
	assert_int_equal(store_action_add(c->st, &dup), -ENOENT); /* unknown host */
	dup.host_id = c->h1;
	assert_int_equal(store_action_add(c->st, &dup), -EEXIST);

	a = get(c, UID1);
	assert_string_equal(jstr(a, "uid"), UID1);
	assert_string_equal(jstr(a, "host"), c->h1);
	assert_string_equal(jstr(a, "hostname"), "web-1");
	assert_string_equal(jstr(a, "kind"), "block-address");
	assert_string_equal(jstr(a, "state"), "sent");
	assert_string_equal(jstr(a, "requested_by"), "admin");
	assert_true(json_is_null(json_object_get(a, "approved_by")));
	assert_string_equal(jstr(json_object_get(a, "params"), "address"), "192.0.2.7");
	assert_string_equal(jstr(json_object_get(a, "trigger"), "playbook"), "p");
	assert_non_null(jstr(a, "created"));
	assert_non_null(jstr(a, "sent")); /* added as sent: sent at creation */
	assert_true(json_is_null(json_object_get(a, "finished")));
	json_decref(a);
	assert_int_equal(store_action_get(c->st, "nothex", &a), -ENOENT);
	assert_int_equal(store_action_get(c->st, "44444444444444444444444444444444", &a), -ENOENT);

	assert_int_equal(list_count(c, NULL, NULL, 0), 3);
	assert_int_equal(list_count(c, c->h1, NULL, 0), 2);
	assert_int_equal(list_count(c, "db-1", NULL, 0), 1); /* by hostname */
	assert_int_equal(list_count(c, NULL, "pending_approval", 0), 1);
	assert_int_equal(list_count(c, NULL, NULL, T0 + SEC), 2);
	assert_int_equal(list_count(c, "nobody", NULL, 0), 0);
	/* newest first, limited */
	assert_int_equal(store_actions_list(c->st, &f, &l), 0);
	assert_int_equal(json_array_size(json_object_get(l, "actions")), 2);
	assert_string_equal(jstr(json_array_get(json_object_get(l, "actions"), 0), "uid"), UID3);
	json_decref(l);
}

static void test_update(void **state)
{
	struct ctx *c = *state;
	static const char *const pend[] = { "pending_approval", NULL };
	json_t *a;

	add(c, UID2, c->h2, "pending_approval", T0);
	assert_int_equal(store_action_update(c->st, UID1, pend, "sent", "ops", NULL, T0), -ENOENT);
	assert_int_equal(store_action_update(c->st, UID2, pend, "sent", "ops", NULL, T0 + SEC), 0);
	/* approving twice: no longer pending */
	assert_int_equal(store_action_update(c->st, UID2, pend, "sent", "eve", NULL, T0), -EBUSY);
	a = get(c, UID2);
	assert_string_equal(jstr(a, "state"), "sent");
	assert_string_equal(jstr(a, "approved_by"), "ops");
	assert_non_null(jstr(a, "sent"));
	assert_true(json_is_null(json_object_get(a, "finished")));
	json_decref(a);

	add(c, UID3, c->h1, "pending_approval", T0);
	assert_int_equal(
		store_action_update(c->st, UID3, pend, "rejected", NULL, "rejected by ops", T0), 0);
	a = get(c, UID3);
	assert_string_equal(jstr(a, "state"), "rejected");
	assert_string_equal(jstr(a, "message"), "rejected by ops");
	assert_non_null(jstr(a, "finished"));
	assert_true(json_is_null(json_object_get(a, "sent")));
	json_decref(a);

	/* pending too long: expired; newer pending ones and other states stay */
	add(c, UID1, c->h1, "pending_approval", T0 + 10 * SEC);
	add(c, "44444444444444444444444444444444", c->h1, "pending_approval", T0);
	assert_int_equal(store_actions_expire(c->st, T0 + 5 * SEC, T0 + 20 * SEC), 1);
	assert_int_equal(store_actions_expire(c->st, T0 + 5 * SEC, T0 + 20 * SEC), 0);
	a = get(c, "44444444444444444444444444444444");
	assert_string_equal(jstr(a, "state"), "expired");
	assert_string_equal(jstr(a, "message"), "not approved in time");
	json_decref(a);
	a = get(c, UID1);
	assert_string_equal(jstr(a, "state"), "pending_approval");
	json_decref(a);
	assert_int_equal(list_count(c, NULL, "expired", 0), 1);
	assert_int_equal(list_count(c, NULL, "rejected", 0), 1);
}

static void test_results(void **state)
{
	struct ctx *c = *state;
	struct store_stats st0, st1;
	json_t *a;
	char *t;

	store_get_stats(c->st, &st0);
	add(c, UID1, c->h1, "sent", T0);
	/* the same uid from another host is refused and changes nothing */
	t = result_text(UID1, "block-address", "apply", "verified", "server", "blocked");
	assert_int_equal(submit(c, c->h2, 1, K_RESULT, t), 0);
	a = get(c, UID1);
	assert_string_equal(jstr(a, "state"), "sent");
	json_decref(a);
	/* from its host: verified */
	assert_int_equal(submit(c, c->h1, 1, K_RESULT, t), 0);
	free(t);
	a = get(c, UID1);
	assert_string_equal(jstr(a, "state"), "verified");
	assert_string_equal(jstr(a, "message"), "blocked");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(a, "detail"), "elements")), 1);
	assert_non_null(jstr(a, "finished"));
	json_decref(a);

	/* a rollback the agent refuses: the action stays verified, the message says why */
	t = result_text(UID1, "block-address", "rollback", "refused", "server", "no undo record");
	assert_int_equal(submit(c, c->h1, 2, K_RESULT, t), 0);
	free(t);
	a = get(c, UID1);
	assert_string_equal(jstr(a, "state"), "verified");
	assert_string_equal(jstr(a, "message"), "rollback refused: no undo record");
	json_decref(a);
	/* then one it does */
	t = result_text(UID1, "block-address", "rollback", "rolled_back", "server", "unblocked");
	assert_int_equal(submit(c, c->h1, 3, K_RESULT, t), 0);
	free(t);
	a = get(c, UID1);
	assert_string_equal(jstr(a, "state"), "rolled_back");
	assert_string_equal(jstr(a, "message"), "unblocked");
	json_decref(a);

	/* an edge action the server never saw is stored from its result */
	t = result_text(UID2, "block-address", "apply", "failed", "edge", "nft refused");
	assert_int_equal(submit(c, c->h2, 2, K_RESULT, t), 0);
	free(t);
	a = get(c, UID2);
	assert_string_equal(jstr(a, "state"), "failed");
	assert_string_equal(jstr(a, "origin"), "edge");
	assert_string_equal(jstr(a, "mode"), "auto");
	assert_string_equal(jstr(a, "host"), c->h2);
	assert_string_equal(jstr(a, "requested_by"), "agent");
	json_decref(a);

	/* garbage: counted, skipped, the stream goes on */
	assert_int_equal(submit(c, c->h2, 3, K_RESULT, "{\"uid\": 5}"), 0);
	assert_int_equal(submit(c, c->h2, 4, K_RESULT, "not json"), 0);
	store_get_stats(c->st, &st1);
	assert_int_equal(st1.records_unparsed - st0.records_unparsed, 3); /* + the other host */
	assert_int_equal(st1.action_results - st0.action_results, 4);
	assert_int_equal(list_count(c, NULL, NULL, 0), 2);
}

static void test_new_alerts(void **state)
{
	struct ctx *c = *state;
	struct alert a = { 0 };
	json_t *o;
	char *text;

	alert_new_uid(&a);
	a.source = ALERT_RULE;
	a.rule_id = xstrdup("rule-1");
	a.title = xstrdup("A rule");
	a.level = 4;
	a.hostname = xstrdup("web-1");
	a.time_ns = T0;
	o = alert_to_json(&a);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	alert_clear(&a);

	assert_int_equal(submit(c, c->h1, 1, K_ALERT, text), 0);
	assert_int_equal(last_new_alerts, 1);
	assert_string_equal(last_alert, text);
	/* the same alert again (a new record): not new */
	assert_int_equal(submit(c, c->h1, 2, K_ALERT, text), 0);
	assert_int_equal(last_new_alerts, 0);
	/* a result is not an alert */
	free(text);
	text = result_text(UID1, "lock-user", "apply", "verified", "edge", "locked");
	assert_int_equal(submit(c, c->h1, 3, K_RESULT, text), 0);
	assert_int_equal(last_new_alerts, 0);
	free(text);
	free(last_alert);
	last_alert = NULL;
}

static void test_parse(void **state)
{
	struct ingest_action a;
	char *t = result_text(UID1, "kill-process", "apply", "verified", "edge", "killed");
	char big[INGEST_MAX_ACTION_MESSAGE + 2];
	static const char *const bad[] = {
		"{}",
		"[]",
		"{\"uid\":\"" UID1 "\"}",
		/* an unknown key */
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"edge\",\"extra\":1}",
		/* an unknown kind, op, status, origin */
		"{\"uid\":\"" UID1 "\",\"kind\":\"format-disk\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"edge\"}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"undo\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"edge\"}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"great\",\"origin\":\"edge\"}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"mars\"}",
		/* an uppercase uid, params not an object, a negative time, a bad trigger */
		"{\"uid\":\"ABCDEF0123456789ABCDEF0123456789\",\"kind\":\"lock-user\",\"op\":"
		"\"apply\",\"params\":{},\"status\":\"verified\",\"origin\":\"edge\"}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":[],"
		"\"status\":\"verified\",\"origin\":\"edge\"}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"edge\",\"finished_ns\":-1}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"edge\",\"trigger\":{\"step\":\"x\"}}",
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\",\"params\":{},"
		"\"status\":\"verified\",\"origin\":\"edge\",\"uid\":\"" UID2 "\"}",
	};

	assert_int_equal(ingest_parse_action_result(t, strlen(t), &a), 0);
	assert_string_equal(a.uid, UID1);
	assert_string_equal(a.kind, "kill-process");
	assert_string_equal(a.status, "verified");
	assert_string_equal(a.origin, "edge");
	assert_string_equal(a.message, "killed");
	assert_int_equal(a.finished_ns, T0);
	assert_null(a.trigger);
	ingest_action_free(&a);
	free(t);
	/* a trigger whose parts are null (an edge action without a playbook name) */
	t = xstrdup(
		"{\"uid\":\"" UID1 "\",\"kind\":\"lock-user\",\"op\":\"apply\","
		"\"params\":{\"user\":\"eve\"},\"status\":\"verified\",\"origin\":\"edge\","
		"\"trigger\":{\"alert_uid\":null,\"rule_id\":\"r\",\"playbook\":null,\"step\":0}}");
	assert_int_equal(ingest_parse_action_result(t, strlen(t), &a), 0);
	assert_non_null(a.trigger);
	ingest_action_free(&a);
	free(t);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ingest_parse_action_result(bad[i], strlen(bad[i]), &a), -EBADMSG);
	assert_int_equal(ingest_parse_action_result(NULL, 0, &a), -EBADMSG);
	/* a message over the cap */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	t = result_text(UID1, "kill-process", "apply", "verified", "edge", big);
	assert_int_equal(ingest_parse_action_result(t, strlen(t), &a), -EBADMSG);
	free(t);
}

/* A scan document with the results given as a JSON array text (caller frees). */
static char *scan_text(const char *results)
{
	return xasprintf("{\"schema\": \"immune.scan/v1\", \"started_at\": "
			 "\"2027-01-15T10:00:00Z\", \"summary\": {\"score\": 50, \"fail\": 1}, "
			 "\"results\": %s}",
			 results);
}

static size_t strv_count(strv v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

#define FIX_A "{\"type\": \"config_set\", \"key\": \"PermitRootLogin\", \"value\": \"no\"}"

static void test_new_failing(void **state)
{
	struct ctx *c = *state;
	char *t;

	/* a first scan: every failing check with a fix is new; no fix (null or absent), a pass,
	 * an error: not listed */
	t = scan_text(
		"[{\"id\": \"a\", \"status\": \"fail\", \"severity\": \"high\", "
		"\"fix\": " FIX_A "},"
		" {\"id\": \"b\", \"status\": \"fail\", \"severity\": \"low\", \"fix\": null},"
		" {\"id\": \"c\", \"status\": \"fail\"},"
		" {\"id\": \"d\", \"status\": \"pass\", \"fix\": {\"type\": \"x\"}},"
		" {\"id\": \"e\", \"status\": \"error\", \"fix\": {\"type\": \"x\"}}]");
	assert_int_equal(submit_to(c, c->h1, STATE, 1, K_SCAN, t), 0);
	free(t);
	assert_int_equal(strv_count(last_failing), 1);
	assert_string_equal(last_failing[0], "a high {\"type\":\"config_set\",\"key\":"
					     "\"PermitRootLogin\",\"value\":\"no\"}");

	/* a still failing, d and e now failing (pass -> fail, error -> fail) */
	t = scan_text("[{\"id\": \"a\", \"status\": \"fail\", \"fix\": " FIX_A "},"
		      " {\"id\": \"d\", \"status\": \"fail\", \"severity\": \"critical\","
		      " \"fix\": {\"type\": \"x\"}},"
		      " {\"id\": \"e\", \"status\": \"fail\", \"fix\": {\"type\": \"y\"}}]");
	assert_int_equal(submit_to(c, c->h1, STATE, 2, K_SCAN, t), 0);
	free(t);
	assert_int_equal(strv_count(last_failing), 2);
	assert_string_equal(last_failing[0], "d critical {\"type\":\"x\"}");
	assert_string_equal(last_failing[1], "e - {\"type\":\"y\"}");

	/* the same scan again: nothing new; the other host's first scan is its own */
	t = scan_text("[{\"id\": \"a\", \"status\": \"fail\", \"fix\": " FIX_A "}]");
	assert_int_equal(submit_to(c, c->h1, STATE, 3, K_SCAN, t), 0);
	assert_int_equal(strv_count(last_failing), 0);
	assert_int_equal(submit_to(c, c->h2, STATE, 1, K_SCAN, t), 0);
	assert_int_equal(strv_count(last_failing), 1);
	free(t);

	/* a passes, then fails again: listed again; a record already stored: nothing */
	t = scan_text("[{\"id\": \"a\", \"status\": \"pass\", \"fix\": " FIX_A "}]");
	assert_int_equal(submit_to(c, c->h1, STATE, 4, K_SCAN, t), 0);
	free(t);
	assert_int_equal(strv_count(last_failing), 0);
	t = scan_text("[{\"id\": \"a\", \"status\": \"fail\", \"fix\": " FIX_A "}]");
	assert_int_equal(submit_to(c, c->h1, STATE, 5, K_SCAN, t), 0);
	assert_int_equal(strv_count(last_failing), 1);
	assert_int_equal(submit_to(c, c->h1, STATE, 5, K_SCAN, t), 0);
	assert_int_equal(strv_count(last_failing), 0);
	free(t);
	strv_free(last_failing);
	last_failing = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_get_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_results, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_failing, setup, teardown),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
