/* The detection pipeline: rule alerts with rule id, level, tags and evidence; no alert for a
 * non-matching event; an event_count correlation fires once with evidence and, with
 * generate: false, its referenced rule does not alert alone; baseline anomalies after the
 * learning period; statistics; a malformed rule is reported while the others load; the sink
 * gets each event's OCSF line followed by its alerts; concurrent callers. */
#include "unit.h"

#include "detect/pipeline.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC INT64_C(1000000000)
#define HOUR (3600 * SEC)
/* 2026-11-22T10:00:00Z */
#define T0 (INT64_C(1795341600) * SEC)

static const char exec_rule[] = "title: Shell from a web server\n"
				"id: 3f1c9a52-0000-4000-8000-000000000001\n"
				"description: a web server started a shell\n"
				"level: high\n"
				"tags:\n  - attack.execution\n  - attack.t1059.004\n"
				"logsource:\n  product: linux\n  category: process_creation\n"
				"detection:\n  sel:\n    ParentImage|endswith: /nginx\n"
				"    Image|endswith:\n      - /sh\n      - /bash\n"
				"  condition: sel\n";

static const char brute_rules[] = "title: SSH login failed\n"
				  "id: 3f1c9a52-0000-4000-8000-000000000002\n"
				  "name: ssh_failed\n"
				  "level: low\n"
				  "logsource:\n  product: linux\n  service: sshd\n"
				  "detection:\n  sel:\n    outcome: failure\n  condition: sel\n"
				  "---\n"
				  "title: SSH brute force\n"
				  "id: 3f1c9a52-0000-4000-8000-000000000003\n"
				  "level: high\n"
				  "tags:\n  - attack.credential_access\n  - attack.t1110.001\n"
				  "correlation:\n  type: event_count\n  rules:\n    - ssh_failed\n"
				  "  group-by:\n    - SourceIp\n  timespan: 60s\n"
				  "  condition:\n    gte: 5\n";

static const char bad_rule[] = "title: Broken\n"
			       "id: 3f1c9a52-0000-4000-8000-0000000000ff\n"
			       "logsource:\n  product: linux\n  category: process_creation\n"
			       "detection:\n  sel:\n    Image|nosuchmodifier: /x\n"
			       "  condition: sel\n";

struct seen {
	pthread_mutex_t lock;
	size_t events, alerts;
	size_t order_ok; /* alerts that came right after their event */
	size_t bad;	 /* event lines whose length was wrong */
	uint64_t last_event_id;
	struct alert last; /* copy of the latest alert's main members */
	char rule_ids[16][64];
	char last_line[4096];
};

static void on_event(const struct host_event *ev, const char *json, size_t len, void *arg)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	s->events++;
	s->last_event_id = ev->id;
	if (strlen(json) != len)
		s->bad++;
	snprintf(s->last_line, sizeof(s->last_line), "%s", json);
	pthread_mutex_unlock(&s->lock);
}

static void on_alert(const struct alert *a, void *arg)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	if (s->alerts < 16)
		snprintf(s->rule_ids[s->alerts], sizeof(s->rule_ids[0]), "%s", a->rule_id);
	s->alerts++;
	for (size_t i = 0; i < a->n_evidence; i++)
		if (a->evidence[i].id == s->last_event_id)
			s->order_ok++;
	alert_clear(&s->last);
	s->last.source = a->source;
	s->last.rule_id = xstrdup(a->rule_id);
	s->last.title = xstrdup(a->title);
	s->last.level = a->level;
	for (char **t = a->tags; t && *t; t++)
		strv_push(&s->last.tags, *t);
	s->last.explanation = a->explanation ? xstrdup(a->explanation) : NULL;
	s->last.group_key = a->group_key ? xstrdup(a->group_key) : NULL;
	s->last.score = a->score;
	s->last.time_ns = a->time_ns;
	s->last.hostname = xstrdup(a->hostname);
	for (size_t i = 0; i < a->n_evidence; i++)
		alert_add_evidence(&s->last, &a->evidence[i]);
	/* the serialized form the outputs get */
	json_t *j = alert_to_json(a);
	if (!j)
		s->bad++;
	json_decref(j);
	pthread_mutex_unlock(&s->lock);
}

struct ctx {
	char dir[64];
	struct seen seen;
	struct host_event ev;
	struct pipeline *p;
};

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/immune-test-pipeline-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	pthread_mutex_init(&c->seen.lock, NULL);
	host_event_init(&c->ev);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	pipeline_free(c->p);
	char *cmd = xasprintf("rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	host_event_free(&c->ev);
	alert_clear(&c->seen.last);
	pthread_mutex_destroy(&c->seen.lock);
	free(c);
	return 0;
}

static void write_file(struct ctx *c, const char *name, const char *text)
{
	char *path = xasprintf("%s/rules/%s", c->dir, name);
	char *dir = xasprintf("%s/rules", c->dir);
	mkdir(dir, 0700);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(path);
	free(dir);
}

/* A pipeline over the rules written so far, sink to c->seen. */
static struct pipeline *open_pipeline(struct ctx *c, bool baseline, int64_t learning_ns)
{
	char *rules = xasprintf("%s/rules", c->dir);
	char *bl = xasprintf("%s/baseline.state", c->dir);
	struct pipeline_options o = {
		.rules = rules,
		.hostname = "web-1",
		.baseline_path = baseline ? bl : NULL,
		.baseline_learning_ns = learning_ns,
		.sink = { .event = on_event, .alert = on_alert, .arg = &c->seen },
	};
	assert_int_equal(pipeline_new(&o, &c->p), 0);
	free(rules);
	free(bl);
	return c->p;
}

static struct host_event *exec_ev(struct ctx *c, int64_t t, const char *image, const char *parent)
{
	host_event_reset(&c->ev, EVENT_PROCESS_EXEC, t);
	c->ev.id = 0;
	assert_int_equal(host_event_set_str(&c->ev, EF_IMAGE, image), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_PARENT_IMAGE, parent), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_COMMAND_LINE, image), 0);
	return &c->ev;
}

static struct host_event *login_ev(struct ctx *c, int64_t t, const char *ip, const char *outcome)
{
	host_event_reset(&c->ev, EVENT_AUTH_LOGON, t);
	c->ev.id = 0;
	assert_int_equal(host_event_set_str(&c->ev, EF_SRC_IP, ip), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_TARGET_USER, "root"), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_OUTCOME, outcome), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_SERVICE, "sshd"), 0);
	return &c->ev;
}

static void test_rule_alert(void **state)
{
	struct ctx *c = *state;
	write_file(c, "exec.yml", exec_rule);
	struct pipeline *p = open_pipeline(c, false, 0);
	size_t n;
	sigma_ruleset_errors(pipeline_rules(p), &n);
	assert_int_equal(n, 0);

	/* not matching: an event line, no alert */
	pipeline_event(p, exec_ev(c, T0, "/usr/bin/bash", "/usr/sbin/sshd"));
	assert_int_equal(c->seen.events, 1);
	assert_int_equal(c->seen.alerts, 0);
	/* the pipeline gave the event an id and the hostname */
	assert_true(c->ev.id != 0);
	assert_string_equal(host_event_get(&c->ev, EF_HOSTNAME, NULL), "web-1");
	assert_non_null(strstr(c->seen.last_line, "\"hostname\":\"web-1\""));
	uint64_t first_id = c->ev.id;

	/* matching */
	pipeline_event(p, exec_ev(c, T0 + SEC, "/usr/bin/bash", "/usr/sbin/nginx"));
	assert_true(c->ev.id != first_id);
	assert_int_equal(c->seen.events, 2);
	assert_int_equal(c->seen.alerts, 1);
	assert_int_equal(c->seen.order_ok, 1);
	struct alert *a = &c->seen.last;
	assert_int_equal(a->source, ALERT_RULE);
	assert_string_equal(a->rule_id, "3f1c9a52-0000-4000-8000-000000000001");
	assert_string_equal(a->title, "Shell from a web server");
	assert_int_equal(a->level, SIGMA_LEVEL_HIGH);
	assert_non_null(a->tags);
	assert_string_equal(a->tags[0], "attack.execution");
	assert_string_equal(a->tags[1], "attack.t1059.004");
	assert_null(a->tags[2]);
	assert_string_equal(a->explanation, "a web server started a shell");
	assert_string_equal(a->hostname, "web-1");
	assert_true(a->time_ns == T0 + SEC);
	assert_int_equal(a->n_evidence, 1);
	assert_int_equal(a->evidence[0].kind, EVENT_PROCESS_EXEC);
	assert_string_equal(host_event_get(&a->evidence[0], EF_PARENT_IMAGE, NULL),
			    "/usr/sbin/nginx");

	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.events, 2);
	assert_int_equal(st.rule_matches, 1);
	assert_int_equal(st.alerts, 1);
	assert_int_equal(st.anomalies, 0);
	assert_int_equal(st.output_errors, 0);
}

static void test_correlation(void **state)
{
	struct ctx *c = *state;
	write_file(c, "brute.yml", brute_rules);
	struct pipeline *p = open_pipeline(c, false, 0);
	size_t n;
	sigma_ruleset_errors(pipeline_rules(p), &n);
	assert_int_equal(n, 0);

	/* successes and another source do not count */
	pipeline_event(p, login_ev(c, T0, "198.51.100.9", "success"));
	pipeline_event(p, login_ev(c, T0, "198.51.100.8", "failure"));
	for (int i = 0; i < 4; i++)
		pipeline_event(p, login_ev(c, T0 + i * SEC, "192.0.2.7", "failure"));
	/* the referenced rule does not alert alone (generate: false) */
	assert_int_equal(c->seen.alerts, 0);
	pipeline_event(p, login_ev(c, T0 + 10 * SEC, "192.0.2.7", "failure"));
	assert_int_equal(c->seen.alerts, 1);
	struct alert *a = &c->seen.last;
	assert_int_equal(a->source, ALERT_CORRELATION);
	assert_string_equal(a->rule_id, "3f1c9a52-0000-4000-8000-000000000003");
	assert_string_equal(a->title, "SSH brute force");
	assert_int_equal(a->level, SIGMA_LEVEL_HIGH);
	assert_string_equal(a->tags[1], "attack.t1110.001");
	assert_string_equal(a->group_key, "192.0.2.7");
	assert_int_equal(a->n_evidence, 5);
	for (size_t i = 0; i < a->n_evidence; i++)
		assert_string_equal(host_event_get(&a->evidence[i], EF_SRC_IP, NULL), "192.0.2.7");
	assert_true(a->time_ns == T0 + 10 * SEC);
	assert_non_null(a->explanation);
	assert_non_null(strstr(a->explanation, "ssh_failed"));
	assert_non_null(strstr(a->explanation, "192.0.2.7"));
	/* fires once: the next failure starts over */
	pipeline_event(p, login_ev(c, T0 + 11 * SEC, "192.0.2.7", "failure"));
	assert_int_equal(c->seen.alerts, 1);

	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.events, 8);
	assert_int_equal(st.rule_matches, 7);
	assert_int_equal(st.alerts, 1);

	/* the window: four more failures, a tick past the window, the fifth does not fire */
	pipeline_tick(p, T0 + 100 * SEC);
	for (int i = 0; i < 4; i++)
		pipeline_event(p, login_ev(c, T0 + (100 + i) * SEC, "192.0.2.7", "failure"));
	pipeline_tick(p, T0 + 200 * SEC);
	pipeline_event(p, login_ev(c, T0 + 201 * SEC, "192.0.2.7", "failure"));
	assert_int_equal(c->seen.alerts, 1);
}

static void test_generate_true(void **state)
{
	struct ctx *c = *state;
	char *text = xasprintf("%s  generate: true\n", brute_rules);
	write_file(c, "brute.yml", text);
	free(text);
	struct pipeline *p = open_pipeline(c, false, 0);

	for (int i = 0; i < 5; i++)
		pipeline_event(p, login_ev(c, T0 + i * SEC, "192.0.2.7", "failure"));
	/* five rule alerts plus the correlation */
	assert_int_equal(c->seen.alerts, 6);
	assert_string_equal(c->seen.rule_ids[0], "3f1c9a52-0000-4000-8000-000000000002");
	assert_string_equal(c->seen.rule_ids[5], "3f1c9a52-0000-4000-8000-000000000003");
}

static void test_anomaly(void **state)
{
	struct ctx *c = *state;
	write_file(c, "exec.yml", exec_rule);
	struct pipeline *p = open_pipeline(c, true, SEC);

	/* learning */
	pipeline_event(p, exec_ev(c, T0, "/usr/bin/ls", "/usr/bin/bash"));
	assert_int_equal(c->seen.alerts, 0);
	/* after learning, a known program with a new parent: one anomaly */
	pipeline_event(p, exec_ev(c, T0 + HOUR, "/usr/bin/ls", "/usr/sbin/cron"));
	assert_int_equal(c->seen.alerts, 1);
	assert_string_equal(c->seen.rule_ids[0], "baseline.new_parent_child");
	/* a never seen program (its parent pair is new too): two */
	pipeline_event(p, exec_ev(c, T0 + HOUR, "/tmp/.x/miner", "/usr/bin/bash"));
	assert_int_equal(c->seen.alerts, 3);
	assert_string_equal(c->seen.rule_ids[1], "baseline.new_executable");
	assert_string_equal(c->seen.rule_ids[2], "baseline.new_parent_child");
	struct alert *a = &c->seen.last;
	assert_int_equal(a->source, ALERT_ANOMALY);
	assert_int_equal(a->level, SIGMA_LEVEL_LOW);
	assert_string_equal(a->group_key, "/usr/bin/bash");
	assert_true(a->score > 0 && a->score <= 1);
	assert_non_null(a->explanation);
	assert_non_null(strstr(a->explanation, "/tmp/.x/miner"));
	assert_int_equal(a->n_evidence, 1);
	assert_string_equal(host_event_get(&a->evidence[0], EF_IMAGE, NULL), "/tmp/.x/miner");
	/* reported once */
	pipeline_event(p, exec_ev(c, T0 + HOUR + SEC, "/tmp/.x/miner", "/usr/bin/bash"));
	assert_int_equal(c->seen.alerts, 3);

	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.anomalies, 3);
	assert_int_equal(st.alerts, 3);

	/* the tick saves the baselines */
	pipeline_tick(p, T0 + HOUR + 2 * SEC);
	char *path = xasprintf("%s/baseline.state", c->dir);
	assert_int_equal(access(path, F_OK), 0);
	free(path);
}

static void test_bad_rule(void **state)
{
	struct ctx *c = *state;
	write_file(c, "a_bad.yml", bad_rule);
	write_file(c, "b_exec.yml", exec_rule);
	struct pipeline *p = open_pipeline(c, false, 0);
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(pipeline_rules(p), &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(e[0].file, "a_bad.yml"));
	assert_string_equal(e[0].rule_id, "3f1c9a52-0000-4000-8000-0000000000ff");
	assert_int_equal(sigma_ruleset_count(pipeline_rules(p)), 1);
	/* the good rule still works */
	pipeline_event(p, exec_ev(c, T0, "/bin/sh", "/usr/sbin/nginx"));
	assert_int_equal(c->seen.alerts, 1);
}

static void test_no_rules(void **state)
{
	struct ctx *c = *state;
	struct pipeline_options o = { .hostname = "h" };
	assert_int_equal(pipeline_new(&o, &c->p), 0);
	assert_int_equal(sigma_ruleset_count(pipeline_rules(c->p)), 0);
	pipeline_event(c->p, exec_ev(c, T0, "/bin/sh", "/usr/sbin/nginx"));
	struct pipeline_stats st;
	pipeline_stats(c->p, &st);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.alerts, 0);
	pipeline_tick(c->p, T0);

	/* a rules path that does not exist is an error */
	struct pipeline *q = NULL;
	o.rules = "/nonexistent/immune-rules";
	assert_true(pipeline_new(&o, &q) < 0);
	assert_null(q);
}

/* With outputs: the event line and the alert (its OCSF Detection Finding) reach them. */
static void test_outputs(void **state)
{
	struct ctx *c = *state;
	write_file(c, "exec.yml", exec_rule);
	char *conf = xasprintf("outputs:\n  - type: file\n    path: %s/all.jsonl\n"
			       "    what: [events, alerts]\n",
			       c->dir);
	char err[256];
	struct outputs *out = NULL;
	assert_int_equal(outputs_parse(conf, strlen(conf), "agent.yaml", &out, err, sizeof(err)),
			 0);
	assert_int_equal(outputs_start(out, err, sizeof(err)), 0);
	free(conf);
	char *rules = xasprintf("%s/rules", c->dir);
	struct pipeline_options o = { .rules = rules, .hostname = "web-1", .outputs = out };
	assert_int_equal(pipeline_new(&o, &c->p), 0);
	pipeline_event(c->p, exec_ev(c, T0, "/bin/sh", "/usr/sbin/nginx"));
	pipeline_event(c->p, exec_ev(c, T0 + SEC, "/bin/true", "/usr/sbin/nginx"));
	pipeline_free(c->p);
	c->p = NULL;
	outputs_free(out);
	free(rules);

	char *path = xasprintf("%s/all.jsonl", c->dir);
	struct buf b = { 0 };
	assert_int_equal(file_read_capped(path, 1u << 20, &b), 0);
	free(path);
	/* two events and one alert, one JSON object a line */
	size_t events = 0, alerts = 0;
	strv lines = str_split(buf_str(&b), "\n");
	for (char **l = lines; *l; l++) {
		json_t *j = json_loads(*l, 0, NULL);
		assert_non_null(j);
		json_int_t cls = json_integer_value(json_object_get(j, "class_uid"));
		if (cls == 2004) {
			alerts++;
			const char *uid = json_string_value(json_object_get(
				json_object_get(json_object_get(j, "finding_info"), "analytic"),
				"uid"));
			assert_string_equal(uid, "3f1c9a52-0000-4000-8000-000000000001");
		} else if (cls == 1007) {
			events++;
		}
		json_decref(j);
	}
	strv_free(lines);
	buf_free(&b);
	assert_int_equal(events, 2);
	assert_int_equal(alerts, 1);
}

struct worker {
	struct pipeline *p;
	int id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct host_event ev;
	host_event_init(&ev);
	for (int i = 0; i < 200; i++) {
		host_event_reset(&ev, EVENT_PROCESS_EXEC, T0 + i * SEC);
		host_event_set_str(&ev, EF_IMAGE, i % 2 ? "/bin/sh" : "/bin/true");
		host_event_set_str(&ev, EF_PARENT_IMAGE, "/usr/sbin/nginx");
		ev.id = 0;
		pipeline_event(w->p, &ev);
	}
	host_event_free(&ev);
	return NULL;
}

static void test_threads(void **state)
{
	struct ctx *c = *state;
	write_file(c, "exec.yml", exec_rule);
	struct pipeline *p = open_pipeline(c, true, HOUR);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .p = p, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.events, 800);
	assert_int_equal(st.rule_matches, 400);
	assert_int_equal(st.alerts, 400);
	assert_int_equal(c->seen.events, 800);
	assert_int_equal(c->seen.alerts, 400);
	/* every alert came right after its own event (the sink is serialized) */
	assert_int_equal(c->seen.order_ok, 400);
	assert_int_equal(c->seen.bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rule_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_correlation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate_true, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anomaly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
