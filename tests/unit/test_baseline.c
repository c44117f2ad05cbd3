/* Baselines: learning then detection in event time, explanations, suppression of repeats,
 * persistence across reopen, a damaged state file, eviction bounds and the summary. */
#include "unit.h"

#include "detect/baseline.h"
#include "lib/buf.h"
#include "lib/fileio.h"

#include <unistd.h>

#define SEC INT64_C(1000000000)
#define HOUR (3600 * SEC)
/* 2026-11-22T10:00:00Z */
#define T0 (INT64_C(1795341600) * SEC)

struct ctx {
	char dir[64];
	char path[128];
	struct host_event ev;
};

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/immune-test-baseline-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/baseline.state", c->dir);
	host_event_init(&c->ev);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char p[160];
	unlink(c->path);
	snprintf(p, sizeof(p), "%s.damaged", c->path);
	unlink(p);
	rmdir(c->dir);
	host_event_free(&c->ev);
	free(c);
	return 0;
}

static const struct host_event *exec_ev(struct ctx *c, int64_t t, const char *image,
					const char *parent)
{
	host_event_reset(&c->ev, EVENT_PROCESS_EXEC, t);
	assert_int_equal(host_event_set_str(&c->ev, EF_IMAGE, image), 0);
	if (parent)
		assert_int_equal(host_event_set_str(&c->ev, EF_PARENT_IMAGE, parent), 0);
	return &c->ev;
}

static const struct host_event *login_ev(struct ctx *c, int64_t t, const char *user, const char *ip,
					 const char *outcome)
{
	host_event_reset(&c->ev, EVENT_AUTH_LOGON, t);
	assert_int_equal(host_event_set_str(&c->ev, EF_TARGET_USER, user), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_SRC_IP, ip), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_OUTCOME, outcome), 0);
	return &c->ev;
}

static const struct host_event *listen_ev(struct ctx *c, int64_t t, const char *proto, int port)
{
	host_event_reset(&c->ev, EVENT_NET_LISTEN, t);
	assert_int_equal(host_event_set_str(&c->ev, EF_PROTOCOL, proto), 0);
	assert_int_equal(host_event_set_int(&c->ev, EF_SRC_PORT, port), 0);
	return &c->ev;
}

static const struct host_event *connect_ev(struct ctx *c, int64_t t, const char *image,
					   const char *ip, int port)
{
	host_event_reset(&c->ev, EVENT_NET_CONNECT, t);
	assert_int_equal(host_event_set_str(&c->ev, EF_IMAGE, image), 0);
	assert_int_equal(host_event_set_str(&c->ev, EF_DST_IP, ip), 0);
	assert_int_equal(host_event_set_int(&c->ev, EF_DST_PORT, port), 0);
	return &c->ev;
}

/* Observes ev and returns the number of anomalies (0..2). */
static size_t observe(struct baseline *b, const struct host_event *ev,
		      struct baseline_anomaly out[2])
{
	size_t n = 99;
	int r = baseline_observe(b, ev, out, &n);
	assert_true(r == 0 || r == 1);
	if (r == 0)
		return 0;
	assert_true(n >= 1 && n <= 2);
	for (size_t i = 0; i < n; i++)
		assert_true(out[i].score > 0 && out[i].score <= 1);
	return n;
}

static void test_learning_then_detection(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(baseline_open(&o, &b), 0);
	int64_t until;
	assert_true(baseline_learning(b, &until));

	assert_int_equal(observe(b, exec_ev(c, T0, "/usr/bin/ls", "/usr/bin/bash"), a), 0);
	assert_int_equal(observe(b, exec_ev(c, T0 + SEC, "/usr/bin/cat", "/usr/bin/bash"), a), 0);
	assert_true(baseline_learning(b, &until));
	assert_true(until == T0 + HOUR);

	/* after the learning period (event time): a new program started by a new parent */
	assert_int_equal(observe(b, exec_ev(c, T0 + HOUR, "/tmp/.x/kworker", "/usr/bin/nohup"), a),
			 2);
	assert_false(baseline_learning(b, NULL));
	assert_int_equal(a[0].kind, BASELINE_NEW_EXECUTABLE);
	assert_string_equal(a[0].what, "/tmp/.x/kworker");
	assert_string_equal(a[0].explanation, "/tmp/.x/kworker first run on this host; 2 "
					      "executables learned since 2026-11-22T10:00Z");
	assert_int_equal(a[1].kind, BASELINE_NEW_PARENT_CHILD);
	assert_string_equal(a[1].subject, "/usr/bin/nohup");
	assert_string_equal(a[1].what, "/tmp/.x/kworker");
	assert_non_null(strstr(a[1].explanation, "/usr/bin/nohup started /tmp/.x/kworker"));

	/* repeats are suppressed; a learned program with a new parent is one anomaly */
	assert_int_equal(
		observe(b, exec_ev(c, T0 + HOUR + SEC, "/tmp/.x/kworker", "/usr/bin/nohup"), a), 0);
	assert_int_equal(
		observe(b, exec_ev(c, T0 + HOUR + 2 * SEC, "/usr/bin/ls", "/usr/bin/bash"), a), 0);
	assert_int_equal(
		observe(b, exec_ev(c, T0 + HOUR + 3 * SEC, "/usr/bin/ls", "/usr/sbin/cron"), a), 1);
	assert_int_equal(a[0].kind, BASELINE_NEW_PARENT_CHILD);
	assert_string_equal(baseline_kind_name(a[0].kind), "new_parent_child");
	/* without a parent only the executable is checked */
	assert_int_equal(observe(b, exec_ev(c, T0 + HOUR + 4 * SEC, "/opt/new", NULL), a), 1);
	assert_int_equal(a[0].kind, BASELINE_NEW_EXECUTABLE);
	baseline_free(b);
}

static void test_scores_grow_with_baseline(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(baseline_open(&o, &b), 0);
	/* curl learned with one destination, wget with fifty */
	observe(b, connect_ev(c, T0, "/usr/bin/curl", "10.0.0.1", 443), a);
	for (int i = 0; i < 50; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.0.1.%d", i);
		observe(b, connect_ev(c, T0 + i, "/usr/bin/wget", ip, 443), a);
	}
	assert_int_equal(
		observe(b, connect_ev(c, T0 + HOUR, "/usr/bin/curl", "192.0.2.7", 4444), a), 1);
	double small = a[0].score;
	assert_int_equal(a[0].kind, BASELINE_NEW_OUTBOUND);
	assert_string_equal(a[0].subject, "/usr/bin/curl");
	assert_string_equal(a[0].what, "192.0.2.7:4444");
	assert_string_equal(a[0].explanation,
			    "/usr/bin/curl connected to 192.0.2.7:4444 for the first time; 1 "
			    "destination learned for /usr/bin/curl since 2026-11-22T10:00Z");
	assert_int_equal(
		observe(b, connect_ev(c, T0 + HOUR, "/usr/bin/wget", "2001:db8::1", 80), a), 1);
	assert_string_equal(a[0].what, "[2001:db8::1]:80");
	assert_true(a[0].score > small);
	/* the same destination again: suppressed */
	assert_int_equal(
		observe(b, connect_ev(c, T0 + HOUR, "/usr/bin/wget", "2001:db8::1", 80), a), 0);
	baseline_free(b);
}

static void test_logins(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .learning_ns = 2 * 24 * HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(baseline_open(&o, &b), 0);
	/* alice logs in from 10.1.2.0/24 at 10:00 and 11:00 UTC during learning */
	assert_int_equal(observe(b, login_ev(c, T0, "alice", "10.1.2.3", "success"), a), 0);
	assert_int_equal(observe(b, login_ev(c, T0 + HOUR, "alice", "10.1.2.4", "success"), a), 0);
	int64_t day3 = T0 + 3 * 24 * HOUR;
	/* same network, 12:00 is within an hour of 11:00: usual */
	assert_int_equal(
		observe(b, login_ev(c, day3 + 2 * HOUR, "alice", "10.1.2.99", "success"), a), 0);
	/* failures are not logins */
	assert_int_equal(observe(b, login_ev(c, day3, "alice", "203.0.113.5", "failure"), a), 0);
	/* a new network at 03:00: two anomalies */
	assert_int_equal(
		observe(b, login_ev(c, day3 - 7 * HOUR, "alice", "203.0.113.5", "success"), a), 2);
	assert_int_equal(a[0].kind, BASELINE_LOGIN_NEW_NETWORK);
	assert_string_equal(a[0].subject, "alice");
	assert_string_equal(a[0].what, "203.0.113.0/24");
	assert_non_null(strstr(a[0].explanation, "1 source network learned for alice"));
	assert_int_equal(a[1].kind, BASELINE_LOGIN_UNUSUAL_HOUR);
	assert_string_equal(a[1].what, "03:00");
	assert_non_null(strstr(a[1].explanation, "(10:00, 11:00, 12:00)"));
	/* now remembered */
	assert_int_equal(
		observe(b,
			login_ev(c, day3 - 7 * HOUR + 60 * SEC, "alice", "203.0.113.9", "success"),
			a),
		0);
	/* IPv6 is grouped by /64 */
	assert_int_equal(
		observe(b, login_ev(c, day3 + HOUR, "alice", "2001:db8:1:2::5", "success"), a), 1);
	assert_string_equal(a[0].what, "2001:db8:1:2::/64");
	assert_int_equal(
		observe(b, login_ev(c, day3 + HOUR, "alice", "2001:db8:1:2:ff::1", "success"), a),
		0);
	baseline_free(b);
}

static void test_listen_ports(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(baseline_open(&o, &b), 0);
	assert_int_equal(observe(b, listen_ev(c, T0, "tcp", 22), a), 0);
	assert_int_equal(observe(b, listen_ev(c, T0 + 2 * HOUR, "TCP", 22), a), 0);
	assert_int_equal(observe(b, listen_ev(c, T0 + 2 * HOUR, "udp", 22), a), 1);
	assert_int_equal(observe(b, listen_ev(c, T0 + 2 * HOUR, "tcp", 4444), a), 1);
	assert_int_equal(a[0].kind, BASELINE_NEW_LISTEN_PORT);
	assert_string_equal(a[0].what, "tcp/4444");
	assert_string_equal(a[0].explanation, "tcp/4444 listened on for the first time on this "
					      "host; 2 listening ports learned since "
					      "2026-11-22T10:00Z");
	baseline_free(b);
}

static void test_persistence(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .state_path = c->path, .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(baseline_open(&o, &b), 0);
	observe(b, exec_ev(c, T0, "/usr/bin/with space", "/usr/bin/bash"), a);
	observe(b, exec_ev(c, T0, "-dash%pct", "/usr/bin/bash"), a);
	observe(b, login_ev(c, T0, "bob", "192.168.1.10", "success"), a);
	observe(b, listen_ev(c, T0, "tcp", 22), a);
	assert_int_equal(baseline_save(b), 0);
	assert_int_equal(access(c->path, F_OK), 0);
	baseline_free(b);

	/* reopened after the learning period: nothing learned is new, learning is over */
	assert_int_equal(baseline_open(&o, &b), 0);
	int64_t until;
	baseline_learning(b, &until);
	assert_true(until == T0 + HOUR);
	assert_int_equal(
		observe(b, exec_ev(c, T0 + 2 * HOUR, "/usr/bin/with space", "/usr/bin/bash"), a),
		0);
	assert_int_equal(observe(b, exec_ev(c, T0 + 2 * HOUR, "-dash%pct", "/usr/bin/bash"), a), 0);
	assert_int_equal(
		observe(b, login_ev(c, T0 + 24 * HOUR, "bob", "192.168.1.11", "success"), a), 0);
	assert_int_equal(observe(b, listen_ev(c, T0 + 2 * HOUR, "tcp", 22), a), 0);
	assert_int_equal(observe(b, exec_ev(c, T0 + 2 * HOUR, "/usr/bin/new", "/usr/bin/bash"), a),
			 2);
	assert_int_equal(baseline_save(b), 0);
	baseline_free(b);

	/* the anomaly was remembered across the restart too */
	assert_int_equal(baseline_open(&o, &b), 0);
	assert_false(baseline_learning(b, NULL));
	assert_int_equal(observe(b, exec_ev(c, T0 + 3 * HOUR, "/usr/bin/new", "/usr/bin/bash"), a),
			 0);
	baseline_free(b);
}

static void test_damaged_state(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .state_path = c->path, .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	static const char *const bad[] = {
		"",
		"immune-baseline 2\nstart 1\n",
		"immune-baseline 1\nstart x\n",
		"immune-baseline 1\nstart 5\nnew_executable 1 2 3 - /bin/ls extra\n",
		"immune-baseline 1\nstart 5\nnew_executable 3 2 1 - /bin/ls\n",
		"immune-baseline 1\nstart 5\nnew_executable 1 2 1 - /bin/%0\n",
		"immune-baseline 1\nstart 5\nnew_executable 1 2 1 - /bin/ls\n"
		"new_executable 1 2 1 - /bin/ls\n",
		"immune-baseline 1\nstart 5\nbogus 1 2 1 - x\n",
		/* an empty record line has no tokens at all (once a null-pointer crash) */
		"immune-baseline 1\nstart 5\n\n",
		"immune-baseline 1\nstart 5\nnew_executable 1 2 1 - /bin/ls\n\nevicted "
		"new_executable 1\n",
		"immune-baseline 1\nstart 5\n \n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char aside[160];
		snprintf(aside, sizeof(aside), "%s.damaged", c->path);
		unlink(aside);
		assert_int_equal(file_write_atomic(c->path, bad[i], strlen(bad[i]), 0600), 0);
		b = NULL;
		assert_int_equal(baseline_open(&o, &b), -EBADMSG);
		assert_non_null(b);
		/* renamed aside, learning restarts from the next event */
		assert_int_equal(access(c->path, F_OK), -1);
		assert_int_equal(access(aside, F_OK), 0);
		assert_true(baseline_learning(b, NULL));
		assert_int_equal(observe(b, exec_ev(c, T0, "/bin/ls", NULL), a), 0);
		int64_t until;
		baseline_learning(b, &until);
		assert_true(until == T0 + HOUR);
		assert_int_equal(baseline_save(b), 0);
		baseline_free(b);
	}
	/* the last save is a good file again */
	assert_int_equal(baseline_open(&o, &b), 0);
	baseline_free(b);
}

/* The documented format (docs/baselines.md), written by hand, loads. */
static void test_state_format(void **state)
{
	struct ctx *c = *state;
	static const char text[] =
		"immune-baseline 1\n"
		"start 1795341600000000000\n"
		"evicted new_executable 3\n"
		"new_executable 1795341600000000000 1795341700000000000 4 - /usr/bin/ls\n"
		"new_parent_child 1795341600000000000 1795341600000000000 1 /usr/bin/bash "
		"/usr/bin/with%20space\n"
		"login_new_network 1795341600000000000 1795341600000000000 2 alice 10.1.2.0/24\n"
		"new_outbound 1795341600000000000 1795341600000000000 1 /usr/bin/curl "
		"[2001:db8::1]:443\n";
	struct baseline_options o = { .state_path = c->path, .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(file_write_atomic(c->path, text, strlen(text), 0600), 0);
	assert_int_equal(baseline_open(&o, &b), 0);
	json_t *s = baseline_summary(b);
	json_t *counts = json_object_get(s, "counts");
	assert_int_equal(json_integer_value(json_object_get(counts, "new_executable")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "new_parent_child")), 1);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(s, "evicted"), "new_executable")),
			 3);
	json_decref(s);
	assert_int_equal(
		observe(b, exec_ev(c, T0 + 2 * HOUR, "/usr/bin/with space", "/usr/bin/bash"), a),
		1); /* the pair is known; the executable itself was not learned */
	assert_int_equal(a[0].kind, BASELINE_NEW_EXECUTABLE);
	assert_non_null(strstr(a[0].explanation, "1 executable learned since"));
	baseline_free(b);
}

static void test_eviction_bound(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	char image[64];
	assert_int_equal(baseline_open(&o, &b), 0);
	for (int i = 0; i < BASELINE_MAX_ENTRIES + 5; i++) {
		snprintf(image, sizeof(image), "/bin/p%d", i);
		assert_int_equal(observe(b, exec_ev(c, T0 + i, image, NULL), a), 0);
	}
	/* keep p5 recent: the least recently seen ones are forgotten */
	assert_int_equal(observe(b, exec_ev(c, T0 + HOUR, "/bin/p5", NULL), a), 0);
	json_t *s = baseline_summary(b);
	json_t *counts = json_object_get(s, "counts"), *ev = json_object_get(s, "evicted");
	assert_int_equal(json_integer_value(json_object_get(counts, "new_executable")),
			 BASELINE_MAX_ENTRIES);
	assert_int_equal(json_integer_value(json_object_get(ev, "new_executable")), 5);
	json_decref(s);
	assert_int_equal(observe(b, exec_ev(c, T0 + HOUR, "/bin/p0", NULL), a), 1);
	assert_int_equal(observe(b, exec_ev(c, T0 + HOUR, "/bin/p4", NULL), a), 1);
	baseline_free(b);
}

static void test_summary(void **state)
{
	struct ctx *c = *state;
	struct baseline_options o = { .learning_ns = HOUR };
	struct baseline *b = NULL;
	struct baseline_anomaly a[2];
	assert_int_equal(baseline_open(&o, &b), 0);
	json_t *s = baseline_summary(b);
	assert_true(json_is_true(json_object_get(s, "learning")));
	assert_true(json_is_null(json_object_get(s, "started")));
	json_decref(s);
	observe(b, login_ev(c, T0, "carol", "10.9.8.7", "success"), a);
	observe(b, listen_ev(c, T0, "tcp", 443), a);
	observe(b, exec_ev(c, T0 + 1, "/usr/bin/\xff\xfe", NULL), a);
	s = baseline_summary(b);
	assert_string_equal(json_string_value(json_object_get(s, "started")), "2026-11-22T10:00Z");
	assert_string_equal(json_string_value(json_object_get(s, "learning_until")),
			    "2026-11-22T11:00Z");
	json_t *carol = json_object_get(json_object_get(s, "users"), "carol");
	assert_non_null(carol);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(carol, "networks"), 0)),
		"10.9.8.0/24");
	assert_string_equal(json_string_value(json_array_get(json_object_get(carol, "hours"), 0)),
			    "10:00");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(s, "listen_ports"), 0)),
		"tcp/443");
	json_t *recent = json_object_get(s, "recent");
	assert_int_equal(json_array_size(recent), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(recent, 0), "what")),
			    "/usr/bin/??");
	json_decref(s);
	baseline_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learning_then_detection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scores_grow_with_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
