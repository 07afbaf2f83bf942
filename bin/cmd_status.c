/* payhook status: the last hour at a glance, and --check for cron and
 * monitoring systems (Nagios/Icinga plugin conventions: one line on
 * stdout, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
 *
 * Each condition is a row of one table: what it watches, how bad it is
 * when it trips, and the words for both cases. The database part is one
 * query (one round trip), which payhook_reader may run; the spool part
 * reads spool_dir's names only, never a file. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "cli.h"
#include "conf.h"
#include "err.h"
#include "spool.h"
#include "util.h"

enum level { L_OK, L_WARNING, L_CRITICAL, L_UNKNOWN };

static const char *const level_name[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

/* How bad, for choosing the one level to report: UNKNOWN only when
 * nothing is known to be wrong. */
static const int level_rank[] = {0, 2, 3, 1};

/* One query for every database fact; $n are seconds from the config.
 * Rows received in the last hour and the last rejected one are found
 * through the index on received_at. */
static const char status_sql[] =
    "WITH hour AS ("
    "  SELECT outcome, count(*) AS n FROM payhook.webhook_events"
    "   WHERE received_at > now() - interval '1 hour' GROUP BY outcome)"
    " SELECT"
    "  (SELECT coalesce(sum(n), 0) FROM hour),"
    "  (SELECT string_agg(outcome || ' ' || n, ', ' ORDER BY n DESC, outcome) FROM hour),"
    "  (SELECT floor(extract(epoch FROM now() - max(received_at)))::bigint"
    "     FROM payhook.webhook_events),"
    "  (SELECT max(received_at)::timestamptz(0)::text FROM payhook.webhook_events),"
    "  (SELECT count(*) FROM payhook.webhook_events WHERE outcome = 'rejected'"
    "      AND received_at > now() - make_interval(secs => $1)),"
    "  (SELECT count(*) FROM payhook.vbank_waiting"
    "    WHERE expires_at < now() - make_interval(secs => $2)),"
    "  (SELECT count(*) FROM payhook.active_subscriptions"
    "    WHERE next_payment_date < now() - make_interval(secs => $3)),"
    "  (SELECT count(*) FROM payhook.pending_verification"
    "    WHERE coalesce(sync_requested_at, updated_at) < now() - make_interval(secs => $4)),"
    "  (SELECT received_at::timestamptz(0)::text || ' ' || endpoint || ' ' ||"
    "          coalesce(event_type || ' ', '') || outcome || coalesce(': ' || error, '')"
    "     FROM payhook.webhook_events"
    "    WHERE outcome IN ('rejected', 'failed') AND received_at > now() - interval '7 days'"
    "    ORDER BY received_at DESC LIMIT 1)";

enum { F_HOUR, F_OUTCOMES, F_QUIET, F_LAST, F_REJECTED, F_VBANK, F_PAYMENT, F_PENDING,
    F_LAST_ERROR, F__COUNT };

/* What was found, before judging it. */
struct facts {
	bool db_ok;                   /* the query ran */
	enum level db_level;          /* when not: CRITICAL or UNKNOWN */
	char db_error[PH_ERRLEN];
	long long hour, quiet, rejected, vbank, payment, pending; /* quiet < 0: none ever */
	char outcomes[PH_ERRLEN], last[64], last_error[PH_ERRLEN];
	bool spool_ok;
	char spool_error[PH_ERRLEN];
	size_t waiting;
	long set_aside;
	long long spool_age;          /* of the oldest waiting file, seconds */
	unsigned long th[PH_CONF__COUNT]; /* the thresholds, by config key */
};

/* A condition: judges the facts and words the result either way. */
struct condition {
	const char *name;
	bool needs_db;
	enum level (*judge)(const struct facts *f, char *text, size_t len);
};

static const char *
plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Seconds for a person: a threshold exactly ("90 min", "24 h"), an age
 * rounded down ("7 min" for 479 s). */
static void
span(char *out, size_t len, unsigned long long s, bool exact)
{
	if (s < 120 || (exact && s % 60 != 0))
		snprintf(out, len, "%llu s", s);
	else if (exact ? s < 3600 || s % 3600 != 0 : s < 7200)
		snprintf(out, len, "%llu min", s / 60);
	else if (exact ? s < 172800 || s % 86400 != 0 : s < 172800)
		snprintf(out, len, "%llu h", s / 3600);
	else
		snprintf(out, len, "%llu days", s / 86400);
}

static enum level
judge_db(const struct facts *f, char *text, size_t len)
{
	if (f->db_ok) {
		snprintf(text, len, "database reachable");
		return L_OK;
	}
	snprintf(text, len, "%s%s", f->db_level == L_CRITICAL ? "database unreachable: " : "",
	    f->db_error);
	return f->db_level;
}

static enum level
judge_set_aside(const struct facts *f, char *text, size_t len)
{
	if (!f->spool_ok) {
		snprintf(text, len, "cannot read the spool: %s", f->spool_error);
		return L_UNKNOWN;
	}
	snprintf(text, len, "%ld spooled %s could not be applied%s", f->set_aside,
	    plural(f->set_aside, "delivery", "deliveries"),
	    f->set_aside > 0 ? " (payhook replay --list)" : "");
	return f->set_aside > 0 ? L_CRITICAL : L_OK;
}

static enum level
judge_spool(const struct facts *f, char *text, size_t len)
{
	char age[32];

	if (!f->spool_ok) {
		text[0] = '\0';      /* said once, by judge_set_aside */
		return L_OK;
	}
	if (f->waiting == 0) {
		snprintf(text, len, "nothing waiting in the spool");
		return L_OK;
	}
	span(age, sizeof age, (unsigned long long)f->spool_age, false);
	snprintf(text, len, "%zu %s waiting in the spool, the oldest for %s", f->waiting,
	    plural((long long)f->waiting, "delivery", "deliveries"), age);
	return (unsigned long long)f->spool_age > f->th[PH_CONF_CHECK_SPOOL_AGE] ?
	    L_CRITICAL : L_WARNING;
}

static enum level
judge_rejected(const struct facts *f, char *text, size_t len)
{
	unsigned long limit = f->th[PH_CONF_CHECK_REJECTED];
	char window[32];
	bool bad = limit > 0 && (unsigned long long)f->rejected >= limit;

	span(window, sizeof window, f->th[PH_CONF_CHECK_REJECTED_WINDOW], true);
	snprintf(text, len, "%lld %s rejected in the last %s%s", f->rejected,
	    plural(f->rejected, "delivery", "deliveries"), window,
	    bad ? " (a key changed on one side only?)" : "");
	return bad ? L_CRITICAL : L_OK;
}

static enum level
judge_quiet(const struct facts *f, char *text, size_t len)
{
	unsigned long limit = f->th[PH_CONF_CHECK_QUIET];
	char ago[32];

	if (f->quiet < 0) {
		snprintf(text, len, "no delivery received yet");
		return limit > 0 ? L_WARNING : L_OK;
	}
	span(ago, sizeof ago, (unsigned long long)f->quiet, false);
	if (limit > 0 && (unsigned long long)f->quiet > limit) {
		snprintf(text, len, "no delivery for %s", ago);
		return L_WARNING;
	}
	snprintf(text, len, "last delivery %s ago", ago);
	return L_OK;
}

static enum level
judge_vbank(const struct facts *f, char *text, size_t len)
{
	snprintf(text, len, "%lld virtual %s past %s deadline with neither paid nor "
	    "expired received", f->vbank, plural(f->vbank, "account", "accounts"),
	    plural(f->vbank, "its", "their"));
	return f->vbank > 0 ? L_WARNING : L_OK;
}

static enum level
judge_payment(const struct facts *f, char *text, size_t len)
{
	snprintf(text, len, "%lld %s past %s payment date with no payment event", f->payment,
	    plural(f->payment, "subscription", "subscriptions"),
	    plural(f->payment, "its", "their"));
	return f->payment > 0 ? L_WARNING : L_OK;
}

static enum level
judge_pending(const struct facts *f, char *text, size_t len)
{
	char after[32];

	span(after, sizeof after, f->th[PH_CONF_CHECK_PENDING_AFTER], true);
	snprintf(text, len, "%lld %s still pending verification after %s (payhook sync)",
	    f->pending, plural(f->pending, "object", "objects"), after);
	return f->pending > 0 ? L_WARNING : L_OK;
}

/* In this order in the summary line, worst first within it. */
static const struct condition conditions[] = {
	{"database", false, judge_db},
	{"spool set aside", false, judge_set_aside},
	{"spool", false, judge_spool},
	{"rejected", true, judge_rejected},
	{"quiet", true, judge_quiet},
	{"virtual accounts", true, judge_vbank},
	{"subscriptions", true, judge_payment},
	{"pending", true, judge_pending},
};
#define NCOND (sizeof conditions / sizeof conditions[0])

static long long
field_ll(const PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? -1 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

static void
field_text(const PGresult *r, int col, char *out, size_t len)
{
	const char *v = PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col);

	ph_sanitize(out, len, v, strlen(v));
}

static void
read_db(PGconn *conn, struct facts *f)
{
	static const enum ph_conf_key args[] = {PH_CONF_CHECK_REJECTED_WINDOW,
	    PH_CONF_CHECK_VBANK_GRACE, PH_CONF_CHECK_PAYMENT_GRACE, PH_CONF_CHECK_PENDING_AFTER};
	char buf[4][24];
	const char *params[4];
	const char *state, *msg;
	PGresult *r;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(buf[i], sizeof buf[i], "%lu", f->th[args[i]]);
		params[i] = buf[i];
	}
	r = PQexecParams(conn, status_sql, 4, NULL, params, NULL, NULL, 0);
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    PQnfields(r) == F__COUNT) {
		f->db_ok = true;
		f->hour = field_ll(r, F_HOUR);
		f->quiet = field_ll(r, F_QUIET);
		f->rejected = field_ll(r, F_REJECTED);
		f->vbank = field_ll(r, F_VBANK);
		f->payment = field_ll(r, F_PAYMENT);
		f->pending = field_ll(r, F_PENDING);
		field_text(r, F_OUTCOMES, f->outcomes, sizeof f->outcomes);
		field_text(r, F_LAST, f->last, sizeof f->last);
		field_text(r, F_LAST_ERROR, f->last_error, sizeof f->last_error);
		PQclear(r);
		return;
	}
	f->db_level = L_UNKNOWN;
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	if (state != NULL && (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0))
		snprintf(f->db_error, sizeof f->db_error,
		    "payhook's tables are missing or old: run payhook migrate (%s)", msg);
	else if (state != NULL && strcmp(state, "42501") == 0)
		snprintf(f->db_error, sizeof f->db_error,
		    "cannot read payhook's tables: %s (use the reader role)", msg);
	else {
		snprintf(f->db_error, sizeof f->db_error, "database query failed: %s", msg);
		if (PQstatus(conn) != CONNECTION_OK)
			f->db_level = L_CRITICAL;
	}
	f->db_error[strcspn(f->db_error, "\n")] = '\0';
	PQclear(r);
}

/* The spool's names only: how many wait, the oldest one's age (its name
 * starts with the microseconds it was received at), how many were set
 * aside. */
static void
read_spool(const char *dir, struct facts *f)
{
	struct ph_spool_summary sum;

	f->spool_ok = true;
	if (dir == NULL)
		return;
	if (ph_spool_summarize(dir, &sum, f->spool_error, sizeof f->spool_error) != PH_OK) {
		f->spool_ok = false;
		return;
	}
	f->waiting = sum.waiting;
	f->set_aside = sum.failed;
	if (sum.oldest_us > 0) {
		long long now = (long long)time(NULL), at = (long long)(sum.oldest_us / 1000000);

		f->spool_age = now - at > 0 ? now - at : 0;
	}
}

static void
load_thresholds(const struct ph_config *cfg, struct facts *f)
{
	size_t i;

	for (i = 0; i < PH_CONF__COUNT; i++) {
		const char *v = ph_config_get(cfg, (enum ph_conf_key)i);

		if (v != NULL && (ph_conf_defs[i].type == PH_CT_SECONDS ||
		    ph_conf_defs[i].type == PH_CT_COUNT))
			f->th[i] = strtoul(v, NULL, 10);
	}
}

/* Judges every condition; prints them for a person (verbose) or one
 * plugin line. Returns the level to exit with. */
static enum level
report(const struct facts *f, const char *dir, bool verbose)
{
	char text[NCOND][PH_ERRLEN];
	enum level lv[NCOND], worst = L_OK;
	size_t i;
	int pass;
	bool first = true;

	for (i = 0; i < NCOND; i++) {
		if (conditions[i].needs_db && !f->db_ok) {
			lv[i] = L_OK;
			text[i][0] = '\0';
			continue;
		}
		lv[i] = conditions[i].judge(f, text[i], sizeof text[i]);
		if (level_rank[lv[i]] > level_rank[worst])
			worst = lv[i];
	}
	if (verbose) {
		if (!f->db_ok)
			printf("database:      %s%s\n", f->db_level == L_CRITICAL ?
			    "unreachable: " : "", f->db_error);
		else {
			printf("database:      reachable\n");
			printf("last hour:     %lld %s%s%s\n", f->hour,
			    plural(f->hour, "delivery", "deliveries"),
			    f->outcomes[0] != '\0' ? ": " : "", f->outcomes);
			if (f->quiet >= 0) {
				char ago[32];

				span(ago, sizeof ago, (unsigned long long)f->quiet, false);
				printf("last delivery: %s (%s ago)\n", f->last, ago);
			} else
				printf("last delivery: none yet\n");
			printf("last error:    %s\n", f->last_error[0] != '\0' ?
			    f->last_error : "none in the last 7 days");
		}
		if (dir == NULL)
			printf("spool:         spool_dir not set\n");
		else if (!f->spool_ok)
			printf("spool:         %s: cannot read: %s\n", dir, f->spool_error);
		else
			printf("spool:         %s: %zu waiting, %ld set aside\n", dir,
			    f->waiting, f->set_aside);
		printf("checks:        %s\n", level_name[worst]);
		for (i = 0; i < NCOND; i++)
			if (text[i][0] != '\0')
				printf("  %-9s %s\n", level_name[lv[i]], text[i]);
		return worst;
	}

	printf("PAYHOOK %s - ", level_name[worst]);
	/* The problems, the worst first; or what is fine. */
	for (pass = 3; pass >= 1; pass--)
		for (i = 0; i < NCOND; i++)
			if (level_rank[lv[i]] == pass && text[i][0] != '\0') {
				printf("%s%s", first ? "" : "; ", text[i]);
				first = false;
			}
	if (first)
		printf("%lld %s in the last hour, %s", f->hour,
		    plural(f->hour, "delivery", "deliveries"),
		    f->waiting == 0 ? "spool empty" : "spool draining");
	printf(" | spool=%zu;;;0 spool_set_aside=%ld;;;0", f->waiting, f->set_aside);
	if (f->db_ok)
		printf(" deliveries=%lld;;;0 rejected=%lld;;%lu;0", f->hour, f->rejected,
		    f->th[PH_CONF_CHECK_REJECTED]);
	printf("\n");
	return worst;
}

static bool
has_check_flag(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--check") == 0)
			return true;
	return false;
}

int
cmd_status(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* A monitoring system reads any exit code but 0-2 as UNKNOWN; say
	 * it in its words when the command line itself is wrong. */
	bool check = has_check_flag(argc, argv);
	const char *config = NULL, *dir, *conninfo;
	struct ph_config *cfg;
	struct facts *f;
	PGconn *conn;
	enum level lv;
	bool reached;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'C': break;
		case 'h': printf("usage: %s %s\n", cli_progname, self->usage); return 0;
		default:
			if (!check)
				cli_die_usage(self->usage);
			printf("PAYHOOK UNKNOWN - usage: %s %s\n", cli_progname, self->usage);
			return L_UNKNOWN;
		}
	}
	if (optind != argc) {
		if (!check)
			cli_die_usage(self->usage);
		printf("PAYHOOK UNKNOWN - usage: %s %s\n", cli_progname, self->usage);
		return L_UNKNOWN;
	}
	if ((cfg = cli_load_config(config)) == NULL) {
		if (check)
			printf("PAYHOOK UNKNOWN - the configuration cannot be read\n");
		return check ? L_UNKNOWN : 1;
	}
	if ((f = calloc(1, sizeof *f)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		ph_config_free(cfg);
		return check ? L_UNKNOWN : 1;
	}
	load_thresholds(cfg, f);
	dir = ph_config_get(cfg, PH_CONF_SPOOL_DIR);
	read_spool(dir, f);
	conninfo = ph_config_get(cfg, PH_CONF_DATABASE);
	conn = cli_connect_db_err(conninfo != NULL ? conninfo : "", f->db_error,
	    sizeof f->db_error);
	if (conn == NULL) {
		char reason[PH_ERRLEN];

		ph_strlcpy(reason, f->db_error, sizeof reason);
		ph_sanitize(f->db_error, sizeof f->db_error, reason, strlen(reason));
		f->db_level = L_CRITICAL;
	} else {
		read_db(conn, f);
		PQfinish(conn);
	}
	lv = report(f, dir, !check);
	reached = f->db_ok;
	free(f);
	ph_config_free(cfg);
	if (check)
		return (int)lv;
	/* For a person: 1 when the database cannot be asked. */
	return reached ? 0 : 1;
}
