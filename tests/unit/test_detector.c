/* The detector role (detector.h) driven by --replay: records for the loop (events, alerts,
 * sensor health, baseline summary), STATE/events.jsonl and its rotation, the queue bound
 * counted as lost, new rules swapped in. No sensors run, so no privileges are needed. */
#include "unit.h"

#include "agent/agent_config.h"
#include "agent/detector.h"
#include "detect/alert.h"
#include "detect/event_json.h"
#include "lib/fileio.h"
#include "proto/immune.pb-c.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

static const char exec_rule[] = "title: Evil binary ran\n"
				"id: 7a0c0000-0000-4000-8000-00000000de01\n"
				"level: high\n"
				"logsource:\n  product: linux\n  category: process_creation\n"
				"detection:\n  sel:\n    Image|endswith: /evil\n"
				"  condition: sel\n";

static const char bad_rule[] = "title: Broken\n"
			       "id: 7a0c0000-0000-4000-8000-00000000de02\n"
			       "logsource:\n  product: linux\n  category: process_creation\n"
			       "detection:\n  sel:\n    Image|nosuchmodifier: /x\n"
			       "  condition: sel\n";

struct fixture {
	char *dir, *state, *rules, *replay;
	pthread_mutex_t lock;
	unsigned notified;
};

static void notify(void *arg)
{
	struct fixture *f = arg;
	pthread_mutex_lock(&f->lock);
	f->notified++;
	pthread_mutex_unlock(&f->lock);
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* n exec events of /usr/bin/ls, then one of /tmp/evil, as OCSF JSON lines. */
static void write_replay(struct fixture *f, unsigned n)
{
	struct host_event ev;
	host_event_init(&ev);
	FILE *out = fopen(f->replay, "w");
	assert_non_null(out);
	int64_t t = (int64_t)time(NULL) * 1000000000LL;
	for (unsigned i = 0; i <= n; i++) {
		host_event_reset(&ev, EVENT_PROCESS_EXEC, t + i);
		host_event_set_str(&ev, EF_IMAGE, i == n ? "/tmp/evil" : "/usr/bin/ls");
		host_event_set_str(&ev, EF_PROCESS_NAME, i == n ? "evil" : "ls");
		host_event_set_int(&ev, EF_PID, 1000 + i);
		host_event_set_str(&ev, EF_USER, "root");
		host_event_set_str(&ev, EF_SENSOR, "process/ebpf");
		char *line = host_event_to_json_line(&ev);
		assert_non_null(line);
		fprintf(out, "%s\n", line);
		free(line);
	}
	fputs("not json\n", out);
	fclose(out);
	host_event_free(&ev);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/immune-detector-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	f->state = xasprintf("%s/state", f->dir);
	f->rules = xasprintf("%s/rules", f->dir);
	f->replay = xasprintf("%s/replay.jsonl", f->dir);
	assert_int_equal(agent_state_init(f->state), 0);
	assert_int_equal(mkdir(f->rules, 0700), 0);
	_cleanup_free_ char *r1 = xasprintf("%s/exec.yml", f->rules);
	_cleanup_free_ char *r2 = xasprintf("%s/broken.yml", f->rules);
	assert_int_equal(file_write_atomic(r1, exec_rule, strlen(exec_rule), 0600), 0);
	assert_int_equal(file_write_atomic(r2, bad_rule, strlen(bad_rule), 0600), 0);
	pthread_mutex_init(&f->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	remove_tree(f->dir);
	pthread_mutex_destroy(&f->lock);
	free(f->dir);
	free(f->state);
	free(f->rules);
	free(f->replay);
	free(f);
	return 0;
}

struct taken {
	struct agent_records events, other;
};

static size_t count_kind(const struct agent_records *l, uint32_t kind)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].kind == kind;
	return n;
}

/* Takes records until want_events events and want_alerts alerts came (at most 5 s). */
static void take_until(struct detector *d, struct taken *t, size_t want_events, size_t want_alerts)
{
	for (int i = 0; i < 500; i++) {
		detector_take(d, &t->events, &t->other);
		if (t->events.n >= want_events &&
		    count_kind(&t->other, IMMUNE__V1__RECORD_KIND__RECORD_ALERT) >= want_alerts)
			return;
		usleep(10000);
	}
	fail_msg("waited for %zu events and %zu alerts: have %zu and %zu", want_events, want_alerts,
		 t->events.n, count_kind(&t->other, IMMUNE__V1__RECORD_KIND__RECORD_ALERT));
}

/* The payload of r as sent (zstd-compressed payloads are decompressed). */
static char *payload_text(const struct agent_record *r, size_t *len)
{
	if (r->encoding == IMMUNE__V1__ENCODING__ENCODING_RAW) {
		*len = r->len;
		return xstrndup((const char *)r->payload, r->len);
	}
	assert_int_equal(r->encoding, IMMUNE__V1__ENCODING__ENCODING_ZSTD);
	unsigned long long n = ZSTD_getFrameContentSize(r->payload, r->len);
	assert_true(n > 0 && n < (1u << 24));
	char *out = xmalloc((size_t)n + 1);
	assert_int_equal(ZSTD_decompress(out, (size_t)n, r->payload, r->len), n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

static json_t *last_health(const struct agent_records *l)
{
	for (size_t i = l->n; i-- > 0;)
		if (l->v[i].kind == IMMUNE__V1__RECORD_KIND__RECORD_SENSOR_HEALTH) {
			size_t len;
			_cleanup_free_ char *text = payload_text(&l->v[i], &len);
			return json_loadb(text, len, 0, NULL);
		}
	return NULL;
}

static size_t count_lines(const char *path)
{
	struct buf b = { 0 };
	if (file_read_capped(path, 64u << 20, &b) < 0)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < buf_len(&b); i++)
		n += buf_str(&b)[i] == '\n';
	buf_free(&b);
	return n;
}

static void test_replay(void **state)
{
	struct fixture *f = *state;
	write_replay(f, 9);
	struct agent_yaml cfg;
	agent_yaml_defaults(&cfg);
	struct detector_options o = {
		.state_dir = f->state, .cfg = &cfg, .rules = f->rules, .replay = f->replay
	};
	struct detector *d = NULL;
	char err[512];
	assert_int_equal(detector_start(&o, notify, f, &d, err, sizeof(err)), 0);
	struct taken t = { 0 };
	take_until(d, &t, 10, 1);
	detector_stop(d);
	detector_take(d, &t.events, &t.other);

	/* events: raw OCSF JSON on the events stream */
	assert_int_equal(t.events.n, 10);
	for (size_t i = 0; i < t.events.n; i++) {
		assert_int_equal(t.events.v[i].stream, IMMUNE__V1__STREAM__STREAM_EVENTS);
		assert_int_equal(t.events.v[i].kind, IMMUNE__V1__RECORD_KIND__RECORD_EVENT);
		struct host_event ev;
		host_event_init(&ev);
		assert_int_equal(host_event_from_json_text((const char *)t.events.v[i].payload,
							   t.events.v[i].len, &ev),
				 0);
		assert_int_equal(ev.kind, EVENT_PROCESS_EXEC);
		host_event_free(&ev);
	}
	/* one alert, on the alerts stream, naming the rule */
	assert_int_equal(count_kind(&t.other, IMMUNE__V1__RECORD_KIND__RECORD_ALERT), 1);
	for (size_t i = 0; i < t.other.n; i++) {
		const struct agent_record *r = &t.other.v[i];
		if (r->kind != IMMUNE__V1__RECORD_KIND__RECORD_ALERT) {
			assert_int_equal(r->stream, IMMUNE__V1__STREAM__STREAM_STATE);
			continue;
		}
		assert_int_equal(r->stream, IMMUNE__V1__STREAM__STREAM_ALERTS);
		struct alert_summary s;
		size_t len;
		_cleanup_free_ char *text = payload_text(r, &len);
		assert_int_equal(alert_parse(text, len, &s), 0);
		assert_string_equal(s.rule_id, "7a0c0000-0000-4000-8000-00000000de01");
		alert_summary_free(&s);
	}
	/* sensor health (the four sensors not started, the replay's counts) and a baseline */
	assert_true(count_kind(&t.other, IMMUNE__V1__RECORD_KIND__RECORD_SENSOR_HEALTH) >= 1);
	assert_true(count_kind(&t.other, IMMUNE__V1__RECORD_KIND__RECORD_BASELINE) >= 1);
	json_t *h = last_health(&t.other);
	assert_non_null(h);
	assert_int_equal(json_array_size(h), 5);
	json_t *rep = json_array_get(h, 4);
	assert_string_equal(json_string_value(json_object_get(rep, "name")), "replay");
	assert_int_equal(json_integer_value(json_object_get(rep, "events")), 10);
	assert_int_equal(json_integer_value(json_object_get(rep, "skipped")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "name")),
			    "process");
	json_decref(h);
	/* the status: one rule loaded, one refused */
	json_t *st = detector_status(d);
	assert_int_equal(json_integer_value(json_object_get(st, "rules_loaded")), 1);
	assert_int_equal(json_integer_value(json_object_get(st, "rule_errors")), 1);
	json_decref(st);
	detector_free(d);

	/* STATE/events.jsonl: the 10 events and the alert; baselines saved */
	_cleanup_free_ char *jsonl = agent_state_path(f->state, DETECTOR_EVENTS_FILE);
	assert_int_equal(count_lines(jsonl), 11);
	_cleanup_free_ char *bl = agent_state_path(f->state, DETECTOR_BASELINE_FILE);
	assert_int_equal(access(bl, F_OK), 0);
	agent_records_free(&t.events);
	agent_records_free(&t.other);
	agent_yaml_free(&cfg);
}

static void test_queue_bound_and_rotation(void **state)
{
	struct fixture *f = *state;
	write_replay(f, 199);
	struct agent_yaml cfg;
	agent_yaml_defaults(&cfg);
	struct detector_options o = { .state_dir = f->state,
				      .cfg = &cfg,
				      .rules = f->rules,
				      .replay = f->replay,
				      .queue_events = 50,
				      .replay_lossy = true,
				      .events_file_max = 16384 };
	struct detector *d = NULL;
	char err[512];
	assert_int_equal(detector_start(&o, notify, f, &d, err, sizeof(err)), 0);
	/* nothing is taken while the replay runs: 150 events beyond the bound are lost */
	json_t *st = NULL;
	for (int i = 0; i < 500; i++) {
		json_decref(st);
		st = detector_status(d);
		if (json_integer_value(json_object_get(st, "events")) == 200)
			break;
		usleep(10000);
	}
	assert_int_equal(json_integer_value(json_object_get(st, "events")), 200);
	assert_int_equal(json_integer_value(json_object_get(st, "queue_lost")), 150);
	json_decref(st);
	detector_stop(d);
	struct taken t = { 0 };
	detector_take(d, &t.events, &t.other);
	assert_int_equal(t.events.n, 50);
	/* the alert is never dropped */
	assert_int_equal(count_kind(&t.other, IMMUNE__V1__RECORD_KIND__RECORD_ALERT), 1);
	/* the health after the replay counts the lost events against the process sensor */
	json_t *h = last_health(&t.other);
	assert_non_null(h);
	json_t *proc = json_array_get(h, 0);
	assert_string_equal(json_string_value(json_object_get(proc, "name")), "process");
	assert_int_equal(json_integer_value(json_object_get(proc, "lost")), 150);
	json_decref(h);
	detector_free(d);

	/* every event and the alert went to the file, rotated at 16 KiB */
	_cleanup_free_ char *cur = agent_state_path(f->state, DETECTOR_EVENTS_FILE);
	_cleanup_free_ char *old = xasprintf("%s.1", cur);
	struct stat a, b;
	assert_int_equal(stat(cur, &a), 0);
	assert_int_equal(stat(old, &b), 0);
	assert_true(a.st_size <= 16384 && b.st_size <= 16384);
	assert_true(count_lines(cur) + count_lines(old) < 201); /* older files are gone */
	agent_records_free(&t.events);
	agent_records_free(&t.other);
	agent_yaml_free(&cfg);
}

/* A replay waits for room: with a bound of 20, all 301 events arrive as they are taken. */
static void test_replay_waits(void **state)
{
	struct fixture *f = *state;
	write_replay(f, 300);
	struct agent_yaml cfg;
	agent_yaml_defaults(&cfg);
	struct detector_options o = { .state_dir = f->state,
				      .cfg = &cfg,
				      .rules = f->rules,
				      .replay = f->replay,
				      .queue_events = 20 };
	struct detector *d = NULL;
	char err[512];
	assert_int_equal(detector_start(&o, notify, f, &d, err, sizeof(err)), 0);
	struct taken t = { 0 };
	take_until(d, &t, 301, 1);
	json_t *st = detector_status(d);
	assert_int_equal(json_integer_value(json_object_get(st, "queue_lost")), 0);
	json_decref(st);
	detector_free(d);
	agent_records_free(&t.events);
	agent_records_free(&t.other);
	agent_yaml_free(&cfg);
}

/* Stopping while a replay waits for room (nobody takes) does not hang. */
static void test_stop_during_replay(void **state)
{
	struct fixture *f = *state;
	write_replay(f, 300);
	struct agent_yaml cfg;
	agent_yaml_defaults(&cfg);
	struct detector_options o = {
		.state_dir = f->state, .cfg = &cfg, .replay = f->replay, .queue_events = 10
	};
	struct detector *d = NULL;
	char err[512];
	assert_int_equal(detector_start(&o, notify, f, &d, err, sizeof(err)), 0);
	usleep(100000);
	detector_free(d);
	agent_yaml_free(&cfg);
}

static void test_rules_swap(void **state)
{
	struct fixture *f = *state;
	write_replay(f, 0);
	struct agent_yaml cfg;
	agent_yaml_defaults(&cfg);
	struct detector_options o = { .state_dir = f->state, .cfg = &cfg, .replay = f->replay };
	struct detector *d = NULL;
	char err[512];
	assert_int_equal(detector_start(&o, notify, f, &d, err, sizeof(err)), 0);
	struct taken t = { 0 };
	take_until(d, &t, 1, 0);
	json_t *st = detector_status(d);
	assert_int_equal(json_integer_value(json_object_get(st, "rules_loaded")), 0);
	json_decref(st);
	detector_set_rules(d, f->rules);
	for (int i = 0; i < 500; i++) {
		st = detector_status(d);
		json_int_t n = json_integer_value(json_object_get(st, "rules_loaded"));
		json_decref(st);
		if (n == 1)
			break;
		usleep(10000);
	}
	st = detector_status(d);
	assert_int_equal(json_integer_value(json_object_get(st, "rules_loaded")), 1);
	assert_int_equal(json_integer_value(json_object_get(st, "rule_errors")), 1);
	json_decref(st);
	/* a directory that does not exist: the rules stay */
	detector_set_rules(d, "/nonexistent/immune-rules");
	usleep(200000);
	st = detector_status(d);
	assert_int_equal(json_integer_value(json_object_get(st, "rules_loaded")), 1);
	json_decref(st);
	detector_free(d);
	agent_records_free(&t.events);
	agent_records_free(&t.other);
	agent_yaml_free(&cfg);
}

static void test_bad_outputs(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *conf = xasprintf("%s/agent.yaml", f->dir);
	static const char text[] = "outputs:\n  - type: carrier-pigeon\n";
	assert_int_equal(file_write_atomic(conf, text, strlen(text), 0600), 0);
	struct agent_yaml cfg;
	agent_yaml_defaults(&cfg);
	struct detector_options o = {
		.state_dir = f->state, .cfg = &cfg, .config_path = conf, .replay = f->replay
	};
	struct detector *d = NULL;
	char err[512] = "";
	assert_true(detector_start(&o, notify, f, &d, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "agent.yaml:2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_during_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_outputs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
