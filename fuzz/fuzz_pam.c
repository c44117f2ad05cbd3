/* Fuzzes the PAM stack parser: the input is /etc/pam.d/login of a private root. */
#include "fuzz_root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const dirs[] = { "etc", "etc/pam.d", NULL };
	fuzz_root(dirs);
	fuzz_root_write("etc/pam.d/login", data, size);
	fuzz_root_collect("pam");
	return 0;
}
