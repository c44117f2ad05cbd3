/* Fuzzes the dpkg status file parser. */
#include "fuzz_empty_root.h"
#include "inventory/parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inv_ctx ctx = { .root = fuzz_empty_root(), .tables = json_object() };
	dpkg_status_parse_buffer(&ctx, "/var/lib/dpkg/status", (const char *)data, size);
	json_decref(ctx.tables);
	return 0;
}
