/* Fuzzes the modprobe.d file parser. */
#include "fuzz_empty_root.h"
#include "inventory/parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inv_ctx ctx = { .root = fuzz_empty_root(), .tables = json_object() };
	modprobe_parse_buffer(&ctx, "/etc/modprobe.d/fuzz.conf", (const char *)data, size);
	json_decref(ctx.tables);
	return 0;
}
