/* Unit tests for the packages, kernel_modules and sysctl collectors, over fixture roots in
 * tests/fixtures/{packages,modules,sysctl}/ and roots built in temporary directories. */
#include "inv_helpers.h"

#include "inventory/inventory.h"
#include "inventory/rpmheader.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

static struct inventory *collect(const char *fixture, const char *table)
{
	_cleanup_free_ char *root = xasprintf("%s/%s", getenv("IMMUNE_FIXTURES"), fixture);
	return collect_root(root, table);
}

static const char *col(json_t *row, const char *column)
{
	return json_string_value(json_object_get(row, column));
}

static json_t *find(struct inventory *inv, const char *table, const char *column, const char *value)
{
	json_t *row;
	size_t i;
	json_array_foreach(inventory_rows(inv, table), i, row) {
		const char *v = col(row, column);
		if (v && strcmp(v, value) == 0)
			return row;
	}
	return NULL;
}

static bool flag(json_t *row, const char *column)
{
	json_t *v = json_object_get(row, column);
	if (!json_is_boolean(v))
		fail_msg("column %s is not a boolean", column);
	return json_is_true(v);
}

static char *tmp_root(void)
{
	char *dir = xstrdup("/tmp/immune-system-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rm_root(char *root)
{
	rm_tree(root);
	free(root);
}

/* Creates root/rel (and its directories) holding len bytes of data; returns its full path. */
static char *put(const char *root, const char *rel, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* --- packages: dpkg --- */

static void test_dpkg_status(void **state)
{
	struct inventory *inv = collect("packages/debian", "packages");
	assert_int_equal(error_text(inv, "packages", NULL, 0), 0);
	json_t *rows = inventory_rows(inv, "packages");
	assert_int_equal(json_array_size(rows), 5);
	json_t *ssh = find(inv, "packages", "name", "openssh-server");
	assert_non_null(ssh);
	assert_string_equal(col(ssh, "version"), "1:9.2p1-2+deb12u3");
	assert_string_equal(col(ssh, "arch"), "amd64");
	assert_string_equal(col(ssh, "source"), "dpkg");
	/* a lower-case field name counts; removed or half-installed packages do not */
	assert_non_null(find(inv, "packages", "name", "libc6"));
	assert_null(find(inv, "packages", "name", "telnet"));
	assert_null(find(inv, "packages", "name", "nis"));
	assert_null(find(inv, "packages", "name", "broken")); /* reinstreq */
	assert_non_null(find(inv, "packages", "name", "held"));
	/* continuation lines of a description are not fields */
	assert_null(find(inv, "packages", "name", "not-a-package"));
	/* the last stanza has no final newline */
	json_t *last = find(inv, "packages", "name", "truncated-pkg");
	assert_non_null(last);
	assert_string_equal(col(last, "version"), "1.0");
	assert_null(json_object_get(last, "arch"));
	inventory_free(inv);
}

static void test_dpkg_bad(void **state)
{
	char *root = tmp_root(), errs[1024];
	static const char bad[] = "Package: ok\nStatus: install ok installed\nVersion: 1\n\n"
				  "Package: b\x01\x02\nStatus: install ok installed\n";
	free(put(root, "var/lib/dpkg/status", bad, sizeof(bad) - 1));
	struct inventory *inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "/var/lib/dpkg/status:5: package entry is not text"));
	assert_int_equal(json_array_size(inventory_rows(inv, "packages")), 1);
	inventory_free(inv);

	/* over the 64 MiB cap (a sparse file) */
	_cleanup_free_ char *path = put(root, "var/lib/dpkg/status", "", 0);
	assert_int_equal(truncate(path, (64 << 20) + 1), 0);
	inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "File too large"));
	inventory_free(inv);
	rm_root(root);
}

/* --- packages: RPM headers and rpmdb.sqlite --- */

struct hdr {
	struct buf index, data;
	uint32_t il;
};

static void be32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };
	assert_int_equal(buf_append(b, x, 4), 0);
}

static void hdr_entry(struct hdr *h, uint32_t tag, uint32_t type, uint32_t offset, uint32_t count)
{
	be32(&h->index, tag);
	be32(&h->index, type);
	be32(&h->index, offset);
	be32(&h->index, count);
	h->il++;
}

static void hdr_string(struct hdr *h, uint32_t tag, const char *s)
{
	hdr_entry(h, tag, 6, (uint32_t)buf_len(&h->data), 1);
	assert_int_equal(buf_append(&h->data, s, strlen(s) + 1), 0);
}

static void hdr_int32(struct hdr *h, uint32_t tag, uint32_t v)
{
	while (buf_len(&h->data) % 4)
		assert_int_equal(buf_append(&h->data, "", 1), 0);
	hdr_entry(h, tag, 4, (uint32_t)buf_len(&h->data), 1);
	be32(&h->data, v);
}

static void hdr_init(struct hdr *h)
{
	*h = (struct hdr){ 0 };
	buf_init(&h->index, 1 << 20);
	buf_init(&h->data, 1 << 20);
}

/* Returns the blob (il, dl, index, data) in out and frees h. */
static void hdr_finish(struct hdr *h, struct buf *out)
{
	buf_init(out, 4 << 20);
	be32(out, h->il);
	be32(out, (uint32_t)buf_len(&h->data));
	assert_int_equal(buf_append(out, buf_str(&h->index), buf_len(&h->index)), 0);
	assert_int_equal(buf_append(out, buf_str(&h->data), buf_len(&h->data)), 0);
	buf_free(&h->index);
	buf_free(&h->data);
}

static void make_header(struct buf *out, const char *name, bool epoch, bool arch)
{
	struct hdr h;
	hdr_init(&h);
	hdr_entry(&h, 63, 7, 0, 16); /* an immutable region tag: binary, skipped */
	assert_int_equal(buf_append(&h.data, "0123456789abcdef", 16), 0);
	hdr_string(&h, 1000, name);
	hdr_string(&h, 1001, "3.0.7");
	hdr_string(&h, 1002, "27.el9");
	if (epoch)
		hdr_int32(&h, 1003, 1);
	if (arch)
		hdr_string(&h, 1022, "x86_64");
	hdr_entry(&h, 1028, 8, 16, 2); /* a string array: "3.0.7", "27.el9" */
	hdr_finish(&h, out);
}

static void test_rpm_header(void **state)
{
	struct buf b;
	struct rpm_pkg p;

	make_header(&b, "openssl", true, true);
	assert_int_equal(rpmheader_parse(buf_str(&b), buf_len(&b), &p), 0);
	assert_string_equal(p.name, "openssl");
	assert_string_equal(p.version, "3.0.7");
	assert_string_equal(p.release, "27.el9");
	assert_string_equal(p.arch, "x86_64");
	assert_int_equal(p.epoch, 1);
	rpm_pkg_clear(&p);

	/* every prefix of a valid header is rejected, as is a trailing byte */
	for (size_t n = 0; n < buf_len(&b); n++)
		assert_int_equal(rpmheader_parse(buf_str(&b), n, &p), -EBADMSG);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_int_equal(rpmheader_parse(buf_str(&b), buf_len(&b), &p), -EBADMSG);
	buf_free(&b);

	/* bad offsets, counts and types */
	static const uint32_t bad[][4] = {
		{ 1000, 6, 1000, 1 },	    /* offset past dl */
		{ 1000, 6, 0, 2 },	    /* STRING with count 2 */
		{ 1000, 12, 0, 1 },	    /* unknown type */
		{ 1003, 4, 4, 1 },	    /* INT32 running past dl */
		{ 1028, 8, 0, 4 },	    /* string array with too many strings */
		{ 1029, 5, 0, 0x20000000 }, /* INT64 count overflowing 32 bits */
		{ 1000, 4, 0, 1 },	    /* NAME with a numeric type */
	};
	for (size_t i = 0; i <= ARRAY_SIZE(bad); i++) {
		struct hdr h;
		hdr_init(&h);
		assert_int_equal(buf_append(&h.data, "a\0b\0c\0", 6), 0);
		hdr_entry(&h, 1000, 6, 4, 1);
		hdr_entry(&h, 1001, 6, 0, 1);
		hdr_entry(&h, 1002, 6, 2, 1);
		if (i < ARRAY_SIZE(bad)) /* the last round is the valid control */
			hdr_entry(&h, bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
		hdr_finish(&h, &b);
		int r = rpmheader_parse(buf_str(&b), buf_len(&b), &p);
		if (i < ARRAY_SIZE(bad) && r != -EBADMSG)
			fail_msg("bad entry %zu accepted", i);
		if (i == ARRAY_SIZE(bad)) {
			assert_int_equal(r, 0);
			assert_string_equal(p.name, "c");
			rpm_pkg_clear(&p);
		}
		buf_free(&b);
	}

	/* a string that is not NUL-terminated inside the data */
	struct hdr h;
	hdr_init(&h);
	hdr_string(&h, 1001, "1");
	hdr_string(&h, 1002, "2");
	hdr_entry(&h, 1000, 6, (uint32_t)buf_len(&h.data), 1);
	assert_int_equal(buf_append(&h.data, "abc", 3), 0);
	hdr_finish(&h, &b);
	assert_int_equal(rpmheader_parse(buf_str(&b), buf_len(&b), &p), -EBADMSG);
	buf_free(&b);

	/* a header without a name */
	hdr_init(&h);
	hdr_string(&h, 1001, "1");
	hdr_string(&h, 1002, "2");
	hdr_finish(&h, &b);
	assert_int_equal(rpmheader_parse(buf_str(&b), buf_len(&b), &p), -EBADMSG);
	buf_free(&b);

	/* an absurd index count */
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	assert_int_equal(rpmheader_parse(huge, sizeof(huge), &p), -EBADMSG);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void insert_blob(sqlite3 *db, const void *blob, size_t len)
{
	sqlite3_stmt *st;
	assert_int_equal(
		sqlite3_prepare_v2(db, "INSERT INTO Packages (blob) VALUES (?)", -1, &st, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_TRANSIENT), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static void test_rpmdb(void **state)
{
	char *root = tmp_root(), errs[1024];
	_cleanup_free_ char *path = put(root, "var/lib/rpm/rpmdb.sqlite", "", 0);
	sqlite3 *db;
	struct buf b;

	/* the schema rpm creates, in WAL mode as rpm keeps it */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "PRAGMA journal_mode=WAL");
	exec_sql(db, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, "
		     "blob BLOB NOT NULL)");
	make_header(&b, "openssl", true, true);
	insert_blob(db, buf_str(&b), buf_len(&b));
	buf_free(&b);
	make_header(&b, "gpg-pubkey", false, false);
	insert_blob(db, buf_str(&b), buf_len(&b));
	buf_free(&b);
	/* a corrupt blob: the NAME offset points past the data */
	struct hdr h;
	hdr_init(&h);
	hdr_string(&h, 1001, "1");
	hdr_string(&h, 1002, "2");
	hdr_entry(&h, 1000, 6, 4096, 1);
	hdr_finish(&h, &b);
	insert_blob(db, buf_str(&b), buf_len(&b));
	buf_free(&b);
	insert_blob(db, "junk", 4);
	make_header(&b, "bash", false, true);
	insert_blob(db, buf_str(&b), buf_len(&b));
	buf_free(&b);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	struct inventory *inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", errs, sizeof(errs)), 2);
	assert_non_null(strstr(errs, "package header 3 is malformed"));
	assert_non_null(strstr(errs, "package header 4 is malformed"));
	assert_int_equal(json_array_size(inventory_rows(inv, "packages")), 3);
	json_t *row = find(inv, "packages", "name", "openssl");
	assert_non_null(row);
	assert_string_equal(col(row, "version"), "1:3.0.7-27.el9");
	assert_string_equal(col(row, "arch"), "x86_64");
	assert_string_equal(col(row, "source"), "rpm");
	row = find(inv, "packages", "name", "bash");
	assert_string_equal(col(row, "version"), "3.0.7-27.el9");
	row = find(inv, "packages", "name", "gpg-pubkey");
	assert_null(json_object_get(row, "arch"));
	inventory_free(inv);

	/* a Berkeley DB database next to it is ignored */
	free(put(root, "var/lib/rpm/Packages", "\0\0\0\0", 4));
	inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", NULL, 0), 2);
	inventory_free(inv);

	/* the database file itself is not SQLite */
	free(put(root, "var/lib/rpm/rpmdb.sqlite", "this is not a database, just text......", 39));
	inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "is not an SQLite database"));
	inventory_free(inv);

	/* an SQLite database without the Packages table, and one damaged after its header */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "CREATE TABLE Other (x)");
	sqlite3_close(db);
	inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "no such table"));
	inventory_free(inv);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	_cleanup_free_ char *junk = xmalloc((size_t)st.st_size);
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fread(junk, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	for (off_t i = 100; i < st.st_size; i++)
		junk[i] = (char)(i * 7);
	rewind(f);
	assert_int_equal(fwrite(junk, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	inv = collect_root(root, "packages");
	assert_true(error_text(inv, "packages", NULL, 0) >= 1);
	assert_int_equal(json_array_size(inventory_rows(inv, "packages")), 0);
	inventory_free(inv);

	/* only a Berkeley DB database: an error, not an empty package list */
	assert_int_equal(unlink(path), 0);
	inv = collect_root(root, "packages");
	assert_int_equal(error_text(inv, "packages", errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "only the SQLite rpm database"));
	inventory_free(inv);
	rm_root(root);
}

/* --- kernel_modules --- */

static void test_modules(void **state)
{
	struct inventory *inv = collect("modules/root", "kernel_modules");
	assert_int_equal(error_text(inv, "kernel_modules", NULL, 0), 0);

	json_t *m = find(inv, "kernel_modules", "name", "usb_storage");
	assert_non_null(m);
	assert_true(flag(m, "loaded"));
	assert_true(flag(m, "blacklisted")); /* "usb-storage" normalised */
	assert_true(flag(m, "disabled"));
	assert_string_equal(col(m, "install_command"), "/bin/true");
	assert_true(flag(m, "available")); /* usb-storage.ko */

	/* the first install line, in file name order across directories, wins */
	m = find(inv, "kernel_modules", "name", "cramfs");
	assert_true(flag(m, "blacklisted"));
	assert_false(flag(m, "disabled"));
	assert_string_equal(col(m, "install_command"), "/sbin/modprobe --ignore-install cramfs");
	assert_true(flag(m, "available")); /* cramfs.ko.xz */
	assert_false(flag(m, "loaded"));

	m = find(inv, "kernel_modules", "name", "hfs");
	assert_true(flag(m, "disabled")); /* /usr/bin/false with a trailing comment */
	m = find(inv, "kernel_modules", "name", "dccp");
	assert_false(flag(m, "disabled"));
	assert_string_equal(col(m, "install_command"),
			    "/bin/echo \"dccp is disabled\" ; /bin/false");

	/* /usr/lib/modprobe.d/cis.conf is hidden by /etc/modprobe.d/cis.conf */
	m = find(inv, "kernel_modules", "name", "sctp");
	assert_true(flag(m, "loaded"));
	assert_null(json_object_get(m, "install_command"));
	assert_false(flag(m, "disabled"));
	assert_false(flag(m, "available")); /* only sctp_diag.ko.zst exists */

	/* CIS modules that nothing mentions still have a row */
	m = find(inv, "kernel_modules", "name", "squashfs");
	assert_non_null(m);
	assert_false(flag(m, "loaded"));
	assert_false(flag(m, "blacklisted"));
	assert_false(flag(m, "disabled"));
	m = find(inv, "kernel_modules", "name", "freevxfs"); /* "install freevxfs" alone */
	assert_null(json_object_get(m, "install_command"));
	assert_non_null(find(inv, "kernel_modules", "name", "pcspkr"));
	assert_non_null(find(inv, "kernel_modules", "name", "nf_tables"));
	inventory_free(inv);

	/* garbage in a modprobe file: an error, the lines before it kept */
	char errs[512];
	inv = collect("modules/garbage", "kernel_modules");
	assert_int_equal(error_text(inv, "kernel_modules", errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "/etc/modprobe.d/bad.conf:2: line is not text"));
	assert_true(flag(find(inv, "kernel_modules", "name", "cramfs"), "blacklisted"));
	assert_false(flag(find(inv, "kernel_modules", "name", "udf"), "blacklisted"));
	/* no kernel directory in this root: availability unknown */
	assert_null(json_object_get(find(inv, "kernel_modules", "name", "udf"), "available"));
	inventory_free(inv);
}

/* --- sysctl --- */

static json_t *key_row(struct inventory *inv, const char *key)
{
	json_t *row = find(inv, "sysctl", "key", key);
	if (!row)
		fail_msg("no sysctl row for %s", key);
	return row;
}

static void test_sysctl(void **state)
{
	struct inventory *inv = collect("sysctl/root", "sysctl");
	assert_int_equal(error_text(inv, "sysctl", NULL, 0), 0);

	/* systemd order: /run/sysctl.d/50-run.conf comes after /etc/sysctl.d/10-base.conf */
	json_t *r = key_row(inv, "net.ipv4.ip_forward");
	assert_string_equal(col(r, "runtime_value"), "1");
	assert_string_equal(col(r, "configured_value"), "1");
	assert_string_equal(col(r, "file"), "/run/sysctl.d/50-run.conf");
	assert_int_equal(json_integer_value(json_object_get(r, "line")), 1);

	/* white space folded on both sides */
	r = key_row(inv, "net.ipv4.ip_local_port_range");
	assert_string_equal(col(r, "runtime_value"), "32768 60999");
	assert_string_equal(col(r, "configured_value"), "1024 65000");

	/* a later file name wins even from /usr/lib */
	r = key_row(inv, "fs.suid_dumpable");
	assert_string_equal(col(r, "configured_value"), "0");
	assert_string_equal(col(r, "file"), "/usr/lib/sysctl.d/60-vendor.conf");

	/* '/' separators; per-interface directories other than all/default skipped */
	r = key_row(inv, "net.ipv4.conf.all.rp_filter");
	assert_string_equal(col(r, "runtime_value"), "0");
	assert_string_equal(col(r, "configured_value"), "1");
	assert_null(find(inv, "sysctl", "key", "net.ipv4.conf.eth0.rp_filter"));
	r = key_row(inv, "net.ipv4.conf.default.rp_filter");
	assert_null(json_object_get(r, "configured_value"));
	assert_null(json_object_get(r, "file"));
	/* "-key" and a slash key with a dotted interface name */
	r = key_row(inv, "net.ipv4.conf.eth0/100.rp_filter");
	assert_null(json_object_get(r, "runtime_value"));

	/* the same-named file in /usr/lib is hidden by /etc */
	assert_null(find(inv, "sysctl", "key", "kernel.hidden"));

	/* /etc/sysctl.conf read once (through 99-sysctl.conf), its last setting wins */
	r = key_row(inv, "kernel.randomize_va_space");
	assert_string_equal(col(r, "configured_value"), "2");
	assert_int_equal(json_integer_value(json_object_get(r, "line")), 2);
	r = key_row(inv, "vm.swappiness");
	assert_string_equal(col(r, "runtime_value"), "60");
	assert_string_equal(col(r, "configured_value"), "10");
	assert_string_equal(col(key_row(inv, "kernel.ostype"), "runtime_value"), "Linux");
	assert_string_equal(col(key_row(inv, "net.ipv6.conf.all.disable_ipv6"), "configured_value"),
			    "1");
	/* only net/ipv4, net/ipv6, kernel, fs and vm are walked */
	assert_null(find(inv, "sysctl", "key", "dev.not_walked"));
	assert_int_equal(json_array_size(inventory_rows(inv, "sysctl")), 10);
	inventory_free(inv);
}

static void test_sysctl_bad(void **state)
{
	char *root = tmp_root(), errs[1024];
	static char big[20000];
	memset(big, '1', sizeof(big));
	free(put(root, "proc/sys/kernel/big", big, sizeof(big)));
	free(put(root, "proc/sys/kernel/ok", "7\n", 2));
	free(put(root, "proc/sys/kernel/bin", "\x01\x02\n", 3));
	_cleanup_free_ char *fifo = xasprintf("%s/proc/sys/kernel/fifo", root);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	_cleanup_free_ char *link = xasprintf("%s/proc/sys/kernel/link", root);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	static const char conf[] = "kernel.ok = 1\n\x7f\x01\nkernel.after = 2\n";
	free(put(root, "etc/sysctl.conf", conf, sizeof(conf) - 1));

	/* a vendor file masked by a link to /dev/null in /etc */
	free(put(root, "usr/lib/sysctl.d/50-x.conf", "kernel.masked = 1\n", 18));
	free(put(root, "dev/.keep", "", 0));
	free(put(root, "etc/sysctl.d/.keep", "", 0));
	_cleanup_free_ char *null = xasprintf("%s/dev/null", root);
	bool have_null = mknod(null, S_IFCHR | 0666, makedev(1, 3)) == 0;
	_cleanup_free_ char *mask = xasprintf("%s/etc/sysctl.d/50-x.conf", root);
	assert_int_equal(symlink("/dev/null", mask), 0);

	struct inventory *inv = collect_root(root, "sysctl");
	if (have_null)
		assert_null(find(inv, "sysctl", "key", "kernel.masked"));
	size_t nerr = error_text(inv, "sysctl", errs, sizeof(errs));
	if (nerr != 5)
		fail_msg("%zu errors: %s", nerr, errs);
	assert_non_null(strstr(errs, "reading /proc/sys/kernel/big: File too large"));
	assert_non_null(strstr(errs, "not text: /proc/sys/kernel/bin"));
	assert_non_null(strstr(errs, "not a regular file: /proc/sys/kernel/fifo"));
	assert_non_null(strstr(errs, "not a regular file: /proc/sys/kernel/link"));
	assert_non_null(strstr(errs, "/etc/sysctl.conf:2: line is not text"));
	json_t *r = key_row(inv, "kernel.ok");
	assert_string_equal(col(r, "runtime_value"), "7");
	assert_string_equal(col(r, "configured_value"), "1");
	assert_null(find(inv, "sysctl", "key", "kernel.after"));
	inventory_free(inv);
	rm_root(root);
}

static void read_proc(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, (int)size, f));
	fclose(f);
	str_trim(out);
}

static void test_host(void **state)
{
	struct inventory *inv = collect_root("/", "sysctl");
	char want[256];
	assert_int_equal(error_text(inv, "sysctl", NULL, 0), 0);
	read_proc("/proc/sys/kernel/ostype", want, sizeof(want));
	assert_string_equal(col(key_row(inv, "kernel.ostype"), "runtime_value"), want);
	read_proc("/proc/sys/net/ipv4/ip_forward", want, sizeof(want));
	assert_string_equal(col(key_row(inv, "net.ipv4.ip_forward"), "runtime_value"), want);
	/* write-only parameters are skipped without an error */
	if (access("/proc/sys/vm/drop_caches", F_OK) == 0)
		assert_null(find(inv, "sysctl", "key", "vm.drop_caches"));
	inventory_free(inv);

	inv = collect_root("/", "packages");
	assert_int_equal(error_text(inv, "packages", NULL, 0), 0);
	if (access("/var/lib/dpkg/status", F_OK) == 0) {
		json_t *dpkg = find(inv, "packages", "name", "dpkg");
		assert_non_null(dpkg);
		assert_string_equal(col(dpkg, "source"), "dpkg");
	}
	inventory_free(inv);

	inv = collect_root("/", "kernel_modules");
	assert_int_equal(error_text(inv, "kernel_modules", NULL, 0), 0);
	json_t *cramfs = find(inv, "kernel_modules", "name", "cramfs");
	assert_non_null(cramfs);
	/* on the host, availability is always known */
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	_cleanup_free_ char *kdir = xasprintf("/lib/modules/%s/kernel", u.release);
	if (access(kdir, F_OK) != 0)
		assert_false(flag(cramfs, "available"));
	else
		assert_true(json_is_boolean(json_object_get(cramfs, "available")));
	inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpkg_status), cmocka_unit_test(test_dpkg_bad),
		cmocka_unit_test(test_rpm_header),  cmocka_unit_test(test_rpmdb),
		cmocka_unit_test(test_modules),	    cmocka_unit_test(test_sysctl),
		cmocka_unit_test(test_sysctl_bad),  cmocka_unit_test(test_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
