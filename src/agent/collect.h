/* The collector role (docs/agent.md): inventory, change detection and compliance scans.
 *
 * Change detection: each inventory table is serialized as compact JSON with sorted keys,
 * {"table": NAME, "rows": [...]}, so equal data gives equal bytes; a table is spooled
 * (RECORD_INVENTORY_TABLE on STREAM_STATE) when the SHA-256 of those bytes differs from the
 * digest last spooled, and a table spooled before that no longer exists is announced with
 * RECORD_INVENTORY_GONE. The digests and the time of the last scan live in
 * STATE/inventory.state, so a restart does not resend what did not change.
 *
 * The collection (about a second on a real host) runs in a worker thread; results come back
 * through a queue: collector_take() on the owner's loop after the notify callback fired. */
#pragma once

#include "agent/agent_msg.h"
#include "inventory/inventory.h"

#include <jansson.h>

/* ---- change detection (pure; used by the worker, tested directly) ---- */

struct collect_state {
	json_t *tables;	   /* object: table name -> hex SHA-256 of the last spooled form */
	int64_t last_scan; /* Unix seconds of the last scan spooled, 0: never */
};

/* Loads path into st; a missing file gives an empty state. Returns 0, or -EBADMSG for an
 * unreadable file (st is then empty, so everything is sent again). */
int collect_state_load(const char *path, struct collect_state *st);
/* Serializes st (caller frees). */
char *collect_state_dump(const struct collect_state *st);
/* Writes a serialized state atomically. */
int collect_state_save(const char *path, const char *dump);
void collect_state_free(struct collect_state *st);

/* Serializes one table as spooled: {"table": name, "rows": rows}, compact, keys sorted. */
char *collect_table_json(const char *name, const json_t *rows);
/* Compares inv with st: appends a RECORD_INVENTORY_TABLE for each changed or new table and a
 * RECORD_INVENTORY_GONE for each table of st missing from inv, and updates st. Counters
 * that move on a live host (fs.file-nr, the walk's timing...) are left out of the
 * comparison. Returns the number of records appended; *significant (may be NULL) counts
 * those that should trigger a scan (not the process list or the walk statistics). */
size_t collect_diff(struct collect_state *st, const struct inventory *inv, int64_t time_ns,
		    struct agent_records *out, size_t *significant);

/* ---- the worker ---- */

struct collector_options {
	const char *root;	       /* directory collected ("/" on a host) */
	const char *state_path;	       /* inventory.state */
	uint32_t scan_interval_s;      /* scan at least this often */
	const struct inv_options *inv; /* NULL: defaults */
};

/* What the worker sends back. */
struct collect_result {
	struct agent_records records; /* to spool on STREAM_STATE, in order */
	char *state_dump; /* to save (collect_state_save) once the records are spooled */
	size_t tables_changed;
	bool scanned;
	int error; /* 0, or why the collection or the scan failed (message says where) */
	char message[512];
	double elapsed_ms;
};
void collect_result_free(struct collect_result *r);

struct collector;
/* Called from the worker thread each time a result is queued. */
typedef void (*collector_notify_fn)(void *arg);

/* Loads the state and starts the worker. Returns 0 or a negative errno. */
int collector_start(const struct collector_options *o, collector_notify_fn notify, void *arg,
		    struct collector **out);
/* Asks for a collection with catalog (a directory or file; copied) for the scan; force_scan
 * scans even when nothing changed and the interval has not passed. Requests made while one
 * runs are merged into the next run. */
void collector_request(struct collector *c, const char *catalog, bool force_scan);
void collector_set_scan_interval(struct collector *c, uint32_t seconds);
/* Forgets what was spooled: the next collection sends every table and scans. */
void collector_forget(struct collector *c);
/* Returns the next queued result (caller frees with collect_result_free), or NULL. */
struct collect_result *collector_take(struct collector *c);
/* Stops the worker (waiting for a collection in progress) and frees everything. */
void collector_stop(struct collector *c);
