#include "agent/agent_msg.h"
#include "proto/immune.pb-c.h"

#include <time.h>
#include <zstd.h>

void agent_records_add(struct agent_records *l, uint32_t stream, uint32_t kind, int64_t time_ns,
		       const void *payload, size_t len)
{
	struct agent_record rec = { .stream = stream,
				    .kind = kind,
				    .encoding = IMMUNE__V1__ENCODING__ENCODING_RAW,
				    .time_ns = time_ns };
	if (len > AGENT_COMPRESS_ABOVE) {
		size_t bound = ZSTD_compressBound(len);
		unsigned char *z = xmalloc(bound);
		size_t n = ZSTD_compress(z, bound, payload, len, 3);
		if (!ZSTD_isError(n) && n < len) {
			rec.payload = xrealloc(z, n);
			rec.len = n;
			rec.encoding = IMMUNE__V1__ENCODING__ENCODING_ZSTD;
		} else {
			free(z);
		}
	}
	if (!rec.payload) {
		rec.payload = xmalloc(len);
		memcpy(rec.payload, payload, len);
		rec.len = len;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = rec;
}

void agent_records_drop_front(struct agent_records *l, size_t n)
{
	if (n > l->n)
		n = l->n;
	for (size_t i = 0; i < n; i++)
		free(l->v[i].payload);
	memmove(l->v, l->v + n, (l->n - n) * sizeof(*l->v));
	l->n -= n;
}

void agent_records_move(struct agent_records *dst, struct agent_records *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (dst->n == dst->alloc) {
			dst->alloc = dst->alloc ? 2 * dst->alloc : 16;
			dst->v = xrealloc(dst->v, dst->alloc * sizeof(*dst->v));
		}
		dst->v[dst->n++] = src->v[i];
	}
	src->n = 0;
}

void agent_records_free(struct agent_records *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].payload);
	free(l->v);
	*l = (struct agent_records){ 0 };
}

int64_t agent_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
