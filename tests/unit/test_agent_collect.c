/* The agent's collector: change detection over inventory tables, its state file, and the
 * worker thread (collect.h). */
#include "unit.h"

#include "agent/agent_config.h"
#include "agent/collect.h"
#include "proto/immune.pb-c.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/immune-agent-collect-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void put(const char *dir, const char *rel, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0644), 0);
}

/* A tiny root: os-release, hostname and a sysctl.conf. */
static char *make_root(const char *tmp, const char *version)
{
	char *root = xasprintf("%s/root", tmp);
	_cleanup_free_ char *etc = xasprintf("%s/etc", root);
	mkdir(root, 0755);
	mkdir(etc, 0755);
	_cleanup_free_ char *osr =
		xasprintf("ID=debian\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"%s\"\n", version);
	put(root, "etc/os-release", osr);
	put(root, "etc/hostname", "web1\n");
	put(root, "etc/sysctl.conf", "net.ipv4.ip_forward = 0\n");
	return root;
}

static struct inventory *collect(const char *root)
{
	struct inv_options opt = { .skip_walk = true };
	struct inventory *inv = NULL;
	assert_int_equal(inventory_collect(root, &opt, &inv), 0);
	return inv;
}

/* Returns the record's payload as text (decompressed when needed; caller frees). */
static char *payload_text(const struct agent_record *r)
{
	if (r->encoding == IMMUNE__V1__ENCODING__ENCODING_RAW)
		return xstrndup((const char *)r->payload, r->len);
	assert_int_equal(r->encoding, IMMUNE__V1__ENCODING__ENCODING_ZSTD);
	unsigned long long n = ZSTD_getFrameContentSize(r->payload, r->len);
	assert_true(n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN);
	char *out = xmalloc(n + 1);
	assert_int_equal(ZSTD_decompress(out, n, r->payload, r->len), n);
	out[n] = '\0';
	return out;
}

static const char *record_table(const struct agent_record *r, char *buf, size_t size)
{
	_cleanup_free_ char *text = payload_text(r);
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	snprintf(buf, size, "%s", json_string_value(json_object_get(doc, "table")) ?: "");
	json_decref(doc);
	return buf;
}

static void test_fixture_first_then_nothing(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	_cleanup_free_ char *root =
		xasprintf("%s/roots/sys-debian12-stock", getenv("IMMUNE_FIXTURES"));
	_cleanup_free_ char *path = xasprintf("%s/inventory.state", tmp);
	struct collect_state st;
	assert_int_equal(collect_state_load(path, &st), 0); /* missing: empty */
	assert_int_equal(json_object_size(st.tables), 0);

	struct inventory *inv = collect(root);
	struct agent_records recs = { 0 };
	size_t sig = 0;
	size_t n = collect_diff(&st, inv, 1, &recs, &sig);
	/* first run: every table, in name order, on the state stream */
	assert_int_equal(n, json_object_size(inv->tables));
	assert_int_equal(recs.n, n);
	assert_true(sig > 0);
	char prev[128] = "", name[128];
	bool compressed = false;
	for (size_t i = 0; i < recs.n; i++) {
		assert_int_equal(recs.v[i].stream, IMMUNE__V1__STREAM__STREAM_STATE);
		assert_int_equal(recs.v[i].kind, IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE);
		record_table(&recs.v[i], name, sizeof(name));
		assert_true(strcmp(prev, name) < 0);
		assert_non_null(json_object_get(inv->tables, name));
		memcpy(prev, name, sizeof(prev));
		if (recs.v[i].encoding == IMMUNE__V1__ENCODING__ENCODING_ZSTD) {
			compressed = true;
			assert_true(recs.v[i].len < AGENT_COMPRESS_ABOVE * 64);
		} else {
			assert_true(recs.v[i].len <= AGENT_COMPRESS_ABOVE ||
				    recs.v[i].encoding == IMMUNE__V1__ENCODING__ENCODING_RAW);
		}
	}
	assert_true(compressed);
	/* the payload is the table as spooled: compact, keys sorted */
	_cleanup_free_ char *first = payload_text(&recs.v[0]);
	assert_true(str_has_prefix(first, "{\"rows\":["));
	agent_records_free(&recs);

	/* unchanged second collection: nothing */
	struct inventory *inv2 = collect(root);
	assert_int_equal(collect_diff(&st, inv2, 2, &recs, &sig), 0);
	assert_int_equal(recs.n, 0);
	assert_int_equal(sig, 0);

	/* the state survives a restart */
	st.last_scan = 1234;
	_cleanup_free_ char *dump = collect_state_dump(&st);
	assert_int_equal(collect_state_save(path, dump), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	struct collect_state st2;
	assert_int_equal(collect_state_load(path, &st2), 0);
	assert_int_equal(st2.last_scan, 1234);
	assert_int_equal(collect_diff(&st2, inv2, 3, &recs, NULL), 0);
	/* and an empty state sends everything again */
	struct collect_state fresh = { .tables = json_object() };
	assert_int_equal(collect_diff(&fresh, inv2, 4, &recs, NULL), n);
	agent_records_free(&recs);

	collect_state_free(&fresh);
	collect_state_free(&st2);
	collect_state_free(&st);
	inventory_free(inv);
	inventory_free(inv2);
	unlink(path);
	rmdir(tmp);
}

static void remove_root(const char *tmp)
{
	static const char *const files[] = { "root/etc/os-release",
					     "root/etc/hostname",
					     "root/etc/sysctl.conf",
					     "root/etc",
					     "root",
					     "inventory.state" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", tmp, files[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(tmp);
}

static void test_changed_root_sends_that_table(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	_cleanup_free_ char *root = make_root(tmp, "12");
	struct collect_state st = { .tables = json_object() };
	struct agent_records recs = { 0 };
	struct inventory *inv = collect(root);
	assert_true(collect_diff(&st, inv, 1, &recs, NULL) > 1);
	agent_records_free(&recs);
	inventory_free(inv);

	_cleanup_free_ char *osr = xasprintf("ID=debian\nNAME=\"Debian GNU/Linux\"\n"
					     "VERSION_ID=\"13\"\n");
	put(root, "etc/os-release", osr);
	inv = collect(root);
	size_t sig = 0;
	assert_int_equal(collect_diff(&st, inv, 2, &recs, &sig), 1);
	assert_int_equal(sig, 1);
	char name[128];
	assert_string_equal(record_table(&recs.v[0], name, sizeof(name)), "os");
	_cleanup_free_ char *text = payload_text(&recs.v[0]);
	assert_non_null(strstr(text, "\"13\""));
	agent_records_free(&recs);

	/* a table that disappears is announced as gone, once */
	json_object_del(inv->tables, "cron");
	assert_int_equal(collect_diff(&st, inv, 3, &recs, &sig), 1);
	assert_int_equal(recs.v[0].kind, IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_GONE);
	_cleanup_free_ char *gone = payload_text(&recs.v[0]);
	assert_string_equal(gone, "{\"table\":\"cron\"}");
	assert_null(json_object_get(st.tables, "cron"));
	agent_records_free(&recs);
	assert_int_equal(collect_diff(&st, inv, 4, &recs, NULL), 0);

	collect_state_free(&st);
	inventory_free(inv);
	remove_root(tmp);
}

static void test_volatile_facts_ignored(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	_cleanup_free_ char *root = make_root(tmp, "12");
	struct collect_state st = { .tables = json_object() };
	struct agent_records recs = { 0 };
	struct inventory *inv = collect(root);
	json_t *walk = json_pack("[{s:i, s:i, s:b}]", "files", 10, "elapsed_ms", 5, "truncated", 0);
	json_object_set_new(inv->tables, "walk", walk);
	json_array_append_new(
		inventory_rows(inv, "sysctl"),
		json_pack("{s:s, s:s}", "key", "fs.file-nr", "runtime_value", "1 0 9"));
	json_t *procs = json_pack("[{s:i, s:s}]", "pid", 1, "name", "init");
	json_object_set_new(inv->tables, "processes", procs);
	collect_diff(&st, inv, 1, &recs, NULL);
	agent_records_free(&recs);

	/* counters move: nothing to send */
	json_object_set_new(json_array_get(walk, 0), "elapsed_ms", json_integer(9));
	json_object_set_new(json_array_get(walk, 0), "files", json_integer(11));
	size_t last = json_array_size(inventory_rows(inv, "sysctl")) - 1;
	json_object_set_new(json_array_get(inventory_rows(inv, "sysctl"), last), "runtime_value",
			    json_string("2 0 9"));
	assert_int_equal(collect_diff(&st, inv, 2, &recs, NULL), 0);

	/* a real change in the walk is sent; the process list is sent but triggers no scan */
	json_object_set_new(json_array_get(walk, 0), "truncated", json_true());
	json_array_append_new(procs, json_pack("{s:i, s:s}", "pid", 2, "name", "sshd"));
	size_t sig = 9;
	assert_int_equal(collect_diff(&st, inv, 3, &recs, &sig), 2);
	assert_int_equal(sig, 0);
	agent_records_free(&recs);

	collect_state_free(&st);
	inventory_free(inv);
	remove_root(tmp);
}

static void test_bad_state_file(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	put(tmp, "inventory.state", "{\"tables\": [1, 2]}");
	_cleanup_free_ char *path = xasprintf("%s/inventory.state", tmp);
	struct collect_state st;
	assert_int_equal(collect_state_load(path, &st), -EBADMSG);
	collect_state_free(&st);
	put(tmp, "inventory.state", "not json");
	assert_int_equal(collect_state_load(path, &st), -EBADMSG);
	collect_state_free(&st);
	unlink(path);
	rmdir(tmp);
}

/* ---- the worker thread ---- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int results;
};

static void notify(void *arg)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->lock);
	w->results++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static struct collect_result *wait_result(struct collector *c, struct waiter *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->results == 0)
		pthread_cond_wait(&w->cond, &w->lock);
	w->results--;
	pthread_mutex_unlock(&w->lock);
	struct collect_result *r = collector_take(c);
	assert_non_null(r);
	return r;
}

static size_t count_kind(const struct collect_result *r, uint32_t kind)
{
	size_t n = 0;
	for (size_t i = 0; i < r->records.n; i++)
		n += r->records.v[i].kind == kind;
	return n;
}

static void test_worker_schedule(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	_cleanup_free_ char *root = make_root(tmp, "12");
	_cleanup_free_ char *path = xasprintf("%s/inventory.state", tmp);
	_cleanup_free_ char *catalog = xasprintf("%s/policies", getenv("IMMUNE_SOURCE_DIR"));
	struct inv_options io = { .skip_walk = true };
	struct collector_options o = {
		.root = root, .state_path = path, .scan_interval_s = 3600, .inv = &io
	};
	struct waiter w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct collector *c;
	assert_int_equal(collector_start(&o, notify, &w, &c), 0);

	/* first: every table and a scan */
	collector_request(c, catalog, false);
	struct collect_result *r = wait_result(c, &w);
	assert_int_equal(r->error, 0);
	assert_true(r->scanned);
	assert_true(r->tables_changed > 1);
	assert_int_equal(count_kind(r, IMMUNE__V1__RECORD_KIND__RECORD_SCAN), 1);
	_cleanup_free_ char *scan = payload_text(&r->records.v[r->records.n - 1]);
	assert_non_null(strstr(scan, "immune.scan/v1"));
	assert_int_equal(collect_state_save(path, r->state_dump), 0);
	collect_result_free(r);

	/* nothing changed, interval not passed: nothing */
	collector_request(c, catalog, false);
	r = wait_result(c, &w);
	assert_false(r->scanned);
	assert_int_equal(r->records.n, 0);
	collect_result_free(r);

	/* forced: the scan alone */
	collector_request(c, catalog, true);
	r = wait_result(c, &w);
	assert_true(r->scanned);
	assert_int_equal(r->records.n, 1);
	collect_result_free(r);
	collector_stop(c);

	/* a restart reads the state: still nothing to send, and no scan before the interval */
	assert_int_equal(collector_start(&o, notify, &w, &c), 0);
	collector_request(c, catalog, false);
	r = wait_result(c, &w);
	assert_int_equal(r->records.n, 0);
	collect_result_free(r);

	/* forgetting what was spooled (the server renumbered the state stream): everything
	 * again, with a scan */
	collector_forget(c);
	collector_request(c, catalog, false);
	r = wait_result(c, &w);
	assert_true(r->scanned);
	assert_true(r->tables_changed > 1);
	assert_int_equal(r->records.n, r->tables_changed + 1);
	collect_result_free(r);

	/* a catalog that cannot load is an error, and the inventory still goes */
	put(root, "etc/hostname", "web2\n");
	collector_request(c, "/nonexistent/catalog", true);
	r = wait_result(c, &w);
	assert_int_not_equal(r->error, 0);
	assert_non_null(strstr(r->message, "catalog"));
	assert_false(r->scanned);
	collect_result_free(r);
	collector_stop(c);
	remove_root(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_first_then_nothing),
		cmocka_unit_test(test_changed_root_sends_that_table),
		cmocka_unit_test(test_volatile_facts_ignored),
		cmocka_unit_test(test_bad_state_file),
		cmocka_unit_test(test_worker_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
