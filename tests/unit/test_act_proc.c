/* Unit tests for kill-process (respond/act_proc.c) on processes this test forks (no root
 * needed): a tree of four is killed whole and verified; a wrong start_time is refused and
 * kills nothing; a dry run lists the tree and kills nothing; a gone pid is verified; the
 * test itself, its parent and a kernel thread are refused; rollback is refused. */
#include "unit.h"

#include "lib/str.h"
#include "respond/act.h"

#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define TREE 4

struct tree {
	pid_t root;
	pid_t pids[TREE]; /* root, its two children, a grandchild, in no order */
	int fds[TREE];	  /* their pidfds, for the cleanup */
};

/* The tree of the running test, killed by teardown whatever happened. */
static struct tree current;

/* In a child: tells the test its pid, then waits to be killed (or for the test to end). */
static _Noreturn void wait_forever(int fd)
{
	pid_t me = getpid();
	if (write(fd, &me, sizeof(me)) != sizeof(me))
		_exit(1);
	close(fd);
	for (;;)
		pause();
}

/* Forks root -> (child1 -> grandchild, child2). Every process writes its pid to the pipe. */
static void make_tree(struct tree *t)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t root = fork();
	assert_true(root >= 0);
	if (root == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int i = 0; i < 2; i++) {
			pid_t c = fork();
			if (c == 0) {
				if (i == 0 && fork() == 0)
					wait_forever(p[1]);
				wait_forever(p[1]);
			}
		}
		wait_forever(p[1]);
	}
	close(p[1]);
	t->root = root;
	for (int i = 0; i < TREE; i++) {
		assert_int_equal(read(p[0], &t->pids[i], sizeof(pid_t)), sizeof(pid_t));
		t->fds[i] = pidfd_open(t->pids[i], 0);
		assert_true(t->fds[i] >= 0);
	}
	close(p[0]);
	current = *t;
}

/* True when pid is gone or a zombie. */
static bool gone(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *close = strrchr(text, ')');
	return !close || close[1] != ' ' || close[2] == 'Z' || close[2] == 'X';
}

static uint64_t start_time_of(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *s = strrchr(text, ')') + 2;
	for (int field = 3; field < 22; field++)
		s = strchr(s, ' ') + 1;
	char tok[32];
	size_t len = strcspn(s, " ");
	assert_true(len < sizeof(tok));
	memcpy(tok, s, len);
	tok[len] = '\0';
	uint64_t v;
	assert_int_equal(parse_u64(tok, 10, UINT64_MAX, &v), 0);
	return v;
}

/* Kills what is left of the test's tree (by the pids it forked) and reaps its root. */
static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < TREE; i++)
		if (current.pids[i] > 0) {
			struct pollfd p = { .fd = current.fds[i], .events = POLLIN };
			pidfd_send_signal(current.fds[i], SIGKILL, NULL, 0);
			(void)poll(&p, 1, 5000); /* until it has exited */
			close(current.fds[i]);
		}
	if (current.root > 0)
		waitpid(current.root, NULL, 0);
	current = (struct tree){ 0 };
	/* Orphans of the tree came to this test (a subreaper): reap them. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return 0;
}

static Action *kill_action(pid_t pid, uint64_t start, bool tree)
{
	json_t *p = json_pack("{s:i}", "pid", (json_int_t)pid);
	if (start)
		json_object_set_new(p, "start_time", json_integer((json_int_t)start));
	if (tree)
		json_object_set_new(p, "tree", json_true());
	Action *a = NULL;
	char err[256];
	if (action_from_json(IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS, p, &a, err,
			     sizeof(err)) < 0)
		fail_msg("%s", err);
	json_decref(p);
	return a;
}

static enum act_status run_apply(const struct act_ctx *ctx, const Action *a, struct act_result *res)
{
	json_t *undo = NULL;
	enum act_status s = act_kill_process_ops.apply(ctx, a, &undo, res);
	assert_null(undo);
	return s;
}

static void test_kill_tree(void **state)
{
	(void)state;
	struct act_ctx ctx = { .state_dir = "/nonexistent" };
	struct act_result res = { 0 };
	struct tree t;
	make_tree(&t);
	uint64_t start = start_time_of(t.root);

	/* the pid was reused: refused, nothing killed */
	_cleanup_(action_freep) Action *wrong = kill_action(t.root, start + 1, true);
	assert_int_equal(run_apply(&ctx, wrong, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "reused"));
	json_decref(res.detail);
	res = (struct act_result){ 0 };
	for (int i = 0; i < TREE; i++)
		assert_false(gone(t.pids[i]));

	/* a dry run names the whole tree and kills nothing */
	_cleanup_(action_freep) Action *a = kill_action(t.root, start, true);
	ctx.dry_run = true;
	assert_int_equal(run_apply(&ctx, a, &res), ACT_DRY_RUN);
	ctx.dry_run = false;
	assert_int_equal(json_array_size(json_object_get(res.detail, "pids")), TREE);
	json_decref(res.detail);
	res = (struct act_result){ 0 };
	for (int i = 0; i < TREE; i++)
		assert_false(gone(t.pids[i]));
	assert_int_equal(act_kill_process_ops.verify(&ctx, a, &res), ACT_FAILED);

	assert_int_equal(run_apply(&ctx, a, &res), ACT_VERIFIED);
	json_t *pids = json_object_get(res.detail, "pids");
	assert_int_equal(json_array_size(pids), TREE);
	assert_int_equal(json_array_size(json_object_get(res.detail, "images")), TREE);
	json_decref(res.detail);
	res = (struct act_result){ 0 };
	for (int i = 0; i < TREE; i++)
		assert_true(gone(t.pids[i]));
	assert_int_equal(act_kill_process_ops.verify(&ctx, a, &res), ACT_VERIFIED);
	/* a zombie waiting for this test is gone; once reaped, the pid is gone too */
	assert_int_equal(waitpid(t.root, NULL, 0), t.root);
	current.root = 0;
	assert_int_equal(run_apply(&ctx, a, &res), ACT_VERIFIED);
	json_decref(res.detail);
	res = (struct act_result){ 0 };
	assert_int_equal(act_kill_process_ops.rollback(&ctx, a, NULL, &res), ACT_REFUSED);
}

static void test_kill_one(void **state)
{
	(void)state;
	struct act_ctx ctx = { .state_dir = "/nonexistent" };
	struct act_result res = { 0 };
	struct tree t;
	make_tree(&t);

	/* without tree only the root dies; its children stay */
	_cleanup_(action_freep) Action *a = kill_action(t.root, 0, false);
	assert_int_equal(run_apply(&ctx, a, &res), ACT_VERIFIED);
	assert_int_equal(json_array_size(json_object_get(res.detail, "pids")), 1);
	json_decref(res.detail);
	assert_true(gone(t.root));
	for (int i = 0; i < TREE; i++)
		if (t.pids[i] != t.root)
			assert_false(gone(t.pids[i]));
}

static void test_refused(void **state)
{
	(void)state;
	struct act_ctx ctx = { .state_dir = "/nonexistent" };
	pid_t mine[] = { getpid(), getppid() };
	for (size_t i = 0; i < ARRAY_SIZE(mine); i++) {
		if (mine[i] <= 1)
			continue;
		struct act_result res = { 0 };
		_cleanup_(action_freep) Action *a = kill_action(mine[i], 0, true);
		assert_int_equal(run_apply(&ctx, a, &res), ACT_REFUSED);
		json_decref(res.detail);
	}
	/* a kernel thread: kthreadd (pid 2) when this pid namespace shows it */
	char text[512] = "";
	FILE *f = fopen("/proc/2/stat", "r");
	if (f) {
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	if (strstr(text, "(kthreadd)")) {
		struct act_result res = { 0 };
		_cleanup_(action_freep) Action *a = kill_action(2, 0, false);
		assert_int_equal(run_apply(&ctx, a, &res), ACT_REFUSED);
		assert_non_null(strstr(res.message, "kernel thread"));
	}
	/* a pid that is gone (with its start time, so a pid taken again is never killed) */
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		char b;
		close(p[1]);
		_exit(read(p[0], &b, 1) < 0);
	}
	close(p[0]);
	uint64_t start = start_time_of(c);
	close(p[1]);
	assert_int_equal(waitpid(c, NULL, 0), c);
	struct act_result res = { 0 };
	_cleanup_(action_freep) Action *a = kill_action(c, start, false);
	enum act_status s = run_apply(&ctx, a, &res);
	json_decref(res.detail);
	assert_true(s == ACT_VERIFIED || s == ACT_REFUSED); /* refused: the pid was taken again */
}

int main(void)
{
	/* Orphaned processes of a tree come back to the test to be reaped, not to pid 1. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_tree, teardown),
		cmocka_unit_test_teardown(test_kill_one, teardown),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
