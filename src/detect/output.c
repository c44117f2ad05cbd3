/* Outputs: the `outputs:` list of the agent's configuration, and dispatch of records to the
 * file (output_file.c) and network (output_net.c) outputs. */
#include "detect/output_int.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/ytree.h"

#include <openssl/crypto.h>
#include <time.h>

#define OUTPUTS_CONFIG_MAX (256u * 1024)

struct outputs {
	size_t n;
	struct output **v;
	bool started;
};

uint64_t output_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- scalar conversions ---- */

static int str_of(const struct ynode *n, const char *what, struct yerror *ye, const char **out)
{
	const char *s = ynode_as_str(n, what, ye);
	if (!s)
		return -EBADMSG;
	if (!*s || !str_is_text(s, strlen(s)))
		return yerror_at(ye, n, "%s must be non-empty text", what);
	*out = s;
	return 0;
}

/* "1048576", "512KiB", "10MiB", "1GiB" (also K, M, G; KB, MB, GB are powers of 1000). */
static int parse_size(const struct ynode *n, const char *what, uint64_t min, uint64_t *out,
		      struct yerror *ye)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "", 1 },	   { "B", 1 },		{ "K", 1u << 10 },
		      { "KiB", 1u << 10 }, { "KB", 1000 },	{ "M", 1u << 20 },
		      { "MiB", 1u << 20 }, { "MB", 1000000 },	{ "G", 1u << 30 },
		      { "GiB", 1u << 30 }, { "GB", 1000000000 } };
	const char *s;
	if (str_of(n, what, ye, &s) < 0)
		return -EBADMSG;
	size_t digits = strspn(s, "0123456789");
	_cleanup_free_ char *num = xstrndup(s, digits);
	uint64_t v;
	if (digits == 0 || digits > 15 || parse_u64(num, 10, UINT64_MAX, &v) < 0)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(s + digits, units[i].suffix) == 0) {
			v *= units[i].mult;
			if (v < min || v > (1ull << 50))
				break;
			*out = v;
			return 0;
		}
bad:
	return yerror_at(ye, n, "%s: expected a size of at least %llu bytes such as 10MiB", what,
			 (unsigned long long)min);
}

/* "1000" (milliseconds), "250ms", "2s". */
static int parse_interval(const struct ynode *n, unsigned *out, struct yerror *ye)
{
	const char *s;
	if (str_of(n, "interval", ye, &s) < 0)
		return -EBADMSG;
	size_t digits = strspn(s, "0123456789");
	_cleanup_free_ char *num = xstrndup(s, digits);
	uint64_t v;
	if (digits == 0 || digits > 9 || parse_u64(num, 10, UINT32_MAX, &v) < 0)
		goto bad;
	if (strcmp(s + digits, "s") == 0)
		v *= 1000;
	else if (*(s + digits) && strcmp(s + digits, "ms") != 0)
		goto bad;
	if (v < 10 || v > 60000)
		goto bad;
	*out = (unsigned)v;
	return 0;
bad:
	return yerror_at(ye, n, "interval: expected 10ms to 60s, such as 500ms or 1s");
}

static int parse_what(const struct ynode *n, unsigned *out, struct yerror *ye)
{
	const struct ynode *one = n;
	size_t count = 1;
	unsigned what = 0;
	if (n->type == YNODE_SEQ) {
		count = n->n;
		if (count == 0)
			return yerror_at(ye, n, "what: list events, alerts or both");
	}
	for (size_t i = 0; i < count; i++) {
		if (n->type == YNODE_SEQ)
			one = n->items[i];
		const char *s = ynode_as_str(one, "what", ye);
		if (!s)
			return -EBADMSG;
		if (strcmp(s, "events") == 0)
			what |= OUTPUT_EVENTS;
		else if (strcmp(s, "alerts") == 0)
			what |= OUTPUT_ALERTS;
		else
			return yerror_at(ye, one, "what: '%s' is neither events nor alerts", s);
	}
	*out = what;
	return 0;
}

static int parse_facility(const struct ynode *n, unsigned *out, struct yerror *ye)
{
	static const char *const names[] = { "kern",	 "user",   "mail",   "daemon",	 "auth",
					     "syslog",	 "lpr",	   "news",   "uucp",	 "cron",
					     "authpriv", "ftp",	   "ntp",    "security", "console",
					     "cron2",	 "local0", "local1", "local2",	 "local3",
					     "local4",	 "local5", "local6", "local7" };
	const char *s;
	uint64_t v;
	if (str_of(n, "facility", ye, &s) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (unsigned)i;
			return 0;
		}
	if (parse_u64(s, 10, 23, &v) == 0) {
		*out = (unsigned)v;
		return 0;
	}
	return yerror_at(ye, n,
			 "facility: '%s' is not a syslog facility (auth, local0..local7, "
			 "or 0 to 23)",
			 s);
}

/* RFC 5424 PRINTUSASCII, 1 to max characters. */
static int parse_printusascii(const struct ynode *n, const char *what, size_t max, char **out,
			      struct yerror *ye)
{
	const char *s;
	if (str_of(n, what, ye, &s) < 0)
		return -EBADMSG;
	size_t len = strlen(s);
	bool ok = len <= max;
	for (size_t i = 0; ok && i < len; i++)
		ok = s[i] >= 33 && s[i] <= 126;
	if (!ok)
		return yerror_at(ye, n, "%s: 1 to %zu printable characters without spaces", what,
				 max);
	*out = xstrdup(s);
	return 0;
}

/* host:port, [v6]:port. */
static int split_host_port(const char *s, size_t len, char **host, char **port)
{
	const char *end = s + len, *h = s, *colon;
	size_t hlen;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || close + 1 >= end || close[1] != ':')
			return -EINVAL;
		colon = close + 1;
		h = s + 1;
		hlen = (size_t)(close - h);
	} else {
		colon = memrchr(s, ':', len);
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	_cleanup_free_ char *p = xstrndup(colon + 1, (size_t)(end - colon - 1));
	uint64_t v;
	if (hlen == 0 || hlen > 253 || parse_u64(p, 10, 65535, &v) < 0 || v == 0)
		return -EINVAL;
	for (size_t i = 0; i < hlen; i++)
		if (h[i] <= ' ' || h[i] > '~' || strchr("/@[]?#", h[i]))
			return -EINVAL;
	*host = xstrndup(h, hlen);
	*port = xasprintf("%llu", (unsigned long long)v);
	return 0;
}

/* https://host[:port][/path]; http:// only when insecure. */
static int parse_url(const struct ynode *n, struct output *out, struct yerror *ye)
{
	const char *s, *rest;
	if (str_of(n, "url", ye, &s) < 0)
		return -EBADMSG;
	if (str_has_prefix(s, "https://")) {
		out->tls = true;
		rest = s + 8;
	} else if (str_has_prefix(s, "http://")) {
		out->tls = false;
		rest = s + 7;
	} else {
		return yerror_at(ye, n, "url: expected https://host[:port]/path");
	}
	size_t alen = strcspn(rest, "/");
	const char *path = rest + alen;
	_cleanup_free_ char *auth = NULL;
	if (memchr(rest, ':', alen) && !(rest[0] == '[' && rest[alen - 1] == ']'))
		auth = xstrndup(rest, alen);
	else
		auth = xasprintf("%.*s:%s", (int)alen, rest, out->tls ? "443" : "80");
	if (split_host_port(auth, strlen(auth), &out->host, &out->port) < 0)
		return yerror_at(ye, n, "url: bad host or port in '%.*s'", (int)alen, rest);
	for (const char *c = path; *c; c++)
		if (*c <= ' ' || *c > '~')
			return yerror_at(ye, n, "url: the path holds a space or control character");
	out->url_path = xstrdup(*path ? path : "/");
	return 0;
}

static bool header_name_ok(const char *s)
{
	if (!*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* Values are secrets: errors never quote them. */
static int parse_headers(const struct ynode *n, struct output *out, struct yerror *ye)
{
	static const char *const reserved[] = { "host", "content-length", "content-type",
						"transfer-encoding", "connection" };
	if (n->type != YNODE_MAP)
		return yerror_at(ye, n, "headers must be a map of name: value");
	for (size_t i = 0; i < n->n; i++) {
		const char *name = n->keys[i]->scalar, *value;
		if (!header_name_ok(name))
			return yerror_at(ye, n->keys[i], "headers: '%s' is not a header name",
					 name);
		for (size_t k = 0; k < ARRAY_SIZE(reserved); k++)
			if (str_case_eq(name, reserved[k]))
				return yerror_at(ye, n->keys[i], "headers: %s is set by the agent",
						 name);
		if (!(value = ynode_as_str(n->items[i], "a header value", ye)))
			return -EBADMSG;
		if (strlen(value) > 8192 || !str_is_text(value, strlen(value)))
			return yerror_at(ye, n->items[i],
					 "headers: the value of %s must be text on one line", name);
		strv_push(&out->headers, name);
		strv_push(&out->headers, value);
	}
	return 0;
}

static int parse_count(const struct ynode *n, const char *what, int64_t min, int64_t max,
		       size_t *out, struct yerror *ye)
{
	int64_t v;
	int r = ynode_as_i64(n, what, min, max, &v, ye);
	if (r < 0)
		return r;
	*out = (size_t)v;
	return 0;
}

static int parse_file(const struct ynode *e, struct output *out, struct yerror *ye)
{
	static const char *const keys[] = {
		"type", "what", "name", "path", "max_size", "keep", NULL
	};
	const struct ynode *n;
	const char *s;
	size_t keep = OUTPUT_DEFAULT_KEEP;
	int r = ynode_check_keys(e, keys, "a file output", ye);
	if (r < 0)
		return r;
	if (!(n = ynode_get(e, "path")))
		return yerror_at(ye, e, "a file output needs a path");
	if (str_of(n, "path", ye, &s) < 0)
		return -EBADMSG;
	if (s[0] != '/' || strlen(s) > 4000)
		return yerror_at(ye, n, "path: expected an absolute file name");
	out->path = xstrdup(s);
	out->max_size = OUTPUT_DEFAULT_MAX_SIZE;
	if ((n = ynode_get(e, "max_size")) && parse_size(n, "max_size", 256, &out->max_size, ye))
		return -EBADMSG;
	if ((n = ynode_get(e, "keep")) && parse_count(n, "keep", 0, 100, &keep, ye) < 0)
		return -EBADMSG;
	out->keep = (unsigned)keep;
	snprintf(out->stats_name, sizeof(out->stats_name), "file:%s", out->path);
	return 0;
}

static int parse_syslog(const struct ynode *e, struct output *out, struct yerror *ye)
{
	static const char *const keys[] = { "type",	"what",	 "name",     "address",
					    "tls",	"ca",	 "hostname", "app_name",
					    "facility", "queue", NULL };
	const struct ynode *n;
	const char *s;
	int r = ynode_check_keys(e, keys, "a syslog output", ye);
	if (r < 0)
		return r;
	if (!(n = ynode_get(e, "address")))
		return yerror_at(ye, e, "a syslog output needs an address (host:port)");
	if (str_of(n, "address", ye, &s) < 0)
		return -EBADMSG;
	if (split_host_port(s, strlen(s), &out->host, &out->port) < 0)
		return yerror_at(ye, n, "address: expected host:port");
	if ((n = ynode_get(e, "tls")) && ynode_as_bool(n, "tls", &out->tls, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "ca"))) {
		if (str_of(n, "ca", ye, &s) < 0)
			return -EBADMSG;
		if (!out->tls)
			return yerror_at(ye, n, "ca: only with tls: true");
		out->ca = xstrdup(s);
	}
	if ((n = ynode_get(e, "hostname")) &&
	    parse_printusascii(n, "hostname", 255, &out->hostname, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "app_name")) &&
	    parse_printusascii(n, "app_name", 48, &out->app_name, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "facility")) && parse_facility(n, &out->facility, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "queue")) &&
	    parse_count(n, "queue", 1, 1000000, &out->queue_max, ye) < 0)
		return -EBADMSG;
	snprintf(out->stats_name, sizeof(out->stats_name), "syslog:%s:%s", out->host, out->port);
	return 0;
}

static int parse_webhook(const struct ynode *e, struct output *out, struct yerror *ye)
{
	static const char *const keys[] = { "type",	"what",	    "name",    "url",
					    "ca",	"insecure", "headers", "batch",
					    "interval", "queue",    NULL };
	const struct ynode *n, *url;
	const char *s;
	int r = ynode_check_keys(e, keys, "a webhook output", ye);
	if (r < 0)
		return r;
	if (!(url = ynode_get(e, "url")))
		return yerror_at(ye, e, "a webhook output needs a url");
	if (parse_url(url, out, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "insecure")) && ynode_as_bool(n, "insecure", &out->insecure, ye) < 0)
		return -EBADMSG;
	if (!out->tls && !out->insecure)
		return yerror_at(ye, url, "url: http:// needs insecure: true (use https://)");
	if ((n = ynode_get(e, "ca"))) {
		if (str_of(n, "ca", ye, &s) < 0)
			return -EBADMSG;
		if (!out->tls)
			return yerror_at(ye, n, "ca: only with an https:// url");
		out->ca = xstrdup(s);
	}
	if ((n = ynode_get(e, "headers")) && parse_headers(n, out, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "batch")) && parse_count(n, "batch", 1, 10000, &out->batch, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "interval")) && parse_interval(n, &out->interval_ms, ye) < 0)
		return -EBADMSG;
	if ((n = ynode_get(e, "queue")) &&
	    parse_count(n, "queue", 1, 1000000, &out->queue_max, ye) < 0)
		return -EBADMSG;
	/* Not the path: it may carry a token. */
	snprintf(out->stats_name, sizeof(out->stats_name), "webhook:%s:%s", out->host, out->port);
	return 0;
}

static void output_free(struct output *out)
{
	if (!out)
		return;
	free(out->path);
	free(out->host);
	free(out->port);
	free(out->ca);
	free(out->hostname);
	free(out->app_name);
	free(out->url_path);
	for (size_t i = 0; out->headers && out->headers[i]; i++)
		OPENSSL_cleanse(out->headers[i], strlen(out->headers[i]));
	strv_free(out->headers);
	pthread_mutex_destroy(&out->file_lock);
	free(out);
}

static int parse_entry(const struct ynode *e, struct output **res, struct yerror *ye)
{
	const struct ynode *n;
	const char *type;
	if (e->type != YNODE_MAP)
		return yerror_at(ye, e, "an output must be a map with a type");
	if (!(n = ynode_get(e, "type")))
		return yerror_at(ye, e, "an output needs a type (file, syslog or webhook)");
	if (!(type = ynode_as_str(n, "type", ye)))
		return -EBADMSG;
	struct output *out = xcalloc(1, sizeof(*out));
	pthread_mutex_init(&out->file_lock, NULL);
	out->fd = -1;
	out->what = OUTPUT_ALERTS;
	out->facility = OUTPUT_DEFAULT_FACILITY;
	out->queue_max = OUTPUT_DEFAULT_QUEUE;
	out->batch = OUTPUT_DEFAULT_BATCH;
	out->interval_ms = OUTPUT_DEFAULT_INTERVAL_MS;
	int r;
	if (strcmp(type, "file") == 0)
		r = parse_file(e, out, ye);
	else if (strcmp(type, "syslog") == 0)
		r = (out->type = OUTPUT_SYSLOG, parse_syslog(e, out, ye));
	else if (strcmp(type, "webhook") == 0)
		r = (out->type = OUTPUT_WEBHOOK, parse_webhook(e, out, ye));
	else
		r = yerror_at(ye, n, "type: '%s' is not file, syslog or webhook", type);
	if (r == 0 && (n = ynode_get(e, "what")))
		r = parse_what(n, &out->what, ye);
	if (r == 0 && (n = ynode_get(e, "name"))) {
		const char *name;
		r = str_of(n, "name", ye, &name);
		if (r == 0 && strlen(name) >= sizeof(out->stats_name))
			r = yerror_at(ye, n, "name: at most %zu characters",
				      sizeof(out->stats_name) - 1);
		if (r == 0)
			snprintf(out->stats_name, sizeof(out->stats_name), "%s", name);
	}
	if (r < 0) {
		output_free(out);
		return r;
	}
	*res = out;
	return 0;
}

static int parse_list(const struct ynode *root, struct outputs *o, struct yerror *ye)
{
	const struct ynode *list =
		root && root->type == YNODE_MAP ? ynode_get(root, "outputs") : NULL;
	if (!list)
		return 0;
	if (list->type == YNODE_SCALAR && !list->quoted && !*list->scalar)
		return 0; /* "outputs:" with nothing under it */
	if (list->type != YNODE_SEQ)
		return yerror_at(ye, list, "outputs must be a list");
	if (list->n > OUTPUT_MAX)
		return yerror_at(ye, list, "outputs: at most %d outputs", OUTPUT_MAX);
	o->v = xcalloc(list->n ? list->n : 1, sizeof(*o->v));
	for (size_t i = 0; i < list->n; i++) {
		int r = parse_entry(list->items[i], &o->v[i], ye);
		if (r < 0)
			return r;
		o->n++;
		for (size_t k = 0; k < i; k++)
			if (strcmp(o->v[k]->stats_name, o->v[i]->stats_name) == 0)
				return yerror_at(ye, list->items[i],
						 "output '%s' is listed twice (give it a name)",
						 o->v[i]->stats_name);
	}
	return 0;
}

int outputs_parse(const char *text, size_t len, const char *name, struct outputs **out, char *err,
		  size_t errlen)
{
	struct ynode *root = NULL;
	struct yerror ye = { 0 };
	struct outputs *o = xcalloc(1, sizeof(*o));
	int r = len ? ytree_parse(text, len, &root, &ye) : 0;
	if (r == 0)
		r = parse_list(root, o, &ye);
	ytree_free(root);
	if (r < 0) {
		if (ye.line)
			snprintf(err, errlen, "%s:%u:%u: %s", name, ye.line, ye.col, ye.msg);
		else
			snprintf(err, errlen, "%s: %s", name, ye.msg);
		outputs_free(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}

int outputs_start(struct outputs *o, char *err, size_t errlen)
{
	if (o->started)
		return 0;
	for (size_t i = 0; i < o->n; i++) {
		struct output *out = o->v[i];
		int r;
		if (out->type == OUTPUT_FILE) {
			r = output_file_open(out);
			if (r < 0)
				snprintf(err, errlen, "%s: %s", out->path, strerror(-r));
		} else {
			r = output_net_start(out, err, errlen);
		}
		if (r < 0)
			return r;
	}
	o->started = true;
	return 0;
}

int outputs_open(const char *path, struct outputs **out, char *err, size_t errlen)
{
	struct buf b = { 0 };
	struct outputs *o = NULL;
	int r = file_read_capped(path, OUTPUTS_CONFIG_MAX, &b);
	if (r == -ENOENT) {
		*out = xcalloc(1, sizeof(**out));
		return 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = outputs_parse(buf_str(&b), buf_len(&b), path, &o, err, errlen);
	buf_free(&b);
	if (r < 0)
		return r;
	r = outputs_start(o, err, errlen);
	if (r < 0) {
		outputs_free(o);
		return r;
	}
	*out = o;
	return 0;
}

void outputs_free(struct outputs *o)
{
	if (!o)
		return;
	uint64_t deadline = output_now_ms() + 1000;
	for (size_t i = 0; i < o->n; i++) {
		if (o->v[i]->type == OUTPUT_FILE)
			output_file_close(o->v[i]);
		else
			output_net_stop(o->v[i], deadline);
		output_free(o->v[i]);
	}
	free(o->v);
	free(o);
}

static void dispatch(struct outputs *o, const char *json, size_t len, unsigned kind)
{
	if (!o || !o->started || !json || len == 0)
		return;
	for (size_t i = 0; i < o->n; i++) {
		struct output *out = o->v[i];
		if (!(out->what & kind))
			continue;
		if (len > OUTPUT_RECORD_MAX) {
			output_count(&out->errors, 1);
			continue;
		}
		if (out->type == OUTPUT_FILE)
			output_file_write(out, json, len);
		else
			output_net_push(out, json, len, kind == OUTPUT_ALERTS);
	}
}

void outputs_event(struct outputs *o, const char *json, size_t len)
{
	dispatch(o, json, len, OUTPUT_EVENTS);
}

void outputs_alert(struct outputs *o, const char *json, size_t len)
{
	dispatch(o, json, len, OUTPUT_ALERTS);
}

size_t outputs_stats(const struct outputs *o, struct output_stats *st, size_t max)
{
	if (!o)
		return 0;
	for (size_t i = 0; i < o->n && i < max; i++) {
		const struct output *out = o->v[i];
		st[i] = (struct output_stats){
			.sent = __atomic_load_n(&out->sent, __ATOMIC_RELAXED),
			.dropped = __atomic_load_n(&out->dropped, __ATOMIC_RELAXED),
			.errors = __atomic_load_n(&out->errors, __ATOMIC_RELAXED),
			.connected = __atomic_load_n(&out->connected, __ATOMIC_RELAXED),
		};
		snprintf(st[i].name, sizeof(st[i].name), "%s", out->stats_name);
	}
	return o->n;
}
