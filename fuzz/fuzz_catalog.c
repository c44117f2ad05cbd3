/* Fuzzes the catalog loader: YAML, check validation, predicate compilation, regexes. */
#include "policy/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog *cat;
	struct catalog_error err;
	char msg[1024];

	if (catalog_load_buffer("fuzz.yml", (const char *)data, size, &cat, &err) == 0) {
		for (size_t i = 0; i < cat->n; i++)
			free(check_condition_text(cat->checks[i]));
		catalog_free(cat);
	} else
		catalog_error_format(&err, msg, sizeof(msg));
	return 0;
}
