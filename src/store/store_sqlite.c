/* The embedded SQLite backend of the store (store_backend.h, docs/store.md).
 *
 * Two connections to one WAL database: the writer thread's (ingest, hourly retention) and
 * the control connection (every synchronous operation, serialised by ctl_lock). Statements
 * are prepared once per connection and reused. The writer caches each host's rowid and each
 * stream's committed sequence number; a rolled-back transaction restores the cache. */
#include "store/store_backend.h"
#include "store/ingest_parse.h"

#include "detect/alert.h"

#include "lib/buf.h"
#include "lib/str.h"

#include "proto/immune.pb-c.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#define STMT_CACHE 96
#define MULTI_ROWS 32
#define N_STREAMS 3
#define BUSY_TIMEOUT_MS 10000
#define PAGE_SIZE 8192
#define WRITER_CACHE_KIB 32768
#define CONTROL_CACHE_KIB 16384
/* WAL frames (pages) that wake the checkpointer thread, and past which the writer
 * checkpoints itself (the checkpointer could not keep up). */
#define CHECKPOINT_PAGES 4096
#define CHECKPOINT_WRITER_PAGES 131072

/* ---- schema ---- */

static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE operators("
	"  name TEXT PRIMARY KEY,"
	"  token_hash BLOB NOT NULL UNIQUE);"
	"CREATE TABLE tokens("
	"  id TEXT PRIMARY KEY,"
	"  secret_hash BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  uses_left INTEGER NOT NULL,"
	"  uses INTEGER NOT NULL DEFAULT 0,"
	"  labels TEXT NOT NULL DEFAULT '{}');"
	"CREATE TABLE hosts("
	"  hid INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  machine_id TEXT NOT NULL,"
	"  hostname TEXT,"
	"  os TEXT,"
	"  agent_version TEXT,"
	"  cert_serial TEXT,"
	"  cert_not_after INTEGER NOT NULL DEFAULT 0,"
	"  enrolled_at INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL DEFAULT 0,"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  token_labels TEXT NOT NULL DEFAULT '{}',"
	"  labels TEXT NOT NULL DEFAULT '{}');"
	"CREATE TABLE streams("
	"  host INTEGER NOT NULL REFERENCES hosts(hid),"
	"  stream INTEGER NOT NULL,"
	"  committed_seq INTEGER NOT NULL DEFAULT 0,"
	"  records INTEGER NOT NULL DEFAULT 0,"
	"  gaps INTEGER NOT NULL DEFAULT 0,"
	"  dropped INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(host, stream)) WITHOUT ROWID;"
	"CREATE TABLE records("
	"  host INTEGER NOT NULL,"
	"  stream INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  time_ns INTEGER NOT NULL,"
	"  encoding INTEGER NOT NULL,"
	"  payload BLOB NOT NULL,"
	"  PRIMARY KEY(host, stream, seq)) WITHOUT ROWID;"
	"CREATE TABLE inventory("
	"  host INTEGER NOT NULL REFERENCES hosts(hid),"
	"  tbl TEXT NOT NULL,"
	"  rows TEXT NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY(host, tbl)) WITHOUT ROWID;"
	"CREATE TABLE scans("
	"  host INTEGER PRIMARY KEY REFERENCES hosts(hid),"
	"  scanned_at INTEGER NOT NULL,"
	"  score REAL,"
	"  checks_failed INTEGER NOT NULL,"
	"  summary TEXT NOT NULL);"
	"CREATE TABLE findings("
	"  host INTEGER NOT NULL REFERENCES hosts(hid),"
	"  check_id TEXT NOT NULL,"
	"  title TEXT,"
	"  section TEXT,"
	"  severity TEXT,"
	"  status TEXT NOT NULL,"
	"  message TEXT,"
	"  mappings TEXT NOT NULL DEFAULT '{}',"
	"  evidence TEXT NOT NULL DEFAULT '[]',"
	"  scanned_at INTEGER NOT NULL,"
	"  PRIMARY KEY(host, check_id)) WITHOUT ROWID;",
	/* 2: indexes for enrollment and fleet-wide finding queries */
	"CREATE INDEX hosts_machine ON hosts(machine_id) WHERE revoked = 0;"
	"CREATE INDEX findings_status ON findings(status, host);",
	/* 3: detection: the event index, alert groups, baselines and sensor health */
	"CREATE TABLE events("
	"  host INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  time_ns INTEGER NOT NULL,"
	"  kind TEXT,"
	"  image TEXT,"
	"  user TEXT,"
	"  src_ip TEXT,"
	"  PRIMARY KEY(host, seq)) WITHOUT ROWID;"
	"CREATE INDEX events_kind ON events(kind, time_ns);"
	"CREATE INDEX events_image ON events(image) WHERE image IS NOT NULL;"
	"CREATE INDEX events_user ON events(user) WHERE user IS NOT NULL;"
	"CREATE INDEX events_src_ip ON events(src_ip) WHERE src_ip IS NOT NULL;"
	"CREATE TABLE alert_groups("
	"  gid INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  host INTEGER REFERENCES hosts(hid),"
	"  source TEXT NOT NULL,"
	"  rule_id TEXT NOT NULL,"
	"  title TEXT,"
	"  level INTEGER NOT NULL,"
	"  group_key TEXT NOT NULL DEFAULT '',"
	"  techniques TEXT NOT NULL DEFAULT '[]',"
	"  explanation TEXT,"
	"  score REAL,"
	"  count INTEGER NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  latest TEXT NOT NULL,"
	"  evidence TEXT NOT NULL DEFAULT '[]');"
	"CREATE INDEX alert_groups_key ON alert_groups(host, rule_id, group_key, first_seen);"
	"CREATE INDEX alert_groups_last ON alert_groups(last_seen, gid);"
	"CREATE TABLE alert_uids("
	"  uid TEXT PRIMARY KEY,"
	"  gid INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE baselines("
	"  host INTEGER PRIMARY KEY REFERENCES hosts(hid),"
	"  updated INTEGER NOT NULL,"
	"  summary TEXT NOT NULL);"
	"CREATE TABLE sensor_health("
	"  host INTEGER PRIMARY KEY REFERENCES hosts(hid),"
	"  updated INTEGER NOT NULL,"
	"  sensors TEXT NOT NULL);",
	/* 4: response actions (docs/response.md) */
	"CREATE TABLE actions("
	"  uid TEXT PRIMARY KEY,"
	"  host INTEGER NOT NULL REFERENCES hosts(hid),"
	"  kind TEXT NOT NULL,"
	"  op TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  mode TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  origin TEXT NOT NULL,"
	"  trigger_json TEXT,"
	"  requested_by TEXT,"
	"  approved_by TEXT,"
	"  created_ns INTEGER NOT NULL,"
	"  sent_ns INTEGER NOT NULL DEFAULT 0,"
	"  finished_ns INTEGER NOT NULL DEFAULT 0,"
	"  message TEXT,"
	"  detail TEXT,"
	"  recorded_ns INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE INDEX actions_created ON actions(created_ns);"
	"CREATE INDEX actions_host ON actions(host, created_ns);"
	"CREATE INDEX actions_state ON actions(state, created_ns);",
	/* 5: access governance (docs/access.md): operators' roles; identities, groups, policy
	 * files, requests, grants and issued certificates as JSON documents by kind; what
	 * agents report of logins and revocations; recorded sessions */
	"ALTER TABLE operators ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';"
	"CREATE TABLE access_docs("
	"  kind TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  doc TEXT NOT NULL,"
	"  updated_ns INTEGER NOT NULL,"
	"  PRIMARY KEY(kind, id)) WITHOUT ROWID;"
	"CREATE TABLE access_events("
	"  host INTEGER NOT NULL REFERENCES hosts(hid),"
	"  time_ns INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  identity TEXT,"
	"  grant_id TEXT,"
	"  account TEXT,"
	"  doc TEXT NOT NULL);"
	"CREATE INDEX access_events_identity ON access_events(identity, time_ns);"
	"CREATE INDEX access_events_grant ON access_events(grant_id, time_ns);"
	"CREATE TABLE sessions("
	"  id TEXT PRIMARY KEY,"
	"  host INTEGER NOT NULL REFERENCES hosts(hid),"
	"  identity TEXT,"
	"  account TEXT,"
	"  command TEXT,"
	"  started_ns INTEGER NOT NULL,"
	"  ended_ns INTEGER NOT NULL DEFAULT 0,"
	"  width INTEGER NOT NULL DEFAULT 80,"
	"  height INTEGER NOT NULL DEFAULT 24,"
	"  bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE INDEX sessions_started ON sessions(started_ns);"
	"CREATE TABLE session_parts("
	"  session TEXT NOT NULL,"
	"  part INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY(session, part)) WITHOUT ROWID;",
};

/* ---- connections and statements ---- */

struct sconn {
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	size_t n;
};

struct hentry {
	char id[33];
	int64_t hid;
	uint64_t committed[N_STREAMS]; /* durable */
	uint64_t pending[N_STREAMS];   /* inside the open transaction */
	uint8_t loaded;		       /* bit per stream */
	bool touched;
};

struct store_backend {
	char *path;
	int version;
	pthread_mutex_t ctl_lock;
	struct sconn ctl;
	struct sconn wr;

	/* writer thread only */
	struct hentry **tab;
	size_t cap, count;
	struct hentry **touched;
	size_t n_touched, touched_alloc;
	sqlite3_stmt *ins_record;
	sqlite3_stmt *ins_multi; /* MULTI_ROWS rows */
	const struct store_record **scratch;
	size_t scratch_alloc;
	struct store_batch *cur_batch; /* the batch being applied (its new alerts) */

	/* the checkpointer thread: copies the WAL into the database off the writer's path */
	struct sconn ckpt;
	pthread_t ckpt_thread;
	bool ckpt_started;
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_cond;
	bool ckpt_wanted, ckpt_stop;
};

/* Returns the connection's statement for sql (a string literal: cached by address), reset
 * and ready to bind, or NULL when it does not prepare. */
static sqlite3_stmt *stmt(struct sconn *c, const char *sql)
{
	sqlite3_stmt *s = NULL;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->cache[i].sql == sql)
			return c->cache[i].st;
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		return NULL;
	if (c->n < STMT_CACHE) {
		c->cache[c->n].sql = sql;
		c->cache[c->n].st = s;
		c->n++;
	} else {
		abort(); /* a bug: raise STMT_CACHE */
	}
	return s;
}

static void resetp(sqlite3_stmt **s)
{
	if (*s) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
	}
}
#define _cleanup_reset_ _cleanup_(resetp)

static void sconn_close(struct sconn *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		sqlite3_finalize(c->cache[i].st);
	c->n = 0;
	sqlite3_close(c->db);
	c->db = NULL;
}

static int exec(struct sconn *c, const char *sql)
{
	return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Steps a statement that returns no row; -EEXIST on a constraint violation. */
static int step_done(sqlite3_stmt *s)
{
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return (rc & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static char *col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static int sconn_open(const char *path, int64_t cache_kib, struct sconn *c)
{
	char sql[320];

	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sconn_close(c);
		return -EIO;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	snprintf(sql, sizeof(sql),
		 "PRAGMA page_size=%d; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		 "PRAGMA foreign_keys=ON; PRAGMA cache_size=-%lld; PRAGMA temp_store=MEMORY;"
		 "PRAGMA wal_autocheckpoint=0;",
		 PAGE_SIZE, (long long)cache_kib);
	if (exec(c, sql) < 0) {
		sconn_close(c);
		return -EIO;
	}
	return 0;
}

static int user_version(struct sconn *c, int *out)
{
	sqlite3_stmt *s;
	int r = -EIO;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		r = 0;
	}
	sqlite3_finalize(s);
	return r;
}

/* Applies migrations up to target in one transaction. -EPROTO when the database is newer. */
static int migrate(struct sconn *c, int target, int *version)
{
	char sql[64];
	int v, r;

	if (exec(c, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	r = user_version(c, &v);
	if (r < 0)
		goto fail;
	if (v > (int)ARRAY_SIZE(migrations)) {
		r = -EPROTO;
		goto fail;
	}
	for (; v < target; v++)
		if (exec(c, migrations[v]) < 0) {
			r = -EIO;
			goto fail;
		}
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v);
	if (exec(c, sql) < 0 || exec(c, "COMMIT") < 0) {
		r = -EIO;
		goto fail;
	}
	*version = v;
	return 0;
fail:
	exec(c, "ROLLBACK");
	return r;
}

int store_sqlite_migrate_to(const char *path, int version)
{
	struct sconn c;
	int v, r;

	if (version < 0 || version > (int)ARRAY_SIZE(migrations))
		return -EINVAL;
	r = sconn_open(path, CONTROL_CACHE_KIB, &c);
	if (r < 0)
		return r;
	r = migrate(&c, version, &v);
	sconn_close(&c);
	return r;
}

static void sq_close(struct store_backend *be)
{
	size_t i;

	if (!be)
		return;
	if (be->ckpt_started) {
		pthread_mutex_lock(&be->ckpt_lock);
		be->ckpt_stop = true;
		pthread_cond_signal(&be->ckpt_cond);
		pthread_mutex_unlock(&be->ckpt_lock);
		pthread_join(be->ckpt_thread, NULL);
	}
	sconn_close(&be->ckpt);
	sqlite3_finalize(be->ins_multi);
	if (be->wr.db) /* a last checkpoint keeps the next open fast */
		sqlite3_wal_checkpoint_v2(be->wr.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sconn_close(&be->wr);
	sconn_close(&be->ctl);
	for (i = 0; i < be->cap; i++)
		free(be->tab ? be->tab[i] : NULL);
	free(be->tab);
	free(be->touched);
	free(be->scratch);
	pthread_mutex_destroy(&be->ctl_lock);
	pthread_mutex_destroy(&be->ckpt_lock);
	pthread_cond_destroy(&be->ckpt_cond);
	free(be->path);
	free(be);
}

static void *checkpointer_main(void *arg)
{
	struct store_backend *be = arg;

	pthread_setname_np(pthread_self(), "store-ckpt");
	pthread_mutex_lock(&be->ckpt_lock);
	for (;;) {
		while (!be->ckpt_wanted && !be->ckpt_stop)
			pthread_cond_wait(&be->ckpt_cond, &be->ckpt_lock);
		if (be->ckpt_stop)
			break;
		be->ckpt_wanted = false;
		pthread_mutex_unlock(&be->ckpt_lock);
		/* PASSIVE: never waits for the writer; errors only delay the copy */
		sqlite3_wal_checkpoint_v2(be->ckpt.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&be->ckpt_lock);
	}
	pthread_mutex_unlock(&be->ckpt_lock);
	return NULL;
}

/* Called by SQLite on the writer after each commit with the WAL's size in frames. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_backend *be = arg;

	if (frames >= CHECKPOINT_WRITER_PAGES) {
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (frames >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&be->ckpt_lock);
		be->ckpt_wanted = true;
		pthread_cond_signal(&be->ckpt_cond);
		pthread_mutex_unlock(&be->ckpt_lock);
	}
	return SQLITE_OK;
}

/* The insert of MULTI_ROWS records in one statement. */
static int prepare_multi(struct store_backend *be)
{
	struct buf sql;
	size_t i;
	int rc;

	buf_init(&sql, 8192);
	buf_puts(&sql, "INSERT OR IGNORE INTO records(host, stream, seq, kind, time_ns, encoding,"
		       " payload) VALUES");
	for (i = 0; i < MULTI_ROWS; i++)
		buf_puts(&sql, i ? ",(?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?)");
	rc = sqlite3_prepare_v3(be->wr.db, buf_str(&sql), -1, SQLITE_PREPARE_PERSISTENT,
				&be->ins_multi, NULL);
	buf_free(&sql);
	return rc == SQLITE_OK ? 0 : -EIO;
}

static void sqlite_configure(void)
{
	/* no global allocation statistics: they take a mutex on every allocation */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_open(const char *location, struct store_backend **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct store_backend *be;
	int r;

	pthread_once(&once, sqlite_configure);
	be = xcalloc(1, sizeof(*be));

	pthread_mutex_init(&be->ctl_lock, NULL);
	pthread_mutex_init(&be->ckpt_lock, NULL);
	pthread_cond_init(&be->ckpt_cond, NULL);
	be->path = xstrdup(location);
	r = sconn_open(location, WRITER_CACHE_KIB, &be->wr);
	if (r < 0)
		goto fail;
	r = migrate(&be->wr, ARRAY_SIZE(migrations), &be->version);
	if (r < 0)
		goto fail;
	r = sconn_open(location, CONTROL_CACHE_KIB, &be->ctl);
	if (r < 0)
		goto fail;
	be->ins_record = stmt(
		&be->wr,
		"INSERT OR IGNORE INTO records(host, stream, seq, kind, time_ns, encoding, payload)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (!be->ins_record || prepare_multi(be) < 0) {
		r = -EIO;
		goto fail;
	}
	r = sconn_open(location, 2048, &be->ckpt);
	if (r < 0)
		goto fail;
	if (pthread_create(&be->ckpt_thread, NULL, checkpointer_main, be) != 0) {
		r = -EAGAIN;
		goto fail;
	}
	be->ckpt_started = true;
	sqlite3_wal_hook(be->wr.db, wal_hook, be);
	*out = be;
	return 0;
fail:
	sq_close(be);
	return r;
}

static int sq_schema_version(struct store_backend *be)
{
	return be->version;
}

/* ---- control transactions ---- */

static void ctl_lock(struct store_backend *be)
{
	pthread_mutex_lock(&be->ctl_lock);
}

static void ctl_unlock(struct store_backend **be)
{
	pthread_mutex_unlock(&(*be)->ctl_lock);
}
#define CTL_LOCKED(be)                                                                             \
	ctl_lock(be);                                                                              \
	_cleanup_(ctl_unlock) _unused_ struct store_backend *ctl_guard_ = (be)

static int ctl_begin(struct store_backend *be)
{
	return exec(&be->ctl, "BEGIN IMMEDIATE");
}

/* Commits when r >= 0, else rolls back; returns r, or -EIO if the commit failed. */
static int ctl_end(struct store_backend *be, int r)
{
	if (r >= 0 && exec(&be->ctl, "COMMIT") == 0)
		return r;
	exec(&be->ctl, "ROLLBACK");
	return r >= 0 ? -EIO : r;
}

static bool valid_host_id(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; i < 32; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[32] == '\0';
}

/* ---- operators ---- */

static int sq_operator_put(struct store_backend *be, const char *name, const char *role,
			   const unsigned char token_hash[32])
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "INSERT INTO operators(name, token_hash, role) VALUES(?1, ?2, ?3)"
			       " ON CONFLICT(name) DO UPDATE SET token_hash = excluded.token_hash,"
			       " role = excluded.role");

	if (!s || !name || !role)
		return s ? -EINVAL : -EIO;
	bind_text(s, 1, name);
	sqlite3_bind_blob(s, 2, token_hash, 32, SQLITE_TRANSIENT);
	bind_text(s, 3, role);
	return step_done(s);
}

static int sq_operator_find(struct store_backend *be, const unsigned char token_hash[32],
			    char **name, char **role)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT name, role FROM operators WHERE token_hash = ?1");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	*name = col_strdup(s, 0);
	if (role)
		*role = col_strdup(s, 1);
	return 0;
}

static int sq_operator_set_role(struct store_backend *be, const char *name, const char *role)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "UPDATE operators SET role = ?2 WHERE name = ?1");

	if (!s)
		return -EIO;
	bind_text(s, 1, name);
	bind_text(s, 2, role);
	if (step_done(s) < 0)
		return -EIO;
	return sqlite3_changes(be->ctl.db) > 0 ? 0 : -ENOENT;
}

static int sq_operator_delete(struct store_backend *be, const char *name)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(&be->ctl, "DELETE FROM operators WHERE name = ?1");

	if (!s)
		return -EIO;
	bind_text(s, 1, name);
	if (step_done(s) < 0)
		return -EIO;
	return sqlite3_changes(be->ctl.db) > 0 ? 0 : -ENOENT;
}

/* ---- access documents ---- */

static int sq_access_doc_put(struct store_backend *be, const char *kind, const char *id,
			     const char *doc, int64_t now_ns)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "INSERT INTO access_docs(kind, id, doc, updated_ns)"
			       " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(kind, id) DO UPDATE SET"
			       " doc = excluded.doc, updated_ns = excluded.updated_ns");

	if (!s)
		return -EIO;
	bind_text(s, 1, kind);
	bind_text(s, 2, id);
	bind_text(s, 3, doc);
	sqlite3_bind_int64(s, 4, now_ns);
	return step_done(s);
}

static int sq_access_doc_get(struct store_backend *be, const char *kind, const char *id, char **doc)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT doc FROM access_docs WHERE kind = ?1 AND id = ?2");
	int rc;

	if (!s)
		return -EIO;
	bind_text(s, 1, kind);
	bind_text(s, 2, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	*doc = col_strdup(s, 0);
	return 0;
}

static int sq_access_doc_list(struct store_backend *be, const char *kind, json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT doc FROM access_docs WHERE kind = ?1 ORDER BY id");
	json_t *arr = json_array();
	int rc;

	if (!s) {
		json_decref(arr);
		return -EIO;
	}
	bind_text(s, 1, kind);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		json_t *v = t ? json_loads(t, 0, NULL) : NULL;
		if (v)
			json_array_append_new(arr, v);
	}
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	*out = arr;
	return 0;
}

static int sq_access_doc_delete(struct store_backend *be, const char *kind, const char *id)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "DELETE FROM access_docs WHERE kind = ?1 AND id = ?2");

	if (!s)
		return -EIO;
	bind_text(s, 1, kind);
	bind_text(s, 2, id);
	if (step_done(s) < 0)
		return -EIO;
	return sqlite3_changes(be->ctl.db) > 0 ? 0 : -ENOENT;
}

static int sq_access_event_hosts(struct store_backend *be, const char *identity, const char *event,
				 int64_t *n)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT COUNT(DISTINCT host) FROM access_events"
			       " WHERE identity = ?1 AND event = ?2");

	if (!s)
		return -EIO;
	bind_text(s, 1, identity);
	bind_text(s, 2, event);
	if (sqlite3_step(s) != SQLITE_ROW)
		return -EIO;
	*n = sqlite3_column_int64(s, 0);
	return 0;
}

/* ---- tokens ---- */

static int sq_token_add(struct store_backend *be, const char *id,
			const unsigned char secret_hash[32], int64_t expires, int64_t uses_left,
			const struct store_label *labels, size_t n_labels, int64_t now)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->ctl,
		"INSERT INTO tokens(id, secret_hash, created, expires, uses_left, uses, labels)"
		" VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)");
	struct store_label *l = NULL;
	char *json;
	size_t n;
	int r;

	if (!s)
		return -EIO;
	if (!id || !*id)
		return -EINVAL;
	store_labels_merge(labels, n_labels, NULL, 0, &l, &n);
	json = store_labels_to_json(l, n);
	store_labels_free(l, n);
	bind_text(s, 1, id);
	sqlite3_bind_blob(s, 2, secret_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int64(s, 4, expires);
	sqlite3_bind_int64(s, 5, uses_left < 0 ? -1 : uses_left);
	bind_text(s, 6, json);
	r = step_done(s);
	free(json);
	return r;
}

#define TOKEN_COLUMNS "id, created, expires, uses_left, uses, labels"

static int token_row(sqlite3_stmt *s, int col, struct store_token *t)
{
	struct store_token tk = { 0 };

	if (store_labels_from_json((const char *)sqlite3_column_text(s, col + 5), &tk.labels,
				   &tk.n_labels) < 0)
		return -EIO;
	tk.id = col_strdup(s, col);
	tk.created = sqlite3_column_int64(s, col + 1);
	tk.expires = sqlite3_column_int64(s, col + 2);
	tk.uses_left = sqlite3_column_int64(s, col + 3);
	tk.uses = sqlite3_column_int64(s, col + 4);
	*t = tk;
	return 0;
}

static int token_check(sqlite3_stmt *s, const unsigned char secret_hash[32], int64_t now)
{
	const void *hash = sqlite3_column_blob(s, 0);
	int64_t expires = sqlite3_column_int64(s, 3), uses_left = sqlite3_column_int64(s, 4);

	if (!hash || sqlite3_column_bytes(s, 0) != 32 || CRYPTO_memcmp(hash, secret_hash, 32))
		return -ENOENT;
	if (expires > 0 && now >= expires)
		return -EKEYEXPIRED;
	if (uses_left == 0)
		return -EUSERS;
	return 0;
}

static int sq_token_consume(struct store_backend *be, const char *id,
			    const unsigned char secret_hash[32], int64_t now,
			    struct store_token *out)
{
	CTL_LOCKED(be);
	struct store_token t;
	int rc, r;

	if (!id)
		return -ENOENT;
	if (ctl_begin(be) < 0)
		return -EIO;
	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->ctl,
			     "SELECT secret_hash, " TOKEN_COLUMNS " FROM tokens WHERE id = ?1");

		if (!s)
			return ctl_end(be, -EIO);
		bind_text(s, 1, id);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			return ctl_end(be, rc == SQLITE_DONE ? -ENOENT : -EIO);
		r = token_check(s, secret_hash, now);
		if (r < 0)
			return ctl_end(be, r);
		r = token_row(s, 1, &t);
		if (r < 0)
			return ctl_end(be, r);
	}
	{
		_cleanup_reset_ sqlite3_stmt *u = stmt(
			&be->ctl,
			"UPDATE tokens SET uses = uses + 1,"
			" uses_left = CASE WHEN uses_left > 0 THEN uses_left - 1 ELSE uses_left END"
			" WHERE id = ?1");

		bind_text(u, 1, id);
		r = step_done(u);
	}
	r = ctl_end(be, r);
	if (r < 0) {
		store_token_free(&t);
		return r;
	}
	t.uses++;
	if (t.uses_left > 0)
		t.uses_left--;
	*out = t;
	return 0;
}

static int sq_tokens_list(struct store_backend *be, struct store_token **out, size_t *n)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY id");
	struct store_token *v = NULL;
	size_t count = 0, alloc = 0;
	int rc;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		if (token_row(s, 0, &v[count]) < 0)
			break;
		count++;
	}
	if (rc != SQLITE_DONE) {
		store_tokens_free(v, count);
		return -EIO;
	}
	*out = v;
	*n = count;
	return 0;
}

/* ---- hosts ---- */

static void random_host_id(char id[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		abort(); /* no randomness: nothing safe to do */
	for (i = 0; i < sizeof(raw); i++) {
		id[2 * i] = hex[raw[i] >> 4];
		id[2 * i + 1] = hex[raw[i] & 15];
	}
	id[32] = '\0';
}

static int host_enroll_tx(struct store_backend *be, const char *machine_id, const char *hostname,
			  const char *labels, const char *cert_serial, int64_t cert_not_after,
			  int64_t now, char id[33])
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT id FROM hosts WHERE machine_id = ?1 AND revoked = 0"
			       " ORDER BY hid DESC LIMIT 1");
	int rc;

	if (!s)
		return -EIO;
	bind_text(s, 1, machine_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		_cleanup_reset_ sqlite3_stmt *u = stmt(
			&be->ctl, "UPDATE hosts SET hostname = ?2, token_labels = ?3, labels = ?3,"
				  " cert_serial = ?4, cert_not_after = ?5 WHERE id = ?1");

		snprintf(id, 33, "%s", (const char *)sqlite3_column_text(s, 0));
		if (!u)
			return -EIO;
		bind_text(u, 1, id);
		bind_text(u, 2, hostname);
		bind_text(u, 3, labels);
		bind_text(u, 4, cert_serial);
		sqlite3_bind_int64(u, 5, cert_not_after);
		return step_done(u);
	}
	if (rc != SQLITE_DONE)
		return -EIO;
	{
		_cleanup_reset_ sqlite3_stmt *i = stmt(
			&be->ctl,
			"INSERT INTO hosts(id, machine_id, hostname, cert_serial, cert_not_after,"
			" enrolled_at, token_labels, labels) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			"?7)");

		if (!i)
			return -EIO;
		random_host_id(id);
		bind_text(i, 1, id);
		bind_text(i, 2, machine_id);
		bind_text(i, 3, hostname);
		bind_text(i, 4, cert_serial);
		sqlite3_bind_int64(i, 5, cert_not_after);
		sqlite3_bind_int64(i, 6, now);
		bind_text(i, 7, labels);
		return step_done(i);
	}
}

static int sq_host_enroll(struct store_backend *be, const char *machine_id, const char *hostname,
			  const struct store_label *labels, size_t n_labels,
			  const char *cert_serial, int64_t cert_not_after, int64_t now,
			  char **id_out)
{
	CTL_LOCKED(be);
	struct store_label *l = NULL;
	char id[33], *json;
	size_t n;
	int r;

	if (!machine_id || !*machine_id)
		return -EINVAL;
	store_labels_merge(labels, n_labels, NULL, 0, &l, &n);
	json = store_labels_to_json(l, n);
	store_labels_free(l, n);
	if (ctl_begin(be) < 0) {
		free(json);
		return -EIO;
	}
	r = ctl_end(be, host_enroll_tx(be, machine_id, hostname, json, cert_serial, cert_not_after,
				       now, id));
	free(json);
	if (r < 0)
		return r;
	*id_out = xstrdup(id);
	return 0;
}

/* Runs an UPDATE of one host by id (bound as ?1); -ENOENT when no host has that id. */
static int host_update(struct store_backend *be, sqlite3_stmt *s)
{
	int r = step_done(s);

	if (r < 0)
		return r;
	return sqlite3_changes(be->ctl.db) == 0 ? -ENOENT : 0;
}

static int sq_host_set_cert(struct store_backend *be, const char *id, const char *cert_serial,
			    int64_t cert_not_after)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->ctl, "UPDATE hosts SET cert_serial = ?2, cert_not_after = ?3 WHERE id = ?1");

	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	bind_text(s, 2, cert_serial);
	sqlite3_bind_int64(s, 3, cert_not_after);
	return host_update(be, s);
}

static int host_hello_tx(struct store_backend *be, const char *id, const char *hostname,
			 const char *agent_version, const struct store_label *labels,
			 size_t n_labels, int64_t now)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT token_labels FROM hosts WHERE id = ?1");
	struct store_label *base = NULL, *merged = NULL;
	size_t n_base = 0, n_merged = 0;
	char *json;
	int rc, r;

	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	if (store_labels_from_json((const char *)sqlite3_column_text(s, 0), &base, &n_base) < 0)
		return -EIO;
	store_labels_merge(base, n_base, labels, n_labels, &merged, &n_merged);
	json = store_labels_to_json(merged, n_merged);
	store_labels_free(base, n_base);
	store_labels_free(merged, n_merged);
	{
		_cleanup_reset_ sqlite3_stmt *u =
			stmt(&be->ctl, "UPDATE hosts SET hostname = coalesce(?2, hostname),"
				       " agent_version = coalesce(?3, agent_version), labels = ?4,"
				       " last_seen = ?5 WHERE id = ?1");

		if (!u) {
			free(json);
			return -EIO;
		}
		bind_text(u, 1, id);
		bind_text(u, 2, hostname);
		bind_text(u, 3, agent_version);
		bind_text(u, 4, json);
		sqlite3_bind_int64(u, 5, now);
		r = host_update(be, u);
	}
	free(json);
	return r;
}

static int sq_host_hello(struct store_backend *be, const char *id, const char *hostname,
			 const char *agent_version, const struct store_label *labels,
			 size_t n_labels, int64_t now)
{
	CTL_LOCKED(be);

	if (ctl_begin(be) < 0)
		return -EIO;
	return ctl_end(be, host_hello_tx(be, id, hostname, agent_version, labels, n_labels, now));
}

static int sq_host_touch(struct store_backend *be, const char *id, int64_t now)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "UPDATE hosts SET last_seen = ?2 WHERE id = ?1");

	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	return host_update(be, s);
}

static int sq_host_revoke(struct store_backend *be, const char *id, int64_t now)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "UPDATE hosts SET revoked = 1 WHERE id = ?1");

	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	return host_update(be, s);
}

#define HOST_SELECT                                                                                \
	"SELECT h.id, h.hostname, h.machine_id, h.os, h.agent_version, h.cert_serial,"             \
	" h.cert_not_after, h.enrolled_at, h.last_seen, h.revoked, h.labels, s.score,"             \
	" s.checks_failed, s.scanned_at FROM hosts h LEFT JOIN scans s ON s.host = h.hid"

static int host_row(sqlite3_stmt *s, struct store_host *out)
{
	struct store_host h = { 0 };

	if (store_labels_from_json((const char *)sqlite3_column_text(s, 10), &h.labels,
				   &h.n_labels) < 0)
		return -EIO;
	h.id = col_strdup(s, 0);
	h.hostname = col_strdup(s, 1);
	h.machine_id = col_strdup(s, 2);
	h.os = col_strdup(s, 3);
	h.agent_version = col_strdup(s, 4);
	h.cert_serial = col_strdup(s, 5);
	h.cert_not_after = sqlite3_column_int64(s, 6);
	h.enrolled_at = sqlite3_column_int64(s, 7);
	h.last_seen = sqlite3_column_int64(s, 8);
	h.revoked = sqlite3_column_int64(s, 9) != 0;
	h.score = sqlite3_column_type(s, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 11);
	h.checks_failed = sqlite3_column_int64(s, 12);
	h.scanned_at = sqlite3_column_int64(s, 13);
	*out = h;
	return 0;
}

static int sq_host_get(struct store_backend *be, const char *id, struct store_host *out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(&be->ctl, HOST_SELECT " WHERE h.id = ?1");
	int rc;

	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	return host_row(s, out);
}

static int sq_hosts_list(struct store_backend *be, struct store_host **out, size_t *n)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(&be->ctl, HOST_SELECT " ORDER BY h.hostname, h.id");
	struct store_host *v = NULL;
	size_t count = 0, alloc = 0;
	int rc;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		if (host_row(s, &v[count]) < 0)
			break;
		count++;
	}
	if (rc != SQLITE_DONE) {
		store_hosts_free(v, count);
		return -EIO;
	}
	*out = v;
	*n = count;
	return 0;
}

/* Looks up a host's rowid on the control connection. */
static int ctl_hid(struct store_backend *be, const char *id, int64_t *hid)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(&be->ctl, "SELECT hid FROM hosts WHERE id = ?1");
	int rc;

	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	*hid = sqlite3_column_int64(s, 0);
	return 0;
}

static int sq_host_inventory(struct store_backend *be, const char *id, struct json_t **out)
{
	CTL_LOCKED(be);
	json_t *o;
	int64_t hid;
	int rc, r;

	if (ctl_begin(be) < 0) /* one snapshot for both reads */
		return -EIO;
	r = ctl_hid(be, id, &hid);
	if (r < 0)
		return ctl_end(be, r);
	o = json_object();
	{
		_cleanup_reset_ sqlite3_stmt *s = stmt(
			&be->ctl, "SELECT tbl, rows FROM inventory WHERE host = ?1 ORDER BY tbl");

		if (!s) {
			json_decref(o);
			return ctl_end(be, -EIO);
		}
		sqlite3_bind_int64(s, 1, hid);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			json_t *rows = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);

			if (rows)
				json_object_set_new(o, (const char *)sqlite3_column_text(s, 0),
						    rows);
		}
	}
	r = ctl_end(be, rc == SQLITE_DONE ? 0 : -EIO);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*out = o;
	return 0;
}

static json_t *json_text_col(sqlite3_stmt *s, int i, json_t *fallback)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	if (v) {
		json_decref(fallback);
		return v;
	}
	return fallback;
}

static json_t *text_or_null(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	return t ? json_string(t) : json_null();
}

static json_t *finding_json(sqlite3_stmt *s, json_t *mappings)
{
	json_t *f = json_object();
	char when[32];

	ingest_format_time(sqlite3_column_int64(s, 10), when, sizeof(when));
	json_object_set_new(f, "host", text_or_null(s, 0));
	json_object_set_new(f, "hostname", text_or_null(s, 1));
	json_object_set_new(f, "id", text_or_null(s, 2));
	json_object_set_new(f, "title", text_or_null(s, 3));
	json_object_set_new(f, "section", text_or_null(s, 4));
	json_object_set_new(f, "severity", text_or_null(s, 5));
	json_object_set_new(f, "status", text_or_null(s, 6));
	json_object_set_new(f, "message", text_or_null(s, 7));
	json_object_set_new(f, "mappings", mappings);
	json_object_set_new(f, "evidence", json_text_col(s, 9, json_array()));
	json_object_set_new(f, "scanned_at", json_string(when));
	return f;
}

static int sq_findings(struct store_backend *be, const struct store_finding_filter *filter,
		       struct json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->ctl,
		"SELECT h.id, h.hostname, f.check_id, f.title, f.section, f.severity, f.status,"
		" f.message, f.mappings, f.evidence, f.scanned_at"
		" FROM findings f JOIN hosts h ON h.hid = f.host"
		" WHERE (?1 IS NULL OR h.id = ?1)"
		" AND (?2 = 'all' OR (?2 IS NULL AND f.status IN ('fail', 'error'))"
		" OR f.status = ?2)"
		" ORDER BY h.id, f.check_id");
	const char *framework = filter ? filter->framework : NULL;
	json_t *a;
	int rc;

	if (!s)
		return -EIO;
	bind_text(s, 1, filter ? filter->host : NULL);
	bind_text(s, 2, filter ? filter->status : NULL);
	a = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *m = json_text_col(s, 8, json_object());

		if (framework && !json_object_get(m, framework)) {
			json_decref(m);
			continue;
		}
		json_array_append_new(a, finding_json(s, m));
	}
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return -EIO;
	}
	*out = a;
	return 0;
}

static int sq_host_streams(struct store_backend *be, const char *id, struct store_stream out[3])
{
	CTL_LOCKED(be);
	struct store_stream v[N_STREAMS] = { 0 };
	int64_t hid;
	int rc, r, i;

	if (ctl_begin(be) < 0)
		return -EIO;
	r = ctl_hid(be, id, &hid);
	if (r < 0)
		return ctl_end(be, r);
	for (i = 0; i < N_STREAMS; i++)
		v[i].stream = (uint32_t)i;
	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->ctl,
			     "SELECT stream, committed_seq, records, gaps, dropped FROM streams"
			     " WHERE host = ?1");

		if (!s)
			return ctl_end(be, -EIO);
		sqlite3_bind_int64(s, 1, hid);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			int64_t k = sqlite3_column_int64(s, 0);

			if (k < 0 || k >= N_STREAMS)
				continue;
			v[k].committed_seq = (uint64_t)sqlite3_column_int64(s, 1);
			v[k].records = (uint64_t)sqlite3_column_int64(s, 2);
			v[k].gaps = (uint64_t)sqlite3_column_int64(s, 3);
			v[k].dropped = (uint64_t)sqlite3_column_int64(s, 4);
		}
	}
	r = ctl_end(be, rc == SQLITE_DONE ? 0 : -EIO);
	if (r < 0)
		return r;
	memcpy(out, v, sizeof(v));
	return 0;
}

/* ---- the writer: host cache ---- */

static uint64_t id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return h;
}

static void tab_insert(struct store_backend *be, struct hentry *e)
{
	size_t i;

	if ((be->count + 1) * 2 > be->cap) {
		struct hentry **old = be->tab;
		size_t old_cap = be->cap, j;

		be->cap = be->cap ? be->cap * 2 : 1024;
		be->tab = xcalloc(be->cap, sizeof(*be->tab));
		be->count = 0;
		for (j = 0; j < old_cap; j++)
			if (old[j])
				tab_insert(be, old[j]);
		free(old);
	}
	for (i = id_hash(e->id) & (be->cap - 1); be->tab[i]; i = (i + 1) & (be->cap - 1))
		;
	be->tab[i] = e;
	be->count++;
}

/* Returns 0 with *out the host's cache entry, -ENOENT when no host has this id, or -EIO. */
static int host_entry(struct store_backend *be, const char *id, struct hentry **out)
{
	struct hentry *e;
	size_t i;
	int rc;

	if (!valid_host_id(id))
		return -ENOENT;
	if (be->cap)
		for (i = id_hash(id) & (be->cap - 1); (e = be->tab[i]); i = (i + 1) & (be->cap - 1))
			if (strcmp(e->id, id) == 0) {
				*out = e;
				return 0;
			}
	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr, "SELECT hid FROM hosts WHERE id = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, id);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			return rc == SQLITE_DONE ? -ENOENT : -EIO;
		e = xcalloc(1, sizeof(*e));
		snprintf(e->id, sizeof(e->id), "%s", id);
		e->hid = sqlite3_column_int64(s, 0);
	}
	tab_insert(be, e);
	*out = e;
	return 0;
}

/* Loads the stream's committed seq into the cache on first use. */
static int stream_load(struct store_backend *be, struct hentry *e, uint32_t stream)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int rc;

	if (e->loaded & (1u << stream))
		return 0;
	s = stmt(&be->wr, "SELECT committed_seq FROM streams WHERE host = ?1 AND stream = ?2");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, e->hid);
	sqlite3_bind_int64(s, 2, stream);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	e->committed[stream] = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
	e->pending[stream] = e->committed[stream];
	e->loaded |= 1u << stream;
	return 0;
}

static void touch(struct store_backend *be, struct hentry *e)
{
	if (e->touched)
		return;
	if (be->n_touched == be->touched_alloc) {
		be->touched_alloc = be->touched_alloc ? be->touched_alloc * 2 : 256;
		be->touched = xrealloc(be->touched, be->touched_alloc * sizeof(*be->touched));
	}
	be->touched[be->n_touched++] = e;
	e->touched = true;
}

/* After the transaction: keeps (commit) or drops (rollback) the pending numbers. */
static void touched_end(struct store_backend *be, bool commit)
{
	size_t i;

	for (i = 0; i < be->n_touched; i++) {
		struct hentry *e = be->touched[i];

		if (commit)
			memcpy(e->committed, e->pending, sizeof(e->committed));
		else
			memcpy(e->pending, e->committed, sizeof(e->pending));
		e->touched = false;
	}
	be->n_touched = 0;
}

/* ---- the writer: applying STATE records ---- */

static char *dump(json_t *v, const char *fallback)
{
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	return t ? t : xstrdup(fallback);
}

static int set_os(struct store_backend *be, int64_t hid, const char *os)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(&be->wr, "UPDATE hosts SET os = ?2 WHERE hid = ?1");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, hid);
	bind_text(s, 2, os);
	return step_done(s);
}

static int insert_finding(struct store_backend *be, int64_t hid, const struct ingest_finding *f,
			  int64_t when)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->wr,
		"INSERT OR REPLACE INTO findings(host, check_id, title, section, severity, status,"
		" message, mappings, evidence, scanned_at)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
	char *m, *ev;
	int r;

	if (!s)
		return -EIO;
	m = dump(f->mappings, "{}");
	ev = dump(f->evidence, "[]");
	sqlite3_bind_int64(s, 1, hid);
	bind_text(s, 2, f->id);
	bind_text(s, 3, f->title);
	bind_text(s, 4, f->section);
	bind_text(s, 5, f->severity);
	bind_text(s, 6, f->status);
	bind_text(s, 7, f->message);
	sqlite3_bind_text(s, 8, m, -1, free);
	sqlite3_bind_text(s, 9, ev, -1, free);
	sqlite3_bind_int64(s, 10, when);
	r = step_done(s);
	return r == -EEXIST ? -EIO : r;
}

/* Whether check_id of host hid failed in its stored findings: 1 yes, 0 no (another status
 * or none), -EIO. */
static int finding_was_failing(struct store_backend *be, int64_t hid, const char *check_id)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->wr, "SELECT status FROM findings WHERE host = ?1 AND check_id = ?2");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, hid);
	bind_text(s, 2, check_id);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		return 0;
	if (r != SQLITE_ROW)
		return -EIO;
	return strcmp((const char *)sqlite3_column_text(s, 0), "fail") == 0;
}

/* Keeps on the batch the checks of sc that fail now, have a fix and did not fail before
 * (called before the host's previous findings are replaced). */
static int keep_new_failing(struct store_backend *be, int64_t hid, const struct ingest_scan *sc)
{
	struct store_batch *b = be->cur_batch;

	if (!b)
		return 0;
	for (size_t i = 0; i < sc->n_findings && b->n_new_failing < STORE_BATCH_NEW_FAILING; i++) {
		const struct ingest_finding *f = &sc->findings[i];
		struct store_failing_check *c;
		int r;

		if (strcmp(f->status, "fail") != 0 || !f->fix)
			continue;
		r = finding_was_failing(be, hid, f->id);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (!b->new_failing)
			b->new_failing = xcalloc(STORE_BATCH_NEW_FAILING, sizeof(*b->new_failing));
		c = &b->new_failing[b->n_new_failing++];
		c->check_id = xstrdup(f->id);
		c->severity = f->severity ? xstrdup(f->severity) : NULL;
		c->fix_json = dump(f->fix, "{}");
	}
	return 0;
}

static int apply_scan(struct store_backend *be, int64_t hid, const struct ingest_scan *sc,
		      int64_t when)
{
	size_t i;
	int r;

	r = keep_new_failing(be, hid, sc);
	if (r < 0)
		return r;
	{
		_cleanup_reset_ sqlite3_stmt *d =
			stmt(&be->wr, "DELETE FROM findings WHERE host = ?1");

		if (!d)
			return -EIO;
		sqlite3_bind_int64(d, 1, hid);
		r = step_done(d);
		if (r < 0)
			return r;
	}
	for (i = 0; i < sc->n_findings; i++) {
		r = insert_finding(be, hid, &sc->findings[i], when);
		if (r < 0)
			return r;
	}
	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr, "INSERT OR REPLACE INTO scans(host, scanned_at, score, "
				      "checks_failed, summary)"
				      " VALUES(?1, ?2, ?3, ?4, ?5)");

		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, hid);
		sqlite3_bind_int64(s, 2, when);
		if (isnan(sc->score))
			sqlite3_bind_null(s, 3);
		else
			sqlite3_bind_double(s, 3, sc->score);
		sqlite3_bind_int64(s, 4, sc->checks_failed);
		sqlite3_bind_text(s, 5, dump(sc->summary, "{}"), -1, free);
		r = step_done(s);
		if (r < 0)
			return -EIO;
	}
	return sc->os ? set_os(be, hid, sc->os) : 0;
}

static int apply_inventory(struct store_backend *be, int64_t hid,
			   const struct ingest_inventory *inv, int64_t when)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int r;

	if (!inv->rows) {
		s = stmt(&be->wr, "DELETE FROM inventory WHERE host = ?1 AND tbl = ?2");
		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, hid);
		bind_text(s, 2, inv->table);
		return step_done(s);
	}
	s = stmt(&be->wr, "INSERT OR REPLACE INTO inventory(host, tbl, rows, updated)"
			  " VALUES(?1, ?2, ?3, ?4)");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, hid);
	bind_text(s, 2, inv->table);
	sqlite3_bind_text(s, 3, dump(inv->rows, "[]"), -1, free);
	sqlite3_bind_int64(s, 4, when);
	r = step_done(s);
	if (r < 0)
		return -EIO;
	return inv->os_pretty ? set_os(be, hid, inv->os_pretty) : 0;
}

/* ---- detection records: the event index, alert groups, baselines, sensor health ---- */

static int index_event(struct store_backend *be, int64_t hid, const struct store_record *rec,
		       const struct ingest_event *ev)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->wr, "INSERT OR IGNORE INTO events(host, seq, time_ns, kind, image, user,"
			      " src_ip) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, hid);
	sqlite3_bind_int64(s, 2, (int64_t)rec->seq);
	sqlite3_bind_int64(s, 3, rec->time_ns > 0 ? rec->time_ns : ev->time_ns);
	bind_text(s, 4, ev->kind);
	bind_text(s, 5, ev->image);
	bind_text(s, 6, ev->user);
	bind_text(s, 7, ev->src_ip);
	return step_done(s) < 0 ? -EIO : 0;
}

static int put_latest(struct sconn *c, const char *sql, int64_t hid, int64_t when, json_t *v)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(c, sql);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, hid);
	sqlite3_bind_int64(s, 2, when);
	sqlite3_bind_text(s, 3, dump(v, "null"), -1, free);
	return step_done(s) < 0 ? -EIO : 0;
}

static json_int_t event_time(const json_t *ev)
{
	const json_t *t = json_object_get(ev, "time");

	return json_is_integer(t) ? json_integer_value(t) : 0;
}

static int cmp_event_time(const void *a, const void *b)
{
	json_int_t x = event_time(*(json_t *const *)a), y = event_time(*(json_t *const *)b);

	return x < y ? -1 : x > y;
}

/* The group's evidence after adding add: the newest STORE_ALERT_EVIDENCE_MAX events by time,
 * fewer when their JSON exceeds STORE_ALERT_EVIDENCE_BYTES (caller frees). */
static char *merge_evidence(const char *old_text, const json_t *add)
{
	json_t *old = old_text ? json_loads(old_text, 0, NULL) : NULL;
	json_t *v[2 * STORE_ALERT_EVIDENCE_MAX + ALERT_MAX_EVIDENCE], *out = json_array();
	size_t n = 0, i, first;
	json_t *e;
	char *text;

	json_array_foreach(old, i, e) {
		if (n < 2 * STORE_ALERT_EVIDENCE_MAX && json_is_object(e))
			v[n++] = e;
	}
	json_array_foreach(add, i, e) {
		if (n < ARRAY_SIZE(v))
			v[n++] = (json_t *)e;
	}
	/* a stable order: merge sort is not needed for 48 elements; insertion sort is stable */
	for (i = 1; i < n; i++) {
		json_t *x = v[i];
		size_t j = i;

		while (j > 0 && cmp_event_time(&v[j - 1], &x) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
	first = n > STORE_ALERT_EVIDENCE_MAX ? n - STORE_ALERT_EVIDENCE_MAX : 0;
	for (i = first; i < n; i++)
		json_array_append(out, v[i]);
	for (;;) {
		text = dump(out, "[]");
		if (strlen(text) <= STORE_ALERT_EVIDENCE_BYTES || json_array_size(out) == 0)
			break;
		free(text);
		json_array_remove(out, 0);
	}
	json_decref(out);
	json_decref(old);
	return text;
}

/* Returns 1 when uid was stored before, 0 when not, -EIO. */
static int alert_uid_seen(struct sconn *c, const char *uid)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(c, "SELECT 1 FROM alert_uids WHERE uid = ?1");
	int rc;

	if (!s)
		return -EIO;
	bind_text(s, 1, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The group an alert at time t joins: *gid and its evidence text (caller frees), or *gid 0. */
static int alert_group_find(struct sconn *c, int64_t hid, const struct alert_summary *a,
			    int64_t *gid, char **evidence)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(c, "SELECT gid, evidence FROM alert_groups WHERE host IS ?1 AND rule_id = ?2"
			" AND group_key = ?3 AND first_seen > ?4 AND first_seen < ?5"
			" ORDER BY first_seen DESC LIMIT 1");
	int64_t lo = a->time_ns > INT64_MIN + STORE_ALERT_WINDOW_NS
			     ? a->time_ns - STORE_ALERT_WINDOW_NS
			     : INT64_MIN;
	int64_t hi = a->time_ns < INT64_MAX - STORE_ALERT_WINDOW_NS
			     ? a->time_ns + STORE_ALERT_WINDOW_NS
			     : INT64_MAX;
	int rc;

	if (!s)
		return -EIO;
	if (hid > 0)
		sqlite3_bind_int64(s, 1, hid);
	else
		sqlite3_bind_null(s, 1);
	bind_text(s, 2, a->rule_id);
	bind_text(s, 3, a->group_key ? a->group_key : "");
	sqlite3_bind_int64(s, 4, lo);
	sqlite3_bind_int64(s, 5, hi);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		*gid = 0;
		*evidence = NULL;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return -EIO;
	*gid = sqlite3_column_int64(s, 0);
	*evidence = col_strdup(s, 1);
	return 0;
}

static const char *alert_explanation(const struct alert_summary *a)
{
	const json_t *e = json_object_get(json_object_get(a->root, "unmapped"), "explanation");

	return json_is_string(e) ? json_string_value(e) : NULL;
}

static void bind_alert_common(sqlite3_stmt *s, const struct alert_summary *a, char *evidence,
			      int64_t now)
{
	json_t *latest = json_copy(a->root);

	json_object_del(latest, "evidence");
	/* ?2 evidence ?3 updated ?4 level ?5 time ?6 title ?7 explanation ?8 score ?9 latest
	 * ?10 techniques */
	sqlite3_bind_text(s, 2, evidence, -1, free);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int(s, 4, a->level);
	sqlite3_bind_int64(s, 5, a->time_ns);
	bind_text(s, 6, a->title);
	bind_text(s, 7, alert_explanation(a));
	if (strcmp(a->source, "anomaly") == 0 || a->score != 0)
		sqlite3_bind_double(s, 8, a->score);
	else
		sqlite3_bind_null(s, 8);
	sqlite3_bind_text(s, 9, dump(latest, "{}"), -1, free);
	sqlite3_bind_text(s, 10, dump(a->techniques, "[]"), -1, free);
	json_decref(latest);
}

static int alert_group_update(struct sconn *c, int64_t gid, const struct alert_summary *a,
			      char *evidence, int64_t now)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(c, "UPDATE alert_groups SET count = count + 1, evidence = ?2, updated = ?3,"
			" level = max(level, ?4),"
			" title = CASE WHEN ?5 >= last_seen THEN ?6 ELSE title END,"
			" explanation = CASE WHEN ?5 >= last_seen THEN ?7 ELSE explanation END,"
			" score = CASE WHEN ?5 >= last_seen THEN ?8 ELSE score END,"
			" latest = CASE WHEN ?5 >= last_seen THEN ?9 ELSE latest END,"
			" techniques = CASE WHEN ?5 >= last_seen THEN ?10 ELSE techniques END,"
			" first_seen = min(first_seen, ?5), last_seen = max(last_seen, ?5)"
			" WHERE gid = ?1");

	if (!s) {
		free(evidence);
		return -EIO;
	}
	sqlite3_bind_int64(s, 1, gid);
	bind_alert_common(s, a, evidence, now);
	return step_done(s) < 0 ? -EIO : 0;
}

static int alert_group_insert(struct sconn *c, int64_t hid, const struct alert_summary *a,
			      char *evidence, int64_t now, int64_t *gid)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		c, "INSERT INTO alert_groups(host, evidence, updated, level, first_seen, title,"
		   " explanation, score, latest, techniques, last_seen, id, source, rule_id,"
		   " group_key, count) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?5, ?11,"
		   " ?12, ?13, ?14, 1)");

	if (!s) {
		free(evidence);
		return -EIO;
	}
	if (hid > 0)
		sqlite3_bind_int64(s, 1, hid);
	else
		sqlite3_bind_null(s, 1);
	bind_alert_common(s, a, evidence, now);
	bind_text(s, 11, a->uid);
	bind_text(s, 12, a->source);
	bind_text(s, 13, a->rule_id);
	bind_text(s, 14, a->group_key ? a->group_key : "");
	if (step_done(s) < 0)
		return -EIO;
	*gid = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
	return 0;
}

/* Stores one parsed alert into its group (or a new one). Returns 0, -EALREADY when its uid
 * was stored before (nothing changes), or -EIO. *grouped says whether it joined a group. */
static int alert_apply(struct sconn *c, int64_t hid, const struct alert_summary *a, int64_t now,
		       bool *grouped)
{
	_cleanup_free_ char *old = NULL;
	int64_t gid;
	int r;

	r = alert_uid_seen(c, a->uid);
	if (r != 0)
		return r > 0 ? -EALREADY : r;
	r = alert_group_find(c, hid, a, &gid, &old);
	if (r < 0)
		return r;
	*grouped = gid != 0;
	if (gid)
		r = alert_group_update(c, gid, a, merge_evidence(old, a->evidence), now);
	else
		r = alert_group_insert(c, hid, a, merge_evidence(NULL, a->evidence), now, &gid);
	if (r < 0)
		return r;
	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(c, "INSERT INTO alert_uids(uid, gid) VALUES(?1, ?2)");

		if (!s)
			return -EIO;
		bind_text(s, 1, a->uid);
		sqlite3_bind_int64(s, 2, gid);
		return step_done(s) < 0 ? -EIO : 0;
	}
}

/* Keeps a copy of a newly stored alert on its batch for the server's response loop. */
static void keep_new_alert(struct store_batch *b, const void *p, size_t len)
{
	if (!b || b->n_new_alerts >= STORE_BATCH_NEW_ALERTS)
		return;
	strv_push_take(&b->new_alerts, xstrndup(p, len));
	b->n_new_alerts++;
}

static bool action_state_final(const char *state)
{
	static const char *const finals[] = { "verified", "failed",  "refused", "rolled_back",
					      "rejected", "expired", "dry_run", "notified" };

	for (size_t i = 0; i < ARRAY_SIZE(finals); i++)
		if (!strcmp(state, finals[i]))
			return true;
	return false;
}

/* An action result from host hid: updates the action it names (only an action of that
 * host) or, for an action the server never saw (edge, or on the host by hand), stores it.
 * Returns 0 or -EIO. */
static int action_result_apply(struct store_backend *be, int64_t hid, const struct ingest_action *a,
			       struct store_ingest_counts *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; /* when the server records it */
	int64_t fin = a->finished_ns ? a->finished_ns : now;
	_cleanup_free_ char *state = NULL;
	int64_t row_host = 0;
	int rc;

	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr, "SELECT host, state FROM actions WHERE uid = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, a->uid);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			row_host = sqlite3_column_int64(s, 0);
			state = col_strdup(s, 1);
		} else if (rc != SQLITE_DONE) {
			return -EIO;
		}
	}
	if (state && row_host != hid) {
		c->unparsed++; /* another host's action: refused */
		return 0;
	}
	if (!state) {
		_cleanup_reset_ sqlite3_stmt *s = stmt(
			&be->wr,
			"INSERT INTO actions(uid, host, kind, op, params, mode, state, origin,"
			" trigger_json, requested_by, created_ns, sent_ns, finished_ns, message,"
			" detail, recorded_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'agent',"
			" ?10, ?10, ?11, ?12, ?13, ?14)");

		if (!s)
			return -EIO;
		bind_text(s, 1, a->uid);
		sqlite3_bind_int64(s, 2, hid);
		bind_text(s, 3, a->kind);
		bind_text(s, 4, a->op);
		sqlite3_bind_text(s, 5, dump(a->params, "{}"), -1, free);
		bind_text(s, 6, strcmp(a->origin, "manual") ? "auto" : "manual");
		bind_text(s, 7, a->status);
		bind_text(s, 8, a->origin);
		if (a->trigger)
			sqlite3_bind_text(s, 9, dump(a->trigger, "{}"), -1, free);
		sqlite3_bind_int64(s, 10, a->requested_ns ? a->requested_ns : fin);
		sqlite3_bind_int64(s, 11, fin);
		bind_text(s, 12, a->message);
		if (a->detail)
			sqlite3_bind_text(s, 13, dump(a->detail, "{}"), -1, free);
		sqlite3_bind_int64(s, 14, now);
		if (step_done(s) < 0)
			return -EIO;
		c->action_results++;
		return 0;
	}
	if (!strcmp(a->op, "rollback") || !strcmp(state, "rolled_back") ||
	    !strcmp(state, "rejected") || !strcmp(state, "notified") ||
	    !strcmp(state, "pending_approval") || !strcmp(state, "expired")) {
		/* a rollback's result: rolled_back, or the action keeps its state and the message
		 * says why the rollback did not happen; results for actions never sent only
		 * leave their message */
		bool undone = !strcmp(a->op, "rollback") && !strcmp(a->status, "rolled_back");
		_cleanup_free_ char *msg =
			xasprintf("%s %s: %s", a->op, a->status, a->message ? a->message : "");
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr,
			     "UPDATE actions SET state = CASE WHEN ?2 THEN 'rolled_back' ELSE"
			     " state END, finished_ns = CASE WHEN ?2 THEN ?3 ELSE finished_ns"
			     " END, message = ?4, detail = coalesce(?5, detail), recorded_ns = ?6"
			     " WHERE uid = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, a->uid);
		sqlite3_bind_int(s, 2, undone);
		sqlite3_bind_int64(s, 3, fin);
		bind_text(s, 4, undone ? a->message : msg);
		if (a->detail)
			sqlite3_bind_text(s, 5, dump(a->detail, "{}"), -1, free);
		sqlite3_bind_int64(s, 6, now);
		if (step_done(s) < 0)
			return -EIO;
		c->action_results++;
		return 0;
	}
	{
		_cleanup_reset_ sqlite3_stmt *s = stmt(
			&be->wr, "UPDATE actions SET state = ?2, finished_ns = ?3, message = ?4,"
				 " detail = ?5, recorded_ns = ?6 WHERE uid = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, a->uid);
		bind_text(s, 2, a->status);
		sqlite3_bind_int64(s, 3, fin);
		bind_text(s, 4, a->message);
		if (a->detail)
			sqlite3_bind_text(s, 5, dump(a->detail, "{}"), -1, free);
		sqlite3_bind_int64(s, 6, now);
		if (step_done(s) < 0)
			return -EIO;
		c->action_results++;
		return 0;
	}
}

/* An access event from host hid: one row of access_events (the whole payload kept). */
static int access_event_apply(struct store_backend *be, int64_t hid, const struct store_record *rec,
			      const struct ingest_access_event *e)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->wr, "INSERT INTO access_events(host, time_ns, event, identity, grant_id,"
			      " account, doc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	int64_t t = e->time_ns ? e->time_ns : rec->time_ns;

	if (!s)
		return -EIO;
	if (t <= 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	sqlite3_bind_int64(s, 1, hid);
	sqlite3_bind_int64(s, 2, t);
	bind_text(s, 3, e->event);
	bind_text(s, 4, e->identity);
	bind_text(s, 5, e->grant);
	bind_text(s, 6, e->account);
	sqlite3_bind_text(s, 7, dump(e->root, "{}"), -1, free);
	return step_done(s) < 0 ? -EIO : 0;
}

static int session_part_apply(struct store_backend *be, int64_t hid, const struct store_record *rec,
			      const struct ingest_session_part *sp, struct store_ingest_counts *c);

/* Applies a detection record (RECORD_EVENT, _ALERT, _BASELINE, _SENSOR_HEALTH) whose payload
 * p decoded. Returns 0 or -EIO; a payload that does not parse is counted and skipped. */
static int apply_detection(struct store_backend *be, int64_t hid, const struct store_record *rec,
			   const void *p, size_t len, struct store_ingest_counts *c)
{
	int64_t now = (int64_t)time(NULL);
	json_t *v;
	int r;

	switch (rec->kind) {
	case IMMUNE__V1__RECORD_KIND__RECORD_EVENT: {
		struct ingest_event ev;

		if (ingest_parse_event(p, len, &ev) < 0) {
			c->unparsed++;
			return 0;
		}
		r = index_event(be, hid, rec, &ev);
		ingest_event_free(&ev);
		return r;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_ALERT: {
		struct alert_summary a;
		bool grouped = false;

		if (alert_parse(p, len, &a) < 0) {
			c->unparsed++;
			return 0;
		}
		r = alert_apply(&be->wr, hid, &a, now, &grouped);
		alert_summary_free(&a);
		if (r == -EALREADY) {
			c->alerts_duplicate++;
			return 0;
		}
		if (r == 0)
			keep_new_alert(be->cur_batch, p, len);
		if (r == 0 && grouped)
			c->alerts_grouped++;
		return r;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT: {
		struct ingest_action ac;

		if (ingest_parse_action_result(p, len, &ac) < 0) {
			c->unparsed++;
			return 0;
		}
		r = action_result_apply(be, hid, &ac, c);
		ingest_action_free(&ac);
		return r;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_ACCESS_EVENT: {
		struct ingest_access_event ae;

		if (ingest_parse_access_event(p, len, &ae) < 0) {
			c->unparsed++;
			return 0;
		}
		r = access_event_apply(be, hid, rec, &ae);
		ingest_access_event_free(&ae);
		return r;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_SESSION: {
		struct ingest_session_part sp;

		if (ingest_parse_session_part(p, len, &sp) < 0) {
			c->unparsed++;
			return 0;
		}
		r = session_part_apply(be, hid, rec, &sp, c);
		ingest_session_part_free(&sp);
		return r;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_BASELINE:
		if (ingest_parse_baseline(p, len, &v) < 0) {
			c->unparsed++;
			return 0;
		}
		r = put_latest(&be->wr,
			       "INSERT OR REPLACE INTO baselines(host, updated, summary)"
			       " VALUES(?1, ?2, ?3)",
			       hid, now, v);
		json_decref(v);
		return r;
	case IMMUNE__V1__RECORD_KIND__RECORD_SENSOR_HEALTH:
		if (ingest_parse_sensor_health(p, len, &v) < 0) {
			c->unparsed++;
			return 0;
		}
		r = put_latest(&be->wr,
			       "INSERT OR REPLACE INTO sensor_health(host, updated, sensors)"
			       " VALUES(?1, ?2, ?3)",
			       hid, now, v);
		json_decref(v);
		return r;
	default: return 0;
	}
}

static bool is_detection_record(uint32_t stream, uint32_t kind)
{
	switch (kind) {
	case IMMUNE__V1__RECORD_KIND__RECORD_EVENT:
		return stream == IMMUNE__V1__STREAM__STREAM_EVENTS;
	case IMMUNE__V1__RECORD_KIND__RECORD_ALERT:
	case IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT:
	case IMMUNE__V1__RECORD_KIND__RECORD_ACCESS_EVENT:
	case IMMUNE__V1__RECORD_KIND__RECORD_SESSION:
		return stream == IMMUNE__V1__STREAM__STREAM_ALERTS;
	case IMMUNE__V1__RECORD_KIND__RECORD_BASELINE:
	case IMMUNE__V1__RECORD_KIND__RECORD_SENSOR_HEALTH:
		return stream == IMMUNE__V1__STREAM__STREAM_STATE;
	default: return false;
	}
}

struct stream_delta {
	uint64_t records, gaps, dropped;
};

/* Applies one record's payload (STATE kinds, gaps). Unparseable payloads are counted. */
static int apply_record(struct store_backend *be, int64_t hid, uint32_t stream,
			const struct store_record *rec, struct stream_delta *d,
			struct store_ingest_counts *c)
{
	int64_t when = rec->time_ns > 0 ? rec->time_ns / 1000000000 : 0;
	_cleanup_free_ void *owned = NULL;
	const void *p;
	size_t len;
	int r = 0;

	if (rec->kind != IMMUNE__V1__RECORD_KIND__RECORD_GAP &&
	    stream != IMMUNE__V1__STREAM__STREAM_STATE && !is_detection_record(stream, rec->kind))
		return 0;
	if (ingest_decode(rec->encoding, rec->payload, rec->len, &owned, &p, &len) < 0) {
		c->unparsed++;
		return 0;
	}
	if (is_detection_record(stream, rec->kind))
		return apply_detection(be, hid, rec, p, len, c);
	switch (rec->kind) {
	case IMMUNE__V1__RECORD_KIND__RECORD_GAP: {
		struct ingest_gap g;

		if (ingest_parse_gap(p, len, &g) < 0) {
			c->unparsed++;
			break;
		}
		d->gaps++;
		d->dropped += g.count;
		break;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_SCAN: {
		struct ingest_scan sc;

		if (ingest_parse_scan(p, len, &sc) < 0) {
			c->unparsed++;
			break;
		}
		r = apply_scan(be, hid, &sc, sc.started_at ? sc.started_at : when);
		ingest_scan_free(&sc);
		break;
	}
	case IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_TABLE:
	case IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_GONE: {
		struct ingest_inventory inv;

		if (ingest_parse_inventory(
			    p, len, rec->kind == IMMUNE__V1__RECORD_KIND__RECORD_INVENTORY_GONE,
			    &inv) < 0) {
			c->unparsed++;
			break;
		}
		r = apply_inventory(be, hid, &inv, when);
		ingest_inventory_free(&inv);
		break;
	}
	default: break;
	}
	return r;
}

static int insert_record(struct store_backend *be, int64_t hid, uint32_t stream,
			 const struct store_record *rec, bool *stored)
{
	sqlite3_stmt *s = be->ins_record;
	int rc;

	sqlite3_bind_int64(s, 1, hid);
	sqlite3_bind_int64(s, 2, stream);
	sqlite3_bind_int64(s, 3, (int64_t)rec->seq);
	sqlite3_bind_int64(s, 4, rec->kind);
	sqlite3_bind_int64(s, 5, rec->time_ns);
	sqlite3_bind_int64(s, 6, rec->encoding);
	sqlite3_bind_blob(s, 7, rec->payload, (int)rec->len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return -EIO;
	*stored = sqlite3_changes(be->wr.db) > 0;
	return 0;
}

static int stream_update(struct store_backend *be, int64_t hid, uint32_t stream, uint64_t seq,
			 const struct stream_delta *d)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->wr,
		"INSERT INTO streams(host, stream, committed_seq, records, gaps, dropped)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(host, stream) DO UPDATE SET"
		" committed_seq = excluded.committed_seq, records = records + excluded.records,"
		" gaps = gaps + excluded.gaps, dropped = dropped + excluded.dropped");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, hid);
	sqlite3_bind_int64(s, 2, stream);
	sqlite3_bind_int64(s, 3, (int64_t)seq);
	sqlite3_bind_int64(s, 4, (int64_t)d->records);
	sqlite3_bind_int64(s, 5, (int64_t)d->gaps);
	sqlite3_bind_int64(s, 6, (int64_t)d->dropped);
	return step_done(s) < 0 ? -EIO : 0;
}

/* One batch inside the writer's transaction. Returns 0, -ENOENT (unknown host), -EINVAL
 * (unknown stream), or -EIO (the transaction must be rolled back). */
/* Inserts the records v[0..n) of one host and stream, MULTI_ROWS per statement where it
 * can (fewer statement executions per row); *stored counts the rows inserted. */
static int insert_records(struct store_backend *be, int64_t hid, uint32_t stream,
			  const struct store_record *const *v, size_t n, size_t *stored)
{
	size_t i = 0, j, total = 0;
	bool one;
	int rc;

	while (i + MULTI_ROWS <= n) {
		sqlite3_stmt *s = be->ins_multi;

		for (j = 0; j < MULTI_ROWS; j++) {
			const struct store_record *rec = v[i + j];
			int k = (int)j * 7;

			sqlite3_bind_int64(s, k + 1, hid);
			sqlite3_bind_int64(s, k + 2, stream);
			sqlite3_bind_int64(s, k + 3, (int64_t)rec->seq);
			sqlite3_bind_int64(s, k + 4, rec->kind);
			sqlite3_bind_int64(s, k + 5, rec->time_ns);
			sqlite3_bind_int64(s, k + 6, rec->encoding);
			sqlite3_bind_blob(s, k + 7, rec->payload, (int)rec->len, SQLITE_STATIC);
		}
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return -EIO;
		total += (size_t)sqlite3_changes(be->wr.db);
		i += MULTI_ROWS;
	}
	for (; i < n; i++) {
		if (insert_record(be, hid, stream, v[i], &one) < 0)
			return -EIO;
		total += one;
	}
	*stored = total;
	return 0;
}

/* The records of b above the committed number, in order, into be->scratch. */
static size_t new_records(struct store_backend *be, const struct store_batch *b, uint64_t cur)
{
	size_t i, n = 0;

	if (b->n > be->scratch_alloc) {
		be->scratch_alloc = b->n;
		be->scratch = xrealloc(be->scratch, b->n * sizeof(*be->scratch));
	}
	for (i = 0; i < b->n; i++) {
		const struct store_record *rec = &b->records[i];

		if (rec->seq <= cur || rec->seq > INT64_MAX)
			continue;
		be->scratch[n++] = rec;
		cur = rec->seq;
	}
	return n;
}

/* One batch inside the writer's transaction. Returns 0, -ENOENT (unknown host), -EINVAL
 * (unknown stream), or -EIO (the transaction must be rolled back). */
static int ingest_batch(struct store_backend *be, const struct store_batch *b, uint64_t *committed,
			struct store_ingest_counts *c)
{
	struct stream_delta d = { 0 };
	struct hentry *e;
	uint64_t cur;
	size_t i, n, stored;
	int r;

	r = host_entry(be, b->host_id, &e);
	if (r < 0)
		return r;
	if (b->stream >= N_STREAMS)
		return -EINVAL;
	r = stream_load(be, e, b->stream);
	if (r < 0)
		return r;
	cur = e->pending[b->stream];
	be->cur_batch = (struct store_batch *)b;
	n = new_records(be, b, cur);
	c->duplicates += b->n - n;
	if (n == 0) {
		*committed = cur;
		return 0;
	}
	if (b->stream != IMMUNE__V1__STREAM__STREAM_STATE) {
		/* rows already present (a committed number behind the table) count as
		 * duplicates */
		r = insert_records(be, e->hid, b->stream, be->scratch, n, &stored);
		if (r < 0)
			return r;
		c->duplicates += n - stored;
		d.records = stored;
	} else {
		d.records = n;
	}
	for (i = 0; i < n; i++) {
		r = apply_record(be, e->hid, b->stream, be->scratch[i], &d, c);
		if (r < 0)
			return -EIO;
	}
	c->records += d.records;
	cur = be->scratch[n - 1]->seq;
	r = stream_update(be, e->hid, b->stream, cur, &d);
	if (r < 0)
		return r;
	e->pending[b->stream] = cur;
	touch(be, e);
	*committed = cur;
	return 0;
}

static int sq_ingest(struct store_backend *be, struct store_batch *const *batches, size_t n,
		     int *result, uint64_t *committed, struct store_ingest_counts *counts)
{
	struct store_ingest_counts c = { 0 };
	size_t i;
	int r;

	if (exec(&be->wr, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	for (i = 0; i < n; i++) {
		committed[i] = 0;
		r = ingest_batch(be, batches[i], &committed[i], &c);
		if (r == -EIO)
			goto fail;
		result[i] = r;
	}
	be->cur_batch = NULL;
	if (exec(&be->wr, "COMMIT") < 0)
		goto fail;
	touched_end(be, true);
	*counts = c;
	return 0;
fail:
	be->cur_batch = NULL;
	exec(&be->wr, "ROLLBACK");
	touched_end(be, false);
	return -EIO;
}

/* ---- retention ---- */

/* Deletes the prefix of one host's event stream older than cutoff_ns, at most max rows.
 * Returns the rows deleted or -EIO. */
static int64_t retention_host(struct sconn *c, int64_t hid, int64_t cutoff_ns, size_t max)
{
	int64_t last = -1, n = 0;
	int rc;

	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(c, "SELECT seq, time_ns FROM records WHERE host = ?1 AND stream = 0"
				" ORDER BY seq LIMIT ?2");

		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, hid);
		sqlite3_bind_int64(s, 2, (int64_t)max);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (sqlite3_column_int64(s, 1) >= cutoff_ns)
				break;
			last = sqlite3_column_int64(s, 0);
			n++;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return -EIO;
	}
	if (n == 0)
		return 0;
	{
		_cleanup_reset_ sqlite3_stmt *d =
			stmt(c, "DELETE FROM records WHERE host = ?1 AND stream = 0 AND seq <= ?2");

		if (!d)
			return -EIO;
		sqlite3_bind_int64(d, 1, hid);
		sqlite3_bind_int64(d, 2, last);
		if (step_done(d) < 0)
			return -EIO;
	}
	{
		_cleanup_reset_ sqlite3_stmt *d =
			stmt(c, "DELETE FROM events WHERE host = ?1 AND seq <= ?2");

		if (!d)
			return -EIO;
		sqlite3_bind_int64(d, 1, hid);
		sqlite3_bind_int64(d, 2, last);
		if (step_done(d) < 0)
			return -EIO;
	}
	return n;
}

static int64_t retention_tx(struct sconn *c, int64_t cutoff_ns, size_t chunk, int64_t *cursor)
{
	int64_t total = 0, n, hid = *cursor;
	int rc;

	for (;;) {
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(c, "SELECT hid FROM hosts WHERE hid >= ?1 ORDER BY hid LIMIT 1");

		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, hid);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			*cursor = -1;
			return total;
		}
		if (rc != SQLITE_ROW)
			return -EIO;
		hid = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		n = retention_host(c, hid, cutoff_ns, chunk - (size_t)total);
		if (n < 0)
			return n;
		total += n;
		if ((size_t)total >= chunk) {
			*cursor = hid; /* this host may have more */
			return total;
		}
		hid++;
	}
}

static int64_t sq_retention_run(struct store_backend *be, bool on_writer, int64_t max_age_s,
				int64_t now, size_t chunk, int64_t *cursor)
{
	struct sconn *c = on_writer ? &be->wr : &be->ctl;
	int64_t cutoff_ns, n, next = *cursor;

	if (max_age_s <= 0 || chunk == 0) {
		*cursor = -1;
		return 0;
	}
	if (now - max_age_s <= 0)
		cutoff_ns = 0;
	else if (now - max_age_s > INT64_MAX / 1000000000)
		cutoff_ns = INT64_MAX;
	else
		cutoff_ns = (now - max_age_s) * 1000000000;
	if (!on_writer)
		ctl_lock(be);
	if (exec(c, "BEGIN IMMEDIATE") < 0) {
		n = -EIO;
	} else {
		n = retention_tx(c, cutoff_ns, chunk, &next);
		if (n < 0 || exec(c, "COMMIT") < 0) {
			exec(c, "ROLLBACK");
			n = -EIO;
		}
	}
	if (!on_writer)
		pthread_mutex_unlock(&be->ctl_lock);
	if (n >= 0)
		*cursor = next;
	return n;
}

/* ---- detection: alert groups, baselines and sensor health (control connection) ---- */

/* RFC 3339 UTC with milliseconds ("2026-11-23T13:45:40.123Z"). */
static json_t *time_ns_json(int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char buf[48];

	if (ns < 0 || !gmtime_r(&t, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ns / 1000000 % 1000));
	return json_string(buf);
}

static json_t *level_json(int level)
{
	const char *n = alert_level_name(level);

	return n ? json_string(n) : json_null();
}

#define GROUP_COLS                                                                                 \
	"g.id, h.id, h.hostname, g.source, g.rule_id, g.title, g.level, g.group_key,"              \
	" g.techniques, g.explanation, g.score, g.count, g.first_seen, g.last_seen, g.gid,"        \
	" g.evidence, g.latest"
#define GROUP_FROM " FROM alert_groups g LEFT JOIN hosts h ON h.hid = g.host"
#define GROUP_FILTER                                                                               \
	" WHERE g.last_seen >= ?1 AND g.level >= ?2 AND (?3 IS NULL OR h.id = ?3 OR"               \
	" h.hostname = ?3) AND (?4 IS NULL OR g.rule_id = ?4)"

static json_t *group_json(sqlite3_stmt *s, bool full)
{
	const char *gk = (const char *)sqlite3_column_text(s, 7);
	json_t *g = json_object();

	json_object_set_new(g, "id", text_or_null(s, 0));
	json_object_set_new(g, "host", text_or_null(s, 1));
	json_object_set_new(g, "hostname", text_or_null(s, 2));
	json_object_set_new(g, "source", text_or_null(s, 3));
	json_object_set_new(g, "rule_id", text_or_null(s, 4));
	json_object_set_new(g, "title", text_or_null(s, 5));
	json_object_set_new(g, "severity", level_json(sqlite3_column_int(s, 6)));
	json_object_set_new(g, "group_key", gk && *gk ? json_string(gk) : json_null());
	json_object_set_new(g, "techniques", json_text_col(s, 8, json_array()));
	json_object_set_new(g, "explanation", text_or_null(s, 9));
	json_object_set_new(g, "score",
			    sqlite3_column_type(s, 10) == SQLITE_NULL
				    ? json_null()
				    : json_real(sqlite3_column_double(s, 10)));
	json_object_set_new(g, "count", json_integer(sqlite3_column_int64(s, 11)));
	json_object_set_new(g, "first_seen", time_ns_json(sqlite3_column_int64(s, 12)));
	json_object_set_new(g, "last_seen", time_ns_json(sqlite3_column_int64(s, 13)));
	if (full) {
		json_object_set_new(g, "evidence", json_text_col(s, 15, json_array()));
		json_object_set_new(g, "finding", json_text_col(s, 16, json_object()));
	}
	return g;
}

static void bind_alert_filter(sqlite3_stmt *s, const struct store_alert_filter *f)
{
	sqlite3_bind_int64(s, 1, f && f->since_ns > 0 ? f->since_ns : 0);
	sqlite3_bind_int(s, 2, f ? f->min_level : 0);
	bind_text(s, 3, f ? f->host : NULL);
	bind_text(s, 4, f ? f->rule : NULL);
}

/* "LAST_SEEN:GID" */
static int parse_cursor(const char *cursor, int64_t *last_seen, int64_t *gid)
{
	char buf[48], *colon;

	if (strlen(cursor) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", cursor);
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (parse_i64(buf, 0, INT64_MAX, last_seen) < 0 ||
	    parse_i64(colon + 1, 1, INT64_MAX, gid) < 0)
		return -EINVAL;
	return 0;
}

static int alerts_page(struct store_backend *be, const struct store_alert_filter *f, int64_t cur_ls,
		       int64_t cur_gid, size_t limit, json_t *out)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT " GROUP_COLS GROUP_FROM GROUP_FILTER
			       " AND (?5 IS NULL OR g.last_seen < ?5 OR (g.last_seen = ?5 AND"
			       " g.gid < ?6)) ORDER BY g.last_seen DESC, g.gid DESC LIMIT ?7");
	json_t *a = json_array();
	int64_t last_ls = 0, last_gid = 0;
	size_t n = 0;
	int rc;

	json_object_set_new(out, "alerts", a);
	if (!s)
		return -EIO;
	bind_alert_filter(s, f);
	if (cur_gid > 0) {
		sqlite3_bind_int64(s, 5, cur_ls);
		sqlite3_bind_int64(s, 6, cur_gid);
	}
	sqlite3_bind_int64(s, 7, (int64_t)limit + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == limit) {
			char next[48];

			snprintf(next, sizeof(next), "%lld:%lld", (long long)last_ls,
				 (long long)last_gid);
			json_object_set_new(out, "next", json_string(next));
			return 0;
		}
		json_array_append_new(a, group_json(s, false));
		last_ls = sqlite3_column_int64(s, 13);
		last_gid = sqlite3_column_int64(s, 14);
		n++;
	}
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int alerts_counts(struct store_backend *be, const struct store_alert_filter *f, json_t *out)
{
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl,
		     "SELECT g.level, count(*), coalesce(sum(g.count), 0)" GROUP_FROM GROUP_FILTER
		     " GROUP BY g.level ORDER BY g.level DESC");
	json_t *by = json_object();
	int64_t groups = 0, alerts = 0;
	int rc;

	json_object_set_new(out, "by_severity", by);
	if (!s)
		return -EIO;
	bind_alert_filter(s, f);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = alert_level_name(sqlite3_column_int(s, 0));

		if (name)
			json_object_set_new(by, name, json_integer(sqlite3_column_int64(s, 1)));
		groups += sqlite3_column_int64(s, 1);
		alerts += sqlite3_column_int64(s, 2);
	}
	json_object_set_new(out, "total", json_integer(groups));
	json_object_set_new(out, "count", json_integer(alerts));
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The fleet view: one row per rule across hosts. */
static int alerts_fleet(struct store_backend *be, const struct store_alert_filter *f, json_t *out)
{
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->ctl, "SELECT g.rule_id, max(g.title), max(g.level), count(DISTINCT g.host),"
			  " count(*), sum(g.count), max(g.last_seen), max(g.techniques)" GROUP_FROM
				  GROUP_FILTER " GROUP BY g.rule_id ORDER BY max(g.last_seen) DESC,"
			  " g.rule_id LIMIT 100");
	json_t *a = json_array();
	int rc;

	json_object_set_new(out, "fleet", a);
	if (!s)
		return -EIO;
	bind_alert_filter(s, f);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *r = json_object();

		json_object_set_new(r, "rule_id", text_or_null(s, 0));
		json_object_set_new(r, "title", text_or_null(s, 1));
		json_object_set_new(r, "severity", level_json(sqlite3_column_int(s, 2)));
		json_object_set_new(r, "hosts", json_integer(sqlite3_column_int64(s, 3)));
		json_object_set_new(r, "groups", json_integer(sqlite3_column_int64(s, 4)));
		json_object_set_new(r, "count", json_integer(sqlite3_column_int64(s, 5)));
		json_object_set_new(r, "last_seen", time_ns_json(sqlite3_column_int64(s, 6)));
		json_object_set_new(r, "techniques", json_text_col(s, 7, json_array()));
		json_array_append_new(a, r);
	}
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_alerts_list(struct store_backend *be, const struct store_alert_filter *f,
			  struct json_t **out)
{
	size_t limit = f && f->limit ? f->limit : STORE_ALERTS_LIMIT_DEFAULT;
	int64_t cur_ls = 0, cur_gid = 0;
	json_t *o;
	int r;

	if (limit > STORE_ALERTS_LIMIT_MAX)
		limit = STORE_ALERTS_LIMIT_MAX;
	if (f && f->cursor && parse_cursor(f->cursor, &cur_ls, &cur_gid) < 0)
		return -EINVAL;
	CTL_LOCKED(be);
	if (exec(&be->ctl, "BEGIN") < 0) /* one snapshot for the three reads */
		return -EIO;
	o = json_object();
	r = alerts_page(be, f, cur_ls, cur_gid, limit, o);
	if (r >= 0)
		r = alerts_counts(be, f, o);
	if (r >= 0)
		r = alerts_fleet(be, f, o);
	if (r >= 0 && !json_object_get(o, "next"))
		json_object_set_new(o, "next", json_null());
	r = ctl_end(be, r);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*out = o;
	return 0;
}

/* Binds id (32 lowercase hex characters, the form of every id the store hands out) to ?1
 * of s and steps it: 0 when a row is there, -ENOENT (no row, or not such an id) or -EIO. */
static int step_by_id(sqlite3_stmt *s, const char *id)
{
	if (!valid_host_id(id))
		return -ENOENT;
	if (!s)
		return -EIO;
	bind_text(s, 1, id);
	int rc = sqlite3_step(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int sq_alert_get(struct store_backend *be, const char *id, struct json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT " GROUP_COLS GROUP_FROM " WHERE g.id = ?1");
	int r = step_by_id(s, id);

	if (r < 0)
		return r;
	*out = group_json(s, true);
	return 0;
}

static int sq_alert_put(struct store_backend *be, const char *host_id, const void *json, size_t len,
			int64_t now)
{
	struct alert_summary a;
	int64_t hid = 0;
	bool grouped;
	int r;

	if (alert_parse(json, len, &a) < 0)
		return -EBADMSG;
	CTL_LOCKED(be);
	if (ctl_begin(be) < 0) {
		alert_summary_free(&a);
		return -EIO;
	}
	r = host_id ? ctl_hid(be, host_id, &hid) : 0;
	if (r >= 0)
		r = alert_apply(&be->ctl, hid, &a, now, &grouped);
	alert_summary_free(&a);
	return ctl_end(be, r);
}

/* {host, updated, <key>: value} from table's row for host id. */
static int host_latest(struct store_backend *be, const char *id, const char *sql, const char *key,
		       json_t **out)
{
	CTL_LOCKED(be);
	json_t *o = NULL;
	int64_t hid;
	int r, rc;

	if (exec(&be->ctl, "BEGIN") < 0)
		return -EIO;
	r = ctl_hid(be, id, &hid);
	if (r < 0)
		return ctl_end(be, r);
	{
		_cleanup_reset_ sqlite3_stmt *s = stmt(&be->ctl, sql);

		if (!s)
			return ctl_end(be, -EIO);
		sqlite3_bind_int64(s, 1, hid);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			o = json_pack("{s:s,s:o,s:o}", "host", id, "updated",
				      time_ns_json(sqlite3_column_int64(s, 0) * 1000000000), key,
				      json_text_col(s, 1, json_null()));
			r = 0;
		} else {
			r = rc == SQLITE_DONE ? -ENODATA : -EIO;
		}
	}
	r = ctl_end(be, r);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*out = o;
	return 0;
}

static int sq_host_baseline(struct store_backend *be, const char *id, struct json_t **out)
{
	return host_latest(be, id, "SELECT updated, summary FROM baselines WHERE host = ?1",
			   "summary", out);
}

static int sq_host_sensors(struct store_backend *be, const char *id, struct json_t **out)
{
	return host_latest(be, id, "SELECT updated, sensors FROM sensor_health WHERE host = ?1",
			   "sensors", out);
}

/* ---- response actions ---- */

static int sq_action_add(struct store_backend *be, const struct store_action_new *a)
{
	CTL_LOCKED(be);
	int64_t hid;
	int r;

	if (!a->uid || !a->kind || !a->op || !a->mode || !a->state || !a->origin)
		return -EINVAL;
	if (ctl_begin(be) < 0)
		return -EIO;
	r = ctl_hid(be, a->host_id, &hid);
	if (r >= 0) {
		_cleanup_reset_ sqlite3_stmt *s = stmt(
			&be->ctl,
			"INSERT INTO actions(uid, host, kind, op, params, mode, state, origin,"
			" trigger_json, requested_by, message, created_ns, sent_ns) VALUES(?1, ?2,"
			" ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, CASE WHEN ?7 = 'sent' THEN ?12"
			" ELSE 0 END)");

		if (!s)
			return ctl_end(be, -EIO);
		bind_text(s, 1, a->uid);
		sqlite3_bind_int64(s, 2, hid);
		bind_text(s, 3, a->kind);
		bind_text(s, 4, a->op);
		bind_text(s, 5, a->params_json ? a->params_json : "{}");
		bind_text(s, 6, a->mode);
		bind_text(s, 7, a->state);
		bind_text(s, 8, a->origin);
		bind_text(s, 9, a->trigger_json);
		bind_text(s, 10, a->requested_by);
		bind_text(s, 11, a->message);
		sqlite3_bind_int64(s, 12, a->created_ns);
		r = step_done(s);
	}
	return ctl_end(be, r);
}

#define ACTION_COLS                                                                                \
	"a.uid, h.id, h.hostname, a.kind, a.op, a.params, a.mode, a.state, a.origin,"              \
	" a.trigger_json, a.requested_by, a.approved_by, a.created_ns, a.sent_ns,"                 \
	" a.finished_ns, a.message, a.detail"
#define ACTION_FROM " FROM actions a JOIN hosts h ON h.hid = a.host"

static json_t *ns_or_null(int64_t ns)
{
	return ns > 0 ? time_ns_json(ns) : json_null();
}

static json_t *action_json(sqlite3_stmt *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "uid", text_or_null(s, 0));
	json_object_set_new(o, "host", text_or_null(s, 1));
	json_object_set_new(o, "hostname", text_or_null(s, 2));
	json_object_set_new(o, "kind", text_or_null(s, 3));
	json_object_set_new(o, "op", text_or_null(s, 4));
	json_object_set_new(o, "params", json_text_col(s, 5, json_object()));
	json_object_set_new(o, "mode", text_or_null(s, 6));
	json_object_set_new(o, "state", text_or_null(s, 7));
	json_object_set_new(o, "origin", text_or_null(s, 8));
	json_object_set_new(o, "trigger", json_text_col(s, 9, json_null()));
	json_object_set_new(o, "requested_by", text_or_null(s, 10));
	json_object_set_new(o, "approved_by", text_or_null(s, 11));
	json_object_set_new(o, "created", ns_or_null(sqlite3_column_int64(s, 12)));
	json_object_set_new(o, "sent", ns_or_null(sqlite3_column_int64(s, 13)));
	json_object_set_new(o, "finished", ns_or_null(sqlite3_column_int64(s, 14)));
	json_object_set_new(o, "message", text_or_null(s, 15));
	json_object_set_new(o, "detail", json_text_col(s, 16, json_null()));
	return o;
}

static int sq_action_get(struct store_backend *be, const char *uid, struct json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT " ACTION_COLS ACTION_FROM " WHERE a.uid = ?1");
	int r = step_by_id(s, uid);

	if (r < 0)
		return r;
	*out = action_json(s);
	return 0;
}

static int sq_actions_list(struct store_backend *be, const struct store_action_filter *f,
			   struct json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl,
		     "SELECT " ACTION_COLS ACTION_FROM
		     " WHERE a.created_ns >= ?1 AND (?2 IS NULL OR h.id = ?2 OR h.hostname = ?2)"
		     " AND (?3 IS NULL OR a.state = ?3)"
		     " ORDER BY a.created_ns DESC, a.uid DESC LIMIT ?4");
	size_t limit = f && f->limit ? f->limit : STORE_ACTIONS_LIMIT_DEFAULT;
	json_t *arr, *o;
	int rc;

	if (!s)
		return -EIO;
	if (limit > STORE_ACTIONS_LIMIT_MAX)
		limit = STORE_ACTIONS_LIMIT_MAX;
	sqlite3_bind_int64(s, 1, f && f->since_ns > 0 ? f->since_ns : 0);
	bind_text(s, 2, f ? f->host : NULL);
	bind_text(s, 3, f ? f->state : NULL);
	sqlite3_bind_int64(s, 4, (int64_t)limit);
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, action_json(s));
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	o = json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(arr), "actions", arr);
	*out = o;
	return 0;
}

static int action_update_tx(struct store_backend *be, const char *uid, const char *const *from,
			    const char *to, const char *approved_by, const char *message,
			    int64_t now_ns)
{
	_cleanup_free_ char *state = NULL;
	bool ok = false;
	int rc;

	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->ctl, "SELECT state FROM actions WHERE uid = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, uid);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			return rc == SQLITE_DONE ? -ENOENT : -EIO;
		state = col_strdup(s, 0);
	}
	for (size_t i = 0; from && from[i]; i++)
		if (state && !strcmp(state, from[i]))
			ok = true;
	if (!ok)
		return -EBUSY;
	{
		_cleanup_reset_ sqlite3_stmt *s = stmt(
			&be->ctl,
			"UPDATE actions SET state = ?2, approved_by = coalesce(?3, approved_by),"
			" message = coalesce(?4, message),"
			" sent_ns = CASE WHEN ?2 = 'sent' THEN ?5 ELSE sent_ns END,"
			" finished_ns = CASE WHEN ?6 AND state != ?2 THEN ?5 ELSE finished_ns END"
			" WHERE uid = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, uid);
		bind_text(s, 2, to);
		bind_text(s, 3, approved_by);
		bind_text(s, 4, message);
		sqlite3_bind_int64(s, 5, now_ns);
		sqlite3_bind_int(s, 6, action_state_final(to));
		return step_done(s);
	}
}

static int sq_action_update(struct store_backend *be, const char *uid, const char *const *from,
			    const char *to, const char *approved_by, const char *message,
			    int64_t now_ns)
{
	CTL_LOCKED(be);

	if (!uid || !to)
		return -EINVAL;
	if (ctl_begin(be) < 0)
		return -EIO;
	return ctl_end(be, action_update_tx(be, uid, from, to, approved_by, message, now_ns));
}

static int64_t sq_actions_expire(struct store_backend *be, int64_t before_ns, int64_t now_ns)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "UPDATE actions SET state = 'expired', finished_ns = ?2, message ="
			       " 'not approved in time' WHERE state = 'pending_approval' AND"
			       " created_ns < ?1");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, before_ns);
	sqlite3_bind_int64(s, 2, now_ns);
	if (step_done(s) < 0)
		return -EIO;
	return sqlite3_changes(be->ctl.db);
}

/* ---- recorded sessions (docs/sessions.md) ---- */

/* A RECORD_SESSION part from host hid: the session's row (made by whichever part comes
 * first), the part, its bytes, and the facts row (part -1: {"uid", "pid", "exit"}). A
 * session id that belongs to another host is refused. Returns 0 or -EIO. */
static int session_part_apply(struct store_backend *be, int64_t hid, const struct store_record *rec,
			      const struct ingest_session_part *sp, struct store_ingest_counts *c)
{
	int64_t row_host = 0;
	int rc;

	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr, "SELECT host FROM sessions WHERE id = ?1");

		if (!s)
			return -EIO;
		bind_text(s, 1, sp->session);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			row_host = sqlite3_column_int64(s, 0);
		else if (rc != SQLITE_DONE)
			return -EIO;
	}
	if (row_host && row_host != hid) {
		c->unparsed++;
		return 0;
	}
	if (sp->part == 0) {
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr,
			     "INSERT INTO sessions(id, host, identity, account, command, "
			     "started_ns, width,"
			     " height) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO "
			     "UPDATE SET"
			     " identity = excluded.identity, account = excluded.account, command ="
			     " excluded.command, started_ns = excluded.started_ns, width = "
			     "excluded.width,"
			     " height = excluded.height");
		_cleanup_reset_ sqlite3_stmt *f =
			stmt(&be->wr,
			     "INSERT INTO session_parts(session, part, data) VALUES(?1, -1,"
			     " json_object('uid', ?2, 'pid', ?3, 'verified', json(?4), 'exit',"
			     " NULL)) ON CONFLICT(session, part) DO UPDATE SET data ="
			     " json_set(data, '$.uid', ?2, '$.pid', ?3, '$.verified', json(?4))");

		if (!s || !f)
			return -EIO;
		bind_text(s, 1, sp->session);
		sqlite3_bind_int64(s, 2, hid);
		bind_text(s, 3, sp->identity);
		bind_text(s, 4, sp->account);
		bind_text(s, 5, sp->command);
		sqlite3_bind_int64(s, 6, sp->started_ns ? sp->started_ns : rec->time_ns);
		sqlite3_bind_int64(s, 7, sp->width);
		sqlite3_bind_int64(s, 8, sp->height);
		bind_text(f, 1, sp->session);
		sqlite3_bind_int64(f, 2, sp->uid);
		sqlite3_bind_int64(f, 3, sp->pid);
		bind_text(f, 4, sp->identity_verified ? "true" : "false");
		if (step_done(s) < 0 || step_done(f) < 0)
			return -EIO;
	} else if (!row_host) {
		/* a later part before the first: the row waits for its facts */
		_cleanup_reset_ sqlite3_stmt *s = stmt(
			&be->wr, "INSERT INTO sessions(id, host, started_ns) VALUES(?1, ?2, ?3)");

		if (!s)
			return -EIO;
		bind_text(s, 1, sp->session);
		sqlite3_bind_int64(s, 2, hid);
		sqlite3_bind_int64(s, 3, rec->time_ns > 0 ? rec->time_ns : 0);
		if (step_done(s) < 0)
			return -EIO;
	}
	{
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr, "INSERT OR IGNORE INTO session_parts(session, part, data)"
				      " VALUES(?1, ?2, ?3)");
		_cleanup_reset_ sqlite3_stmt *u =
			stmt(&be->wr, "UPDATE sessions SET bytes = bytes + ?2 WHERE id = ?1");

		if (!s || !u)
			return -EIO;
		bind_text(s, 1, sp->session);
		sqlite3_bind_int64(s, 2, sp->part);
		sqlite3_bind_blob(s, 3, sp->cast, (int)sp->cast_len, SQLITE_STATIC);
		if (step_done(s) < 0)
			return -EIO;
		bind_text(u, 1, sp->session);
		sqlite3_bind_int64(u, 2, sqlite3_changes(be->wr.db) ? (int64_t)sp->cast_len : 0);
		if (step_done(u) < 0)
			return -EIO;
	}
	if (sp->end) {
		_cleanup_reset_ sqlite3_stmt *s =
			stmt(&be->wr, "UPDATE sessions SET ended_ns = ?2 WHERE id = ?1");
		_cleanup_reset_ sqlite3_stmt *f = stmt(
			&be->wr,
			"INSERT INTO session_parts(session, part, data) VALUES(?1, -1,"
			" json_object('exit', ?2)) ON CONFLICT(session, part) DO UPDATE SET data ="
			" json_set(data, '$.exit', ?2)");

		if (!s || !f)
			return -EIO;
		bind_text(s, 1, sp->session);
		sqlite3_bind_int64(s, 2, sp->ended_ns ? sp->ended_ns : rec->time_ns);
		bind_text(f, 1, sp->session);
		if (sp->exit >= 0)
			sqlite3_bind_int(f, 2, sp->exit);
		if (step_done(s) < 0 || step_done(f) < 0)
			return -EIO;
	}
	return 0;
}

#define SESSION_COLS                                                                               \
	"x.id, h.id, h.hostname, x.identity, x.account, x.command, x.started_ns, x.ended_ns,"      \
	" x.width, x.height, x.bytes, (SELECT data FROM session_parts WHERE session = x.id AND"    \
	" part = -1), (SELECT count(*) FROM session_parts WHERE session = x.id AND part >= 0)"
#define SESSION_FROM " FROM sessions x JOIN hosts h ON h.hid = x.host"

static json_t *session_json(sqlite3_stmt *s)
{
	json_t *o = json_object(), *facts = json_text_col(s, 11, json_object());
	json_t *exit_code = json_object_get(facts, "exit");

	json_object_set_new(o, "id", text_or_null(s, 0));
	json_object_set_new(o, "host", text_or_null(s, 1));
	json_object_set_new(o, "hostname", text_or_null(s, 2));
	json_object_set_new(o, "identity", text_or_null(s, 3));
	json_object_set_new(o, "account", text_or_null(s, 4));
	json_object_set_new(o, "command", text_or_null(s, 5));
	json_object_set_new(o, "started", ns_or_null(sqlite3_column_int64(s, 6)));
	json_object_set_new(o, "ended", ns_or_null(sqlite3_column_int64(s, 7)));
	json_object_set_new(o, "width", json_integer(sqlite3_column_int64(s, 8)));
	json_object_set_new(o, "height", json_integer(sqlite3_column_int64(s, 9)));
	json_object_set_new(o, "bytes", json_integer(sqlite3_column_int64(s, 10)));
	json_object_set_new(o, "parts", json_integer(sqlite3_column_int64(s, 12)));
	json_object_set(o, "exit", json_is_integer(exit_code) ? exit_code : json_null());
	json_object_set_new(o, "identity_verified",
			    json_boolean(json_is_true(json_object_get(facts, "verified"))));
	json_object_set(o, "uid",
			json_is_integer(json_object_get(facts, "uid"))
				? json_object_get(facts, "uid")
				: json_null());
	json_decref(facts);
	return o;
}

static int sq_sessions_list(struct store_backend *be, const struct store_session_filter *f,
			    struct json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl,
		     "SELECT " SESSION_COLS SESSION_FROM
		     " WHERE x.started_ns >= ?1 AND (?2 IS NULL OR h.id = ?2 OR h.hostname = ?2)"
		     " AND (?3 IS NULL OR x.identity = ?3)"
		     " ORDER BY x.started_ns DESC, x.id DESC LIMIT ?4");
	size_t limit = f && f->limit ? f->limit : STORE_SESSIONS_LIMIT_DEFAULT;
	json_t *arr;
	int rc;

	if (!s)
		return -EIO;
	if (limit > STORE_SESSIONS_LIMIT_MAX)
		limit = STORE_SESSIONS_LIMIT_MAX;
	sqlite3_bind_int64(s, 1, f && f->since_ns > 0 ? f->since_ns : 0);
	bind_text(s, 2, f ? f->host : NULL);
	bind_text(s, 3, f ? f->identity : NULL);
	sqlite3_bind_int64(s, 4, (int64_t)limit);
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, session_json(s));
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	*out = json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(arr), "sessions", arr);
	return 0;
}

static int sq_session_get(struct store_backend *be, const char *id, struct json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT " SESSION_COLS SESSION_FROM " WHERE x.id = ?1");
	int r = step_by_id(s, id);

	if (r < 0)
		return r;
	*out = session_json(s);
	return 0;
}

static int sq_session_cast(struct store_backend *be, const char *id, struct buf *out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(&be->ctl, "SELECT 1 FROM sessions WHERE id = ?1");
	_cleanup_reset_ sqlite3_stmt *p =
		stmt(&be->ctl, "SELECT data FROM session_parts WHERE session = ?1 AND part >= 0"
			       " ORDER BY part");
	int r = step_by_id(s, id), rc;

	if (r < 0)
		return r;
	if (!p)
		return -EIO;
	bind_text(p, 1, id);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		r = buf_append(out, sqlite3_column_blob(p, 0), (size_t)sqlite3_column_bytes(p, 0));
		if (r < 0)
			return -EFBIG;
	}
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* ---- access events ---- */

static int sq_access_last_use_grant(struct store_backend *be, const char *grant_id, int64_t *out_ns)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s =
		stmt(&be->ctl, "SELECT coalesce(max(time_ns), 0) FROM access_events"
			       " WHERE grant_id = ?1 AND event = 'login'");

	if (!s)
		return -EIO;
	bind_text(s, 1, grant_id);
	if (sqlite3_step(s) != SQLITE_ROW)
		return -EIO;
	*out_ns = sqlite3_column_int64(s, 0);
	return 0;
}

static int sq_access_usage(struct store_backend *be, json_t **out)
{
	CTL_LOCKED(be);
	_cleanup_reset_ sqlite3_stmt *s = stmt(
		&be->ctl,
		"SELECT e.identity, e.account, h.id, h.hostname, max(e.time_ns), count(*)"
		" FROM access_events e JOIN hosts h ON h.hid = e.host"
		" WHERE e.event = 'login' AND e.identity IS NOT NULL AND e.account IS NOT NULL"
		" GROUP BY e.identity, e.account, e.host ORDER BY e.identity, e.account, h.id");
	json_t *arr = json_array();
	int rc;

	if (!s) {
		json_decref(arr);
		return -EIO;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();

		for (int i = 0; i < 4; i++) {
			static const char *const names[] = { "identity", "account", "host",
							     "hostname" };
			const char *t = (const char *)sqlite3_column_text(s, i);
			json_object_set_new(o, names[i], t ? json_string(t) : json_null());
		}
		json_object_set_new(o, "last_used_ns", json_integer(sqlite3_column_int64(s, 4)));
		json_object_set_new(o, "logins", json_integer(sqlite3_column_int64(s, 5)));
		json_array_append_new(arr, o);
	}
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	*out = arr;
	return 0;
}

const struct store_backend_ops store_sqlite_ops = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.operator_put = sq_operator_put,
	.operator_find = sq_operator_find,
	.operator_set_role = sq_operator_set_role,
	.operator_delete = sq_operator_delete,
	.access_doc_put = sq_access_doc_put,
	.access_doc_get = sq_access_doc_get,
	.access_doc_list = sq_access_doc_list,
	.access_doc_delete = sq_access_doc_delete,
	.access_event_hosts = sq_access_event_hosts,
	.token_add = sq_token_add,
	.token_consume = sq_token_consume,
	.tokens_list = sq_tokens_list,
	.host_enroll = sq_host_enroll,
	.host_set_cert = sq_host_set_cert,
	.host_hello = sq_host_hello,
	.host_touch = sq_host_touch,
	.host_revoke = sq_host_revoke,
	.host_get = sq_host_get,
	.hosts_list = sq_hosts_list,
	.host_inventory = sq_host_inventory,
	.findings = sq_findings,
	.host_streams = sq_host_streams,
	.alerts_list = sq_alerts_list,
	.alert_get = sq_alert_get,
	.alert_put = sq_alert_put,
	.host_baseline = sq_host_baseline,
	.host_sensors = sq_host_sensors,
	.action_add = sq_action_add,
	.action_get = sq_action_get,
	.actions_list = sq_actions_list,
	.action_update = sq_action_update,
	.actions_expire = sq_actions_expire,
	.ingest = sq_ingest,
	.retention_run = sq_retention_run,
	.sessions_list = sq_sessions_list,
	.session_get = sq_session_get,
	.session_cast = sq_session_cast,
	.access_last_use_grant = sq_access_last_use_grant,
	.access_usage = sq_access_usage,
};
