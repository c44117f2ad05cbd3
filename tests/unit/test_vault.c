/* Unit tests for the vault: the unified diff (hunks, context, missing final newline, the
 * output cap, many changes), snapshots (round trip, text only, size caps, damaged files
 * refused, the total bound), vault_diff() against a file and vault_restore(). */
#include "unit.h"

#include "detect/vault.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/test_vault.XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void remove_dir(char *d)
{
	assert_int_equal(nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(d);
}

static void check_diff(const char *a, const char *b, const char *want_hunks)
{
	_cleanup_(buf_free) struct buf out = { 0 };
	_cleanup_free_ char *want = xasprintf("--- f (snapshot)\n+++ f\n%s", want_hunks);
	buf_init(&out, 1 << 20);
	assert_int_equal(vault_diff_text(a, strlen(a), b, strlen(b), "f", 1 << 20, &out), 0);
	assert_string_equal(buf_str(&out), want);
}

static void test_diff_basic(void **state)
{
	/* Two hunks, three lines of context, a new last line without '\n' (as GNU diff -u). */
	check_diff("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n",
		   "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn",
		   "@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n"
		   "@@ -11,3 +11,4 @@\n k\n l\n m\n+n\n\\ No newline at end of file\n");
	check_diff("one\n", "zero\none\n", "@@ -1 +1,2 @@\n+zero\n one\n");
	check_diff("", "new\n", "@@ -0,0 +1 @@\n+new\n");
	check_diff("new\n", "", "@@ -1 +0,0 @@\n-new\n");
	/* changes close together share one hunk */
	check_diff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\nX\n3\n4\n5\n6\nY\n8\n",
		   "@@ -1,8 +1,8 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n-7\n+Y\n 8\n");
	/* the last line gains its newline */
	check_diff("a\nb", "a\nb\n", "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");

	_cleanup_(buf_free) struct buf out = { 0 };
	buf_init(&out, 1024);
	assert_int_equal(vault_diff_text("same\n", 5, "same\n", 5, "f", 1024, &out), 0);
	assert_int_equal(buf_len(&out), 0);
	assert_int_equal(vault_diff_text("a", 1, "b", 1, "f", 10, &out), -EINVAL);
}

/* Builds n numbered lines; every step-th one changed when tag is set. */
static char *numbered(int n, int step, const char *tag)
{
	struct buf b;
	buf_init(&b, 1 << 22);
	for (int i = 0; i < n; i++)
		buf_printf(&b, "line %d%s\n", i, tag && i % step == 0 ? tag : "");
	return buf_steal(&b);
}

static void test_diff_big(void **state)
{
	_cleanup_(buf_free) struct buf out = { 0 };
	_cleanup_free_ char *a = numbered(20000, 1, NULL);
	_cleanup_free_ char *b = numbered(20000, 7, " changed");

	buf_init(&out, 1 << 20);
	/* beyond the edit-distance bound: still a correct (coarser) diff, and capped */
	assert_int_equal(vault_diff_text(a, strlen(a), b, strlen(b), "f", 4096, &out), 0);
	assert_true(buf_len(&out) <= 4096);
	assert_true(str_has_suffix(buf_str(&out), "\\ diff truncated\n"));
	assert_non_null(strstr(buf_str(&out), "-line 0\n"));
	assert_non_null(strstr(buf_str(&out), "-line 1\n"));

	/* a few changes in a long file: only their hunks */
	_cleanup_free_ char *c = numbered(20000, 5000, " x");
	assert_int_equal(vault_diff_text(a, strlen(a), c, strlen(c), "f", 1 << 20, &out), 0);
	assert_non_null(strstr(buf_str(&out), "@@ -4998,7 +4998,7 @@\n line 4997\n"));
	assert_non_null(strstr(buf_str(&out), "-line 5000\n+line 5000 x\n"));
	assert_null(strstr(buf_str(&out), "line 7000"));

	size_t bign = (1u << 20) + 1;
	_cleanup_free_ char *big = xmalloc(bign);
	memset(big, 'a', bign);
	assert_int_equal(vault_diff_text(big, bign, "a", 1, "f", 4096, &out), -EFBIG);
}

static void test_snapshots(void **state)
{
	char *d = make_dir();
	struct vault *v;
	uint8_t sha[FIM_SHA256_LEN], sha2[FIM_SHA256_LEN];
	_cleanup_(buf_free) struct buf b = { 0 };
	const char *text = "root:x:0:0:root:/root:/bin/bash\n";

	buf_init(&b, 1 << 20);
	assert_int_equal(vault_open(d, 1024, 1 << 20, &v), 0);
	assert_int_equal(vault_put(v, text, strlen(text), sha), 0);
	assert_int_equal(vault_put(v, text, strlen(text), sha2), 0); /* already there */
	assert_memory_equal(sha, sha2, sizeof(sha));
	assert_int_equal(vault_count(v), 1);
	assert_true(vault_has(v, sha));
	assert_int_equal(vault_get(v, sha, &b), 0);
	assert_string_equal(buf_str(&b), text);
	assert_int_equal(vault_put(v, "bin\0ary", 7, NULL), -EMEDIUMTYPE);
	char big[2000];
	memset(big, 'x', sizeof(big));
	assert_int_equal(vault_put(v, big, sizeof(big), NULL), -EFBIG);
	vault_free(v);

	/* reopened: the snapshot is found again */
	assert_int_equal(vault_open(d, 1024, 1 << 20, &v), 0);
	assert_int_equal(vault_count(v), 1);
	assert_int_equal(vault_get(v, sha, &b), 0);
	assert_string_equal(buf_str(&b), text);

	/* a damaged snapshot is refused and forgotten */
	char hex[65];
	fim_sha256_hex(sha, hex);
	_cleanup_free_ char *p = xasprintf("%s/vault/%s.zst", d, hex);
	assert_int_equal(file_write_atomic(p, "garbage", 7, 0600), 0);
	assert_int_equal(vault_get(v, sha, &b), -EBADMSG);
	assert_int_equal(vault_get(v, sha, &b), -ENOENT);
	assert_false(vault_has(v, sha));
	/* a valid zstd frame of other content under this name is refused too */
	assert_int_equal(vault_put(v, "other\n", 6, sha2), 0);
	fim_sha256_hex(sha2, hex);
	_cleanup_free_ char *p2 = xasprintf("%s/vault/%s.zst", d, hex);
	assert_int_equal(rename(p2, p), 0);
	vault_free(v);
	assert_int_equal(vault_open(d, 1024, 1 << 20, &v), 0);
	assert_int_equal(vault_get(v, sha, &b), -EBADMSG);
	vault_free(v);
	remove_dir(d);
}

static void test_bound(void **state)
{
	char *d = make_dir();
	struct vault *v;
	uint8_t first[FIM_SHA256_LEN], sha[FIM_SHA256_LEN];

	/* random-ish text compresses badly: each snapshot takes a few hundred bytes */
	assert_int_equal(vault_open(d, 4096, 4000, &v), 0);
	for (int i = 0; i < 40; i++) {
		char text[600];
		unsigned x = 12345u + (unsigned)i * 7919u;
		for (size_t k = 0; k < sizeof(text) - 1; k++) {
			x = x * 1103515245u + 12345u;
			text[k] = (char)('a' + (x >> 16) % 26);
		}
		text[sizeof(text) - 1] = '\n';
		assert_int_equal(vault_put(v, text, sizeof(text), i ? sha : first), 0);
		assert_true(vault_bytes(v) <= 4000);
	}
	assert_false(vault_has(v, first)); /* the oldest went first */
	assert_true(vault_has(v, sha));
	assert_true(vault_count(v) < 40);
	vault_free(v);
	remove_dir(d);
}

static void test_file_diff_restore(void **state)
{
	char *d = make_dir();
	_cleanup_free_ char *path = xasprintf("%s/sshd_config", d);
	_cleanup_(buf_free) struct buf out = { 0 }, now = { 0 };
	struct vault *v;
	uint8_t sha[FIM_SHA256_LEN];
	struct stat st;

	buf_init(&out, 1 << 20);
	buf_init(&now, 1 << 20);
	assert_int_equal(vault_open(d, 65536, 1 << 20, &v), 0);
	assert_int_equal(file_write_atomic(path, "Port 22\nPermitRootLogin no\n", 27, 0600), 0);
	assert_int_equal(vault_put_file(v, path, sha), 0);
	assert_int_equal(file_write_atomic(path, "Port 22\nPermitRootLogin yes\n", 28, 0640), 0);
	assert_int_equal(vault_diff(v, path, sha, VAULT_DIFF_MAX, &out), 0);
	assert_non_null(strstr(buf_str(&out), "-PermitRootLogin no\n+PermitRootLogin yes\n"));
	assert_non_null(strstr(buf_str(&out), " Port 22\n"));

	assert_int_equal(vault_restore(v, path, sha), 0);
	assert_int_equal(file_read_capped(path, 1 << 20, &now), 0);
	assert_string_equal(buf_str(&now), "Port 22\nPermitRootLogin no\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640); /* the current file's mode is kept */

	uint8_t none[FIM_SHA256_LEN] = { 0 };
	assert_int_equal(vault_restore(v, path, none), -ENOENT);
	assert_int_equal(vault_diff(v, path, none, VAULT_DIFF_MAX, &out), -ENOENT);
	_cleanup_free_ char *gone = xasprintf("%s/gone", d);
	assert_int_equal(vault_diff(v, gone, sha, VAULT_DIFF_MAX, &out), -ENOENT);
	assert_int_equal(vault_put_file(v, d, NULL), -EMEDIUMTYPE); /* a directory */
	vault_free(v);
	remove_dir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_basic),	  cmocka_unit_test(test_diff_big),
		cmocka_unit_test(test_snapshots),	  cmocka_unit_test(test_bound),
		cmocka_unit_test(test_file_diff_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
