/* A scan: evaluates a catalog against an inventory and builds the report document
 * (immune.scan/v1, docs/scan-json.md) that every report writer reads. */
#pragma once

#include "inventory/inventory.h"
#include "policy/catalog.h"

#include <time.h>

struct scan_options {
	const char *framework; /* evaluate only checks mapped to this framework (NULL: all) */
	const char *check;     /* evaluate only this check (NULL: all) */
	time_t started;	       /* wall-clock start of the scan (0: now) */
	double other_ms;       /* time spent outside collection and evaluation (catalog load) */
};

/* Evaluates the checks of cat selected by opt against inv and returns the report in *out (a
 * new reference). Returns 0, or -ENOENT when opt names an unknown framework or check id. */
int scan_run(const struct catalog *cat, const struct inventory *inv, const struct scan_options *opt,
	     json_t **out);
/* Returns the score 100 * pass / (pass + fail + error) with one decimal, or JSON null when the
 * sum is 0 (a new reference). */
json_t *scan_score(size_t pass, size_t fail, size_t error);
/* Returns whether a check maps to at least one control of framework key. */
bool check_maps_to(const struct check *c, const char *framework);
