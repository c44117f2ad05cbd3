/* The access bundle's access.json and the local revocations (access.h). */
#include "agent/access.h"

#include <stdarg.h>
#include <time.h>

static int bfail(char *err, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);
static int bfail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

void access_bundle_free(struct access_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_grants; i++) {
		struct access_grant *g = &b->grants[i];
		free(g->id);
		free(g->identity);
		free(g->host);
		free(g->label);
		free(g->account);
		free(g->ticket);
	}
	free(b->grants);
	strv_free(b->disabled);
	strv_free(b->key_ids);
	free(b->serials);
	free(b->ca_line);
	free(b->session_command);
	*b = (struct access_bundle){ 0 };
}

static int two(const char *s, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -EINVAL;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

int access_time_parse(const char *s, int64_t *out)
{
	int64_t v;
	if (!s || !*s)
		return -EINVAL;
	if (parse_i64(s, 0, INT64_MAX / 2, &v) == 0) {
		*out = v;
		return 0;
	}
	/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
	size_t n = strlen(s);
	int y1, y2, mo, d, h, mi, se;
	if (n < 20 || two(s, &y1) || two(s + 2, &y2) || s[4] != '-' || two(s + 5, &mo) ||
	    s[7] != '-' || two(s + 8, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    two(s + 11, &h) || s[13] != ':' || two(s + 14, &mi) || s[16] != ':' || two(s + 17, &se))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (two(p + 1, &oh) || p[3] != ':' || two(p + 4, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	struct tm tm = { .tm_year = y1 * 100 + y2 - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi,
			 .tm_sec = se };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (int64_t)t - off;
	return 0;
}

/* A short printable name (identities, grant ids, accounts, tickets). */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static int get_str(const json_t *o, const char *key, bool required, size_t max, char **out,
		   const char *what, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			return bfail(err, errlen, -EINVAL, "%s: \"%s\" is missing", what, key);
		return 0;
	}
	/* names (id, identity, account) have no spaces; text (host, label, ticket) may */
	const char *s = json_string_value(v);
	bool ok = s && (max > ACCESS_NAME_MAX
				? strlen(s) > 0 && strlen(s) <= max && str_is_text(s, strlen(s))
				: name_ok(s, max));
	if (!json_is_string(v) || !ok)
		return bfail(err, errlen, -EINVAL, "%s: \"%s\" must be %s", what, key,
			     max > ACCESS_NAME_MAX ? "one line of text" : "a short printable name");
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int get_time(const json_t *o, const char *key, int64_t *out, const char *what, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v) || access_time_parse(json_string_value(v), out) < 0)
		return bfail(err, errlen, -EINVAL, "%s: \"%s\" is not an RFC 3339 time", what, key);
	return 0;
}

static int get_bool(const json_t *o, const char *key, bool *out, const char *what, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bfail(err, errlen, -EINVAL, "%s: \"%s\" must be true or false", what, key);
	*out = json_is_true(v);
	return 0;
}

static int parse_grant(const json_t *o, struct access_grant *g, size_t i, char *err, size_t errlen)
{
	static const char *const keys[] = { "id",	   "identity", "host",	    "label",
					    "account",	   "sudo",     "starts",    "expires",
					    "reason",	   "ticket",   "request",   "approved_by",
					    "break_glass", "revoked",  "last_used", "review",
					    "created",	   NULL };
	char what[48];
	snprintf(what, sizeof(what), "grants[%zu]", i);
	if (!json_is_object(o))
		return bfail(err, errlen, -EINVAL, "%s is not an object", what);
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		bool known = false;
		for (size_t j = 0; keys[j] && !known; j++)
			known = strcmp(k, keys[j]) == 0;
		if (!known)
			return bfail(err, errlen, -EINVAL, "%s: unknown key \"%.64s\"", what, k);
	}
	int r;
	if ((r = get_str(o, "id", true, ACCESS_NAME_MAX, &g->id, what, err, errlen)) < 0 ||
	    (r = get_str(o, "identity", true, ACCESS_NAME_MAX, &g->identity, what, err, errlen)) <
		    0 ||
	    (r = get_str(o, "host", false, 256, &g->host, what, err, errlen)) < 0 ||
	    (r = get_str(o, "label", false, 1100, &g->label, what, err, errlen)) < 0 ||
	    (r = get_str(o, "account", true, ACCESS_NAME_MAX, &g->account, what, err, errlen)) <
		    0 ||
	    (r = get_str(o, "ticket", false, 1024, &g->ticket, what, err, errlen)) < 0 ||
	    (r = get_bool(o, "sudo", &g->sudo, what, err, errlen)) < 0 ||
	    (r = get_bool(o, "revoked", &g->revoked, what, err, errlen)) < 0 ||
	    (r = get_bool(o, "break_glass", &g->break_glass, what, err, errlen)) < 0 ||
	    (r = get_time(o, "starts", &g->starts, what, err, errlen)) < 0 ||
	    (r = get_time(o, "expires", &g->expires, what, err, errlen)) < 0)
		return r;
	if (g->label && !strchr(g->label, '='))
		return bfail(err, errlen, -EINVAL, "%s: \"label\" must be key=value", what);
	return 0;
}

static int parse_names(const json_t *a, const char *key, strv *out, char *err, size_t errlen)
{
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bfail(err, errlen, -EINVAL, "\"%s\" must be a list", key);
	if (json_array_size(a) > ACCESS_MAX_REVOKED)
		return bfail(err, errlen, -E2BIG, "\"%s\" has more than %u entries", key,
			     ACCESS_MAX_REVOKED);
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !name_ok(json_string_value(v), 256))
			return bfail(err, errlen, -EINVAL,
				     "%s[%zu] must be a short printable string", key, i);
		strv_push(out, json_string_value(v));
	}
	return 0;
}

static int parse_serials(const json_t *a, struct access_bundle *b, char *err, size_t errlen)
{
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bfail(err, errlen, -EINVAL, "\"revoked_serials\" must be a list");
	size_t n = json_array_size(a);
	if (n > ACCESS_MAX_REVOKED)
		return bfail(err, errlen, -E2BIG, "\"revoked_serials\" has more than %u entries",
			     ACCESS_MAX_REVOKED);
	b->serials = xcalloc(n ? n : 1, sizeof(*b->serials));
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v) {
		uint64_t s;
		/* 64-bit serials travel as numbers or (past 2^63) decimal strings */
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			s = (uint64_t)json_integer_value(v);
		else if (!json_is_string(v) ||
			 parse_u64(json_string_value(v), 10, UINT64_MAX, &s) < 0)
			return bfail(err, errlen, -EINVAL,
				     "revoked_serials[%zu] must be a number or a decimal string",
				     i);
		b->serials[b->n_serials++] = s;
	}
	return 0;
}

static int parse_root(const json_t *root, struct access_bundle *b, char *err, size_t errlen)
{
	static const char *const keys[] = { "version",
					    "ca",
					    "grants",
					    "disabled",
					    "revoked_serials",
					    "revoked_key_ids",
					    "record_sessions",
					    "session_command",
					    NULL };
	if (!json_is_object(root))
		return bfail(err, errlen, -EINVAL, "access.json is not a JSON object");
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)root, k, v) {
		bool known = false;
		for (size_t j = 0; keys[j] && !known; j++)
			known = strcmp(k, keys[j]) == 0;
		if (!known)
			return bfail(err, errlen, -EINVAL, "unknown key \"%.64s\"", k);
	}
	int r;
	if ((v = json_object_get(root, "version")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return bfail(err, errlen, -EINVAL, "\"version\" must be a whole number");
		b->version = json_integer_value(v);
	}
	if ((v = json_object_get(root, "ca")) && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) > 4096 ||
		    ssh_ed25519_key_parse_line(json_string_value(v), &b->ca) < 0)
			return bfail(err, errlen, -EINVAL,
				     "\"ca\" is not an ssh-ed25519 public key line");
		b->has_ca = true;
		b->ca_line = xstrdup(json_string_value(v));
		b->ca_line[strcspn(b->ca_line, "\r\n")] = '\0';
	}
	if ((v = json_object_get(root, "grants")) && !json_is_null(v)) {
		if (!json_is_array(v))
			return bfail(err, errlen, -EINVAL, "\"grants\" must be a list");
		size_t n = json_array_size(v);
		if (n > ACCESS_MAX_GRANTS)
			return bfail(err, errlen, -E2BIG, "more than %u grants", ACCESS_MAX_GRANTS);
		b->grants = xcalloc(n ? n : 1, sizeof(*b->grants));
		for (size_t i = 0; i < n; i++) {
			b->n_grants = i + 1;
			if ((r = parse_grant(json_array_get(v, i), &b->grants[i], i, err, errlen)) <
			    0)
				return r;
		}
	}
	if ((r = parse_names(json_object_get(root, "disabled"), "disabled", &b->disabled, err,
			     errlen)) < 0 ||
	    (r = parse_names(json_object_get(root, "revoked_key_ids"), "revoked_key_ids",
			     &b->key_ids, err, errlen)) < 0 ||
	    (r = parse_serials(json_object_get(root, "revoked_serials"), b, err, errlen)) < 0 ||
	    (r = get_bool(root, "record_sessions", &b->record_sessions, "access.json", err,
			  errlen)) < 0)
		return r;
	if ((v = json_object_get(root, "session_command")) && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
		    json_string_length(v) > 4096 ||
		    !str_is_text(json_string_value(v), json_string_length(v)))
			return bfail(err, errlen, -EINVAL,
				     "\"session_command\" must be an absolute path");
		b->session_command = xstrdup(json_string_value(v));
	}
	return 0;
}

int access_bundle_parse(const char *text, size_t len, struct access_bundle *out, char *err,
			size_t errlen)
{
	if (len > ACCESS_BUNDLE_MAX)
		return bfail(err, errlen, -E2BIG, "access.json is larger than %u bytes",
			     ACCESS_BUNDLE_MAX);
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return bfail(err, errlen, -EINVAL, "access.json:%d:%d: %s", je.line, je.column,
			     je.text);
	struct access_bundle b = { 0 };
	int r = parse_root(root, &b, err, errlen);
	json_decref(root);
	if (r < 0) {
		access_bundle_free(&b);
		return r;
	}
	*out = b;
	return 0;
}

char *access_local_dump(const struct access_bundle *local)
{
	json_t *o = json_object();
	json_t *d = json_array(), *s = json_array();
	for (size_t i = 0; local->disabled && local->disabled[i]; i++)
		json_array_append_new(d, json_string(local->disabled[i]));
	for (size_t i = 0; i < local->n_serials; i++) {
		char num[24];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)local->serials[i]);
		json_array_append_new(s, json_string(num));
	}
	json_object_set_new(o, "disabled", d);
	json_object_set_new(o, "revoked_serials", s);
	char *text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return text;
}

bool access_bundle_disabled(const struct access_bundle *b, const char *identity)
{
	return b && identity && b->disabled && strv_contains(b->disabled, identity);
}

bool access_bundle_serial_revoked(const struct access_bundle *b, uint64_t serial)
{
	for (size_t i = 0; b && i < b->n_serials; i++)
		if (b->serials[i] == serial)
			return true;
	return false;
}

bool access_bundle_key_id_revoked(const struct access_bundle *b, const char *key_id)
{
	return b && key_id && b->key_ids && strv_contains(b->key_ids, key_id);
}

bool access_local_prune(struct access_bundle *local, const struct access_bundle *bundle)
{
	bool changed = false;
	size_t w = 0;
	for (size_t i = 0; i < local->n_serials; i++) {
		if (access_bundle_serial_revoked(bundle, local->serials[i]))
			changed = true;
		else
			local->serials[w++] = local->serials[i];
	}
	local->n_serials = w;
	if (local->disabled) {
		size_t n = strv_len(local->disabled), k = 0;
		for (size_t i = 0; i < n; i++) {
			if (access_bundle_disabled(bundle, local->disabled[i])) {
				free(local->disabled[i]);
				changed = true;
			} else {
				local->disabled[k++] = local->disabled[i];
			}
		}
		local->disabled[k] = NULL;
	}
	return changed;
}
