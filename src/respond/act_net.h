/* Helpers of the network actions (act_net.c, docs/actions-network.md) that tests and the
 * fuzzer reach: addresses in canonical form and the resolv.conf reader. */
#pragma once

#include "lib/common.h"

#define NET_TABLE_DEFAULT "immune"
#define NET_MAX_RESOLVERS 8	    /* nameservers kept from each resolv.conf */
#define NET_ADDR_TEXT 64	    /* an address with its /prefix, and a NUL */
#define NET_RESOLV_CAP (64u * 1024) /* resolv.conf bytes read */

/* An IPv4 or IPv6 address or network with its host bits cleared. */
struct net_addr {
	int family;	       /* AF_INET or AF_INET6 */
	unsigned char bin[16]; /* the address, 4 or 16 bytes used */
	unsigned prefix;       /* 0..32 or 0..128 */
};

/* Parses "192.0.2.1", "192.0.2.0/24", "2001:db8::/32" (host bits are cleared). Returns 0
 * with *out, or -EINVAL. */
int net_addr_parse(const char *s, struct net_addr *out);
/* Writes a in the form nft reads and prints: "192.0.2.1" for a full-length prefix, else
 * "192.0.2.0/24". */
void net_addr_format(const struct net_addr *a, char out[NET_ADDR_TEXT]);
/* True when a and b are the same network. */
bool net_addr_eq(const struct net_addr *a, const struct net_addr *b);

/* Reads the "nameserver ADDRESS" lines of resolv.conf text (len bytes; NUL bytes, garbage
 * and unparseable lines are skipped; an IPv6 zone "%eth0" is dropped) into out, at most max.
 * Returns how many were stored. */
size_t net_resolv_parse(const char *text, size_t len, struct net_addr *out, size_t max);

/* True when name is a table name this code accepts: 1 to 32 of [a-z0-9_], starting with a
 * letter (it is written into nft commands). */
bool net_table_name_ok(const char *name);
