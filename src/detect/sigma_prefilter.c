/* The prefilter: most rules need some literal in some field (Image|endswith: /curl needs
 * "curl" in the image). For each rule we derive, from its condition, a set of (field, 4-byte
 * gram) pairs at least one of which any matching event must contain; per event kind the grams
 * go into a hash table (with a small bloom filter per field in front). For an event, one pass
 * over the lower-cased value of each indexed field marks the candidate rules; only those (and
 * the rules without such a requirement) run their full condition. */
#include "detect/sigma_int.h"

#include <ctype.h>

/* A literal a field must hold: a 4-byte gram anywhere (A_GRAM), or a short literal of len
 * 1..3 bytes at the start, the end, as the whole value or anywhere (A_SUB, 2..3 bytes), packed
 * into a 4-byte key padded with a marker byte that names anchor and length. */
enum { A_GRAM, A_START, A_END, A_EQ, A_SUB };

struct atom {
	int field;
	uint32_t gram;
	unsigned cost;
	unsigned anchor, len;
};

struct req {
	bool ok; /* false: no requirement could be derived (the rule always runs) */
	size_t n;
	struct atom *a;
	unsigned cost;
};

static uint32_t load32(const char *p)
{
	uint32_t g;
	memcpy(&g, p, 4);
	return g;
}

static unsigned char_cost(unsigned char ch)
{
	static const char common[] = "/ .-etaoinsr";
	static const char usual[] = "lcudhmpb0123456789_";
	if (strchr(common, ch) && ch)
		return 3;
	if (strchr(usual, ch) && ch)
		return 2;
	return 1;
}

/* An estimate of how often a gram occurs in event values (higher: more often). */
static unsigned gram_cost(const char *p)
{
	static const char *const frequent[] = {
		"/usr", "usr/", "/bin", "bin/", "/etc", "etc/", "/lib", "lib/", "/tmp", "tmp/",
		"/hom", "home", "ome/", "sbin", "/sbi", "/var", "var/", "/dev", "/pro", "proc",
		"/loc", "loca", "ocal", "cal/", "http", "ttp:", "tp:/", "p://", "root", "/roo",
		"oot/", "/run", "run/", "/sys", ".so.", "/sh ", "bash", "/opt", "opt/", "pyth",
		"ytho", "thon", "/sha", "shar", "hare", "are/", "-c '", "/nul", "null", "/dev",
	};
	unsigned c = 0;
	for (int i = 0; i < 4; i++)
		c += char_cost((unsigned char)p[i]);
	for (size_t i = 0; i < ARRAY_SIZE(frequent); i++)
		if (!memcmp(p, frequent[i], 4))
			return c + 20;
	return c;
}

static uint32_t anchored_key(const char *lit, unsigned anchor, unsigned len)
{
	char k[4];
	memset(k, (char)(0xc0 + anchor * 4 + len), 4);
	memcpy(k, lit, len);
	return load32(k);
}

/* Skips the class or group starting at p; returns its last character (or the final NUL). */
static const char *skip_group(const char *p)
{
	int d = 0;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '[' || *p == '(')
			d++;
		else if ((*p == ']' || *p == ')') && --d == 0)
			return p;
	}
	return p;
}

/* The longest run of literal text a regular expression needs at its top level, lower-cased
 * into out (at most cap bytes); returns its length, 0 when none can be trusted. Characters
 * made optional by ?, * or {0 are dropped; groups, classes and escapes such as \d end a run;
 * an alternation at the top, inline options and escapes that may stand for other bytes (\x,
 * \Q, \p, ...) give up. */
static size_t regex_literal(const char *re, char *out, size_t cap)
{
	char run[256];
	size_t n = 0, best = 0;
	int depth = 0;

	if (strstr(re, "(?"))
		return 0;
	for (const char *p = re; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (isalnum((unsigned char)*p) && !strchr("dswbDSWB", *p))
				return 0;
		} else if (*p == '[') {
			p = skip_group(p);
			if (!*p)
				return 0;
		} else if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (*p == '|' && depth == 0)
			return 0;
	}
	for (const char *p = re;; p++) {
		char ch = *p;
		bool lit = false;
		if (ch == '\\' && p[1] && isalnum((unsigned char)p[1])) {
			p++; /* \d, \s, \w, \b: end the run */
		} else if (ch == '\\' && p[1]) {
			ch = *++p;
			lit = true;
		} else if (ch && !strchr(".[](){}|^$*+?", ch))
			lit = true;
		if (lit && (p[1] == '?' || p[1] == '*' || (p[1] == '{' && p[2] == '0')))
			lit = false; /* optional */
		if (lit && n < sizeof(run)) {
			run[n++] = (char)tolower((unsigned char)ch);
			if (p[1] != '+' && p[1] != '{')
				continue;
			/* repeated: keep one, end the run */
		}
		if (n > best && n <= cap) {
			memcpy(out, run, n);
			best = n;
		}
		n = 0;
		if (!ch)
			break;
		if (ch == '[' || ch == '(') {
			p = skip_group(p);
			if (!*p)
				break;
		}
	}
	return best;
}

/* Fields whose values repeat across most events (a literal there selects little). */
static unsigned field_cost(int field)
{
	switch (field) {
	case EF_DIRECTION:
	case EF_PROTOCOL:
	case EF_USER:
	case EF_UID:
	case EF_EUID:
	case EF_LOGIN_UID:
	case EF_OUTCOME:
	case EF_SERVICE:
	case EF_AUTH_METHOD:
	case EF_TTY:
	case EF_CURRENT_DIRECTORY:
	case EF_TARGET_USER:
	case EF_ACTOR_USER:
	case EF_HOSTNAME:
	case EF_SENSOR: return 30;
	default: return 0;
	}
}

static bool value_atom1(const struct svalue *v, int field, struct atom *out);

/* The best atom of a value's literal text, or false when it has none. */
static bool value_atom(const struct svalue *v, int field, struct atom *out)
{
	if (!value_atom1(v, field, out))
		return false;
	out->cost += field_cost(field);
	return true;
}

static bool value_atom1(const struct svalue *v, int field, struct atom *out)
{
	size_t best_at = 0, best_len = 0;
	const char *lit = v->lit;
	char rebuf[256];

	if (v->ref >= 0)
		return false;
	out->field = field;
	out->anchor = A_GRAM;
	out->len = 4;
	switch (v->op) {
	case SM_EQ:
	case SM_STARTS:
	case SM_ENDS:
		if (v->len >= 1 && v->len < 4) {
			out->anchor = v->op == SM_EQ ? A_EQ : v->op == SM_STARTS ? A_START : A_END;
			out->len = (unsigned)v->len;
			out->gram = anchored_key(v->lit, out->anchor, out->len);
			out->cost = 10 + (3 - out->len) * 8;
			return true;
		}
		best_len = v->len;
		break;
	case SM_CONTAINS:
		if (v->len >= 2 && v->len < 4) {
			out->anchor = A_SUB;
			out->len = (unsigned)v->len;
			out->gram = anchored_key(v->lit, out->anchor, out->len);
			out->cost = 16 + (3 - out->len) * 12;
			return true;
		}
		best_len = v->len;
		break;
	case SM_RE:
		best_len = v->src ? regex_literal(v->src, rebuf, sizeof(rebuf)) : 0;
		lit = rebuf;
		break;
	case SM_GLOB:
		for (size_t i = 0; i < v->len;) {
			size_t j = i;
			while (j < v->len && !v->wild[j])
				j++;
			if (j - i > best_len) {
				best_len = j - i;
				best_at = i;
			}
			i = j + 1;
		}
		break;
	default: return false;
	}
	if (best_len < 4)
		return false;
	out->cost = UINT32_MAX;
	for (size_t i = best_at; i + 4 <= best_at + best_len; i++) {
		unsigned c = gram_cost(lit + i);
		if (c < out->cost) {
			out->cost = c;
			out->gram = load32(lit + i);
		}
	}
	return true;
}

static void req_free(struct req *r)
{
	free(r->a);
	memset(r, 0, sizeof(*r));
}

static void req_add(struct req *r, const struct atom *a)
{
	r->a = xrealloc(r->a, (r->n + 1) * sizeof(*r->a));
	r->a[r->n++] = *a;
	r->cost += a->cost + 4;
}

/* OR: every part must be filterable; the atoms add up. */
static void req_union(struct req *into, struct req *from)
{
	if (!from->ok)
		into->ok = false;
	for (size_t i = 0; into->ok && i < from->n; i++)
		req_add(into, &from->a[i]);
	req_free(from);
}

/* AND: keep the cheaper filterable side. */
static void req_best(struct req *best, struct req *cand)
{
	if (cand->ok && (!best->ok || cand->cost < best->cost)) {
		req_free(best);
		*best = *cand;
	} else
		req_free(cand);
}

static struct req field_req(const struct sfield *f)
{
	struct req r = { .ok = true };
	struct atom a;

	if (f->field == SF_AUDIT_TYPE || f->n == 0)
		return (struct req){ 0 };
	if (f->all) {
		struct req best = { 0 };
		for (size_t i = 0; i < f->n; i++)
			if (value_atom(&f->v[i], f->field, &a)) {
				struct req one = { .ok = true };
				req_add(&one, &a);
				req_best(&best, &one);
			}
		return best;
	}
	for (size_t i = 0; i < f->n && r.ok; i++) {
		if (value_atom(&f->v[i], f->field, &a))
			req_add(&r, &a);
		else
			r.ok = false;
	}
	if (!r.ok)
		req_free(&r);
	return r;
}

static struct req sel_req(const struct ssel *s)
{
	struct req r = { .ok = s->n > 0 };

	for (size_t i = 0; i < s->n && r.ok; i++) {
		struct req best = { 0 };
		for (size_t j = 0; j < s->alt[i].n; j++) {
			struct req fr = field_req(&s->alt[i].f[j]);
			req_best(&best, &fr);
		}
		req_union(&r, &best);
	}
	if (!r.ok)
		req_free(&r);
	return r;
}

static struct req cond_req(const struct sdetect *d, const struct scond *c)
{
	struct req r = { 0 };

	switch (c->type) {
	case SC_SEL: return sel_req(&d->sel[c->sel]);
	case SC_AND:
		for (size_t i = 0; i < c->n; i++) {
			struct req k = cond_req(d, c->kid[i]);
			req_best(&r, &k);
		}
		return r;
	case SC_OR:
		r.ok = true;
		for (size_t i = 0; i < c->n && r.ok; i++) {
			struct req k = cond_req(d, c->kid[i]);
			req_union(&r, &k);
		}
		if (!r.ok)
			req_free(&r);
		return r;
	case SC_ONE_OF:
		r.ok = true;
		for (size_t i = 0; i < c->n_sels && r.ok; i++) {
			struct req k = sel_req(&d->sel[c->sels[i]]);
			req_union(&r, &k);
		}
		if (!r.ok)
			req_free(&r);
		return r;
	case SC_ALL_OF:
		for (size_t i = 0; i < c->n_sels; i++) {
			struct req k = sel_req(&d->sel[c->sels[i]]);
			req_best(&r, &k);
		}
		return r;
	case SC_NOT:
	case SC_TRUE: break;
	}
	return r;
}

struct entry {
	int field;
	uint32_t gram;
	uint32_t slot;
	unsigned anch; /* anchor * 4 + len for short anchored keys, else 0 */
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	if (x->gram != y->gram)
		return x->gram < y->gram ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static inline uint32_t bloom_hash(uint32_t g)
{
	return (g * 0x9E3779B1u) >> (32 - 14);
}

static inline size_t tab_hash(uint32_t g, unsigned fi)
{
	return (size_t)((g ^ (fi * 0x85EBCA6Bu)) * 0xC2B2AE35u) >> 7;
}

_Static_assert(PF_BLOOM_BITS == 1u << 14, "bloom_hash makes 14 bits");

void sprefilter_build(struct sigma_ruleset *rs, enum event_kind k)
{
	struct sprefilter *pf = &rs->pf[k];
	size_t n = rs->n_by_kind[k], words = (n + 63) / 64, ne = 0, nkeys = 0;
	struct entry *e = NULL;
	int fidx[SF_COUNT];

	rs->always[k] = xcalloc(words ? words : 1, sizeof(uint64_t));
	for (size_t s = 0; s < n; s++) {
		const struct sdetect *d = &rs->rules[rs->by_kind[k][s]]->det;
		struct req r = cond_req(d, d->cond);
		if (!r.ok || !r.n) {
			rs->always[k][s / 64] |= 1ull << (s % 64);
			req_free(&r);
			continue;
		}
		e = xrealloc(e, (ne + r.n) * sizeof(*e));
		for (size_t i = 0; i < r.n; i++)
			e[ne++] = (struct entry){ r.a[i].field, r.a[i].gram, (uint32_t)s,
						  r.a[i].anchor ? r.a[i].anchor * 4 + r.a[i].len
								: 0 };
		req_free(&r);
	}
	sort_array(e, ne, sizeof(*e), entry_cmp);
	/* unique entries, fields and keys */
	size_t j = 0;
	for (size_t i = 0; i < ne; i++)
		if (!j || entry_cmp(&e[i], &e[j - 1]))
			e[j++] = e[i];
	ne = j;
	for (int f = 0; f < SF_COUNT; f++)
		fidx[f] = -1;
	for (size_t i = 0; i < ne; i++) {
		if (fidx[e[i].field] < 0) {
			fidx[e[i].field] = (int)pf->n_fields;
			pf->fields[pf->n_fields++] = e[i].field;
		}
		if (!i || e[i].field != e[i - 1].field || e[i].gram != e[i - 1].gram)
			nkeys++;
	}
	if (!ne) {
		free(e);
		return;
	}
	pf->bloom = xcalloc(pf->n_fields * (PF_BLOOM_BITS / 64), sizeof(uint64_t));
	size_t size = 16;
	while (size < 2 * nkeys)
		size *= 2;
	pf->tab = xcalloc(size, sizeof(*pf->tab));
	pf->tab_mask = size - 1;
	pf->posts = xcalloc(ne, sizeof(uint32_t));
	pf->n_posts = ne;
	for (size_t i = 0; i < ne;) {
		size_t end = i;
		unsigned fi = (unsigned)fidx[e[i].field];
		while (end < ne && e[end].field == e[i].field && e[end].gram == e[i].gram) {
			pf->posts[end] = e[end].slot;
			end++;
		}
		for (size_t x = i; x < end; x++)
			if (e[x].anch)
				pf->anch[fi] |= 1u << e[x].anch;
		uint32_t b = bloom_hash(e[i].gram);
		pf->bloom[fi * (PF_BLOOM_BITS / 64) + b / 64] |= 1ull << (b % 64);
		size_t h = tab_hash(e[i].gram, fi) & pf->tab_mask;
		while (pf->tab[h].count)
			h = (h + 1) & pf->tab_mask;
		pf->tab[h] = (struct sgram_post){ .gram = e[i].gram,
						  .field = (uint16_t)fi,
						  .first = (uint32_t)i,
						  .count = (uint32_t)(end - i) };
		i = end;
	}
	free(e);
}

void sprefilter_free(struct sprefilter *pf)
{
	free(pf->bloom);
	free(pf->tab);
	free(pf->posts);
	memset(pf, 0, sizeof(*pf));
}

/* Marks the rules posted under key g of field fi. */
static inline void probe(const struct sprefilter *pf, size_t fi, uint32_t g, uint64_t *cand)
{
	const uint64_t *bloom = pf->bloom + fi * (PF_BLOOM_BITS / 64);
	uint32_t b = bloom_hash(g);

	if (!(bloom[b / 64] >> (b % 64) & 1))
		return;
	for (size_t h = tab_hash(g, (unsigned)fi) & pf->tab_mask; pf->tab[h].count;
	     h = (h + 1) & pf->tab_mask) {
		const struct sgram_post *t = &pf->tab[h];
		if (t->gram != g || t->field != fi)
			continue;
		for (uint32_t p = 0; p < t->count; p++) {
			uint32_t slot = pf->posts[t->first + p];
			cand[slot / 64] |= 1ull << (slot % 64);
		}
		return;
	}
}

/* Probes the key of every substring of s of length l (1..3) for short `contains` literals:
 * the key is anchored_key(s + i, A_SUB, l), built here from one load and a mask where four
 * bytes remain (little-endian: the first bytes are the low ones), and tested against the
 * field's bloom filter before the table. */
static void scan_short(const struct sprefilter *pf, size_t fi, const uint64_t *bloom, const char *s,
		       size_t len, unsigned l, uint64_t *cand)
{
	size_t i = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t mask = (1u << (8 * l)) - 1;
	uint32_t pad = (0x01010101u * (uint8_t)(0xc0 + A_SUB * 4 + l)) & ~mask;
	for (; i + 4 <= len; i++) {
		uint32_t g = (load32(s + i) & mask) | pad, b = bloom_hash(g);
		if (bloom[b / 64] >> (b % 64) & 1)
			probe(pf, fi, g, cand);
	}
#endif
	for (; i + l <= len; i++)
		probe(pf, fi, anchored_key(s + i, A_SUB, l), cand);
}

void sprefilter_scan(const struct sigma_ruleset *rs, enum event_kind k, struct sigma_scratch *sc,
		     uint64_t *cand)
{
	const struct sprefilter *pf = &rs->pf[k];

	for (size_t fi = 0; fi < pf->n_fields; fi++) {
		size_t len;
		const char *s = sscratch_lower(sc, pf->fields[fi], &len);
		uint32_t anch = pf->anch[fi];
		if (!s)
			continue;
		/* the bloom filter turns most windows away: test it with the field's filter in a
		 * local (cand's stores would otherwise reload it each time) */
		const uint64_t *bloom = pf->bloom + fi * (PF_BLOOM_BITS / 64);
		for (size_t i = 0; i + 4 <= len; i++) {
			uint32_t g = load32(s + i), b = bloom_hash(g);
			if (bloom[b / 64] >> (b % 64) & 1)
				probe(pf, fi, g, cand);
		}
		while (anch) {
			unsigned a = (unsigned)__builtin_ctz(anch), l = a % 4;
			anch &= anch - 1;
			if (l > len || (a / 4 == A_EQ && l != len))
				continue;
			if (a / 4 == A_SUB)
				scan_short(pf, fi, bloom, s, len, l, cand);
			else
				probe(pf, fi,
				      anchored_key(a / 4 == A_END ? s + len - l : s, a / 4, l),
				      cand);
		}
	}
}
