#include "agent/link.h"
#include "agent/pushed_files.h"
#include "agent/backoff.h"
#include "agent/enroll.h"
#include "agent/spool.h"
#include "config.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "proto/msg.h"
#include "trust/pki.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_HELLO_SENT, LINK_READY };

struct inflight {
	uint64_t last_seq;
	size_t bytes;
};

/* A record taken from the spool that did not fit in the batch being built. */
struct carry {
	bool valid;
	uint64_t seq;
	uint32_t kind, encoding;
	int64_t time_ns;
	unsigned char *payload;
	size_t len;
};

struct stream_tx {
	struct inflight win[LINK_WINDOW_BATCHES];
	size_t nwin;
	size_t win_bytes;
	struct carry carry;
};

struct link {
	struct event_base *base;
	struct link_callbacks cb;
	char *state_dir;
	char *server;
	char host[256];
	uint16_t port;
	char *host_id;
	struct agent_config *cfg; /* borrowed */
	uint32_t scan_interval_s;

	SSL_CTX *ctx;
	X509 *cert;
	int64_t cert_nb, cert_na;
	EVP_PKEY *renew_key; /* waiting for a RenewResponse */

	struct spool *spool;
	struct agent_records pending; /* state records waiting for spool space */
	uint64_t pending_dropped;

	char *pushed_dir[PUSHED_SET_COUNT]; /* STATE/catalog, rules, playbooks when sent */
	char pushed_digest[PUSHED_SET_COUNT][80];

	enum link_state state;
	struct bufferevent *bev;
	struct event *ev_reconnect, *ev_timeout, *ev_heartbeat, *ev_pump;
	struct backoff backoff;
	bool revoked;
	time_t connected_at; /* Welcome received */
	uint32_t heartbeat_s, max_batch_records, max_frame;
	struct stream_tx tx[SPOOL_STREAMS];

	/* status */
	uint64_t connects, disconnects, batches_sent, records_sent, protocol_errors, renewals;
	char last_error[256];
	int64_t last_connected, last_disconnected;
};

static void link_disconnect(struct link *l, const char *why);
static void link_pump(struct link *l);

/* ---- identity ---- */

static int load_identity(struct link *l, char *err, size_t errsize)
{
	_cleanup_free_ char *kp = agent_state_path(l->state_dir, "host.key");
	_cleanup_free_ char *knext = agent_state_path(l->state_dir, "host.key.next");
	_cleanup_free_ char *cp = agent_state_path(l->state_dir, "host.crt");
	_cleanup_free_ char *ap = agent_state_path(l->state_dir, "ca.crt");
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *key = NULL;
	int r;
	if ((r = pki_cert_load(ap, &ca)) < 0) {
		snprintf(err, errsize, "cannot load %s: %s (enroll first)", ap, strerror(-r));
		return r;
	}
	if ((r = pki_cert_load(cp, &cert)) < 0 || (r = pki_key_load(kp, &key)) < 0) {
		snprintf(err, errsize, "cannot load the host identity from %s: %s", l->state_dir,
			 strerror(-r));
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		/* a renewal stopped between saving the certificate and moving the key */
		EVP_PKEY *next = NULL;
		ERR_clear_error();
		if (pki_key_load(knext, &next) == 0 && X509_check_private_key(cert, next) == 1 &&
		    rename(knext, kp) == 0) {
			EVP_PKEY_free(key);
			key = next;
		} else {
			EVP_PKEY_free(next);
			ERR_clear_error();
			snprintf(err, errsize, "%s does not match %s: re-enroll the agent", cp, kp);
			r = -EKEYREJECTED;
			goto out;
		}
	}
	SSL_CTX *ctx = tls_client_ctx(ca, cert, key);
	if (!ctx) {
		snprintf(err, errsize, "cannot create the TLS context from %s", l->state_dir);
		r = -EINVAL;
		goto out;
	}
	int64_t nb = 0, na = 0;
	pki_cert_not_before(cert, &nb);
	pki_cert_not_after(cert, &na);
	SSL_CTX_free(l->ctx);
	X509_free(l->cert);
	l->ctx = ctx;
	l->cert = cert;
	cert = NULL;
	l->cert_nb = nb;
	l->cert_na = na;
	r = 0;
out:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

/* ---- sending frames ---- */

static int send_frame(struct link *l, Frame *f)
{
	if (!l->bev)
		return -ENOTCONN;
	int r = msg_write(f, bufferevent_get_output(l->bev));
	if (r < 0)
		log_warn("link: cannot send %s: %s", msg_body_name(f), strerror(-r));
	return r;
}

static void send_hello(struct link *l)
{
	struct spool_stats st;
	spool_get_stats(l->spool, &st);
	Immune__V1__StreamPosition pos[SPOOL_STREAMS], *pp[SPOOL_STREAMS];
	for (uint32_t s = 0; s < SPOOL_STREAMS; s++) {
		immune__v1__stream_position__init(&pos[s]);
		pos[s].stream = s;
		pos[s].first_seq = st.acked[s] + 1;
		pos[s].next_seq = st.next_seq[s];
		pp[s] = &pos[s];
	}
	Immune__V1__Label lab[AGENT_MAX_LABELS], *lp[AGENT_MAX_LABELS];
	size_t nl = l->cfg->n_labels < AGENT_MAX_LABELS ? l->cfg->n_labels : AGENT_MAX_LABELS;
	for (size_t i = 0; i < nl; i++) {
		immune__v1__label__init(&lab[i]);
		lab[i].key = l->cfg->labels[i].key;
		lab[i].value = l->cfg->labels[i].value;
		lp[i] = &lab[i];
	}
	char hostname[256] = "";
	gethostname(hostname, sizeof(hostname) - 1);
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	h.host_id = l->host_id;
	h.agent_version = (char *)IMMUNE_VERSION;
	h.hostname = hostname;
	h.n_labels = nl;
	h.labels = lp;
	h.n_streams = SPOOL_STREAMS;
	h.streams = pp;
	h.max_frame = FRAME_MAX;
	h.catalog_digest = l->pushed_digest[PUSHED_CATALOG];
	h.rules_digest = l->pushed_digest[PUSHED_RULES];
	h.playbooks_digest = l->pushed_digest[PUSHED_PLAYBOOKS];
	h.access_digest = l->pushed_digest[PUSHED_ACCESS];
	h.scan_interval_seconds = l->scan_interval_s;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	send_frame(l, &f);
}

static void send_heartbeat(struct link *l)
{
	struct spool_stats st;
	spool_get_stats(l->spool, &st);
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	hb.time_ns = agent_now_ns();
	hb.spool_bytes = st.bytes;
	hb.dropped_records = st.dropped;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	send_frame(l, &f);
}

static void carry_clear(struct carry *c)
{
	free(c->payload);
	*c = (struct carry){ 0 };
}

struct batch {
	Immune__V1__Record *v;
	size_t n, alloc, bytes;
};

static void batch_add(struct batch *b, uint64_t seq, uint32_t kind, int64_t time_ns,
		      uint32_t encoding, unsigned char *payload, size_t len)
{
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? 2 * b->alloc : 256;
		b->v = xrealloc(b->v, b->alloc * sizeof(*b->v));
	}
	Immune__V1__Record *r = &b->v[b->n++];
	immune__v1__record__init(r);
	r->seq = seq;
	r->kind = kind;
	r->time_ns = time_ns;
	r->encoding = encoding;
	r->payload = (ProtobufCBinaryData){ .len = len, .data = payload };
	b->bytes += len + 32;
}

/* Takes records of stream s from the carry and the spool into b, within the batch limits. */
static void batch_fill(struct link *l, uint32_t s, struct batch *b)
{
	struct stream_tx *tx = &l->tx[s];
	size_t max_bytes = LINK_BATCH_BYTES;
	if (l->max_frame > 64 * 1024 && l->max_frame - 64 * 1024 < max_bytes)
		max_bytes = l->max_frame - 64 * 1024;
	if (tx->carry.valid) {
		struct carry *c = &tx->carry;
		batch_add(b, c->seq, c->kind, c->time_ns, c->encoding, c->payload, c->len);
		*c = (struct carry){ 0 };
	}
	while (b->n < l->max_batch_records) {
		struct spool_record sr;
		int r = spool_next(l->spool, s, &sr);
		if (r <= 0) {
			if (r < 0)
				log_warn("link: reading the spool (stream %u): %s", s,
					 strerror(-r));
			break;
		}
		unsigned char *copy = xmalloc(sr.len ? sr.len : 1);
		memcpy(copy, sr.payload, sr.len);
		if (b->n > 0 && b->bytes + sr.len + 32 > max_bytes) {
			tx->carry = (struct carry){ .valid = true,
						    .seq = sr.seq,
						    .kind = sr.kind,
						    .encoding = sr.encoding,
						    .time_ns = sr.time_ns,
						    .payload = copy,
						    .len = sr.len };
			break;
		}
		batch_add(b, sr.seq, sr.kind, sr.time_ns, sr.encoding, copy, sr.len);
	}
}

/* Builds and sends one batch of stream s; returns 1 when sent, 0 when there was nothing to
 * send, -1 when the connection was dropped. */
static int send_batch(struct link *l, uint32_t s)
{
	struct stream_tx *tx = &l->tx[s];
	struct batch b = { 0 };
	batch_fill(l, s, &b);
	int ret = b.n > 0;
	if (b.n > 0) {
		Immune__V1__Record **ptrs = xcalloc(b.n, sizeof(*ptrs));
		for (size_t i = 0; i < b.n; i++)
			ptrs[i] = &b.v[i];
		Immune__V1__RecordBatch rb = IMMUNE__V1__RECORD_BATCH__INIT;
		rb.stream = s;
		rb.n_records = b.n;
		rb.records = ptrs;
		Frame f = IMMUNE__V1__FRAME__INIT;
		f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
		f.batch = &rb;
		if (send_frame(l, &f) == 0) {
			tx->win[tx->nwin++] =
				(struct inflight){ .last_seq = b.v[b.n - 1].seq, .bytes = b.bytes };
			tx->win_bytes += b.bytes;
			l->batches_sent++;
			l->records_sent += b.n;
		} else {
			ret = -1;
		}
		free(ptrs);
	}
	for (size_t i = 0; i < b.n; i++)
		free(b.v[i].payload.data);
	free(b.v);
	if (ret < 0)
		/* the records left the spool's send position: start over from the last ack */
		link_disconnect(l, "a batch could not be encoded");
	return ret;
}

static void link_pump(struct link *l)
{
	if (l->state != LINK_READY)
		return;
	/* alerts first, then state, then telemetry */
	static const uint32_t order[] = { IMMUNE__V1__STREAM__STREAM_ALERTS,
					  IMMUNE__V1__STREAM__STREAM_STATE,
					  IMMUNE__V1__STREAM__STREAM_EVENTS };
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		uint32_t s = order[i];
		struct stream_tx *tx = &l->tx[s];
		while (l->bev && tx->nwin < LINK_WINDOW_BATCHES &&
		       tx->win_bytes < LINK_WINDOW_BYTES)
			if (send_batch(l, s) <= 0)
				break;
	}
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	link_pump(arg);
}

/* ---- pending state records ---- */

static void flush_pending(struct link *l)
{
	if (!l->pending.n)
		return;
	size_t done = 0;
	for (; done < l->pending.n; done++) {
		struct agent_record *r = &l->pending.v[done];
		uint64_t seq;
		int e = spool_append(l->spool, r->stream, r->kind, r->time_ns, r->encoding,
				     r->payload, r->len, &seq);
		if (e == -ENOSPC || e == -EIO) {
			if (e == -EIO)
				log_warn("link: spooling a state record: %s (will retry)",
					 strerror(-e));
			break;
		}
		if (e < 0) {
			l->pending_dropped++;
			log_error("link: a state record of %zu bytes cannot be spooled: %s; "
				  "dropped",
				  r->len, strerror(-e));
		}
	}
	agent_records_drop_front(&l->pending, done);
	if (done)
		event_active(l->ev_pump, EV_TIMEOUT, 0);
	if (!l->pending.n && done && l->cb.drained)
		l->cb.drained(l->cb.arg);
}

int link_submit(struct link *l, struct agent_records *recs)
{
	bool had = l->pending.n > 0;
	agent_records_move(&l->pending, recs);
	if (!had)
		flush_pending(l);
	return l->pending.n ? 1 : 0;
}

int link_append_event(struct link *l, const void *payload, size_t len)
{
	uint64_t seq;
	int r = spool_append(l->spool, IMMUNE__V1__STREAM__STREAM_EVENTS,
			     IMMUNE__V1__RECORD_KIND__RECORD_EVENT, agent_now_ns(),
			     IMMUNE__V1__ENCODING__ENCODING_RAW, payload, len, &seq);
	/* telemetry lingers: events spooled within LINK_EVENTS_LINGER_MS go in one batch (one
	 * commit and one ack at the server) instead of one batch each; alerts and state do not
	 * wait */
	if (r == 0 && l->state == LINK_READY && !event_pending(l->ev_pump, EV_TIMEOUT, NULL)) {
		const struct timeval linger = { 0, LINK_EVENTS_LINGER_MS * 1000 };
		event_add(l->ev_pump, &linger);
	}
	return r;
}

uint64_t link_events_next_seq(const struct link *l)
{
	struct spool_stats st;
	spool_get_stats(l->spool, &st);
	return st.next_seq[IMMUNE__V1__STREAM__STREAM_EVENTS];
}

void link_set_scan_interval(struct link *l, uint32_t seconds)
{
	l->scan_interval_s = seconds;
}

const char *link_pushed_dir(const struct link *l, enum pushed_set set)
{
	return l->pushed_dir[set];
}

bool link_connected(const struct link *l)
{
	return l->state == LINK_READY;
}

/* ---- renewal ---- */

static void maybe_renew(struct link *l)
{
	if (l->state != LINK_READY || l->renew_key || l->cert_na <= l->cert_nb)
		return;
	int64_t now = (int64_t)time(NULL);
	if (now < l->cert_nb + (l->cert_na - l->cert_nb) / 2)
		return;
	EVP_PKEY *key = NULL;
	unsigned char *csr = NULL;
	size_t len = 0;
	if (pki_key_generate(&key) < 0 || pki_csr_create(key, l->host_id, &csr, &len) < 0) {
		EVP_PKEY_free(key);
		log_warn("link: cannot create a key to renew the certificate");
		return;
	}
	Immune__V1__RenewRequest rr = IMMUNE__V1__RENEW_REQUEST__INIT;
	rr.csr_der = (ProtobufCBinaryData){ .len = len, .data = csr };
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_REQUEST;
	f.renew_request = &rr;
	if (send_frame(l, &f) == 0) {
		l->renew_key = key;
		log_info("link: certificate past half its lifetime; renewal requested");
	} else {
		EVP_PKEY_free(key);
	}
	OPENSSL_free(csr);
}

static void on_renewed(struct link *l, const Immune__V1__RenewResponse *rr)
{
	X509 *cert = NULL;
	char cn[PKI_HOST_ID_MAX + 1];
	EVP_PKEY *key = l->renew_key;
	_cleanup_free_ char *kp = agent_state_path(l->state_dir, "host.key");
	_cleanup_free_ char *knext = agent_state_path(l->state_dir, "host.key.next");
	_cleanup_free_ char *cp = agent_state_path(l->state_dir, "host.crt");
	l->renew_key = NULL;
	if (!key) {
		log_warn("link: unexpected renew_response ignored");
		return;
	}
	if (pki_cert_from_der(rr->cert_der.data, rr->cert_der.len, &cert) < 0 ||
	    X509_check_private_key(cert, key) != 1 || pki_cert_cn(cert, cn, sizeof(cn)) < 0 ||
	    strcmp(cn, l->host_id) != 0) {
		ERR_clear_error();
		log_warn("link: the renewed certificate does not match the request; ignored");
		goto out;
	}
	int r = pki_key_save(knext, key);
	if (r == 0)
		r = pki_cert_save(cp, cert);
	if (r == 0 && rename(knext, kp) < 0)
		r = -errno;
	if (r < 0) {
		log_errno(r, "link: saving the renewed certificate in %s", l->state_dir);
		goto out;
	}
	char err[512];
	r = load_identity(l, err, sizeof(err));
	if (r < 0)
		log_error("link: %s", err);
	else {
		l->renewals++;
		log_info("link: certificate renewed, valid until %lld", (long long)l->cert_na);
	}
out:
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* ---- pushed file sets: catalog and rules ---- */

static void load_pushed_digest(struct link *l, enum pushed_set set)
{
	free(l->pushed_dir[set]);
	l->pushed_dir[set] = NULL;
	if (pushed_files_current(l->state_dir, set, l->pushed_digest[set],
				 sizeof(l->pushed_digest[set])) == 0)
		l->pushed_dir[set] = agent_state_path(l->state_dir, pushed_set_name(set));
	else
		l->pushed_digest[set][0] = '\0';
}

/* Saves a pushed set when its digest differs from the one held. Returns true when saved. */
static bool save_pushed(struct link *l, enum pushed_set set, const char *digest,
			Immune__V1__CatalogFile *const *in, size_t n)
{
	if (!*digest || strcmp(digest, l->pushed_digest[set]) == 0)
		return false;
	struct pushed_file *files = xcalloc(n ? n : 1, sizeof(*files));
	for (size_t i = 0; i < n; i++)
		files[i] = (struct pushed_file){ .name = in[i]->name,
						 .data = in[i]->content.data,
						 .len = in[i]->content.len };
	char err[1024];
	int r = pushed_files_save(l->state_dir, set, files, n, digest, err, sizeof(err));
	free(files);
	if (r < 0) {
		log_warn("link: the %s the server sent was not applied: %s", pushed_set_name(set),
			 err);
		return false;
	}
	load_pushed_digest(l, set);
	log_info("link: new %s %s (%zu files)", pushed_set_name(set), l->pushed_digest[set], n);
	return true;
}

static void on_config(struct link *l, const Immune__V1__ConfigUpdate *c)
{
	if (c->heartbeat_seconds && c->heartbeat_seconds != l->heartbeat_s) {
		l->heartbeat_s = c->heartbeat_seconds;
		struct timeval tv = { .tv_sec = l->heartbeat_s };
		event_add(l->ev_heartbeat, &tv);
	}
	bool catalog = c->n_catalog > 0 &&
		       save_pushed(l, PUSHED_CATALOG, c->catalog_digest, c->catalog, c->n_catalog);
	bool rules = save_pushed(l, PUSHED_RULES, c->rules_digest, c->rules, c->n_rules);
	bool playbooks =
		save_pushed(l, PUSHED_PLAYBOOKS, c->playbooks_digest, c->playbooks, c->n_playbooks);
	bool access = save_pushed(l, PUSHED_ACCESS, c->access_digest, c->access, c->n_access);
	if (c->scan_interval_seconds)
		l->scan_interval_s = c->scan_interval_seconds;
	if (l->cb.config && (catalog || rules || playbooks || access || c->scan_interval_seconds))
		l->cb.config(l->cb.arg, c->scan_interval_seconds, catalog, rules, playbooks,
			     access);
}

/* ---- incoming frames ---- */

static void on_welcome(struct link *l, const Immune__V1__Welcome *w)
{
	struct spool_stats st;
	spool_get_stats(l->spool, &st);
	bool resync = false;
	for (size_t i = 0; i < w->n_committed; i++) {
		const Immune__V1__Ack *a = w->committed[i];
		if (a->stream >= SPOOL_STREAMS)
			continue;
		/* The server holds numbers this spool has not reached: the state directory was
		 * reset while the host kept its id. Numbering continues after the server's; what
		 * was spooled under the old numbers is acknowledged away, so the collector sends
		 * its state again. */
		if (a->committed_seq >= st.next_seq[a->stream] && a->committed_seq > 0) {
			log_warn("link: the server already holds %llu records of stream %u, more "
				 "than this spool numbered (%llu): continuing after them",
				 (unsigned long long)a->committed_seq, a->stream,
				 (unsigned long long)(st.next_seq[a->stream] - 1));
			if (a->stream == IMMUNE__V1__STREAM__STREAM_STATE &&
			    st.next_seq[a->stream] - 1 > st.acked[a->stream])
				resync = true;
		}
		int r = spool_ack(l->spool, a->stream, a->committed_seq);
		if (r < 0)
			log_warn("link: spool ack: %s", strerror(-r));
	}
	for (uint32_t s = 0; s < SPOOL_STREAMS; s++) {
		spool_rewind(l->spool, s);
		carry_clear(&l->tx[s].carry);
		l->tx[s].nwin = 0;
		l->tx[s].win_bytes = 0;
	}
	l->heartbeat_s = w->heartbeat_seconds ? w->heartbeat_seconds : LINK_DEFAULT_HEARTBEAT_S;
	l->max_batch_records =
		w->max_batch_records ? w->max_batch_records : LINK_DEFAULT_BATCH_RECORDS;
	if (l->max_batch_records > MSG_MAX_BATCH_RECORDS)
		l->max_batch_records = MSG_MAX_BATCH_RECORDS;
	l->max_frame = w->max_frame;
	l->state = LINK_READY;
	l->connected_at = time(NULL);
	l->last_connected = agent_now_ns();
	l->connects++;
	if (l->revoked) {
		l->revoked = false;
		l->backoff.cap_ms = 60000;
	}
	event_del(l->ev_timeout);
	struct timeval tv = { .tv_sec = l->heartbeat_s };
	event_add(l->ev_heartbeat, &tv);
	log_info("link: connected to %s as %s", l->server, l->host_id);
	flush_pending(l);
	if (resync && l->cb.resync)
		l->cb.resync(l->cb.arg);
	maybe_renew(l);
	link_pump(l);
}

static void on_ack(struct link *l, const Immune__V1__Ack *a)
{
	if (a->stream >= SPOOL_STREAMS)
		return;
	struct stream_tx *tx = &l->tx[a->stream];
	size_t k = 0;
	while (k < tx->nwin && tx->win[k].last_seq <= a->committed_seq) {
		tx->win_bytes -= tx->win[k].bytes;
		k++;
	}
	memmove(tx->win, tx->win + k, (tx->nwin - k) * sizeof(tx->win[0]));
	tx->nwin -= k;
	int r = spool_ack(l->spool, a->stream, a->committed_seq);
	if (r < 0)
		log_warn("link: spool ack (stream %u, %llu): %s", a->stream,
			 (unsigned long long)a->committed_seq, strerror(-r));
	flush_pending(l);
	link_pump(l);
}

static void on_refusal(struct link *l, const Immune__V1__Refusal *r)
{
	snprintf(l->last_error, sizeof(l->last_error), "refused: %s",
		 agent_refusal_text(r->reason));
	log_error("link: the server refused the connection: %s%s%s", agent_refusal_text(r->reason),
		  *r->message ? " (server: " : "", *r->message ? r->message : "");
	if (r->reason == IMMUNE__V1__REFUSAL__REASON__REASON_HOST_REVOKED ||
	    r->reason == IMMUNE__V1__REFUSAL__REASON__REASON_IDENTITY_MISMATCH) {
		l->revoked = true;
		l->backoff.cap_ms = LINK_REVOKED_CAP_MS;
		l->backoff.failures = 32;
		log_error("link: will retry only every %u minutes", LINK_REVOKED_CAP_MS / 60000);
	}
}

/* Returns false when the connection was dropped. */
static bool handle_frame(struct link *l, Frame *f)
{
	bool ready = l->state == LINK_READY;
	switch (f->body_case) {
	case IMMUNE__V1__FRAME__BODY_WELCOME:
		if (l->state != LINK_HELLO_SENT)
			goto unexpected;
		on_welcome(l, f->welcome);
		return true;
	case IMMUNE__V1__FRAME__BODY_ACK:
		if (!ready)
			goto unexpected;
		on_ack(l, f->ack);
		return true;
	case IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE:
		if (!ready)
			goto unexpected;
		on_renewed(l, f->renew_response);
		return true;
	case IMMUNE__V1__FRAME__BODY_CONFIG:
		if (!ready)
			goto unexpected;
		on_config(l, f->config);
		return true;
	case IMMUNE__V1__FRAME__BODY_COMMAND:
		if (!ready)
			goto unexpected;
		log_info("link: command '%s' (id %llu)", f->command->name,
			 (unsigned long long)f->command->id);
		if (l->cb.command)
			l->cb.command(l->cb.arg, f->command);
		return true;
	case IMMUNE__V1__FRAME__BODY_REFUSAL:
		on_refusal(l, f->refusal);
		link_disconnect(l, "refused");
		return false;
	case IMMUNE__V1__FRAME__BODY_HEARTBEAT: return true;
	default:
		/* a newer server's message this agent does not know: ignored */
		if (f->body_case == IMMUNE__V1__FRAME__BODY__NOT_SET)
			return true;
		goto unexpected;
	}
unexpected:
	l->protocol_errors++;
	log_warn("link: unexpected %s from the server; reconnecting", msg_body_name(f));
	link_disconnect(l, "protocol error");
	return false;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;
	for (;;) {
		Frame *f = NULL;
		int r = msg_read(bufferevent_get_input(bev), FRAME_MAX, true, &f);
		if (r == 0)
			return;
		if (r < 0) {
			l->protocol_errors++;
			log_warn("link: bad frame from the server: %s; reconnecting", strerror(-r));
			link_disconnect(l, "bad frame");
			return;
		}
		bool alive = handle_frame(l, f);
		msg_free(f);
		if (!alive)
			return;
	}
}

/* ---- connection ---- */

static void schedule_reconnect(struct link *l)
{
	uint32_t rnd = 0;
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	uint32_t ms = backoff_next(&l->backoff, rnd);
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	event_add(l->ev_reconnect, &tv);
	log_debug("link: reconnecting in %u ms", ms);
}

static void link_disconnect(struct link *l, const char *why)
{
	if (l->bev) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	if (l->state == LINK_READY) {
		l->disconnects++;
		l->last_disconnected = agent_now_ns();
		if (time(NULL) - l->connected_at >= LINK_STABLE_S && !l->revoked)
			backoff_reset(&l->backoff);
		log_warn("link: disconnected from %s (%s)", l->server, why);
	} else {
		log_info("link: cannot connect to %s (%s)", l->server, why);
	}
	if (why && strcmp(why, "refused") != 0)
		snprintf(l->last_error, sizeof(l->last_error), "%s", why);
	l->state = LINK_IDLE;
	event_del(l->ev_timeout);
	event_del(l->ev_heartbeat);
	EVP_PKEY_free(l->renew_key);
	l->renew_key = NULL;
	for (uint32_t s = 0; s < SPOOL_STREAMS; s++) {
		spool_rewind(l->spool, s);
		carry_clear(&l->tx[s].carry);
		l->tx[s].nwin = 0;
		l->tx[s].win_bytes = 0;
	}
	schedule_reconnect(l);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct link *l = arg;
	if (what & BEV_EVENT_CONNECTED) {
		l->state = LINK_HELLO_SENT;
		send_hello(l);
		return;
	}
	char why[256];
	snprintf(why, sizeof(why), "%s",
		 l->state == LINK_CONNECTING ? "connection failed" : "connection closed");
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e)
			ERR_error_string_n(e, why, sizeof(why));
		else if (EVUTIL_SOCKET_ERROR())
			snprintf(why, sizeof(why), "%s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	ERR_clear_error();
	link_disconnect(l, why);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	link_disconnect(arg, "no welcome from the server in time");
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	if (l->state != LINK_READY)
		return;
	send_heartbeat(l);
	maybe_renew(l);
	struct timeval tv = { .tv_sec = l->heartbeat_s };
	event_add(l->ev_heartbeat, &tv);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	SSL *ssl = SSL_new(l->ctx);
	if (!ssl) {
		link_disconnect(l, "cannot create a TLS connection");
		return;
	}
	unsigned char tmp[16];
	if (inet_pton(AF_INET, l->host, tmp) != 1 && inet_pton(AF_INET6, l->host, tmp) != 1)
		SSL_set_tlsext_host_name(ssl, l->host);
	l->bev = bufferevent_openssl_socket_new(l->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!l->bev) {
		SSL_free(ssl);
		link_disconnect(l, "cannot create a connection");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->state = LINK_CONNECTING;
	struct timeval tv = { .tv_sec = LINK_HELLO_TIMEOUT_S };
	event_add(l->ev_timeout, &tv);
	if (bufferevent_socket_connect_hostname(l->bev, NULL, AF_UNSPEC, l->host, l->port) < 0)
		link_disconnect(l, "cannot resolve the server address");
}

void link_start(struct link *l)
{
	event_active(l->ev_reconnect, EV_TIMEOUT, 0);
}

/* ---- life cycle ---- */

int link_new(struct event_base *base, const struct link_options *o, const struct link_callbacks *cb,
	     struct link **out, char *err, size_t errsize)
{
	struct link *l = xcalloc(1, sizeof(*l));
	_cleanup_free_ char *sd = agent_state_path(o->state_dir, "spool");
	l->base = base;
	if (cb)
		l->cb = *cb;
	l->state_dir = xstrdup(o->state_dir);
	l->cfg = (struct agent_config *)o->cfg;
	l->server = xstrdup(o->cfg->server);
	l->host_id = xstrdup(o->cfg->host_id);
	l->scan_interval_s = o->scan_interval_s;
	backoff_init(&l->backoff);
	int r = agent_split_server(l->server, l->host, sizeof(l->host), &l->port);
	if (r < 0) {
		snprintf(err, errsize, "invalid server address '%s' in agent.yaml", l->server);
		goto fail;
	}
	r = load_identity(l, err, errsize);
	if (r < 0)
		goto fail;
	/* segments of at most an eighth of the bound, so a small spool still drops by parts */
	struct spool_options so = { .max_bytes = o->spool_max };
	if (o->spool_max && o->spool_max / 8 < SPOOL_DEFAULT_SEGMENT_BYTES)
		so.segment_bytes = (uint32_t)(o->spool_max / 8);
	r = spool_open(sd, &so, &l->spool);
	if (r < 0) {
		snprintf(err, errsize, "cannot open the spool %s: %s", sd, strerror(-r));
		goto fail;
	}
	for (int set = 0; set < PUSHED_SET_COUNT; set++)
		load_pushed_digest(l, (enum pushed_set)set);
	l->ev_reconnect = evtimer_new(base, on_reconnect, l);
	l->ev_timeout = evtimer_new(base, on_timeout, l);
	l->ev_heartbeat = evtimer_new(base, on_heartbeat, l);
	l->ev_pump = event_new(base, -1, 0, on_pump, l);
	*out = l;
	return 0;
fail:
	link_free(l);
	return r;
}

void link_free(struct link *l)
{
	if (!l)
		return;
	if (l->bev)
		bufferevent_free(l->bev);
	if (l->ev_reconnect)
		event_free(l->ev_reconnect);
	if (l->ev_timeout)
		event_free(l->ev_timeout);
	if (l->ev_heartbeat)
		event_free(l->ev_heartbeat);
	if (l->ev_pump)
		event_free(l->ev_pump);
	for (uint32_t s = 0; s < SPOOL_STREAMS; s++)
		carry_clear(&l->tx[s].carry);
	if (l->spool) {
		spool_sync(l->spool);
		spool_close(l->spool);
	}
	agent_records_free(&l->pending);
	SSL_CTX_free(l->ctx);
	X509_free(l->cert);
	EVP_PKEY_free(l->renew_key);
	for (int set = 0; set < PUSHED_SET_COUNT; set++)
		free(l->pushed_dir[set]);
	free(l->state_dir);
	free(l->server);
	free(l->host_id);
	free(l);
}

json_t *link_status(const struct link *l)
{
	static const char *const names[] = { "events", "state", "alerts" };
	static const char *const states[] = { "disconnected", "connecting", "connecting",
					      "connected" };
	struct spool_stats st;
	spool_get_stats(l->spool, &st);
	json_t *streams = json_array();
	for (uint32_t s = 0; s < SPOOL_STREAMS; s++)
		json_array_append_new(streams,
				      json_pack("{s:s, s:I, s:I, s:I}", "stream", names[s], "acked",
						(json_int_t)st.acked[s], "next_seq",
						(json_int_t)st.next_seq[s], "unacked",
						(json_int_t)(st.next_seq[s] - 1 - st.acked[s])));
	json_t *o = json_pack(
		"{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:s, s:s}",
		"state", states[l->state], "connected", l->state == LINK_READY, "connects",
		(json_int_t)l->connects, "batches_sent", (json_int_t)l->batches_sent,
		"records_sent", (json_int_t)l->records_sent, "spool_bytes", (json_int_t)st.bytes,
		"spool_records", (json_int_t)st.records, "dropped", (json_int_t)st.dropped, "gaps",
		(json_int_t)st.gaps, "pending_state_records", (json_int_t)l->pending.n,
		"cert_not_after", (json_int_t)l->cert_na, "last_error", l->last_error, "streams",
		streams, "catalog_digest", l->pushed_digest[PUSHED_CATALOG], "rules_digest",
		l->pushed_digest[PUSHED_RULES]);
	json_object_set_new(o, "renewals", json_integer((json_int_t)l->renewals));
	json_object_set_new(o, "protocol_errors", json_integer((json_int_t)l->protocol_errors));
	json_object_set_new(o, "disconnects", json_integer((json_int_t)l->disconnects));
	json_object_set_new(o, "playbooks_digest", json_string(l->pushed_digest[PUSHED_PLAYBOOKS]));
	json_object_set_new(o, "access_digest", json_string(l->pushed_digest[PUSHED_ACCESS]));
	return o;
}
