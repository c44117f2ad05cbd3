/* Unit tests for the audit (audit_rules, auditd_conf) and logging (journald_conf, rsyslog_conf)
 * collectors over fixture roots (tests/fixtures/services/). */
#include "inv_helpers.h"

#include "inventory/audit.h"

#include <sys/stat.h>

/* Returns the row of table with key (and, when value is not NULL, value). */
static json_t *kv(struct inventory *inv, const char *table, const char *key, const char *value)
{
	size_t i;
	json_t *row;
	json_array_foreach(inventory_rows(inv, table), i, row) {
		if (strcmp(col_str(row, "key"), key) == 0 &&
		    (!value || strcmp(col_str(row, "value"), value) == 0))
			return row;
	}
	fail_msg("no %s row %s=%s", table, key, value ? value : "*");
	return NULL;
}

static void test_audit_rules(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "audit_rules");
	json_t *r;

	r = must_row(inv, "audit_rules", "rule",
		     "-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time-change");
	assert_string_equal(col_str(r, "key"), "time-change");
	assert_string_equal(col_str(r, "file"), "/etc/audit/rules.d/10-base.rules");
	assert_int_equal(col_int(r, "line"), 5);
	r = must_row(inv, "audit_rules", "rule",
		     "-a always,exit -F arch=b64 -S sethostname -F key=system-locale");
	assert_string_equal(col_str(r, "key"), "system-locale");
	r = must_row(inv, "audit_rules", "rule", "-w /var/log/sudo.log -p wa -k actions");
	assert_int_equal(col_int(r, "line"), 8);
	r = must_row(inv, "audit_rules", "rule", "-e 2");
	assert_null(col_str(r, "key"));
	assert_string_equal(col_str(r, "file"), "/etc/audit/rules.d/99-finalize.rules");
	r = must_row(inv, "audit_rules", "rule", "-w /etc/passwd -p wa -k identity");
	assert_string_equal(col_str(r, "file"), "/etc/audit/audit.rules");
	/* 6 rules in 10-base, 1 in 99-finalize, 3 in audit.rules; comments and blanks skipped */
	assert_int_equal(n_rows(inv, "audit_rules"), 10);

	assert_int_equal(n_rows(inv, "auditd_conf"), 5);
	r = kv(inv, "auditd_conf", "max_log_file_action", NULL);
	assert_string_equal(col_str(r, "value"), "keep_logs");
	r = kv(inv, "auditd_conf", "space_left_action", NULL);
	assert_string_equal(col_str(r, "value"), "email");
	assert_int_equal(n_errors(inv, "audit_rules") + n_errors(inv, "auditd_conf"), 0);
	inventory_free(inv);
}

static void test_audit_malformed(void **state)
{
	struct inventory *inv = collect_fixture("services", "malformed", "audit_rules");
	/* The text lines around a binary one are kept; the file is reported. */
	must_row(inv, "audit_rules", "rule", "-w /etc/shadow -p wa -k ok");
	must_row(inv, "audit_rules", "rule", "-w /etc/group -p wa -k identity");
	assert_int_equal(n_rows(inv, "audit_rules"), 2);
	assert_true(has_error(inv, "audit_rules", "/etc/audit/rules.d/50-bad.rules"));
	inventory_free(inv);

	char *rule, *key;
	assert_int_equal(audit_rule_parse("  # c", 5, &rule, &key), 0);
	assert_int_equal(audit_rule_parse("-w /x\x01", 6, &rule, &key), -EBADMSG);
	assert_int_equal(audit_rule_parse("-w /x -k a  -k 'b'", 18, &rule, &key), 1);
	assert_string_equal(rule, "-w /x -k a -k 'b'");
	assert_string_equal(key, "a,b");
	free(rule);
	free(key);
}

static void test_audit_oversized(void **state)
{
	char root[] = "/tmp/immune-audit-XXXXXX";
	assert_non_null(mkdtemp(root));
	_cleanup_free_ char *d1 = xasprintf("%s/etc", root);
	_cleanup_free_ char *d2 = xasprintf("%s/etc/audit", root);
	_cleanup_free_ char *path = xasprintf("%s/etc/audit/audit.rules", root);
	assert_int_equal(mkdir(d1, 0755), 0);
	assert_int_equal(mkdir(d2, 0755), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < AUDIT_RULES_MAX / 16; i++) /* 30 bytes a line */
		fputs("-w /etc/passwd -p wa -k ident\n", f);
	fclose(f);
	struct inventory *inv = collect_root(root, "audit_rules");
	assert_int_equal(n_rows(inv, "audit_rules"), 0);
	assert_true(has_error(inv, "audit_rules", "/etc/audit/audit.rules"));
	inventory_free(inv);
	rm_tree(root);
}

static void test_journald(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "journald_conf");
	json_t *rows = inventory_rows(inv, "journald_conf");
	/* Main file, then drop-ins by name; /etc's 50-forward.conf hides /usr/lib's. */
	assert_int_equal(json_array_size(rows), 4);
	assert_string_equal(col_str(json_array_get(rows, 0), "key"), "Storage");
	assert_string_equal(col_str(json_array_get(rows, 0), "value"), "persistent");
	assert_string_equal(col_str(json_array_get(rows, 1), "key"), "Compress");
	json_t *r = json_array_get(rows, 2);
	assert_string_equal(col_str(r, "key"), "ForwardToSyslog");
	assert_string_equal(col_str(r, "value"), "yes");
	assert_string_equal(col_str(r, "file"), "/etc/systemd/journald.conf.d/50-forward.conf");
	r = json_array_get(rows, 3);
	assert_string_equal(col_str(r, "key"), "MaxRetentionSec");
	assert_string_equal(col_str(r, "file"), "/usr/lib/systemd/journald.conf.d/60-vendor.conf");
	inventory_free(inv);
}

static void test_rsyslog(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "rsyslog_conf");
	json_t *r;

	kv(inv, "rsyslog_conf", "module", "load=\"imuxsock\"");
	kv(inv, "rsyslog_conf", "module", "load=\"imklog\" permitnonkernelfacility=\"on\"");
	r = kv(inv, "rsyslog_conf", "$FileCreateMode", "0640");
	assert_int_equal(col_int(r, "line"), 4);
	kv(inv, "rsyslog_conf", "$FileOwner", "root");
	kv(inv, "rsyslog_conf", "$IncludeConfig", "/etc/rsyslog.d/*.conf");
	kv(inv, "rsyslog_conf", "*.*;auth,authpriv.none", "-/var/log/syslog");
	r = kv(inv, "rsyslog_conf", "*.*",
	       "action(type=\"omfwd\" target=\"logs.example.com\" port=\"514\" protocol=\"tcp\")");
	assert_int_equal(col_int(r, "line"), 10);
	kv(inv, "rsyslog_conf", "*.emerg", ":omusrmsg:*");
	r = kv(inv, "rsyslog_conf", "*.*", "@@remote.example.com:514");
	assert_string_equal(col_str(r, "file"), "/etc/rsyslog.d/50-remote.conf");
	kv(inv, "rsyslog_conf", "if", "$programname == 'sshd' then {");
	kv(inv, "rsyslog_conf", "action", "type=\"omfile\" file=\"/var/log/sshd.log\"");
	/* 8 in rsyslog.conf (the block comment is none), 3 in 50-remote.conf ("}" skipped) */
	assert_int_equal(n_rows(inv, "rsyslog_conf"), 11);
	assert_int_equal(n_errors(inv, "rsyslog_conf"), 0);
	inventory_free(inv);

	/* rsyslog.conf is a directory: reported, never read as empty. */
	inv = collect_fixture("services", "malformed", "rsyslog_conf");
	assert_true(has_error(inv, "rsyslog_conf", "/etc/rsyslog.conf"));
	inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_rules),	cmocka_unit_test(test_audit_malformed),
		cmocka_unit_test(test_audit_oversized), cmocka_unit_test(test_journald),
		cmocka_unit_test(test_rsyslog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
