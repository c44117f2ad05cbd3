/* Learned baselines of normal behaviour, per host and per user (docs/baselines.md).
 *
 * Online learning: during the learning period (default 24 h from the first event seen)
 * everything observed is normal and remembered. Afterwards, what was never seen before is
 * an anomaly, explained against what was learned and scored 0..1 (how unexpected: rarer
 * subjects and larger baselines score higher), then remembered so it is reported once
 * (repeats are suppressed). Kinds:
 *   - new executable (image) run on the host; new parent -> child image pair;
 *   - login by a user from a source network never seen for that user (IPv4 /24, IPv6 /64),
 *     or at an hour of day the user never logged in at (UTC, +/- 1 hour tolerance);
 *   - new listening port (protocol/port) on the host;
 *   - new outbound destination (ip:port) for a program (image).
 * State is bounded (BASELINE_MAX_ENTRIES per kind; beyond that the least recently seen
 * entries are forgotten and counted) and persisted atomically to a file, so a restart
 * neither forgets nor relearns. Not thread-safe: one baseline per pipeline. */
#pragma once

#include "detect/event.h"

#include <jansson.h>

#define BASELINE_MAX_ENTRIES 100000

enum baseline_kind {
	BASELINE_NEW_EXECUTABLE = 1,
	BASELINE_NEW_PARENT_CHILD,
	BASELINE_LOGIN_NEW_NETWORK,
	BASELINE_LOGIN_UNUSUAL_HOUR,
	BASELINE_NEW_LISTEN_PORT,
	BASELINE_NEW_OUTBOUND,
};

struct baseline_options {
	const char *state_path; /* NULL: in memory only */
	int64_t learning_ns;	/* 0: the default, 24 h */
};

struct baseline_anomaly {
	enum baseline_kind kind;
	double score;		/* 0..1 */
	char subject[256];	/* the user, program or host the novelty is about */
	char what[512];		/* the new thing: "/tmp/x", "10.1.2.0/24", "03:00", "tcp/4444" */
	char explanation[1024]; /* sentence: what is new against what was learned */
};

struct baseline;

/* Loads state_path when it exists (a damaged file is renamed aside and learning restarts;
 * -EBADMSG is returned with *out still valid). Returns 0, -EBADMSG or a negative errno. */
int baseline_open(const struct baseline_options *o, struct baseline **out);
void baseline_free(struct baseline *b);

/* Observes one event. Returns 1 and fills out[0..n) (n <= 2: one event can be both a new
 * executable and a new parent/child pair) with *n set, or 0 when nothing is anomalous. */
int baseline_observe(struct baseline *b, const struct host_event *ev,
		     struct baseline_anomaly out[2], size_t *n);
/* Writes the state atomically when it changed since the last save. */
int baseline_save(struct baseline *b);

/* True while learning; the end of learning in ns (CLOCK_REALTIME) via *until. */
bool baseline_learning(const struct baseline *b, int64_t *until);
const char *baseline_kind_name(enum baseline_kind k); /* "new_executable", ... */

/* What `immune baseline show` prints (docs/baselines.md): learning state, counts per kind,
 * per-user login networks and hours, listening ports, and the most recent entries.
 * Caller decrefs. */
json_t *baseline_summary(const struct baseline *b);
