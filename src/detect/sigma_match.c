/* Evaluating compiled Sigma rules against one event. Values are lower-cased once per event
 * (lazily, only for the fields some candidate rule reads; values without capitals are used
 * in place) and the prefilter (sigma_prefilter.c) narrows the rules to run. */
#include "detect/sigma_int.h"

#include <arpa/inet.h>
#include <sys/socket.h>

void sscratch_begin(struct sigma_scratch *sc, const struct host_event *ev)
{
	size_t need = 3 * ev->used + 256;

	sc->ev = ev;
	memset(sc->lower_done, 0, sizeof(sc->lower_done));
	sc->used = 0;
	sc->args_done = false;
	if (sc->cap < need) {
		free(sc->buf);
		sc->cap = need < 4096 ? 4096 : need;
		sc->buf = xmalloc(sc->cap);
	}
}

/* Copies n bytes into the scratch arena (sized in sscratch_begin, so this always fits). */
static char *sc_copy(struct sigma_scratch *sc, const char *s, size_t n)
{
	char *p;
	if (sc->used + n + 1 > sc->cap)
		return NULL;
	p = sc->buf + sc->used;
	memcpy(p, s, n);
	p[n] = '\0';
	sc->used += n + 1;
	return p;
}

/* a0..a15: the command line split at spaces (an approximation of auditd's EXECVE record). */
static void split_args(struct sigma_scratch *sc)
{
	const struct host_event *ev = sc->ev;
	const char *s = ev->v[EF_COMMAND_LINE].p;
	size_t n = ev->v[EF_COMMAND_LINE].len, i = 0;

	sc->args_done = true;
	for (int a = SF_ARG0; a <= SF_ARG_LAST; a++) {
		sc->rp[a] = NULL;
		sc->rlen[a] = 0;
	}
	if (!s)
		return;
	for (int a = SF_ARG0; a <= SF_ARG_LAST; a++) {
		while (i < n && s[i] == ' ')
			i++;
		if (i >= n)
			break;
		size_t st = i;
		while (i < n && s[i] != ' ')
			i++;
		sc->rp[a] = sc_copy(sc, s + st, i - st);
		sc->rlen[a] = sc->rp[a] ? (uint32_t)(i - st) : 0;
	}
}

/* The event field a virtual field stands for, or -1. */
static int alias_of(const struct sigma_scratch *sc, int f)
{
	const struct host_event *ev = sc->ev;

	if (f == SF_KEYWORDS)
		return host_event_has(ev, EF_MESSAGE) ? EF_MESSAGE : EF_COMMAND_LINE;
	if (f == SF_TARGET)
		return ev->kind == EVENT_FILE_RENAME && host_event_has(ev, EF_RENAMED_FILENAME)
			       ? EF_RENAMED_FILENAME
			       : EF_TARGET_FILENAME;
	return f < EF_COUNT ? f : -1;
}

const char *sscratch_raw(struct sigma_scratch *sc, int f, size_t *len)
{
	int a = alias_of(sc, f);

	if (a >= 0) {
		*len = sc->ev->v[a].len;
		return sc->ev->v[a].p;
	}
	if (f >= SF_ARG0 && f <= SF_ARG_LAST) {
		if (!sc->args_done)
			split_args(sc);
		*len = sc->rlen[f];
		return sc->rp[f];
	}
	*len = 0;
	return NULL;
}

const char *sscratch_lower(struct sigma_scratch *sc, int f, size_t *len)
{
	const char *raw;
	size_t n;
	int a = alias_of(sc, f);

	if (a >= 0)
		f = a;
	if (sc->lower_done[f / 64] >> (f % 64) & 1) {
		*len = sc->llen[f];
		return sc->lp[f];
	}
	raw = sscratch_raw(sc, f, &n);
	sc->lp[f] = raw;
	sc->llen[f] = (uint32_t)n;
	if (raw) {
		size_t i = 0;
		while (i < n && !(raw[i] >= 'A' && raw[i] <= 'Z'))
			i++;
		if (i < n) {
			char *p = sc_copy(sc, raw, n);
			if (p) {
				for (; i < n; i++)
					if (p[i] >= 'A' && p[i] <= 'Z')
						p[i] = (char)(p[i] + 32);
				sc->lp[f] = p;
			}
		}
	}
	sc->lower_done[f / 64] |= 1ull << (f % 64);
	*len = sc->llen[f];
	return sc->lp[f];
}

static bool glob_match(const char *p, const uint8_t *w, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && w[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pn && (w[pi] == '?' || p[pi] == s[si])) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else
			return false;
	}
	while (pi < pn && w[pi] == '*')
		pi++;
	return pi == pn;
}

static bool cidr_match(const struct svalue *v, const char *s)
{
	uint8_t a[16];
	unsigned full, rest;

	if (!s || inet_pton(v->cidr.family, s, a) != 1)
		return false;
	full = v->cidr.prefix / 8;
	rest = v->cidr.prefix % 8;
	if (memcmp(a, v->cidr.addr, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		if ((a[full] & m) != (v->cidr.addr[full] & m))
			return false;
	}
	return true;
}

static bool num_match(const struct svalue *v, const char *s)
{
	char *end;
	long long x;

	if (!s || !*s)
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	switch (v->cmp) {
	case SN_GT: return x > v->num;
	case SN_GTE: return x >= v->num;
	case SN_LT: return x < v->num;
	case SN_LTE: return x <= v->num;
	}
	return false;
}

/* Whether lit (len >= 1) occurs in s: event fields are short, where a first-byte scan and a
 * compare beat the setup of a general substring search. */
static bool contains(const char *s, size_t n, const char *lit, size_t len)
{
	if (len > n)
		return false;
	const char *p = s, *last = s + (n - len);
	while (p <= last && (p = memchr(p, lit[0], (size_t)(last - p) + 1))) {
		if (!memcmp(p + 1, lit + 1, len - 1))
			return true;
		p++;
	}
	return false;
}

static bool text_match(enum smatch_op op, const char *s, size_t n, const char *lit, size_t len)
{
	switch (op) {
	case SM_EQ: return n == len && !memcmp(s, lit, len);
	case SM_CONTAINS: return len == 0 || contains(s, n, lit, len);
	case SM_STARTS: return len <= n && !memcmp(s, lit, len);
	case SM_ENDS: return len <= n && !memcmp(s + n - len, lit, len);
	default: return false;
	}
}

static bool value_match(const struct svalue *v, int field, const char *s, size_t n,
			struct sigma_scratch *sc)
{
	const char *raw;
	size_t rn;

	if (v->ref >= 0) {
		size_t ln;
		const char *l = sscratch_lower(sc, v->ref, &ln);
		return l && text_match(v->op, s, n, l, ln);
	}
	switch (v->op) {
	case SM_EQ:
	case SM_CONTAINS:
	case SM_STARTS:
	case SM_ENDS: return text_match(v->op, s, n, v->lit, v->len);
	case SM_GLOB: return glob_match(v->lit, v->wild, v->len, s, n);
	case SM_ANY: return true;
	case SM_NULL: return n == 0;
	case SM_EXISTS: return !v->neg;
	case SM_RE:
		raw = sscratch_raw(sc, field, &rn);
		return pcre2_match(v->re, (PCRE2_SPTR)raw, rn, 0, 0, sc->md, sc->mctx) >= 0;
	case SM_CIDR: raw = sscratch_raw(sc, field, &rn); return cidr_match(v, raw);
	case SM_NUM: raw = sscratch_raw(sc, field, &rn); return num_match(v, raw);
	case SM_KINDS: return v->kinds >> sc->ev->kind & 1;
	}
	return false;
}

static bool field_match(const struct sfield *f, struct sigma_scratch *sc)
{
	size_t n = 0;
	const char *s = f->field == SF_AUDIT_TYPE ? "" : sscratch_lower(sc, f->field, &n);

	for (size_t i = 0; i < f->n; i++) {
		const struct svalue *v = &f->v[i];
		bool m = s ? value_match(v, f->field, s, n, sc)
			   : v->op == SM_NULL || (v->op == SM_EXISTS && v->neg);
		if (f->all && !m)
			return false;
		if (!f->all && m)
			return true;
	}
	return f->all;
}

static bool sel_match(const struct ssel *s, struct sigma_scratch *sc)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct salt *a = &s->alt[i];
		size_t j;
		for (j = 0; j < a->n; j++)
			if (!field_match(&a->f[j], sc))
				break;
		if (j == a->n)
			return true;
	}
	return false;
}

static bool cond_eval(const struct sdetect *d, const struct scond *c, struct sigma_scratch *sc)
{
	switch (c->type) {
	case SC_SEL: return sel_match(&d->sel[c->sel], sc);
	case SC_AND:
		for (size_t i = 0; i < c->n; i++)
			if (!cond_eval(d, c->kid[i], sc))
				return false;
		return true;
	case SC_OR:
		for (size_t i = 0; i < c->n; i++)
			if (cond_eval(d, c->kid[i], sc))
				return true;
		return false;
	case SC_NOT: return !cond_eval(d, c->kid[0], sc);
	case SC_ONE_OF:
		for (size_t i = 0; i < c->n_sels; i++)
			if (sel_match(&d->sel[c->sels[i]], sc))
				return true;
		return false;
	case SC_ALL_OF:
		for (size_t i = 0; i < c->n_sels; i++)
			if (!sel_match(&d->sel[c->sels[i]], sc))
				return false;
		return true;
	case SC_TRUE: return true;
	}
	return false;
}

bool sdetect_eval(const struct sdetect *d, const struct host_event *ev, struct sigma_scratch *sc)
{
	if (d->service) {
		/* log lines must come from the service; structured kinds (sudo, su, logons)
		 * carry it when the sensor knows it */
		size_t n;
		const char *s = sscratch_lower(sc, EF_SERVICE, &n);
		if (s ? strcmp(s, d->service) != 0 : ev->kind == EVENT_LOG_LINE)
			return false;
	}
	return cond_eval(d, d->cond, sc);
}

size_t sigma_match(const struct sigma_ruleset *rs, const struct host_event *ev,
		   struct sigma_scratch *sc, sigma_match_fn fn, void *arg)
{
	size_t count = 0, n, words;
	enum event_kind k = ev->kind;

	if (!rs->compiled || k <= EVENT_NONE || k >= EVENT_KIND_COUNT)
		return 0;
	n = rs->n_by_kind[k];
	if (!n)
		return 0;
	words = (n + 63) / 64;
	if (sc->cand_words < words) {
		free(sc->cand);
		sc->cand = xcalloc(words, sizeof(uint64_t));
		sc->cand_words = words;
	}
	sscratch_begin(sc, ev);
	memcpy(sc->cand, rs->always[k], words * sizeof(uint64_t));
	sprefilter_scan(rs, k, sc, sc->cand);
	for (size_t w = 0; w < words; w++) {
		uint64_t bits = sc->cand[w];
		while (bits) {
			size_t slot = w * 64 + (size_t)__builtin_ctzll(bits);
			size_t rule = rs->by_kind[k][slot];
			bits &= bits - 1;
			if (sdetect_eval(&rs->rules[rule]->det, ev, sc)) {
				count++;
				if (fn)
					fn(rule, arg);
			}
		}
	}
	return count;
}
