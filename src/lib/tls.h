/* TLS contexts for the agent-server channel and the API: TLS 1.3 only, Ed25519 identities
 * from the fleet CA (trust/pki.h). */
#pragma once

#include <openssl/ssl.h>

#include "lib/common.h"

/* Server side of the agent listener: presents cert (chain: cert, ca) and asks for a client
 * certificate issued by ca, without requiring one (enrollment connections have none).
 * SSL_MODE_RELEASE_BUFFERS is set: idle connections hold no record buffers. */
SSL_CTX *tls_server_ctx(X509 *ca, X509 *cert, EVP_PKEY *key);
/* Agent side with an identity: verifies the server against ca and presents cert/key. */
SSL_CTX *tls_client_ctx(X509 *ca, X509 *cert, EVP_PKEY *key);
/* Agent side before enrollment: accepts the server only if its chain ends in a CA
 * certificate whose pin (pki.h) equals pin, and the server certificate verifies under it. */
SSL_CTX *tls_enroll_ctx(const char *pin);
/* The CA certificate the peer's chain ended in, after a successful tls_enroll_ctx handshake
 * (a new reference; caller frees), or NULL. */
X509 *tls_enroll_pinned_ca(SSL *ssl);
/* For the peer of an established connection: the verified client certificate (borrowed),
 * or NULL when the peer sent none. */
X509 *tls_peer_cert(SSL *ssl);
