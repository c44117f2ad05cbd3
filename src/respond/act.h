/* The executor's fixed table of action implementations (docs/response.md, "Executor").
 *
 * Each kind has apply, verify and rollback. They run in the executor process (root), after
 * action_check() accepted the action; each re-checks what needs the host (the account
 * exists, the path is a regular file reached without symlinks, the pid still is the process
 * named by start_time) and refuses with ACT_REFUSED and a reason otherwise.
 *
 *   apply     idempotent: an effect already in place is success. Fills *undo with what
 *             rollback needs (a JSON object the executor stores as STATE/respond/undo/UID.json
 *             before it returns) and result->detail with what was done.
 *   verify    checks the effect is in place now (process gone, element in the set, file
 *             hash, check passing). Returns ACT_VERIFIED or ACT_FAILED with the reason.
 *   rollback  undoes apply from its undo record, then checks the undoing. An action whose
 *             effect cannot be undone (kill) returns ACT_REFUSED saying so.
 *
 * Implementations never run a shell. Programs they start (sshd -t, systemctl) are run with
 * an argv built from checked fields, a clean environment and a timeout (act_run). */
#pragma once

#include "respond/action.h"

#include <jansson.h>

struct vault;

enum act_status {
	ACT_VERIFIED = 1, /* = EXEC_VERIFIED ... */
	ACT_FAILED,
	ACT_REFUSED,
	ACT_ROLLED_BACK,
	ACT_DRY_RUN,
};

struct act_ctx {
	const char *state_dir; /* the executor's directory: STATE/respond (0700 root) */
	const char *uid;       /* the action's id */
	struct vault *vault;   /* known-good snapshots (restore-file); may be NULL */
	const char *const *protected_users; /* NULL-terminated: never locked (guardrail) */
	bool dry_run;			    /* describe in result->message, change nothing */
	uint32_t isolation_lease_s;	    /* isolate-host's first lease; 0: ACT_ISOLATE_LEASE_S */
	/* Tests point these elsewhere; NULL means the real host. */
	const char *nft_table;	 /* "immune" (the inet table of our own) */
	const char *passwd_root; /* directory holding etc/passwd, etc/shadow: "/" */
};

struct act_result {
	enum act_status status;
	char message[512]; /* one line, for operators */
	json_t *detail;	   /* object or NULL: what was done (owned; the executor frees it) */
};

struct act_ops {
	Immune__V1__ActionKind kind;
	enum act_status (*apply)(const struct act_ctx *ctx, const Action *a, json_t **undo,
				 struct act_result *res);
	enum act_status (*verify)(const struct act_ctx *ctx, const Action *a,
				  struct act_result *res);
	enum act_status (*rollback)(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				    struct act_result *res);
};

/* Sets res->status and a printf-formatted res->message; returns status (for tail calls). */
enum act_status act_set(struct act_result *res, enum act_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The implementation of kind, or NULL when this build has none (the executor then refuses
 * the action as unsupported). The table is in act_table.c. */
const struct act_ops *act_lookup(Immune__V1__ActionKind kind);

/* Runs argv[0] (an absolute path) with argv, no shell, an empty environment but PATH, stdin
 * from /dev/null, and kills it after timeout_ms. Its output (stdout and stderr, at most 4 KiB
 * kept) goes to out when not NULL. Returns the exit status (0..255), -ETIMEDOUT, or a
 * negative errno when it cannot start. */
int act_run(const char *const *argv, int timeout_ms, char *out, size_t outlen);

/* The implementations, one per file (act_table.c lists them). */
extern const struct act_ops act_kill_process_ops;	   /* act_proc.c */
extern const struct act_ops act_block_address_ops;	   /* act_net.c */
extern const struct act_ops act_isolate_host_ops;	   /* act_net.c */
extern const struct act_ops act_lock_user_ops;		   /* act_user.c */
extern const struct act_ops act_remove_authorized_key_ops; /* act_user.c */
extern const struct act_ops act_quarantine_file_ops;	   /* act_file.c */
extern const struct act_ops act_restore_file_ops;	   /* act_file.c */
extern const struct act_ops act_apply_fix_ops;		   /* act_fix.c */
extern const struct act_ops act_disable_service_ops;	   /* act_fix.c */
extern const struct act_ops act_disable_cron_ops;	   /* act_fix.c */
extern const struct act_ops act_create_account_ops;	   /* act_account.c */

/* sshd (act_fix.c; the access role writes its drop-in with them too). */
#define ACT_SSHD_PID_FILE "/run/sshd.pid"
/* Checks content as a drop-in of main_config before it is put in place: a copy of the main
 * file that first includes the candidate (written in ctx->state_dir, named by ctx->uid) goes
 * through sshd -t. Returns 0 when sshd accepts it, else a negative errno with sshd's first
 * line in out. */
struct buf;
int act_sshd_check_dropin(const struct act_ctx *ctx, const char *main_config,
			  const struct buf *content, char *out, size_t outlen);
/* Asks the sshd of pid_file to reread its configuration (SIGHUP once it handles it; for
 * ACT_SSHD_PID_FILE, else systemctl reload). Writes what was done to how. Returns 0 or a
 * negative errno. */
int act_sshd_reload(const char *pid_file, char *how, size_t howlen);

/* Isolation's dead-man switch (act_net.c): isolation lives in the kernel as a set element
 * with a timeout, so it lifts by itself unless refreshed. The responder calls this while the
 * server is reachable and the isolation's own expiry has not passed; it sets the element's
 * remaining time to at most lease_s. Returns 0, -ENOENT when the host is not isolated, or a
 * negative errno. */
int act_isolate_refresh(const struct act_ctx *ctx, uint32_t lease_s);
/* The lease isolate-host starts with by default (seconds; act_ctx.isolation_lease_s sets
 * another); refresh well before it runs out. */
#define ACT_ISOLATE_LEASE_S 120
