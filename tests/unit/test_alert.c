/* Unit tests for alerts: evidence bounds, the OCSF Detection Finding form, and the bounded
 * parser the server uses (round trip and rejected input). */
#include "unit.h"

#include "detect/alert.h"
#include "lib/str.h"

#define T0 1790000000000000000LL

static void make_event(struct host_event *ev, int64_t t, const char *user)
{
	host_event_init(ev);
	host_event_reset(ev, EVENT_AUTH_LOGON, t);
	assert_int_equal(host_event_set_str(ev, EF_TARGET_USER, user), 0);
	assert_int_equal(host_event_set_str(ev, EF_SRC_IP, "10.1.2.3"), 0);
	assert_int_equal(host_event_set_str(ev, EF_OUTCOME, "Failure"), 0);
}

static void make_alert(struct alert *a, size_t n_evidence)
{
	memset(a, 0, sizeof(*a));
	alert_new_uid(a);
	a->source = ALERT_CORRELATION;
	a->rule_id = xstrdup("5d3a1b2c-0000-4000-8000-000000000001");
	a->title = xstrdup("SSH password spraying");
	a->level = SIGMA_LEVEL_HIGH;
	strv_push(&a->tags, "attack.credential_access");
	strv_push(&a->tags, "attack.t1110.003");
	strv_push(&a->tags, "attack.t1021.004");
	a->explanation = xstrdup("12 users failed from 10.1.2.3 within 5m");
	a->group_key = xstrdup("10.1.2.3");
	a->hostname = xstrdup("web1");
	for (size_t i = 0; i < n_evidence; i++) {
		struct host_event ev;
		char user[32];
		snprintf(user, sizeof(user), "user%zu", i);
		make_event(&ev, T0 + (int64_t)i * 1000000000, user);
		alert_add_evidence(a, &ev);
		host_event_free(&ev);
	}
	a->time_ns = n_evidence ? a->evidence[a->n_evidence - 1].time_ns : T0;
}

static void test_uid(void **state)
{
	struct alert a = { 0 }, b = { 0 };

	alert_new_uid(&a);
	alert_new_uid(&b);
	assert_int_equal(strlen(a.uid), 32);
	for (size_t i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", a.uid[i]));
	assert_string_not_equal(a.uid, b.uid);
}

static void test_evidence_bounded(void **state)
{
	struct alert a;

	make_alert(&a, ALERT_MAX_EVIDENCE + 5);
	assert_int_equal(a.n_evidence, ALERT_MAX_EVIDENCE);
	/* the oldest were dropped: the first kept is user5 */
	assert_string_equal(host_event_get(&a.evidence[0], EF_TARGET_USER, NULL), "user5");
	assert_string_equal(
		host_event_get(&a.evidence[ALERT_MAX_EVIDENCE - 1], EF_TARGET_USER, NULL),
		"user20");
	alert_clear(&a);
	assert_null(a.rule_id);
	assert_int_equal(a.n_evidence, 0);
	alert_clear(&a); /* twice is fine */
	alert_clear(NULL);
}

static void test_to_json(void **state)
{
	struct alert a;

	make_alert(&a, 3);
	json_t *o = alert_to_json(&a);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), 2004);
	assert_int_equal(json_integer_value(json_object_get(o, "category_uid")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "type_uid")), 200401);
	assert_int_equal(json_integer_value(json_object_get(o, "severity_id")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "time")), T0 / 1000000 + 2000);

	json_t *fi = json_object_get(o, "finding_info");
	assert_string_equal(json_string_value(json_object_get(fi, "uid")), a.uid);
	assert_string_equal(json_string_value(json_object_get(fi, "title")),
			    "SSH password spraying");
	json_t *an = json_object_get(fi, "analytic");
	assert_string_equal(json_string_value(json_object_get(an, "uid")), a.rule_id);
	assert_string_equal(json_string_value(json_object_get(an, "type")), "Rule");
	json_t *attacks = json_object_get(fi, "attacks");
	assert_int_equal(json_array_size(attacks), 2);
	json_t *at0 = json_array_get(attacks, 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(at0, "technique"), "uid")),
		"T1110.003");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(at0, "tactic"), "uid")),
		"TA0006");
	assert_string_equal(json_string_value(json_array_get(json_object_get(fi, "types"), 0)),
			    "correlation");

	json_t *ev = json_object_get(o, "evidence");
	assert_int_equal(json_array_size(ev), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 0), "class_uid")),
			 3002);

	json_t *um = json_object_get(o, "unmapped");
	assert_string_equal(json_string_value(json_object_get(um, "source")), "correlation");
	assert_string_equal(json_string_value(json_object_get(um, "group_key")), "10.1.2.3");
	assert_string_equal(json_string_value(json_object_get(um, "level")), "high");
	assert_string_equal(json_string_value(json_object_get(um, "explanation")), a.explanation);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(o, "device"), "hostname")),
		"web1");
	json_decref(o);
	alert_clear(&a);
}

static void test_round_trip(void **state)
{
	struct alert a;

	make_alert(&a, 2);
	json_t *o = alert_to_json(&a);
	char *text = json_dumps(o, JSON_COMPACT);
	struct alert_summary s;
	assert_int_equal(alert_parse(text, strlen(text), &s), 0);
	assert_string_equal(s.uid, a.uid);
	assert_string_equal(s.source, "correlation");
	assert_string_equal(s.rule_id, a.rule_id);
	assert_string_equal(s.title, a.title);
	assert_int_equal(s.level, SIGMA_LEVEL_HIGH);
	assert_string_equal(s.group_key, "10.1.2.3");
	assert_int_equal(s.time_ns, (T0 + 1000000000) / 1000000 * 1000000);
	assert_int_equal(json_array_size(s.techniques), 2);
	assert_string_equal(json_string_value(json_array_get(s.techniques, 1)), "T1021.004");
	assert_int_equal(json_array_size(s.evidence), 2);
	alert_summary_free(&s);
	alert_summary_free(&s); /* safe after free */
	free(text);
	json_decref(o);
	alert_clear(&a);

	/* an anomaly: score and the Behavioral analytic */
	memset(&a, 0, sizeof(a));
	alert_new_uid(&a);
	a.source = ALERT_ANOMALY;
	a.rule_id = xstrdup("baseline.new_executable");
	a.title = xstrdup("New executable");
	a.level = SIGMA_LEVEL_LOW;
	a.score = 0.75;
	a.time_ns = T0;
	o = alert_to_json(&a);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(o, "finding_info"), "analytic"), "type")),
		"Behavioral");
	text = json_dumps(o, JSON_COMPACT);
	assert_int_equal(alert_parse(text, strlen(text), &s), 0);
	assert_string_equal(s.source, "anomaly");
	assert_null(s.group_key);
	assert_true(s.score > 0.74 && s.score < 0.76);
	assert_int_equal(json_array_size(s.techniques), 0);
	assert_int_equal(json_array_size(s.evidence), 0);
	alert_summary_free(&s);
	free(text);
	json_decref(o);
	alert_clear(&a);
}

/* A valid serialized alert with one member replaced through a JSON pointer-like path. */
static char *mutated(const char *obj, const char *key, json_t *value)
{
	struct alert a;

	make_alert(&a, 1);
	json_t *o = alert_to_json(&a);
	json_t *target = obj ? json_object_get(o, obj) : o;
	if (value)
		json_object_set_new(target, key, value);
	else
		json_object_del(target, key);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	alert_clear(&a);
	return text;
}

static void expect_bad(char *text)
{
	struct alert_summary s;

	assert_int_equal(alert_parse(text, strlen(text), &s), -EBADMSG);
	free(text);
}

static void test_parse_rejects(void **state)
{
	struct alert_summary s;

	assert_int_equal(alert_parse("", 0, &s), -EBADMSG);
	assert_int_equal(alert_parse("{", 1, &s), -EBADMSG);
	assert_int_equal(alert_parse("[]", 2, &s), -EBADMSG);
	assert_int_equal(alert_parse("{\"class_uid\":2004}", 18, &s), -EBADMSG);
	const char dup[] = "{\"class_uid\":2004,\"class_uid\":2004}";
	assert_int_equal(alert_parse(dup, strlen(dup), &s), -EBADMSG);

	expect_bad(mutated(NULL, "class_uid", json_integer(1007)));
	expect_bad(mutated(NULL, "time", json_integer(-1)));
	expect_bad(mutated(NULL, "time", json_string("now")));
	expect_bad(mutated(NULL, "time", json_integer(INT64_MAX)));
	expect_bad(mutated(NULL, "finding_info", json_string("x")));
	expect_bad(mutated("finding_info", "uid", json_string("../../etc/passwd")));
	expect_bad(mutated("finding_info", "uid", NULL));
	expect_bad(mutated("finding_info", "attacks", json_string("T1110")));
	expect_bad(mutated("finding_info", "attacks",
			   json_pack("[{s:{s:s}}]", "technique", "uid", "T11")));
	expect_bad(mutated("finding_info", "attacks",
			   json_pack("[{s:{s:s}}]", "technique", "uid", "T1110'--")));
	expect_bad(mutated("unmapped", "source", json_string("other")));
	expect_bad(mutated("unmapped", "level", json_string("extreme")));
	expect_bad(mutated("unmapped", "score", json_real(1.5)));
	expect_bad(mutated("unmapped", "score", json_string("1")));
	expect_bad(mutated("unmapped", "group_key", json_integer(3)));
	expect_bad(mutated(NULL, "unmapped", NULL));
	expect_bad(mutated(NULL, "evidence", json_pack("[i]", 3)));
	expect_bad(mutated(NULL, "evidence", json_object()));

	json_t *many = json_array();
	for (int i = 0; i < ALERT_MAX_EVIDENCE + 1; i++)
		json_array_append_new(many, json_pack("{s:i}", "class_uid", 1007));
	expect_bad(mutated(NULL, "evidence", many));

	/* a long rule id is refused, a missing level falls back to severity_id */
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct alert a;
	make_alert(&a, 0);
	json_t *o = alert_to_json(&a);
	json_object_del(json_object_get(o, "unmapped"), "level");
	char *text = json_dumps(o, JSON_COMPACT);
	assert_int_equal(alert_parse(text, strlen(text), &s), 0);
	assert_int_equal(s.level, SIGMA_LEVEL_HIGH);
	alert_summary_free(&s);
	free(text);
	json_object_set_new(json_object_get(json_object_get(o, "finding_info"), "analytic"), "uid",
			    json_string(big));
	text = json_dumps(o, JSON_COMPACT);
	assert_int_equal(alert_parse(text, strlen(text), &s), -EBADMSG);
	free(text);
	json_decref(o);
	alert_clear(&a);
}

static void test_names(void **state)
{
	assert_string_equal(alert_level_name(SIGMA_LEVEL_CRITICAL), "critical");
	assert_null(alert_level_name(0));
	assert_null(alert_level_name(6));
	assert_int_equal(alert_level_by_name("High"), SIGMA_LEVEL_HIGH);
	assert_int_equal(alert_level_by_name("bad"), -ENOENT);
	assert_string_equal(alert_source_name(ALERT_ANOMALY), "anomaly");
	assert_null(alert_source_name(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uid),	      cmocka_unit_test(test_evidence_bounded),
		cmocka_unit_test(test_to_json),	      cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_rejects), cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
