/* Unit tests for fim_scan: the hash database (round trip, damaged files refused), hashing,
 * the walk, the comparison with the database (create, modify, attr, delete), several threads
 * and the CPU budget giving the same result, and stopping a scan. */
#include "unit.h"

#include "detect/fim_scan.h"
#include "lib/fileio.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

/* SHA-256("abc") */
static const char sha_abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/test_fim_scan.XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void remove_dir(char *d)
{
	assert_int_equal(nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(d);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0644), 0);
}

static void hex_of(const struct fim_entry *e, char hex[65])
{
	fim_sha256_hex(e->sha256, hex);
}

static struct fim_entry entry(const char *path, uint8_t fill)
{
	struct fim_entry e = { .path = path,
			       .size = 3,
			       .mtime_ns = 42,
			       .mode = 0100644,
			       .uid = 1,
			       .gid = 2,
			       .flags = FIM_F_HASHED };
	memset(e.sha256, fill, sizeof(e.sha256));
	return e;
}

static void test_db_roundtrip(void **state)
{
	char *d = make_dir();
	_cleanup_free_ char *path = xasprintf("%s/fim.db", d);
	struct fim_db *db = fim_db_new();
	struct fim_entry e = entry("/etc/passwd", 7), got;

	assert_int_equal(fim_db_put(db, &e), 0);
	e = entry("/etc/shadow", 9);
	e.mode = 0100640;
	assert_int_equal(fim_db_put(db, &e), 0);
	e = entry("relative", 1);
	assert_int_equal(fim_db_put(db, &e), -EINVAL);
	for (int i = 0; i < 3000; i++) { /* grows the table */
		char p[64];
		snprintf(p, sizeof(p), "/x/%d", i);
		e = entry(p, (uint8_t)i);
		assert_int_equal(fim_db_put(db, &e), 0);
	}
	assert_int_equal(fim_db_remove(db, "/x/5"), 0);
	assert_int_equal(fim_db_remove(db, "/x/5"), -ENOENT);
	assert_int_equal(fim_db_count(db), 3001);
	assert_int_equal(fim_db_save(db, path), 0);
	fim_db_free(db);

	db = fim_db_new();
	assert_int_equal(fim_db_load(db, path), 0);
	assert_int_equal(fim_db_count(db), 3001);
	assert_int_equal(fim_db_get(db, "/etc/shadow", &got), 0);
	assert_int_equal(got.mode, 0100640);
	assert_int_equal(got.uid, 1);
	assert_int_equal(got.gid, 2);
	assert_int_equal(got.mtime_ns, 42);
	assert_int_equal(got.sha256[0], 9);
	assert_int_equal(fim_db_get(db, "/x/2999", &got), 0);
	assert_int_equal(got.sha256[31], (uint8_t)2999);
	assert_int_equal(fim_db_get(db, "/x/5", &got), -ENOENT);
	fim_db_free(db);
	remove_dir(d);
}

static void test_db_damaged(void **state)
{
	char *d = make_dir();
	_cleanup_free_ char *path = xasprintf("%s/fim.db", d);
	_cleanup_(buf_free) struct buf b = { 0 };
	struct fim_db *db = fim_db_new();
	struct fim_entry e = entry("/etc/passwd", 7);

	assert_int_equal(fim_db_put(db, &e), 0);
	assert_int_equal(fim_db_save(db, path), 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(file_read_capped(path, 1 << 20, &b), 0);

	/* Every single flipped byte is refused, and the database is left empty. */
	for (size_t i = 0; i < buf_len(&b); i++) {
		b.data[i] ^= 0x20;
		assert_int_equal(fim_db_parse(db, b.data, b.len), -EBADMSG);
		assert_int_equal(fim_db_count(db), 0);
		b.data[i] ^= 0x20;
	}
	/* So is every truncation. */
	for (size_t n = 0; n < buf_len(&b); n++)
		assert_int_equal(fim_db_parse(db, b.data, n), -EBADMSG);
	assert_int_equal(fim_db_parse(db, b.data, b.len), 0);
	assert_int_equal(fim_db_count(db), 1);
	assert_int_equal(fim_db_load(db, "/nonexistent/fim.db"), -ENOENT);
	fim_db_free(db);
	remove_dir(d);
}

static void test_hash(void **state)
{
	char *d = make_dir();
	_cleanup_free_ char *p = xasprintf("%s/abc", d);
	_cleanup_free_ char *l = xasprintf("%s/link", d);
	struct fim_hasher *h;
	struct fim_entry e = { 0 };
	char hex[65];

	write_file(d, "abc", "abc");
	assert_int_equal(symlink("abc", l), 0);
	assert_int_equal(fim_hasher_new(4, &h), 0); /* a tiny buffer: several reads */
	assert_int_equal(fim_stat_hash(h, p, 1 << 20, &e), 0);
	hex_of(&e, hex);
	assert_string_equal(hex, sha_abc);
	assert_true(e.flags & FIM_F_HASHED);
	assert_int_equal(e.size, 3);
	assert_true(S_ISREG(e.mode));
	/* over the size cap: stat only */
	assert_int_equal(fim_stat_hash(h, p, 2, &e), 0);
	assert_false(e.flags & FIM_F_HASHED);
	/* a symlink: the hash of its target's text, never of what it points to */
	assert_int_equal(fim_stat_hash(h, l, 1 << 20, &e), 0);
	assert_true(S_ISLNK(e.mode));
	hex_of(&e, hex);
	assert_string_equal(hex, sha_abc); /* the target text is "abc" */
	_cleanup_free_ char *gone = xasprintf("%s/gone", d);
	assert_int_equal(fim_stat_hash(h, gone, 1 << 20, &e), -ENOENT);
	fim_hasher_free(h);
	remove_dir(d);
}

struct seen {
	int created, modified, attr, deleted;
	char last[256];
};

static void on_change(enum fim_change c, const struct fim_entry *now,
		      const struct fim_entry *before, void *arg)
{
	struct seen *s = arg;
	switch (c) {
	case FIM_CREATED:
		assert_non_null(now);
		assert_null(before);
		s->created++;
		break;
	case FIM_MODIFIED:
		assert_non_null(now);
		assert_non_null(before);
		assert_memory_not_equal(now->sha256, before->sha256, FIM_SHA256_LEN);
		s->modified++;
		break;
	case FIM_ATTR:
		assert_non_null(now);
		assert_non_null(before);
		s->attr++;
		break;
	case FIM_DELETED:
		assert_null(now);
		assert_non_null(before);
		s->deleted++;
		break;
	}
	snprintf(s->last, sizeof(s->last), "%s", (now ? now : before)->path);
}

static struct seen scan_compare(struct fim_db *db, const char *dir, unsigned threads, unsigned pct)
{
	const char *paths[] = { dir, NULL };
	struct fim_scan_opts o = {
		.paths = paths, .threads = threads, .cpu_percent = pct, .size_cap = 1 << 20
	};
	struct fim_scan *s;
	struct seen seen = { 0 };
	assert_int_equal(fim_scan_run(&o, &s), 0);
	assert_int_equal(fim_scan_compare(db, s, on_change, &seen), 0);
	fim_scan_free(s);
	return seen;
}

static void test_scan_compare(void **state)
{
	char *d = make_dir();
	_cleanup_free_ char *sub = xasprintf("%s/sub", d);
	_cleanup_free_ char *a = xasprintf("%s/a", d);
	struct fim_db *db = fim_db_new();
	struct fim_entry e;
	struct seen s;
	char hex[65];

	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(d, "a", "abc");
	write_file(d, "sub/b", "bbb");
	write_file(d, "sub/c", "ccc");

	s = scan_compare(db, d, 1, 0);
	assert_int_equal(s.created, 3);
	assert_int_equal(fim_db_count(db), 3);
	assert_int_equal(fim_db_get(db, a, &e), 0);
	hex_of(&e, hex);
	assert_string_equal(hex, sha_abc);

	s = scan_compare(db, d, 2, 0); /* unchanged */
	assert_int_equal(s.created + s.modified + s.attr + s.deleted, 0);

	write_file(d, "a", "abd");
	s = scan_compare(db, d, 1, 0);
	assert_int_equal(s.modified, 1);
	assert_string_equal(s.last, a);

	_cleanup_free_ char *b = xasprintf("%s/sub/b", d);
	assert_int_equal(chmod(b, 0600), 0);
	s = scan_compare(db, d, 1, 0);
	assert_int_equal(s.attr, 1);
	assert_int_equal(s.modified, 0);
	assert_string_equal(s.last, b);

	_cleanup_free_ char *c = xasprintf("%s/sub/c", d);
	assert_int_equal(unlink(c), 0);
	write_file(d, "sub/new", "new");
	s = scan_compare(db, d, 1, 50); /* with a budget: same results */
	assert_int_equal(s.deleted, 1);
	assert_int_equal(s.created, 1);
	assert_int_equal(fim_db_get(db, c, &e), -ENOENT);
	assert_int_equal(fim_db_count(db), 3);

	/* Entries outside the walked paths are left alone. */
	struct fim_entry other = entry("/elsewhere/x", 1);
	assert_int_equal(fim_db_put(db, &other), 0);
	s = scan_compare(db, sub, 2, 0);
	assert_int_equal(s.created + s.modified + s.attr + s.deleted, 0);
	assert_int_equal(fim_db_get(db, "/elsewhere/x", &e), 0);
	fim_db_free(db);
	remove_dir(d);
}

static void test_scan_threads_exclude_stop(void **state)
{
	char *d = make_dir();
	_cleanup_free_ char *skip = xasprintf("%s/skip", d);
	const char *paths[] = { d, NULL }, *excl[] = { skip, NULL };
	struct fim_scan *s1, *s4;
	atomic_bool stop = true;

	assert_int_equal(mkdir(skip, 0755), 0);
	write_file(d, "skip/x", "x");
	for (int i = 0; i < 200; i++) {
		char name[32], text[32];
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(text, sizeof(text), "content %d", i);
		write_file(d, name, text);
	}
	struct fim_scan_opts o = {
		.paths = paths, .exclude = excl, .threads = 1, .size_cap = 1 << 20
	};
	assert_int_equal(fim_scan_run(&o, &s1), 0);
	o.threads = 4;
	assert_int_equal(fim_scan_run(&o, &s4), 0);
	assert_int_equal(fim_scan_count(s1), 200);
	assert_int_equal(fim_scan_count(s4), 200);
	assert_int_equal(fim_scan_bytes(s1), fim_scan_bytes(s4));
	for (size_t i = 0; i < 200; i++) {
		const struct fim_entry *x = fim_scan_file(s1, i), *y = fim_scan_file(s4, i);
		assert_string_equal(x->path, y->path);
		assert_memory_equal(x->sha256, y->sha256, FIM_SHA256_LEN);
		assert_null(strstr(x->path, "/skip/"));
	}
	fim_scan_free(s1);
	fim_scan_free(s4);

	o.max_files = 10;
	assert_int_equal(fim_scan_run(&o, &s1), 0);
	assert_int_equal(fim_scan_count(s1), 10);
	assert_int_equal(fim_scan_dropped(s1), 190);
	fim_scan_free(s1);

	o.max_files = 0;
	o.stop = &stop;
	o.cpu_percent = 10;
	assert_int_equal(fim_scan_run(&o, &s1), -ECANCELED);

	const char *missing[] = { "/nonexistent/fim", NULL };
	struct fim_scan_opts m = { .paths = missing, .size_cap = 1 };
	assert_int_equal(fim_scan_run(&m, &s1), -ENOENT);
	remove_dir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_roundtrip),
		cmocka_unit_test(test_db_damaged),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_scan_compare),
		cmocka_unit_test(test_scan_threads_exclude_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
