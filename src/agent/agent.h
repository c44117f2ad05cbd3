/* immune-agent run: the roles wired on one libevent loop (docs/agent.md).
 *
 * The collector (collect.h) runs in a worker thread and hands records to the loop through a
 * queue; the link (link.h) spools them and sends them; the detector (detector.h) runs the
 * sensors and the detection pipeline in a thread of its own and hands events, alerts and
 * sensor health to the loop the same way. This file only connects them, schedules
 * collections, generates synthetic load and refreshes STATE/status.json. */
#pragma once

#include "lib/common.h"

#define AGENT_DEFAULT_SCAN_INTERVAL_S 3600
#define AGENT_DEFAULT_INVENTORY_INTERVAL_S 300
#define AGENT_SYNTHETIC_PER_TURN 1000
#define AGENT_STATUS_INTERVAL_S 5

struct agent_run_options {
	const char *state_dir;
	const char *root;    /* directory the collector reads ("/") */
	const char *catalog; /* NULL: the installed catalog (unless the server sent one) */
	uint32_t scan_interval_s;
	uint32_t inventory_interval_s;
	uint64_t spool_max; /* 0: default */
	uint64_t synthetic; /* generate events until the events stream holds this many */
	bool no_collect;    /* run only the link (tests, benchmarks) */
	bool no_detect;	    /* no detector: no sensors, no rules */
	bool no_respond;    /* no responder: no executor, no actions */
	bool no_access;	    /* no access role: no sshd files, no socket, no decisions */
	const char *config; /* the configuration file (agent_yaml.h); missing: defaults */
	const char *replay; /* OCSF JSON lines to detect on instead of the sensors */
};

/* Runs until SIGINT or SIGTERM. Returns 0, or a negative errno (logged) when it cannot
 * start. */
int agent_run(const struct agent_run_options *o);

/* immune-agent events (src/agent/events.c, in the immune-agent program): prints what the
 * detector appended to STATE/events.jsonl. Returns the exit code. */
int agent_events_main(int argc, char **argv);
