/* Address allowlists (lib/cidr.c): the list parser, the matcher and the
 * address check, and the client address behind trusted proxies
 * (lib/request.c, X-Forwarded-For). The input is "spec\naddress\nxff":
 * spec is the allowlist and the trusted proxies, address the peer. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "harness.h"
#include "request.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_cidr_list list;
	char err[PH_ERRLEN], *text, *addr, *xff, client[PH_ADDR_MAX];
	size_t i;

	text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	addr = strchr(text, '\n');
	if (addr != NULL)
		*addr++ = '\0';
	else
		addr = text;
	xff = strchr(addr, '\n');
	if (xff != NULL)
		*xff++ = '\0';
	if (ph_cidr_list_parse(text, &list, err, sizeof err) == PH_OK) {
		if (list.n > PH_CIDR_MAX)
			abort();
		for (i = 0; i < list.n; i++)
			if ((list.v[i].family == 2 /* AF_INET */ && list.v[i].prefix > 32) ||
			    list.v[i].prefix > 128)
				abort();
		(void)ph_cidr_list_match(&list, addr);
		ph_client_address(addr, xff, &list, client, sizeof client);
		if (strlen(client) >= sizeof client)
			abort();
	} else if (list.n != 0 || strlen(err) >= sizeof err) {
		abort();    /* a failed list must never be usable */
	}
	(void)ph_ip_address_valid(addr);
	free(text);
	return 0;
}
