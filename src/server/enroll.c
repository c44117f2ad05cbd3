/* Enrollment: a connection without a client certificate presents a join token and a CSR
 * and receives its host certificate (docs/server.md "Enrollment"). */
#include "server/server_int.h"
#include "lib/log.h"
#include "store/store.h"
#include "trust/token.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define R(x) IMMUNE__V1__REFUSAL__REASON__REASON_##x

static void random_hex(char *out, size_t bytes)
{
	unsigned char raw[32];
	if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
		abort();
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Maps store_token_consume()'s answer to a counter and a refusal; returns true when used. */
static bool token_refused(struct conn *c, int r)
{
	struct server *s = c->srv;
	switch (r) {
	case 0: return false;
	case -ENOENT:
		server_count(s, CTR_ENROLL_BAD_TOKEN);
		conn_refuse(c, R(BAD_TOKEN), "unknown join token");
		break;
	case -EKEYEXPIRED:
		server_count(s, CTR_ENROLL_TOKEN_EXPIRED);
		conn_refuse(c, R(TOKEN_EXPIRED), "the join token has expired");
		break;
	case -EUSERS:
		server_count(s, CTR_ENROLL_TOKEN_USED_UP);
		conn_refuse(c, R(TOKEN_USED_UP), "the join token has no uses left");
		break;
	default:
		log_errno(r, "checking a join token");
		conn_refuse(c, R(UNSPECIFIED), "server error");
		break;
	}
	return true;
}

static void send_response(struct conn *c, const char *host_id, X509 *cert)
{
	_cleanup_free_ unsigned char *cert_der = NULL, *ca_der = NULL;
	size_t cert_len = 0, ca_len = 0;
	if (pki_cert_to_der(cert, &cert_der, &cert_len) < 0 ||
	    pki_cert_to_der(pki_ca_cert(c->srv->ca), &ca_der, &ca_len) < 0) {
		conn_refuse(c, R(UNSPECIFIED), "server error");
		return;
	}
	Immune__V1__EnrollResponse resp = IMMUNE__V1__ENROLL_RESPONSE__INIT;
	resp.host_id = (char *)host_id;
	resp.cert_der = (ProtobufCBinaryData){ .len = cert_len, .data = cert_der };
	resp.ca_der = (ProtobufCBinaryData){ .len = ca_len, .data = ca_der };
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE;
	f.enroll_response = &resp;
	server_count(c->srv, CTR_ENROLL_OK);
	conn_close_after(c, &f);
}

/* Issues a certificate for host_id; *serial (caller frees) and *not_after describe it. */
static int issue(struct server *s, const Immune__V1__EnrollRequest *req, const char *host_id,
		 X509 **cert, char **serial, int64_t *not_after)
{
	X509 *x = NULL;
	int r = pki_ca_issue_host(s->ca, req->csr_der.data, req->csr_der.len, host_id,
				  s->opt.cert_lifetime_s, &x);
	if (r < 0)
		return r;
	char *hex = pki_cert_serial_hex(x);
	if (!hex || pki_cert_not_after(x, not_after) < 0) {
		free(hex);
		X509_free(x);
		return -EIO;
	}
	*cert = x;
	*serial = hex;
	return 0;
}

/* Checks the CSR before the token is used up: DER, an Ed25519 key, a valid signature
 * (pki_ca_issue_host checks it again when it issues). */
static bool csr_usable(const ProtobufCBinaryData *der)
{
	const unsigned char *p = der->data;
	X509_REQ *req = der->len ? d2i_X509_REQ(NULL, &p, (long)der->len) : NULL;
	bool ok = req && p == der->data + der->len;
	EVP_PKEY *key = ok ? X509_REQ_get0_pubkey(req) : NULL;
	ok = key && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 && X509_REQ_verify(req, key) == 1;
	X509_REQ_free(req);
	ERR_clear_error();
	return ok;
}

/* Records the host (the store decides its id: a re-enrolling machine keeps its own), then
 * issues its certificate and records that serial as the only one accepted. */
static int enroll_host(struct server *s, const Immune__V1__EnrollRequest *req,
		       const struct store_token *tok, X509 **cert, char **id)
{
	char anon[64];
	const char *machine = req->machine_id;
	if (!machine || !*machine) {
		memcpy(anon, "anonymous-", 10);
		random_hex(anon + 10, 16);
		machine = anon;
	}
	_cleanup_free_ char *serial = NULL;
	int64_t not_after = 0;
	int r = store_host_enroll(s->store, machine, req->hostname, tok->labels, tok->n_labels,
				  "pending", 0, server_now_s(), id);
	if (r == 0)
		r = issue(s, req, *id, cert, &serial, &not_after);
	if (r == 0)
		r = store_host_set_cert(s->store, *id, serial, not_after);
	return r;
}

void enroll_handle(struct conn *c, const Immune__V1__EnrollRequest *req)
{
	struct server *s = c->srv;
	struct join_token t;
	if (token_parse(req->token, &t) < 0) {
		server_count(s, CTR_ENROLL_BAD_TOKEN);
		conn_refuse(c, R(BAD_TOKEN), "malformed join token");
		return;
	}
	if (!csr_usable(&req->csr_der)) {
		token_wipe(&t);
		server_count(s, CTR_ENROLL_BAD_CSR);
		conn_refuse(c, R(BAD_CSR),
			    "unusable certificate request (an Ed25519 CSR is needed)");
		return;
	}
	unsigned char hash[32];
	token_secret_hash(&t, hash);
	struct store_token tok = { 0 };
	int r = store_token_consume(s->store, t.id, hash, server_now_s(), &tok);
	token_wipe(&t);
	OPENSSL_cleanse(hash, sizeof(hash));
	X509 *cert = NULL;
	_cleanup_free_ char *id = NULL;
	if (!token_refused(c, r)) {
		r = enroll_host(s, req, &tok, &cert, &id);
		if (r < 0) {
			log_errno(r, "enrolling host %s", req->hostname);
			conn_refuse(c, R(UNSPECIFIED), "server error");
		} else {
			log_debug("enrolled host %s (%s)", id, req->hostname);
			send_response(c, id, cert);
		}
	}
	store_token_free(&tok);
	X509_free(cert);
}
