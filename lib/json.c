#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "form.h"
#include "json.h"
#include "util.h"

#define PH_STR_(x) #x
#define PH_STR(x) PH_STR_(x)

/* A strict RFC 8259 scanner run before json-c, whose "strict" mode still
 * takes single quotes, NaN, raw control characters and "1." -- all of
 * which PostgreSQL's jsonb refuses. Accepting exactly what jsonb accepts
 * means a body that passes here is never lost to a cast error later. It
 * also refuses \u0000 and unpaired surrogates (jsonb cannot hold them),
 * and enforces every size limit of json.h in the same pass, so the parsed
 * tree needs no second walk. */
struct scan {
	const unsigned char *p, *start, *end;
	int depth;
	const char *why;
	bool over_limit;   /* why names a limit, not a syntax error */
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
	    *s->p == '\r'))
		s->p++;
}

static bool
scan_fail(struct scan *s, const char *why)
{
	s->why = why;
	return false;
}

static bool
scan_limit(struct scan *s, const char *why)
{
	s->over_limit = true;
	return scan_fail(s, why);
}

static int
hex4(const unsigned char *p)
{
	int i, v = 0;

	for (i = 0; i < 4; i++) {
		int d = ph_hex_digit(p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Scans a string, counting its decoded bytes against PH_JSON_MAX_STRING. */
static bool
scan_string(struct scan *s)
{
	size_t decoded = 0;

	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (decoded > PH_JSON_MAX_STRING)
			return scan_limit(s, "string longer than " PH_STR(PH_JSON_MAX_STRING) " bytes");
		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return scan_fail(s, "control character in a string");
		if (c != '\\') {
			s->p++;
			decoded++;
			continue;
		}
		if (s->end - s->p < 2)
			break;
		c = s->p[1];
		if (c == 'u') {
			int cp;

			if (s->end - s->p < 6 || (cp = hex4(s->p + 2)) < 0)
				return scan_fail(s, "bad \\u escape");
			if (cp == 0)
				return scan_fail(s, "\\u0000 (NUL) in a string");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return scan_fail(s, "unpaired surrogate in a string");
			s->p += 6;
			decoded += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int lo;

				if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
				    (lo = hex4(s->p + 2)) < 0xdc00 || lo > 0xdfff)
					return scan_fail(s, "unpaired surrogate in a string");
				s->p += 6;
				decoded++; /* a pair is 4 bytes of UTF-8 */
			}
			continue;
		}
		/* strchr() finds the terminator for c == '\0'. */
		if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL)
			return scan_fail(s, "bad escape in a string");
		s->p += 2;
		decoded++;
	}
	return scan_fail(s, "unterminated string");
}

static bool
scan_digits(struct scan *s)
{
	const unsigned char *from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from;
}

static bool
scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return scan_fail(s, "bad number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!scan_digits(s))
			return scan_fail(s, "bad number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return scan_fail(s, "bad number");
	}
	return true;
}

static bool
scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return scan_fail(s, "unexpected character");
	s->p += n;
	return true;
}

static bool scan_value(struct scan *s);

/* An object or an array: open is '{' or '['. */
static bool
scan_container(struct scan *s, unsigned char open)
{
	unsigned char close = open == '{' ? '}' : ']';
	size_t count = 0;

	if (++s->depth > PH_JSON_MAX_DEPTH)
		return scan_fail(s, "nested too deep");
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (++count > (open == '{' ? PH_JSON_MAX_MEMBERS : PH_JSON_MAX_ARRAY))
			return scan_limit(s, open == '{' ?
			    "object with more than " PH_STR(PH_JSON_MAX_MEMBERS) " members" :
			    "array longer than " PH_STR(PH_JSON_MAX_ARRAY) " elements");
		if (open == '{') {
			if (s->p >= s->end || *s->p != '"')
				return scan_fail(s, "expected a member name");
			if (!scan_string(s))
				return false;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return scan_fail(s, "expected ':'");
			s->p++;
		}
		if (!scan_value(s))
			return false;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			s->depth--;
			return true;
		}
		return scan_fail(s, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool
scan_value(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return scan_fail(s, "unexpected end of body");
	switch (*s->p) {
	case '{':
	case '[':
		return scan_container(s, *s->p);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return scan_fail(s, "unexpected character");
	}
}

enum ph_err
ph_json_parse(const char *body, size_t len, struct json_object **out,
    char *err, size_t errlen)
{
	struct scan s;
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;

	*out = NULL;
	if (len == 0)
		return ph_fail(err, errlen, PH_EBADREQ, "empty body, expected a JSON object");
	if (len > INT32_MAX)
		return ph_fail(err, errlen, PH_ETOOBIG, "body too large");
	if (memchr(body, '\0', len) != NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "body contains a NUL byte");
	if (!ph_utf8_valid((const unsigned char *)body, len))
		return ph_fail(err, errlen, PH_EBADREQ, "body is not valid UTF-8");

	s.start = s.p = (const unsigned char *)body;
	s.end = s.p + len;
	s.depth = 0;
	s.why = NULL;
	s.over_limit = false;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return ph_fail(err, errlen, PH_EBADREQ, "body is not a JSON object");
	if (scan_value(&s)) {
		skip_ws(&s);
		if (s.p < s.end)
			scan_fail(&s, "extra data after the object");
	}
	if (s.why != NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "%s at byte %zu: %s",
		    s.over_limit ? "JSON over a limit" : "malformed JSON",
		    (size_t)(s.p - s.start), s.why);

	/* json-c counts scalars as a level too: give it room; the scanner
	 * has already enforced the real limit. */
	tok = json_tokener_new_ex(PH_JSON_MAX_DEPTH + 2);
	if (tok == NULL)
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success || obj == NULL) {
		json_object_put(obj);
		return ph_fail(err, errlen, PH_EBADREQ, "malformed JSON: %s",
		    json_tokener_error_desc(jerr));
	}
	*out = obj;
	return PH_OK;
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
ph_json_required_text(struct json_object *obj, const char *key, size_t max,
    const char **out, char *err, size_t errlen)
{
	enum ph_err e = ph_json_string(obj, key, PH_REQUIRED, out, err, errlen);

	if (e != PH_OK)
		return e;
	if (**out == '\0')
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' is empty", key);
	if (strlen(*out) >= max)
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' longer than %zu bytes",
		    key, max - 1);
	return PH_OK;
}

enum ph_err
ph_json_integer_id(struct json_object *obj, const char *key, char *buf,
    size_t buflen, char *err, size_t errlen)
{
	struct json_object *v;
	enum ph_err e;
	uint64_t n;

	e = id_member(obj, key, &v, err, errlen);
	if (e != PH_OK)
		return e;
	if (json_object_is_type(v, json_type_int)) {
		/* json-c keeps integers above INT64_MAX as uint64 and turns
		 * any beyond 64 bits into UINT64_MAX without a word: taking
		 * those would store another object's id. StepPay's ids are
		 * Java longs, so nothing above INT64_MAX is one. */
		if (json_object_get_int64(v) < 0)
			return ph_fail(err, errlen, PH_EBADREQ,
			    "field '%s' must be a non-negative integer", key);
		if (json_object_get_uint64(v) > (uint64_t)INT64_MAX)
			return ph_fail(err, errlen, PH_EBADREQ,
			    "field '%s' is larger than %" PRId64, key, INT64_MAX);
		snprintf(buf, buflen, "%" PRIu64, json_object_get_uint64(v));
		return PH_OK;
	}
	if (json_object_is_type(v, json_type_string) &&
	    ph_parse_u64(json_object_get_string(v), (uint64_t)INT64_MAX, &n)) {
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

	e = id_member(obj, key, &v, err, errlen);
	if (e != PH_OK)
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
