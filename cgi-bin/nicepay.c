/* nicepay.fcgi: NicePay payment notifications for every payment method,
 * on one URL. */
#include "config.h"

#include "nicepay.h"

int
main(int argc, char **argv)
{
	return ph_endpoint_main(&ph_nicepay_endpoint, argc, argv);
}
