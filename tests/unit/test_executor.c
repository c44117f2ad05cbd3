/* Unit tests for the executor (respond/executor.h), run as the real forked process in a
 * temporary state directory: request decoding and its refusals, refusal of unknown and
 * unsupported kinds with the connection kept, a malformed, an empty or an oversized frame
 * ending the executor (and a fresh one working), the child's descriptors and name, the state
 * directories' modes, the client's timeouts and reply checks, undo records (read, damaged,
 * for another action, missing: rollback refused), and, for the kinds this build has, a dry
 * run of block-address that records nothing, and kill-process: a dry run that changes
 * nothing and an apply that kills a child process, keeps its undo record and does not
 * overwrite it when repeated. */
#include "unit.h"

#include "lib/fileio.h"
#include "proto/msg.h"
#include "respond/act.h"
#include "respond/executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UID1 "0123456789abcdef0123456789abcdef"
#define UID2 "fedcba9876543210fedcba9876543210"

struct fixture {
	char *dir;
	struct executor_options o;
	int fd;
	pid_t pid;
};

static int rm_one(const char *path, const struct stat *sb _unused_, int flag _unused_,
		  struct FTW *ftw _unused_)
{
	return remove(path);
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 },
		  NULL);
}

/* Waits (at most 10 s) for pid to exit; returns its wait status. */
static int wait_exit(pid_t pid)
{
	int st = 0;
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		assert_int_equal(r, 0);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fail_msg("process %d did not exit", (int)pid);
	return st;
}

static void spawn(struct fixture *f)
{
	assert_int_equal(executor_spawn(&f->o, &f->fd, &f->pid), 0);
	assert_true(f->fd >= 0);
	assert_true(f->pid > 0);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test_executor.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	f->o.state_dir = f->dir;
	f->o.nft_table = "immune_test_never_used";
	spawn(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->fd >= 0)
		close(f->fd);
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
	return 0;
}

/* Closes and reaps the executor; returns its wait status. */
static int stop(struct fixture *f)
{
	close(f->fd);
	f->fd = -1;
	int st = wait_exit(f->pid);
	f->pid = -1;
	return st;
}

static Action *make_action(int kind, const char *params)
{
	json_t *p = json_loads(params, 0, NULL);
	Action *a = NULL;
	char err[256];
	assert_non_null(p);
	if (action_from_json((Immune__V1__ActionKind)kind, p, &a, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	json_decref(p);
	return a;
}

/* One call; returns the reply (asserts the transport worked). */
static ExecReply *call(struct fixture *f, const char *uid, int op, Action *a, bool dry)
{
	ExecRequest rq = IMMUNE__V1__EXEC_REQUEST__INIT;
	ExecReply *rep = NULL;
	rq.uid = (char *)uid;
	rq.op = op;
	rq.action = a;
	rq.dry_run = dry;
	assert_int_equal(exec_call(f->fd, &rq, EXEC_TIMEOUT_MS, &rep), 0);
	assert_non_null(rep);
	assert_non_null(rep->detail_json);
	json_t *d = json_loads(rep->detail_json, 0, NULL);
	assert_true(json_is_object(d));
	json_decref(d);
	return rep;
}

static void expect(ExecReply *rep, Immune__V1__ExecStatus status, const char *want)
{
	if (rep->status != status || !strstr(rep->message, want))
		fail_msg("got %s '%s', want %s '%s'", exec_status_name(rep->status), rep->message,
			 exec_status_name(status), want);
	exec_reply_free(rep);
}

static char *undo_file(const struct fixture *f, const char *uid)
{
	return xasprintf("%s/respond/undo/%s.json", f->dir, uid);
}

static size_t undo_count(const struct fixture *f)
{
	_cleanup_free_ char *d = xasprintf("%s/respond/undo", f->dir);
	DIR *dir = opendir(d);
	size_t n = 0;
	assert_non_null(dir);
	for (struct dirent *e; (e = readdir(dir));)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

static void test_decode(void **state _unused_)
{
	ExecRequest rq = IMMUNE__V1__EXEC_REQUEST__INIT;
	ExecRequest *out = NULL;
	char err[256];
	uint8_t buf[4096];
	Action *a = make_action(IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER, "{\"user\": \"bob\"}");
	rq.uid = UID1;
	rq.op = IMMUNE__V1__ACTION_OP__OP_ROLLBACK;
	rq.action = a;
	rq.dry_run = true;
	size_t n = immune__v1__exec_request__pack(&rq, buf);
	assert_int_equal(exec_request_decode(buf, n, &out, err, sizeof(err)), 0);
	assert_string_equal(out->uid, UID1);
	assert_int_equal(out->op, IMMUNE__V1__ACTION_OP__OP_ROLLBACK);
	assert_true(out->dry_run);
	assert_string_equal(out->action->user, "bob");
	exec_request_free(out);
	exec_request_free(NULL);

	out = NULL;
	assert_int_equal(exec_request_decode("\xff\xff\xff", 3, &out, err, sizeof(err)), -EBADMSG);
	assert_null(out);
	assert_int_equal(exec_request_decode(buf, 0, &out, err, sizeof(err)), -EBADMSG);

	static const struct {
		const char *uid;
		int op;
		bool action;
		const char *want;
	} bad[] = {
		{ "0123", 0, true, "action id" },
		{ "0123456789ABCDEF0123456789abcdef", 0, true, "action id" },
		{ UID1, 9, true, "unknown operation" },
		{ UID1, 0, false, "no action" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		rq.uid = (char *)bad[i].uid;
		rq.op = bad[i].op;
		rq.action = bad[i].action ? a : NULL;
		n = immune__v1__exec_request__pack(&rq, buf);
		err[0] = '\0';
		assert_int_equal(exec_request_decode(buf, n, &out, err, sizeof(err)), -EINVAL);
		assert_null(out);
		assert_non_null(strstr(err, bad[i].want));
	}
	/* an action action_check refuses: the reason is the validator's */
	rq.uid = UID1;
	rq.op = 0;
	rq.action = a;
	free(a->user);
	a->user = xstrdup("Bob");
	n = immune__v1__exec_request__pack(&rq, buf);
	assert_int_equal(exec_request_decode(buf, n, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "lock-user: 'Bob' is not a valid account name"));
	action_free(a);
}

static void test_refusals_keep_serving(void **state)
{
	struct fixture *f = *state;
	Immune__V1__Action raw = IMMUNE__V1__ACTION__INIT;
	raw.kind = 99;
	raw.pid = 10;
	ExecReply *rep = call(f, UID1, 0, &raw, false);
	assert_string_equal(rep->uid, UID1);
	expect(rep, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "unknown action kind 99");

	raw.kind = IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS;
	raw.pid = 1;
	expect(call(f, UID1, 0, &raw, false), IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
	       "pid 1 is out of range");
	raw.pid = 4242;
	rep = call(f, "not-an-id", 0, &raw, false);
	assert_string_equal(rep->uid, "");
	expect(rep, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "action id");
	expect(call(f, UID1, 5, &raw, false), IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
	       "unknown operation");

	/* a kind this build has no implementation of (isolate-host needs no field) */
	if (!act_lookup(IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST)) {
		Immune__V1__Action none = IMMUNE__V1__ACTION__INIT;
		none.kind = IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST;
		expect(call(f, UID1, 0, &none, true), IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
		       "this agent cannot isolate-host");
	}
	/* nothing was recorded, and the executor ends cleanly when its peer closes */
	assert_int_equal(undo_count(f), 0);
	int st = stop(f);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_child(void **state)
{
	struct fixture *f = *state;
	/* a descriptor the parent leaks (no O_CLOEXEC) must not reach the executor */
	close(f->fd);
	waitpid(f->pid, NULL, 0);
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 0);
	spawn(f);
	close(leak);
	Immune__V1__Action raw = IMMUNE__V1__ACTION__INIT;
	raw.kind = 99;
	expect(call(f, UID1, 0, &raw, false), IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "unknown");

	_cleanup_free_ char *fds = xasprintf("/proc/%d/fd", (int)f->pid);
	DIR *d = opendir(fds);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		int fd = (int)strtol(e->d_name, NULL, 10);
		if (fd > 3)
			fail_msg("the executor holds descriptor %d", fd);
	}
	closedir(d);
	_cleanup_free_ char *comm_path = xasprintf("/proc/%d/comm", (int)f->pid);
	struct buf comm;
	buf_init(&comm, 64);
	assert_int_equal(file_read_capped(comm_path, 64, &comm), 0);
	assert_string_equal(buf_str(&comm), "immune-exec\n");
	buf_free(&comm);

	static const char *const dirs[] = { "respond", "respond/undo" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", f->dir, dirs[i]);
		struct stat sb;
		assert_int_equal(lstat(p, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
		assert_int_equal(sb.st_mode & 07777, 0700);
	}
}

static void write_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void expect_gone(struct fixture *f)
{
	int st = wait_exit(f->pid);
	f->pid = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	/* the client sees the executor gone */
	Immune__V1__Action raw = IMMUNE__V1__ACTION__INIT;
	ExecRequest rq = IMMUNE__V1__EXEC_REQUEST__INIT;
	ExecReply *rep = NULL;
	raw.kind = 99;
	rq.uid = UID1;
	rq.action = &raw;
	assert_int_equal(exec_call(f->fd, &rq, EXEC_TIMEOUT_MS, &rep), -EPIPE);
	assert_null(rep);
	close(f->fd);
	f->fd = -1;
}

static void respawn_works(struct fixture *f)
{
	spawn(f);
	Immune__V1__Action raw = IMMUNE__V1__ACTION__INIT;
	raw.kind = 99;
	expect(call(f, UID2, 0, &raw, false), IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "unknown");
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	/* a frame whose body is not a request */
	write_raw(f->fd, "\0\0\0\5\xff\xff\xff\xff\xff", 9);
	expect_gone(f);
	respawn_works(f);
	/* an empty frame */
	write_raw(f->fd, "\0\0\0\0", 4);
	expect_gone(f);
	respawn_works(f);
	/* a frame cut short by the peer's close is not a clean end */
	write_raw(f->fd, "\0\0\0\40\x0a", 5);
	shutdown(f->fd, SHUT_WR);
	int st = wait_exit(f->pid);
	f->pid = -1;
	assert_int_equal(WEXITSTATUS(st), 1);
	close(f->fd);
	f->fd = -1;
	respawn_works(f);
}

static void test_oversized(void **state)
{
	struct fixture *f = *state;
	uint32_t n = EXEC_FRAME_MAX + 1;
	unsigned char hdr[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				 (unsigned char)(n >> 8), (unsigned char)n };
	write_raw(f->fd, hdr, 4); /* the executor does not wait for the body */
	expect_gone(f);
	respawn_works(f);

	/* the client refuses to send a request over the limit */
	Immune__V1__Action raw = IMMUNE__V1__ACTION__INIT;
	ExecRequest rq = IMMUNE__V1__EXEC_REQUEST__INIT;
	ExecReply *rep = NULL;
	char *big = xmalloc(EXEC_FRAME_MAX + 1);
	memset(big, 'x', EXEC_FRAME_MAX);
	big[EXEC_FRAME_MAX] = '\0';
	raw.kind = IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_CRON;
	raw.path = "/etc/crontab";
	raw.entry = big;
	rq.uid = UID1;
	rq.action = &raw;
	assert_int_equal(exec_call(f->fd, &rq, EXEC_TIMEOUT_MS, &rep), -EMSGSIZE);
	free(big);
	/* and the connection is still usable */
	raw.kind = 99;
	raw.path = raw.entry = NULL;
	expect(call(f, UID1, 0, &raw, false), IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "unknown");
}

/* A stand-in peer for the client's side: never answers, or answers with given bytes. */
static void test_client(void **state _unused_)
{
	int sv[2];
	Immune__V1__Action raw = IMMUNE__V1__ACTION__INIT;
	ExecRequest rq = IMMUNE__V1__EXEC_REQUEST__INIT;
	ExecReply *rep = NULL;
	raw.kind = 99;
	rq.uid = UID1;
	rq.action = &raw;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(exec_call(sv[0], &rq, 50, &rep), -ETIMEDOUT);
	assert_null(rep);
	/* a reply that is not one */
	write_raw(sv[1], "\0\0\0\3\xff\xff\xff", 7);
	char drain[4096];
	assert_true(read(sv[1], drain, sizeof(drain)) > 0);
	assert_int_equal(exec_call(sv[0], &rq, 1000, &rep), -EBADMSG);
	/* an oversized one */
	write_raw(sv[1], "\0\1\0\1", 4);
	assert_int_equal(exec_call(sv[0], &rq, 1000, &rep), -EBADMSG);
	/* a reply with an unknown status */
	ExecReply bad = IMMUNE__V1__EXEC_REPLY__INIT;
	uint8_t buf[256];
	bad.status = 42;
	bad.uid = UID1;
	size_t n = immune__v1__exec_reply__pack(&bad, buf + 4);
	buf[0] = buf[1] = buf[2] = 0;
	buf[3] = (uint8_t)n;
	write_raw(sv[1], buf, n + 4);
	assert_int_equal(exec_call(sv[0], &rq, 1000, &rep), -EBADMSG);
	/* a good one */
	bad.status = IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED;
	bad.message = "done";
	n = immune__v1__exec_reply__pack(&bad, buf + 4);
	buf[3] = (uint8_t)n;
	write_raw(sv[1], buf, n + 4);
	assert_int_equal(exec_call(sv[0], &rq, 1000, &rep), 0);
	assert_string_equal(rep->message, "done");
	exec_reply_free(rep);
	rep = NULL;
	/* the peer gone */
	close(sv[1]);
	assert_int_equal(exec_call(sv[0], &rq, 1000, &rep), -EPIPE);
	close(sv[0]);
}

static void put_record(const struct fixture *f, const char *uid, const char *text)
{
	_cleanup_free_ char *p = undo_file(f, uid);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0600), 0);
}

static void test_undo_records(void **state)
{
	struct fixture *f = *state;
	Action *lock =
		make_action(IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER, "{\"user\": \"bob\"}");
	char err[256];
	Action *a = NULL;
	json_t *undo = NULL;

	/* no record: a rollback is refused, nothing else happens */
	assert_int_equal(exec_undo_read(f->dir, UID1, &a, &undo, err, sizeof(err)), -ENOENT);
	expect(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, lock, false),
	       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "no undo record for " UID1);
	expect(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, lock, true),
	       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "no undo record");
	assert_int_equal(exec_undo_read(f->dir, "../../etc", &a, &undo, err, sizeof(err)), -EINVAL);

	/* a good record reads back */
	put_record(f, UID1,
		   "{\"uid\": \"" UID1 "\", \"kind\": \"lock-user\", \"params\": {\"user\": "
		   "\"bob\"}, \"undo\": {\"was_locked\": false}, \"applied_ns\": 1}");
	assert_int_equal(exec_undo_read(f->dir, UID1, &a, &undo, err, sizeof(err)), 0);
	assert_int_equal(a->kind, IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER);
	assert_string_equal(a->user, "bob");
	assert_true(json_is_false(json_object_get(undo, "was_locked")));
	action_free(a);
	json_decref(undo);
	/* a record for another action refuses a rollback of this one */
	Action *alice =
		make_action(IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER, "{\"user\": \"alice\"}");
	expect(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, alice, false),
	       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "is for another action");
	action_free(alice);

	/* damaged ones are refused, never trusted */
	static const char *const damaged[] = {
		"not json",
		"[]",
		"{\"uid\": \"" UID2 "\", \"kind\": \"lock-user\", \"params\": {\"user\": \"bob\"}}",
		"{\"uid\": \"" UID1 "\", \"kind\": \"format-disk\", \"params\": {}}",
		"{\"uid\": \"" UID1 "\", \"kind\": \"lock-user\", \"params\": {\"user\": \"B\"}}",
		"{\"uid\": \"" UID1 "\", \"kind\": \"lock-user\", \"params\": {\"user\": \"bob\"}, "
		"\"undo\": 3}",
		"{\"uid\": \"" UID1 "\", \"uid\": \"" UID1 "\", \"kind\": \"lock-user\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(damaged); i++) {
		put_record(f, UID1, damaged[i]);
		a = NULL;
		err[0] = '\0';
		assert_int_equal(exec_undo_read(f->dir, UID1, &a, &undo, err, sizeof(err)),
				 -EBADMSG);
		assert_null(a);
		assert_non_null(strstr(err, "is damaged"));
		expect(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, lock, false),
		       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "is damaged");
	}
	/* one over the size limit */
	char *big = xmalloc(EXEC_UNDO_MAX + 2);
	memset(big, ' ', EXEC_UNDO_MAX + 1);
	big[EXEC_UNDO_MAX + 1] = '\0';
	put_record(f, UID1, big);
	free(big);
	assert_int_equal(exec_undo_read(f->dir, UID1, &a, &undo, err, sizeof(err)), -EBADMSG);
	action_free(lock);
}

/* A dry run describes and records nothing (block-address, when this build has it; the
 * table named in the options is one nothing else uses, and a dry run does not create it). */
static void test_dry_run_block(void **state)
{
	struct fixture *f = *state;
	if (!act_lookup(IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS)) {
		print_message("block-address is not in this build: skipped\n");
		skip();
	}
	Action *a = make_action(IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS,
				"{\"address\": \"203.0.113.9\", \"duration\": \"5m\"}");
	ExecReply *rep = call(f, UID2, IMMUNE__V1__ACTION_OP__OP_APPLY, a, true);
	if (rep->status != IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN)
		fail_msg("dry run: %s: %s", exec_status_name(rep->status), rep->message);
	assert_string_equal(rep->uid, UID2);
	exec_reply_free(rep);
	assert_int_equal(undo_count(f), 0);
	/* and a dry rollback of it still needs a record */
	expect(call(f, UID2, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, a, true),
	       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "no undo record");
	action_free(a);
}

/* --- end to end, when this build has kill-process --- */

struct reaper {
	pthread_t t;
	pid_t pid;
	int status;
};

/* Reaps the child as its parent would, so that a killed one does not linger as a zombie. */
static void *reap(void *arg)
{
	struct reaper *r = arg;
	while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
		;
	return NULL;
}

static pid_t start_sleep(void)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	return p;
}

static void test_kill_process(void **state)
{
	struct fixture *f = *state;
	if (!act_lookup(IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS)) {
		print_message("kill-process is not in this build: skipped\n");
		skip();
	}
	struct reaper r = { .pid = start_sleep() };
	_cleanup_free_ char *params = xasprintf("{\"pid\": %d}", (int)r.pid);
	Action *a = make_action(IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS, params);
	assert_int_equal(pthread_create(&r.t, NULL, reap, &r), 0);

	/* a dry run describes, changes nothing and records nothing */
	ExecReply *rep = call(f, UID1, IMMUNE__V1__ACTION_OP__OP_APPLY, a, true);
	assert_int_equal(rep->status, IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN);
	exec_reply_free(rep);
	assert_int_equal(kill(r.pid, 0), 0);
	assert_int_equal(undo_count(f), 0);

	/* the real thing: verified, the process is gone, the undo record kept */
	rep = call(f, UID1, IMMUNE__V1__ACTION_OP__OP_APPLY, a, false);
	if (rep->status != IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED)
		fail_msg("apply: %s: %s", exec_status_name(rep->status), rep->message);
	exec_reply_free(rep);
	pthread_join(r.t, NULL);
	assert_true(WIFSIGNALED(r.status));
	_cleanup_free_ char *path = undo_file(f, UID1);
	struct buf first, again;
	buf_init(&first, EXEC_UNDO_MAX);
	buf_init(&again, EXEC_UNDO_MAX);
	assert_int_equal(file_read_capped(path, EXEC_UNDO_MAX, &first), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	Action *rec = NULL;
	json_t *undo = NULL;
	char err[256];
	assert_int_equal(exec_undo_read(f->dir, UID1, &rec, &undo, err, sizeof(err)), 0);
	assert_int_equal(rec->pid, r.pid);
	action_free(rec);
	json_decref(undo);

	/* verify says the effect is in place; a repeated apply keeps the first record */
	rep = call(f, UID1, IMMUNE__V1__ACTION_OP__OP_VERIFY, a, false);
	assert_int_equal(rep->status, IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED);
	exec_reply_free(rep);
	exec_reply_free(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_APPLY, a, false));
	assert_int_equal(file_read_capped(path, EXEC_UNDO_MAX, &again), 0);
	assert_string_equal(buf_str(&first), buf_str(&again));
	/* the same id for another action is refused */
	Action *other =
		make_action(IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS, "{\"pid\": 999999}");
	expect(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_APPLY, other, false),
	       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "already names another");
	/* a kill cannot be undone: refused, and the record stays */
	expect(call(f, UID1, IMMUNE__V1__ACTION_OP__OP_ROLLBACK, a, false),
	       IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "");
	assert_int_equal(undo_count(f), 1);
	buf_free(&first);
	buf_free(&again);
	action_free(other);
	action_free(a);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test_setup_teardown(test_refusals_keep_serving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test(test_client),
		cmocka_unit_test_setup_teardown(test_undo_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_process, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
