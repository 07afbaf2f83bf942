#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define PH_LOG_LINE_MAX 1024

void
ph_log_request(const struct ph_log_request *r)
{
	char line[PH_LOG_LINE_MAX], msg[512], ev[80];
	int n;

	ph_sanitize(ev, sizeof ev, r->event_type != NULL ? r->event_type : "-",
	    strlen(r->event_type != NULL ? r->event_type : "-"));
	n = snprintf(line, sizeof line,
	    "payhook: endpoint=%s status=%d outcome=%s event=%s id=%lld remote=%s ms=%.3f",
	    r->endpoint, r->status, r->outcome != NULL ? r->outcome : "-", ev,
	    r->event_id, r->remote_addr != NULL && *r->remote_addr != '\0' ?
	    r->remote_addr : "-", (double)r->elapsed_us / 1000.0);
	if (n > 0 && (size_t)n < sizeof line && r->message != NULL && *r->message != '\0') {
		ph_sanitize(msg, sizeof msg, r->message, strlen(r->message));
		snprintf(line + n, sizeof line - (size_t)n, " msg=\"%s\"", msg);
	}
	/* One fprintf per line so concurrent handlers do not interleave. */
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static void vlog(const char *level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	char msg[PH_LOG_LINE_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "payhook: %s: %s\n", level, msg);
	fflush(stderr);
}

void
ph_log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning", fmt, ap);
	va_end(ap);
}

void
ph_log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
}
