/* The JSON report: the scan document itself. */
#include "policy/report.h"

int report_write_json(const json_t *scan, FILE *out, const struct report_options *opt)
{
	if (json_dumpf(scan, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) <
		    0 ||
	    fputc('\n', out) == EOF || fflush(out) == EOF || ferror(out))
		return -EIO;
	return 0;
}
