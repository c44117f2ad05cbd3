/* Fuzzes the crontab parser behind the cron collector. */
#include "inventory/collectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inv_ctx ctx = { .tables = json_object() };

	/* system crontab (user field) and user crontab (no user field) */
	inv_parse_crontab(&ctx, "/etc/crontab", NULL, (const char *)data, size);
	inv_parse_crontab(&ctx, "/var/spool/cron/crontabs/root", "root", (const char *)data, size);
	json_decref(ctx.tables);
	return 0;
}
