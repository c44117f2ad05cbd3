/* The access role: bundle, sshd files, the login socket, revocations (access.h). */
#include "agent/access.h"

#include "agent/pushed_files.h"
#include "agent/session_agent.h"
#include "detect/sigma.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "respond/act.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define SCAN_RECORD_MAX (64u << 20)

struct session_reg {
	pid_t pid;
	uint64_t start_time;
	char identity[ACCESS_NAME_MAX + 1];
	char session_id[129];
};

struct alert_mark {
	int64_t time_s;
	int severity; /* enum access_severity, or -1: not counted */
};

struct conn {
	struct access *ac;
	int fd;
	struct ucred cred;
	struct event *ev;
	bool recorder;		    /* sent session messages: its sessions end when it goes */
	struct conn *next, **pprev; /* in access.conns */
};

struct access {
	char *state_dir, *bundle_dir, *local_path, *sock_path;
	char *dir, *dropin, *sshd_config, *pid_file, *principals_user, *agent_path;
	bool manage_sshd;
	bool no_files; /* another root than this host's: nothing is written for sshd */
	int64_t alert_window_s;
	uid_t principals_uid;
	bool has_principals_uid;
	char *host_id, *hostname;
	struct access_attr *labels;
	size_t n_labels;
	void (*act)(void *arg, const Action *a);
	void *act_arg;
	access_notify_fn notify;
	void *notify_arg;

	struct event_base *base;
	struct event *ev_listen, *ev_reload, *ev_krl;
	int listen_fd;
	pthread_t thread;
	bool running;
	size_t n_conns;
	struct conn *conns;
	unsigned char *rbuf; /* one message (the thread's) */
	uint64_t krl_version;
	bool sshd_has_conn_token; /* sshd expands %C in AuthorizedPrincipalsCommand */

	pthread_mutex_t sa_lock; /* the recorded sessions (session_agent.h is not thread-safe) */
	struct session_agent *recorded;

	pthread_mutex_t lock; /* everything below */
	struct access_bundle bundle;
	bool has_bundle;
	struct access_policy_set *policies;
	struct access_bundle local;
	int posture;
	struct alert_mark alerts[ACCESS_MAX_ALERTS];
	size_t alert_next;
	struct session_reg *sessions;
	size_t n_sessions;
	struct agent_records records;
	uint64_t logins, denied, revoked, bad_messages, refused_peers;
	char last_error[512];
};

/* ---- records ---- */

static void queue_event(struct access *ac, json_t *ev)
{
	char *s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(ev);
	if (!s)
		return;
	pthread_mutex_lock(&ac->lock);
	agent_records_add(&ac->records, IMMUNE__V1__STREAM__STREAM_ALERTS,
			  IMMUNE__V1__RECORD_KIND__RECORD_ACCESS_EVENT, agent_now_ns(), s,
			  strlen(s));
	pthread_mutex_unlock(&ac->lock);
	free(s);
	if (ac->notify)
		ac->notify(ac->notify_arg);
}

/* A part of a recorded session (session_agent.h), from inside session_agent_handle. */
static void session_emit(void *arg, const char *payload, size_t len, int64_t time_ns)
{
	struct access *ac = arg;
	pthread_mutex_lock(&ac->lock);
	agent_records_add(&ac->records, IMMUNE__V1__STREAM__STREAM_ALERTS,
			  IMMUNE__V1__RECORD_KIND__RECORD_SESSION, time_ns, payload, len);
	pthread_mutex_unlock(&ac->lock);
	if (ac->notify)
		ac->notify(ac->notify_arg);
}

void access_take(struct access *ac, struct agent_records *out)
{
	pthread_mutex_lock(&ac->lock);
	agent_records_move(out, &ac->records);
	pthread_mutex_unlock(&ac->lock);
}

static void set_error(struct access *ac, const char *fmt, ...) _printf_(2, 3);
static void set_error(struct access *ac, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&ac->lock);
	vsnprintf(ac->last_error, sizeof(ac->last_error), fmt, ap);
	pthread_mutex_unlock(&ac->lock);
	va_end(ap);
	log_warn("access: %s", ac->last_error);
}

/* ---- files for sshd ---- */

static int mkdir_parents(const char *dir)
{
	_cleanup_free_ char *p = xstrdup(dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* sshd expands %C (the connection's addresses) in AuthorizedPrincipalsCommand from OpenSSH
 * 9.4 on; older ones refuse the login when it is there. Asks `sshd -V`. */
static bool sshd_conn_token(void)
{
	char out[512] = "";
	const char *argv[] = { "/usr/sbin/sshd", "-V", NULL };
	act_run(argv, 3000, out, sizeof(out));
	const char *v = strstr(out, "OpenSSH_");
	if (!v)
		return false;
	v += strlen("OpenSSH_");
	char num[16];
	size_t n = strspn(v, "0123456789");
	uint64_t major, minor;
	if (n == 0 || n >= sizeof(num) || v[n] != '.')
		return false;
	memcpy(num, v, n);
	num[n] = '\0';
	if (parse_u64(num, 10, 1000, &major) < 0)
		return false;
	v += n + 1;
	n = strspn(v, "0123456789");
	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, v, n);
	num[n] = '\0';
	if (parse_u64(num, 10, 1000, &minor) < 0)
		return false;
	return major > 9 || (major == 9 && minor >= 4);
}

/* sshd runs AuthorizedPrincipalsCommand only when the program and every directory above it
 * belong to root and are not writable by group or others. Returns NULL when path passes,
 * else the first path that fails (caller frees). */
static char *principals_path_unsafe(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (;;) {
		struct stat st;
		if (stat(p, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022))
			return xstrdup(p);
		char *slash = strrchr(p, '/');
		if (!slash || !strcmp(p, "/"))
			return NULL;
		slash[slash == p] = '\0'; /* "/usr" goes on with "/" */
	}
}

static void warn_if_principals_unsafe(const char *agent_path)
{
	_cleanup_free_ char *unsafe = principals_path_unsafe(agent_path);

	if (unsafe)
		log_warn("access: sshd will not run %s as AuthorizedPrincipalsCommand: %s is not "
			 "root's or is writable by group or others (certificate logins are "
			 "refused); install immune-agent below a root-owned path or set "
			 "access.principals_command",
			 agent_path, unsafe);
}

static char *dropin_text(const struct access *ac)
{
	return xasprintf(
		"# Written by immune-agent from the access bundle (docs/access.md); it is\n"
		"# replaced with every bundle. access.manage_sshd: false in agent.yaml\n"
		"# turns it off.\n"
		"TrustedUserCAKeys %s/ca.pub\n"
		"RevokedKeys %s/revoked.krl\n"
		"AuthorizedPrincipalsCommand %s principals --state %s %%u %%k%s\n"
		"AuthorizedPrincipalsCommandUser %s\n"
		"ExposeAuthInfo yes\n",
		ac->dir, ac->dir, ac->agent_path, ac->state_dir,
		ac->sshd_has_conn_token ? " %C" : "", ac->principals_user);
}

/* Writes revoked.krl from the bundle's and the local revocations. Caller holds no lock. */
static int write_krl(struct access *ac)
{
	if (ac->no_files)
		return 0;
	pthread_mutex_lock(&ac->lock);
	if (!ac->has_bundle || !ac->bundle.has_ca) {
		pthread_mutex_unlock(&ac->lock);
		return 0;
	}
	struct ssh_ed25519_key ca = ac->bundle.ca;
	size_t n = ac->bundle.n_serials + ac->local.n_serials;
	uint64_t *serials = xcalloc(n ? n : 1, sizeof(*serials));
	for (size_t i = 0; i < ac->bundle.n_serials; i++)
		serials[i] = ac->bundle.serials[i];
	for (size_t i = 0; i < ac->local.n_serials; i++)
		serials[ac->bundle.n_serials + i] = ac->local.serials[i];
	size_t nk = strv_len(ac->bundle.key_ids);
	const char **kids = xcalloc(nk ? nk : 1, sizeof(*kids));
	for (size_t i = 0; i < nk; i++)
		kids[i] = ac->bundle.key_ids[i];
	struct buf krl = { 0 };
	buf_init(&krl, 64u << 20);
	uint64_t now = (uint64_t)time(NULL);
	ac->krl_version = now > ac->krl_version ? now : ac->krl_version + 1;
	int r = krl_build(&ca, serials, n, kids, nk, ac->krl_version, now, &krl);
	pthread_mutex_unlock(&ac->lock);
	_cleanup_free_ char *path = xasprintf("%s/revoked.krl", ac->dir);
	if (r == 0)
		r = file_write_atomic(path, buf_str(&krl), buf_len(&krl), 0644);
	if (r < 0)
		set_error(ac, "writing %s: %s", path, strerror(-r));
	buf_free(&krl);
	free(serials);
	free(kids);
	return r;
}

/* Puts the drop-in in place when it changed, after sshd -t accepted it, and reloads sshd. */
static void write_dropin(struct access *ac)
{
	_cleanup_free_ char *text = dropin_text(ac);
	_cleanup_free_ char *parent = xstrdup(ac->dropin);
	struct buf cur = { 0 }, content = { 0 };
	buf_init(&cur, 1u << 20);
	buf_init(&content, 1u << 20);
	buf_puts(&content, text);
	warn_if_principals_unsafe(ac->agent_path);
	if (file_read_capped(ac->dropin, 1u << 20, &cur) == 0 && buf_len(&cur) == strlen(text) &&
	    memcmp(buf_str(&cur), text, strlen(text)) == 0)
		goto out; /* in place already */
	char run[512] = "";
	struct act_ctx ctx = { .state_dir = ac->state_dir, .uid = "access" };
	int r = act_sshd_check_dropin(&ctx, ac->sshd_config, &content, run, sizeof(run));
	if (r < 0) {
		set_error(ac, "sshd refuses the drop-in %s, not written: %.300s", ac->dropin, run);
		goto out;
	}
	*strrchr(parent, '/') = '\0';
	if (parent[0] && (r = mkdir_parents(parent)) < 0) {
		set_error(ac, "creating %s: %s", parent, strerror(-r));
		goto out;
	}
	if ((r = file_write_atomic(ac->dropin, text, strlen(text), 0644)) < 0) {
		set_error(ac, "writing %s: %s", ac->dropin, strerror(-r));
		goto out;
	}
	r = act_sshd_reload(ac->pid_file, run, sizeof(run));
	log_info("access: wrote %s (%s)", ac->dropin, run);
out:
	buf_free(&cur);
	buf_free(&content);
}

/* ca.pub, revoked.krl and the drop-in, when the bundle holds a CA. */
static void write_files(struct access *ac)
{
	pthread_mutex_lock(&ac->lock);
	_cleanup_free_ char *ca =
		ac->has_bundle && ac->bundle.has_ca ? xasprintf("%s\n", ac->bundle.ca_line) : NULL;
	pthread_mutex_unlock(&ac->lock);
	if (!ca || ac->no_files)
		return;
	int r = mkdir_parents(ac->dir);
	_cleanup_free_ char *path = xasprintf("%s/ca.pub", ac->dir);
	if (r == 0)
		r = file_write_atomic(path, ca, strlen(ca), 0644);
	if (r < 0) {
		set_error(ac, "writing %s: %s", path, strerror(-r));
		return;
	}
	/* the KRL before the drop-in: sshd refuses every key while RevokedKeys is unreadable */
	if (write_krl(ac) < 0)
		return;
	if (ac->manage_sshd)
		write_dropin(ac);
}

/* ---- bundle ---- */

static void save_local(struct access *ac)
{
	pthread_mutex_lock(&ac->lock);
	char *text = access_local_dump(&ac->local);
	pthread_mutex_unlock(&ac->lock);
	if (!text)
		return;
	int r = file_write_atomic(ac->local_path, text, strlen(text), 0600);
	if (r < 0)
		set_error(ac, "writing %s: %s", ac->local_path, strerror(-r));
	free(text);
}

static int load_local(struct access *ac, char *err, size_t errlen)
{
	struct buf b = { 0 };
	buf_init(&b, ACCESS_BUNDLE_MAX);
	int r = file_read_capped(ac->local_path, ACCESS_BUNDLE_MAX, &b);
	if (r == -ENOENT) {
		buf_free(&b);
		return 0;
	}
	if (r == 0)
		r = access_bundle_parse(buf_str(&b), buf_len(&b), &ac->local, err, errlen);
	else
		snprintf(err, errlen, "%s", strerror(-r));
	buf_free(&b);
	return r;
}

/* Loads STATE/access (access.json and the policies). The previous bundle stays on error. */
static void load_bundle(struct access *ac)
{
	char err[1024] = "";
	struct access_bundle b = { 0 };
	struct access_policy_set *set = NULL;
	_cleanup_free_ char *json_path = xasprintf("%s/access.json", ac->bundle_dir);
	struct buf text = { 0 };
	buf_init(&text, ACCESS_BUNDLE_MAX);
	int r = file_read_capped(json_path, ACCESS_BUNDLE_MAX, &text);
	if (r == -ENOENT) {
		buf_free(&text);
		/* none yet, or the server sent one without access.json: every login is refused */
		pthread_mutex_lock(&ac->lock);
		bool had = ac->has_bundle;
		access_bundle_free(&ac->bundle);
		access_policy_set_free(ac->policies);
		ac->policies = NULL;
		ac->has_bundle = false;
		pthread_mutex_unlock(&ac->lock);
		pthread_mutex_lock(&ac->sa_lock);
		if (ac->recorded)
			session_agent_set_ca(ac->recorded, NULL);
		pthread_mutex_unlock(&ac->sa_lock);
		if (had)
			log_warn("access: the new bundle holds no access.json: logins are refused");
		return;
	}
	if (r < 0)
		snprintf(err, sizeof(err), "%s: %s", json_path, strerror(-r));
	else
		r = access_bundle_parse(buf_str(&text), buf_len(&text), &b, err, sizeof(err));
	buf_free(&text);
	if (r == 0 && (r = access_policy_load_dir(ac->bundle_dir, &set, err, sizeof(err))) < 0 &&
	    !err[0])
		snprintf(err, sizeof(err), "%s: %s", ac->bundle_dir, strerror(-r));
	if (r < 0) {
		access_bundle_free(&b);
		set_error(ac, "the access bundle was not applied: %s", err);
		return;
	}
	pthread_mutex_lock(&ac->lock);
	access_bundle_free(&ac->bundle);
	access_policy_set_free(ac->policies);
	ac->bundle = b;
	ac->policies = set;
	ac->has_bundle = true;
	bool pruned = access_local_prune(&ac->local, &ac->bundle);
	ac->last_error[0] = '\0';
	size_t np = access_policy_count(set), ng = ac->bundle.n_grants;
	int64_t version = ac->bundle.version;
	struct ssh_ed25519_key ca = ac->bundle.ca;
	bool has_ca = ac->bundle.has_ca;
	pthread_mutex_unlock(&ac->lock);
	/* recorded sessions: the identity a recorder names is checked against the certificate */
	pthread_mutex_lock(&ac->sa_lock);
	if (ac->recorded)
		session_agent_set_ca(ac->recorded, has_ca ? &ca : NULL);
	pthread_mutex_unlock(&ac->sa_lock);
	if (pruned)
		save_local(ac);
	log_info("access: bundle version %lld loaded (%zu policies, %zu grants)",
		 (long long)version, np, ng);
	write_files(ac);
}

static void on_reload(evutil_socket_t fd, short what, void *arg)
{
	load_bundle(arg);
}

static void on_krl(evutil_socket_t fd, short what, void *arg)
{
	write_krl(arg);
}

void access_bundle_changed(struct access *ac)
{
	if (ac && ac->ev_reload)
		event_active(ac->ev_reload, EV_READ, 0);
}

/* ---- context ---- */

void access_alert(struct access *ac, int sigma_level, int64_t time_ns)
{
	if (!ac)
		return;
	int sev = sigma_level == SIGMA_LEVEL_CRITICAL ? ACCESS_SEV_CRITICAL
		  : sigma_level == SIGMA_LEVEL_HIGH   ? ACCESS_SEV_HIGH
		  : sigma_level == SIGMA_LEVEL_MEDIUM ? ACCESS_SEV_MEDIUM
		  : sigma_level == SIGMA_LEVEL_LOW    ? ACCESS_SEV_LOW
						      : -1;
	if (sev < 0)
		return;
	pthread_mutex_lock(&ac->lock);
	ac->alerts[ac->alert_next % ACCESS_MAX_ALERTS] =
		(struct alert_mark){ .time_s = time_ns / 1000000000, .severity = sev };
	ac->alert_next++;
	pthread_mutex_unlock(&ac->lock);
}

void access_set_posture(struct access *ac, int score)
{
	if (!ac)
		return;
	pthread_mutex_lock(&ac->lock);
	ac->posture = score < 0 || score > 100 ? -1 : score;
	pthread_mutex_unlock(&ac->lock);
}

/* Caller holds the lock. */
static void count_alerts(const struct access *ac, int64_t now, uint32_t out[4])
{
	size_t n = ac->alert_next < ACCESS_MAX_ALERTS ? ac->alert_next : ACCESS_MAX_ALERTS;
	for (size_t i = 0; i < n; i++) {
		const struct alert_mark *m = &ac->alerts[i];
		if (m->severity >= 0 && m->severity < 4 && m->time_s > now - ac->alert_window_s)
			out[m->severity]++;
	}
}

/* ---- sessions ---- */

/* /proc/PID/stat field 22 and the owner of /proc/PID. Returns 0 or a negative errno. */
static int proc_info(pid_t pid, uint64_t *start, uid_t *uid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	struct buf b = { 0 };
	buf_init(&b, 4096);
	int r = file_read_capped(path, 4096, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	/* after the command's closing parenthesis: field 3 onwards */
	const char *p = strrchr(buf_str(&b), ')');
	r = -EBADMSG;
	if (p) {
		_cleanup_strv_ strv f = str_split(p + 1, " ");
		if (strv_len(f) > 19 && parse_u64(f[19], 10, UINT64_MAX, start) == 0)
			r = 0;
	}
	buf_free(&b);
	*uid = st.st_uid;
	return r;
}

static bool session_alive(const struct session_reg *s)
{
	uint64_t start;
	uid_t uid;
	return proc_info(s->pid, &start, &uid) == 0 && start == s->start_time;
}

static void register_session(struct access *ac, const struct access_query *q,
			     const struct ucred *cred, json_t *ans)
{
	uint64_t start;
	uid_t owner;
	pid_t pid = (pid_t)q->pid;
	if (proc_info(pid, &start, &owner) < 0) {
		json_object_set_new(ans, "error", json_string("no such process"));
		return;
	}
	if (cred->uid != 0 && pid != cred->pid && owner != cred->uid) {
		json_object_set_new(ans, "error", json_string("not a process of the caller"));
		return;
	}
	pthread_mutex_lock(&ac->lock);
	if (ac->n_sessions >= ACCESS_MAX_SESSIONS) { /* forget the ended ones */
		size_t w = 0;
		for (size_t i = 0; i < ac->n_sessions; i++)
			if (session_alive(&ac->sessions[i]))
				ac->sessions[w++] = ac->sessions[i];
		ac->n_sessions = w;
	}
	bool ok = ac->n_sessions < ACCESS_MAX_SESSIONS;
	if (ok) {
		if (!ac->sessions)
			ac->sessions = xcalloc(ACCESS_MAX_SESSIONS, sizeof(*ac->sessions));
		struct session_reg *s = &ac->sessions[ac->n_sessions++];
		*s = (struct session_reg){ .pid = pid, .start_time = start };
		snprintf(s->identity, sizeof(s->identity), "%s", q->identity);
		snprintf(s->session_id, sizeof(s->session_id), "%s", q->session_id);
	}
	pthread_mutex_unlock(&ac->lock);
	json_object_set_new(ans, "ok", json_boolean(ok));
	if (!ok)
		json_object_set_new(ans, "error", json_string("too many sessions"));
}

/* ---- the socket ---- */

/* The parent of pid (sshd's process for the connection, which ran the principals command). */
static pid_t parent_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	struct buf b = { 0 };
	buf_init(&b, 4096);
	pid_t ppid = 0;
	if (file_read_capped(path, 4096, &b) == 0) {
		const char *p = strrchr(buf_str(&b), ')');
		int64_t v;
		if (p) {
			_cleanup_strv_ strv f = str_split(p + 1, " ");
			if (strv_len(f) > 1 && parse_i64(f[1], 2, INT32_MAX, &v) == 0)
				ppid = (pid_t)v;
		}
	}
	buf_free(&b);
	return ppid;
}

/* "a.b.c.d" or an IPv6 address from /proc/net/tcp{,6}'s hex (32-bit words in host order). */
static bool hex_addr(const char *hex, size_t n, char *out, size_t len)
{
	uint32_t w[4];
	size_t words = n / 8;
	if ((n != 8 && n != 32) || strspn(hex, "0123456789ABCDEFabcdef") < n)
		return false;
	for (size_t i = 0; i < words; i++) {
		char part[9];
		memcpy(part, hex + 8 * i, 8);
		part[8] = '\0';
		w[i] = (uint32_t)strtoul(part, NULL, 16);
	}
	return inet_ntop(words == 1 ? AF_INET : AF_INET6, w, out, (socklen_t)len) != NULL;
}

/* Finds inode among the established sockets of /proc/net/FILE; writes sshd's %C form. */
static int tcp_lookup(const char *file, uint64_t inode, char *out, size_t len)
{
	struct buf b = { 0 };
	buf_init(&b, 16u << 20);
	int r = file_read_capped(file, 16u << 20, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	r = -ENOENT;
	_cleanup_strv_ strv lines = str_split(buf_str(&b), "\n");
	for (size_t i = 1; lines[i] && r < 0; i++) {
		_cleanup_strv_ strv f = str_split(lines[i], " ");
		if (strv_len(f) < 10 || strcmp(f[3], "01") != 0 ||
		    strtoull(f[9], NULL, 10) != inode)
			continue;
		char *lc = strchr(f[1], ':'), *rc = strchr(f[2], ':');
		char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
		if (!lc || !rc || !hex_addr(f[1], (size_t)(lc - f[1]), la, sizeof(la)) ||
		    !hex_addr(f[2], (size_t)(rc - f[2]), ra, sizeof(ra)))
			continue;
		snprintf(out, len, "%s %lu %s %lu", ra, strtoul(rc + 1, NULL, 16), la,
			 strtoul(lc + 1, NULL, 16));
		r = 0;
	}
	buf_free(&b);
	return r;
}

/* Without %C (older sshd): the connection of the sshd process that started the principals
 * command pid, from its TCP socket. Returns 0 or a negative errno (source unknown). */
static int peer_connection(pid_t pid, char *out, size_t len)
{
	pid_t ppid = pid > 0 ? parent_of(pid) : 0;
	if (ppid <= 1)
		return -ESRCH;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)ppid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	int r = -ENOENT;
	unsigned seen = 0;
	while (r < 0 && seen++ < 256 && (e = readdir(d))) {
		char link[64];
		ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		uint64_t inode;
		if (!str_has_prefix(link, "socket:[") || link[n - 1] != ']')
			continue;
		link[n - 1] = '\0';
		if (parse_u64(link + strlen("socket:["), 10, UINT64_MAX, &inode) < 0)
			continue;
		if ((r = tcp_lookup("/proc/net/tcp", inode, out, len)) < 0)
			r = tcp_lookup("/proc/net/tcp6", inode, out, len);
	}
	closedir(d);
	return r;
}

static void handle_login(struct access *ac, const struct access_query *q, const struct ucred *cred,
			 json_t *ans)
{
	if (cred->uid != 0 && !(ac->has_principals_uid && cred->uid == ac->principals_uid)) {
		pthread_mutex_lock(&ac->lock);
		ac->refused_peers++;
		pthread_mutex_unlock(&ac->lock);
		json_object_set_new(ans, "allow", json_false());
		json_object_set_new(ans, "reason", json_string("this user may not ask"));
		return;
	}
	struct access_outcome o;
	int64_t now = (int64_t)time(NULL);
	char conn[160];
	const char *connection = q->connection;
	if (!connection && peer_connection(cred->pid, conn, sizeof(conn)) == 0)
		connection = conn;
	pthread_mutex_lock(&ac->lock);
	struct access_env env = {
		.policies = ac->policies,
		.bundle = ac->has_bundle ? &ac->bundle : NULL,
		.local = &ac->local,
		.host = { .id = ac->host_id,
			  .name = ac->hostname,
			  .labels = ac->labels,
			  .n_labels = ac->n_labels },
		.now = now,
		.posture = ac->posture,
	};
	count_alerts(ac, now, env.open_alerts);
	access_login_decide(&env, q->account, q->cert, connection, &o);
	if (o.allow)
		ac->logins++;
	else
		ac->denied++;
	pthread_mutex_unlock(&ac->lock);
	log_info("access: %s login of %s as %s from %s: %s", o.allow ? "allowed" : "denied",
		 o.identity[0] ? o.identity : "?", q->account, o.source[0] ? o.source : "?",
		 o.reason);
	json_object_set_new(ans, "allow", json_boolean(o.allow));
	json_object_set_new(ans, "reason", json_string(o.reason));
	queue_event(ac, access_outcome_json(&o, q->account, now));
}

/* session-start, session-data, session-end: the recorded sessions' (session_agent.h). */
static void handle_recorded(struct access *ac, struct conn *c, const struct access_query *q,
			    json_t **ans)
{
	json_t *a = NULL;
	c->recorder = true;
	pthread_mutex_lock(&ac->sa_lock);
	int r = ac->recorded
			? session_agent_handle(ac->recorded, q->root, c->cred.uid, c->cred.pid, &a)
			: -ENOTCONN;
	pthread_mutex_unlock(&ac->sa_lock);
	if (r == 0 && a) {
		json_decref(*ans);
		*ans = a;
		return;
	}
	json_decref(a);
	json_object_set_new(*ans, "ok", json_false());
	json_object_set_new(*ans, "error", json_string("not a session message"));
}

static void conn_close(struct conn *c)
{
	if (c->recorder) {
		pthread_mutex_lock(&c->ac->sa_lock);
		if (c->ac->recorded)
			session_agent_peer_gone(c->ac->recorded, c->cred.pid);
		pthread_mutex_unlock(&c->ac->sa_lock);
	}
	c->ac->n_conns--;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct access *ac = c->ac;
	ssize_t n = recv(fd, ac->rbuf, ACCESS_MSG_MAX, MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	json_t *ans = json_object();
	struct access_query q = { 0 };
	char err[256];
	if ((size_t)n > ACCESS_MSG_MAX) {
		json_object_set_new(ans, "ok", json_false());
		json_object_set_new(ans, "error", json_string("message too large"));
	} else if (access_query_parse(ac->rbuf, (size_t)n, &q, err, sizeof(err)) < 0) {
		pthread_mutex_lock(&ac->lock);
		ac->bad_messages++;
		pthread_mutex_unlock(&ac->lock);
		json_object_set_new(ans, "ok", json_false());
		json_object_set_new(ans, "error", json_string(err));
	} else if (q.type == ACCESS_MSG_LOGIN) {
		handle_login(ac, &q, &c->cred, ans);
	} else if (q.type == ACCESS_MSG_SESSION) {
		register_session(ac, &q, &c->cred, ans);
	} else {
		handle_recorded(ac, c, &q, &ans);
	}
	access_query_free(&q);
	char *s = json_dumps(ans, JSON_COMPACT);
	json_decref(ans);
	if (!s || send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		free(s);
		conn_close(c);
		return;
	}
	free(s);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct access *ac = arg;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	/* other users cannot take the connections sshd needs: a bound per user, and a reserve
	 * for root and the principals user */
	bool privileged =
		cred.uid == 0 || (ac->has_principals_uid && cred.uid == ac->principals_uid);
	size_t same = 0;
	for (const struct conn *o = ac->conns; o; o = o->next)
		same += o->cred.uid == cred.uid;
	if (ac->n_conns >= ACCESS_MAX_CONNS + (privileged ? ACCESS_RESERVED_CONNS : 0) ||
	    (!privileged && same >= ACCESS_MAX_CONNS_PER_UID)) {
		pthread_mutex_lock(&ac->lock);
		ac->refused_peers++;
		pthread_mutex_unlock(&ac->lock);
		close(fd);
		return;
	}
	struct conn *c = xcalloc(1, sizeof(*c));
	*c = (struct conn){ .ac = ac, .fd = fd, .cred = cred };
	c->ev = event_new(ac->base, fd, EV_READ | EV_PERSIST, on_conn, c);
	event_add(c->ev, NULL);
	ac->n_conns++;
	c->next = ac->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &ac->conns;
	ac->conns = c;
}

static int listen_socket(struct access *ac, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(ac->sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: the path is too long for a socket", ac->sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, ac->sock_path, strlen(ac->sock_path) + 1);
	/* the principals user and session recorders reach the socket through STATE: it must
	 * let others through (search only, never list) */
	struct stat st;
	if (stat(ac->state_dir, &st) == 0 && (st.st_mode & 0011) != 0011)
		chmod(ac->state_dir, (st.st_mode & 07777) | 0011);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	unlink(ac->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(ac->sock_path, 0666) < 0 ||
	    listen(fd, 64) < 0) {
		int r = -errno;
		snprintf(err, errlen, "%s: %s", ac->sock_path, strerror(errno));
		close(fd);
		return r;
	}
	ac->listen_fd = fd;
	return 0;
}

static void *thread_main(void *arg)
{
	struct access *ac = arg;
	event_base_loop(ac->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* ---- revocation ---- */

static void push_serial(struct access_bundle *b, uint64_t s)
{
	if (access_bundle_serial_revoked(b, s))
		return;
	b->serials = xrealloc(b->serials, (b->n_serials + 1) * sizeof(*b->serials));
	b->serials[b->n_serials++] = s;
}

/* Ends the identity's recorded sessions: kill-process of each recorder's tree (the recorder
 * and the command it runs). Returns how many were asked to end. */
static size_t end_recorded(struct access *ac, const char *identity)
{
	pid_t pids[SESSION_AGENT_MAX];
	pthread_mutex_lock(&ac->sa_lock);
	size_t n = ac->recorded
			   ? session_agent_pids_of(ac->recorded, identity, pids, ARRAY_SIZE(pids))
			   : 0;
	pthread_mutex_unlock(&ac->sa_lock);
	if (n > ARRAY_SIZE(pids))
		n = ARRAY_SIZE(pids);
	size_t ended = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t start;
		uid_t uid;
		if (proc_info(pids[i], &start, &uid) < 0)
			continue;
		Action a = IMMUNE__V1__ACTION__INIT;
		a.kind = IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS;
		a.pid = pids[i];
		a.start_time = start;
		a.tree = true;
		if (ac->act)
			ac->act(ac->act_arg, &a);
		ended++;
	}
	return ended;
}

int access_revoke(struct access *ac, const Immune__V1__AccessRevoke *rv)
{
	if (!rv || !rv->identity || !rv->identity[0] || strlen(rv->identity) > ACCESS_NAME_MAX ||
	    !str_is_text(rv->identity, strlen(rv->identity)))
		return -EINVAL;
	size_t n_kill = 0;
	struct session_reg *kill = NULL;
	pthread_mutex_lock(&ac->lock);
	if (!access_bundle_disabled(&ac->local, rv->identity))
		strv_push(&ac->local.disabled, rv->identity);
	for (size_t i = 0; i < rv->n_serials; i++)
		push_serial(&ac->local, rv->serials[i]);
	kill = xcalloc(ac->n_sessions ? ac->n_sessions : 1, sizeof(*kill));
	size_t w = 0;
	for (size_t i = 0; i < ac->n_sessions; i++) {
		if (!strcmp(ac->sessions[i].identity, rv->identity))
			kill[n_kill++] = ac->sessions[i];
		else
			ac->sessions[w++] = ac->sessions[i];
	}
	ac->n_sessions = w;
	ac->revoked++;
	pthread_mutex_unlock(&ac->lock);
	save_local(ac);
	if (ac->ev_krl)
		event_active(ac->ev_krl, EV_READ, 0);
	size_t ended = 0, locked = 0;
	for (size_t i = 0; i < n_kill; i++) {
		if (!session_alive(&kill[i]))
			continue;
		Action a = IMMUNE__V1__ACTION__INIT;
		a.kind = IMMUNE__V1__ACTION_KIND__ACTION_KILL_PROCESS;
		a.pid = kill[i].pid;
		a.start_time = kill[i].start_time;
		a.tree = true;
		if (ac->act)
			ac->act(ac->act_arg, &a);
		ended++;
	}
	free(kill);
	ended += end_recorded(ac, rv->identity);
	for (size_t i = 0; i < rv->n_accounts; i++) {
		Action a = IMMUNE__V1__ACTION__INIT;
		a.kind = IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER;
		a.user = rv->accounts[i];
		char err[256];
		if (action_check(&a, err, sizeof(err)) < 0) {
			log_warn("access: revoke %s: %s", rv->identity, err);
			continue;
		}
		if (ac->act)
			ac->act(ac->act_arg, &a);
		locked++;
	}
	log_info("access: identity %s revoked (%zu serials, %zu sessions ended, %zu accounts "
		 "locked)",
		 rv->identity, rv->n_serials, ended, locked);
	json_t *ev = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "event", "revoked", "identity",
			       rv->identity, "sessions_ended", (json_int_t)ended, "accounts_locked",
			       (json_int_t)locked, "serials", (json_int_t)rv->n_serials, "time_ns",
			       (json_int_t)agent_now_ns());
	queue_event(ac, ev);
	return 0;
}

/* ---- set-up ---- */

static void set_labels(struct access *ac, const struct agent_config *cfg)
{
	if (!cfg)
		return;
	ac->host_id = cfg->host_id ? xstrdup(cfg->host_id) : NULL;
	ac->labels = xcalloc(cfg->n_labels ? cfg->n_labels : 1, sizeof(*ac->labels));
	for (size_t i = 0; i < cfg->n_labels; i++)
		ac->labels[i] = (struct access_attr){ xstrdup(cfg->labels[i].key),
						      xstrdup(cfg->labels[i].value) };
	ac->n_labels = cfg->n_labels;
}

static char *self_path(void)
{
	char p[4096];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);
	if (n <= 0)
		return xstrdup("/usr/libexec/immune/immune-agent");
	p[n] = '\0';
	return xstrdup(p);
}

#define OR(a, b) ((a) ? (a) : (b))

int access_start(const struct access_options *o, access_notify_fn notify, void *arg,
		 struct access **out, char *err, size_t errlen)
{
	struct access *ac = xcalloc(1, sizeof(*ac));
	const struct agent_yaml_access *y = o->yaml;
	ac->state_dir = xstrdup(o->state_dir);
	ac->bundle_dir = xasprintf("%s/%s", o->state_dir, pushed_set_name(PUSHED_ACCESS));
	ac->local_path = xasprintf("%s/%s", o->state_dir, ACCESS_LOCAL_NAME);
	ac->sock_path = xasprintf("%s/%s", o->state_dir, ACCESS_SOCK_NAME);
	ac->dir = xstrdup(OR(y ? y->dir : NULL, AGENT_YAML_ACCESS_DIR));
	ac->dropin = xstrdup(OR(y ? y->sshd_dropin : NULL, AGENT_YAML_SSHD_DROPIN));
	ac->sshd_config = xstrdup(OR(y ? y->sshd_config : NULL, AGENT_YAML_SSHD_CONFIG));
	ac->pid_file = xstrdup(OR(y ? y->sshd_pid_file : NULL, AGENT_YAML_SSHD_PID_FILE));
	ac->principals_user =
		xstrdup(OR(y ? y->principals_user : NULL, AGENT_YAML_PRINCIPALS_USER));
	ac->agent_path = y && y->principals_command ? xstrdup(y->principals_command) : self_path();
	ac->manage_sshd = y ? y->manage_sshd : true;
	ac->no_files = o->no_files;
	ac->alert_window_s = y && y->alert_window_s ? y->alert_window_s : AGENT_YAML_ALERT_WINDOW_S;
	ac->act = o->act;
	ac->act_arg = o->act_arg;
	ac->notify = notify;
	ac->notify_arg = arg;
	ac->posture = -1;
	ac->listen_fd = -1;
	pthread_mutex_init(&ac->lock, NULL);
	pthread_mutex_init(&ac->sa_lock, NULL);
	ac->recorded = session_agent_new(NULL, session_emit, ac);
	set_labels(ac, o->cfg);
	char host[256] = "";
	if (o->hostname)
		snprintf(host, sizeof(host), "%s", o->hostname);
	else
		gethostname(host, sizeof(host) - 1);
	ac->hostname = xstrdup(host);
	struct passwd *pw = getpwnam(ac->principals_user);
	if (pw) {
		ac->principals_uid = pw->pw_uid;
		ac->has_principals_uid = true;
	}
	ac->rbuf = xmalloc(ACCESS_MSG_MAX);
	ac->sshd_has_conn_token = ac->manage_sshd && sshd_conn_token();
	*out = ac;
	char lerr[512];
	if (load_local(ac, lerr, sizeof(lerr)) < 0)
		log_warn("access: %s: %s (ignored)", ac->local_path, lerr);
	int r = listen_socket(ac, err, errlen);
	if (r < 0)
		return r;
	if (evthread_use_pthreads() < 0 || !(ac->base = event_base_new())) {
		snprintf(err, errlen, "cannot create the access loop");
		return -ENOMEM;
	}
	ac->ev_listen = event_new(ac->base, ac->listen_fd, EV_READ | EV_PERSIST, on_accept, ac);
	ac->ev_reload = event_new(ac->base, -1, 0, on_reload, ac);
	ac->ev_krl = event_new(ac->base, -1, 0, on_krl, ac);
	event_add(ac->ev_listen, NULL);
	load_bundle(ac); /* before the thread: the first logins see it */
	if ((r = -pthread_create(&ac->thread, NULL, thread_main, ac)) < 0) {
		snprintf(err, errlen, "cannot start the access thread: %s", strerror(-r));
		return r;
	}
	ac->running = true;
	return 0;
}

void access_stop(struct access *ac)
{
	if (!ac)
		return;
	if (ac->running) {
		event_base_loopbreak(ac->base);
		pthread_join(ac->thread, NULL);
		ac->running = false;
	}
	/* open recorded sessions end now (their last parts are records still to take) */
	pthread_mutex_lock(&ac->sa_lock);
	session_agent_free(ac->recorded);
	ac->recorded = NULL;
	pthread_mutex_unlock(&ac->sa_lock);
}

void access_free(struct access *ac)
{
	if (!ac)
		return;
	access_stop(ac);
	while (ac->conns)
		conn_close(ac->conns);
	if (ac->base) {
		struct event *evs[] = { ac->ev_listen, ac->ev_reload, ac->ev_krl };
		for (size_t i = 0; i < ARRAY_SIZE(evs); i++)
			if (evs[i])
				event_free(evs[i]);
		event_base_free(ac->base);
	}
	if (ac->listen_fd >= 0) {
		close(ac->listen_fd);
		unlink(ac->sock_path);
	}
	access_bundle_free(&ac->bundle);
	access_bundle_free(&ac->local);
	access_policy_set_free(ac->policies);
	agent_records_free(&ac->records);
	for (size_t i = 0; i < ac->n_labels; i++) {
		free((char *)ac->labels[i].key);
		free((char *)ac->labels[i].value);
	}
	free(ac->labels);
	char *strs[] = { ac->state_dir,	  ac->bundle_dir, ac->local_path,
			 ac->sock_path,	  ac->dir,	  ac->dropin,
			 ac->sshd_config, ac->pid_file,	  ac->principals_user,
			 ac->agent_path,  ac->host_id,	  ac->hostname };
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(strs[i]);
	free(ac->sessions);
	free(ac->rbuf);
	pthread_mutex_destroy(&ac->lock);
	pthread_mutex_destroy(&ac->sa_lock);
	free(ac);
}

json_t *access_status(struct access *ac)
{
	pthread_mutex_lock(&ac->sa_lock);
	size_t recorded = ac->recorded ? session_agent_count(ac->recorded) : 0;
	pthread_mutex_unlock(&ac->sa_lock);
	pthread_mutex_lock(&ac->lock);
	json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:s, s:b}", "bundle",
			      ac->has_bundle, "version", (json_int_t)ac->bundle.version, "logins",
			      (json_int_t)ac->logins, "denied", (json_int_t)ac->denied, "revoked",
			      (json_int_t)ac->revoked, "bad_messages", (json_int_t)ac->bad_messages,
			      "refused_peers", (json_int_t)ac->refused_peers, "sessions",
			      (json_int_t)ac->n_sessions, "posture", ac->posture, "last_error",
			      ac->last_error, "manage_sshd", ac->manage_sshd);
	pthread_mutex_unlock(&ac->lock);
	json_object_set_new(o, "recorded_sessions", json_integer((json_int_t)recorded));
	return o;
}

/* ---- the client side ---- */

int access_sock_call(const char *state_dir, const char *msg, size_t len, char *answer,
		     size_t answer_size, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", state_dir, ACCESS_SOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (len > ACCESS_MSG_MAX || answer_size < 2)
		return -EMSGSIZE;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int r;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, msg, len, MSG_NOSIGNAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	ssize_t got = recv(fd, answer, answer_size - 1, 0);
	r = got < 0 ? -errno : got == 0 ? -ECONNRESET : (int)got;
	if (got > 0)
		answer[got] = '\0';
	close(fd);
	return r;
}

int access_session_register(const char *state_dir, pid_t pid, const char *identity,
			    const char *session_id)
{
	json_t *m = json_pack("{s:s, s:I, s:s, s:s}", "type", "session", "pid", (json_int_t)pid,
			      "identity", identity, "session_id", session_id);
	char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	if (!s)
		return -EINVAL;
	char ans[1024];
	int r = access_sock_call(state_dir, s, strlen(s), ans, sizeof(ans),
				 ACCESS_CONNECT_TIMEOUT_MS);
	free(s);
	if (r < 0)
		return r;
	json_t *a = json_loads(ans, 0, NULL);
	r = json_is_true(json_object_get(a, "ok")) ? 0 : -EPERM;
	json_decref(a);
	return r;
}

/* ---- the scan's score, for the posture ---- */

void access_scan_record(struct access *ac, const struct agent_record *rec)
{
	if (!ac || rec->kind != IMMUNE__V1__RECORD_KIND__RECORD_SCAN)
		return;
	unsigned char *plain = NULL;
	const char *text = (const char *)rec->payload;
	size_t len = rec->len;
	if (rec->encoding == IMMUNE__V1__ENCODING__ENCODING_ZSTD) {
		unsigned long long size = ZSTD_getFrameContentSize(rec->payload, rec->len);
		if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
		    size > SCAN_RECORD_MAX)
			return;
		plain = xmalloc(size ? size : 1);
		size_t n = ZSTD_decompress(plain, size, rec->payload, rec->len);
		if (ZSTD_isError(n)) {
			free(plain);
			return;
		}
		text = (const char *)plain;
		len = n;
	}
	json_t *doc = json_loadb(text, len, 0, NULL);
	free(plain);
	const json_t *score = json_object_get(json_object_get(doc, "summary"), "score");
	if (json_is_number(score))
		access_set_posture(ac, (int)(json_number_value(score) + 0.5));
	json_decref(doc);
}
