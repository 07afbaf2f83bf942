/* payhook sync: confirms with the providers' APIs what unauthenticated or
 * unconfirmed deliveries said. Each object waiting for verification
 * (sql/006_sync.sql, payhook.sync_queue) is fetched, recorded as a
 * webhook_events row with endpoint 'sync' and applied through the same
 * store functions as the webhooks, in one round trip per object.
 *
 * Fetches run a few at a time (--jobs), each bounded by the API client's
 * timeouts and attempts; the database writes are made one by one from the
 * main thread. A session advisory lock keeps two runs from overlapping. */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api.h"
#include "cli.h"
#include "delivery.h"
#include "nicepay.h"
#include "store.h"
#include "util.h"

#define PH_SYNC_LOCK_KEY   "7170686f6f6b73"   /* pg_try_advisory_lock key */
#define PH_SYNC_JOBS       4
#define PH_SYNC_JOBS_MAX   16
#define PH_SYNC_LIMIT      1000               /* objects per run */
#define PH_SYNC_LIMIT_MAX  100000

/* Exit statuses (payhook(1)). */
enum {
	SYNC_EXIT_OK = 0,        /* every object answered (verified, failed or stale) */
	SYNC_EXIT_CANNOT = 1,    /* configuration or database: nothing done */
	SYNC_EXIT_USAGE = 2,
	SYNC_EXIT_PARTIAL = 3    /* some objects could not be checked; retry later */
};

/* How a queue entry is fetched: a row per kind. */
struct sync_kind {
	const char *provider;
	const char *kind;
	enum ph_api_provider api;
	const char *path_prefix;
	const struct ph_store_action *action;
};

static const struct ph_store_action steppay_sync_action = {"payhook.steppay_sync", 4};
static const struct ph_store_action nicepay_sync_action = {"payhook.nicepay_sync", 1};

static const struct sync_kind kinds[] = {
	{"steppay", "order", PH_API_STEPPAY, "/api/v1/orders/", &steppay_sync_action},
	{"steppay", "subscription", PH_API_STEPPAY, "/api/v1/subscriptions/", &steppay_sync_action},
	{"steppay", "receipt", PH_API_STEPPAY, "/api/payment/receipt/", &steppay_sync_action},
	{"nicepay", "payment", PH_API_NICEPAY, "/v1/payments/", &nicepay_sync_action},
};

struct sync_item {
	const struct sync_kind *k;
	const char *key;                 /* belongs to the queue's PGresult */
	struct ph_api *api;              /* this worker's client, or NULL */
	const char *api_err;             /* why there is no client */
	enum ph_api_result result;
	struct ph_api_reply reply;
	char fetched_at[32];             /* Unix seconds.micro */
	char err[PH_API_ERRLEN];
};

static const struct sync_kind *
find_kind(const char *provider, const char *kind)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].provider, provider) == 0 && strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

static void *
fetch_one(void *arg)
{
	struct sync_item *it = arg;
	char path[PH_API_PATH_MAX];
	int64_t now;

	if (it->api == NULL) {
		it->result = PH_API_CONFIG;
		snprintf(it->err, sizeof it->err, "%s", it->api_err);
		return NULL;
	}
	if (!ph_api_path(path, sizeof path, it->k->path_prefix, it->key)) {
		it->result = PH_API_CONFIG;
		snprintf(it->err, sizeof it->err, "key too long for a request path");
		return NULL;
	}
	now = ph_now_us();
	snprintf(it->fetched_at, sizeof it->fetched_at, "%lld.%06lld",
	    (long long)(now / 1000000), (long long)(now % 1000000));
	it->result = ph_api_call(it->api, "GET", path, NULL, &it->reply, it->err, sizeof it->err);
	return NULL;
}

/* The signature of a NicePay answer, checked like a notification's;
 * PH_NULL when it carries none. */
static enum ph_tristate
nicepay_answer_signed(struct json_object *a, const char *keys)
{
	struct json_object *tid, *amount, *edi, *sig;

	if (keys == NULL || !json_object_object_get_ex(a, "signature", &sig) ||
	    !json_object_is_type(sig, json_type_string))
		return PH_NULL;
	if (!json_object_object_get_ex(a, "tid", &tid) ||
	    !json_object_object_get_ex(a, "amount", &amount) ||
	    !json_object_object_get_ex(a, "ediDate", &edi) ||
	    !json_object_is_type(tid, json_type_string) ||
	    !json_object_is_type(edi, json_type_string) || amount == NULL)
		return PH_FALSE;
	return ph_nicepay_signature_matches(json_object_get_string(tid),
	    json_object_get_string(amount), json_object_get_string(edi), keys,
	    json_object_get_string(sig)) ? PH_TRUE : PH_FALSE;
}

/* Records and applies one fetched object (found or not found). Prints
 * its line; true when the database took it. */
static bool
apply_one(struct ph_store *st, const struct ph_config *cfg, struct sync_item *it,
    int *n_verified, int *n_failed, int *n_stale)
{
	struct ph_delivery *d;
	struct ph_store_result res;
	struct json_object *payload;
	const char *text;
	char err[PH_ERRLEN];
	bool found = it->result == PH_API_OK, ok = false;
	enum ph_err e;

	d = calloc(1, sizeof *d);
	payload = json_object_new_object();
	if (d == NULL || payload == NULL) {
		printf("%s %s %s: error - out of memory\n", it->k->provider, it->k->kind, it->key);
		free(d);
		json_object_put(payload);
		return false;
	}
	ph_delivery_reset(d);
	json_object_object_add(payload, "kind", json_object_new_string(it->k->kind));
	json_object_object_add(payload, it->k->api == PH_API_NICEPAY ? "tid" : "key",
	    json_object_new_string(it->key));
	json_object_object_add(payload, "found", json_object_new_boolean(found));
	/* The version of an object without modifiedAt: kept for payhook
	 * rebuild, which replays this row. */
	json_object_object_add(payload, "fetchedAt", json_object_new_string(it->fetched_at));
	json_object_object_add(payload, "httpStatus", json_object_new_int64(it->reply.http_status));
	/* The object, or the provider's error answer (no secret in either). */
	json_object_object_add(payload, found ? "data" : "error",
	    it->reply.json != NULL ? json_object_get(it->reply.json) : NULL);
	text = json_object_to_json_string_ext(payload,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	d->provider = it->k->provider;
	d->endpoint = "sync";
	snprintf(d->event_type, sizeof d->event_type, "sync.%s", it->k->kind);
	d->dedupe_key = NULL;              /* sync rows are not deduplicated */
	d->payload = text;
	d->body_len = strlen(text);
	ph_sha256_hex(text, d->body_len, d->body_sha256);
	d->timezone = ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE);
	d->action = it->k->action;
	d->arg[0] = it->key;
	if (it->k->api == PH_API_STEPPAY) {
		d->arg[0] = it->k->kind;
		d->arg[1] = it->key;
		d->arg[2] = it->fetched_at;
		d->arg[3] = d->timezone != NULL ? d->timezone : "UTC";
	} else if (found) {
		d->signature_valid = nicepay_answer_signed(it->reply.json,
		    ph_config_get(cfg, PH_CONF_NICEPAY_SECRET_KEY));
		if (d->signature_valid == PH_FALSE)
			ph_delivery_warn(d, "signature of the inquiry answer does not match "
			    "nicepay_secret_key");
	}
	e = ph_store_apply(st, cfg, d, &res, err, sizeof err);
	if (e != PH_OK) {
		printf("%s %s %s: error - cannot store: %s\n", it->k->provider, it->k->kind,
		    it->key, err);
	} else {
		ok = true;
		printf("%s %s %s: %s - %s\n", it->k->provider, it->k->kind, it->key,
		    strcmp(res.outcome, "applied") != 0 ? res.outcome : found ? "verified" : "failed",
		    res.detail);
		if (strcmp(res.outcome, "applied") != 0)
			(*n_stale)++;
		else if (found)
			(*n_verified)++;
		else
			(*n_failed)++;
	}
	json_object_put(payload);
	free(d);
	return ok;
}

static void
sync_usage_exit(const char *usage)
{
	cli_die_usage(usage);
}

int
cmd_sync(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"since", required_argument, NULL, 's'},
		{"all", no_argument, NULL, 'a'},
		{"limit", required_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"attempts", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *since = NULL, *usage = self->usage;
	const char *params[3];
	char limit_text[24], err[PH_API_ERRLEN], api_err[2][PH_API_ERRLEN];
	struct ph_api_opts aopts = {0, 0, 0};
	struct ph_api *clients[PH_SYNC_JOBS_MAX][2];
	struct ph_config *cfg = NULL;
	struct ph_store *st = NULL;
	struct sync_item *items = NULL;
	PGconn *conn = NULL;
	PGresult *q = NULL, *r;
	bool all = false, need[2] = {false, false};
	uint64_t v;
	long limit = PH_SYNC_LIMIT;
	int jobs = PH_SYNC_JOBS, c, i, j, n = 0, status = SYNC_EXIT_CANNOT;
	int n_verified = 0, n_failed = 0, n_stale = 0, n_errors = 0;

	memset(clients, 0, sizeof clients);
	while ((c = getopt_long(argc, argv, "c:s:al:j:t:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's': since = optarg; break;
		case 'a': all = true; break;
		case 'l':
			if (!ph_parse_u64(optarg, PH_SYNC_LIMIT_MAX, &v) || v == 0)
				sync_usage_exit(usage);
			limit = (long)v;
			break;
		case 'j':
			if (!ph_parse_u64(optarg, PH_SYNC_JOBS_MAX, &v) || v == 0)
				sync_usage_exit(usage);
			jobs = (int)v;
			break;
		case 't':
			if (!ph_parse_u64(optarg, 600, &v) || v == 0)
				sync_usage_exit(usage);
			aopts.timeout = (long)v;
			if (aopts.timeout < PH_API_CONNECT_TIMEOUT)
				aopts.connect_timeout = aopts.timeout;
			break;
		case 'n':
			if (!ph_parse_u64(optarg, PH_API_ATTEMPTS_MAX, &v) || v == 0)
				sync_usage_exit(usage);
			aopts.attempts = (int)v;
			break;
		case 'h': printf("usage: %s %s\n", cli_progname, usage); return 0;
		default: sync_usage_exit(usage);
		}
	}
	if (optind != argc || (all && since != NULL))
		sync_usage_exit(usage);
	if ((cfg = cli_load_config(config)) == NULL)
		return SYNC_EXIT_CANNOT;
	conn = cli_connect_db(ph_config_get(cfg, PH_CONF_DATABASE) != NULL ?
	    ph_config_get(cfg, PH_CONF_DATABASE) : "");
	if (conn == NULL)
		goto out;
	/* One run at a time; a second one (cron every minute) steps aside. */
	r = PQexec(conn, "SELECT pg_try_advisory_lock(x'" PH_SYNC_LOCK_KEY "'::bigint)");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: sync: lock: %s", cli_progname, PQerrorMessage(conn));
		PQclear(r);
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		printf("another payhook sync is running; nothing done\n");
		status = SYNC_EXIT_OK;
		goto out;
	}
	PQclear(r);

	snprintf(limit_text, sizeof limit_text, "%ld", limit);
	params[0] = since;
	params[1] = all ? "true" : "false";
	params[2] = limit_text;
	q = PQexecParams(conn, "SELECT provider, kind, key, reason FROM "
	    "payhook.sync_queue($1::timestamptz, $2::boolean, $3::integer)",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: sync: reading what to verify: %s", cli_progname,
		    PQerrorMessage(conn));
		goto out;
	}
	n = PQntuples(q);
	if (n == 0) {
		printf("sync: nothing to verify\n");
		status = SYNC_EXIT_OK;
		goto out;
	}
	items = calloc((size_t)n, sizeof *items);
	if (items == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		goto out;
	}
	for (i = 0; i < n; i++) {
		items[i].k = find_kind(PQgetvalue(q, i, 0), PQgetvalue(q, i, 1));
		items[i].key = PQgetvalue(q, i, 2);
		if (items[i].k != NULL)
			need[items[i].k->api] = true;
	}
	/* One client per worker and provider; a provider without keys fails
	 * its objects only. */
	for (j = 0; j < 2; j++) {
		api_err[j][0] = '\0';
		if (!need[j])
			continue;
		for (i = 0; i < jobs; i++) {
			clients[i][j] = ph_api_new(cfg, (enum ph_api_provider)j, &aopts, api_err[j],
			    sizeof api_err[j]);
			if (clients[i][j] == NULL)
				break;
		}
		if (api_err[j][0] != '\0')
			fprintf(stderr, "%s: sync: %s\n", cli_progname, api_err[j]);
	}
	if ((st = ph_store_new("payhook sync")) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		goto out;
	}
	if (ph_store_ready(st, cfg, err, sizeof err) != PH_OK) {
		fprintf(stderr, "%s: sync: %s\n", cli_progname, err);
		goto out;
	}

	for (i = 0; i < n; i += jobs) {
		pthread_t tid[PH_SYNC_JOBS_MAX];
		bool started[PH_SYNC_JOBS_MAX];
		int m = n - i < jobs ? n - i : jobs;

		for (j = 0; j < m; j++) {
			struct sync_item *it = &items[i + j];

			started[j] = false;
			if (it->k == NULL)
				continue;
			it->api = clients[j][it->k->api];
			it->api_err = api_err[it->k->api];
			started[j] = pthread_create(&tid[j], NULL, fetch_one, it) == 0;
			if (!started[j])
				fetch_one(it);
		}
		for (j = 0; j < m; j++)
			if (started[j])
				pthread_join(tid[j], NULL);
		for (j = 0; j < m; j++) {
			struct sync_item *it = &items[i + j];

			if (it->k == NULL) {
				printf("%s %s %s: error - unknown kind\n", PQgetvalue(q, i + j, 0),
				    PQgetvalue(q, i + j, 1), PQgetvalue(q, i + j, 2));
				n_errors++;
			} else if (it->result == PH_API_OK || it->result == PH_API_NOT_FOUND) {
				if (!apply_one(st, cfg, it, &n_verified, &n_failed, &n_stale))
					n_errors++;
			} else {
				/* Nothing recorded: the object stays queued for the next run. */
				printf("%s %s %s: error - %s\n", it->k->provider, it->k->kind, it->key,
				    it->err);
				n_errors++;
			}
			ph_api_reply_free(&it->reply);
		}
	}
	printf("sync: %d object%s: %d verified, %d failed verification, %d kept newer state, "
	    "%d not checked\n", n, n == 1 ? "" : "s", n_verified, n_failed, n_stale, n_errors);
	status = n_errors > 0 ? SYNC_EXIT_PARTIAL : SYNC_EXIT_OK;
out:
	for (i = 0; i < PH_SYNC_JOBS_MAX; i++) {
		ph_api_free(clients[i][0]);
		ph_api_free(clients[i][1]);
	}
	free(items);
	PQclear(q);
	ph_store_free(st);
	PQfinish(conn);      /* releases the advisory lock */
	ph_config_free(cfg);
	return status;
}
