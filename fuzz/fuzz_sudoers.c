/* Fuzzes the sudoers parser: the input is /etc/sudoers of a private root (and also the one
 * file of /etc/sudoers.d, so include directives in the input find something to include,
 * including themselves). */
#include "fuzz_root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const dirs[] = { "etc", "etc/sudoers.d", NULL };
	fuzz_root(dirs);
	fuzz_root_write("etc/sudoers", data, size);
	fuzz_root_write("etc/sudoers.d/local", data, size);
	fuzz_root_collect("sudoers");
	return 0;
}
