/* Unit tests for the fleet report (src/policy/fleet_report*.c) built from the API answers in
 * tests/fixtures/fleet/ (hosts.json, findings.json as docs/api.md shapes them): a host with
 * no scan, a result in error, a check mapped to two controls, a hostile hostname. */
#include "unit.h"

#include "policy/fleet_report.h"

#include <regex.h>

#define WEB "1111aaaa2222bbbb"
#define EVIL "3333cccc4444dddd"
#define DB "5555eeee6666ffff"

static json_t *load_fixture(const char *name)
{
	const char *dir = getenv("IMMUNE_FIXTURES");
	_cleanup_free_ char *path = NULL;
	json_error_t err;
	json_t *j;

	assert_non_null(dir);
	path = xasprintf("%s/fleet/%s", dir, name);
	j = json_load_file(path, 0, &err);
	if (!j)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	return j;
}

static json_t *build(void)
{
	json_t *hosts = load_fixture("hosts.json"), *findings = load_fixture("findings.json");
	json_t *doc = NULL;

	assert_int_equal(fleet_report_build(hosts, findings, "cis", 1795437000, &doc), 0);
	json_decref(hosts);
	json_decref(findings);
	return doc;
}

static char *render(int (*w)(const json_t *, FILE *), const json_t *doc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(w(doc, f), 0);
	fclose(f);
	return text;
}

static json_int_t ival(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static const json_t *find_by(const json_t *arr, const char *key, const char *value)
{
	const json_t *x;
	size_t i;

	json_array_foreach(arr, i, x)
		if (strcmp(json_string_value(json_object_get(x, key)) ?: "", value) == 0)
			return x;
	fail_msg("no %s=%s", key, value);
	return NULL;
}

static void assert_tally(const json_t *o, int pass, int fail, int error, int na)
{
	assert_int_equal(ival(o, "pass"), pass);
	assert_int_equal(ival(o, "fail"), fail);
	assert_int_equal(ival(o, "error"), error);
	assert_int_equal(ival(o, "not_applicable"), na);
	assert_int_equal(ival(o, "results"), pass + fail + error + na);
}

static void test_build_counts(void **state)
{
	(void)state;
	json_t *doc = build();
	const json_t *sum = json_object_get(doc, "summary"), *hosts = json_object_get(doc, "hosts");

	assert_string_equal(json_string_value(json_object_get(doc, "schema")),
			    "immune.fleet-report/v1");
	assert_string_equal(json_string_value(json_object_get(doc, "generated_at")),
			    "2026-11-23T12:30:00Z");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(doc, "framework"), "key")),
		"cis");
	/* the pci-only finding does not count; a check in two controls counts once */
	assert_tally(sum, 3, 2, 1, 2);
	assert_int_equal(ival(sum, "hosts"), 3);
	assert_int_equal(ival(sum, "hosts_scanned"), 2);
	assert_int_equal(ival(sum, "controls"), 5);
	assert_int_equal(ival(sum, "checks"), 4);
	assert_float_equal(json_real_value(json_object_get(sum, "score")), 50.0, 1e-9);

	/* hosts sorted by hostname; per-host scores */
	assert_int_equal(json_array_size(hosts), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(hosts, 0), "id")),
			    EVIL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(hosts, 1), "id")), DB);
	const json_t *web = find_by(hosts, "id", WEB), *evil = find_by(hosts, "id", EVIL);
	const json_t *db = find_by(hosts, "id", DB);
	assert_tally(web, 1, 1, 1, 1);
	assert_float_equal(json_real_value(json_object_get(web, "score")), 33.3, 1e-9);
	assert_tally(evil, 2, 1, 0, 1);
	assert_float_equal(json_real_value(json_object_get(evil, "score")), 66.7, 1e-9);
	assert_tally(db, 0, 0, 0, 0);
	assert_true(json_is_null(json_object_get(db, "score")));
	assert_true(json_is_false(json_object_get(db, "scanned")));
	assert_true(json_is_true(json_object_get(web, "scanned")));
	assert_true(json_is_true(json_object_get(web, "connected")));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(db, "labels"), "role")), "db");
	json_decref(doc);
}

static void test_build_controls(void **state)
{
	(void)state;
	json_t *doc = build();
	const json_t *controls = json_object_get(doc, "controls"), *c, *chk, *r;
	static const char *const order[] = { "4.1.1", "5.1.6", "5.1.10", "5.1.20", "6.2.1.1" };
	static const char *const status[] = { "not_applicable", "fail", "fail", "fail", "error" };

	assert_int_equal(json_array_size(controls), ARRAY_SIZE(order));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		c = json_array_get(controls, i);
		assert_string_equal(json_string_value(json_object_get(c, "id")), order[i]);
		assert_string_equal(json_string_value(json_object_get(c, "status")), status[i]);
	}
	/* not applicable only: no score */
	c = json_array_get(controls, 0);
	assert_tally(c, 0, 0, 0, 2);
	assert_true(json_is_null(json_object_get(c, "score")));
	/* the check mapped to 5.1.6 and 5.1.10 appears under both, with both hosts */
	for (size_t i = 1; i <= 2; i++) {
		c = json_array_get(controls, i);
		assert_tally(c, 1, 1, 0, 0);
		assert_float_equal(json_real_value(json_object_get(c, "score")), 50.0, 1e-9);
		chk = json_array_get(json_object_get(c, "checks"), 0);
		assert_string_equal(json_string_value(json_object_get(chk, "id")),
				    "ssh-max-auth-tries");
		assert_int_equal(json_array_size(json_object_get(chk, "hosts")), 2);
		r = find_by(json_object_get(chk, "hosts"), "host", EVIL);
		assert_string_equal(json_string_value(json_object_get(r, "status")), "fail");
		r = find_by(json_object_get(chk, "hosts"), "host", WEB);
		assert_string_equal(json_string_value(json_object_get(r, "status")), "pass");
	}
	/* the error result keeps its evidence (path as file, error) */
	c = json_array_get(controls, 4);
	assert_tally(c, 1, 0, 1, 0);
	chk = json_array_get(json_object_get(c, "checks"), 0);
	r = find_by(json_object_get(chk, "hosts"), "host", WEB);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "error");
	r = json_array_get(json_object_get(r, "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "file")), "/etc/audit");
	assert_string_equal(json_string_value(json_object_get(r, "error")), "Permission denied");
	/* file:line evidence */
	c = json_array_get(controls, 3);
	chk = json_array_get(json_object_get(c, "checks"), 0);
	r = find_by(json_object_get(chk, "hosts"), "host", WEB);
	r = json_array_get(json_object_get(r, "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "file")), "/etc/ssh/sshd_config");
	assert_int_equal(ival(r, "line"), 32);
	json_decref(doc);
}

static void test_build_odd_input(void **state)
{
	(void)state;
	json_t *doc = NULL;
	json_t *hosts = json_pack("{s:[]}", "hosts");
	json_t *findings = json_pack(
		"{s:[{s:s, s:s, s:s, s:{s:[s]}}, {s:s, s:s, s:s, s:{s:[s]}}, {s:i}, i,"
		" {s:s, s:s, s:s, s:{s:s}}]}",
		"findings", "host", "gone", "id", "c1", "status", "weird", "mappings", "cis", "1.1",
		"host", "gone", "id", "c1", "status", "pass", "mappings", "cis", "1.1", "host", 3,
		7, "host", "h", "id", "c2", "status", "pass", "mappings", "cis", "1.2");

	json_t *empty = json_object();

	assert_int_equal(fleet_report_build(hosts, empty, "cis", 0, &doc), -EINVAL);
	assert_int_equal(fleet_report_build(hosts, findings, "", 0, &doc), -EINVAL);
	assert_int_equal(fleet_report_build(hosts, findings, "cis", 0, &doc), 0);
	/* an unknown status counts as error; the repeated pair is ignored; the finding's host
	 * is added even though the hosts answer lacks it */
	const json_t *sum = json_object_get(doc, "summary");
	assert_tally(sum, 0, 0, 1, 0);
	assert_int_equal(ival(sum, "hosts"), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(doc, "hosts"), 0), "id")),
			    "gone");
	free(render(fleet_report_write_html, doc));
	free(render(fleet_report_write_oscal, doc));
	json_decref(doc);
	json_decref(hosts);
	json_decref(findings);
	assert_int_equal(fleet_report_write_html(empty, stdout), -EINVAL);
	assert_int_equal(fleet_report_write_oscal(empty, stdout), -EINVAL);
	assert_int_equal(fleet_report_write_json(empty, stdout), -EINVAL);
	json_decref(empty);
}

static void test_json_writer(void **state)
{
	(void)state;
	json_t *doc = build();
	_cleanup_free_ char *text = render(fleet_report_write_json, doc);
	json_t *back = json_loads(text, 0, NULL);

	assert_non_null(back);
	assert_true(json_equal(back, doc));
	json_decref(back);
	json_decref(doc);
}

static void test_html(void **state)
{
	(void)state;
	json_t *doc = build();
	_cleanup_free_ char *html = render(fleet_report_write_html, doc);

	assert_non_null(strstr(html, "<!DOCTYPE html>"));
	assert_non_null(strstr(html, "Content-Security-Policy"));
	/* the hostile hostname, label and evidence are text, never markup */
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "&lt;b&gt;10&lt;/b&gt;"));
	/* no external resources */
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "url("));
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	/* scores, statuses, evidence */
	assert_non_null(strstr(html, "<div class=\"score\">50.0</div>"));
	assert_non_null(strstr(html, "not scanned"));
	assert_non_null(strstr(html, "/etc/ssh/sshd_config:32"));
	assert_non_null(strstr(html, "id=\"ctl-5.1.10\""));
	assert_non_null(strstr(html, "<span class=\"badge st-error\">ERROR</span>"));
	/* controls in version order */
	assert_true(strstr(html, "id=\"ctl-5.1.6\"") < strstr(html, "id=\"ctl-5.1.10\""));
	assert_true(strstr(html, "id=\"ctl-5.1.10\"") < strstr(html, "id=\"ctl-5.1.20\""));
	json_decref(doc);
}

static bool is_uuid4(const char *s)
{
	regex_t re;
	bool ok;

	assert_int_equal(regcomp(&re,
				 "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
				 "[0-9a-f]{12}$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	ok = s && regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static json_t *path(const json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);
	assert_non_null(x);
	x = b ? json_object_get(x, b) : x;
	assert_non_null(x);
	return x;
}

static void test_oscal(void **state)
{
	(void)state;
	json_t *doc = build();
	_cleanup_free_ char *text = render(fleet_report_write_oscal, doc);
	json_t *o = json_loads(text, 0, NULL), *ar, *res, *items, *obs, *fnd, *x;
	size_t i;

	assert_non_null(o);
	assert_int_equal(json_object_size(o), 1);
	ar = json_object_get(o, "assessment-results");
	assert_true(is_uuid4(json_string_value(path(ar, "uuid", NULL))));
	assert_string_equal(json_string_value(path(ar, "metadata", "oscal-version")), "1.1.2");
	assert_non_null(json_string_value(path(ar, "metadata", "title")));
	assert_string_equal(json_string_value(path(ar, "metadata", "last-modified")),
			    "2026-11-23T12:30:00Z");
	assert_non_null(json_string_value(path(ar, "metadata", "version")));
	assert_string_equal(json_string_value(path(ar, "import-ap", "href")), "#");
	assert_int_equal(json_array_size(json_object_get(ar, "results")), 1);
	res = json_array_get(json_object_get(ar, "results"), 0);
	assert_true(is_uuid4(json_string_value(path(res, "uuid", NULL))));
	assert_non_null(json_string_value(path(res, "title", NULL)));
	assert_non_null(json_string_value(path(res, "description", NULL)));
	assert_string_equal(json_string_value(path(res, "start", NULL)), "2026-11-23T13:45:40Z");
	assert_string_equal(json_string_value(path(res, "end", NULL)), "2026-11-23T13:46:10Z");
	x = path(res, "reviewed-controls", "control-selections");
	x = json_object_get(json_array_get(x, 0), "include-controls");
	assert_int_equal(json_array_size(x), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(x, 0), "control-id")),
			    "cis-4.1.1");

	/* one inventory item per host */
	items = path(res, "local-definitions", "inventory-items");
	assert_int_equal(json_array_size(items), 3);
	json_array_foreach(items, i, x) {
		assert_true(is_uuid4(json_string_value(json_object_get(x, "uuid"))));
		assert_non_null(json_string_value(json_object_get(x, "description")));
	}
	/* one observation per check and host: 4 checks x 2 scanned hosts */
	obs = path(res, "observations", NULL);
	assert_int_equal(json_array_size(obs), 8);
	json_array_foreach(obs, i, x) {
		const json_t *subj = json_array_get(json_object_get(x, "subjects"), 0);
		bool known = false;
		const json_t *it;
		size_t j;
		assert_true(is_uuid4(json_string_value(json_object_get(x, "uuid"))));
		assert_non_null(json_string_value(json_object_get(x, "description")));
		assert_string_equal(
			json_string_value(json_array_get(json_object_get(x, "methods"), 0)),
			"TEST");
		assert_non_null(json_string_value(json_object_get(x, "collected")));
		assert_string_equal(json_string_value(json_object_get(subj, "type")),
				    "inventory-item");
		json_array_foreach(items, j, it)
			known = known || json_equal(json_object_get(it, "uuid"),
						    json_object_get(subj, "subject-uuid"));
		assert_true(known);
	}
	assert_non_null(strstr(
		text,
		"/etc/ssh/sshd_config:32: sshd_config (/etc/ssh/sshd_config:32): value is 'yes'"));
	/* one finding per control; the status follows the control's */
	fnd = path(res, "findings", NULL);
	assert_int_equal(json_array_size(fnd), 5);
	json_array_foreach(fnd, i, x) {
		const json_t *t = json_object_get(x, "target");
		assert_true(is_uuid4(json_string_value(json_object_get(x, "uuid"))));
		assert_non_null(json_string_value(json_object_get(x, "title")));
		assert_non_null(json_string_value(json_object_get(x, "description")));
		assert_string_equal(json_string_value(json_object_get(t, "type")), "objective-id");
		assert_true(json_array_size(json_object_get(x, "related-observations")) >= 2);
		if (i == 0)
			assert_string_equal(json_string_value(path(t, "status", "state")),
					    "satisfied");
		else
			assert_string_equal(json_string_value(path(t, "status", "state")),
					    "not-satisfied");
	}
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_array_get(fnd, 2), "target"),
						  "target-id")),
		"cis-5.1.10");
	json_decref(o);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_counts),
		cmocka_unit_test(test_build_controls),
		cmocka_unit_test(test_build_odd_input),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_oscal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
