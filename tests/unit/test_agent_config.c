/* The agent's state directory, agent.yaml, machine id, saved catalogs and the reconnection
 * backoff (agent_config.h, pushed_files.h, backoff.h). */
#include "unit.h"

#include "agent/pushed_files.h"
#include "agent/agent_config.h"
#include "agent/backoff.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/immune-agent-config-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, e->d_name);
		if (unlink(p) < 0)
			remove_tree(p);
	}
	closedir(d);
	rmdir(dir);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_state_dir(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	_cleanup_free_ char *dir = xasprintf("%s/a/b/state", tmp);
	struct stat st;
	assert_int_equal(agent_state_init(dir), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	chmod(dir, 0755);
	assert_int_equal(agent_state_init(dir), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	_cleanup_free_ char *f = agent_state_path(dir, "file");
	assert_int_equal(file_write_atomic(f, "one", 3, 0600), 0);
	assert_int_equal(file_write_atomic(f, "two!", 4, 0600), 0);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	struct buf b = { 0 };
	assert_int_equal(file_read_capped(f, 16, &b), 0);
	assert_string_equal(buf_str(&b), "two!");
	buf_free(&b);
	assert_int_equal(file_read_capped(f, 3, &b), -EFBIG);
	assert_int_equal(count_entries(dir), 1); /* no temporary file left */
	_cleanup_free_ char *missing = agent_state_path(dir, "missing");
	assert_int_equal(file_read_capped(missing, 16, &b), -ENOENT);

	/* a file where the directory should be */
	_cleanup_free_ char *notdir = agent_state_path(dir, "file");
	assert_int_equal(agent_state_init(notdir), -ENOTDIR);
	remove_tree(tmp);
}

static void test_config_roundtrip(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	struct agent_config cfg = { .server = xstrdup("fleet.example:7443"),
				    .host_id = xstrdup("h-0123456789abcdef") };
	assert_int_equal(agent_config_add_label(&cfg, "env=prod"), 0);
	assert_int_equal(agent_config_add_label(&cfg, "role=web \"front\": é"), 0);
	assert_int_equal(agent_config_add_label(&cfg, "env=staging"), 0); /* replaces */
	assert_int_equal(agent_config_add_label(&cfg, "empty="), 0);
	assert_int_equal(agent_config_add_label(&cfg, "noequals"), -EINVAL);
	assert_int_equal(agent_config_add_label(&cfg, "=v"), -EINVAL);
	assert_int_equal(agent_config_add_label(&cfg, "bad key=v"), -EINVAL);
	assert_int_equal(agent_config_add_label(&cfg, "k=line\nbreak"), -EINVAL);
	assert_int_equal(cfg.n_labels, 3);
	assert_int_equal(agent_config_save(tmp, &cfg), 0);

	struct agent_config back = { 0 };
	char err[512];
	assert_int_equal(agent_config_load(tmp, &back, err, sizeof(err)), 0);
	assert_string_equal(back.server, "fleet.example:7443");
	assert_string_equal(back.host_id, "h-0123456789abcdef");
	assert_int_equal(back.n_labels, 3);
	assert_string_equal(back.labels[0].key, "env");
	assert_string_equal(back.labels[0].value, "staging");
	assert_string_equal(back.labels[1].value, "web \"front\": é");
	assert_string_equal(back.labels[2].value, "");
	_cleanup_free_ char *path = agent_state_path(tmp, "agent.yaml");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	agent_config_free(&back);
	agent_config_free(&cfg);
	agent_config_free(NULL);

	/* unknown keys and missing ones are errors with a position */
	static const char bad[] = "server: a:1\nhost_id: x\ncolour: blue\n";
	assert_int_equal(file_write_atomic(path, bad, sizeof(bad) - 1, 0600), 0);
	assert_int_equal(agent_config_load(tmp, &back, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "agent.yaml:"));
	assert_non_null(strstr(err, "colour"));
	static const char nohost[] = "server: a:1\n";
	assert_int_equal(file_write_atomic(path, nohost, sizeof(nohost) - 1, 0600), 0);
	assert_int_equal(agent_config_load(tmp, &back, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "host_id"));
	unlink(path);
	assert_int_equal(agent_config_load(tmp, &back, err, sizeof(err)), -ENOENT);
	remove_tree(tmp);
}

static void test_machine_id(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	_cleanup_free_ char *src = agent_state_path(tmp, "etc-machine-id");
	_cleanup_free_ char *dir = agent_state_path(tmp, "state");
	assert_int_equal(agent_state_init(dir), 0);
	static const char mid[] = "0123456789ABCDEF0123456789abcdef\n";
	assert_int_equal(file_write_atomic(src, mid, sizeof(mid) - 1, 0644), 0);
	char id[AGENT_MACHINE_ID_MAX + 1], again[AGENT_MACHINE_ID_MAX + 1];
	assert_int_equal(agent_machine_id(dir, src, id), 0);
	assert_string_equal(id, "0123456789abcdef0123456789abcdef");
	/* re-enrolling reuses the saved id even when the system's changes */
	static const char other[] = "ffffffffffffffffffffffffffffffff\n";
	assert_int_equal(file_write_atomic(src, other, sizeof(other) - 1, 0644), 0);
	assert_int_equal(agent_machine_id(dir, src, again), 0);
	assert_string_equal(again, id);

	/* no usable system id: a random one, kept */
	_cleanup_free_ char *dir2 = agent_state_path(tmp, "state2");
	assert_int_equal(agent_state_init(dir2), 0);
	static const char junk[] = "not-an-id\n";
	assert_int_equal(file_write_atomic(src, junk, sizeof(junk) - 1, 0644), 0);
	assert_int_equal(agent_machine_id(dir2, src, id), 0);
	assert_int_equal(strlen(id), 32);
	assert_string_not_equal(id, "0123456789abcdef0123456789abcdef");
	assert_int_equal(agent_machine_id(dir2, NULL, again), 0);
	assert_string_equal(again, id);
	_cleanup_free_ char *dir3 = agent_state_path(tmp, "state3");
	assert_int_equal(agent_state_init(dir3), 0);
	assert_int_equal(agent_machine_id(dir3, NULL, again), 0);
	assert_string_not_equal(again, id);
	remove_tree(tmp);
}

static void test_split_server(void **state)
{
	char host[64];
	uint16_t port;
	assert_int_equal(agent_split_server("127.0.0.1:7443", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7443);
	assert_int_equal(agent_split_server("[::1]:9", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9);
	assert_int_equal(agent_split_server("fleet.example:1", host, sizeof(host), &port), 0);
	static const char *const bad[] = { "",	     "host",	"host:", ":7443",
					   "h:0",    "h:65536", "h:12x", "::1:7443",
					   "[::1]7", "[::1]:",	"h:-1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(agent_split_server(bad[i], host, sizeof(host), &port), -EINVAL);
	assert_int_equal(agent_split_server("averyveryverylonghostname:1", host, 8, &port),
			 -EINVAL);
}

static void test_catalog_save(void **state)
{
	_cleanup_free_ char *tmp = make_tmpdir();
	static const char check[] = "checks: []\n";
	char digest[80], err[1024];
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)),
			 -ENOENT);
	struct pushed_file bad_names[] = {
		{ "../x.yml", check, sizeof(check) - 1 },
	};
	assert_int_equal(
		pushed_files_save(tmp, PUSHED_CATALOG, bad_names, 1, "d1", err, sizeof(err)),
		-EINVAL);
	struct pushed_file hidden[] = { { ".x.yml", check, sizeof(check) - 1 } };
	assert_int_equal(pushed_files_save(tmp, PUSHED_CATALOG, hidden, 1, "d1", err, sizeof(err)),
			 -EINVAL);
	struct pushed_file ext[] = { { "x.yaml.sh", check, sizeof(check) - 1 } };
	assert_int_equal(pushed_files_save(tmp, PUSHED_CATALOG, ext, 1, "d1", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)),
			 -ENOENT);

	/* a catalog that does not load is refused and the previous one stays */
	struct pushed_file broken[] = { { "a.yml", "checks: [1", 10 } };
	assert_int_equal(pushed_files_save(tmp, PUSHED_CATALOG, broken, 1, "d0", err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)),
			 -ENOENT);
	_cleanup_free_ char *newdir = agent_state_path(tmp, "catalog.new");
	struct stat st;
	assert_int_not_equal(stat(newdir, &st), 0);

	/* a shipped catalog file is accepted, then replaced by another */
	struct buf f1 = { 0 }, f2 = { 0 };
	_cleanup_free_ char *p1 = xasprintf("%s/policies/50-time.yml", getenv("IMMUNE_SOURCE_DIR"));
	_cleanup_free_ char *p2 = xasprintf("%s/policies/70-sudo.yml", getenv("IMMUNE_SOURCE_DIR"));
	assert_int_equal(file_read_capped(p1, 1 << 20, &f1), 0);
	assert_int_equal(file_read_capped(p2, 1 << 20, &f2), 0);
	struct pushed_file one[] = { { "50-time.yml", buf_str(&f1), buf_len(&f1) } };
	assert_int_equal(
		pushed_files_save(tmp, PUSHED_CATALOG, one, 1, "digest-1", err, sizeof(err)), 0);
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "digest-1");
	struct pushed_file two[] = { { "70-sudo.yml", buf_str(&f2), buf_len(&f2) },
				     { "50-time.yml", buf_str(&f1), buf_len(&f1) } };
	assert_int_equal(
		pushed_files_save(tmp, PUSHED_CATALOG, two, 2, "digest-2", err, sizeof(err)), 0);
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "digest-2");
	_cleanup_free_ char *cat = agent_state_path(tmp, "catalog");
	assert_int_equal(count_entries(cat), 2);
	assert_int_equal(count_entries(tmp), 2); /* catalog and catalog.digest, nothing else */
	/* a broken update leaves the current one */
	assert_int_equal(pushed_files_save(tmp, PUSHED_CATALOG, broken, 1, "d3", err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "digest-2");
	assert_int_equal(count_entries(cat), 2);
	/* rules are a set of their own, saved as sent: rule errors are the detector's to report */
	assert_int_equal(pushed_files_current(tmp, PUSHED_RULES, digest, sizeof(digest)), -ENOENT);
	struct pushed_file rules[] = { { "ssh.yml", "title: [", 8 }, { "su.yml", "x", 1 } };
	assert_int_equal(pushed_files_save(tmp, PUSHED_RULES, rules, 2, "r1", err, sizeof(err)), 0);
	assert_int_equal(pushed_files_current(tmp, PUSHED_RULES, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "r1");
	_cleanup_free_ char *rdir = agent_state_path(tmp, "rules");
	assert_int_equal(count_entries(rdir), 2);
	assert_int_equal(pushed_files_save(tmp, PUSHED_RULES, bad_names, 1, "r2", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(pushed_files_current(tmp, PUSHED_CATALOG, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "digest-2");
	assert_int_equal(count_entries(tmp), 4); /* catalog, rules and their digests */
	buf_free(&f1);
	buf_free(&f2);
	remove_tree(tmp);
}

static void test_backoff(void **state)
{
	struct backoff b;
	backoff_init(&b);
	uint32_t expect = 1000;
	for (int i = 0; i < 12; i++) {
		struct backoff lo = b, hi = b, mid = b;
		uint32_t dlo = backoff_next(&lo, 0);
		uint32_t dhi = backoff_next(&hi, UINT32_MAX);
		uint32_t dmid = backoff_next(&mid, 1u << 31);
		assert_int_equal(dlo, expect * 80 / 100);
		assert_true(dhi <= expect * 120 / 100 && dhi >= expect * 119 / 100);
		assert_true(dmid >= expect * 99 / 100 && dmid <= expect * 101 / 100);
		/* any random number stays within ±20 % */
		for (uint32_t r = 0; r < 64; r++) {
			struct backoff t = b;
			uint32_t d = backoff_next(&t, r * 67108864u + r);
			assert_true(d >= expect * 80 / 100 && d <= expect * 120 / 100);
		}
		backoff_next(&b, 12345);
		expect = expect * 2 > 60000 ? 60000 : expect * 2;
	}
	assert_int_equal(expect, 60000);
	assert_true(backoff_next(&b, UINT32_MAX) <= 72000);
	backoff_reset(&b);
	assert_int_equal(backoff_next(&b, 0), 800);
	/* a huge failure count does not overflow */
	b.failures = UINT32_MAX - 1;
	assert_true(backoff_next(&b, 0) == 48000);
	assert_true(backoff_next(&b, 0) == 48000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_dir),    cmocka_unit_test(test_config_roundtrip),
		cmocka_unit_test(test_machine_id),   cmocka_unit_test(test_split_server),
		cmocka_unit_test(test_catalog_save), cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
