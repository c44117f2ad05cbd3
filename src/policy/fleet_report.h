/* Fleet compliance report (immune.fleet-report/v1, docs/fleet-report.md): built from the
 * server's answers to GET /v1/hosts and GET /v1/findings?framework=F&status=all
 * (docs/api.md), then rendered as JSON, HTML or OSCAL. The builder only reads its inputs and
 * accepts any JSON: members of the wrong type are skipped, never trusted. */
#pragma once

#include "lib/common.h"

#include <jansson.h>
#include <time.h>

#define FLEET_REPORT_SCHEMA "immune.fleet-report/v1"

/* Builds the report for framework from the two API answers ({"hosts": [...]} and
 * {"findings": [...]}); generated is the report's timestamp (0: now). Returns 0 with *out
 * (a new reference), or -EINVAL when an answer lacks its array or framework is empty. */
int fleet_report_build(const json_t *hosts, const json_t *findings, const char *framework,
		       time_t generated, json_t **out);

/* Writers take a document made by fleet_report_build() (anything else: -EINVAL) and return
 * 0 or -EIO when writing failed. */
/* The document itself, indented. */
int fleet_report_write_json(const json_t *report, FILE *out);
/* One self-contained HTML file (inline CSS, no scripts or external resources). */
int fleet_report_write_html(const json_t *report, FILE *out);
/* OSCAL 1.1.2 assessment-results with one result, one inventory item per host. */
int fleet_report_write_oscal(const json_t *report, FILE *out);
