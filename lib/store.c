#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store.h"
#include "util.h"

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
	bool timeout_set;        /* the connection has a statement_timeout */
	int64_t retry_at_us;     /* no connect attempt before (ph_now_us) */
	int64_t backoff_ms;      /* the last wait; 0 after a success */
	bool in_transaction;     /* ph_store_begin: no reconnect, no retry */
	bool savepoints;         /* ph_store_begin_batch: each call undone alone */
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
	st->timeout_set = false;
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

enum ph_db_role
ph_db_role(struct pg_conn *conn, bool *timeout_set)
{
	/* pg_has_role() is also true for a member of the owner role, and
	 * for a superuser: the superuser column is read first. */
	static const char sql[] =
	    "SELECT r.rolsuper, coalesce(pg_catalog.pg_has_role(current_user, n.nspowner, "
	    "'USAGE'), false), pg_catalog.current_setting('statement_timeout') <> '0' "
	    "FROM pg_catalog.pg_roles r LEFT JOIN pg_catalog.pg_namespace n "
	    "ON n.nspname = 'payhook' WHERE r.rolname = current_user";
	PGresult *r = PQexec(conn, sql);
	enum ph_db_role role = PH_ROLE_UNKNOWN;

	if (timeout_set != NULL)
		*timeout_set = false;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		if (timeout_set != NULL)
			*timeout_set = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
		if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
			role = PH_ROLE_SUPERUSER;
		else if (strcmp(PQgetvalue(r, 0, 1), "t") == 0)
			role = PH_ROLE_OWNER;
		else
			role = PH_ROLE_LEAST;
	}
	PQclear(r);
	return role;
}

const char *
ph_db_role_name(enum ph_db_role role)
{
	switch (role) {
	case PH_ROLE_SUPERUSER: return "a superuser";
	case PH_ROLE_OWNER: return "the owner of schema payhook";
	case PH_ROLE_LEAST: return "a role that does not own schema payhook";
	default: return "a role whose privileges could not be read";
	}
}

/* Once per connection (one round trip then, none per delivery). */
static enum ph_err
check_privilege(struct ph_store *st, const struct ph_config *cfg, char *err, size_t errlen)
{
	const char *user = PQuser(st->conn);
	enum ph_db_role role = ph_db_role(st->conn, &st->timeout_set);

	if (role == PH_ROLE_UNKNOWN) {
		if (PQstatus(st->conn) != CONNECTION_OK) {
			conn_error(st->conn, err, errlen, "lost the database connection");
			disconnect(st);
			return PH_EDBDOWN;
		}
		/* Reading pg_roles is open to every role: a refusal here is
		 * odd but is no reason to stop working. */
		ph_log_warn("could not read the privileges of database role %s",
		    user != NULL ? user : "?");
	}
	if (role != PH_ROLE_SUPERUSER && role != PH_ROLE_OWNER) {
		st->privilege_checked = true;
		return PH_OK;
	}
	if (cfg->require_least_privilege)
		return ph_fail(err, errlen, PH_ECONFIG,
		    "refusing to work as database role %s, %s (require_least_privilege = yes)",
		    user != NULL ? user : "?", ph_db_role_name(role));
	ph_log_warn("connected to the database as %s, %s; the writer role made by "
	    "`payhook migrate --roles` is safer (see require_least_privilege)",
	    user != NULL ? user : "?", ph_db_role_name(role));
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
	if (st->conn == NULL && st->backoff_ms > 0 && ph_now_us() < st->retry_at_us)
		return ph_fail(err, errlen, PH_EDBDOWN,
		    "database unreachable; next attempt in %lld ms",
		    (long long)((st->retry_at_us - ph_now_us()) / 1000 + 1));
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
		st->backoff_ms = st->backoff_ms == 0 ? PH_DB_BACKOFF_MIN_MS :
		    st->backoff_ms * 2 > PH_DB_BACKOFF_MAX_MS ? PH_DB_BACKOFF_MAX_MS :
		    st->backoff_ms * 2;
		st->retry_at_us = ph_now_us() + st->backoff_ms * 1000;
		return PH_EDBDOWN;
	}
	st->backoff_ms = 0;
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

/* SQLSTATEs that mean the database cannot be reached: the connection
 * (class 08), an administrator's or a crash's shutdown, a server still
 * starting (57P01-57P03), too many connections (53300). A delivery that
 * meets one is spooled. */
static bool
unreachable(const char *state)
{
	static const char *const states[] = {"57P01", "57P02", "57P03", "53300"};

	if (state == NULL)
		return false;
	return strncmp(state, "08", 2) == 0 || ph_str_in(state, states, PH_ARRAY_LEN(states));
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

/* Sends set_config('statement_timeout', ..., true) and sql as one
 * pipeline ending in one Sync: one round trip, one implicit transaction,
 * and since PostgreSQL arms a statement's timer when its own Execute
 * arrives, the timeout already holds for sql. The merchant's own timeout
 * wins: when the connection had one as it was opened (the writer role
 * of `payhook migrate --roles` carries one, which a pooling proxy keeps
 * too), sql goes alone. Returns sql's result (the caller clears it), or
 * the first error's, or NULL when the connection failed; the connection
 * is left out of pipeline mode or closed. */
static PGresult *
exec_with_timeout(struct ph_store *st, const char *sql, int nparams,
    const char *const *params)
{
	static const char *const timeout[1] = {PH_DB_STATEMENT_TIMEOUT};
	PGresult *r, *keep = NULL;
	/* With st->savepoints, SAVEPOINT comes first and RELEASE last; the
	 * set_config statement is left out when the session has a timeout. */
	int query = 0, guard, want = (st->savepoints ? 1 : 0) + (st->timeout_set ? 0 : 1);

	if (PQenterPipelineMode(st->conn) != 1)
		return NULL;
	if (st->savepoints && PQsendQueryParams(st->conn, "SAVEPOINT ph_call", 0, NULL, NULL,
	    NULL, NULL, 0) != 1)
		goto broken;
	if ((!st->timeout_set && PQsendQueryParams(st->conn,
	    "SELECT CASE WHEN pg_catalog.current_setting('statement_timeout') = '0' "
	    "THEN pg_catalog.set_config('statement_timeout', $1, true) END",
	    1, NULL, timeout, NULL, NULL, 0) != 1) ||
	    PQsendQueryParams(st->conn, sql, nparams, NULL, params, NULL, NULL, 0) != 1 ||
	    (st->savepoints && PQsendQueryParams(st->conn, "RELEASE SAVEPOINT ph_call", 0, NULL,
	    NULL, NULL, NULL, 0) != 1) ||
	    PQpipelineSync(st->conn) != 1)
		goto broken;
	/* Results: SAVEPOINT's and NULL (with savepoints), set_config's and
	 * NULL (unless left out), sql's, NULL, RELEASE's and NULL (with
	 * savepoints), then the Sync. A lost connection ends this early; the
	 * guard bounds it anyway. */
	for (guard = 0; guard < 24; guard++) {
		r = PQgetResult(st->conn);
		if (r == NULL) {
			if (PQstatus(st->conn) == CONNECTION_BAD)
				break;
			query++;
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (keep == NULL && (query == want || PQresultStatus(r) == PGRES_FATAL_ERROR))
			keep = r;
		else
			PQclear(r);
	}
	if (PQstatus(st->conn) != CONNECTION_BAD && PQexitPipelineMode(st->conn) == 1)
		return keep;
broken:
	/* A connection in an unknown state is dropped: the next delivery
	 * starts on a fresh one (the caller reads a lost one's message). */
	if (PQstatus(st->conn) != CONNECTION_BAD) {
		PQclear(keep);
		keep = NULL;
		disconnect(st);
	}
	return keep;
}

static enum ph_err exec_command(struct ph_store *st, const char *sql, char *err,
    size_t errlen);

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
		bool lost;

		/* Inside a caller's transaction a new connection or a second
		 * try would run outside it: the first failure is final (err
		 * says what it was). */
		if (st->in_transaction && attempt > 0 && !st->savepoints)
			return PH_EDBDOWN;
		if (st->in_transaction && (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK))
			return ph_fail(err, errlen, PH_EDBDOWN, "%s: database connection lost",
			    function);
		e = st->in_transaction ? PH_OK : ph_store_ready(st, cfg, err, errlen);
		if (e != PH_OK)
			return e;
		r = exec_with_timeout(st, sql, nparams, params);
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
		/* A batch goes on without this call: undo it alone. */
		if (st->savepoints && st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK &&
		    exec_command(st, "ROLLBACK TO SAVEPOINT ph_call; RELEASE SAVEPOINT ph_call",
		    NULL, 0) != PH_OK)
			/* The transaction cannot go on: what follows must see a
			 * lost connection, not an aborted transaction (which would
			 * look like a delivery the database refuses). */
			disconnect(st);
		lost = st->conn == NULL || PQstatus(st->conn) == CONNECTION_BAD;
		if (lost || unreachable(state)) {
			if (lost && st->conn != NULL)
				conn_error(st->conn, err, errlen, "database connection lost");
			else if (lost)
				ph_fail(err, errlen, PH_EDBDOWN, "database connection lost");
			else
				ph_fail(err, errlen, PH_EDBDOWN, "%s: %s %s", function, state,
				    msg != NULL ? msg : "database unavailable");
			PQclear(r);
			if (lost)
				disconnect(st);
			if (attempt > 0 || st->in_transaction)
				return PH_EDBDOWN;
			continue; /* once more, on a new connection */
		}
		if (server_unavailable(state)) {
			ph_fail(err, errlen, PH_EDBBUSY, "%s: %s %s", function, state,
			    msg != NULL ? msg : "database unavailable");
			PQclear(r);
			return PH_EDBBUSY;
		}
		/* Under a savepoint the call was undone alone: send it again. */
		if (retryable(state) && (!st->in_transaction || st->savepoints)) {
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
ph_store_begin_batch(struct ph_store *st, const struct ph_config *cfg, char *err,
    size_t errlen)
{
	enum ph_err e = ph_store_begin(st, cfg, err, errlen);

	if (e == PH_OK)
		st->savepoints = true;
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
	st->savepoints = false;
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

/* One statement with names as its one text[] parameter, inside the
 * caller's transaction: PH_OK with its rows in *out (the caller clears
 * them), else err says why. */
static enum ph_err
exec_names(struct ph_store *st, const char *sql, const char (*names)[PH_SPOOL_NAME_LEN],
    size_t n, PGresult **out, char *err, size_t errlen)
{
	size_t cap = n * (2 * PH_SPOOL_NAME_LEN + 3) + 3, i;
	const char **item;
	const char *msg;
	char *arr;
	PGresult *r;
	enum ph_err e;
	bool ok;

	*out = NULL;
	if (!st->in_transaction || st->conn == NULL)
		return ph_fail(err, errlen, PH_EDB, "no transaction is open");
	item = malloc(n * sizeof *item);
	arr = malloc(cap);
	if (item == NULL || arr == NULL) {
		free(item);
		free(arr);
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++)
		item[i] = names[i];
	ok = ph_pg_text_array(item, n, arr, cap);
	free(item);
	if (!ok) {
		free(arr);
		return ph_fail(err, errlen, PH_EDB, "spool file names too long");
	}
	r = PQexecParams(st->conn, sql, 1, NULL, (const char *const *)&arr, NULL, NULL, 0);
	free(arr);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		*out = r;
		return PH_OK;
	}
	msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	e = ph_fail(err, errlen, PQstatus(st->conn) == CONNECTION_OK ? PH_EDB : PH_EDBDOWN,
	    "%s", msg != NULL ? msg : "database connection lost");
	PQclear(r);
	return e;
}

enum ph_err
ph_store_spool_applied(struct ph_store *st, const char (*names)[PH_SPOOL_NAME_LEN],
    size_t n, bool *applied, char *err, size_t errlen)
{
	PGresult *r;
	enum ph_err e;
	size_t i;
	int row;

	for (i = 0; i < n; i++)
		applied[i] = false;
	if (n == 0)
		return PH_OK;
	e = exec_names(st, "SELECT payhook.spool_applied_names($1::text[])", names, n, &r,
	    err, errlen);
	if (e != PH_OK)
		return e;
	for (row = 0; row < PQntuples(r); row++)
		for (i = 0; i < n; i++)
			if (strcmp(PQgetvalue(r, row, 0), names[i]) == 0)
				applied[i] = true;
	PQclear(r);
	return PH_OK;
}

enum ph_err
ph_store_spool_mark(struct ph_store *st, const char (*names)[PH_SPOOL_NAME_LEN], size_t n,
    char *err, size_t errlen)
{
	PGresult *r;
	enum ph_err e;

	if (n == 0)
		return PH_OK;
	e = exec_names(st, "SELECT payhook.spool_mark_applied($1::text[])", names, n, &r,
	    err, errlen);
	PQclear(r);
	return e;
}

struct pg_conn *
ph_store_conn(struct ph_store *st)
{
	return st->conn;
}
