/* Fuzzes the account database parsers: the input is written as /etc/passwd, /etc/shadow,
 * /etc/group and /etc/gshadow of a private root, then the users/shadow/groups/duplicates
 * collector runs over it. */
#include "fuzz_root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const dirs[] = { "etc", NULL };
	static const char *const files[] = { "etc/passwd", "etc/shadow", "etc/group",
					     "etc/gshadow" };
	fuzz_root(dirs);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		fuzz_root_write(files[i], data, size);
	fuzz_root_collect("users");
	return 0;
}
