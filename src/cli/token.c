/* immune token create [--ttl 1h] [--uses N] [--label k=v]... [--json] [--server-config FILE]
 * immune token list [--json] [--server-config FILE] */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/str.h"

#include <getopt.h>
#include <openssl/crypto.h>

static void print_help(void)
{
	printf("usage: immune token create [--ttl DURATION] [--uses N] [--label KEY=VALUE]... "
	       "[--json]\n"
	       "       immune token list [--json]\n\n"
	       "Creates a join token for enrolling hosts, or lists the tokens (never their "
	       "secrets).\n\n"
	       "  --ttl DURATION       how long the token is valid: 90s, 30m, 1h (default), 7d\n"
	       "  --uses N             how many hosts may enroll with it (default 1, 0: any)\n"
	       "  --label KEY=VALUE    a label every host enrolled with it gets (repeatable)\n"
	       "  --json               print the server's answer (docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n");
}

struct token_args {
	const char *verb, *config;
	bool json;
	int64_t ttl, uses;
	json_t *labels;
};

static int add_label(json_t *labels, const char *kv)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *k = NULL;

	if (!eq || eq == kv)
		return cli_usage_error("token", "--label wants KEY=VALUE, not '%s'", kv);
	k = xstrndup(kv, (size_t)(eq - kv));
	if (!str_is_text(kv, strlen(kv)) || json_object_set_new(labels, k, json_string(eq + 1)))
		return cli_usage_error("token", "--label '%s' is not printable UTF-8 text", kv);
	return 0;
}

static int parse_args(int argc, char **argv, struct token_args *a)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "uses", required_argument, NULL, 'u' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool ttl = false, uses = false;
	int c, r;

	/* the verb comes first: immune token create ... */
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc < 2)
			return cli_usage_error("token", "missing verb (create or list)");
		print_help();
		return -1;
	}
	a->verb = argv[1];
	if (strcmp(a->verb, "create") != 0 && strcmp(a->verb, "list") != 0)
		return cli_usage_error("token", "unknown verb '%s' (valid: create, list)", a->verb);
	optind = 2;
	while ((c = getopt_long(argc, argv, "t:u:l:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (fleet_parse_duration(optarg, 366LL * 86400, &a->ttl) < 0)
				return cli_usage_error("token",
						       "--ttl '%s' is not a duration between 1s "
						       "and 366d (such as 90s, 30m, 1h, 7d)",
						       optarg);
			ttl = true;
			break;
		case 'u':
			if (parse_i64(optarg, 0, 1000000000, &a->uses) < 0)
				return cli_usage_error("token",
						       "--uses '%s' is not a number from 0 "
						       "(unlimited) to 1000000000",
						       optarg);
			uses = true;
			break;
		case 'l':
			r = add_label(a->labels, optarg);
			if (r)
				return r;
			break;
		case 'j': a->json = true; break;
		case 'S': a->config = optarg; break;
		case 'h': print_help(); return -1;
		default: return cli_usage_error("token", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("token", "unexpected argument '%s'", argv[optind]);
	if (strcmp(a->verb, "list") == 0 && (ttl || uses || json_object_size(a->labels)))
		return cli_usage_error("token", "--ttl, --uses and --label are for 'token create'");
	return 0;
}

static int do_create(const struct api_config *cfg, const struct token_args *a)
{
	json_t *body = json_pack("{s:I, s:I, s:O}", "ttl", (json_int_t)a->ttl, "uses",
				 (json_int_t)a->uses, "labels", a->labels);
	json_t *ans = NULL;
	int r = fleet_call("token", cfg, "POST", "/v1/tokens", body, &ans);
	const char *token;

	json_decref(body);
	if (r)
		return r;
	token = json_string_value(json_object_get(ans, "token"));
	if (!token) {
		fprintf(stderr, "immune token: the server's answer has no token\n");
		json_decref(ans);
		return EXIT_ERROR;
	}
	if (a->json) {
		r = fleet_print_json(ans);
	} else {
		_cleanup_free_ char *safe = fleet_safe(token);
		_cleanup_free_ char *exp = fleet_text(json_object_get(ans, "expires"));
		_cleanup_free_ char *lab = fleet_text(json_object_get(ans, "labels"));
		_cleanup_free_ char *agents = fleet_safe(cfg->agents ? cfg->agents : "HOST:PORT");
		json_int_t n = json_integer_value(json_object_get(ans, "uses"));
		bool color = cli_color();
		printf("Join token (expires %s; %s; labels %s):\n  %s%s%s\n\n", exp,
		       n == 0	? "any number of hosts"
		       : n == 1 ? "one host"
				: "several hosts",
		       lab, color ? "\033[1m" : "", safe, color ? "\033[0m" : "");
		printf("Enroll a host by running on it:\n  immune-agent enroll --server %s --token "
		       "%s\n",
		       agents, safe);
		if (!cfg->agents)
			fprintf(stderr,
				"immune token: %s has no 'agents' address; replace HOST:PORT with "
				"the address agents dial\n",
				cfg->path);
		OPENSSL_cleanse(safe, strlen(safe));
		r = EXIT_OK;
	}
	json_decref(ans);
	return r;
}

static int do_list(const struct api_config *cfg, bool json)
{
	static const char *const head[] = { "ID",	 "CREATED", "EXPIRES",
					    "USES LEFT", "USED",    "LABELS" };
	static const char *const keys[] = { "id",	 "created", "expires",
					    "uses_left", "uses",    "labels" };
	json_t *ans = NULL, *t;
	struct table tb;
	size_t i;
	int r = fleet_call("token", cfg, "GET", "/v1/tokens", NULL, &ans);

	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
		json_decref(ans);
		return r;
	}
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(json_object_get(ans, "tokens"), i, t) {
		char *cells[ARRAY_SIZE(keys)];
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			cells[k] = fleet_text(json_object_get(t, keys[k]));
		table_row(&tb, (const char *const *)cells);
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			free(cells[k]);
	}
	if (tb.nrows == 1)
		printf("No join tokens. Create one with 'immune token create'.\n");
	else
		table_print(&tb, stdout, cli_color());
	table_free(&tb);
	json_decref(ans);
	return EXIT_OK;
}

int cmd_token(int argc, char **argv)
{
	struct token_args a = { .ttl = 3600, .uses = 1, .labels = json_object() };
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	int r = parse_args(argc, argv, &a);

	if (r == 0)
		r = fleet_config("token", a.config, &cfg);
	if (r == 0)
		r = strcmp(a.verb, "create") == 0 ? do_create(cfg, &a) : do_list(cfg, a.json);
	json_decref(a.labels);
	return r < 0 ? EXIT_OK : r;
}
