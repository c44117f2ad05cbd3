/* TLS 1.3 contexts for the agent-server channel: mutual TLS under the fleet CA, and pinned
 * enrollment connections. */
#include "lib/tls.h"

#include "trust/b64url.h"
#include "trust/pki.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>

#define SERVER_CN "immune-server"

/* ex_data slots: the pin an enroll context expects, and the CA a connection was pinned to. */
static int ctx_pin_idx = -1;
static int ssl_ca_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	free(ptr);
}

static void ca_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	X509_free(ptr);
}

static void idx_init(void)
{
	ctx_pin_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
	ssl_ca_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, ca_free);
}

static SSL_CTX *ctx_new(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

/* A store that trusts ca only. */
static int set_trust(SSL_CTX *ctx, X509 *ca)
{
	X509_STORE *store = X509_STORE_new();

	if (!store || X509_STORE_add_cert(store, ca) != 1) {
		X509_STORE_free(store);
		return -ENOMEM;
	}
	SSL_CTX_set_cert_store(ctx, store);
	SSL_CTX_set_verify_depth(ctx, 1);
	return 0;
}

static int set_identity(SSL_CTX *ctx, X509 *cert, EVP_PKEY *key)
{
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return -EINVAL;
	return 0;
}

SSL_CTX *tls_server_ctx(X509 *ca, X509 *cert, EVP_PKEY *key)
{
	static const unsigned char sid[] = "immune-server";
	SSL_CTX *ctx = ctx_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (set_identity(ctx, cert, key) < 0 || SSL_CTX_add1_chain_cert(ctx, ca) != 1 ||
	    set_trust(ctx, ca) < 0 || SSL_CTX_add_client_CA(ctx, ca) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Ask for a client certificate; enrollment connections come without one. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static bool is_server_cert(X509 *cert)
{
	char cn[sizeof(SERVER_CN) + 1];

	return pki_cert_cn(cert, cn, sizeof(cn)) == 0 && strcmp(cn, SERVER_CN) == 0;
}

/* Beyond the chain check (which enforces the serverAuth purpose), the leaf must be the
 * fleet's server certificate and not, say, a host certificate. */
static int client_verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok)
		return 0;
	if (X509_STORE_CTX_get_error_depth(x) == 0 &&
	    !is_server_cert(X509_STORE_CTX_get_current_cert(x))) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

SSL_CTX *tls_client_ctx(X509 *ca, X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method());

	if (!ctx)
		return NULL;
	if (set_trust(ctx, ca) < 0 || (cert && set_identity(ctx, cert, key) < 0)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, client_verify_cb);
	return ctx;
}

/* Verifies leaf and chain under ca alone, as a TLS server certificate. */
static bool verify_under(X509 *ca, X509 *leaf, STACK_OF(X509) * chain)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	bool ok = false;

	if (store && vctx && X509_STORE_add_cert(store, ca) == 1 &&
	    X509_STORE_CTX_init(vctx, store, leaf, chain) == 1 &&
	    X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER) == 1) {
		X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(vctx), 1);
		ok = X509_verify_cert(vctx) == 1;
	}
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return ok;
}

static int enroll_verify_cb(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_CTX *ctx = ssl ? SSL_get_SSL_CTX(ssl) : NULL;
	const char *want = ctx ? SSL_CTX_get_ex_data(ctx, ctx_pin_idx) : NULL;
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(x);
	X509 *leaf = X509_STORE_CTX_get0_cert(x), *ca;
	char pin[PKI_PIN_LEN + 1];
	int n = chain ? sk_X509_num(chain) : 0;

	/* The server sends its certificate then the CA: the last one must carry the pin. */
	if (!ssl || !want || !leaf || n < 2)
		goto fail;
	ca = sk_X509_value(chain, n - 1);
	if (!ca || ca == leaf || pki_cert_pin(ca, pin) < 0 ||
	    CRYPTO_memcmp(pin, want, PKI_PIN_LEN) != 0)
		goto fail;
	if (X509_check_ca(ca) == 0 || !verify_under(ca, leaf, chain) || !is_server_cert(leaf))
		goto fail;
	if (X509_up_ref(ca) != 1)
		goto fail;
	if (SSL_set_ex_data(ssl, ssl_ca_idx, ca) != 1) {
		X509_free(ca);
		goto fail;
	}
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
fail:
	ERR_clear_error();
	X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_UNTRUSTED);
	return 0;
}

SSL_CTX *tls_enroll_ctx(const char *pin)
{
	unsigned char raw[32];
	SSL_CTX *ctx;

	if (!pin || strnlen(pin, PKI_PIN_LEN + 1) != PKI_PIN_LEN ||
	    b64url_decode(pin, sizeof(raw), raw) < 0)
		return NULL;
	pthread_once(&idx_once, idx_init);
	if (ctx_pin_idx < 0 || ssl_ca_idx < 0)
		return NULL;
	ctx = ctx_new(TLS_client_method());
	if (!ctx)
		return NULL;
	char *copy = xstrdup(pin);
	if (SSL_CTX_set_ex_data(ctx, ctx_pin_idx, copy) != 1) {
		free(copy);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, enroll_verify_cb, NULL);
	return ctx;
}

X509 *tls_enroll_pinned_ca(SSL *ssl)
{
	X509 *ca;

	if (ssl_ca_idx < 0 || !SSL_is_init_finished(ssl))
		return NULL;
	ca = SSL_get_ex_data(ssl, ssl_ca_idx);
	if (!ca || X509_up_ref(ca) != 1)
		return NULL;
	return ca;
}

X509 *tls_peer_cert(SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return cert;
}
