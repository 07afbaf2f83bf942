#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "nicepay.h"
#include "tap.h"

/* providers/nicepay.md §3.2. */
#define KEY_A "9eb85607103646da9f9c02b128f2e5ee"
#define KEY_B "4f13ca267dfa4fc6964148bedcda15ef"
#define TID_C "UT0000113m01012506101030041001"
#define EDI_C "2025-06-10T10:30:05.512+0900"
#define SIG_C "d7e7324f3ec4f39f86aba99f52bbee092727ddd79992a9b77a2cad87529b01f4"

/* Our own test key and values, not the notes' examples. */
#define KEY "unit-test-key-7f3a"

static struct ph_ctx ctx;

static const char *
sign(const char *tid, const char *amount, const char *edi, const char *key)
{
	static char out[PH_SHA256_HEX_LEN + 1];

	ph_nicepay_signature(tid, amount, edi, key, strlen(key), out);
	return out;
}

/* Runs a body through classify, verify and the event's parser as the
 * handler does. Returns the first error; the delivery is left in ctx.d
 * and the reason in err. The parsed body is kept until the next run,
 * since the delivery's arguments point into it. */
static char err[PH_ERRLEN];
static struct json_object *last_body;

static enum ph_err
run(const char *body)
{
	const struct ph_endpoint *ep = &ph_nicepay_endpoint;
	const struct ph_event_desc *desc;
	struct json_object *o = NULL;
	enum ph_err e = PH_OK;
	size_t len = body != NULL ? strlen(body) : 0;

	json_object_put(last_body);
	last_body = NULL;
	ph_delivery_reset(&ctx.d);
	err[0] = '\0';
	ph_sha256_hex(body != NULL ? body : "", len, ctx.d.body_sha256);
	if (len > 0)
		e = ph_json_parse(body, len, &o, err, sizeof err);
	if (e == PH_OK)
		e = ep->classify(&ctx, o, err, sizeof err);
	if (e == PH_OK)
		e = ep->verify(&ctx, o, err, sizeof err);
	if (e == PH_OK) {
		desc = ph_event_desc_find(ep->events, ep->nevents, ctx.d.event_type);
		e = desc == NULL ? PH_EBADREQ : desc->parse(o, &ctx.d, err, sizeof err);
		if (e == PH_OK)
			ctx.d.action = desc->action;
	}
	last_body = o;
	return e;
}

/* A signed card payment, with fields to vary. amount is JSON text. */
static const char *
payment(const char *status, const char *amount, const char *balance, const char *edi,
    const char *extra)
{
	static char buf[2048];
	char digits[32];
	size_t i, n = 0;

	for (i = 0; amount[i] != '\0' && n + 1 < sizeof digits; i++)
		if (amount[i] != '"')
			digits[n++] = amount[i];
	digits[n] = '\0';
	snprintf(buf, sizeof buf,
	    "{\"tid\":\"T-unit-0001\",\"orderId\":\"order-unit-1\",\"ediDate\":\"%s\","
	    "\"signature\":\"%s\",\"status\":\"%s\",\"payMethod\":\"card\","
	    "\"amount\":%s,\"balanceAmt\":%s,\"paidAt\":\"0\",\"failedAt\":0,"
	    "\"cancelledAt\":\"0\"%s}", edi, sign("T-unit-0001", digits, edi, KEY),
	    status, amount, balance, extra);
	return buf;
}

#define EDI "2026-03-02T09:15:00.250+0900"

static char version_buf[8][200];

static const char *
version_of(int slot, const char *body)
{
	if (run(body) != PH_OK || ctx.d.arg[1] == NULL)
		return "(error)";
	snprintf(version_buf[slot], sizeof version_buf[slot], "%s", ctx.d.arg[1]);
	return version_buf[slot];
}

static void
test_signature(void)
{
	char out[PH_SHA256_HEX_LEN + 1], buf[256];

	ph_nicepay_signature("UT0000113m01012111051714341073", "1004",
	    "2021-11-05T17:14:35.150+0900", KEY_A, strlen(KEY_A), out);
	is_str(out, "63b251b31c909eebef1a9f4fcc19e77bdcb8f64fc1066a29670f8627186865cd",
	    "vector A");
	ph_nicepay_signature("UT0000113m01012110051656331001", "1004",
	    "2021-10-05T16:56:34.447+0900", KEY_B, strlen(KEY_B), out);
	is_str(out, "28c2e8bae912847541d4885db17648f963c7cc8e8249ff010097d6f1395df993",
	    "vector B");
	ph_nicepay_signature(TID_C, "15000", EDI_C, KEY_A, strlen(KEY_A), out);
	is_str(out, SIG_C, "vector C");
	ok(ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_A, SIG_C),
	    "vector C verifies");

	/* The four negative vectors: each change gives the documented other
	 * hash, and C's signature does not verify it. */
	ph_nicepay_signature(TID_C, "15001", EDI_C, KEY_A, strlen(KEY_A), out);
	is_str(out, "c0b8a28966b52e9d6f93bf9dfa84ce8a025991458f5a6bc853003e8291398876",
	    "negative: amount 15001");
	ok(!ph_nicepay_signature_matches(TID_C, "15001", EDI_C, KEY_A, SIG_C),
	    "negative: amount 15001 rejected");
	ph_nicepay_signature(TID_C, "15000", "2025-06-10T10:30:05.512+09:00", KEY_A,
	    strlen(KEY_A), out);
	is_str(out, "f801656c93e52529c8ce846e0994be1e4ef6e3bfec8001daf7b2014bcdeb9142",
	    "negative: ediDate re-formatted");
	ok(!ph_nicepay_signature_matches(TID_C, "15000", "2025-06-10T10:30:05.512+09:00",
	    KEY_A, SIG_C), "negative: ediDate re-formatted rejected");
	ph_nicepay_signature(TID_C, "15000.0", EDI_C, KEY_A, strlen(KEY_A), out);
	is_str(out, "f1ee1c6c843b79e87702f765e8dcd9d4370d934f220c4d29d10039cc7aeba2d9",
	    "negative: amount rendered 15000.0");
	ok(!ph_nicepay_signature_matches(TID_C, "15000.0", EDI_C, KEY_A, SIG_C),
	    "negative: amount 15000.0 rejected");
	snprintf(buf, sizeof buf, "%s%s%s%s", KEY_A, TID_C, "15000", EDI_C);
	ph_sha256_hex(buf, strlen(buf), out);
	is_str(out, "647f45923b58758471a436dd475286d6f2e28e58e88855b2735008a8247f24d8",
	    "negative: secret placed first");
	ok(!ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_A, out),
	    "negative: secret placed first rejected");

	ok(!ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_B, SIG_C),
	    "another key does not verify C");
	ok(ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_B " , " KEY_A, SIG_C),
	    "any key of the list verifies (blanks around keys ignored)");
	ok(ph_nicepay_signature_matches(TID_C, "15000", EDI_C, "k1,k2,k3,k4," KEY_A, SIG_C),
	    "the fifth key is tried");
	ok(!ph_nicepay_signature_matches(TID_C, "15000", EDI_C, "k1,k2,k3,k4,k5," KEY_A, SIG_C),
	    "a sixth key is not");
	ok(ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_A,
	    "D7E7324F3EC4F39F86ABA99F52BBEE092727DDD79992A9B77A2CAD87529B01F4"),
	    "upper-case signature accepted");
	ok(!ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_A, ""),
	    "empty signature rejected");
	ok(!ph_nicepay_signature_matches(TID_C, "15000", EDI_C, KEY_A,
	    SIG_C "00"), "longer signature rejected");

	is_int(ph_nicepay_keys_check(KEY_A, err, sizeof err), PH_OK, "one key");
	is_int(ph_nicepay_keys_check("a,b,c,d,e", err, sizeof err), PH_OK, "five keys");
	is_int(ph_nicepay_keys_check("a,b,c,d,e,f", err, sizeof err), PH_ECONFIG, "six keys refused");
	is_int(ph_nicepay_keys_check("a,,b", err, sizeof err), PH_ECONFIG, "an empty key refused");
	is_int(ph_nicepay_keys_check(NULL, err, sizeof err), PH_ECONFIG, "no key: 503");
	ok(strstr(err, "not set") != NULL, "and says so");
}

static void
test_time(void)
{
	char utc[PH_NICEPAY_UTC_LEN + 1];

	is_int(ph_nicepay_parse_time("2026-03-02T09:15:00.250+0900", utc, sizeof utc),
	    PH_NICEPAY_TIME_OK, "+0900 read");
	is_str(utc, "20260302T001500.250000", "+0900 converted to UTC");
	is_int(ph_nicepay_parse_time("2026-03-02T09:15:00.250+09:00", utc, sizeof utc),
	    PH_NICEPAY_TIME_OK, "+09:00 read");
	is_str(utc, "20260302T001500.250000", "+09:00 the same instant");
	ph_nicepay_parse_time("2026-03-02T00:15:00.25Z", utc, sizeof utc);
	is_str(utc, "20260302T001500.250000", "Z");
	ph_nicepay_parse_time("2026-03-02 09:15:00", utc, sizeof utc);
	is_str(utc, "20260302T001500.000000", "no offset: Korean time");
	ph_nicepay_parse_time("2026-01-01T03:00:00.123456789+09", utc, sizeof utc);
	is_str(utc, "20251231T180000.123456", "crosses the year back; fraction cut to µs");
	ph_nicepay_parse_time("2024-02-29T23:30:00-0130", utc, sizeof utc);
	is_str(utc, "20240301T010000.000000", "negative offset, leap day forward");
	is_int(ph_nicepay_parse_time("0", utc, sizeof utc), PH_NICEPAY_TIME_UNSET, "\"0\" is unset");
	is_int(ph_nicepay_parse_time("", utc, sizeof utc), PH_NICEPAY_TIME_UNSET, "\"\" is unset");
	is_int(ph_nicepay_parse_time("2023-02-29T00:00:00+0900", utc, sizeof utc),
	    PH_NICEPAY_TIME_BAD, "no 29 February in 2023");
	is_int(ph_nicepay_parse_time("2026-13-01T00:00:00+0900", utc, sizeof utc),
	    PH_NICEPAY_TIME_BAD, "month 13");
	is_int(ph_nicepay_parse_time("2026-03-02", utc, sizeof utc), PH_NICEPAY_TIME_BAD,
	    "date only");
	is_int(ph_nicepay_parse_time("2026-03-02T09:15:00.+0900", utc, sizeof utc),
	    PH_NICEPAY_TIME_BAD, "empty fraction");
	is_int(ph_nicepay_parse_time("2026-03-02T09:15:00+09:", utc, sizeof utc),
	    PH_NICEPAY_TIME_BAD, "broken offset");
	is_int(ph_nicepay_parse_time("2026-03-02T09:15:00+0900x", utc, sizeof utc),
	    PH_NICEPAY_TIME_BAD, "trailing text");
	is_int(ph_nicepay_parse_time("20260302091500", utc, sizeof utc), PH_NICEPAY_TIME_BAD,
	    "compact form");
}

static void
test_parse(void)
{
	const char *v1, *v2;

	is_int(run(payment("paid", "15000", "15000", EDI, "")), PH_OK, "signed payment parsed");
	is_str(ctx.d.event_type, "payment", "classified as payment");
	is_int(ctx.d.signature_valid, PH_TRUE, "signature valid");
	is_str(ctx.d.action->function, "payhook.nicepay_payment", "payment action");
	is_str(ctx.d.arg[0], "T-unit-0001", "arg tid");
	is_str(ctx.d.arg[2], "paid", "arg status");
	is_str(ctx.d.arg[3], "card", "arg payMethod");
	is_str(ctx.d.arg[4], "15000", "arg amount");
	is_str(ctx.d.arg[5], "15000", "arg balance");
	is_str(ctx.d.arg[6], "order-unit-1", "arg orderId");
	is_str(ctx.d.arg[7], EDI, "arg ediDate as received");
	is_str(ctx.d.warnings, "", "no warnings");

	/* Loose types. */
	is_int(run(payment("paid", "\"15000\"", "\"15000\"", EDI, "")), PH_OK,
	    "amount as a digit string");
	is_str(ctx.d.arg[4], "15000", "same amount");
	is_int(ctx.d.signature_valid, PH_TRUE, "signed over the same digits");
	is_int(run(payment("paid", "15000.0", "15000", EDI, "")), PH_EBADREQ,
	    "fractional amount refused");
	ok(strstr(err, "'amount'") != NULL, "400 names amount");
	is_int(run(payment("paid", "\"-15000\"", "15000", EDI, "")), PH_EBADREQ,
	    "negative amount refused");
	is_int(run(payment("paid", "15000", "-1", EDI, "")), PH_EBADREQ,
	    "negative balanceAmt refused");
	is_int(run(payment("paid", "15000", "15000", EDI,
	    ",\"card\":{\"cardQuota\":\"3\",\"canPartCancel\":\"true\",\"isInterestFree\":0}")),
	    PH_OK, "card fields as strings and numbers");
	is_int(run(payment("paid", "15000", "15000", EDI,
	    ",\"card\":{\"cardQuota\":3,\"canPartCancel\":true,\"isInterestFree\":\"N\"}")),
	    PH_OK, "card fields as numbers and booleans");
	is_int(run(payment("paid", "15000", "15000", EDI, ",\"card\":{\"cardQuota\":1.5}")),
	    PH_EBADREQ, "fractional cardQuota refused");
	is_str(err, "field 'card.cardQuota' must be an integer from 0 to 999",
	    "400 names card.cardQuota");
	is_int(run(payment("paid", "15000", "15000", EDI, ",\"card\":{\"canPartCancel\":\"maybe\"}")),
	    PH_EBADREQ, "unreadable boolean refused");
	is_int(run(payment("paid", "15000", "15000", EDI, ",\"card\":\"x\"")), PH_EBADREQ,
	    "card not an object refused");
	is_int(run(payment("paid", "15000", "15000", EDI, ",\"cancels\":{}")), PH_EBADREQ,
	    "cancels not an array refused");
	is_int(run(payment("cancelled", "15000", "0", EDI, ",\"cancels\":[{\"amount\":1}]")),
	    PH_EBADREQ, "cancel without tid refused");
	is_str(err, "field 'cancels[0].tid' is missing", "400 names cancels[0].tid");
	is_int(run(payment("paid", "15000", "15000", EDI, ",\"goodsName\":[1]")), PH_EBADREQ,
	    "goodsName as an array refused");
	is_int(run(payment("paid", "15000", "15000", EDI,
	    ",\"vbank\":{\"vbankExpDate\":\"2026-03-09\"}")), PH_OK,
	    "unreadable vbankExpDate accepted");
	ok(strstr(ctx.d.warnings, "vbank.vbankExpDate") != NULL, "and flagged");
	is_int(run(payment("paid", "15000", "15000", "2026-03-02", "")), PH_EBADREQ,
	    "unreadable ediDate refused");
	is_int(run(payment("refunded", "15000", "0", EDI, "")), PH_OK, "unknown status kept");
	is_str(ctx.d.warnings, "unknown status 'refunded' stored as given", "and flagged");
	is_int(run("{\"tid\":\"T-unit-0002\",\"status\":\"paid\",\"payMethod\":\"card\"}"),
	    PH_EBADREQ, "missing amount refused");
	is_int(run("{\"status\":\"paid\",\"payMethod\":\"card\",\"amount\":1}"), PH_EBADREQ,
	    "missing tid refused");
	is_str(err, "field 'tid' is missing", "400 names tid");
	is_int(run(payment("paid", "15000", "15000", EDI, ",\"orderId\":77120")), PH_OK,
	    "numeric orderId");

	/* Signature decisions. */
	is_int(run("{\"tid\":\"T-unit-0003\",\"status\":\"paid\",\"payMethod\":\"card\","
	    "\"amount\":1000,\"balanceAmt\":1000,\"ediDate\":\"" EDI "\","
	    "\"signature\":\"00\"}"), PH_EAUTH, "wrong signature: 401");
	is_int(ctx.d.signature_valid, PH_FALSE, "recorded as invalid");
	is_int(run("{\"tid\":\"T-unit-0003\",\"status\":\"paid\",\"payMethod\":\"card\","
	    "\"amount\":1000,\"balanceAmt\":1000,\"ediDate\":\"" EDI "\"}"), PH_EAUTH,
	    "unsigned paid: 401");
	is_int(run("{\"tid\":\"T-unit-0003\",\"status\":\"failed\",\"payMethod\":\"card\","
	    "\"amount\":1000,\"balanceAmt\":0,\"ediDate\":\"" EDI "\",\"signature\":null}"),
	    PH_OK, "unsigned failed passes (stored unverified)");
	is_int(ctx.d.signature_valid, PH_NULL, "signature_valid NULL");
	is_int(run("{\"tid\":\"T-unit-0003\",\"status\":\"expired\",\"payMethod\":\"vbank\","
	    "\"amount\":1000,\"balanceAmt\":0,\"ediDate\":\"" EDI "\",\"signature\":\"ab\"}"),
	    PH_EAUTH, "wrongly signed expired: 401");

	/* Samples. */
	is_int(run(NULL), PH_OK, "empty body");
	is_str(ctx.d.event_type, "test", "empty body is a sample");
	is_str(ctx.d.action->function, "payhook.nicepay_sample", "sample action");
	is_int(run("{\"tid\":\"UTWEBHOOKm05012609082226211306\",\"status\":\"paid\","
	    "\"payMethod\":\"card\",\"amount\":10000,\"signature\":\"ff\"}"), PH_OK,
	    "UTWEBHOOK tid with a bad signature");
	is_str(ctx.d.arg[0], "registration sample: tid starts with UTWEBHOOK", "sample reason");
	is_int(run("{\"tid\":\"T-unit-0004\",\"status\":\"\",\"payMethod\":\"card\"}"), PH_OK,
	    "empty status");
	is_str(ctx.d.event_type, "test", "empty status is a sample");
	is_int(run("{\"status\":\"paid\",\"payMethod\":\"\"}"), PH_OK,
	    "empty payMethod, no tid");
	is_str(ctx.d.event_type, "test", "empty payMethod is a sample");

	/* Version order. */
	v1 = version_of(0, payment("ready", "15000", "15000", EDI, ""));
	v2 = version_of(1, payment("paid", "15000", "15000", "2026-03-01T00:00:00.000+0900", ""));
	ok(strcmp(v1, v2) < 0, "paid > ready even with an older ediDate");
	v1 = version_of(2, payment("refunded", "15000", "0", "2026-04-01T00:00:00.000+0900", ""));
	ok(strcmp(v1, version_of(3, payment("failed", "15000", "0", EDI, ""))) < 0,
	    "unknown status ranks with ready, below failed");
	v1 = version_of(4, payment("partialCancelled", "15000", "10000", EDI,
	    ",\"cancels\":[{\"tid\":\"c1\"}]"));
	v2 = version_of(5, payment("partialCancelled", "15000", "12000", EDI,
	    ",\"cancels\":[{\"tid\":\"c1\"},{\"tid\":\"c2\"}]"));
	ok(strcmp(v1, v2) < 0, "longer cancels[] wins over lower balance");
	v1 = version_of(6, payment("partialCancelled", "15000", "12000", EDI,
	    ",\"cancels\":[{\"tid\":\"c1\"}]"));
	ok(strcmp(version_buf[4], v1) > 0, "same cancels: lower balance wins");
	v1 = version_of(6, payment("paid", "15000", "15000", "2026-03-02T09:15:00.250+0900", ""));
	v2 = version_of(7, payment("paid", "15000", "15000", "2026-03-02T01:15:00.251+0100", ""));
	ok(strcmp(v1, v2) < 0, "later ediDate wins, compared as instants");
	ok(strcmp(version_of(0, payment("cancelled", "15000", "0", EDI, "")),
	    version_of(1, payment("partialCancelled", "15000", "0", EDI, ""))) > 0,
	    "cancelled > partialCancelled");
}

int
main(void)
{
	struct ph_config *cfg;

	setenv("PAYHOOK_NICEPAY_SECRET_KEY", "other-key," KEY, 1);
	unsetenv("PAYHOOK_CONFIG");
	cfg = ph_config_load(NULL, false, err, sizeof err);
	if (cfg == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	ctx.cfg = cfg;
	ctx.ep = &ph_nicepay_endpoint;

	test_signature();
	test_time();
	test_parse();
	json_object_put(last_body);
	ph_config_free(cfg);
	return done_testing();
}
