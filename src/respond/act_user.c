/* lock-user and remove-authorized-key (act.h, docs/actions-host.md).
 *
 * Account files are read below ctx->passwd_root ("/" on a host; a temporary root in tests).
 * Edits are atomic rewrites beside the file (temporary file, same owner and mode, fsync,
 * rename, fsync of the directory) so a crash leaves the old or the new file, never half of
 * one. /etc/shadow is edited under lckpwdf(), the lock the shadow tools take too.
 *
 * A home directory belongs to the account an action is aimed at, which may be an attacker's:
 * HOME/.ssh/authorized_keys is opened from the home with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so a symlink anywhere on that path is refused rather than followed
 * into files the executor (root) would otherwise rewrite. */
#include "respond/act.h"

#include "detect/procinfo.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "respond/authkeys.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <shadow.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ACCOUNTS_FILE_MAX (16u * 1024 * 1024) /* /etc/passwd, /etc/shadow */
#define KILL_ROUNDS 20			      /* /proc scans ending an account's processes */
#define KILL_WAIT_MS 2000		      /* per round, for the killed to exit */
#define LOCK_WAIT_MS 15000		      /* for the account files' lock (as lckpwdf) */
#define LOCK_EXPIRE "1" /* the account expired on 2 Jan 1970, as usermod -e 1 sets */

/* ---- files ------------------------------------------------------------------------------ */

static const char *root_of(const struct act_ctx *ctx)
{
	return ctx->passwd_root ? ctx->passwd_root : "/";
}

static bool root_is_host(const struct act_ctx *ctx)
{
	return !ctx->passwd_root || !strcmp(ctx->passwd_root, "/");
}

static int open_how(int dirfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve };
	long r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return r < 0 ? -errno : (int)r;
}

/* Opens root/etc as a directory. */
static int open_etc(const struct act_ctx *ctx)
{
	int rootfd = open(root_of(ctx), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	int fd = open_how(rootfd, "etc", O_RDONLY | O_DIRECTORY,
			  RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	close(rootfd);
	return fd;
}

/* Reads the regular file fd (at most cap bytes) into out; sets *st. */
static int read_fd(int fd, size_t cap, struct buf *out, struct stat *st)
{
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if ((uint64_t)st->st_size > cap)
		return -EFBIG;
	return fd_read_capped(fd, cap, out);
}

/* Replaces name in dirfd with len bytes of data, with the owner and mode of like. */
static int rewrite_at(int dirfd, const char *name, const struct stat *like, const void *data,
		      size_t len)
{
	unsigned char rnd[8];
	char tmp[128];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	snprintf(tmp, sizeof(tmp), ".%.64s.immune-%02x%02x%02x%02x%02x%02x%02x%02x", name, rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = 0;
	for (size_t off = 0; r == 0 && off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && (like->st_uid != geteuid() || like->st_gid != getegid()) &&
	    fchown(fd, like->st_uid, like->st_gid) < 0)
		r = -errno;
	if (r == 0 && fchmod(fd, like->st_mode & 07777) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fsync(dirfd) < 0 ? -errno : 0;
}

/* The lock of the account files: lckpwdf() on a host; the same kind of lock on
 * root/etc/.pwd.lock under a test root. Returns a descriptor to pass to pw_unlock (-1 for
 * lckpwdf) or a negative errno in *err. */
static int pw_lock(const struct act_ctx *ctx, int etcfd, int *err)
{
	*err = 0;
	if (root_is_host(ctx)) {
		if (lckpwdf() < 0)
			*err = errno ? -errno : -EAGAIN;
		return -1;
	}
	int fd = openat(etcfd, ".pwd.lock", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = -errno;
		return -1;
	}
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	for (int waited = 0; fcntl(fd, F_SETLK, &fl) < 0; waited += 50) {
		if ((errno != EAGAIN && errno != EACCES) || waited >= LOCK_WAIT_MS) {
			*err = -errno;
			close(fd);
			return -1;
		}
		(void)poll(NULL, 0, 50);
	}
	return fd;
}

static void pw_unlock(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd);
	else
		ulckpwdf();
}

/* ---- accounts ------------------------------------------------------------------------- */

struct account {
	uint32_t uid, gid;
	char home[ACTION_MAX_PATH + 1];
};

/* Splits a line of len bytes at ':' into at most max fields (pointers into line). */
static size_t split_colon(const char *line, size_t len, const char **f, size_t *flen, size_t max)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len && n < max; i++)
		if (i == len || line[i] == ':') {
			f[n] = line + start;
			flen[n++] = i - start;
			start = i + 1;
		}
	return n;
}

static bool field_is(const char *f, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(f, s, n) == 0;
}

static int field_u32(const char *f, size_t n, uint32_t *out)
{
	char tmp[16];
	uint64_t v;
	if (n == 0 || n >= sizeof(tmp))
		return -EBADMSG;
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	if (parse_u64(tmp, 10, UINT32_MAX, &v) < 0)
		return -EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

/* Finds user in root/etc/passwd. Returns 0, -ENOENT or another negative errno. */
static int account_find(int etcfd, const char *user, struct account *out)
{
	struct buf b;
	struct stat st;
	struct cursor c;
	const char *line;
	size_t len;

	int fd = openat(etcfd, "passwd", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf_init(&b, ACCOUNTS_FILE_MAX);
	int r = read_fd(fd, ACCOUNTS_FILE_MAX, &b, &st);
	close(fd);
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (r == 0 && cursor_get_line(&c, &line, &len) > 0) {
		const char *f[7];
		size_t fl[7];
		if (split_colon(line, len, f, fl, 7) != 7 || !field_is(f[0], fl[0], user))
			continue;
		struct account a = { 0 };
		if (field_u32(f[2], fl[2], &a.uid) < 0 || field_u32(f[3], fl[3], &a.gid) < 0 ||
		    fl[5] == 0 || fl[5] >= sizeof(a.home) || f[5][0] != '/') {
			r = -EBADMSG;
			break;
		}
		memcpy(a.home, f[5], fl[5]);
		*out = a;
		buf_free(&b);
		return 0;
	}
	buf_free(&b);
	return r < 0 ? r : -ENOENT;
}

static bool is_protected(const struct act_ctx *ctx, const char *user)
{
	for (size_t i = 0; ctx->protected_users && ctx->protected_users[i]; i++)
		if (!strcmp(ctx->protected_users[i], user))
			return true;
	return false;
}

/* Refuses protected and unknown accounts; sets *acc. */
static enum act_status account_check(const struct act_ctx *ctx, int etcfd, const Action *a,
				     bool root_ok, struct account *acc, struct act_result *res)
{
	if (is_protected(ctx, a->user))
		return act_set(res, ACT_REFUSED, "account %s is protected", a->user);
	if (!root_ok && !strcmp(a->user, "root"))
		return act_set(res, ACT_REFUSED, "the root account is never locked");
	int r = account_find(etcfd, a->user, acc);
	if (r == -ENOENT)
		return act_set(res, ACT_REFUSED, "no local account %s", a->user);
	if (r < 0)
		return act_set(res, ACT_FAILED, "reading %s/etc/passwd: %s", root_of(ctx),
			       strerror(-r));
	if (!root_ok && acc->uid == 0)
		return act_set(res, ACT_REFUSED, "account %s has uid 0: never locked", a->user);
	return ACT_VERIFIED;
}

/* ---- processes of an account ---------------------------------------------------------- */

static int proc_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return (int)n;
}

/* True when pid's real uid is uid and it is not a zombie. */
static bool runs_as(pid_t pid, uint32_t uid)
{
	char text[4096];
	uint32_t ruid, euid;
	int n = proc_read(pid, "status", text, sizeof(text));
	if (n < 0 || procinfo_parse_status(text, (size_t)n, &ruid, &euid) < 0 || ruid != uid)
		return false;
	const char *state = strstr(text, "\nState:\t");
	return !state || state[8] != 'Z';
}

static bool is_self_or_ancestor(pid_t pid)
{
	char text[1024];
	pid_t p = getpid();
	for (unsigned i = 0; p > 1 && i < 256; i++) {
		if (p == pid)
			return true;
		struct procinfo_ids ids = { 0 };
		int n = proc_read(p, "stat", text, sizeof(text));
		if (n < 0 || procinfo_parse_stat(text, (size_t)n, &ids) < 0)
			break;
		p = ids.ppid;
	}
	return false;
}

/* Calls fn for every process whose real uid is uid (never this process or its ancestors). */
static size_t each_process_of(uint32_t uid, void (*fn)(pid_t pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t count = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		uint64_t pid;
		if (parse_u64(e->d_name, 10, INT32_MAX, &pid) < 0 || !runs_as((pid_t)pid, uid) ||
		    is_self_or_ancestor((pid_t)pid))
			continue;
		count++;
		if (fn)
			fn((pid_t)pid, arg);
	}
	closedir(d);
	return count;
}

struct kill_round {
	uint32_t uid;
	json_t *pids, *images;
	int fds[256];
	size_t nfds;
};

static void kill_one(pid_t pid, void *arg)
{
	struct kill_round *k = arg;
	char image[256] = "";
	char path[64];
	int fd = pidfd_open(pid, 0);
	if (fd < 0)
		return;
	/* Checked again through the pidfd: the pid may have been reused since the scan. */
	if (!runs_as(pid, k->uid) || pidfd_send_signal(fd, 0, NULL, 0) < 0) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, image, sizeof(image) - 1);
	image[n > 0 ? n : 0] = '\0';
	if (pidfd_send_signal(fd, SIGKILL, NULL, 0) < 0) {
		close(fd);
		return;
	}
	json_array_append_new(k->pids, json_integer(pid));
	json_array_append_new(k->images, json_string(image[0] ? image : "?"));
	if (k->nfds < ARRAY_SIZE(k->fds))
		k->fds[k->nfds++] = fd;
	else
		close(fd);
}

/* SIGKILLs every process whose real uid is uid, scanning again until none is left (a
 * process may fork while its siblings die). Returns the number left. */
static size_t end_sessions(uint32_t uid, json_t *pids, json_t *images)
{
	for (unsigned round = 0; round < KILL_ROUNDS; round++) {
		struct kill_round k = { .uid = uid, .pids = pids, .images = images };
		if (each_process_of(uid, kill_one, &k) == 0)
			return 0;
		for (int waited = 0; waited < KILL_WAIT_MS; waited += 20) {
			size_t alive = 0;
			for (size_t i = 0; i < k.nfds; i++) {
				struct pollfd p = { .fd = k.fds[i], .events = POLLIN };
				alive += poll(&p, 1, 0) == 0;
			}
			if (!alive)
				break;
			(void)poll(NULL, 0, 20);
		}
		for (size_t i = 0; i < k.nfds; i++)
			close(k.fds[i]);
	}
	return each_process_of(uid, NULL, NULL);
}

/* ---- /etc/shadow ---------------------------------------------------------------------- */

struct shadow_entry {
	size_t pw_off, pw_len;	 /* the password field in the file */
	size_t exp_off, exp_len; /* the account expiration field */
};

/* Finds user's line in the text of a shadow file. Returns 0, -ENOENT, or -EBADMSG when the
 * line has fewer than 8 fields. */
static int shadow_find(const char *data, size_t len, const char *user, struct shadow_entry *out)
{
	struct cursor c;
	const char *line;
	size_t n;

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		const char *f[9];
		size_t fl[9];
		size_t nf = split_colon(line, n, f, fl, 9);
		if (nf < 1 || !field_is(f[0], fl[0], user))
			continue;
		if (nf < 8)
			return -EBADMSG;
		*out = (struct shadow_entry){ (size_t)(f[1] - data), fl[1], (size_t)(f[7] - data),
					      fl[7] };
		return 0;
	}
	return -ENOENT;
}

/* The text of a shadow file with user's password field pw and expiration field exp. */
static int shadow_replace(const struct buf *in, const struct shadow_entry *e, const char *pw,
			  const char *exp, struct buf *out)
{
	const char *d = buf_str(in);
	size_t end = e->exp_off + e->exp_len;
	if (buf_append(out, d, e->pw_off) < 0 || buf_puts(out, pw) < 0 ||
	    buf_append(out, d + e->pw_off + e->pw_len, e->exp_off - e->pw_off - e->pw_len) < 0 ||
	    buf_puts(out, exp) < 0 || buf_append(out, d + end, buf_len(in) - end) < 0)
		return -EMSGSIZE;
	return 0;
}

struct shadow_state {
	bool locked;	 /* the password field starts with '!' */
	char expire[24]; /* the expiration field as written ("" when unset) */
};

/* The shadow state of user; -ENOENT when there is no entry. */
static int shadow_get(int etcfd, const char *user, struct shadow_state *out)
{
	struct buf b;
	struct stat st;
	struct shadow_entry e;

	int fd = openat(etcfd, "shadow", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf_init(&b, ACCOUNTS_FILE_MAX);
	int r = read_fd(fd, ACCOUNTS_FILE_MAX, &b, &st);
	close(fd);
	if (r == 0)
		r = shadow_find(buf_str(&b), buf_len(&b), user, &e);
	if (r == 0 && e.exp_len >= sizeof(out->expire))
		r = -EBADMSG;
	if (r == 0) {
		const char *d = buf_str(&b);
		out->locked = e.pw_len > 0 && d[e.pw_off] == '!';
		memcpy(out->expire, d + e.exp_off, e.exp_len);
		out->expire[e.exp_len] = '\0';
	}
	buf_free_secret(&b); /* it held every account's password hash */
	return r;
}

/* Sets user's lock and expiration under the account files' lock: lock adds a '!' before the
 * password (when prefix_add), unlock takes one away (when prefix_del). Returns 0 or a
 * negative errno; *changed tells whether the file was rewritten. */
static int shadow_set(const struct act_ctx *ctx, int etcfd, const char *user, bool prefix_add,
		      bool prefix_del, const char *expire, bool *changed)
{
	struct buf in, out;
	struct stat st;
	struct shadow_entry e;
	int err, lock = pw_lock(ctx, etcfd, &err);

	*changed = false;
	if (err < 0)
		return err;
	buf_init(&in, ACCOUNTS_FILE_MAX);
	buf_init(&out, ACCOUNTS_FILE_MAX + 64);
	int fd = openat(etcfd, "shadow", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? -errno : read_fd(fd, ACCOUNTS_FILE_MAX, &in, &st);
	if (fd >= 0)
		close(fd);
	if (r == 0)
		r = shadow_find(buf_str(&in), buf_len(&in), user, &e);
	if (r == 0) {
		const char *pw = buf_str(&in) + e.pw_off;
		bool locked = e.pw_len > 0 && pw[0] == '!';
		_cleanup_free_ char *newpw = xstrndup(pw, e.pw_len);
		if (prefix_add && !locked) {
			free(newpw);
			newpw = xasprintf("!%.*s", (int)e.pw_len, pw);
		} else if (prefix_del && locked) {
			free(newpw);
			newpw = xstrndup(pw + 1, e.pw_len - 1);
		}
		bool same = strlen(newpw) == e.pw_len && !memcmp(newpw, pw, e.pw_len) &&
			    strlen(expire) == e.exp_len &&
			    !memcmp(expire, buf_str(&in) + e.exp_off, e.exp_len);
		if (!same) {
			r = shadow_replace(&in, &e, newpw, expire, &out);
			if (r == 0)
				r = rewrite_at(etcfd, "shadow", &st, buf_str(&out), buf_len(&out));
			*changed = r == 0;
		}
		explicit_bzero(newpw, strlen(newpw));
	}
	buf_free_secret(&in);
	buf_free_secret(&out);
	pw_unlock(lock);
	return r;
}

/* ---- lock-user ------------------------------------------------------------------------ */

/* True when the expiration field says the account has expired by today. */
static bool expired(const char *expire)
{
	uint64_t day;
	return expire[0] && parse_u64(expire, 10, INT64_MAX, &day) == 0 &&
	       day <= (uint64_t)time(NULL) / 86400;
}

/* Checks the account is locked and (on a host) runs nothing; the reason goes to res. */
static enum act_status lock_check(const struct act_ctx *ctx, int etcfd, const Action *a,
				  const struct account *acc, struct act_result *res)
{
	struct shadow_state s;
	int r = shadow_get(etcfd, a->user, &s);
	if (r < 0)
		return act_set(res, ACT_FAILED, "reading the shadow entry of %s: %s", a->user,
			       strerror(-r));
	if (!s.locked || !expired(s.expire))
		return act_set(res, ACT_FAILED, "account %s is not locked", a->user);
	size_t left = root_is_host(ctx) ? each_process_of(acc->uid, NULL, NULL) : 0;
	if (left)
		return act_set(res, ACT_FAILED, "account %s is locked but %zu of its processes run",
			       a->user, left);
	return act_set(res, ACT_VERIFIED, "account %s is locked and runs no process", a->user);
}

static enum act_status lock_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				  struct act_result *res)
{
	struct account acc;
	struct shadow_state before;
	bool changed;
	_cleanup_close_ int etcfd = open_etc(ctx);

	*undo = NULL;
	if (etcfd < 0)
		return act_set(res, ACT_FAILED, "opening %s/etc: %s", root_of(ctx),
			       strerror(-etcfd));
	enum act_status s = account_check(ctx, etcfd, a, false, &acc, res);
	if (s != ACT_VERIFIED)
		return s;
	int r = shadow_get(etcfd, a->user, &before);
	if (r < 0)
		return act_set(res, r == -ENOENT ? ACT_REFUSED : ACT_FAILED,
			       "reading the shadow entry of %s: %s", a->user,
			       r == -ENOENT ? "none" : strerror(-r));
	if (ctx->dry_run) {
		size_t n = root_is_host(ctx) ? each_process_of(acc.uid, NULL, NULL) : 0;
		return act_set(res, ACT_DRY_RUN,
			       "would lock account %s%s and end its %zu process%s", a->user,
			       before.locked ? " (already locked)" : "", n, n == 1 ? "" : "es");
	}
	r = shadow_set(ctx, etcfd, a->user, true, false, LOCK_EXPIRE, &changed);
	if (r < 0)
		return act_set(res, ACT_FAILED, "locking %s in %s/etc/shadow: %s", a->user,
			       root_of(ctx), strerror(-r));
	*undo = json_pack("{s:s, s:i, s:b, s:s}", "user", a->user, "uid", (json_int_t)acc.uid,
			  "prefixed", !before.locked, "expire_was", before.expire);
	json_t *pids = json_array(), *images = json_array();
	if (root_is_host(ctx))
		(void)end_sessions(acc.uid, pids, images);
	res->detail =
		json_pack("{s:s, s:i, s:b, s:o, s:o}", "user", a->user, "uid", (json_int_t)acc.uid,
			  "was_locked", before.locked, "killed", pids, "images", images);
	s = lock_check(ctx, etcfd, a, &acc, res);
	if (s == ACT_VERIFIED)
		act_set(res, ACT_VERIFIED, "locked account %s%s and ended %zu process%s", a->user,
			changed ? "" : " (already locked)", json_array_size(pids),
			json_array_size(pids) == 1 ? "" : "es");
	return s;
}

static enum act_status lock_verify(const struct act_ctx *ctx, const Action *a,
				   struct act_result *res)
{
	struct account acc;
	_cleanup_close_ int etcfd = open_etc(ctx);
	if (etcfd < 0)
		return act_set(res, ACT_FAILED, "opening %s/etc: %s", root_of(ctx),
			       strerror(-etcfd));
	int r = account_find(etcfd, a->user, &acc);
	if (r < 0)
		return act_set(res, ACT_FAILED, "account %s: %s", a->user, strerror(-r));
	return lock_check(ctx, etcfd, a, &acc, res);
}

static bool expire_ok(const char *s)
{
	return s && strlen(s) < sizeof(((struct shadow_state *)0)->expire) &&
	       strspn(s, "0123456789-") == strlen(s);
}

static enum act_status lock_rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				     struct act_result *res)
{
	const char *user = json_string_value(json_object_get(undo, "user"));
	const char *expire = json_string_value(json_object_get(undo, "expire_was"));
	json_t *prefixed = json_object_get(undo, "prefixed");
	struct shadow_state now;
	bool changed;

	if (!user || strcmp(user, a->user) || !expire_ok(expire) || !json_is_boolean(prefixed))
		return act_set(res, ACT_FAILED, "the undo record of lock-user %s is damaged",
			       a->user);
	_cleanup_close_ int etcfd = open_etc(ctx);
	if (etcfd < 0)
		return act_set(res, ACT_FAILED, "opening %s/etc: %s", root_of(ctx),
			       strerror(-etcfd));
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "would unlock account %s", a->user);
	int r = shadow_set(ctx, etcfd, a->user, false, json_is_true(prefixed), expire, &changed);
	if (r == 0)
		r = shadow_get(etcfd, a->user, &now);
	if (r < 0)
		return act_set(res, ACT_FAILED, "unlocking %s in %s/etc/shadow: %s", a->user,
			       root_of(ctx), strerror(-r));
	if ((json_is_true(prefixed) && now.locked) || strcmp(now.expire, expire))
		return act_set(res, ACT_FAILED, "account %s is still locked", a->user);
	return act_set(res, ACT_ROLLED_BACK, "unlocked account %s%s", a->user,
		       json_is_true(prefixed) ? "" : " (it was locked before: left locked)");
}

const struct act_ops act_lock_user_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER,
	.apply = lock_apply,
	.verify = lock_verify,
	.rollback = lock_rollback,
};

/* ---- remove-authorized-key ------------------------------------------------------------ */

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

struct keyfile {
	int sshfd;	  /* HOME/.ssh, or -1 */
	struct stat st;	  /* of authorized_keys */
	struct buf data;  /* its contents */
	bool present;	  /* authorized_keys exists */
	const char *path; /* for messages: HOME/.ssh/authorized_keys */
};

static void keyfile_free(struct keyfile *kf)
{
	if (kf->sshfd >= 0)
		close(kf->sshfd);
	buf_free(&kf->data);
	free((char *)kf->path);
}

/* Opens and reads HOME/.ssh/authorized_keys. Returns ACT_VERIFIED (kf->present false when
 * there is none), or ACT_REFUSED/ACT_FAILED with the reason. */
static enum act_status keyfile_open(const struct act_ctx *ctx, const struct account *acc,
				    struct keyfile *kf, struct act_result *res)
{
	*kf = (struct keyfile){ .sshfd = -1 };
	buf_init(&kf->data, AUTHKEYS_FILE_MAX);
	kf->path = xasprintf("%s/.ssh/authorized_keys", strcmp(acc->home, "/") ? acc->home : "");
	int rootfd = open(root_of(ctx), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return act_set(res, ACT_FAILED, "opening %s: %s", root_of(ctx), strerror(errno));
	/* The directories above the home are the system's (/home may be a symlink); the home
	 * itself may be the account's to replace, so it must not be one. */
	int home = open_how(rootfd, acc->home, O_PATH | O_DIRECTORY | O_NOFOLLOW,
			    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	close(rootfd);
	if (home == -ENOENT)
		return ACT_VERIFIED;
	if (home == -ENOTDIR || home == -ELOOP)
		return act_set(res, ACT_REFUSED,
			       "home %s is a symlink or not a directory: not touched", acc->home);
	if (home < 0)
		return act_set(res, ACT_FAILED, "opening home %s: %s", acc->home, strerror(-home));
	kf->sshfd = open_how(home, ".ssh", O_RDONLY | O_DIRECTORY, BENEATH);
	close(home);
	int r = kf->sshfd;
	int fd = r < 0 ? r : open_how(kf->sshfd, "authorized_keys", O_RDONLY | O_NONBLOCK, BENEATH);
	r = fd < 0 ? fd : read_fd(fd, AUTHKEYS_FILE_MAX, &kf->data, &kf->st);
	if (fd >= 0)
		close(fd);
	if (r == -ENOENT)
		return ACT_VERIFIED;
	if (r == -ELOOP || r == -EXDEV)
		return act_set(res, ACT_REFUSED, "%s: a symlink or mount on the way: not touched",
			       kf->path);
	if (r == -EINVAL || r == -ENOTDIR)
		return act_set(res, ACT_REFUSED, "%s is not a regular file in a directory",
			       kf->path);
	if (r < 0)
		return act_set(res, ACT_FAILED, "reading %s: %s", kf->path, strerror(-r));
	if (kf->st.st_nlink != 1)
		return act_set(res, ACT_REFUSED, "%s has %ju hard links: not touched", kf->path,
			       (uintmax_t)kf->st.st_nlink);
	kf->present = true;
	return ACT_VERIFIED;
}

static char *quarantine_path(const struct act_ctx *ctx, const char *uid)
{
	return xasprintf("%s/quarantine/keys/%s.json", ctx->state_dir, uid);
}

static int mkdir_p(const char *base, const char *sub)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", base, sub);
	for (char *p = path + strlen(base) + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* Writes the removed lines to the action's quarantine file, adding them to lines an earlier
 * attempt of the same action kept there. */
static int quarantine_write(const struct act_ctx *ctx, const Action *a, const struct keyfile *kf,
			    const struct account *acc, json_t *removed)
{
	_cleanup_free_ char *path = quarantine_path(ctx, ctx->uid);
	struct buf old;
	int r = mkdir_p(ctx->state_dir, "quarantine/keys");
	if (r < 0)
		return r;
	buf_init(&old, 4 * AUTHKEYS_FILE_MAX);
	json_t *prev = NULL;
	if (file_read_capped(path, 4 * AUTHKEYS_FILE_MAX, &old) == 0)
		prev = json_loadb(buf_str(&old), buf_len(&old), 0, NULL);
	buf_free(&old);
	json_t *lines = json_array();
	json_array_extend(lines, json_object_get(prev, "lines"));
	json_array_extend(lines, removed);
	json_decref(prev);
	json_t *q =
		json_pack("{s:s, s:i, s:s, s:s, s:o}", "user", a->user, "uid", (json_int_t)acc->uid,
			  "fingerprint", a->fingerprint, "file", kf->path, "lines", lines);
	char *text = json_dumps(q, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(q);
	if (!text)
		return -ENOMEM;
	r = file_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return r;
}

static enum act_status key_prepare(const struct act_ctx *ctx, const Action *a, struct account *acc,
				   struct keyfile *kf, struct act_result *res)
{
	*kf = (struct keyfile){ .sshfd = -1 };
	_cleanup_close_ int etcfd = open_etc(ctx);
	if (etcfd < 0)
		return act_set(res, ACT_FAILED, "opening %s/etc: %s", root_of(ctx),
			       strerror(-etcfd));
	enum act_status s = account_check(ctx, etcfd, a, true, acc, res);
	return s == ACT_VERIFIED ? keyfile_open(ctx, acc, kf, res) : s;
}

static enum act_status key_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				 struct act_result *res)
{
	struct account acc;
	struct keyfile kf;
	struct buf kept;

	*undo = NULL;
	if (!ctx->uid || !action_uid_ok(ctx->uid) || !ctx->state_dir)
		return act_set(res, ACT_FAILED,
			       "remove-authorized-key needs an action id and a "
			       "state directory");
	enum act_status s = key_prepare(ctx, a, &acc, &kf, res);
	if (s != ACT_VERIFIED || !kf.present) {
		if (s == ACT_VERIFIED)
			act_set(res, ctx->dry_run ? ACT_DRY_RUN : ACT_VERIFIED,
				"%s has no authorized_keys: no key to remove", a->user);
		if (res->status == ACT_VERIFIED)
			*undo = json_pack("{s:s, s:s, s:s}", "user", a->user, "fingerprint",
					  a->fingerprint, "action", ctx->uid);
		keyfile_free(&kf);
		return res->status;
	}
	json_t *removed = json_array();
	bool quarantined = false;
	buf_init(&kept, AUTHKEYS_FILE_MAX);
	int n = authkeys_remove(buf_str(&kf.data), buf_len(&kf.data), a->fingerprint, &kept,
				removed);
	if (n < 0)
		s = act_set(res, ACT_FAILED, "editing %s: %s", kf.path, strerror(-n));
	else if (ctx->dry_run)
		s = act_set(res, ACT_DRY_RUN, "would remove %d line%s with key %s from %s", n,
			    n == 1 ? "" : "s", a->fingerprint, kf.path);
	else if (n == 0)
		s = act_set(res, ACT_VERIFIED, "no key %s in %s", a->fingerprint, kf.path);
	else {
		int r = quarantine_write(ctx, a, &kf, &acc, removed);
		quarantined = r == 0;
		if (r == 0)
			r = rewrite_at(kf.sshfd, "authorized_keys", &kf.st, buf_str(&kept),
				       buf_len(&kept));
		if (r < 0)
			s = act_set(res, ACT_FAILED, "removing key %s from %s: %s", a->fingerprint,
				    kf.path, strerror(-r));
		else
			s = act_set(res, ACT_VERIFIED, "removed %d line%s with key %s from %s", n,
				    n == 1 ? "" : "s", a->fingerprint, kf.path);
	}
	if (n > 0 && s == ACT_VERIFIED) {
		/* Checked by reading the file again. */
		struct keyfile again;
		struct act_result r2 = { 0 };
		if (keyfile_open(ctx, &acc, &again, &r2) != ACT_VERIFIED ||
		    authkeys_count(buf_str(&again.data), buf_len(&again.data), a->fingerprint))
			s = act_set(res, ACT_FAILED, "key %s is still in %s", a->fingerprint,
				    kf.path);
		keyfile_free(&again);
	}
	/* A failure after the quarantine may have left an effect: the undo record says so. */
	if (s == ACT_VERIFIED || quarantined)
		*undo = json_pack("{s:s, s:s, s:s}", "user", a->user, "fingerprint", a->fingerprint,
				  "action", ctx->uid);
	if (n >= 0)
		res->detail = json_pack("{s:s, s:s, s:s, s:i}", "user", a->user, "file", kf.path,
					"fingerprint", a->fingerprint, "removed", (json_int_t)n);
	json_decref(removed);
	buf_free(&kept);
	keyfile_free(&kf);
	return s;
}

/* How many lines of the file name in the .ssh directory sshfd hold the key fp (0 when it
 * cannot be read: absent, a symlink, not a regular file). */
static size_t count_in_ssh_dir(int sshfd, const char *name, const char *fp)
{
	struct buf b;
	struct stat st;
	buf_init(&b, AUTHKEYS_FILE_MAX);
	int fd = open_how(sshfd, name, O_RDONLY | O_NONBLOCK, BENEATH);
	size_t n = fd >= 0 && read_fd(fd, AUTHKEYS_FILE_MAX, &b, &st) == 0
			   ? authkeys_count(buf_str(&b), buf_len(&b), fp)
			   : 0;
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return n;
}

static enum act_status key_verify(const struct act_ctx *ctx, const Action *a,
				  struct act_result *res)
{
	struct account acc;
	struct keyfile kf;
	enum act_status s = key_prepare(ctx, a, &acc, &kf, res);
	if (s == ACT_VERIFIED) {
		size_t n = kf.present ? authkeys_count(buf_str(&kf.data), buf_len(&kf.data),
						       a->fingerprint)
				      : 0;
		size_t n2 = kf.sshfd >= 0
				    ? count_in_ssh_dir(kf.sshfd, "authorized_keys2", a->fingerprint)
				    : 0;
		if (n)
			s = act_set(res, ACT_FAILED, "key %s is in %s (%zu line%s)", a->fingerprint,
				    kf.path, n, n == 1 ? "" : "s");
		else if (n2)
			s = act_set(
				res, ACT_FAILED,
				"key %s is not in %s but is in authorized_keys2 beside it, which "
				"this action does not edit: remove it there by hand",
				a->fingerprint, kf.path);
		else
			s = act_set(res, ACT_VERIFIED, "key %s is not in %s", a->fingerprint,
				    kf.path);
	}
	keyfile_free(&kf);
	return s;
}

/* Loads the quarantined lines of action uid. */
static int quarantine_read(const struct act_ctx *ctx, const char *uid, json_t **lines)
{
	_cleanup_free_ char *path = quarantine_path(ctx, uid);
	struct buf b;
	buf_init(&b, 4 * AUTHKEYS_FILE_MAX);
	int r = file_read_capped(path, 4 * AUTHKEYS_FILE_MAX, &b);
	json_t *q = r == 0 ? json_loadb(buf_str(&b), buf_len(&b), 0, NULL) : NULL;
	buf_free(&b);
	if (r < 0)
		return r;
	json_t *l = json_object_get(q, "lines");
	if (!json_is_array(l)) {
		json_decref(q);
		return -EBADMSG;
	}
	*lines = json_incref(l);
	json_decref(q);
	return 0;
}

/* True when authorized_keys, read again, holds the key fp. */
static bool key_present(const struct act_ctx *ctx, const struct account *acc, const char *fp)
{
	struct keyfile kf;
	struct act_result r = { 0 };
	bool yes = keyfile_open(ctx, acc, &kf, &r) == ACT_VERIFIED && kf.present &&
		   authkeys_count(buf_str(&kf.data), buf_len(&kf.data), fp) > 0;
	keyfile_free(&kf);
	return yes;
}

/* Creates an empty authorized_keys (0600, owned by the account) to append lines to. */
static int keyfile_create(struct keyfile *kf, const struct account *acc)
{
	kf->st = (struct stat){ .st_mode = S_IFREG | 0600, .st_uid = acc->uid, .st_gid = acc->gid };
	return 0;
}

static enum act_status key_rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				    struct act_result *res)
{
	const char *user = json_string_value(json_object_get(undo, "user"));
	const char *uid = json_string_value(json_object_get(undo, "action"));
	struct account acc;
	struct keyfile kf;
	json_t *lines = NULL;
	struct buf out;

	if (!user || strcmp(user, a->user) || !uid || !action_uid_ok(uid) || !ctx->state_dir)
		return act_set(res, ACT_FAILED,
			       "the undo record of remove-authorized-key %s is damaged", a->user);
	int r = quarantine_read(ctx, uid, &lines);
	if (r == -ENOENT)
		return act_set(res, ACT_ROLLED_BACK,
			       "no quarantined key of action %s: nothing to restore", uid);
	if (r < 0)
		return act_set(res, ACT_FAILED, "reading the quarantined keys of action %s: %s",
			       uid, strerror(-r));
	enum act_status s = key_prepare(ctx, a, &acc, &kf, res);
	if (s == ACT_VERIFIED && kf.sshfd < 0)
		s = act_set(res, ACT_FAILED, "%s has no .ssh directory to restore keys to",
			    a->user);
	if (s != ACT_VERIFIED) {
		json_decref(lines);
		keyfile_free(&kf);
		return s;
	}
	if (!kf.present)
		(void)keyfile_create(&kf, &acc);
	buf_init(&out, AUTHKEYS_FILE_MAX + 4 * AUTHKEYS_LINE_MAX);
	int n = authkeys_append(buf_str(&kf.data), buf_len(&kf.data), lines, &out);
	if (n < 0)
		s = act_set(res, ACT_FAILED, "restoring keys to %s: %s", kf.path, strerror(-n));
	else if (ctx->dry_run)
		s = act_set(res, ACT_DRY_RUN, "would restore %d line%s to %s", n, n == 1 ? "" : "s",
			    kf.path);
	else if (n > 0 && (r = rewrite_at(kf.sshfd, "authorized_keys", &kf.st, buf_str(&out),
					  buf_len(&out))) < 0)
		s = act_set(res, ACT_FAILED, "restoring keys to %s: %s", kf.path, strerror(-r));
	else if (!key_present(ctx, &acc, a->fingerprint))
		s = act_set(res, ACT_FAILED, "key %s is not in %s after restoring", a->fingerprint,
			    kf.path);
	else {
		s = act_set(res, ACT_ROLLED_BACK, "restored %d line%s with key %s to %s", n,
			    n == 1 ? "" : "s", a->fingerprint, kf.path);
		_cleanup_free_ char *q = quarantine_path(ctx, uid);
		(void)unlink(q);
	}
	json_decref(lines);
	buf_free(&out);
	keyfile_free(&kf);
	return s;
}

const struct act_ops act_remove_authorized_key_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY,
	.apply = key_apply,
	.verify = key_verify,
	.rollback = key_rollback,
};
