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
/* accounts.c: users, shadow, groups, duplicates (after login_defs: reads UID_MIN). */
void collect_accounts(struct inv_ctx *ctx);
/* passwords.c: login_defs and pwquality. */
void collect_login_defs(struct inv_ctx *ctx);
void collect_pwquality(struct inv_ctx *ctx);
/* pam.c: pam. */
void collect_pam(struct inv_ctx *ctx);
/* sudoers.c: sudoers and sudoers_defaults. */
void collect_sudoers(struct inv_ctx *ctx);
/* authorized_keys.c: authorized_keys (after accounts: reads the users table). */
void collect_authorized_keys(struct inv_ctx *ctx);
