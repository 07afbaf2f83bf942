/* The configuration parser (lib/conf.c) and every typed value it checks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "harness.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_config *cfg;
	char err[PH_ERRLEN];
	size_t i;

	cfg = ph_config_parse("fuzz.conf", (const char *)data, size, err, sizeof err);
	if (cfg == NULL) {
		if (strlen(err) >= sizeof err)
			abort();
		return 0;
	}
	if (cfg->max_body_bytes > PH_MAX_BODY_LIMIT)
		abort();
	for (i = 0; i < PH_CONF__COUNT; i++) {
		(void)ph_config_get(cfg, (enum ph_conf_key)i);
		if (cfg->cidr[i].n > PH_CIDR_MAX)
			abort();
	}
	(void)ph_config_allowlist(cfg, PH_CONF_ALLOW_FROM_NICEPAY);
	ph_config_free(cfg);
	return 0;
}
