/* Reconnection delays: exponential backoff with jitter, capped (docs/agent.md, "Link").
 *
 * The n-th consecutive failure waits base * 2^n, at most cap, then multiplied by a random
 * factor in [1 - jitter, 1 + jitter]; a connection that stayed up long enough resets the
 * count. Pure: the caller supplies the random numbers, so the schedule is testable. */
#pragma once

#include "lib/common.h"

struct backoff {
	uint32_t base_ms;   /* first delay (1000) */
	uint32_t cap_ms;    /* largest delay before jitter (60000) */
	uint32_t jitter_pc; /* ± percent (20) */
	uint32_t failures;  /* consecutive failures so far */
};

/* Initialises b with base 1 s, cap 60 s, jitter ±20 %. */
void backoff_init(struct backoff *b);
/* Returns the delay before the next attempt and counts one more failure; rnd is a uniform
 * random 32-bit number. */
uint32_t backoff_next(struct backoff *b, uint32_t rnd);
/* Forgets the failures (the connection stayed up). */
void backoff_reset(struct backoff *b);
