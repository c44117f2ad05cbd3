/* The vault: known-good snapshots of small text files (docs/sensor-fim.md).
 *
 * Snapshots are content-addressed: state_dir/vault/<sha256 hex>.zst holds the zstd-compressed
 * content whose SHA-256 is the name. Only text (no NUL, few control bytes) up to max_file
 * bytes is kept, and the compressed files together stay under max_total bytes: the oldest
 * snapshots are removed first. A snapshot is read back with its sizes capped and its hash
 * checked, so a damaged or planted file is refused, never trusted.
 *
 * vault_diff() compares a snapshot with a file's current content as a unified line diff
 * (Myers' algorithm, bounded in work and in output). Every call locks the vault, so the
 * sensor and the scan thread may share it. */
#pragma once

#include "detect/fim_scan.h"
#include "lib/buf.h"

#define VAULT_DIFF_MAX (16u * 1024) /* default cap of a diff's text */

struct vault;

/* Opens (creating) state_dir/vault. Returns 0 with *out, or a negative errno. */
int vault_open(const char *state_dir, size_t max_file, uint64_t max_total, struct vault **out);
void vault_free(struct vault *v);
static inline void vault_freep(struct vault **v)
{
	vault_free(*v);
}
/* Returns true when len bytes at data are text the vault keeps (no NUL, mostly printable). */
bool vault_is_text(const void *data, size_t len);
/* Stores data as a snapshot (nothing to do when it is there) and writes its SHA-256 to sha
 * when not NULL. Returns 0, -EFBIG (over max_file), -EMEDIUMTYPE (not text) or an errno. */
int vault_put(struct vault *v, const void *data, size_t len, uint8_t sha[FIM_SHA256_LEN]);
/* Reads path (a regular file, not following symlinks) and stores it (vault_put). */
int vault_put_file(struct vault *v, const char *path, uint8_t sha[FIM_SHA256_LEN]);
/* Returns true when a snapshot of sha is stored. */
bool vault_has(struct vault *v, const uint8_t sha[FIM_SHA256_LEN]);
/* Reads the snapshot of sha into out (replacing its contents). Returns 0, -ENOENT, or
 * -EBADMSG when the stored file is damaged (it is then removed). */
int vault_get(struct vault *v, const uint8_t sha[FIM_SHA256_LEN], struct buf *out);
/* Writes to out (replacing its contents) the unified diff from the snapshot of old_sha to
 * the current content of path, at most max_out bytes (a longer diff is cut and says so).
 * Returns 0, -ENOENT (no snapshot, or path gone), -EFBIG / -EMEDIUMTYPE (path is no longer
 * a small text file) or another errno. */
int vault_diff(struct vault *v, const char *path, const uint8_t old_sha[FIM_SHA256_LEN],
	       size_t max_out, struct buf *out);
/* The diff of two texts as above; label names the file in the --- / +++ lines. Inputs over
 * 1 MiB are refused with -EFBIG. Returns 0 (out empty when they are equal) or an errno. */
int vault_diff_text(const char *a, size_t alen, const char *b, size_t blen, const char *label,
		    size_t max_out, struct buf *out);
/* Replaces path with the snapshot of sha, atomically, keeping the mode and owner of the
 * current file (0644 root when it is gone). Returns 0, -ENOENT (no snapshot) or an errno. */
int vault_restore(struct vault *v, const char *path, const uint8_t sha[FIM_SHA256_LEN]);
/* Bytes of compressed snapshots stored, and how many. */
uint64_t vault_bytes(struct vault *v);
size_t vault_count(struct vault *v);
