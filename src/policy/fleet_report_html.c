/* Fleet report as one self-contained HTML5 file (the style of report_html.c): no scripts,
 * no external resources (a Content-Security-Policy forbids loading anything), every string
 * from the document escaped by html_text(); only fixed strings become markup or classes,
 * and anchors built from ids are re-encoded to [A-Za-z0-9.-] plus _XX escapes. */
#include "policy/fleet_report.h"
#include "policy/html_util.h"

static const json_t *get(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *get_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(get(o, key));
	return s ? s : "";
}

/* Strings as escaped text, numbers and booleans as JSON, objects as k=v, null as nothing. */
static void h_value(FILE *f, const json_t *v)
{
	if (json_is_string(v)) {
		html_text(f, json_string_value(v), json_string_length(v));
	} else if (json_is_integer(v)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		fprintf(f, "%g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		fputs(json_is_true(v) ? "yes" : "no", f);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		bool first = true;
		json_object_foreach((json_t *)v, k, x) {
			if (!first)
				fputs(", ", f);
			first = false;
			html_text(f, k, strlen(k));
			fputc('=', f);
			h_value(f, x);
		}
	} else if (json_is_array(v)) {
		_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT);
		if (s)
			html_text(f, s, strlen(s));
	}
}

static void h_anchor(FILE *f, const char *prefix, const char *s)
{
	fputs(prefix, f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.')
			fputc(c, f);
		else
			fprintf(f, "_%02x", c);
	}
}

static int status_rank(const char *s)
{
	static const char *const names[] = { "error", "fail", "pass", "not_applicable" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return 4;
}

static void badge(FILE *f, const char *status)
{
	static const char *const cls[] = { "st-error", "st-fail", "st-pass", "st-na", "st-unk" };
	static const char *const lbl[] = { "ERROR", "FAIL", "PASS", "N/A", "UNKNOWN" };
	int r = status_rank(status);
	fprintf(f, "<span class=\"badge %s\">%s</span>", cls[r], lbl[r]);
}

static void h_score(FILE *f, const json_t *score)
{
	if (json_is_number(score))
		fprintf(f, "%.1f", json_number_value(score));
	else
		fputs("n/a", f);
}

static double count_of(const json_t *o, const char *key)
{
	const json_t *v = get(o, key);
	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
}

static void h_bar(FILE *f, const json_t *o)
{
	static const char *const keys[] = { "pass", "fail", "error", "not_applicable" };
	static const char *const cls[] = { "st-pass", "st-fail", "st-error", "st-na" };
	double total = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		total += count_of(o, keys[i]);
	fputs("<div class=\"bar\" aria-hidden=\"true\">", f);
	for (size_t i = 0; i < ARRAY_SIZE(keys) && total > 0; i++) {
		double pct = 100.0 * count_of(o, keys[i]) / total;
		if (pct > 0)
			fprintf(f, "<span class=\"%s\" style=\"width:%.2f%%\"></span>", cls[i],
				pct);
	}
	fputs("</div>", f);
}

/* Count cells: pass, fail, error, n.a. */
static void h_count_cells(FILE *f, const json_t *o)
{
	fprintf(f,
		"<td class=\"st-pass\">%.0f</td><td class=\"st-fail\">%.0f</td>"
		"<td class=\"st-error\">%.0f</td><td class=\"st-na\">%.0f</td>",
		count_of(o, "pass"), count_of(o, "fail"), count_of(o, "error"),
		count_of(o, "not_applicable"));
}

static void write_head(FILE *f, const json_t *doc)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n<title>Immune fleet report: ",
	      f);
	h_value(f, get(get(doc, "framework"), "name"));
	fputs(" (", f);
	h_value(f, get(doc, "generated_at"));
	fputs(")</title>\n<style>\n", f);
	fputs(report_html_css, f);
	fputs("</style>\n</head>\n<body>\n", f);
}

static void write_header(FILE *f, const json_t *doc)
{
	const json_t *fw = get(doc, "framework"), *sum = get(doc, "summary");

	fputs("<header>\n<h1>Immune fleet compliance report: ", f);
	h_value(f, get(fw, "name"));
	fputs("</h1>\n<dl class=\"meta\">\n<dt>Framework</dt><dd>", f);
	h_value(f, get(fw, "name"));
	fputs(" (<code>", f);
	h_value(f, get(fw, "key"));
	fputs("</code>)</dd>\n<dt>Generated</dt><dd>", f);
	h_value(f, get(doc, "generated_at"));
	fprintf(f, "</dd>\n<dt>Hosts</dt><dd>%.0f (%.0f scanned)</dd>\n", count_of(sum, "hosts"),
		count_of(sum, "hosts_scanned"));
	fprintf(f, "<dt>Controls</dt><dd>%.0f, evaluated by %.0f checks</dd>\n",
		count_of(sum, "controls"), count_of(sum, "checks"));
	fputs("<dt>Tool</dt><dd>", f);
	h_value(f, get(get(doc, "tool"), "name"));
	fputc(' ', f);
	h_value(f, get(get(doc, "tool"), "version"));
	fputs("</dd>\n</dl>\n</header>\n", f);

	fputs("<section id=\"summary\">\n<h2>Fleet score</h2>\n<p>Score = 100 × pass / (pass + "
	      "fail + error) over every result of every host; not-applicable results do not "
	      "count.</p>\n<div class=\"cards\">\n<div class=\"card overall\">\n<h3>Fleet</h3>\n"
	      "<div class=\"score\">",
	      f);
	h_score(f, get(sum, "score"));
	fputs("</div>\n", f);
	h_bar(f, sum);
	fprintf(f,
		"<p class=\"counts\"><span class=\"st-pass\">%.0f pass</span> · <span "
		"class=\"st-fail\">%.0f fail</span> · <span class=\"st-error\">%.0f error</span> · "
		"<span class=\"st-na\">%.0f n.a.</span></p>\n</div>\n</div>\n</section>\n",
		count_of(sum, "pass"), count_of(sum, "fail"), count_of(sum, "error"),
		count_of(sum, "not_applicable"));
}

static void write_hosts(FILE *f, const json_t *doc)
{
	const json_t *h, *hosts = get(doc, "hosts");
	size_t i;

	fputs("<section id=\"hosts\">\n<h2>Hosts</h2>\n", f);
	if (json_array_size(hosts) == 0) {
		fputs("<p>No hosts.</p>\n</section>\n", f);
		return;
	}
	fputs("<table>\n<thead><tr><th>Host</th><th>Id</th><th>OS</th><th>Labels</th>"
	      "<th>Connected</th><th>Last scan</th><th>Score</th><th>Pass</th><th>Fail</th>"
	      "<th>Error</th><th>N.a.</th></tr></thead>\n<tbody>\n",
	      f);
	json_array_foreach(hosts, i, h) {
		fputs("<tr><td>", f);
		h_value(f, get(h, "hostname"));
		if (json_is_true(get(h, "revoked")))
			fputs(" <span class=\"sev\">revoked</span>", f);
		fputs("</td><td class=\"mono\">", f);
		h_value(f, get(h, "id"));
		fputs("</td><td>", f);
		h_value(f, get(h, "os"));
		fputs("</td><td class=\"mono\">", f);
		h_value(f, get(h, "labels"));
		fputs("</td><td>", f);
		h_value(f, get(h, "connected"));
		fputs("</td><td>", f);
		if (json_is_true(get(h, "scanned")))
			h_value(f, get(h, "scanned_at"));
		else
			fputs("<span class=\"st-na\">not scanned</span>", f);
		fputs("</td><td>", f);
		h_score(f, get(h, "score"));
		fputs("</td>", f);
		h_count_cells(f, h);
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table>\n</section>\n", f);
}

static void write_control_table(FILE *f, const json_t *doc)
{
	const json_t *c, *controls = get(doc, "controls");
	size_t i;

	fputs("<section id=\"controls\">\n<h2>Controls</h2>\n", f);
	if (json_array_size(controls) == 0) {
		fputs("<p>No results map to a control of this framework.</p>\n</section>\n", f);
		return;
	}
	fputs("<p>A control's status is the worst of its results (error &gt; fail &gt; pass "
	      "&gt; not applicable).</p>\n<table>\n<thead><tr><th>Control</th><th>Status</th>"
	      "<th>Checks</th><th>Score</th><th>Pass</th><th>Fail</th><th>Error</th><th>N.a.</th>"
	      "<th style=\"width:20%\">Distribution</th></tr></thead>\n<tbody>\n",
	      f);
	json_array_foreach(controls, i, c) {
		fputs("<tr><td class=\"mono\"><a href=\"#", f);
		h_anchor(f, "ctl-", get_str(c, "id"));
		fputs("\">", f);
		h_value(f, get(c, "id"));
		fputs("</a></td><td>", f);
		badge(f, get_str(c, "status"));
		fprintf(f, "</td><td>%zu</td><td>", json_array_size(get(c, "checks")));
		h_score(f, get(c, "score"));
		fputs("</td>", f);
		h_count_cells(f, c);
		fputs("<td>", f);
		h_bar(f, c);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody>\n</table>\n</section>\n", f);
}

static void write_evidence(FILE *f, const json_t *evidence)
{
	const json_t *ev;
	size_t i;

	if (json_array_size(evidence) == 0)
		return;
	fputs("<ul class=\"row\">", f);
	json_array_foreach(evidence, i, ev) {
		fputs("<li>", f);
		if (json_is_string(get(ev, "file"))) {
			fputs("<span class=\"mono\">", f);
			h_value(f, get(ev, "file"));
			if (json_is_integer(get(ev, "line")))
				fprintf(f, ":%" JSON_INTEGER_FORMAT,
					json_integer_value(get(ev, "line")));
			fputs("</span> ", f);
		}
		h_value(f, get(ev, "message"));
		if (json_is_string(get(ev, "error"))) {
			fputs(" <span class=\"st-error\">error: ", f);
			h_value(f, get(ev, "error"));
			fputs("</span>", f);
		}
		fputs("</li>", f);
	}
	fputs("</ul>", f);
}

static void write_check(FILE *f, const json_t *chk)
{
	const json_t *r, *hosts = get(chk, "hosts");
	size_t i;

	fputs("<h4><code>", f);
	h_value(f, get(chk, "id"));
	fputs("</code> ", f);
	h_value(f, get(chk, "title"));
	fputs(" <span class=\"sev\">", f);
	h_value(f, get(chk, "severity"));
	fputs("</span></h4>\n<table>\n<thead><tr><th style=\"width:18%\">Host</th>"
	      "<th style=\"width:7%\">Status</th><th>Message and evidence</th></tr></thead>\n"
	      "<tbody>\n",
	      f);
	json_array_foreach(hosts, i, r) {
		fputs("<tr><td>", f);
		h_value(f, get(r, "hostname"));
		fputs("<div class=\"row mono\">", f);
		h_value(f, get(r, "host"));
		fputs("</div></td><td>", f);
		badge(f, get_str(r, "status"));
		fputs("</td><td><p class=\"text\">", f);
		h_value(f, get(r, "message"));
		fputs("</p>", f);
		write_evidence(f, get(r, "evidence"));
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody>\n</table>\n", f);
}

static void write_control_details(FILE *f, const json_t *doc)
{
	const json_t *c, *controls = get(doc, "controls");
	size_t i;

	if (json_array_size(controls) == 0)
		return;
	fputs("<section id=\"details\">\n<h2>Results by control</h2>\n", f);
	json_array_foreach(controls, i, c) {
		const json_t *chk, *checks = get(c, "checks");
		size_t j;

		fputs("<h3 id=\"", f);
		h_anchor(f, "ctl-", get_str(c, "id"));
		fputs("\">", f);
		h_value(f, get(c, "id"));
		fputc(' ', f);
		badge(f, get_str(c, "status"));
		fputs(" <small>(score ", f);
		h_score(f, get(c, "score"));
		fputs(")</small></h3>\n", f);
		json_array_foreach(checks, j, chk)
			write_check(f, chk);
	}
	fputs("</section>\n", f);
}

int fleet_report_write_html(const json_t *doc, FILE *out)
{
	if (!json_is_object(doc) || strcmp(get_str(doc, "schema"), FLEET_REPORT_SCHEMA) != 0)
		return -EINVAL;
	write_head(out, doc);
	write_header(out, doc);
	write_hosts(out, doc);
	write_control_table(out, doc);
	write_control_details(out, doc);
	fputs("<footer>Generated by ", out);
	h_value(out, get(get(doc, "tool"), "name"));
	fputc(' ', out);
	h_value(out, get(get(doc, "tool"), "version"));
	fputs(" from the immune.fleet-report/v1 document: the latest scan of every host, as "
	      "the server stored it.</footer>\n</body>\n</html>\n",
	      out);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
