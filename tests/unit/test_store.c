/* Unit tests for the store (src/store) with its SQLite backend, through store.h: migrations,
 * operators, tokens, hosts, exactly-once ingest across restarts and a SIGKILL, findings and
 * inventory derived from STATE records, retention, unparseable payloads. */
#include "unit.h"

#include "proto/immune.pb-c.h"
#include "store/store.h"
#include "store/store_backend.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define EVENTS IMMUNE__V1__STREAM__STREAM_EVENTS
#define STATE IMMUNE__V1__STREAM__STREAM_STATE
#define ALERTS IMMUNE__V1__STREAM__STREAM_ALERTS
#define RAW IMMUNE__V1__ENCODING__ENCODING_RAW
#define ZSTD IMMUNE__V1__ENCODING__ENCODING_ZSTD

struct ctx {
	char dir[64];
	char path[128];
	char url[160];
	struct store *st;
};

static const unsigned char hash_a[32] = { 1, 2, 3 };
static const unsigned char hash_b[32] = { 9, 9, 9 };

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));

	snprintf(c->dir, sizeof(c->dir), "/tmp/test-store-XXXXXX");
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

static void reopen(struct ctx *c)
{
	store_close(c->st);
	c->st = NULL;
	assert_int_equal(store_open(c->url, &c->st), 0);
}

/* Runs one integer query on the database file, beside the store. */
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

/* ---- waiting for done callbacks ---- */

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int pending;
	int calls;
	int errors;
	int last_result;
	uint64_t last_committed;
};

static struct waiter W = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0 };

static void on_done(struct store_batch *b, int result, uint64_t committed, void *userdata)
{
	int *called = userdata;

	pthread_mutex_lock(&W.m);
	if (called)
		(*called)++;
	W.pending--;
	W.calls++;
	if (result < 0)
		W.errors++;
	W.last_result = result;
	W.last_committed = committed;
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.m);
}

static void submit(struct ctx *c, struct store_batch *b, int *called)
{
	b->done = on_done;
	b->userdata = called;
	pthread_mutex_lock(&W.m);
	W.pending++;
	pthread_mutex_unlock(&W.m);
	assert_int_equal(store_ingest_submit(c->st, b), 0);
}

static void wait_all(void)
{
	pthread_mutex_lock(&W.m);
	while (W.pending > 0)
		pthread_cond_wait(&W.cv, &W.m);
	pthread_mutex_unlock(&W.m);
}

/* Submits one record and waits for its done callback; returns the callback's result. */
static int submit_one(struct ctx *c, const char *host, uint32_t stream, uint64_t seq, uint32_t kind,
		      int64_t time_ns, uint32_t enc, const void *p, size_t len)
{
	struct store_batch *b = store_batch_new(host, stream, 1);

	store_batch_set(b, 0, seq, kind, time_ns, enc, p, len);
	submit(c, b, NULL);
	wait_all();
	return W.last_result;
}

static void submit_events(struct ctx *c, const char *host, uint32_t stream, uint64_t first,
			  uint64_t last, size_t per_batch, int64_t time_ns, int *called)
{
	uint64_t seq = first;

	while (seq <= last) {
		size_t n = last - seq + 1 < per_batch ? last - seq + 1 : per_batch, i;
		struct store_batch *b = store_batch_new(host, stream, n);

		for (i = 0; i < n; i++, seq++) {
			char p[64];
			int len = snprintf(p, sizeof(p), "{\"seq\":%llu}", (unsigned long long)seq);

			store_batch_set(b, i, seq, IMMUNE__V1__RECORD_KIND__RECORD_EVENT,
					time_ns ? time_ns : (int64_t)seq, RAW, p, (size_t)len);
		}
		submit(c, b, called ? &called[(seq - first - 1) / per_batch] : NULL);
	}
}

/* ---- open and migrations ---- */

static void test_migrations(void **state)
{
	struct ctx *c = *state;
	sqlite3 *db;
	struct store_host h;

	/* a database of schema version 1 with one host in it */
	assert_int_equal(store_sqlite_migrate_to(c->path, 1), 0);
	assert_int_equal(query_int(c, "PRAGMA user_version"), 1);
	assert_int_equal(query_int(c, "SELECT count(*) FROM sqlite_master WHERE name ="
				      " 'hosts_machine'"),
			 0);
	assert_int_equal(sqlite3_open(c->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO hosts(id, machine_id, hostname, enrolled_at)"
				      " VALUES('0123456789abcdef0123456789abcdef', 'm1', 'old', 5)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_schema_version(c->st), 5);
	assert_int_equal(query_int(c, "PRAGMA user_version"), 5);
	assert_int_equal(query_int(c, "SELECT count(*) FROM sqlite_master WHERE name ="
				      " 'hosts_machine'"),
			 1);
	assert_int_equal(store_host_get(c->st, "0123456789abcdef0123456789abcdef", &h), 0);
	assert_string_equal(h.hostname, "old");
	assert_true(isnan(h.score));
	store_host_free(&h);
	reopen(c);
	assert_int_equal(store_schema_version(c->st), 5);
	store_close(c->st);
	c->st = NULL;

	/* a newer database than this program knows is refused */
	assert_int_equal(sqlite3_open(c->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(c->url, &c->st), -EPROTO);
	assert_null(c->st);
	assert_int_equal(store_open("postgres:x", &c->st), -EPROTONOSUPPORT);
	assert_int_equal(store_open("nourl", &c->st), -EINVAL);
}

static void test_operators(void **state)
{
	struct ctx *c = *state;
	char *name = NULL;
	char *role = NULL;

	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_operator_find(c->st, hash_a, &name, NULL), -ENOENT);
	assert_int_equal(store_operator_put(c->st, "alice", "viewer", hash_a), 0);
	assert_int_equal(store_operator_find(c->st, hash_a, &name, &role), 0);
	assert_string_equal(name, "alice");
	assert_string_equal(role, "viewer");
	free(name);
	free(role);
	/* a new token replaces the old one (and its role) */
	assert_int_equal(store_operator_put(c->st, "alice", "admin", hash_b), 0);
	assert_int_equal(store_operator_find(c->st, hash_a, &name, NULL), -ENOENT);
	assert_int_equal(store_operator_find(c->st, hash_b, &name, &role), 0);
	assert_string_equal(name, "alice");
	assert_string_equal(role, "admin");
	free(name);
	free(role);
	/* the role changes; a deleted token is unknown */
	assert_int_equal(store_operator_set_role(c->st, "alice", ""), 0);
	assert_int_equal(store_operator_find(c->st, hash_b, &name, &role), 0);
	assert_string_equal(role, "");
	free(name);
	free(role);
	assert_int_equal(store_operator_set_role(c->st, "bob", "admin"), -ENOENT);
	assert_int_equal(store_operator_delete(c->st, "alice"), 0);
	assert_int_equal(store_operator_delete(c->st, "alice"), -ENOENT);
	assert_int_equal(store_operator_find(c->st, hash_b, &name, NULL), -ENOENT);
}

static void test_access_docs(void **state)
{
	struct ctx *c = *state;
	json_t *list;
	char *doc = NULL;

	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_access_doc_get(c->st, "user", "alice", &doc), -ENOENT);
	assert_int_equal(store_access_doc_put(c->st, "user", "bob", "{\"name\":\"bob\"}", 1), 0);
	assert_int_equal(store_access_doc_put(c->st, "user", "alice", "{\"name\":\"a\"}", 2), 0);
	/* a second put replaces the document; kinds are separate */
	assert_int_equal(store_access_doc_put(c->st, "user", "alice", "{\"name\":\"alice\"}", 3),
			 0);
	assert_int_equal(store_access_doc_put(c->st, "group", "alice", "{\"name\":\"g\"}", 3), 0);
	assert_int_equal(store_access_doc_get(c->st, "user", "alice", &doc), 0);
	assert_string_equal(doc, "{\"name\":\"alice\"}");
	free(doc);
	assert_int_equal(store_access_doc_list(c->st, "user", &list), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "alice");
	json_decref(list);
	assert_int_equal(store_access_doc_delete(c->st, "user", "bob"), 0);
	assert_int_equal(store_access_doc_delete(c->st, "user", "bob"), -ENOENT);
	assert_int_equal(store_access_doc_list(c->st, "user", &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	reopen(c);
	assert_int_equal(store_access_doc_get(c->st, "group", "alice", &doc), 0);
	free(doc);
}

static void test_tokens(void **state)
{
	struct ctx *c = *state;
	struct store_label labels[] = { { "team", "web" }, { "env", "prod" } };
	struct store_token t, *list;
	size_t n, i;

	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(store_token_add(c->st, "t1", hash_a, 2000, 1, labels, 2), 0);
	assert_int_equal(store_token_add(c->st, "t1", hash_a, 2000, 1, NULL, 0), -EEXIST);
	assert_int_equal(store_token_add(c->st, "old", hash_a, 500, 5, NULL, 0), 0);
	assert_int_equal(store_token_add(c->st, "many", hash_b, 0, -1, NULL, 0), 0);

	assert_int_equal(store_token_consume(c->st, "t1", hash_b, 1000, &t), -ENOENT);
	assert_int_equal(store_token_consume(c->st, "nope", hash_a, 1000, &t), -ENOENT);
	assert_int_equal(store_token_consume(c->st, "old", hash_a, 1000, &t), -EKEYEXPIRED);
	assert_int_equal(store_token_consume(c->st, "t1", hash_a, 1000, &t), 0);
	assert_string_equal(t.id, "t1");
	assert_int_equal(t.uses, 1);
	assert_int_equal(t.uses_left, 0);
	assert_int_equal(t.n_labels, 2);
	assert_string_equal(t.labels[0].key, "env"); /* sorted by key */
	assert_string_equal(t.labels[1].value, "web");
	store_token_free(&t);
	assert_int_equal(store_token_consume(c->st, "t1", hash_a, 1000, &t), -EUSERS);
	for (i = 0; i < 5; i++) {
		assert_int_equal(store_token_consume(c->st, "many", hash_b, 1000, &t), 0);
		assert_int_equal(t.uses_left, -1);
		store_token_free(&t);
	}
	assert_int_equal(store_tokens_list(c->st, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].id, "many");
	assert_int_equal(list[0].uses, 5);
	assert_string_equal(list[2].id, "t1");
	assert_int_equal(list[2].uses, 1);
	assert_int_equal(list[2].uses_left, 0);
	store_tokens_free(list, n);
}

static bool is_host_id(const char *id)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!strchr("0123456789abcdef", id[i]) || !id[i])
			return false;
	return id[32] == '\0';
}

static void test_hosts(void **state)
{
	struct ctx *c = *state;
	struct store_label token_labels[] = { { "team", "a" }, { "env", "prod" } };
	struct store_label agent_labels[] = { { "zone", "z1" }, { "team", "b" } };
	struct store_host h, *list;
	char *id1, *id2, *id3;
	size_t n;

	assert_int_equal(store_open(c->url, &c->st), 0);
	assert_int_equal(
		store_host_enroll(c->st, "mach-a", "web-1", token_labels, 2, "aa", 100, 1000, &id1),
		0);
	assert_true(is_host_id(id1));
	assert_int_equal(store_host_enroll(c->st, "mach-a", "web-1b", token_labels, 1, "bb", 200,
					   1001, &id2),
			 0);
	assert_string_equal(id1, id2); /* same machine, same id */
	assert_int_equal(store_host_get(c->st, id1, &h), 0);
	assert_string_equal(h.hostname, "web-1b");
	assert_string_equal(h.cert_serial, "bb");
	assert_int_equal(h.cert_not_after, 200);
	assert_int_equal(h.enrolled_at, 1000);
	assert_int_equal(h.n_labels, 1);
	assert_string_equal(h.labels[0].key, "team");
	assert_false(h.revoked);
	assert_int_equal(h.last_seen, 0);
	store_host_free(&h);

	/* the agent's labels merge over the token's: agent wins, sorted by key */
	assert_int_equal(
		store_host_enroll(c->st, "mach-a", "web-1", token_labels, 2, "cc", 300, 1002, &id3),
		0);
	free(id3);
	assert_int_equal(store_host_hello(c->st, id1, "web-one", "0.1.0", agent_labels, 2, 1500),
			 0);
	assert_int_equal(store_host_get(c->st, id1, &h), 0);
	assert_string_equal(h.hostname, "web-one");
	assert_string_equal(h.agent_version, "0.1.0");
	assert_int_equal(h.last_seen, 1500);
	assert_int_equal(h.n_labels, 3);
	assert_string_equal(h.labels[0].key, "env");
	assert_string_equal(h.labels[0].value, "prod");
	assert_string_equal(h.labels[1].key, "team");
	assert_string_equal(h.labels[1].value, "b");
	assert_string_equal(h.labels[2].key, "zone");
	store_host_free(&h);

	assert_int_equal(store_host_set_cert(c->st, id1, "dd", 400), 0);
	assert_int_equal(store_host_touch(c->st, id1, 1600), 0);
	assert_int_equal(store_host_get(c->st, id1, &h), 0);
	assert_string_equal(h.cert_serial, "dd");
	assert_int_equal(h.last_seen, 1600);
	store_host_free(&h);

	/* a revoked host's machine enrolls as a new host */
	assert_int_equal(store_host_revoke(c->st, id1, 1700), 0);
	assert_int_equal(
		store_host_enroll(c->st, "mach-a", "web-1", NULL, 0, "ee", 500, 1800, &id3), 0);
	assert_true(is_host_id(id3));
	assert_string_not_equal(id1, id3);
	assert_int_equal(store_host_get(c->st, id1, &h), 0);
	assert_true(h.revoked);
	store_host_free(&h);

	assert_int_equal(store_host_get(c->st, "0123456789abcdef0123456789abcdef", &h), -ENOENT);
	assert_int_equal(store_host_revoke(c->st, "nope", 1), -ENOENT);
	assert_int_equal(store_host_touch(c->st, "nope", 1), -ENOENT);
	assert_int_equal(store_host_hello(c->st, "nope", "x", "y", NULL, 0, 1), -ENOENT);
	assert_int_equal(store_hosts_list(c->st, &list, &n), 0);
	assert_int_equal(n, 2);
	store_hosts_free(list, n);
	free(id1);
	free(id2);
	free(id3);
}

/* ---- ingest ---- */

static void test_ingest_exactly_once(void **state)
{
	struct ctx *c = *state;
	int called[40] = { 0 };
	struct store_stream s[3];
	struct store_stats stats;
	char *id;
	size_t i;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	W.calls = W.errors = 0;
	submit_events(c, id, EVENTS, 1, 1000, 100, 0, called);
	wait_all();
	for (i = 0; i < 10; i++)
		assert_int_equal(called[i], 1);
	assert_int_equal(W.calls, 10);
	assert_int_equal(W.errors, 0);
	assert_int_equal(W.last_committed, 1000);
	reopen(c);

	memset(called, 0, sizeof(called));
	W.calls = 0;
	submit_events(c, id, EVENTS, 500, 1500, 100, 0, called);
	wait_all();
	for (i = 0; i < 11; i++)
		assert_int_equal(called[i], 1);
	assert_int_equal(W.calls, 11);
	assert_int_equal(W.errors, 0);
	assert_int_equal(W.last_committed, 1500);
	store_get_stats(c->st, &stats);
	assert_int_equal(stats.records, 500);
	assert_int_equal(stats.duplicates, 501);
	assert_int_equal(stats.batches, 11);
	reopen(c);

	assert_int_equal(query_int(c, "SELECT count(*) FROM records"), 1500);
	assert_int_equal(query_int(c, "SELECT min(seq) FROM records"), 1);
	assert_int_equal(query_int(c, "SELECT max(seq) FROM records"), 1500);
	assert_int_equal(store_host_streams(c->st, id, s), 0);
	assert_int_equal(s[0].stream, EVENTS);
	assert_int_equal(s[0].committed_seq, 1500);
	assert_int_equal(s[0].records, 1500);
	assert_int_equal(s[1].committed_seq, 0);
	assert_int_equal(s[2].stream, ALERTS);
	assert_int_equal(store_host_streams(c->st, "0123456789abcdef0123456789abcdef", s), -ENOENT);

	/* unknown host, unknown stream */
	assert_int_equal(submit_one(c, "0123456789abcdef0123456789abcdef", EVENTS, 1,
				    IMMUNE__V1__RECORD_KIND__RECORD_EVENT, 1, RAW, "{}", 2),
			 -ENOENT);
	{
		char longer[40];

		snprintf(longer, sizeof(longer), "%s00", id);
		assert_int_equal(submit_one(c, longer, EVENTS, 1,
					    IMMUNE__V1__RECORD_KIND__RECORD_EVENT, 1, RAW, "{}", 2),
				 -ENOENT);
	}
	assert_int_equal(
		submit_one(c, id, 7, 1, IMMUNE__V1__RECORD_KIND__RECORD_EVENT, 1, RAW, "{}", 2),
		-EINVAL);
	/* an alert batch in the same store keeps its own numbering */
	assert_int_equal(submit_one(c, id, ALERTS, 1, IMMUNE__V1__RECORD_KIND__RECORD_ALERT, 1, RAW,
				    "{}", 2),
			 0);
	assert_int_equal(W.last_committed, 1);
	store_close(c->st);
	c->st = NULL;
	assert_int_equal(query_int(c, "SELECT count(*) FROM records"), 1501);
	free(id);
}

static void on_done_notify(struct store_batch *b, int result, uint64_t committed, void *ud)
{
	int fd = *(int *)ud;
	char ch = 'x';

	if (result == 0 && write(fd, &ch, 1) < 0)
		_exit(3);
}

/* The child: streams batches to three hosts until it is killed. */
static _Noreturn void crash_child(const char *url, char **ids, int fd)
{
	struct store *st;
	uint64_t seq[3] = { 0 };
	size_t round, h, i;

	if (store_open(url, &st) < 0)
		_exit(2);
	for (round = 0;; round++) {
		h = round % 3;
		struct store_batch *b = store_batch_new(ids[h], EVENTS, 200);

		for (i = 0; i < 200; i++) {
			seq[h]++;
			store_batch_set(b, i, seq[h], IMMUNE__V1__RECORD_KIND__RECORD_EVENT,
					(int64_t)seq[h], RAW, "{\"crash\":\"test payload\"}", 24);
		}
		b->done = on_done_notify;
		b->userdata = &fd;
		while (store_ingest_queued_bytes(st) > (1u << 20))
			usleep(100);
		if (store_ingest_submit(st, b) < 0)
			_exit(2);
	}
}

static void test_crash_safety(void **state)
{
	struct ctx *c = *state;
	char *ids[3];
	int fds[2], status, i;
	pid_t pid;
	char buf[64];
	size_t got = 0;

	assert_int_equal(store_open(c->url, &c->st), 0);
	ids[0] = enroll(c, "c1");
	ids[1] = enroll(c, "c2");
	ids[2] = enroll(c, "c3");
	store_close(c->st);
	c->st = NULL;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(c->url, ids, fds[1]);
	}
	close(fds[1]);
	/* kill it once it has committed a few dozen batches, in the middle of its stream */
	while (got < 40) {
		ssize_t n = read(fds[0], buf, sizeof(buf));

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	close(fds[0]);

	assert_int_equal(store_open(c->url, &c->st), 0);
	for (i = 0; i < 3; i++) {
		struct store_stream s[3];
		char sql[256];
		int64_t rows;

		assert_int_equal(store_host_streams(c->st, ids[i], s), 0);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM records r JOIN hosts h ON h.hid = r.host"
			 " WHERE h.id = '%s' AND r.stream = 0",
			 ids[i]);
		rows = query_int(c, sql);
		assert_true(s[0].committed_seq > 0);
		assert_int_equal(rows, (int64_t)s[0].committed_seq);
		assert_int_equal(s[0].records, s[0].committed_seq);
		snprintf(
			sql, sizeof(sql),
			"SELECT coalesce(max(seq), 0) - min(seq) + 1 FROM records r JOIN hosts h ON"
			" h.hid = r.host WHERE h.id = '%s' AND r.stream = 0 AND r.seq >= 1",
			ids[i]);
		assert_int_equal(query_int(c, sql), (int64_t)s[0].committed_seq);
		free(ids[i]);
	}
}

/* ---- STATE records ---- */

static char *read_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("IMMUNE_FIXTURES");
	char path[4096];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/store/%s", dir ? dir : "tests/fixtures", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = xmalloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	data[n] = '\0';
	*len = (size_t)n;
	return data;
}

static size_t count_results(json_t *scan, const char *framework, const char *status)
{
	json_t *r;
	size_t i, n = 0;

	json_array_foreach(json_object_get(scan, "results"), i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));

		if (framework && !json_object_get(json_object_get(r, "mappings"), framework))
			continue;
		if (!status && strcmp(st, "fail") && strcmp(st, "error"))
			continue;
		if (status && strcmp(status, "all") && strcmp(status, st))
			continue;
		n++;
	}
	return n;
}

static size_t findings_count(struct ctx *c, const char *host, const char *framework,
			     const char *status)
{
	struct store_finding_filter f = { host, framework, status };
	json_t *a;
	size_t n;

	assert_int_equal(store_findings(c->st, &f, &a), 0);
	n = json_array_size(a);
	json_decref(a);
	return n;
}

static void test_scan_findings(void **state)
{
	struct ctx *c = *state;
	size_t len, zlen, n;
	char *scan = read_fixture("scan-debian12-weak-mitre.json", &len);
	void *z = xmalloc(ZSTD_compressBound(len));
	json_t *doc = json_loads(scan, 0, NULL), *a, *first;
	struct store_finding_filter all = { NULL, NULL, "all" };
	struct store_host h;
	char *id, *other;

	assert_non_null(doc);
	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	other = enroll(c, "m2");
	zlen = ZSTD_compress(z, ZSTD_compressBound(len), scan, len, 3);
	assert_false(ZSTD_isError(zlen));
	assert_int_equal(submit_one(c, id, STATE, 1, IMMUNE__V1__RECORD_KIND__RECORD_SCAN,
				    1700000000000000000, ZSTD, z, zlen),
			 0);

	n = count_results(doc, NULL, NULL);
	assert_true(n > 0);
	assert_int_equal(findings_count(c, NULL, NULL, NULL), n);
	assert_int_equal(findings_count(c, id, NULL, NULL), n);
	assert_int_equal(findings_count(c, other, NULL, NULL), 0);
	assert_int_equal(findings_count(c, NULL, NULL, "all"),
			 json_array_size(json_object_get(doc, "results")));
	assert_int_equal(findings_count(c, NULL, NULL, "pass"), count_results(doc, NULL, "pass"));
	assert_int_equal(findings_count(c, NULL, "pci_dss", NULL),
			 count_results(doc, "pci_dss", NULL));
	assert_true(count_results(doc, "pci_dss", NULL) < n);
	assert_int_equal(findings_count(c, NULL, "pci_dss", "all"),
			 count_results(doc, "pci_dss", "all"));
	assert_int_equal(findings_count(c, NULL, "no_such_framework", "all"), 0);

	assert_int_equal(store_findings(c->st, &all, &a), 0);
	first = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(first, "host")), id);
	assert_string_equal(json_string_value(json_object_get(first, "hostname")), "m1");
	assert_true(json_is_object(json_object_get(first, "mappings")));
	assert_true(json_is_array(json_object_get(first, "evidence")));
	assert_string_equal(json_string_value(json_object_get(first, "scanned_at")),
			    json_string_value(json_object_get(doc, "started_at")));
	for (size_t i = 1; i < json_array_size(a); i++)
		assert_true(
			strcmp(json_string_value(json_object_get(json_array_get(a, i - 1), "id")),
			       json_string_value(json_object_get(json_array_get(a, i), "id"))) < 0);
	json_decref(a);

	assert_int_equal(store_host_get(c->st, id, &h), 0);
	assert_string_equal(h.os,
			    json_string_value(json_object_get(json_object_get(doc, "host"), "os")));
	assert_true(fabs(h.score - json_number_value(json_object_get(
					   json_object_get(doc, "summary"), "score"))) < 1e-9);
	assert_int_equal(h.checks_failed, json_integer_value(json_object_get(
						  json_object_get(doc, "summary"), "fail")));
	assert_true(h.scanned_at > 1700000000);
	store_host_free(&h);

	/* the next scan replaces the findings */
	{
		static const char small[] =
			"{\"schema\":\"immune.scan/v1\",\"host\":{\"os\":\"Other OS\"},"
			"\"summary\":{\"fail\":1,\"score\":null},\"results\":[{\"id\":\"x\","
			"\"status\":\"fail\",\"title\":\"X\",\"mappings\":{\"cis\":[\"1\"]}}]}";

		assert_int_equal(submit_one(c, id, STATE, 2, IMMUNE__V1__RECORD_KIND__RECORD_SCAN,
					    1800000000000000000, RAW, small, sizeof(small) - 1),
				 0);
	}
	assert_int_equal(findings_count(c, NULL, NULL, "all"), 1);
	assert_int_equal(findings_count(c, NULL, "cis", NULL), 1);
	assert_int_equal(store_host_get(c->st, id, &h), 0);
	assert_string_equal(h.os, "Other OS");
	assert_true(isnan(h.score));
	assert_int_equal(h.scanned_at, 1800000000);
	store_host_free(&h);

	json_decref(doc);
	free(scan);
	free(z);
	free(id);
	free(other);
}

static void test_inventory(void **state)
{
	struct ctx *c = *state;
	static const char os[] = "{\"table\":\"os\",\"rows\":[{\"pretty_name\":\"Test OS 1\","
				 "\"id\":\"test\"}]}";
	static const char pk1[] = "{\"table\":\"packages\",\"rows\":[{\"name\":\"a\"},"
				  "{\"name\":\"b\"}]}";
	static const char pk2[] = "{\"table\":\"packages\",\"rows\":[{\"name\":\"c\"}]}";
	static const char gone[] = "{\"table\":\"packages\"}";
	json_t *inv;
	struct store_host h;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	assert_int_equal(submit_one(c, id, STATE, 1,
				    IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE, 1, RAW, os,
				    sizeof(os) - 1),
			 0);
	assert_int_equal(submit_one(c, id, STATE, 2,
				    IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE, 2, RAW, pk1,
				    sizeof(pk1) - 1),
			 0);
	assert_int_equal(store_host_inventory(c->st, id, &inv), 0);
	assert_int_equal(json_object_size(inv), 2);
	assert_int_equal(json_array_size(json_object_get(inv, "packages")), 2);
	json_decref(inv);
	assert_int_equal(store_host_get(c->st, id, &h), 0);
	assert_string_equal(h.os, "Test OS 1");
	store_host_free(&h);

	assert_int_equal(submit_one(c, id, STATE, 3,
				    IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE, 3, RAW, pk2,
				    sizeof(pk2) - 1),
			 0);
	assert_int_equal(store_host_inventory(c->st, id, &inv), 0);
	assert_int_equal(json_array_size(json_object_get(inv, "packages")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(inv, "packages"), 0), "name")),
			    "c");
	json_decref(inv);

	assert_int_equal(submit_one(c, id, STATE, 4, IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_GONE,
				    4, RAW, gone, sizeof(gone) - 1),
			 0);
	assert_int_equal(store_host_inventory(c->st, id, &inv), 0);
	assert_int_equal(json_object_size(inv), 1);
	assert_null(json_object_get(inv, "packages"));
	json_decref(inv);
	assert_int_equal(store_host_inventory(c->st, "nope", &inv), -ENOENT);
	/* STATE payloads are applied, not kept as records */
	assert_int_equal(query_int(c, "SELECT count(*) FROM records"), 0);
	free(id);
}

static void test_retention(void **state)
{
	struct ctx *c = *state;
	const int64_t now = 1800000000, day = 86400;
	const int64_t old_ns = (now - 40 * day) * 1000000000, new_ns = (now - day) * 1000000000;
	struct store_stream s[3];
	struct store_stats stats;
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	submit_events(c, id, EVENTS, 1, 100, 30, old_ns, NULL);
	submit_events(c, id, EVENTS, 101, 150, 30, new_ns, NULL);
	submit_events(c, id, ALERTS, 1, 10, 30, old_ns, NULL);
	wait_all();

	store_retention_set(c->st, 0);
	assert_int_equal(store_retention_run(c->st, now), 0);
	store_retention_set(c->st, 30 * day);
	assert_int_equal(store_retention_run(c->st, now), 100);
	assert_int_equal(store_retention_run(c->st, now), 0);
	assert_int_equal(query_int(c, "SELECT count(*) FROM records WHERE stream = 0"), 50);
	assert_int_equal(query_int(c, "SELECT min(seq) FROM records WHERE stream = 0"), 101);
	assert_int_equal(query_int(c, "SELECT count(*) FROM records WHERE stream = 2"), 10);
	store_get_stats(c->st, &stats);
	assert_int_equal(stats.retention_deleted, 100);

	/* the committed numbers stay: old records resent are still duplicates */
	assert_int_equal(store_host_streams(c->st, id, s), 0);
	assert_int_equal(s[0].committed_seq, 150);
	submit_events(c, id, EVENTS, 1, 150, 50, old_ns, NULL);
	wait_all();
	assert_int_equal(query_int(c, "SELECT count(*) FROM records WHERE stream = 0"), 50);
	free(id);
}

static void test_unparsed(void **state)
{
	struct ctx *c = *state;
	Immune__V1__Gap gap = IMMUNE__V1__GAP__INIT;
	unsigned char gbuf[64];
	size_t glen;
	struct store_stats stats;
	struct store_stream s[3];
	char *id;

	assert_int_equal(store_open(c->url, &c->st), 0);
	id = enroll(c, "m1");
	assert_int_equal(submit_one(c, id, STATE, 1, IMMUNE__V1__RECORD_KIND__RECORD_SCAN, 1, RAW,
				    "not json", 8),
			 0);
	assert_int_equal(submit_one(c, id, STATE, 2, IMMUNE__V1__RECORD_KIND__RECORD_SCAN, 1, ZSTD,
				    "not zstd", 8),
			 0);
	assert_int_equal(submit_one(c, id, STATE, 3,
				    IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE, 1, RAW,
				    "{\"table\":\"BAD NAME\",\"rows\":[]}", 30),
			 0);
	assert_int_equal(submit_one(c, id, EVENTS, 1, IMMUNE__V1__RECORD_KIND__RECORD_GAP, 1, RAW,
				    "\xff\xff\xff", 3),
			 0);
	gap.first_seq = 2;
	gap.last_seq = 6;
	gap.count = 5;
	glen = immune__v1__gap__pack(&gap, gbuf);
	assert_int_equal(submit_one(c, id, EVENTS, 2, IMMUNE__V1__RECORD_KIND__RECORD_GAP, 2, RAW,
				    gbuf, glen),
			 0);
	store_get_stats(c->st, &stats);
	assert_int_equal(stats.records_unparsed, 4);
	assert_int_equal(stats.records, 5);
	assert_int_equal(store_host_streams(c->st, id, s), 0);
	assert_int_equal(s[1].committed_seq, 3);
	assert_int_equal(s[1].records, 3);
	assert_int_equal(s[0].committed_seq, 2);
	assert_int_equal(s[0].gaps, 1);
	assert_int_equal(s[0].dropped, 5);
	assert_int_equal(query_int(c, "SELECT count(*) FROM records WHERE kind = 2"), 2);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_docs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_findings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unparsed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
