/* The access role of immune-agent run (docs/access.md, "The access bundle"; docs/agent.md,
 * "Access").
 *
 * It holds the access bundle the server pushed (STATE/access: *.policy and access.json) and
 * the revocations the server sent since (STATE/access-local.json), writes what sshd needs
 * (ACCESS_DIR/ca.pub, ACCESS_DIR/revoked.krl and the sshd drop-in), and answers
 * `immune-agent principals` over STATE/access.sock: every login with an Immune certificate
 * is decided again here, with the policy, grants, posture and alerts of that moment. It runs
 * in a thread of its own with its own event loop, so decisions never wait behind the spool,
 * the collector or the detector; decisions and revocations become RECORD_ACCESS_EVENT records
 * the agent's loop takes (access_take).
 *
 * The socket: SOCK_SEQPACKET, one JSON object per message (at most ACCESS_MSG_MAX bytes),
 * one JSON answer per message:
 *   {"type": "login", "account", "cert" (base64), "connection"}  -> {"allow", "reason"}
 *        only from root or the principals user (SO_PEERCRED);
 *   {"type": "session", "pid", "identity", "session_id"}          -> {"ok", "error"}
 *        registers a session (ended when its identity is revoked); from any user, for a
 *        process of that user (root: any);
 *   {"type": "session-start" | "session-data" | "session-end", ...} -> {"ok", "error"}
 *        the session recorder's (session_agent.h, which makes RECORD_SESSION records).
 * Anything else is answered {"ok": false, "error"}. */
#pragma once

#include "access/policy.h"
#include "access/sshcert.h"
#include "agent/agent_config.h"
#include "agent/agent_msg.h"
#include "agent/agent_yaml.h"
#include "lib/str.h"
#include "respond/action.h"

#include <jansson.h>
#include <sys/types.h>

#define ACCESS_MSG_MAX 65536		      /* one socket message, either way */
#define ACCESS_SOCK_NAME "access.sock"	      /* in STATE */
#define ACCESS_LOCAL_NAME "access-local.json" /* revocations not yet in a bundle */
#define ACCESS_BUNDLE_MAX (8u << 20)	      /* access.json */
#define ACCESS_MAX_GRANTS 65536
#define ACCESS_MAX_REVOKED 1000000  /* serials, key ids, disabled identities each */
#define ACCESS_MAX_CONNS 256	    /* open socket connections */
#define ACCESS_RESERVED_CONNS 64    /* more for root and the principals user */
#define ACCESS_MAX_CONNS_PER_UID 32 /* for any other user (SESSION_AGENT_MAX_PER_UID) */
#define ACCESS_MAX_SESSIONS 4096    /* registered sessions */
#define ACCESS_MAX_ALERTS 4096	    /* alerts remembered for the window */
#define ACCESS_IDENTITY_EXT "immune-identity@immune"
#define ACCESS_CONNECT_TIMEOUT_MS 2000 /* immune-agent principals */

/* ---- the bundle (access_bundle.c) ---- */

struct access_grant {
	char *id, *identity, *host, *label, *account, *ticket; /* host, label, ticket: or NULL */
	bool sudo, revoked, break_glass;
	int64_t starts, expires; /* Unix seconds; 0: not given */
};

struct access_bundle {
	int64_t version;
	bool has_ca;
	struct ssh_ed25519_key ca;
	char *ca_line; /* "ssh-ed25519 BASE64" as sent, or NULL */
	struct access_grant *grants;
	size_t n_grants;
	strv disabled; /* identity names (NULL: none) */
	uint64_t *serials;
	size_t n_serials;
	strv key_ids;
	bool record_sessions;
	char *session_command;
};

/* Parses access.json (or STATE/access-local.json, which holds only "disabled" and
 * "revoked_serials"). Every key is optional; unknown keys are refused. Returns 0 with *out
 * filled (access_bundle_free), or -EINVAL / -E2BIG with a one-line reason in err. */
int access_bundle_parse(const char *text, size_t len, struct access_bundle *out, char *err,
			size_t errlen);
void access_bundle_free(struct access_bundle *b);
/* The bundle's JSON as access-local.json holds it: {"disabled": [...],
 * "revoked_serials": [...]} (caller frees). */
char *access_local_dump(const struct access_bundle *local);
/* Removes from local what bundle already holds. Returns true when local changed. */
bool access_local_prune(struct access_bundle *local, const struct access_bundle *bundle);
/* Whether the identity is disabled, the serial or key id revoked in b. */
bool access_bundle_disabled(const struct access_bundle *b, const char *identity);
bool access_bundle_serial_revoked(const struct access_bundle *b, uint64_t serial);
bool access_bundle_key_id_revoked(const struct access_bundle *b, const char *key_id);
/* "2026-12-08T01:02:03Z" (fraction and offset allowed) or a number of Unix seconds.
 * Returns 0 or -EINVAL. */
int access_time_parse(const char *s, int64_t *out);

/* ---- socket messages and login decisions (access_login.c) ---- */

enum access_msg_type {
	ACCESS_MSG_LOGIN,
	ACCESS_MSG_SESSION,	  /* register a recorded session */
	ACCESS_MSG_SESSION_OTHER, /* session-start, session-data, session-end */
};

struct access_query {
	enum access_msg_type type;
	const char *account, *cert, *connection; /* login */
	int64_t pid;				 /* session */
	const char *identity, *session_id;	 /* session */
	json_t *root;				 /* owns the strings */
};

/* Parses one socket message: a JSON object with a known "type" and the fields it needs
 * (account a valid account name, cert base64 text, connection at most 256 bytes; pid > 1;
 * identity and session_id short printable names). Returns 0 with *q (access_query_free),
 * or -EBADMSG with a reason in err. */
int access_query_parse(const void *data, size_t len, struct access_query *q, char *err,
		       size_t errlen);
void access_query_free(struct access_query *q);

/* "CLIENT_ADDR CLIENT_PORT SERVER_ADDR SERVER_PORT" (sshd's %C) -> the client's address.
 * Returns 0 or -EINVAL. */
int access_connection_source(const char *connection, struct sockaddr_storage *out);

/* What the host knows when it decides. */
struct access_env {
	const struct access_policy_set *policies; /* NULL: deny all */
	const struct access_bundle *bundle;	  /* NULL: no bundle (deny all) */
	const struct access_bundle *local;	  /* revocations since; may be NULL */
	struct access_host host;
	int64_t now;
	int posture;
	uint32_t open_alerts[4];
};

struct access_outcome {
	bool allow;
	char reason[256];
	char identity[ACCESS_NAME_MAX + 1];
	char grant[ACCESS_NAME_MAX + 1];
	char policy[ACCESS_NAME_MAX + 1];
	char source[64];
	uint64_t serial;
	bool has_serial;
};

/* Decides a login as account with the certificate cert_b64 (base64, as sshd's %k) from
 * connection: the certificate decodes, is a user certificate signed by the bundle's CA,
 * valid now, names account, is not revoked (serial, key id), carries the identity
 * extension; the identity is not disabled; the grant its key id names (IDENTITY/GRANT/SERIAL,
 * "-" for none) is active for this host and account; then access_decide. Never fails:
 * anything wrong is a deny with its reason. */
void access_login_decide(const struct access_env *env, const char *account, const char *cert_b64,
			 const char *connection, struct access_outcome *out);
/* The RECORD_ACCESS_EVENT payload of an outcome: {"event": "login" | "denied", identity,
 * account, grant, serial, source, policy, reason, time, time_ns} (caller decrefs). */
json_t *access_outcome_json(const struct access_outcome *o, const char *account, int64_t now);

/* ---- the role (access.c) ---- */

struct access;

struct access_options {
	const char *state_dir;
	const struct agent_config *cfg;	      /* host id, labels (borrowed) */
	const struct agent_yaml_access *yaml; /* access: keys (borrowed) */
	const char *hostname;		      /* NULL: gethostname() */
	bool no_files; /* write nothing for sshd (an agent watching another root than "/") */
	/* Queues a response action (kill-process of a session, lock-user) for a revocation.
	 * Called on the thread that called access_revoke. */
	void (*act)(void *arg, const Action *a);
	void *act_arg;
};

typedef void (*access_notify_fn)(void *arg);

/* Loads what STATE holds, writes the sshd files when a bundle with a CA is there, binds
 * STATE/access.sock and starts the thread. notify is called (from the access thread) when
 * records wait. Returns 0 or a negative errno with a message in err. */
int access_start(const struct access_options *o, access_notify_fn notify, void *arg,
		 struct access **out, char *err, size_t errlen);
/* Stops the thread and removes the socket. Accepts NULL; idempotent. */
void access_stop(struct access *ac);
void access_free(struct access *ac);
/* A new bundle was saved in STATE/access: reload it (on the access thread). Thread-safe. */
void access_bundle_changed(struct access *ac);
/* An alert the detector raised (any thread). */
void access_alert(struct access *ac, int sigma_level, int64_t time_ns);
/* The posture score of the latest scan (0..100; -1 unknown). Thread-safe. */
void access_set_posture(struct access *ac, int score);
/* Command access-revoke: the identity is disabled and the serials revoked at once (KRL
 * rewritten, STATE/access-local.json saved), its registered sessions ended and the accounts
 * locked (through o->act), and a {"event": "revoked"} record queued. Returns 0 or -EINVAL
 * (no valid identity). */
int access_revoke(struct access *ac, const Immune__V1__AccessRevoke *rv);
/* A record the collector produced: a RECORD_SCAN's summary score becomes the posture. */
void access_scan_record(struct access *ac, const struct agent_record *rec);
/* Moves the waiting records into out. Thread-safe. */
void access_take(struct access *ac, struct agent_records *out);
/* For STATE/status.json (caller decrefs). */
json_t *access_status(struct access *ac);

/* ---- the client side ---- */

/* Registers a recorded session with the agent of state_dir (the session recorder calls it
 * once the session's process runs). Returns 0, or a negative errno (-ECONNREFUSED: no
 * agent; -EPERM: refused). */
int access_session_register(const char *state_dir, pid_t pid, const char *identity,
			    const char *session_id);
/* Sends one message to STATE/access.sock and reads the answer into answer (NUL-terminated),
 * within timeout_ms overall. Returns the answer's length or a negative errno. */
int access_sock_call(const char *state_dir, const char *msg, size_t len, char *answer,
		     size_t answer_size, int timeout_ms);

/* immune-agent principals (principals.c). Returns the exit code (always 0 but usage). */
int agent_principals_main(int argc, char **argv);
