/* The network sensor (sensor.h, docs/sensors.md "Network"): TCP listening sockets opened and
 * closed, outbound connections and accepted inbound ones, with the owning process.
 *
 * eBPF first (tp_btf/inet_sock_set_state: listen() and connect() run in the owner's context;
 * an accepted connection is attributed to the owner of the listening port), else a poll of
 * the socket table over sock_diag netlink every network_poll_ms, diffed against the previous
 * poll, with socket inodes mapped to pids through /proc/PID/fd. Polling misses connections
 * that open and close between two polls. */
#include "detect/sensor.h"
#include "detect/sensor_mech.h"

#include "lib/buf.h"

#include "detect/bpf/bpf_config.h"
#include "detect/procinfo.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if IMMUNE_HAVE_BPF
#include <bpf/libbpf.h>

#include "detect/bpf/network.skel.h"
#include "detect/bpf/records.h"
#endif

#define PID_CACHE_SLOTS 1024
#define LISTEN_SLOTS 1024
#define MAX_SOCKETS (1u << 18) /* sockets kept per poll; more are counted as skipped */

enum { TCPS_ESTABLISHED = 1, TCPS_SYN_SENT = 2, TCPS_LISTEN = 10 };
enum { NET_LISTEN = 1, NET_LISTEN_CLOSE, NET_CONNECT, NET_ACCEPT };

struct listener {
	uint16_t port;
	pid_t pid;
};

/* One socket of a poll; the key is everything but inode and pid. */
struct sock_entry {
	uint8_t listen, family;
	uint16_t sport, dport;
	uint8_t saddr[16], daddr[16];
	uint32_t inode;
	pid_t pid;
};

struct sock_set {
	struct sock_entry *v;
	size_t n, cap;
};

struct net_sensor {
	struct sensor_ctx ctx;
	const char *root;
	const char *mechanism;
	bool active;
	char message[256];
	uint64_t events, lost, skipped;
	struct host_event ev;
	struct procinfo_cache *cache;
	struct listener listeners[LISTEN_SLOTS];
	/* poll */
	struct event *timer;
	uint32_t poll_ms;
	bool primed;
	struct sock_set prev, cur;
	unsigned char diag_buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
#if IMMUNE_HAVE_BPF
	struct sensor_bpf bpf; /* loaded by a child, ring read on the loop (sensor_mech.h) */
#endif
};

static void listener_set(struct net_sensor *s, uint16_t port, pid_t pid)
{
	struct listener *l = &s->listeners[port % LISTEN_SLOTS];
	l->port = port;
	l->pid = pid;
}

static pid_t listener_pid(struct net_sensor *s, uint16_t port)
{
	struct listener *l = &s->listeners[port % LISTEN_SLOTS];
	return l->port == port ? l->pid : 0;
}

static void set_addr(struct host_event *ev, enum event_field f, int family, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];
	if (inet_ntop(family, a, buf, sizeof(buf)))
		host_event_set_str(ev, f, buf);
}

/* Builds and emits one event; pid 0: the owner is unknown. */
static void emit_net(struct net_sensor *s, int what, int family, const uint8_t *saddr,
		     uint16_t sport, const uint8_t *daddr, uint16_t dport, pid_t pid,
		     int64_t time_ns)
{
	static const enum event_kind kinds[] = {
		[NET_LISTEN] = EVENT_NET_LISTEN,
		[NET_LISTEN_CLOSE] = EVENT_NET_LISTEN_CLOSE,
		[NET_CONNECT] = EVENT_NET_CONNECT,
		[NET_ACCEPT] = EVENT_NET_ACCEPT,
	};
	struct host_event *ev = &s->ev;
	host_event_reset(ev, kinds[what], time_ns);
	host_event_set_str(ev, EF_PROTOCOL, "tcp");
	set_addr(ev, EF_SRC_IP, family, saddr);
	if (sport)
		host_event_set_int(ev, EF_SRC_PORT, sport);
	if (what == NET_CONNECT || what == NET_ACCEPT) {
		set_addr(ev, EF_DST_IP, family, daddr);
		host_event_set_int(ev, EF_DST_PORT, dport);
		host_event_set_str(ev, EF_DIRECTION, what == NET_CONNECT ? "outbound" : "inbound");
	}
	if (pid > 0) {
		host_event_set_int(ev, EF_PID, pid);
		const struct procinfo_entry *e = procinfo_cache_lookup(s->cache, s->root, pid);
		if (e) {
			if (e->image_len)
				host_event_set(ev, EF_IMAGE, e->image, e->image_len);
			if (e->name[0])
				host_event_set_str(ev, EF_PROCESS_NAME, e->name);
			if (e->cmdline_len)
				host_event_set(ev, EF_COMMAND_LINE, e->cmdline, e->cmdline_len);
		}
	}
	char tag[40];
	snprintf(tag, sizeof(tag), "network/%s", s->mechanism);
	host_event_set_str(ev, EF_SENSOR, tag);
	s->events++;
	s->ctx.emit(ev, s->ctx.emit_arg);
}

/* sock_diag polling */

static int diag_dump(struct net_sensor *s, int fd, uint8_t family, struct sock_set *set)
{
	struct {
		struct nlmsghdr nl;
		struct inet_diag_req_v2 req;
	} msg = { 0 };
	msg.nl.nlmsg_len = sizeof(msg);
	msg.nl.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nl.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.req.sdiag_family = family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states =
		(1u << TCPS_LISTEN) | (1u << TCPS_SYN_SENT) | (1u << TCPS_ESTABLISHED);
	if (send(fd, &msg, sizeof(msg), 0) < 0)
		return -errno;

	unsigned char *buf = s->diag_buf;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(s->diag_buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPROTO;
		struct cursor c;
		cursor_init(&c, buf, (size_t)n);
		while (!cursor_done(&c)) {
			const void *hp, *body;
			struct nlmsghdr h;
			if (cursor_get_bytes(&c, sizeof(h), &hp) < 0)
				return -EBADMSG;
			memcpy(&h, hp, sizeof(h));
			if (h.nlmsg_len < sizeof(h) ||
			    cursor_get_bytes(&c, h.nlmsg_len - sizeof(h), &body) < 0)
				return -EBADMSG;
			size_t pad = NLMSG_ALIGN(h.nlmsg_len) - h.nlmsg_len;
			const void *skip;
			if (pad && c.left >= pad)
				(void)cursor_get_bytes(&c, pad, &skip);
			if (h.nlmsg_type == NLMSG_DONE)
				return 0;
			if (h.nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h.nlmsg_len - sizeof(h) < sizeof(struct inet_diag_msg))
				continue;
			struct inet_diag_msg m;
			memcpy(&m, body, sizeof(m));
			if (set->n >= MAX_SOCKETS) {
				s->skipped++;
				continue;
			}
			if (set->n == set->cap) {
				set->cap = set->cap ? set->cap * 2 : 256;
				set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
			}
			struct sock_entry *e = &set->v[set->n++];
			memset(e, 0, sizeof(*e));
			e->listen = m.idiag_state == TCPS_LISTEN;
			e->family = m.idiag_family;
			e->sport = ntohs(m.id.idiag_sport);
			e->dport = ntohs(m.id.idiag_dport);
			size_t al = m.idiag_family == AF_INET ? 4 : 16;
			memcpy(e->saddr, m.id.idiag_src, al);
			memcpy(e->daddr, m.id.idiag_dst, al);
			e->inode = m.idiag_inode;
		}
	}
}

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(a, b, offsetof(struct sock_entry, inode));
}

static bool inode_wanted(const uint32_t *want, size_t n, uint32_t ino)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (want[mid] == ino)
			return true;
		if (want[mid] < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Parses "socket:[N]"; returns 0 or -EINVAL. */
static int socket_inode(const char *link, size_t len, uint32_t *ino)
{
	if (len < 10 || memcmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 8; i < len - 1; i++) {
		if (link[i] < '0' || link[i] > '9' || v > UINT32_MAX)
			return -EINVAL;
		v = v * 10 + (uint64_t)(link[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*ino = (uint32_t)v;
	return 0;
}

/* Sets the pid of each new entry (new[i]) by scanning /proc/PID/fd for their inodes. */
static void map_owners(struct net_sensor *s, struct sock_entry **fresh, size_t nfresh)
{
	uint32_t *want = xcalloc(nfresh, sizeof(*want));
	size_t nw = 0;
	for (size_t i = 0; i < nfresh; i++)
		if (fresh[i]->inode)
			want[nw++] = fresh[i]->inode;
	if (nw == 0) {
		free(want);
		return;
	}
	qsort(want, nw, sizeof(*want), u32_cmp);
	char proc[600];
	const char *r = strcmp(s->root, "/") != 0 ? s->root : "";
	snprintf(proc, sizeof(proc), "%s/proc", r);
	DIR *d = opendir(proc);
	if (!d) {
		free(want);
		return;
	}
	size_t found = 0;
	struct dirent *de;
	while (found < nw && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char fdpath[700];
		snprintf(fdpath, sizeof(fdpath), "%s/%ld/fd", proc, pid);
		int dfd = open(fdpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		DIR *fdd = fdopendir(dfd);
		if (!fdd) {
			close(dfd);
			continue;
		}
		struct dirent *fe;
		while ((fe = readdir(fdd))) {
			char link[64];
			ssize_t n = readlinkat(dirfd(fdd), fe->d_name, link, sizeof(link));
			uint32_t ino;
			if (n <= 0 || socket_inode(link, (size_t)n, &ino) < 0 ||
			    !inode_wanted(want, nw, ino))
				continue;
			for (size_t i = 0; i < nfresh; i++)
				if (fresh[i]->inode == ino && fresh[i]->pid == 0) {
					fresh[i]->pid = (pid_t)pid;
					found++;
				}
		}
		closedir(fdd);
	}
	closedir(d);
	free(want);
}

static bool port_listening(const struct sock_set *set, uint16_t port)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].listen && set->v[i].sport == port)
			return true;
	return false;
}

static void poll_once(struct net_sensor *s)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		s->skipped++;
		return;
	}
	s->cur.n = 0;
	int r = diag_dump(s, fd, AF_INET, &s->cur);
	if (r == 0)
		r = diag_dump(s, fd, AF_INET6, &s->cur);
	close(fd);
	if (r < 0) {
		s->skipped++;
		return;
	}
	qsort(s->cur.v, s->cur.n, sizeof(*s->cur.v), entry_cmp);
	int64_t now = sensor_clock_ns(CLOCK_REALTIME);
	if (s->primed) {
		/* merge: entries only in cur are new, only in prev are gone */
		struct sock_entry **fresh = xcalloc(s->cur.n + 1, sizeof(*fresh));
		size_t nf = 0, i = 0, j = 0;
		while (i < s->prev.n || j < s->cur.n) {
			int c = i == s->prev.n	? 1
				: j == s->cur.n ? -1
						: entry_cmp(&s->prev.v[i], &s->cur.v[j]);
			if (c == 0) {
				s->cur.v[j].pid = s->prev.v[i].pid;
				i++, j++;
			} else if (c < 0) {
				const struct sock_entry *e = &s->prev.v[i++];
				if (e->listen)
					emit_net(s, NET_LISTEN_CLOSE, e->family, e->saddr, e->sport,
						 e->daddr, e->dport, e->pid, now);
			} else {
				fresh[nf++] = &s->cur.v[j++];
			}
		}
		map_owners(s, fresh, nf);
		for (size_t k = 0; k < nf; k++) {
			const struct sock_entry *e = fresh[k];
			int what = e->listen			       ? NET_LISTEN
				   : port_listening(&s->cur, e->sport) ? NET_ACCEPT
								       : NET_CONNECT;
			emit_net(s, what, e->family, e->saddr, e->sport, e->daddr, e->dport, e->pid,
				 now);
		}
		free(fresh);
	}
	s->primed = true;
	struct sock_set t = s->prev;
	s->prev = s->cur;
	s->cur = t;
}

static void poll_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_once(arg);
}

static int poll_start(struct net_sensor *s)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	close(fd);
	s->timer = event_new(s->ctx.base, -1, EV_PERSIST, poll_tick, s);
	struct timeval tv = { .tv_sec = s->poll_ms / 1000,
			      .tv_usec = (suseconds_t)(s->poll_ms % 1000) * 1000 };
	if (!s->timer || event_add(s->timer, &tv) < 0)
		return -ENOMEM;
	poll_once(s); /* the baseline: what exists now is not reported */
	return 0;
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

static int on_record(void *ctx, void *data, size_t size)
{
	struct net_sensor *s = ctx;
	struct rec_net r;
	if (size < sizeof(r)) {
		s->skipped++;
		return 0;
	}
	memcpy(&r, data, sizeof(r));
	if (r.type != REC_NET || r.what < NET_LISTEN || r.what > NET_ACCEPT ||
	    (r.family != AF_INET && r.family != AF_INET6)) {
		s->skipped++;
		return 0;
	}
	int64_t t = (int64_t)r.time_ns + s->bpf.boot_to_real_ns;
	pid_t pid = (pid_t)r.pid;
	if (r.what == NET_LISTEN) {
		listener_set(s, r.sport, pid);
	} else if (r.what == NET_LISTEN_CLOSE) {
		pid_t owner = listener_pid(s, r.sport);
		if (owner)
			pid = owner;
	} else if (r.what == NET_ACCEPT) {
		pid = listener_pid(s, r.sport);
	}
	emit_net(s, (int)r.what, r.family, r.saddr, r.sport, r.daddr, r.dport, pid, t);
	return 0;
}

enum { FD_EVENTS, FD_LOST, FD_LINK, FD_COUNT };

/* In the loader child: load, attach, hand over the descriptors (the child then exits). */
static int bpf_load(void *arg, int *fds, size_t max)
{
	(void)arg;
	libbpf_set_print(silent_print);
	struct network_bpf *skel = network_bpf__open_and_load();
	if (!skel)
		return errno ? -errno : -EINVAL;
	int r = network_bpf__attach(skel);
	if (r < 0)
		return r;
	if (max < FD_COUNT)
		return -EINVAL;
	fds[FD_EVENTS] = bpf_map__fd(skel->maps.events);
	fds[FD_LOST] = bpf_map__fd(skel->maps.lost);
	fds[FD_LINK] = bpf_link__fd(skel->links.on_state);
	return FD_COUNT;
}

#endif

static int net_start(const struct sensor_ctx *ctx, void **state)
{
	const char *mech =
		ctx->cfg && ctx->cfg->network_mechanism ? ctx->cfg->network_mechanism : "auto";
	bool want_bpf = strcmp(mech, "auto") == 0 || strcmp(mech, "ebpf") == 0;
	bool want_poll = strcmp(mech, "auto") == 0 || strcmp(mech, "poll") == 0;
	if (!want_bpf && !want_poll && strcmp(mech, "off") != 0)
		return -EINVAL;
	uint32_t poll_ms = ctx->cfg && ctx->cfg->network_poll_ms ? ctx->cfg->network_poll_ms : 1000;
	if (poll_ms < 10 || poll_ms > 3600000)
		return -EINVAL;

	struct net_sensor *s = xcalloc(1, sizeof(*s));
	s->ctx = *ctx;
	s->root = ctx->cfg && ctx->cfg->root ? ctx->cfg->root : "/";
	s->mechanism = "none";
	s->poll_ms = poll_ms;
	host_event_init(&s->ev);
	int r = procinfo_cache_new(PID_CACHE_SLOTS, &s->cache);
	if (r < 0) {
		free(s);
		return r;
	}
	*state = s;
	if (!want_bpf && !want_poll) {
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
	if (want_poll) {
		r = poll_start(s);
		if (r == 0) {
			s->mechanism = "poll";
			s->active = true;
			return 0;
		}
		sensor_loop_event_free(s->timer);
		s->timer = NULL;
		size_t l = strlen(s->message);
		snprintf(s->message + l, sizeof(s->message) - l, "%spoll: %s", l ? "; " : "",
			 strerror(-r));
	}
	return 0;
}

static void net_health(void *state, struct sensor_health *out)
{
	struct net_sensor *s = state;
	memset(out, 0, sizeof(*out));
	out->name = "network";
	out->mechanism = s->mechanism;
	out->active = s->active;
	out->events = s->events;
	out->lost = s->lost;
#if IMMUNE_HAVE_BPF
	if (s->bpf.nfds)
		out->lost += sensor_percpu_sum(s->bpf.fds[FD_LOST]);
#endif
	out->skipped = s->skipped;
	snprintf(out->message, sizeof(out->message), "%s", s->message);
}

static void net_stop(void *state)
{
	struct net_sensor *s = state;
	if (!s)
		return;
#if IMMUNE_HAVE_BPF
	sensor_bpf_stop(&s->bpf);
#endif
	sensor_loop_event_free(s->timer);
	free(s->prev.v);
	free(s->cur.v);
	procinfo_cache_free(s->cache);
	host_event_free(&s->ev);
	free(s);
}

const struct sensor_ops sensor_network = {
	.name = "network",
	.start = net_start,
	.health = net_health,
	.stop = net_stop,
};
