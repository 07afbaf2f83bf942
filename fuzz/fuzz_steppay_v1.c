/* StepPay v1 notices (lib/steppay_v1.c) as the handler parses them.
 * The first byte chooses: bit 0 the content type (JSON or form), bit 1
 * whether steppay_v1_token is set, in which case the input up to the
 * first newline is the query string that must carry it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "steppay_v1.h"

#define FUZZ_TOKEN "fuzz-token"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ph_conf_key plain_keys[] = {PH_CONF__COUNT};
	static const enum ph_conf_key token_keys[] = {PH_CONF_STEPPAY_V1_TOKEN, PH_CONF__COUNT};
	static const char *const token_values[] = {FUZZ_TOKEN};
	static struct ph_config *plain, *token;
	const char *body, *nl;
	char *query;
	size_t len, qlen = 0;
	unsigned mode;

	if (plain == NULL) {
		plain = ph_fuzz_config(plain_keys, NULL);
		token = ph_fuzz_config(token_keys, token_values);
	}
	if (size == 0)
		return 0;
	mode = data[0];
	body = (const char *)data + 1;
	len = size - 1;
	if ((mode & 2) != 0 && (nl = memchr(body, '\n', len)) != NULL) {
		qlen = (size_t)(nl - body);
		query = strndup(body, qlen);
		body = nl + 1;
		len -= qlen + 1;
	} else {
		query = strdup((mode & 2) != 0 ? "token=" FUZZ_TOKEN : "");
	}
	if (query == NULL)
		abort();
	(void)ph_fuzz_endpoint(&ph_steppay_v1_endpoint, (mode & 2) != 0 ? token : plain,
	    NULL, query, (int)(mode & 1), body, len, NULL);
	free(query);
	return 0;
}
