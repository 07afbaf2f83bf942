#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "err.h"
#include "form.h"
#include "tap.h"

static struct json_object *obj;
static char err[PH_ERRLEN];

/* Parses s[0..len) into obj, releasing the previous one. */
static enum ph_err
parse(const char *s, size_t len)
{
	json_object_put(obj);
	obj = NULL;
	err[0] = '\0';
	return ph_form_parse(s, len, &obj, err, sizeof err);
}

#define P(s) parse((s), strlen(s))

/* The string value of a member, NULL when absent or not a string. */
static const char *
field(const char *name)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
nfields(void)
{
	return obj == NULL ? -1 : json_object_object_length(obj);
}

static bool
utf8(const char *s)
{
	return ph_utf8_valid((const unsigned char *)s, strlen(s));
}

/* Writes n fields "f<i>=<i>&" into buf; returns the length. */
static size_t
fields(char *buf, size_t size, int n, const char *sep)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, size - len, "f%d=%d%s", i, i, sep);
	return len;
}

int
main(void)
{
	char buf[8192];
	struct json_object *stale;
	size_t n;
	int i;

	/* the StepPay payment-only notice */
	is_int(P("webHookType=PAYMENT&orderId=880231&idKey=1718236799412aB3dE5fG7hJ9kL1m"),
	    PH_OK, "StepPay sample parses");
	is_int(nfields(), 3, "StepPay sample has three fields");
	is_str(field("webHookType"), "PAYMENT", "webHookType");
	is_str(field("orderId"), "880231", "orderId stays a string");
	is_str(field("idKey"), "1718236799412aB3dE5fG7hJ9kL1m", "idKey");

	/* separators and empty segments */
	is_int(P("a=1&&b=2"), PH_OK, "empty segment between fields skipped");
	is_int(nfields(), 2, "two fields around an empty segment");
	is_str(field("a"), "1", "first field");
	is_str(field("b"), "2", "second field");
	is_int(P("&&a=1&&&"), PH_OK, "leading and trailing '&' skipped");
	is_int(nfields(), 1, "one field among many '&'");
	is_int(P("&&&"), PH_OK, "only '&' parses");
	is_int(nfields(), 0, "only '&' gives no fields");
	is_int(P(""), PH_OK, "empty body parses");
	is_int(nfields(), 0, "empty body gives an empty object");
	is_int(parse(NULL, 0), PH_OK, "NULL body of length 0 parses");
	is_int(P("a=b=c"), PH_OK, "'=' inside a value");
	is_str(field("a"), "b=c", "value runs to the '&'");
	is_int(P("a=1;b=2"), PH_OK, "';' is not a separator");
	is_str(field("a"), "1;b=2", "';' stays in the value");

	/* decoding */
	is_int(P("na+me=a+b%2Bc%2fd%2F"), PH_OK, "'+' and escapes decode");
	is_str(field("na me"), "a b+c/d/", "'+' is a space in name and value, %2B a plus");
	is_int(P("x=%4a%4A%7e"), PH_OK, "hex digits in either case");
	is_str(field("x"), "JJ~", "lower- and upper-case escapes decode");
	is_int(P("p=%EC%9B%94%EA%B0%84&%EC%9D%B4%EB%A6%84=%ED%99%8D%EA%B8%B8%EB%8F%99"), PH_OK,
	    "Korean UTF-8 escapes");
	is_str(field("p"), "\xec\x9b\x94\xea\xb0\x84", "%EC%9B%94%EA%B0%84 is 월간");
	is_str(field("\xec\x9d\xb4\xeb\xa6\x84"), "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99",
	    "Korean name and value");
	is_int(P("p=\xec\x9b\x94"), PH_OK, "raw UTF-8 bytes accepted");
	is_str(field("p"), "\xec\x9b\x94", "raw UTF-8 kept");
	is_int(P("flag"), PH_OK, "name without '='");
	is_str(field("flag"), "", "gets the empty value");
	is_int(P("a=&b"), PH_OK, "'a=' and 'b'");
	is_str(field("a"), "", "'a=' is empty");
	is_str(field("b"), "", "'b' is empty");
	ok(json_object_is_type(json_object_object_get(obj, "a"), json_type_string),
	    "empty value is a string, not null");
	memset(buf, 'v', 5000);
	memcpy(buf, "long=", 5);
	is_int(parse(buf, 5000), PH_OK, "long value parses");
	is_int(json_object_get_string_len(json_object_object_get(obj, "long")), 4995,
	    "long value kept whole");

	/* bad escapes */
	is_int(P("a=%"), PH_EBADREQ, "'%' at the end refused");
	is_int(P("a=%4"), PH_EBADREQ, "'%' with one digit refused");
	is_int(P("a=%zz"), PH_EBADREQ, "non-hex escape refused");
	is_int(P("a=%4g"), PH_EBADREQ, "half-hex escape refused");
	is_int(P("a=%%41"), PH_EBADREQ, "'%%' refused");
	is_int(P("a=% 1"), PH_EBADREQ, "blank in escape refused");
	is_int(P("a=1&b=%4"), PH_EBADREQ, "bad escape in the second field refused");
	ok(strstr(err, "'b'") != NULL && strstr(err, "offset 6") != NULL,
	    "error names the field and the offset");
	is_int(P("%G1=x"), PH_EBADREQ, "bad escape in a name refused");
	ok(strstr(err, "field 1") != NULL && strstr(err, "offset 0") != NULL,
	    "error gives field number and offset");
	is_int(P("a=1&b=2&c=%"), PH_EBADREQ, "bad escape at the very end refused");
	ok(obj == NULL, "nothing returned on error");

	/* NUL bytes */
	is_int(P("a=%00"), PH_EBADREQ, "escaped NUL in a value refused");
	is_int(P("a%00b=1"), PH_EBADREQ, "escaped NUL in a name refused");
	is_int(parse("a=b\0c", 5), PH_EBADREQ, "raw NUL in a value refused");
	ok(strstr(err, "offset 3") != NULL, "raw NUL error gives the offset");
	is_int(parse("a\0=1", 4), PH_EBADREQ, "raw NUL in a name refused");
	is_int(parse("a=1&\0", 5), PH_EBADREQ, "raw NUL alone refused");

	/* UTF-8 */
	is_int(P("a=%C3%28"), PH_EBADREQ, "bad continuation (%C3%28) refused");
	is_int(P("a=%C0%AF"), PH_EBADREQ, "overlong '/' (%C0%AF) refused");
	is_int(P("a=%C1%BF"), PH_EBADREQ, "overlong two-byte (%C1%BF) refused");
	is_int(P("a=%E0%9F%BF"), PH_EBADREQ, "overlong three-byte refused");
	is_int(P("a=%F0%8F%BF%BF"), PH_EBADREQ, "overlong four-byte refused");
	is_int(P("a=%ED%A0%80"), PH_EBADREQ, "surrogate U+D800 (%ED%A0%80) refused");
	is_int(P("a=%ED%BF%BF"), PH_EBADREQ, "surrogate U+DFFF refused");
	is_int(P("a=%F4%90%80%80"), PH_EBADREQ, "U+110000 refused");
	is_int(P("a=%F5%80%80%80"), PH_EBADREQ, "lead byte F5 refused");
	is_int(P("a=%FF"), PH_EBADREQ, "byte FF refused");
	is_int(P("a=%80"), PH_EBADREQ, "lone continuation byte refused");
	is_int(P("a=%EC%9B"), PH_EBADREQ, "truncated sequence refused");
	is_int(P("a=%EC%9B&b=%94"), PH_EBADREQ, "sequence split over fields refused");
	is_int(P("a=\xff"), PH_EBADREQ, "raw invalid byte refused");
	is_int(P("%C3%28=1"), PH_EBADREQ, "invalid UTF-8 in a name refused");
	ok(strstr(err, "name") != NULL, "error says it is the name");
	is_int(P("a=%C2%80&b=%DF%BF&c=%E0%A0%80&d=%ED%9F%BF&e=%EE%80%80&f=%EF%BF%BF"
	    "&g=%F0%90%80%80&h=%F4%8F%BF%BF"), PH_OK, "boundary code points accepted");
	is_int(nfields(), 8, "all eight boundary fields");
	is_str(field("h"), "\xf4\x8f\xbf\xbf", "U+10FFFF kept");

	/* names */
	is_int(P("=x"), PH_EBADREQ, "empty name refused");
	is_int(P("="), PH_EBADREQ, "lone '=' refused");
	is_int(P("a=1&=2"), PH_EBADREQ, "empty name in a later field refused");
	ok(strstr(err, "field 2") != NULL && strstr(err, "offset 4") != NULL,
	    "error gives the field's number and offset");
	is_int(P("a=1&a=2"), PH_EBADREQ, "a name twice refused");
	ok(strstr(err, "field 'a' given twice") != NULL, "error names the repeated field");
	is_int(P("a=1&a=1"), PH_EBADREQ, "a name twice refused even with equal values");
	is_int(P("a=1&%61=2"), PH_EBADREQ, "a name twice in different spellings refused");
	is_int(P("a&a"), PH_EBADREQ, "a bare name twice refused");
	is_int(P("x%0Ay=1&x%0Ay=2"), PH_EBADREQ, "a name with a newline twice refused");
	ok(strchr(err, '\n') == NULL, "error text stays on one line");
	is_int(P("A=1&a=2"), PH_OK, "names are case-sensitive");

	/* field count: 64 is fine, 65 is not; empty segments do not count */
	n = fields(buf, sizeof buf, PH_FORM_MAX_FIELDS, "&");
	is_int(parse(buf, n), PH_OK, "64 fields accepted");
	is_int(nfields(), PH_FORM_MAX_FIELDS, "64 fields kept");
	n = fields(buf, sizeof buf, PH_FORM_MAX_FIELDS, "&&&");
	is_int(parse(buf, n), PH_OK, "64 fields among empty segments accepted");
	n = fields(buf, sizeof buf, PH_FORM_MAX_FIELDS + 1, "&");
	is_int(parse(buf, n), PH_EBADREQ, "65 fields refused");
	ok(strstr(err, "field 65") != NULL && strstr(err, "more than 64") != NULL,
	    "error says too many fields");

	/* name length: 128 decoded bytes is fine, 129 is not */
	memset(buf, 'n', PH_FORM_MAX_NAME);
	buf[PH_FORM_MAX_NAME] = '=';
	is_int(parse(buf, PH_FORM_MAX_NAME + 1), PH_OK, "name of 128 bytes accepted");
	buf[PH_FORM_MAX_NAME] = '\0';
	ok(field(buf) != NULL, "128-byte name kept whole");
	memset(buf, 'n', PH_FORM_MAX_NAME + 1);
	buf[PH_FORM_MAX_NAME + 1] = '=';
	is_int(parse(buf, PH_FORM_MAX_NAME + 2), PH_EBADREQ, "name of 129 bytes refused");
	ok(strstr(err, "longer than 128") != NULL, "error says the name is too long");
	memset(buf, 'n', PH_FORM_MAX_NAME + 1);
	is_int(parse(buf, PH_FORM_MAX_NAME + 1), PH_EBADREQ, "bare name of 129 bytes refused");
	for (n = 0, i = 0; i < PH_FORM_MAX_NAME; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%%41");
	is_int(parse(buf, n), PH_OK, "128 escaped bytes (384 raw) accepted");
	n += (size_t)snprintf(buf + n, sizeof buf - n, "%%41");
	is_int(parse(buf, n), PH_EBADREQ, "129 escaped bytes refused");
	for (n = 0, i = 0; i < PH_FORM_MAX_NAME / 4; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%%F0%%9F%%98%%80");
	is_int(parse(buf, n), PH_OK, "32 four-byte characters (128 bytes) accepted");

	/* *out is NULL on error whatever it held */
	json_object_put(obj);
	obj = stale = json_object_new_object();
	is_int(ph_form_parse("=x", 2, &obj, err, sizeof err), PH_EBADREQ, "error with *out set");
	ok(obj == NULL, "*out set to NULL on error");
	json_object_put(stale);

	/* the validator on its own */
	ok(ph_utf8_valid((const unsigned char *)"", 0), "empty is valid UTF-8");
	ok(utf8("plain ASCII"), "ASCII is valid");
	ok(utf8("\xf0\x9f\x98\x80"), "4-byte character valid");
	ok(utf8("\xec\x9b\x94"), "3-byte Hangul valid");
	ok(ph_utf8_valid((const unsigned char *)"a\0b", 3), "NUL is valid UTF-8");
	ok(!utf8("\xe0\x80\xaf"), "3-byte overlong invalid");
	ok(!utf8("\xec\x9b"), "truncated 3-byte sequence invalid");
	ok(!utf8("\xf0\x9f\x98"), "truncated 4-byte sequence invalid");
	ok(!utf8("\xc3"), "lone lead byte at the end invalid");
	ok(!utf8("\xf0\x9f\x98\x41"), "ASCII in place of a continuation invalid");
	ok(!utf8("\xed\xa0\x80\xed\xb0\x80"), "surrogate pair (CESU-8) invalid");

	json_object_put(obj);
	return done_testing();
}
