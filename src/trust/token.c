/* Join tokens: "imt1." id "." secret "." pin. */
#include "trust/token.h"

#include "trust/b64url.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define TOKEN_PREFIX "imt1."
#define TOKEN_PREFIX_LEN 5
#define TOKEN_SECRET_TEXT 43 /* b64url_len(TOKEN_SECRET_LEN) */
#define TOKEN_TEXT_LEN (TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1 + TOKEN_SECRET_TEXT + 1 + PKI_PIN_LEN)

static bool pin_ok(const char *pin, size_t n)
{
	unsigned char scratch[32];
	bool ok = n == PKI_PIN_LEN && b64url_decode(pin, sizeof(scratch), scratch) == 0;

	return ok;
}

int token_generate(const char *pin, struct join_token *t)
{
	static const char hex[] = "0123456789abcdef";
	struct join_token n;
	unsigned char id[TOKEN_ID_LEN / 2];

	if (!pin || !pin_ok(pin, strnlen(pin, PKI_PIN_LEN + 1)))
		return -EINVAL;
	if (RAND_bytes(id, sizeof(id)) != 1 || RAND_bytes(n.secret, sizeof(n.secret)) != 1) {
		OPENSSL_cleanse(&n, sizeof(n));
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(id); i++) {
		n.id[2 * i] = hex[id[i] >> 4];
		n.id[2 * i + 1] = hex[id[i] & 15];
	}
	n.id[TOKEN_ID_LEN] = '\0';
	memcpy(n.pin, pin, PKI_PIN_LEN);
	n.pin[PKI_PIN_LEN] = '\0';
	*t = n;
	OPENSSL_cleanse(&n, sizeof(n));
	return 0;
}

int token_parse(const char *text, struct join_token *t)
{
	struct join_token n;
	const char *p;
	int r = -EINVAL;

	if (!text || strnlen(text, TOKEN_TEXT_LEN + 1) != TOKEN_TEXT_LEN ||
	    memcmp(text, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return -EINVAL;
	p = text + TOKEN_PREFIX_LEN;
	for (size_t i = 0; i < TOKEN_ID_LEN; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
		n.id[i] = c;
	}
	n.id[TOKEN_ID_LEN] = '\0';
	p += TOKEN_ID_LEN;
	if (*p++ != '.')
		goto out;
	if (b64url_decode(p, TOKEN_SECRET_LEN, n.secret) < 0)
		goto out;
	p += TOKEN_SECRET_TEXT;
	if (*p++ != '.' || !pin_ok(p, strlen(p)))
		goto out;
	memcpy(n.pin, p, PKI_PIN_LEN);
	n.pin[PKI_PIN_LEN] = '\0';
	*t = n;
	r = 0;
out:
	OPENSSL_cleanse(&n, sizeof(n));
	return r;
}

void token_format(const struct join_token *t, char *out)
{
	char secret[TOKEN_SECRET_TEXT + 1];

	b64url_encode(t->secret, sizeof(t->secret), secret);
	snprintf(out, TOKEN_TEXT_MAX, "%s%s.%s.%s", TOKEN_PREFIX, t->id, secret, t->pin);
	OPENSSL_cleanse(secret, sizeof(secret));
}

void token_secret_hash(const struct join_token *t, unsigned char hash[32])
{
	SHA256(t->secret, sizeof(t->secret), hash);
}

void token_wipe(struct join_token *t)
{
	if (t)
		OPENSSL_cleanse(t, sizeof(*t));
}
