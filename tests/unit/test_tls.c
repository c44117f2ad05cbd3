/* Unit tests for src/lib/tls: handshakes over a socketpair, driven in one thread. */
#include "unit.h"

#include "lib/tls.h"
#include "trust/pki.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

struct fleet {
	char *dir;
	struct pki_ca *ca;
	EVP_PKEY *host_key;
	X509 *host_cert;
};

static void fleet_open(struct fleet *f, const char *host_id)
{
	char tmpl[] = "/tmp/immune-tls-XXXXXX";
	unsigned char *csr;
	size_t len;

	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	assert_int_equal(pki_ca_open(f->dir, NULL, &f->ca), 0);
	assert_int_equal(pki_key_generate(&f->host_key), 0);
	assert_int_equal(pki_csr_create(f->host_key, host_id, &csr, &len), 0);
	assert_int_equal(pki_ca_issue_host(f->ca, csr, len, host_id, 3600, &f->host_cert), 0);
	free(csr);
}

static void fleet_close(struct fleet *f)
{
	const char *names[] = { "ca.key", "ca.crt", "server.key", "server.crt" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", f->dir, names[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f->dir);
	X509_free(f->host_cert);
	EVP_PKEY_free(f->host_key);
	pki_ca_free(f->ca);
}

struct pair {
	SSL *c, *s;
	int fds[2];
};

static void pair_open(struct pair *p, SSL_CTX *cctx, SSL_CTX *sctx)
{
	assert_non_null(cctx);
	assert_non_null(sctx);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fds), 0);
	p->c = SSL_new(cctx);
	p->s = SSL_new(sctx);
	SSL_set_fd(p->c, p->fds[0]);
	SSL_set_fd(p->s, p->fds[1]);
	SSL_set_connect_state(p->c);
	SSL_set_accept_state(p->s);
}

static void pair_close(struct pair *p)
{
	SSL_free(p->c);
	SSL_free(p->s);
	close(p->fds[0]);
	close(p->fds[1]);
	ERR_clear_error();
}

/* 1: done, 0: in progress, -1: failed. */
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

/* Drives both handshakes, then a client-to-server message (TLS 1.3 servers check the
 * client certificate after the client considers itself done). Returns true when the server
 * received the message. */
static bool handshake(struct pair *p, int *cstate, int *sstate)
{
	char msg[8];
	bool sent = false;

	*cstate = *sstate = 0;
	for (int i = 0; i < 200; i++) {
		step(p->c, cstate);
		step(p->s, sstate);
		if (*cstate < 0 || *sstate < 0)
			return false;
		if (*cstate == 1 && !sent) {
			if (SSL_write(p->c, "hello", 5) == 5)
				sent = true;
			else if (SSL_get_error(p->c, -1) != SSL_ERROR_WANT_READ)
				return false;
		}
		if (*sstate == 1 && sent) {
			int n = SSL_read(p->s, msg, sizeof(msg));
			if (n == 5 && memcmp(msg, "hello", 5) == 0)
				return true;
			if (n <= 0 && SSL_get_error(p->s, n) != SSL_ERROR_WANT_READ)
				return false;
		}
	}
	return false;
}

static SSL_CTX *server_ctx(struct fleet *f)
{
	return tls_server_ctx(pki_ca_cert(f->ca), pki_ca_server_cert(f->ca),
			      pki_ca_server_key(f->ca));
}

static void test_mutual(void **state)
{
	struct fleet f;
	struct pair p;
	int cs, ss;
	char cn[64];

	fleet_open(&f, "h-mutual");
	SSL_CTX *sctx = server_ctx(&f);
	SSL_CTX *cctx = tls_client_ctx(pki_ca_cert(f.ca), f.host_cert, f.host_key);
	pair_open(&p, cctx, sctx);
	assert_true(handshake(&p, &cs, &ss));
	assert_int_equal(SSL_version(p.s), TLS1_3_VERSION);
	X509 *peer = tls_peer_cert(p.s);
	assert_non_null(peer);
	assert_int_equal(pki_cert_cn(peer, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "h-mutual");
	assert_non_null(tls_peer_cert(p.c));
	assert_null(tls_enroll_pinned_ca(p.c));
	pair_close(&p);

	/* A client without a certificate is let in (enrollment), without a peer identity. */
	SSL_CTX *anon = tls_client_ctx(pki_ca_cert(f.ca), NULL, NULL);
	pair_open(&p, anon, sctx);
	assert_true(handshake(&p, &cs, &ss));
	assert_null(tls_peer_cert(p.s));
	pair_close(&p);

	SSL_CTX_free(anon);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	fleet_close(&f);
}

static void test_foreign(void **state)
{
	struct fleet f, g;
	struct pair p;
	int cs, ss;

	fleet_open(&f, "h-one");
	fleet_open(&g, "h-two");
	SSL_CTX *sctx = server_ctx(&f);

	/* A client certificate from another CA is refused by the server. */
	SSL_CTX *cctx = tls_client_ctx(pki_ca_cert(f.ca), g.host_cert, g.host_key);
	pair_open(&p, cctx, sctx);
	assert_false(handshake(&p, &cs, &ss));
	assert_int_equal(ss, -1);
	pair_close(&p);
	SSL_CTX_free(cctx);

	/* A server from another CA is refused by the client. */
	SSL_CTX *gsctx = server_ctx(&g);
	cctx = tls_client_ctx(pki_ca_cert(f.ca), f.host_cert, f.host_key);
	pair_open(&p, cctx, gsctx);
	assert_false(handshake(&p, &cs, &ss));
	assert_int_equal(cs, -1);
	pair_close(&p);

	/* A server presenting a host certificate (right CA, wrong role) is refused. */
	SSL_CTX *hsctx = tls_server_ctx(pki_ca_cert(f.ca), f.host_cert, f.host_key);
	pair_open(&p, cctx, hsctx);
	assert_false(handshake(&p, &cs, &ss));
	assert_int_equal(cs, -1);
	pair_close(&p);

	/* A TLS 1.2 client is refused. */
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION);
	SSL_CTX_set_verify(old, SSL_VERIFY_NONE, NULL);
	pair_open(&p, old, sctx);
	assert_false(handshake(&p, &cs, &ss));
	assert_int_equal(ss, -1);
	pair_close(&p);

	SSL_CTX_free(old);
	SSL_CTX_free(hsctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(gsctx);
	SSL_CTX_free(sctx);
	fleet_close(&g);
	fleet_close(&f);
}

static void test_enroll(void **state)
{
	struct fleet f, g;
	struct pair p;
	int cs, ss;

	fleet_open(&f, "h-enroll");
	fleet_open(&g, "h-other");
	SSL_CTX *sctx = server_ctx(&f);

	/* The right pin: the handshake succeeds and the CA is available. */
	SSL_CTX *ectx = tls_enroll_ctx(pki_ca_pin(f.ca));
	pair_open(&p, ectx, sctx);
	assert_null(tls_enroll_pinned_ca(p.c));
	assert_true(handshake(&p, &cs, &ss));
	assert_null(tls_peer_cert(p.s));
	X509 *ca = tls_enroll_pinned_ca(p.c);
	assert_non_null(ca);
	assert_int_equal(X509_cmp(ca, pki_ca_cert(f.ca)), 0);
	X509_free(ca);
	pair_close(&p);
	SSL_CTX_free(ectx);

	/* Another CA's pin: refused by the client. */
	ectx = tls_enroll_ctx(pki_ca_pin(g.ca));
	pair_open(&p, ectx, sctx);
	assert_false(handshake(&p, &cs, &ss));
	assert_int_equal(cs, -1);
	assert_null(tls_enroll_pinned_ca(p.c));
	pair_close(&p);
	SSL_CTX_free(ectx);

	/* The right pin, but the server certificate is not issued by that CA. */
	SSL_CTX *mixed = tls_server_ctx(pki_ca_cert(f.ca), pki_ca_server_cert(g.ca),
					pki_ca_server_key(g.ca));
	ectx = tls_enroll_ctx(pki_ca_pin(f.ca));
	pair_open(&p, ectx, mixed);
	assert_false(handshake(&p, &cs, &ss));
	assert_int_equal(cs, -1);
	pair_close(&p);
	SSL_CTX_free(ectx);
	SSL_CTX_free(mixed);

	/* Malformed pins make no context. */
	assert_null(tls_enroll_ctx(NULL));
	assert_null(tls_enroll_ctx("short"));
	assert_null(tls_enroll_ctx("+++++++++++++++++++++++++++++++++++++++++++"));

	SSL_CTX_free(sctx);
	fleet_close(&g);
	fleet_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_enroll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
