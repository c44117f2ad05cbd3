/* Generates the 500-rule benchmark set (see rules_gen.h). */
#include "rules_gen.h"

static const char *const tools[] = {
	"curl",	   "wget",     "nc",	     "ncat",	"socat",      "python3", "perl",
	"ruby",	   "php",      "lua",	     "bash",	"dash",	      "zsh",	 "busybox",
	"chmod",   "chown",    "chattr",     "setcap",	"useradd",    "usermod", "passwd",
	"crontab", "at",       "systemctl",  "insmod",	"modprobe",   "rmmod",	 "iptables",
	"nft",	   "ufw",      "tcpdump",    "nmap",	"masscan",    "hydra",	 "john",
	"hashcat", "base64",   "xxd",	     "openssl", "gpg",	      "tar",	 "zip",
	"scp",	   "rsync",    "ssh",	     "sshpass", "ssh-keygen", "sudo",	 "su",
	"pkexec",  "dd",       "shred",	     "wipe",	"history",    "unset",	 "kill",
	"pkill",   "auditctl", "journalctl", "logger",	"mkfifo",     "mknod",	 "strace",
	"gdb",	   "ltrace",   "ld.so",	     "git",	"docker",     "kubectl", "crictl",
	"runc",	   "nsenter",  "unshare",    "chroot",	"mount",      "umount",	 "losetup",
	"find",	   "xargs",    "awk",	     "sed",	"vim",	      "nano",	 "tee",
	"install", "cp",       "mv",	     "ln",	"touch",      "setfacl", "getcap",
	"telnet",  "ftp",      "tftp",	     "rlogin",	"xterm",      "screen",	 "tmux",
	"nohup",   "disown",   "timeout",    "watch",
};

static const char *const frags[] = {
	" -e /bin/sh",
	"/dev/tcp/",
	"| sh",
	"| bash",
	" -o /tmp/",
	" --output /dev/shm/",
	"base64 -d",
	"chmod +x /tmp/",
	"chmod 4755",
	"u+s",
	"LD_PRELOAD=",
	"/etc/ld.so.preload",
	"authorized_keys",
	"/etc/shadow",
	"/etc/sudoers",
	"NOPASSWD",
	"history -c",
	"HISTFILE=/dev/null",
	"unset HISTFILE",
	"rm -rf /var/log",
	"> /var/log/",
	"stop auditd",
	"disable immune-agent",
	"-k /etc/",
	"--privileged",
	"-v /:/host",
	"pty.spawn",
	"socket.socket",
	"os.dup2",
	"fsockopen",
	"exec 5<>",
	"mkfifo /tmp/",
	"xmrig",
	"stratum+tcp",
	"--donate-level",
	"iptables -F",
	"setenforce 0",
	"ufw disable",
	"insmod /tmp/",
	"crontab -r",
	"/etc/cron.d/",
	"/etc/systemd/system/",
	"ExecStart=",
	"ssh-keygen -f",
	"StrictHostKeyChecking=no",
	"nmap -sS",
	"-p 1-65535",
	"/proc/self/environ",
	"/proc/kcore",
	"dd if=/dev/mem",
};

static const char *const dirs[] = {
	"/etc/cron.d/",
	"/etc/cron.daily/",
	"/etc/systemd/system/",
	"/etc/init.d/",
	"/etc/profile.d/",
	"/etc/pam.d/",
	"/etc/sudoers.d/",
	"/etc/ssh/",
	"/root/.ssh/",
	"/usr/lib/systemd/",
	"/lib/modules/",
	"/etc/update-motd.d/",
	"/var/spool/cron/",
	"/etc/rc.local",
	"/usr/local/bin/",
	"/etc/ld.so.conf.d/",
	"/lib/security/",
	"/usr/lib/x86_64-linux-gnu/security/",
	"/boot/",
	"/etc/modprobe.d/",
	"/etc/apt/apt.conf.d/",
	"/etc/yum.repos.d/",
	"/var/www/html/",
	"/dev/shm/",
};

static const char *const parents[] = {
	"/usr/sbin/apache2", "/usr/sbin/nginx", "/usr/bin/php-fpm",	    "/usr/sbin/sshd",
	"/usr/bin/node",     "/usr/bin/java",	"/usr/sbin/cron",	    "/usr/bin/python3",
	"/usr/sbin/mysqld",  "/usr/bin/tomcat", "/usr/bin/containerd-shim",
};

static const char *const kwords[] = {
	"Failed password",
	"Invalid user",
	"authentication failure",
	"POSSIBLE BREAK-IN ATTEMPT",
	"Did not receive identification string",
	"Connection closed by authenticating user",
	"error: maximum authentication attempts exceeded",
	"Bad protocol version identification",
	"refused connect from",
	"input_userauth_request: invalid user",
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define PICK(a, s) ((a)[rnd(s) % ARRAY_SIZE(a)])

static void header(struct buf *b, unsigned i, const char *what, const char *logsource)
{
	buf_printf(b,
		   "---\ntitle: Bench rule %u (%s)\nid: 00000000-0000-4000-8000-%012u\n"
		   "status: test\nlogsource:\n  product: linux\n  %s\n",
		   i, what, i, logsource);
}

static void footer(struct buf *b, uint64_t *s)
{
	static const char *const levels[] = { "low", "medium", "high", "critical" };
	buf_printf(b, "level: %s\ntags:\n  - attack.t%04u\n", PICK(levels, s),
		   (unsigned)(1000 + rnd(s) % 600));
}

static void gen_process(struct buf *b, unsigned i, uint64_t *s)
{
	const char *tool = PICK(tools, s);
	header(b, i, "process", "category: process_creation");
	buf_puts(b, "detection:\n  selection:\n");
	switch (rnd(s) % 8) {
	case 0:
		buf_printf(b, "    Image|endswith: /%s\n    CommandLine|contains: '%s'\n", tool,
			   PICK(frags, s));
		break;
	case 1:
		buf_printf(b,
			   "    Image|endswith:\n      - /%s\n      - /%s\n"
			   "    CommandLine|contains|all:\n      - '%s'\n      - '%s'\n",
			   tool, PICK(tools, s), PICK(frags, s), PICK(frags, s));
		break;
	case 2:
		buf_printf(b,
			   "    ParentImage|endswith: '%s'\n    Image|endswith:\n"
			   "      - /sh\n      - /bash\n      - /%s\n",
			   strrchr(PICK(parents, s), '/'), tool);
		break;
	case 3:
		buf_printf(b, "    CommandLine|re: '%s\\s+-[a-z]*%c[a-z]*\\s+/tmp/[^ ]+'\n", tool,
			   (char)('a' + rnd(s) % 26));
		break;
	case 4:
		buf_printf(b, "    Image: '/usr/bin/%s'\n    CommandLine: '*%s*'\n", tool,
			   PICK(frags, s));
		break;
	case 5:
		buf_printf(b,
			   "    CommandLine|contains:\n      - '%s'\n      - '%s'\n      - '%s'\n",
			   PICK(frags, s), PICK(frags, s), PICK(frags, s));
		break;
	case 6:
		buf_printf(b,
			   "    Image|startswith:\n      - /tmp/\n      - /dev/shm/\n"
			   "      - /var/tmp/\n    CommandLine|contains: '%s'\n",
			   tool);
		break;
	default:
		buf_printf(
			b,
			"    Image|endswith: /%s\n    User: root\n    CurrentDirectory|startswith: "
			"/tmp\n",
			tool);
		break;
	}
	if (rnd(s) % 3 == 0) {
		buf_printf(b,
			   "  filter:\n    ParentImage|endswith: /%s\n"
			   "  condition: selection and not filter\n",
			   PICK(tools, s));
	} else
		buf_puts(b, "  condition: selection\n");
	footer(b, s);
}

static void gen_file(struct buf *b, unsigned i, uint64_t *s)
{
	header(b, i, "file", "category: file_event");
	buf_puts(b, "detection:\n  selection:\n");
	switch (rnd(s) % 3) {
	case 0: buf_printf(b, "    TargetFilename|startswith: '%s'\n", PICK(dirs, s)); break;
	case 1:
		buf_printf(b, "    TargetFilename|contains:\n      - '%s'\n      - '%s'\n",
			   PICK(dirs, s), PICK(dirs, s));
		break;
	default:
		buf_printf(b, "    TargetFilename: '%s*.%s'\n", PICK(dirs, s),
			   rnd(s) % 2 ? "service" : "so");
		break;
	}
	buf_printf(b,
		   "  filter:\n    Image|endswith:\n      - /dpkg\n      - /%s\n"
		   "  condition: selection and not filter\n",
		   PICK(tools, s));
	footer(b, s);
}

static void gen_net(struct buf *b, unsigned i, uint64_t *s)
{
	header(b, i, "network", "category: network_connection");
	buf_puts(b, "detection:\n  selection:\n");
	switch (rnd(s) % 3) {
	case 0:
		buf_printf(b,
			   "    Image|endswith: /%s\n    Initiated: 'true'\n"
			   "  filter:\n    DestinationIp|cidr:\n      - 10.0.0.0/8\n"
			   "      - 192.168.0.0/16\n      - '::1/128'\n"
			   "  condition: selection and not filter\n",
			   PICK(tools, s));
		break;
	case 1:
		buf_printf(b,
			   "    DestinationPort:\n      - %u\n      - %u\n    Image|endswith: /%s\n"
			   "  condition: selection\n",
			   (unsigned)(1024 + rnd(s) % 60000), (unsigned)(1024 + rnd(s) % 60000),
			   PICK(tools, s));
		break;
	default:
		buf_printf(b,
			   "    DestinationIp|cidr: %u.%u.0.0/16\n    Image|contains: '%s'\n"
			   "  condition: selection\n",
			   (unsigned)(rnd(s) % 223 + 1), (unsigned)(rnd(s) % 256), PICK(tools, s));
		break;
	}
	footer(b, s);
}

static void gen_auth(struct buf *b, unsigned i, uint64_t *s)
{
	header(b, i, "auth", "service: sshd");
	static const char *const users[] = { "root",	 "admin", "oracle", "test",  "ubuntu",
					     "postgres", "git",	  "pi",	    "guest", "ftp" };
	buf_printf(b,
		   "detection:\n  keywords:\n    - '%s'\n    - '%s'\n"
		   "  user:\n    - 'user %s from'\n    - 'for %s from %u.'\n"
		   "  condition: keywords and user\n",
		   PICK(kwords, s), PICK(kwords, s), PICK(users, s), PICK(users, s),
		   (unsigned)(rnd(s) % 223 + 1));
	footer(b, s);
}

void rules_gen(struct buf *out, unsigned n, uint64_t seed)
{
	uint64_t s = seed | 1;

	for (unsigned i = 0; i < n; i++) {
		unsigned r = (unsigned)(rnd(&s) % 100);
		if (r < 60)
			gen_process(out, i, &s);
		else if (r < 75)
			gen_file(out, i, &s);
		else if (r < 90)
			gen_net(out, i, &s);
		else
			gen_auth(out, i, &s);
	}
}
