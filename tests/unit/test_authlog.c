/* The auth-log decoder (detect/authlog.h): real lines of sshd, sudo, su and the shadow tools
 * in each syslog form, and lines that are not ours or not readable. */
#include "unit.h"

#include "detect/authlog.h"
#include "lib/str.h"

#include <time.h>

/* 2026-11-23T18:45:00Z: "now" for every case */
#define NOW_S INT64_C(1795459500)
#define NOW (NOW_S * INT64_C(1000000000))

struct tcase {
	const char *line;
	enum authlog_format format;
	int ret;	      /* 1, 0 or -EBADMSG */
	enum event_kind kind; /* when ret is 1 */
	const char *fields;   /* "name=value|name=value", each must be present and equal */
	const char *absent;   /* "name|name": must not be present */
};

static const struct tcase cases[] = {
	/* sshd, RFC 3164 */
	{ "Nov 23 18:40:01 web1 sshd[1234]: Accepted password for alice from 192.0.2.7 port 52144 "
	  "ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=success|target_user=alice|src_ip=192.0.2.7|src_port=52144|auth_method=password|"
	  "service=sshd|message=Accepted password for alice from 192.0.2.7 port 52144 ssh2",
	  "key_fingerprint|cert_id" },
	{ "Nov 23 18:40:01 web1 sshd[1234]: Accepted publickey for bob from 2001:db8::5 port 40022 "
	  "ssh2: ED25519 SHA256:HIXBAGgkkycVy0pBD1YbUPOjbN0bFiDjCUOpn/8NY5U",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=success|target_user=bob|src_ip=2001:db8::5|src_port=40022|auth_method=publickey|"
	  "key_fingerprint=SHA256:HIXBAGgkkycVy0pBD1YbUPOjbN0bFiDjCUOpn/8NY5U",
	  "cert_id" },
	{ "Nov 23 18:40:01 web1 sshd[1234]: Accepted publickey for bob from 127.0.0.1 port 38152 "
	  "ssh2: ED25519-CERT SHA256:4qnMwdU7ZW6MZB92Hzj3M8i+0LO/QTk24yUUHA203mg ID ops key (bob) "
	  "(serial 4242) CA ED25519 SHA256:7sxzIDDqoF0aNE5UuPXR9CAAtTjcZibiPca4i/ikuG0",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=success|target_user=bob|auth_method=publickey|cert_id=ops key (bob)|"
	  "key_fingerprint=SHA256:4qnMwdU7ZW6MZB92Hzj3M8i+0LO/QTk24yUUHA203mg",
	  NULL },
	{ "Nov  3 01:02:03 web1 sshd[9]: Accepted keyboard-interactive/pam for carol from 10.0.0.9 "
	  "port 1022 ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "auth_method=keyboard-interactive/pam|outcome=success",
	  NULL },
	{ "Nov 23 18:40:01 web1 sshd[1234]: Failed password for invalid user admin from "
	  "203.0.113.9 "
	  "port 4711 ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=failure|target_user=admin|src_ip=203.0.113.9|src_port=4711|auth_method=password",
	  NULL },
	{ "Nov 23 18:40:01 web1 sshd[1234]: Failed password for root from 203.0.113.9 port 4711 "
	  "ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "outcome=failure|target_user=root", NULL },
	/* a user name that imitates the rest of the line: the address is sshd's, at the end */
	{ "Nov 23 18:40:01 web1 sshd[1]: Failed password for invalid user x from 6.6.6.6 port 1 "
	  "ssh2 "
	  "from 203.0.113.9 port 4711 ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "target_user=x from 6.6.6.6 port 1 ssh2|src_ip=203.0.113.9|src_port=4711", NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: Failed publickey for alice from 127.0.0.1 port 38130 "
	  "ssh2: "
	  "ED25519 SHA256:xi0zyvKnWHS9xmwa4LqePdtw/+/0ZC34WBym7GAK5rU",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=failure|auth_method=publickey|"
	  "key_fingerprint=SHA256:xi0zyvKnWHS9xmwa4LqePdtw/+/0ZC34WBym7GAK5rU",
	  NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: Invalid user oracle from 198.51.100.4 port 33012",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=failure|target_user=oracle|src_ip=198.51.100.4|src_port=33012", "auth_method" },
	{ "Nov 23 18:40:01 web1 sshd[1]: Invalid user  from 198.51.100.4 port 33012", AUTHLOG_AUTO,
	  1, EVENT_AUTH_LOGON, "target_user=|src_ip=198.51.100.4", NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: Connection closed by authenticating user alice 127.0.0.1 "
	  "port 38124 [preauth]",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=alice|src_ip=127.0.0.1|src_port=38124",
	  "outcome" },
	{ "Nov 23 18:40:01 web1 sshd[1]: Disconnected from user alice 127.0.0.1 port 38142",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGOFF, "target_user=alice|src_ip=127.0.0.1|src_port=38142",
	  NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: Disconnected from invalid user test 203.0.113.9 port 22 "
	  "[preauth]",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=test|src_ip=203.0.113.9", NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: error: maximum authentication attempts exceeded for root "
	  "from 203.0.113.9 port 50000 ssh2 [preauth]",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=root|src_ip=203.0.113.9|outcome=failure",
	  NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: pam_unix(sshd:session): session opened for user "
	  "alice(uid=1000) by (uid=0)",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=alice|target_uid=1000", "actor_user" },
	{ "Nov 23 18:40:01 web1 sshd[1]: pam_unix(sshd:session): session closed for user alice",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=alice", NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: Received disconnect from 203.0.113.9 port 22:11: Bye Bye "
	  "[preauth]",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "src_ip=203.0.113.9|src_port=22", NULL },
	{ "Nov 23 18:40:01 web1 sshd[1]: Server listening on 0.0.0.0 port 22.", AUTHLOG_AUTO, 1,
	  EVENT_LOG_LINE, "service=sshd|message=Server listening on 0.0.0.0 port 22.", NULL },
	/* sshd-session (OpenSSH 9.8+) is sshd */
	{ "Nov 23 18:40:01 web1 sshd-session[77]: Accepted password for a from 10.1.1.1 port 2 "
	  "ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "service=sshd", NULL },
	/* ISO-8601 (rsyslog's default on Debian) and RFC 5424 */
	{ "2026-11-23T18:40:01.123456+00:00 web1 sshd[1234]: Accepted password for alice from "
	  "192.0.2.7 port 52144 ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "target_user=alice", NULL },
	{ "<38>1 2026-11-23T18:40:01.5Z web1 sshd 1234 - - Failed password for root from 192.0.2.8 "
	  "port 1 ssh2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "target_user=root|src_ip=192.0.2.8", NULL },
	{ "<38>1 2026-11-23T18:40:01Z web1 sshd 1234 ID47 [exampleSDID@32473 iut=\"3\" "
	  "eventSource=\"App\\]x\"] \xef\xbb\xbfInvalid user bob from 192.0.2.9 port 2",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "target_user=bob|src_ip=192.0.2.9", NULL },
	/* /dev/log form: no host */
	{ "<86>Nov 23 18:44:57 useradd[21609]: new user: name=azu10765, UID=1001, GID=1002, "
	  "home=/home/azu10765, shell=/bin/sh, from=none",
	  AUTHLOG_AUTO, 1, EVENT_ACCOUNT_CREATE,
	  "target_user=azu10765|target_uid=1001|service=useradd", NULL },
	/* sshd -E FILE: bare lines, with the \r sshd writes */
	{ "Accepted publickey for ia1 from 127.0.0.1 port 38142 ssh2: ED25519 SHA256:HIXB\r",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "target_user=ia1|key_fingerprint=SHA256:HIXB|message=Accepted publickey for ia1 from "
	  "127.0.0.1 port 38142 ssh2: ED25519 SHA256:HIXB",
	  NULL },
	{ "Connection from 127.0.0.1 port 38124 on 127.0.0.1 port 46109 rdomain \"\"\r",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "service=sshd", NULL },
	{ "something sshd never says", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL, NULL },
	{ "error: kex_exchange_identification: Connection closed by remote host\r", AUTHLOG_AUTO, 1,
	  EVENT_LOG_LINE, "service=sshd", NULL },
	{ "something sshd never says", AUTHLOG_SSHD, 1, EVENT_LOG_LINE,
	  "service=sshd|message=something sshd never says", NULL },
	{ "Accepted password for a from 1.2.3.4 port 5 ssh2", AUTHLOG_SYSLOG, -EBADMSG, EVENT_NONE,
	  NULL, NULL },
	/* sudo */
	{ "Nov 23 18:40:01 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
	  "COMMAND=/usr/bin/id -u",
	  AUTHLOG_AUTO, 1, EVENT_SUDO,
	  "actor_user=alice|target_user=root|tty=pts/0|current_directory=/home/alice|"
	  "sudo_command=/usr/bin/id -u|command_line=/usr/bin/id -u|outcome=success|service=sudo",
	  NULL },
	{ "Nov 23 18:40:01 web1 sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; "
	  "USER=root ; COMMAND=/bin/sh -c echo a ; echo b",
	  AUTHLOG_AUTO, 1, EVENT_SUDO,
	  "actor_user=bob|outcome=failure|sudo_command=/bin/sh -c echo a ; echo b", NULL },
	{ "Nov 23 18:40:01 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; "
	  "PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
	  AUTHLOG_AUTO, 1, EVENT_SUDO, "actor_user=alice|outcome=failure", NULL },
	{ "Nov 23 18:40:01 web1 sudo[55]:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; ENV=A=1 ; "
	  "COMMAND=/usr/bin/env",
	  AUTHLOG_AUTO, 1, EVENT_SUDO, "outcome=success|sudo_command=/usr/bin/env", NULL },
	{ "Nov 23 18:40:01 web1 sudo: pam_unix(sudo:auth): authentication failure; logname=alice "
	  "uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON,
	  "outcome=failure|target_user=alice|actor_user=alice|tty=/dev/pts/0|service=sudo",
	  "src_ip" },
	{ "Nov 23 18:40:01 web1 sudo: pam_unix(sudo:session): session opened for user root(uid=0) "
	  "by "
	  "alice(uid=1000)",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=root|target_uid=0|actor_user=alice", NULL },
	/* su */
	{ "<37>Nov 23 18:44:02 su[19800]: (to azs10765) root on none", AUTHLOG_AUTO, 1, EVENT_SU,
	  "target_user=azs10765|actor_user=root|outcome=success|service=su", "tty" },
	{ "Nov 23 18:40:01 web1 su[9]: FAILED SU (to root) alice on pts/2", AUTHLOG_AUTO, 1,
	  EVENT_SU, "target_user=root|actor_user=alice|tty=pts/2|outcome=failure", NULL },
	{ "Nov 23 18:40:01 web1 su[9]: pam_unix(su:session): session opened for user "
	  "azs10765(uid=54321) by (uid=0)",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=azs10765|target_uid=54321", NULL },
	{ "Nov 23 18:40:01 web1 su[9]: pam_limits(su:session): Could not set limit", AUTHLOG_AUTO,
	  1, EVENT_LOG_LINE, "service=su", "target_user" },
	/* the shadow tools (real lines) */
	{ "<86>Nov 23 18:44:59 groupadd[21689]: new group: name=azi10765, GID=1003", AUTHLOG_AUTO,
	  1, EVENT_GROUP_CHANGE, "group_name=azi10765|service=groupadd", NULL },
	{ "<86>Nov 23 18:44:59 groupadd[21689]: group added to /etc/group: name=azi10765, GID=1003",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "group_name=azi10765", NULL },
	{ "<86>Nov 23 18:45:00 usermod[21716]: add 'azu10765' to group 'azi10765'", AUTHLOG_AUTO, 1,
	  EVENT_GROUP_CHANGE, "target_user=azu10765|group_name=azi10765", NULL },
	{ "<86>Nov 23 18:45:00 usermod[21716]: add 'azu10765' to shadow group 'azi10765'",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "target_user=azu10765|group_name=azi10765", NULL },
	{ "<86>Nov 23 18:45:02 usermod[21789]: change user 'azu10765' UID from '1001' to '0'",
	  AUTHLOG_AUTO, 1, EVENT_ACCOUNT_MODIFY, "target_user=azu10765|target_uid=0", NULL },
	{ "<86>Nov 23 18:45:01 usermod[21758]: change user 'azu10765' shell from '/bin/sh' to "
	  "'/bin/bash'",
	  AUTHLOG_AUTO, 1, EVENT_ACCOUNT_MODIFY, "target_user=azu10765", NULL },
	{ "<86>Nov 23 18:45:04 usermod[21834]: change user 'azu10765' password", AUTHLOG_AUTO, 1,
	  EVENT_ACCOUNT_PASSWORD, "target_user=azu10765", NULL },
	{ "<86>Nov 23 18:45:05 usermod[21877]: change user name 'azu10765' to 'azu10765x'",
	  AUTHLOG_AUTO, 1, EVENT_ACCOUNT_MODIFY, "target_user=azu10765", NULL },
	{ "<86>Nov 23 18:44:00 usermod[19717]: lock user 'azs10765' password", AUTHLOG_AUTO, 1,
	  EVENT_ACCOUNT_MODIFY, "target_user=azs10765", NULL },
	{ "<86>Nov 23 18:45:06 userdel[21926]: delete user 'azu10765x'\n", AUTHLOG_AUTO, 1,
	  EVENT_ACCOUNT_DELETE, "target_user=azu10765x|service=userdel", NULL },
	{ "<86>Nov 23 18:44:06 userdel[19913]: removed group 'azs10765' owned by 'azs10765'",
	  AUTHLOG_AUTO, 1, EVENT_GROUP_CHANGE, "group_name=azs10765|target_user=azs10765", NULL },
	{ "<86>Nov 23 18:44:05 groupdel[19886]: group 'azg10765x' removed", AUTHLOG_AUTO, 1,
	  EVENT_GROUP_CHANGE, "group_name=azg10765x", NULL },
	{ "<86>Nov 23 18:44:05 groupdel[19886]: group 'azg10765x' removed from /etc/group",
	  AUTHLOG_AUTO, 1, EVENT_LOG_LINE, "group_name=azg10765x", NULL },
	{ "<86>Nov 23 18:44:04 groupmod[19854]: group changed in /etc/group (group azg10765/1002, "
	  "new name: azg10765x)",
	  AUTHLOG_AUTO, 1, EVENT_GROUP_CHANGE, "group_name=azg10765", NULL },
	{ "<86>Nov 23 18:43:58 gpasswd[19656]: user azs10765 added by root to group azg10765",
	  AUTHLOG_AUTO, 1, EVENT_GROUP_CHANGE,
	  "target_user=azs10765|actor_user=root|group_name=azg10765", NULL },
	{ "<86>Nov 23 18:43:59 gpasswd[19689]: user azs10765 removed by root from group azg10765",
	  AUTHLOG_AUTO, 1, EVENT_GROUP_CHANGE, "target_user=azs10765|group_name=azg10765", NULL },
	{ "<85>Nov 23 18:43:57 chpasswd[19542]: pam_unix(chpasswd:chauthtok): password changed for "
	  "azs10765",
	  AUTHLOG_AUTO, 1, EVENT_ACCOUNT_PASSWORD, "target_user=azs10765|service=chpasswd", NULL },
	{ "<86>Nov 23 18:44:27 passwd[20673]: password for 'azt10765x' changed by 'root'",
	  AUTHLOG_AUTO, 1, EVENT_ACCOUNT_PASSWORD, "target_user=azt10765x|actor_user=root", NULL },
	{ "Nov 23 18:40:01 web1 useradd[1]: something new", AUTHLOG_AUTO, 1, EVENT_LOG_LINE,
	  "service=useradd|message=something new", NULL },
	/* control bytes and invalid UTF-8 become '?'; valid UTF-8 stays */
	{ "Nov 23 18:40:01 web1 sshd[1]: Invalid user \xc3\xa9t\xe9\x1b[0m\xed\xa0\x80 from "
	  "192.0.2.1 port 22",
	  AUTHLOG_AUTO, 1, EVENT_AUTH_LOGON, "target_user=\xc3\xa9t??[0m???", NULL },
	/* not ours */
	{ "Nov 23 18:40:01 web1 CRON[123]: pam_unix(cron:session): session opened for user root",
	  AUTHLOG_AUTO, 0, EVENT_NONE, NULL, NULL },
	{ "2026-11-23T18:40:01+01:00 web1 systemd-logind[1]: New session 3 of user alice.",
	  AUTHLOG_SYSLOG, 0, EVENT_NONE, NULL, NULL },
	/* garbage */
	{ "", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL, NULL },
	{ "\r", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL, NULL },
	{ "Foo 23 18:40:01 web1 sshd[1]: Accepted", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL,
	  NULL },
	{ "Nov 23 25:40:01 web1 sshd[1]: Accepted", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL,
	  NULL },
	{ "Nov 23 18:40:01 web1 sshd[x]: Accepted", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL,
	  NULL },
	{ "<999>Nov 23 18:40:01 web1 sshd: x", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL, NULL },
	{ "<38>1 2026-11-23T18:40:01Z web1 sshd 1 - [unterminated", AUTHLOG_AUTO, -EBADMSG,
	  EVENT_NONE, NULL, NULL },
	{ "2026-13-23T18:40:01Z web1 sshd[1]: x", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL, NULL },
	{ "\x01\x02\x03 binary", AUTHLOG_AUTO, -EBADMSG, EVENT_NONE, NULL, NULL },
};

static void check_case(const struct tcase *t, struct host_event *ev)
{
	struct authlog_opts o = { .format = t->format, .now_ns = NOW };
	int r = authlog_decode(t->line, strlen(t->line), &o, ev);
	if (r != t->ret)
		fail_msg("%s: returned %d, expected %d", t->line, r, t->ret);
	if (r != 1)
		return;
	if (ev->kind != t->kind)
		fail_msg("%s: kind %s, expected %s", t->line, event_kind_name(ev->kind),
			 event_kind_name(t->kind));
	assert_true(host_event_has(ev, EF_SERVICE));
	assert_true(host_event_has(ev, EF_MESSAGE));
	_cleanup_strv_ strv want = str_split(t->fields ? t->fields : "", "|");
	for (size_t i = 0; want[i]; i++) {
		char *eq = strchr(want[i], '=');
		assert_non_null(eq);
		*eq = '\0';
		int f = event_field_by_name(want[i]);
		assert_true(f >= 0);
		const char *v = host_event_get(ev, (enum event_field)f, NULL);
		if (!v || strcmp(v, eq + 1) != 0)
			fail_msg("%s: %s is \"%s\", expected \"%s\"", t->line, want[i],
				 v ? v : "(absent)", eq + 1);
	}
	_cleanup_strv_ strv no = str_split(t->absent ? t->absent : "", "|");
	for (size_t i = 0; no[i]; i++) {
		int f = event_field_by_name(no[i]);
		assert_true(f >= 0);
		if (host_event_has(ev, (enum event_field)f))
			fail_msg("%s: %s should be absent", t->line, no[i]);
	}
}

static void test_cases(void **state)
{
	struct host_event ev;
	host_event_init(&ev);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_case(&cases[i], &ev);
	host_event_free(&ev);
}

static void test_times(void **state)
{
	struct authlog_opts o = { .format = AUTHLOG_AUTO, .now_ns = NOW };
	struct host_event ev;
	int64_t t;

	host_event_init(&ev);
	/* RFC 3164: this year */
	assert_int_equal(
		authlog_decode("Nov 23 18:40:01 h sshd[1]: Server listening on x", 48, &o, &ev), 1);
	assert_int_equal(ev.time_ns, (NOW_S - 299) * INT64_C(1000000000));
	/* December seen in November: last year's */
	assert_int_equal(authlog_parse_time("Dec 31 23:59:59", 15, NOW, &t), 15);
	assert_int_equal(t, INT64_C(1767225599) * 1000000000);
	/* a line up to a month ahead (clock skew) stays in this year */
	assert_int_equal(authlog_parse_time("Dec  1 00:00:00", 15, NOW, &t), 15);
	assert_int_equal(t, INT64_C(1796083200) * 1000000000);
	/* ISO with fraction and offset */
	assert_int_equal(authlog_parse_time("2026-11-23T19:40:01.123456+01:00", 32, NOW, &t), 32);
	assert_int_equal(t, (NOW_S - 299) * INT64_C(1000000000) + 123456000);
	assert_int_equal(authlog_parse_time("2026-11-23T18:40:01Z", 20, NOW, &t), 20);
	assert_int_equal(authlog_parse_time("2026-11-23T18:40:01", 19, NOW, &t), -EINVAL);
	assert_int_equal(authlog_parse_time("2026-11-23T18:40:01.Z", 21, NOW, &t), -EINVAL);
	assert_int_equal(authlog_parse_time("Nov 23 18:40", 12, NOW, &t), -EINVAL);
	/* bare sshd lines and RFC 5424 "-": now */
	assert_int_equal(authlog_decode("Invalid user x from 1.2.3.4 port 5", 34, &o, &ev), 1);
	assert_int_equal(ev.time_ns, NOW);
	assert_int_equal(
		authlog_decode("<38>1 - h sshd - - - Invalid user x from 1.2.3.4", 48, &o, &ev), 1);
	assert_int_equal(ev.time_ns, NOW);
	host_event_free(&ev);
}

/* Lines longer than AUTHLOG_LINE_MAX are cut, never read past; NUL bytes make garbage. */
static void test_limits(void **state)
{
	struct authlog_opts o = { .format = AUTHLOG_AUTO, .now_ns = NOW };
	struct host_event ev;
	size_t n = AUTHLOG_LINE_MAX * 2;
	char *big = xmalloc(n);
	const char *head = "Nov 23 18:40:01 h sshd[1]: Invalid user ";

	host_event_init(&ev);
	memset(big, 'a', n);
	memcpy(big, head, strlen(head));
	assert_int_equal(authlog_decode(big, n, &o, &ev), 1);
	assert_int_equal(ev.kind, EVENT_LOG_LINE); /* cut before " from ..." */
	size_t len;
	host_event_get(&ev, EF_MESSAGE, &len);
	assert_true(len < AUTHLOG_LINE_MAX);
	assert_int_equal(authlog_decode("Nov 23 18:40:01 h sshd[1]: a\0b", 30, &o, &ev), -EBADMSG);
	free(big);
	host_event_free(&ev);
}

int main(void)
{
	/* RFC 3164 times are local: the expected values are for UTC */
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
