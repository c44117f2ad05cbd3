/* Unit tests for the account collectors (users, shadow, groups, duplicates, login_defs,
 * pwquality, pam, sudoers, sudoers_defaults, authorized_keys) over the fixture roots
 * tests/fixtures/accounts/{good,messy} and roots built in a temporary directory. */
#include "unit.h"

#include "inventory/authorized_keys.h"
#include "inventory/inventory.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char *fixture(const char *name)
{
	return xasprintf("%s/accounts/%s", getenv("IMMUNE_FIXTURES"), name);
}

static struct inventory *collect_root(const char *root, const char *only)
{
	struct inv_options opt = { .only_table = only, .skip_walk = true };
	struct inventory *inv;
	char msg[256] = "";
	assert_int_equal(inventory_collect(root, &opt, &inv), 0);
	if (inventory_validate(inv, msg, sizeof(msg)) < 0)
		fail_msg("%s", msg);
	return inv;
}

/* Collects every table of the account collectors, in the registered order. */
static struct inventory *collect_fixture(const char *name)
{
	_cleanup_free_ char *root = fixture(name);
	return collect_root(root, NULL);
}

/* Returns the only row of table whose columns equal the given string pairs (NULL-ended). */
static json_t *row_where(struct inventory *inv, const char *table, ...)
{
	json_t *found = NULL, *row;
	size_t i, matches = 0;

	json_array_foreach(inventory_rows(inv, table), i, row) {
		va_list ap;
		bool ok = true;
		va_start(ap, table);
		for (const char *col; ok && (col = va_arg(ap, const char *));) {
			const char *want = va_arg(ap, const char *);
			const char *have = json_string_value(json_object_get(row, col));
			ok = have && strcmp(have, want) == 0;
		}
		va_end(ap);
		if (ok) {
			found = row;
			matches++;
		}
	}
	if (matches != 1)
		fail_msg("%zu rows of %s match", matches, table);
	return found;
}

static size_t count_where(struct inventory *inv, const char *table, const char *col,
			  const char *value)
{
	json_t *row;
	size_t i, n = 0;
	json_array_foreach(inventory_rows(inv, table), i, row) {
		const char *have = json_string_value(json_object_get(row, col));
		n += have && strcmp(have, value) == 0;
	}
	return n;
}

static int64_t int_col(json_t *row, const char *col)
{
	json_t *v = json_object_get(row, col);
	if (!json_is_integer(v))
		fail_msg("column %s is not an integer", col);
	return json_integer_value(v);
}

static bool bool_col(json_t *row, const char *col)
{
	json_t *v = json_object_get(row, col);
	if (!json_is_boolean(v))
		fail_msg("column %s is not a boolean", col);
	return json_is_true(v);
}

static const char *str_col(json_t *row, const char *col)
{
	return json_string_value(json_object_get(row, col));
}

/* Returns true when an error row for table has a message containing text (and path). */
static bool has_error(struct inventory *inv, const char *table, const char *path, const char *text)
{
	json_t *errs = inventory_errors_for(inv, table), *row;
	size_t i;
	bool found = false;
	json_array_foreach(errs, i, row) {
		if ((!path || strcmp(str_col(row, "path"), path) == 0) &&
		    strstr(str_col(row, "error"), text))
			found = true;
	}
	json_decref(errs);
	return found;
}

static size_t error_count(struct inventory *inv, const char *table)
{
	json_t *errs = inventory_errors_for(inv, table);
	size_t n = json_array_size(errs);
	json_decref(errs);
	return n;
}

/* --- temporary roots --- */

static char *tmp_root(void)
{
	char *dir = xstrdup("/tmp/immune-accounts-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void mkdirs(const char *root, const char *rel)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
}

static void write_file(const char *root, const char *rel, const void *data, size_t len)
{
	mkdirs(root, rel);
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *root, const char *rel, const char *text)
{
	write_file(root, rel, text, strlen(text));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_root(char *root)
{
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
}

/* --- users, shadow, groups, duplicates --- */

static void test_users(void **state)
{
	struct inventory *inv = collect_fixture("good");
	_cleanup_free_ char *root = fixture("good");
	_cleanup_free_ char *alice_home = xasprintf("%s/home/alice", root);
	struct stat st;

	assert_int_equal(json_array_size(inventory_rows(inv, "users")), 7);
	json_t *alice = row_where(inv, "users", "name", "alice", NULL);
	assert_int_equal(int_col(alice, "uid"), 1000);
	assert_int_equal(int_col(alice, "gid"), 1000);
	assert_string_equal(str_col(alice, "gecos"), "Alice Example,,,");
	assert_string_equal(str_col(alice, "home"), "/home/alice");
	assert_true(bool_col(alice, "interactive"));
	assert_false(bool_col(alice, "system"));
	assert_true(bool_col(alice, "home_exists"));
	assert_int_equal(stat(alice_home, &st), 0);
	assert_int_equal(int_col(alice, "home_mode"), st.st_mode & 07777);
	assert_int_equal(int_col(alice, "home_owner_uid"), st.st_uid);
	assert_string_equal(str_col(alice, "file"), "/etc/passwd");
	assert_int_equal(int_col(alice, "line"), 5);

	json_t *svc = row_where(inv, "users", "name", "svc", NULL);
	assert_true(bool_col(svc, "system"));
	assert_false(bool_col(svc, "interactive")); /* /bin/false */
	assert_false(bool_col(row_where(inv, "users", "name", "daemon", NULL), "interactive"));
	assert_false(bool_col(row_where(inv, "users", "name", "sync", NULL), "interactive"));
	assert_true(bool_col(row_where(inv, "users", "name", "bob", NULL), "interactive"));
	json_t *carol = row_where(inv, "users", "name", "carol", NULL);
	assert_false(bool_col(carol, "interactive")); /* empty shell */
	assert_false(bool_col(carol, "home_exists"));
	assert_null(json_object_get(carol, "home_mode"));
	assert_int_equal(error_count(inv, "users"), 0);
	inventory_free(inv);
}

static void test_uid_min(void **state)
{
	/* The messy root sets UID_MIN 500 (then an empty UID_MIN, ignored). */
	struct inventory *inv = collect_fixture("messy");
	assert_false(bool_col(row_where(inv, "users", "name", "mallory", NULL), "system"));
	inventory_free(inv);

	/* Collecting only users still reads login.defs first. */
	_cleanup_free_ char *root = fixture("messy");
	inv = collect_root(root, "users");
	assert_false(bool_col(row_where(inv, "users", "name", "mallory", NULL), "system"));
	inventory_free(inv);

	/* Without UID_MIN, the default of 1000 applies. */
	char *tmp = tmp_root();
	write_text(tmp, "etc/passwd", "a:x:999:999::/:/bin/sh\nb:x:1000:1000::/:/bin/sh\n");
	write_text(tmp, "etc/login.defs", "UID_MAX 60000\n");
	inv = collect_root(tmp, "users");
	assert_true(bool_col(row_where(inv, "users", "name", "a", NULL), "system"));
	assert_false(bool_col(row_where(inv, "users", "name", "b", NULL), "system"));
	inventory_free(inv);
	rm_root(tmp);
}

static void test_shadow(void **state)
{
	struct inventory *inv = collect_fixture("good");
	static const struct {
		const char *name, *status, *algo;
	} want[] = {
		{ "root", "set", "yescrypt" },	{ "daemon", "disabled", "none" },
		{ "sync", "disabled", "none" }, { "svc", "disabled", "none" },
		{ "alice", "set", "sha512" },	{ "bob", "locked", "sha256" },
		{ "carol", "set", "bcrypt" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_t *row = row_where(inv, "shadow", "name", want[i].name, NULL);
		assert_string_equal(str_col(row, "password_status"), want[i].status);
		assert_string_equal(str_col(row, "hash_algorithm"), want[i].algo);
	}
	json_t *alice = row_where(inv, "shadow", "name", "alice", NULL);
	assert_int_equal(int_col(alice, "last_change"), 19800);
	assert_int_equal(int_col(alice, "min_days"), 1);
	assert_int_equal(int_col(alice, "max_days"), 365);
	assert_int_equal(int_col(alice, "warn_days"), 7);
	assert_int_equal(int_col(alice, "inactive_days"), 30);
	assert_int_equal(int_col(alice, "expire"), 20500);
	assert_false(bool_col(alice, "last_change_in_future"));

	json_t *bob = row_where(inv, "shadow", "name", "bob", NULL);
	assert_true(bool_col(bob, "last_change_in_future")); /* day 99999 */
	assert_null(json_object_get(bob, "inactive_days"));  /* -1 */
	assert_null(json_object_get(bob, "expire"));	     /* empty */
	json_t *sync = row_where(inv, "shadow", "name", "sync", NULL);
	assert_null(json_object_get(sync, "max_days"));
	assert_int_equal(error_count(inv, "shadow"), 0);
	inventory_free(inv);
}

static void test_shadow_messy(void **state)
{
	struct inventory *inv = collect_fixture("messy");
	json_t *root = row_where(inv, "shadow", "name", "root", NULL);
	assert_string_equal(str_col(root, "password_status"), "empty");
	assert_string_equal(str_col(root, "hash_algorithm"), "none");
	assert_string_equal(
		str_col(row_where(inv, "shadow", "name", "toor", NULL), "hash_algorithm"), "md5");
	assert_string_equal(
		str_col(row_where(inv, "shadow", "name", "mallory", NULL), "hash_algorithm"),
		"des");
	assert_string_equal(
		str_col(row_where(inv, "shadow", "name", "zed", NULL), "password_status"),
		"disabled");
	/* eve's min_days is "x"; trunc's line is cut after the hash. */
	assert_int_equal(count_where(inv, "shadow", "name", "eve"), 0);
	assert_int_equal(count_where(inv, "shadow", "name", "trunc"), 0);
	assert_true(has_error(inv, "shadow", "/etc/shadow", "line 4: min_days is not a number"));
	assert_true(has_error(inv, "shadow", "/etc/shadow", "line 6: 2 fields, expected 9"));

	/* No password hash reaches the inventory, not even in an error message. */
	_cleanup_free_ char *dump = json_dumps(inv->tables, 0);
	assert_null(strstr(dump, "$1$salt"));
	assert_null(strstr(dump, "abcdefghijklm"));
	assert_null(strstr(dump, "$6$abc"));
	inventory_free(inv);

	inv = collect_fixture("good");
	free(dump);
	dump = json_dumps(inv->tables, 0);
	assert_null(strstr(dump, "saltsalt"));
	assert_null(strstr(dump, "hashhash"));
	inventory_free(inv);
}

static void test_users_messy(void **state)
{
	struct inventory *inv = collect_fixture("messy");
	assert_int_equal(json_array_size(inventory_rows(inv, "users")), 5);
	assert_true(has_error(inv, "users", "/etc/passwd", "line 5: uid or gid is not a number"));
	assert_true(has_error(inv, "users", "/etc/passwd", "line 6: 4 fields, expected 7"));
	assert_true(has_error(inv, "users", "/etc/passwd", "line 9: not text"));
	assert_int_equal(error_count(inv, "users"), 3); /* the NIS "+" line is not an error */
	inventory_free(inv);
}

static void test_groups(void **state)
{
	struct inventory *inv = collect_fixture("good");
	json_t *sudo = row_where(inv, "groups", "name", "sudo", NULL);
	assert_int_equal(int_col(sudo, "gid"), 27);
	assert_string_equal(str_col(sudo, "members"), "alice,bob");
	assert_string_equal(str_col(sudo, "password_status"), "locked");
	assert_string_equal(
		str_col(row_where(inv, "groups", "name", "root", NULL), "password_status"),
		"disabled");
	assert_string_equal(
		str_col(row_where(inv, "groups", "name", "bob", NULL), "password_status"), "empty");
	assert_string_equal(
		str_col(row_where(inv, "groups", "name", "carol", NULL), "password_status"), "set");
	assert_int_equal(error_count(inv, "groups"), 0);
	assert_int_equal(json_array_size(inventory_rows(inv, "duplicates")), 0);
	assert_int_equal(error_count(inv, "duplicates"), 0);
	inventory_free(inv);

	/* Without gshadow, password_status is absent. */
	inv = collect_fixture("messy");
	assert_null(json_object_get(row_where(inv, "groups", "name", "wheel", NULL),
				    "password_status"));
	assert_true(has_error(inv, "groups", "/etc/group", "line 5: gid is not a number"));
	inventory_free(inv);
}

static void test_duplicates(void **state)
{
	struct inventory *inv = collect_fixture("messy");
	static const struct {
		const char *kind, *value, *names;
	} want[] = {
		{ "uid", "0", "root,toor" },
		{ "gid", "10", "wheel,staff" },
		{ "user_name", "eve", "eve,eve" },
		{ "group_name", "staff", "staff,staff" },
	};
	assert_int_equal(json_array_size(inventory_rows(inv, "duplicates")), ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_t *row = row_where(inv, "duplicates", "kind", want[i].kind, NULL);
		assert_string_equal(str_col(row, "value"), want[i].value);
		assert_int_equal(int_col(row, "count"), 2);
		assert_string_equal(str_col(row, "names"), want[i].names);
	}
	/* passwd and group had bad lines: duplicates may be incomplete, so it is an error. */
	assert_true(has_error(inv, "duplicates", NULL, "incomplete"));
	inventory_free(inv);
}

static void test_unreadable(void **state)
{
	char *root = tmp_root();
	size_t big = 4 * 1024 * 1024 + 1;
	char *data = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (i % 40 == 39) ? '\n' : 'a';
	write_file(root, "etc/passwd", data, big);
	free(data);
	_cleanup_free_ char *fifo = xasprintf("%s/etc/shadow", root);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	mkdirs(root, "etc/group/x");
	mkdirs(root, "etc/sudoers/x");

	struct inventory *inv = collect_root(root, NULL);
	assert_int_equal(json_array_size(inventory_rows(inv, "users")), 0);
	assert_true(has_error(inv, "users", "/etc/passwd", "reading /etc/passwd"));
	assert_true(has_error(inv, "shadow", "/etc/shadow", "reading /etc/shadow"));
	assert_true(has_error(inv, "groups", "/etc/group", "reading /etc/group"));
	assert_true(has_error(inv, "duplicates", NULL, "incomplete"));
	assert_true(has_error(inv, "authorized_keys", NULL, "users incomplete"));
	assert_int_equal(error_count(inv, "sudoers"), 1);
	assert_int_equal(error_count(inv, "sudoers_defaults"), 1);
	inventory_free(inv);
	rm_root(root);
}

/* --- login_defs, pwquality, pam --- */

static void test_kv_tables(void **state)
{
	struct inventory *inv = collect_fixture("good");
	json_t *row = row_where(inv, "login_defs", "key", "PASS_MAX_DAYS", NULL);
	assert_string_equal(str_col(row, "value"), "365");
	assert_string_equal(str_col(row, "file"), "/etc/login.defs");
	assert_int_equal(int_col(row, "line"), 3);
	assert_int_equal(json_array_size(inventory_rows(inv, "login_defs")), 7);

	/* pwquality.conf, then the .conf files of pwquality.conf.d (not README). */
	assert_int_equal(json_array_size(inventory_rows(inv, "pwquality")), 5);
	assert_string_equal(str_col(row_where(inv, "pwquality", "key", "minlen", NULL), "value"),
			    "14");
	assert_string_equal(str_col(row_where(inv, "pwquality", "key", "dcredit", NULL), "value"),
			    "-1");
	row = row_where(inv, "pwquality", "key", "minclass", NULL);
	assert_string_equal(str_col(row, "file"), "/etc/security/pwquality.conf.d/50-local.conf");
	assert_int_equal(count_where(inv, "pwquality", "key", "ignored"), 0);
	inventory_free(inv);
}

static void test_pam(void **state)
{
	struct inventory *inv = collect_fixture("good");
	assert_int_equal(json_array_size(inventory_rows(inv, "pam")), 10);
	json_t *row = row_where(inv, "pam", "module", "pam_unix.so", NULL);
	assert_string_equal(str_col(row, "service"), "common-auth");
	assert_string_equal(str_col(row, "type"), "auth");
	assert_string_equal(str_col(row, "control"), "[success=1 default=ignore]");
	assert_string_equal(str_col(row, "arguments"), "nullok");
	assert_int_equal(int_col(row, "line"), 2);

	row = row_where(inv, "pam", "module", "pam_faillock.so", NULL); /* continued line */
	assert_string_equal(str_col(row, "arguments"), "authfail deny=5 unlock_time=900");
	assert_int_equal(int_col(row, "line"), 6);

	row = row_where(inv, "pam", "service", "sshd", "type", "include", NULL);
	assert_string_equal(str_col(row, "control"), "include");
	assert_string_equal(str_col(row, "module"), "common-auth");

	row = row_where(inv, "pam", "module", "pam_systemd.so", NULL);
	assert_string_equal(str_col(row, "type"), "session"); /* "-session" */
	row = row_where(inv, "pam", "module", "pam_selinux.so", NULL);
	assert_string_equal(str_col(row, "control"),
			    "[success=ok ignore=ignore module_unknown=ignore default=bad]");
	assert_string_equal(str_col(row, "arguments"), "close");
	row = row_where(inv, "pam", "module", "pam_pwquality.so", NULL);
	assert_string_equal(str_col(row, "arguments"), "retry=3 [badwords=secret word]");
	row = row_where(inv, "pam", "service", "sshd", "type", "password", "control", "include",
			NULL);
	assert_string_equal(str_col(row, "module"), "common-password");
	assert_int_equal(error_count(inv, "pam"), 0);
	inventory_free(inv);

	inv = collect_fixture("messy");
	assert_int_equal(json_array_size(inventory_rows(inv, "pam")), 1);
	assert_true(has_error(inv, "pam", "/etc/pam.d/login", "line 2: expected type"));
	assert_true(has_error(inv, "pam", "/etc/pam.d/login", "line 3: expected type"));
	assert_true(has_error(inv, "pam", "/etc/pam.d/login", "line 4: not text"));
	inventory_free(inv);
}

/* --- sudoers --- */

static json_t *sudo_rule(struct inventory *inv, const char *user, const char *host,
			 const char *command)
{
	return row_where(inv, "sudoers", "user", user, "host", host, "command", command, NULL);
}

static void test_sudoers(void **state)
{
	struct inventory *inv = collect_fixture("good");
	assert_int_equal(json_array_size(inventory_rows(inv, "sudoers")), 27);
	assert_int_equal(error_count(inv, "sudoers"), 0);

	json_t *r = sudo_rule(inv, "root", "ALL", "ALL");
	assert_string_equal(str_col(r, "runas"), "ALL:ALL");
	assert_false(bool_col(r, "nopasswd"));
	assert_string_equal(str_col(r, "file"), "/etc/sudoers");
	assert_int_equal(int_col(r, "line"), 23);

	/* OPS = ADMINS (alice, %wheel), carol; NOPASSWD carries to REBOOT's two commands,
	 * PASSWD: switches it off again for apt. */
	static const char *const ops[] = { "alice", "%wheel", "carol" };
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		r = sudo_rule(inv, ops[i], "ALL", "/sbin/reboot");
		assert_true(bool_col(r, "nopasswd"));
		assert_string_equal(str_col(r, "runas"), "root");
		assert_true(bool_col(sudo_rule(inv, ops[i], "ALL", "/sbin/shutdown -h now"),
				     "nopasswd"));
		assert_false(
			bool_col(sudo_rule(inv, ops[i], "ALL", "/usr/bin/apt update"), "nopasswd"));
	}

	/* Host and run-as aliases, a continued line, then a second host spec after ':'. */
	static const char *const hosts[] = { "db1", "db2" };
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		r = sudo_rule(inv, "bob", hosts[i], "/usr/bin/mysql");
		assert_string_equal(str_col(r, "runas"), "postgres,mysql");
		assert_true(bool_col(r, "nopasswd"));
		assert_int_equal(int_col(r, "line"), 26);
	}
	r = sudo_rule(inv, "bob", "ALL", "/usr/bin/systemctl restart nginx");
	assert_string_equal(str_col(r, "runas"), "root");
	assert_false(bool_col(r, "nopasswd"));

	/* Negated commands, through an alias too. */
	assert_false(bool_col(sudo_rule(inv, "dave", "ALL", "ALL"), "negated"));
	assert_true(bool_col(sudo_rule(inv, "erin", "ALL", "/bin/bash"), "negated"));
	assert_true(bool_col(sudo_rule(inv, "dave", "ALL", "/usr/bin/su"), "negated"));

	/* "#1005" is a uid, not a comment; the digest is not part of the command. */
	r = sudo_rule(inv, "#1005", "ALL", "/usr/bin/id");
	assert_true(bool_col(r, "nopasswd"));

	/* @includedir: admins read, README.txt and admins~ skipped; #include ../ relative. */
	r = sudo_rule(inv, "frank", "ALL", "ALL");
	assert_string_equal(str_col(r, "file"), "/etc/sudoers.d/admins");
	assert_true(bool_col(r, "nopasswd"));
	r = sudo_rule(inv, "grace", "ALL", "/usr/bin/journalctl");
	assert_string_equal(str_col(r, "file"), "/etc/sudoers.d/../sudo-extra/grace");
	assert_int_equal(count_where(inv, "sudoers", "user", "nobody"), 0);
	inventory_free(inv);
}

static void test_sudoers_defaults(void **state)
{
	struct inventory *inv = collect_fixture("good");
	static const struct {
		const char *name, *value, *scope;
	} want[] = {
		{ "env_reset", "true", "" },
		{ "use_pty", "true", "" },
		{ "logfile", "/var/log/sudo.log", "" },
		{ "lecture", "false", "" },
		{ "timestamp_timeout", "5", "" },
		{ "secure_path", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		  "" },
		{ "env_keep", "LANG LC_ALL", "" },
		{ "requiretty", "false", ":%wheel,bob" },
		{ "authenticate", "false", "@db1" },
		{ "set_logname", "false", ">root" },
		{ "noexec", "true", "!/usr/bin/less" },
	};
	assert_int_equal(json_array_size(inventory_rows(inv, "sudoers_defaults")), 12);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_t *r = row_where(inv, "sudoers_defaults", "name", want[i].name, NULL);
		assert_string_equal(str_col(r, "value"), want[i].value);
		assert_string_equal(str_col(r, "scope"), want[i].scope);
	}
	assert_int_equal(
		int_col(row_where(inv, "sudoers_defaults", "name", "lecture", NULL), "line"), 8);
	assert_int_equal(error_count(inv, "sudoers_defaults"), 0);
	inventory_free(inv);
}

static void test_sudoers_messy(void **state)
{
	struct inventory *inv = collect_fixture("messy");
	/* Include loop a -> b -> a, reported where it closes. */
	assert_true(has_error(inv, "sudoers", "/etc/sudoers.d/b", "line 2: include loop"));
	assert_true(has_error(inv, "sudoers_defaults", "/etc/sudoers.d/b", "include loop"));
	assert_true(has_error(inv, "sudoers", "/etc/sudoers", "line 8: including /etc/missing"));
	assert_true(has_error(inv, "sudoers", "/etc/sudoers", "line 9: not text"));
	assert_true(has_error(inv, "sudoers_defaults", "/etc/sudoers", "line 9: not text"));
	assert_true(has_error(inv, "sudoers", "/etc/sudoers", "line 4: aliases nested too deep"));
	assert_true(has_error(inv, "sudoers", "/etc/sudoers", "line 6: malformed"));

	/* What could be read is still there, each file once. */
	assert_true(bool_col(sudo_rule(inv, "mallory", "ALL", "ALL"), "nopasswd"));
	assert_string_equal(str_col(sudo_rule(inv, "eve", "ALL", "/usr/bin/vi"), "file"),
			    "/etc/sudoers.d/a");
	sudo_rule(inv, "mallory", "ALL", "/usr/bin/less");
	sudo_rule(inv, "eve", "ALL", "ALL");
	assert_int_equal(json_array_size(inventory_rows(inv, "sudoers")), 4);
	assert_int_equal(json_array_size(inventory_rows(inv, "sudoers_defaults")), 1);
	inventory_free(inv);
}

static void test_sudoers_depth(void **state)
{
	char *root = tmp_root();
	write_text(root, "etc/sudoers", "u0 ALL = /bin/true0\n@include s/f1\n");
	for (int i = 1; i <= 12; i++) {
		_cleanup_free_ char *rel = xasprintf("etc/s/f%d", i);
		_cleanup_free_ char *text =
			xasprintf("u%d ALL = /bin/true%d\n#include f%d\n", i, i, i + 1);
		write_text(root, rel, text);
	}
	struct inventory *inv = collect_root(root, "sudoers");
	/* /etc/sudoers plus 8 levels of includes. */
	assert_int_equal(json_array_size(inventory_rows(inv, "sudoers")), 9);
	sudo_rule(inv, "u8", "ALL", "/bin/true8");
	assert_int_equal(count_where(inv, "sudoers", "user", "u9"), 0);
	assert_true(has_error(inv, "sudoers", "/etc/s/f8", "nested deeper than 8"));
	inventory_free(inv);
	rm_root(root);
}

static void test_sudoers_syntax(void **state)
{
	char *root = tmp_root();
	write_text(root, "etc/sudoers",
		   "Cmnd_Alias  A = /bin/a, B\n"
		   "Cmnd_Alias  B = /bin/b\\, with comma, !/bin/c : C = /bin/x\n"
		   "User_Alias  U = u1, !u2\n"
		   "Defaults\tenv_keep -= \"HOME\" , !fqdn,\\\n  passwd_tries=2\n"
		   "U h1, h2 = (alice, bob : staff) SETENV: NOPASSWD: !A, \\\n"
		   "   CWD=/tmp /usr/bin/env\n"
		   "%\"domain users\" ALL = (:adm) /usr/bin/tail\n");
	struct inventory *inv = collect_root(root, "sudoers");
	assert_int_equal(error_count(inv, "sudoers"), 0);
	/* 2 users x 2 hosts x (3 commands of !A + env) */
	assert_int_equal(json_array_size(inventory_rows(inv, "sudoers")), 17);
	json_t *r = sudo_rule(inv, "!u2", "h2", "/bin/b, with comma");
	assert_true(bool_col(r, "negated"));
	assert_true(bool_col(r, "nopasswd"));
	assert_string_equal(str_col(r, "runas"), "alice,bob:staff");
	assert_false(bool_col(sudo_rule(inv, "u1", "h1", "/bin/c"), "negated")); /* !!/bin/c */
	r = sudo_rule(inv, "u1", "h1", "/usr/bin/env");
	assert_false(bool_col(r, "negated"));
	assert_true(bool_col(r, "nopasswd"));
	assert_string_equal(str_col(r, "runas"), "alice,bob:staff");
	assert_string_equal(
		str_col(sudo_rule(inv, "%domain users", "ALL", "/usr/bin/tail"), "runas"), ":adm");

	assert_string_equal(
		str_col(row_where(inv, "sudoers_defaults", "name", "env_keep", NULL), "value"),
		"HOME");
	assert_string_equal(
		str_col(row_where(inv, "sudoers_defaults", "name", "fqdn", NULL), "value"),
		"false");
	json_t *d = row_where(inv, "sudoers_defaults", "name", "passwd_tries", NULL);
	assert_string_equal(str_col(d, "value"), "2");
	assert_int_equal(int_col(d, "line"), 4);
	inventory_free(inv);
	rm_root(root);
}

/* --- authorized_keys --- */

static void test_authorized_keys(void **state)
{
	struct inventory *inv = collect_fixture("good");
	_cleanup_free_ char *root = fixture("good");
	_cleanup_free_ char *path = xasprintf("%s/home/bob/.ssh/authorized_keys", root);
	struct stat st;
	static const struct {
		const char *user, *type;
		int bits;
		const char *fp, *comment;
	} want[] = {
		/* fingerprints as printed by ssh-keygen -lf for the keys in the fixture */
		{ "alice", "ssh-ed25519", 256, "SHA256:OPqflFs1TWYWXXaUBhifR7TayAinddVi/UtlhP9GcuY",
		  "alice@laptop" },
		{ "alice", "ecdsa-sha2-nistp384", 384,
		  "SHA256:+U56LVCchEw1UZac3iBZU588vjO+UNH48pXh3oG2+B8", "ec" },
		{ "bob", "ssh-rsa", 3072, "SHA256:SCCcpbnQ/tMevV6fNU4iUEUdf8Qza0COoaE6EUFAGcg",
		  "bob key" },
		{ "bob", "ssh-dss", 1024, "SHA256:pUdqQd8TH8h8Ku8Tlu3mcDjl2+KuSCDsQQ1p0aUbfhk",
		  "" },
		{ "root", "sk-ssh-ed25519@openssh.com", 256,
		  "SHA256:/p0CbeE3dk2SyW1OXXsThGc12ezDVD8eGw2/vtztDfk", "sk key" },
		{ "root", "ssh-ed25519-cert-v01@openssh.com", 256,
		  "SHA256:OPqflFs1TWYWXXaUBhifR7TayAinddVi/UtlhP9GcuY", "alice@laptop" },
	};
	assert_int_equal(json_array_size(inventory_rows(inv, "authorized_keys")), ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_t *r = row_where(inv, "authorized_keys", "user", want[i].user, "type",
				      want[i].type, NULL);
		assert_int_equal(int_col(r, "bits"), want[i].bits);
		assert_string_equal(str_col(r, "fingerprint"), want[i].fp);
		assert_string_equal(str_col(r, "comment"), want[i].comment);
	}
	json_t *r = row_where(inv, "authorized_keys", "type", "ssh-rsa", NULL);
	assert_string_equal(str_col(r, "options"),
			    "from=\"10.0.0.1,192.168.1.0/24\",command=\"/usr/bin/rsync --server "
			    "-e.Lsfx . /backup\",no-pty");
	assert_string_equal(str_col(r, "file"), "/home/bob/.ssh/authorized_keys");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(int_col(r, "file_mode"), st.st_mode & 07777);
	r = row_where(inv, "authorized_keys", "type", "ssh-dss", NULL);
	assert_string_equal(str_col(r, "file"), "/home/bob/.ssh/authorized_keys2");
	r = row_where(inv, "authorized_keys", "type", "ecdsa-sha2-nistp384", NULL);
	assert_int_equal(int_col(r, "line"), 4); /* after a comment and a blank line */
	assert_int_equal(error_count(inv, "authorized_keys"), 0);
	inventory_free(inv);

	/* Collecting only authorized_keys still finds the accounts whose files to read. */
	inv = collect_root(root, "authorized_keys");
	assert_int_equal(json_array_size(inventory_rows(inv, "authorized_keys")), ARRAY_SIZE(want));
	inventory_free(inv);
}

static void test_authorized_keys_messy(void **state)
{
	struct inventory *inv = collect_fixture("messy");
	const char *path = "/home/mallory/.ssh/authorized_keys";
	assert_int_equal(json_array_size(inventory_rows(inv, "authorized_keys")), 2);
	json_t *r = row_where(inv, "authorized_keys", "type", "ssh-ed25519", NULL);
	assert_string_equal(str_col(r, "options"), "no-port-forwarding,command=\"echo \\\"hi, "
						   "there\\\"\"");
	assert_string_equal(str_col(r, "user"), "mallory");
	assert_int_equal(
		int_col(row_where(inv, "authorized_keys", "type", "ssh-rsa", NULL), "line"), 6);
	assert_true(has_error(inv, "authorized_keys", path, "line 2: key data"));
	assert_true(has_error(inv, "authorized_keys", path, "line 3: unknown key type"));
	assert_true(has_error(inv, "authorized_keys", path, "line 4: unterminated quote"));
	assert_true(has_error(inv, "authorized_keys", path,
			      "line 5: key data")); /* rsa name, ed blob */
	assert_true(has_error(inv, "authorized_keys", "/home/eve/.ssh/authorized_keys",
			      "Is a directory"));
	inventory_free(inv);
}

static void test_authkey_parse(void **state)
{
	struct authkey k = { 0 };
	const char *why = NULL;
	static const char ed[] =
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJLwW/C4BKyb2kJmiACS6prD+R5WdT"
		"G+ArteeTs240dX";

	assert_int_equal(authkey_parse("", 0, &k, &why), 1);
	assert_int_equal(authkey_parse("  # note", 8, &k, &why), 1);
	assert_int_equal(authkey_parse(ed, strlen(ed), &k, &why), 0);
	assert_string_equal(k.options, "");
	assert_string_equal(k.comment, "");
	assert_int_equal(k.bits, 256);
	authkey_clear(&k);

	/* Truncated blob, trailing bytes, bad padding, NUL byte: all refused. */
	static const char *const bad[] = {
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJLwW/C4BKyb2kJmiACS6prD+R5WdTG+Artee",
		"ssh-ed25519 "
		"AAAAC3NzaC1lZDI1NTE5AAAAIJLwW/C4BKyb2kJmiACS6prD+R5WdTG+ArteeTs240dXAA==",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJLwW/C4BKyb2kJmiACS6prD+R5WdTG+ArteeTs240dX=",
		"ssh-ed25519",
		"from=\"x\"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		assert_int_equal(authkey_parse(bad[i], strlen(bad[i]), &k, &why), -EBADMSG);
		assert_non_null(why);
	}
	char nul[] = "ssh-ed25519 AAAA\0 x";
	assert_int_equal(authkey_parse(nul, sizeof(nul) - 1, &k, &why), -EBADMSG);
	authkey_clear(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_uid_min),
		cmocka_unit_test(test_users_messy),
		cmocka_unit_test(test_shadow),
		cmocka_unit_test(test_shadow_messy),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_kv_tables),
		cmocka_unit_test(test_pam),
		cmocka_unit_test(test_sudoers),
		cmocka_unit_test(test_sudoers_defaults),
		cmocka_unit_test(test_sudoers_messy),
		cmocka_unit_test(test_sudoers_depth),
		cmocka_unit_test(test_sudoers_syntax),
		cmocka_unit_test(test_authorized_keys),
		cmocka_unit_test(test_authorized_keys_messy),
		cmocka_unit_test(test_authkey_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
