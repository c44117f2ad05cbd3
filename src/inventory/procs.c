/* The listening_sockets table (/proc/net/tcp, tcp6, udp, udp6 below the root; owning processes
 * found through /proc/PID/fd links when the root is the host) and the processes table (host
 * root only: /proc/PID/stat, status, exe and cmdline). A process that vanishes while it is read
 * is skipped silently. */
#include "inventory/procs.h"
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define PROCNET_FILE_MAX (64u << 20) /* bytes of one /proc/net table */
#define PROC_MAX 65536		     /* processes examined */
#define FD_SCAN_BUDGET_MS 2000	     /* wall time for mapping socket inodes to processes */
#define CMDLINE_MAX 4096
#define STATUS_MAX (64 * 1024)

/* ---- /proc/net parsing ---- */

static int hex_u32(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;
	if (n == 0 || n > 8)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return -EBADMSG;
		v = (v << 4) | d;
	}
	*out = v;
	return 0;
}

/* "0100007F:1F90" or 32 hex digits ':' port. */
static int parse_endpoint(const char *s, bool v6, char *addr, unsigned *port)
{
	size_t hexlen = v6 ? 32 : 8;
	const char *colon = strchr(s, ':');
	uint32_t words[4], p;
	unsigned char bytes[16];

	if (!colon || (size_t)(colon - s) != hexlen || strlen(colon + 1) != 4)
		return -EBADMSG;
	for (size_t i = 0; i < hexlen / 8; i++)
		if (hex_u32(s + 8 * i, 8, &words[i]) < 0)
			return -EBADMSG;
	if (hex_u32(colon + 1, 4, &p) < 0)
		return -EBADMSG;
	memcpy(bytes, words, hexlen / 2);
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, addr, INET6_ADDRSTRLEN))
		return -EBADMSG;
	*port = p;
	return 0;
}

int procnet_parse_line(const char *line, size_t len, bool v6, bool tcp, struct procnet_entry *e)
{
	struct procnet_entry tmp = { 0 };
	uint32_t st;
	uint64_t inode;

	if (len > PROCNET_LINE_MAX || !cfg_line_is_text(line, len))
		return -EBADMSG;
	_cleanup_free_ char *copy = xstrndup(line, len);
	_cleanup_strv_ strv f = str_split(copy, " \t");
	if (strv_len(f) < 10 || !str_has_suffix(f[0], ":"))
		return -EBADMSG;
	if (parse_endpoint(f[1], v6, tmp.address, &tmp.port) < 0)
		return -EBADMSG;
	if (strlen(f[3]) != 2 || hex_u32(f[3], 2, &st) < 0)
		return -EBADMSG;
	if (parse_u64(f[9], 10, UINT64_MAX, &inode) < 0)
		return -EBADMSG;
	tmp.state = st;
	tmp.inode = inode;
	*e = tmp;
	return st == (tcp ? 0x0Au : 0x07u) ? 1 : 0;
}

/* ---- inode -> process ---- */

struct sock {
	const char *protocol;
	struct procnet_entry e;
	int64_t pid; /* 0 when unknown */
};

struct sockets {
	struct sock *v;
	size_t n, alloc;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Returns true when every character of s is a digit (and s is not empty). */
static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Parses "socket:[12345]". */
static bool socket_inode(const char *link, uint64_t *inode)
{
	if (!str_has_prefix(link, "socket:[") || !str_has_suffix(link, "]"))
		return false;
	_cleanup_free_ char *num = xstrndup(link + 8, strlen(link) - 9);
	return parse_u64(num, 10, UINT64_MAX, inode) == 0;
}

/* Gives pid to every socket with inode still unowned; returns how many it matched. */
static size_t claim(struct sockets *s, uint64_t inode, int64_t pid)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].e.inode == inode && !s->v[i].pid) {
			s->v[i].pid = pid;
			n++;
		}
	return n;
}

/* Host /proc is read relative to a descriptor of /proc/PID opened through the root: one
 * openat2() per process instead of one per file or fd link. Names below it are fixed ("stat",
 * "fd") or come from readdir (fd numbers), are single components, and are opened O_NOFOLLOW or
 * read with readlinkat(), which does not follow the link. */
static int open_pid_dir(struct inv_ctx *ctx, const char *pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%s", pid);
	int fd;
	int r = fsroot_openat(ctx->root, path, O_PATH | O_DIRECTORY, &fd);
	return r < 0 ? r : fd;
}

/* Reads at most cap bytes of the file name below dfd into a new NUL-terminated string; *len
 * gets its length. Returns NULL when the file cannot be read (the process is gone). */
static char *read_at(int dfd, const char *name, size_t cap, size_t *len)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *data = xmalloc(cap + 1);
	size_t n = 0;
	while (n < cap) {
		ssize_t r = read(fd, data + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(data);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	data[n] = '\0';
	*len = n;
	return data;
}

/* Reads the target of the link name below dfd into a new string, or NULL. */
static char *readlink_at(int dfd, const char *name)
{
	char tmp[4096];
	ssize_t n = readlinkat(dfd, name, tmp, sizeof(tmp));
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return NULL;
	return xstrndup(tmp, (size_t)n);
}

/* Gives pid to the unowned sockets among the fd links of one process; returns how many. */
static size_t scan_fds(int piddir, struct sockets *s, int64_t pid)
{
	int fd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone, or not ours to read */
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	size_t found = 0;
	struct dirent *e;
	char link[64];
	while ((e = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		uint64_t inode;
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (socket_inode(link, &inode))
			found += claim(s, inode, pid);
	}
	closedir(d);
	return found;
}

static void map_pids(struct inv_ctx *ctx, struct sockets *s)
{
	_cleanup_strv_ strv pids = NULL;
	size_t unowned = 0, procs = 0;
	double deadline = now_ms() + FD_SCAN_BUDGET_MS;

	for (size_t i = 0; i < s->n; i++)
		unowned += s->v[i].e.inode != 0;
	if (!unowned || fsroot_list(ctx->root, "/proc", &pids) < 0)
		return;
	for (size_t i = 0; pids[i] && unowned && procs < PROC_MAX; i++) {
		int64_t pid;
		if (!all_digits(pids[i]) || parse_i64(pids[i], 1, INT32_MAX, &pid) < 0)
			continue;
		if (now_ms() > deadline)
			break;
		procs++;
		_cleanup_close_ int dfd = open_pid_dir(ctx, pids[i]);
		if (dfd >= 0)
			unowned -= scan_fds(dfd, s, pid);
	}
}

/* Reads /proc/PID/comm into a new string, or NULL. */
static char *proc_comm(struct inv_ctx *ctx, int64_t pid)
{
	_cleanup_free_ char *num = xasprintf("%lld", (long long)pid);
	_cleanup_close_ int dfd = open_pid_dir(ctx, num);
	size_t len;
	char *s = dfd >= 0 ? read_at(dfd, "comm", 256, &len) : NULL;
	if (s)
		s[strcspn(s, "\n")] = '\0';
	return s;
}

/* ---- listening_sockets ---- */

static void read_procnet(struct inv_ctx *ctx, struct sockets *s, const char *proto)
{
	_cleanup_free_ char *path = xasprintf("/proc/net/%s", proto);
	bool v6 = str_has_suffix(proto, "6"), tcp = str_has_prefix(proto, "tcp");
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0, bad = 0, first_bad = 0;

	if (cfg_read(ctx, "listening_sockets", path, PROCNET_FILE_MAX, &b) < 0) {
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		struct procnet_entry e;
		if (++lineno == 1)
			continue; /* header */
		int r = procnet_parse_line(line, len, v6, tcp, &e);
		if (r < 0 && !bad++)
			first_bad = lineno;
		if (r <= 0)
			continue;
		if (s->n == s->alloc) {
			s->alloc = s->alloc ? 2 * s->alloc : 64;
			s->v = xrealloc(s->v, s->alloc * sizeof(*s->v));
		}
		s->v[s->n++] = (struct sock){ .protocol = proto, .e = e };
	}
	if (bad)
		inv_error(ctx, "listening_sockets", path, 0,
			  "%u malformed line(s), first at line %u", bad, first_bad);
	buf_free(&b);
}

void collect_sockets(struct inv_ctx *ctx)
{
	static const char *const protos[] = { "tcp", "tcp6", "udp", "udp6" };
	struct sockets s = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		read_procnet(ctx, &s, protos[i]);
	if (fsroot_is_host(ctx->root))
		map_pids(ctx, &s);
	for (size_t i = 0; i < s.n; i++) {
		json_t *row = inv_row(ctx, "listening_sockets");
		inv_set_str(row, "protocol", s.v[i].protocol);
		inv_set_str(row, "address", s.v[i].e.address);
		inv_set_int(row, "port", s.v[i].e.port);
		inv_set_int(row, "inode", (int64_t)(s.v[i].e.inode & INT64_MAX));
		if (s.v[i].pid) {
			_cleanup_free_ char *comm = proc_comm(ctx, s.v[i].pid);
			inv_set_int(row, "pid", s.v[i].pid);
			inv_set_str(row, "process", comm);
		}
	}
	free(s.v);
}

/* ---- processes ---- */

/* "PID (comm) S PPID ...": comm may hold spaces and ')', so it ends at the last ')'. */
static int parse_stat(const char *text, char **name, int64_t *ppid)
{
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	if (!open || !close || close < open)
		return -EBADMSG;
	_cleanup_strv_ strv f = str_split(close + 1, " \n");
	if (strv_len(f) < 2 || parse_i64(f[1], 0, INT32_MAX, ppid) < 0)
		return -EBADMSG;
	*name = xstrndup(open + 1, (size_t)(close - open - 1));
	return 0;
}

static int parse_status_uid(const char *text, int64_t *uid)
{
	const char *p = strstr(text, "\nUid:");
	if (!p)
		return -EBADMSG;
	_cleanup_free_ char *line = xstrndup(p + 5, strcspn(p + 5, "\n"));
	_cleanup_strv_ strv f = str_split(line, " \t");
	if (!f[0])
		return -EBADMSG;
	return parse_i64(f[0], 0, UINT32_MAX, uid);
}

/* Reads at most CMDLINE_MAX bytes of cmdline, arguments joined by spaces, or NULL. */
static char *read_cmdline(int dfd)
{
	size_t n;
	char *s = read_at(dfd, "cmdline", CMDLINE_MAX, &n);
	if (!s)
		return NULL;
	while (n > 0 && s[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	s[n] = '\0';
	if (!n) {
		free(s);
		return NULL;
	}
	return s;
}

static void one_process(struct inv_ctx *ctx, const char *pidstr, int64_t pid)
{
	_cleanup_close_ int dfd = open_pid_dir(ctx, pidstr);
	_cleanup_free_ char *name = NULL, *stat = NULL, *status = NULL;
	int64_t ppid, uid;
	size_t len;

	if (dfd < 0)
		return;
	stat = read_at(dfd, "stat", 4096, &len);
	if (!stat || parse_stat(stat, &name, &ppid) < 0)
		return;
	status = read_at(dfd, "status", STATUS_MAX, &len);
	if (!status || parse_status_uid(status, &uid) < 0)
		return;

	_cleanup_free_ char *exe = readlink_at(dfd, "exe");
	_cleanup_free_ char *cmdline = read_cmdline(dfd);
	json_t *row = inv_row(ctx, "processes");
	inv_set_int(row, "pid", pid);
	inv_set_int(row, "ppid", ppid);
	inv_set_int(row, "uid", uid);
	inv_set_str(row, "name", name);
	inv_set_str(row, "exe", exe);
	inv_set_str(row, "cmdline", cmdline);
}

void collect_processes(struct inv_ctx *ctx)
{
	_cleanup_strv_ strv pids = NULL;
	size_t n = 0;

	if (!fsroot_is_host(ctx->root))
		return;
	int r = fsroot_list(ctx->root, "/proc", &pids);
	if (r < 0) {
		inv_error(ctx, "processes", "/proc", r, "listing /proc");
		return;
	}
	for (size_t i = 0; pids[i] && n < PROC_MAX; i++) {
		int64_t pid;
		if (!all_digits(pids[i]) || parse_i64(pids[i], 1, INT32_MAX, &pid) < 0)
			continue;
		n++;
		one_process(ctx, pids[i], pid);
	}
}
