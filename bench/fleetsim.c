/* fleetsim: a fleet of simulated agents against immune-server on loopback.
 *
 * The controller (this file) starts the server (or uses a running one), creates a join token
 * through the API, forks worker processes that each run many agents in one libevent loop
 * (fleetsim_worker.c), drives them through the phases and prints the figures of each:
 * enrollment rate, connections held and server memory per connection, records acknowledged
 * per second and ack latency, a reconnect storm, and a check through the API that every
 * acknowledged record is stored exactly once.
 *
 *   build/bench/fleetsim --agents 20000 --duration 10 [--json]
 *
 * See docs/fleetsim.md. */
#include "fleetsim.h"

#include "lib/str.h"
#include "proto/msg.h"
#include "trust/token.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_SERVER_ARGS 32

enum {
	P_ENROLL = 1 << 0,
	P_CONNECT = 1 << 1,
	P_INGEST = 1 << 2,
	P_STORM = 1 << 3,
	P_VERIFY = 1 << 4,
	P_OFFBOARD = 1 << 5,
};

struct opts {
	uint32_t agents;
	uint32_t workers;
	double duration;
	double rate;
	uint32_t batch;
	uint32_t window;
	uint32_t inflight;
	uint32_t concurrency;
	uint32_t verify;
	unsigned phases;
	unsigned source_addrs;
	bool json, keep, verbose, fetch_catalog;
	const char *server_bin;
	const char *server_data;
	const char *agent_addr;
	const char *api_url;
	pid_t server_pid;
	const char *server_args[MAX_SERVER_ARGS];
	unsigned nserver_args;
};

struct ctl {
	struct opts o;
	struct fs_target t;
	struct fs_client_conf conf;
	char tmp[256];	    /* our temporary directory ("" when none) */
	char data[512];	    /* the server's data directory */
	pid_t server;	    /* the server we started, or 0 */
	pid_t server_watch; /* the pid whose memory we read, or 0 */
	pid_t workers[MAX_WORKERS];
	int fds[MAX_WORKERS];
	uint32_t nworkers;
	FILE *out;   /* human lines */
	bool failed; /* an agent gave up, a record went unacknowledged or unstored */
	bool tty;
	json_t *json;
};

static volatile sig_atomic_t interrupted;
static struct ctl *the_ctl; /* for the exit handler */

static void on_signal(int sig)
{
	interrupted = sig;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void stop_pid(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void cleanup(void)
{
	struct ctl *c = the_ctl;
	if (!c)
		return;
	the_ctl = NULL;
	for (uint32_t i = 0; i < c->nworkers; i++) {
		if (c->workers[i] > 0)
			kill(c->workers[i], SIGKILL);
	}
	for (uint32_t i = 0; i < c->nworkers; i++)
		if (c->workers[i] > 0)
			waitpid(c->workers[i], NULL, 0);
	stop_pid(c->server);
	if (c->tmp[0]) {
		if (c->o.keep)
			fprintf(stderr, "fleetsim: kept %s (server data in %s)\n", c->tmp, c->data);
		else
			nftw(c->tmp, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
	}
}

static _Noreturn void die(const char *fmt, ...) _printf_(1, 2);
static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	fputs("fleetsim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(2);
}

static double now_s(void)
{
	return (double)now_ns() / 1e9;
}

/* --- limits and memory --- */

static uint64_t read_u64_file(const char *path)
{
	char buf[64] = "";
	uint64_t v = 0;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (f && fgets(buf, sizeof(buf), f))
		parse_u64(str_trim(buf), 10, UINT64_MAX, &v);
	return v;
}

/* VmRSS or VmHWM of pid in KiB (0 when unknown). */
static uint64_t proc_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	uint64_t v = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f || pid <= 0)
		return 0;
	size_t fl = strlen(field);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, fl) || line[fl] != ':')
			continue;
		char *p = line + fl + 1, *e;
		while (*p == ' ' || *p == '\t')
			p++;
		e = p;
		while (*e >= '0' && *e <= '9')
			e++;
		*e = '\0';
		parse_u64(p, 10, UINT64_MAX, &v);
		break;
	}
	return v;
}

static uint64_t workers_kib(struct ctl *c)
{
	uint64_t s = 0;
	for (uint32_t i = 0; i < c->nworkers; i++)
		s += proc_kib(c->workers[i], "VmRSS");
	return s;
}

static uint64_t mem_available_kib(void)
{
	char line[256];
	uint64_t v = 0;
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (!str_has_prefix(line, "MemAvailable:"))
			continue;
		char *p = line + 13, *e;
		while (*p == ' ')
			p++;
		e = p;
		while (*e >= '0' && *e <= '9')
			e++;
		*e = '\0';
		parse_u64(p, 10, UINT64_MAX, &v);
	}
	return v;
}

/* The 1-minute load average: other work on the machine skews every figure. */
static double loadavg(void)
{
	double l[1] = { 0 };
	getloadavg(l, 1);
	return l[0];
}

static void raise_nofile(struct ctl *c)
{
	struct rlimit rl;
	uint64_t nr_open = read_u64_file("/proc/sys/fs/nr_open");
	uint64_t file_max = read_u64_file("/proc/sys/fs/file-max");

	getrlimit(RLIMIT_NOFILE, &rl);
	rlim_t hard0 = rl.rlim_max;
	int err = 0;
	struct rlimit want = { .rlim_cur = nr_open, .rlim_max = nr_open };
	if (nr_open == 0 || setrlimit(RLIMIT_NOFILE, &want) < 0) {
		err = errno;
		want.rlim_cur = want.rlim_max = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &want);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(c->out,
		"limits: RLIMIT_NOFILE %llu per process (fs.nr_open %llu, fs.file-max %llu)\n",
		(unsigned long long)rl.rlim_cur, (unsigned long long)nr_open,
		(unsigned long long)file_max);
	if (err)
		fprintf(c->out,
			"limits: the hard limit %llu could not be raised to fs.nr_open: %s%s\n",
			(unsigned long long)hard0, strerror(err),
			err == EPERM ? " (raising it needs CAP_SYS_RESOURCE)" : "");
	uint64_t per_worker = (c->o.agents + c->o.workers - 1) / c->o.workers + 64;
	if (rl.rlim_cur < per_worker)
		fprintf(c->out,
			"limits: WARNING: each worker needs %llu descriptors: use more --workers\n",
			(unsigned long long)per_worker);
	if (rl.rlim_cur < (uint64_t)c->o.agents + 64)
		fprintf(c->out,
			"limits: WARNING: the server can hold at most about %llu connections at "
			"once (one descriptor each), fewer than %u agents\n",
			(unsigned long long)rl.rlim_cur - 64, c->o.agents);
	if (file_max && file_max < (uint64_t)c->o.agents * 2 + 1024)
		fprintf(c->out, "limits: WARNING: fs.file-max %llu is below 2 x %u sockets\n",
			(unsigned long long)file_max, c->o.agents);
	json_object_set_new(c->json, "limits",
			    json_pack("{sI sI sI}", "nofile", (json_int_t)rl.rlim_cur, "nr_open",
				      (json_int_t)nr_open, "file_max", (json_int_t)file_max));
}

/* --- the server --- */

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("no free loopback port: %s", strerror(errno));
	close(fd);
	return ntohs(sa.sin_port);
}

static const char *default_server_bin(void)
{
	static char path[4096];
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "immune-server";
	self[n] = '\0';
	/* build/bench/fleetsim -> build/src/immune-server */
	snprintf(path, sizeof(path), "%s/../src/immune-server", dirname(self));
	return path;
}

static void start_server(struct ctl *c)
{
	char listen[64], api[64], log[600];
	const char *argv[MAX_SERVER_ARGS + 16];
	unsigned n = 0;

	snprintf(c->tmp, sizeof(c->tmp), "/tmp/fleetsim.XXXXXX");
	if (!mkdtemp(c->tmp))
		die("mkdtemp: %s", strerror(errno));
	snprintf(c->data, sizeof(c->data), "%s/data", c->tmp);
	snprintf(log, sizeof(log), "%s/server.log", c->tmp);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
	snprintf(api, sizeof(api), "127.0.0.1:%d", free_port());
	const char *bin = c->o.server_bin ? c->o.server_bin : default_server_bin();
	if (access(bin, X_OK) < 0)
		die("%s: %s (build the server, or give --server-bin PATH or --server-data DIR)",
		    bin, strerror(errno));
	argv[n++] = bin;
	argv[n++] = "--data";
	argv[n++] = c->data;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--api";
	argv[n++] = api;
	for (unsigned i = 0; i < c->o.nserver_args; i++)
		argv[n++] = c->o.server_args[i];
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	c->server = c->server_watch = pid;
	fprintf(c->out, "server: started %s (pid %d) --listen %s --api %s, data %s\n", bin,
		(int)pid, listen, api, c->data);

	char conf[600];
	snprintf(conf, sizeof(conf), "%s/client.yaml", c->data);
	double deadline = now_s() + 30;
	for (;;) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			c->server = 0;
			die("the server exited at start (status %d); see %s", st, log);
		}
		if (fs_client_conf_load(conf, &c->conf) == 0)
			break;
		if (now_s() > deadline)
			die("%s did not appear within 30 s; see %s", conf, log);
		usleep(50000);
	}
}

static void use_server(struct ctl *c)
{
	char conf[600];
	snprintf(c->data, sizeof(c->data), "%s", c->o.server_data);
	snprintf(conf, sizeof(conf), "%s/client.yaml", c->data);
	int r = fs_client_conf_load(conf, &c->conf);
	if (r < 0)
		die("reading %s: %s", conf, strerror(-r));
	c->server_watch = c->o.server_pid;
	fprintf(c->out, "server: using the one at %s (data %s)%s\n", c->conf.agents, c->data,
		c->server_watch ? "" : "; give --server-pid PID for its memory figures");
}

static json_t *api_json(struct ctl *c, const char *method, const char *path, const char *body,
			int want)
{
	int status = 0;
	_cleanup_free_ char *resp = NULL;
	int r = fs_https(&c->conf, method, path, body, &status, &resp);
	if (r < 0 || status != want) {
		if (c->o.verbose)
			fprintf(stderr, "fleetsim: %s %s: %s %d %s\n", method, path,
				r < 0 ? strerror(-r) : "status", status, resp ? resp : "");
		return NULL;
	}
	return json_loads(resp, 0, NULL);
}

static void create_token(struct ctl *c)
{
	json_t *j = NULL;
	double deadline = now_s() + 30;
	while (!(j = api_json(c, "POST", "/v1/tokens", "{\"ttl\": 86400, \"uses\": 0}", 201))) {
		if (now_s() > deadline || interrupted)
			die("POST /v1/tokens to %s:%u failed (run with --verbose to see why)",
			    c->conf.api_host, c->conf.api_port);
		usleep(100000);
	}
	const char *tok = json_string_value(json_object_get(j, "token"));
	struct join_token jt;
	if (!tok || strlen(tok) >= sizeof(c->t.token) || token_parse(tok, &jt) < 0)
		die("POST /v1/tokens answered without a usable token");
	snprintf(c->t.token, sizeof(c->t.token), "%s", tok);
	snprintf(c->t.pin, sizeof(c->t.pin), "%s", jt.pin);
	fprintf(c->out, "server: join token %s created (unlimited uses)\n", jt.id);
	token_wipe(&jt);
	json_decref(j);
}

/* --- workers --- */

static void start_workers(struct ctl *c)
{
	uint32_t W = c->o.workers;
	fflush(NULL);
	for (uint32_t i = 0; i < W; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair: %s", strerror(errno));
		int buf = 4 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		uint32_t first = (uint32_t)((uint64_t)c->o.agents * i / W);
		uint32_t last = (uint32_t)((uint64_t)c->o.agents * (i + 1) / W);
		pid_t pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			the_ctl = NULL;
			close(sv[0]);
			for (uint32_t k = 0; k < i; k++)
				close(c->fds[k]);
			fs_worker_main(sv[1], &c->t, first, last - first);
		}
		close(sv[1]);
		c->workers[i] = pid;
		c->fds[i] = sv[0];
		c->nworkers++;
	}
}

union fs_any {
	uint32_t type;
	struct fs_progress p;
	struct fs_result r;
	struct fs_samples s;
};

static union fs_any *rxbuf(void)
{
	static union fs_any u;
	return &u;
}

static void check_alive(struct ctl *c)
{
	int st;
	if (interrupted)
		die("interrupted");
	if (c->server && waitpid(c->server, &st, WNOHANG) == c->server) {
		c->server = 0;
		die("the server exited (status %d); see %s/server.log", st, c->tmp);
	}
}

/* Sends cmd to every worker, shows progress, and sums their results. */
static void run_phase(struct ctl *c, const struct fs_cmd *cmd, const char *label, uint64_t total,
		      struct fs_counts *sum, struct hist *lat)
{
	struct fs_progress prog[MAX_WORKERS] = { 0 };
	bool got[MAX_WORKERS] = { 0 };
	uint32_t ngot = 0;
	double t0 = now_s(), last_print = 0;

	memset(sum, 0, sizeof(*sum));
	if (lat)
		memset(lat, 0, sizeof(*lat));
	for (uint32_t i = 0; i < c->nworkers; i++) {
		struct fs_cmd wc = *cmd;
		wc.type = MSG_CMD;
		wc.rate = cmd->rate / c->nworkers;
		wc.inflight = (cmd->inflight + c->nworkers - 1) / c->nworkers;
		if (send(c->fds[i], &wc, sizeof(wc), MSG_NOSIGNAL) < 0)
			die("worker %u: %s", i, strerror(errno));
	}
	while (ngot < c->nworkers) {
		struct pollfd pf[MAX_WORKERS];
		for (uint32_t i = 0; i < c->nworkers; i++)
			pf[i] = (struct pollfd){ .fd = c->fds[i], .events = POLLIN };
		int r = poll(pf, c->nworkers, 250);
		check_alive(c);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (uint32_t i = 0; r > 0 && i < c->nworkers; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			union fs_any *m = rxbuf();
			ssize_t n = recv(c->fds[i], m, sizeof(*m), 0);
			if (n <= 0)
				die("worker %u exited during %s", i, label);
			if (m->type == MSG_PROGRESS && (size_t)n == sizeof(m->p)) {
				prog[i] = m->p;
			} else if (m->type == MSG_RESULT && (size_t)n == sizeof(m->r) && !got[i]) {
				got[i] = true;
				ngot++;
				prog[i].done = m->r.c.done;
				prog[i].failed = m->r.c.failed;
				prog[i].records_acked = m->r.c.records_acked_all;
				struct fs_counts *w = &m->r.c;
				sum->done += w->done;
				sum->failed += w->failed;
				sum->attempts += w->attempts;
				for (int k = 0; k < FAIL_MAX; k++)
					sum->fail[k] += w->fail[k];
				sum->held += w->held;
				sum->records_sent += w->records_sent;
				sum->records_acked += w->records_acked;
				sum->records_acked_all += w->records_acked_all;
				sum->batches_unacked += w->batches_unacked;
				sum->disconnects += w->disconnects;
				sum->catalogs += w->catalogs;
				if (w->catalog_bytes > sum->catalog_bytes)
					sum->catalog_bytes = w->catalog_bytes;
				if (w->elapsed > sum->elapsed)
					sum->elapsed = w->elapsed;
				if (w->window_s > sum->window_s)
					sum->window_s = w->window_s;
				if (w->last_ok_s > sum->last_ok_s)
					sum->last_ok_s = w->last_ok_s;
				if (lat)
					hist_merge(lat, &m->r.lat);
			}
		}
		double t = now_s();
		if (c->tty && t - last_print > 0.25) {
			uint64_t d = 0, f = 0, rec = 0;
			for (uint32_t i = 0; i < c->nworkers; i++) {
				d += prog[i].done;
				f += prog[i].failed;
				rec += prog[i].records_acked;
			}
			if (cmd->phase == PH_INGEST)
				fprintf(stderr, "\r\033[K%s: %.0f s, %llu records acked (%.0f/s)",
					label, t - t0, (unsigned long long)rec,
					(double)rec / (t - t0));
			else
				fprintf(stderr, "\r\033[K%s: %llu/%llu done, %llu failed, %.1f s",
					label, (unsigned long long)d, (unsigned long long)total,
					(unsigned long long)f, t - t0);
			last_print = t;
		}
	}
	if (c->tty)
		fprintf(stderr, "\r\033[K");
}

static json_t *fail_json(const struct fs_counts *s)
{
	json_t *o = json_object();
	for (int k = 0; k < FAIL_MAX; k++)
		if (s->fail[k])
			json_object_set_new(o, fs_fail_name(k),
					    json_integer((json_int_t)s->fail[k]));
	return o;
}

static void print_fails(struct ctl *c, const struct fs_counts *s)
{
	bool any = false;
	for (int k = 0; k < FAIL_MAX; k++) {
		if (!s->fail[k])
			continue;
		fprintf(c->out, "%s%s %llu",
			any ? ", " : "  failed attempts (retried): ", fs_fail_name(k),
			(unsigned long long)s->fail[k]);
		any = true;
	}
	if (any)
		fputc('\n', c->out);
}

/* When agents gave up, the phase lasted longer than its last success. */
static void print_gave_up(struct ctl *c, const struct fs_counts *s)
{
	if (s->failed)
		fprintf(c->out,
			"  (the last success came %.2f s after the start; the phase ended after "
			"%.2f s, when the failing agents gave up)\n",
			s->last_ok_s, s->elapsed);
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

/* --- phases --- */

static void phase_keygen(struct ctl *c)
{
	struct fs_cmd cmd = { .phase = PH_KEYGEN };
	struct fs_counts s;
	run_phase(c, &cmd, "keys", c->o.agents, &s, NULL);
	fprintf(c->out,
		"keys: %llu Ed25519 keys and CSRs in %.2f s (each agent's own work, "
		"done before the timed enrollment)\n",
		(unsigned long long)s.done, s.elapsed);
	json_object_set_new(
		c->json, "keys",
		json_pack("{sI sf}", "generated", (json_int_t)s.done, "seconds", s.elapsed));
}

static void phase_enroll(struct ctl *c)
{
	struct fs_cmd cmd = { .phase = PH_ENROLL, .window = c->o.concurrency };
	struct fs_counts s;
	run_phase(c, &cmd, "enroll", c->o.agents, &s, NULL);
	double rate = s.last_ok_s > 0 ? (double)s.done / s.last_ok_s : 0;
	c->failed |= s.failed > 0;
	fprintf(c->out,
		"enroll: %llu enrolled, %llu failed, in %.2f s: %.0f enrollments/s "
		"(%u in flight per worker)\n",
		(unsigned long long)s.done, (unsigned long long)s.failed, s.last_ok_s, rate,
		c->o.concurrency);
	print_gave_up(c, &s);
	print_fails(c, &s);
	json_object_set_new(c->json, "enroll",
			    json_pack("{sI sI sI sf sf so}", "enrolled", (json_int_t)s.done,
				      "failed", (json_int_t)s.failed, "attempts",
				      (json_int_t)s.attempts, "seconds", s.last_ok_s, "per_second",
				      rate, "failed_attempts", fail_json(&s)));
	json_object_set_new(json_object_get(c->json, "enroll"), "phase_seconds",
			    json_real(s.elapsed));
}

static void phase_connect(struct ctl *c)
{
	struct fs_cmd cmd = { .phase = PH_CONNECT, .window = c->o.concurrency };
	struct fs_counts s;
	uint64_t rss0 = proc_kib(c->server_watch, "VmRSS");
	run_phase(c, &cmd, "connect", c->o.agents, &s, NULL);
	usleep(500000); /* let the server settle its buffers */
	uint64_t rss1 = proc_kib(c->server_watch, "VmRSS");
	c->failed |= s.failed > 0 || s.held < c->o.agents;
	double per = s.held && rss1 > rss0 ? (double)(rss1 - rss0) / (double)s.held : 0;
	fprintf(c->out,
		"connect: %llu connections held, %llu failed, all connected in %.2f s "
		"(%.0f/s)\n",
		(unsigned long long)s.held, (unsigned long long)s.failed, s.last_ok_s,
		s.last_ok_s > 0 ? (double)s.done / s.last_ok_s : 0);
	print_gave_up(c, &s);
	print_fails(c, &s);
	if (c->o.fetch_catalog)
		fprintf(c->out,
			"connect: %llu agents had received the catalog (%.1f KiB) when the phase "
			"ended\n",
			(unsigned long long)s.catalogs, (double)s.catalog_bytes / 1024);
	else
		fprintf(c->out,
			"connect: agents claimed to hold the server's catalog (%.1f KiB; %llu "
			"received it, one probe per worker; --fetch-catalog: every agent does)\n",
			(double)s.catalog_bytes / 1024, (unsigned long long)s.catalogs);
	if (rss1)
		fprintf(c->out,
			"connect: server RSS %.1f MiB before, %.1f MiB with %llu connected: "
			"%.1f KiB per connection; fleetsim workers RSS %.1f MiB\n",
			(double)rss0 / 1024, (double)rss1 / 1024, (unsigned long long)s.held, per,
			(double)workers_kib(c) / 1024);
	json_object_set_new(
		c->json, "connect",
		json_pack("{sI sI sf sI sI sf sI so}", "held", (json_int_t)s.held, "failed",
			  (json_int_t)s.failed, "seconds", s.last_ok_s, "server_rss_before_kib",
			  (json_int_t)rss0, "server_rss_connected_kib", (json_int_t)rss1,
			  "server_kib_per_connection", per, "workers_rss_kib",
			  (json_int_t)workers_kib(c), "failed_attempts", fail_json(&s)));
	json_object_set_new(json_object_get(c->json, "connect"), "phase_seconds",
			    json_real(s.elapsed));
}

/* Returns the records/s acknowledged. */
static double phase_ingest(struct ctl *c, double rate, const char *key)
{
	struct fs_cmd cmd = { .phase = PH_INGEST,
			      .duration = c->o.duration,
			      .rate = rate,
			      .batch = c->o.batch,
			      .window = c->o.window,
			      .inflight = c->o.inflight };
	struct fs_counts s;
	static struct hist lat;
	char label[64];

	if (rate > 0)
		snprintf(label, sizeof(label), "ingest at %.0f records/s", rate);
	else
		snprintf(label, sizeof(label),
			 "ingest (as fast as acks allow, %u batches in flight)", c->o.inflight);
	run_phase(c, &cmd, label, 0, &s, &lat);
	double rps = s.window_s > 0 ? (double)s.records_acked / s.window_s : 0;
	c->failed |= s.batches_unacked > 0;
	uint64_t p50 = hist_quantile(&lat, 0.5), p99 = hist_quantile(&lat, 0.99);
	fprintf(c->out,
		"%s: %.0f records/s acknowledged over %.1f s (batch %u, window %u per agent); "
		"ack latency p50 %.1f ms, p99 %.1f ms, max %.1f ms (%llu batches)\n",
		label, rps, s.window_s, c->o.batch, cmd.window > 16 ? 16 : cmd.window, ms(p50),
		ms(p99), ms(lat.max), (unsigned long long)lat.count);
	fprintf(c->out,
		"  records sent %llu, acked %llu (all, after the drain), batches unacked %llu, "
		"disconnects %llu; server RSS %.1f MiB\n",
		(unsigned long long)s.records_sent, (unsigned long long)s.records_acked_all,
		(unsigned long long)s.batches_unacked, (unsigned long long)s.disconnects,
		(double)proc_kib(c->server_watch, "VmRSS") / 1024);
	print_fails(c, &s);
	json_object_set_new(
		c->json, key,
		json_pack("{sf sf sf sI sI sI sI sf sf sf sI sI}", "offered_rate", rate, "seconds",
			  s.window_s, "acked_per_second", rps, "records_sent",
			  (json_int_t)s.records_sent, "records_acked", (json_int_t)s.records_acked,
			  "records_acked_after_drain", (json_int_t)s.records_acked_all,
			  "batches_unacked", (json_int_t)s.batches_unacked, "p50_ms", ms(p50),
			  "p99_ms", ms(p99), "max_ms", ms(lat.max), "batches",
			  (json_int_t)lat.count, "disconnects", (json_int_t)s.disconnects));
	return rps;
}

static void phase_storm(struct ctl *c)
{
	struct fs_cmd cmd = { .phase = PH_STORM, .window = c->o.concurrency };
	struct fs_counts s;
	run_phase(c, &cmd, "storm", c->o.agents, &s, NULL);
	c->failed |= s.failed > 0 || s.held < c->o.agents;
	fprintf(c->out,
		"storm: every agent closed at once; %llu connected again in %.2f s, %llu failed "
		"(after up to %d tries with backoff)\n",
		(unsigned long long)s.held, s.last_ok_s, (unsigned long long)s.failed,
		FS_MAX_TRIES);
	print_gave_up(c, &s);
	print_fails(c, &s);
	json_object_set_new(c->json, "storm",
			    json_pack("{sI sI sf so}", "held", (json_int_t)s.held, "failed",
				      (json_int_t)s.failed, "seconds", s.last_ok_s,
				      "failed_attempts", fail_json(&s)));
	json_object_set_new(json_object_get(c->json, "storm"), "phase_seconds",
			    json_real(s.elapsed));
}

/* Creates an identity, disables it through the API and times its access-revoke command
 * reaching every connected agent (CLOCK_MONOTONIC: the same machine's clock). */
static void phase_offboard(struct ctl *c)
{
	char name[64], path[128], body[128];
	snprintf(name, sizeof(name), "fleetsim-leaver-%016llx", (unsigned long long)c->t.nonce);
	snprintf(body, sizeof(body), "{\"name\": \"%s\", \"accounts\": [\"leaver\"]}", name);
	json_t *j = api_json(c, "POST", "/v1/users", body, 201);
	if (!j)
		die("POST /v1/users failed (run with --verbose to see why)");
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/users/%s/disable", name);
	uint64_t t0 = now_ns();
	j = api_json(c, "POST", path, NULL, 200);
	uint64_t t_api = now_ns() - t0;
	if (!j)
		die("POST %s failed (run with --verbose to see why)", path);
	json_int_t notified = json_integer_value(json_object_get(j, "hosts_notified"));
	json_decref(j);
	struct fs_cmd cmd = { .phase = PH_REVOKES, .duration = 60, .t0_ns = t0 };
	struct fs_counts s;
	static struct hist lat;
	run_phase(c, &cmd, "offboard", c->o.agents, &s, &lat);
	c->failed |= s.failed > 0 || (uint64_t)notified != s.done;
	fprintf(c->out,
		"offboard: POST /v1/users/NAME/disable answered in %.1f ms, %lld hosts notified; "
		"%llu agents received access-revoke (%llu did not): p50 %.1f ms, p99 %.1f ms, "
		"max %.1f ms after the request was sent\n",
		(double)t_api / 1e6, (long long)notified, (unsigned long long)s.done,
		(unsigned long long)s.failed, ms(hist_quantile(&lat, 0.5)),
		ms(hist_quantile(&lat, 0.99)), ms(lat.max));
	json_object_set_new(c->json, "offboard",
			    json_pack("{sf sI sI sI sf sf sf}", "api_ms", (double)t_api / 1e6,
				      "hosts_notified", notified, "received", (json_int_t)s.done,
				      "missing", (json_int_t)s.failed, "p50_ms",
				      ms(hist_quantile(&lat, 0.5)), "p99_ms",
				      ms(hist_quantile(&lat, 0.99)), "max_ms", ms(lat.max)));
}

static bool host_matches(json_t *h, uint64_t acked, uint64_t *records, uint64_t *committed)
{
	json_t *streams = json_object_get(h, "streams"), *s;
	size_t i;
	*records = *committed = 0;
	json_array_foreach(streams, i, s) {
		if (!json_is_string(json_object_get(s, "stream")) ||
		    strcmp(json_string_value(json_object_get(s, "stream")), "events"))
			continue;
		*records = (uint64_t)json_integer_value(json_object_get(s, "records"));
		*committed = (uint64_t)json_integer_value(json_object_get(s, "committed_seq"));
	}
	return *records == acked && *committed == acked;
}

static void phase_verify(struct ctl *c)
{
	uint32_t stride = 1;
	if (c->o.verify && c->o.agents > c->o.verify)
		stride = (c->o.agents + c->o.verify - 1) / c->o.verify;
	struct fs_sample *all = NULL;
	size_t n = 0, cap = 0;
	uint32_t last = 0;

	for (uint32_t i = 0; i < c->nworkers; i++) {
		struct fs_cmd cmd = { .type = MSG_CMD, .phase = PH_SAMPLES, .stride = stride };
		if (send(c->fds[i], &cmd, sizeof(cmd), MSG_NOSIGNAL) < 0)
			die("worker %u: %s", i, strerror(errno));
	}
	/* every worker answers with MSG_SAMPLES messages, the last one flagged */
	while (last < c->nworkers) {
		struct pollfd pf[MAX_WORKERS];
		for (uint32_t i = 0; i < c->nworkers; i++)
			pf[i] = (struct pollfd){ .fd = c->fds[i], .events = POLLIN };
		if (poll(pf, c->nworkers, 250) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		check_alive(c);
		for (uint32_t i = 0; i < c->nworkers; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			union fs_any *m = rxbuf();
			ssize_t r = recv(c->fds[i], m, sizeof(*m), 0);
			if (r <= 0)
				die("worker %u exited during verify", i);
			if (m->type != MSG_SAMPLES)
				continue;
			if (n + m->s.n > cap) {
				cap = (n + m->s.n) * 2;
				all = xrealloc(all, cap * sizeof(*all));
			}
			memcpy(all + n, m->s.s, m->s.n * sizeof(*all));
			n += m->s.n;
			last += m->s.last;
		}
	}

	/* the agents are done: closing their connections frees the server's descriptors for
	 * the API (at the descriptor limit it could not accept one) */
	struct fs_cmd close_cmd = { .phase = PH_CLOSE };
	struct fs_counts closed;
	run_phase(c, &close_cmd, "close", c->o.agents, &closed, NULL);
	usleep(500000);

	uint64_t ok = 0, bad = 0, errors = 0, acked_total = 0, stored_total = 0;
	unsigned errors_in_a_row = 0;
	double t0 = now_s();
	for (size_t i = 0; i < n && errors_in_a_row < 5; i++) {
		char path[128];
		uint64_t records, committed;
		check_alive(c);
		snprintf(path, sizeof(path), "/v1/hosts/%s", all[i].host_id);
		json_t *h = api_json(c, "GET", path, NULL, 200);
		if (!h) {
			errors++;
			errors_in_a_row++;
			continue;
		}
		errors_in_a_row = 0;
		acked_total += all[i].acked;
		if (host_matches(h, all[i].acked, &records, &committed)) {
			ok++;
		} else {
			if (bad < 5)
				fprintf(c->out,
					"verify: host %s: acked %llu, stored %llu records, "
					"committed_seq %llu\n",
					all[i].host_id, (unsigned long long)all[i].acked,
					(unsigned long long)records, (unsigned long long)committed);
			bad++;
		}
		stored_total += records;
		json_decref(h);
		if (c->tty && i % 50 == 0)
			fprintf(stderr, "\r\033[Kverify: %zu/%zu hosts", i, n);
	}
	if (c->tty)
		fprintf(stderr, "\r\033[K");
	c->failed |= bad > 0 || errors > 0 || ok < n;
	if (errors_in_a_row >= 5)
		fprintf(c->out, "verify: the API did not answer 5 requests in a row: stopped\n");
	fprintf(c->out,
		"verify: %zu hosts checked through GET /v1/hosts/ID in %.1f s: %llu with records "
		"stored == committed_seq == acked, %llu mismatched, %llu not answered; "
		"%llu records acked, %llu stored\n",
		n, now_s() - t0, (unsigned long long)ok, (unsigned long long)bad,
		(unsigned long long)errors, (unsigned long long)acked_total,
		(unsigned long long)stored_total);
	json_object_set_new(c->json, "verify",
			    json_pack("{sI sI sI sI sI sI}", "hosts", (json_int_t)n, "match",
				      (json_int_t)ok, "mismatch", (json_int_t)bad, "errors",
				      (json_int_t)errors, "records_acked", (json_int_t)acked_total,
				      "records_stored", (json_int_t)stored_total));
	free(all);

	json_t *st = api_json(c, "GET", "/v1/status", NULL, 200);
	if (st) {
		json_t *counters = json_object_get(st, "counters");
		fprintf(c->out, "server counters:");
		const char *k;
		json_t *v;
		json_object_foreach(counters, k, v) {
			if (json_integer_value(v))
				fprintf(c->out, " %s=%lld", k, (long long)json_integer_value(v));
		}
		fputc('\n', c->out);
		json_object_set(c->json, "server_counters", counters);
		json_decref(st);
	}
}

/* --- options --- */

static void usage(FILE *f)
{
	fputs("usage: fleetsim [options]\n"
	      "  --agents N           simulated agents (default 1000)\n"
	      "  --workers W          worker processes, each one event loop (default 2)\n"
	      "  --duration S         seconds of each ingest phase (default 10)\n"
	      "  --rate R             records/s in total; 0 (default): as fast as acks allow,\n"
	      "                       then again at 50 %% of the rate measured\n"
	      "  --batch B            records per batch (default 100)\n"
	      "  --window K           batches in flight per agent (default 4, at most 16)\n"
	      "  --inflight I         with --rate 0: batches in flight in all (default 1024)\n"
	      "  --concurrency C      enrollments/connections in flight per worker (default 128)\n"
	      "  --phases LIST        enroll,connect,ingest,storm,verify (default: all);\n"
	      "                       offboard (only when named): disable an identity, time\n"
	      "                       its access-revoke reaching every connected agent\n"
	      "  --verify N           hosts to check through the API (default 200, 0: all)\n"
	      "  --source-addrs K     bind agents to K source addresses 127.1.x.1 (default 64)\n"
	      "  --server-bin PATH    immune-server to start (default: next to this build)\n"
	      "  --server-arg ARG     extra argument for the server (repeatable)\n"
	      "  --server-data DIR    use a running server: read DIR/client.yaml\n"
	      "  --agent-addr A:P     with --server-data: where agents connect (default from\n"
	      "                       client.yaml)\n"
	      "  --api URL            with --server-data: the API (default from client.yaml)\n"
	      "  --server-pid PID     with --server-data: read the server's memory\n"
	      "  --fetch-catalog      every agent fetches the catalog at its first connection\n"
	      "                       (default: agents claim the digest one probe learnt)\n"
	      "  --json               one JSON object on stdout at the end (lines on stderr)\n"
	      "  --keep               keep the temporary server data directory\n"
	      "  --verbose            print every failure\n",
	      f);
}

static uint64_t num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;
	if (parse_u64(s, 10, max, &v) < 0 || v < min) {
		fprintf(stderr, "fleetsim: %s: '%s' is not a number in [%llu, %llu]\n", opt, s,
			(unsigned long long)min, (unsigned long long)max);
		exit(2);
	}
	return v;
}

static unsigned parse_phases(const char *s)
{
	unsigned p = 0;
	_cleanup_(strv_freep) strv v = str_split(s, ",");
	for (size_t i = 0; v && v[i]; i++) {
		if (!strcmp(v[i], "enroll"))
			p |= P_ENROLL;
		else if (!strcmp(v[i], "connect"))
			p |= P_CONNECT;
		else if (!strcmp(v[i], "ingest"))
			p |= P_INGEST;
		else if (!strcmp(v[i], "storm"))
			p |= P_STORM;
		else if (!strcmp(v[i], "verify"))
			p |= P_VERIFY;
		else if (!strcmp(v[i], "offboard"))
			p |= P_OFFBOARD;
		else {
			fprintf(stderr,
				"fleetsim: --phases: unknown phase '%s' (enroll, connect, ingest, "
				"storm, verify, offboard)\n",
				v[i]);
			exit(2);
		}
	}
	/* later phases need the earlier ones */
	if (p & (P_CONNECT | P_INGEST | P_STORM | P_VERIFY))
		p |= P_ENROLL;
	if (p & (P_INGEST | P_STORM | P_OFFBOARD))
		p |= P_CONNECT | P_ENROLL;
	return p;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_AGENTS = 256,
		O_WORKERS,
		O_DURATION,
		O_RATE,
		O_BATCH,
		O_WINDOW,
		O_CONC,
		O_PHASES,
		O_VERIFY,
		O_SRC,
		O_BIN,
		O_SARG,
		O_SDATA,
		O_AADDR,
		O_API,
		O_SPID,
		O_JSON,
		O_KEEP,
		O_VERBOSE,
		O_HELP,
		O_FETCH,
		O_INFLIGHT,
	};
	static const struct option lo[] = {
		{ "agents", required_argument, NULL, O_AGENTS },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "rate", required_argument, NULL, O_RATE },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "phases", required_argument, NULL, O_PHASES },
		{ "verify", required_argument, NULL, O_VERIFY },
		{ "source-addrs", required_argument, NULL, O_SRC },
		{ "server-bin", required_argument, NULL, O_BIN },
		{ "server-arg", required_argument, NULL, O_SARG },
		{ "server-data", required_argument, NULL, O_SDATA },
		{ "agent-addr", required_argument, NULL, O_AADDR },
		{ "api", required_argument, NULL, O_API },
		{ "server-pid", required_argument, NULL, O_SPID },
		{ "json", no_argument, NULL, O_JSON },
		{ "fetch-catalog", no_argument, NULL, O_FETCH },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "keep", no_argument, NULL, O_KEEP },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	*o = (struct opts){ .agents = 1000,
			    .workers = 2,
			    .duration = 10,
			    .batch = 100,
			    .window = 4,
			    .inflight = 1024,
			    .concurrency = 128,
			    .verify = 200,
			    .source_addrs = 64,
			    .phases = P_ENROLL | P_CONNECT | P_INGEST | P_STORM | P_VERIFY };
	int ch;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case O_AGENTS: o->agents = (uint32_t)num("--agents", optarg, 1, 2000000); break;
		case O_WORKERS:
			o->workers = (uint32_t)num("--workers", optarg, 1, MAX_WORKERS);
			break;
		case O_DURATION: o->duration = (double)num("--duration", optarg, 1, 86400); break;
		case O_RATE: o->rate = (double)num("--rate", optarg, 0, 100000000); break;
		case O_BATCH:
			o->batch = (uint32_t)num("--batch", optarg, 1, MSG_MAX_BATCH_RECORDS);
			break;
		case O_WINDOW: o->window = (uint32_t)num("--window", optarg, 1, 16); break;
		case O_CONC:
			o->concurrency = (uint32_t)num("--concurrency", optarg, 1, 100000);
			break;
		case O_PHASES: o->phases = parse_phases(optarg); break;
		case O_VERIFY: o->verify = (uint32_t)num("--verify", optarg, 0, 2000000); break;
		case O_SRC:
			o->source_addrs = (unsigned)num("--source-addrs", optarg, 0, 255);
			break;
		case O_BIN: o->server_bin = optarg; break;
		case O_SARG:
			if (o->nserver_args == MAX_SERVER_ARGS) {
				fprintf(stderr, "fleetsim: too many --server-arg\n");
				exit(2);
			}
			o->server_args[o->nserver_args++] = optarg;
			break;
		case O_SDATA: o->server_data = optarg; break;
		case O_AADDR: o->agent_addr = optarg; break;
		case O_API: o->api_url = optarg; break;
		case O_SPID: o->server_pid = (pid_t)num("--server-pid", optarg, 1, 1u << 30); break;
		case O_JSON: o->json = true; break;
		case O_FETCH: o->fetch_catalog = true; break;
		case O_INFLIGHT:
			o->inflight = (uint32_t)num("--inflight", optarg, 1, 10000000);
			break;
		case O_KEEP: o->keep = true; break;
		case O_VERBOSE: o->verbose = true; break;
		case 'h':
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetsim: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (o->workers > o->agents)
		o->workers = o->agents;
}

int main(int argc, char **argv)
{
	static struct ctl ctl;
	struct ctl *c = &ctl;

	parse_opts(argc, argv, &c->o);
	c->out = c->o.json ? stderr : stdout;
	c->tty = isatty(2);
	c->json = json_object();
	setvbuf(stdout, NULL, _IOLBF, 0);
	the_ctl = c;
	atexit(cleanup);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	json_object_set_new(c->json, "agents", json_integer(c->o.agents));
	json_object_set_new(c->json, "workers", json_integer(c->o.workers));
	json_object_set_new(c->json, "batch", json_integer(c->o.batch));
	json_object_set_new(c->json, "window", json_integer(c->o.window));
	double load0 = loadavg();
	fprintf(c->out,
		"fleetsim: %u agents, %u workers, %ld CPUs, %.1f GiB available, load average "
		"%.2f\n",
		c->o.agents, c->o.workers, sysconf(_SC_NPROCESSORS_ONLN),
		(double)mem_available_kib() / (1024 * 1024), load0);
	json_object_set_new(c->json, "load_average_start", json_real(load0));
	raise_nofile(c);

	if (c->o.server_data)
		use_server(c);
	else
		start_server(c);
	if (c->o.api_url && fs_parse_api_url(c->o.api_url, &c->conf) < 0)
		die("--api: '%s' is not https://A.B.C.D:PORT", c->o.api_url);
	const char *agents = c->o.agent_addr ? c->o.agent_addr : c->conf.agents;
	if (fs_parse_addr(agents, &c->t.agents) < 0)
		die("agents address '%s' is not A.B.C.D:PORT", agents);
	c->t.source_addrs = c->o.source_addrs;
	c->t.verbose = c->o.verbose;
	c->t.fetch_catalog = c->o.fetch_catalog;
	uint64_t nonce;
	if (RAND_bytes((unsigned char *)&nonce, sizeof(nonce)) != 1)
		die("no random bytes");
	c->t.nonce = nonce;
	create_token(c);
	start_workers(c);

	phase_keygen(c);
	if (c->o.phases & P_ENROLL)
		phase_enroll(c);
	if (c->o.phases & P_CONNECT)
		phase_connect(c);
	if (c->o.phases & P_OFFBOARD)
		phase_offboard(c);
	if (c->o.phases & P_INGEST) {
		if (c->o.rate > 0) {
			phase_ingest(c, c->o.rate, "ingest_fixed");
		} else {
			double max = phase_ingest(c, 0, "ingest_max");
			if (max > 0)
				phase_ingest(c, (double)(uint64_t)(max * 0.5), "ingest_half");
		}
	}
	if (c->o.phases & P_STORM)
		phase_storm(c);
	if (c->o.phases & P_VERIFY)
		phase_verify(c);

	uint64_t hwm = proc_kib(c->server_watch, "VmHWM");
	if (hwm)
		fprintf(c->out, "server: peak RSS (VmHWM) %.1f MiB\n", (double)hwm / 1024);
	json_object_set_new(c->json, "server_peak_rss_kib", json_integer((json_int_t)hwm));
	json_object_set_new(c->json, "ok", json_boolean(!c->failed));
	json_object_set_new(c->json, "load_average_end", json_real(loadavg()));
	fprintf(c->out,
		"fleetsim: load average at the end %.2f (1 min; the machine has %ld CPUs)\n",
		loadavg(), sysconf(_SC_NPROCESSORS_ONLN));
	if (c->o.json) {
		json_dumpf(c->json, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	}
	json_decref(c->json);
	if (c->failed)
		fprintf(c->out, "fleetsim: FAILED: some agents gave up or some records were not "
				"acknowledged and stored (see above)\n");
	return c->failed ? 1 : 0;
}
