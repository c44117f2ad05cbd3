/* The store's front end: URL dispatch to a backend, the ingest queue and its writer thread,
 * batches, labels and statistics (store.h). */
#include "store/store.h"
#include "store/store_backend.h"

#include "lib/buf.h"
#include "lib/str.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* One ingest transaction takes at most this much from the queue. */
#define TXN_MAX_RECORDS 50000
#define TXN_MAX_BYTES (64u * 1024 * 1024)
#define RETENTION_DEFAULT_S (30 * 86400)
#define RETENTION_FIRST_S 300 /* first run after open */
#define RETENTION_EVERY_S 3600
#define RETENTION_CHUNK 10000

struct store {
	const struct store_backend_ops *ops;
	struct store_backend *be;

	pthread_mutex_t lock; /* protects the queue, closing and the retention schedule */
	pthread_cond_t cond;
	pthread_t writer;
	bool writer_started;
	struct store_batch *head, *tail;
	bool closing;
	int64_t retention_s;
	int64_t retention_next;	  /* CLOCK_MONOTONIC seconds */
	int64_t retention_cursor; /* -1: no run in progress on the writer */

	_Atomic size_t queued_bytes;
	_Atomic uint64_t batches, records, duplicates, transactions, retention_deleted, unparsed,
		alerts_grouped, alerts_duplicate, action_results;
};

static const struct store_backend_ops *const backends[] = {
	&store_sqlite_ops,
};

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- batches ---- */

/* A batch's payloads live in a few large chunks rather than one allocation per record: the
 * server allocates them on its thread and the writer frees them on another. */
#define CHUNK_SIZE (64u * 1024)

struct chunk {
	struct chunk *next;
	size_t used, size;
	unsigned char data[];
};

struct batch_impl {
	struct store_batch b; /* first: the public part */
	struct chunk *chunks;
};

static unsigned char *batch_alloc(struct batch_impl *bi, size_t len)
{
	struct chunk *c = bi->chunks;

	if (!c || c->size - c->used < len) {
		size_t size = len > CHUNK_SIZE / 4 ? len : CHUNK_SIZE;

		c = xmalloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		if (size == len && bi->chunks) {
			/* a large payload: its own chunk, behind the current one */
			c->next = bi->chunks->next;
			bi->chunks->next = c;
		} else {
			c->next = bi->chunks;
			bi->chunks = c;
		}
	}
	c->used += len;
	return c->data + c->used - len;
}

struct store_batch *store_batch_new(const char *host_id, uint32_t stream, size_t n)
{
	struct batch_impl *bi = xcalloc(1, sizeof(*bi));
	struct store_batch *b = &bi->b;

	/* a longer id is left empty (unknown host) rather than cut to another host's id */
	if (host_id && strlen(host_id) < sizeof(b->host_id))
		memcpy(b->host_id, host_id, strlen(host_id) + 1);
	b->stream = stream;
	b->records = xcalloc(n ? n : 1, sizeof(*b->records));
	b->n = n;
	return b;
}

void store_batch_set(struct store_batch *b, size_t i, uint64_t seq, uint32_t kind, int64_t time_ns,
		     uint32_t encoding, const void *payload, size_t len)
{
	struct batch_impl *bi = (struct batch_impl *)b;
	struct store_record *r = &b->records[i];

	b->bytes -= r->len;
	*r = (struct store_record){
		.seq = seq,
		.kind = kind,
		.time_ns = time_ns,
		.encoding = encoding,
		.payload = batch_alloc(bi, len ? len : 1),
		.len = len,
	};
	if (len)
		memcpy(r->payload, payload, len);
	b->bytes += len;
}

void store_batch_free(struct store_batch *b)
{
	struct batch_impl *bi = (struct batch_impl *)b;
	struct chunk *c, *next;

	if (!b)
		return;
	for (c = bi->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(b->records);
	strv_free(b->new_alerts);
	store_failing_checks_free(b->new_failing, b->n_new_failing);
	free(bi);
}

void store_failing_checks_free(struct store_failing_check *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].check_id);
		free(v[i].severity);
		free(v[i].fix_json);
	}
	free(v);
}

/* ---- labels ---- */

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_label *)a)->key, ((const struct store_label *)b)->key);
}

void store_labels_merge(const struct store_label *base, size_t n_base,
			const struct store_label *over, size_t n_over, struct store_label **out,
			size_t *n_out)
{
	struct store_label *l = xcalloc(n_base + n_over + 1, sizeof(*l));
	size_t n = 0, i, j;

	for (i = 0; i < n_base + n_over; i++) {
		const struct store_label *s = i < n_base ? &base[i] : &over[i - n_base];

		for (j = 0; j < n; j++)
			if (strcmp(l[j].key, s->key) == 0)
				break;
		if (j < n) {
			free(l[j].value);
			l[j].value = xstrdup(s->value ? s->value : "");
			continue;
		}
		l[n].key = xstrdup(s->key ? s->key : "");
		l[n].value = xstrdup(s->value ? s->value : "");
		n++;
	}
	sort_array(l, n, sizeof(*l), label_cmp);
	*out = l;
	*n_out = n;
}

void store_labels_free(struct store_label *l, size_t n)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

char *store_labels_to_json(const struct store_label *l, size_t n)
{
	json_t *o = json_object();
	char *text;
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, l[i].key, json_string(l[i].value ? l[i].value : ""));
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		abort();
	return text;
}

int store_labels_from_json(const char *text, struct store_label **out, size_t *n)
{
	json_t *o = json_loads(text ? text : "{}", 0, NULL), *v;
	struct store_label *l;
	const char *key;
	size_t i = 0;

	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	l = xcalloc(json_object_size(o) + 1, sizeof(*l));
	json_object_foreach(o, key, v) {
		l[i].key = xstrdup(key);
		l[i].value = xstrdup(json_is_string(v) ? json_string_value(v) : "");
		i++;
	}
	json_decref(o);
	sort_array(l, i, sizeof(*l), label_cmp);
	*out = l;
	*n = i;
	return 0;
}

/* ---- tokens and hosts: freeing ---- */

void store_token_free(struct store_token *t)
{
	if (!t)
		return;
	free(t->id);
	store_labels_free(t->labels, t->n_labels);
	memset(t, 0, sizeof(*t));
}

void store_tokens_free(struct store_token *t, size_t n)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < n; i++)
		store_token_free(&t[i]);
	free(t);
}

void store_host_free(struct store_host *h)
{
	if (!h)
		return;
	free(h->id);
	free(h->hostname);
	free(h->machine_id);
	free(h->os);
	free(h->agent_version);
	free(h->cert_serial);
	store_labels_free(h->labels, h->n_labels);
	memset(h, 0, sizeof(*h));
}

void store_hosts_free(struct store_host *h, size_t n)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < n; i++)
		store_host_free(&h[i]);
	free(h);
}

/* ---- the writer thread ---- */

/* Takes batches from the queue front within the transaction bounds (at least one). Called
 * with the lock held. */
static size_t take_batches(struct store *st, struct store_batch ***out, size_t *alloc)
{
	size_t n = 0, records = 0, bytes = 0;

	while (st->head) {
		struct store_batch *b = st->head;

		if (n > 0 && (records + b->n > TXN_MAX_RECORDS || bytes + b->bytes > TXN_MAX_BYTES))
			break;
		if (n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 256;
			*out = xrealloc(*out, *alloc * sizeof(**out));
		}
		(*out)[n++] = b;
		records += b->n;
		bytes += b->bytes;
		st->head = b->next;
		b->next = NULL;
	}
	if (!st->head)
		st->tail = NULL;
	return n;
}

static void commit_batches(struct store *st, struct store_batch **v, size_t n, int **result,
			   uint64_t **committed, size_t *ralloc)
{
	struct store_ingest_counts counts = { 0 };
	size_t i, bytes = 0;
	int r;

	if (n > *ralloc) {
		*ralloc = n;
		*result = xrealloc(*result, n * sizeof(**result));
		*committed = xrealloc(*committed, n * sizeof(**committed));
	}
	r = st->ops->ingest(st->be, v, n, *result, *committed, &counts);
	if (r == 0) {
		atomic_fetch_add(&st->transactions, 1);
		atomic_fetch_add(&st->records, counts.records);
		atomic_fetch_add(&st->duplicates, counts.duplicates);
		atomic_fetch_add(&st->unparsed, counts.unparsed);
		atomic_fetch_add(&st->alerts_grouped, counts.alerts_grouped);
		atomic_fetch_add(&st->alerts_duplicate, counts.alerts_duplicate);
		atomic_fetch_add(&st->action_results, counts.action_results);
	}
	atomic_fetch_add(&st->batches, n);
	for (i = 0; i < n; i++) {
		struct store_batch *b = v[i];

		bytes += b->bytes;
		if (r < 0 || (*result)[i] < 0) { /* rolled back: nothing is new */
			strv_free(b->new_alerts);
			b->new_alerts = NULL;
			b->n_new_alerts = 0;
			store_failing_checks_free(b->new_failing, b->n_new_failing);
			b->new_failing = NULL;
			b->n_new_failing = 0;
		}
		if (b->done) {
			if (r < 0)
				b->done(b, r, 0, b->userdata);
			else
				b->done(b, (*result)[i], (*result)[i] == 0 ? (*committed)[i] : 0,
					b->userdata);
		}
		store_batch_free(b);
	}
	atomic_fetch_sub(&st->queued_bytes, bytes);
}

/* Runs one chunk of the hourly retention if one is due or in progress. Lock held. */
static bool retention_step(struct store *st)
{
	int64_t age = st->retention_s, cursor;
	int64_t n;

	if (st->retention_cursor < 0) {
		if (age <= 0 || mono_now() < st->retention_next)
			return false;
		st->retention_cursor = 0;
		st->retention_next = mono_now() + RETENTION_EVERY_S;
	}
	cursor = st->retention_cursor;
	pthread_mutex_unlock(&st->lock);
	n = st->ops->retention_run(st->be, true, age, (int64_t)time(NULL), RETENTION_CHUNK,
				   &cursor);
	pthread_mutex_lock(&st->lock);
	if (n < 0)
		cursor = -1; /* try again at the next hour */
	else
		atomic_fetch_add(&st->retention_deleted, (uint64_t)n);
	st->retention_cursor = cursor;
	return true;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	struct store_batch **v = NULL;
	int *result = NULL;
	uint64_t *committed = NULL;
	size_t valloc = 0, ralloc = 0, n;

	pthread_setname_np(pthread_self(), "store-writer");
	pthread_mutex_lock(&st->lock);
	for (;;) {
		if (!st->head && !st->closing) {
			if (retention_step(st))
				continue;
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 60;
			pthread_cond_timedwait(&st->cond, &st->lock, &ts);
			continue;
		}
		if (!st->head)
			break; /* closing, queue empty */
		n = take_batches(st, &v, &valloc);
		pthread_mutex_unlock(&st->lock);
		commit_batches(st, v, n, &result, &committed, &ralloc);
		pthread_mutex_lock(&st->lock);
		if (!st->closing)
			retention_step(st);
	}
	pthread_mutex_unlock(&st->lock);
	free(v);
	free(result);
	free(committed);
	return NULL;
}

/* ---- open, close, submit ---- */

int store_open(const char *url, struct store **out)
{
	const struct store_backend_ops *ops = NULL;
	struct store *st;
	const char *colon;
	size_t i;
	int r;

	if (!url || !(colon = strchr(url, ':')) || !colon[1])
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(backends); i++)
		if (strlen(backends[i]->scheme) == (size_t)(colon - url) &&
		    strncmp(url, backends[i]->scheme, colon - url) == 0)
			ops = backends[i];
	if (!ops)
		return -EPROTONOSUPPORT;

	st = xcalloc(1, sizeof(*st));
	st->ops = ops;
	st->retention_s = RETENTION_DEFAULT_S;
	st->retention_next = mono_now() + RETENTION_FIRST_S;
	st->retention_cursor = -1;
	r = ops->open(colon + 1, &st->be);
	if (r < 0) {
		free(st);
		return r;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		r = -EAGAIN;
		store_close(st);
		return r;
	}
	st->writer_started = true;
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	st->closing = true;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
	if (st->writer_started)
		pthread_join(st->writer, NULL);
	st->ops->close(st->be);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

int store_ingest_submit(struct store *st, struct store_batch *b)
{
	pthread_mutex_lock(&st->lock);
	if (st->closing) {
		pthread_mutex_unlock(&st->lock);
		return -ESHUTDOWN;
	}
	b->next = NULL;
	if (st->tail)
		st->tail->next = b;
	else
		st->head = b;
	st->tail = b;
	atomic_fetch_add(&st->queued_bytes, b->bytes);
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

size_t store_ingest_queued_bytes(struct store *st)
{
	return atomic_load(&st->queued_bytes);
}

void store_get_stats(struct store *st, struct store_stats *out)
{
	*out = (struct store_stats){
		.batches = atomic_load(&st->batches),
		.records = atomic_load(&st->records),
		.duplicates = atomic_load(&st->duplicates),
		.transactions = atomic_load(&st->transactions),
		.retention_deleted = atomic_load(&st->retention_deleted),
		.records_unparsed = atomic_load(&st->unparsed),
		.alerts_grouped = atomic_load(&st->alerts_grouped),
		.alerts_duplicate = atomic_load(&st->alerts_duplicate),
		.action_results = atomic_load(&st->action_results),
	};
}

void store_retention_set(struct store *st, int64_t max_age_s)
{
	pthread_mutex_lock(&st->lock);
	st->retention_s = max_age_s < 0 ? 0 : max_age_s;
	pthread_mutex_unlock(&st->lock);
}

int64_t store_retention_run(struct store *st, int64_t now)
{
	int64_t age, total = 0, cursor = 0, n;

	pthread_mutex_lock(&st->lock);
	age = st->retention_s;
	pthread_mutex_unlock(&st->lock);
	if (age <= 0)
		return 0;
	while (cursor >= 0) {
		n = st->ops->retention_run(st->be, false, age, now, RETENTION_CHUNK, &cursor);
		if (n < 0)
			return n;
		total += n;
		atomic_fetch_add(&st->retention_deleted, (uint64_t)n);
	}
	return total;
}

/* ---- control operations: straight to the backend ---- */

int store_schema_version(struct store *st)
{
	return st->ops->schema_version(st->be);
}

int store_access_doc_put(struct store *st, const char *kind, const char *id, const char *doc,
			 int64_t now_ns)
{
	return st->ops->access_doc_put(st->be, kind, id, doc, now_ns);
}

int store_access_doc_get(struct store *st, const char *kind, const char *id, char **doc)
{
	return st->ops->access_doc_get(st->be, kind, id, doc);
}

int store_access_doc_list(struct store *st, const char *kind, struct json_t **out)
{
	return st->ops->access_doc_list(st->be, kind, out);
}

int store_access_doc_delete(struct store *st, const char *kind, const char *id)
{
	return st->ops->access_doc_delete(st->be, kind, id);
}

int store_access_event_hosts(struct store *st, const char *identity, const char *event, int64_t *n)
{
	return st->ops->access_event_hosts(st->be, identity, event, n);
}

int store_operator_put(struct store *st, const char *name, const char *role,
		       const unsigned char token_hash[32])
{
	return st->ops->operator_put(st->be, name, role, token_hash);
}

int store_operator_find(struct store *st, const unsigned char token_hash[32], char **name,
			char **role)
{
	return st->ops->operator_find(st->be, token_hash, name, role);
}

int store_operator_set_role(struct store *st, const char *name, const char *role)
{
	return st->ops->operator_set_role(st->be, name, role);
}

int store_operator_delete(struct store *st, const char *name)
{
	return st->ops->operator_delete(st->be, name);
}

int store_token_add(struct store *st, const char *id, const unsigned char secret_hash[32],
		    int64_t expires, int64_t uses_left, const struct store_label *labels,
		    size_t n_labels)
{
	return st->ops->token_add(st->be, id, secret_hash, expires, uses_left, labels, n_labels,
				  (int64_t)time(NULL));
}

int store_token_consume(struct store *st, const char *id, const unsigned char secret_hash[32],
			int64_t now, struct store_token *out)
{
	return st->ops->token_consume(st->be, id, secret_hash, now, out);
}

int store_tokens_list(struct store *st, struct store_token **out, size_t *n)
{
	return st->ops->tokens_list(st->be, out, n);
}

int store_host_enroll(struct store *st, const char *machine_id, const char *hostname,
		      const struct store_label *labels, size_t n_labels, const char *cert_serial,
		      int64_t cert_not_after, int64_t now, char **id_out)
{
	return st->ops->host_enroll(st->be, machine_id, hostname, labels, n_labels, cert_serial,
				    cert_not_after, now, id_out);
}

int store_host_set_cert(struct store *st, const char *id, const char *cert_serial,
			int64_t cert_not_after)
{
	return st->ops->host_set_cert(st->be, id, cert_serial, cert_not_after);
}

int store_host_hello(struct store *st, const char *id, const char *hostname,
		     const char *agent_version, const struct store_label *labels, size_t n_labels,
		     int64_t now)
{
	return st->ops->host_hello(st->be, id, hostname, agent_version, labels, n_labels, now);
}

int store_host_touch(struct store *st, const char *id, int64_t now)
{
	return st->ops->host_touch(st->be, id, now);
}

int store_host_revoke(struct store *st, const char *id, int64_t now)
{
	return st->ops->host_revoke(st->be, id, now);
}

int store_host_get(struct store *st, const char *id, struct store_host *out)
{
	return st->ops->host_get(st->be, id, out);
}

int store_hosts_list(struct store *st, struct store_host **out, size_t *n)
{
	return st->ops->hosts_list(st->be, out, n);
}

int store_host_inventory(struct store *st, const char *id, struct json_t **out)
{
	return st->ops->host_inventory(st->be, id, out);
}

int store_findings(struct store *st, const struct store_finding_filter *filter, struct json_t **out)
{
	return st->ops->findings(st->be, filter, out);
}

int store_host_streams(struct store *st, const char *id, struct store_stream out[3])
{
	return st->ops->host_streams(st->be, id, out);
}

int store_alerts_list(struct store *st, const struct store_alert_filter *f, struct json_t **out)
{
	return st->ops->alerts_list(st->be, f, out);
}

int store_alert_get(struct store *st, const char *id, struct json_t **out)
{
	return st->ops->alert_get(st->be, id, out);
}

int store_alert_put(struct store *st, const char *host_id, const void *json, size_t len)
{
	return st->ops->alert_put(st->be, host_id, json, len, (int64_t)time(NULL));
}

int store_action_add(struct store *st, const struct store_action_new *a)
{
	return st->ops->action_add(st->be, a);
}

int store_action_get(struct store *st, const char *uid, struct json_t **out)
{
	return st->ops->action_get(st->be, uid, out);
}

int store_actions_list(struct store *st, const struct store_action_filter *f, struct json_t **out)
{
	return st->ops->actions_list(st->be, f, out);
}

int store_action_update(struct store *st, const char *uid, const char *const *from, const char *to,
			const char *approved_by, const char *message, int64_t now_ns)
{
	return st->ops->action_update(st->be, uid, from, to, approved_by, message, now_ns);
}

int64_t store_actions_expire(struct store *st, int64_t before_ns, int64_t now_ns)
{
	return st->ops->actions_expire(st->be, before_ns, now_ns);
}

int store_host_baseline(struct store *st, const char *id, struct json_t **out)
{
	return st->ops->host_baseline(st->be, id, out);
}

int store_host_sensors(struct store *st, const char *id, struct json_t **out)
{
	return st->ops->host_sensors(st->be, id, out);
}

int store_sessions_list(struct store *st, const struct store_session_filter *f, struct json_t **out)
{
	return st->ops->sessions_list(st->be, f, out);
}

int store_session_get(struct store *st, const char *id, struct json_t **out)
{
	return st->ops->session_get(st->be, id, out);
}

int store_session_cast(struct store *st, const char *id, char **text, size_t *len)
{
	struct buf b;
	int r;

	buf_init(&b, STORE_SESSION_CAST_MAX);
	r = st->ops->session_cast(st->be, id, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	*len = buf_len(&b);
	*text = buf_steal(&b);
	return 0;
}

int store_access_last_use_grant(struct store *st, const char *grant_id, int64_t *out_ns)
{
	return st->ops->access_last_use_grant(st->be, grant_id, out_ns);
}

int store_access_usage(struct store *st, struct json_t **out)
{
	return st->ops->access_usage(st->be, out);
}
