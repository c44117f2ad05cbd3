/* Report writers: each renders a scan report (the immune.scan/v1 JSON document described in
 * docs/scan-json.md) in one format. Writers only read the document; they return 0 or a
 * negative errno (-EIO when writing failed). */
#pragma once

#include "lib/common.h"

#include <jansson.h>

struct report_options {
	bool color;   /* ANSI colour (terminal writer only) */
	bool verbose; /* terminal: list passing checks too */
};

/* Terminal report grouped by section, with a score per framework. */
int report_write_text(const json_t *scan, FILE *out, const struct report_options *opt);
/* The JSON document itself, indented. */
int report_write_json(const json_t *scan, FILE *out, const struct report_options *opt);
/* One self-contained HTML file (inline CSS, no scripts or external resources). */
int report_write_html(const json_t *scan, FILE *out, const struct report_options *opt);
/* OSCAL assessment-results JSON (OSCAL 1.1.2). */
int report_write_oscal(const json_t *scan, FILE *out, const struct report_options *opt);
