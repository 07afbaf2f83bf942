#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cidr.h"
#include "endpoint.h"
#include "form.h"
#include "json.h"
#include "log.h"
#include "util.h"

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
	/* No SA_RESTART: a blocked accept() returns so the loop can stop. */
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Stamps the delivery with the time it was received. */
static void
stamp_received(struct ph_delivery *d)
{
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
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

	if (status == 200 && ep->ok_body != NULL)
		ph_strlcpy(body, ep->ok_body, sizeof body);
	else if (status == 200)
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
	finish(ctx, ph_err_http_status(e), ph_err_name(e), 0, msg);
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
	if (e != PH_OK)
		ph_store_record(ctx->store, ctx->cfg, &ctx->d, "rejected", reason,
		    &res, err, sizeof err);
	finish(ctx, 401, "rejected", res.event_id, reason);
}

static void
handle(struct ph_ctx *ctx)
{
	const struct ph_endpoint *ep = ctx->ep;
	const struct ph_event_desc *desc;
	struct json_object *body = NULL;
	const char *path;
	char err[PH_ERRLEN];
	enum ph_err e;

	ctx->started_us = ph_now_us();
	ph_delivery_reset(&ctx->d);
	ctx->d.provider = ep->provider;
	ctx->d.endpoint = ep->policy.endpoint;
	stamp_received(&ctx->d);

	/* Under Apache, SetEnv reaches a FastCGI handler as a request
	 * parameter rather than in its environment. */
	path = ph_request_param(&ctx->req, "PAYHOOK_CONFIG");
	if (path == NULL)
		path = getenv("PAYHOOK_CONFIG");
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
	ctx->d.body_len = ctx->req.body_len;
	ph_sha256_hex(ctx->req.body, ctx->req.body_len, ctx->d.body_sha256);
	/* The store drops it for rejected and failed rows. */
	if (ep->dedupe)
		ctx->d.dedupe_key = ctx->d.body_sha256;

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

	/* ph_request_check let an empty body through only where the policy
	 * allows one: it is classified without a JSON value. */
	e = ctx->req.body_len > 0 ? decode_body(ctx, &body, err, sizeof err) : PH_OK;
	if (e == PH_OK)
		e = ep->classify(ctx, body, err, sizeof err);
	if (e == PH_OK && ep->verify != NULL) {
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

int
ph_endpoint_main(const struct ph_endpoint *ep, int argc, char **argv)
{
	struct ph_ctx ctx;
	FCGX_Request fcgx;
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
		goto out;
	}

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, 0, 0) != 0) {
		ph_log_error("cannot initialise FastCGI");
		status = 1;
		goto out;
	}
	while (!stop_requested && FCGX_Accept_r(&fcgx) >= 0) {
		ph_request_begin(&ctx.req, &fcgx, fcgx.envp);
		handle(&ctx);
		FCGX_Finish_r(&fcgx);
	}
	FCGX_Free(&fcgx, 1);
out:
	ph_request_free(&ctx.req);
	ph_store_free(ctx.store);
	return status;
}
