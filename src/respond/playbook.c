/* Response playbooks: loading, matching, guardrails and the circuit breaker (playbook.h,
 * docs/playbooks.md). Documents are split at "---" lines before YAML parsing, so a document
 * that is not valid YAML costs only itself. */
#include "respond/playbook.h"

#include "detect/alert.h"
#include "detect/event.h"
#include "detect/event_json.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/ytree.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#define PB_MAX_FILE (1024u * 1024)
#define PB_MAX_PLAYBOOKS 10000u
#define PB_MAX_STEPS 16u
#define PB_MAX_LIST 256u
#define PB_MAX_DEPTH 8u
#define PB_MAX_RATE 10000
#define PB_RATE_WINDOW_NS (60 * (int64_t)1000000000)
#define PB_KINDS 16u
#define PB_MAX_EXPIRY_S                                                                            \
	7258118400LL /* 2200-01-01T00:00:00Z */ /* above the largest Immune__V1__ActionKind */

struct pb_step {
	Immune__V1__ActionKind kind;
	json_t *params; /* literal values and "{{field}}" strings */
	bool templated;
	enum playbook_mode mode;
	bool local;
	unsigned line;
};

struct playbook {
	char *id;
	char *file;
	unsigned line;
	strv rules, tags, anomalies, checks;
	int min_level; /* 0: any */
	strv label_keys, label_values, not_keys, not_values, hostnames;
	int64_t expires_ns; /* 0: never */
	bool dry_run;
	struct pb_step *steps;
	size_t n_steps;
};

/* The hosts that one action kind touched within the last minute. */
struct pb_rate {
	char **hosts;
	int64_t *times;
	size_t n;
};

struct playbook_set {
	struct playbook **v;
	size_t n;
	bool have_guardrails;
	strv protected_users; /* "root" first */
	strv protected_names;
	strv protected_keys, protected_values;
	int rate_limit[PB_KINDS]; /* 0: none */
	struct pb_rate rate[PB_KINDS];
};

/* Where errors go while one document is read. */
struct pb_ctx {
	struct playbook_set *set;
	strv *errors;
	const char *file;
	unsigned line_base;
	const char *id; /* the playbook's id once known */
	bool failed;
};

static void pb_error(struct pb_ctx *c, const struct ynode *n, const char *fmt, ...) _printf_(3, 4);

static void pb_error(struct pb_ctx *c, const struct ynode *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unsigned line = c->line_base + (n && n->line ? n->line : 1);
	if (c->id)
		strv_push_take(c->errors, xasprintf("%s:%u: %s: %s", c->file, line, c->id, msg));
	else
		strv_push_take(c->errors, xasprintf("%s:%u: %s", c->file, line, msg));
	c->failed = true;
}

int playbook_check_level(const char *severity)
{
	static const char *const names[] = { "low", "medium", "high", "critical" };

	for (size_t i = 0; severity && i < ARRAY_SIZE(names); i++)
		if (strcmp(severity, names[i]) == 0)
			return (int)i + 2;
	return 3;
}

const char *playbook_mode_name(enum playbook_mode m)
{
	switch (m) {
	case PLAYBOOK_AUTO: return "auto";
	case PLAYBOOK_APPROVE: return "approve";
	case PLAYBOOK_NOTIFY: return "notify";
	default: return NULL;
	}
}

static void playbook_free(struct playbook *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->file);
	strv_free(p->rules);
	strv_free(p->tags);
	strv_free(p->anomalies);
	strv_free(p->checks);
	strv_free(p->label_keys);
	strv_free(p->label_values);
	strv_free(p->not_keys);
	strv_free(p->not_values);
	strv_free(p->hostnames);
	for (size_t i = 0; i < p->n_steps; i++)
		json_decref(p->steps[i].params);
	free(p->steps);
	free(p);
}

void playbook_set_free(struct playbook_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		playbook_free(s->v[i]);
	free(s->v);
	strv_free(s->protected_users);
	strv_free(s->protected_names);
	strv_free(s->protected_keys);
	strv_free(s->protected_values);
	for (size_t k = 0; k < PB_KINDS; k++) {
		for (size_t i = 0; i < s->rate[k].n; i++)
			free(s->rate[k].hosts[i]);
		free(s->rate[k].hosts);
		free(s->rate[k].times);
	}
	free(s);
}

size_t playbook_set_count(const struct playbook_set *s)
{
	return s ? s->n : 0;
}

static struct playbook_set *set_new(void)
{
	struct playbook_set *s = xcalloc(1, sizeof(*s));
	strv_push(&s->protected_users, "root");
	return s;
}

/* ---- reading YAML values ------------------------------------------------------------------ */

static bool scalar_null(const struct ynode *n)
{
	return n && n->type == YNODE_SCALAR && !n->quoted &&
	       (!n->scalar[0] || !strcmp(n->scalar, "null") || !strcmp(n->scalar, "~"));
}

static const char *get_str(struct pb_ctx *c, const struct ynode *n, const char *what)
{
	if (!n || n->type != YNODE_SCALAR || !n->scalar[0]) {
		pb_error(c, n, "%s: expected a string", what);
		return NULL;
	}
	return n->scalar;
}

/* A scalar or a list of non-empty scalars as a vector (never empty). */
static int get_list(struct pb_ctx *c, const struct ynode *n, const char *what, strv *out)
{
	strv v = NULL;
	if (n->type == YNODE_SCALAR && n->scalar[0]) {
		strv_push(&v, n->scalar);
	} else if (n->type == YNODE_SEQ && n->n > 0 && n->n <= PB_MAX_LIST) {
		for (size_t i = 0; i < n->n; i++) {
			if (n->items[i]->type != YNODE_SCALAR || !n->items[i]->scalar[0]) {
				strv_free(v);
				pb_error(c, n->items[i], "%s: expected a list of strings", what);
				return -EBADMSG;
			}
			strv_push(&v, n->items[i]->scalar);
		}
	} else {
		pb_error(c, n, "%s: expected a string or a list of at most %u strings", what,
			 PB_MAX_LIST);
		return -EBADMSG;
	}
	strv_free(*out);
	*out = v;
	return 0;
}

/* A map of scalar labels: keys and values as two parallel vectors. */
static int get_labels(struct pb_ctx *c, const struct ynode *n, const char *what, strv *keys,
		      strv *values)
{
	if (n->type != YNODE_MAP || n->n == 0 || n->n > PB_MAX_LIST) {
		pb_error(c, n, "%s: expected a map of labels such as {env: prod}", what);
		return -EBADMSG;
	}
	for (size_t i = 0; i < n->n; i++) {
		if (n->items[i]->type != YNODE_SCALAR) {
			pb_error(c, n->items[i], "%s: label values must be strings", what);
			return -EBADMSG;
		}
		strv_push(keys, n->keys[i]->scalar);
		strv_push(values, n->items[i]->scalar);
	}
	return 0;
}

static int check_keys(struct pb_ctx *c, const struct ynode *map, const char *const *allowed,
		      const char *what)
{
	struct yerror ye;
	if (ynode_check_keys(map, allowed, what, &ye) == 0)
		return 0;
	struct ynode at = { .line = ye.line };
	pb_error(c, ye.line ? &at : map, "%s", ye.msg);
	return -EBADMSG;
}

/* A YAML value as JSON: unquoted true/false become booleans, unquoted whole numbers
 * integers, everything else strings; sequences arrays, maps objects. */
static json_t *to_json(const struct ynode *n, unsigned depth)
{
	if (depth > 8)
		return NULL;
	if (n->type == YNODE_SCALAR) {
		int64_t v;
		if (!n->quoted && (!strcmp(n->scalar, "true") || !strcmp(n->scalar, "false")))
			return json_boolean(!strcmp(n->scalar, "true"));
		if (!n->quoted && n->scalar[0] &&
		    strspn(n->scalar, "-0123456789") == strlen(n->scalar) &&
		    parse_i64(n->scalar, INT64_MIN, INT64_MAX, &v) == 0)
			return json_integer(v);
		return json_string(n->scalar); /* NULL when not UTF-8 */
	}
	json_t *o = n->type == YNODE_SEQ ? json_array() : json_object();
	for (size_t i = 0; i < n->n; i++) {
		json_t *v = to_json(n->items[i], depth + 1);
		if (!v) {
			json_decref(o);
			return NULL;
		}
		int r = n->type == YNODE_SEQ ? json_array_append_new(o, v)
					     : json_object_set_new(o, n->keys[i]->scalar, v);
		if (r < 0) { /* a key that is not UTF-8 */
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- templates ---------------------------------------------------------------------------- */

/* When s is exactly "{{name}}" (blanks allowed inside the braces), copies name to out. */
static bool template_name(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);
	if (n < 5 || memcmp(s, "{{", 2) || memcmp(s + n - 2, "}}", 2))
		return false;
	const char *b = s + 2, *e = s + n - 2;
	while (b < e && *b == ' ')
		b++;
	while (e > b && e[-1] == ' ')
		e--;
	size_t len = (size_t)(e - b);
	if (len == 0 || len >= outlen)
		return false;
	memcpy(out, b, len);
	out[len] = '\0';
	return true;
}

static bool has_braces(const char *s)
{
	return strstr(s, "{{") || strstr(s, "}}");
}

/* A placeholder that passes action_check for a templated parameter, or NULL when key cannot
 * be a template. */
static json_t *placeholder(const char *key)
{
	static const struct {
		const char *key, *value;
	} strings[] = {
		{ "address", "192.0.2.1" },
		{ "user", "nobody" },
		{ "fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
		{ "path", "/nonexistent/placeholder" },
		{ "sha256", "0000000000000000000000000000000000000000000000000000000000000000" },
		{ "check", "placeholder" },
		{ "unit", "placeholder.service" },
		{ "entry", "placeholder" },
	};
	if (!strcmp(key, "pid") || !strcmp(key, "start_time"))
		return json_integer(4242);
	if (!strcmp(key, "fix"))
		return json_pack("{s:s}", "type", "config_set");
	for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
		if (!strcmp(key, strings[i].key))
			return json_string(strings[i].value);
	return NULL;
}

static bool check_template_field(const char *name)
{
	return !strcmp(name, "check_id") || !strcmp(name, "fix") || event_field_by_name(name) >= 0;
}

/* ---- loading one playbook ----------------------------------------------------------------- */

static int step_mode(struct pb_ctx *c, const struct ynode *n, enum playbook_mode *out)
{
	static const enum playbook_mode modes[] = { PLAYBOOK_AUTO, PLAYBOOK_APPROVE,
						    PLAYBOOK_NOTIFY };
	for (size_t i = 0; n && n->type == YNODE_SCALAR && i < ARRAY_SIZE(modes); i++)
		if (!strcmp(n->scalar, playbook_mode_name(modes[i]))) {
			*out = modes[i];
			return 0;
		}
	pb_error(c, n, "mode: expected auto, approve or notify");
	return -EBADMSG;
}

/* Checks the templates of a step's parameters and, with placeholders in their place, the
 * step as action_from_json sees it. */
static int check_params(struct pb_ctx *c, const struct playbook *p, struct pb_step *st,
			const struct ynode *pn)
{
	json_t *probe = json_deep_copy(st->params);
	const char *key;
	json_t *v;
	int r = 0;
	bool only_checks = p->checks != NULL; /* such a playbook never matches an alert */
	bool only_events = !p->checks;

	json_object_foreach(st->params, key, v) {
		const struct ynode *at = ynode_get(pn, key);
		char name[64];
		if (!json_is_string(v))
			continue;
		const char *s = json_string_value(v);
		if (!template_name(s, name, sizeof(name))) {
			if (has_braces(s)) {
				pb_error(c, at,
					 "%s: a template must be the whole value, as \"{{field}}\"",
					 key);
				r = -EBADMSG;
			}
			continue;
		}
		st->templated = true;
		json_t *ph = placeholder(key);
		if (!check_template_field(name)) {
			pb_error(c, at,
				 "%s: {{%s}} is not an event field (docs/events.md), check_id or "
				 "fix",
				 key, name);
			r = -EBADMSG;
		} else if (!ph) {
			pb_error(c, at, "%s: this parameter cannot be a template", key);
			r = -EBADMSG;
		} else if (only_checks && strcmp(name, "check_id") && strcmp(name, "fix")) {
			pb_error(c, at, "%s: a check trigger has no event field {{%s}}", key, name);
			r = -EBADMSG;
		} else if (only_events && (!strcmp(name, "check_id") || !strcmp(name, "fix"))) {
			pb_error(c, at, "%s: {{%s}} needs a check trigger", key, name);
			r = -EBADMSG;
		}
		if (ph)
			json_object_set_new(probe, key, ph);
	}
	if (r == 0) {
		Action *a = NULL;
		char err[256];
		if (action_from_json(st->kind, probe, &a, err, sizeof(err)) < 0) {
			pb_error(c, pn, "%s", err);
			r = -EBADMSG;
		}
		action_free(a);
	}
	json_decref(probe);
	return r;
}

static int parse_step(struct pb_ctx *c, struct playbook *p, const struct ynode *n,
		      struct pb_step *st)
{
	static const char *const keys[] = { "action", "params", "mode", "local", NULL };
	if (check_keys(c, n, keys, "step") < 0)
		return -EBADMSG;
	st->line = c->line_base + n->line;
	st->mode = PLAYBOOK_APPROVE;
	const char *name = get_str(c, ynode_get(n, "action"), "action");
	if (!name)
		return -EBADMSG;
	int k = action_kind_by_name(name);
	if (k < 0) {
		pb_error(c, ynode_get(n, "action"), "action: unknown action '%s'", name);
		return -EBADMSG;
	}
	st->kind = (Immune__V1__ActionKind)k;
	const struct ynode *m = ynode_get(n, "mode");
	if (m && step_mode(c, m, &st->mode) < 0)
		return -EBADMSG;
	const struct ynode *l = ynode_get(n, "local");
	struct yerror ye;
	if (l && ynode_as_bool(l, "local", &st->local, &ye) < 0) {
		pb_error(c, l, "local: expected true or false");
		return -EBADMSG;
	}
	if (st->local && st->mode == PLAYBOOK_APPROVE) {
		pb_error(c, l,
			 "local: a local step runs at once on the agent; approve steps wait "
			 "on the server (use mode auto, or local: false)");
		return -EBADMSG;
	}
	const struct ynode *pn = ynode_get(n, "params");
	if (pn && !scalar_null(pn) && pn->type != YNODE_MAP) {
		pb_error(c, pn, "params: expected a map");
		return -EBADMSG;
	}
	st->params = pn && pn->type == YNODE_MAP ? to_json(pn, 0) : json_object();
	if (!st->params) {
		pb_error(c, pn, "params: too deep or not UTF-8");
		return -EBADMSG;
	}
	return check_params(c, p, st, pn);
}

static int parse_steps(struct pb_ctx *c, struct playbook *p, const struct ynode *n)
{
	if (n->type != YNODE_SEQ || n->n == 0 || n->n > PB_MAX_STEPS) {
		pb_error(c, n, "steps: expected a list of 1 to %u steps", PB_MAX_STEPS);
		return -EBADMSG;
	}
	p->steps = xcalloc(n->n, sizeof(*p->steps));
	int r = 0;
	for (size_t i = 0; i < n->n; i++) {
		if (parse_step(c, p, n->items[i], &p->steps[p->n_steps]) < 0)
			r = -EBADMSG;
		p->n_steps++; /* kept so that its params are freed */
	}
	return r;
}

static int parse_trigger(struct pb_ctx *c, struct playbook *p, const struct ynode *n)
{
	static const char *const keys[] = { "rule", "tag", "min_level", "anomaly", "check", NULL };
	if (check_keys(c, n, keys, "trigger") < 0)
		return -EBADMSG;
	if (n->n == 0) {
		pb_error(c, n,
			 "trigger: name at least one of rule, tag, min_level, anomaly, check");
		return -EBADMSG;
	}
	const struct ynode *v;
	if ((v = ynode_get(n, "rule")) && get_list(c, v, "trigger rule", &p->rules) < 0)
		return -EBADMSG;
	if ((v = ynode_get(n, "tag")) && get_list(c, v, "trigger tag", &p->tags) < 0)
		return -EBADMSG;
	if ((v = ynode_get(n, "anomaly")) && get_list(c, v, "trigger anomaly", &p->anomalies) < 0)
		return -EBADMSG;
	if ((v = ynode_get(n, "check")) && get_list(c, v, "trigger check", &p->checks) < 0)
		return -EBADMSG;
	if ((v = ynode_get(n, "min_level"))) {
		int l = v->type == YNODE_SCALAR ? alert_level_by_name(v->scalar) : -ENOENT;
		if (l < 0) {
			pb_error(
				c, v,
				"min_level: expected informational, low, medium, high or critical");
			return -EBADMSG;
		}
		p->min_level = l;
	}
	if (p->checks && (p->rules || p->anomalies)) {
		pb_error(c, n, "trigger: check cannot be combined with rule or anomaly");
		return -EBADMSG;
	}
	return 0;
}

static int parse_when(struct pb_ctx *c, struct playbook *p, const struct ynode *n)
{
	static const char *const keys[] = { "labels", "not_labels", "hostnames", NULL };
	if (check_keys(c, n, keys, "when") < 0)
		return -EBADMSG;
	const struct ynode *v;
	if ((v = ynode_get(n, "labels")) &&
	    get_labels(c, v, "when labels", &p->label_keys, &p->label_values) < 0)
		return -EBADMSG;
	if ((v = ynode_get(n, "not_labels")) &&
	    get_labels(c, v, "when not_labels", &p->not_keys, &p->not_values) < 0)
		return -EBADMSG;
	if ((v = ynode_get(n, "hostnames")) && get_list(c, v, "when hostnames", &p->hostnames) < 0)
		return -EBADMSG;
	return 0;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "2027-06-30" (the end of that day, UTC) or "2027-06-30T12:00:00Z": the first instant at
 * which the playbook no longer matches. */
static int parse_expiry(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	if ((n != 10 && n != 20) || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2))
		return -EINVAL;
	struct tm tm = { 0 };
	tm.tm_year =
		(s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
	tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
	if (n == 20) {
		if (s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
		    s[16] != ':' || !digits(s + 17, 2) || s[19] != 'Z')
			return -EINVAL;
		tm.tm_hour = (s[11] - '0') * 10 + (s[12] - '0');
		tm.tm_min = (s[14] - '0') * 10 + (s[15] - '0');
		tm.tm_sec = (s[17] - '0') * 10 + (s[18] - '0');
	}
	struct tm want = tm;
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon ||
	    tm.tm_hour != want.tm_hour || tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
		return -EINVAL;
	if (n == 10)
		t += 86400;
	if (t < 0 || t > PB_MAX_EXPIRY_S) /* nanoseconds in an int64_t end in 2262 */
		return -EINVAL;
	*out = (int64_t)t * 1000000000;
	return 0;
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static struct playbook *parse_playbook(struct pb_ctx *c, const struct ynode *doc)
{
	static const char *const keys[] = { "id",     "title",	    "description", "trigger",
					    "when",   "steps",	    "expires",	   "dry_run",
					    "author", "references", NULL };
	const struct ynode *idn = ynode_get(doc, "id");
	if (!idn || idn->type != YNODE_SCALAR || !valid_id(idn->scalar)) {
		pb_error(c, idn ? idn : doc,
			 "id: expected a name of letters, digits, '.', '_' and '-' (at most 128)");
		return NULL;
	}
	struct playbook *p = xcalloc(1, sizeof(*p));
	p->id = xstrdup(idn->scalar);
	c->id = p->id;
	p->file = xstrdup(c->file);
	p->line = c->line_base + (doc->line ? doc->line : 1);
	const struct ynode *v;
	if (check_keys(c, doc, keys, "playbook") < 0)
		goto bad;
	if ((v = ynode_get(doc, "title")) && !get_str(c, v, "title"))
		goto bad;
	if ((v = ynode_get(doc, "description")) && v->type != YNODE_SCALAR) {
		pb_error(c, v, "description: expected a string");
		goto bad;
	}
	if (!ynode_get(doc, "trigger") || !ynode_get(doc, "steps")) {
		pb_error(c, doc, "a playbook needs a trigger and steps");
		goto bad;
	}
	if (parse_trigger(c, p, ynode_get(doc, "trigger")) < 0)
		goto bad;
	if ((v = ynode_get(doc, "when")) && parse_when(c, p, v) < 0)
		goto bad;
	if ((v = ynode_get(doc, "expires")) &&
	    (v->type != YNODE_SCALAR || parse_expiry(v->scalar, &p->expires_ns) < 0)) {
		pb_error(c, v, "expires: expected a date such as 2027-06-30");
		goto bad;
	}
	struct yerror ye;
	if ((v = ynode_get(doc, "dry_run")) && ynode_as_bool(v, "dry_run", &p->dry_run, &ye) < 0) {
		pb_error(c, v, "dry_run: expected true or false");
		goto bad;
	}
	if (parse_steps(c, p, ynode_get(doc, "steps")) < 0)
		goto bad;
	return p;
bad:
	c->id = NULL;
	playbook_free(p);
	return NULL;
}

/* ---- guardrails --------------------------------------------------------------------------- */

static int parse_rate_limits(struct pb_ctx *c, struct playbook_set *s, const struct ynode *n)
{
	if (n->type != YNODE_MAP) {
		pb_error(c, n, "rate_limits: expected a map such as {isolate-host: 5}");
		return -EBADMSG;
	}
	for (size_t i = 0; i < n->n; i++) {
		int k = action_kind_by_name(n->keys[i]->scalar);
		int64_t v;
		struct yerror ye;
		if (k < 0 || (unsigned)k >= PB_KINDS) {
			pb_error(c, n->keys[i], "rate_limits: unknown action '%s'",
				 n->keys[i]->scalar);
			return -EBADMSG;
		}
		if (ynode_as_i64(n->items[i], "rate limit", 1, PB_MAX_RATE, &v, &ye) < 0) {
			pb_error(c, n->items[i],
				 "rate_limits: %s: expected hosts per minute, 1..%d",
				 n->keys[i]->scalar, PB_MAX_RATE);
			return -EBADMSG;
		}
		s->rate_limit[k] = (int)v;
	}
	return 0;
}

static void parse_guardrails(struct pb_ctx *c, const struct ynode *doc)
{
	static const char *const top[] = { "guardrails", NULL };
	static const char *const keys[] = { "protected_users", "protected_hosts", "rate_limits",
					    NULL };
	static const char *const host_keys[] = { "labels", "names", NULL };
	struct playbook_set *s = c->set;
	const struct ynode *g = ynode_get(doc, "guardrails"), *v;

	c->id = "guardrails";
	if (check_keys(c, doc, top, "guardrails document") < 0 ||
	    check_keys(c, g, keys, "guardrails") < 0)
		return;
	if (s->have_guardrails) {
		pb_error(c, g, "a second guardrails document (only one is allowed in a set)");
		return;
	}
	struct playbook_set tmp = { 0 };
	strv users = NULL;
	if ((v = ynode_get(g, "protected_users")) && get_list(c, v, "protected_users", &users) < 0)
		goto out;
	if ((v = ynode_get(g, "protected_hosts"))) {
		const struct ynode *h;
		if (check_keys(c, v, host_keys, "protected_hosts") < 0)
			goto out;
		if ((h = ynode_get(v, "names")) &&
		    get_list(c, h, "protected_hosts names", &tmp.protected_names) < 0)
			goto out;
		if ((h = ynode_get(v, "labels")) &&
		    get_labels(c, h, "protected_hosts labels", &tmp.protected_keys,
			       &tmp.protected_values) < 0)
			goto out;
	}
	if ((v = ynode_get(g, "rate_limits")) && parse_rate_limits(c, &tmp, v) < 0)
		goto out;
	s->have_guardrails = true;
	for (size_t i = 0; users && users[i]; i++)
		if (!strv_contains(s->protected_users, users[i]))
			strv_push(&s->protected_users, users[i]);
	s->protected_names = tmp.protected_names;
	s->protected_keys = tmp.protected_keys;
	s->protected_values = tmp.protected_values;
	memcpy(s->rate_limit, tmp.rate_limit, sizeof(s->rate_limit));
	tmp.protected_names = tmp.protected_keys = tmp.protected_values = NULL;
out:
	strv_free(users);
	strv_free(tmp.protected_names);
	strv_free(tmp.protected_keys);
	strv_free(tmp.protected_values);
}

/* ---- loading files ------------------------------------------------------------------------ */

static void add_playbook(struct pb_ctx *c, struct playbook *p)
{
	struct playbook_set *s = c->set;
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i]->id, p->id)) {
			struct ynode at = { .line = p->line - c->line_base };
			pb_error(c, &at, "duplicate playbook id (first in %s:%u)", s->v[i]->file,
				 s->v[i]->line);
			playbook_free(p);
			return;
		}
	}
	if (s->n >= PB_MAX_PLAYBOOKS) {
		pb_error(c, NULL, "too many playbooks (at most %u)", PB_MAX_PLAYBOOKS);
		playbook_free(p);
		return;
	}
	if ((s->n & (s->n - 1)) == 0)
		s->v = xrealloc(s->v, (s->n ? 2 * s->n : 1) * sizeof(*s->v));
	s->v[s->n++] = p;
}

static void load_doc(struct playbook_set *s, strv *errors, const char *file, const char *text,
		     size_t len, unsigned line_base)
{
	struct pb_ctx c = { .set = s, .errors = errors, .file = file, .line_base = line_base };
	struct ynode **docs = NULL;
	size_t ndocs = 0;
	struct yerror ye;

	if (ytree_parse_stream(text, len, &docs, &ndocs, &ye) < 0) {
		struct ynode at = { .line = ye.line };
		pb_error(&c, &at, "%s", ye.msg);
		return;
	}
	for (size_t i = 0; i < ndocs; i++) {
		const struct ynode *d = docs[i];
		c.id = NULL;
		if (scalar_null(d))
			continue; /* comments only */
		if (d->type != YNODE_MAP) {
			pb_error(&c, d, "a playbook document must be a map");
			continue;
		}
		if (ynode_get(d, "guardrails")) {
			parse_guardrails(&c, d);
			continue;
		}
		struct playbook *p = parse_playbook(&c, d);
		if (p)
			add_playbook(&c, p); /* errors still name p's id */
	}
	ytree_free_docs(docs, ndocs);
}

/* A line "---" (optionally followed by blanks or a comment) starts a new document. */
static bool is_doc_start(const char *p, const char *end)
{
	if (end - p < 3 || memcmp(p, "---", 3))
		return false;
	p += 3;
	return p == end || *p == '\n' || *p == '\r' || *p == ' ' || *p == '\t';
}

static void load_text(struct playbook_set *s, strv *errors, const char *file, const char *text,
		      size_t len)
{
	const char *end = text + len, *start = text, *p = text;
	unsigned line = 0, start_line = 0;

	if (memchr(text, '\0', len)) {
		strv_push_take(errors, xasprintf("%s:1: NUL byte in a playbook file", file));
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (p != start && is_doc_start(p, eol)) {
			load_doc(s, errors, file, start, (size_t)(p - start), start_line);
			start = p;
			start_line = line;
		}
		line++;
		p = nl ? nl + 1 : end;
	}
	if (start < end)
		load_doc(s, errors, file, start, (size_t)(end - start), start_line);
}

int playbook_load_buffer(const char *name, const char *data, size_t len, struct playbook_set **out,
			 strv *errors)
{
	struct playbook_set *s = set_new();
	if (len > PB_MAX_FILE)
		strv_push_take(errors, xasprintf("%s:1: larger than %u bytes", name, PB_MAX_FILE));
	else if (len > 0)
		load_text(s, errors, name, data, len);
	*out = s;
	return 0;
}

static bool is_playbook_file(const char *name)
{
	return name[0] != '.' && (str_has_suffix(name, ".yml") || str_has_suffix(name, ".yaml"));
}

static int load_path(struct playbook_set *s, strv *errors, const char *path, unsigned depth,
		     bool top)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		if (depth >= PB_MAX_DEPTH)
			return 0;
		int n = scandir(path, &ents, NULL, alphasort);
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			const char *nm = ents[i]->d_name;
			struct stat sst;
			_cleanup_free_ char *sub = xasprintf("%s/%s", path, nm);
			if (nm[0] != '.' && stat(sub, &sst) == 0 &&
			    (S_ISDIR(sst.st_mode) ||
			     (S_ISREG(sst.st_mode) && is_playbook_file(nm)))) {
				int r = load_path(s, errors, sub, depth + 1, false);
				if (r < 0)
					strv_push_take(errors, xasprintf("%s:0: cannot read: %s",
									 sub, strerror(-r)));
			}
			free(ents[i]);
		}
		free(ents);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return top ? -EINVAL : 0;
	struct buf b;
	buf_init(&b, PB_MAX_FILE);
	int r = file_read_capped(path, PB_MAX_FILE, &b);
	if (r == 0)
		load_text(s, errors, path, buf_str(&b), buf_len(&b));
	buf_free(&b);
	return r;
}

int playbook_load(const char *path, struct playbook_set **out, strv *errors)
{
	struct playbook_set *s = set_new();
	int r = load_path(s, errors, path, 0, true);
	if (r < 0) {
		playbook_set_free(s);
		return r;
	}
	*out = s;
	return 0;
}

/* ---- matching ----------------------------------------------------------------------------- */

static bool in_list(char *const *v, const char *s)
{
	return s && strv_contains(v, s);
}

/* want matches tag when equal or a prefix ending on a '.' boundary ("attack.t1110" matches
 * "attack.t1110.001", not "attack.t11101"); ASCII case is ignored. */
static bool tag_matches(const char *want, const char *tag)
{
	size_t n = strlen(want);
	return tag && strncasecmp(tag, want, n) == 0 && (tag[n] == '\0' || tag[n] == '.');
}

static bool trigger_matches(const struct playbook *p, const struct playbook_input *in)
{
	bool check = in->source && !strcmp(in->source, "check");
	if (!!p->checks != check || (p->checks && !in_list(p->checks, in->rule_id)))
		return false; /* checks match only playbooks that name them */
	if ((p->rules || p->anomalies || p->tags) && check)
		return false;
	if (p->rules && !in_list(p->rules, in->rule_id))
		return false;
	if (p->anomalies) {
		if (!in->rule_id || !str_has_prefix(in->rule_id, "baseline.") ||
		    !in_list(p->anomalies, in->rule_id + strlen("baseline.")))
			return false;
	}
	if (p->min_level && in->level < p->min_level)
		return false;
	if (p->tags) {
		bool any = false;
		for (size_t i = 0; p->tags[i] && !any; i++)
			for (size_t j = 0; j < in->n_tags && !any; j++)
				any = tag_matches(p->tags[i], in->tags[j]);
		if (!any)
			return false;
	}
	return true;
}

static const char *label_of(const struct playbook_input *in, const char *key)
{
	for (size_t i = 0; i < in->n_labels; i++)
		if (in->label_keys[i] && !strcmp(in->label_keys[i], key))
			return in->label_values[i];
	return NULL;
}

static bool when_matches(const struct playbook *p, const struct playbook_input *in)
{
	for (size_t i = 0; p->label_keys && p->label_keys[i]; i++) {
		const char *v = label_of(in, p->label_keys[i]);
		if (!v || strcmp(v, p->label_values[i]))
			return false;
	}
	for (size_t i = 0; p->not_keys && p->not_keys[i]; i++) {
		const char *v = label_of(in, p->not_keys[i]);
		if (v && !strcmp(v, p->not_values[i]))
			return false;
	}
	return !p->hostnames || in_list(p->hostnames, in->hostname);
}

static bool host_protected(const struct playbook_set *s, const struct playbook_input *in)
{
	if (in_list(s->protected_names, in->hostname))
		return true;
	for (size_t i = 0; s->protected_keys && s->protected_keys[i]; i++) {
		const char *v = label_of(in, s->protected_keys[i]);
		if (v && !strcmp(v, s->protected_values[i]))
			return true;
	}
	return false;
}

bool playbook_user_protected(const struct playbook_set *s, const char *user)
{
	if (!user)
		return false;
	if (!strcmp(user, "root"))
		return true;
	return s && strv_contains(s->protected_users, user);
}

const char *const *playbook_protected_users(const struct playbook_set *s)
{
	static const char *const root_only[] = { "root", NULL };
	return s ? (const char *const *)s->protected_users : root_only;
}

/* The value of template field name for in, or NULL. */
static const char *template_value(const struct playbook_input *in, const char *name)
{
	bool check = in->source && !strcmp(in->source, "check");
	if (!strcmp(name, "check_id"))
		return check ? in->rule_id : NULL;
	if (!strcmp(name, "fix"))
		return check ? in->fix_json : NULL;
	return in->field ? in->field(in->field_arg, name) : NULL;
}

/* params with every template replaced by its value; NULL with a reason in why. */
static json_t *fill_params(const json_t *params, const struct playbook_input *in, char *why,
			   size_t whylen)
{
	json_t *out = json_deep_copy(params);
	const char *key;
	json_t *v;
	json_object_foreach(out, key, v) {
		char name[64];
		if (!json_is_string(v) || !template_name(json_string_value(v), name, sizeof(name)))
			continue;
		const char *val = template_value(in, name);
		json_t *nv = NULL;
		if (!val || !val[0]) {
			snprintf(why, whylen, "no %s in the %s", name,
				 in->source && !strcmp(in->source, "check") ? "check" : "event");
		} else if (!strcmp(key, "pid") || !strcmp(key, "start_time")) {
			int64_t x;
			if (parse_i64(val, 0, !strcmp(key, "pid") ? INT32_MAX : INT64_MAX, &x) == 0)
				nv = json_integer(x);
			else
				snprintf(why, whylen, "%s '%.32s' is not a number", name, val);
		} else if (!strcmp(key, "fix")) {
			nv = json_loads(val, JSON_REJECT_DUPLICATES, NULL);
			if (!json_is_object(nv)) {
				json_decref(nv);
				nv = NULL;
				snprintf(why, whylen, "the check's fix is not a JSON object");
			}
		} else {
			nv = json_string(val);
			if (!nv)
				snprintf(why, whylen, "%s is not UTF-8 text", name);
		}
		if (!nv) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, key, nv);
	}
	return out;
}

static void skip(struct playbook_steps *out, const struct playbook *p, size_t i, const char *fmt,
		 ...) _printf_(4, 5);

static void skip(struct playbook_steps *out, const struct playbook *p, size_t i, const char *fmt,
		 ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->skipped = xrealloc(out->skipped, (out->n_skipped + 1) * sizeof(char *));
	out->skipped[out->n_skipped++] = xasprintf("%s step %zu: %s", p->id, i, msg);
}

static void match_step(const struct playbook_set *s, const struct playbook *p, size_t i,
		       const struct playbook_input *in, struct playbook_steps *out)
{
	const struct pb_step *st = &p->steps[i];
	char why[256] = "";
	json_t *params = fill_params(st->params, in, why, sizeof(why));
	if (!params) {
		skip(out, p, i, "%s", why);
		return;
	}
	Action *a = NULL;
	int r = action_from_json(st->kind, params, &a, why, sizeof(why));
	json_decref(params);
	if (r < 0) {
		skip(out, p, i, "%s", why);
		return;
	}
	bool user_kind = st->kind == IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER ||
			 st->kind == IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY;
	bool host_kind = st->kind == IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER ||
			 st->kind == IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST;
	if (user_kind && playbook_user_protected(s, a->user)) {
		skip(out, p, i, "protected user '%s'", a->user);
		action_free(a);
		return;
	}
	if (host_kind && host_protected(s, in)) {
		skip(out, p, i, "protected host '%s'", in->hostname ? in->hostname : "");
		action_free(a);
		return;
	}
	out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = (struct playbook_step){
		.playbook_id = p->id,
		.step = i,
		.mode = st->mode,
		.local = st->local,
		.dry_run = p->dry_run,
		.action = a,
	};
}

int playbook_match(const struct playbook_set *s, const struct playbook_input *in, bool local_only,
		   bool server_only, int64_t now_ns, struct playbook_steps *out)
{
	for (size_t k = 0; s && k < s->n; k++) {
		const struct playbook *p = s->v[k];
		if (p->expires_ns && now_ns >= p->expires_ns)
			continue;
		if (!trigger_matches(p, in) || !when_matches(p, in))
			continue;
		for (size_t i = 0; i < p->n_steps; i++) {
			if ((local_only && !p->steps[i].local) ||
			    (server_only && p->steps[i].local))
				continue;
			match_step(s, p, i, in, out);
		}
	}
	return 0;
}

void playbook_steps_free(struct playbook_steps *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		action_free(st->v[i].action);
	free(st->v);
	for (size_t i = 0; i < st->n_skipped; i++)
		free(st->skipped[i]);
	free(st->skipped);
	memset(st, 0, sizeof(*st));
}

/* ---- the circuit breaker ------------------------------------------------------------------ */

bool playbook_rate_allow(struct playbook_set *s, Immune__V1__ActionKind kind, const char *host_id,
			 int64_t now_ns)
{
	if (!s || (unsigned)kind >= PB_KINDS || s->rate_limit[kind] == 0)
		return true;
	struct pb_rate *r = &s->rate[kind];
	size_t j = 0;
	bool seen = false;
	for (size_t i = 0; i < r->n; i++) {
		int64_t age;
		if (__builtin_sub_overflow(now_ns, r->times[i], &age) || age >= PB_RATE_WINDOW_NS ||
		    age <= -PB_RATE_WINDOW_NS) {
			free(r->hosts[i]);
			continue;
		}
		bool same = !strcmp(r->hosts[i], host_id ? host_id : "");
		seen |= same;
		r->hosts[j] = r->hosts[i];
		r->times[j++] = same ? now_ns : r->times[i]; /* counted from its last action */
	}
	r->n = j;
	if (seen)
		return true; /* a host already counted in this minute */
	if (r->n >= (size_t)s->rate_limit[kind])
		return false;
	r->hosts = xrealloc(r->hosts, (r->n + 1) * sizeof(char *));
	r->times = xrealloc(r->times, (r->n + 1) * sizeof(int64_t));
	r->hosts[r->n] = xstrdup(host_id ? host_id : "");
	r->times[r->n++] = now_ns;
	return true;
}

/* ---- alerts as inputs --------------------------------------------------------------------- */

static const char *event_field_value(void *arg, const char *name)
{
	const struct host_event *ev = arg;
	int f = event_field_by_name(name);
	return ev && f >= 0 ? host_event_get(ev, (enum event_field)f, NULL) : NULL;
}

/* "Command and Control" -> "attack.command_and_control". */
static char *tactic_tag(const char *name)
{
	char *t = xasprintf("attack.%s", name);
	for (char *c = t; *c; c++)
		*c = *c == ' ' || *c == '-' ? '_' : (char)tolower((unsigned char)*c);
	return t;
}

static void summary_tags(const struct alert_summary *s, strv *tags)
{
	size_t i;
	json_t *t;
	json_array_foreach(s->techniques, i, t) {
		_cleanup_free_ char *tag = xasprintf("attack.%s", json_string_value(t));
		str_lower(tag);
		if (!strv_contains(*tags, tag))
			strv_push(tags, tag);
	}
	const json_t *attacks =
		json_object_get(json_object_get(s->root, "finding_info"), "attacks");
	json_array_foreach(attacks, i, t) {
		const char *name =
			json_string_value(json_object_get(json_object_get(t, "tactic"), "name"));
		if (!name || strlen(name) > 64)
			continue;
		_cleanup_free_ char *tag = tactic_tag(name);
		if (!strv_contains(*tags, tag))
			strv_push(tags, tag);
	}
}

int playbook_input_from_alert_summary(const struct alert_summary *s, struct playbook_alert *out)
{
	struct playbook_alert a = { 0 };
	size_t n = json_array_size(s->evidence);
	if (n > 0) {
		a.event = xcalloc(1, sizeof(*a.event));
		host_event_init(a.event);
		if (host_event_from_json(json_array_get(s->evidence, n - 1), a.event) < 0) {
			host_event_free(a.event);
			free(a.event);
			return -EBADMSG;
		}
	}
	summary_tags(s, &a.tags);
	const json_t *host = json_object_get(json_object_get(s->root, "device"), "hostname");
	a.in = (struct playbook_input){
		.source = s->source,
		.rule_id = s->rule_id,
		.level = s->level,
		.tags = (const char *const *)a.tags,
		.n_tags = strv_len(a.tags),
		.hostname = json_string_value(host),
		.field = event_field_value,
		.field_arg = a.event,
	};
	*out = a;
	return 0;
}

void playbook_alert_free(struct playbook_alert *a)
{
	if (!a)
		return;
	strv_free(a->tags);
	if (a->event) {
		host_event_free(a->event);
		free(a->event);
	}
	memset(a, 0, sizeof(*a));
}

int playbook_input_from_alert(const struct alert *al, struct playbook_alert *out)
{
	struct playbook_alert a = { 0 };
	for (size_t i = 0; al->tags && al->tags[i]; i++)
		strv_push(&a.tags, al->tags[i]);
	a.in = (struct playbook_input){
		.source = alert_source_name(al->source),
		.rule_id = al->rule_id,
		.level = (int)al->level,
		.tags = (const char *const *)a.tags,
		.n_tags = strv_len(a.tags),
		.hostname = al->hostname,
		.field = event_field_value,
		.field_arg = al->n_evidence ? &al->evidence[al->n_evidence - 1] : NULL,
	};
	*out = a;
	return 0;
}
