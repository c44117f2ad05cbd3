/* The mounts table: file systems mounted now (/proc/self/mounts, host root only: a mounted
 * image's or a fixture's runtime state is not the running system's) and /etc/fstab entries.
 * Both use the fstab format: device, mount point, type, options, then dump and pass numbers;
 * spaces and other bytes in the first two fields are written as octal escapes (\040). */
#include "inventory/collectors.h"
#include "lib/str.h"

#define MOUNTS_FILE_MAX (4 * 1024 * 1024)

/* Decodes octal escapes (\040, \011, \134, ...) in place; other backslashes stay. */
static void decode_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			char c = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			*w++ = c ? c : '?'; /* \000 would cut the string */
			r += 3;
		} else
			*w++ = *r;
	}
	*w = '\0';
}

void inv_parse_fstab(struct inv_ctx *ctx, const char *file, const char *source, const char *text,
		     size_t len)
{
	struct cursor c;
	const char *line;
	size_t n;
	unsigned lineno = 0;

	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		lineno++;
		if (!str_is_text(line, n)) {
			inv_error(ctx, "mounts", file, 0, "line %u is not text", lineno);
			continue;
		}
		_cleanup_free_ char *copy = xstrndup(line, n);
		char *s = str_trim(copy);
		if (!*s || *s == '#')
			continue;
		_cleanup_strv_ strv f = str_split(s, " \t");
		size_t nf = strv_len(f);
		if (nf < 3 || nf > 6) {
			inv_error(ctx, "mounts", file, 0,
				  "line %u: expected 3 to 6 fields, found %zu", lineno, nf);
			continue;
		}
		decode_octal(f[0]);
		decode_octal(f[1]);
		json_t *row = inv_row(ctx, "mounts");
		inv_set_str(row, "device", f[0]);
		inv_set_str(row, "mount_point", f[1]);
		inv_set_str(row, "fstype", f[2]);
		inv_set_str(row, "options", nf > 3 ? f[3] : "defaults");
		inv_set_str(row, "source", source);
		inv_set_str(row, "file", file);
		inv_set_int(row, "line", lineno);
	}
}

/* Reads path and adds its entries; returns the fsroot_read() result. */
static int read_table(struct inv_ctx *ctx, const char *path, const char *source)
{
	struct buf b;

	buf_init(&b, MOUNTS_FILE_MAX);
	int r = fsroot_read(ctx->root, path, MOUNTS_FILE_MAX, &b);
	if (r == 0)
		inv_parse_fstab(ctx, path, source, buf_str(&b), buf_len(&b));
	else if (r != -ENOENT)
		inv_error(ctx, "mounts", path, r, "reading %s", path);
	buf_free(&b);
	return r;
}

void collect_mounts(struct inv_ctx *ctx)
{
	if (fsroot_is_host(ctx->root) && read_table(ctx, "/proc/self/mounts", "runtime") == -ENOENT)
		read_table(ctx, "/proc/mounts", "runtime");
	read_table(ctx, "/etc/fstab", "fstab");
}
