/* spool_put DIR STREAM KIND FILE...: appends each FILE as one record (encoding raw, time
 * now) to the stopped agent's spool in DIR, so the agent delivers it at its next run.
 * STREAM: events, state or alerts; KIND: the RecordKind number (1 event, 5 alert, 8
 * baseline, 9 sensor health). A test tool (tests/integration/server_alerts.sh). */
#include "agent/spool.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <time.h>

int main(int argc, char **argv)
{
	static const char *const streams[] = { "events", "state", "alerts" };
	struct spool *sp = NULL;
	struct timespec ts;
	int64_t kind;
	int stream = -1, r;

	if (argc < 5) {
		fprintf(stderr, "usage: spool_put DIR STREAM KIND FILE...\n");
		return 2;
	}
	for (int i = 0; i < 3; i++)
		if (!strcmp(argv[2], streams[i]))
			stream = i;
	if (stream < 0 || parse_i64(argv[3], 1, 100, &kind) < 0) {
		fprintf(stderr, "spool_put: bad stream or kind\n");
		return 2;
	}
	r = spool_open(argv[1], NULL, &sp);
	if (r < 0) {
		fprintf(stderr, "spool_put: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	for (int i = 4; i < argc; i++) {
		struct buf data;
		uint64_t seq;

		buf_init(&data, SPOOL_MAX_RECORD + 1);
		r = file_read_capped(argv[i], SPOOL_MAX_RECORD, &data);
		if (r >= 0)
			r = spool_append(sp, (uint32_t)stream, (uint32_t)kind,
					 (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, 0,
					 buf_str(&data), buf_len(&data), &seq);
		buf_free(&data);
		if (r < 0) {
			fprintf(stderr, "spool_put: %s: %s\n", argv[i], strerror(-r));
			spool_close(sp);
			return 1;
		}
		printf("%s: seq %llu\n", argv[i], (unsigned long long)seq);
	}
	r = spool_sync(sp);
	spool_close(sp);
	return r < 0 ? 1 : 0;
}
