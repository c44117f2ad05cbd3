/* authorized_keys contents as remove-authorized-key edits them (authkeys.h). */
#include "respond/authkeys.h"

#include "inventory/authorized_keys.h"
#include "lib/str.h"

#include <openssl/evp.h>

int authkeys_line_fingerprint(const char *line, size_t len, char fp[AUTHKEYS_FP_LEN + 1])
{
	if (len > AUTHKEYS_LINE_MAX)
		return -EBADMSG;
	struct authkey k = { 0 };
	const char *why = NULL;
	int r = authkey_parse(line, len, &k, &why);
	if (r != 0)
		return r < 0 ? -EBADMSG : 1;
	r = -EBADMSG;
	if (k.fingerprint && strlen(k.fingerprint) == AUTHKEYS_FP_LEN) {
		memcpy(fp, k.fingerprint, AUTHKEYS_FP_LEN + 1);
		r = 0;
	}
	authkey_clear(&k);
	return r;
}

static bool line_has(const char *line, size_t len, const char *fp)
{
	char have[AUTHKEYS_FP_LEN + 1];
	return authkeys_line_fingerprint(line, len, have) == 0 && strcmp(have, fp) == 0;
}

size_t authkeys_count(const char *data, size_t len, const char *fp)
{
	struct cursor c;
	const char *line;
	size_t n, count = 0;

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0)
		count += line_has(line, n, fp);
	return count;
}

/* A line as a JSON string, or {"base64": ...} when it is not valid UTF-8 (a comment may hold
 * any byte; the line must come back exactly as it was). */
static json_t *line_to_json(const char *line, size_t n)
{
	json_t *v = json_stringn(line, n);
	if (v || n > AUTHKEYS_LINE_MAX)
		return v;
	_cleanup_free_ char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)line, (int)n);
	return len < 0 ? NULL : json_pack("{s:s#}", "base64", b64, (size_t)len);
}

/* The line a JSON value of line_to_json stands for, into out (bounded by the caller's). */
static int line_from_json(const json_t *v, char *out, size_t outlen, size_t *n)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (!s) {
		const json_t *b = json_object_get(v, "base64");
		const char *b64 = json_string_value(b);
		size_t blen = json_string_length(b);
		if (!json_is_object(v) || json_object_size(v) != 1 || !b64 || blen % 4 ||
		    blen / 4 * 3 > outlen)
			return -EINVAL;
		int dl = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64,
					 (int)blen);
		if (dl < 0)
			return -EINVAL;
		len = (size_t)dl;
		/* EVP_DecodeBlock counts the padding as zero bytes. */
		for (size_t i = blen; i > 0 && b64[i - 1] == '=' && len > 0; i--)
			len--;
	} else {
		if (len > outlen)
			return -EINVAL;
		memcpy(out, s, len);
	}
	if (len == 0 || len > AUTHKEYS_LINE_MAX || !str_is_text(out, len))
		return -EINVAL;
	*n = len;
	return 0;
}

int authkeys_remove(const char *data, size_t len, const char *fp, struct buf *kept, json_t *removed)
{
	struct cursor c;
	const char *line;
	size_t n;
	int count = 0;

	if (!json_is_array(removed))
		return -EINVAL;
	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		/* The line's newline, when it has one, is the byte after it. */
		bool nl = (size_t)(line - data) + n < len;
		if (line_has(line, n, fp)) {
			size_t keep = n;
			while (keep && (line[keep - 1] == '\r' || line[keep - 1] == ' ' ||
					line[keep - 1] == '\t'))
				keep--;
			if (json_array_append_new(removed, line_to_json(line, keep)) < 0)
				return -ENOMEM;
			count++;
			continue;
		}
		if (buf_append(kept, line, n) < 0 || (nl && buf_append(kept, "\n", 1) < 0))
			return -EMSGSIZE;
	}
	return count;
}

static bool has_line(const char *data, size_t len, const char *s, size_t slen)
{
	struct cursor c;
	const char *line;
	size_t n;

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0)
		if (n == slen && memcmp(line, s, n) == 0)
			return true;
	return false;
}

int authkeys_append(const char *data, size_t len, const json_t *lines, struct buf *out)
{
	size_t i, n;
	json_t *v;
	int added = 0;
	const size_t linelen = AUTHKEYS_LINE_MAX + 3;
	_cleanup_free_ char *line = NULL;

	if (!json_is_array(lines))
		return -EINVAL;
	line = xmalloc(linelen);
	json_array_foreach(lines, i, v) {
		if (line_from_json(v, line, linelen, &n) < 0)
			return -EINVAL;
	}
	if (buf_append(out, data, len) < 0)
		return -EMSGSIZE;
	json_array_foreach(lines, i, v) {
		(void)line_from_json(v, line, linelen, &n);
		if (has_line(buf_str(out), buf_len(out), line, n))
			continue;
		if (buf_len(out) && buf_str(out)[buf_len(out) - 1] != '\n' &&
		    buf_append(out, "\n", 1) < 0)
			return -EMSGSIZE;
		if (buf_append(out, line, n) < 0 || buf_append(out, "\n", 1) < 0)
			return -EMSGSIZE;
		added++;
	}
	return added;
}

/* One key line of a text: its fingerprint and the line's rank among the key lines. */
struct keyline {
	char fp[AUTHKEYS_FP_LEN + 1];
	size_t rank;
};

static int keyline_cmp(const void *a, const void *b)
{
	const struct keyline *x = a, *y = b;
	int c = strcmp(x->fp, y->fp);
	if (c)
		return c;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int rank_cmp(const void *a, const void *b)
{
	const struct keyline *x = *(const struct keyline *const *)a;
	const struct keyline *y = *(const struct keyline *const *)b;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* The key lines of data into *out (the caller frees), sorted by fingerprint then rank. */
static size_t keylines(const char *data, size_t len, struct keyline **out)
{
	struct cursor c;
	const char *line;
	size_t n, count = 0, alloc = 0;
	struct keyline *k = NULL;
	char fp[AUTHKEYS_FP_LEN + 1];

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		if (authkeys_line_fingerprint(line, n, fp) != 0)
			continue;
		if (count == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			k = xrealloc(k, alloc * sizeof(*k));
		}
		memcpy(k[count].fp, fp, sizeof(fp));
		k[count].rank = count;
		count++;
	}
	if (count)
		qsort(k, count, sizeof(*k), keyline_cmp);
	*out = k;
	return count;
}

static bool keylines_have(const struct keyline *k, size_t n, const char *fp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(k[mid].fp, fp);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int authkeys_added(const char *old, size_t oldlen, const char *cur, size_t curlen,
		   char (*fps)[AUTHKEYS_FP_LEN + 1], size_t max)
{
	_cleanup_free_ struct keyline *o = NULL, *k = NULL;
	_cleanup_free_ const struct keyline **added = NULL;
	size_t no = 0, nk, nadded = 0;

	if ((old && oldlen > AUTHKEYS_FILE_MAX) || curlen > AUTHKEYS_FILE_MAX)
		return -EFBIG;
	if (old)
		no = keylines(old, oldlen, &o);
	nk = keylines(cur, curlen, &k);
	added = xmalloc((nk + 1) * sizeof(*added));
	/* Sorted by fingerprint then rank: the first of each run is the key's first line. */
	for (size_t i = 0; i < nk; i++) {
		if (i > 0 && strcmp(k[i].fp, k[i - 1].fp) == 0)
			continue;
		if (!keylines_have(o, no, k[i].fp))
			added[nadded++] = &k[i];
	}
	qsort(added, nadded, sizeof(*added), rank_cmp);
	for (size_t i = 0; i < nadded && i < max; i++)
		memcpy(fps[i], added[i]->fp, AUTHKEYS_FP_LEN + 1);
	return (int)nadded;
}
