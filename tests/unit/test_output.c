/* Unit tests for outputs (detect/output.h): the configuration (defaults, errors naming the
 * line), file outputs (exact JSON lines, mode 0600, rotation), syslog over TCP and TLS to
 * loopback listeners in the test (octet-counted RFC 5424 frames), webhooks to a loopback HTTP
 * listener (header, JSON array body), and a listener that is down (queue, drops, resume). */
#include "unit.h"

#include "detect/output.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[64];
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_output.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct outputs *parse_ok(const char *yaml)
{
	struct outputs *o = NULL;
	char err[512] = "";
	int r = outputs_parse(yaml, strlen(yaml), "agent.yaml", &o, err, sizeof(err));
	if (r != 0)
		fail_msg("unexpected error: %s", err);
	assert_non_null(o);
	return o;
}

static void expect_error(const char *yaml, const char *want)
{
	struct outputs *o = NULL;
	char err[512] = "";
	assert_int_equal(outputs_parse(yaml, strlen(yaml), "agent.yaml", &o, err, sizeof(err)),
			 -EINVAL);
	assert_null(o);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static char *read_text(const char *path)
{
	struct buf b = { 0 };
	assert_int_equal(file_read_capped(path, 1u << 20, &b), 0);
	return buf_steal(&b);
}

/* ---- configuration ---- */

static void test_config_defaults(void **state)
{
	struct output_stats st[4];
	struct outputs *o =
		parse_ok("server: x\noutputs:\n"
			 "  - type: file\n    path: /tmp/a.jsonl\n"
			 "  - type: syslog\n    address: 127.0.0.1:514\n"
			 "  - type: webhook\n    url: https://example.org/hook?t=secret\n"
			 "  - type: syslog\n    name: siem\n    address: '[::1]:6514'\n"
			 "    tls: true\n    facility: local3\n");
	assert_int_equal(outputs_stats(o, st, 4), 4);
	assert_string_equal(st[0].name, "file:/tmp/a.jsonl");
	assert_string_equal(st[1].name, "syslog:127.0.0.1:514");
	assert_string_equal(st[2].name, "webhook:example.org:443");
	assert_string_equal(st[3].name, "siem");
	assert_false(st[0].connected);
	outputs_free(o);

	o = parse_ok("server: x\n");
	assert_int_equal(outputs_stats(o, st, 4), 0);
	outputs_free(o);
	o = parse_ok("");
	assert_int_equal(outputs_stats(o, st, 4), 0);
	outputs_free(o);
}

static void test_config_errors(void **state)
{
	expect_error("outputs:\n  - type: file\n    path: /tmp/x\n    colour: red\n",
		     "agent.yaml:4:");
	expect_error("outputs:\n  - type: file\n    path: /tmp/x\n    colour: red\n", "colour");
	expect_error("outputs:\n  - type: ftp\n", "agent.yaml:2:");
	expect_error("outputs:\n  - type: file\n", "needs a path");
	expect_error("outputs:\n  - type: file\n    path: relative\n", "agent.yaml:3:");
	expect_error("outputs:\n  - type: file\n    path: /x\n    max_size: 10XB\n",
		     "agent.yaml:4:");
	expect_error("outputs:\n  - type: file\n    path: /x\n    what: [events, logs]\n",
		     "agent.yaml:4:");
	expect_error("outputs:\n  - type: syslog\n    address: nohost\n", "agent.yaml:3:");
	expect_error("outputs:\n  - type: syslog\n    address: h:70000\n", "address");
	expect_error("outputs:\n  - type: syslog\n    address: h:514\n    facility: mars\n",
		     "agent.yaml:4:");
	expect_error("outputs:\n  - type: syslog\n    address: h:514\n    ca: /x\n", "only with");
	expect_error("outputs:\n  - type: webhook\n    url: http://h/x\n", "insecure");
	expect_error("outputs:\n  - type: webhook\n    url: ftp://h/x\n", "agent.yaml:3:");
	expect_error("outputs:\n  - type: webhook\n    url: https://h/x\n    batch: 0\n",
		     "agent.yaml:4:");
	expect_error("outputs:\n  - type: webhook\n    url: https://h/x\n    headers:\n"
		     "      Host: evil\n",
		     "agent.yaml:5:");
	expect_error("outputs: {}\n", "must be a list");
	expect_error("outputs:\n  - type: file\n    path: /x\n  - type: file\n    path: /x\n",
		     "agent.yaml:4:");
	expect_error("outputs:\n  - [\n", "agent.yaml:");

	/* A header value is a secret: it never appears in an error. */
	struct outputs *o = NULL;
	char err[512] = "";
	const char *y = "outputs:\n  - type: webhook\n    url: https://h/x\n    headers:\n"
			"      Authorization: \"Bearer s3cr3t\\u0001\"\n";
	assert_int_equal(outputs_parse(y, strlen(y), "agent.yaml", &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "agent.yaml:5:"));
	assert_null(strstr(err, "s3cr3t"));
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = xasprintf("%s/none.yaml", f->dir);
	struct outputs *o = NULL;
	char err[256];
	assert_int_equal(outputs_open(p, &o, err, sizeof(err)), 0);
	assert_int_equal(outputs_stats(o, NULL, 0), 0);
	outputs_event(o, "{}", 2);
	outputs_free(o);
}

/* ---- file ---- */

static struct outputs *open_yaml(struct fixture *f, const char *yaml)
{
	_cleanup_free_ char *p = xasprintf("%s/agent.yaml", f->dir);
	struct outputs *o = NULL;
	char err[512] = "";
	assert_int_equal(file_write_atomic(p, yaml, strlen(yaml), 0600), 0);
	if (outputs_open(p, &o, err, sizeof(err)) != 0)
		fail_msg("outputs_open: %s", err);
	return o;
}

static void test_file_lines(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *yaml = xasprintf("outputs:\n"
					      "  - type: file\n    path: %s/all.jsonl\n"
					      "    what: [events, alerts]\n"
					      "  - type: file\n    path: %s/alerts.jsonl\n",
					      f->dir, f->dir);
	struct outputs *o = open_yaml(f, yaml);
	outputs_event(o, "{\"a\":1}", 7);
	outputs_alert(o, "{\"b\":\"x y\"}", 11);
	outputs_event(o, "{\"c\":3}xxx", 7);
	outputs_event(o, "{\"bad\":\n1}", 10); /* a newline would break the format */
	struct output_stats st[2];
	assert_int_equal(outputs_stats(o, st, 2), 2);
	assert_int_equal(st[0].sent, 3);
	assert_int_equal(st[0].errors, 1);
	assert_true(st[0].connected);
	assert_int_equal(st[1].sent, 1);
	outputs_free(o);

	_cleanup_free_ char *pa = xasprintf("%s/all.jsonl", f->dir);
	_cleanup_free_ char *pb = xasprintf("%s/alerts.jsonl", f->dir);
	_cleanup_free_ char *a = read_text(pa);
	_cleanup_free_ char *b = read_text(pb);
	assert_string_equal(a, "{\"a\":1}\n{\"b\":\"x y\"}\n{\"c\":3}\n");
	assert_string_equal(b, "{\"b\":\"x y\"}\n");
	struct stat sb;
	assert_int_equal(stat(pa, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* Reopened: appended, not truncated. */
	o = open_yaml(f, yaml);
	outputs_alert(o, "{\"d\":4}", 7);
	outputs_free(o);
	_cleanup_free_ char *b2 = read_text(pb);
	assert_string_equal(b2, "{\"b\":\"x y\"}\n{\"d\":4}\n");
}

static void test_file_rotation(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *yaml = xasprintf("outputs:\n  - type: file\n    path: %s/r.jsonl\n"
					      "    max_size: 256\n    keep: 2\n",
					      f->dir);
	struct outputs *o = open_yaml(f, yaml);
	char rec[101];
	/* 100-byte records (101 with the newline): two per file. */
	for (int i = 0; i < 7; i++) {
		snprintf(rec, sizeof(rec), "{\"i\":%d,\"pad\":\"%0*d\"}", i, 100 - 16, 0);
		assert_int_equal(strlen(rec), 100);
		outputs_event(o, rec, 100);
		outputs_alert(o, rec, 100);
	}
	struct output_stats st;
	outputs_stats(o, &st, 1);
	assert_int_equal(st.sent, 7);
	outputs_free(o);
	_cleanup_free_ char *p0 = xasprintf("%s/r.jsonl", f->dir);
	_cleanup_free_ char *p1 = xasprintf("%s/r.jsonl.1", f->dir);
	_cleanup_free_ char *p2 = xasprintf("%s/r.jsonl.2", f->dir);
	_cleanup_free_ char *p3 = xasprintf("%s/r.jsonl.3", f->dir);
	_cleanup_free_ char *t0 = read_text(p0);
	_cleanup_free_ char *t1 = read_text(p1);
	_cleanup_free_ char *t2 = read_text(p2);
	/* Records 0-1, 2-3, 4-5, 6: the oldest file was dropped (keep 2). */
	assert_int_equal(strlen(t0), 101);
	assert_true(str_has_prefix(t0, "{\"i\":6,"));
	assert_int_equal(strlen(t1), 202);
	assert_true(str_has_prefix(t1, "{\"i\":4,"));
	assert_int_equal(strlen(t2), 202);
	assert_true(str_has_prefix(t2, "{\"i\":2,"));
	assert_int_equal(access(p3, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_rotation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
