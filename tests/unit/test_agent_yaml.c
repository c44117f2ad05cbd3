/* The agent's configuration file (agent_yaml.h): defaults, a full file, every refusal naming
 * file:line:column, a missing file. */
#include "unit.h"

#include "agent/agent_yaml.h"
#include "lib/fileio.h"

#include <unistd.h>

static int parse(const char *text, struct agent_yaml *c, char *err, size_t errlen)
{
	err[0] = '\0';
	return agent_yaml_parse(text, strlen(text), "agent.yaml", c, err, errlen);
}

static void test_defaults(void **state)
{
	(void)state;
	struct agent_yaml c;
	char err[512];
	assert_int_equal(parse("", &c, err, sizeof(err)), 0);
	assert_string_equal(c.sensors.process_mechanism, "auto");
	assert_string_equal(c.sensors.network_mechanism, "auto");
	assert_string_equal(c.sensors.fim_mechanism, "auto");
	assert_true(c.sensors.auth_journal);
	assert_null(c.sensors.auth_logs);
	assert_null(c.sensors.fim_paths);
	assert_null(c.sensors.fim_read_paths);
	assert_int_equal(c.sensors.fim_scan_interval_s, 3600);
	assert_int_equal(c.sensors.fim_cpu_percent, 10);
	for (int i = 0; i < AGENT_SENSOR_COUNT; i++)
		assert_true(c.enabled[i]);
	assert_int_equal(c.baseline_learning_ns, 0);
	assert_false(c.has_outputs);
	assert_int_equal(c.isolation_lease_s, 0); /* the responder's default */
	agent_yaml_free(&c);
	/* sections present but empty keep the defaults */
	assert_int_equal(parse("sensors:\n  process:\n  fim:\n", &c, err, sizeof(err)), 0);
	assert_true(c.enabled[AGENT_SENSOR_PROCESS]);
	agent_yaml_free(&c);
}

static void test_full(void **state)
{
	(void)state;
	static const char text[] = "sensors:\n"
				   "  process:\n    mechanism: proc_connector\n"
				   "  network:\n    mechanism: poll\n    poll_interval: 250ms\n"
				   "  auth:\n    logs: [/var/log/auth.log, /tmp/x.log]\n"
				   "    journal: false\n"
				   "  fim:\n    mechanism: inotify\n    paths:\n      - /etc\n"
				   "    reads: [/etc/shadow, /root/.ssh/id_ed25519]\n"
				   "    scan_interval: 6h\n    cpu_percent: 5\n"
				   "baseline:\n  learning: 7d\n"
				   "outputs:\n  - type: file\n    path: /tmp/a.jsonl\n";
	struct agent_yaml c;
	char err[512];
	assert_int_equal(parse(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c.sensors.process_mechanism, "proc_connector");
	assert_string_equal(c.sensors.network_mechanism, "poll");
	assert_int_equal(c.sensors.network_poll_ms, 250);
	assert_non_null(c.sensors.auth_logs);
	assert_string_equal(c.sensors.auth_logs[0], "/var/log/auth.log");
	assert_string_equal(c.sensors.auth_logs[1], "/tmp/x.log");
	assert_null(c.sensors.auth_logs[2]);
	assert_false(c.sensors.auth_journal);
	assert_string_equal(c.sensors.fim_mechanism, "inotify");
	assert_string_equal(c.sensors.fim_paths[0], "/etc");
	assert_null(c.sensors.fim_paths[1]);
	assert_string_equal(c.sensors.fim_read_paths[1], "/root/.ssh/id_ed25519");
	assert_null(c.sensors.fim_read_paths[2]);
	assert_int_equal(c.sensors.fim_scan_interval_s, 6 * 3600);
	assert_int_equal(c.sensors.fim_cpu_percent, 5);
	assert_true(c.baseline_learning_ns == 7LL * 86400 * 1000000000LL);
	assert_true(c.has_outputs);
	agent_yaml_free(&c);

	/* off turns a sensor off; an empty path list is a list */
	assert_int_equal(parse("sensors:\n  auth: {mechanism: \"off\"}\n  network: {mechanism: "
			       "\"off\"}\n  fim: {paths: [], scan_interval: off}\n"
			       "  process: {mechanism: 'off'}\n",
			       &c, err, sizeof(err)),
			 0);
	assert_false(c.enabled[AGENT_SENSOR_AUTH]);
	assert_false(c.enabled[AGENT_SENSOR_NETWORK]);
	assert_false(c.enabled[AGENT_SENSOR_PROCESS]);
	assert_true(c.enabled[AGENT_SENSOR_FIM]);
	assert_non_null(c.sensors.fim_paths);
	assert_null(c.sensors.fim_paths[0]);
	assert_int_equal(c.sensors.fim_scan_interval_s, 0);
	assert_null(c.response_playbooks);
	agent_yaml_free(&c);

	/* response.playbooks: a path of the host's own playbooks */
	assert_int_equal(
		parse("response:\n  playbooks: /etc/immune/playbooks\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.response_playbooks, "/etc/immune/playbooks");
	agent_yaml_free(&c);
	assert_null(c.response_playbooks);

	/* response.isolation_lease: a duration from 2 s to 1 h, both ends included */
	static const struct {
		const char *text;
		uint32_t want;
	} leases[] = {
		{ "response: {isolation_lease: 3s}\n", 3 },
		{ "response:\n  isolation_lease: 2\n", 2 },
		{ "response:\n  isolation_lease: 5m\n  playbooks: /p\n", 300 },
		{ "response:\n  isolation_lease: 1h\n", 3600 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(leases); i++) {
		assert_int_equal(parse(leases[i].text, &c, err, sizeof(err)), 0);
		assert_int_equal(c.isolation_lease_s, leases[i].want);
		agent_yaml_free(&c);
	}
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "colour: blue\n", "agent.yaml:1:1: " },
		{ "sensors:\n  process:\n    mechanism: auto\n    colour: blue\n",
		  "agent.yaml:4:5: " },
		{ "sensors:\n  printer: {}\n", "agent.yaml:2:3: " },
		{ "sensors:\n  process:\n    mechanism: kprobe\n", "agent.yaml:3:16: unknown" },
		{ "sensors:\n  fim:\n    cpu_percent: 250\n", "agent.yaml:3:18: " },
		{ "sensors:\n  fim:\n    scan_interval: 10s\n", "agent.yaml:3:20: invalid" },
		{ "sensors:\n  auth:\n    logs: [relative.log]\n", "agent.yaml:3:12: " },
		{ "sensors:\n  auth:\n    logs: /var/log/auth.log\n", "agent.yaml:3:11: " },
		{ "sensors:\n  auth:\n    journal: maybe\n", "agent.yaml:3:14: " },
		{ "sensors:\n  network:\n    poll_interval: 5ms\n", "agent.yaml:3:20: " },
		{ "baseline:\n  learning: tomorrow\n", "agent.yaml:2:13: invalid" },
		{ "baseline:\n  learning: 24h\n  forget: 1h\n", "agent.yaml:3:3: " },
		{ "outputs: {type: file}\n", "agent.yaml:1:10: outputs must be a list" },
		{ "sensors: [process]\n", "agent.yaml:1:10: " },
		{ "sensors:\n  process: [a\n", "agent.yaml:" },
		{ "response:\n  playbooks: relative\n", "agent.yaml:2:14: response playbooks" },
		{ "response:\n  playbook: /x\n", "agent.yaml:2:3: " },
		{ "response:\n  isolation_lease: 1s\n",
		  "agent.yaml:2:20: invalid isolation_lease" },
		{ "response:\n  isolation_lease: 2h\n",
		  "agent.yaml:2:20: invalid isolation_lease" },
		{ "response:\n  isolation_lease: soon\n", "agent.yaml:2:20: invalid" },
		{ "response:\n  isolation_lease: [3s]\n", "agent.yaml:2:20: " },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct agent_yaml c;
		char err[512];
		int r = parse(cases[i].text, &c, err, sizeof(err));
		if (r != -EINVAL || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: r=%d err='%s' want '%s'", i, r, err, cases[i].want);
		/* a refusal leaves the defaults */
		assert_string_equal(c.sensors.process_mechanism, "auto");
		assert_null(c.sensors.auth_logs);
		assert_null(c.response_playbooks);
		assert_int_equal(c.isolation_lease_s, 0);
		agent_yaml_free(&c);
	}
}

static void test_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/immune-agent-yaml-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = xasprintf("%s/agent.yaml", dir);
	struct agent_yaml c;
	char err[512];
	assert_int_equal(agent_yaml_load(path, &c, err, sizeof(err)), 0); /* missing: defaults */
	assert_true(c.enabled[AGENT_SENSOR_FIM]);
	agent_yaml_free(&c);
	static const char bad[] = "sensors:\n  fim:\n    mechanism: magic\n";
	assert_int_equal(file_write_atomic(path, bad, strlen(bad), 0600), 0);
	assert_int_equal(agent_yaml_load(path, &c, err, sizeof(err)), -EINVAL);
	_cleanup_free_ char *want = xasprintf("%s:3:16: ", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	agent_yaml_free(&c);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
