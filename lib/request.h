/* One HTTP request as a FastCGI or plain-CGI program sees it, and the
 * provider-blind checks every endpoint makes before reading a signature:
 * method, source address, content type, length, body. */
#ifndef PH_REQUEST_H
#define PH_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <fcgiapp.h>

#include "conf.h"
#include "err.h"

#define PH_ADDR_MAX 64              /* bytes of a textual client address */
#define PH_ADDR_UNKNOWN "unknown"   /* X-Forwarded-For named no address */
#define PH_HEADER_NAME_MAX 128      /* bytes of a header name we look up */
#define PH_XFF_MAX_HOPS 16          /* X-Forwarded-For entries examined */

/* What an endpoint accepts; the request layer walks this row and knows
 * nothing else about providers. */
struct ph_policy {
	const char *endpoint;               /* "steppay-v1": logs and rows */
	const char *const *content_types;   /* NULL-terminated media types */
	bool allow_empty_body;
	enum ph_conf_key allow_key;         /* PH_CONF_ALLOW_FROM_<endpoint> */
};

struct ph_request {
	FCGX_Request *fcgx;            /* NULL in plain-CGI mode */
	char **envp;                   /* the request's CGI parameters */
	const char *method;
	const char *content_type;      /* as sent, NULL when absent */
	const char *query;             /* QUERY_STRING, never NULL */
	char remote_addr[PH_ADDR_MAX]; /* the client, after trusted proxies */
	int media;                     /* index in policy->content_types */
	char *body;                    /* CONTENT_LENGTH bytes + NUL */
	size_t body_len;
	size_t body_cap;               /* the buffer is kept across requests */
	bool replied;
};

/* Binds req to the next request's streams and parameters. fcgx is NULL
 * for plain CGI (environ and stdin/stdout). Keeps the body buffer. */
void ph_request_begin(struct ph_request *req, FCGX_Request *fcgx, char **envp);

/* Frees the body buffer. */
void ph_request_free(struct ph_request *req);

/* A CGI parameter by name (REQUEST_METHOD, HTTP_X_FOO, ...), matched
 * without regard to case; NULL when absent. */
const char *ph_request_param(const struct ph_request *req, const char *name);

/* A request header by its HTTP name ("Steppay-Signature"), matched without
 * regard to case; NULL when absent. */
const char *ph_request_header(const struct ph_request *req, const char *name);

/* Runs the checks in the order DESIGN.md gives -- method (405), source
 * address (403, body not read), content type (415) and length (413, 400),
 * then reads exactly CONTENT_LENGTH bytes (short body: 400). On PH_OK the
 * body is in req->body. */
enum ph_err ph_request_check(struct ph_request *req, const struct ph_config *cfg,
    const struct ph_policy *policy, char *err, size_t errlen);

/* Writes the reply: status line, Content-Type, an optional extra header
 * line (without CRLF), and body. Only the first call writes. */
void ph_request_reply(struct ph_request *req, int status, const char *content_type,
    const char *extra_header, const char *body);

/* The client address for a peer address and an X-Forwarded-For value:
 * when peer is a trusted proxy, the right-most forwarded address that is
 * not one, or PH_ADDR_UNKNOWN when that hop is no address; otherwise
 * peer. Written into out (PH_ADDR_MAX bytes). */
void ph_client_address(const char *peer, const char *xff,
    const struct ph_cidr_list *trusted, char *out, size_t outlen);

#endif
