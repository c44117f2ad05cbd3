/* Fuzzes the auth-log decoder: the first byte picks the file format, the rest is read as log
 * lines (each line decoded, as the sensor does) and also as one line (the cut at
 * AUTHLOG_LINE_MAX). */
#include "lib/common.h"

#include "detect/authlog.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum authlog_format formats[] = { AUTHLOG_AUTO, AUTHLOG_SYSLOG, AUTHLOG_SSHD };
	struct authlog_opts o = { .now_ns = INT64_C(1795459500) * 1000000000 };
	struct host_event ev;
	int64_t t;

	if (!size)
		return 0;
	o.format = formats[data[0] % ARRAY_SIZE(formats)];
	const char *p = (const char *)data + 1;
	size_t n = size - 1;

	host_event_init(&ev);
	(void)authlog_decode(p, n, &o, &ev);
	(void)authlog_parse_time(p, n, o.now_ns, &t);
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) : n;
		if (authlog_decode(p, len, &o, &ev) == 1 && !ev.truncated) {
			/* a decoded event always says where it came from */
			if (!host_event_has(&ev, EF_SERVICE) || !host_event_has(&ev, EF_MESSAGE))
				abort();
			/* and every field is text the JSON form accepts */
			for (int f = 0; f < EF_COUNT; f++) {
				if (!host_event_has(&ev, (enum event_field)f))
					continue;
				json_t *j = json_stringn(ev.v[f].p, ev.v[f].len);
				if (!j)
					abort();
				json_decref(j);
			}
		}
		p += len;
		n -= len;
		if (nl) {
			p++;
			n--;
		}
	}
	host_event_free(&ev);
	return 0;
}
