/* Fuzzes the OpenSSH certificate decoder on raw blobs, and the text forms: certificate lines
 * or bare base64 (what sshd passes as %k) and public key lines. Whatever decodes must hold
 * the decoder's promises; a key line that parses formats back to a line that parses alike. */
#include "access/sshcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cert(const void *blob, size_t len)
{
	struct sshcert c;

	if (sshcert_parse(blob, len, &c) != 0)
		return;
	if (c.n_principals > SSHCERT_MAX_PRINCIPALS || c.n_extensions > SSHCERT_MAX_EXTENSIONS ||
	    strlen(c.key_id) > SSHCERT_KEY_ID_MAX || (c.type != 1 && c.type != 2))
		abort();
	for (size_t i = 0; i < c.n_principals; i++)
		if (strlen(c.principals[i]) > SSHCERT_STRING_MAX)
			abort();
	for (size_t i = 0; i < c.n_extensions; i++) {
		if (i > 0 && strcmp(c.extensions[i - 1].name, c.extensions[i].name) >= 0)
			abort();
		if (sshcert_extension(&c, c.extensions[i].name) != &c.extensions[i])
			abort();
	}
	sshcert_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = xstrndup((const char *)data, size);
	struct ssh_ed25519_key k, again;
	struct buf blob;

	check_cert(data, size);

	buf_init(&blob, SSHCERT_BLOB_MAX);
	if (sshcert_blob_from_base64(text, &blob) == 0) {
		if (buf_len(&blob) == 0 || buf_len(&blob) > SSHCERT_BLOB_MAX)
			abort();
		check_cert(buf_str(&blob), buf_len(&blob));
	}
	buf_free(&blob);

	if (ssh_ed25519_key_parse_line(text, &k) == 0) {
		_cleanup_free_ char *line = ssh_ed25519_key_line(&k, "c");
		if (!line || ssh_ed25519_key_parse_line(line, &again) != 0 ||
		    memcmp(k.pub, again.pub, sizeof(k.pub)) != 0)
			abort();
	}
	return 0;
}
