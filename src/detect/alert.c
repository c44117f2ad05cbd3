/* Alerts: building and the OCSF Detection Finding form (alert.h); parsing is in alert_parse.c
 * so that the server links no event code. */
#include "detect/alert.h"

#include "detect/event_json.h"
#include "lib/str.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/rand.h>

/* OCSF severity captions, indexed by severity_id (the same numbers as enum sigma_level). */
static const char *const severity_captions[] = {
	[1] = "Informational", [2] = "Low", [3] = "Medium", [4] = "High", [5] = "Critical",
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

void alert_add_evidence(struct alert *a, const struct host_event *ev)
{
	if (a->n_evidence == ALERT_MAX_EVIDENCE) {
		host_event_free(&a->evidence[0]);
		memmove(&a->evidence[0], &a->evidence[1],
			(ALERT_MAX_EVIDENCE - 1) * sizeof(a->evidence[0]));
		a->n_evidence--;
	} else {
		a->evidence = xrealloc(a->evidence, (a->n_evidence + 1) * sizeof(a->evidence[0]));
	}
	struct host_event *dst = &a->evidence[a->n_evidence];
	host_event_init(dst);
	if (host_event_copy(dst, ev) < 0) {
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
		host_event_free(&a->evidence[i]);
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
	const char *src = alert_source_name(a->source) ? alert_source_name(a->source) : "rule";
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
	const char *src = alert_source_name(a->source) ? alert_source_name(a->source) : "rule";
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
		json_t *e = host_event_to_json(&a->evidence[i]);
		if (e)
			json_array_append_new(ev, e);
	}
	json_object_set_new(o, "evidence", ev);

	json_t *um = json_pack("{s:s,s:s}", "source", src, "level", alert_level_name(level));
	if (a->group_key)
		json_object_set_new(um, "group_key", json_string(a->group_key));
	if (a->source == ALERT_ANOMALY || a->score != 0)
		json_object_set_new(um, "score", json_real(a->score));
	if (a->explanation)
		json_object_set_new(um, "explanation", json_string(a->explanation));
	json_object_set_new(o, "unmapped", um);
	return o;
}
