/* The operations a store backend implements (store.c dispatches store_* calls here).
 *
 * Control operations are called with the front end holding no lock: a backend serialises
 * them itself (the SQLite backend holds a mutex around its control connection). ingest is
 * only ever called from the writer thread; it commits the given batches in one transaction
 * or none. */
#pragma once

#include "store/store.h"

#include "lib/buf.h"

struct store_backend;

/* What one ingest transaction did, summed into struct store_stats by the front end. */
struct store_ingest_counts {
	uint64_t records;
	uint64_t duplicates;
	uint64_t unparsed;
	uint64_t alerts_grouped;
	uint64_t alerts_duplicate;
	uint64_t action_results; /* results that created or updated an action */
};

struct store_backend_ops {
	const char *scheme; /* "sqlite" */
	/* Opens the backend at location (the URL after "scheme:"). */
	int (*open)(const char *location, struct store_backend **out);
	void (*close)(struct store_backend *be);
	int (*schema_version)(struct store_backend *be);

	int (*operator_put)(struct store_backend *be, const char *name, const char *role,
			    const unsigned char token_hash[32]);
	int (*operator_find)(struct store_backend *be, const unsigned char token_hash[32],
			     char **name, char **role);
	int (*operator_set_role)(struct store_backend *be, const char *name, const char *role);
	int (*operator_delete)(struct store_backend *be, const char *name);
	int (*access_doc_put)(struct store_backend *be, const char *kind, const char *id,
			      const char *doc, int64_t now_ns);
	int (*access_doc_get)(struct store_backend *be, const char *kind, const char *id,
			      char **doc);
	int (*access_doc_list)(struct store_backend *be, const char *kind, struct json_t **out);
	int (*access_doc_delete)(struct store_backend *be, const char *kind, const char *id);
	int (*access_event_hosts)(struct store_backend *be, const char *identity, const char *event,
				  int64_t *n);
	int (*token_add)(struct store_backend *be, const char *id,
			 const unsigned char secret_hash[32], int64_t expires, int64_t uses_left,
			 const struct store_label *labels, size_t n_labels, int64_t now);
	int (*token_consume)(struct store_backend *be, const char *id,
			     const unsigned char secret_hash[32], int64_t now,
			     struct store_token *out);
	int (*tokens_list)(struct store_backend *be, struct store_token **out, size_t *n);

	int (*host_enroll)(struct store_backend *be, const char *machine_id, const char *hostname,
			   const struct store_label *labels, size_t n_labels,
			   const char *cert_serial, int64_t cert_not_after, int64_t now,
			   char **id_out);
	int (*host_set_cert)(struct store_backend *be, const char *id, const char *cert_serial,
			     int64_t cert_not_after);
	int (*host_hello)(struct store_backend *be, const char *id, const char *hostname,
			  const char *agent_version, const struct store_label *labels,
			  size_t n_labels, int64_t now);
	int (*host_touch)(struct store_backend *be, const char *id, int64_t now);
	int (*host_revoke)(struct store_backend *be, const char *id, int64_t now);
	int (*host_get)(struct store_backend *be, const char *id, struct store_host *out);
	int (*hosts_list)(struct store_backend *be, struct store_host **out, size_t *n);
	int (*host_inventory)(struct store_backend *be, const char *id, struct json_t **out);
	int (*findings)(struct store_backend *be, const struct store_finding_filter *filter,
			struct json_t **out);
	int (*host_streams)(struct store_backend *be, const char *id, struct store_stream out[3]);

	int (*alerts_list)(struct store_backend *be, const struct store_alert_filter *f,
			   struct json_t **out);
	int (*alert_get)(struct store_backend *be, const char *id, struct json_t **out);
	int (*alert_put)(struct store_backend *be, const char *host_id, const void *json,
			 size_t len, int64_t now);
	int (*host_baseline)(struct store_backend *be, const char *id, struct json_t **out);
	int (*host_sensors)(struct store_backend *be, const char *id, struct json_t **out);

	int (*action_add)(struct store_backend *be, const struct store_action_new *a);
	int (*action_get)(struct store_backend *be, const char *uid, struct json_t **out);
	int (*actions_list)(struct store_backend *be, const struct store_action_filter *f,
			    struct json_t **out);
	int (*action_update)(struct store_backend *be, const char *uid, const char *const *from,
			     const char *to, const char *approved_by, const char *message,
			     int64_t now_ns);
	int64_t (*actions_expire)(struct store_backend *be, int64_t before_ns, int64_t now_ns);

	/* Writer thread: stores batches[0..n) in one transaction. Returns 0 with result[i]
	 * (0, -ENOENT for an unknown host, -EINVAL for an unknown stream) and committed[i]
	 * (the stream's committed seq after commit) for each batch, and *counts; or a negative
	 * errno when the transaction failed and was rolled back (nothing stored). */
	int (*ingest)(struct store_backend *be, struct store_batch *const *batches, size_t n,
		      int *result, uint64_t *committed, struct store_ingest_counts *counts);
	/* One transaction of retention: deletes at most chunk STREAM_EVENTS records older
	 * than now - max_age_s, visiting hosts from *cursor (start with 0); sets *cursor to
	 * where to go on, or -1 when every host was visited. on_writer says which thread
	 * calls (which connection to use). Returns the rows deleted or a negative errno. */
	int (*sessions_list)(struct store_backend *be, const struct store_session_filter *f,
			     struct json_t **out);
	int (*session_get)(struct store_backend *be, const char *id, struct json_t **out);
	/* Appends the session's asciicast text to out (capped: -EFBIG past its cap). */
	int (*session_cast)(struct store_backend *be, const char *id, struct buf *out);
	int64_t (*retention_run)(struct store_backend *be, bool on_writer, int64_t max_age_s,
				 int64_t now, size_t chunk, int64_t *cursor);
	/* access events (appended) */
	int (*access_last_use_grant)(struct store_backend *be, const char *grant_id,
				     int64_t *out_ns);
	int (*access_usage)(struct store_backend *be, struct json_t **out);
};

extern const struct store_backend_ops store_sqlite_ops;

/* Tests: creates or migrates the SQLite database at path up to schema version only. */
int store_sqlite_migrate_to(const char *path, int version);

/* Label helpers shared by backends (store.c). */
/* Returns labels merged: base then over (over wins for the same key), sorted by key. */
void store_labels_merge(const struct store_label *base, size_t n_base,
			const struct store_label *over, size_t n_over, struct store_label **out,
			size_t *n_out);
void store_labels_free(struct store_label *l, size_t n);
/* Labels as a JSON object text {"k":"v"} (caller frees) and back; -EBADMSG on bad text. */
char *store_labels_to_json(const struct store_label *l, size_t n);
int store_labels_from_json(const char *text, struct store_label **out, size_t *n);
