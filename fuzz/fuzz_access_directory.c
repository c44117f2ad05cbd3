/* Fuzzes the directory importer in each of its formats. */
#include "access/directory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	if (size > 262144)
		return 0;
	for (int f = DIRECTORY_AUTO; f <= DIRECTORY_CSV; f++) {
		struct directory *d = NULL;
		if (directory_parse("fuzz", (const char *)data, size, (enum directory_format)f, &d,
				    err, sizeof(err)) == 0)
			directory_free(d);
	}
	return 0;
}
