#include "agent/enroll.h"
#include "config.h"
#include "lib/buf.h"
#include "lib/tls.h"
#include "proto/msg.h"
#include "trust/pki.h"
#include "trust/token.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

const char *agent_refusal_text(int reason)
{
	switch (reason) {
	case IMMUNE__V1__REFUSAL__REASON__REASON_BAD_TOKEN:
		return "the server does not accept this join token (mistyped, or revoked); create "
		       "a new one with 'immune token create'";
	case IMMUNE__V1__REFUSAL__REASON__REASON_TOKEN_EXPIRED:
		return "the join token has expired; create a new one with 'immune token create'";
	case IMMUNE__V1__REFUSAL__REASON__REASON_TOKEN_USED_UP:
		return "the join token was already used as many times as it allows; create a new "
		       "one with 'immune token create --uses N'";
	case IMMUNE__V1__REFUSAL__REASON__REASON_HOST_REVOKED:
		return "this host was removed from the fleet ('immune host remove'); enroll it "
		       "again with a new token to bring it back";
	case IMMUNE__V1__REFUSAL__REASON__REASON_IDENTITY_MISMATCH:
		return "the host certificate does not match the host id this agent claims; "
		       "re-enroll the agent";
	case IMMUNE__V1__REFUSAL__REASON__REASON_PROTOCOL:
		return "the server found a protocol error in what the agent sent";
	case IMMUNE__V1__REFUSAL__REASON__REASON_VERSION:
		return "the server does not speak this agent's protocol version; upgrade the agent";
	case IMMUNE__V1__REFUSAL__REASON__REASON_OVERLOADED:
		return "the server is overloaded; the agent will try again later";
	case IMMUNE__V1__REFUSAL__REASON__REASON_BAD_CSR:
		return "the server refused the certificate request";
	default: return "the server refused the agent without saying why";
	}
}

static int fail(struct enroll_result *res, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(struct enroll_result *res, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return r;
}

static int connect_one(const struct addrinfo *ai, unsigned timeout_s)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto out;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n;
		do
			n = poll(&p, 1, (int)timeout_s * 1000);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			r = n == 0 ? -ETIMEDOUT : -errno;
			goto out;
		}
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			r = err ? -err : -errno;
			goto out;
		}
	}
	int fl = fcntl(fd, F_GETFL);
	struct timeval tv = { .tv_sec = timeout_s };
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		r = -errno;
out:
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int agent_tcp_connect(const char *host, uint16_t port, unsigned timeout_s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *ai = NULL;
	char ports[8];
	snprintf(ports, sizeof(ports), "%u", port);
	int g = getaddrinfo(host, ports, &hints, &ai);
	if (g != 0)
		return g == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	int r = -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		r = connect_one(a, timeout_s);
		if (r >= 0)
			break;
	}
	freeaddrinfo(ai);
	return r;
}

/* ---- one request, one answer over blocking TLS ---- */

static int ssl_write_all(SSL *ssl, const void *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t w = 0;
		if (SSL_write_ex(ssl, (const char *)p + done, n - done, &w) <= 0)
			return -EIO;
		done += w;
	}
	return 0;
}

static int ssl_read_all(SSL *ssl, void *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t got = 0;
		if (SSL_read_ex(ssl, (char *)p + done, n - done, &got) <= 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -ECONNRESET;
		done += got;
	}
	return 0;
}

static int exchange(SSL *ssl, Frame *req, Frame **resp)
{
	struct buf out;
	buf_init(&out, FRAME_MAX + FRAME_HEADER_SIZE);
	int r = msg_encode(req, &out);
	if (r == 0)
		r = ssl_write_all(ssl, buf_str(&out), buf_len(&out));
	buf_free(&out);
	if (r < 0)
		return r;
	unsigned char hdr[FRAME_HEADER_SIZE];
	size_t body;
	r = ssl_read_all(ssl, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	if (frame_peek(hdr, sizeof(hdr), FRAME_MAX_PREAUTH * 4, &body) != 1)
		return -EPROTO;
	_cleanup_free_ unsigned char *p = xmalloc(body);
	r = ssl_read_all(ssl, p, body);
	if (r < 0)
		return r;
	/* The server was authenticated by the pin: decode with the post-authentication rules
	 * (the pre-authentication ones accept only what an agent sends). */
	return msg_decode(p, body, true, resp) < 0 ? -EPROTO : 0;
}

static bool is_ip(const char *host)
{
	unsigned char b[16];
	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

static int tls_exchange(const char *server, const char *pin, unsigned timeout_s, Frame *req,
			Frame **resp, X509 **pinned, struct enroll_result *res)
{
	char host[256];
	uint16_t port;
	if (agent_split_server(server, host, sizeof(host), &port) < 0)
		return fail(res, -EINVAL, "invalid server address '%s' (expected HOST:PORT)",
			    server);
	SSL_CTX *ctx = tls_enroll_ctx(pin);
	if (!ctx)
		return fail(res, -ENOMEM, "cannot create the TLS context");
	int fd = agent_tcp_connect(host, port, timeout_s);
	if (fd < 0) {
		SSL_CTX_free(ctx);
		return fail(res, fd, "cannot connect to %s: %s", server, strerror(-fd));
	}
	SSL *ssl = SSL_new(ctx);
	int r = 0;
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		r = fail(res, -ENOMEM, "cannot create the TLS connection");
		goto out;
	}
	if (!is_ip(host))
		SSL_set_tlsext_host_name(ssl, host);
	if (SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);
		if (v != X509_V_OK)
			r = fail(
				res, -EKEYREJECTED,
				"the server at %s does not present the CA this token pins (%s): "
				"wrong server address, a token from another fleet, or interception",
				server, X509_verify_cert_error_string(v));
		else
			r = fail(res, -ECONNRESET, "TLS handshake with %s failed", server);
		goto out;
	}
	*pinned = tls_enroll_pinned_ca(ssl);
	if (!*pinned) {
		r = fail(res, -EKEYREJECTED, "the server at %s did not present the pinned CA",
			 server);
		goto out;
	}
	r = exchange(ssl, req, resp);
	if (r < 0) {
		X509_free(*pinned);
		*pinned = NULL;
		fail(res, r, "no valid answer from %s: %s", server, strerror(-r));
	}
out:
	ERR_clear_error();
	if (ssl) {
		if (r == 0)
			SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	SSL_CTX_free(ctx);
	return r;
}

/* ---- building the request, checking and saving the answer ---- */

static int check_answer(const Frame *f, EVP_PKEY *key, const char *pin, X509 **cert, X509 **ca,
			struct enroll_result *res)
{
	if (f->body_case == IMMUNE__V1__FRAME__BODY_REFUSAL) {
		res->refusal = f->refusal->reason;
		return fail(res, -EPERM, "enrollment refused: %s%s%s",
			    agent_refusal_text(f->refusal->reason),
			    *f->refusal->message ? " (server: " : "",
			    *f->refusal->message ? f->refusal->message : "");
	}
	if (f->body_case != IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE)
		return fail(res, -EPROTO, "the server answered with '%s' instead of an enrollment",
			    msg_body_name(f));
	const Immune__V1__EnrollResponse *e = f->enroll_response;
	char cn[PKI_HOST_ID_MAX + 1], capin[PKI_PIN_LEN + 1];
	if (!*e->host_id || strlen(e->host_id) >= sizeof(res->host_id))
		return fail(res, -EPROTO, "the server sent an invalid host id");
	if (pki_cert_from_der(e->cert_der.data, e->cert_der.len, cert) < 0)
		return fail(res, -EPROTO, "the server sent an unreadable host certificate");
	if (pki_cert_from_der(e->ca_der.data, e->ca_der.len, ca) < 0)
		return fail(res, -EPROTO, "the server sent an unreadable CA certificate");
	if (X509_check_private_key(*cert, key) != 1 || pki_cert_cn(*cert, cn, sizeof(cn)) < 0 ||
	    strcmp(cn, e->host_id) != 0)
		return fail(res, -EPROTO, "the host certificate does not match the request");
	if (pki_cert_pin(*ca, capin) < 0 || strcmp(capin, pin) != 0)
		return fail(res, -EKEYREJECTED, "the CA the server sent does not match the pin");
	snprintf(res->host_id, sizeof(res->host_id), "%s", e->host_id);
	return 0;
}

static int save_identity(const char *dir, EVP_PKEY *key, X509 *cert, X509 *ca,
			 struct agent_config *cfg, struct enroll_result *res)
{
	_cleanup_free_ char *kp = agent_state_path(dir, "host.key");
	_cleanup_free_ char *cp = agent_state_path(dir, "host.crt");
	_cleanup_free_ char *ap = agent_state_path(dir, "ca.crt");
	int r = pki_key_save(kp, key);
	if (r == 0)
		r = pki_cert_save(cp, cert);
	if (r == 0)
		r = pki_cert_save(ap, ca);
	if (r == 0)
		r = agent_config_save(dir, cfg);
	if (r < 0)
		return fail(res, r, "cannot save the identity in %s: %s", dir, strerror(-r));
	return 0;
}

static void labels_to_proto(const struct agent_config *cfg, Immune__V1__Label *store,
			    Immune__V1__Label **ptrs)
{
	for (size_t i = 0; i < cfg->n_labels; i++) {
		immune__v1__label__init(&store[i]);
		store[i].key = cfg->labels[i].key;
		store[i].value = cfg->labels[i].value;
		ptrs[i] = &store[i];
	}
}

static int prepare_config(const struct enroll_options *o, struct agent_config *cfg,
			  struct enroll_result *res)
{
	char err[512];
	struct agent_config old = { 0 };
	bool have_old = agent_config_load(o->state_dir, &old, err, sizeof(err)) == 0;
	cfg->server = xstrdup(o->server);
	if (o->labels) {
		for (size_t i = 0; o->labels[i]; i++)
			if (agent_config_add_label(cfg, o->labels[i]) < 0) {
				agent_config_free(&old);
				return fail(res, -EINVAL,
					    "invalid label '%s' (expected KEY=VALUE, KEY of "
					    "letters, digits, '_', '.', '-')",
					    o->labels[i]);
			}
	} else if (have_old) {
		cfg->labels = old.labels;
		cfg->n_labels = old.n_labels;
		old.labels = NULL;
		old.n_labels = 0;
	}
	agent_config_free(&old);
	return 0;
}

int agent_enroll(const struct enroll_options *o, struct enroll_result *res)
{
	*res = (struct enroll_result){ 0 };
	struct join_token tok;
	if (token_parse(o->token, &tok) < 0)
		return fail(res, -EINVAL,
			    "the token is malformed (expected imt1.ID.SECRET.PIN as printed by "
			    "'immune token create')");
	int r = agent_state_init(o->state_dir);
	if (r < 0) {
		token_wipe(&tok);
		return fail(res, r, "cannot create the state directory %s: %s", o->state_dir,
			    strerror(-r));
	}
	struct agent_config cfg = { 0 };
	char machine_id[AGENT_MACHINE_ID_MAX + 1];
	EVP_PKEY *key = NULL;
	unsigned char *csr = NULL;
	size_t csr_len = 0;
	Frame *resp = NULL;
	X509 *pinned = NULL, *cert = NULL, *ca = NULL;

	r = prepare_config(o, &cfg, res);
	if (r < 0)
		goto out;
	r = agent_machine_id(o->state_dir, o->machine_id_file, machine_id);
	if (r < 0) {
		fail(res, r, "cannot save the machine id in %s: %s", o->state_dir, strerror(-r));
		goto out;
	}
	if ((r = pki_key_generate(&key)) < 0 ||
	    (r = pki_csr_create(key, "immune-agent", &csr, &csr_len)) < 0) {
		fail(res, r, "cannot create the host key: %s", strerror(-r));
		goto out;
	}
	char hostname[256] = "";
	gethostname(hostname, sizeof(hostname) - 1);
	Immune__V1__Label lstore[AGENT_MAX_LABELS], *lptrs[AGENT_MAX_LABELS];
	labels_to_proto(&cfg, lstore, lptrs);
	char token_text[TOKEN_TEXT_MAX];
	token_format(&tok, token_text);
	Immune__V1__EnrollRequest er = IMMUNE__V1__ENROLL_REQUEST__INIT;
	er.token = token_text;
	er.csr_der = (ProtobufCBinaryData){ .len = csr_len, .data = csr };
	er.hostname = hostname;
	er.machine_id = machine_id;
	er.n_labels = cfg.n_labels;
	er.labels = lptrs;
	er.agent_version = (char *)IMMUNE_VERSION;
	Frame req = IMMUNE__V1__FRAME__INIT;
	req.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST;
	req.enroll_request = &er;
	unsigned timeout = o->timeout_s ? o->timeout_s : ENROLL_DEFAULT_TIMEOUT_S;
	r = tls_exchange(o->server, tok.pin, timeout, &req, &resp, &pinned, res);
	OPENSSL_cleanse(token_text, sizeof(token_text));
	if (r < 0)
		goto out;
	r = check_answer(resp, key, tok.pin, &cert, &ca, res);
	if (r < 0)
		goto out;
	cfg.host_id = xstrdup(res->host_id);
	r = save_identity(o->state_dir, key, cert, ca, &cfg, res);
out:
	token_wipe(&tok);
	agent_config_free(&cfg);
	EVP_PKEY_free(key);
	OPENSSL_free(csr);
	msg_free(resp);
	X509_free(pinned);
	X509_free(cert);
	X509_free(ca);
	return r;
}
