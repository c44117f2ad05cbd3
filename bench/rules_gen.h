/* The generated rule set of bench/rules: plausible Linux Sigma rules (process_creation,
 * file_event, network_connection, sshd keywords) with varied images, command-line fragments,
 * paths and modifiers (some re, cidr, all, wildcards, filters with not). */
#pragma once

#include "lib/buf.h"

/* Appends n rules as one multi-document YAML text to out; the same seed gives the same set. */
void rules_gen(struct buf *out, unsigned n, uint64_t seed);
