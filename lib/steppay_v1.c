#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "json.h"
#include "steppay_v1.h"
#include "util.h"

/* The seven documented statuses, plus INCOMPLETE and QUEUEING, which
 * StepPay's own API uses for the same objects. */
static const char *const subscription_statuses[] = {
	"ACTIVE", "UNPAID", "PENDING_PAUSE", "PAUSE", "PENDING_CANCEL",
	"EXPIRED", "CANCELED", "INCOMPLETE", "QUEUEING",
};

static const char *const web_hook_types[] = {
	"PAYMENT", "VBANK", "CANCELED", "USER_CANCELED", "FAILED", "CMS", "BILLKEY",
};

bool
ph_steppay_subscription_status_known(const char *status)
{
	return ph_str_in(status, subscription_statuses, PH_ARRAY_LEN(subscription_statuses));
}

bool
ph_steppay_web_hook_type_known(const char *t)
{
	return ph_str_in(t, web_hook_types, PH_ARRAY_LEN(web_hook_types));
}

/* Store actions: server-side functions in sql/001_init.sql. */
static const struct ph_store_action order_action = {"payhook.steppay_v1_order", 2};
static const struct ph_store_action subscription_action = {"payhook.steppay_v1_subscription", 2};
static const struct ph_store_action payment_action = {"payhook.steppay_v1_payment", 3};

/* Copies the action's arguments into the delivery, in the action's order. */
static enum ph_err
keep_args(struct ph_delivery *d, const char *const *values, int n, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < n; i++) {
		d->arg[i] = ph_delivery_keep(d, values[i]);
		if (d->arg[i] == NULL)
			return ph_fail(err, errlen, PH_EBADREQ, "fields too long");
	}
	return PH_OK;
}

static void
warn_web_hook_type(struct ph_delivery *d, const char *type)
{
	if (!ph_steppay_web_hook_type_known(type))
		ph_delivery_warn(d, "unknown webHookType '%s' stored as given", type);
}

/* {"webHookType": "PAYMENT", "orderId": 90417}: a renewal order was paid. */
static enum ph_err
parse_order(struct json_object *body, struct ph_delivery *d, char *err, size_t errlen)
{
	char id[PH_ID_MAX];
	const char *type = NULL;
	enum ph_err e;

	e = ph_json_required_text(body, "webHookType", PH_ID_MAX, &type, err, errlen);
	if (e == PH_OK)
		e = ph_json_integer_id(body, "orderId", id, sizeof id, err, errlen);
	if (e != PH_OK)
		return e;
	warn_web_hook_type(d, type);
	if (strcmp(type, "PAYMENT") != 0)
		ph_delivery_warn(d, "order notice with webHookType '%s' does not mean paid; "
		    "left for payhook sync", type);
	return keep_args(d, (const char *const[]){id, type}, order_action.nargs, err, errlen);
}

/* {"id": 4021, "status": "UNPAID"}: a subscription's status changed. */
static enum ph_err
parse_subscription(struct json_object *body, struct ph_delivery *d, char *err, size_t errlen)
{
	char id[PH_ID_MAX];
	const char *status = NULL;
	enum ph_err e;

	e = ph_json_integer_id(body, "id", id, sizeof id, err, errlen);
	if (e == PH_OK)
		e = ph_json_required_text(body, "status", PH_ID_MAX,
		    &status, err, errlen);
	if (e != PH_OK)
		return e;
	if (!ph_steppay_subscription_status_known(status))
		ph_delivery_warn(d, "unknown subscription status '%s' stored as given", status);
	return keep_args(d, (const char *const[]){id, status}, subscription_action.nargs,
	    err, errlen);
}

/* {"webHookType": "PAYMENT", "orderId": 880231, "idKey": "..."}: a
 * payment-only ("Self") notice. orderId may be the merchant's own order
 * number, so it is text. */
static enum ph_err
parse_payment(struct json_object *body, struct ph_delivery *d, char *err, size_t errlen)
{
	char order[PH_ID_MAX], idkey[PH_ID_MAX];
	const char *type = NULL;
	enum ph_err e;

	e = ph_json_required_text(body, "webHookType", PH_ID_MAX, &type, err, errlen);
	if (e == PH_OK)
		e = ph_json_text_id(body, "orderId", order, sizeof order, err, errlen);
	if (e == PH_OK)
		e = ph_json_text_id(body, "idKey", idkey, sizeof idkey, err, errlen);
	if (e != PH_OK)
		return e;
	warn_web_hook_type(d, type);
	return keep_args(d, (const char *const[]){idkey, order, type}, payment_action.nargs,
	    err, errlen);
}

static const struct ph_event_desc events[] = {
	{"order", parse_order, &order_action},
	{"subscription", parse_subscription, &subscription_action},
	{"payment", parse_payment, &payment_action},
};

static bool
has(struct json_object *body, const char *key)
{
	return json_object_object_get_ex(body, key, NULL);
}

/* v1 bodies name no event: the three kinds are told apart by their
 * fields. idKey only appears in payment notices; webHookType without it
 * is an order notice; id/status is a subscription notice. */
static enum ph_err
classify(struct ph_ctx *ctx, struct json_object *body, char *err, size_t errlen)
{
	const char *kind;

	if (has(body, "idKey"))
		kind = "payment";
	else if (has(body, "webHookType") || has(body, "orderId"))
		kind = "order";
	else if (has(body, "id") || has(body, "status"))
		kind = "subscription";
	else
		return ph_fail(err, errlen, PH_EBADREQ, "not a StepPay legacy notice: "
		    "expected webHookType and orderId, id and status, or idKey");
	ph_strlcpy(ctx->d.event_type, kind, sizeof ctx->d.event_type);
	return PH_OK;
}

/* The optional ?token= of the URL: StepPay signs nothing, so this is the
 * merchant's own shared secret. */
static enum ph_err
check_token(struct ph_ctx *ctx, char *err, size_t errlen)
{
	const char *want = ph_config_get(ctx->cfg, PH_CONF_STEPPAY_V1_TOKEN);
	struct json_object *query = NULL, *tok = NULL;
	enum ph_err e;

	if (want == NULL)
		return PH_OK;
	e = ph_form_parse(ctx->req.query, strlen(ctx->req.query), &query, err, errlen);
	if (e != PH_OK)
		return ph_fail(err, errlen, PH_EAUTH, "token missing or unreadable");
	if (!json_object_object_get_ex(query, "token", &tok) ||
	    !json_object_is_type(tok, json_type_string))
		e = ph_fail(err, errlen, PH_EAUTH, "token missing");
	else if (!ph_ct_equal(json_object_get_string(tok),
	    (size_t)json_object_get_string_len(tok), want, strlen(want)))
		e = ph_fail(err, errlen, PH_EAUTH, "token wrong");
	json_object_put(query);
	return e;
}

static const char *const content_types[] = {
	"application/json", "application/x-www-form-urlencoded", NULL,
};

const struct ph_endpoint ph_steppay_v1_endpoint = {
	.provider = "steppay",
	.policy = {
		.endpoint = "steppay-v1",
		.content_types = content_types,
		.allow_empty_body = false,
		.allow_key = PH_CONF_ALLOW_FROM_STEPPAY_V1,
	},
	.authenticate = check_token,
	.classify = classify,
	.events = events,
	.nevents = PH_ARRAY_LEN(events),
	.dedupe = false,
	.ordered = true,
	.reply_type = "text/plain; charset=utf-8",
	.ok_body = NULL,
};
