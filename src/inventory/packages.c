/* The packages table: installed packages from the dpkg status file and the RPM database.
 *
 * The RPM database of RHEL 9 (and Fedora, SUSE) is an SQLite file whose table Packages holds
 * one header blob per package. The file is read below the root like any other (fsroot_read,
 * capped) and handed to SQLite from memory with sqlite3_deserialize(): SQLite never opens a
 * path, so it cannot be led outside the root, takes no locks and creates no journal or WAL
 * files in the scanned tree. The in-memory copy is marked read-only. */
#include "inventory/collectors.h"
#include "inventory/parsers.h"
#include "inventory/rpmheader.h"
#include "lib/str.h"

#include <sqlite3.h>

#define DPKG_STATUS "/var/lib/dpkg/status"
#define DPKG_STATUS_MAX (64u << 20)
#define RPMDB_MAX (256u << 20)
#define RPMDB_ROWS_MAX 200000
#define T "packages"

enum {
	RPMTAG_NAME = 1000,
	RPMTAG_VERSION = 1001,
	RPMTAG_RELEASE = 1002,
	RPMTAG_EPOCH = 1003,
	RPMTAG_ARCH = 1022,
};

enum {
	RPM_NULL_TYPE = 0,
	RPM_CHAR_TYPE = 1,
	RPM_INT8_TYPE = 2,
	RPM_INT16_TYPE = 3,
	RPM_INT32_TYPE = 4,
	RPM_INT64_TYPE = 5,
	RPM_STRING_TYPE = 6,
	RPM_BIN_TYPE = 7,
	RPM_STRING_ARRAY_TYPE = 8,
	RPM_I18NSTRING_TYPE = 9,
};

void rpm_pkg_clear(struct rpm_pkg *p)
{
	free(p->name);
	free(p->version);
	free(p->release);
	free(p->arch);
	*p = (struct rpm_pkg){ .epoch = -1 };
}

/* Checks that entry {type, offset, count} lies inside the dl bytes of data. */
static int check_entry(const unsigned char *data, uint32_t dl, uint32_t type, uint32_t offset,
		       uint32_t count)
{
	static const uint8_t sizes[] = { 0, 1, 1, 2, 4, 8, 0, 1, 0, 0 };

	if (type > RPM_I18NSTRING_TYPE || offset > dl)
		return -EBADMSG;
	if (type == RPM_STRING_TYPE && count != 1)
		return -EBADMSG;
	if (type == RPM_STRING_TYPE || type == RPM_STRING_ARRAY_TYPE ||
	    type == RPM_I18NSTRING_TYPE) {
		/* count NUL-terminated strings, each at least one byte */
		if (count == 0 || count > dl - offset)
			return -EBADMSG;
		struct cursor c;
		cursor_init(&c, data + offset, dl - offset);
		for (uint32_t i = 0; i < count; i++) {
			const unsigned char *nul = memchr(c.p, '\0', c.left);
			const void *skip;
			if (!nul || cursor_get_bytes(&c, (size_t)(nul - c.p) + 1, &skip) < 0)
				return -EBADMSG;
		}
		return 0;
	}
	if ((uint64_t)count * sizes[type] > (uint64_t)(dl - offset))
		return -EBADMSG;
	return 0;
}

static int take_string(const unsigned char *data, uint32_t type, uint32_t offset, char **out)
{
	if (type != RPM_STRING_TYPE && type != RPM_I18NSTRING_TYPE)
		return -EBADMSG;
	const char *s = (const char *)data + offset; /* NUL-terminated: checked by check_entry */
	if (!*s || !str_is_text(s, strlen(s)))
		return -EBADMSG;
	if (!*out)
		*out = xstrdup(s);
	return 0;
}

static int take_entry(const unsigned char *data, uint32_t dl, const uint32_t e[4],
		      struct rpm_pkg *p)
{
	switch (e[0]) {
	case RPMTAG_NAME: return take_string(data, e[1], e[2], &p->name);
	case RPMTAG_VERSION: return take_string(data, e[1], e[2], &p->version);
	case RPMTAG_RELEASE: return take_string(data, e[1], e[2], &p->release);
	case RPMTAG_ARCH: return take_string(data, e[1], e[2], &p->arch);
	case RPMTAG_EPOCH: {
		struct cursor c;
		uint32_t v;
		if (e[1] != RPM_INT32_TYPE || e[3] < 1)
			return -EBADMSG;
		cursor_init(&c, data + e[2], dl - e[2]);
		if (cursor_get_u32be(&c, &v) < 0)
			return -EBADMSG;
		if (p->epoch < 0)
			p->epoch = v;
		return 0;
	}
	default: return 0;
	}
}

int rpmheader_parse(const void *blob, size_t len, struct rpm_pkg *out)
{
	struct cursor c, idx;
	uint32_t il, dl;
	const void *index, *data;
	struct rpm_pkg p = { .epoch = -1 };
	int r = 0;

	cursor_init(&c, blob, len);
	if (cursor_get_u32be(&c, &il) < 0 || cursor_get_u32be(&c, &dl) < 0)
		return -EBADMSG;
	if (il == 0 || il > RPMHEADER_TAGS_MAX || dl > RPMHEADER_DATA_MAX)
		return -EBADMSG;
	if (cursor_get_bytes(&c, (size_t)il * 16, &index) < 0 ||
	    cursor_get_bytes(&c, dl, &data) < 0 || !cursor_done(&c))
		return -EBADMSG;

	cursor_init(&idx, index, (size_t)il * 16);
	for (uint32_t i = 0; i < il && r == 0; i++) {
		uint32_t e[4];
		for (int k = 0; k < 4; k++)
			(void)cursor_get_u32be(&idx, &e[k]); /* length checked above */
		r = check_entry(data, dl, e[1], e[2], e[3]);
		if (r == 0)
			r = take_entry(data, dl, e, &p);
	}
	if (r == 0 && (!p.name || !p.version || !p.release))
		r = -EBADMSG;
	if (r < 0) {
		rpm_pkg_clear(&p);
		return r;
	}
	*out = p;
	return 0;
}

static void add_package(struct inv_ctx *ctx, const char *name, const char *version,
			const char *arch, const char *source)
{
	json_t *row = inv_row(ctx, T);
	inv_set_str(row, "name", name);
	inv_set_str(row, "version", version);
	inv_set_str(row, "arch", arch);
	inv_set_str(row, "source", source);
}

/* dpkg status: stanzas separated by blank lines; only installed packages count. */
struct stanza {
	char *name, *version, *arch;
	bool installed, bad;
	unsigned line;
};

static void stanza_flush(struct inv_ctx *ctx, const char *path, struct stanza *s)
{
	if (s->bad)
		inv_error(ctx, T, path, -EBADMSG, "%s:%u: package entry is not text", path,
			  s->line);
	else if (s->installed && s->name)
		add_package(ctx, s->name, s->version, s->arch, "dpkg");
	free(s->name);
	free(s->version);
	free(s->arch);
	*s = (struct stanza){ 0 };
}

static void stanza_field(struct stanza *s, const char *line, size_t len, unsigned lineno)
{
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	_cleanup_free_ char *field = xstrndup(line, (size_t)(colon - line));
	char **slot = NULL;
	if (str_case_eq(field, "Package"))
		slot = &s->name;
	else if (str_case_eq(field, "Version"))
		slot = &s->version;
	else if (str_case_eq(field, "Architecture"))
		slot = &s->arch;
	else if (!str_case_eq(field, "Status"))
		return;
	if (!s->line)
		s->line = lineno;
	size_t vlen = len - (size_t)(colon - line) - 1;
	if (!str_is_text(colon + 1, vlen)) {
		s->bad = true;
		return;
	}
	_cleanup_free_ char *value = xstrndup(colon + 1, vlen);
	char *v = str_trim(value);
	if (!slot) {
		_cleanup_strv_ strv words = str_split(v, " \t");
		/* "want ok installed": installed on disk whatever the selection (install, hold,
		 * deinstall); "half-installed", "config-files" and errors do not count */
		s->installed = strv_len(words) == 3 && strcmp(words[1], "ok") == 0 &&
			       strcmp(words[2], "installed") == 0;
	} else if (!*slot && *v) {
		*slot = xstrdup(v);
	}
}

void dpkg_status_parse_buffer(struct inv_ctx *ctx, const char *path, const char *data, size_t len)
{
	struct cursor c;
	const char *line;
	size_t n;
	unsigned lineno = 0;
	struct stanza s = { 0 };

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			stanza_flush(ctx, path, &s);
		else if (line[0] != ' ' && line[0] != '\t')
			stanza_field(&s, line, n, lineno);
	}
	stanza_flush(ctx, path, &s);
}

static void collect_dpkg(struct inv_ctx *ctx)
{
	struct buf b;
	buf_init(&b, DPKG_STATUS_MAX);
	int r = fsroot_read(ctx->root, DPKG_STATUS, DPKG_STATUS_MAX, &b);
	if (r == 0)
		dpkg_status_parse_buffer(ctx, DPKG_STATUS, buf_str(&b), buf_len(&b));
	else if (r != -ENOENT)
		inv_error(ctx, T, DPKG_STATUS, r, "reading %s", DPKG_STATUS);
	buf_free(&b);
}

static void sqlite3_closep(sqlite3 **db)
{
	sqlite3_close(*db);
}

static void rpm_rows(struct inv_ctx *ctx, const char *path, sqlite3 *db)
{
	sqlite3_stmt *st;
	unsigned rows = 0;

	if (sqlite3_prepare_v2(db, "SELECT hnum, blob FROM Packages", -1, &st, NULL) != SQLITE_OK) {
		inv_error(ctx, T, path, -EBADMSG, "%s: %s", path, sqlite3_errmsg(db));
		return;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (++rows > RPMDB_ROWS_MAX) {
			inv_error(ctx, T, path, -E2BIG, "%s: more than %u packages", path,
				  RPMDB_ROWS_MAX);
			break;
		}
		const void *blob = sqlite3_column_blob(st, 1);
		int n = sqlite3_column_bytes(st, 1);
		struct rpm_pkg p;
		if (!blob || n <= 0 || rpmheader_parse(blob, (size_t)n, &p) < 0) {
			inv_error(ctx, T, path, -EBADMSG, "%s: package header %lld is malformed",
				  path, (long long)sqlite3_column_int64(st, 0));
			continue;
		}
		_cleanup_free_ char *evr =
			p.epoch >= 0
				? xasprintf("%lld:%s-%s", (long long)p.epoch, p.version, p.release)
				: xasprintf("%s-%s", p.version, p.release);
		add_package(ctx, p.name, evr, p.arch, "rpm");
		rpm_pkg_clear(&p);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		inv_error(ctx, T, path, -EBADMSG, "%s: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

/* Reads an rpmdb.sqlite file into memory and lists its packages. */
static void collect_rpmdb(struct inv_ctx *ctx, const char *path)
{
	static const char magic[16] = "SQLite format 3";
	struct buf b;
	_cleanup_(sqlite3_closep) sqlite3 *db = NULL;

	buf_init(&b, RPMDB_MAX);
	int r = fsroot_read(ctx->root, path, RPMDB_MAX, &b);
	if (r < 0) {
		inv_error(ctx, T, path, r, "reading %s", path);
		goto out;
	}
	if (buf_len(&b) < 100 || memcmp(b.data, magic, sizeof(magic)) != 0) {
		inv_error(ctx, T, path, -EBADMSG, "%s is not an SQLite database", path);
		goto out;
	}
	/* rpm keeps the database in WAL mode, which an in-memory copy cannot use: mark the copy
	 * as a rollback-journal database (header bytes 18 and 19, the read/write versions). */
	b.data[18] = b.data[19] = 1;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) !=
	    SQLITE_OK) {
		inv_error(ctx, T, path, -ENOMEM, "opening %s", path);
		goto out;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (sqlite3_deserialize(db, "main", (unsigned char *)b.data, (sqlite3_int64)buf_len(&b),
				(sqlite3_int64)buf_len(&b),
				SQLITE_DESERIALIZE_READONLY) != SQLITE_OK) {
		inv_error(ctx, T, path, -EBADMSG, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	rpm_rows(ctx, path, db);
out:
	/* the database reads b's memory: close it first */
	sqlite3_close(db);
	db = NULL;
	buf_free(&b);
}

void collect_packages(struct inv_ctx *ctx)
{
	/* /var/lib/rpm is a link to /usr/lib/sysimage/rpm on newer systems: read one only */
	static const char *const rpmdbs[] = { "/var/lib/rpm/rpmdb.sqlite",
					      "/usr/lib/sysimage/rpm/rpmdb.sqlite" };

	/* older formats: Berkeley DB (RHEL 8 and before) and ndb (SUSE) */
	static const char *const unsupported[] = { "/var/lib/rpm/Packages",
						   "/var/lib/rpm/Packages.db",
						   "/usr/lib/sysimage/rpm/Packages.db" };
	struct stat st;

	collect_dpkg(ctx);
	for (size_t i = 0; i < ARRAY_SIZE(rpmdbs); i++)
		if (fsroot_stat(ctx->root, rpmdbs[i], true, &st) != -ENOENT) {
			collect_rpmdb(ctx, rpmdbs[i]);
			return;
		}
	/* never report an rpm system as having no packages */
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
		if (fsroot_stat(ctx->root, unsupported[i], true, &st) != -ENOENT) {
			inv_error(ctx, T, unsupported[i], -EPROTONOSUPPORT,
				  "%s: only the SQLite rpm database (rpmdb.sqlite) is read",
				  unsupported[i]);
			return;
		}
}
