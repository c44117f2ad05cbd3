/* immune: the operator's command line. */
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "policy/catalog.h"

#include "config.h"

#include <stdarg.h>
#include <unistd.h>

static const struct cli_command commands[] = {
	{ "inventory", "collect and print this host's inventory", cmd_inventory },
	{ "scan", "evaluate the compliance catalog against this host", cmd_scan },
	{ "checks", "list or show the checks of the compliance catalog", cmd_checks },
	{ "token", "create or list join tokens for enrolling hosts (fleet)", cmd_token },
	{ "hosts", "list the fleet's hosts with their posture score", cmd_hosts },
	{ "host", "show a host (inventory, failing checks) or remove it", cmd_host },
	{ "findings", "list the results of the hosts' latest scans", cmd_findings },
	{ "report", "fleet compliance report for a framework (json, html, oscal)", cmd_report },
	{ "alerts", "list alert groups across the fleet, newest first", cmd_alerts },
	{ "alert", "show an alert group with its evidence", cmd_alert },
	{ "baseline", "show what a host's agent learned as normal", cmd_baseline },
	{ "respond", "send a response action to a host now (kill, block, isolate...)",
	  cmd_respond },
	{ "actions", "list response actions, newest first", cmd_actions },
	{ "action", "show, approve, reject or roll back a response action", cmd_action },
	{ "rules", "check Sigma rules, or test them against events and their cases", cmd_rules },
	{ "playbooks", "check response playbooks, or show what they would do for an alert",
	  cmd_playbooks },
	{ "ssh", "log in to a host with a short-lived SSH certificate", cmd_ssh },
	{ "access", "request, approve, list, revoke and review just-in-time access", cmd_access },
	{ "session", "list recorded SSH sessions or replay one", cmd_session },
	{ "server", "show the server's status and counters", cmd_server },
	{ "policy", "check or test access policies; push, list or test the server's", cmd_policy },
	{ "user", "list, add, change, disable (offboard) or import identities (access)", cmd_user },
	{ "group", "list or add groups of identities (access)", cmd_group },
};

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "immune %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'immune %s --help'.\n", cmd);
	return EXIT_ERROR;
}

int cli_unknown_framework(const char *cmd, const char *key)
{
	size_t n;
	const struct catalog_framework *fw = catalog_frameworks(&n);
	struct buf b;
	int r;

	buf_init(&b, 4096);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", fw[i].key);
	r = cli_usage_error(cmd, "unknown framework '%s' (valid: %s)", key, buf_str(&b));
	buf_free(&b);
	return r;
}

bool cli_color(void)
{
	const char *no = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && !(no && *no);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: immune [--server-config FILE] <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nThe fleet commands talk to immune-server; they read its client configuration\n"
		"from --server-config FILE, $IMMUNE_SERVER_CONFIG or\n"
		"~/.config/immune/server.yaml (docs/cli.md).\n"
		"Run 'immune <command> --help' for a command's options.\n");
}

/* "immune --server-config FILE <command> ..." : the fleet commands' configuration given before
 * the command, as immune-server's first-start message writes it. Returns the number of
 * arguments consumed (0, 1 or 2), or -1 when FILE is missing. */
static int global_server_config(int argc, char **argv)
{
	const char *opt = "--server-config";
	size_t n = strlen(opt);

	if (argc < 2 || strncmp(argv[1], opt, n) != 0)
		return 0;
	if (argv[1][n] == '=') {
		setenv("IMMUNE_SERVER_CONFIG", argv[1] + n + 1, 1);
		return 1;
	}
	if (argv[1][n] != '\0')
		return 0;
	if (argc < 3)
		return -1;
	setenv("IMMUNE_SERVER_CONFIG", argv[2], 1);
	return 2;
}

int main(int argc, char **argv)
{
	int shift = global_server_config(argc, argv);

	if (shift < 0) {
		fprintf(stderr, "immune: --server-config wants a FILE\n");
		return EXIT_ERROR;
	}
	argc -= shift;
	argv += shift;
	if (argc < 2) {
		usage(stderr);
		return EXIT_ERROR;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("immune %s\n", IMMUNE_VERSION);
		return EXIT_OK;
	}
	if (getenv("IMMUNE_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "immune: unknown command '%s'\n", name);
	usage(stderr);
	return EXIT_ERROR;
}
