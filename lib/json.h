/* JSON bodies: strict parsing with limits, and typed field access.
 * Built on json-c; the rest of payhook never calls json_tokener itself. */
#ifndef PH_JSON_H
#define PH_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"

#define PH_JSON_MAX_DEPTH   32     /* nesting of objects and arrays */
#define PH_JSON_MAX_STRING  65536  /* bytes in one decoded string or key */
#define PH_JSON_MAX_ARRAY   4096   /* elements in one array */
#define PH_JSON_MAX_MEMBERS 1024   /* members in one object */
#define PH_ID_MAX           128    /* bytes in an id used as a key */

/* Parses body (len bytes) as one JSON object, strictly as RFC 8259 and
 * PostgreSQL's jsonb read it: valid UTF-8, no NUL byte raw or escaped, no
 * unpaired surrogate, nothing after the value, within the limits above. On success *out is a new object the caller releases with
 * json_object_put(); on failure *out is NULL and err says where. */
enum ph_err ph_json_parse(const char *body, size_t len,
    struct json_object **out, char *err, size_t errlen);

enum ph_field {
	PH_REQUIRED,
	PH_OPTIONAL
};

/* Looks up a string member. PH_OK with *out NULL when it is absent or null
 * and optional; PH_EBADREQ when required and absent, or not a string. The
 * string belongs to obj. */
enum ph_err ph_json_string(struct json_object *obj, const char *key,
    enum ph_field need, const char **out, char *err, size_t errlen);

/* Looks up a required string member that is not empty and shorter than
 * max bytes (an enum value or a key kept as text, however odd). */
enum ph_err ph_json_required_text(struct json_object *obj, const char *key, size_t max,
    const char **out, char *err, size_t errlen);

/* Looks up an id member that must be an integer from 0 to INT64_MAX (a
 * Java long, as StepPay's ids are): a JSON integer, or a string of
 * decimal digits (form bodies carry only strings). Writes its decimal
 * text into buf (PH_ID_MAX bytes). */
enum ph_err ph_json_integer_id(struct json_object *obj, const char *key,
    char *buf, size_t buflen, char *err, size_t errlen);

/* Looks up an id member that is text or an integer (ids the merchant may
 * choose), 1..PH_ID_MAX-1 bytes, written into buf. */
enum ph_err ph_json_text_id(struct json_object *obj, const char *key,
    char *buf, size_t buflen, char *err, size_t errlen);

#endif
