/* payhook replay: applies the spool (deliveries kept while the database
 * was down) through the handlers' own code, for plain-CGI installs where
 * no handler stays running to do it; --list shows what waits and what
 * was set aside. */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "conf.h"
#include "endpoint.h"
#include "spool.h"
#include "store.h"
#include "util.h"

/* The reason beside a failed file, first line only, printable. */
static void
failed_reason(const char *dir, const char *name, char *out, size_t outlen)
{
	char path[PATH_MAX], line[PH_ERRLEN];
	FILE *f;

	ph_strlcpy(out, "(no reason recorded)", outlen);
	if ((size_t)snprintf(path, sizeof path, "%s/%s/%s.error", dir, PH_SPOOL_FAILED,
	    name) >= sizeof path)
		return;
	f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		ph_sanitize(out, outlen, line, strlen(line));
	}
	fclose(f);
}

/* One line per waiting file (endpoint, received time, body size) and per
 * failed one (its reason). */
static int
list_spool(const char *dir)
{
	char err[PH_ERRLEN], reason[PH_ERRLEN];
	struct ph_spool_record *rec;
	char **names;
	size_t n, i, nfailed;
	int status = 0;

	rec = malloc(sizeof *rec);
	names = ph_spool_list(dir, false, &n, err, sizeof err);
	if (rec == NULL || names == NULL) {
		fprintf(stderr, "%s: %s\n", cli_progname, rec == NULL ? "out of memory" : err);
		free(rec);
		return 1;
	}
	printf("# %s: %zu waiting\n", dir, n);
	for (i = 0; i < n; i++) {
		char *buf = NULL;
		size_t len;

		if (ph_spool_read(dir, names[i], &buf, &len, err, sizeof err) == PH_OK &&
		    ph_spool_decode(buf, len, rec, err, sizeof err) == PH_OK)
			printf("pending %s %s %s %zu bytes\n", names[i], rec->endpoint,
			    rec->received_at, rec->body_len);
		else
			printf("pending %s (unreadable: %s)\n", names[i], err);
		free(buf);
	}
	ph_spool_list_free(names, n);
	free(rec);

	names = ph_spool_list(dir, true, &nfailed, err, sizeof err);
	if (names == NULL) {
		fprintf(stderr, "%s: %s\n", cli_progname, err);
		return 1;
	}
	printf("# %s/%s: %zu set aside\n", dir, PH_SPOOL_FAILED, nfailed);
	for (i = 0; i < nfailed; i++) {
		failed_reason(dir, names[i], reason, sizeof reason);
		printf("failed %s %s\n", names[i], reason);
	}
	ph_spool_list_free(names, nfailed);

	names = ph_spool_stale_tmp(dir, &n, err, sizeof err);
	if (names == NULL) {
		fprintf(stderr, "%s: %s\n", cli_progname, err);
		return 1;
	}
	printf("# %s: %zu stale temporary files (older than %d s)\n", dir, n,
	    PH_SPOOL_TMP_STALE_SECONDS);
	for (i = 0; i < n; i++)
		printf("stale %s (a writer killed before it answered; removed by the "
		    "next drain)\n", names[i]);
	ph_spool_list_free(names, n);
	return status;
}

int
cmd_replay(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"list", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *usage = self->usage;
	const char *config = NULL, *dir;
	struct ph_drain_stats stats;
	struct ph_config *cfg;
	struct ph_store *store = NULL;
	size_t applied = 0, set_aside = 0, left = 0, rounds, max_rounds;
	char err[PH_ERRLEN];
	bool list = false;
	long stale;
	enum ph_err e = PH_OK;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "c:lh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'l': list = true; break;
		case 'h': printf("usage: %s %s\n", cli_progname, usage); return 0;
		default: cli_die_usage(usage);
		}
	}
	if (optind != argc)
		cli_die_usage(usage);
	if ((cfg = cli_load_config(config)) == NULL)
		return 1;
	dir = ph_config_get(cfg, PH_CONF_SPOOL_DIR);
	if (dir == NULL) {
		fprintf(stderr, "%s: spool_dir is not set\n", cli_progname);
		status = 1;
		goto out;
	}
	if (list) {
		status = list_spool(dir);
		goto out;
	}
	/* Never answered 200, so never anyone's delivery: said once, removed. */
	stale = ph_spool_remove_stale_tmp(dir, err, sizeof err);
	if (stale < 0) {
		fprintf(stderr, "%s: %s\n", cli_progname, err);
		status = 1;
	} else if (stale > 0) {
		printf("removed %ld stale temporary file%s (older than %d s)\n", stale,
		    stale == 1 ? "" : "s", PH_SPOOL_TMP_STALE_SECONDS);
	}
	if (ph_spool_oldest(dir, NULL, 0, &left, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", cli_progname, err);
		status = 1;
		goto out;
	}
	if (left == 0)
		goto out; /* quiet from cron when there is nothing to do */
	store = ph_store_new("payhook replay");
	if (store == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		status = 1;
		goto out;
	}
	/* Each round applies a batch or stops; files that arrive meanwhile
	 * are taken too, up to twice what was there at the start. */
	max_rounds = 2 * (left / PH_SPOOL_BATCH + 1);
	for (rounds = 0; rounds < max_rounds; rounds++) {
		e = ph_endpoint_drain(store, cfg, PH_SPOOL_BATCH, &stats, err, sizeof err);
		applied += stats.applied;
		set_aside += stats.set_aside;
		left = stats.left;
		if (e != PH_OK || stats.busy || (stats.applied == 0 && stats.set_aside == 0))
			break;
	}
	if (ph_spool_oldest(dir, NULL, 0, &left, err, sizeof err) < 0)
		left = 0;
	printf("applied %zu, set aside %zu, %zu waiting\n", applied, set_aside, left);
	if (e != PH_OK) {
		fprintf(stderr, "%s: stopped: %s\n", cli_progname, err);
		status = 1;
	} else if (stats.busy) {
		printf("# another process is applying the spool\n");
	}
	if (set_aside > 0) {
		printf("# see %s %s --list for the files set aside\n", cli_progname, self->name);
		status = 1;
	}
out:
	ph_store_free(store);
	ph_config_free(cfg);
	return status;
}
