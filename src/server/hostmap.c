/* Host id -> connection table (see hostmap.h). */
#include "server/hostmap.h"
#include "server/server_int.h"

static size_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static size_t find_slot(const struct hostmap *m, const char *host_id)
{
	size_t mask = m->cap - 1;
	size_t i = hash_id(host_id) & mask;
	while (m->slots[i] && strcmp(m->slots[i]->host_id, host_id) != 0)
		i = (i + 1) & mask;
	return i;
}

struct conn *hostmap_get(const struct hostmap *m, const char *host_id)
{
	if (m->n == 0)
		return NULL;
	return m->slots[find_slot(m, host_id)];
}

static void grow(struct hostmap *m)
{
	struct hostmap bigger = { .cap = m->cap ? m->cap * 2 : 64 };
	bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i]) {
			bigger.slots[find_slot(&bigger, m->slots[i]->host_id)] = m->slots[i];
			bigger.n++;
		}
	free(m->slots);
	*m = bigger;
}

struct conn *hostmap_put(struct hostmap *m, struct conn *c)
{
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	size_t i = find_slot(m, c->host_id);
	struct conn *old = m->slots[i];
	m->slots[i] = c;
	if (!old)
		m->n++;
	return old;
}

void hostmap_remove(struct hostmap *m, struct conn *c)
{
	if (m->n == 0)
		return;
	size_t mask = m->cap - 1;
	size_t i = find_slot(m, c->host_id);
	if (m->slots[i] != c)
		return;
	m->slots[i] = NULL;
	m->n--;
	/* backward shift: move later members of the run into the hole when that brings them
	 * no further from their home slot */
	for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
		size_t home = hash_id(m->slots[j]->host_id) & mask;
		bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			m->slots[i] = m->slots[j];
			m->slots[j] = NULL;
			i = j;
		}
	}
}

void hostmap_free(struct hostmap *m)
{
	free(m->slots);
	*m = (struct hostmap){ 0 };
}
