/* Helpers the process and network sensors share (sensor_mech.h). */
#include "detect/sensor_mech.h"

#include "detect/bpf/bpf_config.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#if IMMUNE_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif

void sensor_loop_event_free(struct event *loop_ev)
{
	if (loop_ev)
		event_free(loop_ev);
}

uint64_t sensor_percpu_sum(int map_fd)
{
#if IMMUNE_HAVE_BPF
	int ncpu = libbpf_num_possible_cpus();
	if (map_fd < 0 || ncpu <= 0 || ncpu > 4096)
		return 0;
	uint64_t *v = xcalloc((size_t)ncpu, sizeof(*v));
	uint32_t k = 0;
	uint64_t sum = 0;
	if (bpf_map_lookup_elem(map_fd, &k, v) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
#else
	(void)map_fd;
	return 0;
#endif
}

int sensor_load_in_child(int (*load)(void *arg, int *fds, size_t max), void *arg, int *fds,
			 size_t max)
{
	int sv[2];
	if (max > SENSOR_MAX_FDS)
		max = SENSOR_MAX_FDS;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int) * SENSOR_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { 0 };
	int32_t n;
	struct iovec iov = { .iov_base = &n, .iov_len = sizeof(n) };
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (pid == 0) {
		int got[SENSOR_MAX_FDS];
		close(sv[0]);
		n = load(arg, got, max);
		memset(&u, 0, sizeof(u));
		if (n > 0) {
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
			memcpy(CMSG_DATA(c), got, sizeof(int) * (size_t)n);
		}
		_exit(sendmsg(sv[1], &mh, 0) < 0 ? 1 : 0);
	}
	close(sv[1]);
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	ssize_t got;
	do
		got = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	int r = got == (ssize_t)sizeof(n) ? n : -EPROTO;
	int nfd = 0;
	for (struct cmsghdr *c = got > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if ((size_t)nfd < max)
				fds[nfd++] = fd;
			else
				close(fd);
		}
	}
	close(sv[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r >= 0 && nfd != r)
		r = -EPROTO;
	if (r < 0)
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
	return r;
}

int64_t sensor_clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if IMMUNE_HAVE_BPF
static void ring_ready(evutil_socket_t fd, short what, void *arg)
{
	struct sensor_bpf *b = arg;
	(void)fd;
	(void)what;
	b->boot_to_real_ns = sensor_clock_ns(CLOCK_REALTIME) - sensor_clock_ns(CLOCK_BOOTTIME);
	(void)ring_buffer__consume(b->rb);
}

static int ring_start(struct sensor_bpf *b, struct event_base *base, size_t ring_index,
		      sensor_record_fn fn, void *arg)
{
	b->rb = ring_buffer__new(b->fds[ring_index], fn, arg, NULL);
	if (!b->rb)
		return errno ? -errno : -ENOMEM;
	b->boot_to_real_ns = sensor_clock_ns(CLOCK_REALTIME) - sensor_clock_ns(CLOCK_BOOTTIME);
	b->ready =
		event_new(base, ring_buffer__epoll_fd(b->rb), EV_READ | EV_PERSIST, ring_ready, b);
	if (!b->ready || event_add(b->ready, NULL) < 0)
		return -ENOMEM;
	const struct timeval every = { 0, SENSOR_RING_DRAIN_MS * 1000 };
	b->drain = event_new(base, -1, EV_PERSIST, ring_ready, b);
	if (!b->drain || event_add(b->drain, &every) < 0)
		return -ENOMEM;
	return 0;
}
#endif

int sensor_bpf_start(struct sensor_bpf *b, struct event_base *base,
		     int (*load)(void *arg, int *fds, size_t max), size_t nfds, size_t ring_index,
		     sensor_record_fn fn, void *arg)
{
#if IMMUNE_HAVE_BPF
	memset(b, 0, sizeof(*b));
	if (nfds > SENSOR_MAX_FDS || ring_index >= nfds)
		return -EINVAL;
	int n = sensor_load_in_child(load, NULL, b->fds, nfds);
	if (n < 0)
		return n;
	b->nfds = n;
	int r = (size_t)n == nfds ? ring_start(b, base, ring_index, fn, arg) : -EPROTO;
	if (r < 0)
		sensor_bpf_stop(b);
	return r;
#else
	(void)b, (void)base, (void)load, (void)nfds, (void)ring_index, (void)fn, (void)arg;
	return -EOPNOTSUPP;
#endif
}

void sensor_bpf_stop(struct sensor_bpf *b)
{
#if IMMUNE_HAVE_BPF
	sensor_loop_event_free(b->ready);
	sensor_loop_event_free(b->drain);
	b->ready = b->drain = NULL;
	ring_buffer__free(b->rb);
	b->rb = NULL;
	for (int i = 0; i < b->nfds; i++)
		close(b->fds[i]);
	b->nfds = 0;
#else
	(void)b;
#endif
}
