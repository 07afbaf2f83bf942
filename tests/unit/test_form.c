#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "tap.h"

static struct json_object *obj;
static char err[PH_ERRLEN];

static enum ph_err
parse(const char *s, size_t len)
{
	json_object_put(obj);
	obj = NULL;
	return ph_form_parse(s, len, &obj, err, sizeof err);
}

#define P(s) parse((s), strlen(s))

static const char *
field(const char *name)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &v))
		return NULL;
	return json_object_get_string(v);
}

int
main(void)
{
	char buf[4096];
	size_t n;
	int i;

	is_int(P("webHookType=PAYMENT&orderId=880231&idKey=1718236799412aB3dE5fG7hJ9kL1m"), PH_OK,
	    "StepPay payment-only form");
	is_str(field("webHookType"), "PAYMENT", "webHookType");
	is_str(field("orderId"), "880231", "orderId is a string");
	is_str(field("idKey"), "1718236799412aB3dE5fG7hJ9kL1m", "idKey");
	is_int(P("a=1&&b=2&"), PH_OK, "empty segments skipped");
	is_int(json_object_object_length(obj), 2, "two fields");
	is_int(P("name=a+b%2Bc%2fd"), PH_OK, "+ and escapes decode");
	is_str(field("name"), "a b+c/d", "decoded value");
	is_int(P("p=%EC%9B%94%EA%B0%84"), PH_OK, "Korean UTF-8 escapes");
	is_str(field("p"), "\xec\x9b\x94\xea\xb0\x84", "Korean decoded");
	is_int(P("flag"), PH_OK, "name without =");
	is_str(field("flag"), "", "gets the empty value");
	is_int(P(""), PH_OK, "empty body: no fields");
	is_int(P("a=%4"), PH_EBADREQ, "short escape refused");
	is_int(P("a=%zz"), PH_EBADREQ, "non-hex escape refused");
	is_int(P("a=%00"), PH_EBADREQ, "escaped NUL refused");
	is_int(parse("a=b\0c", 5), PH_EBADREQ, "raw NUL refused");
	is_int(P("a=%C3%28"), PH_EBADREQ, "invalid UTF-8 refused");
	is_int(P("a=%C0%AF"), PH_EBADREQ, "overlong UTF-8 refused");
	is_int(P("a=%ED%A0%80"), PH_EBADREQ, "surrogate refused");
	is_int(P("a=%F4%90%80%80"), PH_EBADREQ, "above U+10FFFF refused");
	is_int(P("=x"), PH_EBADREQ, "empty name refused");
	is_int(P("a=1&a=2"), PH_EBADREQ, "a name twice refused");
	ok(strstr(err, "'a' given twice") != NULL, "error names the field");

	for (n = 0, i = 0; i < PH_FORM_MAX_FIELDS; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "f%d=1&", i);
	is_int(parse(buf, n), PH_OK, "64 fields accepted");
	n += (size_t)snprintf(buf + n, sizeof buf - n, "extra=1");
	is_int(parse(buf, n), PH_EBADREQ, "65 fields refused");

	memset(buf, 'n', PH_FORM_MAX_NAME);
	buf[PH_FORM_MAX_NAME] = '=';
	is_int(parse(buf, PH_FORM_MAX_NAME + 1), PH_OK, "name of 128 bytes accepted");
	memset(buf, 'n', PH_FORM_MAX_NAME + 1);
	buf[PH_FORM_MAX_NAME + 1] = '=';
	is_int(parse(buf, PH_FORM_MAX_NAME + 2), PH_EBADREQ, "name of 129 bytes refused");

	ok(ph_utf8_valid((const unsigned char *)"\xf0\x9f\x98\x80", 4), "4-byte UTF-8 valid");
	ok(!ph_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3), "3-byte overlong invalid");
	ok(!ph_utf8_valid((const unsigned char *)"\xec\x9b", 2), "truncated sequence invalid");
	json_object_put(obj);
	return done_testing();
}
