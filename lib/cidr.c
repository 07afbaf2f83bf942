#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include "cidr.h"
#include "util.h"

/* The first 96 bits of an IPv4-mapped IPv6 address, ::ffff:0:0/96. */
static const unsigned char v4_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Separators between entries. Blanks of every kind, not only ' ', so a
 * list may be wrapped over lines in an environment variable. */
static bool
is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' ||
	    c == '\r' || c == '\v' || c == '\f';
}

/* Parses a textual address into family and 16 bytes (the rest zero).
 * The family is chosen by the presence of ':' so that inet_pton is asked
 * once and an IPv4 text never reaches the IPv6 parser. */
static bool
parse_addr(const char *s, int *family, unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (strchr(s, ':') == NULL) {
		*family = AF_INET;
		return inet_pton(AF_INET, s, addr) == 1;
	}
	*family = AF_INET6;
	return inet_pton(AF_INET6, s, addr) == 1;
}

bool
ph_ip_address_valid(const char *s)
{
	unsigned char addr[16];
	int family;

	return s != NULL && parse_addr(s, &family, addr);
}

static bool
is_v4_mapped(int family, const unsigned char addr[16])
{
	return family == AF_INET6 && memcmp(addr, v4_mapped, sizeof v4_mapped) == 0;
}

/* Turns ::ffff:a.b.c.d into a.b.c.d in place. */
static void
unmap(int *family, unsigned char addr[16])
{
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
}

/* Clears every bit of addr after the first prefix bits. */
static void
mask_host_bits(unsigned char addr[16], unsigned int prefix)
{
	unsigned int i = prefix / 8;

	if (prefix % 8 != 0) {
		addr[i] &= (unsigned char)(0xffu << (8 - prefix % 8));
		i++;
	}
	for (; i < 16; i++)
		addr[i] = 0;
}

/* True when the first prefix bits of a and net agree. */
static bool
prefix_equal(const unsigned char *a, const unsigned char *net, unsigned int prefix)
{
	unsigned int whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ net[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* Parses one entry, text[0..len), the idx-th (from 1) of the list. */
static enum ph_err
parse_entry(const char *text, size_t len, size_t idx, struct ph_cidr *c,
    char *err, size_t errlen)
{
	char buf[PH_CIDR_ENTRY_MAX], show[PH_CIDR_ENTRY_MAX];
	char *slash;
	unsigned int bits;
	uint64_t prefix;

	/* The entry is quoted in every message; config text may come from
	 * the environment, so it is made printable first. */
	ph_sanitize(show, sizeof show, text, len);
	if (len >= sizeof buf)
		return ph_fail(err, errlen, PH_ECONFIG,
		    "entry %zu '%s...' is too long to be an address", idx, show);
	memcpy(buf, text, len);
	buf[len] = '\0';

	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (!parse_addr(buf, &c->family, c->addr))
		return ph_fail(err, errlen, PH_ECONFIG,
		    "entry %zu '%s' is not an IPv4 or IPv6 address", idx, show);
	bits = c->family == AF_INET ? 32 : 128;

	if (slash == NULL)
		prefix = bits;
	else if (!ph_parse_u64(slash + 1, UINT32_MAX, &prefix))
		return ph_fail(err, errlen, PH_ECONFIG,
		    "entry %zu '%s': prefix length is not a number", idx, show);
	else if (prefix > bits)
		return ph_fail(err, errlen, PH_ECONFIG,
		    "entry %zu '%s': prefix length over %u", idx, show, bits);
	c->prefix = (unsigned int)prefix;

	/* Addresses to match are unmapped (see ph_cidr_list_match), so a
	 * block written in mapped form must become the IPv4 block it means,
	 * or it would never match. A shorter prefix would reach outside
	 * ::ffff:0:0/96 and mean IPv4 and IPv6 at once; refuse it rather
	 * than guess. */
	if (is_v4_mapped(c->family, c->addr)) {
		if (c->prefix < 96)
			return ph_fail(err, errlen, PH_ECONFIG,
			    "entry %zu '%s': an IPv4-mapped block needs a prefix of 96 "
			    "or more; write the IPv4 block instead", idx, show);
		unmap(&c->family, c->addr);
		c->prefix -= 96;
	}
	/* "10.1.2.3/8" is taken as 10.0.0.0/8, as most tools do: the
	 * writer's intent is plain and refusing it helps nobody. */
	mask_host_bits(c->addr, c->prefix);
	return PH_OK;
}

enum ph_err
ph_cidr_list_parse(const char *spec, struct ph_cidr_list *out, char *err,
    size_t errlen)
{
	const char *p = spec, *start;
	enum ph_err e;

	out->n = 0;
	if (spec == NULL)
		return PH_OK;
	for (;;) {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !is_sep(*p))
			p++;
		if (out->n == PH_CIDR_MAX) {
			e = ph_fail(err, errlen, PH_ECONFIG,
			    "entry %d: more than %d entries", PH_CIDR_MAX + 1, PH_CIDR_MAX);
			goto fail;
		}
		e = parse_entry(start, (size_t)(p - start), out->n + 1,
		    &out->v[out->n], err, errlen);
		if (e != PH_OK)
			goto fail;
		out->n++;
	}
	return PH_OK;
fail:
	/* Never leave half a list: a caller that ignored the error would
	 * otherwise enforce a shorter list than was written. */
	memset(out, 0, sizeof *out);
	return e;
}

bool
ph_cidr_list_match(const struct ph_cidr_list *list, const char *addr)
{
	unsigned char a[16];
	int family;
	size_t i;

	if (list == NULL || addr == NULL || !parse_addr(addr, &family, a))
		return false;
	if (is_v4_mapped(family, a))
		unmap(&family, a);
	for (i = 0; i < list->n; i++)
		if (list->v[i].family == family &&
		    prefix_equal(a, list->v[i].addr, list->v[i].prefix))
			return true;
	return false;
}
