/* HTTPS JSON API client (see api_client.h). One event base, TLS context and connection per
 * request: the immune command makes a few requests per run, and a fresh connection keeps
 * failures attributable (connect, TLS verification, HTTP). */
#include "cli/api_client.h"
#include "lib/buf.h"
#include "lib/ytree.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

static void set_err(struct api_error *err, int status, const char *fmt, ...) _printf_(3, 4);
static void set_err(struct api_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* text from the server or the file ends up on a terminal: no control bytes */
	for (char *p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* ---- configuration ---- */

char *api_config_path(const char *explicit_path)
{
	const char *env = getenv("IMMUNE_SERVER_CONFIG"), *home = getenv("HOME");

	if (explicit_path)
		return xstrdup(explicit_path);
	if (env && *env)
		return xstrdup(env);
	if (!home || !*home)
		return NULL;
	return xasprintf("%s/.config/immune/server.yaml", home);
}

void api_config_free(struct api_config *c)
{
	if (!c)
		return;
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->path);
	free(c->api);
	free(c->agents);
	free(c->ca);
	free(c->operator);
	free(c);
}

static int yaml_err(struct api_error *err, const char *path, const struct yerror *ye)
{
	if (ye->line)
		set_err(err, 0, "%s:%u:%u: %s", path, ye->line, ye->col, ye->msg);
	else
		set_err(err, 0, "%s: %s", path, ye->msg);
	return -EBADMSG;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[n] == '\0';
}

/* Checks the values; returns 0 or -EBADMSG with ye set at the offending node. */
static int check_values(const struct ynode *root, struct api_config *c, struct yerror *ye)
{
	const struct ynode *api = ynode_get(root, "api"), *token = ynode_get(root, "token");
	const struct ynode *agents = ynode_get(root, "agents");
	struct evhttp_uri *uri = evhttp_uri_parse(c->api);
	bool ok = uri && evhttp_uri_get_scheme(uri) &&
		  strcmp(evhttp_uri_get_scheme(uri), "https") == 0 && evhttp_uri_get_host(uri) &&
		  *evhttp_uri_get_host(uri);

	if (uri)
		evhttp_uri_free(uri);
	if (!ok)
		return yerror_at(ye, api,
				 "api must be an https:// URL such as "
				 "https://127.0.0.1:7444, not '%s'",
				 c->api);
	if (strlen(c->token) != 64 || !is_hex(c->token, 64))
		return yerror_at(ye, token,
				 "token must be the 64 hexadecimal characters of the operator "
				 "token (see the server's DATA/client.yaml)");
	if (c->agents && (!*c->agents || strchr(c->agents, ' ')))
		return yerror_at(ye, agents, "agents must be the HOST:PORT agents dial");
	return 0;
}

static char *resolve_ca(const char *path, const char *ca)
{
	const char *slash = strrchr(path, '/');

	if (ca[0] == '/' || !slash)
		return xstrdup(ca);
	return xasprintf("%.*s/%s", (int)(slash - path), path, ca);
}

int api_config_parse(const char *data, size_t len, const char *path, struct api_config **out,
		     struct api_error *err)
{
	static const char *const keys[] = { "api", "agents", "ca", "token", "operator", NULL };
	static const char *const required[] = { "api", "ca", "token" };
	struct ynode *root = NULL;
	struct yerror ye = { 0 };
	struct api_config *c;
	const char *v;
	int r;

	if (ytree_parse(data, len, &root, &ye) < 0)
		return yaml_err(err, path, &ye);
	if (!root) {
		set_err(err, 0, "%s: the file is empty (expected api, ca and token)", path);
		return -EBADMSG;
	}
	if (ynode_check_keys(root, keys, "server configuration", &ye) < 0) {
		ytree_free(root);
		return yaml_err(err, path, &ye);
	}
	for (size_t i = 0; i < ARRAY_SIZE(required); i++)
		if (!ynode_get(root, required[i])) {
			set_err(err, 0,
				"%s:%u:%u: missing '%s' (copy the server's DATA/client.yaml, which "
				"has api, agents, ca and token)",
				path, root->line, root->col, required[i]);
			ytree_free(root);
			return -EBADMSG;
		}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	for (size_t i = 0; keys[i]; i++) {
		const struct ynode *n = ynode_get(root, keys[i]);
		if (!n)
			continue;
		v = ynode_as_str(n, keys[i], &ye);
		if (!v || !*v) {
			if (v)
				yerror_at(&ye, n, "%s must not be empty", keys[i]);
			goto fail;
		}
		switch (i) {
		case 0: c->api = xstrdup(v); break;
		case 1: c->agents = xstrdup(v); break;
		case 2: c->ca = resolve_ca(path, v); break;
		case 3: c->token = xstrdup(v); break;
		default: c->operator= xstrdup(v); break;
		}
	}
	if (check_values(root, c, &ye) < 0)
		goto fail;
	ytree_free(root);
	*out = c;
	return 0;
fail:
	r = yaml_err(err, path, &ye);
	api_config_free(c);
	ytree_free(root);
	return r;
}

int api_config_load(const char *path, struct api_config **out, struct api_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct buf b;
	char chunk[4096];
	size_t n;
	int r = 0;

	if (!f) {
		r = -errno;
		set_err(err, 0,
			"cannot read the server configuration %s: %s (pass --server-config "
			"DATA/client.yaml, set IMMUNE_SERVER_CONFIG, or copy the server's "
			"DATA/client.yaml to ~/.config/immune/server.yaml)",
			path, strerror(-r));
		return r;
	}
	buf_init(&b, API_CONFIG_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0) {
			set_err(err, 0, "%s: larger than %u bytes", path, API_CONFIG_MAX);
			buf_free_secret(&b);
			return -EFBIG;
		}
	if (ferror(f)) {
		set_err(err, 0, "reading %s: %s", path, strerror(EIO));
		buf_free_secret(&b);
		return -EIO;
	}
	r = api_config_parse(buf_str(&b), buf_len(&b), path, out, err);
	buf_free_secret(&b);
	return r;
}

/* ---- requests ---- */

struct request {
	struct event_base *base;
	struct evhttp_connection *evcon;
	struct buf body;
	int status;
	bool answered, too_big, timeout;
	long verify_err; /* X509_V_* of the first verification failure, 0 if none */
	unsigned long ssl_err;
	int sock_err;
};

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct request *rq = ssl ? SSL_get_app_data(ssl) : NULL;

	if (!ok && rq && !rq->verify_err)
		rq->verify_err = X509_STORE_CTX_get_error(x);
	return ok;
}

static void collect_ssl_errors(struct request *rq)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(rq->evcon);
	unsigned long e;

	while (bev && (e = bufferevent_get_openssl_error(bev)) != 0)
		if (!rq->ssl_err)
			rq->ssl_err = e;
}

static void error_cb(enum evhttp_request_error e, void *arg)
{
	struct request *rq = arg;

	rq->sock_err = errno;
	if (e == EVREQ_HTTP_TIMEOUT)
		rq->timeout = true;
	else if (e == EVREQ_HTTP_DATA_TOO_LONG)
		rq->too_big = true;
	collect_ssl_errors(rq);
}

static void done_cb(struct evhttp_request *req, void *arg)
{
	struct request *rq = arg;

	collect_ssl_errors(rq);
	if (req && evhttp_request_get_response_code(req) > 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		unsigned char *p = evbuffer_pullup(in, -1);
		rq->status = evhttp_request_get_response_code(req);
		rq->answered = true;
		if (n && (!p || buf_append(&rq->body, p, n) < 0))
			rq->too_big = true;
	}
	event_base_loopbreak(rq->base);
}

static bool is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* After a failure without an answer: a plain TCP connect tells why the server could not be
 * reached (0 when it can be). */
static int probe_connect(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char serv[16];
	int r, e = -EHOSTUNREACH;

	snprintf(serv, sizeof(serv), "%d", port);
	r = getaddrinfo(host, serv, &hints, &ai);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		_cleanup_close_ int fd =
			socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t sl = sizeof(e);
		if (fd < 0) {
			e = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			e = 0;
			break;
		}
		if (errno != EINPROGRESS) {
			e = -errno;
			continue;
		}
		if (poll(&p, 1, 5000) <= 0) {
			e = -ETIMEDOUT;
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
			e = errno;
		e = -e;
		if (e == 0)
			break;
	}
	freeaddrinfo(ai);
	return e;
}

static SSL_CTX *client_ctx(const struct api_config *cfg, struct api_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		set_err(err, 0, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1) {
		set_err(err, 0,
			"cannot load the CA certificate %s named by 'ca' in %s: %s (it is the "
			"server's DATA/ca.crt)",
			cfg->ca, cfg->path,
			access(cfg->ca, R_OK) == 0 ? "not a PEM certificate" : strerror(errno));
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return ctx;
}

static int classify_failure(struct request *rq, const struct api_config *cfg, const char *host,
			    int port, struct api_error *err)
{
	int r;

	if (rq->verify_err) {
		set_err(err, 0,
			"TLS verification of the server at %s failed: %s (is 'ca' in %s the CA "
			"of this server, and does its certificate name %s?)",
			cfg->api, X509_verify_cert_error_string(rq->verify_err), cfg->path, host);
		return -EPERM;
	}
	if (rq->too_big) {
		set_err(err, 0, "the answer of %s is larger than %u MiB", cfg->api,
			API_ANSWER_MAX >> 20);
		return -EMSGSIZE;
	}
	if (rq->timeout) {
		set_err(err, 0, "no answer from the server at %s within %d s", cfg->api,
			API_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	if (rq->ssl_err && ERR_GET_LIB(rq->ssl_err) != 0) {
		char e[256];
		ERR_error_string_n(rq->ssl_err, e, sizeof(e));
		set_err(err, 0, "TLS handshake with the server at %s failed: %s", cfg->api, e);
		return -EPROTO;
	}
	r = probe_connect(host, port);
	if (r == 0) {
		set_err(err, 0,
			"the server at %s closed the connection without an answer (is 'api' in %s "
			"the API address of immune-server, not the agents' port?)",
			cfg->api, cfg->path);
		return -ECONNRESET;
	}
	set_err(err, 0,
		"cannot reach the server at %s: %s (immune-server must be running and serving "
		"its API there; check 'api' in %s)",
		cfg->api, strerror(-r), cfg->path);
	return r;
}

static int parse_answer(struct request *rq, const struct api_config *cfg, const char *method,
			const char *path, json_t **answer, struct api_error *err)
{
	json_error_t je;
	json_t *j = NULL;
	const char *text;

	if (buf_len(&rq->body) > 0)
		j = json_loadb(buf_str(&rq->body), buf_len(&rq->body), 0, &je);
	text = json_string_value(json_object_get(j, "error"));
	if (rq->status >= 200 && rq->status < 300) {
		if (buf_len(&rq->body) == 0)
			j = json_object();
		if (!json_is_object(j)) {
			json_decref(j);
			set_err(err, rq->status,
				"the answer to %s %s from %s is not a JSON object (is it "
				"immune-server's API?)",
				method, path, cfg->api);
			return -EPROTO;
		}
		*answer = j;
		return 0;
	}
	if (rq->status == 401) {
		set_err(err, 401,
			"the server at %s refused the token in %s (401%s%s): use the token of the "
			"server's DATA/client.yaml",
			cfg->api, cfg->path, text ? ": " : "", text ? text : "");
		json_decref(j);
		return -EACCES;
	}
	set_err(err, rq->status, "%s %s: the server answered %d: %s", method, path, rq->status,
		text ? text : "(no error text)");
	json_decref(j);
	if (rq->status == 404)
		return -ENOENT;
	return rq->status >= 500 ? -EIO : -EINVAL;
}

static enum evhttp_cmd_type method_type(const char *m)
{
	if (strcmp(m, "POST") == 0)
		return EVHTTP_REQ_POST;
	if (strcmp(m, "DELETE") == 0)
		return EVHTTP_REQ_DELETE;
	if (strcmp(m, "PUT") == 0)
		return EVHTTP_REQ_PUT;
	if (strcmp(m, "PATCH") == 0)
		return EVHTTP_REQ_PATCH;
	return EVHTTP_REQ_GET;
}

static int send_request(struct request *rq, const struct api_config *cfg, const char *authority,
			const char *method, const char *path, const json_t *body,
			struct api_error *err)
{
	struct evhttp_request *req = evhttp_request_new(done_cb, rq);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	_cleanup_free_ char *auth = xasprintf("Bearer %s", cfg->token);
	int r;

	evhttp_request_set_error_cb(req, error_cb);
	evhttp_add_header(h, "Host", authority);
	evhttp_add_header(h, "Authorization", auth);
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "Connection", "close");
	OPENSSL_cleanse(auth, strlen(auth));
	if (body) {
		_cleanup_free_ char *s = json_dumps(body, JSON_COMPACT);
		if (!s) {
			evhttp_request_free(req);
			set_err(err, 0, "cannot encode the request");
			return -EINVAL;
		}
		char len[24];
		/* libevent adds it for POST and PUT only; PATCH needs it too */
		snprintf(len, sizeof(len), "%zu", strlen(s));
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_add(evhttp_request_get_output_buffer(req), s, strlen(s));
	}
	r = evhttp_make_request(rq->evcon, req, method_type(method), path);
	if (r < 0) {
		set_err(err, 0, "cannot send %s %s to %s", method, path, cfg->api);
		return -EIO;
	}
	return 0;
}

/* api_request, or with raw set: a 2xx answer's body is appended to raw as it is. */
static int request_do(const struct api_config *cfg, const char *method, const char *path,
		      const json_t *body, json_t **answer, struct buf *raw, struct api_error *err)
{
	struct evhttp_uri *uri = evhttp_uri_parse(cfg->api);
	struct request rq = { 0 };
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	struct bufferevent *bev;
	_cleanup_free_ char *host = NULL, *authority = NULL;
	const char *h;
	size_t hn;
	int port, r;

	*err = (struct api_error){ 0 };
	if (!uri || !evhttp_uri_get_host(uri)) {
		set_err(err, 0, "%s: api is not a URL: %s", cfg->path, cfg->api);
		r = -EINVAL;
		goto out;
	}
	/* an IPv6 literal comes bracketed: the brackets stay in Host, not in the address */
	h = evhttp_uri_get_host(uri);
	hn = strlen(h);
	port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 443;
	host = hn > 2 && h[0] == '[' && h[hn - 1] == ']' ? xstrndup(h + 1, hn - 2) : xstrdup(h);
	authority = xasprintf("%s:%d", h, port);
	ctx = client_ctx(cfg, err);
	if (!ctx) {
		r = -ENOENT;
		goto out;
	}
	ssl = SSL_new(ctx);
	SSL_set_app_data(ssl, &rq);
	if (is_ip(host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
	buf_init(&rq.body, API_ANSWER_MAX);
	rq.base = event_base_new();
	bev = bufferevent_openssl_socket_new(rq.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!rq.base || !bev) {
		set_err(err, 0, "cannot set up the connection to %s", cfg->api);
		if (!bev)
			SSL_free(ssl);
		r = -ENOMEM;
		goto out;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	rq.evcon = evhttp_connection_base_bufferevent_new(rq.base, NULL, bev, host,
							  (unsigned short)port);
	evhttp_connection_set_timeout(rq.evcon, API_TIMEOUT_S);
	evhttp_connection_set_max_body_size(rq.evcon, API_ANSWER_MAX);
	evhttp_connection_set_retries(rq.evcon, 0);
	r = send_request(&rq, cfg, authority, method, path, body, err);
	if (r < 0)
		goto out;
	event_base_dispatch(rq.base);
	if (!rq.answered)
		r = classify_failure(&rq, cfg, host, port, err);
	else if (rq.too_big)
		r = classify_failure(&rq, cfg, host, port, err);
	else if (raw && rq.status >= 200 && rq.status < 300)
		r = buf_append(raw, buf_str(&rq.body), buf_len(&rq.body));
	else
		r = parse_answer(&rq, cfg, method, path, answer, err);
out:
	if (rq.evcon)
		evhttp_connection_free(rq.evcon);
	if (rq.base)
		event_base_free(rq.base);
	SSL_CTX_free(ctx);
	buf_free(&rq.body);
	if (uri)
		evhttp_uri_free(uri);
	ERR_clear_error();
	return r;
}

int api_request(const struct api_config *cfg, const char *method, const char *path,
		const json_t *body, json_t **answer, struct api_error *err)
{
	return request_do(cfg, method, path, body, answer, NULL, err);
}

int api_request_text(const struct api_config *cfg, const char *path, struct buf *out,
		     struct api_error *err)
{
	json_t *unused = NULL;
	int r = request_do(cfg, "GET", path, NULL, &unused, out, err);

	json_decref(unused);
	return r;
}

char *api_escape(const char *s)
{
	char *e = evhttp_uriencode(s, -1, 0);
	char *out = xstrdup(e ? e : "");

	free(e);
	return out;
}
