/* Recorded sessions: the messages between the recorder (`immune-agent session`, run by sshd
 * as the logged-in user) and the agent, over STATE/access.sock (docs/sessions.md).
 *
 * One JSON object per SOCK_SEQPACKET message, at most SESSION_MSG_MAX bytes, field "type":
 *   "session-start" {session, identity, cert, account, command, width, height, pid,
 *                    timestamp, term, shell}   cert: the certificate's base64, or absent
 *   "session-data"  {session, part, data}   data: asciicast v2 event lines, each ending "\n"
 *   "session-end"   {session, exit}
 * The agent answers each with {"ok": bool, "error": text}. It takes the sender's uid and pid
 * from SO_PEERCRED, never from the message.
 *
 * The asciicast v2 helpers below are shared by the recorder (writer) and the agent (which
 * checks what the recorder sends); they are implemented in session_agent.c. */
#pragma once

#include "lib/buf.h"
#include "lib/common.h"

#define SESSION_SOCKET_NAME "access.sock"
#define SESSION_MSG_MAX (64u * 1024)
#define SESSION_ID_LEN 32		 /* lowercase hex characters */
#define SESSION_FLUSH_BYTES (32u * 1024) /* a session-data message is sent at this size... */
#define SESSION_FLUSH_MS 1000		 /* ...or this long after its first event */
#define SESSION_READ_MAX 2048		 /* bytes of output per asciicast event, at most */
#define SESSION_MAX_ACCOUNT 64
#define SESSION_MAX_IDENTITY 256
#define SESSION_MAX_COMMAND 4096
#define SESSION_MAX_TEXT 256	      /* term, shell */
#define SESSION_MAX_CERT (16u * 1024) /* base64 of the certificate */
#define SESSION_MAX_SIZE 10000	      /* terminal columns or rows */

#define SESSION_MSG_START "session-start"
#define SESSION_MSG_DATA "session-data"
#define SESSION_MSG_END "session-end"

/* Whether s is a session id: SESSION_ID_LEN lowercase hex characters. */
bool session_id_ok(const char *s);

/* The asciicast v2 writer: turns terminal output into event lines [T, "o", "TEXT"]\n.
 * Output is bytes, JSON wants UTF-8: a UTF-8 sequence cut by the end of a read is kept for
 * the next event; bytes that are not UTF-8 become U+FFFD. */
struct session_cast_writer {
	unsigned char carry[4];
	size_t n_carry;
};

/* Appends one event line of type ("o" output, "r" resize "COLSxROWS") at t seconds with the
 * bytes p[0..n) to out. Appends nothing when no whole character is ready yet. Returns the
 * bytes appended (>= 0), or -EMSGSIZE past out's cap (out unchanged, carry unchanged). */
int session_cast_event(struct session_cast_writer *w, double t, const char *type, const void *p,
		       size_t n, struct buf *out);
/* Writes what the writer still carries (an unfinished sequence) as U+FFFD at t. */
int session_cast_finish(struct session_cast_writer *w, double t, struct buf *out);
/* The asciicast v2 header line (ending "\n") into out. command, term, shell may be NULL. */
int session_cast_header(unsigned width, unsigned height, int64_t timestamp, const char *command,
			const char *term, const char *shell, struct buf *out);
/* Checks that text[0..len) is a run of complete asciicast v2 event lines: each a JSON array
 * [time, "o" | "r" | "i" | "m", string], times never below *last_time nor decreasing, at most
 * 1e9 seconds. Updates *last_time. Returns 0 or -EBADMSG. */
int session_cast_check_events(const char *text, size_t len, double *last_time);

/* session_rec.c: immune-agent session (the recorder). Returns the exit status. */
int agent_session_main(int argc, char **argv);
