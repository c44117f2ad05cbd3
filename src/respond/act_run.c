/* act_run: starts a program for an action (sshd -t, systemctl) without a shell (act.h).
 *
 * The child gets argv as given, an environment holding only PATH, stdin from /dev/null,
 * stdout and stderr on one pipe, and no other descriptor. The parent keeps at most 4 KiB of
 * the output (the rest is read and dropped so the child never blocks on a full pipe) and
 * kills the child's process group with SIGKILL once timeout_ms has passed. */
#include "respond/act.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ACT_RUN_OUT_MAX 4096

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_other_fds(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		close(fd);
}

/* In the child: never returns. */
static void child_exec(const char *const *argv, int out_fd)
{
	static const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	setpgid(0, 0);
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	close_other_fds();
	execve(argv[0], (char *const *)argv, (char *const *)envp);
	_exit(127);
}

/* Reads the child's output until end of file or the deadline. Returns 0 or -ETIMEDOUT. */
static int collect(int fd, int64_t deadline, char *out, size_t outlen, size_t *used)
{
	char chunk[1024];

	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return 0;
		size_t cap = outlen ? outlen - 1 : 0;
		if (cap > ACT_RUN_OUT_MAX)
			cap = ACT_RUN_OUT_MAX;
		size_t room = cap - *used;
		size_t take = (size_t)r < room ? (size_t)r : room;
		if (out && take) {
			memcpy(out + *used, chunk, take);
			*used += take;
			out[*used] = '\0';
		}
	}
}

/* Waits for pid until the deadline; returns its exit status or -ETIMEDOUT. */
static int reap(pid_t pid, int64_t deadline)
{
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int act_run(const char *const *argv, int timeout_ms, char *out, size_t outlen)
{
	int pfd[2];
	size_t used = 0;

	if (!argv || !argv[0] || argv[0][0] != '/' || timeout_ms <= 0)
		return -EINVAL;
	if (out && outlen)
		out[0] = '\0';
	if (access(argv[0], X_OK) < 0)
		return -errno;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0)
		child_exec(argv, pfd[1]);
	close(pfd[1]);
	int64_t deadline = now_ms() + timeout_ms;
	int r = collect(pfd[0], deadline, out, out ? outlen : 0, &used);
	close(pfd[0]);
	if (r == 0)
		r = reap(pid, deadline);
	if (r == -ETIMEDOUT) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	return r;
}
