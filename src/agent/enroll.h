/* Enrollment: `immune-agent enroll` (docs/agent.md).
 *
 * Generates the host key and a CSR, connects to the server with a TLS context that accepts
 * only the CA pinned by the join token, sends an EnrollRequest and saves what the server
 * issued in the state directory (agent_config.h). Blocking, with timeouts: it runs before
 * the agent's event loop exists. */
#pragma once

#include "agent/agent_config.h"

#define ENROLL_DEFAULT_TIMEOUT_S 10

struct enroll_options {
	const char *state_dir;
	const char *server;	     /* HOST:PORT */
	const char *token;	     /* text form (token.h) */
	const char *machine_id_file; /* normally /etc/machine-id; NULL: none */
	const char *const *labels;   /* "k=v", NULL-terminated; NULL: keep the saved ones */
	unsigned timeout_s;	     /* connect, handshake and each read (0: default) */
};

struct enroll_result {
	char host_id[65];
	int refusal;	    /* Refusal.Reason when the server refused (return -EPERM) */
	char message[1024]; /* a sentence saying what went wrong and what to do */
};

/* Enrolls; returns 0 with res->host_id set, or a negative errno with res->message filled:
 * -EPERM when the server refused (res->refusal set), -EINVAL for a malformed token,
 * server address or label, -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH for the network,
 * -EKEYREJECTED when the server's CA does not match the token's pin, -EPROTO for a bad
 * answer, or a file error saving the state. */
int agent_enroll(const struct enroll_options *o, struct enroll_result *res);

/* Returns a sentence explaining a Refusal.Reason (never NULL). */
const char *agent_refusal_text(int reason);

/* Connects to host:port within timeout_s seconds; returns a connected blocking socket with
 * send/receive timeouts of timeout_s, or a negative errno. */
int agent_tcp_connect(const char *host, uint16_t port, unsigned timeout_s);
