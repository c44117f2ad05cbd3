/* OSCAL writer: renders an immune.scan/v1 document as an OSCAL 1.1.2 assessment-results
 * JSON document.
 *
 * What was confirmed against the OSCAL 1.1.2 JSON schema (the "complete" schema, $id
 * http://csrc.nist.gov/ns/oscal/1.0/1.1.2/schema.json, definitions assessment-results, result,
 * observation, finding, finding-target, reviewed-controls, select-control-by-id,
 * subject-reference, system-component, assessment-assets, origin-actor, metadata, property);
 * every object there has additionalProperties false, and every array minItems 1, so this
 * writer never emits an unknown key or an empty array:
 *   - root: one key "assessment-results"; it requires uuid, metadata, import-ap, results.
 *     Its own local-definitions only allow objectives-and-methods / activities / remarks, so
 *     the host is defined in results[0].local-definitions (components, assessment-assets).
 *   - metadata requires title, last-modified, version, oscal-version (version and
 *     oscal-version are StringDatatype: non-empty, no leading/trailing white space).
 *   - import-ap requires href (a URI reference).
 *   - result requires uuid, title, description, start, reviewed-controls; end is optional.
 *   - reviewed-controls requires control-selections; a selection has no required key and
 *     takes include-controls: [{control-id}] where control-id is a TokenDatatype
 *     (^(\p{L}|_)(\p{L}|\p{N}|[.\-_])*$).
 *   - observation requires uuid, description, methods (EXAMINE|INTERVIEW|TEST|UNKNOWN),
 *     collected (date-time with time zone); subjects items require subject-uuid and type
 *     (component, inventory-item, ...); relevant-evidence items require description.
 *   - finding requires uuid, title, description, target; target requires type
 *     (statement-id|objective-id), target-id (a token) and status {state:
 *     satisfied|not-satisfied, optional reason pass|fail|other}; target may also carry
 *     implementation-status {state} (implemented, partial, planned, alternative,
 *     not-applicable); related-observations items require observation-uuid.
 *   - system-component requires uuid, type, title, description, status {state: operational...};
 *     assessment-assets requires assessment-platforms (items require uuid); origin actors
 *     require type (tool|assessment-platform|party) and actor-uuid.
 *   - property requires name (token) and value (StringDatatype); ns is a URI.
 *   - UUIDs must be version 4 or 5 (RFC 4122 layout); date-times need a time zone.
 *
 * Choices made here:
 *   - import-ap.href is "#": OSCAL requires a reference to an assessment plan, but an Immune
 *     scan is not driven by an OSCAL assessment plan (the shipped catalog is the plan), so
 *     the reference points at this document itself; import-ap.remarks says so.
 *   - Identifiers that must be tokens are derived, never copied raw: NIST SP 800-53 ids take
 *     the form of NIST's OSCAL catalog ("AC-6(2)" -> "ac-6.2"); other frameworks' ids are
 *     prefixed with the framework key ("5.1.20" -> "cis-5.1.20", "CC6.1" -> "soc2-CC6.1"),
 *     which also keeps equal ids of different frameworks apart; any other byte becomes "_".
 *     A finding's target is its check ("objective-id" = the check id, prefixed "check-" only
 *     if it does not start with a letter); the controls it maps to are finding props.
 *   - Status: pass -> satisfied (reason pass); fail -> not-satisfied (reason fail);
 *     error -> not-satisfied (reason other: a check cannot prove what it could not read);
 *     not_applicable -> satisfied (reason other) with implementation-status not-applicable:
 *     OSCAL's objective state has only two values, and a check whose applicability
 *     conditions do not hold on this host is not a gap (Immune's scores ignore it too); the
 *     implementation-status keeps it distinguishable from a pass. So every check has exactly
 *     one observation and one finding.
 *   - All UUIDs are random (version 4, OpenSSL RAND_bytes), new for every document. */
#include "policy/report.h"

#include "policy/oscal_util.h"
#include <time.h>

#define SCAN_SCHEMA "immune.scan/v1"

struct oscal {
	int err;	   /* first error (sticky) */
	char start[32];	   /* result start / observation collected */
	char end[32];	   /* result end */
	char now[32];	   /* metadata last-modified */
	json_t *host_uuid; /* the scanned host, a this-system component */
	json_t *tool_uuid; /* the immune tool component */
	const json_t *scan;
};

static const json_t *get(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *get_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(get(o, key));
	return s ? s : "";
}

static json_t *new_uuid(struct oscal *c)
{
	return oscal_uuid(&c->err);
}

/* Parses started_at ("YYYY-MM-DDTHH:MM:SS[.frac]Z") and derives start and end. */
static int scan_times(struct oscal *c)
{
	const char *s = get_str(c->scan, "started_at");
	const json_t *total = get(get(c->scan, "duration_ms"), "total");
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	double ms = json_is_number(total) ? json_number_value(total) : 0;
	time_t t;

	if (!rest)
		return -EINVAL;
	if (*rest == '.') {
		rest++;
		if (*rest < '0' || *rest > '9')
			return -EINVAL;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (strcmp(rest, "Z") != 0 || tm.tm_year < 0 || tm.tm_year > 8099)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	oscal_format_time(t, c->start);
	if (ms < 0 || ms > 1e12)
		ms = 0;
	oscal_format_time(t + (time_t)((ms + 999) / 1000), c->end);
	oscal_format_time(time(NULL), c->now);
	return 0;
}

static json_t *build_metadata(struct oscal *c)
{
	const json_t *host = get(c->scan, "host"), *tool = get(c->scan, "tool");
	const json_t *ver = get(tool, "version");
	json_t *version = json_is_string(ver)
				  ? oscal_string(json_string_value(ver), json_string_length(ver))
				  : NULL;
	json_t *m = json_object();
	_cleanup_free_ char *title =
		xasprintf("Immune assessment results: %s", get_str(host, "hostname"));

	json_object_set_new(m, "title", json_string(title) ?: json_string("Immune assessment"));
	json_object_set_new(m, "last-modified", json_string(c->now));
	json_object_set_new(m, "version", version ? version : json_string("0"));
	json_object_set_new(m, "oscal-version", json_string(OSCAL_VERSION));
	return m;
}

static json_t *component(json_t *uuid, const char *type, json_t *title, json_t *desc, json_t *props)
{
	json_t *o = json_object();

	json_object_set_new(o, "uuid", uuid);
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "title", title);
	json_object_set_new(o, "description", desc);
	oscal_set_array(o, "props", props);
	json_object_set_new(o, "status", json_pack("{s:s}", "state", "operational"));
	return o;
}

/* The host (this-system component) and the tool (assessment asset). */
static json_t *build_local_definitions(struct oscal *c)
{
	const json_t *host = get(c->scan, "host"), *tool = get(c->scan, "tool");
	static const char *const host_props[] = { "os",	    "os_id",  "os_version",
						  "family", "kernel", "root" };
	json_t *props = json_array(), *tprops = json_array();
	_cleanup_free_ char *desc =
		xasprintf("The scanned host %s (%s, kernel %s), read below root %s.",
			  get_str(host, "hostname"), get_str(host, "os"), get_str(host, "kernel"),
			  get_str(host, "root"));
	_cleanup_free_ char *tdesc = xasprintf(
		"%s %s: host security scanner that evaluated the compliance catalog against the "
		"host inventory.",
		get_str(tool, "name"), get_str(tool, "version"));
	json_t *platform, *assets;

	for (size_t i = 0; i < ARRAY_SIZE(host_props); i++) {
		const json_t *v = get(host, host_props[i]);
		char name[32];
		size_t j;
		/* property names are tokens: os_id -> os-id */
		snprintf(name, sizeof(name), "%s", host_props[i]);
		for (j = 0; name[j]; j++)
			if (name[j] == '_')
				name[j] = '-';
		oscal_prop_add_json(props, name, v);
	}
	oscal_prop_add_json(tprops, "version", get(tool, "version"));

	platform =
		json_pack("{s:o, s:s, s:[{s:O}]}", "uuid", new_uuid(c), "title",
			  "Immune host scanner", "uses-components", "component-uuid", c->tool_uuid);
	assets = json_object();
	json_object_set_new(
		assets, "components",
		json_pack("[o]", component(json_incref(c->tool_uuid), "software",
					   oscal_text_or(get(tool, "name"), "immune"),
					   json_string(tdesc) ?: json_string("scanner"), tprops)));
	json_object_set_new(assets, "assessment-platforms", json_pack("[o]", platform));

	return json_pack("{s:[o], s:o}", "components",
			 component(json_incref(c->host_uuid), "this-system",
				   oscal_text_or(get(host, "hostname"), "host"),
				   json_string(desc) ?: json_string("scanned host"), props),
			 "assessment-assets", assets);
}

/* One control selection per framework, its controls as tokens (deduplicated). */
static json_t *build_reviewed_controls(struct oscal *c)
{
	const json_t *fw, *frameworks = get(c->scan, "frameworks");
	json_t *selections = json_array();
	size_t i;

	json_array_foreach(frameworks, i, fw) {
		const json_t *ctl, *controls = get(fw, "controls");
		json_t *sel = json_object(), *include = json_array(), *seen = json_object();
		json_t *props = json_array();
		size_t j;

		json_object_set_new(sel, "description",
				    oscal_text_or(get(fw, "name"), "framework"));
		oscal_prop_add_json(props, "framework", get(fw, "key"));
		oscal_set_array(sel, "props", props);
		json_array_foreach(controls, j, ctl) {
			_cleanup_free_ char *tok = NULL;
			if (!json_is_string(get(ctl, "id")))
				continue;
			tok = oscal_control_token(get_str(fw, "key"), get(ctl, "id"));
			if (json_object_get(seen, tok))
				continue;
			json_object_set_new(seen, tok, json_true());
			json_array_append_new(include, json_pack("{s:s}", "control-id", tok));
		}
		json_decref(seen);
		oscal_set_array(sel, "include-controls", include);
		json_array_append_new(selections, sel);
	}
	if (json_array_size(selections) == 0)
		json_array_append_new(selections,
				      json_pack("{s:s}", "description",
						"No framework controls are mapped by the evaluated "
						"checks."));
	return json_pack("{s:s, s:o}", "description",
			 "Controls of the frameworks the evaluated checks map to.",
			 "control-selections", selections);
}

static json_t *build_observation(struct oscal *c, const json_t *r, json_t *uuid)
{
	const json_t *ev, *evidence = get(r, "evidence");
	json_t *o = json_object(), *props = json_array(), *rel = json_array();
	_cleanup_free_ char *desc =
		xasprintf("Check %s (%s) evaluated to %s: %s", get_str(r, "id"),
			  get_str(r, "title"), get_str(r, "status"), get_str(r, "message"));
	size_t i;

	json_object_set_new(o, "uuid", uuid);
	json_object_set_new(o, "title", oscal_text_or(get(r, "title"), get_str(r, "id")));
	json_object_set_new(o, "description",
			    json_string(desc) ?: oscal_text_or(get(r, "id"), "?"));
	oscal_prop_add_json(props, "check-id", get(r, "id"));
	oscal_prop_add_json(props, "result", get(r, "status"));
	oscal_prop_add_json(props, "severity", get(r, "severity"));
	oscal_prop_add_json(props, "section", get(r, "section"));
	oscal_set_array(o, "props", props);
	json_object_set_new(o, "methods", json_pack("[s]", "TEST"));
	json_object_set_new(o, "origins",
			    json_pack("[{s:[{s:s, s:O}]}]", "actors", "type", "tool", "actor-uuid",
				      c->tool_uuid));
	json_object_set_new(
		o, "subjects",
		json_pack("[{s:O, s:s, s:o}]", "subject-uuid", c->host_uuid, "type", "component",
			  "title", oscal_text_or(get(get(c->scan, "host"), "hostname"), "host")));
	json_array_foreach(evidence, i, ev) {
		json_t *e = json_pack("{s:o}", "description", oscal_evidence_description(ev));
		if (*get_str(ev, "file") && *get_str(ev, "message"))
			json_object_set_new(e, "remarks", oscal_text_or(get(ev, "message"), ""));
		json_array_append_new(rel, e);
	}
	oscal_set_array(o, "relevant-evidence", rel);
	json_object_set_new(o, "collected", json_string(c->start));
	return o;
}

static json_t *build_finding(struct oscal *c, const json_t *r, const json_t *obs_uuid)
{
	const json_t *mappings = get(r, "mappings");
	json_t *f = json_object(), *props = json_array(), *target = json_object();
	_cleanup_free_ char *tok = oscal_check_token(get(r, "id"));
	const char *fw;
	json_t *ids;

	json_object_set_new(f, "uuid", new_uuid(c));
	json_object_set_new(f, "title", oscal_text_or(get(r, "title"), get_str(r, "id")));
	json_object_set_new(f, "description",
			    oscal_text_or(get(r, "message"), get_str(r, "description")));
	oscal_prop_add_json(props, "check-id", get(r, "id"));
	oscal_prop_add_json(props, "severity", get(r, "severity"));
	json_object_foreach((json_t *)mappings, fw, ids) {
		const json_t *id;
		size_t i;
		json_array_foreach(ids, i, id) {
			_cleanup_free_ char *ctl = NULL, *cls = NULL;
			if (!json_is_string(id))
				continue;
			ctl = oscal_control_token(fw, id);
			cls = oscal_class_token(fw);
			oscal_prop_add(props, "control-id", cls, ctl, strlen(ctl));
		}
	}
	oscal_set_array(f, "props", props);

	json_object_set_new(target, "type", json_string("objective-id"));
	json_object_set_new(target, "target-id", json_string(tok));
	json_object_set_new(target, "status", oscal_target_status(get(r, "status")));
	if (strcmp(get_str(r, "status"), "not_applicable") == 0)
		json_object_set_new(target, "implementation-status",
				    json_pack("{s:s}", "state", "not-applicable"));
	json_object_set_new(f, "target", target);
	json_object_set_new(f, "related-observations",
			    json_pack("[{s:O}]", "observation-uuid", obs_uuid));
	if (*get_str(r, "remediation"))
		json_object_set_new(f, "remarks", oscal_text_or(get(r, "remediation"), ""));
	return f;
}

static json_t *build_result(struct oscal *c)
{
	const json_t *r, *results = get(c->scan, "results"), *sum = get(c->scan, "summary");
	const json_t *host = get(c->scan, "host"), *score = get(sum, "score");
	json_t *res = json_object(), *observations = json_array(), *findings = json_array();
	json_t *props = json_array();
	_cleanup_free_ char *title = xasprintf("Immune scan of %s", get_str(host, "hostname"));
	_cleanup_free_ char *score_s = json_is_number(score)
					       ? xasprintf("%.1f", json_number_value(score))
					       : xstrdup("n/a");
	_cleanup_free_ char *desc = xasprintf(
		"Automated configuration assessment of %s (%s) below root %s: %.0f checks, "
		"%.0f passed, %.0f failed, %.0f in error, %.0f not applicable; score %s.",
		get_str(host, "hostname"), get_str(host, "os"), get_str(host, "root"),
		json_is_number(get(sum, "checks")) ? json_number_value(get(sum, "checks"))
						   : (double)json_array_size(results),
		json_number_value(get(sum, "pass")), json_number_value(get(sum, "fail")),
		json_number_value(get(sum, "error")), json_number_value(get(sum, "not_applicable")),
		score_s);
	size_t i;

	json_object_set_new(res, "uuid", new_uuid(c));
	json_object_set_new(res, "title", json_string(title) ?: json_string("Immune scan"));
	json_object_set_new(res, "description",
			    json_string(desc) ?: json_string("Immune scan results"));
	json_object_set_new(res, "start", json_string(c->start));
	json_object_set_new(res, "end", json_string(c->end));
	oscal_prop_add(props, "score", NULL, score_s, strlen(score_s));
	oscal_prop_add_json(props, "filter-framework", get(get(c->scan, "filter"), "framework"));
	oscal_prop_add_json(props, "filter-check", get(get(c->scan, "filter"), "check"));
	oscal_set_array(res, "props", props);
	json_object_set_new(res, "local-definitions", build_local_definitions(c));
	json_object_set_new(res, "reviewed-controls", build_reviewed_controls(c));

	json_array_foreach(results, i, r) {
		json_t *obs_uuid = new_uuid(c);
		json_array_append_new(findings, build_finding(c, r, obs_uuid));
		json_array_append_new(observations, build_observation(c, r, obs_uuid));
	}
	oscal_set_array(res, "observations", observations);
	oscal_set_array(res, "findings", findings);
	return res;
}

int report_write_oscal(const json_t *scan, FILE *out, const struct report_options *opt)
{
	struct oscal c = { .scan = scan };
	json_t *ar, *doc;
	int r;

	if (!json_is_object(scan) || strcmp(get_str(scan, "schema"), SCAN_SCHEMA) != 0 ||
	    !json_is_array(get(scan, "results")))
		return -EINVAL;
	r = scan_times(&c);
	if (r < 0)
		return r;
	c.host_uuid = new_uuid(&c);
	c.tool_uuid = new_uuid(&c);

	ar = json_object();
	json_object_set_new(ar, "uuid", new_uuid(&c));
	json_object_set_new(ar, "metadata", build_metadata(&c));
	json_object_set_new(ar, "import-ap",
			    json_pack("{s:s, s:s}", "href", "#", "remarks",
				      "No OSCAL assessment plan exists: the checks of the Immune "
				      "catalog are the plan, so this reference points at this "
				      "document."));
	json_object_set_new(ar, "results", json_pack("[o]", build_result(&c)));
	doc = json_pack("{s:o}", "assessment-results", ar);
	json_decref(c.host_uuid);
	json_decref(c.tool_uuid);
	if (!doc)
		return -ENOMEM;
	if (c.err) {
		json_decref(doc);
		return c.err;
	}
	r = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (r < 0 || fputc('\n', out) == EOF || fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
