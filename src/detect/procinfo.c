/* Process enrichment from /proc and the pid cache (procinfo.h). */
#include "detect/procinfo.h"

#include "lib/buf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* root/proc/PID/name into buf; returns 0 or -ENAMETOOLONG. */
static int proc_path(char *buf, size_t size, const char *root, pid_t pid, const char *name)
{
	const char *r = root && strcmp(root, "/") != 0 ? root : "";
	int n = snprintf(buf, size, "%s/proc/%d/%s", r, (int)pid, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Reads at most size - 1 bytes of root/proc/PID/name into buf (NUL-terminated). Returns the
 * length or a negative errno. */
static ssize_t proc_read(const char *root, pid_t pid, const char *name, char *buf, size_t size)
{
	char path[512];
	int r = proc_path(path, sizeof(path), root, pid, name);
	if (r < 0)
		return r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static ssize_t proc_readlink(const char *root, pid_t pid, const char *name, char *buf, size_t size)
{
	char path[512];
	int r = proc_path(path, sizeof(path), root, pid, name);
	if (r < 0)
		return r;
	ssize_t n = readlink(path, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* Parses a decimal unsigned number at *p (advancing it). Returns 0 or -EBADMSG. */
static int parse_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (s >= end || *s < '0' || *s > '9')
		return -EBADMSG;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		x = x * 10 + d;
		s++;
	}
	*p = s;
	*v = x;
	return 0;
}

static int parse_i64(const char **p, const char *end, int64_t *v)
{
	bool neg = *p < end && **p == '-';
	if (neg)
		(*p)++;
	uint64_t u;
	int r = parse_u64(p, end, &u);
	if (r < 0 || u > INT64_MAX)
		return -EBADMSG;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

int procinfo_parse_stat(const char *p, size_t len, struct procinfo_ids *out)
{
	const char *end = p + len;
	const char *open = memchr(p, '(', len);
	const char *close = NULL;
	for (const char *s = end; s > p; s--)
		if (s[-1] == ')') {
			close = s - 1;
			break;
		}
	if (!open || !close || close < open)
		return -EBADMSG;
	struct procinfo_ids ids = *out;
	size_t clen = (size_t)(close - open - 1);
	if (clen >= sizeof(ids.comm))
		clen = sizeof(ids.comm) - 1;
	memcpy(ids.comm, open + 1, clen);
	ids.comm[clen] = '\0';
	/* ") S ppid pgrp session tty_nr" */
	const char *s = close + 1;
	if (end - s < 3 || s[0] != ' ' || s[2] != ' ')
		return -EBADMSG;
	s += 3;
	int64_t v[4];
	for (int i = 0; i < 4; i++) {
		if (parse_i64(&s, end, &v[i]) < 0)
			return -EBADMSG;
		if (i < 3) {
			if (s >= end || *s != ' ')
				return -EBADMSG;
			s++;
		}
	}
	if (v[0] < 0 || v[0] > INT32_MAX)
		return -EBADMSG;
	ids.ppid = (pid_t)v[0];
	ids.tty_nr = (uint32_t)v[3];
	*out = ids;
	return 0;
}

int procinfo_parse_status(const char *p, size_t len, uint32_t *uid, uint32_t *euid)
{
	struct cursor c;
	const char *line;
	size_t n;
	cursor_init(&c, p, len);
	while (cursor_get_line(&c, &line, &n) == 1) {
		if (n < 4 || memcmp(line, "Uid:", 4) != 0)
			continue;
		const char *s = line + 4, *end = line + n;
		uint64_t v[2];
		for (int i = 0; i < 2; i++) {
			while (s < end && (*s == '\t' || *s == ' '))
				s++;
			if (parse_u64(&s, end, &v[i]) < 0 || v[i] > UINT32_MAX)
				return -EBADMSG;
		}
		*uid = (uint32_t)v[0];
		*euid = (uint32_t)v[1];
		return 0;
	}
	return -EBADMSG;
}

size_t procinfo_tty_name(uint32_t tty_nr, char *buf, size_t size)
{
	if (tty_nr == 0 || size == 0)
		return 0;
	unsigned maj = major(tty_nr), min = minor(tty_nr);
	int n;
	if (maj >= 136 && maj <= 143)
		n = snprintf(buf, size, "pts/%u", (maj - 136) * 256 + min);
	else if (maj == 4 && min < 64)
		n = snprintf(buf, size, "tty%u", min);
	else if (maj == 4)
		n = snprintf(buf, size, "ttyS%u", min - 64);
	else
		n = snprintf(buf, size, "%u:%u", maj, min);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

size_t procinfo_join_argv(char *p, size_t len)
{
	while (len > 0 && p[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\0')
			p[i] = ' ';
	return len;
}

int procinfo_cgroup_path(const char *p, size_t len, const char **path, size_t *plen)
{
	struct cursor c;
	const char *line;
	size_t n;
	cursor_init(&c, p, len);
	while (cursor_get_line(&c, &line, &n) == 1) {
		if (n >= 3 && memcmp(line, "0::", 3) == 0) {
			*path = line + 3;
			*plen = n - 3;
			return 0;
		}
	}
	return -ENOENT;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int procinfo_container_id(const char *path, size_t len, char id[65])
{
	/* the last component holding a run of exactly 64 hex digits, bounded by a separator */
	const char *best = NULL;
	size_t i = 0;
	while (i < len) {
		if (!is_hex(path[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && is_hex(path[j]))
			j++;
		bool left = i == 0 || path[i - 1] == '/' || path[i - 1] == '-';
		bool right = j == len || path[j] == '/' || path[j] == '.';
		if (j - i == 64 && left && right)
			best = path + i;
		i = j;
	}
	if (!best)
		return -ENOENT;
	memcpy(id, best, 64);
	id[64] = '\0';
	return 0;
}

/* uid -> name */

#define USERS_SLOTS 64
#define USERS_RELOAD_NS (5 * 1000000000LL)

struct user_slot {
	uint32_t uid;
	bool used;
	char name[64];
};

struct procinfo_users {
	char passwd[512];
	int64_t loaded_ns;
	struct user_slot slot[USERS_SLOTS];
};

int procinfo_users_new(const char *root, struct procinfo_users **out)
{
	struct procinfo_users *u = xcalloc(1, sizeof(*u));
	const char *r = root && strcmp(root, "/") != 0 ? root : "";
	int n = snprintf(u->passwd, sizeof(u->passwd), "%s/etc/passwd", r);
	if (n < 0 || (size_t)n >= sizeof(u->passwd)) {
		free(u);
		return -ENAMETOOLONG;
	}
	u->loaded_ns = INT64_MIN;
	*out = u;
	return 0;
}

void procinfo_users_free(struct procinfo_users *u)
{
	free(u);
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads passwd and fills the slots (the first USERS_SLOTS-way collision wins). */
static void users_load(struct procinfo_users *u)
{
	_cleanup_fclose_ FILE *f = fopen(u->passwd, "re");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		const char *s = c2 + 1, *end = s + strlen(s);
		uint64_t uid;
		if (parse_u64(&s, end, &uid) < 0 || uid > UINT32_MAX || *s != ':')
			continue;
		size_t nlen = (size_t)(c1 - line);
		if (nlen == 0 || nlen >= sizeof(u->slot[0].name))
			continue;
		struct user_slot *sl = &u->slot[uid % USERS_SLOTS];
		if (sl->used && sl->uid != uid)
			continue;
		sl->used = true;
		sl->uid = (uint32_t)uid;
		memcpy(sl->name, line, nlen);
		sl->name[nlen] = '\0';
	}
}

const char *procinfo_user_name(struct procinfo_users *u, uint32_t uid)
{
	if (!u)
		return NULL;
	struct user_slot *sl = &u->slot[uid % USERS_SLOTS];
	if (sl->used && sl->uid == uid)
		return sl->name;
	int64_t now = mono_ns();
	if (u->loaded_ns != INT64_MIN && now - u->loaded_ns < USERS_RELOAD_NS)
		return NULL;
	u->loaded_ns = now;
	users_load(u);
	return sl->used && sl->uid == uid ? sl->name : NULL;
}

/* the pid cache */

struct procinfo_cache {
	size_t mask;
	struct procinfo_entry **slot; /* NULL, or an entry sized to its strings */
};

int procinfo_cache_new(size_t slots, struct procinfo_cache **out)
{
	if (slots == 0 || slots > (1u << 20))
		return -EINVAL;
	size_t n = 1;
	while (n < slots)
		n <<= 1;
	struct procinfo_cache *c = xcalloc(1, sizeof(*c));
	c->mask = n - 1;
	c->slot = xcalloc(n, sizeof(*c->slot));
	*out = c;
	return 0;
}

void procinfo_cache_free(struct procinfo_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		free(c->slot[i]);
	free(c->slot);
	free(c);
}

static size_t pid_slot(const struct procinfo_cache *c, pid_t pid)
{
	return ((uint32_t)pid * 2654435761u) & c->mask;
}

void procinfo_cache_put(struct procinfo_cache *c, pid_t pid, const char *image, size_t ilen,
			const char *name, const char *cmdline, size_t clen)
{
	struct procinfo_entry **sp = &c->slot[pid_slot(c, pid)];
	if (ilen >= PROCINFO_PATH_MAX)
		ilen = PROCINFO_PATH_MAX - 1;
	if (clen >= PROCINFO_CACHE_CMDLINE)
		clen = PROCINFO_CACHE_CMDLINE - 1;
	/* image and cmdline may point into the entry this one replaces: free it last */
	struct procinfo_entry *old = *sp, *e = xmalloc(sizeof(*e) + ilen + 1 + clen + 1);
	e->pid = pid;
	char *d = e->data;
	if (ilen)
		memcpy(d, image, ilen);
	d[ilen] = '\0';
	e->image = d;
	e->image_len = (uint16_t)ilen;
	d += ilen + 1;
	if (clen)
		memcpy(d, cmdline, clen);
	d[clen] = '\0';
	e->cmdline = d;
	e->cmdline_len = (uint16_t)clen;
	size_t nlen = name ? strnlen(name, sizeof(e->name) - 1) : 0;
	if (nlen)
		memcpy(e->name, name, nlen);
	e->name[nlen] = '\0';
	*sp = e;
	free(old);
}

const struct procinfo_entry *procinfo_cache_get(struct procinfo_cache *c, pid_t pid)
{
	struct procinfo_entry *e = c->slot[pid_slot(c, pid)];
	return e && e->pid == pid && pid > 0 ? e : NULL;
}

void procinfo_cache_del(struct procinfo_cache *c, pid_t pid)
{
	struct procinfo_entry **sp = &c->slot[pid_slot(c, pid)];
	if (*sp && (*sp)->pid == pid) {
		free(*sp);
		*sp = NULL;
	}
}

/* The last path component of image (the process name when comm is unknown). */
const char *procinfo_base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

const struct procinfo_entry *procinfo_cache_lookup(struct procinfo_cache *c, const char *root,
						   pid_t pid)
{
	const struct procinfo_entry *e = procinfo_cache_get(c, pid);
	if (e || pid <= 0)
		return e;
	char image[PROCINFO_PATH_MAX], cmd[PROCINFO_CACHE_CMDLINE], stat[512];
	ssize_t il = proc_readlink(root, pid, "exe", image, sizeof(image));
	if (il < 0)
		il = 0; /* kernel threads have no exe */
	ssize_t cl = proc_read(root, pid, "cmdline", cmd, sizeof(cmd));
	if (cl < 0)
		return NULL;
	cl = (ssize_t)procinfo_join_argv(cmd, (size_t)cl);
	struct procinfo_ids ids = { 0 };
	ssize_t sl = proc_read(root, pid, "stat", stat, sizeof(stat));
	if (sl < 0 || procinfo_parse_stat(stat, (size_t)sl, &ids) < 0) {
		if (il == 0)
			return NULL;
		snprintf(ids.comm, sizeof(ids.comm), "%s", procinfo_base_name(image));
	}
	procinfo_cache_put(c, pid, image, (size_t)il, il > 0 ? procinfo_base_name(image) : ids.comm,
			   cmd, (size_t)cl);
	return procinfo_cache_get(c, pid);
}

void procinfo_set_parent(struct procinfo_cache *c, const char *root, pid_t ppid,
			 struct host_event *ev)
{
	if (ppid <= 0)
		return;
	host_event_set_int(ev, EF_PPID, ppid);
	if (!c)
		return;
	const struct procinfo_entry *e = procinfo_cache_lookup(c, root, ppid);
	if (!e)
		return;
	if (e->image_len)
		host_event_set(ev, EF_PARENT_IMAGE, e->image, e->image_len);
	if (e->name[0])
		host_event_set_str(ev, EF_PARENT_NAME, e->name);
	if (e->cmdline_len)
		host_event_set(ev, EF_PARENT_COMMAND_LINE, e->cmdline, e->cmdline_len);
}

void procinfo_set_cgroup(struct host_event *ev, const char *path, size_t len)
{
	if (len == 0)
		return;
	host_event_set(ev, EF_CGROUP, path, len);
	char id[65];
	if (procinfo_container_id(path, len, id) == 0)
		host_event_set(ev, EF_CONTAINER_ID, id, 64);
}

int procinfo_read_process(const char *root, pid_t pid, struct procinfo_cache *cache,
			  struct procinfo_users *users, struct host_event *ev)
{
	char buf[PROCINFO_CMDLINE_MAX], image[PROCINFO_PATH_MAX];
	struct procinfo_ids ids = { .loginuid = UINT32_MAX };

	ssize_t n = proc_read(root, pid, "stat", buf, sizeof(buf));
	if (n < 0 || procinfo_parse_stat(buf, (size_t)n, &ids) < 0)
		return -ENOENT;
	ssize_t il = proc_readlink(root, pid, "exe", image, sizeof(image));
	if (il < 0)
		il = 0;
	host_event_set_int(ev, EF_PID, pid);
	if (il > 0) {
		host_event_set(ev, EF_IMAGE, image, (size_t)il);
		host_event_set_str(ev, EF_PROCESS_NAME, procinfo_base_name(image));
	} else {
		host_event_set_str(ev, EF_PROCESS_NAME, ids.comm);
	}

	n = proc_read(root, pid, "status", buf, sizeof(buf));
	if (n >= 0 && procinfo_parse_status(buf, (size_t)n, &ids.uid, &ids.euid) == 0) {
		host_event_set_int(ev, EF_UID, ids.uid);
		host_event_set_int(ev, EF_EUID, ids.euid);
		const char *user = procinfo_user_name(users, ids.uid);
		if (user)
			host_event_set_str(ev, EF_USER, user);
	}
	n = proc_read(root, pid, "loginuid", buf, sizeof(buf));
	if (n > 0) {
		const char *s = buf;
		uint64_t v;
		if (parse_u64(&s, buf + n, &v) == 0 && v < UINT32_MAX)
			host_event_set_int(ev, EF_LOGIN_UID, (int64_t)v);
	}
	char tty[32];
	size_t tl = procinfo_tty_name(ids.tty_nr, tty, sizeof(tty));
	if (tl)
		host_event_set(ev, EF_TTY, tty, tl);
	n = proc_read(root, pid, "cgroup", buf, sizeof(buf));
	const char *cg;
	size_t cgl;
	if (n > 0 && procinfo_cgroup_path(buf, (size_t)n, &cg, &cgl) == 0)
		procinfo_set_cgroup(ev, cg, cgl);
	n = proc_readlink(root, pid, "cwd", buf, sizeof(buf));
	if (n > 0)
		host_event_set(ev, EF_CURRENT_DIRECTORY, buf, (size_t)n);

	/* the command line last: buf is reused for it */
	n = proc_read(root, pid, "cmdline", buf, sizeof(buf));
	size_t cl = n > 0 ? procinfo_join_argv(buf, (size_t)n) : 0;
	if (cl)
		host_event_set(ev, EF_COMMAND_LINE, buf, cl);
	if ((size_t)n + 1 >= sizeof(buf))
		ev->truncated = true;
	procinfo_set_parent(cache, root, ids.ppid, ev);
	if (cache)
		procinfo_cache_put(cache, pid, image, (size_t)il,
				   il > 0 ? procinfo_base_name(image) : ids.comm, buf, cl);
	return 0;
}

int procinfo_exit_code(uint32_t wait_status)
{
	if ((wait_status & 0x7f) == 0)
		return (int)((wait_status >> 8) & 0xff);
	return 128 + (int)(wait_status & 0x7f);
}
