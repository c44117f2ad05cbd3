/* immune actions [--host H] [--state S] [--since T] [--limit N] [--json]
 * immune action show UID [--json]
 * immune action approve|reject|rollback UID [--json]
 * Response actions at the server (docs/response.md, GET /v1/actions in docs/api.md). */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <getopt.h>

#define BOLD "\033[1m"
#define RESET "\033[0m"

static void print_actions_help(void)
{
	printf("usage: immune actions [--host H] [--state S] [--since T] [--limit N] [--json]\n\n"
	       "Lists response actions, newest first: those the playbooks chose (at the edge\n"
	       "or at the server) and those operators asked for with 'immune respond'.\n\n"
	       "  --host H             only this host (id or hostname)\n"
	       "  --state S            only this state: pending_approval, sent, verified,\n"
	       "                       failed, refused, rolled_back, rejected, expired,\n"
	       "                       dry_run, notified\n"
	       "  --since T            created since T: a duration back from now (90m, 24h)\n"
	       "                       or an RFC 3339 time (2026-11-23T10:00:00Z)\n"
	       "  --limit N            at most N actions (1-1000, default 100)\n"
	       "  --json               print the server's answer (GET /v1/actions, docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n\n"
	       "Exit status: 0 ok, 2 usage or runtime error.\n");
}

static void print_action_help(void)
{
	printf("usage: immune action show UID [--json]\n"
	       "       immune action approve|reject|rollback UID [--json]\n\n"
	       "  show      the action: what, on which host, why (trigger), who asked and\n"
	       "            approved, its state, times and the agent's result\n"
	       "  approve   sends an action waiting for approval (the host must be connected)\n"
	       "  reject    an action waiting for approval is never sent\n"
	       "  rollback  asks the agent to undo a verified (or failed) action; the state\n"
	       "            becomes rolled_back when the agent reports it undone\n\n"
	       "  --json               print the server's answer\n"
	       "  --server-config FILE the client configuration\n\n"
	       "Exit status: 0 ok, 2 usage or runtime error (such as an action in the wrong\n"
	       "state).\n");
}

static const char *action_state_color(const char *state)
{
	if (!state)
		return NULL;
	if (!strcmp(state, "verified") || !strcmp(state, "rolled_back"))
		return "\033[32m";
	if (!strcmp(state, "failed") || !strcmp(state, "refused"))
		return "\033[31m";
	if (!strcmp(state, "pending_approval") || !strcmp(state, "sent"))
		return "\033[33m";
	return "\033[2m";
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The action's parameters as "k=v k=v" (caller frees). */
static char *params_text(const json_t *params)
{
	struct buf b;
	const char *k;
	json_t *v;
	char *out;

	buf_init(&b, 4096);
	json_object_foreach((json_t *)params, k, v) {
		_cleanup_free_ char *t = json_is_string(v)
						 ? xstrdup(json_string_value(v))
						 : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_printf(&b, "%s%s=%s", buf_len(&b) ? " " : "", k, t ? t : "?");
	}
	out = xstrdup(buf_str(&b));
	buf_free(&b);
	return out;
}

static void print_list(const json_t *ans, bool color)
{
	static const char *const head[] = { "UID",   "HOST",   "ACTION", "PARAMS",
					    "STATE", "ORIGIN", "CREATED" };
	const json_t *arr = json_object_get(ans, "actions");
	struct table t;
	size_t i, pending = 0;
	json_t *a;

	if (json_array_size(arr) == 0) {
		printf("No actions.\n");
		return;
	}
	table_init(&t, ARRAY_SIZE(head), head);
	json_array_foreach(arr, i, a) {
		_cleanup_free_ char *params = params_text(json_object_get(a, "params"));
		_cleanup_free_ char *ago = fleet_ago(json_object_get(a, "created"));
		const char *host = jstr(a, "hostname") ? jstr(a, "hostname") : jstr(a, "host");
		const char *cells[] = {
			jstr(a, "uid"),	   host, jstr(a, "kind"), params, jstr(a, "state"),
			jstr(a, "origin"), ago
		};
		table_row(&t, cells);
		table_color(&t, 4, action_state_color(jstr(a, "state")));
	}
	table_print(&t, stdout, color);
	table_free(&t);
	printf("%zu action%s\n", json_array_size(arr), json_array_size(arr) == 1 ? "" : "s");
	json_array_foreach(arr, i, a) {
		const char *st = jstr(a, "state");
		if (st && !strcmp(st, "pending_approval"))
			pending++;
	}
	if (pending)
		printf("%zu waiting for approval: 'immune action approve UID' or 'immune action "
		       "reject UID'\n",
		       pending);
}

static void line(const char *key, const char *value)
{
	_cleanup_free_ char *safe = fleet_safe(value ? value : "-");
	printf("  %-13s %s\n", key, safe);
}

static void print_action(const json_t *a, bool color)
{
	_cleanup_free_ char *params = params_text(json_object_get(a, "params"));
	const json_t *trig = json_object_get(a, "trigger");
	const json_t *detail = json_object_get(a, "detail");
	const char *state = jstr(a, "state");
	_cleanup_free_ char *safe_state = fleet_safe(state ? state : "-");
	_cleanup_free_ char *safe_uid = fleet_safe(jstr(a, "uid") ? jstr(a, "uid") : "-");
	const char *sc = color ? action_state_color(state) : NULL;

	printf("%sAction %s%s\n", color ? BOLD : "", safe_uid, color ? RESET : "");
	line("kind", jstr(a, "kind"));
	line("params", params);
	line("op", jstr(a, "op"));
	printf("  %-13s %s%s%s\n", "state", sc ? sc : "", safe_state, sc ? RESET : "");
	line("message", jstr(a, "message"));
	line("host", jstr(a, "host"));
	line("hostname", jstr(a, "hostname"));
	line("mode", jstr(a, "mode"));
	line("origin", jstr(a, "origin"));
	line("requested by", jstr(a, "requested_by"));
	line("approved by", jstr(a, "approved_by"));
	line("created", jstr(a, "created"));
	line("sent", jstr(a, "sent"));
	line("finished", jstr(a, "finished"));
	if (json_is_object(trig)) {
		_cleanup_free_ char *t = fleet_text(trig);
		line("trigger", t);
	}
	if (json_is_object(detail)) {
		_cleanup_free_ char *t = json_dumps(detail, JSON_COMPACT);
		line("detail", t);
	}
}

int cmd_actions(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "state", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *host = NULL, *state = NULL, *since = NULL, *limit = NULL;
	bool json = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "H:s:i:n:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 's': state = optarg; break;
		case 'i': since = optarg; break;
		case 'n': limit = optarg; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_actions_help(); return EXIT_OK;
		default: return cli_usage_error("actions", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("actions", "unexpected argument '%s'", argv[optind]);
	r = fleet_config("actions", config, &cfg);
	if (r)
		return r;
	const char *const keys[] = { "host", "state", "since", "limit" };
	const char *const vals[] = { host, state, since, limit };
	return fleet_list("actions", cfg, "/v1/actions", keys, vals, ARRAY_SIZE(keys), json,
			  print_list);
}

int cmd_action(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *verb, *uid;
	bool json = false, show;
	json_t *ans = NULL;
	int c, r;

	if (argc < 2)
		return cli_usage_error("action", "missing verb (show, approve, reject, rollback)");
	verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		print_action_help();
		return EXIT_OK;
	}
	show = !strcmp(verb, "show");
	if (!show && strcmp(verb, "approve") != 0 && strcmp(verb, "reject") != 0 &&
	    strcmp(verb, "rollback") != 0)
		return cli_usage_error("action",
				       "unknown verb '%s' (valid: show, approve, reject, rollback)",
				       verb);
	optind = 2;
	while ((c = getopt_long(argc, argv, "jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_action_help(); return EXIT_OK;
		default: return cli_usage_error("action", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("action", "%s wants an action id (see 'immune actions')",
				       verb);
	uid = argv[optind++];
	if (optind < argc)
		return cli_usage_error("action", "unexpected argument '%s'", argv[optind]);
	if (!*uid)
		return cli_usage_error("action", "the action id is empty (see 'immune actions')");
	r = fleet_config("action", config, &cfg);
	if (r)
		return r;
	_cleanup_free_ char *esc = api_escape(uid);
	_cleanup_free_ char *path =
		show ? xasprintf("/v1/actions/%s", esc) : xasprintf("/v1/actions/%s/%s", esc, verb);
	r = fleet_call("action", cfg, show ? "GET" : "POST", path, NULL, &ans);
	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
	} else if (show) {
		print_action(json_object_get(ans, "action"), cli_color());
	} else {
		const json_t *a = json_object_get(ans, "action");
		_cleanup_free_ char *safe = fleet_safe(uid);
		_cleanup_free_ char *st = fleet_safe(jstr(a, "state") ? jstr(a, "state") : "-");

		if (!strcmp(verb, "approve"))
			printf("Action %s approved and sent (state %s).\n", safe, st);
		else if (!strcmp(verb, "reject"))
			printf("Action %s rejected.\n", safe);
		else
			printf("Rollback of action %s sent; 'immune action show %s' shows when "
			       "it is rolled back.\n",
			       safe, safe);
	}
	json_decref(ans);
	return r;
}
