/* Parsing of the record payloads agents send (the store's ingest path).
 *
 * Payloads come from the network: every function here is bounded and never trusts sizes or
 * shapes. A payload is first decoded (ENCODING_ZSTD is decompressed, at most
 * INGEST_MAX_DECOMPRESSED bytes), then parsed by kind. */
#pragma once

#include "lib/common.h"

#include <jansson.h>

#define INGEST_MAX_DECOMPRESSED (16u * 1024 * 1024)
#define INGEST_MAX_TABLE_NAME 64
#define INGEST_MAX_RESULTS 100000
#define INGEST_MAX_ROWS 1000000

/* Returns 0 with *out and *out_len the plain payload: payload itself for ENCODING_RAW (*owned
 * NULL), else a decompressed copy that *owned holds (caller frees). -EBADMSG when the bytes
 * are not a valid zstd frame, -EMSGSIZE above the cap, -EPROTONOSUPPORT for an unknown
 * encoding. */
int ingest_decode(uint32_t encoding, const void *payload, size_t len, void **owned,
		  const void **out, size_t *out_len);

/* One result of a scan (strings borrowed from the parsed document; NULL when absent). */
struct ingest_finding {
	const char *id;
	const char *title;
	const char *section;
	const char *severity;
	const char *status;
	const char *message;
	json_t *mappings; /* object or NULL (borrowed) */
	json_t *evidence; /* array or NULL (borrowed) */
	json_t *fix;	  /* the check's typed fix: object, or NULL (none, null, not an object) */
};

struct ingest_scan {
	json_t *root;	 /* owns everything below */
	const char *os;	 /* host.os, NULL when absent */
	json_t *summary; /* borrowed object */
	double score;	 /* NAN when null */
	int64_t checks_failed;
	int64_t started_at; /* Unix seconds, 0 when absent or unparseable */
	struct ingest_finding *findings;
	size_t n_findings;
};

/* Parses an immune.scan/v1 document. Returns 0 with *out (free with ingest_scan_free), or
 * -EBADMSG when it is not one (results that are not objects with string id and status make
 * the whole document invalid). */
int ingest_parse_scan(const void *p, size_t len, struct ingest_scan *out);
void ingest_scan_free(struct ingest_scan *s);

struct ingest_inventory {
	json_t *root;	       /* owns everything below */
	const char *table;     /* [a-z0-9_], 1..INGEST_MAX_TABLE_NAME characters */
	json_t *rows;	       /* borrowed array of objects; NULL for RECORD_INVENTORY_GONE */
	const char *os_pretty; /* table "os": the first row's pretty_name, else NULL */
};

/* Parses {"table": name, "rows": [{...}...]} (gone: {"table": name}, rows ignored).
 * Returns 0 with *out (free with ingest_inventory_free) or -EBADMSG. */
int ingest_parse_inventory(const void *p, size_t len, bool gone, struct ingest_inventory *out);
void ingest_inventory_free(struct ingest_inventory *inv);

struct ingest_gap {
	uint64_t first_seq;
	uint64_t last_seq;
	uint64_t count;
	int64_t first_time_ns;
	int64_t last_time_ns;
};

/* Parses a serialized immune.v1.Gap. Returns 0 with *out, or -EBADMSG (undecodable, or
 * first_seq > last_seq). */
int ingest_parse_gap(const void *p, size_t len, struct ingest_gap *out);

/* Formats Unix seconds as RFC 3339 UTC ("2026-11-23T13:45:40Z") into buf (>= 21 bytes). */
void ingest_format_time(int64_t t, char *buf, size_t size);

/* ---- detection records (ingest_detect.c, docs/alerts.md) ---- */

#define INGEST_MAX_EVENT_JSON (1024u * 1024)
#define INGEST_MAX_INDEXED 1024 /* longer values are not indexed */
#define INGEST_MAX_BASELINE_JSON (4u * 1024 * 1024)
#define INGEST_MAX_SENSORS 32

/* The indexed columns of one OCSF event (strings borrowed from root; NULL when absent,
 * not a string, or longer than INGEST_MAX_INDEXED). */
struct ingest_event {
	json_t *root;	    /* owns everything below */
	const char *kind;   /* unmapped.kind */
	const char *image;  /* process.file.path (class 1007), else actor.process.file.path */
	const char *user;   /* user.name (the target user), else the process's user.name */
	const char *src_ip; /* src_endpoint.ip */
	int64_t time_ns;    /* "time" (ms) in ns, 0 when absent */
};

/* Parses a RECORD_EVENT payload (a JSON object with an integer class_uid). Returns 0 with
 * *out (free with ingest_event_free) or -EBADMSG. */
int ingest_parse_event(const void *p, size_t len, struct ingest_event *out);
void ingest_event_free(struct ingest_event *e);

/* Parses a RECORD_BASELINE payload: a JSON object of at most INGEST_MAX_BASELINE_JSON bytes.
 * Returns 0 with *out (caller decrefs) or -EBADMSG. */
int ingest_parse_baseline(const void *p, size_t len, json_t **out);
/* Parses a RECORD_SENSOR_HEALTH payload: an array of at most INGEST_MAX_SENSORS objects,
 * each with a string "name". Returns 0 with *out (caller decrefs) or -EBADMSG. */
int ingest_parse_sensor_health(const void *p, size_t len, json_t **out);

/* ---- action results (ingest_action.c, docs/response.md) ---- */

#define INGEST_MAX_ACTION_JSON (64u * 1024)
#define INGEST_MAX_ACTION_MESSAGE 2048 /* bytes of "message" */
#define INGEST_MAX_ACTION_PARAMS 32    /* keys of "params" */

/* A RECORD_ACTION_RESULT (strings borrowed from root; optional ones NULL when absent). */
struct ingest_action {
	json_t *root;	     /* owns everything below */
	const char *uid;     /* ACTION_UID_LEN lowercase hex characters */
	const char *kind;    /* a known action kind name ("block-address") */
	const char *op;	     /* "apply", "verify" or "rollback" */
	const char *status;  /* "verified", "failed", "refused", "rolled_back" or "dry_run" */
	const char *message; /* one line, or NULL */
	const char *origin;  /* "edge", "server" or "manual" */
	json_t *params;	     /* object (borrowed) */
	json_t *detail;	     /* object or NULL (borrowed) */
	json_t *trigger;     /* object {alert_uid, rule_id, playbook, step} or NULL (borrowed) */
	int64_t requested_ns;
	int64_t finished_ns;
};

/* Parses a RECORD_ACTION_RESULT payload (docs/response.md): a JSON object of at most
 * INGEST_MAX_ACTION_JSON bytes with every required field of the right type and in range;
 * unknown top-level keys are refused. Returns 0 with *out (free with ingest_action_free)
 * or -EBADMSG. */
int ingest_parse_action_result(const void *p, size_t len, struct ingest_action *out);
void ingest_action_free(struct ingest_action *a);

/* ---- recorded sessions (ingest_session.c, docs/sessions.md) ---- */

#define INGEST_MAX_SESSION_JSON (128u * 1024)
#define INGEST_MAX_SESSION_PARTS (INT64_C(1) << 40)

/* A RECORD_SESSION part (strings borrowed from root; optional ones NULL when absent). */
struct ingest_session_part {
	json_t *root;	     /* owns everything below */
	const char *session; /* 32 lowercase hex characters */
	int64_t part;	     /* 0: the header and the session's facts */
	const char *cast;    /* part 0: the asciicast v2 header line; later: event lines */
	size_t cast_len;
	/* part 0 only */
	const char *identity;	/* NULL: none (no certificate) */
	bool identity_verified; /* the agent checked it against the CA's certificate */
	const char *account;
	const char *command; /* NULL: the login shell */
	int64_t uid, pid, width, height, started_ns;
	/* the closing part */
	bool end;
	int64_t ended_ns;
	int exit; /* -1: unknown */
};

/* Parses a RECORD_SESSION payload: a JSON object of at most INGEST_MAX_SESSION_JSON bytes,
 * only known keys, every field of its type and in range, part 0 with the session's facts
 * and a header line of asciicast version 2, later parts with whole event lines. Returns 0
 * with *out (free with ingest_session_part_free) or -EBADMSG. */
int ingest_parse_session_part(const void *p, size_t len, struct ingest_session_part *out);
void ingest_session_part_free(struct ingest_session_part *s);
