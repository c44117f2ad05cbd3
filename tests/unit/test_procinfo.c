/* /proc enrichment (detect/procinfo.h): the parsers, the pid cache, and a whole process read
 * from a fixture /proc under a temporary root. */
#include "unit.h"

#include "detect/procinfo.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void test_stat(void **state)
{
	struct procinfo_ids ids = { 0 };
	const char *line = "4242 (a) b) (c) S 4200 4242 4242 34817 4242 4194560 1 0 0 0";
	assert_int_equal(procinfo_parse_stat(line, strlen(line), &ids), 0);
	assert_int_equal(ids.ppid, 4200);
	assert_int_equal(ids.tty_nr, 34817);
	assert_string_equal(ids.comm, "a) b) (c");
	/* a comm longer than 15 bytes is cut, never overflows */
	line = "1 (0123456789abcdefghij) R 0 1 1 0";
	assert_int_equal(procinfo_parse_stat(line, strlen(line), &ids), 0);
	assert_string_equal(ids.comm, "0123456789abcde");
	const char *bad[] = { "",
			      "1 (x",
			      "1 x) S",
			      "1 (x) S",
			      "1 (x) S -1 1 1 0",
			      "1 (x) S 1 1 1",
			      "1 (x) S 99999999999999999999 1 1 0" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct procinfo_ids keep = { .ppid = 7 };
		assert_int_equal(procinfo_parse_stat(bad[i], strlen(bad[i]), &keep), -EBADMSG);
		assert_int_equal(keep.ppid, 7);
	}
}

static void test_status(void **state)
{
	const char *st = "Name:\tx\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t1\t1\t1\t1\n";
	uint32_t uid = 9, euid = 9;
	assert_int_equal(procinfo_parse_status(st, strlen(st), &uid, &euid), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(euid, 0);
	const char *bad = "Name:\tx\nUid:\tabc\n";
	assert_int_equal(procinfo_parse_status(bad, strlen(bad), &uid, &euid), -EBADMSG);
	assert_int_equal(procinfo_parse_status("", 0, &uid, &euid), -EBADMSG);
}

static void test_tty_argv_exit(void **state)
{
	char b[32];
	assert_int_equal(procinfo_tty_name(0, b, sizeof(b)), 0);
	assert_int_equal(procinfo_tty_name((uint32_t)makedev(136, 3), b, sizeof(b)), 5);
	assert_string_equal(b, "pts/3");
	procinfo_tty_name((uint32_t)makedev(4, 1), b, sizeof(b));
	assert_string_equal(b, "tty1");
	procinfo_tty_name((uint32_t)makedev(4, 64), b, sizeof(b));
	assert_string_equal(b, "ttyS0");
	char small[4];
	assert_int_equal(procinfo_tty_name((uint32_t)makedev(136, 12), small, sizeof(small)), 3);
	assert_string_equal(small, "pts");

	char argv[] = "curl\0-s\0http://x/a b\0\0";
	size_t n = procinfo_join_argv(argv, sizeof(argv) - 1);
	assert_int_equal(n, strlen("curl -s http://x/a b"));
	argv[n] = '\0';
	assert_string_equal(argv, "curl -s http://x/a b");
	char none[] = "\0\0";
	assert_int_equal(procinfo_join_argv(none, 2), 0);

	assert_int_equal(procinfo_exit_code(0), 0);
	assert_int_equal(procinfo_exit_code(3 << 8), 3);
	assert_int_equal(procinfo_exit_code(9), 137);
	assert_string_equal(procinfo_base_name("/usr/bin/curl"), "curl");
	assert_string_equal(procinfo_base_name("curl"), "curl");
}

static void test_cgroup(void **state)
{
	const char *id = "4f1c2f8d0e6b2a1d9c3b5a7e8f0d1c2b3a4e5f6a7b8c9d0e1f2a3b4c5d6e7f80";
	char text[512], got[65];
	const char *p;
	size_t len;
	snprintf(text, sizeof(text), "12:cpu:/x\n0::/system.slice/docker-%s.scope\n", id);
	assert_int_equal(procinfo_cgroup_path(text, strlen(text), &p, &len), 0);
	assert_int_equal(len, strlen("/system.slice/docker-.scope") + 64);
	assert_int_equal(procinfo_container_id(p, len, got), 0);
	assert_string_equal(got, id);
	snprintf(text, sizeof(text), "/kubepods/besteffort/pod1/%s", id);
	assert_int_equal(procinfo_container_id(text, strlen(text), got), 0);
	assert_string_equal(got, id);
	/* 63 or 65 hex digits, or a run inside a longer word, are not ids */
	snprintf(text, sizeof(text), "/x/%.63s", id);
	assert_int_equal(procinfo_container_id(text, strlen(text), got), -ENOENT);
	snprintf(text, sizeof(text), "/x/%sa", id);
	assert_int_equal(procinfo_container_id(text, strlen(text), got), -ENOENT);
	snprintf(text, sizeof(text), "/x/z%s", id);
	assert_int_equal(procinfo_container_id(text, strlen(text), got), -ENOENT);
	assert_int_equal(procinfo_cgroup_path("1:name=x:/\n", 11, &p, &len), -ENOENT);
}

static void test_cache(void **state)
{
	struct procinfo_cache *c;
	assert_int_equal(procinfo_cache_new(0, &c), -EINVAL);
	assert_int_equal(procinfo_cache_new(3, &c), 0); /* 4 slots */
	assert_null(procinfo_cache_get(c, 10));
	procinfo_cache_put(c, 10, "/usr/bin/bash", 13, "bash", "bash -l", 7);
	const struct procinfo_entry *e = procinfo_cache_get(c, 10);
	assert_non_null(e);
	assert_string_equal(e->image, "/usr/bin/bash");
	assert_string_equal(e->cmdline, "bash -l");
	/* long values are cut to the entry's sizes */
	char big[4000];
	memset(big, 'x', sizeof(big));
	procinfo_cache_put(c, 11, big, sizeof(big), big, big, sizeof(big));
	e = procinfo_cache_get(c, 11);
	assert_int_equal(e->image_len, PROCINFO_PATH_MAX - 1);
	assert_int_equal(e->cmdline_len, PROCINFO_CACHE_CMDLINE - 1);
	assert_int_equal(strlen(e->name), sizeof(e->name) - 1);
	procinfo_cache_del(c, 11);
	assert_null(procinfo_cache_get(c, 11));
	/* a fork copies its parent's entry; in the same slot, the copy replaces its source */
	e = procinfo_cache_get(c, 10);
	procinfo_cache_put(c, 14, e->image, e->image_len, e->name, e->cmdline, e->cmdline_len);
	e = procinfo_cache_get(c, 14);
	assert_non_null(e);
	assert_string_equal(e->image, "/usr/bin/bash");
	assert_string_equal(e->cmdline, "bash -l");
	assert_string_equal(e->name, "bash");
	assert_null(procinfo_cache_get(c, 10));
	/* filling more pids than slots replaces entries, never grows */
	for (pid_t p = 100; p < 200; p++)
		procinfo_cache_put(c, p, "/bin/x", 6, "x", "x", 1);
	assert_non_null(procinfo_cache_get(c, 199));
	procinfo_cache_free(c);
	procinfo_cache_free(NULL);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void make_proc(const char *root, int pid, int ppid, const char *exe, const char *cmd,
		      size_t cmdlen, int uid)
{
	char dir[512], text[512], link[600];
	snprintf(dir, sizeof(dir), "%s/proc", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/proc/%d", root, pid);
	assert_int_equal(mkdir(dir, 0755), 0);
	int n = snprintf(text, sizeof(text), "%d (%s) S %d %d %d 34816 0 0", pid,
			 procinfo_base_name(exe), ppid, pid, pid);
	write_file(dir, "stat", text, (size_t)n);
	n = snprintf(text, sizeof(text), "Name:\tx\nUid:\t%d\t%d\t%d\t%d\n", uid, uid, uid, uid);
	write_file(dir, "status", text, (size_t)n);
	write_file(dir, "loginuid", "1000", 4);
	n = snprintf(text, sizeof(text), "0::/system.slice/ssh.service\n");
	write_file(dir, "cgroup", text, (size_t)n);
	write_file(dir, "cmdline", cmd, cmdlen);
	snprintf(link, sizeof(link), "%s/exe", dir);
	assert_int_equal(symlink(exe, link), 0);
	snprintf(link, sizeof(link), "%s/cwd", dir);
	assert_int_equal(symlink("/home/alice", link), 0);
}

static void test_read_process(void **state)
{
	char root[] = "/tmp/test_procinfo.XXXXXX";
	assert_non_null(mkdtemp(root));
	char etc[600];
	snprintf(etc, sizeof(etc), "%s/etc", root);
	mkdir(etc, 0755);
	const char *pw = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
	write_file(etc, "passwd", pw, strlen(pw));
	make_proc(root, 200, 1, "/usr/bin/bash", "-bash\0", 6, 1000);
	make_proc(root, 300, 200, "/usr/bin/curl", "curl\0-s\0http://x/\0", 19, 1000);

	struct procinfo_cache *c;
	struct procinfo_users *u;
	assert_int_equal(procinfo_cache_new(64, &c), 0);
	assert_int_equal(procinfo_users_new(root, &u), 0);
	assert_string_equal(procinfo_user_name(u, 1000), "alice");
	assert_null(procinfo_user_name(u, 4242));

	struct host_event ev;
	host_event_init(&ev);
	host_event_reset(&ev, EVENT_PROCESS_EXEC, 1);
	assert_int_equal(procinfo_read_process(root, 300, c, u, &ev), 0);
	assert_string_equal(host_event_get(&ev, EF_IMAGE, NULL), "/usr/bin/curl");
	assert_string_equal(host_event_get(&ev, EF_PROCESS_NAME, NULL), "curl");
	assert_string_equal(host_event_get(&ev, EF_COMMAND_LINE, NULL), "curl -s http://x/");
	assert_string_equal(host_event_get(&ev, EF_CURRENT_DIRECTORY, NULL), "/home/alice");
	assert_string_equal(host_event_get(&ev, EF_PID, NULL), "300");
	assert_string_equal(host_event_get(&ev, EF_PPID, NULL), "200");
	assert_string_equal(host_event_get(&ev, EF_UID, NULL), "1000");
	assert_string_equal(host_event_get(&ev, EF_USER, NULL), "alice");
	assert_string_equal(host_event_get(&ev, EF_LOGIN_UID, NULL), "1000");
	assert_string_equal(host_event_get(&ev, EF_TTY, NULL), "pts/0");
	assert_string_equal(host_event_get(&ev, EF_CGROUP, NULL), "/system.slice/ssh.service");
	assert_false(host_event_has(&ev, EF_CONTAINER_ID));
	assert_string_equal(host_event_get(&ev, EF_PARENT_IMAGE, NULL), "/usr/bin/bash");
	assert_string_equal(host_event_get(&ev, EF_PARENT_COMMAND_LINE, NULL), "-bash");
	assert_string_equal(host_event_get(&ev, EF_PARENT_NAME, NULL), "bash");

	/* the parent is cached: gone from /proc, it is still known */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "%s/proc/200/stat", root);
	unlink(cmd);
	assert_non_null(procinfo_cache_get(c, 200));
	assert_non_null(procinfo_cache_lookup(c, root, 300));
	assert_int_equal(procinfo_read_process(root, 999, c, u, &ev), -ENOENT);

	host_event_free(&ev);
	procinfo_cache_free(c);
	procinfo_users_free(u);
	/* remove the fixture tree */
	const char *names[] = { "stat", "status", "loginuid", "cgroup", "cmdline", "exe", "cwd" };
	for (int pid = 200; pid <= 300; pid += 100) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			snprintf(cmd, sizeof(cmd), "%s/proc/%d/%s", root, pid, names[i]);
			unlink(cmd);
		}
		snprintf(cmd, sizeof(cmd), "%s/proc/%d", root, pid);
		rmdir(cmd);
	}
	snprintf(cmd, sizeof(cmd), "%s/proc", root);
	rmdir(cmd);
	snprintf(cmd, sizeof(cmd), "%s/passwd", etc);
	unlink(cmd);
	rmdir(etc);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat),	      cmocka_unit_test(test_status),
		cmocka_unit_test(test_tty_argv_exit), cmocka_unit_test(test_cgroup),
		cmocka_unit_test(test_cache),	      cmocka_unit_test(test_read_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
