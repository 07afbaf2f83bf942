#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store.h"

/* The fields of payhook.event_in, sent as the first parameters. */
enum {
	P_PROVIDER,
	P_ENDPOINT,
	P_EVENT_TYPE,
	P_DEDUPE_KEY,
	P_BODY_SHA256,
	P_BODY_LENGTH,
	P_PAYLOAD,
	P_SIGNATURE_VALID,
	P_REMOTE_ADDR,
	P_WARNINGS,
	P_RECEIVED_AT,
	P__EVENT_COUNT
};

/* The SQL types of the fields of payhook.event_in, in the order above. */
static const char *const event_param_types[P__EVENT_COUNT] = {
	"text", "text", "text", "text", "text", "integer", "jsonb", "boolean", "inet",
	"text", "timestamptz",
};

#define PH_PARAMS_MAX (P__EVENT_COUNT + PH_ACTION_ARGS_MAX + 2)
#define PH_SQL_MAX 1024

struct ph_store {
	PGconn *conn;
	char *conninfo;          /* what conn was opened with ("" = defaults) */
	char *name;              /* application_name */
	bool privilege_checked;
	bool in_transaction;     /* ph_store_begin: no reconnect, no retry */
};

struct ph_store *
ph_store_new(const char *name)
{
	struct ph_store *st = calloc(1, sizeof *st);

	if (st == NULL)
		return NULL;
	st->name = strdup(name);
	if (st->name == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

static void
disconnect(struct ph_store *st)
{
	if (st->conn != NULL)
		PQfinish(st->conn);
	st->conn = NULL;
	free(st->conninfo);
	st->conninfo = NULL;
	st->privilege_checked = false;
}

void
ph_store_free(struct ph_store *st)
{
	if (st == NULL)
		return;
	disconnect(st);
	free(st->name);
	free(st);
}

/* libpq's message ends with a newline; a log line must not. */
static void
conn_error(PGconn *conn, char *err, size_t errlen, const char *what)
{
	char msg[PH_ERRLEN];

	ph_strlcpy(msg, conn != NULL ? PQerrorMessage(conn) : "out of memory", sizeof msg);
	msg[strcspn(msg, "\n")] = '\0';
	ph_fail(err, errlen, PH_EDBDOWN, "%s: %s", what, msg);
}

static enum ph_err
check_privilege(struct ph_store *st, const struct ph_config *cfg, char *err, size_t errlen)
{
	const char *su = PQparameterStatus(st->conn, "is_superuser");
	const char *user = PQuser(st->conn);

	/* is_superuser is reported by the server at connect time: this costs
	 * no round trip. */
	if (su == NULL || strcmp(su, "on") != 0) {
		st->privilege_checked = true;
		return PH_OK;
	}
	if (cfg->require_least_privilege)
		return ph_fail(err, errlen, PH_ECONFIG,
		    "refusing to work as database superuser %s (require_least_privilege = yes)",
		    user != NULL ? user : "?");
	ph_log_warn("connected to the database as superuser %s; a role that can only "
	    "write payhook's tables is safer (see require_least_privilege)",
	    user != NULL ? user : "?");
	st->privilege_checked = true;
	return PH_OK;
}

enum ph_err
ph_store_ready(struct ph_store *st, const struct ph_config *cfg, char *err, size_t errlen)
{
	const char *want = ph_config_get(cfg, PH_CONF_DATABASE);

	if (want == NULL)
		want = "";
	if (st->conn != NULL && strcmp(st->conninfo, want) != 0)
		disconnect(st);
	if (st->conn == NULL) {
		/* Later keywords win: the merchant's conninfo overrides our
		 * connect_timeout and application_name. */
		const char *const keys[] = {"connect_timeout", "fallback_application_name",
		    "dbname", NULL};
		const char *const vals[] = {PH_DB_CONNECT_TIMEOUT, st->name,
		    *want != '\0' ? want : NULL, NULL};

		st->conninfo = strdup(want);
		if (st->conninfo == NULL)
			return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		st->conn = PQconnectdbParams(keys, vals, 1);
	} else if (PQstatus(st->conn) != CONNECTION_OK) {
		PQreset(st->conn);
		st->privilege_checked = false;
	}
	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		conn_error(st->conn, err, errlen, "cannot connect to the database");
		disconnect(st);
		return PH_EDBDOWN;
	}
	if (!st->privilege_checked)
		return check_privilege(st, cfg, err, errlen);
	return PH_OK;
}

/* SQLSTATEs after which the same statement may simply be sent again. */
static bool
retryable(const char *state)
{
	return state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* SQLSTATE classes that say nothing about the delivery itself -- the
 * connection (08), resources (53), an operator or a timeout (57), the
 * server's system (58) or internals (XX): answer 503 so that the provider
 * tries again, rather than record the delivery as failed. */
static bool
server_unavailable(const char *state)
{
	static const char *const classes[] = {"08", "53", "57", "58", "XX"};
	size_t i;

	if (state == NULL)
		return false;
	for (i = 0; i < PH_ARRAY_LEN(classes); i++)
		if (strncmp(state, classes[i], 2) == 0)
			return true;
	return false;
}

static bool
read_result(PGresult *r, struct ph_store_result *res)
{
	if (PQntuples(r) != 1 || PQnfields(r) != 3)
		return false;
	res->event_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	ph_strlcpy(res->outcome, PQgetvalue(r, 0, 1), sizeof res->outcome);
	ph_strlcpy(res->detail, PQgetvalue(r, 0, 2), sizeof res->detail);
	return true;
}

/* Sends "SELECT ... FROM function(ROW($1..$11)::payhook.event_in, $12..)"
 * and reads its one row. Retries
 * once on a connection lost before or while sending (every action is
 * idempotent on state, and a reset happens only when the server is
 * gone), and on serialization failures. */
static enum ph_err
call(struct ph_store *st, const struct ph_config *cfg, const char *function,
    const char *const *params, int nparams, struct ph_store_result *res,
    char *err, size_t errlen)
{
	char sql[PH_SQL_MAX];
	size_t used;
	int i, attempt;
	enum ph_err e;

	/* The event parameters travel as one payhook.event_in value, so
	 * that every function shares one signature for them. */
	used = (size_t)snprintf(sql, sizeof sql,
	    "SELECT event_id, outcome, detail FROM %s(ROW(", function);
	for (i = 1; i <= P__EVENT_COUNT && used < sizeof sql; i++)
		used += (size_t)snprintf(sql + used, sizeof sql - used, "%s$%d::%s",
		    i > 1 ? "," : "", i, event_param_types[i - 1]);
	if (used < sizeof sql)
		used += (size_t)snprintf(sql + used, sizeof sql - used, ")::payhook.event_in");
	for (; i <= nparams && used < sizeof sql; i++)
		used += (size_t)snprintf(sql + used, sizeof sql - used, ",$%d", i);
	if (used + 2 > sizeof sql)
		return ph_fail(err, errlen, PH_EDB, "statement for %s too long", function);
	memcpy(sql + used, ")", 2);

	for (attempt = 0; attempt <= PH_DB_RETRIES; attempt++) {
		PGresult *r;
		const char *state, *msg;

		/* Inside a caller's transaction a new connection or a second
		 * try would run outside it: the first failure is final (err
		 * says what it was). */
		if (st->in_transaction && attempt > 0)
			return PH_EDBDOWN;
		if (st->in_transaction && (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK))
			return ph_fail(err, errlen, PH_EDBDOWN, "%s: database connection lost",
			    function);
		e = st->in_transaction ? PH_OK : ph_store_ready(st, cfg, err, errlen);
		if (e != PH_OK)
			return e;
		r = PQexecParams(st->conn, sql, nparams, NULL, params, NULL, NULL, 0);
		if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
			bool ok = read_result(r, res);

			PQclear(r);
			if (!ok)
				return ph_fail(err, errlen, PH_EDB,
				    "%s did not return one row", function);
			return PH_OK;
		}
		state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		if (PQstatus(st->conn) == CONNECTION_BAD || server_unavailable(state)) {
			if (PQstatus(st->conn) == CONNECTION_BAD)
				conn_error(st->conn, err, errlen, "database connection lost");
			else
				ph_fail(err, errlen, PH_EDBDOWN, "%s: %s %s", function, state,
				    msg != NULL ? msg : "database unavailable");
			PQclear(r);
			if (attempt > 0)
				return PH_EDBDOWN;
			continue; /* once more, after ph_store_ready resets it */
		}
		if (retryable(state) && !st->in_transaction) {
			PQclear(r);
			continue;
		}
		ph_fail(err, errlen, PH_EDB, "%s: %s%s%s", function,
		    state != NULL ? state : "", state != NULL ? " " : "",
		    msg != NULL ? msg : "unknown error");
		PQclear(r);
		return PH_EDB;
	}
	return ph_fail(err, errlen, PH_EDB, "%s: gave up after %d serialization failures",
	    function, PH_DB_RETRIES);
}

/* Fills the event parameters shared by every function. */
static void
event_params(const struct ph_delivery *d, const char **p, char *lenbuf, size_t lenbufsz)
{
	snprintf(lenbuf, lenbufsz, "%zu", d->body_len);
	p[P_PROVIDER] = d->provider;
	p[P_ENDPOINT] = d->endpoint;
	p[P_EVENT_TYPE] = d->event_type[0] != '\0' ? d->event_type : NULL;
	p[P_DEDUPE_KEY] = d->dedupe_key;
	p[P_BODY_SHA256] = d->body_sha256;
	p[P_BODY_LENGTH] = lenbuf;
	p[P_PAYLOAD] = d->payload;
	p[P_SIGNATURE_VALID] = d->signature_valid == PH_NULL ? NULL :
	    d->signature_valid == PH_TRUE ? "true" : "false";
	p[P_REMOTE_ADDR] = d->remote_addr != NULL && *d->remote_addr != '\0' ?
	    d->remote_addr : NULL;
	p[P_WARNINGS] = d->warnings[0] != '\0' ? d->warnings : NULL;
	p[P_RECEIVED_AT] = d->received_at[0] != '\0' ? d->received_at : NULL;
}

enum ph_err
ph_store_apply(struct ph_store *st, const struct ph_config *cfg,
    const struct ph_delivery *d, struct ph_store_result *res, char *err, size_t errlen)
{
	const char *p[PH_PARAMS_MAX];
	char lenbuf[24];
	int i;

	if (d->action == NULL || d->action->nargs > PH_ACTION_ARGS_MAX)
		return ph_fail(err, errlen, PH_EDB, "no store action");
	event_params(d, p, lenbuf, sizeof lenbuf);
	for (i = 0; i < d->action->nargs; i++)
		p[P__EVENT_COUNT + i] = d->arg[i];
	return call(st, cfg, d->action->function, p, P__EVENT_COUNT + d->action->nargs,
	    res, err, errlen);
}

enum ph_err
ph_store_record(struct ph_store *st, const struct ph_config *cfg,
    const struct ph_delivery *d, const char *outcome, const char *error,
    struct ph_store_result *res, char *err, size_t errlen)
{
	const char *p[PH_PARAMS_MAX];
	char lenbuf[24];

	event_params(d, p, lenbuf, sizeof lenbuf);
	p[P__EVENT_COUNT] = outcome;
	p[P__EVENT_COUNT + 1] = error;
	return call(st, cfg, "payhook.record_event", p, P__EVENT_COUNT + 2, res, err, errlen);
}

/* Runs one statement that returns no rows on the store's connection. */
static enum ph_err
exec_command(struct ph_store *st, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(st->conn, sql);
	enum ph_err e = PH_OK;

	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

		e = ph_fail(err, errlen, PQstatus(st->conn) == CONNECTION_OK ? PH_EDB : PH_EDBDOWN,
		    "%s: %s", sql, msg != NULL ? msg : "database connection lost");
	}
	PQclear(r);
	return e;
}

enum ph_err
ph_store_begin(struct ph_store *st, const struct ph_config *cfg, char *err, size_t errlen)
{
	enum ph_err e;

	if (st->in_transaction)
		return ph_fail(err, errlen, PH_EDB, "a transaction is already open");
	e = ph_store_ready(st, cfg, err, errlen);
	if (e == PH_OK)
		e = exec_command(st, "BEGIN", err, errlen);
	if (e == PH_OK)
		st->in_transaction = true;
	return e;
}

enum ph_err
ph_store_end(struct ph_store *st, bool commit, char *err, size_t errlen)
{
	PGresult *r;
	enum ph_err e = PH_OK;

	if (!st->in_transaction)
		return ph_fail(err, errlen, PH_EDB, "no transaction is open");
	st->in_transaction = false;
	if (!commit)
		return exec_command(st, "ROLLBACK", err, errlen);
	/* COMMIT of a transaction that failed is answered "ROLLBACK". */
	r = PQexec(st->conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0)
		e = ph_fail(err, errlen, PH_EDB, "COMMIT failed: %s",
		    PQresultStatus(r) == PGRES_COMMAND_OK ? "the transaction was rolled back" :
		    "database connection lost");
	PQclear(r);
	return e;
}

struct pg_conn *
ph_store_conn(struct ph_store *st)
{
	return st->conn;
}
