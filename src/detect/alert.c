/* Alerts: building, OCSF Detection Finding serialization and bounded parsing (alert.h). */
#include "detect/alert.h"

#include "detect/event_json.h"
#include "lib/str.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/rand.h>

/* Bounds on what alert_parse accepts from an agent. */
#define ALERT_MAX_JSON (1024u * 1024)
#define ALERT_MAX_STRING 4096u
#define ALERT_MAX_ATTACKS 64u
#define ALERT_MAX_TAGS 64u

static const char *const level_names[] = {
	[SIGMA_LEVEL_INFORMATIONAL] = "informational",
	[SIGMA_LEVEL_LOW] = "low",
	[SIGMA_LEVEL_MEDIUM] = "medium",
	[SIGMA_LEVEL_HIGH] = "high",
	[SIGMA_LEVEL_CRITICAL] = "critical",
};

/* OCSF severity captions, indexed by severity_id (the same numbers as enum sigma_level). */
static const char *const severity_captions[] = {
	[1] = "Informational", [2] = "Low", [3] = "Medium", [4] = "High", [5] = "Critical",
};

static const char *const source_names[] = {
	[ALERT_RULE] = "rule",
	[ALERT_CORRELATION] = "correlation",
	[ALERT_ANOMALY] = "anomaly",
};

/* MITRE ATT&CK enterprise tactics: Sigma tag name and tactic id. */
static const struct {
	const char *tag;
	const char *uid;
	const char *name;
} tactics[] = {
	{ "reconnaissance", "TA0043", "Reconnaissance" },
	{ "resource_development", "TA0042", "Resource Development" },
	{ "initial_access", "TA0001", "Initial Access" },
	{ "execution", "TA0002", "Execution" },
	{ "persistence", "TA0003", "Persistence" },
	{ "privilege_escalation", "TA0004", "Privilege Escalation" },
	{ "defense_evasion", "TA0005", "Defense Evasion" },
	{ "credential_access", "TA0006", "Credential Access" },
	{ "discovery", "TA0007", "Discovery" },
	{ "lateral_movement", "TA0008", "Lateral Movement" },
	{ "collection", "TA0009", "Collection" },
	{ "command_and_control", "TA0011", "Command and Control" },
	{ "exfiltration", "TA0010", "Exfiltration" },
	{ "impact", "TA0040", "Impact" },
};

void alert_new_uid(struct alert *a)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		abort(); /* no randomness: nothing sensible to do */
	for (size_t i = 0; i < sizeof(raw); i++) {
		a->uid[2 * i] = hex[raw[i] >> 4];
		a->uid[2 * i + 1] = hex[raw[i] & 15];
	}
	a->uid[32] = '\0';
}

void alert_add_evidence(struct alert *a, const struct event *ev)
{
	if (a->n_evidence == ALERT_MAX_EVIDENCE) {
		event_free(&a->evidence[0]);
		memmove(&a->evidence[0], &a->evidence[1],
			(ALERT_MAX_EVIDENCE - 1) * sizeof(a->evidence[0]));
		a->n_evidence--;
	} else {
		a->evidence = xrealloc(a->evidence, (a->n_evidence + 1) * sizeof(a->evidence[0]));
	}
	struct event *dst = &a->evidence[a->n_evidence];
	event_init(dst);
	if (event_copy(dst, ev) < 0) {
		/* out of memory inside the arena: keep what was copied, marked truncated */
		dst->truncated = true;
	}
	a->n_evidence++;
}

void alert_clear(struct alert *a)
{
	if (!a)
		return;
	free(a->rule_id);
	free(a->title);
	strv_free(a->tags);
	free(a->explanation);
	free(a->group_key);
	free(a->hostname);
	for (size_t i = 0; i < a->n_evidence; i++)
		event_free(&a->evidence[i]);
	free(a->evidence);
	memset(a, 0, sizeof(*a));
}

/* "attack.t1110.001" -> "T1110.001" in out; returns true for a technique tag. */
static bool tag_technique(const char *tag, char out[16])
{
	if (!str_has_prefix(tag, "attack.t") && !str_has_prefix(tag, "attack.T"))
		return false;
	const char *t = tag + strlen("attack.t");
	size_t n = strlen(t);
	if (n != 4 && n != 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool want_dot = i == 4;
		if (want_dot ? t[i] != '.' : !isdigit((unsigned char)t[i]))
			return false;
	}
	snprintf(out, 16, "T%s", t);
	return true;
}

/* The tactic for "attack.credential_access" or "attack.credential-access", or -1. */
static int tag_tactic(const char *tag)
{
	if (!str_has_prefix(tag, "attack."))
		return -1;
	const char *t = tag + strlen("attack.");
	for (size_t i = 0; i < ARRAY_SIZE(tactics); i++) {
		const char *a = tactics[i].tag, *b = t;
		while (*a && *b &&
		       (*a == *b || (*a == '_' && *b == '-') || tolower((unsigned char)*b) == *a))
			a++, b++;
		if (!*a && !*b)
			return (int)i;
	}
	return -1;
}

static json_t *attacks_json(char *const *tags)
{
	json_t *attacks = json_array();
	int tactic = -1;

	for (size_t i = 0; tags && tags[i] && tactic < 0; i++)
		tactic = tag_tactic(tags[i]);
	for (size_t i = 0; tags && tags[i]; i++) {
		char tech[16];
		if (!tag_technique(tags[i], tech))
			continue;
		json_t *at = json_pack("{s:{s:s}}", "technique", "uid", tech);
		if (tactic >= 0)
			json_object_set_new(at, "tactic",
					    json_pack("{s:s,s:s}", "uid", tactics[tactic].uid,
						      "name", tactics[tactic].name));
		json_array_append_new(attacks, at);
	}
	if (json_array_size(attacks) == 0 && tactic >= 0)
		json_array_append_new(attacks,
				      json_pack("{s:{s:s,s:s}}", "tactic", "uid",
						tactics[tactic].uid, "name", tactics[tactic].name));
	return attacks;
}

static json_t *finding_info_json(const struct alert *a)
{
	const char *src = (a->source >= ALERT_RULE && a->source <= ALERT_ANOMALY)
				  ? source_names[a->source]
				  : "rule";
	bool anomaly = a->source == ALERT_ANOMALY;
	json_t *fi = json_pack("{s:s,s:s,s:{s:s,s:s,s:i,s:s},s:o,s:[s]}", "uid", a->uid, "title",
			       a->title ? a->title : "", "analytic", "uid",
			       a->rule_id ? a->rule_id : "", "name", a->title ? a->title : "",
			       "type_id", anomaly ? 2 : 1, "type", anomaly ? "Behavioral" : "Rule",
			       "attacks", attacks_json(a->tags), "types", src);
	if (a->explanation)
		json_object_set_new(fi, "desc", json_string(a->explanation));
	if (a->n_evidence > 0) {
		json_object_set_new(fi, "first_seen_time",
				    json_integer(a->evidence[0].time_ns / 1000000));
		json_object_set_new(fi, "last_seen_time",
				    json_integer(a->evidence[a->n_evidence - 1].time_ns / 1000000));
	}
	return fi;
}

json_t *alert_to_json(const struct alert *a)
{
	int level = (a->level >= SIGMA_LEVEL_INFORMATIONAL && a->level <= SIGMA_LEVEL_CRITICAL)
			    ? (int)a->level
			    : SIGMA_LEVEL_MEDIUM;
	const char *src = (a->source >= ALERT_RULE && a->source <= ALERT_ANOMALY)
				  ? source_names[a->source]
				  : "rule";
	json_t *o = json_pack(
		"{s:i,s:s,s:i,s:i,s:i,s:I,s:i,s:s,s:i,s:s,s:s,s:{s:{s:s,s:s},s:s,s:s}}",
		"class_uid", 2004, "class_name", "Detection Finding", "category_uid", 2,
		"activity_id", 1, "type_uid", 200401, "time", (json_int_t)(a->time_ns / 1000000),
		"severity_id", level, "severity", severity_captions[level], "status_id", 1,
		"status", "New", "message", a->title ? a->title : "", "metadata", "product", "name",
		"Immune", "vendor_name", "Immune", "version", "1.1.0", "uid", a->uid);
	json_object_set_new(o, "finding_info", finding_info_json(a));
	if (a->hostname)
		json_object_set_new(o, "device", json_pack("{s:s}", "hostname", a->hostname));

	json_t *ev = json_array();
	for (size_t i = 0; i < a->n_evidence; i++) {
		json_t *e = event_to_json(&a->evidence[i]);
		if (e)
			json_array_append_new(ev, e);
	}
	json_object_set_new(o, "evidence", ev);

	json_t *um = json_pack("{s:s,s:s}", "source", src, "level", level_names[level]);
	if (a->group_key)
		json_object_set_new(um, "group_key", json_string(a->group_key));
	if (a->source == ALERT_ANOMALY || a->score != 0)
		json_object_set_new(um, "score", json_real(a->score));
	if (a->explanation)
		json_object_set_new(um, "explanation", json_string(a->explanation));
	json_object_set_new(o, "unmapped", um);
	return o;
}

/* ---- parsing (the server side: input from an agent) ---- */

/* A string member of obj of 1..max bytes (0..max when may_be_empty), or NULL. */
static const char *get_str(const json_t *obj, const char *key, size_t max, bool may_be_empty)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return NULL;
	size_t n = json_string_length(v);
	if (n > max || (n == 0 && !may_be_empty))
		return NULL;
	return json_string_value(v);
}

static bool valid_technique(const char *s)
{
	size_t n = strlen(s);
	if ((n != 5 && n != 9) || s[0] != 'T')
		return false;
	for (size_t i = 1; i < n; i++) {
		if (i == 5 ? s[i] != '.' : !isdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static int parse_level(const json_t *root, const json_t *um)
{
	const char *name = get_str(um, "level", 32, false);
	if (name) {
		for (int l = SIGMA_LEVEL_INFORMATIONAL; l <= SIGMA_LEVEL_CRITICAL; l++)
			if (strcmp(name, level_names[l]) == 0)
				return l;
		return -EBADMSG;
	}
	const json_t *sev = json_object_get(root, "severity_id");
	if (!json_is_integer(sev) || json_integer_value(sev) < SIGMA_LEVEL_INFORMATIONAL ||
	    json_integer_value(sev) > SIGMA_LEVEL_CRITICAL)
		return -EBADMSG;
	return (int)json_integer_value(sev);
}

static int parse_techniques(const json_t *fi, json_t **out)
{
	const json_t *attacks = json_object_get(fi, "attacks");
	json_t *techs = json_array();

	if (attacks && (!json_is_array(attacks) || json_array_size(attacks) > ALERT_MAX_ATTACKS))
		goto bad;
	size_t i;
	const json_t *at;
	json_array_foreach(attacks, i, at) {
		if (!json_is_object(at))
			goto bad;
		const json_t *tech = json_object_get(at, "technique");
		if (!tech)
			continue; /* a tactic only */
		const char *uid = json_is_object(tech) ? get_str(tech, "uid", 16, false) : NULL;
		if (!uid || !valid_technique(uid))
			goto bad;
		json_array_append_new(techs, json_string(uid));
	}
	*out = techs;
	return 0;
bad:
	json_decref(techs);
	return -EBADMSG;
}

static int parse_evidence(const json_t *root, json_t **out)
{
	json_t *ev = json_object_get(root, "evidence");
	if (!ev) {
		*out = NULL;
		return 0;
	}
	if (!json_is_array(ev) || json_array_size(ev) > ALERT_MAX_EVIDENCE)
		return -EBADMSG;
	size_t i;
	const json_t *e;
	json_array_foreach(ev, i, e) {
		if (!json_is_object(e) || !json_is_integer(json_object_get(e, "class_uid")))
			return -EBADMSG;
	}
	*out = ev;
	return 0;
}

static int parse_source(const json_t *um, const char **out)
{
	const char *s = get_str(um, "source", 16, false);
	if (!s)
		return -EBADMSG;
	for (size_t i = ALERT_RULE; i <= ALERT_ANOMALY; i++) {
		if (strcmp(s, source_names[i]) == 0) {
			*out = source_names[i];
			return 0;
		}
	}
	return -EBADMSG;
}

static bool valid_uid(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (size_t i = 0; i < 32; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static int parse_root(json_t *root, struct alert_summary *s)
{
	if (!json_is_object(root))
		return -EBADMSG;
	const json_t *cls = json_object_get(root, "class_uid");
	if (!json_is_integer(cls) || json_integer_value(cls) != 2004)
		return -EBADMSG;
	const json_t *fi = json_object_get(root, "finding_info");
	const json_t *um = json_object_get(root, "unmapped");
	if (!json_is_object(fi) || !json_is_object(um))
		return -EBADMSG;
	const json_t *an = json_object_get(fi, "analytic");
	if (!json_is_object(an))
		return -EBADMSG;

	s->uid = get_str(fi, "uid", 32, false);
	s->rule_id = get_str(an, "uid", 256, false);
	s->title = get_str(fi, "title", 1024, true);
	if (!s->uid || !valid_uid(s->uid) || !s->rule_id || !s->title)
		return -EBADMSG;
	if (parse_source(um, &s->source) < 0)
		return -EBADMSG;
	int level = parse_level(root, um);
	if (level < 0)
		return -EBADMSG;
	s->level = level;

	const json_t *gk = json_object_get(um, "group_key");
	if (gk && !json_is_null(gk)) {
		s->group_key = get_str(um, "group_key", ALERT_MAX_STRING, true);
		if (!s->group_key)
			return -EBADMSG;
	}
	const json_t *score = json_object_get(um, "score");
	if (score) {
		if (!json_is_number(score))
			return -EBADMSG;
		double d = json_number_value(score);
		if (!(d >= 0 && d <= 1))
			return -EBADMSG;
		s->score = d;
	}
	const json_t *ex = json_object_get(um, "explanation");
	if (ex && (!json_is_string(ex) || json_string_length(ex) > ALERT_MAX_STRING))
		return -EBADMSG;

	const json_t *t = json_object_get(root, "time");
	if (!json_is_integer(t) || json_integer_value(t) < 0 ||
	    json_integer_value(t) > INT64_MAX / 1000000)
		return -EBADMSG;
	s->time_ns = (int64_t)json_integer_value(t) * 1000000;

	if (parse_evidence(root, &s->evidence) < 0)
		return -EBADMSG;
	return parse_techniques(fi, &s->techniques);
}

int alert_parse(const void *p, size_t len, struct alert_summary *out)
{
	if (!p || len == 0 || len > ALERT_MAX_JSON)
		return -EBADMSG;
	json_error_t err;
	json_t *root = json_loadb(p, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return -EBADMSG;
	struct alert_summary s = { .root = root };
	if (parse_root(root, &s) < 0) {
		json_decref(s.techniques);
		json_decref(root);
		return -EBADMSG;
	}
	*out = s;
	return 0;
}

void alert_summary_free(struct alert_summary *s)
{
	if (!s)
		return;
	json_decref(s->techniques);
	json_decref(s->root);
	memset(s, 0, sizeof(*s));
}

const char *alert_source_name(enum alert_source s)
{
	return (s >= ALERT_RULE && s <= ALERT_ANOMALY) ? source_names[s] : NULL;
}

const char *alert_level_name(int level)
{
	return (level >= SIGMA_LEVEL_INFORMATIONAL && level <= SIGMA_LEVEL_CRITICAL)
		       ? level_names[level]
		       : NULL;
}

int alert_level_by_name(const char *name)
{
	for (int l = SIGMA_LEVEL_INFORMATIONAL; l <= SIGMA_LEVEL_CRITICAL; l++)
		if (str_case_eq(name, level_names[l]))
			return l;
	return -ENOENT;
}
