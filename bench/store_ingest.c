/* Benchmark: the store's ingest path (src/store, SQLite backend).
 *
 * Enrolls H hosts, then a producer thread submits batches of 256 event records of ~150
 * bytes, round-robin over the hosts, as fast as the queue accepts while keeping at most
 * --inflight MiB queued. Prints the records committed per second, transactions per second,
 * the latency from submit to the done callback (p50, p99, max) and the database size.
 * Usage: store_ingest [--dir DIR] [--records N] [--hosts H] [--batch B] [--inflight MIB] */
#include "lib/common.h"
#include "proto/immune.pb-c.h"
#include "store/store.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD_LEN 200

struct bench {
	struct store *st;
	char **hosts;
	size_t n_hosts, batch, n_batches;
	size_t inflight;
	int64_t *submit_ns;
	int64_t *latency_ns;
	_Atomic size_t done;
	_Atomic size_t failed;
	double producer_cpu_s;
	size_t payload_bytes;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_done(struct store_batch *b, int result, uint64_t committed, void *userdata)
{
	struct bench *bn = b->userdata;
	size_t i = (size_t)(uintptr_t)b->records[0].time_ns; /* batch index, see below */

	(void)userdata;
	bn->latency_ns[i] = now_ns() - bn->submit_ns[i];
	if (result < 0)
		atomic_fetch_add(&bn->failed, 1);
	atomic_fetch_add(&bn->done, 1);
}

static void *producer(void *arg)
{
	struct bench *bn = arg;
	uint64_t *seq = xcalloc(bn->n_hosts, sizeof(*seq));
	char payload[PAYLOAD_LEN];
	size_t i, j;

	for (i = 0; i < bn->n_batches; i++) {
		size_t h = i % bn->n_hosts;
		struct store_batch *b =
			store_batch_new(bn->hosts[h], IMMUNE__V1__STREAM__STREAM_EVENTS, bn->batch);

		for (j = 0; j < bn->batch; j++) {
			int n = snprintf(
				payload, sizeof(payload),
				"{\"type\":\"process_exec\",\"pid\":%zu,\"ppid\":1,\"uid\":1000,"
				"\"exe\":\"/usr/bin/"
				"curl\",\"comm\":\"curl\",\"args\":[\"curl\",\"-s\",\"https://"
				"example.org/%zu\"],\"cwd\":\"/home/u\"}",
				i * bn->batch + j, j);

			seq[h]++;
			bn->payload_bytes +=
				(size_t)n < sizeof(payload) ? (size_t)n : sizeof(payload) - 1;
			/* time_ns of the first record carries the batch index for on_done */
			store_batch_set(b, j, seq[h], IMMUNE__V1__RECORD_KIND__RECORD_EVENT,
					j == 0 ? (int64_t)i : (int64_t)seq[h],
					IMMUNE__V1__ENCODING__ENCODING_RAW, payload,
					(size_t)n < sizeof(payload) ? (size_t)n
								    : sizeof(payload) - 1);
		}
		b->done = on_done;
		b->userdata = bn;
		while (store_ingest_queued_bytes(bn->st) > bn->inflight)
			usleep(200);
		bn->submit_ns[i] = now_ns();
		if (store_ingest_submit(bn->st, b) < 0)
			abort();
	}
	free(seq);
	{
		struct timespec ts;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		bn->producer_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double load_avg(void)
{
	double l[1] = { 0 };

	return getloadavg(l, 1) == 1 ? l[0] : 0.0;
}

/* Sums the CPU seconds of this process's threads called name (the store names its threads). */
static double thread_cpu(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	double total = 0;
	long hz = sysconf(_SC_CLK_TCK);

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], comm[64] = "", stat[1024];
		unsigned long long ut = 0, st = 0;
		FILE *f;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(stat, sizeof(stat), f) && (p = strrchr(stat, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			   &st) == 2)
			total += (double)(ut + st) / (double)hz;
		fclose(f);
	}
	closedir(d);
	return total;
}

static long long file_size(const char *path)
{
	struct stat s;

	return stat(path, &s) == 0 ? (long long)s.st_size : 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	size_t records = 5000000, n_hosts = 100, batch = 256, inflight_mib = 64, i;
	char tmpl[] = "/tmp/store-bench-XXXXXX", path[4096], wal[4200];
	struct bench bn = { 0 };
	struct store_stats stats;
	pthread_t th;
	int64_t t0, t1, *lat;
	double secs, cpu, writer_cpu, ckpt_cpu;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--dir") == 0 && a + 1 < argc)
			dir = argv[++a];
		else if (strcmp(argv[a], "--records") == 0 && a + 1 < argc)
			records = strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--hosts") == 0 && a + 1 < argc)
			n_hosts = strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--batch") == 0 && a + 1 < argc)
			batch = strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--inflight") == 0 && a + 1 < argc)
			inflight_mib = strtoull(argv[++a], NULL, 10);
		else {
			fprintf(stderr, "usage: store_ingest [--dir DIR] [--records N] [--hosts H]"
					" [--batch B] [--inflight MIB]\n");
			return 2;
		}
	}
	if (!n_hosts || !batch)
		return 2;
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/store.db", dir);
	snprintf(wal, sizeof(wal), "sqlite:%s", path);
	if (store_open(wal, &bn.st) < 0) {
		fprintf(stderr, "store_open %s failed\n", path);
		return 2;
	}
	bn.n_hosts = n_hosts;
	bn.batch = batch;
	bn.n_batches = (records + batch - 1) / batch;
	bn.inflight = inflight_mib << 20;
	bn.hosts = xcalloc(n_hosts, sizeof(*bn.hosts));
	bn.submit_ns = xcalloc(bn.n_batches, sizeof(int64_t));
	bn.latency_ns = xcalloc(bn.n_batches, sizeof(int64_t));
	for (i = 0; i < n_hosts; i++) {
		char machine[64];

		snprintf(machine, sizeof(machine), "bench-machine-%zu", i);
		if (store_host_enroll(bn.st, machine, machine, NULL, 0, "01", 0, time(NULL),
				      &bn.hosts[i]) < 0)
			return 2;
	}

	t0 = now_ns();
	pthread_create(&th, NULL, producer, &bn);
	pthread_join(th, NULL);
	while (atomic_load(&bn.done) < bn.n_batches)
		usleep(1000);
	t1 = now_ns();
	store_get_stats(bn.st, &stats);
	writer_cpu = thread_cpu("store-writer");
	ckpt_cpu = thread_cpu("store-ckpt");
	store_close(bn.st);

	secs = (double)(t1 - t0) / 1e9;
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	}
	lat = bn.latency_ns;
	qsort(lat, bn.n_batches, sizeof(*lat), cmp_i64);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	printf("store_ingest: %zu hosts, %zu records in batches of %zu (%.0f-byte payloads on "
	       "average), at most %zu MiB in flight\n",
	       n_hosts, bn.n_batches * batch, batch,
	       (double)bn.payload_bytes / (double)(bn.n_batches * batch), inflight_mib);
	printf("  committed:    %.0f records/s (%llu records in %.2f s), %llu failed batches\n",
	       (double)stats.records / secs, (unsigned long long)stats.records, secs,
	       (unsigned long long)atomic_load(&bn.failed));
	printf("  transactions: %.1f/s (%llu, %.0f records each)\n",
	       (double)stats.transactions / secs, (unsigned long long)stats.transactions,
	       stats.transactions ? (double)stats.records / (double)stats.transactions : 0.0);
	printf("  ack latency:  p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
	       lat[bn.n_batches / 2] / 1e6, lat[bn.n_batches * 99 / 100] / 1e6,
	       lat[bn.n_batches - 1] / 1e6);
	{
		double per = 1e6 / (double)(stats.records ? stats.records : 1);

		printf("  CPU:          writer thread %.2f us/record, checkpointer %.2f us/record,"
		       " producer %.2f us/record, process %.2f us/record\n",
		       writer_cpu * per, ckpt_cpu * per, bn.producer_cpu_s * per, cpu * per);
		printf("  machine:      %ld CPUs, load average %.1f at the end (other work shares "
		       "them)\n",
		       sysconf(_SC_NPROCESSORS_ONLN), load_avg());
	}
	printf("  database:     %.1f MiB (%.0f bytes/record), WAL %.1f MiB at close\n",
	       file_size(path) / 1048576.0,
	       stats.records ? (double)file_size(path) / (double)stats.records : 0.0,
	       file_size(wal) / 1048576.0);
	for (i = 0; i < n_hosts; i++)
		free(bn.hosts[i]);
	free(bn.hosts);
	free(bn.submit_ns);
	free(bn.latency_ns);
	return 0;
}
