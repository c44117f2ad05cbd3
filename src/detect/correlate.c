/* Sigma correlation (correlate.h, docs/correlation.md).
 *
 * Per correlation rule, groups (one per group-by value) live in a hash table and in a list
 * ordered by last use (the eviction order). A group keeps only what its rule's condition
 * needs: match times (event_count), distinct values with their last time (value_count), per
 * referenced rule the latest match or chain start (temporal, temporal_ordered), and copies of
 * the latest evidence events. A group that fires is removed, which is the reset. */
#include "detect/correlate.h"

/* event_count keeps one time per match up to this many, then merges matches into slots of
 * timespan / CORR_EXACT_TIMES (the count is then exact to within one slot at the window's
 * start). value_count tracks at most CORR_MAX_VALUES distinct values per group. */
#define CORR_EXACT_TIMES 1024
#define CORR_MAX_VALUES 4096
#define CORR_KEY_MAX 1024
#define CORR_MAX_DEPTH 4 /* correlations of correlations */

struct slot {
	int64_t time; /* event_count: first match in the slot; value_count: last sighting */
	uint64_t n;   /* event_count: matches in the slot; value_count: the value's hash */
};

struct group {
	struct group *hnext;
	struct group *prev, *next; /* LRU, head = most recent */
	uint64_t hash;
	int64_t last; /* latest event time seen */
	struct slot *slots;
	uint32_t s_cap, s_head, s_n; /* ring (event_count) or set (value_count) */
	int64_t *steps;		     /* temporal: per referenced rule; INT64_MIN = none */
	struct host_event *evidence[CORR_MAX_EVIDENCE];
	uint32_t e_head, e_n;
	char key[];
};

struct crule {
	size_t index;
	const struct sigma_correlation *def;
	struct group **table;
	size_t table_size, n;
	struct group *head, *tail;
	uint32_t need;	   /* times or values the condition needs (capacity) */
	uint32_t evidence; /* evidence events kept per group */
	int64_t quantum;   /* event_count merge width, 0 = exact */
	size_t *users;	   /* correlation rules that reference this rule (by crule index) */
	size_t n_users;
};

struct correlator {
	struct crule *rules; /* one per correlation rule */
	size_t n_rules;
	size_t **by_rule;  /* per rule index: crule indexes referencing it, SIZE_MAX-terminated */
	ssize_t *crule_of; /* per rule index: its crule, or -1 */
	size_t n;
	struct correlator_stats stats;
};

/* ---- groups ---- */

static uint64_t hash_key(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ (h >> 31);
}

static void group_free(struct group *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < CORR_MAX_EVIDENCE; i++)
		if (g->evidence[i]) {
			host_event_free(g->evidence[i]);
			free(g->evidence[i]);
		}
	free(g->slots);
	free(g->steps);
	free(g);
}

static void lru_unlink(struct crule *r, struct group *g)
{
	if (g->prev)
		g->prev->next = g->next;
	else
		r->head = g->next;
	if (g->next)
		g->next->prev = g->prev;
	else
		r->tail = g->prev;
	g->prev = g->next = NULL;
}

static void lru_push_head(struct crule *r, struct group *g)
{
	g->prev = NULL;
	g->next = r->head;
	if (r->head)
		r->head->prev = g;
	else
		r->tail = g;
	r->head = g;
}

/* Takes g out of the table and the list; the caller frees it. */
static void group_detach(struct correlator *c, struct crule *r, struct group *g)
{
	struct group **pp = &r->table[g->hash & (r->table_size - 1)];
	while (*pp != g)
		pp = &(*pp)->hnext;
	*pp = g->hnext;
	lru_unlink(r, g);
	r->n--;
	c->stats.groups--;
}

static void table_grow(struct crule *r)
{
	size_t size = r->table_size * 2;
	struct group **t = xcalloc(size, sizeof(*t));
	for (size_t i = 0; i < r->table_size; i++) {
		struct group *g = r->table[i], *next;
		for (; g; g = next) {
			next = g->hnext;
			g->hnext = t[g->hash & (size - 1)];
			t[g->hash & (size - 1)] = g;
		}
	}
	free(r->table);
	r->table = t;
	r->table_size = size;
}

static struct group *group_get(struct correlator *c, struct crule *r, const char *key)
{
	size_t len = strlen(key);
	uint64_t h = hash_key(key, len);
	for (struct group *g = r->table[h & (r->table_size - 1)]; g; g = g->hnext)
		if (g->hash == h && !strcmp(g->key, key)) {
			lru_unlink(r, g);
			lru_push_head(r, g);
			return g;
		}
	if (r->n >= CORR_MAX_GROUPS) {
		struct group *old = r->tail;
		group_detach(c, r, old);
		group_free(old);
		c->stats.evicted++;
	}
	if (r->n >= r->table_size)
		table_grow(r);
	struct group *g = xcalloc(1, sizeof(*g) + len + 1);
	memcpy(g->key, key, len + 1);
	g->hash = h;
	g->last = INT64_MIN;
	if (r->def->type == SIGMA_CORR_TEMPORAL || r->def->type == SIGMA_CORR_TEMPORAL_ORDERED) {
		g->steps = xcalloc(r->def->n_refs, sizeof(*g->steps));
		for (size_t i = 0; i < r->def->n_refs; i++)
			g->steps[i] = INT64_MIN;
	}
	g->hnext = r->table[h & (r->table_size - 1)];
	r->table[h & (r->table_size - 1)] = g;
	lru_push_head(r, g);
	r->n++;
	c->stats.groups++;
	return g;
}

/* The group-by values of ev joined by '|' (absent fields are empty). */
static void group_key(const struct crule *r, const struct host_event *ev, char *key, size_t size)
{
	size_t used = 0;
	key[0] = '\0';
	for (size_t i = 0; i < r->def->n_group_by; i++) {
		const char *v = host_event_get(ev, r->def->group_by[i], NULL);
		int w = snprintf(key + used, size - used, "%s%s", i ? "|" : "", v ? v : "");
		if (w < 0 || (size_t)w >= size - used)
			return; /* cut at CORR_KEY_MAX */
		used += (size_t)w;
	}
}

static void add_evidence(const struct crule *r, struct group *g, const struct host_event *ev)
{
	uint32_t cap = r->evidence, i;
	if (g->e_n < cap) {
		i = (g->e_head + g->e_n++) % cap;
	} else {
		i = g->e_head;
		g->e_head = (g->e_head + 1) % cap;
	}
	if (!g->evidence[i]) {
		g->evidence[i] = xmalloc(sizeof(struct host_event));
		host_event_init(g->evidence[i]);
	}
	if (host_event_copy(g->evidence[i], ev) < 0)
		g->evidence[i]->truncated = true;
}

/* ---- conditions ---- */

static int64_t window_start(const struct crule *r, int64_t t)
{
	int64_t span = r->def->timespan_ns;
	return span > 0 && t > INT64_MIN + span ? t - span : INT64_MIN;
}

static bool in_range(const struct crule *r, uint64_t count)
{
	return (int64_t)count >= r->def->min && (int64_t)count <= r->def->max;
}

static void slots_reserve(struct group *g, uint32_t need)
{
	if (g->s_cap >= need)
		return;
	uint32_t cap = g->s_cap ? g->s_cap : 4;
	while (cap < need)
		cap *= 2;
	/* the ring is unrolled into its new space */
	struct slot *s = xcalloc(cap, sizeof(*s));
	for (uint32_t i = 0; i < g->s_n; i++)
		s[i] = g->slots[(g->s_head + i) % g->s_cap];
	free(g->slots);
	g->slots = s;
	g->s_cap = cap;
	g->s_head = 0;
}

static bool update_event_count(const struct crule *r, struct group *g, int64_t t)
{
	uint32_t cap = r->need;
	if (r->quantum && g->s_n) {
		struct slot *newest = &g->slots[(g->s_head + g->s_n - 1) % g->s_cap];
		if (t >= newest->time && t - newest->time < r->quantum) {
			newest->n++;
			goto count;
		}
	}
	if (g->s_n < cap) {
		slots_reserve(g, g->s_n + 1);
		g->slots[(g->s_head + g->s_n++) % g->s_cap] = (struct slot){ t, 1 };
	} else {
		/* full: the newest replaces the oldest */
		g->slots[(g->s_head + g->s_n) % g->s_cap] = (struct slot){ t, 1 };
		g->s_head = (g->s_head + 1) % g->s_cap;
	}
count:;
	int64_t from = window_start(r, t);
	uint64_t count = 0;
	for (uint32_t i = 0; i < g->s_n; i++) {
		const struct slot *s = &g->slots[(g->s_head + i) % g->s_cap];
		if (s->time >= from && s->time <= t)
			count += s->n;
	}
	return in_range(r, count);
}

static bool update_value_count(const struct crule *r, struct group *g, int64_t t, const char *value)
{
	uint64_t h = hash_key(value, strlen(value));
	int64_t from = window_start(r, t);
	uint32_t i, oldest = 0;
	for (i = 0; i < g->s_n; i++) {
		if (g->slots[i].n == h)
			break;
		if (g->slots[i].time < g->slots[oldest].time)
			oldest = i;
	}
	if (i < g->s_n) {
		if (t > g->slots[i].time)
			g->slots[i].time = t;
	} else if (g->s_n < r->need) {
		slots_reserve(g, g->s_n + 1);
		g->slots[g->s_n++] = (struct slot){ t, h };
	} else {
		g->slots[oldest] = (struct slot){ t, h }; /* forget the least recent value */
	}
	uint64_t count = 0;
	for (i = 0; i < g->s_n; i++)
		if (g->slots[i].time >= from)
			count++;
	return in_range(r, count);
}

static bool update_temporal(const struct crule *r, struct group *g, size_t rule, int64_t t)
{
	const struct sigma_correlation *d = r->def;
	int64_t from = window_start(r, t);
	bool ordered = d->type == SIGMA_CORR_TEMPORAL_ORDERED;
	/* later positions first, so one match does not advance a chain twice */
	for (size_t i = d->n_refs; i-- > 0;) {
		if (d->refs[i] != rule)
			continue;
		if (!ordered)
			g->steps[i] = t;
		else if (i == 0)
			g->steps[0] = t; /* the latest possible chain start */
		else if (g->steps[i - 1] != INT64_MIN && g->steps[i - 1] >= from &&
			 g->steps[i - 1] > g->steps[i])
			g->steps[i] = g->steps[i - 1];
	}
	if (ordered)
		return g->steps[d->n_refs - 1] != INT64_MIN && g->steps[d->n_refs - 1] >= from;
	for (size_t i = 0; i < d->n_refs; i++)
		if (g->steps[i] == INT64_MIN || g->steps[i] < from)
			return false;
	return true;
}

/* ---- feeding ---- */

static void update(struct correlator *c, size_t ci, size_t rule, const struct host_event *ev,
		   corr_fire_fn fn, void *arg, unsigned depth);

static void fire(struct correlator *c, size_t ci, struct group *g, int64_t t, corr_fire_fn fn,
		 void *arg, unsigned depth)
{
	struct crule *r = &c->rules[ci];
	const struct host_event *ev[CORR_MAX_EVIDENCE];
	size_t n = 0;
	int64_t from = window_start(r, t);
	group_detach(c, r, g);
	for (uint32_t i = 0; i < g->e_n; i++) {
		const struct host_event *e = g->evidence[(g->e_head + i) % r->evidence];
		if (e->time_ns >= from)
			ev[n++] = e;
	}
	c->stats.fired++;
	if (fn)
		fn(r->index, g->key, ev, n, arg);
	/* a correlation may itself be referenced: its firing is a match of it */
	if (n && depth < CORR_MAX_DEPTH)
		for (size_t u = 0; u < r->n_users; u++)
			update(c, r->users[u], r->index, ev[n - 1], fn, arg, depth + 1);
	group_free(g);
}

static void update(struct correlator *c, size_t ci, size_t rule, const struct host_event *ev,
		   corr_fire_fn fn, void *arg, unsigned depth)
{
	struct crule *r = &c->rules[ci];
	const char *value = NULL;
	char key[CORR_KEY_MAX];
	if (r->def->type == SIGMA_CORR_VALUE_COUNT) {
		value = host_event_get(ev, r->def->value_field, NULL);
		if (!value)
			return; /* nothing to count */
	}
	group_key(r, ev, key, sizeof(key));
	struct group *g = group_get(c, r, key);
	int64_t t = ev->time_ns;
	if (t > g->last)
		g->last = t;
	add_evidence(r, g, ev);
	bool met = false;
	switch (r->def->type) {
	case SIGMA_CORR_EVENT_COUNT: met = update_event_count(r, g, t); break;
	case SIGMA_CORR_VALUE_COUNT: met = update_value_count(r, g, t, value); break;
	case SIGMA_CORR_TEMPORAL:
	case SIGMA_CORR_TEMPORAL_ORDERED: met = update_temporal(r, g, rule, t); break;
	default: break;
	}
	if (met)
		fire(c, ci, g, t, fn, arg, depth);
}

void correlator_feed(struct correlator *c, size_t rule, const struct host_event *ev,
		     corr_fire_fn fn, void *arg)
{
	if (rule >= c->n || !c->by_rule[rule])
		return;
	for (const size_t *ci = c->by_rule[rule]; *ci != SIZE_MAX; ci++)
		update(c, *ci, rule, ev, fn, arg, 0);
}

void correlator_expire(struct correlator *c, int64_t now_ns)
{
	for (size_t i = 0; i < c->n_rules; i++) {
		struct crule *r = &c->rules[i];
		int64_t from = window_start(r, now_ns);
		/* the list is in feed order; stop at the first group still in its window */
		while (r->tail && r->tail->last < from) {
			struct group *g = r->tail;
			group_detach(c, r, g);
			group_free(g);
		}
	}
}

void correlator_stats(const struct correlator *c, struct correlator_stats *out)
{
	*out = c->stats;
}

/* ---- construction ---- */

static void crule_init(struct crule *r, size_t index, const struct sigma_correlation *d)
{
	uint64_t need = 1;
	r->index = index;
	r->def = d;
	r->table_size = 16;
	r->table = xcalloc(r->table_size, sizeof(*r->table));
	if (d->type == SIGMA_CORR_EVENT_COUNT || d->type == SIGMA_CORR_VALUE_COUNT) {
		/* enough to tell min <= count <= max: max + 1, or min without a maximum */
		need = d->max < INT64_MAX ? (uint64_t)d->max + 1
					  : (uint64_t)(d->min > 1 ? d->min : 1);
		if (need < 1)
			need = 1;
	} else {
		need = d->n_refs;
	}
	uint64_t cap = d->type == SIGMA_CORR_VALUE_COUNT ? CORR_MAX_VALUES : CORR_EXACT_TIMES;
	if (d->type == SIGMA_CORR_EVENT_COUNT && need > cap)
		r->quantum = d->timespan_ns / CORR_EXACT_TIMES > 0
				     ? d->timespan_ns / CORR_EXACT_TIMES
				     : 1;
	r->need = (uint32_t)(need > cap ? (r->quantum ? cap + 2 : cap) : need);
	/* event_count: the matches that make the count; otherwise as many as allowed */
	r->evidence = CORR_MAX_EVIDENCE;
	if (d->type == SIGMA_CORR_EVENT_COUNT && need < CORR_MAX_EVIDENCE)
		r->evidence = (uint32_t)need;
}

static void by_rule_add(struct correlator *c, size_t rule, size_t ci)
{
	size_t n = 0;
	if (c->by_rule[rule])
		while (c->by_rule[rule][n] != SIZE_MAX)
			n++;
	for (size_t i = 0; i < n; i++)
		if (c->by_rule[rule][i] == ci)
			return; /* a rule listed twice is fed once */
	c->by_rule[rule] = xrealloc(c->by_rule[rule], (n + 2) * sizeof(size_t));
	c->by_rule[rule][n] = ci;
	c->by_rule[rule][n + 1] = SIZE_MAX;
}

int correlator_new_defs(const struct sigma_correlation *const *defs, size_t n,
			struct correlator **out)
{
	size_t n_corr = 0;
	for (size_t i = 0; i < n; i++) {
		if (!defs[i] || defs[i]->type == SIGMA_CORR_NONE)
			continue;
		if (defs[i]->n_refs == 0)
			return -EINVAL;
		for (size_t j = 0; j < defs[i]->n_refs; j++)
			if (defs[i]->refs[j] >= n)
				return -EINVAL;
		for (size_t j = 0; j < defs[i]->n_group_by; j++)
			if ((unsigned)defs[i]->group_by[j] >= EF_COUNT)
				return -EINVAL;
		if (defs[i]->type == SIGMA_CORR_VALUE_COUNT &&
		    (unsigned)defs[i]->value_field >= EF_COUNT)
			return -EINVAL;
		n_corr++;
	}
	struct correlator *c = xcalloc(1, sizeof(*c));
	c->n = n;
	c->rules = xcalloc(n_corr ? n_corr : 1, sizeof(*c->rules));
	c->by_rule = xcalloc(n ? n : 1, sizeof(*c->by_rule));
	c->crule_of = xcalloc(n ? n : 1, sizeof(*c->crule_of));
	for (size_t i = 0; i < n; i++) {
		c->crule_of[i] = -1;
		if (!defs[i] || defs[i]->type == SIGMA_CORR_NONE)
			continue;
		c->crule_of[i] = (ssize_t)c->n_rules;
		crule_init(&c->rules[c->n_rules++], i, defs[i]);
	}
	for (size_t ci = 0; ci < c->n_rules; ci++) {
		const struct sigma_correlation *d = c->rules[ci].def;
		for (size_t j = 0; j < d->n_refs; j++) {
			by_rule_add(c, d->refs[j], ci);
			ssize_t target = c->crule_of[d->refs[j]];
			if (target >= 0 && (size_t)target != ci) {
				struct crule *t = &c->rules[target];
				t->users = xrealloc(t->users, (t->n_users + 1) * sizeof(size_t));
				t->users[t->n_users++] = ci;
			}
		}
	}
	*out = c;
	return 0;
}

int correlator_new(const struct sigma_ruleset *rs, struct correlator **out)
{
	size_t n = sigma_ruleset_count(rs);
	const struct sigma_correlation **defs = xcalloc(n ? n : 1, sizeof(*defs));
	for (size_t i = 0; i < n; i++)
		defs[i] = sigma_ruleset_rule(rs, i)->correlation;
	int r = correlator_new_defs(defs, n, out);
	free(defs);
	return r;
}

void correlator_free(struct correlator *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_rules; i++) {
		struct crule *r = &c->rules[i];
		for (struct group *g = r->head, *next; g; g = next) {
			next = g->next;
			group_free(g);
		}
		free(r->table);
		free(r->users);
	}
	for (size_t i = 0; i < c->n; i++)
		free(c->by_rule[i]);
	free(c->by_rule);
	free(c->crule_of);
	free(c->rules);
	free(c);
}
