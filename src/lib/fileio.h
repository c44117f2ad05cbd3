/* Whole-file helpers for state the daemons keep on disk (keys, certificates, configuration,
 * agent state): writes are atomic, reads are capped. */
#pragma once

#include <sys/types.h>

#include "lib/buf.h"

/* Replaces path with len bytes of data: a new temporary file beside it (O_EXCL, random
 * name, exactly mode whatever the umask), fsync, rename, fsync of the directory. Readers see
 * the old or the new contents, never a mix. Returns 0 or a negative errno (the temporary
 * file is removed). */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads the whole regular file path, at most cap bytes, into out (replacing what it held).
 * Returns 0, -ENOENT, -EINVAL (not a regular file), -EFBIG (over cap) or another errno. */
int file_read_capped(const char *path, size_t cap, struct buf *out);
/* Reads fd (a pipe, standard input) to its end, at most cap bytes, into out (replacing what
 * it held). Returns 0, -EFBIG (over cap) or a negative errno. */
int fd_read_capped(int fd, size_t cap, struct buf *out);
/* Writes all n bytes at p to fd, retrying short writes and EINTR. Returns 0 or a negative
 * errno. */
int fd_write_all(int fd, const void *p, size_t n);
