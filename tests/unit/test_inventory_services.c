/* Unit tests for the services, firewall and time_sync collectors over fixture roots
 * (tests/fixtures/services/). */
#include "inv_helpers.h"

#include "inventory/nftconf.h"

#include <sys/stat.h>
#include <unistd.h>

static void test_services_links(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "services");
	json_t *r;

	r = must_row(inv, "services", "name", "ssh.service");
	assert_true(col_bool(r, "enabled"));
	assert_false(col_bool(r, "masked"));
	assert_string_equal(col_str(r, "target"), "graphical.target,multi-user.target");

	r = must_row(inv, "services", "name", "sshd.service"); /* alias of an enabled unit */
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "target"), "graphical.target,multi-user.target");

	r = must_row(inv, "services", "name", "getty@tty1.service");
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "target"), "getty.target");
	assert_null(find_row(inv, "services", "name", "getty@.service"));

	r = must_row(inv, "services", "name", "tmp.mount"); /* .requires */
	assert_string_equal(col_str(r, "target"), "local-fs.target");

	r = must_row(inv, "services", "name", "rpcbind.service");
	assert_true(col_bool(r, "masked"));
	assert_false(col_bool(r, "enabled"));
	assert_null(col_str(r, "target"));

	r = must_row(inv, "services", "name", "avahi-daemon.service"); /* masked in /run */
	assert_true(col_bool(r, "masked"));
	r = must_row(inv, "services", "name", "runtime.service"); /* enabled in /run */
	assert_true(col_bool(r, "enabled"));

	/* Vendor (static) links under /usr/lib are not administrator enablement. */
	assert_null(find_row(inv, "services", "name", "static.service"));

	/* SysV: S links without a native unit; K links are not enabled. */
	r = must_row(inv, "services", "name", "legacyd.service");
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "target"), "multi-user.target");
	r = must_row(inv, "services", "name", "xdm.service");
	assert_string_equal(col_str(r, "target"), "graphical.target");
	assert_null(find_row(inv, "services", "name", "stopped.service"));

	assert_int_equal(n_rows(inv, "services"), 13);
	assert_int_equal(n_errors(inv, "services"), 0);
	inventory_free(inv);
}

static void test_services_symlink_loop(void **state)
{
	struct inventory *inv = collect_fixture("services", "malformed", "services");
	assert_true(has_error(inv, "services", "/etc/systemd/system/loop.target.wants"));
	inventory_free(inv);
}

static void test_firewall_debian(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "firewall");
	json_t *r;

	assert_int_equal(n_rows(inv, "firewall"), 4);
	r = must_row(inv, "firewall", "name", "nftables");
	assert_true(col_bool(r, "installed"));
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "config_file"), "/etc/nftables.conf");
	assert_string_equal(col_str(r, "input_policy"), "drop");
	assert_string_equal(col_str(r, "forward_policy"), "drop");
	/* output: inet accepts, but ip extra out_v4 (in an include, with a line continuation)
	 * drops; the bridge input chain does not count. */
	assert_string_equal(col_str(r, "output_policy"), "drop");
	/* The include loop is cut and reported. */
	assert_true(has_error(inv, "firewall", "/etc/nftables.conf"));

	r = must_row(inv, "firewall", "name", "iptables");
	assert_true(col_bool(r, "installed")); /* iptables-legacy */
	assert_false(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "config_file"), "/etc/iptables/rules.v4");
	assert_string_equal(col_str(r, "input_policy"), "drop"); /* *filter, not *nat */
	assert_string_equal(col_str(r, "forward_policy"), "drop");
	assert_string_equal(col_str(r, "output_policy"), "accept");

	r = must_row(inv, "firewall", "name", "ufw");
	assert_false(col_bool(r, "installed"));
	assert_false(col_bool(r, "enabled"));
	assert_null(col_str(r, "input_policy"));
	r = must_row(inv, "firewall", "name", "firewalld");
	assert_false(col_bool(r, "installed"));
	assert_null(col_str(r, "input_policy"));
	inventory_free(inv);
}

static void test_firewall_ufw_firewalld(void **state)
{
	struct inventory *inv = collect_fixture("services", "ubuntu-ufw", "firewall");
	json_t *r = must_row(inv, "firewall", "name", "ufw");
	assert_true(col_bool(r, "installed"));
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "config_file"), "/etc/default/ufw");
	assert_string_equal(col_str(r, "input_policy"), "drop");
	assert_string_equal(col_str(r, "forward_policy"), "reject");
	assert_string_equal(col_str(r, "output_policy"), "accept");
	r = must_row(inv, "firewall", "name", "nftables");
	assert_false(col_bool(r, "installed"));
	assert_null(col_str(r, "config_file"));
	assert_int_equal(n_errors(inv, "firewall"), 0);
	inventory_free(inv);

	inv = collect_fixture("services", "rhel", "firewall");
	r = must_row(inv, "firewall", "name", "firewalld");
	assert_true(col_bool(r, "installed"));
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "config_file"), "/etc/firewalld/firewalld.conf");
	assert_string_equal(col_str(r, "input_policy"), "drop"); /* zone hardened: DROP */
	assert_null(col_str(r, "output_policy"));
	r = must_row(inv, "firewall", "name", "nftables");
	assert_string_equal(col_str(r, "config_file"), "/etc/sysconfig/nftables.conf");
	assert_false(col_bool(r, "enabled"));
	/* A base chain without a policy accepts; no forward chain: nothing filtered. */
	assert_string_equal(col_str(r, "input_policy"), "accept");
	assert_string_equal(col_str(r, "forward_policy"), "accept");
	r = must_row(inv, "firewall", "name", "iptables");
	assert_string_equal(col_str(r, "config_file"), "/etc/sysconfig/iptables");
	assert_string_equal(col_str(r, "input_policy"), "accept");
	assert_int_equal(n_errors(inv, "firewall"), 0);
	inventory_free(inv);
}

static void test_firewall_garbage(void **state)
{
	struct inventory *inv = collect_fixture("services", "malformed", "firewall");
	json_t *r = must_row(inv, "firewall", "name", "nftables");
	assert_string_equal(col_str(r, "config_file"), "/etc/nftables.conf");
	assert_null(col_str(r, "input_policy"));
	assert_true(has_error(inv, "firewall", "/etc/nftables.conf"));
	inventory_free(inv);
}

/* Writes text to root/path, creating the directory etc/ and etc/n/. */
static void write_file(const char *root, const char *path, const char *text)
{
	_cleanup_free_ char *full = xasprintf("%s%s", root, path);
	FILE *f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_nft_include_depth_and_size(void **state)
{
	char root[] = "/tmp/immune-nft-XXXXXX";
	assert_non_null(mkdtemp(root));
	_cleanup_free_ char *etc = xasprintf("%s/etc", root);
	_cleanup_free_ char *n = xasprintf("%s/etc/n", root);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_int_equal(mkdir(n, 0755), 0);

	/* A chain of 12 distinct files, each including the next: cut at the depth limit. */
	write_file(root, "/etc/nftables.conf",
		   "include \"n/f1.nft\"\ntable inet t { chain i { type filter hook input "
		   "priority 0; policy drop; } }\n");
	for (int i = 1; i <= 12; i++) {
		_cleanup_free_ char *p = xasprintf("/etc/n/f%d.nft", i);
		_cleanup_free_ char *t = xasprintf("include \"/etc/n/f%d.nft\"\n", i + 1);
		write_file(root, p, t);
	}
	write_file(root, "/etc/n/f13.nft", "# the end\n");
	struct inventory *inv = collect_root(root, "firewall");
	json_t *r = must_row(inv, "firewall", "name", "nftables");
	assert_string_equal(col_str(r, "input_policy"), "drop");
	json_t *errs = inventory_errors_for(inv, "firewall");
	assert_int_equal(json_array_size(errs), 1);
	assert_non_null(strstr(col_str(json_array_get(errs, 0), "error"), "nested deeper"));
	json_decref(errs);
	inventory_free(inv);

	/* Oversized configuration: an error, no policy. */
	_cleanup_free_ char *big = xasprintf("%s/etc/nftables.conf", root);
	FILE *f = fopen(big, "w");
	assert_non_null(f);
	for (int i = 0; i < NFT_CONF_MAX / 64 + 2; i++)
		fputs("# padding padding padding padding padding padding padding paddin\n", f);
	fclose(f);
	inv = collect_root(root, "firewall");
	r = must_row(inv, "firewall", "name", "nftables");
	assert_null(col_str(r, "input_policy"));
	assert_true(has_error(inv, "firewall", "/etc/nftables.conf"));
	inventory_free(inv);

	/* A FIFO where the configuration is expected: an error, never a blocking read. */
	assert_int_equal(unlink(big), 0);
	assert_int_equal(mkfifo(big, 0644), 0);
	inv = collect_root(root, "firewall");
	assert_true(has_error(inv, "firewall", "/etc/nftables.conf"));
	inventory_free(inv);

	rm_tree(root);
}

static void test_nft_parser_direct(void **state)
{
	static const char text[] =
		"table ip6 f6 {\n chain in6 {\n  type filter hook input priority 0\n"
		"  policy accept\n }\n}\n"
		"table netdev n { chain ing { type filter hook ingress device eth0 priority 0; "
		"policy drop; } }\n"
		"table ip f { chain c { tcp dport { 1, 2 } accept; } }\n"
		"add chain ip f out { type filter hook output priority 0; policy drop; }\n"
		"chain ip f out { policy accept; }\n";
	_cleanup_(nft_parser_freep) struct nft_parser *p = nft_parser_new(NULL, NULL);
	assert_int_equal(nft_parse_text(p, text, strlen(text)), 0);
	assert_int_equal(nft_policy(p, NFT_HOOK_INPUT), NFT_POLICY_ACCEPT);
	assert_int_equal(nft_policy(p, NFT_HOOK_FORWARD), NFT_POLICY_NONE);
	/* The later declaration of the same chain sets its policy back to accept. */
	assert_int_equal(nft_policy(p, NFT_HOOK_OUTPUT), NFT_POLICY_ACCEPT);
	assert_int_equal(nft_base_chains(p), 2);
	assert_int_equal(nft_depth(p), 0);
	assert_int_equal(nft_parse_text(p, "a\0b", 3), -EBADMSG);
	/* Unbalanced braces and unterminated strings do not upset it. */
	assert_int_equal(nft_parse_text(p, "}}}} table { \"unterminated\n{{{", 30), 0);
}

static void test_time_sync(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "time_sync");
	json_t *r;

	assert_int_equal(n_rows(inv, "time_sync"), 3);
	r = must_row(inv, "time_sync", "name", "chrony");
	assert_true(col_bool(r, "installed"));
	assert_true(col_bool(r, "enabled"));
	assert_string_equal(col_str(r, "servers"),
			    "ntp2.example.com,2.debian.pool.ntp.org,ntp1.example.com");
	assert_string_equal(col_str(r, "run_as"), "_chrony");

	r = must_row(inv, "time_sync", "name", "systemd-timesyncd");
	assert_true(col_bool(r, "installed"));
	assert_true(col_bool(r, "enabled"));
	/* The drop-in's NTP= replaces the main file's; FallbackNTP= follows. */
	assert_string_equal(col_str(r, "servers"), "time.example.com,fallback.example.com");

	r = must_row(inv, "time_sync", "name", "ntp");
	assert_false(col_bool(r, "installed"));
	assert_false(col_bool(r, "enabled"));
	assert_null(col_str(r, "servers"));
	assert_int_equal(n_errors(inv, "time_sync"), 0);
	inventory_free(inv);

	inv = collect_fixture("services", "ubuntu-ufw", "time_sync");
	r = must_row(inv, "time_sync", "name", "ntp");
	assert_true(col_bool(r, "installed"));
	assert_false(col_bool(r, "enabled")); /* linked but masked */
	assert_string_equal(col_str(r, "servers"),
			    "0.ubuntu.pool.ntp.org,1.ubuntu.pool.ntp.org,10.0.0.1");
	assert_string_equal(col_str(r, "run_as"), "ntp");
	r = must_row(inv, "time_sync", "name", "chrony");
	assert_false(col_bool(r, "installed"));
	inventory_free(inv);

	inv = collect_fixture("services", "rhel", "time_sync");
	r = must_row(inv, "time_sync", "name", "chrony");
	assert_true(col_bool(r, "enabled")); /* chronyd.service */
	assert_string_equal(col_str(r, "servers"), "rhel-ntp.example.com");
	assert_string_equal(col_str(r, "run_as"), "chrony"); /* OPTIONS -u */
	inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_services_links),
		cmocka_unit_test(test_services_symlink_loop),
		cmocka_unit_test(test_firewall_debian),
		cmocka_unit_test(test_firewall_ufw_firewalld),
		cmocka_unit_test(test_firewall_garbage),
		cmocka_unit_test(test_nft_include_depth_and_size),
		cmocka_unit_test(test_nft_parser_direct),
		cmocka_unit_test(test_time_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
