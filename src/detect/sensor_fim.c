/* The file integrity sensor (docs/sensor-fim.md): fanotify filesystem marks (notification
 * events only) or inotify watches for real-time changes, coalesced over ~100 ms, plus a
 * periodic SHA-256 scan on its own thread under a CPU budget (fim_scan.h) and text snapshots
 * for diffs (vault.h). */
#include <event2/event.h>

#include "detect/fim_scan.h"
#include "detect/sensor.h"
#include "detect/vault.h"

#include "lib/fileio.h"
#include "lib/str.h"
#include "respond/authkeys.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define FIM_HASH_CAP (64u * 1024 * 1024) /* larger files are reported without a hash */
#define FIM_VAULT_TOTAL (32u * 1024 * 1024)
#define FIM_COALESCE_MS 100
#define FIM_PENDING_MAX 512
#define FIM_INOTIFY_MAX_WATCHES 65536
#define FIM_MAX_MARKS 32
#define FIM_READ_BUF (64u * 1024)
#define FIM_KEYS_MAX 32 /* added SSH keys reported (one event each) per change of a file */

static const char *const default_paths[] = {
	"/etc",
	"/bin",
	"/sbin",
	"/usr/bin",
	"/usr/sbin",
	"/boot",
	"/root/.ssh",
	"/var/spool/cron",
	"/etc/systemd/system",
	"/lib/systemd/system",
	"/usr/lib/systemd/system",
	NULL,
};

enum mech { MECH_NONE, MECH_FANOTIFY, MECH_INOTIFY };

struct fsmark {
	int fd; /* a directory on the filesystem, for open_by_handle_at */
	int32_t fsid[2];
};

struct pending {
	char *path; /* host path */
	enum event_kind kind;
	pid_t pid;
};

struct fim {
	struct sensor_ctx ctx;
	char *prefix;  /* cfg->root without a trailing '/', "" for the host */
	char **watch;  /* host paths, canonical */
	char **reads;  /* host paths whose opens are reported (fanotify inode marks) */
	char *exclude; /* the state directory (host path) */
	char *db_path;
	struct fim_db *db;
	struct vault *vault;
	struct fim_hasher *h; /* for the base's thread */
	size_t snapshot_max;
	pid_t self;

	enum mech mech;
	int fd;
	struct event *ev_read, *ev_timer;
	struct fsmark marks[FIM_MAX_MARKS];
	size_t nmarks;
	bool fan_rename;
	char **wd_path; /* inotify: the path of each watch descriptor */
	size_t wd_alloc;
	unsigned nwatches, unwatched;

	struct pending pend[FIM_PENDING_MAX];
	size_t npend;
	char *moved_from; /* an unpaired rename source (fanotify without FAN_RENAME, inotify) */
	uint32_t moved_cookie;
	pid_t moved_pid;

	struct host_event ev;	   /* scratch for the base's thread */
	struct host_event scan_ev; /* scratch for the scan thread */
	pthread_t thr;
	bool thr_started;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards the condition and message */
	pthread_cond_t cond;
	atomic_uint_fast64_t events, lost, skipped;
	char message[256];
	unsigned char rbuf[FIM_READ_BUF] __attribute__((aligned(8)));
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_message(struct fim *f, const char *fmt, ...) _printf_(2, 3);
static void set_message(struct fim *f, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&f->lock);
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&f->lock);
}

/* ---- paths ---- */

static bool path_under(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool watched(const struct fim *f, const char *path)
{
	if (f->exclude && path_under(path, f->exclude))
		return false;
	for (char **w = f->watch; w && *w; w++)
		if (path_under(path, *w))
			return true;
	return false;
}

/* The path as seen inside cfg->root (the host path when the root is "/"). */
static const char *report_path(const struct fim *f, const char *host)
{
	size_t n = strlen(f->prefix);
	if (n && strncmp(host, f->prefix, n) == 0 && host[n] == '/')
		return host + n;
	return host;
}

static void add_watch_path(struct fim *f, const char *path)
{
	_cleanup_free_ char *host = xasprintf("%s%s", f->prefix, path);
	char real[PATH_MAX];
	const char *p = realpath(host, real) ? real : host;
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	_cleanup_free_ char *c = xstrndup(p, n);
	if (!strv_contains(f->watch, c))
		strv_push(&f->watch, c);
}

/* Adds ~/.ssh of every account in root's /etc/passwd. */
static void add_ssh_dirs(struct fim *f)
{
	_cleanup_free_ char *pw = xasprintf("%s/etc/passwd", f->prefix);
	_cleanup_(buf_free) struct buf b = { 0 };
	struct cursor c;
	const char *line;
	size_t len;

	buf_init(&b, 4u << 20);
	if (file_read_capped(pw, 4u << 20, &b) < 0)
		return;
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) == 1) {
		_cleanup_free_ char *l = xstrndup(line, len);
		_cleanup_strv_ strv fields = NULL;
		/* name:pw:uid:gid:gecos:home:shell; empty fields keep their place */
		char *p = l;
		for (int i = 0; i < 7 && p; i++) {
			char *colon = strchr(p, ':');
			if (colon)
				*colon = '\0';
			strv_push(&fields, p);
			p = colon ? colon + 1 : NULL;
		}
		if (strv_len(fields) < 6)
			continue;
		const char *home = fields[5];
		if (home[0] != '/' || strcmp(home, "/") == 0 || strlen(home) > 1024 ||
		    strstr(home, "/.."))
			continue;
		_cleanup_free_ char *ssh = xasprintf("%s/.ssh", home);
		add_watch_path(f, ssh);
	}
}

static const char *const default_read_paths[] = { "/etc/shadow", "/etc/gshadow", NULL };

static void build_read_list(struct fim *f, const struct sensor_config *cfg)
{
	char *const *p = cfg->fim_read_paths ? cfg->fim_read_paths : (char **)default_read_paths;
	for (; *p; p++) {
		_cleanup_free_ char *host = xasprintf("%s%s", f->prefix, *p);
		char real[PATH_MAX];
		const char *h = realpath(host, real) ? real : host;
		if (!strv_contains(f->reads, h))
			strv_push(&f->reads, h);
	}
}

static void build_watch_list(struct fim *f, const struct sensor_config *cfg)
{
	build_read_list(f, cfg);
	if (cfg->fim_paths) {
		for (char **p = cfg->fim_paths; *p; p++)
			add_watch_path(f, *p);
		return;
	}
	for (const char *const *p = default_paths; *p; p++)
		add_watch_path(f, *p);
	add_ssh_dirs(f);
}

/* ---- events ---- */

static void set_mode_owner(struct host_event *ev, const struct fim_entry *e)
{
	char mode[16];
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
	host_event_set_str(ev, EF_FILE_MODE, mode);
	if (getpwuid_r(e->uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		host_event_set_str(ev, EF_FILE_OWNER, res->pw_name);
	else
		host_event_set_int(ev, EF_FILE_OWNER, e->uid);
}

static void set_sha(struct host_event *ev, enum event_field fld, const struct fim_entry *e)
{
	char hex[2 * FIM_SHA256_LEN + 1];
	if (!(e->flags & FIM_F_HASHED) || !S_ISREG(e->mode))
		return;
	fim_sha256_hex(e->sha256, hex);
	host_event_set_str(ev, fld, hex);
}

static void set_actor(const struct fim *f, struct host_event *ev, pid_t pid)
{
	char link[64], exe[PATH_MAX];
	if (pid <= 0)
		return;
	host_event_set_int(ev, EF_PID, pid);
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		host_event_set_str(ev, EF_IMAGE, report_path(f, exe));
	}
}

static void set_diff(struct fim *f, struct host_event *ev, const char *host,
		     const struct fim_entry *now, const struct fim_entry *before)
{
	if (!f->vault || !before || !(before->flags & FIM_F_HASHED) || !S_ISREG(before->mode) ||
	    !S_ISREG(now->mode) || now->size > f->snapshot_max)
		return;
	_cleanup_(buf_free) struct buf d = { 0 };
	buf_init(&d, VAULT_DIFF_MAX);
	if (vault_diff(f->vault, host, before->sha256, VAULT_DIFF_MAX, &d) == 0 && buf_len(&d))
		host_event_set(ev, EF_FILE_DIFF, buf_str(&d), buf_len(&d));
}

static void snapshot(struct fim *f, const char *host, const struct fim_entry *e)
{
	if (f->vault && S_ISREG(e->mode) && (e->flags & FIM_F_HASHED) &&
	    e->size <= f->snapshot_max && !vault_has(f->vault, e->sha256))
		vault_put_file(f->vault, host, NULL);
}

static void emit(struct fim *f, struct host_event *ev)
{
	host_event_set_str(ev, EF_SENSOR, "fim");
	atomic_fetch_add(&f->events, 1);
	f->ctx.emit(ev, f->ctx.emit_arg);
}

static bool same_attr(const struct fim_entry *a, const struct fim_entry *b)
{
	return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid;
}

static bool same_content(const struct fim_entry *a, const struct fim_entry *b)
{
	if ((a->flags & FIM_F_HASHED) && (b->flags & FIM_F_HASHED))
		return memcmp(a->sha256, b->sha256, FIM_SHA256_LEN) == 0;
	return a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* ---- authorized_keys: the keys a change added ---- */

static bool is_authkeys_file(const char *host)
{
	const char *base = strrchr(host, '/');
	base = base ? base + 1 : host;
	return !strcmp(base, "authorized_keys") || !strcmp(base, "authorized_keys2");
}

/* Reads host (a regular file; a symlink is refused) whole, at most cap bytes, into out. */
static int read_keys_file(const char *host, size_t cap, struct buf *out)
{
	_cleanup_close_ int fd = open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > cap)
		return -EFBIG;
	return fd_read_capped(fd, cap, out);
}

/* The name of the account with this uid whose home directory is home (len bytes; any home
 * when home is NULL), into name. */
static bool account_of(uid_t uid, const char *home, size_t len, char *name, size_t namelen)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res)
		return false;
	if (home) {
		size_t n = strlen(res->pw_dir);
		while (n > 1 && res->pw_dir[n - 1] == '/')
			n--;
		if (n != (len ? len : 1) || memcmp(res->pw_dir, len ? home : "/", n) != 0)
			return false;
	}
	snprintf(name, namelen, "%s", res->pw_name);
	return true;
}

/* target_user of an authorized_keys event: the account whose home holds the file's .ssh
 * directory (the owner of that directory, when it is the account's home), else the owner of
 * the file. */
static void set_key_user(const struct fim *f, struct host_event *ev, const char *host,
			 uid_t file_uid)
{
	const char *rp = report_path(f, host);
	const char *slash = strrchr(rp, '/');
	size_t dlen = slash ? (size_t)(slash - rp) : 0;
	char name[256];
	struct stat st;

	if (dlen >= 5 && memcmp(rp + dlen - 5, "/.ssh", 5) == 0) {
		size_t hlen = dlen - 5; /* the home directory: rp[0, hlen), "/" when empty */
		_cleanup_free_ char *home = xasprintf("%s%.*s", f->prefix, (int)hlen, rp);
		if (stat(home[0] ? home : "/", &st) == 0 &&
		    account_of(st.st_uid, rp, hlen, name, sizeof(name))) {
			host_event_set_str(ev, EF_TARGET_USER, name);
			return;
		}
	}
	if (account_of(file_uid, NULL, 0, name, sizeof(name)))
		host_event_set_str(ev, EF_TARGET_USER, name);
}

/* The keys a create (every key of the file) or a modify (the keys not in the snapshot of
 * before) of the authorized_keys file host added, into fps. Returns how many (0 or more), or
 * a negative errno when it cannot be told: no previous state or no snapshot of it, or a file
 * over the vault's size limit. */
static int added_keys(struct fim *f, const char *host, const struct fim_entry *now,
		      const struct fim_entry *before, bool created,
		      char (*fps)[AUTHKEYS_FP_LEN + 1])
{
	_cleanup_(buf_free) struct buf old = { 0 }, cur = { 0 };
	size_t cap = f->snapshot_max < AUTHKEYS_FILE_MAX ? f->snapshot_max : AUTHKEYS_FILE_MAX;

	if (!S_ISREG(now->mode) || now->size > cap)
		return -EFBIG;
	buf_init(&old, cap + 1);
	buf_init(&cur, cap + 1);
	if (!created) {
		if (!before)
			return -ENOENT;
		if (!f->vault || !(before->flags & FIM_F_HASHED) || !S_ISREG(before->mode) ||
		    before->size > cap)
			return -ENOENT;
		int r = vault_get(f->vault, before->sha256, &old);
		if (r < 0)
			return r;
	}
	int r = read_keys_file(host, cap, &cur);
	if (r < 0)
		return r;
	return authkeys_added(created ? NULL : buf_str(&old), buf_len(&old), buf_str(&cur),
			      buf_len(&cur), fps, FIM_KEYS_MAX);
}

/* Emits a create or modify event of host; for an authorized_keys file it also names the
 * account (target_user) and, when keys were added, is emitted once per added key with its
 * key_fingerprint (docs/sensor-fim.md). before: the previous state of a modify (NULL when
 * unknown). */
static void emit_change(struct fim *f, struct host_event *ev, const char *host,
			const struct fim_entry *now, const struct fim_entry *before, bool created)
{
	char fps[FIM_KEYS_MAX][AUTHKEYS_FP_LEN + 1];
	int n = -1;

	if (is_authkeys_file(host) && S_ISREG(now->mode)) {
		set_key_user(f, ev, host, now->uid);
		n = added_keys(f, host, now, before, created, fps);
	}
	if (n <= 0) {
		emit(f, ev);
		return;
	}
	if (n > FIM_KEYS_MAX)
		set_message(f, "%s: %d keys added at once, the first %u reported", host, n,
			    FIM_KEYS_MAX);
	for (int i = 0; i < n && i < FIM_KEYS_MAX; i++) {
		ev->id = 0; /* each is an event of its own */
		host_event_set_str(ev, EF_KEY_FINGERPRINT, fps[i]);
		emit(f, ev);
	}
}

/* Reports a create, modify or attribute change of host path (after coalescing). */
static void report_change(struct fim *f, const char *host, enum event_kind kind, pid_t pid)
{
	struct fim_entry now = { .path = host }, before;
	bool had = fim_db_get(f->db, host, &before) == 0;

	if (fim_stat_hash(f->h, host, FIM_HASH_CAP, &now) < 0) {
		/* Gone again (its delete or rename is reported on its own): a creation is still
		 * worth reporting, with what is known. */
		if (kind == EVENT_FILE_CREATE) {
			host_event_reset(&f->ev, kind, now_ns());
			host_event_set_str(&f->ev, EF_TARGET_FILENAME, report_path(f, host));
			set_actor(f, &f->ev, pid);
			emit(f, &f->ev);
		}
		return;
	}
	if (S_ISDIR(now.mode) && kind == EVENT_FILE_MODIFY)
		return;
	if (had && kind != EVENT_FILE_CREATE) {
		bool content = same_content(&now, &before) &&
			       (now.mode & S_IFMT) == (before.mode & S_IFMT);
		if (content && same_attr(&now, &before))
			return; /* nothing that we track changed (a touch, a rewrite) */
		kind = content ? EVENT_FILE_ATTR : EVENT_FILE_MODIFY;
	}
	struct host_event *ev = &f->ev;
	host_event_reset(ev, kind, now_ns());
	host_event_set_str(ev, EF_TARGET_FILENAME, report_path(f, host));
	set_sha(ev, EF_FILE_SHA256, &now);
	if (had)
		set_sha(ev, EF_FILE_PREV_SHA256, &before);
	set_mode_owner(ev, &now);
	if (kind == EVENT_FILE_MODIFY)
		set_diff(f, ev, host, &now, had ? &before : NULL);
	set_actor(f, ev, pid);
	if (!S_ISDIR(now.mode))
		fim_db_put(f->db, &now);
	snapshot(f, host, &now);
	if (kind == EVENT_FILE_CREATE || kind == EVENT_FILE_MODIFY)
		/* a name created over a known file (moved in from outside) adds only what the
		 * known content did not have */
		emit_change(f, ev, host, &now, had ? &before : NULL,
			    kind == EVENT_FILE_CREATE && !had);
	else
		emit(f, ev);
}

/* A watched file was opened (fanotify tells who): reported at once, no content read. */
static void report_read(struct fim *f, const char *host, pid_t pid)
{
	host_event_reset(&f->ev, EVENT_FILE_READ, now_ns());
	host_event_set_str(&f->ev, EF_TARGET_FILENAME, report_path(f, host));
	set_actor(f, &f->ev, pid);
	emit(f, &f->ev);
}

static void report_delete(struct fim *f, const char *host, pid_t pid)
{
	struct fim_entry before;
	struct host_event *ev = &f->ev;
	host_event_reset(ev, EVENT_FILE_DELETE, now_ns());
	host_event_set_str(ev, EF_TARGET_FILENAME, report_path(f, host));
	if (fim_db_get(f->db, host, &before) == 0) {
		set_sha(ev, EF_FILE_PREV_SHA256, &before);
		fim_db_remove(f->db, host);
	}
	set_actor(f, ev, pid);
	emit(f, ev);
}

static void report_rename(struct fim *f, const char *from, const char *to, pid_t pid)
{
	struct fim_entry before, now = { .path = to }, replaced;
	bool had = fim_db_get(f->db, from, &before) == 0;
	bool had_to = fim_db_get(f->db, to, &replaced) == 0;
	bool stat_ok = fim_stat_hash(f->h, to, FIM_HASH_CAP, &now) == 0;
	struct host_event *ev = &f->ev;

	host_event_reset(ev, EVENT_FILE_RENAME, now_ns());
	host_event_set_str(ev, EF_TARGET_FILENAME, report_path(f, from));
	host_event_set_str(ev, EF_RENAMED_FILENAME, report_path(f, to));
	if (had) {
		set_sha(ev, EF_FILE_PREV_SHA256, &before);
		fim_db_remove(f->db, from);
	}
	if (stat_ok) {
		set_sha(ev, EF_FILE_SHA256, &now);
		set_mode_owner(ev, &now);
	}
	set_actor(f, ev, pid);
	emit(f, ev);
	if (!stat_ok || S_ISDIR(now.mode) || !watched(f, to))
		return;
	/* A file replaced by a rename (editors, sed -i, package upgrades) changed content
	 * under its name: report that as a modification of the name too, with its diff. */
	if (had_to &&
	    !(same_content(&now, &replaced) && (now.mode & S_IFMT) == (replaced.mode & S_IFMT))) {
		host_event_reset(ev, EVENT_FILE_MODIFY, now_ns());
		host_event_set_str(ev, EF_TARGET_FILENAME, report_path(f, to));
		set_sha(ev, EF_FILE_SHA256, &now);
		set_sha(ev, EF_FILE_PREV_SHA256, &replaced);
		set_mode_owner(ev, &now);
		set_diff(f, ev, to, &now, &replaced);
		set_actor(f, ev, pid);
		emit_change(f, ev, to, &now, &replaced, false);
	}
	fim_db_put(f->db, &now);
	snapshot(f, to, &now);
}

/* ---- coalescing ---- */

static void flush_one(struct fim *f, size_t i)
{
	struct pending p = f->pend[i];
	f->pend[i] = f->pend[--f->npend];
	report_change(f, p.path, p.kind, p.pid);
	free(p.path);
}

static void flush_all(struct fim *f)
{
	/* Oldest first, as they came. */
	struct pending *copy = xmalloc(f->npend * sizeof(*copy) + 1);
	size_t n = f->npend;
	memcpy(copy, f->pend, n * sizeof(*copy));
	f->npend = 0;
	for (size_t i = 0; i < n; i++) {
		report_change(f, copy[i].path, copy[i].kind, copy[i].pid);
		free(copy[i].path);
	}
	free(copy);
}

static void flush_path(struct fim *f, const char *path)
{
	for (size_t i = 0; i < f->npend; i++)
		if (strcmp(f->pend[i].path, path) == 0) {
			flush_one(f, i);
			return;
		}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_all(arg);
}

static void pend_add(struct fim *f, const char *path, enum event_kind kind, pid_t pid)
{
	for (size_t i = 0; i < f->npend; i++) {
		struct pending *p = &f->pend[i];
		if (strcmp(p->path, path) != 0)
			continue;
		if (p->kind == EVENT_FILE_ATTR ||
		    (p->kind == EVENT_FILE_MODIFY && kind == EVENT_FILE_CREATE))
			p->kind = kind;
		if (pid > 0)
			p->pid = pid;
		return;
	}
	if (f->npend == FIM_PENDING_MAX)
		flush_all(f);
	f->pend[f->npend++] = (struct pending){ .path = xstrdup(path), .kind = kind, .pid = pid };
	if (!evtimer_pending(f->ev_timer, NULL)) {
		struct timeval tv = { 0, FIM_COALESCE_MS * 1000 };
		evtimer_add(f->ev_timer, &tv);
	}
}

static void moved_from_flush(struct fim *f)
{
	if (!f->moved_from)
		return;
	report_delete(f, f->moved_from, f->moved_pid);
	free(f->moved_from);
	f->moved_from = NULL;
}

/* One change seen by either mechanism; the rename source/target are paired here. */
static void on_change(struct fim *f, const char *path, uint32_t what, uint32_t cookie, pid_t pid)
{
	enum { W_CREATE = 1, W_MODIFY = 2, W_ATTR = 4, W_DELETE = 8, W_FROM = 16, W_TO = 32 };

	if (what & W_TO) {
		if (f->moved_from && f->moved_cookie == cookie) {
			char *from = f->moved_from;
			f->moved_from = NULL;
			flush_path(f, from);
			if (watched(f, from) || watched(f, path))
				report_rename(f, from, path, pid);
			free(from);
			return;
		}
		moved_from_flush(f);
		if (watched(f, path))
			pend_add(f, path, EVENT_FILE_CREATE, pid);
		return;
	}
	moved_from_flush(f);
	if (what & W_FROM) {
		f->moved_from = xstrdup(path);
		f->moved_cookie = cookie;
		f->moved_pid = pid;
		return;
	}
	if (!watched(f, path))
		return;
	if (what & W_CREATE)
		pend_add(f, path, EVENT_FILE_CREATE, pid);
	if (what & W_MODIFY)
		pend_add(f, path, EVENT_FILE_MODIFY, pid);
	if (what & W_ATTR)
		pend_add(f, path, EVENT_FILE_ATTR, pid);
	if (what & W_DELETE) {
		flush_path(f, path);
		report_delete(f, path, pid);
	}
}

/* ---- fanotify ---- */

#define FAN_MASK_BASE (FAN_CREATE | FAN_DELETE | FAN_MODIFY | FAN_ATTRIB | FAN_ONDIR)

static int fan_mark_fs(struct fim *f, const char *path, uint64_t mask)
{
	struct stat st;
	struct statfs sfs;
	if (stat(path, &st) < 0)
		return 0; /* not there (yet): the filesystem of its parent is marked or not */
	int fd = open(path, O_RDONLY | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return 0;
	if (fstatfs(fd, &sfs) < 0) {
		close(fd);
		return -errno;
	}
	int32_t fsid[2];
	memcpy(fsid, &sfs.f_fsid, sizeof(fsid));
	for (size_t i = 0; i < f->nmarks; i++)
		if (!memcmp(f->marks[i].fsid, fsid, sizeof(fsid))) {
			close(fd);
			return 0;
		}
	if (f->nmarks == FIM_MAX_MARKS) {
		close(fd);
		return -E2BIG;
	}
	if (fanotify_mark(f->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, path) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	f->marks[f->nmarks].fd = fd;
	memcpy(f->marks[f->nmarks].fsid, fsid, sizeof(fsid));
	f->nmarks++;
	return 0;
}

static int fan_start(struct fim *f)
{
	f->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
			      O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	/* FAN_RENAME (Linux 5.17) reports both names in one event; else pair MOVED_FROM/TO. */
	uint64_t mask = FAN_MASK_BASE | FAN_RENAME;
	f->fan_rename = true;
	for (char **w = f->watch; *w; w++) {
		int r = fan_mark_fs(f, *w, mask);
		if (r == -EINVAL && f->fan_rename && f->nmarks == 0) {
			mask = FAN_MASK_BASE | FAN_MOVED_FROM | FAN_MOVED_TO;
			f->fan_rename = false;
			r = fan_mark_fs(f, *w, mask);
		}
		if (r < 0)
			return r;
	}
	if (f->nmarks == 0)
		return -ENOENT;
	/* opens of the read-watched files: inode marks, notification only (never a permission
	 * mark); a file that does not exist is not watched */
	for (char **p = f->reads; p && *p; p++)
		if (fanotify_mark(f->fd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, *p) < 0 &&
		    errno != ENOENT)
			set_message(f, "opens of %s are not reported: %s", *p, strerror(errno));
	return 0;
}

/* Resolves a directory file handle to its path, into out. */
static int fan_dir_path(struct fim *f, const int32_t fsid[2], const unsigned char *fh, size_t fhlen,
			char *out, size_t outlen)
{
	union {
		struct file_handle h;
		unsigned char b[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u;
	uint32_t hbytes;
	int32_t htype;
	int mfd = -1;

	if (fhlen < 8)
		return -EBADMSG;
	memcpy(&hbytes, fh, 4);
	memcpy(&htype, fh + 4, 4);
	if (hbytes > MAX_HANDLE_SZ || hbytes > fhlen - 8)
		return -EBADMSG;
	for (size_t i = 0; i < f->nmarks; i++)
		if (!memcmp(f->marks[i].fsid, fsid, 8))
			mfd = f->marks[i].fd;
	if (mfd < 0)
		return -ENOENT;
	u.h.handle_bytes = hbytes;
	u.h.handle_type = htype;
	memcpy(u.h.f_handle, fh + 8, hbytes);
	_cleanup_close_ int dfd = open_by_handle_at(mfd, &u.h, O_PATH | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	ssize_t n = readlink(link, out, outlen - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= outlen - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	if (str_has_suffix(out, " (deleted)"))
		return -ENOENT;
	return 0;
}

/* Parses one DFID_NAME-style info record (after its header) into a full path. */
static int fan_info_path(struct fim *f, const unsigned char *p, size_t len, char *out,
			 size_t outlen)
{
	int32_t fsid[2];
	uint32_t hbytes;
	char dir[PATH_MAX];

	if (len < 8 + 8)
		return -EBADMSG;
	memcpy(fsid, p, 8);
	memcpy(&hbytes, p + 8, 4);
	if (hbytes > MAX_HANDLE_SZ || 8 + 8 + (size_t)hbytes > len)
		return -EBADMSG;
	int r = fan_dir_path(f, fsid, p + 8, 8 + hbytes, dir, sizeof(dir));
	if (r < 0)
		return r;
	const char *name = (const char *)p + 16 + hbytes;
	size_t nmax = len - 16 - hbytes;
	size_t nlen = strnlen(name, nmax);
	if (nlen == nmax)
		nlen = 0; /* no name (or not terminated): the directory itself */
	if (nlen == 0 || (nlen == 1 && name[0] == '.'))
		r = snprintf(out, outlen, "%s", dir);
	else
		r = snprintf(out, outlen, "%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "", (int)nlen,
			     name);
	return r < 0 || (size_t)r >= outlen ? -ENAMETOOLONG : 0;
}

static void fan_event(struct fim *f, const struct fanotify_event_metadata *m,
		      const unsigned char *info, size_t ilen)
{
	char path[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	bool has_path = false, has_from = false, has_to = false;
	size_t off = 0;

	while (off + sizeof(struct fanotify_event_info_header) <= ilen) {
		struct fanotify_event_info_header hdr;
		memcpy(&hdr, info + off, sizeof(hdr));
		if (hdr.len < sizeof(hdr) || hdr.len > ilen - off) {
			atomic_fetch_add(&f->skipped, 1);
			return;
		}
		const unsigned char *body = info + off + sizeof(hdr);
		size_t blen = hdr.len - sizeof(hdr);
		int r = 0;
		switch (hdr.info_type) {
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
		case FAN_EVENT_INFO_TYPE_DFID:
			r = fan_info_path(f, body, blen, path, sizeof(path));
			has_path = r == 0;
			break;
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
			r = fan_info_path(f, body, blen, from, sizeof(from));
			has_from = r == 0;
			break;
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			r = fan_info_path(f, body, blen, to, sizeof(to));
			has_to = r == 0;
			break;
		default: break;
		}
		if (r == -EBADMSG)
			atomic_fetch_add(&f->skipped, 1);
		off += hdr.len;
	}
	pid_t pid = m->pid == f->self ? -1 : m->pid;
	if (m->pid == f->self)
		return; /* our own writes (state, restores) */
	if (m->mask & FAN_RENAME) {
		if (has_from && has_to && (watched(f, from) || watched(f, to))) {
			flush_path(f, from);
			report_rename(f, from, to, pid);
		}
		return;
	}
	if (!has_path)
		return;
	if ((m->mask & FAN_OPEN) && strv_contains(f->reads, path))
		report_read(f, path, pid);
	if (!(m->mask &
	      (FAN_CREATE | FAN_MODIFY | FAN_ATTRIB | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)))
		return; /* an open only */
	uint32_t what = 0;
	if (m->mask & FAN_CREATE)
		what |= 1;
	if (m->mask & FAN_MODIFY)
		what |= 2;
	if (m->mask & FAN_ATTRIB)
		what |= 4;
	if (m->mask & FAN_DELETE)
		what |= 8;
	if (m->mask & FAN_MOVED_FROM)
		what |= 16;
	if (m->mask & FAN_MOVED_TO)
		what |= 32;
	/* Without cookies, a MOVED_TO pairs with the MOVED_FROM just before it. */
	on_change(f, path, what, 1, pid);
}

static void fan_read(struct fim *f)
{
	for (;;) {
		ssize_t n = read(f->fd, f->rbuf, sizeof(f->rbuf));
		if (n < 0) {
			if (errno != EINTR && errno != EAGAIN)
				atomic_fetch_add(&f->lost, 1);
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		size_t off = 0, len = (size_t)n;
		while (len - off >= sizeof(struct fanotify_event_metadata)) {
			struct fanotify_event_metadata m;
			memcpy(&m, f->rbuf + off, sizeof(m));
			if (m.event_len < sizeof(m) || m.event_len > len - off ||
			    m.metadata_len < sizeof(m) || m.metadata_len > m.event_len ||
			    m.vers != FANOTIFY_METADATA_VERSION) {
				atomic_fetch_add(&f->skipped, 1);
				break;
			}
			if (m.fd >= 0)
				close(m.fd);
			if (m.mask & FAN_Q_OVERFLOW)
				atomic_fetch_add(&f->lost, 1);
			else
				fan_event(f, &m, f->rbuf + off + m.metadata_len,
					  m.event_len - m.metadata_len);
			off += m.event_len;
		}
	}
	moved_from_flush(f);
}

/* ---- inotify ---- */

#define IN_MASK                                                                                    \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO |             \
	 IN_DONT_FOLLOW | IN_EXCL_UNLINK)

static void in_set_wd(struct fim *f, int wd, const char *path)
{
	if ((size_t)wd >= f->wd_alloc) {
		size_t n = f->wd_alloc ? f->wd_alloc : 64;
		while (n <= (size_t)wd)
			n *= 2;
		f->wd_path = xrealloc(f->wd_path, n * sizeof(*f->wd_path));
		memset(f->wd_path + f->wd_alloc, 0, (n - f->wd_alloc) * sizeof(*f->wd_path));
		f->wd_alloc = n;
	}
	if (!f->wd_path[wd])
		f->nwatches++;
	free(f->wd_path[wd]);
	f->wd_path[wd] = xstrdup(path);
}

/* Watches path and the directories below it (not following symlinks), up to the limit. */
static void in_add_tree(struct fim *f, const char *path, unsigned depth)
{
	if (f->exclude && path_under(path, f->exclude))
		return;
	if (f->nwatches >= FIM_INOTIFY_MAX_WATCHES) {
		f->unwatched++;
		atomic_fetch_add(&f->lost, 1);
		return;
	}
	int wd = inotify_add_watch(f->fd, path, IN_MASK);
	if (wd < 0) {
		if (errno == ENOSPC) {
			f->unwatched++;
			atomic_fetch_add(&f->lost, 1);
		}
		return;
	}
	in_set_wd(f, wd, path);
	if (depth >= 64)
		return;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			      S_ISDIR(st.st_mode);
		}
		if (!dir)
			continue;
		_cleanup_free_ char *sub =
			xasprintf("%s%s%s", path, strcmp(path, "/") ? "/" : "", de->d_name);
		in_add_tree(f, sub, depth + 1);
	}
	closedir(d);
}

static int in_start(struct fim *f)
{
	f->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	for (char **w = f->watch; *w; w++)
		in_add_tree(f, *w, 0);
	if (f->unwatched)
		set_message(f, "inotify: %u directories not watched (limit %u watches)",
			    f->unwatched, (unsigned)FIM_INOTIFY_MAX_WATCHES);
	return 0;
}

static void in_event(struct fim *f, const struct inotify_event *ie, const char *name, size_t nlen)
{
	if (ie->mask & IN_Q_OVERFLOW) {
		atomic_fetch_add(&f->lost, 1);
		return;
	}
	if (ie->wd < 0 || (size_t)ie->wd >= f->wd_alloc || !f->wd_path[ie->wd])
		return;
	if (ie->mask & IN_IGNORED) {
		free(f->wd_path[ie->wd]);
		f->wd_path[ie->wd] = NULL;
		f->nwatches--;
		return;
	}
	const char *dir = f->wd_path[ie->wd];
	_cleanup_free_ char *path =
		nlen ? xasprintf("%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "", (int)nlen, name)
		     : xstrdup(dir);
	if ((ie->mask & IN_ISDIR) && (ie->mask & (IN_CREATE | IN_MOVED_TO)))
		in_add_tree(f, path, 0);
	uint32_t what = 0;
	if (ie->mask & IN_CREATE)
		what |= 1;
	if (ie->mask & IN_MODIFY)
		what |= 2;
	if (ie->mask & IN_ATTRIB)
		what |= 4;
	if (ie->mask & IN_DELETE)
		what |= 8;
	if (ie->mask & IN_MOVED_FROM)
		what |= 16;
	if (ie->mask & IN_MOVED_TO)
		what |= 32;
	on_change(f, path, what, ie->cookie, -1);
}

static void in_read(struct fim *f)
{
	for (;;) {
		ssize_t n = read(f->fd, f->rbuf, sizeof(f->rbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t off = 0, len = (size_t)n;
		while (len - off >= sizeof(struct inotify_event)) {
			struct inotify_event ie;
			memcpy(&ie, f->rbuf + off, sizeof(ie));
			if (ie.len > len - off - sizeof(ie)) {
				atomic_fetch_add(&f->skipped, 1);
				break;
			}
			const char *name = (const char *)f->rbuf + off + sizeof(ie);
			in_event(f, &ie, name, strnlen(name, ie.len));
			off += sizeof(ie) + ie.len;
		}
	}
	moved_from_flush(f);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct fim *f = arg;
	(void)fd;
	(void)what;
	if (f->mech == MECH_FANOTIFY)
		fan_read(f);
	else
		in_read(f);
}

/* ---- the scan thread ---- */

static void scan_change(enum fim_change c, const struct fim_entry *now,
			const struct fim_entry *before, void *arg)
{
	static const enum event_kind kinds[] = {
		[FIM_CREATED] = EVENT_FILE_CREATE,
		[FIM_MODIFIED] = EVENT_FILE_MODIFY,
		[FIM_ATTR] = EVENT_FILE_ATTR,
		[FIM_DELETED] = EVENT_FILE_DELETE,
	};
	struct fim *f = arg;
	struct host_event *ev = &f->scan_ev;
	const struct fim_entry *e = now ? now : before;

	host_event_reset(ev, kinds[c], now_ns());
	host_event_set_str(ev, EF_TARGET_FILENAME, report_path(f, e->path));
	if (now) {
		set_sha(ev, EF_FILE_SHA256, now);
		set_mode_owner(ev, now);
	}
	if (before)
		set_sha(ev, EF_FILE_PREV_SHA256, before);
	if (c == FIM_MODIFIED && now && before) {
		_cleanup_(buf_free) struct buf d = { 0 };
		buf_init(&d, VAULT_DIFF_MAX);
		if (f->vault && S_ISREG(now->mode) && now->size <= f->snapshot_max &&
		    (before->flags & FIM_F_HASHED) &&
		    vault_diff(f->vault, now->path, before->sha256, VAULT_DIFF_MAX, &d) == 0 &&
		    buf_len(&d))
			host_event_set(ev, EF_FILE_DIFF, buf_str(&d), buf_len(&d));
	}
	if (now && (c == FIM_CREATED || (c == FIM_MODIFIED && before)))
		emit_change(f, ev, now->path, now, before, c == FIM_CREATED);
	else
		emit(f, ev);
}

static int scan_once(struct fim *f, bool report)
{
	const char *excl[] = { f->exclude, NULL };
	struct fim_scan_opts o = {
		.paths = (const char *const *)f->watch,
		.exclude = excl,
		.threads = 1,
		.cpu_percent = f->ctx.cfg->fim_cpu_percent ? f->ctx.cfg->fim_cpu_percent : 10,
		.size_cap = FIM_HASH_CAP,
		.max_files = 2000000,
		.stop = &f->stop,
	};
	_cleanup_(fim_scan_freep) struct fim_scan *s = NULL;
	int r = fim_scan_run(&o, &s);
	if (r < 0)
		return r;
	r = fim_scan_compare(f->db, s, report ? scan_change : NULL, f);
	if (r < 0)
		return r;
	for (size_t i = 0; i < fim_scan_count(s) && !atomic_load(&f->stop); i++) {
		const struct fim_entry *e = fim_scan_file(s, i);
		snapshot(f, e->path, e);
	}
	r = fim_db_save(f->db, f->db_path);
	if (r < 0)
		set_message(f, "saving %s: %s", f->db_path, strerror(-r));
	return 0;
}

static void *scan_thread(void *arg)
{
	struct fim *f = arg;
	bool report = fim_db_count(f->db) > 0; /* the first scan is the baseline */
	struct timespec next;

	for (;;) {
		int r = scan_once(f, report);
		if (r == -ECANCELED)
			break;
		if (r < 0)
			set_message(f, "scan: %s", strerror(-r));
		report = true;
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += f->ctx.cfg->fim_scan_interval_s;
		pthread_mutex_lock(&f->lock);
		while (!atomic_load(&f->stop) &&
		       pthread_cond_timedwait(&f->cond, &f->lock, &next) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&f->lock);
		if (atomic_load(&f->stop))
			break;
	}
	return NULL;
}

/* ---- sensor ---- */

static void fim_stop(void *state);

static int fim_start(const struct sensor_ctx *ctx, void **state)
{
	const struct sensor_config *cfg = ctx->cfg;
	const char *mech = cfg->fim_mechanism ? cfg->fim_mechanism : "auto";
	int r;

	if (strcmp(mech, "auto") && strcmp(mech, "fanotify") && strcmp(mech, "inotify") &&
	    strcmp(mech, "off"))
		return -EINVAL;
	if (!cfg->state_dir || !ctx->base || !ctx->emit)
		return -EINVAL;
	for (char **p = cfg->fim_paths; p && *p; p++)
		if ((*p)[0] != '/')
			return -EINVAL;

	struct fim *f = xcalloc(1, sizeof(*f));
	f->ctx = *ctx;
	f->fd = -1;
	f->self = getpid();
	f->snapshot_max = cfg->fim_snapshot_max ? cfg->fim_snapshot_max : 64u * 1024;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	host_event_init(&f->ev);
	host_event_init(&f->scan_ev);
	const char *root = cfg->root ? cfg->root : "/";
	size_t rl = strlen(root);
	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	f->prefix = xstrndup(root, rl);
	*state = f;
	if (!strcmp(mech, "off")) {
		set_message(f, "off by configuration");
		return 0;
	}

	char real[PATH_MAX];
	f->exclude = xstrdup(realpath(cfg->state_dir, real) ? real : cfg->state_dir);
	f->db_path = xasprintf("%s/fim.db", cfg->state_dir);
	build_watch_list(f, cfg);
	f->db = fim_db_new();
	r = fim_db_load(f->db, f->db_path);
	if (r < 0 && r != -ENOENT)
		set_message(f, "database %s unusable (%s): starting a new baseline", f->db_path,
			    strerror(-r));
	r = fim_hasher_new(1u << 20, &f->h);
	if (r < 0) {
		set_message(f, "no SHA-256 in OpenSSL");
		return 0;
	}
	r = vault_open(cfg->state_dir, f->snapshot_max, FIM_VAULT_TOTAL, &f->vault);
	if (r < 0)
		set_message(f, "vault: %s (diffs off)", strerror(-r));

	r = -ENOTSUP;
	if (strcmp(mech, "inotify")) {
		r = fan_start(f);
		if (r == 0) {
			f->mech = MECH_FANOTIFY;
		} else {
			for (size_t i = 0; i < f->nmarks; i++)
				close(f->marks[i].fd);
			f->nmarks = 0;
			if (f->fd >= 0)
				close(f->fd);
			f->fd = -1;
			set_message(f, "fanotify unavailable (%s): using inotify", strerror(-r));
		}
	} else {
		set_message(f, "inotify forced by configuration");
	}
	if (f->mech == MECH_NONE && strcmp(mech, "fanotify")) {
		r = in_start(f);
		if (r == 0)
			f->mech = MECH_INOTIFY;
		else
			set_message(f, "no file notification mechanism (inotify: %s)",
				    strerror(-r));
	}
	if (f->mech != MECH_NONE) {
		f->ev_read = event_new(ctx->base, f->fd, EV_READ | EV_PERSIST, on_read, f);
		f->ev_timer = evtimer_new(ctx->base, on_timer, f);
		if (!f->ev_read || !f->ev_timer || event_add(f->ev_read, NULL) < 0) {
			fim_stop(f);
			*state = NULL;
			return -ENOMEM;
		}
	}
	if (cfg->fim_scan_interval_s) {
		if (pthread_create(&f->thr, NULL, scan_thread, f) == 0)
			f->thr_started = true;
		else
			set_message(f, "scan thread: %s", strerror(errno));
	}
	return 0;
}

static void fim_health(void *state, struct sensor_health *out)
{
	struct fim *f = state;
	static const char *const names[] = { "none", "fanotify", "inotify" };
	memset(out, 0, sizeof(*out));
	out->name = "fim";
	out->mechanism = names[f->mech];
	out->active = f->mech != MECH_NONE;
	out->events = atomic_load(&f->events);
	out->lost = atomic_load(&f->lost);
	out->skipped = atomic_load(&f->skipped);
	pthread_mutex_lock(&f->lock);
	snprintf(out->message, sizeof(out->message), "%s", f->message);
	pthread_mutex_unlock(&f->lock);
}

static void fim_stop(void *state)
{
	struct fim *f = state;
	if (!f)
		return;
	if (f->thr_started) {
		pthread_mutex_lock(&f->lock);
		atomic_store(&f->stop, true);
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->thr, NULL);
	}
	if (f->ev_timer)
		event_free(f->ev_timer);
	if (f->ev_read)
		event_free(f->ev_read);
	if (f->db && f->mech != MECH_NONE)
		flush_all(f);
	if (f->db && f->db_path && (f->thr_started || fim_db_count(f->db)))
		fim_db_save(f->db, f->db_path);
	for (size_t i = 0; i < f->npend; i++)
		free(f->pend[i].path);
	free(f->moved_from);
	for (size_t i = 0; i < f->nmarks; i++)
		close(f->marks[i].fd);
	if (f->fd >= 0)
		close(f->fd);
	for (size_t i = 0; i < f->wd_alloc; i++)
		free(f->wd_path[i]);
	free(f->wd_path);
	fim_db_free(f->db);
	vault_free(f->vault);
	fim_hasher_free(f->h);
	host_event_free(&f->ev);
	host_event_free(&f->scan_ev);
	strv_free(f->watch);
	strv_free(f->reads);
	free(f->exclude);
	free(f->db_path);
	free(f->prefix);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

const struct sensor_ops sensor_fim = {
	.name = "fim",
	.start = fim_start,
	.health = fim_health,
	.stop = fim_stop,
};
