/* What every handler does, described by one struct per provider endpoint:
 * accept a request (FastCGI or plain CGI), check it, authenticate it,
 * decode and classify the body, parse it with the event table's row,
 * store it, answer, and log one line. cgi-bin/<endpoint>.c is a main()
 * that hands its struct to ph_endpoint_main(). */
#ifndef PH_ENDPOINT_H
#define PH_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "delivery.h"
#include "err.h"
#include "request.h"
#include "store.h"

struct json_object;
struct ph_ctx;

struct ph_endpoint {
	const char *provider;        /* "steppay" */
	struct ph_policy policy;     /* request checks; policy.endpoint names it */
	/* Decides authenticity before the body is parsed. PH_OK, PH_EAUTH
	 * (answered 401 and recorded as rejected) or PH_ECONFIG (503). Sets
	 * d->signature_valid where the provider signs. NULL: none. */
	enum ph_err (*authenticate)(struct ph_ctx *ctx, char *err, size_t errlen);
	/* Names the event type of a decoded body in ctx->d.event_type;
	 * PH_EBADREQ when the body is not one of this endpoint's. body is
	 * NULL for an empty body (only where policy.allow_empty_body). */
	enum ph_err (*classify)(struct ph_ctx *ctx, struct json_object *body,
	    char *err, size_t errlen);
	/* Decides authenticity after classify, for providers that sign inside
	 * the body. Same results as authenticate. NULL: none. */
	enum ph_err (*verify)(struct ph_ctx *ctx, struct json_object *body,
	    char *err, size_t errlen);
	/* Applied instead of recording "rejected" when authenticate or verify
	 * says PH_EAUTH, with the reason as its one argument, for providers
	 * where the database decides (a NicePay registration window). Its
	 * outcome "rejected" is answered 401; any other outcome 200. NULL:
	 * recorded as rejected, 401. */
	const struct ph_store_action *auth_failure_action;
	const struct ph_event_desc *events;
	size_t nevents;
	bool dedupe;                 /* dedupe_key = SHA-256 of the body */
	const char *reply_type;      /* Content-Type of replies */
	/* Body of a 200 reply; NULL means the outcome and a newline. */
	const char *ok_body;
};

/* The state of one request, passed explicitly to every step. */
struct ph_ctx {
	const struct ph_endpoint *ep;
	const struct ph_config *cfg;
	struct ph_request req;
	struct ph_store *store;
	struct ph_delivery d;
	int64_t started_us;
};

/* Runs the handler: --help and --version, else serves FastCGI requests
 * until told to stop, or one plain-CGI request. Returns main()'s exit
 * status. */
int ph_endpoint_main(const struct ph_endpoint *ep, int argc, char **argv);

#endif
