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

struct ph_store;

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
 * require_least_privilege. PH_EDBDOWN or PH_ECONFIG on failure. */
enum ph_err ph_store_ready(struct ph_store *st, const struct ph_config *cfg,
    char *err, size_t errlen);

/* Records d and applies d->action in one transaction. PH_EDB when the
 * database refused it (err holds the server's message: record the
 * delivery as failed); PH_EDBDOWN when it could not be reached. */
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

/* The store's libpq connection (a PGconn), for the caller's own
 * statements inside that transaction; NULL before ph_store_ready. It
 * belongs to the store. */
struct pg_conn;
struct pg_conn *ph_store_conn(struct ph_store *st);

#endif
