/* Read-only file access confined below a root directory.
 *
 * Every path is resolved by the kernel with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
 * "..", absolute symlinks and symlink loops can never leave the root, whatever the files
 * under it contain. Paths are given as seen from inside the root ("/etc/passwd"). */
#pragma once

#include "lib/buf.h"
#include "lib/str.h"

#include <dirent.h>
#include <sys/stat.h>

struct fsroot;

/* Opens dir as a root; returns 0, -ENOENT, -ENOTDIR or another negative errno. */
int fsroot_new(const char *dir, struct fsroot **out);
/* Frees the root; accepts NULL. */
void fsroot_free(struct fsroot *root);
static inline void fsroot_freep(struct fsroot **r)
{
	fsroot_free(*r);
}
/* Returns the directory the root was opened from, as given. */
const char *fsroot_path(const struct fsroot *root);
/* Returns true when the root is the running system's "/", so live state (/proc) is its own. */
bool fsroot_is_host(const struct fsroot *root);
/* Returns the root's O_PATH directory descriptor (borrowed: owned by the root). For walkers
 * that descend with openat() on names read from directories, never on paths from data. */
int fsroot_fd(const struct fsroot *root);

/* Opens path below the root with open flags (O_CLOEXEC is added); *fd is the caller's. */
int fsroot_openat(const struct fsroot *root, const char *path, int flags, int *fd);
/* Reads a whole regular file into out (which must be empty), failing with -EFBIG when it holds
 * more than cap bytes and -EINVAL when it is not a regular file (FIFOs are never opened for
 * reading). Returns 0 or a negative errno; -ENOENT when missing. */
int fsroot_read(const struct fsroot *root, const char *path, size_t cap, struct buf *out);
/* stat(2) of path, following symlinks inside the root when follow is true. */
int fsroot_stat(const struct fsroot *root, const char *path, bool follow, struct stat *st);
/* Reads a symlink's target into a new string *target (the caller's). */
int fsroot_readlink(const struct fsroot *root, const char *path, char **target);
/* Opens a directory for reading; *dir is the caller's (closedir). */
int fsroot_opendir(const struct fsroot *root, const char *path, DIR **dir);
/* Expands pattern, whose last component may hold fnmatch(3) wildcards, into the sorted list
 * of matching paths that exist (a pattern without wildcards yields itself when it exists).
 * Hidden entries are matched only by patterns that start with '.'. Returns 0 (possibly an
 * empty list) or a negative errno from reading the directory. */
int fsroot_glob(const struct fsroot *root, const char *pattern, strv *out);
/* Lists the entry names of a directory, sorted, without "." and "..". */
int fsroot_list(const struct fsroot *root, const char *dir, strv *out);
