/* Outbound calls to the providers' APIs (StepPay REST, NicePay Start API)
 * over HTTPS with libcurl: the one place payhook talks back to a provider.
 * Used by the admin command only (`payhook sync`, `payhook nicepay-webhook`);
 * the webhook handlers never link it.
 *
 * Every call is bounded: connect and total timeouts, a response size cap,
 * a fixed number of attempts. 429, 5xx, timeouts and connection failures
 * are retried with exponential backoff (Retry-After honoured, capped);
 * anything else is answered at once. Keys come from the configuration
 * (file or environment), are sent only in a request header and never
 * appear in an error text. */
#ifndef PH_API_H
#define PH_API_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "conf.h"

#define PH_API_MAX_REPLY        (4u << 20) /* bytes of one response body */
#define PH_API_CONNECT_TIMEOUT  5          /* seconds (NicePay asks for 5) */
#define PH_API_TIMEOUT          30         /* seconds, whole transfer (NicePay: 30) */
#define PH_API_ATTEMPTS         4          /* tries of one call, the first included */
#define PH_API_ATTEMPTS_MAX     10
#define PH_API_BACKOFF_MS       500        /* first wait; doubles each time */
#define PH_API_RETRY_AFTER_MAX  30         /* seconds of Retry-After believed */
#define PH_API_PATH_MAX         512
#define PH_API_URL_MAX          1024
#define PH_API_ERRLEN           512        /* messages name status and provider codes */

enum ph_api_provider {
	PH_API_STEPPAY,
	PH_API_NICEPAY
};

/* What a call came to. */
enum ph_api_result {
	PH_API_OK,           /* 2xx with a JSON object (NicePay: resultCode 0000) */
	PH_API_NOT_FOUND,    /* the provider does not know the object */
	PH_API_REFUSED,      /* a 4xx or a provider error code: retrying will not help */
	PH_API_UNAVAILABLE,  /* 5xx, 429, timeout, connection failure, after the retries */
	PH_API_BAD_REPLY,    /* not a JSON object, or over PH_API_MAX_REPLY */
	PH_API_CONFIG        /* key or base URL missing or unusable */
};

struct ph_api_opts {
	long connect_timeout;    /* seconds; 0 = PH_API_CONNECT_TIMEOUT */
	long timeout;            /* seconds; 0 = PH_API_TIMEOUT */
	int attempts;            /* 0 = PH_API_ATTEMPTS */
};

struct ph_api_reply {
	long http_status;        /* of the last attempt; 0 when none answered */
	int attempts;
	char *body;              /* NUL-terminated; freed by ph_api_reply_free */
	size_t len;
	struct json_object *json;  /* the parsed object, or NULL */
	char result_code[16];    /* NicePay resultCode / StepPay errorCode, or "" */
};

struct ph_api;

/* Call once in main() before any thread uses the client. */
bool ph_api_global_init(void);
void ph_api_global_cleanup(void);

/* A client for one provider, with its base URL and credentials from cfg
 * (steppay_api_url and steppay_api_key; nicepay_api_url, nicepay_client_key
 * and the first key of nicepay_secret_key). NULL with err set when a key is
 * missing or the URL is unusable (plain http is allowed only to the local
 * host: the keys travel in a header). The caller frees it with
 * ph_api_free(); one client per thread. */
struct ph_api *ph_api_new(const struct ph_config *cfg, enum ph_api_provider provider,
    const struct ph_api_opts *opts, char *err, size_t errlen);
void ph_api_free(struct ph_api *api);

/* The provider's display name, "StepPay" or "NicePay". */
const char *ph_api_provider_name(enum ph_api_provider provider);

/* Performs METHOD path (path starts with '/'; build it with
 * ph_api_path()), sending json_body (or nothing when NULL) as
 * application/json. Fills reply (free it with ph_api_reply_free() whatever
 * the result) and, unless PH_API_OK, err with one line that names the call,
 * the HTTP status and the provider's code and message. */
enum ph_api_result ph_api_call(struct ph_api *api, const char *method, const char *path,
    const char *json_body, struct ph_api_reply *reply, char *err, size_t errlen);

void ph_api_reply_free(struct ph_api_reply *reply);

/* Writes prefix followed by id percent-encoded (every byte but
 * A-Z a-z 0-9 - . _ ~) into buf. False when it does not fit or id is
 * empty. */
bool ph_api_path(char *buf, size_t buflen, const char *prefix, const char *id);

/* Posts json_body to url without credentials (a self-check of a webhook
 * URL: what NicePay does before registering it). Writes the HTTP status
 * and the reply's first bytes (sanitized) into reply. PH_API_OK when an
 * answer arrived, whatever its status. */
enum ph_api_result ph_api_probe(const char *url, const char *json_body, long timeout,
    long *http_status, char *reply, size_t replylen, char *err, size_t errlen);

/* A stable name for a result, for summaries: "ok", "not-found", ... */
const char *ph_api_result_name(enum ph_api_result r);

#endif
