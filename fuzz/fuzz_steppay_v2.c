/* StepPay v2 Webhook-Events (lib/steppay_v2.c): the Steppay-Signature
 * header and its HMAC check, then the envelope and snapshot parsers.
 * The first byte chooses: with bit 0 set the target signs the rest of
 * the input with the configured secret, as StepPay would, so the fuzzer
 * reaches the parsers; with it clear, the input up to the first newline
 * is the header and the rest the body, which fuzzes the header parser
 * and the verification path. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "harness.h"
#include "steppay_v2.h"

#define FUZZ_SECRET "fuzz-secret"
#define FUZZ_SIGNED_AT "1772414100"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ph_conf_key keys[] = {PH_CONF_STEPPAY_V2_SECRET,
	    PH_CONF_STEPPAY_V2_MAX_AGE, PH_CONF__COUNT};
	static const char *const values[] = {"old-secret, " FUZZ_SECRET, "600"};
	static struct ph_config *cfg;
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned int mdlen = 0;
	const char *body, *nl;
	char *header, *env[2];
	size_t len, hlen;
	unsigned char *msg;

	if (cfg == NULL)
		cfg = ph_fuzz_config(keys, values);
	if (size == 0)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	if ((data[0] & 1) != 0) {
		/* HMAC-SHA256(secret, timestamp "." body), as StepPay signs. */
		msg = malloc(strlen(FUZZ_SIGNED_AT ".") + len + 1);
		if (msg == NULL)
			abort();
		memcpy(msg, FUZZ_SIGNED_AT ".", strlen(FUZZ_SIGNED_AT "."));
		memcpy(msg + strlen(FUZZ_SIGNED_AT "."), body, len);
		if (HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET), msg,
		    strlen(FUZZ_SIGNED_AT ".") + len, md, &mdlen) == NULL)
			abort();
		free(msg);
		EVP_EncodeBlock(b64, md, (int)mdlen);
		hlen = strlen("HTTP_STEPPAY_SIGNATURE=timestamp=" FUZZ_SIGNED_AT ",key=") +
		    strlen((char *)b64) + 1;
		header = malloc(hlen);
		if (header == NULL)
			abort();
		snprintf(header, hlen, "HTTP_STEPPAY_SIGNATURE=timestamp=%s,key=%s",
		    FUZZ_SIGNED_AT, (char *)b64);
	} else {
		nl = memchr(body, '\n', len);
		hlen = nl != NULL ? (size_t)(nl - body) : len;
		header = malloc(hlen + sizeof "HTTP_STEPPAY_SIGNATURE=");
		if (header == NULL)
			abort();
		memcpy(header, "HTTP_STEPPAY_SIGNATURE=", sizeof "HTTP_STEPPAY_SIGNATURE=" - 1);
		memcpy(header + sizeof "HTTP_STEPPAY_SIGNATURE=" - 1, body, hlen);
		header[sizeof "HTTP_STEPPAY_SIGNATURE=" - 1 + hlen] = '\0';
		if (nl != NULL) {
			body = nl + 1;
			len -= hlen + 1;
		} else {
			len = 0;
		}
	}
	env[0] = header;
	env[1] = NULL;
	(void)ph_fuzz_endpoint(&ph_steppay_v2_endpoint, cfg, env, "", 0, body, len, NULL);
	free(header);
	return 0;
}
