#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "err.h"

static const struct {
	int http;
	const char *name;
} err_table[] = {
	[PH_OK] = {200, "ok"},
	[PH_EBADREQ] = {400, "bad-request"},
	[PH_EAUTH] = {401, "unauthorized"},
	[PH_EFORBIDDEN] = {403, "forbidden"},
	[PH_EMETHOD] = {405, "method-not-allowed"},
	[PH_ETOOBIG] = {413, "too-large"},
	[PH_ETYPE] = {415, "unsupported-type"},
	[PH_ECONFIG] = {503, "not-configured"},
	[PH_EDBDOWN] = {503, "database-down"},
	[PH_EDB] = {503, "database-error"},
	[PH_ENOMEM] = {503, "out-of-memory"},
	[PH_EIO] = {400, "io-error"},
	[PH_EDBBUSY] = {503, "database-busy"},
};

int
ph_err_http_status(enum ph_err e)
{
	if ((size_t)e >= sizeof err_table / sizeof err_table[0])
		return 500;
	return err_table[e].http;
}

const char *
ph_err_name(enum ph_err e)
{
	if ((size_t)e >= sizeof err_table / sizeof err_table[0])
		return "unknown";
	return err_table[e].name;
}

enum ph_err
ph_fail(char *err, size_t errlen, enum ph_err code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
