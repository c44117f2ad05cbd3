/* The SSH wire encoding shared by certificates and KRLs (sshwire.h). */
#include "access/sshwire.h"

#include <errno.h>
#include <string.h>

int ssh_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };
	return buf_append(b, p, sizeof(p));
}

int ssh_put_u64(struct buf *b, uint64_t v)
{
	int r = ssh_put_u32(b, (uint32_t)(v >> 32));
	return r < 0 ? r : ssh_put_u32(b, (uint32_t)v);
}

int ssh_put_string(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return -EMSGSIZE;
	r = ssh_put_u32(b, (uint32_t)n);
	return r < 0 ? r : buf_append(b, p, n);
}

int ssh_put_cstr(struct buf *b, const char *s)
{
	return ssh_put_string(b, s, strlen(s));
}

int ssh_get_string(struct cursor *c, size_t max, const void **p, size_t *n)
{
	uint32_t len;
	int r = cursor_get_u32be(c, &len);

	if (r < 0)
		return r;
	if (len > c->left)
		return -EBADMSG;
	if (len > max)
		return -E2BIG;
	*n = len;
	return cursor_get_bytes(c, len, p);
}

int ssh_get_sub(struct cursor *c, size_t max, struct cursor *sub)
{
	const void *p;
	size_t n;
	int r = ssh_get_string(c, max, &p, &n);

	if (r == 0)
		cursor_init(sub, p, n);
	return r;
}
