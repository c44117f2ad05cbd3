/* The data directory: created 0700; at first start the operator "admin" and client.yaml
 * (docs/api.md "Client configuration"). */
#include "server/server_int.h"
#include "server/access.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "store/store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

int datadir_prepare(const char *dir)
{
	_cleanup_free_ char *path = xstrdup(dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0)
		return -errno;
	return 0;
}

/* The host part of "ADDR:PORT" for others to dial: wildcards become fallback. */
static char *dial_host(const char *addr, const char *fallback)
{
	const char *colon = strrchr(addr, ':');
	_cleanup_free_ char *host = xstrndup(addr, colon ? (size_t)(colon - addr) : strlen(addr));
	if (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") || !strcmp(host, "::"))
		return xstrdup(fallback);
	char *r = host;
	host = NULL;
	return r;
}

static int write_client_yaml(struct server *s, const char *path, const char *token)
{
	const char *first_name = s->opt.names && s->opt.names[0] ? s->opt.names[0] : "127.0.0.1";
	_cleanup_free_ char *api = dial_host(s->opt.api_addr, "127.0.0.1");
	_cleanup_free_ char *agents = dial_host(s->opt.listen_addr, first_name);
	_cleanup_free_ char *abs = realpath(s->data_dir, NULL);
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b,
		   "# written by immune-server at first start; keep it secret (operator token)\n"
		   "api: https://%s:%u\nagents: %s:%u\nca: %s/ca.crt\ntoken: %s\noperator: admin\n",
		   api, s->api_port, agents, s->agent_port, abs ? abs : s->data_dir, token);
	int r = file_write_atomic(path, buf_str(&b), buf_len(&b), 0600);
	buf_free_secret(&b);
	return r;
}

int datadir_first_start(struct server *s, bool *created)
{
	_cleanup_free_ char *path = xasprintf("%s/client.yaml", s->data_dir);
	if (access(path, F_OK) == 0) {
		*created = false;
		return 0;
	}
	unsigned char raw[32], hash[32];
	char token[65];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	EVP_Digest(token, 64, hash, NULL, EVP_sha256(), NULL);
	int r = store_operator_put(s->store, "admin", "admin", hash);
	if (r == 0)
		r = access_identity_first_admin(s);
	if (r == 0)
		r = write_client_yaml(s, path, token);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(token, sizeof(token));
	if (r == 0)
		*created = true;
	return r;
}
