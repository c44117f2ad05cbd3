/* Unit tests for the API client's configuration (src/cli/api_client.c): the file the
 * server writes as DATA/client.yaml, errors with file:line:col, the search order, and a
 * request to a port where nothing listens. */
#include "unit.h"

#include "cli/api_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOKEN "3f9c0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"

static int parse(const char *text, struct api_config **out, struct api_error *err)
{
	return api_config_parse(text, strlen(text), "/etc/immune/server.yaml", out, err);
}

static void test_good(void **state)
{
	(void)state;
	struct api_config *c = NULL;
	struct api_error err;
	const char *text = "# written by immune-server\n"
			   "api: https://127.0.0.1:7444\n"
			   "agents: 127.0.0.1:7443        # what agents dial\n"
			   "ca: /var/lib/immune/ca.crt\n"
			   "token: " TOKEN "\n"
			   "operator: admin\n";

	assert_int_equal(parse(text, &c, &err), 0);
	assert_string_equal(c->api, "https://127.0.0.1:7444");
	assert_string_equal(c->agents, "127.0.0.1:7443");
	assert_string_equal(c->ca, "/var/lib/immune/ca.crt");
	assert_string_equal(c->token, TOKEN);
	assert_string_equal(c->operator, "admin");
	assert_string_equal(c->path, "/etc/immune/server.yaml");
	api_config_free(c);

	/* a relative ca is relative to the file; agents and operator are optional */
	c = NULL;
	assert_int_equal(
		parse("api: https://localhost:7444/\nca: ca.crt\ntoken: " TOKEN "\n", &c, &err), 0);
	assert_string_equal(c->ca, "/etc/immune/ca.crt");
	assert_null(c->agents);
	assert_null(c->operator);
	api_config_free(c);
	api_config_free(NULL);
}

static void expect_error(const char *text, const char *msg)
{
	struct api_config *c = NULL;
	struct api_error err;

	assert_int_equal(parse(text, &c, &err), -EBADMSG);
	assert_null(c);
	if (!strstr(err.msg, msg))
		fail_msg("expected '%s' in '%s'", msg, err.msg);
}

static void test_errors(void **state)
{
	(void)state;
	/* an unknown key names itself and where it is */
	expect_error("api: https://127.0.0.1:7444\nca: ca.crt\ntoken: " TOKEN "\n  \nservr: x\n",
		     "/etc/immune/server.yaml:5:1: unknown key 'servr'");
	/* missing token */
	expect_error("api: https://127.0.0.1:7444\nca: ca.crt\n",
		     "/etc/immune/server.yaml:1:1: missing 'token'");
	expect_error("api: https://127.0.0.1:7444\ntoken: " TOKEN "\n", "missing 'ca'");
	/* bad values, at their position */
	expect_error("api: https://127.0.0.1:7444\nca: ca.crt\ntoken: abc\n",
		     "/etc/immune/server.yaml:3:8: token must be the 64 hexadecimal");
	expect_error("api: http://127.0.0.1:7444\nca: ca.crt\ntoken: " TOKEN "\n",
		     "/etc/immune/server.yaml:1:6: api must be an https:// URL");
	expect_error("api: [1, 2]\nca: ca.crt\ntoken: " TOKEN "\n", ":1:6:");
	expect_error("api: https://127.0.0.1:7444\nca: ''\ntoken: " TOKEN "\n",
		     ":2:5: ca must not be empty");
	expect_error("- api\n", "server configuration");
	expect_error("api: [unclosed\n", "/etc/immune/server.yaml:");
	expect_error("", "empty");
}

static void test_path_order(void **state)
{
	(void)state;
	char *p;

	setenv("HOME", "/home/op", 1);
	unsetenv("IMMUNE_SERVER_CONFIG");
	p = api_config_path(NULL);
	assert_string_equal(p, "/home/op/.config/immune/server.yaml");
	free(p);
	setenv("IMMUNE_SERVER_CONFIG", "/srv/client.yaml", 1);
	p = api_config_path(NULL);
	assert_string_equal(p, "/srv/client.yaml");
	free(p);
	p = api_config_path("/x.yaml");
	assert_string_equal(p, "/x.yaml");
	free(p);
	unsetenv("IMMUNE_SERVER_CONFIG");
	unsetenv("HOME");
	assert_null(api_config_path(NULL));
}

static void test_load_missing(void **state)
{
	(void)state;
	struct api_config *c = NULL;
	struct api_error err;

	assert_int_equal(api_config_load("/nonexistent/server.yaml", &c, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/server.yaml"));
	assert_non_null(strstr(err.msg, "--server-config"));
}

/* Nothing listens on the port: a clear "cannot reach" naming the URL and immune-server. */
static void test_unreachable(void **state)
{
	(void)state;
	const char *dir = getenv("IMMUNE_FIXTURES");
	_cleanup_free_ char *ca = NULL, *text = NULL;
	struct api_config *c = NULL;
	struct api_error err;
	json_t *ans = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);

	/* a port that was free a moment ago: bind, read it back, close */
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	assert_non_null(dir);
	ca = xasprintf("%s/fleet/ca.crt", dir);
	text = xasprintf("api: https://127.0.0.1:%u\nca: %s\ntoken: " TOKEN "\n",
			 ntohs(sa.sin_port), ca);
	assert_int_equal(parse(text, &c, &err), 0);
	assert_int_equal(api_request(c, "GET", "/v1/status", NULL, &ans, &err), -ECONNREFUSED);
	assert_null(ans);
	assert_non_null(strstr(err.msg, "cannot reach the server at https://127.0.0.1:"));
	assert_non_null(strstr(err.msg, "Connection refused"));
	assert_non_null(strstr(err.msg, "immune-server must be running"));
	api_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),	    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_path_order),  cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
