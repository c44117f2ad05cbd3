/* The banners table: /etc/issue, /etc/issue.net and /etc/motd. A banner reveals the OS when it
 * holds one of the getty escapes \m (machine), \r (release), \s (system name), \v (version), or
 * the os-release ID or the first word of NAME as a whole word, ignoring case ("Debian"). */
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>

#define BANNER_MAX (64 * 1024)
#define OS_RELEASE_MAX (64 * 1024)

/* Returns the value of KEY= in os-release text as a new string without quotes, or NULL. */
static char *os_release_value(const char *text, size_t len, const char *key)
{
	struct cursor c;
	const char *line;
	size_t n, klen = strlen(key);

	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		if (n <= klen || memcmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		_cleanup_free_ char *v = xstrndup(line + klen + 1, n - klen - 1);
		char *s = str_trim(v);
		size_t sl = strlen(s);
		if (sl >= 2 && (s[0] == '"' || s[0] == '\'') && s[sl - 1] == s[0]) {
			s[sl - 1] = '\0';
			s++;
		}
		return xstrdup(s);
	}
	return NULL;
}

/* Reads the words that reveal the OS (ID, first word of NAME) into words (at most 2). */
static size_t os_words(struct inv_ctx *ctx, char *words[2])
{
	static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct buf b;
		buf_init(&b, OS_RELEASE_MAX);
		int r = fsroot_read(ctx->root, paths[i], OS_RELEASE_MAX, &b);
		if (r == 0) {
			char *id = os_release_value(buf_str(&b), buf_len(&b), "ID");
			char *name = os_release_value(buf_str(&b), buf_len(&b), "NAME");
			if (id && *id)
				words[n++] = id;
			else
				free(id);
			if (name)
				name[strcspn(name, " \t")] = '\0';
			if (name && *name)
				words[n++] = name;
			else
				free(name);
		}
		buf_free(&b);
		if (r != -ENOENT)
			break;
	}
	return n;
}

static bool is_word_byte(unsigned char c)
{
	return isalnum(c) || c == '_';
}

/* Returns true when word occurs in text as a whole word, ignoring ASCII case. */
static bool has_word(const char *text, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (size_t i = 0; wl && i + wl <= len; i++) {
		if (strncasecmp(text + i, word, wl) != 0)
			continue;
		bool left = i == 0 || !is_word_byte((unsigned char)text[i - 1]);
		bool right = i + wl == len || !is_word_byte((unsigned char)text[i + wl]);
		if (left && right)
			return true;
	}
	return false;
}

bool inv_banner_reveals_os(const char *text, size_t len, char *const *words, size_t nwords)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (text[i] == '\\' && text[i + 1] && strchr("mrsv", text[i + 1]))
			return true;
	for (size_t i = 0; i < nwords; i++)
		if (has_word(text, len, words[i]))
			return true;
	return false;
}

static bool is_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)text[i]))
			return false;
	return true;
}

void collect_banners(struct inv_ctx *ctx)
{
	static const char *const paths[] = { "/etc/issue", "/etc/issue.net", "/etc/motd" };
	char *words[2] = { NULL, NULL };
	size_t nwords = os_words(ctx, words);

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct buf b;
		buf_init(&b, BANNER_MAX);
		int r = fsroot_read(ctx->root, paths[i], BANNER_MAX, &b);
		json_t *row = inv_row(ctx, "banners");
		inv_set_str(row, "path", paths[i]);
		inv_set_bool(row, "exists", r != -ENOENT);
		if (r == 0) {
			inv_set_bool(row, "empty", is_blank(buf_str(&b), buf_len(&b)));
			inv_set_bool(
				row, "reveals_os",
				inv_banner_reveals_os(buf_str(&b), buf_len(&b), words, nwords));
		} else if (r != -ENOENT)
			inv_error(ctx, "banners", paths[i], r, "reading %s", paths[i]);
		buf_free(&b);
	}
	free(words[0]);
	free(words[1]);
}
