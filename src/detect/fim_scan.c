/* File integrity: the baseline database and the SHA-256 scan (fim_scan.h). */
#include "detect/fim_scan.h"

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- database ---- */

#define DB_MAGIC "IMFIMDB\x01"
#define DB_MAGIC_LEN 8
#define DB_ENTRY_FIXED (2 + 1 + FIM_SHA256_LEN + 8 + 8 + 4 + 4 + 4)

struct db_node {
	struct db_node *next;
	uint64_t hash;
	uint32_t gen;
	struct fim_entry e;
	char path[];
};

struct fim_db {
	pthread_mutex_t lock;
	struct db_node **b;
	size_t nb, n;
	uint32_t gen;
};

static uint64_t path_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct fim_db *fim_db_new(void)
{
	struct fim_db *db = xcalloc(1, sizeof(*db));
	pthread_mutex_init(&db->lock, NULL);
	db->nb = 1024;
	db->b = xcalloc(db->nb, sizeof(*db->b));
	return db;
}

static void db_clear(struct fim_db *db)
{
	for (size_t i = 0; i < db->nb; i++) {
		struct db_node *n = db->b[i];
		while (n) {
			struct db_node *next = n->next;
			free(n);
			n = next;
		}
		db->b[i] = NULL;
	}
	db->n = 0;
}

void fim_db_free(struct fim_db *db)
{
	if (!db)
		return;
	db_clear(db);
	free(db->b);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

static struct db_node **db_find(struct fim_db *db, const char *path, uint64_t h)
{
	struct db_node **pp = &db->b[h & (db->nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->path, path) == 0)
			return pp;
	return pp;
}

static void db_grow(struct fim_db *db)
{
	size_t nb = db->nb * 2;
	struct db_node **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < db->nb; i++) {
		struct db_node *n = db->b[i];
		while (n) {
			struct db_node *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(db->b);
	db->b = b;
	db->nb = nb;
}

static bool path_ok(const char *path, size_t len)
{
	return len > 0 && len < FIM_PATH_MAX && path[0] == '/' && !memchr(path, '\0', len);
}

/* Inserts or replaces; the caller holds the lock. */
static int db_put_locked(struct fim_db *db, const struct fim_entry *e, bool replace)
{
	size_t len = strlen(e->path);
	if (!path_ok(e->path, len))
		return -EINVAL;
	uint64_t h = path_hash(e->path);
	struct db_node **pp = db_find(db, e->path, h);
	if (*pp) {
		if (!replace)
			return -EEXIST;
		struct db_node *n = *pp;
		n->e = *e;
		n->e.path = n->path;
		n->gen = db->gen;
		return 0;
	}
	if (db->n >= FIM_DB_MAX_ENTRIES)
		return -EMSGSIZE;
	struct db_node *n = xmalloc(sizeof(*n) + len + 1);
	memcpy(n->path, e->path, len + 1);
	n->e = *e;
	n->e.path = n->path;
	n->hash = h;
	n->gen = db->gen;
	n->next = NULL;
	*pp = n;
	if (++db->n > db->nb)
		db_grow(db);
	return 0;
}

int fim_db_put(struct fim_db *db, const struct fim_entry *e)
{
	pthread_mutex_lock(&db->lock);
	int r = db_put_locked(db, e, true);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int fim_db_get(struct fim_db *db, const char *path, struct fim_entry *out)
{
	int r = -ENOENT;
	pthread_mutex_lock(&db->lock);
	struct db_node **pp = db_find(db, path, path_hash(path));
	if (*pp) {
		*out = (*pp)->e;
		out->path = path;
		r = 0;
	}
	pthread_mutex_unlock(&db->lock);
	return r;
}

int fim_db_remove(struct fim_db *db, const char *path)
{
	int r = -ENOENT;
	pthread_mutex_lock(&db->lock);
	struct db_node **pp = db_find(db, path, path_hash(path));
	if (*pp) {
		struct db_node *n = *pp;
		*pp = n->next;
		free(n);
		db->n--;
		r = 0;
	}
	pthread_mutex_unlock(&db->lock);
	return r;
}

size_t fim_db_count(struct fim_db *db)
{
	pthread_mutex_lock(&db->lock);
	size_t n = db->n;
	pthread_mutex_unlock(&db->lock);
	return n;
}

static int sha256(const void *p, size_t n, uint8_t out[FIM_SHA256_LEN])
{
	unsigned len = 0;
	if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != FIM_SHA256_LEN)
		return -EIO;
	return 0;
}

static int db_parse_entries(struct fim_db *db, struct cursor *c, uint32_t count)
{
	char path[FIM_PATH_MAX];
	for (uint32_t i = 0; i < count; i++) {
		const void *p;
		uint8_t hi, lo, flags;
		uint64_t size, mtime;
		uint32_t mode, uid, gid;
		if (cursor_get_u8(c, &hi) < 0 || cursor_get_u8(c, &lo) < 0)
			return -EBADMSG;
		size_t len = (size_t)hi << 8 | lo;
		if (len >= FIM_PATH_MAX || cursor_get_bytes(c, len, &p) < 0)
			return -EBADMSG;
		memcpy(path, p, len);
		path[len] = '\0';
		if (!path_ok(path, len))
			return -EBADMSG;
		struct fim_entry e = { .path = path };
		if (cursor_get_u8(c, &flags) < 0 || (flags & ~FIM_F_HASHED) ||
		    cursor_get_bytes(c, FIM_SHA256_LEN, &p) < 0)
			return -EBADMSG;
		memcpy(e.sha256, p, FIM_SHA256_LEN);
		if (cursor_get_u64be(c, &size) < 0 || cursor_get_u64be(c, &mtime) < 0 ||
		    cursor_get_u32be(c, &mode) < 0 || cursor_get_u32be(c, &uid) < 0 ||
		    cursor_get_u32be(c, &gid) < 0)
			return -EBADMSG;
		e.flags = flags;
		e.size = size;
		e.mtime_ns = (int64_t)mtime;
		e.mode = mode;
		e.uid = uid;
		e.gid = gid;
		int r = db_put_locked(db, &e, false);
		if (r < 0)
			return r == -EEXIST || r == -EINVAL ? -EBADMSG : r;
	}
	return 0;
}

static int db_parse_locked(struct fim_db *db, const void *data, size_t len)
{
	uint8_t sum[FIM_SHA256_LEN];
	uint32_t count;
	const void *magic;
	struct cursor c;

	if (len > FIM_DB_MAX_BYTES)
		return -EMSGSIZE;
	if (len < DB_MAGIC_LEN + 4 + FIM_SHA256_LEN)
		return -EBADMSG;
	if (sha256(data, len - FIM_SHA256_LEN, sum) < 0)
		return -EIO;
	cursor_init(&c, data, len - FIM_SHA256_LEN);
	if (memcmp((const char *)data + len - FIM_SHA256_LEN, sum, FIM_SHA256_LEN) != 0)
		return -EBADMSG;
	if (cursor_get_bytes(&c, DB_MAGIC_LEN, &magic) < 0 ||
	    memcmp(magic, DB_MAGIC, DB_MAGIC_LEN) != 0 || cursor_get_u32be(&c, &count) < 0)
		return -EBADMSG;
	if (count > FIM_DB_MAX_ENTRIES || count > c.left / DB_ENTRY_FIXED)
		return -EBADMSG;
	int r = db_parse_entries(db, &c, count);
	if (r == 0 && !cursor_done(&c))
		r = -EBADMSG;
	return r;
}

int fim_db_parse(struct fim_db *db, const void *data, size_t len)
{
	pthread_mutex_lock(&db->lock);
	db_clear(db);
	int r = db_parse_locked(db, data, len);
	if (r < 0)
		db_clear(db);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int fim_db_load(struct fim_db *db, const char *path)
{
	_cleanup_(buf_free) struct buf b = { 0 };
	buf_init(&b, FIM_DB_MAX_BYTES);
	int r = file_read_capped(path, FIM_DB_MAX_BYTES, &b);
	if (r < 0)
		return r == -EFBIG ? -EMSGSIZE : r;
	return fim_db_parse(db, buf_str(&b), buf_len(&b));
}

static void put_u8(struct buf *b, uint8_t v)
{
	buf_append(b, &v, 1);
}

static void put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };
	buf_append(b, x, sizeof(x));
}

static void put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, v >> 32);
	put_u32(b, (uint32_t)v);
}

int fim_db_save(struct fim_db *db, const char *path)
{
	_cleanup_(buf_free) struct buf b = { 0 };
	uint8_t sum[FIM_SHA256_LEN];
	int r;

	buf_init(&b, FIM_DB_MAX_BYTES);
	pthread_mutex_lock(&db->lock);
	buf_append(&b, DB_MAGIC, DB_MAGIC_LEN);
	put_u32(&b, (uint32_t)db->n);
	for (size_t i = 0; i < db->nb; i++) {
		for (struct db_node *n = db->b[i]; n; n = n->next) {
			size_t len = strlen(n->path);
			put_u8(&b, (uint8_t)(len >> 8));
			put_u8(&b, (uint8_t)len);
			buf_append(&b, n->path, len);
			put_u8(&b, (uint8_t)n->e.flags);
			buf_append(&b, n->e.sha256, FIM_SHA256_LEN);
			put_u64(&b, n->e.size);
			put_u64(&b, (uint64_t)n->e.mtime_ns);
			put_u32(&b, n->e.mode);
			put_u32(&b, n->e.uid);
			put_u32(&b, n->e.gid);
		}
	}
	pthread_mutex_unlock(&db->lock);
	r = sha256(buf_str(&b), buf_len(&b), sum);
	if (r < 0)
		return r;
	if (buf_append(&b, sum, sizeof(sum)) < 0)
		return -EMSGSIZE;
	return file_write_atomic(path, buf_str(&b), buf_len(&b), 0600);
}

/* ---- hashing ---- */

struct fim_hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
	void *buf;
	size_t size;
};

int fim_hasher_new(size_t bufsize, struct fim_hasher **out)
{
	struct fim_hasher *h = xcalloc(1, sizeof(*h));
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	h->size = bufsize ? bufsize : 1u << 20;
	h->buf = xmalloc(h->size);
	if (!h->md || !h->ctx) {
		fim_hasher_free(h);
		return -ENOSYS;
	}
	*out = h;
	return 0;
}

void fim_hasher_free(struct fim_hasher *h)
{
	if (!h)
		return;
	EVP_MD_free(h->md);
	EVP_MD_CTX_free(h->ctx);
	free(h->buf);
	free(h);
}

/* Hashes fd up to limit bytes (the size fstat gave: no last read to find the end). */
static int hash_fd_upto(struct fim_hasher *h, int fd, uint64_t limit, uint8_t out[FIM_SHA256_LEN],
			uint64_t *bytes)
{
	uint64_t total = 0;
	unsigned len = 0;

	if (!EVP_DigestInit_ex2(h->ctx, h->md, NULL))
		return -EIO;
	while (total < limit) {
		size_t want = limit - total < h->size ? (size_t)(limit - total) : h->size;
		ssize_t n = read(fd, h->buf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(h->ctx, h->buf, (size_t)n))
			return -EIO;
		total += (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(h->ctx, out, &len) || len != FIM_SHA256_LEN)
		return -EIO;
	*bytes = total;
	return 0;
}

int fim_hash_fd(struct fim_hasher *h, int fd, uint8_t out[FIM_SHA256_LEN], uint64_t *bytes)
{
	return hash_fd_upto(h, fd, UINT64_MAX, out, bytes);
}

int fim_hash_mem(struct fim_hasher *h, const void *data, size_t len, uint8_t out[FIM_SHA256_LEN])
{
	unsigned n = 0;
	if (!EVP_DigestInit_ex2(h->ctx, h->md, NULL) || !EVP_DigestUpdate(h->ctx, data, len) ||
	    !EVP_DigestFinal_ex(h->ctx, out, &n) || n != FIM_SHA256_LEN)
		return -EIO;
	return 0;
}

static void entry_from_stat(struct fim_entry *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->flags = 0;
	memset(e->sha256, 0, sizeof(e->sha256));
}

static int hash_link(struct fim_hasher *h, const char *path, struct fim_entry *e)
{
	ssize_t n = readlink(path, h->buf, h->size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= h->size)
		return -ENAMETOOLONG;
	int r = fim_hash_mem(h, h->buf, (size_t)n, e->sha256);
	if (r < 0)
		return r;
	e->flags |= FIM_F_HASHED;
	return 0;
}

static int open_read(const char *path)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd = open(path, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, flags);
	return fd;
}

/* Hashes the open file fd into x when it is a regular file up to size_cap. Returns 0, 1 when
 * fd is not a regular file (x untouched), or a negative errno. */
static int hash_open(struct fim_hasher *h, int fd, uint64_t size_cap, struct fim_entry *x)
{
	struct stat st;
	uint64_t bytes;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 1;
	entry_from_stat(x, &st);
	if ((uint64_t)st.st_size > size_cap)
		return 0;
	if (st.st_size > (1 << 20))
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int r = hash_fd_upto(h, fd, (uint64_t)st.st_size, x->sha256, &bytes);
	if (r < 0)
		return r;
	x->flags |= FIM_F_HASHED;
	return 0;
}

/* fim_stat_hash(); regular says the walk saw a regular file, which is then opened directly
 * (one path lookup instead of two) and lstat'ed only when it turns out to be something else. */
static int stat_hash(struct fim_hasher *h, const char *path, uint64_t size_cap, bool regular,
		     struct fim_entry *e)
{
	struct stat st;
	struct fim_entry x = { .path = e->path };
	int r;

	if (regular) {
		int fd = open_read(path);
		if (fd < 0 && errno != ELOOP)
			return -errno;
		if (fd >= 0) {
			r = hash_open(h, fd, size_cap, &x);
			close(fd);
			if (r < 0)
				return r;
			if (r == 0) {
				*e = x;
				return 0;
			}
		}
	}
	if (lstat(path, &st) < 0)
		return -errno;
	entry_from_stat(&x, &st);
	if (S_ISLNK(st.st_mode)) {
		r = hash_link(h, path, &x);
		if (r < 0)
			return r;
	} else if (S_ISREG(st.st_mode)) {
		int fd = open_read(path);
		if (fd < 0)
			return -errno;
		r = hash_open(h, fd, size_cap, &x);
		close(fd);
		if (r < 0)
			return r;
		if (r == 1)
			return -ENOENT; /* replaced in between */
	}
	*e = x;
	return 0;
}

int fim_stat_hash(struct fim_hasher *h, const char *path, uint64_t size_cap, struct fim_entry *e)
{
	return stat_hash(h, path, size_cap, false, e);
}

void fim_sha256_hex(const uint8_t sha[FIM_SHA256_LEN], char hex[2 * FIM_SHA256_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < FIM_SHA256_LEN; i++) {
		hex[2 * i] = digits[sha[i] >> 4];
		hex[2 * i + 1] = digits[sha[i] & 15];
	}
	hex[2 * FIM_SHA256_LEN] = '\0';
}

/* ---- scan ---- */

#define WALK_MAX_DEPTH 64

struct fim_scan {
	char *arena; /* the paths, NUL-separated */
	size_t used, alloc;
	struct fim_entry *files;
	size_t *off; /* each file's path offset in arena during the walk */
	bool *reg;   /* the walk saw a regular file */
	size_t n, nalloc;
	bool *ok;     /* hashed (or stat'ed) successfully */
	char **roots; /* the walked paths */
	char **exclude;
	uint64_t bytes, errors, dropped;
};

struct budget {
	unsigned pct;
	int64_t cpu0, wall0;
	atomic_bool *stop;
	unsigned tick;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool stopped(const struct budget *b)
{
	return b->stop && atomic_load(b->stop);
}

/* Sleeps until the scan's CPU time is at most pct % of the wall time since it started. */
static int budget_check(struct budget *b, bool force)
{
	if (stopped(b))
		return -ECANCELED;
	if (!b->pct || (!force && ++b->tick % 32))
		return 0;
	int64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - b->cpu0;
	for (;;) {
		int64_t wall = clock_ns(CLOCK_MONOTONIC) - b->wall0;
		int64_t need = cpu / b->pct * 100;
		if (need <= wall)
			return 0;
		int64_t d = need - wall;
		if (d > 50000000)
			d = 50000000;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = d };
		nanosleep(&ts, NULL);
		if (stopped(b))
			return -ECANCELED;
	}
}

static bool excluded(const struct fim_scan *s, const char *path)
{
	for (char **p = s->exclude; p && *p; p++)
		if (strcmp(*p, path) == 0)
			return true;
	return false;
}

static void scan_add(struct fim_scan *s, const char *path, size_t len, bool reg)
{
	if (s->used + len + 1 > s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 1u << 20;
		while (s->used + len + 1 > s->alloc)
			s->alloc *= 2;
		s->arena = xrealloc(s->arena, s->alloc);
	}
	if (s->n == s->nalloc) {
		s->nalloc = s->nalloc ? s->nalloc * 2 : 4096;
		s->off = xrealloc(s->off, s->nalloc * sizeof(*s->off));
		s->reg = xrealloc(s->reg, s->nalloc * sizeof(*s->reg));
	}
	s->reg[s->n] = reg;
	memcpy(s->arena + s->used, path, len + 1);
	s->off[s->n++] = s->used;
	s->used += len + 1;
}

struct walk {
	struct fim_scan *s;
	const struct fim_scan_opts *o;
	struct budget *b;
	char path[FIM_PATH_MAX];
};

static int walk_dir(struct walk *w, int dfd, size_t len, unsigned depth);

static int walk_entry(struct walk *w, int dfd, const char *name, unsigned char type, size_t len,
		      unsigned depth)
{
	size_t nl = strlen(name);
	if (len + 1 + nl >= FIM_PATH_MAX) {
		w->s->errors++;
		return 0;
	}
	size_t plen = len;
	if (plen == 0 || w->path[plen - 1] != '/')
		w->path[plen++] = '/';
	memcpy(w->path + plen, name, nl + 1);
	plen += nl;
	if (type == DT_UNKNOWN) {
		struct stat st;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			w->s->errors++;
			goto out;
		}
		type = S_ISDIR(st.st_mode)   ? DT_DIR
		       : S_ISREG(st.st_mode) ? DT_REG
		       : S_ISLNK(st.st_mode) ? DT_LNK
					     : DT_FIFO;
	}
	if (excluded(w->s, w->path))
		goto out;
	if (type == DT_DIR) {
		if (depth >= WALK_MAX_DEPTH) {
			w->s->errors++;
			goto out;
		}
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			w->s->errors++;
			goto out;
		}
		int r = walk_dir(w, fd, plen, depth + 1);
		if (r < 0) {
			w->path[len] = '\0';
			return r;
		}
	} else if (type == DT_REG || type == DT_LNK) {
		if (w->o->max_files && w->s->n >= w->o->max_files)
			w->s->dropped++;
		else
			scan_add(w->s, w->path, plen, type == DT_REG);
	}
out:
	w->path[len] = '\0';
	return 0;
}

/* Walks the open directory dfd (closed here) whose path is w->path[0..len). */
static int walk_dir(struct walk *w, int dfd, size_t len, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		w->s->errors++;
		return 0;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		r = walk_entry(w, dirfd(d), de->d_name, de->d_type, len, depth);
		if (r == 0)
			r = budget_check(w->b, false);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int walk_root(struct walk *w, const char *root)
{
	struct stat st;
	size_t len = strlen(root);
	if (len == 0 || len >= FIM_PATH_MAX || root[0] != '/')
		return -EINVAL;
	while (len > 1 && root[len - 1] == '/')
		len--;
	memcpy(w->path, root, len);
	w->path[len] = '\0';
	if (lstat(w->path, &st) < 0)
		return -errno;
	if (excluded(w->s, w->path))
		return 0;
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		scan_add(w->s, w->path, len, S_ISREG(st.st_mode));
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	int fd = open(w->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return walk_dir(w, fd, len, 0);
}

struct pool {
	struct fim_scan *s;
	const struct fim_scan_opts *o;
	atomic_size_t next;
	atomic_uint_fast64_t bytes, errors;
	struct budget *b; /* only with one thread */
	int err;
};

static void *hash_worker(void *arg)
{
	struct pool *p = arg;
	struct fim_hasher *h;
	uint64_t bytes = 0, errors = 0, since = 0;

	if (fim_hasher_new(1u << 20, &h) < 0) {
		p->err = -ENOSYS;
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->s->n)
			break;
		struct fim_entry *e = &p->s->files[i];
		if (stat_hash(h, e->path, p->o->size_cap, p->s->reg[i], e) == 0) {
			p->s->ok[i] = true;
			if (S_ISREG(e->mode) && (e->flags & FIM_F_HASHED)) {
				bytes += e->size;
				since += e->size;
			}
		} else {
			errors++;
		}
		if (p->b) {
			int r = budget_check(p->b, since > (4u << 20));
			if (since > (4u << 20))
				since = 0;
			if (r < 0) {
				p->err = r;
				break;
			}
		}
	}
	fim_hasher_free(h);
	atomic_fetch_add(&p->bytes, bytes);
	atomic_fetch_add(&p->errors, errors);
	return NULL;
}

static int hash_all(struct fim_scan *s, const struct fim_scan_opts *o, struct budget *b)
{
	struct pool p = { .s = s, .o = o };
	unsigned nt = o->threads ? o->threads : 1;
	if (o->cpu_percent || nt == 1) {
		p.b = b;
		hash_worker(&p);
	} else {
		pthread_t *t = xcalloc(nt, sizeof(*t));
		unsigned started = 0;
		for (; started < nt; started++)
			if (pthread_create(&t[started], NULL, hash_worker, &p) != 0)
				break;
		if (started == 0)
			hash_worker(&p);
		for (unsigned i = 0; i < started; i++)
			pthread_join(t[i], NULL);
		free(t);
	}
	s->bytes = atomic_load(&p.bytes);
	s->errors += atomic_load(&p.errors);
	return p.err;
}

static char **strv_copy(const char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **c = xcalloc(n + 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

int fim_scan_run(const struct fim_scan_opts *o, struct fim_scan **out)
{
	struct fim_scan *s = xcalloc(1, sizeof(*s));
	struct budget b = { .pct = o->cpu_percent > 100 ? 100 : o->cpu_percent, .stop = o->stop };
	struct walk *w = xmalloc(sizeof(*w));
	int r = 0, walked = 0, last = -ENOENT;

	b.cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	b.wall0 = clock_ns(CLOCK_MONOTONIC);
	s->roots = strv_copy(o->paths);
	s->exclude = strv_copy(o->exclude);
	w->s = s;
	w->o = o;
	w->b = &b;
	for (size_t i = 0; o->paths && o->paths[i]; i++) {
		r = walk_root(w, o->paths[i]);
		if (r == -ECANCELED)
			break;
		if (r < 0) {
			last = r;
			r = 0;
		} else {
			walked++;
		}
	}
	free(w);
	if (r == 0 && !walked && o->paths && o->paths[0])
		r = last;
	if (r == 0) {
		s->files = xcalloc(s->n ? s->n : 1, sizeof(*s->files));
		s->ok = xcalloc(s->n ? s->n : 1, sizeof(*s->ok));
		for (size_t i = 0; i < s->n; i++)
			s->files[i].path = s->arena + s->off[i];
		r = hash_all(s, o, &b);
	}
	if (r < 0) {
		fim_scan_free(s);
		return r;
	}
	/* Keep only the files that were read. */
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->ok[i])
			s->files[k++] = s->files[i];
	s->n = k;
	*out = s;
	return 0;
}

void fim_scan_free(struct fim_scan *s)
{
	if (!s)
		return;
	free(s->arena);
	free(s->files);
	free(s->off);
	free(s->reg);
	free(s->ok);
	strv_free(s->roots);
	strv_free(s->exclude);
	free(s);
}

size_t fim_scan_count(const struct fim_scan *s)
{
	return s->n;
}

const struct fim_entry *fim_scan_file(const struct fim_scan *s, size_t i)
{
	return i < s->n ? &s->files[i] : NULL;
}

uint64_t fim_scan_bytes(const struct fim_scan *s)
{
	return s->bytes;
}

uint64_t fim_scan_errors(const struct fim_scan *s)
{
	return s->errors;
}

uint64_t fim_scan_dropped(const struct fim_scan *s)
{
	return s->dropped;
}

/* ---- compare ---- */

struct change {
	enum fim_change c;
	size_t file;		 /* index into the scan (not for deletes) */
	struct fim_entry before; /* path owned for deletes, else borrowed */
	bool has_before;
};

static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(path, root, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && root[0] == '/');
}

static bool under_any(char **roots, const char *path)
{
	for (; roots && *roots; roots++)
		if (under(path, *roots))
			return true;
	return false;
}

static bool content_changed(const struct fim_entry *a, const struct fim_entry *b)
{
	if ((a->flags & FIM_F_HASHED) && (b->flags & FIM_F_HASHED))
		return memcmp(a->sha256, b->sha256, FIM_SHA256_LEN) != 0;
	return a->size != b->size || a->mtime_ns != b->mtime_ns ||
	       (a->flags & FIM_F_HASHED) != (b->flags & FIM_F_HASHED);
}

static void push_change(struct change **v, size_t *n, size_t *alloc, struct change c)
{
	if (*n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 64;
		*v = xrealloc(*v, *alloc * sizeof(**v));
	}
	(*v)[(*n)++] = c;
}

int fim_scan_compare(struct fim_db *db, const struct fim_scan *s, fim_change_fn fn, void *arg)
{
	struct change *v = NULL;
	size_t n = 0, alloc = 0;
	int r = 0;

	pthread_mutex_lock(&db->lock);
	uint32_t gen = ++db->gen;
	for (size_t i = 0; i < s->n && r == 0; i++) {
		const struct fim_entry *e = &s->files[i];
		struct db_node **pp = db_find(db, e->path, path_hash(e->path));
		struct change c = { .file = i };
		if (!*pp) {
			c.c = FIM_CREATED;
			push_change(&v, &n, &alloc, c);
		} else {
			const struct fim_entry *old = &(*pp)->e;
			c.before = *old;
			c.before.path = e->path; /* the node may go once the lock is released */
			c.has_before = true;
			if (content_changed(e, old) || (e->mode & S_IFMT) != (old->mode & S_IFMT)) {
				c.c = FIM_MODIFIED;
				push_change(&v, &n, &alloc, c);
			} else if (e->mode != old->mode || e->uid != old->uid ||
				   e->gid != old->gid) {
				c.c = FIM_ATTR;
				push_change(&v, &n, &alloc, c);
			}
		}
		r = db_put_locked(db, e, true); /* sets gen */
	}
	/* What was not seen below the walked roots is gone. */
	for (size_t i = 0; i < db->nb && r == 0; i++) {
		struct db_node **pp = &db->b[i];
		while (*pp) {
			struct db_node *nd = *pp;
			if (nd->gen != gen && under_any(s->roots, nd->path) &&
			    !under_any(s->exclude, nd->path)) {
				struct change c = { .c = FIM_DELETED, .has_before = true };
				c.before = nd->e;
				c.before.path = xstrdup(nd->path);
				push_change(&v, &n, &alloc, c);
				*pp = nd->next;
				free(nd);
				db->n--;
				continue;
			}
			pp = &nd->next;
		}
	}
	pthread_mutex_unlock(&db->lock);
	for (size_t i = 0; i < n; i++) {
		const struct fim_entry *now = v[i].c == FIM_DELETED ? NULL : &s->files[v[i].file];
		if (fn && r == 0)
			fn(v[i].c, now, v[i].has_before ? &v[i].before : NULL, arg);
		if (v[i].c == FIM_DELETED)
			free((char *)v[i].before.path);
	}
	free(v);
	return r;
}
