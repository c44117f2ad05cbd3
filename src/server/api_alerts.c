/* GET /v1/alerts, GET /v1/alerts/ID and GET /v1/hosts/ID/baseline (docs/api.md). */
#include "server/api_int.h"
#include "detect/alert.h"
#include "lib/str.h"
#include "server/duration.h"
#include "store/store.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <time.h>

#define MAX_PARAM 256
#define SINCE_MAX_S (100LL * 365 * 86400)

/* Parses n decimal digits at s. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; y >= 1970). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int api_rfc3339_parse(const char *s, int64_t *out_ns)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
	int64_t frac_ns = 0, offset = 0;
	size_t n = strlen(s);

	if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return -EINVAL;
	if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return -EINVAL;
	s += 10;
	if (*s) {
		if ((*s != 'T' && *s != 't' && *s != ' ') || strlen(s) < 9 ||
		    !digits(s + 1, 2, &h) || s[3] != ':' || !digits(s + 4, 2, &mi) || s[6] != ':' ||
		    !digits(s + 7, 2, &sec) || h > 23 || mi > 59 || sec > 60)
			return -EINVAL;
		s += 9;
		if (*s == '.') {
			int64_t scale = 100000000;
			s++;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			for (; *s >= '0' && *s <= '9'; s++) {
				frac_ns += (*s - '0') * scale;
				scale /= 10;
			}
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			if (strlen(s) != 6 || !digits(s + 1, 2, &oh) || s[3] != ':' ||
			    !digits(s + 4, 2, &om) || oh > 23 || om > 59)
				return -EINVAL;
			offset = (oh * 3600 + om * 60) * (*s == '+' ? 1 : -1);
			s += 6;
		} else {
			return -EINVAL;
		}
		if (*s)
			return -EINVAL;
	}
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	if (t < 0 || t > INT64_MAX / 1000000000 - 1)
		return -ERANGE;
	*out_ns = t * 1000000000 + frac_ns;
	return 0;
}

/* since: an RFC 3339 time, or a duration back from now ("24h"). */
const char *api_since_parse(const char *v, int64_t now_s, int64_t *out_ns)
{
	int64_t d;

	if (duration_parse(v, SINCE_MAX_S, &d) == 0) {
		*out_ns = now_s > d ? (now_s - d) * 1000000000 : 0;
		return NULL;
	}
	if (api_rfc3339_parse(v, out_ns) == 0)
		return NULL;
	return "since must be an RFC 3339 time (2026-11-23T10:00:00Z) or a duration (90m, 24h, "
	       "7d)";
}

const char *api_alerts_query_parse(struct evkeyvalq *q, int64_t now_s, struct store_alert_filter *f)
{
	for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
		const char *k = kv->key, *v = kv->value;
		int64_t n;

		if (strlen(v) > MAX_PARAM)
			return "a query parameter is too long";
		if (!strcmp(k, "since")) {
			const char *err = api_since_parse(v, now_s, &f->since_ns);
			if (err)
				return err;
		} else if (!strcmp(k, "severity")) {
			int l = alert_level_by_name(v);
			if (l < 0)
				return "severity must be informational, low, medium, high or "
				       "critical";
			f->min_level = l;
		} else if (!strcmp(k, "host") && *v) {
			f->host = v;
		} else if (!strcmp(k, "rule") && *v) {
			f->rule = v;
		} else if (!strcmp(k, "limit")) {
			if (parse_i64(v, 1, STORE_ALERTS_LIMIT_MAX, &n) < 0)
				return "limit must be a number from 1 to 1000";
			f->limit = (size_t)n;
		} else if (!strcmp(k, "cursor") && *v) {
			f->cursor = v;
		} else {
			return "unknown query parameter (allowed: since, severity, host, rule, "
			       "limit, cursor)";
		}
	}
	return NULL;
}

void api_alerts_list(struct server *s, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq q = { 0 };
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		api_error(req, 400, "malformed query string");
		return;
	}
	struct store_alert_filter f = { 0 };
	const char *err = api_alerts_query_parse(&q, server_now_s(), &f);
	json_t *out = NULL;
	int r = err ? 0 : store_alerts_list(s->store, &f, &out);
	if (err)
		api_error(req, 400, "%s", err);
	else if (r == -EINVAL)
		api_error(req, 400, "cursor: not a cursor from a previous page's \"next\"");
	else if (r < 0)
		api_error(req, 500, "cannot read alerts: %s", strerror(-r));
	else
		api_reply(req, 200, out);
	evhttp_clear_headers(&q);
}

void api_alert_show(struct server *s, struct evhttp_request *req, const char *id)
{
	json_t *out = NULL;
	int r = store_alert_get(s->store, id, &out);
	if (r == -ENOENT)
		api_error(req, 404, "%s: no such alert", id);
	else if (r < 0)
		api_error(req, 500, "cannot read alert %s: %s", id, strerror(-r));
	else
		api_reply(req, 200, json_pack("{s:o}", "alert", out));
}

void api_host_baseline(struct server *s, struct evhttp_request *req, const char *id)
{
	json_t *out = NULL;
	int r = store_host_baseline(s->store, id, &out);
	if (r == -ENOENT)
		api_error(req, 404, "%s: no such host", id);
	else if (r == -ENODATA)
		api_error(req, 404, "%s: no baseline received from this host yet", id);
	else if (r < 0)
		api_error(req, 500, "cannot read the baseline of %s: %s", id, strerror(-r));
	else
		api_reply(req, 200, out);
}

json_t *api_host_sensors(struct server *s, const char *id)
{
	json_t *out = NULL;
	if (store_host_sensors(s->store, id, &out) < 0)
		return json_null();
	return out;
}
