/* Unit tests for the mounts, cron, banners and file_permissions collectors, over the fixture
 * roots in tests/fixtures/walk and over trees built in a temporary directory. */
#include "inv_helpers.h"

#include "inventory/collectors.h"
#include "inventory/inventory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static struct inventory *collect(const char *fixture, const char *table)
{
	_cleanup_free_ char *root = xasprintf("%s/walk/%s", getenv("IMMUNE_FIXTURES"), fixture);
	return collect_root(root, table);
}

static const char *str_col(json_t *row, const char *col)
{
	assert_non_null(row);
	return json_string_value(json_object_get(row, col));
}

static json_int_t int_col(json_t *row, const char *col)
{
	assert_non_null(row);
	json_t *v = json_object_get(row, col);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static bool bool_col(json_t *row, const char *col)
{
	assert_non_null(row);
	json_t *v = json_object_get(row, col);
	assert_true(json_is_boolean(v));
	return json_is_true(v);
}

static size_t nerrors(struct inventory *inv, const char *table)
{
	json_t *e = inventory_errors_for(inv, table);
	size_t n = json_array_size(e);
	json_decref(e);
	return n;
}

/* ---- mounts ---- */

static void test_fstab(void **state)
{
	struct inventory *inv = collect("debian", "mounts");
	json_t *rows = inventory_rows(inv, "mounts");
	assert_int_equal(json_array_size(rows), 6); /* not host: no runtime rows */

	json_t *root = find_row(inv, "mounts", "mount_point", "/");
	assert_string_equal(str_col(root, "device"), "UUID=0a1b2c3d-1111-2222-3333-444455556666");
	assert_string_equal(str_col(root, "fstype"), "ext4");
	assert_string_equal(str_col(root, "options"), "errors=remount-ro");
	assert_string_equal(str_col(root, "source"), "fstab");
	assert_string_equal(str_col(root, "file"), "/etc/fstab");
	assert_int_equal(int_col(root, "line"), 4);

	json_t *boot = find_row(inv, "mounts", "mount_point", "/boot");
	assert_string_equal(str_col(boot, "device"), "LABEL=boot"); /* tab separated */
	assert_string_equal(str_col(boot, "options"), "defaults,nodev");

	json_t *disk = find_row(inv, "mounts", "mount_point", "/mnt/My Disk"); /* \040 decoded */
	assert_string_equal(str_col(disk, "options"), "ro");
	json_t *nfs = find_row(inv, "mounts", "mount_point", "/srv/nfs");
	assert_string_equal(str_col(nfs, "options"), "defaults"); /* options omitted */
	assert_string_equal(str_col(find_row(inv, "mounts", "mount_point", "/dev/shm"), "options"),
			    "defaults,nodev,nosuid,noexec");
	assert_null(find_row(inv, "mounts", "mount_point", "/broken"));
	assert_int_equal(nerrors(inv, "mounts"), 1); /* the two-field line */
	inventory_free(inv);

	inv = collect("rhel", "mounts"); /* no fstab: no rows, no error */
	assert_int_equal(json_array_size(inventory_rows(inv, "mounts")), 0);
	assert_int_equal(nerrors(inv, "mounts"), 0);
	inventory_free(inv);
}

static void test_runtime_mounts(void **state)
{
	struct inventory *inv = collect_root("/", "mounts");
	json_t *proc = find_row(inv, "mounts", "mount_point", "/proc");
	assert_string_equal(str_col(proc, "source"), "runtime");
	assert_string_equal(str_col(proc, "fstype"), "proc");
	assert_string_equal(str_col(find_row(inv, "mounts", "mount_point", "/"), "source"),
			    "runtime");
	inventory_free(inv);
}

static void test_fstab_parser_garbage(void **state)
{
	struct inv_ctx ctx = { .tables = json_object() };
	static const char text[] =
		"/dev/a /a ext4\n\x01\x02\xff\x00zz\n/dev/b /b xfs rw 0 0 extra\n"
		"/dev/c /c\\ xfs\n/dev/d /d\\000x xfs";
	inv_parse_fstab(&ctx, "/etc/fstab", "fstab", text, sizeof(text) - 1);
	json_t *rows = json_object_get(ctx.tables, "mounts");
	assert_int_equal(json_array_size(rows), 3);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 1), "mount_point")),
		"/c\\"); /* a lone backslash stays */
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 2), "mount_point")),
		"/d?x"); /* \000 cannot be represented */
	assert_int_equal(json_array_size(json_object_get(ctx.tables, "errors")), 2);
	json_decref(ctx.tables);
}

/* ---- cron ---- */

static void test_cron(void **state)
{
	struct inventory *inv = collect("debian", "cron");
	json_t *rows = inventory_rows(inv, "cron");
	assert_int_equal(json_array_size(rows), 7);

	json_t *r = find_row(inv, "cron", "command", "cd / && run-parts --report /etc/cron.hourly");
	assert_string_equal(str_col(r, "user"), "root");
	assert_string_equal(str_col(r, "schedule"), "17 * * * *");
	assert_string_equal(str_col(r, "file"), "/etc/crontab");
	assert_int_equal(int_col(r, "line"), 7);

	r = find_row(inv, "cron", "schedule", "@reboot");
	assert_string_equal(str_col(r, "command"), "/usr/local/bin/on-boot.sh --now");
	assert_string_equal(str_col(r, "user"), "root");

	r = find_row(inv, "cron", "schedule", "@daily");
	assert_string_equal(str_col(r, "user"), "backup");
	assert_string_equal(str_col(r, "file"), "/etc/cron.d/backup");
	assert_int_equal(int_col(r, "line"), 3);
	r = find_row(inv, "cron", "schedule", "0 2 * * 1-5");
	assert_string_equal(str_col(r, "command"), "/usr/bin/nice -n 19 /opt/report %Y");

	/* user crontab: the user is the file name, no user field */
	r = find_row(inv, "cron", "schedule", "30 4 * * *");
	assert_string_equal(str_col(r, "user"), "alice");
	assert_string_equal(str_col(r, "command"), "/home/alice/bin/sync.sh > /dev/null 2>&1");
	assert_string_equal(str_col(r, "file"), "/var/spool/cron/crontabs/alice");
	r = find_row(inv, "cron", "schedule", "@hourly");
	assert_string_equal(str_col(r, "user"), "alice");

	/* environment lines, comments, backups and hidden files are not entries */
	assert_null(find_row(inv, "cron", "command", "/bin/old-job"));
	assert_null(find_row(inv, "cron", "user", "SHELL=/bin/sh"));
	assert_null(find_row(inv, "cron", "user",
			     "PATH=/usr/local/sbin:/usr/local/bin:/sbin:"
			     "/bin:/usr/sbin:/usr/bin"));
	assert_int_equal(nerrors(inv, "cron"), 1); /* "*\/5 * * * * nobody": no command */
	inventory_free(inv);

	inv = collect("rhel", "cron");
	r = find_row(inv, "cron", "user", "bob");
	assert_string_equal(str_col(r, "command"), "/usr/bin/backup");
	assert_string_equal(str_col(r, "file"), "/var/spool/cron/bob");
	assert_int_equal(json_array_size(inventory_rows(inv, "cron")), 1);
	inventory_free(inv);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_cron_unreadable(void **state)
{
	char tmpl[] = "/tmp/immune-cron-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *etc = xasprintf("%s/etc", tmpl);
	_cleanup_free_ char *crond = xasprintf("%s/etc/cron.d", tmpl);
	_cleanup_free_ char *fifo = xasprintf("%s/etc/cron.d/fifo", tmpl);
	_cleanup_free_ char *big = xasprintf("%s/etc/cron.d/big", tmpl);
	_cleanup_free_ char *crontab = xasprintf("%s/etc/crontab", tmpl);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_int_equal(mkdir(crond, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0); /* must not block the collector */
	int fd = open(big, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(mkdir(crontab, 0755), 0); /* a directory where a file is expected */

	struct inventory *inv = collect_root(tmpl, "cron");
	assert_int_equal(json_array_size(inventory_rows(inv, "cron")), 0);
	assert_int_equal(nerrors(inv, "cron"), 2); /* FIFO and oversized; a directory is skipped */
	inventory_free(inv);

	assert_int_equal(rmdir(crontab), 0);
	unlink(fifo);
	unlink(big);
	write_file(crontab, "\x7f"
			    "ELF\x01\x02\n\xff\xfe garbage\n1 2 3 4 5 root ok\n");
	inv = collect_root(tmpl, "cron");
	assert_int_equal(json_array_size(inventory_rows(inv, "cron")), 1);
	assert_int_equal(nerrors(inv, "cron"), 2);
	inventory_free(inv);

	unlink(crontab);
	rmdir(crond);
	rmdir(etc);
	rmdir(tmpl);
}

/* ---- banners ---- */

static void test_banners(void **state)
{
	struct inventory *inv = collect("debian", "banners");
	assert_int_equal(json_array_size(inventory_rows(inv, "banners")), 3);
	json_t *issue = find_row(inv, "banners", "path", "/etc/issue");
	assert_true(bool_col(issue, "exists"));
	assert_true(bool_col(issue, "reveals_os")); /* "Debian" */
	assert_false(bool_col(issue, "empty"));
	json_t *net = find_row(inv, "banners", "path", "/etc/issue.net");
	assert_false(bool_col(net, "reveals_os"));
	assert_false(bool_col(net, "empty"));
	json_t *motd = find_row(inv, "banners", "path", "/etc/motd");
	assert_true(bool_col(motd, "exists"));
	assert_true(bool_col(motd, "empty"));
	assert_false(bool_col(motd, "reveals_os"));
	inventory_free(inv);

	inv = collect("rhel", "banners"); /* os-release in /usr/lib, ID in quotes */
	assert_true(bool_col(find_row(inv, "banners", "path", "/etc/issue"), "reveals_os"));
	assert_true(bool_col(find_row(inv, "banners", "path", "/etc/motd"), "reveals_os"));
	net = find_row(inv, "banners", "path", "/etc/issue.net");
	assert_true(bool_col(net, "empty")); /* only blanks */
	inventory_free(inv);

	char tmpl[] = "/tmp/immune-banners-XXXXXX"; /* an empty root */
	assert_non_null(mkdtemp(tmpl));
	inv = collect_root(tmpl, "banners");
	assert_int_equal(json_array_size(inventory_rows(inv, "banners")), 3);
	json_t *r = find_row(inv, "banners", "path", "/etc/motd");
	assert_false(bool_col(r, "exists"));
	assert_null(json_object_get(r, "reveals_os"));
	inventory_free(inv);
	rmdir(tmpl);
}

static void test_banner_words(void **state)
{
	char *words[] = { "ol", "Oracle" };
	static const char a[] = "Access is controlled.";
	assert_false(inv_banner_reveals_os(a, sizeof(a) - 1, words, 2)); /* not a whole word */
	static const char b[] = "Welcome to ORACLE Linux";
	assert_true(inv_banner_reveals_os(b, sizeof(b) - 1, words, 2));
	static const char c[] = "release \\r";
	assert_true(inv_banner_reveals_os(c, sizeof(c) - 1, words, 0));
	static const char d[] = "trailing backslash \\";
	assert_false(inv_banner_reveals_os(d, sizeof(d) - 1, words, 0));
	static const char e[] = "\\l is the tty, \\n the node";
	assert_false(inv_banner_reveals_os(e, sizeof(e) - 1, words, 0));
}

/* ---- file_permissions ---- */

static void test_file_permissions(void **state)
{
	struct inventory *inv = collect("debian", "file_permissions");
	json_t *r = find_row(inv, "file_permissions", "path", "/etc/passwd");
	assert_true(bool_col(r, "exists"));
	assert_string_equal(str_col(r, "type"), "file");
	assert_int_equal(int_col(r, "uid"), 0);
	assert_true(int_col(r, "mode") >= 0 && int_col(r, "mode") <= 07777);

	r = find_row(inv, "file_permissions", "path", "/etc/shadow");
	assert_false(bool_col(r, "exists"));
	assert_null(json_object_get(r, "mode"));
	r = find_row(inv, "file_permissions", "path", "/etc/cron.daily");
	assert_string_equal(str_col(r, "type"), "directory");
	assert_true(
		bool_col(find_row(inv, "file_permissions", "path", "/etc/ssh/ssh_host_ed25519_key"),
			 "exists"));
	assert_non_null(find_row(inv, "file_permissions", "path", "/etc/ssh/ssh_host_rsa_key"));
	assert_non_null(
		find_row(inv, "file_permissions", "path", "/etc/ssh/ssh_host_ed25519_key.pub"));
	assert_non_null(find_row(inv, "file_permissions", "path", "/var/log/syslog"));
	assert_non_null(find_row(inv, "file_permissions", "path", "/etc/cron.d/backup"));
	assert_null(find_row(inv, "file_permissions", "path", "/etc/cron.d/.placeholder"));

	/* every path appears once */
	size_t i, j;
	json_t *a, *b;
	json_t *rows = inventory_rows(inv, "file_permissions");
	json_array_foreach(rows, i, a) {
		json_array_foreach(rows, j, b) {
			if (i != j)
				assert_string_not_equal(str_col(a, "path"), str_col(b, "path"));
		}
	}
	assert_int_equal(nerrors(inv, "file_permissions"), 0);
	inventory_free(inv);
}

static void test_file_permissions_symlink(void **state)
{
	char tmpl[] = "/tmp/immune-perm-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *etc = xasprintf("%s/etc", tmpl);
	_cleanup_free_ char *shadow = xasprintf("%s/etc/shadow", tmpl);
	_cleanup_free_ char *gshadow = xasprintf("%s/etc/gshadow", tmpl);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_int_equal(symlink("/etc/hostname", shadow), 0);
	assert_int_equal(symlink("gshadow", gshadow), 0); /* a loop */
	struct inventory *inv = collect_root(tmpl, "file_permissions");
	json_t *r = find_row(inv, "file_permissions", "path", "/etc/shadow");
	assert_true(bool_col(r, "exists"));
	assert_string_equal(str_col(r, "type"), "symlink");
	r = find_row(inv, "file_permissions", "path", "/etc/gshadow");
	assert_string_equal(str_col(r, "type"), "symlink");
	assert_int_equal(nerrors(inv, "file_permissions"), 0);
	inventory_free(inv);
	unlink(shadow);
	unlink(gshadow);
	rmdir(etc);
	rmdir(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fstab),
		cmocka_unit_test(test_runtime_mounts),
		cmocka_unit_test(test_fstab_parser_garbage),
		cmocka_unit_test(test_cron),
		cmocka_unit_test(test_cron_unreadable),
		cmocka_unit_test(test_banners),
		cmocka_unit_test(test_banner_words),
		cmocka_unit_test(test_file_permissions),
		cmocka_unit_test(test_file_permissions_symlink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
