/* Benchmark of the file integrity scan (fim_scan_run, no CPU budget) against sha256sum and
 * AIDE in the same run, over the same files. Prints files, bytes, wall and CPU seconds for:
 *   1. fim_scan, first pass (reads whatever is not cached yet),
 *   2. fim_scan again (page cache warm; the figure compared),
 *   3. `xargs -0 sha256sum` over the regular files fim_scan hashed (one process at a time),
 *   4. `xargs -0 -P THREADS sha256sum` over the same list,
 *   5. `aide --init` with a temporary aide.conf selecting DIR with the sha256 attribute only.
 * Then checks that sha256sum's hashes equal fim_scan's for every file.
 *
 *   build/bench/fim [DIR (default /usr)] [THREADS (default: online CPUs)]
 *
 * With --budget PCT, runs only the budgeted scan (one thread, as the sensor's scan thread
 * does) and prints its CPU time as a share of its wall time:
 *
 *   build/bench/fim --budget 10 [DIR] */
#include "detect/fim_scan.h"
#include "lib/fileio.h"

#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(int who)
{
	struct rusage u;
	getrusage(who, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void row(const char *name, uint64_t files, uint64_t bytes, double wall, double cpus)
{
	printf("%-34s %8llu %8.0f %8.2f %8.2f %8.0f\n", name, (unsigned long long)files,
	       (double)bytes / 1e6, wall, cpus, wall > 0 ? (double)bytes / 1e6 / wall : 0.0);
	fflush(stdout);
}

static struct fim_scan *run_fim(const char *name, const char *dir, unsigned threads,
				uint64_t *files, uint64_t *bytes)
{
	const char *paths[] = { dir, NULL };
	struct fim_scan_opts o = { .paths = paths, .threads = threads, .size_cap = UINT64_MAX };
	struct fim_scan *s;
	double w0 = now(), c0 = cpu(RUSAGE_SELF);
	int r = fim_scan_run(&o, &s);
	double w = now() - w0, c = cpu(RUSAGE_SELF) - c0;
	if (r < 0) {
		fprintf(stderr, "fim_scan_run %s: %s\n", dir, strerror(-r));
		exit(1);
	}
	*files = 0;
	for (size_t i = 0; i < fim_scan_count(s); i++) {
		const struct fim_entry *e = fim_scan_file(s, i);
		if (S_ISREG(e->mode) && (e->flags & FIM_F_HASHED))
			(*files)++;
	}
	*bytes = fim_scan_bytes(s);
	row(name, *files, *bytes, w, c);
	return s;
}

static void run_tool(const char *name, const char *cmd, uint64_t files, uint64_t bytes)
{
	double w0 = now(), c0 = cpu(RUSAGE_CHILDREN);
	int r = system(cmd);
	double w = now() - w0, c = cpu(RUSAGE_CHILDREN) - c0;
	if (r != 0)
		fprintf(stderr, "%s: exit status %d (timed all the same)\n", name, r);
	row(name, files, bytes, w, c);
}

struct hashed {
	const char *path;
	const uint8_t *sha;
};

static int cmp_hashed(const void *a, const void *b)
{
	return strcmp(((const struct hashed *)a)->path, ((const struct hashed *)b)->path);
}

/* Compares sha256sum's output file with the scan. */
static void check(const struct fim_scan *s, const char *out)
{
	size_t n = 0;
	struct hashed *v = xcalloc(fim_scan_count(s) + 1, sizeof(*v));
	for (size_t i = 0; i < fim_scan_count(s); i++) {
		const struct fim_entry *e = fim_scan_file(s, i);
		if (S_ISREG(e->mode) && (e->flags & FIM_F_HASHED))
			v[n++] = (struct hashed){ e->path, e->sha256 };
	}
	qsort(v, n, sizeof(*v), cmp_hashed);
	FILE *f = fopen(out, "r");
	char *line = NULL;
	size_t cap = 0;
	uint64_t same = 0, differ = 0, other = 0;
	ssize_t len;
	while (f && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len < 66 || line[0] == '\\') { /* escaped names: not compared */
			other++;
			continue;
		}
		struct hashed key = { line + 66, NULL }, *hit;
		char hex[65];
		hit = bsearch(&key, v, n, sizeof(*v), cmp_hashed);
		if (!hit) {
			other++;
			continue;
		}
		fim_sha256_hex(hit->sha, hex);
		if (strncmp(hex, line, 64) == 0)
			same++;
		else
			differ++;
	}
	if (f)
		fclose(f);
	free(line);
	free(v);
	printf("sha256sum vs fim_scan: %llu equal, %llu different (changed in between), %llu "
	       "not compared\n",
	       (unsigned long long)same, (unsigned long long)differ, (unsigned long long)other);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int run_budget(unsigned pct, const char *dir)
{
	const char *paths[] = { dir, NULL };
	struct fim_scan_opts o = { .paths = paths, .cpu_percent = pct, .size_cap = UINT64_MAX };
	struct fim_scan *s;
	double w0 = now(), c0 = cpu(RUSAGE_SELF);
	int r = fim_scan_run(&o, &s);
	double w = now() - w0, c = cpu(RUSAGE_SELF) - c0;
	if (r < 0) {
		fprintf(stderr, "fim_scan_run %s: %s\n", dir, strerror(-r));
		return 1;
	}
	printf("fim_scan over %s with a budget of %u%% of one core: %zu files, %.0f MB, "
	       "wall %.2f s, cpu %.2f s (%.1f%%)\n",
	       dir, pct, fim_scan_count(s), (double)fim_scan_bytes(s) / 1e6, w, c,
	       w > 0 ? 100 * c / w : 0.0);
	fim_scan_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--budget") == 0)
		return run_budget((unsigned)strtoul(argv[2], NULL, 10),
				  argc > 3 ? argv[3] : "/usr");
	const char *dir = argc > 1 ? argv[1] : "/usr";
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads =
		argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)(nproc > 0 ? nproc : 1);
	char tmpl[] = "/tmp/immune-bench-fim.XXXXXX";
	char *tmp = mkdtemp(tmpl);
	uint64_t files, bytes;

	if (!tmp || dir[0] != '/' || strchr(dir, '\'') || threads == 0)
		return 2;
	printf("fim_scan over %s, %u threads; sha256sum and aide --init over the same files\n", dir,
	       threads);
	printf("%-34s %8s %8s %8s %8s %8s\n", "", "files", "MB", "wall_s", "cpu_s", "MB/s");
	fim_scan_free(run_fim("fim_scan (first pass)", dir, threads, &files, &bytes));
	struct fim_scan *s = run_fim("fim_scan", dir, threads, &files, &bytes);

	/* The regular files fim_scan hashed, NUL-separated, for xargs -0. */
	_cleanup_free_ char *list = xasprintf("%s/files", tmp);
	FILE *f = fopen(list, "w");
	if (!f)
		return 1;
	for (size_t i = 0; i < fim_scan_count(s); i++) {
		const struct fim_entry *e = fim_scan_file(s, i);
		if (S_ISREG(e->mode) && (e->flags & FIM_F_HASHED))
			fwrite(e->path, 1, strlen(e->path) + 1, f);
	}
	fclose(f);

	_cleanup_free_ char *cmd1 =
		xasprintf("xargs -0 sha256sum <'%s' >'%s/sums' 2>/dev/null", list, tmp);
	run_tool("xargs -0 sha256sum", cmd1, files, bytes);
	_cleanup_free_ char *cmd2 =
		xasprintf("xargs -0 -P %u -n 2000 sha256sum <'%s' >/dev/null 2>&1", threads, list);
	_cleanup_free_ char *name2 = xasprintf("xargs -0 -P %u sha256sum", threads);
	run_tool(name2, cmd2, files, bytes);

	_cleanup_free_ char *conf = xasprintf("%s/aide.conf", tmp);
	_cleanup_free_ char *conf_text = xasprintf("database_out=file:%s/aide.db\n"
						   "gzip_dbout=no\n"
						   "report_url=file:/dev/null\n"
						   "%s sha256\n",
						   tmp, dir);
	if (file_write_atomic(conf, conf_text, strlen(conf_text), 0600) < 0)
		return 1;
	_cleanup_free_ char *cmd3 = xasprintf("aide --init -c '%s' >/dev/null 2>&1", conf);
	run_tool("aide --init (sha256)", cmd3, files, bytes);

	_cleanup_free_ char *sums = xasprintf("%s/sums", tmp);
	check(s, sums);
	fim_scan_free(s);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
