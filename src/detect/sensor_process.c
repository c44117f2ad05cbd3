/* The process sensor (sensor.h, docs/sensors.md "Process"): exec and exit of every process.
 *
 * eBPF first (tp_btf/sched_process_exec and sched_process_exit, one ring buffer; the BPF
 * program reads argv, the image and working directory paths, uids, tty and cgroup, so no
 * /proc read is needed per exec), else the netlink process connector (PROC_EVENT_EXEC/EXIT)
 * with /proc reads. Lost events are counted: ring buffer reservations that failed (a BPF
 * map) and ENOBUFS on the netlink socket (each counts one: the kernel does not say how many
 * messages it dropped). */
#include "detect/sensor.h"
#include "detect/sensor_mech.h"

#include "lib/buf.h"

#include "detect/bpf/bpf_config.h"
#include "detect/procinfo.h"

#include <event2/event.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#if IMMUNE_HAVE_BPF
#include <bpf/libbpf.h>

#include "detect/bpf/process.skel.h"
#include "detect/bpf/records.h"
#endif

#define PID_CACHE_SLOTS 4096
#define CGROUP_SLOTS 64

struct cgroup_slot {
	uint64_t id;
	uint16_t len;
	char path[256];
};

struct proc_sensor {
	struct sensor_ctx ctx;
	const char *root;
	const char *mechanism;
	bool active;
	char message[256];
	uint64_t events, lost, skipped;
	struct host_event ev; /* reused for every event */
	struct procinfo_cache *cache;
	struct procinfo_users *users;
	struct cgroup_slot cgroups[CGROUP_SLOTS];
	/* the proc connector */
	int nl_fd;
	struct event *nl_ev;
#if IMMUNE_HAVE_BPF
	struct sensor_bpf bpf; /* loaded by a child, ring read on the loop (sensor_mech.h) */
#endif
};

static void emit(struct proc_sensor *s)
{
	char tag[40];
	snprintf(tag, sizeof(tag), "process/%s", s->mechanism);
	host_event_set_str(&s->ev, EF_SENSOR, tag);
	s->events++;
	s->ctx.emit(&s->ev, s->ctx.emit_arg);
}

/* The exit event of pid, with the image and command line the cache knows; forgets pid. */
/* A new process runs its parent's image until it execs: it gets a copy of the parent's
 * cache entry (read from /proc when the parent is not cached yet), so its children name
 * the right parent even when the process has exec'd something else by the time their
 * records are read. */
static void note_fork(struct proc_sensor *s, pid_t pid, pid_t ppid)
{
	const struct procinfo_entry *e = procinfo_cache_lookup(s->cache, s->root, ppid);
	if (e)
		procinfo_cache_put(s->cache, pid, e->image, e->image_len, e->name, e->cmdline,
				   e->cmdline_len);
}

static void emit_exit(struct proc_sensor *s, pid_t pid, pid_t ppid, uint32_t status,
		      const char *comm, int64_t time_ns)
{
	struct host_event *ev = &s->ev;
	host_event_reset(ev, EVENT_PROCESS_EXIT, time_ns);
	host_event_set_int(ev, EF_PID, pid);
	if (ppid > 0)
		host_event_set_int(ev, EF_PPID, ppid);
	host_event_set_int(ev, EF_EXIT_CODE, procinfo_exit_code(status));
	const struct procinfo_entry *e = procinfo_cache_get(s->cache, pid);
	if (e) {
		if (e->image_len)
			host_event_set(ev, EF_IMAGE, e->image, e->image_len);
		if (e->cmdline_len)
			host_event_set(ev, EF_COMMAND_LINE, e->cmdline, e->cmdline_len);
		if (e->name[0])
			host_event_set_str(ev, EF_PROCESS_NAME, e->name);
	} else if (comm && comm[0]) {
		host_event_set_str(ev, EF_PROCESS_NAME, comm);
	}
	emit(s);
	procinfo_cache_del(s->cache, pid);
}

/* netlink process connector */

static void nl_read(evutil_socket_t fd, short what, void *arg);

static int nl_start(struct proc_sensor *s)
{
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	int rcvbuf = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	/* nlmsghdr, cn_msg, then the operation: cn_msg ends in a flexible array, so the
	 * message is laid out by hand in an aligned buffer. */
	_Alignas(struct nlmsghdr)
		uint8_t msg[NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(uint32_t))] = { 0 };
	struct nlmsghdr *nl = (struct nlmsghdr *)msg;
	struct cn_msg *cn = NLMSG_DATA(nl);
	uint32_t op = PROC_CN_MCAST_LISTEN;
	nl->nlmsg_len = sizeof(msg);
	nl->nlmsg_type = NLMSG_DONE;
	nl->nlmsg_pid = 0;
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (send(fd, msg, sizeof(msg), 0) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	s->nl_ev = event_new(s->ctx.base, fd, EV_READ | EV_PERSIST, nl_read, s);
	if (!s->nl_ev || event_add(s->nl_ev, NULL) < 0) {
		close(fd);
		return -ENOMEM;
	}
	s->nl_fd = fd;
	return 0;
}

static void nl_exec(struct proc_sensor *s, pid_t pid, int64_t now)
{
	host_event_reset(&s->ev, EVENT_PROCESS_EXEC, now);
	if (procinfo_read_process(s->root, pid, s->cache, s->users, &s->ev) < 0) {
		/* gone before we could read it: what the connector gave is all there is */
		host_event_reset(&s->ev, EVENT_PROCESS_EXEC, now);
		host_event_set_int(&s->ev, EF_PID, pid);
	}
	emit(s);
}

/* One netlink datagram: a sequence of nlmsghdr + cn_msg + proc_event. */
static void nl_datagram(struct proc_sensor *s, const unsigned char *p, size_t n)
{
	struct cursor c;
	cursor_init(&c, p, n);
	while (!cursor_done(&c)) {
		const void *hp, *body;
		struct nlmsghdr h;
		if (cursor_get_bytes(&c, sizeof(h), &hp) < 0) {
			s->skipped++;
			return;
		}
		memcpy(&h, hp, sizeof(h));
		if (h.nlmsg_len < sizeof(h) ||
		    cursor_get_bytes(&c, h.nlmsg_len - sizeof(h), &body) < 0) {
			s->skipped++;
			return;
		}
		size_t blen = h.nlmsg_len - sizeof(h);
		size_t pad = NLMSG_ALIGN(h.nlmsg_len) - h.nlmsg_len;
		const void *skip;
		if (pad && c.left >= pad)
			(void)cursor_get_bytes(&c, pad, &skip);
		if (h.nlmsg_type == NLMSG_NOOP)
			continue;
		struct cn_msg cn;
		struct proc_event pe;
		if (blen < sizeof(cn)) {
			s->skipped++;
			continue;
		}
		memcpy(&cn, body, sizeof(cn));
		if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
			continue;
		if (blen - sizeof(cn) < cn.len ||
		    cn.len < offsetof(struct proc_event, event_data)) {
			s->skipped++;
			continue;
		}
		memset(&pe, 0, sizeof(pe));
		memcpy(&pe, (const unsigned char *)body + sizeof(cn),
		       cn.len < sizeof(pe) ? cn.len : sizeof(pe));
		int64_t now = sensor_clock_ns(CLOCK_REALTIME);
		if (pe.what == PROC_EVENT_FORK) {
			if (pe.event_data.fork.child_pid == pe.event_data.fork.child_tgid)
				note_fork(s, pe.event_data.fork.child_tgid,
					  pe.event_data.fork.parent_tgid);
		} else if (pe.what == PROC_EVENT_EXEC) {
			nl_exec(s, pe.event_data.exec.process_tgid, now);
		} else if (pe.what == PROC_EVENT_EXIT) {
			if (pe.event_data.exit.process_pid != pe.event_data.exit.process_tgid)
				continue; /* a thread */
			emit_exit(s, pe.event_data.exit.process_tgid,
				  pe.event_data.exit.parent_tgid, pe.event_data.exit.exit_code,
				  NULL, now);
		}
	}
}

static void nl_read(evutil_socket_t fd, short what, void *arg)
{
	struct proc_sensor *s = arg;
	unsigned char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	(void)what;
	for (int i = 0; i < 256; i++) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == ENOBUFS) {
				s->lost++;
				continue;
			}
			return; /* EAGAIN, or nothing we can do now */
		}
		if (fl != sizeof(from) || from.nl_pid != 0) {
			s->skipped++; /* only the kernel speaks on this socket */
			continue;
		}
		nl_datagram(s, buf, (size_t)n);
	}
}

/* eBPF */

#if IMMUNE_HAVE_BPF
static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* Rebuilds a path from its components, leaf first, NUL-terminated each. Returns the length. */
static size_t join_path(const char *comp, uint32_t len, char *out, size_t size)
{
	const char *start[REC_PATH_DEPTH + 1];
	uint32_t n = 0;
	for (uint32_t off = 0; off < len && n < ARRAY_SIZE(start);) {
		start[n++] = comp + off;
		const char *nul = memchr(comp + off, '\0', len - off);
		if (!nul)
			break;
		off = (uint32_t)(nul - comp) + 1;
	}
	size_t o = 0;
	while (n > 0 && o + 1 < size) {
		const char *c = start[--n];
		size_t cl = strnlen(c, (size_t)(comp + len - c));
		out[o++] = '/';
		if (cl > size - 1 - o)
			cl = size - 1 - o;
		memcpy(out + o, c, cl);
		o += cl;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return o;
}

/* The unified cgroup path of a cgroup id, read once from /proc/PID/cgroup. */
static size_t cgroup_path(struct proc_sensor *s, uint64_t id, pid_t pid, const char **path)
{
	struct cgroup_slot *sl = &s->cgroups[id % CGROUP_SLOTS];
	if (sl->id == id && id != 0) {
		*path = sl->path;
		return sl->len;
	}
	char file[64], buf[1024];
	const char *r = strcmp(s->root, "/") != 0 ? s->root : "";
	char fpath[600];
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	int n = snprintf(fpath, sizeof(fpath), "%s%s", r, file);
	if (n < 0 || (size_t)n >= sizeof(fpath))
		return 0;
	FILE *f = fopen(fpath, "re");
	if (!f)
		return 0;
	size_t got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	const char *cp;
	size_t cl;
	if (procinfo_cgroup_path(buf, got, &cp, &cl) < 0 || cl >= sizeof(sl->path))
		return 0;
	memcpy(sl->path, cp, cl);
	sl->path[cl] = '\0';
	sl->len = (uint16_t)cl;
	sl->id = id;
	*path = sl->path;
	return cl;
}

static void bpf_exec(struct proc_sensor *s, const struct rec_exec *r, size_t size)
{
	struct host_event *ev = &s->ev;
	char path[REC_PATH_MAX + REC_NAME_MAX + 2];
	char args[REC_ARGS_MAX];
	const char *data = (const char *)(r + 1);

	if (r->exe_len >= 2048 || r->cwd_len >= 2048 || r->args_len > REC_ARGS_MAX ||
	    (size_t)r->exe_len + r->cwd_len + r->args_len != size - sizeof(*r)) {
		s->skipped++;
		return;
	}
	const char *exe = data, *cwd = data + r->exe_len, *argv = cwd + r->cwd_len;
	host_event_reset(ev, EVENT_PROCESS_EXEC, (int64_t)r->time_ns + s->bpf.boot_to_real_ns);
	pid_t pid = (pid_t)r->pid;
	host_event_set_int(ev, EF_PID, pid);
	size_t il = r->exe_len ? join_path(exe, r->exe_len, path, sizeof(path)) : 0;
	char comm[sizeof(r->comm) + 1];
	memcpy(comm, r->comm, sizeof(r->comm));
	comm[sizeof(r->comm)] = '\0';
	const char *name = comm;
	if (il) {
		host_event_set(ev, EF_IMAGE, path, il);
		name = procinfo_base_name(ev->v[EF_IMAGE].p);
	}
	host_event_set_str(ev, EF_PROCESS_NAME, name);
	memcpy(args, argv, r->args_len);
	size_t al = procinfo_join_argv(args, r->args_len);
	if (al)
		host_event_set(ev, EF_COMMAND_LINE, args, al);
	size_t cl = join_path(cwd, r->cwd_len, path, sizeof(path));
	host_event_set(ev, EF_CURRENT_DIRECTORY, path, cl);
	host_event_set_int(ev, EF_UID, r->uid);
	host_event_set_int(ev, EF_EUID, r->euid);
	const char *user = procinfo_user_name(s->users, r->uid);
	if (user)
		host_event_set_str(ev, EF_USER, user);
	if (r->loginuid != UINT32_MAX)
		host_event_set_int(ev, EF_LOGIN_UID, r->loginuid);
	char tty[32];
	size_t tl = r->tty_major ? procinfo_tty_name((uint32_t)makedev(r->tty_major, r->tty_minor),
						     tty, sizeof(tty))
				 : 0;
	if (tl)
		host_event_set(ev, EF_TTY, tty, tl);
	const char *cg;
	size_t cgl = cgroup_path(s, r->cgroup_id, pid, &cg);
	if (cgl)
		procinfo_set_cgroup(ev, cg, cgl);
	if (r->flags)
		ev->truncated = true;
	procinfo_set_parent(s->cache, s->root, (pid_t)r->ppid, ev);
	procinfo_cache_put(s->cache, pid, ev->v[EF_IMAGE].p ? ev->v[EF_IMAGE].p : "",
			   ev->v[EF_IMAGE].len, ev->v[EF_PROCESS_NAME].p, ev->v[EF_COMMAND_LINE].p,
			   ev->v[EF_COMMAND_LINE].len);
	emit(s);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct proc_sensor *s = ctx;
	uint32_t type;
	if (size < sizeof(type)) {
		s->skipped++;
		return 0;
	}
	memcpy(&type, data, sizeof(type));
	if (type == REC_EXEC && size >= sizeof(struct rec_exec)) {
		bpf_exec(s, data, size);
	} else if (type == REC_FORK && size >= sizeof(struct rec_fork)) {
		const struct rec_fork *r = data;
		note_fork(s, (pid_t)r->pid, (pid_t)r->ppid);
	} else if (type == REC_EXIT && size >= sizeof(struct rec_exit)) {
		const struct rec_exit *r = data;
		char comm[sizeof(r->comm) + 1];
		memcpy(comm, r->comm, sizeof(r->comm));
		comm[sizeof(r->comm)] = '\0';
		emit_exit(s, (pid_t)r->pid, (pid_t)r->ppid, r->exit_code, comm,
			  (int64_t)r->time_ns + s->bpf.boot_to_real_ns);
	} else {
		s->skipped++;
	}
	return 0;
}

enum { FD_EVENTS, FD_LOST, FD_LINK_EXEC, FD_LINK_EXIT, FD_LINK_FORK, FD_COUNT };

/* In the loader child: load, attach, hand over the descriptors (the child then exits). */
static int bpf_load(void *arg, int *fds, size_t max)
{
	(void)arg;
	libbpf_set_print(silent_print);
	struct process_bpf *skel = process_bpf__open_and_load();
	if (!skel)
		return errno ? -errno : -EINVAL;
	int r = process_bpf__attach(skel);
	if (r < 0)
		return r;
	if (max < FD_COUNT)
		return -EINVAL;
	fds[FD_EVENTS] = bpf_map__fd(skel->maps.events);
	fds[FD_LOST] = bpf_map__fd(skel->maps.lost);
	fds[FD_LINK_EXEC] = bpf_link__fd(skel->links.on_exec);
	fds[FD_LINK_EXIT] = bpf_link__fd(skel->links.on_exit);
	fds[FD_LINK_FORK] = bpf_link__fd(skel->links.on_fork);
	return FD_COUNT;
}

static uint64_t bpf_lost(struct proc_sensor *s)
{
	return s->bpf.nfds ? sensor_percpu_sum(s->bpf.fds[FD_LOST]) : 0;
}
#endif

static int proc_start(const struct sensor_ctx *ctx, void **state)
{
	const char *mech =
		ctx->cfg && ctx->cfg->process_mechanism ? ctx->cfg->process_mechanism : "auto";
	bool want_bpf = strcmp(mech, "auto") == 0 || strcmp(mech, "ebpf") == 0;
	bool want_nl = strcmp(mech, "auto") == 0 || strcmp(mech, "proc_connector") == 0;
	if (!want_bpf && !want_nl && strcmp(mech, "off") != 0)
		return -EINVAL;

	struct proc_sensor *s = xcalloc(1, sizeof(*s));
	s->ctx = *ctx;
	s->root = ctx->cfg && ctx->cfg->root ? ctx->cfg->root : "/";
	s->nl_fd = -1;
	s->mechanism = "none";
	host_event_init(&s->ev);
	int r = procinfo_cache_new(PID_CACHE_SLOTS, &s->cache);
	if (r == 0)
		r = procinfo_users_new(s->root, &s->users);
	if (r < 0) {
		procinfo_cache_free(s->cache);
		free(s);
		return r;
	}
	*state = s;
	if (!want_bpf && !want_nl) {
		snprintf(s->message, sizeof(s->message), "off by configuration");
		return 0;
	}
	if (want_bpf) {
#if IMMUNE_HAVE_BPF
		r = sensor_bpf_start(&s->bpf, s->ctx.base, bpf_load, FD_COUNT, FD_EVENTS, on_record,
				     s);
		if (r == 0) {
			s->mechanism = "ebpf";
			s->active = true;
			return 0;
		}
		sensor_bpf_stop(&s->bpf);
		snprintf(s->message, sizeof(s->message), "ebpf: %s", strerror(-r));
#else
		snprintf(s->message, sizeof(s->message), "ebpf: not built (no kernel BTF)");
#endif
	}
	if (want_nl) {
		r = nl_start(s);
		if (r == 0) {
			s->mechanism = "proc_connector";
			s->active = true;
			return 0;
		}
		size_t l = strlen(s->message);
		snprintf(s->message + l, sizeof(s->message) - l, "%sproc_connector: %s",
			 l ? "; " : "", strerror(-r));
	}
	return 0;
}

static void proc_health(void *state, struct sensor_health *out)
{
	struct proc_sensor *s = state;
	memset(out, 0, sizeof(*out));
	out->name = "process";
	out->mechanism = s->mechanism;
	out->active = s->active;
	out->events = s->events;
	out->lost = s->lost;
#if IMMUNE_HAVE_BPF
	out->lost += bpf_lost(s);
#endif
	out->skipped = s->skipped;
	snprintf(out->message, sizeof(out->message), "%s", s->message);
}

static void proc_stop(void *state)
{
	struct proc_sensor *s = state;
	if (!s)
		return;
#if IMMUNE_HAVE_BPF
	sensor_bpf_stop(&s->bpf);
#endif
	sensor_loop_event_free(s->nl_ev);
	if (s->nl_fd >= 0)
		close(s->nl_fd);
	procinfo_cache_free(s->cache);
	procinfo_users_free(s->users);
	host_event_free(&s->ev);
	free(s);
}

const struct sensor_ops sensor_process = {
	.name = "process",
	.start = proc_start,
	.health = proc_health,
	.stop = proc_stop,
};
