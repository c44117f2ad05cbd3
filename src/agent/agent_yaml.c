#include "agent/agent_yaml.h"

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "lib/ytree.h"
#include "server/duration.h"

#include <ctype.h>
#include <stddef.h>

#define NS_PER_S 1000000000LL

static const char *const sensor_names[AGENT_SENSOR_COUNT] = { "process", "network", "auth", "fim" };

static const char *const process_mechs[] = { "auto", "ebpf", "proc_connector", "off", NULL };
static const char *const network_mechs[] = { "auto", "ebpf", "poll", "off", NULL };
static const char *const auth_mechs[] = { "auto", "off", NULL };
static const char *const fim_mechs[] = { "auto", "fanotify", "inotify", "off", NULL };

const char *agent_sensor_name(enum agent_sensor_id id)
{
	return (unsigned)id < AGENT_SENSOR_COUNT ? sensor_names[id] : NULL;
}

void agent_yaml_defaults(struct agent_yaml *c)
{
	*c = (struct agent_yaml){ 0 };
	c->sensors.process_mechanism = "auto";
	c->sensors.network_mechanism = "auto";
	c->sensors.fim_mechanism = "auto";
	c->sensors.auth_journal = true;
	c->sensors.fim_scan_interval_s = 3600;
	c->sensors.fim_cpu_percent = 10;
	for (size_t i = 0; i < AGENT_SENSOR_COUNT; i++)
		c->enabled[i] = true;
	c->access.manage_sshd = true;
	c->access.alert_window_s = AGENT_YAML_ALERT_WINDOW_S;
}

void agent_yaml_free(struct agent_yaml *c)
{
	if (!c)
		return;
	strv_free(c->sensors.auth_logs);
	strv_free(c->sensors.fim_paths);
	strv_free(c->sensors.fim_read_paths);
	c->sensors.auth_logs = NULL;
	c->sensors.fim_paths = NULL;
	c->sensors.fim_read_paths = NULL;
	free(c->response_playbooks);
	c->response_playbooks = NULL;
	char **strs[] = {
		&c->access.dir,		  &c->access.sshd_dropin,     &c->access.sshd_config,
		&c->access.sshd_pid_file, &c->access.principals_user, &c->access.principals_command
	};
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* The mechanism named by n among allowed (a static string), or an error. */
static int get_mechanism(const struct ynode *n, const char *const *allowed, const char *what,
			 const char **out, struct yerror *err)
{
	const char *s = ynode_as_str(n, what, err);
	if (!s)
		return -EBADMSG;
	for (size_t i = 0; allowed[i]; i++)
		if (strcmp(s, allowed[i]) == 0) {
			*out = allowed[i];
			return 0;
		}
	char list[128] = "";
	size_t used = 0;
	for (size_t i = 0; allowed[i] && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 allowed[i]);
	return yerror_at(err, n, "unknown %s '%s' (one of: %s)", what, s, list);
}

/* A duration ("90s", "24h", a bare number of seconds) within [min_s, max_s]. */
static int get_duration(const struct ynode *n, const char *what, int64_t min_s, int64_t max_s,
			int64_t *out, struct yerror *err)
{
	const char *s = ynode_as_str(n, what, err);
	if (!s)
		return -EBADMSG;
	int64_t v;
	if (duration_parse(s, max_s, &v) < 0 || v < min_s)
		return yerror_at(err, n,
				 "invalid %s '%s' (a number with s, m, h or d, from %lld s to "
				 "%lld s)",
				 what, s, (long long)min_s, (long long)max_s);
	*out = v;
	return 0;
}

/* A list of absolute paths (a sequence of strings, at most AGENT_YAML_MAX_LIST). */
static int get_paths(const struct ynode *n, const char *what, strv *out, struct yerror *err)
{
	if (n->type != YNODE_SEQ)
		return yerror_at(err, n, "%s must be a list of absolute paths", what);
	if (n->n > AGENT_YAML_MAX_LIST)
		return yerror_at(err, n, "%s has more than %u entries", what, AGENT_YAML_MAX_LIST);
	_cleanup_strv_ strv v = NULL;
	for (size_t i = 0; i < n->n; i++) {
		const char *s = ynode_as_str(n->items[i], what, err);
		if (!s)
			return -EBADMSG;
		if (s[0] != '/' || strlen(s) >= 4096)
			return yerror_at(err, n->items[i], "%s: '%s' is not an absolute path", what,
					 s);
		strv_push(&v, s);
	}
	if (!v)
		strv_push_take(&v, NULL); /* an empty list stays a list */
	strv_free(*out);
	*out = v;
	v = NULL;
	return 0;
}

static int parse_process(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "mechanism", NULL };
	int r = ynode_check_keys(m, keys, "sensors.process", err);
	const struct ynode *n;
	if (r == 0 && (n = ynode_get(m, "mechanism")))
		r = get_mechanism(n, process_mechs, "process mechanism",
				  &c->sensors.process_mechanism, err);
	return r;
}

static int parse_network(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "mechanism", "poll_interval", NULL };
	int r = ynode_check_keys(m, keys, "sensors.network", err);
	const struct ynode *n;
	if (r == 0 && (n = ynode_get(m, "mechanism")))
		r = get_mechanism(n, network_mechs, "network mechanism",
				  &c->sensors.network_mechanism, err);
	if (r == 0 && (n = ynode_get(m, "poll_interval"))) {
		/* milliseconds ("250ms") or a duration ("2s") */
		const char *s = ynode_as_str(n, "poll_interval", err);
		uint64_t ms;
		int64_t sec;
		if (!s)
			return -EBADMSG;
		if (str_has_suffix(s, "ms")) {
			_cleanup_free_ char *num = xstrndup(s, strlen(s) - 2);
			if (parse_u64(num, 10, 3600000, &ms) < 0 || ms < 10)
				return yerror_at(err, n, "invalid poll_interval '%s' (10ms to 1h)",
						 s);
		} else {
			r = get_duration(n, "poll_interval", 1, 3600, &sec, err);
			if (r < 0)
				return r;
			ms = (uint64_t)sec * 1000;
		}
		c->sensors.network_poll_ms = (uint32_t)ms;
	}
	return r;
}

static int parse_auth(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "mechanism", "logs", "journal", NULL };
	const char *mech = "auto";
	int r = ynode_check_keys(m, keys, "sensors.auth", err);
	const struct ynode *n;
	if (r == 0 && (n = ynode_get(m, "mechanism")))
		r = get_mechanism(n, auth_mechs, "auth mechanism", &mech, err);
	if (r == 0 && (n = ynode_get(m, "logs")))
		r = get_paths(n, "sensors.auth.logs", &c->sensors.auth_logs, err);
	if (r == 0 && (n = ynode_get(m, "journal")))
		r = ynode_as_bool(n, "sensors.auth.journal", &c->sensors.auth_journal, err);
	if (r == 0)
		c->enabled[AGENT_SENSOR_AUTH] = strcmp(mech, "off") != 0;
	return r;
}

static int parse_fim(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "mechanism",     "paths",	    "reads",
					    "scan_interval", "cpu_percent", NULL };
	int r = ynode_check_keys(m, keys, "sensors.fim", err);
	const struct ynode *n;
	int64_t v;
	if (r == 0 && (n = ynode_get(m, "mechanism")))
		r = get_mechanism(n, fim_mechs, "fim mechanism", &c->sensors.fim_mechanism, err);
	if (r == 0 && (n = ynode_get(m, "paths")))
		r = get_paths(n, "sensors.fim.paths", &c->sensors.fim_paths, err);
	if (r == 0 && (n = ynode_get(m, "reads")))
		r = get_paths(n, "sensors.fim.reads", &c->sensors.fim_read_paths, err);
	if (r == 0 && (n = ynode_get(m, "scan_interval"))) {
		if (n->type == YNODE_SCALAR && strcmp(n->scalar, "off") == 0) {
			c->sensors.fim_scan_interval_s = 0;
		} else {
			r = get_duration(n, "scan_interval", 60, 30 * 86400, &v, err);
			if (r == 0)
				c->sensors.fim_scan_interval_s = (uint32_t)v;
		}
	}
	if (r == 0 && (n = ynode_get(m, "cpu_percent"))) {
		r = ynode_as_i64(n, "cpu_percent", 1, 100, &v, err);
		if (r == 0)
			c->sensors.fim_cpu_percent = (uint32_t)v;
	}
	return r;
}

static int parse_sensors(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static int (*const parsers[AGENT_SENSOR_COUNT])(
		const struct ynode *, struct agent_yaml *,
		struct yerror *) = { parse_process, parse_network, parse_auth, parse_fim };
	int r = ynode_check_keys(m,
				 (const char *const[]){ "process", "network", "auth", "fim", NULL },
				 "sensors", err);
	for (size_t i = 0; r == 0 && i < AGENT_SENSOR_COUNT; i++) {
		const struct ynode *n = ynode_get(m, sensor_names[i]);
		if (!n)
			continue;
		if (n->type == YNODE_SCALAR && !n->quoted && n->scalar[0] == '\0')
			continue; /* "process:" with nothing: the defaults */
		r = parsers[i](n, c, err);
	}
	if (r == 0) {
		c->enabled[AGENT_SENSOR_PROCESS] = strcmp(c->sensors.process_mechanism, "off") != 0;
		c->enabled[AGENT_SENSOR_NETWORK] = strcmp(c->sensors.network_mechanism, "off") != 0;
		c->enabled[AGENT_SENSOR_FIM] = strcmp(c->sensors.fim_mechanism, "off") != 0;
	}
	return r;
}

static int parse_baseline(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "learning", NULL };
	int r = ynode_check_keys(m, keys, "baseline", err);
	const struct ynode *n;
	int64_t v;
	if (r == 0 && (n = ynode_get(m, "learning"))) {
		r = get_duration(n, "baseline learning", 60, 365 * 86400LL, &v, err);
		if (r == 0)
			c->baseline_learning_ns = v * NS_PER_S;
	}
	return r;
}

static int parse_response(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "playbooks", "isolation_lease", NULL };
	int r = ynode_check_keys(m, keys, "response", err);
	const struct ynode *n;
	int64_t v;
	if (r == 0 && (n = ynode_get(m, "playbooks"))) {
		const char *s = ynode_as_str(n, "response playbooks", err);
		if (!s)
			return -EBADMSG;
		if (s[0] != '/' || strlen(s) >= 4096)
			return yerror_at(err, n, "response playbooks: '%s' is not an absolute path",
					 s);
		free(c->response_playbooks);
		c->response_playbooks = xstrdup(s);
	}
	if (r == 0 && (n = ynode_get(m, "isolation_lease"))) {
		r = get_duration(n, "isolation_lease", AGENT_YAML_LEASE_MIN_S,
				 AGENT_YAML_LEASE_MAX_S, &v, err);
		if (r == 0)
			c->isolation_lease_s = (uint32_t)v;
	}
	return r;
}

/* An absolute path into *out (replacing it). */
static int get_abs_path(const struct ynode *n, const char *what, char **out, struct yerror *err)
{
	const char *s = ynode_as_str(n, what, err);
	if (!s)
		return -EBADMSG;
	if (s[0] != '/' || strlen(s) >= 4096 || strchr(s, '\n') || strchr(s, ' '))
		return yerror_at(err, n, "%s: '%s' is not an absolute path without spaces", what,
				 s);
	free(*out);
	*out = xstrdup(s);
	return 0;
}

static bool user_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static int parse_access(const struct ynode *m, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "dir",
					    "sshd_dropin",
					    "manage_sshd",
					    "sshd_config",
					    "sshd_pid_file",
					    "principals_user",
					    "principals_command",
					    "alert_window",
					    NULL };
	static const struct {
		const char *key;
		size_t off;
	} paths[] = {
		{ "dir", offsetof(struct agent_yaml_access, dir) },
		{ "sshd_dropin", offsetof(struct agent_yaml_access, sshd_dropin) },
		{ "sshd_config", offsetof(struct agent_yaml_access, sshd_config) },
		{ "sshd_pid_file", offsetof(struct agent_yaml_access, sshd_pid_file) },
		{ "principals_command", offsetof(struct agent_yaml_access, principals_command) },
	};
	int r = ynode_check_keys(m, keys, "access", err);
	const struct ynode *n;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(paths); i++)
		if ((n = ynode_get(m, paths[i].key))) {
			char what[64];
			snprintf(what, sizeof(what), "access %s", paths[i].key);
			r = get_abs_path(n, what, (char **)((char *)&c->access + paths[i].off),
					 err);
		}
	if (r == 0 && (n = ynode_get(m, "manage_sshd")))
		r = ynode_as_bool(n, "access manage_sshd", &c->access.manage_sshd, err);
	if (r == 0 && (n = ynode_get(m, "principals_user"))) {
		const char *s = ynode_as_str(n, "access principals_user", err);
		if (!s)
			return -EBADMSG;
		if (!user_name_ok(s))
			return yerror_at(err, n, "access principals_user: '%s' is not a user name",
					 s);
		free(c->access.principals_user);
		c->access.principals_user = xstrdup(s);
	}
	if (r == 0 && (n = ynode_get(m, "alert_window")))
		r = get_duration(n, "access alert_window", 60, 30 * 86400LL,
				 &c->access.alert_window_s, err);
	return r;
}

static int parse_root(const struct ynode *root, struct agent_yaml *c, struct yerror *err)
{
	static const char *const keys[] = { "sensors",	"baseline", "outputs",
					    "response", "access",   NULL };
	if (root->type == YNODE_SCALAR && !root->quoted && root->scalar[0] == '\0')
		return 0; /* an empty file */
	int r = ynode_check_keys(root, keys, "the configuration", err);
	const struct ynode *n;
	if (r == 0 && (n = ynode_get(root, "sensors")))
		r = parse_sensors(n, c, err);
	if (r == 0 && (n = ynode_get(root, "baseline")))
		r = parse_baseline(n, c, err);
	if (r == 0 && (n = ynode_get(root, "response")))
		r = parse_response(n, c, err);
	if (r == 0 && (n = ynode_get(root, "access")))
		r = parse_access(n, c, err);
	if (r == 0 && (n = ynode_get(root, "outputs"))) {
		/* its entries are output.h's to check (outputs_parse) */
		if (n->type != YNODE_SEQ)
			return yerror_at(err, n, "outputs must be a list");
		c->has_outputs = true;
	}
	return r;
}

int agent_yaml_parse(const char *text, size_t len, const char *name, struct agent_yaml *c,
		     char *err, size_t errlen)
{
	struct yerror ye = { 0 };
	struct ynode **docs = NULL;
	size_t ndocs = 0;
	agent_yaml_defaults(c);
	int r = ytree_parse_stream(text, len, &docs, &ndocs, &ye);
	if (r == 0 && ndocs > 1)
		r = yerror_at(&ye, docs[1], "one document expected, this is a second one");
	if (r == 0 && ndocs == 1)
		r = parse_root(docs[0], c, &ye);
	ytree_free_docs(docs, ndocs);
	if (r < 0) {
		agent_yaml_free(c);
		agent_yaml_defaults(c);
		if (ye.line)
			snprintf(err, errlen, "%s:%u:%u: %s", name, ye.line, ye.col, ye.msg);
		else
			snprintf(err, errlen, "%s: %s", name,
				 ye.msg[0] ? ye.msg : "not valid YAML");
		return -EINVAL;
	}
	return 0;
}

int agent_yaml_load(const char *path, struct agent_yaml *c, char *err, size_t errlen)
{
	struct buf b = { 0 };
	agent_yaml_defaults(c);
	int r = file_read_capped(path, AGENT_YAML_MAX_BYTES, &b);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EINVAL  ? "not a regular file"
			 : r == -EFBIG ? "larger than 1 MiB"
				       : strerror(-r));
		return r;
	}
	r = agent_yaml_parse(buf_str(&b), buf_len(&b), path, c, err, errlen);
	buf_free(&b);
	return r;
}
