/* Test driver for the authentication sensor: starts sensor_auth on an event base and prints
 * each event as one OCSF JSON line on stdout; on SIGTERM, SIGINT or after --duration seconds
 * it stops the sensor and prints its health on stderr.
 *
 *   sensor_auth_driver [--state DIR] [--duration SECONDS] [--journal DIR] LOG...
 *
 * A LOG may carry the prefixes sensor_auth accepts ("sshd:/path"). --journal DIR reads the
 * journal files in DIR (auth_journal_dir); with it and no LOG, no log file is followed. */
#include "lib/common.h"

#include <event2/event.h>

#include "detect/event_json.h"
#include "detect/sensor.h"
#include "lib/str.h"

#include <inttypes.h>
#include <signal.h>

static void on_event(struct host_event *ev, void *arg)
{
	(void)arg;
	char *line = host_event_to_json_line(ev);
	if (line) {
		fputs(line, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(line);
	}
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	struct sensor_config cfg = { .root = "/" };
	strv logs = NULL;
	int64_t duration = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			cfg.state_dir = argv[++i];
		} else if (strcmp(argv[i], "--journal") == 0 && i + 1 < argc) {
			cfg.auth_journal = true;
			cfg.auth_journal_dir = argv[++i];
		} else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			if (parse_i64(argv[++i], 0, 86400, &duration) < 0) {
				fprintf(stderr, "bad --duration\n");
				return 2;
			}
		} else {
			strv_push(&logs, argv[i]);
		}
	}
	if (!logs && cfg.auth_journal)
		logs = xcalloc(1, sizeof(*logs)); /* an empty list */
	cfg.auth_logs = logs;

	struct event_base *base = event_base_new();
	if (!base)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	struct event *term = evsignal_new(base, SIGTERM, on_stop, base);
	struct event *intr = evsignal_new(base, SIGINT, on_stop, base);
	struct event *timer = evtimer_new(base, on_stop, base);
	evsignal_add(term, NULL);
	evsignal_add(intr, NULL);
	if (duration > 0) {
		struct timeval tv = { (time_t)duration, 0 };
		evtimer_add(timer, &tv);
	}

	struct sensor_ctx ctx = { .base = base, .cfg = &cfg, .emit = on_event };
	void *state = NULL;
	int r = sensor_auth.start(&ctx, &state);
	if (r < 0) {
		fprintf(stderr, "sensor_auth: start: %s\n", strerror(-r));
		return 2;
	}
	/* ready: the files present now are positioned */
	fprintf(stderr, "ready\n");
	event_base_dispatch(base);

	struct sensor_health h;
	sensor_auth.health(state, &h);
	fprintf(stderr,
		"health: name=%s mechanism=%s active=%d events=%" PRIu64 " skipped=%" PRIu64
		" message=%s\n",
		h.name, h.mechanism, h.active, h.events, h.skipped, h.message);
	sensor_auth.stop(state);
	event_free(term);
	event_free(intr);
	event_free(timer);
	event_base_free(base);
	strv_free(logs);
	return 0;
}
