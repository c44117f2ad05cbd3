/* Unit tests for recorded sessions (docs/sessions.md): the asciicast v2 writer (escapes,
 * UTF-8 cut between reads, bytes that are not UTF-8, the cap), the check of event lines,
 * the agent's side of the recorder's messages (framing, uid and pid of the peer, order of
 * parts, limits, ending an identity's sessions, a recorder that went away), the parser of
 * RECORD_SESSION payloads, and the store: parts from the agent stored, listed, filtered and
 * assembled into the whole recording; a session id of another host refused. */
#include "unit.h"

#include "agent/session_agent.h"
#include "agent/session_msg.h"
#include "lib/str.h"
#include "proto/immune.pb-c.h"
#include "store/ingest_parse.h"
#include "store/store.h"

#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

/* ---- the asciicast writer ---- */

/* The text of the single event line in b, checked to be [t, type, text]. */
static char *event_text(const struct buf *b, const char *type)
{
	json_t *a = json_loadb(buf_str(b), buf_len(b), JSON_ALLOW_NUL, NULL);
	char *s;

	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), 3);
	assert_true(json_is_number(json_array_get(a, 0)));
	assert_string_equal(json_string_value(json_array_get(a, 1)), type);
	s = xstrndup(json_string_value(json_array_get(a, 2)),
		     json_string_length(json_array_get(a, 2)));
	json_decref(a);
	return s;
}

static void test_cast_escapes(void **state)
{
	struct session_cast_writer w = { 0 };
	struct buf b;
	char *t;

	(void)state;
	buf_init(&b, 4096);
	assert_true(session_cast_event(&w, 1.5, "o", "a\"b\\c\r\n\t\x01\x7f", 11, &b) > 0);
	assert_true(str_has_prefix(buf_str(&b), "[1.500000, \"o\", \""));
	assert_true(str_has_suffix(buf_str(&b), "\"]\n"));
	t = event_text(&b, "o");
	assert_string_equal(t, "a\"b\\c\r\n\t\x01\x7f");
	free(t);
	buf_free(&b);
}

static void test_cast_utf8_split(void **state)
{
	struct session_cast_writer w = { 0 };
	const char *euro = "\xe2\x82\xac";
	struct buf b;
	char *t;

	(void)state;
	buf_init(&b, 4096);
	/* "x" and the first byte of the euro sign: only "x" goes out */
	assert_true(session_cast_event(&w, 0, "o", "x\xe2", 2, &b) > 0);
	t = event_text(&b, "o");
	assert_string_equal(t, "x");
	free(t);
	buf_reset(&b);
	/* one more byte: still no whole character, nothing written */
	assert_int_equal(session_cast_event(&w, 0.1, "o", "\x82", 1, &b), 0);
	assert_int_equal(buf_len(&b), 0);
	assert_true(session_cast_event(&w, 0.2, "o", "\xacy", 2, &b) > 0);
	t = event_text(&b, "o");
	assert_true(str_has_prefix(t, euro));
	assert_string_equal(t + 3, "y");
	free(t);
	buf_reset(&b);
	/* not UTF-8: replaced */
	assert_true(session_cast_event(&w, 0.3, "o", "\xff\xc0z", 3, &b) > 0);
	t = event_text(&b, "o");
	assert_string_equal(t, "\xef\xbf\xbd\xef\xbf\xbdz");
	free(t);
	buf_reset(&b);
	/* a cut sequence left at the end becomes U+FFFD at finish */
	assert_true(session_cast_event(&w, 0.4, "o", "\xf0\x9f", 2, &b) == 0);
	assert_true(session_cast_finish(&w, 0.5, &b) > 0);
	t = event_text(&b, "o");
	assert_string_equal(t, "\xef\xbf\xbd");
	free(t);
	assert_int_equal(w.n_carry, 0);
	buf_free(&b);
}

static void test_cast_cap(void **state)
{
	struct session_cast_writer w = { 0 };
	struct buf b;
	char big[600];

	(void)state;
	memset(big, 1, sizeof(big)); /* each byte escapes to 6 */
	buf_init(&b, 1024);
	assert_true(session_cast_event(&w, 0, "o", "ok", 2, &b) > 0);
	size_t before = buf_len(&b);
	assert_int_equal(session_cast_event(&w, 0, "o", big, sizeof(big), &b), -EMSGSIZE);
	assert_int_equal(buf_len(&b), before);
	assert_int_equal(strlen(buf_str(&b)), before);
	buf_free(&b);
}

static void test_cast_header(void **state)
{
	struct buf b;
	json_t *h;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(
		session_cast_header(100, 30, 1800000000, "ls -l", "xterm", "/bin/bash", &b), 0);
	assert_true(str_has_suffix(buf_str(&b), "}\n"));
	h = json_loads(buf_str(&b), 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(h, "version")), 2);
	assert_int_equal(json_integer_value(json_object_get(h, "width")), 100);
	assert_int_equal(json_integer_value(json_object_get(h, "height")), 30);
	assert_string_equal(json_string_value(json_object_get(h, "command")), "ls -l");
	assert_string_equal(json_string_value(json_object_get(json_object_get(h, "env"), "TERM")),
			    "xterm");
	json_decref(h);
	buf_free(&b);
}

static void test_cast_check(void **state)
{
	const char *ok =
		"[0.1, \"o\", \"a\"]\n[0.2, \"r\", \"80x24\"]\n[0.2, \"o\", \"\\u0000\"]\n";
	double last = 0;

	(void)state;
	assert_int_equal(session_cast_check_events(ok, strlen(ok), &last), 0);
	assert_true(last > 0.19 && last < 0.21);
	/* earlier than the part before */
	last = 1;
	assert_int_equal(session_cast_check_events(ok, strlen(ok), &last), -EBADMSG);
	assert_true(last == 1);
	last = 0;
	assert_int_equal(
		session_cast_check_events("[0.2, \"o\", \"a\"]\n[0.1, \"o\", \"b\"]\n", 32, &last),
		-EBADMSG);
	assert_int_equal(session_cast_check_events("[0.1, \"o\", \"a\"]", 15, &last), -EBADMSG);
	assert_int_equal(session_cast_check_events("[0.1, \"x\", \"a\"]\n", 16, &last), -EBADMSG);
	assert_int_equal(session_cast_check_events("[0.1, \"o\"]\n", 11, &last), -EBADMSG);
	assert_int_equal(session_cast_check_events("\n", 1, &last), -EBADMSG);
	assert_int_equal(session_cast_check_events("", 0, &last), 0);
	assert_true(session_id_ok(ID1));
	assert_false(session_id_ok("0123456789ABCDEF0123456789abcdef"));
	assert_false(session_id_ok("0123"));
	assert_false(session_id_ok(NULL));
}

/* ---- the agent's side ---- */

static strv emitted;

static void on_emit(void *arg, const char *payload, size_t len, int64_t time_ns)
{
	(void)arg;
	assert_true(time_ns > 0);
	assert_true(len <= SESSION_AGENT_RECORD_MAX);
	strv_push_take(&emitted, xstrndup(payload, len));
}

static bool account_is_alice(uid_t uid, const char *account)
{
	return uid == 1000 && !strcmp(account, "alice");
}

static json_t *start_msg(const char *id, const char *identity)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:s}", "type",
			 "session-start", "session", id, "identity", identity, "account", "alice",
			 "command", "uptime", "width", 120, "height", 40, "pid", 77, "timestamp",
			 (json_int_t)1800000000, "term", "xterm");
}

/* Handles msg (stolen) from uid/pid; returns whether the answer was ok. */
static bool handle(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid)
{
	json_t *ans = NULL;
	bool ok;

	assert_int_equal(session_agent_handle(sa, msg, uid, pid, &ans), 0);
	json_decref(msg);
	ok = json_is_true(json_object_get(ans, "ok"));
	if (!ok)
		assert_non_null(json_string_value(json_object_get(ans, "error")));
	json_decref(ans);
	return ok;
}

static json_t *data_msg(const char *id, int part, const char *data)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "type", "session-data", "session", id, "part",
			 part, "data", data);
}

static json_t *end_msg(const char *id, int code)
{
	return json_pack("{s:s, s:s, s:i}", "type", "session-end", "session", id, "exit", code);
}

static json_t *emitted_at(size_t i)
{
	json_t *o;

	assert_true(i < strv_len(emitted));
	o = json_loads(emitted[i], 0, NULL);
	assert_non_null(o);
	return o;
}

static struct session_agent *new_agent(void)
{
	struct session_agent_options o = { .account_ok = account_is_alice };

	strv_free(emitted);
	emitted = NULL;
	return session_agent_new(&o, on_emit, NULL);
}

static void test_agent_flow(void **state)
{
	struct session_agent *sa = new_agent();
	json_t *r;

	(void)state;
	assert_true(handle(sa, start_msg(ID1, "alice"), 1000, 500));
	assert_int_equal(session_agent_count(sa), 1);
	r = emitted_at(0);
	assert_string_equal(json_string_value(json_object_get(r, "session")), ID1);
	assert_int_equal(json_integer_value(json_object_get(r, "part")), 0);
	assert_string_equal(json_string_value(json_object_get(r, "identity")), "alice");
	assert_int_equal(json_integer_value(json_object_get(r, "uid")), 1000);
	assert_int_equal(json_integer_value(json_object_get(r, "pid")), 500); /* the peer's */
	assert_true(str_has_prefix(json_string_value(json_object_get(r, "cast")),
				   "{\"version\":2,\"width\":120,\"height\":40"));
	json_decref(r);

	assert_true(handle(sa, data_msg(ID1, 1, "[0.5, \"o\", \"up 3 days\\r\\n\"]\n"), 1000, 500));
	r = emitted_at(1);
	assert_int_equal(json_integer_value(json_object_get(r, "part")), 1);
	assert_string_equal(json_string_value(json_object_get(r, "cast")),
			    "[0.5, \"o\", \"up 3 days\\r\\n\"]\n");
	json_decref(r);

	/* another process, another uid, a part out of order, time going back: refused */
	assert_false(handle(sa, data_msg(ID1, 2, "[0.6, \"o\", \"x\"]\n"), 1000, 501));
	assert_false(handle(sa, data_msg(ID1, 2, "[0.6, \"o\", \"x\"]\n"), 1001, 500));
	assert_false(handle(sa, data_msg(ID1, 3, "[0.6, \"o\", \"x\"]\n"), 1000, 500));
	assert_false(handle(sa, data_msg(ID1, 2, "[0.1, \"o\", \"x\"]\n"), 1000, 500));
	assert_false(handle(sa, data_msg(ID1, 2, "not json\n"), 1000, 500));
	assert_false(handle(sa, end_msg(ID1, 0), 1001, 500));
	assert_int_equal(strv_len(emitted), 2);
	/* more than one record holds: refused, nothing emitted, the part still expected */
	{
		struct buf big;

		buf_init(&big, 2 * SESSION_AGENT_RECORD_MAX);
		while (buf_len(&big) <= SESSION_AGENT_RECORD_MAX)
			buf_puts(&big, "[0.7, \"o\", \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]\n");
		assert_false(handle(sa, data_msg(ID1, 2, buf_str(&big)), 1000, 500));
		buf_free(&big);
	}
	assert_int_equal(strv_len(emitted), 2);
	assert_true(handle(sa, data_msg(ID1, 2, "[0.7, \"o\", \"y\"]\n"), 1000, 500));

	assert_true(handle(sa, end_msg(ID1, 3), 1000, 500));
	assert_int_equal(session_agent_count(sa), 0);
	r = emitted_at(3);
	assert_int_equal(json_integer_value(json_object_get(r, "part")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "exit")), 3);
	assert_true(json_integer_value(json_object_get(r, "ended_ns")) > 0);
	json_decref(r);
	/* ended: further messages are for no session */
	assert_false(handle(sa, data_msg(ID1, 4, "[0.8, \"o\", \"x\"]\n"), 1000, 500));
	session_agent_free(sa);
	assert_int_equal(strv_len(emitted), 4);
}

static void test_agent_refusals(void **state)
{
	struct session_agent *sa = new_agent();
	json_t *m, *ans = NULL;
	char id[SESSION_ID_LEN + 1];

	(void)state;
	/* the account must be the caller's */
	assert_false(handle(sa, start_msg(ID1, "alice"), 1001, 500));
	m = start_msg(ID1, "alice");
	json_object_set_new(m, "account", json_string("bob"));
	assert_false(handle(sa, m, 1000, 500));
	m = start_msg("nothex", "alice");
	assert_false(handle(sa, m, 1000, 500));
	m = start_msg(ID1, "alice");
	json_object_set_new(m, "width", json_integer(0));
	assert_false(handle(sa, m, 1000, 500));
	assert_int_equal(strv_len(emitted), 0);
	/* one id once */
	assert_true(handle(sa, start_msg(ID1, "alice"), 1000, 500));
	assert_false(handle(sa, start_msg(ID1, "alice"), 1000, 500));
	/* at most SESSION_AGENT_MAX_PER_UID open sessions of one account */
	for (int i = 1; i < SESSION_AGENT_MAX_PER_UID; i++) {
		snprintf(id, sizeof(id), "%032x", i);
		assert_true(handle(sa, start_msg(id, "alice"), 1000, 500 + i));
	}
	assert_false(handle(sa, start_msg(ID2, "alice"), 1000, 999));
	/* not a session message at all, or not JSON */
	m = json_pack("{s:s}", "type", "login");
	assert_int_equal(session_agent_handle(sa, m, 1000, 1, &ans), -EINVAL);
	json_decref(m);
	assert_int_equal(session_agent_handle_raw(sa, "{nope", 5, 1000, 1, &ans), 0);
	assert_false(json_is_true(json_object_get(ans, "ok")));
	json_decref(ans);
	session_agent_free(sa);
	/* every open session ended when the agent stops */
	assert_int_equal(strv_len(emitted), 2 * SESSION_AGENT_MAX_PER_UID);
}

static void test_agent_end_identity(void **state)
{
	struct session_agent *sa = new_agent();
	pid_t pids[4];
	json_t *r;

	(void)state;
	assert_true(handle(sa, start_msg(ID1, "alice"), 1000, 500));
	assert_true(handle(sa, start_msg(ID2, "carol"), 1000, 600));
	assert_int_equal(session_agent_pids_of(sa, "alice", pids, 4), 1);
	assert_int_equal(pids[0], 500);
	assert_int_equal(session_agent_pids_of(sa, "dave", pids, 4), 0);
	/* the recorder of alice's session went away */
	session_agent_peer_gone(sa, 500);
	assert_int_equal(session_agent_count(sa), 1);
	r = emitted_at(2);
	assert_string_equal(json_string_value(json_object_get(r, "session")), ID1);
	assert_true(json_is_null(json_object_get(r, "exit")));
	json_decref(r);
	session_agent_free(sa);
}

/* A certificate of ca for principal, key id, in base64 (caller frees). */
static char *cert_b64(void *ca, const char *principal, const char *key_id)
{
	const char *principals[] = { principal };
	struct sshcert_request req = {
		.serial = 42,
		.key_id = key_id,
		.principals = principals,
		.n_principals = 1,
		.valid_after = 1,
		.valid_before = UINT64_MAX / 2,
		.permit_pty = true,
	};
	struct buf b;
	char *line, *sp, *out;

	memset(req.key.pub, 7, sizeof(req.key.pub));
	buf_init(&b, 16384);
	assert_int_equal(sshcert_sign(&req, ca, &b), 0);
	line = sshcert_line(buf_str(&b), buf_len(&b), NULL);
	assert_non_null(line);
	sp = strchr(line, ' ');
	assert_non_null(sp);
	out = xstrdup(sp + 1);
	if (strchr(out, ' '))
		*strchr(out, ' ') = '\0';
	free(line);
	buf_free(&b);
	return out;
}

static void test_agent_ca(void **state)
{
	char dir[] = "/tmp/test-sessions-ca-XXXXXX";
	_cleanup_free_ char *pem = NULL, *pem2 = NULL, *good = NULL, *root = NULL, *other = NULL;
	struct session_agent *sa = new_agent();
	struct ssh_ed25519_key pub;
	void *ca, *ca2;
	json_t *m, *r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	pem = xasprintf("%s/ca.pem", dir);
	pem2 = xasprintf("%s/other.pem", dir);
	ca = sshcert_ca_load_or_create(pem);
	ca2 = sshcert_ca_load_or_create(pem2);
	assert_non_null(ca);
	assert_non_null(ca2);
	assert_int_equal(sshcert_ca_public(ca, &pub), 0);
	good = cert_b64(ca, "alice", "alice/grant-1/42");
	root = cert_b64(ca, "root", "alice/grant-1/43");
	other = cert_b64(ca2, "alice", "alice/grant-1/44");
	session_agent_set_ca(sa, &pub);

	/* the certificate vouches: verified */
	m = start_msg(ID1, "alice");
	json_object_set_new(m, "cert", json_string(good));
	assert_true(handle(sa, m, 1000, 500));
	r = emitted_at(0);
	assert_true(json_is_true(json_object_get(r, "identity_verified")));
	json_decref(r);
	/* refused: no certificate, another identity, another account, another CA, garbage */
	assert_false(handle(sa, start_msg(ID2, "alice"), 1000, 501));
	m = start_msg(ID2, "bob");
	json_object_set_new(m, "cert", json_string(good));
	assert_false(handle(sa, m, 1000, 501));
	m = start_msg(ID2, "alic");
	json_object_set_new(m, "cert", json_string(good));
	assert_false(handle(sa, m, 1000, 501));
	m = start_msg(ID2, "alice");
	json_object_set_new(m, "cert", json_string(root));
	assert_false(handle(sa, m, 1000, 501));
	m = start_msg(ID2, "alice");
	json_object_set_new(m, "cert", json_string(other));
	assert_false(handle(sa, m, 1000, 501));
	m = start_msg(ID2, "alice");
	json_object_set_new(m, "cert", json_string("AAAA"));
	assert_false(handle(sa, m, 1000, 501));
	assert_int_equal(strv_len(emitted), 1);
	/* no identity claimed: recorded, not verified */
	m = start_msg(ID2, "alice");
	json_object_del(m, "identity");
	assert_true(handle(sa, m, 1000, 501));
	r = emitted_at(1);
	assert_true(json_is_null(json_object_get(r, "identity")));
	assert_true(json_is_false(json_object_get(r, "identity_verified")));
	json_decref(r);
	session_agent_free(sa);
	sshcert_ca_free(ca);
	sshcert_ca_free(ca2);
	unlink(pem);
	unlink(pem2);
	rmdir(dir);
}

/* ---- the server's parser ---- */

static int parse(const char *text)
{
	struct ingest_session_part p;
	int r = ingest_parse_session_part(text, strlen(text), &p);

	if (r == 0)
		ingest_session_part_free(&p);
	return r;
}

static void test_parse(void **state)
{
	const char *first =
		"{\"session\":\"" ID1 "\",\"part\":0,\"identity\":\"alice\",\"account\":"
		"\"alice\",\"uid\":1000,\"pid\":5,\"command\":null,\"width\":80,"
		"\"height\":24,\"started_ns\":1,\"cast\":\"{\\\"version\\\":2,"
		"\\\"width\\\":80,\\\"height\\\":24}\\n\"}";
	struct ingest_session_part p;

	(void)state;
	assert_int_equal(ingest_parse_session_part(first, strlen(first), &p), 0);
	assert_string_equal(p.session, ID1);
	assert_string_equal(p.identity, "alice");
	assert_null(p.command);
	assert_int_equal(p.width, 80);
	assert_false(p.end);
	ingest_session_part_free(&p);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":2,\"cast\":\"[1, \\\"o\\\", "
			       "\\\"x\\\"]\\n\",\"ended_ns\":5,\"exit\":1}"),
			 0);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":1,\"cast\":\"\"}"), 0);
	/* refused: unknown key, facts on a later part, exit without end, bad lines, bad id,
	 * part 0 without its facts or header */
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":1,\"cast\":\"\",\"x\":1}"),
			 -EBADMSG);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":1,\"cast\":\"\",\"uid\":1}"),
			 -EBADMSG);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":1,\"cast\":\"\",\"exit\":1}"),
			 -EBADMSG);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":1,\"cast\":\"hello\\n\"}"),
			 -EBADMSG);
	assert_int_equal(parse("{\"session\":\"xyz\",\"part\":1,\"cast\":\"\"}"), -EBADMSG);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":0,\"cast\":\"\"}"), -EBADMSG);
	assert_int_equal(parse("{\"session\":\"" ID1 "\",\"part\":-1,\"cast\":\"\"}"), -EBADMSG);
	assert_int_equal(parse("[]"), -EBADMSG);
	assert_int_equal(ingest_parse_session_part("", 0, &p), -EBADMSG);
}

/* ---- the store ---- */

struct sctx {
	char dir[64], path[128], url[160];
	struct store *st;
	char *h1, *h2;
};

static pthread_mutex_t wm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int pending;

static void on_done(struct store_batch *b, int result, uint64_t committed, void *userdata)
{
	(void)b;
	(void)result;
	(void)committed;
	(void)userdata;
	pthread_mutex_lock(&wm);
	pending--;
	pthread_cond_broadcast(&wcv);
	pthread_mutex_unlock(&wm);
}

static void submit(struct sctx *c, const char *host, uint64_t seq, const char *text)
{
	struct store_batch *b = store_batch_new(host, IMMUNE__V1__STREAM__STREAM_ALERTS, 1);

	store_batch_set(b, 0, seq, IMMUNE__V1__RECORD_KIND__RECORD_SESSION,
			1800000000LL * 1000000000, IMMUNE__V1__ENCODING__ENCODING_RAW, text,
			strlen(text));
	b->done = on_done;
	pthread_mutex_lock(&wm);
	pending++;
	pthread_mutex_unlock(&wm);
	assert_int_equal(store_ingest_submit(c->st, b), 0);
	pthread_mutex_lock(&wm);
	while (pending > 0)
		pthread_cond_wait(&wcv, &wm);
	pthread_mutex_unlock(&wm);
}

static void test_store(void **state)
{
	struct session_agent *sa = new_agent();
	struct store_session_filter f = { 0 };
	struct store_stats stats;
	struct sctx c = { 0 };
	json_t *out, *s;
	char *cast, *expect, p[200];
	size_t len;

	(void)state;
	snprintf(c.dir, sizeof(c.dir), "/tmp/test-sessions-XXXXXX");
	assert_non_null(mkdtemp(c.dir));
	snprintf(c.path, sizeof(c.path), "%s/store.db", c.dir);
	snprintf(c.url, sizeof(c.url), "sqlite:%s", c.path);
	assert_int_equal(store_open(c.url, &c.st), 0);
	assert_int_equal(store_host_enroll(c.st, "m1", "web-1", NULL, 0, "01", 0, 1000, &c.h1), 0);
	assert_int_equal(store_host_enroll(c.st, "m2", "db-1", NULL, 0, "02", 0, 1000, &c.h2), 0);

	/* the agent's records for one session, through ingest */
	assert_true(handle(sa, start_msg(ID1, "alice"), 1000, 500));
	assert_true(handle(sa, data_msg(ID1, 1, "[0.1, \"o\", \"a\"]\n"), 1000, 500));
	assert_true(handle(sa, data_msg(ID1, 2, "[0.2, \"o\", \"b\"]\n[0.3, \"o\", \"c\"]\n"), 1000,
			   500));
	assert_true(handle(sa, end_msg(ID1, 7), 1000, 500));
	assert_int_equal(strv_len(emitted), 4);
	for (size_t i = 0; i < 4; i++)
		submit(&c, c.h1, i + 1, emitted[i]);
	/* the same session id from another host is refused */
	submit(&c, c.h2, 1, emitted[1]);
	store_get_stats(c.st, &stats);
	assert_int_equal(stats.records_unparsed, 1);

	assert_int_equal(store_sessions_list(c.st, NULL, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 1);
	s = json_array_get(json_object_get(out, "sessions"), 0);
	assert_string_equal(json_string_value(json_object_get(s, "id")), ID1);
	assert_string_equal(json_string_value(json_object_get(s, "hostname")), "web-1");
	assert_string_equal(json_string_value(json_object_get(s, "identity")), "alice");
	assert_string_equal(json_string_value(json_object_get(s, "account")), "alice");
	assert_string_equal(json_string_value(json_object_get(s, "command")), "uptime");
	assert_int_equal(json_integer_value(json_object_get(s, "exit")), 7);
	assert_int_equal(json_integer_value(json_object_get(s, "uid")), 1000);
	assert_true(json_is_false(json_object_get(s, "identity_verified")));
	assert_int_equal(json_integer_value(json_object_get(s, "width")), 120);
	assert_int_equal(json_integer_value(json_object_get(s, "parts")), 4);
	assert_true(json_is_string(json_object_get(s, "ended")));
	json_decref(out);

	/* filters */
	f.identity = "bob";
	assert_int_equal(store_sessions_list(c.st, &f, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 0);
	json_decref(out);
	f.identity = "alice";
	f.host = "db-1";
	assert_int_equal(store_sessions_list(c.st, &f, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 0);
	json_decref(out);
	f.host = "web-1";
	assert_int_equal(store_sessions_list(c.st, &f, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 1);
	json_decref(out);

	/* the whole recording: the header then the events, in order */
	assert_int_equal(store_session_cast(c.st, ID1, &cast, &len), 0);
	s = emitted_at(0);
	expect = xasprintf("%s[0.1, \"o\", \"a\"]\n[0.2, \"o\", \"b\"]\n[0.3, \"o\", \"c\"]\n",
			   json_string_value(json_object_get(s, "cast")));
	json_decref(s);
	assert_string_equal(cast, expect);
	assert_int_equal(len, strlen(expect));
	free(cast);
	free(expect);
	assert_int_equal(store_session_get(c.st, ID1, &out), 0);
	json_decref(out);
	assert_int_equal(store_session_get(c.st, ID2, &out), -ENOENT);
	assert_int_equal(store_session_cast(c.st, ID2, &cast, &len), -ENOENT);

	session_agent_free(sa);
	store_close(c.st);
	unlink(c.path);
	snprintf(p, sizeof(p), "%s-wal", c.path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", c.path);
	unlink(p);
	rmdir(c.dir);
	free(c.h1);
	free(c.h2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cast_escapes),   cmocka_unit_test(test_cast_utf8_split),
		cmocka_unit_test(test_cast_cap),       cmocka_unit_test(test_cast_header),
		cmocka_unit_test(test_cast_check),     cmocka_unit_test(test_agent_flow),
		cmocka_unit_test(test_agent_refusals), cmocka_unit_test(test_agent_end_identity),
		cmocka_unit_test(test_agent_ca),       cmocka_unit_test(test_parse),
		cmocka_unit_test(test_store),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	strv_free(emitted);
	return r;
}
