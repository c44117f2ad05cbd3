/* The users, shadow, groups and duplicates tables: /etc/passwd, /etc/shadow, /etc/group and
 * /etc/gshadow. Password hashes never leave this file: only their state and algorithm do, and
 * every copy of shadow text is wiped before it is freed. */
#include "inventory/collectors.h"
#include "lib/str.h"

#include <openssl/crypto.h>
#include <sys/stat.h>
#include <time.h>

#define ACCOUNTS_FILE_MAX (4 * 1024 * 1024)
#define UID_MIN_DEFAULT 1000
#define MAX_FIELDS 9

/* One line split at ':' in place. n counts every field, even those past MAX_FIELDS. */
struct fields {
	char *f[MAX_FIELDS];
	size_t n;
};

static void split_fields(char *s, struct fields *out)
{
	out->n = 0;
	for (;;) {
		char *colon = strchr(s, ':');
		if (out->n < MAX_FIELDS)
			out->f[out->n] = s;
		out->n++;
		if (!colon)
			break;
		*colon = '\0';
		s = colon + 1;
	}
}

/* Reads a whole database file. Returns 0, 1 when the file is absent, or a negative errno
 * already recorded against table. */
static int read_db(struct inv_ctx *ctx, const char *table, const char *path, struct buf *b)
{
	buf_init(b, ACCOUNTS_FILE_MAX);
	int r = fsroot_read(ctx->root, path, ACCOUNTS_FILE_MAX, b);
	if (r == -ENOENT)
		return 1;
	if (r < 0) {
		inv_error(ctx, table, path, r, "reading %s", path);
		return r;
	}
	return 0;
}

/* A line we skip quietly: blank, a comment, or a NIS compat entry ("+user", "-@netgroup"). */
static bool skippable(const char *line, size_t len)
{
	return len == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-';
}

/* Hands each text line of b to fn with its fields; reports malformed lines on table. */
typedef void line_fn(struct inv_ctx *ctx, const char *path, unsigned lineno, struct fields *f,
		     void *data);

static void each_line(struct inv_ctx *ctx, const char *table, const char *path, const struct buf *b,
		      size_t nfields, bool secret, line_fn *fn, void *data)
{
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0;

	cursor_init(&c, buf_str(b), buf_len(b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		lineno++;
		if (len && line[len - 1] == '\r')
			len--;
		if (skippable(line, len))
			continue;
		if (!str_is_text(line, len)) {
			inv_error(ctx, table, path, 0, "line %u: not text", lineno);
			continue;
		}
		char *copy = xstrndup(line, len);
		struct fields f;
		split_fields(copy, &f);
		if (f.n != nfields)
			inv_error(ctx, table, path, 0, "line %u: %zu fields, expected %zu", lineno,
				  f.n, nfields);
		else if (!*f.f[0])
			inv_error(ctx, table, path, 0, "line %u: empty name", lineno);
		else
			fn(ctx, path, lineno, &f, data);
		if (secret)
			OPENSSL_cleanse(copy, len);
		free(copy);
	}
}

static int parse_id(const char *s, int64_t *out)
{
	return parse_i64(s, 0, UINT32_MAX, out);
}

/* UID_MIN from the login_defs rows (the last setting wins), else the shadow-utils default. */
static int64_t uid_min(struct inv_ctx *ctx)
{
	int64_t min = UID_MIN_DEFAULT, v;
	size_t i;
	json_t *row;

	json_array_foreach(inv_table_rows(ctx, "login_defs"), i, row) {
		const char *key = json_string_value(json_object_get(row, "key"));
		const char *val = json_string_value(json_object_get(row, "value"));
		if (key && val && strcmp(key, "UID_MIN") == 0 && parse_id(val, &v) == 0)
			min = v;
	}
	return min;
}

static bool shell_interactive(const char *shell)
{
	static const char *const blocked[] = { "nologin", "false", "sync", "shutdown", "halt" };
	if (!*shell)
		return false;
	const char *slash = strrchr(shell, '/');
	const char *base = slash ? slash + 1 : shell;
	for (size_t i = 0; i < ARRAY_SIZE(blocked); i++)
		if (strcmp(base, blocked[i]) == 0)
			return false;
	return true;
}

static void set_where(json_t *row, const char *path, unsigned lineno)
{
	inv_set_str(row, "file", path);
	inv_set_int(row, "line", lineno);
}

static void passwd_line(struct inv_ctx *ctx, const char *path, unsigned lineno, struct fields *f,
			void *data)
{
	const int64_t *min = data;
	int64_t uid, gid;
	struct stat st;

	if (parse_id(f->f[2], &uid) < 0 || parse_id(f->f[3], &gid) < 0) {
		inv_error(ctx, "users", path, 0, "line %u: uid or gid is not a number", lineno);
		return;
	}
	json_t *row = inv_row(ctx, "users");
	inv_set_str(row, "name", f->f[0]);
	inv_set_int(row, "uid", uid);
	inv_set_int(row, "gid", gid);
	inv_set_str(row, "gecos", f->f[4]);
	inv_set_str(row, "home", f->f[5]);
	inv_set_str(row, "shell", f->f[6]);
	inv_set_bool(row, "interactive", shell_interactive(f->f[6]));
	inv_set_bool(row, "system", uid < *min);
	bool exists = *f->f[5] && fsroot_stat(ctx->root, f->f[5], true, &st) == 0;
	inv_set_bool(row, "home_exists", exists);
	if (exists) {
		inv_set_int(row, "home_mode", st.st_mode & 07777);
		inv_set_int(row, "home_owner_uid", st.st_uid);
	}
	set_where(row, path, lineno);
}

/* Classifies a shadow/gshadow password field; *hash points past any lock prefix. */
static const char *password_status(const char *pw, const char **hash)
{
	size_t lock = strspn(pw, "!*");
	*hash = pw + lock;
	if (!*pw)
		return "empty";
	if (!**hash)
		return "disabled";
	return lock ? "locked" : "set";
}

static bool des_hash(const char *h)
{
	static const char alphabet[] =
		"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	return strlen(h) == 13 && strspn(h, alphabet) == 13;
}

static const char *hash_algorithm(const char *status, const char *hash)
{
	static const struct {
		const char *prefix, *name;
	} ids[] = {
		{ "$y$", "yescrypt" }, { "$6$", "sha512" },  { "$5$", "sha256" },  { "$1$", "md5" },
		{ "$2a$", "bcrypt" },  { "$2b$", "bcrypt" }, { "$2y$", "bcrypt" },
	};
	if (strcmp(status, "empty") == 0 || strcmp(status, "disabled") == 0)
		return "none";
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		if (str_has_prefix(hash, ids[i].prefix))
			return ids[i].name;
	return des_hash(hash) ? "des" : "unknown";
}

/* Parses an optional day count: empty or negative (-1, as some tools write) means unset. */
static int parse_days(const char *s, bool *set, int64_t *out)
{
	*set = false;
	if (!*s)
		return 0;
	int r = parse_i64(s, INT32_MIN, INT32_MAX, out);
	if (r < 0)
		return r;
	*set = *out >= 0;
	return 0;
}

static void shadow_line(struct inv_ctx *ctx, const char *path, unsigned lineno, struct fields *f,
			void *data)
{
	static const char *const cols[] = { "last_change", "min_days",	    "max_days",
					    "warn_days",   "inactive_days", "expire" };
	const int64_t *today = data;
	int64_t v[ARRAY_SIZE(cols)];
	bool set[ARRAY_SIZE(cols)];

	for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
		if (parse_days(f->f[2 + i], &set[i], &v[i]) < 0) {
			inv_error(ctx, "shadow", path, 0, "line %u: %s is not a number", lineno,
				  cols[i]);
			return;
		}
	const char *hash;
	const char *status = password_status(f->f[1], &hash);
	json_t *row = inv_row(ctx, "shadow");
	inv_set_str(row, "name", f->f[0]);
	inv_set_str(row, "password_status", status);
	inv_set_str(row, "hash_algorithm", hash_algorithm(status, hash));
	for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
		if (set[i])
			inv_set_int(row, cols[i], v[i]);
	inv_set_bool(row, "last_change_in_future", set[0] && v[0] > *today);
	set_where(row, path, lineno);
}

static void gshadow_line(struct inv_ctx *ctx, const char *path, unsigned lineno, struct fields *f,
			 void *data)
{
	json_t *status = data;
	const char *hash;
	json_object_set_new(status, f->f[0], json_string(password_status(f->f[1], &hash)));
}

static void group_line(struct inv_ctx *ctx, const char *path, unsigned lineno, struct fields *f,
		       void *data)
{
	json_t *status = data;
	int64_t gid;

	if (parse_id(f->f[2], &gid) < 0) {
		inv_error(ctx, "groups", path, 0, "line %u: gid is not a number", lineno);
		return;
	}
	json_t *row = inv_row(ctx, "groups");
	inv_set_str(row, "name", f->f[0]);
	inv_set_int(row, "gid", gid);
	inv_set_str(row, "members", f->f[3]);
	inv_set_str(row, "password_status", json_string_value(json_object_get(status, f->f[0])));
	set_where(row, path, lineno);
}

static void collect_file(struct inv_ctx *ctx, const char *table, const char *path, size_t nfields,
			 bool secret, line_fn *fn, void *data)
{
	struct buf b;
	if (read_db(ctx, table, path, &b) == 0)
		each_line(ctx, table, path, &b, nfields, secret, fn, data);
	if (secret)
		buf_free_secret(&b);
	else
		buf_free(&b);
}

static size_t error_count(struct inv_ctx *ctx, const char *table)
{
	size_t i, n = 0;
	json_t *row;

	json_array_foreach(inv_table_rows(ctx, "errors"), i, row) {
		const char *t = json_string_value(json_object_get(row, "table"));
		n += t && strcmp(t, table) == 0;
	}
	return n;
}

/* Adds duplicates rows of kind for the key column over rows (named by name_col). */
static void find_duplicates(struct inv_ctx *ctx, json_t *rows, const char *key_col,
			    const char *kind)
{
	json_t *seen = json_object();
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row) {
		json_t *k = json_object_get(row, key_col);
		const char *name = json_string_value(json_object_get(row, "name"));
		if (!k || !name)
			continue;
		_cleanup_free_ char *key =
			json_is_integer(k) ? xasprintf("%lld", (long long)json_integer_value(k))
					   : xstrdup(json_string_value(k));
		json_t *names = json_object_get(seen, key);
		if (!names) {
			names = json_array();
			json_object_set_new(seen, key, names);
		}
		json_array_append_new(names, json_string(name));
	}

	const char *key;
	json_t *names;
	json_object_foreach(seen, key, names) {
		size_t n = json_array_size(names);
		if (n < 2)
			continue;
		struct buf list;
		buf_init(&list, SIZE_MAX / 2);
		json_t *name;
		json_array_foreach(names, i, name) {
			if (i)
				(void)buf_puts(&list, ",");
			(void)buf_puts(&list, json_string_value(name));
		}
		json_t *dup = inv_row(ctx, "duplicates");
		inv_set_str(dup, "kind", kind);
		inv_set_str(dup, "value", key);
		inv_set_int(dup, "count", (int64_t)n);
		inv_set_str(dup, "names", buf_str(&list));
		buf_free(&list);
	}
	json_decref(seen);
}

static void collect_duplicates(struct inv_ctx *ctx, size_t errors_before)
{
	json_t *users = inv_table_rows(ctx, "users"), *groups = inv_table_rows(ctx, "groups");

	find_duplicates(ctx, users, "uid", "uid");
	find_duplicates(ctx, groups, "gid", "gid");
	find_duplicates(ctx, users, "name", "user_name");
	find_duplicates(ctx, groups, "name", "group_name");
	if (error_count(ctx, "users") + error_count(ctx, "groups") > errors_before)
		inv_error(ctx, "duplicates", "/etc/passwd", 0,
			  "users or groups incomplete: duplicates may be missed");
}

void collect_accounts(struct inv_ctx *ctx)
{
	size_t errors_before = error_count(ctx, "users") + error_count(ctx, "groups");
	int64_t min = uid_min(ctx);
	int64_t today = (int64_t)(time(NULL) / 86400);

	collect_file(ctx, "users", "/etc/passwd", 7, false, passwd_line, &min);
	collect_file(ctx, "shadow", "/etc/shadow", 9, true, shadow_line, &today);

	json_t *gstatus = json_object();
	collect_file(ctx, "groups", "/etc/gshadow", 4, true, gshadow_line, gstatus);
	collect_file(ctx, "groups", "/etc/group", 4, false, group_line, gstatus);
	json_decref(gstatus);

	collect_duplicates(ctx, errors_before);
}
