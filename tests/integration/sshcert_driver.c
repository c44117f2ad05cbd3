/* Drives src/access/sshcert.c and krl.c for tests/integration/sshcert_openssh.sh:
 *   sshcert_driver ca-create PEM
 *   sshcert_driver ca-pub PEM                      prints "ssh-ed25519 BASE64 immune-ca"
 *   sshcert_driver sign PEM PUBKEYFILE SERIAL KEYID PRINCIPALS VALID_AFTER VALID_BEFORE
 *                  [source=ADDRS] [force=COMMAND] [pty] [ext=NAME=VALUE]
 *                                                  prints the certificate line
 *   sshcert_driver parse CERTFILE                  prints the decoded fields, one per line
 *   sshcert_driver krl PEM OUT [serial...] [id=KEYID...]
 *   sshcert_driver krl-dump KRLFILE                prints what krl_parse read
 * PRINCIPALS is comma-separated; times are Unix seconds. Exit 0, or 1 with a message. */
#include "access/sshcert.h"

#include "lib/fileio.h"

#include <inttypes.h>

static int fail(const char *what, int r)
{
	fprintf(stderr, "sshcert_driver: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return 1;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end ? -EINVAL : 0;
}

static int cmd_ca(int argc, char **argv, bool print)
{
	struct ssh_ed25519_key pub;
	void *ca;

	if (argc != 3)
		return fail("usage: ca-create|ca-pub PEM", EINVAL);
	ca = sshcert_ca_load_or_create(argv[2]);
	if (!ca)
		return fail(argv[2], errno);
	if (print) {
		_cleanup_free_ char *line = NULL;
		if (sshcert_ca_public(ca, &pub) < 0)
			return fail("ca public key", EINVAL);
		line = ssh_ed25519_key_line(&pub, "immune-ca");
		printf("%s\n", line);
	}
	sshcert_ca_free(ca);
	return 0;
}

#define MAX_EXTRA 8

static int cmd_sign(int argc, char **argv)
{
	struct sshcert_request req = { 0 };
	struct sshcert_extension extra[MAX_EXTRA];
	const char *principals[SSHCERT_MAX_PRINCIPALS];
	struct buf text, cert;
	char *save = NULL;
	void *ca;
	int r;

	if (argc < 9)
		return fail("usage: sign PEM PUBKEYFILE SERIAL KEYID PRINCIPALS AFTER BEFORE [..]",
			    EINVAL);
	buf_init(&text, 65536);
	r = file_read_capped(argv[3], 65536, &text);
	if (r < 0)
		return fail(argv[3], r);
	r = ssh_ed25519_key_parse_line(buf_str(&text), &req.key);
	if (r < 0)
		return fail("public key", r);
	if (parse_u64(argv[4], &req.serial) < 0 || parse_u64(argv[7], &req.valid_after) < 0 ||
	    parse_u64(argv[8], &req.valid_before) < 0)
		return fail("serial or time", EINVAL);
	req.key_id = argv[5];
	for (char *p = strtok_r(argv[6], ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (req.n_principals == SSHCERT_MAX_PRINCIPALS)
			return fail("principals", E2BIG);
		principals[req.n_principals++] = p;
	}
	req.principals = principals;
	for (int i = 9; i < argc; i++) {
		if (strncmp(argv[i], "source=", 7) == 0)
			req.source_address = argv[i] + 7;
		else if (strncmp(argv[i], "force=", 6) == 0)
			req.force_command = argv[i] + 6;
		else if (strcmp(argv[i], "pty") == 0)
			req.permit_pty = true;
		else if (strncmp(argv[i], "ext=", 4) == 0 && req.n_extra < MAX_EXTRA) {
			char *name = argv[i] + 4, *eq = strchr(name, '=');
			struct sshcert_extension *e = &extra[req.n_extra++];
			e->name = name;
			e->data = NULL;
			e->len = 0;
			if (eq) {
				*eq = 0;
				e->data = (const unsigned char *)eq + 1;
				e->len = strlen(eq + 1);
			}
		} else
			return fail(argv[i], EINVAL);
	}
	req.extra = extra;
	ca = sshcert_ca_load_or_create(argv[2]);
	if (!ca)
		return fail(argv[2], errno);
	buf_init(&cert, SSHCERT_BLOB_MAX);
	r = sshcert_sign(&req, ca, &cert);
	sshcert_ca_free(ca);
	if (r < 0)
		return fail("sign", r);
	_cleanup_free_ char *line = sshcert_line(buf_str(&cert), buf_len(&cert), req.key_id);
	printf("%s\n", line);
	buf_free(&cert);
	buf_free(&text);
	return 0;
}

static int cmd_parse(int argc, char **argv)
{
	struct buf text, blob;
	struct sshcert c;
	int r;

	if (argc != 3)
		return fail("usage: parse CERTFILE", EINVAL);
	buf_init(&text, 65536);
	buf_init(&blob, SSHCERT_BLOB_MAX);
	r = file_read_capped(argv[2], 65536, &text);
	if (r == 0)
		r = sshcert_blob_from_base64(buf_str(&text), &blob);
	if (r == 0)
		r = sshcert_parse(buf_str(&blob), buf_len(&blob), &c);
	if (r < 0)
		return fail(argv[2], r);
	printf("serial %" PRIu64 "\nkey_id %s\n", c.serial, c.key_id);
	for (size_t i = 0; i < c.n_principals; i++)
		printf("principal %s\n", c.principals[i]);
	printf("valid %" PRIu64 " %" PRIu64 "\n", c.valid_after, c.valid_before);
	if (c.force_command)
		printf("force-command %s\n", c.force_command);
	if (c.source_address)
		printf("source-address %s\n", c.source_address);
	for (size_t i = 0; i < c.n_extensions; i++)
		printf("extension %s\n", c.extensions[i].name);
	printf("signature %s\n", c.signature_valid ? "valid" : "invalid");
	sshcert_free(&c);
	buf_free(&blob);
	buf_free(&text);
	return 0;
}

#define MAX_KRL_ARGS 1024

static int cmd_krl(int argc, char **argv)
{
	uint64_t serials[MAX_KRL_ARGS];
	const char *ids[MAX_KRL_ARGS];
	size_t ns = 0, ni = 0;
	struct ssh_ed25519_key pub;
	struct buf out;
	void *ca;
	int r;

	if (argc < 4 || argc - 4 > MAX_KRL_ARGS)
		return fail("usage: krl PEM OUT [serial...] [id=KEYID...]", EINVAL);
	for (int i = 4; i < argc; i++) {
		if (strncmp(argv[i], "id=", 3) == 0)
			ids[ni++] = argv[i] + 3;
		else if (parse_u64(argv[i], &serials[ns++]) < 0)
			return fail(argv[i], EINVAL);
	}
	ca = sshcert_ca_load_or_create(argv[2]);
	if (!ca)
		return fail(argv[2], errno);
	r = sshcert_ca_public(ca, &pub);
	sshcert_ca_free(ca);
	if (r < 0)
		return fail("ca public key", r);
	buf_init(&out, KRL_MAX_BYTES);
	r = krl_build(&pub, serials, ns, ids, ni, 1, 1700000000, &out);
	if (r == 0)
		r = file_write_atomic(argv[3], buf_str(&out), buf_len(&out), 0644);
	buf_free(&out);
	return r < 0 ? fail("krl", r) : 0;
}

static int cmd_krl_dump(int argc, char **argv)
{
	struct buf data;
	struct krl k;
	int r;

	if (argc != 3)
		return fail("usage: krl-dump KRLFILE", EINVAL);
	buf_init(&data, KRL_MAX_BYTES);
	r = file_read_capped(argv[2], KRL_MAX_BYTES, &data);
	if (r == 0)
		r = krl_parse(buf_str(&data), buf_len(&data), &k);
	buf_free(&data);
	if (r < 0)
		return fail(argv[2], r);
	printf("version %" PRIu64 "\ncomment %s\n", k.version, k.comment);
	for (size_t i = 0; i < k.n_cas; i++) {
		const struct krl_ca *ca = &k.cas[i];
		_cleanup_free_ char *line =
			ca->any_ca ? NULL : ssh_ed25519_key_line(&ca->key, NULL);

		printf("ca %s\n", ca->any_ca ? "any" : line);
		for (size_t j = 0; j < ca->n_serials; j++)
			printf("serials %" PRIu64 "-%" PRIu64 "\n", ca->serials[j].lo,
			       ca->serials[j].hi);
		for (size_t j = 0; j < ca->n_key_ids; j++)
			printf("key_id %s\n", ca->key_ids[j]);
	}
	printf("skipped %zu\n", k.n_skipped);
	krl_free(&k);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fail("usage: ca-create|ca-pub|sign|parse|krl|krl-dump ...", EINVAL);
	if (strcmp(argv[1], "ca-create") == 0)
		return cmd_ca(argc, argv, false);
	if (strcmp(argv[1], "ca-pub") == 0)
		return cmd_ca(argc, argv, true);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	if (strcmp(argv[1], "parse") == 0)
		return cmd_parse(argc, argv);
	if (strcmp(argv[1], "krl") == 0)
		return cmd_krl(argc, argv);
	if (strcmp(argv[1], "krl-dump") == 0)
		return cmd_krl_dump(argc, argv);
	return fail(argv[1], EINVAL);
}
