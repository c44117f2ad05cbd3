/* Unit enablement read from systemd unit links (and SysV rc links), shared by the services,
 * firewall and time_sync collectors so that none depends on another having run. */
#pragma once

#include "inventory/inventory.h"

struct svc_set;

/* Scans the unit link directories below the root into a new set (the caller's, svc_set_free).
 * Missing directories add nothing; one that cannot be listed is recorded with inv_error()
 * against table. Never returns NULL. */
struct svc_set *svc_scan(struct inv_ctx *ctx, const char *table);
/* Frees a set; accepts NULL. */
void svc_set_free(struct svc_set *s);
static inline void svc_set_freep(struct svc_set **s)
{
	svc_set_free(*s);
}
/* Returns true when unit (full name, "chrony.service") is enabled and not masked. */
bool svc_enabled(const struct svc_set *s, const char *unit);
/* Returns true when any of the NULL-terminated units is enabled and not masked. */
bool svc_any_enabled(const struct svc_set *s, const char *const *units);
/* Returns the number of units in the set (sorted by name). */
size_t svc_count(const struct svc_set *s);
/* Returns the i-th unit's fields (borrowed): target is the comma-separated list of targets
 * that want the unit, NULL when it is not enabled. */
void svc_get(const struct svc_set *s, size_t i, const char **name, bool *enabled, bool *masked,
	     const char **target);
