#include "config.h"

#include <string.h>

#include "form.h"
#include "json.h"
#include "steppay_v1.h"
#include "tap.h"

static struct ph_ctx ctx;

/* Classifies and parses a JSON body the way the handler does; returns the
 * error and leaves the delivery in ctx.d. */
static enum ph_err
run(const char *body, int form)
{
	const struct ph_endpoint *ep = &ph_steppay_v1_endpoint;
	const struct ph_event_desc *desc;
	struct json_object *o = NULL;
	char err[PH_ERRLEN];
	enum ph_err e;

	ph_delivery_reset(&ctx.d);
	e = form ? ph_form_parse(body, strlen(body), &o, err, sizeof err) :
	    ph_json_parse(body, strlen(body), &o, err, sizeof err);
	if (e == PH_OK)
		e = ep->classify(&ctx, o, err, sizeof err);
	if (e == PH_OK) {
		desc = ph_event_desc_find(ep->events, ep->nevents, ctx.d.event_type);
		e = desc == NULL ? PH_EBADREQ : desc->parse(o, &ctx.d, err, sizeof err);
		if (e == PH_OK)
			ctx.d.action = desc->action;
	}
	json_object_put(o);
	return e;
}

int
main(void)
{
	is_int(run("{\"webHookType\":\"PAYMENT\",\"orderId\":90417}", 0), PH_OK, "order notice");
	is_str(ctx.d.event_type, "order", "order classified");
	is_str(ctx.d.action->function, "payhook.steppay_v1_order", "order action");
	is_str(ctx.d.arg[0], "90417", "order id");
	is_str(ctx.d.arg[1], "PAYMENT", "order webHookType");
	is_str(ctx.d.warnings, "", "no warning for a PAYMENT order");

	is_int(run("{\"id\":4021,\"status\":\"UNPAID\"}", 0), PH_OK, "subscription notice");
	is_str(ctx.d.event_type, "subscription", "subscription classified");
	is_str(ctx.d.arg[0], "4021", "subscription id");
	is_str(ctx.d.arg[1], "UNPAID", "subscription status");

	is_int(run("{\"id\":4021,\"status\":\"QUEUEING\"}", 0), PH_OK, "QUEUEING accepted");
	is_str(ctx.d.warnings, "", "QUEUEING is known");
	is_int(run("{\"id\":4021,\"status\":\"FROZEN\"}", 0), PH_OK, "unknown status kept");
	is_str(ctx.d.warnings, "unknown subscription status 'FROZEN' stored as given",
	    "unknown status flagged");
	is_int(run("{\"id\":4021}", 0), PH_EBADREQ, "missing status refused");
	is_int(run("{\"id\":4021,\"status\":7}", 0), PH_EBADREQ, "numeric status refused");
	is_int(run("{\"id\":4021,\"status\":null}", 0), PH_EBADREQ, "null status refused");
	is_int(run("{\"id\":\"x1\",\"status\":\"ACTIVE\"}", 0), PH_EBADREQ, "non-integer id refused");
	is_int(run("{\"id\":1.5,\"status\":\"ACTIVE\"}", 0), PH_EBADREQ, "fractional id refused");
	is_int(run("{\"status\":\"ACTIVE\"}", 0), PH_EBADREQ, "missing id refused");

	is_int(run("{\"webHookType\":\"PAYMENT\",\"orderId\":880231,"
	    "\"idKey\":\"1718236799412aB3dE5fG7hJ9kL1m\"}", 0), PH_OK, "payment notice");
	is_str(ctx.d.event_type, "payment", "payment classified");
	is_str(ctx.d.arg[0], "1718236799412aB3dE5fG7hJ9kL1m", "payment idKey");
	is_str(ctx.d.arg[1], "880231", "payment orderId as text");
	is_str(ctx.d.arg[2], "PAYMENT", "payment webHookType");
	is_int(run("webHookType=PAYMENT&orderId=880231&idKey=1718236799412aB3dE5fG7hJ9kL1m", 1),
	    PH_OK, "payment notice as a form");
	is_str(ctx.d.arg[1], "880231", "form orderId same as JSON");
	is_int(run("{\"webHookType\":\"PAYMENT\",\"orderId\":\"ORD-2024-001\",\"idKey\":\"k\"}", 0),
	    PH_OK, "merchant's own order number accepted");
	is_int(run("{\"webHookType\":\"REFUNDED\",\"orderId\":1,\"idKey\":\"k\"}", 0), PH_OK,
	    "unknown webHookType kept");
	ok(strstr(ctx.d.warnings, "unknown webHookType 'REFUNDED'") != NULL,
	    "unknown webHookType flagged");
	is_int(run("{\"webHookType\":\"PAYMENT\",\"idKey\":\"k\"}", 0), PH_EBADREQ,
	    "payment without orderId refused");
	is_int(run("{\"webHookType\":\"PAYMENT\",\"orderId\":1,\"idKey\":\"\"}", 0), PH_EBADREQ,
	    "empty idKey refused");
	is_int(run("{\"foo\":1}", 0), PH_EBADREQ, "unrecognised body refused");
	is_int(run("{\"webHookType\":\"PAYMENT\"}", 0), PH_EBADREQ, "order without orderId refused");

	ok(ph_steppay_subscription_status_known("PENDING_CANCEL"), "PENDING_CANCEL known");
	ok(!ph_steppay_subscription_status_known("active"), "status match is exact");
	return done_testing();
}
