/* immune-server end to end on loopback: the server runs in a thread (ports 0, a temporary
 * data directory); the tests act as agents with blocking TLS clients and as operators with
 * a minimal HTTPS client. */
#include "unit.h"

#include "lib/buf.h"
#include "lib/tls.h"
#include "proto/msg.h"
#include "server/file_set.h"
#include "server/duration.h"
#include "server/hostmap.h"
#include "server/server.h"
#include "server/server_int.h"
#include "trust/pki.h"
#include "trust/token.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define R(x) IMMUNE__V1__REFUSAL__REASON__REASON_##x

struct fx {
	char dir[64];
	struct server *srv;
	pthread_t thread;
	char op_token[65];
	X509 *ca;
	char pin[PKI_PIN_LEN + 1];
	char access_digest[FILE_SET_DIGEST_HEX + 1]; /* agents claim to hold the access bundle */
};

/* ---------------------------------------------------------------- plumbing */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void *run_server(void *arg)
{
	server_run(arg);
	return NULL;
}

static void read_op_token(struct fx *fx)
{
	char path[128], line[256];
	snprintf(path, sizeof(path), "%s/data/client.yaml", fx->dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	struct stat st;
	assert_int_equal(fstat(fileno(f), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "token: ", 7))
			memcpy(fx->op_token, line + 7, 64);
	fclose(f);
	assert_int_equal(strlen(fx->op_token), 64);
}

static void write_catalog(const char *dir)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/cat", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cat/10-test.yml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("checks: []\n", f);
	fclose(f);
}

/* What a test may change in the server's options (cmocka's prestate). */
struct tweak {
	size_t ingest_limit_bytes;
	uint32_t heartbeat_s;
	uint32_t max_agents;
};

static int setup(void **state)
{
	const struct tweak *tw = *state;
	struct fx *fx = xcalloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/immune-server-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	write_catalog(fx->dir);
	char data[96], cat[96];
	snprintf(data, sizeof(data), "%s/data", fx->dir);
	snprintf(cat, sizeof(cat), "%s/cat", fx->dir);
	struct server_options opt = {
		.data_dir = data,
		.listen_addr = "127.0.0.1:0",
		.api_addr = "127.0.0.1:0",
		.catalog_dir = cat,
		.retention_s = -1,
		.preauth_deadline_ms = 1000,
	};
	if (tw) {
		opt.ingest_limit_bytes = tw->ingest_limit_bytes;
		opt.heartbeat_s = tw->heartbeat_s;
		opt.max_agents = tw->max_agents;
	}
	assert_int_equal(server_new(&opt, &fx->srv), 0);
	assert_true(server_first_start(fx->srv));
	struct stat st;
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	read_op_token(fx);
	char path[128];
	snprintf(path, sizeof(path), "%s/ca.crt", data);
	assert_int_equal(pki_cert_load(path, &fx->ca), 0);
	assert_int_equal(pki_cert_pin(fx->ca, fx->pin), 0);
	snprintf(fx->access_digest, sizeof(fx->access_digest), "%s",
		 fx->srv->access.bundle->digest);
	assert_int_equal(pthread_create(&fx->thread, NULL, run_server, fx->srv), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	server_stop(fx->srv);
	pthread_join(fx->thread, NULL);
	server_free(fx->srv);
	X509_free(fx->ca);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static uint64_t ctr(struct fx *fx, enum server_counter c)
{
	return server_counter(fx->srv, c);
}

/* Counters are raised on the server's thread: wait (bounded) until c reaches want. */
static void wait_counter(struct fx *fx, enum server_counter c, uint64_t want)
{
	for (int i = 0; i < 500 && ctr(fx, c) < want; i++)
		usleep(10000);
	assert_int_equal(ctr(fx, c), want);
}

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A blocking TLS client; NULL when the handshake fails. */
static SSL *tls_connect(SSL_CTX *ctx, uint16_t port)
{
	int fd = tcp_connect(port);
	SSL *ssl = SSL_new(ctx);
	assert_non_null(ssl);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

static void tls_close(SSL *ssl)
{
	if (!ssl)
		return;
	int fd = SSL_get_fd(ssl);
	SSL_free(ssl);
	close(fd);
}

/* Returns false when the server has already closed the connection. */
static bool try_send_frame(SSL *ssl, Frame *f)
{
	struct buf b;
	buf_init(&b, FRAME_MAX + FRAME_HEADER_SIZE);
	assert_int_equal(msg_encode(f, &b), 0);
	bool ok = SSL_write(ssl, b.data, (int)b.len) == (int)b.len;
	ERR_clear_error();
	buf_free(&b);
	return ok;
}

static void send_frame(SSL *ssl, Frame *f)
{
	assert_true(try_send_frame(ssl, f));
}

static bool read_exact(SSL *ssl, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int r = SSL_read(ssl, (char *)p + got, (int)(n - got));
		if (r <= 0) {
			ERR_clear_error();
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

/* The next frame, or NULL when the server closed the connection. */
static Frame *recv_frame(SSL *ssl)
{
	unsigned char hdr[4];
	if (!read_exact(ssl, hdr, 4))
		return NULL;
	size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	assert_true(len > 0 && len <= FRAME_MAX);
	unsigned char *body = xmalloc(len);
	Frame *f = NULL;
	if (read_exact(ssl, body, len))
		assert_int_equal(msg_decode(body, len, true, &f), 0);
	free(body);
	return f;
}

static int refusal_of(Frame *f)
{
	int r = f && f->body_case == IMMUNE__V1__FRAME__BODY_REFUSAL ? (int)f->refusal->reason : -1;
	msg_free(f);
	return r;
}

/* ---------------------------------------------------------------- operators' API */

struct http_answer {
	int code;
	json_t *body;
};

static void http_answer_free(struct http_answer *a)
{
	json_decref(a->body);
}

static struct http_answer http(struct fx *fx, const char *method, const char *path,
			       const char *body, const char *token)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), fx->ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = tls_connect(ctx, server_api_port(fx->srv));
	assert_non_null(ssl);
	struct buf req;
	buf_init(&req, 1 << 20);
	buf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method,
		   path);
	if (token)
		buf_printf(&req, "Authorization: Bearer %s\r\n", token);
	buf_printf(&req, "Content-Length: %zu\r\n\r\n%s", body ? strlen(body) : 0,
		   body ? body : "");
	assert_int_equal(SSL_write(ssl, req.data, (int)req.len), (int)req.len);
	buf_reset(&req);
	char chunk[4096];
	int n;
	while ((n = SSL_read(ssl, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(&req, chunk, (size_t)n), 0);
	ERR_clear_error();
	tls_close(ssl);
	SSL_CTX_free(ctx);
	struct http_answer a = { 0 };
	assert_true(!strncmp(req.data, "HTTP/1.1 ", 9));
	a.code = (int)strtol(req.data + 9, NULL, 10);
	const char *start = strstr(req.data, "\r\n\r\n");
	assert_non_null(start);
	a.body = json_loads(start + 4, 0, NULL);
	buf_free(&req);
	return a;
}

static struct http_answer api(struct fx *fx, const char *method, const char *path, const char *body)
{
	return http(fx, method, path, body, fx->op_token);
}

/* Creates a join token through the API; returns its text (caller frees). */
static char *make_token(struct fx *fx, const char *body)
{
	struct http_answer a = api(fx, "POST", "/v1/tokens", body);
	assert_int_equal(a.code, 201);
	assert_true(json_is_string(json_object_get(a.body, "token")));
	char *t = xstrdup(json_string_value(json_object_get(a.body, "token")));
	http_answer_free(&a);
	return t;
}

/* ---------------------------------------------------------------- agents */

struct agent {
	EVP_PKEY *key;
	X509 *cert;
	char host_id[65];
	SSL_CTX *ctx;
	SSL *ssl;
};

static void agent_free(struct agent *a)
{
	tls_close(a->ssl);
	SSL_CTX_free(a->ctx);
	X509_free(a->cert);
	EVP_PKEY_free(a->key);
	memset(a, 0, sizeof(*a));
}

/* Enrolls with token (its own pin unless pin is given). Returns the answer: an
 * EnrollResponse is kept in a, a refusal's reason is returned, -2 for a failed handshake. */
static int enroll_csr(struct fx *fx, struct agent *a, const char *token, const char *pin,
		      const char *machine_id, bool bad_csr)
{
	struct join_token jt;
	if (!pin) {
		assert_int_equal(token_parse(token, &jt), 0);
		pin = jt.pin;
	}
	if (!a->key)
		assert_int_equal(pki_key_generate(&a->key), 0);
	unsigned char *csr = NULL;
	size_t csr_len = 0;
	assert_int_equal(pki_csr_create(a->key, "agent", &csr, &csr_len), 0);
	SSL_CTX *ctx = tls_enroll_ctx(pin);
	assert_non_null(ctx);
	SSL *ssl = tls_connect(ctx, server_agent_port(fx->srv));
	int result = -2;
	if (ssl) {
		Immune__V1__EnrollRequest req = IMMUNE__V1__ENROLL_REQUEST__INIT;
		req.token = (char *)token;
		req.csr_der = (ProtobufCBinaryData){ .len = csr_len, .data = csr };
		if (bad_csr)
			req.csr_der.len /= 2;
		req.hostname = "test-host";
		req.machine_id = (char *)machine_id;
		Frame f = IMMUNE__V1__FRAME__INIT;
		f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST;
		f.enroll_request = &req;
		send_frame(ssl, &f);
		Frame *resp = recv_frame(ssl);
		assert_non_null(resp);
		if (resp->body_case == IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE) {
			const Immune__V1__EnrollResponse *er = resp->enroll_response;
			snprintf(a->host_id, sizeof(a->host_id), "%s", er->host_id);
			X509_free(a->cert);
			a->cert = NULL;
			assert_int_equal(
				pki_cert_from_der(er->cert_der.data, er->cert_der.len, &a->cert),
				0);
			msg_free(resp);
			result = 0;
		} else {
			result = refusal_of(resp);
		}
		tls_close(ssl);
	}
	SSL_CTX_free(ctx);
	OPENSSL_free(csr);
	return result;
}

static int enroll(struct fx *fx, struct agent *a, const char *token, const char *pin,
		  const char *machine_id)
{
	return enroll_csr(fx, a, token, pin, machine_id, false);
}

static bool send_hello(SSL *ssl, const char *host_id, const char *digest, const char *access_digest)
{
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	h.host_id = (char *)host_id;
	h.hostname = "test-host";
	h.agent_version = "test";
	h.catalog_digest = (char *)(digest ? digest : "");
	h.access_digest = (char *)access_digest;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	return try_send_frame(ssl, &f);
}

/* Connects with the agent's certificate and says Hello as host_id. Returns 0 with a->ssl
 * established (Welcome received, ConfigUpdate consumed), a refusal reason, or -2. */
static int agent_connect(struct fx *fx, struct agent *a, const char *host_id)
{
	if (!a->ctx)
		a->ctx = tls_client_ctx(fx->ca, a->cert, a->key);
	assert_non_null(a->ctx);
	tls_close(a->ssl);
	a->ssl = tls_connect(a->ctx, server_agent_port(fx->srv));
	if (!a->ssl)
		return -2;
	if (!send_hello(a->ssl, host_id ? host_id : a->host_id, NULL, fx->access_digest))
		return -2;
	Frame *f = recv_frame(a->ssl);
	if (!f)
		return -2;
	if (f->body_case != IMMUNE__V1__FRAME__BODY_WELCOME)
		return refusal_of(f);
	assert_int_equal(f->welcome->n_committed, 3);
	msg_free(f);
	f = recv_frame(a->ssl); /* the catalog: the agent holds none */
	assert_non_null(f);
	assert_int_equal(f->body_case, IMMUNE__V1__FRAME__BODY_CONFIG);
	assert_int_equal(f->config->n_catalog, 1);
	assert_string_equal(f->config->catalog[0]->name, "10-test.yml");
	assert_int_equal(strlen(f->config->catalog_digest), FILE_SET_DIGEST_HEX);
	msg_free(f);
	return 0;
}

/* Sends records first..last of the state stream and returns the Ack's committed_seq. */
static uint64_t send_batch(struct agent *a, uint64_t first, uint64_t last)
{
	size_t n = (size_t)(last - first + 1);
	Immune__V1__Record *recs = xcalloc(n, sizeof(*recs));
	Immune__V1__Record **ptrs = xcalloc(n, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		immune__v1__record__init(&recs[i]);
		recs[i].seq = first + i;
		recs[i].kind = IMMUNE__V1__RECORD_KIND__RECORD_EVENT;
		recs[i].time_ns = 1;
		recs[i].payload = (ProtobufCBinaryData){ .len = 2, .data = (uint8_t *)"{}" };
		ptrs[i] = &recs[i];
	}
	Immune__V1__RecordBatch b = IMMUNE__V1__RECORD_BATCH__INIT;
	b.stream = IMMUNE__V1__STREAM__STREAM_EVENTS;
	b.n_records = n;
	b.records = ptrs;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
	f.batch = &b;
	send_frame(a->ssl, &f);
	free(ptrs);
	free(recs);
	Frame *ack = recv_frame(a->ssl);
	assert_non_null(ack);
	assert_int_equal(ack->body_case, IMMUNE__V1__FRAME__BODY_ACK);
	uint64_t seq = ack->ack->committed_seq;
	msg_free(ack);
	return seq;
}

static void enrolled_agent(struct fx *fx, struct agent *a, const char *machine_id)
{
	_cleanup_free_ char *tok = make_token(fx, NULL);
	assert_int_equal(enroll(fx, a, tok, NULL, machine_id), 0);
	assert_int_equal(agent_connect(fx, a, NULL), 0);
}

/* ---------------------------------------------------------------- pure helpers */

static void test_duration(void **state)
{
	int64_t v;
	assert_int_equal(duration_parse("90s", 1000, &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(duration_parse("24h", INT64_MAX, &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(duration_parse("30d", INT64_MAX, &v), 0);
	assert_int_equal(v, 30 * 86400);
	assert_int_equal(duration_parse("15", 100, &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(duration_parse("2m", 100, &v), -ERANGE);
	const char *bad[] = { "", "h", "1hh", "1 h", "-1s", "1.5h", "1w", "1h30m", " 1h" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(duration_parse(bad[i], INT64_MAX, &v), -EINVAL);
	assert_int_equal(duration_parse("99999999999999999999", INT64_MAX, &v), -ERANGE);
}

static void test_hostmap(void **state)
{
	enum { N = 2000 };
	struct conn *conns = xcalloc(N, sizeof(*conns));
	struct hostmap m = { 0 };
	for (int i = 0; i < N; i++) {
		snprintf(conns[i].host_id, sizeof(conns[i].host_id), "%032x", i * 7919);
		assert_null(hostmap_put(&m, &conns[i]));
	}
	assert_int_equal(m.n, N);
	for (int i = 0; i < N; i += 2)
		hostmap_remove(&m, &conns[i]);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(hostmap_get(&m, conns[i].host_id), i % 2 ? &conns[i] : NULL);
	struct conn other = conns[1];
	assert_ptr_equal(hostmap_put(&m, &other), &conns[1]);
	hostmap_remove(&m, &conns[1]); /* not the current one: kept */
	assert_ptr_equal(hostmap_get(&m, conns[1].host_id), &other);
	hostmap_free(&m);
	free(conns);
}

static void test_catalog_digest(void **state)
{
	struct file_set_entry a[] = { { "a.yml", (unsigned char *)"x", 1 },
				      { "b.yml", (unsigned char *)"", 0 } };
	struct file_set_entry b[] = { { "a.yml", (unsigned char *)"", 0 },
				      { "b.yml", (unsigned char *)"x", 1 } };
	char da[FILE_SET_DIGEST_HEX + 1], db[FILE_SET_DIGEST_HEX + 1];
	file_set_digest(a, 2, da);
	file_set_digest(b, 2, db);
	assert_int_equal(strlen(da), FILE_SET_DIGEST_HEX);
	assert_string_not_equal(da, db);
}

static void put_text(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The rules tree is grouped in subdirectories; the set is flat, by file name. */
static void test_file_set_tree(void **state)
{
	char dir[] = "/tmp/immune-file-set-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *sub = xasprintf("%s/persistence", dir);
	_cleanup_free_ char *deep = xasprintf("%s/persistence/more", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(deep, 0700), 0);
	put_text(dir, "top.yml", "a");
	put_text(dir, "README.md", "not a rule");
	put_text(sub, "cron.yml", "bb");
	put_text(deep, "unit.yml", "ccc");
	struct file_set *fs;
	assert_int_equal(file_set_load(dir, &fs), 0);
	assert_int_equal(fs->n, 3);
	assert_string_equal(fs->files[0].name, "cron.yml");
	assert_string_equal(fs->files[1].name, "top.yml");
	assert_string_equal(fs->files[2].name, "unit.yml");
	assert_int_equal(fs->files[2].len, 3);
	file_set_free(fs);
	put_text(deep, "top.yml", "dup"); /* two files would land on one name */
	assert_int_equal(file_set_load(dir, &fs), -EEXIST);
	assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---------------------------------------------------------------- enrollment */

static void test_enroll_ok(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 };
	_cleanup_free_ char *tok = make_token(fx, "{\"labels\": {\"env\": \"test\"}}");
	assert_int_equal(enroll(fx, &a, tok, NULL, "machine-1"), 0);
	assert_int_equal(strlen(a.host_id), 32);
	char cn[65];
	assert_int_equal(pki_cert_cn(a.cert, cn, sizeof(cn)), 0);
	assert_string_equal(cn, a.host_id);
	assert_int_equal(ctr(fx, CTR_ENROLL_OK), 1);

	/* the same machine enrolling again keeps its host id */
	struct agent again = { 0 };
	_cleanup_free_ char *tok2 = make_token(fx, NULL);
	assert_int_equal(enroll(fx, &again, tok2, NULL, "machine-1"), 0);
	assert_string_equal(again.host_id, a.host_id);
	/* ... and its previous certificate is no longer accepted */
	assert_int_equal(agent_connect(fx, &a, NULL), R(IDENTITY_MISMATCH));
	assert_int_equal(agent_connect(fx, &again, NULL), 0);
	agent_free(&a);
	agent_free(&again);
}

/* An agent whose access digest differs gets the access bundle after the catalog. */
static void test_access_bundle_sent(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 };
	_cleanup_free_ char *tok = make_token(fx, NULL);
	assert_int_equal(enroll(fx, &a, tok, NULL, "machine-access"), 0);
	a.ctx = tls_client_ctx(fx->ca, a.cert, a.key);
	a.ssl = tls_connect(a.ctx, server_agent_port(fx->srv));
	assert_non_null(a.ssl);
	assert_true(send_hello(a.ssl, a.host_id, NULL, ""));
	Frame *f = recv_frame(a.ssl);
	assert_int_equal(f->body_case, IMMUNE__V1__FRAME__BODY_WELCOME);
	msg_free(f);
	f = recv_frame(a.ssl);
	assert_int_equal(f->body_case, IMMUNE__V1__FRAME__BODY_CONFIG);
	assert_int_equal(f->config->n_catalog, 1);
	msg_free(f);
	f = recv_frame(a.ssl);
	assert_non_null(f);
	assert_int_equal(f->body_case, IMMUNE__V1__FRAME__BODY_CONFIG);
	assert_string_equal(f->config->access_digest, fx->access_digest);
	assert_int_equal(f->config->n_access, 1);
	assert_string_equal(f->config->access[0]->name, "access.json");
	msg_free(f);
	agent_free(&a);
}

static void test_enroll_refused(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 };
	_cleanup_free_ char *tok = make_token(fx, "{\"uses\": 1}");
	struct join_token jt;
	assert_int_equal(token_parse(tok, &jt), 0);

	/* a well-formed token the server never issued */
	struct join_token forged;
	char text[TOKEN_TEXT_MAX];
	assert_int_equal(token_generate(jt.pin, &forged), 0);
	token_format(&forged, text);
	assert_int_equal(enroll(fx, &a, text, NULL, "m"), R(BAD_TOKEN));
	assert_int_equal(enroll(fx, &a, "imt1.nonsense", jt.pin, "m"), R(BAD_TOKEN));
	assert_int_equal(ctr(fx, CTR_ENROLL_BAD_TOKEN), 2);

	/* an unusable CSR does not use the token up */
	assert_int_equal(enroll_csr(fx, &a, tok, NULL, "m", true), R(BAD_CSR));
	assert_int_equal(ctr(fx, CTR_ENROLL_BAD_CSR), 1);

	/* used up */
	assert_int_equal(enroll(fx, &a, tok, NULL, "m"), 0);
	assert_int_equal(enroll(fx, &a, tok, NULL, "m2"), R(TOKEN_USED_UP));
	assert_int_equal(ctr(fx, CTR_ENROLL_TOKEN_USED_UP), 1);

	/* expired */
	_cleanup_free_ char *short_tok = make_token(fx, "{\"ttl\": 1}");
	sleep(2);
	assert_int_equal(enroll(fx, &a, short_tok, NULL, "m3"), R(TOKEN_EXPIRED));
	assert_int_equal(ctr(fx, CTR_ENROLL_TOKEN_EXPIRED), 1);

	/* the wrong CA pin: the agent refuses the server before sending anything */
	char wrong_pin[PKI_PIN_LEN + 1];
	memset(wrong_pin, 'A', PKI_PIN_LEN);
	wrong_pin[PKI_PIN_LEN] = '\0';
	uint64_t before = ctr(fx, CTR_TLS_HANDSHAKE_FAILED);
	assert_int_equal(enroll(fx, &a, tok, wrong_pin, "m4"), -2);
	wait_counter(fx, CTR_TLS_HANDSHAKE_FAILED, before + 1);
	assert_int_equal(ctr(fx, CTR_ENROLL_OK), 1);
	agent_free(&a);
}

/* ---------------------------------------------------------------- connections */

static void test_ingest_and_resend(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 };
	enrolled_agent(fx, &a, "machine-ingest");
	assert_int_equal(ctr(fx, CTR_CONNECT_OK), 1);
	assert_int_equal(send_batch(&a, 1, 100), 100);
	assert_int_equal(send_batch(&a, 50, 150), 150);

	char path[128];
	snprintf(path, sizeof(path), "/v1/hosts/%s", a.host_id);
	struct http_answer ans = api(fx, "GET", path, NULL);
	assert_int_equal(ans.code, 200);
	json_t *events = json_array_get(json_object_get(ans.body, "streams"), 0);
	assert_string_equal(json_string_value(json_object_get(events, "stream")), "events");
	assert_int_equal(json_integer_value(json_object_get(events, "committed_seq")), 150);
	assert_int_equal(json_integer_value(json_object_get(events, "records")), 150);
	json_t *host = json_object_get(ans.body, "host");
	assert_true(json_is_true(json_object_get(host, "connected")));
	assert_string_equal(json_string_value(json_object_get(host, "hostname")), "test-host");
	assert_true(json_is_array(json_object_get(ans.body, "findings")));
	assert_true(json_is_object(json_object_get(ans.body, "inventory")));
	http_answer_free(&ans);

	/* a reconnection replaces the old connection and starts where the store stands */
	SSL *old = a.ssl;
	a.ssl = NULL;
	assert_int_equal(agent_connect(fx, &a, NULL), 0);
	assert_null(recv_frame(old));
	tls_close(old);
	assert_int_equal(send_batch(&a, 151, 151), 151);
	agent_free(&a);
}

static void test_identity_checks(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 }, b = { 0 };
	enrolled_agent(fx, &a, "machine-a");
	enrolled_agent(fx, &b, "machine-b");
	/* a certificate claiming another host's id */
	assert_int_equal(agent_connect(fx, &a, b.host_id), R(IDENTITY_MISMATCH));
	assert_int_equal(ctr(fx, CTR_CONNECT_IDENTITY_MISMATCH), 1);

	/* a certificate from another CA */
	char other_dir[96];
	snprintf(other_dir, sizeof(other_dir), "%s/other-ca", fx->dir);
	struct pki_ca *other = NULL;
	assert_int_equal(pki_ca_open(other_dir, NULL, &other), 0);
	struct agent f = { 0 };
	assert_int_equal(pki_key_generate(&f.key), 0);
	unsigned char *csr = NULL;
	size_t len = 0;
	assert_int_equal(pki_csr_create(f.key, "x", &csr, &len), 0);
	assert_int_equal(pki_ca_issue_host(other, csr, len, a.host_id, 3600, &f.cert), 0);
	OPENSSL_free(csr);
	pki_ca_free(other);
	uint64_t before = ctr(fx, CTR_TLS_HANDSHAKE_FAILED);
	int r = agent_connect(fx, &f, a.host_id);
	assert_true(r == -2 || r == R(IDENTITY_MISMATCH));
	wait_counter(fx, CTR_TLS_HANDSHAKE_FAILED, before + 1);
	assert_int_equal(ctr(fx, CTR_CONNECT_OK), 2);
	agent_free(&f);
	agent_free(&a);
	agent_free(&b);
}

static void test_unknown_host(void **state)
{
	struct fx *fx = *state;
	/* a certificate from the fleet CA for a host id the store does not know */
	char data[96];
	snprintf(data, sizeof(data), "%s/data", fx->dir);
	struct pki_ca *ca = NULL;
	assert_int_equal(pki_ca_open(data, NULL, &ca), 0);
	struct agent a = { 0 };
	assert_int_equal(pki_key_generate(&a.key), 0);
	unsigned char *csr = NULL;
	size_t len = 0;
	assert_int_equal(pki_csr_create(a.key, "x", &csr, &len), 0);
	const char *id = "0123456789abcdef0123456789abcdef";
	assert_int_equal(pki_ca_issue_host(ca, csr, len, id, 3600, &a.cert), 0);
	OPENSSL_free(csr);
	pki_ca_free(ca);
	memcpy(a.host_id, id, strlen(id) + 1);
	assert_int_equal(agent_connect(fx, &a, NULL), R(IDENTITY_MISMATCH));
	assert_int_equal(ctr(fx, CTR_CONNECT_UNKNOWN_HOST), 1);
	agent_free(&a);
}

static void test_max_agents(void **state)
{
	struct fx *fx = *state; /* --max-agents 2 */
	struct agent a = { 0 };
	enrolled_agent(fx, &a, "machine-max");
	/* the agent's connection and a pending one fill the server (the enrollment connection
	 * may still be closing: then the pending one is refused already) */
	char byte;
	int pending = tcp_connect(server_agent_port(fx->srv));
	int fd = tcp_connect(server_agent_port(fx->srv));
	assert_int_equal(read(fd, &byte, 1), 0);
	close(fd);
	close(pending);
	assert_true(ctr(fx, CTR_CONNECTIONS_REFUSED) >= 1);
	assert_int_equal(send_batch(&a, 1, 3), 3);
	agent_free(&a);
}

static void test_revocation(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 };
	enrolled_agent(fx, &a, "machine-revoked");
	char path[128];
	snprintf(path, sizeof(path), "/v1/hosts/%s", a.host_id);
	struct http_answer ans = api(fx, "DELETE", path, NULL);
	assert_int_equal(ans.code, 200);
	assert_string_equal(json_string_value(json_object_get(ans.body, "revoked")), a.host_id);
	assert_true(json_is_true(json_object_get(ans.body, "disconnected")));
	http_answer_free(&ans);
	/* the live connection is told and dropped at once (a 1 s receive limit) */
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(SSL_get_fd(a.ssl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(refusal_of(recv_frame(a.ssl)), R(HOST_REVOKED));
	assert_null(recv_frame(a.ssl));
	/* it cannot come back */
	assert_int_equal(agent_connect(fx, &a, NULL), R(HOST_REVOKED));
	assert_int_equal(ctr(fx, CTR_CONNECT_REVOKED), 1);
	ans = api(fx, "DELETE", "/v1/hosts/00000000000000000000000000000000", NULL);
	assert_int_equal(ans.code, 404);
	assert_true(json_is_string(json_object_get(ans.body, "error")));
	http_answer_free(&ans);
	agent_free(&a);
}

static void send_raw(SSL *ssl, const void *p, size_t n)
{
	assert_int_equal(SSL_write(ssl, p, (int)n), (int)n);
}

static void test_hostile_peers(void **state)
{
	struct fx *fx = *state;
	struct agent good = { 0 };
	enrolled_agent(fx, &good, "machine-good");
	uint16_t port = server_agent_port(fx->srv);
	char byte;

	/* bytes that are not TLS */
	uint64_t before = ctr(fx, CTR_TLS_HANDSHAKE_FAILED);
	int fd = tcp_connect(port);
	assert_int_equal(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
	assert_true(read(fd, &byte, 1) <= 0);
	close(fd);
	wait_counter(fx, CTR_TLS_HANDSHAKE_FAILED, before + 1);

	/* a TCP connection that never starts its handshake */
	fd = tcp_connect(port);
	assert_int_equal(read(fd, &byte, 1), 0);
	close(fd);
	assert_int_equal(ctr(fx, CTR_HANDSHAKE_TIMEOUT), 1);

	/* TLS, then an oversized length header */
	SSL_CTX *ctx = tls_enroll_ctx(fx->pin);
	SSL *ssl = tls_connect(ctx, port);
	assert_non_null(ssl);
	send_raw(ssl, "\x00\xff\xff\xff", 4);
	assert_int_equal(refusal_of(recv_frame(ssl)), R(PROTOCOL));
	tls_close(ssl);
	assert_int_equal(ctr(fx, CTR_FRAME_TOO_LARGE), 1);

	/* TLS, then garbage inside a frame */
	ssl = tls_connect(ctx, port);
	assert_non_null(ssl);
	send_raw(ssl, "\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff", 12);
	assert_int_equal(refusal_of(recv_frame(ssl)), R(PROTOCOL));
	tls_close(ssl);
	assert_int_equal(ctr(fx, CTR_FRAME_GARBAGE) + ctr(fx, CTR_PROTOCOL_VIOLATION), 1);

	/* TLS without a certificate, then a batch: not allowed before enrollment */
	ssl = tls_connect(ctx, port);
	assert_non_null(ssl);
	SSL *saved = good.ssl;
	good.ssl = ssl;
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	send_frame(ssl, &f);
	assert_true(refusal_of(recv_frame(ssl)) == R(PROTOCOL));
	good.ssl = saved;
	tls_close(ssl);
	SSL_CTX_free(ctx);

	/* the authenticated agent never noticed */
	assert_int_equal(send_batch(&good, 1, 10), 10);
	agent_free(&good);
}

static void test_flow_control(void **state)
{
	struct fx *fx = *state; /* the store queue's limit is 1 byte: every batch pauses */
	struct agent a = { 0 };
	enrolled_agent(fx, &a, "machine-flow");
	for (uint64_t i = 0; i < 20; i++)
		assert_int_equal(send_batch(&a, i * 50 + 1, i * 50 + 50), i * 50 + 50);
	assert_true(ctr(fx, CTR_BATCHES_THROTTLED) >= 1);
	agent_free(&a);
}

static Frame *exchange(SSL *ssl, Frame *f)
{
	send_frame(ssl, f);
	return recv_frame(ssl);
}

static void test_heartbeat_and_renewal(void **state)
{
	struct fx *fx = *state;
	struct agent a = { 0 };
	enrolled_agent(fx, &a, "machine-renew");

	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	send_frame(a.ssl, &f); /* no answer; the connection goes on */
	assert_int_equal(send_batch(&a, 1, 5), 5);
	Frame *r;

	EVP_PKEY *key = NULL;
	unsigned char *csr = NULL;
	size_t len = 0;
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(key, "renew", &csr, &len), 0);
	Immune__V1__RenewRequest rr = IMMUNE__V1__RENEW_REQUEST__INIT;
	rr.csr_der = (ProtobufCBinaryData){ .len = len, .data = csr };
	f = (Frame)IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_REQUEST;
	f.renew_request = &rr;
	r = exchange(a.ssl, &f);
	OPENSSL_free(csr);
	assert_non_null(r);
	assert_int_equal(r->body_case, IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE);
	struct agent renewed = { .key = key };
	assert_int_equal(pki_cert_from_der(r->renew_response->cert_der.data,
					   r->renew_response->cert_der.len, &renewed.cert),
			 0);
	msg_free(r);
	char cn[65];
	assert_int_equal(pki_cert_cn(renewed.cert, cn, sizeof(cn)), 0);
	assert_string_equal(cn, a.host_id);
	memcpy(renewed.host_id, a.host_id, sizeof(a.host_id));
	assert_int_equal(ctr(fx, CTR_RENEW_OK), 1);

	/* the new certificate works; the old one is no longer accepted */
	assert_int_equal(agent_connect(fx, &renewed, NULL), 0);
	tls_close(a.ssl);
	a.ssl = NULL;
	assert_int_equal(agent_connect(fx, &a, NULL), R(IDENTITY_MISMATCH));
	assert_int_equal(send_batch(&renewed, 6, 6), 6);
	agent_free(&renewed);
	agent_free(&a);
}

static void test_idle_timeout(void **state)
{
	struct fx *fx = *state; /* heartbeat 1 s: silent for 3 s means gone */
	struct agent a = { 0 };
	enrolled_agent(fx, &a, "machine-idle");
	assert_null(recv_frame(a.ssl)); /* waits up to 5 s */
	assert_int_equal(ctr(fx, CTR_IDLE_TIMEOUT), 1);
	agent_free(&a);
}

/* ---------------------------------------------------------------- API */

static void test_api_auth(void **state)
{
	struct fx *fx = *state;
	struct http_answer a = http(fx, "GET", "/v1/hosts", NULL, NULL);
	assert_int_equal(a.code, 401);
	assert_true(json_is_string(json_object_get(a.body, "error")));
	http_answer_free(&a);
	a = http(fx, "GET", "/v1/hosts", NULL, "0123");
	assert_int_equal(a.code, 401);
	http_answer_free(&a);
	a = api(fx, "GET", "/v1/nothing", NULL);
	assert_int_equal(a.code, 404);
	http_answer_free(&a);
	a = api(fx, "PUT", "/v1/hosts", NULL);
	assert_int_equal(a.code, 405);
	assert_true(json_is_string(json_object_get(a.body, "error")));
	http_answer_free(&a);
}

static void test_api_shapes(void **state)
{
	struct fx *fx = *state;
	struct http_answer a = api(fx, "POST", "/v1/tokens", "{\"ttl\": 60, \"bogus\": 1}");
	assert_int_equal(a.code, 400);
	http_answer_free(&a);
	a = api(fx, "POST", "/v1/tokens", "{\"ttl\": \"1x\"}");
	assert_int_equal(a.code, 400);
	http_answer_free(&a);
	a = api(fx, "POST", "/v1/tokens", "[1]");
	assert_int_equal(a.code, 400);
	http_answer_free(&a);
	a = api(fx, "POST", "/v1/tokens",
		"{\"ttl\": \"2h\", \"uses\": 0, \"labels\": {\"k\": \"v\"}}");
	assert_int_equal(a.code, 201);
	assert_int_equal(strncmp(json_string_value(json_object_get(a.body, "token")), "imt1.", 5),
			 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(a.body, "labels"), "k")), "v");
	assert_true(json_is_string(json_object_get(a.body, "expires")));
	http_answer_free(&a);

	a = api(fx, "GET", "/v1/tokens", NULL);
	assert_int_equal(a.code, 200);
	json_t *toks = json_object_get(a.body, "tokens");
	assert_int_equal(json_array_size(toks), 1);
	json_t *t = json_array_get(toks, 0);
	assert_null(json_object_get(t, "token"));
	assert_true(json_is_string(json_object_get(t, "id")));
	assert_true(json_is_null(json_object_get(t, "uses_left")));
	http_answer_free(&a);

	struct agent ag = { 0 };
	enrolled_agent(fx, &ag, "machine-shapes");
	a = api(fx, "GET", "/v1/hosts", NULL);
	assert_int_equal(a.code, 200);
	json_t *h = json_array_get(json_object_get(a.body, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "id")), ag.host_id);
	assert_true(json_is_true(json_object_get(h, "connected")));
	assert_true(json_is_false(json_object_get(h, "revoked")));
	assert_true(json_is_null(json_object_get(h, "score")));
	assert_true(json_is_string(json_object_get(h, "enrolled_at")));
	assert_true(json_is_object(json_object_get(h, "labels")));
	http_answer_free(&a);

	a = api(fx, "GET", "/v1/findings?status=all", NULL);
	assert_int_equal(a.code, 200);
	assert_true(json_is_array(json_object_get(a.body, "findings")));
	http_answer_free(&a);
	a = api(fx, "GET", "/v1/findings?status=bad", NULL);
	assert_int_equal(a.code, 400);
	http_answer_free(&a);
	a = api(fx, "GET", "/v1/findings?colour=red", NULL);
	assert_int_equal(a.code, 400);
	http_answer_free(&a);

	a = api(fx, "GET", "/v1/status", NULL);
	assert_int_equal(a.code, 200);
	assert_int_equal(json_integer_value(json_object_get(a.body, "agents_connected")), 1);
	assert_int_equal(json_integer_value(json_object_get(a.body, "hosts")), 1);
	json_t *c = json_object_get(a.body, "counters");
	assert_int_equal(json_integer_value(json_object_get(c, "enroll_ok")), 1);
	assert_true(json_is_integer(json_object_get(c, "records_stored")));
	assert_true(json_is_integer(json_object_get(c, "batches_throttled")));
	http_answer_free(&a);
	agent_free(&ag);
}

int main(void)
{
	static const struct tweak tiny_queue = { .ingest_limit_bytes = 1 };
	static const struct tweak fast_heartbeat = { .heartbeat_s = 1 };
	static const struct tweak two_conns = { .max_agents = 2 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_hostmap),
		cmocka_unit_test(test_catalog_digest),
		cmocka_unit_test(test_file_set_tree),
		cmocka_unit_test_setup_teardown(test_enroll_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_bundle_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_and_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_host, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_max_agents, setup, teardown,
							 (void *)&two_conns),
		cmocka_unit_test_setup_teardown(test_revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_peers, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_flow_control, setup, teardown,
							 (void *)&tiny_queue),
		cmocka_unit_test_setup_teardown(test_heartbeat_and_renewal, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_idle_timeout, setup, teardown,
							 (void *)&fast_heartbeat),
		cmocka_unit_test_setup_teardown(test_api_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_shapes, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
