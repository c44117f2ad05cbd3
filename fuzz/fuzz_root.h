/* A private root directory for fuzz targets whose parser reads files through fsroot: created
 * once per process (mkdtemp, in /dev/shm when possible), removed at exit. Each input is written into it as a file, then
 * the collector runs over the root through inventory_collect(). */
#pragma once

#include "inventory/inventory.h"

#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_ROOT_FILES 8

static char fuzz_root_dir[64];
static char *fuzz_root_paths[FUZZ_ROOT_FILES];
static bool fuzz_root_ready;

static const char *const *fuzz_root_dirs;

static void fuzz_root_cleanup(void)
{
	size_t n = 0;
	for (size_t i = 0; i < FUZZ_ROOT_FILES && fuzz_root_paths[i]; i++) {
		unlink(fuzz_root_paths[i]);
		free(fuzz_root_paths[i]);
	}
	while (fuzz_root_dirs && fuzz_root_dirs[n])
		n++;
	while (n--) {
		char *p = xasprintf("%s/%s", fuzz_root_dir, fuzz_root_dirs[n]);
		rmdir(p);
		free(p);
	}
	rmdir(fuzz_root_dir);
}

/* Returns the root, creating it and the directories dirs (NULL-terminated, parents first). */
static const char *fuzz_root(const char *const *dirs)
{
	if (!fuzz_root_ready) {
		/* tmpfs when there is one: fuzzing rewrites these files thousands of times. */
		snprintf(fuzz_root_dir, sizeof(fuzz_root_dir), "/dev/shm/immune-fuzz-XXXXXX");
		if (!mkdtemp(fuzz_root_dir)) {
			snprintf(fuzz_root_dir, sizeof(fuzz_root_dir), "/tmp/immune-fuzz-XXXXXX");
			if (!mkdtemp(fuzz_root_dir))
				abort();
		}
		for (size_t i = 0; dirs && dirs[i]; i++) {
			char *p = xasprintf("%s/%s", fuzz_root_dir, dirs[i]);
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				abort();
			free(p);
		}
		fuzz_root_dirs = dirs;
		atexit(fuzz_root_cleanup);
		fuzz_root_ready = true;
	}
	return fuzz_root_dir;
}

/* Writes data as the file rel below the root (rel's directory must exist). */
static void fuzz_root_write(const char *rel, const uint8_t *data, size_t size)
{
	char *p = xasprintf("%s/%s", fuzz_root_dir, rel);
	/* A new file each time: rewriting one in place makes ext4 flush it on close. */
	unlink(p);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	size_t i;
	for (i = 0; i < FUZZ_ROOT_FILES && fuzz_root_paths[i]; i++)
		if (strcmp(fuzz_root_paths[i], p) == 0)
			break;
	if (i < FUZZ_ROOT_FILES && !fuzz_root_paths[i])
		fuzz_root_paths[i] = p;
	else
		free(p);
}

/* Collects only table over the root; the inventory must validate against the schema. */
static void fuzz_root_collect(const char *table)
{
	struct inv_options opt = { .only_table = table, .skip_walk = true };
	struct inventory *inv;
	char msg[256];
	if (inventory_collect(fuzz_root_dir, &opt, &inv) < 0)
		abort();
	if (inventory_validate(inv, msg, sizeof(msg)) < 0)
		abort();
	inventory_free(inv);
}
