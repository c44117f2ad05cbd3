/* Test driver for the agent's access role (src/agent/access.c) without the rest of the agent:
 *
 *   access_driver ca-pub CA.pem             prints the CA's "ssh-ed25519 ..." line (the key
 *                                           is created when missing)
 *   access_driver sign CA.pem USER.pub SERIAL KEY_ID ACCOUNT IDENTITY_JSON [FORCE_COMMAND]
 *                                           prints a user certificate line, valid from a
 *                                           minute ago for 10 minutes
 *   access_driver register STATE PID IDENTITY SESSION_ID
 *                                           access_session_register(); exit 0 or 1
 *   access_driver run STATE AGENT_YAML HOST_ID [LABEL=VALUE...]
 *                                           starts the role and reads commands, one a line:
 *       alert LEVEL          an alert of that Sigma level (low .. critical) raised now
 *       posture N            the latest scan's score
 *       reload               the bundle in STATE/access changed
 *       revoke IDENTITY SERIALS ACCOUNTS   access-revoke ("-" for an empty list; lists
 *                                          comma-separated)
 *       records              prints the records waiting, one JSON line each, then "end"
 *       quit
 *     and answers each with "ok" (or "error ..."). Revocation's actions run here at once
 *     through the executor's implementations (act_lookup) and print "action KIND STATUS
 *     MESSAGE". */
#include "agent/access.h"
#include "lib/log.h"
#include "respond/act.h"

#include <time.h>
#include <unistd.h>

static int ca_pub(const char *pem)
{
	void *ca = sshcert_ca_load_or_create(pem);
	struct ssh_ed25519_key k;
	if (!ca || sshcert_ca_public(ca, &k) < 0)
		return 1;
	char *line = ssh_ed25519_key_line(&k, "immune-test-ca");
	printf("%s\n", line);
	free(line);
	sshcert_ca_free(ca);
	return 0;
}

static int sign(char **argv)
{
	void *ca = sshcert_ca_load_or_create(argv[0]);
	struct buf pub = { 0 }, out = { 0 };
	buf_init(&pub, 16384);
	buf_init(&out, 65536);
	struct sshcert_request req = { 0 };
	uint64_t serial;
	if (!ca || file_read_capped(argv[1], 16384, &pub) < 0 ||
	    ssh_ed25519_key_parse_line(buf_str(&pub), &req.key) < 0 ||
	    parse_u64(argv[2], 10, UINT64_MAX, &serial) < 0) {
		fprintf(stderr, "sign: bad CA, key or serial\n");
		return 1;
	}
	const char *principals[] = { argv[4] };
	struct sshcert_extension ext = { .name = ACCESS_IDENTITY_EXT,
					 .data = (const unsigned char *)argv[5],
					 .len = strlen(argv[5]) };
	uint64_t now = (uint64_t)time(NULL);
	req.serial = serial;
	req.key_id = argv[3];
	req.principals = principals;
	req.n_principals = 1;
	req.valid_after = now - 60;
	req.valid_before = now + 600;
	req.permit_pty = true;
	req.extra = &ext;
	req.n_extra = 1;
	req.force_command = argv[6]; /* NULL when not given */
	int r = sshcert_sign(&req, ca, &out);
	if (r < 0) {
		fprintf(stderr, "sign: %s\n", strerror(-r));
		return 1;
	}
	char *line = sshcert_line(buf_str(&out), buf_len(&out), "test");
	printf("%s\n", line);
	free(line);
	buf_free(&pub);
	buf_free(&out);
	sshcert_ca_free(ca);
	return 0;
}

struct drv {
	struct access *ac;
	const char *state;
};

static void act(void *arg, const Action *a)
{
	struct drv *d = arg;
	const struct act_ops *ops = act_lookup(a->kind);
	char uid[ACTION_UID_LEN + 1];
	action_new_uid(uid);
	struct act_ctx ctx = { .state_dir = d->state, .uid = uid };
	struct act_result res = { 0 };
	json_t *undo = NULL;
	enum act_status st = ops ? ops->apply(&ctx, a, &undo, &res) : ACT_REFUSED;
	printf("action %s %d %s\n", action_kind_name(a->kind), (int)st, res.message);
	fflush(stdout);
	json_decref(undo);
	json_decref(res.detail);
}

static strv split_list(const char *s)
{
	return strcmp(s, "-") ? str_split(s, ",") : str_split("", ",");
}

static void do_revoke(struct drv *d, char *args)
{
	_cleanup_strv_ strv w = str_split(args, " ");
	if (strv_len(w) != 3) {
		printf("error revoke IDENTITY SERIALS ACCOUNTS\n");
		return;
	}
	_cleanup_strv_ strv serials = split_list(w[1]);
	_cleanup_strv_ strv accounts = split_list(w[2]);
	Immune__V1__AccessRevoke rv = IMMUNE__V1__ACCESS_REVOKE__INIT;
	uint64_t nums[64];
	rv.identity = w[0];
	for (size_t i = 0; serials[i] && i < 64; i++)
		if (parse_u64(serials[i], 10, UINT64_MAX, &nums[rv.n_serials]) == 0)
			rv.n_serials++;
	rv.serials = nums;
	rv.accounts = accounts;
	rv.n_accounts = strv_len(accounts);
	int r = access_revoke(d->ac, &rv);
	printf(r == 0 ? "ok\n" : "error %d\n", r);
}

static void records(struct drv *d)
{
	struct agent_records recs = { 0 };
	access_take(d->ac, &recs);
	for (size_t i = 0; i < recs.n; i++)
		printf("%.*s\n", (int)recs.v[i].len, (const char *)recs.v[i].payload);
	agent_records_free(&recs);
	printf("end\n");
}

static int level_of(const char *s)
{
	static const char *const names[] = { "informational", "low", "medium", "high", "critical" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]))
			return (int)i + 1;
	return 0;
}

static int run(int argc, char **argv)
{
	struct agent_yaml y;
	struct agent_config cfg = { .host_id = argv[2] };
	char err[1024];
	if (agent_yaml_load(argv[1], &y, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 3; i < argc; i++)
		agent_config_add_label(&cfg, argv[i]);
	struct drv d = { .state = argv[0] };
	struct access_options o = { .state_dir = argv[0],
				    .cfg = &cfg,
				    .yaml = &y.access,
				    .hostname = "access-test-host",
				    .act = act,
				    .act_arg = &d };
	if (access_start(&o, NULL, NULL, &d.ac, err, sizeof(err)) < 0) {
		fprintf(stderr, "access_start: %s\n", err);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char line[4096];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		int64_t n;
		if (!strncmp(line, "alert ", 6) && level_of(line + 6)) {
			access_alert(d.ac, level_of(line + 6), agent_now_ns());
			printf("ok\n");
		} else if (!strncmp(line, "posture ", 8) && parse_i64(line + 8, -1, 100, &n) == 0) {
			access_set_posture(d.ac, (int)n);
			printf("ok\n");
		} else if (!strcmp(line, "reload")) {
			access_bundle_changed(d.ac);
			usleep(300000); /* the access thread reloads */
			printf("ok\n");
		} else if (!strncmp(line, "revoke ", 7)) {
			do_revoke(&d, line + 7);
		} else if (!strcmp(line, "records")) {
			records(&d);
		} else if (!strcmp(line, "status")) {
			json_t *s = access_status(d.ac);
			char *t = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
			printf("%s\n", t);
			free(t);
			json_decref(s);
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			printf("error unknown command\n");
		}
		fflush(stdout);
	}
	access_free(d.ac);
	for (size_t i = 0; i < cfg.n_labels; i++) {
		free(cfg.labels[i].key);
		free(cfg.labels[i].value);
	}
	free(cfg.labels);
	agent_yaml_free(&y);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "ca-pub"))
		return ca_pub(argv[2]);
	if ((argc == 8 || argc == 9) && !strcmp(argv[1], "sign"))
		return sign(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "register")) {
		int64_t pid;
		if (parse_i64(argv[3], 2, INT32_MAX, &pid) < 0)
			return 2;
		int r = access_session_register(argv[2], (pid_t)pid, argv[4], argv[5]);
		if (r < 0)
			fprintf(stderr, "register: %s\n", strerror(-r));
		return r < 0 ? 1 : 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "run"))
		return run(argc - 2, argv + 2);
	fprintf(stderr, "usage: access_driver ca-pub|sign|register|run ...\n");
	return 2;
}
