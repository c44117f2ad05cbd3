/* The agents' listener: accepts TCP connections and keeps the pre-authentication deadline
 * (handshake and first frame) with one timer over a list in deadline order. */
#include "server/server_int.h"
#include "lib/log.h"
#include "lib/str.h"

#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <unistd.h>

#define ACCEPT_RETRY_MS 100

static void arm_deadline(struct server *s)
{
	if (!s->preauth.head) {
		evtimer_del(s->deadline_ev);
		return;
	}
	int64_t wait = s->preauth.head->deadline_ms - server_now_ms();
	if (wait < 0)
		wait = 0;
	struct timeval tv = { .tv_sec = wait / 1000, .tv_usec = (wait % 1000) * 1000 };
	evtimer_add(s->deadline_ev, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int64_t now = server_now_ms();
	while (s->preauth.head && s->preauth.head->deadline_ms <= now) {
		struct conn *c = s->preauth.head;
		server_count(s, CTR_HANDSHAKE_TIMEOUT);
		conn_free(c); /* removes it from the list */
	}
	arm_deadline(s);
}

static struct conn_list *list_of(struct server *s, enum conn_list_id id)
{
	return id == LIST_PREAUTH ? &s->preauth : id == LIST_CLOSING ? &s->closing : NULL;
}

/* Every pre-auth connection gets the same allowance, so appending keeps that list in
 * deadline order. */
void conn_list_move(struct server *s, struct conn *c, enum conn_list_id id)
{
	struct conn_list *l = list_of(s, c->list);
	if (l) {
		if (c->prev)
			c->prev->next = c->next;
		else
			l->head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		else
			l->tail = c->prev;
		c->prev = c->next = NULL;
	}
	c->list = (uint8_t)id;
	l = list_of(s, id);
	if (!l)
		return;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	if (id == LIST_PREAUTH) {
		c->deadline_ms = server_now_ms() + s->opt.preauth_deadline_ms;
		if (!evtimer_pending(s->deadline_ev, NULL))
			arm_deadline(s);
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct server *s = arg;
	if (s->opt.max_agents && s->n_conns >= s->opt.max_agents) {
		server_count(s, CTR_CONNECTIONS_REFUSED);
		close(fd);
		return;
	}
	if (!conn_new(s, fd))
		close(fd);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	if (s->listener)
		evconnlistener_enable(s->listener);
}

/* Out of descriptors or memory: the pending connection stays queued, so accepting again at
 * once would spin; pause the listener briefly instead. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	log_warn("accepting an agent connection: %s (pausing accepts for %d ms)",
		 evutil_socket_error_to_string(err), ACCEPT_RETRY_MS);
	evconnlistener_disable(l);
	struct timeval tv = { .tv_usec = ACCEPT_RETRY_MS * 1000 };
	evtimer_add(s->accept_retry_ev, &tv);
}

/* Parses "IPv4:PORT", "[IPv6]:PORT" or "localhost:PORT"; the port may be 0 (ephemeral). */
static int parse_addr(const char *text, struct sockaddr_storage *ss, int *len)
{
	const char *colon = strrchr(text, ':');
	int64_t port;
	if (!colon || parse_i64(colon + 1, 0, 65535, &port) < 0)
		return -EINVAL;
	_cleanup_free_ char *host = xstrndup(text, (size_t)(colon - text));
	size_t n = strlen(host);
	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1", &sin->sin_addr) != 1)
		return -EINVAL;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*len = sizeof(*sin);
	return 0;
}

/* Binds "ADDR:PORT" (IPv6 as [ADDR]:PORT); *port is the port bound. */
struct evconnlistener *listener_bind(struct server *s, const char *addr, evconnlistener_cb cb,
				     void *arg, uint16_t *port)
{
	struct sockaddr_storage ss;
	int len = 0;
	if (parse_addr(addr, &ss, &len) < 0) {
		log_error("'%s' is not an address (use ADDR:PORT, [ADDR]:PORT for IPv6)", addr);
		return NULL;
	}
	struct evconnlistener *l = evconnlistener_new_bind(
		s->base, cb, arg, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		4096, (struct sockaddr *)&ss, len);
	if (!l) {
		log_error("cannot listen on %s: %s", addr,
			  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return NULL;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen);
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	return l;
}

int listener_open(struct server *s)
{
	s->deadline_ev = evtimer_new(s->base, on_deadline, s);
	if (!s->deadline_ev)
		return -ENOMEM;
	s->accept_retry_ev = evtimer_new(s->base, on_accept_retry, s);
	if (!s->accept_retry_ev)
		return -ENOMEM;
	s->listener = listener_bind(s, s->opt.listen_addr, on_accept, s, &s->agent_port);
	if (!s->listener)
		return -EADDRNOTAVAIL;
	evconnlistener_set_error_cb(s->listener, on_accept_error);
	return 0;
}

void listener_close(struct server *s)
{
	if (s->listener)
		evconnlistener_free(s->listener);
	s->listener = NULL;
}
