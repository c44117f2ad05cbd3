/* The terminal report: header, findings by section, a score table per framework. */
#include "policy/report.h"
#include "lib/buf.h"

#include <inttypes.h>

#define TITLE_WIDTH 60
#define MAX_SIZE(a, b) ((a) > (b) ? (a) : (b))

struct style {
	const char *bold, *dim, *red, *green, *yellow, *magenta, *reset;
};

static const struct style plain = { "", "", "", "", "", "", "" };
static const struct style ansi = { "\033[1m",  "\033[2m",  "\033[31m", "\033[32m",
				   "\033[33m", "\033[35m", "\033[0m" };

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

static size_t count(const json_t *o, const char *key)
{
	return (size_t)json_integer_value(json_object_get(o, key));
}

static void print_score(FILE *out, const json_t *score)
{
	if (json_is_number(score))
		fprintf(out, "%5.1f%%", json_number_value(score));
	else
		fprintf(out, "%6s", "-");
}

static const char *status_label(const char *status, const struct style *st, const char **color)
{
	if (strcmp(status, "fail") == 0) {
		*color = st->red;
		return "FAIL";
	}
	if (strcmp(status, "error") == 0) {
		*color = st->magenta;
		return "ERROR";
	}
	if (strcmp(status, "pass") == 0) {
		*color = st->green;
		return "PASS";
	}
	*color = st->dim;
	return "N/A";
}

/* What the first evidence entry says, in a few words. */
static void evidence_text(struct buf *b, const json_t *result)
{
	const json_t *e = json_array_get(json_object_get(result, "evidence"), 0);
	if (!e) {
		buf_puts(b, str(result, "message"));
		return;
	}
	if (json_object_get(e, "error")) {
		buf_printf(b, "%s: %s", str(e, "path"), str(e, "error"));
		return;
	}
	if (!json_object_get(e, "file") || !json_object_get(e, "column")) {
		buf_puts(b, str(e, "message"));
		return;
	}
	buf_puts(b, str(e, "file"));
	const json_t *line = json_object_get(e, "line");
	if (json_is_integer(line))
		buf_printf(b, ":%" PRId64, (int64_t)json_integer_value(line));
	buf_printf(b, "  %s=", str(e, "column"));
	const json_t *v = json_object_get(e, "value");
	if (json_is_string(v))
		buf_printf(b, "'%s'", json_string_value(v));
	else if (json_is_integer(v))
		buf_printf(b, "%" PRId64, (int64_t)json_integer_value(v));
	else if (json_is_boolean(v))
		buf_puts(b, json_is_true(v) ? "true" : "false");
	else
		buf_puts(b, "(not set)");
	buf_printf(b, " (expected %s)", str(e, "expected"));
	size_t n = json_array_size(json_object_get(result, "evidence"));
	if (n > 1)
		buf_printf(b, " +%zu more", n - 1);
}

static bool listed(const json_t *r, bool verbose)
{
	const char *s = str(r, "status");
	return verbose || strcmp(s, "fail") == 0 || strcmp(s, "error") == 0;
}

static void print_header(const json_t *scan, FILE *out, const struct style *st)
{
	const json_t *host = json_object_get(scan, "host");
	const json_t *dur = json_object_get(scan, "duration_ms");
	const char *os = str(host, "os");
	fprintf(out, "%simmune scan%s of %s (%s), root %s\n", st->bold, st->reset,
		*str(host, "hostname") ? str(host, "hostname") : "unknown host",
		*os ? os : "unknown OS", str(host, "root"));
	fprintf(out, "catalog: %zu checks; %.1f ms (inventory %.1f ms, evaluation %.1f ms)\n",
		count(json_object_get(scan, "summary"), "checks"),
		json_number_value(json_object_get(dur, "total")),
		json_number_value(json_object_get(dur, "inventory")),
		json_number_value(json_object_get(dur, "evaluation")));
}

static void print_sections(const json_t *scan, FILE *out, const struct report_options *opt,
			   const struct style *st)
{
	const json_t *results = json_object_get(scan, "results"), *r, *sec;
	size_t i, j, idw = 0, tw = 0;
	json_array_foreach(results, i, r) {
		if (!listed(r, opt->verbose))
			continue;
		idw = MAX_SIZE(idw, strlen(str(r, "id")));
		tw = MAX_SIZE(tw, strlen(str(r, "title")));
	}
	tw = tw > TITLE_WIDTH ? TITLE_WIDTH : tw;
	json_array_foreach(json_object_get(scan, "sections"), j, sec) {
		fprintf(out, "\n%s%s%s  %zu checks, %zu fail, %zu error, score ", st->bold,
			str(sec, "title"), st->reset, count(sec, "checks"), count(sec, "fail"),
			count(sec, "error"));
		print_score(out, json_object_get(sec, "score"));
		fputc('\n', out);
		json_array_foreach(results, i, r) {
			if (strcmp(str(r, "section"), str(sec, "key")) != 0 ||
			    !listed(r, opt->verbose))
				continue;
			const char *color;
			const char *label = status_label(str(r, "status"), st, &color);
			struct buf ev;
			buf_init(&ev, 64 * 1024);
			evidence_text(&ev, r);
			fprintf(out, "  %s%-5s%s  %-8s  %-*s  %-*s  %s%s%s\n", color, label,
				st->reset, str(r, "severity"), (int)idw, str(r, "id"), (int)tw,
				str(r, "title"), st->dim, buf_str(&ev), st->reset);
			buf_free(&ev);
		}
	}
}

static void print_frameworks(const json_t *scan, FILE *out, const struct style *st)
{
	const json_t *fw;
	size_t i, nw = strlen("Framework");
	json_array_foreach(json_object_get(scan, "frameworks"), i, fw)
		nw = MAX_SIZE(nw, strlen(str(fw, "name")));
	fprintf(out, "\n%s%-*s  %6s  %6s  %6s  %6s  %6s  %6s%s\n", st->bold, (int)nw, "Framework",
		"checks", "pass", "fail", "error", "n/a", "score", st->reset);
	json_array_foreach(json_object_get(scan, "frameworks"), i, fw) {
		fprintf(out, "%-*s  %6zu  %6zu  %6zu  %6zu  %6zu  ", (int)nw, str(fw, "name"),
			count(fw, "checks"), count(fw, "pass"), count(fw, "fail"),
			count(fw, "error"), count(fw, "not_applicable"));
		print_score(out, json_object_get(fw, "score"));
		fputc('\n', out);
	}
}

int report_write_text(const json_t *scan, FILE *out, const struct report_options *opt)
{
	const struct style *st = opt && opt->color ? &ansi : &plain;
	static const struct report_options defaults;
	if (!opt)
		opt = &defaults;
	print_header(scan, out, st);
	print_sections(scan, out, opt, st);
	print_frameworks(scan, out, st);
	const json_t *sum = json_object_get(scan, "summary");
	size_t nfail = count(sum, "fail"), nerr = count(sum, "error");
	fprintf(out,
		"\n%s%zu checks: %s%zu pass%s, %s%zu fail%s, %s%zu error%s, %zu not applicable; "
		"score ",
		st->bold, count(sum, "checks"), st->green, count(sum, "pass"), st->reset,
		nfail ? st->red : "", nfail, st->reset, nerr ? st->magenta : "", nerr, st->reset,
		count(sum, "not_applicable"));
	const json_t *score = json_object_get(sum, "score");
	if (json_is_number(score))
		fprintf(out, "%.1f%%", json_number_value(score));
	else
		fputs("-", out);
	fprintf(out, "%s\n", st->reset);
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return 0;
}
