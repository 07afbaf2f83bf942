/* Log lines on stderr, which the web server puts in its error log. One
 * line per request, as key=value pairs a sysadmin can grep. */
#ifndef PH_LOG_H
#define PH_LOG_H

#include <stdint.h>

struct ph_log_request {
	const char *endpoint;
	const char *remote_addr;
	const char *event_type;   /* NULL: not known */
	int status;               /* HTTP status answered */
	const char *outcome;      /* applied, duplicate, ..., or an error name */
	long long event_id;       /* 0: no row written */
	int64_t elapsed_us;
	const char *message;      /* NULL or a reason; never a secret */
};

/* Writes: payhook: endpoint=steppay-v1 status=200 outcome=applied
 * event=subscription id=42 remote=127.0.0.1 ms=0.812 msg="..." */
void ph_log_request(const struct ph_log_request *r);

/* A process-level warning or error: payhook: warning: ... */
void ph_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ph_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
