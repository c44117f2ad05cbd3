/* File integrity: the baseline hash database and the periodic SHA-256 scan (docs/sensor-fim.md).
 *
 * fim_db maps a path to what the file was when last seen: its SHA-256 (regular files up to a
 * size cap), size, mtime, mode and owner. It is shared by the real-time sensor and the scan
 * thread (every call locks it) and persisted as one file in the state directory, written
 * atomically and read back with bounded parsing (a damaged file is refused as a whole).
 *
 * fim_scan_run() walks directories (never following symlinks), then hashes the regular files
 * with OpenSSL's SHA-256 on one or more threads, each with one reusable read buffer. With a
 * CPU budget the scan runs on the calling thread and sleeps between chunks so that its CPU
 * time stays under the given share of one core. */
#pragma once

#include "lib/common.h"

#include <stdatomic.h>
#include <sys/types.h>

#define FIM_SHA256_LEN 32
#define FIM_DB_MAX_BYTES (512u * 1024 * 1024) /* the database file */
#define FIM_DB_MAX_ENTRIES (4u * 1024 * 1024)
#define FIM_PATH_MAX 4096 /* bytes of a path, with its NUL */

#define FIM_F_HASHED 0x1u /* sha256 holds the content's hash */

struct fim_entry {
	const char *path;
	uint8_t sha256[FIM_SHA256_LEN];
	uint64_t size;
	int64_t mtime_ns;
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t uid, gid;
	uint32_t flags; /* FIM_F_* */
};

struct fim_db;

/* Returns an empty database (never fails). */
struct fim_db *fim_db_new(void);
/* Frees db; accepts NULL. */
void fim_db_free(struct fim_db *db);
static inline void fim_db_freep(struct fim_db **db)
{
	fim_db_free(*db);
}
/* Replaces the contents with the serialized database in data. Returns 0, or -EBADMSG (bad
 * magic, checksum, length or entry) or -EMSGSIZE past the limits; on failure db is left
 * empty. */
int fim_db_parse(struct fim_db *db, const void *data, size_t len);
/* Loads path (fim_db_parse); -ENOENT when it does not exist. */
int fim_db_load(struct fim_db *db, const char *path);
/* Writes the database atomically to path (mode 0600). Returns 0 or a negative errno. */
int fim_db_save(struct fim_db *db, const char *path);
/* Copies the entry for path into *out (out->path points at path). Returns 0 or -ENOENT. */
int fim_db_get(struct fim_db *db, const char *path, struct fim_entry *out);
/* Inserts or replaces the entry e->path (copied). Returns 0, -EINVAL (path not absolute or
 * too long) or -EMSGSIZE (database full). */
int fim_db_put(struct fim_db *db, const struct fim_entry *e);
/* Removes path; returns 0 or -ENOENT. */
int fim_db_remove(struct fim_db *db, const char *path);
size_t fim_db_count(struct fim_db *db);

/* A hashing context: one SHA-256 context and one read buffer, reused for every file (no
 * allocation per file). One per thread. */
struct fim_hasher;

/* Returns 0 with *out, or -ENOMEM / -ENOSYS (no SHA-256 in OpenSSL). */
int fim_hasher_new(size_t bufsize, struct fim_hasher **out);
void fim_hasher_free(struct fim_hasher *h);
static inline void fim_hasher_freep(struct fim_hasher **h)
{
	fim_hasher_free(*h);
}
/* Hashes what is left to read of fd. Returns 0 with out and *bytes set, or a negative errno. */
int fim_hash_fd(struct fim_hasher *h, int fd, uint8_t out[FIM_SHA256_LEN], uint64_t *bytes);
/* Hashes len bytes of data. */
int fim_hash_mem(struct fim_hasher *h, const void *data, size_t len, uint8_t out[FIM_SHA256_LEN]);
/* Stats path without following a final symlink into *e (e->path untouched). Regular files up
 * to size_cap bytes get their content's hash, symlinks the hash of their target text (both
 * with FIM_F_HASHED). Returns 0 or a negative errno (-ENOENT when it is gone). */
int fim_stat_hash(struct fim_hasher *h, const char *path, uint64_t size_cap, struct fim_entry *e);
/* Writes the 64 lower-case hex digits of sha and a NUL to hex. */
void fim_sha256_hex(const uint8_t sha[FIM_SHA256_LEN], char hex[2 * FIM_SHA256_LEN + 1]);

struct fim_scan_opts {
	const char *const *paths;   /* NULL-terminated directories or files to walk */
	const char *const *exclude; /* NULL-terminated paths left out (with what is below) */
	unsigned threads;	    /* hashing threads without a budget (0: 1) */
	unsigned cpu_percent;	    /* 0: no budget; else % of one core, on the calling thread */
	uint64_t size_cap;	    /* regular files larger than this are not hashed */
	uint32_t max_files;	    /* the walk stops (and counts) past this many files */
	atomic_bool *stop;	    /* when set, the scan stops early and returns -ECANCELED */
};

struct fim_scan;

/* Walks and hashes. Returns 0 with *out (fim_scan_free), -ECANCELED when stopped, or a
 * negative errno when no path could be walked. */
int fim_scan_run(const struct fim_scan_opts *o, struct fim_scan **out);
void fim_scan_free(struct fim_scan *s);
static inline void fim_scan_freep(struct fim_scan **s)
{
	fim_scan_free(*s);
}
/* The files found; fim_scan_file(s, i)->path is valid until fim_scan_free(). Files that
 * vanished or could not be read between the walk and the hash are left out (counted). */
size_t fim_scan_count(const struct fim_scan *s);
const struct fim_entry *fim_scan_file(const struct fim_scan *s, size_t i);
uint64_t fim_scan_bytes(const struct fim_scan *s);   /* bytes hashed */
uint64_t fim_scan_errors(const struct fim_scan *s);  /* files or directories not readable */
uint64_t fim_scan_dropped(const struct fim_scan *s); /* files past max_files */

enum fim_change {
	FIM_CREATED,
	FIM_MODIFIED, /* content (hash, or size/mtime when not hashed) */
	FIM_ATTR,     /* mode or owner only */
	FIM_DELETED,
};

/* Called for each difference: now is NULL for FIM_DELETED, before NULL for FIM_CREATED. */
typedef void (*fim_change_fn)(enum fim_change c, const struct fim_entry *now,
			      const struct fim_entry *before, void *arg);

/* Compares a scan with db and brings db up to date: every file of the scan is put, and
 * entries below s's walked paths that the scan did not find are removed. fn (may be NULL) is
 * called for each difference, without db's lock held. Returns 0 or a negative errno. */
int fim_scan_compare(struct fim_db *db, const struct fim_scan *s, fim_change_fn fn, void *arg);
