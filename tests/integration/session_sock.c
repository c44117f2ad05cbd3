/* A stand-in for the agent's STATE/access.sock in tests: serves the session messages with
 * session_agent_handle_raw and writes every RECORD_SESSION payload it makes as one line to
 * OUT. Stops on SIGTERM (open sessions then end with exit null).
 *
 * usage: session_sock SOCKET OUT [--any-account] [--ca CA.PUB]
 *   --any-account  any account name is the caller's (tests that run as one user)
 *   --ca CA.PUB    the SSH CA key line: identities are checked against certificates */
#include "agent/session_agent.h"
#include "agent/session_msg.h"
#include "lib/fileio.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 16

static void emit(void *arg, const char *payload, size_t len, int64_t time_ns)
{
	FILE *f = arg;

	(void)time_ns;
	fwrite(payload, 1, len, f);
	fputc('\n', f);
	fflush(f);
}

static bool any_account(uid_t uid, const char *account)
{
	(void)uid;
	return account && *account;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd p[MAX_CLIENTS + 2];
	pid_t pids[MAX_CLIENTS + 2] = { 0 };
	struct session_agent_options o = { 0 };
	struct session_agent *sa;
	sigset_t mask;
	size_t np = 2;
	FILE *out;
	int ls;

	struct ssh_ed25519_key ca;
	bool has_ca = false;

	if (argc < 3) {
		fprintf(stderr, "usage: session_sock SOCKET OUT [--any-account] [--ca CA.PUB]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--any-account")) {
			o.account_ok = any_account;
		} else if (!strcmp(argv[i], "--ca") && i + 1 < argc) {
			struct buf line;

			buf_init(&line, 4096);
			if (file_read_capped(argv[++i], 4096, &line) < 0 ||
			    ssh_ed25519_key_parse_line(buf_str(&line), &ca) < 0) {
				fprintf(stderr, "session_sock: %s: not an SSH Ed25519 key\n",
					argv[i]);
				return 2;
			}
			buf_free(&line);
			has_ca = true;
		} else {
			fprintf(stderr, "session_sock: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	out = fopen(argv[2], "a");
	if (!out || strlen(argv[1]) >= sizeof(sun.sun_path))
		return 2;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(ls, 16) < 0 ||
	    chmod(argv[1], 0666) < 0) {
		perror("session_sock");
		return 2;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p[0] = (struct pollfd){ .fd = signalfd(-1, &mask, SFD_CLOEXEC), .events = POLLIN };
	p[1] = (struct pollfd){ .fd = ls, .events = POLLIN };
	sa = session_agent_new(&o, emit, out);
	if (has_ca)
		session_agent_set_ca(sa, &ca);
	for (;;) {
		if (poll(p, (nfds_t)np, -1) < 0)
			continue;
		if (p[0].revents)
			break;
		if (p[1].revents && np < ARRAY_SIZE(p)) {
			int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
			struct ucred cr;
			socklen_t l = sizeof(cr);

			if (c >= 0 && getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0) {
				pids[np] = cr.pid;
				p[np++] = (struct pollfd){ .fd = c, .events = POLLIN };
			} else if (c >= 0) {
				close(c);
			}
		}
		for (size_t i = 2; i < np; i++) {
			static char msg[SESSION_MSG_MAX + 1];
			struct ucred cr;
			socklen_t l = sizeof(cr);
			json_t *ans = NULL;
			ssize_t n;

			if (!p[i].revents)
				continue;
			n = recv(p[i].fd, msg, sizeof(msg), 0);
			if (n <= 0 || getsockopt(p[i].fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0) {
				session_agent_peer_gone(sa, pids[i]);
				close(p[i].fd);
				p[i] = p[np - 1];
				pids[i] = pids[np - 1];
				np--;
				i--;
				continue;
			}
			if (session_agent_handle_raw(sa, msg, (size_t)n, cr.uid, cr.pid, &ans) < 0)
				ans = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown type");
			char *s = json_dumps(ans, JSON_COMPACT);
			send(p[i].fd, s, strlen(s), MSG_NOSIGNAL);
			free(s);
			json_decref(ans);
		}
	}
	session_agent_free(sa);
	fclose(out);
	unlink(argv[1]);
	return 0;
}
