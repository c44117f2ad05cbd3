/* Fleet report as OSCAL 1.1.2 assessment-results (the schema facts are listed in
 * report_oscal.c; the helpers are shared through oscal_util.h):
 *   - one result for the fleet; its local-definitions hold the immune tool (a component and
 *     an assessment platform) and one inventory-item per host, which observations name as
 *     their subject (type inventory-item);
 *   - one observation per check and host, with the host's result as a prop, the message in
 *     the description and each evidence message (file:line when known) as relevant-evidence;
 *     collected is the host's scan time;
 *   - one finding per control of the framework: its target is the control (objective-id, the
 *     control token as in report_oscal.c), satisfied when none of its results failed or
 *     errored, related to the observations of every check and host mapped to it;
 *   - reviewed-controls lists the framework's controls that have results.
 * All UUIDs are random (version 4), new for every document. */
#include "policy/fleet_report.h"
#include "policy/oscal_util.h"

struct fleet_oscal {
	int err;
	char now[32];
	json_t *tool_uuid;
	json_t *host_uuid; /* host id -> inventory item uuid */
	json_t *obs_uuid;  /* "check\nhost" -> observation uuid */
	json_t *host_name; /* host id -> hostname */
	const json_t *doc;
	time_t first, last;
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

/* s as a StringDatatype, or dflt when nothing usable is left. */
static json_t *text_of(const char *s, const char *dflt)
{
	json_t *v = s ? oscal_string(s, strlen(s)) : NULL;
	return v ? v : json_string(dflt);
}

/* A date-time with a time zone for value, or now when value is not RFC 3339. */
static json_t *date_time(struct fleet_oscal *c, const json_t *value)
{
	char s[32];
	time_t t;

	if (oscal_parse_time(json_string_value(value), &t) < 0)
		return json_string(c->now);
	if (!c->first || t < c->first)
		c->first = t;
	if (t > c->last)
		c->last = t;
	oscal_format_time(t, s);
	return json_string(s);
}

static json_t *metadata(struct fleet_oscal *c)
{
	const json_t *fw = get(c->doc, "framework"), *ver = get(get(c->doc, "tool"), "version");
	json_t *version = json_is_string(ver)
				  ? oscal_string(json_string_value(ver), json_string_length(ver))
				  : NULL;
	_cleanup_free_ char *title =
		xasprintf("Immune fleet assessment results: %s", get_str(fw, "name"));
	json_t *t = oscal_string(title, strlen(title));

	return json_pack("{s:o, s:s, s:o, s:s}", "title", t ? t : json_string("Immune fleet"),
			 "last-modified", c->now, "version", version ? version : json_string("0"),
			 "oscal-version", OSCAL_VERSION);
}

static json_t *inventory_item(struct fleet_oscal *c, const json_t *h)
{
	json_t *props = json_array(), *uuid = oscal_uuid(&c->err), *item;
	const char *k;
	json_t *v;
	_cleanup_free_ char *desc =
		xasprintf("Host %s (id %s, %s)%s%s.", get_str(h, "hostname"), get_str(h, "id"),
			  *get_str(h, "os") ? get_str(h, "os") : "operating system unknown",
			  json_is_true(get(h, "scanned")) ? "" : ", not scanned",
			  json_is_true(get(h, "revoked")) ? ", revoked" : "");

	oscal_prop_add_json(props, "host-id", get(h, "id"));
	oscal_prop_add_json(props, "hostname", get(h, "hostname"));
	oscal_prop_add_json(props, "os", get(h, "os"));
	json_object_foreach((json_t *)get(h, "labels"), k, v) {
		if (!json_is_string(v))
			continue;
		_cleanup_free_ char *lv = xasprintf("%s=%s", k, json_string_value(v));
		oscal_prop_add(props, "label", NULL, lv, strlen(lv));
	}
	if (json_is_number(get(h, "score"))) {
		_cleanup_free_ char *s = xasprintf("%.1f", json_number_value(get(h, "score")));
		oscal_prop_add(props, "score", NULL, s, strlen(s));
	}
	json_object_set(c->host_uuid, get_str(h, "id"), uuid);
	json_object_set_new(c->host_name, get_str(h, "id"),
			    oscal_text_or(get(h, "hostname"), get_str(h, "id")));
	item = json_pack("{s:o, s:o}", "uuid", uuid, "description", text_of(desc, "host"));
	oscal_set_array(item, "props", props);
	return item;
}

static json_t *local_definitions(struct fleet_oscal *c)
{
	const json_t *h, *hosts = get(c->doc, "hosts"), *tool = get(c->doc, "tool");
	json_t *items = json_array(), *tprops = json_array(), *ld = json_object();
	json_t *component, *platform;
	size_t i;

	json_array_foreach(hosts, i, h)
		if (json_is_string(get(h, "id")))
			json_array_append_new(items, inventory_item(c, h));
	oscal_prop_add_json(tprops, "version", get(tool, "version"));
	component =
		json_pack("{s:O, s:s, s:o, s:s, s:{s:s}}", "uuid", c->tool_uuid, "type", "software",
			  "title", oscal_text_or(get(tool, "name"), "immune"), "description",
			  "Immune: host agents scan the compliance catalog; the server stores "
			  "each host's latest results and this report joins them.",
			  "status", "state", "operational");
	oscal_set_array(component, "props", tprops);
	platform = json_pack("{s:o, s:s, s:[{s:O}]}", "uuid", oscal_uuid(&c->err), "title",
			     "Immune fleet", "uses-components", "component-uuid", c->tool_uuid);
	json_object_set_new(ld, "components", json_pack("[o]", component));
	oscal_set_array(ld, "inventory-items", items);
	json_object_set_new(ld, "assessment-assets",
			    json_pack("{s:[o]}", "assessment-platforms", platform));
	return ld;
}

static json_t *reviewed_controls(struct fleet_oscal *c)
{
	const json_t *fw = get(c->doc, "framework"), *ctl, *controls = get(c->doc, "controls");
	json_t *sel = json_object(), *include = json_array(), *seen = json_object();
	json_t *props = json_array();
	size_t i;

	json_object_set_new(sel, "description", oscal_text_or(get(fw, "name"), "framework"));
	oscal_prop_add_json(props, "framework", get(fw, "key"));
	oscal_set_array(sel, "props", props);
	json_array_foreach(controls, i, ctl) {
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
	return json_pack("{s:s, s:[o]}", "description",
			 "Controls of the framework that the hosts' results map to.",
			 "control-selections", sel);
}

/* "file:line: message" (file and line when known), "; error: ..." when the row had one. */
static json_t *evidence_description(const json_t *ev)
{
	const json_t *line = get(ev, "line");
	_cleanup_free_ char *loc = NULL, *s = NULL;

	if (*get_str(ev, "file") && json_is_integer(line))
		loc = xasprintf("%s:%" JSON_INTEGER_FORMAT ": ", get_str(ev, "file"),
				json_integer_value(line));
	else if (*get_str(ev, "file"))
		loc = xasprintf("%s: ", get_str(ev, "file"));
	s = xasprintf("%s%s%s%s", loc ? loc : "", get_str(ev, "message"),
		      *get_str(ev, "error") ? "; error: " : "", get_str(ev, "error"));
	return text_of(s, "evidence");
}

static json_t *observation(struct fleet_oscal *c, const json_t *chk, const json_t *r, json_t *uuid)
{
	const json_t *ev, *evidence = get(r, "evidence");
	json_t *o = json_object(), *props = json_array(), *rel = json_array();
	json_t *host_uuid = json_object_get(c->host_uuid, get_str(r, "host"));
	json_t *host_name = json_object_get(c->host_name, get_str(r, "host"));
	_cleanup_free_ char *desc =
		xasprintf("Check %s (%s) on host %s evaluated to %s: %s", get_str(chk, "id"),
			  get_str(chk, "title"), get_str(r, "hostname"), get_str(r, "status"),
			  get_str(r, "message"));
	size_t i;

	json_object_set_new(o, "uuid", uuid);
	json_object_set_new(o, "title", oscal_text_or(get(chk, "title"), get_str(chk, "id")));
	json_object_set_new(o, "description", text_of(desc, "check result"));
	oscal_prop_add_json(props, "check-id", get(chk, "id"));
	oscal_prop_add_json(props, "host-id", get(r, "host"));
	oscal_prop_add_json(props, "result", get(r, "status"));
	oscal_prop_add_json(props, "severity", get(chk, "severity"));
	oscal_set_array(o, "props", props);
	json_object_set_new(o, "methods", json_pack("[s]", "TEST"));
	json_object_set_new(o, "origins",
			    json_pack("[{s:[{s:s, s:O}]}]", "actors", "type", "tool", "actor-uuid",
				      c->tool_uuid));
	if (host_uuid)
		json_object_set_new(o, "subjects",
				    json_pack("[{s:O, s:s, s:O}]", "subject-uuid", host_uuid,
					      "type", "inventory-item", "title", host_name));
	json_array_foreach(evidence, i, ev)
		json_array_append_new(rel,
				      json_pack("{s:o}", "description", evidence_description(ev)));
	oscal_set_array(o, "relevant-evidence", rel);
	json_object_set_new(o, "collected", date_time(c, get(r, "scanned_at")));
	return o;
}

/* Adds the observations of one check (once per check and host, whatever its controls) and
 * appends their uuids to related. */
static void check_observations(struct fleet_oscal *c, const json_t *chk, json_t *observations,
			       json_t *related)
{
	const json_t *r, *hosts = get(chk, "hosts");
	size_t i;

	json_array_foreach(hosts, i, r) {
		_cleanup_free_ char *key =
			xasprintf("%s\n%s", get_str(chk, "id"), get_str(r, "host"));
		json_t *uuid = json_object_get(c->obs_uuid, key);
		if (!uuid) {
			uuid = oscal_uuid(&c->err);
			json_object_set_new(c->obs_uuid, key, uuid);
			json_array_append_new(observations,
					      observation(c, chk, r, json_incref(uuid)));
		}
		json_array_append_new(related, json_pack("{s:O}", "observation-uuid", uuid));
	}
}

static json_t *control_status(const char *st)
{
	if (strcmp(st, "pass") == 0)
		return json_pack("{s:s, s:s}", "state", "satisfied", "reason", "pass");
	if (strcmp(st, "fail") == 0)
		return json_pack("{s:s, s:s}", "state", "not-satisfied", "reason", "fail");
	if (strcmp(st, "not_applicable") == 0)
		return json_pack("{s:s, s:s, s:s}", "state", "satisfied", "reason", "other",
				 "remarks", "Not applicable to any host that reported it.");
	return json_pack("{s:s, s:s, s:s}", "state", "not-satisfied", "reason", "other", "remarks",
			 "A check could not be evaluated on at least one host.");
}

static json_t *finding(struct fleet_oscal *c, const json_t *ctl, json_t *observations)
{
	const json_t *fw = get(c->doc, "framework"), *chk, *checks = get(ctl, "checks");
	const json_t *score = get(ctl, "score");
	json_t *f = json_object(), *props = json_array(), *target = json_object();
	json_t *related = json_array();
	_cleanup_free_ char *tok = oscal_control_token(get_str(fw, "key"), get(ctl, "id"));
	_cleanup_free_ char *cls = oscal_class_token(get_str(fw, "key"));
	_cleanup_free_ char *title =
		xasprintf("%s control %s", get_str(fw, "name"), get_str(ctl, "id"));
	_cleanup_free_ char *score_s = json_is_number(score)
					       ? xasprintf("%.1f", json_number_value(score))
					       : xstrdup("n/a");
	_cleanup_free_ char *desc = xasprintf(
		"%zu checks on the fleet's hosts: %" JSON_INTEGER_FORMAT
		" results passed, %" JSON_INTEGER_FORMAT " failed, %" JSON_INTEGER_FORMAT
		" in error, %" JSON_INTEGER_FORMAT " not applicable; score %s.",
		json_array_size(checks), json_integer_value(get(ctl, "pass")),
		json_integer_value(get(ctl, "fail")), json_integer_value(get(ctl, "error")),
		json_integer_value(get(ctl, "not_applicable")), score_s);
	size_t i;

	json_object_set_new(f, "uuid", oscal_uuid(&c->err));
	json_object_set_new(f, "title", text_of(title, "control"));
	json_object_set_new(f, "description", text_of(desc, "control"));
	oscal_prop_add(props, "control-id", cls, tok, strlen(tok));
	oscal_prop_add(props, "score", NULL, score_s, strlen(score_s));
	json_array_foreach(checks, i, chk)
		oscal_prop_add_json(props, "check-id", get(chk, "id"));
	oscal_set_array(f, "props", props);
	json_object_set_new(target, "type", json_string("objective-id"));
	json_object_set_new(target, "target-id", json_string(tok));
	json_object_set_new(target, "status", control_status(get_str(ctl, "status")));
	if (strcmp(get_str(ctl, "status"), "not_applicable") == 0)
		json_object_set_new(target, "implementation-status",
				    json_pack("{s:s}", "state", "not-applicable"));
	json_object_set_new(f, "target", target);
	json_array_foreach(checks, i, chk)
		check_observations(c, chk, observations, related);
	oscal_set_array(f, "related-observations", related);
	return f;
}

static json_t *result(struct fleet_oscal *c)
{
	const json_t *fw = get(c->doc, "framework"), *sum = get(c->doc, "summary"), *ctl;
	const json_t *score = get(sum, "score");
	json_t *res = json_object(), *observations = json_array(), *findings = json_array();
	json_t *props = json_array();
	_cleanup_free_ char *score_s = json_is_number(score)
					       ? xasprintf("%.1f", json_number_value(score))
					       : xstrdup("n/a");
	_cleanup_free_ char *title = xasprintf("Immune fleet assessment: %s", get_str(fw, "name"));
	_cleanup_free_ char *desc = xasprintf(
		"Latest scan results of %" JSON_INTEGER_FORMAT " hosts (%" JSON_INTEGER_FORMAT
		" scanned) for %s: %" JSON_INTEGER_FORMAT " passed, %" JSON_INTEGER_FORMAT
		" failed, %" JSON_INTEGER_FORMAT " in error, %" JSON_INTEGER_FORMAT
		" not applicable; fleet score %s.",
		json_integer_value(get(sum, "hosts")),
		json_integer_value(get(sum, "hosts_scanned")), get_str(fw, "name"),
		json_integer_value(get(sum, "pass")), json_integer_value(get(sum, "fail")),
		json_integer_value(get(sum, "error")),
		json_integer_value(get(sum, "not_applicable")), score_s);
	char t[32];
	size_t i;

	json_object_set_new(res, "uuid", oscal_uuid(&c->err));
	json_object_set_new(res, "title", text_of(title, "fleet"));
	json_object_set_new(res, "description", text_of(desc, "fleet"));
	json_object_set_new(res, "local-definitions", local_definitions(c));
	json_object_set_new(res, "reviewed-controls", reviewed_controls(c));
	json_array_foreach(get(c->doc, "controls"), i, ctl)
		json_array_append_new(findings, finding(c, ctl, observations));
	oscal_prop_add(props, "score", NULL, score_s, strlen(score_s));
	oscal_prop_add_json(props, "framework", get(fw, "key"));
	oscal_set_array(res, "props", props);
	oscal_set_array(res, "observations", observations);
	oscal_set_array(res, "findings", findings);
	/* start and end: the earliest and latest scan, else the report's time */
	if (c->first) {
		oscal_format_time(c->first, t);
		json_object_set_new(res, "start", json_string(t));
		oscal_format_time(c->last, t);
		json_object_set_new(res, "end", json_string(t));
	} else {
		json_object_set_new(res, "start", json_string(c->now));
	}
	return res;
}

int fleet_report_write_oscal(const json_t *doc, FILE *out)
{
	struct fleet_oscal c = { .doc = doc };
	json_t *ar, *res;
	time_t now;
	int r;

	if (!json_is_object(doc) || strcmp(get_str(doc, "schema"), FLEET_REPORT_SCHEMA) != 0)
		return -EINVAL;
	if (oscal_parse_time(get_str(doc, "generated_at"), &now) < 0)
		now = time(NULL);
	oscal_format_time(now, c.now);
	c.tool_uuid = oscal_uuid(&c.err);
	c.host_uuid = json_object();
	c.obs_uuid = json_object();
	c.host_name = json_object();
	res = result(&c);
	ar = json_pack("{s:o, s:o, s:{s:s, s:s}, s:[o]}", "uuid", oscal_uuid(&c.err), "metadata",
		       metadata(&c), "import-ap", "href", "#", "remarks",
		       "No OSCAL assessment plan exists: the checks of the Immune catalog are the "
		       "plan, so this reference points at this document.",
		       "results", res);
	json_decref(c.tool_uuid);
	json_decref(c.host_uuid);
	json_decref(c.obs_uuid);
	json_decref(c.host_name);
	if (!ar)
		return -ENOMEM;
	json_t *top = json_pack("{s:o}", "assessment-results", ar);
	if (c.err) {
		json_decref(top);
		return c.err;
	}
	r = json_dumpf(top, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(top);
	if (r < 0 || fputc('\n', out) == EOF || fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
