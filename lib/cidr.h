/* Address allowlists: IPv4 and IPv6 CIDR blocks, parsed once from the
 * configuration and matched against REMOTE_ADDR. Fixed size, no
 * allocation, so a list lives inside struct ph_config. */
#ifndef PH_CIDR_H
#define PH_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define PH_CIDR_MAX       64   /* entries in one list */
#define PH_CIDR_ENTRY_MAX 64   /* bytes of one textual entry, "addr/prefix" */

/* One block. family is AF_INET (4 bytes of addr used) or AF_INET6; the
 * bits of addr beyond prefix are always zero. An entry written as an
 * IPv4-mapped IPv6 block (::ffff:a.b.c.d/96..128) is kept as the
 * equivalent IPv4 block, so it means what the writer meant; a mapped
 * block with a shorter prefix is refused. */
struct ph_cidr {
	int		family;
	unsigned char	addr[16];
	unsigned int	prefix;
};

struct ph_cidr_list {
	struct ph_cidr	v[PH_CIDR_MAX];
	size_t		n;
};

/* Parses a comma- and/or whitespace-separated list such as
 * "121.133.126.0/24, 2001:db8::/32, 10.0.0.1". A bare address means /32
 * or /128; host bits beyond the prefix are allowed and masked off. An
 * empty or all-blank spec gives n = 0, which callers read as "no
 * restriction". On failure (PH_ECONFIG: bad address, bad or out-of-range
 * prefix, too many entries) err names the entry and out->n is 0 -- which
 * would mean "allow all", so a failed list must never be used. */
enum ph_err ph_cidr_list_parse(const char *spec, struct ph_cidr_list *out,
    char *err, size_t errlen);

/* True when addr (textual IPv4 or IPv6, as in REMOTE_ADDR) is inside any
 * entry. An IPv4-mapped IPv6 address ("::ffff:1.2.3.4", what a dual-stack
 * socket reports for an IPv4 peer) is matched as the IPv4 address it
 * carries, and only as that. Unparseable addr (including a zone suffix or
 * brackets) gives false. */
bool ph_cidr_list_match(const struct ph_cidr_list *list, const char *addr);

/* True when s is a textual IPv4 or IPv6 address (what PostgreSQL's inet
 * will take for a client address). */
bool ph_ip_address_valid(const char *s);

#endif
