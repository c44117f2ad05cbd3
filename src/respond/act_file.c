/* File actions (docs/actions-files.md): quarantine-file and restore-file, and the file
 * helpers the fix actions share (act_edit.h).
 *
 * Paths are reached from "/" without following any symlink (openat2 RESOLVE_NO_SYMLINKS),
 * files are rewritten atomically keeping their mode and owner, and whatever an action
 * replaces or moves away is kept under STATE/respond/quarantine/files/UID so that rollback
 * can put it back and check its hash. */
#include "respond/act_edit.h"

#include "detect/vault.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QUARANTINE_DIR "quarantine/files"
#define QUARANTINE_COPY_MAX (256ull << 20) /* copying across file systems */

/* ---- paths ---- */

int act_open(const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int root = -1;

	if (!path || path[0] != '/')
		return -EINVAL;
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	const char *rel = path[1] ? path + 1 : ".";
	long fd = syscall(SYS_openat2, root, rel, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* Reopens the O_PATH descriptor fd for reading when it is a regular file (or a directory
 * when dirs); closes fd. */
static int reopen_file(int fd, bool dirs, struct stat *st)
{
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0 || !(S_ISREG(st->st_mode) || (dirs && S_ISDIR(st->st_mode)))) {
		int r = S_ISLNK(st->st_mode) ? -ELOOP : -EINVAL;
		close(fd);
		return r;
	}
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int rfd = open(proc,
		       O_RDONLY | O_CLOEXEC | O_NOCTTY | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0));
	int r = rfd < 0 ? -errno : rfd;
	close(fd);
	return r;
}

int act_open_file(const char *path, bool dirs, struct stat *st)
{
	return reopen_file(act_open(path, O_PATH | O_NOFOLLOW, 0), dirs, st);
}

static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

bool act_path_virtual(const char *path)
{
	static const char *const virt[] = { "/proc", "/sys", "/dev", "/run" };
	for (size_t i = 0; i < ARRAY_SIZE(virt); i++)
		if (below(path, virt[i]))
			return true;
	return false;
}

/* The one table of files no action removes or rewrites wholesale. */
static const struct {
	const char *path;
	const char *why;
	bool tree; /* everything below it too */
} protected_paths[] = {
	{ "/etc/passwd", "the account database", false },
	{ "/etc/shadow", "the shadow password file", false },
	{ "/etc/group", "the group database", false },
	{ "/etc/gshadow", "the shadow group file", false },
	{ "/etc/sudoers", "the sudo policy", false },
	{ "/etc/sudoers.d", "the sudo policy", true },
	{ "/lib64/ld-linux-x86-64.so.2", "the dynamic loader", false },
	{ "/lib/ld-linux-aarch64.so.1", "the dynamic loader", false },
	{ "/lib/ld-linux-armhf.so.3", "the dynamic loader", false },
	{ "/lib/ld-linux.so.2", "the dynamic loader", false },
	{ "/lib/ld-musl-x86_64.so.1", "the dynamic loader", false },
	{ "/lib/ld-musl-aarch64.so.1", "the dynamic loader", false },
	{ "/bin/sh", "the system shell", false },
	{ "/usr/bin/sh", "the system shell", false },
	{ "/bin/dash", "the system shell", false },
	{ "/usr/bin/dash", "the system shell", false },
	{ "/bin/bash", "the system shell", false },
	{ "/usr/bin/bash", "the system shell", false },
};

/* The loader and the C library under any lib directory, by name. */
static const char *protected_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!str_has_prefix(path, "/lib") && !str_has_prefix(path, "/usr/lib"))
		return NULL;
	if (str_has_prefix(base, "ld-linux") || str_has_prefix(base, "ld-musl"))
		return "the dynamic loader";
	if (str_has_prefix(base, "libc.so") || str_has_prefix(base, "libc.musl"))
		return "the C library";
	return NULL;
}

const char *act_path_protected(const char *path, const char *state_dir)
{
	struct stat st, pst;
	bool have = lstat(path, &st) == 0;

	for (size_t i = 0; i < ARRAY_SIZE(protected_paths); i++) {
		const char *p = protected_paths[i].path;
		if (protected_paths[i].tree ? below(path, p) : !strcmp(path, p))
			return protected_paths[i].why;
		/* the same file under another name: a hard link, or a path through a symlink */
		if (have && stat(p, &pst) == 0 && pst.st_dev == st.st_dev &&
		    pst.st_ino == st.st_ino)
			return protected_paths[i].why;
	}
	const char *why = protected_name(path);
	if (why)
		return why;
	if (state_dir) {
		_cleanup_free_ char *agent = xstrdup(state_dir);
		char *slash = strrchr(agent, '/');
		if (slash && slash != agent)
			*slash = '\0';
		if (below(path, agent) || below(path, state_dir))
			return "the agent's state directory";
	}
	return NULL;
}

/* Splits path into a new copy of its directory and a pointer to its last component. */
static char *split_path(const char *path, const char **base)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash || !slash[1]) {
		free(dir);
		return NULL;
	}
	*base = path + (slash - dir) + 1;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return dir;
}

/* Opens path's directory (no symlinks) and points *base at its last component. */
static int open_parent(const char *path, int flags, const char **base)
{
	_cleanup_free_ char *dir = split_path(path, base);
	if (!dir)
		return -EINVAL;
	return act_open(dir, flags | O_DIRECTORY, 0);
}

/* ---- reading, writing, hashing ---- */

int act_file_read(const char *path, struct buf *out, struct stat *st)
{
	struct stat s;
	_cleanup_close_ int fd = act_open_file(path, false, &s);

	if (fd < 0)
		return fd;
	if ((uint64_t)s.st_size > ACT_FILE_MAX)
		return -EFBIG;
	int r = fd_read_capped(fd, ACT_FILE_MAX, out);
	if (r == 0 && st)
		*st = s;
	return r;
}

static char *temp_name(const char *base)
{
	unsigned char rnd[6];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	return xasprintf(".%.64s.immune-%02x%02x%02x%02x%02x%02x", base, rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5]);
}

int act_file_replace(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
		     gid_t gid)
{
	const char *base;
	_cleanup_close_ int dfd = open_parent(path, O_RDONLY, &base);
	_cleanup_free_ char *tmp = NULL;
	int r = 0;

	if (dfd < 0)
		return dfd;
	tmp = temp_name(base);
	if (!tmp)
		return -EIO;
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (geteuid() == 0 && fchown(fd, uid, gid) < 0)
		r = -errno;
	if (r == 0 && fchmod(fd, mode & 07777) < 0)
		r = -errno;
	if (r == 0)
		r = fd_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, base) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return r;
	}
	return fsync(dfd) < 0 ? -errno : 0;
}

static void to_hex(const unsigned char *md, char hex[ACT_SHA_HEX])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

int act_sha256_mem(const void *data, size_t len, char hex[ACT_SHA_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -EIO;
	to_hex(md, hex);
	return 0;
}

int act_sha256_fd(int fd, char hex[ACT_SHA_HEX])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char chunk[65536];
	int r = 0;

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		r = -EIO;
	while (r == 0) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else if (n == 0)
			break;
		else if (EVP_DigestUpdate(c, chunk, (size_t)n) != 1)
			r = -EIO;
	}
	if (r == 0 && (EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 32))
		r = -EIO;
	EVP_MD_CTX_free(c);
	if (r == 0)
		to_hex(md, hex);
	return r;
}

/* ---- the quarantine directory ---- */

/* Makes STATE/respond/quarantine/files (0700) and opens it. */
static int quarantine_dir(const struct act_ctx *ctx)
{
	_cleanup_free_ char *q = xasprintf("%s/quarantine", ctx->state_dir);
	_cleanup_free_ char *f = xasprintf("%s/%s", ctx->state_dir, QUARANTINE_DIR);
	if (mkdir(ctx->state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(q, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(f, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(f, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

static char *quarantine_path(const struct act_ctx *ctx)
{
	return xasprintf("%s/%s/%s", ctx->state_dir, QUARANTINE_DIR, ctx->uid);
}

int act_keep_before(const struct act_ctx *ctx, const char *path, const struct buf *content,
		    const struct stat *st, bool existed, json_t *undo)
{
	char hex[ACT_SHA_HEX];
	json_object_set_new(undo, "file", json_string(path));
	json_object_set_new(undo, "existed", json_boolean(existed));
	if (!existed)
		return 0;
	if (!action_uid_ok(ctx->uid))
		return -EINVAL;
	_cleanup_close_ int qfd = quarantine_dir(ctx);
	if (qfd < 0)
		return qfd;
	_cleanup_free_ char *q = quarantine_path(ctx);
	int r = file_write_atomic(q, buf_str(content), buf_len(content), 0600);
	if (r < 0)
		return r;
	r = act_sha256_mem(buf_str(content), buf_len(content), hex);
	if (r < 0)
		return r;
	json_object_set_new(undo, "mode", json_integer(st->st_mode & 07777));
	json_object_set_new(undo, "uid", json_integer(st->st_uid));
	json_object_set_new(undo, "gid", json_integer(st->st_gid));
	json_object_set_new(undo, "sha256", json_string(hex));
	return 0;
}

static int edit_err(char *err, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);
static int edit_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

int act_put_back(const struct act_ctx *ctx, const json_t *undo, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(undo, "file"));
	const char *after = json_string_value(json_object_get(undo, "after_sha256"));
	const char *sha = json_string_value(json_object_get(undo, "sha256"));
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_(buf_free) struct buf old = { 0 };
	_cleanup_free_ char *q = NULL;
	char hex[ACT_SHA_HEX];
	struct stat st;
	int r;

	if (!action_uid_ok(ctx->uid))
		return edit_err(err, errlen, -EINVAL, "no valid action id");
	q = quarantine_path(ctx);
	if (!path || path[0] != '/')
		return edit_err(err, errlen, -EINVAL, "the undo record names no file");
	r = act_file_read(path, &cur, &st);
	if (r < 0 && r != -ENOENT)
		return edit_err(err, errlen, r, "cannot read %s: %s", path, strerror(-r));
	if (after && r == 0) {
		act_sha256_mem(buf_str(&cur), buf_len(&cur), hex);
		if (strcmp(hex, after))
			return edit_err(err, errlen, -ESTALE,
					"%s changed since the action; left as it is", path);
	}
	if (!json_is_true(json_object_get(undo, "existed"))) {
		if (r == 0) {
			const char *base;
			_cleanup_close_ int dfd = open_parent(path, O_RDONLY, &base);
			if (dfd < 0 || unlinkat(dfd, base, 0) < 0)
				return edit_err(err, errlen, dfd < 0 ? dfd : -errno,
						"cannot remove %s", path);
			fsync(dfd);
		}
		return 0;
	}
	r = file_read_capped(q, ACT_FILE_MAX, &old);
	if (r < 0)
		return edit_err(err, errlen, r, "the kept copy %s cannot be read: %s", q,
				strerror(-r));
	act_sha256_mem(buf_str(&old), buf_len(&old), hex);
	if (!sha || strcmp(hex, sha))
		return edit_err(err, errlen, -EBADMSG, "the kept copy %s does not match its hash",
				q);
	mode_t mode = (mode_t)json_integer_value(json_object_get(undo, "mode"));
	uid_t uid = (uid_t)json_integer_value(json_object_get(undo, "uid"));
	gid_t gid = (gid_t)json_integer_value(json_object_get(undo, "gid"));
	r = act_file_replace(path, buf_str(&old), buf_len(&old), mode, uid, gid);
	if (r < 0)
		return edit_err(err, errlen, r, "cannot write %s: %s", path, strerror(-r));
	unlink(q);
	return 0;
}

/* ---- quarantine-file ---- */

static char *meta_path(const struct act_ctx *ctx)
{
	return xasprintf("%s/%s/%s.json", ctx->state_dir, QUARANTINE_DIR, ctx->uid);
}

/* The checks every file action makes before touching path. */
static enum act_status path_refused(const char *kn, const char *path, const char *state_dir,
				    bool protect, struct act_result *res)
{
	if (!act_path_normal(path))
		return act_set(res, ACT_REFUSED, "%s: '%.128s' is not an absolute normalized path",
			       kn, path);
	if (act_path_virtual(path))
		return act_set(res, ACT_REFUSED, "%s: %s is under /proc, /sys, /dev or /run", kn,
			       path);
	const char *why = protect ? act_path_protected(path, state_dir) : NULL;
	if (why)
		return act_set(res, ACT_REFUSED, "%s: %s is protected (%s)", kn, path, why);
	return 0;
}

static enum act_status open_error(const char *kn, const char *path, int r, struct act_result *res)
{
	if (r == -ELOOP)
		return act_set(res, ACT_REFUSED, "%s: %s is reached through a symlink", kn, path);
	if (r == -ENOENT)
		return act_set(res, ACT_REFUSED, "%s: %s does not exist", kn, path);
	if (r == -EINVAL)
		return act_set(res, ACT_REFUSED, "%s: %s is not a regular file", kn, path);
	if (r == -EFBIG)
		return act_set(res, ACT_REFUSED, "%s: %s is larger than %u bytes", kn, path,
			       ACT_FILE_MAX);
	return act_set(res, ACT_FAILED, "%s: %s: %s", kn, path, strerror(-r));
}

/* Copies fd into dir/name (0600) when a rename cannot cross file systems. */
static int copy_into(int fd, int dfd, const char *name)
{
	_cleanup_free_ char *part = xasprintf("%s.part", name);
	char chunk[65536];
	uint64_t total = 0;
	int r = 0;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	unlinkat(dfd, part, 0);
	int out = openat(dfd, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	while (r == 0) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else if (n == 0)
			break;
		else if ((total += (uint64_t)n) > QUARANTINE_COPY_MAX)
			r = -EFBIG;
		else
			r = fd_write_all(out, chunk, (size_t)n);
	}
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	if (close(out) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, part, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, part, 0);
	return r;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Moves the file open as fd (pdfd/base) to qfd/uid: rename, or copy + unlink. */
static int move_out(int pdfd, const char *base, int fd, const struct stat *st, int qfd,
		    const char *uid, bool *copied)
{
	struct stat now;
	*copied = false;
	if (renameat(pdfd, base, qfd, uid) == 0) {
		if (fstatat(qfd, uid, &now, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&now, st))
			return 0;
		renameat(qfd, uid, pdfd, base); /* something else was moved: put it back */
		return -ESTALE;
	}
	if (errno != EXDEV)
		return -errno;
	int r = copy_into(fd, qfd, uid);
	if (r < 0)
		return r;
	*copied = true;
	if (fstatat(pdfd, base, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_file(&now, st)) {
		unlinkat(qfd, uid, 0);
		return -ESTALE;
	}
	return unlinkat(pdfd, base, 0) < 0 ? -errno : 0;
}

static enum act_status quarantine_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
					struct act_result *res)
{
	const char *kn = "quarantine-file", *path = a->path, *base;
	_cleanup_free_ char *meta = meta_path(ctx);
	_cleanup_free_ char *q = quarantine_path(ctx);
	char before[ACT_SHA_HEX], after[ACT_SHA_HEX];
	struct stat st;
	bool copied;
	int r;

	if (!action_uid_ok(ctx->uid))
		return act_set(res, ACT_REFUSED, "%s: no valid action id", kn);
	if (path_refused(kn, path, ctx->state_dir, true, res))
		return res->status;
	_cleanup_close_ int pdfd = open_parent(path, O_RDONLY, &base);
	if (pdfd < 0)
		return open_error(kn, path, pdfd, res);
	int pfd = openat(pdfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int open_errno = pfd < 0 ? errno : 0;
	_cleanup_close_ int fd = pfd < 0 ? -1 : reopen_file(pfd, false, &st);
	if (pfd >= 0 && fd < 0)
		return open_error(kn, path, fd, res);
	if (fd < 0 && open_errno == ENOENT && access(meta, F_OK) == 0) {
		json_t *m = json_load_file(meta, 0, NULL);
		if (m && json_is_object(m)) {
			*undo = m;
			return act_set(res, ACT_VERIFIED, "%s: %s is already in quarantine", kn,
				       path);
		}
		json_decref(m);
	}
	if (fd < 0)
		return open_error(kn, path, -open_errno, res);
	if (ctx->dry_run)
		return act_set(
			res, ACT_DRY_RUN,
			"%s: would move %s (%lld bytes) to the quarantine and clear its mode", kn,
			path, (long long)st.st_size);
	r = act_sha256_fd(fd, before);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: hashing %s: %s", kn, path, strerror(-r));
	_cleanup_close_ int qfd = quarantine_dir(ctx);
	if (qfd < 0)
		return act_set(res, ACT_FAILED, "%s: the quarantine directory: %s", kn,
			       strerror(-qfd));
	r = move_out(pdfd, base, fd, &st, qfd, ctx->uid, &copied);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: moving %s: %s", kn, path, strerror(-r));
	fsync(pdfd);
	/* the file has moved: from here on, a failure still leaves an undo record */
	json_t *m = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:I, s:b}", "path", path, "mode",
			      (int)(st.st_mode & 07777), "uid", (int)st.st_uid, "gid",
			      (int)st.st_gid, "sha256", before, "quarantine", q, "size",
			      (json_int_t)st.st_size, "copied", copied);
	if (!m || json_dump_file(m, meta, JSON_COMPACT) < 0)
		r = -EIO;
	chmod(meta, 0600);
	*undo = m;
	res->detail = json_deep_copy(m);
	_cleanup_close_ int qf = openat(qfd, ctx->uid, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (qf < 0 || fchmod(qf, 0600) < 0 || (geteuid() == 0 && fchown(qf, 0, 0) < 0) ||
	    act_sha256_fd(qf, after) < 0)
		return act_set(res, ACT_FAILED, "%s: the quarantined copy %s: %s", kn, q,
			       strerror(errno));
	fsync(qfd);
	if (r < 0 || strcmp(before, after))
		return act_set(res, ACT_FAILED,
			       "%s: %s moved to %s but its record or hash is wrong", kn, path, q);
	return act_set(res, ACT_VERIFIED, "%s: %s moved to quarantine (sha256 %.12s...)%s", kn,
		       path, before, st.st_nlink > 1 ? "; other hard links to it remain" : "");
}

static enum act_status quarantine_verify(const struct act_ctx *ctx, const Action *a,
					 struct act_result *res)
{
	const char *kn = "quarantine-file";
	_cleanup_free_ char *meta = meta_path(ctx);
	_cleanup_free_ char *q = quarantine_path(ctx);
	char hex[ACT_SHA_HEX];
	struct stat st;

	if (lstat(a->path, &st) == 0)
		return act_set(res, ACT_FAILED, "%s: %s exists", kn, a->path);
	json_t *m = json_load_file(meta, 0, NULL);
	const char *sha = json_string_value(json_object_get(m, "sha256"));
	_cleanup_close_ int fd = open(q, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool ok = sha && fd >= 0 && act_sha256_fd(fd, hex) == 0 && !strcmp(hex, sha);
	json_decref(m);
	if (!ok)
		return act_set(res, ACT_FAILED,
			       "%s: the quarantined copy of %s is missing or altered", kn, a->path);
	return act_set(res, ACT_VERIFIED, "%s: %s is gone and its quarantined copy matches", kn,
		       a->path);
}

/* Creates dir/base with the content of the quarantined copy, unless something is there. */
static int put_file_back(int qfd, const char *uid, int pdfd, const char *base, mode_t mode,
			 uid_t owner, gid_t group)
{
	_cleanup_free_ char *tmp = temp_name(base);
	_cleanup_close_ int src = openat(qfd, uid, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (!tmp)
		return -EIO;
	if (src < 0)
		return -errno;
	r = copy_into(src, pdfd, tmp);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = openat(pdfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	if (r == 0 && geteuid() == 0 && fchown(fd, owner, group) < 0)
		r = -errno;
	if (r == 0 && fchmod(fd, mode & 07777) < 0)
		r = -errno;
	/* a link, not a rename: never replaces a file that appeared at the path meanwhile */
	if (r == 0 && linkat(pdfd, tmp, pdfd, base, 0) < 0)
		r = -errno;
	unlinkat(pdfd, tmp, 0);
	if (r == 0)
		fsync(pdfd);
	return r;
}

static enum act_status quarantine_rollback(const struct act_ctx *ctx, const Action *a,
					   const json_t *undo, struct act_result *res)
{
	const char *kn = "quarantine-file", *base;
	const char *sha = json_string_value(json_object_get(undo, "sha256"));
	_cleanup_free_ char *meta = meta_path(ctx);
	char hex[ACT_SHA_HEX];
	int r;

	if (!sha || !action_uid_ok(ctx->uid))
		return act_set(res, ACT_REFUSED, "%s: the undo record has no hash", kn);
	_cleanup_close_ int qfd = quarantine_dir(ctx);
	_cleanup_close_ int pdfd = open_parent(a->path, O_RDONLY, &base);
	if (qfd < 0 || pdfd < 0)
		return act_set(res, ACT_FAILED, "%s: cannot open the directory of %s: %s", kn,
			       a->path, strerror(pdfd < 0 ? -pdfd : -qfd));
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would put %s back", kn, a->path);
	_cleanup_close_ int qf = openat(qfd, ctx->uid, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (qf < 0 || act_sha256_fd(qf, hex) < 0 || strcmp(hex, sha))
		return act_set(res, ACT_FAILED, "%s: the quarantined copy is missing or altered",
			       kn);
	r = put_file_back(qfd, ctx->uid, pdfd, base,
			  (mode_t)json_integer_value(json_object_get(undo, "mode")),
			  (uid_t)json_integer_value(json_object_get(undo, "uid")),
			  (gid_t)json_integer_value(json_object_get(undo, "gid")));
	if (r == -EEXIST)
		return act_set(res, ACT_REFUSED, "%s: %s exists again; not replacing it", kn,
			       a->path);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: putting %s back: %s", kn, a->path,
			       strerror(-r));
	_cleanup_close_ int fd = act_open(a->path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0 || act_sha256_fd(fd, hex) < 0 || strcmp(hex, sha))
		return act_set(res, ACT_FAILED, "%s: %s was put back but its hash differs", kn,
			       a->path);
	unlinkat(qfd, ctx->uid, 0);
	unlink(meta);
	return act_set(res, ACT_ROLLED_BACK, "%s: %s is back with its mode and owner", kn, a->path);
}

const struct act_ops act_quarantine_file_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE,
	.apply = quarantine_apply,
	.verify = quarantine_verify,
	.rollback = quarantine_rollback,
};

/* ---- restore-file ---- */

static int hex_to_sha(const char *hex, uint8_t sha[FIM_SHA256_LEN])
{
	for (size_t i = 0; i < FIM_SHA256_LEN; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : -1;
			if (d < 0)
				return -EINVAL;
			v = v * 16 + d;
		}
		sha[i] = (uint8_t)v;
	}
	return hex[2 * FIM_SHA256_LEN] ? -EINVAL : 0;
}

/* The vault of ctx, or the agent's: the parent of STATE/respond holds vault/. Opened with
 * no total bound so that opening it never drops snapshots the agent keeps. */
static int restore_vault(const struct act_ctx *ctx, struct vault **owned, struct vault **v)
{
	if (ctx->vault) {
		*v = ctx->vault;
		return 0;
	}
	_cleanup_free_ char *agent = xstrdup(ctx->state_dir);
	char *slash = strrchr(agent, '/');
	if (slash && slash != agent)
		*slash = '\0';
	int r = vault_open(agent, ACT_FILE_MAX, UINT64_MAX, owned);
	*v = *owned;
	return r;
}

static enum act_status restore_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				     struct act_result *res)
{
	const char *kn = "restore-file", *base;
	_cleanup_(vault_freep) struct vault *owned = NULL;
	_cleanup_(buf_free) struct buf cur = { 0 };
	struct vault *v = NULL;
	uint8_t sha[FIM_SHA256_LEN];
	char hex[ACT_SHA_HEX];
	struct stat st;
	int r;

	if (!action_uid_ok(ctx->uid))
		return act_set(res, ACT_REFUSED, "%s: no valid action id", kn);
	if (path_refused(kn, a->path, ctx->state_dir, false, res))
		return res->status;
	if (hex_to_sha(a->sha256, sha) < 0)
		return act_set(res, ACT_REFUSED, "%s: bad sha256", kn);
	r = restore_vault(ctx, &owned, &v);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: cannot open the vault: %s", kn, strerror(-r));
	if (!vault_has(v, sha))
		return act_set(res, ACT_REFUSED, "%s: the vault holds no snapshot %.12s...", kn,
			       a->sha256);
	_cleanup_close_ int pdfd = open_parent(a->path, O_PATH, &base);
	if (pdfd < 0)
		return open_error(kn, a->path, pdfd, res);
	r = act_file_read(a->path, &cur, &st);
	if (r < 0 && r != -ENOENT)
		return open_error(kn, a->path, r, res);
	bool existed = r == 0;
	*undo = json_object();
	if (existed) {
		act_sha256_mem(buf_str(&cur), buf_len(&cur), hex);
		if (!strcmp(hex, a->sha256)) {
			json_object_set_new(*undo, "unchanged", json_true());
			return act_set(res, ACT_VERIFIED, "%s: %s already has this content", kn,
				       a->path);
		}
	}
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would replace %s with snapshot %.12s...", kn,
			       a->path, a->sha256);
	r = act_keep_before(ctx, a->path, &cur, &st, existed, *undo);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: keeping the current %s: %s", kn, a->path,
			       strerror(-r));
	json_object_set_new(*undo, "after_sha256", json_string(a->sha256));
	r = vault_restore(v, a->path, sha);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: restoring %s: %s", kn, a->path, strerror(-r));
	res->detail = json_pack("{s:s, s:s, s:s?}", "path", a->path, "sha256", a->sha256,
				"previous_sha256", existed ? hex : NULL);
	return act_set(res, ACT_VERIFIED, "%s: %s restored from snapshot %.12s...%s", kn, a->path,
		       a->sha256, existed ? "; the previous content is kept" : "");
}

static enum act_status restore_verify(const struct act_ctx *ctx, const Action *a,
				      struct act_result *res)
{
	_cleanup_(buf_free) struct buf cur = { 0 };
	char hex[ACT_SHA_HEX];
	(void)ctx;
	int r = act_file_read(a->path, &cur, NULL);
	if (r < 0)
		return act_set(res, ACT_FAILED, "restore-file: %s: %s", a->path, strerror(-r));
	act_sha256_mem(buf_str(&cur), buf_len(&cur), hex);
	if (strcmp(hex, a->sha256))
		return act_set(res, ACT_FAILED,
			       "restore-file: %s has sha256 %.12s..., not %.12s...", a->path, hex,
			       a->sha256);
	return act_set(res, ACT_VERIFIED, "restore-file: %s has the requested content", a->path);
}

static enum act_status restore_rollback(const struct act_ctx *ctx, const Action *a,
					const json_t *undo, struct act_result *res)
{
	char err[256];
	if (json_is_true(json_object_get(undo, "unchanged")))
		return act_set(res, ACT_ROLLED_BACK, "restore-file: nothing was changed in %s",
			       a->path);
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "restore-file: would put back the previous %s",
			       a->path);
	int r = act_put_back(ctx, undo, err, sizeof(err));
	if (r == -ESTALE)
		return act_set(res, ACT_REFUSED, "restore-file: %s", err);
	if (r < 0)
		return act_set(res, ACT_FAILED, "restore-file: %s", err);
	return act_set(res, ACT_ROLLED_BACK, "restore-file: the previous %s is back", a->path);
}

const struct act_ops act_restore_file_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_RESTORE_FILE,
	.apply = restore_apply,
	.verify = restore_verify,
	.rollback = restore_rollback,
};

bool act_path_normal(const char *path)
{
	size_t n = strlen(path);
	if (n < 2 || n > ACTION_MAX_PATH || path[0] != '/' || path[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			return false;
	for (const char *p = path; *p;) {
		const char *c = p + 1, *e = strchrnul(c, '/');
		size_t len = (size_t)(e - c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		p = e;
	}
	return true;
}
