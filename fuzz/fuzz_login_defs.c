/* Fuzzes the key/value readers: the input is /etc/login.defs ("KEY value") and
 * /etc/security/pwquality.conf ("key = value") of a private root. */
#include "fuzz_root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const dirs[] = { "etc", "etc/security", NULL };
	fuzz_root(dirs);
	fuzz_root_write("etc/login.defs", data, size);
	fuzz_root_write("etc/security/pwquality.conf", data, size);
	fuzz_root_collect("login_defs");
	fuzz_root_collect("pwquality");
	return 0;
}
