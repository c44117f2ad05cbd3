/* immune ssh [options] [ACCOUNT@]HOST [-- SSH-ARGS...]
 * Logs in with a short-lived SSH certificate (docs/access.md "Certificates"): a fresh
 * Ed25519 key in a private temporary directory, the server's certificate for it (when
 * policy allows), then the system ssh as a child; the directory goes when ssh exits. */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY_MAX (16u * 1024)
#define SSH_ARGS_MAX 64

static void print_help(void)
{
	printf("usage: immune ssh [--print] [--json] [--port N] [--lifetime S] [--port-forward]\n"
	       "                  [--ssh PATH] [--ssh-keygen PATH] [ACCOUNT@]HOST [-- "
	       "SSH-ARGS...]\n\n"
	       "Logs in to HOST as ACCOUNT (default: your identity's name) with a certificate the\n"
	       "server signs for a key made for this login only. Policy decides; a just-in-time\n"
	       "grant ('immune access request') may be needed. The certificate is valid for\n"
	       "minutes, from this address only.\n\n"
	       "  --print              print the certificate instead of logging in\n"
	       "  --json               with --print: the server's whole answer\n"
	       "  --port N             the host's SSH port (default: ssh's)\n"
	       "  --lifetime S         certificate lifetime in seconds (default 300, at most "
	       "3600)\n"
	       "  --port-forward       ask for port forwarding (granted when policy permits it)\n"
	       "  --ssh PATH           the ssh program (default: ssh on PATH)\n"
	       "  --ssh-keygen PATH    the ssh-keygen program (default: ssh-keygen on PATH)\n"
	       "  --server-config FILE the client configuration\n\n"
	       "SSH-ARGS after -- go to ssh: options first (-o Name=value, -L ...), then a remote\n"
	       "command.\n\n"
	       "Exit status: ssh's own; 1 when the login is denied; 2 usage or runtime error.\n");
}

/* Runs argv as a child and waits. Returns its exit status, 128+signal, or -errno. */
static int run(char *const *argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "immune ssh: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

struct tmpdir {
	char dir[256];
	char key[300], pub[300], cert[300];
	bool made;
};

static void tmpdir_remove(struct tmpdir *t)
{
	if (!t->made)
		return;
	unlink(t->cert);
	unlink(t->pub);
	unlink(t->key);
	rmdir(t->dir);
	t->made = false;
}

/* The directory to remove when a signal ends the command (a signal flag's kin: the only
 * state a handler may reach). */
static struct tmpdir *volatile signal_tmpdir;

static void on_signal(int sig)
{
	struct tmpdir *t = signal_tmpdir;

	if (t && t->made) { /* unlink and rmdir are async-signal-safe */
		unlink(t->cert);
		unlink(t->pub);
		unlink(t->key);
		rmdir(t->dir);
	}
	_exit(128 + sig);
}

static void signals_catch(struct tmpdir *t)
{
	struct sigaction sa = { .sa_handler = on_signal };

	signal_tmpdir = t;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int tmpdir_make(struct tmpdir *t)
{
	const char *base = getenv("TMPDIR");

	if (!base || base[0] != '/' || strlen(base) > 200)
		base = "/tmp";
	snprintf(t->dir, sizeof(t->dir), "%s/immune-ssh-XXXXXX", base);
	if (!mkdtemp(t->dir)) /* mode 0700 */
		return -errno;
	t->made = true;
	snprintf(t->key, sizeof(t->key), "%s/key", t->dir);
	snprintf(t->pub, sizeof(t->pub), "%s/key.pub", t->dir);
	snprintf(t->cert, sizeof(t->cert), "%s/key-cert.pub", t->dir);
	return 0;
}

/* Options of ssh that take a value (ssh(1)). */
static bool ssh_opt_takes_value(const char *a)
{
	return a[0] == '-' && a[1] && !a[2] && strchr("BbcDEeFIiJLlmOopQRSWw", a[1]);
}

struct opts {
	const char *config, *ssh, *keygen, *target;
	bool print, json, port_forward;
	int64_t port, lifetime;
	char **extra;
	int n_extra;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "print", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "port", required_argument, NULL, 'p' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "port-forward", no_argument, NULL, 'F' },
		{ "ssh", required_argument, NULL, 's' },
		{ "ssh-keygen", required_argument, NULL, 'k' },
		{ "server-config", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, dd = argc;

	memset(o, 0, sizeof(*o));
	o->ssh = "ssh";
	o->keygen = "ssh-keygen";
	for (int i = 1; i < argc; i++) /* what follows the first -- belongs to ssh */
		if (!strcmp(argv[i], "--")) {
			dd = i;
			break;
		}
	optind = 1;
	while ((c = getopt_long(dd, argv, "Pjp:l:Fs:k:S:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P': o->print = true; break;
		case 'j': o->json = true; break;
		case 'p':
			if (parse_i64(optarg, 1, 65535, &o->port) < 0)
				return cli_usage_error("ssh", "--port '%s': a port 1-65535",
						       optarg);
			break;
		case 'l':
			if (parse_i64(optarg, 1, 3600, &o->lifetime) < 0)
				return cli_usage_error(
					"ssh", "--lifetime '%s': seconds from 1 to 3600", optarg);
			break;
		case 'F': o->port_forward = true; break;
		case 's': o->ssh = optarg; break;
		case 'k': o->keygen = optarg; break;
		case 'S': o->config = optarg; break;
		case 'h': print_help(); return -1;
		default: return cli_usage_error("ssh", "invalid option");
		}
	}
	if (optind >= dd)
		return cli_usage_error("ssh", "missing [ACCOUNT@]HOST");
	o->target = argv[optind++];
	if (optind < dd)
		return cli_usage_error("ssh",
				       "unexpected argument '%s' (ssh arguments go after --)",
				       argv[optind]);
	o->extra = argv + (dd < argc ? dd + 1 : argc);
	o->n_extra = dd < argc ? argc - dd - 1 : 0;
	if (o->n_extra > SSH_ARGS_MAX)
		return cli_usage_error("ssh", "too many ssh arguments");
	if (o->json && !o->print)
		return cli_usage_error("ssh", "--json needs --print");
	return 0;
}

/* Asks the server for the certificate. Returns 0 with *ans, EXIT_FINDINGS when denied, or
 * EXIT_ERROR (both after saying why). */
static int ask(const struct opts *o, const char *account, const char *host, const char *pub,
	       json_t **ans)
{
	_cleanup_(api_config_freep) struct api_config *cfg = NULL;
	struct api_error err;
	json_t *body;
	int r;

	r = fleet_config("ssh", o->config, &cfg);
	if (r)
		return r;
	body = json_pack("{s:s,s:s,s:b}", "host", host, "public_key", pub, "port_forward",
			 o->port_forward);
	if (account)
		json_object_set_new(body, "account", json_string(account));
	if (o->lifetime)
		json_object_set_new(body, "lifetime", json_integer(o->lifetime));
	r = api_request(cfg, "POST", "/v1/ssh/certificates", body, ans, &err);
	json_decref(body);
	if (r == 0)
		return 0;
	if (err.status == 403) {
		fprintf(stderr, "immune ssh: denied: %s\n", err.msg);
		return EXIT_FINDINGS;
	}
	fprintf(stderr, "immune ssh: %s\n", err.msg);
	return EXIT_ERROR;
}

static int login(const struct opts *o, const struct tmpdir *t, const char *dest)
{
	char *argv[SSH_ARGS_MAX + 16];
	_cleanup_free_ char *certopt = xasprintf("CertificateFile=%s", t->cert);
	char port[16];
	int n = 0, i = 0, r;

	argv[n++] = (char *)o->ssh;
	argv[n++] = "-i";
	argv[n++] = (char *)t->key;
	argv[n++] = "-o";
	argv[n++] = certopt;
	argv[n++] = "-o";
	argv[n++] = "IdentitiesOnly=yes";
	if (o->port) {
		snprintf(port, sizeof(port), "%lld", (long long)o->port);
		argv[n++] = "-p";
		argv[n++] = port;
	}
	/* ssh options first, then the destination, then the remote command */
	while (i < o->n_extra && o->extra[i][0] == '-') {
		argv[n++] = o->extra[i];
		if (ssh_opt_takes_value(o->extra[i]) && i + 1 < o->n_extra)
			argv[n++] = o->extra[++i];
		i++;
	}
	argv[n++] = "--";
	argv[n++] = (char *)dest;
	while (i < o->n_extra)
		argv[n++] = o->extra[i++];
	argv[n] = NULL;

	signal(SIGINT, SIG_IGN); /* ssh gets them; the directory must still go */
	signal(SIGQUIT, SIG_IGN);
	r = run(argv);
	signals_catch((struct tmpdir *)t);
	signal(SIGQUIT, SIG_DFL);
	if (r < 0) {
		fprintf(stderr, "immune ssh: cannot run %s: %s\n", o->ssh, strerror(-r));
		return EXIT_ERROR;
	}
	return r;
}

int cmd_ssh(int argc, char **argv)
{
	struct opts o;
	struct tmpdir t = { 0 };
	struct buf pub;
	json_t *ans = NULL;
	_cleanup_free_ char *account = NULL, *dest = NULL;
	const char *host, *at, *cert, *addr;
	int r;

	r = parse(argc, argv, &o);
	if (r)
		return r < 0 ? EXIT_OK : r;
	at = strrchr(o.target, '@');
	if (at) {
		account = xstrndup(o.target, (size_t)(at - o.target));
		host = at + 1;
		if (!*account)
			return cli_usage_error("ssh", "empty account in '%s'", o.target);
	} else {
		host = o.target;
	}
	if (!*host || host[0] == '-')
		return cli_usage_error("ssh", "'%s' is not a host", o.target);

	buf_init(&pub, KEY_MAX);
	signals_catch(&t); /* from now on no key is left behind */
	if ((r = tmpdir_make(&t)) < 0) {
		fprintf(stderr, "immune ssh: cannot make a temporary directory: %s\n",
			strerror(-r));
		r = EXIT_ERROR;
		goto out;
	}
	{
		char *kg[] = { (char *)o.keygen, "-t", "ed25519", "-N", "", "-q", "-C",
			       "immune-ssh",	 "-f", t.key,	  NULL };
		r = run(kg);
		if (r != 0) {
			fprintf(stderr, "immune ssh: %s could not make a key (status %d)\n",
				o.keygen, r);
			r = EXIT_ERROR;
			goto out;
		}
	}
	if ((r = file_read_capped(t.pub, KEY_MAX, &pub)) < 0) {
		fprintf(stderr, "immune ssh: cannot read %s: %s\n", t.pub, strerror(-r));
		r = EXIT_ERROR;
		goto out;
	}
	r = ask(&o, account, host, str_trim((char *)buf_str(&pub)), &ans);
	if (r)
		goto out;
	cert = json_string_value(json_object_get(ans, "certificate"));
	addr = json_string_value(json_object_get(ans, "address"));
	if (!cert || !addr) {
		fprintf(stderr, "immune ssh: the server's answer has no certificate\n");
		r = EXIT_ERROR;
		goto out;
	}
	if (o.print) {
		r = o.json ? fleet_print_json(ans) : (printf("%s\n", cert) < 0 ? EXIT_ERROR : 0);
		goto out;
	}
	{
		_cleanup_free_ char *line = xasprintf("%s\n", cert);
		if ((r = file_write_atomic(t.cert, line, strlen(line), 0600)) < 0) {
			fprintf(stderr, "immune ssh: cannot write %s: %s\n", t.cert, strerror(-r));
			r = EXIT_ERROR;
			goto out;
		}
	}
	{
		const json_t *pr = json_array_get(json_object_get(ans, "principals"), 0);
		const char *acct = account ? account : json_string_value(pr);
		dest = acct ? xasprintf("%s@%s", acct, addr) : xstrdup(addr);
	}
	r = login(&o, &t, dest);
out:
	tmpdir_remove(&t);
	signal_tmpdir = NULL;
	buf_free(&pub);
	json_decref(ans);
	return r;
}
