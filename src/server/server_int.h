/* immune-server internals shared by its files (not a public interface). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "proto/msg.h"
#include "server/access.h"
#include "server/file_set.h"
#include "server/hostmap.h"
#include "server/server.h"

struct event;
struct event_base;
struct bufferevent;
struct evconnlistener;
struct evhttp;
struct pki_ca;
struct playbook_set;
struct store;
typedef struct ssl_ctx_st SSL_CTX;
struct sockaddr;

enum conn_state {
	CONN_HANDSHAKE,	   /* TLS handshake in progress */
	CONN_AWAIT_ENROLL, /* no client certificate: only EnrollRequest */
	CONN_AWAIT_HELLO,  /* verified client certificate: Hello first */
	CONN_ESTABLISHED,  /* identity checked: batches, heartbeats, renewals */
	CONN_CLOSING,	   /* flushing a last reply, then freed */
};

enum conn_list_id { LIST_NONE, LIST_PREAUTH, LIST_CLOSING };

struct conn_list {
	struct conn *head, *tail;
};

/* One agent connection (96 bytes). Kept small: 100,000 of these must fit with their TLS state. */
struct conn {
	struct server *srv;
	struct bufferevent *bev;  /* owns the SSL and the socket */
	struct conn *prev, *next; /* on s->preauth (deadline order) or s->closing */
	uint64_t id;		  /* unique per server run: acks find their connection */
	int64_t deadline_ms;	  /* pre-auth: handshake and first frame */
	int64_t touched_s;	  /* last store_host_touch() */
	char host_id[33];	  /* established connections */
	uint8_t state;		  /* enum conn_state */
	uint8_t list;		  /* enum conn_list_id */
	bool throttled;		  /* reading paused by flow control: s->paused[paused_at] */
	uint32_t paused_at;
};

/* A batch committed (or failed) on the writer thread, queued for the loop. */
struct completion {
	struct completion *next;
	struct server *srv;
	uint64_t conn_id;
	uint32_t stream;
	int result;
	uint64_t committed_seq;
	char host_id[33];
	char **new_alerts; /* taken from the batch: alerts stored for the first time */
	size_t n_new_alerts;
	struct store_failing_check *new_failing; /* taken likewise: checks newly failing */
	size_t n_new_failing;
};

struct server {
	struct server_options opt;
	char *data_dir;
	struct event_base *base;
	struct pki_ca *ca;
	struct store *store;
	SSL_CTX *agent_ctx;
	SSL_CTX *api_ctx;
	struct file_set *catalog;
	struct file_set *rules;		/* detection rules pushed to agents, or NULL */
	struct playbook_set *playbooks; /* response playbooks (server steps), or NULL */
	struct event *respond_ev;	/* expires actions left pending approval */
	struct evconnlistener *listener;
	struct evhttp *http;
	struct event *stop_ev;
	struct event *sig_term, *sig_int;
	struct event *accept_retry_ev; /* re-enables accepting after EMFILE */
	struct event *deadline_ev;     /* fires at the first pre-auth deadline */
	struct event *completion_ev;   /* activated by the writer thread */
	struct event *resume_ev;       /* re-checks the queue while agents are paused */
	uint16_t agent_port, api_port;
	bool first_start;
	int64_t started_s;
	struct file_set *playbook_files; /* the playbooks pushed to agents, or NULL */
	struct server_access access;	 /* identities, policies, the access bundle (access.c) */

	struct conn_list preauth; /* handshake or first frame pending */
	struct conn_list closing; /* flushing a last frame */
	size_t n_conns;		  /* every open agent connection */
	uint64_t next_conn_id;
	struct hostmap hosts; /* host id -> established connection */

	pthread_mutex_t completion_lock;
	struct completion *completions; /* LIFO; reversed on the loop */
	bool throttled;			/* some connections are paused */
	struct conn **paused;		/* connections whose reading is paused */
	size_t n_paused, paused_alloc;

	_Atomic uint64_t counters[CTR_COUNT];
};

static inline void server_count(struct server *s, enum server_counter c)
{
	atomic_fetch_add_explicit(&s->counters[c], 1, memory_order_relaxed);
}

/* Monotonic milliseconds, and wall-clock seconds and nanoseconds. */
int64_t server_now_ms(void);
int64_t server_now_s(void);
int64_t server_now_ns(void);

/* datadir.c: first start (operator, client.yaml) once both listeners are bound. */
int datadir_prepare(const char *dir);
int datadir_first_start(struct server *s, bool *created);

/* listener.c */
int listener_open(struct server *s);
void listener_close(struct server *s);
struct evconnlistener *listener_bind(struct server *s, const char *addr,
				     void (*cb)(struct evconnlistener *, int, struct sockaddr *,
						int, void *),
				     void *arg, uint16_t *port);
/* Puts c on list (LIST_PREAUTH also arms its deadline), off any other. */
void conn_list_move(struct server *s, struct conn *c, enum conn_list_id list);

/* session.c: the connection state machine */
struct conn *conn_new(struct server *s, int fd);
/* Frees now: the socket closes, the host map forgets it. */
void conn_free(struct conn *c);
/* Sends f (when not NULL) then closes once it is flushed. */
void conn_close_after(struct conn *c, Frame *f);
/* Sends a Refusal with reason and message, then closes. */
void conn_refuse(struct conn *c, int reason, const char *message);
/* Queues one frame for the peer; on failure the connection is closed. Returns 0 or errno. */
int conn_send(struct conn *c, Frame *f);
/* Reads and dispatches buffered frames (after flow control lets it go on). */
void conn_process(struct conn *c);
/* Closes every connection (stop). */
void conns_close_all(struct server *s);

/* enroll.c */
void enroll_handle(struct conn *c, const Immune__V1__EnrollRequest *req);
/* hello.c */
void hello_handle(struct conn *c, const Immune__V1__Hello *hello);
/* Sends the access bundle (s->access.bundle) to c when agent_digest (NULL: none) differs;
 * agent_max_frame 0: not known. */
void hello_send_access(struct conn *c, const char *agent_digest, uint32_t agent_max_frame);
/* renew.c */
void renew_handle(struct conn *c, const Immune__V1__RenewRequest *req);
void heartbeat_handle(struct conn *c, const Immune__V1__Heartbeat *hb);
/* ingest.c */
void ingest_handle(struct conn *c, const Immune__V1__RecordBatch *batch);
int ingest_init(struct server *s);
void ingest_fini(struct server *s);
/* Drops flow-control bookkeeping of a connection being freed. */
void ingest_forget(struct server *s, struct conn *c);

/* api_commands.c: sends cmd (its id is set here) to host_id's connection. Returns 0,
 * -ENOTCONN (the host is not connected) or -EPIPE (the connection failed and was closed). */
int command_send(struct server *s, const char *host_id, Immune__V1__Command *cmd);

/* respond.c: response orchestration at the server (docs/response.md) */
/* Loads the playbooks (opt.playbooks_dir; none when NULL). Returns 0 or a negative errno
 * (logged). */
int respond_init(struct server *s);
void respond_fini(struct server *s);
/* Sends the action uid with op to host_id as Command{name "action"} (with the argument
 * dry_run=true when dry_run: the agent checks and describes, changes nothing). Returns 0,
 * -ENOTCONN or -EPIPE. */
int respond_send(struct server *s, const char *host_id, const char *uid,
		 const Immune__V1__Action *a, Immune__V1__ActionOp op, bool dry_run);
/* Runs the playbooks' server steps for alerts (n JSON texts) newly stored for host_id. */
void respond_alerts(struct server *s, const char *host_id, char *const *alerts, size_t n);
/* Runs the server steps of the check-triggered playbooks for checks of host_id that a scan
 * just found newly failing (each with a fix). */
struct store_failing_check;
void respond_failing_checks(struct server *s, const char *host_id,
			    const struct store_failing_check *checks, size_t n);

/* api.c */
int api_open(struct server *s);
void api_close(struct server *s);
