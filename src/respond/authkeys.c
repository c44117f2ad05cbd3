/* authorized_keys contents as remove-authorized-key edits them (authkeys.h). */
#include "respond/authkeys.h"

#include "inventory/authorized_keys.h"
#include "lib/str.h"

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
			if (json_array_append_new(removed, json_stringn(line, keep)) < 0)
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
	size_t i;
	json_t *v;
	int added = 0;

	if (!json_is_array(lines))
		return -EINVAL;
	json_array_foreach(lines, i, v) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (!s || n == 0 || n > AUTHKEYS_LINE_MAX || !str_is_text(s, n))
			return -EINVAL;
	}
	if (buf_append(out, data, len) < 0)
		return -EMSGSIZE;
	json_array_foreach(lines, i, v) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (has_line(buf_str(out), buf_len(out), s, n))
			continue;
		if (buf_len(out) && buf_str(out)[buf_len(out) - 1] != '\n' &&
		    buf_append(out, "\n", 1) < 0)
			return -EMSGSIZE;
		if (buf_append(out, s, n) < 0 || buf_append(out, "\n", 1) < 0)
			return -EMSGSIZE;
		added++;
	}
	return added;
}
