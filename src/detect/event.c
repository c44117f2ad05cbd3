/* The normalized event model: builder and table lookups (event.h). */
#include "detect/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct field_info {
	const char *name;
	const char *path;
	unsigned flags;
};

static const struct field_info fields[EF_COUNT] = {
#define EVENT_X_INFO(id, n, p, f) [id] = { n, p, f },
	EVENT_FIELDS(EVENT_X_INFO)
#undef EVENT_X_INFO
};

struct kind_info {
	const char *name;
	uint32_t class_uid;
	uint32_t activity_id;
	const char *category;
};

static const struct kind_info kinds[EVENT_KIND_COUNT] = { [EVENT_NONE] = { "none", 0, 0, NULL },
#define EVENT_X_KINFO(id, n, cls, act, cat) [id] = { n, cls, act, cat },
							  EVENT_KINDS(EVENT_X_KINFO)
#undef EVENT_X_KINFO
};

void host_event_init(struct host_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

void host_event_reset(struct host_event *ev, enum event_kind kind, int64_t time_ns)
{
	ev->kind = kind;
	ev->time_ns = time_ns;
	ev->id = 0;
	ev->truncated = false;
	ev->present = 0;
	memset(ev->v, 0, sizeof(ev->v));
	ev->used = 0;
}

void host_event_free(struct host_event *ev)
{
	if (!ev)
		return;
	free(ev->arena);
	memset(ev, 0, sizeof(*ev));
}

/* Makes room for need more bytes, up to EVENT_MAX_BYTES in all. Growing moves the arena,
 * so the field pointers are rebased. Returns the bytes available (may be less than need),
 * or -ENOMEM. */
static ssize_t arena_reserve(struct host_event *ev, size_t need)
{
	size_t want = ev->used + need;

	if (want > EVENT_MAX_BYTES)
		want = EVENT_MAX_BYTES;
	if (want > ev->cap) {
		size_t cap = ev->cap ? ev->cap : 1024;
		while (cap < want)
			cap *= 2;
		if (cap > EVENT_MAX_BYTES)
			cap = EVENT_MAX_BYTES;
		char *n = xrealloc(ev->arena, cap);
		if (n != ev->arena)
			for (int f = 0; f < EF_COUNT; f++)
				if (ev->v[f].p)
					ev->v[f].p = n + (ev->v[f].p - ev->arena);
		ev->arena = n;
		ev->cap = cap;
	}
	return (ssize_t)(ev->cap - ev->used);
}

int host_event_set(struct host_event *ev, enum event_field f, const char *s, size_t len)
{
	if ((unsigned)f >= EF_COUNT)
		return -EINVAL;
	const char *nul = len ? memchr(s, '\0', len) : NULL;
	if (nul)
		len = (size_t)(nul - s);
	ssize_t room = arena_reserve(ev, len + 1);
	if (room < 0)
		return (int)room;
	if (room == 0) {
		ev->truncated = true;
		return 0;
	}
	if (len + 1 > (size_t)room) {
		len = (size_t)room - 1;
		ev->truncated = true;
	}
	char *dst = ev->arena + ev->used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	ev->used += len + 1;
	ev->v[f].p = dst;
	ev->v[f].len = (uint32_t)len;
	ev->present |= UINT64_C(1) << f;
	return 0;
}

int host_event_set_str(struct host_event *ev, enum event_field f, const char *s)
{
	return host_event_set(ev, f, s, strlen(s));
}

int host_event_set_int(struct host_event *ev, enum event_field f, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	return host_event_set(ev, f, tmp, (size_t)n);
}

int host_event_copy(struct host_event *dst, const struct host_event *src)
{
	host_event_reset(dst, src->kind, src->time_ns);
	dst->id = src->id;
	dst->truncated = src->truncated;
	for (int f = 0; f < EF_COUNT; f++) {
		if (!host_event_has(src, f))
			continue;
		int r = host_event_set(dst, f, src->v[f].p, src->v[f].len);
		if (r < 0)
			return r;
	}
	return 0;
}

const char *host_event_get(const struct host_event *ev, enum event_field f, size_t *len)
{
	if ((unsigned)f >= EF_COUNT || !host_event_has(ev, f)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = ev->v[f].len;
	return ev->v[f].p;
}

const char *event_field_name(enum event_field f)
{
	return (unsigned)f < EF_COUNT ? fields[f].name : NULL;
}

const char *event_field_ocsf_path(enum event_field f)
{
	return (unsigned)f < EF_COUNT ? fields[f].path : NULL;
}

unsigned event_field_flags(enum event_field f)
{
	return (unsigned)f < EF_COUNT ? fields[f].flags : 0;
}

int event_field_by_name(const char *name)
{
	for (int f = 0; f < EF_COUNT; f++)
		if (strcmp(fields[f].name, name) == 0)
			return f;
	return -ENOENT;
}

const char *event_kind_name(enum event_kind k)
{
	return (unsigned)k < EVENT_KIND_COUNT ? kinds[k].name : NULL;
}

int event_kind_by_name(const char *name)
{
	for (int k = 1; k < EVENT_KIND_COUNT; k++)
		if (strcmp(kinds[k].name, name) == 0)
			return k;
	return -ENOENT;
}

uint32_t event_kind_class_uid(enum event_kind k)
{
	return (unsigned)k < EVENT_KIND_COUNT ? kinds[k].class_uid : 0;
}

uint32_t event_kind_activity_id(enum event_kind k)
{
	return (unsigned)k < EVENT_KIND_COUNT ? kinds[k].activity_id : 0;
}

const char *event_kind_sigma_category(enum event_kind k)
{
	return (unsigned)k < EVENT_KIND_COUNT ? kinds[k].category : NULL;
}
