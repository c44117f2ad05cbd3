/* Durations on the command line: a whole number followed by one unit, s, m, h or d
 * ("90s", "24h", "30d"); a bare number is seconds. Nothing else is accepted. */
#pragma once

#include "lib/common.h"

/* Parses s into seconds in [0, max_s]. Returns 0, -EINVAL (not a duration) or -ERANGE. */
int duration_parse(const char *s, int64_t max_s, int64_t *out);
