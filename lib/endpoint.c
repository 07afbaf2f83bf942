#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <json-c/json.h>

#include "cidr.h"
#include "endpoint.h"
#include "form.h"
#include "json.h"
#include "log.h"
#include "nicepay.h"
#include "spool.h"
#include "steppay_v1.h"
#include "steppay_v2.h"
#include "util.h"

/* How often an idle FastCGI handler looks at the spool (milliseconds).
 * With PH_DB_BACKOFF_MAX_MS this bounds how long a quiet site's spool
 * waits once the database is back. */
#define PH_IDLE_CHECK_MS 1000
/* Batches an idle handler drains in a row at most; between two it looks
 * for a waiting request, which goes first. */
#define PH_IDLE_BATCHES 10000
/* How often a handler looks for the temporary files of killed spool
 * writers (seconds). */
#define PH_TMP_SWEEP_SECONDS 60

_Static_assert(PH_SPOOL_NAME_LEN == PH_SPOOL_NAME_MAX, "store.h and spool.h agree on names");

const struct ph_endpoint *const ph_endpoints[] = {
	&ph_steppay_v1_endpoint, &ph_steppay_v2_endpoint, &ph_nicepay_endpoint,
};
const size_t ph_nendpoints = PH_ARRAY_LEN(ph_endpoints);

const struct ph_endpoint *
ph_endpoint_find(const char *name)
{
	size_t i;

	for (i = 0; i < ph_nendpoints; i++)
		if (strcmp(ph_endpoints[i]->policy.endpoint, name) == 0)
			return ph_endpoints[i];
	return NULL;
}

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	FCGX_ShutdownPending();
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* SA_RESTART: reading the body or waiting for the database goes on,
	 * so the request in progress is finished. The accept loop waits in
	 * poll(), which a signal interrupts whatever the flags, and then
	 * sees stop_requested; the listening socket is non-blocking, so
	 * accept() never waits. */
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Stamps the delivery with the time it was received. */
static void
stamp_received(struct ph_ctx *ctx)
{
	struct ph_delivery *d = &ctx->d;
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
	ctx->received_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(d->received_at, sizeof d->received_at, "%s.%06ldZ", base, (long)tv.tv_usec);
	d->received_unix = (long long)tv.tv_sec;
}

/* Answers and logs; msg is the reason for an error reply. */
static void
finish(struct ph_ctx *ctx, int status, const char *outcome, long long event_id,
    const char *msg)
{
	const struct ph_endpoint *ep = ctx->ep;
	struct ph_log_request line = {
		.endpoint = ep->policy.endpoint,
		.remote_addr = ctx->req.remote_addr,
		.event_type = ctx->d.event_type[0] != '\0' ? ctx->d.event_type : NULL,
		.status = status,
		.outcome = outcome,
		.event_id = event_id,
		.message = msg,
	};
	char body[PH_ERRLEN + 64];

	ctx->status = status;
	ph_strlcpy(ctx->message, msg != NULL ? msg : "", sizeof ctx->message);
	if (ctx->replaying) {
		line.status = status == 200 ? 200 : 0;
		line.message = msg != NULL ? msg : "applied from the spool";
		line.elapsed_us = ph_now_us() - ctx->started_us;
		ph_log_request(&line);
		return;
	}
	if (status == 200 && ep->ok_body != NULL)
		ph_strlcpy(body, ep->ok_body, sizeof body);
	else if (status == 200 || status >= 500)
		/* A 5xx reason is ours (a path, a key name, a server message),
		 * not the sender's business: the log line has it. */
		snprintf(body, sizeof body, "%s\n", outcome);
	else
		snprintf(body, sizeof body, "%s%s%s\n", outcome,
		    msg != NULL ? ": " : "", msg != NULL ? msg : "");
	ph_request_reply(&ctx->req, status, ep->reply_type,
	    status == 405 ? "Allow: POST" : NULL, body);
	line.elapsed_us = ph_now_us() - ctx->started_us;
	ph_log_request(&line);
}

static void
finish_error(struct ph_ctx *ctx, enum ph_err e, const char *msg)
{
	ctx->error = e;
	finish(ctx, ph_err_http_status(e), ph_err_name(e), 0, msg);
}

/* Writes the delivery to the spool and answers as if it were stored.
 * why is the reason it is not stored now, for the log line. False when
 * the spool cannot be written (err says why); nothing is answered then. */
static bool
spool_and_answer(struct ph_ctx *ctx, const char *why, char *err, size_t errlen)
{
	const char *dir = ph_config_get(ctx->cfg, PH_CONF_SPOOL_DIR);
	const struct ph_endpoint *ep = ctx->ep;
	struct ph_spool_record *rec;
	char name[PH_SPOOL_NAME_MAX], msg[PH_ERRLEN];
	const char *v;
	size_t i;
	enum ph_err e;

	if (dir == NULL) {
		ph_fail(err, errlen, PH_EIO, "spool_dir is not set");
		return false;
	}
	/* About 6 kB: on the heap, like the body it describes. */
	rec = calloc(1, sizeof *rec);
	if (rec == NULL) {
		ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		return false;
	}
	ph_strlcpy(rec->endpoint, ep->policy.endpoint, sizeof rec->endpoint);
	ph_strlcpy(rec->received_at, ctx->d.received_at, sizeof rec->received_at);
	rec->received_unix = ctx->d.received_unix;
	ph_strlcpy(rec->remote_addr, ctx->d.remote_addr != NULL ? ctx->d.remote_addr : "",
	    sizeof rec->remote_addr);
	if (ctx->req.media >= 0)
		ph_strlcpy(rec->media_type, ep->policy.content_types[ctx->req.media],
		    sizeof rec->media_type);
	rec->signature_valid = ctx->d.signature_valid;
	ph_strlcpy(rec->timezone, ctx->d.timezone != NULL ? ctx->d.timezone : "",
	    sizeof rec->timezone);
	for (i = 0; ep->verified_headers != NULL && ep->verified_headers[i] != NULL &&
	    rec->nheaders < PH_SPOOL_HEADERS_MAX; i++) {
		v = ph_request_header(&ctx->req, ep->verified_headers[i]);
		if (v == NULL)
			continue;
		ph_strlcpy(rec->header[rec->nheaders].name, ep->verified_headers[i],
		    sizeof rec->header[0].name);
		ph_strlcpy(rec->header[rec->nheaders].value, v, sizeof rec->header[0].value);
		rec->nheaders++;
	}
	rec->body = ctx->req.body;
	rec->body_len = ctx->req.body_len;
	e = ph_spool_write(dir, rec, ctx->received_us, name, err, errlen);
	free(rec);
	if (e != PH_OK)
		return false;
	snprintf(msg, sizeof msg, "spooled as %s: %s", name, why);
	finish(ctx, 200, "spooled", 0, msg);
	return true;
}

/* The database is down and the spool cannot take the delivery either:
 * 503, so that the provider sends it again. */
static void
answer_unstored(struct ph_ctx *ctx, const char *dberr, const char *spoolerr)
{
	ph_log_error("%s: cannot store (%s) and cannot spool (%s): answered 503",
	    ctx->ep->policy.endpoint, dberr, spoolerr);
	ctx->error = PH_EDBDOWN;
	finish(ctx, 503, ph_err_name(PH_EDBDOWN), 0, "database down and spool not writable");
}

/* Decodes the body by its media type: a form becomes a JSON object of its
 * fields, which is also what webhook_events.payload keeps. */
static enum ph_err
decode_body(struct ph_ctx *ctx, struct json_object **out, char *err, size_t errlen)
{
	const char *media = ctx->ep->policy.content_types[ctx->req.media];
	enum ph_err e;

	if (strcmp(media, "application/x-www-form-urlencoded") == 0) {
		e = ph_form_parse(ctx->req.body, ctx->req.body_len, out, err, errlen);
		if (e != PH_OK)
			return e;
		ctx->d.payload = json_object_to_json_string_ext(*out, JSON_C_TO_STRING_PLAIN);
		return PH_OK;
	}
	e = ph_json_parse(ctx->req.body, ctx->req.body_len, out, err, errlen);
	if (e == PH_OK)
		ctx->d.payload = ctx->req.body;
	return e;
}

static void
store_and_answer(struct ph_ctx *ctx, const char *outcome_only)
{
	struct ph_store_result res;
	char err[PH_ERRLEN], err2[PH_ERRLEN];
	enum ph_err e;

	memset(&res, 0, sizeof res);
	/* Arrival order: while older deliveries wait in the spool, a new
	 * StepPay v1 notice (nothing but arrival order) waits behind them.
	 * If the spool cannot take it, storing it now beats refusing it.
	 * Versioned endpoints are stored at once, spool or not. */
	if (ctx->ep->ordered && !ctx->replaying &&
	    ph_config_get(ctx->cfg, PH_CONF_SPOOL_DIR) != NULL &&
	    ph_spool_pending(ph_config_get(ctx->cfg, PH_CONF_SPOOL_DIR))) {
		if (spool_and_answer(ctx, "behind older spooled deliveries", err, sizeof err))
			return;
		ph_log_warn("%s: cannot join the spool (%s): storing directly",
		    ctx->ep->policy.endpoint, err);
	}
	if (outcome_only != NULL)
		e = ph_store_record(ctx->store, ctx->cfg, &ctx->d, outcome_only, NULL,
		    &res, err, sizeof err);
	else
		e = ph_store_apply(ctx->store, ctx->cfg, &ctx->d, &res, err, sizeof err);
	if (e == PH_EDB) {
		/* The database refused to apply it: keep the delivery with the
		 * reason (it shows in payhook.unapplied_events) and answer 200,
		 * since a retry of the same bytes would fail the same way. */
		e = ph_store_record(ctx->store, ctx->cfg, &ctx->d, "failed", err,
		    &res, err2, sizeof err2);
		if (e == PH_EDB && ctx->d.payload != NULL) {
			/* The payload itself is what the database refuses (a
			 * number jsonb cannot hold): keep hash, length and the
			 * reason rather than lose the delivery to endless retries. */
			ctx->d.payload = NULL;
			e = ph_store_record(ctx->store, ctx->cfg, &ctx->d, "failed", err,
			    &res, err2, sizeof err2);
		}
		if (e == PH_OK) {
			finish(ctx, 200, res.outcome, res.event_id, err);
			return;
		}
		ph_strlcpy(err, err2, sizeof err);
	}
	if (e == PH_EDBDOWN && !ctx->replaying) {
		if (!spool_and_answer(ctx, err, err2, sizeof err2))
			answer_unstored(ctx, err, err2);
		return;
	}
	if (e != PH_OK) {
		finish_error(ctx, e, err);
		return;
	}
	finish(ctx, 200, res.outcome, res.event_id,
	    res.detail[0] != '\0' ? res.detail : NULL);
}

/* A delivery that failed authentication: kept for monitoring, with hash
 * and length only, and answered 401 -- unless the endpoint's
 * auth_failure_action finds in the database that it is something else. */
static void
answer_unauthenticated(struct ph_ctx *ctx, const char *reason)
{
	const struct ph_store_action *action = ctx->ep->auth_failure_action;
	struct ph_store_result res;
	char err[PH_ERRLEN];
	enum ph_err e = PH_EDB;

	memset(&res, 0, sizeof res);
	if (action != NULL && action->nargs == 1) {
		ctx->d.action = action;
		ctx->d.arg[0] = reason;
		e = ph_store_apply(ctx->store, ctx->cfg, &ctx->d, &res, err, sizeof err);
		if (e == PH_OK && strcmp(res.outcome, "rejected") != 0) {
			finish(ctx, 200, res.outcome, res.event_id,
			    res.detail[0] != '\0' ? res.detail : NULL);
			return;
		}
		if (e == PH_EDBDOWN || e == PH_ECONFIG) {
			/* Whether it is rejected is the database's to say. */
			finish_error(ctx, e, err);
			return;
		}
	}
	if (e != PH_OK && ph_store_record(ctx->store, ctx->cfg, &ctx->d, "rejected", reason,
	    &res, err, sizeof err) != PH_OK)
		ph_log_warn("%s: the rejected delivery was not recorded: %s",
		    ctx->ep->policy.endpoint, err);
	finish(ctx, 401, "rejected", res.event_id, reason);
}

/* The event record's fields that come from the raw body. */
static void
set_body_fields(struct ph_ctx *ctx)
{
	ctx->d.body_len = ctx->req.body_len;
	ph_sha256_hex(ctx->req.body != NULL ? ctx->req.body : "", ctx->req.body_len,
	    ctx->d.body_sha256);
	/* The store drops it for rejected and failed rows. */
	if (ctx->ep->dedupe)
		ctx->d.dedupe_key = ctx->d.body_sha256;
}

/* Everything from the authenticated raw body on: decode, classify,
 * parse, store, answer. A live request comes here after
 * ph_request_check and authenticate; a spooled one with the result its
 * authentication had (ctx->replaying: verify is not run again, its
 * result is in ctx->d.signature_valid). */
static void
process(struct ph_ctx *ctx)
{
	const struct ph_endpoint *ep = ctx->ep;
	const struct ph_event_desc *desc;
	struct json_object *body = NULL;
	char err[PH_ERRLEN];
	enum ph_err e;

	set_body_fields(ctx);

	/* ph_request_check let an empty body through only where the policy
	 * allows one: it is classified without a JSON value. */
	e = ctx->req.body_len > 0 ? decode_body(ctx, &body, err, sizeof err) : PH_OK;
	if (e == PH_OK)
		e = ep->classify(ctx, body, err, sizeof err);
	if (e == PH_OK && ep->verify != NULL && !ctx->replaying) {
		e = ep->verify(ctx, body, err, sizeof err);
		if (e == PH_EAUTH) {
			answer_unauthenticated(ctx, err);
			goto out;
		}
	}
	if (e != PH_OK) {
		finish_error(ctx, e, err);
		goto out;
	}
	desc = ph_event_desc_find(ep->events, ep->nevents, ctx->d.event_type);
	if (desc == NULL) {
		/* Providers add event types without notice: keep it. */
		store_and_answer(ctx, "unhandled");
		goto out;
	}
	e = desc->parse(body, &ctx->d, err, sizeof err);
	if (e != PH_OK) {
		finish_error(ctx, e, err);
		goto out;
	}
	ctx->d.action = desc->action;
	store_and_answer(ctx, NULL);
out:
	json_object_put(body);
}

static void
begin(struct ph_ctx *ctx)
{
	ctx->started_us = ph_now_us();
	ctx->status = 0;
	ctx->error = PH_OK;
	ctx->message[0] = '\0';
	ph_delivery_reset(&ctx->d);
	ctx->d.provider = ctx->ep->provider;
	ctx->d.endpoint = ctx->ep->policy.endpoint;
}

static void
handle(struct ph_ctx *ctx)
{
	const struct ph_endpoint *ep = ctx->ep;
	const char *path;
	char err[PH_ERRLEN];
	enum ph_err e;

	begin(ctx);
	stamp_received(ctx);

	/* Under Apache, SetEnv reaches a FastCGI handler as a request
	 * parameter rather than in its environment. */
	path = ph_request_param(&ctx->req, "PAYHOOK_CONFIG");
	if (path == NULL)
		path = getenv("PAYHOOK_CONFIG");
	ph_strlcpy(ctx->config_path, path != NULL ? path : "", sizeof ctx->config_path);
	ctx->cfg = ph_config_cached(path, err, sizeof err);
	if (ctx->cfg == NULL) {
		finish_error(ctx, PH_ECONFIG, err);
		return;
	}
	ctx->d.timezone = ph_config_get(ctx->cfg, PH_CONF_PROVIDER_TIMEZONE);
	e = ph_request_check(&ctx->req, ctx->cfg, &ep->policy, err, sizeof err);
	if (e != PH_OK) {
		finish_error(ctx, e, err);
		return;
	}
	ctx->d.remote_addr = ph_ip_address_valid(ctx->req.remote_addr) ? ctx->req.remote_addr : NULL;
	set_body_fields(ctx);
	if (ep->authenticate != NULL) {
		e = ep->authenticate(ctx, err, sizeof err);
		if (e == PH_EAUTH) {
			answer_unauthenticated(ctx, err);
			return;
		}
		if (e != PH_OK) {
			finish_error(ctx, e, err);
			return;
		}
	}
	process(ctx);
}

/* ---- the spool, drained ----------------------------------------------------- */

enum replay_result {
	REPLAY_DONE,       /* stored: remove the file */
	REPLAY_LATER,      /* the database stopped it: keep the file */
	REPLAY_BAD         /* cannot be applied: set it aside */
};

/* Applies one spool file through process(). why gets the reason for
 * REPLAY_LATER and REPLAY_BAD. */
static enum replay_result
replay_file(struct ph_store *store, const struct ph_config *cfg, const char *dir,
    const char *name, enum ph_err *dberr, char *why, size_t whylen)
{
	struct ph_spool_record *rec = NULL;
	struct ph_ctx *ctx = NULL;
	const struct ph_endpoint *ep;
	enum replay_result result = REPLAY_BAD;
	char *buf = NULL;
	size_t len, i;
	enum ph_err e;

	e = ph_spool_read(dir, name, &buf, &len, why, whylen);
	if (e == PH_ENOMEM) {
		*dberr = e;
		return REPLAY_LATER;
	}
	if (e != PH_OK)
		return REPLAY_BAD;
	rec = malloc(sizeof *rec);
	ctx = calloc(1, sizeof *ctx);
	if (rec == NULL || ctx == NULL) {
		*dberr = ph_fail(why, whylen, PH_ENOMEM, "out of memory");
		result = REPLAY_LATER;
		goto out;
	}
	if (ph_spool_decode(buf, len, rec, why, whylen) != PH_OK)
		goto out;
	ep = ph_endpoint_find(rec->endpoint);
	if (ep == NULL) {
		ph_fail(why, whylen, PH_EBADREQ, "unknown endpoint in spool file");
		goto out;
	}
	ctx->ep = ep;
	ctx->cfg = cfg;
	ctx->store = store;
	ctx->replaying = true;
	begin(ctx);
	ctx->req.media = -1;
	ctx->req.query = "";
	for (i = 0; rec->media_type[0] != '\0' && ep->policy.content_types[i] != NULL; i++)
		if (strcmp(ep->policy.content_types[i], rec->media_type) == 0)
			ctx->req.media = (int)i;
	if (rec->body_len > 0 && ctx->req.media < 0) {
		ph_fail(why, whylen, PH_EBADREQ, "media type in spool file not accepted by %s",
		    ep->policy.endpoint);
		goto out;
	}
	if (rec->body_len == 0 && !ep->policy.allow_empty_body) {
		ph_fail(why, whylen, PH_EBADREQ, "empty body in spool file");
		goto out;
	}
	/* The body sits at the end of buf, which ph_spool_read ended with a
	 * NUL: the parsers get the same NUL-terminated body as live. */
	ctx->req.body = buf + (rec->body - buf);
	ctx->req.body_len = rec->body_len;
	ph_strlcpy(ctx->req.remote_addr, rec->remote_addr, sizeof ctx->req.remote_addr);
	ph_strlcpy(ctx->d.received_at, rec->received_at, sizeof ctx->d.received_at);
	ctx->d.received_unix = rec->received_unix;
	ctx->d.remote_addr = rec->remote_addr[0] != '\0' &&
	    ph_ip_address_valid(ctx->req.remote_addr) ? ctx->req.remote_addr : NULL;
	ctx->d.timezone = rec->timezone[0] != '\0' ? rec->timezone : NULL;
	ctx->d.signature_valid = rec->signature_valid;

	process(ctx);
	if (ctx->status == 200) {
		result = REPLAY_DONE;
	} else if (ctx->error == PH_EDBDOWN || ctx->error == PH_EDBBUSY ||
	    ctx->error == PH_ENOMEM || ctx->error == PH_ECONFIG) {
		/* Not the file's fault: try it again later. */
		*dberr = ctx->error;
		ph_strlcpy(why, ctx->message, whylen);
		result = REPLAY_LATER;
	} else {
		/* Cut to fit: the reason is for a person reading failed/. */
		ph_fail(why, whylen, PH_EBADREQ, "%s: %.200s", ph_err_name(ctx->error),
		    ctx->message);
	}
out:
	free(ctx);
	free(rec);
	free(buf);
	return result;
}

/* Removes the temporary files of spool writers killed before their
 * rename, at most once per PH_TMP_SWEEP_SECONDS in a process (a CGI
 * handler: once per request, one read of the directory). No lock: a
 * writer's own file is never that old. */
static void
sweep_stale_tmp(const char *dir)
{
	static int64_t last_us;
	int64_t now = ph_now_us();
	char err[PH_ERRLEN];
	long n;

	if (last_us != 0 && now - last_us < (int64_t)PH_TMP_SWEEP_SECONDS * 1000000)
		return;
	last_us = now;
	n = ph_spool_remove_stale_tmp(dir, err, sizeof err);
	if (n < 0)
		ph_log_error("spool: %s", err);
	else if (n > 0)
		ph_log_warn("spool: removed %ld stale temporary file%s (older than %d s: "
		    "their writers were killed before answering)", n, n == 1 ? "" : "s",
		    PH_SPOOL_TMP_STALE_SECONDS);
}

/* A batch of spool files is applied in one transaction: each file's
 * store call under its own savepoint (a file the database refuses is
 * recorded as failed, as live, and the others go on), the names of the
 * files applied recorded in payhook.spool_applied in that transaction,
 * and the files removed after COMMIT with one directory fsync. A
 * drainer killed between COMMIT and the removal leaves applied files;
 * the next one finds their names recorded and removes them without
 * applying them again (a StepPay v1 notice has no dedupe key). */
enum ph_err
ph_endpoint_drain(struct ph_store *store, const struct ph_config *cfg, int max,
    struct ph_drain_stats *stats, char *err, size_t errlen)
{
	const char *dir = ph_config_get(cfg, PH_CONF_SPOOL_DIR);
	char names[PH_SPOOL_BATCH][PH_SPOOL_NAME_MAX], why[PH_ERRLEN], err2[PH_ERRLEN];
	/* done: applied now (to record, then remove); before: applied by an
	 * earlier batch (only to remove). */
	char done[PH_SPOOL_BATCH][PH_SPOOL_NAME_MAX];
	const char *gone[PH_SPOOL_BATCH];
	bool before[PH_SPOOL_BATCH];
	size_t ndone = 0, ngone = 0;
	enum ph_err e = PH_OK, dberr;
	int lock, n, i;
	bool open = false, stop = false;

	memset(stats, 0, sizeof *stats);
	if (dir != NULL)
		sweep_stale_tmp(dir);
	if (dir == NULL || !ph_spool_pending(dir))
		return PH_OK;
	if (max > PH_SPOOL_BATCH)
		max = PH_SPOOL_BATCH;
	/* Within the backoff after a failed connect this costs nothing. */
	e = ph_store_ready(store, cfg, err, errlen);
	if (e != PH_OK)
		return e;
	lock = ph_spool_lock(dir, err, errlen);
	if (lock == -1) {
		stats->busy = true;
		return PH_OK;
	}
	if (lock < 0)
		return PH_EIO;
	n = ph_spool_oldest(dir, names, max, &stats->left, err, errlen);
	if (n < 0) {
		ph_spool_unlock(lock);
		return PH_EIO;
	}
	e = ph_store_begin_batch(store, cfg, err, errlen);
	if (e == PH_OK) {
		open = true;
		e = ph_store_spool_applied(store, names, (size_t)n, before, err, errlen);
	}
	if (e != PH_OK)
		goto out;
	for (i = 0; i < n && !stop; i++) {
		if (before[i]) {
			ph_log_warn("spool: %s was applied before (its removal was cut short): "
			    "removing it", names[i]);
			gone[ngone++] = names[i];
			continue;
		}
		dberr = PH_OK;
		switch (replay_file(store, cfg, dir, names[i], &dberr, why, sizeof why)) {
		case REPLAY_DONE:
			ph_strlcpy(done[ndone++], names[i], PH_SPOOL_NAME_MAX);
			break;
		case REPLAY_LATER:
			/* The files before it are committed; it waits. */
			e = ph_fail(err, errlen, dberr, "%s", why);
			stop = true;
			break;
		case REPLAY_BAD:
			/* Nothing of it was stored: set aside now, whatever
			 * becomes of the transaction. */
			ph_log_error("spool: %s cannot be applied, moved to %s/: %s", names[i],
			    PH_SPOOL_FAILED, why);
			if (ph_spool_set_aside(dir, names[i], why, err2, sizeof err2) != PH_OK) {
				ph_log_error("spool: %s", err2);
				e = ph_fail(err, errlen, PH_EIO, "%s", err2);
				stop = true;
				break;
			}
			stats->set_aside++;
			stats->left--;
			break;
		}
	}
	if (ndone > 0) {
		enum ph_err m = ph_store_spool_mark(store, done, ndone, err2, sizeof err2);

		if (m != PH_OK) {
			e = ph_fail(err, errlen, m, "cannot record the files applied: %s", err2);
			goto out;
		}
	}
	open = false;
	if (ph_store_end(store, true, err2, sizeof err2) != PH_OK) {
		/* Committed or not, unknown: the files stay, and their names
		 * say next time which were. */
		if (e != PH_EDBDOWN)
			ph_log_error("spool: %zu applied files not known to be committed "
			    "(%s): they stay in the spool", ndone, err2);
		if (e == PH_OK)
			e = ph_fail(err, errlen, PH_EDBDOWN, "%s", err2);
		ndone = 0;
	}
	for (i = 0; i < (int)ndone; i++)
		gone[ngone++] = done[i];
out:
	if (open && ph_store_end(store, false, err2, sizeof err2) != PH_OK && e != PH_EDBDOWN)
		ph_log_error("spool: %s", err2);
	/* The files applied before are gone from the database's view
	 * whatever this batch did; this one's only when committed. */
	if (ngone > 0 && ph_spool_remove_many(dir, gone, ngone, err2, sizeof err2) != PH_OK) {
		/* Applied but still there: the next drainer removes them. */
		ph_log_error("spool: %s", err2);
		if (e == PH_OK)
			e = ph_fail(err, errlen, PH_EIO, "%s", err2);
	} else {
		stats->applied += ngone;
		stats->left -= ngone;
	}
	ph_spool_unlock(lock);
	return e;
}

/* Drains a batch from ctx's last configuration, logging what it did.
 * True when it made progress and more is waiting. */
static bool
drain_some(struct ph_ctx *ctx, int max)
{
	struct ph_drain_stats stats;
	const struct ph_config *cfg;
	char err[PH_ERRLEN];
	enum ph_err e;

	cfg = ph_config_cached(ctx->config_path[0] != '\0' ? ctx->config_path : NULL,
	    err, sizeof err);
	if (cfg == NULL)
		return false;
	e = ph_endpoint_drain(ctx->store, cfg, max, &stats, err, sizeof err);
	if (stats.applied > 0 || stats.set_aside > 0)
		ph_log_warn("spool: applied %zu, set aside %zu, %zu waiting", stats.applied,
		    stats.set_aside, stats.left);
	if (e != PH_OK && e != PH_EDBDOWN)
		ph_log_error("spool: cannot drain: %s", err);
	return e == PH_OK && stats.left > 0 && (stats.applied > 0 || stats.set_aside > 0);
}

static void
usage(const struct ph_endpoint *ep, FILE *f, const char *argv0)
{
	fprintf(f,
	    "usage: %s [--help | --version]\n"
	    "\n"
	    "payhook's %s webhook handler. Run it from a web server as a FastCGI\n"
	    "program (it serves requests until stopped) or as a plain CGI program\n"
	    "(one request from REQUEST_METHOD, CONTENT_LENGTH, ... and stdin).\n"
	    "Configuration: $PAYHOOK_CONFIG, else %s; every key can be\n"
	    "overridden by PAYHOOK_<KEY>. See payhook(1) and payhook.conf(5).\n",
	    argv0, ep->policy.endpoint, ph_config_default_path());
}

/* Serves FastCGI requests until SIGTERM or SIGINT; while no request
 * comes, looks at the spool every PH_IDLE_CHECK_MS. The listening socket
 * is non-blocking: another process may take the connection poll()
 * announced, and accept() must not then wait for the next one. */
static int
serve_fastcgi(struct ph_ctx *ctx)
{
	FCGX_Request fcgx;
	int flags, rc, batch;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, FCGI_LISTENSOCK_FILENO, 0) != 0) {
		ph_log_error("cannot initialise FastCGI");
		return 1;
	}
	flags = fcntl(FCGI_LISTENSOCK_FILENO, F_GETFL);
	if (flags >= 0)
		fcntl(FCGI_LISTENSOCK_FILENO, F_SETFL, flags | O_NONBLOCK);
	while (!stop_requested) {
		struct pollfd pfd = {.fd = FCGI_LISTENSOCK_FILENO, .events = POLLIN};

		rc = poll(&pfd, 1, PH_IDLE_CHECK_MS);
		if (stop_requested)
			break;
		if (rc < 0 && errno != EINTR) {
			ph_log_error("poll on the FastCGI socket: %s", strerror(errno));
			break;
		}
		if (rc <= 0) {
			/* Idle: drain while nobody is waiting. */
			for (batch = 0; batch < PH_IDLE_BATCHES && !stop_requested; batch++) {
				if (!drain_some(ctx, PH_SPOOL_BATCH))
					break;
				pfd.revents = 0;
				if (poll(&pfd, 1, 0) != 0)
					break;
			}
			continue;
		}
		rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			if (stop_requested)
				break;
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
			    rc == -ECONNABORTED)
				continue;
			ph_log_error("FastCGI accept failed: %s", strerror(-rc));
			break;
		}
		ph_request_begin(&ctx->req, &fcgx, fcgx.envp);
		handle(ctx);
		FCGX_Finish_r(&fcgx);
		/* The reply is out: a batch now delays no one's answer. */
		if (!stop_requested && ctx->cfg != NULL)
			drain_some(ctx, PH_SPOOL_BATCH);
	}
	FCGX_Free(&fcgx, 1);
	return 0;
}

int
ph_endpoint_main(const struct ph_endpoint *ep, int argc, char **argv)
{
	struct ph_ctx ctx;
	int status = 0;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(ep, stdout, argv[0]);
			return 0;
		}
		if (strcmp(argv[1], "--version") == 0) {
			printf("%s (%s) %s\n", ep->policy.endpoint, PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		}
		usage(ep, stderr, argv[0]);
		return 2;
	}

	memset(&ctx, 0, sizeof ctx);
	ctx.ep = ep;
	ctx.store = ph_store_new(ep->policy.endpoint);
	if (ctx.store == NULL) {
		ph_log_error("out of memory");
		return 1;
	}
	install_signals();

	if (FCGX_IsCGI()) {
		if (getenv("REQUEST_METHOD") == NULL) {
			fprintf(stderr, "%s: REQUEST_METHOD is not set: this program is run "
			    "by a web server (try --help)\n", argv[0]);
			status = 2;
			goto out;
		}
		ph_request_begin(&ctx.req, NULL, environ);
		handle(&ctx);
		/* The web server has its whole answer once stdout closes; then
		 * a batch of the spool, if the database is back. */
		fflush(stdout);
		fclose(stdout);
		if (ctx.cfg != NULL && ctx.status != 503)
			drain_some(&ctx, PH_SPOOL_BATCH);
		goto out;
	}
	status = serve_fastcgi(&ctx);
out:
	ph_request_free(&ctx.req);
	ph_store_free(ctx.store);
	return status;
}
