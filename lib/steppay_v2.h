/* StepPay v2 Webhook-Events: a signed envelope {timestamp, version, event,
 * data} whose data is a snapshot of one object (Order, Subscription, ...).
 * payhook checks the Steppay-Signature HMAC on the raw body, validates the
 * snapshot's ids, and hands it to the object's store action, which applies
 * it only when it is newer than what is stored. */
#ifndef PH_STEPPAY_V2_H
#define PH_STEPPAY_V2_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "err.h"

#define PH_STEPPAY_V2_SIG_LEN      44  /* Base64 of a 32-byte HMAC-SHA256 */
#define PH_STEPPAY_V2_MAX_KEYS     16  /* signatures in one header */
#define PH_STEPPAY_V2_MAX_SECRETS  16  /* secrets in steppay_v2_secret */

extern const struct ph_endpoint ph_steppay_v2_endpoint;

/* Verifies a Steppay-Signature header ("timestamp=T,key=S1;S2...") for
 * body against secrets, a comma-separated list: accepted when any key
 * equals Base64(HMAC-SHA256(secret, T "." body)) for any secret, compared
 * in constant time. On PH_OK *timestamp is T. PH_EAUTH when the header is
 * missing, malformed or matches nothing (err says which, never a secret);
 * PH_ECONFIG when secrets is empty. */
enum ph_err ph_steppay_v2_verify(const char *header, const char *secrets,
    const void *body, size_t body_len, uint64_t *timestamp, char *err, size_t errlen);

/* True when s is a StepPay LocalDateTime: YYYY-MM-DDTHH:MM:SS with 0-6
 * fractional digits and no zone. */
bool ph_steppay_local_time_valid(const char *s);

#endif
