#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "json.h"
#include "steppay_v1.h"
#include "steppay_v2.h"
#include "util.h"

#define PH_STEPPAY_V2_TS_MAX 20   /* digits of the header's timestamp */
/* The last second PostgreSQL's to_char still writes with four digits
 * (9999-12-31T23:59:59Z): versions compare as text. */
#define PH_STEPPAY_V2_MAX_TIMESTAMP 253402300799LL
/* StepPay documents its timestamps only by example, in Unix seconds. A
 * value this large (year 5138 in seconds) can only be milliseconds. */
#define PH_STEPPAY_V2_MS_THRESHOLD  100000000000LL

/* Unix seconds from a StepPay timestamp in seconds or milliseconds. */
static long long
unix_seconds(long long t)
{
	return t >= PH_STEPPAY_V2_MS_THRESHOLD ? t / 1000 : t;
}

/* ---- signature ---------------------------------------------------------- */

/* HMAC-SHA256(key, ts "." body) in Base64, without copying the body into
 * one message buffer. out holds PH_STEPPAY_V2_SIG_LEN + 1 bytes. */
static bool
hmac_base64(const char *key, size_t keylen, const char *ts, const void *body,
    size_t body_len, char *out)
{
	static EVP_MAC *mac;
	static char digest[] = "SHA256";
	unsigned char md[32];
	size_t mdlen = 0;
	EVP_MAC_CTX *c;
	OSSL_PARAM params[2];
	bool ok;

	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return false;    /* fetched once per process, kept for its life */
	c = EVP_MAC_CTX_new(mac);
	if (c == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(c, (const unsigned char *)key, keylen, params) == 1 &&
	    EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(c, (const unsigned char *)".", 1) == 1 &&
	    EVP_MAC_update(c, body, body_len) == 1 &&
	    EVP_MAC_final(c, md, &mdlen, sizeof md) == 1 && mdlen == sizeof md;
	EVP_MAC_CTX_free(c);
	if (ok)
		EVP_EncodeBlock((unsigned char *)out, md, (int)sizeof md);
	OPENSSL_cleanse(md, sizeof md);
	return ok;
}

struct span {
	const char *p;
	size_t len;
};

/* Strips ASCII blanks from both ends. */
static struct span
trim(const char *p, size_t len)
{
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	return (struct span){p, len};
}

/* Splits "timestamp=T,key=S1;S2" into T and the key candidates, in either
 * order, ignoring parts it does not know. A header sent twice arrives
 * joined by ", ": a part repeated with another value is refused, so that
 * which copy counts never depends on the web server. */
static enum ph_err
parse_header(const char *header, char *ts, size_t tslen, struct span *keys,
    size_t *nkeys, char *err, size_t errlen)
{
	const char *part = header, *end;
	struct span keyfield = {NULL, 0};
	bool have_ts = false;

	*nkeys = 0;
	for (; part != NULL; part = *end == ',' ? end + 1 : NULL) {
		struct span s;

		end = part + strcspn(part, ",");
		s = trim(part, (size_t)(end - part));
		if (s.len > 10 && memcmp(s.p, "timestamp=", 10) == 0) {
			struct span t = trim(s.p + 10, s.len - 10);
			size_t i;

			if (t.len == 0 || t.len >= tslen || t.len > PH_STEPPAY_V2_TS_MAX)
				return ph_fail(err, errlen, PH_EAUTH,
				    "Steppay-Signature timestamp malformed");
			for (i = 0; i < t.len; i++)
				if (!isdigit((unsigned char)t.p[i]))
					return ph_fail(err, errlen, PH_EAUTH,
					    "Steppay-Signature timestamp malformed");
			if (have_ts && (strlen(ts) != t.len || memcmp(ts, t.p, t.len) != 0))
				return ph_fail(err, errlen, PH_EAUTH,
				    "Steppay-Signature repeated with conflicting timestamps");
			memcpy(ts, t.p, t.len);
			ts[t.len] = '\0';
			have_ts = true;
		} else if (s.len > 4 && memcmp(s.p, "key=", 4) == 0) {
			if (keyfield.p != NULL && (keyfield.len != s.len - 4 ||
			    memcmp(keyfield.p, s.p + 4, keyfield.len) != 0))
				return ph_fail(err, errlen, PH_EAUTH,
				    "Steppay-Signature repeated with conflicting keys");
			keyfield = (struct span){s.p + 4, s.len - 4};
		}
	}
	if (!have_ts)
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature has no timestamp");
	if (keyfield.p == NULL)
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature has no key");
	while (keyfield.len > 0) {
		const char *semi = memchr(keyfield.p, ';', keyfield.len);
		size_t n = semi != NULL ? (size_t)(semi - keyfield.p) : keyfield.len;
		struct span k = trim(keyfield.p, n);

		if (k.len == PH_STEPPAY_V2_SIG_LEN && *nkeys < PH_STEPPAY_V2_MAX_KEYS)
			keys[(*nkeys)++] = k;
		if (semi == NULL)
			break;
		keyfield.p = semi + 1;
		keyfield.len -= n + 1;
	}
	if (*nkeys == 0)
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature has no well-formed key");
	return PH_OK;
}

enum ph_err
ph_steppay_v2_verify(const char *header, const char *secrets, const void *body,
    size_t body_len, uint64_t *timestamp, char *err, size_t errlen)
{
	struct span keys[PH_STEPPAY_V2_MAX_KEYS];
	char ts[PH_STEPPAY_V2_TS_MAX + 1], want[PH_STEPPAY_V2_SIG_LEN + 1];
	const char *secret, *end;
	size_t nkeys, i, nsecrets = 0;
	bool match = false;
	enum ph_err e;

	if (secrets == NULL || *secrets == '\0')
		return ph_fail(err, errlen, PH_ECONFIG, "steppay_v2_secret is not set");
	if (header == NULL)
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature header missing");
	e = parse_header(header, ts, sizeof ts, keys, &nkeys, err, errlen);
	if (e != PH_OK)
		return e;

	/* Every secret against every key, without stopping at a match, so
	 * the time taken does not say which secret matched. */
	for (secret = secrets; secret != NULL; secret = *end == ',' ? end + 1 : NULL) {
		struct span s;

		end = secret + strcspn(secret, ",");
		s = trim(secret, (size_t)(end - secret));
		if (s.len == 0 || nsecrets++ >= PH_STEPPAY_V2_MAX_SECRETS)
			continue;
		if (!hmac_base64(s.p, s.len, ts, body, body_len, want))
			return ph_fail(err, errlen, PH_ECONFIG, "HMAC-SHA256 unavailable");
		for (i = 0; i < nkeys; i++)
			match |= ph_ct_equal(keys[i].p, keys[i].len, want, PH_STEPPAY_V2_SIG_LEN);
	}
	OPENSSL_cleanse(want, sizeof want);
	if (nsecrets == 0)
		return ph_fail(err, errlen, PH_ECONFIG, "steppay_v2_secret is not set");
	if (!match)
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature does not match");
	if (!ph_parse_u64(ts, UINT64_MAX, timestamp))
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature timestamp malformed");
	return PH_OK;
}

/* Authenticates a request: the HMAC over the raw body, before anything
 * parses it, then the optional age limit. The age is measured from when
 * the delivery was received, so that one replayed later from payhook's
 * own spool is not refused for the time it waited there. */
static enum ph_err
authenticate(struct ph_ctx *ctx, char *err, size_t errlen)
{
	uint64_t ts = 0;
	unsigned long max_age = ctx->cfg->steppay_v2_max_age;
	enum ph_err e;

	ctx->d.signature_valid = PH_FALSE;
	e = ph_steppay_v2_verify(ph_request_header(&ctx->req, "Steppay-Signature"),
	    ph_config_get(ctx->cfg, PH_CONF_STEPPAY_V2_SECRET), ctx->req.body,
	    ctx->req.body_len, &ts, err, errlen);
	if (e != PH_OK) {
		if (e == PH_ECONFIG)
			ctx->d.signature_valid = PH_NULL;
		return e;
	}
	if (ts > (uint64_t)PH_STEPPAY_V2_MAX_TIMESTAMP * 1000)
		return ph_fail(err, errlen, PH_EAUTH, "Steppay-Signature timestamp out of range");
	if (max_age > 0 && (uint64_t)ctx->d.received_unix > max_age &&
	    (uint64_t)unix_seconds((long long)ts) < (uint64_t)ctx->d.received_unix - max_age)
		return ph_fail(err, errlen, PH_EAUTH,
		    "Steppay-Signature timestamp older than steppay_v2_max_age (%lus)", max_age);
	ctx->d.signature_valid = PH_TRUE;
	return PH_OK;
}

/* ---- schemas -------------------------------------------------------------- */

/* Documented enum values. A value not listed is stored as given, with a
 * warning: StepPay adds values without notice, and a 400 would lose the
 * delivery. */
static const char *const order_types[] = {
	"RECURRING", "ONE_TIME", "PAYMENT_METHOD", "RECURRING_INITIAL", "ADD_USAGE", NULL,
};
static const char *const item_types[] = {
	"SKU", "TAX", "SHIPPING", "DISCOUNT", "OFFLINE", "FEE", "ADDS", "INSTANT", NULL,
};
static const char *const order_item_statuses[] = {
	"CREATED", "DEPOSIT_WAITING", "CANCELLED", "PAID", "CANCELLATION_REQUEST",
	"CANCELLATION_REQUEST_CANCELLED", "CANCELLATION_REQUEST_DENIED",
	"CANCELLATION_REFUNDING", "CANCELLATION_REFUNDED", "CANCELLATION_REFUNDED_PARTIALLY",
	"ORDER_DELIVERY_PREPARING", "ORDER_DELIVERY_SUSPENDED", "ORDER_DELIVERY_ON_THE_WAY",
	"ORDER_DELIVERY_COMPLETED", "EXCHANGE_REQUEST", "EXCHANGE_REQUEST_CANCELLED",
	"EXCHANGE_REQUEST_REJECTED", "EXCHANGE_COLLECTION_PREPARING",
	"EXCHANGE_COLLECTION_ON_THE_WAY", "EXCHANGE_COLLECTION_COMPLETED",
	"EXCHANGE_DELIVERY_PREPARING", "EXCHANGE_DELIVERY_ON_THE_WAY",
	"EXCHANGE_DELIVERY_COMPLETED", "EXCHANGE_REJECT_DELIVERY_PREPARING",
	"EXCHANGE_REJECT_DELIVERY_ON_THE_WAY", "EXCHANGE_REJECT_DELIVERY_COMPLETED",
	"EXCHANGE_PENDING", "EXCHANGE_REJECTED", "RETURN_REQUEST", "RETURN_REQUEST_CANCELLED",
	"RETURN_REQUEST_REJECTED", "RETURN_COLLECTION_PREPARING",
	"RETURN_COLLECTION_ON_THE_WAY", "RETURN_COLLECTION_COMPLETED",
	"RETURN_REJECT_DELIVERY_PREPARING", "RETURN_REJECT_DELIVERY_ON_THE_WAY",
	"RETURN_REJECT_DELIVERY_COMPLETED", "RETURN_PENDING", "RETURN_REJECTED",
	"RETURN_REFUNDING", "RETURN_REFUNDED", "RETURN_REFUNDED_PARTIALLY", "PAYMENT_FAILURE",
	"FINISHED_EXCHANGE_AVAILABLE", "FINISHED_RETURN_AVAILABLE", "FINISHED_SUCCESSFULLY",
	NULL,
};
static const char *const product_types[] = {
	"BOX", "SOFTWARE", "BUNDLE", "INVOICE", "DRAFT", NULL,
};
static const char *const intervals[] = {"DAY", "WEEK", "MONTH", "YEAR", NULL};
static const char *const price_types[] = {
	"ONE_TIME", "FLAT", "UNIT_BASED", "USAGE_BASED", "BUNDLE", "VOLUME_BASED", NULL,
};
static const char *const claim_methods[] = {"PRE", "POST", NULL};
static const char *const gateways[] = {
	"DANAL", "KAKAO", "KG", "NICE", "GOOGLE", "BANKPAY", "BLUEWALNUT", "KSNET", "TOSS",
	"EXIMBAY", "SETTLE", "NICE_V2", "STRIPE", "PAYPLE", "PAYPLE_GLOBAL", "UNKNOWN",
	"NAVER", "KCP", "JT", "DAOUDATA", "WELCOME", "KICC", NULL,
};
static const char *const usage_via[] = {"V1", "MANAGER", "SYSTEM", "CUSTOMER", NULL};
static const char *const invoice_statuses[] = {
	"TEMPORARY", "RESERVATION", "SENT", "PAID", "OVER_DUE", "SEND_FAIL", NULL,
};
static const char *const publish_types[] = {"NOW", "RESERVATION", NULL};
static const char *const payment_statuses[] = {
	"STANDBY", "COMPLETE", "CANCELED", "PARTIAL_CANCELED", "USER_CANCELED",
	"CANCELED_FAIL", "FAILED", "VIRTUAL_BANK_STANDBY", "CMS_STANDBY", NULL,
};
static const char *const payment_methods[] = {
	"CARD", "VBANK", "BANK", "CELLPHONE", "SIMPLE_PAY", "CMS", "CARD_BILL",
	"CELLPHONE_BILL", "CMS_BILL", NULL,
};
static const char *const product_statuses[] = {
	"SALE", "OUT_OF_STOCK", "UNSOLD", "WAITING_APPROVAL", "REJECTED", NULL,
};
static const char *const cover_messages[] = {"REMIND", "DATE_CHANGED", "PAUSED", NULL};

/* One enum-valued field: in data itself (within NULL), in a nested object
 * ("paymentMethod"), or in each element of an array ("items[]"). */
struct enum_field {
	const char *within;
	const char *field;
	const char *const *values;
};

/* How a schema's snapshot is checked and keyed. */
struct schema {
	const char *name;              /* "Order": in messages */
	const char *kind;              /* "order": the upsert it goes to */
	const char *key;               /* natural key in data */
	bool text_key;                 /* the key may be text (codes, merchant ids) */
	const char *alt_key;           /* Payment's idKey, else NULL */
	const char *modified_at;       /* "modifiedAt" where the schema has it */
	const char *items;             /* child array whose elements need ids */
	const char *item_key;
	struct enum_field enums[8];    /* ended by a row with field NULL */
};

/* Arguments of payhook.steppay_v2_event, in this order. */
enum {
	A_KIND,
	A_KEY,
	A_ALT_KEY,
	A_MODIFIED_AT,
	A_TIMESTAMP,
	A_TIMEZONE,
	A__COUNT
};

/* Every event goes to one server-side function (sql/003_steppay_v2.sql),
 * which applies the version rule once for all kinds. */
static const struct ph_store_action event_action = {"payhook.steppay_v2_event", A__COUNT};

static const struct schema order_schema = {
	"Order", "order", "id", false, NULL, "modifiedAt", "items", "id",
	{{NULL, "type", order_types}, {"items[]", "type", item_types},
	 {"items[]", "status", order_item_statuses}, {"items[]", "productType", product_types}},
};
static const struct schema subscription_schema = {
	"Subscription", "subscription", "subscriptionId", false, NULL, NULL,
	"items", "subscriptionItemId",
	/* NULL values: the statuses v1 knows (ph_steppay_subscription_status_known) */
	{{NULL, "status", NULL}, {NULL, "intervalUnit", intervals},
	 {"items[]", "type", item_types}, {"items[]", "priceType", price_types},
	 {"items[]", "claimMethodType", claim_methods},
	 {"paymentMethod", "paymentGateway", gateways}},
};
static const struct schema usage_schema = {
	"Usage", "usage", "id", false, NULL, NULL, NULL, NULL,
	{{"recordQuotas[]", "via", usage_via}},
};
static const struct schema invoice_schema = {
	"Invoice", "invoice", "id", false, NULL, NULL, NULL, NULL,
	{{NULL, "status", invoice_statuses}, {NULL, "publishType", publish_types}},
};
static const struct schema payment_schema = {
	"Payment", "payment", "paymentId", false, "idKey", NULL, NULL, NULL,
	{{NULL, "status", payment_statuses}, {NULL, "paymentGateway", gateways},
	 {NULL, "paymentMethod", payment_methods}},
};
static const struct schema customer_schema = {
	"Customer", "customer", "id", false, NULL, NULL, NULL, NULL, {{NULL, NULL, NULL}},
};
static const struct schema product_schema = {
	"Product", "product", "code", true, NULL, "modifiedAt", NULL, NULL,
	{{NULL, "type", product_types}, {NULL, "status", product_statuses},
	 {NULL, "demoPeriodUnit", intervals}},
};
static const struct schema price_schema = {
	"Price", "price", "priceCode", true, NULL, "modifiedAt", NULL, NULL,
	{{NULL, "type", price_types}, {NULL, "membershipExpirationDateType", intervals}},
};
static const struct schema cover_schema = {
	"Cover", "cover", "id", true, NULL, NULL, NULL, NULL,
	{{NULL, "messageType", cover_messages}},
};

bool
ph_steppay_local_time_valid(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
	size_t i, frac;

	for (i = 0; pattern[i] != '\0'; i++) {
		if (pattern[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pattern[i])
			return false;
	}
	if (s[i] == '\0')
		return true;
	if (s[i++] != '.')
		return false;
	for (frac = 0; isdigit((unsigned char)s[i]); i++)
		frac++;
	return s[i] == '\0' && frac >= 1 && frac <= 6;
}

static void
check_enum_value(struct ph_delivery *d, const struct schema *sc, const struct enum_field *f,
    struct json_object *obj)
{
	struct json_object *v;
	const char *s;
	bool known;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, f->field, &v) || v == NULL)
		return;
	if (!json_object_is_type(v, json_type_string)) {
		ph_delivery_warn(d, "%s.%s is not a string; stored as given", sc->name, f->field);
		return;
	}
	s = json_object_get_string(v);
	known = f->values != NULL ? ph_str_in(s, f->values, SIZE_MAX) :
	    ph_steppay_subscription_status_known(s);
	if (!known)
		ph_delivery_warn(d, "unknown %s.%s '%s' stored as given", sc->name, f->field, s);
}

/* Warns about every enum value the notes do not list. */
static void
check_enums(struct ph_delivery *d, const struct schema *sc, struct json_object *data)
{
	const struct enum_field *f;

	for (f = sc->enums; f < sc->enums + PH_ARRAY_LEN(sc->enums) && f->field != NULL; f++) {
		struct json_object *within = data;
		char name[64];
		size_t len, i, n;

		if (f->within == NULL) {
			check_enum_value(d, sc, f, data);
			continue;
		}
		len = strcspn(f->within, "[");
		if (len >= sizeof name)
			continue;
		memcpy(name, f->within, len);
		name[len] = '\0';
		if (!json_object_object_get_ex(data, name, &within) || within == NULL)
			continue;
		if (f->within[len] != '[') {
			check_enum_value(d, sc, f, within);
			continue;
		}
		if (!json_object_is_type(within, json_type_array))
			continue;
		n = json_object_array_length(within);
		for (i = 0; i < n; i++)
			check_enum_value(d, sc, f, json_object_array_get_idx(within, i));
	}
}

/* Each element of the child array must be an object with its id: the id
 * is the child row's key. */
static enum ph_err
check_items(const struct schema *sc, struct json_object *data, char *err, size_t errlen)
{
	struct json_object *items;
	char id[PH_ID_MAX];
	size_t i, n;

	if (sc->items == NULL || !json_object_object_get_ex(data, sc->items, &items) ||
	    items == NULL)
		return PH_OK;
	if (!json_object_is_type(items, json_type_array))
		return ph_fail(err, errlen, PH_EBADREQ, "data.%s must be an array", sc->items);
	n = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(items, i);
		char inner[PH_ERRLEN];

		if (!json_object_is_type(item, json_type_object))
			return ph_fail(err, errlen, PH_EBADREQ, "data.%s[%zu] must be an object",
			    sc->items, i);
		if (ph_json_integer_id(item, sc->item_key, id, sizeof id, inner,
		    sizeof inner) != PH_OK)
			return ph_fail(err, errlen, PH_EBADREQ, "data.%s[%zu]: %s", sc->items, i,
			    inner);
	}
	return PH_OK;
}

/* Checks the envelope and the snapshot's keys, and fills the action's
 * arguments. Only what payhook needs is required: the object's key, the
 * envelope timestamp (the version where the object has no modifiedAt) and
 * the child ids; every other field is optional, as StepPay's own examples
 * omit fields documented as non-null. */
static enum ph_err
parse_snapshot(const struct schema *sc, struct json_object *body, struct ph_delivery *d,
    char *err, size_t errlen)
{
	struct json_object *data, *ts, *v;
	char key[PH_ID_MAX], alt[PH_ID_MAX], inner[PH_ERRLEN], tsbuf[24];
	const char *modified = NULL;
	enum ph_err e;
	int64_t t;

	if (!json_object_object_get_ex(body, "timestamp", &ts) ||
	    !json_object_is_type(ts, json_type_int) || (t = json_object_get_int64(ts)) < 0 ||
	    unix_seconds(t) > PH_STEPPAY_V2_MAX_TIMESTAMP)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "field 'timestamp' missing or not Unix seconds (or milliseconds)");
	if (t >= PH_STEPPAY_V2_MS_THRESHOLD)
		snprintf(tsbuf, sizeof tsbuf, "%lld.%03lld", (long long)t / 1000,
		    (long long)t % 1000);
	else
		snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)t);
	if (!json_object_object_get_ex(body, "data", &data) ||
	    !json_object_is_type(data, json_type_object))
		return ph_fail(err, errlen, PH_EBADREQ, "field 'data' missing or not an object");

	e = sc->text_key ?
	    ph_json_text_id(data, sc->key, key, sizeof key, inner, sizeof inner) :
	    ph_json_integer_id(data, sc->key, key, sizeof key, inner, sizeof inner);
	if (e != PH_OK)
		return ph_fail(err, errlen, e, "data: %s", inner);
	alt[0] = '\0';
	if (sc->alt_key != NULL && json_object_object_get_ex(data, sc->alt_key, &v) &&
	    v != NULL && ph_json_text_id(data, sc->alt_key, alt, sizeof alt, inner,
	    sizeof inner) != PH_OK)
		return ph_fail(err, errlen, PH_EBADREQ, "data: %s", inner);
	if (sc->modified_at != NULL) {
		e = ph_json_string(data, sc->modified_at, PH_OPTIONAL, &modified, inner,
		    sizeof inner);
		if (e != PH_OK)
			return ph_fail(err, errlen, e, "data: %s", inner);
		if (modified != NULL && !ph_steppay_local_time_valid(modified))
			return ph_fail(err, errlen, PH_EBADREQ,
			    "data.%s is not a date-time (YYYY-MM-DDTHH:MM:SS[.ffffff])",
			    sc->modified_at);
	}
	e = check_items(sc, data, err, errlen);
	if (e != PH_OK)
		return e;
	check_enums(d, sc, data);

	d->arg[A_KIND] = sc->kind;
	d->arg[A_KEY] = ph_delivery_keep(d, key);
	d->arg[A_ALT_KEY] = alt[0] != '\0' ? ph_delivery_keep(d, alt) : NULL;
	d->arg[A_MODIFIED_AT] = modified != NULL ? ph_delivery_keep(d, modified) : NULL;
	d->arg[A_TIMESTAMP] = ph_delivery_keep(d, tsbuf);
	d->arg[A_TIMEZONE] = d->timezone != NULL ? d->timezone : "UTC";
	if (d->arg[A_KEY] == NULL || d->arg[A_TIMESTAMP] == NULL ||
	    (alt[0] != '\0' && d->arg[A_ALT_KEY] == NULL) ||
	    (modified != NULL && d->arg[A_MODIFIED_AT] == NULL))
		return ph_fail(err, errlen, PH_EBADREQ, "fields too long");
	return PH_OK;
}

/* The event table's parsers: one per schema. */
#define SNAPSHOT_PARSER(name)                                                  \
	static enum ph_err                                                     \
	parse_##name(struct json_object *body, struct ph_delivery *d, char *err, \
	    size_t errlen)                                                     \
	{                                                                      \
		return parse_snapshot(&name##_schema, body, d, err, errlen);   \
	}
SNAPSHOT_PARSER(order)
SNAPSHOT_PARSER(subscription)
SNAPSHOT_PARSER(usage)
SNAPSHOT_PARSER(invoice)
SNAPSHOT_PARSER(payment)
SNAPSHOT_PARSER(customer)
SNAPSHOT_PARSER(product)
SNAPSHOT_PARSER(price)
SNAPSHOT_PARSER(cover)

/* The 27 documented event types. Any other is stored as `unhandled`. */
static const struct ph_event_desc events[] = {
	{"order.created", parse_order, &event_action},
	{"order.updated", parse_order, &event_action},
	{"order.payment_completed", parse_order, &event_action},
	{"subscription.created", parse_subscription, &event_action},
	{"subscription.updated", parse_subscription, &event_action},
	{"subscription.payment_due_notification", parse_subscription,
	 &event_action},
	{"subscription.usage.added", parse_usage, &event_action},
	{"invoice.created", parse_invoice, &event_action},
	{"invoice.updated", parse_invoice, &event_action},
	{"invoice.deleted", parse_invoice, &event_action},
	{"payment.completed", parse_payment, &event_action},
	{"payment.failed", parse_payment, &event_action},
	{"payment.canceled", parse_payment, &event_action},
	{"payment.standby", parse_payment, &event_action},
	{"customer.created", parse_customer, &event_action},
	{"customer.updated", parse_customer, &event_action},
	{"customer.deleted", parse_customer, &event_action},
	{"product.created", parse_product, &event_action},
	{"product.updated", parse_product, &event_action},
	{"product.deleted", parse_product, &event_action},
	{"product.price.created", parse_price, &event_action},
	{"product.price.updated", parse_price, &event_action},
	{"product.price.deleted", parse_price, &event_action},
	{"cover.sent_message", parse_cover, &event_action},
	{"cover.delayed_message", parse_cover, &event_action},
	{"cover.changed_payment_date", parse_cover, &event_action},
	{"cover.paused", parse_cover, &event_action},
};

/* The envelope names the event. */
static enum ph_err
classify(struct ph_ctx *ctx, struct json_object *body, char *err, size_t errlen)
{
	const char *event = NULL;
	enum ph_err e;

	e = ph_json_string(body, "event", PH_REQUIRED, &event, err, errlen);
	if (e != PH_OK)
		return e;
	if (*event == '\0' || strlen(event) >= sizeof ctx->d.event_type)
		return ph_fail(err, errlen, PH_EBADREQ, "field 'event' empty or longer than %zu bytes",
		    sizeof ctx->d.event_type - 1);
	ph_strlcpy(ctx->d.event_type, event, sizeof ctx->d.event_type);
	return PH_OK;
}

static const char *const content_types[] = {"application/json", NULL};
static const char *const verified_headers[] = {"Steppay-Signature", NULL};

const struct ph_endpoint ph_steppay_v2_endpoint = {
	.provider = "steppay",
	.policy = {
		.endpoint = "steppay-v2",
		.content_types = content_types,
		.allow_empty_body = false,
		.allow_key = PH_CONF_ALLOW_FROM_STEPPAY_V2,
	},
	.authenticate = authenticate,
	.classify = classify,
	.events = events,
	.nevents = PH_ARRAY_LEN(events),
	.dedupe = true,
	.ordered = false,
	.reply_type = "text/plain; charset=utf-8",
	.ok_body = NULL,
	.verified_headers = verified_headers,
};
