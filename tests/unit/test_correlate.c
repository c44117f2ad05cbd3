/* Correlation: each type fires exactly when its condition is met, respects the timespan
 * (event time) and group-by, ordered vs unordered, resets after firing, bounded groups. */
#include "unit.h"

#include "detect/correlate.h"

#define SEC INT64_C(1000000000)
#define MIN (60 * SEC)
#define T0 (INT64_C(1795341600) * SEC)

/* Rule indexes of the hand-built rule sets: detection rules first. */
enum { R_FAIL, R_DOWNLOAD, R_CHMOD, R_EXEC, R_CORR, R_CORR2, N_RULES };

struct fired {
	size_t n;
	size_t rule;
	char key[256];
	size_t n_evidence;
	int64_t first_time, last_time;
	char first_user[64];
};

static void on_fire(size_t rule, const char *key, const struct host_event *const *ev, size_t n,
		    void *arg)
{
	struct fired *f = arg;
	f->n++;
	f->rule = rule;
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->n_evidence = n;
	assert_true(n >= 1 && n <= CORR_MAX_EVIDENCE);
	for (size_t i = 1; i < n; i++)
		assert_true(ev[i - 1]->time_ns <= ev[i]->time_ns); /* oldest first */
	f->first_time = ev[0]->time_ns;
	f->last_time = ev[n - 1]->time_ns;
	const char *u = host_event_get(ev[0], EF_TARGET_USER, NULL);
	snprintf(f->first_user, sizeof(f->first_user), "%s", u ? u : "");
}

struct rules {
	struct sigma_correlation corr, corr2;
	const struct sigma_correlation *defs[N_RULES];
	size_t refs[3], refs2[1];
	enum event_field group_by[2];
};

static struct correlator *make(struct rules *rs, enum sigma_corr_type type, int64_t span,
			       int64_t min, int64_t max)
{
	memset(rs, 0, sizeof(*rs));
	rs->corr = (struct sigma_correlation){ .type = type,
					       .refs = rs->refs,
					       .n_refs = 1,
					       .group_by = rs->group_by,
					       .n_group_by = 1,
					       .timespan_ns = span,
					       .min = min,
					       .max = max };
	rs->refs[0] = R_FAIL;
	rs->group_by[0] = EF_SRC_IP;
	if (type == SIGMA_CORR_TEMPORAL || type == SIGMA_CORR_TEMPORAL_ORDERED) {
		rs->refs[0] = R_DOWNLOAD;
		rs->refs[1] = R_CHMOD;
		rs->refs[2] = R_EXEC;
		rs->corr.n_refs = 3;
		rs->group_by[0] = EF_USER;
	}
	rs->defs[R_CORR] = &rs->corr;
	struct correlator *c = NULL;
	assert_int_equal(correlator_new_defs(rs->defs, N_RULES, &c), 0);
	return c;
}

static const struct host_event *ev_auth(struct host_event *ev, int64_t t, const char *ip,
					const char *user)
{
	host_event_reset(ev, EVENT_AUTH_LOGON, t);
	assert_int_equal(host_event_set_str(ev, EF_SRC_IP, ip), 0);
	if (user)
		assert_int_equal(host_event_set_str(ev, EF_TARGET_USER, user), 0);
	assert_int_equal(host_event_set_str(ev, EF_OUTCOME, "failure"), 0);
	return ev;
}

static const struct host_event *ev_proc(struct host_event *ev, int64_t t, const char *user,
					const char *cmd)
{
	host_event_reset(ev, EVENT_PROCESS_EXEC, t);
	assert_int_equal(host_event_set_str(ev, EF_USER, user), 0);
	assert_int_equal(host_event_set_str(ev, EF_COMMAND_LINE, cmd), 0);
	return ev;
}

static void test_event_count_brute_force(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 10, INT64_MAX);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	/* 9 failures from one source and many from others: not yet */
	for (int i = 0; i < 9; i++) {
		correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + i * 20 * SEC, "198.51.100.7", "root"),
				on_fire, &f);
		correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + i * 20 * SEC, "203.0.113.1", "root"),
				on_fire, &f);
		/* matches of other rules do not count */
		correlator_feed(c, R_EXEC, ev_auth(&ev, T0 + i * 20 * SEC, "198.51.100.7", "root"),
				on_fire, &f);
	}
	assert_int_equal(f.n, 0);
	/* the tenth within 5 minutes fires for that source only */
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 4 * MIN, "198.51.100.7", "admin"), on_fire,
			&f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.rule, R_CORR);
	assert_string_equal(f.key, "198.51.100.7");
	assert_int_equal(f.n_evidence, 10);
	assert_true(f.first_time == T0);
	assert_true(f.last_time == T0 + 4 * MIN);
	/* reset after firing: nine more do not fire, the tenth does */
	for (int i = 0; i < 9; i++)
		correlator_feed(c, R_FAIL,
				ev_auth(&ev, T0 + 4 * MIN + i * SEC, "198.51.100.7", "root"),
				on_fire, &f);
	assert_int_equal(f.n, 1);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 4 * MIN + 9 * SEC, "198.51.100.7", "root"),
			on_fire, &f);
	assert_int_equal(f.n, 2);
	struct correlator_stats st;
	correlator_stats(c, &st);
	assert_int_equal(st.fired, 2);
	assert_int_equal(st.groups, 1); /* 203.0.113.1 still counting */
	host_event_free(&ev);
	correlator_free(c);
}

static void test_event_count_timespan(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 10, INT64_MAX);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	/* one every 40 s: never 10 within 5 minutes (at most 8) */
	for (int i = 0; i < 30; i++)
		correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + i * 40 * SEC, "192.0.2.9", "root"),
				on_fire, &f);
	assert_int_equal(f.n, 0);
	/* exactly 5 minutes from first to tenth: inside */
	int64_t t = T0 + 3600 * SEC;
	for (int i = 0; i < 9; i++)
		correlator_feed(c, R_FAIL, ev_auth(&ev, t + i * SEC, "192.0.2.10", "root"), on_fire,
				&f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, t + 5 * MIN, "192.0.2.10", "root"), on_fire, &f);
	assert_int_equal(f.n, 1);
	/* one second later the first has fallen out of the window */
	t += 3600 * SEC;
	for (int i = 0; i < 9; i++)
		correlator_feed(c, R_FAIL, ev_auth(&ev, t + i * SEC, "192.0.2.11", "root"), on_fire,
				&f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, t + 5 * MIN + SEC, "192.0.2.11", "root"), on_fire,
			&f);
	assert_int_equal(f.n, 1);
	correlator_feed(c, R_FAIL, ev_auth(&ev, t + 5 * MIN + SEC, "192.0.2.11", "root"), on_fire,
			&f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.n_evidence, 10);
	assert_true(f.first_time == t + SEC);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_event_count_range(void **state)
{
	/* "eq 3": fires at exactly three */
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 3, 3);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0, "192.0.2.1", "a"), on_fire, &f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + SEC, "192.0.2.1", "a"), on_fire, &f);
	assert_int_equal(f.n, 0);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 2 * SEC, "192.0.2.1", "a"), on_fire, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.n_evidence, 3);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_event_count_large_threshold(void **state)
{
	/* above the exact limit, matches are merged into slots of timespan/1024 */
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_EVENT_COUNT, 10 * MIN, 5000, INT64_MAX);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	for (int i = 0; i < 4999; i++)
		correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + i * (SEC / 10), "192.0.2.1", "a"),
				on_fire, &f);
	assert_int_equal(f.n, 0);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 4999 * (SEC / 10), "192.0.2.1", "a"), on_fire,
			&f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.n_evidence, CORR_MAX_EVIDENCE);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_value_count_spraying(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_VALUE_COUNT, 10 * MIN, 5, INT64_MAX);
	rs.corr.value_field = EF_TARGET_USER;
	struct host_event ev;
	struct fired f = { 0 };
	static const char *const users[] = { "alice", "bob", "carol", "dave", "erin" };
	host_event_init(&ev);
	/* many attempts on the same four users: four distinct values */
	for (int round = 0; round < 5; round++)
		for (int i = 0; i < 4; i++)
			correlator_feed(
				c, R_FAIL,
				ev_auth(&ev, T0 + (round * 4 + i) * SEC, "198.51.100.7", users[i]),
				on_fire, &f);
	/* a fifth user from another source, and a failure without a user */
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 30 * SEC, "198.51.100.8", "erin"), on_fire,
			&f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 31 * SEC, "198.51.100.7", NULL), on_fire, &f);
	assert_int_equal(f.n, 0);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 32 * SEC, "198.51.100.7", "erin"), on_fire,
			&f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.key, "198.51.100.7");
	assert_int_equal(f.n_evidence, CORR_MAX_EVIDENCE);
	/* after the reset, old users within the window do not carry over; values outside
	 * the timespan do not count */
	for (int i = 0; i < 4; i++)
		correlator_feed(c, R_FAIL,
				ev_auth(&ev, T0 + MIN + i * SEC, "198.51.100.7", users[i]), on_fire,
				&f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 12 * MIN, "198.51.100.7", "erin"), on_fire,
			&f);
	assert_int_equal(f.n, 1);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_temporal_unordered(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_TEMPORAL, 10 * MIN, 0, INT64_MAX);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	/* any order, same user */
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0, "mallory", "/tmp/x"), on_fire, &f);
	correlator_feed(c, R_CHMOD, ev_proc(&ev, T0 + SEC, "mallory", "chmod +x /tmp/x"), on_fire,
			&f);
	/* another user's download does not complete mallory's set */
	correlator_feed(c, R_DOWNLOAD, ev_proc(&ev, T0 + 2 * SEC, "bob", "curl -o /tmp/x"), on_fire,
			&f);
	assert_int_equal(f.n, 0);
	correlator_feed(c, R_DOWNLOAD, ev_proc(&ev, T0 + 3 * SEC, "mallory", "curl -o /tmp/x"),
			on_fire, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.key, "mallory");
	assert_int_equal(f.n_evidence, 3);
	/* the three spread over more than the timespan: no */
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0 + MIN, "eve", "/tmp/y"), on_fire, &f);
	correlator_feed(c, R_CHMOD, ev_proc(&ev, T0 + 5 * MIN, "eve", "chmod"), on_fire, &f);
	correlator_feed(c, R_DOWNLOAD, ev_proc(&ev, T0 + 12 * MIN, "eve", "curl"), on_fire, &f);
	assert_int_equal(f.n, 1);
	/* until the exec repeats within the window */
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0 + 13 * MIN, "eve", "/tmp/y"), on_fire, &f);
	assert_int_equal(f.n, 2);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_temporal_ordered_chain(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_TEMPORAL_ORDERED, 10 * MIN, 0, INT64_MAX);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	/* wrong order: exec, chmod, download */
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0, "mallory", "/tmp/x"), on_fire, &f);
	correlator_feed(c, R_CHMOD, ev_proc(&ev, T0 + SEC, "mallory", "chmod +x /tmp/x"), on_fire,
			&f);
	correlator_feed(c, R_DOWNLOAD, ev_proc(&ev, T0 + 2 * SEC, "mallory", "curl -o /tmp/x"),
			on_fire, &f);
	assert_int_equal(f.n, 0);
	/* chmod then exec after that download: the chain is complete */
	correlator_feed(c, R_CHMOD, ev_proc(&ev, T0 + 3 * SEC, "mallory", "chmod +x /tmp/x"),
			on_fire, &f);
	assert_int_equal(f.n, 0);
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0 + 4 * SEC, "mallory", "/tmp/x"), on_fire, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.key, "mallory");
	/* download, then chmod too late: the chain breaks */
	correlator_feed(c, R_DOWNLOAD, ev_proc(&ev, T0 + MIN, "mallory", "curl"), on_fire, &f);
	correlator_feed(c, R_CHMOD, ev_proc(&ev, T0 + 12 * MIN, "mallory", "chmod"), on_fire, &f);
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0 + 13 * MIN, "mallory", "/tmp/x"), on_fire, &f);
	assert_int_equal(f.n, 1);
	/* download, exec, chmod: the exec before the chmod does not count */
	correlator_feed(c, R_DOWNLOAD, ev_proc(&ev, T0 + 20 * MIN, "bob", "curl"), on_fire, &f);
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0 + 21 * MIN, "bob", "/tmp/x"), on_fire, &f);
	correlator_feed(c, R_CHMOD, ev_proc(&ev, T0 + 22 * MIN, "bob", "chmod"), on_fire, &f);
	assert_int_equal(f.n, 1);
	correlator_feed(c, R_EXEC, ev_proc(&ev, T0 + 23 * MIN, "bob", "/tmp/x"), on_fire, &f);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.key, "bob");
	assert_true(f.first_time == T0 + 20 * MIN);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_group_by_several_fields(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 2, INT64_MAX);
	rs.group_by[1] = EF_TARGET_USER;
	rs.corr.n_group_by = 2;
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0, "192.0.2.1", "root"), on_fire, &f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 1, "192.0.2.1", "admin"), on_fire, &f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 2, "192.0.2.1", NULL), on_fire, &f);
	assert_int_equal(f.n, 0);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 3, "192.0.2.1", "root"), on_fire, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.key, "192.0.2.1|root");
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 4, "192.0.2.1", NULL), on_fire, &f);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.key, "192.0.2.1|");
	/* without group-by, one group for everything */
	rs.corr.n_group_by = 0;
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 5, "192.0.2.2", "x"), on_fire, &f);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 6, "192.0.2.3", "y"), on_fire, &f);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.key, "");
	host_event_free(&ev);
	correlator_free(c);
}

static void test_expire_and_eviction(void **state)
{
	struct rules rs;
	struct correlator *c = make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 2, INT64_MAX);
	struct host_event ev;
	struct fired f = { 0 };
	struct correlator_stats st;
	char ip[32];
	host_event_init(&ev);
	for (int i = 0; i < CORR_MAX_GROUPS + 3; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + i, ip, "root"), on_fire, &f);
	}
	correlator_stats(c, &st);
	assert_int_equal(st.groups, CORR_MAX_GROUPS);
	assert_int_equal(st.evicted, 3);
	assert_int_equal(f.n, 0);
	/* the least recently used were evicted: 10.0.0.0 starts over, the newest fires */
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + MIN, "10.0.0.0", "root"), on_fire, &f);
	assert_int_equal(f.n, 0);
	snprintf(ip, sizeof(ip), "10.%d.%d.%d", (CORR_MAX_GROUPS + 2) >> 16,
		 ((CORR_MAX_GROUPS + 2) >> 8) & 255, (CORR_MAX_GROUPS + 2) & 255);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + MIN, ip, "root"), on_fire, &f);
	assert_int_equal(f.n, 1);
	/* expiry drops groups idle for longer than the timespan */
	correlator_expire(c, T0 + 5 * MIN + CORR_MAX_GROUPS + 2);
	correlator_stats(c, &st);
	assert_int_equal(st.groups, 1); /* 10.0.0.0, refreshed at T0 + 1 min */
	correlator_expire(c, T0 + 7 * MIN);
	correlator_stats(c, &st);
	assert_int_equal(st.groups, 0);
	correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + 8 * MIN, "10.0.0.0", "root"), on_fire, &f);
	assert_int_equal(f.n, 1);
	host_event_free(&ev);
	correlator_free(c);
}

static void test_correlation_of_correlation(void **state)
{
	/* two brute-force bursts from one source within an hour */
	struct rules rs;
	correlator_free(make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 3, INT64_MAX));
	rs.refs2[0] = R_CORR;
	rs.corr2 = (struct sigma_correlation){ .type = SIGMA_CORR_EVENT_COUNT,
					       .refs = rs.refs2,
					       .n_refs = 1,
					       .group_by = rs.group_by,
					       .n_group_by = 1,
					       .timespan_ns = 60 * MIN,
					       .min = 2,
					       .max = INT64_MAX };
	rs.defs[R_CORR2] = &rs.corr2;
	struct correlator *c = NULL;
	assert_int_equal(correlator_new_defs(rs.defs, N_RULES, &c), 0);
	struct host_event ev;
	struct fired f = { 0 };
	host_event_init(&ev);
	for (int i = 0; i < 3; i++)
		correlator_feed(c, R_FAIL, ev_auth(&ev, T0 + i * SEC, "192.0.2.1", "root"), on_fire,
				&f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.rule, R_CORR);
	for (int i = 0; i < 3; i++)
		correlator_feed(c, R_FAIL,
				ev_auth(&ev, T0 + 30 * MIN + i * SEC, "192.0.2.1", "root"), on_fire,
				&f);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.rule, R_CORR2);
	assert_string_equal(f.key, "192.0.2.1");
	host_event_free(&ev);
	correlator_free(c);
}

static void test_bad_definitions(void **state)
{
	struct rules rs;
	correlator_free(make(&rs, SIGMA_CORR_EVENT_COUNT, 5 * MIN, 2, INT64_MAX));
	struct correlator *c = NULL;
	rs.refs[0] = N_RULES; /* out of range */
	assert_int_equal(correlator_new_defs(rs.defs, N_RULES, &c), -EINVAL);
	rs.refs[0] = R_FAIL;
	rs.corr.n_refs = 0;
	assert_int_equal(correlator_new_defs(rs.defs, N_RULES, &c), -EINVAL);
	rs.corr.n_refs = 1;
	rs.group_by[0] = EF_COUNT; /* not an event field */
	assert_int_equal(correlator_new_defs(rs.defs, N_RULES, &c), -EINVAL);
	rs.group_by[0] = EF_SRC_IP;
	assert_null(c);
	/* rules nothing references are ignored */
	rs.corr.n_refs = 1;
	assert_int_equal(correlator_new_defs(rs.defs, N_RULES, &c), 0);
	struct host_event ev;
	host_event_init(&ev);
	correlator_feed(c, R_CHMOD, ev_auth(&ev, T0, "192.0.2.1", "x"), NULL, NULL);
	correlator_feed(c, N_RULES + 5, ev_auth(&ev, T0, "192.0.2.1", "x"), NULL, NULL);
	struct correlator_stats st;
	correlator_stats(c, &st);
	assert_int_equal(st.groups, 0);
	host_event_free(&ev);
	correlator_free(c);
	correlator_free(NULL);
}

/* TEMPORARY: link stubs until sigma.c lands on main (removed at the merge). */
size_t sigma_ruleset_count(const struct sigma_ruleset *rs)
{
	return 0;
}
const struct sigma_rule *sigma_ruleset_rule(const struct sigma_ruleset *rs, size_t i)
{
	return NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_count_brute_force),
		cmocka_unit_test(test_event_count_timespan),
		cmocka_unit_test(test_event_count_range),
		cmocka_unit_test(test_event_count_large_threshold),
		cmocka_unit_test(test_value_count_spraying),
		cmocka_unit_test(test_temporal_unordered),
		cmocka_unit_test(test_temporal_ordered_chain),
		cmocka_unit_test(test_group_by_several_fields),
		cmocka_unit_test(test_expire_and_eviction),
		cmocka_unit_test(test_correlation_of_correlation),
		cmocka_unit_test(test_bad_definitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
