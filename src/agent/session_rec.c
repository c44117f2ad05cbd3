/* immune-agent session: the session recorder sshd runs as the certificate's force-command,
 * as the logged-in user (docs/sessions.md). It runs what the user asked for (the command in
 * SSH_ORIGINAL_COMMAND, else the account's login shell), on a PTY of its own when sshd gave
 * one, relays the bytes both ways and streams the output as asciicast v2 to the agent over
 * STATE/access.sock (session_msg.h). A host that records refuses sessions it cannot record
 * unless --fail-open says otherwise. */
#include "agent/session_msg.h"

#include "access/sshcert.h"
#include "agent/agent_config.h"
#include "lib/fileio.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define REC_ANSWER_TIMEOUT_MS 10000
#define REC_DRAIN_MS 200       /* after the command exits, output still read this long */
#define REC_KILL_AFTER_MS 2000 /* after a hang-up, SIGKILL this long later */
#define REC_EXIT_REFUSED 255

struct pending {
	char b[4096];
	size_t off, len;
};

struct rec {
	int sock; /* -1: not recording */
	bool fail_open, failed;
	char id[SESSION_ID_LEN + 1];
	int64_t part;
	int64_t start_ns;	  /* monotonic */
	int64_t first_pending_ns; /* monotonic time of the oldest unsent event, 0: none */
	size_t pending_est;	  /* the message size the pending lines make, about */
	struct buf lines;
	struct session_cast_writer out, err;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "immune: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r\n");
}

/* ---- the identity: the certificate sshd accepted (ExposeAuthInfo) ---- */

/* The identity of the key id "IDENTITY/GRANT/SERIAL" of the first Immune certificate in
 * the SSH_USER_AUTH file, or NULL; *cert its base64 (both caller frees). */
static char *identity_from_auth(char **cert)
{
	const char *path = getenv("SSH_USER_AUTH");
	_cleanup_(buf_free) struct buf text = { 0 };
	_cleanup_(strv_freep) strv lines = NULL;
	char *id = NULL;

	*cert = NULL;
	if (!path || !*path)
		return NULL;
	buf_init(&text, 256 * 1024);
	if (file_read_capped(path, 256 * 1024, &text) < 0)
		return NULL;
	lines = str_split(buf_str(&text), "\n");
	for (size_t i = 0; lines && lines[i] && !id; i++) {
		_cleanup_(strv_freep) strv f = str_split(lines[i], " \t");
		_cleanup_(buf_free) struct buf blob = { 0 };
		struct sshcert c;

		if (strv_len(f) < 3 || strcmp(f[0], "publickey") ||
		    strcmp(f[1], SSHCERT_ED25519_TYPE) || strlen(f[2]) > SESSION_MAX_CERT)
			continue;
		buf_init(&blob, 64 * 1024);
		if (sshcert_blob_from_base64(f[2], &blob) < 0 ||
		    sshcert_parse(buf_str(&blob), buf_len(&blob), &c) < 0)
			continue;
		if (c.key_id && *c.key_id) {
			const char *slash = strchr(c.key_id, '/');
			id = slash ? xstrndup(c.key_id, (size_t)(slash - c.key_id))
				   : xstrdup(c.key_id);
			*cert = xstrdup(f[2]);
		}
		sshcert_free(&c);
	}
	return id;
}

/* ---- talking to the agent ---- */

/* Sends msg (stolen) and waits for {"ok": true}. Returns 0, or a negative errno with the
 * agent's reason in why. */
static int rpc(int sock, json_t *msg, char *why, size_t whylen)
{
	_cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
	_cleanup_free_ char *ans = xmalloc(SESSION_MSG_MAX);
	struct pollfd p = { .fd = sock, .events = POLLIN };
	json_t *a;
	ssize_t n;
	int r = 0;

	json_decref(msg);
	snprintf(why, whylen, "the agent did not answer");
	if (!s || strlen(s) > SESSION_MSG_MAX)
		return -EMSGSIZE;
	if (send(sock, s, strlen(s), MSG_NOSIGNAL) < 0)
		return -errno;
	do {
		r = poll(&p, 1, REC_ANSWER_TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	n = recv(sock, ans, SESSION_MSG_MAX, 0);
	if (n <= 0)
		return n < 0 ? -errno : -ECONNRESET;
	a = json_loadb(ans, (size_t)n, 0, NULL);
	if (json_is_true(json_object_get(a, "ok"))) {
		json_decref(a);
		return 0;
	}
	snprintf(why, whylen, "%s",
		 json_string_value(json_object_get(a, "error"))
			 ? json_string_value(json_object_get(a, "error"))
			 : "refused");
	json_decref(a);
	return -EPROTO;
}

static int agent_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* The recording failed: recording stops; unless fail-open, the session must end. */
static void rec_lost(struct rec *r, const char *why)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	if (r->fail_open) {
		say("session recording stopped (%s); the session goes on unrecorded", why);
	} else {
		say("session recording failed (%s); this host records every session, so this "
		    "one ends",
		    why);
		r->failed = true;
	}
}

static void rec_flush(struct rec *r)
{
	char why[256];
	json_t *m;

	if (r->sock < 0 || buf_len(&r->lines) == 0)
		return;
	m = json_pack("{s:s, s:s, s:I, s:s}", "type", SESSION_MSG_DATA, "session", r->id, "part",
		      (json_int_t)r->part, "data", buf_str(&r->lines));
	buf_reset(&r->lines);
	r->pending_est = 0;
	r->first_pending_ns = 0;
	if (!m) {
		rec_lost(r, "output could not be encoded");
		return;
	}
	r->part++;
	if (rpc(r->sock, m, why, sizeof(why)) < 0)
		rec_lost(r, why);
}

/* The bytes line takes once escaped again inside a message. */
static size_t msg_size(const char *line, size_t n)
{
	size_t s = n;

	for (size_t i = 0; i < n; i++)
		s += line[i] == '"' || line[i] == '\\' || line[i] == '\n';
	return s;
}

static void rec_event(struct rec *r, struct session_cast_writer *w, const char *type, const void *p,
		      size_t n)
{
	double t = (double)(mono_ns() - r->start_ns) / 1e9;
	_cleanup_(buf_free) struct buf ev = { 0 };
	size_t est;

	if (r->sock < 0)
		return;
	buf_init(&ev, SESSION_MSG_MAX / 2);
	if (session_cast_event(w, t, type, p, n, &ev) < 0) {
		rec_lost(r, "an event too large");
		return;
	}
	if (buf_len(&ev) == 0)
		return;
	est = msg_size(buf_str(&ev), buf_len(&ev));
	if (r->pending_est + est > SESSION_FLUSH_BYTES)
		rec_flush(r);
	if (r->sock < 0 || buf_append(&r->lines, buf_str(&ev), buf_len(&ev)) < 0)
		return;
	r->pending_est += est;
	if (!r->first_pending_ns)
		r->first_pending_ns = mono_ns();
	if (r->pending_est >= SESSION_FLUSH_BYTES)
		rec_flush(r);
}

/* ---- the command ---- */

struct child {
	pid_t pid;
	int status;
	bool exited;
	int in, out, err; /* our ends: pipes, or in = out = the PTY master; -1 closed */
	bool pty;
};

static void exec_command(const char *shell, const char *command, const sigset_t *mask)
{
	const char *base = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
	_cleanup_free_ char *login = xasprintf("-%s", base);
	char *argv[4] = { NULL };

	sigprocmask(SIG_SETMASK, mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (command) {
		argv[0] = (char *)base;
		argv[1] = (char *)"-c";
		argv[2] = (char *)command;
	} else {
		argv[0] = login;
	}
	execv(shell, argv);
	fprintf(stderr, "immune: cannot run %s: %s\n", shell, strerror(errno));
	_exit(127);
}

static int start_pty(struct child *c, const struct winsize *ws, const char *shell,
		     const char *command, const sigset_t *mask)
{
	char name[128];
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
		int e = -errno;
		close(m);
		return e;
	}
	ioctl(m, TIOCSWINSZ, ws);
	c->pid = fork();
	if (c->pid < 0) {
		int e = -errno;
		close(m);
		return e;
	}
	if (c->pid == 0) {
		int s;

		setsid();
		s = open(name, O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(127);
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		if (s > 2)
			close(s);
		exec_command(shell, command, mask);
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	c->pty = true;
	c->in = c->out = m;
	c->err = -1;
	return 0;
}

static int start_pipes(struct child *c, const char *shell, const char *command,
		       const sigset_t *mask)
{
	int in[2], out[2], err[2];

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -errno; /* the process ends at once: nothing to close */
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		setsid();
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		exec_command(shell, command, mask);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
	c->in = in[1];
	c->out = out[0];
	c->err = err[0];
	return 0;
}

/* ---- the relay ---- */

struct relay {
	struct rec *rec;
	struct child *c;
	int sig;
	bool stdin_open;
	struct pending to_child;
	int64_t exited_ns, hangup_ns; /* monotonic; 0: not yet */
};

static void hang_up(struct relay *y)
{
	if (y->hangup_ns || y->c->exited)
		return;
	y->hangup_ns = mono_ns();
	kill(-y->c->pid, SIGHUP);
	kill(-y->c->pid, SIGTERM);
	kill(-y->c->pid, SIGCONT);
}

static void on_signal(struct relay *y)
{
	struct signalfd_siginfo si;

	while (read(y->sig, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			if (!y->c->exited &&
			    waitpid(y->c->pid, &y->c->status, WNOHANG) == y->c->pid) {
				y->c->exited = true;
				y->exited_ns = mono_ns();
			}
			break;
		case SIGWINCH: {
			struct winsize ws;
			char size[32];

			if (y->c->pty && ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
				ioctl(y->c->out, TIOCSWINSZ, &ws);
				snprintf(size, sizeof(size), "%ux%u", ws.ws_col, ws.ws_row);
				struct session_cast_writer w = { 0 };
				rec_event(y->rec, &w, "r", size, strlen(size));
			}
			break;
		}
		case SIGINT:
		case SIGQUIT:
			if (!y->c->exited)
				kill(-y->c->pid, (int)si.ssi_signo);
			break;
		default: /* SIGTERM, SIGHUP: the agent or sshd ends the session */ hang_up(y);
		}
	}
}

/* Output from fd: to the user's out_fd and to the recording. Returns false at its end. */
static bool relay_output(struct relay *y, int fd, int out_fd, struct session_cast_writer *w)
{
	char b[SESSION_READ_MAX];
	ssize_t n = read(fd, b, sizeof(b));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false; /* EOF, or EIO: the PTY's other side is closed */
	fd_write_all(out_fd, b, (size_t)n);
	rec_event(y->rec, w, "o", b, (size_t)n);
	return true;
}

static void relay_input(struct relay *y)
{
	struct pending *p = &y->to_child;
	ssize_t n;

	if (p->len == p->off) {
		n = read(0, p->b, sizeof(p->b));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				return;
			y->stdin_open = false;
			if (!y->c->pty) {
				close(y->c->in); /* the command sees the end of its input */
				y->c->in = -1;
			}
			return;
		}
		p->off = 0;
		p->len = (size_t)n;
	}
	n = write(y->c->in, p->b + p->off, p->len - p->off);
	if (n > 0) {
		p->off += (size_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* the command no longer reads (EPIPE, or EIO from a closed PTY): input stops */
		p->off = p->len;
		y->stdin_open = false;
		if (!y->c->pty) {
			close(y->c->in);
			y->c->in = -1;
		}
	}
}

static int poll_timeout(const struct relay *y)
{
	int64_t now = mono_ns(), deadline = INT64_MAX;

	if (y->rec->first_pending_ns)
		deadline = y->rec->first_pending_ns + (int64_t)SESSION_FLUSH_MS * 1000000;
	if (y->exited_ns && y->exited_ns + (int64_t)REC_DRAIN_MS * 1000000 < deadline)
		deadline = y->exited_ns + (int64_t)REC_DRAIN_MS * 1000000;
	if (y->hangup_ns && !y->c->exited &&
	    y->hangup_ns + (int64_t)REC_KILL_AFTER_MS * 1000000 < deadline)
		deadline = y->hangup_ns + (int64_t)REC_KILL_AFTER_MS * 1000000;
	if (deadline == INT64_MAX)
		return -1;
	return deadline <= now ? 0 : (int)((deadline - now) / 1000000) + 1;
}

static void relay_run(struct relay *y)
{
	struct child *c = y->c;
	bool out_open = true, err_open = c->err >= 0;

	while (out_open || err_open || !c->exited) {
		struct pollfd p[5];
		int np = 0, i_sig, i_in = -1, i_out = -1, i_err = -1, i_rec = -1, n;
		bool have_pending = y->to_child.len > y->to_child.off;

		if (y->rec->failed)
			hang_up(y);
		p[i_sig = np++] = (struct pollfd){ .fd = y->sig, .events = POLLIN };
		if (have_pending && c->in >= 0)
			p[i_in = np++] = (struct pollfd){ .fd = c->in, .events = POLLOUT };
		else if (y->stdin_open && c->in >= 0 && !c->exited)
			p[i_in = np++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (out_open)
			p[i_out = np++] = (struct pollfd){ .fd = c->out, .events = POLLIN };
		if (err_open)
			p[i_err = np++] = (struct pollfd){ .fd = c->err, .events = POLLIN };
		if (y->rec->sock >= 0) /* the agent going away shows as a hang-up */
			p[i_rec = np++] = (struct pollfd){ .fd = y->rec->sock, .events = 0 };
		n = poll(p, (nfds_t)np, poll_timeout(y));
		if (n < 0 && errno != EINTR)
			break;
		if (p[i_sig].revents)
			on_signal(y);
		if (i_rec >= 0 && p[i_rec].revents && y->rec->sock >= 0)
			rec_lost(y->rec, "the agent went away");
		if (i_in >= 0 && p[i_in].revents)
			relay_input(y);
		if (i_out >= 0 && p[i_out].revents)
			out_open = relay_output(y, c->out, 1, &y->rec->out);
		if (i_err >= 0 && p[i_err].revents)
			err_open = relay_output(y, c->err, 2, &y->rec->err);
		if (y->rec->first_pending_ns &&
		    mono_ns() - y->rec->first_pending_ns >= (int64_t)SESSION_FLUSH_MS * 1000000)
			rec_flush(y->rec);
		if (y->exited_ns && n == 0 &&
		    mono_ns() - y->exited_ns >= (int64_t)REC_DRAIN_MS * 1000000)
			break; /* the command is gone and its output has gone quiet */
		if (y->hangup_ns && !c->exited &&
		    mono_ns() - y->hangup_ns >= (int64_t)REC_KILL_AFTER_MS * 1000000)
			kill(-c->pid, SIGKILL);
	}
	if (!c->exited && waitpid(c->pid, &c->status, 0) == c->pid)
		c->exited = true;
}

/* ---- the command line ---- */

static void session_help(void)
{
	printf("usage: immune-agent session [--state DIR] [--socket PATH] [--fail-open]\n\n"
	       "The session recorder: sshd runs it as the certificate's force-command, as the\n"
	       "user who logged in. It runs the command the user asked for (SSH_ORIGINAL_COMMAND)\n"
	       "or the account's login shell, and streams the session's output to the agent,\n"
	       "which sends it to the server (docs/sessions.md).\n\n"
	       "  --state DIR    the agent's state directory (default %s)\n"
	       "  --socket PATH  the agent's socket (default STATE/%s)\n"
	       "  --fail-open    run the session unrecorded when the agent cannot record it\n"
	       "                 (default: refuse the session, exit status %d)\n",
	       AGENT_DEFAULT_STATE_DIR, SESSION_SOCKET_NAME, REC_EXIT_REFUSED);
}

static void new_id(char out[SESSION_ID_LEN + 1])
{
	unsigned char r[SESSION_ID_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* the kernel's generator does not fail for 16 bytes; this is never used */
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(mono_ns() >> (i % 8));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Opens the recording: 0, or -1 when the session must be refused (said why). */
static int rec_open(struct rec *r, const char *sock_path, const struct winsize *ws,
		    const char *account, const char *shell, const char *command)
{
	_cleanup_free_ char *cert = NULL;
	_cleanup_free_ char *identity = identity_from_auth(&cert);
	char why[256];
	json_t *m;
	int fd = agent_connect(sock_path);

	r->sock = -1;
	buf_init(&r->lines, SESSION_MSG_MAX);
	new_id(r->id);
	r->part = 1;
	r->start_ns = mono_ns();
	if (fd < 0) {
		snprintf(why, sizeof(why), "the agent cannot be reached at %s: %s", sock_path,
			 strerror(-fd));
		goto lost;
	}
	m = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:i, s:i, s:i, s:I, s:s?, s:s}", "type",
		      SESSION_MSG_START, "session", r->id, "identity", identity, "account", account,
		      "command", command, "width", ws->ws_col, "height", ws->ws_row, "pid",
		      (int)getpid(), "timestamp", (json_int_t)time(NULL), "term", getenv("TERM"),
		      "shell", shell);
	if (m && cert)
		json_object_set_new(m, "cert", json_string(cert));
	if (!m) {
		close(fd);
		snprintf(why, sizeof(why), "the command is not UTF-8 text");
		goto lost;
	}
	if (rpc(fd, m, why, sizeof(why)) < 0) {
		close(fd);
		goto lost;
	}
	r->sock = fd;
	return 0;
lost:
	if (!r->fail_open) {
		say("this host records every session and cannot record this one (%s); the "
		    "session is refused",
		    why);
		return -1;
	}
	say("this session is not recorded (%s)", why);
	return 0;
}

static void rec_close(struct rec *r, int code)
{
	double t = (double)(mono_ns() - r->start_ns) / 1e9;
	char why[256];

	if (r->sock >= 0) {
		session_cast_finish(&r->out, t, &r->lines);
		session_cast_finish(&r->err, t, &r->lines);
		rec_flush(r);
	}
	if (r->sock >= 0) {
		json_t *m = json_pack("{s:s, s:s, s:i}", "type", SESSION_MSG_END, "session", r->id,
				      "exit", code);
		rpc(r->sock, m, why, sizeof(why));
		close(r->sock);
		r->sock = -1;
	}
	buf_free(&r->lines);
}

static int run_session(const char *sock_path, bool fail_open)
{
	struct passwd *pw = getpwuid(getuid());
	const char *command = getenv("SSH_ORIGINAL_COMMAND");
	const char *shell = pw && pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
	struct winsize ws = { .ws_col = 80, .ws_row = 24 };
	struct rec rec = { .fail_open = fail_open, .sock = -1 };
	struct child c = { .in = -1, .out = -1, .err = -1 };
	struct relay y = { .rec = &rec, .c = &c, .stdin_open = true };
	struct termios saved;
	bool pty = isatty(0), raw = false;
	sigset_t mask, old;
	int r, code;

	if (!pw) {
		say("this account has no passwd entry");
		return REC_EXIT_REFUSED;
	}
	if (command && !*command)
		command = NULL;
	if (pty && (ioctl(0, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row))
		ws = (struct winsize){ .ws_col = 80, .ws_row = 24 };
	if (rec_open(&rec, sock_path, &ws, pw->pw_name, shell, command) < 0) {
		buf_free(&rec.lines);
		return REC_EXIT_REFUSED;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	y.sig = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	r = y.sig < 0 ? -errno
	    : pty     ? start_pty(&c, &ws, shell, command, &old)
		      : start_pipes(&c, shell, command, &old);
	if (r < 0) {
		say("cannot start the session: %s", strerror(-r));
		rec_close(&rec, 127);
		return REC_EXIT_REFUSED;
	}
	if (pty && tcgetattr(0, &saved) == 0) {
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(0, TCSADRAIN, &t) == 0;
	}
	relay_run(&y);
	if (raw)
		tcsetattr(0, TCSADRAIN, &saved);
	if (WIFEXITED(c.status))
		code = WEXITSTATUS(c.status);
	else if (WIFSIGNALED(c.status))
		code = 128 + WTERMSIG(c.status);
	else
		code = REC_EXIT_REFUSED;
	rec_close(&rec, code);
	if (rec.failed)
		return REC_EXIT_REFUSED;
	return code;
}

int agent_session_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "fail-open", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = AGENT_DEFAULT_STATE_DIR, *sock = NULL;
	_cleanup_free_ char *path = NULL;
	bool fail_open = false;
	int c;

	while ((c = getopt_long(argc, argv, "d:s:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': state = optarg; break;
		case 's': sock = optarg; break;
		case 'f': fail_open = true; break;
		case 'h': session_help(); return 0;
		default:
			fprintf(stderr, "Try 'immune-agent session --help'.\n");
			return REC_EXIT_REFUSED;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"immune-agent session: unexpected argument '%s' (the command comes from "
			"SSH_ORIGINAL_COMMAND)\n",
			argv[optind]);
		return REC_EXIT_REFUSED;
	}
	path = sock ? xstrdup(sock) : xasprintf("%s/%s", state, SESSION_SOCKET_NAME);
	return run_session(path, fail_open);
}
