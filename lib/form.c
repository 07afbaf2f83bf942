#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "util.h"

#define SHOW_MAX 48 /* bytes of a field name quoted in an error */

enum decode_res {
	DECODE_OK,
	DECODE_ESCAPE,  /* '%' not followed by two hex digits */
	DECODE_NUL,     /* %00 */
	DECODE_LONG     /* more than max decoded bytes */
};

bool
ph_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		/* The second byte's range is what rules out overlong forms
		 * (E0, F0), surrogates (ED) and code points past U+10FFFF
		 * (F4); C0, C1 and F5..FF never start a sequence. */
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (len - i - 1 < n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += n + 1;
	}
	return true;
}

/* Decodes src[0..len) into dst, at most max bytes. *outlen is the decoded
 * length; on failure *at is the offset in src of the offending byte. dst
 * is not terminated. Raw NUL bytes were refused before. */
static enum decode_res
decode(const char *src, size_t len, char *dst, size_t max, size_t *outlen,
    size_t *at)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char c = src[i];
		int hi, lo;

		*at = i;
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (len - i < 3 || (hi = ph_hex_digit((unsigned char)src[i + 1])) < 0 ||
			    (lo = ph_hex_digit((unsigned char)src[i + 2])) < 0)
				return DECODE_ESCAPE;
			if (hi == 0 && lo == 0)
				return DECODE_NUL;
			c = (char)(unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (n == max)
			return DECODE_LONG;
		dst[n++] = c;
	}
	*outlen = n;
	return DECODE_OK;
}

/* Adds the field seg[0..seglen), the idx-th (from 1), which starts at
 * offset off of the body. scratch has room for seglen bytes. */
static enum ph_err
parse_field(struct json_object *obj, const char *seg, size_t seglen, size_t off,
    size_t idx, char *scratch, char *err, size_t errlen)
{
	char name[PH_FORM_MAX_NAME + 1], show[SHOW_MAX];
	struct json_object *v;
	const char *eq, *raw;
	size_t rawlen, nlen, vlen, at = 0;

	if (idx > PH_FORM_MAX_FIELDS)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field %zu at offset %zu: more than %d fields", idx, off,
		    PH_FORM_MAX_FIELDS);
	eq = memchr(seg, '=', seglen);
	rawlen = eq != NULL ? (size_t)(eq - seg) : seglen;
	if (rawlen == 0)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field %zu at offset %zu: empty name", idx, off);

	switch (decode(seg, rawlen, name, PH_FORM_MAX_NAME, &nlen, &at)) {
	case DECODE_OK:
		break;
	case DECODE_ESCAPE:
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field %zu: name has a bad %%-escape at offset %zu", idx, off + at);
	case DECODE_NUL:
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field %zu: name has a NUL byte at offset %zu", idx, off + at);
	case DECODE_LONG:
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field %zu at offset %zu: name longer than %d bytes", idx, off,
		    PH_FORM_MAX_NAME);
	}
	if (!ph_utf8_valid((const unsigned char *)name, nlen))
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field %zu at offset %zu: name is not valid UTF-8", idx, off);
	name[nlen] = '\0';
	/* From here the name is known text; quote it, made printable since
	 * err ends up in a log line. */
	ph_sanitize(show, sizeof show, name, nlen);
	/* Which of two values a provider meant is anyone's guess, and
	 * taking either lets a forged suffix override a checked field. */
	if (json_object_object_get_ex(obj, name, NULL))
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' given twice", show);

	raw = eq != NULL ? eq + 1 : seg + seglen;
	rawlen = (size_t)(seg + seglen - raw);
	switch (decode(raw, rawlen, scratch, rawlen, &vlen, &at)) {
	case DECODE_OK:
		break;
	case DECODE_ESCAPE:
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s': value has a bad %%-escape at offset %zu", show,
		    (size_t)(raw - seg) + off + at);
	case DECODE_NUL:
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s': value has a NUL byte at offset %zu", show,
		    (size_t)(raw - seg) + off + at);
	case DECODE_LONG: /* cannot happen: decoding never grows */
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s': value too long", show);
	}
	if (!ph_utf8_valid((const unsigned char *)scratch, vlen))
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s': value is not valid UTF-8", show);
	/* json-c counts string lengths in int. */
	if (vlen > INT_MAX)
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s': value too long", show);

	if ((v = json_object_new_string_len(scratch, (int)vlen)) == NULL)
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	if (json_object_object_add(obj, name, v) != 0) {
		json_object_put(v);
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	}
	return PH_OK;
}

enum ph_err
ph_form_parse(const char *body, size_t len, struct json_object **out,
    char *err, size_t errlen)
{
	struct json_object *obj = NULL;
	const char *nul, *seg, *amp;
	char *scratch = NULL;
	size_t pos, seglen, nfields = 0;
	enum ph_err e;

	*out = NULL;
	/* A raw NUL is refused outright: it cannot be stored in PostgreSQL
	 * text, and a body that carries one was not produced by an encoder. */
	if (len > 0 && (nul = memchr(body, '\0', len)) != NULL)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "form body has a NUL byte at offset %zu", (size_t)(nul - body));
	if ((obj = json_object_new_object()) == NULL ||
	    (scratch = malloc(len + 1)) == NULL) {
		e = ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		goto out;
	}
	for (pos = 0; pos < len; pos += seglen + 1) {
		seg = body + pos;
		amp = memchr(seg, '&', len - pos);
		seglen = amp != NULL ? (size_t)(amp - seg) : len - pos;
		if (seglen == 0)
			continue;
		e = parse_field(obj, seg, seglen, pos, ++nfields, scratch, err, errlen);
		if (e != PH_OK)
			goto out;
	}
	*out = obj;
	obj = NULL;
	e = PH_OK;
out:
	free(scratch);
	json_object_put(obj);
	return e;
}
