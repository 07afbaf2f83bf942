/* Small helpers with no state: hashing, constant-time comparison, strict
 * number parsing, time. */
#ifndef PH_UTIL_H
#define PH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PH_SHA256_HEX_LEN 64

#define PH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Writes the lower-case hex SHA-256 of data into out (65 bytes with NUL). */
void ph_sha256_hex(const void *data, size_t len, char out[PH_SHA256_HEX_LEN + 1]);

/* Compares two secrets in time that depends only on their lengths. */
bool ph_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Parses a decimal unsigned integer that fills all of s (no sign, no
 * blanks, no leading '+'), at most max. Returns false on anything else. */
bool ph_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* The value of a hexadecimal digit (either case), or -1. */
int ph_hex_digit(int c);

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t ph_strlcpy(char *dst, const char *src, size_t size);

/* True when s equals one of the first n strings of list, which may also
 * end early at a NULL entry (pass SIZE_MAX for a NULL-terminated list). */
bool ph_str_in(const char *s, const char *const *list, size_t n);

/* The first n strings of items as a PostgreSQL text[] literal, each
 * quoted, '"' and '\\' escaped, into out; false when it does not fit in
 * outlen bytes (2 * strlen + 3 per item, and 3, always do). */
bool ph_pg_text_array(const char *const *items, size_t n, char *out, size_t outlen);

/* Case-insensitive ASCII comparison of the first n bytes (locale free). */
bool ph_ascii_ieq(const char *a, const char *b, size_t n);

/* Monotonic clock in microseconds, for elapsed times in log lines. */
int64_t ph_now_us(void);

/* Copies s into dst as printable ASCII for a log line or a warning:
 * control bytes, quotes, backslashes and non-ASCII become '?', and the
 * result is cut to size-1 bytes. */
void ph_sanitize(char *dst, size_t size, const char *s, size_t len);

#endif
