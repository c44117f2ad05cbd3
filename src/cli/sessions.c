/* immune session list [--host H] [--identity U] [--since T] [--limit N] [--json]
 * immune session play ID [--speed X] [--raw]
 * Recorded SSH sessions at the server (docs/sessions.md, GET /v1/sessions in docs/api.md). */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <getopt.h>
#include <time.h>
#include <unistd.h>

#define PLAY_IDLE_MAX 2.0 /* seconds: longer pauses are replayed as this */

static void print_help(void)
{
	printf("usage: immune session list [--host H] [--identity U] [--since T] [--limit N] "
	       "[--json]\n"
	       "       immune session play ID [--speed X] [--raw]\n\n"
	       "Recorded SSH sessions: hosts that record sessions run every certificate login\n"
	       "through the agent's recorder, which sends the session's output to the server.\n"
	       "Auditors and admins see every session; others see their own.\n\n"
	       "  list     sessions, newest first\n"
	       "    --host H           only this host (id or hostname)\n"
	       "    --identity U       only this identity's sessions\n"
	       "    --since T          started since T: a duration back from now (90m, 24h)\n"
	       "                       or an RFC 3339 time (2026-11-23T10:00:00Z)\n"
	       "    --limit N          at most N sessions (1-1000, default 100)\n"
	       "    --json             print the server's answer (GET /v1/sessions)\n"
	       "  play     replays a session on this terminal with its recorded timing (pauses\n"
	       "           longer than 2 s are cut to 2 s)\n"
	       "    --speed X          X times faster (default 1; 0.5 is slower)\n"
	       "    --raw              print the recording as it is (asciicast v2)\n\n"
	       "  --server-config FILE the client configuration (default $IMMUNE_SERVER_CONFIG,\n"
	       "                       then ~/.config/immune/server.yaml)\n\n"
	       "Exit status: 0 ok, 2 usage or runtime error.\n");
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "12s", "5m", "2h" between two RFC 3339 times (caller frees), "running" without an end. */
static char *duration_text(const json_t *s)
{
	struct tm a = { 0 }, b = { 0 };
	const char *start = jstr(s, "started"), *end = jstr(s, "ended");
	long d;

	if (!end)
		return xstrdup("running");
	if (!start || !strptime(start, "%Y-%m-%dT%H:%M:%S", &a) ||
	    !strptime(end, "%Y-%m-%dT%H:%M:%S", &b))
		return xstrdup("-");
	d = (long)difftime(timegm(&b), timegm(&a));
	if (d < 120)
		return xasprintf("%lds", d);
	if (d < 7200)
		return xasprintf("%ldm", d / 60);
	return xasprintf("%ldh", d / 3600);
}

static void print_list(const json_t *ans, bool color)
{
	static const char *const head[] = { "ID",      "HOST",	  "IDENTITY", "ACCOUNT",
					    "COMMAND", "STARTED", "LENGTH",   "EXIT" };
	const json_t *arr = json_object_get(ans, "sessions");
	struct table t;
	size_t i;
	json_t *s;

	if (json_array_size(arr) == 0) {
		printf("No sessions.\n");
		return;
	}
	table_init(&t, ARRAY_SIZE(head), head);
	json_array_foreach(arr, i, s) {
		_cleanup_free_ char *ago = fleet_ago(json_object_get(s, "started"));
		_cleanup_free_ char *len = duration_text(s);
		_cleanup_free_ char *code =
			json_is_integer(json_object_get(s, "exit"))
				? xasprintf("%lld", (long long)json_integer_value(
							    json_object_get(s, "exit")))
				: NULL;
		const char *host = jstr(s, "hostname") ? jstr(s, "hostname") : jstr(s, "host");
		const char *full = jstr(s, "command") ? jstr(s, "command") : "(login shell)";
		_cleanup_free_ char *cmd =
			strlen(full) > 48 ? xasprintf("%.45s...", full) : xstrdup(full);
		const char *cells[] = {
			jstr(s, "id"), host, jstr(s, "identity"), jstr(s, "account"), cmd, ago,
			len,	       code
		};
		table_row(&t, cells);
	}
	table_print(&t, stdout, color);
	table_free(&t);
	printf("%zu session%s; 'immune session play ID' replays one\n", json_array_size(arr),
	       json_array_size(arr) == 1 ? "" : "s");
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "identity", required_argument, NULL, 'u' },
		{ "since", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	const char *config = NULL, *vals[4] = { NULL };
	static const char *const keys[] = { "host", "identity", "since", "limit" };
	bool json = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "H:u:i:n:jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': vals[0] = optarg; break;
		case 'u': vals[1] = optarg; break;
		case 'i': vals[2] = optarg; break;
		case 'n': vals[3] = optarg; break;
		case 'j': json = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("session", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("session", "unexpected argument '%s'", argv[optind]);
	r = fleet_config("session", config, &cfg);
	if (r)
		return r;
	return fleet_list("session", cfg, "/v1/sessions", keys, vals, ARRAY_SIZE(keys), json,
			  print_list);
}

static void pause_for(double seconds)
{
	struct timespec ts;

	if (!(seconds > 0))
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Replays the asciicast text: the header, then each output event after its pause. */
static int play(const char *text, size_t len, double speed)
{
	size_t start = 0, lineno = 0;
	double prev = 0;

	for (size_t i = 0; i < len; i++) {
		json_t *a;
		double t;

		if (text[i] != '\n')
			continue;
		lineno++;
		a = json_loadb(text + start, i - start, JSON_ALLOW_NUL, NULL);
		start = i + 1;
		if (lineno == 1) {
			bool ok = json_integer_value(json_object_get(a, "version")) == 2;
			json_decref(a);
			if (!ok) {
				fprintf(stderr,
					"immune session: the recording is not asciicast v2\n");
				return EXIT_ERROR;
			}
			continue;
		}
		if (!json_is_array(a) || !json_is_number(json_array_get(a, 0)) ||
		    !json_is_string(json_array_get(a, 2))) {
			json_decref(a);
			fprintf(stderr,
				"immune session: line %zu of the recording is not an event\n",
				lineno);
			return EXIT_ERROR;
		}
		t = json_number_value(json_array_get(a, 0));
		if (!strcmp(json_string_value(json_array_get(a, 1)) ?: "", "o")) {
			double wait = (t - prev) / speed;
			pause_for(wait < PLAY_IDLE_MAX ? wait : PLAY_IDLE_MAX);
			fwrite(json_string_value(json_array_get(a, 2)), 1,
			       json_string_length(json_array_get(a, 2)), stdout);
			fflush(stdout);
		}
		prev = t > prev ? t : prev;
		json_decref(a);
	}
	return EXIT_OK;
}

static int cmd_play(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "speed", required_argument, NULL, 'x' },
		{ "raw", no_argument, NULL, 'r' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *config = NULL;
	struct api_error err;
	double speed = 1;
	bool raw = false;
	struct buf text;
	char *end;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "x:rS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			errno = 0;
			speed = strtod(optarg, &end);
			if (errno || *end || !(speed > 0) || speed > 1e6)
				return cli_usage_error("session",
						       "--speed must be a number above 0 (0.5, 2)");
			break;
		case 'r': raw = true; break;
		case 'S': config = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default: return cli_usage_error("session", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("session", "play needs one session ID");
	r = fleet_config("session", config, &cfg);
	if (r)
		return r;
	esc = api_escape(argv[optind]);
	path = xasprintf("/v1/sessions/%s/cast", esc);
	buf_init(&text, API_ANSWER_MAX);
	if (api_request_text(cfg, path, &text, &err) < 0) {
		fprintf(stderr, "immune session: %s\n", err.msg);
		buf_free(&text);
		return EXIT_ERROR;
	}
	if (raw) {
		fwrite(buf_str(&text), 1, buf_len(&text), stdout);
		r = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
	} else {
		r = play(buf_str(&text), buf_len(&text), speed);
	}
	buf_free(&text);
	return r;
}

int cmd_session(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		print_help();
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "play"))
		return cmd_play(argc - 1, argv + 1);
	return cli_usage_error("session", "unknown verb '%s' (list, play)", argv[1]);
}
