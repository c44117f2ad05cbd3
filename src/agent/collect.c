#include "agent/collect.h"
#include "agent/agent_config.h"
#include "lib/buf.h"
#include "policy/catalog.h"
#include "policy/scan.h"
#include "proto/immune.pb-c.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <time.h>

#define STATE_MAX_SIZE (1u << 20)

/* ---- change detection ---- */

int collect_state_load(const char *path, struct collect_state *st)
{
	*st = (struct collect_state){ .tables = json_object() };
	struct buf b = { 0 };
	int r = file_read_capped(path, STATE_MAX_SIZE, &b);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return -EBADMSG;
	json_t *doc = json_loadb(buf_str(&b), buf_len(&b), 0, NULL);
	buf_free(&b);
	json_t *tables = json_object_get(doc, "tables");
	json_t *last = json_object_get(doc, "last_scan");
	if (!json_is_object(tables) || (last && !json_is_integer(last))) {
		json_decref(doc);
		return -EBADMSG;
	}
	const char *k;
	json_t *v;
	json_object_foreach(tables, k, v) {
		if (json_is_string(v) && json_string_length(v) == 2 * SHA256_DIGEST_LENGTH)
			json_object_set(st->tables, k, v);
	}
	st->last_scan = last ? json_integer_value(last) : 0;
	json_decref(doc);
	return 0;
}

char *collect_state_dump(const struct collect_state *st)
{
	json_t *doc = json_pack("{s:i, s:O, s:I}", "version", 1, "tables", st->tables, "last_scan",
				(json_int_t)st->last_scan);
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!s)
		abort();
	return s;
}

int collect_state_save(const char *path, const char *dump)
{
	return file_write_atomic(path, dump, strlen(dump), 0600);
}

void collect_state_free(struct collect_state *st)
{
	if (!st)
		return;
	json_decref(st->tables);
	st->tables = NULL;
}

char *collect_table_json(const char *name, const json_t *rows)
{
	json_t *doc = json_pack("{s:s, s:O}", "table", name, "rows", rows);
	char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!s)
		abort();
	return s;
}

static void hex_sha256(const char *s, size_t n, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)s, n, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Facts that change on a live host without anything being reconfigured: left out of the
 * change digest (they are still in what is spooled when the table changes for another
 * reason), so counters do not resend a table every collection. */
static const struct {
	const char *table;
	const char *key_column; /* NULL: every row */
	const char *key;
	const char *column;
} volatile_facts[] = {
	{ "walk", NULL, NULL, "elapsed_ms" },
	{ "walk", NULL, NULL, "files" },
	{ "sysctl", "key", "kernel.ns_last_pid", "runtime_value" },
	{ "sysctl", "key", "kernel.random.uuid", "runtime_value" },
	{ "sysctl", "key", "kernel.random.boot_id", "runtime_value" },
	{ "sysctl", "key", "kernel.random.entropy_avail", "runtime_value" },
	{ "sysctl", "key", "kernel.pty.nr", "runtime_value" },
	{ "sysctl", "key", "fs.dentry-state", "runtime_value" },
	{ "sysctl", "key", "fs.file-nr", "runtime_value" },
	{ "sysctl", "key", "fs.inode-nr", "runtime_value" },
	{ "sysctl", "key", "fs.inode-state", "runtime_value" },
	{ "sysctl", "key", "fs.aio-nr", "runtime_value" },
};

/* Tables whose changes alone do not trigger a scan (they change all the time on a live
 * host; the scan interval covers them). */
static const char *const scan_quiet_tables[] = { "processes", "walk" };

static bool has_volatile(const char *table)
{
	for (size_t i = 0; i < ARRAY_SIZE(volatile_facts); i++)
		if (strcmp(volatile_facts[i].table, table) == 0)
			return true;
	return false;
}

/* Returns a copy of rows without the volatile facts of table. */
static json_t *stable_rows(const char *table, const json_t *rows)
{
	json_t *copy = json_deep_copy(rows);
	size_t i;
	json_t *row;
	json_array_foreach(copy, i, row) {
		for (size_t k = 0; k < ARRAY_SIZE(volatile_facts); k++) {
			if (strcmp(volatile_facts[k].table, table) != 0)
				continue;
			const char *kc = volatile_facts[k].key_column;
			if (kc && strcmp(json_string_value(json_object_get(row, kc)) ?: "",
					 volatile_facts[k].key) != 0)
				continue;
			json_object_del(row, volatile_facts[k].column);
		}
	}
	return copy;
}

static bool scan_quiet(const char *table)
{
	for (size_t i = 0; i < ARRAY_SIZE(scan_quiet_tables); i++)
		if (strcmp(scan_quiet_tables[i], table) == 0)
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void table_digest(const char *name, const json_t *rows, const char *full,
			 char hex[2 * SHA256_DIGEST_LENGTH + 1])
{
	if (!has_volatile(name)) {
		hex_sha256(full, strlen(full), hex);
		return;
	}
	json_t *stable = stable_rows(name, rows);
	_cleanup_free_ char *d = collect_table_json(name, stable);
	json_decref(stable);
	hex_sha256(d, strlen(d), hex);
}

size_t collect_diff(struct collect_state *st, const struct inventory *inv, int64_t time_ns,
		    struct agent_records *out, size_t *significant)
{
	size_t count = 0, sig = 0, n = json_object_size(inv->tables), i = 0;
	_cleanup_free_ const char **names = xcalloc(n, sizeof(*names));
	const char *k;
	json_t *v;
	json_object_foreach(inv->tables, k, v)
		names[i++] = k;
	sort_array(names, n, sizeof(*names), cmp_str);

	for (i = 0; i < n; i++) {
		const json_t *rows = json_object_get(inv->tables, names[i]);
		_cleanup_free_ char *s = collect_table_json(names[i], rows);
		char hex[2 * SHA256_DIGEST_LENGTH + 1];
		table_digest(names[i], rows, s, hex);
		const char *old = json_string_value(json_object_get(st->tables, names[i]));
		if (old && strcmp(old, hex) == 0)
			continue;
		agent_records_add(out, IMMUNE__V1__STREAM__STREAM_STATE,
				  IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE, time_ns, s,
				  strlen(s));
		json_object_set_new(st->tables, names[i], json_string(hex));
		count++;
		if (!scan_quiet(names[i]))
			sig++;
	}

	/* tables spooled before that the inventory no longer has */
	void *tmp;
	json_object_foreach_safe(st->tables, tmp, k, v) {
		if (json_object_get(inv->tables, k))
			continue;
		json_t *doc = json_pack("{s:s}", "table", k);
		_cleanup_free_ char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(doc);
		agent_records_add(out, IMMUNE__V1__STREAM__STREAM_STATE,
				  IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_GONE, time_ns, s,
				  strlen(s));
		json_object_del(st->tables, k);
		count++;
		sig++;
	}
	if (significant)
		*significant = sig;
	return count;
}

/* ---- the worker ---- */

struct collector {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	bool stop, requested, force_scan, forget;
	char *catalog;
	uint32_t scan_interval_s;
	struct collect_result **queue;
	size_t nqueue;
	/* worker only */
	struct collect_state state;
	char *root;
	char *state_path;
	struct inv_options inv;
	collector_notify_fn notify;
	void *arg;
};

void collect_result_free(struct collect_result *r)
{
	if (!r)
		return;
	agent_records_free(&r->records);
	free(r->state_dump);
	free(r);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void scan(struct collector *c, const struct inventory *inv, const char *catalog,
		 struct collect_result *res)
{
	struct catalog *cat = NULL;
	struct catalog_error err;
	int r = catalog_load(catalog, &cat, &err);
	if (r < 0) {
		char msg[1024];
		res->error = r;
		snprintf(res->message, sizeof(res->message), "loading the catalog: %s",
			 catalog_error_format(&err, msg, sizeof(msg)));
		return;
	}
	struct scan_options so = { .started = time(NULL) };
	json_t *doc = NULL;
	r = scan_run(cat, inv, &so, &doc);
	catalog_free(cat);
	if (r < 0) {
		res->error = r;
		snprintf(res->message, sizeof(res->message), "scanning: %s", strerror(-r));
		return;
	}
	_cleanup_free_ char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!s)
		abort();
	agent_records_add(&res->records, IMMUNE__V1__STREAM__STREAM_STATE,
			  IMMUNE__V1__RECORD_KIND__RECORD_SCAN, agent_now_ns(), s, strlen(s));
	res->scanned = true;
	c->state.last_scan = (int64_t)time(NULL);
}

static struct collect_result *run_once(struct collector *c, const char *catalog, bool force,
				       uint32_t interval)
{
	struct collect_result *res = xcalloc(1, sizeof(*res));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct inventory *inv = NULL;
	int r = inventory_collect(c->root, &c->inv, &inv);
	if (r < 0) {
		res->error = r;
		snprintf(res->message, sizeof(res->message), "collecting the inventory of '%s': %s",
			 c->root, strerror(-r));
		return res;
	}
	size_t significant = 0;
	res->tables_changed =
		collect_diff(&c->state, inv, agent_now_ns(), &res->records, &significant);
	int64_t now = (int64_t)time(NULL);
	if (force || significant > 0 || c->state.last_scan == 0 ||
	    now - c->state.last_scan >= (int64_t)interval || now < c->state.last_scan)
		scan(c, inv, catalog, res);
	inventory_free(inv);
	res->state_dump = collect_state_dump(&c->state);
	res->elapsed_ms = ms_since(&t0);
	return res;
}

static void *worker(void *arg)
{
	struct collector *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->requested)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		bool force = c->force_scan;
		uint32_t interval = c->scan_interval_s;
		if (c->forget) {
			json_object_clear(c->state.tables);
			c->state.last_scan = 0;
			c->forget = false;
		}
		_cleanup_free_ char *catalog = c->catalog ? xstrdup(c->catalog) : NULL;
		c->requested = c->force_scan = false;
		pthread_mutex_unlock(&c->lock);

		struct collect_result *res =
			run_once(c, catalog ? catalog : "/nonexistent", force, interval);

		pthread_mutex_lock(&c->lock);
		c->queue = xrealloc(c->queue, (c->nqueue + 1) * sizeof(*c->queue));
		c->queue[c->nqueue++] = res;
		pthread_mutex_unlock(&c->lock);
		c->notify(c->arg);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int collector_start(const struct collector_options *o, collector_notify_fn notify, void *arg,
		    struct collector **out)
{
	struct collector *c = xcalloc(1, sizeof(*c));
	c->root = xstrdup(o->root);
	c->state_path = xstrdup(o->state_path);
	c->scan_interval_s = o->scan_interval_s;
	if (o->inv)
		c->inv = *o->inv;
	c->notify = notify;
	c->arg = arg;
	int r = collect_state_load(c->state_path, &c->state);
	if (r < 0) {
		/* an unreadable state only costs a resend of every table */
		collect_state_free(&c->state);
		c->state = (struct collect_state){ .tables = json_object() };
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	r = pthread_create(&c->thread, NULL, worker, c);
	if (r != 0) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		collect_state_free(&c->state);
		free(c->root);
		free(c->state_path);
		free(c);
		return -r;
	}
	*out = c;
	return 0;
}

void collector_request(struct collector *c, const char *catalog, bool force_scan)
{
	pthread_mutex_lock(&c->lock);
	free(c->catalog);
	c->catalog = catalog ? xstrdup(catalog) : NULL;
	c->requested = true;
	c->force_scan |= force_scan;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void collector_forget(struct collector *c)
{
	pthread_mutex_lock(&c->lock);
	c->forget = true;
	pthread_mutex_unlock(&c->lock);
}

void collector_set_scan_interval(struct collector *c, uint32_t seconds)
{
	pthread_mutex_lock(&c->lock);
	c->scan_interval_s = seconds;
	pthread_mutex_unlock(&c->lock);
}

struct collect_result *collector_take(struct collector *c)
{
	struct collect_result *r = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->nqueue) {
		r = c->queue[0];
		memmove(c->queue, c->queue + 1, (c->nqueue - 1) * sizeof(*c->queue));
		c->nqueue--;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void collector_stop(struct collector *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	for (size_t i = 0; i < c->nqueue; i++)
		collect_result_free(c->queue[i]);
	free(c->queue);
	free(c->catalog);
	collect_state_free(&c->state);
	free(c->root);
	free(c->state_path);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
