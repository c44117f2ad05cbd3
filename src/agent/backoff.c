#include "agent/backoff.h"

void backoff_init(struct backoff *b)
{
	*b = (struct backoff){ .base_ms = 1000, .cap_ms = 60000, .jitter_pc = 20 };
}

uint32_t backoff_next(struct backoff *b, uint32_t rnd)
{
	uint64_t d = b->base_ms;
	for (uint32_t i = 0; i < b->failures && d < b->cap_ms; i++)
		d *= 2;
	if (d > b->cap_ms)
		d = b->cap_ms;
	if (b->failures < UINT32_MAX)
		b->failures++;
	/* factor in [100 - jitter, 100 + jitter] percent, spread by rnd */
	uint64_t span = 2 * (uint64_t)b->jitter_pc;
	uint64_t pc = 100 - b->jitter_pc + (span ? (uint64_t)rnd * (span + 1) / (1ull << 32) : 0);
	return (uint32_t)(d * pc / 100);
}

void backoff_reset(struct backoff *b)
{
	b->failures = 0;
}
