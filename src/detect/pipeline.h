/* The detection pipeline (docs/detection.md): what happens to each event on the agent.
 *
 * pipeline_event() gives the event an id and the hostname, evaluates the Sigma rules, feeds
 * matches to the correlator and the event to the baselines, builds alerts, and hands the
 * event and its alerts to the sink (the agent spools them; `immune rules test` prints
 * them) and to the configured outputs. Thread-safe: sensors may call it from any thread. */
#pragma once

#include "detect/alert.h"
#include "detect/baseline.h"
#include "detect/output.h"
#include "detect/sigma.h"

/* Called under one lock of the pipeline: an event's line is followed by its own alerts (rule,
 * correlation, anomaly), and a sink needs no locking of its own. */
struct pipeline_sink {
	/* The event's OCSF JSON line (len bytes, no newline); may be NULL. */
	void (*event)(const struct host_event *ev, const char *json, size_t len, void *arg);
	/* An alert; may be NULL. */
	void (*alert)(const struct alert *a, void *arg);
	void *arg;
};

struct pipeline_options {
	const char *rules;	   /* file or directory of Sigma rules; NULL: none */
	const char *hostname;	   /* NULL: gethostname() */
	const char *baseline_path; /* NULL: no baselines */
	int64_t baseline_learning_ns;
	struct outputs *outputs; /* opened by the caller (output.h), borrowed; NULL: none */
	struct pipeline_sink sink;
};

struct pipeline;

/* Loads and compiles the rules (rule errors are kept, see pipeline_rules), opens the
 * baselines and the outputs. Returns 0 or a negative errno. */
int pipeline_new(const struct pipeline_options *o, struct pipeline **out);
void pipeline_free(struct pipeline *p);

void pipeline_event(struct pipeline *p, struct host_event *ev);
/* Expires correlation state and saves baselines; call about once a second. */
void pipeline_tick(struct pipeline *p, int64_t now_ns);
const struct sigma_ruleset *pipeline_rules(const struct pipeline *p);

/* rule_matches counts matches of suppressed rules too; output_errors counts lines and alerts
 * that could not be serialized (the outputs count their own drops, outputs_stats). */
struct pipeline_stats {
	uint64_t events, alerts, rule_matches, anomalies, output_errors;
};
void pipeline_stats(const struct pipeline *p, struct pipeline_stats *out);
