/* Parsing one line of an OpenSSH authorized_keys file (exposed for the fuzz target). */
#pragma once

#include "lib/common.h"

struct authkey {
	char *options;	   /* options before the key, as written ("" when none) */
	char *type;	   /* key type name (ssh-ed25519, ssh-rsa, ...) */
	int64_t bits;	   /* key size in bits, from the decoded public key */
	char *comment;	   /* text after the key ("" when none) */
	char *fingerprint; /* "SHA256:" + unpadded base64 of SHA-256 of the key blob */
};

/* Parses one line (without its newline). Returns 0 with *out filled (the caller's;
 * authkey_clear), 1 for a blank or comment line, or -EBADMSG with a short reason in *why
 * (a static string) when the line is not a valid key. */
int authkey_parse(const char *line, size_t len, struct authkey *out, const char **why);
/* Frees the fields of k; accepts a zeroed struct. */
void authkey_clear(struct authkey *k);
