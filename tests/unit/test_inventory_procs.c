/* Unit tests for the listening_sockets and processes collectors: /proc/net fixtures, and this
 * host's own /proc (the test's pid, parent and a socket it listens on). */
#include "inv_helpers.h"

#include "inventory/procs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Returns the socket row with protocol and port, or NULL. */
static json_t *sock_row(struct inventory *inv, const char *proto, int64_t port)
{
	size_t i;
	json_t *row;
	json_array_foreach(inventory_rows(inv, "listening_sockets"), i, row) {
		if (!strcmp(col_str(row, "protocol"), proto) && col_int(row, "port") == port)
			return row;
	}
	return NULL;
}

static void test_procnet_fixture(void **state)
{
	struct inventory *inv = collect_fixture("services", "debian", "listening_sockets");
	json_t *r;

	r = sock_row(inv, "tcp", 22);
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "0.0.0.0");
	assert_int_equal(col_int(r, "inode"), 12345);
	assert_null(json_object_get(r, "pid")); /* not the host: no process mapping */
	r = sock_row(inv, "tcp", 631);
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "127.0.0.1");
	r = sock_row(inv, "tcp6", 22);
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "::");
	r = sock_row(inv, "tcp6", 3306);
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "::1");
	r = sock_row(inv, "udp", 68);
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "0.0.0.0");
	r = sock_row(inv, "udp6", 546);
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "fe80::5000:ff:fe1f:ee00");
	/* established TCP and connected UDP are not listed */
	assert_int_equal(n_rows(inv, "listening_sockets"), 6);
	assert_int_equal(n_errors(inv, "listening_sockets"), 0);
	inventory_free(inv);

	/* Fixture roots have no processes table. */
	inv = collect_fixture("services", "debian", "processes");
	assert_int_equal(n_rows(inv, "processes"), 0);
	inventory_free(inv);
}

static void test_procnet_garbage(void **state)
{
	struct inventory *inv = collect_fixture("services", "malformed", "listening_sockets");
	assert_non_null(sock_row(inv, "tcp", 22));
	assert_non_null(sock_row(inv, "tcp", 0x51));
	assert_int_equal(n_rows(inv, "listening_sockets"), 2);
	json_t *errs = inventory_errors_for(inv, "listening_sockets");
	assert_int_equal(json_array_size(errs), 1);
	assert_string_equal(col_str(json_array_get(errs, 0), "error"),
			    "5 malformed line(s), first at line 3");
	json_decref(errs);
	inventory_free(inv);

	struct procnet_entry e;
	static const char ok[] = "0: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 99";
	assert_int_equal(procnet_parse_line(ok, strlen(ok), false, true, &e), 1);
	assert_int_equal(e.inode, 99);
	assert_int_equal(procnet_parse_line(ok, strlen(ok), false, false, &e), 0); /* UDP 0A */
	assert_int_equal(procnet_parse_line(ok, strlen(ok), true, true, &e), -EBADMSG);
	assert_int_equal(procnet_parse_line("0: \x01", 4, false, true, &e), -EBADMSG);
	static const char state_bad[] = "0: 0100007F:0016 00000000:0000 0AA 0:0 0:0 0 0 0 99";
	assert_int_equal(procnet_parse_line(state_bad, strlen(state_bad), false, true, &e),
			 -EBADMSG);
}

static void test_host_processes(void **state)
{
	struct inventory *inv = collect_root("/", "processes");
	size_t i;
	json_t *row, *mine = NULL;

	json_array_foreach(inventory_rows(inv, "processes"), i, row) {
		if (col_int(row, "pid") == getpid())
			mine = row;
	}
	assert_non_null(mine);
	assert_int_equal(col_int(mine, "ppid"), getppid());
	assert_int_equal(col_int(mine, "uid"), getuid());
	assert_string_equal(col_str(mine, "name"), "test_inventory_");
	assert_non_null(strstr(col_str(mine, "exe"), "test_inventory_procs"));
	assert_non_null(strstr(col_str(mine, "cmdline"), "test_inventory_procs"));
	assert_true(n_rows(inv, "processes") > 1);
	assert_int_equal(n_errors(inv, "processes"), 0);
	inventory_free(inv);
}

static void test_host_listening_socket(void **state)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);

	struct inventory *inv = collect_root("/", "listening_sockets");
	json_t *r = sock_row(inv, "tcp", ntohs(a.sin_port));
	assert_non_null(r);
	assert_string_equal(col_str(r, "address"), "127.0.0.1");
	assert_int_equal(col_int(r, "pid"), getpid());
	assert_string_equal(col_str(r, "process"), "test_inventory_");
	inventory_free(inv);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procnet_fixture),
		cmocka_unit_test(test_procnet_garbage),
		cmocka_unit_test(test_host_processes),
		cmocka_unit_test(test_host_listening_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
