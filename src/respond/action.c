/* Typed response actions: names, the validator and the JSON parameter form (action.h). */
#include "respond/action.h"

#include "lib/str.h"
#include "server/duration.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/rand.h>
#include <stdarg.h>

/* The fields an action may carry. */
enum {
	F_PID = 1 << 0,
	F_START = 1 << 1,
	F_TREE = 1 << 2,
	F_ADDRESS = 1 << 3,
	F_DURATION = 1 << 4,
	F_USER = 1 << 5,
	F_FINGERPRINT = 1 << 6,
	F_PATH = 1 << 7,
	F_SHA256 = 1 << 8,
	F_CHECK = 1 << 9,
	F_FIX = 1 << 10,
	F_UNIT = 1 << 11,
	F_ENTRY = 1 << 12,
	F_ALLOW = 1 << 13,
	F_GROUPS = 1 << 14,
	F_SUDO = 1 << 15,
};

struct kind_info {
	Immune__V1__ActionKind kind;
	const char *name;
	unsigned required, optional;
};

static const struct kind_info kinds[] = {
	{ IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS, "kill-process", F_PID, F_START | F_TREE },
	{ IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS, "block-address", F_ADDRESS, F_DURATION },
	{ IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST, "isolate-host", 0, F_ALLOW | F_DURATION },
	{ IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER, "lock-user", F_USER, 0 },
	{ IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY, "remove-authorized-key",
	  F_USER | F_FINGERPRINT, 0 },
	{ IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE, "quarantine-file", F_PATH, 0 },
	{ IMMUNE__V1__ACTION_KIND__ACTION_RESTORE_FILE, "restore-file", F_PATH | F_SHA256, 0 },
	{ IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX, "apply-fix", F_FIX, F_CHECK },
	{ IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_SERVICE, "disable-service", F_UNIT, 0 },
	{ IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_CRON, "disable-cron", F_PATH | F_ENTRY, 0 },
	{ IMMUNE__V1__ACTION_KIND__ACTION_CREATE_ACCOUNT, "create-account", F_USER,
	  F_GROUPS | F_SUDO },
};

/* The typed fixes of docs/catalog.md. */
static const char *const fix_types[] = {
	"config_set",	   "sysctl_set",     "file_mode",    "module_disable", "package_remove",
	"service_disable", "service_enable", "mount_option", "account_lock",
};

static const struct kind_info *kind_info(Immune__V1__ActionKind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

const char *action_kind_name(Immune__V1__ActionKind kind)
{
	const struct kind_info *k = kind_info(kind);
	return k ? k->name : NULL;
}

int action_kind_by_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i].name, name))
			return (int)kinds[i].kind;
	return -ENOENT;
}

static const char *const op_names[] = { "apply", "verify", "rollback", "refresh" };

const char *action_op_name(Immune__V1__ActionOp op)
{
	return (unsigned)op < ARRAY_SIZE(op_names) ? op_names[op] : NULL;
}

int action_op_by_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(op_names); i++)
		if (!strcmp(op_names[i], name))
			return (int)i;
	return -ENOENT;
}

const char *exec_status_name(Immune__V1__ExecStatus status)
{
	switch (status) {
	case IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED: return "verified";
	case IMMUNE__V1__EXEC_STATUS__EXEC_FAILED: return "failed";
	case IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED: return "refused";
	case IMMUNE__V1__EXEC_STATUS__EXEC_ROLLED_BACK: return "rolled_back";
	case IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN: return "dry_run";
	default: return NULL;
	}
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool present(const char *s)
{
	return s && s[0];
}

/* The fields a carries, as F_ bits. */
static unsigned fields_of(const Action *a)
{
	unsigned f = 0;
	f |= a->pid ? F_PID : 0;
	f |= a->start_time ? F_START : 0;
	f |= a->tree ? F_TREE : 0;
	f |= present(a->address) ? F_ADDRESS : 0;
	f |= a->duration_seconds ? F_DURATION : 0;
	f |= present(a->user) ? F_USER : 0;
	f |= present(a->fingerprint) ? F_FINGERPRINT : 0;
	f |= present(a->path) ? F_PATH : 0;
	f |= present(a->sha256) ? F_SHA256 : 0;
	f |= present(a->check_id) ? F_CHECK : 0;
	f |= present(a->fix_json) ? F_FIX : 0;
	f |= present(a->unit) ? F_UNIT : 0;
	f |= present(a->entry) ? F_ENTRY : 0;
	f |= a->n_allow ? F_ALLOW : 0;
	f |= a->n_groups ? F_GROUPS : 0;
	f |= a->n_sudo_commands ? F_SUDO : 0;
	return f;
}

static const char *const field_names[] = {
	"pid",	       "start_time", "tree",   "address",	"duration", "user",
	"fingerprint", "path",	     "sha256", "check",		"fix",	    "unit",
	"entry",       "allow",	     "groups", "sudo_commands",
};

static const char *field_name(unsigned bit)
{
	for (size_t i = 0; i < ARRAY_SIZE(field_names); i++)
		if (bit == 1u << i)
			return field_names[i];
	return "?";
}

/* An IPv4 or IPv6 address, optionally with a /prefix in range. */
static bool address_ok(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	unsigned char bin[16];
	int max;
	if (inet_pton(AF_INET, addr, bin) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		max = 128;
	else
		return false;
	if (!slash)
		return true;
	uint64_t prefix;
	return slash[1] && strspn(slash + 1, "0123456789") == strlen(slash + 1) &&
	       parse_u64(slash + 1, 10, (uint64_t)max, &prefix) == 0;
}

/* A local account name as useradd accepts it: [a-z_][a-z0-9_.-]*, an optional final '$',
 * at most 32 characters. */
static bool user_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '_' || c == '.' || c == '-' ||
		      (c == '$' && i == n - 1)))
			return false;
	}
	return true;
}

/* Absolute, no empty, "." or ".." component, no trailing '/', no control characters. */
static bool path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > ACTION_MAX_PATH || s[0] != '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	for (const char *p = s; *p;) {
		const char *c = p + 1, *e = strchrnul(c, '/');
		size_t len = (size_t)(e - c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		p = e;
	}
	return true;
}

static bool charset_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

static bool sha256_ok(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

/* "SHA256:" and 43 characters of unpadded base64, as ssh-keygen -l prints. */
static bool fingerprint_ok(const char *s)
{
	return str_has_prefix(s, "SHA256:") && strlen(s) == 7 + 43 && charset_ok(s + 7, 43, "+/");
}

/* A sudoers command: ALL, or an absolute command (arguments allowed) without the characters
 * sudoers gives a meaning to (',', '\\', ':', '=', '#', quotes) or control characters. */
static bool sudo_command_ok(const char *s)
{
	size_t n = strlen(s);
	if (!strcmp(s, "ALL"))
		return true;
	if (n < 2 || n > ACTION_MAX_SUDO_COMMAND || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ||
		    strchr(",\\:=#\"'", s[i]))
			return false;
	return true;
}

static bool text_line_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && str_is_text(s, n) && !strchr(s, '\n') && !strchr(s, '\r');
}

static int check_fix(const char *fix_json, char *err, size_t errlen)
{
	if (strlen(fix_json) > ACTION_MAX_FIX)
		return fail(err, errlen, "apply-fix: the fix is longer than %u bytes",
			    ACTION_MAX_FIX);
	json_error_t je;
	json_t *fix = json_loads(fix_json, JSON_REJECT_DUPLICATES, &je);
	const char *type = json_string_value(json_object_get(fix, "type"));
	bool known = false;
	for (size_t i = 0; type && i < ARRAY_SIZE(fix_types); i++)
		known |= !strcmp(type, fix_types[i]);
	bool object = json_is_object(fix);
	int r = 0;
	if (!object)
		r = fail(err, errlen, "apply-fix: the fix is not a JSON object");
	else if (!known)
		r = fail(err, errlen, "apply-fix: unknown fix type '%.64s'", type ? type : "");
	json_decref(fix); /* type points into it */
	return r;
}

/* Every string travels as JSON too (the API, results, undo records), so it must be UTF-8. */
static bool utf8_ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

/* The plain string parameters: their names and where the action keeps them. */
static const struct {
	const char *name;
	size_t off;
} string_params[] = {
	{ "address", offsetof(Action, address) },
	{ "user", offsetof(Action, user) },
	{ "fingerprint", offsetof(Action, fingerprint) },
	{ "path", offsetof(Action, path) },
	{ "sha256", offsetof(Action, sha256) },
	{ "check", offsetof(Action, check_id) },
	{ "unit", offsetof(Action, unit) },
	{ "entry", offsetof(Action, entry) },
};

static char **string_param(const Action *a, size_t i)
{
	return (char **)((const char *)a + string_params[i].off);
}

static int check_utf8(const Action *a, const char *kn, char *err, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(string_params); i++)
		if (present(*string_param(a, i)) && !utf8_ok(*string_param(a, i)))
			return fail(err, errlen, "%s: '%s' is not valid UTF-8", kn,
				    string_params[i].name);
	if (present(a->fix_json) && !utf8_ok(a->fix_json))
		return fail(err, errlen, "%s: 'fix' is not valid UTF-8", kn);
	for (size_t i = 0; i < a->n_allow; i++)
		if (a->allow[i] && !utf8_ok(a->allow[i]))
			return fail(err, errlen, "%s: 'allow' is not valid UTF-8", kn);
	return 0;
}

static int check_fields(const Action *a, const char *kn, char *err, size_t errlen)
{
	if (check_utf8(a, kn, err, errlen) < 0)
		return -EINVAL;
	if (a->pid && a->pid <= 1)
		return fail(err, errlen, "%s: pid %d is out of range", kn, (int)a->pid);
	if (present(a->address) && !address_ok(a->address))
		return fail(err, errlen, "%s: address '%.64s' is not an IP address or CIDR", kn,
			    a->address);
	if (a->duration_seconds > ACTION_MAX_DURATION_S)
		return fail(err, errlen, "%s: duration %u s is over the maximum of %u s", kn,
			    a->duration_seconds, ACTION_MAX_DURATION_S);
	if (present(a->user) && !user_ok(a->user))
		return fail(err, errlen, "%s: '%.64s' is not a valid account name", kn, a->user);
	if (present(a->fingerprint) && !fingerprint_ok(a->fingerprint))
		return fail(err, errlen,
			    "%s: fingerprint '%.80s' is not SHA256:<43 base64 characters>", kn,
			    a->fingerprint);
	if (present(a->path) && !path_ok(a->path))
		return fail(err, errlen,
			    "%s: path '%.128s' must be absolute and normalized (no '.', '..' or "
			    "empty component)",
			    kn, a->path);
	if (present(a->sha256) && !sha256_ok(a->sha256))
		return fail(err, errlen, "%s: sha256 must be 64 lowercase hex characters", kn);
	if (present(a->check_id) && !charset_ok(a->check_id, 64, "._-"))
		return fail(err, errlen, "%s: '%.64s' is not a check id", kn, a->check_id);
	if (present(a->unit) && !charset_ok(a->unit, 256, ":_.@-"))
		return fail(err, errlen, "%s: '%.64s' is not a unit name", kn, a->unit);
	if (present(a->entry) && !text_line_ok(a->entry, ACTION_MAX_STRING))
		return fail(err, errlen, "%s: the entry must be one line of text", kn);
	if (a->n_allow > ACTION_MAX_ALLOW)
		return fail(err, errlen, "%s: at most %u allowed addresses", kn, ACTION_MAX_ALLOW);
	for (size_t i = 0; i < a->n_allow; i++)
		if (!a->allow[i] || !address_ok(a->allow[i]))
			return fail(err, errlen, "%s: allowed address '%.64s' is not an IP or CIDR",
				    kn, a->allow[i] ? a->allow[i] : "");
	if (a->n_groups > ACTION_MAX_GROUPS || a->n_sudo_commands > ACTION_MAX_SUDO)
		return fail(err, errlen, "%s: at most %u groups and %u sudo commands", kn,
			    ACTION_MAX_GROUPS, ACTION_MAX_SUDO);
	for (size_t i = 0; i < a->n_groups; i++)
		if (!a->groups[i] || !user_ok(a->groups[i]))
			return fail(err, errlen, "%s: '%.64s' is not a valid group name", kn,
				    a->groups[i] ? a->groups[i] : "");
	for (size_t i = 0; i < a->n_sudo_commands; i++)
		if (!a->sudo_commands[i] || !sudo_command_ok(a->sudo_commands[i]))
			return fail(err, errlen,
				    "%s: sudo command '%.64s' is not ALL or an absolute command "
				    "without , \\ : = # or quotes",
				    kn, a->sudo_commands[i] ? a->sudo_commands[i] : "");
	return present(a->fix_json) ? check_fix(a->fix_json, err, errlen) : 0;
}

int action_check(const Action *a, char *err, size_t errlen)
{
	if (!a)
		return fail(err, errlen, "no action");
	const struct kind_info *k = kind_info(a->kind);
	if (!k)
		return fail(err, errlen, "unknown action kind %d", (int)a->kind);
	unsigned have = fields_of(a);
	unsigned missing = k->required & ~have, extra = have & ~(k->required | k->optional);
	if (missing)
		return fail(err, errlen, "%s: '%s' is required", k->name,
			    field_name(missing & -missing));
	if (extra)
		return fail(err, errlen, "%s: '%s' does not apply to this action", k->name,
			    field_name(extra & -extra));
	return check_fields(a, k->name, err, errlen);
}

static int set_string(char **dst, const json_t *v, const char *kn, const char *name, char *err,
		      size_t errlen)
{
	if (!json_is_string(v))
		return fail(err, errlen, "%s: '%s' must be a string", kn, name);
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : -ENOMEM;
}

static int set_duration(uint32_t *dst, const json_t *v, const char *kn, char *err, size_t errlen)
{
	int64_t s;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= ACTION_MAX_DURATION_S)
		s = json_integer_value(v);
	else if (!json_is_string(v) ||
		 duration_parse(json_string_value(v), ACTION_MAX_DURATION_S, &s) < 0)
		return fail(err, errlen,
			    "%s: 'duration' must be seconds or a duration such as 15m, "
			    "2h, 7d (at most 30d)",
			    kn);
	*dst = (uint32_t)s;
	return 0;
}

/* A list of strings (allow, groups, sudo_commands) of at most max entries. */
static int set_list(char ***list, size_t *n, const json_t *v, size_t max, const char *kn,
		    const char *name, char *err, size_t errlen)
{
	if (!json_is_array(v) || json_array_size(v) > max)
		return fail(err, errlen, "%s: '%s' must be an array of at most %zu strings", kn,
			    name, max);
	*list = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*list)
		return -ENOMEM;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		int r = set_string(&(*list)[*n], e, kn, name, err, errlen);
		if (r < 0)
			return r;
		(*n)++;
	}
	return 0;
}

static int set_int(const json_t *v, int64_t min, int64_t max, int64_t *out, const char *kn,
		   const char *name, char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(err, errlen, "%s: '%s' must be a whole number", kn, name);
	*out = json_integer_value(v);
	return 0;
}

static int set_param(Action *a, const char *key, const json_t *v, const char *kn, char *err,
		     size_t errlen)
{
	int64_t n;
	int r;
	if (!strcmp(key, "pid")) {
		r = set_int(v, 0, INT32_MAX, &n, kn, key, err, errlen);
		a->pid = (int32_t)n;
		return r;
	}
	if (!strcmp(key, "start_time")) {
		r = set_int(v, 0, INT64_MAX, &n, kn, key, err, errlen);
		a->start_time = (uint64_t)n;
		return r;
	}
	if (!strcmp(key, "tree")) {
		if (!json_is_boolean(v))
			return fail(err, errlen, "%s: 'tree' must be true or false", kn);
		a->tree = json_is_true(v);
		return 0;
	}
	if (!strcmp(key, "duration"))
		return set_duration(&a->duration_seconds, v, kn, err, errlen);
	if (!strcmp(key, "allow"))
		return set_list(&a->allow, &a->n_allow, v, ACTION_MAX_ALLOW, kn, key, err, errlen);
	if (!strcmp(key, "groups"))
		return set_list(&a->groups, &a->n_groups, v, ACTION_MAX_GROUPS, kn, key, err,
				errlen);
	if (!strcmp(key, "sudo_commands"))
		return set_list(&a->sudo_commands, &a->n_sudo_commands, v, ACTION_MAX_SUDO, kn, key,
				err, errlen);
	if (!strcmp(key, "fix")) {
		if (!json_is_object(v))
			return fail(err, errlen, "%s: 'fix' must be an object", kn);
		a->fix_json = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		return a->fix_json ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(string_params); i++)
		if (!strcmp(key, string_params[i].name))
			return set_string(string_param(a, i), v, kn, key, err, errlen);
	return fail(err, errlen, "%s: unknown parameter '%s'", kn, key);
}

int action_from_json(Immune__V1__ActionKind kind, const json_t *params, Action **out, char *err,
		     size_t errlen)
{
	const struct kind_info *k = kind_info(kind);
	if (!k)
		return fail(err, errlen, "unknown action kind %d", (int)kind);
	if (params && !json_is_object(params))
		return fail(err, errlen, "%s: the parameters must be an object", k->name);
	Action *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	immune__v1__action__init(a);
	a->kind = kind;
	const char *key;
	json_t *v;
	int r = 0;
	json_object_foreach((json_t *)params, key, v) {
		if ((r = set_param(a, key, v, k->name, err, errlen)) < 0)
			break;
	}
	if (r == 0)
		r = action_check(a, err, errlen);
	if (r < 0) {
		action_free(a);
		return r;
	}
	*out = a;
	return 0;
}

json_t *action_params_json(const Action *a)
{
	json_t *o = json_object();
	if (a->pid)
		json_object_set_new(o, "pid", json_integer(a->pid));
	if (a->start_time)
		json_object_set_new(o, "start_time", json_integer((json_int_t)a->start_time));
	if (a->tree)
		json_object_set_new(o, "tree", json_true());
	if (a->duration_seconds)
		json_object_set_new(o, "duration", json_integer(a->duration_seconds));
	struct {
		const char *name;
		char **v;
		size_t n;
	} lists[] = { { "allow", a->allow, a->n_allow },
		      { "groups", a->groups, a->n_groups },
		      { "sudo_commands", a->sudo_commands, a->n_sudo_commands } };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		if (!lists[l].n)
			continue;
		json_t *arr = json_array();
		for (size_t i = 0; i < lists[l].n; i++)
			json_array_append_new(arr, json_string(lists[l].v[i]));
		json_object_set_new(o, lists[l].name, arr);
	}
	if (present(a->fix_json)) {
		json_t *fix = json_loads(a->fix_json, 0, NULL);
		json_object_set_new(o, "fix", fix ? fix : json_string(a->fix_json));
	}
	for (size_t i = 0; i < ARRAY_SIZE(string_params); i++)
		if (present(*string_param(a, i)))
			json_object_set_new(o, string_params[i].name,
					    json_string(*string_param(a, i)));
	return o;
}

Action *action_dup(const Action *a)
{
	size_t n = immune__v1__action__get_packed_size(a);
	unsigned char *p = malloc(n ? n : 1);
	if (!p)
		return NULL;
	immune__v1__action__pack(a, p);
	Action *copy = immune__v1__action__unpack(NULL, n, p);
	free(p);
	return copy;
}

void action_free(Action *a)
{
	if (a)
		immune__v1__action__free_unpacked(a, NULL);
}

void action_new_uid(char uid[ACTION_UID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ACTION_UID_LEN / 2];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		abort(); /* no randomness: nothing sensible to do */
	for (size_t i = 0; i < sizeof(raw); i++) {
		uid[2 * i] = hex[raw[i] >> 4];
		uid[2 * i + 1] = hex[raw[i] & 15];
	}
	uid[ACTION_UID_LEN] = '\0';
}

bool action_uid_ok(const char *s)
{
	if (!s || strlen(s) != ACTION_UID_LEN)
		return false;
	for (size_t i = 0; i < ACTION_UID_LEN; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static json_t *param_value(const char *key, const char *v)
{
	int64_t n;
	if (!strcmp(key, "allow") || !strcmp(key, "groups") || !strcmp(key, "sudo_commands")) {
		json_t *arr = json_array();
		_cleanup_strv_ strv parts = str_split(v, ",");
		for (size_t i = 0; parts && parts[i]; i++)
			if (parts[i][0])
				json_array_append_new(arr, json_string(parts[i]));
		return arr;
	}
	if (!strcmp(v, "true") || !strcmp(v, "false"))
		return json_boolean(v[0] == 't');
	if (v[0] == '{')
		return json_loads(v, JSON_REJECT_DUPLICATES, NULL);
	if (parse_i64(v, INT64_MIN, INT64_MAX, &n) == 0)
		return json_integer(n);
	return json_string(v);
}

int action_params_from_args(int argc, char *const *argv, json_t **out, char *err, size_t errlen)
{
	json_t *params = json_object();
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			json_decref(params);
			return fail(err, errlen, "'%.64s' is not key=value", argv[i]);
		}
		char key[32];
		size_t klen = (size_t)(eq - argv[i]);
		if (klen >= sizeof(key)) {
			json_decref(params);
			return fail(err, errlen, "unknown parameter '%.*s'", (int)klen, argv[i]);
		}
		memcpy(key, argv[i], klen);
		key[klen] = '\0';
		json_t *v = param_value(key, eq + 1);
		if (!v || json_object_get(params, key)) {
			json_decref(v);
			json_decref(params);
			return fail(err, errlen,
				    v ? "parameter '%s' given twice"
				      : "parameter '%s': the value is not valid JSON",
				    key);
		}
		json_object_set_new(params, key, v);
	}
	*out = params;
	return 0;
}
