#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "delivery.h"

void
ph_delivery_reset(struct ph_delivery *d)
{
	memset(d, 0, sizeof *d);
	d->signature_valid = PH_NULL;
}

void
ph_delivery_warn(struct ph_delivery *d, const char *fmt, ...)
{
	char line[256];
	size_t used = strlen(d->warnings);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (used > 0 && used + 1 < sizeof d->warnings)
		d->warnings[used++] = '\n';
	ph_sanitize(d->warnings + used, sizeof d->warnings - used, line, strlen(line));
}

const char *
ph_delivery_keep(struct ph_delivery *d, const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy;

	if (len > sizeof d->scratch - d->scratch_used)
		return NULL;
	copy = d->scratch + d->scratch_used;
	memcpy(copy, s, len);
	d->scratch_used += len;
	return copy;
}

const struct ph_event_desc *
ph_event_desc_find(const struct ph_event_desc *table, size_t n, const char *event_type)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i].event_type, event_type) == 0)
			return &table[i];
	return NULL;
}
