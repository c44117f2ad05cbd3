/* The responder role of `immune-agent run` (docs/agent.md, "Responder").
 *
 * A thread of the agent that owns the connection to the executor (respond/executor.h): it
 * forks the executor when it starts (before the link connects) and again whenever the
 * executor is gone. Jobs come from two places:
 *   - the server: Command "action" (responder_submit, origin "server");
 *   - the edge: every alert the detector raises is matched against the playbooks
 *     (respond/playbook.h, local steps only); auto steps become jobs at once, with origin
 *     "edge", whether or not the server is reachable.
 * At most RESPONDER_QUEUE_MAX jobs wait; a job past the bound is not run but recorded as
 * refused ("queue full"), so nothing is lost silently. Each job's result becomes a
 * RECORD_ACTION_RESULT JSON record (docs/response.md) on STREAM_ALERTS, handed to the loop
 * like the detector's alerts, and a line {"time": MS, "action_result": {...}} appended to
 * STATE/events.jsonl. A failed action also raises an alert "response.action_failed" (level
 * high). While the host is isolated, the isolation is refreshed every quarter of the lease
 * (responder_options.lease_s, default RESPONDER_LEASE_S: every RESPONDER_REFRESH_S), but only
 * while the link was connected within the lease: when the server is gone, refreshing stops
 * and the kernel lifts the isolation by itself. An isolation from before
 * the agent started is found by the first refresh (the executor keeps its state). */
#pragma once

#include "agent/agent_config.h"
#include "agent/agent_msg.h"
#include "respond/act.h"
#include "respond/action.h"

#include <jansson.h>

#define RESPONDER_QUEUE_MAX 1024
#define RESPONDER_REFRESH_S 30 /* refresh period with the default lease (a quarter) */
#define RESPONDER_LEASE_S ACT_ISOLATE_LEASE_S /* lifts this long after the last refresh */
#define RESPONDER_RESPAWN_MAX 5 /* executor restarts in a row before a job is failed */

struct responder;
struct alert;

struct responder_trigger {
	const char *alert_uid; /* NULL: none */
	const char *rule_id;
	const char *playbook;
	size_t step;
};

struct responder_options {
	const char *state_dir;		/* STATE (events.jsonl, STATE/respond) */
	const struct agent_config *cfg; /* server address and host labels (borrowed) */
	const char *playbooks;		/* file or directory; NULL: none */
	const char *hostname;		/* NULL: gethostname() */
	int exec_fd;			/* >= 0: an executor already connected (tests, owned);
					   -1: fork one (executor_spawn) */
	const char *nft_table;		/* for the executor; NULL: its default */
	size_t queue_max;		/* 0: RESPONDER_QUEUE_MAX (tests set less) */
	uint32_t refresh_ms;		/* 0: a quarter of the lease (tests set less) */
	uint32_t lease_s; /* isolation lease, given to the executor too; 0: RESPONDER_LEASE_S */
};

/* Called from the responder's thread (or a detector's) when records are waiting. */
typedef void (*responder_notify_fn)(void *arg);

/* Loads the playbooks (their errors are logged), starts the executor and the thread.
 * Returns 0, or a negative errno with a message in err. */
int responder_start(const struct responder_options *o, responder_notify_fn notify, void *arg,
		    struct responder **out, char *err, size_t errlen);
/* Stops the thread (the job running finishes, waiting jobs are recorded as refused) and the
 * executor. What was recorded can still be taken. Accepts NULL; idempotent. */
void responder_stop(struct responder *r);
void responder_free(struct responder *r);

/* Queues one action. uid: ACTION_UID_LEN hex, or NULL for a new one; a is copied; trigger
 * may be NULL; origin is "edge", "server" or "manual". Thread-safe. Returns 0 when queued,
 * or -ENOSPC when the queue is full (a "refused" result is recorded instead), or -EINVAL
 * (bad uid or op; nothing recorded). */
int responder_submit(struct responder *r, const char *uid, Immune__V1__ActionOp op, const Action *a,
		     const char *origin, const struct responder_trigger *trigger, bool dry_run);

/* Records a refused result for an action that is not queued (a server command that failed
 * action_check: reason says why). a may be NULL when the command held none. Thread-safe. */
void responder_refuse(struct responder *r, const char *uid, Immune__V1__ActionOp op,
		      const Action *a, const char *origin, const char *reason);

/* Edge response: matches the alert against the playbooks (local steps) and queues the auto
 * steps. Any thread; the alert is borrowed for the call. */
void responder_alert(struct responder *r, const struct alert *a);

/* Replaces the playbooks (file or directory; NULL: none). When the protected users change,
 * the executor is restarted so that it knows them. Thread-safe. */
void responder_set_playbooks(struct responder *r, const char *path);

/* The link is connected now (the loop calls this at least every quarter of the lease while
 * it is). Thread-safe. */
void responder_link_alive(struct responder *r);

/* True once after an apply-fix was verified (not a dry run): the agent then scans again so
 * the server's posture reflects the fix. Thread-safe. */
bool responder_take_rescan(struct responder *r);

/* Moves the waiting records (action results, failure alerts) into out. Thread-safe. */
void responder_take(struct responder *r, struct agent_records *out);

/* A JSON object for STATE/status.json: jobs, results by status, isolation. Caller decrefs. */
json_t *responder_status(struct responder *r);
