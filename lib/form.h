/* application/x-www-form-urlencoded bodies (and query strings), decoded
 * into a json-c object of string members so that the rest of payhook --
 * field access, the stored payload -- handles one shape. */
#ifndef PH_FORM_H
#define PH_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define PH_FORM_MAX_FIELDS 64     /* fields in one body */
#define PH_FORM_MAX_NAME   128    /* decoded bytes of one field name */

struct json_object;

/* Parses body (len bytes, not NUL-terminated, may hold any byte) into a
 * new object whose members are the decoded field names with string
 * values. Fields are separated by '&' and empty ones skipped; '+' is a
 * space and %XX (either case) a byte; a name without '=' has the value "".
 * Refused with PH_EBADREQ: a raw or decoded NUL byte, a '%' without two
 * hex digits, a name or value that is not UTF-8, an empty name, a name
 * given twice (which one would count is ambiguous), more than
 * PH_FORM_MAX_FIELDS fields, a name over PH_FORM_MAX_NAME bytes. The
 * caller frees *out with json_object_put(); on error *out is NULL and err
 * gives the field's number and byte offset. */
enum ph_err ph_form_parse(const char *body, size_t len, struct json_object **out,
    char *err, size_t errlen);

/* True when s[0..len) is well-formed UTF-8 (RFC 3629): no overlong forms,
 * no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequence. NUL is valid UTF-8; callers that cannot store it check for it
 * themselves. Shared with the JSON checks. */
bool ph_utf8_valid(const unsigned char *s, size_t len);

#endif
