/* OpenSSH key revocation lists (PROTOCOL.krl): the writer the agent uses for sshd's
 * RevokedKeys, and a bounded reader (docs/ssh-certificates.md "The KRL"). */
#include "access/sshcert.h"
#include "access/sshwire.h"

#define KRL_MAGIC "SSHKRL\n" /* and a NUL: 8 bytes */
#define KRL_MAGIC_LEN 8
#define KRL_FORMAT_VERSION 1
#define KRL_COMMENT "immune access"

enum {
	SECTION_CERTIFICATES = 1,
	SECTION_EXPLICIT_KEY = 2,
	SECTION_FINGERPRINT_SHA1 = 3,
	SECTION_SIGNATURE = 4,
	SECTION_FINGERPRINT_SHA256 = 5,
	SECTION_EXTENSION = 255,
};

enum {
	CERT_SERIAL_LIST = 0x20,
	CERT_SERIAL_RANGE = 0x21,
	CERT_SERIAL_BITMAP = 0x22,
	CERT_KEY_ID = 0x23,
	CERT_EXTENSION = 0x39,
};

/* A run of consecutive serials at least this long is written as a range (21 bytes) rather
 * than as list entries (8 bytes each). */
#define RANGE_MIN_RUN 3

/* ---- writing ----------------------------------------------------------------------- */

static int put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

/* A section or subsection: byte type, string contents. */
static int put_section(struct buf *b, uint8_t type, const struct buf *contents)
{
	int r = put_u8(b, type);
	return r < 0 ? r : ssh_put_string(b, buf_str(contents), buf_len(contents));
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Serials sorted, deduplicated, without 0 (OpenSSH refuses a KRL that lists serial 0, and
 * never treats a certificate with serial 0 as revoked by serial). Returns the count. */
static size_t clean_serials(uint64_t *s, size_t n)
{
	size_t m = 0;

	sort_array(s, n, sizeof(*s), u64_cmp);
	for (size_t i = 0; i < n; i++)
		if (s[i] != 0 && (m == 0 || s[m - 1] != s[i]))
			s[m++] = s[i];
	return m;
}

static int put_serials(struct buf *sect, const uint64_t *s, size_t n, size_t cap)
{
	struct buf list, range;
	int r = 0;

	buf_init(&list, cap);
	buf_init(&range, 16);
	for (size_t i = 0; i < n && r == 0;) {
		size_t j = i;

		while (j + 1 < n && s[j + 1] == s[j] + 1)
			j++;
		if (j - i + 1 >= RANGE_MIN_RUN) {
			buf_reset(&range);
			r = ssh_put_u64(&range, s[i]);
			if (r == 0)
				r = ssh_put_u64(&range, s[j]);
			if (r == 0)
				r = put_section(sect, CERT_SERIAL_RANGE, &range);
		} else {
			for (size_t k = i; k <= j && r == 0; k++)
				r = ssh_put_u64(&list, s[k]);
		}
		i = j + 1;
	}
	if (r == 0 && buf_len(&list) > 0)
		r = put_section(sect, CERT_SERIAL_LIST, &list);
	buf_free(&range);
	buf_free(&list);
	return r;
}

/* Key ids sorted and deduplicated; empty ones and ones longer than any certificate we sign
 * or accept (SSHCERT_KEY_ID_MAX) are left out. */
static int put_key_ids(struct buf *sect, const char *const *ids, size_t n, size_t cap)
{
	const char **v = xcalloc(n ? n : 1, sizeof(*v));
	struct buf list;
	size_t m = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (ids[i] && ids[i][0] && strlen(ids[i]) <= SSHCERT_KEY_ID_MAX)
			v[m++] = ids[i];
	sort_array(v, m, sizeof(*v), str_cmp);
	buf_init(&list, cap);
	for (size_t i = 0; i < m && r == 0; i++)
		if (i == 0 || strcmp(v[i - 1], v[i]) != 0)
			r = ssh_put_string(&list, v[i], strlen(v[i]));
	if (r == 0 && buf_len(&list) > 0)
		r = put_section(sect, CERT_KEY_ID, &list);
	buf_free(&list);
	free(v);
	return r;
}

int krl_build(const struct ssh_ed25519_key *ca, const uint64_t *serials, size_t n_serials,
	      const char *const *key_ids, size_t n_key_ids, uint64_t version, uint64_t generated_at,
	      struct buf *out)
{
	uint64_t *s;
	size_t n;
	struct buf hdr, sect, key;
	int r;

	if (!ca || !out || (n_serials && !serials) || (n_key_ids && !key_ids))
		return -EINVAL;
	buf_init(&hdr, out->cap);
	r = buf_append(&hdr, KRL_MAGIC, KRL_MAGIC_LEN);
	if (r == 0)
		r = ssh_put_u32(&hdr, KRL_FORMAT_VERSION);
	if (r == 0)
		r = ssh_put_u64(&hdr, version);
	if (r == 0)
		r = ssh_put_u64(&hdr, generated_at);
	if (r == 0)
		r = ssh_put_u64(&hdr, 0); /* flags */
	if (r == 0)
		r = ssh_put_string(&hdr, "", 0); /* reserved */
	if (r == 0)
		r = ssh_put_string(&hdr, KRL_COMMENT, strlen(KRL_COMMENT));

	/* one certificates section for our CA: key, reserved, then the subsections */
	s = xmalloc((n_serials ? n_serials : 1) * sizeof(*s));
	if (n_serials)
		memcpy(s, serials, n_serials * sizeof(*s));
	n = clean_serials(s, n_serials);
	buf_init(&sect, out->cap);
	buf_init(&key, 64);
	if (r == 0)
		r = ssh_put_string(&key, "ssh-ed25519", strlen("ssh-ed25519"));
	if (r == 0)
		r = ssh_put_string(&key, ca->pub, sizeof(ca->pub));
	if (r == 0)
		r = ssh_put_string(&sect, buf_str(&key), buf_len(&key));
	if (r == 0)
		r = ssh_put_string(&sect, "", 0); /* reserved */
	size_t empty = buf_len(&sect);
	if (r == 0)
		r = put_serials(&sect, s, n, out->cap);
	if (r == 0)
		r = put_key_ids(&sect, key_ids, n_key_ids, out->cap);
	if (r == 0 && buf_len(&sect) > empty)
		r = put_section(&hdr, SECTION_CERTIFICATES, &sect);
	if (r == 0)
		r = buf_append(out, buf_str(&hdr), buf_len(&hdr));
	buf_free(&key);
	buf_free(&sect);
	buf_free(&hdr);
	free(s);
	return r;
}

/* ---- reading ----------------------------------------------------------------------- */

static int get_text(struct cursor *c, size_t max, char **s)
{
	const void *p;
	size_t n;
	int r = ssh_get_string(c, max, &p, &n);

	if (r < 0)
		return r;
	if (memchr(p, 0, n))
		return -EBADMSG;
	*s = xstrndup(p, n);
	return 0;
}

struct reader {
	struct krl k;
	size_t entries; /* ranges and key ids so far */
};

static int add_range(struct reader *rd, struct krl_ca *ca, uint64_t lo, uint64_t hi)
{
	if (lo == 0 || lo > hi)
		return -EBADMSG;
	/* extend the last range when this serial follows it (bitmaps, sorted lists) */
	if (ca->n_serials && ca->serials[ca->n_serials - 1].hi != UINT64_MAX &&
	    ca->serials[ca->n_serials - 1].hi + 1 == lo) {
		ca->serials[ca->n_serials - 1].hi = hi;
		return 0;
	}
	if (rd->entries == KRL_MAX_ENTRIES)
		return -E2BIG;
	rd->entries++;
	if ((ca->n_serials & (ca->n_serials - 1)) == 0) /* 0, 1, 2, 4, ...: grow */
		ca->serials = xrealloc(ca->serials, (ca->n_serials ? 2 * ca->n_serials : 1) *
							    sizeof(*ca->serials));
	ca->serials[ca->n_serials++] = (struct krl_range){ lo, hi };
	return 0;
}

static int add_key_id(struct reader *rd, struct krl_ca *ca, struct cursor *c)
{
	char *id;
	int r;

	if (rd->entries == KRL_MAX_ENTRIES)
		return -E2BIG;
	r = get_text(c, SSHCERT_STRING_MAX, &id);
	if (r < 0)
		return r;
	rd->entries++;
	if ((ca->n_key_ids & (ca->n_key_ids - 1)) == 0)
		ca->key_ids = xrealloc(ca->key_ids, (ca->n_key_ids ? 2 * ca->n_key_ids : 1) *
							    sizeof(*ca->key_ids));
	ca->key_ids[ca->n_key_ids++] = id;
	return 0;
}

/* A bit set at index N (from the least significant bit of the last byte) revokes serial
 * offset + N. The bitmap is an mpint: non-negative. */
static int get_bitmap(struct reader *rd, struct krl_ca *ca, struct cursor *c)
{
	uint64_t offset;
	const unsigned char *p = NULL;
	size_t n = 0;
	int r = cursor_get_u64be(c, &offset);

	if (r == 0)
		r = ssh_get_string(c, KRL_MAX_BYTES, (const void **)&p, &n);
	if (r < 0)
		return r;
	if (n > 0 && (p[0] & 0x80))
		return -EBADMSG;
	for (size_t byte = 0; byte < n && r == 0; byte++) {
		unsigned char bits = p[n - 1 - byte];

		for (unsigned bit = 0; bit < 8 && r == 0; bit++) {
			uint64_t idx = (uint64_t)byte * 8 + bit;

			if (!(bits & (1u << bit)))
				continue;
			if (idx > UINT64_MAX - offset)
				return -EBADMSG; /* wraps */
			r = add_range(rd, ca, offset + idx, offset + idx);
		}
	}
	return r;
}

/* An extension (section or certificate subsection): string name, bool critical, string
 * contents. A critical one we do not know makes the KRL unreadable. */
static int skip_extension(struct cursor *c)
{
	const void *p;
	size_t n;
	uint8_t critical;
	int r = ssh_get_string(c, SSHCERT_STRING_MAX, &p, &n);

	if (r == 0)
		r = cursor_get_u8(c, &critical);
	if (r == 0 && critical)
		r = -EBADMSG;
	if (r == 0)
		r = ssh_get_string(c, KRL_MAX_BYTES, &p, &n);
	return r;
}

static int get_ca_key(struct cursor *c, struct krl_ca *ca)
{
	struct cursor key;
	const void *type, *pk;
	size_t tn, pn;
	int r = ssh_get_sub(c, KRL_MAX_BYTES, &key);

	if (r < 0)
		return r;
	if (cursor_done(&key)) {
		ca->any_ca = true;
		return 0;
	}
	r = ssh_get_string(&key, SSHCERT_STRING_MAX, &type, &tn);
	if (r == 0 && (tn != strlen("ssh-ed25519") || memcmp(type, "ssh-ed25519", tn) != 0))
		r = -EBADMSG;
	if (r == 0)
		r = ssh_get_string(&key, SSHCERT_STRING_MAX, &pk, &pn);
	if (r == 0 && (pn != sizeof(ca->key.pub) || !cursor_done(&key)))
		r = -EBADMSG;
	if (r == 0)
		memcpy(ca->key.pub, pk, sizeof(ca->key.pub));
	return r;
}

static int get_cert_subsection(struct reader *rd, struct krl_ca *ca, uint8_t type,
			       struct cursor *sub)
{
	uint64_t lo, hi;
	int r = 0;

	switch (type) {
	case CERT_SERIAL_LIST:
		while (r == 0 && !cursor_done(sub)) {
			r = cursor_get_u64be(sub, &lo);
			if (r == 0)
				r = add_range(rd, ca, lo, lo);
		}
		return r;
	case CERT_SERIAL_RANGE:
		r = cursor_get_u64be(sub, &lo);
		if (r == 0)
			r = cursor_get_u64be(sub, &hi);
		return r < 0 ? r : add_range(rd, ca, lo, hi);
	case CERT_SERIAL_BITMAP: return get_bitmap(rd, ca, sub);
	case CERT_KEY_ID:
		while (r == 0 && !cursor_done(sub))
			r = add_key_id(rd, ca, sub);
		return r;
	case CERT_EXTENSION: return skip_extension(sub);
	default: return -EBADMSG;
	}
}

static int range_cmp(const void *a, const void *b)
{
	const struct krl_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts the ranges and merges overlapping or adjacent ones. */
static void normalise(struct krl_ca *ca)
{
	size_t m = 0;

	sort_array(ca->serials, ca->n_serials, sizeof(*ca->serials), range_cmp);
	for (size_t i = 0; i < ca->n_serials; i++) {
		struct krl_range *last = m ? &ca->serials[m - 1] : NULL;

		if (last && (last->hi == UINT64_MAX || ca->serials[i].lo <= last->hi + 1)) {
			if (ca->serials[i].hi > last->hi)
				last->hi = ca->serials[i].hi;
		} else
			ca->serials[m++] = ca->serials[i];
	}
	ca->n_serials = m;
}

static int get_certificates(struct reader *rd, struct cursor *c)
{
	struct krl_ca *ca;
	const void *p;
	size_t n;
	int r;

	if (rd->k.n_cas == KRL_MAX_SECTIONS)
		return -E2BIG;
	rd->k.cas = xrealloc(rd->k.cas, (rd->k.n_cas + 1) * sizeof(*rd->k.cas));
	ca = &rd->k.cas[rd->k.n_cas++];
	memset(ca, 0, sizeof(*ca));
	r = get_ca_key(c, ca);
	if (r == 0)
		r = ssh_get_string(c, KRL_MAX_BYTES, &p, &n); /* reserved */
	while (r == 0 && !cursor_done(c)) {
		struct cursor sub;
		uint8_t type;

		r = cursor_get_u8(c, &type);
		if (r == 0)
			r = ssh_get_sub(c, KRL_MAX_BYTES, &sub);
		if (r == 0)
			r = get_cert_subsection(rd, ca, type, &sub);
		if (r == 0 && !cursor_done(&sub))
			r = -EBADMSG;
	}
	normalise(ca);
	return r;
}

static int get_section(struct reader *rd, uint8_t type, struct cursor *sect)
{
	const void *p;
	size_t n;
	int r = 0;

	switch (type) {
	case SECTION_CERTIFICATES: return get_certificates(rd, sect);
	case SECTION_EXPLICIT_KEY:
	case SECTION_FINGERPRINT_SHA1:
	case SECTION_FINGERPRINT_SHA256:
		/* plain keys: a list of strings, checked for shape but not kept */
		while (r == 0 && !cursor_done(sect))
			r = ssh_get_string(sect, KRL_MAX_BYTES, &p, &n);
		rd->k.n_skipped++;
		return r;
	case SECTION_EXTENSION: rd->k.n_skipped++; return skip_extension(sect);
	default: /* SECTION_SIGNATURE (OpenSSH refuses them too) and unknown sections */
		return -EBADMSG;
	}
}

static int get_header(struct reader *rd, struct cursor *c)
{
	const void *p;
	size_t n;
	uint32_t format;
	int r = cursor_get_bytes(c, KRL_MAGIC_LEN, &p);

	if (r == 0 && memcmp(p, KRL_MAGIC, KRL_MAGIC_LEN) != 0)
		r = -EBADMSG;
	if (r == 0)
		r = cursor_get_u32be(c, &format);
	if (r == 0 && format != KRL_FORMAT_VERSION)
		r = -EBADMSG;
	if (r == 0)
		r = cursor_get_u64be(c, &rd->k.version);
	if (r == 0)
		r = cursor_get_u64be(c, &rd->k.generated_at);
	if (r == 0)
		r = cursor_get_u64be(c, &rd->k.flags);
	if (r == 0)
		r = ssh_get_string(c, KRL_MAX_BYTES, &p, &n); /* reserved */
	if (r == 0)
		r = get_text(c, SSHCERT_STRING_MAX, &rd->k.comment);
	return r;
}

int krl_parse(const void *data, size_t len, struct krl *out)
{
	struct reader rd = { 0 };
	struct cursor c;
	int r;

	if (!data && len)
		return -EBADMSG;
	if (len > KRL_MAX_BYTES)
		return -E2BIG;
	cursor_init(&c, data, len);
	r = get_header(&rd, &c);
	while (r == 0 && !cursor_done(&c)) {
		struct cursor sect;
		uint8_t type;

		r = cursor_get_u8(&c, &type);
		if (r == 0)
			r = ssh_get_sub(&c, KRL_MAX_BYTES, &sect);
		if (r == 0)
			r = get_section(&rd, type, &sect);
		if (r == 0 && !cursor_done(&sect))
			r = -EBADMSG;
	}
	if (r < 0) {
		krl_free(&rd.k);
		return r;
	}
	*out = rd.k;
	return 0;
}

void krl_free(struct krl *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_cas; i++) {
		for (size_t j = 0; j < k->cas[i].n_key_ids; j++)
			free(k->cas[i].key_ids[j]);
		free(k->cas[i].key_ids);
		free(k->cas[i].serials);
	}
	free(k->cas);
	free(k->comment);
	memset(k, 0, sizeof(*k));
}

static bool serial_in(const struct krl_ca *ca, uint64_t serial)
{
	size_t lo = 0, hi = ca->n_serials;

	while (lo < hi) { /* ranges are sorted and disjoint */
		size_t mid = lo + (hi - lo) / 2;

		if (serial < ca->serials[mid].lo)
			hi = mid;
		else if (serial > ca->serials[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool krl_revokes(const struct krl *k, const struct ssh_ed25519_key *ca, uint64_t serial,
		 const char *key_id)
{
	for (size_t i = 0; k && ca && i < k->n_cas; i++) {
		const struct krl_ca *s = &k->cas[i];

		if (!s->any_ca && memcmp(s->key.pub, ca->pub, sizeof(ca->pub)) != 0)
			continue;
		for (size_t j = 0; key_id && j < s->n_key_ids; j++)
			if (strcmp(s->key_ids[j], key_id) == 0)
				return true;
		if (serial != 0 && serial_in(s, serial))
			return true;
	}
	return false;
}
