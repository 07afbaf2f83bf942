/* What every payhook subcommand shares: usage errors, the configuration
 * the handlers would see, and a database connection. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cli.h"
#include "err.h"

const char *cli_progname = "payhook";

void
cli_die_usage(const char *usage)
{
	fprintf(stderr, "usage: %s %s\n", cli_progname, usage);
	exit(2);
}

/* Loads the config the way the handlers do: $PAYHOOK_CONFIG or --config,
 * else the default path, then the environment. */
struct ph_config *
cli_load_config(const char *path)
{
	char err[PH_ERRLEN];
	struct ph_config *cfg;

	if (path == NULL)
		path = getenv("PAYHOOK_CONFIG");
	cfg = ph_config_load(path, path != NULL && *path != '\0', err, sizeof err);
	if (cfg == NULL)
		fprintf(stderr, "%s: %s\n", cli_progname, err);
	return cfg;
}

PGconn *
cli_connect_db_err(const char *conninfo, char *err, size_t errlen)
{
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"10", "payhook", conninfo, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
		err[strcspn(err, "\n")] = '\0';
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGconn *
cli_connect_db(const char *conninfo)
{
	char err[PH_ERRLEN];
	PGconn *conn = cli_connect_db_err(conninfo, err, sizeof err);

	if (conn == NULL)
		fprintf(stderr, "%s: cannot connect to the database: %s\n", cli_progname, err);
	return conn;
}

bool
cli_exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult *r = PQexec(conn, sql);
	bool ok = r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);

	if (!ok)
		fprintf(stderr, "%s: %s: %s", cli_progname, what, PQerrorMessage(conn));
	PQclear(r);
	return ok;
}

