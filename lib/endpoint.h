/* What every handler does, described by one struct per provider endpoint:
 * accept a request (FastCGI or plain CGI), check it, authenticate it,
 * decode and classify the body, parse it with the event table's row,
 * store it, answer, and log one line. cgi-bin/<endpoint>.c is a main()
 * that hands its struct to ph_endpoint_main().
 *
 * When the database cannot be reached, an authenticated delivery is
 * written to the spool (lib/spool.h) and answered as stored; while the
 * spool holds anything, new deliveries join it, so that they are applied
 * in the order received. Spooled deliveries go through the same steps
 * from decoding on, with the verification result they were spooled
 * with, by ph_endpoint_drain(): after a request, while a FastCGI handler
 * is idle, and from `payhook replay`. */
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
	/* State depends on arrival order (no version in the body): while
	 * the spool holds files, a live delivery joins them. Without it, a
	 * live delivery is stored at once; the version rules make its order
	 * against the spooled ones irrelevant. */
	bool ordered;
	const char *reply_type;      /* Content-Type of replies */
	/* Body of a 200 reply; NULL means the outcome and a newline. */
	const char *ok_body;
	/* Request headers authenticate reads, kept in a spooled delivery
	 * for the record (never a secret; the result is what replays).
	 * NULL-terminated; NULL: none. */
	const char *const *verified_headers;
};

/* The state of one request, passed explicitly to every step. */
struct ph_ctx {
	const struct ph_endpoint *ep;
	const struct ph_config *cfg;
	struct ph_request req;
	struct ph_store *store;
	struct ph_delivery d;
	int64_t started_us;
	int64_t received_us;       /* wall clock: spool file names */
	/* PAYHOOK_CONFIG of the last request ("" = the default), so that an
	 * idle handler drains the spool that requests use. */
	char config_path[1024];
	bool replaying;            /* a spool file: nothing to answer */
	int status;                /* the status finish() gave */
	enum ph_err error;         /* why, when status is not 200 */
	char message[PH_ERRLEN];   /* finish()'s message */
};

/* Every endpoint, for replaying spool files whichever wrote them. */
extern const struct ph_endpoint *const ph_endpoints[];
extern const size_t ph_nendpoints;

/* The endpoint named name ("steppay-v2"), or NULL. */
const struct ph_endpoint *ph_endpoint_find(const char *name);

struct ph_drain_stats {
	size_t applied;     /* stored: removed from the spool */
	size_t set_aside;   /* moved to failed/ */
	size_t left;        /* still waiting when the call returned */
	bool busy;          /* another process was draining */
};

/* Applies up to max (at most PH_SPOOL_BATCH) spooled deliveries from
 * cfg's spool_dir, oldest first, through store, when the spool holds any
 * and the database can be reached, under the spool's lock (another
 * drainer: returns at once, stats->busy). PH_OK when it ran or had
 * nothing to do; PH_EDBDOWN or PH_EDBBUSY when the database stopped it
 * (files stay); PH_EIO when the spool cannot be read. */
enum ph_err ph_endpoint_drain(struct ph_store *store, const struct ph_config *cfg,
    int max, struct ph_drain_stats *stats, char *err, size_t errlen);

/* Runs the handler: --help and --version, else serves FastCGI requests
 * until told to stop, or one plain-CGI request. Returns main()'s exit
 * status. */
int ph_endpoint_main(const struct ph_endpoint *ep, int argc, char **argv);

#endif
