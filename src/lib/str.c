#include "lib/str.h"

#include <ctype.h>

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || !*s || !isalnum((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_mode(const char *s, unsigned *out)
{
	uint64_t v;
	int r = parse_u64(s, 8, 07777, &v);
	if (r == 0)
		*out = (unsigned)v;
	return r;
}

char *str_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool str_case_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

char *str_lower(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

bool str_is_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return false;
	}
	return true;
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void strv_push_take(strv *v, char *s)
{
	size_t n = strv_len(*v);
	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

void strv_push(strv *v, const char *s)
{
	strv_push_take(v, xstrdup(s));
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void strv_free(strv v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

strv str_split(const char *s, const char *seps)
{
	strv v = xcalloc(1, sizeof(char *));
	while (*s) {
		size_t skip = strspn(s, seps);
		s += skip;
		size_t n = strcspn(s, seps);
		if (n)
			strv_push_take(&v, xstrndup(s, n));
		s += n;
	}
	return v;
}

bool str_list_has(const char *list, const char *item, const char *seps, bool ignore_case)
{
	size_t m = strlen(item);
	while (*list) {
		list += strspn(list, seps);
		size_t n = strcspn(list, seps);
		if (n == m && n &&
		    (ignore_case ? strncasecmp(list, item, n) : strncmp(list, item, n)) == 0)
			return true;
		list += n;
	}
	return false;
}
