/* Unit tests for the agent's spool: ordering, acknowledgement, recovery from torn and
 * corrupt segments, the size bound with its gap records, and a SIGKILLed writer. */
#include "unit.h"

#include "agent/spool.h"
#include "proto/immune.pb-c.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EV IMMUNE__V1__STREAM__STREAM_EVENTS
#define STATE IMMUNE__V1__STREAM__STREAM_STATE
#define ALERTS IMMUNE__V1__STREAM__STREAM_ALERTS
#define KIND_EVENT IMMUNE__V1__RECORD_KIND__RECORD_EVENT
#define KIND_GAP IMMUNE__V1__RECORD_KIND__RECORD_GAP

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/test_spool.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return xasprintf("%s/spool", d);
}

static void remove_dir(char *spooldir)
{
	char *parent = xstrdup(spooldir);

	*strrchr(parent, '/') = '\0';
	assert_int_equal(nftw(parent, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(parent);
	free(spooldir);
}

/* Counts files in dir/stream whose names end with suffix. */
static int count_files(const char *dir, const char *stream, const char *suffix)
{
	char *path = xasprintf("%s/%s", dir, stream);
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), s = strlen(suffix);
		if (l >= s && strcmp(de->d_name + l - s, suffix) == 0)
			n++;
	}
	closedir(d);
	free(path);
	return n;
}

/* Path of the first file in dir/stream ending with suffix (lowest name). */
static char *first_file(const char *dir, const char *stream, const char *suffix, int nth)
{
	char *path = xasprintf("%s/%s", dir, stream);
	struct dirent **list;
	char *found = NULL;
	int n = scandir(path, &list, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(list[i]->d_name), s = strlen(suffix);
		if (!found && l >= s && strcmp(list[i]->d_name + l - s, suffix) == 0 && nth-- == 0)
			found = xasprintf("%s/%s", path, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	free(path);
	assert_non_null(found);
	return found;
}

static size_t payload_for(uint64_t seq, char *out, size_t cap)
{
	int n = snprintf(out, cap, "{\"seq\":%llu,\"host\":\"web-01\",\"pad\":\"%0*llu\"}",
			 (unsigned long long)seq, (int)(seq % 40) + 10, (unsigned long long)seq);
	return (size_t)n;
}

static uint64_t append_one(struct spool *sp, uint32_t stream, uint64_t tag)
{
	char p[256];
	size_t n = payload_for(tag, p, sizeof(p));
	uint64_t seq = 0;

	assert_int_equal(spool_append(sp, stream, KIND_EVENT, (int64_t)tag * 1000, 0, p, n, &seq),
			 0);
	return seq;
}

static void expect_record(struct spool *sp, uint32_t stream, uint64_t seq, uint64_t tag)
{
	struct spool_record rec;
	char p[256];
	size_t n = payload_for(tag, p, sizeof(p));

	assert_int_equal(spool_next(sp, stream, &rec), 1);
	assert_int_equal(rec.seq, seq);
	assert_int_equal(rec.kind, KIND_EVENT);
	assert_int_equal(rec.time_ns, (int64_t)tag * 1000);
	assert_int_equal(rec.len, n);
	assert_memory_equal(rec.payload, p, n);
}

/* Returns the next gap record, skipping others. */
static Immune__V1__Gap *expect_gap(struct spool *sp, uint32_t stream)
{
	struct spool_record rec;
	Immune__V1__Gap *g;

	do
		assert_int_equal(spool_next(sp, stream, &rec), 1);
	while (rec.kind != KIND_GAP);
	g = immune__v1__gap__unpack(NULL, rec.len, rec.payload);
	assert_non_null(g);
	return g;
}

static void test_append_next_ack_reopen(void **state)
{
	char *dir = make_dir();
	struct spool *sp;
	struct spool_record rec;
	struct spool_stats stats;
	char big[1];

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(append_one(sp, EV, i), i);
	assert_int_equal(append_one(sp, STATE, 100), 1);
	assert_int_equal(append_one(sp, ALERTS, 200), 1);
	assert_int_equal(spool_append(sp, EV, 1, 0, 0, big, SPOOL_MAX_RECORD + 1, &stats.bytes),
			 -EMSGSIZE);
	assert_int_equal(spool_append(sp, 3, 1, 0, 0, big, 1, &stats.bytes), -EINVAL);

	for (uint64_t i = 1; i <= 3; i++)
		expect_record(sp, EV, i, i);
	assert_int_equal(spool_next(sp, EV, &rec), 0);
	expect_record(sp, STATE, 1, 100);
	assert_int_equal(spool_next(sp, STATE, &rec), 0);
	expect_record(sp, ALERTS, 1, 200);

	assert_int_equal(spool_ack(sp, EV, 2), 0);
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.acked[EV], 2);
	assert_int_equal(stats.next_seq[EV], 4);
	assert_int_equal(stats.records, 3);
	assert_int_equal(spool_sync(sp), 0);
	spool_close(sp);

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.acked[EV], 2);
	assert_int_equal(stats.next_seq[EV], 4);
	assert_int_equal(stats.next_seq[STATE], 2);
	expect_record(sp, EV, 3, 3);
	assert_int_equal(spool_next(sp, EV, &rec), 0);
	assert_int_equal(append_one(sp, EV, 4), 4);
	expect_record(sp, EV, 4, 4);
	expect_record(sp, STATE, 1, 100);
	spool_close(sp);
	remove_dir(dir);
}

static void test_rewind(void **state)
{
	char *dir = make_dir();
	struct spool *sp;
	struct spool_record rec;

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 5; i++)
		append_one(sp, ALERTS, i);
	for (uint64_t i = 1; i <= 3; i++)
		expect_record(sp, ALERTS, i, i);
	spool_rewind(sp, ALERTS);
	for (uint64_t i = 1; i <= 5; i++)
		expect_record(sp, ALERTS, i, i);
	assert_int_equal(spool_next(sp, ALERTS, &rec), 0);
	assert_int_equal(spool_ack(sp, ALERTS, 2), 0);
	spool_rewind(sp, ALERTS);
	expect_record(sp, ALERTS, 3, 3);
	/* an acknowledgement beyond the send position moves it forward */
	assert_int_equal(spool_ack(sp, ALERTS, 4), 0);
	expect_record(sp, ALERTS, 5, 5);
	spool_close(sp);
	remove_dir(dir);
}

static void test_many_segments(void **state)
{
	char *dir = make_dir();
	struct spool_options opt = { .segment_bytes = 1024 };
	struct spool *sp;
	struct spool_record rec;
	struct spool_stats stats;
	const uint64_t n = 600;

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	for (uint64_t i = 1; i <= n; i++) {
		assert_int_equal(append_one(sp, STATE, i), i);
		if (i % 97 == 0) /* reads interleaved with appends and seals */
			for (uint64_t j = i - 96; j <= i; j++)
				expect_record(sp, STATE, j, j);
	}
	assert_true(count_files(dir, "state", ".zst") > 20);
	assert_int_equal(count_files(dir, "state", ".open"), 1);
	for (uint64_t j = n - n % 97 + 1; j <= n; j++)
		expect_record(sp, STATE, j, j);
	assert_int_equal(spool_next(sp, STATE, &rec), 0);
	spool_close(sp);

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	for (uint64_t i = 1; i <= n; i++)
		expect_record(sp, STATE, i, i);
	assert_int_equal(spool_next(sp, STATE, &rec), 0);
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.next_seq[STATE], n + 1);
	assert_int_equal(stats.records, n);
	spool_close(sp);
	remove_dir(dir);
}

static void test_ack_deletes(void **state)
{
	char *dir = make_dir();
	struct spool_options opt = { .segment_bytes = 1024 };
	struct spool *sp;
	struct spool_record rec;
	struct spool_stats stats;
	int before, after;

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	for (uint64_t i = 1; i <= 200; i++)
		append_one(sp, EV, i);
	before = count_files(dir, "events", ".zst");
	assert_int_equal(spool_ack(sp, EV, 100), 0);
	after = count_files(dir, "events", ".zst");
	assert_true(after < before);
	assert_true(after > 0);
	spool_close(sp);

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.acked[EV], 100);
	expect_record(sp, EV, 101, 101);
	/* everything acknowledged: only the empty open segment is left */
	assert_int_equal(spool_ack(sp, EV, 200), 0);
	assert_int_equal(spool_next(sp, EV, &rec), 0);
	assert_int_equal(count_files(dir, "events", ".zst"), 0);
	assert_int_equal(count_files(dir, "events", ".open"), 1);
	assert_int_equal(count_files(dir, "events", ".tmp"), 0);
	/* nothing else is left behind: ".", "..", the open segment and "acked" */
	assert_int_equal(count_files(dir, "events", ""), 4);
	assert_int_equal(count_files(dir, "events", "acked"), 1);
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.records, 0);
	assert_int_equal(append_one(sp, EV, 201), 201);
	spool_close(sp);

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	expect_record(sp, EV, 201, 201);
	spool_close(sp);
	remove_dir(dir);
}

static void test_torn_tail(void **state)
{
	char *dir = make_dir();
	struct spool *sp;
	struct spool_record rec;
	struct spool_stats stats;
	struct stat stb;
	char *open_file;

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 10; i++)
		append_one(sp, EV, i);
	spool_close(sp);

	open_file = first_file(dir, "events", ".open", 0);
	assert_int_equal(stat(open_file, &stb), 0);
	assert_int_equal(truncate(open_file, stb.st_size - 7), 0);
	free(open_file);

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 9; i++)
		expect_record(sp, EV, i, i);
	assert_int_equal(spool_next(sp, EV, &rec), 0);
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.next_seq[EV], 10);
	assert_int_equal(stats.dropped, 0);
	assert_int_equal(append_one(sp, EV, 10), 10);
	expect_record(sp, EV, 10, 10);
	spool_close(sp);

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 10; i++)
		expect_record(sp, EV, i, i);
	spool_close(sp);
	remove_dir(dir);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void test_flipped_byte(void **state)
{
	char *dir = make_dir();
	struct spool *sp;
	struct spool_record rec;
	struct spool_stats stats;
	Immune__V1__Gap *g;
	char *open_file;
	off_t off = 16;
	char p[256];

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 10; i++)
		append_one(sp, ALERTS, i);
	spool_close(sp);

	/* a byte inside record 5's payload */
	for (uint64_t i = 1; i <= 4; i++)
		off += 32 + (off_t)payload_for(i, p, sizeof(p));
	open_file = first_file(dir, "alerts", ".open", 0);
	flip_byte(open_file, off + 32 + 3);
	free(open_file);

	assert_int_equal(spool_open(dir, NULL, &sp), 0);
	for (uint64_t i = 1; i <= 4; i++)
		expect_record(sp, ALERTS, i, i);
	/* the rest of the segment is gone, and said so on the same stream */
	g = expect_gap(sp, ALERTS);
	assert_int_equal(g->first_seq, 5);
	assert_true(g->last_seq >= 10);
	assert_int_equal(g->count, g->last_seq - 4);
	immune__v1__gap__free_unpacked(g, NULL);
	assert_int_equal(spool_next(sp, ALERTS, &rec), 0);
	spool_get_stats(sp, &stats);
	assert_true(stats.dropped >= 6);
	assert_int_equal(stats.gaps, 1);
	spool_close(sp);
	remove_dir(dir);
}

static void test_corrupt_sealed(void **state)
{
	char *dir = make_dir();
	struct spool_options opt = { .segment_bytes = 1024 };
	struct spool *sp;
	struct spool_record rec;
	char *zst, *next_zst;
	uint64_t first, next_first, last_seen = 0;
	Immune__V1__Gap *g;
	bool gap_seen = false;

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	for (uint64_t i = 1; i <= 100; i++)
		append_one(sp, EV, i);
	spool_close(sp);

	zst = first_file(dir, "events", ".zst", 2);
	next_zst = first_file(dir, "events", ".zst", 3);
	first = strtoull(strrchr(zst, '/') + 1, NULL, 10);
	next_first = strtoull(strrchr(next_zst, '/') + 1, NULL, 10);
	flip_byte(zst, 20);

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	assert_int_equal(count_files(dir, "events", ".bad"), 1);
	while (spool_next(sp, EV, &rec) == 1) {
		if (rec.kind == KIND_GAP) {
			g = immune__v1__gap__unpack(NULL, rec.len, rec.payload);
			assert_non_null(g);
			assert_int_equal(g->first_seq, first);
			assert_int_equal(g->last_seq, next_first - 1);
			assert_int_equal(g->count, next_first - first);
			assert_int_equal(rec.seq, 101);
			immune__v1__gap__free_unpacked(g, NULL);
			gap_seen = true;
			continue;
		}
		assert_true(rec.seq < first || rec.seq >= next_first);
		assert_true(rec.seq > last_seen);
		last_seen = rec.seq;
	}
	assert_true(gap_seen);
	assert_int_equal(last_seen, 100);
	spool_close(sp);
	free(zst);
	free(next_zst);
	remove_dir(dir);
}

/* Reads the whole events stream and checks that every number below next_seq is a record
 * we appended (intact), a gap record, or inside exactly one gap record's range, whose count
 * (our missing records and the gap records dropped with them) and times match. */
static void check_accounting(struct spool *sp, const uint64_t *ours, uint64_t limit)
{
	struct spool_stats stats;
	struct spool_record rec;
	bool *present, *covered;
	uint64_t next;

	spool_get_stats(sp, &stats);
	next = stats.next_seq[EV];
	assert_true(next <= limit);
	present = xcalloc(next, 1);
	covered = xcalloc(next, 1);
	spool_rewind(sp, EV);
	while (spool_next(sp, EV, &rec) == 1) {
		assert_true(rec.seq < next);
		present[rec.seq] = true;
		if (rec.kind == KIND_GAP) {
			Immune__V1__Gap *g = immune__v1__gap__unpack(NULL, rec.len, rec.payload);
			uint64_t count = 0;
			int64_t tmin = INT64_MAX, tmax = INT64_MIN;

			assert_non_null(g);
			assert_false(ours[rec.seq]);
			assert_true(g->first_seq <= g->last_seq && g->last_seq < rec.seq);
			for (uint64_t s = g->first_seq; s <= g->last_seq; s++) {
				assert_false(covered[s]);
				covered[s] = true;
				if (!ours[s] && !present[s])
					count++; /* a dropped gap record counts itself */
				if (ours[s]) {
					int64_t t = (int64_t)ours[s] * 1000;

					count++;
					if (t < tmin)
						tmin = t;
					if (t > tmax)
						tmax = t;
				}
			}
			assert_int_equal(g->count, count);
			assert_int_equal(g->first_time_ns, tmin);
			assert_int_equal(g->last_time_ns, tmax);
			immune__v1__gap__free_unpacked(g, NULL);
		} else {
			char p[256];
			size_t n = payload_for(ours[rec.seq], p, sizeof(p));

			assert_true(ours[rec.seq]);
			assert_int_equal(rec.time_ns, (int64_t)ours[rec.seq] * 1000);
			assert_int_equal(rec.len, n);
			assert_memory_equal(rec.payload, p, n);
		}
	}
	for (uint64_t s = 1; s < next; s++) {
		assert_false(present[s] && covered[s]);
		assert_true(present[s] || covered[s]);
	}
	free(present);
	free(covered);
}

static void test_full_events_dropped(void **state)
{
	char *dir = make_dir();
	struct spool_options opt = { .segment_bytes = 1024, .max_bytes = 8192 };
	struct spool *sp;
	struct spool_stats stats;
	uint64_t ours[4000] = { 0 };
	Immune__V1__Gap *g;
	uint64_t seq, tag = 0;

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	/* the first drop: an exact gap for the oldest segment */
	for (;;) {
		spool_get_stats(sp, &stats);
		if (stats.gaps > 0)
			break;
		tag++;
		seq = append_one(sp, EV, tag);
		ours[seq] = tag;
		spool_get_stats(sp, &stats);
		assert_true(stats.bytes <= opt.max_bytes);
	}
	assert_true(stats.dropped > 0);
	g = expect_gap(sp, EV);
	assert_int_equal(g->first_seq, 1);
	assert_int_equal(g->last_seq, stats.dropped);
	assert_int_equal(g->count, stats.dropped);
	assert_int_equal(g->first_time_ns, 1000);
	assert_int_equal(g->last_time_ns, (int64_t)stats.dropped * 1000);
	immune__v1__gap__free_unpacked(g, NULL);
	check_accounting(sp, ours, ARRAY_SIZE(ours));

	/* many more: the older gap records are dropped too and merged into newer ones */
	for (int i = 0; i < 1000; i++) {
		spool_get_stats(sp, &stats);
		tag++;
		seq = append_one(sp, EV, tag);
		ours[seq] = tag;
		spool_get_stats(sp, &stats);
		assert_true(stats.bytes <= opt.max_bytes);
	}
	assert_true(stats.gaps > 3);
	check_accounting(sp, ours, ARRAY_SIZE(ours));
	spool_close(sp);

	/* and after a restart */
	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	check_accounting(sp, ours, ARRAY_SIZE(ours));
	spool_close(sp);
	remove_dir(dir);
}

static void test_merge_gaps(void **state)
{
	char *dir = make_dir();
	struct spool_options opt = { .segment_bytes = 1024, .max_bytes = 8192 };
	struct spool *sp;
	struct spool_stats stats;
	struct spool_record rec;
	uint64_t ours[4000] = { 0 };
	Immune__V1__Gap *g;
	uint64_t seq, tag = 0, first_gap_seq = 0, first_gap_last = 0;
	bool found = false, covers_old_record = false;

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	/* append until the first gap record exists, then until it is dropped itself */
	for (int i = 0; i < 3000; i++) {
		tag++;
		seq = append_one(sp, EV, tag);
		ours[seq] = tag;
		spool_get_stats(sp, &stats);
		if (stats.gaps == 1 && !first_gap_seq) {
			first_gap_seq = stats.next_seq[EV] - 1;
			while (ours[first_gap_seq])
				first_gap_seq--;
			spool_rewind(sp, EV);
			g = expect_gap(sp, EV);
			assert_int_equal(g->first_seq, 1);
			first_gap_last = g->last_seq;
			immune__v1__gap__free_unpacked(g, NULL);
		}
		if (first_gap_seq) {
			spool_rewind(sp, EV);
			assert_int_equal(spool_next(sp, EV, &rec), 1);
			if (rec.seq > first_gap_seq)
				break;
		}
	}
	assert_true(first_gap_seq > 0);
	assert_true(rec.seq > first_gap_seq);
	/* the gaps left cover the first gap's range and that record itself (as separate ranges
	 * when the numbers between them are reported by a gap record still spooled) */
	spool_rewind(sp, EV);
	while (spool_next(sp, EV, &rec) == 1) {
		if (rec.kind != KIND_GAP)
			continue;
		g = immune__v1__gap__unpack(NULL, rec.len, rec.payload);
		assert_non_null(g);
		if (g->first_seq == 1) {
			assert_true(g->last_seq >= first_gap_last);
			found = true;
		}
		if (g->first_seq <= first_gap_seq && first_gap_seq <= g->last_seq)
			covers_old_record = true;
		immune__v1__gap__free_unpacked(g, NULL);
	}
	assert_true(found);
	assert_true(covers_old_record);
	check_accounting(sp, ours, ARRAY_SIZE(ours));
	spool_close(sp);
	remove_dir(dir);
}

static void test_alerts_never_dropped(void **state)
{
	char *dir = make_dir();
	struct spool_options opt = { .segment_bytes = 1024, .max_bytes = 8192 };
	struct spool *sp;
	struct spool_stats stats;
	struct spool_record rec;
	uint64_t ours[4000] = { 0 };
	uint64_t alerts = 0, seq, tag = 20;
	char p[256];
	int r;

	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	for (uint64_t i = 1; i <= 20; i++) {
		append_one(sp, EV, i);
		ours[i] = i;
	}
	for (;;) {
		size_t n = payload_for(alerts + 1, p, sizeof(p));
		r = spool_append(sp, ALERTS, KIND_EVENT, (int64_t)(alerts + 1) * 1000, 0, p, n,
				 &seq);
		if (r < 0)
			break;
		assert_int_equal(seq, ++alerts);
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(alerts > 10);
	spool_get_stats(sp, &stats);
	assert_true(stats.bytes <= opt.max_bytes);
	/* the events made room for alerts first */
	assert_true(stats.dropped >= 20);
	/* telemetry now has no room: each append is the one dropped, and accounted */
	for (uint64_t i = 0; i < 5; i++) {
		spool_get_stats(sp, &stats);
		tag++;
		seq = append_one(sp, EV, tag);
		ours[seq] = tag;
	}
	assert_int_equal(spool_append(sp, STATE, 1, 0, 0, p, 10, &seq), -ENOSPC);
	for (uint64_t i = 1; i <= alerts; i++)
		expect_record(sp, ALERTS, i, i);
	assert_int_equal(spool_next(sp, ALERTS, &rec), 0);
	spool_close(sp);

	/* across a restart, and once the server acknowledges the alerts */
	assert_int_equal(spool_open(dir, &opt, &sp), 0);
	for (uint64_t i = 1; i <= alerts; i++)
		expect_record(sp, ALERTS, i, i);
	assert_int_equal(spool_ack(sp, ALERTS, alerts), 0);
	check_accounting(sp, ours, ARRAY_SIZE(ours));
	spool_get_stats(sp, &stats);
	assert_int_equal(stats.gaps, 1); /* the pending gap, written once there was room */
	spool_close(sp);
	remove_dir(dir);
}

/* Appends records 1, 2, ... until killed; tells the parent through ready once record 1 is
 * spooled. */
static void child_writer(const char *dir, const struct spool_options *opt, int ready)
{
	struct spool *sp;

	if (spool_open(dir, opt, &sp) < 0)
		_exit(2);
	for (uint64_t i = 1; i < 10000000; i++) {
		char p[256];
		size_t n = payload_for(i, p, sizeof(p));
		uint64_t seq;

		if (spool_append(sp, EV, KIND_EVENT, (int64_t)i * 1000, 0, p, n, &seq) < 0 ||
		    seq != i)
			_exit(3);
		if (i == 1 && (write(ready, "x", 1) != 1 || close(ready) < 0))
			_exit(4);
	}
	_exit(0);
}

static void test_sigkill(void **state)
{
	struct spool_record rec;
	struct spool_stats stats;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	srand((unsigned)ts.tv_nsec);
	/* large segments: killed while appending; small ones: also while sealing */
	for (int round = 0; round < 6; round++) {
		struct spool_options opt = { .segment_bytes = round < 3 ? 1u << 20 : 4096 };
		char *dir = make_dir();
		struct spool *sp;
		uint64_t k = 0;
		int status, fds[2];
		char c;
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_writer(dir, &opt, fds[1]);
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], &c, 1), 1);
		close(fds[0]);
		ts = (struct timespec){ .tv_nsec = (rand() % 40 + 1) * 1000000L };
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		assert_int_equal(spool_open(dir, &opt, &sp), 0);
		while (spool_next(sp, EV, &rec) == 1) {
			char p[256];
			size_t n = payload_for(rec.seq, p, sizeof(p));

			assert_int_equal(rec.seq, k + 1);
			assert_int_equal(rec.kind, KIND_EVENT);
			assert_int_equal(rec.len, n);
			assert_memory_equal(rec.payload, p, n);
			k++;
		}
		spool_get_stats(sp, &stats);
		assert_int_equal(stats.next_seq[EV], k + 1);
		assert_int_equal(stats.dropped, 0);
		assert_true(k >= 1);
		if (getenv("SPOOL_TEST_VERBOSE"))
			fprintf(stderr, "sigkill round %d: %llu records\n", round,
				(unsigned long long)k);
		assert_int_equal(append_one(sp, EV, k + 1), k + 1);
		spool_close(sp);
		assert_int_equal(count_files(dir, "events", ".tmp"), 0);
		assert_int_equal(count_files(dir, "events", ".open"), 1);
		remove_dir(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_next_ack_reopen),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_many_segments),
		cmocka_unit_test(test_ack_deletes),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_corrupt_sealed),
		cmocka_unit_test(test_full_events_dropped),
		cmocka_unit_test(test_merge_gaps),
		cmocka_unit_test(test_alerts_never_dropped),
		cmocka_unit_test(test_sigkill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
