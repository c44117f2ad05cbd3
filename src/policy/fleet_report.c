/* Fleet report builder: joins the API's hosts and findings into immune.fleet-report/v1.
 *
 * - A result is one (host, check) pair of a finding whose mappings name the framework; a
 *   repeated pair is ignored. A status other than pass, fail, error or not_applicable
 *   counts as error: a result that cannot be read is not evidence of compliance.
 * - Fleet and host counts count each result once; a control counts the results of every
 *   check mapped to it, so a check mapped to two controls counts in both.
 * - A finding's host missing from the hosts answer is added from the finding (hostname
 *   only), so no evidence is dropped. */
#include "policy/fleet_report.h"
#include "policy/catalog.h"
#include "policy/scan.h"

#include "config.h"

#define MAX_EVIDENCE 20

enum { R_PASS, R_FAIL, R_ERROR, R_NA, R_COUNT };
static const char *const status_names[R_COUNT] = { "pass", "fail", "error", "not_applicable" };

static const json_t *get(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *get_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(get(o, key));
	return s ? s : "";
}

static int status_index(const char *s)
{
	for (int i = 0; i < R_COUNT; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return R_ERROR;
}

/* Worst first: error > fail > pass > not_applicable. */
static int status_weight(int st)
{
	static const int w[R_COUNT] = { [R_ERROR] = 3, [R_FAIL] = 2, [R_PASS] = 1, [R_NA] = 0 };
	return w[st];
}

/* Copies a string member (NULL when absent or not a string). */
static json_t *copy_str(const json_t *o, const char *key)
{
	const json_t *v = get(o, key);
	return json_is_string(v) ? json_stringn(json_string_value(v), json_string_length(v))
				 : json_null();
}

static json_t *copy_time(const json_t *o, const char *key)
{
	return copy_str(o, key);
}

struct tally {
	size_t n[R_COUNT];
};

static void tally_set(json_t *o, const struct tally *t, bool scored)
{
	size_t total = 0;

	for (int i = 0; i < R_COUNT; i++) {
		json_object_set_new(o, status_names[i], json_integer((json_int_t)t->n[i]));
		total += t->n[i];
	}
	json_object_set_new(o, "results", json_integer((json_int_t)total));
	json_object_set_new(o, "score",
			    scored ? scan_score(t->n[R_PASS], t->n[R_FAIL], t->n[R_ERROR])
				   : json_null());
}

/* Host entries: the output objects plus their tallies, indexed by id. */
struct host {
	json_t *obj; /* borrowed from hosts_by_id */
	const char *id, *hostname;
	struct tally t;
};

struct builder {
	const char *framework;
	bool scored;
	json_t *hosts_by_id; /* id -> host object */
	struct host *hosts;
	size_t nhosts, ahosts;
	json_t *index;	  /* id -> integer index into hosts */
	json_t *controls; /* control id -> {check id -> check object} */
	json_t *checks;	  /* check id -> check object (shared by its controls) */
	json_t *results;  /* check id -> {host id -> result object} */
	json_t *seen;	  /* "host\ncheck" -> true */
	struct tally fleet;
};

static struct host *host_add(struct builder *b, const char *id, json_t *obj)
{
	if (b->nhosts == b->ahosts) {
		b->ahosts = b->ahosts ? 2 * b->ahosts : 16;
		b->hosts = xrealloc(b->hosts, b->ahosts * sizeof(*b->hosts));
	}
	json_object_set_new(b->hosts_by_id, id, obj);
	json_object_set_new(b->index, id, json_integer((json_int_t)b->nhosts));
	b->hosts[b->nhosts] = (struct host){ .obj = obj, .id = json_string_value(get(obj, "id")) };
	return &b->hosts[b->nhosts++];
}

static struct host *host_find(struct builder *b, const char *id)
{
	const json_t *i = json_object_get(b->index, id);
	return i ? &b->hosts[json_integer_value(i)] : NULL;
}

static void add_api_host(struct builder *b, const json_t *h)
{
	const json_t *id = get(h, "id"), *labels = get(h, "labels"), *score = get(h, "score");
	json_t *o;

	if (!json_is_string(id) || host_find(b, json_string_value(id)))
		return;
	o = json_object();
	json_object_set_new(o, "id", json_string(json_string_value(id)));
	json_object_set_new(o, "hostname", copy_str(h, "hostname"));
	json_object_set_new(o, "os", copy_str(h, "os"));
	json_object_set_new(o, "labels",
			    json_is_object(labels) ? json_deep_copy(labels) : json_object());
	json_object_set_new(o, "connected", json_boolean(json_is_true(get(h, "connected"))));
	json_object_set_new(o, "revoked", json_boolean(json_is_true(get(h, "revoked"))));
	json_object_set_new(o, "last_seen", copy_time(h, "last_seen"));
	json_object_set_new(o, "scanned_at", copy_time(h, "scanned_at"));
	json_object_set_new(o, "posture_score",
			    json_is_number(score) ? json_real(json_number_value(score))
						  : json_null());
	host_add(b, json_string_value(id), o);
}

static struct host *host_from_finding(struct builder *b, const json_t *f)
{
	const char *id = get_str(f, "host");
	struct host *h = host_find(b, id);
	json_t *o;

	if (h)
		return h;
	o = json_pack("{s:s, s:o, s:n, s:o, s:b, s:b, s:n, s:o, s:n}", "id", id, "hostname",
		      copy_str(f, "hostname"), "os", "labels", json_object(), "connected", 0,
		      "revoked", 0, "last_seen", "scanned_at", copy_time(f, "scanned_at"),
		      "posture_score");
	return host_add(b, id, o);
}

/* The evidence kept per result: message and, when the row came from a file, file:line. */
static json_t *copy_evidence(const json_t *evidence)
{
	json_t *out = json_array();
	const json_t *ev;
	size_t i;

	json_array_foreach(evidence, i, ev) {
		json_t *e;
		if (i >= MAX_EVIDENCE)
			break;
		if (!json_is_object(ev))
			continue;
		e = json_object();
		json_object_set_new(e, "message", copy_str(ev, "message"));
		if (json_is_string(get(ev, "file")))
			json_object_set_new(e, "file", copy_str(ev, "file"));
		else if (json_is_string(get(ev, "path")))
			json_object_set_new(e, "file", copy_str(ev, "path"));
		if (json_is_integer(get(ev, "line")))
			json_object_set_new(e, "line",
					    json_integer(json_integer_value(get(ev, "line"))));
		if (json_is_string(get(ev, "error")))
			json_object_set_new(e, "error", copy_str(ev, "error"));
		json_array_append_new(out, e);
	}
	return out;
}

static json_t *check_object(struct builder *b, const json_t *f, const char *id)
{
	json_t *c = json_object_get(b->checks, id);

	if (c)
		return c;
	c = json_object();
	json_object_set_new(c, "id", json_string(id));
	json_object_set_new(c, "title", copy_str(f, "title"));
	json_object_set_new(c, "section", copy_str(f, "section"));
	json_object_set_new(c, "severity", copy_str(f, "severity"));
	json_object_set_new(b->checks, id, c);
	json_object_set_new(b->results, id, json_object());
	return c;
}

static void add_finding(struct builder *b, const json_t *f)
{
	const json_t *controls = get(get(f, "mappings"), b->framework), *ctl;
	const json_t *host = get(f, "host"), *id = get(f, "id"), *status = get(f, "status");
	_cleanup_free_ char *key = NULL;
	struct host *h;
	json_t *r;
	size_t i;
	int st;

	if (!json_is_string(host) || !json_is_string(id) || !json_is_array(controls) ||
	    !*json_string_value(id))
		return;
	key = xasprintf("%s\n%s", json_string_value(host), json_string_value(id));
	if (json_object_get(b->seen, key))
		return;
	json_object_set_new(b->seen, key, json_true());

	st = status_index(json_is_string(status) ? json_string_value(status) : "");
	h = host_from_finding(b, f);
	h->t.n[st]++;
	b->fleet.n[st]++;
	check_object(b, f, json_string_value(id));

	r = json_object();
	json_object_set_new(r, "host", json_string(h->id));
	json_object_set_new(r, "hostname", copy_str(h->obj, "hostname"));
	json_object_set_new(r, "status", json_string(status_names[st]));
	json_object_set_new(r, "message", copy_str(f, "message"));
	json_object_set_new(r, "scanned_at", copy_time(f, "scanned_at"));
	json_object_set_new(r, "evidence", copy_evidence(get(f, "evidence")));
	json_object_set_new(json_object_get(b->results, json_string_value(id)), h->id, r);

	json_array_foreach(controls, i, ctl) {
		json_t *checks;
		if (!json_is_string(ctl) || !*json_string_value(ctl))
			continue;
		checks = json_object_get(b->controls, json_string_value(ctl));
		if (!checks) {
			checks = json_object();
			json_object_set_new(b->controls, json_string_value(ctl), checks);
		}
		json_object_set_new(checks, json_string_value(id), json_true());
	}
}

static int cmp_host(const void *a, const void *b)
{
	const struct host *x = a, *y = b;
	int r = strcmp(get_str(x->obj, "hostname"), get_str(y->obj, "hostname"));
	return r ? r : strcmp(x->id, y->id);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_version(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int r = strverscmp(x, y);
	return r ? r : strcmp(x, y);
}

/* Returns the keys of an object, sorted with cmp (borrowed strings, array to free). */
static const char **sorted_keys(const json_t *o, int (*cmp)(const void *, const void *), size_t *n)
{
	const char **v = xcalloc(json_object_size(o) + 1, sizeof(*v));
	const char *k;
	json_t *val;
	size_t i = 0;

	json_object_foreach((json_t *)o, k, val)
		v[i++] = k;
	sort_array(v, i, sizeof(*v), cmp);
	*n = i;
	return v;
}

/* One check of a control: its metadata and the results of every host, in host order. */
static json_t *check_entry(struct builder *b, const char *id, struct tally *ct, int *worst)
{
	json_t *c = json_deep_copy(json_object_get(b->checks, id)), *hosts = json_array();
	const json_t *results = json_object_get(b->results, id);
	struct tally t = { 0 };

	for (size_t i = 0; i < b->nhosts; i++) {
		json_t *r = json_object_get(results, b->hosts[i].id);
		int st;
		if (!r)
			continue;
		st = status_index(get_str(r, "status"));
		t.n[st]++;
		ct->n[st]++;
		if (*worst < 0 || status_weight(st) > status_weight(*worst))
			*worst = st;
		json_array_append(hosts, r); /* shared: results are not changed once built */
	}
	tally_set(c, &t, b->scored);
	json_object_set_new(c, "hosts", hosts);
	return c;
}

static json_t *controls_array(struct builder *b)
{
	json_t *out = json_array();
	size_t n;
	const char **ids = sorted_keys(b->controls, cmp_version, &n);

	for (size_t i = 0; i < n; i++) {
		const json_t *set = json_object_get(b->controls, ids[i]);
		size_t nc;
		const char **checks = sorted_keys(set, cmp_str, &nc);
		json_t *arr = json_array(), *c = json_object();
		struct tally t = { 0 };
		int worst = -1;

		for (size_t j = 0; j < nc; j++)
			json_array_append_new(arr, check_entry(b, checks[j], &t, &worst));
		free(checks);
		json_object_set_new(c, "id", json_string(ids[i]));
		json_object_set_new(c, "status",
				    json_string(status_names[worst < 0 ? R_NA : worst]));
		tally_set(c, &t, b->scored);
		json_object_set_new(c, "checks", arr);
		json_array_append_new(out, c);
	}
	free(ids);
	return out;
}

static json_t *hosts_array(struct builder *b, size_t *scanned)
{
	json_t *out = json_array();

	*scanned = 0;
	for (size_t i = 0; i < b->nhosts; i++) {
		struct host *h = &b->hosts[i];
		json_t *o = json_deep_copy(h->obj);
		size_t total = 0;
		for (int s = 0; s < R_COUNT; s++)
			total += h->t.n[s];
		json_object_set_new(
			o, "scanned",
			json_boolean(total > 0 || json_is_string(get(o, "scanned_at"))));
		*scanned += json_is_true(get(o, "scanned"));
		tally_set(o, &h->t, b->scored);
		json_array_append_new(out, o);
	}
	return out;
}

static json_t *framework_object(const char *key, bool *scored)
{
	size_t n;
	const struct catalog_framework *fw = catalog_frameworks(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(fw[i].key, key) == 0) {
			*scored = fw[i].scored;
			return json_pack("{s:s, s:s, s:b}", "key", key, "name", fw[i].name,
					 "scored", fw[i].scored);
		}
	*scored = true;
	return json_pack("{s:s, s:s, s:b}", "key", key, "name", key, "scored", 1);
}

static void builder_free(struct builder *b)
{
	json_decref(b->hosts_by_id);
	json_decref(b->index);
	json_decref(b->controls);
	json_decref(b->checks);
	json_decref(b->results);
	json_decref(b->seen);
	free(b->hosts);
}

int fleet_report_build(const json_t *hosts, const json_t *findings, const char *framework,
		       time_t generated, json_t **out)
{
	const json_t *hv = get(hosts, "hosts"), *fv = get(findings, "findings"), *x;
	struct builder b = { .framework = framework };
	json_t *doc, *sum, *harr;
	char when[32];
	size_t i, scanned;
	struct tm tm;

	if (!framework || !*framework || !json_is_array(hv) || !json_is_array(fv))
		return -EINVAL;
	b.hosts_by_id = json_object();
	b.index = json_object();
	b.controls = json_object();
	b.checks = json_object();
	b.results = json_object();
	b.seen = json_object();
	json_array_foreach(hv, i, x)
		add_api_host(&b, x);
	json_array_foreach(fv, i, x)
		add_finding(&b, x);
	sort_array(b.hosts, b.nhosts, sizeof(*b.hosts), cmp_host);

	if (!generated)
		generated = time(NULL);
	if (!gmtime_r(&generated, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

	doc = json_object();
	json_object_set_new(doc, "schema", json_string(FLEET_REPORT_SCHEMA));
	json_object_set_new(doc, "tool",
			    json_pack("{s:s, s:s}", "name", "immune", "version", IMMUNE_VERSION));
	json_object_set_new(doc, "generated_at", json_string(when));
	json_object_set_new(doc, "framework", framework_object(framework, &b.scored));
	harr = hosts_array(&b, &scanned);
	sum = json_object();
	json_object_set_new(sum, "hosts", json_integer((json_int_t)b.nhosts));
	json_object_set_new(sum, "hosts_scanned", json_integer((json_int_t)scanned));
	json_object_set_new(sum, "controls",
			    json_integer((json_int_t)json_object_size(b.controls)));
	json_object_set_new(sum, "checks", json_integer((json_int_t)json_object_size(b.checks)));
	tally_set(sum, &b.fleet, b.scored);
	json_object_set_new(doc, "summary", sum);
	json_object_set_new(doc, "hosts", harr);
	json_object_set_new(doc, "controls", controls_array(&b));
	builder_free(&b);
	*out = doc;
	return 0;
}

int fleet_report_write_json(const json_t *report, FILE *out)
{
	if (!json_is_object(report) || strcmp(get_str(report, "schema"), FLEET_REPORT_SCHEMA) != 0)
		return -EINVAL;
	if (json_dumpf(report, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', out) == EOF || fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
