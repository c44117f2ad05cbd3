/* Scan report builder: results, summary, per-framework and per-section scores. */
#include "policy/scan.h"
#include "policy/eval.h"

#include "config.h"

/* Counts of statuses, indexed by enum check_status. */
struct tally {
	size_t n[4];
	size_t checks;
};

static void tally_add(struct tally *t, enum check_status s)
{
	t->n[s]++;
	t->checks++;
}

/* Rounds a non-negative value to one decimal (half up). */
static double round1(double v)
{
	return (double)(int64_t)(v * 10.0 + 0.5) / 10.0;
}

json_t *scan_score(size_t pass, size_t fail, size_t error)
{
	size_t den = pass + fail + error;
	if (den == 0)
		return json_null();
	return json_real(round1(100.0 * (double)pass / (double)den));
}

static void tally_set(json_t *o, const struct tally *t)
{
	json_object_set_new(o, "checks", json_integer((json_int_t)t->checks));
	for (int s = CHECK_PASS; s <= CHECK_ERROR; s++)
		json_object_set_new(o, check_status_name(s), json_integer((json_int_t)t->n[s]));
	json_object_set_new(o, "score",
			    scan_score(t->n[CHECK_PASS], t->n[CHECK_FAIL], t->n[CHECK_ERROR]));
}

bool check_maps_to(const struct check *c, const char *framework)
{
	return json_array_size(json_object_get(c->mappings, framework)) > 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static json_t *ms(double v)
{
	return json_real(round1(v < 0 ? 0 : v));
}

static json_t *host_block(const struct inventory *inv)
{
	json_t *os = json_array_get(json_object_get(inv->tables, "os"), 0);
	static const struct {
		const char *key, *col;
	} map[] = {
		{ "hostname", "hostname" }, { "os", "pretty_name" },
		{ "os_id", "id" },	    { "os_version", "version_id" },
		{ "family", "family" },	    { "kernel", "kernel_release" },
	};
	json_t *h = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		json_t *v = json_object_get(os, map[i].col);
		json_object_set(h, map[i].key, json_is_string(v) ? v : json_null());
	}
	json_object_set_new(h, "root", inv->root ? json_string(inv->root) : json_null());
	return h;
}

static json_t *result_json(const struct check *c, const struct check_result *r)
{
	size_t nfw;
	const struct catalog_framework *fw = catalog_frameworks(&nfw);
	const struct catalog_section *sec = catalog_sections(&nfw);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "title", json_string(c->title));
	json_object_set_new(o, "section", json_string(sec[c->section].key));
	json_object_set_new(o, "severity", json_string(severity_name(c->severity)));
	json_object_set_new(o, "status", json_string(check_status_name(r->status)));
	json_object_set_new(o, "message", json_string(r->message) ?: json_string("?"));
	json_object_set_new(o, "description", json_string(c->description));
	json_object_set_new(o, "rationale", json_string(c->rationale));
	json_object_set_new(o, "remediation", json_string(c->remediation));
	json_t *m = json_object();
	catalog_frameworks(&nfw);
	for (size_t i = 0; i < nfw; i++) {
		json_t *ids = json_object_get(c->mappings, fw[i].key);
		if (json_array_size(ids))
			json_object_set(m, fw[i].key, ids);
	}
	json_object_set_new(o, "mappings", m);
	json_object_set(o, "fix", c->fix ?: json_null());
	json_object_set(o, "evidence", r->evidence);
	return o;
}

static int status_rank(enum check_status s)
{
	static const int rank[] = {
		[CHECK_NOT_APPLICABLE] = 0, [CHECK_PASS] = 1, [CHECK_FAIL] = 2, [CHECK_ERROR] = 3
	};
	return rank[s];
}

/* controls: object control id -> {status rank, checks} while building */
static void control_add(json_t *controls, const char *id, const struct check *c,
			enum check_status s)
{
	json_t *ctl = json_object_get(controls, id);
	if (!ctl) {
		ctl = json_pack("{s:s, s:s, s:[]}", "id", id, "status", check_status_name(s),
				"checks");
		json_object_set_new(controls, id, ctl);
	}
	enum check_status cur;
	if (check_status_parse(json_string_value(json_object_get(ctl, "status")), &cur) == 0 &&
	    status_rank(s) > status_rank(cur))
		json_object_set_new(ctl, "status", json_string(check_status_name(s)));
	json_array_append_new(json_object_get(ctl, "checks"), json_string(c->id));
}

static int cmp_control(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
	return strverscmp(x, y);
}

static json_t *controls_sorted(json_t *controls)
{
	size_t n = json_object_size(controls), i = 0;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	const char *k;
	json_t *ctl;
	json_object_foreach(controls, k, ctl)
		v[i++] = ctl;
	sort_array(v, n, sizeof(*v), cmp_control);
	json_t *a = json_array();
	for (i = 0; i < n; i++)
		json_array_append(a, v[i]);
	free(v);
	return a;
}

static bool selected(const struct check *c, const struct scan_options *opt)
{
	if (opt->check && strcmp(opt->check, c->id) != 0)
		return false;
	return !opt->framework || check_maps_to(c, opt->framework);
}

int scan_run(const struct catalog *cat, const struct inventory *inv, const struct scan_options *opt,
	     json_t **out)
{
	size_t nfw, nsec;
	const struct catalog_framework *fw = catalog_frameworks(&nfw);
	const struct catalog_section *sec = catalog_sections(&nsec);
	if (opt->framework && catalog_framework_index(opt->framework) < 0)
		return -ENOENT;
	if (opt->check && !catalog_find(cat, opt->check))
		return -ENOENT;

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct tally total = { 0 }, *fwt = xcalloc(nfw, sizeof(*fwt)),
		     *sect = xcalloc(nsec, sizeof(*sect));
	json_t **controls = xcalloc(nfw, sizeof(*controls));
	for (size_t f = 0; f < nfw; f++)
		controls[f] = json_object();
	json_t *results = json_array();
	struct eval_ctx *ctx = eval_new(inv);
	for (size_t i = 0; i < cat->n; i++) {
		const struct check *c = cat->checks[i];
		if (!selected(c, opt))
			continue;
		struct check_result r;
		eval_check(ctx, c, &r);
		tally_add(&total, r.status);
		tally_add(&sect[c->section], r.status);
		for (size_t f = 0; f < nfw; f++) {
			json_t *ids = json_object_get(c->mappings, fw[f].key), *id;
			size_t k;
			if (!json_array_size(ids))
				continue;
			tally_add(&fwt[f], r.status);
			json_array_foreach(ids, k, id)
				control_add(controls[f], json_string_value(id), c, r.status);
		}
		json_array_append_new(results, result_json(c, &r));
		check_result_clear(&r);
	}
	eval_free(ctx);
	double eval_ms = ms_since(&t0);

	json_t *frameworks = json_array();
	for (size_t f = 0; f < nfw; f++) {
		if (opt->framework && strcmp(opt->framework, fw[f].key) != 0)
			continue;
		json_t *o = json_pack("{s:s, s:s, s:b}", "key", fw[f].key, "name", fw[f].name,
				      "scored", fw[f].scored);
		tally_set(o, &fwt[f]);
		if (!fw[f].scored)
			json_object_set_new(o, "score", json_null());
		json_object_set_new(o, "controls", controls_sorted(controls[f]));
		json_array_append_new(frameworks, o);
	}
	json_t *sections = json_array();
	for (size_t s = 0; s < nsec; s++) {
		if (!sect[s].checks)
			continue;
		json_t *o = json_pack("{s:s, s:s}", "key", sec[s].key, "title", sec[s].title);
		tally_set(o, &sect[s]);
		json_array_append_new(sections, o);
	}
	json_t *summary = json_object();
	tally_set(summary, &total);

	char when[32];
	struct tm tm;
	time_t started = opt->started ? opt->started : time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&started, &tm));
	json_t *doc = json_object();
	json_object_set_new(doc, "schema", json_string("immune.scan/v1"));
	json_object_set_new(doc, "tool",
			    json_pack("{s:s, s:s}", "name", "immune", "version", IMMUNE_VERSION));
	json_object_set_new(doc, "host", host_block(inv));
	json_object_set_new(doc, "started_at", json_string(when));
	json_object_set_new(doc, "duration_ms",
			    json_pack("{s:o, s:o, s:o}", "inventory", ms(inv->elapsed_ms),
				      "evaluation", ms(eval_ms), "total",
				      ms(inv->elapsed_ms + eval_ms + opt->other_ms)));
	json_object_set_new(
		doc, "filter",
		json_pack("{s:s?, s:s?}", "framework", opt->framework, "check", opt->check));
	json_object_set_new(doc, "summary", summary);
	json_object_set_new(doc, "frameworks", frameworks);
	json_object_set_new(doc, "sections", sections);
	json_object_set_new(doc, "results", results);

	for (size_t f = 0; f < nfw; f++)
		json_decref(controls[f]);
	free(controls);
	free(fwt);
	free(sect);
	*out = doc;
	return 0;
}
