/* The provider-neutral form of one delivery: the event record every
 * endpoint writes to payhook.webhook_events, plus the store action that
 * applies its state and that action's arguments.
 *
 * Parsers fill it; the store sends it; neither looks at the other's
 * business (no SQL in parsers, no JSON in the store). */
#ifndef PH_DELIVERY_H
#define PH_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "util.h"

#define PH_ACTION_ARGS_MAX 16   /* entity arguments of one store action */
#define PH_WARNINGS_MAX 512     /* bytes of warnings, newline-separated */
#define PH_SCRATCH_MAX 1024     /* bytes for arguments parsers format */
#define PH_EVENT_TYPE_MAX 64

/* A server-side function that applies one kind of delivery in one round
 * trip. Every action takes the event record first (one payhook.event_in
 * value, see store.c) and then nargs entity arguments as text; it returns
 * one row (event_id, outcome, detail). */
struct ph_store_action {
	const char *function;    /* "payhook.steppay_v1_subscription" */
	int nargs;
};

enum ph_tristate {
	PH_NULL = -1,
	PH_FALSE = 0,
	PH_TRUE = 1
};

struct ph_delivery {
	/* The event record. */
	const char *provider;               /* "steppay" | "nicepay" */
	const char *endpoint;               /* "steppay-v1" | ... | "sync" */
	char event_type[PH_EVENT_TYPE_MAX];
	const char *dedupe_key;             /* NULL: not deduplicated */
	char body_sha256[PH_SHA256_HEX_LEN + 1];
	size_t body_len;
	const char *payload;                /* JSON text; NULL: none kept */
	enum ph_tristate signature_valid;   /* PH_NULL: provider signs nothing */
	const char *remote_addr;
	char received_at[40];               /* ISO 8601 with offset */
	long long received_unix;            /* the same, in Unix seconds */
	const char *timezone;               /* provider_timezone: zone of
	                                     * provider times without offset */
	char warnings[PH_WARNINGS_MAX];     /* "" or lines joined by \n */

	/* What to apply: NULL for an event that is only recorded. */
	const struct ph_store_action *action;
	const char *arg[PH_ACTION_ARGS_MAX];
	char scratch[PH_SCRATCH_MAX];       /* storage for formatted args */
	size_t scratch_used;
};

/* Clears everything a parser fills, keeping nothing from the last request. */
void ph_delivery_reset(struct ph_delivery *d);

/* Appends a warning line (sanitized, cut to fit). */
void ph_delivery_warn(struct ph_delivery *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copies s into the delivery's scratch space and returns the copy, or NULL
 * when it does not fit. The copy lives as long as d. */
const char *ph_delivery_keep(struct ph_delivery *d, const char *s);

/* Describes how an event type is handled: the parser that turns the body
 * into action arguments, and the action. A provider's endpoint is a table
 * of these. */
struct json_object;
struct ph_event_desc {
	const char *event_type;
	enum ph_err (*parse)(struct json_object *body, struct ph_delivery *d,
	    char *err, size_t errlen);
	const struct ph_store_action *action;
};

/* The row for event_type in a table, or NULL. */
const struct ph_event_desc *ph_event_desc_find(const struct ph_event_desc *table,
    size_t n, const char *event_type);

#endif
