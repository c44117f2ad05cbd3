/* Audit rule lines (auditctl syntax, as in /etc/audit/rules.d/ *.rules). */
#pragma once

#include "lib/common.h"

#define AUDIT_RULES_MAX (1024 * 1024) /* bytes of one rules file */

/* Parses one line of a rules file. Returns 1 with the rule, white space folded to single
 * spaces, in *rule and its key (-k KEY or -F key=KEY; several joined with ',') in *key (NULL
 * when none); both new strings. Returns 0 for blank and comment lines and -EBADMSG for a line
 * that is not text. Outputs are written only when 1 is returned. */
int audit_rule_parse(const char *line, size_t len, char **rule, char **key);
