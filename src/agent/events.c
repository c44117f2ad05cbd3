/* immune-agent events: prints the events and alerts the detector appended to
 * STATE/events.jsonl (and events.jsonl.1, the file before the last rotation), oldest first;
 * --follow keeps reading across rotations, like tail -F (docs/agent.md). */
#include "agent/agent.h"
#include "agent/agent_config.h"
#include "agent/detector.h"
#include "lib/log.h"
#include "server/duration.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_LINE_MAX (32u * 1024 * 1024)
#define FOLLOW_POLL_MS 250

struct events_opts {
	bool json, alerts_only, follow;
	int64_t since_ms; /* 0: everything */
	bool tty;
};

/* A file read in chunks and split into lines; a partial last line waits for the rest. */
struct reader {
	int fd;
	ino_t ino;
	char *buf;
	size_t len, cap;
	bool skipping; /* inside a line longer than EVENTS_LINE_MAX */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(void)
{
	printf("usage: immune-agent events [--state DIR] [--follow] [--alerts] [--since T] "
	       "[--json]\n\n"
	       "Prints the events and alerts the detector recorded on this host (STATE/%s,\n"
	       "rotated at 64 MiB to %s.1), and the results of response actions, oldest first.\n\n"
	       "  --state DIR  state directory (default %s)\n"
	       "  --follow     keep printing what is appended (across rotations)\n"
	       "  --alerts     alerts only\n"
	       "  --since T    from time T: RFC 3339 (2026-01-31T08:00:00Z) or an age (10m, 2h)\n"
	       "  --json       the OCSF JSON lines as recorded\n",
	       DETECTOR_EVENTS_FILE, DETECTOR_EVENTS_FILE, AGENT_DEFAULT_STATE_DIR);
}

static int usage_err(const char *fmt, ...) _printf_(1, 2);
static int usage_err(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "immune-agent events: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'immune-agent events --help'.\n");
	return 2;
}

/* RFC 3339 (UTC "Z" or a numeric offset) or an age; milliseconds since the epoch. */
static int parse_since(const char *s, int64_t *out_ms)
{
	int64_t age;
	if (duration_parse(s, 100LL * 365 * 86400, &age) == 0) {
		*out_ms = ((int64_t)time(NULL) - age) * 1000;
		return 0;
	}
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	int64_t frac_ms = 0;
	if (*end == '.') {
		int64_t scale = 100;
		for (end++; *end >= '0' && *end <= '9'; end++) {
			frac_ms += (*end - '0') * scale;
			scale /= 10;
		}
	}
	int64_t off = 0;
	if (*end == 'Z' || *end == 'z') {
		end++;
	} else if ((*end == '+' || *end == '-') && strlen(end) == 6 && end[3] == ':') {
		int h = (end[1] - '0') * 10 + (end[2] - '0');
		int m = (end[4] - '0') * 10 + (end[5] - '0');
		if (h < 0 || h > 23 || m < 0 || m > 59)
			return -EINVAL;
		off = (end[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
		end += 6;
	} else {
		return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	*out_ms = ((int64_t)timegm(&tm) - off) * 1000 + frac_ms;
	return 0;
}

/* ---- one record ---- */

static const char *jstr(const json_t *o, const char *path)
{
	char key[64];
	while (o) {
		const char *dot = strchr(path, '.');
		if (!dot)
			return json_string_value(json_object_get(o, path));
		size_t n = (size_t)(dot - path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return NULL;
}

static void format_ms(int64_t ms, char *s, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(s, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(s, n, "?");
}

static void print_human(const json_t *o, const struct events_opts *eo)
{
	char when[32];
	format_ms(json_integer_value(json_object_get(o, "time")), when, sizeof(when));
	const json_t *ar = json_object_get(o, "action_result");
	if (json_is_object(ar)) {
		/* the responder's line: {"time": MS, "action_result": {...}} */
		const char *kind = jstr(ar, "kind"), *op = jstr(ar, "op");
		const char *status = jstr(ar, "status"), *msg = jstr(ar, "message");
		const char *origin = jstr(ar, "origin"), *uid = jstr(ar, "uid");
		printf("%s  ACTION %s %s %s: %s  (%s, action %s)\n", when, op ? op : "?",
		       kind ? kind : "?", status ? status : "?", msg ? msg : "",
		       origin ? origin : "?", uid ? uid : "?");
		return;
	}
	json_int_t cls = json_integer_value(json_object_get(o, "class_uid"));
	if (cls == 2004) {
		const char *level = jstr(o, "unmapped.level");
		const char *title = jstr(o, "finding_info.title");
		const char *rule = jstr(o, "finding_info.analytic.uid");
		const char *pre = eo->tty ? "\033[1;31m" : "", *post = eo->tty ? "\033[0m" : "";
		printf("%s  %sALERT %-8s %s%s  (rule %s)\n", when, pre, level ? level : "?",
		       title ? title : "?", post, rule ? rule : "?");
		return;
	}
	const char *kind = jstr(o, "unmapped.kind");
	bool proc = cls == 1007;
	const char *image = jstr(o, proc ? "process.file.path" : "actor.process.file.path");
	const char *puser = jstr(o, proc ? "process.user.name" : "actor.process.user.name");
	const char *user = jstr(o, "user.name");
	const char *file = jstr(o, "file.path");
	const char *src = jstr(o, "src_endpoint.ip");
	const char *dst = jstr(o, "dst_endpoint.ip");
	const char *status = jstr(o, "status");
	printf("%s  %-16s", when, kind ? kind : "?");
	if (cls == 3002 || cls == 3001 || cls == 3003 || cls == 3006) {
		printf(" user %s", user ? user : "?");
		if (status)
			printf(" %s", status);
		if (src)
			printf(" from %s", src);
	} else {
		json_int_t pid = json_integer_value(
			json_object_get(json_object_get(o, proc ? "process" : "actor"), "pid"));
		if (!proc)
			pid = json_integer_value(json_object_get(
				json_object_get(json_object_get(o, "actor"), "process"), "pid"));
		if (image)
			printf(" %s", image);
		if (pid && puser)
			printf(" (pid %lld, user %s)", (long long)pid, puser);
		else if (puser)
			printf(" (user %s)", puser);
		if (cls == 1001 && file)
			printf(" %s", file);
		if (cls == 4001 && dst)
			printf(" -> %s", dst);
	}
	putchar('\n');
}

static void handle_line(const char *p, size_t len, const struct events_opts *eo)
{
	json_t *o = json_loadb(p, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return; /* a line cut by a crash: nothing to show */
	}
	json_int_t cls = json_integer_value(json_object_get(o, "class_uid"));
	json_int_t t = json_integer_value(json_object_get(o, "time"));
	if ((!eo->alerts_only || cls == 2004) && (!eo->since_ms || t >= eo->since_ms)) {
		if (eo->json)
			printf("%.*s\n", (int)len, p);
		else
			print_human(o, eo);
	}
	json_decref(o);
}

/* ---- reading ---- */

static int reader_open(struct reader *r, const char *path)
{
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	struct stat st;
	r->ino = fstat(r->fd, &st) == 0 ? st.st_ino : 0;
	r->len = 0;
	r->skipping = false;
	return 0;
}

static void reader_close(struct reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* Reads what is there and handles each complete line. Returns bytes read (0 at the end). */
static ssize_t reader_pump(struct reader *r, const struct events_opts *eo)
{
	ssize_t total = 0;
	for (;;) {
		if (r->cap - r->len < 65536) {
			r->cap = r->cap ? r->cap * 2 : 1u << 20;
			r->buf = xrealloc(r->buf, r->cap);
		}
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : total;
		total += n;
		r->len += (size_t)n;
		size_t start = 0;
		for (size_t i = r->len - (size_t)n; i < r->len; i++) {
			if (r->buf[i] != '\n')
				continue;
			if (!r->skipping)
				handle_line(r->buf + start, i - start, eo);
			r->skipping = false;
			start = i + 1;
		}
		memmove(r->buf, r->buf + start, r->len - start);
		r->len -= start;
		if (r->len > EVENTS_LINE_MAX) {
			r->skipping = true; /* not a line we will print; drop until its end */
			r->len = 0;
		}
		fflush(stdout);
	}
}

static int dump_file(const char *path, const struct events_opts *eo)
{
	struct reader r = { .fd = -1 };
	int e = reader_open(&r, path);
	if (e == -ENOENT)
		return 0;
	if (e < 0) {
		fprintf(stderr, "immune-agent events: %s: %s\n", path, strerror(-e));
		return e;
	}
	ssize_t n = reader_pump(&r, eo);
	reader_close(&r);
	free(r.buf);
	if (n < 0)
		fprintf(stderr, "immune-agent events: reading %s: %s\n", path, strerror((int)-n));
	return n < 0 ? (int)n : 0;
}

/* tail -F: the current file to its end, then whatever is appended; when the path names a new
 * file (rotation), the rest of the old one and then the new one from its start. */
static int follow(const char *path, const struct events_opts *eo)
{
	struct reader r = { .fd = -1 };
	if (reader_open(&r, path) < 0)
		r.fd = -1;
	while (!stop_flag) {
		if (r.fd >= 0 && reader_pump(&r, eo) < 0)
			reader_close(&r);
		struct stat st;
		bool rotated = stat(path, &st) == 0 && (r.fd < 0 || st.st_ino != r.ino);
		if (rotated) {
			if (r.fd >= 0)
				reader_pump(&r, eo);
			reader_close(&r);
			if (reader_open(&r, path) < 0)
				r.fd = -1;
			continue;
		}
		poll(NULL, 0, FOLLOW_POLL_MS);
	}
	reader_close(&r);
	free(r.buf);
	return 0;
}

int agent_events_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'd' },
		{ "follow", no_argument, NULL, 'f' },
		{ "alerts", no_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *dir = AGENT_DEFAULT_STATE_DIR;
	struct events_opts eo = { .tty = isatty(STDOUT_FILENO) };
	int c;
	while ((c = getopt_long(argc, argv, "d:fas:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'f': eo.follow = true; break;
		case 'a': eo.alerts_only = true; break;
		case 's':
			if (parse_since(optarg, &eo.since_ms) < 0)
				return usage_err("invalid --since '%s' (RFC 3339 like "
						 "2026-01-31T08:00:00Z, or an age like 10m)",
						 optarg);
			break;
		case 'j': eo.json = true; break;
		case 'h': usage(); return 0;
		default: return usage_err("%s", "invalid option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	_cleanup_free_ char *path = agent_state_path(dir, DETECTOR_EVENTS_FILE);
	_cleanup_free_ char *old = xasprintf("%s.1", path);
	struct stat st;
	if (!eo.follow && stat(path, &st) < 0 && stat(old, &st) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "immune-agent events: %s: %s\n", path, strerror(errno));
			return 2;
		}
		fprintf(stderr, "immune-agent events: nothing recorded yet in %s\n", dir);
		return 0;
	}
	if (dump_file(old, &eo) < 0)
		return 2;
	if (!eo.follow)
		return dump_file(path, &eo) < 0 ? 2 : 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return follow(path, &eo) < 0 ? 2 : 0;
}
