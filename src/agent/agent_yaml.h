/* The agent's configuration file, /etc/immune/agent.yaml (docs/agent.md, "Configuration
 * file"): what the detector runs. Not to be confused with STATE/agent.yaml, the identity
 * enroll writes (agent_config.h).
 *
 *   sensors:
 *     process: {mechanism: auto}          # auto, ebpf, proc_connector, off
 *     network: {mechanism: auto, poll_interval: 1s}   # auto, ebpf, poll, off
 *     auth:    {mechanism: auto, logs: [/var/log/auth.log], journal: true}  # auto, off
 *     fim:     {mechanism: auto, paths: [/etc], scan_interval: 1h, cpu_percent: 10}
 *   baseline: {learning: 24h}
 *   outputs: [...]                          # output.h reads this list from the same file
 *   response: {playbooks: /etc/immune/playbooks,   # default: the set the server pushes
 *              isolation_lease: 2m}                # default 120 s; 2 s .. 1 h
 *   access: {dir: /etc/immune/ssh,                # ca.pub, revoked.krl
 *            sshd_dropin: /etc/ssh/sshd_config.d/50-immune-access.conf,
 *            manage_sshd: true,                   # false: no drop-in, no reload
 *            sshd_config: /etc/ssh/sshd_config,   # the main file the drop-in is checked with
 *            sshd_pid_file: /run/sshd.pid,        # the sshd that is reloaded
 *            principals_user: nobody,             # AuthorizedPrincipalsCommandUser
 *            principals_command: /usr/libexec/immune/immune-agent,   # default: this program
 *            alert_window: 24h}                   # alerts counted at login; 1 m .. 30 d
 *
 * Every key is optional; unknown keys and bad values are errors naming file:line:column. */
#pragma once

#include "detect/sensor.h"

#define AGENT_YAML_DEFAULT_PATH "/etc/immune/agent.yaml"
#define AGENT_YAML_MAX_BYTES (1u << 20)
#define AGENT_YAML_MAX_LIST 256	 /* entries of logs: and paths: */
#define AGENT_YAML_LEASE_MIN_S 2 /* response.isolation_lease bounds */
#define AGENT_YAML_LEASE_MAX_S 3600
#define AGENT_YAML_ACCESS_DIR "/etc/immune/ssh"
#define AGENT_YAML_SSHD_DROPIN "/etc/ssh/sshd_config.d/50-immune-access.conf"
#define AGENT_YAML_SSHD_CONFIG "/etc/ssh/sshd_config"
#define AGENT_YAML_SSHD_PID_FILE "/run/sshd.pid"
#define AGENT_YAML_PRINCIPALS_USER "nobody"
#define AGENT_YAML_ALERT_WINDOW_S 86400

enum agent_sensor_id {
	AGENT_SENSOR_PROCESS,
	AGENT_SENSOR_NETWORK,
	AGENT_SENSOR_AUTH,
	AGENT_SENSOR_FIM,
	AGENT_SENSOR_COUNT
};

struct agent_yaml {
	/* mechanisms point to static strings; root and state_dir are left to the caller */
	struct sensor_config sensors;
	bool enabled[AGENT_SENSOR_COUNT]; /* false: mechanism off */
	int64_t baseline_learning_ns;	  /* 0: the baseline's default (24 h) */
	bool has_outputs;		  /* the file has an outputs: key */
	char *response_playbooks;	  /* response: {playbooks: PATH}; NULL: the pushed set */
	uint32_t isolation_lease_s; /* response: {isolation_lease: D}; 0: the responder's default */
	struct agent_yaml_access {
		/* NULL: the AGENT_YAML_ default; principals_command: this program */
		char *dir, *sshd_dropin, *sshd_config, *sshd_pid_file;
		char *principals_user, *principals_command;
		bool manage_sshd;
		int64_t alert_window_s;
	} access;
};

/* Sets the defaults (every sensor auto, as sensor.h documents; access as above). */
void agent_yaml_defaults(struct agent_yaml *c);
/* Parses the text of a configuration file (name: for messages). Returns 0 with *c filled
 * (agent_yaml_free), or -EINVAL with "name:line:col: what is wrong" in err; *c is then
 * left with the defaults. */
int agent_yaml_parse(const char *text, size_t len, const char *name, struct agent_yaml *c,
		     char *err, size_t errlen);
/* Reads and parses path; a missing file gives the defaults. Returns 0, -EINVAL (err) or a
 * negative errno from reading (err). */
int agent_yaml_load(const char *path, struct agent_yaml *c, char *err, size_t errlen);
void agent_yaml_free(struct agent_yaml *c);
/* "process", "network", "auth", "fim". */
const char *agent_sensor_name(enum agent_sensor_id id);
