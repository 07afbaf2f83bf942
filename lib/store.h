/* PostgreSQL: one persistent connection per process, one transaction and
 * one round trip per delivery (a server-side function per store action,
 * called with bound parameters -- nothing that a transaction-pooling proxy
 * would break). */
#ifndef PH_STORE_H
#define PH_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "delivery.h"
#include "err.h"

#define PH_OUTCOME_MAX 16
#define PH_DETAIL_MAX 256
#define PH_DB_CONNECT_TIMEOUT "5"    /* seconds; a conninfo may override */
#define PH_DB_RETRIES 3              /* serialization failures retried */
/* Set with set_config(..., true) in each delivery's own transaction, so
 * that it holds behind a transaction-pooling proxy too, unless the role
 * or the connection already sets a statement_timeout. */
#define PH_DB_STATEMENT_TIMEOUT "5s"
/* After a failed connect, the next attempt waits this long, doubling up
 * to the maximum: a down database is not asked again on every request
 * (deliveries are spooled meanwhile). The maximum plus the idle check of
 * a FastCGI handler bounds how soon a quiet site drains its spool. */
#define PH_DB_BACKOFF_MIN_MS 1000
#define PH_DB_BACKOFF_MAX_MS 3000

struct ph_store;
struct pg_conn;

/* What the connected role may do, as far as require_least_privilege
 * cares. */
enum ph_db_role {
	PH_ROLE_UNKNOWN,      /* the catalog could not be read */
	PH_ROLE_LEAST,        /* neither of the two below: the writer, say */
	PH_ROLE_OWNER,        /* owns (or is a member of the owner of) schema payhook */
	PH_ROLE_SUPERUSER,
};

/* One query on conn (a libpq PGconn). *timeout_set, when not NULL, gets
 * whether the session already has a statement_timeout (the role's, the
 * database's or the conninfo's). */
enum ph_db_role ph_db_role(struct pg_conn *conn, bool *timeout_set);
/* "a superuser", "the owner of schema payhook", ... */
const char *ph_db_role_name(enum ph_db_role role);

struct ph_store_result {
	long long event_id;
	char outcome[PH_OUTCOME_MAX];   /* applied, duplicate, stale, ... */
	char detail[PH_DETAIL_MAX];
};

/* A store that connects on first use; application_name is set to name.
 * The caller frees it with ph_store_free(). NULL when out of memory. */
struct ph_store *ph_store_new(const char *name);
void ph_store_free(struct ph_store *st);

/* Makes sure a usable connection to cfg's database exists (connecting or
 * resetting as needed) and that its role is allowed by
 * require_least_privilege. PH_EDBDOWN or PH_ECONFIG on failure; within
 * the backoff window after a failed connect, PH_EDBDOWN without trying. */
enum ph_err ph_store_ready(struct ph_store *st, const struct ph_config *cfg,
    char *err, size_t errlen);

/* Records d and applies d->action in one transaction. PH_EDB when the
 * database refused it (err holds the server's message: record the
 * delivery as failed); PH_EDBDOWN when it could not be reached (connect
 * failure, connection lost, SQLSTATE class 08, 57P01-57P03, 53300: the
 * delivery may be spooled); PH_EDBBUSY when it is reachable but cannot
 * work now (statement timeout, out of disk or memory, internal error). */
enum ph_err ph_store_apply(struct ph_store *st, const struct ph_config *cfg,
    const struct ph_delivery *d, struct ph_store_result *res, char *err, size_t errlen);

/* Records d with the given outcome (unhandled, rejected, failed, ...)
 * and error text, applying nothing. */
enum ph_err ph_store_record(struct ph_store *st, const struct ph_config *cfg,
    const struct ph_delivery *d, const char *outcome, const char *error,
    struct ph_store_result *res, char *err, size_t errlen);

/* A transaction around several calls, for `payhook rebuild`: after
 * ph_store_begin, ph_store_apply and ph_store_record run inside it and
 * never reconnect or retry (that would run them outside it): the first
 * failure is final, and the caller ends it with ph_store_end(commit =
 * false). */
enum ph_err ph_store_begin(struct ph_store *st, const struct ph_config *cfg,
    char *err, size_t errlen);
enum ph_err ph_store_end(struct ph_store *st, bool commit, char *err, size_t errlen);

/* Like ph_store_begin, for a drainer's batch: each ph_store_apply and
 * ph_store_record runs under its own savepoint, so that one that fails
 * is undone alone and the transaction goes on (a delivery the database
 * refuses is then recorded as failed, as live). */
enum ph_err ph_store_begin_batch(struct ph_store *st, const struct ph_config *cfg,
    char *err, size_t errlen);

/* Inside a batch: sets applied[i] for each of the n spool file names
 * that an earlier, committed batch recorded as applied
 * (payhook.spool_applied). */
#define PH_SPOOL_NAME_LEN 64 /* = PH_SPOOL_NAME_MAX of spool.h */
enum ph_err ph_store_spool_applied(struct ph_store *st,
    const char (*names)[PH_SPOOL_NAME_LEN], size_t n, bool *applied,
    char *err, size_t errlen);
/* Inside a batch: records the n names as applied, in that transaction. */
enum ph_err ph_store_spool_mark(struct ph_store *st,
    const char (*names)[PH_SPOOL_NAME_LEN], size_t n, char *err, size_t errlen);

/* The store's libpq connection (a PGconn), for the caller's own
 * statements inside that transaction; NULL before ph_store_ready. It
 * belongs to the store. */
struct pg_conn;
struct pg_conn *ph_store_conn(struct ph_store *st);

#endif
