#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "err.h"
#include "tap.h"

static struct ph_cidr_list list;
static char err[PH_ERRLEN];

static enum ph_err
parse(const char *spec)
{
	err[0] = '\0';
	return ph_cidr_list_parse(spec, &list, err, sizeof err);
}

static bool
match(const char *addr)
{
	return ph_cidr_list_match(&list, addr);
}

/* Writes n entries "10.0.<i>.0/24," into buf. */
static void
many(char *buf, size_t size, int n)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s10.%d.%d.0/24",
		    i > 0 ? "," : "", i / 256, i % 256);
}

int
main(void)
{
	char buf[2048];

	/* IPv4 */
	is_int(parse("121.133.126.0/24"), PH_OK, "v4 /24 parses");
	is_int(list.n, 1, "one entry");
	ok(match("121.133.126.0"), "v4 /24: network address inside");
	ok(match("121.133.126.255"), "v4 /24: last address inside");
	ok(!match("121.133.127.0"), "v4 /24: next block outside");
	ok(!match("121.133.125.255"), "v4 /24: previous block outside");
	ok(!match("2001:db8::1"), "v4 entry never matches an IPv6 address");

	is_int(parse("0.0.0.0/0"), PH_OK, "v4 /0 parses");
	ok(match("8.8.8.8") && match("255.255.255.255") && match("0.0.0.0"),
	    "v4 /0 matches every IPv4 address");
	ok(!match("::1"), "v4 /0 does not match IPv6");

	is_int(parse("203.0.113.9/32"), PH_OK, "v4 /32 parses");
	ok(match("203.0.113.9"), "v4 /32 exact match");
	ok(!match("203.0.113.8") && !match("203.0.113.10"), "v4 /32 neighbours outside");

	is_int(parse("10.0.0.1"), PH_OK, "bare v4 address parses");
	is_int(list.v[0].prefix, 32, "bare v4 address is /32");
	ok(match("10.0.0.1") && !match("10.0.0.2"), "bare v4 address matches only itself");

	/* prefix boundaries inside a byte */
	is_int(parse("10.0.0.0/9"), PH_OK, "v4 /9 parses");
	ok(match("10.0.0.0"), "10.0.0.0/9 contains 10.0.0.0");
	ok(match("10.127.255.255"), "10.0.0.0/9 contains 10.127.255.255");
	ok(!match("10.128.0.0"), "10.0.0.0/9 does not contain 10.128.0.0");
	ok(!match("11.0.0.0"), "10.0.0.0/9 does not contain 11.0.0.0");
	is_int(parse("192.168.1.64/27"), PH_OK, "v4 /27 parses");
	ok(match("192.168.1.95") && !match("192.168.1.96") && !match("192.168.1.63"),
	    "v4 /27 boundaries");

	/* host bits beyond the prefix are masked, not refused */
	is_int(parse("10.1.2.3/8"), PH_OK, "host bits set beyond the prefix allowed");
	ok(list.v[0].addr[0] == 10 && list.v[0].addr[1] == 0 &&
	    list.v[0].addr[2] == 0 && list.v[0].addr[3] == 0, "host bits masked off");
	ok(match("10.200.0.1"), "masked entry matches its whole block");
	is_int(parse("2001:db8:ffff:1::7/33"), PH_OK, "v6 host bits allowed");
	ok(match("2001:db8:8000::1") && !match("2001:db8:7fff::1"),
	    "v6 masked entry is 2001:db8:8000::/33");
	ok(!match("2001:db9::1"), "v6 masked entry stays inside 2001:db8::/32");

	/* IPv6 */
	is_int(parse("2001:db8::/32"), PH_OK, "v6 /32 parses");
	ok(match("2001:db8::1"), "v6 /32: inside");
	ok(match("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "v6 /32: last address inside");
	ok(!match("2001:db9::"), "v6 /32: next block outside");
	ok(!match("2001:db7:ffff::1"), "v6 /32: previous block outside");
	ok(!match("32.1.13.184"), "v6 entry never matches an IPv4 address");

	is_int(parse("2001:db8::5/128"), PH_OK, "v6 /128 parses");
	ok(match("2001:db8::5") && match("2001:0db8:0000::0005"), "v6 /128 exact, any spelling");
	ok(!match("2001:db8::4") && !match("2001:db8::6"), "v6 /128 neighbours outside");
	is_int(parse("::1"), PH_OK, "bare v6 address parses");
	is_int(list.v[0].prefix, 128, "bare v6 address is /128");

	is_int(parse("2001:db8:8000::/33"), PH_OK, "v6 /33 parses");
	ok(match("2001:db8:ffff::1") && !match("2001:db8:7fff::1"), "v6 /33 boundary bit");

	/* IPv4-mapped IPv6 addresses are the IPv4 peer of a dual-stack socket */
	is_int(parse("121.133.126.0/24"), PH_OK, "v4 entry for mapped tests");
	ok(match("::ffff:121.133.126.7"), "mapped v4 address matches the v4 entry");
	ok(match("::FFFF:7985:7e07"), "mapped v4 address in hex matches too");
	ok(!match("::ffff:121.133.127.7"), "mapped v4 address outside the entry");
	ok(!match("::121.133.126.7"), "IPv4-compatible (not mapped) address does not match");
	is_int(parse("::ffff:121.133.126.0/120"), PH_OK, "mapped entry parses");
	is_int(list.v[0].prefix, 24, "mapped entry becomes a v4 /24");
	ok(match("121.133.126.7") && match("::ffff:121.133.126.7"),
	    "mapped entry matches v4 and mapped addresses");
	is_int(parse("::ffff:0:0/95"), PH_ECONFIG, "mapped entry shorter than /96 refused");
	is_int(parse("::/0"), PH_OK, "v6 /0 parses");
	ok(match("2001:db8::1") && !match("1.2.3.4") && !match("::ffff:1.2.3.4"),
	    "v6 /0 matches IPv6 only, not IPv4 peers");

	/* lists and separators */
	is_int(parse("121.133.126.0/24, 2001:db8::/32, 10.0.0.1"), PH_OK, "mixed list parses");
	is_int(list.n, 3, "mixed list has three entries");
	ok(match("121.133.126.1") && match("2001:db8::1") && match("10.0.0.1"),
	    "each entry of a mixed list matches");
	ok(!match("10.0.0.2") && !match("2001:db9::1"), "mixed list: outsiders refused");
	is_int(parse(" \t192.0.2.0/24,2001:db8::/32\n198.51.100.7 ,, \r\n"), PH_OK,
	    "commas, blanks, tabs and newlines separate");
	is_int(list.n, 3, "three entries between separators");
	ok(match("198.51.100.7") && match("192.0.2.9"), "entries between separators match");
	is_int(parse("10.0.0.1 10.0.0.2"), PH_OK, "blank alone separates");
	is_int(list.n, 2, "two blank-separated entries");
	is_int(parse(""), PH_OK, "empty spec parses");
	is_int(list.n, 0, "empty spec has no entries");
	is_int(parse(" ,\t, \n"), PH_OK, "blank spec parses");
	is_int(list.n, 0, "blank spec has no entries");
	ok(!match("1.2.3.4"), "empty list matches nothing (the caller decides)");

	/* errors */
	is_int(parse("1.2.3.4/33"), PH_ECONFIG, "v4 /33 refused");
	ok(strstr(err, "'1.2.3.4/33'") != NULL, "error quotes the entry");
	is_int(list.n, 0, "failed list is left empty");
	is_int(parse("::/129"), PH_ECONFIG, "v6 /129 refused");
	is_int(parse("1.2.3.4/"), PH_ECONFIG, "empty prefix refused");
	is_int(parse("1.2.3.4/x"), PH_ECONFIG, "non-numeric prefix refused");
	is_int(parse("1.2.3.4/+8"), PH_ECONFIG, "signed prefix refused");
	is_int(parse("1.2.3.4/-1"), PH_ECONFIG, "negative prefix refused");
	is_int(parse("1.2.3.4/8/8"), PH_ECONFIG, "two prefixes refused");
	is_int(parse("1.2.3.4/99999999999999999999"), PH_ECONFIG, "huge prefix refused");
	is_int(parse("300.1.1.1"), PH_ECONFIG, "v4 octet over 255 refused");
	is_int(parse("1.2.3"), PH_ECONFIG, "short v4 refused");
	is_int(parse("/24"), PH_ECONFIG, "missing address refused");
	is_int(parse("example.com"), PH_ECONFIG, "host name refused");
	is_int(parse("2001:db8::g"), PH_ECONFIG, "bad v6 refused");
	is_int(parse("fe80::1%eth0"), PH_ECONFIG, "v6 zone refused");
	is_int(parse("10.0.0.0/8, 10.0.0.0/99, 10.0.0.1"), PH_ECONFIG, "bad entry in a list refused");
	ok(strstr(err, "entry 2") != NULL && strstr(err, "10.0.0.0/99") != NULL,
	    "error gives the entry's position and text");
	is_int(parse("1.2.3.4/\x01"), PH_ECONFIG, "control byte refused");
	ok(strchr(err, '\x01') == NULL, "error text is printable");
	memset(buf, '1', 200);
	buf[200] = '\0';
	is_int(parse(buf), PH_ECONFIG, "over-long entry refused");

	many(buf, sizeof buf, PH_CIDR_MAX);
	is_int(parse(buf), PH_OK, "64 entries accepted");
	is_int(list.n, PH_CIDR_MAX, "64 entries kept");
	ok(match("10.0.63.200") && !match("10.0.64.1"), "last of 64 entries matches");
	many(buf, sizeof buf, PH_CIDR_MAX + 1);
	is_int(parse(buf), PH_ECONFIG, "65 entries refused");
	ok(strstr(err, "more than 64") != NULL, "error says too many");

	/* addresses that cannot be parsed never match */
	is_int(parse("0.0.0.0/0, ::/0"), PH_OK, "match-all list");
	ok(!match("garbage"), "garbage address does not match");
	ok(!match(""), "empty address does not match");
	ok(!match("1.2.3.4 "), "trailing blank does not match");
	ok(!match("1.2.3.4/32"), "address with a prefix does not match");
	ok(!match("[::1]"), "bracketed address does not match");
	ok(!match("fe80::1%eth0"), "address with a zone does not match");
	ok(!match("01.2.3.4"), "leading zero (octal-looking) does not match");
	ok(!ph_cidr_list_match(&list, NULL), "NULL address does not match");
	ok(!ph_cidr_list_match(NULL, "1.2.3.4"), "NULL list matches nothing");
	ok(ph_ip_address_valid("203.0.113.9") && ph_ip_address_valid("2001:db8::1"),
	    "textual addresses are valid");
	ok(!ph_ip_address_valid("") && !ph_ip_address_valid("unix:") &&
	    !ph_ip_address_valid("10.0.0.0/8"), "anything else is not an address");
	return done_testing();
}
