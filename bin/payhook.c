/* payhook: the admin command. Each subcommand is a row of the table at
 * the bottom; adding one is adding a row. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "api.h"
#include "cli.h"
#include "conf.h"
#include "spool.h"
#include "store.h"
#include "util.h"

#define PH_MIGRATIONS_MAX 256
#define PH_MIGRATION_MAX_BYTES (4 << 20)
/* Serializes concurrent `payhook migrate` runs (pg_advisory_lock key). */
#define PH_MIGRATE_LOCK_KEY "7170686f6f6b"
/* The roles `migrate --roles` creates unless told other names. */
#define PH_ROLE_OWNER_DEFAULT "payhook_owner"
#define PH_ROLE_WRITER_DEFAULT "payhook_writer"
#define PH_ROLE_READER_DEFAULT "payhook_reader"

#ifndef PH_SQLDIR
#define PH_SQLDIR "/usr/local/share/payhook/sql"
#endif


/* The migrations directory: --sql-dir, else the source tree's sql/ when
 * this program runs from the build tree (right after `make`), else the
 * installed one. */
static const char *
sql_dir(const char *given)
{
	static char buf[PATH_MAX];
	char exe[PATH_MAX], *slash;
	ssize_t n;
	struct stat st;

	if (given != NULL)
		return given;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(buf, sizeof buf, "%.*s/../config.status",
			    PATH_MAX - 32, exe) < sizeof buf && stat(buf, &st) == 0)
				return PH_SRC_SQLDIR;
		}
	}
	return PH_SQLDIR;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists NNN_*.sql in dir, sorted; returns the count or -1. The names are
 * malloc'd; the caller frees each. */
static int
list_migrations(const char *dir, char **names, int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL) {
		fprintf(stderr, "%s: cannot open migrations directory %s: %s\n",
		    cli_progname, dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 8 || strcmp(de->d_name + len - 4, ".sql") != 0 ||
		    strspn(de->d_name, "0123456789") != 3 || de->d_name[3] != '_')
			continue;
		if (n == max || (names[n] = strdup(de->d_name)) == NULL) {
			fprintf(stderr, "%s: too many migrations in %s\n", cli_progname, dir);
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp_names);
	return n;
}

/* Reads a whole file; the caller frees the result. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long size;

	if (f == NULL)
		goto fail;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > PH_MIGRATION_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	buf = malloc((size_t)size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size)
		goto fail;
	buf[size] = '\0';
	fclose(f);
	return buf;
fail:
	fprintf(stderr, "%s: cannot read %s\n", cli_progname, path);
	free(buf);
	if (f != NULL)
		fclose(f);
	return NULL;
}

/* Applies one migration file in its own transaction, recording it. */
static bool
apply_migration(PGconn *conn, const char *dir, const char *name)
{
	char path[PATH_MAX], sha[PH_SHA256_HEX_LEN + 1], version[4];
	const char *params[3];
	char *sql;
	PGresult *r;
	bool ok = false;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((sql = slurp(path)) == NULL)
		return false;
	ph_sha256_hex(sql, strlen(sql), sha);
	memcpy(version, name, 3);
	version[3] = '\0';
	if (!cli_exec_ok(conn, "BEGIN", "begin"))
		goto out;
	if (!cli_exec_ok(conn, sql, name)) {
		cli_exec_ok(conn, "ROLLBACK", "rollback");
		goto out;
	}
	params[0] = version;
	params[1] = name;
	params[2] = sha;
	r = PQexecParams(conn, "INSERT INTO payhook.schema_migrations (version, name, sha256) "
	    "VALUES ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: recording %s: %s", cli_progname, name, PQerrorMessage(conn));
		PQclear(r);
		cli_exec_ok(conn, "ROLLBACK", "rollback");
		goto out;
	}
	PQclear(r);
	ok = cli_exec_ok(conn, "COMMIT", "commit");
	if (ok)
		printf("applied %s\n", name);
out:
	free(sql);
	return ok;
}

/* Looks a migration up; returns 1 applied (warning when the file changed
 * since), 0 not applied, -1 on error. */
static int
migration_state(PGconn *conn, const char *dir, const char *name)
{
	const char *params[1];
	char version[4], path[PATH_MAX], sha[PH_SHA256_HEX_LEN + 1];
	PGresult *r;
	int state;

	memcpy(version, name, 3);
	version[3] = '\0';
	params[0] = version;
	r = PQexecParams(conn, "SELECT name, sha256 FROM payhook.schema_migrations "
	    "WHERE version = $1", 1, NULL, params, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", cli_progname, PQerrorMessage(conn));
		PQclear(r);
		return -1;
	}
	state = PQntuples(r) > 0;
	if (state) {
		char *sql;

		snprintf(path, sizeof path, "%s/%s", dir, name);
		if ((sql = slurp(path)) != NULL) {
			ph_sha256_hex(sql, strlen(sql), sha);
			if (strcmp(sha, PQgetvalue(r, 0, 1)) != 0)
				fprintf(stderr, "%s: warning: %s changed since it was applied; "
				    "applied migrations are never edited: add a new one\n",
				    cli_progname, name);
			free(sql);
		}
	}
	PQclear(r);
	return state;
}

/* CREATE SCHEMA needs CREATE on the database, even with IF NOT EXISTS:
 * the owner role, which has not, runs later migrations. */
static bool
create_schema(PGconn *conn)
{
	PGresult *r = PQexec(conn, "SELECT to_regnamespace('payhook') IS NOT NULL");
	bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    strcmp(PQgetvalue(r, 0, 0), "t") == 0;

	PQclear(r);
	return exists || cli_exec_ok(conn, "CREATE SCHEMA payhook", "create schema");
}

/* roles: owner, writer, reader. Creates what is missing, gives each its
 * privileges, and says how to use them. */
static bool
setup_roles(PGconn *conn, const char *const roles[3])
{
	PGresult *r = PQexecParams(conn, "SELECT payhook.setup_roles($1, $2, $3)", 3, NULL,
	    roles, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "%s: setting up the roles (this needs a "
		    "superuser): %s", cli_progname, PQerrorMessage(conn));
	PQclear(r);
	if (!ok)
		return false;
	printf("roles: %s owns schema payhook (use it for migrate and rebuild),\n"
	    "       %s may only store deliveries (use it in the handlers' database string),\n"
	    "       %s may only read (use it for psql and reports).\n"
	    "They have no password: set one in psql with \\password ROLE, or let\n"
	    "pg_hba.conf map local users to them.\n", roles[0], roles[1], roles[2]);
	return true;
}

static int
cmd_migrate(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"database", required_argument, NULL, 'd'},
		{"sql-dir", required_argument, NULL, 's'},
		{"roles", no_argument, NULL, 'r'},
		{"owner", required_argument, NULL, 'O'},
		{"writer", required_argument, NULL, 'W'},
		{"reader", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *usage = self->usage;
	const char *config = NULL, *database = NULL, *dir = NULL;
	const char *roles[3] = {PH_ROLE_OWNER_DEFAULT, PH_ROLE_WRITER_DEFAULT,
	    PH_ROLE_READER_DEFAULT};
	bool want_roles = false;
	char *names[PH_MIGRATIONS_MAX];
	struct ph_config *cfg = NULL;
	PGconn *conn = NULL;
	int c, n = 0, i, applied = 0, status = 1;

	while ((c = getopt_long(argc, argv, "c:d:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': database = optarg; break;
		case 's': dir = optarg; break;
		case 'r': want_roles = true; break;
		case 'O': roles[0] = optarg; want_roles = true; break;
		case 'W': roles[1] = optarg; want_roles = true; break;
		case 'R': roles[2] = optarg; want_roles = true; break;
		case 'h': printf("usage: %s %s\n", cli_progname, usage); return 0;
		default: cli_die_usage(usage);
		}
	}
	if (optind != argc)
		cli_die_usage(usage);
	if (database == NULL) {
		if ((cfg = cli_load_config(config)) == NULL)
			return 1;
		database = ph_config_get(cfg, PH_CONF_DATABASE);
	}
	dir = sql_dir(dir);
	if ((n = list_migrations(dir, names, PH_MIGRATIONS_MAX)) < 0)
		goto out;
	if (n == 0) {
		fprintf(stderr, "%s: no migrations (NNN_name.sql) in %s\n", cli_progname, dir);
		goto out;
	}
	if ((conn = cli_connect_db(database != NULL ? database : "")) == NULL)
		goto out;
	/* Two migrate runs at once wait for each other instead of racing. */
	if (!cli_exec_ok(conn, "SET client_min_messages = warning", "settings") ||
	    !cli_exec_ok(conn, "SELECT pg_advisory_lock(x'" PH_MIGRATE_LOCK_KEY "'::bigint)", "lock") ||
	    !create_schema(conn) ||
	    !cli_exec_ok(conn, "CREATE TABLE IF NOT EXISTS payhook.schema_migrations ("
	    "version text PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())", "create schema_migrations"))
		goto out;
	for (i = 0; i < n; i++) {
		int state = migration_state(conn, dir, names[i]);

		if (state < 0)
			goto out;
		if (state == 1)
			continue;
		if (!apply_migration(conn, dir, names[i]))
			goto out;
		applied++;
	}
	if (applied == 0)
		printf("database is up to date (%d migration%s applied)\n", n, n == 1 ? "" : "s");
	if (want_roles ? !setup_roles(conn, roles) :
	    !cli_exec_ok(conn, "SELECT payhook.apply_privileges()", "privileges"))
		goto out;
	status = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	PQfinish(conn);
	ph_config_free(cfg);
	return status;
}

static const char *
origin_name(enum ph_conf_origin o)
{
	return o == PH_ORIGIN_FILE ? "file" : o == PH_ORIGIN_ENV ? "environment" : "default";
}

/* provider_timezone must be a zone the database knows: StepPay's times
 * are converted there, and an unknown zone would fail every delivery. */
static bool
timezone_known(PGconn *conn, const char *tz)
{
	const char *params[1] = {tz != NULL ? tz : "UTC"};
	PGresult *r;
	bool ok = true;

	r = PQexecParams(conn, "SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = $1 "
	    "UNION ALL SELECT 1 FROM pg_catalog.pg_timezone_abbrevs WHERE abbrev = $1",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		/* Not the merchant's mistake: say so, but do not fail on it. */
		printf("# warning: cannot check provider_timezone: %s", PQerrorMessage(conn));
	} else if (PQntuples(r) == 0) {
		printf("# error: provider_timezone '%s' is not a time zone the database knows "
		    "(try Asia/Seoul or UTC)\n", params[0]);
		ok = false;
	}
	PQclear(r);
	return ok;
}

/* The spool: how many deliveries wait for the database, how many were
 * set aside. Neither makes the configuration wrong; both want a look. */
static void
report_spool(const char *dir)
{
	char err[PH_ERRLEN];
	struct ph_spool_summary sum;
	struct stat st;

	if (dir == NULL) {
		printf("# warning: spool_dir is not set: a delivery that arrives while the "
		    "database is down is answered 503\n");
		return;
	}
	if (stat(dir, &st) != 0) {
		char parent[PATH_MAX];
		char *slash;

		/* A handler creates spool_dir itself (one mkdir), if its
		 * parent lets it: on shared hosting it often cannot. */
		ph_strlcpy(parent, dir, sizeof parent);
		slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else if (slash != NULL)
			*slash = '\0';
		else
			ph_strlcpy(parent, ".", sizeof parent);
		if (access(parent, W_OK | X_OK) == 0)
			printf("# spool: %s does not exist yet (created 0700 on first use)\n", dir);
		else
			printf("# warning: spool: %s does not exist and cannot be created (%s: %s): "
			    "while the database is down deliveries would be answered 503; create it "
			    "for the user the handlers run as (install -d -m 0700) or set spool_dir "
			    "to a directory that user owns\n", dir, parent, strerror(errno));
		return;
	}
	if (ph_spool_summarize(dir, &sum, err, sizeof err) != PH_OK) {
		printf("# warning: spool: %s\n", err);
		return;
	}
	printf("# spool: %s: %zu waiting, %ld failed, %zu stale temporary\n", dir, sum.waiting,
	    sum.failed, sum.stale_tmp);
	if (sum.waiting > 0)
		printf("# warning: %zu deliveries wait in the spool for the database "
		    "(payhook replay applies them)\n", sum.waiting);
	if (sum.failed > 0)
		printf("# warning: %ld spooled deliveries could not be applied: "
		    "payhook replay --list\n", sum.failed);
	if (sum.stale_tmp > 0)
		printf("# warning: %zu temporary spool file%s older than %d s, left by a "
		    "handler killed while writing (never answered 200): the next drain or "
		    "payhook replay removes them\n", sum.stale_tmp, sum.stale_tmp == 1 ? "" : "s",
		    PH_SPOOL_TMP_STALE_SECONDS);
}

static int
cmd_check_config(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"no-database", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *usage = self->usage;
	const char *config = NULL;
	struct ph_config *cfg;
	bool try_db = true;
	PGconn *conn;
	size_t i;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'n': try_db = false; break;
		case 'h': printf("usage: %s %s\n", cli_progname, usage); return 0;
		default: cli_die_usage(usage);
		}
	}
	if (optind != argc)
		cli_die_usage(usage);
	if ((cfg = cli_load_config(config)) == NULL)
		return 1;
	printf("# %s %s\n", cfg->path, cfg->file_found ? "(read)" : "(not found: defaults and environment only)");
	for (i = 0; i < PH_CONF__COUNT; i++) {
		const struct ph_conf_def *d = &ph_conf_defs[i];
		const char *v = ph_config_get(cfg, (enum ph_conf_key)i);

		if (v == NULL)
			printf("%-24s = %-24s # unset\n", d->name, "");
		else
			printf("%-24s = %-24s # %s\n", d->name,
			    d->type == PH_CT_SECRET ? "(set, not shown)" : v,
			    origin_name(cfg->origin[i]));
	}
	report_spool(ph_config_get(cfg, PH_CONF_SPOOL_DIR));
	if (try_db) {
		conn = cli_connect_db(ph_config_get(cfg, PH_CONF_DATABASE) != NULL ?
		    ph_config_get(cfg, PH_CONF_DATABASE) : "");
		if (conn == NULL)
			status = 1;
		else {
			enum ph_db_role role = ph_db_role(conn, NULL);
			bool wide = role == PH_ROLE_SUPERUSER || role == PH_ROLE_OWNER;

			printf("# database: connected as %s, %s\n", PQuser(conn),
			    ph_db_role_name(role));
			if (wide && cfg->require_least_privilege) {
				printf("# error: require_least_privilege = yes refuses %s\n",
				    ph_db_role_name(role));
				status = 1;
			} else if (wide)
				printf("# warning: the handlers are safer as the writer role "
				    "(payhook migrate --roles)\n");
			if (!timezone_known(conn, ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE)))
				status = 1;
			PQfinish(conn);
		}
	}
	printf("# %s\n", status == 0 ? "configuration OK" : "configuration has problems");
	ph_config_free(cfg);
	return status;
}

static int cmd_help(const struct cmd *self, int argc, char **argv);

static const struct cmd cmds[] = {
	{"migrate", "migrate [--config FILE] [--database CONNINFO] [--sql-dir DIR]\n"
	    "               [--roles [--owner NAME] [--writer NAME] [--reader NAME]]",
	    "create or upgrade payhook's tables (safe to run again)", cmd_migrate},
	{"check-config", "check-config [--config FILE] [--no-database]",
	    "show the configuration in force and try the database", cmd_check_config},
	{"status", "status [--config FILE] [--check]",
	    "the last hour, the spool, and what needs a look (--check: for monitoring)",
	    cmd_status},
	{"sync", "sync [--config FILE] [--since TIME | --all] [--limit N] [--jobs N] "
	    "[--timeout SECONDS] [--attempts N]",
	    "confirm pending objects with the provider APIs", cmd_sync},
	{"reconcile", "reconcile --from YYYY-MM-DD --to YYYY-MM-DD [--config FILE] "
	    "[--provider steppay|nicepay] [--timeout SECONDS] [--attempts N]",
	    "compare a date range with the providers (exit 1: differences)", cmd_reconcile},
	{"nicepay-webhook", "nicepay-webhook [--config FILE] [--json] [--email ADDRESS] "
	    "[--self-check] [--timeout SECONDS] register|update METHOD URL | list | delete METHOD",
	    "manage NicePay's webhook URLs", cmd_nicepay_webhook},
	{"replay", "replay [--config FILE] [--list]",
	    "apply deliveries spooled while the database was down", cmd_replay},
	{"rebuild", "rebuild [--config FILE] [--database CONNINFO] [--provider P] "
	    "[--order ID | --subscription ID | --payment KEY] [--dry-run] [--force]",
	    "recompute the state tables from webhook_events", cmd_rebuild},
	{"prune", "prune --before DATE [--config FILE] [--database CONNINFO] [--provider P] "
	    "[--archive FILE] [--dry-run]",
	    "delete (or archive) old webhook_events rows, never state", cmd_prune},
	{"tail", "tail [-n N] [-f|--follow] [--provider steppay|nicepay] [--interval SECONDS]\n"
	    "               [--no-color] [--config FILE] [--database CONNINFO]",
	    "show the latest deliveries; -f follows new ones", cmd_tail},
	{"help", "help", "this list", cmd_help},
};

static const struct cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s COMMAND [OPTIONS]\n\ncommands:\n", cli_progname);
	for (i = 0; i < PH_ARRAY_LEN(cmds); i++)
		fprintf(f, "  %-16s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nConfiguration: $PAYHOOK_CONFIG, else %s; every key can be\n"
	    "overridden by PAYHOOK_<KEY>. See payhook(1) and payhook.conf(5).\n",
	    ph_config_default_path());
}

static int
cmd_help(const struct cmd *self, int argc, char **argv)
{
	(void)self;
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cmd *cmd;
	int status;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	cmd = find_cmd(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "%s: unknown command '%s'\n", cli_progname, argv[1]);
		usage(stderr);
		return 2;
	}
	if (!ph_api_global_init()) {
		fprintf(stderr, "%s: cannot initialise libcurl\n", cli_progname);
		return 1;
	}
	status = cmd->run(cmd, argc - 1, argv + 1);
	ph_api_global_cleanup();
	return status;
}
