/* The directory importer: YAML and JSON (through the YAML tree, which keeps every node's
 * line) and CSV (line by line), into identity and group documents. Everything is checked
 * before anything is returned: a bad file yields one error with its line and no documents. */
#include "access/directory.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "lib/ytree.h"

#include <stdarg.h>

struct dctx {
	const char *file;
	char *err;
	size_t err_len;
	json_t *identities, *groups;
	json_t *seen_ids;    /* name → line */
	json_t *seen_groups; /* name → index in groups */
	size_t n_defined_groups;
};

static int derr(struct dctx *c, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int derr(struct dctx *c, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err && c->err_len)
		snprintf(c->err, c->err_len, "%s:%u: %s", c->file, line, msg);
	return -EINVAL;
}

/* ---- validation ---- */

/* Identity and group names: 1..64 of [A-Za-z0-9_.@-], not starting with '-' or '.'. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.' || ch == '@'))
			return false;
	}
	return true;
}

/* Local account names as useradd takes them: [a-z_][a-z0-9_-]*, at most 32. */
static bool valid_account(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

static bool valid_attr_key(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool valid_value(const char *s)
{
	size_t n = strlen(s);
	return n <= DIRECTORY_VALUE_MAX && str_is_text(s, n);
}

static const char *const roles[] = { "admin", "approver", "auditor", "viewer" };

static bool valid_role(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
		if (strcmp(s, roles[i]) == 0)
			return true;
	return false;
}

/* Registers group name (mentioned at line); defined: from a groups section. */
static int note_group(struct dctx *c, unsigned line, const char *name, const char *description,
		      json_t *attributes, bool defined)
{
	json_t *at = json_object_get(c->seen_groups, name);
	if (at) {
		if (!defined) {
			json_decref(attributes);
			return 0;
		}
		size_t idx = (size_t)json_integer_value(at);
		if (idx < c->n_defined_groups) {
			json_decref(attributes);
			return derr(c, line, "group '%s' defined twice", name);
		}
		/* defined after an identity named it: fill in the description */
		json_t *g = json_array_get(c->groups, idx);
		json_object_set_new(g, "description", json_string(description ? description : ""));
		json_object_set_new(g, "attributes", attributes ? attributes : json_object());
		return 0;
	}
	json_object_set_new(c->seen_groups, name,
			    json_integer((json_int_t)json_array_size(c->groups)));
	json_array_append_new(c->groups, json_pack("{s:s, s:s, s:o}", "name", name, "description",
						   description ? description : "", "attributes",
						   attributes ? attributes : json_object()));
	if (defined)
		c->n_defined_groups = json_array_size(c->groups);
	return 0;
}

/* Checks one identity document built by a reader and appends it. Takes doc. */
static int add_identity(struct dctx *c, unsigned line, json_t *doc)
{
	int r = -EINVAL;
	const char *name = json_string_value(json_object_get(doc, "name"));
	if (!name || !*name) {
		r = derr(c, line, "identity without a name");
		goto out;
	}
	if (!valid_name(name)) {
		r = derr(c, line, "invalid identity name '%s' (1 to 64 of A-Z a-z 0-9 _ . @ -)",
			 name);
		goto out;
	}
	json_t *first = json_object_get(c->seen_ids, name);
	if (first) {
		r = derr(c, line, "duplicate identity '%s' (first on line %lld)", name,
			 (long long)json_integer_value(first));
		goto out;
	}
	if (json_array_size(c->identities) >= DIRECTORY_IDENTITIES_MAX) {
		r = derr(c, line, "more than %u identities", DIRECTORY_IDENTITIES_MAX);
		goto out;
	}
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	if (strcmp(kind, "person") != 0 && strcmp(kind, "machine") != 0) {
		r = derr(c, line, "identity '%s': kind must be person or machine, not '%s'", name,
			 kind);
		goto out;
	}
	const char *status = json_string_value(json_object_get(doc, "status"));
	if (strcmp(status, "active") != 0 && strcmp(status, "disabled") != 0) {
		r = derr(c, line, "identity '%s': status must be active or disabled, not '%s'",
			 name, status);
		goto out;
	}
	json_t *role = json_object_get(doc, "role");
	if (json_is_string(role) && !valid_role(json_string_value(role))) {
		r = derr(c, line,
			 "identity '%s': role must be admin, approver, auditor or viewer, not '%s'",
			 name, json_string_value(role));
		goto out;
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "groups"), i, v) {
		if (!valid_name(json_string_value(v))) {
			r = derr(c, line, "identity '%s': invalid group name '%s'", name,
				 json_string_value(v));
			goto out;
		}
	}
	json_array_foreach(json_object_get(doc, "accounts"), i, v) {
		if (!valid_account(json_string_value(v))) {
			r = derr(c, line,
				 "identity '%s': invalid account name '%s' ([a-z_][a-z0-9_-]*, at "
				 "most 32)",
				 name, json_string_value(v));
			goto out;
		}
	}
	const char *key;
	json_object_foreach(json_object_get(doc, "attributes"), key, v) {
		if (!valid_attr_key(key)) {
			r = derr(c, line, "identity '%s': invalid attribute name '%s'", name, key);
			goto out;
		}
		if (!valid_value(json_string_value(v))) {
			r = derr(c, line,
				 "identity '%s': attribute '%s' is not text of at most %u bytes",
				 name, key, DIRECTORY_VALUE_MAX);
			goto out;
		}
	}
	json_array_foreach(json_object_get(doc, "groups"), i, v) {
		r = note_group(c, line, json_string_value(v), NULL, NULL, false);
		if (r < 0)
			goto out;
	}
	json_object_set_new(c->seen_ids, name, json_integer(line));
	json_array_append(c->identities, doc);
	r = 0;
out:
	json_decref(doc);
	return r;
}

static json_t *new_identity(void)
{
	return json_pack("{s:s, s:s, s:[], s:{}, s:s, s:n, s:[]}", "name", "", "kind", "person",
			 "groups", "attributes", "status", "active", "role", "accounts");
}

/* Appends s to the array unless already there. */
static void array_add_unique(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (strcmp(json_string_value(v), s) == 0)
			return;
	}
	json_array_append_new(arr, json_string(s));
}

/* ---- YAML and JSON ---- */

static const char *scalar(struct dctx *c, const struct ynode *n, const char *what, int *r)
{
	if (!n || n->type != YNODE_SCALAR) {
		*r = derr(c, n ? n->line : 0, "%s must be a string", what);
		return NULL;
	}
	return n->scalar;
}

static bool is_null(const struct ynode *n)
{
	return !n || (n->type == YNODE_SCALAR && !n->quoted &&
		      (strcmp(n->scalar, "null") == 0 || strcmp(n->scalar, "~") == 0 ||
		       n->scalar[0] == '\0'));
}

static int yaml_strings(struct dctx *c, const struct ynode *n, const char *what, json_t *arr)
{
	if (is_null(n))
		return 0;
	if (n->type != YNODE_SEQ)
		return derr(c, n->line, "%s must be a list", what);
	for (size_t i = 0; i < n->n; i++) {
		int r = 0;
		const char *s = scalar(c, n->items[i], what, &r);
		if (!s)
			return r;
		array_add_unique(arr, s);
	}
	return 0;
}

static int yaml_attrs(struct dctx *c, const struct ynode *n, json_t *obj)
{
	if (is_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return derr(c, n->line, "attributes must be a map");
	for (size_t i = 0; i < n->n; i++) {
		int r = 0;
		const char *v = scalar(c, n->items[i], "an attribute value", &r);
		if (!v)
			return r;
		if (json_object_get(obj, n->keys[i]->scalar))
			return derr(c, n->keys[i]->line, "attribute '%s' given twice",
				    n->keys[i]->scalar);
		json_object_set_new(obj, n->keys[i]->scalar, json_string(v));
	}
	return 0;
}

static int check_keys(struct dctx *c, const struct ynode *map, const char *const *allowed,
		      const char *what)
{
	if (map->type != YNODE_MAP)
		return derr(c, map->line, "%s must be a map", what);
	for (size_t i = 0; i < map->n; i++) {
		bool ok = false;
		for (size_t k = 0; allowed[k] && !ok; k++)
			ok = strcmp(map->keys[i]->scalar, allowed[k]) == 0;
		if (!ok)
			return derr(c, map->keys[i]->line, "unknown key '%s' in %s",
				    map->keys[i]->scalar, what);
	}
	return 0;
}

static int yaml_identity(struct dctx *c, const struct ynode *n)
{
	static const char *const keys[] = { "name",   "kind", "groups",	  "attributes",
					    "status", "role", "accounts", NULL };
	int r = check_keys(c, n, keys, "an identity");
	if (r < 0)
		return r;
	json_t *doc = new_identity();
	static const char *const str_keys[] = { "name", "kind", "status" };
	for (size_t i = 0; i < ARRAY_SIZE(str_keys); i++) {
		const struct ynode *v = ynode_get(n, str_keys[i]);
		if (!v)
			continue;
		const char *s = scalar(c, v, str_keys[i], &r);
		if (!s)
			goto fail;
		json_object_set_new(doc, str_keys[i], json_string(s));
	}
	const struct ynode *role = ynode_get(n, "role");
	if (!is_null(role)) {
		const char *s = scalar(c, role, "role", &r);
		if (!s)
			goto fail;
		json_object_set_new(doc, "role", json_string(s));
	}
	if ((r = yaml_strings(c, ynode_get(n, "groups"), "groups",
			      json_object_get(doc, "groups"))) < 0 ||
	    (r = yaml_strings(c, ynode_get(n, "accounts"), "accounts",
			      json_object_get(doc, "accounts"))) < 0 ||
	    (r = yaml_attrs(c, ynode_get(n, "attributes"), json_object_get(doc, "attributes"))) < 0)
		goto fail;
	return add_identity(c, n->line, doc);
fail:
	json_decref(doc);
	return r;
}

static int yaml_group(struct dctx *c, const struct ynode *n)
{
	static const char *const keys[] = { "name", "description", "attributes", NULL };
	int r = check_keys(c, n, keys, "a group");
	if (r < 0)
		return r;
	const char *name = scalar(c, ynode_get(n, "name"), "a group's name", &r);
	if (!ynode_get(n, "name"))
		return derr(c, n->line, "group without a name");
	if (!name)
		return r;
	if (!valid_name(name))
		return derr(c, n->line, "invalid group name '%s'", name);
	const char *desc = "";
	const struct ynode *d = ynode_get(n, "description");
	if (!is_null(d) && !(desc = scalar(c, d, "description", &r)))
		return r;
	if (!valid_value(desc))
		return derr(c, d->line, "description is not text of at most %u bytes",
			    DIRECTORY_VALUE_MAX);
	json_t *attrs = json_object();
	r = yaml_attrs(c, ynode_get(n, "attributes"), attrs);
	if (r < 0) {
		json_decref(attrs);
		return r;
	}
	return note_group(c, n->line, name, desc, attrs, true);
}

static int parse_yaml(struct dctx *c, const char *text, size_t len)
{
	struct ynode *root = NULL;
	struct yerror ye = { 0 };
	if (ytree_parse(text, len, &root, &ye) < 0)
		return derr(c, ye.line ? ye.line : 1, "%s", ye.msg);
	static const char *const keys[] = { "identities", "groups", NULL };
	int r = check_keys(c, root, keys, "a directory file");
	for (int pass = 0; pass < 2 && r == 0; pass++) { /* groups first: their descriptions */
		const struct ynode *list = ynode_get(root, pass == 0 ? "groups" : "identities");
		if (is_null(list))
			continue;
		if (list->type != YNODE_SEQ) {
			r = derr(c, list->line, "%s must be a list",
				 pass == 0 ? "groups" : "identities");
			break;
		}
		for (size_t i = 0; i < list->n && r == 0; i++)
			r = pass == 0 ? yaml_group(c, list->items[i])
				      : yaml_identity(c, list->items[i]);
	}
	ytree_free(root);
	return r;
}

/* ---- CSV ---- */

/* Splits one CSV line into fields (quotes with "" inside). Returns the number of fields, or
 * -EINVAL with *col the 1-based column of the error. */
static int csv_fields(const char *line, size_t len, strv *out, size_t *col)
{
	struct buf f;
	buf_init(&f, DIRECTORY_LINE_MAX);
	size_t i = 0;
	int n = 0;
	for (;;) {
		buf_reset(&f);
		if (i < len && line[i] == '"') {
			size_t open = i++;
			for (;;) {
				if (i >= len) { /* unterminated: where the quote opened */
					*col = open + 1;
					buf_free(&f);
					return -EINVAL;
				}
				if (line[i] == '"') {
					if (i + 1 < len && line[i + 1] == '"') {
						(void)buf_append(&f, "\"", 1);
						i += 2;
						continue;
					}
					i++;
					break;
				}
				(void)buf_append(&f, &line[i], 1);
				i++;
			}
			if (i < len && line[i] != ',') {
				*col = i + 1;
				buf_free(&f);
				return -EINVAL;
			}
		} else {
			size_t j = i;
			while (j < len && line[j] != ',')
				j++;
			(void)buf_append(&f, line + i, j - i);
			i = j;
		}
		char *s = str_trim(buf_len(&f) ? (char *)buf_str(&f) : (char[]){ "" });
		strv_push(out, s);
		n++;
		if (i >= len)
			break;
		i++; /* ',' */
	}
	buf_free(&f);
	return n;
}

static void csv_list(json_t *arr, const char *field)
{
	_cleanup_strv_ strv items = str_split(field, ";");
	for (size_t i = 0; items[i]; i++) {
		char *t = str_trim(items[i]);
		if (*t)
			array_add_unique(arr, t);
	}
}

static const char *const csv_head[] = { "name", "kind", "groups", "role", "accounts" };

static int csv_header(struct dctx *c, unsigned lineno, char **h, size_t n)
{
	if (n < ARRAY_SIZE(csv_head))
		return derr(c, lineno, "the header must start with name,kind,groups,role,accounts");
	for (size_t i = 0; i < ARRAY_SIZE(csv_head); i++)
		if (strcmp(h[i], csv_head[i]) != 0)
			return derr(c, lineno,
				    "column %zu of the header must be '%s', found '%s' (the header "
				    "starts name,kind,groups,role,accounts)",
				    i + 1, csv_head[i], h[i]);
	for (size_t i = ARRAY_SIZE(csv_head); i < n; i++) {
		if (!valid_attr_key(h[i]))
			return derr(c, lineno, "invalid attribute column '%s'", h[i]);
		for (size_t k = 0; k < i; k++)
			if (strcmp(h[k], h[i]) == 0)
				return derr(c, lineno, "column '%s' given twice", h[i]);
	}
	return 0;
}

static int csv_row(struct dctx *c, unsigned lineno, char **h, size_t nh, char **f, size_t nf)
{
	if (nf != nh)
		return derr(c, lineno, "expected %zu fields as in the header, found %zu", nh, nf);
	json_t *doc = new_identity();
	json_object_set_new(doc, "name", json_string(f[0]));
	if (*f[1])
		json_object_set_new(doc, "kind", json_string(f[1]));
	csv_list(json_object_get(doc, "groups"), f[2]);
	if (*f[3])
		json_object_set_new(doc, "role", json_string(f[3]));
	csv_list(json_object_get(doc, "accounts"), f[4]);
	for (size_t i = ARRAY_SIZE(csv_head); i < nf; i++) {
		if (!*f[i])
			continue;
		if (strcmp(h[i], "status") == 0)
			json_object_set_new(doc, "status", json_string(f[i]));
		else
			json_object_set_new(json_object_get(doc, "attributes"), h[i],
					    json_string(f[i]));
	}
	return add_identity(c, lineno, doc);
}

static int parse_csv(struct dctx *c, const char *text, size_t len)
{
	_cleanup_strv_ strv header = NULL;
	size_t nh = 0, pos = 0;
	unsigned lineno = 0;
	int r = 0;
	while (pos < len && r == 0) {
		lineno++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t l = end - pos;
		const char *line = text + pos;
		pos = end + 1;
		if (l > DIRECTORY_LINE_MAX)
			return derr(c, lineno, "line longer than %u bytes", DIRECTORY_LINE_MAX);
		if (l && line[l - 1] == '\r')
			l--;
		if (memchr(line, '\0', l) || !str_is_text(line, l))
			return derr(c, lineno, "control characters in a line");
		size_t lead = 0;
		while (lead < l && (line[lead] == ' ' || line[lead] == '\t'))
			lead++;
		if (lead == l || line[lead] == '#')
			continue; /* blank lines and comments */
		strv fields = NULL;
		size_t col = 0;
		int n = csv_fields(line, l, &fields, &col);
		if (n < 0) {
			strv_free(fields);
			return derr(c, lineno, "bad quoting at column %zu", col);
		}
		if (!header) {
			header = fields;
			nh = (size_t)n;
			r = csv_header(c, lineno, header, nh);
			continue;
		}
		r = csv_row(c, lineno, header, nh, fields, (size_t)n);
		strv_free(fields);
	}
	if (r == 0 && !header)
		return derr(c, 1, "no header row (name,kind,groups,role,accounts,ATTR...)");
	return r;
}

/* ---- entry points ---- */

int directory_format_from_name(const char *name, enum directory_format *out)
{
	static const char *const names[] = { "auto", "yaml", "json", "csv" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (name && strcmp(name, names[i]) == 0) {
			*out = (enum directory_format)i;
			return 0;
		}
	return -EINVAL;
}

static enum directory_format guess(const char *file, const char *text, size_t len)
{
	if (file && (str_has_suffix(file, ".yaml") || str_has_suffix(file, ".yml")))
		return DIRECTORY_YAML;
	if (file && str_has_suffix(file, ".json"))
		return DIRECTORY_JSON;
	if (file && str_has_suffix(file, ".csv"))
		return DIRECTORY_CSV;
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i < len && (text[i] == '{' || text[i] == '['))
		return DIRECTORY_JSON;
	if (len - i >= 5 && memcmp(text + i, "name,", 5) == 0)
		return DIRECTORY_CSV;
	return DIRECTORY_YAML;
}

int directory_parse(const char *file, const char *text, size_t len, enum directory_format fmt,
		    struct directory **out, char *err, size_t err_len)
{
	struct dctx c = { .file = file ? file : "<directory>",
			  .err = err,
			  .err_len = err_len,
			  .identities = json_array(),
			  .groups = json_array(),
			  .seen_ids = json_object(),
			  .seen_groups = json_object() };
	int r;
	if (len > DIRECTORY_FILE_MAX) {
		r = derr(&c, 1, "file larger than %u bytes", DIRECTORY_FILE_MAX);
		goto out;
	}
	if (fmt == DIRECTORY_AUTO)
		fmt = guess(file, text, len);
	if (fmt == DIRECTORY_CSV) {
		r = parse_csv(&c, text, len);
	} else {
		if (memchr(text, '\0', len)) {
			r = derr(&c, 1, "NUL byte in a directory file");
			goto out;
		}
		r = parse_yaml(&c, text, len);
	}
out:
	json_decref(c.seen_ids);
	json_decref(c.seen_groups);
	if (r < 0) {
		json_decref(c.identities);
		json_decref(c.groups);
		return r;
	}
	struct directory *d = xcalloc(1, sizeof(*d));
	d->identities = c.identities;
	d->groups = c.groups;
	*out = d;
	return 0;
}

int directory_load(const char *path, enum directory_format fmt, struct directory **out, char *err,
		   size_t err_len)
{
	struct buf b;
	buf_init(&b, DIRECTORY_FILE_MAX);
	int r = file_read_capped(path, DIRECTORY_FILE_MAX, &b);
	if (r < 0) {
		if (err && err_len)
			snprintf(err, err_len, "%s: %s", path,
				 r == -EFBIG ? "file too large" : strerror(-r));
		buf_free(&b);
		return r;
	}
	r = directory_parse(path, buf_str(&b), buf_len(&b), fmt, out, err, err_len);
	buf_free(&b);
	return r;
}

void directory_free(struct directory *d)
{
	if (!d)
		return;
	json_decref(d->identities);
	json_decref(d->groups);
	free(d);
}
