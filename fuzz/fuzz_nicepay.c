/* NicePay notifications (lib/nicepay.c): classification, the signature
 * inside the body, and the payment snapshot's shape. With bit 0 of the
 * first byte set, the target signs the decoded body (tid, amount, ediDate)
 * with the configured key, as NicePay would, so that the fuzzer gets past
 * the signature; with it clear the body is taken as it is. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "harness.h"
#include "nicepay.h"

#define FUZZ_KEY "fuzz-nicepay-key"

static void
sign(struct json_object *body)
{
	struct json_object *tid, *amount, *edi;
	char digits[32], sig[PH_SHA256_HEX_LEN + 1];
	const char *a;

	if (!json_object_is_type(body, json_type_object) ||
	    !json_object_object_get_ex(body, "tid", &tid) ||
	    !json_object_object_get_ex(body, "amount", &amount) ||
	    !json_object_object_get_ex(body, "ediDate", &edi) ||
	    !json_object_is_type(tid, json_type_string) ||
	    !json_object_is_type(edi, json_type_string))
		return;
	if (json_object_is_type(amount, json_type_int)) {
		snprintf(digits, sizeof digits, "%" PRIu64, json_object_get_uint64(amount));
		a = digits;
	} else if (json_object_is_type(amount, json_type_string)) {
		a = json_object_get_string(amount);
	} else {
		return;
	}
	ph_nicepay_signature(json_object_get_string(tid), a, json_object_get_string(edi),
	    FUZZ_KEY, strlen(FUZZ_KEY), sig);
	json_object_object_add(body, "signature", json_object_new_string(sig));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ph_conf_key keys[] = {PH_CONF_NICEPAY_SECRET_KEY, PH_CONF__COUNT};
	static const char *const values[] = {"other-key," FUZZ_KEY};
	static struct ph_config *cfg;

	if (cfg == NULL)
		cfg = ph_fuzz_config(keys, values);
	if (size == 0)
		return 0;
	(void)ph_fuzz_endpoint(&ph_nicepay_endpoint, cfg, NULL, "", 0,
	    (const char *)data + 1, size - 1, (data[0] & 1) != 0 ? sign : NULL);
	return 0;
}
