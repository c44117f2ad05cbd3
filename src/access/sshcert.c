/* OpenSSH Ed25519 user certificates: encoding, signing with the CA key, bounded decoding
 * and verification, key and certificate lines (REFERENCE.md §2, docs/ssh-certificates.md). */
#include "access/sshcert.h"
#include "access/sshwire.h"

#include "lib/fileio.h"

#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#define ED25519_TYPE "ssh-ed25519"
#define NONCE_LEN 32
#define SIG_LEN 64
#define CA_PEM_MAX 16384

/* ---- encoding ---------------------------------------------------------------------- */

/* The public key blob: string "ssh-ed25519", string pk[32]. */
static int put_key_blob(struct buf *b, const struct ssh_ed25519_key *k)
{
	int r = ssh_put_cstr(b, ED25519_TYPE);
	return r < 0 ? r : ssh_put_string(b, k->pub, sizeof(k->pub));
}

/* A string whose contents are another buffer. */
static int put_buf(struct buf *b, const struct buf *inner)
{
	return ssh_put_string(b, buf_str(inner), buf_len(inner));
}

struct field {
	const char *name;
	const void *data; /* the value; NULL with len 0 for a flag */
	size_t len;
};

static int field_cmp(const void *a, const void *b)
{
	return strcmp(((const struct field *)a)->name, ((const struct field *)b)->name);
}

/* Writes a sorted list of {string name, string data} where data wraps the value as a string
 * (and is empty for flags). -EINVAL for a repeated or empty name. */
static int put_fields(struct buf *b, struct field *f, size_t n)
{
	struct buf list;
	int r = 0;

	sort_array(f, n, sizeof(*f), field_cmp);
	buf_init(&list, SSHCERT_BLOB_MAX);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!f[i].name[0] || strlen(f[i].name) > SSHCERT_STRING_MAX ||
		    f[i].len > SSHCERT_STRING_MAX ||
		    (i > 0 && strcmp(f[i - 1].name, f[i].name) == 0)) {
			r = -EINVAL;
			break;
		}
		r = ssh_put_cstr(&list, f[i].name);
		if (r == 0 && f[i].len == 0)
			r = ssh_put_u32(&list, 0);
		else if (r == 0) {
			r = ssh_put_u32(&list, (uint32_t)(f[i].len + 4));
			if (r == 0)
				r = ssh_put_string(&list, f[i].data, f[i].len);
		}
	}
	if (r == 0)
		r = put_buf(b, &list);
	buf_free(&list);
	return r;
}

static bool text_ok(const char *s, size_t max)
{
	return s && strlen(s) <= max;
}

static int check_request(const struct sshcert_request *req)
{
	if (req->n_principals == 0 || req->n_principals > SSHCERT_MAX_PRINCIPALS ||
	    !req->principals || req->valid_before <= req->valid_after ||
	    !text_ok(req->key_id, SSHCERT_KEY_ID_MAX) || (req->n_extra && !req->extra))
		return -EINVAL;
	for (size_t i = 0; i < req->n_principals; i++)
		if (!text_ok(req->principals[i], SSHCERT_STRING_MAX) || !req->principals[i][0])
			return -EINVAL;
	if ((req->force_command && !text_ok(req->force_command, SSHCERT_STRING_MAX)) ||
	    (req->source_address && !text_ok(req->source_address, SSHCERT_STRING_MAX)))
		return -EINVAL;
	for (size_t i = 0; i < req->n_extra; i++)
		if (!req->extra[i].name || (req->extra[i].len && !req->extra[i].data))
			return -EINVAL;
	return 0;
}

static int put_options(struct buf *b, const struct sshcert_request *req)
{
	struct field f[2];
	size_t n = 0;

	if (req->force_command)
		f[n++] = (struct field){ "force-command", req->force_command,
					 strlen(req->force_command) };
	if (req->source_address)
		f[n++] = (struct field){ "source-address", req->source_address,
					 strlen(req->source_address) };
	return put_fields(b, f, n);
}

static int put_extensions(struct buf *b, const struct sshcert_request *req)
{
	struct field f[SSHCERT_MAX_EXTENSIONS];
	const struct {
		bool on;
		const char *name;
	} flags[] = {
		{ req->permit_agent_forwarding, "permit-agent-forwarding" },
		{ req->permit_port_forwarding, "permit-port-forwarding" },
		{ req->permit_pty, "permit-pty" },
		{ req->permit_user_rc, "permit-user-rc" },
		{ req->permit_x11_forwarding, "permit-X11-forwarding" },
	};
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (flags[i].on)
			f[n++] = (struct field){ flags[i].name, NULL, 0 };
	if (req->n_extra > SSHCERT_MAX_EXTENSIONS - n)
		return -EINVAL;
	for (size_t i = 0; i < req->n_extra; i++)
		f[n++] =
			(struct field){ req->extra[i].name, req->extra[i].data, req->extra[i].len };
	return put_fields(b, f, n);
}

/* Everything the signature covers, up to and including the signature key. */
static int put_tbs(struct buf *b, const struct sshcert_request *req,
		   const struct ssh_ed25519_key *ca_pub)
{
	unsigned char nonce[NONCE_LEN];
	struct buf inner;
	int r;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	r = ssh_put_cstr(b, SSHCERT_ED25519_TYPE);
	if (r == 0)
		r = ssh_put_string(b, nonce, sizeof(nonce));
	if (r == 0)
		r = ssh_put_string(b, req->key.pub, sizeof(req->key.pub));
	if (r == 0)
		r = ssh_put_u64(b, req->serial);
	if (r == 0)
		r = ssh_put_u32(b, 1);
	if (r == 0)
		r = ssh_put_cstr(b, req->key_id);
	buf_init(&inner, SSHCERT_BLOB_MAX);
	for (size_t i = 0; i < req->n_principals && r == 0; i++)
		r = ssh_put_cstr(&inner, req->principals[i]);
	if (r == 0)
		r = put_buf(b, &inner);
	buf_free(&inner);
	if (r == 0)
		r = ssh_put_u64(b, req->valid_after);
	if (r == 0)
		r = ssh_put_u64(b, req->valid_before);
	if (r == 0)
		r = put_options(b, req);
	if (r == 0)
		r = put_extensions(b, req);
	if (r == 0)
		r = ssh_put_string(b, "", 0); /* reserved */
	if (r == 0) {
		buf_init(&inner, 64);
		r = put_key_blob(&inner, ca_pub);
		if (r == 0)
			r = put_buf(b, &inner);
		buf_free(&inner);
	}
	return r;
}

int sshcert_sign(const struct sshcert_request *req, void *ca, struct buf *out)
{
	struct ssh_ed25519_key ca_pub;
	unsigned char sig[SIG_LEN];
	size_t sig_len = sizeof(sig);
	struct buf cert, inner;
	EVP_MD_CTX *md = NULL;
	int r;

	if (!req || !ca || !out)
		return -EINVAL;
	r = check_request(req);
	if (r < 0)
		return r;
	r = sshcert_ca_public(ca, &ca_pub);
	if (r < 0)
		return r;
	buf_init(&cert, SSHCERT_BLOB_MAX);
	r = put_tbs(&cert, req, &ca_pub);
	if (r == -EMSGSIZE)
		r = -EINVAL; /* larger than any certificate we accept */
	if (r == 0) {
		md = EVP_MD_CTX_new();
		if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, ca) != 1 ||
		    EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)buf_str(&cert),
				   buf_len(&cert)) != 1 ||
		    sig_len != SIG_LEN)
			r = -EIO;
		EVP_MD_CTX_free(md);
	}
	if (r == 0) {
		buf_init(&inner, 128);
		r = ssh_put_cstr(&inner, ED25519_TYPE);
		if (r == 0)
			r = ssh_put_string(&inner, sig, sig_len);
		if (r == 0)
			r = put_buf(&cert, &inner);
		buf_free(&inner);
		if (r == -EMSGSIZE)
			r = -EINVAL;
	}
	if (r == 0)
		r = buf_append(out, buf_str(&cert), buf_len(&cert));
	buf_free(&cert);
	return r;
}

/* ---- decoding ---------------------------------------------------------------------- */

/* Copies of the decoded text, NUL-terminated, in one allocation sized from the blob. */
struct arena {
	char *base;
	size_t used, size;
};

/* Reads a text string (no NUL inside) and returns a NUL-terminated copy in *s. */
static int get_text(struct cursor *c, struct arena *a, size_t max, const char **s)
{
	const void *p;
	size_t n;
	int r = ssh_get_string(c, max, &p, &n);

	if (r < 0)
		return r;
	if (memchr(p, 0, n) || a->size - a->used < n + 1)
		return -EBADMSG;
	memcpy(a->base + a->used, p, n);
	a->base[a->used + n] = 0;
	*s = a->base + a->used;
	a->used += n + 1;
	return 0;
}

/* Reads a string that must be exactly the key blob of an Ed25519 key. */
static int get_key_blob(struct cursor *c, struct ssh_ed25519_key *k)
{
	struct cursor sub;
	const void *type, *pk;
	size_t tn, pn;
	int r = ssh_get_sub(c, SSHCERT_STRING_MAX, &sub);

	if (r == 0)
		r = ssh_get_string(&sub, SSHCERT_STRING_MAX, &type, &tn);
	if (r == 0 && (tn != strlen(ED25519_TYPE) || memcmp(type, ED25519_TYPE, tn) != 0))
		r = -EBADMSG;
	if (r == 0)
		r = ssh_get_string(&sub, SSHCERT_STRING_MAX, &pk, &pn);
	if (r == 0 && (pn != sizeof(k->pub) || !cursor_done(&sub)))
		r = -EBADMSG;
	if (r == 0)
		memcpy(k->pub, pk, sizeof(k->pub));
	return r;
}

static int get_principals(struct cursor *c, struct arena *a, struct sshcert *out)
{
	struct cursor sub;
	int r = ssh_get_sub(c, SSHCERT_BLOB_MAX, &sub);

	while (r == 0 && !cursor_done(&sub)) {
		if (out->n_principals == SSHCERT_MAX_PRINCIPALS)
			return -E2BIG;
		r = get_text(&sub, a, SSHCERT_STRING_MAX, &out->principals[out->n_principals]);
		if (r == 0)
			out->n_principals++;
	}
	return r;
}

/* Reads one {name, data} entry of a sorted list. The data is empty (a flag) or a string
 * wrapping the value, copied into the arena (NUL-terminated) as *value. */
static int get_field(struct cursor *c, struct arena *a, const char *prev, const char **name,
		     const char **value, size_t *len)
{
	struct cursor data;
	int r = get_text(c, a, SSHCERT_STRING_MAX, name);

	if (r < 0)
		return r;
	if (!(*name)[0] || (prev && strcmp(prev, *name) >= 0))
		return -EBADMSG; /* empty, unsorted or repeated */
	r = ssh_get_sub(c, SSHCERT_STRING_MAX + 4, &data);
	if (r < 0)
		return r;
	*value = NULL;
	*len = 0;
	if (cursor_done(&data))
		return 0;
	const void *p;
	size_t n;
	r = ssh_get_string(&data, SSHCERT_STRING_MAX, &p, &n);
	if (r == 0 && (!cursor_done(&data) || a->size - a->used < n + 1))
		r = -EBADMSG;
	if (r < 0)
		return r;
	memcpy(a->base + a->used, p, n);
	a->base[a->used + n] = 0;
	*value = a->base + a->used;
	*len = n;
	a->used += n + 1;
	return 0;
}

static int get_options(struct cursor *c, struct arena *a, struct sshcert *out)
{
	struct cursor sub;
	const char *prev = NULL, *name, *value;
	size_t len;
	int r = ssh_get_sub(c, SSHCERT_BLOB_MAX, &sub);

	while (r == 0 && !cursor_done(&sub)) {
		r = get_field(&sub, a, prev, &name, &value, &len);
		if (r < 0)
			break;
		if (strcmp(name, "force-command") == 0 && value && !memchr(value, 0, len))
			out->force_command = value;
		else if (strcmp(name, "source-address") == 0 && value && !memchr(value, 0, len))
			out->source_address = value;
		else if (strcmp(name, "verify-required") == 0 && !value)
			; /* a FIDO user-verification demand sshd enforces itself */
		else
			r = -EBADMSG; /* unknown, or a value of the wrong shape */
		prev = name;
	}
	return r;
}

static int get_extensions(struct cursor *c, struct arena *a, struct sshcert *out)
{
	struct cursor sub;
	const char *prev = NULL;
	int r = ssh_get_sub(c, SSHCERT_BLOB_MAX, &sub);

	while (r == 0 && !cursor_done(&sub)) {
		struct sshcert_extension *e;
		const char *value;

		if (out->n_extensions == SSHCERT_MAX_EXTENSIONS)
			return -E2BIG;
		e = &out->extensions[out->n_extensions];
		r = get_field(&sub, a, prev, &e->name, &value, &e->len);
		if (r < 0)
			break;
		e->data = (const unsigned char *)value;
		prev = e->name;
		out->n_extensions++;
	}
	return r;
}

static bool verify_ed25519(const struct ssh_ed25519_key *k, const void *msg, size_t n,
			   const unsigned char *sig)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub, sizeof(k->pub));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = pk && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
		  EVP_DigestVerify(md, sig, SIG_LEN, msg, n) == 1;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return ok;
}

static int get_signature(struct cursor *c, const unsigned char **sig)
{
	struct cursor sub;
	const void *type, *p;
	size_t tn, n;
	int r = ssh_get_sub(c, SSHCERT_STRING_MAX, &sub);

	if (r == 0)
		r = ssh_get_string(&sub, SSHCERT_STRING_MAX, &type, &tn);
	if (r == 0 && (tn != strlen(ED25519_TYPE) || memcmp(type, ED25519_TYPE, tn) != 0))
		r = -EBADMSG;
	if (r == 0)
		r = ssh_get_string(&sub, SSHCERT_STRING_MAX, &p, &n);
	if (r == 0 && (n != SIG_LEN || !cursor_done(&sub)))
		r = -EBADMSG;
	if (r == 0)
		*sig = p;
	return r;
}

static int parse_body(struct cursor *c, struct arena *a, struct sshcert *out)
{
	const void *p;
	size_t n;
	int r;

	r = ssh_get_string(c, SSHCERT_STRING_MAX, &p, &n);
	if (r == 0 && (n != strlen(SSHCERT_ED25519_TYPE) || memcmp(p, SSHCERT_ED25519_TYPE, n)))
		r = -EBADMSG;
	if (r == 0)
		r = ssh_get_string(c, SSHCERT_STRING_MAX, &p, &n); /* nonce */
	if (r == 0)
		r = ssh_get_string(c, SSHCERT_STRING_MAX, &p, &n);
	if (r == 0 && n != sizeof(out->key.pub))
		r = -EBADMSG;
	if (r == 0) {
		memcpy(out->key.pub, p, n);
		r = cursor_get_u64be(c, &out->serial);
	}
	if (r == 0)
		r = cursor_get_u32be(c, &out->type);
	if (r == 0 && out->type != 1 && out->type != 2)
		r = -EBADMSG;
	if (r == 0)
		r = get_text(c, a, SSHCERT_KEY_ID_MAX, &out->key_id);
	if (r == 0)
		r = get_principals(c, a, out);
	if (r == 0)
		r = cursor_get_u64be(c, &out->valid_after);
	if (r == 0)
		r = cursor_get_u64be(c, &out->valid_before);
	if (r == 0)
		r = get_options(c, a, out);
	if (r == 0)
		r = get_extensions(c, a, out);
	if (r == 0)
		r = ssh_get_string(c, SSHCERT_STRING_MAX, &p, &n); /* reserved */
	return r;
}

int sshcert_parse(const void *blob, size_t len, struct sshcert *out)
{
	struct sshcert c = { 0 };
	struct arena a = { 0 };
	struct cursor cur;
	const unsigned char *sig = NULL;
	size_t signed_len;
	int r;

	if (!blob && len)
		return -EBADMSG;
	if (len > SSHCERT_BLOB_MAX)
		return -E2BIG;
	/* Every copied string had a 4-byte length before it in the blob, so len + 1 bytes hold
	 * all the copies with their terminating NULs. */
	a.size = len + 1;
	a.base = xmalloc(a.size);
	cursor_init(&cur, blob, len);
	r = parse_body(&cur, &a, &c);
	if (r == 0)
		r = get_key_blob(&cur, &c.signature_key);
	signed_len = len - cur.left; /* the signature covers everything before it */
	if (r == 0)
		r = get_signature(&cur, &sig);
	if (r == 0 && !cursor_done(&cur))
		r = -EBADMSG;
	if (r < 0) {
		free(a.base);
		return r;
	}
	c.signature_valid = verify_ed25519(&c.signature_key, blob, signed_len, sig);
	c.storage_ = a.base;
	*out = c;
	return 0;
}

void sshcert_free(struct sshcert *c)
{
	if (!c)
		return;
	free(c->storage_);
	memset(c, 0, sizeof(*c));
}

const struct sshcert_extension *sshcert_extension(const struct sshcert *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_extensions; i++)
		if (strcmp(c->extensions[i].name, name) == 0)
			return &c->extensions[i];
	return NULL;
}

/* ---- the CA key -------------------------------------------------------------------- */

static EVP_PKEY *ca_from_pem(const struct buf *pem)
{
	BIO *bio = BIO_new_mem_buf(buf_str(pem), (int)buf_len(pem));
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

static int ca_load(const char *path, EVP_PKEY **out)
{
	struct buf pem;
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_mode & 077)
		return -EPERM; /* readable by others: refuse to use it, like ssh does */
	buf_init(&pem, CA_PEM_MAX);
	r = file_read_capped(path, CA_PEM_MAX, &pem);
	if (r == 0) {
		*out = ca_from_pem(&pem);
		if (!*out)
			r = -EBADMSG;
	}
	buf_free_secret(&pem);
	return r;
}

static int pem_of(EVP_PKEY *k, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int r = -EIO;

	if (bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1) {
		n = BIO_get_mem_data(bio, &p);
		if (n > 0)
			r = buf_append(out, p, (size_t)n);
		OPENSSL_cleanse(p, (size_t)n);
	}
	BIO_free(bio);
	return r;
}

/* Writes pem to a temporary file beside path and links it into place: the CA file appears
 * whole or not at all, and an existing one is never replaced (-EEXIST). */
static int ca_write_new(const char *path, const struct buf *pem)
{
	_cleanup_free_ char *tmp = xasprintf("%s.new.XXXXXX", path);
	_cleanup_free_ char *dir_copy = xstrdup(path);
	int fd, r = 0;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	if (r == 0)
		r = fd_write_all(fd, buf_str(pem), buf_len(pem));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	if (r == 0) {
		int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	return r;
}

void *sshcert_ca_load_or_create(const char *pem_path)
{
	EVP_PKEY *k = NULL;
	struct buf pem;
	int r;

	if (!pem_path) {
		errno = EINVAL;
		return NULL;
	}
	r = ca_load(pem_path, &k);
	if (r != -ENOENT)
		goto out;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k) {
		r = -EIO;
		goto out;
	}
	buf_init(&pem, CA_PEM_MAX);
	r = pem_of(k, &pem);
	if (r == 0)
		r = ca_write_new(pem_path, &pem);
	buf_free_secret(&pem);
	if (r == -EEXIST) { /* created meanwhile by another process: use that one */
		EVP_PKEY_free(k);
		k = NULL;
		r = ca_load(pem_path, &k);
	}
out:
	if (r < 0) {
		EVP_PKEY_free(k);
		errno = -r;
		return NULL;
	}
	return k;
}

void sshcert_ca_free(void *ca)
{
	EVP_PKEY_free(ca);
}

int sshcert_ca_public(void *ca, struct ssh_ed25519_key *out)
{
	size_t n = sizeof(out->pub);

	if (!ca || EVP_PKEY_get_base_id(ca) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(ca, out->pub, &n) != 1 || n != sizeof(out->pub))
		return -EINVAL;
	return 0;
}

/* ---- lines and base64 -------------------------------------------------------------- */

static char *b64_encode(const void *p, size_t n)
{
	char *s;

	if (n > SSHCERT_BLOB_MAX)
		return NULL;
	s = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* Decodes exactly n characters of strict base64 (padded, no whitespace) into out. */
static int b64_decode(const char *s, size_t n, struct buf *out)
{
	size_t pad = 0;
	unsigned char *tmp;
	int m, r;

	if (n == 0 || n % 4 != 0 || n > 4 * ((SSHCERT_BLOB_MAX + 2) / 3))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
		if (ch == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (!alnum || pad)
			return -EBADMSG; /* a character past the padding, or not base64 */
	}
	tmp = xmalloc(n / 4 * 3 + 1);
	m = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	r = m < 0 || (size_t)m < pad ? -EBADMSG : buf_append(out, tmp, (size_t)m - pad);
	free(tmp);
	return r;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Splits "TYPE BASE64[ comment]": *b64 and *b64_len; the type must equal type. */
static int split_line(const char *line, const char *type, const char **b64, size_t *b64_len)
{
	size_t tn = strlen(type), n;

	while (is_space(*line))
		line++;
	if (strncmp(line, type, tn) != 0 || !is_space(line[tn]))
		return -EBADMSG;
	line += tn;
	while (is_space(*line))
		line++;
	for (n = 0; line[n] && !is_space(line[n]); n++)
		;
	*b64 = line;
	*b64_len = n;
	return 0;
}

static char *line_of(const char *type, const void *blob, size_t len, const char *comment)
{
	_cleanup_free_ char *b64 = b64_encode(blob, len);

	if (!b64)
		return NULL;
	if (comment && comment[0])
		return xasprintf("%s %s %s", type, b64, comment);
	return xasprintf("%s %s", type, b64);
}

char *ssh_ed25519_key_line(const struct ssh_ed25519_key *k, const char *comment)
{
	struct buf blob;
	char *line = NULL;

	buf_init(&blob, 64);
	if (k && put_key_blob(&blob, k) == 0)
		line = line_of(ED25519_TYPE, buf_str(&blob), buf_len(&blob), comment);
	buf_free(&blob);
	return line;
}

int ssh_ed25519_key_parse_line(const char *line, struct ssh_ed25519_key *out)
{
	const char *b64;
	size_t n;
	struct buf blob, wrap;
	struct cursor c;
	struct ssh_ed25519_key k;
	int r;

	if (!line)
		return -EBADMSG;
	r = split_line(line, ED25519_TYPE, &b64, &n);
	if (r < 0)
		return r;
	buf_init(&blob, SSHCERT_BLOB_MAX);
	r = b64_decode(b64, n, &blob);
	if (r == 0) {
		/* the key blob, read as the contents of a string */
		buf_init(&wrap, SSHCERT_BLOB_MAX + 4);
		r = put_buf(&wrap, &blob);
		cursor_init(&c, buf_str(&wrap), buf_len(&wrap));
		if (r == 0)
			r = get_key_blob(&c, &k);
		buf_free(&wrap);
	}
	buf_free(&blob);
	if (r < 0)
		return r == -E2BIG || r == -EMSGSIZE ? -EBADMSG : r;
	*out = k;
	return 0;
}

char *sshcert_line(const void *blob, size_t len, const char *comment)
{
	return line_of(SSHCERT_ED25519_TYPE, blob, len, comment);
}

int sshcert_blob_from_base64(const char *text, struct buf *out)
{
	const char *b64;
	size_t n;
	struct buf blob;
	struct cursor c;
	const void *type;
	size_t tn;
	int r;

	if (!text)
		return -EBADMSG;
	if (split_line(text, SSHCERT_ED25519_TYPE, &b64, &n) < 0) {
		/* a bare base64 blob, with nothing but blanks around it */
		while (is_space(*text))
			text++;
		for (n = 0; text[n] && !is_space(text[n]); n++)
			;
		b64 = text;
		for (size_t i = n; text[i]; i++)
			if (!is_space(text[i]))
				return -EBADMSG;
	}
	buf_init(&blob, SSHCERT_BLOB_MAX);
	r = b64_decode(b64, n, &blob);
	if (r == 0) {
		cursor_init(&c, buf_str(&blob), buf_len(&blob));
		r = ssh_get_string(&c, SSHCERT_STRING_MAX, &type, &tn);
		if (r < 0 || tn != strlen(SSHCERT_ED25519_TYPE) ||
		    memcmp(type, SSHCERT_ED25519_TYPE, tn) != 0)
			r = -EBADMSG;
	}
	if (r == -EMSGSIZE)
		r = -EBADMSG; /* larger than any certificate */
	if (r == 0)
		r = buf_append(out, buf_str(&blob), buf_len(&blob));
	buf_free(&blob);
	return r;
}
