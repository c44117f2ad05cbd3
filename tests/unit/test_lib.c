/* Unit tests for src/lib: bounded buffers, cursors, strings, root-confined files, YAML tree. */
#include "unit.h"

#include "lib/buf.h"
#include "lib/fsroot.h"
#include "lib/str.h"
#include "lib/ytree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_buf_cap(void **state)
{
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "abcd"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(buf_str(&b), "abcd1234");
	assert_int_equal(buf_puts(&b, "x"), -EMSGSIZE);
	assert_int_equal(buf_len(&b), 8);
	assert_string_equal(buf_str(&b), "abcd1234");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%0300d", 1), -EMSGSIZE);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);

	/* An "unlimited" cap must not overflow the size computations. */
	buf_init(&b, SIZE_MAX);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_puts(&b, "0123456789"), 0);
	assert_int_equal(buf_len(&b), 1000);
	buf_free(&b);
}

static void test_cursor(void **state)
{
	const unsigned char data[] = { 0, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8, 'a' };
	struct cursor c;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;
	cursor_init(&c, data, sizeof(data));
	assert_int_equal(cursor_get_u32be(&c, &u32), 0);
	assert_int_equal(u32, 5);
	assert_int_equal(cursor_get_u64be(&c, &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(cursor_get_u32be(&c, &u32), -EBADMSG);
	assert_int_equal(cursor_get_u8(&c, &u8), 0);
	assert_true(cursor_done(&c));

	const char *text = "one\ntwo\n\nthree";
	const char *line;
	size_t len;
	int lines = 0;
	cursor_init(&c, text, strlen(text));
	while (cursor_get_line(&c, &line, &len) > 0)
		lines++;
	assert_int_equal(lines, 4);
}

static void test_line_joiner(void **state)
{
	const char text[] = "a \\\n  b\r\nbad\001\nc \\\nd\n\ne \\";
	struct line_joiner j;
	line_joiner_init(&j, text, sizeof(text) - 1, 1024);
	assert_int_equal(line_joiner_next(&j), 1);
	assert_string_equal(buf_str(&j.text), "a    b");
	assert_int_equal(j.first, 1);
	assert_int_equal(line_joiner_next(&j), -EBADMSG);
	assert_int_equal(j.lineno, 3);
	assert_int_equal(line_joiner_next(&j), 1);
	assert_string_equal(buf_str(&j.text), "c  d");
	assert_int_equal(j.first, 4);
	assert_int_equal(line_joiner_next(&j), 1);
	assert_string_equal(buf_str(&j.text), "");
	assert_int_equal(line_joiner_next(&j), 1); /* a continuation at the end still counts */
	assert_string_equal(buf_str(&j.text), "e  ");
	assert_int_equal(j.first, 7);
	assert_int_equal(line_joiner_next(&j), 0);
	line_joiner_free(&j);
}

static void test_parse_numbers(void **state)
{
	int64_t v;
	uint64_t u;
	unsigned mode;
	assert_int_equal(parse_i64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_i64("-1", 0, 100, &v), -ERANGE);
	assert_int_equal(parse_i64("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_i64("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_i64(" 4", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_i64("99999999999999999999", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("0x10", 0, 100, &u), 0);
	assert_int_equal(u, 16);
	assert_int_equal(parse_mode("0644", &mode), 0);
	assert_int_equal(mode, 0644);
	assert_int_equal(parse_mode("0789", &mode), -EINVAL);
	assert_int_equal(parse_mode("77777", &mode), -ERANGE);
}

static void test_strings(void **state)
{
	char s[] = "  hello \t\n";
	assert_string_equal(str_trim(s), "hello");
	assert_true(str_list_has("nodev,nosuid, noexec", "nosuid", ", ", false));
	assert_false(str_list_has("nodev,nosuid", "nosu", ", ", false));
	assert_true(str_list_has("A B", "b", " ", true));
	strv v = str_split("a  b,c", " ,");
	assert_int_equal(strv_len(v), 3);
	assert_string_equal(v[2], "c");
	assert_true(strv_contains(v, "b"));
	strv_free(v);
	assert_false(str_is_text("a\0b", 3));
	assert_true(str_is_text("a\tb", 3));
}

/* Builds a tree with an escaping symlink, a loop, a FIFO and a large file. */
static char *make_root(void)
{
	char tmpl[] = "/tmp/immune-test-XXXXXX";
	char *dir = xstrdup(mkdtemp(tmpl));
	_cleanup_free_ char *etc = xasprintf("%s/etc", dir);
	mkdir(etc, 0755);
	_cleanup_free_ char *f = xasprintf("%s/etc/passwd", dir);
	FILE *fp = fopen(f, "w");
	fputs("root:x:0:0::/root:/bin/bash\n", fp);
	fclose(fp);
	_cleanup_free_ char *esc = xasprintf("%s/etc/escape", dir);
	assert_int_equal(symlink("../../../../../etc/hostname", esc), 0);
	_cleanup_free_ char *abs = xasprintf("%s/etc/abs", dir);
	assert_int_equal(symlink("/etc/passwd", abs), 0);
	_cleanup_free_ char *loop = xasprintf("%s/etc/loop", dir);
	assert_int_equal(symlink("loop", loop), 0);
	_cleanup_free_ char *fifo = xasprintf("%s/etc/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	_cleanup_free_ char *big = xasprintf("%s/etc/big", dir);
	fp = fopen(big, "w");
	for (int i = 0; i < 10000; i++)
		fputs("0123456789", fp);
	fclose(fp);
	return dir;
}

static void test_fsroot_confinement(void **state)
{
	_cleanup_free_ char *dir = make_root();
	struct fsroot *root;
	struct buf b;
	assert_int_equal(fsroot_new(dir, &root), 0);
	assert_false(fsroot_is_host(root));

	buf_init(&b, 4096);
	assert_int_equal(fsroot_read(root, "/etc/passwd", 4096, &b), 0);
	assert_string_equal(buf_str(&b), "root:x:0:0::/root:/bin/bash\n");
	buf_free(&b);
	/* An absolute symlink resolves inside the root, to the same file. */
	buf_init(&b, 4096);
	assert_int_equal(fsroot_read(root, "/etc/abs", 4096, &b), 0);
	assert_string_equal(buf_str(&b), "root:x:0:0::/root:/bin/bash\n");
	buf_free(&b);
	/* ".." cannot climb above the root: the host's /etc/hostname is never reached. */
	buf_init(&b, 4096);
	assert_int_equal(fsroot_read(root, "/etc/escape", 4096, &b), -ENOENT);
	assert_int_equal(fsroot_read(root, "/../../etc/hostname", 4096, &b), -ENOENT);
	assert_int_equal(fsroot_read(root, "/etc/loop", 4096, &b), -ELOOP);
	assert_int_equal(fsroot_read(root, "/etc/fifo", 4096, &b), -EINVAL);
	assert_int_equal(fsroot_read(root, "/etc/big", 4096, &b), -EFBIG);
	assert_int_equal(fsroot_read(root, "/etc", 4096, &b), -EISDIR);
	buf_free(&b);

	strv list = NULL;
	assert_int_equal(fsroot_glob(root, "/etc/pa*", &list), 0);
	assert_int_equal(strv_len(list), 1);
	assert_string_equal(list[0], "/etc/passwd");
	strv_free(list);
	assert_int_equal(fsroot_glob(root, "/nonexistent/*.conf", &list), 0);
	assert_int_equal(strv_len(list), 0);
	strv_free(list);

	char *target = NULL;
	assert_int_equal(fsroot_readlink(root, "/etc/abs", &target), 0);
	assert_string_equal(target, "/etc/passwd");
	free(target);
	fsroot_free(root);

	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fsroot_new("/nonexistent-immune", &root), -ENOENT);
}

static void test_ytree(void **state)
{
	const char *doc = "a: 1\nlist:\n  - x\n  - \"y\"\nmap: {k: v}\n";
	struct ynode *root;
	struct yerror err;
	assert_int_equal(ytree_parse(doc, strlen(doc), &root, &err), 0);
	const struct ynode *list = ynode_get(root, "list");
	assert_non_null(list);
	assert_int_equal(list->type, YNODE_SEQ);
	assert_int_equal(list->n, 2);
	assert_int_equal(list->items[1]->line, 4);
	assert_true(list->items[1]->quoted);
	int64_t v;
	assert_int_equal(ynode_as_i64(ynode_get(root, "a"), "a", 0, 10, &v, &err), 0);
	assert_int_equal(v, 1);
	static const char *const allowed[] = { "a", "list", NULL };
	assert_int_equal(ynode_check_keys(root, allowed, "test", &err), -EBADMSG);
	assert_int_equal(err.line, 5);
	assert_int_equal(err.col, 1);
	assert_non_null(strstr(err.msg, "unknown key 'map'"));
	ytree_free(root);

	const char *dup = "a: 1\na: 2\n";
	assert_int_equal(ytree_parse(dup, strlen(dup), &root, &err), -EBADMSG);
	assert_int_equal(err.line, 2);
	const char *alias = "a: &x 1\nb: *x\n";
	assert_int_equal(ytree_parse(alias, strlen(alias), &root, &err), -EBADMSG);
	const char *bad = "a: [1, 2\n";
	assert_int_equal(ytree_parse(bad, strlen(bad), &root, &err), -EBADMSG);
	assert_true(err.line >= 1);

	struct buf deep;
	buf_init(&deep, 1 << 16);
	for (int i = 0; i < 200; i++)
		buf_puts(&deep, "[");
	assert_int_equal(ytree_parse(buf_str(&deep), buf_len(&deep), &root, &err), -EBADMSG);
	buf_free(&deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),	    cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_line_joiner), cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_strings),	    cmocka_unit_test(test_fsroot_confinement),
		cmocka_unit_test(test_ytree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
