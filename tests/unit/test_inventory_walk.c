/* Unit tests for the file system walk (special_files and walk tables), over trees built in a
 * temporary directory: git keeps no setuid or world-writable bits, owners, FIFOs or sockets,
 * so every such file is made here. The tests run as root. */
#include "unit.h"

#include "inventory/inventory.h"
#include "inventory/walk.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char root[64];

static char *at(const char *rel)
{
	return xasprintf("%s/%s", root, rel);
}

static void mk_dir(const char *rel, mode_t mode)
{
	_cleanup_free_ char *p = at(rel);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void mk_file(const char *rel, mode_t mode, const char *text)
{
	_cleanup_free_ char *p = at(rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (text)
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(p, mode), 0); /* chmod: the umask does not apply */
}

static void mk_link(const char *target, const char *rel)
{
	_cleanup_free_ char *p = at(rel);
	assert_int_equal(symlink(target, p), 0);
}

static void mk_owned(const char *rel, uid_t uid, gid_t gid)
{
	mk_file(rel, 0644, NULL);
	_cleanup_free_ char *p = at(rel);
	assert_int_equal(chown(p, uid, gid), 0);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/immune-walk-XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(chmod(root, 0755), 0);
	mk_dir("etc", 0755);
	mk_file("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/bash\nbin::2:2::/bin:/x\n");
	mk_file("etc/group", 0644, "root:x:0:\nbin:x:2:\n");
	mk_dir("usr", 0755);
	mk_dir("usr/bin", 0755);
	mk_file("usr/bin/su", 04755, "");
	mk_file("usr/bin/wall", 02755, "");
	mk_file("usr/bin/both", 06755, "");
	mk_file("usr/bin/ls", 0755, "");
	mk_dir("tmp", 01777);  /* sticky: fine */
	mk_dir("share", 0777); /* world-writable without sticky */
	mk_file("share/open", 0666, "x");
	mk_dir("setgid-dir", 02775); /* directories with setgid are not reported as sgid */
	mk_owned("usr/bin/orphan", 4242, 0);
	mk_owned("usr/bin/nogroup", 2, 4343);
	/* symlinks: a loop, a link to a setuid file, a link out of the root */
	mk_link("loop2", "loop1");
	mk_link("loop1", "loop2");
	mk_link("usr/bin/su", "su-link");
	mk_link("/", "escape");
	mk_link("/usr", "usr/bin/up");
	/* a FIFO and a socket, both world-writable: neither opened nor reported */
	_cleanup_free_ char *fifo = at("tmp/fifo");
	assert_int_equal(mkfifo(fifo, 0666), 0);
	assert_int_equal(chmod(fifo, 0666), 0);
	_cleanup_free_ char *sock = at("tmp/sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	assert_int_equal(chmod(sock, 0777), 0);
	return 0;
}

static int teardown(void **state)
{
	_cleanup_free_ char *proc = at("proc");
	_cleanup_free_ char *tmpfs = at("ramtmp");
	umount2(proc, MNT_DETACH); /* left mounted when a test failed */
	umount2(tmpfs, MNT_DETACH);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1; /* tests may run tools */
}

static struct inventory *walk_root(const char *dir, uint64_t max_entries)
{
	struct inv_options opt = { .only_table = "special_files", .walk_max_entries = max_entries };
	struct inventory *inv;
	char msg[256] = "";
	assert_int_equal(inventory_collect(dir, &opt, &inv), 0);
	if (inventory_validate(inv, msg, sizeof(msg)) < 0)
		fail_msg("%s", msg);
	return inv;
}

/* Returns true when special_files has a row for path with kind. */
static bool has_hit(struct inventory *inv, const char *path, const char *kind)
{
	size_t i;
	json_t *row;
	json_array_foreach(inventory_rows(inv, "special_files"), i, row) {
		if (strcmp(json_string_value(json_object_get(row, "path")), path) == 0 &&
		    strcmp(json_string_value(json_object_get(row, "kind")), kind) == 0)
			return true;
	}
	return false;
}

static json_t *walk_row(struct inventory *inv)
{
	json_t *rows = inventory_rows(inv, "walk");
	assert_int_equal(json_array_size(rows), 1);
	return json_array_get(rows, 0);
}

static json_int_t walk_int(struct inventory *inv, const char *col)
{
	return json_integer_value(json_object_get(walk_row(inv), col));
}

static bool walk_bool(struct inventory *inv, const char *col)
{
	return json_is_true(json_object_get(walk_row(inv), col));
}

static size_t nerrors(struct inventory *inv)
{
	json_t *e = inventory_errors_for(inv, "special_files");
	size_t n = json_array_size(e);
	json_decref(e);
	return n;
}

static void test_kinds(void **state)
{
	struct inventory *inv = walk_root(root, 0);
	assert_true(has_hit(inv, "/usr/bin/su", "suid"));
	assert_true(has_hit(inv, "/usr/bin/wall", "sgid"));
	assert_true(has_hit(inv, "/usr/bin/both", "suid"));
	assert_true(has_hit(inv, "/usr/bin/both", "sgid"));
	assert_true(has_hit(inv, "/share", "world_writable_dir_no_sticky"));
	assert_true(has_hit(inv, "/share/open", "world_writable"));
	assert_true(has_hit(inv, "/usr/bin/orphan", "unowned"));
	assert_true(has_hit(inv, "/usr/bin/nogroup", "ungrouped"));
	assert_false(has_hit(inv, "/usr/bin/nogroup", "unowned")); /* uid 2 is bin */
	assert_int_equal(json_array_size(inventory_rows(inv, "special_files")), 8);
	assert_false(walk_bool(inv, "truncated"));
	assert_false(walk_bool(inv, "rows_truncated"));
	assert_int_equal(nerrors(inv), 0);

	/* typed values of one row */
	size_t i;
	json_t *row;
	json_array_foreach(inventory_rows(inv, "special_files"), i, row) {
		if (strcmp(json_string_value(json_object_get(row, "path")), "/usr/bin/orphan"))
			continue;
		assert_int_equal(json_integer_value(json_object_get(row, "uid")), 4242);
		assert_int_equal(json_integer_value(json_object_get(row, "gid")), 0);
		assert_int_equal(json_integer_value(json_object_get(row, "mode")), 0644);
	}
	inventory_free(inv);
}

static void test_counts_and_no_follow(void **state)
{
	struct inventory *inv = walk_root(root, 0);
	json_int_t files = walk_int(inv, "files");
	/* top: etc usr tmp share setgid-dir loop1 loop2 su-link escape = 9
	 * etc: passwd group = 2; usr: bin = 1; usr/bin: su wall both ls orphan nogroup up = 7
	 * tmp: fifo sock = 2; share: open = 1 */
	assert_int_equal(files, 22);
	/* nothing was reported through a symlink (the escape link points to the real "/") */
	size_t i;
	json_t *row;
	json_array_foreach(inventory_rows(inv, "special_files"), i, row) {
		const char *p = json_string_value(json_object_get(row, "path"));
		assert_false(str_has_prefix(p, "/escape"));
		assert_false(str_has_prefix(p, "/su-link"));
		assert_false(str_has_prefix(p, "/usr/bin/up"));
		assert_false(str_has_prefix(p, "/tmp/"));
	}
	assert_string_equal(json_string_value(json_object_get(walk_row(inv), "skipped")), "");
	inventory_free(inv);
}

static void test_entry_limit(void **state)
{
	struct inventory *inv = walk_root(root, 5);
	assert_true(walk_bool(inv, "truncated"));
	assert_int_equal(walk_int(inv, "files"), 5);
	inventory_free(inv);
}

static void test_deep_tree(void **state)
{
	_cleanup_free_ char *base = at("deep");
	struct buf path;
	buf_init(&path, 1 << 20);
	assert_int_equal(buf_puts(&path, "deep"), 0);
	mk_dir("deep", 0755);
	/* 100 levels with a setuid file at the bottom, then deeper than the depth limit */
	for (int i = 0; i < WALK_MAX_DEPTH + 20; i++) {
		assert_int_equal(buf_puts(&path, "/d"), 0);
		mk_dir(buf_str(&path), 0755);
		if (i == 99) {
			_cleanup_free_ char *f = xasprintf("%s/suid", buf_str(&path));
			mk_file(f, 04755, "");
		}
	}
	struct inventory *inv = walk_root(root, 0);
	size_t i;
	json_t *row;
	bool found = false;
	json_array_foreach(inventory_rows(inv, "special_files"), i, row) {
		const char *p = json_string_value(json_object_get(row, "path"));
		if (str_has_prefix(p, "/deep/") && str_has_suffix(p, "/suid"))
			found = strlen(p) == strlen("/deep") + 100 * 2 + strlen("/suid");
	}
	assert_true(found);
	assert_true(walk_bool(inv, "truncated")); /* past WALK_MAX_DEPTH */
	inventory_free(inv);
	buf_free(&path);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
}

static void test_rows_cap(void **state)
{
	mk_dir("many", 0755);
	for (int i = 0; i < WALK_MAX_ROWS + 50; i++) {
		_cleanup_free_ char *rel = xasprintf("many/f%05d", i);
		mk_file(rel, 0666, NULL);
	}
	struct inventory *inv = walk_root(root, 0);
	assert_int_equal(json_array_size(inventory_rows(inv, "special_files")), WALK_MAX_ROWS);
	assert_true(walk_bool(inv, "rows_truncated"));
	assert_false(walk_bool(inv, "truncated"));
	assert_true(walk_int(inv, "files") > WALK_MAX_ROWS + 50);
	inventory_free(inv);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s/many'", root);
	assert_int_equal(system(cmd), 0);
}

static void test_no_passwd(void **state)
{
	char dir[] = "/tmp/immune-walk2-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *f = xasprintf("%s/file", dir);
	int fd = open(f, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	struct inventory *inv = walk_root(dir, 0);
	/* without /etc/passwd and /etc/group every file would be unowned: not checked, and
	 * said so, so that checks over special_files report an error instead of passing */
	assert_int_equal(json_array_size(inventory_rows(inv, "special_files")), 0);
	assert_int_equal(nerrors(inv), 2);
	inventory_free(inv);
	unlink(f);
	rmdir(dir);
}

static void test_pseudo_mount_skipped(void **state)
{
	_cleanup_free_ char *proc = at("proc");
	_cleanup_free_ char *tmpfs = at("ramtmp");
	mk_dir("proc", 0555);
	mk_dir("ramtmp", 0755);
	/* Mount in a private mount namespace: the mounts go away with this process, even when
	 * it crashes, and are never seen by other processes (nor by their walks of "/"). */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		skip(); /* no CAP_SYS_ADMIN here */
	if (mount("proc", proc, "proc", 0, NULL) < 0 ||
	    mount("tmpfs", tmpfs, "tmpfs", 0, "mode=0777") < 0) {
		umount2(proc, MNT_DETACH);
		skip();
	}
	struct inventory *inv = walk_root(root, 0);
	/* proc is skipped (found by fstatfs: the root is not the host); tmpfs is walked */
	assert_string_equal(json_string_value(json_object_get(walk_row(inv), "skipped")), "/proc");
	assert_true(has_hit(inv, "/ramtmp", "world_writable_dir_no_sticky"));
	inventory_free(inv);
	assert_int_equal(umount(proc), 0);
	assert_int_equal(umount(tmpfs), 0);
}

static void test_skip_walk_and_only_table(void **state)
{
	struct inv_options opt = { .skip_walk = true };
	struct inventory *inv;
	assert_int_equal(inventory_collect(root, &opt, &inv), 0);
	assert_int_equal(json_array_size(inventory_rows(inv, "walk")), 0);
	assert_int_equal(json_array_size(inventory_rows(inv, "special_files")), 0);
	inventory_free(inv);

	struct inv_options only = { .only_table = "os" };
	assert_int_equal(inventory_collect(root, &only, &inv), 0);
	assert_int_equal(json_array_size(inventory_rows(inv, "walk")), 0);
	inventory_free(inv);

	struct inv_options walk = { .only_table = "walk" };
	assert_int_equal(inventory_collect(root, &walk, &inv), 0);
	assert_int_equal(json_array_size(inventory_rows(inv, "walk")), 1);
	assert_int_equal(json_array_size(inventory_rows(inv, "os")), 0);
	inventory_free(inv);
}

static void test_start_finish_direct(void **state)
{
	struct fsroot *fs;
	struct walk *w;
	assert_int_equal(fsroot_new(root, &fs), 0);
	struct inv_options opt = { 0 };
	struct inv_ctx ctx = { .root = fs, .opt = &opt, .tables = json_object() };
	assert_int_equal(walk_start(fs, &opt, &w), 0);
	walk_finish(w, &ctx);
	walk_finish(NULL, &ctx); /* accepted */
	assert_int_equal(json_array_size(json_object_get(ctx.tables, "walk")), 1);
	json_t *rows = json_object_get(ctx.tables, "special_files");
	assert_int_equal(json_array_size(rows), 8);
	/* sorted by path */
	for (size_t i = 1; i < json_array_size(rows); i++)
		assert_true(strcmp(json_string_value(
					   json_object_get(json_array_get(rows, i - 1), "path")),
				   json_string_value(
					   json_object_get(json_array_get(rows, i), "path"))) <= 0);
	json_decref(ctx.tables);
	fsroot_free(fs);
}

static void test_host_walk(void **state)
{
	struct inv_options opt = { .only_table = "walk" };
	struct inventory *inv;
	assert_int_equal(inventory_collect("/", &opt, &inv), 0);
	assert_true(walk_int(inv, "files") > 1000);
	const char *skipped = json_string_value(json_object_get(walk_row(inv), "skipped"));
	assert_true(str_list_has(skipped, "/proc", ",", false));
	assert_true(str_list_has(skipped, "/sys", ",", false));
	/* devtmpfs reports the tmpfs magic: only /proc/self/mountinfo tells it apart */
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[4096];
	bool devtmpfs = false;
	while (f && fgets(line, sizeof(line), f))
		devtmpfs |= str_has_prefix(line, "devtmpfs /dev devtmpfs ");
	if (f)
		fclose(f);
	if (devtmpfs)
		assert_true(str_list_has(skipped, "/dev", ",", false));
	inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_counts_and_no_follow),
		cmocka_unit_test(test_entry_limit),
		cmocka_unit_test(test_deep_tree),
		cmocka_unit_test(test_rows_cap),
		cmocka_unit_test(test_no_passwd),
		cmocka_unit_test(test_pseudo_mount_skipped),
		cmocka_unit_test(test_skip_walk_and_only_table),
		cmocka_unit_test(test_start_finish_direct),
		cmocka_unit_test(test_host_walk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
