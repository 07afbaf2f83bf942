/* steppay-v2.fcgi: StepPay's signed Webhook-Events, every event type on
 * one URL. */
#include "config.h"

#include "steppay_v2.h"

int
main(int argc, char **argv)
{
	return ph_endpoint_main(&ph_steppay_v2_endpoint, argc, argv);
}
