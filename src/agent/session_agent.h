/* The agent's side of recorded sessions (docs/sessions.md): it takes the recorder's
 * messages (session_msg.h) from STATE/access.sock and turns each into a RECORD_SESSION
 * record for STREAM_ALERTS, through a callback (the same queue the responder's results
 * take to the link).
 *
 * A RECORD_SESSION payload is a JSON object {"session": ID, "part": N, "cast": TEXT, ...}:
 * part 0 carries the asciicast header line and the session's facts (identity,
 * identity_verified, account, uid, pid, command, width, height, started_ns); the parts after it carry event lines; the last
 * one carries "ended_ns" and "exit" (null when the recorder went away without saying).
 * Every payload is at most SESSION_AGENT_RECORD_MAX bytes.
 *
 * Not thread-safe: the caller (the socket's owner) serialises calls. */
#pragma once

#include "lib/common.h"

#include "access/sshcert.h"

#include <jansson.h>
#include <sys/types.h>

#define SESSION_AGENT_MAX 256	     /* open sessions on a host, at most */
#define SESSION_AGENT_MAX_PER_UID 32 /* open sessions of one account, at most */
#define SESSION_AGENT_RECORD_MAX (96u * 1024)

struct session_agent;

/* Receives one record payload (JSON text, len bytes, not NUL-terminated) made at time_ns. */
typedef void (*session_agent_emit_fn)(void *arg, const char *payload, size_t len, int64_t time_ns);

struct session_agent_options {
	/* Checks that uid may speak for account (default: getpwuid_r(uid)'s name equals it);
	 * tests replace it. Returns true when it may. */
	bool (*account_ok)(uid_t uid, const char *account);
};

/* o may be NULL (defaults). emit is called from inside session_agent_handle. */
struct session_agent *session_agent_new(const struct session_agent_options *o,
					session_agent_emit_fn emit, void *arg);
/* The SSH CA key (NULL: none). With one, a session-start that names an identity must carry
 * the certificate sshd accepted ("cert", base64): signed by this CA, for the caller's
 * account as a principal, its key id "IDENTITY/..." naming that identity; otherwise it is
 * refused. Its records say "identity_verified": true. Without one, the identity is as the
 * recorder claims it ("identity_verified": false). */
void session_agent_set_ca(struct session_agent *sa, const struct ssh_ed25519_key *ca);
/* Ends every open session (a last part with exit null), then frees. Accepts NULL. */
void session_agent_free(struct session_agent *sa);

/* Handles one message msg (borrowed) from the process pid of uid (SO_PEERCRED). Returns 0
 * with *answer (new reference {"ok": true} or {"ok": false, "error": why}); -EINVAL when msg
 * is not a session message at all (its "type" is not one of session_msg.h's). */
int session_agent_handle(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid,
			 json_t **answer);
/* Parses the raw message then handles it: as session_agent_handle, and a message that is
 * not a JSON object within SESSION_MSG_MAX bytes gets {"ok": false}. */
int session_agent_handle_raw(struct session_agent *sa, const void *msg, size_t len, uid_t uid,
			     pid_t pid, json_t **answer);
/* The recorder process ids of identity's open sessions (at most max into out); returns how
 * many there are (may exceed max). Signal them (SIGTERM) to end the sessions: a recorder
 * hangs up its command and ends its session. */
size_t session_agent_pids_of(struct session_agent *sa, const char *identity, pid_t *out,
			     size_t max);
/* The recorder pid went away (its connection closed): its open sessions end, exit null. */
void session_agent_peer_gone(struct session_agent *sa, pid_t pid);
/* Open sessions. */
size_t session_agent_count(const struct session_agent *sa);
