/* immune-agent watch: runs the sensors and the detection pipeline in the foreground and prints
 * each event and alert as an OCSF JSON line on stdout (docs/detection.md).
 *
 * stderr carries "ready" once the sensors are started, then at the end one health line per
 * sensor, one pipeline line and, with --stats, one JSON object. */
#include "agent/watch.h"

#include "config.h"
#include "detect/alert.h"
#include "detect/pipeline.h"
#include "detect/sensor.h"
#include "detect/sensor_mech.h"
#include "lib/str.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { WATCH_OK = 0, WATCH_ERROR = 2 };

static const struct sensor_ops *const all_sensors[] = { &sensor_process, &sensor_network,
							&sensor_auth, &sensor_fim };
#define N_SENSORS ARRAY_SIZE(all_sensors)

struct watch {
	struct event_base *base;
	struct pipeline *p;
	bool alerts_only;
	bool stats;
	struct sensor_config cfg;
	bool want[N_SENSORS];
	void *state[N_SENSORS];
	char state_dir[4096];
	bool state_is_temp;
};

static void watch_help(void)
{
	printf("usage: immune-agent watch [--sensors LIST] [--rules PATH | --no-rules]\n"
	       "                          [--alerts-only] [--duration SECONDS] [--state DIR]\n"
	       "                          [--stats] [sensor options]\n\n"
	       "Runs the sensors and the detection pipeline in the foreground and prints each\n"
	       "event and alert as an OCSF JSON line on stdout; \"ready\" on stderr once the\n"
	       "sensors started, health lines on stderr at the end. Stops on SIGINT or SIGTERM.\n\n"
	       "  --sensors LIST              process,network,auth,fim (default: all)\n"
	       "  --process-mechanism M       auto, ebpf, proc_connector or off\n"
	       "  --network-mechanism M       auto, ebpf, poll or off\n"
	       "  --poll-ms N                 network poll interval (default 1000)\n"
	       "  --auth-log FILE             a log file to follow (repeatable; default\n"
	       "                              /var/log/auth.log and /var/log/secure)\n"
	       "  --fim-path DIR              a path to watch (repeatable; default: the\n"
	       "                              sensitive files, docs/sensor-fim.md)\n"
	       "  --fim-mechanism M           auto, fanotify, inotify or off\n"
	       "  --rules PATH                Sigma rules, a file or a directory (default %s\n"
	       "                              when it exists, else none)\n"
	       "  --no-rules                  no rules (events and baseline anomalies only)\n"
	       "  --learning SECONDS          baseline learning period (default 24h)\n"
	       "  --alerts-only               print alerts only\n"
	       "  --json                      JSON lines (the default and only form)\n"
	       "  --duration SECONDS          stop after this long (default: until a signal)\n"
	       "  --state DIR                 baselines and offsets (default: a temporary\n"
	       "                              directory removed at exit)\n"
	       "  --stats                     a JSON object on stderr at the end: sensor\n"
	       "                              health, pipeline counts, CPU time and peak memory\n",
	       IMMUNE_RULES_DIR);
}

static int watch_usage(const char *fmt, ...) _printf_(1, 2);
static int watch_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "immune-agent watch: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'immune-agent watch --help'.\n");
	return WATCH_ERROR;
}

static bool one_of(const char *v, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(v, *names) == 0)
			return true;
	return false;
}

static int parse_sensors(struct watch *w, const char *list)
{
	_cleanup_strv_ strv names = str_split(list, ",");
	memset(w->want, 0, sizeof(w->want));
	if (!names[0])
		return -EINVAL;
	for (char **n = names; *n; n++) {
		size_t i = 0;
		while (i < N_SENSORS && strcmp(*n, all_sensors[i]->name) != 0)
			i++;
		if (i == N_SENSORS)
			return -EINVAL;
		w->want[i] = true;
	}
	return 0;
}

/* ---- the sink: stdout ---- */

static void print_event(const struct host_event *ev, const char *json, size_t len, void *arg)
{
	(void)ev;
	(void)arg;
	fwrite(json, 1, len, stdout);
	fputc('\n', stdout);
}

static void print_alert(const struct alert *a, void *arg)
{
	(void)arg;
	json_t *j = alert_to_json(a);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
	}
	free(s);
	json_decref(j);
}

static void on_emit(struct host_event *ev, void *arg)
{
	struct watch *w = arg;
	pipeline_event(w->p, ev);
}

/* ---- the loop ---- */

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

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	struct timespec ts;
	(void)fd;
	(void)what;
	clock_gettime(CLOCK_REALTIME, &ts);
	pipeline_tick(w->p, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static uint64_t vm_hwm_kib(void)
{
	char line[256];
	uint64_t kib = 0, v;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmHWM:", 6) != 0)
			continue;
		char *s = str_trim(line + 6);
		char *sp = strchr(s, ' ');
		if (sp)
			*sp = '\0';
		if (parse_u64(s, 10, UINT64_MAX, &v) == 0)
			kib = v;
	}
	fclose(f);
	return kib;
}

static json_t *health_json(const struct sensor_health *h)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:s}", "name", h->name, "mechanism",
			 h->mechanism ? h->mechanism : "none", "active", h->active, "events",
			 (json_int_t)h->events, "lost", (json_int_t)h->lost, "skipped",
			 (json_int_t)h->skipped, "message", h->message);
}

/* Health lines (and the --stats object) on stderr; then stops the sensors. */
static void report_and_stop(struct watch *w)
{
	json_t *sensors = json_array();
	for (size_t i = 0; i < N_SENSORS; i++) {
		if (!w->state[i])
			continue;
		struct sensor_health h = { 0 };
		all_sensors[i]->health(w->state[i], &h);
		fprintf(stderr,
			"health %s mechanism=%s active=%d events=%llu lost=%llu skipped=%llu "
			"message=%s\n",
			h.name, h.mechanism ? h.mechanism : "none", h.active,
			(unsigned long long)h.events, (unsigned long long)h.lost,
			(unsigned long long)h.skipped, h.message);
		json_array_append_new(sensors, health_json(&h));
		all_sensors[i]->stop(w->state[i]);
		w->state[i] = NULL;
	}
	fflush(stdout);

	struct pipeline_stats ps;
	size_t n_errors = 0;
	pipeline_stats(w->p, &ps);
	sigma_ruleset_errors(pipeline_rules(w->p), &n_errors);
	fprintf(stderr,
		"pipeline events=%llu alerts=%llu rule_matches=%llu anomalies=%llu "
		"output_errors=%llu\n",
		(unsigned long long)ps.events, (unsigned long long)ps.alerts,
		(unsigned long long)ps.rule_matches, (unsigned long long)ps.anomalies,
		(unsigned long long)ps.output_errors);
	if (w->stats) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		json_t *doc = json_pack(
			"{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:f, s:f, s:I}", "sensors",
			sensors, "pipeline", "events", (json_int_t)ps.events, "alerts",
			(json_int_t)ps.alerts, "rule_matches", (json_int_t)ps.rule_matches,
			"anomalies", (json_int_t)ps.anomalies, "output_errors",
			(json_int_t)ps.output_errors, "rules",
			(json_int_t)sigma_ruleset_count(pipeline_rules(w->p)), "rule_errors",
			(json_int_t)n_errors, "cpu_user_s",
			(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
			"cpu_system_s",
			(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
			"vm_hwm_kib", (json_int_t)vm_hwm_kib());
		char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (s)
			fprintf(stderr, "%s\n", s);
		free(s);
		json_decref(doc);
	} else {
		json_decref(sensors);
	}
}

static int start_sensors(struct watch *w)
{
	struct sensor_ctx ctx = { .base = w->base, .cfg = &w->cfg, .emit = on_emit, .emit_arg = w };
	for (size_t i = 0; i < N_SENSORS; i++) {
		if (!w->want[i])
			continue;
		int r = all_sensors[i]->start(&ctx, &w->state[i]);
		if (r < 0) {
			w->state[i] = NULL;
			fprintf(stderr, "immune-agent watch: %s sensor: %s\n", all_sensors[i]->name,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

static void report_rule_errors(const struct pipeline *p, const char *rules)
{
	size_t n = 0;
	const struct sigma_error *e = sigma_ruleset_errors(pipeline_rules(p), &n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "immune-agent watch: %s:%u: %s%s%s (rule skipped)\n", e[i].file,
			e[i].line, e[i].rule_id ? e[i].rule_id : "", e[i].rule_id ? ": " : "",
			e[i].message);
	if (rules)
		fprintf(stderr, "rules: %zu loaded from %s, %zu skipped\n",
			sigma_ruleset_count(pipeline_rules(p)), rules, n);
}

/* The loop: signals, the duration, the tick and the stdout flush. */
static void run_loop(struct watch *w, uint64_t duration)
{
	struct event *sig_int = evsignal_new(w->base, SIGINT, on_stop, w->base);
	struct event *sig_term = evsignal_new(w->base, SIGTERM, on_stop, w->base);
	struct event *timer = evtimer_new(w->base, on_stop, w->base);
	struct event *flush = event_new(w->base, -1, EV_PERSIST, on_flush, NULL);
	struct event *tick = event_new(w->base, -1, EV_PERSIST, on_tick, w);
	struct timeval tv = { .tv_sec = (time_t)duration }, ftv = { .tv_usec = 100000 },
		       ttv = { .tv_sec = 1 };
	if (sig_int)
		event_add(sig_int, NULL);
	if (sig_term)
		event_add(sig_term, NULL);
	if (flush)
		event_add(flush, &ftv);
	if (tick)
		event_add(tick, &ttv);
	if (duration > 0 && timer)
		event_add(timer, &tv);
	fprintf(stderr, "ready\n");
	event_base_dispatch(w->base);
	sensor_loop_event_free(sig_int);
	sensor_loop_event_free(sig_term);
	sensor_loop_event_free(timer);
	sensor_loop_event_free(flush);
	sensor_loop_event_free(tick);
}

static int make_state_dir(struct watch *w, const char *dir)
{
	if (dir) {
		snprintf(w->state_dir, sizeof(w->state_dir), "%s", dir);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		return 0;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(w->state_dir, sizeof(w->state_dir), "%s/immune-watch-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(w->state_dir))
		return -errno;
	w->state_is_temp = true;
	return 0;
}

struct watch_args {
	const char *sensors, *rules, *state;
	bool no_rules;
	uint64_t duration, learning_s;
	strv auth_logs, fim_paths;
};

static int parse_args(int argc, char **argv, struct watch *w, struct watch_args *a)
{
	static const struct option opts[] = {
		{ "sensors", required_argument, NULL, 's' },
		{ "process-mechanism", required_argument, NULL, 'P' },
		{ "network-mechanism", required_argument, NULL, 'N' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "auth-log", required_argument, NULL, 'a' },
		{ "fim-path", required_argument, NULL, 'f' },
		{ "fim-mechanism", required_argument, NULL, 'F' },
		{ "rules", required_argument, NULL, 'r' },
		{ "no-rules", no_argument, NULL, 'R' },
		{ "learning", required_argument, NULL, 'l' },
		{ "alerts-only", no_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		{ "duration", required_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 'S' },
		{ "stats", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char *const proc_mechs[] = { "auto", "ebpf", "proc_connector", "off", NULL };
	static const char *const net_mechs[] = { "auto", "ebpf", "poll", "off", NULL };
	static const char *const fim_mechs[] = { "auto", "fanotify", "inotify", "off", NULL };
	uint64_t v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': a->sensors = optarg; break;
		case 'P':
			if (!one_of(optarg, proc_mechs))
				return watch_usage("invalid --process-mechanism '%s' (auto, ebpf, "
						   "proc_connector, off)",
						   optarg);
			w->cfg.process_mechanism = optarg;
			break;
		case 'N':
			if (!one_of(optarg, net_mechs))
				return watch_usage("invalid --network-mechanism '%s' (auto, ebpf, "
						   "poll, off)",
						   optarg);
			w->cfg.network_mechanism = optarg;
			break;
		case 'F':
			if (!one_of(optarg, fim_mechs))
				return watch_usage("invalid --fim-mechanism '%s' (auto, fanotify, "
						   "inotify, off)",
						   optarg);
			w->cfg.fim_mechanism = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, 10, 3600000, &v) < 0 || v < 10)
				return watch_usage("invalid --poll-ms '%s' (10 to 3600000)",
						   optarg);
			w->cfg.network_poll_ms = (uint32_t)v;
			break;
		case 'a': strv_push(&a->auth_logs, optarg); break;
		case 'f': strv_push(&a->fim_paths, optarg); break;
		case 'r': a->rules = optarg; break;
		case 'R': a->no_rules = true; break;
		case 'l':
			if (parse_u64(optarg, 10, 365 * 86400, &v) < 0 || v == 0)
				return watch_usage("invalid --learning '%s' (seconds, at least 1)",
						   optarg);
			a->learning_s = v;
			break;
		case 'A': w->alerts_only = true; break;
		case 'j': break;
		case 'd':
			if (parse_u64(optarg, 10, 30 * 86400, &v) < 0 || v == 0)
				return watch_usage(
					"invalid --duration '%s' (seconds, 1 to 2592000)", optarg);
			a->duration = v;
			break;
		case 'S': a->state = optarg; break;
		case 't': w->stats = true; break;
		case 'h': watch_help(); return -1;
		default: return watch_usage("invalid option");
		}
	}
	if (optind < argc)
		return watch_usage("unexpected argument '%s'", argv[optind]);
	if (a->rules && a->no_rules)
		return watch_usage("--rules and --no-rules exclude each other");
	if (parse_sensors(w, a->sensors) < 0)
		return watch_usage("invalid --sensors '%s' (a list of process, network, auth, fim)",
				   a->sensors);
	return 0;
}

static int watch_run(struct watch *w, struct watch_args *a)
{
	const char *rules = a->rules;
	if (!rules && !a->no_rules && access(IMMUNE_RULES_DIR, R_OK) == 0)
		rules = IMMUNE_RULES_DIR;
	int r = make_state_dir(w, a->state);
	if (r < 0) {
		fprintf(stderr, "immune-agent watch: state directory %s: %s\n",
			a->state ? a->state : "(temporary)", strerror(-r));
		return WATCH_ERROR;
	}
	_cleanup_free_ char *bl_path = xasprintf("%s/baseline.state", w->state_dir);
	struct pipeline_options po = {
		.rules = rules,
		.baseline_path = bl_path,
		.baseline_learning_ns = (int64_t)a->learning_s * 1000000000,
		/* with --alerts-only the events are not even serialized */
		.sink = { .event = w->alerts_only ? NULL : print_event,
			  .alert = print_alert,
			  .arg = w },
	};
	r = pipeline_new(&po, &w->p);
	if (r < 0) {
		fprintf(stderr, "immune-agent watch: rules %s: %s\n", rules ? rules : "",
			strerror(-r));
		return WATCH_ERROR;
	}
	report_rule_errors(w->p, rules);

	w->cfg.root = "/";
	w->cfg.state_dir = w->state_dir;
	w->cfg.auth_logs = a->auth_logs;
	w->cfg.fim_paths = a->fim_paths;
	w->cfg.fim_scan_interval_s = 3600;
	if (evthread_use_pthreads() < 0 || !(w->base = event_base_new())) {
		fprintf(stderr, "immune-agent watch: cannot create the event loop\n");
		return WATCH_ERROR;
	}
	r = start_sensors(w);
	if (r == 0)
		run_loop(w, a->duration);
	report_and_stop(w);
	return r < 0 ? WATCH_ERROR : WATCH_OK;
}

int agent_watch_main(int argc, char **argv)
{
	struct watch w = { 0 };
	struct watch_args a = { .sensors = "process,network,auth,fim" };

	int r = parse_args(argc, argv, &w, &a);
	if (r == 0)
		r = watch_run(&w, &a);
	else if (r < 0)
		r = WATCH_OK; /* --help */
	pipeline_free(w.p);
	if (w.base)
		event_base_free(w.base);
	if (w.state_is_temp)
		nftw(w.state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	strv_free(a.auth_logs);
	strv_free(a.fim_paths);
	fflush(stdout);
	return r;
}
