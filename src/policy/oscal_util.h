/* Helpers shared by the OSCAL writers (report_oscal.c for one host, fleet_report_oscal.c for
 * the fleet): UUIDs, OSCAL datatypes (StringDatatype, TokenDatatype, date-time) and props.
 * Every helper returns a new JSON reference or a new string the caller owns. */
#pragma once

#include "lib/common.h"

#include <jansson.h>
#include <time.h>

#define OSCAL_VERSION "1.1.2"
#define OSCAL_IMMUNE_NS "urn:immune:oscal"

/* Returns a new random version 4 UUID string; on a random-source failure sets *err to -EIO
 * (when still 0) and returns a valid-looking UUID anyway. */
json_t *oscal_uuid(int *err);
/* Copies v for a free-text OSCAL field when it is a non-empty string, else dflt. */
json_t *oscal_text_or(const json_t *v, const char *dflt);
/* Returns s as an OSCAL StringDatatype (control characters become spaces, outer spaces
 * trimmed), or NULL when nothing is left. */
json_t *oscal_string(const char *s, size_t n);
/* Returns the control-id token of a framework's control id ("AC-6(2)" -> "ac-6.2" for
 * nist_800_53, "5.1.20" -> "cis-5.1.20" otherwise). The caller frees. */
char *oscal_control_token(const char *fw, const json_t *id);
/* Returns the objective-id token of a check id ("check-" prefix when needed). */
char *oscal_check_token(const json_t *id);
/* Returns fw as a token usable as a prop class. */
char *oscal_class_token(const char *fw);
/* Appends {name, ns, value[, class]} to props when value is a usable StringDatatype. */
void oscal_prop_add(json_t *props, const char *name, const char *cls, const char *v, size_t n);
/* Same, for a JSON string value (anything else is skipped). */
void oscal_prop_add_json(json_t *props, const char *name, const json_t *v);
/* Sets key to arr unless arr is empty (OSCAL arrays hold at least one item); takes arr. */
void oscal_set_array(json_t *o, const char *key, json_t *arr);
/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into out. */
void oscal_format_time(time_t t, char out[32]);
/* Parses an RFC 3339 date-time ("YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"). Returns 0
 * with *out, or -EINVAL. */
int oscal_parse_time(const char *s, time_t *out);
/* Returns a one-line description of a scan evidence entry (docs/scan-json.md). */
json_t *oscal_evidence_description(const json_t *ev);
/* Returns an objective status {state, reason[, remarks]} for a check status string. */
json_t *oscal_target_status(const json_t *status);
