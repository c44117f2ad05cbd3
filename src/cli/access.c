/* immune access request|requests|approve|deny|grants|revoke|review
 * Just-in-time access (docs/access.md "Just-in-time access", "Least privilege"), over
 * /v1/access/... of the server's API (docs/api.md "Access"). */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <getopt.h>

static void print_help(void)
{
	printf("usage: immune access request (--host H | --label K=V) [--as ACCOUNT] [--sudo]\n"
	       "                            [--for DURATION] --reason TEXT [--ticket T]\n"
	       "                            [--break-glass] [--json]\n"
	       "       immune access requests [--json]\n"
	       "       immune access approve|deny ID [--json]\n"
	       "       immune access grants [--json]\n"
	       "       immune access revoke ID [--json]\n"
	       "       immune access review [--unused DURATION] [--done ID] [--json]\n\n"
	       "  request    asks for access the policies allow only with a grant; the approvers\n"
	       "             the policies name decide. --for defaults to 1h (capped by policy);\n"
	       "             --break-glass grants at once for at most 1h, raises a critical\n"
	       "             alert and leaves the grant to be reviewed\n"
	       "  requests   your requests (approvers and admins: everyone's)\n"
	       "  approve    turns a pending request into a grant (approvers named by it only,\n"
	       "             never the requester); deny closes it\n"
	       "  grants     your grants (approvers, auditors and admins: everyone's)\n"
	       "  revoke     ends a grant now (its holder, approvers, admins)\n"
	       "  review     grants, accounts and identities unused for DURATION (default the\n"
	       "             server's --access-unused, 30d); --done ID marks a break-glass\n"
	       "             grant reviewed\n\n"
	       "  --json               print the server's answer\n"
	       "  --server-config FILE the client configuration\n\n"
	       "Exit status: 0 ok, 1 refused (not permitted, not an approver), 2 usage or\n"
	       "runtime error.\n");
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* One API call; 403 and 400 (refused by policy or role) give EXIT_FINDINGS. */
static int call(const char *config, const char *method, const char *path, const json_t *body,
		json_t **ans)
{
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	struct api_error err;
	int r = fleet_config("access", config, &cfg);

	if (r)
		return r;
	if (api_request(cfg, method, path, body, ans, &err) == 0)
		return 0;
	fprintf(stderr, "immune access: %s\n", err.msg);
	return err.status == 403 ? EXIT_FINDINGS : EXIT_ERROR;
}

static const char *where(const json_t *d)
{
	return jstr(d, "hostname") ? jstr(d, "hostname")
				   : (jstr(d, "label") ? jstr(d, "label") : jstr(d, "host"));
}

static void print_requests(const json_t *arr, bool color)
{
	static const char *const head[] = { "ID",  "IDENTITY", "ACCOUNT", "WHERE",
					    "FOR", "STATE",    "REASON",  "CREATED" };
	struct table t;
	size_t i;
	json_t *q;

	if (json_array_size(arr) == 0) {
		printf("No access requests.\n");
		return;
	}
	table_init(&t, ARRAY_SIZE(head), head);
	json_array_foreach(arr, i, q) {
		_cleanup_free_ char *dur = xasprintf(
			"%llds", (long long)json_integer_value(json_object_get(q, "for")));
		_cleanup_free_ char *ago = fleet_ago(json_object_get(q, "created"));
		const char *cells[] = {
			jstr(q, "id"), jstr(q, "identity"), jstr(q, "account"), where(q),
			dur,	       jstr(q, "state"),    jstr(q, "reason"),	ago
		};
		table_row(&t, cells);
		if (jstr(q, "state") && !strcmp(jstr(q, "state"), "pending"))
			table_color(&t, 5, "\033[33m");
	}
	table_print(&t, stdout, color);
	table_free(&t);
}

static void print_grants(const json_t *arr, bool color)
{
	static const char *const head[] = { "ID",      "IDENTITY", "ACCOUNT", "WHERE",
					    "EXPIRES", "STATE",	   "REVIEW",  "APPROVED BY" };
	struct table t;
	size_t i;
	json_t *g;

	if (json_array_size(arr) == 0) {
		printf("No grants.\n");
		return;
	}
	table_init(&t, ARRAY_SIZE(head), head);
	json_array_foreach(arr, i, g) {
		const char *state = json_is_true(json_object_get(g, "revoked"))	  ? "revoked"
				    : json_is_true(json_object_get(g, "expired")) ? "expired"
										  : "active";
		const char *cells[] = { jstr(g, "id"),	    jstr(g, "identity"),
					jstr(g, "account"), where(g),
					jstr(g, "expires"), state,
					jstr(g, "review"),  jstr(g, "approved_by") };
		table_row(&t, cells);
		if (!strcmp(state, "active"))
			table_color(&t, 5, "\033[32m");
		if (jstr(g, "review") && !strcmp(jstr(g, "review"), "required"))
			table_color(&t, 6, "\033[31m");
	}
	table_print(&t, stdout, color);
	table_free(&t);
}

static void print_review(const json_t *ans, bool color)
{
	const json_t *g = json_object_get(ans, "grants"), *a = json_object_get(ans, "accounts"),
		     *ids = json_object_get(ans, "identities"), *v;
	long long u = (long long)json_integer_value(json_object_get(ans, "unused_s"));
	size_t i;

	if (u % 86400 == 0)
		printf("Unused for %lld day%s or more:\n\n", u / 86400, u == 86400 ? "" : "s");
	else if (u % 3600 == 0)
		printf("Unused for %lld h or more:\n\n", u / 3600);
	else
		printf("Unused for %lld s or more:\n\n", u);
	printf("Grants (revoke with 'immune access revoke ID'):\n");
	print_grants(g, color);
	printf("\nLogins not used since (identity, account, host):\n");
	if (json_array_size(a) == 0)
		printf("None.\n");
	json_array_foreach(a, i, v) {
		_cleanup_free_ char *ago = fleet_ago(json_object_get(v, "last_used"));
		_cleanup_free_ char *line =
			xasprintf("  %s as %s on %s: last %s", jstr(v, "identity"),
				  jstr(v, "account"), jstr(v, "hostname") ?: jstr(v, "host"), ago);
		_cleanup_free_ char *safe = fleet_safe(line);
		printf("%s\n", safe);
	}
	printf("\nActive identities with no login in that time:\n");
	if (json_array_size(ids) == 0)
		printf("None.\n");
	json_array_foreach(ids, i, v) {
		_cleanup_free_ char *safe = fleet_safe(json_string_value(v));
		printf("  %s\n", safe);
	}
}

static int do_request(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "label", required_argument, NULL, 'L' },
		{ "as", required_argument, NULL, 'a' },
		{ "sudo", no_argument, NULL, 'u' },
		{ "for", required_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, 'r' },
		{ "ticket", required_argument, NULL, 't' },
		{ "break-glass", no_argument, NULL, 'B' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{},
	};
	const char *config = NULL, *host = NULL, *label = NULL, *as = NULL, *dur = NULL,
		   *reason = NULL, *ticket = NULL;
	bool sudo = false, bg = false, json = false;
	json_t *body, *ans = NULL;
	int64_t secs;
	int c, r;

	optind = 2;
	while ((c = getopt_long(argc, argv, "H:L:a:uf:r:t:BjS:", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'L': label = optarg; break;
		case 'a': as = optarg; break;
		case 'u': sudo = true; break;
		case 'f': dur = optarg; break;
		case 'r': reason = optarg; break;
		case 't': ticket = optarg; break;
		case 'B': bg = true; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		default: return cli_usage_error("access", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("access", "unexpected argument '%s'", argv[optind]);
	if (!host == !label)
		return cli_usage_error("access", "give --host H or --label K=V");
	if (!reason || !*reason)
		return cli_usage_error("access", "--reason TEXT is required");
	if (dur && fleet_parse_duration(dur, 7 * 86400, &secs) < 0)
		return cli_usage_error("access", "--for '%s': a duration such as 90m, 2h, 1d", dur);
	body = json_pack("{s:s,s:b,s:b}", "reason", reason, "sudo", sudo, "break_glass", bg);
	if (host)
		json_object_set_new(body, "host", json_string(host));
	if (label)
		json_object_set_new(body, "label", json_string(label));
	if (as)
		json_object_set_new(body, "account", json_string(as));
	if (dur)
		json_object_set_new(body, "for", json_integer(secs));
	if (ticket)
		json_object_set_new(body, "ticket", json_string(ticket));
	r = call(config, "POST", "/v1/access/requests", body, &ans);
	json_decref(body);
	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
	} else if (bg) {
		const json_t *g = json_object_get(ans, "grant_doc");
		printf("Break-glass grant %s: %s on %s until %s.\n", jstr(g, "id"),
		       jstr(ans, "account"), where(ans), jstr(g, "expires"));
		printf("A critical alert was raised; the grant must be reviewed.\n");
	} else {
		_cleanup_free_ char *apps =
			json_dumps(json_object_get(ans, "approvers"), JSON_COMPACT);
		printf("Request %s is pending; approvers: %s\n", jstr(ans, "id"),
		       json_array_size(json_object_get(ans, "approvers")) ? apps : "an admin");
	}
	json_decref(ans);
	return r;
}

/* Verbs taking one ID: approve, deny, revoke, review --done. */
static int do_id_verb(const char *config, const char *kind, const char *id, const char *verb,
		      bool json)
{
	_cleanup_free_ char *esc = api_escape(id);
	_cleanup_free_ char *path = xasprintf("/v1/access/%s/%s/%s", kind, esc, verb);
	json_t *ans = NULL;
	int r = call(config, "POST", path, NULL, &ans);

	if (r)
		return r;
	if (json) {
		r = fleet_print_json(ans);
	} else if (!strcmp(verb, "approve")) {
		printf("Approved: grant %s for %s as %s on %s until %s.\n", jstr(ans, "id"),
		       jstr(ans, "identity"), jstr(ans, "account"), where(ans),
		       jstr(ans, "expires"));
	} else if (!strcmp(verb, "deny")) {
		printf("Request %s denied.\n", id);
	} else if (!strcmp(verb, "revoke")) {
		printf("Grant %s revoked.\n", id);
	} else {
		printf("Grant %s reviewed.\n", id);
	}
	json_decref(ans);
	return r;
}

int cmd_access(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "unused", required_argument, NULL, 'u' },
		{ "done", required_argument, NULL, 'd' },
		{ "server-config", required_argument, NULL, 'S' },
		{},
	};
	const char *config = NULL, *verb, *unused = NULL, *done = NULL, *id = NULL;
	bool json = false;
	json_t *ans = NULL;
	int c, r;

	if (argc < 2)
		return cli_usage_error("access", "missing verb (request, requests, approve, deny, "
						 "grants, revoke, review)");
	verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		print_help();
		return EXIT_OK;
	}
	if (!strcmp(verb, "request"))
		return do_request(argc, argv);
	optind = 2;
	while ((c = getopt_long(argc, argv, "ju:d:S:", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'u': unused = optarg; break;
		case 'd': done = optarg; break;
		case 'S': config = optarg; break;
		default: return cli_usage_error("access", "invalid option");
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc)
		return cli_usage_error("access", "unexpected argument '%s'", argv[optind]);
	if ((unused || done) && strcmp(verb, "review") != 0)
		return cli_usage_error("access", "--unused and --done go with review");

	if (!strcmp(verb, "approve") || !strcmp(verb, "deny") || !strcmp(verb, "revoke")) {
		if (!id)
			return cli_usage_error("access", "%s needs an ID", verb);
		return do_id_verb(config, strcmp(verb, "revoke") ? "requests" : "grants", id, verb,
				  json);
	}
	if (id)
		return cli_usage_error("access", "unexpected argument '%s'", id);
	if (!strcmp(verb, "review") && done)
		return do_id_verb(config, "grants", done, "review", json);
	if (!strcmp(verb, "requests") || !strcmp(verb, "grants")) {
		_cleanup_free_ char *path = xasprintf("/v1/access/%s", verb);
		r = call(config, "GET", path, NULL, &ans);
		if (r)
			return r;
		if (json)
			r = fleet_print_json(ans);
		else if (!strcmp(verb, "requests"))
			print_requests(json_object_get(ans, "requests"), cli_color());
		else
			print_grants(json_object_get(ans, "grants"), cli_color());
		json_decref(ans);
		return r;
	}
	if (!strcmp(verb, "review")) {
		_cleanup_free_ char *esc = unused ? api_escape(unused) : NULL;
		_cleanup_free_ char *path = esc ? xasprintf("/v1/access/review?unused=%s", esc)
						: xstrdup("/v1/access/review");
		r = call(config, "GET", path, NULL, &ans);
		if (r)
			return r;
		if (json)
			r = fleet_print_json(ans);
		else
			print_review(ans, cli_color());
		json_decref(ans);
		return r;
	}
	return cli_usage_error("access",
			       "unknown verb '%s' (valid: request, requests, approve, deny, "
			       "grants, revoke, review)",
			       verb);
}
