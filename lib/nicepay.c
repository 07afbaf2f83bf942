#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "json.h"
#include "nicepay.h"
#include "util.h"

/* Store actions: server-side functions in sql/004_nicepay.sql. */
static const struct ph_store_action payment_action = {"payhook.nicepay_payment", 8};
static const struct ph_store_action sample_action = {"payhook.nicepay_sample", 1};
static const struct ph_store_action unauthenticated_action = {"payhook.nicepay_unauthenticated", 1};

/* The status rank of DESIGN.md's NicePay version: ready and unknown
 * values lowest, then failed = expired, paid, partialCancelled,
 * cancelled. */
#define RANK_UNKNOWN 1
static const struct {
	const char *status;
	int rank;
} statuses[] = {
	{"ready", 1}, {"failed", 2}, {"expired", 2}, {"paid", 3},
	{"partialCancelled", 4}, {"cancelled", 5},
};

/* The hook page's list, plus payco and ssgpay from the approval page. */
static const char *const pay_methods[] = {
	"card", "vbank", "bank", "cellphone", "naverpay", "kakaopay", "samsungpay",
	"payco", "ssgpay",
};

/* What an unsigned notice may be: the manual signs only "valid
 * transactions", so these are stored unverified instead of refused. */
static const char *const unsigned_statuses[] = {"failed", "expired"};

static int
status_rank(const char *status)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(statuses); i++)
		if (strcmp(status, statuses[i].status) == 0)
			return statuses[i].rank;
	return RANK_UNKNOWN;
}

bool
ph_nicepay_status_known(const char *status)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(statuses); i++)
		if (strcmp(status, statuses[i].status) == 0)
			return true;
	return false;
}

bool
ph_nicepay_pay_method_known(const char *pay_method)
{
	return ph_str_in(pay_method, pay_methods, PH_ARRAY_LEN(pay_methods));
}

/* ---- signature ---------------------------------------------------------- */

void
ph_nicepay_signature(const char *tid, const char *amount, const char *edi_date,
    const char *key, size_t keylen, char out[PH_SHA256_HEX_LEN + 1])
{
	char buf[3 * PH_NICEPAY_TEXT_MAX + PH_NICEPAY_KEY_MAX];
	size_t lt = strlen(tid), la = strlen(amount), le = strlen(edi_date);

	out[0] = '\0'; /* matches no signature */
	if (lt >= PH_NICEPAY_TEXT_MAX || la >= PH_NICEPAY_TEXT_MAX ||
	    le >= PH_NICEPAY_TEXT_MAX || keylen > PH_NICEPAY_KEY_MAX)
		return;
	memcpy(buf, tid, lt);
	memcpy(buf + lt, amount, la);
	memcpy(buf + lt + la, edi_date, le);
	memcpy(buf + lt + la + le, key, keylen);
	ph_sha256_hex(buf, lt + la + le + keylen, out);
	OPENSSL_cleanse(buf, sizeof buf);
}

/* The next key of a comma-separated list, blanks around it removed;
 * false at the end. *p moves past it. */
static bool
next_key(const char **p, const char **key, size_t *len)
{
	const char *s = *p, *end;

	if (*s == '\0')
		return false;
	end = s + strcspn(s, ",");
	*p = *end == ',' ? end + 1 : end;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*key = s;
	*len = (size_t)(end - s);
	return true;
}

enum ph_err
ph_nicepay_keys_check(const char *keys, char *err, size_t errlen)
{
	const char *p = keys, *key;
	size_t len, n = 0;

	if (keys == NULL || *keys == '\0')
		return ph_fail(err, errlen, PH_ECONFIG,
		    "nicepay_secret_key is not set: NicePay deliveries cannot be verified");
	while (next_key(&p, &key, &len)) {
		if (++n > PH_NICEPAY_MAX_KEYS)
			return ph_fail(err, errlen, PH_ECONFIG,
			    "nicepay_secret_key has more than %d keys", PH_NICEPAY_MAX_KEYS);
		if (len == 0)
			return ph_fail(err, errlen, PH_ECONFIG,
			    "nicepay_secret_key: key %zu is empty", n);
		if (len > PH_NICEPAY_KEY_MAX)
			return ph_fail(err, errlen, PH_ECONFIG,
			    "nicepay_secret_key: key %zu longer than %d bytes", n,
			    PH_NICEPAY_KEY_MAX);
	}
	return PH_OK;
}

bool
ph_nicepay_signature_matches(const char *tid, const char *amount, const char *edi_date,
    const char *keys, const char *signature)
{
	char want[PH_SHA256_HEX_LEN + 1], got[PH_SHA256_HEX_LEN + 1];
	const char *p = keys, *key;
	size_t len, glen, i, n;
	bool match = false;

	if (keys == NULL || signature == NULL)
		return false;
	/* Lower-case hex in every example; compare the lower-cased value. */
	glen = strlen(signature);
	if (glen != PH_SHA256_HEX_LEN)
		return false;
	for (i = 0; i < glen; i++)
		got[i] = signature[i] >= 'A' && signature[i] <= 'F' ?
		    (char)(signature[i] - 'A' + 'a') : signature[i];
	got[glen] = '\0';
	/* Every key is tried, so the time does not tell which one matched. */
	for (n = 0; n < PH_NICEPAY_MAX_KEYS && next_key(&p, &key, &len); n++) {
		if (len == 0)
			continue;
		ph_nicepay_signature(tid, amount, edi_date, key, len, want);
		if (want[0] != '\0' && ph_ct_equal(want, PH_SHA256_HEX_LEN, got, glen))
			match = true;
	}
	OPENSSL_cleanse(want, sizeof want);
	return match;
}

/* ---- date-times ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm), and back. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at s, or -1. Stops at the first non-digit, so it never
 * reads past the terminating NUL. */
static int64_t
digits(const char *s, int n)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

enum ph_nicepay_time
ph_nicepay_parse_time(const char *s, char *utc, size_t utclen)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t y, mo, d, h, mi, sec, usec = 0, off = 9 * 60, secs, days, sod;
	const char *p;
	int i;

	if (*s == '\0' || strcmp(s, "0") == 0)
		return PH_NICEPAY_TIME_UNSET;
	if ((y = digits(s, 4)) < 0 || s[4] != '-' || (mo = digits(s + 5, 2)) < 0 ||
	    s[7] != '-' || (d = digits(s + 8, 2)) < 0 || (s[10] != 'T' && s[10] != ' ') ||
	    (h = digits(s + 11, 2)) < 0 || s[13] != ':' || (mi = digits(s + 14, 2)) < 0 ||
	    s[16] != ':' || (sec = digits(s + 17, 2)) < 0)
		return PH_NICEPAY_TIME_BAD;
	p = s + 19;
	if (*p == '.') {
		p++;
		for (i = 0; i < 9 && *p >= '0' && *p <= '9'; i++, p++)
			if (i < 6)
				usec = usec * 10 + (*p - '0');
		if (i == 0 || (*p >= '0' && *p <= '9'))
			return PH_NICEPAY_TIME_BAD;
		for (; i < 6; i++)
			usec *= 10;
	}
	if (*p == 'Z') {
		off = 0;
		p++;
	} else if (*p == '+' || *p == '-') {
		int64_t oh = digits(p + 1, 2), om = 0;
		int64_t sign = *p == '-' ? -1 : 1;

		if (oh < 0)
			return PH_NICEPAY_TIME_BAD;
		p += 3;
		if (*p == ':')
			p++;
		if (*p >= '0' && *p <= '9') {
			if ((om = digits(p, 2)) < 0)
				return PH_NICEPAY_TIME_BAD;
			p += 2;
		} else if (p[-1] == ':') {
			return PH_NICEPAY_TIME_BAD;
		}
		if (oh > 15 || om > 59)
			return PH_NICEPAY_TIME_BAD;
		off = sign * (oh * 60 + om);
	}
	if (*p != '\0')
		return PH_NICEPAY_TIME_BAD;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || sec > 59)
		return PH_NICEPAY_TIME_BAD;

	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	civil_from_days(days, &y, &mo, &d);
	if (y < 1 || y > 9999 || utclen < PH_NICEPAY_UTC_LEN + 1)
		return PH_NICEPAY_TIME_BAD;
	snprintf(utc, utclen, "%04" PRId64 "%02" PRId64 "%02" PRId64 "T%02" PRId64
	    "%02" PRId64 "%02" PRId64 ".%06" PRId64, y, mo, d, sod / 3600, sod / 60 % 60,
	    sod % 60, usec);
	return PH_NICEPAY_TIME_OK;
}

/* ---- reading the body -------------------------------------------------------- */

/* A member, or NULL when absent or JSON null. Belongs to obj. */
static struct json_object *
member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* A member that is a string, else NULL (absent, null or another type). */
static const char *
string_member(struct json_object *obj, const char *key)
{
	struct json_object *v = member(obj, key);

	return v != NULL && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

/* An amount: a non-negative JSON integer, or a string of digits (the
 * signature hashes the digits either way). Writes the canonical digits
 * into buf (at least PH_NICEPAY_AMOUNT_DIGITS + 1 bytes). */
static enum ph_err
amount_value(struct json_object *v, const char *path, char *buf, size_t buflen,
    char *err, size_t errlen)
{
	static const uint64_t max = UINT64_C(999999999999999999);
	uint64_t n;

	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return ph_fail(err, errlen, PH_EBADREQ,
			    "field '%s' must be a non-negative integer", path);
		n = json_object_get_uint64(v);
	} else if (!json_object_is_type(v, json_type_string) ||
	    !ph_parse_u64(json_object_get_string(v), UINT64_MAX, &n)) {
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s' must be a non-negative integer", path);
	}
	if (n > max)
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' over %d digits", path,
		    PH_NICEPAY_AMOUNT_DIGITS);
	snprintf(buf, buflen, "%" PRIu64, n);
	return PH_OK;
}

static enum ph_err
required_amount(struct json_object *body, const char *key, char *buf, size_t buflen,
    char *err, size_t errlen)
{
	struct json_object *v = member(body, key);

	if (v == NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' is missing", key);
	return amount_value(v, key, buf, buflen, err, errlen);
}

/* What the signature covers, and the signature. */
struct signed_fields {
	const char *tid;
	char amount[PH_NICEPAY_AMOUNT_DIGITS + 1];
	const char *edi_date;
	const char *signature;   /* NULL: unsigned (absent or null) */
};

static enum ph_err
read_signed_fields(struct json_object *body, struct signed_fields *f,
    char *err, size_t errlen)
{
	enum ph_err e;

	memset(f, 0, sizeof *f);
	e = ph_json_required_text(body, "tid", PH_NICEPAY_TEXT_MAX, &f->tid, err, errlen);
	if (e == PH_OK)
		e = required_amount(body, "amount", f->amount, sizeof f->amount, err, errlen);
	if (e == PH_OK)
		e = ph_json_required_text(body, "ediDate", PH_NICEPAY_TEXT_MAX,
		    &f->edi_date, err, errlen);
	if (e == PH_OK)
		e = ph_json_string(body, "signature", PH_OPTIONAL, &f->signature, err, errlen);
	return e;
}

/* ---- the shape of a notification ------------------------------------------ */

enum field_kind {
	F_TEXT,     /* string, integer or null: text columns */
	F_AMOUNT,   /* non-negative integer, or a string of digits */
	F_COUNT,    /* instalment months: 0..999, integer or digits */
	F_BOOL,     /* true/false, 1/0, or a string saying so */
	F_TIME,     /* date-time string; "0", "" or 0 when unset */
	F_OBJECT,   /* object or null, checked by its own table */
	F_OBJECTS,  /* array of such objects, or null */
	F_ARRAY     /* array or null, kept in data only */
};

struct field {
	const char *name;
	enum field_kind kind;
	bool required;
	const struct shape *shape;   /* F_OBJECT, F_OBJECTS */
};

struct shape {
	const struct field *fields;
	size_t n;
};

/* Strings the store casts to boolean (payhook.nicepay_bool). */
static const char *const bool_words[] = {
	"true", "false", "t", "f", "yes", "no", "y", "n", "1", "0", "on", "off",
};

static const struct field coupon_fields[] = {
	{"couponAmt", F_AMOUNT, false, NULL},
};
static const struct field card_fields[] = {
	{"cardCode", F_TEXT, false, NULL},
	{"cardName", F_TEXT, false, NULL},
	{"cardNum", F_TEXT, false, NULL},
	{"cardQuota", F_COUNT, false, NULL},
	{"isInterestFree", F_BOOL, false, NULL},
	{"cardType", F_TEXT, false, NULL},
	{"canPartCancel", F_BOOL, false, NULL},
	{"acquCardCode", F_TEXT, false, NULL},
	{"acquCardName", F_TEXT, false, NULL},
};
static const struct field bank_fields[] = {
	{"bankCode", F_TEXT, false, NULL},
	{"bankName", F_TEXT, false, NULL},
};
static const struct field vbank_fields[] = {
	{"vbankCode", F_TEXT, false, NULL},
	{"vbankName", F_TEXT, false, NULL},
	{"vbankNumber", F_TEXT, false, NULL},
	{"vbankExpDate", F_TIME, false, NULL},
	{"vbankHolder", F_TEXT, false, NULL},
};
/* tid is the key of payhook.payment_cancels. */
static const struct field cancel_fields[] = {
	{"tid", F_TEXT, true, NULL},
	{"amount", F_AMOUNT, false, NULL},
	{"cancelledAt", F_TIME, false, NULL},
	{"reason", F_TEXT, false, NULL},
	{"receiptUrl", F_TEXT, false, NULL},
	{"couponAmt", F_AMOUNT, false, NULL},
};

#define SHAPE(f) {f, PH_ARRAY_LEN(f)}
static const struct shape coupon_shape = SHAPE(coupon_fields);
static const struct shape card_shape = SHAPE(card_fields);
static const struct shape bank_shape = SHAPE(bank_fields);
static const struct shape vbank_shape = SHAPE(vbank_fields);
static const struct shape cancel_shape = SHAPE(cancel_fields);

/* tid, amount, ediDate and signature are read by read_signed_fields,
 * status and payMethod by classify. */
static const struct field payment_fields[] = {
	{"resultCode", F_TEXT, false, NULL},
	{"resultMsg", F_TEXT, false, NULL},
	{"cancelledTid", F_TEXT, false, NULL},
	{"orderId", F_TEXT, false, NULL},
	{"paidAt", F_TIME, false, NULL},
	{"failedAt", F_TIME, false, NULL},
	{"cancelledAt", F_TIME, false, NULL},
	{"balanceAmt", F_AMOUNT, true, NULL},
	{"goodsName", F_TEXT, false, NULL},
	{"mallReserved", F_TEXT, false, NULL},
	{"useEscrow", F_BOOL, false, NULL},
	{"currency", F_TEXT, false, NULL},
	{"channel", F_TEXT, false, NULL},
	{"approveNo", F_TEXT, false, NULL},
	{"buyerName", F_TEXT, false, NULL},
	{"buyerTel", F_TEXT, false, NULL},
	{"buyerEmail", F_TEXT, false, NULL},
	{"issuedCashReceipt", F_BOOL, false, NULL},
	{"receiptUrl", F_TEXT, false, NULL},
	{"mallUserId", F_TEXT, false, NULL},
	{"coupon", F_OBJECT, false, &coupon_shape},
	{"card", F_OBJECT, false, &card_shape},
	{"bank", F_OBJECT, false, &bank_shape},
	{"vbank", F_OBJECT, false, &vbank_shape},
	{"cancels", F_OBJECTS, false, &cancel_shape},
	{"cashReceipts", F_ARRAY, false, NULL},
};
static const struct shape payment_shape = SHAPE(payment_fields);

#define PH_NICEPAY_PATH_MAX 96

static enum ph_err check_shape(struct json_object *obj, const struct shape *shape,
    const char *prefix, struct ph_delivery *d, char *err, size_t errlen);

static enum ph_err
check_bool(struct json_object *v, const char *path, char *err, size_t errlen)
{
	const char *s;
	size_t i;

	if (json_object_is_type(v, json_type_boolean))
		return PH_OK;
	if (json_object_is_type(v, json_type_int) &&
	    (json_object_get_int64(v) == 0 || json_object_get_int64(v) == 1))
		return PH_OK;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		for (i = 0; i < PH_ARRAY_LEN(bool_words); i++)
			if (strlen(s) == strlen(bool_words[i]) &&
			    ph_ascii_ieq(s, bool_words[i], strlen(s)))
				return PH_OK;
	}
	return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be a boolean", path);
}

static enum ph_err
check_time(struct json_object *v, const char *path, struct ph_delivery *d,
    char *err, size_t errlen)
{
	char utc[PH_NICEPAY_UTC_LEN + 1];
	char shown[48];
	const char *s;

	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0)
		return PH_OK;
	if (!json_object_is_type(v, json_type_string))
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be a date-time string",
		    path);
	s = json_object_get_string(v);
	if (ph_nicepay_parse_time(s, utc, sizeof utc) == PH_NICEPAY_TIME_BAD) {
		/* Kept in data; the column stays NULL (vbankExpDate has no
		 * documented example). */
		ph_sanitize(shown, sizeof shown, s, strlen(s));
		ph_delivery_warn(d, "field '%s' is not a date-time payhook reads ('%s'): "
		    "stored as NULL", path, shown);
	}
	return PH_OK;
}

static enum ph_err
check_field(struct json_object *v, const struct field *f, const char *path,
    struct ph_delivery *d, char *err, size_t errlen)
{
	char amount[PH_NICEPAY_AMOUNT_DIGITS + 1];
	uint64_t n;
	size_t i, len;

	switch (f->kind) {
	case F_TEXT:
		if (json_object_is_type(v, json_type_string) ||
		    json_object_is_type(v, json_type_int))
			return PH_OK;
		return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be a string", path);
	case F_AMOUNT:
		return amount_value(v, path, amount, sizeof amount, err, errlen);
	case F_COUNT:
		if ((json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
		    json_object_get_int64(v) <= 999) ||
		    (json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) <= 3 &&
		    ph_parse_u64(json_object_get_string(v), 999, &n)))
			return PH_OK;
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field '%s' must be an integer from 0 to 999", path);
	case F_BOOL:
		return check_bool(v, path, err, errlen);
	case F_TIME:
		return check_time(v, path, d, err, errlen);
	case F_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be an object",
			    path);
		return check_shape(v, f->shape, path, d, err, errlen);
	case F_OBJECTS:
	case F_ARRAY:
		if (!json_object_is_type(v, json_type_array))
			return ph_fail(err, errlen, PH_EBADREQ, "field '%s' must be an array",
			    path);
		if (f->kind == F_ARRAY)
			return PH_OK;
		/* The scanner bounds the length (PH_JSON_MAX_ARRAY). */
		len = json_object_array_length(v);
		for (i = 0; i < len; i++) {
			struct json_object *item = json_object_array_get_idx(v, i);
			char ipath[PH_NICEPAY_PATH_MAX + 24];
			enum ph_err e;

			snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
			if (item == NULL || !json_object_is_type(item, json_type_object))
				return ph_fail(err, errlen, PH_EBADREQ,
				    "field '%s' must be an object", ipath);
			e = check_shape(item, f->shape, ipath, d, err, errlen);
			if (e != PH_OK)
				return e;
		}
		return PH_OK;
	}
	return ph_fail(err, errlen, PH_EBADREQ, "field '%s': unknown kind", path);
}

/* Checks obj's members against a table; prefix is the object's path
 * ("" for the body). Unknown members are kept in data unchecked. */
static enum ph_err
check_shape(struct json_object *obj, const struct shape *shape, const char *prefix,
    struct ph_delivery *d, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < shape->n; i++) {
		const struct field *f = &shape->fields[i];
		struct json_object *v = member(obj, f->name);
		char path[PH_NICEPAY_PATH_MAX];
		enum ph_err e;

		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix != '\0' ? "." : "",
		    f->name);
		if (v == NULL) {
			if (f->required)
				return ph_fail(err, errlen, PH_EBADREQ, "field '%s' is missing", path);
			continue;
		}
		e = check_field(v, f, path, d, err, errlen);
		if (e != PH_OK)
			return e;
	}
	return PH_OK;
}

/* ---- the endpoint ------------------------------------------------------------- */

/* Why a body is a registration sample (DESIGN.md: an empty body, an
 * empty status or payMethod, a UTWEBHOOK tid), or NULL. The signature
 * does not matter: a sample is applied nowhere. */
static const char *
sample_reason(struct json_object *body)
{
	const char *s;

	if (body == NULL)
		return "registration sample: empty body";
	if ((s = string_member(body, "status")) != NULL && *s == '\0')
		return "registration sample: empty status";
	if ((s = string_member(body, "payMethod")) != NULL && *s == '\0')
		return "registration sample: empty payMethod";
	if ((s = string_member(body, "tid")) != NULL &&
	    strncmp(s, PH_NICEPAY_SAMPLE_PREFIX, strlen(PH_NICEPAY_SAMPLE_PREFIX)) == 0)
		return "registration sample: tid starts with " PH_NICEPAY_SAMPLE_PREFIX;
	return NULL;
}

/* Every notification is a payment snapshot; samples are "test". */
static enum ph_err
classify(struct ph_ctx *ctx, struct json_object *body, char *err, size_t errlen)
{
	const char *s;
	enum ph_err e;

	if (sample_reason(body) != NULL) {
		ph_strlcpy(ctx->d.event_type, "test", sizeof ctx->d.event_type);
		return PH_OK;
	}
	e = ph_json_required_text(body, "tid", PH_NICEPAY_TEXT_MAX, &s, err, errlen);
	if (e == PH_OK)
		e = ph_json_required_text(body, "status", PH_NICEPAY_TEXT_MAX,
		    &s, err, errlen);
	if (e == PH_OK)
		e = ph_json_required_text(body, "payMethod", PH_NICEPAY_TEXT_MAX,
		    &s, err, errlen);
	if (e != PH_OK)
		return e;
	ph_strlcpy(ctx->d.event_type, "payment", sizeof ctx->d.event_type);
	return PH_OK;
}

/* The keys must be configured before anything is accepted. */
static enum ph_err
check_keys(struct ph_ctx *ctx, char *err, size_t errlen)
{
	return ph_nicepay_keys_check(ph_config_get(ctx->cfg, PH_CONF_NICEPAY_SECRET_KEY),
	    err, errlen);
}

/* providers/nicepay.md §3.3. A sample passes whatever its signature
 * (signature_valid records what it was); an unsigned failed or expired
 * notice passes with signature_valid NULL (the store keeps it
 * unverified); any other missing or wrong signature is PH_EAUTH, which
 * payhook.nicepay_unauthenticated turns into "test" while a registration
 * window is open. */
static enum ph_err
verify(struct ph_ctx *ctx, struct json_object *body, char *err, size_t errlen)
{
	const char *keys = ph_config_get(ctx->cfg, PH_CONF_NICEPAY_SECRET_KEY);
	bool sample = strcmp(ctx->d.event_type, "test") == 0;
	struct signed_fields f;
	const char *status;
	enum ph_err e;

	if (body == NULL)
		return PH_OK;
	e = read_signed_fields(body, &f, err, errlen);
	if (e != PH_OK)
		return sample ? PH_OK : e;
	if (f.signature != NULL)
		ctx->d.signature_valid = ph_nicepay_signature_matches(f.tid, f.amount,
		    f.edi_date, keys, f.signature) ? PH_TRUE : PH_FALSE;
	if (sample || ctx->d.signature_valid == PH_TRUE)
		return PH_OK;
	if (f.signature == NULL) {
		status = string_member(body, "status");
		if (status != NULL && ph_str_in(status, unsigned_statuses,
		    PH_ARRAY_LEN(unsigned_statuses)))
			return PH_OK;
		return ph_fail(err, errlen, PH_EAUTH, "signature missing");
	}
	return ph_fail(err, errlen, PH_EAUTH, "signature does not match nicepay_secret_key");
}

static enum ph_err
keep_arg(struct ph_delivery *d, int i, const char *value, char *err, size_t errlen)
{
	d->arg[i] = ph_delivery_keep(d, value);
	if (d->arg[i] == NULL)
		return ph_fail(err, errlen, PH_EBADREQ, "fields too long");
	return PH_OK;
}

/* The order id as text: merchants choose it, and samples send a number. */
static enum ph_err
order_id(struct json_object *body, char *buf, size_t buflen, char *err, size_t errlen)
{
	struct json_object *v = member(body, "orderId");

	buf[0] = '\0';
	if (v == NULL)
		return PH_OK;
	if (json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 0)
		return PH_OK;
	return ph_json_text_id(body, "orderId", buf, buflen, err, errlen);
}

static void
warn_value(struct ph_delivery *d, const char *field, const char *value)
{
	char shown[64];

	ph_sanitize(shown, sizeof shown, value, strlen(value));
	ph_delivery_warn(d, "unknown %s '%s' stored as given", field, shown);
}

/* The version of DESIGN.md's NicePay rule as fixed-width text, so that a
 * plain (C collation) comparison orders snapshots: status rank, then the
 * longer cancels[], then the lower balanceAmt (stored as its complement),
 * then the later ediDate (in UTC), then the greater body SHA-256. */
static void
version_key(char *buf, size_t buflen, int rank, size_t ncancels, uint64_t balance,
    const char *edi_utc, const char *body_sha256)
{
	static const uint64_t max = UINT64_C(999999999999999999);

	snprintf(buf, buflen, "%d-%04zu-%018" PRIu64 "-%s-%s", rank, ncancels,
	    max - balance, edi_utc, body_sha256);
}

static enum ph_err
parse_payment(struct json_object *body, struct ph_delivery *d, char *err, size_t errlen)
{
	char balance[PH_NICEPAY_AMOUNT_DIGITS + 1], utc[PH_NICEPAY_UTC_LEN + 1];
	char order[PH_ID_MAX], version[160];
	struct signed_fields f;
	struct json_object *cancels;
	const char *status, *method;
	uint64_t bal = 0;
	enum ph_err e;

	e = read_signed_fields(body, &f, err, errlen);
	if (e == PH_OK)
		e = ph_json_required_text(body, "status", PH_NICEPAY_TEXT_MAX,
		    &status, err, errlen);
	if (e == PH_OK)
		e = ph_json_required_text(body, "payMethod", PH_NICEPAY_TEXT_MAX,
		    &method, err, errlen);
	if (e == PH_OK)
		e = check_shape(body, &payment_shape, "", d, err, errlen);
	if (e == PH_OK)
		e = required_amount(body, "balanceAmt", balance, sizeof balance, err, errlen);
	if (e == PH_OK)
		e = order_id(body, order, sizeof order, err, errlen);
	if (e != PH_OK)
		return e;
	if (ph_nicepay_parse_time(f.edi_date, utc, sizeof utc) != PH_NICEPAY_TIME_OK)
		return ph_fail(err, errlen, PH_EBADREQ, "field 'ediDate' is not a date-time");
	if (!ph_nicepay_status_known(status))
		warn_value(d, "status", status);
	if (!ph_nicepay_pay_method_known(method))
		warn_value(d, "payMethod", method);
	cancels = member(body, "cancels");
	ph_parse_u64(balance, UINT64_MAX, &bal);
	version_key(version, sizeof version, status_rank(status),
	    cancels != NULL ? json_object_array_length(cancels) : 0, bal, utc,
	    d->body_sha256);

	/* Strings of the body live as long as it, which outlives the store
	 * call; formatted ones go to the delivery's scratch space. */
	d->arg[0] = f.tid;
	d->arg[2] = status;
	d->arg[3] = method;
	d->arg[7] = f.edi_date;
	e = keep_arg(d, 1, version, err, errlen);
	if (e == PH_OK)
		e = keep_arg(d, 4, f.amount, err, errlen);
	if (e == PH_OK)
		e = keep_arg(d, 5, balance, err, errlen);
	if (e == PH_OK && order[0] != '\0')
		e = keep_arg(d, 6, order, err, errlen);
	return e;
}

static enum ph_err
parse_sample(struct json_object *body, struct ph_delivery *d, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	d->arg[0] = sample_reason(body);
	return PH_OK;
}

static const struct ph_event_desc events[] = {
	{"payment", parse_payment, &payment_action},
	{"test", parse_sample, &sample_action},
};

/* NicePay sends application/json;charset=utf-8; a sample may be empty. */
static const char *const content_types[] = {"application/json", NULL};

const struct ph_endpoint ph_nicepay_endpoint = {
	.provider = "nicepay",
	.policy = {
		.endpoint = "nicepay",
		.content_types = content_types,
		.allow_empty_body = true,
		.allow_key = PH_CONF_ALLOW_FROM_NICEPAY,
	},
	.authenticate = check_keys,
	.classify = classify,
	.verify = verify,
	.auth_failure_action = &unauthenticated_action,
	.events = events,
	.nevents = PH_ARRAY_LEN(events),
	.dedupe = true,
	.ordered = false,
	/* NicePay retries unless the answer is 200 with exactly "OK"; the
	 * manual asks for text/html. */
	.reply_type = "text/html;charset=utf-8",
	.ok_body = "OK",
};
