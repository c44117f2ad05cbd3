/* Test driver for sensor_fim: starts the sensor on a libevent base and prints each event as
 * one OCSF JSON line on stdout, the sensor's health as {"health": {...}} once started and
 * again on SIGUSR1 and at exit (SIGTERM/SIGINT).
 *
 * fim_watch --state DIR [--root DIR] [--path P]... [--mechanism M] [--scan-interval S]
 *           [--cpu PCT] */
#include <event2/event.h>

#include "detect/event_json.h"
#include "detect/sensor.h"
#include "lib/str.h"

#include <jansson.h>
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

static void print_health(void *state)
{
	struct sensor_health h;
	sensor_fim.health(state, &h);
	json_t *o = json_pack("{s:{s:s,s:s,s:b,s:I,s:I,s:I,s:s}}", "health", "name", h.name,
			      "mechanism", h.mechanism, "active", h.active, "events",
			      (json_int_t)h.events, "lost", (json_int_t)h.lost, "skipped",
			      (json_int_t)h.skipped, "message", h.message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

struct sig {
	struct event_base *base;
	void *state;
};

static void on_usr1(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	print_health(((struct sig *)arg)->state);
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(((struct sig *)arg)->base);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fim_watch --state DIR [--root DIR] [--path P]... [--read FILE]... "
		"[--mechanism auto|fanotify|inotify|off] [--scan-interval S] [--cpu PCT]\n");
	return 2;
}

int main(int argc, char **argv)
{
	_cleanup_strv_ strv paths = NULL, reads = NULL;
	struct sensor_config cfg = {
		.root = "/",
		.fim_mechanism = "auto",
		.fim_scan_interval_s = 0,
		.fim_cpu_percent = 50,
		.fim_snapshot_max = 64 * 1024,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--state"))
			cfg.state_dir = v;
		else if (!strcmp(a, "--root"))
			cfg.root = v;
		else if (!strcmp(a, "--path"))
			strv_push(&paths, v);
		else if (!strcmp(a, "--read"))
			strv_push(&reads, v);
		else if (!strcmp(a, "--mechanism"))
			cfg.fim_mechanism = v;
		else if (!strcmp(a, "--scan-interval") && parse_u64(v, 10, 86400, &n) == 0)
			cfg.fim_scan_interval_s = (uint32_t)n;
		else if (!strcmp(a, "--cpu") && parse_u64(v, 10, 100, &n) == 0)
			cfg.fim_cpu_percent = (uint32_t)n;
		else
			return usage();
	}
	if (!cfg.state_dir)
		return usage();
	cfg.fim_paths = paths;
	cfg.fim_read_paths = reads;

	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	if (!base)
		return 1;
	struct sensor_ctx ctx = { .base = base, .cfg = &cfg, .emit = on_event };
	void *state = NULL;
	int r = sensor_fim.start(&ctx, &state);
	if (r < 0) {
		fprintf(stderr, "fim_watch: start: %s\n", strerror(-r));
		event_base_free(base);
		return 2;
	}
	print_health(state);
	struct sig sg = { .base = base, .state = state };
	struct event *e1 = evsignal_new(base, SIGUSR1, on_usr1, &sg);
	struct event *e2 = evsignal_new(base, SIGTERM, on_term, &sg);
	struct event *e3 = evsignal_new(base, SIGINT, on_term, &sg);
	evsignal_add(e1, NULL);
	evsignal_add(e2, NULL);
	evsignal_add(e3, NULL);
	event_base_dispatch(base);
	print_health(state);
	sensor_fim.stop(state);
	event_free(e1);
	event_free(e2);
	event_free(e3);
	event_base_free(base);
	return 0;
}
