/* An empty root directory for fuzz targets whose parsers may open files (Include): created
 * once per process and removed at exit. */
#pragma once

#include "inventory/inventory.h"

#include <unistd.h>

static char fuzz_empty_root_dir[] = "/tmp/immune-fuzz-XXXXXX";

static void fuzz_empty_root_remove(void)
{
	rmdir(fuzz_empty_root_dir);
}

static struct fsroot *fuzz_empty_root(void)
{
	static struct fsroot *root;
	if (!root) {
		if (!mkdtemp(fuzz_empty_root_dir) || fsroot_new(fuzz_empty_root_dir, &root) < 0)
			abort();
		atexit(fuzz_empty_root_remove);
	}
	return root;
}
