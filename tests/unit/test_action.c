/* Unit tests for typed actions (respond/action.h): names, action_check accepting and
 * refusing each kind and every field limit (paths, addresses and CIDR prefixes, account
 * names, fingerprints, digests, fixes, units, cron entries, allow lists, durations),
 * action_from_json (unknown parameters, durations, types), the JSON parameters round trip,
 * action_dup, ids and action_params_from_args. */
#include "unit.h"

#include "respond/action.h"

#define K_KILL IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS
#define K_BLOCK IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS
#define K_ISOLATE IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST
#define K_LOCK IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER
#define K_KEY IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY
#define K_QUAR IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE
#define K_RESTORE IMMUNE__V1__ACTION_KIND__ACTION_RESTORE_FILE
#define K_FIX IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX
#define K_SERVICE IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_SERVICE
#define K_CRON IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_CRON

#define FP "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN+/0"
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* action_from_json on a JSON text; returns its result, the action freed, reason in err. */
static int from_text(int kind, const char *params, char *err, size_t errlen)
{
	json_error_t je;
	json_t *p = json_loads(params, 0, &je);
	Action *a = NULL;
	assert_non_null(p);
	err[0] = '\0';
	int r = action_from_json((Immune__V1__ActionKind)kind, p, &a, err, errlen);
	json_decref(p);
	if (r == 0)
		assert_non_null(a);
	else
		assert_null(a);
	action_free(a);
	return r;
}

static void ok(int kind, const char *params)
{
	char err[512];
	int r = from_text(kind, params, err, sizeof(err));
	if (r != 0)
		fail_msg("%s %s refused: %s", action_kind_name(kind), params, err);
}

/* Refused, with a reason containing want. */
static void bad(int kind, const char *params, const char *want)
{
	char err[512];
	int r = from_text(kind, params, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("%s %s accepted", action_kind_name(kind), params);
	if (!strstr(err, want))
		fail_msg("%s %s: reason '%s' lacks '%s'", action_kind_name(kind), params, err,
			 want);
}

static void test_names(void **state _unused_)
{
	static const char *const names[] = {
		"kill-process",		 "block-address",   "isolate-host", "lock-user",
		"remove-authorized-key", "quarantine-file", "restore-file", "apply-fix",
		"disable-service",	 "disable-cron",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int k = action_kind_by_name(names[i]);
		assert_int_equal(k, (int)i + 1);
		assert_string_equal(action_kind_name(k), names[i]);
	}
	assert_int_equal(action_kind_by_name("format-disk"), -ENOENT);
	assert_int_equal(action_kind_by_name(NULL), -ENOENT);
	assert_null(action_kind_name(IMMUNE__V1__ACTION_KIND__ACTION_UNSPECIFIED));
	assert_null(action_kind_name(99));
	assert_string_equal(action_op_name(IMMUNE__V1__ACTION_OP__OP_ROLLBACK), "rollback");
	assert_int_equal(action_op_by_name("verify"), IMMUNE__V1__ACTION_OP__OP_VERIFY);
	assert_int_equal(action_op_by_name("undo"), -ENOENT);
	assert_string_equal(action_op_name(IMMUNE__V1__ACTION_OP__OP_REFRESH), "refresh");
	assert_null(action_op_name(4));
	assert_string_equal(exec_status_name(IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN), "dry_run");
	assert_null(exec_status_name(IMMUNE__V1__EXEC_STATUS__EXEC_UNSPECIFIED));
}

static void test_each_kind(void **state _unused_)
{
	ok(K_KILL, "{\"pid\": 4242}");
	ok(K_KILL, "{\"pid\": 2, \"start_time\": 987654, \"tree\": true}");
	ok(K_BLOCK, "{\"address\": \"203.0.113.7\"}");
	ok(K_ISOLATE, "{}");
	ok(K_ISOLATE, "{\"allow\": [\"10.0.0.1\", \"fd00::/8\"], \"duration\": \"1h\"}");
	ok(K_LOCK, "{\"user\": \"mallory\"}");
	ok(K_KEY, "{\"user\": \"alice\", \"fingerprint\": \"" FP "\"}");
	ok(K_QUAR, "{\"path\": \"/tmp/dropper.sh\"}");
	ok(K_RESTORE, "{\"path\": \"/etc/ssh/sshd_config\", \"sha256\": \"" SHA "\"}");
	ok(K_FIX, "{\"fix\": {\"type\": \"sysctl_set\", \"key\": \"net.ipv4.ip_forward\", "
		  "\"value\": \"0\"}}");
	ok(K_FIX, "{\"check\": \"ssh.permit-root\", \"fix\": {\"type\": \"config_set\"}}");
	ok(K_SERVICE, "{\"unit\": \"telnet.socket\"}");
	ok(K_SERVICE, "{\"unit\": \"getty@tty1.service\"}");
	ok(K_CRON, "{\"path\": \"/etc/cron.d/job\", \"entry\": \"* * * * * root /tmp/x\"}");

	/* unknown kinds */
	char err[256];
	assert_int_equal(from_text(0, "{}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown action kind"));
	assert_int_equal(from_text(11, "{}", err, sizeof(err)), -EINVAL);
	Immune__V1__Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = 42;
	assert_int_equal(action_check(&a, err, sizeof(err)), -EINVAL);
	assert_int_equal(action_check(NULL, err, sizeof(err)), -EINVAL);
}

static void test_required_and_extra(void **state _unused_)
{
	bad(K_KILL, "{}", "'pid' is required");
	bad(K_BLOCK, "{\"duration\": 60}", "'address' is required");
	bad(K_KEY, "{\"user\": \"alice\"}", "'fingerprint' is required");
	bad(K_RESTORE, "{\"path\": \"/etc/hosts\"}", "'sha256' is required");
	bad(K_FIX, "{\"check\": \"x\"}", "'fix' is required");
	bad(K_CRON, "{\"path\": \"/etc/crontab\"}", "'entry' is required");
	bad(K_KILL, "{\"pid\": 10, \"user\": \"bob\"}", "'user' does not apply");
	bad(K_LOCK, "{\"user\": \"bob\", \"duration\": 60}", "'duration' does not apply");
	bad(K_QUAR, "{\"path\": \"/tmp/x\", \"tree\": true}", "'tree' does not apply");
	bad(K_ISOLATE, "{\"address\": \"10.0.0.1\"}", "'address' does not apply");
}

static void test_pid(void **state _unused_)
{
	bad(K_KILL, "{\"pid\": 1}", "pid 1 is out of range");
	bad(K_KILL, "{\"pid\": -5}", "'pid' must be a whole number");
	bad(K_KILL, "{\"pid\": 4294967296}", "'pid' must be a whole number");
	bad(K_KILL, "{\"pid\": \"12\"}", "'pid' must be a whole number");
	bad(K_KILL, "{\"pid\": 12, \"tree\": \"yes\"}", "'tree' must be true or false");
	bad(K_KILL, "{\"pid\": 12, \"start_time\": -1}", "'start_time'");
	Immune__V1__Action a = IMMUNE__V1__ACTION__INIT;
	char err[128];
	a.kind = K_KILL;
	a.pid = -7; /* straight from the wire */
	assert_int_equal(action_check(&a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "out of range"));
}

static void test_addresses(void **state _unused_)
{
	ok(K_BLOCK, "{\"address\": \"10.0.0.0/8\"}");
	ok(K_BLOCK, "{\"address\": \"10.0.0.0/32\"}");
	ok(K_BLOCK, "{\"address\": \"0.0.0.0/0\"}");
	ok(K_BLOCK, "{\"address\": \"2001:db8::1\"}");
	ok(K_BLOCK, "{\"address\": \"2001:db8::/128\"}");
	const char *const refused[] = {
		"1.2.3",       "1.2.3.4/33",  "256.1.1.1",	"10.0.0.0/",
		"10.0.0.0/-1", "10.0.0.0/8x", "2001:db8::/129", "/24",
		"example.com", "1.2.3.4 ",    "::1/+8",		"10.0.0.0/08/1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		_cleanup_free_ char *p = xasprintf("{\"address\": \"%s\"}", refused[i]);
		bad(K_BLOCK, p, "is not an IP address or CIDR");
	}
	bad(K_ISOLATE, "{\"allow\": [\"10.0.0.1\", \"10.0.0\"]}", "allowed address");
	bad(K_ISOLATE, "{\"allow\": \"10.0.0.1\"}", "'allow' must be an array");
	bad(K_ISOLATE, "{\"allow\": [1]}", "'allow' must be a string");
	/* at most ACTION_MAX_ALLOW addresses */
	json_t *allow = json_array();
	for (unsigned i = 0; i <= ACTION_MAX_ALLOW; i++)
		json_array_append_new(allow, json_sprintf("10.0.0.%u", i + 1));
	json_t *params = json_pack("{s:O}", "allow", allow);
	Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(K_ISOLATE, params, &a, err, sizeof(err)), -EINVAL);
	json_array_remove(allow, 0);
	json_object_set(params, "allow", allow);
	assert_int_equal(action_from_json(K_ISOLATE, params, &a, err, sizeof(err)), 0);
	assert_int_equal(a->n_allow, ACTION_MAX_ALLOW);
	action_free(a);
	json_decref(params);
	json_decref(allow);
}

static void test_durations(void **state _unused_)
{
	static const struct {
		const char *text;
		uint32_t seconds;
	} cases[] = {
		{ "90", 90 },
		{ "\"90s\"", 90 },
		{ "\"15m\"", 900 },
		{ "\"2h\"", 7200 },
		{ "\"7d\"", 604800 },
		{ "\"30d\"", ACTION_MAX_DURATION_S },
		{ "2592000", ACTION_MAX_DURATION_S },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text =
			xasprintf("{\"address\": \"10.1.2.3\", \"duration\": %s}", cases[i].text);
		json_t *p = json_loads(text, 0, NULL);
		Action *a = NULL;
		char err[256];
		assert_int_equal(action_from_json(K_BLOCK, p, &a, err, sizeof(err)), 0);
		assert_int_equal(a->duration_seconds, cases[i].seconds);
		action_free(a);
		json_decref(p);
	}
	static const char *const refused[] = { "\"31d\"", "2592001", "-1",  "\"soon\"",
					       "\"5y\"",  "1.5",     "true" };
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		_cleanup_free_ char *text =
			xasprintf("{\"address\": \"10.1.2.3\", \"duration\": %s}", refused[i]);
		bad(K_BLOCK, text, "'duration' must be seconds or a duration");
	}
	/* straight from the wire, over the maximum */
	Immune__V1__Action a = IMMUNE__V1__ACTION__INIT;
	char err[128];
	a.kind = K_ISOLATE;
	a.duration_seconds = ACTION_MAX_DURATION_S + 1;
	assert_int_equal(action_check(&a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "over the maximum"));
}

static void test_users_and_keys(void **state _unused_)
{
	ok(K_LOCK, "{\"user\": \"_apt\"}");
	ok(K_LOCK, "{\"user\": \"web-01.svc\"}");
	ok(K_LOCK, "{\"user\": \"machine$\"}");
	ok(K_LOCK, "{\"user\": \"abcdefghijklmnopqrstuvwxyz012345\"}"); /* 32 */
	const char *const refused[] = {
		"Root",
		"1user",
		"us er",
		"a$b",
		"-x",
		"../etc",
		"abcdefghijklmnopqrstuvwxyz0123456",
		"us\\ner",
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		_cleanup_free_ char *p = xasprintf("{\"user\": \"%s\"}", refused[i]);
		bad(K_LOCK, p, "is not a valid account name");
	}
	bad(K_LOCK, "{\"user\": 0}", "'user' must be a string");
	static const char *const fps[] = {
		"MD5:ab:cd",
		"SHA256:abc",
		"sha256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN+/0",
		"SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN+/0=",
		"SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN+-0",
	};
	for (size_t i = 0; i < ARRAY_SIZE(fps); i++) {
		_cleanup_free_ char *p =
			xasprintf("{\"user\": \"alice\", \"fingerprint\": \"%s\"}", fps[i]);
		bad(K_KEY, p, "is not SHA256:<43 base64 characters>");
	}
}

static void test_paths(void **state _unused_)
{
	ok(K_QUAR, "{\"path\": \"/a\"}");
	ok(K_QUAR, "{\"path\": \"/home/bob/.ssh/..hidden\"}");
	ok(K_QUAR, "{\"path\": \"/tmp/.x\"}");
	const char *const refused[] = {
		"etc/passwd",	      "./x", "/",	"/tmp/",     "/tmp//x",	     "/tmp/./x",
		"/tmp/../etc/shadow", "/..", "/tmp/..", "/tmp/x\\n", "/tmp/\\u007f", "~/x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		_cleanup_free_ char *p = xasprintf("{\"path\": \"%s\"}", refused[i]);
		bad(K_QUAR, p, "must be absolute and normalized");
	}
	/* at most ACTION_MAX_PATH bytes */
	char longp[ACTION_MAX_PATH + 2];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[ACTION_MAX_PATH + 1] = '\0';
	json_t *p = json_pack("{s:s}", "path", longp);
	Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(K_QUAR, p, &a, err, sizeof(err)), -EINVAL);
	longp[ACTION_MAX_PATH] = '\0';
	json_object_set_new(p, "path", json_string(longp));
	assert_int_equal(action_from_json(K_QUAR, p, &a, err, sizeof(err)), 0);
	action_free(a);
	json_decref(p);
	bad(K_CRON, "{\"path\": \"/etc/cron.d/../crontab\", \"entry\": \"x\"}",
	    "must be absolute and normalized");
	bad(K_RESTORE, "{\"path\": \"/etc/hosts/\", \"sha256\": \"" SHA "\"}",
	    "must be absolute and normalized");
}

static void test_other_fields(void **state _unused_)
{
	bad(K_RESTORE, "{\"path\": \"/etc/hosts\", \"sha256\": \"ABCDEF\"}", "sha256 must be 64");
	_cleanup_free_ char *upper = xstrdup(SHA);
	upper[3] = 'A';
	_cleanup_free_ char *p = xasprintf("{\"path\": \"/etc/hosts\", \"sha256\": \"%s\"}", upper);
	bad(K_RESTORE, p, "sha256 must be 64");
	bad(K_RESTORE, "{\"path\": \"/etc/hosts\", \"sha256\": \"" SHA "0\"}", "sha256 must be 64");

	bad(K_FIX, "{\"fix\": {\"type\": \"rm_rf\"}}", "unknown fix type 'rm_rf'");
	bad(K_FIX, "{\"fix\": {\"value\": 1}}", "unknown fix type ''");
	bad(K_FIX, "{\"fix\": \"config_set\"}", "'fix' must be an object");
	bad(K_FIX, "{\"check\": \"a b\", \"fix\": {\"type\": \"config_set\"}}",
	    "is not a check id");
	/* the fix's size */
	json_t *fix = json_pack("{s:s}", "type", "config_set");
	char *big = xmalloc(ACTION_MAX_FIX + 1);
	memset(big, 'v', ACTION_MAX_FIX);
	big[ACTION_MAX_FIX] = '\0';
	json_object_set_new(fix, "value", json_string(big));
	free(big);
	json_t *params = json_pack("{s:o}", "fix", fix);
	Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(K_FIX, params, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	json_decref(params);
	/* a fix that is not JSON, straight from the wire */
	Immune__V1__Action w = IMMUNE__V1__ACTION__INIT;
	w.kind = K_FIX;
	w.fix_json = "{\"type\": ";
	assert_int_equal(action_check(&w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a JSON object"));

	bad(K_SERVICE, "{\"unit\": \"a b.service\"}", "is not a unit name");
	bad(K_SERVICE, "{\"unit\": \"../x.service\"}", "is not a unit name");
	bad(K_SERVICE, "{\"unit\": \"x;reboot\"}", "is not a unit name");
	bad(K_CRON, "{\"path\": \"/etc/crontab\", \"entry\": \"a\\nb\"}", "one line of text");
	bad(K_CRON, "{\"path\": \"/etc/crontab\", \"entry\": \"a\\rb\"}", "one line of text");
	/* strings straight from the wire that are not UTF-8 have no JSON form: refused */
	w = (Immune__V1__Action)IMMUNE__V1__ACTION__INIT;
	w.kind = K_QUAR;
	w.path = "/tmp/caf\xe9";
	assert_int_equal(action_check(&w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'path' is not valid UTF-8"));
	w.path = "/tmp/caf\xc3\xa9";
	assert_int_equal(action_check(&w, err, sizeof(err)), 0);
	w = (Immune__V1__Action)IMMUNE__V1__ACTION__INIT;
	w.kind = K_CRON;
	w.path = "/etc/crontab";
	w.entry = "* * * * * root \xff";
	assert_int_equal(action_check(&w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'entry' is not valid UTF-8"));
	bad(K_LOCK, "{\"user\": \"bob\", \"colour\": \"red\"}", "unknown parameter 'colour'");
	bad(K_LOCK, "[]", "must be an object");
}

static void roundtrip(int kind, const char *params)
{
	json_t *p = json_loads(params, 0, NULL);
	Action *a = NULL, *b = NULL;
	char err[256];
	assert_non_null(p);
	assert_int_equal(action_from_json(kind, p, &a, err, sizeof(err)), 0);
	json_t *back = action_params_json(a);
	assert_int_equal(action_from_json(kind, back, &b, err, sizeof(err)), 0);
	json_t *again = action_params_json(b);
	assert_true(json_equal(back, again));
	/* a copy is the same action */
	Action *c = action_dup(a);
	assert_non_null(c);
	json_t *cj = action_params_json(c);
	assert_true(json_equal(back, cj));
	assert_int_equal(c->kind, a->kind);
	assert_int_equal(action_check(c, err, sizeof(err)), 0);
	json_decref(cj);
	json_decref(again);
	json_decref(back);
	json_decref(p);
	action_free(a);
	action_free(b);
	action_free(c);
}

static void test_params_roundtrip(void **state _unused_)
{
	roundtrip(K_KILL, "{\"pid\": 4242, \"start_time\": 77, \"tree\": true}");
	roundtrip(K_BLOCK, "{\"address\": \"2001:db8::/48\", \"duration\": \"2h\"}");
	roundtrip(K_ISOLATE, "{\"allow\": [\"10.0.0.1\"], \"duration\": 600}");
	roundtrip(K_LOCK, "{\"user\": \"mallory\"}");
	roundtrip(K_KEY, "{\"user\": \"alice\", \"fingerprint\": \"" FP "\"}");
	roundtrip(K_QUAR, "{\"path\": \"/tmp/x\"}");
	roundtrip(K_RESTORE, "{\"path\": \"/etc/hosts\", \"sha256\": \"" SHA "\"}");
	roundtrip(K_FIX, "{\"check\": \"c1\", \"fix\": {\"type\": \"file_mode\", \"mode\": "
			 "\"0600\", \"path\": \"/etc/shadow\"}}");
	roundtrip(K_SERVICE, "{\"unit\": \"cups.service\"}");
	roundtrip(K_CRON, "{\"path\": \"/var/spool/cron/crontabs/bob\", \"entry\": \"@reboot x\"}");

	/* the exact JSON of one action */
	json_t *p = json_loads("{\"address\": \"10.0.0.1\", \"duration\": \"15m\"}", 0, NULL);
	Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(K_BLOCK, p, &a, err, sizeof(err)), 0);
	json_t *back = action_params_json(a);
	_cleanup_free_ char *text = json_dumps(back, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"address\":\"10.0.0.1\",\"duration\":900}");
	json_decref(back);
	json_decref(p);
	action_free(a);
	action_free(NULL);
}

static void test_uids(void **state _unused_)
{
	char a[ACTION_UID_LEN + 1], b[ACTION_UID_LEN + 1];
	action_new_uid(a);
	action_new_uid(b);
	assert_true(action_uid_ok(a));
	assert_true(action_uid_ok(b));
	assert_string_not_equal(a, b);
	assert_false(action_uid_ok(NULL));
	assert_false(action_uid_ok(""));
	assert_false(action_uid_ok("0123456789ABCDEF0123456789abcdef"));
	assert_false(action_uid_ok("0123456789abcdef0123456789abcde"));
	assert_false(action_uid_ok("0123456789abcdef0123456789abcdef0"));
	assert_false(action_uid_ok("0123456789abcdef0123456789abcdeg"));
}

static void args_ok(int argc, char *const *argv, const char *want)
{
	json_t *p = NULL;
	char err[256];
	assert_int_equal(action_params_from_args(argc, argv, &p, err, sizeof(err)), 0);
	_cleanup_free_ char *text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, want);
	json_decref(p);
}

static void args_bad(int argc, char *const *argv, const char *want)
{
	json_t *p = NULL;
	char err[256] = "";
	assert_int_equal(action_params_from_args(argc, argv, &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	if (!strstr(err, want))
		fail_msg("reason '%s' lacks '%s'", err, want);
}

static void test_params_from_args(void **state _unused_)
{
	args_ok(2, (char *const[]){ "pid=4242", "tree=true" }, "{\"pid\":4242,\"tree\":true}");
	args_ok(2, (char *const[]){ "address=10.0.0.1", "duration=2h" },
		"{\"address\":\"10.0.0.1\",\"duration\":\"2h\"}");
	args_ok(1, (char *const[]){ "allow=10.0.0.1,,fd00::1" },
		"{\"allow\":[\"10.0.0.1\",\"fd00::1\"]}");
	args_ok(1, (char *const[]){ "fix={\"type\":\"config_set\"}" },
		"{\"fix\":{\"type\":\"config_set\"}}");
	args_ok(1, (char *const[]){ "entry=* * * * * root x=1" },
		"{\"entry\":\"* * * * * root x=1\"}");
	args_ok(0, NULL, "{}");
	args_bad(1, (char *const[]){ "pid" }, "is not key=value");
	args_bad(1, (char *const[]){ "=4" }, "is not key=value");
	args_bad(2, (char *const[]){ "pid=1", "pid=2" }, "given twice");
	args_bad(1, (char *const[]){ "fix={oops" }, "not valid JSON");
	args_bad(1, (char *const[]){ "a_very_long_parameter_name_indeed_x=1" },
		 "unknown parameter");
	/* the words then make an action, which refuses what does not fit */
	json_t *p = NULL;
	Action *a = NULL;
	char err[256];
	assert_int_equal(
		action_params_from_args(1, (char *const[]){ "pid=abc" }, &p, err, sizeof(err)), 0);
	assert_int_equal(action_from_json(K_KILL, p, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'pid' must be a whole number"));
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_each_kind),
		cmocka_unit_test(test_required_and_extra),
		cmocka_unit_test(test_pid),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_users_and_keys),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_other_fields),
		cmocka_unit_test(test_params_roundtrip),
		cmocka_unit_test(test_uids),
		cmocka_unit_test(test_params_from_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
