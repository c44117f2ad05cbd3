/* The agent's state directory and its configuration file (docs/agent.md).
 *
 * STATE (default /var/lib/immune-agent, mode 0700) holds:
 *   agent.yaml        server, host_id, labels (written by enroll)
 *   host.key          the host's Ed25519 key (0600); host.crt its certificate; ca.crt the CA
 *   machine-id        the id sent when enrolling, so re-enrolling keeps the host id
 *   catalog/          the compliance catalog the server sent; catalog.digest its digest
 *   inventory.state   digests of the inventory tables last spooled (collect.h)
 *   spool/            the durable spool (spool.h)
 *   status.json       what the running agent last reported (immune-agent status reads it)
 * Every file is written atomically (temporary file, fsync, rename, fsync of the directory). */
#pragma once

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#define AGENT_DEFAULT_STATE_DIR "/var/lib/immune-agent"
#define AGENT_MAX_LABELS 64
#define AGENT_MACHINE_ID_MAX 64

struct agent_label {
	char *key;
	char *value;
};

struct agent_config {
	char *server;  /* HOST:PORT */
	char *host_id; /* from the certificate the server issued */
	struct agent_label *labels;
	size_t n_labels;
};

/* Creates dir (and missing parents) with mode 0700, or tightens an existing dir's mode to
 * 0700 when it is ours. Returns 0 or a negative errno. */
int agent_state_init(const char *dir);
/* Returns a new string "dir/name". */
char *agent_state_path(const char *dir, const char *name);

/* Parses "key=value" (key: 1..64 of [A-Za-z0-9_.-], value: printable, at most 1024 bytes)
 * and adds or replaces the label in cfg. Returns 0 or -EINVAL. */
int agent_config_add_label(struct agent_config *cfg, const char *kv);
/* Loads STATE/agent.yaml. Returns 0 with *cfg filled (agent_config_free), -ENOENT when the
 * agent is not enrolled, or -EBADMSG with a message in err (size errsize). Unknown keys are
 * errors. */
int agent_config_load(const char *dir, struct agent_config *cfg, char *err, size_t errsize);
/* Writes STATE/agent.yaml atomically. */
int agent_config_save(const char *dir, const struct agent_config *cfg);
void agent_config_free(struct agent_config *cfg);

/* The machine id enroll sends: STATE/machine-id when present (re-enrolling), else
 * machine_id_file (normally /etc/machine-id; NULL to skip) when it holds 32 hex digits,
 * else a new random id. The id chosen is saved in STATE/machine-id. out must hold
 * AGENT_MACHINE_ID_MAX + 1 bytes. Returns 0 or a negative errno. */
int agent_machine_id(const char *dir, const char *machine_id_file, char *out);

/* Splits "HOST:PORT" or "[V6]:PORT" into host (size hostsize) and port. Returns 0 or
 * -EINVAL. */
int agent_split_server(const char *server, char *host, size_t hostsize, uint16_t *port);
