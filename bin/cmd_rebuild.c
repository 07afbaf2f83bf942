/* payhook rebuild: recomputes the state tables from payhook.webhook_events.
 *
 * The replay happens here, in C, rather than in SQL, because the store
 * actions take arguments that only the handlers' parsers know how to
 * derive from a body: StepPay v1's ids as digits, StepPay v2's object
 * kind, keys and version inputs, NicePay's version (status rank, cancels,
 * balance, ediDate, body hash). Writing those again in SQL would be a
 * second parser that drifts from the first. So each stored payload goes
 * through the same lib/ parser as a live delivery, and the arguments go
 * to the same action through ph_store_apply() -- with the transaction-
 * local setting payhook.rebuild_event naming the event, which makes the
 * action read the log instead of writing it (sql/007_rebuild.sql).
 *
 * What the payload cannot give is taken from the row: body_sha256 (the
 * tie-breaker; the jsonb text is not the body that was hashed), dedupe
 * key, signature_valid (the keys may have changed since), received_at.
 *
 * A row of payhook sync (endpoint 'sync') has no parser: its action and
 * arguments come from the payload bin/cmd_sync.c wrote, in the same
 * event order. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "cli.h"
#include "conf.h"
#include "delivery.h"
#include "endpoint.h"
#include "json.h"
#include "nicepay.h"
#include "steppay_v1.h"
#include "steppay_v2.h"
#include "store.h"
#include "util.h"

#define PH_REBUILD_FETCH "500"      /* events read per round trip */
#define PH_REBUILD_KEYS_MAX 64      /* payment keys one --payment gathers */
#define PH_REBUILD_KEY_PASSES 4     /* passes to gather them */
#define PH_REBUILD_ARRAY_MAX 16384  /* bytes of the keys as an SQL array */

static const struct ph_endpoint *const endpoints[] = {
	&ph_steppay_v1_endpoint, &ph_steppay_v2_endpoint, &ph_nicepay_endpoint,
};

/* Which object a store action's arguments name: a fixed kind or the
 * argument holding it, the argument with the object's key, and the one
 * with its other key (StepPay's idKey). -1: none. */
struct target {
	const char *function;
	const char *kind;
	int kind_arg;
	int key_arg;
	int alt_arg;
};

static const struct target targets[] = {
	{"payhook.steppay_v1_order", "order", -1, 0, -1},
	{"payhook.steppay_v1_subscription", "subscription", -1, 0, -1},
	{"payhook.steppay_v1_payment", "payment", -1, -1, 0},
	{"payhook.steppay_v2_event", NULL, 0, 1, 2},
	{"payhook.nicepay_payment", "payment", -1, 0, -1},
	/* payhook sync's rows: a StepPay receipt names a payment by idKey. */
	{"payhook.steppay_sync", NULL, 0, 1, -1},
	{"payhook.nicepay_sync", "payment", -1, 0, -1},
};

/* The store actions of payhook sync's rows (bin/cmd_sync.c). */
static const struct ph_store_action steppay_sync_action = {"payhook.steppay_sync", 4};
static const struct ph_store_action nicepay_sync_action = {"payhook.nicepay_sync", 1};

/* The event rows a rebuild replays: those that changed state or were
 * judged against it when they arrived. applied and stale (a stale one
 * still adds history and cancels, and may apply when an event before it
 * is now read differently); for StepPay v1, duplicate too, since there it
 * means "the state already said so", not "the same body again". Rows
 * that applied nothing by rule -- rejected, failed, unverified, test,
 * unhandled -- stay unapplied. In id order: the order the actions ran
 * (a spooled delivery has an earlier received_at than its id says, but
 * was applied at its id's place); StepPay v1 depends on it, v2 and
 * NicePay do not. */
static const char events_sql[] =
    "DECLARE rebuild_events NO SCROLL CURSOR FOR "
    "SELECT id, provider, endpoint, event_type, dedupe_key, body_sha256, body_length, "
    "       payload::text, signature_valid, host(remote_addr), "
    "       to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "       outcome, extract(epoch FROM received_at)::text "
    "  FROM payhook.webhook_events "
    " WHERE payload IS NOT NULL "
    "   AND endpoint IN ('steppay-v1', 'steppay-v2', 'nicepay', 'sync') "
    "   AND ($1::text IS NULL OR provider = $1) "
    "   AND (outcome IN ('applied', 'stale') "
    "        OR (endpoint IN ('steppay-v1', 'sync') AND outcome = 'duplicate')) "
    " ORDER BY id";

enum {
	C_ID, C_PROVIDER, C_ENDPOINT, C_EVENT_TYPE, C_DEDUPE_KEY, C_BODY_SHA256,
	C_BODY_LENGTH, C_PAYLOAD, C_SIGNATURE_VALID, C_REMOTE_ADDR, C_RECEIVED_AT,
	C_OUTCOME, C_RECEIVED_EPOCH
};

struct keyset {
	char *key[PH_REBUILD_KEYS_MAX];
	size_t n;
};

struct rebuild {
	const struct ph_config *cfg;
	struct ph_store *store;
	PGconn *conn;
	const char *provider;       /* NULL: all */
	const char *object;         /* NULL, "order", "subscription", "payment" */
	struct keyset keys;         /* the object's keys (payment: every payment_key) */
	struct keyset alts;         /* payment: the idKeys that belong to it */
	bool dry_run;
	bool force;                 /* rebuild what a prune left partly */
	long replayed, skipped, differ;
	long by_outcome[3];         /* applied, stale, duplicate */
};

static bool
keyset_has(const struct keyset *ks, const char *k)
{
	size_t i;

	for (i = 0; k != NULL && i < ks->n; i++)
		if (strcmp(ks->key[i], k) == 0)
			return true;
	return false;
}

/* Adds k unless present; false when the set is full or memory is out. */
static bool
keyset_add(struct keyset *ks, const char *k, bool *added)
{
	if (k == NULL || keyset_has(ks, k))
		return true;
	if (ks->n == PH_REBUILD_KEYS_MAX || (ks->key[ks->n] = strdup(k)) == NULL)
		return false;
	ks->n++;
	*added = true;
	return true;
}

static void
keyset_free(struct keyset *ks)
{
	while (ks->n > 0)
		free(ks->key[--ks->n]);
}

static const char *
json_text(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A row of payhook sync: the action and its arguments as bin/cmd_sync.c
 * gave them, from the payload it wrote ({"kind", "key" or "tid",
 * "found", "fetchedAt", "data"}). Rows written before fetchedAt was kept
 * take the time they were stored, which follows the fetch closely. */
static enum ph_err
prepare_sync(struct rebuild *rb, PGresult *r, int row, struct ph_ctx *ctx,
    struct json_object *body, const struct target **t, char *err, size_t errlen)
{
	const char *provider = PQgetvalue(r, row, C_PROVIDER);
	const char *kind = json_text(body, "kind");
	const char *fetched = json_text(body, "fetchedAt");
	size_t i;

	ph_strlcpy(ctx->d.event_type, PQgetvalue(r, row, C_EVENT_TYPE), sizeof ctx->d.event_type);
	if (strcmp(provider, "steppay") == 0) {
		ctx->d.action = &steppay_sync_action;
		ctx->d.arg[0] = kind;
		ctx->d.arg[1] = json_text(body, "key");
		ctx->d.arg[2] = fetched != NULL ? fetched : PQgetvalue(r, row, C_RECEIVED_EPOCH);
		ctx->d.arg[3] = ctx->d.timezone != NULL ? ctx->d.timezone : "UTC";
	} else if (strcmp(provider, "nicepay") == 0) {
		ctx->d.action = &nicepay_sync_action;
		ctx->d.arg[0] = json_text(body, "tid");
	} else {
		return PH_OK;
	}
	if (kind == NULL || ctx->d.arg[0] == NULL ||
	    (ctx->d.action == &steppay_sync_action && ctx->d.arg[1] == NULL))
		return ph_fail(err, errlen, PH_EBADREQ, "sync row without kind or key");
	(void)rb;
	for (i = 0; i < PH_ARRAY_LEN(targets); i++)
		if (strcmp(targets[i].function, ctx->d.action->function) == 0)
			*t = &targets[i];
	return PH_OK;
}

/* One stored event, parsed again: the endpoint's own classify and parse
 * fill ctx->d as they did for the delivery. PH_OK with *t NULL: nothing
 * to apply (an event type the parsers no longer handle). The
 * delivery points into r and into *body, which the caller releases with
 * json_object_put(). */
static enum ph_err
prepare(struct rebuild *rb, PGresult *r, int row, struct ph_ctx *ctx,
    struct json_object **body, const struct target **t, char *err, size_t errlen)
{
	const char *endpoint = PQgetvalue(r, row, C_ENDPOINT);
	const char *payload = PQgetvalue(r, row, C_PAYLOAD);
	const struct ph_event_desc *desc;
	size_t i;
	enum ph_err e;

	*t = NULL;
	*body = NULL;
	memset(ctx, 0, sizeof *ctx);
	for (i = 0; i < PH_ARRAY_LEN(endpoints); i++)
		if (strcmp(endpoints[i]->policy.endpoint, endpoint) == 0)
			ctx->ep = endpoints[i];
	if (ctx->ep == NULL && strcmp(endpoint, "sync") != 0)
		return PH_OK;
	ctx->cfg = rb->cfg;
	ph_delivery_reset(&ctx->d);
	ctx->d.provider = PQgetvalue(r, row, C_PROVIDER);
	ctx->d.endpoint = endpoint;
	ctx->d.dedupe_key = PQgetisnull(r, row, C_DEDUPE_KEY) ? NULL :
	    PQgetvalue(r, row, C_DEDUPE_KEY);
	ph_strlcpy(ctx->d.body_sha256, PQgetvalue(r, row, C_BODY_SHA256),
	    sizeof ctx->d.body_sha256);
	ctx->d.body_len = (size_t)strtoull(PQgetvalue(r, row, C_BODY_LENGTH), NULL, 10);
	ctx->d.payload = payload;
	ctx->d.signature_valid = PQgetisnull(r, row, C_SIGNATURE_VALID) ? PH_NULL :
	    strcmp(PQgetvalue(r, row, C_SIGNATURE_VALID), "t") == 0 ? PH_TRUE : PH_FALSE;
	ctx->d.remote_addr = PQgetisnull(r, row, C_REMOTE_ADDR) ? NULL :
	    PQgetvalue(r, row, C_REMOTE_ADDR);
	ph_strlcpy(ctx->d.received_at, PQgetvalue(r, row, C_RECEIVED_AT),
	    sizeof ctx->d.received_at);
	/* The zone in force now: a rebuild after correcting
	 * provider_timezone reads every StepPay time again in the new one. */
	ctx->d.timezone = ph_config_get(rb->cfg, PH_CONF_PROVIDER_TIMEZONE);

	e = ph_json_parse(payload, strlen(payload), body, err, errlen);
	if (e == PH_OK && ctx->ep == NULL)
		return prepare_sync(rb, r, row, ctx, *body, t, err, errlen);
	if (e == PH_OK)
		e = ctx->ep->classify(ctx, *body, err, errlen);
	if (e != PH_OK)
		return e;
	if (strcmp(ctx->d.event_type, PQgetvalue(r, row, C_EVENT_TYPE)) != 0)
		fprintf(stderr, "%s: rebuild: event %s was recorded as %s and now reads as %s\n",
		    cli_progname, PQgetvalue(r, row, C_ID), PQgetvalue(r, row, C_EVENT_TYPE),
		    ctx->d.event_type);
	desc = ph_event_desc_find(ctx->ep->events, ctx->ep->nevents, ctx->d.event_type);
	if (desc == NULL)
		return PH_OK;
	e = desc->parse(*body, &ctx->d, err, errlen);
	if (e != PH_OK)
		return e;
	ctx->d.action = desc->action;
	for (i = 0; i < PH_ARRAY_LEN(targets); i++)
		if (strcmp(targets[i].function, desc->action->function) == 0)
			*t = &targets[i];
	return PH_OK;
}

static const char *
target_kind(const struct target *t, const struct ph_delivery *d)
{
	return t->kind != NULL ? t->kind : d->arg[t->kind_arg];
}

static const char *
target_arg(const struct ph_delivery *d, int i)
{
	return i >= 0 ? d->arg[i] : NULL;
}

/* Whether the event belongs to the object being rebuilt. */
static bool
in_scope(const struct rebuild *rb, const struct target *t, const struct ph_delivery *d)
{
	const char *kind = target_kind(t, d);

	if (rb->object == NULL)
		return true;
	/* A fetched StepPay receipt is a payment named by its idKey. */
	if (kind != NULL && strcmp(kind, "receipt") == 0)
		return strcmp(rb->object, "payment") == 0 &&
		    keyset_has(&rb->alts, target_arg(d, t->key_arg));
	if (kind == NULL || strcmp(kind, rb->object) != 0)
		return false;
	return keyset_has(&rb->keys, target_arg(d, t->key_arg)) ||
	    keyset_has(&rb->alts, target_arg(d, t->alt_arg));
}

/* What to do with each prepared event in one pass over the log. */
typedef enum ph_err (*visit_fn)(struct rebuild *rb, PGresult *r, int row,
    struct ph_ctx *ctx, const struct target *t, char *err, size_t errlen);

static enum ph_err
walk(struct rebuild *rb, visit_fn visit, char *err, size_t errlen)
{
	const char *params[1] = {rb->provider};
	PGresult *r;
	enum ph_err e = PH_OK;
	int n, i;

	r = PQexecParams(rb->conn, events_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		e = ph_fail(err, errlen, PH_EDB, "reading webhook_events: %s",
		    PQresultErrorMessage(r));
		PQclear(r);
		return e;
	}
	PQclear(r);
	do {
		r = PQexec(rb->conn, "FETCH " PH_REBUILD_FETCH " FROM rebuild_events");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			e = ph_fail(err, errlen, PH_EDB, "reading webhook_events: %s",
			    PQresultErrorMessage(r));
			PQclear(r);
			return e;
		}
		n = PQntuples(r);
		for (i = 0; i < n && e == PH_OK; i++) {
			struct ph_ctx ctx;
			struct json_object *body = NULL;
			const struct target *t = NULL;
			char inner[PH_ERRLEN];

			e = prepare(rb, r, i, &ctx, &body, &t, inner, sizeof inner);
			if (e != PH_OK)
				e = ph_fail(err, errlen, e, "event %s (%s): %s",
				    PQgetvalue(r, i, C_ID), PQgetvalue(r, i, C_EVENT_TYPE), inner);
			else
				e = visit(rb, r, i, &ctx, t, err, errlen);
			json_object_put(body);
		}
		PQclear(r);
	} while (e == PH_OK && n > 0);
	r = PQexec(rb->conn, "CLOSE rebuild_events");
	PQclear(r);
	return e;
}

/* --payment: a payment's rows are its paymentId (or tid), the
 * idkey:<idKey> row of its legacy notices, and any payment that carries
 * the same idKey. Collected from the log, a few passes deep. */
static bool keys_grew;

static enum ph_err
gather_payment_keys(struct rebuild *rb, PGresult *r, int row, struct ph_ctx *ctx,
    const struct target *t, char *err, size_t errlen)
{
	const char *key, *alt;
	const char *kind;
	bool ok = true;

	(void)r;
	(void)row;
	if (t == NULL || (kind = target_kind(t, &ctx->d)) == NULL ||
	    strcmp(kind, "payment") != 0)
		return PH_OK;
	key = target_arg(&ctx->d, t->key_arg);
	alt = target_arg(&ctx->d, t->alt_arg);
	if (keyset_has(&rb->keys, key))
		ok = keyset_add(&rb->alts, alt, &keys_grew);
	if (ok && keyset_has(&rb->alts, alt))
		ok = keyset_add(&rb->keys, key, &keys_grew);
	if (!ok)
		return ph_fail(err, errlen, PH_EDB, "more than %d payment keys", PH_REBUILD_KEYS_MAX);
	return PH_OK;
}

static enum ph_err
set_rebuild_event(struct rebuild *rb, const char *id, char *err, size_t errlen)
{
	const char *params[1] = {id};
	PGresult *r;
	enum ph_err e = PH_OK;

	r = PQexecParams(rb->conn, "SELECT set_config('payhook.rebuild_event', $1, true)",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		e = ph_fail(err, errlen, PH_EDB, "set_config: %s", PQresultErrorMessage(r));
	PQclear(r);
	return e;
}

static enum ph_err
replay(struct rebuild *rb, PGresult *r, int row, struct ph_ctx *ctx,
    const struct target *t, char *err, size_t errlen)
{
	static const char *const outcomes[] = {"applied", "stale", "duplicate"};
	const char *id = PQgetvalue(r, row, C_ID);
	const char *was = PQgetvalue(r, row, C_OUTCOME);
	struct ph_store_result res;
	char inner[PH_ERRLEN];
	enum ph_err e;
	size_t i;

	if (t == NULL || !in_scope(rb, t, &ctx->d)) {
		if (t == NULL)
			rb->skipped++;
		return PH_OK;
	}
	e = set_rebuild_event(rb, id, err, errlen);
	if (e != PH_OK)
		return e;
	memset(&res, 0, sizeof res);
	e = ph_store_apply(rb->store, rb->cfg, &ctx->d, &res, inner, sizeof inner);
	if (e != PH_OK)
		return ph_fail(err, errlen, e, "event %s (%s): %s", id, ctx->d.event_type, inner);
	rb->replayed++;
	for (i = 0; i < PH_ARRAY_LEN(outcomes); i++)
		if (strcmp(res.outcome, outcomes[i]) == 0)
			rb->by_outcome[i]++;
	if (strcmp(res.outcome, was) != 0) {
		rb->differ++;
		printf("event %s (%s): recorded %s, now %s: %s\n", id, ctx->d.event_type, was,
		    res.outcome, res.detail);
	}
	return PH_OK;
}

/* The keys of the rebuild's scope as an SQL text[] literal, in a static
 * buffer. */
static const char *
scope_array(struct rebuild *rb, char *err, size_t errlen)
{
	static char array[PH_REBUILD_ARRAY_MAX];
	struct keyset all;
	size_t i;
	bool grew = false, ok = true;

	/* The payment_keys of a payment include idkey:<idKey> for each idKey. */
	memset(&all, 0, sizeof all);
	for (i = 0; ok && i < rb->keys.n; i++)
		ok = keyset_add(&all, rb->keys.key[i], &grew);
	for (i = 0; ok && i < rb->alts.n; i++) {
		char k[PH_ID_MAX + 8];

		snprintf(k, sizeof k, "idkey:%s", rb->alts.key[i]);
		ok = keyset_add(&all, k, &grew);
	}
	if (!ok || !ph_pg_text_array((const char *const *)all.key, all.n, array, sizeof array)) {
		keyset_free(&all);
		ph_fail(err, errlen, PH_EDB, "too many keys");
		return NULL;
	}
	keyset_free(&all);
	return array;
}

/* After payhook prune, the state rows in scope first seen before the
 * events it deleted cannot be recomputed: a rebuild would remove or
 * rewrite them. Refused unless --force (or --dry-run, which shows what
 * would happen); with either, a warning. */
static enum ph_err
check_pruned(struct rebuild *rb, const char *array, char *err, size_t errlen)
{
	const char *params[3] = {rb->provider, rb->object, array};
	PGresult *h, *p = NULL;
	enum ph_err e = PH_OK;
	FILE *f;

	h = PQexecParams(rb->conn,
	    "SELECT sum(rows), string_agg(table_name || ' ' || rows, ', ' ORDER BY table_name) "
	    "  FROM payhook.pruned_history(NULL, $1, $2, $3::text[])",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(h) != PGRES_TUPLES_OK) {
		e = ph_fail(err, errlen, PH_EDB, "pruned_history: %s", PQresultErrorMessage(h));
		goto out;
	}
	if (PQgetisnull(h, 0, 0))
		goto out;
	p = PQexecParams(rb->conn,
	    "SELECT max(received_before)::text, sum(events_deleted), count(*) "
	    "  FROM payhook.prunes "
	    " WHERE $1::text IS NULL OR provider IS NULL OR provider = $1",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(p) != PGRES_TUPLES_OK || PQntuples(p) != 1) {
		e = ph_fail(err, errlen, PH_EDB, "payhook.prunes: %s", PQresultErrorMessage(p));
		goto out;
	}
	f = rb->force || rb->dry_run ? stdout : stderr;
	fprintf(f, "%s: %s: payhook prune deleted the events last received before %s "
	    "(%s events in %s prunes, see payhook.prunes); %s state rows in this rebuild's "
	    "scope were first seen before then and cannot be recomputed from the remaining "
	    "log (%s)",
	    f == stdout ? "rebuild" : cli_progname, f == stdout ? "warning" : "rebuild",
	    PQgetvalue(p, 0, 0), PQgetvalue(p, 0, 1), PQgetvalue(p, 0, 2), PQgetvalue(h, 0, 0),
	    PQgetvalue(h, 0, 1));
	if (f == stderr) {
		fprintf(f, ": refused; --dry-run shows what a rebuild would remove or change, "
		    "--force does it\n");
		e = ph_fail(err, errlen, PH_EDB, "refused after payhook prune");
	} else {
		fprintf(f, "%s\n", rb->force ? ": rebuilt from what remains (--force)" :
		    ": see below what --force would do");
	}
out:
	PQclear(h);
	PQclear(p);
	return e;
}

/* Runs rebuild_begin or reads rebuild_end's report. */
static enum ph_err
scope_call(struct rebuild *rb, bool begin, char *err, size_t errlen)
{
	const char *array = scope_array(rb, err, errlen);
	const char *params[3];
	PGresult *r;
	enum ph_err e = PH_OK;
	int row;

	if (array == NULL)
		return PH_EDB;
	params[0] = rb->provider;
	params[1] = rb->object;
	params[2] = array;
	r = PQexecParams(rb->conn, begin ?
	    "SELECT payhook.rebuild_begin($1, $2, $3::text[])" :
	    "SELECT table_name, removed, added FROM payhook.rebuild_end($1, $2, $3::text[])",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		e = ph_fail(err, errlen, PH_EDB, "%s: %s", begin ? "rebuild_begin" : "rebuild_end",
		    PQresultErrorMessage(r));
	} else if (begin) {
		printf("rebuild: %s rows of state cleared\n", PQgetvalue(r, 0, 0));
	} else {
		for (row = 0; row < PQntuples(r); row++)
			printf("rebuild: %s: %s rows no longer as they were, %s rows new or changed\n",
			    PQgetvalue(r, row, 0), PQgetvalue(r, row, 1), PQgetvalue(r, row, 2));
		if (PQntuples(r) == 0)
			printf("rebuild: the state tables are as they were\n");
		rb->differ += PQntuples(r);
	}
	PQclear(r);
	return e;
}

static enum ph_err
run(struct rebuild *rb, char *err, size_t errlen)
{
	char scratch[PH_ERRLEN];
	enum ph_err e;
	int pass;

	e = ph_store_begin(rb->store, rb->cfg, err, errlen);
	if (e != PH_OK)
		return e;
	rb->conn = ph_store_conn(rb->store);
	/* Deliveries wait until the rebuild ends, so that the log it reads
	 * is the whole log; the owner's own timeouts would cut it short. */
	if (!cli_exec_ok(rb->conn, "SET LOCAL statement_timeout = 0", "settings") ||
	    !cli_exec_ok(rb->conn, "SET LOCAL lock_timeout = 0", "settings") ||
	    !cli_exec_ok(rb->conn, "LOCK TABLE payhook.webhook_events IN SHARE MODE",
	    "locking webhook_events")) {
		e = ph_fail(err, errlen, PH_EDB, "cannot start the rebuild");
		goto fail;
	}
	if (rb->object != NULL && strcmp(rb->object, "payment") == 0) {
		if (strncmp(rb->keys.key[0], "idkey:", 6) == 0)
			keyset_add(&rb->alts, rb->keys.key[0] + 6, &keys_grew);
		for (pass = 0, keys_grew = true; keys_grew && pass < PH_REBUILD_KEY_PASSES; pass++) {
			keys_grew = false;
			e = walk(rb, gather_payment_keys, err, errlen);
			if (e != PH_OK)
				goto fail;
		}
	}
	{
		const char *array = scope_array(rb, err, errlen);

		e = array == NULL ? PH_EDB : check_pruned(rb, array, err, errlen);
	}
	if (e == PH_OK)
		e = scope_call(rb, true, err, errlen);
	if (e == PH_OK)
		e = walk(rb, replay, err, errlen);
	if (e == PH_OK)
		printf("rebuild: %ld events replayed (%ld applied, %ld stale, %ld duplicate), "
		    "%ld not applicable\n", rb->replayed, rb->by_outcome[0], rb->by_outcome[1],
		    rb->by_outcome[2], rb->skipped);
	if (e == PH_OK)
		e = scope_call(rb, false, err, errlen);
	if (e != PH_OK)
		goto fail;
	e = ph_store_end(rb->store, !rb->dry_run, err, errlen);
	if (e == PH_OK)
		printf("rebuild: %s\n", rb->dry_run ? "dry run: rolled back, nothing changed" :
		    "committed");
	return e;
fail:
	ph_store_end(rb->store, false, scratch, sizeof scratch);
	return e;
}

int
cmd_rebuild(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"database", required_argument, NULL, 'd'},
		{"provider", required_argument, NULL, 'p'},
		{"order", required_argument, NULL, 'o'},
		{"subscription", required_argument, NULL, 's'},
		{"payment", required_argument, NULL, 'y'},
		{"dry-run", no_argument, NULL, 'n'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct rebuild rb;
	struct ph_config *cfg;
	const char *config = NULL, *database = NULL, *key = NULL;
	char err[PH_ERRLEN];
	bool grew = false;
	int c, status = 1;

	memset(&rb, 0, sizeof rb);
	while ((c = getopt_long(argc, argv, "c:d:p:o:s:y:nfh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': database = optarg; break;
		case 'p': rb.provider = optarg; break;
		case 'o':
		case 's':
		case 'y':
			if (rb.object != NULL)
				cli_die_usage(self->usage);
			rb.object = c == 'o' ? "order" : c == 's' ? "subscription" : "payment";
			key = optarg;
			break;
		case 'n': rb.dry_run = true; break;
		case 'f': rb.force = true; break;
		case 'h': printf("usage: %s %s\n", cli_progname, self->usage); return 0;
		default: cli_die_usage(self->usage);
		}
	}
	if (optind != argc)
		cli_die_usage(self->usage);
	if (rb.provider != NULL && strcmp(rb.provider, "steppay") != 0 &&
	    strcmp(rb.provider, "nicepay") != 0) {
		fprintf(stderr, "%s: --provider is steppay or nicepay\n", cli_progname);
		return 2;
	}
	if (key != NULL && (*key == '\0' || strlen(key) >= PH_ID_MAX)) {
		fprintf(stderr, "%s: the --%s is 1 to %d bytes\n", cli_progname, rb.object,
		    PH_ID_MAX - 1);
		return 2;
	}
	if ((cfg = cli_load_config(config)) == NULL)
		return 1;
	if (database != NULL) {
		free(cfg->value[PH_CONF_DATABASE]);
		if ((cfg->value[PH_CONF_DATABASE] = strdup(database)) == NULL)
			goto out;
	}
	/* The owner role rebuilds: require_least_privilege is for handlers. */
	cfg->require_least_privilege = false;
	rb.cfg = cfg;
	if (key != NULL && !keyset_add(&rb.keys, key, &grew))
		goto out;
	if ((rb.store = ph_store_new("payhook rebuild")) == NULL)
		goto out;
	if (run(&rb, err, sizeof err) == PH_OK)
		status = 0;
	else
		fprintf(stderr, "%s: rebuild: %s (nothing changed)\n", cli_progname, err);
out:
	ph_store_free(rb.store);
	keyset_free(&rb.keys);
	keyset_free(&rb.alts);
	ph_config_free(cfg);
	return status;
}
