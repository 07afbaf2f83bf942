#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "util.h"

#define PH_CIDR_ENTRY_MAX 64     /* bytes of one textual entry */

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses a textual address; an IPv4-mapped IPv6 address becomes IPv4. */
static bool
parse_addr(const char *s, int *family, unsigned char addr[16])
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		if (memcmp(addr, v4_mapped, sizeof v4_mapped) == 0) {
			memmove(addr, addr + 12, 4);
			*family = AF_INET;
		} else
			*family = AF_INET6;
		return true;
	}
	return false;
}

/* Clears the bits after prefix. */
static void
mask(unsigned char addr[16], unsigned int prefix, unsigned int bits)
{
	unsigned int i;

	for (i = prefix; i < bits; i++)
		addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned int prefix)
{
	unsigned int whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (unsigned char)(0xffu << (8 - rest))) == 0;
}

static enum ph_err
parse_entry(const char *text, struct ph_cidr *c, char *err, size_t errlen)
{
	char addr[PH_CIDR_ENTRY_MAX];
	const char *slash = strchr(text, '/');
	unsigned int bits;
	uint64_t prefix;
	size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);

	if (len >= sizeof addr)
		return ph_fail(err, errlen, PH_ECONFIG, "'%.64s' is not an address", text);
	memcpy(addr, text, len);
	addr[len] = '\0';
	memset(c->addr, 0, sizeof c->addr);
	if (!parse_addr(addr, &c->family, c->addr))
		return ph_fail(err, errlen, PH_ECONFIG, "'%.64s' is not an IPv4 or IPv6 address",
		    addr);
	bits = c->family == AF_INET ? 32 : 128;
	/* An IPv4-mapped entry's prefix counts the 96 mapping bits. */
	if (slash != NULL) {
		if (!ph_parse_u64(slash + 1, 128, &prefix))
			return ph_fail(err, errlen, PH_ECONFIG, "'%.64s': bad prefix length", text);
		if (c->family == AF_INET && strchr(addr, ':') != NULL) {
			if (prefix < 96)
				return ph_fail(err, errlen, PH_ECONFIG,
				    "'%.64s': prefix shorter than the IPv4 mapping", text);
			prefix -= 96;
		}
		if (prefix > bits)
			return ph_fail(err, errlen, PH_ECONFIG,
			    "'%.64s': prefix longer than %u bits", text, bits);
		c->prefix = (unsigned int)prefix;
	} else
		c->prefix = bits;
	mask(c->addr, c->prefix, bits);
	return PH_OK;
}

enum ph_err
ph_cidr_list_parse(const char *spec, struct ph_cidr_list *out, char *err, size_t errlen)
{
	const char *p = spec;
	enum ph_err e;

	out->n = 0;
	while (*p != '\0') {
		char entry[PH_CIDR_ENTRY_MAX];
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0)
			break;
		if (len >= sizeof entry)
			return ph_fail(err, errlen, PH_ECONFIG, "'%.64s...' is not an address", p);
		if (out->n == PH_CIDR_MAX)
			return ph_fail(err, errlen, PH_ECONFIG, "more than %d addresses",
			    PH_CIDR_MAX);
		memcpy(entry, p, len);
		entry[len] = '\0';
		if ((e = parse_entry(entry, &out->v[out->n], err, errlen)) != PH_OK)
			return e;
		out->n++;
		p += len;
	}
	return PH_OK;
}

bool
ph_cidr_list_match(const struct ph_cidr_list *list, const char *addr)
{
	unsigned char a[16];
	int family;
	size_t i;

	if (list == NULL || addr == NULL || !parse_addr(addr, &family, a))
		return false;
	for (i = 0; i < list->n; i++)
		if (list->v[i].family == family && prefix_equal(a, list->v[i].addr, list->v[i].prefix))
			return true;
	return false;
}
