/* immune respond HOST KIND key=value... [--for DURATION] [--json]
 * A manual response action on one host (POST /v1/hosts/ID/respond, docs/api.md). The words
 * become the action's parameters (action_params_from_args); the server checks them with the
 * one validator (action_from_json) and sends the action at once. */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "respond/action.h"

#include <getopt.h>

static void print_help(void)
{
	printf("usage: immune respond HOST KIND key=value... [--for DURATION] [--json]\n\n"
	       "Sends a typed response action to a connected host now; its agent applies it,\n"
	       "verifies the effect and reports back ('immune action show UID').\n\n"
	       "HOST is a host id or a hostname that one host has. KIND and its parameters:\n"
	       "  kill-process           pid=N [start_time=TICKS] [tree=true]\n"
	       "  block-address          address=IP|CIDR [duration=2h]\n"
	       "  isolate-host           [allow=IP,IP...] [duration=1h]\n"
	       "  lock-user              user=NAME\n"
	       "  remove-authorized-key  user=NAME fingerprint=SHA256:...\n"
	       "  quarantine-file        path=/ABS/PATH\n"
	       "  restore-file           path=/ABS/PATH sha256=HEX\n"
	       "  apply-fix              fix={\"type\":...} [check=ID]\n"
	       "  disable-service        unit=NAME.service\n"
	       "  disable-cron           path=/etc/cron.d/FILE entry='THE LINE'\n\n"
	       "  --for DURATION       how long a block or isolation lasts (90s, 15m, 2h, 7d)\n"
	       "  --json               print the server's answer\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n\n"
	       "Exit status: 0 sent, 2 usage or runtime error (a bad parameter, a host that\n"
	       "is not connected).\n");
}

int cmd_respond(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *host, *kind, *dur = NULL;
	_cleanup_free_ char *path = NULL;
	bool json = false;
	json_t *params = NULL, *body, *ans = NULL;
	char err[512];
	int c, r;

	optind = 1;
	/* "+": options come before the words, so a value such as entry='-x' stays a word */
	while ((c = getopt_long(argc, argv, "+f:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': dur = optarg; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("respond", "invalid option");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("respond",
				       "wants a HOST and an action KIND "
				       "(such as: immune respond web-1 kill-process pid=123)");
	host = argv[optind++];
	kind = argv[optind++];
	if (!*host)
		return cli_usage_error("respond", "the host is empty (see 'immune hosts')");
	if (action_kind_by_name(kind) < 0)
		return cli_usage_error("respond",
				       "unknown action kind '%s' (valid: kill-process, "
				       "block-address, isolate-host, "
				       "lock-user, remove-authorized-key, quarantine-file, "
				       "restore-file, apply-fix, "
				       "disable-service, disable-cron)",
				       kind);
	/* options after the words too: --for, --json */
	int nwords = 0;
	char **words = xcalloc((size_t)(argc - optind) + 1, sizeof(*words));
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--for") && i + 1 < argc) {
			dur = argv[++i];
		} else if (!strncmp(argv[i], "--for=", 6)) {
			dur = argv[i] + 6;
		} else if (!strcmp(argv[i], "--server-config") && i + 1 < argc) {
			config = argv[++i];
		} else if (!strncmp(argv[i], "--", 2)) {
			free(words);
			return cli_usage_error("respond", "unknown option '%s'", argv[i]);
		} else {
			words[nwords++] = argv[i];
		}
	}
	r = action_params_from_args(nwords, words, &params, err, sizeof(err));
	free(words);
	if (r < 0)
		return cli_usage_error("respond", "%s", err);
	body = json_pack("{s:s, s:o}", "kind", kind, "params", params);
	if (dur)
		json_object_set_new(body, "for", json_string(dur));
	r = fleet_config("respond", config, &cfg);
	if (!r)
		r = fleet_host_path("respond", cfg, host, "respond", &path);
	if (!r)
		r = fleet_call("respond", cfg, "POST", path, body, &ans);
	json_decref(body);
	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
	} else {
		const json_t *a = json_object_get(ans, "action");
		const char *uid = json_string_value(json_object_get(a, "uid"));
		_cleanup_free_ char *safe_uid = fleet_safe(uid ? uid : "-");
		_cleanup_free_ char *safe_host = fleet_safe(host);
		_cleanup_free_ char *safe_kind = fleet_safe(kind);

		printf("Sent %s to host %s (action %s).\n"
		       "See the result with 'immune action show %s'.\n",
		       safe_kind, safe_host, safe_uid, safe_uid);
	}
	json_decref(ans);
	return r;
}
