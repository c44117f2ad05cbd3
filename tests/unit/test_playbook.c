/* Playbooks: loading with errors at file:line, matching, templates, guardrails, the circuit
 * breaker, the shipped playbooks and alerts as inputs (respond/playbook.h). */
#include "unit.h"

#include "detect/alert.h"
#include "respond/playbook.h"

#define NS 1000000000LL

/* Evidence fields of a synthetic input: NULL-terminated name/value pairs. */
static const char *pairs_field(void *arg, const char *name)
{
	const char *const *kv = arg;
	for (size_t i = 0; kv && kv[i]; i += 2)
		if (!strcmp(kv[i], name))
			return kv[i + 1];
	return NULL;
}

static struct playbook_input input(const char *rule_id, int level, const char *const *kv)
{
	return (struct playbook_input){
		.source = "rule",
		.rule_id = rule_id,
		.level = level,
		.hostname = "web-1",
		.field = pairs_field,
		.field_arg = (void *)kv,
	};
}

static struct playbook_set *load(const char *text, strv *errors)
{
	struct playbook_set *s = NULL;
	assert_int_equal(playbook_load_buffer("t.yml", text, strlen(text), &s, errors), 0);
	assert_non_null(s);
	return s;
}

static struct playbook_set *load_ok(const char *text)
{
	_cleanup_strv_ strv errors = NULL;
	struct playbook_set *s = load(text, &errors);
	if (errors)
		fail_msg("unexpected error: %s", errors[0]);
	return s;
}

static bool has_error(char *const *errors, const char *want)
{
	for (size_t i = 0; errors && errors[i]; i++)
		if (strstr(errors[i], want))
			return true;
	return false;
}

static void expect_error(const char *text, const char *want)
{
	_cleanup_strv_ strv errors = NULL;
	struct playbook_set *s = load(text, &errors);
	if (!has_error(errors, want))
		fail_msg("no error containing '%s' (first: %s)", want, errors ? errors[0] : "none");
	playbook_set_free(s);
}

static const char block_pb[] = "id: block\n"
			       "trigger: {rule: r1}\n"
			       "steps:\n"
			       "  - action: block-address\n"
			       "    params: {address: \"{{src_ip}}\", duration: 1h}\n"
			       "    mode: auto\n"
			       "    local: true\n";

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	_cleanup_strv_ strv errors = NULL;
	const char text[] = "id: good\n"
			    "trigger: {rule: r1}\n"
			    "steps: [{action: isolate-host}]\n"
			    "---\n"
			    "id: bad\n"
			    "trigger: {rule: r1}\n"
			    "steps:\n"
			    "  - action: launch-missiles\n";
	struct playbook_set *s = load(text, &errors);
	assert_int_equal(strv_len(errors), 1);
	assert_string_equal(errors[0], "t.yml:8: bad: action: unknown action 'launch-missiles'");
	assert_int_equal(playbook_set_count(s), 1); /* the other one still loads */
	playbook_set_free(s);
}

static void test_unknown_keys_refused(void **state)
{
	(void)state;
	expect_error("id: a\ntrigger: {rule: r1}\nsteps: [{action: isolate-host}]\ncolour: red\n",
		     "t.yml:4: a: unknown key 'colour'");
	expect_error("id: a\ntrigger: {rulez: r1}\nsteps: [{action: isolate-host}]\n",
		     "unknown key 'rulez'");
	expect_error("id: a\ntrigger: {rule: r1}\nsteps: [{action: isolate-host, moed: auto}]\n",
		     "unknown key 'moed'");
	expect_error("id: a\ntrigger: {rule: r1}\nsteps: [{action: isolate-host, mode: now}]\n",
		     "mode: expected auto, approve or notify");
	expect_error("id: a\ntrigger: {rule: r1}\nsteps: [{action: isolate-host, local: true}]\n",
		     "local: a local step runs at once on the agent");
	expect_error("id: a\ntrigger: {min_level: severe}\nsteps: [{action: isolate-host}]\n",
		     "min_level: expected");
	expect_error("id: a\ntrigger: {}\nsteps: [{action: isolate-host}]\n",
		     "name at least one of");
	expect_error("id: a\ntrigger: {rule: r1}\nsteps: []\n", "steps: expected a list");
	expect_error("# comment\n\nid: a\nsteps: [{action: isolate-host}]\n",
		     "t.yml:3: a: a playbook needs a trigger and steps");
	expect_error("guardrails: {protected_users: [ops], colour: red}\n", "unknown key 'colour'");
	expect_error("guardrails: {rate_limits: {nuke-host: 3}}\n",
		     "rate_limits: unknown action 'nuke-host'");
}

static void test_duplicate_ids(void **state)
{
	(void)state;
	_cleanup_strv_ strv errors = NULL;
	const char text[] = "id: a\ntrigger: {rule: r1}\nsteps: [{action: isolate-host}]\n---\n"
			    "id: a\ntrigger: {rule: r2}\nsteps: [{action: isolate-host}]\n";
	struct playbook_set *s = load(text, &errors);
	assert_int_equal(strv_len(errors), 1);
	assert_string_equal(errors[0], "t.yml:5: a: duplicate playbook id (first in t.yml:1)");
	assert_int_equal(playbook_set_count(s), 1);
	playbook_set_free(s);
}

static void test_params_checked_at_load(void **state)
{
	(void)state;
	/* literal parameters go through action_from_json */
	expect_error("id: a\ntrigger: {rule: r1}\n"
		     "steps: [{action: block-address, params: {address: 1.2.3}}]\n",
		     "is not an IP address or CIDR");
	/* unknown parameters are refused even next to a template */
	expect_error("id: a\ntrigger: {rule: r1}\n"
		     "steps: [{action: block-address, params: {address: \"{{src_ip}}\", "
		     "port: 22}}]\n",
		     "unknown parameter 'port'");
	/* a template names an event field */
	expect_error("id: a\ntrigger: {rule: r1}\n"
		     "steps: [{action: block-address, params: {address: \"{{source}}\"}}]\n",
		     "{{source}} is not an event field");
	/* whole values only */
	expect_error("id: a\ntrigger: {rule: r1}\n"
		     "steps: [{action: quarantine-file, params: {path: \"/tmp/{{pid}}\"}}]\n",
		     "a template must be the whole value");
	/* check fields need a check trigger, event fields an event trigger */
	expect_error("id: a\ntrigger: {rule: r1}\n"
		     "steps: [{action: apply-fix, params: {fix: \"{{fix}}\"}}]\n",
		     "{{fix}} needs a check trigger");
	expect_error("id: a\ntrigger: {check: c1}\n"
		     "steps: [{action: block-address, params: {address: \"{{src_ip}}\"}}]\n",
		     "a check trigger has no event field {{src_ip}}");
	expect_error("id: a\ntrigger: {rule: r1}\nexpires: 2027-02-30\n"
		     "steps: [{action: isolate-host}]\n",
		     "expires: expected a date");
	expect_error("id: a\ntrigger: {rule: r1}\nexpires: 9999-12-31\n"
		     "steps: [{action: isolate-host}]\n",
		     "expires: expected a date");
}

static void test_template_filled(void **state)
{
	(void)state;
	struct playbook_set *s = load_ok(block_pb);
	const char *const kv[] = { "src_ip", "203.0.113.7", NULL };
	struct playbook_input in = input("r1", 4, kv);
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.n_skipped, 0);
	assert_string_equal(st.v[0].playbook_id, "block");
	assert_int_equal(st.v[0].step, 0);
	assert_int_equal(st.v[0].mode, PLAYBOOK_AUTO);
	assert_true(st.v[0].local);
	assert_false(st.v[0].dry_run);
	assert_int_equal(st.v[0].action->kind, IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS);
	assert_string_equal(st.v[0].action->address, "203.0.113.7");
	assert_int_equal(st.v[0].action->duration_seconds, 3600);
	assert_int_equal(action_check(st.v[0].action, NULL, 0), 0);
	playbook_steps_free(&st);

	/* server_only leaves the local step out */
	assert_int_equal(playbook_match(s, &in, false, true, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);

	/* a near miss: another rule */
	in.rule_id = "r2";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n + st.n_skipped, 0);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_missing_field_skipped(void **state)
{
	(void)state;
	struct playbook_set *s = load_ok(block_pb);
	const char *const none[] = { "user", "alice", NULL };
	struct playbook_input in = input("r1", 4, none);
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, true, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.n_skipped, 1);
	assert_string_equal(st.skipped[0], "block step 0: no src_ip in the event");
	playbook_steps_free(&st);

	/* a value that fails action_check is skipped with the validator's reason */
	const char *const bad[] = { "src_ip", "not-an-address", NULL };
	in.field_arg = (void *)bad;
	assert_int_equal(playbook_match(s, &in, true, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.n_skipped, 1);
	assert_non_null(strstr(st.skipped[0], "is not an IP address"));
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_pid_template_and_check_fix(void **state)
{
	(void)state;
	struct playbook_set *s =
		load_ok("id: k\ntrigger: {tag: attack.t1059}\n"
			"steps: [{action: kill-process, params: {pid: \"{{pid}}\", "
			"tree: true}, mode: auto, local: true}]\n"
			"---\n"
			"id: f\ntrigger: {check: [ssh-a, ssh-b]}\n"
			"steps: [{action: apply-fix, params: {check: \"{{check_id}}\", "
			"fix: \"{{fix}}\"}, mode: auto}]\n");
	const char *const kv[] = { "pid", "4321", NULL };
	const char *const tags[] = { "attack.execution", "attack.t1059.004" };
	struct playbook_input in = input("x", 5, kv);
	in.tags = tags;
	in.n_tags = 2;
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.v[0].action->pid, 4321);
	assert_true(st.v[0].action->tree);
	playbook_steps_free(&st);

	/* tag prefixes end on a boundary: attack.t1059 does not match attack.t10590 */
	const char *const near[] = { "attack.t10590" };
	in.tags = near;
	in.n_tags = 1;
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);

	struct playbook_input chk = {
		.source = "check",
		.rule_id = "ssh-b",
		.level = 4,
		.fix_json = "{\"type\":\"config_set\",\"file\":\"/etc/ssh/sshd_config\","
			    "\"key\":\"PermitRootLogin\",\"value\":\"no\"}",
	};
	assert_int_equal(playbook_match(s, &chk, false, true, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].action->check_id, "ssh-b");
	assert_non_null(strstr(st.v[0].action->fix_json, "PermitRootLogin"));
	playbook_steps_free(&st);

	/* a check without a fix: skipped */
	chk.fix_json = NULL;
	assert_int_equal(playbook_match(s, &chk, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.n_skipped, 1);
	assert_string_equal(st.skipped[0], "f step 0: no fix in the check");
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_label_conditions(void **state)
{
	(void)state;
	struct playbook_set *s = load_ok("id: l\ntrigger: {min_level: high}\n"
					 "when: {labels: {env: prod, os: linux}, "
					 "not_labels: {role: bastion}}\n"
					 "steps: [{action: isolate-host, mode: approve}]\n");
	const char *keys[] = { "env", "os", "role" };
	const char *values[] = { "prod", "linux", "web" };
	struct playbook_input in = input("r", 4, NULL);
	in.label_keys = keys;
	in.label_values = values;
	in.n_labels = 3;
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.v[0].mode, PLAYBOOK_APPROVE);
	playbook_steps_free(&st);

	values[2] = "bastion"; /* not_labels holds */
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);

	values[2] = "web";
	values[0] = "staging"; /* labels do not all hold */
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);

	values[0] = "prod";
	in.level = 3; /* below min_level */
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);

	/* a failing check only matches playbooks that name it in trigger check */
	in.level = 5;
	in.source = "check";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_hostnames_and_tag_case(void **state)
{
	(void)state;
	struct playbook_set *s = load_ok("id: h\ntrigger: {tag: [attack.T1110, attack.t1021]}\n"
					 "when: {hostnames: [web-1, web-2]}\n"
					 "steps: [{action: isolate-host, mode: notify}]\n");
	const char *const tags[] = { "attack.t1110.003" };
	struct playbook_input in = input("r", 3, NULL);
	in.tags = tags;
	in.n_tags = 1;
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.v[0].mode, PLAYBOOK_NOTIFY);
	playbook_steps_free(&st);
	in.hostname = "web-3";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);
	in.hostname = NULL;
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_expiry_and_dry_run(void **state)
{
	(void)state;
	struct playbook_set *s = load_ok("id: e\ntrigger: {anomaly: new_listener}\n"
					 "expires: 2027-06-30\ndry_run: true\n"
					 "steps: [{action: isolate-host}]\n");
	struct playbook_input in = input("baseline.new_listener", 3, NULL);
	in.source = "anomaly";
	struct playbook_steps st = { 0 };
	int64_t end = 1814400000LL * NS; /* 2027-07-01T00:00:00Z */
	assert_int_equal(playbook_match(s, &in, false, false, end - NS, &st), 0);
	assert_int_equal(st.n, 1);
	assert_true(st.v[0].dry_run);
	playbook_steps_free(&st);
	assert_int_equal(playbook_match(s, &in, false, false, end, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);

	in.rule_id = "baseline.new_user"; /* another anomaly kind */
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_protected_user_and_host(void **state)
{
	(void)state;
	struct playbook_set *s =
		load_ok("guardrails:\n"
			"  protected_users: [ops]\n"
			"  protected_hosts: {labels: {tier: core}, names: [db-1]}\n"
			"---\n"
			"id: u\ntrigger: {rule: r1}\n"
			"steps:\n"
			"  - {action: lock-user, params: {user: \"{{target_user}}\"}, mode: auto}\n"
			"  - {action: remove-authorized-key, params: {user: \"{{target_user}}\", "
			"fingerprint: \"{{key_fingerprint}}\"}}\n"
			"  - {action: isolate-host}\n");
	assert_true(playbook_user_protected(s, "root"));
	assert_true(playbook_user_protected(s, "ops"));
	assert_false(playbook_user_protected(s, "alice"));
	const char *const *pu = playbook_protected_users(s);
	assert_string_equal(pu[0], "root");
	assert_string_equal(pu[1], "ops");
	assert_null(pu[2]);

	const char *const kv[] = { "target_user", "ops", "key_fingerprint",
				   "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", NULL };
	struct playbook_input in = input("r1", 4, kv);
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1); /* only the isolation */
	assert_int_equal(st.v[0].action->kind, IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST);
	assert_int_equal(st.n_skipped, 2);
	assert_string_equal(st.skipped[0], "u step 0: protected user 'ops'");
	assert_string_equal(st.skipped[1], "u step 1: protected user 'ops'");
	playbook_steps_free(&st);

	const char *const kv2[] = { "target_user", "alice", "key_fingerprint",
				    "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", NULL };
	in.field_arg = (void *)kv2;
	in.hostname = "db-1";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1); /* remove-authorized-key is not a host action */
	assert_int_equal(st.v[0].action->kind,
			 IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY);
	assert_int_equal(st.n_skipped, 2);
	assert_string_equal(st.skipped[0], "u step 0: protected host 'db-1'");
	assert_string_equal(st.skipped[1], "u step 2: protected host 'db-1'");
	playbook_steps_free(&st);

	const char *keys[] = { "tier" }, *values[] = { "core" };
	in.hostname = "app-7";
	in.label_keys = keys;
	in.label_values = values;
	in.n_labels = 1;
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.n_skipped, 2);
	playbook_steps_free(&st);

	/* root is protected without guardrails too */
	struct playbook_set *bare = load_ok("id: u\ntrigger: {rule: r1}\n"
					    "steps: [{action: lock-user, params: {user: "
					    "\"{{target_user}}\"}}]\n");
	const char *const kv3[] = { "target_user", "root", NULL };
	in.field_arg = (void *)kv3;
	assert_int_equal(playbook_match(bare, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_string_equal(st.skipped[0], "u step 0: protected user 'root'");
	playbook_steps_free(&st);
	playbook_set_free(bare);
	playbook_set_free(s);
}

static void test_circuit_breaker(void **state)
{
	(void)state;
	struct playbook_set *s = load_ok("guardrails: {rate_limits: {isolate-host: 3}}\n");
	const Immune__V1__ActionKind iso = IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST;
	const Immune__V1__ActionKind blk = IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS;
	int64_t t0 = 1000 * NS;
	assert_true(playbook_rate_allow(s, iso, "h1", t0));
	assert_true(playbook_rate_allow(s, iso, "h2", t0 + NS));
	assert_true(playbook_rate_allow(s, iso, "h2", t0 + 2 * NS)); /* same host again */
	assert_true(playbook_rate_allow(s, iso, "h3", t0 + 3 * NS));
	assert_false(playbook_rate_allow(s, iso, "h4", t0 + 4 * NS)); /* tripped */
	assert_false(playbook_rate_allow(s, iso, "h5", t0 + 30 * NS));
	assert_true(playbook_rate_allow(s, iso, "h1", t0 + 30 * NS)); /* already counted */
	for (int i = 0; i < 100; i++)				      /* no limit for this kind */
		assert_true(playbook_rate_allow(s, blk, "h9", t0 + i));
	/* a minute after h2 and h3 went, there is room again (h1 counts from t0 + 30 s) */
	assert_true(playbook_rate_allow(s, iso, "h4", t0 + 64 * NS));
	assert_true(playbook_rate_allow(s, iso, "h5", t0 + 64 * NS));
	assert_false(playbook_rate_allow(s, iso, "h6", t0 + 64 * NS));
	/* and after a quiet minute it has reset */
	assert_true(playbook_rate_allow(s, iso, "h6", t0 + 200 * NS));
	playbook_set_free(s);
}

/* ---- the shipped playbooks ---- */

static struct playbook_set *shipped(void)
{
	const char *src = getenv("IMMUNE_SOURCE_DIR");
	assert_non_null(src);
	_cleanup_free_ char *dir = xasprintf("%s/rules/playbooks", src);
	_cleanup_strv_ strv errors = NULL;
	struct playbook_set *s = NULL;
	assert_int_equal(playbook_load(dir, &s, &errors), 0);
	if (errors)
		fail_msg("shipped playbook error: %s", errors[0]);
	return s;
}

static void test_shipped_load(void **state)
{
	(void)state;
	struct playbook_set *s = shipped();
	assert_int_equal(playbook_set_count(s), 7);
	assert_true(playbook_user_protected(s, "root"));
	playbook_set_free(s);
}

static void test_shipped_ssh_brute_force(void **state)
{
	(void)state;
	struct playbook_set *s = shipped();
	const char *const kv[] = { "src_ip", "198.51.100.23", "target_user", "admin", NULL };
	struct playbook_input in = input("8dc3f66f-d238-4128-a98b-08874d7d3554", 4, kv);
	in.source = "correlation";
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, true, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].playbook_id, "ssh-brute-force-block");
	assert_int_equal(st.v[0].mode, PLAYBOOK_AUTO);
	assert_string_equal(st.v[0].action->address, "198.51.100.23");
	assert_int_equal(st.v[0].action->duration_seconds, 3600);
	playbook_steps_free(&st);
	/* near miss: the single failed password rule */
	in.rule_id = "aadce437-d99a-4035-8719-8c02ffd8e455";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n + st.n_skipped, 0);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_shipped_authorized_keys(void **state)
{
	(void)state;
	struct playbook_set *s = shipped();
	const char sha[] = "1111111111111111111111111111111111111111111111111111111111111111";
	const char fp[] = "SHA256:vWXTMeKV/DvAS4F+knNORdkwgqpXbeMBkIoHDwOVGWU";
	const char *const kv[] = { "target_filename",
				   "/home/alice/.ssh/authorized_keys",
				   "file_prev_sha256",
				   sha,
				   "key_fingerprint",
				   fp,
				   "target_user",
				   "alice",
				   NULL };
	struct playbook_input in = input("3f3895e6-cdc3-4a77-89d9-26d2f1c4f02a", 3, kv);
	struct playbook_steps st = { 0 };
	/* a key added to alice's file: that key is removed, once an operator approves */
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.n_skipped, 0);
	assert_string_equal(st.v[0].playbook_id, "ssh-authorized-key-remove");
	assert_int_equal(st.v[0].mode, PLAYBOOK_APPROVE);
	assert_false(st.v[0].local);
	assert_int_equal(st.v[0].action->kind,
			 IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY);
	assert_string_equal(st.v[0].action->user, "alice");
	assert_string_equal(st.v[0].action->fingerprint, fp);
	playbook_steps_free(&st);
	/* near miss: an edit that added no key */
	const char *const nokey[] = { "target_filename",
				      "/home/alice/.ssh/authorized_keys",
				      "file_prev_sha256",
				      sha,
				      "target_user",
				      "alice",
				      NULL };
	in.field_arg = (void *)nokey;
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.n_skipped, 1);
	assert_string_equal(st.skipped[0],
			    "ssh-authorized-key-remove step 0: no key_fingerprint in the event");
	playbook_steps_free(&st);
	/* root's file: the generic rule's step is refused (root is protected) ... */
	const char *const root[] = { "target_filename",
				     "/root/.ssh/authorized_keys",
				     "file_prev_sha256",
				     sha,
				     "key_fingerprint",
				     fp,
				     "target_user",
				     "root",
				     NULL };
	in.field_arg = (void *)root;
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.n_skipped, 1);
	assert_string_equal(st.skipped[0],
			    "ssh-authorized-key-remove step 0: protected user 'root'");
	playbook_steps_free(&st);
	/* ... and root's own rule offers to put the previous content back */
	in.rule_id = "bb82cfe0-5a06-4aba-a507-92be20b7fc98";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].playbook_id, "ssh-authorized-key-restore");
	assert_int_equal(st.v[0].mode, PLAYBOOK_APPROVE);
	assert_string_equal(st.v[0].action->path, "/root/.ssh/authorized_keys");
	assert_string_equal(st.v[0].action->sha256, sha);
	playbook_steps_free(&st);
	/* near miss: a new file has no previous content */
	const char *const created[] = { "target_filename",
					"/root/.ssh/authorized_keys",
					"key_fingerprint",
					fp,
					"target_user",
					"root",
					NULL };
	in.field_arg = (void *)created;
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.n_skipped, 1);
	assert_string_equal(st.skipped[0],
			    "ssh-authorized-key-restore step 0: no file_prev_sha256 in the event");
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_shipped_sshd_drift(void **state)
{
	(void)state;
	struct playbook_set *s = shipped();
	struct playbook_input chk = {
		.source = "check",
		.rule_id = "ssh-permit-root-login",
		.level = 4,
		.hostname = "web-1",
		.fix_json = "{\"type\":\"config_set\",\"file\":\"/etc/ssh/sshd_config\","
			    "\"key\":\"PermitRootLogin\",\"value\":\"no\"}",
	};
	struct playbook_steps st = { 0 };
	/* root logins: a fix that could cut off operators waits for an approval */
	assert_int_equal(playbook_match(s, &chk, false, true, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].playbook_id, "sshd-config-drift-fix-logins");
	assert_int_equal(st.v[0].mode, PLAYBOOK_APPROVE);
	assert_false(st.v[0].local);
	assert_string_equal(st.v[0].action->check_id, "ssh-permit-root-login");
	playbook_steps_free(&st);
	/* empty passwords: applied at once */
	chk.rule_id = "ssh-permit-empty-passwords";
	chk.fix_json = "{\"type\":\"config_set\",\"file\":\"/etc/ssh/sshd_config\","
		       "\"key\":\"PermitEmptyPasswords\",\"value\":\"no\"}";
	assert_int_equal(playbook_match(s, &chk, false, true, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].playbook_id, "sshd-config-drift-fix");
	assert_int_equal(st.v[0].mode, PLAYBOOK_AUTO);
	assert_string_equal(st.v[0].action->check_id, "ssh-permit-empty-passwords");
	playbook_steps_free(&st);
	/* near miss: a check left to people */
	chk.rule_id = "ssh-ciphers-strong";
	assert_int_equal(playbook_match(s, &chk, false, false, 0, &st), 0);
	assert_int_equal(st.n + st.n_skipped, 0);
	playbook_steps_free(&st);

	/* the FIM rule on sshd_config: restore, approved by an operator */
	const char sha[] = "2222222222222222222222222222222222222222222222222222222222222222";
	const char *const kv[] = { "target_filename", "/etc/ssh/sshd_config", "file_prev_sha256",
				   sha, NULL };
	struct playbook_input in = input("3ec54996-5255-4978-a4e6-79210f14a5fb", 3, kv);
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].playbook_id, "sshd-config-changed-restore");
	assert_int_equal(st.v[0].mode, PLAYBOOK_APPROVE);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

static void test_shipped_reverse_shell(void **state)
{
	(void)state;
	struct playbook_set *s = shipped();
	const char *const kv[] = { "pid", "31337", "image", "/usr/bin/nc", NULL };
	struct playbook_input in = input("9611c96c-75a6-410c-8f65-4e35cf05b9e5", 5, kv);
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &in, true, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].playbook_id, "reverse-shell-contain");
	assert_int_equal(st.v[0].action->kind, IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS);
	assert_int_equal(st.v[0].action->pid, 31337);
	assert_true(st.v[0].action->tree);
	assert_int_equal(st.v[0].mode, PLAYBOOK_AUTO);
	playbook_steps_free(&st);
	assert_int_equal(playbook_match(s, &in, false, true, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.v[0].action->kind, IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST);
	assert_int_equal(st.v[0].mode, PLAYBOOK_APPROVE);
	playbook_steps_free(&st);
	/* a core host is never isolated (guardrails.yml) */
	const char *keys[] = { "tier" }, *values[] = { "core" };
	in.label_keys = keys;
	in.label_values = values;
	in.n_labels = 1;
	assert_int_equal(playbook_match(s, &in, false, true, 0, &st), 0);
	assert_int_equal(st.n, 0);
	assert_string_equal(st.skipped[0], "reverse-shell-contain step 1: protected host 'web-1'");
	playbook_steps_free(&st);
	/* near miss: python pty upgrade alone is not a reverse shell */
	in.rule_id = "1e553e2a-5429-471f-91dd-eca944665210";
	assert_int_equal(playbook_match(s, &in, false, false, 0, &st), 0);
	assert_int_equal(st.n + st.n_skipped, 0);
	playbook_steps_free(&st);
	playbook_set_free(s);
}

/* ---- alerts as inputs ---- */

static void test_input_from_alert_summary(void **state)
{
	(void)state;
	struct alert a = { 0 };
	alert_new_uid(&a);
	a.source = ALERT_CORRELATION;
	a.rule_id = xstrdup("8dc3f66f-d238-4128-a98b-08874d7d3554");
	a.title = xstrdup("SSH brute force from one source");
	a.level = SIGMA_LEVEL_HIGH;
	strv_push(&a.tags, "attack.credential_access");
	strv_push(&a.tags, "attack.t1110.001");
	a.hostname = xstrdup("web-1");
	struct host_event ev;
	host_event_init(&ev);
	host_event_reset(&ev, EVENT_LOG_LINE, 1700000000LL * NS);
	host_event_set_str(&ev, EF_SRC_IP, "198.51.100.23");
	host_event_set_str(&ev, EF_MESSAGE, "Failed password for admin");
	alert_add_evidence(&a, &ev);
	host_event_reset(&ev, EVENT_LOG_LINE, 1700000001LL * NS);
	host_event_set_str(&ev, EF_SRC_IP, "198.51.100.24");
	alert_add_evidence(&a, &ev);
	host_event_free(&ev);
	/* the agent's own alert gives the same input */
	struct playbook_alert edge;
	assert_int_equal(playbook_input_from_alert(&a, &edge), 0);
	assert_string_equal(edge.in.source, "correlation");
	assert_int_equal(edge.in.n_tags, 2);
	assert_string_equal(edge.in.tags[1], "attack.t1110.001");
	assert_string_equal(edge.in.hostname, "web-1");
	assert_string_equal(edge.in.field(edge.in.field_arg, "src_ip"), "198.51.100.24");
	playbook_alert_free(&edge);

	json_t *j = alert_to_json(&a);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	alert_clear(&a);

	struct alert_summary sum;
	assert_int_equal(alert_parse(text, strlen(text), &sum), 0);
	free(text);
	struct playbook_alert pa;
	assert_int_equal(playbook_input_from_alert_summary(&sum, &pa), 0);
	assert_string_equal(pa.in.source, "correlation");
	assert_int_equal(pa.in.level, SIGMA_LEVEL_HIGH);
	assert_string_equal(pa.in.hostname, "web-1");
	assert_int_equal(pa.in.n_tags, 2);
	assert_string_equal(pa.in.tags[0], "attack.t1110.001");
	assert_string_equal(pa.in.tags[1], "attack.credential_access");
	assert_string_equal(pa.in.field(pa.in.field_arg, "src_ip"), "198.51.100.24"); /* newest */
	assert_null(pa.in.field(pa.in.field_arg, "pid"));
	assert_null(pa.in.field(pa.in.field_arg, "no_such_field"));

	struct playbook_set *s = shipped();
	struct playbook_steps st = { 0 };
	assert_int_equal(playbook_match(s, &pa.in, false, false, 0, &st), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].action->address, "198.51.100.24");
	playbook_steps_free(&st);
	playbook_set_free(s);
	playbook_alert_free(&pa);
	alert_summary_free(&sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_unknown_keys_refused),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_params_checked_at_load),
		cmocka_unit_test(test_template_filled),
		cmocka_unit_test(test_missing_field_skipped),
		cmocka_unit_test(test_pid_template_and_check_fix),
		cmocka_unit_test(test_label_conditions),
		cmocka_unit_test(test_hostnames_and_tag_case),
		cmocka_unit_test(test_expiry_and_dry_run),
		cmocka_unit_test(test_protected_user_and_host),
		cmocka_unit_test(test_circuit_breaker),
		cmocka_unit_test(test_shipped_load),
		cmocka_unit_test(test_shipped_ssh_brute_force),
		cmocka_unit_test(test_shipped_authorized_keys),
		cmocka_unit_test(test_shipped_sshd_drift),
		cmocka_unit_test(test_shipped_reverse_shell),
		cmocka_unit_test(test_input_from_alert_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
