#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "harness.h"
#include "json.h"
#include "form.h"
#include "util.h"

struct ph_config *
ph_fuzz_config(const enum ph_conf_key *keys, const char *const *values)
{
	char text[4096], err[PH_ERRLEN];
	size_t used = 0, i;
	struct ph_config *cfg;

	text[0] = '\0';
	for (i = 0; keys[i] != PH_CONF__COUNT; i++) {
		int n = snprintf(text + used, sizeof text - used, "%s = %s\n",
		    ph_conf_defs[keys[i]].name, values[i]);

		if (n < 0 || (size_t)n >= sizeof text - used)
			abort();
		used += (size_t)n;
	}
	cfg = ph_config_parse("fuzz.conf", text, used, err, sizeof err);
	if (cfg == NULL) {
		fprintf(stderr, "fuzz config: %s\n", err);
		abort();
	}
	return cfg;
}

int
ph_fuzz_endpoint(const struct ph_endpoint *ep, const struct ph_config *cfg,
    char **env, const char *query, int media, const char *body, size_t len,
    void (*fixup)(struct json_object *body))
{
	static char *no_env[] = {NULL};
	const struct ph_event_desc *desc;
	struct json_object *obj = NULL;
	struct ph_ctx ctx;
	char err[PH_ERRLEN] = "", *copy;
	enum ph_err e;
	int status;

	/* The request layer hands over a NUL-terminated body of exactly
	 * CONTENT_LENGTH bytes; a copy lets ASan see a read past it. */
	copy = malloc(len + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, body, len);
	copy[len] = '\0';

	memset(&ctx, 0, sizeof ctx);
	ctx.ep = ep;
	ctx.cfg = cfg;
	ph_request_begin(&ctx.req, NULL, env != NULL ? env : no_env);
	ctx.req.method = "POST";
	ctx.req.query = query;
	ctx.req.media = media;
	ctx.req.body = copy;
	ctx.req.body_len = len;
	ph_strlcpy(ctx.req.remote_addr, "127.0.0.1", sizeof ctx.req.remote_addr);
	ph_delivery_reset(&ctx.d);
	ctx.d.provider = ep->provider;
	ctx.d.endpoint = ep->policy.endpoint;
	ph_strlcpy(ctx.d.received_at, "2026-03-02T01:15:00.000000Z", sizeof ctx.d.received_at);
	ctx.d.received_unix = 1772414100;
	ctx.d.timezone = ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE);
	ctx.d.remote_addr = ctx.req.remote_addr;
	ctx.d.body_len = len;
	ph_sha256_hex(copy, len, ctx.d.body_sha256);

	if (ep->authenticate != NULL) {
		e = ep->authenticate(&ctx, err, sizeof err);
		if (e != PH_OK) {
			status = ph_err_http_status(e);
			goto out;
		}
	}
	e = PH_OK;
	if (len > 0) {
		if (strcmp(ep->policy.content_types[media],
		    "application/x-www-form-urlencoded") == 0) {
			e = ph_form_parse(copy, len, &obj, err, sizeof err);
			if (e == PH_OK)
				ctx.d.payload = json_object_to_json_string_ext(obj,
				    JSON_C_TO_STRING_PLAIN);
		} else {
			e = ph_json_parse(copy, len, &obj, err, sizeof err);
			if (e == PH_OK)
				ctx.d.payload = copy;
		}
	} else if (!ep->policy.allow_empty_body) {
		status = 400;
		goto out;
	}
	if (e == PH_OK && obj != NULL && fixup != NULL)
		fixup(obj);
	if (e == PH_OK)
		e = ep->classify(&ctx, obj, err, sizeof err);
	if (e == PH_OK && ep->verify != NULL)
		e = ep->verify(&ctx, obj, err, sizeof err);
	if (e != PH_OK) {
		status = ph_err_http_status(e);
		goto out;
	}
	desc = ph_event_desc_find(ep->events, ep->nevents, ctx.d.event_type);
	if (desc == NULL) {
		status = 200;      /* stored as unhandled */
		goto out;
	}
	e = desc->parse(obj, &ctx.d, err, sizeof err);
	status = ph_err_http_status(e);
	if (e == PH_OK) {
		int i;

		/* What the store would send: every argument a readable string. */
		for (i = 0; i < desc->action->nargs; i++)
			if (ctx.d.arg[i] != NULL && strlen(ctx.d.arg[i]) > PH_SCRATCH_MAX)
				abort();
	}
out:
	/* Messages must be terminated strings the log line can print. */
	if (status != 200 && strlen(err) >= sizeof err)
		abort();
	json_object_put(obj);
	free(copy);
	return status;
}
