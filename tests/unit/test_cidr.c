#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "tap.h"

static struct ph_cidr_list list;
static char err[PH_ERRLEN];

static int
parses(const char *spec)
{
	return ph_cidr_list_parse(spec, &list, err, sizeof err) == PH_OK;
}

int
main(void)
{
	char many[64 * 16 + 16];
	size_t n = 0;
	int i;

	ok(parses("121.133.126.0/24"), "IPv4 /24 parses");
	ok(ph_cidr_list_match(&list, "121.133.126.200"), "inside /24");
	ok(!ph_cidr_list_match(&list, "121.133.127.1"), "outside /24");
	ok(parses("0.0.0.0/0"), "/0 parses");
	ok(ph_cidr_list_match(&list, "8.8.8.8"), "/0 matches any IPv4");
	ok(!ph_cidr_list_match(&list, "::1"), "/0 IPv4 does not match IPv6");
	ok(parses("10.0.0.1"), "bare address parses");
	ok(ph_cidr_list_match(&list, "10.0.0.1") && !ph_cidr_list_match(&list, "10.0.0.2"),
	    "bare address is /32");
	ok(parses("10.0.0.0/9"), "/9 parses");
	ok(ph_cidr_list_match(&list, "10.127.255.255"), "last address of 10.0.0.0/9");
	ok(!ph_cidr_list_match(&list, "10.128.0.0"), "first address after 10.0.0.0/9");
	ok(parses("10.1.2.3/8"), "host bits beyond the prefix are allowed");
	ok(ph_cidr_list_match(&list, "10.200.0.1"), "and ignored");
	ok(parses("2001:db8::/32"), "IPv6 /32 parses");
	ok(ph_cidr_list_match(&list, "2001:db8:ffff::1"), "inside IPv6 /32");
	ok(!ph_cidr_list_match(&list, "2001:db9::1"), "outside IPv6 /32");
	ok(parses("::1/128"), "IPv6 /128 parses");
	ok(ph_cidr_list_match(&list, "::1") && !ph_cidr_list_match(&list, "::2"), "/128 exact");
	ok(parses("127.0.0.0/8"), "loopback");
	ok(ph_cidr_list_match(&list, "::ffff:127.0.0.1"), "IPv4-mapped address matches IPv4 entry");
	ok(parses(" 192.0.2.0/24,2001:db8::/32\t198.51.100.7 , "), "mixed separators");
	is_int(list.n, 3, "three entries");
	ok(ph_cidr_list_match(&list, "198.51.100.7") && ph_cidr_list_match(&list, "2001:db8::5") &&
	    ph_cidr_list_match(&list, "192.0.2.9"), "each entry matches");
	ok(!ph_cidr_list_match(&list, "not-an-address"), "garbage matches nothing");
	ok(!ph_cidr_list_match(&list, ""), "empty address matches nothing");
	ok(parses("") && list.n == 0, "empty spec: no entries");
	ok(parses(" , ") && list.n == 0, "blank spec: no entries");

	ok(!parses("1.2.3.4/33"), "/33 refused");
	ok(strstr(err, "1.2.3.4/33") != NULL, "error names the entry");
	ok(!parses("::/129"), "/129 refused");
	ok(!parses("1.2.3.4/"), "empty prefix refused");
	ok(!parses("1.2.3.4/x"), "non-numeric prefix refused");
	ok(!parses("1.2.3.4/-1"), "negative prefix refused");
	ok(!parses("300.1.1.1"), "bad IPv4 refused");
	ok(!parses("example.com"), "host names refused");

	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "10.0.%d.0/24,", i);
	ok(parses(many), "64 entries accepted");
	is_int(list.n, 64, "64 entries kept");
	snprintf(many + n, sizeof many - n, "10.1.0.0/24");
	ok(!parses(many), "65 entries refused");
	return done_testing();
}
