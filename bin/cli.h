/* Shared by the payhook subcommands (bin/cmd_*.c and bin/payhook.c).
 * A subcommand is a row of the table in payhook.c: name, usage line,
 * one-line summary, and its function. */
#ifndef PH_CLI_H
#define PH_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "conf.h"

struct cmd {
	const char *name;
	const char *usage;
	const char *summary;
	int (*run)(const struct cmd *self, int argc, char **argv);
};

extern const char *cli_progname;

/* Prints "usage: payhook USAGE" on stderr and exits 2. */
void cli_die_usage(const char *usage) __attribute__((noreturn));

/* The configuration as the handlers see it: path (--config), else
 * $PAYHOOK_CONFIG, else the default path; then the environment. NULL
 * after printing why. */
struct ph_config *cli_load_config(const char *path);

/* A connection to conninfo, or NULL after printing why. */
PGconn *cli_connect_db(const char *conninfo);

/* The same without printing: NULL with the first line of the reason in err. */
PGconn *cli_connect_db_err(const char *conninfo, char *err, size_t errlen);

/* Runs sql; false after printing "what: server message". */
bool cli_exec_ok(PGconn *conn, const char *sql, const char *what);

/* Subcommands in their own files (bin/cmd_<name>.c). */
int cmd_sync(const struct cmd *self, int argc, char **argv);
int cmd_nicepay_webhook(const struct cmd *self, int argc, char **argv);
int cmd_reconcile(const struct cmd *self, int argc, char **argv);
int cmd_replay(const struct cmd *self, int argc, char **argv);
int cmd_rebuild(const struct cmd *self, int argc, char **argv);
int cmd_status(const struct cmd *self, int argc, char **argv);
int cmd_prune(const struct cmd *self, int argc, char **argv);
int cmd_tail(const struct cmd *self, int argc, char **argv);

#endif
