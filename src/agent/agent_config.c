#include "agent/agent_config.h"
#include "lib/buf.h"
#include "lib/ytree.h"

#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_SIZE (256u * 1024)

static int mkdir_parents(const char *dir)
{
	_cleanup_free_ char *copy = xstrdup(dir);
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int agent_state_init(const char *dir)
{
	struct stat st;
	if (!dir || !*dir)
		return -EINVAL;
	int r = mkdir_parents(dir);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 077) && st.st_uid == geteuid() && chmod(dir, 0700) < 0)
		return -errno;
	return 0;
}

char *agent_state_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* ---- labels ---- */

static bool label_key_ok(const char *k, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int set_label(struct agent_config *cfg, const char *key, const char *value)
{
	if (!label_key_ok(key, strlen(key)) || strlen(value) > 1024 ||
	    !str_is_text(value, strlen(value)))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_labels; i++)
		if (strcmp(cfg->labels[i].key, key) == 0) {
			free(cfg->labels[i].value);
			cfg->labels[i].value = xstrdup(value);
			return 0;
		}
	if (cfg->n_labels >= AGENT_MAX_LABELS)
		return -E2BIG;
	cfg->labels = xrealloc(cfg->labels, (cfg->n_labels + 1) * sizeof(*cfg->labels));
	cfg->labels[cfg->n_labels++] =
		(struct agent_label){ .key = xstrdup(key), .value = xstrdup(value) };
	return 0;
}

int agent_config_add_label(struct agent_config *cfg, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return -EINVAL;
	_cleanup_free_ char *key = xstrndup(kv, (size_t)(eq - kv));
	int r = set_label(cfg, key, eq + 1);
	return r == -E2BIG ? -EINVAL : r;
}

void agent_config_free(struct agent_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->host_id);
	for (size_t i = 0; i < cfg->n_labels; i++) {
		free(cfg->labels[i].key);
		free(cfg->labels[i].value);
	}
	free(cfg->labels);
	*cfg = (struct agent_config){ 0 };
}

/* ---- agent.yaml ---- */

static int config_error(char *err, size_t errsize, const char *path, const struct yerror *ye)
{
	if (ye->line)
		snprintf(err, errsize, "%s:%u:%u: %s", path, ye->line, ye->col, ye->msg);
	else
		snprintf(err, errsize, "%s: %s", path, ye->msg);
	return -EBADMSG;
}

static int parse_config(const struct ynode *root, struct agent_config *cfg, struct yerror *ye)
{
	static const char *const keys[] = { "server", "host_id", "labels", NULL };
	int r = ynode_check_keys(root, keys, "agent.yaml", ye);
	if (r < 0)
		return r;
	const struct ynode *n = ynode_get(root, "server");
	const char *s;
	if (!n)
		return yerror_at(ye, root, "missing key 'server'");
	if (!(s = ynode_as_str(n, "server", ye)))
		return -EBADMSG;
	cfg->server = xstrdup(s);
	n = ynode_get(root, "host_id");
	if (!n)
		return yerror_at(ye, root, "missing key 'host_id'");
	if (!(s = ynode_as_str(n, "host_id", ye)))
		return -EBADMSG;
	if (!*s || strlen(s) > 64)
		return yerror_at(ye, n, "host_id must hold 1 to 64 characters");
	cfg->host_id = xstrdup(s);
	n = ynode_get(root, "labels");
	if (!n)
		return 0;
	if (n->type != YNODE_MAP)
		return yerror_at(ye, n, "labels must be a map of key: value");
	for (size_t i = 0; i < n->n; i++) {
		const char *v = ynode_as_str(n->items[i], "a label value", ye);
		if (!v)
			return -EBADMSG;
		if (set_label(cfg, n->keys[i]->scalar, v) < 0)
			return yerror_at(ye, n->keys[i], "invalid label '%s'", n->keys[i]->scalar);
	}
	return 0;
}

int agent_config_load(const char *dir, struct agent_config *cfg, char *err, size_t errsize)
{
	_cleanup_free_ char *path = agent_state_path(dir, "agent.yaml");
	struct buf b = { 0 };
	int r = file_read_capped(path, CONFIG_MAX_SIZE, &b);
	if (r < 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(-r));
		return r;
	}
	struct ynode *root = NULL;
	struct yerror ye = { 0 };
	r = ytree_parse(buf_str(&b), buf_len(&b), &root, &ye);
	buf_free(&b);
	if (r < 0)
		return config_error(err, errsize, path, &ye);
	struct agent_config c = { 0 };
	r = parse_config(root, &c, &ye);
	ytree_free(root);
	if (r < 0) {
		agent_config_free(&c);
		return config_error(err, errsize, path, &ye);
	}
	*cfg = c;
	return 0;
}

/* YAML double-quoted scalars accept JSON string escapes. */
static int put_quoted(struct buf *b, const char *s)
{
	json_t *j = json_string(s);
	if (!j)
		return -EINVAL;
	_cleanup_free_ char *q = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	return q ? buf_puts(b, q) : -ENOMEM;
}

int agent_config_save(const char *dir, const struct agent_config *cfg)
{
	struct buf b;
	int r = 0;
	buf_init(&b, CONFIG_MAX_SIZE);
	r |= buf_puts(&b, "# written by immune-agent enroll\nserver: ");
	r |= put_quoted(&b, cfg->server);
	r |= buf_puts(&b, "\nhost_id: ");
	r |= put_quoted(&b, cfg->host_id);
	r |= buf_puts(&b, "\n");
	if (cfg->n_labels)
		r |= buf_puts(&b, "labels:\n");
	for (size_t i = 0; i < cfg->n_labels; i++) {
		r |= buf_puts(&b, "  ");
		r |= put_quoted(&b, cfg->labels[i].key);
		r |= buf_puts(&b, ": ");
		r |= put_quoted(&b, cfg->labels[i].value);
		r |= buf_puts(&b, "\n");
	}
	if (r) {
		buf_free(&b);
		return -EMSGSIZE;
	}
	_cleanup_free_ char *path = agent_state_path(dir, "agent.yaml");
	r = file_write_atomic(path, buf_str(&b), buf_len(&b), 0600);
	buf_free(&b);
	return r;
}

/* ---- machine id ---- */

static bool id_ok(const char *s, size_t min)
{
	size_t n = strlen(s);
	if (n < min || n > AGENT_MACHINE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int read_id(const char *path, size_t min, char *out)
{
	struct buf b = { 0 };
	int r = file_read_capped(path, 1024, &b);
	if (r < 0)
		return r;
	_cleanup_free_ char *s = buf_steal(&b);
	char *t = str_trim(s);
	str_lower(t);
	if (!id_ok(t, min))
		return -EBADMSG;
	snprintf(out, AGENT_MACHINE_ID_MAX + 1, "%s", t);
	return 0;
}

int agent_machine_id(const char *dir, const char *machine_id_file, char *out)
{
	_cleanup_free_ char *path = agent_state_path(dir, "machine-id");
	char id[AGENT_MACHINE_ID_MAX + 1];
	if (read_id(path, 1, id) == 0) {
		memcpy(out, id, sizeof(id));
		return 0;
	}
	if (!machine_id_file || read_id(machine_id_file, 32, id) < 0) {
		unsigned char rnd[16];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -EIO;
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	}
	char line[AGENT_MACHINE_ID_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", id);
	int r = file_write_atomic(path, line, (size_t)n, 0600);
	if (r < 0)
		return r;
	memcpy(out, id, sizeof(id));
	return 0;
}

int agent_split_server(const char *server, char *host, size_t hostsize, uint16_t *port)
{
	const char *colon, *h = server;
	size_t hl;
	if (!server || !*server)
		return -EINVAL;
	if (server[0] == '[') {
		const char *end = strchr(server, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		h = server + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(server, ':');
		if (!colon || strchr(server, ':') != colon)
			return -EINVAL;
		hl = (size_t)(colon - server);
	}
	uint64_t p;
	if (hl == 0 || hl >= hostsize || parse_u64(colon + 1, 10, 65535, &p) < 0 || p == 0)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}
