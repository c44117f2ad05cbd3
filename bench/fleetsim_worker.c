/* fleetsim worker: many simulated agents in one process, one libevent loop.
 *
 * Every agent has its own Ed25519 key, CSR and (after enrollment) certificate, and speaks
 * the real protocol over its own TLS 1.3 connection: EnrollRequest -> EnrollResponse on a
 * pinned connection, then Hello -> Welcome, RecordBatch -> Ack and Heartbeat on a mutual-TLS
 * connection. The worker runs the phase the controller asks for and answers with counters
 * and a latency histogram. */
#include "fleetsim.h"

#include "lib/tls.h"
#include "proto/msg.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#define WIN_MAX 16	   /* batches in flight per agent */
#define ATTEMPT_TIMEOUT 15 /* seconds for a handshake and its answer */
#define DRAIN_TIMEOUT_NS (30ull * 1000000000u)

enum agent_state {
	A_IDLE,
	A_WAIT,	     /* waiting for a retry */
	A_ENROLLING, /* EnrollRequest sent */
	A_HELLO,     /* Hello sent */
	A_READY,
};

struct worker;

struct agent {
	struct worker *w;
	struct bufferevent *bev;
	EVP_PKEY *key;
	X509 *cert;
	unsigned char *csr;
	size_t csr_len;
	uint32_t idx;	   /* global agent number */
	uint16_t phase_id; /* last phase whose outcome was counted for this agent */
	uint8_t state;
	uint8_t tries;
	uint8_t nflight;
	uint8_t head;
	bool tls_up;
	bool enrolled;
	bool has_catalog; /* received a ConfigUpdate with the catalog */
	char host_id[PKI_HOST_ID_MAX + 1];
	uint64_t next_seq;	      /* next record seq to send on the events stream */
	uint64_t acked;		      /* the server's committed_seq */
	uint64_t flight_seq[WIN_MAX]; /* last seq of each batch in flight */
	uint64_t flight_t[WIN_MAX];   /* when it was sent (ns) */
	uint64_t revoke_ns;	      /* when its first access-revoke arrived (monotonic), 0 */
};

struct worker {
	struct event_base *base;
	const struct fs_target *t;
	int ctl;
	struct event *ctl_ev, *tick_ev, *rate_ev, *end_ev;
	struct agent *agents;
	uint32_t first, n;
	SSL_CTX *enroll_ctx, *client_ctx;
	X509 *ca;
	uint32_t window; /* attempts in flight */
	uint32_t inflight;
	uint32_t *retryq; /* agents waiting for a slot after their backoff */
	uint32_t nretry;
	bool pumping;
	uint64_t ticks;
	uint32_t hb_seconds;

	/* the catalog: unless t->fetch_catalog, agents claim to hold the one the server sends,
	 * whose digest one probe connection per worker learns first */
	char digest[128];
	bool probing, probe_done;
	uint32_t probe_idx;
	uint64_t catalog_bytes;

	/* the phase running */
	bool running;
	uint16_t phase_id;
	struct fs_cmd cmd;
	uint32_t next; /* next agent to consider */
	uint64_t t0;
	struct fs_counts c;
	struct hist lat;

	/* ingest */
	bool ingesting, draining;
	uint64_t drain_deadline, ingest_t0;
	uint64_t flight_total;
	double tokens;
	uint64_t last_rate_ns;
	uint32_t rr;

	/* batch building */
	Immune__V1__Record *recs;
	Immune__V1__Record **recp;
	char *payload;
	size_t payload_stride;
};

static void agent_start(struct agent *a);
static void pump(struct worker *w);
static void pump_loop(struct worker *w);
static void phase_check_done(struct worker *w);

static void send_msg(struct worker *w, const void *p, size_t n)
{
	if (send(w->ctl, p, n, MSG_NOSIGNAL) < 0)
		_exit(3); /* the controller is gone */
}

static void send_progress(struct worker *w)
{
	struct fs_progress p = {
		.type = MSG_PROGRESS,
		.phase = w->cmd.phase,
		.done = w->c.done,
		.failed = w->c.failed,
		.records_acked = w->c.records_acked_all,
	};
	send_msg(w, &p, sizeof(p));
}

static void count_held(struct worker *w)
{
	w->c.held = 0;
	for (uint32_t i = 0; i < w->n; i++)
		w->c.held += w->agents[i].state == A_READY;
}

static void phase_finish(struct worker *w)
{
	static struct fs_result res;

	w->running = false;
	w->c.elapsed = (double)(now_ns() - w->t0) / 1e9;
	w->c.catalog_bytes = w->catalog_bytes;
	count_held(w);
	memset(&res, 0, sizeof(res));
	res.type = MSG_RESULT;
	res.phase = w->cmd.phase;
	res.c = w->c;
	res.lat = w->lat;
	send_msg(w, &res, sizeof(res));
}

/* --- frames --- */

static int write_frame(struct agent *a, Frame *f)
{
	int r = msg_write(f, bufferevent_get_output(a->bev));
	return r;
}

static int send_enroll(struct agent *a)
{
	Immune__V1__Frame f = IMMUNE__V1__FRAME__INIT;
	Immune__V1__EnrollRequest er = IMMUNE__V1__ENROLL_REQUEST__INIT;
	char hostname[32], machine[40];

	snprintf(hostname, sizeof(hostname), "sim-%07u", a->idx);
	snprintf(machine, sizeof(machine), "%016llx%016x", (unsigned long long)a->w->t->nonce,
		 a->idx);
	er.token = (char *)a->w->t->token;
	er.csr_der.data = a->csr;
	er.csr_der.len = a->csr_len;
	er.hostname = hostname;
	er.machine_id = machine;
	er.agent_version = (char *)"fleetsim";
	f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST;
	f.enroll_request = &er;
	return write_frame(a, &f);
}

static int send_hello(struct agent *a)
{
	Immune__V1__Frame f = IMMUNE__V1__FRAME__INIT;
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	char hostname[32];

	snprintf(hostname, sizeof(hostname), "sim-%07u", a->idx);
	h.host_id = a->host_id;
	h.agent_version = (char *)"fleetsim";
	h.hostname = hostname;
	h.max_frame = FRAME_MAX;
	if (!a->w->t->fetch_catalog || a->has_catalog)
		h.catalog_digest = a->w->digest;
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	return write_frame(a, &f);
}

static void send_heartbeat(struct agent *a)
{
	Immune__V1__Frame f = IMMUNE__V1__FRAME__INIT;
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;

	hb.time_ns = wall_ns();
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	write_frame(a, &f);
}

/* One RecordBatch of cmd.batch event records with consecutive seqs. */
static void send_batch(struct agent *a)
{
	struct worker *w = a->w;
	Immune__V1__Frame f = IMMUNE__V1__FRAME__INIT;
	Immune__V1__RecordBatch b = IMMUNE__V1__RECORD_BATCH__INIT;
	uint32_t n = w->cmd.batch;
	int64_t t = wall_ns();

	for (uint32_t i = 0; i < n; i++) {
		Immune__V1__Record *r = &w->recs[i];
		char *p = w->payload + (size_t)i * w->payload_stride;
		uint64_t seq = a->next_seq + i;
		int len = snprintf(p, w->payload_stride,
				   "{\"type\":\"process_exec\",\"host\":\"sim-%07u\",\"seq\":%llu,"
				   "\"pid\":%u,\"ppid\":1,\"uid\":1000,\"exe\":\"/usr/bin/curl\","
				   "\"argv\":[\"curl\",\"-fsS\",\"https://example.org/%llu\"],"
				   "\"ts\":%lld}",
				   a->idx, (unsigned long long)seq, (unsigned)(seq % 32768) + 1000,
				   (unsigned long long)seq, (long long)t);
		immune__v1__record__init(r);
		r->seq = seq;
		r->kind = IMMUNE__V1__RECORD_KIND__RECORD_EVENT;
		r->time_ns = t;
		r->payload.data = (uint8_t *)p;
		r->payload.len = (size_t)len;
		w->recp[i] = r;
	}
	b.stream = IMMUNE__V1__STREAM__STREAM_EVENTS;
	b.n_records = n;
	b.records = w->recp;
	f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
	f.batch = &b;
	if (write_frame(a, &f) < 0)
		return;
	unsigned slot = (a->head + a->nflight) % WIN_MAX;
	a->flight_seq[slot] = a->next_seq + n - 1;
	a->flight_t[slot] = now_ns();
	a->nflight++;
	w->flight_total++;
	a->next_seq += n;
	w->c.records_sent += n;
}

/* As fast as acks allow: keeps cmd.inflight batches in flight in this worker, taken from the
 * agents in turn, each agent at most cmd.window. (At a fixed rate, rate_cb sends.) */
static void ingest_pump(struct worker *w)
{
	if (!w->ingesting || w->cmd.rate > 0 || !w->n)
		return;
	for (uint32_t scanned = 0; w->flight_total < w->cmd.inflight && scanned < w->n;) {
		struct agent *a = &w->agents[w->rr++ % w->n];
		if (a->state == A_READY && a->nflight < w->cmd.window) {
			send_batch(a);
			scanned = 0;
		} else {
			scanned++;
		}
	}
}

static void fill_window(struct agent *a)
{
	ingest_pump(a->w);
}

/* --- connection life --- */

static void agent_close(struct agent *a)
{
	if (a->bev) {
		bufferevent_free(a->bev);
		a->bev = NULL;
	}
	a->w->flight_total -= a->nflight;
	a->nflight = 0;
	a->head = 0;
	a->tls_up = false;
}

static bool phase_counts(struct worker *w, struct agent *a)
{
	return w->running && a->phase_id != w->phase_id &&
	       (w->cmd.phase == PH_ENROLL || w->cmd.phase == PH_CONNECT ||
		w->cmd.phase == PH_STORM);
}

static void agent_outcome(struct agent *a, bool ok)
{
	struct worker *w = a->w;
	if (!phase_counts(w, a))
		return;
	a->phase_id = w->phase_id;
	if (ok) {
		w->c.done++;
		w->c.last_ok_s = (double)(now_ns() - w->t0) / 1e9;
	} else
		w->c.failed++;
	phase_check_done(w);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct worker *w = a->w;
	if (a->state != A_WAIT)
		return;
	w->retryq[w->nretry++] = (uint32_t)(a - w->agents);
	pump(w);
}

static void agent_fail(struct agent *a, int reason)
{
	struct worker *w = a->w;
	bool was_ready = a->state == A_READY;

	agent_close(a);
	if (!was_ready && a->state != A_IDLE && a->state != A_WAIT)
		w->inflight--;
	if (w->probing && w->probe_idx == a->idx)
		w->probing = false; /* another agent probes */
	w->c.fail[reason]++;
	if (was_ready) {
		w->c.disconnects++;
		a->tries = 0;
	}
	if (++a->tries >= FS_MAX_TRIES) {
		a->state = A_IDLE;
		agent_outcome(a, false);
		pump(w);
		return;
	}
	/* exponential backoff with jitter: 100 ms * 2^tries, capped at 5 s */
	uint64_t ms = 100ull << (a->tries < 6 ? a->tries : 6);
	if (ms > 5000)
		ms = 5000;
	ms = ms / 2 + (uint64_t)random() % (ms / 2 + 1);
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	a->state = A_WAIT;
	event_base_once(w->base, -1, EV_TIMEOUT, retry_cb, a, &tv);
	pump(w);
}

static void on_enroll_response(struct agent *a, const Immune__V1__EnrollResponse *er)
{
	struct worker *w = a->w;
	X509 *cert = NULL;

	if (!er->host_id || !*er->host_id || strlen(er->host_id) > PKI_HOST_ID_MAX ||
	    pki_cert_from_der(er->cert_der.data, er->cert_der.len, &cert) < 0) {
		agent_fail(a, FAIL_PROTOCOL);
		return;
	}
	if (!w->ca && pki_cert_from_der(er->ca_der.data, er->ca_der.len, &w->ca) < 0) {
		X509_free(cert);
		agent_fail(a, FAIL_PROTOCOL);
		return;
	}
	snprintf(a->host_id, sizeof(a->host_id), "%s", er->host_id);
	X509_free(a->cert);
	a->cert = cert;
	a->enrolled = true;
	OPENSSL_free(a->csr);
	a->csr = NULL;
	agent_close(a);
	a->state = A_IDLE;
	a->tries = 0;
	w->inflight--;
	agent_outcome(a, true);
	pump(w);
}

static void probe_end(struct worker *w)
{
	w->probing = false;
	w->probe_done = true;
	pump(w);
}

static void probe_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	if (w->probing)
		probe_end(w);
}

static void on_config(struct agent *a, const Immune__V1__ConfigUpdate *u)
{
	struct worker *w = a->w;
	if (!u->catalog_digest || !*u->catalog_digest)
		return;
	uint64_t bytes = 0;
	for (size_t i = 0; i < u->n_catalog; i++)
		bytes += u->catalog[i]->content.len;
	if (u->n_catalog) {
		a->has_catalog = true;
		w->c.catalogs++;
		w->catalog_bytes = bytes;
	}
	if (strlen(u->catalog_digest) < sizeof(w->digest))
		snprintf(w->digest, sizeof(w->digest), "%s", u->catalog_digest);
	if (w->probing)
		probe_end(w);
}

static void on_welcome(struct agent *a, const Immune__V1__Welcome *wel)
{
	struct worker *w = a->w;
	uint64_t committed = 0;

	for (size_t i = 0; i < wel->n_committed; i++)
		if (wel->committed[i]->stream == IMMUNE__V1__STREAM__STREAM_EVENTS)
			committed = wel->committed[i]->committed_seq;
	if (committed > a->acked)
		a->acked = committed;
	a->next_seq = a->acked + 1;
	if (wel->heartbeat_seconds)
		w->hb_seconds = wel->heartbeat_seconds;
	a->state = A_READY;
	a->tries = 0;
	w->inflight--;
	bufferevent_set_timeouts(a->bev, NULL, NULL);
	if (w->probing && w->probe_idx == a->idx) {
		/* the catalog, if the server has one, follows the Welcome */
		struct timeval tv = { .tv_sec = 1 };
		event_base_once(w->base, -1, EV_TIMEOUT, probe_timeout_cb, w, &tv);
	}
	agent_outcome(a, true);
	fill_window(a);
	pump(w);
}

static void on_ack(struct agent *a, const Immune__V1__Ack *ack)
{
	struct worker *w = a->w;
	uint64_t t = now_ns();

	if (ack->stream != IMMUNE__V1__STREAM__STREAM_EVENTS || ack->committed_seq <= a->acked)
		return;
	uint64_t delta = ack->committed_seq - a->acked;
	a->acked = ack->committed_seq;
	if (w->cmd.phase == PH_INGEST && (w->ingesting || w->draining)) {
		w->c.records_acked_all += delta;
		if (w->ingesting)
			w->c.records_acked += delta;
	}
	while (a->nflight && a->flight_seq[a->head] <= a->acked) {
		hist_add(&w->lat, (t - a->flight_t[a->head]) / 1000);
		a->head = (a->head + 1) % WIN_MAX;
		a->nflight--;
		w->flight_total--;
	}
	fill_window(a);
	if (w->draining && w->flight_total == 0) {
		w->draining = false;
		phase_finish(w);
	}
}

/* PH_REVOKES: ends the phase once every ready agent holds its access-revoke (or, when
 * final, with those that do not counted as failed): latency from cmd.t0_ns. */
static void revokes_check(struct worker *w, bool final)
{
	if (!w->running || w->cmd.phase != PH_REVOKES)
		return;
	uint64_t got = 0, missing = 0;
	for (uint32_t i = 0; i < w->n; i++) {
		struct agent *a = &w->agents[i];
		if (a->revoke_ns)
			got++;
		else if (a->state == A_READY)
			missing++;
	}
	if (missing && !final)
		return;
	for (uint32_t i = 0; i < w->n; i++) {
		uint64_t t = w->agents[i].revoke_ns;
		if (t)
			hist_add(&w->lat, t > w->cmd.t0_ns ? (t - w->cmd.t0_ns) / 1000 : 0);
		if (t && t > w->cmd.t0_ns && (double)(t - w->cmd.t0_ns) / 1e9 > w->c.last_ok_s)
			w->c.last_ok_s = (double)(t - w->cmd.t0_ns) / 1e9;
	}
	w->c.done = got;
	w->c.failed = missing;
	phase_finish(w);
}

static void on_frame(struct agent *a, Frame *f)
{
	switch (f->body_case) {
	case IMMUNE__V1__FRAME__BODY_REFUSAL: {
		unsigned r = (unsigned)f->refusal->reason;
		agent_fail(a, FAIL_REFUSED + (int)(r < 10 ? r : 0));
		return;
	}
	case IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE:
		if (a->state == A_ENROLLING)
			on_enroll_response(a, f->enroll_response);
		else
			agent_fail(a, FAIL_PROTOCOL);
		return;
	case IMMUNE__V1__FRAME__BODY_WELCOME:
		if (a->state == A_HELLO)
			on_welcome(a, f->welcome);
		else
			agent_fail(a, FAIL_PROTOCOL);
		return;
	case IMMUNE__V1__FRAME__BODY_ACK:
		if (a->state == A_READY)
			on_ack(a, f->ack);
		return;
	case IMMUNE__V1__FRAME__BODY_CONFIG: on_config(a, f->config); return;
	case IMMUNE__V1__FRAME__BODY_COMMAND:
		/* offboarding: what a real agent acts on at once; the receipt time is kept */
		if (f->command->name && !strcmp(f->command->name, "access-revoke") &&
		    f->command->access_revoke && !a->revoke_ns) {
			a->revoke_ns = now_ns();
			revokes_check(a->w, false);
		}
		return;
	default:
		/* heartbeats, configuration, commands: nothing to do for a simulated agent */
		return;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (a->bev == bev) {
		Frame *f = NULL;
		int r = msg_read(in, FRAME_MAX, true, &f);
		if (r == 0)
			return;
		if (r < 0) {
			if (a->w->t->verbose)
				fprintf(stderr, "fleetsim: agent %u: bad frame: %s\n", a->idx,
					strerror(-r));
			agent_fail(a, FAIL_PROTOCOL);
			return;
		}
		on_frame(a, f);
		msg_free(f);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct agent *a = arg;
	int reason;

	if (what & BEV_EVENT_CONNECTED) {
		a->tls_up = true;
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		reason = FAIL_TIMEOUT;
	else if (what & BEV_EVENT_EOF)
		reason = a->tls_up ? FAIL_CLOSED : FAIL_TLS;
	else if (!a->tls_up) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		int err = EVUTIL_SOCKET_ERROR();
		reason = e ? FAIL_TLS
			 : (err == ECONNREFUSED || err == ECONNRESET || err == ETIMEDOUT)
				 ? FAIL_CONNECT
				 : FAIL_TLS;
		if (a->w->t->verbose)
			fprintf(stderr, "fleetsim: agent %u: %s (%s)\n", a->idx,
				e ? ERR_reason_error_string(e) : "socket", strerror(err));
	} else
		reason = FAIL_CLOSED;
	while (bufferevent_get_openssl_error(bev))
		;
	agent_fail(a, reason);
}

static int open_socket(struct worker *w, struct agent *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->t->source_addrs) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		uint32_t host = 0x7f010001u | ((a->idx % w->t->source_addrs) << 8);
		src.sin_addr.s_addr = htonl(host);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
	}
	if (connect(fd, (const struct sockaddr *)&w->t->agents, sizeof(w->t->agents)) < 0 &&
	    errno != EINPROGRESS) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Starts an enrollment (not enrolled yet) or a mutual-TLS connection. */
static void agent_start(struct agent *a)
{
	struct worker *w = a->w;
	bool enroll = !a->enrolled;
	SSL_CTX *ctx;
	SSL *ssl;

	if (!enroll && !w->client_ctx) {
		w->client_ctx = tls_client_ctx(w->ca, a->cert, a->key);
		if (!w->client_ctx) {
			fprintf(stderr, "fleetsim: tls_client_ctx failed\n");
			_exit(2);
		}
		SSL_CTX_set_mode(w->client_ctx, SSL_MODE_RELEASE_BUFFERS);
	}
	ctx = enroll ? w->enroll_ctx : w->client_ctx;
	w->inflight++;
	w->c.attempts++;
	a->state = enroll ? A_ENROLLING : A_HELLO;
	a->tls_up = false;
	int fd = open_socket(w, a);
	if (fd < 0) {
		agent_fail(a, fd == -ECONNREFUSED ? FAIL_CONNECT : FAIL_LOCAL);
		return;
	}
	ssl = SSL_new(ctx);
	if (!ssl || (!enroll && (SSL_use_certificate(ssl, a->cert) != 1 ||
				 SSL_use_PrivateKey(ssl, a->key) != 1))) {
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		agent_fail(a, FAIL_LOCAL);
		return;
	}
	a->bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!a->bev) {
		close(fd);
		agent_fail(a, FAIL_LOCAL);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(a->bev, 1);
	bufferevent_setcb(a->bev, read_cb, NULL, event_cb, a);
	struct timeval tv = { .tv_sec = ATTEMPT_TIMEOUT };
	bufferevent_set_timeouts(a->bev, &tv, &tv);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	if ((enroll ? send_enroll(a) : send_hello(a)) < 0)
		agent_fail(a, FAIL_LOCAL);
}

static bool eligible(struct worker *w, struct agent *a)
{
	switch (w->cmd.phase) {
	case PH_ENROLL: return !a->enrolled && a->state == A_IDLE;
	case PH_CONNECT:
	case PH_STORM: return a->enrolled && a->state == A_IDLE;
	default: return false;
	}
}

/* Starts attempts while there is room in the window: retries first, then new agents. */
static void pump(struct worker *w)
{
	if (w->pumping)
		return; /* the outer call goes on */
	w->pumping = true;
	pump_loop(w);
	w->pumping = false;
}

static void pump_loop(struct worker *w)
{
	while (w->inflight < w->window) {
		struct agent *a;
		if (w->nretry) {
			a = &w->agents[w->retryq[--w->nretry]];
			if (a->state != A_WAIT)
				continue;
			agent_start(a);
			continue;
		}
		if (!w->running || w->next >= w->n)
			return;
		a = &w->agents[w->next];
		bool probe = a->enrolled && !w->t->fetch_catalog && !w->probe_done;
		if (probe && w->probing)
			return; /* wait until the probe has learnt the catalog's digest */
		w->next++;
		if (eligible(w, a)) {
			a->tries = 0;
			if (probe) {
				w->probing = true;
				w->probe_idx = a->idx;
			}
			agent_start(a);
		} else if (phase_counts(w, a)) {
			/* already where the phase leads, never enrolled, or in progress (then
			 * counted when the attempt ends) */
			if (w->cmd.phase == PH_ENROLL) {
				if (a->enrolled)
					agent_outcome(a, true);
			} else if (a->state == A_READY) {
				agent_outcome(a, true);
			} else if (a->state == A_IDLE) {
				agent_outcome(a, false);
			}
		}
	}
}

static void phase_check_done(struct worker *w)
{
	if (!w->running || w->cmd.phase == PH_INGEST)
		return;
	if (w->c.done + w->c.failed >= w->n)
		phase_finish(w);
}

/* --- phases --- */

static void do_keygen(struct worker *w)
{
	for (uint32_t i = 0; i < w->n; i++) {
		struct agent *a = &w->agents[i];
		if (a->key)
			continue;
		if (pki_key_generate(&a->key) < 0 ||
		    pki_csr_create(a->key, "fleetsim", &a->csr, &a->csr_len) < 0) {
			fprintf(stderr, "fleetsim: key generation failed\n");
			_exit(2);
		}
		w->c.done++;
		if (i % 1024 == 0)
			send_progress(w);
	}
	phase_finish(w);
}

static void ingest_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	w->ingesting = false;
	w->c.window_s = (double)(now_ns() - w->ingest_t0) / 1e9;
	event_del(w->rate_ev);
	if (w->flight_total == 0) {
		phase_finish(w);
		return;
	}
	w->draining = true;
	w->drain_deadline = now_ns() + DRAIN_TIMEOUT_NS;
}

static void rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t t = now_ns();

	w->tokens += w->cmd.rate * (double)(t - w->last_rate_ns) / 1e9;
	w->last_rate_ns = t;
	/* no catching up after a stall beyond 100 ms (or two batches at low rates) */
	double cap =
		w->cmd.rate * 0.1 > 2.0 * w->cmd.batch ? w->cmd.rate * 0.1 : 2.0 * w->cmd.batch;
	if (w->tokens > cap)
		w->tokens = cap;
	for (uint32_t scanned = 0; scanned < w->n && w->tokens >= w->cmd.batch; scanned++) {
		struct agent *a = &w->agents[w->rr++ % w->n];
		if (a->state == A_READY && a->nflight < w->cmd.window) {
			send_batch(a);
			w->tokens -= w->cmd.batch;
		}
	}
}

static void start_ingest(struct worker *w)
{
	w->ingesting = true;
	w->draining = false;
	w->ingest_t0 = now_ns();
	struct timeval end = {
		.tv_sec = (time_t)w->cmd.duration,
		.tv_usec = (suseconds_t)((w->cmd.duration - (double)(time_t)w->cmd.duration) * 1e6)
	};
	evtimer_add(w->end_ev, &end);
	if (w->cmd.rate > 0) {
		struct timeval tv = { .tv_usec = 5000 };
		w->tokens = 0;
		w->last_rate_ns = now_ns();
		event_add(w->rate_ev, &tv);
		return;
	}
	ingest_pump(w);
}

static void start_storm(struct worker *w)
{
	for (uint32_t i = 0; i < w->n; i++) {
		struct agent *a = &w->agents[i];
		if (a->state != A_READY)
			continue;
		agent_close(a);
		a->state = A_IDLE;
	}
	pump(w);
}

static void do_samples(struct worker *w)
{
	static struct fs_samples s;
	uint32_t stride = w->cmd.stride ? w->cmd.stride : 1;

	memset(&s, 0, sizeof(s));
	s.type = MSG_SAMPLES;
	for (uint32_t i = 0; i < w->n; i++) {
		struct agent *a = &w->agents[i];
		if ((a->idx % stride) != 0 || !a->enrolled)
			continue;
		snprintf(s.s[s.n].host_id, sizeof(s.s[s.n].host_id), "%s", a->host_id);
		s.s[s.n].acked = a->acked;
		if (++s.n == FS_SAMPLES_PER_MSG) {
			send_msg(w, &s, sizeof(s));
			s.n = 0;
		}
	}
	s.last = 1;
	send_msg(w, &s, sizeof(s));
}

static void ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct fs_cmd cmd;

	ssize_t n = recv(fd, &cmd, sizeof(cmd), 0);
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		_exit(0);
	if (n != (ssize_t)sizeof(cmd) || cmd.type != MSG_CMD)
		return;
	w->cmd = cmd;
	memset(&w->c, 0, sizeof(w->c));
	memset(&w->lat, 0, sizeof(w->lat));
	w->t0 = now_ns();
	w->next = 0;
	w->phase_id++;
	w->running = true;
	if (cmd.phase != PH_INGEST && cmd.window)
		w->window = cmd.window;
	switch (cmd.phase) {
	case PH_KEYGEN: do_keygen(w); break;
	case PH_ENROLL:
	case PH_CONNECT:
		pump(w);
		phase_check_done(w);
		break;
	case PH_INGEST:
		if (cmd.window > WIN_MAX)
			w->cmd.window = WIN_MAX;
		start_ingest(w);
		break;
	case PH_STORM:
		start_storm(w);
		phase_check_done(w);
		break;
	case PH_SAMPLES:
		w->running = false;
		do_samples(w);
		break;
	case PH_REVOKES:
		w->drain_deadline = now_ns() + (uint64_t)(cmd.duration * 1e9);
		revokes_check(w, false);
		break;
	case PH_CLOSE:
		for (uint32_t i = 0; i < w->n; i++) {
			struct agent *a = &w->agents[i];
			if (a->state == A_READY) {
				agent_close(a);
				a->state = A_IDLE;
			}
		}
		phase_finish(w);
		break;
	default: _exit(0);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	w->ticks++;
	if (w->running && w->ticks % 2 == 0)
		send_progress(w);
	if (w->running && w->cmd.phase == PH_REVOKES && now_ns() > w->drain_deadline)
		revokes_check(w, true);
	if (w->draining && now_ns() > w->drain_deadline) {
		w->draining = false;
		w->c.batches_unacked = w->flight_total;
		phase_finish(w);
	}
	/* heartbeats: each ready agent once per hb_seconds, spread over the ticks (250 ms) */
	uint64_t slots = (uint64_t)w->hb_seconds * 4;
	for (uint32_t i = (uint32_t)(w->ticks % slots); i < w->n; i += (uint32_t)slots)
		if (w->agents[i].state == A_READY)
			send_heartbeat(&w->agents[i]);
}

_Noreturn void fs_worker_main(int fd, const struct fs_target *t, uint32_t first, uint32_t n)
{
	struct worker w = {
		.t = t, .ctl = fd, .first = first, .n = n, .window = 256, .hb_seconds = 30
	};
	uint32_t maxbatch = MSG_MAX_BATCH_RECORDS;

	srandom((unsigned)(t->nonce ^ first));
	w.base = event_base_new();
	w.agents = xcalloc(n ? n : 1, sizeof(*w.agents));
	w.retryq = xcalloc(n ? n : 1, sizeof(*w.retryq));
	for (uint32_t i = 0; i < n; i++) {
		w.agents[i].w = &w;
		w.agents[i].idx = first + i;
	}
	w.payload_stride = 256;
	w.recs = xcalloc(maxbatch, sizeof(*w.recs));
	w.recp = xcalloc(maxbatch, sizeof(*w.recp));
	w.payload = xmalloc(maxbatch * w.payload_stride);
	w.enroll_ctx = tls_enroll_ctx(t->pin);
	if (!w.base || !w.enroll_ctx) {
		fprintf(stderr, "fleetsim: worker set-up failed\n");
		_exit(2);
	}
	w.ctl_ev = event_new(w.base, fd, EV_READ | EV_PERSIST, ctl_cb, &w);
	w.tick_ev = event_new(w.base, -1, EV_PERSIST, tick_cb, &w);
	w.rate_ev = event_new(w.base, -1, EV_PERSIST, rate_cb, &w);
	w.end_ev = evtimer_new(w.base, ingest_end_cb, &w);
	struct timeval tick = { .tv_usec = 250000 };
	event_add(w.ctl_ev, NULL);
	event_add(w.tick_ev, &tick);
	event_base_dispatch(w.base);
	_exit(0);
}
