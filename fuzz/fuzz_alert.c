/* The server's parsers of detection records and alert queries: alert_parse (RECORD_ALERT),
 * the event index, baseline and sensor health payloads, and the same bytes as a GET
 * /v1/alerts query string and as an RFC 3339 time. */
#include "detect/alert.h"
#include "server/api_int.h"
#include "store/ingest_parse.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_alert(const uint8_t *data, size_t size)
{
	struct alert_summary s;

	if (alert_parse(data, size, &s) < 0)
		return;
	if (!s.uid || strlen(s.uid) != 32 || !s.rule_id || !*s.rule_id || !s.title || !s.source ||
	    s.level < 1 || s.level > 5 || s.time_ns < 0 || !(s.score >= 0) || s.score > 1 ||
	    !json_is_array(s.techniques))
		__builtin_trap();
	if (s.evidence && json_array_size(s.evidence) > ALERT_MAX_EVIDENCE)
		__builtin_trap();
	alert_summary_free(&s);
}

static void check_records(const uint8_t *data, size_t size)
{
	struct ingest_event ev;
	json_t *v;

	if (ingest_parse_event(data, size, &ev) == 0) {
		if ((ev.kind && strlen(ev.kind) > INGEST_MAX_INDEXED) || ev.time_ns < 0)
			__builtin_trap();
		ingest_event_free(&ev);
	}
	if (ingest_parse_baseline(data, size, &v) == 0) {
		if (!json_is_object(v))
			__builtin_trap();
		json_decref(v);
	}
	if (ingest_parse_sensor_health(data, size, &v) == 0) {
		if (!json_is_array(v) || json_array_size(v) > INGEST_MAX_SENSORS)
			__builtin_trap();
		json_decref(v);
	}
}

static void check_query(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct evkeyvalq q;
	struct store_alert_filter f = { 0 };
	int64_t ns;

	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(text, &q) == 0 &&
	    api_alerts_query_parse(&q, 1800000000, &f) == NULL) {
		if (f.since_ns < 0 || f.min_level < 0 || f.min_level > 5 ||
		    f.limit > STORE_ALERTS_LIMIT_MAX)
			__builtin_trap();
	}
	evhttp_clear_headers(&q);
	if (api_rfc3339_parse(text, &ns) == 0 && ns < 0)
		__builtin_trap();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4u * 1024 * 1024)
		return 0;
	check_alert(data, size);
	check_records(data, size);
	if (size <= 4096)
		check_query(data, size);
	return 0;
}
