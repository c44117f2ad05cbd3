/* Benchmark: the agent's spool.
 *
 * Appends N telemetry-like records of 200 bytes (JSON text with a random hash, as the agent
 * spools events) with the default segment size and durability (fsync on seal), and prints
 * the append rate, the time spent sealing segments (zstd + fsync + rename), the compression
 * ratio of sealed segments, and the rate of reading everything back with spool_next(). Then
 * the same with fsync after every append, for fewer records.
 * Usage: bench_spool [--records N] [--dir DIR]   (DIR: where the temporary spool goes) */
#include "agent/spool.h"
#include "proto/immune.pb-c.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_BYTES 200

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Sums the sizes of the files in dir ending with suffix. */
static uint64_t file_bytes(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);
		struct stat stb;
		char path[8192];

		if (l < sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &stb) == 0)
			n += (uint64_t)stb.st_size;
	}
	closedir(d);
	return n;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const paths[] = { "/usr/bin/ls",	 "/usr/bin/curl", "/usr/sbin/sshd",
				     "/usr/bin/python3", "/bin/sh",	  "/usr/bin/systemctl" };

/* A 200-byte JSON event. */
static void make_payload(char *out, uint64_t i)
{
	int n = snprintf(
		out, RECORD_BYTES + 1,
		"{\"type\":\"exec\",\"host\":\"web-%02u\",\"pid\":%u,\"ppid\":%u,\"uid\":%u,"
		"\"path\":\"%s\",\"sha256\":\"%016llx%016llx\",\"ts\":%llu,\"pad\":\"",
		(unsigned)(i % 16), (unsigned)(1000 + i % 30000), (unsigned)(1 + i % 900),
		(unsigned)(i % 5 ? 1000 : 0), paths[i % ARRAY_SIZE(paths)],
		(unsigned long long)next_rand(), (unsigned long long)next_rand(),
		(unsigned long long)i);
	while (n < RECORD_BYTES - 2)
		out[n++] = 'x';
	out[n++] = '"';
	out[n++] = '}';
}

static int run(const char *base, uint64_t records, bool fsync_each)
{
	char tmpl[4096];
	struct spool_options opt = { .fsync_each = fsync_each };
	struct spool *sp;
	struct spool_stats st;
	struct spool_record rec;
	char payload[RECORD_BYTES + 1];
	double t0, t_append, seal_time = 0, t_read;
	uint64_t seals = 0, read = 0, bytes_before, sealed_raw, sealed_disk;
	char evdir[8192];
	int r;

	snprintf(tmpl, sizeof(tmpl), "%s/bench_spool.XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return -1;
	}
	r = spool_open(tmpl, &opt, &sp);
	if (r < 0) {
		fprintf(stderr, "spool_open: %s\n", strerror(-r));
		return -1;
	}
	t0 = now();
	for (uint64_t i = 1; i <= records; i++) {
		uint64_t seq;
		double a;

		make_payload(payload, i);
		spool_get_stats(sp, &st);
		bytes_before = st.bytes;
		a = now();
		r = spool_append(sp, IMMUNE__V1__STREAM__STREAM_EVENTS,
				 IMMUNE__V1__RECORD_KIND__RECORD_EVENT, (int64_t)i, 0, payload,
				 RECORD_BYTES, &seq);
		if (r < 0) {
			fprintf(stderr, "spool_append: %s\n", strerror(-r));
			return -1;
		}
		spool_get_stats(sp, &st);
		if (st.bytes < bytes_before) {
			/* this append sealed the segment: raw size was everything since the
			 * previous seal */
			seal_time += now() - a;
			seals++;
		}
	}
	t_append = now() - t0;
	spool_get_stats(sp, &st);

	t0 = now();
	while (spool_next(sp, IMMUNE__V1__STREAM__STREAM_EVENTS, &rec) == 1)
		read++;
	t_read = now() - t0;

	/* sealed segments: their raw size is what was appended minus the open segment */
	snprintf(evdir, sizeof(evdir), "%s/events", tmpl);
	sealed_disk = file_bytes(evdir, ".zst");
	sealed_raw = records * (32 + RECORD_BYTES) + 16 * (seals + 1) - file_bytes(evdir, ".open");
	printf("%s, %llu records of %d bytes:\n", fsync_each ? "fsync each append" : "default",
	       (unsigned long long)records, RECORD_BYTES);
	printf("  append: %.0f records/s, %.1f MB/s of payload (%.2f s)\n",
	       (double)records / t_append, (double)records * RECORD_BYTES / t_append / 1e6,
	       t_append);
	if (seals)
		printf("  sealing: %llu segments, %.2f ms each (%.0f%% of append time)\n",
		       (unsigned long long)seals, seal_time / (double)seals * 1e3,
		       seal_time / t_append * 100);
	if (sealed_disk)
		printf("  sealed size: %.1f MB raw -> %.1f MB zstd, ratio %.2f\n",
		       (double)sealed_raw / 1e6, (double)sealed_disk / 1e6,
		       (double)sealed_raw / (double)sealed_disk);
	printf("  on disk: %.1f MB\n", (double)st.bytes / 1e6);
	printf("  read back: %llu records, %.0f records/s, %.1f MB/s (%.2f s)\n",
	       (unsigned long long)read, (double)read / t_read,
	       (double)read * RECORD_BYTES / t_read / 1e6, t_read);
	spool_close(sp);
	nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return read == records ? 0 : -1;
}

int main(int argc, char **argv)
{
	uint64_t records = 500000;
	const char *dir = "/tmp";

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
			records = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "usage: bench_spool [--records N] [--dir DIR]\n");
			return 2;
		}
	}
	if (records == 0)
		records = 1;
	if (run(dir, records, false) < 0)
		return 1;
	if (run(dir, records / 500 ? records / 500 : 1, true) < 0)
		return 1;
	return 0;
}
