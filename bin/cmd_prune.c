/* payhook prune: deletes old payhook.webhook_events rows, optionally
 * archiving them first, and says what `payhook rebuild` can no longer
 * reproduce. It never touches a state table.
 *
 * Everything happens in one transaction, in this order: the events are
 * deleted into a temporary table (sql/012_prune.sql); the archive, when
 * asked for, is written from that table with COPY ... TO STDOUT into a
 * temporary file beside FILE, fsynced, and linked into place (link(),
 * not rename(), so that an archive that appeared meanwhile is never
 * overwritten); the prune is recorded in payhook.prunes; then COMMIT. If
 * any step fails, the transaction rolls back -- nothing is deleted -- and
 * the temporary file, or the archive when the COMMIT itself failed, is
 * removed.
 *
 * DATE is passed to the server as a bound parameter and read as a
 * timestamptz there, so it accepts exactly what psql would, in the
 * session's TimeZone. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli.h"
#include "conf.h"

#define PH_PRUNE_TMP_SUFFIX ".tmp-XXXXXX"

/* The archive's format: CSV with a header line, columns in the table's
 * order; psql's \copy ... FROM ... WITH (FORMAT csv, HEADER match)
 * loads it back (README, payhook(1)). */
static const char copy_sql[] =
    "COPY (SELECT * FROM pg_temp.pruned_events ORDER BY id) "
    "TO STDOUT WITH (FORMAT csv, HEADER)";

struct prune {
	PGconn *conn;
	const char *before;         /* as given */
	const char *provider;       /* NULL: all */
	const char *archive;        /* NULL: none */
	bool dry_run;
	char cutoff[64];            /* the server's reading of before */
	long long events;           /* deleted */
	long long state_rows;       /* first seen before the cut-off */
	long long archived;         /* rows written */
	char tmp[PATH_MAX];         /* the archive's temporary name, "" when none */
	bool linked;                /* the archive is in place (remove on failure) */
	bool unsure;                /* the COMMIT's outcome is unknown */
};

static void
print_server_error(const char *what, PGresult *r)
{
	fprintf(stderr, "%s: prune: %s: %s", cli_progname, what, PQresultErrorMessage(r));
}

/* Runs sql with the parameters; true when the status is the one wanted.
 * *out (may be NULL) receives the result, which the caller PQclear()s. */
static bool
query(struct prune *p, const char *what, const char *sql, int n, const char *const *params,
    ExecStatusType want, PGresult **out)
{
	PGresult *r = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == want;

	if (!ok)
		print_server_error(what, r);
	if (ok && out != NULL)
		*out = r;
	else
		PQclear(r);
	return ok;
}

/* Reads DATE on the server; refuses one it cannot read or one in the
 * future (the rows received after now are all the rows there are). */
static bool
read_cutoff(struct prune *p)
{
	const char *params[1] = {p->before};
	PGresult *r = PQexecParams(p->conn,
	    "SELECT $1::timestamptz::text, $1::timestamptz > now()", 1, NULL, params,
	    NULL, NULL, 0);
	bool ok = false;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *why = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

		fprintf(stderr, "%s: prune: --before '%s' is not a date and time PostgreSQL "
		    "accepts: %s%s", cli_progname, p->before,
		    why != NULL ? why : PQresultErrorMessage(r), why != NULL ? "\n" : "");
	} else if (strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
		fprintf(stderr, "%s: prune: --before '%s' (%s) is in the future\n",
		    cli_progname, p->before, PQgetvalue(r, 0, 0));
	} else {
		snprintf(p->cutoff, sizeof p->cutoff, "%s", PQgetvalue(r, 0, 0));
		ok = true;
	}
	PQclear(r);
	return ok;
}

/* Prints, per state table, the rows first seen before the cut-off. */
static bool
report_state(struct prune *p)
{
	const char *params[2] = {p->cutoff, p->provider};
	PGresult *r;
	int i;

	if (!query(p, "counting state rows",
	    "SELECT table_name, rows FROM payhook.pruned_history($1, $2, NULL, NULL)",
	    2, params, PGRES_TUPLES_OK, &r))
		return false;
	for (i = 0; i < PQntuples(r); i++)
		p->state_rows += strtoll(PQgetvalue(r, i, 1), NULL, 10);
	if (p->state_rows == 0) {
		printf("prune: every state row was first seen on or after then: "
		    "payhook rebuild can still reproduce them all\n");
	} else {
		printf("prune: payhook rebuild can no longer reproduce %lld state rows "
		    "first seen before then:\n", p->state_rows);
		for (i = 0; i < PQntuples(r); i++)
			printf("prune:   %s: %s rows\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return true;
}

static bool
delete_events(struct prune *p)
{
	const char *params[2] = {p->cutoff, p->provider};
	PGresult *r;

	if (!query(p, "deleting events", "SELECT payhook.prune_events($1, $2)", 2, params,
	    PGRES_TUPLES_OK, &r))
		return false;
	p->events = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	printf("prune: %lld events last received before %s%s%s\n", p->events, p->cutoff,
	    p->provider != NULL ? " from " : "", p->provider != NULL ? p->provider : "");
	return true;
}

static bool
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* The directory that holds path, for fsync after the link. */
static int
open_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return open(".", O_RDONLY | O_DIRECTORY);
	if (slash == path)
		return open("/", O_RDONLY | O_DIRECTORY);
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	return open(dir, O_RDONLY | O_DIRECTORY);
}

/* COPY into fd; every byte the server sends is read even after a failed
 * write, so that the connection can still roll back. */
static bool
copy_out(struct prune *p, int fd)
{
	PGresult *r;
	char *buf;
	int n;
	bool wrote = true, ok;

	r = PQexec(p->conn, copy_sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		print_server_error("archiving", r);
		PQclear(r);
		return false;
	}
	PQclear(r);
	while ((n = PQgetCopyData(p->conn, &buf, 0)) > 0) {
		if (wrote && !write_all(fd, buf, (size_t)n)) {
			fprintf(stderr, "%s: prune: writing the archive %s: %s\n", cli_progname,
			    p->tmp, strerror(errno));
			wrote = false;
		}
		PQfreemem(buf);
	}
	r = PQgetResult(p->conn);
	ok = n == -1 && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: prune: archiving: %s", cli_progname, PQerrorMessage(p->conn));
	if (ok)
		p->archived = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	while ((r = PQgetResult(p->conn)) != NULL)
		PQclear(r);
	return ok && wrote;
}

/* Writes the archive under a temporary name, fsyncs it, and links it to
 * its name (EEXIST: refused), then fsyncs the directory. */
static bool
write_archive(struct prune *p)
{
	int fd, dfd;
	bool ok;

	if ((size_t)snprintf(p->tmp, sizeof p->tmp, "%s" PH_PRUNE_TMP_SUFFIX, p->archive) >=
	    sizeof p->tmp) {
		fprintf(stderr, "%s: prune: the archive's name is too long\n", cli_progname);
		p->tmp[0] = '\0';
		return false;
	}
	/* mode 0600: the payloads hold customers' names and contacts. */
	fd = mkstemp(p->tmp);
	if (fd < 0) {
		fprintf(stderr, "%s: prune: cannot create the archive beside %s: %s\n",
		    cli_progname, p->archive, strerror(errno));
		p->tmp[0] = '\0';
		return false;
	}
	ok = copy_out(p, fd);
	if (ok && fsync(fd) != 0) {
		fprintf(stderr, "%s: prune: fsync %s: %s\n", cli_progname, p->tmp, strerror(errno));
		ok = false;
	}
	if (close(fd) != 0 && ok) {
		fprintf(stderr, "%s: prune: close %s: %s\n", cli_progname, p->tmp, strerror(errno));
		ok = false;
	}
	if (!ok)
		return false;
	if (link(p->tmp, p->archive) != 0) {
		fprintf(stderr, "%s: prune: %s: %s\n", cli_progname, p->archive,
		    errno == EEXIST ? "the archive exists; not overwriting it" : strerror(errno));
		return false;
	}
	p->linked = true;
	unlink(p->tmp);
	p->tmp[0] = '\0';
	if ((dfd = open_parent(p->archive)) < 0 || fsync(dfd) != 0) {
		fprintf(stderr, "%s: prune: fsync the directory of %s: %s\n", cli_progname,
		    p->archive, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return false;
	}
	close(dfd);
	printf("prune: archive %s: %lld rows\n", p->archive, p->archived);
	return true;
}

static bool
record(struct prune *p)
{
	char events[32], state[32];
	const char *params[5] = {p->cutoff, p->provider, events, state, p->archive};

	snprintf(events, sizeof events, "%lld", p->events);
	snprintf(state, sizeof state, "%lld", p->state_rows);
	return query(p, "recording the prune",
	    "INSERT INTO payhook.prunes (received_before, provider, events_deleted, state_rows, "
	    "archive) VALUES ($1, $2, $3, $4, $5)", 5, params, PGRES_COMMAND_OK, NULL);
}

static bool
run(struct prune *p)
{
	if (!cli_exec_ok(p->conn, "BEGIN", "BEGIN") ||
	    /* The owner's own timeouts would cut a large prune short; a
	     * running rebuild (SHARE lock) is waited for, as it waits for us. */
	    !cli_exec_ok(p->conn, "SET LOCAL statement_timeout = 0", "settings") ||
	    !cli_exec_ok(p->conn, "SET LOCAL lock_timeout = 0", "settings") ||
	    !read_cutoff(p) || !delete_events(p) || !report_state(p))
		return false;
	if (p->dry_run) {
		if (p->archive != NULL)
			printf("prune: archive %s: %lld rows (dry run: not written)\n",
			    p->archive, p->events);
		if (!cli_exec_ok(p->conn, "ROLLBACK", "ROLLBACK"))
			return false;
		printf("prune: dry run: rolled back, nothing changed\n");
		return true;
	}
	if (p->archive != NULL && !write_archive(p))
		return false;
	if (!record(p))
		return false;
	if (!cli_exec_ok(p->conn, "COMMIT", "COMMIT")) {
		/* Lost while committing: it may have committed, and then the
		 * archive holds the only copy of the rows. */
		p->unsure = PQstatus(p->conn) != CONNECTION_OK;
		return false;
	}
	printf("prune: committed\n");
	return true;
}

int
cmd_prune(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"database", required_argument, NULL, 'd'},
		{"before", required_argument, NULL, 'b'},
		{"archive", required_argument, NULL, 'a'},
		{"provider", required_argument, NULL, 'p'},
		{"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct prune p;
	struct ph_config *cfg;
	const char *config = NULL, *database = NULL;
	struct stat st;
	int c, status = 1;

	memset(&p, 0, sizeof p);
	while ((c = getopt_long(argc, argv, "c:d:b:a:p:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': database = optarg; break;
		case 'b': p.before = optarg; break;
		case 'a': p.archive = optarg; break;
		case 'p': p.provider = optarg; break;
		case 'n': p.dry_run = true; break;
		case 'h': printf("usage: %s %s\n", cli_progname, self->usage); return 0;
		default: cli_die_usage(self->usage);
		}
	}
	if (optind != argc || p.before == NULL || (p.archive != NULL && *p.archive == '\0'))
		cli_die_usage(self->usage);
	if (p.provider != NULL && strcmp(p.provider, "steppay") != 0 &&
	    strcmp(p.provider, "nicepay") != 0) {
		fprintf(stderr, "%s: --provider is steppay or nicepay\n", cli_progname);
		return 2;
	}
	/* Said before any work; link() refuses again at the end. */
	if (p.archive != NULL && lstat(p.archive, &st) == 0) {
		fprintf(stderr, "%s: prune: %s: the archive exists; not overwriting it\n",
		    cli_progname, p.archive);
		return 1;
	}
	if ((cfg = cli_load_config(config)) == NULL)
		return 1;
	p.conn = cli_connect_db(database != NULL ? database :
	    ph_config_get(cfg, PH_CONF_DATABASE));
	if (p.conn != NULL && run(&p))
		status = 0;
	if (status != 0) {
		if (p.tmp[0] != '\0')
			unlink(p.tmp);
		if (p.unsure)
			fprintf(stderr, "%s: prune: the connection was lost at COMMIT: see "
			    "payhook.prunes for whether the prune happened%s%s%s\n", cli_progname,
			    p.linked ? "; the archive " : "", p.linked ? p.archive : "",
			    p.linked ? " is kept" : "");
		else if (p.conn != NULL)
			fprintf(stderr, "%s: prune: nothing deleted\n", cli_progname);
		if (p.linked && !p.unsure)
			unlink(p.archive);
	}
	PQfinish(p.conn);
	ph_config_free(cfg);
	return status;
}
