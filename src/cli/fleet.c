/* Helpers of the fleet commands (token, hosts, host, findings, report, server): loading the
 * client configuration, calling the API with clear errors, and aligned terminal output. */
#include "cli/api_client.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "policy/oscal_util.h"

#include <inttypes.h>
#include <time.h>

int fleet_config(const char *cmd, const char *path, struct api_config **out)
{
	_cleanup_free_ char *p = api_config_path(path);
	struct api_error err;

	if (!p) {
		fprintf(stderr,
			"immune %s: no server configuration: pass --server-config FILE (the "
			"server's DATA/client.yaml) or set IMMUNE_SERVER_CONFIG\n",
			cmd);
		return EXIT_ERROR;
	}
	if (api_config_load(p, out, &err) < 0) {
		fprintf(stderr, "immune %s: %s\n", cmd, err.msg);
		return EXIT_ERROR;
	}
	return 0;
}

int fleet_call(const char *cmd, const struct api_config *cfg, const char *method, const char *path,
	       const json_t *body, json_t **answer)
{
	struct api_error err;

	if (api_request(cfg, method, path, body, answer, &err) < 0) {
		fprintf(stderr, "immune %s: %s\n", cmd, err.msg);
		return EXIT_ERROR;
	}
	return 0;
}

/* Host ids are lowercase hex (32 digits from immune-server); a name that looks like one is
 * taken as an id. */
static bool is_host_id(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n >= 8 && n <= 64;
}

int fleet_host_path(const char *cmd, const struct api_config *cfg, const char *host,
		    const char *sub, char **path)
{
	_cleanup_free_ char *id = NULL;
	if (is_host_id(host)) {
		id = xstrdup(host);
	} else {
		json_t *ans = NULL;
		int r = fleet_call(cmd, cfg, "GET", "/v1/hosts", NULL, &ans);
		if (r)
			return r;
		size_t i, n = 0;
		json_t *h;
		json_array_foreach(json_object_get(ans, "hosts"), i, h) {
			const char *name = json_string_value(json_object_get(h, "hostname"));
			const char *hid = json_string_value(json_object_get(h, "id"));
			if (name && hid && strcmp(name, host) == 0 && n++ == 0)
				id = xstrdup(hid);
		}
		json_decref(ans);
		_cleanup_free_ char *safe = fleet_safe(host);
		if (n != 1) {
			fprintf(stderr, "immune %s: %s: %s\n", cmd, safe,
				n ? "several hosts have this name; give the host id (immune hosts)"
				  : "no host with this id or name");
			return EXIT_ERROR;
		}
	}
	_cleanup_free_ char *esc = api_escape(id);
	*path = sub ? xasprintf("/v1/hosts/%s/%s", esc, sub) : xasprintf("/v1/hosts/%s", esc);
	return 0;
}

int fleet_print_json(const json_t *doc)
{
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    putchar('\n') == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "immune: writing standard output: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

int fleet_list(const char *cmd, const struct api_config *cfg, const char *base,
	       const char *const *keys, const char *const *vals, size_t n, bool json,
	       void (*print)(const json_t *ans, bool color))
{
	json_t *ans = NULL;
	struct buf path;
	char sep = '?';
	int r;

	buf_init(&path, 4096);
	buf_puts(&path, base);
	for (size_t i = 0; i < n; i++) {
		if (!vals[i])
			continue;
		_cleanup_free_ char *esc = api_escape(vals[i]);
		buf_printf(&path, "%c%s=%s", sep, keys[i], esc);
		sep = '&';
	}
	r = fleet_call(cmd, cfg, "GET", buf_str(&path), NULL, &ans);
	buf_free(&path);
	if (r)
		return r;
	if (json)
		r = fleet_print_json(ans);
	else
		print(ans, cli_color());
	json_decref(ans);
	return r;
}

char *fleet_safe(const char *s)
{
	size_t n = strlen(s);
	char *t = xmalloc(n + 1), *p = t;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			*p++ = '?';
		} else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			*p++ = '?';
			i++;
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return t;
}

char *fleet_text(const json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%.1f", json_real_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "yes" : "no");
	if (json_is_object(v)) {
		struct buf b;
		const char *k;
		json_t *x;
		bool first = true;
		buf_init(&b, 1u << 20);
		json_object_foreach((json_t *)v, k, x) {
			_cleanup_free_ char *s = fleet_text(x);
			buf_printf(&b, "%s%s=%s", first ? "" : ",", k, s);
			first = false;
		}
		if (first)
			buf_puts(&b, "-");
		return buf_steal(&b);
	}
	if (json_is_array(v)) {
		char *s = json_dumps(v, JSON_COMPACT);
		return s ? s : xstrdup("[]");
	}
	return xstrdup("-");
}

char *fleet_ago(const json_t *v)
{
	time_t t, now = time(NULL);
	int64_t d;

	if (!json_is_string(v))
		return xstrdup("never");
	if (oscal_parse_time(json_string_value(v), &t) < 0)
		return xstrdup(json_string_value(v));
	d = (int64_t)now - (int64_t)t;
	if (d < 0)
		d = 0;
	if (d < 120)
		return xasprintf("%" PRId64 "s ago", d);
	if (d < 7200)
		return xasprintf("%" PRId64 "m ago", d / 60);
	if (d < 172800)
		return xasprintf("%" PRId64 "h ago", d / 3600);
	return xasprintf("%" PRId64 "d ago", d / 86400);
}

int fleet_parse_duration(const char *s, int64_t max, int64_t *out)
{
	static const struct {
		char unit;
		int64_t mult;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	size_t n = strlen(s);
	int64_t mult = 1, v;
	_cleanup_free_ char *num = NULL;
	int r;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (s[n - 1] == units[i].unit) {
			mult = units[i].mult;
			n--;
		}
	num = xstrndup(s, n);
	r = parse_i64(num, 1, max, &v);
	if (r < 0)
		return r;
	if (v > max / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

/* ---- tables ---- */

void table_init(struct table *t, size_t ncols, const char *const *headers)
{
	*t = (struct table){ .ncols = ncols };
	table_row(t, headers);
}

void table_row(struct table *t, const char *const *cells)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*t->cells));
	t->colors = xrealloc(t->colors, (t->nrows + 1) * t->ncols * sizeof(*t->colors));
	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = fleet_safe(cells[i] ? cells[i] : "-");
		t->colors[t->nrows * t->ncols + i] = NULL;
	}
	t->nrows++;
}

void table_color(struct table *t, size_t col, const char *ansi)
{
	if (t->nrows > 0 && col < t->ncols)
		t->colors[(t->nrows - 1) * t->ncols + col] = ansi;
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void table_print(const struct table *t, FILE *f, bool color)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t x = width(t->cells[r * t->ncols + c]);
			w[c] = x > w[c] ? x : w[c];
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fprintf(f, "%*s", t->indent, "");
		if (color && r == 0)
			fputs("\033[1m", f);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			const char *col = color && r > 0 ? t->colors[r * t->ncols + c] : NULL;
			bool last = c + 1 == t->ncols;
			if (col)
				fputs(col, f);
			fputs(s, f);
			if (col)
				fputs("\033[0m", f);
			if (!last)
				fprintf(f, "%*s", (int)(w[c] - width(s) + 2), "");
		}
		if (color && r == 0)
			fputs("\033[0m", f);
		fputc('\n', f);
	}
	free(w);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->colors);
	*t = (struct table){ 0 };
}

const char *status_color(const char *status)
{
	if (!status)
		return NULL;
	if (strcmp(status, "pass") == 0)
		return "\033[32m";
	if (strcmp(status, "fail") == 0)
		return "\033[31m";
	if (strcmp(status, "error") == 0)
		return "\033[33m";
	return "\033[2m";
}
