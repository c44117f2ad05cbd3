/* bench/sensors: the process sensor under a steady exec load (docs/sensors.md).
 *
 * Starts a watcher (`immune-agent watch --sensors process`: the sensor and the detection
 * pipeline) that prints events as OCSF JSON lines, waits for it to say "ready" on stderr,
 * then spawns /bin/true MARKER-N at a steady rate for a number of seconds, and counts the
 * process_exec events carrying each marker. Prints generated, received, lost (generated - received), the
 * watcher's own lost count (its health line), its CPU time as a percentage of one core
 * (getrusage of the child / its wall time) and its peak RSS (VmHWM).
 *
 * usage: bench_sensors [--rate N] [--seconds N] -- WATCH [ARGS...]
 * e.g.   bench_sensors --rate 1000 --seconds 10 -- build/src/immune-agent watch --sensors process */
#include "lib/common.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct reader {
	int fd;
	char marker[64];
	size_t marker_len;
	uint8_t *seen; /* one byte per spawned process */
	uint64_t n, received, lines;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Counts the exec events that carry marker-N (each N once). */
static void scan_line(struct reader *r, const char *line, size_t len)
{
	r->lines++;
	if (!memmem(line, len, "\"process_exec\"", 14))
		return;
	const char *m = memmem(line, len, r->marker, r->marker_len);
	if (!m)
		return;
	const char *p = m + r->marker_len, *end = line + len;
	uint64_t v = 0;
	bool any = false;
	while (p < end && *p >= '0' && *p <= '9' && v < UINT64_MAX / 10) {
		v = v * 10 + (uint64_t)(*p++ - '0');
		any = true;
	}
	if (any && v < r->n && !r->seen[v]) {
		r->seen[v] = 1;
		r->received++;
	}
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	size_t cap = 1 << 20, have = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (have == cap) {
			have = 0; /* a line longer than the buffer: drop it */
		}
		ssize_t n = read(r->fd, buf + have, cap - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl)
				break;
			scan_line(r, buf + start, (size_t)(nl - (buf + start)));
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	free(buf);
	return NULL;
}

static uint64_t vm_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	uint64_t kib = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtoull(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	long rate = 1000, seconds = 60;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--rate") == 0)
			rate = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtol(argv[++i], NULL, 10);
		else
			goto usage;
	}
	if (i + 1 >= argc || rate <= 0 || rate > 100000 || seconds <= 0 || seconds > 3600)
		goto usage;
	char **watch = &argv[i + 1];

	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return 2;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	pid_t wpid;
	int64_t t0 = now_ns();
	if (posix_spawn(&wpid, watch[0], &fa, NULL, watch, environ) != 0) {
		fprintf(stderr, "bench_sensors: cannot start %s\n", watch[0]);
		return 2;
	}
	close(out[1]);
	close(err[1]);
	FILE *errf = fdopen(err[0], "r");
	char line[512];
	bool ready = false;
	while (!ready && fgets(line, sizeof(line), errf))
		ready = strncmp(line, "ready", 5) == 0;
	if (!ready) {
		fprintf(stderr, "bench_sensors: the watcher did not start\n");
		return 2;
	}

	struct reader r = { .fd = out[0] };
	r.n = (uint64_t)rate * (uint64_t)seconds;
	r.seen = xcalloc(r.n, 1);
	r.marker_len =
		(size_t)snprintf(r.marker, sizeof(r.marker), "immune-bench-%d-", (int)getpid());
	pthread_t th;
	pthread_create(&th, NULL, reader_main, &r);

	/* the load: one spawn every 1/rate s, on an absolute schedule */
	uint64_t generated = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	int64_t period = 1000000000LL / rate;
	int64_t l0 = now_ns();
	struct rusage wru = { 0 };
	bool watcher_gone = false;
	for (uint64_t k = 0; k < r.n; k++) {
		char arg[96];
		snprintf(arg, sizeof(arg), "%s%llu", r.marker, (unsigned long long)k);
		char *cargv[] = { "/bin/true", arg, NULL };
		pid_t c;
		if (posix_spawn(&c, "/bin/true", NULL, NULL, cargv, environ) == 0)
			generated++;
		int st;
		pid_t z;
		struct rusage ru;
		while ((z = wait4(-1, &st, WNOHANG, &ru)) > 0)
			if (z == wpid) {
				wru = ru;
				watcher_gone = true;
			}
		next.tv_nsec += period;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	int64_t l1 = now_ns();
	sleep(2); /* let the last events through */
	uint64_t hwm = watcher_gone ? 0 : vm_hwm_kib(wpid);
	kill(wpid, SIGTERM);
	pthread_join(th, NULL);
	int st;
	pid_t z;
	struct rusage ru;
	while (!watcher_gone && (z = wait4(-1, &st, 0, &ru)) > 0)
		if (z == wpid) {
			wru = ru;
			watcher_gone = true;
		}
	int64_t t1 = now_ns();
	uint64_t wlost = 0;
	while (fgets(line, sizeof(line), errf)) {
		const char *p = strstr(line, " lost=");
		if (strncmp(line, "health process", 14) == 0 && p)
			wlost = strtoull(p + 6, NULL, 10);
	}
	double cpu = (double)wru.ru_utime.tv_sec + wru.ru_utime.tv_usec / 1e6 +
		     (double)wru.ru_stime.tv_sec + wru.ru_stime.tv_usec / 1e6;
	double wall = (double)(t1 - t0) / 1e9;
	printf("load: %llu execs in %.1f s (%.0f/s)\n", (unsigned long long)generated,
	       (double)(l1 - l0) / 1e9, (double)generated / ((double)(l1 - l0) / 1e9));
	printf("received: %llu marked exec events (%llu lines), missing %llu, watcher lost=%llu\n",
	       (unsigned long long)r.received, (unsigned long long)r.lines,
	       (unsigned long long)(generated - r.received), (unsigned long long)wlost);
	printf("watcher cpu: %.2f s in %.1f s wall = %.2f%% of one core\n", cpu, wall,
	       100.0 * cpu / wall);
	printf("watcher peak rss: VmHWM %llu KiB, ru_maxrss %ld KiB\n", (unsigned long long)hwm,
	       wru.ru_maxrss);
	free(r.seen);
	return 0;
usage:
	fprintf(stderr, "usage: bench_sensors [--rate N] [--seconds N] -- WATCH [ARGS...]\n");
	return 2;
}
