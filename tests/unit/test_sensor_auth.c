/* The authentication sensor (detect/sensor.h, sensor_auth): a file that appears later,
 * partial lines, rotation by rename, copytruncate, restart with the persisted offset, garbage
 * and over-long lines counted as skipped.
 *
 * Every check ends with a sentinel line: the loop runs until the sentinel arrives, then the
 * whole sequence of events is compared, so nothing depends on how fast the sensor polls. */
#include "unit.h"

#include <event2/event.h>

#include "detect/authlog.h"
#include "detect/sensor.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char log[96];
	char rotated[96];
	struct event_base *base;
	struct sensor_config cfg;
	strv logs;
	void *sensor;
	strv got; /* target_user of each event, in order */
};

static void on_event(struct host_event *ev, void *arg)
{
	struct fixture *f = arg;
	const char *u = host_event_get(ev, EF_TARGET_USER, NULL);
	strv_push(&f->got, u ? u : "-");
}

static void start(struct fixture *f)
{
	struct sensor_ctx ctx = {
		.base = f->base, .cfg = &f->cfg, .emit = on_event, .emit_arg = f
	};
	assert_int_equal(sensor_auth.start(&ctx, &f->sensor), 0);
}

static void stop(struct fixture *f)
{
	sensor_auth.stop(f->sensor);
	f->sensor = NULL;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/immune-sensor-auth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->log, sizeof(f->log), "%s/auth.log", f->dir);
	snprintf(f->rotated, sizeof(f->rotated), "%s/auth.log.1", f->dir);
	f->base = event_base_new();
	assert_non_null(f->base);
	strv_push(&f->logs, f->log);
	f->cfg.root = "/";
	f->cfg.state_dir = f->dir;
	f->cfg.auth_logs = f->logs;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->sensor)
		stop(f);
	event_base_free(f->base);
	strv_free(f->logs);
	strv_free(f->got);
	_cleanup_free_ char *a = xasprintf("%s/auth-offsets", f->dir);
	unlink(a);
	unlink(f->log);
	unlink(f->rotated);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A line the decoder reads as an event whose target_user is user. */
static char *line(const char *user)
{
	return xasprintf("Invalid user %s from 192.0.2.1 port 22\n", user);
}

static void append_user(const char *path, const char *user)
{
	_cleanup_free_ char *l = line(user);
	append(path, l);
}

/* Runs the loop until the last event is sentinel (at most about 20 s: a failure, not a
 * measurement), then compares every event since the last call with want ("a,b,sentinel"). */
static void expect(struct fixture *f, const char *want)
{
	_cleanup_strv_ strv w = str_split(want, ",");
	size_t n = strv_len(w);
	for (int i = 0; i < 200; i++) {
		size_t got = strv_len(f->got);
		if (got && strcmp(f->got[got - 1], w[n - 1]) == 0)
			break;
		struct timeval tv = { 0, 100000 };
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	size_t got = strv_len(f->got);
	struct buf b;
	buf_init(&b, 1 << 16);
	for (size_t i = 0; i < got; i++)
		buf_printf(&b, "%s%s", i ? "," : "", f->got[i]);
	if (strcmp(buf_str(&b), want) != 0)
		fail_msg("events \"%s\", expected \"%s\"", buf_str(&b), want);
	buf_free(&b);
	strv_free(f->got);
	f->got = NULL;
}

static void health(struct fixture *f, struct sensor_health *h)
{
	sensor_auth.health(f->sensor, h);
	assert_string_equal(h->name, "auth");
}

/* A file that does not exist yet is read from its start when it appears; partial lines wait
 * for their newline. */
static void test_missing_then_created(void **state)
{
	struct fixture *f = *state;
	struct sensor_health h;

	start(f);
	health(f, &h);
	assert_false(h.active);
	assert_string_equal(h.mechanism, "none");
	assert_non_null(strstr(h.message, "waiting for"));

	append_user(f->log, "u1");
	append_user(f->log, "s1");
	expect(f, "u1,s1");
	/* a line written in two parts is one line */
	append(f->log, "Invalid user u3 from 192.0.2.1 ");
	append(f->log, "port 22\n");
	append_user(f->log, "s2");
	expect(f, "u3,s2");
	health(f, &h);
	assert_true(h.active);
	assert_string_equal(h.mechanism, "logfile");
	assert_int_equal(h.events, 4);
	assert_int_equal(h.skipped, 0);
}

/* A file present at the first start is read from its end. */
static void test_existing_from_end(void **state)
{
	struct fixture *f = *state;

	append_user(f->log, "old1");
	append_user(f->log, "old2");
	start(f);
	append_user(f->log, "new1");
	append_user(f->log, "s1");
	expect(f, "new1,s1");
}

/* logrotate's rename + create: the rest of the old file first, then the new one. */
static void test_rotation_rename(void **state)
{
	struct fixture *f = *state;

	append(f->log, "");
	start(f);
	append_user(f->log, "a1");
	append_user(f->log, "s1");
	expect(f, "a1,s1");
	assert_int_equal(rename(f->log, f->rotated), 0);
	append_user(f->rotated, "a2"); /* written by the logger before it reopened */
	append_user(f->log, "b1");
	append_user(f->log, "s2");
	expect(f, "a2,b1,s2");
	/* the rotated file is no longer followed */
	append_user(f->rotated, "late");
	append_user(f->log, "s3");
	expect(f, "s3");
}

/* copytruncate: the file shrinks under the sensor and is read again from 0. */
static void test_copytruncate(void **state)
{
	struct fixture *f = *state;

	append(f->log, "");
	start(f);
	append_user(f->log, "long-user-name-1");
	append_user(f->log, "long-user-name-2");
	append_user(f->log, "s1");
	expect(f, "long-user-name-1,long-user-name-2,s1");
	assert_int_equal(truncate(f->log, 0), 0);
	append_user(f->log, "t1");
	append_user(f->log, "s2");
	expect(f, "t1,s2");
}

/* Stop, lines written while stopped, start: exactly those lines, none again. */
static void test_restart_offset(void **state)
{
	struct fixture *f = *state;

	append(f->log, "");
	start(f);
	append_user(f->log, "r1");
	append_user(f->log, "s1");
	expect(f, "r1,s1");
	stop(f);
	append_user(f->log, "while-down-1");
	append_user(f->log, "while-down-2");
	start(f);
	append_user(f->log, "s2");
	expect(f, "while-down-1,while-down-2,s2");
	/* and again, with a partial line pending at the stop */
	append(f->log, "Invalid user p1 from 192.0.2.1 ");
	stop(f);
	append(f->log, "port 22\n");
	start(f);
	append_user(f->log, "s3");
	expect(f, "p1,s3");
}

/* Rotated while stopped: the rest of the rotated file (<path>.1), then the new file. */
static void test_restart_after_rotation(void **state)
{
	struct fixture *f = *state;

	append(f->log, "");
	start(f);
	append_user(f->log, "r1");
	append_user(f->log, "s1");
	expect(f, "r1,s1");
	stop(f);
	append_user(f->log, "old-tail");
	assert_int_equal(rename(f->log, f->rotated), 0);
	append_user(f->log, "new1");
	start(f);
	append_user(f->log, "s2");
	expect(f, "old-tail,new1,s2");
}

/* Garbage and over-long lines are counted as skipped; reading goes on after them. */
static void test_garbage_counted(void **state)
{
	struct fixture *f = *state;
	struct sensor_health h;

	append(f->log, "");
	start(f);
	append(f->log, "garbage one\n\x01\x02\n\n");
	size_t n = AUTHLOG_LINE_MAX * 3;
	char *big = xmalloc(n + 2);
	memset(big, 'x', n);
	big[n] = '\n';
	big[n + 1] = '\0';
	append(f->log, big);
	free(big);
	append_user(f->log, "after");
	/* not ours: neither an event nor skipped */
	append(f->log, "Nov 23 18:40:01 h CRON[1]: pam_unix(cron:session): session closed\n");
	append_user(f->log, "s1");
	expect(f, "after,s1");
	health(f, &h);
	assert_int_equal(h.skipped, 4);
	assert_int_equal(h.events, 2);
}

/* Bad configuration fails start; the journal is reported as not read. */
static void test_config(void **state)
{
	struct fixture *f = *state;
	struct sensor_health h;
	char *bad[] = { "relative/auth.log", NULL };
	char *none[] = { NULL };
	struct sensor_ctx ctx = {
		.base = f->base, .cfg = &f->cfg, .emit = on_event, .emit_arg = f
	};
	void *s = NULL;

	f->cfg.auth_logs = bad;
	assert_int_equal(sensor_auth.start(&ctx, &s), -EINVAL);
	f->cfg.auth_logs = none;
	f->cfg.auth_journal = true;
	_cleanup_free_ char *no_journal = xasprintf("%s/no-journal", f->dir);
	f->cfg.auth_journal_dir = no_journal; /* not the host's, which may exist */
	assert_int_equal(sensor_auth.start(&ctx, &s), 0);
	sensor_auth.health(s, &h);
	assert_false(h.active);
	assert_string_equal(h.mechanism, "none");
	assert_non_null(strstr(h.message, "the journal is not read"));
	sensor_auth.stop(s);
	f->cfg.auth_journal_dir = NULL;
	/* NULL: the default files, under the root */
	f->cfg.auth_logs = NULL;
	f->cfg.root = f->dir;
	assert_int_equal(sensor_auth.start(&ctx, &s), 0);
	sensor_auth.health(s, &h);
	assert_false(h.active);
	_cleanup_free_ char *want = xasprintf("waiting for %s/var/log/auth.log and others", f->dir);
	if (!strstr(h.message, want))
		fail_msg("health message \"%s\"", h.message);
	/* no journal under that root: the default files are followed instead, and health says so */
	assert_non_null(strstr(h.message, "the journal is not read"));
	sensor_auth.stop(s);
	f->cfg.root = "/";
	f->cfg.auth_logs = f->logs;
	f->cfg.auth_journal = false;
}

/* "sshd:" marks an sshd -E file: its unknown lines are log lines, not garbage. */
static void test_sshd_file(void **state)
{
	struct fixture *f = *state;
	struct sensor_health h;
	char *spec = xasprintf("sshd:%s", f->log);
	char *logs[] = { spec, NULL };

	f->cfg.auth_logs = logs;
	append(f->log, "");
	start(f);
	append(f->log, "some sshd line\r\n");
	append_user(f->log, "s1");
	expect(f, "-,s1");
	health(f, &h);
	assert_int_equal(h.skipped, 0);
	stop(f);
	f->cfg.auth_logs = f->logs;
	free(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_then_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_from_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sshd_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
