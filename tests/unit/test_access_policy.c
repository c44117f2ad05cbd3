/* Unit tests for the access policy language: every construct, forbid over permit, default
 * deny, unknowns, each error with its position, explanations and grant approvers. */
#include "unit.h"

#include "access/policy.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static struct access_policy_set *compile(const char *text)
{
	char err[512] = "";
	struct access_policy_builder *b = access_policy_builder_new();
	int r = access_policy_add(b, "t.policy", text, strlen(text), err, sizeof(err));
	if (r < 0) {
		print_error("unexpected parse error: %s\n", err);
		access_policy_builder_free(b);
		fail();
	}
	struct access_policy_set *set = NULL;
	r = access_policy_build(b, &set, err, sizeof(err));
	if (r < 0) {
		print_error("unexpected build error: %s\n", err);
		fail();
	}
	return set;
}

/* Returns the error text of compiling text (which must fail). */
static const char *compile_err(const char *text)
{
	static char err[512];
	err[0] = '\0';
	struct access_policy_builder *b = access_policy_builder_new();
	int r = access_policy_add(b, "t.policy", text, strlen(text), err, sizeof(err));
	if (r == 0) {
		struct access_policy_set *set = NULL;
		r = access_policy_build(b, &set, err, sizeof(err));
		access_policy_set_free(set);
	} else {
		access_policy_builder_free(b);
	}
	assert_int_equal(r, -EINVAL);
	return err;
}

#define assert_err(text, expected)                                                                 \
	do {                                                                                       \
		const char *e_ = compile_err(text);                                                \
		if (strcmp(e_, expected) != 0) {                                                   \
			print_error("error was: %s\nexpected:  %s\n", e_, expected);               \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

/* A request with sensible, fully known defaults: alice (group ops, team sre) logs in as
 * deploy on web-01 (env=prod, role=web) from 10.1.2.3 at 10:00 on a Tuesday. */
struct rq {
	struct access_request req;
	const char *groups[8];
	struct access_attr attrs[8];
	struct access_attr labels[8];
};

static void rq_init(struct rq *r)
{
	memset(r, 0, sizeof(*r));
	r->groups[0] = "ops";
	r->attrs[0] = (struct access_attr){ "team", "sre" };
	r->attrs[1] = (struct access_attr){ "level", "3" };
	r->labels[0] = (struct access_attr){ "env", "prod" };
	r->labels[1] = (struct access_attr){ "role", "web" };
	r->req.principal = (struct access_principal){ "alice", r->groups, 1, r->attrs, 2 };
	r->req.action = ACCESS_LOGIN;
	r->req.account = "deploy";
	r->req.host =
		(struct access_host){ "0123456789abcdef0123456789abcdef", "web-01", r->labels, 2 };
	/* 2026-12-08 (a Tuesday) 10:00:00 UTC */
	r->req.context.now = 1796724000;
	struct sockaddr_in *in = (struct sockaddr_in *)&r->req.context.source;
	in->sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &in->sin_addr);
	r->req.context.posture = 90;
	r->req.context.attestation = ACCESS_ATTEST_TRUSTED;
}

static bool allowed(const struct access_policy_set *set, const struct access_request *req)
{
	struct access_decision d;
	access_decide(set, req, &d);
	if (d.allow)
		assert_non_null(d.decided_by);
	return d.allow;
}

static const char *decided_by(const struct access_policy_set *set, const struct access_request *req)
{
	struct access_decision d;
	access_decide(set, req, &d);
	return d.decided_by ? d.decided_by->name : NULL;
}

/* Whether the single-policy set "permit p { when: COND }" allows the default request. */
static bool cond_holds(const char *cond, const struct access_request *req)
{
	char text[1024];
	snprintf(text, sizeof(text), "permit p {\n  when: %s\n}\n", cond);
	struct access_policy_set *set = compile(text);
	bool r = allowed(set, req);
	access_policy_set_free(set);
	return r;
}

static const char example[] =
	"# the brief's example\n"
	"hostgroup web: label role=web, host db-01        # host groups\n"
	"\n"
	"permit ops-login-prod {\n"
	"  principal: group ops, user alice\n"
	"  action: login as deploy, login as $principal, sudo, sudo as postgres,\n"
	"          sudo-command \"/usr/bin/systemctl restart nginx\", port-forward\n"
	"  host: label env=prod, hostgroup web, host web-01\n"
	"  when: principal.team == \"sre\" and context.posture >= 80\n"
	"        and context.source in 10.0.0.0/8 and context.hour in 8..18\n"
	"  unless: context.alerts.critical > 0 or host.label.tier == \"pci\"\n"
	"}\n"
	"permit jit-db {\n"
	"  principal: group dev\n"
	"  action: login as postgres\n"
	"  host: hostgroup web\n"
	"  grant: required; approvers: group leads, user carol; max: 4h\n"
	"  create: groups adm, postgres; sudo\n"
	"}\n"
	"forbid compromised-hosts {\n"
	"  when: context.alerts.critical > 0 or context.attestation == \"failed\"\n"
	"}\n";

/* ---- tests ---- */

static void test_example(void **state)
{
	(void)state;
	struct access_policy_set *set = compile(example);
	assert_int_equal(access_policy_count(set), 3);
	const struct access_policy_info *i = access_policy_get(set, 1);
	assert_string_equal(i->name, "jit-db");
	assert_false(i->forbid);
	assert_string_equal(i->file, "t.policy");
	assert_int_equal(i->line, 13);
	assert_int_equal(i->n_approvers, 2);
	assert_string_equal(i->approvers[0], "group:leads");
	assert_string_equal(i->approvers[1], "user:carol");
	assert_int_equal(i->max_grant_s, 4 * 3600);
	assert_true(i->grant_required);
	assert_true(i->create);
	assert_true(i->create_sudo);
	assert_int_equal(i->n_create_groups, 2);
	assert_string_equal(i->create_groups[1], "postgres");
	assert_null(access_policy_get(set, 3));

	struct rq r;
	rq_init(&r);
	assert_true(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "ops-login-prod");
	/* login as $principal */
	r.req.account = "alice";
	assert_true(allowed(set, &r.req));
	r.req.account = "root";
	assert_false(allowed(set, &r.req));
	/* sudo (any account), sudo-command via sudo */
	r.req.action = ACCESS_SUDO;
	r.req.account = NULL;
	assert_true(allowed(set, &r.req));
	r.req.action = ACCESS_SUDO_COMMAND;
	r.req.command = "/bin/sh";
	assert_true(allowed(set, &r.req));
	r.req.action = ACCESS_PORT_FORWARD;
	assert_true(allowed(set, &r.req));
	/* forbid overrides: a critical alert */
	r.req.action = ACCESS_LOGIN;
	r.req.account = "deploy";
	r.req.context.open_alerts[ACCESS_SEV_CRITICAL] = 1;
	assert_false(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "compromised-hosts");
	r.req.context.open_alerts[ACCESS_SEV_CRITICAL] = 0;
	r.req.context.attestation = ACCESS_ATTEST_FAILED;
	assert_false(allowed(set, &r.req));
	r.req.context.attestation = ACCESS_ATTEST_TRUSTED;
	/* unless: host label tier=pci */
	r.labels[2] = (struct access_attr){ "tier", "pci" };
	r.req.host.n_labels = 3;
	assert_false(allowed(set, &r.req));
	r.req.host.n_labels = 2;
	/* principal: another user in no group is denied by default */
	r.req.principal.name = "mallory";
	r.req.principal.n_groups = 0;
	assert_false(allowed(set, &r.req));
	assert_null(decided_by(set, &r.req));
	/* user alice without the group still matches by name */
	r.req.principal.name = "alice";
	assert_true(allowed(set, &r.req));
	access_policy_set_free(set);
}

static void test_default_deny(void **state)
{
	(void)state;
	struct access_policy_set *set = compile("# nothing\n");
	struct rq r;
	rq_init(&r);
	assert_false(allowed(set, &r.req));
	assert_null(decided_by(set, &r.req));
	access_policy_set_free(set);
	/* a forbid alone denies too */
	set = compile("forbid f { when: true }");
	assert_false(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "f");
	access_policy_set_free(set);
	/* NULL set */
	assert_false(allowed(NULL, &r.req));
}

static void test_forbid_overrides(void **state)
{
	(void)state;
	struct access_policy_set *set = compile("permit a { }\n"
						"forbid no-deploy { action: login as deploy }\n"
						"permit b { principal: user alice }\n");
	struct rq r;
	rq_init(&r);
	assert_false(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "no-deploy");
	r.req.account = "web";
	assert_true(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "a");
	access_policy_set_free(set);
}

static void test_actions(void **state)
{
	(void)state;
	struct access_policy_set *set =
		compile("permit p {\n"
			"  action: login, sudo as postgres, sudo-command \"/bin/ls -l\" as www,\n"
			"          port-forward as deploy\n"
			"}\n");
	struct rq r;
	rq_init(&r);
	r.req.account = "anyone";
	assert_true(allowed(set, &r.req)); /* login alone: any account */
	r.req.account = NULL;
	assert_true(allowed(set, &r.req));
	r.req.action = ACCESS_SUDO;
	assert_false(allowed(set, &r.req)); /* sudo as root */
	r.req.account = "postgres";
	assert_true(allowed(set, &r.req));
	r.req.action = ACCESS_SUDO_COMMAND;
	r.req.command = "/bin/rm -rf /";
	assert_true(allowed(set, &r.req)); /* sudo as postgres covers its commands */
	r.req.account = "www";
	assert_false(allowed(set, &r.req));
	r.req.command = "/bin/ls -l";
	assert_true(allowed(set, &r.req));
	r.req.command = NULL;
	assert_false(allowed(set, &r.req));
	r.req.action = ACCESS_PORT_FORWARD;
	r.req.account = "deploy";
	assert_true(allowed(set, &r.req));
	r.req.account = "www";
	assert_false(allowed(set, &r.req));
	access_policy_set_free(set);

	enum access_action a;
	assert_int_equal(access_action_from_name("sudo-command", &a), 0);
	assert_int_equal(a, ACCESS_SUDO_COMMAND);
	assert_string_equal(access_action_name(ACCESS_PORT_FORWARD), "port-forward");
	assert_int_equal(access_action_from_name("reboot", &a), -EINVAL);
}

static void test_hosts(void **state)
{
	(void)state;
	struct access_policy_set *set =
		compile("permit p { host: hostgroup dbs, host 0123456789abcdef0123456789abcdef }\n"
			"hostgroup dbs: host db-01, label role=db\n"
			"permit q { principal: user bob\n host: label env=dev }\n");
	struct rq r;
	rq_init(&r);
	assert_true(allowed(set, &r.req)); /* by host id */
	r.req.host.id = NULL;
	assert_false(allowed(set, &r.req));
	r.req.host.name = "db-01";
	assert_true(allowed(set, &r.req));
	r.req.host.name = "other";
	r.labels[1].value = "db";
	assert_true(allowed(set, &r.req));
	r.req.principal.name = "bob";
	r.req.principal.n_groups = 0;
	r.labels[1].value = "web";
	assert_false(allowed(set, &r.req));
	r.labels[0].value = "dev";
	assert_true(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "q");
	access_policy_set_free(set);
}

static void test_conditions(void **state)
{
	(void)state;
	struct rq r;
	rq_init(&r);
	const struct access_request *q = &r.req;
	assert_true(cond_holds("principal.team == \"sre\"", q));
	assert_true(cond_holds("principal.team == sre", q));
	assert_false(cond_holds("principal.team != \"sre\"", q));
	assert_true(cond_holds("principal.name == alice and host.name == \"web-01\"", q));
	assert_true(cond_holds("host.id == \"0123456789abcdef0123456789abcdef\"", q));
	assert_true(cond_holds("host.label.env == prod", q));
	assert_true(cond_holds("principal.level >= 3 and principal.level < 4", q));
	assert_false(cond_holds("principal.level > 3", q));
	assert_true(cond_holds("context.posture > 89 and context.posture <= 90", q));
	assert_true(cond_holds("context.source in 10.0.0.0/8", q));
	assert_false(cond_holds("context.source in 192.168.0.0/16", q));
	assert_true(cond_holds("context.source in [192.168.0.0/16, 10.1.2.0/24]", q));
	assert_true(cond_holds("context.source == 10.1.2.3", q));
	assert_true(cond_holds("context.source != 10.1.2.4", q));
	assert_false(cond_holds("context.source in \"fe80::/10\"", q));
	assert_true(cond_holds("context.hour in 8..18 and context.hour == 10", q));
	assert_false(cond_holds("context.hour in 11..18", q));
	assert_true(cond_holds("context.weekday == tue and context.weekday in mon..fri", q));
	assert_true(cond_holds("context.weekday in [sat, tue]", q));
	assert_false(cond_holds("context.weekday in sat..sun", q));
	assert_true(cond_holds("context.attestation == \"trusted\"", q));
	assert_true(cond_holds("context.alerts.high == 0 and context.alerts.low < 1", q));
	assert_true(cond_holds("principal in group \"ops\"", q));
	assert_true(cond_holds("principal in group ops", q));
	assert_false(cond_holds("principal in group leads", q));
	assert_true(cond_holds("principal has team and not (principal has location)", q));
	assert_true(cond_holds("host.label has env", q));
	assert_true(cond_holds("principal.team in [\"dev\", \"sre\"]", q));
	assert_true(cond_holds("not context.grant", q));
	assert_false(cond_holds("context.grant", q));
	assert_false(cond_holds("context.grant == true", q));
	assert_true(cond_holds("(false or true) and not (false and true)", q));
	assert_true(cond_holds("principal.team == \"x\" or (context.hour >= 10 and "
			       "(context.posture >= 90 or false))",
			       q));
	r.req.context.ticket = "CHG-1";
	assert_true(cond_holds("context.ticket == \"CHG-1\"", q));
	/* IPv6 and v4-mapped sources */
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&r.req.context.source;
	memset(&r.req.context.source, 0, sizeof(r.req.context.source));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.9.9.9", &in6->sin6_addr);
	assert_true(cond_holds("context.source in 10.0.0.0/8", q));
	inet_pton(AF_INET6, "fe80::1", &in6->sin6_addr);
	assert_true(cond_holds("context.source in \"fe80::/10\"", q));
	assert_false(cond_holds("context.source in 10.0.0.0/8", q));
}

/* Unknown attributes make a policy not apply, permit or forbid alike. */
static void test_unknowns(void **state)
{
	(void)state;
	struct rq r;
	rq_init(&r);
	r.req.context.posture = -1;
	r.req.context.attestation = ACCESS_ATTEST_UNKNOWN;
	memset(&r.req.context.source, 0, sizeof(r.req.context.source));
	r.req.context.now = 0;
	const struct access_request *q = &r.req;
	assert_false(cond_holds("context.posture >= 80", q));
	assert_false(cond_holds("context.posture < 80", q));
	assert_true(cond_holds("not (context.posture >= 80)", q));
	assert_false(cond_holds("context.source in 0.0.0.0/0", q));
	assert_false(cond_holds("context.hour in 0..23", q));
	assert_false(cond_holds("context.weekday != mon", q));
	assert_false(cond_holds("context.attestation != \"failed\"", q));
	assert_false(cond_holds("principal.location == \"de\"", q));
	assert_false(cond_holds("principal.location != \"de\"", q));
	assert_false(cond_holds("host.label.tier != \"pci\"", q));
	assert_false(cond_holds("context.ticket != \"x\"", q));
	assert_false(cond_holds("principal.team >= 1", q)); /* "sre" is not a number */
	/* unknown or true is true, unknown and true is false */
	assert_true(cond_holds("context.posture >= 80 or true", q));
	assert_false(cond_holds("context.posture >= 80 and true", q));

	/* a forbid whose condition is unknown does not apply; an unknown unless does not
	 * stop a permit */
	struct access_policy_set *set =
		compile("permit all { unless: host.label.tier == \"pci\" }\n"
			"forbid low-posture { when: context.posture < 50 }\n"
			"forbid untrusted { when: context.attestation == \"failed\" }\n");
	assert_true(allowed(set, q));
	r.req.context.posture = 10;
	assert_false(allowed(set, q));
	assert_string_equal(decided_by(set, q), "low-posture");
	r.req.context.posture = 90;
	r.req.context.attestation = ACCESS_ATTEST_FAILED;
	assert_string_equal(decided_by(set, q), "untrusted");
	access_policy_set_free(set);
}

static void test_grant_required(void **state)
{
	(void)state;
	struct access_policy_set *set = compile(example);
	struct rq r;
	rq_init(&r);
	r.groups[0] = "dev";
	r.req.principal.name = "dan";
	r.req.account = "postgres";
	assert_false(allowed(set, &r.req));
	r.req.context.grant = true;
	assert_true(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "jit-db");

	const char *ap[8];
	int64_t max = -1;
	r.req.context.grant = false;
	size_t n = access_grant_approvers(set, &r.req, ap, 8, &max);
	assert_int_equal(n, 2);
	assert_string_equal(ap[0], "group:leads");
	assert_string_equal(ap[1], "user:carol");
	assert_int_equal(max, 4 * 3600);
	/* max bounds what is written */
	assert_int_equal(access_grant_approvers(set, &r.req, ap, 1, &max), 1);
	/* a grant would not help against a forbid */
	r.req.context.open_alerts[ACCESS_SEV_CRITICAL] = 2;
	assert_int_equal(access_grant_approvers(set, &r.req, ap, 8, &max), 0);
	assert_int_equal(max, 0);
	r.req.context.open_alerts[ACCESS_SEV_CRITICAL] = 0;
	/* nothing to approve where no grant policy applies */
	r.req.account = "root";
	assert_int_equal(access_grant_approvers(set, &r.req, ap, 8, &max), 0);
	access_policy_set_free(set);

	/* the smallest limit among several; union of approvers */
	set = compile("permit a { grant: required; approvers: user x; max: 2h }\n"
		      "permit b { grant: required\n approvers: user y, user x\n max: 30m }\n"
		      "permit c { grant: required\n approvers: user z }\n"
		      "permit d { when: context.posture > 95 }\n");
	rq_init(&r);
	n = access_grant_approvers(set, &r.req, ap, 8, &max);
	assert_int_equal(n, 3);
	assert_string_equal(ap[0], "user:x");
	assert_string_equal(ap[1], "user:y");
	assert_string_equal(ap[2], "user:z");
	assert_int_equal(max, 1800);
	access_policy_set_free(set);
}

static void test_explain(void **state)
{
	(void)state;
	struct access_policy_set *set = compile(example);
	struct rq r;
	rq_init(&r);
	r.req.context.posture = 50;
	struct access_decision d;
	char *s = access_explain(set, &r.req, &d);
	assert_false(d.allow);
	json_error_t je;
	json_t *a = json_loads(s, 0, &je);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 2);
	json_t *e = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(e, "policy")), "ops-login-prod");
	assert_string_equal(json_string_value(json_object_get(e, "effect")), "permit");
	assert_string_equal(json_string_value(json_object_get(e, "file")), "t.policy");
	assert_int_equal(json_integer_value(json_object_get(e, "line")), 4);
	assert_true(json_is_false(json_object_get(e, "matched")));
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
			    "when: context.posture >= 80");
	e = json_array_get(a, 1);
	assert_string_equal(json_string_value(json_object_get(e, "policy")), "compromised-hosts");
	assert_true(json_is_false(json_object_get(e, "matched")));
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
			    "when: context.alerts.critical > 0 or context.attestation == "
			    "\"failed\"");
	json_decref(a);
	free(s);

	/* matched policies have a null reason; unless gives the disjunct that held */
	r.req.context.posture = 90;
	r.labels[2] = (struct access_attr){ "tier", "pci" };
	r.req.host.n_labels = 3;
	s = access_explain(set, &r.req, &d);
	a = json_loads(s, 0, &je);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "reason")),
			    "unless: host.label.tier == \"pci\"");
	json_decref(a);
	free(s);
	r.req.host.n_labels = 2;
	r.req.context.posture = -1;
	s = access_explain(set, &r.req, &d);
	a = json_loads(s, 0, &je);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "reason")),
			    "when: context.posture >= 80 (unknown)");
	json_decref(a);
	free(s);
	r.req.context.posture = 90;
	s = access_explain(set, &r.req, &d);
	assert_true(d.allow);
	a = json_loads(s, 0, &je);
	assert_true(json_is_true(json_object_get(json_array_get(a, 0), "matched")));
	assert_true(json_is_null(json_object_get(json_array_get(a, 0), "reason")));
	json_decref(a);
	free(s);
	/* grant required */
	r.groups[0] = "dev";
	r.req.principal.name = "dan";
	r.req.account = "postgres";
	s = access_explain(set, &r.req, &d);
	a = json_loads(s, 0, &je);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "reason")),
			    "grant: required (no active grant)");
	json_decref(a);
	free(s);
	access_policy_set_free(set);
}

static void test_errors(void **state)
{
	(void)state;
	assert_err("permit p {\n  when: user.team == \"x\"\n}\n",
		   "t.policy:2:9: unknown attribute root 'user' (principal, host, context)");
	assert_err("permit p {\n  when: context.color == 1\n}\n",
		   "t.policy:2:9: unknown attribute 'context.color'");
	assert_err("permit p {\n  when: context.source in 10.0.0.300/8\n}\n",
		   "t.policy:2:27: bad CIDR '10.0.0.300/8'");
	assert_err("permit p {\n  when: context.source in 10.0.0.1/8\n}\n",
		   "t.policy:2:27: bad CIDR '10.0.0.1/8'");
	assert_err("permit p {\n  host: hostgroup nope\n}\n",
		   "t.policy:2:9: unknown host group 'nope'");
	assert_err("permit p { }\n\nforbid p { }\n",
		   "t.policy:3:1: duplicate policy name 'p' (first at t.policy:1)");
	assert_err("hostgroup g: host a\nhostgroup g: host b\n",
		   "t.policy:2:1: duplicate host group 'g'");
	assert_err("permit p {\n  action: login\n", "t.policy:3:1: missing '}' at the end of "
						    "policy 'p' (line 1)");
	assert_err("permit p\n  action: login\n}\n",
		   "t.policy:2:3: expected '{' after the policy's name, found action");
	assert_err("}\n", "t.policy:1:1: '}' without a policy to close");
	assert_err("allow p { }\n",
		   "t.policy:1:1: expected 'permit', 'forbid' or 'hostgroup', found allow");
	assert_err("permit p {\n  colour: red\n}\n",
		   "t.policy:2:3: unknown clause 'colour' (principal, action, host, when, unless, "
		   "grant, approvers, max, create)");
	assert_err("permit p {\n  when: true\n  when: false\n}\n",
		   "t.policy:3:3: duplicate clause 'when' (first on line 2)");
	assert_err("permit p {\n  action: reboot\n}\n",
		   "t.policy:2:11: unknown action 'reboot' (login, sudo, sudo-command, "
		   "port-forward)");
	assert_err("permit p {\n  when: context.hour in 18..8\n}\n",
		   "t.policy:2:25: empty range '18..8'");
	assert_err("permit p {\n  when: context.posture >= high\n}\n",
		   "t.policy:2:28: expected a number, found high");
	assert_err("permit p {\n  when: context.attestation > \"trusted\"\n}\n",
		   "t.policy:2:29: 'context.attestation' cannot be ordered: use == or !=");
	assert_err("permit p {\n  when: (true and false\n}\n", "t.policy:3:1: expected ')', "
							       "found '}'");
	assert_err("permit p {\n  when: true true\n}\n",
		   "t.policy:2:14: unexpected true in a condition (and, or, not, parentheses)");
	assert_err("permit p {\n  when: principal.team == host.name\n}\n",
		   "t.policy:2:27: the right side must be a value, not the attribute 'host.name'");
	assert_err("permit p { when: principal.team = \"x\" }\n",
		   "t.policy:1:33: '=' alone: compare with '=='");
	assert_err("permit p { when: principal.team == \"x }\n",
		   "t.policy:1:36: unterminated string");
	assert_err("permit p { principal: team ops }\n",
		   "t.policy:1:23: expected 'group' or 'user', found team");
	assert_err("permit p { principal: user al/ice }\n",
		   "t.policy:1:28: invalid character '/' in user name 'al/ice'");
	assert_err("permit p { approvers: user carol }\n",
		   "t.policy:1:12: 'approvers' needs 'grant: required'");
	assert_err("forbid p { grant: required }\n",
		   "t.policy:1:12: 'grant' belongs in a permit policy");
	assert_err("forbid p { create: sudo }\n",
		   "t.policy:1:12: 'create' belongs in a permit policy");
	assert_err("permit p { grant: required; max: 4y }\n",
		   "t.policy:1:34: expected a duration such as 30m, 4h or 1d, found 4y");
	assert_err("hostgroup g: hostgroup h\n",
		   "t.policy:1:14: a host group cannot include another host group");
	assert_err("permit p { host: label role }\n",
		   "t.policy:1:24: expected a label as key=value, found role");
	assert_err("permit p { action: sudo-command /bin/ls }\n",
		   "t.policy:1:33: expected the command as a quoted string after 'sudo-command'");
	assert_err("permit p { when: context.source > 10.0.0.1 }\n",
		   "t.policy:1:33: 'context.source' cannot be ordered: use == or !=");
	assert_err("permit p { when: context.weekday == someday }\n",
		   "t.policy:1:37: expected a weekday (mon..sun), found someday");
	assert_err("permit p { when: principal.team >= \"a\" }\n",
		   "t.policy:1:36: ordering compares numbers: 'a' is not one");
	assert_err("permit p { action: login } %\n", "t.policy:1:28: unexpected character '%'");

	/* names longer than 64 */
	char text[256];
	snprintf(text, sizeof(text), "permit %065d { }\n", 1);
	char expected[256];
	snprintf(expected, sizeof(expected), "t.policy:1:8: policy name longer than %d characters",
		 ACCESS_NAME_MAX);
	assert_err(text, expected);
	/* nesting depth */
	char deep[512] = "permit p { when: ";
	for (int i = 0; i < 40; i++)
		strncat(deep, "(", sizeof(deep) - strlen(deep) - 1);
	strncat(deep, "true", sizeof(deep) - strlen(deep) - 1);
	for (int i = 0; i < 40; i++)
		strncat(deep, ")", sizeof(deep) - strlen(deep) - 1);
	strncat(deep, " }\n", sizeof(deep) - strlen(deep) - 1);
	assert_err(deep, "t.policy:1:50: condition nested deeper than 32");

	/* errors from a second file name that file */
	char err[256];
	struct access_policy_builder *b = access_policy_builder_new();
	assert_int_equal(access_policy_add(b, "a.policy", "permit x { }", 12, err, sizeof(err)), 0);
	assert_int_equal(access_policy_add(b, "b.policy", "permit y { }\npermit x { }", 25, err,
					   sizeof(err)),
			 0);
	struct access_policy_set *set = NULL;
	assert_int_equal(access_policy_build(b, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "b.policy:2:1: duplicate policy name 'x' (first at a.policy:1)");
	assert_null(set);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/immune-test-policy-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char err[512], path[600];
	struct access_policy_set *set = NULL;
	/* empty: an empty set that denies */
	assert_int_equal(access_policy_load_dir(dir, &set, err, sizeof(err)), 0);
	assert_int_equal(access_policy_count(set), 0);
	access_policy_set_free(set);
	/* files load sorted by name; other names are ignored */
	snprintf(path, sizeof(path), "%s/b.policy", dir);
	write_file(path, "permit second { host: hostgroup g }\n");
	snprintf(path, sizeof(path), "%s/a.policy", dir);
	write_file(path, "hostgroup g: host web-01\npermit first { when: false }\n");
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, "not a policy");
	assert_int_equal(access_policy_load_dir(dir, &set, err, sizeof(err)), 0);
	assert_int_equal(access_policy_count(set), 2);
	assert_string_equal(access_policy_get(set, 0)->name, "first");
	assert_true(str_has_suffix(access_policy_get(set, 1)->file, "/b.policy"));
	struct rq r;
	rq_init(&r);
	assert_true(allowed(set, &r.req));
	access_policy_set_free(set);
	/* an error names the file */
	snprintf(path, sizeof(path), "%s/c.policy", dir);
	write_file(path, "permit third {\n  when: nope.x == 1\n}\n");
	assert_int_equal(access_policy_load_dir(dir, &set, err, sizeof(err)), -EINVAL);
	char expected[700];
	snprintf(expected, sizeof(expected),
		 "%s/c.policy:2:9: unknown attribute root 'nope' (principal, host, context)", dir);
	assert_string_equal(err, expected);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.policy", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b.policy", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	rmdir(dir);
	assert_int_equal(access_policy_load_dir(dir, &set, err, sizeof(err)), -ENOENT);
}

/* The bounds: file size and the number of policies. */
static void test_limits(void **state)
{
	(void)state;
	char err[256];
	size_t big = (16u << 20) + 1;
	char *text = xmalloc(big);
	memset(text, ' ', big);
	struct access_policy_builder *b = access_policy_builder_new();
	assert_int_equal(access_policy_add(b, "big.policy", text, big, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "big.policy:1:1: file larger than 16777216 bytes");
	access_policy_builder_free(b);
	free(text);

	/* 100,000 policies compile; one more is refused where it starts */
	size_t n = 100001, cap = n * 24;
	text = xmalloc(cap);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "permit p%zu { }\n", i);
	b = access_policy_builder_new();
	assert_int_equal(access_policy_add(b, "many.policy", text, len, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "many.policy:100001:1: more than 100000 policies");
	access_policy_builder_free(b);
	b = access_policy_builder_new();
	size_t cut = (size_t)(strstr(text, "permit p100000 ") - text);
	assert_int_equal(access_policy_add(b, "many.policy", text, cut, err, sizeof(err)), 0);
	struct access_policy_set *set = NULL;
	assert_int_equal(access_policy_build(b, &set, err, sizeof(err)), 0);
	assert_int_equal(access_policy_count(set), 100000);
	struct rq r;
	rq_init(&r);
	assert_true(allowed(set, &r.req));
	assert_string_equal(decided_by(set, &r.req), "p0");
	access_policy_set_free(set);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_default_deny),
		cmocka_unit_test(test_forbid_overrides),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_unknowns),
		cmocka_unit_test(test_grant_required),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
