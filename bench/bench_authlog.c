/* Decoding speed of the auth-log decoder (docs/sensor-auth.md): a mix of four lines (sshd in
 * RFC 3164 and ISO-8601 form, sudo, and a CRON line that is not ours), decoded N times on
 * one thread. Prints lines per second (CPU time of the process).
 *
 *   bench_authlog [N]     (default 400000) */
#include "lib/common.h"

#include "detect/authlog.h"
#include "lib/str.h"

#include <inttypes.h>
#include <time.h>

int main(int argc, char **argv)
{
	static const char *const lines[] = {
		"Nov 23 18:40:01 web1 sshd[1234]: Failed password for invalid user admin from "
		"203.0.113.9 port 4711 ssh2",
		"2026-11-23T18:40:01.123456+00:00 web1 sshd[1234]: Accepted publickey for bob from "
		"127.0.0.1 port 38152 ssh2: ED25519 "
		"SHA256:HIXBAGgkkycVy0pBD1YbUPOjbN0bFiDjCUOpn/8NY5U",
		"Nov 23 18:40:01 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
		"COMMAND=/usr/bin/id -u",
		"Nov 23 18:40:01 web1 CRON[123]: pam_unix(cron:session): session opened for user "
		"root",
	};
	struct authlog_opts o = { AUTHLOG_AUTO, INT64_C(1795459500) * 1000000000 };
	int64_t n = 400000;
	uint64_t events = 0;
	struct host_event ev;
	struct timespec a, b;

	if (argc > 1 && parse_i64(argv[1], 1, INT64_C(1) << 40, &n) < 0) {
		fprintf(stderr, "usage: bench_authlog [N]\n");
		return 2;
	}
	host_event_init(&ev);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int64_t i = 0; i < n; i++) {
		const char *l = lines[i % 4];
		events += authlog_decode(l, strlen(l), &o, &ev) == 1;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("authlog_decode: %" PRId64 " lines (%" PRIu64
	       " events) in %.3f s CPU: %.0f lines/s\n",
	       n, events, s, (double)n / s);
	host_event_free(&ev);
	return 0;
}
