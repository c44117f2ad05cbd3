/* Fuzzes the RPM header parser over raw header blobs (as stored in rpmdb.sqlite). */
#include "inventory/rpmheader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpm_pkg p;
	if (rpmheader_parse(data, size, &p) == 0)
		rpm_pkg_clear(&p);
	return 0;
}
