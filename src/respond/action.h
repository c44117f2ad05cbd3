/* Typed response actions (docs/response.md).
 *
 * An action is an Immune__V1__Action (src/proto/immune.proto): a kind and the fields that
 * kind uses. The same value travels from the server's API or a playbook to the agent, and
 * from the link to the executor. action_check() is the single validator: the API calls it to
 * answer a bad request with a clear error, the executor calls it again before it acts, and
 * nothing else decides what a well-formed action is. Checks that need the host (does the
 * user exist, is the path a symlink) belong to the action's implementation (act.h). */
#pragma once

#include "lib/common.h"
#include "proto/immune.pb-c.h"

#include <jansson.h>

typedef Immune__V1__Action Action;

#define ACTION_UID_LEN 32		    /* lowercase hex characters */
#define ACTION_MAX_STRING 1024		    /* entry, fix_json is ACTION_MAX_FIX */
#define ACTION_MAX_FIX 4096		    /* fix_json bytes */
#define ACTION_MAX_PATH 1024		    /* path bytes */
#define ACTION_MAX_ALLOW 16		    /* isolate: addresses kept reachable */
#define ACTION_MAX_GROUPS 32		    /* create-account: supplementary groups */
#define ACTION_MAX_SUDO 16		    /* create-account: sudo commands */
#define ACTION_MAX_SUDO_COMMAND 256	    /* bytes of one */
#define ACTION_MAX_DURATION_S (30u * 86400) /* block, isolate */
#define ACTION_BLOCK_DEFAULT_S 3600
#define ACTION_ISOLATE_DEFAULT_S 3600

/* Names as the API, the CLI and playbooks write them: "kill-process", "block-address",
 * "isolate-host", "lock-user", "remove-authorized-key", "quarantine-file", "restore-file",
 * "apply-fix", "disable-service", "disable-cron", "create-account". NULL for an unknown
 * kind. */
const char *action_kind_name(Immune__V1__ActionKind kind);
/* The kind named name, or -ENOENT. */
int action_kind_by_name(const char *name);
/* "apply", "verify", "rollback", "refresh" (NULL when unknown); and back (-ENOENT). */
const char *action_op_name(Immune__V1__ActionOp op);
int action_op_by_name(const char *name);
/* "verified", "failed", "refused", "rolled_back", "dry_run" (NULL when unknown). */
const char *exec_status_name(Immune__V1__ExecStatus status);

/* Checks every field of a: a known kind; the fields that kind needs present and in range
 * (pid > 1, address an IP or CIDR, user a valid account name, path absolute and
 * normalized with no "." or ".." component and no NUL, sha256 64 lowercase hex, fix_json an
 * object whose "type" is a known fix, unit a unit name, duration at most
 * ACTION_MAX_DURATION_S, groups valid group names, sudo_commands "ALL" or absolute commands
 * without sudoers' special characters); and no field the kind does not use. Returns 0, or -EINVAL with a
 * one-line reason in err ("block-address: address '1.2.3' is not an IP address or CIDR"). */
int action_check(const Action *a, char *err, size_t errlen);

/* Builds an action of kind from a JSON object of its parameters, named as in
 * docs/response.md ({"address": "10.0.0.1", "duration": "1h"} or {"pid": 1234, "tree":
 * true}); durations are numbers of seconds or strings such as "90s", "15m", "2h", "7d".
 * Unknown parameters are refused. The result is checked (action_check). Returns 0 with *out
 * (free with action_free), or -EINVAL with a reason in err. */
int action_from_json(Immune__V1__ActionKind kind, const json_t *params, Action **out, char *err,
		     size_t errlen);
/* The parameters of a as such an object (without the kind). Caller decrefs. */
json_t *action_params_json(const Action *a);
/* A deep copy (free with action_free), or NULL when out of memory. */
Action *action_dup(const Action *a);
/* Frees an action built by action_from_json, action_dup or protobuf-c. Accepts NULL. */
void action_free(Action *a);
static inline void action_freep(Action **a)
{
	action_free(*a);
}

/* Writes a new random action id (ACTION_UID_LEN hex characters and a NUL) to uid. */
void action_new_uid(char uid[ACTION_UID_LEN + 1]);
/* Returns true when s is ACTION_UID_LEN lowercase hex characters. */
bool action_uid_ok(const char *s);

/* Builds the JSON parameters of an action from command-line words "key=value" (immune
 * respond, immune-agent respond): a whole number becomes a number, "true"/"false" a boolean,
 * a value starting with '{' a JSON object (fix={"type":...}), allow=a,b (groups, sudo_commands too) an array; anything
 * else stays a string (durations such as "2h" are strings action_from_json parses).
 * Returns 0 with *out (caller decrefs), or -EINVAL with a reason in err. */
int action_params_from_args(int argc, char *const *argv, json_t **out, char *err, size_t errlen);
