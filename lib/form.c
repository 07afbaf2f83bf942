#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"

bool
ph_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else
			return false; /* continuation byte, C0/C1 overlong, or > F4 */
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes src[0..len) into dst (at least len bytes); returns the decoded
 * length, or -1 on a bad escape or a NUL byte. */
static long
decode(const char *src, size_t len, char *dst)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char c = src[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = hexval(src[i + 1])) < 0 ||
			    (lo = hexval(src[i + 2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return -1;
		dst[n++] = c;
	}
	return (long)n;
}

enum ph_err
ph_form_parse(const char *body, size_t len, struct json_object **out,
    char *err, size_t errlen)
{
	struct json_object *obj;
	char *buf = NULL;
	size_t pos = 0, fields = 0;
	enum ph_err e = PH_OK;

	*out = NULL;
	obj = json_object_new_object();
	buf = malloc(len + 1);
	if (obj == NULL || buf == NULL) {
		e = ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		goto fail;
	}
	while (pos < len) {
		const char *seg = body + pos, *amp, *eq;
		size_t seglen, namelen;
		long nlen, vlen;

		amp = memchr(seg, '&', len - pos);
		seglen = amp != NULL ? (size_t)(amp - seg) : len - pos;
		pos += seglen + 1;
		if (seglen == 0)
			continue;
		if (++fields > PH_FORM_MAX_FIELDS) {
			e = ph_fail(err, errlen, PH_EBADREQ, "form has more than %d fields",
			    PH_FORM_MAX_FIELDS);
			goto fail;
		}
		eq = memchr(seg, '=', seglen);
		namelen = eq != NULL ? (size_t)(eq - seg) : seglen;
		nlen = decode(seg, namelen, buf);
		if (nlen < 0) {
			e = ph_fail(err, errlen, PH_EBADREQ, "form field %zu: bad %%-escape or NUL",
			    fields);
			goto fail;
		}
		if (nlen == 0 || nlen > PH_FORM_MAX_NAME) {
			e = ph_fail(err, errlen, PH_EBADREQ, "form field %zu: name %s", fields,
			    nlen == 0 ? "empty" : "too long");
			goto fail;
		}
		if (!ph_utf8_valid((const unsigned char *)buf, (size_t)nlen)) {
			e = ph_fail(err, errlen, PH_EBADREQ, "form field %zu: name is not UTF-8",
			    fields);
			goto fail;
		}
		buf[nlen] = '\0';
		if (json_object_object_get_ex(obj, buf, NULL)) {
			e = ph_fail(err, errlen, PH_EBADREQ, "form field '%.64s' given twice", buf);
			goto fail;
		}
		{
			char name[PH_FORM_MAX_NAME + 1];
			struct json_object *v;

			memcpy(name, buf, (size_t)nlen + 1);
			vlen = eq != NULL ? decode(eq + 1, seglen - namelen - 1, buf) : 0;
			if (vlen < 0 || !ph_utf8_valid((const unsigned char *)buf, (size_t)vlen)) {
				e = ph_fail(err, errlen, PH_EBADREQ,
				    "form field '%.64s': bad %%-escape, NUL or not UTF-8", name);
				goto fail;
			}
			v = json_object_new_string_len(buf, (int)vlen);
			if (v == NULL || json_object_object_add(obj, name, v) != 0) {
				json_object_put(v);
				e = ph_fail(err, errlen, PH_ENOMEM, "out of memory");
				goto fail;
			}
		}
	}
	free(buf);
	*out = obj;
	return PH_OK;
fail:
	free(buf);
	json_object_put(obj);
	return e;
}
