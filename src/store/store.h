/* The server's storage interface (DESIGN.md "Storage and scale").
 *
 * A store is opened from a URL naming its backend: "sqlite:PATH" (the embedded default, a
 * file in the server's data directory). Later backends (PostgreSQL) implement the same
 * operations through struct store_backend_ops in store_backend.h.
 *
 * Two paths:
 *  - control operations (tokens, hosts, queries) are synchronous and may be called from the
 *    server's event loop thread; each is one transaction;
 *  - ingest is asynchronous: store_ingest_submit() queues a batch for the writer thread,
 *    which commits many batches per transaction and then calls the batch's done callback
 *    (on the writer thread) with the stream's committed sequence number. De-duplication is
 *    by (host, stream, seq): records at or below the stream's committed number are skipped,
 *    inside the same transaction that advances it, so each record is stored exactly once.
 *
 * Every function returns 0 or a negative errno; -ENOENT when the object does not exist,
 * -EIO when the backend failed (the backend logs nothing; the caller logs once). Strings
 * returned in structs are owned by the struct; free with the matching _free function. */
#pragma once

#include "lib/common.h"

struct store;
struct json_t;

/* Opens (creating and migrating as needed) the store at url. */
int store_open(const char *url, struct store **out);
/* Stops the writer after committing everything queued, then closes. Accepts NULL. */
void store_close(struct store *st);
/* The schema version after migrations. */
int store_schema_version(struct store *st);

/* ---- access documents (docs/access.md): identities, groups, policy files, requests,
 * grants and issued certificates, each a JSON object text stored under (kind, id) ---- */
int store_access_doc_put(struct store *st, const char *kind, const char *id, const char *doc,
			 int64_t now_ns);
/* 0 with *doc (caller frees), or -ENOENT. */
int store_access_doc_get(struct store *st, const char *kind, const char *id, char **doc);
/* Every document of kind as a JSON array of objects, by id (caller decrefs). */
int store_access_doc_list(struct store *st, const char *kind, struct json_t **out);
/* 0, or -ENOENT when there was none. */
int store_access_doc_delete(struct store *st, const char *kind, const char *id);
/* How many hosts reported the access event (access_events.event, e.g. "revoked") for
 * identity: 0 with *n. */
int store_access_event_hosts(struct store *st, const char *identity, const char *event, int64_t *n);

/* ---- operators (API credentials of identities, with their role: "admin", "approver",
 * "auditor", "viewer" or "" for none; docs/access.md) ---- */
/* Sets name's one token (replacing any other) and role. */
int store_operator_put(struct store *st, const char *name, const char *role,
		       const unsigned char token_hash[32]);
/* Returns 0 with *name and, when role is not NULL, *role (caller frees both) when token_hash
 * belongs to an operator, else -ENOENT. */
int store_operator_find(struct store *st, const unsigned char token_hash[32], char **name,
			char **role);
/* Changes the role of name's token: 0 or -ENOENT (no token). */
int store_operator_set_role(struct store *st, const char *name, const char *role);
/* Deletes name's token (it can no longer call the API): 0 or -ENOENT. */
int store_operator_delete(struct store *st, const char *name);

/* ---- join tokens ---- */
struct store_label {
	char *key;
	char *value;
};

struct store_token {
	char *id;
	int64_t created; /* Unix seconds */
	int64_t expires;
	int64_t uses_left; /* -1: unlimited */
	int64_t uses;	   /* enrollments so far */
	struct store_label *labels;
	size_t n_labels;
};

int store_token_add(struct store *st, const char *id, const unsigned char secret_hash[32],
		    int64_t expires, int64_t uses_left, const struct store_label *labels,
		    size_t n_labels);
/* Atomically checks and uses one enrollment of token id at time now. Returns 0 with *out
 * (the token's labels; caller frees with store_token_free), -ENOENT (no such token or the
 * secret hash differs), -EKEYEXPIRED (expired), -EUSERS (no uses left). */
int store_token_consume(struct store *st, const char *id, const unsigned char secret_hash[32],
			int64_t now, struct store_token *out);
int store_tokens_list(struct store *st, struct store_token **out, size_t *n);
void store_token_free(struct store_token *t);
void store_tokens_free(struct store_token *t, size_t n);

/* ---- hosts ---- */
struct store_host {
	char *id; /* 32 lowercase hex characters */
	char *hostname;
	char *machine_id;
	char *os; /* "Debian GNU/Linux 12 (bookworm)" from the latest inventory */
	char *agent_version;
	char *cert_serial; /* the only certificate serial accepted for this host */
	int64_t cert_not_after;
	int64_t enrolled_at;
	int64_t last_seen; /* 0: never connected */
	bool revoked;
	struct store_label *labels; /* token labels then agent labels, key order, unique keys */
	size_t n_labels;
	double score;	       /* posture score of the latest scan; NAN without one */
	int64_t checks_failed; /* in the latest scan */
	int64_t scanned_at;    /* 0: no scan yet */
};

/* Enrolls a machine: the non-revoked host with this machine_id keeps its id (its hostname,
 * labels and certificate are replaced), otherwise a new host is created. *id_out (caller
 * frees) is its id. */
int store_host_enroll(struct store *st, const char *machine_id, const char *hostname,
		      const struct store_label *labels, size_t n_labels, const char *cert_serial,
		      int64_t cert_not_after, int64_t now, char **id_out);
/* Records a renewed certificate: from then on only that serial is accepted. */
int store_host_set_cert(struct store *st, const char *id, const char *cert_serial,
			int64_t cert_not_after);
/* Updates what a Hello says (hostname, agent version, agent labels merged over the
 * token's) and last_seen. */
int store_host_hello(struct store *st, const char *id, const char *hostname,
		     const char *agent_version, const struct store_label *labels, size_t n_labels,
		     int64_t now);
int store_host_touch(struct store *st, const char *id, int64_t now);
/* Marks the host revoked (it can neither connect nor renew). -ENOENT if unknown. */
int store_host_revoke(struct store *st, const char *id, int64_t now);
int store_host_get(struct store *st, const char *id, struct store_host *out);
int store_hosts_list(struct store *st, struct store_host **out, size_t *n);
void store_host_free(struct store_host *h);
void store_hosts_free(struct store_host *h, size_t n);

/* ---- what the ingest path derived: inventory, findings, streams ---- */
/* The host's latest inventory: a JSON object {table: [rows...]} (caller decrefs). */
int store_host_inventory(struct store *st, const char *id, struct json_t **out);

struct store_finding_filter {
	const char *host;      /* NULL: every host */
	const char *framework; /* NULL: any; else only checks mapped to it */
	const char *status;    /* NULL: fail and error; "all"; or one status */
};

/* Results of each host's latest scan as a JSON array of objects {host, hostname, id,
 * title, section, severity, status, message, mappings, evidence, scanned_at}, sorted by
 * host then check id (caller decrefs). */
int store_findings(struct store *st, const struct store_finding_filter *filter,
		   struct json_t **out);

struct store_stream {
	uint32_t stream;
	uint64_t committed_seq; /* 0: nothing yet */
	uint64_t records;	/* records stored */
	uint64_t gaps;		/* gap records received */
	uint64_t dropped;	/* records the gaps account for */
};

/* The host's three streams (STREAM_EVENTS, _STATE, _ALERTS), in that order. */
int store_host_streams(struct store *st, const char *id, struct store_stream out[3]);

/* ---- ingest ---- */
struct store_record {
	uint64_t seq;
	uint32_t kind; /* Immune__V1__RecordKind */
	int64_t time_ns;
	uint32_t encoding;	/* Immune__V1__Encoding of payload */
	unsigned char *payload; /* owned by the batch */
	size_t len;
};

#define STORE_BATCH_NEW_ALERTS 64   /* new alerts a batch hands to response, at most */
#define STORE_BATCH_NEW_FAILING 256 /* newly failing checks a batch hands over, at most */

/* A check of a host's scan that fails now and did not fail in the host's previous findings
 * (or had no previous status), and has a typed fix. */
struct store_failing_check {
	char *check_id;
	char *severity; /* "low".."critical", or NULL when the scan gave none */
	char *fix_json; /* the fix object, compact JSON */
};
void store_failing_checks_free(struct store_failing_check *v, size_t n);

struct store_batch;
typedef void (*store_batch_done_fn)(struct store_batch *b, int result, uint64_t committed_seq,
				    void *userdata);

struct store_batch {
	char host_id[33];
	uint32_t stream;
	struct store_record *records; /* increasing seq */
	size_t n;
	size_t bytes;		  /* payload bytes, for the queue's budget */
	store_batch_done_fn done; /* called once, on the writer thread, after commit */
	void *userdata;
	/* Set by the store before done: the JSON of each alert this batch stored for the first
	 * time (at most STORE_BATCH_NEW_ALERTS, NULL-terminated, or NULL). done may take it
	 * (set it to NULL); store_batch_free frees what is left. */
	char **new_alerts;
	size_t n_new_alerts;
	/* Likewise the checks a scan of this batch found newly failing, each with a fix (at most
	 * STORE_BATCH_NEW_FAILING); done may take them; store_batch_free frees what is left. */
	struct store_failing_check *new_failing;
	size_t n_new_failing;
	struct store_batch *next; /* queue link, owned by the store while queued */
};

/* Allocates a batch with room for n records (records' payloads are copied in by the caller
 * with store_batch_set()). */
struct store_batch *store_batch_new(const char *host_id, uint32_t stream, size_t n);
/* Copies one record in at index i. */
void store_batch_set(struct store_batch *b, size_t i, uint64_t seq, uint32_t kind, int64_t time_ns,
		     uint32_t encoding, const void *payload, size_t len);
void store_batch_free(struct store_batch *b);

/* Queues b (ownership passes to the store, which frees it after calling done). Never
 * blocks. Returns 0, or -ESHUTDOWN when the store is closing. */
int store_ingest_submit(struct store *st, struct store_batch *b);
/* Payload bytes queued and not yet committed (the server stops reading agents above its
 * limit). Thread-safe. */
size_t store_ingest_queued_bytes(struct store *st);

struct store_stats {
	uint64_t batches;
	uint64_t records;    /* stored */
	uint64_t duplicates; /* skipped as already stored */
	uint64_t transactions;
	uint64_t retention_deleted;
	uint64_t records_unparsed; /* stored but their payload could not be parsed */
	uint64_t alerts_grouped;   /* alerts that joined an existing group */
	uint64_t alerts_duplicate; /* alerts whose uid was already stored (skipped) */
	uint64_t action_results;   /* action results that created or updated an action */
};
void store_get_stats(struct store *st, struct store_stats *out);

/* ---- detection: events, alerts, baselines, sensor health (docs/alerts.md) ---- */
/* Alerts of the same host, rule and group key whose times lie within this of the group's
 * first alert join that group (count, first/last seen, newest evidence) instead of making a
 * new one. */
#define STORE_ALERT_WINDOW_NS (3600LL * 1000000000)
#define STORE_ALERT_EVIDENCE_MAX 16		 /* evidence events kept per group */
#define STORE_ALERT_EVIDENCE_BYTES (256u * 1024) /* and at most this much of their JSON */
#define STORE_ALERTS_LIMIT_DEFAULT 100
#define STORE_ALERTS_LIMIT_MAX 1000

struct store_alert_filter {
	int64_t since_ns;   /* 0: any; else groups whose last alert is at or after it */
	int min_level;	    /* 0: any; else 1 (informational) .. 5 (critical) and above */
	const char *host;   /* NULL: every host; a host id or hostname */
	const char *rule;   /* NULL: any rule; else a rule id */
	size_t limit;	    /* 0: STORE_ALERTS_LIMIT_DEFAULT; capped at STORE_ALERTS_LIMIT_MAX */
	const char *cursor; /* NULL: from the newest; else "next" from the previous page */
};

/* Alert groups, newest first, as the JSON object of GET /v1/alerts (docs/api.md): {alerts,
 * total, count, by_severity, fleet, next}. Returns 0 (caller decrefs), or -EINVAL for a
 * cursor that does not parse. */
int store_alerts_list(struct store *st, const struct store_alert_filter *f, struct json_t **out);
/* One alert group with its evidence and latest finding (caller decrefs), or -ENOENT. */
int store_alert_get(struct store *st, const char *id, struct json_t **out);
/* Stores an alert the server raised itself (server-side detection) through the same
 * grouping as ingested ones; host_id NULL for a fleet-wide alert. Returns 0, -EBADMSG when
 * alert_parse refuses it, -EALREADY when its uid was stored before, -ENOENT for an unknown
 * host. */
int store_alert_put(struct store *st, const char *host_id, const void *json, size_t len);
/* The latest baseline summary of a host, {updated, summary} (caller decrefs); -ENOENT for
 * an unknown host, -ENODATA when none was received yet. */
int store_host_baseline(struct store *st, const char *id, struct json_t **out);
/* The latest sensor health of a host, {updated, sensors: [...]} (caller decrefs); -ENOENT
 * for an unknown host, -ENODATA when none was received yet. */
int store_host_sensors(struct store *st, const char *id, struct json_t **out);

/* ---- response actions (docs/response.md) ---- */
#define STORE_ACTIONS_LIMIT_DEFAULT 100
#define STORE_ACTIONS_LIMIT_MAX 1000

/* A new action row. Strings are borrowed; params_json and trigger_json are JSON object texts
 * (trigger_json may be NULL). */
struct store_action_new {
	const char *uid;     /* ACTION_UID_LEN lowercase hex characters */
	const char *host_id; /* an enrolled host */
	const char *kind;    /* "block-address" ... */
	const char *op;	     /* "apply", "verify", "rollback" */
	const char *params_json;
	const char *mode;  /* "auto", "approve", "notify", "manual" */
	const char *state; /* "pending_approval", "sent", "notified", "failed", ... */
	const char *origin;
	const char *trigger_json;
	const char *requested_by; /* the operator's name, or "playbook ID" */
	const char *message;	  /* NULL: none */
	int64_t created_ns;
};

/* Stores a new action. Returns 0, -EEXIST (the uid is taken), -ENOENT (unknown host). */
int store_action_add(struct store *st, const struct store_action_new *a);
/* The action as the JSON object of GET /v1/actions/UID "action" (docs/api.md): {uid, host,
 * hostname, kind, op, params, mode, state, origin, trigger, requested_by, approved_by,
 * created, sent, finished, message, detail} (caller decrefs), or -ENOENT. */
int store_action_get(struct store *st, const char *uid, struct json_t **out);

struct store_action_filter {
	const char *host;  /* NULL: every host; a host id or hostname */
	const char *state; /* NULL: any state */
	int64_t since_ns;  /* 0: any; else created at or after it */
	size_t limit;	   /* 0: STORE_ACTIONS_LIMIT_DEFAULT; capped at STORE_ACTIONS_LIMIT_MAX */
};

/* Actions, newest first, as {actions: [...], count} (caller decrefs). */
int store_actions_list(struct store *st, const struct store_action_filter *f, struct json_t **out);

/* Moves action uid to state to when its state is one of from (NULL-terminated). Sets
 * approved_by when not NULL, message when not NULL, sent when to is "sent" and finished
 * when to is a final state, at now_ns. Returns 0, -ENOENT (no such action) or -EBUSY (its
 * state is not one of from; nothing changes). */
int store_action_update(struct store *st, const char *uid, const char *const *from, const char *to,
			const char *approved_by, const char *message, int64_t now_ns);

/* Moves every action pending approval that was created before before_ns to expired at
 * now_ns. Returns the number of actions expired (>= 0) or a negative errno. */
int64_t store_actions_expire(struct store *st, int64_t before_ns, int64_t now_ns);

/* ---- retention ---- */
/* Sets how long telemetry records (STREAM_EVENTS) are kept (default 30 days; 0 keeps them
 * for ever); the writer thread applies it every hour in small deleting transactions. */
void store_retention_set(struct store *st, int64_t max_age_s);
/* Applies the retention now. Returns the number of records deleted (>= 0) or an errno. */
int64_t store_retention_run(struct store *st, int64_t now);

/* ---- recorded sessions (docs/sessions.md): RECORD_SESSION parts, stored by ingest ---- */
#define STORE_SESSIONS_LIMIT_DEFAULT 100
#define STORE_SESSIONS_LIMIT_MAX 1000
#define STORE_SESSION_CAST_MAX (256u * 1024 * 1024) /* bytes of one session's asciicast */

struct store_session_filter {
	const char *host;     /* NULL: every host; a host id or hostname */
	const char *identity; /* NULL: any identity */
	int64_t since_ns;     /* 0: any; else started at or after it */
	size_t limit;	      /* 0: STORE_SESSIONS_LIMIT_DEFAULT; capped at _MAX */
};

/* Sessions, newest first, as {sessions: [{id, host, hostname, identity, account, command,
 * started, ended, width, height, bytes, parts, exit, uid}], count} (caller decrefs). */
int store_sessions_list(struct store *st, const struct store_session_filter *f,
			struct json_t **out);
/* One session's object as in the list (caller decrefs), or -ENOENT. */
int store_session_get(struct store *st, const char *id, struct json_t **out);
/* The whole asciicast v2 text of a session (its parts in order): 0 with *text (caller
 * frees, NUL-terminated) and *len; -ENOENT; -EFBIG above STORE_SESSION_CAST_MAX. */
int store_session_cast(struct store *st, const char *id, char **text, size_t *len);

/* ---- access events (RECORD_ACCESS_EVENT, docs/access.md "Least privilege") ---- */
/* The time (ns) of the latest "login" event that used grant_id: 0 with *out_ns, which is 0
 * when it was never used. */
int store_access_last_use_grant(struct store *st, const char *grant_id, int64_t *out_ns);
/* The latest logins per (identity, account, host) as a JSON array of objects {identity,
 * account, host, hostname, last_used_ns, logins}, by identity (caller decrefs). */
int store_access_usage(struct store *st, struct json_t **out);
