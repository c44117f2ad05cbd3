/* immune user list|show|add|set|token|disable|import, immune group list|add and the fleet
 * verbs of immune policy (push, list, test --server): the access directory and the policy
 * files at the server (docs/cli.md, docs/api.md "Access"). */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <dirent.h>
#include <getopt.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#define IMPORT_MAX (16u << 20)
#define POLICY_FILE_MAX (1u << 20)

static void user_help(void)
{
	printf("usage: immune user list [--json]\n"
	       "       immune user show NAME [--json]\n"
	       "       immune user add NAME [--group G]... [--attr KEY=VALUE]... [--role ROLE]\n"
	       "                            [--account A]... [--machine] [--json]\n"
	       "       immune user set NAME [--group G]... [--attr KEY=VALUE]... [--role "
	       "ROLE|none]\n"
	       "                            [--account A]... [--json]\n"
	       "       immune user token NAME [--json]\n"
	       "       immune user disable NAME [--json]\n"
	       "       immune user import FILE [--json]\n\n"
	       "Manages identities (people and machines) at the server: their groups, attributes,\n"
	       "operator role (admin, approver, auditor, viewer) and own accounts; issues an API\n"
	       "token for one; disables (offboards) one: its grants and certificates are revoked\n"
	       "and every connected host is told at once; imports a directory file (.yaml, .yml,\n"
	       ".json or .csv).\n\n"
	       "  --group G            a group the identity belongs to (repeatable; 'set' "
	       "replaces\n"
	       "                       the list)\n"
	       "  --attr KEY=VALUE     an attribute (repeatable; 'set' replaces them all)\n"
	       "  --role ROLE          admin, approver, auditor or viewer ('none': no role)\n"
	       "  --account A          a local account of this identity alone (repeatable)\n"
	       "  --machine            a machine identity (automation), not a person\n"
	       "  --json               print the server's answer (docs/api.md)\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n");
}

struct user_args {
	const char *verb, *name, *config, *role;
	bool json, machine;
	json_t *groups, *attrs, *accounts;
};

static int add_attr(json_t *attrs, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return cli_usage_error("user", "--attr wants KEY=VALUE, not '%s'", kv);
	_cleanup_free_ char *k = xstrndup(kv, (size_t)(eq - kv));
	if (!str_is_text(kv, strlen(kv)) || json_object_set_new(attrs, k, json_string(eq + 1)))
		return cli_usage_error("user", "--attr '%s' is not printable UTF-8 text", kv);
	return 0;
}

static bool verb_is(const char *v, const char *const *verbs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, verbs[i]))
			return true;
	return false;
}

static int user_parse(int argc, char **argv, struct user_args *a)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "attr", required_argument, NULL, 'a' },
		{ "role", required_argument, NULL, 'r' },
		{ "account", required_argument, NULL, 'A' },
		{ "machine", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char *const verbs[] = { "list",  "show",	 "add",	  "set",
					     "token", "disable", "import" };
	bool changes = false;
	int c, r;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2)
			return cli_usage_error("user", "missing verb (list, show, add, set, token, "
						       "disable, import)");
		user_help();
		return -1;
	}
	a->verb = argv[1];
	if (!verb_is(a->verb, verbs, ARRAY_SIZE(verbs)))
		return cli_usage_error("user",
				       "unknown verb '%s' (valid: list, show, add, set, "
				       "token, disable, import)",
				       a->verb);
	optind = 2;
	while ((c = getopt_long(argc, argv, "g:a:r:A:mjS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'g': json_array_append_new(a->groups, json_string(optarg)); break;
		case 'a':
			if ((r = add_attr(a->attrs, optarg)))
				return r;
			break;
		case 'r': a->role = optarg; break;
		case 'A': json_array_append_new(a->accounts, json_string(optarg)); break;
		case 'm': a->machine = true; break;
		case 'j': a->json = true; break;
		case 'S': a->config = optarg; break;
		case 'h': user_help(); return -1;
		default: return cli_usage_error("user", "invalid option");
		}
		changes = changes || (c != 'j' && c != 'S');
	}
	bool wants_name = strcmp(a->verb, "list") != 0;
	if (wants_name && optind >= argc)
		return cli_usage_error("user", "'user %s' needs %s", a->verb,
				       strcmp(a->verb, "import") ? "an identity NAME" : "a FILE");
	if (wants_name)
		a->name = argv[optind++];
	if (optind < argc)
		return cli_usage_error("user", "unexpected argument '%s'", argv[optind]);
	if (changes && strcmp(a->verb, "add") && strcmp(a->verb, "set"))
		return cli_usage_error("user", "--group, --attr, --role, --account and --machine "
					       "are for 'user add' and 'user set'");
	if (a->machine && strcmp(a->verb, "add"))
		return cli_usage_error("user", "--machine is for 'user add'");
	return 0;
}

static int print_or(const struct user_args *a, json_t *ans, void (*human)(const json_t *))
{
	int r = EXIT_OK;
	if (a->json)
		r = fleet_print_json(ans);
	else
		human(ans);
	json_decref(ans);
	return r;
}

static char *list_text(const json_t *arr)
{
	struct buf b;
	size_t i;
	json_t *v;
	if (!json_array_size(arr))
		return xstrdup("-");
	buf_init(&b, 64 * 1024);
	json_array_foreach(arr, i, v) {
		_cleanup_free_ char *t = fleet_text(v);
		if (i)
			buf_puts(&b, ",");
		buf_puts(&b, t);
	}
	return buf_steal(&b);
}

static void print_users(const json_t *ans)
{
	static const char *const head[] = { "NAME",   "KIND",	  "STATUS",    "ROLE",
					    "GROUPS", "ACCOUNTS", "ATTRIBUTES" };
	struct table tb;
	size_t i;
	json_t *u;
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(json_object_get(ans, "users"), i, u) {
		_cleanup_free_ char *name = fleet_text(json_object_get(u, "name"));
		_cleanup_free_ char *kind = fleet_text(json_object_get(u, "kind"));
		_cleanup_free_ char *status = fleet_text(json_object_get(u, "status"));
		_cleanup_free_ char *role = fleet_text(json_object_get(u, "role"));
		_cleanup_free_ char *groups = list_text(json_object_get(u, "groups"));
		_cleanup_free_ char *acc = list_text(json_object_get(u, "accounts"));
		_cleanup_free_ char *attrs = fleet_text(json_object_get(u, "attributes"));
		const char *cells[] = { name, kind, status, role, groups, acc, attrs };
		table_row(&tb, cells);
		table_color(&tb, 2, strcmp(status, "disabled") ? "\033[32m" : "\033[31m");
	}
	if (tb.nrows == 1)
		printf("No identities. Add one with 'immune user add NAME'.\n");
	else
		table_print(&tb, stdout, cli_color());
	table_free(&tb);
}

static void print_user(const json_t *u)
{
	static const char *const keys[] = { "name",    "kind",	      "status",	      "role",
					    "created", "disabled_at", "grants_active" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(u, keys[i]);
		if (!v)
			continue;
		_cleanup_free_ char *t = fleet_text(v);
		printf("%-14s %s\n", keys[i], t);
	}
	_cleanup_free_ char *g = list_text(json_object_get(u, "groups"));
	_cleanup_free_ char *acc = list_text(json_object_get(u, "accounts"));
	_cleanup_free_ char *at = fleet_text(json_object_get(u, "attributes"));
	printf("%-14s %s\n%-14s %s\n%-14s %s\n", "groups", g, "accounts", acc, "attributes", at);
	json_t *off = json_object_get(u, "offboarding");
	if (json_is_object(off)) {
		_cleanup_free_ char *sent = fleet_text(json_object_get(off, "sent"));
		printf("%-14s sent %s to %lld connected hosts; %lld certificates and %lld grants "
		       "revoked",
		       "offboarding", sent,
		       (long long)json_integer_value(json_object_get(off, "hosts_notified")),
		       (long long)json_integer_value(json_object_get(off, "serials_revoked")),
		       (long long)json_integer_value(json_object_get(off, "grants_revoked")));
		if (json_is_integer(json_object_get(off, "confirmations")))
			printf("; %lld hosts confirmed",
			       (long long)json_integer_value(
				       json_object_get(off, "confirmations")));
		printf("\n");
	}
}

static void print_disable(const json_t *a)
{
	_cleanup_free_ char *name = fleet_text(json_object_get(a, "identity"));
	printf("Identity %s disabled: %lld certificates and %lld grants revoked; %lld connected "
	       "hosts notified (others get it when they connect).\n",
	       name, (long long)json_integer_value(json_object_get(a, "serials_revoked")),
	       (long long)json_integer_value(json_object_get(a, "grants_revoked")),
	       (long long)json_integer_value(json_object_get(a, "hosts_notified")));
}

static void print_import(const json_t *a)
{
	printf("Imported: %lld identities created, %lld updated, %lld unchanged, %lld disabled "
	       "(offboarded); %lld groups created, %lld updated.\n",
	       (long long)json_integer_value(json_object_get(a, "users_created")),
	       (long long)json_integer_value(json_object_get(a, "users_updated")),
	       (long long)json_integer_value(json_object_get(a, "users_unchanged")),
	       (long long)json_integer_value(json_object_get(a, "users_disabled")),
	       (long long)json_integer_value(json_object_get(a, "groups_created")),
	       (long long)json_integer_value(json_object_get(a, "groups_updated")));
	if (json_array_size(json_object_get(a, "skipped"))) {
		_cleanup_free_ char *sk = list_text(json_object_get(a, "skipped"));
		printf("Left alone (disabled, never changed again): %s\n", sk);
	}
}

static json_t *user_body(const struct user_args *a, bool create)
{
	json_t *body = json_object();
	if (create) {
		json_object_set_new(body, "name", json_string(a->name));
		json_object_set_new(body, "kind", json_string(a->machine ? "machine" : "person"));
	}
	if (json_array_size(a->groups) || create)
		json_object_set(body, "groups", a->groups);
	if (json_object_size(a->attrs) || create)
		json_object_set(body, "attributes", a->attrs);
	if (json_array_size(a->accounts) || create)
		json_object_set(body, "accounts", a->accounts);
	if (a->role)
		json_object_set_new(body, "role",
				    strcmp(a->role, "none") ? json_string(a->role) : json_null());
	return body;
}

static int user_import(const struct api_config *cfg, const struct user_args *a)
{
	struct buf b;
	const char *dot = strrchr(a->name, '.');
	const char *fmt = !dot						  ? NULL
			  : !strcmp(dot, ".yaml") || !strcmp(dot, ".yml") ? "yaml"
			  : !strcmp(dot, ".json")			  ? "json"
			  : !strcmp(dot, ".csv")			  ? "csv"
									  : NULL;
	if (!fmt)
		return cli_usage_error("user",
				       "%s: the file name must end in .yaml, .yml, .json "
				       "or .csv (its format)",
				       a->name);
	buf_init(&b, IMPORT_MAX);
	int r = file_read_capped(a->name, IMPORT_MAX, &b);
	if (r < 0) {
		fprintf(stderr, "immune user: %s: %s\n", a->name,
			r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
		buf_free(&b);
		return EXIT_ERROR;
	}
	_cleanup_free_ char *path = xstrdup(a->name);
	json_t *body = json_pack("{s:s, s:s%, s:s}", "format", fmt, "content", buf_str(&b),
				 buf_len(&b), "file", basename(path));
	buf_free(&b);
	if (!body) {
		fprintf(stderr, "immune user: %s is not UTF-8 text\n", a->name);
		return EXIT_ERROR;
	}
	json_t *ans = NULL;
	r = fleet_call("user", cfg, "POST", "/v1/users/import", body, &ans);
	json_decref(body);
	return r ? r : print_or(a, ans, print_import);
}

static int user_token(const struct api_config *cfg, const struct user_args *a, const char *path)
{
	json_t *ans = NULL;
	int r = fleet_call("user", cfg, "POST", path, NULL, &ans);
	if (r)
		return r;
	const char *token = json_string_value(json_object_get(ans, "token"));
	if (!token) {
		fprintf(stderr, "immune user: the server's answer has no token\n");
		json_decref(ans);
		return EXIT_ERROR;
	}
	if (a->json) {
		r = fleet_print_json(ans);
	} else {
		_cleanup_free_ char *safe = fleet_safe(token);
		printf("API token for %s (shown once; any earlier token of %s no longer works):\n"
		       "  %s\n",
		       a->name, a->name, safe);
		OPENSSL_cleanse(safe, strlen(safe));
	}
	json_decref(ans);
	return r;
}

static int user_run(const struct api_config *cfg, const struct user_args *a)
{
	json_t *ans = NULL, *body = NULL;
	_cleanup_free_ char *esc = a->name ? api_escape(a->name) : NULL;
	_cleanup_free_ char *path = NULL;
	int r;
	if (!strcmp(a->verb, "list")) {
		r = fleet_call("user", cfg, "GET", "/v1/users", NULL, &ans);
		return r ? r : print_or(a, ans, print_users);
	}
	if (!strcmp(a->verb, "import"))
		return user_import(cfg, a);
	if (!strcmp(a->verb, "add")) {
		body = user_body(a, true);
		r = fleet_call("user", cfg, "POST", "/v1/users", body, &ans);
		json_decref(body);
		return r ? r : print_or(a, ans, print_user);
	}
	if (!strcmp(a->verb, "show") || !strcmp(a->verb, "set")) {
		path = xasprintf("/v1/users/%s", esc);
		body = !strcmp(a->verb, "set") ? user_body(a, false) : NULL;
		if (body && !json_object_size(body)) {
			json_decref(body);
			return cli_usage_error("user",
					       "'user set' needs --group, --attr, --role or "
					       "--account");
		}
		r = fleet_call("user", cfg, body ? "PATCH" : "GET", path, body, &ans);
		json_decref(body);
		return r ? r : print_or(a, ans, print_user);
	}
	path = xasprintf("/v1/users/%s/%s", esc, a->verb);
	if (!strcmp(a->verb, "token"))
		return user_token(cfg, a, path);
	r = fleet_call("user", cfg, "POST", path, NULL, &ans);
	return r ? r : print_or(a, ans, print_disable);
}

int cmd_user(int argc, char **argv)
{
	struct user_args a = { .groups = json_array(),
			       .attrs = json_object(),
			       .accounts = json_array() };
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	int r = user_parse(argc, argv, &a);
	if (r == 0)
		r = fleet_config("user", a.config, &cfg);
	if (r == 0)
		r = user_run(cfg, &a);
	json_decref(a.groups);
	json_decref(a.attrs);
	json_decref(a.accounts);
	return r < 0 ? EXIT_OK : r;
}

/* ---- immune group ---- */

static void group_help(void)
{
	printf("usage: immune group list [--json]\n"
	       "       immune group add NAME [--description TEXT] [--attr KEY=VALUE]... "
	       "[--json]\n\n"
	       "Lists the groups of identities (with their members) or adds one. Membership is\n"
	       "set on identities: immune user set NAME --group G.\n\n"
	       "  --description TEXT   what the group is for\n"
	       "  --attr KEY=VALUE     an attribute of the group (repeatable)\n"
	       "  --json               print the server's answer (docs/api.md)\n"
	       "  --server-config FILE the client configuration\n");
}

static void print_groups(const json_t *ans)
{
	static const char *const head[] = { "NAME", "DESCRIPTION", "MEMBERS", "ATTRIBUTES" };
	struct table tb;
	size_t i;
	json_t *g;
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(json_object_get(ans, "groups"), i, g) {
		_cleanup_free_ char *name = fleet_text(json_object_get(g, "name"));
		_cleanup_free_ char *desc = fleet_text(json_object_get(g, "description"));
		_cleanup_free_ char *mem = list_text(json_object_get(g, "members"));
		_cleanup_free_ char *attrs = fleet_text(json_object_get(g, "attributes"));
		const char *cells[] = { name, desc, mem, attrs };
		table_row(&tb, cells);
	}
	if (tb.nrows == 1)
		printf("No groups. Add one with 'immune group add NAME'.\n");
	else
		table_print(&tb, stdout, cli_color());
	table_free(&tb);
}

static void print_group(const json_t *g)
{
	_cleanup_free_ char *name = fleet_text(json_object_get(g, "name"));
	printf("Group %s added.\n", name);
}

int cmd_group(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "description", required_argument, NULL, 'd' },
		{ "attr", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct user_args a = { .attrs = json_object() };
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *desc = NULL;
	json_t *ans = NULL, *body = NULL;
	int c, r = 0;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		json_decref(a.attrs);
		if (argc < 2)
			return cli_usage_error("group", "missing verb (list or add)");
		group_help();
		return EXIT_OK;
	}
	a.verb = argv[1];
	optind = 2;
	while (r == 0 && (c = getopt_long(argc, argv, "d:a:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': desc = optarg; break;
		case 'a': r = add_attr(a.attrs, optarg); break;
		case 'j': a.json = true; break;
		case 'S': a.config = optarg; break;
		case 'h':
			group_help();
			r = -1;
			break;
		default: r = cli_usage_error("group", "invalid option");
		}
	}
	if (r == 0 && strcmp(a.verb, "list") && strcmp(a.verb, "add"))
		r = cli_usage_error("group", "unknown verb '%s' (valid: list, add)", a.verb);
	if (r == 0 && !strcmp(a.verb, "add") && optind + 1 != argc)
		r = cli_usage_error("group", "'group add' needs one NAME");
	if (r == 0 && !strcmp(a.verb, "list") &&
	    (optind < argc || desc || json_object_size(a.attrs)))
		r = cli_usage_error("group", "'group list' takes no arguments");
	if (r == 0)
		r = fleet_config("group", a.config, &cfg);
	if (r == 0 && !strcmp(a.verb, "list")) {
		r = fleet_call("group", cfg, "GET", "/v1/groups", NULL, &ans);
		if (r == 0)
			r = print_or(&a, ans, print_groups);
	} else if (r == 0) {
		body = json_pack("{s:s, s:s, s:O}", "name", argv[optind], "description",
				 desc ? desc : "", "attributes", a.attrs);
		r = fleet_call("group", cfg, "POST", "/v1/groups", body, &ans);
		if (r == 0)
			r = print_or(&a, ans, print_group);
		json_decref(body);
	}
	json_decref(a.attrs);
	return r < 0 ? EXIT_OK : r;
}

/* ---- immune policy push|list|test --server ---- */

static void policy_fleet_help(void)
{
	printf("usage: immune policy push DIR|FILE... [--json]\n"
	       "       immune policy list [--json]\n"
	       "       immune policy test --server --principal NAME [--action A] [--as ACCOUNT]\n"
	       "                          [--command C] [--host H] [--source IP] [--ticket T]\n"
	       "                          [--grant] [--time RFC3339] [--json]\n\n"
	       "push replaces the server's access policy files with the *.policy files given\n"
	       "(a directory gives all of its *.policy files); the server checks them first and\n"
	       "refuses them all with FILE:LINE:COL when one is wrong. list shows the files and\n"
	       "their policies. test --server asks the server to decide a request with the\n"
	       "policies it holds, the identity's groups and attributes and the host's labels\n"
	       "and posture, and explains the decision (exit 1 when denied).\n\n"
	       "  --server-config FILE the client configuration\n");
}

static int add_policy_file(json_t *files, const char *path)
{
	struct buf b;
	_cleanup_free_ char *copy = xstrdup(path);
	buf_init(&b, POLICY_FILE_MAX);
	int r = file_read_capped(path, POLICY_FILE_MAX, &b);
	if (r < 0) {
		fprintf(stderr, "immune policy: %s: %s\n", path,
			r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		buf_free(&b);
		return EXIT_ERROR;
	}
	json_t *f = json_pack("{s:s, s:s%}", "name", basename(copy), "content", buf_str(&b),
			      buf_len(&b));
	buf_free(&b);
	if (!f) {
		fprintf(stderr, "immune policy: %s is not UTF-8 text\n", path);
		return EXIT_ERROR;
	}
	json_array_append_new(files, f);
	return 0;
}

static int filter_policy(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 7 && !strcmp(d->d_name + n - 7, ".policy") && d->d_name[0] != '.';
}

static int add_policy_path(json_t *files, const char *path)
{
	struct stat st;
	struct dirent **list = NULL;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "immune policy: %s: %s\n", path, strerror(errno));
		return EXIT_ERROR;
	}
	if (!S_ISDIR(st.st_mode))
		return add_policy_file(files, path);
	int n = scandir(path, &list, filter_policy, alphasort), r = 0;
	if (n < 0) {
		fprintf(stderr, "immune policy: %s: %s\n", path, strerror(errno));
		return EXIT_ERROR;
	}
	for (int i = 0; i < n; i++) {
		if (r == 0) {
			_cleanup_free_ char *p = xasprintf("%s/%s", path, list[i]->d_name);
			r = add_policy_file(files, p);
		}
		free(list[i]);
	}
	free(list);
	return r;
}

static void print_policies(const json_t *ans)
{
	static const char *const head[] = { "POLICY", "EFFECT", "FILE", "LINE", "APPROVERS" };
	struct table tb;
	size_t i;
	json_t *p;
	printf("%zu policy files, %zu policies\n", json_array_size(json_object_get(ans, "files")),
	       json_array_size(json_object_get(ans, "policies")));
	table_init(&tb, ARRAY_SIZE(head), head);
	json_array_foreach(json_object_get(ans, "policies"), i, p) {
		_cleanup_free_ char *name = fleet_text(json_object_get(p, "name"));
		_cleanup_free_ char *eff = fleet_text(json_object_get(p, "effect"));
		_cleanup_free_ char *file = fleet_text(json_object_get(p, "file"));
		_cleanup_free_ char *line = fleet_text(json_object_get(p, "line"));
		_cleanup_free_ char *appr = list_text(json_object_get(p, "approvers"));
		const char *cells[] = { name, eff, file, line, appr };
		table_row(&tb, cells);
		table_color(&tb, 1, strcmp(eff, "forbid") ? "\033[32m" : "\033[31m");
	}
	if (tb.nrows > 1)
		table_print(&tb, stdout, cli_color());
	table_free(&tb);
}

static void print_pushed(const json_t *ans)
{
	printf("The server holds %lld policy files with %lld policies; agents get them with the "
	       "access bundle.\n",
	       (long long)json_integer_value(json_object_get(ans, "files")),
	       (long long)json_integer_value(json_object_get(ans, "policies")));
}

static void print_test(const json_t *ans)
{
	size_t i;
	json_t *e;
	bool allow = json_is_true(json_object_get(ans, "allow"));
	json_t *by = json_object_get(ans, "decided_by");
	bool color = cli_color();
	printf("%s%s%s", color ? (allow ? "\033[32m" : "\033[31m") : "", allow ? "ALLOW" : "DENY",
	       color ? "\033[0m" : "");
	if (json_is_object(by)) {
		_cleanup_free_ char *n = fleet_text(json_object_get(by, "policy"));
		_cleanup_free_ char *f = fleet_text(json_object_get(by, "file"));
		printf(" by %s (%s:%lld)\n", n, f,
		       (long long)json_integer_value(json_object_get(by, "line")));
	} else {
		printf(": no policy permits this\n");
	}
	if (!json_is_true(json_object_get(ans, "known_identity")))
		printf("  (the principal is not a known identity: no groups, no attributes)\n");
	json_array_foreach(json_object_get(ans, "explanation"), i, e) {
		_cleanup_free_ char *n = fleet_text(json_object_get(e, "policy"));
		_cleanup_free_ char *eff = fleet_text(json_object_get(e, "effect"));
		_cleanup_free_ char *f = fleet_text(json_object_get(e, "file"));
		_cleanup_free_ char *why = fleet_text(json_object_get(e, "reason"));
		bool m = json_is_true(json_object_get(e, "matched"));
		printf("  %-7s %-24s %s:%lld  %s%s\n", eff, n, f,
		       (long long)json_integer_value(json_object_get(e, "line")),
		       m ? "applies" : "does not apply: ", m ? "" : why);
	}
}

static int policy_test_server(const struct api_config *cfg, json_t *body, bool json)
{
	json_t *ans = NULL;
	int r = fleet_call("policy", cfg, "POST", "/v1/policies/test", body, &ans);
	if (r)
		return r;
	bool allow = json_is_true(json_object_get(ans, "allow"));
	if (json)
		r = fleet_print_json(ans);
	else
		print_test(ans);
	json_decref(ans);
	return r ? r : allow ? EXIT_OK : EXIT_FINDINGS;
}

int cmd_policy_fleet(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", no_argument, NULL, 'X' },
		{ "principal", required_argument, NULL, 'p' },
		{ "action", required_argument, NULL, 'a' },
		{ "account", required_argument, NULL, 'A' },
		{ "as", required_argument, NULL, 'A' },
		{ "command", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, 'H' },
		{ "source", required_argument, NULL, 's' },
		{ "ticket", required_argument, NULL, 't' },
		{ "grant", no_argument, NULL, 'g' },
		{ "time", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char *const keys[] = {
		['p'] = "principal", ['a'] = "action", ['A'] = "account", ['c'] = "command",
		['H'] = "host",	     ['s'] = "source", ['t'] = "ticket",  ['T'] = "time"
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *verb = argc > 1 ? argv[1] : "";
	bool json = false, server = false;
	json_t *test = json_object(), *ans = NULL;
	int c, r = 0;
	bool help = false;
	for (int i = 1; i < argc; i++)
		help = help || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
	if (help) {
		policy_fleet_help();
		json_decref(test);
		return EXIT_OK;
	}
	optind = 2;
	while (r == 0 &&
	       (c = getopt_long(argc, argv, "Xp:a:A:c:H:s:t:gT:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'X': server = true; break;
		case 'g': json_object_set_new(test, "grant", json_true()); break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h':
			policy_fleet_help();
			r = -1;
			break;
		case 'p':
		case 'a':
		case 'A':
		case 'c':
		case 'H':
		case 's':
		case 't':
		case 'T': json_object_set_new(test, keys[c], json_string(optarg)); break;
		default: r = cli_usage_error("policy", "invalid option");
		}
	}
	bool is_test = !strcmp(verb, "test") || !strcmp(verb, "test-server");
	if (r == 0 && strcmp(verb, "push") && strcmp(verb, "list") && !is_test)
		r = cli_usage_error("policy",
				    "unknown verb '%s' (fleet verbs: push, list, test "
				    "--server)",
				    verb);
	if (r == 0 && !is_test && json_object_size(test))
		r = cli_usage_error("policy", "request options are for 'policy test --server'");
	if (r == 0 && is_test && !server && strcmp(verb, "test-server"))
		r = cli_usage_error("policy", "'policy test' here asks the server: add --server");
	if (r == 0 && !is_test && server)
		r = cli_usage_error("policy", "--server is for 'policy test'");
	if (r == 0 && is_test && !json_object_get(test, "principal"))
		r = cli_usage_error("policy", "'policy test --server' needs --principal NAME");
	if (r == 0 && !strcmp(verb, "push") && optind >= argc)
		r = cli_usage_error("policy", "'policy push' needs a DIR or FILE...");
	if (r == 0 && strcmp(verb, "push") && optind < argc)
		r = cli_usage_error("policy", "unexpected argument '%s'", argv[optind]);
	if (r == 0)
		r = fleet_config("policy", config, &cfg);
	if (r == 0 && is_test) {
		r = policy_test_server(cfg, test, json);
	} else if (r == 0 && !strcmp(verb, "list")) {
		r = fleet_call("policy", cfg, "GET", "/v1/policies", NULL, &ans);
		if (r == 0)
			r = json ? fleet_print_json(ans) : (print_policies(ans), EXIT_OK);
		json_decref(ans);
	} else if (r == 0) {
		json_t *files = json_array();
		for (int i = optind; r == 0 && i < argc; i++)
			r = add_policy_path(files, argv[i]);
		json_t *body = json_pack("{s:o}", "files", files);
		if (r == 0)
			r = fleet_call("policy", cfg, "PUT", "/v1/policies", body, &ans);
		if (r == 0)
			r = json ? fleet_print_json(ans) : (print_pushed(ans), EXIT_OK);
		json_decref(ans);
		json_decref(body);
	}
	json_decref(test);
	return r < 0 ? EXIT_OK : r;
}
