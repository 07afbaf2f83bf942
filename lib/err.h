/* Error codes shared by every libpayhook function.
 *
 * A library function returns one of these and, on failure, writes a short
 * human-readable reason into a buffer the caller owns (PH_ERRLEN bytes).
 * The endpoint turns the code into one HTTP status and the reason into one
 * log line; nothing in the library calls exit(). */
#ifndef PH_ERR_H
#define PH_ERR_H

#include <stddef.h>

#define PH_ERRLEN 256

enum ph_err {
	PH_OK = 0,
	PH_EBADREQ,     /* malformed request or body: 400 */
	PH_EAUTH,       /* bad signature or token: 401 */
	PH_EFORBIDDEN,  /* source address not allowed: 403 */
	PH_EMETHOD,     /* method not allowed: 405 */
	PH_ETOOBIG,     /* body over the limit: 413 */
	PH_ETYPE,       /* unsupported content type: 415 */
	PH_ECONFIG,     /* configuration missing or invalid: 503 */
	PH_EDBDOWN,     /* database unreachable or connection lost: 503 */
	PH_EDB,         /* the database refused the statement (data error) */
	PH_ENOMEM,      /* allocation failed */
	PH_EIO,         /* read or write failed */
	PH_EDBBUSY      /* database reachable but failing for now (statement
	                 * timeout, out of resources): 503, nothing spooled */
};

/* The HTTP status an error is answered with (200 for PH_OK). */
int ph_err_http_status(enum ph_err e);

/* A stable lower-case name for logs ("bad-request", "auth", ...). */
const char *ph_err_name(enum ph_err e);

/* Formats the reason into err (errlen bytes, always NUL-terminated) and
 * returns code, so that a failing path reads
 *     return ph_fail(err, errlen, PH_EBADREQ, "field %s missing", name); */
enum ph_err ph_fail(char *err, size_t errlen, enum ph_err code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
