/* OpenSSH certificates and key revocation lists, encoded and decoded by the project
 * (REFERENCE.md §2; docs/ssh-certificates.md). Only Ed25519 keys: the CA's and the users'.
 *
 * Blobs are the binary wire form (what base64 in an OpenSSH public key line wraps). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define SSHCERT_ED25519_TYPE "ssh-ed25519-cert-v01@openssh.com"
#define SSHCERT_MAX_PRINCIPALS 32
#define SSHCERT_MAX_EXTENSIONS 16
#define SSHCERT_KEY_ID_MAX 256	/* bytes of key id */
#define SSHCERT_STRING_MAX 4096 /* bytes of any other string (principal, option value) */
#define SSHCERT_BLOB_MAX 16384	/* bytes of a whole certificate */

struct ssh_ed25519_key {
	unsigned char pub[32];
};

struct sshcert_extension {
	const char *name;
	const unsigned char *data; /* the value (not string-wrapped); NULL/0 for flags */
	size_t len;
};

/* What to sign. Strings are borrowed. */
struct sshcert_request {
	struct ssh_ed25519_key key; /* the user's public key */
	uint64_t serial;
	const char *key_id;
	const char *const *principals; /* at least one */
	size_t n_principals;
	uint64_t valid_after;	    /* Unix seconds */
	uint64_t valid_before;	    /* Unix seconds, > valid_after */
	const char *force_command;  /* critical option, or NULL */
	const char *source_address; /* critical option "10.0.0.1/32,..." or NULL */
	bool permit_pty, permit_port_forwarding, permit_agent_forwarding, permit_x11_forwarding,
		permit_user_rc;
	/* further extensions (non-critical, sshd ignores unknown ones), e.g. the identity's
	 * attributes "immune-identity@immune" */
	const struct sshcert_extension *extra;
	size_t n_extra;
};

/* A decoded certificate. Pointers point into the blob given to sshcert_parse. */
struct sshcert {
	struct ssh_ed25519_key key;
	uint64_t serial;
	uint32_t type; /* 1 user, 2 host */
	const char *key_id;
	size_t n_principals;
	const char *principals[SSHCERT_MAX_PRINCIPALS];
	uint64_t valid_after, valid_before;
	const char *force_command;  /* NULL when absent */
	const char *source_address; /* NULL when absent */
	size_t n_extensions;
	struct sshcert_extension extensions[SSHCERT_MAX_EXTENSIONS];
	struct ssh_ed25519_key signature_key;
	bool signature_valid; /* the signature verifies with signature_key */
	void *storage_;	      /* owned copies of the strings; sshcert_free releases */
};

/* The CA key: an Ed25519 private key in a PEM file (created 0600 when missing). Returns an
 * OpenSSL EVP_PKEY (as void *, caller frees with sshcert_ca_free) or NULL with errno. */
void *sshcert_ca_load_or_create(const char *pem_path);
void sshcert_ca_free(void *ca);
int sshcert_ca_public(void *ca, struct ssh_ed25519_key *out);

/* Signs req with the CA into an OpenSSH certificate blob appended to out. -EINVAL for a
 * request OpenSSH would refuse (no principal, empty validity, too many extensions). */
int sshcert_sign(const struct sshcert_request *req, void *ca, struct buf *out);
/* Decodes blob: 0, -EBADMSG for anything malformed (wrong type, trailing bytes, unsorted or
 * repeated extensions or options, an unknown critical option), -E2BIG past the limits.
 * Verifies the signature (out->signature_valid). Free with sshcert_free. */
int sshcert_parse(const void *blob, size_t len, struct sshcert *out);
void sshcert_free(struct sshcert *c);
/* The extension's data, or NULL. */
const struct sshcert_extension *sshcert_extension(const struct sshcert *c, const char *name);

/* "ssh-ed25519 BASE64 comment" and back; the line form of a certificate blob
 * "ssh-ed25519-cert-v01@openssh.com BASE64 comment" (caller frees). */
char *ssh_ed25519_key_line(const struct ssh_ed25519_key *k, const char *comment);
int ssh_ed25519_key_parse_line(const char *line, struct ssh_ed25519_key *out);
char *sshcert_line(const void *blob, size_t len, const char *comment);
/* Decodes the base64 of a certificate line or of a bare base64 blob (what sshd passes as
 * %k) into out. -EBADMSG when it is not one. */
int sshcert_blob_from_base64(const char *text, struct buf *out);

/* A KRL as krl_parse reads it: per certificates section, the CA (or every CA) and what it
 * revokes; serials as sorted ranges (a single serial is lo == hi), key ids as given. */
#define KRL_MAX_BYTES (4u << 20) /* larger KRLs are refused (-E2BIG) */
#define KRL_MAX_ENTRIES 262144	 /* serial ranges plus key ids over all sections */
#define KRL_MAX_SECTIONS 64	 /* certificates sections (one per CA in practice) */

struct krl_range {
	uint64_t lo, hi;
};

struct krl_ca {
	bool any_ca; /* the section's CA key was empty: it applies to every CA */
	struct ssh_ed25519_key key;
	struct krl_range *serials;
	size_t n_serials;
	char **key_ids;
	size_t n_key_ids;
};

struct krl {
	uint64_t version, generated_at, flags;
	char *comment;
	struct krl_ca *cas;
	size_t n_cas;
	size_t n_skipped; /* sections about plain keys (explicit, fingerprints): not read */
};

/* A KRL (PROTOCOL.krl) revoking, for the CA key ca, the given serials and key ids. version
 * is the KRL's version number (increasing), generated_at Unix seconds. Appended to out;
 * -EMSGSIZE past out's cap. Serials and key ids are sorted and deduplicated; serial 0 (which
 * OpenSSH cannot revoke by serial) and empty or over-long key ids are left out. */
int krl_build(const struct ssh_ed25519_key *ca, const uint64_t *serials, size_t n_serials,
	      const char *const *key_ids, size_t n_key_ids, uint64_t version, uint64_t generated_at,
	      struct buf *out);
/* Reads a KRL: 0, -EBADMSG when malformed (bad magic or version, truncated, trailing bytes
 * in a section, serial 0, lo > hi, a signature section, an unknown or critical-extension
 * section, a CA key other than Ed25519), -E2BIG past the limits above. Free with krl_free. */
int krl_parse(const void *data, size_t len, struct krl *out);
void krl_free(struct krl *k);
/* Whether k revokes the certificate with this CA (signature key), serial and key id, as
 * sshd decides: by key id, or by serial unless the serial is 0. */
bool krl_revokes(const struct krl *k, const struct ssh_ed25519_key *ca, uint64_t serial,
		 const char *key_id);
