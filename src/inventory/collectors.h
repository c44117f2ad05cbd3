/* The collectors: each fills one or more inventory tables from files below the root.
 * Every collector returns 0; what it cannot read it records with inv_error(). */
#pragma once

#include "inventory/inventory.h"

struct inv_collector {
	const char *name;
	const char *const *tables; /* tables it fills, NULL-terminated */
	void (*collect)(struct inv_ctx *ctx);
};

/* Returns the collectors in the order they run, and their number in *n. */
const struct inv_collector *inv_collectors(size_t *n);

void collect_os(struct inv_ctx *ctx);
void collect_packages(struct inv_ctx *ctx);
void collect_sshd_config(struct inv_ctx *ctx);
void collect_kernel_modules(struct inv_ctx *ctx);
void collect_sysctl(struct inv_ctx *ctx);
