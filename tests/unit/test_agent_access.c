/* The agent's access role without sockets or sshd (agent/access.h): access.json and the local
 * revocations, socket messages, the connection's address, and the login decision against
 * certificates signed here and policies compiled here; the access: keys of agent.yaml; the
 * create-account action's checks. */
#include "unit.h"

#include "agent/access.h"
#include "agent/agent_yaml.h"
#include "agent/pushed_files.h"

#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test-agent-access-XXXXXX";
static void *ca, *other_ca;
static struct ssh_ed25519_key ca_pub, user_key;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	char p[256];
	snprintf(p, sizeof(p), "%s/ca.pem", tmpdir);
	ca = sshcert_ca_load_or_create(p);
	snprintf(p, sizeof(p), "%s/other.pem", tmpdir);
	other_ca = sshcert_ca_load_or_create(p);
	if (!ca || !other_ca || sshcert_ca_public(ca, &ca_pub) < 0)
		return -1;
	/* any 32 bytes make a public key to certify: this one is the other CA's */
	return sshcert_ca_public(other_ca, &user_key);
}

static int teardown(void **state)
{
	(void)state;
	sshcert_ca_free(ca);
	sshcert_ca_free(other_ca);
	char p[256];
	snprintf(p, sizeof(p), "%s/ca.pem", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/other.pem", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

/* ---- access.json ---- */

static void test_time_parse(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(access_time_parse("2026-12-08T01:02:03Z", &t), 0);
	assert_int_equal(t, 1796691723);
	assert_int_equal(access_time_parse("2026-12-08T02:02:03.250+01:00", &t), 0);
	assert_int_equal(t, 1796691723);
	assert_int_equal(access_time_parse("1796691723", &t), 0);
	assert_int_equal(t, 1796691723);
	const char *bad[] = { "",
			      "2026-12-08",
			      "2026-13-08T01:02:03Z",
			      "2026-12-08T01:02:03",
			      "2026-12-08T01:02:03Zjunk",
			      "2026-12-08T25:02:03Z",
			      "-5",
			      "x" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(access_time_parse(bad[i], &t), -EINVAL);
}

static char *ca_line(void)
{
	return ssh_ed25519_key_line(&ca_pub, "ca");
}

static void test_bundle_parse(void **state)
{
	(void)state;
	_cleanup_free_ char *line = ca_line();
	_cleanup_free_ char *text = xasprintf(
		"{\"version\": 7, \"ca\": \"%s\", \"grants\": [{\"id\": \"g1\", \"identity\": "
		"\"dave\", \"host\": null, \"label\": \"env=prod\", \"account\": \"deploy\", "
		"\"sudo\": true, \"starts\": \"2026-01-01T00:00:00Z\", \"expires\": 1900000000, "
		"\"reason\": \"fix it now\", \"ticket\": \"JIRA T-9\", \"request\": \"r1\", "
		"\"approved_by\": "
		"\"erin\", \"break_glass\": false, \"revoked\": false, \"last_used\": null, "
		"\"review\": null}], \"disabled\": [\"bob\"], \"revoked_serials\": [5, "
		"\"18446744073709551615\"], \"revoked_key_ids\": [\"carol/-/9\"], "
		"\"record_sessions\": true, \"session_command\": "
		"\"/usr/libexec/immune/immune-agent\"}",
		line);
	struct access_bundle b;
	char err[256];
	assert_int_equal(access_bundle_parse(text, strlen(text), &b, err, sizeof(err)), 0);
	assert_int_equal(b.version, 7);
	assert_true(b.has_ca);
	assert_memory_equal(b.ca.pub, ca_pub.pub, 32);
	assert_int_equal(b.n_grants, 1);
	assert_string_equal(b.grants[0].id, "g1");
	assert_string_equal(b.grants[0].label, "env=prod");
	assert_null(b.grants[0].host);
	assert_true(b.grants[0].sudo);
	assert_int_equal(b.grants[0].starts, 1767225600);
	assert_int_equal(b.grants[0].expires, 1900000000);
	assert_string_equal(b.grants[0].ticket, "JIRA T-9");
	assert_true(access_bundle_disabled(&b, "bob"));
	assert_false(access_bundle_disabled(&b, "alice"));
	assert_true(access_bundle_serial_revoked(&b, 5));
	assert_true(access_bundle_serial_revoked(&b, UINT64_MAX));
	assert_false(access_bundle_serial_revoked(&b, 6));
	assert_true(access_bundle_key_id_revoked(&b, "carol/-/9"));
	assert_true(b.record_sessions);
	access_bundle_free(&b);
	access_bundle_free(&b); /* twice is harmless */

	const char *bad[] = {
		"[]",
		"{\"colour\": 1}",
		"{\"ca\": \"ssh-rsa AAAA\"}",
		"{\"version\": -1}",
		"{\"grants\": [{\"id\": \"g\"}]}",
		"{\"grants\": [{\"id\": \"g\", \"identity\": \"d\", \"account\": \"a\", \"x\": "
		"1}]}",
		"{\"grants\": [{\"id\": \"g\", \"identity\": \"d\", \"account\": \"a\", "
		"\"label\": \"nolabel\"}]}",
		"{\"grants\": [{\"id\": \"g\", \"identity\": \"d\", \"account\": \"a\", "
		"\"expires\": \"tomorrow\"}]}",
		"{\"disabled\": [1]}",
		"{\"disabled\": [\"has space\"]}",
		"{\"revoked_serials\": [-1]}",
		"{\"revoked_serials\": [\"x\"]}",
		"{\"session_command\": \"relative\"}",
		"{\"version\": 1, \"version\": 2}",
		"{",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(access_bundle_parse(bad[i], strlen(bad[i]), &b, err, sizeof(err)),
				 -EINVAL);
		assert_true(err[0] != '\0');
	}
}

static void test_local(void **state)
{
	(void)state;
	struct access_bundle local, bundle;
	char err[256];
	const char *l = "{\"disabled\": [\"a\", \"b\"], \"revoked_serials\": [1, 2]}";
	const char *b = "{\"disabled\": [\"a\"], \"revoked_serials\": [2, 3]}";
	assert_int_equal(access_bundle_parse(l, strlen(l), &local, err, sizeof(err)), 0);
	assert_int_equal(access_bundle_parse(b, strlen(b), &bundle, err, sizeof(err)), 0);
	assert_true(access_local_prune(&local, &bundle));
	assert_false(access_local_prune(&local, &bundle));
	assert_false(access_bundle_disabled(&local, "a"));
	assert_true(access_bundle_disabled(&local, "b"));
	assert_true(access_bundle_serial_revoked(&local, 1));
	assert_false(access_bundle_serial_revoked(&local, 2));
	_cleanup_free_ char *dump = access_local_dump(&local);
	struct access_bundle again;
	assert_int_equal(access_bundle_parse(dump, strlen(dump), &again, err, sizeof(err)), 0);
	assert_true(access_bundle_disabled(&again, "b"));
	assert_true(access_bundle_serial_revoked(&again, 1));
	assert_int_equal(again.n_serials, 1);
	access_bundle_free(&again);
	access_bundle_free(&local);
	access_bundle_free(&bundle);
}

/* ---- socket messages ---- */

static int qparse(const char *s, struct access_query *q)
{
	char err[256];
	return access_query_parse(s, strlen(s), q, err, sizeof(err));
}

static void test_query_parse(void **state)
{
	(void)state;
	struct access_query q;
	assert_int_equal(qparse("{\"type\": \"login\", \"account\": \"deploy\", \"cert\": "
				"\"AAAA+/==\", \"connection\": \"10.0.0.1 5555 10.0.0.2 22\"}",
				&q),
			 0);
	assert_int_equal(q.type, ACCESS_MSG_LOGIN);
	assert_string_equal(q.account, "deploy");
	assert_string_equal(q.connection, "10.0.0.1 5555 10.0.0.2 22");
	access_query_free(&q);
	assert_int_equal(qparse("{\"type\": \"login\", \"account\": \"d\", \"cert\": \"AA\"}", &q),
			 0);
	assert_null(q.connection);
	access_query_free(&q);
	assert_int_equal(qparse("{\"type\": \"session\", \"pid\": 1234, \"identity\": \"alice\", "
				"\"session_id\": \"s-1\"}",
				&q),
			 0);
	assert_int_equal(q.type, ACCESS_MSG_SESSION);
	assert_int_equal(q.pid, 1234);
	access_query_free(&q);
	assert_int_equal(qparse("{\"type\": \"session-data\", \"data\": \"x\"}", &q), 0);
	assert_int_equal(q.type, ACCESS_MSG_SESSION_OTHER);
	access_query_free(&q);

	const char *bad[] = {
		"",
		"[]",
		"{}",
		"{\"type\": \"shell\"}",
		"{\"type\": \"login\", \"account\": \"Root;\", \"cert\": \"AA\"}",
		"{\"type\": \"login\", \"account\": \"root\", \"cert\": \"A A\"}",
		"{\"type\": \"login\", \"account\": \"root\"}",
		"{\"type\": \"login\", \"account\": \"root\", \"cert\": \"AA\", \"connection\": 5}",
		"{\"type\": \"login\", \"account\": \"root\", \"cert\": \"AA\", \"connection\": "
		"\"a\\nb\"}",
		"{\"type\": \"session\", \"pid\": 1, \"identity\": \"a\", \"session_id\": \"s\"}",
		"{\"type\": \"session\", \"pid\": 99, \"identity\": \"a b\", \"session_id\": "
		"\"s\"}",
		"{\"type\": \"session\", \"pid\": \"99\", \"identity\": \"a\", \"session_id\": "
		"\"s\"}",
		"{\"type\": \"login\", \"type\": \"login\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(qparse(bad[i], &q), -EBADMSG);
	}
	char *big = xcalloc(ACCESS_MSG_MAX + 2, 1);
	memset(big, ' ', ACCESS_MSG_MAX + 1);
	char err[64];
	assert_int_equal(access_query_parse(big, ACCESS_MSG_MAX + 1, &q, err, sizeof(err)),
			 -EBADMSG);
	free(big);
}

static void test_connection_source(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	assert_int_equal(access_connection_source("10.1.2.3 5555 10.0.0.2 22", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, inet_addr("10.1.2.3"));
	assert_int_equal(access_connection_source("2001:db8::1 5555 ::1 22", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(access_connection_source("nohost 1 2 3", &ss), -EINVAL);
	assert_int_equal(access_connection_source("", &ss), -EINVAL);
	assert_int_equal(access_connection_source(NULL, &ss), -EINVAL);
}

/* ---- decisions ---- */

static const char policies[] = "permit team {\n"
			       "  principal: group ops\n"
			       "  action: login as deploy\n"
			       "}\n"
			       "permit office {\n"
			       "  principal: user erin\n"
			       "  action: login as deploy\n"
			       "  when: context.source in 10.0.0.0/8\n"
			       "}\n"
			       "permit jit {\n"
			       "  principal: user dave\n"
			       "  action: login as deploy\n"
			       "  grant: required\n"
			       "}\n"
			       "forbid posture {\n"
			       "  when: context.posture < 50\n"
			       "}\n"
			       "forbid alerts {\n"
			       "  when: context.alerts.critical > 0\n"
			       "}\n";

struct fixture {
	struct access_policy_set *set;
	struct access_bundle bundle, local;
	struct access_env env;
	struct access_attr labels[1];
};

static void fixture_init(struct fixture *f)
{
	char err[512];
	struct access_policy_builder *b = access_policy_builder_new();
	assert_int_equal(
		access_policy_add(b, "t.policy", policies, strlen(policies), err, sizeof(err)), 0);
	assert_int_equal(access_policy_build(b, &f->set, err, sizeof(err)), 0);
	_cleanup_free_ char *line = ca_line();
	int64_t now = (int64_t)time(NULL);
	_cleanup_free_ char *text = xasprintf(
		"{\"version\": 1, \"ca\": \"%s\", \"grants\": ["
		"{\"id\": \"g1\", \"identity\": \"dave\", \"label\": \"env=prod\", \"account\": "
		"\"deploy\", \"starts\": %lld, \"expires\": %lld, \"ticket\": \"T-1\"},"
		"{\"id\": \"g2\", \"identity\": \"dave\", \"account\": \"deploy\", \"expires\": "
		"\"2020-01-01T00:00:00Z\"},"
		"{\"id\": \"g3\", \"identity\": \"dave\", \"label\": \"env=dev\", \"account\": "
		"\"deploy\"},"
		"{\"id\": \"g4\", \"identity\": \"dave\", \"host\": \"h-1\", \"account\": "
		"\"deploy\", \"revoked\": true},"
		"{\"id\": \"g5\", \"identity\": \"erin\", \"account\": \"deploy\"},"
		"{\"id\": \"g6\", \"identity\": \"dave\", \"host\": "
		"\"0123456789abcdef0123456789abcdef\", \"account\": \"root\"}],"
		"\"disabled\": [\"bob\"], \"revoked_serials\": [66], \"revoked_key_ids\": "
		"[\"alice/-/77\"]}",
		line, (long long)(now - 60), (long long)(now + 3600));
	assert_int_equal(access_bundle_parse(text, strlen(text), &f->bundle, err, sizeof(err)), 0);
	memset(&f->local, 0, sizeof(f->local));
	f->labels[0] = (struct access_attr){ "env", "prod" };
	f->env = (struct access_env){ .policies = f->set,
				      .bundle = &f->bundle,
				      .local = &f->local,
				      .host = { .id = "0123456789abcdef0123456789abcdef",
						.name = "web-01",
						.labels = f->labels,
						.n_labels = 1 },
				      .now = now,
				      .posture = 90 };
}

static void fixture_free(struct fixture *f)
{
	access_policy_set_free(f->set);
	access_bundle_free(&f->bundle);
	access_bundle_free(&f->local);
}

struct cert_spec {
	void *ca;
	uint64_t serial;
	const char *key_id;
	const char *account;
	const char *identity;  /* JSON of the extension, or NULL for none */
	int64_t after, before; /* relative to now */
};

/* The base64 of a certificate (caller frees). */
static char *make_cert(const struct cert_spec *s)
{
	uint64_t now = (uint64_t)time(NULL);
	const char *principals[] = { s->account };
	struct sshcert_extension ext = { .name = ACCESS_IDENTITY_EXT,
					 .data = (const unsigned char *)s->identity,
					 .len = s->identity ? strlen(s->identity) : 0 };
	struct sshcert_request req = { .key = user_key,
				       .serial = s->serial,
				       .key_id = s->key_id,
				       .principals = principals,
				       .n_principals = 1,
				       .valid_after = now + (uint64_t)(s->after ? s->after : -60),
				       .valid_before =
					       now + (uint64_t)(s->before ? s->before : 300),
				       .permit_pty = true,
				       .extra = s->identity ? &ext : NULL,
				       .n_extra = s->identity ? 1 : 0 };
	struct buf out = { 0 };
	buf_init(&out, 65536);
	assert_int_equal(sshcert_sign(&req, s->ca ? s->ca : ca, &out), 0);
	char *line = sshcert_line(buf_str(&out), buf_len(&out), "c");
	buf_free(&out);
	char *sp = strchr(line, ' ');
	char *b64 = xstrdup(sp + 1);
	b64[strcspn(b64, " ")] = '\0';
	free(line);
	return b64;
}

#define ALICE "{\"name\": \"alice\", \"groups\": [\"ops\"], \"attributes\": {\"team\": \"sre\"}}"
#define DAVE "{\"name\": \"dave\", \"groups\": [\"dev\"]}"
#define ERIN "{\"name\": \"erin\", \"groups\": []}"
#define BOB "{\"name\": \"bob\", \"groups\": [\"ops\"]}"

static bool decide(struct fixture *f, const struct cert_spec *s, const char *account,
		   const char *connection, struct access_outcome *o)
{
	_cleanup_free_ char *b64 = make_cert(s);
	access_login_decide(&f->env, account, b64, connection, o);
	return o->allow;
}

static void expect(struct fixture *f, const struct cert_spec *s, const char *account,
		   const char *connection, bool allow, const char *reason_part)
{
	struct access_outcome o;
	bool got = decide(f, s, account, connection, &o);
	if (got != allow || (reason_part && !strstr(o.reason, reason_part)))
		fail_msg("%s as %s: %s (%s), expected %s with '%s'", s->key_id, account,
			 got ? "allowed" : "denied", o.reason, allow ? "allowed" : "denied",
			 reason_part ? reason_part : "");
}

static void test_decide(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct cert_spec alice = {
		.serial = 1, .key_id = "alice/-/1", .account = "deploy", .identity = ALICE
	};
	expect(&f, &alice, "deploy", "10.0.0.1 1 10.0.0.2 22", true, "permitted by policy team");
	/* the record of it */
	struct access_outcome o;
	decide(&f, &alice, "deploy", "10.0.0.1 1 10.0.0.2 22", &o);
	json_t *j = access_outcome_json(&o, "deploy", f.env.now);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "login");
	assert_string_equal(json_string_value(json_object_get(j, "identity")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "serial")), "1");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "10.0.0.1");
	assert_string_equal(json_string_value(json_object_get(j, "policy")), "team");
	assert_true(json_is_null(json_object_get(j, "grant")));
	assert_non_null(json_string_value(json_object_get(j, "time")));
	assert_int_equal(json_integer_value(json_object_get(j, "time_ns")),
			 (json_int_t)f.env.now * 1000000000);
	json_decref(j);

	/* the certificate itself */
	expect(&f, &alice, "root", NULL, false, "not for account root");
	struct cert_spec c = alice;
	c.ca = other_ca;
	expect(&f, &c, "deploy", NULL, false, "not signed by the access CA");
	c = alice;
	c.after = 100;
	c.before = 200;
	expect(&f, &c, "deploy", NULL, false, "not valid now");
	c = alice;
	c.serial = 66;
	expect(&f, &c, "deploy", NULL, false, "serial 66 is revoked");
	c = alice;
	c.key_id = "alice/-/77";
	expect(&f, &c, "deploy", NULL, false, "key id alice/-/77 is revoked");
	c = alice;
	c.identity = NULL;
	expect(&f, &c, "deploy", NULL, false, "no valid immune-identity@immune");
	c = alice;
	c.identity = "{\"groups\": [\"ops\"]}";
	expect(&f, &c, "deploy", NULL, false, "no valid immune-identity@immune");
	c = alice;
	c.key_id = "mallory/-/1";
	expect(&f, &c, "deploy", NULL, false, "key id does not name identity alice");
	c = alice;
	c.key_id = "alice";
	expect(&f, &c, "deploy", NULL, false, "key id does not name identity alice");
	struct access_outcome junk;
	access_login_decide(&f.env, "deploy", "AAAA", NULL, &junk);
	assert_false(junk.allow);
	access_login_decide(&f.env, "Bad Name", "AAAA", NULL, &junk);
	assert_false(junk.allow);

	/* disabled, in the bundle or since (local) */
	struct cert_spec bob = {
		.serial = 2, .key_id = "bob/-/2", .account = "deploy", .identity = BOB
	};
	expect(&f, &bob, "deploy", NULL, false, "identity bob is disabled");
	strv_push(&f.local.disabled, "alice");
	expect(&f, &alice, "deploy", NULL, false, "identity alice is disabled");
	strv_free(f.local.disabled);
	f.local.disabled = NULL;
	f.local.serials = xcalloc(1, sizeof(uint64_t));
	f.local.serials[0] = 1;
	f.local.n_serials = 1;
	expect(&f, &alice, "deploy", NULL, false, "serial 1 is revoked");
	f.local.n_serials = 0;

	/* grants */
	struct cert_spec dave = {
		.serial = 3, .key_id = "dave/g1/3", .account = "deploy", .identity = DAVE
	};
	expect(&f, &dave, "deploy", NULL, true, "permitted by policy jit");
	/* as the server writes it: null groups and attributes, a number among them */
	c = dave;
	c.identity = "{\"attributes\":{\"level\":3},\"groups\":null,\"name\":\"dave\"}";
	expect(&f, &c, "deploy", NULL, true, "permitted by policy jit");
	decide(&f, &dave, "deploy", NULL, &o);
	assert_string_equal(o.grant, "g1");
	c = dave;
	c.key_id = "dave/-/3";
	expect(&f, &c, "deploy", NULL, false, "no policy permits it");
	c.key_id = "dave/g2/3";
	expect(&f, &c, "deploy", NULL, false, "grant g2 is not active now");
	c.key_id = "dave/g3/3";
	expect(&f, &c, "deploy", NULL, false, "grant g3 is for another host");
	c.key_id = "dave/g4/3";
	expect(&f, &c, "deploy", NULL, false, "grant g4 is revoked");
	c.key_id = "dave/g5/3";
	expect(&f, &c, "deploy", NULL, false, "grant g5 belongs to another identity");
	c.key_id = "dave/g6/3";
	expect(&f, &c, "deploy", NULL, false, "grant g6 is for account root");
	c.key_id = "dave/g9/3";
	expect(&f, &c, "deploy", NULL, false, "grant g9 is not known");

	/* the context: source, posture, alerts */
	struct cert_spec erin = {
		.serial = 4, .key_id = "erin/-/4", .account = "deploy", .identity = ERIN
	};
	expect(&f, &erin, "deploy", "10.9.9.9 5000 10.0.0.2 22", true,
	       "permitted by policy office");
	expect(&f, &erin, "deploy", "192.168.1.5 5000 10.0.0.2 22", false, "no policy permits");
	expect(&f, &erin, "deploy", NULL, false, "no policy permits"); /* source unknown */
	f.env.posture = 30;
	expect(&f, &alice, "deploy", NULL, false, "forbidden by policy posture");
	f.env.posture = -1; /* unknown: the forbid does not apply */
	expect(&f, &alice, "deploy", NULL, true, NULL);
	f.env.open_alerts[ACCESS_SEV_CRITICAL] = 1;
	expect(&f, &alice, "deploy", NULL, false, "forbidden by policy alerts");
	decide(&f, &alice, "deploy", NULL, &o);
	j = access_outcome_json(&o, "deploy", f.env.now);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "denied");
	assert_string_equal(json_string_value(json_object_get(j, "policy")), "alerts");
	json_decref(j);
	f.env.open_alerts[ACCESS_SEV_CRITICAL] = 0;

	/* no bundle, no policies */
	f.env.bundle = NULL;
	expect(&f, &alice, "deploy", NULL, false, "no access bundle");
	f.env.bundle = &f.bundle;
	f.env.policies = NULL;
	expect(&f, &alice, "deploy", NULL, false, "no access policies");
	fixture_free(&f);
}

/* ---- agent.yaml access: ---- */

static void test_yaml(void **state)
{
	(void)state;
	struct agent_yaml c;
	char err[512];
	const char *text = "access:\n  dir: /srv/ssh\n  sshd_dropin: /etc/ssh/d/50.conf\n"
			   "  manage_sshd: false\n  sshd_config: /etc/ssh/other\n"
			   "  sshd_pid_file: /run/x.pid\n  principals_user: immune-p\n"
			   "  principals_command: /opt/immune-agent\n  alert_window: 2h\n";
	assert_int_equal(agent_yaml_parse(text, strlen(text), "a.yaml", &c, err, sizeof(err)), 0);
	assert_string_equal(c.access.dir, "/srv/ssh");
	assert_string_equal(c.access.sshd_dropin, "/etc/ssh/d/50.conf");
	assert_false(c.access.manage_sshd);
	assert_string_equal(c.access.sshd_config, "/etc/ssh/other");
	assert_string_equal(c.access.sshd_pid_file, "/run/x.pid");
	assert_string_equal(c.access.principals_user, "immune-p");
	assert_string_equal(c.access.principals_command, "/opt/immune-agent");
	assert_int_equal(c.access.alert_window_s, 7200);
	agent_yaml_free(&c);
	assert_int_equal(agent_yaml_parse("", 0, "a.yaml", &c, err, sizeof(err)), 0);
	assert_null(c.access.dir);
	assert_true(c.access.manage_sshd);
	assert_int_equal(c.access.alert_window_s, AGENT_YAML_ALERT_WINDOW_S);
	agent_yaml_free(&c);
	const char *bad[] = {
		"access:\n  dir: relative\n",	       "access:\n  colour: red\n",
		"access:\n  principals_user: 'a b'\n", "access:\n  alert_window: 5s\n",
		"access:\n  manage_sshd: maybe\n",     "access:\n  sshd_dropin: '/a b'\n"
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
			agent_yaml_parse(bad[i], strlen(bad[i]), "a.yaml", &c, err, sizeof(err)),
			-EINVAL);
		assert_non_null(strstr(err, "a.yaml:"));
		agent_yaml_free(&c);
	}
}

/* ---- the bundle as the link saves it ---- */

static void test_pushed_access(void **state)
{
	(void)state;
	char err[256], digest[80];
	const struct pushed_file ok[] = { { "access.json", "{}", 2 },
					  { "team.policy", "permit a { }\n", 13 } };
	assert_int_equal(pushed_files_save(tmpdir, PUSHED_ACCESS, ok, 2, "d1", err, sizeof(err)),
			 0);
	assert_int_equal(pushed_files_current(tmpdir, PUSHED_ACCESS, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "d1");
	assert_string_equal(pushed_set_name(PUSHED_ACCESS), "access");
	const struct pushed_file bad[][1] = { { { "rules.yml", "x", 1 } },
					      { { "other.json", "{}", 2 } },
					      { { ".policy", "x", 1 } },
					      { { "../x.policy", "x", 1 } } };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(
			pushed_files_save(tmpdir, PUSHED_ACCESS, bad[i], 1, "d2", err, sizeof(err)),
			-EINVAL);
	/* the saved set is still the first one */
	assert_int_equal(pushed_files_current(tmpdir, PUSHED_ACCESS, digest, sizeof(digest)), 0);
	assert_string_equal(digest, "d1");
	/* a policy file is not a catalog file */
	const struct pushed_file pol[] = { { "team.policy", "x", 1 } };
	assert_int_equal(pushed_files_save(tmpdir, PUSHED_RULES, pol, 1, "d3", err, sizeof(err)),
			 -EINVAL);
	char p[256];
	snprintf(p, sizeof(p), "%s/access/access.json", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/access/team.policy", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/access", tmpdir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/access.digest", tmpdir);
	unlink(p);
}

/* ---- create-account's checks ---- */

static int account_action(const char *json)
{
	json_t *p = json_loads(json, 0, NULL);
	Action *a = NULL;
	char err[256];
	int r = action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_CREATE_ACCOUNT, p, &a, err,
				 sizeof(err));
	json_decref(p);
	action_free(a);
	return r;
}

static void test_create_account_check(void **state)
{
	(void)state;
	assert_string_equal(action_kind_name(IMMUNE__V1__ACTION_KIND__ACTION_CREATE_ACCOUNT),
			    "create-account");
	assert_int_equal(account_action("{\"user\": \"alice\"}"), 0);
	assert_int_equal(account_action("{\"user\": \"alice\", \"groups\": [\"adm\", \"users\"], "
					"\"sudo_commands\": [\"ALL\", \"/usr/bin/systemctl "
					"restart nginx\"]}"),
			 0);
	const char *bad[] = {
		"{}",
		"{\"user\": \"Alice\"}",
		"{\"user\": \"alice\", \"pid\": 5}",
		"{\"user\": \"alice\", \"groups\": [\"bad group\"]}",
		"{\"user\": \"alice\", \"groups\": \"adm\"}",
		"{\"user\": \"alice\", \"sudo_commands\": [\"systemctl\"]}",
		"{\"user\": \"alice\", \"sudo_commands\": [\"/bin/a, /bin/b\"]}",
		"{\"user\": \"alice\", \"sudo_commands\": [\"/bin/a\\\\\"]}",
		"{\"user\": \"alice\", \"sudo_commands\": [\"/bin/a\\nroot ALL=(ALL) ALL\"]}",
		"{\"user\": \"alice\", \"sudo_commands\": [\"/bin/a:b\"]}",
		"{\"user\": \"alice\", \"sudo_commands\": [\"/bin/a=b\"]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (account_action(bad[i]) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	/* the parameters come back as given */
	json_t *p = json_loads("{\"user\": \"a\", \"groups\": [\"adm\"], \"sudo_commands\": "
			       "[\"ALL\"]}",
			       0, NULL);
	Action *a = NULL;
	char err[256];
	assert_int_equal(action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_CREATE_ACCOUNT, p, &a,
					  err, sizeof(err)),
			 0);
	json_t *back = action_params_json(a);
	assert_true(json_equal(back, p));
	json_decref(back);
	json_decref(p);
	action_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_bundle_parse),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_connection_source),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_pushed_access),
		cmocka_unit_test(test_create_account_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
