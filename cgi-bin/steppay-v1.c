/* steppay-v1.fcgi: StepPay's legacy order, subscription and payment-only
 * webhooks, on one URL. */
#include "config.h"

#include "steppay_v1.h"

int
main(int argc, char **argv)
{
	return ph_endpoint_main(&ph_steppay_v1_endpoint, argc, argv);
}
