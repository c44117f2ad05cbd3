/* Unit tests for the sshd_config collector, over fixture roots in tests/fixtures/sshd/. */
#include "inv_helpers.h"

#include "inventory/inventory.h"
#include "inventory/parsers.h"
#include "lib/str.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#define T "sshd_config"

static struct inventory *collect(const char *fixture)
{
	_cleanup_free_ char *root = xasprintf("%s/sshd/%s", getenv("IMMUNE_FIXTURES"), fixture);
	return collect_root(root, T);
}

/* Returns the row for key in the given match context, failing when there are several. */
static json_t *setting(struct inventory *inv, const char *key, const char *match)
{
	json_t *rows = inventory_rows(inv, T), *row, *found = NULL;
	size_t i;
	json_array_foreach(rows, i, row) {
		if (strcmp(json_string_value(json_object_get(row, "key")), key) ||
		    strcmp(json_string_value(json_object_get(row, "match")), match))
			continue;
		if (found)
			fail_msg("two rows for %s in '%s'", key, match);
		found = row;
	}
	return found;
}

static const char *value(struct inventory *inv, const char *key, const char *match)
{
	json_t *row = setting(inv, key, match);
	if (!row)
		fail_msg("no row for %s in '%s'", key, match);
	return json_string_value(json_object_get(row, "value"));
}

static const char *col(json_t *row, const char *column)
{
	return json_string_value(json_object_get(row, column));
}

static void test_first_wins_and_includes(void **state)
{
	struct inventory *inv = collect("basic");
	char errs[2048];
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 0);

	/* the drop-in is included before the main file's own settings: its values win */
	json_t *row = setting(inv, "permitrootlogin", "");
	assert_string_equal(col(row, "value"), "no");
	assert_string_equal(col(row, "source"), "file");
	assert_string_equal(col(row, "file"), "/etc/ssh/sshd_config.d/10-hardening.conf");
	assert_int_equal(json_integer_value(json_object_get(row, "line")), 1);
	assert_string_equal(value(inv, "maxauthtries", ""), "4");
	assert_string_equal(value(inv, "permitemptypasswords", ""), "no"); /* NO lower-cased */
	/* a Match in an included file ends with that file */
	assert_string_equal(value(inv, "hostbasedauthentication", ""), "no");
	assert_string_equal(col(setting(inv, "hostbasedauthentication", ""), "source"), "file");
	/* README does not match *.conf */
	assert_string_equal(value(inv, "x11forwarding", ""), "yes");
	assert_string_equal(value(inv, "usepam", ""), "yes");
	assert_string_equal(value(inv, "printmotd", ""), "no");
	assert_string_equal(value(inv, "kbdinteractiveauthentication", ""), "no");
	/* ChallengeResponseAuthentication is an alias: the earlier KbdInteractive line won */
	assert_null(setting(inv, "challengeresponseauthentication", ""));
	assert_null(setting(inv, "protocol", ""));
	inventory_free(inv);
}

static void test_values(void **state)
{
	struct inventory *inv = collect("basic");
	/* list keywords accumulate, in order, key=value and tab-indented forms included */
	assert_string_equal(value(inv, "port", ""), "22 2222");
	assert_string_equal(value(inv, "acceptenv", ""), "LANG LC_* XMODIFIERS");
	assert_string_equal(value(inv, "allowusers", ""), "alice bob carol");
	assert_string_equal(value(inv, "subsystem", ""), "sftp /usr/lib/openssh/sftp-server");
	/* times in seconds, as sshd -T prints them */
	assert_string_equal(value(inv, "clientaliveinterval", ""), "300");
	assert_string_equal(value(inv, "logingracetime", ""), "90");
	/* quotes group an argument; a '#' word starts a comment */
	assert_string_equal(value(inv, "banner", ""), "/etc/issue net");
	assert_string_equal(value(inv, "ciphers", ""), "aes256-gcm@openssh.com,aes128-ctr");
	assert_string_equal(value(inv, "loglevel", ""), "VERBOSE");
	/* algorithm lists edited relative to the default, as sshd -T prints them */
	assert_string_equal(value(inv, "kexalgorithms", ""),
			    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
			    "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384");
	const char *macs = value(inv, "macs", "");
	assert_true(str_has_prefix(macs, "umac-64-etm@openssh.com,"));
	assert_true(str_has_suffix(macs, ",hmac-sha2-512,hmac-sha1,hmac-md5"));
	assert_true(str_list_has(macs, "hmac-md5", ",", false));
	const char *hka = value(inv, "hostkeyalgorithms", "");
	assert_true(str_has_prefix(hka, "ssh-rsa,ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,"));
	assert_true(str_has_suffix(hka, ",rsa-sha2-512,rsa-sha2-256"));
	assert_null(strstr(hka + strlen("ssh-rsa,ssh-ed25519,"), ",ssh-ed25519,"));
	inventory_free(inv);
}

static void test_match_blocks(void **state)
{
	struct inventory *inv = collect("basic");
	assert_string_equal(value(inv, "x11forwarding", "Group admins"), "yes");
	/* first wins inside a Match block too */
	assert_string_equal(value(inv, "passwordauthentication", "User backup"), "no");
	/* an Include inside a Match block belongs to it */
	json_t *row = setting(inv, "forcecommand", "User backup");
	assert_non_null(row);
	assert_string_equal(col(row, "value"), "/usr/bin/backup");
	assert_string_equal(col(row, "file"), "/etc/ssh/extra.conf");
	assert_string_equal(value(inv, "permitrootlogin", "Address 10.0.0.0/8,192.168.0.0/16"),
			    "prohibit-password");
	assert_string_equal(value(inv, "allowtcpforwarding", "Address 10.0.0.0/8,192.168.0.0/16"),
			    "no");
	/* Match settings do not change the global context */
	assert_string_equal(value(inv, "allowtcpforwarding", ""), "yes");
	assert_string_equal(value(inv, "forcecommand", ""), "none");
	inventory_free(inv);
}

static void test_defaults(void **state)
{
	struct inventory *inv = collect("basic");
	static const char *const defaults[][2] = {
		{ "passwordauthentication", "yes" },
		{ "maxsessions", "10" },
		{ "maxstartups", "10:30:100" },
		{ "clientalivecountmax", "3" },
		{ "ignorerhosts", "yes" },
		{ "permituserenvironment", "no" },
		{ "gssapiauthentication", "no" },
		{ "disableforwarding", "no" },
		{ "allowagentforwarding", "yes" },
		{ "permittunnel", "no" },
		{ "compression", "yes" },
		{ "pubkeyauthentication", "yes" },
		{ "syslogfacility", "AUTH" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		json_t *row = setting(inv, defaults[i][0], "");
		if (!row)
			fail_msg("no default for %s", defaults[i][0]);
		assert_string_equal(col(row, "value"), defaults[i][1]);
		assert_string_equal(col(row, "source"), "default");
		assert_null(json_object_get(row, "file"));
	}
	assert_true(strstr(value(inv, "kexalgorithms", ""), "sntrup761x25519-sha512@openssh.com"));
	assert_true(strstr(value(inv, "macs", ""), "hmac-sha2-256-etm@openssh.com"));
	/* no default row for keywords without a default, nor for a set keyword */
	assert_null(setting(inv, "denyusers", ""));
	assert_string_equal(col(setting(inv, "maxauthtries", ""), "source"), "file");
	inventory_free(inv);

	/* with an empty configuration, the OpenSSH defaults */
	struct inv_ctx ctx = { .tables = json_object() };
	struct fsroot *root;
	assert_int_equal(fsroot_new(getenv("IMMUNE_FIXTURES"), &root), 0);
	ctx.root = root;
	sshd_config_parse_buffer(&ctx, "/etc/ssh/sshd_config", "", 0);
	json_t *rows = json_object_get(ctx.tables, T), *row;
	size_t i;
	bool seen_root = false;
	json_array_foreach(rows, i, row) {
		assert_string_equal(col(row, "source"), "default");
		if (strcmp(col(row, "key"), "permitrootlogin") == 0) {
			assert_string_equal(col(row, "value"), "prohibit-password");
			seen_root = true;
		}
	}
	assert_true(seen_root);
	assert_true(json_array_size(rows) > 60);
	assert_null(json_object_get(ctx.tables, "errors"));
	json_decref(ctx.tables);
	fsroot_free(root);
}

static void test_no_config(void **state)
{
	struct inventory *inv = collect("empty");
	assert_int_equal(json_array_size(inventory_rows(inv, T)), 0);
	assert_int_equal(error_text(inv, T, NULL, 0), 0);
	inventory_free(inv);
}

static void test_include_loop(void **state)
{
	char errs[2048];
	struct inventory *inv = collect("loop");
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "Include loop"));
	assert_string_equal(value(inv, "permitrootlogin", ""), "no");
	assert_string_equal(value(inv, "maxauthtries", ""), "3");
	inventory_free(inv);

	inv = collect("symlink-loop");
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 2); /* a.conf and b.conf */
	assert_non_null(strstr(errs, "symbolic links"));
	assert_string_equal(value(inv, "permitrootlogin", ""), "no");
	inventory_free(inv);
}

static void test_garbage_and_bad_lines(void **state)
{
	char errs[4096];
	struct inventory *inv = collect("garbage");
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "/etc/ssh/sshd_config:2: line is not text"));
	/* parsing stopped at the bad line */
	assert_string_equal(value(inv, "passwordauthentication", ""), "yes");
	assert_string_equal(col(setting(inv, "passwordauthentication", ""), "source"), "default");
	inventory_free(inv);

	inv = collect("bad");
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 7);
	assert_non_null(
		strstr(errs, "sshd_config:10: x11forwarding: extra arguments at end of line"));
	assert_string_equal(value(inv, "pubkeyauthoptions", ""), "touch-required verify-required");
	/* only one '=' separates: the value is "=5" */
	assert_string_equal(value(inv, "maxstartups", ""), "=5");
	assert_non_null(strstr(errs, "sshd_config:2: unknown keyword PermitRootLogn"));
	assert_non_null(strstr(errs, "sshd_config:3: maxauthtries: not a non-negative integer"));
	assert_non_null(strstr(errs, "sshd_config:4: x11forwarding: unsupported value"));
	assert_non_null(strstr(errs, "sshd_config:5: unterminated quote"));
	assert_non_null(strstr(errs, "sshd_config:6: clientaliveinterval: not a time interval"));
	assert_non_null(strstr(errs, "sshd_config:7: passwordauthentication: missing argument"));
	assert_string_equal(value(inv, "maxsessions", ""), "2");
	inventory_free(inv);
}

static void put(const char *root, const char *rel, const char *text)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_depth_and_size_limits(void **state)
{
	char tmpl[] = "/tmp/immune-sshd-XXXXXX", errs[2048];
	assert_non_null(mkdtemp(tmpl));

	/* a chain of 20 distinct files: sshd stops at depth 16 */
	put(tmpl, "etc/ssh/sshd_config", "Include d0.conf\nMaxSessions 3\n");
	for (int i = 0; i < 20; i++) {
		_cleanup_free_ char *name = xasprintf("etc/ssh/d%d.conf", i);
		_cleanup_free_ char *text = xasprintf("Include d%d.conf\n", i + 1);
		put(tmpl, name, text);
	}
	struct inventory *inv = collect_root(tmpl, T);
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 1);
	assert_non_null(strstr(errs, "Include depth exceeded"));
	assert_string_equal(value(inv, "maxsessions", ""), "3");
	inventory_free(inv);

	/* an included file over the size cap, and a directory where a file is expected */
	put(tmpl, "etc/ssh/sshd_config", "Include big.conf dir.conf\nMaxSessions 3\n");
	_cleanup_free_ char *big = xasprintf("%s/etc/ssh/big.conf", tmpl);
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 << 20), 0);
	close(fd);
	_cleanup_free_ char *dir = xasprintf("%s/etc/ssh/dir.conf", tmpl);
	assert_int_equal(mkdir(dir, 0755), 0);
	inv = collect_root(tmpl, T);
	assert_int_equal(error_text(inv, T, errs, sizeof(errs)), 2);
	assert_non_null(strstr(errs, "File too large"));
	assert_non_null(strstr(errs, "Is a directory"));
	inventory_free(inv);

	/* the main file itself too large: an error and no rows */
	_cleanup_free_ char *main_path = xasprintf("%s/etc/ssh/sshd_config", tmpl);
	assert_int_equal(truncate(main_path, 3 << 20), 0);
	inv = collect_root(tmpl, T);
	assert_int_equal(error_text(inv, T, NULL, 0), 1);
	assert_int_equal(json_array_size(inventory_rows(inv, T)), 0);
	inventory_free(inv);

	rm_tree(tmpl);
}

/* Compares a few keys with `sshd -T` when this host has an sshd. */
static void test_host_against_sshd_t(void **state)
{
	if (access("/usr/sbin/sshd", X_OK) != 0 || access("/etc/ssh/sshd_config", R_OK) != 0) {
		skip();
		return;
	}
	FILE *p = popen("/usr/sbin/sshd -T 2>/dev/null", "r");
	assert_non_null(p);
	char line[4096];
	struct inventory *inv = collect_root("/", T);
	static const char *const keys[] = { "permitrootlogin", "maxauthtries", "usepam",
					    "x11forwarding", "permitemptypasswords" };
	unsigned compared = 0;
	while (fgets(line, sizeof(line), p)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		char *v = str_trim(sp + 1);
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (strcmp(line, keys[i]) == 0) {
				const char *mine = value(inv, keys[i], "");
				if (strcmp(v, "without-password") == 0)
					v = "prohibit-password";
				assert_string_equal(mine, v);
				compared++;
			}
	}
	int status = pclose(p);
	inventory_free(inv);
	if (status != 0 || compared == 0)
		skip(); /* sshd -T needs host keys; nothing to compare against */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_wins_and_includes),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_match_blocks),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_config),
		cmocka_unit_test(test_include_loop),
		cmocka_unit_test(test_garbage_and_bad_lines),
		cmocka_unit_test(test_depth_and_size_limits),
		cmocka_unit_test(test_host_against_sshd_t),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
