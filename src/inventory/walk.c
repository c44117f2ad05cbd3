/* The special_files and walk tables: one parallel, bounded walk of the local file systems.
 *
 * Work is a shared LIFO stack of directories to read (depth first, so few directories are open
 * at once). A worker pops a directory, opens it with openat(parent fd, name, O_NOFOLLOW),
 * reads it with getdents64, and stats only entries whose d_type may matter (regular files,
 * directories, unknown): symlinks, devices, FIFOs and sockets are never stat'ed nor opened.
 * Subdirectories go back on the stack holding a reference to the open parent, so no path is
 * ever resolved again. Mount points are checked only where st_dev changes: by their type in
 * /proc/self/mountinfo when the root is the host, else by fstatfs() of an O_PATH descriptor.
 *
 * Threads touch only the walk's private memory (no jansson): hits, errors and the skipped
 * mount points are turned into rows by walk_finish() on the caller's thread. */
#include "inventory/walk.h"
#include "lib/str.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WALK_THREADS_MAX 4
#define WALK_BUF (64 * 1024)
#define WALK_MAX_ERRORS 16
#define IDFILE_MAX (16 * 1024 * 1024)
#define MOUNTINFO_MAX (4 * 1024 * 1024)

enum hit_kind { HIT_SUID, HIT_SGID, HIT_WW, HIT_WWDIR, HIT_UNOWNED, HIT_UNGROUPED };

static const char *const kind_names[] = {
	[HIT_SUID] = "suid",	     [HIT_SGID] = "sgid",
	[HIT_WW] = "world_writable", [HIT_WWDIR] = "world_writable_dir_no_sticky",
	[HIT_UNOWNED] = "unowned",   [HIT_UNGROUPED] = "ungrouped",
};

struct hit {
	char *path;
	enum hit_kind kind;
	unsigned mode;
	uint32_t uid, gid;
};

/* An open directory whose subdirectories are still waiting to be opened. */
struct wdir {
	int fd;
	atomic_uint refs;
	bool borrowed; /* the root's descriptor: never closed */
};

struct item {
	struct wdir *parent; /* reference held by the item */
	char *path;	     /* path inside the root ("/usr/bin") */
	const char *name;    /* name to open in parent */
	dev_t dev;	     /* device of the directory itself */
	unsigned depth;
};

struct idset {
	uint32_t *ids;
	size_t n;
	int err; /* why the set is unusable (0 = usable) */
};

struct mnt {
	char *path;
	char *fstype;
};

struct worker {
	struct walk *w;
	pthread_t tid;
	bool running;
	char *buf;
	struct hit *hits;
	size_t nhits, ahits;
	struct item *kids;
	size_t nkids, akids;
};

struct walk {
	struct fsroot *root;
	uint64_t max_entries;
	struct idset users, groups;
	struct mnt *mnts;
	size_t nmnts;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *stack; /* under lock */
	size_t nstack, astack;
	unsigned busy; /* workers holding a popped directory (under lock) */
	strv skipped;  /* under lock */
	char *err_paths[WALK_MAX_ERRORS];
	int err_codes[WALK_MAX_ERRORS];
	size_t nerrors; /* under lock; may exceed WALK_MAX_ERRORS */

	atomic_uint_fast64_t entries;
	atomic_uint nhits;
	atomic_bool stop, truncated, rows_truncated, noatime;

	struct wdir rootdir;
	struct worker workers[WALK_THREADS_MAX];
	unsigned nworkers;
	struct timespec t0;
};

unsigned walk_threads(void)
{
	/* IMMUNE_WALK_THREADS (1-4) is a benchmark knob; the default is two threads per
	 * processor up to four: stats are syscall-bound and, on a cold cache, wait for the disk. */
	const char *e = getenv("IMMUNE_WALK_THREADS");
	uint64_t n;
	if (e && parse_u64(e, 10, WALK_THREADS_MAX, &n) == 0 && n > 0)
		return (unsigned)n;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	return cpus * 2 >= WALK_THREADS_MAX ? WALK_THREADS_MAX : (unsigned)cpus * 2;
}

/* ---- file system types ---- */

static bool skip_fstype(const char *t)
{
	static const char *const names[] = {
		"proc",	     "sysfs",	   "devtmpfs",	 "devpts", "cgroup",	  "cgroup2",
		"debugfs",   "tracefs",	   "securityfs", "bpf",	   "pstore",	  "configfs",
		"fusectl",   "mqueue",	   "hugetlbfs",	 "autofs", "nfs",	  "nfs4",
		"cifs",	     "smb3",	   "smbfs",	 "fuse",   "binfmt_misc", "efivarfs",
		"selinuxfs", "rpc_pipefs", "nsfs",	 "ceph",   "9p",	  "afs",
		"coda",	     "ncpfs",	   "glusterfs",	 "lustre", "davfs",	  "nfsd",
	};
	if (str_has_prefix(t, "fuse."))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(t, names[i]) == 0)
			return true;
	return false;
}

static bool skip_magic(long magic)
{
	/* devtmpfs reports TMPFS_MAGIC: without mountinfo it is walked (it holds no files). */
	static const unsigned long magics[] = {
		PROC_SUPER_MAGIC,
		SYSFS_MAGIC,
		DEVPTS_SUPER_MAGIC,
		CGROUP_SUPER_MAGIC,
		CGROUP2_SUPER_MAGIC,
		DEBUGFS_MAGIC,
		TRACEFS_MAGIC,
		SECURITYFS_MAGIC,
		BPF_FS_MAGIC,
		PSTOREFS_MAGIC,
		0x62656570 /* configfs */,
		0x65735543 /* fusectl */,
		0x19800202 /* mqueue */,
		HUGETLBFS_MAGIC,
		AUTOFS_SUPER_MAGIC,
		NFS_SUPER_MAGIC,
		CIFS_SUPER_MAGIC,
		SMB2_SUPER_MAGIC,
		SMB_SUPER_MAGIC,
		FUSE_SUPER_MAGIC,
		BINFMTFS_MAGIC,
		EFIVARFS_MAGIC,
		SELINUX_MAGIC,
		NSFS_MAGIC,
		0x67596969 /* rpc_pipefs */,
		0x00c36400 /* ceph */,
		V9FS_MAGIC,
		AFS_SUPER_MAGIC,
		CODA_SUPER_MAGIC,
		NCP_SUPER_MAGIC,
	};
	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if ((unsigned long)(unsigned int)magic == magics[i])
			return true;
	return false;
}

/* Decodes the octal escapes (\040) of a mountinfo field in place. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else
			*w++ = *r;
	}
	*w = '\0';
}

/* Reads the mount points and types of the host (the root is the host's "/"). */
static void read_mountinfo(struct walk *w)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;

	buf_init(&b, MOUNTINFO_MAX);
	if (fsroot_read(w->root, "/proc/self/mountinfo", MOUNTINFO_MAX, &b) < 0) {
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		_cleanup_free_ char *copy = xstrndup(line, len);
		_cleanup_strv_ strv f = str_split(copy, " ");
		size_t n = strv_len(f), dash;
		for (dash = 6; dash < n && strcmp(f[dash], "-") != 0; dash++)
			;
		if (n < 5 || dash + 1 >= n)
			continue;
		unescape_octal(f[4]);
		w->mnts = xrealloc(w->mnts, (w->nmnts + 1) * sizeof(*w->mnts));
		w->mnts[w->nmnts++] = (struct mnt){ xstrdup(f[4]), xstrdup(f[dash + 1]) };
	}
	buf_free(&b);
}

/* Returns true when the directory name in parent (at path, a mount point: its device differs
 * from its parent's) is on a file system the walk does not enter. */
static bool mount_skipped(const struct walk *w, int parent, const char *name, const char *path)
{
	for (size_t i = w->nmnts; i-- > 0;)
		if (strcmp(w->mnts[i].path, path) == 0)
			return skip_fstype(w->mnts[i].fstype);

	/* O_PATH does not trigger an automount and opens nothing for reading. */
	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false; /* opening it for reading will fail and be recorded */
	struct statfs sf;
	bool skip = fstatfs(fd, &sf) == 0 && skip_magic((long)sf.f_type);
	close(fd);
	return skip;
}

/* ---- user and group ids ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Reads the ids (third field) of /etc/passwd or /etc/group into a sorted set. */
static void read_ids(struct walk *w, const char *path, struct idset *set)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len, alloc = 0;

	buf_init(&b, IDFILE_MAX);
	set->err = fsroot_read(w->root, path, IDFILE_MAX, &b);
	if (set->err < 0) {
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		_cleanup_free_ char *copy = xstrndup(line, len);
		uint64_t id;
		if (copy[0] == '#' || copy[0] == '+' || copy[0] == '-')
			continue;
		/* The id is the third ':'-separated field (fields may be empty). */
		const char *p = copy;
		for (int k = 0; k < 2 && p; k++) {
			p = strchr(p, ':');
			if (p)
				p++;
		}
		if (!p)
			continue;
		_cleanup_free_ char *field = xstrndup(p, strcspn(p, ":"));
		if (parse_u64(field, 10, UINT32_MAX, &id) < 0)
			continue;
		if (set->n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			set->ids = xrealloc(set->ids, alloc * sizeof(*set->ids));
		}
		set->ids[set->n++] = (uint32_t)id;
	}
	buf_free(&b);
	sort_array(set->ids, set->n, sizeof(*set->ids), cmp_u32);
}

static bool idset_has(const struct idset *set, uint32_t id)
{
	return bsearch(&id, set->ids, set->n, sizeof(id), cmp_u32) != NULL;
}

/* ---- results (private to each worker) ---- */

static char *join(const char *dir, const char *name)
{
	return xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
}

static void add_hit(struct worker *wk, const char *path, enum hit_kind kind, const struct stat *st)
{
	struct walk *w = wk->w;
	if (atomic_fetch_add(&w->nhits, 1) >= WALK_MAX_ROWS) {
		atomic_store(&w->rows_truncated, true);
		return;
	}
	if (wk->nhits == wk->ahits) {
		wk->ahits = wk->ahits ? wk->ahits * 2 : 64;
		wk->hits = xrealloc(wk->hits, wk->ahits * sizeof(*wk->hits));
	}
	wk->hits[wk->nhits++] = (struct hit){ xstrdup(path), kind, st->st_mode & 07777,
					      (uint32_t)st->st_uid, (uint32_t)st->st_gid };
}

/* Records the hits of one stat'ed regular file or directory; path is built only when needed. */
static void classify(struct worker *wk, const char *dir, const char *name, const struct stat *st)
{
	const struct walk *w = wk->w;
	enum hit_kind kinds[6];
	size_t n = 0;
	mode_t m = st->st_mode;

	if (S_ISREG(m)) {
		if (m & S_ISUID)
			kinds[n++] = HIT_SUID;
		if (m & S_ISGID)
			kinds[n++] = HIT_SGID;
		if (m & S_IWOTH)
			kinds[n++] = HIT_WW;
	} else if (S_ISDIR(m) && (m & S_IWOTH) && !(m & S_ISVTX))
		kinds[n++] = HIT_WWDIR;
	if (!w->users.err && !idset_has(&w->users, (uint32_t)st->st_uid))
		kinds[n++] = HIT_UNOWNED;
	if (!w->groups.err && !idset_has(&w->groups, (uint32_t)st->st_gid))
		kinds[n++] = HIT_UNGROUPED;
	if (!n)
		return;
	_cleanup_free_ char *path = name ? join(dir, name) : xstrdup(dir);
	for (size_t i = 0; i < n; i++)
		add_hit(wk, path, kinds[i], st);
}

static void record_error(struct walk *w, const char *path, int err)
{
	pthread_mutex_lock(&w->lock);
	if (w->nerrors < WALK_MAX_ERRORS) {
		w->err_paths[w->nerrors] = xstrdup(path);
		w->err_codes[w->nerrors] = err;
	}
	w->nerrors++;
	pthread_mutex_unlock(&w->lock);
}

static void record_skipped(struct walk *w, const char *path)
{
	pthread_mutex_lock(&w->lock);
	strv_push(&w->skipped, path);
	pthread_mutex_unlock(&w->lock);
}

/* ---- the work stack ---- */

static void wdir_unref(struct wdir *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1 && !d->borrowed) {
		close(d->fd);
		free(d);
	}
}

static void item_free(struct item *it)
{
	wdir_unref(it->parent);
	free(it->path);
}

/* Pops a directory to read; returns false when the walk is over (no work and nobody busy). */
static bool pop(struct walk *w, struct item *out)
{
	pthread_mutex_lock(&w->lock);
	while (w->nstack == 0 && w->busy > 0)
		pthread_cond_wait(&w->cond, &w->lock);
	if (w->nstack == 0) {
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		return false;
	}
	*out = w->stack[--w->nstack];
	w->busy++;
	pthread_mutex_unlock(&w->lock);
	return true;
}

/* Pushes the worker's new subdirectories and marks it idle. */
static void push_done(struct worker *wk)
{
	struct walk *w = wk->w;
	pthread_mutex_lock(&w->lock);
	if (w->nstack + wk->nkids > w->astack) {
		w->astack = (w->nstack + wk->nkids) * 2;
		w->stack = xrealloc(w->stack, w->astack * sizeof(*w->stack));
	}
	/* Reverse order so the first entry read is popped first (closer to readdir order). */
	for (size_t i = wk->nkids; i-- > 0;)
		w->stack[w->nstack++] = wk->kids[i];
	w->busy--;
	if (wk->nkids > 1 || w->busy == 0)
		pthread_cond_broadcast(&w->cond);
	else if (wk->nkids == 1)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	wk->nkids = 0;
}

static void add_kid(struct worker *wk, struct wdir *parent, const struct item *dir,
		    const char *name, dev_t dev)
{
	if (wk->nkids == wk->akids) {
		wk->akids = wk->akids ? wk->akids * 2 : 64;
		wk->kids = xrealloc(wk->kids, wk->akids * sizeof(*wk->kids));
	}
	char *path = join(dir->path, name);
	atomic_fetch_add(&parent->refs, 1);
	wk->kids[wk->nkids++] = (struct item){ parent, path, path + strlen(path) - strlen(name),
					       dev, dir->depth + 1 };
}

/* ---- reading one directory ---- */

struct dirent64_k {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int open_dir(struct walk *w, const struct item *it)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	bool noatime = atomic_load(&w->noatime);
	int fd = openat(it->parent->fd, it->name, flags | (noatime ? O_NOATIME : 0));
	if (fd < 0 && errno == EPERM && noatime) {
		atomic_store(&w->noatime, false); /* not the owner and not privileged */
		fd = openat(it->parent->fd, it->name, flags);
	}
	return fd < 0 ? -errno : fd;
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Handles one entry of the directory open at self. */
static void walk_entry(struct worker *wk, struct wdir *self, const struct item *it,
		       const char *name, unsigned char type)
{
	struct walk *w = wk->w;
	struct stat st;

	if (type != DT_REG && type != DT_DIR && type != DT_UNKNOWN)
		return; /* symlinks, devices, FIFOs, sockets: never stat'ed nor opened */
	if (fstatat(self->fd, name, &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) < 0) {
		if (errno != ENOENT) {
			_cleanup_free_ char *path = join(it->path, name);
			record_error(w, path, -errno);
		}
		return;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return;
	classify(wk, it->path, name, &st);
	if (!S_ISDIR(st.st_mode))
		return;
	if (it->depth + 1 > WALK_MAX_DEPTH) {
		atomic_store(&w->truncated, true);
		return;
	}
	if (st.st_dev != it->dev) {
		_cleanup_free_ char *path = join(it->path, name);
		if (mount_skipped(w, self->fd, name, path)) {
			record_skipped(w, path);
			return;
		}
	}
	add_kid(wk, self, it, name, st.st_dev);
}

/* Reserves n entries against the limit; returns how many may be examined. */
static size_t reserve(struct walk *w, size_t n)
{
	uint64_t before = atomic_fetch_add(&w->entries, n);
	if (before + n <= w->max_entries)
		return n;
	atomic_store(&w->truncated, true);
	atomic_store(&w->stop, true);
	return before >= w->max_entries ? 0 : (size_t)(w->max_entries - before);
}

static void walk_dir(struct worker *wk, struct item *it)
{
	struct walk *w = wk->w;
	int fd = open_dir(w, it);
	wdir_unref(it->parent);
	it->parent = NULL;
	if (fd < 0) {
		/* gone, or replaced by a file or a symlink since it was stat'ed: not an error */
		if (fd != -ENOENT && fd != -ENOTDIR && fd != -ELOOP)
			record_error(w, it->path, fd);
		return;
	}
	struct wdir *self = xcalloc(1, sizeof(*self));
	self->fd = fd;
	atomic_init(&self->refs, 1);

	for (;;) {
		long n = syscall(SYS_getdents64, fd, wk->buf, WALK_BUF);
		if (n < 0) {
			record_error(w, it->path, -errno);
			break;
		}
		if (n == 0)
			break;
		size_t names = 0;
		for (long off = 0; off < n;) {
			const struct dirent64_k *d = (const void *)(wk->buf + off);
			names += !is_dot(d->d_name);
			off += d->d_reclen;
		}
		size_t allowed = reserve(w, names);
		for (long off = 0; off < n && allowed > 0;) {
			const struct dirent64_k *d = (const void *)(wk->buf + off);
			off += d->d_reclen;
			if (is_dot(d->d_name))
				continue;
			allowed--;
			walk_entry(wk, self, it, d->d_name, d->d_type);
		}
		if (atomic_load(&w->stop))
			break;
	}
	wdir_unref(self);
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct walk *w = wk->w;
	struct item it;

	while (pop(w, &it)) {
		if (!atomic_load(&w->stop))
			walk_dir(wk, &it);
		item_free(&it);
		push_done(wk);
	}
	return NULL;
}

/* ---- start and finish ---- */

static void walk_free(struct walk *w)
{
	for (unsigned i = 0; i < WALK_THREADS_MAX; i++) {
		struct worker *wk = &w->workers[i];
		for (size_t j = 0; j < wk->nhits; j++)
			free(wk->hits[j].path);
		free(wk->hits);
		free(wk->kids);
		free(wk->buf);
	}
	for (size_t i = 0; i < w->nstack; i++)
		item_free(&w->stack[i]);
	free(w->stack);
	for (size_t i = 0; i < w->nmnts; i++) {
		free(w->mnts[i].path);
		free(w->mnts[i].fstype);
	}
	free(w->mnts);
	for (size_t i = 0; i < w->nerrors && i < WALK_MAX_ERRORS; i++)
		free(w->err_paths[i]);
	strv_free(w->skipped);
	free(w->users.ids);
	free(w->groups.ids);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

int walk_start(struct fsroot *root, const struct inv_options *opt, struct walk **out)
{
	struct stat st;
	struct statfs sf;
	int rootfd = fsroot_fd(root);

	if (fstat(rootfd, &st) < 0)
		return -errno;
	struct walk *w = xcalloc(1, sizeof(*w));
	clock_gettime(CLOCK_MONOTONIC, &w->t0);
	w->root = root;
	w->max_entries =
		opt && opt->walk_max_entries ? opt->walk_max_entries : WALK_DEFAULT_MAX_ENTRIES;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->skipped = xcalloc(1, sizeof(char *));
	atomic_init(&w->noatime, true);
	w->rootdir = (struct wdir){ .fd = rootfd, .borrowed = true };
	atomic_init(&w->rootdir.refs, 1);
	for (unsigned i = 0; i < WALK_THREADS_MAX; i++) {
		w->workers[i].w = w;
		w->workers[i].buf = xmalloc(WALK_BUF);
	}
	read_ids(w, "/etc/passwd", &w->users);
	read_ids(w, "/etc/group", &w->groups);
	if (fsroot_is_host(root))
		read_mountinfo(w);

	if (fstatfs(rootfd, &sf) == 0 && skip_magic((long)sf.f_type)) {
		strv_push(&w->skipped, "/");
		*out = w;
		return 0;
	}
	classify(&w->workers[0], "/", NULL, &st);
	w->stack = xmalloc(sizeof(*w->stack));
	w->astack = 1;
	atomic_fetch_add(&w->rootdir.refs, 1);
	w->stack[w->nstack++] = (struct item){ &w->rootdir, xstrdup("/"), ".", st.st_dev, 0 };

	unsigned nthreads = walk_threads();
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker *wk = &w->workers[i];
		if (pthread_create(&wk->tid, NULL, worker_main, wk) != 0)
			break;
		wk->running = true;
		w->nworkers++;
	}
	if (w->nworkers == 0) /* no thread: walk on the caller's */
		worker_main(&w->workers[0]);
	*out = w;
	return 0;
}

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (int)x->kind - (int)y->kind;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void emit_rows(struct walk *w, struct inv_ctx *ctx)
{
	size_t total = 0;
	for (unsigned i = 0; i < WALK_THREADS_MAX; i++)
		total += w->workers[i].nhits;
	struct hit *all = xmalloc((total ? total : 1) * sizeof(*all));
	size_t k = 0;
	for (unsigned i = 0; i < WALK_THREADS_MAX; i++)
		for (size_t j = 0; j < w->workers[i].nhits; j++)
			all[k++] = w->workers[i].hits[j];
	sort_array(all, total, sizeof(*all), cmp_hit);
	for (size_t i = 0; i < total; i++) {
		json_t *row = inv_row(ctx, "special_files");
		inv_set_str(row, "path", all[i].path);
		inv_set_str(row, "kind", kind_names[all[i].kind]);
		inv_set_int(row, "mode", all[i].mode);
		inv_set_int(row, "uid", all[i].uid);
		inv_set_int(row, "gid", all[i].gid);
	}
	free(all);
}

static void emit_errors(struct walk *w, struct inv_ctx *ctx)
{
	if (w->users.err)
		inv_error(ctx, "special_files", "/etc/passwd", w->users.err,
			  "unowned files not checked");
	if (w->groups.err)
		inv_error(ctx, "special_files", "/etc/group", w->groups.err,
			  "ungrouped files not checked");
	for (size_t i = 0; i < w->nerrors && i < WALK_MAX_ERRORS; i++)
		inv_error(ctx, "special_files", w->err_paths[i], w->err_codes[i], "walking");
	if (w->nerrors > WALK_MAX_ERRORS)
		inv_error(ctx, "special_files", "", 0, "%zu more entries could not be walked",
			  w->nerrors - WALK_MAX_ERRORS);
}

void walk_finish(struct walk *w, struct inv_ctx *ctx)
{
	struct timespec t1;
	struct buf skipped;

	if (!w)
		return;
	for (unsigned i = 0; i < WALK_THREADS_MAX; i++)
		if (w->workers[i].running)
			pthread_join(w->workers[i].tid, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	emit_rows(w, ctx);
	emit_errors(w, ctx);

	size_t n = strv_len(w->skipped);
	sort_array(w->skipped, n, sizeof(char *), cmp_str);
	buf_init(&skipped, 1024 * 1024);
	for (size_t i = 0; i < n; i++)
		if (buf_puts(&skipped, i ? "," : "") < 0 || buf_puts(&skipped, w->skipped[i]) < 0)
			break;
	uint64_t entries = atomic_load(&w->entries);
	json_t *row = inv_row(ctx, "walk");
	inv_set_int(row, "files", (int64_t)(entries < w->max_entries ? entries : w->max_entries));
	inv_set_bool(row, "truncated", atomic_load(&w->truncated));
	inv_set_str(row, "skipped", buf_str(&skipped));
	inv_set_bool(row, "rows_truncated", atomic_load(&w->rows_truncated));
	inv_set_int(row, "elapsed_ms",
		    (int64_t)((t1.tv_sec - w->t0.tv_sec) * 1000 +
			      (t1.tv_nsec - w->t0.tv_nsec) / 1000000));
	inv_set_int(row, "threads", w->nworkers ? w->nworkers : 1);
	buf_free(&skipped);
	walk_free(w);
}
