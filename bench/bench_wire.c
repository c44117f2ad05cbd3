/* Prints figures for the wire layer: frame encode/decode throughput, host certificate issue
 * rate, TLS 1.3 mutual handshakes per second and heap held per idle server connection.
 * Usage: bench_wire [connections] (default 1000) */
#include "lib/common.h"

#include "lib/tls.h"
#include "proto/msg.h"
#include "trust/pki.h"

#include <malloc.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_frames(void)
{
	enum { RECORDS = 1000, PAYLOAD = 200 };
	Immune__V1__Record *rs = xcalloc(RECORDS, sizeof(*rs));
	Immune__V1__Record **rps = xcalloc(RECORDS, sizeof(*rps));
	uint8_t payload[PAYLOAD];
	Immune__V1__RecordBatch b = IMMUNE__V1__RECORD_BATCH__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	struct buf out;
	unsigned iters = 0;
	double t0, t;

	memset(payload, 'x', sizeof(payload));
	for (size_t i = 0; i < RECORDS; i++) {
		immune__v1__record__init(&rs[i]);
		rs[i].seq = i + 1;
		rs[i].kind = IMMUNE__V1__RECORD_KIND__RECORD_EVENT;
		rs[i].time_ns = 1700000000000000000 + (int64_t)i;
		rs[i].payload.data = payload;
		rs[i].payload.len = PAYLOAD;
		rps[i] = &rs[i];
	}
	b.records = rps;
	b.n_records = RECORDS;
	f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
	f.batch = &b;

	buf_init(&out, FRAME_MAX + FRAME_HEADER_SIZE);
	t0 = now_s();
	do {
		buf_reset(&out);
		if (msg_encode(&f, &out) < 0)
			exit(1);
		iters++;
	} while ((t = now_s() - t0) < 1.0);
	printf("encode: %.0f records/s (%u-record batches, %u-byte payloads, frame %zu bytes)\n",
	       iters * (double)RECORDS / t, RECORDS, PAYLOAD, buf_len(&out));

	iters = 0;
	t0 = now_s();
	do {
		Frame *g;
		if (msg_decode(buf_str(&out) + FRAME_HEADER_SIZE, buf_len(&out) - FRAME_HEADER_SIZE,
			       true, &g) < 0)
			exit(1);
		msg_free(g);
		iters++;
	} while ((t = now_s() - t0) < 1.0);
	printf("decode+check: %.0f records/s, %.0f MB/s\n", iters * (double)RECORDS / t,
	       iters * (double)buf_len(&out) / t / 1e6);
	buf_free(&out);
	free(rps);
	free(rs);
}

static int step(SSL *ssl, int *state)
{
	if (*state != 0)
		return *state;
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return *state = 1;
	int e = SSL_get_error(ssl, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return *state = -1;
	return 0;
}

/* Full handshake plus one client->server message, so the server side is complete. */
static bool handshake(SSL *c, SSL *s)
{
	int cs = 0, ss = 0;
	bool sent = false;
	char msg[4];

	for (int i = 0; i < 200; i++) {
		step(c, &cs);
		step(s, &ss);
		if (cs < 0 || ss < 0)
			return false;
		if (cs == 1 && !sent)
			sent = SSL_write(c, "ping", 4) == 4;
		if (ss == 1 && sent && SSL_read(s, msg, sizeof(msg)) == 4)
			return true;
	}
	return false;
}

static void bench_tls(struct pki_ca *ca, unsigned conns)
{
	EVP_PKEY *key;
	unsigned char *csr;
	size_t len;
	X509 *cert;
	double t0, t;
	unsigned issued = 0;

	if (pki_key_generate(&key) < 0 || pki_csr_create(key, "h-bench", &csr, &len) < 0)
		exit(1);
	t0 = now_s();
	do {
		if (pki_ca_issue_host(ca, csr, len, "h-bench", 86400, &cert) < 0)
			exit(1);
		X509_free(cert);
		issued++;
	} while ((t = now_s() - t0) < 1.0);
	printf("host certificates issued from a CSR: %.0f/s (one thread)\n", issued / t);
	if (pki_ca_issue_host(ca, csr, len, "h-bench", 86400, &cert) < 0)
		exit(1);
	free(csr);

	SSL_CTX *sctx =
		tls_server_ctx(pki_ca_cert(ca), pki_ca_server_cert(ca), pki_ca_server_key(ca));
	SSL_CTX *cctx = tls_client_ctx(pki_ca_cert(ca), cert, key);
	SSL **srv = xcalloc(conns, sizeof(*srv));
	int *fds = xcalloc(conns * 2, sizeof(*fds));
	if (!sctx || !cctx)
		exit(1);

	size_t before = mallinfo2().uordblks;
	t0 = now_s();
	for (unsigned i = 0; i < conns; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, &fds[2 * i]) < 0) {
			perror("socketpair");
			exit(1);
		}
		SSL *c = SSL_new(cctx);
		srv[i] = SSL_new(sctx);
		SSL_set_fd(c, fds[2 * i]);
		SSL_set_fd(srv[i], fds[2 * i + 1]);
		SSL_set_connect_state(c);
		SSL_set_accept_state(srv[i]);
		if (!handshake(c, srv[i]) || !tls_peer_cert(srv[i]))
			exit(1);
		SSL_free(c);
		close(fds[2 * i]);
	}
	t = now_s() - t0;
	size_t after = mallinfo2().uordblks;
	printf("mutual TLS 1.3 handshakes: %.0f/s (client and server in one thread)\n", conns / t);
	printf("heap per idle server connection: %.1f KiB (%u connections, "
	       "SSL_MODE_RELEASE_BUFFERS)\n",
	       (double)(after - before) / conns / 1024, conns);
	for (unsigned i = 0; i < conns; i++) {
		SSL_free(srv[i]);
		close(fds[2 * i + 1]);
	}
	free(srv);
	free(fds);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(cert);
	EVP_PKEY_free(key);
}

int main(int argc, char **argv)
{
	unsigned conns = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000;
	char tmpl[] = "/tmp/immune-bench-wire-XXXXXX";
	struct pki_ca *ca;

	if (conns == 0 || !mkdtemp(tmpl) || pki_ca_open(tmpl, NULL, &ca) < 0)
		return 1;
	bench_frames();
	bench_tls(ca, conns);
	pki_ca_free(ca);
	const char *names[] = { "ca.key", "ca.crt", "server.key", "server.crt" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", tmpl, names[i]);
		unlink(p);
	}
	rmdir(tmpl);
	return 0;
}
