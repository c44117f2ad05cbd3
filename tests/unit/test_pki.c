/* Unit tests for src/trust: the fleet CA, host certificates from CSRs, key files, tokens. */
#include "unit.h"

#include "trust/pki.h"
#include "trust/token.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/immune-pki-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void remove_dir(const char *dir)
{
	const char *names[] = { "ca.key", "ca.crt", "server.key", "server.crt", "ca" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		rmdir(p);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* Verifies cert under ca with a fresh store; returns X509_verify_cert's result. */
static int verify_under(X509 *ca, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_add_cert(store, ca);
	X509_STORE_CTX_init(ctx, store, cert, NULL);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static mode_t file_mode(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static void test_ca_open_reopen(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	const char *names[] = { "fleet.example.com", "10.1.2.3", NULL };
	struct pki_ca *ca, *again;
	char pin[PKI_PIN_LEN + 1], cn[64];
	_cleanup_free_ char *sub = xasprintf("%s/ca", dir);

	/* A missing directory is created. */
	assert_int_equal(pki_ca_open(sub, names, &ca), 0);
	assert_int_equal(strlen(pki_ca_pin(ca)), PKI_PIN_LEN);
	assert_int_equal(pki_cert_pin(pki_ca_cert(ca), pin), 0);
	assert_string_equal(pin, pki_ca_pin(ca));
	assert_int_equal(pki_cert_cn(pki_ca_cert(ca), cn, sizeof(cn)), 0);
	assert_string_equal(cn, "Immune fleet CA");
	assert_int_equal(pki_cert_cn(pki_ca_server_cert(ca), cn, sizeof(cn)), 0);
	assert_string_equal(cn, "immune-server");
	assert_int_equal(pki_cert_cn(pki_ca_server_cert(ca), cn, 5), -ENAMETOOLONG);
	assert_int_equal(verify_under(pki_ca_cert(ca), pki_ca_server_cert(ca)), 1);
	assert_int_equal(X509_check_host(pki_ca_server_cert(ca), "fleet.example.com", 0, 0, NULL),
			 1);
	assert_int_equal(X509_check_host(pki_ca_server_cert(ca), "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(pki_ca_server_cert(ca), "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_ip_asc(pki_ca_server_cert(ca), "::1", 0), 1);
	assert_int_equal(X509_check_ca(pki_ca_cert(ca)), 1);
	assert_true(X509_get_extended_key_usage(pki_ca_server_cert(ca)) & XKU_SSL_SERVER);
	assert_int_equal(file_mode(sub, "ca.key"), 0600);
	assert_int_equal(file_mode(sub, "server.key"), 0600);
	assert_int_equal(EVP_PKEY_get_id(pki_ca_server_key(ca)), EVP_PKEY_ED25519);

	/* Reopening loads the same identities. */
	assert_int_equal(pki_ca_open(sub, NULL, &again), 0);
	assert_string_equal(pki_ca_pin(again), pki_ca_pin(ca));
	assert_int_equal(X509_cmp(pki_ca_cert(again), pki_ca_cert(ca)), 0);
	assert_int_equal(X509_cmp(pki_ca_server_cert(again), pki_ca_server_cert(ca)), 0);
	pki_ca_free(again);
	/* A name added later gets a new server certificate for the same key. */
	const char *more[] = { "fleet.example.com", "10.1.2.3", "new.example.com", NULL };
	assert_int_equal(pki_ca_open(sub, more, &again), 0);
	assert_int_not_equal(X509_cmp(pki_ca_server_cert(again), pki_ca_server_cert(ca)), 0);
	assert_int_equal(X509_check_host(pki_ca_server_cert(again), "new.example.com", 0, 0, NULL),
			 1);
	assert_true(EVP_PKEY_eq(pki_ca_server_key(again), pki_ca_server_key(ca)) == 1);
	assert_string_equal(pki_ca_pin(again), pki_ca_pin(ca));
	pki_ca_free(again);
	/* Bad names are refused. */
	const char *bad[] = { "a,b", NULL };
	assert_int_equal(pki_ca_open(sub, bad, &again), -EINVAL);

	/* A server key that does not match its certificate is refused. */
	EVP_PKEY *other;
	_cleanup_free_ char *sk = xasprintf("%s/server.key", sub);
	assert_int_equal(pki_key_generate(&other), 0);
	assert_int_equal(pki_key_save(sk, other), 0);
	assert_int_equal(file_mode(sub, "server.key"), 0600);
	assert_int_equal(pki_ca_open(sub, NULL, &again), -EKEYREJECTED);
	assert_int_equal(pki_key_save(sk, pki_ca_server_key(ca)), 0);
	assert_int_equal(pki_ca_open(sub, NULL, &again), 0);
	pki_ca_free(again);

	/* A server certificate from another CA is refused. */
	_cleanup_free_ char *dir2 = make_tmpdir();
	struct pki_ca *ca2;
	_cleanup_free_ char *sc = xasprintf("%s/server.crt", sub);
	_cleanup_free_ char *sk2 = xasprintf("%s/server.key", dir2);
	_cleanup_free_ char *sc2 = xasprintf("%s/server.crt", dir2);
	assert_int_equal(pki_ca_open(dir2, NULL, &ca2), 0);
	assert_string_not_equal(pki_ca_pin(ca2), pki_ca_pin(ca));
	assert_int_equal(pki_cert_save(sc, pki_ca_server_cert(ca2)), 0);
	assert_int_equal(pki_key_save(sk, pki_ca_server_key(ca2)), 0);
	assert_int_equal(pki_ca_open(sub, NULL, &again), -EKEYREJECTED);
	/* A missing server identity is issued again. */
	unlink(sc);
	unlink(sk);
	assert_int_equal(pki_ca_open(sub, NULL, &again), 0);
	assert_int_equal(verify_under(pki_ca_cert(ca), pki_ca_server_cert(again)), 1);
	pki_ca_free(again);

	/* Garbage files are refused. */
	assert_int_equal(pki_cert_save(sc, pki_ca_server_cert(ca)), 0);
	FILE *f = fopen(sk, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(pki_ca_open(sub, NULL, &again), -EBADMSG);

	EVP_PKEY_free(other);
	pki_ca_free(ca2);
	pki_ca_free(ca);
	remove_dir(sub);
	remove_dir(dir);
	remove_dir(dir2);
	(void)sc2;
	(void)sk2;
}

static void test_issue_host(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	struct pki_ca *ca;
	EVP_PKEY *key;
	unsigned char *csr, *der;
	size_t csr_len, der_len;
	X509 *cert, *back;
	char cn[PKI_HOST_ID_MAX + 1];
	int64_t nb, na;

	assert_int_equal(pki_ca_open(dir, NULL, &ca), 0);
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(key, "ignored-subject", &csr, &csr_len), 0);
	assert_int_equal(pki_ca_issue_host(ca, csr, csr_len, "h-0123abcd", 86400, &cert), 0);
	assert_int_equal(verify_under(pki_ca_cert(ca), cert), 1);
	assert_int_equal(pki_cert_cn(cert, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "h-0123abcd");
	assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_true(EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1);
	_cleanup_free_ char *serial = pki_cert_serial_hex(cert);
	assert_non_null(serial);
	assert_int_equal(strlen(serial), 32);
	assert_int_equal(strspn(serial, "0123456789abcdef"), 32);
	assert_int_equal(pki_cert_not_before(cert, &nb), 0);
	assert_int_equal(pki_cert_not_after(cert, &na), 0);
	assert_int_equal(na - nb, 86400 + 60);
	assert_true(nb < (int64_t)time(NULL));

	/* DER round trip, and trailing bytes refused. */
	assert_int_equal(pki_cert_to_der(cert, &der, &der_len), 0);
	assert_int_equal(pki_cert_from_der(der, der_len, &back), 0);
	assert_int_equal(X509_cmp(back, cert), 0);
	X509_free(back);
	unsigned char *longer = xmalloc(der_len + 1);
	memcpy(longer, der, der_len);
	longer[der_len] = 0;
	assert_int_equal(pki_cert_from_der(longer, der_len + 1, &back), -EBADMSG);
	assert_int_equal(pki_cert_from_der(der, der_len - 1, &back), -EBADMSG);
	free(longer);
	free(der);

	/* Bad host ids and lifetimes. */
	assert_int_equal(pki_ca_issue_host(ca, csr, csr_len, "", 60, &back), -EINVAL);
	assert_int_equal(pki_ca_issue_host(ca, csr, csr_len, "a/b", 60, &back), -EINVAL);
	assert_int_equal(pki_ca_issue_host(ca, csr, csr_len, "h", 0, &back), -EINVAL);

	/* Garbage, truncated, trailing bytes, bad signature. */
	const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	assert_int_equal(pki_ca_issue_host(ca, junk, sizeof(junk), "h", 60, &back), -EBADMSG);
	assert_int_equal(pki_ca_issue_host(ca, junk, 0, "h", 60, &back), -EBADMSG);
	assert_int_equal(pki_ca_issue_host(ca, csr, csr_len - 1, "h", 60, &back), -EBADMSG);
	unsigned char *bad = xmalloc(csr_len + 1);
	memcpy(bad, csr, csr_len);
	bad[csr_len] = 0;
	assert_int_equal(pki_ca_issue_host(ca, bad, csr_len + 1, "h", 60, &back), -EBADMSG);
	bad[csr_len - 1] ^= 0x01; /* last byte of the signature */
	assert_int_equal(pki_ca_issue_host(ca, bad, csr_len, "h", 60, &back), -EBADMSG);
	free(bad);

	/* A CSR with an EC P-256 key is refused. */
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_REQ *req = X509_REQ_new();
	unsigned char *ecder = NULL;
	assert_non_null(ec);
	X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
				   (const unsigned char *)"h", -1, -1, 0);
	X509_REQ_set_pubkey(req, ec);
	assert_true(X509_REQ_sign(req, ec, EVP_sha256()) > 0);
	int ecn = i2d_X509_REQ(req, &ecder);
	assert_true(ecn > 0);
	assert_int_equal(pki_ca_issue_host(ca, ecder, (size_t)ecn, "h", 60, &back), -EBADMSG);
	assert_int_equal(ERR_peek_error(), 0);
	OPENSSL_free(ecder);
	X509_REQ_free(req);
	EVP_PKEY_free(ec);

	X509_free(cert);
	free(csr);
	EVP_PKEY_free(key);
	pki_ca_free(ca);
	remove_dir(dir);
}

static void test_token(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	struct pki_ca *ca;
	struct join_token t, u, untouched;
	char text[TOKEN_TEXT_MAX], bad[TOKEN_TEXT_MAX + 8];
	unsigned char h1[32], h2[32];

	assert_int_equal(pki_ca_open(dir, NULL, &ca), 0);
	assert_int_equal(token_generate(pki_ca_pin(ca), &t), 0);
	assert_int_equal(strlen(t.id), TOKEN_ID_LEN);
	assert_string_equal(t.pin, pki_ca_pin(ca));
	token_format(&t, text);
	assert_int_equal(strlen(text), 5 + 16 + 1 + 43 + 1 + 43);
	assert_true(strncmp(text, "imt1.", 5) == 0);
	assert_int_equal(token_parse(text, &u), 0);
	assert_string_equal(u.id, t.id);
	assert_memory_equal(u.secret, t.secret, TOKEN_SECRET_LEN);
	assert_string_equal(u.pin, t.pin);
	token_secret_hash(&t, h1);
	token_secret_hash(&u, h2);
	assert_memory_equal(h1, h2, 32);

	/* Two tokens differ. */
	assert_int_equal(token_generate(pki_ca_pin(ca), &u), 0);
	assert_string_not_equal(u.id, t.id);
	assert_memory_not_equal(u.secret, t.secret, TOKEN_SECRET_LEN);
	assert_int_equal(token_generate("short", &u), -EINVAL);
	assert_int_equal(token_generate(NULL, &u), -EINVAL);

	/* Malformed texts: each refused, the output untouched. */
	struct {
		size_t pos; /* byte to replace, or SIZE_MAX for a whole-string case */
		char c;
	} edits[] = {
		{ 0, 'J' },   /* prefix */
		{ 3, '2' },   /* version */
		{ 4, '-' },   /* prefix separator */
		{ 5, 'A' },   /* upper-case hex in id */
		{ 6, 'g' },   /* not hex */
		{ 21, ':' },  /* separator after id */
		{ 22, '+' },  /* base64 (not url) alphabet in secret */
		{ 30, '=' },  /* padding */
		{ 66, '.' },  /* separator moved */
		{ 67, '/' },  /* pin alphabet */
		{ 108, ' ' }, /* last pin char */
	};
	memset(&untouched, 0x5a, sizeof(untouched));
	for (size_t i = 0; i < ARRAY_SIZE(edits); i++) {
		memcpy(bad, text, strlen(text) + 1);
		bad[edits[i].pos] = edits[i].c;
		u = untouched;
		assert_int_equal(token_parse(bad, &u), -EINVAL);
		assert_memory_equal(&u, &untouched, sizeof(u));
	}
	/* Non-canonical last characters (unused bits set). */
	memcpy(bad, text, strlen(text) + 1);
	bad[64] = 'B'; /* value 1: sets the unused low bits of the last sextet */
	assert_int_equal(token_parse(bad, &u), -EINVAL);
	memcpy(bad, text, strlen(text) + 1);
	bad[108] = 'B';
	assert_int_equal(token_parse(bad, &u), -EINVAL);
	/* Truncated, extended, empty, NULL. */
	memcpy(bad, text, strlen(text) + 1);
	bad[strlen(text) - 1] = '\0';
	assert_int_equal(token_parse(bad, &u), -EINVAL);
	memcpy(bad, text, strlen(text) + 1);
	bad[strlen(text)] = 'A';
	bad[strlen(text) + 1] = '\0';
	assert_int_equal(token_parse(bad, &u), -EINVAL);
	memcpy(bad, text, strlen(text) + 1);
	bad[strlen(text)] = '\n';
	bad[strlen(text) + 1] = '\0';
	assert_int_equal(token_parse(bad, &u), -EINVAL);
	assert_int_equal(token_parse("", &u), -EINVAL);
	assert_int_equal(token_parse("imt1.", &u), -EINVAL);
	assert_int_equal(token_parse(NULL, &u), -EINVAL);
	assert_memory_equal(&u, &untouched, sizeof(u));

	token_wipe(&t);
	for (size_t i = 0; i < TOKEN_SECRET_LEN; i++)
		assert_int_equal(t.secret[i], 0);
	token_wipe(NULL);
	pki_ca_free(ca);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_open_reopen),
		cmocka_unit_test(test_issue_host),
		cmocka_unit_test(test_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
