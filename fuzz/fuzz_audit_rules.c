/* Fuzzes the audit rule line parser with every line of the input. */
#include "inventory/audit.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c;
	const char *line;
	size_t len;

	cursor_init(&c, data, size);
	while (cursor_get_line(&c, &line, &len) > 0) {
		char *rule, *key;
		if (audit_rule_parse(line, len, &rule, &key) == 1) {
			free(rule);
			free(key);
		}
	}
	return 0;
}
