/* immune-server's life cycle: set-up, the loop, stop, tear-down (see server.h). */
#include "server/server_int.h"
#include "server/access_grants.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "store/store.h"
#include "trust/pki.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <time.h>

int64_t server_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t server_now_s(void)
{
	return (int64_t)time(NULL);
}

int64_t server_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_result;

static void threads_init(void)
{
	threads_result = evthread_use_pthreads();
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	listener_close(s);
	api_close(s);
	conns_close_all(s);
	event_base_loopbreak(s->base);
}

static void apply_defaults(struct server_options *o)
{
	if (!o->listen_addr)
		o->listen_addr = "0.0.0.0:7443";
	if (!o->api_addr)
		o->api_addr = "127.0.0.1:7444";
	if (!o->cert_lifetime_s)
		o->cert_lifetime_s = 24 * 3600;
	if (!o->heartbeat_s)
		o->heartbeat_s = 30;
	if (!o->preauth_deadline_ms)
		o->preauth_deadline_ms = 10000;
	if (!o->ingest_limit_bytes)
		o->ingest_limit_bytes = 64u * 1024 * 1024;
}

static int open_trust(struct server *s)
{
	int r = pki_ca_open(s->data_dir, s->opt.names, &s->ca);
	if (r < 0)
		return log_errno(r, "opening the certificate authority in %s", s->data_dir);
	s->agent_ctx = tls_server_ctx(pki_ca_cert(s->ca), pki_ca_server_cert(s->ca),
				      pki_ca_server_key(s->ca));
	s->api_ctx = tls_server_ctx(pki_ca_cert(s->ca), pki_ca_server_cert(s->ca),
				    pki_ca_server_key(s->ca));
	if (!s->agent_ctx || !s->api_ctx)
		return log_errno(-EPROTO, "setting up TLS with the server certificate");
	return 0;
}

static int open_store(struct server *s)
{
	_cleanup_free_ char *url = xasprintf("sqlite:%s/immune.db", s->data_dir);
	int r = store_open(url, &s->store);
	if (r < 0)
		return log_errno(r, "opening the store %s", url);
	if (s->opt.retention_s >= 0)
		store_retention_set(s->store, s->opt.retention_s);
	if (s->opt.catalog_dir) {
		r = file_set_load(s->opt.catalog_dir, &s->catalog);
		if (r < 0)
			return log_errno(r, "loading the catalog from %s", s->opt.catalog_dir);
	}
	if (s->opt.rules_dir) {
		r = file_set_load(s->opt.rules_dir, &s->rules);
		if (r < 0)
			return log_errno(r, "loading the detection rules from %s",
					 s->opt.rules_dir);
		log_info("detection rules for agents: %zu files from %s", s->rules->n,
			 s->opt.rules_dir);
	}
	if (s->opt.playbooks_dir) {
		r = file_set_load(s->opt.playbooks_dir, &s->playbook_files);
		if (r < 0)
			return log_errno(r, "loading the playbooks from %s", s->opt.playbooks_dir);
		log_info("response playbooks for agents: %zu files from %s", s->playbook_files->n,
			 s->opt.playbooks_dir);
	}
	return 0;
}

static int add_events(struct server *s)
{
	s->stop_ev = event_new(s->base, -1, 0, on_stop, s);
	if (!s->stop_ev)
		return -ENOMEM;
	if (!s->opt.handle_signals)
		return 0;
	s->sig_term = evsignal_new(s->base, SIGTERM, on_stop, s);
	s->sig_int = evsignal_new(s->base, SIGINT, on_stop, s);
	if (!s->sig_term || !s->sig_int || event_add(s->sig_term, NULL) < 0 ||
	    event_add(s->sig_int, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static int server_setup(struct server *s)
{
	int r = datadir_prepare(s->data_dir);
	if (r < 0)
		return log_errno(r, "creating the data directory %s", s->data_dir);
	if ((r = open_trust(s)) < 0 || (r = open_store(s)) < 0)
		return r;
	if ((r = respond_init(s)) < 0)
		return r;
	if ((r = access_init(s)) < 0 || (r = access_grants_init(s)) < 0)
		return r;
	if ((r = ingest_init(s)) < 0)
		return log_errno(r, "setting up the ingest queue");
	if ((r = listener_open(s)) < 0 || (r = api_open(s)) < 0)
		return r;
	if ((r = datadir_first_start(s, &s->first_start)) < 0)
		return log_errno(r, "creating the operator and %s/client.yaml", s->data_dir);
	if ((r = add_events(s)) < 0)
		return log_errno(r, "setting up the event loop");
	return 0;
}

int server_new(const struct server_options *opt, struct server **out)
{
	if (!opt->data_dir)
		return -EINVAL;
	pthread_once(&threads_once, threads_init);
	if (threads_result < 0)
		return log_errno(-ENOSYS, "libevent without thread support");
	struct server *s = xcalloc(1, sizeof(*s));
	s->opt = *opt;
	apply_defaults(&s->opt);
	s->data_dir = xstrdup(opt->data_dir);
	s->started_s = server_now_s();
	s->next_conn_id = 1;
	pthread_mutex_init(&s->completion_lock, NULL);
	s->base = event_base_new();
	if (!s->base) {
		server_free(s);
		return log_errno(-ENOMEM, "creating the event loop");
	}
	int r = server_setup(s);
	if (r < 0) {
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int server_run(struct server *s)
{
	return event_base_dispatch(s->base) < 0 ? -EIO : 0;
}

void server_stop(struct server *s)
{
	event_active(s->stop_ev, EV_READ, 0);
}

static void free_event(struct event **e)
{
	if (*e)
		event_free(*e);
	*e = NULL;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	listener_close(s);
	api_close(s);
	conns_close_all(s);
	store_close(s->store); /* commits what is queued; completions land in the list */
	s->store = NULL;
	/* bufferevents freed with callbacks still deferred finish on the loop: let it run */
	for (int i = 0; s->base && i < 4; i++)
		event_base_loop(s->base, EVLOOP_NONBLOCK);
	ingest_fini(s);
	free_event(&s->stop_ev);
	free_event(&s->deadline_ev);
	free_event(&s->accept_retry_ev);
	free_event(&s->sig_term);
	free_event(&s->sig_int);
	file_set_free(s->playbook_files);
	file_set_free(s->catalog);
	file_set_free(s->rules);
	respond_fini(s);
	access_grants_fini(s);
	access_fini(s);
	SSL_CTX_free(s->agent_ctx);
	SSL_CTX_free(s->api_ctx);
	pki_ca_free(s->ca);
	if (s->base)
		event_base_free(s->base);
	hostmap_free(&s->hosts);
	pthread_mutex_destroy(&s->completion_lock);
	free(s->data_dir);
	free(s);
}

uint16_t server_agent_port(const struct server *s)
{
	return s->agent_port;
}

uint16_t server_api_port(const struct server *s)
{
	return s->api_port;
}

bool server_first_start(const struct server *s)
{
	return s->first_start;
}

uint64_t server_counter(const struct server *s, enum server_counter c)
{
	return atomic_load_explicit(&s->counters[c], memory_order_relaxed);
}

size_t server_agents_connected(const struct server *s)
{
	return s->hosts.n;
}

static const char *const counter_names[CTR_COUNT] = {
	[CTR_ENROLL_OK] = "enroll_ok",
	[CTR_ENROLL_BAD_TOKEN] = "enroll_bad_token",
	[CTR_ENROLL_TOKEN_EXPIRED] = "enroll_token_expired",
	[CTR_ENROLL_TOKEN_USED_UP] = "enroll_token_used_up",
	[CTR_ENROLL_BAD_CSR] = "enroll_bad_csr",
	[CTR_CONNECT_OK] = "connect_ok",
	[CTR_CONNECT_REVOKED] = "connect_revoked",
	[CTR_CONNECT_IDENTITY_MISMATCH] = "connect_identity_mismatch",
	[CTR_CONNECT_UNKNOWN_HOST] = "connect_unknown_host",
	[CTR_TLS_HANDSHAKE_FAILED] = "tls_handshake_failed",
	[CTR_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[CTR_FRAME_TOO_LARGE] = "frame_too_large",
	[CTR_FRAME_GARBAGE] = "frame_garbage",
	[CTR_PROTOCOL_VIOLATION] = "protocol_violation",
	[CTR_BATCHES_THROTTLED] = "batches_throttled",
	[CTR_IDLE_TIMEOUT] = "idle_timeout",
	[CTR_CONNECTIONS_REFUSED] = "connections_refused",
	[CTR_INGEST_ERRORS] = "ingest_errors",
	[CTR_RENEW_OK] = "renew_ok",
	[CTR_RENEW_REFUSED] = "renew_refused",
	[CTR_REPLACED] = "connections_replaced",
	[CTR_REVOKE_DISCONNECTED] = "revoke_disconnected",
	[CTR_COMMANDS_SENT] = "commands_sent",
};

const char *server_counter_name(enum server_counter c)
{
	return (unsigned)c < CTR_COUNT ? counter_names[c] : "unknown";
}
