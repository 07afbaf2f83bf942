#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "form.h"
#include "json.h"
#include "util.h"

static enum ph_err
check_string(const char *s, size_t len, const char *what, char *err, size_t errlen)
{
	if (len > PH_JSON_MAX_STRING)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "%s longer than %d bytes", what, PH_JSON_MAX_STRING);
	/* json-c decodes \u0000 into the string; PostgreSQL's jsonb and
	 * text cannot hold it, so refuse it here with a clear message. */
	if (memchr(s, '\0', len) != NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "%s contains a NUL character", what);
	if (!ph_utf8_valid((const unsigned char *)s, len))
		return ph_fail(err, errlen, PH_EBADREQ, "%s is not valid UTF-8", what);
	return PH_OK;
}

static enum ph_err
check_tree(struct json_object *o, int depth, char *err, size_t errlen)
{
	enum ph_err e;

	if (depth > PH_JSON_MAX_DEPTH)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "JSON nested deeper than %d levels", PH_JSON_MAX_DEPTH);
	switch (json_object_get_type(o)) {
	case json_type_string:
		return check_string(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o), "a JSON string", err, errlen);
	case json_type_array: {
		size_t i, n = json_object_array_length(o);

		if (n > PH_JSON_MAX_ARRAY)
			return ph_fail(err, errlen, PH_EBADREQ,
			    "JSON array longer than %d elements", PH_JSON_MAX_ARRAY);
		for (i = 0; i < n; i++) {
			e = check_tree(json_object_array_get_idx(o, i), depth + 1, err, errlen);
			if (e != PH_OK)
				return e;
		}
		return PH_OK;
	}
	case json_type_object: {
		if (json_object_object_length(o) > PH_JSON_MAX_MEMBERS)
			return ph_fail(err, errlen, PH_EBADREQ,
			    "JSON object with more than %d members", PH_JSON_MAX_MEMBERS);
		json_object_object_foreach(o, key, val) {
			e = check_string(key, strlen(key), "a JSON key", err, errlen);
			if (e != PH_OK)
				return e;
			e = check_tree(val, depth + 1, err, errlen);
			if (e != PH_OK)
				return e;
		}
		return PH_OK;
	}
	default:
		return PH_OK;
	}
}

enum ph_err
ph_json_check(struct json_object *obj, char *err, size_t errlen)
{
	return check_tree(obj, 1, err, errlen);
}

enum ph_err
ph_json_parse(const char *body, size_t len, struct json_object **out,
    char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	enum ph_err e;
	size_t end;

	*out = NULL;
	if (len == 0)
		return ph_fail(err, errlen, PH_EBADREQ, "empty body, expected a JSON object");
	if (memchr(body, '\0', len) != NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "body contains a NUL byte");
	if (len > INT32_MAX)
		return ph_fail(err, errlen, PH_ETOOBIG, "body too large");

	/* json-c counts depth from 1 and needs one spare level to report
	 * "too deep" instead of stopping silently. */
	tok = json_tokener_new_ex(PH_JSON_MAX_DEPTH + 1);
	if (tok == NULL)
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		e = ph_fail(err, errlen, PH_EBADREQ, "malformed JSON: unexpected end of body");
		goto fail;
	}
	if (jerr != json_tokener_success) {
		e = ph_fail(err, errlen, PH_EBADREQ, "malformed JSON at byte %zu: %s",
		    end, json_tokener_error_desc(jerr));
		goto fail;
	}
	/* Trailing white space is harmless; anything else is a second value. */
	for (; end < len; end++) {
		if (strchr(" \t\r\n", body[end]) == NULL) {
			e = ph_fail(err, errlen, PH_EBADREQ,
			    "malformed JSON: extra data at byte %zu", end);
			goto fail;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		e = ph_fail(err, errlen, PH_EBADREQ, "body is not a JSON object");
		goto fail;
	}
	e = check_tree(obj, 1, err, errlen);
	if (e != PH_OK)
		goto fail;
	json_tokener_free(tok);
	*out = obj;
	return PH_OK;
fail:
	json_object_put(obj);
	json_tokener_free(tok);
	return e;
}

enum ph_err
ph_json_string(struct json_object *obj, const char *key, enum ph_field need,
    const char **out, char *err, size_t errlen)
{
	struct json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (need == PH_OPTIONAL)
			return PH_OK;
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' is missing", key);
	}
	if (!json_object_is_type(v, json_type_string))
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be a string", key);
	*out = json_object_get_string(v);
	return PH_OK;
}

static enum ph_err
id_member(struct json_object *obj, const char *key, struct json_object **v,
    char *err, size_t errlen)
{
	if (!json_object_object_get_ex(obj, key, v) || *v == NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' is missing", key);
	return PH_OK;
}

enum ph_err
ph_json_integer_id(struct json_object *obj, const char *key, char *buf,
    size_t buflen, char *err, size_t errlen)
{
	struct json_object *v;
	enum ph_err e;
	uint64_t n;

	if ((e = id_member(obj, key, &v, err, errlen)) != PH_OK)
		return e;
	if (json_object_is_type(v, json_type_int)) {
		/* json-c keeps integers beyond INT64_MAX as uint64. */
		if (json_object_get_int64(v) < 0)
			return ph_fail(err, errlen, PH_EBADREQ,
			    "field '%s' must be a non-negative integer", key);
		snprintf(buf, buflen, "%" PRIu64, json_object_get_uint64(v));
		return PH_OK;
	}
	if (json_object_is_type(v, json_type_string) &&
	    ph_parse_u64(json_object_get_string(v), UINT64_MAX, &n)) {
		snprintf(buf, buflen, "%" PRIu64, n);
		return PH_OK;
	}
	return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be an integer", key);
}

enum ph_err
ph_json_text_id(struct json_object *obj, const char *key, char *buf,
    size_t buflen, char *err, size_t errlen)
{
	struct json_object *v;
	enum ph_err e;
	size_t len;

	if ((e = id_member(obj, key, &v, err, errlen)) != PH_OK)
		return e;
	if (json_object_is_type(v, json_type_int))
		return ph_json_integer_id(obj, key, buf, buflen, err, errlen);
	if (!json_object_is_type(v, json_type_string))
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s' must be a string or an integer", key);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0)
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' is empty", key);
	if (len >= buflen || len >= PH_ID_MAX)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s' longer than %d bytes", key, PH_ID_MAX - 1);
	memcpy(buf, json_object_get_string(v), len);
	buf[len] = '\0';
	return PH_OK;
}
