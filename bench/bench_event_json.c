/* Prints the cost of writing events as OCSF JSON lines: ns per event for representative exec
 * and exit events through host_event_to_json_line(), and through the tree form
 * (host_event_to_json() then json_dumps) for comparison in the same run.
 * Usage: bench_event_json [events] (default 1000) */
#include "lib/common.h"

#include "detect/event_json.h"

#include <inttypes.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Event i: an exec (even i) or the exit of that process (odd i), as the process sensor and
 * the pipeline fill them. */
static void build(struct host_event *ev, unsigned i)
{
	char cmd[160], name[32];
	int64_t pid = 20000 + i / 2;

	snprintf(name, sizeof(name), "tool%u", i % 17);
	snprintf(cmd, sizeof(cmd), "/usr/bin/%s --config /etc/app/%u.conf -v --output=/tmp/o%u",
		 name, i % 31, i);
	host_event_reset(ev, i % 2 ? EVENT_PROCESS_EXIT : EVENT_PROCESS_EXEC,
			 INT64_C(1790000000000000000) + (int64_t)i * 1000000);
	ev->id = 1000 + i;
	host_event_set_str(ev, EF_IMAGE, "/usr/bin/tool");
	host_event_set_str(ev, EF_PROCESS_NAME, name);
	host_event_set_int(ev, EF_PID, pid);
	host_event_set_str(ev, EF_USER, "deploy");
	host_event_set_str(ev, EF_UID, "1001");
	host_event_set_int(ev, EF_PPID, 19999);
	host_event_set_str(ev, EF_PARENT_IMAGE, "/usr/bin/bash");
	host_event_set_str(ev, EF_PARENT_NAME, "bash");
	host_event_set_str(ev, EF_HOSTNAME, "web-01.example.test");
	host_event_set_str(ev, EF_SENSOR, "process/ebpf");
	if (i % 2) {
		host_event_set_int(ev, EF_EXIT_CODE, 0);
		return;
	}
	host_event_set_str(ev, EF_COMMAND_LINE, cmd);
	host_event_set_str(ev, EF_CURRENT_DIRECTORY, "/srv/app");
	host_event_set_int(ev, EF_EUID, 1001);
	host_event_set_int(ev, EF_LOGIN_UID, 1001);
	host_event_set_str(ev, EF_TTY, "pts/0");
	host_event_set_str(ev, EF_CGROUP, "/system.slice/app.service");
	host_event_set_str(ev, EF_PARENT_COMMAND_LINE, "bash -c ./run.sh");
}

static char *tree_line(const struct host_event *ev)
{
	json_t *o = host_event_to_json(ev);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Runs write over all events for at least a second; returns ns per event. */
static double run(struct host_event *evs, unsigned n, char *(*write)(const struct host_event *),
		  size_t *bytes)
{
	unsigned rounds = 0;
	double t0 = now_s(), t;

	*bytes = 0;
	do {
		for (unsigned i = 0; i < n; i++) {
			char *s = write(&evs[i]);
			if (!s)
				exit(1);
			if (rounds == 0)
				*bytes += strlen(s);
			free(s);
		}
		rounds++;
	} while ((t = now_s() - t0) < 1.0);
	return t * 1e9 / ((double)rounds * n);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000;
	struct host_event *evs;
	size_t bytes, tbytes;

	if (n == 0 || n > 1000000) {
		fprintf(stderr, "usage: bench_event_json [events 1..1000000]\n");
		return 2;
	}
	evs = xcalloc(n, sizeof(*evs));
	for (unsigned i = 0; i < n; i++) {
		host_event_init(&evs[i]);
		build(&evs[i], i);
	}
	double line = run(evs, n, host_event_to_json_line, &bytes);
	double tree = run(evs, n, tree_line, &tbytes);
	printf("%u events (exec and exit alternating), %.0f bytes per line on average\n", n,
	       (double)bytes / n);
	printf("host_event_to_json_line: %.0f ns/event\n", line);
	printf("jansson tree + json_dumps: %.0f ns/event (%.2fx the line writer)\n", tree,
	       tree / line);
	for (unsigned i = 0; i < n; i++)
		host_event_free(&evs[i]);
	free(evs);
	return 0;
}
