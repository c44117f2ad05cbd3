/* An agent connection's state machine (docs/server.md "Connections"):
 * HANDSHAKE -> AWAIT_ENROLL (no client certificate) -> EnrollResponse -> CLOSING
 * HANDSHAKE -> AWAIT_HELLO (verified certificate) -> Welcome -> ESTABLISHED -> ...
 * Anything unexpected is counted, refused when a reply makes sense, and closed. */
#include "server/server_int.h"
#include "lib/log.h"
#include "lib/tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#define CLOSE_FLUSH_TIMEOUT_S 5

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

struct conn *conn_new(struct server *s, int fd)
{
	/* small request/response frames: do not wait for the peer's delayed ACK */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	SSL *ssl = SSL_new(s->agent_ctx);
	if (!ssl)
		return NULL;
	struct bufferevent *bev =
		bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
					       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	struct conn *c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->bev = bev;
	c->id = s->next_conn_id++;
	c->state = CONN_HANDSHAKE;
	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	bufferevent_enable(bev, EV_READ);
	s->n_conns++;
	conn_list_move(s, c, LIST_PREAUTH);
	return c;
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	struct server *s = c->srv;
	conn_list_move(s, c, LIST_NONE);
	if (c->host_id[0])
		hostmap_remove(&s->hosts, c);
	ingest_forget(s, c);
	bufferevent_free(c->bev);
	s->n_conns--;
	free(c);
}

void conns_close_all(struct server *s)
{
	while (s->preauth.head)
		conn_free(s->preauth.head);
	while (s->closing.head)
		conn_free(s->closing.head);
	/* one pass: removing slot i only ever shifts later members of its run into i, and
	 * every slot before i is already empty */
	for (size_t i = 0; i < s->hosts.cap; i++)
		while (s->hosts.slots[i])
			conn_free(s->hosts.slots[i]);
}

int conn_send(struct conn *c, Frame *f)
{
	int r = msg_write(f, bufferevent_get_output(c->bev));
	if (r < 0)
		log_warn("cannot send a %s frame: %s", msg_body_name(f), strerror(-r));
	return r;
}

static void on_flushed(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

void conn_close_after(struct conn *c, Frame *f)
{
	if (c->state == CONN_CLOSING)
		return;
	if (f)
		conn_send(c, f);
	struct server *s = c->srv;
	if (c->host_id[0])
		hostmap_remove(&s->hosts, c);
	c->host_id[0] = '\0';
	ingest_forget(s, c);
	c->state = CONN_CLOSING;
	conn_list_move(s, c, LIST_CLOSING);
	struct timeval flush = { .tv_sec = CLOSE_FLUSH_TIMEOUT_S };
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &flush);
	bufferevent_setcb(c->bev, NULL, on_flushed, on_event, c);
	bufferevent_enable(c->bev, EV_WRITE);
	bufferevent_trigger(c->bev, EV_WRITE,
			    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void conn_refuse(struct conn *c, int reason, const char *message)
{
	Immune__V1__Refusal ref = IMMUNE__V1__REFUSAL__INIT;
	ref.reason = reason;
	ref.message = (char *)message;
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_REFUSAL;
	f.refusal = &ref;
	conn_close_after(c, &f);
}

/* The handshake is done: a verified client certificate means an enrolled host. */
static void conn_identify(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	c->state = tls_peer_cert(ssl) ? CONN_AWAIT_HELLO : CONN_AWAIT_ENROLL;
}

static void read_error(struct conn *c, int r)
{
	struct server *s = c->srv;
	switch (r) {
	case -EMSGSIZE:
		server_count(s, CTR_FRAME_TOO_LARGE);
		conn_refuse(c, IMMUNE__V1__REFUSAL__REASON__REASON_PROTOCOL, "frame too large");
		break;
	case -EPROTO:
		server_count(s, CTR_PROTOCOL_VIOLATION);
		conn_refuse(c, IMMUNE__V1__REFUSAL__REASON__REASON_PROTOCOL,
			    "message not allowed here or a field out of limits");
		break;
	default:
		server_count(s, CTR_FRAME_GARBAGE);
		conn_refuse(c, IMMUNE__V1__REFUSAL__REASON__REASON_PROTOCOL, "undecodable frame");
		break;
	}
}

static void violation(struct conn *c, const Frame *f)
{
	server_count(c->srv, CTR_PROTOCOL_VIOLATION);
	char msg[96];
	snprintf(msg, sizeof(msg), "unexpected %s frame", msg_body_name(f));
	conn_refuse(c, IMMUNE__V1__REFUSAL__REASON__REASON_PROTOCOL, msg);
}

static void dispatch_established(struct conn *c, const Frame *f)
{
	switch (f->body_case) {
	case IMMUNE__V1__FRAME__BODY_BATCH: ingest_handle(c, f->batch); break;
	case IMMUNE__V1__FRAME__BODY_HEARTBEAT: heartbeat_handle(c, f->heartbeat); break;
	case IMMUNE__V1__FRAME__BODY_RENEW_REQUEST: renew_handle(c, f->renew_request); break;
	case IMMUNE__V1__FRAME__BODY_REFUSAL:
		conn_close_after(c, NULL); /* the agent is leaving */
		break;
	default: violation(c, f);
	}
}

static void dispatch(struct conn *c, const Frame *f)
{
	if (c->state == CONN_AWAIT_ENROLL && f->body_case == IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST)
		enroll_handle(c, f->enroll_request);
	else if (c->state == CONN_AWAIT_HELLO && f->body_case == IMMUNE__V1__FRAME__BODY_HELLO)
		hello_handle(c, f->hello);
	else if (c->state == CONN_ESTABLISHED)
		dispatch_established(c, f);
	else
		violation(c, f);
}

void conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (c->state == CONN_HANDSHAKE)
		conn_identify(c);
	/* each handler may move c to CLOSING (then nothing more is read) or pause it */
	while (c->state != CONN_CLOSING && !c->throttled) {
		bool auth = c->state == CONN_ESTABLISHED;
		Frame *f = NULL;
		int r = msg_read(in, auth ? FRAME_MAX : FRAME_MAX_PREAUTH, auth, &f);
		if (r == 0)
			break;
		if (r < 0) {
			read_error(c, r);
			break;
		}
		dispatch(c, f);
		msg_free(f);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_HANDSHAKE)
			conn_identify(c);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->state == CONN_HANDSHAKE)
		server_count(c->srv, CTR_TLS_HANDSHAKE_FAILED);
	else if ((what & BEV_EVENT_TIMEOUT) && c->state == CONN_ESTABLISHED)
		server_count(c->srv, CTR_IDLE_TIMEOUT);
	conn_free(c);
}
