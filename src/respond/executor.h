/* The executor: the agent's privileged process for response actions (docs/response.md).
 *
 * It is forked by immune-agent at start, before anything talks to the network, keeps root,
 * and reads only ExecRequest messages (immune.proto) from its end of a socketpair, framed
 * like the wire (a 4-byte big-endian length, then the message, at most EXEC_FRAME_MAX).
 * For each it checks the action (action_check), looks up the implementation (act.h), runs
 * apply + verify, verify or rollback, stores or reads the undo record under
 * STATE/respond/undo/UID.json, and answers with one ExecReply. A request that decodes but
 * breaks a rule (bad uid, unknown op, an action action_check refuses) is answered
 * EXEC_REFUSED with the reason; a malformed or oversized message ends that connection (the
 * executor exits; the agent starts a new one), never the host's other work. */
#pragma once

#include "respond/action.h"

#define EXEC_FRAME_MAX (64u * 1024)
#define EXEC_TIMEOUT_MS 10000 /* a client's wait for one reply */

typedef Immune__V1__ExecRequest ExecRequest;
typedef Immune__V1__ExecReply ExecReply;

struct executor_options {
	const char *state_dir;		    /* the agent's state directory (STATE/respond below) */
	const char *const *protected_users; /* NULL-terminated; NULL: none beyond root */
	const char *nft_table;		    /* NULL: "immune" */
	uint32_t isolation_lease_s;	    /* isolate-host's first lease; 0: ACT_ISOLATE_LEASE_S */
};

/* Decodes one request body of n bytes (after the length header) and checks the action.
 * Returns 0 with *out (free with exec_request_free), -EBADMSG (not a request), -ENOMEM
 * (over the allocation budget) or -EINVAL (a field out of range; reason in err). This is
 * the executor's only parser of what the link sends (fuzz/fuzz_exec_request.c). */
int exec_request_decode(const void *p, size_t n, ExecRequest **out, char *err, size_t errlen);
void exec_request_free(ExecRequest *r);

/* Serves requests on fd until it is closed or a malformed message arrives. Returns 0 on a
 * clean close, or a negative errno. */
int executor_serve(int fd, const struct executor_options *o);

/* Forks the executor: the child serves its end of a new socketpair and exits; the parent
 * gets the other end in *fd and the child's pid. Returns 0 or a negative errno. The child
 * keeps only its end and the standard descriptors, is named "immune-exec" and gets SIGTERM
 * when the forking thread ends (PR_SET_PDEATHSIG): call it from the agent's main thread,
 * preferably before other threads start. */
int executor_spawn(const struct executor_options *o, int *fd, pid_t *pid);

/* Client side: sends one request on fd and waits at most timeout_ms for its reply. Returns 0
 * with *reply (free with exec_reply_free), or a negative errno (-ETIMEDOUT, -EPIPE when the
 * executor is gone, -EBADMSG). */
int exec_call(int fd, const ExecRequest *req, int timeout_ms, ExecReply **reply);
void exec_reply_free(ExecReply *r);

/* The undo record of an applied action, STATE/respond/undo/UID.json (0600 in a 0700
 * directory): {"uid", "kind", "params" (action_params_json), "undo" (the implementation's
 * undo JSON, or null), "applied_ns"}. It holds the action itself so that a rollback may name
 * only the uid (immune-agent respond --rollback UID). */
#define EXEC_UNDO_MAX (1024u * 1024) /* bytes of one record */

/* Reads the undo record of uid under state_dir (the agent's state directory). Returns 0
 * with *action (free with action_free) and *undo (decref; NULL when the record kept none),
 * -ENOENT when there is none, -EBADMSG when it is damaged, or another negative errno when
 * it cannot be read (-EACCES); the reason is in err. */
int exec_undo_read(const char *state_dir, const char *uid, Action **action, json_t **undo,
		   char *err, size_t errlen);
