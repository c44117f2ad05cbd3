/* The agent's durable spool (see spool.h and docs/spool.md). */
#include "agent/spool.h"

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "proto/immune.pb-c.h"

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define SEG_MAGIC "IMSPOOL1"
#define SEG_HDR 16u /* magic[8], u32 version, u32 stream */
#define SEG_VERSION 1u
#define REC_HDR 32u /* u32 len, u32 crc32c, u64 seq, u32 kind, i64 time_ns, u32 encoding */
#define GAP_PAYLOAD_MAX 64u
#define GAP_REC_MAX (REC_HDR + GAP_PAYLOAD_MAX)
#define ZSTD_LEVEL 1
#define NAME_DIGITS 20
#define SEG_MIN_BYTES 256u
#define SEQ_MAX ((uint64_t)INT64_MAX) /* numbers above are refused: no wrap-around */

static const char *const stream_dirs[SPOOL_STREAMS] = { "events", "state", "alerts" };

enum seg_kind { SEG_OPEN, SEG_ZST };

/* One segment file in a stream's index. */
struct seg {
	uint64_t name;	/* file name: no record in it is numbered lower */
	uint64_t first; /* first and last record numbers (valid when count > 0) */
	uint64_t last;
	uint64_t count; /* records in it */
	int64_t tmin;	/* lowest and highest time_ns of its records */
	int64_t tmax;
	uint64_t bytes; /* size on disk */
	bool sealed;
};

/* A range of dropped numbers: count telemetry records with times in [tmin, tmax] (none
 * known when tmin > tmax). */
struct gap_acc {
	uint64_t first;
	uint64_t last;
	uint64_t count;
	int64_t tmin;
	int64_t tmax;
};

/* Dropped numbers not yet reported by gap records: disjoint ranges, sorted, each one gap
 * record when written. More than one range arises when a dropped segment held an older gap
 * record whose range is not next to the records dropped with it. */
#define GAP_SET_MAX 32
struct gap_set {
	struct gap_acc iv[GAP_SET_MAX];
	size_t n;
};

struct stream {
	uint32_t id;
	int dirfd;
	int fd;		  /* the open segment, O_APPEND */
	struct seg *segs; /* sorted by name; the last one is the open segment */
	size_t nsegs;
	size_t asegs;
	uint64_t next_seq;
	uint64_t acked;
	uint64_t pos; /* send position: next record handed out has seq >= pos */
	struct gap_set pending;
	/* where the last record handed out ended, to continue without rescanning */
	bool hint_valid;
	uint64_t hint_name;
	bool hint_sealed;
	size_t hint_off;
};

/* A buffer kept across calls: allocating and faulting in megabytes per segment costs more
 * than the work done in them. */
struct growbuf {
	unsigned char *p;
	size_t cap;
};

static unsigned char *gb_reserve(struct growbuf *gb, size_t n)
{
	if (gb->cap < n) {
		free(gb->p);
		gb->p = xmalloc(n);
		gb->cap = n;
	}
	return gb->p;
}

struct spool {
	uint64_t max_bytes;
	uint32_t segment_bytes;
	bool fsync_each;
	uint64_t total; /* bytes of all segment files */
	uint64_t dropped;
	uint64_t gaps;
	struct stream st[SPOOL_STREAMS];
	/* the decompressed sealed segment last read */
	struct growbuf cache;
	size_t cache_len;
	bool cache_valid;
	uint32_t cache_stream;
	uint64_t cache_name;
	/* a record read from an open segment */
	unsigned char *rbuf;
	/* a record being written */
	unsigned char *wbuf;
	/* scratch for sealing and dropping: a raw segment and a compressed one */
	struct growbuf raw;
	struct growbuf z;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8,
	0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3,
	0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070,
	0x25afd373, 0x36ff2087, 0xc494a384, 0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54,
	0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29,
	0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa, 0x30e349b1,
	0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
	0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696,
	0x6ef07595, 0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0,
	0x67dafa54, 0x95b17957, 0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c,
	0xfe53516f, 0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f, 0x3ac7f2eb,
	0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7, 0x61c69362, 0x93ad1061,
	0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789, 0xeb1fcbad,
	0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
	0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5,
	0xa55230e6, 0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67,
	0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043,
	0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c, 0x92a8fc17, 0x60c37f14, 0x73938ce0,
	0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db,
	0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6,
	0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81,
	0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5,
	0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19,
	0x0d3d3e1a, 0x1e6dcdee, 0xec064eed, 0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530,
	0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc,
	0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540, 0x590ab964,
	0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
	0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2,
	0x37faccf1, 0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9,
	0x4f48173d, 0xbd23943e, 0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a,
	0xc69f7b69, 0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
/* SSE 4.2's crc32 instruction computes the same CRC-32C, 8 bytes at a time. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p,
							    size_t n)
{
	uint64_t c = crc;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#endif

static uint32_t crc32c(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(~crc, data, n);
#endif
	return ~crc32c_sw(~crc, data, n);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, v >> 32);
	put_u32(p + 4, (uint32_t)v);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void seg_name(char *out, size_t n, uint64_t name, const char *suffix)
{
	snprintf(out, n, "%020llu%s", (unsigned long long)name, suffix);
}

static uint64_t seg_file_max(const struct spool *sp)
{
	uint64_t seg = sp->segment_bytes > SPOOL_DEFAULT_SEGMENT_BYTES
			       ? sp->segment_bytes
			       : SPOOL_DEFAULT_SEGMENT_BYTES;
	return seg + SPOOL_MAX_RECORD + REC_HDR + SEG_HDR;
}

/* ---- record parsing ---- */

struct rec_iter {
	struct cursor c;
	size_t len;	/* of the whole segment */
	uint64_t prev;	/* number of the previous record (0: none) */
	uint64_t floor; /* numbers must be >= floor */
};

enum {
	REC_END = 0,
	REC_OK = 1,
	REC_TORN = -1, /* the last record is incomplete */
	REC_BAD = -2,  /* a complete record that fails its checks */
};

static int seg_header_check(struct cursor *c, uint32_t stream)
{
	const void *magic;
	uint32_t version, id;

	if (cursor_get_bytes(c, 8, &magic) < 0 || cursor_get_u32be(c, &version) < 0 ||
	    cursor_get_u32be(c, &id) < 0)
		return REC_TORN;
	if (memcmp(magic, SEG_MAGIC, 8) != 0 || version != SEG_VERSION || id != stream)
		return REC_BAD;
	return 0;
}

static void rec_iter_init(struct rec_iter *it, const void *data, size_t len, uint64_t floor)
{
	cursor_init(&it->c, data, len);
	it->len = len;
	it->prev = 0;
	it->floor = floor;
}

static size_t rec_iter_offset(const struct rec_iter *it)
{
	return it->len - it->c.left;
}

/* Parses one record header from c (REC_HDR bytes) into rec, returning its crc. */
static int rec_parse_header(struct cursor *c, struct spool_record *rec, uint32_t *crc)
{
	uint32_t len, kind, enc;
	uint64_t seq, t;

	if (cursor_get_u32be(c, &len) < 0 || cursor_get_u32be(c, crc) < 0 ||
	    cursor_get_u64be(c, &seq) < 0 || cursor_get_u32be(c, &kind) < 0 ||
	    cursor_get_u64be(c, &t) < 0 || cursor_get_u32be(c, &enc) < 0)
		return REC_TORN;
	rec->seq = seq;
	rec->kind = kind;
	rec->time_ns = (int64_t)t;
	rec->encoding = enc;
	rec->len = len;
	rec->payload = NULL;
	return 0;
}

/* Returns REC_OK with rec pointing into the segment, REC_END at a clean end, REC_TORN or
 * REC_BAD; after an error the iterator stays at the start of the failing record. */
static int rec_iter_next(struct rec_iter *it, struct spool_record *rec)
{
	struct cursor save = it->c;
	const void *body, *payload;
	struct spool_record r;
	uint32_t crc;
	int k;

	if (it->c.left == 0)
		return REC_END;
	k = rec_parse_header(&it->c, &r, &crc);
	if (k < 0) {
		it->c = save;
		return k;
	}
	if (r.len > SPOOL_MAX_RECORD) {
		it->c = save;
		return REC_BAD;
	}
	if (cursor_get_bytes(&it->c, r.len, &payload) < 0) {
		it->c = save;
		return REC_TORN;
	}
	/* the CRC covers everything after itself: seq .. payload */
	cursor_init(&it->c, save.p, save.left);
	if (cursor_get_bytes(&it->c, 8, &body) < 0 ||
	    cursor_get_bytes(&it->c, REC_HDR - 8 + r.len, &body) < 0) {
		it->c = save;
		return REC_TORN;
	}
	if (crc32c(0, body, REC_HDR - 8 + r.len) != crc || r.seq == 0 || r.seq > SEQ_MAX ||
	    r.seq < it->floor || r.seq <= it->prev) {
		it->c = save;
		return REC_BAD;
	}
	it->prev = r.seq;
	r.payload = payload;
	*rec = r;
	return REC_OK;
}

/* Encodes a record into out (REC_HDR + len bytes). */
static void rec_encode(unsigned char *out, uint64_t seq, uint32_t kind, int64_t time_ns,
		       uint32_t encoding, const void *payload, size_t len)
{
	put_u32(out, (uint32_t)len);
	put_u64(out + 8, seq);
	put_u32(out + 16, kind);
	put_u64(out + 20, (uint64_t)time_ns);
	put_u32(out + 28, encoding);
	if (len)
		memcpy(out + REC_HDR, payload, len);
	put_u32(out + 4, crc32c(0, out + 8, REC_HDR - 8 + len));
}

static void seg_header_encode(unsigned char *out, uint32_t stream)
{
	memcpy(out, SEG_MAGIC, 8);
	put_u32(out + 8, SEG_VERSION);
	put_u32(out + 12, stream);
}

static void seg_add_record(struct seg *s, uint64_t seq, int64_t t)
{
	if (s->count == 0) {
		s->first = seq;
		s->tmin = s->tmax = t;
	}
	s->last = seq;
	if (t < s->tmin)
		s->tmin = t;
	if (t > s->tmax)
		s->tmax = t;
	s->count++;
}

/* ---- gaps ---- */

static void gap_merge(struct gap_acc *a, const struct gap_acc *b)
{
	if (b->first < a->first)
		a->first = b->first;
	if (b->last > a->last)
		a->last = b->last;
	a->count += b->count;
	if (b->tmin < a->tmin)
		a->tmin = b->tmin;
	if (b->tmax > a->tmax)
		a->tmax = b->tmax;
}

/* Adds [first, last] (count records, times when has_time) to g, joining the ranges it
 * touches. With too many ranges, the two closest are joined (over-reporting the numbers
 * between them, which stay readable). */
static void gap_add_range(struct gap_set *g, uint64_t first, uint64_t last, uint64_t count,
			  int64_t tmin, int64_t tmax, bool has_time)
{
	struct gap_acc a = { first, last, count, has_time ? tmin : INT64_MAX,
			     has_time ? tmax : INT64_MIN };
	size_t n = 0, at;

	for (size_t i = 0; i < g->n; i++) {
		const struct gap_acc *b = &g->iv[i];

		if (b->last + 1 >= a.first && a.last + 1 >= b->first)
			gap_merge(&a, b);
		else
			g->iv[n++] = *b;
	}
	g->n = n;
	if (g->n == GAP_SET_MAX) {
		size_t best = 0;

		for (size_t i = 1; i + 1 < g->n; i++)
			if (g->iv[i + 1].first - g->iv[i].last <
			    g->iv[best + 1].first - g->iv[best].last)
				best = i;
		gap_merge(&g->iv[best], &g->iv[best + 1]);
		memmove(&g->iv[best + 1], &g->iv[best + 2], (g->n - best - 2) * sizeof(g->iv[0]));
		g->n--;
		if (g->iv[best].last + 1 >= a.first && a.last + 1 >= g->iv[best].first) {
			gap_merge(&g->iv[best], &a);
			return;
		}
	}
	for (at = 0; at < g->n && g->iv[at].first < a.first; at++)
		;
	memmove(&g->iv[at + 1], &g->iv[at], (g->n - at) * sizeof(g->iv[0]));
	g->iv[at] = a;
	g->n++;
}

static uint64_t gap_last(const struct gap_set *g)
{
	return g->n ? g->iv[g->n - 1].last : 0;
}

/* Adds a dropped record to g; a dropped gap record adds the range it reported and counts
 * itself, so every number is either delivered or counted by exactly one delivered gap. */
static void gap_add_record(struct gap_set *g, const struct spool_record *r)
{
	if (r->kind == IMMUNE__V1__RECORD_KIND__RECORD_GAP) {
		Immune__V1__Gap *old = immune__v1__gap__unpack(NULL, r->len, r->payload);
		if (old && old->first_seq <= old->last_seq) {
			gap_add_range(g, old->first_seq, old->last_seq, old->count,
				      old->first_time_ns, old->last_time_ns,
				      old->first_time_ns <= old->last_time_ns);
			gap_add_range(g, r->seq, r->seq, 1, 0, 0, false);
			immune__v1__gap__free_unpacked(old, NULL);
			return;
		}
		if (old)
			immune__v1__gap__free_unpacked(old, NULL);
	}
	gap_add_range(g, r->seq, r->seq, 1, r->time_ns, r->time_ns, true);
}

static size_t gap_pack(const struct gap_acc *g, unsigned char *out)
{
	Immune__V1__Gap m = IMMUNE__V1__GAP__INIT;

	m.first_seq = g->first;
	m.last_seq = g->last;
	m.count = g->count;
	m.first_time_ns = g->tmin <= g->tmax ? g->tmin : 0;
	m.last_time_ns = g->tmin <= g->tmax ? g->tmax : 0;
	assert(immune__v1__gap__get_packed_size(&m) <= GAP_PAYLOAD_MAX);
	return immune__v1__gap__pack(&m, out);
}

/* ---- files ---- */

static int pread_all(int fd, void *p, size_t n, off_t off)
{
	unsigned char *b = p;

	while (n > 0) {
		ssize_t r = pread(fd, b, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EBADMSG;
		b += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* Replaces dirfd/name with data through name.tmp and rename(2); fsyncs when sync. */
static int write_atomic(int dirfd, const char *name, const void *data, size_t n, bool sync)
{
	char tmp[64];
	_cleanup_close_ int fd = -1;
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, data, n);
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (sync && fsync(dirfd) < 0)
		return -errno;
	return 0;
}

/* Reads a whole file of at most cap bytes into a new buffer. -EFBIG above cap. */
static int read_file_capped(int dirfd, const char *name, uint64_t cap, unsigned char **out,
			    size_t *len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat stb;
	unsigned char *p;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &stb) < 0)
		return -errno;
	if (stb.st_size < 0 || (uint64_t)stb.st_size > cap)
		return -EFBIG;
	p = xmalloc((size_t)stb.st_size);
	r = pread_all(fd, p, (size_t)stb.st_size, 0);
	if (r < 0) {
		free(p);
		return r;
	}
	*out = p;
	*len = (size_t)stb.st_size;
	return 0;
}

/* Reads NAME.zst and decompresses it into out (at most seg_file_max() bytes). */
static int read_sealed(struct spool *sp, struct stream *st, uint64_t name, struct growbuf *out,
		       size_t *len)
{
	_cleanup_close_ int fd = -1;
	uint64_t cap = seg_file_max(sp);
	unsigned long long size;
	struct stat stb;
	char fn[64];
	size_t r;
	int k;

	seg_name(fn, sizeof(fn), name, ".zst");
	fd = openat(st->dirfd, fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &stb) < 0)
		return -errno;
	if (stb.st_size <= 0 || (uint64_t)stb.st_size > ZSTD_compressBound(cap))
		return -EBADMSG;
	k = pread_all(fd, gb_reserve(&sp->z, (size_t)stb.st_size), (size_t)stb.st_size, 0);
	if (k < 0)
		return k;
	size = ZSTD_getFrameContentSize(sp->z.p, (size_t)stb.st_size);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > cap)
		return -EBADMSG;
	r = ZSTD_decompressDCtx(sp->dctx, gb_reserve(out, (size_t)size), (size_t)size, sp->z.p,
				(size_t)stb.st_size);
	if (ZSTD_isError(r) || r != size)
		return -EBADMSG;
	*len = (size_t)size;
	return 0;
}

/* ---- persisted numbers ---- */

static int save_acked(struct stream *st)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)st->acked);

	return write_atomic(st->dirfd, "acked", text, (size_t)n, false);
}

static void load_acked(struct stream *st)
{
	_cleanup_free_ unsigned char *data = NULL;
	char text[32];
	size_t len;
	uint64_t v;

	if (read_file_capped(st->dirfd, "acked", sizeof(text) - 1, &data, &len) < 0)
		return;
	memcpy(text, data, len);
	text[len] = '\0';
	if (parse_u64(str_trim(text), 10, SEQ_MAX, &v) == 0)
		st->acked = v;
}

/* The pending gaps are kept in "gap" until their records are written: for each range,
 * u32 length and the serialized Gap. */
#define GAP_FILE_MAX (GAP_SET_MAX * (4 + GAP_PAYLOAD_MAX))

static int save_pending(struct spool *sp, struct stream *st)
{
	unsigned char buf[GAP_FILE_MAX];
	size_t n = 0;

	if (st->pending.n == 0) {
		if (unlinkat(st->dirfd, "gap", 0) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	for (size_t i = 0; i < st->pending.n; i++) {
		size_t len = gap_pack(&st->pending.iv[i], buf + n + 4);

		put_u32(buf + n, (uint32_t)len);
		n += 4 + len;
	}
	return write_atomic(st->dirfd, "gap", buf, n, sp->fsync_each);
}

static void load_pending(struct stream *st)
{
	_cleanup_free_ unsigned char *data = NULL;
	struct cursor c;
	size_t len;

	if (read_file_capped(st->dirfd, "gap", GAP_FILE_MAX, &data, &len) < 0)
		return;
	cursor_init(&c, data, len);
	while (!cursor_done(&c)) {
		Immune__V1__Gap *g;
		const void *p;
		uint32_t n;

		if (cursor_get_u32be(&c, &n) < 0 || n > GAP_PAYLOAD_MAX ||
		    cursor_get_bytes(&c, n, &p) < 0)
			return;
		g = immune__v1__gap__unpack(NULL, n, p);
		if (!g)
			return;
		if (g->first_seq > 0 && g->first_seq <= g->last_seq && g->last_seq <= SEQ_MAX)
			gap_add_range(&st->pending, g->first_seq, g->last_seq, g->count,
				      g->first_time_ns, g->last_time_ns,
				      g->first_time_ns <= g->last_time_ns);
		immune__v1__gap__free_unpacked(g, NULL);
	}
}

/* ---- the index ---- */

static struct seg *seg_open(struct stream *st)
{
	assert(st->nsegs > 0 && !st->segs[st->nsegs - 1].sealed);
	return &st->segs[st->nsegs - 1];
}

static void seg_push(struct stream *st, const struct seg *s)
{
	if (st->nsegs == st->asegs) {
		st->asegs = st->asegs ? st->asegs * 2 : 16;
		st->segs = xrealloc(st->segs, st->asegs * sizeof(*st->segs));
	}
	st->segs[st->nsegs++] = *s;
}

static void forget_reads(struct spool *sp, struct stream *st, const struct seg *s)
{
	if (sp->cache_valid && sp->cache_stream == st->id && sp->cache_name == s->name)
		sp->cache_valid = false;
	if (st->hint_valid && st->hint_name == s->name)
		st->hint_valid = false;
}

static void seg_remove_first(struct spool *sp, struct stream *st)
{
	forget_reads(sp, st, &st->segs[0]);
	sp->total -= st->segs[0].bytes;
	memmove(st->segs, st->segs + 1, (st->nsegs - 1) * sizeof(*st->segs));
	st->nsegs--;
}

/* Creates the open segment named name and appends it to the index. */
static int create_open(struct spool *sp, struct stream *st, uint64_t name, bool sync)
{
	unsigned char hdr[SEG_HDR];
	char fn[64];
	int fd, r;

	seg_name(fn, sizeof(fn), name, ".open");
	fd = openat(st->dirfd, fn, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	seg_header_encode(hdr, st->id);
	r = fd_write_all(fd, hdr, sizeof(hdr));
	if (r == 0 && sync && (fsync(fd) < 0 || fsync(st->dirfd) < 0))
		r = -errno;
	if (r < 0) {
		close(fd);
		unlinkat(st->dirfd, fn, 0);
		return r;
	}
	st->fd = fd;
	seg_push(st, &(struct seg){ .name = name, .bytes = SEG_HDR });
	sp->total += SEG_HDR;
	return 0;
}

/* Compresses raw segment bytes into NAME.zst (tmp, fsync, rename, fsync dir). */
static int write_sealed(struct spool *sp, struct stream *st, uint64_t name, const void *raw,
			size_t n, uint64_t *zbytes)
{
	size_t bound = ZSTD_compressBound(n);
	size_t zn =
		ZSTD_compressCCtx(sp->cctx, gb_reserve(&sp->z, bound), bound, raw, n, ZSTD_LEVEL);
	char fn[64];
	int r;

	if (ZSTD_isError(zn))
		return -EIO;
	seg_name(fn, sizeof(fn), name, ".zst");
	r = write_atomic(st->dirfd, fn, sp->z.p, zn, true);
	if (r < 0)
		return r;
	*zbytes = zn;
	return 0;
}

/* Seals the open segment and starts a new one at next_seq. */
static int seal_open(struct spool *sp, struct stream *st)
{
	struct seg *s = seg_open(st);
	unsigned char *raw;
	uint64_t name = s->name, rawbytes = s->bytes, zbytes;
	int old_fd = st->fd;
	char fn[64];
	int r;

	if (s->count == 0)
		return 0;
	raw = gb_reserve(&sp->raw, (size_t)rawbytes);
	r = pread_all(st->fd, raw, (size_t)rawbytes, 0);
	if (r < 0)
		return r;
	r = write_sealed(sp, st, name, raw, (size_t)rawbytes, &zbytes);
	if (r < 0)
		return r;
	s->sealed = true;
	s->bytes = zbytes;
	sp->total = sp->total - rawbytes + zbytes;
	r = create_open(sp, st, st->next_seq, true);
	if (r < 0) {
		/* keep appending to the raw segment; the seal is retried later */
		s = &st->segs[st->nsegs - 1];
		s->sealed = false;
		s->bytes = rawbytes;
		sp->total = sp->total - zbytes + rawbytes;
		seg_name(fn, sizeof(fn), name, ".zst");
		unlinkat(st->dirfd, fn, 0);
		return r;
	}
	seg_name(fn, sizeof(fn), name, ".open");
	unlinkat(st->dirfd, fn, 0);
	close(old_fd);
	/* a sealed segment decompresses to the same bytes: the send hint stays valid */
	if (st->hint_valid && st->hint_name == name)
		st->hint_sealed = true;
	return 0;
}

/* Appends one record to the open segment with a single write(2), sealing it when full. */
static int write_record(struct spool *sp, struct stream *st, uint32_t kind, int64_t time_ns,
			uint32_t encoding, const void *payload, size_t len, uint64_t *seq)
{
	struct seg *s = seg_open(st);
	uint64_t n = REC_HDR + len, at = st->next_seq;
	int r;

	rec_encode(sp->wbuf, at, kind, time_ns, encoding, payload, len);
	r = fd_write_all(st->fd, sp->wbuf, (size_t)n);
	if (r == 0 && sp->fsync_each && fsync(st->fd) < 0)
		r = -errno;
	if (r < 0) {
		/* leave no partial record behind */
		if (ftruncate(st->fd, (off_t)s->bytes) < 0)
			return -EIO;
		return -EIO;
	}
	seg_add_record(s, at, time_ns);
	s->bytes += n;
	sp->total += n;
	st->next_seq++;
	if (s->bytes >= sp->segment_bytes)
		(void)seal_open(sp, st); /* on failure the record stays in the raw segment */
	*seq = at;
	return 0;
}

/* ---- dropping telemetry ---- */

/* Adds the records above acked in data (a whole segment) to the pending gap; returns how
 * many telemetry records that were, or -EBADMSG when the segment does not parse. */
static int account_records(struct stream *st, const unsigned char *data, size_t len, uint64_t *n)
{
	struct spool_record r;
	struct rec_iter it;
	struct cursor c;
	int k;

	cursor_init(&c, data, len);
	if (seg_header_check(&c, st->id) < 0)
		return -EBADMSG;
	rec_iter_init(&it, c.p, c.left, 0);
	*n = 0;
	while ((k = rec_iter_next(&it, &r)) == REC_OK) {
		if (r.seq <= st->acked)
			continue;
		if (r.kind != IMMUNE__V1__RECORD_KIND__RECORD_GAP)
			(*n)++;
		gap_add_record(&st->pending, &r);
	}
	return k == REC_END ? 0 : -EBADMSG;
}

static void account_summary(struct stream *st, const struct seg *s, uint64_t *n)
{
	uint64_t first = s->first > st->acked ? s->first : st->acked + 1;

	*n = 0;
	if (s->count == 0 || first > s->last)
		return;
	*n = s->count < s->last - first + 1 ? s->count : s->last - first + 1;
	gap_add_range(&st->pending, first, s->last, *n, s->tmin, s->tmax, true);
}

/* Drops the oldest events segment (or the open segment's records when it is the only one),
 * folding what it held into the pending gap. Returns -ENOSPC when nothing is left. */
static int drop_oldest_events(struct spool *sp)
{
	struct stream *ev = &sp->st[IMMUNE__V1__STREAM__STREAM_EVENTS];
	struct gap_set before = ev->pending;
	struct seg *s = &ev->segs[0];
	uint64_t n = 0;
	size_t len;
	char fn[64];
	int r;

	if (ev->nsegs > 1) {
		if (read_sealed(sp, ev, s->name, &sp->raw, &len) < 0 ||
		    account_records(ev, sp->raw.p, len, &n) < 0) {
			ev->pending = before;
			account_summary(ev, s, &n);
		}
		r = save_pending(sp, ev);
		if (r < 0) {
			ev->pending = before;
			return r;
		}
		seg_name(fn, sizeof(fn), s->name, ".zst");
		if (unlinkat(ev->dirfd, fn, 0) < 0 && errno != ENOENT) {
			r = -errno;
			ev->pending = before;
			(void)save_pending(sp, ev);
			return r;
		}
		seg_remove_first(sp, ev);
		sp->dropped += n;
		return 0;
	}
	s = seg_open(ev);
	if (s->count == 0)
		return -ENOSPC;
	if (pread_all(ev->fd, gb_reserve(&sp->raw, (size_t)s->bytes), (size_t)s->bytes, 0) < 0 ||
	    account_records(ev, sp->raw.p, (size_t)s->bytes, &n) < 0) {
		ev->pending = before;
		account_summary(ev, s, &n);
	}
	r = save_pending(sp, ev);
	if (r < 0) {
		ev->pending = before;
		return r;
	}
	if (ftruncate(ev->fd, SEG_HDR) < 0) {
		r = -errno;
		ev->pending = before;
		(void)save_pending(sp, ev);
		return r;
	}
	forget_reads(sp, ev, s);
	sp->total -= s->bytes - SEG_HDR;
	*s = (struct seg){ .name = s->name, .bytes = SEG_HDR };
	sp->dropped += n;
	return 0;
}

/* What appending r bytes to a segment of *size bytes adds on disk, sealing included. */
static uint64_t sim_append(const struct spool *sp, uint64_t *size, uint64_t r)
{
	uint64_t extra = r;

	*size += r;
	if (*size >= sp->segment_bytes) {
		extra += ZSTD_compressBound((size_t)*size) - *size + SEG_HDR;
		*size = SEG_HDR;
	}
	return extra;
}

/* Bytes that writing the pending gaps and then recsz bytes to stream s would add. With
 * events_emptied, as if every events record were dropped (leaving a pending gap). */
static uint64_t plan_cost(const struct spool *sp, uint32_t s, uint64_t recsz, bool events_emptied)
{
	uint64_t size[SPOOL_STREAMS], c = 0;

	for (uint32_t t = 0; t < SPOOL_STREAMS; t++) {
		const struct stream *st = &sp->st[t];
		size_t gaps = st->pending.n;

		size[t] = st->segs[st->nsegs - 1].bytes;
		if (t == IMMUNE__V1__STREAM__STREAM_EVENTS && events_emptied) {
			size[t] = SEG_HDR;
			gaps++;
		}
		for (size_t i = 0; i < gaps; i++)
			c += sim_append(sp, &size[t], GAP_REC_MAX);
	}
	if (recsz)
		c += sim_append(sp, &size[s], recsz);
	return c;
}

static uint64_t events_droppable(const struct spool *sp)
{
	const struct stream *ev = &sp->st[IMMUNE__V1__STREAM__STREAM_EVENTS];
	uint64_t n = 0;

	for (size_t i = 0; i + 1 < ev->nsegs; i++)
		n += ev->segs[i].bytes;
	return n + ev->segs[ev->nsegs - 1].bytes - SEG_HDR;
}

/* Writes each stream's pending gap records. The caller checked that they fit. */
static int flush_pending(struct spool *sp)
{
	for (uint32_t t = 0; t < SPOOL_STREAMS; t++) {
		struct stream *st = &sp->st[t];
		int r = 0;

		if (st->pending.n == 0)
			continue;
		while (st->pending.n > 0) {
			unsigned char payload[GAP_PAYLOAD_MAX];
			size_t n = gap_pack(&st->pending.iv[0], payload);
			uint64_t seq;

			r = write_record(sp, st, IMMUNE__V1__RECORD_KIND__RECORD_GAP, now_ns(),
					 IMMUNE__V1__ENCODING__ENCODING_RAW, payload, n, &seq);
			if (r < 0)
				break;
			st->pending.n--;
			memmove(&st->pending.iv[0], &st->pending.iv[1],
				st->pending.n * sizeof(st->pending.iv[0]));
			sp->gaps++;
		}
		if (save_pending(sp, st) < 0 && r == 0)
			r = -EIO;
		if (r < 0)
			return r;
	}
	return 0;
}

static bool any_pending(const struct spool *sp)
{
	for (uint32_t t = 0; t < SPOOL_STREAMS; t++)
		if (sp->st[t].pending.n)
			return true;
	return false;
}

/* Writes pending gap records when they fit without dropping anything. */
static int try_flush(struct spool *sp)
{
	if (!any_pending(sp) || sp->total + plan_cost(sp, 0, 0, false) > sp->max_bytes)
		return 0;
	return flush_pending(sp);
}

/* Makes room for recsz bytes on stream s (dropping old telemetry), then writes the pending
 * gap records. -ENOSPC when it cannot fit even with every events record dropped. */
static int make_room(struct spool *sp, uint32_t s, uint64_t recsz)
{
	bool checked = false;
	int r;

	while (sp->total + plan_cost(sp, s, recsz, false) > sp->max_bytes) {
		if (!checked) {
			uint64_t rest = sp->total - events_droppable(sp);
			if (rest + plan_cost(sp, s, recsz, true) > sp->max_bytes)
				return -ENOSPC;
			checked = true;
		}
		r = drop_oldest_events(sp);
		if (r < 0)
			return r;
	}
	return flush_pending(sp);
}

/* ---- public: writing ---- */

int spool_append(struct spool *sp, uint32_t stream, uint32_t kind, int64_t time_ns,
		 uint32_t encoding, const void *payload, size_t len, uint64_t *seq)
{
	struct stream *st;
	uint64_t at;
	int r;

	if (stream >= SPOOL_STREAMS || (!payload && len))
		return -EINVAL;
	if (len > SPOOL_MAX_RECORD)
		return -EMSGSIZE;
	st = &sp->st[stream];
	if (seg_open(st)->bytes >= sp->segment_bytes)
		(void)seal_open(sp, st); /* an earlier seal failed: retry */
	r = make_room(sp, stream, REC_HDR + len);
	if (r == -ENOSPC && stream == IMMUNE__V1__STREAM__STREAM_EVENTS) {
		/* no room even without older telemetry: this record is the one dropped */
		struct gap_set before = st->pending;

		at = st->next_seq;
		gap_add_range(&st->pending, at, at, 1, time_ns, time_ns, true);
		r = save_pending(sp, st);
		if (r < 0) {
			st->pending = before;
			return r;
		}
		st->next_seq++;
		sp->dropped++;
		*seq = at;
		return 0;
	}
	if (r < 0)
		return r;
	return write_record(sp, st, kind, time_ns, encoding, payload, len, seq);
}

int spool_sync(struct spool *sp)
{
	for (uint32_t t = 0; t < SPOOL_STREAMS; t++)
		if (fsync(sp->st[t].fd) < 0)
			return -errno;
	return 0;
}

/* ---- public: sending ---- */

static int next_sealed(struct spool *sp, struct stream *st, const struct seg *s, size_t off,
		       struct spool_record *rec, size_t *end)
{
	struct spool_record r;
	struct rec_iter it;
	int k;

	if (!(sp->cache_valid && sp->cache_stream == st->id && sp->cache_name == s->name)) {
		size_t len;

		sp->cache_valid = false;
		k = read_sealed(sp, st, s->name, &sp->cache, &len);
		if (k < 0)
			return -EIO;
		sp->cache_len = len;
		sp->cache_valid = true;
		sp->cache_stream = st->id;
		sp->cache_name = s->name;
	}
	if (off < SEG_HDR || off > sp->cache_len)
		off = SEG_HDR;
	if (sp->cache_len < SEG_HDR)
		return -EIO;
	rec_iter_init(&it, sp->cache.p + off, sp->cache_len - off, 0);
	while ((k = rec_iter_next(&it, &r)) == REC_OK) {
		if (r.seq >= st->pos) {
			*rec = r;
			*end = off + rec_iter_offset(&it);
			return 1;
		}
	}
	return -EIO;
}

static int next_open(struct spool *sp, struct stream *st, const struct seg *s, size_t off,
		     struct spool_record *rec, size_t *end)
{
	unsigned char hdr[REC_HDR];
	struct spool_record r;
	struct rec_iter it;
	struct cursor c;
	uint32_t crc;
	int k;

	if (off < SEG_HDR || off > s->bytes)
		off = SEG_HDR;
	for (;;) {
		if (off + REC_HDR > s->bytes || pread_all(st->fd, hdr, REC_HDR, (off_t)off) < 0)
			return -EIO;
		cursor_init(&c, hdr, sizeof(hdr));
		if (rec_parse_header(&c, &r, &crc) < 0 || r.len > SPOOL_MAX_RECORD ||
		    off + REC_HDR + r.len > s->bytes)
			return -EIO;
		if (r.seq >= st->pos)
			break;
		off += REC_HDR + r.len;
	}
	if (pread_all(st->fd, sp->rbuf, REC_HDR + r.len, (off_t)off) < 0)
		return -EIO;
	rec_iter_init(&it, sp->rbuf, REC_HDR + r.len, 0);
	k = rec_iter_next(&it, &r);
	if (k != REC_OK)
		return -EIO;
	*rec = r;
	*end = off + REC_HDR + r.len;
	return 1;
}

int spool_next(struct spool *sp, uint32_t stream, struct spool_record *rec)
{
	struct stream *st;
	const struct seg *s = NULL;
	size_t off = SEG_HDR, end;
	int r;

	if (stream >= SPOOL_STREAMS)
		return -EINVAL;
	st = &sp->st[stream];
	for (size_t i = 0; i < st->nsegs; i++) {
		if (st->segs[i].count && st->segs[i].last >= st->pos) {
			s = &st->segs[i];
			break;
		}
	}
	if (!s)
		return 0;
	if (st->hint_valid && st->hint_name == s->name && st->hint_sealed == s->sealed)
		off = st->hint_off;
	r = s->sealed ? next_sealed(sp, st, s, off, rec, &end)
		      : next_open(sp, st, s, off, rec, &end);
	if (r < 0) {
		st->hint_valid = false;
		return r;
	}
	st->pos = rec->seq + 1;
	st->hint_valid = true;
	st->hint_name = s->name;
	st->hint_sealed = s->sealed;
	st->hint_off = end;
	return 1;
}

void spool_rewind(struct spool *sp, uint32_t stream)
{
	if (stream >= SPOOL_STREAMS)
		return;
	sp->st[stream].pos = sp->st[stream].acked + 1;
	sp->st[stream].hint_valid = false;
}

/* Deletes the segments wholly at or below acked; empties the open one if it is. */
static int delete_acked(struct spool *sp, struct stream *st)
{
	struct seg *s;
	char fn[64], to[64];

	while (st->nsegs > 1 && st->segs[0].last <= st->acked) {
		seg_name(fn, sizeof(fn), st->segs[0].name, ".zst");
		if (unlinkat(st->dirfd, fn, 0) < 0 && errno != ENOENT)
			return -errno;
		seg_remove_first(sp, st);
	}
	s = seg_open(st);
	if (s->count == 0 || s->last > st->acked)
		return 0;
	if (ftruncate(st->fd, SEG_HDR) < 0)
		return -errno;
	forget_reads(sp, st, s);
	sp->total -= s->bytes - SEG_HDR;
	seg_name(fn, sizeof(fn), s->name, ".open");
	seg_name(to, sizeof(to), st->next_seq, ".open");
	*s = (struct seg){ .name = s->name, .bytes = SEG_HDR };
	if (renameat(st->dirfd, fn, st->dirfd, to) == 0)
		s->name = st->next_seq;
	return 0;
}

int spool_ack(struct spool *sp, uint32_t stream, uint64_t committed_seq)
{
	struct stream *st;
	int r;

	if (stream >= SPOOL_STREAMS || committed_seq >= SEQ_MAX)
		return -EINVAL;
	st = &sp->st[stream];
	if (committed_seq > st->acked) {
		uint64_t old = st->acked;

		st->acked = committed_seq;
		r = save_acked(st);
		if (r < 0) {
			st->acked = old;
			return r;
		}
	}
	if (committed_seq >= st->next_seq)
		st->next_seq = committed_seq + 1;
	if (st->pos <= st->acked) {
		st->pos = st->acked + 1;
		st->hint_valid = false;
	}
	r = delete_acked(sp, st);
	if (r < 0)
		return r;
	return try_flush(sp);
}

void spool_get_stats(const struct spool *sp, struct spool_stats *out)
{
	struct spool_stats s = { .bytes = sp->total, .dropped = sp->dropped, .gaps = sp->gaps };

	for (uint32_t t = 0; t < SPOOL_STREAMS; t++) {
		const struct stream *st = &sp->st[t];

		s.next_seq[t] = st->next_seq;
		s.acked[t] = st->acked;
		for (size_t i = 0; i < st->nsegs; i++) {
			const struct seg *g = &st->segs[i];

			if (g->count == 0 || g->last <= st->acked)
				continue;
			if (g->first > st->acked)
				s.records += g->count;
			else
				s.records += g->count < g->last - st->acked ? g->count
									    : g->last - st->acked;
		}
	}
	*out = s;
}

/* ---- public: opening and recovery ---- */

struct entry {
	uint64_t name;
	bool zst;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	return (int)y->zst - (int)x->zst; /* .zst before .open */
}

/* Parses "NNNNNNNNNNNNNNNNNNNN.open" or ".zst"; returns 1 for a segment name. */
static int parse_seg_name(const char *fn, struct entry *e)
{
	char digits[NAME_DIGITS + 1];
	const char *suffix = fn + NAME_DIGITS;

	if (strnlen(fn, NAME_DIGITS + 8) < NAME_DIGITS + 4)
		return 0;
	for (int i = 0; i < NAME_DIGITS; i++)
		if (fn[i] < '0' || fn[i] > '9')
			return 0;
	if (strcmp(suffix, ".open") == 0)
		e->zst = false;
	else if (strcmp(suffix, ".zst") == 0)
		e->zst = true;
	else
		return 0;
	memcpy(digits, fn, NAME_DIGITS);
	digits[NAME_DIGITS] = '\0';
	if (parse_u64(digits, 10, SEQ_MAX, &e->name) < 0 || e->name == 0)
		return 0;
	return 1;
}

/* Lists the stream's segment files sorted by name; removes leftover ".tmp" files. */
static int list_segments(struct stream *st, struct entry **out, size_t *n)
{
	int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct entry *v = NULL;
	size_t len = 0, alloc = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct entry e;

		if (str_has_suffix(de->d_name, ".tmp")) {
			unlinkat(st->dirfd, de->d_name, 0);
			continue;
		}
		if (parse_seg_name(de->d_name, &e) != 1)
			continue;
		if (len == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		v[len++] = e;
	}
	closedir(d);
	sort_array(v, len, sizeof(*v), entry_cmp);
	*out = v;
	*n = len;
	return 0;
}

/* Records lost to corruption: [first, first + n - 1] goes into the pending gap. */
static void lose_range(struct spool *sp, struct stream *st, uint64_t first, uint64_t n)
{
	if (n == 0)
		return;
	gap_add_range(&st->pending, first, first + n - 1, n, 0, 0, false);
	sp->dropped += n;
}

static void set_aside(struct stream *st, uint64_t name, const char *suffix)
{
	char fn[64], bad[64];

	seg_name(fn, sizeof(fn), name, suffix);
	seg_name(bad, sizeof(bad), name, ".bad");
	if (renameat(st->dirfd, fn, st->dirfd, bad) < 0)
		unlinkat(st->dirfd, fn, 0);
}

/* Parses a whole segment into s. Returns REC_END when all of it is valid, else the error
 * with *valid the length of the valid prefix. */
static int scan_segment(struct stream *st, const unsigned char *data, size_t len, uint64_t floor,
			struct seg *s, size_t *valid)
{
	struct spool_record r;
	struct rec_iter it;
	struct cursor c;
	int k;

	*valid = 0;
	cursor_init(&c, data, len);
	k = seg_header_check(&c, st->id);
	if (k < 0)
		return k;
	rec_iter_init(&it, c.p, c.left, floor);
	*valid = SEG_HDR;
	while ((k = rec_iter_next(&it, &r)) == REC_OK) {
		seg_add_record(s, r.seq, r.time_ns);
		*valid = SEG_HDR + rec_iter_offset(&it);
	}
	return k;
}

static void recover_sealed(struct spool *sp, struct stream *st, const struct entry *e,
			   uint64_t floor, uint64_t upper)
{
	struct seg s = { .name = e->name, .sealed = true };
	char fn[64];
	struct stat stb;
	size_t len, valid;

	seg_name(fn, sizeof(fn), e->name, ".zst");
	if (read_sealed(sp, st, e->name, &sp->raw, &len) < 0 ||
	    scan_segment(st, sp->raw.p, len, floor, &s, &valid) != REC_END || s.count == 0 ||
	    fstatat(st->dirfd, fn, &stb, 0) < 0) {
		/* the numbers it held are unknown: up to the next segment's name */
		set_aside(st, e->name, ".zst");
		lose_range(sp, st, floor, upper >= floor ? upper - floor + 1 : 1);
		return;
	}
	s.bytes = (uint64_t)stb.st_size;
	sp->total += s.bytes;
	seg_push(st, &s);
}

/* Recovers a raw segment: cuts a torn or corrupt tail. The last one becomes the open
 * segment; an earlier one (a seal interrupted before its rename) is sealed now. */
static int recover_raw(struct spool *sp, struct stream *st, const struct entry *e, uint64_t floor,
		       bool last)
{
	_cleanup_free_ unsigned char *data = NULL;
	struct seg s = { .name = e->name };
	char fn[64];
	size_t len, valid;
	int k, r, fd;

	seg_name(fn, sizeof(fn), e->name, ".open");
	r = read_file_capped(st->dirfd, fn, seg_file_max(sp) + sp->max_bytes, &data, &len);
	if (r < 0) {
		set_aside(st, e->name, ".open");
		lose_range(sp, st, floor, 1);
		return 0;
	}
	k = scan_segment(st, data, len, floor, &s, &valid);
	if (k == REC_BAD && valid == 0) {
		/* not a segment of this stream at all */
		set_aside(st, e->name, ".open");
		lose_range(sp, st, floor, len / REC_HDR ? len / REC_HDR : 1);
		return 0;
	}
	if (k == REC_BAD) /* unknown numbers after the last good one: bounded by the size */
		lose_range(sp, st, s.count ? s.last + 1 : floor, (len - valid) / REC_HDR);
	if (!last) {
		uint64_t zbytes;

		if (s.count > 0) {
			r = write_sealed(sp, st, e->name, data, valid, &zbytes);
			if (r < 0)
				return r;
			s.sealed = true;
			s.bytes = zbytes;
			sp->total += zbytes;
			seg_push(st, &s);
		}
		unlinkat(st->dirfd, fn, 0);
		return 0;
	}
	fd = openat(st->dirfd, fn, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (valid < SEG_HDR) {
		/* created but its header never fully written */
		unsigned char hdr[SEG_HDR];

		seg_header_encode(hdr, st->id);
		if (ftruncate(fd, 0) < 0 || fd_write_all(fd, hdr, SEG_HDR) < 0) {
			close(fd);
			return -EIO;
		}
		valid = SEG_HDR;
	} else if (valid < len && ftruncate(fd, (off_t)valid) < 0) {
		close(fd);
		return -errno;
	}
	st->fd = fd;
	s.bytes = valid;
	sp->total += s.bytes;
	seg_push(st, &s);
	return 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int open_stream(struct spool *sp, int topfd, uint32_t id)
{
	struct stream *st = &sp->st[id];
	_cleanup_free_ struct entry *v = NULL;
	size_t n = 0;
	uint64_t floor;
	int r;

	if (mkdirat(topfd, stream_dirs[id], 0700) < 0 && errno != EEXIST)
		return -errno;
	st->dirfd = openat(topfd, stream_dirs[id], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0)
		return -errno;
	load_acked(st);
	load_pending(st);
	r = list_segments(st, &v, &n);
	if (r < 0)
		return r;
	/* a seal that renamed its .zst but did not remove the raw file: the .zst wins */
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (j > 0 && v[i].name == v[j - 1].name) {
			char fn[64];

			seg_name(fn, sizeof(fn), v[i].name, ".open");
			unlinkat(st->dirfd, fn, 0);
			continue;
		}
		v[j++] = v[i];
	}
	n = j;
	floor = 1;
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		uint64_t upper = last ? 0 : v[i + 1].name - 1;

		floor = max_u64(floor, v[i].name);
		if (st->nsegs && st->segs[st->nsegs - 1].count)
			floor = max_u64(floor, st->segs[st->nsegs - 1].last + 1);
		if (v[i].zst) {
			recover_sealed(sp, st, &v[i], floor, last ? floor : upper);
		} else {
			r = recover_raw(sp, st, &v[i], floor, last);
			if (r < 0)
				return r;
		}
	}
	st->next_seq = max_u64(1, st->acked + 1);
	st->next_seq = max_u64(st->next_seq, floor);
	st->next_seq = max_u64(st->next_seq, gap_last(&st->pending) + 1);
	if (st->nsegs && st->segs[st->nsegs - 1].count)
		st->next_seq = max_u64(st->next_seq, st->segs[st->nsegs - 1].last + 1);
	if (st->nsegs == 0 || st->segs[st->nsegs - 1].sealed) {
		r = create_open(sp, st, st->next_seq, true);
		if (r < 0)
			return r;
	}
	st->pos = st->acked + 1;
	return save_pending(sp, st);
}

int spool_open(const char *dir, const struct spool_options *opt, struct spool **out)
{
	struct spool *sp;
	int topfd, r = 0;

	if (!dir)
		return -EINVAL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	topfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (topfd < 0)
		return -errno;
	sp = xcalloc(1, sizeof(*sp));
	sp->max_bytes = opt && opt->max_bytes ? opt->max_bytes : SPOOL_DEFAULT_MAX_BYTES;
	sp->segment_bytes =
		opt && opt->segment_bytes ? opt->segment_bytes : SPOOL_DEFAULT_SEGMENT_BYTES;
	if (sp->segment_bytes < SEG_MIN_BYTES)
		sp->segment_bytes = SEG_MIN_BYTES;
	sp->fsync_each = opt && opt->fsync_each;
	sp->rbuf = xmalloc(REC_HDR + SPOOL_MAX_RECORD);
	sp->wbuf = xmalloc(REC_HDR + SPOOL_MAX_RECORD);
	for (uint32_t t = 0; t < SPOOL_STREAMS; t++) {
		sp->st[t].id = t;
		sp->st[t].dirfd = -1;
		sp->st[t].fd = -1;
	}
	sp->cctx = ZSTD_createCCtx();
	sp->dctx = ZSTD_createDCtx();
	if (!sp->cctx || !sp->dctx) {
		spool_close(sp);
		close(topfd);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < SPOOL_STREAMS && r == 0; t++)
		r = open_stream(sp, topfd, t);
	close(topfd);
	for (uint32_t t = 0; t < SPOOL_STREAMS && r == 0; t++)
		r = delete_acked(sp, &sp->st[t]);
	/* a lowered max_bytes: shed telemetry down to the bound */
	while (r == 0 && sp->total > sp->max_bytes && drop_oldest_events(sp) == 0)
		;
	if (r == 0)
		r = try_flush(sp);
	if (r < 0) {
		spool_close(sp);
		return r;
	}
	*out = sp;
	return 0;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	for (uint32_t t = 0; t < SPOOL_STREAMS; t++) {
		if (sp->st[t].fd >= 0)
			close(sp->st[t].fd);
		if (sp->st[t].dirfd >= 0)
			close(sp->st[t].dirfd);
		free(sp->st[t].segs);
	}
	free(sp->cache.p);
	free(sp->raw.p);
	free(sp->z.p);
	ZSTD_freeCCtx(sp->cctx);
	ZSTD_freeDCtx(sp->dctx);
	free(sp->rbuf);
	free(sp->wbuf);
	free(sp);
}
