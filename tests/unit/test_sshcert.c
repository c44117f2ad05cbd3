/* Unit tests for src/access/sshcert.c: signing, decoding, every refusal of the decoder, the
 * limits, the CA key file and the key and certificate lines. Malformed certificates are
 * built here by a small encoder of the test's own and signed with the CA key, so that each
 * refusal is the one under test and not a bad signature. */
#include "unit.h"

#include "access/sshcert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a test encoder for certificates of any shape ---------------------------------- */

static void w_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };
	assert_int_equal(buf_append(b, p, 4), 0);
}

static void w_u64(struct buf *b, uint64_t v)
{
	w_u32(b, (uint32_t)(v >> 32));
	w_u32(b, (uint32_t)v);
}

static void w_str(struct buf *b, const void *p, size_t n)
{
	w_u32(b, (uint32_t)n);
	assert_int_equal(buf_append(b, p, n), 0);
}

static void w_cstr(struct buf *b, const char *s)
{
	w_str(b, s, strlen(s));
}

static void w_buf(struct buf *b, const struct buf *inner)
{
	w_str(b, buf_str(inner), buf_len(inner));
}

/* A name/value list entry as written: value NULL for a flag. */
struct kv {
	const char *name, *value;
};

static void w_list(struct buf *b, const struct kv *kv, size_t n)
{
	struct buf l, v;

	buf_init(&l, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		w_cstr(&l, kv[i].name);
		buf_init(&v, 1 << 20);
		if (kv[i].value)
			w_cstr(&v, kv[i].value);
		w_buf(&l, &v);
		buf_free(&v);
	}
	w_buf(b, &l);
	buf_free(&l);
}

struct shape {
	const char *type;
	size_t pk_len;
	uint32_t cert_type;
	const char *key_id;
	const char *const *principals;
	size_t n_principals;
	const struct kv *options;
	size_t n_options;
	const struct kv *extensions;
	size_t n_extensions;
	size_t sig_len;
	size_t trailing;
};

static const char *const one_principal[] = { "alice" };

static struct shape good_shape(void)
{
	return (struct shape){ .type = SSHCERT_ED25519_TYPE,
			       .pk_len = 32,
			       .cert_type = 1,
			       .key_id = "alice@example/policy/7",
			       .principals = one_principal,
			       .n_principals = 1,
			       .sig_len = 64 };
}

/* Encodes s and signs it with ca (EVP Ed25519), into out. */
static void build(const struct shape *s, EVP_PKEY *ca, struct buf *out)
{
	unsigned char pk[64] = { 1, 2, 3 }, sig[64 + 8] = { 0 }, capub[32];
	size_t sig_len = 64, capub_len = 32;
	struct buf inner;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	buf_init(out, 1 << 20);
	w_cstr(out, s->type);
	w_str(out, "0123456789abcdef0123456789abcdef", 32);
	w_str(out, pk, s->pk_len);
	w_u64(out, 42);
	w_u32(out, s->cert_type);
	w_cstr(out, s->key_id);
	buf_init(&inner, 1 << 20);
	for (size_t i = 0; i < s->n_principals; i++)
		w_cstr(&inner, s->principals[i]);
	w_buf(out, &inner);
	buf_free(&inner);
	w_u64(out, 1000);
	w_u64(out, 2000);
	w_list(out, s->options, s->n_options);
	w_list(out, s->extensions, s->n_extensions);
	w_str(out, "", 0);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ca, capub, &capub_len), 1);
	buf_init(&inner, 128);
	w_cstr(&inner, "ssh-ed25519");
	w_str(&inner, capub, 32);
	w_buf(out, &inner);
	buf_free(&inner);
	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, ca), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)buf_str(out),
					buf_len(out)),
			 1);
	EVP_MD_CTX_free(md);
	buf_init(&inner, 128);
	w_cstr(&inner, "ssh-ed25519");
	w_str(&inner, sig, s->sig_len);
	w_buf(out, &inner);
	buf_free(&inner);
	for (size_t i = 0; i < s->trailing; i++)
		assert_int_equal(buf_append(out, "", 1), 0);
}

/* ---- fixtures ---------------------------------------------------------------------- */

struct fx {
	char dir[64];
	char *pem;
	void *ca;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/immune-sshcert-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->pem = xasprintf("%s/ca.pem", f->dir);
	f->ca = sshcert_ca_load_or_create(f->pem);
	if (!f->ca)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *other = xasprintf("%s/other.pem", f->dir);

	sshcert_ca_free(f->ca);
	unlink(f->pem);
	unlink(other);
	rmdir(f->dir);
	free(f->pem);
	free(f);
	return 0;
}

static struct sshcert_request base_request(void)
{
	struct sshcert_request r = { 0 };

	memset(r.key.pub, 0x5a, sizeof(r.key.pub));
	r.serial = 0x1122334455667788ULL;
	r.key_id = "alice/grant-1/1234";
	r.principals = one_principal;
	r.n_principals = 1;
	r.valid_after = 1700000000;
	r.valid_before = 1700000300;
	return r;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	const char *const principals[] = { "alice", "deploy" };
	const struct sshcert_extension extra[] = {
		{ "immune-identity@immune", (const unsigned char *)"{\"team\":\"ops\"}", 14 },
		{ "zz-flag@immune", NULL, 0 },
	};
	struct sshcert_request req = base_request();
	struct ssh_ed25519_key ca_pub;
	struct sshcert c;
	struct buf b;

	req.principals = principals;
	req.n_principals = 2;
	req.force_command = "/usr/libexec/immune/immune-agent session";
	req.source_address = "10.0.0.1/32,192.168.0.0/24";
	req.permit_pty = req.permit_port_forwarding = req.permit_agent_forwarding = true;
	req.permit_x11_forwarding = req.permit_user_rc = true;
	req.extra = extra;
	req.n_extra = 2;
	buf_init(&b, SSHCERT_BLOB_MAX);
	assert_int_equal(sshcert_sign(&req, f->ca, &b), 0);
	assert_int_equal(sshcert_parse(buf_str(&b), buf_len(&b), &c), 0);
	assert_true(c.signature_valid);
	assert_int_equal(sshcert_ca_public(f->ca, &ca_pub), 0);
	assert_memory_equal(c.signature_key.pub, ca_pub.pub, 32);
	assert_memory_equal(c.key.pub, req.key.pub, 32);
	assert_true(c.serial == req.serial);
	assert_int_equal(c.type, 1);
	assert_string_equal(c.key_id, req.key_id);
	assert_int_equal(c.n_principals, 2);
	assert_string_equal(c.principals[0], "alice");
	assert_string_equal(c.principals[1], "deploy");
	assert_true(c.valid_after == req.valid_after && c.valid_before == req.valid_before);
	assert_string_equal(c.force_command, req.force_command);
	assert_string_equal(c.source_address, req.source_address);
	/* extensions come back sorted by name (byte order: upper case first) */
	const char *order[] = { "immune-identity@immune",
				"permit-X11-forwarding",
				"permit-agent-forwarding",
				"permit-port-forwarding",
				"permit-pty",
				"permit-user-rc",
				"zz-flag@immune" };
	assert_int_equal(c.n_extensions, ARRAY_SIZE(order));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		assert_string_equal(c.extensions[i].name, order[i]);
	const struct sshcert_extension *e = sshcert_extension(&c, "immune-identity@immune");
	assert_non_null(e);
	assert_int_equal(e->len, 14);
	assert_memory_equal(e->data, "{\"team\":\"ops\"}", 14);
	e = sshcert_extension(&c, "permit-pty");
	assert_non_null(e);
	assert_null(e->data);
	assert_int_equal(e->len, 0);
	assert_null(sshcert_extension(&c, "no-touch-required"));
	sshcert_free(&c);
	sshcert_free(&c); /* idempotent */

	/* a minimal certificate: no options, no extensions */
	req = base_request();
	buf_reset(&b);
	assert_int_equal(sshcert_sign(&req, f->ca, &b), 0);
	assert_int_equal(sshcert_parse(buf_str(&b), buf_len(&b), &c), 0);
	assert_null(c.force_command);
	assert_null(c.source_address);
	assert_int_equal(c.n_extensions, 0);
	assert_true(c.signature_valid);
	sshcert_free(&c);
	buf_free(&b);
}

static void test_sign_refusals(void **state)
{
	struct fx *f = *state;
	struct sshcert_request req;
	struct sshcert_extension extra[SSHCERT_MAX_EXTENSIONS];
	char names[SSHCERT_MAX_EXTENSIONS][16];
	const char *many[SSHCERT_MAX_PRINCIPALS + 1];
	char long_id[SSHCERT_KEY_ID_MAX + 2];
	struct buf b;

	buf_init(&b, SSHCERT_BLOB_MAX);
	req = base_request();
	req.n_principals = 0;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	req = base_request();
	req.valid_before = req.valid_after;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	req = base_request();
	req.key_id = NULL;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	memset(long_id, 'k', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = 0;
	req = base_request();
	req.key_id = long_id;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "p";
	req = base_request();
	req.principals = many;
	req.n_principals = SSHCERT_MAX_PRINCIPALS + 1;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	req.n_principals = SSHCERT_MAX_PRINCIPALS;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), 0);
	buf_reset(&b);
	const char *empty[] = { "" };
	req = base_request();
	req.principals = empty;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);

	/* 16 extensions in all are fine, 17 are not */
	for (size_t i = 0; i < SSHCERT_MAX_EXTENSIONS; i++) {
		snprintf(names[i], sizeof(names[i]), "x%02zu@immune", i);
		extra[i] = (struct sshcert_extension){ names[i], NULL, 0 };
	}
	req = base_request();
	req.extra = extra;
	req.n_extra = SSHCERT_MAX_EXTENSIONS;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), 0);
	buf_reset(&b);
	req.permit_pty = true;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	/* a name twice, or a name that a permit flag also writes */
	req = base_request();
	extra[1].name = extra[0].name;
	req.extra = extra;
	req.n_extra = 2;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	extra[1].name = "permit-pty";
	req.permit_pty = true;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	extra[1].name = "";
	req.permit_pty = false;
	assert_int_equal(sshcert_sign(&req, f->ca, &b), -EINVAL);
	req = base_request();
	assert_int_equal(sshcert_sign(&req, NULL, &b), -EINVAL);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

/* Parses s built by the test encoder and checks the result. */
static void expect_parse(struct fx *f, const struct shape *s, int want)
{
	struct sshcert c, untouched;
	struct buf b;
	int r;

	build(s, f->ca, &b);
	memset(&c, 0x77, sizeof(c));
	untouched = c;
	r = sshcert_parse(buf_str(&b), buf_len(&b), &c);
	assert_int_equal(r, want);
	if (r == 0) {
		assert_true(c.signature_valid);
		sshcert_free(&c);
	} else {
		assert_memory_equal(&c, &untouched, sizeof(c));
	}
	buf_free(&b);
}

static void test_parse_refusals(void **state)
{
	struct fx *f = *state;
	struct shape s;

	s = good_shape();
	expect_parse(f, &s, 0);
	s.type = "ssh-rsa-cert-v01@openssh.com";
	expect_parse(f, &s, -EBADMSG);
	s = good_shape();
	s.pk_len = 33;
	expect_parse(f, &s, -EBADMSG);
	s = good_shape();
	s.cert_type = 3;
	expect_parse(f, &s, -EBADMSG);
	s = good_shape();
	s.trailing = 1;
	expect_parse(f, &s, -EBADMSG);
	s = good_shape();
	s.sig_len = 63;
	expect_parse(f, &s, -EBADMSG);

	/* critical options: known ones in order pass, the rest is refused */
	const struct kv opts_ok[] = { { "force-command", "/bin/true" },
				      { "source-address", "127.0.0.1/32" },
				      { "verify-required", NULL } };
	const struct kv opts_unsorted[] = { { "source-address", "127.0.0.1/32" },
					    { "force-command", "/bin/true" } };
	const struct kv opts_twice[] = { { "force-command", "/bin/a" },
					 { "force-command", "/bin/b" } };
	const struct kv opts_unknown[] = { { "no-such-option@example", NULL } };
	const struct kv opts_flag_value[] = { { "force-command", NULL } };
	s = good_shape();
	s.options = opts_ok;
	s.n_options = 3;
	expect_parse(f, &s, 0);
	s.options = opts_unsorted;
	s.n_options = 2;
	expect_parse(f, &s, -EBADMSG);
	s.options = opts_twice;
	expect_parse(f, &s, -EBADMSG);
	s.options = opts_unknown;
	s.n_options = 1;
	expect_parse(f, &s, -EBADMSG);
	s.options = opts_flag_value;
	expect_parse(f, &s, -EBADMSG);

	/* extensions: unknown ones are kept, order and repeats are refused */
	const struct kv ext_unsorted[] = { { "permit-pty", NULL },
					   { "permit-X11-forwarding", NULL } };
	const struct kv ext_twice[] = { { "permit-pty", NULL }, { "permit-pty", NULL } };
	const struct kv ext_empty_name[] = { { "", NULL } };
	s = good_shape();
	s.extensions = ext_unsorted;
	s.n_extensions = 2;
	expect_parse(f, &s, -EBADMSG);
	s.extensions = ext_twice;
	expect_parse(f, &s, -EBADMSG);
	s.extensions = ext_empty_name;
	s.n_extensions = 1;
	expect_parse(f, &s, -EBADMSG);

	/* a NUL inside a text string */
	s = good_shape();
	struct buf b;
	build(&s, f->ca, &b);
	char *p = memmem(buf_str(&b), buf_len(&b), "alice", 5);
	assert_non_null(p);
	p[3] = 0;
	struct sshcert c;
	assert_int_equal(sshcert_parse(buf_str(&b), buf_len(&b), &c), -EBADMSG);
	buf_free(&b);
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	const char *principals[SSHCERT_MAX_PRINCIPALS + 1];
	struct kv ext[SSHCERT_MAX_EXTENSIONS + 1];
	char names[SSHCERT_MAX_EXTENSIONS + 1][16];
	char id[SSHCERT_KEY_ID_MAX + 2], big[SSHCERT_STRING_MAX + 2];
	struct shape s;

	for (size_t i = 0; i < ARRAY_SIZE(principals); i++)
		principals[i] = "p";
	s = good_shape();
	s.principals = principals;
	s.n_principals = SSHCERT_MAX_PRINCIPALS;
	expect_parse(f, &s, 0);
	s.n_principals = SSHCERT_MAX_PRINCIPALS + 1;
	expect_parse(f, &s, -E2BIG);

	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		snprintf(names[i], sizeof(names[i]), "x%02zu", i);
		ext[i] = (struct kv){ names[i], NULL };
	}
	s = good_shape();
	s.extensions = ext;
	s.n_extensions = SSHCERT_MAX_EXTENSIONS;
	expect_parse(f, &s, 0);
	s.n_extensions = SSHCERT_MAX_EXTENSIONS + 1;
	expect_parse(f, &s, -E2BIG);

	memset(id, 'i', sizeof(id));
	id[SSHCERT_KEY_ID_MAX] = 0;
	s = good_shape();
	s.key_id = id;
	expect_parse(f, &s, 0);
	id[SSHCERT_KEY_ID_MAX] = 'i';
	id[SSHCERT_KEY_ID_MAX + 1] = 0;
	expect_parse(f, &s, -E2BIG);

	memset(big, 'b', sizeof(big));
	big[SSHCERT_STRING_MAX] = 0;
	const char *const big_principal[] = { big };
	s = good_shape();
	s.principals = big_principal;
	expect_parse(f, &s, 0);
	big[SSHCERT_STRING_MAX] = 'b';
	big[SSHCERT_STRING_MAX + 1] = 0;
	expect_parse(f, &s, -E2BIG);

	/* a whole blob over 16 KiB: five 4 KiB principals */
	big[SSHCERT_STRING_MAX] = 0;
	const char *const five[] = { big, big, big, big, big };
	s = good_shape();
	s.principals = five;
	s.n_principals = 5;
	expect_parse(f, &s, -E2BIG);
}

static void test_truncated_and_tampered(void **state)
{
	struct fx *f = *state;
	struct sshcert_request req = base_request();
	struct sshcert c;
	struct buf b;

	req.permit_pty = true;
	req.source_address = "127.0.0.1";
	buf_init(&b, SSHCERT_BLOB_MAX);
	assert_int_equal(sshcert_sign(&req, f->ca, &b), 0);
	for (size_t n = 0; n < buf_len(&b); n++)
		assert_int_equal(sshcert_parse(buf_str(&b), n, &c), -EBADMSG);
	assert_int_equal(sshcert_parse(NULL, 0, &c), -EBADMSG);

	/* a changed serial still decodes, but the signature no longer verifies */
	char *copy = xmalloc(buf_len(&b));
	memcpy(copy, buf_str(&b), buf_len(&b));
	size_t serial_at = 4 + strlen(SSHCERT_ED25519_TYPE) + 4 + 32 + 4 + 32;
	copy[serial_at + 7] ^= 1;
	assert_int_equal(sshcert_parse(copy, buf_len(&b), &c), 0);
	assert_false(c.signature_valid);
	assert_true(c.serial == (req.serial ^ 1));
	sshcert_free(&c);
	/* so does a flipped bit in the signature itself */
	memcpy(copy, buf_str(&b), buf_len(&b));
	copy[buf_len(&b) - 1] ^= 0x80;
	assert_int_equal(sshcert_parse(copy, buf_len(&b), &c), 0);
	assert_false(c.signature_valid);
	sshcert_free(&c);
	free(copy);

	/* signed by another CA: valid under its own key, which is not ours */
	_cleanup_free_ char *other_pem = xasprintf("%s/other.pem", f->dir);
	void *other = sshcert_ca_load_or_create(other_pem);
	struct ssh_ed25519_key ours;
	assert_non_null(other);
	buf_reset(&b);
	assert_int_equal(sshcert_sign(&req, other, &b), 0);
	assert_int_equal(sshcert_parse(buf_str(&b), buf_len(&b), &c), 0);
	assert_true(c.signature_valid);
	assert_int_equal(sshcert_ca_public(f->ca, &ours), 0);
	assert_memory_not_equal(c.signature_key.pub, ours.pub, 32);
	sshcert_free(&c);
	sshcert_ca_free(other);
	buf_free(&b);
}

static void test_ca_file(void **state)
{
	struct fx *f = *state;
	struct ssh_ed25519_key a, b;
	struct stat st;
	void *again;

	assert_int_equal(stat(f->pem, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	again = sshcert_ca_load_or_create(f->pem);
	assert_non_null(again);
	assert_int_equal(sshcert_ca_public(f->ca, &a), 0);
	assert_int_equal(sshcert_ca_public(again, &b), 0);
	assert_memory_equal(a.pub, b.pub, 32);
	sshcert_ca_free(again);

	/* readable by others: refused */
	assert_int_equal(chmod(f->pem, 0644), 0);
	errno = 0;
	assert_null(sshcert_ca_load_or_create(f->pem));
	assert_int_equal(errno, EPERM);
	assert_int_equal(chmod(f->pem, 0600), 0);

	/* not an Ed25519 key */
	_cleanup_free_ char *other = xasprintf("%s/other.pem", f->dir);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FILE *fp = fopen(other, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, ec, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(ec);
	assert_int_equal(chmod(other, 0600), 0);
	errno = 0;
	assert_null(sshcert_ca_load_or_create(other));
	assert_int_equal(errno, EBADMSG);
	unlink(other);

	_cleanup_free_ char *missing = xasprintf("%s/no/such/ca.pem", f->dir);
	assert_null(sshcert_ca_load_or_create(missing));
	assert_int_equal(errno, ENOENT);
	sshcert_ca_free(NULL);
}

static void test_lines(void **state)
{
	struct fx *f = *state;
	struct ssh_ed25519_key k, back;
	struct sshcert_request req = base_request();
	struct buf blob, dec;

	for (size_t i = 0; i < 32; i++)
		k.pub[i] = (unsigned char)(i * 7);
	_cleanup_free_ char *line = ssh_ed25519_key_line(&k, "alice@laptop");
	assert_non_null(line);
	assert_true(strncmp(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37) == 0);
	assert_non_null(strstr(line, " alice@laptop"));
	assert_int_equal(ssh_ed25519_key_parse_line(line, &back), 0);
	assert_memory_equal(back.pub, k.pub, 32);
	_cleanup_free_ char *bare = ssh_ed25519_key_line(&k, NULL);
	assert_int_equal(ssh_ed25519_key_parse_line(bare, &back), 0);
	assert_int_equal(
		ssh_ed25519_key_parse_line(
			"  ssh-ed25519  "
			"AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n",
			&back),
		0);
	assert_int_equal(back.pub[31], 31);

	const char *bad[] = {
		"",
		"ssh-ed25519",
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4",
		"ssh-ed25519 "
		"AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f====",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAHwABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4=",
		"ssh-ed25519 AAAA=3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
		"AAAA",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ssh_ed25519_key_parse_line(bad[i], &back), -EBADMSG);
	assert_int_equal(ssh_ed25519_key_parse_line(NULL, &back), -EBADMSG);

	/* certificate lines, and the bare base64 sshd gives as %k */
	buf_init(&blob, SSHCERT_BLOB_MAX);
	assert_int_equal(sshcert_sign(&req, f->ca, &blob), 0);
	_cleanup_free_ char *cline = sshcert_line(buf_str(&blob), buf_len(&blob), "alice");
	assert_non_null(cline);
	assert_true(strncmp(cline, SSHCERT_ED25519_TYPE " AAAA", 37) == 0);
	buf_init(&dec, SSHCERT_BLOB_MAX);
	assert_int_equal(sshcert_blob_from_base64(cline, &dec), 0);
	assert_int_equal(buf_len(&dec), buf_len(&blob));
	assert_memory_equal(buf_str(&dec), buf_str(&blob), buf_len(&blob));
	buf_reset(&dec);
	const char *b64 = strchr(cline, ' ') + 1;
	_cleanup_free_ char *only = xstrndup(b64, (size_t)(strchr(b64, ' ') - b64));
	assert_int_equal(sshcert_blob_from_base64(only, &dec), 0);
	assert_memory_equal(buf_str(&dec), buf_str(&blob), buf_len(&blob));
	buf_reset(&dec);
	/* a plain key is not a certificate; nor is garbage */
	assert_int_equal(sshcert_blob_from_base64(line, &dec), -EBADMSG);
	assert_int_equal(sshcert_blob_from_base64(strchr(bare, ' ') + 1, &dec), -EBADMSG);
	assert_int_equal(sshcert_blob_from_base64("not base64!", &dec), -EBADMSG);
	assert_int_equal(sshcert_blob_from_base64("", &dec), -EBADMSG);
	_cleanup_free_ char *extra = xasprintf("%s junk", only);
	assert_int_equal(sshcert_blob_from_base64(extra, &dec), -EBADMSG);
	assert_int_equal(buf_len(&dec), 0);
	buf_free(&dec);
	buf_free(&blob);
}

/* ---- KRLs ------------------------------------------------------------------------- */

static void w_u8(struct buf *b, uint8_t v)
{
	assert_int_equal(buf_append(b, &v, 1), 0);
}

static void krl_header(struct buf *b, uint32_t format)
{
	buf_init(b, 8 << 20);
	assert_int_equal(buf_append(b, "SSHKRL\n", 8), 0);
	w_u32(b, format);
	w_u64(b, 3);
	w_u64(b, 1700000000);
	w_u64(b, 0);
	w_str(b, "", 0);
	w_cstr(b, "test");
}

static void w_section(struct buf *b, uint8_t type, const struct buf *inner)
{
	w_u8(b, type);
	w_buf(b, inner);
}

/* A certificates section for key (NULL: any CA) holding one subsection. */
static void w_cert_section(struct buf *b, const struct ssh_ed25519_key *key, uint8_t sub_type,
			   const struct buf *sub)
{
	struct buf sect, k;

	buf_init(&sect, 8 << 20);
	buf_init(&k, 128);
	if (key) {
		w_cstr(&k, "ssh-ed25519");
		w_str(&k, key->pub, 32);
	}
	w_buf(&sect, &k);
	w_str(&sect, "", 0);
	w_section(&sect, sub_type, sub);
	w_section(b, 1, &sect);
	buf_free(&k);
	buf_free(&sect);
}

static int parse_krl_buf(const struct buf *b, struct krl *k)
{
	return krl_parse(buf_str(b), buf_len(b), k);
}

static void test_krl_round_trip(void **state)
{
	struct ssh_ed25519_key ca, other;
	const uint64_t serials[] = { 9, 5, 0, 6, 7, 5, 100, 101, UINT64_MAX, 12 };
	char long_id[SSHCERT_KEY_ID_MAX + 2];
	const char *ids[] = { "bob/g/2", "alice/g/1", "", "bob/g/2", long_id };
	struct krl k;
	struct buf b;

	memset(ca.pub, 1, 32);
	memset(other.pub, 2, 32);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = 0;
	buf_init(&b, 65536);
	assert_int_equal(krl_build(&ca, serials, ARRAY_SIZE(serials), ids, ARRAY_SIZE(ids), 7,
				   1700000123, &b),
			 0);
	assert_int_equal(memcmp(buf_str(&b), "SSHKRL\n\0\0\0\0\1", 12), 0);
	assert_int_equal(parse_krl_buf(&b, &k), 0);
	assert_true(k.version == 7 && k.generated_at == 1700000123 && k.flags == 0);
	assert_string_equal(k.comment, "immune access");
	assert_int_equal(k.n_cas, 1);
	assert_false(k.cas[0].any_ca);
	assert_memory_equal(k.cas[0].key.pub, ca.pub, 32);
	/* 0 left out, duplicates merged, 5..7 a range */
	const struct krl_range want[] = {
		{ 5, 7 }, { 9, 9 }, { 12, 12 }, { 100, 101 }, { UINT64_MAX, UINT64_MAX }
	};
	assert_int_equal(k.cas[0].n_serials, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_true(k.cas[0].serials[i].lo == want[i].lo &&
			    k.cas[0].serials[i].hi == want[i].hi);
	assert_int_equal(k.cas[0].n_key_ids, 2);
	assert_string_equal(k.cas[0].key_ids[0], "alice/g/1");
	assert_string_equal(k.cas[0].key_ids[1], "bob/g/2");

	assert_true(krl_revokes(&k, &ca, 6, "x"));
	assert_true(krl_revokes(&k, &ca, 101, NULL));
	assert_true(krl_revokes(&k, &ca, UINT64_MAX, NULL));
	assert_false(krl_revokes(&k, &ca, 8, "x"));
	assert_false(krl_revokes(&k, &ca, 0, "x")); /* serial 0 is never revoked by serial */
	assert_true(krl_revokes(&k, &ca, 0, "alice/g/1"));
	assert_true(krl_revokes(&k, &ca, 8, "bob/g/2"));
	assert_false(krl_revokes(&k, &other, 6, "alice/g/1")); /* another CA's certificates */
	assert_false(krl_revokes(NULL, &ca, 6, NULL));
	krl_free(&k);
	krl_free(&k);

	/* nothing revoked: a header only, which OpenSSH reads as an empty list */
	buf_reset(&b);
	assert_int_equal(krl_build(&ca, NULL, 0, NULL, 0, 1, 0, &b), 0);
	assert_int_equal(parse_krl_buf(&b, &k), 0);
	assert_int_equal(k.n_cas, 0);
	assert_false(krl_revokes(&k, &ca, 6, "a"));
	krl_free(&k);
	/* only serial 0: the same */
	const uint64_t zero = 0;
	buf_reset(&b);
	assert_int_equal(krl_build(&ca, &zero, 1, NULL, 0, 1, 0, &b), 0);
	assert_int_equal(parse_krl_buf(&b, &k), 0);
	assert_int_equal(k.n_cas, 0);
	krl_free(&k);
	buf_free(&b);

	/* past the output's cap: -EMSGSIZE and nothing appended */
	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(krl_build(&ca, serials, ARRAY_SIZE(serials), NULL, 0, 1, 0, &b),
			 -EMSGSIZE);
	assert_int_equal(buf_len(&b), 1);
	assert_int_equal(krl_build(NULL, NULL, 0, NULL, 0, 1, 0, &b), -EINVAL);
	buf_free(&b);
}

static void test_krl_sections(void **state)
{
	struct ssh_ed25519_key ca;
	struct buf b, sub;
	struct krl k;

	memset(ca.pub, 1, 32);
	/* a bitmap (OpenSSH writes them): bits 0 and 2 and 9 at offset 100, mpint 0x0205 */
	krl_header(&b, 1);
	buf_init(&sub, 64);
	w_u64(&sub, 100);
	w_str(&sub, "\x02\x05", 2);
	w_cert_section(&b, &ca, 0x22, &sub);
	buf_free(&sub);
	/* a key id for every CA, a non-critical extension and an explicit-key section */
	buf_init(&sub, 64);
	w_cstr(&sub, "mallory");
	w_cert_section(&b, NULL, 0x23, &sub);
	buf_free(&sub);
	buf_init(&sub, 64);
	w_cstr(&sub, "x@example");
	w_u8(&sub, 0);
	w_str(&sub, "", 0);
	w_section(&b, 255, &sub);
	buf_free(&sub);
	buf_init(&sub, 64);
	w_str(&sub, "opaque-key-blob", 15);
	w_section(&b, 2, &sub);
	buf_free(&sub);
	assert_int_equal(parse_krl_buf(&b, &k), 0);
	assert_int_equal(k.n_cas, 2);
	assert_int_equal(k.n_skipped, 2);
	assert_int_equal(k.cas[0].n_serials, 3);
	assert_true(k.cas[0].serials[0].lo == 100 && k.cas[0].serials[0].hi == 100);
	assert_true(k.cas[0].serials[1].lo == 102 && k.cas[0].serials[2].lo == 109);
	assert_true(k.cas[1].any_ca);
	assert_true(krl_revokes(&k, &ca, 102, NULL));
	assert_false(krl_revokes(&k, &ca, 101, NULL));
	struct ssh_ed25519_key other;
	memset(other.pub, 9, 32);
	assert_true(krl_revokes(&k, &other, 1, "mallory"));
	krl_free(&k);
	buf_free(&b);
}

/* A KRL whose one certificates subsection is type with contents sub must fail with want. */
static void expect_krl_sub(uint8_t type, const struct buf *sub, int want)
{
	struct ssh_ed25519_key ca;
	struct buf b;
	struct krl k;

	memset(ca.pub, 1, 32);
	krl_header(&b, 1);
	w_cert_section(&b, &ca, type, sub);
	memset(&k, 0x55, sizeof(k));
	assert_int_equal(parse_krl_buf(&b, &k), want);
	if (want == 0)
		krl_free(&k);
	buf_free(&b);
}

static void test_krl_refusals(void **state)
{
	struct ssh_ed25519_key ca;
	struct buf b, sub;
	struct krl k;

	memset(ca.pub, 1, 32);
	/* every truncation of a good KRL */
	const uint64_t serials[] = { 3, 4, 5, 9 };
	const char *ids[] = { "a" };
	buf_init(&b, 4096);
	assert_int_equal(krl_build(&ca, serials, 4, ids, 1, 1, 1, &b), 0);
	/* (cut right after the header it is a valid KRL with no sections) */
	const size_t header_len = 8 + 4 + 3 * 8 + 4 + 4 + strlen("immune access");
	for (size_t n = 0; n < buf_len(&b); n++) {
		int r = krl_parse(buf_str(&b), n, &k);
		assert_int_equal(r, n == header_len ? 0 : -EBADMSG);
		if (r == 0)
			krl_free(&k);
	}
	assert_int_equal(krl_parse(NULL, 0, &k), -EBADMSG);
	/* a byte past the end is a truncated section */
	assert_int_equal(buf_append(&b, "\x01", 1), 0);
	assert_int_equal(parse_krl_buf(&b, &k), -EBADMSG);
	buf_free(&b);

	krl_header(&b, 2); /* format version */
	assert_int_equal(parse_krl_buf(&b, &k), -EBADMSG);
	buf_free(&b);
	krl_header(&b, 1);
	((char *)b.data)[0] = 'X'; /* magic */
	assert_int_equal(parse_krl_buf(&b, &k), -EBADMSG);
	buf_free(&b);

	/* signature and unknown top-level sections */
	for (uint8_t t = 3; t < 8; t++) {
		krl_header(&b, 1);
		buf_init(&sub, 64);
		w_str(&sub, "x", 1);
		if (t == 4)
			w_str(&sub, "sig", 3);
		w_section(&b, t, &sub);
		buf_free(&sub);
		assert_int_equal(parse_krl_buf(&b, &k), t == 3 || t == 5 ? 0 : -EBADMSG);
		if (t == 3 || t == 5)
			krl_free(&k);
		buf_free(&b);
	}
	/* a critical extension */
	krl_header(&b, 1);
	buf_init(&sub, 64);
	w_cstr(&sub, "must-understand@example");
	w_u8(&sub, 1);
	w_str(&sub, "", 0);
	w_section(&b, 255, &sub);
	assert_int_equal(parse_krl_buf(&b, &k), -EBADMSG);
	expect_krl_sub(0x39, &sub, -EBADMSG);
	buf_free(&sub);
	buf_free(&b);

	/* certificate subsections */
	buf_init(&sub, 64);
	w_u64(&sub, 0); /* serial 0 in a list */
	expect_krl_sub(0x20, &sub, -EBADMSG);
	buf_reset(&sub);
	w_u64(&sub, 5);
	w_u32(&sub, 1); /* half a serial */
	expect_krl_sub(0x20, &sub, -EBADMSG);
	buf_reset(&sub);
	w_u64(&sub, 9);
	w_u64(&sub, 8); /* lo > hi */
	expect_krl_sub(0x21, &sub, -EBADMSG);
	buf_reset(&sub);
	w_u64(&sub, 8);
	w_u64(&sub, 9);
	w_u8(&sub, 0); /* trailing */
	expect_krl_sub(0x21, &sub, -EBADMSG);
	buf_reset(&sub);
	w_u64(&sub, 1);
	w_str(&sub, "\x80", 1); /* negative bitmap */
	expect_krl_sub(0x22, &sub, -EBADMSG);
	buf_reset(&sub);
	w_u64(&sub, UINT64_MAX);
	w_str(&sub, "\x02", 1); /* wraps past 2^64 */
	expect_krl_sub(0x22, &sub, -EBADMSG);
	buf_reset(&sub);
	w_u64(&sub, 0);
	w_str(&sub, "\x01", 1); /* serial 0 from a bitmap */
	expect_krl_sub(0x22, &sub, -EBADMSG);
	buf_reset(&sub);
	w_str(&sub, "a\0b", 3); /* NUL in a key id */
	expect_krl_sub(0x23, &sub, -EBADMSG);
	buf_reset(&sub);
	expect_krl_sub(0x30, &sub, -EBADMSG); /* unknown subsection */
	expect_krl_sub(0x23, &sub, 0);	      /* an empty key id list */
	buf_free(&sub);

	/* a CA key other than Ed25519 */
	struct buf sect, key;
	krl_header(&b, 1);
	buf_init(&sect, 256);
	buf_init(&key, 128);
	w_cstr(&key, "ssh-rsa");
	w_str(&key, ca.pub, 32);
	w_buf(&sect, &key);
	w_str(&sect, "", 0);
	w_section(&b, 1, &sect);
	assert_int_equal(parse_krl_buf(&b, &k), -EBADMSG);
	buf_free(&key);
	buf_free(&sect);
	buf_free(&b);
}

static void test_krl_limits(void **state)
{
	struct buf b, sub;
	struct krl k;

	/* more entries than KRL_MAX_ENTRIES: every other serial, so none merge */
	buf_init(&sub, 8 << 20);
	for (uint64_t s = 1; s <= 2 * ((uint64_t)KRL_MAX_ENTRIES + 1); s += 2)
		w_u64(&sub, s);
	expect_krl_sub(0x20, &sub, -E2BIG);
	buf_free(&sub);
	/* a whole KRL over KRL_MAX_BYTES */
	krl_header(&b, 1);
	assert_int_equal(krl_parse(buf_str(&b), KRL_MAX_BYTES + 1, &k), -E2BIG);
	buf_free(&b);
	/* too many certificates sections */
	struct ssh_ed25519_key ca;
	memset(ca.pub, 1, 32);
	krl_header(&b, 1);
	buf_init(&sub, 64);
	w_u64(&sub, 1);
	for (size_t i = 0; i <= KRL_MAX_SECTIONS; i++)
		w_cert_section(&b, &ca, 0x20, &sub);
	assert_int_equal(parse_krl_buf(&b, &k), -E2BIG);
	buf_free(&sub);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test(test_krl_round_trip),
		cmocka_unit_test(test_krl_sections),
		cmocka_unit_test(test_krl_refusals),
		cmocka_unit_test(test_krl_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
