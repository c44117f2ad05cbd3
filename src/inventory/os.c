/* The os table: /etc/os-release (or /usr/lib/os-release), the running kernel, the host name. */
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>
#include <sys/utsname.h>
#include <unistd.h>

#define OS_RELEASE_MAX (64 * 1024)

/* Removes one level of shell-style quoting from an os-release value, in place. */
static char *unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	char *w = v;
	for (char *r = v; *r; r++) {
		if (*r == '\\' && r[1])
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return v;
}

static const char *family_of(const char *id, const char *id_like)
{
	static const struct {
		const char *word, *family;
	} map[] = {
		{ "debian", "debian" },	 { "ubuntu", "debian" }, { "rhel", "rhel" },
		{ "fedora", "rhel" },	 { "centos", "rhel" },	 { "rocky", "rhel" },
		{ "almalinux", "rhel" }, { "ol", "rhel" },	 { "suse", "suse" },
		{ "sles", "suse" },	 { "opensuse", "suse" }, { "alpine", "alpine" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if ((id && str_case_eq(id, map[i].word)) ||
		    (id_like && str_list_has(id_like, map[i].word, " ", true)))
			return map[i].family;
	return "unknown";
}

static void parse_os_release(json_t *row, const char *text)
{
	static const struct {
		const char *var, *column;
	} vars[] = {
		{ "ID", "id" },
		{ "ID_LIKE", "id_like" },
		{ "VERSION_ID", "version_id" },
		{ "NAME", "name" },
		{ "PRETTY_NAME", "pretty_name" },
	};
	struct cursor c;
	const char *line;
	size_t len;

	cursor_init(&c, text, strlen(text));
	while (cursor_get_line(&c, &line, &len) > 0) {
		_cleanup_free_ char *copy = xstrndup(line, len);
		char *eq = strchr(copy, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *key = str_trim(copy), *val = unquote(str_trim(eq + 1));
		for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
			if (strcmp(key, vars[i].var) == 0 && str_is_text(val, strlen(val)))
				inv_set_str(row, vars[i].column, val);
	}
}

static void set_version_major(json_t *row)
{
	const char *v = json_string_value(json_object_get(row, "version_id"));
	int64_t major;
	if (!v)
		return;
	_cleanup_free_ char *head = xstrndup(v, strspn(v, "0123456789"));
	if (parse_i64(head, 0, INT32_MAX, &major) == 0)
		inv_set_int(row, "version_major", major);
}

static void set_hostname(struct inv_ctx *ctx, json_t *row)
{
	struct buf b = { 0 };
	buf_init(&b, 4096);
	if (fsroot_read(ctx->root, "/etc/hostname", 4096, &b) == 0) {
		_cleanup_free_ char *s = buf_steal(&b);
		char *name = str_trim(s);
		if (*name && str_is_text(name, strlen(name))) {
			inv_set_str(row, "hostname", name);
			return;
		}
	}
	buf_free(&b);
	char host[256];
	if (fsroot_is_host(ctx->root) && gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		inv_set_str(row, "hostname", host);
	}
}

void collect_os(struct inv_ctx *ctx)
{
	static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
	json_t *row = inv_row(ctx, "os");
	struct buf b;
	int r = -ENOENT;

	for (size_t i = 0; i < ARRAY_SIZE(paths) && r == -ENOENT; i++) {
		buf_init(&b, OS_RELEASE_MAX);
		r = fsroot_read(ctx->root, paths[i], OS_RELEASE_MAX, &b);
		if (r == 0)
			parse_os_release(row, buf_str(&b));
		else if (r != -ENOENT)
			inv_error(ctx, "os", paths[i], r, "reading os-release");
		buf_free(&b);
	}
	set_version_major(row);
	inv_set_str(row, "family",
		    family_of(json_string_value(json_object_get(row, "id")),
			      json_string_value(json_object_get(row, "id_like"))));

	struct utsname u;
	if (fsroot_is_host(ctx->root) && uname(&u) == 0) {
		inv_set_str(row, "kernel_release", u.release);
		inv_set_str(row, "kernel_version", u.version);
		inv_set_str(row, "arch", u.machine);
	}
	set_hostname(ctx, row);
}
