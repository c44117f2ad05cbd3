/* File outputs: one JSON object per line, appended; rotated to PATH.1 ... PATH.keep when the
 * next line would pass max_size. Writes happen in the caller's thread under a lock. */
#include "detect/output_int.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int file_open_locked(struct output *out)
{
	int fd = open(out->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int r = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		close(fd);
		return r;
	}
	if ((st.st_mode & 07777) != 0600 && st.st_uid == geteuid())
		(void)fchmod(fd, 0600);
	out->fd = fd;
	out->size = (uint64_t)st.st_size;
	output_set_connected(out, true);
	return 0;
}

int output_file_open(struct output *out)
{
	pthread_mutex_lock(&out->file_lock);
	int r = out->fd >= 0 ? 0 : file_open_locked(out);
	pthread_mutex_unlock(&out->file_lock);
	return r;
}

static void file_close_locked(struct output *out)
{
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	output_set_connected(out, false);
}

void output_file_close(struct output *out)
{
	pthread_mutex_lock(&out->file_lock);
	file_close_locked(out);
	pthread_mutex_unlock(&out->file_lock);
}

/* PATH.(keep-1) -> PATH.keep, ..., PATH -> PATH.1 (keep 0: PATH is removed). */
static int file_rotate_locked(struct output *out)
{
	char from[PATH_MAX], to[PATH_MAX];
	file_close_locked(out);
	if (out->keep == 0)
		return unlink(out->path) < 0 && errno != ENOENT ? -errno : 0;
	for (unsigned i = out->keep - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", out->path, i);
		snprintf(to, sizeof(to), "%s.%u", out->path, i + 1);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	snprintf(to, sizeof(to), "%s.1", out->path);
	return rename(out->path, to) < 0 && errno != ENOENT ? -errno : 0;
}

static int write_all(int fd, const char *json, size_t len)
{
	struct iovec iov[2] = { { .iov_base = (void *)json, .iov_len = len },
				{ .iov_base = (void *)"\n", .iov_len = 1 } };
	size_t total = len + 1, done = 0;
	while (done < total) {
		ssize_t w;
		if (done == 0)
			w = writev(fd, iov, 2);
		else if (done < len)
			w = write(fd, json + done, len - done);
		else
			w = write(fd, "\n", 1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += (size_t)w;
	}
	return 0;
}

void output_file_write(struct output *out, const char *json, size_t len)
{
	if (memchr(json, '\n', len)) { /* would break the one-object-per-line format */
		output_count(&out->errors, 1);
		return;
	}
	pthread_mutex_lock(&out->file_lock);
	int r = 0;
	if (out->fd >= 0 && out->size > 0 && out->size + len + 1 > out->max_size)
		r = file_rotate_locked(out);
	if (r == 0 && out->fd < 0)
		r = file_open_locked(out);
	if (r == 0) {
		r = write_all(out->fd, json, len);
		if (r == 0)
			out->size += len + 1;
		else
			file_close_locked(out); /* reopened for the next record */
	}
	pthread_mutex_unlock(&out->file_lock);
	output_count(r == 0 ? &out->sent : &out->errors, 1);
}
