/* StepPay legacy (v1) webhooks: order, subscription and payment-only
 * notices on one URL. They carry ids only and are not signed; payhook
 * records them, applies the little they say, and marks each object for
 * verification by `payhook sync`. */
#ifndef PH_STEPPAY_V1_H
#define PH_STEPPAY_V1_H

#include <stdbool.h>

#include "endpoint.h"

extern const struct ph_endpoint ph_steppay_v1_endpoint;

/* True when status is one of the subscription statuses StepPay documents
 * (ACTIVE, UNPAID, ...). Others are stored as given, with a warning. */
bool ph_steppay_subscription_status_known(const char *status);

/* True when t is a documented webHookType (PAYMENT, VBANK, ...). */
bool ph_steppay_web_hook_type_known(const char *t);

#endif
