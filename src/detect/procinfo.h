/* Process enrichment from /proc (docs/sensors.md "Process"): image, command line, working
 * directory, uids, login uid, tty, cgroup and container id, and a small pid cache so that a
 * parent's image and command line are known after it exec'd or exited.
 *
 * All reads go through fixed, bounded buffers (no allocation per event); root is the
 * directory /proc lives under ("/" on a host, a fixture directory in tests). */
#pragma once

#include "detect/event.h"

#include <sys/types.h>

#define PROCINFO_PATH_MAX 1024u /* image and cwd kept up to this many bytes */
#define PROCINFO_CMDLINE_MAX 8192u
#define PROCINFO_CACHE_CMDLINE 512u /* parent command lines are kept this long */

/* Fields of /proc/PID/stat and status the sensors use. */
struct procinfo_ids {
	pid_t ppid;
	uint32_t uid, euid;
	uint32_t loginuid; /* UINT32_MAX: unset */
	uint32_t tty_nr;   /* 0: none */
	char comm[16];
};

/* Parses a /proc/PID/stat line (comm may hold spaces and parentheses: the last ')' ends it):
 * sets ppid, tty_nr and comm. Returns 0 or -EBADMSG. */
int procinfo_parse_stat(const char *p, size_t len, struct procinfo_ids *out);
/* Parses /proc/PID/status for Uid: (real and effective). Returns 0 or -EBADMSG. */
int procinfo_parse_status(const char *p, size_t len, uint32_t *uid, uint32_t *euid);
/* Writes the tty name of a tty_nr ("pts/3", "tty1", "ttyS0", or "MAJ:MIN") into buf.
 * Returns the length, 0 when tty_nr is 0 (no terminal). */
size_t procinfo_tty_name(uint32_t tty_nr, char *buf, size_t size);
/* Joins a NUL-separated argv (as in /proc/PID/cmdline or read by the BPF program) with
 * spaces in place, dropping trailing NULs. Returns the new length. */
size_t procinfo_join_argv(char *p, size_t len);
/* The unified cgroup path from /proc/PID/cgroup text ("0::/system.slice/x.service"): points
 * *path at it inside p. Returns 0, or -ENOENT when there is no "0::" line. */
int procinfo_cgroup_path(const char *p, size_t len, const char **path, size_t *plen);
/* Finds a container id in a cgroup path: a run of 64 hex digits as a component or after
 * "docker-", "libpod-", "cri-containerd-", "crio-" (and before ".scope"). Writes it
 * NUL-terminated into id[65]. Returns 0 or -ENOENT. */
int procinfo_container_id(const char *path, size_t len, char id[65]);

/* The last component of a path (the whole string when it has no '/'). */
const char *procinfo_base_name(const char *path);
/* The exit code a wait status stands for: the status of a normal exit, 128 + the signal
 * number for a process killed by a signal. */
int procinfo_exit_code(uint32_t wait_status);

struct procinfo_users;
/* A uid -> name cache over root/etc/passwd (re-read at most every few seconds on a miss). */
int procinfo_users_new(const char *root, struct procinfo_users **out);
void procinfo_users_free(struct procinfo_users *u);
/* The name of uid, or NULL when unknown. The pointer lives until the next call. */
const char *procinfo_user_name(struct procinfo_users *u, uint32_t uid);

/* The pid cache: direct-mapped, fixed number of slots; a colliding pid replaces the older
 * entry. Each entry is allocated at its strings' size and freed when its process exits, so
 * the cache costs what the live processes need, not slots x the longest paths. */
struct procinfo_entry {
	pid_t pid;
	uint16_t image_len, cmdline_len; /* at most PROCINFO_PATH_MAX - 1, CACHE_CMDLINE - 1 */
	char name[64];
	const char *image; /* NUL-terminated, in the entry's allocation */
	const char *cmdline;
	char data[];
};
struct procinfo_cache;
/* Returns 0 with a cache of slots entries (rounded up to a power of two), or -EINVAL. */
int procinfo_cache_new(size_t slots, struct procinfo_cache **out);
void procinfo_cache_free(struct procinfo_cache *c);
/* Records pid's image, name and command line (cut to the entry's sizes). */
void procinfo_cache_put(struct procinfo_cache *c, pid_t pid, const char *image, size_t ilen,
			const char *name, const char *cmdline, size_t clen);
/* The entry of pid, or NULL. Valid until the next put. */
const struct procinfo_entry *procinfo_cache_get(struct procinfo_cache *c, pid_t pid);
void procinfo_cache_del(struct procinfo_cache *c, pid_t pid);
/* The entry of pid from the cache, or read from root/proc/PID and cached; NULL when the
 * process is gone. */
const struct procinfo_entry *procinfo_cache_lookup(struct procinfo_cache *c, const char *root,
						   pid_t pid);

/* Reads root/proc/PID/... and sets the process fields of ev (EF_IMAGE, EF_PROCESS_NAME,
 * EF_COMMAND_LINE, EF_CURRENT_DIRECTORY, EF_PID, EF_PPID, EF_UID, EF_USER, EF_EUID,
 * EF_LOGIN_UID, EF_TTY, EF_CGROUP, EF_CONTAINER_ID) and, through the cache, the parent's
 * (EF_PARENT_IMAGE, EF_PARENT_NAME, EF_PARENT_COMMAND_LINE); records pid in the cache.
 * users may be NULL. Returns 0, or -ENOENT when the process is already gone. */
int procinfo_read_process(const char *root, pid_t pid, struct procinfo_cache *cache,
			  struct procinfo_users *users, struct host_event *ev);
/* Sets the parent fields of ev from the cache (reading /proc on a miss). */
void procinfo_set_parent(struct procinfo_cache *c, const char *root, pid_t ppid,
			 struct host_event *ev);
/* Sets EF_CGROUP and EF_CONTAINER_ID from a cgroup path. */
void procinfo_set_cgroup(struct host_event *ev, const char *path, size_t len);
