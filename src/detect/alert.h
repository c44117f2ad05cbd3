/* Alerts: what detection produces (docs/alerts.md).
 *
 * An alert comes from a Sigma detection rule, a correlation rule or a baseline anomaly. It
 * carries the rule, its level, its ATT&CK tags, an explanation, and copies of the evidence
 * events. Its serialized form is an OCSF Detection Finding (class 2004) JSON object: the
 * payload of RECORD_ALERT on STREAM_ALERTS, and what outputs send. */
#pragma once

#include "detect/event.h"
#include "detect/sigma.h"

#include <jansson.h>

#define ALERT_MAX_EVIDENCE 16

enum alert_source {
	ALERT_RULE = 1,	   /* a Sigma detection rule */
	ALERT_CORRELATION, /* a Sigma correlation rule */
	ALERT_ANOMALY,	   /* a baseline anomaly */
};

struct alert {
	char uid[33]; /* random, 32 lowercase hex characters */
	enum alert_source source;
	char *rule_id; /* Sigma id, or "baseline.<kind>" for anomalies */
	char *title;
	enum sigma_level level;
	char **tags;	   /* NULL-terminated ("attack.t1110.001"), may be NULL */
	char *explanation; /* or NULL */
	char *group_key;   /* correlation group or anomaly subject; NULL otherwise */
	double score;	   /* anomalies: 0..1; otherwise 0 */
	int64_t time_ns;   /* the time of the newest evidence event */
	char *hostname;
	struct host_event *evidence; /* copies, oldest first */
	size_t n_evidence;
};

/* Sets a new random uid. */
void alert_new_uid(struct alert *a);
/* Appends a copy of ev to the evidence (beyond ALERT_MAX_EVIDENCE the oldest is dropped). */
void alert_add_evidence(struct alert *a, const struct host_event *ev);
void alert_clear(struct alert *a); /* frees members; the struct can be reused */

/* The OCSF Detection Finding object (caller decrefs). */
json_t *alert_to_json(const struct alert *a);

/* What the server needs from a received alert (docs/alerts.md); strings borrowed from root. */
struct alert_summary {
	json_t *root; /* owns everything below */
	const char *uid;
	const char *source; /* "rule", "correlation", "anomaly" */
	const char *rule_id;
	const char *title;
	int level; /* enum sigma_level */
	const char *group_key;
	double score;
	int64_t time_ns;
	json_t *techniques; /* array of "T1110.001" strings (borrowed) */
	json_t *evidence;   /* array of OCSF event objects (borrowed) */
};
/* Parses a serialized alert. Returns 0 (free with alert_summary_free) or -EBADMSG. */
int alert_parse(const void *p, size_t len, struct alert_summary *out);
void alert_summary_free(struct alert_summary *s);

/* Names: "rule", "correlation", "anomaly" (NULL when out of range). */
const char *alert_source_name(enum alert_source s);
/* "informational" ... "critical" for a level 1..5 (NULL otherwise). */
const char *alert_level_name(int level);
/* The level named name (case-insensitive), or -ENOENT. */
int alert_level_by_name(const char *name);
