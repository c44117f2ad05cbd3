/* Fuzzes the YAML tree builder, which every YAML parser (catalog, rules) goes through. */
#include "lib/ytree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ynode **docs;
	size_t n;
	struct yerror err;

	if (ytree_parse_stream((const char *)data, size, &docs, &n, &err) == 0)
		ytree_free_docs(docs, n);
	return 0;
}
