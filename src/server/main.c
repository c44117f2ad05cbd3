/* immune-server [--data DIR] [--listen ADDR:PORT] [--api ADDR:PORT] [--name NAME]...
 *               [--cert-lifetime DURATION] [--catalog DIR] [--rules DIR]
 *               [--playbooks DIR] [--retention DURATION]
 *               [--max-agents N] [--log-level L] [--help] */
#include "detect/sigma.h"
#include "lib/log.h"
#include "lib/str.h"
#include "server/access_grants.h"
#include "server/duration.h"
#include "server/server.h"

#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>

struct args {
	struct server_options opt;
	strv names;
};

static void print_help(void)
{
	printf("usage: immune-server [--data DIR] [--listen ADDR:PORT] [--api ADDR:PORT] "
	       "[--name NAME]...\n"
	       "                     [--cert-lifetime DURATION] [--catalog DIR] [--rules DIR]\n"
	       "                     [--playbooks DIR] [--retention DURATION]"
	       "\n"
	       "                     [--session-command PATH] [--access-unused DURATION]\n"
	       "                     [--max-agents N] [--log-level L]\n\n"
	       "Runs the fleet server: enrolls agents, holds their mutual-TLS connections, stores\n"
	       "what they send, and serves the HTTPS JSON API of the immune command.\n\n"
	       "  --data DIR               data directory (default /var/lib/immune)\n"
	       "  --listen ADDR:PORT       agents' listener (default 0.0.0.0:7443)\n"
	       "  --api ADDR:PORT          API listener (default 127.0.0.1:7444)\n"
	       "  --name NAME              extra DNS name or IP address of the server "
	       "certificate\n"
	       "                           (repeatable; a new name reissues the certificate)\n"
	       "  --cert-lifetime DURATION host certificates' lifetime (default 24h)\n"
	       "  --catalog DIR            catalog sent to agents (default: the installed one)\n"
	       "  --rules DIR              Sigma rules (*.yml) sent to agents (default: the\n"
	       "                           installed Linux rules)\n"
	       "  --playbooks DIR          response playbooks the server runs (default: the\n"
	       "                           installed ones; \"none\": no playbooks)\n"
	       "  --retention DURATION     how long telemetry is kept (default 30d; 0: for ever)\n"
	       "  --session-command PATH   force-command of SSH certificates when sessions are\n"
	       "                           recorded (default " ACCESS_SESSION_COMMAND_DEFAULT ")\n"
	       "  --access-unused DURATION access grants unused this long since they started\n"
	       "                           are revoked (default 30d)\n"
	       "  --max-agents N           connections held at once (default: unlimited)\n"
	       "  --log-level L            error, warn, info (default) or debug\n"
	       "Durations: a number with s, m, h or d (\"90s\", \"24h\", \"30d\").\n");
}

/* The installed playbooks, else the source tree's, else none. */
static const char *default_playbooks(void)
{
	struct stat st;
	if (stat(IMMUNE_RULES_DIR "/playbooks", &st) == 0)
		return IMMUNE_RULES_DIR "/playbooks";
	if (stat(IMMUNE_SOURCE_RULES_DIR "/playbooks", &st) == 0)
		return IMMUNE_SOURCE_RULES_DIR "/playbooks";
	return NULL;
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			log_set_level((enum log_level)i);
			return 0;
		}
	return -EINVAL;
}

static int usage(const char *fmt, ...) _printf_(1, 2);

static int usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "immune-server: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n(see immune-server --help)\n");
	va_end(ap);
	return 2;
}

static int parse_option(struct args *a, int opt, const char *arg)
{
	int64_t v;
	switch (opt) {
	case 'd': a->opt.data_dir = arg; return 0;
	case 'l': a->opt.listen_addr = arg; return 0;
	case 'a': a->opt.api_addr = arg; return 0;
	case 'n': strv_push(&a->names, arg); return 0;
	case 'c': a->opt.catalog_dir = arg; return 0;
	case 'R': a->opt.rules_dir = arg; return 0;
	case 'P': a->opt.playbooks_dir = arg; return 0;
	case 'C':
		if (duration_parse(arg, UINT32_MAX, &v) < 0 || v < 60)
			return usage("--cert-lifetime '%s': a duration of at least 60s is needed",
				     arg);
		a->opt.cert_lifetime_s = (uint32_t)v;
		return 0;
	case 'r':
		if (duration_parse(arg, INT64_MAX / 2, &v) < 0)
			return usage("--retention '%s': not a duration (such as 30d)", arg);
		a->opt.retention_s = v;
		return 0;
	case 'S':
		if (arg[0] != '/' || strlen(arg) > 1024)
			return usage("--session-command '%s': an absolute path is needed", arg);
		a->opt.session_command = arg;
		return 0;
	case 'U':
		if (duration_parse(arg, INT64_MAX / 2, &v) < 0 || v < 60)
			return usage("--access-unused '%s': a duration of at least 60s is needed",
				     arg);
		a->opt.access_unused_s = v;
		return 0;
	case 'm':
		if (parse_i64(arg, 1, UINT32_MAX, &v) < 0)
			return usage("--max-agents '%s': a whole number >= 1 is needed", arg);
		a->opt.max_agents = (uint32_t)v;
		return 0;
	case 'L':
		if (parse_level(arg) < 0)
			return usage("--log-level '%s': use error, warn, info or debug", arg);
		return 0;
	default: return usage("unknown option");
	}
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "api", required_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'n' },
		{ "cert-lifetime", required_argument, NULL, 'C' },
		{ "catalog", required_argument, NULL, 'c' },
		{ "rules", required_argument, NULL, 'R' },
		{ "playbooks", required_argument, NULL, 'P' },
		{ "retention", required_argument, NULL, 'r' },
		{ "session-command", required_argument, NULL, 'S' },
		{ "access-unused", required_argument, NULL, 'U' },
		{ "max-agents", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'h') {
			print_help();
			return 1;
		}
		if (opt == '?')
			return 2;
		int r = parse_option(a, opt, optarg);
		if (r)
			return r;
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open files limit to %llu",
				 (unsigned long long)rl.rlim_max);
	}
}

static const char *default_catalog(void)
{
	struct stat st;
	return stat(IMMUNE_POLICY_DIR, &st) == 0 ? IMMUNE_POLICY_DIR : IMMUNE_SOURCE_POLICY_DIR;
}

/* Length of the host part of "ADDR:PORT". */
static int host_len(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	return colon ? (int)(colon - addr) : (int)strlen(addr);
}

static void print_ready(struct server *s, const struct server_options *o)
{
	printf("immune-server: listening for agents on %.*s:%u, API on %.*s:%u, data in %s\n",
	       host_len(o->listen_addr), o->listen_addr, server_agent_port(s),
	       host_len(o->api_addr), o->api_addr, server_api_port(s), o->data_dir);
	if (server_first_start(s))
		printf("immune-server: first start: operator credentials in %s/client.yaml\n"
		       "  create a join token: immune token create --server-config "
		       "%s/client.yaml\n",
		       o->data_dir, o->data_dir);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct args a = { .opt = {
				  .data_dir = "/var/lib/immune",
				  .retention_s = -1,
				  .handle_signals = true,
			  } };
	log_set_level(LOG_LEVEL_INFO);
	int r = parse_args(argc, argv, &a);
	if (r) {
		strv_free(a.names);
		return r == 1 ? 0 : r;
	}
	if (!a.opt.catalog_dir)
		a.opt.catalog_dir = default_catalog();
	if (!a.opt.rules_dir)
		a.opt.rules_dir = sigma_shipped_rules_dir();
	if (!a.opt.playbooks_dir)
		a.opt.playbooks_dir = default_playbooks();
	else if (!strcmp(a.opt.playbooks_dir, "none"))
		a.opt.playbooks_dir = NULL;
	a.opt.names = (const char *const *)a.names;
	raise_nofile();
	signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error return, not a death */
	struct server *s = NULL;
	r = server_new(&a.opt, &s);
	if (r == 0) {
		print_ready(s, &a.opt);
		r = server_run(s);
		log_info("stopping: committing what is queued");
	}
	server_free(s);
	strv_free(a.names);
	return r < 0 ? 1 : 0;
}
