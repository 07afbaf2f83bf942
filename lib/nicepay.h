/* NicePay (Start API v1) payment notifications: one URL for every payment
 * method. The body is a full snapshot of one payment (keyed by tid),
 * signed by a field inside it: signature = hex(SHA-256(tid || amount ||
 * ediDate || secret key)). The signature does not cover status, so the
 * store also catches edited replays; registration samples are stored as
 * "test" and applied nowhere (DESIGN.md, Replies). */
#ifndef PH_NICEPAY_H
#define PH_NICEPAY_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"
#include "util.h"

#define PH_NICEPAY_MAX_KEYS      5     /* secret keys a merchant may hold */
#define PH_NICEPAY_KEY_MAX       256   /* bytes of one secret key */
#define PH_NICEPAY_AMOUNT_DIGITS 18    /* digits of an amount */
#define PH_NICEPAY_TEXT_MAX      128   /* bytes of tid, ediDate, orderId */
#define PH_NICEPAY_UTC_LEN       22    /* "20250610T013005.512000" */
#define PH_NICEPAY_SAMPLE_PREFIX "UTWEBHOOK"

extern const struct ph_endpoint ph_nicepay_endpoint;

/* Writes hex(SHA-256(tid || amount || edi_date || key)) into out. amount
 * is the decimal digits, edi_date exactly as received. */
void ph_nicepay_signature(const char *tid, const char *amount, const char *edi_date,
    const char *key, size_t keylen, char out[PH_SHA256_HEX_LEN + 1]);

/* True when signature (either case) is the signature of the fields under
 * one of the comma-separated keys. Every key is tried, each compared in
 * constant time. */
bool ph_nicepay_signature_matches(const char *tid, const char *amount,
    const char *edi_date, const char *keys, const char *signature);

/* Checks a nicepay_secret_key value: 1 to PH_NICEPAY_MAX_KEYS keys, none
 * empty or longer than PH_NICEPAY_KEY_MAX. Never quotes a key. */
enum ph_err ph_nicepay_keys_check(const char *keys, char *err, size_t errlen);

enum ph_nicepay_time {
	PH_NICEPAY_TIME_OK,
	PH_NICEPAY_TIME_UNSET,   /* "0", "" : never happened */
	PH_NICEPAY_TIME_BAD      /* not a date-time payhook can read */
};

/* Reads a NicePay date-time, "2025-06-10T10:30:05.512+0900": date, 'T' or
 * a space, hh:mm:ss, an optional fraction (1 to 9 digits, kept to the
 * microsecond), and an offset Z, +hh, +hhmm or +hh:mm; without one it is
 * Korean time (+09:00), which is what NicePay sends. On PH_NICEPAY_TIME_OK
 * writes the instant in UTC as "YYYYMMDDThhmmss.uuuuuu" into utc (at least
 * PH_NICEPAY_UTC_LEN + 1 bytes): fixed width, so it sorts as text.
 * sql/004_nicepay.sql's payhook.nicepay_time reads the same forms. */
enum ph_nicepay_time ph_nicepay_parse_time(const char *s, char *utc, size_t utclen);

/* Documented values; others are stored as given, with a warning. */
bool ph_nicepay_status_known(const char *status);
bool ph_nicepay_pay_method_known(const char *pay_method);

#endif
