/* Lines of /proc/net/{tcp,tcp6,udp,udp6}. */
#pragma once

#include "lib/common.h"

#include <arpa/inet.h>

#define PROCNET_LINE_MAX 1024 /* longer lines are malformed */

struct procnet_entry {
	char address[INET6_ADDRSTRLEN]; /* local address as inet_ntop prints it */
	unsigned port;			/* local port */
	unsigned state;			/* socket state (0x0A TCP LISTEN, 0x07 UDP unconnected) */
	uint64_t inode;			/* socket inode */
};

/* Parses one entry line (not the header) of a /proc/net table of IPv6 (v6) or IPv4 addresses;
 * addresses are read in this machine's byte order, as the kernel writes them. Returns 1 for a
 * listening entry (TCP state 0A, UDP state 07: bound and unconnected), 0 for a well-formed
 * entry in another state, -EBADMSG for a malformed line. *e is written when 0 or 1 is
 * returned. */
int procnet_parse_line(const char *line, size_t len, bool v6, bool tcp, struct procnet_entry *e);
