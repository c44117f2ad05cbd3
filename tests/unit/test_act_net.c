/* Network actions (respond/act_net.c): block-address and isolate-host against the real
 * kernel firewall, each test inside a network namespace of its own (unshare), so nothing
 * touches the host's firewall. Isolation is checked end to end through a veth pair to a peer
 * namespace. Needs root (CAP_NET_ADMIN); skips with a message otherwise. */
#include "unit.h"

#include "respond/act.h"
#include "respond/act_net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TABLE "immune_test"
#define PEER_PORT 7777

struct fixture {
	char dir[64];
	struct act_ctx ctx;
	pid_t peer;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/immune-actnet-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->ctx.state_dir = f->dir;
	f->ctx.uid = "0123456789abcdef0123456789abcdef";
	f->ctx.nft_table = TABLE;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->peer > 0) {
		kill(f->peer, SIGKILL);
		waitpid(f->peer, NULL, 0);
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/isolation.json", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int link_up(const char *name)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int r = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 ? 0 : -1;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0)
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	if (fd >= 0)
		close(fd);
	return r;
}

/* A network namespace of our own with lo up; skips the test when that is not allowed. */
static void netns_fresh(void)
{
	if (geteuid() != 0) {
		print_message("skipped: network actions need root and CAP_NET_ADMIN\n");
		skip();
	}
	if (unshare(CLONE_NEWNET) < 0) {
		print_message("skipped: cannot create a network namespace: %s\n", strerror(errno));
		skip();
	}
	assert_int_equal(link_up("lo"), 0);
}

/* Runs a tool (tests only) with argv, output discarded; returns its exit status. */
static int run(const char *const *argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs a command and returns its output (at most 64 KiB), or NULL. */
static char *capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	char *out = calloc(1, 65536);
	size_t n = fread(out, 1, 65535, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static int listen_on(const char *addr, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, addr, &sa.sin_addr);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	return fd;
}

/* True when a TCP connection to addr:port completes within timeout_ms. */
static bool can_connect(const char *addr, int port, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, addr, &sa.sin_addr);
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 1;
		socklen_t len = sizeof(err);
		if (poll(&p, 1, timeout_ms) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
			ok = err == 0;
	}
	close(fd);
	return ok;
}

/* Tries for up to tries seconds; true at the first success. */
static bool connects_within(const char *addr, int port, int tries)
{
	for (int i = 0; i < tries; i++)
		if (can_connect(addr, port, 1000))
			return true;
	return false;
}

/* A peer in a namespace of its own behind a veth pair: 10.231.0.1 here, 10.231.0.2 and
 * 10.231.0.3 there, a listener on PEER_PORT on both. */
static void peer_start(struct fixture *f)
{
	int up[2], down[2];
	char c;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0 || write(up[1], "u", 1) != 1 ||
		    read(down[0], &c, 1) != 1)
			_exit(1);
		const char *a2[] = {
			"/sbin/ip", "addr", "add", "10.231.0.2/24", "dev", "imv1", NULL
		};
		const char *a3[] = {
			"/sbin/ip", "addr", "add", "10.231.0.3/24", "dev", "imv1", NULL
		};
		if (run(a2) || run(a3) || link_up("imv1") || link_up("lo"))
			_exit(1);
		int fd = listen_on("0.0.0.0", PEER_PORT);
		if (write(up[1], "r", 1) != 1)
			_exit(1);
		for (;;) {
			int s = accept(fd, NULL, NULL);
			if (s >= 0)
				close(s);
		}
	}
	f->peer = pid;
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &c, 1), 1);
	char ns[32];
	snprintf(ns, sizeof(ns), "%d", (int)pid);
	const char *veth[] = { "/sbin/ip", "link", "add",  "imv0",  "type", "veth",
			       "peer",	   "name", "imv1", "netns", ns,	    NULL };
	const char *a1[] = { "/sbin/ip", "addr", "add", "10.231.0.1/24", "dev", "imv0", NULL };
	assert_int_equal(run(veth), 0);
	assert_int_equal(run(a1), 0);
	assert_int_equal(link_up("imv0"), 0);
	assert_int_equal(write(down[1], "g", 1), 1);
	assert_int_equal(read(up[0], &c, 1), 1);
	close(up[0]);
	close(down[1]);
	assert_true(connects_within("10.231.0.2", PEER_PORT, 5));
	assert_true(connects_within("10.231.0.3", PEER_PORT, 5));
}

static Action block_action(const char *address, uint32_t duration)
{
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS;
	a.address = (char *)address;
	a.duration_seconds = duration;
	return a;
}

static enum act_status apply(const struct act_ctx *ctx, const Action *a, json_t **undo)
{
	struct act_result res = { 0 };
	enum act_status s = act_lookup(a->kind)->apply(ctx, a, undo, &res);
	print_message("apply: %s\n", res.message);
	json_decref(res.detail);
	return s;
}

static enum act_status verify(const struct act_ctx *ctx, const Action *a, json_int_t *left)
{
	struct act_result res = { 0 };
	enum act_status s = act_lookup(a->kind)->verify(ctx, a, &res);
	print_message("verify: %s\n", res.message);
	if (left)
		*left = json_integer_value(json_object_get(res.detail, "lease_left_s"));
	json_decref(res.detail);
	return s;
}

static enum act_status rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo)
{
	struct act_result res = { 0 };
	enum act_status s = act_lookup(a->kind)->rollback(ctx, a, undo, &res);
	print_message("rollback: %s\n", res.message);
	json_decref(res.detail);
	return s;
}

static void test_block_cycle(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	const char *addrs[] = { "192.0.2.7", "198.51.100.0/24", "2001:db8::1", "2001:db8:1::/48" };
	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		Action a = block_action(addrs[i], 600);
		json_t *undo = NULL;
		assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
		assert_non_null(undo);
		assert_string_equal(json_string_value(json_object_get(undo, "set")),
				    strchr(addrs[i], ':') ? "blocked6" : "blocked4");
		assert_int_equal(verify(&f->ctx, &a, NULL), ACT_VERIFIED);
		assert_int_equal(rollback(&f->ctx, &a, undo), ACT_ROLLED_BACK);
		assert_int_equal(verify(&f->ctx, &a, NULL), ACT_FAILED);
		/* rolling back again finds nothing to remove and says so */
		assert_int_equal(rollback(&f->ctx, &a, undo), ACT_ROLLED_BACK);
		json_decref(undo);
	}
	/* an address inside a network already blocked is in place: rolling it back leaves the
	 * network blocked; a network around a blocked address fails with nft's reason */
	Action net = block_action("198.51.100.0/24", 600), host = block_action("198.51.100.7", 0);
	Action wider = block_action("198.51.0.0/16", 0);
	json_t *undo = NULL, *host_undo = NULL;
	struct act_result res = { 0 };
	assert_int_equal(apply(&f->ctx, &net, &undo), ACT_VERIFIED);
	assert_int_equal(apply(&f->ctx, &host, &host_undo), ACT_VERIFIED);
	assert_string_equal(json_string_value(json_object_get(host_undo, "covered_by")),
			    "198.51.100.0/24");
	assert_int_equal(verify(&f->ctx, &host, NULL), ACT_VERIFIED);
	assert_int_equal(rollback(&f->ctx, &host, host_undo), ACT_ROLLED_BACK);
	assert_int_equal(verify(&f->ctx, &net, NULL), ACT_VERIFIED);
	json_decref(host_undo);
	host_undo = NULL;
	assert_int_equal(act_lookup(wider.kind)->apply(&f->ctx, &wider, &host_undo, &res),
			 ACT_FAILED);
	assert_non_null(strstr(res.message, "overlaps"));
	assert_null(host_undo);
	json_decref(res.detail);
	assert_int_equal(rollback(&f->ctx, &net, undo), ACT_ROLLED_BACK);
	assert_int_equal(verify(&f->ctx, &host, NULL), ACT_FAILED);
	json_decref(undo);

	char *out = capture("nft list table inet " TABLE);
	assert_non_null(out);
	assert_null(strstr(out, "192.0.2.7"));
	assert_null(strstr(out, "2001:db8"));
	assert_non_null(strstr(out, "priority filter - 10"));
	free(out);
}

static void test_block_idempotent(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	Action a = block_action("192.0.2.9", 5);
	json_t *undo = NULL, *undo2 = NULL;
	assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
	a.duration_seconds = 900; /* re-apply refreshes the timeout */
	assert_int_equal(apply(&f->ctx, &a, &undo2), ACT_VERIFIED);
	char *out = capture("nft list set inet " TABLE " blocked4");
	assert_non_null(out);
	assert_int_equal(count(out, "192.0.2.9"), 1);
	assert_non_null(strstr(out, "timeout 15m"));
	free(out);
	out = capture("nft list chain inet " TABLE " input");
	assert_int_equal(count(out, "@blocked4"), 1); /* the base rules are not duplicated */
	free(out);
	json_decref(undo);
	json_decref(undo2);
}

static void test_block_drops_traffic(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	int l = listen_on("127.0.0.2", 7001);
	assert_true(can_connect("127.0.0.2", 7001, 1000));
	Action a = block_action("127.0.0.2", 0);
	json_t *undo = NULL;
	assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
	assert_false(can_connect("127.0.0.2", 7001, 1000));
	assert_int_equal(rollback(&f->ctx, &a, undo), ACT_ROLLED_BACK);
	assert_true(can_connect("127.0.0.2", 7001, 1000));
	json_decref(undo);
	close(l);
}

static void test_block_refusals(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "0.0.0.0/0", "10.0.0.0/7", "127.0.0.0/8",
			      "::/0",	   "::1",	 "not-an-address" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		Action a = block_action(bad[i], 0);
		json_t *undo = NULL;
		assert_int_equal(apply(&f->ctx, &a, &undo), ACT_REFUSED);
		assert_null(undo);
	}
	struct act_ctx bad_table = f->ctx;
	bad_table.nft_table = "x; flush ruleset";
	Action a = block_action("192.0.2.1", 0);
	json_t *undo = NULL;
	assert_int_equal(apply(&bad_table, &a, &undo), ACT_REFUSED);
	/* a malformed undo record is never turned into a command */
	undo = json_pack("{s:s, s:s, s:s}", "table", TABLE, "set", "blocked4", "element",
			 "1.2.3.4 }; flush ruleset; add element inet x y { 1.1.1.1");
	assert_int_equal(rollback(&f->ctx, &a, undo), ACT_FAILED);
	json_decref(undo);
}

static Action isolate_action(char **allow, size_t n, uint32_t duration)
{
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST;
	a.allow = allow;
	a.n_allow = n;
	a.duration_seconds = duration;
	return a;
}

static void test_isolate_allows_only_allowed(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	peer_start(f);
	int l = listen_on("127.0.0.1", 7002);
	char *allow[] = { "10.231.0.3", "192.0.2.0/24", "2001:db8::1" };
	Action a = isolate_action(allow, ARRAY_SIZE(allow), 600);
	json_t *undo = NULL;
	assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
	assert_int_equal(verify(&f->ctx, &a, NULL), ACT_VERIFIED);
	assert_true(can_connect("10.231.0.3", PEER_PORT, 2000));
	assert_false(can_connect("10.231.0.2", PEER_PORT, 1000));
	assert_true(can_connect("127.0.0.1", 7002, 1000)); /* loopback stays */
	/* applying again is idempotent: the rules are not duplicated */
	json_t *undo2 = NULL;
	assert_int_equal(apply(&f->ctx, &a, &undo2), ACT_VERIFIED);
	char *out = capture("nft list chain inet " TABLE " isolate_in");
	assert_int_equal(count(out, "drop"), 1);
	free(out);
	assert_int_equal(rollback(&f->ctx, &a, undo), ACT_ROLLED_BACK);
	assert_int_equal(verify(&f->ctx, &a, NULL), ACT_FAILED);
	assert_true(connects_within("10.231.0.2", PEER_PORT, 3));
	/* the lease state is gone with the isolation */
	assert_int_equal(act_isolate_refresh(&f->ctx, 60), -ENOENT);
	json_decref(undo);
	json_decref(undo2);
	close(l);
}

static void test_isolate_lease_expires(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	peer_start(f);
	char *allow[] = { "10.231.0.3" };
	Action a = isolate_action(allow, 1, 3600);
	json_t *undo = NULL;
	assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
	assert_int_equal(act_isolate_refresh(&f->ctx, 1), 0); /* a 1 s lease, never refreshed */
	assert_false(can_connect("10.231.0.2", PEER_PORT, 300));
	/* nobody refreshes: the kernel lifts the isolation by itself */
	assert_true(connects_within("10.231.0.2", PEER_PORT, 10));
	assert_int_equal(verify(&f->ctx, &a, NULL), ACT_FAILED);
	/* a refresh after the dead-man switch fired does not isolate again */
	assert_int_equal(act_isolate_refresh(&f->ctx, 60), -ENOENT);
	assert_true(can_connect("10.231.0.2", PEER_PORT, 1000));
	json_decref(undo);
}

static void test_isolate_refresh_extends(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	peer_start(f);
	char *allow[] = { "10.231.0.3" };
	Action a = isolate_action(allow, 1, 3600);
	json_t *undo = NULL;
	json_int_t left = 0;
	assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
	assert_int_equal(act_isolate_refresh(&f->ctx, 1), 0);
	assert_int_equal(act_isolate_refresh(&f->ctx, 60), 0);
	sleep(2); /* past the 1 s lease it replaced */
	assert_false(can_connect("10.231.0.2", PEER_PORT, 500));
	assert_int_equal(verify(&f->ctx, &a, &left), ACT_VERIFIED);
	assert_true(left > 30 && left <= 60);
	assert_int_equal(act_isolate_refresh(&f->ctx, 0), -EINVAL);
	json_decref(undo);
}

static void test_isolate_duration_caps_lease(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	Action a = isolate_action(NULL, 0, 2);
	json_t *undo = NULL;
	json_int_t left = 0;
	assert_int_equal(apply(&f->ctx, &a, &undo), ACT_VERIFIED);
	assert_int_equal(act_isolate_refresh(&f->ctx, 60), 0);
	assert_int_equal(verify(&f->ctx, &a, &left), ACT_VERIFIED);
	assert_true(left <= 2); /* never past the isolation's own end */
	sleep(3);
	assert_int_equal(act_isolate_refresh(&f->ctx, 60), -ENOENT);
	assert_int_equal(verify(&f->ctx, &a, NULL), ACT_FAILED);
	json_decref(undo);
}

/* The agent's configured lease (act_ctx.isolation_lease_s) is the first lease: an isolation
 * of 10 min that is never refreshed lifts after it. */
static void test_isolate_configured_lease(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	struct act_ctx ctx = f->ctx;
	ctx.isolation_lease_s = 2;
	Action a = isolate_action(NULL, 0, 600);
	json_t *undo = NULL;
	struct act_result res = { 0 };
	assert_int_equal(act_lookup(a.kind)->apply(&ctx, &a, &undo, &res), ACT_VERIFIED);
	assert_int_equal(json_integer_value(json_object_get(res.detail, "lease_s")), 2);
	assert_int_equal(json_integer_value(json_object_get(res.detail, "duration_s")), 600);
	json_decref(res.detail);
	json_int_t left = 0;
	assert_int_equal(verify(&ctx, &a, &left), ACT_VERIFIED);
	assert_true(left <= 2);
	sleep(3);
	assert_int_equal(verify(&ctx, &a, NULL), ACT_FAILED); /* the kernel lifted it */
	assert_int_equal(act_isolate_refresh(&ctx, 2), -ENOENT);
	json_decref(undo);
}

static void test_isolate_without_state_lifts(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	struct act_ctx ctx = f->ctx;
	ctx.state_dir = "/nonexistent/immune-actnet";
	Action a = isolate_action(NULL, 0, 600);
	json_t *undo = NULL;
	/* an isolation whose end cannot be recorded could not be refreshed: it is lifted */
	assert_int_equal(apply(&ctx, &a, &undo), ACT_FAILED);
	assert_null(undo);
	assert_int_equal(verify(&ctx, &a, NULL), ACT_FAILED);
	ctx.state_dir = NULL;
	assert_int_equal(apply(&ctx, &a, &undo), ACT_REFUSED);
}

static void test_dry_run_changes_nothing(void **state)
{
	struct fixture *f = *state;
	netns_fresh();
	f->ctx.dry_run = true;
	Action b = block_action("192.0.2.44", 0);
	char *allow[] = { "10.0.0.1" };
	Action i = isolate_action(allow, 1, 0);
	json_t *undo = NULL;
	assert_int_equal(apply(&f->ctx, &b, &undo), ACT_DRY_RUN);
	assert_int_equal(apply(&f->ctx, &i, &undo), ACT_DRY_RUN);
	assert_null(undo);
	const char *list[] = { "/usr/sbin/nft", "list table inet " TABLE, NULL };
	assert_int_not_equal(run(list), 0); /* the table was not even created */
	f->ctx.dry_run = false;
	assert_int_equal(act_isolate_refresh(&f->ctx, 60), -ENOENT);
}

static void test_resolv_parse(void **state)
{
	(void)state;
	static const char text[] = "# comment\n"
				   "nameserver 192.0.2.53\n"
				   "  nameserver\t2001:db8::53 # trailing\n"
				   "nameserver fe80::1%eth0\n"
				   "nameserver 10.0.0.0/8\n"
				   "nameservers 192.0.2.1\n"
				   "nameserver\n"
				   "nameserver garbage\n"
				   "search example.org\n"
				   "nameserver 198.51.100.1\r\n"
				   "nameserver 203.0.113.1";
	struct net_addr out[8];
	char t[NET_ADDR_TEXT];
	size_t n = net_resolv_parse(text, sizeof(text) - 1, out, ARRAY_SIZE(out));
	assert_int_equal(n, 5);
	const char *want[] = { "192.0.2.53", "2001:db8::53", "fe80::1", "198.51.100.1",
			       "203.0.113.1" };
	for (size_t i = 0; i < n; i++) {
		net_addr_format(&out[i], t);
		assert_string_equal(t, want[i]);
	}
	assert_int_equal(net_resolv_parse(text, sizeof(text) - 1, out, 2), 2);
	struct net_addr a;
	assert_int_equal(net_addr_parse("10.1.2.3/8", &a), 0);
	net_addr_format(&a, t);
	assert_string_equal(t, "10.0.0.0/8");
	assert_int_equal(net_addr_parse("10.1.2.3/33", &a), -EINVAL);
	assert_int_equal(net_addr_parse("10.1.2.3/", &a), -EINVAL);
	assert_true(net_table_name_ok("immune"));
	assert_false(net_table_name_ok("Immune"));
	assert_false(net_table_name_ok("a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolv_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_drops_traffic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_allows_only_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_lease_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_refresh_extends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_duration_caps_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_configured_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_without_state_lifts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
