/* Internal to the file and fix actions (act_file.c, act_fix.c, act_edit.c; not an API for
 * other modules): text edits on buffers, which tests and fuzz/fuzz_fix_edit.c reach without
 * touching the host, and the file helpers both action files use (docs/actions-files.md). */
#pragma once

#include "lib/buf.h"
#include "respond/act.h"

#include <sys/stat.h>

#define ACT_FILE_MAX (1u << 20) /* files an action reads or rewrites */
#define ACT_SHA_HEX 65		/* 64 hex digits and a NUL */

/* ---- key/value configuration files (act_edit.c) ---- */

/* One setting: key = value, written as key, separator, value. */
struct act_kv {
	const char *key;     /* letters, digits, '_', '.', '-', '/' (at most 128) */
	const char *value;   /* one line of text (at most 1024) */
	const char *sep;     /* " ", "\t", "=", " = ", ":" or ": " (NULL: " ") */
	const char *section; /* NULL: the global part; else an INI "[section]" */
};

/* Checks a setting's fields. Returns 0, or -EINVAL with a one-line reason in err. */
int act_kv_check(const struct act_kv *kv, char *err, size_t errlen);
/* Writes to out (replacing it) the text with the setting in place. The scope is the global
 * part (the lines before the first "[section]" header or "Match" block) or the lines of
 * the named section. Every active line of key in scope (key compared ignoring case, then
 * white space, '=' or ':') becomes key, sep, value with its indentation kept; when there is
 * none, one line is added at the end of the scope (a missing section is appended). All
 * other bytes are kept. Returns 1 when the text changed, 0 when it already held the value,
 * -EFBIG over ACT_FILE_MAX, -EMEDIUMTYPE when text holds a NUL byte, -EINVAL (bad kv). */
int act_kv_set(const char *text, size_t len, const struct act_kv *kv, struct buf *out);
/* Copies the value of the first active line of key in scope (trailing white space dropped)
 * to value. Returns 1 when found, 0 when absent, or a negative errno as act_kv_set. */
int act_kv_get(const char *text, size_t len, const struct act_kv *kv, char *value, size_t valuelen);

/* ---- cron tables (act_edit.c) ---- */

#define ACT_CRON_MARK "#immune-disabled:"

/* Returns true when path may be edited by disable-cron: /etc/crontab, or a file directly in
 * /etc/cron.d/ or /var/spool/cron/crontabs/. */
bool act_cron_path_ok(const char *path);
/* Counts the active lines equal to entry (trailing white space and '\r' ignored on both). */
unsigned act_cron_active(const char *text, size_t len, const char *entry);
/* Writes to out the text with every active line equal to entry prefixed by
 * ACT_CRON_MARK UID and a space. Returns the number of lines commented out, or -EFBIG,
 * -EMEDIUMTYPE as act_kv_set. */
int act_cron_disable(const char *text, size_t len, const char *entry, const char *uid,
		     struct buf *out);
/* Writes to out the text with the ACT_CRON_MARK UID prefix removed from every line that
 * carries it. Returns the number of lines restored, or a negative errno. */
int act_cron_enable(const char *text, size_t len, const char *uid, struct buf *out);

/* ---- files on the host (act_file.c) ---- */

/* Opens path (absolute) from "/" following no symlink on the way (openat2 with
 * RESOLVE_NO_SYMLINKS); flags as for open (O_CLOEXEC is added). Returns a descriptor or a
 * negative errno (-ELOOP when a component is a symlink). */
int act_open(const char *path, int flags, mode_t mode);
/* Opens path like act_open() but first as O_PATH: only when it is a regular file (or, with
 * dirs, a directory) is it reopened for reading, so that a device node or FIFO is never
 * opened. Writes its status to st. Returns a descriptor, -EINVAL for another type, or a
 * negative errno. */
int act_open_file(const char *path, bool dirs, struct stat *st);
/* Returns true when path is /proc, /sys, /dev or /run or below them. */
bool act_path_virtual(const char *path);
/* Returns a reason ("the shadow password file") when path, or the file it names (same
 * device and inode), is protected: the account databases, sudoers, the dynamic loader,
 * the shell, or the agent's state directory (the parent of state_dir); NULL otherwise. */
const char *act_path_protected(const char *path, const char *state_dir);
/* Reads the regular file path (reached without symlinks) into out, at most ACT_FILE_MAX
 * bytes, and its status into st. Returns 0, -ENOENT, -ELOOP, -EINVAL (not a regular
 * file), -EFBIG or another negative errno. */
int act_file_read(const char *path, struct buf *out, struct stat *st);
/* Replaces path with len bytes of data atomically: a temporary file in the same directory
 * (reached without symlinks), fchown/fchmod to uid, gid, mode, fsync, rename, fsync of the
 * directory. Returns 0 or a negative errno (the temporary file is removed). */
int act_file_replace(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
		     gid_t gid);
/* The SHA-256 of what is left to read of fd, or of len bytes at data, as hex. */
int act_sha256_fd(int fd, char hex[ACT_SHA_HEX]);
int act_sha256_mem(const void *data, size_t len, char hex[ACT_SHA_HEX]);

/* Keeps the current state of path before an action rewrites it: its content (when it
 * exists) goes to STATE/respond/quarantine/files/UID (0600), and undo gains "file",
 * "existed", and when it existed "mode", "uid", "gid", "sha256". Returns 0 or a negative
 * errno. */
int act_keep_before(const struct act_ctx *ctx, const char *path, const struct buf *content,
		    const struct stat *st, bool existed, json_t *undo);
/* Puts back what act_keep_before kept, from undo (the file is removed when it did not
 * exist). When undo holds "after_sha256" and the file changed since, it is left alone and
 * -ESTALE returned. Returns 0 or a negative errno, with a reason in err. */
int act_put_back(const struct act_ctx *ctx, const json_t *undo, char *err, size_t errlen);

/* Returns true when path is absolute and normalized (no empty, "." or ".." component, no
 * trailing '/', no control character), at most ACTION_MAX_PATH bytes. */
bool act_path_normal(const char *path);

/* ---- typed fixes (act_fix.c) ---- */

/* Parses a fix (docs/catalog.md, "Typed fixes") strictly: a JSON object of at most
 * ACTION_MAX_FIX bytes whose "type" is known and whose other members are exactly that
 * type's fields, each a string of at most 1024 bytes, the required ones present. Returns 0
 * with *out (caller decrefs), or -EINVAL with a one-line reason in err. */
int act_fix_parse(const char *json, json_t **out, char *err, size_t errlen);
