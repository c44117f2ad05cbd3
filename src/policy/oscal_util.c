/* OSCAL helpers shared by the single-host and fleet writers (see oscal_util.h and the
 * comment at the top of report_oscal.c for the schema facts they follow). */
#include "policy/oscal_util.h"

#include <openssl/rand.h>

static const json_t *get(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *get_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(get(o, key));
	return s ? s : "";
}

json_t *oscal_uuid(int *err)
{
	unsigned char b[16];
	char s[37];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		if (err && !*err)
			*err = -EIO;
		memset(b, 0, sizeof(b));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(s, sizeof(s),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return json_string(s);
}

json_t *oscal_text_or(const json_t *v, const char *dflt)
{
	if (json_is_string(v) && json_string_length(v) > 0)
		return json_stringn(json_string_value(v), json_string_length(v));
	return json_string(dflt);
}

json_t *oscal_string(const char *s, size_t n)
{
	_cleanup_free_ char *t = xstrndup(s, n); /* stops at an embedded NUL */
	size_t len = 0;
	char *p = t;

	n = strlen(t);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			t[i] = ' ';
	while (*p == ' ')
		p++;
	len = strlen(p);
	while (len > 0 && p[len - 1] == ' ')
		len--;
	return len > 0 ? json_stringn(p, len) : NULL;
}

static bool token_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool token_char(unsigned char c)
{
	return token_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* Appends s to a token being built: token characters as they are, others as '_'. */
static void token_append(char *dst, size_t *len, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[(*len)++] = token_char((unsigned char)s[i]) ? s[i] : '_';
	dst[*len] = '\0';
}

/* NIST SP 800-53 id as in NIST's OSCAL catalog: lower case, "(n)" -> ".n". NULL if the
 * result is not a token starting with a letter. */
static char *nist_token(const char *s, size_t n)
{
	char *t = xmalloc(n + 1);
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == ')' || ch == ' ')
			continue;
		if (ch == '(')
			ch = '.';
		else if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		t[len++] = token_char(ch) ? (char)ch : '_';
	}
	t[len] = '\0';
	if (len == 0 || !token_start((unsigned char)t[0])) {
		free(t);
		return NULL;
	}
	return t;
}

char *oscal_control_token(const char *fw, const json_t *id)
{
	const char *s = json_is_string(id) ? json_string_value(id) : "";
	size_t n = json_is_string(id) ? json_string_length(id) : 0, fwn = strlen(fw), len = 0;
	char *t;

	if (strcmp(fw, "nist_800_53") == 0) {
		t = nist_token(s, n);
		if (t)
			return t;
	}
	t = xmalloc(fwn + n + 3);
	if (fwn == 0 || !token_start((unsigned char)fw[0]))
		t[len++] = '_';
	token_append(t, &len, fw, fwn);
	token_append(t, &len, "-", 1);
	token_append(t, &len, s, n);
	return t;
}

char *oscal_check_token(const json_t *id)
{
	const char *s = json_is_string(id) ? json_string_value(id) : "";
	size_t n = json_is_string(id) ? json_string_length(id) : 0, len = 0;
	char *t = xmalloc(n + 8);

	if (n == 0 || !token_start((unsigned char)s[0]))
		token_append(t, &len, "check-", 6);
	token_append(t, &len, s, n);
	return t;
}

char *oscal_class_token(const char *fw)
{
	size_t len = 0;
	char *cls = xmalloc(strlen(fw) + 2);

	if (!token_start((unsigned char)fw[0]))
		cls[len++] = '_';
	token_append(cls, &len, fw, strlen(fw));
	return cls;
}

void oscal_prop_add(json_t *props, const char *name, const char *cls, const char *v, size_t n)
{
	json_t *value = oscal_string(v, n);
	json_t *p;

	if (!value)
		return;
	p = json_pack("{s:s, s:s, s:o}", "name", name, "ns", OSCAL_IMMUNE_NS, "value", value);
	if (cls)
		json_object_set_new(p, "class", json_string(cls));
	json_array_append_new(props, p);
}

void oscal_prop_add_json(json_t *props, const char *name, const json_t *v)
{
	if (json_is_string(v))
		oscal_prop_add(props, name, NULL, json_string_value(v), json_string_length(v));
}

void oscal_set_array(json_t *o, const char *key, json_t *arr)
{
	if (json_array_size(arr) > 0)
		json_object_set_new(o, key, arr);
	else
		json_decref(arr);
}

void oscal_format_time(time_t t, char out[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool two_digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return false;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return true;
}

int oscal_parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	long off = 0;
	time_t t;

	if (!rest)
		return -EINVAL;
	if (*rest == '.') {
		rest++;
		if (*rest < '0' || *rest > '9')
			return -EINVAL;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (*rest == '+' || *rest == '-') {
		int hh, mm;
		if (!two_digits(rest + 1, &hh) || rest[3] != ':' || !two_digits(rest + 4, &mm) ||
		    rest[6] != '\0' || hh > 23 || mm > 59)
			return -EINVAL;
		off = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
	} else if (strcmp(rest, "Z") != 0) {
		return -EINVAL;
	}
	if (tm.tm_year < 0 || tm.tm_year > 8099)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - off;
	return 0;
}

json_t *oscal_evidence_description(const json_t *ev)
{
	const json_t *line = get(ev, "line"), *value = get(ev, "value");
	_cleanup_free_ char *val = NULL, *loc = NULL;
	char *s;
	json_t *out;

	if (json_is_string(value))
		val = xstrndup(json_string_value(value), json_string_length(value));
	else if (value && !json_is_null(value))
		val = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);

	if (*get_str(ev, "file")) {
		if (json_is_integer(line))
			loc = xasprintf("%s:%" JSON_INTEGER_FORMAT, get_str(ev, "file"),
					json_integer_value(line));
		else
			loc = xstrdup(get_str(ev, "file"));
	} else if (*get_str(ev, "path")) {
		loc = xstrdup(get_str(ev, "path"));
	} else {
		loc = xasprintf("table %s", get_str(ev, "table"));
	}

	if (*get_str(ev, "error"))
		s = xasprintf("%s: error: %s", loc, get_str(ev, "error"));
	else if (!*get_str(ev, "file") && *get_str(ev, "message"))
		s = xstrdup(get_str(ev, "message"));
	else if (val)
		s = xasprintf("%s %s", loc, val);
	else if (*get_str(ev, "expected"))
		s = xasprintf("%s: no matching rows (expected %s)", loc, get_str(ev, "expected"));
	else
		s = xstrdup(loc);
	out = json_string(s);
	free(s);
	return out ? out : json_string("evidence");
}

json_t *oscal_target_status(const json_t *status)
{
	const char *s = json_string_value(status);

	if (s && strcmp(s, "pass") == 0)
		return json_pack("{s:s, s:s}", "state", "satisfied", "reason", "pass");
	if (s && strcmp(s, "fail") == 0)
		return json_pack("{s:s, s:s}", "state", "not-satisfied", "reason", "fail");
	if (s && strcmp(s, "not_applicable") == 0)
		return json_pack("{s:s, s:s, s:s}", "state", "satisfied", "reason", "other",
				 "remarks", "Not applicable to this host.");
	return json_pack("{s:s, s:s, s:s}", "state", "not-satisfied", "reason", "other", "remarks",
			 s && strcmp(s, "error") == 0
				 ? "The check could not be evaluated (unreadable input)."
				 : "Unknown check status.");
}
