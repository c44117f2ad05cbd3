/* immune policy check DIR|FILE... [--json]
 * immune policy test --policies DIR --principal NAME ... [--json]
 *
 * check compiles access policy files (docs/access-policy.md) and reports every error as
 * FILE:LINE:COLUMN: message; test decides one access request locally against a policy
 * directory and explains the decision. See docs/access-policy.md. */
#include "access/policy.h"
#include "cli/cli.h"
#include "cli/policy_request.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <time.h>

#define POLICY_FILE_CAP (16u << 20)

static void print_help(void)
{
	printf("usage: immune policy check DIR|FILE... [--json]\n"
	       "       immune policy test --policies DIR --principal NAME [--group G]...\n"
	       "              [--attr k=v]... --action login|sudo|sudo-command|port-forward\n"
	       "              [--as ACCOUNT] [--command CMD] --host NAME [--host-id ID]\n"
	       "              [--label k=v]... [--source ADDR] [--posture N]\n"
	       "              [--alerts critical=N,high=N,...] [--attestation trusted|failed]\n"
	       "              [--ticket T] [--grant] [--time RFC3339] [--json]\n"
	       "       immune policy push|list|test --server ... (the server's policies:\n"
	       "              immune policy push --help)\n\n"
	       "check  compiles the access policies in each DIR (its *.policy files) and FILE\n"
	       "       together and prints each error as FILE:LINE:COLUMN: message, or how many\n"
	       "       policies compiled. Exit 0 when all compiled, 1 on any error.\n"
	       "test   decides one request against the policies in DIR and explains it: every\n"
	       "       policy whose principal, action and host matched, and why its conditions\n"
	       "       held or not. Exit 0 when allowed, 1 when denied.\n\n"
	       "What test is not told is unknown (posture, source, attestation, a label...):\n"
	       "conditions reading it are false. --time defaults to now.\n"
	       "  --json  print JSON (schemas immune.policy_check/v1, immune.policy_test/v1)\n");
}

/* ---- check ---- */

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files to check: a directory's *.policy files (sorted), or the file itself. */
static int collect_files(const char *path, strv *files)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		strv_push(files, path);
		return 0;
	}
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	strv names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && str_has_suffix(de->d_name, ".policy"))
			strv_push(&names, de->d_name);
	closedir(d);
	size_t n = strv_len(names);
	sort_array(names, n, sizeof(*names), cmp_cstr);
	for (size_t i = 0; i < n; i++)
		strv_push_take(files, xasprintf("%s/%s", path, names[i]));
	strv_free(names);
	return 0;
}

/* "FILE:LINE:COLUMN: message" as JSON (file is known, so colons in it do not confuse). */
static json_t *error_json(const char *file, const char *err)
{
	json_int_t line = 0, col = 0;
	const char *msg = err;
	size_t fl = strlen(file);
	if (strncmp(err, file, fl) == 0 && err[fl] == ':') {
		char *end;
		line = strtoll(err + fl + 1, &end, 10);
		if (*end == ':') {
			col = strtoll(end + 1, &end, 10);
			if (*end == ':')
				msg = end + (end[1] == ' ' ? 2 : 1);
		}
	}
	return json_pack("{s:s, s:I, s:I, s:s}", "file", file, "line", line, "column", col,
			 "message", msg);
}

static int policy_check(int argc, char **argv)
{
	bool json = false;
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			print_help();
			return EXIT_OK;
		} else {
			return cli_usage_error("policy", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("policy", "check wants a DIR or FILE");
	_cleanup_strv_ strv files = NULL;
	for (int i = optind; i < argc; i++) {
		int r = collect_files(argv[i], &files);
		if (r < 0) {
			fprintf(stderr, "immune policy check: cannot read '%s': %s\n", argv[i],
				strerror(-r));
			return EXIT_ERROR;
		}
	}
	json_t *errors = json_array();
	struct access_policy_builder *all = access_policy_builder_new();
	struct buf text;
	buf_init(&text, POLICY_FILE_CAP);
	char err[1024];
	size_t n_files = strv_len(files);
	for (size_t i = 0; i < n_files; i++) {
		int r = file_read_capped(files[i], POLICY_FILE_CAP, &text);
		if (r < 0) {
			snprintf(err, sizeof(err), "%s:1:1: %s", files[i],
				 r == -EFBIG ? "file too large" : strerror(-r));
			json_array_append_new(errors, error_json(files[i], err));
			continue;
		}
		/* each file alone first, so that every file's first error is reported */
		struct access_policy_builder *one = access_policy_builder_new();
		if (access_policy_add(one, files[i], buf_str(&text), buf_len(&text), err,
				      sizeof(err)) < 0)
			json_array_append_new(errors, error_json(files[i], err));
		else
			(void)access_policy_add(all, files[i], buf_str(&text), buf_len(&text), err,
						sizeof(err));
		access_policy_builder_free(one);
	}
	buf_free(&text);
	size_t count = 0;
	if (json_array_size(errors) == 0) {
		struct access_policy_set *set = NULL;
		if (access_policy_build(all, &set, err, sizeof(err)) < 0) {
			const char *file = "";
			for (size_t i = 0; i < n_files; i++)
				if (str_has_prefix(err, files[i]) && err[strlen(files[i])] == ':')
					file = files[i];
			json_array_append_new(errors, error_json(file, err));
		} else {
			count = access_policy_count(set);
		}
		access_policy_set_free(set);
	} else {
		access_policy_builder_free(all);
	}
	bool ok = json_array_size(errors) == 0;
	if (json) {
		json_t *doc =
			json_pack("{s:s, s:b, s:I, s:I, s:o}", "schema", "immune.policy_check/v1",
				  "ok", ok, "files", (json_int_t)n_files, "policies",
				  (json_int_t)count, "errors", errors);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(errors, i, e) {
			_cleanup_free_ char *msg =
				fleet_safe(json_string_value(json_object_get(e, "message")));
			fprintf(stderr, "%s:%lld:%lld: %s\n",
				json_string_value(json_object_get(e, "file")),
				(long long)json_integer_value(json_object_get(e, "line")),
				(long long)json_integer_value(json_object_get(e, "column")), msg);
		}
		if (ok)
			printf("%zu policies in %zu file(s): ok\n", count, n_files);
		else
			printf("%zu error(s) in %zu file(s)\n", json_array_size(errors), n_files);
		json_decref(errors);
	}
	return ok ? EXIT_OK : EXIT_FINDINGS;
}

/* ---- the request ---- */

/* Parses "2026-12-08T10:00:00Z" or with a "+02:00" offset into Unix seconds. */
static int parse_rfc3339(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -EINVAL;
	if (*rest == '.') { /* fractions of a second are ignored */
		rest++;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	int64_t offset = 0;
	if (*rest == 'Z' || *rest == 'z') {
		rest++;
	} else if (*rest == '+' || *rest == '-') {
		int sign = *rest == '-' ? -1 : 1;
		int64_t hh, mm;
		char h[3] = { 0 }, m[3] = { 0 };
		if (strlen(rest) != 6 || rest[3] != ':')
			return -EINVAL;
		memcpy(h, rest + 1, 2);
		memcpy(m, rest + 4, 2);
		if (parse_i64(h, 0, 23, &hh) < 0 || parse_i64(m, 0, 59, &mm) < 0)
			return -EINVAL;
		offset = sign * (hh * 3600 + mm * 60);
		rest += 6;
	} else {
		return -EINVAL;
	}
	if (*rest)
		return -EINVAL;
	*out = (int64_t)timegm(&tm) - offset;
	return 0;
}

static int split_kv(struct policy_request *r, const char *arg, const char *what,
		    struct access_attr *out, char *err, size_t err_len)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		snprintf(err, err_len, "%s wants KEY=VALUE, not '%s'", what, arg);
		return -EINVAL;
	}
	if (r->n_owned + 1 > ARRAY_SIZE(r->owned)) {
		snprintf(err, err_len, "too many %s options", what);
		return -EINVAL;
	}
	char *key = xstrndup(arg, (size_t)(eq - arg));
	r->owned[r->n_owned++] = key;
	*out = (struct access_attr){ key, eq + 1 };
	return 0;
}

static int parse_alerts(const char *arg, uint32_t alerts[4], char *err, size_t err_len)
{
	static const char *const sev[] = { "low", "medium", "high", "critical" };
	_cleanup_strv_ strv items = str_split(arg, ",");
	for (size_t i = 0; items[i]; i++) {
		char *eq = strchr(items[i], '=');
		int64_t v;
		int s = -1;
		if (eq) {
			*eq = '\0';
			for (int k = 0; k < 4; k++)
				if (strcmp(items[i], sev[k]) == 0)
					s = k;
		}
		if (s < 0 || parse_i64(eq + 1, 0, UINT32_MAX, &v) < 0) {
			snprintf(err, err_len,
				 "--alerts wants SEVERITY=N[,...] (low, medium, high, critical)");
			return -EINVAL;
		}
		alerts[s] = (uint32_t)v;
	}
	return 0;
}

static int parse_source(const char *arg, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, arg, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, arg, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

enum {
	OPT_POLICIES = 256,
	OPT_PRINCIPAL,
	OPT_GROUP,
	OPT_ATTR,
	OPT_ACTION,
	OPT_AS,
	OPT_COMMAND,
	OPT_HOST,
	OPT_HOST_ID,
	OPT_LABEL,
	OPT_SOURCE,
	OPT_POSTURE,
	OPT_ALERTS,
	OPT_ATTESTATION,
	OPT_TICKET,
	OPT_GRANT,
	OPT_TIME,
	OPT_JSON,
	OPT_HELP,
};

static int request_option(struct policy_request *r, int c, const char *arg, char *err,
			  size_t err_len)
{
	struct access_request *q = &r->req;
	int64_t v;
	switch (c) {
	case OPT_POLICIES: r->policies = arg; break;
	case OPT_PRINCIPAL: q->principal.name = arg; break;
	case OPT_GROUP:
		if (q->principal.n_groups >= POLICY_REQ_LIST_MAX)
			goto too_many;
		r->groups[q->principal.n_groups++] = arg;
		break;
	case OPT_ATTR:
		if (q->principal.n_attrs >= POLICY_REQ_LIST_MAX)
			goto too_many;
		return split_kv(r, arg, "--attr", &r->attrs[q->principal.n_attrs++], err, err_len);
	case OPT_ACTION:
		if (access_action_from_name(arg, &q->action) < 0) {
			snprintf(err, err_len,
				 "unknown action '%s' (login, sudo, sudo-command, port-forward)",
				 arg);
			return -EINVAL;
		}
		break;
	case OPT_AS: q->account = arg; break;
	case OPT_COMMAND: q->command = arg; break;
	case OPT_HOST: q->host.name = arg; break;
	case OPT_HOST_ID: q->host.id = arg; break;
	case OPT_LABEL:
		if (q->host.n_labels >= POLICY_REQ_LIST_MAX)
			goto too_many;
		return split_kv(r, arg, "--label", &r->labels[q->host.n_labels++], err, err_len);
	case OPT_SOURCE:
		if (parse_source(arg, &q->context.source) < 0) {
			snprintf(err, err_len, "--source wants an IPv4 or IPv6 address, not '%s'",
				 arg);
			return -EINVAL;
		}
		break;
	case OPT_POSTURE:
		if (parse_i64(arg, 0, 100, &v) < 0) {
			snprintf(err, err_len, "--posture wants 0 to 100, not '%s'", arg);
			return -EINVAL;
		}
		q->context.posture = (int)v;
		break;
	case OPT_ALERTS: return parse_alerts(arg, q->context.open_alerts, err, err_len);
	case OPT_ATTESTATION:
		if (strcmp(arg, "trusted") == 0) {
			q->context.attestation = ACCESS_ATTEST_TRUSTED;
		} else if (strcmp(arg, "failed") == 0) {
			q->context.attestation = ACCESS_ATTEST_FAILED;
		} else if (strcmp(arg, "unknown") == 0) {
			q->context.attestation = ACCESS_ATTEST_UNKNOWN;
		} else {
			snprintf(err, err_len, "--attestation is trusted, failed or unknown");
			return -EINVAL;
		}
		break;
	case OPT_TICKET: q->context.ticket = arg; break;
	case OPT_GRANT: q->context.grant = true; break;
	case OPT_TIME:
		if (parse_rfc3339(arg, &q->context.now) < 0) {
			snprintf(err, err_len,
				 "--time wants RFC 3339 such as 2026-12-08T10:00:00Z, not '%s'",
				 arg);
			return -EINVAL;
		}
		break;
	case OPT_JSON: r->json = true; break;
	default: snprintf(err, err_len, "unknown option"); return -EINVAL;
	}
	return 0;
too_many:
	snprintf(err, err_len, "at most %d of each --group, --attr and --label",
		 POLICY_REQ_LIST_MAX);
	return -EINVAL;
}

int policy_request_parse(int argc, char **argv, struct policy_request *r, char *err, size_t err_len)
{
	static const struct option opts[] = {
		{ "policies", required_argument, NULL, OPT_POLICIES },
		{ "principal", required_argument, NULL, OPT_PRINCIPAL },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "attr", required_argument, NULL, OPT_ATTR },
		{ "action", required_argument, NULL, OPT_ACTION },
		{ "as", required_argument, NULL, OPT_AS },
		{ "command", required_argument, NULL, OPT_COMMAND },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "host-id", required_argument, NULL, OPT_HOST_ID },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "posture", required_argument, NULL, OPT_POSTURE },
		{ "alerts", required_argument, NULL, OPT_ALERTS },
		{ "attestation", required_argument, NULL, OPT_ATTESTATION },
		{ "ticket", required_argument, NULL, OPT_TICKET },
		{ "grant", no_argument, NULL, OPT_GRANT },
		{ "time", required_argument, NULL, OPT_TIME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	memset(r, 0, sizeof(*r));
	r->req.principal.groups = r->groups;
	r->req.principal.attrs = r->attrs;
	r->req.host.labels = r->labels;
	r->req.context.posture = -1;
	r->req.context.now = (int64_t)time(NULL);
	bool have_action = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == OPT_HELP)
			return 1;
		if (c == '?') {
			snprintf(err, err_len, "unknown option or missing value: '%s'",
				 argv[optind - 1]);
			return -EINVAL;
		}
		have_action |= c == OPT_ACTION;
		int rr = request_option(r, c, optarg, err, err_len);
		if (rr < 0)
			return rr;
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	const char *missing = !r->policies	       ? "--policies"
			      : !r->req.principal.name ? "--principal"
			      : !have_action	       ? "--action"
			      : !r->req.host.name      ? "--host"
						       : NULL;
	if (missing) {
		snprintf(err, err_len, "test wants %s", missing);
		return -EINVAL;
	}
	if (r->req.action == ACCESS_SUDO_COMMAND && !r->req.command) {
		snprintf(err, err_len, "--action sudo-command wants --command CMD");
		return -EINVAL;
	}
	return 0;
}

void policy_request_clear(struct policy_request *r)
{
	for (size_t i = 0; i < r->n_owned; i++)
		free(r->owned[i]);
	r->n_owned = 0;
}

static json_t *kv_json(const struct access_attr *kv, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].key, json_string(kv[i].value));
	return o;
}

static json_t *source_json(const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];
	const void *a = NULL;
	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!a || !inet_ntop(ss->ss_family, a, buf, sizeof(buf)))
		return json_null();
	return json_string(buf);
}

json_t *policy_request_json(const struct policy_request *r)
{
	const struct access_request *q = &r->req;
	json_t *groups = json_array();
	for (size_t i = 0; i < q->principal.n_groups; i++)
		json_array_append_new(groups, json_string(q->principal.groups[i]));
	static const char *const attest[] = { NULL, "trusted", "failed" };
	char when[32] = "";
	time_t t = (time_t)q->context.now;
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *posture = q->context.posture >= 0 ? json_integer(q->context.posture) : json_null();
	return json_pack("{s:{s:s, s:o, s:o}, s:s, s:s?, s:s?, s:{s:s?, s:s?, s:o}, "
			 "s:{s:s, s:o, s:o, s:s?, s:{s:I, s:I, s:I, s:I}, s:s?, s:b}}",
			 "principal", "name", q->principal.name, "groups", groups, "attributes",
			 kv_json(q->principal.attrs, q->principal.n_attrs), "action",
			 access_action_name(q->action), "account", q->account, "command",
			 q->command, "host", "name", q->host.name, "id", q->host.id, "labels",
			 kv_json(q->host.labels, q->host.n_labels), "context", "time", when,
			 "source", source_json(&q->context.source), "posture", posture,
			 "attestation", attest[q->context.attestation], "alerts", "critical",
			 (json_int_t)q->context.open_alerts[ACCESS_SEV_CRITICAL], "high",
			 (json_int_t)q->context.open_alerts[ACCESS_SEV_HIGH], "medium",
			 (json_int_t)q->context.open_alerts[ACCESS_SEV_MEDIUM], "low",
			 (json_int_t)q->context.open_alerts[ACCESS_SEV_LOW], "ticket",
			 q->context.ticket, "grant", q->context.grant);
}

/* ---- test ---- */

static void print_test(const struct access_decision *d, json_t *expl, const char **ap, size_t n_ap,
		       int64_t max_grant)
{
	bool color = cli_color();
	const char *on = color ? (d->allow ? "\033[32m" : "\033[31m") : "",
		   *off = color ? "\033[0m" : "";
	printf("%s%s%s", on, d->allow ? "allow" : "deny", off);
	if (d->decided_by)
		printf(" by %s %s (%s:%u)\n", d->decided_by->forbid ? "forbid" : "permit",
		       d->decided_by->name, d->decided_by->file, d->decided_by->line);
	else
		printf(": no policy permits this\n");
	size_t i;
	json_t *e;
	json_array_foreach(expl, i, e) {
		bool m = json_is_true(json_object_get(e, "matched"));
		const char *why = json_string_value(json_object_get(e, "reason"));
		_cleanup_free_ char *reason = fleet_safe(why ? why : "");
		printf("  %-6s %-32s %s:%lld  %s%s\n",
		       json_string_value(json_object_get(e, "effect")),
		       json_string_value(json_object_get(e, "policy")),
		       json_string_value(json_object_get(e, "file")),
		       (long long)json_integer_value(json_object_get(e, "line")),
		       m ? "applies" : "does not apply: ", m ? "" : reason);
	}
	if (n_ap) {
		printf("a grant would allow it; approvers:");
		for (size_t k = 0; k < n_ap; k++)
			printf(" %s", ap[k]);
		if (max_grant)
			printf(" (at most %lld min)", (long long)(max_grant / 60));
		putchar('\n');
	}
}

static int policy_test(int argc, char **argv)
{
	struct policy_request r;
	char err[512];
	int rr = policy_request_parse(argc, argv, &r, err, sizeof(err));
	if (rr == 1) {
		print_help();
		policy_request_clear(&r);
		return EXIT_OK;
	}
	if (rr < 0) {
		policy_request_clear(&r);
		return cli_usage_error("policy", "%s", err);
	}
	struct access_policy_set *set = NULL;
	char lerr[1024];
	rr = access_policy_load_dir(r.policies, &set, lerr, sizeof(lerr));
	if (rr < 0) {
		_cleanup_free_ char *msg = fleet_safe(lerr);
		fprintf(stderr, "immune policy test: %s\n", msg);
		policy_request_clear(&r);
		return EXIT_ERROR;
	}
	struct access_decision d;
	char *text = access_explain(set, &r.req, &d);
	json_t *expl = json_loads(text, 0, NULL);
	free(text);
	const char *ap[64];
	int64_t max_grant = 0;
	size_t n_ap = 0;
	if (!d.allow && !r.req.context.grant)
		n_ap = access_grant_approvers(set, &r.req, ap, ARRAY_SIZE(ap), &max_grant);
	if (r.json) {
		json_t *approvers = json_array();
		for (size_t i = 0; i < n_ap; i++)
			json_array_append_new(approvers, json_string(ap[i]));
		json_t *by = d.decided_by ? json_pack("{s:s, s:s, s:s, s:I}", "policy",
						      d.decided_by->name, "effect",
						      d.decided_by->forbid ? "forbid" : "permit",
						      "file", d.decided_by->file, "line",
						      (json_int_t)d.decided_by->line)
					  : json_null();
		json_t *doc = json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:I}", "schema",
					"immune.policy_test/v1", "allow", d.allow, "decided_by", by,
					"request", policy_request_json(&r), "explanation",
					expl ? expl : json_array(), "approvers", approvers,
					"max_grant_s", (json_int_t)max_grant);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	} else {
		print_test(&d, expl, ap, n_ap, max_grant);
		json_decref(expl);
	}
	access_policy_set_free(set);
	policy_request_clear(&r);
	return d.allow ? EXIT_OK : EXIT_FINDINGS;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_help();
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	if (strcmp(argv[1], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	/* the server's policies (users.c): push, list, test --server */
	bool server = false;
	for (int i = 2; i < argc; i++)
		server = server || strcmp(argv[i], "--server") == 0;
	if (strcmp(argv[1], "push") == 0 || strcmp(argv[1], "list") == 0 ||
	    (strcmp(argv[1], "test") == 0 && server))
		return cmd_policy_fleet(argc, argv);
	if (strcmp(argv[1], "test") == 0)
		return policy_test(argc - 1, argv + 1);
	return cli_usage_error("policy", "unknown subcommand '%s' (check, test, push, list)",
			       argv[1]);
}
