#include "lib/fsroot.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

struct fsroot {
	int fd;
	char *path;
	bool host;
};

int fsroot_new(const char *dir, struct fsroot **out)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	struct stat st, host;
	bool is_host = fstat(fd, &st) == 0 && stat("/", &host) == 0 && st.st_dev == host.st_dev &&
		       st.st_ino == host.st_ino;
	struct fsroot *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->path = xstrdup(dir);
	r->host = is_host;
	*out = r;
	return 0;
}

void fsroot_free(struct fsroot *root)
{
	if (!root)
		return;
	close(root->fd);
	free(root->path);
	free(root);
}

const char *fsroot_path(const struct fsroot *root)
{
	return root->path;
}

bool fsroot_is_host(const struct fsroot *root)
{
	return root->host;
}

int fsroot_fd(const struct fsroot *root)
{
	return root->fd;
}

int fsroot_openat(const struct fsroot *root, const char *path, int flags, int *fd)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	long r;
	do
		r = syscall(SYS_openat2, root->fd, path, &how, sizeof(how));
	while (r < 0 && errno == EAGAIN);
	if (r < 0)
		return -errno;
	*fd = (int)r;
	return 0;
}

int fsroot_read(const struct fsroot *root, const char *path, size_t cap, struct buf *out)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char chunk[16384];

	int r = fsroot_openat(root, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, &fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if ((uint64_t)st.st_size > cap)
		return -EFBIG;

	struct buf tmp;
	buf_init(&tmp, cap);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (buf_append(&tmp, chunk, (size_t)n) < 0) {
			r = -EFBIG;
			break;
		}
	}
	if (r < 0) {
		buf_free(&tmp);
		return r;
	}
	buf_free(out);
	*out = tmp;
	return 0;
}

int fsroot_stat(const struct fsroot *root, const char *path, bool follow, struct stat *st)
{
	_cleanup_close_ int fd = -1;
	int r = fsroot_openat(root, path, O_PATH | (follow ? 0 : O_NOFOLLOW), &fd);
	if (r < 0)
		return r;
	if (fstat(fd, st) < 0)
		return -errno;
	return 0;
}

int fsroot_readlink(const struct fsroot *root, const char *path, char **target)
{
	_cleanup_close_ int fd = -1;
	char tmp[4096];

	int r = fsroot_openat(root, path, O_PATH | O_NOFOLLOW, &fd);
	if (r < 0)
		return r;
	ssize_t n = readlinkat(fd, "", tmp, sizeof(tmp));
	if (n < 0)
		return errno == ENOENT ? -EINVAL : -errno;
	if ((size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	*target = xstrndup(tmp, (size_t)n);
	return 0;
}

int fsroot_opendir(const struct fsroot *root, const char *path, DIR **dir)
{
	int fd;
	int r = fsroot_openat(root, path, O_RDONLY | O_DIRECTORY, &fd);
	if (r < 0)
		return r;
	DIR *d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	*dir = d;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fsroot_list(const struct fsroot *root, const char *dir, strv *out)
{
	DIR *d;
	int r = fsroot_opendir(root, dir, &d);
	if (r < 0)
		return r;
	strv v = xcalloc(1, sizeof(char *));
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			strv_push(&v, e->d_name);
	closedir(d);
	sort_array(v, strv_len(v), sizeof(char *), cmp_str);
	*out = v;
	return 0;
}

int fsroot_glob(const struct fsroot *root, const char *pattern, strv *out)
{
	struct stat st;
	const char *slash = strrchr(pattern, '/');
	const char *base = slash ? slash + 1 : pattern;

	if (!strpbrk(base, "*?[")) {
		strv v = xcalloc(1, sizeof(char *));
		if (fsroot_stat(root, pattern, true, &st) == 0)
			strv_push(&v, pattern);
		*out = v;
		return 0;
	}

	_cleanup_free_ char *dir =
		slash ? xstrndup(pattern, (size_t)(slash - pattern)) : xstrdup(".");
	_cleanup_strv_ strv names = NULL;
	int r = fsroot_list(root, *dir ? dir : "/", &names);
	if (r == -ENOENT || r == -ENOTDIR) {
		*out = xcalloc(1, sizeof(char *));
		return 0;
	}
	if (r < 0)
		return r;

	strv v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; names[i]; i++) {
		if (names[i][0] == '.' && base[0] != '.')
			continue;
		if (fnmatch(base, names[i], FNM_PERIOD) == 0)
			strv_push_take(&v, xasprintf("%s/%s", dir, names[i]));
	}
	*out = v;
	return 0;
}
