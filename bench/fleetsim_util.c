/* fleetsim helpers: latency histogram, client.yaml, a minimal blocking HTTPS client. */
#include "fleetsim.h"

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/ytree.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned hist_index(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
	unsigned sub = (unsigned)(v >> (e - 7)) & (HIST_SUB - 1);
	unsigned i = HIST_LINEAR + (e - 8) * HIST_SUB + sub;
	return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned i)
{
	if (i < HIST_LINEAR)
		return i;
	unsigned e = (i - HIST_LINEAR) / HIST_SUB + 8;
	uint64_t sub = (i - HIST_LINEAR) % HIST_SUB;
	/* the middle of the bucket */
	return ((HIST_SUB + sub) << (e - 7)) + (1ull << (e - 8));
}

void hist_add(struct hist *h, uint64_t us)
{
	h->n[hist_index(us)]++;
	h->count++;
	if (us > h->max)
		h->max = us;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->n[i] += from->n[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen > want) {
			uint64_t v = hist_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

const char *fs_fail_name(int f)
{
	static const char *const names[] = {
		[FAIL_CONNECT] = "connect",   [FAIL_TLS] = "tls_handshake",
		[FAIL_CLOSED] = "closed",     [FAIL_TIMEOUT] = "timeout",
		[FAIL_PROTOCOL] = "protocol", [FAIL_LOCAL] = "local_resource",
	};
	static const char *const refused[] = {
		"refused_unspecified",	 "refused_bad_token",	 "refused_token_expired",
		"refused_token_used_up", "refused_host_revoked", "refused_identity_mismatch",
		"refused_protocol",	 "refused_version",	 "refused_overloaded",
		"refused_bad_csr",
	};
	if (f >= FAIL_REFUSED && f < FAIL_MAX)
		return refused[f - FAIL_REFUSED];
	if (f >= 0 && f < FAIL_REFUSED)
		return names[f];
	return "?";
}

int fs_parse_addr(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	uint64_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (parse_u64(colon + 1, 10, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -EINVAL;
	*sa = a;
	return 0;
}

int fs_parse_api_url(const char *url, struct fs_client_conf *c)
{
	struct sockaddr_in sa;
	char hp[300];

	if (!str_has_prefix(url, "https://"))
		return -EINVAL;
	snprintf(hp, sizeof(hp), "%s", url + 8);
	char *slash = strchr(hp, '/');
	if (slash)
		*slash = '\0';
	if (fs_parse_addr(hp, &sa) < 0)
		return -EINVAL;
	inet_ntop(AF_INET, &sa.sin_addr, c->api_host, sizeof(c->api_host));
	c->api_port = ntohs(sa.sin_port);
	return 0;
}

static int conf_str(const struct ynode *doc, const char *key, char *out, size_t n)
{
	const struct ynode *v = ynode_get(doc, key);
	if (!v || v->type != YNODE_SCALAR || strlen(v->scalar) >= n)
		return -EBADMSG;
	snprintf(out, n, "%s", v->scalar);
	return 0;
}

int fs_client_conf_load(const char *path, struct fs_client_conf *out)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct fs_client_conf c = { 0 };
	struct ynode *doc = NULL;
	struct yerror err;
	char data[16384], api[300];
	int r;

	if (!f)
		return -errno;
	size_t n = fread(data, 1, sizeof(data) - 1, f);
	data[n] = '\0';
	if (ytree_parse(data, n, &doc, &err) < 0)
		return -EBADMSG;
	r = conf_str(doc, "api", api, sizeof(api));
	if (r == 0)
		r = fs_parse_api_url(api, &c);
	if (r == 0)
		r = conf_str(doc, "agents", c.agents, sizeof(c.agents));
	if (r == 0)
		r = conf_str(doc, "ca", c.ca, sizeof(c.ca));
	if (r == 0)
		r = conf_str(doc, "token", c.token, sizeof(c.token));
	ytree_free(doc);
	if (r < 0)
		return -EBADMSG;
	*out = c;
	return 0;
}

static int tcp_connect(const char *host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Splits a raw HTTP/1.1 answer into status and body (Content-Length, chunked, or to EOF). */
static int http_parse(const char *raw, size_t len, int *status, char **body)
{
	const char *end = memmem(raw, len, "\r\n\r\n", 4);
	int64_t st;
	char code[4];

	if (!end || len < 12 || !str_has_prefix(raw, "HTTP/1."))
		return -EBADMSG;
	memcpy(code, raw + 9, 3);
	code[3] = '\0';
	if (parse_i64(code, 100, 599, &st) < 0)
		return -EBADMSG;
	size_t hlen = (size_t)(end - raw) + 4;
	_cleanup_free_ char *headers = xstrndup(raw, hlen);
	str_lower(headers);
	const char *p = raw + hlen;
	size_t left = len - hlen;
	struct buf out;
	buf_init(&out, 64u << 20);
	if (strstr(headers, "\r\ntransfer-encoding: chunked")) {
		while (left > 0) {
			const char *nl = memmem(p, left, "\r\n", 2);
			if (!nl)
				break;
			_cleanup_free_ char *sz = xstrndup(p, (size_t)(nl - p));
			char *semi = strchr(sz, ';');
			if (semi)
				*semi = '\0';
			uint64_t n;
			if (parse_u64(str_trim(sz), 16, 1u << 30, &n) < 0)
				break;
			left -= (size_t)(nl + 2 - p);
			p = nl + 2;
			if (n == 0 || n > left)
				break;
			buf_append(&out, p, n);
			p += n;
			left -= n;
			if (left >= 2) {
				p += 2;
				left -= 2;
			}
		}
	} else {
		const char *cl = strstr(headers, "\r\ncontent-length:");
		uint64_t n = left;
		if (cl) {
			char tmp[32];
			size_t i = 0;
			cl += strlen("\r\ncontent-length:");
			while (*cl == ' ')
				cl++;
			while (i + 1 < sizeof(tmp) && cl[i] >= '0' && cl[i] <= '9') {
				tmp[i] = cl[i];
				i++;
			}
			tmp[i] = '\0';
			if (parse_u64(tmp, 10, UINT32_MAX, &n) < 0 || n > left)
				n = left;
		}
		buf_append(&out, p, n);
	}
	*status = (int)st;
	*body = buf_steal(&out);
	buf_free(&out);
	return 0;
}

int fs_https(const struct fs_client_conf *c, const char *method, const char *path, const char *body,
	     int *status, char **resp)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	struct buf req, raw;
	int fd = -1, r = -EPROTO;

	buf_init(&req, 1u << 20);
	buf_init(&raw, 256u << 20);
	if (!ctx)
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1) {
		r = -ENOENT;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	fd = tcp_connect(c->api_host, c->api_port);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	ssl = SSL_new(ctx);
	if (!ssl)
		goto out;
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->api_host);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		goto out;
	buf_printf(&req,
		   "%s %s HTTP/1.1\r\nHost: %s:%u\r\nAuthorization: Bearer %s\r\n"
		   "Connection: close\r\n",
		   method, path, c->api_host, c->api_port, c->token);
	if (body)
		buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			   strlen(body), body);
	else
		buf_puts(&req, "\r\n");
	if (SSL_write(ssl, buf_str(&req), (int)buf_len(&req)) != (int)buf_len(&req))
		goto out;
	for (;;) {
		char tmp[16384];
		int n = SSL_read(ssl, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (buf_append(&raw, tmp, (size_t)n) < 0) {
			r = -EMSGSIZE;
			goto out;
		}
	}
	r = http_parse(buf_str(&raw), buf_len(&raw), status, resp);
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	buf_free_secret(&req);
	buf_free(&raw);
	return r;
}
