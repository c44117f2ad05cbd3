/* Benchmark of the file system walk (special_files + walk tables) on this host's "/", against
 * find(1) in the same run. Prints the median wall time, CPU time and entries per second of
 * RUNS warm walks for 1, 2, 3 and 4 threads, then the same for
 * `find / -xdev -perm /6000 -type f` and `find / -xdev`.
 *
 *   build/bench/bench_walk [runs]        (run as root for a complete walk) */
#include "inventory/inventory.h"
#include "inventory/walk.h"
#include "lib/str.h"

#include <sys/resource.h>
#include <time.h>

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int run_walk(int runs, int threads)
{
	double wall[64], cpus[64];
	int64_t files = 0, rows = 0;
	char env[8];

	snprintf(env, sizeof(env), "%d", threads);
	setenv("IMMUNE_WALK_THREADS", env, 1);
	for (int i = 0; i < runs; i++) {
		struct inv_options opt = { .only_table = "special_files" };
		struct inventory *inv;
		double t0 = now(), c0 = cpu(RUSAGE_SELF);
		if (inventory_collect("/", &opt, &inv) < 0)
			return -1;
		wall[i] = now() - t0;
		cpus[i] = cpu(RUSAGE_SELF) - c0;
		json_t *w = json_array_get(inventory_rows(inv, "walk"), 0);
		files = json_integer_value(json_object_get(w, "files"));
		rows = (int64_t)json_array_size(inventory_rows(inv, "special_files"));
		inventory_free(inv);
	}
	double mw = median(wall, runs), mc = median(cpus, runs);
	printf("walk %d thread%s  wall median %.3f s (min %.3f)  cpu %.3f s  %lld entries  "
	       "%.0f entries/s  %lld rows\n",
	       threads, threads > 1 ? "s" : " ", mw, wall[0], mc, (long long)files,
	       (double)files / mw, (long long)rows);
	return 0;
}

static void run_tool(int runs, const char *cmd)
{
	double wall[64], cpus[64];
	for (int i = 0; i < runs; i++) {
		double t0 = now(), c0 = cpu(RUSAGE_CHILDREN);
		int r = system(cmd); /* find exits 1 on unreadable entries: timed all the same */
		(void)r;
		wall[i] = now() - t0;
		cpus[i] = cpu(RUSAGE_CHILDREN) - c0;
	}
	double mw = median(wall, runs);
	printf("%-40s wall median %.3f s (min %.3f)  cpu %.3f s\n", cmd, mw, wall[0],
	       median(cpus, runs));
}

int main(int argc, char **argv)
{
	int64_t runs = 5;
	if (argc > 1 && parse_i64(argv[1], 1, 64, &runs) < 0) {
		fprintf(stderr, "usage: bench_walk [runs 1-64]\n");
		return 2;
	}
	run_walk(1, 2); /* warm the caches */
	for (int t = 1; t <= 4; t++)
		if (run_walk((int)runs, t) < 0)
			return 1;
	run_tool((int)runs, "find / -xdev -perm /6000 -type f >/dev/null 2>&1");
	run_tool((int)runs, "find / -xdev >/dev/null 2>&1");
	return 0;
}
