/* application/x-www-form-urlencoded bodies (and query strings), decoded
 * into a json-c object of string members so that the rest of payhook
 * handles one shape. */
#ifndef PH_FORM_H
#define PH_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define PH_FORM_MAX_FIELDS 64
#define PH_FORM_MAX_NAME 128      /* decoded bytes of a field name */

struct json_object;

/* Parses body (len bytes, not NUL-terminated) into a new object whose
 * members are the decoded names with string values: '&' separates
 * fields, '+' is a space, %XX a byte; a name without '=' has the value
 * "". Refused (PH_EBADREQ): a bad escape, a NUL byte, text that is not
 * UTF-8, an empty name, a name given twice, too many fields or too long a
 * name. The caller frees *out with json_object_put(); on error it is NULL. */
enum ph_err ph_form_parse(const char *body, size_t len, struct json_object **out,
    char *err, size_t errlen);

/* True when s is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
bool ph_utf8_valid(const unsigned char *s, size_t len);

#endif
