/* A test driver for the process and network sensors: starts them on an event base, prints
 * each event as its OCSF JSON line on stdout, and at the end one line per sensor on stderr:
 *   health <name> mechanism=<m> active=<0|1> events=<n> lost=<n> skipped=<n> message=<text>
 * It also prints "ready" on stderr once the sensors are started.
 *
 * usage: sensor_watch [--sensors process,network] [--process-mechanism M]
 *                     [--network-mechanism M] [--poll-ms N] [--duration SECONDS] */
#include "detect/event_json.h"
#include "detect/sensor.h"
#include "detect/sensor_mech.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_event(struct host_event *ev, void *arg)
{
	(void)arg;
	char *line = host_event_to_json_line(ev);
	if (line) {
		fputs(line, stdout);
		fputc('\n', stdout);
		free(line);
	}
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *sensors = "process,network";
	struct sensor_config cfg = { .root = "/" };
	long duration = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "sensor_watch: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--sensors") == 0)
			sensors = v;
		else if (strcmp(a, "--process-mechanism") == 0)
			cfg.process_mechanism = v;
		else if (strcmp(a, "--network-mechanism") == 0)
			cfg.network_mechanism = v;
		else if (strcmp(a, "--poll-ms") == 0)
			cfg.network_poll_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(a, "--duration") == 0)
			duration = strtol(v, NULL, 10);
		else {
			fprintf(stderr, "sensor_watch: unknown option %s\n", a);
			return 2;
		}
		i++;
	}
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	if (!base)
		return 2;
	const struct sensor_ops *ops[] = { &sensor_process, &sensor_network };
	void *state[2] = { NULL, NULL };
	struct sensor_ctx ctx = { .base = base, .cfg = &cfg, .emit = print_event };
	for (size_t i = 0; i < 2; i++) {
		if (!strstr(sensors, ops[i]->name))
			continue;
		int r = ops[i]->start(&ctx, &state[i]);
		if (r < 0) {
			fprintf(stderr, "sensor_watch: %s: %s\n", ops[i]->name, strerror(-r));
			return 2;
		}
	}
	struct event *sig_int = evsignal_new(base, SIGINT, on_stop, base);
	struct event *sig_term = evsignal_new(base, SIGTERM, on_stop, base);
	struct event *timer = evtimer_new(base, on_stop, base);
	struct event *flush = event_new(base, -1, EV_PERSIST, on_flush, NULL);
	struct timeval tv = { .tv_sec = duration }, ftv = { .tv_usec = 100000 };
	event_add(sig_int, NULL);
	event_add(sig_term, NULL);
	event_add(flush, &ftv);
	if (duration > 0)
		event_add(timer, &tv);
	fprintf(stderr, "ready\n");
	event_base_dispatch(base);
	fflush(stdout);
	for (size_t i = 0; i < 2; i++) {
		if (!state[i])
			continue;
		struct sensor_health h;
		ops[i]->health(state[i], &h);
		fprintf(stderr,
			"health %s mechanism=%s active=%d events=%llu lost=%llu skipped=%llu "
			"message=%s\n",
			h.name, h.mechanism, h.active, (unsigned long long)h.events,
			(unsigned long long)h.lost, (unsigned long long)h.skipped, h.message);
		ops[i]->stop(state[i]);
	}
	sensor_loop_event_free(sig_int);
	sensor_loop_event_free(sig_term);
	sensor_loop_event_free(timer);
	sensor_loop_event_free(flush);
	event_base_free(base);
	return 0;
}
