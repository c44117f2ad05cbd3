/* immune-server: the agents' listener (mutual TLS, framed protobuf), enrollment, ingest into
 * the store, revocation and the operators' HTTPS JSON API, on one libevent loop
 * (docs/server.md). */
#pragma once

#include "lib/common.h"

struct server;

struct server_options {
	const char *data_dir;	      /* created 0700 when missing (required) */
	const char *listen_addr;      /* agents; "ADDR:PORT", port 0: ephemeral */
	const char *api_addr;	      /* operators' API; likewise */
	const char *const *names;     /* extra server certificate names (NULL-terminated or NULL) */
	const char *catalog_dir;      /* the catalog sent to agents (NULL: none) */
	const char *rules_dir;	      /* detection rules sent to agents (NULL: none) */
	const char *playbooks_dir;    /* response playbooks the server runs (NULL: none) */
	uint32_t cert_lifetime_s;     /* host certificates (0: 24 h) */
	int64_t retention_s;	      /* telemetry kept (-1: the store's default, 0: for ever) */
	uint32_t max_agents;	      /* connections held at once (0: unlimited) */
	uint32_t heartbeat_s;	      /* told to agents (0: 30 s); idle timeout is 3x */
	uint32_t preauth_deadline_ms; /* handshake and first frame (0: 10 s) */
	size_t ingest_limit_bytes;    /* store queue above which agents are paused (0: 64 MiB) */
	bool handle_signals;	      /* SIGTERM/SIGINT stop the loop (the daemon; not tests) */
	const char *session_command;  /* certificates' force-command (NULL: the default) */
	int64_t access_unused_s;      /* grants unused this long are revoked (0: 30 days) */
};

/* The counters of docs/api.md "counters"; server_counter_name() gives their names. */
enum server_counter {
	CTR_ENROLL_OK,
	CTR_ENROLL_BAD_TOKEN,
	CTR_ENROLL_TOKEN_EXPIRED,
	CTR_ENROLL_TOKEN_USED_UP,
	CTR_ENROLL_BAD_CSR,
	CTR_CONNECT_OK,
	CTR_CONNECT_REVOKED,
	CTR_CONNECT_IDENTITY_MISMATCH,
	CTR_CONNECT_UNKNOWN_HOST,
	CTR_TLS_HANDSHAKE_FAILED,
	CTR_HANDSHAKE_TIMEOUT,
	CTR_FRAME_TOO_LARGE,
	CTR_FRAME_GARBAGE,
	CTR_PROTOCOL_VIOLATION,
	CTR_BATCHES_THROTTLED,
	CTR_IDLE_TIMEOUT,
	CTR_CONNECTIONS_REFUSED, /* --max-agents reached */
	CTR_INGEST_ERRORS,
	CTR_RENEW_OK,
	CTR_RENEW_REFUSED,
	CTR_REPLACED, /* a host reconnected: its old connection was closed */
	CTR_REVOKE_DISCONNECTED,
	CTR_COMMANDS_SENT,
	CTR_COUNT
};

/* Opens the data directory (first start: CA, server certificate, operator "admin",
 * client.yaml), the store and the catalog, and binds both listeners. Returns 0 and *out, or
 * a negative errno (logged here, with context: this is the daemon's set-up). */
int server_new(const struct server_options *opt, struct server **out);
/* Runs the event loop until server_stop(). Returns 0 or a negative errno. */
int server_run(struct server *s);
/* Asks the loop to stop: listeners close, connections close, server_run() returns. Safe from
 * any thread (not from a signal handler: use handle_signals). */
void server_stop(struct server *s);
/* Commits what the store has queued, then frees everything. Accepts NULL. */
void server_free(struct server *s);

/* Bound ports (useful when the options asked for port 0). */
uint16_t server_agent_port(const struct server *s);
uint16_t server_api_port(const struct server *s);
/* True when this start created the data directory's operator and client.yaml. */
bool server_first_start(const struct server *s);
/* A counter's value (read from any thread; approximate while the loop runs). */
uint64_t server_counter(const struct server *s, enum server_counter c);
/* Static name of a counter ("enroll_ok", ...). */
const char *server_counter_name(enum server_counter c);
/* Agents currently connected with a verified identity. */
size_t server_agents_connected(const struct server *s);
