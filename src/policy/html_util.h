/* What the HTML writers share (report_html.c defines them): one escaping function and the
 * house style sheet. */
#pragma once

#include "lib/common.h"

/* Writes n bytes of text as HTML text or attribute content: & < > " ' become entities,
 * control characters are shown as visible \xHH / \uHHHH text; tab and newline pass. */
void html_text(FILE *f, const char *s, size_t n);
/* The inline style sheet of the scan report (classes st-*, sev-*, card, bar, badge...). */
extern const char report_html_css[];
