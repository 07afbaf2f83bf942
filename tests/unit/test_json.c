#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static enum ph_err
parse(const char *s, size_t len)
{
	struct json_object *o = NULL;
	char err[PH_ERRLEN];
	enum ph_err e = ph_json_parse(s, len, &o, err, sizeof err);

	json_object_put(o);
	return e;
}

#define P(s) parse((s), sizeof(s) - 1)

static char *
nested(int depth)
{
	static char buf[512];
	int i, n = 0;

	n += sprintf(buf + n, "{\"a\":");
	for (i = 1; i < depth; i++)
		buf[n++] = '[';
	buf[n++] = '1';
	for (i = 1; i < depth; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	return buf;
}

int
main(void)
{
	struct json_object *o;
	char err[PH_ERRLEN], id[PH_ID_MAX];
	const char *s;
	const char *sample = "{\"id\":4021,\"s\":\"7\",\"neg\":-1,\"f\":1.5,\"t\":true,"
	    "\"str\":\"abc\",\"big\":18446744073709551615,\"max\":9223372036854775807,"
	    "\"over\":123456789012345678901234567890,\"sbig\":\"9223372036854775808\",\"n\":null}";
	char *big;
	size_t i;

	is_int(P("{\"a\":1}"), PH_OK, "an object parses");
	is_int(P("{\"a\":1}\r\n"), PH_OK, "trailing white space is fine");
	is_int(P(""), PH_EBADREQ, "empty body refused");
	is_int(P("[1]"), PH_EBADREQ, "top level must be an object");
	is_int(P("{\"a\":1} {}"), PH_EBADREQ, "a second value refused");
	is_int(P("{\"a\":1,}"), PH_EBADREQ, "trailing comma refused (strict)");
	is_int(P("{'a':1}"), PH_EBADREQ, "single quotes refused (strict)");
	is_int(P("{\"a\":1"), PH_EBADREQ, "truncated object refused");
	is_int(P("{\"a\":\"\xc3\x28\"}"), PH_EBADREQ, "invalid UTF-8 refused");
	is_int(P("{\"a\":\"\xec\x9b\x94\"}"), PH_OK, "Korean UTF-8 accepted");
	is_int(parse("{\"a\":\"x\0\"}", 10), PH_EBADREQ, "raw NUL byte refused");
	is_int(P("{\"a\":\"x\\u0000\"}"), PH_EBADREQ, "escaped NUL refused");
	is_int(P("{\"a\\u0000\":1}"), PH_EBADREQ, "escaped NUL in a key refused");
	is_int(P("{\"a\":NaN}"), PH_EBADREQ, "NaN refused");
	is_int(P("{\"a\":Infinity}"), PH_EBADREQ, "Infinity refused");
	is_int(P("{\"a\":1.}"), PH_EBADREQ, "1. refused");
	is_int(P("{\"a\":01}"), PH_EBADREQ, "leading zero refused");
	is_int(P("{\"a\":-}"), PH_EBADREQ, "lone minus refused");
	is_int(P("{\"a\":\"\t\"}"), PH_EBADREQ, "raw control character refused");
	is_int(P("{\"a\":\"\\x\"}"), PH_EBADREQ, "unknown escape refused");
	is_int(P("{\"a\":\"\\ud800\"}"), PH_EBADREQ, "lone high surrogate refused");
	is_int(P("{\"a\":\"\\udc00x\"}"), PH_EBADREQ, "lone low surrogate refused");
	is_int(P("{\"a\":\"\\ud83d\\ude00\"}"), PH_OK, "surrogate pair accepted");
	is_int(P("{\"a\":\"\\\\u0000\"}"), PH_OK, "escaped backslash before u0000 is text");
	is_int(P("{\"a\":-0.5e+10,\"b\":[true,false,null],\"c\":{}}"), PH_OK,
	    "numbers, literals, empty containers");
	is_int(P("{\"a\":1e1000000}"), PH_OK, "a huge exponent is grammatical (the database decides)");
	is_int(P("{\"a\":tru}"), PH_EBADREQ, "bad literal refused");
	is_int(P("{\"a\" 1}"), PH_EBADREQ, "missing colon refused");
	is_int(P("{\"a\":1 \"b\":2}"), PH_EBADREQ, "missing comma refused");
	is_int(P(" \n{\"a\":[ 1 , 2 ]}\n"), PH_OK, "white space everywhere allowed");
	is_int(parse(nested(PH_JSON_MAX_DEPTH), strlen(nested(PH_JSON_MAX_DEPTH))), PH_OK,
	    "depth at the limit accepted");
	is_int(parse(nested(PH_JSON_MAX_DEPTH + 1), strlen(nested(PH_JSON_MAX_DEPTH + 1))),
	    PH_EBADREQ, "depth one past the limit refused");

	big = malloc(PH_JSON_MAX_STRING + 16);
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0, len = (size_t)PH_JSON_MAX_STRING + (size_t)extra;

		n += (size_t)sprintf(big, "{\"a\":\"");
		memset(big + n, 'x', len);
		n += len;
		memcpy(big + n, "\"}", 2);
		n += 2;
		is_int(parse(big, n), extra ? PH_EBADREQ : PH_OK,
		    extra ? "string one past the limit refused" : "string at the limit accepted");
	}
	free(big);

	big = malloc(PH_JSON_MAX_ARRAY * 2 + 16);
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0, count = (size_t)PH_JSON_MAX_ARRAY + (size_t)extra;

		n += (size_t)sprintf(big, "{\"a\":[");
		for (i = 0; i < count; i++) {
			big[n++] = '1';
			big[n++] = i + 1 < count ? ',' : ']';
		}
		big[n++] = '}';
		is_int(parse(big, n), extra ? PH_EBADREQ : PH_OK,
		    extra ? "array one past the limit refused" : "array at the limit accepted");
	}
	free(big);

	big = malloc(PH_JSON_MAX_MEMBERS * 16 + 16);
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0, count = (size_t)PH_JSON_MAX_MEMBERS + (size_t)extra;

		big[n++] = '{';
		for (i = 0; i < count; i++)
			n += (size_t)sprintf(big + n, "\"k%zu\":1%s", i, i + 1 < count ? "," : "}");
		is_int(parse(big, n), extra ? PH_EBADREQ : PH_OK,
		    extra ? "members one past the limit refused" : "members at the limit accepted");
	}
	free(big);

	/* The string limit counts decoded bytes: \u00e9 is two. */
	big = malloc(PH_JSON_MAX_STRING * 3 + 16);
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0, k, pairs = PH_JSON_MAX_STRING / 2;

		n += (size_t)sprintf(big, "{\"a\":\"");
		for (k = 0; k < pairs; k++)
			n += (size_t)sprintf(big + n, "\\u00e9");
		if (extra)
			big[n++] = 'x';
		n += (size_t)sprintf(big + n, "\"}");
		is_int(parse(big, n), extra ? PH_EBADREQ : PH_OK, extra ?
		    "escaped string one byte past the limit refused" :
		    "escaped string at the limit (decoded) accepted");
	}
	free(big);

	ok(ph_json_parse(sample, strlen(sample), &o, err, sizeof err) == PH_OK, "sample parses");
	is_int(ph_json_integer_id(o, "id", id, sizeof id, err, sizeof err), PH_OK, "integer id");
	is_str(id, "4021", "integer id text");
	is_int(ph_json_integer_id(o, "s", id, sizeof id, err, sizeof err), PH_OK, "digit string id");
	is_str(id, "7", "digit string id text");
	is_int(ph_json_integer_id(o, "max", id, sizeof id, err, sizeof err), PH_OK,
	    "id at INT64_MAX");
	is_str(id, "9223372036854775807", "INT64_MAX id text");
	is_int(ph_json_integer_id(o, "big", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "id above INT64_MAX refused");
	is_int(ph_json_integer_id(o, "over", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "id beyond 64 bits refused, not taken as UINT64_MAX");
	is_int(ph_json_integer_id(o, "sbig", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "digit string above INT64_MAX refused");
	is_int(ph_json_integer_id(o, "neg", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "negative id refused");
	is_int(ph_json_integer_id(o, "f", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "fractional id refused");
	is_int(ph_json_integer_id(o, "t", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "boolean id refused");
	is_int(ph_json_integer_id(o, "str", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "non-digit string id refused");
	is_str(err, "field 'str' must be an integer", "error names the field");
	is_int(ph_json_integer_id(o, "missing", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "missing id refused");
	is_int(ph_json_integer_id(o, "n", id, sizeof id, err, sizeof err), PH_EBADREQ,
	    "null id refused");
	is_int(ph_json_text_id(o, "str", id, sizeof id, err, sizeof err), PH_OK, "text id");
	is_int(ph_json_text_id(o, "id", id, sizeof id, err, sizeof err), PH_OK,
	    "integer accepted as text id");
	is_int(ph_json_string(o, "str", PH_REQUIRED, &s, err, sizeof err), PH_OK, "string");
	is_str(s, "abc", "string value");
	is_int(ph_json_string(o, "id", PH_REQUIRED, &s, err, sizeof err), PH_EBADREQ,
	    "number is not a string");
	is_int(ph_json_string(o, "none", PH_OPTIONAL, &s, err, sizeof err), PH_OK,
	    "optional absent string");
	ok(s == NULL, "absent optional string is NULL");
	json_object_put(o);
	return done_testing();
}
