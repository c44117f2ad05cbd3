/* The index of a compiled policy set: (principal key, host key) → policy indices per action.
 *
 * A principal key is anyone, a user or a group; a host key is every host, a hostname or
 * host id, or a label k=v (host groups are expanded into their items). A policy is listed
 * under every pair its principal and host clauses name, so a decision probes
 * (2 + groups) principal keys and, under each one found, (3 + labels) host keys, and
 * evaluates only the policies listed there.
 *
 * Built through a temporary hash table, then compacted: principal keys in a small open
 * addressing table, each pointing at its host keys sorted by hash, each pointing into one
 * pool of policy indices, so that a decision touches few cache lines. */
#include "access/policy_int.h"

enum { PK_ANY = 0, PK_USER, PK_GROUP };
enum { HK_ANY = 0, HK_NAME, HK_LABEL };

/* ---- the build table ---- */

struct idx_list {
	uint32_t *v;
	uint32_t n, cap;
};

struct bkey {
	uint8_t pkind, hkind;
	const char *pname;   /* borrowed from the policies */
	const char *hk, *hv; /* HK_NAME: hv; HK_LABEL: hk=hv */
	uint64_t ph, hh, hash;
};

struct bentry {
	struct bkey key;
	bool used;
	struct idx_list by_action[ACCESS_ACTION_COUNT];
};

struct btable {
	struct bentry *v;
	size_t size; /* a power of two */
};

/* ---- the compact index ---- */

#define NO_STR UINT32_MAX

struct pslot {
	uint64_t hash; /* 0: empty */
	uint32_t first, count;
	uint32_t name; /* offset in strs, or NO_STR (anyone) */
	uint8_t kind;
	uint64_t bloom[4]; /* two bits per host key: most absent keys cost no search */
};

static void bloom_bits(uint64_t hh, unsigned *a, unsigned *b)
{
	*a = (unsigned)(hh >> 40) & 255;
	*b = (unsigned)(hh >> 52) & 255;
}

struct hent {
	uint32_t k, v; /* offsets in strs, or NO_STR */
	uint8_t kind;
	uint32_t off[ACCESS_ACTION_COUNT], n[ACCESS_ACTION_COUNT];
};

struct policy_index {
	struct pslot *ptable;
	size_t ptable_size;
	uint64_t *hhash;    /* host key hashes, sorted within each principal key's range */
	struct hent *hents; /* parallel to hhash */
	uint32_t *pool;
	char *strs; /* the keys' strings, in index order (near each other) */
	size_t strs_len;
};

static uint32_t str_add(struct policy_index *ix, const char *s, size_t *cap)
{
	if (!s)
		return NO_STR;
	size_t n = strlen(s) + 1;
	if (ix->strs_len + n > *cap) {
		*cap = (ix->strs_len + n) * 2;
		ix->strs = xrealloc(ix->strs, *cap);
	}
	memcpy(ix->strs + ix->strs_len, s, n);
	uint32_t at = (uint32_t)ix->strs_len;
	ix->strs_len += n;
	return at;
}

static bool str_is(const struct policy_index *ix, uint32_t off, const char *s)
{
	if (off == NO_STR || !s)
		return off == NO_STR && !s;
	return strcmp(ix->strs + off, s) == 0;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h * 0x100000001b3ull;
}

static uint64_t pkey_hash(uint8_t kind, const char *name)
{
	uint64_t h = hash_str(0xcbf29ce484222325ull ^ kind, name);
	return h ? h : 1; /* 0 marks an empty slot */
}

static uint64_t hkey_hash(uint8_t kind, const char *k, const char *v)
{
	return hash_str(hash_str(0x84222325cbf29ce4ull ^ kind, k), v);
}

static uint64_t key_mix(uint64_t ph, uint64_t hh)
{
	uint64_t h = ph ^ (hh * 0x9e3779b97f4a7c15ull);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

static bool str_eq_opt(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_pkey(const struct bkey *a, const struct bkey *b)
{
	return a->ph == b->ph && a->pkind == b->pkind && str_eq_opt(a->pname, b->pname);
}

static bool same_key(const struct bkey *a, const struct bkey *b)
{
	return a->hash == b->hash && same_pkey(a, b) && a->hkind == b->hkind &&
	       str_eq_opt(a->hk, b->hk) && str_eq_opt(a->hv, b->hv);
}

static void list_add(struct idx_list *l, uint32_t v)
{
	if (l->n && l->v[l->n - 1] == v)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = v;
}

/* The actions a policy can match, as a bit set. "sudo" also covers "sudo-command". */
static unsigned policy_actions(const struct policy *pol)
{
	if (!pol->n_actions)
		return (1u << ACCESS_ACTION_COUNT) - 1;
	unsigned m = 0;
	for (size_t i = 0; i < pol->n_actions; i++) {
		m |= 1u << pol->actions[i].action;
		if (pol->actions[i].action == ACCESS_SUDO)
			m |= 1u << ACCESS_SUDO_COMMAND;
	}
	return m;
}

static void add_pair(struct btable *t, uint32_t idx, unsigned acts, const struct pol_principal *pp,
		     const struct pol_host *h)
{
	struct bkey k = { .pkind = pp ? (pp->group ? PK_GROUP : PK_USER) : PK_ANY,
			  .pname = pp ? pp->name : NULL };
	if (h && h->kind == HOST_NAME)
		k.hkind = HK_NAME, k.hv = h->value;
	else if (h)
		k.hkind = HK_LABEL, k.hk = h->key, k.hv = h->value;
	k.ph = pkey_hash(k.pkind, k.pname);
	k.hh = hkey_hash(k.hkind, k.hk, k.hv);
	k.hash = key_mix(k.ph, k.hh);
	size_t mask = t->size - 1, i = k.hash & mask;
	while (t->v[i].used && !same_key(&t->v[i].key, &k))
		i = (i + 1) & mask;
	struct bentry *e = &t->v[i];
	if (!e->used) {
		e->used = true;
		e->key = k;
	}
	for (int a = 0; a < ACCESS_ACTION_COUNT; a++)
		if (acts & (1u << a))
			list_add(&e->by_action[a], idx);
}

static void add_policy(struct btable *t, const struct policy *pol, uint32_t idx,
		       const struct hostgroup *groups)
{
	unsigned acts = policy_actions(pol);
	size_t np = pol->n_principals ? pol->n_principals : 1;
	for (size_t i = 0; i < np; i++) {
		const struct pol_principal *pp = pol->n_principals ? &pol->principals[i] : NULL;
		if (!pol->n_hosts)
			add_pair(t, idx, acts, pp, NULL);
		for (size_t j = 0; j < pol->n_hosts; j++) {
			const struct pol_host *h = &pol->hosts[j];
			if (h->kind != HOST_GROUP) {
				add_pair(t, idx, acts, pp, h);
				continue;
			}
			const struct hostgroup *g = &groups[h->group];
			for (size_t k = 0; k < g->n_items; k++)
				add_pair(t, idx, acts, pp, &g->items[k]);
		}
	}
}

/* How many index keys a policy needs at most (to size the build table). */
static size_t policy_keys(const struct policy *pol, const struct hostgroup *groups)
{
	size_t hosts = pol->n_hosts ? 0 : 1;
	for (size_t j = 0; j < pol->n_hosts; j++)
		hosts += pol->hosts[j].kind == HOST_GROUP ? groups[pol->hosts[j].group].n_items : 1;
	return (pol->n_principals ? pol->n_principals : 1) * hosts;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct bkey *x = &(*(const struct bentry *const *)a)->key;
	const struct bkey *y = &(*(const struct bentry *const *)b)->key;
	if (x->ph != y->ph)
		return x->ph < y->ph ? -1 : 1;
	if (x->pkind != y->pkind)
		return x->pkind < y->pkind ? -1 : 1;
	int c = strcmp(x->pname ? x->pname : "", y->pname ? y->pname : "");
	if (c)
		return c;
	if (x->hh != y->hh)
		return x->hh < y->hh ? -1 : 1;
	return 0;
}

static void compact(struct policy_index *ix, struct btable *t)
{
	size_t n = 0, pool_n = 0, n_pkeys = 0;
	for (size_t i = 0; i < t->size; i++)
		if (t->v[i].used) {
			n++;
			for (int a = 0; a < ACCESS_ACTION_COUNT; a++)
				pool_n += t->v[i].by_action[a].n;
		}
	struct bentry **es = xcalloc(n ? n : 1, sizeof(*es));
	n = 0;
	for (size_t i = 0; i < t->size; i++)
		if (t->v[i].used)
			es[n++] = &t->v[i];
	sort_array(es, n, sizeof(*es), cmp_entry);
	for (size_t i = 0; i < n; i++)
		n_pkeys += i == 0 || !same_pkey(&es[i - 1]->key, &es[i]->key);
	ix->ptable_size = 16;
	while (ix->ptable_size < n_pkeys * 2)
		ix->ptable_size *= 2;
	ix->ptable = xcalloc(ix->ptable_size, sizeof(*ix->ptable));
	ix->hhash = xcalloc(n ? n : 1, sizeof(*ix->hhash));
	ix->hents = xcalloc(n ? n : 1, sizeof(*ix->hents));
	size_t strs_cap = 0;
	ix->pool = xcalloc(pool_n ? pool_n : 1, sizeof(*ix->pool));
	size_t at = 0;
	struct pslot *cur = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct bentry *e = es[i];
		if (i == 0 || !same_pkey(&es[i - 1]->key, &e->key)) {
			size_t mask = ix->ptable_size - 1, j = e->key.ph & mask;
			while (ix->ptable[j].hash)
				j = (j + 1) & mask;
			cur = &ix->ptable[j];
			cur->hash = e->key.ph;
			cur->first = (uint32_t)i;
			cur->kind = e->key.pkind;
			cur->name = str_add(ix, e->key.pname, &strs_cap);
		}
		cur->count++;
		struct hent *h = &ix->hents[i];
		ix->hhash[i] = e->key.hh;
		unsigned b1, b2;
		bloom_bits(e->key.hh, &b1, &b2);
		cur->bloom[b1 / 64] |= 1ull << (b1 % 64);
		cur->bloom[b2 / 64] |= 1ull << (b2 % 64);
		h->kind = e->key.hkind;
		h->k = str_add(ix, e->key.hk, &strs_cap);
		h->v = str_add(ix, e->key.hv, &strs_cap);
		for (int a = 0; a < ACCESS_ACTION_COUNT; a++) {
			h->off[a] = (uint32_t)at;
			h->n[a] = e->by_action[a].n;
			if (e->by_action[a].n)
				memcpy(ix->pool + at, e->by_action[a].v,
				       e->by_action[a].n * sizeof(*ix->pool));
			at += e->by_action[a].n;
		}
	}
	free(es);
}

struct policy_index *policy_index_build(struct policy *const *pols, size_t n,
					const struct hostgroup *groups)
{
	size_t keys = 0;
	for (size_t i = 0; i < n; i++)
		keys += policy_keys(pols[i], groups);
	struct btable t = { .size = 16 };
	while (t.size < keys * 2)
		t.size *= 2;
	t.v = xcalloc(t.size, sizeof(*t.v));
	for (size_t i = 0; i < n; i++)
		add_policy(&t, pols[i], (uint32_t)i, groups);
	struct policy_index *ix = xcalloc(1, sizeof(*ix));
	compact(ix, &t);
	for (size_t i = 0; i < t.size; i++)
		for (int a = 0; a < ACCESS_ACTION_COUNT; a++)
			free(t.v[i].by_action[a].v);
	free(t.v);
	return ix;
}

void policy_index_free(struct policy_index *ix)
{
	if (!ix)
		return;
	free(ix->ptable);
	free(ix->hhash);
	free(ix->hents);
	free(ix->strs);
	free(ix->pool);
	free(ix);
}

/* ---- lookups ---- */

struct hkey {
	uint8_t kind;
	const char *k, *v;
	uint64_t hash;
};

#define HKEYS_CACHED 32

/* The j-th host key of a request: every host, its name, its id, its labels. */
static bool host_key(const struct access_host *host, size_t j, struct hkey *out)
{
	out->k = out->v = NULL;
	if (j == 0) {
		out->kind = HK_ANY;
	} else if (j == 1 || j == 2) {
		out->kind = HK_NAME;
		out->v = j == 1 ? host->name : host->id;
		if (!out->v)
			return false;
	} else {
		const struct access_attr *l = &host->labels[j - 3];
		if (!l->key || !l->value)
			return false;
		out->kind = HK_LABEL, out->k = l->key, out->v = l->value;
	}
	out->hash = hkey_hash(out->kind, out->k, out->v);
	return true;
}

static const struct pslot *pkey_find(const struct policy_index *ix, uint8_t kind, const char *name)
{
	uint64_t h = pkey_hash(kind, name);
	size_t mask = ix->ptable_size - 1;
	for (size_t j = h & mask;; j = (j + 1) & mask) {
		const struct pslot *s = &ix->ptable[j];
		if (!s->hash)
			return NULL;
		if (s->hash == h && s->kind == kind && str_is(ix, s->name, name))
			return s;
	}
}

static void scan_host(const struct policy_index *ix, const struct pslot *ps, unsigned action,
		      const struct hkey *hk, policy_list_fn fn, void *arg)
{
	unsigned b1, b2;
	bloom_bits(hk->hash, &b1, &b2);
	if (!(ps->bloom[b1 / 64] & (1ull << (b1 % 64))) ||
	    !(ps->bloom[b2 / 64] & (1ull << (b2 % 64))))
		return;
	const uint64_t *hashes = ix->hhash + ps->first;
	size_t lo = 0, hi = ps->count;
	while (lo < hi) { /* the first entry whose hash is >= hk->hash */
		size_t mid = lo + (hi - lo) / 2;
		if (hashes[mid] < hk->hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ps->count && hashes[lo] == hk->hash; lo++) {
		const struct hent *h = &ix->hents[ps->first + lo];
		if (h->kind != hk->kind || !str_is(ix, h->k, hk->k) || !str_is(ix, h->v, hk->v))
			continue;
		if (h->n[action])
			fn(ix->pool + h->off[action], h->n[action], arg);
	}
}

void policy_index_scan(const struct policy_index *ix, const struct access_request *req,
		       policy_list_fn fn, void *arg)
{
	if (!ix || (unsigned)req->action >= ACCESS_ACTION_COUNT)
		return;
	size_t n_hk = 3 + req->host.n_labels;
	struct hkey cache[HKEYS_CACHED];
	bool ok[HKEYS_CACHED];
	for (size_t j = 0; j < n_hk && j < HKEYS_CACHED; j++)
		ok[j] = host_key(&req->host, j, &cache[j]);
	size_t n_pk = 2 + req->principal.n_groups;
	for (size_t i = 0; i < n_pk; i++) {
		uint8_t kind = i == 0 ? PK_ANY : i == 1 ? PK_USER : PK_GROUP;
		const char *name = i == 0   ? NULL
				   : i == 1 ? req->principal.name
					    : req->principal.groups[i - 2];
		if (i > 0 && !name)
			continue;
		const struct pslot *ps = pkey_find(ix, kind, name);
		if (!ps)
			continue;
		for (size_t j = 0; j < n_hk; j++) {
			struct hkey hk;
			if (j < HKEYS_CACHED) {
				if (!ok[j])
					continue;
				hk = cache[j];
			} else if (!host_key(&req->host, j, &hk)) {
				continue;
			}
			scan_host(ix, ps, (unsigned)req->action, &hk, fn, arg);
		}
	}
}
