/* kill-process (act.h, docs/actions-host.md).
 *
 * Every signal goes through a pidfd, so a pid that is reused between reading /proc and
 * signalling can never redirect the kill: a pidfd is opened first, /proc/PID/stat is read,
 * and the process is checked alive through the pidfd afterwards, which proves the stat read
 * described the process the pidfd holds. A tree is frozen with SIGSTOP from the root down
 * (a stopped process cannot fork), re-scanned until no new child appears, then killed, and
 * the kill is checked by polling every pidfd until the process has exited. */
#include "respond/act.h"

#include "lib/str.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#define KTHREAD_FLAG 0x00200000u /* PF_KTHREAD in /proc/PID/stat field 9 */
#define TREE_MAX 4096		 /* processes one action kills at most */
#define TREE_ROUNDS 32		 /* /proc scans looking for new children */
#define EXIT_WAIT_MS 5000	 /* for the killed processes to exit */
#define ANCESTORS_MAX 256

struct proc_stat {
	pid_t ppid;
	char state;
	uint64_t flags;
	uint64_t start_time; /* clock ticks after boot (field 22) */
	char comm[16];
};

/* Field n (3 = state) of the text after the command name, copied into tok. */
static int stat_field(const char *rest, unsigned n, char *tok, size_t toklen)
{
	const char *s = rest;
	for (unsigned i = 3; i < n; i++) {
		s = strchr(s, ' ');
		if (!s)
			return -EBADMSG;
		s++;
	}
	size_t len = strcspn(s, " \n");
	if (len == 0 || len >= toklen)
		return -EBADMSG;
	memcpy(tok, s, len);
	tok[len] = '\0';
	return 0;
}

/* Parses the NUL-terminated text of /proc/PID/stat (the name may hold spaces and ')': the
 * last ')' ends it). */
static int stat_parse(const char *text, struct proc_stat *out)
{
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	char tok[32];
	uint64_t ppid, flags, start;

	if (!open || !close || close < open || close[1] != ' ')
		return -EBADMSG;
	const char *rest = close + 2;
	if (stat_field(rest, 3, tok, sizeof(tok)) < 0 || strlen(tok) != 1)
		return -EBADMSG;
	struct proc_stat st = { .state = tok[0] };
	if (stat_field(rest, 4, tok, sizeof(tok)) < 0 || parse_u64(tok, 10, INT32_MAX, &ppid) < 0 ||
	    stat_field(rest, 9, tok, sizeof(tok)) < 0 ||
	    parse_u64(tok, 10, UINT64_MAX, &flags) < 0 ||
	    stat_field(rest, 22, tok, sizeof(tok)) < 0 ||
	    parse_u64(tok, 10, UINT64_MAX, &start) < 0)
		return -EBADMSG;
	size_t n = (size_t)(close - open - 1);
	n = n < sizeof(st.comm) ? n : sizeof(st.comm) - 1;
	memcpy(st.comm, open + 1, n);
	st.ppid = (pid_t)ppid;
	st.flags = flags;
	st.start_time = start;
	*out = st;
	return 0;
}

/* Reads /proc/PID/stat; -ENOENT when the process is gone. */
static int stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH ? -ENOENT : -e;
	text[n] = '\0';
	return stat_parse(text, out);
}

static bool is_kernel_thread(pid_t pid, const struct proc_stat *st)
{
	return (st->flags & KTHREAD_FLAG) || pid == 2 || st->ppid == 2;
}

/* True when pid is this process or one of its ancestors (killing them kills the response). */
static bool is_self_or_ancestor(pid_t pid)
{
	pid_t p = getpid();
	for (unsigned i = 0; p > 0 && i < ANCESTORS_MAX; i++) {
		if (p == pid)
			return true;
		struct proc_stat st;
		if (p == 1 || stat_read(p, &st) < 0)
			break;
		p = st.ppid;
	}
	return false;
}

struct victim {
	pid_t pid;
	int pidfd;
	char image[128];
};

struct victims {
	struct victim *v;
	size_t n, alloc;
};

static void victims_free(struct victims *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		if (vs->v[i].pidfd >= 0)
			close(vs->v[i].pidfd);
	free(vs->v);
	*vs = (struct victims){ 0 };
}

static bool victims_has(const struct victims *vs, pid_t pid)
{
	for (size_t i = 0; i < vs->n; i++)
		if (vs->v[i].pid == pid)
			return true;
	return false;
}

static void image_of(pid_t pid, const struct proc_stat *st, char *out, size_t outlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, out, outlen - 1);
	if (n > 0) {
		out[n] = '\0';
		return;
	}
	snprintf(out, outlen, "[%s]", st->comm);
}

/* Opens a pidfd on pid and reads its stat, proving the two describe the same process.
 * Returns 0, -ESRCH when it is gone (or a zombie), or a negative errno. */
static int proc_open(pid_t pid, int *pidfd, struct proc_stat *st)
{
	int fd = pidfd_open(pid, 0);
	if (fd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	int r = stat_read(pid, st);
	r = r == -ENOENT ? -ESRCH : r;
	/* EPERM: alive, but not ours to signal (the executor is root; tests may not be). */
	if (r == 0 && pidfd_send_signal(fd, 0, NULL, 0) < 0 && errno != EPERM)
		r = errno == ESRCH ? -ESRCH : -errno;
	if (r == 0 && st->state == 'Z')
		r = -ESRCH;
	if (r < 0) {
		close(fd);
		return r;
	}
	*pidfd = fd;
	return 0;
}

static int victims_add(struct victims *vs, pid_t pid, int pidfd, const struct proc_stat *st)
{
	if (vs->n == TREE_MAX)
		return -E2BIG;
	if (vs->n == vs->alloc) {
		vs->alloc = vs->alloc ? 2 * vs->alloc : 16;
		vs->v = xrealloc(vs->v, vs->alloc * sizeof(*vs->v));
	}
	struct victim *v = &vs->v[vs->n++];
	v->pid = pid;
	v->pidfd = pidfd;
	image_of(pid, st, v->image, sizeof(v->image));
	return 0;
}

struct snap {
	pid_t pid, ppid;
};

/* Every process of /proc with its parent (kernel threads left out). */
static int proc_snapshot(struct snap **out, size_t *n)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct snap *s = NULL;
	size_t len = 0, alloc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t pid;
		struct proc_stat st;
		if (parse_u64(e->d_name, 10, INT32_MAX, &pid) < 0 ||
		    stat_read((pid_t)pid, &st) < 0 || is_kernel_thread((pid_t)pid, &st))
			continue;
		if (len == alloc) {
			alloc = alloc ? 2 * alloc : 256;
			s = xrealloc(s, alloc * sizeof(*s));
		}
		s[len++] = (struct snap){ (pid_t)pid, st.ppid };
	}
	closedir(d);
	*out = s;
	*n = len;
	return 0;
}

/* Adds the children of victims found in one /proc snapshot, each stopped (when stop) as it
 * is added. Returns the number added or a negative errno. */
static int add_children(struct victims *vs, bool stop)
{
	struct snap *s = NULL;
	size_t n = 0;
	int added = 0, r = proc_snapshot(&s, &n);
	if (r < 0)
		return r;
	for (bool more = true; more && r >= 0;) {
		more = false;
		for (size_t i = 0; i < n && r >= 0; i++) {
			if (!victims_has(vs, s[i].ppid) || victims_has(vs, s[i].pid))
				continue;
			int fd;
			struct proc_stat st;
			if (proc_open(s[i].pid, &fd, &st) < 0)
				continue;
			if (st.ppid != s[i].ppid || is_kernel_thread(s[i].pid, &st)) {
				close(fd);
				continue;
			}
			if (stop)
				(void)pidfd_send_signal(fd, SIGSTOP, NULL, 0);
			r = victims_add(vs, s[i].pid, fd, &st);
			if (r < 0) {
				close(fd);
				break;
			}
			added++;
			more = true;
		}
	}
	free(s);
	return r < 0 ? r : added;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until every victim has exited; returns the number still alive after the wait. */
static size_t wait_exit(struct victims *vs)
{
	int64_t deadline = now_ms() + EXIT_WAIT_MS;
	struct pollfd *p = xcalloc(vs->n ? vs->n : 1, sizeof(*p));
	size_t alive;
	for (;;) {
		alive = 0;
		for (size_t i = 0; i < vs->n; i++) {
			p[i] = (struct pollfd){ .fd = vs->v[i].pidfd, .events = POLLIN };
		}
		int r = poll(p, vs->n, 0);
		for (size_t i = 0; r >= 0 && i < vs->n; i++)
			alive += !(p[i].revents & (POLLIN | POLLHUP));
		int64_t left = deadline - now_ms();
		if (alive == 0 || left <= 0)
			break;
		(void)poll(p, vs->n, (int)(left < 50 ? left : 50));
	}
	free(p);
	return alive;
}

static json_t *victims_json(const struct victims *vs, bool tree)
{
	json_t *pids = json_array(), *images = json_array();
	for (size_t i = 0; i < vs->n; i++) {
		json_array_append_new(pids, json_integer(vs->v[i].pid));
		json_array_append_new(images, json_string(vs->v[i].image));
	}
	return json_pack("{s:o, s:o, s:b}", "pids", pids, "images", images, "tree", tree);
}

/* Opens the target of a, refusing what must never be killed. Returns ACT_VERIFIED with the
 * target added to vs, ACT_VERIFIED with vs empty when it is already gone, or another
 * status with the reason set. */
static enum act_status open_target(const Action *a, struct victims *vs, struct act_result *res)
{
	pid_t pid = a->pid;
	int fd;
	struct proc_stat st;

	if (pid <= 1)
		return act_set(res, ACT_REFUSED, "pid %d is never killed", (int)pid);
	if (is_self_or_ancestor(pid))
		return act_set(res, ACT_REFUSED,
			       "pid %d is the executor or one of its ancestors: not killed",
			       (int)pid);
	int r = proc_open(pid, &fd, &st);
	if (r == -ESRCH)
		return act_set(res, ACT_VERIFIED, "process %d is already gone", (int)pid);
	if (r == -EINVAL || r == -ENOENT)
		return act_set(res, ACT_REFUSED, "%d is not a process id (a thread?)", (int)pid);
	if (r < 0)
		return act_set(res, ACT_FAILED, "opening process %d: %s", (int)pid, strerror(-r));
	if (is_kernel_thread(pid, &st)) {
		close(fd);
		return act_set(res, ACT_REFUSED, "pid %d is a kernel thread: not killed", (int)pid);
	}
	if (a->start_time && a->start_time != st.start_time) {
		close(fd);
		return act_set(res, ACT_REFUSED,
			       "pid %d was reused: it started at %" PRIu64 ", not %" PRIu64,
			       (int)pid, st.start_time, (uint64_t)a->start_time);
	}
	if (victims_add(vs, pid, fd, &st) < 0) {
		close(fd);
		return act_set(res, ACT_FAILED, "out of room for process %d", (int)pid);
	}
	return ACT_VERIFIED;
}

/* Finds the descendants of the target (stopping each when stop): scans until a scan adds
 * nothing. */
static enum act_status collect_tree(struct victims *vs, bool stop, struct act_result *res)
{
	for (unsigned round = 0; round < TREE_ROUNDS; round++) {
		int r = add_children(vs, stop);
		if (r == -E2BIG)
			return act_set(res, ACT_FAILED, "the tree of %d has more than %u processes",
				       (int)vs->v[0].pid, TREE_MAX);
		if (r < 0)
			return act_set(res, ACT_FAILED, "reading /proc: %s", strerror(-r));
		if (r == 0)
			return ACT_VERIFIED;
	}
	return act_set(res, ACT_FAILED, "the tree of %d kept growing over %u scans",
		       (int)vs->v[0].pid, TREE_ROUNDS);
}

static enum act_status kill_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				  struct act_result *res)
{
	struct victims vs = { 0 };
	enum act_status s = open_target(a, &vs, res);

	*undo = NULL;
	if (s != ACT_VERIFIED || vs.n == 0) {
		if (s == ACT_VERIFIED)
			res->detail = victims_json(&vs, a->tree);
		victims_free(&vs);
		return s;
	}
	bool stop = !ctx->dry_run;
	if (stop && a->tree)
		(void)pidfd_send_signal(vs.v[0].pidfd, SIGSTOP, NULL, 0);
	if (a->tree)
		s = collect_tree(&vs, stop, res);
	if (ctx->dry_run) {
		if (s == ACT_VERIFIED)
			s = act_set(res, ACT_DRY_RUN, "would kill %zu process%s: %d (%s)%s", vs.n,
				    vs.n == 1 ? "" : "es", (int)vs.v[0].pid, vs.v[0].image,
				    vs.n > 1 ? " and its descendants" : "");
		res->detail = victims_json(&vs, a->tree);
		victims_free(&vs);
		return s;
	}
	/* Kill even when the tree scan failed: what was stopped must not stay stopped. */
	size_t denied = 0;
	for (size_t i = 0; i < vs.n; i++)
		if (pidfd_send_signal(vs.v[i].pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
			denied++;
	size_t alive = denied ? 0 : wait_exit(&vs);
	res->detail = victims_json(&vs, a->tree);
	if (s == ACT_VERIFIED && denied)
		s = act_set(res, ACT_FAILED, "not permitted to kill %zu of %zu processes", denied,
			    vs.n);
	else if (s == ACT_VERIFIED && alive)
		s = act_set(res, ACT_FAILED, "%zu of %zu killed processes are still alive", alive,
			    vs.n);
	else if (s == ACT_VERIFIED)
		s = act_set(res, ACT_VERIFIED, "killed %zu process%s: %d (%s)%s", vs.n,
			    vs.n == 1 ? "" : "es", (int)vs.v[0].pid, vs.v[0].image,
			    vs.n > 1 ? " and its descendants" : "");
	victims_free(&vs);
	return s;
}

static enum act_status kill_verify(const struct act_ctx *ctx, const Action *a,
				   struct act_result *res)
{
	(void)ctx;
	struct proc_stat st;
	int r = stat_read(a->pid, &st);
	if (r == -ENOENT || (r == 0 && st.state == 'Z'))
		return act_set(res, ACT_VERIFIED, "process %d is gone", (int)a->pid);
	if (r < 0)
		return act_set(res, ACT_FAILED, "reading process %d: %s", (int)a->pid,
			       strerror(-r));
	if (a->start_time && a->start_time != st.start_time)
		return act_set(res, ACT_VERIFIED,
			       "process %d is gone (the pid now names another process)",
			       (int)a->pid);
	return act_set(res, ACT_FAILED, "process %d (%s) is still running", (int)a->pid, st.comm);
}

static enum act_status kill_rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				     struct act_result *res)
{
	(void)ctx;
	(void)a;
	(void)undo;
	return act_set(res, ACT_REFUSED, "a killed process cannot be restored");
}

const struct act_ops act_kill_process_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS,
	.apply = kill_apply,
	.verify = kill_verify,
	.rollback = kill_rollback,
};
