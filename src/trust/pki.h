/* The fleet's certificate authority and host identities (Ed25519, X.509 v3).
 *
 * The CA lives in the server's data directory: ca.key (0600) and ca.crt; the server's own
 * TLS identity, server.key and server.crt (SAN: the names given, localhost, 127.0.0.1, ::1),
 * is issued by it at first start. A host certificate's subject CN is the host id; its
 * serial is random (16 bytes); its lifetime is short and it is renewed over the mutual-TLS
 * channel. The CA "pin" is base64url(SHA-256(DER of the CA's SubjectPublicKeyInfo)), no
 * padding: 43 characters. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/common.h"

#define PKI_PIN_LEN 43
#define PKI_HOST_ID_MAX 64

struct pki_ca;

/* Loads the CA and the server identity from dir, creating any that are missing (first
 * start). server_names: extra DNS names or IP addresses for the server certificate (may be
 * NULL). Returns 0 and *out, or a negative errno (files unreadable, keys not matching). */
int pki_ca_open(const char *dir, const char *const *server_names, struct pki_ca **out);
void pki_ca_free(struct pki_ca *ca);
/* Borrowed pointers, valid while ca lives. */
X509 *pki_ca_cert(const struct pki_ca *ca);
X509 *pki_ca_server_cert(const struct pki_ca *ca);
EVP_PKEY *pki_ca_server_key(const struct pki_ca *ca);
/* The CA's pin (NUL-terminated, PKI_PIN_LEN chars). */
const char *pki_ca_pin(const struct pki_ca *ca);

/* Checks the CSR (DER, signature valid, Ed25519 key) and issues a certificate for host_id
 * valid from now-60s for lifetime_s seconds. Returns 0 with *cert (caller frees), or
 * -EBADMSG for an unusable CSR. The CSR's own subject is ignored: the CN is host_id. */
int pki_ca_issue_host(struct pki_ca *ca, const void *csr_der, size_t csr_len, const char *host_id,
		      uint32_t lifetime_s, X509 **cert);

/* Computes the pin of any certificate's public key into out (PKI_PIN_LEN + 1 bytes). */
int pki_cert_pin(X509 *cert, char *out);
/* Copies the subject CN into out (size n). Returns 0, -ENOENT without a CN, -ENAMETOOLONG. */
int pki_cert_cn(X509 *cert, char *out, size_t n);
/* Returns the serial as lowercase hex (caller frees), or NULL. */
char *pki_cert_serial_hex(X509 *cert);
/* notAfter as Unix seconds. */
int pki_cert_not_after(X509 *cert, int64_t *t);
int pki_cert_not_before(X509 *cert, int64_t *t);

/* Generates an Ed25519 key. */
int pki_key_generate(EVP_PKEY **out);
/* Creates a DER CSR for key with subject CN=cn. Returns 0 with *der and *len (caller frees). */
int pki_csr_create(EVP_PKEY *key, const char *cn, unsigned char **der, size_t *len);

/* DER <-> X509. */
int pki_cert_from_der(const void *der, size_t len, X509 **out);
int pki_cert_to_der(X509 *cert, unsigned char **der, size_t *len);

/* PEM files. Writes are atomic (temporary file, fsync, rename); keys get mode 0600. */
int pki_key_load(const char *path, EVP_PKEY **out);
int pki_key_save(const char *path, EVP_PKEY *key);
int pki_cert_load(const char *path, X509 **out);
int pki_cert_save(const char *path, X509 *cert);
