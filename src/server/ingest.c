/* Ingest: RecordBatch -> the store's writer thread -> Ack, with flow control
 * (docs/server.md "Flow control"). The writer thread's callbacks only queue a completion
 * and wake the loop; everything else happens on the loop. */
#include "server/server_int.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/store.h"

#include <event2/bufferevent.h>
#include <event2/event.h>

static void on_done(struct store_batch *b, int result, uint64_t committed_seq, void *userdata)
{
	struct completion *cp = userdata;
	struct server *s = cp->srv;
	cp->result = result;
	cp->committed_seq = committed_seq;
	cp->new_alerts = b->new_alerts; /* committed: response looks at them on the loop */
	cp->n_new_alerts = b->n_new_alerts;
	b->new_alerts = NULL;
	b->n_new_alerts = 0;
	cp->new_failing = b->new_failing;
	cp->n_new_failing = b->n_new_failing;
	b->new_failing = NULL;
	b->n_new_failing = 0;
	pthread_mutex_lock(&s->completion_lock);
	cp->next = s->completions;
	s->completions = cp;
	pthread_mutex_unlock(&s->completion_lock);
	event_active(s->completion_ev, EV_READ, 0);
}

static void pause_reading(struct conn *c)
{
	struct server *s = c->srv;
	if (c->throttled)
		return;
	if (s->n_paused == s->paused_alloc) {
		s->paused_alloc = s->paused_alloc ? 2 * s->paused_alloc : 64;
		s->paused = xrealloc(s->paused, s->paused_alloc * sizeof(*s->paused));
	}
	c->paused_at = (uint32_t)s->n_paused;
	s->paused[s->n_paused++] = c;
	c->throttled = true;
	s->throttled = true;
	bufferevent_disable(c->bev, EV_READ);
	server_count(s, CTR_BATCHES_THROTTLED);
}

static void resume_reading(struct server *s)
{
	for (size_t i = 0; i < s->n_paused; i++) {
		struct conn *c = s->paused[i];
		c->throttled = false;
		bufferevent_enable(c->bev, EV_READ);
		/* frames already buffered are read without waiting for more bytes */
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	}
	s->n_paused = 0;
	s->throttled = false;
}

void ingest_forget(struct server *s, struct conn *c)
{
	if (!c->throttled)
		return;
	struct conn *last = s->paused[--s->n_paused];
	s->paused[c->paused_at] = last;
	last->paused_at = c->paused_at;
	c->throttled = false;
}

#define RESUME_CHECK_MS 10

/* Resumes paused agents once the queue is back under half its limit. The store lowers its
 * count after the done callbacks, so while paused this also re-checks on a short timer. */
static void check_resume(struct server *s)
{
	if (!s->throttled || !s->store)
		return;
	if (store_ingest_queued_bytes(s->store) <= s->opt.ingest_limit_bytes / 2) {
		resume_reading(s);
		return;
	}
	if (!evtimer_pending(s->resume_ev, NULL)) {
		struct timeval tv = { .tv_usec = RESUME_CHECK_MS * 1000 };
		evtimer_add(s->resume_ev, &tv);
	}
}

static void on_resume_check(evutil_socket_t fd, short what, void *arg)
{
	check_resume(arg);
}

static void send_ack(struct conn *c, uint32_t stream, uint64_t seq)
{
	Immune__V1__Ack ack = IMMUNE__V1__ACK__INIT;
	ack.stream = (Immune__V1__Stream)stream;
	ack.committed_seq = seq;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_ACK;
	f.ack = &ack;
	if (conn_send(c, &f) < 0)
		conn_free(c);
}

static void complete(struct server *s, struct completion *cp)
{
	if (cp->n_new_alerts > 0)
		respond_alerts(s, cp->host_id, cp->new_alerts, cp->n_new_alerts);
	if (cp->n_new_failing > 0)
		respond_failing_checks(s, cp->host_id, cp->new_failing, cp->n_new_failing);
	struct conn *c = hostmap_get(&s->hosts, cp->host_id);
	if (!c || c->id != cp->conn_id || c->state != CONN_ESTABLISHED)
		return; /* gone: the agent resends what was not acknowledged */
	if (cp->result < 0) {
		server_count(s, CTR_INGEST_ERRORS);
		log_errno(cp->result, "storing a batch of host %s", cp->host_id);
		conn_free(c);
		return;
	}
	/* a later completion of the same stream says at least as much */
	struct completion *n = cp->next;
	if (n && n->conn_id == cp->conn_id && n->stream == cp->stream && n->result >= 0)
		return;
	send_ack(c, cp->stream, cp->committed_seq);
}

static void on_completions(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	pthread_mutex_lock(&s->completion_lock);
	struct completion *list = s->completions;
	s->completions = NULL;
	pthread_mutex_unlock(&s->completion_lock);
	struct completion *ordered = NULL; /* commit order */
	while (list) {
		struct completion *next = list->next;
		list->next = ordered;
		ordered = list;
		list = next;
	}
	while (ordered) {
		struct completion *next = ordered->next;
		complete(s, ordered);
		strv_free(ordered->new_alerts);
		store_failing_checks_free(ordered->new_failing, ordered->n_new_failing);
		free(ordered);
		ordered = next;
	}
	check_resume(s);
}

void ingest_handle(struct conn *c, const Immune__V1__RecordBatch *batch)
{
	struct server *s = c->srv;
	if (batch->n_records == 0)
		return;
	struct store_batch *b =
		store_batch_new(c->host_id, (uint32_t)batch->stream, batch->n_records);
	for (size_t i = 0; i < batch->n_records; i++) {
		const Immune__V1__Record *r = batch->records[i];
		store_batch_set(b, i, r->seq, (uint32_t)r->kind, r->time_ns, (uint32_t)r->encoding,
				r->payload.data, r->payload.len);
	}
	struct completion *cp = xcalloc(1, sizeof(*cp));
	cp->srv = s;
	cp->conn_id = c->id;
	cp->stream = (uint32_t)batch->stream;
	memcpy(cp->host_id, c->host_id, sizeof(cp->host_id));
	b->done = on_done;
	b->userdata = cp;
	int r = store_ingest_submit(s->store, b);
	if (r < 0) {
		store_batch_free(b);
		free(cp);
		conn_refuse(c, IMMUNE__V1__REFUSAL__REASON__REASON_OVERLOADED, "server stopping");
		return;
	}
	if (store_ingest_queued_bytes(s->store) > s->opt.ingest_limit_bytes) {
		pause_reading(c);
		check_resume(s);
	}
}

int ingest_init(struct server *s)
{
	s->completion_ev = event_new(s->base, -1, 0, on_completions, s);
	s->resume_ev = evtimer_new(s->base, on_resume_check, s);
	return s->completion_ev && s->resume_ev ? 0 : -ENOMEM;
}

void ingest_fini(struct server *s)
{
	struct completion *cp = s->completions;
	while (cp) {
		struct completion *next = cp->next;
		strv_free(cp->new_alerts);
		store_failing_checks_free(cp->new_failing, cp->n_new_failing);
		free(cp);
		cp = next;
	}
	s->completions = NULL;
	if (s->completion_ev)
		event_free(s->completion_ev);
	s->completion_ev = NULL;
	if (s->resume_ev)
		event_free(s->resume_ev);
	s->resume_ev = NULL;
	free(s->paused);
	s->paused = NULL;
	s->n_paused = s->paused_alloc = 0;
}
