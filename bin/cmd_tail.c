/* payhook tail: the latest deliveries in payhook.webhook_events as a
 * terminal view, and with -f the new ones as they are committed.
 *
 * Everything it reads comes from SELECT on webhook_events, so it works as
 * the reader role. Every string from the database is attacker data (a
 * payload is whatever was posted) and is printed sanitized. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli.h"
#include "conf.h"
#include "util.h"

#define PH_TAIL_DEFAULT_ROWS 10
#define PH_TAIL_MAX_ROWS 100000
#define PH_TAIL_INTERVAL_MIN 0.05            /* seconds */
#define PH_TAIL_INTERVAL_MAX 3600.0
#define PH_TAIL_BATCH 500                    /* rows per poll at most */
#define PH_TAIL_STR_(x) #x
#define PH_TAIL_STR(x) PH_TAIL_STR_(x)
/* A gap in the ids may be a transaction that took its id before one that
 * committed first: -f asks for such ids again for a while. A writer's
 * statement_timeout is 10 s; a minute is plenty. */
#define PH_TAIL_GAPS_MAX 256
#define PH_TAIL_GAP_SECONDS 60
#define PH_TAIL_VALUE_MAX 64                 /* bytes of one value shown */
#define PH_TAIL_OBJECT_MAX 160

/* The columns of both queries, in this order. The object keys are taken
 * out of the payload by the server, so no payload crosses the wire. */
#define TAIL_COLUMNS \
	"e.id, (extract(epoch FROM e.received_at) * 1000)::bigint, e.provider, " \
	"e.endpoint, e.event_type, e.outcome, " \
	"round(extract(epoch FROM e.stored_at - e.received_at) * 1000)::bigint, " \
	"e.delivery_count, " \
	"e.payload->>'tid', e.payload->>'orderId', e.payload->>'id', " \
	"e.payload->>'idKey', e.payload->>'kind', e.payload->>'key', " \
	"e.payload->'data'->>'id', e.payload->'data'->>'subscriptionId', " \
	"e.payload->'data'->>'paymentId', e.payload->'data'->>'code', " \
	"e.payload->'data'->>'priceCode'"

enum {
	C_ID, C_RECEIVED_MS, C_PROVIDER, C_ENDPOINT, C_EVENT, C_OUTCOME, C_MS, C_COUNT,
	C_TID, C_ORDER_ID, C_BODY_ID, C_ID_KEY, C_SYNC_KIND, C_SYNC_KEY,
	C_DATA_ID, C_DATA_SUBSCRIPTION, C_DATA_PAYMENT, C_DATA_CODE, C_DATA_PRICE,
	C__COUNT
};

/* The last N rows (of one provider: $2, or all), oldest first, and the
 * highest id of all in the same snapshot: where -f starts. */
static const char first_sql[] =
	"SELECT t.*, m.max_id FROM "
	"(SELECT coalesce(max(id), 0) AS max_id FROM payhook.webhook_events) m "
	"LEFT JOIN LATERAL (SELECT " TAIL_COLUMNS " FROM payhook.webhook_events e "
	"WHERE e.id <= m.max_id AND ($2::text IS NULL OR e.provider = $2) "
	"ORDER BY e.id DESC LIMIT $1) t ON true ORDER BY t.id";

/* One poll: rows after the last seen, and the gaps still open (both by
 * the primary key). Every provider: the gaps are kept exact, and the
 * columns are small. */
static const char poll_sql[] =
	"SELECT " TAIL_COLUMNS " FROM payhook.webhook_events e "
	"WHERE e.id > $1 OR e.id = ANY ($2::bigint[]) ORDER BY e.id LIMIT " PH_TAIL_STR(PH_TAIL_BATCH);

/* Which payload fields name the object a delivery is about: the natural
 * keys the parsers in lib/ use. The first row whose endpoint matches and
 * whose prefix starts the event type wins. A NULL label takes the label
 * from the payload's "kind" (a sync row: {"kind", "key", ...}). */
struct object_rule {
	const char *endpoint;
	const char *event_prefix;
	struct {
		const char *label;
		int col;
	} keys[2];
};

static const struct object_rule object_rules[] = {
	{"nicepay", "", {{"tid", C_TID}, {"orderId", C_ORDER_ID}}},
	{"steppay-v1", "order", {{"orderId", C_ORDER_ID}, {NULL, -1}}},
	{"steppay-v1", "subscription", {{"id", C_BODY_ID}, {NULL, -1}}},
	{"steppay-v1", "payment", {{"idKey", C_ID_KEY}, {"orderId", C_ORDER_ID}}},
	{"steppay-v2", "subscription.usage.", {{"id", C_DATA_ID}, {NULL, -1}}},
	{"steppay-v2", "subscription.", {{"subscriptionId", C_DATA_SUBSCRIPTION}, {NULL, -1}}},
	{"steppay-v2", "payment.", {{"paymentId", C_DATA_PAYMENT}, {NULL, -1}}},
	{"steppay-v2", "product.price.", {{"priceCode", C_DATA_PRICE}, {NULL, -1}}},
	{"steppay-v2", "product.", {{"code", C_DATA_CODE}, {NULL, -1}}},
	/* A cover message is about a subscription's payment. */
	{"steppay-v2", "cover.", {{"subscriptionId", C_DATA_SUBSCRIPTION}, {NULL, -1}}},
	{"steppay-v2", "", {{"id", C_DATA_ID}, {NULL, -1}}},
	{"sync", "", {{"tid", C_TID}, {NULL, C_SYNC_KEY}}},
};

/* SGR colours of the outcomes; an outcome not listed (test) is plain. */
static const struct {
	const char *outcome;
	const char *sgr;
} outcome_colours[] = {
	{"applied", "32"},
	{"duplicate", "2"}, {"stale", "2"},
	{"rejected", "31"}, {"failed", "31"},
	{"unverified", "33"}, {"unhandled", "33"},
};

struct gap {
	long long id;
	time_t until;       /* monotonic seconds */
};

struct tail {
	PGconn *conn;
	const char *provider;   /* only this provider's rows, or NULL */
	bool colour;
	long long last;         /* highest id seen */
	struct gap gaps[PH_TAIL_GAPS_MAX];
	size_t ngaps;
};

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static time_t
mono_seconds(void)
{
	return (time_t)(ph_now_us() / 1000000);
}

/* A value from the database as printable ASCII (ph_sanitize), with blanks
 * made '?' too, so that a value is one column; NULL and "" become "-". */
static void
field(char *dst, size_t size, const PGresult *r, int row, int col)
{
	const char *v = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
	size_t len = (size_t)PQgetlength(r, row, col), i;

	if (*v == '\0') {
		ph_strlcpy(dst, "-", size);
		return;
	}
	ph_sanitize(dst, size, v, len);
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == ' ')
			dst[i] = '?';
}

/* The object column: label=value pairs of the row's rule, joined by
 * commas; "-" when the payload has none (a rejected row keeps none). */
static void
object_key(char *dst, size_t size, const PGresult *r, int row)
{
	const char *endpoint = PQgetvalue(r, row, C_ENDPOINT);
	const char *event = PQgetisnull(r, row, C_EVENT) ? "" : PQgetvalue(r, row, C_EVENT);
	const struct object_rule *rule = NULL;
	char label[PH_TAIL_VALUE_MAX], value[PH_TAIL_VALUE_MAX];
	size_t i, used = 0;

	for (i = 0; i < PH_ARRAY_LEN(object_rules) && rule == NULL; i++)
		if (strcmp(object_rules[i].endpoint, endpoint) == 0 &&
		    strncmp(event, object_rules[i].event_prefix,
		    strlen(object_rules[i].event_prefix)) == 0)
			rule = &object_rules[i];
	dst[0] = '\0';
	for (i = 0; rule != NULL && i < PH_ARRAY_LEN(rule->keys); i++) {
		int col = rule->keys[i].col;
		int n;

		if (col < 0 || PQgetisnull(r, row, col) || *PQgetvalue(r, row, col) == '\0')
			continue;
		if (rule->keys[i].label != NULL)
			ph_strlcpy(label, rule->keys[i].label, sizeof label);
		else
			field(label, sizeof label, r, row, C_SYNC_KIND);
		field(value, sizeof value, r, row, col);
		n = snprintf(dst + used, size - used, "%s%s=%s", used > 0 ? "," : "", label, value);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	if (used == 0)
		ph_strlcpy(dst, "-", size);
}

static const char *
outcome_sgr(const char *outcome)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(outcome_colours); i++)
		if (strcmp(outcome_colours[i].outcome, outcome) == 0)
			return outcome_colours[i].sgr;
	return NULL;
}

/* One line: time (local), provider, endpoint, event type, object, outcome,
 * ms from receipt to the row, and xN when delivered N > 1 times. */
static void
print_row(const struct tail *t, const PGresult *r, int row)
{
	char when[32], provider[16], endpoint[16], event[PH_TAIL_VALUE_MAX];
	char object[PH_TAIL_OBJECT_MAX], outcome[16], ms[24];
	const char *sgr;
	long long received_ms = strtoll(PQgetvalue(r, row, C_RECEIVED_MS), NULL, 10);
	long count = strtol(PQgetvalue(r, row, C_COUNT), NULL, 10);
	time_t secs = (time_t)(received_ms / 1000);
	struct tm tm;
	int pad;

	if (localtime_r(&secs, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		ph_strlcpy(when, "(time unknown)", sizeof when);
	field(provider, sizeof provider, r, row, C_PROVIDER);
	field(endpoint, sizeof endpoint, r, row, C_ENDPOINT);
	field(event, sizeof event, r, row, C_EVENT);
	field(outcome, sizeof outcome, r, row, C_OUTCOME);
	object_key(object, sizeof object, r, row);
	if (PQgetisnull(r, row, C_MS))
		ph_strlcpy(ms, "-", sizeof ms);
	else
		snprintf(ms, sizeof ms, "%sms", PQgetvalue(r, row, C_MS));
	sgr = t->colour ? outcome_sgr(outcome) : NULL;
	pad = 10 - (int)strlen(outcome);
	printf("%s  %-7s  %-10s  %-24s  %-32s  ", when, provider, endpoint, event, object);
	if (sgr != NULL)
		printf("\033[%sm%s\033[0m", sgr, outcome);
	else
		fputs(outcome, stdout);
	printf("%*s  %7s", pad > 0 ? pad : 0, "", ms);
	if (count > 1)
		printf("  x%ld", count);
	putchar('\n');
}

static void
gap_add(struct tail *t, long long id, time_t now)
{
	if (t->ngaps == PH_TAIL_GAPS_MAX) {
		/* The oldest gap goes first. */
		memmove(&t->gaps[0], &t->gaps[1], (t->ngaps - 1) * sizeof t->gaps[0]);
		t->ngaps--;
	}
	t->gaps[t->ngaps].id = id;
	t->gaps[t->ngaps].until = now + PH_TAIL_GAP_SECONDS;
	t->ngaps++;
}

/* Forgets gap id (found) and the gaps whose time is up. */
static void
gaps_prune(struct tail *t, long long found, time_t now)
{
	size_t i, kept = 0;

	for (i = 0; i < t->ngaps; i++)
		if (t->gaps[i].id != found && t->gaps[i].until > now)
			t->gaps[kept++] = t->gaps[i];
	t->ngaps = kept;
}

/* The gaps as a PostgreSQL array literal "{1,2,3}". */
static void
gaps_literal(const struct tail *t, char *buf, size_t size)
{
	size_t i, used = 0;

	used = (size_t)snprintf(buf, size, "{");
	for (i = 0; i < t->ngaps && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%lld", i > 0 ? "," : "",
		    t->gaps[i].id);
	if (used < size)
		snprintf(buf + used, size - used, "}");
}

/* Prints a poll's rows; notes the ids skipped as gaps. Returns the number
 * of rows. */
static int
take_rows(struct tail *t, const PGresult *r)
{
	time_t now = mono_seconds();
	int i, n = PQntuples(r);

	gaps_prune(t, -1, now);
	for (i = 0; i < n; i++) {
		long long id = strtoll(PQgetvalue(r, i, C_ID), NULL, 10), g;

		if (id > t->last) {
			g = id - 1 > t->last + PH_TAIL_GAPS_MAX ? id - 1 - PH_TAIL_GAPS_MAX : t->last;
			for (g = g + 1; g < id; g++)
				gap_add(t, g, now);
			t->last = id;
		} else {
			gaps_prune(t, id, now);
		}
		if (t->provider == NULL || strcmp(PQgetvalue(r, i, C_PROVIDER), t->provider) == 0)
			print_row(t, r, i);
	}
	return n;
}

/* The first rows. Returns false after printing the server's message. */
static bool
tail_first(struct tail *t, int rows)
{
	char nrows[16];
	const char *params[2] = {nrows, t->provider};
	PGresult *r;
	int i, n;

	snprintf(nrows, sizeof nrows, "%d", rows);
	r = PQexecParams(t->conn, first_sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: tail: %s", cli_progname, PQerrorMessage(t->conn));
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		t->last = strtoll(PQgetvalue(r, i, C__COUNT), NULL, 10);
		if (!PQgetisnull(r, i, C_ID))
			print_row(t, r, i);
	}
	PQclear(r);
	return true;
}

/* One poll; -1 when the query failed, else the number of rows. */
static int
tail_poll(struct tail *t)
{
	char last[24], gaps[PH_TAIL_GAPS_MAX * 21 + 3];
	const char *params[2] = {last, gaps};
	PGresult *r;
	int n = -1;

	snprintf(last, sizeof last, "%lld", t->last);
	gaps_literal(t, gaps, sizeof gaps);
	r = PQexecParams(t->conn, poll_sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = take_rows(t, r);
	PQclear(r);
	return n;
}

/* Sleeps up to seconds; returns early on SIGINT or SIGTERM, which are
 * blocked everywhere else, so that none is lost between a check of the
 * flag and the sleep. */
static void
pause_for(double seconds, const sigset_t *unblocked)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	if (pselect(0, NULL, NULL, NULL, &ts, unblocked) < 0 && errno != EINTR)
		stop_requested = 1;
}

/* Follows new rows until a signal. A lost connection is said once, and
 * tried again every interval until it is back (said once too). */
static int
tail_follow(struct tail *t, double interval, const sigset_t *unblocked)
{
	bool lost = false;
	int n;

	while (!stop_requested) {
		if (lost) {
			PQreset(t->conn);
			if (PQstatus(t->conn) == CONNECTION_OK) {
				fprintf(stderr, "%s: tail: database connection back\n", cli_progname);
				lost = false;
			}
		}
		n = lost ? 0 : tail_poll(t);
		if (n < 0 && PQstatus(t->conn) == CONNECTION_OK) {
			fprintf(stderr, "%s: tail: %s", cli_progname, PQerrorMessage(t->conn));
			return 1;
		}
		if (n < 0) {
			fprintf(stderr, "%s: tail: database connection lost; reconnecting\n",
			    cli_progname);
			lost = true;
		}
		if (fflush(stdout) != 0 || ferror(stdout))
			return 1;
		/* A full batch: more are waiting. */
		if (n < PH_TAIL_BATCH)
			pause_for(interval, unblocked);
	}
	return 0;
}

/* A positive number of seconds, decimals allowed, within the limits. */
static bool
parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < PH_TAIL_INTERVAL_MIN || v > PH_TAIL_INTERVAL_MAX)
		return false;
	*out = v;
	return true;
}

/* NO_COLOR (https://no-color.org): set and not empty means no colour. */
static bool
want_colour(bool no_color)
{
	const char *env = getenv("NO_COLOR");

	return !no_color && (env == NULL || *env == '\0') && isatty(STDOUT_FILENO);
}

int
cmd_tail(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"lines", required_argument, NULL, 'n'},
		{"follow", no_argument, NULL, 'f'},
		{"provider", required_argument, NULL, 'p'},
		{"interval", required_argument, NULL, 'i'},
		{"no-color", no_argument, NULL, 'C'},
		{"config", required_argument, NULL, 'c'},
		{"database", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const providers[] = {"steppay", "nicepay"};
	const char *usage = self->usage;
	const char *config = NULL, *database = NULL;
	struct ph_config *cfg = NULL;
	struct tail t;
	sigset_t block, unblocked;
	struct sigaction sa;
	uint64_t rows = PH_TAIL_DEFAULT_ROWS;
	double interval = 1.0;
	bool follow = false, no_color = false;
	int c, status = 1;

	memset(&t, 0, sizeof t);
	while ((c = getopt_long(argc, argv, "n:fc:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!ph_parse_u64(optarg, PH_TAIL_MAX_ROWS, &rows))
				cli_die_usage(usage);
			break;
		case 'f': follow = true; break;
		case 'p':
			if (!ph_str_in(optarg, providers, PH_ARRAY_LEN(providers)))
				cli_die_usage(usage);
			t.provider = optarg;
			break;
		case 'i':
			if (!parse_interval(optarg, &interval))
				cli_die_usage(usage);
			break;
		case 'C': no_color = true; break;
		case 'c': config = optarg; break;
		case 'd': database = optarg; break;
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
	t.colour = want_colour(no_color);
	tzset();

	/* With -f, SIGINT and SIGTERM only get through while it sleeps. */
	sigemptyset(&unblocked);
	if (follow) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_stop;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &unblocked);
	}

	if ((t.conn = cli_connect_db(database != NULL ? database : "")) == NULL)
		goto out;
	if (!tail_first(&t, (int)rows))
		goto out;
	if (fflush(stdout) != 0)
		goto out;
	status = follow ? tail_follow(&t, interval, &unblocked) : 0;
out:
	PQfinish(t.conn);
	ph_config_free(cfg);
	return status;
}
