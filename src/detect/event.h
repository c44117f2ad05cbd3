/* The normalized event model (docs/events.md). Named host_event, not event, because
 * libevent owns struct event and the event_* names (a static library symbol would silently
 * replace its event_free).
 *
 * Every sensor produces struct host_event: a kind (which fixes the OCSF class and activity) and a
 * set of string fields from one fixed table (EVENT_FIELDS below). Sigma rules are compiled
 * against the field ids, never against names, so evaluation does no lookups by name. Numbers
 * (pids, uids, ports) are stored as their decimal text, the form rules compare.
 *
 * An event owns its text in an arena that grows up to EVENT_MAX_BYTES; a field that would
 * overflow it is cut and the event is marked truncated (nothing is ever read or written
 * out of bounds). Events are reused: host_event_reset() keeps the arena.
 *
 * The OCSF JSON form (event_json.h) is the one serialized form: what the agent spools, what
 * `immune-agent events` prints, what outputs send and what replay tests are written in. */
#pragma once

#include "lib/common.h"

/* X(id, name, ocsf_path, flags): name is the field's name in docs and errors; ocsf_path is
 * where the JSON form puts it. EVENT_FIELD_PROCESS: the path is relative to the process the
 * event is about: "process." for process events, "actor.process." for every other class.
 * EVENT_FIELD_NUMBER: written as a JSON integer when the text is a decimal number. */
#define EVENT_FIELD_PROCESS 0x1u
#define EVENT_FIELD_NUMBER 0x2u

#define EVENT_FIELDS(X)                                                                            \
	/* the process (the new one for process events, the actor otherwise) */                    \
	X(EF_IMAGE, "image", "file.path", EVENT_FIELD_PROCESS)                                     \
	X(EF_PROCESS_NAME, "process_name", "name", EVENT_FIELD_PROCESS)                            \
	X(EF_COMMAND_LINE, "command_line", "cmd_line", EVENT_FIELD_PROCESS)                        \
	X(EF_CURRENT_DIRECTORY, "current_directory", "working_directory", EVENT_FIELD_PROCESS)     \
	X(EF_PID, "pid", "pid", EVENT_FIELD_PROCESS | EVENT_FIELD_NUMBER)                          \
	X(EF_USER, "user", "user.name", EVENT_FIELD_PROCESS)                                       \
	X(EF_UID, "uid", "user.uid", EVENT_FIELD_PROCESS)                                          \
	X(EF_EUID, "euid", "euid", EVENT_FIELD_PROCESS | EVENT_FIELD_NUMBER)                       \
	X(EF_LOGIN_UID, "login_uid", "auid", EVENT_FIELD_PROCESS | EVENT_FIELD_NUMBER)             \
	X(EF_TTY, "tty", "session.terminal", EVENT_FIELD_PROCESS)                                  \
	X(EF_CGROUP, "cgroup", "xattributes.cgroup", EVENT_FIELD_PROCESS)                          \
	X(EF_CONTAINER_ID, "container_id", "container.uid", EVENT_FIELD_PROCESS)                   \
	X(EF_PARENT_IMAGE, "parent_image", "parent_process.file.path", EVENT_FIELD_PROCESS)        \
	X(EF_PARENT_NAME, "parent_name", "parent_process.name", EVENT_FIELD_PROCESS)               \
	X(EF_PARENT_COMMAND_LINE, "parent_command_line", "parent_process.cmd_line",                \
	  EVENT_FIELD_PROCESS)                                                                     \
	X(EF_PPID, "ppid", "parent_process.pid", EVENT_FIELD_PROCESS | EVENT_FIELD_NUMBER)         \
	X(EF_EXIT_CODE, "exit_code", "exit_code", EVENT_FIELD_NUMBER)                              \
	/* files */                                                                                \
	X(EF_TARGET_FILENAME, "target_filename", "file.path", 0)                                   \
	X(EF_RENAMED_FILENAME, "renamed_filename", "file_result.path", 0)                          \
	X(EF_FILE_SHA256, "file_sha256", "file.hashes", 0)                                         \
	X(EF_FILE_PREV_SHA256, "file_prev_sha256", "unmapped.prev_sha256", 0)                      \
	X(EF_FILE_MODE, "file_mode", "unmapped.mode", 0)                                           \
	X(EF_FILE_OWNER, "file_owner", "file.owner.name", 0)                                       \
	X(EF_FILE_DIFF, "file_diff", "unmapped.diff", 0)                                           \
	/* network */                                                                              \
	X(EF_SRC_IP, "src_ip", "src_endpoint.ip", 0)                                               \
	X(EF_SRC_PORT, "src_port", "src_endpoint.port", EVENT_FIELD_NUMBER)                        \
	X(EF_DST_IP, "dst_ip", "dst_endpoint.ip", 0)                                               \
	X(EF_DST_PORT, "dst_port", "dst_endpoint.port", EVENT_FIELD_NUMBER)                        \
	X(EF_PROTOCOL, "protocol", "connection_info.protocol_name", 0)                             \
	X(EF_DIRECTION, "direction", "connection_info.direction", 0)                               \
	/* authentication, accounts, sudo */                                                       \
	X(EF_TARGET_USER, "target_user", "user.name", 0)                                           \
	X(EF_TARGET_UID, "target_uid", "user.uid", 0)                                              \
	X(EF_ACTOR_USER, "actor_user", "actor.user.name", 0)                                       \
	X(EF_GROUP_NAME, "group_name", "group.name", 0)                                            \
	X(EF_AUTH_METHOD, "auth_method", "auth_protocol", 0)                                       \
	X(EF_OUTCOME, "outcome", "status", 0)                                                      \
	X(EF_SERVICE, "service", "service.name", 0)                                                \
	X(EF_KEY_FINGERPRINT, "key_fingerprint", "unmapped.key_fingerprint", 0)                    \
	X(EF_CERT_ID, "cert_id", "unmapped.cert_id", 0)                                            \
	X(EF_SUDO_COMMAND, "sudo_command", "unmapped.sudo_command", 0)                             \
	/* kernel modules */                                                                       \
	X(EF_MODULE_NAME, "module_name", "module.file.name", 0)                                    \
	/* the raw source line (log sensors), for keyword rules */                                 \
	X(EF_MESSAGE, "message", "raw_data", 0)                                                    \
	/* set by the pipeline */                                                                  \
	X(EF_HOSTNAME, "hostname", "device.hostname", 0)                                           \
	X(EF_SENSOR, "sensor", "metadata.log_provider", 0)

enum event_field {
#define EVENT_X_ENUM(id, name, path, flags) id,
	EVENT_FIELDS(EVENT_X_ENUM)
#undef EVENT_X_ENUM
		EF_COUNT
};

/* X(id, name, ocsf_class_uid, ocsf_activity_id, sigma_category): name is the kind's name in
 * docs and JSON ("process_exec"); sigma_category is the Sigma logsource it feeds (category,
 * or service for log lines), NULL when no Sigma category applies. */
#define EVENT_KINDS(X)                                                                             \
	X(EVENT_PROCESS_EXEC, "process_exec", 1007, 1, "process_creation")                         \
	X(EVENT_PROCESS_EXIT, "process_exit", 1007, 2, NULL)                                       \
	X(EVENT_FILE_CREATE, "file_create", 1001, 1, "file_event")                                 \
	X(EVENT_FILE_READ, "file_read", 1001, 2, "file_access")                                    \
	X(EVENT_FILE_MODIFY, "file_modify", 1001, 3, "file_change")                                \
	X(EVENT_FILE_DELETE, "file_delete", 1001, 4, "file_delete")                                \
	X(EVENT_FILE_RENAME, "file_rename", 1001, 5, "file_rename")                                \
	X(EVENT_FILE_ATTR, "file_attr", 1001, 6, "file_change")                                    \
	X(EVENT_NET_CONNECT, "net_connect", 4001, 1, "network_connection")                         \
	X(EVENT_NET_ACCEPT, "net_accept", 4001, 1, "network_connection")                           \
	X(EVENT_NET_LISTEN, "net_listen", 4001, 7, NULL)                                           \
	X(EVENT_NET_LISTEN_CLOSE, "net_listen_close", 4001, 2, NULL)                               \
	X(EVENT_AUTH_LOGON, "auth_logon", 3002, 1, "auth")                                         \
	X(EVENT_AUTH_LOGOFF, "auth_logoff", 3002, 2, "auth")                                       \
	X(EVENT_SUDO, "sudo", 3003, 1, "sudo")                                                     \
	X(EVENT_SU, "su", 3002, 1, "auth")                                                         \
	X(EVENT_ACCOUNT_CREATE, "account_create", 3001, 1, "auth")                                 \
	X(EVENT_ACCOUNT_MODIFY, "account_modify", 3001, 99, "auth")                                \
	X(EVENT_ACCOUNT_PASSWORD, "account_password", 3001, 3, "auth")                             \
	X(EVENT_ACCOUNT_DELETE, "account_delete", 3001, 6, "auth")                                 \
	X(EVENT_GROUP_CHANGE, "group_change", 3006, 99, "auth")                                    \
	X(EVENT_MODULE_LOAD, "module_load", 1005, 1, NULL)                                         \
	X(EVENT_LOG_LINE, "log_line", 1003, 99, "syslog")

enum event_kind {
	EVENT_NONE = 0,
#define EVENT_X_KIND(id, name, cls, act, cat) id,
	EVENT_KINDS(EVENT_X_KIND)
#undef EVENT_X_KIND
		EVENT_KIND_COUNT
};

/* Hard cap on the text an event holds (argv beyond it is cut, the event marked truncated). */
#define EVENT_MAX_BYTES (64u * 1024)

struct event_value {
	const char *p; /* NUL-terminated, inside the event's arena; NULL when absent */
	uint32_t len;
};

struct host_event {
	enum event_kind kind;
	int64_t time_ns; /* CLOCK_REALTIME of the occurrence */
	uint64_t id;	 /* set by the pipeline: unique per agent run (0 until then) */
	bool truncated;
	uint64_t present; /* bit f set when field f has a value */
	struct event_value v[EF_COUNT];
	char *arena;
	size_t used, cap;
};

_Static_assert(EF_COUNT <= 64, "the presence mask holds 64 fields");

void host_event_init(struct host_event *ev);
/* Clears the fields and sets kind and time; keeps the arena. */
void host_event_reset(struct host_event *ev, enum event_kind kind, int64_t time_ns);
void host_event_free(struct host_event *ev);

/* Copies len bytes of s as field f (replacing a previous value; embedded NULs cut the value
 * there). Past EVENT_MAX_BYTES the value is cut and ev->truncated set. Returns 0, or
 * -ENOMEM. */
int host_event_set(struct host_event *ev, enum event_field f, const char *s, size_t len);
int host_event_set_str(struct host_event *ev, enum event_field f, const char *s);
int host_event_set_int(struct host_event *ev, enum event_field f, int64_t v);
/* Copies every present field of src into dst (same kind, time and id). */
int host_event_copy(struct host_event *dst, const struct host_event *src);

static inline bool host_event_has(const struct host_event *ev, enum event_field f)
{
	return (ev->present >> f) & 1;
}

/* The value of f, or NULL (with *len 0 when len is not NULL). */
const char *host_event_get(const struct host_event *ev, enum event_field f, size_t *len);

/* Table lookups: names as in EVENT_FIELDS / EVENT_KINDS. */
const char *event_field_name(enum event_field f);
const char *event_field_ocsf_path(enum event_field f);
unsigned event_field_flags(enum event_field f);
/* Returns the field named name, or -ENOENT. */
int event_field_by_name(const char *name);
const char *event_kind_name(enum event_kind k);
int event_kind_by_name(const char *name); /* the kind, or -ENOENT */
uint32_t event_kind_class_uid(enum event_kind k);
uint32_t event_kind_activity_id(enum event_kind k);
const char *event_kind_sigma_category(enum event_kind k); /* NULL: none */
