/* Learned baselines (baseline.h, docs/baselines.md).
 *
 * Every learned fact is an entry (kind, subject, what) with first/last seen times and a count,
 * held in one hash table and, per kind, in a list ordered by last use (the eviction order).
 * Per (kind, subject) a counter entry says how many facts the subject has, for explanations
 * and scores. The state file is line-based text (docs/baselines.md "State file"). */
#include "detect/baseline.h"

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <time.h>

#define BL_KINDS 7 /* kinds are 1..6 */
#define BL_SUBJECT_MAX 255
#define BL_WHAT_MAX 511
#define BL_FILE_MAX (256u * 1024 * 1024)
#define BL_LINE_MAX 4096
#define BL_DEFAULT_LEARNING_NS (24 * 3600 * INT64_C(1000000000))
/* Last-seen updates alone are written at most this often (event time). */
#define BL_SOFT_SAVE_NS (300 * INT64_C(1000000000))
#define BL_RECENT 20
#define BL_COUNTER 0x80 /* kind flag of per-subject counter entries */

struct entry {
	struct entry *hnext;
	struct entry *prev, *next; /* LRU list of the kind, head = most recent */
	uint8_t kind;
	uint32_t subject_len, what_len;
	uint64_t hash;
	int64_t first, last;
	uint64_t count; /* observations; for counters, the number of facts */
	char key[];	/* subject NUL what NUL */
};

struct lru {
	struct entry *head, *tail;
	size_t n;
	uint64_t evicted;
};

struct baseline {
	char *path;
	int64_t learning_ns;
	int64_t start; /* time of the first event, 0 before any */
	struct entry **table;
	size_t table_size, n_table;
	struct lru lru[BL_KINDS];
	bool dirty, soft_dirty;
	int64_t latest, saved_at; /* event times */
};

static const char *const kind_names[BL_KINDS] = {
	[BASELINE_NEW_EXECUTABLE] = "new_executable",
	[BASELINE_NEW_PARENT_CHILD] = "new_parent_child",
	[BASELINE_LOGIN_NEW_NETWORK] = "login_new_network",
	[BASELINE_LOGIN_UNUSUAL_HOUR] = "login_unusual_hour",
	[BASELINE_NEW_LISTEN_PORT] = "new_listen_port",
	[BASELINE_NEW_OUTBOUND] = "new_outbound",
};

const char *baseline_kind_name(enum baseline_kind k)
{
	if ((unsigned)k >= BL_KINDS || !kind_names[k])
		return "unknown";
	return kind_names[k];
}

static int kind_by_name(const char *s)
{
	for (int k = 1; k < BL_KINDS; k++)
		if (!strcmp(s, kind_names[k]))
			return k;
	return -ENOENT;
}

/* ---- the table ---- */

static uint64_t key_hash(uint8_t kind, const char *subject, size_t slen, const char *what,
			 size_t wlen)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = (h ^ kind) * 0x100000001b3ull;
	for (size_t i = 0; i < slen; i++)
		h = (h ^ (unsigned char)subject[i]) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (size_t i = 0; i < wlen; i++)
		h = (h ^ (unsigned char)what[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static const char *entry_what(const struct entry *e)
{
	return e->key + e->subject_len + 1;
}

static struct entry *lookup(const struct baseline *b, uint8_t kind, const char *subject,
			    const char *what)
{
	size_t slen = strlen(subject), wlen = strlen(what);
	uint64_t h = key_hash(kind, subject, slen, what, wlen);
	for (struct entry *e = b->table[h & (b->table_size - 1)]; e; e = e->hnext)
		if (e->hash == h && e->kind == kind && e->subject_len == slen &&
		    e->what_len == wlen && !memcmp(e->key, subject, slen) &&
		    !memcmp(entry_what(e), what, wlen))
			return e;
	return NULL;
}

static void table_grow(struct baseline *b)
{
	size_t size = b->table_size * 2;
	struct entry **t = xcalloc(size, sizeof(*t));
	for (size_t i = 0; i < b->table_size; i++) {
		struct entry *e = b->table[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			e->hnext = t[e->hash & (size - 1)];
			t[e->hash & (size - 1)] = e;
		}
	}
	free(b->table);
	b->table = t;
	b->table_size = size;
}

static void table_remove(struct baseline *b, struct entry *e)
{
	struct entry **pp = &b->table[e->hash & (b->table_size - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	b->n_table--;
}

static struct entry *table_add(struct baseline *b, uint8_t kind, const char *subject,
			       const char *what)
{
	size_t slen = strnlen(subject, BL_SUBJECT_MAX), wlen = strnlen(what, BL_WHAT_MAX);
	if (b->n_table >= b->table_size)
		table_grow(b);
	struct entry *e = xcalloc(1, sizeof(*e) + slen + wlen + 2);
	e->kind = kind;
	e->subject_len = slen;
	e->what_len = wlen;
	memcpy(e->key, subject, slen);
	memcpy(e->key + slen + 1, what, wlen);
	e->hash = key_hash(kind, e->key, slen, entry_what(e), wlen);
	e->hnext = b->table[e->hash & (b->table_size - 1)];
	b->table[e->hash & (b->table_size - 1)] = e;
	b->n_table++;
	return e;
}

/* ---- per-kind LRU lists and per-subject counters ---- */

static void lru_unlink(struct lru *l, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
	l->n--;
}

static void lru_push_head(struct lru *l, struct entry *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	else
		l->tail = e;
	l->head = e;
	l->n++;
}

static uint64_t subject_facts(const struct baseline *b, uint8_t kind, const char *subject)
{
	char s[BL_SUBJECT_MAX + 1];
	snprintf(s, sizeof(s), "%s", subject);
	const struct entry *c = lookup(b, kind | BL_COUNTER, s, "");
	return c ? c->count : 0;
}

static void counter_add(struct baseline *b, const struct entry *fact, int delta)
{
	struct entry *c = lookup(b, fact->kind | BL_COUNTER, fact->key, "");
	if (!c) {
		if (delta < 0)
			return;
		c = table_add(b, fact->kind | BL_COUNTER, fact->key, "");
	}
	if (delta < 0 && c->count <= 1) {
		table_remove(b, c);
		free(c);
		return;
	}
	c->count += delta;
}

static void evict_over_cap(struct baseline *b, struct lru *l)
{
	while (l->n > BASELINE_MAX_ENTRIES) {
		struct entry *e = l->tail;
		lru_unlink(l, e);
		counter_add(b, e, -1);
		table_remove(b, e);
		free(e);
		l->evicted++;
		b->dirty = true;
	}
}

/* Remembers (kind, subject, what) at time t. Returns true when it was new. */
static bool remember(struct baseline *b, enum baseline_kind kind, const char *subject,
		     const char *what, int64_t t)
{
	char s[BL_SUBJECT_MAX + 1], w[BL_WHAT_MAX + 1];
	snprintf(s, sizeof(s), "%s", subject);
	snprintf(w, sizeof(w), "%s", what);
	struct lru *l = &b->lru[kind];
	struct entry *e = lookup(b, kind, s, w);
	if (e) {
		lru_unlink(l, e);
		lru_push_head(l, e);
		if (t > e->last)
			e->last = t;
		e->count++;
		b->soft_dirty = true;
		return false;
	}
	e = table_add(b, kind, s, w);
	e->first = e->last = t;
	e->count = 1;
	lru_push_head(l, e);
	counter_add(b, e, 1);
	evict_over_cap(b, l);
	b->dirty = true;
	return true;
}

/* ---- open, free ---- */

static struct baseline *baseline_alloc(const struct baseline_options *o)
{
	struct baseline *b = xcalloc(1, sizeof(*b));
	b->path = o->state_path ? xstrdup(o->state_path) : NULL;
	b->learning_ns = o->learning_ns > 0 ? o->learning_ns : BL_DEFAULT_LEARNING_NS;
	b->table_size = 1024;
	b->table = xcalloc(b->table_size, sizeof(*b->table));
	return b;
}

static void baseline_clear(struct baseline *b)
{
	for (size_t i = 0; i < b->table_size; i++) {
		struct entry *e = b->table[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
		b->table[i] = NULL;
	}
	b->n_table = 0;
	memset(b->lru, 0, sizeof(b->lru));
	b->start = 0;
}

void baseline_free(struct baseline *b)
{
	if (!b)
		return;
	baseline_clear(b);
	free(b->table);
	free(b->path);
	free(b);
}

/* ---- the state file ---- */

/* Writes s escaped: bytes <= ' ', '%' and 0x7f as %XX; the empty string as "-", a leading '-'
 * as %2D. */
static int put_escaped(struct buf *out, const char *s)
{
	if (!*s)
		return buf_puts(out, "-");
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = s[i];
		int r;
		if (c <= ' ' || c == '%' || c == 0x7f || (i == 0 && c == '-'))
			r = buf_printf(out, "%%%02X", c);
		else
			r = buf_append(out, &c, 1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes token s in place (the reverse of put_escaped). Returns 0 or -EBADMSG. */
static int unescape(char *s, size_t max)
{
	if (!strcmp(s, "-")) {
		s[0] = '\0';
		return 0;
	}
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = hexval(s[i + 1]), lo = hi < 0 ? -1 : hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		s[o++] = c;
	}
	s[o] = '\0';
	return o <= max ? 0 : -EBADMSG;
}

static int write_state(const struct baseline *b, struct buf *out)
{
	int r = buf_printf(out, "immune-baseline 1\nstart %" PRId64 "\n", b->start);
	for (int k = 1; k < BL_KINDS && r == 0; k++) {
		if (b->lru[k].evicted)
			r = buf_printf(out, "evicted %s %" PRIu64 "\n", kind_names[k],
				       b->lru[k].evicted);
		/* oldest first, so loading (each to the head) restores the order */
		for (const struct entry *e = b->lru[k].tail; e && r == 0; e = e->prev) {
			r = buf_printf(out, "%s %" PRId64 " %" PRId64 " %" PRIu64 " ",
				       kind_names[k], e->first, e->last, e->count);
			if (r == 0)
				r = put_escaped(out, e->key);
			if (r == 0)
				r = buf_puts(out, " ");
			if (r == 0)
				r = put_escaped(out, entry_what(e));
			if (r == 0)
				r = buf_puts(out, "\n");
		}
	}
	return r;
}

int baseline_save(struct baseline *b)
{
	if (!b->path)
		return 0;
	if (!b->dirty && !(b->soft_dirty && b->latest - b->saved_at >= BL_SOFT_SAVE_NS))
		return 0;
	struct buf out;
	buf_init(&out, BL_FILE_MAX);
	int r = write_state(b, &out);
	if (r == 0)
		r = file_write_atomic(b->path, buf_str(&out), buf_len(&out), 0600);
	buf_free(&out);
	if (r < 0)
		return r;
	b->dirty = b->soft_dirty = false;
	b->saved_at = b->latest;
	return 0;
}

/* Splits line (NUL-terminated, modified) at spaces into at most max tokens. */
static size_t tokenize(char *line, char **tok, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (*p) {
		if (n == max)
			return max + 1;
		tok[n++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
		if (!*p)
			return max + 1; /* a trailing space: not our format */
	}
	return n;
}

static int parse_entry_line(struct baseline *b, int kind, char **tok)
{
	int64_t first, last;
	uint64_t count;
	if (parse_i64(tok[1], 0, INT64_MAX, &first) < 0 ||
	    parse_i64(tok[2], first, INT64_MAX, &last) < 0 ||
	    parse_u64(tok[3], 10, UINT64_MAX, &count) < 0 || count == 0 ||
	    unescape(tok[4], BL_SUBJECT_MAX) < 0 || unescape(tok[5], BL_WHAT_MAX) < 0)
		return -EBADMSG;
	if (lookup(b, kind, tok[4], tok[5]))
		return -EBADMSG; /* duplicates would break the counters */
	struct entry *e = table_add(b, kind, tok[4], tok[5]);
	e->first = first;
	e->last = last;
	e->count = count;
	lru_push_head(&b->lru[kind], e);
	counter_add(b, e, 1);
	if (last > b->latest)
		b->latest = last;
	if (b->lru[kind].n > BASELINE_MAX_ENTRIES)
		return -EBADMSG;
	return 0;
}

static int parse_line(struct baseline *b, char *line, unsigned lineno)
{
	char *tok[7] = { 0 };
	size_t n = tokenize(line, tok, 6);
	if (lineno == 1)
		return n == 2 && !strcmp(tok[0], "immune-baseline") && !strcmp(tok[1], "1")
			       ? 0
			       : -EBADMSG;
	if (lineno == 2)
		return n == 2 && !strcmp(tok[0], "start") &&
				       parse_i64(tok[1], 0, INT64_MAX, &b->start) == 0
			       ? 0
			       : -EBADMSG;
	if (n == 3 && !strcmp(tok[0], "evicted")) {
		int k = kind_by_name(tok[1]);
		return k > 0 && parse_u64(tok[2], 10, UINT64_MAX, &b->lru[k].evicted) == 0
			       ? 0
			       : -EBADMSG;
	}
	if (n != 6)
		return -EBADMSG; /* an empty line has no tok[0] */
	int k = kind_by_name(tok[0]);
	if (k < 0)
		return -EBADMSG;
	return parse_entry_line(b, k, tok);
}

static int parse_state(struct baseline *b, const char *data, size_t len)
{
	struct cursor c;
	const char *line;
	size_t n;
	unsigned lineno = 0;
	char tmp[BL_LINE_MAX + 1];
	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) == 1) {
		lineno++;
		if (n > BL_LINE_MAX || memchr(line, '\0', n))
			return -EBADMSG;
		memcpy(tmp, line, n);
		tmp[n] = '\0';
		int r = parse_line(b, tmp, lineno);
		if (r < 0)
			return r;
	}
	return lineno >= 2 ? 0 : -EBADMSG;
}

/* Loads b->path; a damaged file is renamed to path.damaged and the state cleared. */
static int load_state(struct baseline *b)
{
	struct buf data;
	buf_init(&data, BL_FILE_MAX);
	int r = file_read_capped(b->path, BL_FILE_MAX, &data);
	if (r == -ENOENT) {
		buf_free(&data);
		return 0;
	}
	if (r == 0)
		r = parse_state(b, buf_str(&data), buf_len(&data));
	else if (r == -EFBIG)
		r = -EBADMSG;
	buf_free(&data);
	if (r != -EBADMSG)
		return r;
	baseline_clear(b);
	_cleanup_free_ char *aside = xasprintf("%s.damaged", b->path);
	if (rename(b->path, aside) < 0)
		return -errno;
	return -EBADMSG;
}

int baseline_open(const struct baseline_options *o, struct baseline **out)
{
	struct baseline *b = baseline_alloc(o);
	int r = 0;
	if (b->path)
		r = load_state(b);
	if (r < 0 && r != -EBADMSG) {
		baseline_free(b);
		return r;
	}
	*out = b;
	return r;
}

/* ---- observation ---- */

bool baseline_learning(const struct baseline *b, int64_t *until)
{
	if (!b->start) {
		if (until)
			*until = 0;
		return true;
	}
	int64_t end = b->start > INT64_MAX - b->learning_ns ? INT64_MAX : b->start + b->learning_ns;
	if (until)
		*until = end;
	return b->latest < end;
}

static void format_time(int64_t ns, char *s, size_t n)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(s, n, "%Y-%m-%dT%H:%MZ", &tm))
		snprintf(s, n, "?");
}

/* 0.3 for a subject with nothing learned, towards 1 as what was learned grows. */
static double score_of(uint64_t learned)
{
	double n = (double)learned;
	return 0.3 + 0.7 * n / (n + 10.0);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

struct obs {
	struct baseline *b;
	const struct host_event *ev;
	struct baseline_anomaly *out;
	size_t n;
	char since[32];
};

/* Checks and remembers one fact; when it is new after learning, fills the next anomaly with
 * the counts before it was added. Returns the anomaly or NULL. */
static struct baseline_anomaly *check(struct obs *o, enum baseline_kind kind, const char *subject,
				      const char *what, uint64_t *learned)
{
	struct baseline *b = o->b;
	bool learning = baseline_learning(b, NULL);
	*learned = subject_facts(b, kind, subject);
	if (!remember(b, kind, subject, what, o->ev->time_ns) || learning || o->n >= 2)
		return NULL;
	struct baseline_anomaly *a = &o->out[o->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->score = score_of(*learned);
	snprintf(a->subject, sizeof(a->subject), "%s", subject);
	snprintf(a->what, sizeof(a->what), "%s", what);
	return a;
}

static const char *host_of(const struct host_event *ev)
{
	const char *h = host_event_get(ev, EF_HOSTNAME, NULL);
	return h && *h ? h : "this host";
}

static void observe_exec(struct obs *o)
{
	const char *image = host_event_get(o->ev, EF_IMAGE, NULL);
	const char *parent = host_event_get(o->ev, EF_PARENT_IMAGE, NULL);
	uint64_t n;
	if (!image || !*image)
		return;
	struct baseline_anomaly *a = check(o, BASELINE_NEW_EXECUTABLE, "", image, &n);
	if (a) {
		snprintf(a->subject, sizeof(a->subject), "%s", host_of(o->ev));
		snprintf(a->explanation, sizeof(a->explanation),
			 "%s first run on this host; %" PRIu64 " %s learned since %s", image, n,
			 plural(n, "executable", "executables"), o->since);
	}
	if (!parent || !*parent)
		return;
	a = check(o, BASELINE_NEW_PARENT_CHILD, parent, image, &n);
	if (a)
		snprintf(a->explanation, sizeof(a->explanation),
			 "%s started %s for the first time; %" PRIu64 " %s of %s learned since %s",
			 parent, image, n, plural(n, "child program", "child programs"), parent,
			 o->since);
}

/* The source network of ip: IPv4 /24, IPv6 /64. Returns false when ip is not an address. */
static bool network_of(const char *ip, char *net, size_t n)
{
	unsigned char a[16];
	char s[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(net, n, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		return true;
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		memset(a + 8, 0, 8);
		if (!inet_ntop(AF_INET6, a, s, sizeof(s)))
			return false;
		snprintf(net, n, "%s/64", s);
		return true;
	}
	return false;
}

/* The hours (of 24) the user has logged in at, as "08:00, 09:00"; returns how many. */
static unsigned learned_hours(const struct baseline *b, const char *user, char *s, size_t n)
{
	unsigned count = 0;
	size_t used = 0;
	s[0] = '\0';
	for (int h = 0; h < 24; h++) {
		char what[8];
		snprintf(what, sizeof(what), "%02d:00", h);
		if (!lookup(b, BASELINE_LOGIN_UNUSUAL_HOUR, user, what))
			continue;
		int w = snprintf(s + used, n - used, "%s%s", count ? ", " : "", what);
		if (w > 0 && (size_t)w < n - used)
			used += w;
		count++;
	}
	return count;
}

static void observe_login_hour(struct obs *o, const char *user)
{
	struct baseline *b = o->b;
	int64_t secs = o->ev->time_ns / 1000000000;
	int hour = (int)((secs % 86400 + 86400) % 86400 / 3600);
	char what[8], near[8], hours[160];
	snprintf(what, sizeof(what), "%02d:00", hour);
	unsigned known = learned_hours(b, user, hours, sizeof(hours));
	bool usual = known == 0; /* nothing learned for the user: the hour is not unusual */
	for (int d = -1; d <= 1 && !usual; d++) {
		snprintf(near, sizeof(near), "%02d:00", (hour + d + 24) % 24);
		usual = lookup(b, BASELINE_LOGIN_UNUSUAL_HOUR, user, near) != NULL;
	}
	if (usual) {
		remember(b, BASELINE_LOGIN_UNUSUAL_HOUR, user, what, o->ev->time_ns);
		return;
	}
	uint64_t n;
	struct baseline_anomaly *a = check(o, BASELINE_LOGIN_UNUSUAL_HOUR, user, what, &n);
	if (a)
		snprintf(a->explanation, sizeof(a->explanation),
			 "%s logged in at %s UTC, more than an hour from any login learned for "
			 "%s since %s (%s)",
			 user, what, user, o->since, hours);
}

static void observe_login(struct obs *o)
{
	const char *outcome = host_event_get(o->ev, EF_OUTCOME, NULL);
	const char *user = host_event_get(o->ev, EF_TARGET_USER, NULL);
	const char *ip = host_event_get(o->ev, EF_SRC_IP, NULL);
	char net[INET6_ADDRSTRLEN + 8];
	uint64_t n;
	if (!outcome || !str_case_eq(outcome, "success") || !user || !*user)
		return;
	if (ip && network_of(ip, net, sizeof(net))) {
		struct baseline_anomaly *a = check(o, BASELINE_LOGIN_NEW_NETWORK, user, net, &n);
		if (a)
			snprintf(a->explanation, sizeof(a->explanation),
				 "%s logged in from %s (%s) for the first time; %" PRIu64
				 " source %s learned for %s since %s",
				 user, net, ip, n, plural(n, "network", "networks"), user,
				 o->since);
	}
	observe_login_hour(o, user);
}

static void observe_listen(struct obs *o)
{
	const char *proto = host_event_get(o->ev, EF_PROTOCOL, NULL);
	const char *port = host_event_get(o->ev, EF_SRC_PORT, NULL);
	char what[64], p[16];
	uint64_t n;
	if (!port || !*port)
		return;
	snprintf(p, sizeof(p), "%s", proto && *proto ? proto : "?");
	str_lower(p);
	snprintf(what, sizeof(what), "%s/%s", p, port);
	struct baseline_anomaly *a = check(o, BASELINE_NEW_LISTEN_PORT, "", what, &n);
	if (!a)
		return;
	snprintf(a->subject, sizeof(a->subject), "%s", host_of(o->ev));
	snprintf(a->explanation, sizeof(a->explanation),
		 "%s listened on for the first time on this host; %" PRIu64
		 " listening %s learned since %s",
		 what, n, plural(n, "port", "ports"), o->since);
}

static void observe_connect(struct obs *o)
{
	const char *image = host_event_get(o->ev, EF_IMAGE, NULL);
	const char *ip = host_event_get(o->ev, EF_DST_IP, NULL);
	const char *port = host_event_get(o->ev, EF_DST_PORT, NULL);
	char what[INET6_ADDRSTRLEN + 64];
	uint64_t n;
	if (!image || !*image || !ip || !*ip)
		return;
	bool v6 = strchr(ip, ':') != NULL;
	snprintf(what, sizeof(what), "%s%.*s%s:%s", v6 ? "[" : "", INET6_ADDRSTRLEN, ip,
		 v6 ? "]" : "", port && *port ? port : "?");
	struct baseline_anomaly *a = check(o, BASELINE_NEW_OUTBOUND, image, what, &n);
	if (a)
		snprintf(a->explanation, sizeof(a->explanation),
			 "%s connected to %s for the first time; %" PRIu64
			 " %s learned for %s since %s",
			 image, what, n, plural(n, "destination", "destinations"), image, o->since);
}

int baseline_observe(struct baseline *b, const struct host_event *ev,
		     struct baseline_anomaly out[2], size_t *n)
{
	struct obs o = { .b = b, .ev = ev, .out = out };
	if (!b->start) {
		b->start = ev->time_ns > 0 ? ev->time_ns : 1;
		b->dirty = true;
	}
	if (ev->time_ns > b->latest)
		b->latest = ev->time_ns;
	format_time(b->start, o.since, sizeof(o.since));
	switch (ev->kind) {
	case EVENT_PROCESS_EXEC: observe_exec(&o); break;
	case EVENT_AUTH_LOGON: observe_login(&o); break;
	case EVENT_NET_LISTEN: observe_listen(&o); break;
	case EVENT_NET_CONNECT: observe_connect(&o); break;
	default: break;
	}
	if (!o.n)
		return 0;
	*n = o.n;
	return 1;
}

/* ---- summary ---- */

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = xstrdup(s);
	for (size_t i = 0; c[i]; i++)
		if ((unsigned char)c[i] >= 0x80 || (unsigned char)c[i] < 0x20)
			c[i] = '?';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *jtime(int64_t ns)
{
	char s[32];
	format_time(ns, s, sizeof(s));
	return json_string(s);
}

static json_t *entry_json(const struct entry *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string(kind_names[e->kind]));
	json_object_set_new(o, "subject", jstr(e->key));
	json_object_set_new(o, "what", jstr(entry_what(e)));
	json_object_set_new(o, "first_seen", jtime(e->first));
	json_object_set_new(o, "last_seen", jtime(e->last));
	json_object_set_new(o, "count", json_integer((json_int_t)e->count));
	return o;
}

static void add_user_fact(json_t *users, const struct entry *e, const char *list)
{
	json_t *name = jstr(e->key);
	const char *u = json_string_value(name);
	json_t *user = json_object_get(users, u);
	if (!user) {
		user = json_object();
		json_object_set_new(user, "networks", json_array());
		json_object_set_new(user, "hours", json_array());
		json_object_set_new(users, u, user);
	}
	json_array_append_new(json_object_get(user, list), jstr(entry_what(e)));
	json_decref(name);
}

static int cmp_first_desc(const void *x, const void *y)
{
	const struct entry *a = *(const struct entry *const *)x,
			   *b = *(const struct entry *const *)y;
	return a->first < b->first ? 1 : a->first > b->first ? -1 : 0;
}

static json_t *recent_json(const struct baseline *b)
{
	/* the BL_RECENT most recently learned entries, over all kinds */
	const struct entry *top[BL_RECENT];
	size_t n = 0;
	for (int k = 1; k < BL_KINDS; k++)
		for (const struct entry *e = b->lru[k].head; e; e = e->next) {
			if (n < BL_RECENT) {
				top[n++] = e;
				sort_array(top, n, sizeof(*top), cmp_first_desc);
			} else if (e->first > top[n - 1]->first) {
				top[n - 1] = e;
				sort_array(top, n, sizeof(*top), cmp_first_desc);
			}
		}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, entry_json(top[i]));
	return a;
}

json_t *baseline_summary(const struct baseline *b)
{
	json_t *o = json_object(), *counts = json_object(), *evicted = json_object();
	int64_t until;
	bool learning = baseline_learning(b, &until);
	json_object_set_new(o, "learning", json_boolean(learning));
	json_object_set_new(o, "started", b->start ? jtime(b->start) : json_null());
	json_object_set_new(o, "learning_until", b->start ? jtime(until) : json_null());
	for (int k = 1; k < BL_KINDS; k++) {
		json_object_set_new(counts, kind_names[k], json_integer((json_int_t)b->lru[k].n));
		json_object_set_new(evicted, kind_names[k],
				    json_integer((json_int_t)b->lru[k].evicted));
	}
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "evicted", evicted);
	json_t *users = json_object(), *ports = json_array();
	for (const struct entry *e = b->lru[BASELINE_LOGIN_NEW_NETWORK].tail; e; e = e->prev)
		add_user_fact(users, e, "networks");
	for (const struct entry *e = b->lru[BASELINE_LOGIN_UNUSUAL_HOUR].tail; e; e = e->prev)
		add_user_fact(users, e, "hours");
	for (const struct entry *e = b->lru[BASELINE_NEW_LISTEN_PORT].tail; e; e = e->prev)
		json_array_append_new(ports, jstr(entry_what(e)));
	json_object_set_new(o, "users", users);
	json_object_set_new(o, "listen_ports", ports);
	json_object_set_new(o, "recent", recent_json(b));
	return o;
}
