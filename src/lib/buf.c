#include "lib/buf.h"
#include "lib/str.h"

#include <openssl/crypto.h>
#include <stdarg.h>

void buf_init(struct buf *b, size_t cap)
{
	/* Room for the terminating NUL and doubling must never overflow. */
	if (cap > SIZE_MAX / 4)
		cap = SIZE_MAX / 4;
	*b = (struct buf){ .cap = cap };
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void buf_free_secret(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->alloc);
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_reserve(struct buf *b, size_t n)
{
	if (n > b->cap || b->len > b->cap - n)
		return -EMSGSIZE;
	size_t need = b->len + n + 1;
	if (need <= b->alloc)
		return 0;
	size_t grow = b->alloc ? b->alloc : 64;
	while (grow < need)
		grow = grow > SIZE_MAX / 2 ? need : grow * 2;
	if (grow > b->cap + 1)
		grow = b->cap + 1;
	b->data = xrealloc(b->data, grow);
	b->alloc = grow;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);

	int r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

size_t buf_len(const struct buf *b)
{
	return b->len;
}

char *buf_steal(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->alloc = 0;
	return s;
}

void cursor_init(struct cursor *c, const void *p, size_t n)
{
	c->p = p;
	c->left = n;
}

bool cursor_done(const struct cursor *c)
{
	return c->left == 0;
}

int cursor_get_bytes(struct cursor *c, size_t n, const void **p)
{
	if (n > c->left)
		return -EBADMSG;
	*p = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

int cursor_get_u8(struct cursor *c, uint8_t *v)
{
	const void *p;
	int r = cursor_get_bytes(c, 1, &p);
	if (r == 0)
		*v = *(const uint8_t *)p;
	return r;
}

int cursor_get_u32be(struct cursor *c, uint32_t *v)
{
	const unsigned char *p;
	int r = cursor_get_bytes(c, 4, (const void **)&p);
	if (r == 0)
		*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return r;
}

int cursor_get_u64be(struct cursor *c, uint64_t *v)
{
	uint32_t hi, lo;
	struct cursor save = *c;
	if (cursor_get_u32be(c, &hi) < 0 || cursor_get_u32be(c, &lo) < 0) {
		*c = save;
		return -EBADMSG;
	}
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int cursor_get_line(struct cursor *c, const char **line, size_t *len)
{
	if (c->left == 0)
		return 0;
	const unsigned char *nl = memchr(c->p, '\n', c->left);
	size_t n = nl ? (size_t)(nl - c->p) : c->left;
	*line = (const char *)c->p;
	*len = n;
	c->p += nl ? n + 1 : n;
	c->left -= nl ? n + 1 : n;
	return 1;
}

void line_joiner_init(struct line_joiner *j, const char *data, size_t len, size_t cap)
{
	cursor_init(&j->c, data, len);
	buf_init(&j->text, cap);
	j->lineno = j->first = 0;
}

int line_joiner_next(struct line_joiner *j)
{
	const char *line;
	size_t len;
	bool pending = false;

	buf_reset(&j->text);
	while (cursor_get_line(&j->c, &line, &len) > 0) {
		j->lineno++;
		if (!str_is_text(line, len)) {
			buf_reset(&j->text);
			return -EBADMSG;
		}
		if (len && line[len - 1] == '\r')
			len--;
		if (!pending)
			j->first = j->lineno;
		bool more = len && line[len - 1] == '\\';
		(void)buf_append(&j->text, line, more ? len - 1 : len);
		if (!more)
			return 1;
		(void)buf_puts(&j->text, " ");
		pending = true;
	}
	return pending ? 1 : 0;
}

void line_joiner_free(struct line_joiner *j)
{
	buf_free(&j->text);
}
