/* Network outputs: a bounded queue filled by the callers and one sender thread per output
 * that connects (TCP, or TLS 1.2+ verified against `ca` or the system store), reconnects
 * with backoff, and sends syslog frames (RFC 5424, octet counting) or webhook batches (HTTP
 * POST of a JSON array). A record leaves the queue only once sent. */
#include "detect/output_int.h"
#include "lib/buf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NET_CONNECT_MS 5000
#define NET_IO_TIMEOUT_S 10
#define NET_BACKOFF_MIN_MS 100
#define NET_BACKOFF_MAX_MS 30000
#define WEBHOOK_BODY_MAX (16u << 20)
#define HTTP_HEAD_MAX (16u * 1024)
#define HTTP_BODY_DRAIN_MAX (1u << 20)

struct net_record {
	char *json;
	size_t len;
	bool alert;
	uint64_t queued_ms;
};

struct output_net {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* records queued, stop asked, thread done */
	struct net_record *ring;
	size_t cap, head, count, bytes;
	bool stopping, abort, done;
	uint64_t deadline_ms;
	pthread_t thread;
	bool thread_started;
	int fd; /* published under lock so that stop can shut it down */

	/* sender thread only */
	SSL_CTX *ctx;
	SSL *ssl;
	bool keep_alive;
	char hostname[256];
	long pid;
};

/* ---- queue ---- */

void output_net_push(struct output *out, const char *json, size_t len, bool alert)
{
	struct output_net *nt = out->net;
	if (!nt)
		return;
	pthread_mutex_lock(&nt->lock);
	if (nt->stopping || nt->count >= nt->cap || nt->bytes + len > OUTPUT_QUEUE_BYTES) {
		pthread_mutex_unlock(&nt->lock);
		output_count(&out->dropped, 1);
		return;
	}
	struct net_record *r = &nt->ring[(nt->head + nt->count) % nt->cap];
	*r = (struct net_record){ .json = xstrndup(json, len),
				  .len = len,
				  .alert = alert,
				  .queued_ms = output_now_ms() };
	nt->count++;
	nt->bytes += len;
	pthread_cond_broadcast(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
}

static struct net_record *queue_at(struct output_net *nt, size_t i)
{
	return &nt->ring[(nt->head + i) % nt->cap];
}

static void queue_pop(struct output_net *nt, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct net_record *r = queue_at(nt, 0);
		nt->bytes -= r->len;
		free(r->json);
		r->json = NULL;
		nt->head = (nt->head + 1) % nt->cap;
		nt->count--;
	}
}

/* Waits on the condition until ms (CLOCK_MONOTONIC) at the latest. Called locked. */
static void wait_until(struct output_net *nt, uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };
	pthread_cond_timedwait(&nt->cond, &nt->lock, &ts);
}

static bool must_quit(struct output_net *nt)
{
	return nt->abort ||
	       (nt->stopping && (nt->count == 0 || output_now_ms() >= nt->deadline_ms));
}

/* ---- connections ---- */

static void conn_close(struct output *out, struct output_net *nt)
{
	if (nt->ssl) {
		SSL_shutdown(nt->ssl);
		SSL_free(nt->ssl);
		nt->ssl = NULL;
	}
	pthread_mutex_lock(&nt->lock);
	if (nt->fd >= 0)
		close(nt->fd);
	nt->fd = -1;
	pthread_mutex_unlock(&nt->lock);
	output_set_connected(out, false);
}

/* A connection the peer closed (or sent something unexpected on) is readable. */
static bool conn_alive(struct output_net *nt)
{
	struct pollfd p = { .fd = nt->fd, .events = POLLIN };
	return nt->fd >= 0 && poll(&p, 1, 0) == 0;
}

static int connect_addr(struct output_net *nt, const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int r = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	for (int waited = 0; r == -EINPROGRESS && waited < NET_CONNECT_MS; waited += 100) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (__atomic_load_n(&nt->abort, __ATOMIC_RELAXED))
			break;
		if (poll(&p, 1, 100) > 0) {
			int e = 0;
			socklen_t el = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			r = -e;
		}
	}
	if (r < 0) {
		close(fd);
		return r == -EINPROGRESS ? -ETIMEDOUT : r;
	}
	struct timeval tv = { .tv_sec = NET_IO_TIMEOUT_S };
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static int tls_start(struct output *out, struct output_net *nt)
{
	struct in6_addr a6;
	bool ip =
		inet_pton(AF_INET, out->host, &a6) == 1 || inet_pton(AF_INET6, out->host, &a6) == 1;
	nt->ssl = SSL_new(nt->ctx);
	if (!nt->ssl || !SSL_set_fd(nt->ssl, nt->fd))
		return -ENOMEM;
	if (!ip && !SSL_set_tlsext_host_name(nt->ssl, out->host))
		return -EINVAL;
	X509_VERIFY_PARAM *vp = SSL_get0_param(nt->ssl);
	if (ip ? !X509_VERIFY_PARAM_set1_ip_asc(vp, out->host) : !SSL_set1_host(nt->ssl, out->host))
		return -EINVAL;
	if (SSL_connect(nt->ssl) != 1) {
		ERR_clear_error();
		return -EPROTO;
	}
	return 0;
}

static int conn_open(struct output *out, struct output_net *nt)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res;
	if (nt->fd >= 0 && conn_alive(nt))
		return 0;
	conn_close(out, nt);
	if (getaddrinfo(out->host, out->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int fd = -ECONNREFUSED;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if ((fd = connect_addr(nt, ai)) >= 0)
			break;
	freeaddrinfo(res);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&nt->lock);
	nt->fd = fd;
	pthread_mutex_unlock(&nt->lock);
	int r = out->tls ? tls_start(out, nt) : 0;
	if (r < 0) {
		conn_close(out, nt);
		return r;
	}
	nt->keep_alive = true;
	output_set_connected(out, true);
	return 0;
}

static int conn_write(struct output_net *nt, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w;
		if (nt->ssl) {
			size_t done = 0;
			w = SSL_write_ex(nt->ssl, p, len, &done) == 1 ? (ssize_t)done : -1;
			if (w < 0)
				ERR_clear_error();
		} else {
			w = send(nt->fd, p, len, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -EPIPE;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads some bytes; returns the count, 0 at end of stream or a negative errno. */
static ssize_t conn_read(struct output_net *nt, char *p, size_t len)
{
	if (nt->ssl) {
		size_t got = 0;
		if (SSL_read_ex(nt->ssl, p, len, &got) == 1)
			return (ssize_t)got;
		int e = SSL_get_error(nt->ssl, 0);
		ERR_clear_error();
		return e == SSL_ERROR_ZERO_RETURN ? 0 : -EIO;
	}
	for (;;) {
		ssize_t r = recv(nt->fd, p, len, 0);
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
}

/* ---- syslog (RFC 5424 over TCP or TLS, octet counting) ---- */

/* OCSF severity_id -> syslog severity: 1 informational -> 6 info, 2 low -> 5 notice,
 * 3 medium -> 4 warning, 4 high -> 3 err, 5 critical -> 2 crit, 6 fatal -> 1 alert;
 * unknown, other or missing -> 5 notice. */
static unsigned syslog_severity(json_int_t severity_id)
{
	static const unsigned map[] = { 5, 6, 5, 4, 3, 2, 1 };
	return severity_id >= 0 && severity_id <= 6 ? map[severity_id] : 5;
}

/* RFC 3339 UTC with milliseconds, from the record's "time" (ms since the epoch) or now. */
static void syslog_timestamp(json_t *root, char *out, size_t n)
{
	json_t *t = json_object_get(root, "time");
	int64_t ms;
	if (json_is_integer(t) && json_integer_value(t) > 0 &&
	    json_integer_value(t) < INT64_C(253402300800000)) {
		ms = json_integer_value(t);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* One frame: "LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - JSON". */
static int syslog_frame(const struct output *out, const struct output_net *nt,
			const struct net_record *rec, struct buf *frame)
{
	char ts[96], head[512];
	json_t *root = json_loadb(rec->json, rec->len, 0, NULL);
	json_t *sev = json_object_get(root, "severity_id");
	unsigned pri = out->facility * 8 +
		       syslog_severity(json_is_integer(sev) ? json_integer_value(sev) : -1);
	syslog_timestamp(root, ts, sizeof(ts));
	json_decref(root);
	int hl = snprintf(head, sizeof(head), "<%u>1 %s %s %s %ld %s - ", pri, ts,
			  out->hostname ? out->hostname : nt->hostname,
			  out->app_name ? out->app_name : "immune-agent", nt->pid,
			  rec->alert ? "alert" : "event");
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -EMSGSIZE;
	buf_reset(frame);
	int r = buf_printf(frame, "%zu ", (size_t)hl + rec->len);
	r = r ?: buf_append(frame, head, (size_t)hl);
	return r ?: buf_append(frame, rec->json, rec->len);
}

static int syslog_send(struct output *out, struct output_net *nt, size_t n, size_t *sent)
{
	struct buf frame;
	int r = conn_open(out, nt);
	*sent = 0;
	buf_init(&frame, OUTPUT_RECORD_MAX + 1024);
	for (size_t i = 0; r == 0 && i < n; i++) {
		pthread_mutex_lock(&nt->lock);
		struct net_record rec = *queue_at(nt, i);
		pthread_mutex_unlock(&nt->lock);
		if (syslog_frame(out, nt, &rec, &frame) < 0) {
			(*sent)++; /* cannot be framed: skipped (counted as an error by the caller) */
			continue;
		}
		r = conn_write(nt, buf_str(&frame), buf_len(&frame));
		if (r == 0)
			(*sent)++;
	}
	buf_free(&frame);
	if (r < 0)
		conn_close(out, nt);
	return r;
}

/* ---- webhook (HTTP/1.1 POST of a JSON array) ---- */

static int webhook_request(const struct output *out, struct output_net *nt, size_t n, size_t *taken,
			   struct buf *req)
{
	struct buf body;
	int r = 0;
	buf_init(&body, WEBHOOK_BODY_MAX);
	buf_puts(&body, "[");
	*taken = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&nt->lock);
		struct net_record rec = *queue_at(nt, i);
		pthread_mutex_unlock(&nt->lock);
		if (buf_len(&body) + rec.len + 2 > WEBHOOK_BODY_MAX && i > 0)
			break;
		r = i ? buf_puts(&body, ",") : 0;
		r = r ?: buf_append(&body, rec.json, rec.len);
		if (r < 0)
			break;
		(*taken)++;
	}
	r = r ?: buf_puts(&body, "]");
	bool v6 = strchr(out->host, ':') != NULL;
	bool dflt = strcmp(out->port, out->tls ? "443" : "80") == 0;
	r = r
		    ?: buf_printf(req, "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n", out->url_path,
				  v6 ? "[" : "", out->host, v6 ? "]" : "", dflt ? "" : ":",
				  dflt ? "" : out->port);
	r = r
		    ?: buf_printf(req,
				  "User-Agent: immune-agent\r\nContent-Type: application/json\r\n"
				  "Content-Length: %zu\r\n",
				  buf_len(&body));
	for (size_t i = 0; r == 0 && out->headers && out->headers[i]; i += 2)
		r = buf_printf(req, "%s: %s\r\n", out->headers[i], out->headers[i + 1]);
	r = r ?: buf_puts(req, "\r\n");
	r = r ?: buf_append(req, buf_str(&body), buf_len(&body));
	buf_free(&body);
	return r;
}

/* The decimal value of a header (after its colon), up to the end of its line. */
static int header_number(const char *p, uint64_t *out)
{
	p += strspn(p, " \t");
	size_t n = strspn(p, "0123456789");
	if (n == 0 || n > 12 || (p[n] != '\r' && p[n] != ' ' && p[n] != '\t'))
		return -EBADMSG;
	_cleanup_free_ char *num = xstrndup(p, n);
	return parse_u64(num, 10, UINT64_MAX, out);
}

/* Reads the response head; returns the status or a negative errno. Clears keep_alive when
 * the connection cannot carry another request. */
static int webhook_response(struct output_net *nt)
{
	struct buf head;
	char chunk[4096];
	const char *end = NULL;
	int status = -EBADMSG;
	buf_init(&head, HTTP_HEAD_MAX);
	while (!(end = strstr(buf_str(&head), "\r\n\r\n"))) {
		ssize_t got = conn_read(nt, chunk, sizeof(chunk));
		if (got <= 0 || buf_append(&head, chunk, (size_t)got) < 0)
			goto out;
	}
	size_t extra = buf_len(&head) - (size_t)(end + 4 - buf_str(&head));
	const char *h = buf_str(&head);
	if (!(str_has_prefix(h, "HTTP/1.0 ") || str_has_prefix(h, "HTTP/1.1 ")) ||
	    strspn(h + 9, "0123456789") != 3 || h[9] < '1' || h[9] > '5')
		goto out;
	status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	/* Only a Content-Length body is drained; anything else ends the connection. */
	nt->keep_alive = false;
	const char *cl = strcasestr(buf_str(&head), "\r\ncontent-length:");
	uint64_t want = 0;
	if (cl && header_number(cl + 17, &want) == 0 && want <= HTTP_BODY_DRAIN_MAX &&
	    !strcasestr(buf_str(&head), "\r\nconnection: close") &&
	    !strcasestr(buf_str(&head), "\r\ntransfer-encoding:")) {
		want = want > extra ? want - extra : 0;
		while (want > 0) {
			ssize_t got =
				conn_read(nt, chunk, want < sizeof(chunk) ? want : sizeof(chunk));
			if (got <= 0)
				goto out;
			want -= (uint64_t)got;
		}
		nt->keep_alive = true;
	}
out:
	buf_free(&head);
	return status;
}

static int webhook_send(struct output *out, struct output_net *nt, size_t n, size_t *sent)
{
	struct buf req;
	size_t taken = 0;
	*sent = 0;
	int r = conn_open(out, nt);
	if (r < 0)
		return r;
	buf_init(&req, WEBHOOK_BODY_MAX + HTTP_HEAD_MAX + 64 * 1024);
	r = webhook_request(out, nt, n, &taken, &req);
	r = r ?: conn_write(nt, buf_str(&req), buf_len(&req));
	buf_free_secret(&req); /* it held the headers */
	int status = r == 0 ? webhook_response(nt) : r;
	if (status < 0 || !nt->keep_alive)
		conn_close(out, nt);
	if (status < 200 || status > 299)
		return status < 0 ? status : -EPROTO;
	*sent = taken;
	return 0;
}

/* ---- the sender thread ---- */

/* Waits (locked) until there is something to send; returns how many records to take, 0 to
 * quit. A webhook waits for a full batch or for its oldest record to be interval old. */
static size_t wait_for_work(struct output *out, struct output_net *nt)
{
	for (;;) {
		if (must_quit(nt))
			return 0;
		if (nt->count == 0) {
			pthread_cond_wait(&nt->cond, &nt->lock);
			continue;
		}
		if (out->type == OUTPUT_SYSLOG)
			return nt->count < 64 ? nt->count : 64;
		uint64_t due = queue_at(nt, 0)->queued_ms + out->interval_ms;
		if (nt->count >= out->batch || nt->stopping || output_now_ms() >= due)
			return nt->count < out->batch ? nt->count : out->batch;
		wait_until(nt, due);
	}
}

/* After a failure: waits for the backoff or until told to quit. Called locked. */
static void backoff(struct output_net *nt, unsigned ms)
{
	uint64_t until = output_now_ms() + ms;
	while (!nt->abort && !nt->stopping && output_now_ms() < until)
		wait_until(nt, until);
	if (nt->stopping && !nt->abort && output_now_ms() < nt->deadline_ms)
		wait_until(nt, output_now_ms() + 50 < nt->deadline_ms ? output_now_ms() + 50
								      : nt->deadline_ms);
}

static void *sender_main(void *arg)
{
	struct output *out = arg;
	struct output_net *nt = out->net;
	unsigned delay = NET_BACKOFF_MIN_MS;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&nt->lock);
	for (size_t n; (n = wait_for_work(out, nt)) > 0;) {
		size_t sent = 0;
		pthread_mutex_unlock(&nt->lock);
		int r = out->type == OUTPUT_SYSLOG ? syslog_send(out, nt, n, &sent)
						   : webhook_send(out, nt, n, &sent);
		pthread_mutex_lock(&nt->lock);
		queue_pop(nt, sent);
		output_count(&out->sent, sent);
		if (r == 0) {
			delay = NET_BACKOFF_MIN_MS;
			continue;
		}
		output_count(&out->errors, 1);
		backoff(nt, delay);
		delay = delay * 2 > NET_BACKOFF_MAX_MS ? NET_BACKOFF_MAX_MS : delay * 2;
	}
	nt->done = true;
	pthread_cond_broadcast(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
	conn_close(out, nt);
	return NULL;
}

static SSL_CTX *client_ctx(const char *ca, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	if (ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
	       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: cannot load CA certificates", ca ? ca : "system store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int output_net_start(struct output *out, char *err, size_t errlen)
{
	struct output_net *nt = xcalloc(1, sizeof(*nt));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nt->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&nt->lock, NULL);
	nt->fd = -1;
	nt->cap = out->queue_max;
	nt->ring = xcalloc(nt->cap, sizeof(*nt->ring));
	nt->pid = (long)getpid();
	if (gethostname(nt->hostname, sizeof(nt->hostname) - 1) < 0 || !nt->hostname[0])
		snprintf(nt->hostname, sizeof(nt->hostname), "-");
	for (char *c = nt->hostname; *c; c++)
		if (*c < 33 || *c > 126)
			*c = '-';
	nt->done = true; /* until the thread runs */
	out->net = nt;
	if (out->tls && !(nt->ctx = client_ctx(out->ca, err, errlen)))
		return -EINVAL;
	nt->done = false;
	int r = pthread_create(&nt->thread, NULL, sender_main, out);
	if (r != 0) {
		snprintf(err, errlen, "%s: cannot start a thread", out->stats_name);
		nt->done = true;
		return -r;
	}
	nt->thread_started = true;
	return 0;
}

void output_net_stop(struct output *out, uint64_t deadline_ms)
{
	struct output_net *nt = out->net;
	if (!nt)
		return;
	pthread_mutex_lock(&nt->lock);
	nt->stopping = true;
	nt->deadline_ms = deadline_ms;
	pthread_cond_broadcast(&nt->cond);
	while (!nt->done && output_now_ms() < deadline_ms)
		wait_until(nt, deadline_ms);
	if (!nt->done) {
		nt->abort = true; /* unblock a send or receive in progress */
		if (nt->fd >= 0)
			shutdown(nt->fd, SHUT_RDWR);
		pthread_cond_broadcast(&nt->cond);
	}
	pthread_mutex_unlock(&nt->lock);
	if (nt->thread_started)
		pthread_join(nt->thread, NULL);
	queue_pop(nt, nt->count);
	SSL_CTX_free(nt->ctx);
	free(nt->ring);
	pthread_cond_destroy(&nt->cond);
	pthread_mutex_destroy(&nt->lock);
	free(nt);
	out->net = NULL;
}
