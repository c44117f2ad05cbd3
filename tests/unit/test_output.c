/* Unit tests for outputs (detect/output.h): the configuration (defaults, errors naming the
 * line), file outputs (exact JSON lines, mode 0600, rotation), syslog over TCP and TLS to
 * loopback listeners in the test (octet-counted RFC 5424 frames), webhooks to a loopback HTTP
 * listener (header, JSON array body), and a listener that is down (queue, drops, resume). */
#include "unit.h"

#include "detect/output.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include "lib/tls.h"
#include "trust/pki.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
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
	struct output_stats st[5];
	struct outputs *o =
		parse_ok("server: x\noutputs:\n"
			 "  - type: file\n    path: /tmp/a.jsonl\n"
			 "  - type: syslog\n    address: 127.0.0.1:514\n"
			 "  - type: webhook\n    url: https://example.org/hook?t=secret\n"
			 "  - type: syslog\n    address: '[::1]:6514'\n"
			 "  - type: syslog\n    name: siem\n    address: '[::1]:6514'\n"
			 "    tls: true\n    facility: local3\n");
	assert_int_equal(outputs_stats(o, st, 5), 5);
	assert_string_equal(st[0].name, "file:/tmp/a.jsonl");
	assert_string_equal(st[1].name, "syslog:127.0.0.1:514");
	assert_string_equal(st[2].name, "webhook:example.org:443");
	assert_string_equal(st[3].name, "syslog:[::1]:6514");
	assert_string_equal(st[4].name, "siem");
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

/* ---- loopback listeners (a thread each) ---- */

struct listener {
	int lfd;
	unsigned port;
	SSL_CTX *ctx;	/* TLS when set */
	bool http;	/* answer HTTP requests (webhook) instead of reading a stream (syslog) */
	int fail_first; /* HTTP: answer 503 to this many requests first */
	pthread_t thread;
	pthread_mutex_t lock;
	struct buf data;   /* syslog: every byte received; HTTP: each request, then "\n====\n" */
	unsigned requests; /* HTTP requests answered */
	unsigned accepts;  /* connections */
	bool stop;
};

/* Binds 127.0.0.1 on a free port; listens only when up (a bound socket that does not listen
 * refuses connections, as a server that is down). */
static void listener_init(struct listener *l, bool up)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	memset(l, 0, sizeof(*l));
	l->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l->lfd >= 0);
	assert_int_equal(bind(l->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(l->lfd, (struct sockaddr *)&a, &al), 0);
	l->port = ntohs(a.sin_port);
	pthread_mutex_init(&l->lock, NULL);
	buf_init(&l->data, 16u << 20);
	if (up)
		assert_int_equal(listen(l->lfd, 8), 0);
}

struct conn {
	int fd;
	SSL *ssl;
};

static ssize_t conn_recv(struct conn *c, char *p, size_t n)
{
	if (c->ssl) {
		size_t got = 0;
		if (SSL_read_ex(c->ssl, p, n, &got) == 1)
			return (ssize_t)got;
		int e = SSL_get_error(c->ssl, 0);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ)
			errno = EAGAIN;
		return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	return recv(c->fd, p, n, 0);
}

static void conn_send(struct conn *c, const char *p)
{
	if (c->ssl) {
		size_t done;
		SSL_write_ex(c->ssl, p, strlen(p), &done);
	} else {
		(void)!send(c->fd, p, strlen(p), MSG_NOSIGNAL);
	}
}

static void record(struct listener *l, const char *p, size_t n)
{
	pthread_mutex_lock(&l->lock);
	buf_append(&l->data, p, n);
	pthread_mutex_unlock(&l->lock);
}

/* One HTTP request: head and Content-Length body. Returns 1 when served, -EAGAIN when idle
 * for a while, 0 at the end of the stream. */
static int serve_request(struct listener *l, struct conn *c)
{
	struct buf req;
	char chunk[4096];
	const char *end;
	buf_init(&req, 16u << 20);
	while (!(end = strstr(buf_str(&req), "\r\n\r\n"))) {
		ssize_t got = conn_recv(c, chunk, sizeof(chunk));
		if (got < 0 && errno == EAGAIN && buf_len(&req) == 0) {
			buf_free(&req);
			return -EAGAIN;
		}
		if (got < 0 && errno == EAGAIN)
			continue;
		if (got <= 0 || buf_append(&req, chunk, (size_t)got) < 0) {
			buf_free(&req);
			return 0;
		}
	}
	const char *cl = strcasestr(buf_str(&req), "\r\nContent-Length: ");
	size_t head = (size_t)(end + 4 - buf_str(&req)), want = cl ? strtoul(cl + 18, NULL, 10) : 0;
	while (buf_len(&req) < head + want) {
		ssize_t got = conn_recv(c, chunk, sizeof(chunk));
		if (got < 0 && errno == EAGAIN)
			continue;
		if (got <= 0 || buf_append(&req, chunk, (size_t)got) < 0) {
			buf_free(&req);
			return 0;
		}
	}
	pthread_mutex_lock(&l->lock);
	bool fail = l->fail_first > 0;
	if (fail)
		l->fail_first--;
	else
		buf_printf(&l->data, "%s\n====\n", buf_str(&req));
	pthread_mutex_unlock(&l->lock);
	conn_send(c, fail ? "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"
			  : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	pthread_mutex_lock(&l->lock);
	l->requests += !fail;
	pthread_mutex_unlock(&l->lock);
	buf_free(&req);
	return 1;
}

static bool stopped(struct listener *l)
{
	pthread_mutex_lock(&l->lock);
	bool stop = l->stop;
	pthread_mutex_unlock(&l->lock);
	return stop;
}

static void serve(struct listener *l, int fd)
{
	struct conn c = { .fd = fd };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	char chunk[4096];
	if (l->ctx) {
		c.ssl = SSL_new(l->ctx);
		SSL_set_fd(c.ssl, fd);
		if (SSL_accept(c.ssl) != 1)
			goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* The stop flag is looked at only when the peer is quiet: what it sent is all read. */
	for (;;) {
		if (l->http) {
			int r = serve_request(l, &c);
			if (r == 0 || (r == -EAGAIN && stopped(l)))
				break;
			continue;
		}
		ssize_t got = conn_recv(&c, chunk, sizeof(chunk));
		if (got > 0)
			record(l, chunk, (size_t)got);
		else if (got == 0 || errno != EAGAIN || stopped(l))
			break;
	}
out:
	SSL_free(c.ssl);
	close(fd);
}

static void *listener_main(void *arg)
{
	struct listener *l = arg;
	for (;;) {
		struct pollfd p = { .fd = l->lfd, .events = POLLIN };
		if (stopped(l))
			break;
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&l->lock);
		l->accepts++;
		pthread_mutex_unlock(&l->lock);
		serve(l, fd);
	}
	return NULL;
}

static void listener_start(struct listener *l)
{
	assert_int_equal(pthread_create(&l->thread, NULL, listener_main, l), 0);
}

/* Stops the thread (once its client is quiet) and returns everything received. */
static char *listener_stop(struct listener *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	close(l->lfd);
	char *s = buf_steal(&l->data);
	pthread_mutex_destroy(&l->lock);
	SSL_CTX_free(l->ctx);
	return s;
}

/* Waits up to 10 s for output i to count at least n records sent. */
static struct output_stats wait_sent(struct outputs *o, size_t i, uint64_t n)
{
	struct output_stats st[4];
	for (int t = 0; t < 1000; t++) {
		assert_true(outputs_stats(o, st, 4) > i);
		if (st[i].sent >= n)
			break;
		usleep(10000);
	}
	return st[i];
}

/* Splits octet-counted frames ("LEN SP MSG"); returns how many, each a new string in out. */
static size_t split_frames(const char *data, char **out, size_t max)
{
	size_t n = 0;
	while (*data && n < max) {
		char *end;
		unsigned long len = strtoul(data, &end, 10);
		assert_true(end > data && *end == ' ');
		assert_true(strlen(end + 1) >= len);
		out[n++] = xstrndup(end + 1, len);
		data = end + 1 + len;
	}
	assert_int_equal(*data, '\0');
	return n;
}

static void free_frames(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* ---- syslog ---- */

static const char alert_json[] = "{\"time\":1700000000123,\"severity_id\":4,\"msg\":\"a b\"}";
static const char event_json[] = "{\"time\":1700000001000,\"severity_id\":1}";

/* Sends an alert, an event and a record that is not JSON; checks the three frames. */
static void check_syslog(struct fixture *f, struct listener *l, const char *extra,
			 unsigned facility)
{
	_cleanup_free_ char *yaml =
		xasprintf("outputs:\n  - type: syslog\n"
			  "    address: 127.0.0.1:%u\n    what: [events, alerts]\n"
			  "    hostname: testhost\n    app_name: immune-test\n%s",
			  l->port, extra);
	listener_start(l);
	struct outputs *o = open_yaml(f, yaml);
	outputs_alert(o, alert_json, strlen(alert_json));
	wait_sent(o, 0, 1);
	usleep(50000); /* the server's TLS 1.3 session tickets arrive meanwhile */
	outputs_event(o, event_json, strlen(event_json));
	outputs_event(o, "not json", 8);
	struct output_stats st = wait_sent(o, 0, 3);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.errors, 0);
	assert_true(st.connected);
	outputs_free(o);
	pthread_mutex_lock(&l->lock);
	unsigned accepts = l->accepts;
	pthread_mutex_unlock(&l->lock);
	_cleanup_free_ char *data = listener_stop(l);
	assert_int_equal(accepts, 1); /* one connection for all */

	char *frames[8];
	assert_int_equal(split_frames(data, frames, 8), 3);
	_cleanup_free_ char *want0 =
		xasprintf("<%u>1 2023-11-14T22:13:20.123Z testhost immune-test %ld alert - %s",
			  facility * 8 + 3, (long)getpid(), alert_json);
	_cleanup_free_ char *want1 =
		xasprintf("<%u>1 2023-11-14T22:13:21.000Z testhost immune-test %ld event - %s",
			  facility * 8 + 6, (long)getpid(), event_json);
	_cleanup_free_ char *want2 = xasprintf("<%u>1 ", facility * 8 + 5);
	_cleanup_free_ char *tail2 =
		xasprintf(" testhost immune-test %ld event - not json", (long)getpid());
	assert_string_equal(frames[0], want0);
	assert_string_equal(frames[1], want1);
	assert_true(str_has_prefix(frames[2], want2));
	assert_true(str_has_suffix(frames[2], tail2));
	free_frames(frames, 3);
}

static void test_syslog_tcp(void **state)
{
	struct listener l;
	listener_init(&l, true);
	check_syslog(*state, &l, "", 4);
}

static void test_syslog_tls(void **state)
{
	struct fixture *f = *state;
	struct pki_ca *ca;
	_cleanup_free_ char *pkidir = xasprintf("%s/pki", f->dir);
	assert_int_equal(mkdir(pkidir, 0700), 0);
	assert_int_equal(pki_ca_open(pkidir, NULL, &ca), 0);
	struct listener l;
	listener_init(&l, true);
	l.ctx = tls_server_ctx(pki_ca_cert(ca), pki_ca_server_cert(ca), pki_ca_server_key(ca));
	assert_non_null(l.ctx);
	SSL_CTX_clear_options(l.ctx, SSL_OP_NO_TICKET); /* as most servers: session tickets */
	SSL_CTX_set_num_tickets(l.ctx, 2);
	_cleanup_free_ char *extra =
		xasprintf("    tls: true\n    ca: %s/ca.crt\n    facility: local3\n", pkidir);
	check_syslog(f, &l, extra, 19);

	/* A server the CA did not issue: nothing is sent, the failure is counted. */
	_cleanup_free_ char *otherdir = xasprintf("%s/other", f->dir);
	struct pki_ca *other;
	assert_int_equal(mkdir(otherdir, 0700), 0);
	assert_int_equal(pki_ca_open(otherdir, NULL, &other), 0);
	listener_init(&l, true);
	l.ctx = tls_server_ctx(pki_ca_cert(other), pki_ca_server_cert(other),
			       pki_ca_server_key(other));
	listener_start(&l);
	_cleanup_free_ char *yaml = xasprintf("outputs:\n  - type: syslog\n    address: "
					      "127.0.0.1:%u\n    tls: true\n    ca: %s/ca.crt\n",
					      l.port, pkidir);
	struct outputs *o = open_yaml(f, yaml);
	outputs_alert(o, alert_json, strlen(alert_json));
	struct output_stats st;
	for (int t = 0; t < 500; t++) {
		outputs_stats(o, &st, 1);
		if (st.errors > 0)
			break;
		usleep(10000);
	}
	assert_true(st.errors > 0);
	assert_int_equal(st.sent, 0);
	assert_false(st.connected);
	outputs_free(o);
	_cleanup_free_ char *data = listener_stop(&l);
	assert_string_equal(data, "");
	pki_ca_free(other);
	pki_ca_free(ca);
}

/* Down: records wait in the queue (queue: 5), the rest are dropped and counted; once the
 * server listens, the queued records are delivered in order. */
static void test_syslog_down(void **state)
{
	struct fixture *f = *state;
	struct listener l;
	listener_init(&l, false);
	_cleanup_free_ char *yaml = xasprintf("outputs:\n  - type: syslog\n    address: "
					      "127.0.0.1:%u\n    queue: 5\n",
					      l.port);
	struct outputs *o = open_yaml(f, yaml);
	char rec[32];
	for (int i = 0; i < 8; i++) {
		snprintf(rec, sizeof(rec), "{\"i\":%d}", i);
		outputs_alert(o, rec, strlen(rec));
	}
	struct output_stats st;
	for (int t = 0; t < 500; t++) {
		outputs_stats(o, &st, 1);
		if (st.errors > 0)
			break;
		usleep(10000);
	}
	assert_true(st.errors > 0);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.sent, 0);
	assert_false(st.connected);

	assert_int_equal(listen(l.lfd, 8), 0);
	listener_start(&l);
	st = wait_sent(o, 0, 5);
	assert_int_equal(st.sent, 5);
	assert_int_equal(st.dropped, 3);
	outputs_free(o);
	_cleanup_free_ char *data = listener_stop(&l);
	char *frames[8];
	assert_int_equal(split_frames(data, frames, 8), 5);
	for (int i = 0; i < 5; i++) {
		snprintf(rec, sizeof(rec), " alert - {\"i\":%d}", i);
		assert_true(str_has_suffix(frames[i], rec));
	}
	free_frames(frames, 5);
}

/* ---- webhook ---- */

/* Four alerts in batches of 3: the first POST is answered 503 and retried; every accepted
 * request has the target, the header and a JSON array body; one connection (keep-alive). */
static void check_webhook(struct fixture *f, struct listener *l, const char *url_extra)
{
	l->http = true;
	l->fail_first = 1;
	listener_start(l);
	_cleanup_free_ char *yaml = xasprintf("outputs:\n  - type: webhook\n"
					      "    batch: 3\n    interval: 100ms\n"
					      "    headers:\n      X-Token: abc def\n%s",
					      url_extra);
	struct outputs *o = open_yaml(f, yaml);
	char rec[32];
	for (int i = 0; i < 4; i++) {
		snprintf(rec, sizeof(rec), "{\"i\":%d}", i);
		outputs_alert(o, rec, strlen(rec));
	}
	outputs_event(o, "{\"event\":1}", 11); /* not taken: alerts only by default */
	outputs_alert(o, "[1,2]", 5);	       /* not an object: left out, an error */
	struct output_stats st = wait_sent(o, 0, 4);
	for (int t = 0; t < 500 && st.errors < 2; t++) {
		usleep(10000);
		outputs_stats(o, &st, 1);
	}
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.dropped, 0);
	assert_true(st.errors >= 2); /* the 503 and the array */
	assert_true(str_has_prefix(st.name, "webhook:"));
	outputs_free(o);
	pthread_mutex_lock(&l->lock);
	unsigned accepts = l->accepts;
	pthread_mutex_unlock(&l->lock);
	_cleanup_free_ char *data = listener_stop(l);
	assert_int_equal(accepts, 1);

	/* Every accepted request: the target, the header, a JSON array body. */
	int next = 0;
	for (char *req = data, *end; (end = strstr(req, "\n====\n")); req = end + 6) {
		*end = '\0';
		assert_true(str_has_prefix(req, "POST /hook?x=1 HTTP/1.1\r\n"));
		assert_non_null(strstr(req, "\r\nX-Token: abc def\r\n"));
		assert_non_null(strstr(req, "\r\nContent-Type: application/json\r\n"));
		json_error_t je;
		json_t *arr = json_loads(strstr(req, "\r\n\r\n") + 4, 0, &je);
		assert_true(json_is_array(arr));
		for (size_t k = 0; k < json_array_size(arr); k++)
			assert_int_equal(
				json_integer_value(json_object_get(json_array_get(arr, k), "i")),
				next++);
		json_decref(arr);
	}
	assert_int_equal(next, 4);
}

static void test_webhook_http(void **state)
{
	struct listener l;
	listener_init(&l, true);
	_cleanup_free_ char *url =
		xasprintf("    url: http://127.0.0.1:%u/hook?x=1\n    insecure: true\n", l.port);
	check_webhook(*state, &l, url);
}

static void test_webhook_https(void **state)
{
	struct fixture *f = *state;
	struct pki_ca *ca;
	struct listener l;
	assert_int_equal(pki_ca_open(f->dir, NULL, &ca), 0);
	listener_init(&l, true);
	l.ctx = tls_server_ctx(pki_ca_cert(ca), pki_ca_server_cert(ca), pki_ca_server_key(ca));
	SSL_CTX_clear_options(l.ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(l.ctx, 2);
	_cleanup_free_ char *url = xasprintf("    url: https://localhost:%u/hook?x=1\n"
					     "    ca: %s/ca.crt\n",
					     l.port, f->dir);
	check_webhook(f, &l, url);
	pki_ca_free(ca);
}

/* outputs_free sends what waits for a batch (interval 60 s here) before it returns. */
static void test_flush_on_free(void **state)
{
	struct fixture *f = *state;
	struct listener l;
	listener_init(&l, true);
	l.http = true;
	listener_start(&l);
	_cleanup_free_ char *yaml = xasprintf("outputs:\n  - type: webhook\n"
					      "    url: http://127.0.0.1:%u/\n    insecure: true\n"
					      "    interval: 60s\n",
					      l.port);
	struct outputs *o = open_yaml(f, yaml);
	outputs_alert(o, "{\"i\":0}", 7);
	outputs_alert(o, "{\"i\":1}", 7);
	outputs_free(o);
	_cleanup_free_ char *data = listener_stop(&l);
	const char *body = strstr(data, "\r\n\r\n");
	assert_non_null(body);
	assert_string_equal(body, "\r\n\r\n[{\"i\":0},{\"i\":1}]\n====\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syslog_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syslog_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syslog_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook_https, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_on_free, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
