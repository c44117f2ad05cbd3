/* Strict duration parsing (see duration.h). */
#include "server/duration.h"

static int64_t unit_seconds(char u)
{
	switch (u) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	default: return 0;
	}
}

int duration_parse(const char *s, int64_t max_s, int64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	int64_t v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (INT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -EINVAL;
	int64_t mul = 1;
	if (s[i]) {
		mul = unit_seconds(s[i]);
		if (!mul || s[i + 1])
			return -EINVAL;
	}
	if (v > max_s / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}
