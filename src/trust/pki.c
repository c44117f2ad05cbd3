/* The fleet CA: Ed25519 keys, X.509 v3 certificates, atomic PEM files. */
#include "trust/pki.h"

#include "lib/buf.h"
#include "lib/fileio.h"
#include "trust/b64url.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CA_CN "Immune fleet CA"
#define SERVER_CN "immune-server"
#define CA_LIFETIME_S (3650L * 86400)
#define SERVER_LIFETIME_S (365L * 86400)
#define SERVER_RENEW_BEFORE_S (30L * 86400)
#define BACKDATE_S 60
#define PEM_FILE_MAX (64u * 1024)
#define CSR_DER_MAX (16u * 1024)

struct pki_ca {
	X509 *cert;
	EVP_PKEY *key;
	X509 *server_cert;
	EVP_PKEY *server_key;
	char pin[PKI_PIN_LEN + 1];
};

static void x509_freep(X509 **x)
{
	X509_free(*x);
}
static void req_freep(X509_REQ **r)
{
	X509_REQ_free(*r);
}
static void bio_freep(BIO **b)
{
	BIO_free(*b);
}
#define _cleanup_x509_ _cleanup_(x509_freep)

/* --- files --- */

/* Reads a whole small file into b (capped). */
static int read_small(const char *path, struct buf *b)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char chunk[4096];

	if (fd < 0)
		return -errno;
	buf_init(b, PEM_FILE_MAX);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			buf_free_secret(b);
			return r;
		}
		if (n == 0)
			break;
		int r = buf_append(b, chunk, (size_t)n);
		if (r < 0) {
			OPENSSL_cleanse(chunk, sizeof(chunk));
			buf_free_secret(b);
			return -EFBIG;
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	return 0;
}

/* Writes what a PEM writer put in a memory BIO to path, then wipes the BIO. */
static int save_bio(const char *path, BIO *bio, mode_t mode)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	int r;

	if (len <= 0 || !data)
		return -EIO;
	r = file_write_atomic(path, data, (size_t)len, mode);
	OPENSSL_cleanse(data, (size_t)len);
	return r;
}

int pki_key_load(const char *path, EVP_PKEY **out)
{
	struct buf b;
	_cleanup_(bio_freep) BIO *bio = NULL;
	EVP_PKEY *key;
	int r;

	r = read_small(path, &b);
	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(buf_str(&b), (int)buf_len(&b));
	key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	buf_free_secret(&b);
	if (!key) {
		ERR_clear_error();
		return -EBADMSG;
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(key);
		return -EBADMSG;
	}
	*out = key;
	return 0;
}

int pki_key_save(const char *path, EVP_PKEY *key)
{
	_cleanup_(bio_freep) BIO *bio = BIO_new(BIO_s_mem());

	if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	return save_bio(path, bio, 0600);
}

int pki_cert_load(const char *path, X509 **out)
{
	struct buf b;
	_cleanup_(bio_freep) BIO *bio = NULL;
	X509 *x;
	int r;

	r = read_small(path, &b);
	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(buf_str(&b), (int)buf_len(&b));
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	buf_free(&b);
	if (!x) {
		ERR_clear_error();
		return -EBADMSG;
	}
	*out = x;
	return 0;
}

int pki_cert_save(const char *path, X509 *cert)
{
	_cleanup_(bio_freep) BIO *bio = BIO_new(BIO_s_mem());

	if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	return save_bio(path, bio, 0644);
}

/* --- DER --- */

int pki_cert_from_der(const void *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || len == 0 || len > LONG_MAX)
		return -EBADMSG;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != (const unsigned char *)der + len) {
		X509_free(x);
		ERR_clear_error();
		return -EBADMSG;
	}
	*out = x;
	return 0;
}

/* Copies an OpenSSL-allocated DER into a malloc'd buffer callers free() with free(). */
static int take_der(unsigned char *ossl, int n, unsigned char **der, size_t *len)
{
	if (n <= 0 || !ossl) {
		ERR_clear_error();
		return -EIO;
	}
	*der = xmalloc((size_t)n);
	memcpy(*der, ossl, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(ossl);
	return 0;
}

int pki_cert_to_der(X509 *cert, unsigned char **der, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(cert, &p);

	return take_der(p, n, der, len);
}

/* --- keys and requests --- */

int pki_key_generate(EVP_PKEY **out)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (!k) {
		ERR_clear_error();
		return -EIO;
	}
	*out = k;
	return 0;
}

static int name_set_cn(X509_NAME *name, const char *cn)
{
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int pki_csr_create(EVP_PKEY *key, const char *cn, unsigned char **der, size_t *len)
{
	_cleanup_(req_freep) X509_REQ *req = X509_REQ_new();
	unsigned char *p = NULL;
	int r;

	if (!req || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1)
		return -ENOMEM;
	r = name_set_cn(X509_REQ_get_subject_name(req), cn);
	if (r < 0)
		return r;
	if (X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, NULL) <= 0) {
		ERR_clear_error();
		return -EIO;
	}
	return take_der(p, i2d_X509_REQ(req, &p), der, len);
}

/* --- certificate facts --- */

int pki_cert_pin(X509 *cert, char *out)
{
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	int n;

	if (!pub) {
		ERR_clear_error();
		return -EBADMSG;
	}
	n = i2d_PUBKEY(pub, &der);
	if (n <= 0) {
		ERR_clear_error();
		return -EBADMSG;
	}
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	b64url_encode(md, sizeof(md), out);
	return 0;
}

int pki_cert_cn(X509 *cert, char *out, size_t n)
{
	X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *utf8 = NULL;
	int i, len;

	i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	if (i < 0)
		return -ENOENT;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (len < 0) {
		ERR_clear_error();
		return -EBADMSG;
	}
	if (memchr(utf8, '\0', (size_t)len)) {
		OPENSSL_free(utf8);
		return -EBADMSG;
	}
	if ((size_t)len >= n) {
		OPENSSL_free(utf8);
		return -ENAMETOOLONG;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

char *pki_cert_serial_hex(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL, *out = NULL;

	if (hex) {
		out = xstrdup(hex);
		for (char *c = out; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
	}
	OPENSSL_free(hex);
	BN_free(bn);
	if (!out)
		ERR_clear_error();
	return out;
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return -EBADMSG;
	}
	*out = (int64_t)timegm(&tm);
	return 0;
}

int pki_cert_not_after(X509 *cert, int64_t *t)
{
	return asn1_time_unix(X509_get0_notAfter(cert), t);
}

int pki_cert_not_before(X509 *cert, int64_t *t)
{
	return asn1_time_unix(X509_get0_notBefore(cert), t);
}

/* --- issuing --- */

static int set_random_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, always 16 bytes */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

/* Copies an Ed25519 SubjectPublicKeyInfo into x without going through OpenSSL 3's key
 * encoders, which cost more than the signature itself. */
static int set_pubkey_raw(X509 *x, X509_PUBKEY *src)
{
	const unsigned char *pk;
	unsigned char *copy;
	int len;
	ASN1_OBJECT *obj;

	if (X509_PUBKEY_get0_param(&obj, &pk, &len, NULL, src) != 1 ||
	    OBJ_obj2nid(obj) != NID_ED25519 || len != 32)
		return -EINVAL;
	copy = OPENSSL_memdup(pk, (size_t)len);
	if (!copy)
		return -ENOMEM;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF,
				   NULL, copy, len) != 1) {
		OPENSSL_free(copy);
		return -EINVAL;
	}
	return 0;
}

struct cert_spec {
	const char *cn;
	EVP_PKEY *pub;
	X509_PUBKEY *pub_raw; /* when set, used instead of pub */
	X509 *issuer;	      /* NULL: self-signed */
	EVP_PKEY *sign_key;   /* issuer's key */
	long lifetime_s;
	const char *const *exts; /* pairs of (NID as text, value), NULL-terminated */
	const int *nids;
	size_t n_exts;
};

static int cert_build(const struct cert_spec *s, X509 **out)
{
	_cleanup_x509_ X509 *x = X509_new();
	X509 *issuer;
	int r;

	if (!x || X509_set_version(x, X509_VERSION_3) != 1)
		return -ENOMEM;
	r = set_random_serial(x);
	if (r < 0)
		return r;
	r = name_set_cn(X509_get_subject_name(x), s->cn);
	if (r < 0)
		return r;
	issuer = s->issuer ? s->issuer : x;
	if (X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_S) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), s->lifetime_s) ||
	    (s->pub_raw ? set_pubkey_raw(x, s->pub_raw) < 0 : X509_set_pubkey(x, s->pub) != 1))
		goto fail;
	for (size_t i = 0; i < s->n_exts; i++)
		if (add_ext(x, issuer, s->nids[i], s->exts[i]) < 0)
			goto fail;
	if (X509_sign(x, s->sign_key, NULL) <= 0)
		goto fail;
	*out = x;
	x = NULL;
	return 0;
fail:
	ERR_clear_error();
	return -EINVAL;
}

static int ca_cert_create(EVP_PKEY *key, X509 **out)
{
	static const int nids[] = { NID_basic_constraints, NID_key_usage,
				    NID_subject_key_identifier, NID_authority_key_identifier };
	static const char *const exts[] = { "critical,CA:TRUE", "critical,keyCertSign,cRLSign",
					    "hash", "keyid:always" };
	struct cert_spec s = { .cn = CA_CN,
			       .pub = key,
			       .sign_key = key,
			       .lifetime_s = CA_LIFETIME_S,
			       .exts = exts,
			       .nids = nids,
			       .n_exts = ARRAY_SIZE(nids) };
	return cert_build(&s, out);
}

static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || (c == '*' && i == 0)))
			return false;
	}
	return true;
}

/* Builds the subjectAltName value: the names given, then localhost and the loopbacks. */
static int san_text(const char *const *names, struct buf *b)
{
	unsigned char addr[16];
	int r = 0;

	buf_init(b, 64 * 1024);
	for (size_t i = 0; names && names[i] && r == 0; i++) {
		const char *n = names[i];
		bool ip = inet_pton(AF_INET, n, addr) == 1 || inet_pton(AF_INET6, n, addr) == 1;
		if (!ip && !dns_name_ok(n)) {
			buf_free(b);
			return -EINVAL;
		}
		r = buf_printf(b, "%s:%s,", ip ? "IP" : "DNS", n);
	}
	if (r == 0)
		r = buf_puts(b, "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (r < 0) {
		buf_free(b);
		return -EINVAL;
	}
	return 0;
}

static int server_cert_create(struct pki_ca *ca, const char *const *names, EVP_PKEY *key,
			      X509 **out)
{
	struct buf san;
	int r = san_text(names, &san);
	if (r < 0)
		return r;
	const int nids[] = { NID_basic_constraints,	 NID_key_usage,
			     NID_ext_key_usage,		 NID_subject_alt_name,
			     NID_subject_key_identifier, NID_authority_key_identifier };
	const char *const exts[] = { "critical,CA:FALSE",
				     "critical,digitalSignature",
				     "serverAuth",
				     buf_str(&san),
				     "hash",
				     "keyid:always" };
	struct cert_spec s = { .cn = SERVER_CN,
			       .pub = key,
			       .issuer = ca->cert,
			       .sign_key = ca->key,
			       .lifetime_s = SERVER_LIFETIME_S,
			       .exts = exts,
			       .nids = nids,
			       .n_exts = ARRAY_SIZE(nids) };
	r = cert_build(&s, out);
	buf_free(&san);
	return r;
}

static bool host_id_ok(const char *id)
{
	size_t n = id ? strnlen(id, PKI_HOST_ID_MAX + 1) : 0;

	if (n == 0 || n > PKI_HOST_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

int pki_ca_issue_host(struct pki_ca *ca, const void *csr_der, size_t csr_len, const char *host_id,
		      uint32_t lifetime_s, X509 **cert)
{
	static const int nids[] = { NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
				    NID_subject_key_identifier, NID_authority_key_identifier };
	static const char *const exts[] = { "critical,CA:FALSE", "critical,digitalSignature",
					    "clientAuth", "hash", "keyid:always" };
	_cleanup_(req_freep) X509_REQ *req = NULL;
	const unsigned char *p = csr_der;
	EVP_PKEY *pub;

	if (!host_id_ok(host_id) || lifetime_s == 0)
		return -EINVAL;
	if (!csr_der || csr_len == 0 || csr_len > CSR_DER_MAX)
		return -EBADMSG;
	req = d2i_X509_REQ(NULL, &p, (long)csr_len);
	if (!req || p != (const unsigned char *)csr_der + csr_len)
		goto bad;
	pub = X509_REQ_get0_pubkey(req);
	if (!pub || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519 || X509_REQ_verify(req, pub) != 1)
		goto bad;
	struct cert_spec s = { .cn = host_id,
			       .pub = pub,
			       .pub_raw = X509_REQ_get_X509_PUBKEY(req),
			       .issuer = ca->cert,
			       .sign_key = ca->key,
			       .lifetime_s = (long)lifetime_s,
			       .exts = exts,
			       .nids = nids,
			       .n_exts = ARRAY_SIZE(nids) };
	X509 *built;
	unsigned char *der = NULL;
	int n, r = cert_build(&s, &built);
	if (r < 0)
		return r;
	/* Re-read the DER so the certificate carries its decoded public key. */
	n = i2d_X509(built, &der);
	X509_free(built);
	if (n <= 0) {
		ERR_clear_error();
		return -ENOMEM;
	}
	r = pki_cert_from_der(der, (size_t)n, cert);
	OPENSSL_free(der);
	return r;
bad:
	ERR_clear_error();
	return -EBADMSG;
}

/* --- the CA directory --- */

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	X509_free(ca->server_cert);
	EVP_PKEY_free(ca->server_key);
	free(ca);
}

X509 *pki_ca_cert(const struct pki_ca *ca)
{
	return ca->cert;
}

X509 *pki_ca_server_cert(const struct pki_ca *ca)
{
	return ca->server_cert;
}

EVP_PKEY *pki_ca_server_key(const struct pki_ca *ca)
{
	return ca->server_key;
}

const char *pki_ca_pin(const struct pki_ca *ca)
{
	return ca->pin;
}

static bool key_matches(X509 *cert, EVP_PKEY *key)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	bool ok = pub && EVP_PKEY_eq(pub, key) == 1;

	ERR_clear_error();
	return ok;
}

/* True when cert is signed by ca's key, names it as issuer and is within its validity. */
static bool issued_by(X509 *cert, X509 *ca)
{
	bool ok = X509_check_issued(ca, cert) == X509_V_OK &&
		  X509_verify(cert, X509_get0_pubkey(ca)) == 1;

	ERR_clear_error();
	return ok;
}

static int load_or_create_ca(struct pki_ca *ca, const char *key_path, const char *crt_path)
{
	int rk, rc;

	rk = pki_key_load(key_path, &ca->key);
	if (rk == -ENOENT) {
		/* A certificate without its key cannot be used: refuse rather than replace. */
		if (access(crt_path, F_OK) == 0)
			return -ENOENT;
		rk = pki_key_generate(&ca->key);
		if (rk == 0)
			rk = pki_key_save(key_path, ca->key);
	}
	if (rk < 0)
		return rk;
	rc = pki_cert_load(crt_path, &ca->cert);
	if (rc == -ENOENT) {
		rc = ca_cert_create(ca->key, &ca->cert);
		if (rc == 0)
			rc = pki_cert_save(crt_path, ca->cert);
	}
	if (rc < 0)
		return rc;
	if (!key_matches(ca->cert, ca->key))
		return -EKEYREJECTED;
	return 0;
}

/* True when every configured name is in the certificate's subjectAltName. */
static bool has_names(X509 *cert, const char *const *names)
{
	unsigned char addr[16];

	for (size_t i = 0; names && names[i]; i++) {
		const char *n = names[i];
		bool ip = inet_pton(AF_INET, n, addr) == 1 || inet_pton(AF_INET6, n, addr) == 1;
		int r = ip ? X509_check_ip_asc(cert, n, 0) : X509_check_host(cert, n, 0, 0, NULL);
		if (r != 1) {
			ERR_clear_error();
			return false;
		}
	}
	return true;
}

static int load_or_create_server(struct pki_ca *ca, const char *const *names, const char *key_path,
				 const char *crt_path)
{
	int rk, rc;
	int64_t not_after;

	rk = pki_key_load(key_path, &ca->server_key);
	rc = rk == 0 ? pki_cert_load(crt_path, &ca->server_cert) : rk;
	if (rk < 0 && rk != -ENOENT)
		return rk;
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		if (!key_matches(ca->server_cert, ca->server_key))
			return -EKEYREJECTED;
		if (!issued_by(ca->server_cert, ca->cert))
			return -EKEYREJECTED;
		if (pki_cert_not_after(ca->server_cert, &not_after) == 0 &&
		    not_after - SERVER_RENEW_BEFORE_S > (int64_t)time(NULL) &&
		    has_names(ca->server_cert, names))
			return 0;
		/* Expiring, or names were added: a new certificate for the same key. */
		X509_free(ca->server_cert);
		ca->server_cert = NULL;
	}
	if (!ca->server_key) {
		rk = pki_key_generate(&ca->server_key);
		if (rk == 0)
			rk = pki_key_save(key_path, ca->server_key);
		if (rk < 0)
			return rk;
	}
	rc = server_cert_create(ca, names, ca->server_key, &ca->server_cert);
	if (rc == 0)
		rc = pki_cert_save(crt_path, ca->server_cert);
	return rc;
}

int pki_ca_open(const char *dir, const char *const *server_names, struct pki_ca **out)
{
	_cleanup_free_ char *ca_key = xasprintf("%s/ca.key", dir);
	_cleanup_free_ char *ca_crt = xasprintf("%s/ca.crt", dir);
	_cleanup_free_ char *srv_key = xasprintf("%s/server.key", dir);
	_cleanup_free_ char *srv_crt = xasprintf("%s/server.crt", dir);
	struct pki_ca *ca;
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	ca = xcalloc(1, sizeof(*ca));
	r = load_or_create_ca(ca, ca_key, ca_crt);
	if (r == 0)
		r = load_or_create_server(ca, server_names, srv_key, srv_crt);
	if (r == 0)
		r = pki_cert_pin(ca->cert, ca->pin);
	if (r < 0) {
		pki_ca_free(ca);
		return r;
	}
	*out = ca;
	return 0;
}
