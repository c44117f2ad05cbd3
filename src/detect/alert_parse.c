/* Alerts: bounded parsing of the serialized form (the server side: input from an agent) and
 * the names of sources and levels (alert.h). Nothing here touches struct host_event. */
#include "detect/alert.h"

#include "lib/str.h"

#include <ctype.h>

/* Bounds on what alert_parse accepts from an agent. */
#define ALERT_MAX_JSON (1024u * 1024)
#define ALERT_MAX_STRING 4096u
#define ALERT_MAX_ATTACKS 64u

static const char *const level_names[] = {
	[SIGMA_LEVEL_INFORMATIONAL] = "informational",
	[SIGMA_LEVEL_LOW] = "low",
	[SIGMA_LEVEL_MEDIUM] = "medium",
	[SIGMA_LEVEL_HIGH] = "high",
	[SIGMA_LEVEL_CRITICAL] = "critical",
};

static const char *const source_names[] = {
	[ALERT_RULE] = "rule",
	[ALERT_CORRELATION] = "correlation",
	[ALERT_ANOMALY] = "anomaly",
};

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
