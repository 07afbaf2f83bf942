/* Shared by the libFuzzer targets: runs a body through an endpoint's
 * parsing steps -- authenticate, decode, classify, verify, the event's
 * parser -- in the order lib/endpoint.c's handle() takes them, with a
 * configuration built in memory and no database. */
#ifndef PH_FUZZ_HARNESS_H
#define PH_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "endpoint.h"

/* Every target defines this (libFuzzer's entry point). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A config holding only the defaults and the given key = value pairs
 * (pairs ends with PH_CONF__COUNT); aborts on failure, since a target
 * without its config would fuzz nothing. Freed by ph_config_free(). */
struct ph_config *ph_fuzz_config(const enum ph_conf_key *keys, const char *const *values);

/* Runs one request: body (len bytes) with CGI parameters env (NULL-
 * terminated "NAME=value" strings; may be NULL) and QUERY_STRING query,
 * decoded as the endpoint's content type number media. fixup, when not
 * NULL, may edit the decoded body before it is classified (the NicePay
 * target signs it there). Returns the status the handler would answer
 * before the store (200 for a parsed delivery). */
int ph_fuzz_endpoint(const struct ph_endpoint *ep, const struct ph_config *cfg,
    char **env, const char *query, int media, const char *body, size_t len,
    void (*fixup)(struct json_object *body));

#endif
