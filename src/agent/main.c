/* immune-agent enroll | run | status | events | principals ... (docs/agent.md). Exit codes: 0 ok, 1 not running or
 * not enrolled (status), 2 usage or runtime error. */
#include "agent/agent.h"
#include "agent/access.h"
#include "agent/agent_config.h"
#include "agent/agent_yaml.h"
#include "agent/enroll.h"
#include "agent/link.h"
#include "agent/respond_cmd.h"
#include "agent/session_msg.h"
#include "agent/watch.h"
#include "config.h"
#include "lib/log.h"
#include "trust/pki.h"

#include <getopt.h>
#include <malloc.h>
#include <jansson.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_NOT_RUNNING = 1, EXIT_ERROR = 2 };

static int usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);
static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "immune-agent %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'immune-agent %s --help'.\n", cmd);
	return EXIT_ERROR;
}

/* "90", "90s", "5m", "1h", "2d" -> seconds in [1, 30 days] */
static int parse_duration(const char *s, uint32_t *out)
{
	size_t n = strlen(s);
	uint64_t mult = 1, v;
	if (n == 0)
		return -EINVAL;
	_cleanup_free_ char *num = xstrdup(s);
	switch (s[n - 1]) {
	case 's':
		mult = 1;
		num[n - 1] = '\0';
		break;
	case 'm':
		mult = 60;
		num[n - 1] = '\0';
		break;
	case 'h':
		mult = 3600;
		num[n - 1] = '\0';
		break;
	case 'd':
		mult = 86400;
		num[n - 1] = '\0';
		break;
	default: break;
	}
	if (parse_u64(num, 10, 30 * 86400, &v) < 0 || v * mult == 0 || v * mult > 30 * 86400)
		return -EINVAL;
	*out = (uint32_t)(v * mult);
	return 0;
}

/* "1048576", "64K", "256M", "1G" -> bytes, at least 1 MiB */
static int parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t mult = 1, v;
	if (n == 0)
		return -EINVAL;
	_cleanup_free_ char *num = xstrdup(s);
	switch (s[n - 1]) {
	case 'K':
	case 'k':
		mult = 1ull << 10;
		num[n - 1] = '\0';
		break;
	case 'M':
	case 'm':
		mult = 1ull << 20;
		num[n - 1] = '\0';
		break;
	case 'G':
	case 'g':
		mult = 1ull << 30;
		num[n - 1] = '\0';
		break;
	default: break;
	}
	if (parse_u64(num, 10, 1ull << 40, &v) < 0 || v * mult < (1u << 20))
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_level(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- enroll ---- */

static void enroll_help(void)
{
	printf("usage: immune-agent enroll --server HOST:PORT --token TOKEN [--state DIR]\n"
	       "                           [--label KEY=VALUE]... [--json]\n\n"
	       "Creates this host's key, obtains its certificate from the server with a join\n"
	       "token ('immune token create') and saves the identity in the state directory.\n"
	       "Enrolling again keeps the host id.\n\n"
	       "  --server HOST:PORT  the server's agent listener\n"
	       "  --token TOKEN       the join token (it also pins the fleet's CA)\n"
	       "  --state DIR         state directory (default %s)\n"
	       "  --label KEY=VALUE   a host label (repeatable; default: the labels saved)\n"
	       "  --json              print {\"host_id\", \"server\"} as JSON\n",
	       AGENT_DEFAULT_STATE_DIR);
}

static int cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 'd' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "machine-id-file", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct enroll_options o = { .state_dir = AGENT_DEFAULT_STATE_DIR,
				    .machine_id_file = "/etc/machine-id" };
	_cleanup_strv_ strv labels = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "s:t:d:l:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 't': o.token = optarg; break;
		case 'd': o.state_dir = optarg; break;
		case 'l': strv_push(&labels, optarg); break;
		case 'j': json = true; break;
		case 'M': o.machine_id_file = *optarg ? optarg : NULL; break;
		case 'h': enroll_help(); return EXIT_OK;
		default: return usage_error("enroll", "invalid option");
		}
	}
	if (optind < argc)
		return usage_error("enroll", "unexpected argument '%s'", argv[optind]);
	if (!o.server || !o.token)
		return usage_error("enroll", "--server and --token are required");
	o.labels = (const char *const *)labels;
	struct enroll_result res;
	int r = agent_enroll(&o, &res);
	if (r < 0) {
		fprintf(stderr, "immune-agent enroll: %s\n", res.message);
		return EXIT_ERROR;
	}
	if (json) {
		json_t *doc = json_pack("{s:s, s:s, s:s}", "host_id", res.host_id, "server",
					o.server, "state", o.state_dir);
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(doc);
	} else {
		printf("enrolled as %s with %s\n", res.host_id, o.server);
	}
	return EXIT_OK;
}

/* ---- run ---- */

static void run_help(void)
{
	printf("usage: immune-agent run [--state DIR] [--root DIR] [--catalog PATH]\n"
	       "                        [--scan-interval DURATION] [--inventory-interval "
	       "DURATION]\n"
	       "                        [--spool-max SIZE] [--synthetic N] [--log-level LEVEL]\n"
	       "                        [--config FILE] [--no-detect] [--no-respond] "
	       "[--no-access]\n"
	       "                        [--replay FILE.jsonl]\n\n"
	       "Keeps a connection to the server, sends the inventory (what changed) and scan\n"
	       "results through the durable spool, and applies the server's configuration.\n\n"
	       "  --state DIR                 state directory (default %s)\n"
	       "  --root DIR                  collect below DIR instead of / (fixtures, images)\n"
	       "  --catalog PATH              catalog when the server sent none (default: "
	       "installed)\n"
	       "  --scan-interval DURATION    scan at least this often (default 1h)\n"
	       "  --inventory-interval DUR.   collect the inventory this often (default 5m)\n"
	       "  --spool-max SIZE            bound of the spool on disk (default 256M)\n"
	       "  --synthetic N               generate test events until N were spooled in all\n"
	       "  --no-collect                do not collect (link only; tests, benchmarks)\n"
	       "  --config FILE               configuration: sensors, baseline, outputs (default\n"
	       "                              %s; missing: defaults)\n"
	       "  --no-detect                 no detector: no sensors, no rules\n"
	       "  --no-respond                no responder: no executor, no response actions\n"
	       "  --no-access                 no access role: sshd left alone, no login decisions\n"
	       "  --replay FILE.jsonl         detect on these OCSF events instead of the sensors\n"
	       "  --log-level LEVEL           error, warn, info (default) or debug\n",
	       AGENT_DEFAULT_STATE_DIR, AGENT_YAML_DEFAULT_PATH);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'd' },
		{ "root", required_argument, NULL, 'r' },
		{ "catalog", required_argument, NULL, 'c' },
		{ "scan-interval", required_argument, NULL, 'S' },
		{ "inventory-interval", required_argument, NULL, 'I' },
		{ "spool-max", required_argument, NULL, 'm' },
		{ "synthetic", required_argument, NULL, 'n' },
		{ "no-collect", no_argument, NULL, 'N' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "config", required_argument, NULL, 'C' },
		{ "no-detect", no_argument, NULL, 'D' },
		{ "no-respond", no_argument, NULL, 'X' },
		{ "no-access", no_argument, NULL, 'A' },
		{ "replay", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct agent_run_options o = { .state_dir = AGENT_DEFAULT_STATE_DIR,
				       .config = AGENT_YAML_DEFAULT_PATH,
				       .root = "/",
				       .scan_interval_s = AGENT_DEFAULT_SCAN_INTERVAL_S,
				       .inventory_interval_s = AGENT_DEFAULT_INVENTORY_INTERVAL_S };
	enum log_level level = LOG_LEVEL_INFO;
	int c;
	while ((c = getopt_long(argc, argv, "d:r:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o.state_dir = optarg; break;
		case 'r': o.root = optarg; break;
		case 'c': o.catalog = optarg; break;
		case 'S':
			if (parse_duration(optarg, &o.scan_interval_s) < 0)
				return usage_error("run",
						   "invalid --scan-interval '%s' (e.g. 1h, "
						   "30m, 90s)",
						   optarg);
			break;
		case 'I':
			if (parse_duration(optarg, &o.inventory_interval_s) < 0)
				return usage_error("run", "invalid --inventory-interval '%s'",
						   optarg);
			break;
		case 'm':
			if (parse_size(optarg, &o.spool_max) < 0)
				return usage_error(
					"run", "invalid --spool-max '%s' (e.g. 256M; at least 1M)",
					optarg);
			break;
		case 'n':
			if (parse_u64(optarg, 10, UINT64_MAX - 1, &o.synthetic) < 0)
				return usage_error("run", "invalid --synthetic '%s'", optarg);
			break;
		case 'N': o.no_collect = true; break;
		case 'C': o.config = optarg; break;
		case 'D': o.no_detect = true; break;
		case 'X': o.no_respond = true; break;
		case 'A': o.no_access = true; break;
		case 'R': o.replay = optarg; break;
		case 'L':
			if (parse_level(optarg, &level) < 0)
				return usage_error("run",
						   "invalid --log-level '%s' (error, warn, "
						   "info, debug)",
						   optarg);
			break;
		case 'h': run_help(); return EXIT_OK;
		default: return usage_error("run", "invalid option");
		}
	}
	if (optind < argc)
		return usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (o.replay && o.no_detect)
		return usage_error("run", "--replay needs the detector (drop --no-detect)");
	log_set_level(level);
	return agent_run(&o) < 0 ? EXIT_ERROR : EXIT_OK;
}

/* ---- status ---- */

static void status_help(void)
{
	printf("usage: immune-agent status [--state DIR] [--json]\n\n"
	       "Shows the host id, server, certificate expiry and, from the running agent's\n"
	       "STATE/status.json, the connection and the spool of each stream.\n"
	       "Exit status: 0 running, 1 not running or not enrolled, 2 error.\n");
}

static json_t *load_status(const char *dir)
{
	_cleanup_free_ char *p = agent_state_path(dir, "status.json");
	struct buf b = { 0 };
	if (file_read_capped(p, 1u << 20, &b) < 0)
		return NULL;
	json_t *doc = json_loadb(buf_str(&b), buf_len(&b), 0, NULL);
	buf_free(&b);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static bool status_running(const json_t *st)
{
	json_int_t pid = json_integer_value(json_object_get(st, "pid"));
	json_int_t updated = json_integer_value(json_object_get(st, "updated"));
	return pid > 0 && kill((pid_t)pid, 0) == 0 &&
	       (int64_t)time(NULL) - updated <= 4 * AGENT_STATUS_INTERVAL_S;
}

static void print_status(const struct agent_config *cfg, int64_t not_after, const json_t *st,
			 bool running)
{
	char when[64] = "unknown";
	time_t t = (time_t)not_after;
	struct tm tm;
	if (not_after && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("host id:      %s\nserver:       %s\ncertificate:  valid until %s\n", cfg->host_id,
	       cfg->server, when);
	const json_t *link = json_object_get(st, "link");
	if (!running) {
		printf("agent:        not running\n");
	} else {
		printf("agent:        running (pid %lld), %s\n",
		       (long long)json_integer_value(json_object_get(st, "pid")),
		       json_string_value(json_object_get(link, "state")) ?: "?");
	}
	if (!link)
		return;
	const char *err = json_string_value(json_object_get(link, "last_error"));
	if (err && *err)
		printf("last error:   %s\n", err);
	printf("spool:        %lld bytes, %lld records not acknowledged, %lld dropped\n",
	       (long long)json_integer_value(json_object_get(link, "spool_bytes")),
	       (long long)json_integer_value(json_object_get(link, "spool_records")),
	       (long long)json_integer_value(json_object_get(link, "dropped")));
	printf("\n%-8s %12s %12s %12s\n", "STREAM", "ACKED", "NEXT", "UNACKED");
	size_t i;
	const json_t *s;
	json_array_foreach(json_object_get(link, "streams"), i, s) {
		printf("%-8s %12lld %12lld %12lld\n",
		       json_string_value(json_object_get(s, "stream")) ?: "?",
		       (long long)json_integer_value(json_object_get(s, "acked")),
		       (long long)json_integer_value(json_object_get(s, "next_seq")),
		       (long long)json_integer_value(json_object_get(s, "unacked")));
	}
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *dir = AGENT_DEFAULT_STATE_DIR;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "d:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		case 'h': status_help(); return EXIT_OK;
		default: return usage_error("status", "invalid option");
		}
	}
	if (optind < argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);
	struct agent_config cfg = { 0 };
	char err[1024];
	int r = agent_config_load(dir, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "immune-agent status: %s%s\n", err,
			r == -ENOENT ? " (not enrolled: run 'immune-agent enroll')" : "");
		return r == -ENOENT ? EXIT_NOT_RUNNING : EXIT_ERROR;
	}
	int64_t not_after = 0;
	_cleanup_free_ char *cp = agent_state_path(dir, "host.crt");
	X509 *cert = NULL;
	if (pki_cert_load(cp, &cert) == 0)
		pki_cert_not_after(cert, &not_after);
	X509_free(cert);
	json_t *st = load_status(dir);
	bool running = st && status_running(st);
	if (json) {
		json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:b, s:O?}", "schema",
					"immune.agent-status/v1", "host_id", cfg.host_id, "server",
					cfg.server, "cert_not_after", (json_int_t)not_after,
					"running", running, "status", st);
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(doc);
	} else {
		print_status(&cfg, not_after, st, running);
	}
	json_decref(st);
	agent_config_free(&cfg);
	return running ? EXIT_OK : EXIT_NOT_RUNNING;
}

static void help(void)
{
	printf("usage: immune-agent <command> [options]\n\n"
	       "  enroll   join the fleet with a token from 'immune token create'\n"
	       "  run      run the agent (connect, collect, scan, send)\n"
	       "  status   show the identity, the connection and the spool\n"
	       "  events   print the events and alerts the detector recorded on this host\n"
	       "  watch    run the sensors and detection in the foreground, print JSON lines\n"
	       "  respond  apply, verify or roll back a response action on this host\n"
	       "  principals  sshd's AuthorizedPrincipalsCommand: ask the agent about a login\n"
	       "  session  the session recorder sshd runs for certificate logins\n"
	       "  version  print the version\n\n"
	       "See 'immune-agent <command> --help' and docs/agent.md.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		help();
		return EXIT_ERROR;
	}
	/* a peer closing mid-write is an error to handle, not a reason to die */
	signal(SIGPIPE, SIG_IGN);
	/* a host agent stays small: one malloc arena for its few threads, and large buffers
	 * (pushed rule sets, spool segments) come from mmap and go back at free */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	const char *cmd = argv[1];
	if (strcmp(cmd, "enroll") == 0)
		return cmd_enroll(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "events") == 0)
		return agent_events_main(argc - 1, argv + 1);
	if (strcmp(cmd, "watch") == 0)
		return agent_watch_main(argc - 1, argv + 1);
	if (strcmp(cmd, "respond") == 0)
		return agent_respond_main(argc - 1, argv + 1);
	if (strcmp(cmd, "principals") == 0)
		return agent_principals_main(argc - 1, argv + 1);
	if (strcmp(cmd, "session") == 0)
		return agent_session_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("immune-agent %s\n", IMMUNE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		help();
		return EXIT_OK;
	}
	fprintf(stderr, "immune-agent: unknown command '%s'\nTry 'immune-agent help'.\n", cmd);
	return EXIT_ERROR;
}
