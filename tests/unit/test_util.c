#include "config.h"

#include <stdint.h>
#include <string.h>

#include "err.h"
#include "request.h"
#include "util.h"
#include "tap.h"

int
main(void)
{
	char hex[PH_SHA256_HEX_LEN + 1], buf[8], out[PH_ADDR_MAX];
	struct ph_cidr_list proxies;
	char err[PH_ERRLEN];
	uint64_t v;

	ph_sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256 of the empty string");
	ph_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256 of abc");

	ok(ph_ct_equal("secret", 6, "secret", 6), "equal secrets compare equal");
	ok(!ph_ct_equal("secret", 6, "secreT", 6), "last byte differs");
	ok(!ph_ct_equal("secret", 6, "secret1", 7), "longer candidate differs");
	ok(!ph_ct_equal("", 0, "x", 1), "empty against non-empty differs");

	ok(ph_parse_u64("0", UINT64_MAX, &v) && v == 0, "0 parses");
	ok(ph_parse_u64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX,
	    "UINT64_MAX parses");
	ok(!ph_parse_u64("18446744073709551616", UINT64_MAX, &v), "UINT64_MAX+1 refused");
	ok(ph_parse_u64("1048576", 1048576, &v) && v == 1048576, "limit itself accepted");
	ok(!ph_parse_u64("1048577", 1048576, &v), "limit+1 refused");
	ok(!ph_parse_u64("", UINT64_MAX, &v), "empty refused");
	ok(!ph_parse_u64("+1", UINT64_MAX, &v), "sign refused");
	ok(!ph_parse_u64("1 ", UINT64_MAX, &v), "trailing blank refused");
	ok(!ph_parse_u64("-1", UINT64_MAX, &v), "negative refused");

	is_int(ph_strlcpy(buf, "abcdefghij", sizeof buf), 10, "strlcpy returns source length");
	is_str(buf, "abcdefg", "strlcpy truncates and terminates");

	ok(ph_ascii_ieq("Content-Type", "content-type", 12), "case-insensitive match");
	ok(!ph_ascii_ieq("Content-Typo", "content-type", 12), "case-insensitive mismatch");
	{
		static const char *const list[] = {"PAID", "CANCELED", NULL, "HIDDEN"};

		ok(ph_str_in("CANCELED", list, 2), "ph_str_in finds a listed value");
		ok(!ph_str_in("CANCELED", list, 1), "ph_str_in looks at the first n only");
		ok(!ph_str_in("HIDDEN", list, SIZE_MAX), "ph_str_in stops at NULL");
		ok(!ph_str_in("paid", list, SIZE_MAX), "ph_str_in is case-sensitive");
	}

	{
		static const char *const items[] = {"01795-1.spool", "a\"b\\c", ""};
		char arr[64];

		ok(ph_pg_text_array(items, 3, arr, sizeof arr), "text[] literal fits");
		is_str(arr, "{\"01795-1.spool\",\"a\\\"b\\\\c\",\"\"}",
		    "text[] literal: every item quoted, quote and backslash escaped");
		ok(ph_pg_text_array(items, 0, arr, sizeof arr) && strcmp(arr, "{}") == 0,
		    "text[] literal of nothing is {}");
		ok(!ph_pg_text_array(items, 3, arr, 12), "text[] literal too long: false");
	}

	ph_sanitize(buf, sizeof buf, "a\"b\nc\x80", 6);
	is_str(buf, "a?b?c?", "sanitize replaces quotes, control and non-ASCII bytes");

	is_int(ph_err_http_status(PH_ETOOBIG), 413, "too big is 413");
	is_int(ph_err_http_status(PH_EMETHOD), 405, "method is 405");
	is_int(ph_err_http_status(PH_EDBDOWN), 503, "database down is 503");

	ok(ph_cidr_list_parse("10.0.0.0/8", &proxies, err, sizeof err) == PH_OK, "proxy list");
	ph_client_address("10.1.1.1", "203.0.113.9, 10.2.2.2", &proxies, out, sizeof out);
	is_str(out, "203.0.113.9", "client behind two trusted proxies");
	ph_client_address("192.0.2.1", "203.0.113.9", &proxies, out, sizeof out);
	is_str(out, "192.0.2.1", "X-Forwarded-For from an untrusted peer is ignored");
	ph_client_address("10.1.1.1", "198.51.100.7, 203.0.113.9", &proxies, out, sizeof out);
	is_str(out, "203.0.113.9", "only the right-most untrusted hop is believed");
	ph_client_address("10.1.1.1", NULL, &proxies, out, sizeof out);
	is_str(out, "10.1.1.1", "no header: the peer");
	ph_client_address("10.1.1.1", "10.3.3.3, 10.2.2.2", &proxies, out, sizeof out);
	is_str(out, "10.3.3.3", "every hop trusted: the left-most");

	{
		static char e1[] = "REQUEST_METHOD=POST", e2[] = "http_steppay_signature=abc",
		    e3[] = "HTTP_X_FORWARDED_FOR=203.0.113.9", e4[] = "CONTENT_TYPE=application/json";
		char *envp[] = {e1, e2, e3, e4, NULL};
		struct ph_request req;

		memset(&req, 0, sizeof req);
		ph_request_begin(&req, NULL, envp);
		is_str(ph_request_header(&req, "Steppay-Signature"), "abc",
		    "header names match without regard to case");
		is_str(ph_request_header(&req, "x-forwarded-for"), "203.0.113.9",
		    "lower-case lookup finds an upper-case parameter");
		ok(ph_request_header(&req, "X-Forwarded") == NULL, "a prefix is not a match");
		is_str(req.method, "POST", "method read");
		is_str(req.query, "", "absent QUERY_STRING reads as empty");
	}
	return done_testing();
}
