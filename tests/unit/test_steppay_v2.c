#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "steppay_v2.h"
#include "tap.h"

/* Vectors A, B and C of the StepPay notes (section 3.4). */
static const char body_a[] =
    "{\"timestamp\":1718236800,\"version\":\"v1\",\"event\":\"payment.completed\","
    "\"data\":{\"paymentId\":58213,\"idKey\":\"1718236799412aB3dE5fG7hJ9kL1m\","
    "\"status\":\"COMPLETE\",\"paidAmount\":9900}}";
static const char header_a[] =
    "timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=";
static const char body_b[] =
    "{\"timestamp\":1718236861,\"version\":\"v1\",\"event\":\"order.payment_completed\","
    "\"data\":{\"id\":90417,\"code\":\"order_Q7wXk2LmP\",\"productName\":"
    "\"\xec\x9b\x94\xea\xb0\x84 \xec\x9b\x90\xeb\x91\x90 \xea\xb5\xac\xeb\x8f\x85\"}}";
static const char header_b[] =
    "timestamp=1718236861,key=5QjSA9bdUmh+Lpr1FHzkDSPwiZa0S0s0y5dZ9azRo6w=";
static const char header_c[] =
    "timestamp=1718236861,key=Gpb0GCaHHGTbtPwE5ite0tt92K2w/ndpcPDLqFEGjHM=;"
    "5QjSA9bdUmh+Lpr1FHzkDSPwiZa0S0s0y5dZ9azRo6w=";
static const char secret[] = "phk_test_9f2c41d7e8";
static const char old_secret[] = "phk_old_55aa01";

static enum ph_err
verify(const char *header, const char *secrets, const char *body, size_t len,
    uint64_t *ts)
{
	char err[PH_ERRLEN];

	return ph_steppay_v2_verify(header, secrets, body, len, ts, err, sizeof err);
}

int
main(void)
{
	char changed[sizeof body_a + 1];
	char err[PH_ERRLEN];
	uint64_t ts = 0;

	plan(34);

	is_int(sizeof body_a - 1, 172, "vector A body is 172 bytes");
	is_int(sizeof body_b - 1, 155, "vector B body is 155 bytes");
	is_int(verify(header_a, secret, body_a, sizeof body_a - 1, &ts), PH_OK,
	    "vector A verifies");
	ok(ts == 1718236800, "vector A: the header's timestamp is returned");
	is_int(verify(header_b, secret, body_b, sizeof body_b - 1, &ts), PH_OK,
	    "vector B (Korean UTF-8 body) verifies");
	is_int(verify(header_c, secret, body_b, sizeof body_b - 1, &ts), PH_OK,
	    "vector C verifies with the current secret");
	is_int(verify(header_c, old_secret, body_b, sizeof body_b - 1, &ts), PH_OK,
	    "vector C verifies with the old secret");
	is_int(verify(header_b, "phk_old_55aa01, phk_test_9f2c41d7e8", body_b,
	    sizeof body_b - 1, &ts), PH_OK, "the second of two configured secrets is accepted");
	is_int(verify(header_b, "phk_old_55aa01", body_b, sizeof body_b - 1, &ts), PH_EAUTH,
	    "vector B with only the old secret is refused");

	/* Negative checks of the notes. */
	memcpy(changed, body_a, 13);
	changed[13] = ' ';
	memcpy(changed + 14, body_a + 13, sizeof body_a - 13);
	ok(changed[12] == ':', "the changed body has a space after the first colon");
	is_int(verify(header_a, secret, changed, sizeof body_a, &ts), PH_EAUTH,
	    "a space added after the first ':' fails");
	memcpy(changed, body_a, sizeof body_a - 1);
	changed[sizeof body_a - 1] = '\n';
	is_int(verify(header_a, secret, changed, sizeof body_a, &ts), PH_EAUTH,
	    "a trailing newline fails");
	is_int(verify("timestamp=1718236801,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH, "a changed timestamp fails");
	is_int(verify(header_a, "phk_test_9f2c41d7e9", body_a, sizeof body_a - 1, &ts), PH_EAUTH,
	    "a wrong secret fails");

	/* Header forms. */
	is_int(verify("key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=, timestamp=1718236800",
	    secret, body_a, sizeof body_a - 1, &ts), PH_OK, "parts in either order, blanks trimmed");
	is_int(verify("timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH, "a truncated key fails");
	is_int(verify("timestamp=1718236800,key=XqKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH,
	    "a key that merely contains the signature fails");
	is_int(verify("key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=", secret, body_a,
	    sizeof body_a - 1, &ts), PH_EAUTH, "no timestamp fails");
	is_int(verify("timestamp=1718236800", secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH,
	    "no key fails");
	is_int(verify("timestamp=17182368x0,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH, "a non-numeric timestamp fails");
	/* A header sent twice reaches the handler joined by ", ". */
	is_int(verify("timestamp=1718236801,key=AAAAS+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=, "
	    "timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH,
	    "repeated with conflicting values fails, even when the last pair is right");
	is_int(verify("timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=, "
	    "timestamp=1718236801,key=AAAAS+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH,
	    "repeated with conflicting values fails, even when the first pair is right");
	is_int(verify("timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=, "
	    "timestamp=1718236800,key=AAAAS+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH, "two different key fields fail");
	is_int(verify("timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=, "
	    "timestamp=1718236800,key=qKi+S+YR0uf6yBWt9Pdk/7jjueUmsM0o57e4qFvXePU=",
	    secret, body_a, sizeof body_a - 1, &ts), PH_OK,
	    "the same header twice (a proxy that copies it) verifies");
	is_int(verify("", secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH, "an empty header fails");
	is_int(verify(NULL, secret, body_a, sizeof body_a - 1, &ts), PH_EAUTH,
	    "a missing header fails");
	is_int(verify(header_a, "", body_a, sizeof body_a - 1, &ts), PH_ECONFIG,
	    "no secret configured is a configuration error");
	is_int(verify(header_a, " , ", body_a, sizeof body_a - 1, &ts), PH_ECONFIG,
	    "a list of blanks is no secret either");
	is_int(ph_steppay_v2_verify(header_a, "wrong-secret", body_a, sizeof body_a - 1, &ts,
	    err, sizeof err), PH_EAUTH, "a mismatch");
	ok(strstr(err, "wrong-secret") == NULL, "the error never shows the secret");

	/* LocalDateTime. */
	ok(ph_steppay_local_time_valid("2026-11-02T09:15:00"), "LocalDateTime without fraction");
	ok(ph_steppay_local_time_valid("2023-06-19T06:19:55.317836"), "with six digits");
	ok(!ph_steppay_local_time_valid("2023-06-19T06:19:55.3178361"), "not seven");
	ok(!ph_steppay_local_time_valid("2023-06-19T06:19:55Z"), "no zone allowed");

	return done_testing();
}
