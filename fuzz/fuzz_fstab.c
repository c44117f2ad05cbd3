/* Fuzzes the fstab parser behind the mounts collector. */
#include "inventory/collectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inv_ctx ctx = { .tables = json_object() };

	inv_parse_fstab(&ctx, "/etc/fstab", "fstab", (const char *)data, size);
	json_decref(ctx.tables);
	return 0;
}
