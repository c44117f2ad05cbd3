/* Unit tests for the HTML and OSCAL report writers (src/policy/report_html.c,
 * src/policy/report_oscal.c), through report_write_html() / report_write_oscal() on a scan
 * document built by hand, nasty strings included. */
#include "unit.h"

#include "policy/report.h"

#define NASTY_TITLE "<script>alert('x')</script> & \"quoted\""
#define NASTY_HOST "<img src=x onerror=alert(1)>"
#define NASTY_VALUE "</td></tr><script src=\"http://evil.example/x.js\"></script>"

/* A four-check scan document: one check of each status, nasty strings in many fields. */
static json_t *make_scan(void)
{
	json_t *pass, *fail, *error, *na, *nasty_desc;

	/* a description with a NUL, C0 controls (SOH, ESC, CR) and a C1 control (U+0085) */
	static const char desc[] = "a\0b \x01 \x1b[31m red\r \xc2\x85 end";
	nasty_desc = json_stringn(desc, sizeof(desc) - 1);
	assert_non_null(nasty_desc);

	fail = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:{s:[s], s:[s], s:[s]},"
			 " s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:s, s:i, s:s, s:s, s:s, s:{s:s, s:s}},"
			 " {s:s, s:s}]}",
			 "id", "ssh-permit-root-login", "title", NASTY_TITLE, "section", "ssh",
			 "severity", "high", "status", "fail", "message",
			 "sshd_config: value is 'yes', expected eq 'no'", "description", nasty_desc,
			 "rationale", "Root & <b>bold</b> logins", "remediation",
			 "Set PermitRootLogin no", "mappings", "cis", "5.1.20", "nist_800_53",
			 "AC-6(2)", "pci_dss", "2.2.6", "fix", "type", "config_set", "file",
			 "/etc/ssh/sshd_config", "key", "PermitRootLogin", "value", "'no'\"",
			 "evidence", "table", "sshd_config", "file", "/etc/ssh/sshd_config", "line",
			 32, "column", "value", "value", NASTY_VALUE, "expected", "eq no", "row",
			 "key", "permitrootlogin", "value", "yes", "table", "sshd_config",
			 "expected", "count ge 1");
	pass = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:[s]}, s:n,"
			 " s:[{s:s, s:s, s:i, s:s, s:i, s:s}]}",
			 "id", "ssh-max-auth-tries", "title",
			 "Ensure sshd MaxAuthTries is 4 or less", "section", "ssh", "severity",
			 "medium", "status", "pass", "message", "ok", "description", "d",
			 "rationale", "r", "remediation", "m", "mappings", "soc2", "CC6.1", "fix",
			 "evidence", "table", "sshd_config", "file", "/etc/ssh/sshd_config", "line",
			 7, "column", "value", "value", 1, "expected", "le 4");
	error = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:[s]}, s:n,"
			  " s:[{s:s, s:s, s:s}]}",
			  "id", "3rd-party-audit-rules", "title", "Audit rules are readable",
			  "section", "weird\"<section>", "severity", "critical", "status", "error",
			  "message", "unreadable", "description", "d", "rationale", "r",
			  "remediation", "m", "mappings", "iso_27001", "8.2", "fix", "evidence",
			  "table", "audit_rules", "path", "/etc/audit/audit.rules", "error",
			  "file too large");
	na = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:n, s:[]}", "id",
		       "evil\"id<x>", "title", "Not applicable here", "section", "time", "severity",
		       "low", "status", "not_applicable", "message", "no chrony", "description",
		       "d", "rationale", "r", "remediation", "", "mappings", "fix", "evidence");
	assert_non_null(fail);
	assert_non_null(pass);
	assert_non_null(error);
	assert_non_null(na);

	json_t *scan = json_pack(
		"{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s},"
		" s:s, s:{s:f, s:f, s:f}, s:{s:n, s:n},"
		" s:{s:i, s:i, s:i, s:i, s:i, s:f},"
		" s:[{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:[{s:s, s:s, s:[s]}]},"
		"    {s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:[{s:s, s:s, s:[s]}]},"
		"    {s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:n, s:[]}],"
		" s:[{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f},"
		"    {s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:n}],"
		" s:[o, o, o, o]}",
		"schema", "immune.scan/v1", "tool", "name", "immune", "version", "0.1.0", "host",
		"hostname", NASTY_HOST, "os", "Debian GNU/Linux 12 (bookworm)", "os_id", "debian",
		"os_version", "12", "family", "debian", "kernel", "6.1.0-18-amd64", "root", "/",
		"started_at", "2026-11-23T13:45:40Z", "duration_ms", "inventory", 120.5,
		"evaluation", 3.2, "total", 1130.1, "filter", "framework", "check", "summary",
		"checks", 4, "pass", 1, "fail", 1, "not_applicable", 1, "error", 1, "score", 33.3,
		"frameworks", "key", "cis", "name", "CIS Benchmarks <Debian>", "checks", 1, "pass",
		0, "fail", 1, "not_applicable", 0, "error", 0, "score", 12.5, "controls", "id",
		"5.1.20", "status", "fail", "checks", "ssh-permit-root-login", "key", "nist_800_53",
		"name", "NIST SP 800-53 Rev. 5", "checks", 1, "pass", 0, "fail", 1,
		"not_applicable", 0, "error", 0, "score", 87.5, "controls", "id", "AC-6(2)",
		"status", "fail", "checks", "ssh-permit-root-login", "key", "mitre", "name",
		"MITRE ATT&CK", "checks", 0, "pass", 0, "fail", 0, "not_applicable", 0, "error", 0,
		"score", "controls", "sections", "key", "ssh", "title", "SSH server", "checks", 2,
		"pass", 1, "fail", 1, "not_applicable", 0, "error", 0, "score", 50.0, "key", "time",
		"title", "Time synchronisation", "checks", 1, "pass", 0, "fail", 0,
		"not_applicable", 1, "error", 0, "score", "results", fail, pass, error, na);
	assert_non_null(scan);
	return scan;
}

/* Runs a writer into a memory stream; returns its result and the text. */
static int render(int (*w)(const json_t *, FILE *, const struct report_options *),
		  const json_t *scan, char **text)
{
	struct report_options opt = { 0 };
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	int r;

	assert_non_null(f);
	r = w(scan, f, &opt);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(*text), len);
	return r;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_html_escaping(void **state)
{
	json_t *scan = make_scan();
	_cleanup_free_ char *html = NULL;

	assert_int_equal(render(report_write_html, scan, &html), 0);

	/* nothing from the data becomes markup */
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
				     "&quot;quoted&quot;"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(html, "&lt;/td&gt;&lt;/tr&gt;&lt;script src=&quot;"
				     "http://evil.example/x.js&quot;&gt;&lt;/script&gt;"));
	assert_non_null(strstr(html, "Root &amp; &lt;b&gt;bold&lt;/b&gt; logins"));
	assert_non_null(strstr(html, "&#39;no&#39;&quot;"));
	assert_non_null(strstr(html, "CIS Benchmarks &lt;Debian&gt;"));
	assert_non_null(strstr(html, "MITRE ATT&amp;CK"));
	assert_non_null(strstr(html, "weird&quot;&lt;section&gt;"));

	/* control characters are shown, never emitted: NUL, SOH, ESC, CR, C1 NEL */
	assert_non_null(strstr(html, "a\\x00b \\x01 \\x1B[31m red\\x0D \\u0085 end"));
	for (const unsigned char *p = (const unsigned char *)html; *p; p++) {
		assert_false(*p < 0x20 && *p != '\n' && *p != '\t');
		assert_false(*p == 0x7f);
		assert_false(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
	}

	/* no resource is loaded: no scripts, sources, remote links, imports or url() */
	assert_null(strstr(html, "src=\""));
	assert_null(strstr(html, "url("));
	assert_null(strstr(html, "@import"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "<iframe"));
	for (const char *p = strstr(html, "href=\""); p; p = strstr(p + 1, "href=\""))
		assert_int_equal(p[6], '#');
	/* the only "http" outside escaped data is the CSP meta tag's http-equiv */
	assert_int_equal(count(html, "http"),
			 count(html, "http-equiv") + count(html, "http://evil.example/x.js"));
	assert_int_equal(count(html, "http://evil.example/x.js"), 1);
	/* the evil check id makes a safe anchor */
	assert_non_null(strstr(html, "id=\"check-evil_22id_3cx_3e\""));

	json_decref(scan);
}

static void test_html_content(void **state)
{
	json_t *scan = make_scan();
	_cleanup_free_ char *html = NULL;
	const json_t *r;
	size_t i;

	assert_int_equal(render(report_write_html, scan, &html), 0);
	assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
	assert_non_null(strstr(html, "</html>\n"));
	assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(html, "@media print"));

	/* every check appears as one finding, with its id */
	assert_int_equal(count(html, "<details class=\"finding"), 4);
	json_array_foreach(json_object_get(scan, "results"), i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		if (strchr(id, '"'))
			continue; /* the evil id is checked in escaped form below */
		assert_non_null(strstr(html, id));
	}
	assert_non_null(strstr(html, "<code>evil&quot;id&lt;x&gt;</code>"));

	/* header */
	assert_non_null(strstr(html, "Debian GNU/Linux 12 (bookworm)"));
	assert_non_null(strstr(html, "6.1.0-18-amd64"));
	assert_non_null(strstr(html, "2026-11-23T13:45:40Z"));
	assert_non_null(strstr(html, "immune 0.1.0"));

	/* scores: overall, per framework, per section; null shows as n/a */
	assert_non_null(strstr(html, "<div class=\"score\">33.3</div>"));
	assert_non_null(strstr(html, "<div class=\"score\">12.5</div>"));
	assert_non_null(strstr(html, "<div class=\"score\">87.5</div>"));
	assert_non_null(strstr(html, "<div class=\"score\">n/a</div>"));
	assert_non_null(strstr(html, "(score 50.0)"));
	assert_non_null(strstr(html, "style=\"width:25.00%\""));

	/* control tables, badges, severities, evidence, fix, mappings */
	assert_non_null(strstr(html, "<td class=\"mono\">5.1.20</td>"));
	assert_non_null(strstr(html, "<td class=\"mono\">AC-6(2)</td>"));
	assert_non_null(strstr(html, "href=\"#check-ssh-permit-root-login\""));
	assert_non_null(strstr(html, "<span class=\"badge st-fail\">FAIL</span>"));
	assert_non_null(strstr(html, "<span class=\"badge st-pass\">PASS</span>"));
	assert_non_null(strstr(html, "<span class=\"badge st-error\">ERROR</span>"));
	assert_non_null(strstr(html, "<span class=\"badge st-na\">N/A</span>"));
	assert_non_null(strstr(html, "<span class=\"sev sev-critical\">critical</span>"));
	assert_non_null(strstr(html, "/etc/ssh/sshd_config:32"));
	assert_non_null(strstr(html, "error: file too large"));
	assert_non_null(strstr(html, "/etc/audit/audit.rules"));
	assert_non_null(strstr(html, "<dt>type</dt><dd class=\"mono\">config_set</dd>"));
	assert_non_null(strstr(html, "<dt>NIST SP 800-53 Rev. 5</dt><dd class=\"mono\">AC-6(2)"));
	assert_non_null(strstr(html, "<dt>pci_dss</dt><dd class=\"mono\">2.2.6</dd>"));
	/* failed and errored findings start open; the unlisted section lands in "Other" */
	assert_non_null(strstr(html, "id=\"check-ssh-permit-root-login\" open>"));
	assert_non_null(strstr(html, "id=\"check-ssh-max-auth-tries\">"));
	assert_non_null(strstr(html, "Other checks"));
	/* the problems table lists the critical error before the high failure */
	const char *problems = strstr(html, "id=\"problems\"");
	assert_non_null(problems);
	assert_true(strstr(problems, "3rd-party-audit-rules") <
		    strstr(problems, "ssh-permit-root-login"));

	json_decref(scan);
}

static void test_html_errors(void **state)
{
	json_t *scan = make_scan();
	_cleanup_free_ char *a = NULL, *b = NULL;
	json_t *arr = json_array();
	FILE *full;

	json_object_set_new(scan, "schema", json_string("immune.scan/v2"));
	assert_int_equal(render(report_write_html, scan, &a), -EINVAL);
	assert_int_equal(render(report_write_html, arr, &b), -EINVAL);
	json_object_set_new(scan, "schema", json_string("immune.scan/v1"));

	/* a failing stream is reported */
	full = fopen("/dev/full", "w");
	if (full) {
		struct report_options opt = { 0 };
		assert_int_equal(report_write_html(scan, full, &opt), -EIO);
		fclose(full);
	}
	full = fopen("/dev/full", "w");
	if (full) {
		struct report_options opt = { 0 };
		assert_int_equal(report_write_oscal(scan, full, &opt), -EIO);
		fclose(full);
	}
	json_decref(arr);
	json_decref(scan);
}

static bool is_uuid_v4(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash != (s[i] == '-'))
			return false;
		if (!dash && !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return s[14] == '4' && strchr("89ab", s[19]);
}

static bool is_token(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-", *s)))
			return false;
	return true;
}

/* OSCAL StringDatatype: non-empty, no leading/trailing white space, one line. */
static bool is_string_datatype(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

/* Walks the whole document: no empty arrays (OSCAL arrays have minItems 1), every uuid a
 * unique v4, every prop well formed; collects defined uuids. */
static void walk(const json_t *v, json_t *uuids)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		assert_true(json_array_size(v) > 0);
		json_array_foreach(v, i, x)
			walk(x, uuids);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if (strcmp(k, "uuid") == 0) {
				const char *u = json_string_value(x);
				assert_true(is_uuid_v4(u));
				assert_null(json_object_get(uuids, u));
				json_object_set_new(uuids, u, json_true());
			}
			if (strcmp(k, "props") == 0) {
				const json_t *p;
				json_array_foreach(x, i, p) {
					assert_true(is_token(
						json_string_value(json_object_get(p, "name"))));
					assert_true(is_string_datatype(
						json_string_value(json_object_get(p, "value"))));
					assert_string_equal(
						json_string_value(json_object_get(p, "ns")),
						"urn:immune:oscal");
				}
			}
			walk(x, uuids);
		}
	}
}

static const char *jget(const json_t *o, const char *path)
{
	return json_string_value(json_object_get(o, path));
}

static const json_t *prop(const json_t *o, const char *name)
{
	const json_t *p;
	size_t i;
	json_array_foreach(json_object_get(o, "props"), i, p)
		if (strcmp(jget(p, "name"), name) == 0)
			return p;
	return NULL;
}

static void test_oscal_structure(void **state)
{
	json_t *scan = make_scan();
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	json_t *doc, *uuids = json_object();
	const json_t *ar, *md, *res, *ld, *host, *sel, *ctl, *obs, *fnd;
	size_t i, j;

	assert_int_equal(render(report_write_oscal, scan, &text), 0);
	doc = json_loads(text, 0, &jerr);
	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 1);
	ar = json_object_get(doc, "assessment-results");
	assert_non_null(ar);
	walk(doc, uuids);

	/* assessment-results: uuid, metadata, import-ap, results */
	assert_true(is_uuid_v4(jget(ar, "uuid")));
	md = json_object_get(ar, "metadata");
	assert_non_null(strstr(jget(md, "title"), NASTY_HOST));
	assert_non_null(jget(md, "last-modified"));
	assert_int_equal(strlen(jget(md, "last-modified")), 20);
	assert_string_equal(jget(md, "version"), "0.1.0");
	assert_string_equal(jget(md, "oscal-version"), "1.1.2");
	assert_string_equal(jget(json_object_get(ar, "import-ap"), "href"), "#");
	assert_int_equal(json_array_size(json_object_get(ar, "results")), 1);
	assert_null(json_object_get(ar, "local-definitions"));

	/* results[0]: required keys; end = start + ceil(1130.1 ms) */
	res = json_array_get(json_object_get(ar, "results"), 0);
	assert_true(is_uuid_v4(jget(res, "uuid")));
	assert_non_null(jget(res, "title"));
	assert_non_null(jget(res, "description"));
	assert_string_equal(jget(res, "start"), "2026-11-23T13:45:40Z");
	assert_string_equal(jget(res, "end"), "2026-11-23T13:45:42Z");
	assert_string_equal(json_string_value(json_object_get(prop(res, "score"), "value")),
			    "33.3");

	/* the host is a this-system component; the tool an assessment platform component */
	ld = json_object_get(res, "local-definitions");
	host = json_array_get(json_object_get(ld, "components"), 0);
	assert_string_equal(jget(host, "type"), "this-system");
	assert_string_equal(jget(host, "title"), NASTY_HOST);
	assert_string_equal(jget(json_object_get(host, "status"), "state"), "operational");
	assert_string_equal(json_string_value(json_object_get(prop(host, "os-id"), "value")),
			    "debian");
	const json_t *assets = json_object_get(ld, "assessment-assets");
	const json_t *tool = json_array_get(json_object_get(assets, "components"), 0);
	const json_t *platform = json_array_get(json_object_get(assets, "assessment-platforms"), 0);
	assert_string_equal(jget(tool, "type"), "software");
	assert_string_equal(jget(json_array_get(json_object_get(platform, "uses-components"), 0),
				 "component-uuid"),
			    jget(tool, "uuid"));

	/* reviewed controls: one selection per framework, controls as tokens */
	const json_t *sels =
		json_object_get(json_object_get(res, "reviewed-controls"), "control-selections");
	assert_int_equal(json_array_size(sels), 3);
	json_array_foreach(sels, i, sel) {
		json_array_foreach(json_object_get(sel, "include-controls"), j, ctl)
			assert_true(is_token(jget(ctl, "control-id")));
	}
	assert_string_equal(
		jget(json_array_get(json_object_get(json_array_get(sels, 0), "include-controls"),
				    0),
		     "control-id"),
		"cis-5.1.20");
	assert_string_equal(
		jget(json_array_get(json_object_get(json_array_get(sels, 1), "include-controls"),
				    0),
		     "control-id"),
		"ac-6.2");
	/* a framework without controls has no (empty) include-controls */
	assert_null(json_object_get(json_array_get(sels, 2), "include-controls"));

	/* one observation and one finding per check, linked, states mapped */
	const json_t *observations = json_object_get(res, "observations");
	const json_t *findings = json_object_get(res, "findings");
	const json_t *results = json_object_get(scan, "results");
	assert_int_equal(json_array_size(observations), json_array_size(results));
	assert_int_equal(json_array_size(findings), json_array_size(results));
	json_array_foreach(findings, i, fnd) {
		const json_t *r = json_array_get(results, i);
		const char *status = jget(r, "status");
		const json_t *target = json_object_get(fnd, "target");
		const json_t *st = json_object_get(target, "status");
		const char *obs_uuid =
			jget(json_array_get(json_object_get(fnd, "related-observations"), 0),
			     "observation-uuid");
		bool found = false;

		assert_string_equal(
			json_string_value(json_object_get(prop(fnd, "check-id"), "value")),
			jget(r, "id"));
		assert_string_equal(jget(fnd, "title"), jget(r, "title"));
		assert_string_equal(jget(target, "type"), "objective-id");
		assert_true(is_token(jget(target, "target-id")));
		if (strcmp(status, "pass") == 0 || strcmp(status, "not_applicable") == 0)
			assert_string_equal(jget(st, "state"), "satisfied");
		else
			assert_string_equal(jget(st, "state"), "not-satisfied");
		if (strcmp(status, "not_applicable") == 0)
			assert_string_equal(
				jget(json_object_get(target, "implementation-status"), "state"),
				"not-applicable");
		else
			assert_null(json_object_get(target, "implementation-status"));

		json_array_foreach(observations, j, obs) {
			if (strcmp(jget(obs, "uuid"), obs_uuid) != 0)
				continue;
			found = true;
			assert_string_equal(
				json_string_value(json_object_get(prop(obs, "check-id"), "value")),
				jget(r, "id"));
			assert_string_equal(json_string_value(json_array_get(
						    json_object_get(obs, "methods"), 0)),
					    "TEST");
			assert_string_equal(jget(obs, "collected"), "2026-11-23T13:45:40Z");
			const json_t *subj = json_array_get(json_object_get(obs, "subjects"), 0);
			assert_string_equal(jget(subj, "subject-uuid"), jget(host, "uuid"));
			assert_string_equal(jget(subj, "type"), "component");
			assert_string_equal(
				jget(json_array_get(
					     json_object_get(
						     json_array_get(json_object_get(obs, "origins"),
								    0),
						     "actors"),
					     0),
				     "actor-uuid"),
				jget(tool, "uuid"));
			assert_int_equal(json_array_size(json_object_get(obs, "relevant-evidence")),
					 json_array_size(json_object_get(r, "evidence")));
		}
		assert_true(found);
	}
	/* specific mappings: targets, control props, evidence descriptions */
	fnd = json_array_get(findings, 0);
	assert_string_equal(jget(json_object_get(fnd, "target"), "target-id"),
			    "ssh-permit-root-login");
	assert_string_equal(
		jget(json_object_get(json_object_get(fnd, "target"), "status"), "reason"), "fail");
	assert_string_equal(json_string_value(json_object_get(prop(fnd, "control-id"), "value")),
			    "cis-5.1.20");
	assert_string_equal(json_string_value(json_object_get(prop(fnd, "control-id"), "class")),
			    "cis");
	obs = json_array_get(observations, 0);
	const json_t *evs = json_object_get(obs, "relevant-evidence");
	assert_string_equal(jget(json_array_get(evs, 0), "description"),
			    "/etc/ssh/sshd_config:32 " NASTY_VALUE);
	assert_string_equal(jget(json_array_get(evs, 1), "description"),
			    "table sshd_config: no matching rows (expected count ge 1)");
	assert_string_equal(jget(json_array_get(json_object_get(json_array_get(observations, 1),
								"relevant-evidence"),
						0),
				 "description"),
			    "/etc/ssh/sshd_config:7 1");
	assert_string_equal(jget(json_array_get(json_object_get(json_array_get(observations, 2),
								"relevant-evidence"),
						0),
				 "description"),
			    "/etc/audit/audit.rules: error: file too large");
	/* ids that are not tokens are made tokens */
	assert_string_equal(
		jget(json_object_get(json_array_get(findings, 2), "target"), "target-id"),
		"check-3rd-party-audit-rules");
	assert_string_equal(
		jget(json_object_get(json_array_get(findings, 3), "target"), "target-id"),
		"evil_id_x_");
	assert_string_equal(json_string_value(json_object_get(
				    prop(json_array_get(findings, 2), "control-id"), "value")),
			    "iso_27001-8.2");
	/* the not-applicable check has no evidence: no empty relevant-evidence array */
	assert_null(json_object_get(json_array_get(observations, 3), "relevant-evidence"));

	json_decref(uuids);
	json_decref(doc);
	json_decref(scan);
}

static void test_oscal_random_and_errors(void **state)
{
	json_t *scan = make_scan();
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	json_t *da, *db;

	assert_int_equal(render(report_write_oscal, scan, &a), 0);
	assert_int_equal(render(report_write_oscal, scan, &b), 0);
	da = json_loads(a, 0, NULL);
	db = json_loads(b, 0, NULL);
	assert_string_not_equal(jget(json_object_get(da, "assessment-results"), "uuid"),
				jget(json_object_get(db, "assessment-results"), "uuid"));
	json_decref(da);
	json_decref(db);

	/* fractional seconds are accepted; a missing or malformed start time is refused */
	json_object_set_new(scan, "started_at", json_string("2026-11-23T13:45:40.250Z"));
	assert_int_equal(render(report_write_oscal, scan, &c), 0);
	json_object_set_new(scan, "started_at", json_string("2026-11-23 13:45:40"));
	assert_int_equal(render(report_write_oscal, scan, &d), -EINVAL);
	free(d);
	d = NULL;
	json_object_del(scan, "started_at");
	assert_int_equal(render(report_write_oscal, scan, &d), -EINVAL);
	free(d);
	d = NULL;
	json_object_set_new(scan, "started_at", json_string("2026-11-23T13:45:40Z"));
	json_object_set_new(scan, "schema", json_string("other"));
	assert_int_equal(render(report_write_oscal, scan, &d), -EINVAL);
	json_decref(scan);
}

/* An empty scan (no results, no frameworks) still yields a valid document. */
static void test_oscal_empty(void **state)
{
	json_t *scan = make_scan();
	_cleanup_free_ char *text = NULL;
	json_t *doc, *uuids = json_object();
	const json_t *res;

	json_object_set_new(scan, "results", json_array());
	json_object_set_new(scan, "frameworks", json_array());
	assert_int_equal(render(report_write_oscal, scan, &text), 0);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	walk(doc, uuids);
	res = json_array_get(json_object_get(json_object_get(doc, "assessment-results"), "results"),
			     0);
	assert_null(json_object_get(res, "observations"));
	assert_null(json_object_get(res, "findings"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(res, "reviewed-controls"),
							 "control-selections")),
			 1);
	json_decref(uuids);
	json_decref(doc);

	/* and the HTML report says there is nothing to fix */
	_cleanup_free_ char *html = NULL;
	assert_int_equal(render(report_write_html, scan, &html), 0);
	assert_non_null(strstr(html, "<p>None.</p>"));
	assert_null(strstr(html, "<details"));
	json_decref(scan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_escaping),
		cmocka_unit_test(test_html_content),
		cmocka_unit_test(test_html_errors),
		cmocka_unit_test(test_oscal_structure),
		cmocka_unit_test(test_oscal_random_and_errors),
		cmocka_unit_test(test_oscal_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
