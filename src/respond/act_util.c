/* Helpers shared by the action implementations (act.h). */
#include "respond/act.h"

#include <stdarg.h>

enum act_status act_set(struct act_result *res, enum act_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	res->status = status;
	return status;
}
