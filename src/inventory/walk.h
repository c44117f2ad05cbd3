/* The bounded file system walk behind the special_files and walk tables.
 *
 * One parallel walk of every local file system below the root finds SUID/SGID files,
 * world-writable files, world-writable directories without the sticky bit, and regular files
 * and directories whose owner or group is not in the root's /etc/passwd or /etc/group
 * (symlinks, devices, FIFOs and sockets are neither stat'ed nor reported). Pseudo and network
 * file systems (proc, sysfs, devtmpfs, devpts, cgroup, debugfs, autofs, nfs, cifs, fuse, ...)
 * are not entered; their mount points are listed in walk.skipped. tmpfs is walked: /tmp,
 * /run and /var/tmp on tmpfs must be checked for world-writable directories without the
 * sticky bit; /dev/shm lies below /dev (devtmpfs), which is skipped. The walk runs in
 * its own threads while the other collectors run: walk_start() starts it, walk_finish() waits
 * for it and fills the tables. Symlinks are never followed: directories are opened with
 * openat(parent, name, O_NOFOLLOW) on names read from the parent, so the walk cannot leave
 * the root. */
#pragma once

#include "inventory/inventory.h"

struct walk;

/* At most this many special_files rows; past it walk.rows_truncated is set. */
#define WALK_MAX_ROWS 10000
/* Default entry limit (inv_options.walk_max_entries = 0). */
#define WALK_DEFAULT_MAX_ENTRIES 2000000
/* Directories deeper than this are not entered (walk.truncated is set). */
#define WALK_MAX_DEPTH 256

/* Starts walking root in background threads; the threads use only private memory. Returns 0
 * with *out set (the caller must call walk_finish()), or a negative errno. root must outlive
 * the walk. */
int walk_start(struct fsroot *root, const struct inv_options *opt, struct walk **out);
/* Waits for the walk, adds its rows to the special_files and walk tables (and errors), and
 * frees it. Accepts NULL. */
void walk_finish(struct walk *w, struct inv_ctx *ctx);
/* Number of walker threads used (for benchmarks). */
unsigned walk_threads(void);
