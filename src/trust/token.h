/* Join tokens: what `immune token create` prints and `immune-agent enroll --token` takes.
 *
 * Text form: "imt1." id "." secret "." pin, where id is 16 lowercase hex characters, secret
 * is 32 bytes in base64url without padding (43 characters) and pin is the CA pin
 * (pki.h). The server stores only the id and SHA-256(secret); the agent uses the pin to
 * authenticate the server before sending anything. */
#pragma once

#include "lib/common.h"
#include "trust/pki.h"

#define TOKEN_ID_LEN 16
#define TOKEN_SECRET_LEN 32
#define TOKEN_TEXT_MAX 128

struct join_token {
	char id[TOKEN_ID_LEN + 1];
	unsigned char secret[TOKEN_SECRET_LEN];
	char pin[PKI_PIN_LEN + 1];
};

/* Makes a new token with random id and secret for the CA pin given. */
int token_generate(const char *pin, struct join_token *t);
/* Parses the text form. Returns 0, or -EINVAL with nothing written. */
int token_parse(const char *text, struct join_token *t);
/* Writes the text form into out (TOKEN_TEXT_MAX bytes). */
void token_format(const struct join_token *t, char *out);
/* SHA-256 of the secret, the value the server stores. */
void token_secret_hash(const struct join_token *t, unsigned char hash[32]);
/* Wipes the secret. */
void token_wipe(struct join_token *t);
