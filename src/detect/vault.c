/* The vault of known-good text snapshots and the unified line diff (vault.h). */
#include "detect/vault.h"

#include "lib/fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define DIFF_INPUT_MAX (1u << 20)
#define DIFF_MAX_D 1024 /* edit distance past which the diff replaces the changed middle */
#define DIFF_CONTEXT 3

struct snap {
	uint8_t sha[FIM_SHA256_LEN];
	uint64_t bytes;
	int64_t mtime;
};

struct vault {
	pthread_mutex_t lock;
	char *dir;
	size_t max_file;
	uint64_t max_total, total;
	struct snap *s; /* oldest first */
	size_t n, alloc;
	struct fim_hasher *h;
};

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_name(const char *name, uint8_t sha[FIM_SHA256_LEN])
{
	if (strlen(name) != 2 * FIM_SHA256_LEN + 4 || strcmp(name + 2 * FIM_SHA256_LEN, ".zst"))
		return false;
	for (size_t i = 0; i < FIM_SHA256_LEN; i++) {
		int hi = hex_val(name[2 * i]), lo = hex_val(name[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		sha[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static char *snap_path(const struct vault *v, const uint8_t sha[FIM_SHA256_LEN])
{
	char hex[2 * FIM_SHA256_LEN + 1];
	fim_sha256_hex(sha, hex);
	return xasprintf("%s/%s.zst", v->dir, hex);
}

static int snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

static void snap_add(struct vault *v, const uint8_t sha[FIM_SHA256_LEN], uint64_t bytes,
		     int64_t mtime)
{
	if (v->n == v->alloc) {
		v->alloc = v->alloc ? v->alloc * 2 : 64;
		v->s = xrealloc(v->s, v->alloc * sizeof(*v->s));
	}
	memcpy(v->s[v->n].sha, sha, FIM_SHA256_LEN);
	v->s[v->n].bytes = bytes;
	v->s[v->n].mtime = mtime;
	v->n++;
	v->total += bytes;
}

static ssize_t snap_find(const struct vault *v, const uint8_t sha[FIM_SHA256_LEN])
{
	for (size_t i = 0; i < v->n; i++)
		if (memcmp(v->s[i].sha, sha, FIM_SHA256_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

static void snap_drop(struct vault *v, size_t i)
{
	_cleanup_free_ char *p = snap_path(v, v->s[i].sha);
	unlink(p);
	v->total -= v->s[i].bytes;
	memmove(&v->s[i], &v->s[i + 1], (v->n - i - 1) * sizeof(*v->s));
	v->n--;
}

static int vault_scan_dir(struct vault *v)
{
	DIR *d = opendir(v->dir);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint8_t sha[FIM_SHA256_LEN];
		struct stat st;
		if (!parse_name(de->d_name, sha) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		snap_add(v, sha, (uint64_t)st.st_size,
			 (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	}
	closedir(d);
	sort_array(v->s, v->n, sizeof(*v->s), snap_cmp);
	return 0;
}

int vault_open(const char *state_dir, size_t max_file, uint64_t max_total, struct vault **out)
{
	struct vault *v = xcalloc(1, sizeof(*v));
	int r;

	v->dir = xasprintf("%s/vault", state_dir);
	v->max_file = max_file ? max_file : 64u * 1024;
	v->max_total = max_total ? max_total : 64u * 1024 * 1024;
	pthread_mutex_init(&v->lock, NULL);
	if (mkdir(v->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	r = fim_hasher_new(64u * 1024, &v->h);
	if (r < 0)
		goto fail;
	r = vault_scan_dir(v);
	if (r < 0)
		goto fail;
	while (v->total > v->max_total && v->n > 0)
		snap_drop(v, 0);
	*out = v;
	return 0;
fail:
	vault_free(v);
	return r;
}

void vault_free(struct vault *v)
{
	if (!v)
		return;
	fim_hasher_free(v->h);
	pthread_mutex_destroy(&v->lock);
	free(v->s);
	free(v->dir);
	free(v);
}

bool vault_is_text(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t odd = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == 0)
			return false;
		if (c < 0x20 && c != '\n' && c != '\t' && c != '\r' && c != '\f' && c != 0x1b)
			odd++;
	}
	return odd * 100 <= len; /* at most 1% unusual control bytes */
}

static int put_locked(struct vault *v, const void *data, size_t len, uint8_t sha[FIM_SHA256_LEN])
{
	if (len > v->max_file)
		return -EFBIG;
	if (!vault_is_text(data, len))
		return -EMEDIUMTYPE;
	int r = fim_hash_mem(v->h, data, len, sha);
	if (r < 0)
		return r;
	if (snap_find(v, sha) >= 0)
		return 0;
	size_t bound = ZSTD_compressBound(len);
	_cleanup_free_ void *z = xmalloc(bound);
	size_t zn = ZSTD_compress(z, bound, data, len, 3);
	if (ZSTD_isError(zn))
		return -EIO;
	if (zn > v->max_total)
		return -EFBIG;
	while (v->total + zn > v->max_total && v->n > 0)
		snap_drop(v, 0);
	_cleanup_free_ char *p = snap_path(v, sha);
	r = file_write_atomic(p, z, zn, 0600);
	if (r < 0)
		return r;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snap_add(v, sha, zn, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return 0;
}

int vault_put(struct vault *v, const void *data, size_t len, uint8_t sha[FIM_SHA256_LEN])
{
	uint8_t tmp[FIM_SHA256_LEN];
	pthread_mutex_lock(&v->lock);
	int r = put_locked(v, data, len, tmp);
	pthread_mutex_unlock(&v->lock);
	if (r == 0 && sha)
		memcpy(sha, tmp, FIM_SHA256_LEN);
	return r;
}

/* Reads a regular file (no final symlink) of at most cap bytes into out. */
static int read_small(const char *path, size_t cap, struct buf *out)
{
	_cleanup_close_ int fd =
		open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EMEDIUMTYPE;
	if ((uint64_t)st.st_size > cap)
		return -EFBIG;
	buf_reset(out);
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (buf_len(out) + (size_t)n > cap || buf_append(out, chunk, (size_t)n) < 0)
			return -EFBIG;
	}
}

int vault_put_file(struct vault *v, const char *path, uint8_t sha[FIM_SHA256_LEN])
{
	_cleanup_(buf_free) struct buf b = { 0 };
	buf_init(&b, v->max_file + 1);
	int r = read_small(path, v->max_file, &b);
	if (r < 0)
		return r;
	return vault_put(v, buf_str(&b), buf_len(&b), sha);
}

bool vault_has(struct vault *v, const uint8_t sha[FIM_SHA256_LEN])
{
	pthread_mutex_lock(&v->lock);
	bool has = snap_find(v, sha) >= 0;
	pthread_mutex_unlock(&v->lock);
	return has;
}

static int get_locked(struct vault *v, const uint8_t sha[FIM_SHA256_LEN], struct buf *out)
{
	ssize_t i = snap_find(v, sha);
	if (i < 0)
		return -ENOENT;
	_cleanup_free_ char *p = snap_path(v, sha);
	_cleanup_(buf_free) struct buf z = { 0 };
	size_t zcap = ZSTD_compressBound(v->max_file);
	_cleanup_free_ char *plain = NULL;
	uint8_t got[FIM_SHA256_LEN];
	int r;

	buf_init(&z, zcap);
	r = file_read_capped(p, zcap, &z);
	if (r == -ENOENT) {
		snap_drop(v, (size_t)i);
		return r;
	}
	if (r < 0 && r != -EFBIG)
		return r;
	unsigned long long n =
		r < 0 ? ZSTD_CONTENTSIZE_ERROR : ZSTD_getFrameContentSize(buf_str(&z), buf_len(&z));
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > v->max_file)
		goto bad;
	plain = xmalloc(n ? n : 1);
	size_t got_n = ZSTD_decompress(plain, n, buf_str(&z), buf_len(&z));
	if (ZSTD_isError(got_n) || got_n != n)
		goto bad;
	if (fim_hash_mem(v->h, plain, n, got) < 0 || memcmp(got, sha, FIM_SHA256_LEN) != 0)
		goto bad;
	buf_reset(out);
	if (buf_append(out, plain, n) < 0)
		return -EMSGSIZE;
	return 0;
bad:
	snap_drop(v, (size_t)i);
	return -EBADMSG;
}

int vault_get(struct vault *v, const uint8_t sha[FIM_SHA256_LEN], struct buf *out)
{
	pthread_mutex_lock(&v->lock);
	int r = get_locked(v, sha, out);
	pthread_mutex_unlock(&v->lock);
	return r;
}

int vault_diff(struct vault *v, const char *path, const uint8_t old_sha[FIM_SHA256_LEN],
	       size_t max_out, struct buf *out)
{
	_cleanup_(buf_free) struct buf old = { 0 }, cur = { 0 };
	int r;

	buf_init(&old, v->max_file + 1);
	buf_init(&cur, v->max_file + 1);
	r = vault_get(v, old_sha, &old);
	if (r < 0)
		return r;
	r = read_small(path, v->max_file, &cur);
	if (r < 0)
		return r;
	if (!vault_is_text(buf_str(&cur), buf_len(&cur)))
		return -EMEDIUMTYPE;
	return vault_diff_text(buf_str(&old), buf_len(&old), buf_str(&cur), buf_len(&cur), path,
			       max_out, out);
}

int vault_restore(struct vault *v, const char *path, const uint8_t sha[FIM_SHA256_LEN])
{
	_cleanup_(buf_free) struct buf b = { 0 };
	struct stat st;
	mode_t mode = 0644;
	bool keep_owner = false;
	int r;

	buf_init(&b, v->max_file + 1);
	r = vault_get(v, sha, &b);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		mode = st.st_mode & 07777;
		keep_owner = true;
	}
	r = file_write_atomic(path, buf_str(&b), buf_len(&b), mode);
	if (r < 0)
		return r;
	if (keep_owner && lchown(path, st.st_uid, st.st_gid) < 0)
		return -errno;
	return 0;
}

uint64_t vault_bytes(struct vault *v)
{
	pthread_mutex_lock(&v->lock);
	uint64_t n = v->total;
	pthread_mutex_unlock(&v->lock);
	return n;
}

size_t vault_count(struct vault *v)
{
	pthread_mutex_lock(&v->lock);
	size_t n = v->n;
	pthread_mutex_unlock(&v->lock);
	return n;
}

/* ---- unified diff ---- */

struct line {
	const char *p;
	size_t len; /* without the '\n' */
	bool nl;    /* ended by '\n' */
	uint64_t h;
};

struct lines {
	struct line *l;
	size_t n;
};

static void split_lines(const char *s, size_t len, struct lines *out)
{
	size_t n = 0, alloc = 16;
	struct line *l = xmalloc(alloc * sizeof(*l));
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) : len;
		if (n == alloc) {
			alloc *= 2;
			l = xrealloc(l, alloc * sizeof(*l));
		}
		uint64_t h = 1469598103934665603ull;
		for (size_t k = i; k < end; k++)
			h = (h ^ (unsigned char)s[k]) * 1099511628211ull;
		l[n++] = (struct line){ .p = s + i, .len = end - i, .nl = nl != NULL, .h = h };
		i = end + 1;
	}
	out->l = l;
	out->n = n;
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->h == b->h && a->len == b->len && a->nl == b->nl && !memcmp(a->p, b->p, a->len);
}

enum op_kind { OP_EQ, OP_DEL, OP_INS };

struct op {
	enum op_kind k;
	uint32_t a, b; /* line indices in a (EQ, DEL) and b (EQ, INS) */
};

struct ops {
	struct op *o;
	size_t n, alloc;
};

static void op_push(struct ops *v, enum op_kind k, size_t a, size_t b)
{
	if (v->n == v->alloc) {
		v->alloc = v->alloc ? v->alloc * 2 : 64;
		v->o = xrealloc(v->o, v->alloc * sizeof(*v->o));
	}
	v->o[v->n++] = (struct op){ .k = k, .a = (uint32_t)a, .b = (uint32_t)b };
}

/* The edit script when Myers gives up: common prefix, the middle replaced, common suffix. */
static void replace_middle(const struct lines *A, const struct lines *B, struct ops *v)
{
	size_t p = 0, s = 0;
	while (p < A->n && p < B->n && line_eq(&A->l[p], &B->l[p]))
		p++;
	while (s < A->n - p && s < B->n - p && line_eq(&A->l[A->n - 1 - s], &B->l[B->n - 1 - s]))
		s++;
	for (size_t i = 0; i < p; i++)
		op_push(v, OP_EQ, i, i);
	for (size_t i = p; i < A->n - s; i++)
		op_push(v, OP_DEL, i, 0);
	for (size_t i = p; i < B->n - s; i++)
		op_push(v, OP_INS, 0, i);
	for (size_t i = 0; i < s; i++)
		op_push(v, OP_EQ, A->n - s + i, B->n - s + i);
}

/* Myers' O(ND) greedy algorithm, keeping V of every step (O(D^2) memory for D <= DIFF_MAX_D)
 * to walk the path back. Returns false when the distance exceeds DIFF_MAX_D. */
static bool myers(const struct lines *A, const struct lines *B, struct ops *v)
{
	ssize_t N = (ssize_t)A->n, M = (ssize_t)B->n;
	ssize_t max = N + M < DIFF_MAX_D ? N + M : DIFF_MAX_D;
	/* trace[d] is V before step d over k in [-d-1, d+1]: 2d+3 values from offset d*(d+2). */
	size_t tsize = (size_t)(max + 1) * (size_t)(max + 3);
	ssize_t *trace = xmalloc(tsize * sizeof(*trace));
	ssize_t *V = xcalloc((size_t)(2 * max + 3), sizeof(*V));
	ssize_t off = max + 1, D = -1;

	for (ssize_t d = 0; d <= max && D < 0; d++) {
		ssize_t *t = trace + d * (d + 2);
		for (ssize_t k = -d - 1; k <= d + 1; k++)
			t[k + d + 1] = V[k + off];
		for (ssize_t k = -d; k <= d; k += 2) {
			ssize_t x;
			if (k == -d || (k != d && V[k - 1 + off] < V[k + 1 + off]))
				x = V[k + 1 + off];
			else
				x = V[k - 1 + off] + 1;
			ssize_t y = x - k;
			while (x < N && y < M && line_eq(&A->l[x], &B->l[y])) {
				x++;
				y++;
			}
			V[k + off] = x;
			if (x >= N && y >= M) {
				D = d;
				break;
			}
		}
	}
	free(V);
	if (D < 0) {
		free(trace);
		return false;
	}
	/* Walk back from (N, M), collecting the script in reverse. */
	struct ops rev = { 0 };
	ssize_t x = N, y = M;
	for (ssize_t d = D; d >= 0; d--) {
		const ssize_t *t = trace + d * (d + 2);
		ssize_t k = x - y, pk;
		if (k == -d || (k != d && t[k - 1 + d + 1] < t[k + 1 + d + 1]))
			pk = k + 1;
		else
			pk = k - 1;
		ssize_t px = d > 0 ? t[pk + d + 1] : 0;
		ssize_t py = d > 0 ? px - pk : 0;
		while (x > px && y > py) {
			x--;
			y--;
			op_push(&rev, OP_EQ, (size_t)x, (size_t)y);
		}
		if (d > 0) {
			if (x == px)
				op_push(&rev, OP_INS, 0, (size_t)(y - 1));
			else
				op_push(&rev, OP_DEL, (size_t)(x - 1), 0);
		}
		x = px;
		y = py;
	}
	free(trace);
	for (size_t i = rev.n; i-- > 0;)
		op_push(v, rev.o[i].k, rev.o[i].a, rev.o[i].b);
	free(rev.o);
	return true;
}

struct out {
	struct buf *b;
	size_t limit;
	bool cut;
};

static void out_put(struct out *o, const char *p, size_t n)
{
	if (o->cut)
		return;
	if (buf_len(o->b) + n > o->limit || buf_append(o->b, p, n) < 0)
		o->cut = true;
}

static void out_line(struct out *o, char tag, const struct line *l)
{
	static const char nonl[] = "\n\\ No newline at end of file\n";
	out_put(o, &tag, 1);
	out_put(o, l->p, l->len);
	if (l->nl)
		out_put(o, "\n", 1);
	else
		out_put(o, nonl, sizeof(nonl) - 1);
}

static void out_range(struct out *o, char sign, size_t start, size_t count)
{
	char tmp[48];
	int n;
	/* An empty range names the line before it (start counts from 1). */
	if (count == 1)
		n = snprintf(tmp, sizeof(tmp), "%c%zu", sign, start + 1);
	else
		n = snprintf(tmp, sizeof(tmp), "%c%zu,%zu", sign, count ? start + 1 : start, count);
	out_put(o, tmp, (size_t)n);
}

static void emit_hunks(struct out *o, const struct ops *v, const struct lines *A,
		       const struct lines *B)
{
	size_t i = 0;
	while (i < v->n && !o->cut) {
		size_t c = i;
		while (c < v->n && v->o[c].k == OP_EQ)
			c++;
		if (c == v->n)
			break;
		size_t start = c >= i + DIFF_CONTEXT ? c - DIFF_CONTEXT : i;
		size_t last = c, j = c;
		while (j < v->n) {
			if (v->o[j].k != OP_EQ)
				last = j;
			else if (j - last > 2 * DIFF_CONTEXT)
				break;
			j++;
		}
		size_t end = last + 1 + DIFF_CONTEXT < v->n ? last + 1 + DIFF_CONTEXT : v->n;
		/* Line numbers where the hunk starts in a and b. */
		size_t as = 0, bs = 0, ac = 0, bc = 0;
		bool aset = false, bset = false;
		for (size_t k = start; k < end; k++) {
			const struct op *op = &v->o[k];
			if (op->k != OP_INS && !aset) {
				as = op->a;
				aset = true;
			}
			if (op->k != OP_DEL && !bset) {
				bs = op->b;
				bset = true;
			}
			ac += op->k != OP_INS;
			bc += op->k != OP_DEL;
		}
		if (!aset) /* only insertions: the position in a is after the lines before */
			for (size_t k = start; k-- > 0;)
				if (v->o[k].k != OP_INS) {
					as = v->o[k].a + 1;
					break;
				}
		if (!bset)
			for (size_t k = start; k-- > 0;)
				if (v->o[k].k != OP_DEL) {
					bs = v->o[k].b + 1;
					break;
				}
		out_put(o, "@@ ", 3);
		out_range(o, '-', as, ac);
		out_put(o, " ", 1);
		out_range(o, '+', bs, bc);
		out_put(o, " @@\n", 4);
		for (size_t k = start; k < end; k++) {
			const struct op *op = &v->o[k];
			if (op->k == OP_EQ)
				out_line(o, ' ', &A->l[op->a]);
			else if (op->k == OP_DEL)
				out_line(o, '-', &A->l[op->a]);
			else
				out_line(o, '+', &B->l[op->b]);
		}
		i = end;
	}
}

int vault_diff_text(const char *a, size_t alen, const char *b, size_t blen, const char *label,
		    size_t max_out, struct buf *out)
{
	static const char cut_note[] = "\\ diff truncated\n";
	struct lines A, B;
	struct ops v = { 0 };

	if (alen > DIFF_INPUT_MAX || blen > DIFF_INPUT_MAX)
		return -EFBIG;
	if (max_out < 256)
		return -EINVAL;
	buf_reset(out);
	if (alen == blen && memcmp(a, b, alen) == 0)
		return 0;
	split_lines(a, alen, &A);
	split_lines(b, blen, &B);
	if (!myers(&A, &B, &v)) {
		v.n = 0;
		replace_middle(&A, &B, &v);
	}
	struct out o = { .b = out, .limit = max_out - sizeof(cut_note) };
	out_put(&o, "--- ", 4);
	out_put(&o, label, strlen(label));
	out_put(&o, " (snapshot)\n+++ ", 16);
	out_put(&o, label, strlen(label));
	out_put(&o, "\n", 1);
	emit_hunks(&o, &v, &A, &B);
	if (o.cut)
		buf_append(out, cut_note, sizeof(cut_note) - 1);
	free(v.o);
	free(A.l);
	free(B.l);
	return 0;
}
