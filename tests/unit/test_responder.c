/* The responder role (responder.h) against a scripted executor on a socketpair: results
 * of the server's actions as RECORD_ACTION_RESULT JSON and events.jsonl lines, a failure
 * raising an alert, the queue bound recorded as refused, isolate-host keeping the server
 * reachable and refreshed only while the link is alive, and edge response from an alert
 * through a playbook. Nothing touches the host: no privileges needed. */
#include "unit.h"

#include "agent/agent_config.h"
#include "agent/responder.h"
#include "detect/alert.h"
#include "lib/fileio.h"
#include "proto/immune.pb-c.h"
#include "respond/executor.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 64

/* The scripted executor: answers each request by kind; lock-user fails; the first request
 * waits for the gate when gated. */
struct fake {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gated, gate_open;
	bool refuse_refresh; /* answers a refresh "not isolated" */
	size_t n;
	Immune__V1__ActionOp ops[MAX_SEEN];
	Immune__V1__ActionKind kinds[MAX_SEEN];
	char uids[MAX_SEEN][ACTION_UID_LEN + 1];
	char allow[MAX_SEEN][256];
	uint32_t durations[MAX_SEEN];
	int32_t pids[MAX_SEEN];
	bool dry[MAX_SEEN];
};

struct fixture {
	char *dir;
	struct agent_config cfg;
	struct fake fake;
	struct responder *r;
	pthread_mutex_t lock;
	unsigned notified;
	uint32_t lease_s; /* set before start(): a lease of its own, refreshed every quarter */
};

static void notify(void *arg)
{
	struct fixture *f = arg;
	pthread_mutex_lock(&f->lock);
	f->notified++;
	pthread_mutex_unlock(&f->lock);
}

static int read_full(int fd, void *p, size_t n)
{
	unsigned char *b = p;
	while (n) {
		ssize_t k = read(fd, b, n);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void reply(int fd, const char *uid, Immune__V1__ExecStatus st, const char *msg,
		  const char *detail)
{
	ExecReply rep = IMMUNE__V1__EXEC_REPLY__INIT;
	rep.uid = (char *)uid;
	rep.status = st;
	rep.message = (char *)msg;
	rep.detail_json = (char *)detail;
	size_t n = immune__v1__exec_reply__get_packed_size(&rep);
	unsigned char *buf = xmalloc(n + 4);
	uint32_t be = htonl((uint32_t)n);
	memcpy(buf, &be, 4);
	immune__v1__exec_reply__pack(&rep, buf + 4);
	assert_int_equal(write(fd, buf, n + 4), (ssize_t)(n + 4));
	free(buf);
}

static void *fake_thread(void *arg)
{
	struct fake *fk = arg;
	for (;;) {
		uint32_t be;
		if (read_full(fk->fd, &be, 4) < 0)
			break;
		size_t n = ntohl(be);
		unsigned char *buf = xmalloc(n ? n : 1);
		if (read_full(fk->fd, buf, n) < 0) {
			free(buf);
			break;
		}
		ExecRequest *req = immune__v1__exec_request__unpack(NULL, n, buf);
		free(buf);
		if (!req || !req->action)
			break;
		pthread_mutex_lock(&fk->lock);
		size_t i = fk->n < MAX_SEEN ? fk->n : MAX_SEEN - 1;
		fk->ops[i] = req->op;
		fk->kinds[i] = req->action->kind;
		snprintf(fk->uids[i], sizeof(fk->uids[i]), "%s", req->uid);
		fk->allow[i][0] = '\0';
		for (size_t k = 0; k < req->action->n_allow; k++) {
			size_t l = strlen(fk->allow[i]);
			snprintf(fk->allow[i] + l, sizeof(fk->allow[i]) - l, "%s%s", k ? "," : "",
				 req->action->allow[k]);
		}
		fk->durations[i] = req->action->duration_seconds;
		fk->pids[i] = req->action->pid;
		fk->dry[i] = req->dry_run;
		fk->n++;
		pthread_cond_broadcast(&fk->cond);
		while (fk->gated && !fk->gate_open)
			pthread_cond_wait(&fk->cond, &fk->lock);
		pthread_mutex_unlock(&fk->lock);
		if (req->op == IMMUNE__V1__ACTION_OP__OP_REFRESH && fk->refuse_refresh)
			reply(fk->fd, req->uid, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
			      "the host is not isolated", "");
		else if (req->dry_run)
			reply(fk->fd, req->uid, IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN,
			      "would kill the process", "");
		else if (req->action->kind == IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_SERVICE)
			reply(fk->fd, req->uid, IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED,
			      "stopped \xff\xfeunit", "");
		else if (req->action->kind == IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER)
			reply(fk->fd, req->uid, IMMUNE__V1__EXEC_STATUS__EXEC_FAILED,
			      "passwd -l failed", "{\"exit\":1}");
		else
			reply(fk->fd, req->uid, IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED, "done",
			      "{\"ok\":true}");
		immune__v1__exec_request__free_unpacked(req, NULL);
	}
	return NULL;
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

/* Starts the fake executor and the responder (playbooks: NULL or a file's content). */
static void start(struct fixture *f, size_t queue_max, bool gated, const char *playbook)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fake.fd = sv[1];
	f->fake.gated = gated;
	pthread_mutex_init(&f->fake.lock, NULL);
	pthread_cond_init(&f->fake.cond, NULL);
	assert_int_equal(pthread_create(&f->fake.thread, NULL, fake_thread, &f->fake), 0);
	_cleanup_free_ char *pb = NULL;
	if (playbook) {
		pb = xasprintf("%s/playbooks.yml", f->dir);
		assert_int_equal(file_write_atomic(pb, playbook, strlen(playbook), 0600), 0);
	}
	struct responder_options o = { .state_dir = f->dir,
				       .cfg = &f->cfg,
				       .playbooks = pb,
				       .hostname = "test-host",
				       .exec_fd = sv[0],
				       .queue_max = queue_max,
				       .refresh_ms = f->lease_s ? 0 : 50,
				       .lease_s = f->lease_s };
	char err[256];
	assert_int_equal(responder_start(&o, notify, f, &f->r, err, sizeof(err)), 0);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/immune-test-responder-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	f->cfg.server = xstrdup("127.0.0.1:7443");
	f->cfg.host_id = xstrdup("h1");
	assert_int_equal(agent_config_add_label(&f->cfg, "env=prod"), 0);
	pthread_mutex_init(&f->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->r) {
		pthread_mutex_lock(&f->fake.lock);
		f->fake.gate_open = true;
		pthread_cond_broadcast(&f->fake.cond);
		pthread_mutex_unlock(&f->fake.lock);
		responder_free(f->r); /* closes its end: the fake's read ends */
		pthread_join(f->fake.thread, NULL);
		close(f->fake.fd);
	}
	agent_config_free(&f->cfg);
	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Takes records until n of kind have come (10 s at most); returns them parsed (JSON
 * array, one object per record of kind; alerts as their raw JSON). */
static json_t *wait_records(struct fixture *f, uint32_t kind, size_t n, struct agent_records *all)
{
	json_t *out = json_array();
	for (int i = 0; i < 1000 && json_array_size(out) < n; i++) {
		struct agent_records recs = { 0 };
		responder_take(f->r, &recs);
		for (size_t k = 0; k < recs.n; k++) {
			assert_int_equal(recs.v[k].stream, IMMUNE__V1__STREAM__STREAM_ALERTS);
			assert_int_equal(recs.v[k].encoding, IMMUNE__V1__ENCODING__ENCODING_RAW);
			if (recs.v[k].kind == kind)
				json_array_append_new(out,
						      json_loadb((const char *)recs.v[k].payload,
								 recs.v[k].len, 0, NULL));
		}
		if (all)
			agent_records_move(all, &recs);
		agent_records_free(&recs);
		if (json_array_size(out) < n)
			sleep_ms(10);
	}
	assert_int_equal(json_array_size(out), n);
	return out;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static Action *kill_action(int pid)
{
	json_t *p = json_pack("{s:i}", "pid", pid);
	Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS, p, &a, err,
					  sizeof(err)),
			 0);
	json_decref(p);
	return a;
}

static void test_server_action_result(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, NULL);
	_cleanup_(action_freep) Action *a = kill_action(4242);
	const char uid[] = "0123456789abcdef0123456789abcdef";
	assert_int_equal(responder_submit(f->r, uid, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "server",
					  NULL, false),
			 0);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	json_t *o = json_array_get(res, 0);
	assert_string_equal(jstr(o, "uid"), uid);
	assert_string_equal(jstr(o, "kind"), "kill-process");
	assert_string_equal(jstr(o, "op"), "apply");
	assert_string_equal(jstr(o, "status"), "verified");
	assert_string_equal(jstr(o, "message"), "done");
	assert_string_equal(jstr(o, "origin"), "server");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "params"), "pid")),
			 4242);
	assert_true(json_is_true(json_object_get(json_object_get(o, "detail"), "ok")));
	assert_null(json_object_get(o, "trigger"));
	json_int_t req = json_integer_value(json_object_get(o, "requested_ns"));
	assert_true(req > 0 && json_integer_value(json_object_get(o, "finished_ns")) >= req);
	json_decref(res);
	assert_string_equal(f->fake.uids[0], uid);
	assert_int_equal(f->fake.pids[0], 4242);
	/* the same result is a line of events.jsonl */
	_cleanup_free_ char *path = xasprintf("%s/events.jsonl", f->dir);
	struct buf b = { 0 };
	assert_int_equal(file_read_capped(path, 1 << 20, &b), 0);
	json_t *line = json_loads(buf_str(&b), 0, NULL);
	buf_free(&b);
	assert_non_null(line);
	assert_true(json_integer_value(json_object_get(line, "time")) > 0);
	assert_string_equal(jstr(json_object_get(line, "action_result"), "uid"), uid);
	json_decref(line);
	/* a bad id or operation is refused without a record */
	assert_int_equal(responder_submit(f->r, "XYZ", IMMUNE__V1__ACTION_OP__OP_APPLY, a, "server",
					  NULL, false),
			 -EINVAL);
	json_t *st = responder_status(f->r);
	assert_int_equal(json_integer_value(json_object_get(st, "results")), 1);
	json_decref(st);
}

/* A verified apply-fix (not a dry run) asks the agent to scan again, once; other results and
 * dry runs do not. The fake executor answers; nothing is applied. */
static void test_rescan_after_fix(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, NULL);
	json_t *p =
		json_pack("{s:s, s:{s:s, s:s, s:s}}", "check", "net-tcp-syncookies-enabled", "fix",
			  "type", "sysctl_set", "key", "net.ipv4.tcp_syncookies", "value", "1");
	Action *fix = NULL;
	char err[256];
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX, p, &fix, err,
					  sizeof(err)),
			 0);
	json_decref(p);
	_cleanup_(action_freep) Action *kill = kill_action(4242);

	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, kill,
					  "server", NULL, false),
			 0);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, fix,
					  "server", NULL, true),
			 0);
	json_decref(wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 2, NULL));
	assert_false(responder_take_rescan(f->r));

	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, fix,
					  "server", NULL, false),
			 0);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	assert_string_equal(jstr(json_array_get(res, 0), "status"), "verified");
	json_decref(res);
	assert_true(responder_take_rescan(f->r));
	assert_false(responder_take_rescan(f->r));
	action_free(fix);
}

static void test_failure_raises_alert(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, NULL);
	json_t *p = json_pack("{s:s}", "user", "mallory");
	_cleanup_(action_freep) Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER, p, &a, err,
					  sizeof(err)),
			 0);
	json_decref(p);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "manual",
					  NULL, false),
			 0);
	struct agent_records all = { 0 };
	json_t *alerts = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ALERT, 1, &all);
	json_decref(alerts);
	bool result_seen = false;
	for (size_t i = 0; i < all.n; i++) {
		if (all.v[i].kind == IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT) {
			json_t *o =
				json_loadb((const char *)all.v[i].payload, all.v[i].len, 0, NULL);
			assert_string_equal(jstr(o, "status"), "failed");
			assert_string_equal(jstr(o, "origin"), "manual");
			assert_string_equal(jstr(o, "message"), "passwd -l failed");
			json_decref(o);
			result_seen = true;
		} else {
			struct alert_summary s;
			assert_int_equal(alert_parse(all.v[i].payload, all.v[i].len, &s), 0);
			assert_string_equal(s.rule_id, "response.action_failed");
			assert_int_equal(s.level, SIGMA_LEVEL_HIGH);
			alert_summary_free(&s);
		}
	}
	assert_true(result_seen);
	agent_records_free(&all);
}

/* A message that is not UTF-8 (a process name) does not lose the result. */
static void test_message_not_utf8(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, NULL);
	json_t *p = json_pack("{s:s}", "unit", "evil.service");
	_cleanup_(action_freep) Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_SERVICE, p, &a,
					  err, sizeof(err)),
			 0);
	json_decref(p);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "server",
					  NULL, false),
			 0);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	assert_string_equal(jstr(json_array_get(res, 0), "message"), "stopped ??unit");
	assert_null(json_object_get(json_array_get(res, 0), "detail"));
	json_decref(res);
}

static void test_queue_full_is_recorded(void **state)
{
	struct fixture *f = *state;
	start(f, 1, true, NULL);
	_cleanup_(action_freep) Action *a = kill_action(100);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "edge",
					  NULL, false),
			 0);
	/* the first job is with the executor (held at the gate), the second waits */
	pthread_mutex_lock(&f->fake.lock);
	while (f->fake.n < 1)
		pthread_cond_wait(&f->fake.cond, &f->fake.lock);
	pthread_mutex_unlock(&f->fake.lock);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "edge",
					  NULL, false),
			 0);
	struct responder_trigger t = {
		.alert_uid = "aa", .rule_id = "r1", .playbook = "pb", .step = 2
	};
	assert_int_equal(
		responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "edge", &t, false),
		-ENOSPC);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	json_t *o = json_array_get(res, 0);
	assert_string_equal(jstr(o, "status"), "refused");
	assert_string_equal(jstr(o, "message"), "queue full");
	json_t *tr = json_object_get(o, "trigger");
	assert_string_equal(jstr(tr, "playbook"), "pb");
	assert_int_equal(json_integer_value(json_object_get(tr, "step")), 2);
	json_decref(res);
	pthread_mutex_lock(&f->fake.lock);
	f->fake.gate_open = true;
	pthread_cond_broadcast(&f->fake.cond);
	pthread_mutex_unlock(&f->fake.lock);
	res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 2, NULL);
	assert_string_equal(jstr(json_array_get(res, 0), "status"), "verified");
	assert_string_equal(jstr(json_array_get(res, 1), "status"), "verified");
	json_decref(res);
}

static size_t count_refreshes(struct fixture *f)
{
	size_t n = 0;
	pthread_mutex_lock(&f->fake.lock);
	for (size_t i = 0; i < f->fake.n && i < MAX_SEEN; i++)
		if (f->fake.ops[i] == IMMUNE__V1__ACTION_OP__OP_REFRESH) {
			assert_int_equal(f->fake.kinds[i],
					 IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST);
			assert_int_equal(f->fake.durations[i],
					 f->lease_s ? f->lease_s : RESPONDER_LEASE_S);
			n++;
		}
	pthread_mutex_unlock(&f->fake.lock);
	return n;
}

static void test_isolation_keeps_server_and_refreshes_while_linked(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, NULL);
	json_t *p = json_pack("{s:[s], s:s}", "allow", "10.9.9.9", "duration", "1h");
	_cleanup_(action_freep) Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST, p, &a, err,
					  sizeof(err)),
			 0);
	json_decref(p);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "server",
					  NULL, false),
			 0);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	/* the record shows the action as asked; the executor got the server added */
	json_t *allow = json_object_get(json_object_get(json_array_get(res, 0), "params"), "allow");
	assert_int_equal(json_array_size(allow), 1);
	json_decref(res);
	assert_string_equal(f->fake.allow[0], "10.9.9.9,127.0.0.1");
	/* never linked: no refresh, the isolation lifts by itself */
	sleep_ms(300);
	assert_int_equal(count_refreshes(f), 0);
	/* linked: refreshed */
	responder_link_alive(f->r);
	for (int i = 0; i < 500 && count_refreshes(f) < 2; i++)
		sleep_ms(10);
	assert_true(count_refreshes(f) >= 2);
	json_t *st = responder_status(f->r);
	assert_true(json_is_true(json_object_get(st, "isolated")));
	json_decref(st);
}

/* An isolation from before the agent started: the first refresh finds it (or not). */
static void test_isolation_from_before_start(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, NULL);
	json_t *st = responder_status(f->r);
	assert_false(json_is_true(json_object_get(st, "isolated")));
	assert_string_equal(jstr(st, "isolation"), "unknown");
	json_decref(st);
	responder_link_alive(f->r);
	for (int i = 0; i < 500 && count_refreshes(f) < 2; i++)
		sleep_ms(10);
	assert_true(count_refreshes(f) >= 2);
	st = responder_status(f->r);
	assert_true(json_is_true(json_object_get(st, "isolated")));
	json_decref(st);
}

static void test_no_isolation_before_start(void **state)
{
	struct fixture *f = *state;
	f->fake.refuse_refresh = true;
	start(f, 0, false, NULL);
	responder_link_alive(f->r);
	for (int i = 0; i < 500 && count_refreshes(f) < 1; i++)
		sleep_ms(10);
	sleep_ms(300); /* six refresh periods: no second request */
	assert_int_equal(count_refreshes(f), 1);
	json_t *st = responder_status(f->r);
	assert_false(json_is_true(json_object_get(st, "isolated")));
	assert_string_equal(jstr(st, "isolation"), "none");
	json_decref(st);
}

/* A lease of 2 s (agent.yaml response.isolation_lease): refreshes every 500 ms for 2 s, and
 * they stop once the link was last reported alive more than a lease ago. */
static void test_isolation_lease_option(void **state)
{
	struct fixture *f = *state;
	f->lease_s = 2;
	start(f, 0, false, NULL);
	responder_link_alive(f->r);
	for (int i = 0; i < 300 && count_refreshes(f) < 2; i++)
		sleep_ms(10);
	assert_true(count_refreshes(f) >= 2); /* each one asked for the 2 s lease */
	/* no more news of the link: at most a lease later the refreshes stop */
	sleep_ms(2600);
	size_t n = count_refreshes(f);
	sleep_ms(1100); /* two refresh periods */
	assert_int_equal(count_refreshes(f), n);
	/* the link is back: refreshed again */
	responder_link_alive(f->r);
	for (int i = 0; i < 300 && count_refreshes(f) == n; i++)
		sleep_ms(10);
	assert_true(count_refreshes(f) > n);
}

/* The real executor, forked by the responder: a refusal comes back as a result, and the
 * refresh probe after start learns that the host is not isolated. */
static void test_real_executor(void **state)
{
	struct fixture *f = *state;
	struct responder_options o = { .state_dir = f->dir,
				       .cfg = &f->cfg,
				       .hostname = "test-host",
				       .exec_fd = -1,
				       .nft_table = "immtest",
				       .refresh_ms = 50 };
	char err[256];
	assert_int_equal(responder_start(&o, notify, f, &f->r, err, sizeof(err)), 0);
	f->fake.fd = -1;
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_UNSPECIFIED;
	const char uid[] = "00000000000000000000000000000abc";
	assert_int_equal(responder_submit(f->r, uid, IMMUNE__V1__ACTION_OP__OP_APPLY, &a, "manual",
					  NULL, false),
			 0);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	json_t *r0 = json_array_get(res, 0);
	assert_string_equal(jstr(r0, "uid"), uid);
	assert_string_equal(jstr(r0, "status"), "refused");
	assert_non_null(strstr(jstr(r0, "message"), "kind"));
	json_decref(res);
	responder_link_alive(f->r);
	json_t *st = NULL;
	for (int i = 0; i < 200; i++) {
		json_decref(st);
		sleep_ms(20);
		st = responder_status(f->r);
		if (strcmp(jstr(st, "isolation"), "none") == 0)
			break;
	}
	assert_string_equal(jstr(st, "isolation"), "none");
	assert_false(json_is_true(json_object_get(st, "isolated")));
	assert_int_equal(json_integer_value(json_object_get(st, "isolation_refreshes")), 0);
	assert_true(json_is_true(json_object_get(st, "executor")));
	json_decref(st);
	responder_free(f->r);
	f->r = NULL;
}

/* The dead-man refresh through the real executor and nftables, in a network namespace of
 * this test's own (root only; skipped otherwise). Runs last: the process stays in it. */
static void test_real_isolation_refresh(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		skip();
		return;
	}
	struct responder_options o = { .state_dir = f->dir,
				       .cfg = &f->cfg,
				       .hostname = "test-host",
				       .exec_fd = -1,
				       .nft_table = "immtest",
				       .refresh_ms = 50 };
	char err[256];
	assert_int_equal(responder_start(&o, notify, f, &f->r, err, sizeof(err)), 0);
	f->fake.fd = -1;
	json_t *p = json_pack("{s:s}", "duration", "10m");
	_cleanup_(action_freep) Action *a = NULL;
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST, p, &a, err,
					  sizeof(err)),
			 0);
	json_decref(p);
	assert_int_equal(responder_submit(f->r, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, a, "manual",
					  NULL, false),
			 0);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	if (strcmp(jstr(json_array_get(res, 0), "status"), "verified") != 0)
		fail_msg("isolate-host: %s", jstr(json_array_get(res, 0), "message"));
	json_decref(res);
	responder_link_alive(f->r);
	json_t *st = NULL;
	for (int i = 0; i < 250; i++) {
		json_decref(st);
		sleep_ms(20);
		st = responder_status(f->r);
		if (json_integer_value(json_object_get(st, "isolation_refreshes")) >= 2)
			break;
	}
	assert_true(json_integer_value(json_object_get(st, "isolation_refreshes")) >= 2);
	assert_string_equal(jstr(st, "isolation"), "isolated");
	json_decref(st);
	responder_free(f->r);
	f->r = NULL;
}

static const char edge_playbook[] = "id: kill-evil\n"
				    "title: Kill the evil program\n"
				    "trigger:\n  rule: 7a0c0000-0000-4000-8000-00000000de01\n"
				    "steps:\n"
				    "  - action: kill-process\n"
				    "    params: {pid: \"{{pid}}\"}\n"
				    "    mode: auto\n"
				    "    local: true\n"
				    "  - action: lock-user\n"
				    "    params: {user: \"{{user}}\"}\n"
				    "    mode: approve\n";

static void test_edge_response_from_alert(void **state)
{
	struct fixture *f = *state;
	start(f, 0, false, edge_playbook);
	struct alert al = { 0 };
	alert_new_uid(&al);
	al.source = ALERT_RULE;
	al.rule_id = xstrdup("7a0c0000-0000-4000-8000-00000000de01");
	al.title = xstrdup("Evil binary ran");
	al.level = SIGMA_LEVEL_HIGH;
	al.hostname = xstrdup("test-host");
	al.time_ns = 1;
	struct host_event ev;
	host_event_init(&ev);
	host_event_reset(&ev, EVENT_PROCESS_EXEC, 1);
	host_event_set_str(&ev, EF_IMAGE, "/tmp/evil");
	host_event_set_int(&ev, EF_PID, 31337);
	host_event_set_str(&ev, EF_USER, "mallory");
	alert_add_evidence(&al, &ev);
	host_event_free(&ev);
	/* another rule: nothing */
	free(al.rule_id);
	al.rule_id = xstrdup("7a0c0000-0000-4000-8000-00000000ffff");
	responder_alert(f->r, &al);
	free(al.rule_id);
	al.rule_id = xstrdup("7a0c0000-0000-4000-8000-00000000de01");
	responder_alert(f->r, &al);
	json_t *res = wait_records(f, IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, 1, NULL);
	json_t *o = json_array_get(res, 0);
	assert_string_equal(jstr(o, "kind"), "kill-process");
	assert_string_equal(jstr(o, "origin"), "edge");
	assert_string_equal(jstr(o, "status"), "verified");
	assert_true(action_uid_ok(jstr(o, "uid")));
	json_t *tr = json_object_get(o, "trigger");
	assert_string_equal(jstr(tr, "alert_uid"), al.uid);
	assert_string_equal(jstr(tr, "rule_id"), "7a0c0000-0000-4000-8000-00000000de01");
	assert_string_equal(jstr(tr, "playbook"), "kill-evil");
	assert_int_equal(json_integer_value(json_object_get(tr, "step")), 0);
	json_decref(res);
	/* only the local step ran (the approve step is the server's) */
	sleep_ms(200);
	pthread_mutex_lock(&f->fake.lock);
	assert_int_equal(f->fake.n, 1);
	assert_int_equal(f->fake.pids[0], 31337);
	pthread_mutex_unlock(&f->fake.lock);
	alert_clear(&al);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_action_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rescan_after_fix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_raises_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full_is_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_isolation_keeps_server_and_refreshes_while_linked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation_from_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_isolation_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation_lease_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_response_from_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_executor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_isolation_refresh, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
