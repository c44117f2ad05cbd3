/* The authorized_keys table: ~/.ssh/authorized_keys and authorized_keys2 of every account in
 * the users table whose home exists.
 *
 * A line is "[options] type base64-blob [comment]". The blob is decoded and walked as the SSH
 * wire format (RFC 4251 strings) to find the key size; the fingerprint is that of
 * ssh-keygen -l: "SHA256:" and the unpadded base64 of the blob's SHA-256. */
#include "inventory/authorized_keys.h"
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#define AUTHKEYS_FILE_MAX (1024 * 1024)
#define CERT_SUFFIX "-cert-v01@openssh.com"

enum key_kind { KT_RSA, KT_DSS, KT_ED25519, KT_ECDSA, KT_SK_ECDSA, KT_SK_ED25519 };

static const struct key_type {
	const char *name;
	enum key_kind kind;
	int bits;	   /* fixed size, or 0 when read from the key */
	const char *curve; /* ECDSA curve name inside the blob */
} key_types[] = {
	{ "ssh-rsa", KT_RSA, 0, NULL },
	{ "ssh-dss", KT_DSS, 0, NULL },
	{ "ssh-ed25519", KT_ED25519, 256, NULL },
	{ "ecdsa-sha2-nistp256", KT_ECDSA, 256, "nistp256" },
	{ "ecdsa-sha2-nistp384", KT_ECDSA, 384, "nistp384" },
	{ "ecdsa-sha2-nistp521", KT_ECDSA, 521, "nistp521" },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", KT_SK_ECDSA, 256, "nistp256" },
	{ "sk-ssh-ed25519@openssh.com", KT_SK_ED25519, 256, NULL },
};

/* Finds a key type by name (n bytes); *cert is set for the certificate variants. */
static const struct key_type *key_type_of(const char *name, size_t n, bool *cert)
{
	char base[64];
	size_t sl = strlen(CERT_SUFFIX);

	*cert = n > sl && memcmp(name + n - sl, CERT_SUFFIX, sl) == 0;
	if (*cert) {
		int k = snprintf(base, sizeof(base), "%.*s%s", (int)(n - sl), name,
				 n > 3 && memcmp(name, "sk-", 3) == 0 ? "@openssh.com" : "");
		if (k < 0 || (size_t)k >= sizeof(base))
			return NULL;
		name = base;
		n = (size_t)k;
	}
	for (size_t i = 0; i < ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i].name) == n && memcmp(key_types[i].name, name, n) == 0)
			return &key_types[i];
	return NULL;
}

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decodes n bytes of base64 (padding optional) into out; returns 0 or -EBADMSG. */
static int b64_decode(const char *s, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t pad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '=') {
			pad++;
			continue;
		}
		int v = b64_value(ch);
		if (v < 0 || pad)
			return -EBADMSG;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			unsigned char byte = (unsigned char)(acc >> bits);
			if (buf_append(out, &byte, 1) < 0)
				return -EBADMSG;
		}
	}
	if (pad > 2 || bits >= 6 || (pad && (n % 4) != 0))
		return -EBADMSG;
	return 0;
}

static int get_string(struct cursor *c, const unsigned char **p, size_t *n)
{
	uint32_t len;
	const void *v;
	if (cursor_get_u32be(c, &len) < 0 || cursor_get_bytes(c, len, &v) < 0)
		return -EBADMSG;
	*p = v;
	*n = len;
	return 0;
}

static int skip_strings(struct cursor *c, unsigned count)
{
	const unsigned char *p;
	size_t n;
	for (unsigned i = 0; i < count; i++)
		if (get_string(c, &p, &n) < 0)
			return -EBADMSG;
	return 0;
}

/* Bit length of an mpint's magnitude. */
static int64_t mpint_bits(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] == 0)
		i++;
	if (i == n)
		return 0;
	int64_t bits = (int64_t)(n - i - 1) * 8;
	for (unsigned char top = p[i]; top; top >>= 1)
		bits++;
	return bits;
}

/* Walks the key blob: its type name must be name; sets *bits and points *fields at the
 * public key fields (after the type name, and after the nonce of a certificate). */
static int blob_bits(const struct buf *blob, const char *name, size_t name_len,
		     const struct key_type *kt, bool cert, int64_t *bits, struct cursor *fields)
{
	struct cursor c;
	const unsigned char *p, *q;
	size_t n, m;

	cursor_init(&c, buf_str(blob), buf_len(blob));
	if (get_string(&c, &p, &n) < 0 || n != name_len || memcmp(p, name, n) != 0)
		return -EBADMSG;
	if (cert && skip_strings(&c, 1) < 0) /* nonce */
		return -EBADMSG;
	struct cursor start = c;
	switch (kt->kind) {
	case KT_RSA: /* e, n */
		if (skip_strings(&c, 1) < 0 || get_string(&c, &p, &n) < 0)
			return -EBADMSG;
		*bits = mpint_bits(p, n);
		break;
	case KT_DSS: /* p, q, g, y */
		if (get_string(&c, &p, &n) < 0 || skip_strings(&c, 3) < 0)
			return -EBADMSG;
		*bits = mpint_bits(p, n);
		break;
	case KT_ED25519:
	case KT_SK_ED25519: /* pk[, application] */
		if (get_string(&c, &p, &n) < 0 || n != 32 ||
		    (kt->kind == KT_SK_ED25519 && skip_strings(&c, 1) < 0))
			return -EBADMSG;
		*bits = kt->bits;
		break;
	case KT_ECDSA:
	case KT_SK_ECDSA: /* curve, Q[, application] */
		if (get_string(&c, &p, &n) < 0 || n != strlen(kt->curve) ||
		    memcmp(p, kt->curve, n) != 0 || get_string(&c, &q, &m) < 0 || m == 0 ||
		    (kt->kind == KT_SK_ECDSA && skip_strings(&c, 1) < 0))
			return -EBADMSG;
		*bits = kt->bits;
		break;
	}
	/* A certificate goes on (serial, principals, ...); a plain key must end here. */
	if (!cert && !cursor_done(&c))
		return -EBADMSG;
	if (*bits <= 0)
		return -EBADMSG;
	cursor_init(fields, start.p, start.left - c.left);
	return 0;
}

/* The plain public key blob of a certificate (ssh-keygen fingerprints the key, not the
 * certificate): its base type name, then the key fields. */
static void plain_blob(const struct key_type *kt, const struct cursor *fields, struct buf *out)
{
	size_t n = strlen(kt->name);
	unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				 (unsigned char)(n >> 8), (unsigned char)n };
	const void *p;
	struct cursor c = *fields;

	buf_init(out, AUTHKEYS_FILE_MAX);
	(void)buf_append(out, len, sizeof(len));
	(void)buf_append(out, kt->name, n);
	if (cursor_get_bytes(&c, c.left, &p) == 0)
		(void)buf_append(out, p, fields->left);
}

static char *fingerprint(const struct buf *blob)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	if (!EVP_Digest(buf_str(blob), buf_len(blob), md, &mdlen, EVP_sha256(), NULL))
		return NULL;
	int n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	return xasprintf("SHA256:%.*s", n, (const char *)b64);
}

/* Length of the options field at s: up to white space outside double quotes; -1 when a quote
 * is left open. */
static ssize_t options_len(const char *s, size_t len)
{
	bool quote = false;
	size_t i;
	for (i = 0; i < len; i++) {
		if (quote && s[i] == '\\' && i + 1 < len && s[i + 1] == '"')
			i++;
		else if (s[i] == '"')
			quote = !quote;
		else if (!quote && (s[i] == ' ' || s[i] == '\t'))
			break;
	}
	return quote ? -1 : (ssize_t)i;
}

static size_t span_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static size_t span_word(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

void authkey_clear(struct authkey *k)
{
	free(k->options);
	free(k->type);
	free(k->comment);
	free(k->fingerprint);
	*k = (struct authkey){ 0 };
}

int authkey_parse(const char *line, size_t len, struct authkey *out, const char **why)
{
	const struct key_type *kt;
	bool cert;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	size_t i = span_ws(line, len, 0);
	if (i == len || line[i] == '#')
		return 1;
	if (!str_is_text(line, len)) {
		*why = "not text";
		return -EBADMSG;
	}

	/* Without options the first word is the key type; otherwise the word after them. */
	size_t opt_start = i, opt_end = i;
	size_t t = i, te = span_word(line, len, t);
	kt = key_type_of(line + t, te - t, &cert);
	if (!kt) {
		ssize_t ol = options_len(line + i, len - i);
		if (ol < 0) {
			*why = "unterminated quote in options";
			return -EBADMSG;
		}
		opt_end = i + (size_t)ol;
		t = span_ws(line, len, opt_end);
		te = span_word(line, len, t);
		kt = key_type_of(line + t, te - t, &cert);
		if (!kt) {
			*why = "unknown key type";
			return -EBADMSG;
		}
	}
	size_t b = span_ws(line, len, te), be = span_word(line, len, b);
	if (b == be) {
		*why = "missing key data";
		return -EBADMSG;
	}

	struct buf blob, plain;
	struct cursor fields;
	int64_t bits = 0;
	buf_init(&blob, AUTHKEYS_FILE_MAX);
	if (b64_decode(line + b, be - b, &blob) < 0 ||
	    blob_bits(&blob, line + t, te - t, kt, cert, &bits, &fields) < 0) {
		buf_free(&blob);
		*why = "key data does not decode as the named key type";
		return -EBADMSG;
	}
	char *fp;
	if (cert) {
		plain_blob(kt, &fields, &plain);
		fp = fingerprint(&plain);
		buf_free(&plain);
	} else
		fp = fingerprint(&blob);
	buf_free(&blob);
	if (!fp) {
		*why = "cannot hash key";
		return -EBADMSG;
	}
	size_t c = span_ws(line, len, be);
	*out = (struct authkey){
		.options = xstrndup(line + opt_start, opt_end - opt_start),
		.type = xstrndup(line + t, te - t),
		.bits = bits,
		.comment = xstrndup(line + c, len - c),
		.fingerprint = fp,
	};
	return 0;
}

static void authkeys_file(struct inv_ctx *ctx, const char *user, const char *path)
{
	struct buf b;
	struct stat st;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0;

	buf_init(&b, AUTHKEYS_FILE_MAX);
	int r = fsroot_read(ctx->root, path, AUTHKEYS_FILE_MAX, &b);
	if (r == 0)
		r = fsroot_stat(ctx->root, path, true, &st);
	if (r < 0) {
		if (r != -ENOENT)
			inv_error(ctx, "authorized_keys", path, r, "reading %s", path);
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		struct authkey k = { 0 };
		const char *why = NULL;
		lineno++;
		r = authkey_parse(line, len, &k, &why);
		if (r < 0)
			inv_error(ctx, "authorized_keys", path, 0, "line %u: %s", lineno, why);
		if (r != 0)
			continue;
		json_t *row = inv_row(ctx, "authorized_keys");
		inv_set_str(row, "user", user);
		inv_set_str(row, "type", k.type);
		inv_set_int(row, "bits", k.bits);
		inv_set_str(row, "options", k.options);
		inv_set_str(row, "comment", k.comment);
		inv_set_str(row, "fingerprint", k.fingerprint);
		inv_set_int(row, "file_mode", st.st_mode & 07777);
		inv_set_str(row, "file", path);
		inv_set_int(row, "line", lineno);
		authkey_clear(&k);
	}
	buf_free(&b);
}

/* Returns true when an error was recorded for the users table (accounts may be missing). */
static bool users_incomplete(struct inv_ctx *ctx)
{
	size_t i;
	json_t *row;

	json_array_foreach(inv_table_rows(ctx, "errors"), i, row) {
		const char *t = json_string_value(json_object_get(row, "table"));
		if (t && strcmp(t, "users") == 0)
			return true;
	}
	return false;
}

void collect_authorized_keys(struct inv_ctx *ctx)
{
	static const char *const files[] = { ".ssh/authorized_keys", ".ssh/authorized_keys2" };
	size_t i;
	json_t *row;

	if (users_incomplete(ctx))
		inv_error(ctx, "authorized_keys", "/etc/passwd", 0,
			  "users incomplete: some accounts' keys may be missed");

	json_array_foreach(inv_table_rows(ctx, "users"), i, row) {
		const char *user = json_string_value(json_object_get(row, "name"));
		const char *home = json_string_value(json_object_get(row, "home"));
		if (!user || !home || !json_is_true(json_object_get(row, "home_exists")))
			continue;
		for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
			_cleanup_free_ char *path = xasprintf(
				"%s%s%s", home, str_has_suffix(home, "/") ? "" : "/", files[f]);
			authkeys_file(ctx, user, path);
		}
	}
}
