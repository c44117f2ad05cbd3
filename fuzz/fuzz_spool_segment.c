/* Fuzzes the spool's segment recovery: the input becomes a segment file in a fresh spool
 * directory, which is then opened, read to the end and appended to.
 * First byte: bit 0 set: the rest is compressed and stored as a sealed ".zst" segment;
 * bit 1 set: the rest is stored as ".zst" as it is (a corrupt or crafted frame); otherwise
 * the rest is the open ".open" segment. Bits 2-3 choose the stream (events, state, alerts). */
#include "agent/spool.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const streams[] = { "events", "state", "alerts" };

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	if (n && write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[4096];
	struct spool_options opt = { .segment_bytes = 4096, .max_bytes = 1u << 20 };
	struct spool *sp;
	struct spool_record rec;
	char *dir, *sdir, *file;
	uint8_t mode;
	uint64_t seq;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	snprintf(tmpl, sizeof(tmpl), "%s/fuzz_spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl))
		abort();
	dir = xasprintf("%s/spool", tmpl);
	sdir = xasprintf("%s/%s", dir, streams[(mode >> 2) % 3]);
	if (mkdir(dir, 0700) < 0 || mkdir(sdir, 0700) < 0)
		abort();
	if (mode & 1) {
		size_t bound = ZSTD_compressBound(size);
		unsigned char *z = xmalloc(bound);
		size_t zn = ZSTD_compress(z, bound, data, size, 1);

		if (ZSTD_isError(zn))
			abort();
		file = xasprintf("%s/00000000000000000001.zst", sdir);
		write_file(file, z, zn);
		free(z);
	} else if (mode & 2) {
		file = xasprintf("%s/00000000000000000001.zst", sdir);
		write_file(file, data, size);
	} else {
		file = xasprintf("%s/00000000000000000001.open", sdir);
		write_file(file, data, size);
	}

	if (spool_open(dir, &opt, &sp) == 0) {
		for (uint32_t s = 0; s < SPOOL_STREAMS; s++) {
			int n = 0;

			while (spool_next(sp, s, &rec) == 1 && n++ < 100000)
				;
		}
		if (spool_append(sp, (mode >> 2) % 3, 1, 0, 0, "x", 1, &seq) == 0) {
			while (spool_next(sp, (mode >> 2) % 3, &rec) == 1)
				;
		}
		spool_close(sp);
	}
	if (nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		abort();
	free(file);
	free(sdir);
	free(dir);
	return 0;
}
