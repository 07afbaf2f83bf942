/* payhook reconcile: compares a date range of local rows with what the
 * providers' APIs say and prints the differences a merchant must look at
 * (missing locally, unknown to the provider, status differs, amount
 * differs). It reads the APIs and the tables and writes nothing: use
 * `payhook sync --since` to take the provider's state.
 *
 * StepPay: the order list of the range, plus every local order of the
 * range that the list does not hold, fetched by id. NicePay has no list
 * API: every local payment of the range is fetched by tid, so a payment
 * missing locally cannot be found. The comparison itself is one query
 * (payhook.reconcile_diff, sql/006_sync.sql). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api.h"
#include "cli.h"
#include "util.h"

#define PH_RECONCILE_PAGE_SIZE 100
#define PH_RECONCILE_PAGES_MAX 1000   /* 100000 orders in one range */
#define PH_RECONCILE_DATE_LEN  10     /* YYYY-MM-DD */

enum {
	RECONCILE_EXIT_SAME = 0,
	RECONCILE_EXIT_DIFFERENT = 1,
	RECONCILE_EXIT_USAGE = 2,
	RECONCILE_EXIT_INCOMPLETE = 3   /* could not check everything */
};

struct reconcile {
	PGconn *conn;
	const struct ph_config *cfg;
	const char *from, *to, *tz;
	struct ph_api_opts aopts;
	int differences, errors, providers;   /* providers: those compared */
};

static bool
valid_date(const char *s)
{
	size_t i;

	if (strlen(s) != PH_RECONCILE_DATE_LEN)
		return false;
	for (i = 0; i < PH_RECONCILE_DATE_LEN; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

/* The local keys of the range; NULL after printing why. */
static PGresult *
local_keys(struct reconcile *rc, const char *provider)
{
	const char *p[4] = {provider, rc->from, rc->to, rc->tz};
	PGresult *r = PQexecParams(rc->conn, "SELECT key FROM payhook.reconcile_local("
	    "$1, $2::date, $3::date, $4)", 4, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: reconcile: %s", cli_progname, PQerrorMessage(rc->conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

static bool
has_key(struct json_object *arr, const char *member, const char *key)
{
	size_t i, n = json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;

		if (json_object_object_get_ex(o, member, &v) && v != NULL &&
		    strcmp(json_object_get_string(v), key) == 0)
			return true;
	}
	return false;
}

/* StepPay's order list for the range, appended to remote. */
static bool
steppay_list(struct reconcile *rc, struct ph_api *api, struct json_object *remote)
{
	char path[PH_API_PATH_MAX], err[PH_API_ERRLEN];
	int page;

	for (page = 0; page < PH_RECONCILE_PAGES_MAX; page++) {
		struct ph_api_reply reply;
		struct json_object *content, *last;
		size_t i, n;
		bool done;

		snprintf(path, sizeof path, "/api/v1/orders?startDate=%s&endDate=%s&page=%d&size=%d"
		    "&sortDir=ASC", rc->from, rc->to, page, PH_RECONCILE_PAGE_SIZE);
		if (ph_api_call(api, "GET", path, NULL, &reply, err, sizeof err) != PH_API_OK) {
			printf("steppay orders: error - %s\n", err);
			ph_api_reply_free(&reply);
			return false;
		}
		if (!json_object_object_get_ex(reply.json, "content", &content) ||
		    !json_object_is_type(content, json_type_array)) {
			printf("steppay orders: error - the order list has no content array\n");
			ph_api_reply_free(&reply);
			return false;
		}
		n = json_object_array_length(content);
		for (i = 0; i < n; i++)
			json_object_array_add(remote, json_object_get(json_object_array_get_idx(content, i)));
		done = n == 0 || (json_object_object_get_ex(reply.json, "last", &last) &&
		    json_object_get_boolean(last));
		ph_api_reply_free(&reply);
		if (done)
			return true;
	}
	printf("steppay orders: error - more than %d pages of orders; use a shorter range\n",
	    PH_RECONCILE_PAGES_MAX);
	return false;
}

/* Compares one provider; counts into rc. */
static void
reconcile_provider(struct reconcile *rc, enum ph_api_provider which, bool asked)
{
	const char *provider = which == PH_API_STEPPAY ? "steppay" : "nicepay";
	const char *kind = which == PH_API_STEPPAY ? "order" : "payment";
	const char *member = which == PH_API_STEPPAY ? "id" : "tid";
	const char *prefix = which == PH_API_STEPPAY ? "/api/v1/orders/" : "/v1/payments/";
	char err[PH_API_ERRLEN], path[PH_API_PATH_MAX];
	struct json_object *remote = json_object_new_array(), *skip = json_object_new_array();
	struct ph_api *api;
	PGresult *keys = NULL, *d = NULL;
	const char *p[6];
	int i;

	if (remote == NULL || skip == NULL)
		goto out;
	api = ph_api_new(rc->cfg, which, &rc->aopts, err, sizeof err);
	if (api == NULL) {
		/* A provider the merchant does not use is simply not compared. */
		if (asked) {
			fprintf(stderr, "%s: reconcile: %s\n", cli_progname, err);
			rc->errors++;
		}
		goto out;
	}
	if (which == PH_API_STEPPAY && !steppay_list(rc, api, remote)) {
		rc->errors++;
		goto out_api;
	}
	if ((keys = local_keys(rc, provider)) == NULL) {
		rc->errors++;
		goto out_api;
	}
	for (i = 0; i < PQntuples(keys); i++) {
		const char *key = PQgetvalue(keys, i, 0);
		struct ph_api_reply reply;
		enum ph_api_result res;

		if (has_key(remote, member, key))
			continue;
		if (!ph_api_path(path, sizeof path, prefix, key)) {
			res = PH_API_CONFIG;
			snprintf(err, sizeof err, "key too long for a request path");
			memset(&reply, 0, sizeof reply);
		} else
			res = ph_api_call(api, "GET", path, NULL, &reply, err, sizeof err);
		if (res == PH_API_OK)
			json_object_array_add(remote, json_object_get(reply.json));
		else if (res != PH_API_NOT_FOUND) {
			printf("%s %s %s: error - %s\n", provider, kind, key, err);
			json_object_array_add(skip, json_object_new_string(key));
			rc->errors++;
		}
		ph_api_reply_free(&reply);
	}
	p[0] = provider;
	p[1] = json_object_to_json_string_ext(remote, JSON_C_TO_STRING_PLAIN);
	p[2] = rc->from;
	p[3] = rc->to;
	p[4] = rc->tz;
	p[5] = json_object_to_json_string_ext(skip, JSON_C_TO_STRING_PLAIN);
	d = PQexecParams(rc->conn, "SELECT key, difference, coalesce(local, '-'), "
	    "coalesce(remote, '-') FROM payhook.reconcile_diff($1, $2::jsonb, $3::date, "
	    "$4::date, $5, $6::jsonb)", 6, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(d) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: reconcile: %s", cli_progname, PQerrorMessage(rc->conn));
		rc->errors++;
		goto out_api;
	}
	for (i = 0; i < PQntuples(d); i++)
		printf("%s %s %s: %s (local: %s; %s: %s)\n", provider, kind, PQgetvalue(d, i, 0),
		    PQgetvalue(d, i, 1), PQgetvalue(d, i, 2), ph_api_provider_name(which),
		    PQgetvalue(d, i, 3));
	rc->differences += PQntuples(d);
	rc->providers++;
out_api:
	ph_api_free(api);
out:
	PQclear(d);
	PQclear(keys);
	json_object_put(remote);
	json_object_put(skip);
}

int
cmd_reconcile(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 'T'},
		{"provider", required_argument, NULL, 'p'},
		{"timeout", required_argument, NULL, 't'},
		{"attempts", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *only = NULL, *usage = self->usage;
	struct reconcile rc;
	struct ph_config *cfg;
	uint64_t v;
	int c, status = RECONCILE_EXIT_INCOMPLETE;

	memset(&rc, 0, sizeof rc);
	while ((c = getopt_long(argc, argv, "c:f:T:p:t:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'f': rc.from = optarg; break;
		case 'T': rc.to = optarg; break;
		case 'p': only = optarg; break;
		case 't':
			if (!ph_parse_u64(optarg, 600, &v) || v == 0)
				cli_die_usage(usage);
			rc.aopts.timeout = (long)v;
			break;
		case 'n':
			if (!ph_parse_u64(optarg, PH_API_ATTEMPTS_MAX, &v) || v == 0)
				cli_die_usage(usage);
			rc.aopts.attempts = (int)v;
			break;
		case 'h': printf("usage: %s %s\n", cli_progname, usage); return 0;
		default: cli_die_usage(usage);
		}
	}
	if (optind != argc || rc.from == NULL || rc.to == NULL || !valid_date(rc.from) ||
	    !valid_date(rc.to) || strcmp(rc.from, rc.to) > 0 ||
	    (only != NULL && strcmp(only, "steppay") != 0 && strcmp(only, "nicepay") != 0))
		cli_die_usage(usage);
	if ((cfg = cli_load_config(config)) == NULL)
		return RECONCILE_EXIT_INCOMPLETE;
	rc.cfg = cfg;
	rc.tz = ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE) != NULL ?
	    ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE) : "UTC";
	rc.conn = cli_connect_db(ph_config_get(cfg, PH_CONF_DATABASE) != NULL ?
	    ph_config_get(cfg, PH_CONF_DATABASE) : "");
	if (rc.conn == NULL)
		goto out;
	if (only == NULL || strcmp(only, "steppay") == 0)
		reconcile_provider(&rc, PH_API_STEPPAY, only != NULL);
	if (only == NULL || strcmp(only, "nicepay") == 0)
		reconcile_provider(&rc, PH_API_NICEPAY, only != NULL);
	if (rc.providers == 0 && rc.errors == 0) {
		fprintf(stderr, "%s: reconcile: no provider API configured (steppay_api_key, "
		    "or nicepay_client_key and nicepay_secret_key)\n", cli_progname);
		rc.errors++;
	}
	printf("reconcile %s..%s: %d difference%s%s\n", rc.from, rc.to, rc.differences,
	    rc.differences == 1 ? "" : "s",
	    rc.errors > 0 ? "; some objects could not be checked" : "");
	status = rc.errors > 0 ? RECONCILE_EXIT_INCOMPLETE :
	    rc.differences > 0 ? RECONCILE_EXIT_DIFFERENT : RECONCILE_EXIT_SAME;
out:
	PQfinish(rc.conn);
	ph_config_free(cfg);
	return status;
}
