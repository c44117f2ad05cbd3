/* HTML report writer: renders an immune.scan/v1 document (docs/scan-json.md) as one
 * self-contained HTML5 file an auditor can open offline.
 *
 * - Inline CSS only; no scripts, no external resources (a Content-Security-Policy meta tag
 *   forbids loading anything, as a second line of defence). Findings are <details> elements:
 *   failed and errored ones start open so they also print.
 * - Every string taken from the document goes through html_text(), the one escaping
 *   function: & < > " ' become entities; control characters (C0, DEL, C1, and NUL inside
 *   jansson strings) are shown as visible \xHH / \uHHHH text, never emitted raw. Tab and
 *   newline pass through (text blocks use white-space: pre-wrap).
 * - Only fixed strings of this file become markup or class names; anchors built from ids
 *   are re-encoded to [A-Za-z0-9.-] plus _XX escapes. */
#include "policy/html_util.h"
#include "policy/report.h"

#define SCAN_SCHEMA "immune.scan/v1"

void html_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&': fputs("&amp;", f); continue;
		case '<': fputs("&lt;", f); continue;
		case '>': fputs("&gt;", f); continue;
		case '"': fputs("&quot;", f); continue;
		case '\'': fputs("&#39;", f); continue;
		case '\t':
		case '\n': fputc(c, f); continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\x%02X", c);
		} else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			/* C1 control U+0080..U+009F, UTF-8 encoded as C2 80..C2 9F */
			fprintf(f, "\\u%04X", (unsigned char)s[i + 1]);
			i++;
		} else {
			fputc(c, f);
		}
	}
}

static void html_str(FILE *f, const char *s)
{
	html_text(f, s, strlen(s));
}

static const json_t *get(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *get_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(get(o, key));
	return s ? s : "";
}

static bool has_text(const json_t *v)
{
	return (json_is_string(v) && json_string_length(v) > 0) || json_is_number(v) ||
	       json_is_boolean(v) || json_is_array(v) || json_is_object(v);
}

/* Writes any JSON value as escaped text: strings as they are (embedded NULs included),
 * numbers and booleans in JSON form, arrays and objects as compact JSON; null as nothing. */
static void html_value(FILE *f, const json_t *v)
{
	if (json_is_string(v)) {
		html_text(f, json_string_value(v), json_string_length(v));
	} else if (json_is_integer(v)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		fprintf(f, "%g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		fputs(json_is_true(v) ? "true" : "false", f);
	} else if (json_is_array(v) || json_is_object(v)) {
		_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (s)
			html_str(f, s);
	}
}

/* Writes prefix and an id re-encoded for use as an element id / fragment. */
static void html_anchor(FILE *f, const char *prefix, const json_t *id)
{
	const char *s = json_is_string(id) ? json_string_value(id) : "";
	size_t n = json_is_string(id) ? json_string_length(id) : 0;

	fputs(prefix, f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.')
			fputc(c, f);
		else
			fprintf(f, "_%02x", c);
	}
}

/* Fixed class names and labels for the four statuses; anything else is "unknown". */
enum { ST_ERROR, ST_FAIL, ST_PASS, ST_NA, ST_UNKNOWN, ST_COUNT };

static int status_rank(const json_t *status)
{
	static const char *const names[] = { "error", "fail", "pass", "not_applicable" };
	const char *s = json_string_value(status);

	for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return ST_UNKNOWN;
}

static const char *status_class(int rank)
{
	static const char *const cls[] = { "st-error", "st-fail", "st-pass", "st-na", "st-unk" };
	return cls[rank];
}

static const char *status_label(int rank)
{
	static const char *const lbl[] = { "ERROR", "FAIL", "PASS", "N/A", "UNKNOWN" };
	return lbl[rank];
}

static int severity_rank(const json_t *sev)
{
	static const char *const names[] = { "critical", "high", "medium", "low" };
	const char *s = json_string_value(sev);

	for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return (int)ARRAY_SIZE(names);
}

static const char *severity_class(int rank)
{
	static const char *const cls[] = { "sev-critical", "sev-high", "sev-medium", "sev-low",
					   "sev-unk" };
	return cls[rank];
}

static double count_of(const json_t *o, const char *key)
{
	const json_t *v = get(o, key);
	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
}

static void html_count(FILE *f, const json_t *o, const char *key)
{
	fprintf(f, "%.0f", count_of(o, key));
}

static void html_score(FILE *f, const json_t *score)
{
	if (json_is_number(score))
		fprintf(f, "%.1f", json_number_value(score));
	else
		fputs("n/a", f);
}

/* A stacked bar of pass / fail / error / not-applicable counts. */
static void html_bar(FILE *f, const json_t *o)
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

static void html_counts(FILE *f, const json_t *o)
{
	fputs("<p class=\"counts\"><span class=\"st-pass\">", f);
	html_count(f, o, "pass");
	fputs(" pass</span> · <span class=\"st-fail\">", f);
	html_count(f, o, "fail");
	fputs(" fail</span> · <span class=\"st-error\">", f);
	html_count(f, o, "error");
	fputs(" error</span> · <span class=\"st-na\">", f);
	html_count(f, o, "not_applicable");
	fputs(" n.a.</span></p>", f);
}

const char report_html_css[] =
	":root{--pass:#1a7f37;--fail:#cf222e;--error:#bc4c00;--na:#6e7781;--line:#d0d7de;"
	"--bg2:#f6f8fa}\n"
	"*{box-sizing:border-box}\n"
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;"
	"margin:0 auto;max-width:1200px;padding:1.5rem}\n"
	"h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.3rem;border-bottom:1px solid "
	"var(--line);padding-bottom:.25rem;margin-top:2rem}h3{font-size:1.1rem}"
	"h4{font-size:.95rem;margin:.9rem 0 .25rem}\n"
	"code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
	"font-size:.88em}\n"
	"dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}"
	"dl.meta dt{font-weight:600}dl.meta dd{margin:0}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:.8rem}\n"
	".card{border:1px solid var(--line);border-radius:6px;padding:.7rem .9rem;"
	"background:#fff;break-inside:avoid}\n"
	".card h3{margin:0 0 .3rem;font-size:.95rem}.card .score{font-size:1.8rem;font-weight:700}"
	".card.overall .score{font-size:2.6rem}\n"
	".counts{margin:.3rem 0;font-size:.85rem}\n"
	".bar{display:flex;height:.6rem;border-radius:3px;overflow:hidden;background:var(--bg2);"
	"border:1px solid var(--line)}.bar span{display:block;height:100%}\n"
	".bar .st-pass{background:var(--pass)}.bar .st-fail{background:var(--fail)}"
	".bar .st-error{background:var(--error)}.bar .st-na{background:var(--na)}\n"
	"span.st-pass,td.st-pass{color:var(--pass)}span.st-fail,td.st-fail{color:var(--fail)}"
	"span.st-error,td.st-error{color:var(--error)}span.st-na,td.st-na{color:var(--na)}\n"
	"table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border:1px solid "
	"var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}"
	"th{background:var(--bg2)}td{overflow-wrap:anywhere}\n"
	".badge{display:inline-block;min-width:4.2em;text-align:center;border-radius:3px;"
	"padding:0 .35em;font-size:.78rem;font-weight:700;color:#fff!important}\n"
	".badge.st-pass{background:var(--pass)}.badge.st-fail{background:var(--fail)}"
	".badge.st-error{background:var(--error)}.badge.st-na,.badge.st-unk{background:var(--na)}\n"
	".sev{display:inline-block;border:1px solid var(--line);border-radius:3px;"
	"padding:0 .35em;font-size:.78rem}.sev-critical{border-color:#82071e;color:#82071e;"
	"font-weight:700}.sev-high{border-color:var(--fail);color:var(--fail)}"
	".sev-medium{color:var(--error)}\n"
	"details.finding{border:1px solid var(--line);border-left:4px solid var(--na);"
	"border-radius:4px;margin:.4rem 0;background:#fff}\n"
	"details.finding.st-fail{border-left-color:var(--fail)}"
	"details.finding.st-error{border-left-color:var(--error)}"
	"details.finding.st-pass{border-left-color:var(--pass)}\n"
	"details.finding>summary{cursor:pointer;padding:.35rem .6rem;list-style-position:inside}\n"
	"details.finding .body{padding:0 .9rem .7rem}\n"
	".text{white-space:pre-wrap;margin:.2rem 0}.msg{font-weight:600}\n"
	"dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:0}"
	"dl.kv dt{font-weight:600}dl.kv dd{margin:0}\n"
	".row{font-size:.8em;color:#57606a}\n"
	"footer{margin-top:2rem;color:#57606a;font-size:.85rem}\n"
	"@media print{body{max-width:none;padding:0;font-size:11pt}"
	"a{color:inherit;text-decoration:none}h2{break-after:avoid}"
	"details.finding,.card,tr{break-inside:avoid}"
	"details.finding>summary{list-style:none}"
	"details::details-content{content-visibility:visible;display:block}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n";

static void write_head(FILE *f, const json_t *scan)
{
	const json_t *host = get(scan, "host");

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"generator\" content=\"",
	      f);
	html_value(f, get(get(scan, "tool"), "name"));
	fputc(' ', f);
	html_value(f, get(get(scan, "tool"), "version"));
	fputs("\">\n<title>Immune scan: ", f);
	html_value(f, get(host, "hostname"));
	fputs(" (", f);
	html_value(f, get(scan, "started_at"));
	fputs(")</title>\n<style>\n", f);
	fputs(report_html_css, f);
	fputs("</style>\n</head>\n<body>\n", f);
}

static void meta_row(FILE *f, const char *label, const json_t *v)
{
	fprintf(f, "<dt>%s</dt><dd>", label);
	html_value(f, v);
	fputs("</dd>\n", f);
}

static void write_header(FILE *f, const json_t *scan)
{
	const json_t *host = get(scan, "host"), *tool = get(scan, "tool");
	const json_t *dur = get(get(scan, "duration_ms"), "total");
	const json_t *filter = get(scan, "filter");

	fputs("<header>\n<h1>Immune security scan: ", f);
	html_value(f, get(host, "hostname"));
	fputs("</h1>\n<dl class=\"meta\">\n", f);
	meta_row(f, "Host", get(host, "hostname"));
	meta_row(f, "Operating system", get(host, "os"));
	meta_row(f, "Kernel", get(host, "kernel"));
	meta_row(f, "Root", get(host, "root"));
	meta_row(f, "Scan started", get(scan, "started_at"));
	if (json_is_number(dur))
		fprintf(f, "<dt>Duration</dt><dd>%.0f ms</dd>\n", json_number_value(dur));
	fputs("<dt>Tool</dt><dd>", f);
	html_value(f, get(tool, "name"));
	fputc(' ', f);
	html_value(f, get(tool, "version"));
	fputs("</dd>\n", f);
	if (has_text(get(filter, "framework")))
		meta_row(f, "Framework filter", get(filter, "framework"));
	if (has_text(get(filter, "check")))
		meta_row(f, "Check filter", get(filter, "check"));
	fputs("</dl>\n</header>\n", f);
}

static void write_card(FILE *f, const json_t *o, const json_t *name, const char *anchor_prefix,
		       const json_t *anchor_id, bool overall)
{
	fprintf(f, "<div class=\"card%s\">\n<h3>", overall ? " overall" : "");
	if (anchor_prefix) {
		fputs("<a href=\"#", f);
		html_anchor(f, anchor_prefix, anchor_id);
		fputs("\">", f);
	}
	if (name)
		html_value(f, name);
	else
		fputs("Overall", f);
	if (anchor_prefix)
		fputs("</a>", f);
	fputs("</h3>\n<div class=\"score\">", f);
	html_score(f, get(o, "score"));
	fputs("</div>\n", f);
	html_bar(f, o);
	html_counts(f, o);
	fputs("<p class=\"counts\">", f);
	html_count(f, o, "checks");
	fputs(" checks</p>\n</div>\n", f);
}

static void write_summary(FILE *f, const json_t *scan)
{
	const json_t *fw, *frameworks = get(scan, "frameworks");
	size_t i;

	fputs("<section id=\"summary\">\n<h2>Scores</h2>\n<p>Score = 100 × pass / (pass + fail "
	      "+ error); not-applicable checks do not count.</p>\n<div class=\"cards\">\n",
	      f);
	write_card(f, get(scan, "summary"), NULL, NULL, NULL, true);
	json_array_foreach(frameworks, i, fw)
		write_card(f, fw, get(fw, "name"), "fw-", get(fw, "key"), false);
	fputs("</div>\n</section>\n", f);
}

static void write_section_table(FILE *f, const json_t *scan)
{
	const json_t *sec, *sections = get(scan, "sections");
	size_t i;

	if (json_array_size(sections) == 0)
		return;
	fputs("<section id=\"sections\">\n<h2>Sections</h2>\n<table>\n<thead><tr><th>Section</th>"
	      "<th>Score</th><th>Checks</th><th>Pass</th><th>Fail</th><th>Error</th>"
	      "<th>N.a.</th><th style=\"width:25%\">Distribution</th></tr></thead>\n<tbody>\n",
	      f);
	json_array_foreach(sections, i, sec) {
		fputs("<tr><td><a href=\"#", f);
		html_anchor(f, "sec-", get(sec, "key"));
		fputs("\">", f);
		html_value(f, has_text(get(sec, "title")) ? get(sec, "title") : get(sec, "key"));
		fputs("</a></td><td>", f);
		html_score(f, get(sec, "score"));
		fputs("</td><td>", f);
		html_count(f, sec, "checks");
		fputs("</td><td class=\"st-pass\">", f);
		html_count(f, sec, "pass");
		fputs("</td><td class=\"st-fail\">", f);
		html_count(f, sec, "fail");
		fputs("</td><td class=\"st-error\">", f);
		html_count(f, sec, "error");
		fputs("</td><td class=\"st-na\">", f);
		html_count(f, sec, "not_applicable");
		fputs("</td><td>", f);
		html_bar(f, sec);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody>\n</table>\n</section>\n", f);
}

static void check_link(FILE *f, const json_t *id)
{
	fputs("<a href=\"#", f);
	html_anchor(f, "check-", id);
	fputs("\"><code>", f);
	html_value(f, id);
	fputs("</code></a>", f);
}

static void badge(FILE *f, int rank)
{
	fprintf(f, "<span class=\"badge %s\">%s</span>", status_class(rank), status_label(rank));
}

/* Failed and errored checks, most severe first. */
static void write_problems(FILE *f, const json_t *results)
{
	const json_t *r;
	size_t i, n = 0;

	json_array_foreach(results, i, r) {
		int st = status_rank(get(r, "status"));
		n += st == ST_FAIL || st == ST_ERROR;
	}
	fputs("<section id=\"problems\">\n<h2>Failed and errored checks</h2>\n", f);
	if (n == 0) {
		fputs("<p>None.</p>\n</section>\n", f);
		return;
	}
	fputs("<table>\n<thead><tr><th>Status</th><th>Severity</th><th>Check</th><th>Title</th>"
	      "<th>Section</th></tr></thead>\n<tbody>\n",
	      f);
	for (int sev = 0; sev <= 4; sev++) {
		json_array_foreach(results, i, r) {
			int st = status_rank(get(r, "status"));
			if ((st != ST_FAIL && st != ST_ERROR) ||
			    severity_rank(get(r, "severity")) != sev)
				continue;
			fputs("<tr><td>", f);
			badge(f, st);
			fprintf(f, "</td><td><span class=\"sev %s\">", severity_class(sev));
			html_value(f, get(r, "severity"));
			fputs("</span></td><td>", f);
			check_link(f, get(r, "id"));
			fputs("</td><td>", f);
			html_value(f, get(r, "title"));
			fputs("</td><td>", f);
			html_value(f, get(r, "section"));
			fputs("</td></tr>\n", f);
		}
	}
	fputs("</tbody>\n</table>\n</section>\n", f);
}

static void write_controls(FILE *f, const json_t *scan)
{
	const json_t *fw, *frameworks = get(scan, "frameworks");
	size_t i;

	if (json_array_size(frameworks) == 0)
		return;
	fputs("<section id=\"controls\">\n<h2>Controls by framework</h2>\n", f);
	json_array_foreach(frameworks, i, fw) {
		const json_t *ctl, *controls = get(fw, "controls");
		size_t j;

		fputs("<h3 id=\"", f);
		html_anchor(f, "fw-", get(fw, "key"));
		fputs("\">", f);
		html_value(f, has_text(get(fw, "name")) ? get(fw, "name") : get(fw, "key"));
		fputs(" <small>(score ", f);
		html_score(f, get(fw, "score"));
		fputs(")</small></h3>\n", f);
		if (json_array_size(controls) == 0) {
			fputs("<p>No controls.</p>\n", f);
			continue;
		}
		fputs("<table>\n<thead><tr><th>Control</th><th>Status</th><th>Checks</th></tr>"
		      "</thead>\n<tbody>\n",
		      f);
		json_array_foreach(controls, j, ctl) {
			const json_t *id, *checks = get(ctl, "checks");
			size_t k;

			fputs("<tr><td class=\"mono\">", f);
			html_value(f, get(ctl, "id"));
			fputs("</td><td>", f);
			badge(f, status_rank(get(ctl, "status")));
			fputs("</td><td>", f);
			json_array_foreach(checks, k, id) {
				if (k > 0)
					fputs(", ", f);
				check_link(f, id);
			}
			fputs("</td></tr>\n", f);
		}
		fputs("</tbody>\n</table>\n", f);
	}
	fputs("</section>\n", f);
}

static void text_block(FILE *f, const char *heading, const json_t *v)
{
	if (!has_text(v))
		return;
	fprintf(f, "<h4>%s</h4>\n<p class=\"text\">", heading);
	html_value(f, v);
	fputs("</p>\n", f);
}

static void write_evidence_row(FILE *f, const json_t *ev)
{
	const json_t *file = get(ev, "file"), *line = get(ev, "line"), *row = get(ev, "row");

	fputs("<tr><td class=\"mono\">", f);
	if (has_text(file)) {
		html_value(f, file);
		if (json_is_integer(line) && json_integer_value(line) > 0)
			fprintf(f, ":%" JSON_INTEGER_FORMAT, json_integer_value(line));
	} else {
		html_value(f, get(ev, "path"));
	}
	fputs("</td><td class=\"mono\">", f);
	html_value(f, get(ev, "table"));
	fputs("</td><td class=\"mono\">", f);
	html_value(f, get(ev, "column"));
	fputs("</td><td class=\"mono\">", f);
	if (has_text(get(ev, "error"))) {
		fputs("<span class=\"st-error\">error: ", f);
		html_value(f, get(ev, "error"));
		fputs("</span>", f);
	} else {
		html_value(f, get(ev, "value"));
	}
	fputs("</td><td class=\"mono\">", f);
	html_value(f, get(ev, "expected"));
	fputs("</td><td>", f);
	html_value(f, get(ev, "message"));
	if (json_is_object(row) && json_object_size(row) > 0) {
		fputs("<div class=\"row mono\">", f);
		const char *k;
		json_t *v;
		bool first = true;
		json_object_foreach((json_t *)row, k, v) {
			if (!first)
				fputc(' ', f);
			first = false;
			html_str(f, k);
			fputc('=', f);
			html_value(f, v);
		}
		fputs("</div>", f);
	}
	fputs("</td></tr>\n", f);
}

static void write_evidence(FILE *f, const json_t *evidence)
{
	const json_t *ev;
	size_t i;

	if (json_array_size(evidence) == 0)
		return;
	fputs("<h4>Evidence</h4>\n<table class=\"ev\">\n<thead><tr><th>File:line / path</th>"
	      "<th>Table</th><th>Column</th><th>Value</th><th>Expected</th><th>Result "
	      "(row)</th></tr>"
	      "</thead>\n<tbody>\n",
	      f);
	json_array_foreach(evidence, i, ev)
		write_evidence_row(f, ev);
	fputs("</tbody>\n</table>\n", f);
}

/* Writes an object's members as a definition list, naming frameworks by their title. */
static void write_kv(FILE *f, const char *heading, const json_t *o, const json_t *frameworks)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) == 0)
		return;
	fprintf(f, "<h4>%s</h4>\n<dl class=\"kv\">\n", heading);
	json_object_foreach((json_t *)o, k, v) {
		const json_t *fw, *label = NULL;
		size_t i;

		json_array_foreach(frameworks, i, fw)
			if (strcmp(get_str(fw, "key"), k) == 0 && has_text(get(fw, "name")))
				label = get(fw, "name");
		fputs("<dt>", f);
		if (label)
			html_value(f, label);
		else
			html_str(f, k);
		fputs("</dt><dd class=\"mono\">", f);
		if (json_is_array(v)) {
			const json_t *item;
			size_t j;
			json_array_foreach(v, j, item) {
				if (j > 0)
					fputs(", ", f);
				html_value(f, item);
			}
		} else {
			html_value(f, v);
		}
		fputs("</dd>\n", f);
	}
	fputs("</dl>\n", f);
}

static void write_finding(FILE *f, const json_t *r, const json_t *frameworks)
{
	int st = status_rank(get(r, "status"));
	int sev = severity_rank(get(r, "severity"));

	fprintf(f, "<details class=\"finding %s\" id=\"", status_class(st));
	html_anchor(f, "check-", get(r, "id"));
	fprintf(f, "\"%s>\n<summary>", st == ST_FAIL || st == ST_ERROR ? " open" : "");
	badge(f, st);
	fprintf(f, " <span class=\"sev %s\">", severity_class(sev));
	html_value(f, get(r, "severity"));
	fputs("</span> <code>", f);
	html_value(f, get(r, "id"));
	fputs("</code> ", f);
	html_value(f, get(r, "title"));
	fputs("</summary>\n<div class=\"body\">\n", f);
	if (has_text(get(r, "message"))) {
		fputs("<p class=\"text msg\">", f);
		html_value(f, get(r, "message"));
		fputs("</p>\n", f);
	}
	text_block(f, "Description", get(r, "description"));
	text_block(f, "Rationale", get(r, "rationale"));
	write_evidence(f, get(r, "evidence"));
	text_block(f, "Remediation", get(r, "remediation"));
	write_kv(f, "Automated fix", get(r, "fix"), NULL);
	write_kv(f, "Mappings", get(r, "mappings"), frameworks);
	fputs("</div>\n</details>\n", f);
}

static bool section_listed(const json_t *sections, const char *key)
{
	const json_t *sec;
	size_t i;

	json_array_foreach(sections, i, sec)
		if (strcmp(get_str(sec, "key"), key) == 0)
			return true;
	return false;
}

/* Findings of one section (or, with key NULL, of sections not listed), errors and failures
 * first. */
static void write_section_findings(FILE *f, const json_t *scan, const char *key)
{
	const json_t *r, *results = get(scan, "results"), *sections = get(scan, "sections");
	const json_t *frameworks = get(scan, "frameworks");
	size_t i;

	for (int st = 0; st < ST_COUNT; st++) {
		json_array_foreach(results, i, r) {
			const char *sec = get_str(r, "section");
			bool in = key ? strcmp(sec, key) == 0 : !section_listed(sections, sec);
			if (in && status_rank(get(r, "status")) == st)
				write_finding(f, r, frameworks);
		}
	}
}

static void write_findings(FILE *f, const json_t *scan)
{
	const json_t *sec, *r, *sections = get(scan, "sections"), *results = get(scan, "results");
	size_t i;
	bool other = false;

	fputs("<section id=\"findings\">\n<h2>Findings by section</h2>\n", f);
	json_array_foreach(sections, i, sec) {
		fputs("<h3 id=\"", f);
		html_anchor(f, "sec-", get(sec, "key"));
		fputs("\">", f);
		html_value(f, has_text(get(sec, "title")) ? get(sec, "title") : get(sec, "key"));
		fputs(" <small>(score ", f);
		html_score(f, get(sec, "score"));
		fputs(")</small></h3>\n", f);
		write_section_findings(f, scan, get_str(sec, "key"));
	}
	json_array_foreach(results, i, r)
		other = other || !section_listed(sections, get_str(r, "section"));
	if (other) {
		fputs("<h3 id=\"sec-other\">Other checks</h3>\n", f);
		write_section_findings(f, scan, NULL);
	}
	fputs("</section>\n", f);
}

int report_write_html(const json_t *scan, FILE *out, const struct report_options *opt)
{
	if (!json_is_object(scan) || strcmp(get_str(scan, "schema"), SCAN_SCHEMA) != 0 ||
	    !json_is_array(get(scan, "results")))
		return -EINVAL;

	write_head(out, scan);
	write_header(out, scan);
	write_summary(out, scan);
	write_problems(out, get(scan, "results"));
	write_section_table(out, scan);
	write_controls(out, scan);
	write_findings(out, scan);
	fputs("<footer>Generated by ", out);
	html_value(out, get(get(scan, "tool"), "name"));
	fputc(' ', out);
	html_value(out, get(get(scan, "tool"), "version"));
	fputs(" from the ", out);
	html_str(out, SCAN_SCHEMA);
	fputs(" scan report. Control statuses are the worst of their checks' (error &gt; fail "
	      "&gt; pass &gt; not applicable).</footer>\n</body>\n</html>\n",
	      out);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
