/* The detector role of `immune-agent run` (docs/agent.md, "Detector").
 *
 * A thread with its own libevent base runs the sensors (detect/sensor.h) and a detection
 * pipeline (detect/pipeline.h). What the pipeline produces is handed to the agent's loop as
 * typed records through a queue, the way the collector hands its results:
 *   - events (RECORD_EVENT on STREAM_EVENTS): at most DETECTOR_QUEUE_EVENTS wait; beyond
 *     that they are counted as lost in the sensor health of the sensor that produced them
 *     (a replayed file waits for room instead);
 *   - alerts (RECORD_ALERT on STREAM_ALERTS): never dropped;
 *   - at start and every DETECTOR_HEALTH_INTERVAL_S: RECORD_SENSOR_HEALTH, and
 *     RECORD_BASELINE when the baseline summary changed (STREAM_STATE).
 * Events and alerts are also appended as OCSF JSON lines to STATE/events.jsonl (rotated to
 * events.jsonl.1 at DETECTOR_EVENTS_FILE_MAX) for `immune-agent events`. Baselines live in
 * STATE/baseline.json. New rules (detector_set_rules) are compiled into a new pipeline that
 * replaces the old one between two events: no event is lost. */
#pragma once

#include "agent/agent_msg.h"
#include "agent/agent_yaml.h"

#include <jansson.h>

#define DETECTOR_QUEUE_EVENTS 16384
#define DETECTOR_HEALTH_INTERVAL_S 60
#define DETECTOR_EVENTS_FILE_MAX (64ull * 1024 * 1024)
#define DETECTOR_EVENTS_FILE "events.jsonl"
#define DETECTOR_BASELINE_FILE "baseline.json"

struct detector;
struct alert;

struct detector_options {
	const char *state_dir;
	const char *root;	      /* the root the sensors read ("/") */
	const struct agent_yaml *cfg; /* sensors and baseline settings (borrowed) */
	const char *config_path;      /* the configuration file, for its outputs: list */
	const char *rules;	      /* file or directory of Sigma rules; NULL: none */
	const char *replay;	      /* JSON lines of OCSF events to detect on instead of
					   running the sensors; NULL: sensors */
	size_t queue_events;	      /* 0: DETECTOR_QUEUE_EVENTS (tests set less) */
	uint64_t events_file_max;     /* 0: DETECTOR_EVENTS_FILE_MAX (tests set less) */
	bool replay_lossy;	      /* replay drops events when the queue is full, like a sensor
			      (tests); otherwise it waits for room */
	/* called with every alert after it was queued, on the thread that raised it (edge
	 * response: responder.h); the alert is borrowed for the call. NULL: none. */
	void (*alert_hook)(void *arg, const struct alert *a);
	void *alert_hook_arg;
};

/* Called from the detector's thread (or a sensor's) when records are waiting. */
typedef void (*detector_notify_fn)(void *arg);

/* Opens the outputs, builds the pipeline, starts the sensors and the thread. Returns 0, or a
 * negative errno with a message in err (bad outputs or sensor configuration). */
int detector_start(const struct detector_options *o, detector_notify_fn notify, void *arg,
		   struct detector **out, char *err, size_t errlen);
/* Stops the thread and the sensors, saves the baselines and frees the pipeline; what it
 * queued can still be taken. Accepts NULL; idempotent. */
void detector_stop(struct detector *d);
/* Stops (when not yet stopped) and frees. Accepts NULL. */
void detector_free(struct detector *d);

/* Moves the waiting records into recs: events first as they came, then alerts and state
 * records. Each event's payload is its OCSF JSON (uncompressed); the others are
 * agent_records_add'ed (compressed when large). Thread-safe. */
void detector_take(struct detector *d, struct agent_records *events, struct agent_records *other);

/* Replaces the rules (file or directory; NULL: none) with a new pipeline, built on the
 * detector's thread. Thread-safe; returns at once. */
void detector_set_rules(struct detector *d, const char *rules);

/* A JSON object for STATE/status.json: rules, counts, queue losses. Caller decrefs. */
json_t *detector_status(struct detector *d);
