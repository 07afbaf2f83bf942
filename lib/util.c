#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "util.h"

void
ph_sha256_hex(const void *data, size_t len, char out[PH_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256(data, len, md);
	for (i = 0; i < sizeof md; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[PH_SHA256_HEX_LEN] = '\0';
}

bool
ph_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	/* The length of a token is not secret (it is in the URL's length
	 * anyway); its bytes are. */
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

bool
ph_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned int)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

int
ph_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
ph_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool
ph_str_in(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n && list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

bool
ph_pg_text_array(const char *const *items, size_t n, char *out, size_t outlen)
{
	size_t used = 0, i;
	const char *p;

	if (outlen < 3)
		return false;
	out[used++] = '{';
	for (i = 0; i < n; i++) {
		if (used + 4 >= outlen)
			return false;
		if (i > 0)
			out[used++] = ',';
		out[used++] = '"';
		for (p = items[i]; *p != '\0'; p++) {
			if (used + 4 >= outlen)
				return false;
			if (*p == '"' || *p == '\\')
				out[used++] = '\\';
			out[used++] = *p;
		}
		out[used++] = '"';
	}
	if (used + 2 > outlen)
		return false;
	out[used++] = '}';
	out[used] = '\0';
	return true;
}

bool
ph_ascii_ieq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca + 32);
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb + 32);
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
	return true;
}

int64_t
ph_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
ph_sanitize(char *dst, size_t size, const char *s, size_t len)
{
	size_t i;

	if (size == 0)
		return;
	for (i = 0; i < len && i < size - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ?
		    '?' : (char)c;
	}
	dst[i] = '\0';
}
