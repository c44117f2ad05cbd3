/* Fuzzes the sshd_config parser (keywords, quoting, Match, Include). */
#include "fuzz_empty_root.h"
#include "inventory/parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inv_ctx ctx = { .root = fuzz_empty_root(), .tables = json_object() };
	sshd_config_parse_buffer(&ctx, "/etc/ssh/sshd_config", (const char *)data, size);
	json_decref(ctx.tables);
	return 0;
}
