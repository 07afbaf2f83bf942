#!/bin/bash
# Self-test of the harness in tests/lib (not part of make check):
#   bash tests/lib/selftest.sh
# SELFTEST_FAIL_AT=pg|lighttpd|end makes it die there (set -e), to check
# that the cleanups still leave no process and no temporary directory.
# shellcheck disable=SC2016 # sh -c scripts take their arguments as $1
set -eu
lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$lib/tap.sh"
. "$lib/pg.sh"
. "$lib/http.sh"
. "$lib/lighttpd.sh"

fail_at() { [ "${SELFTEST_FAIL_AT:-}" != "$1" ] || false; }

# --- tap.sh itself, in a child shell ------------------------------------------
out=$(bash -c '. "$1/tap.sh"; set -eu; is a a "one"; is a b "two"; like abc "^a.c$" "three";
	ok "four" false; diag "x"; tap_done' _ "$lib") && rc=0 || rc=$?
is "$rc" 1 "tap: tap_done fails when a test failed"
is "$out" "ok 1 - one
not ok 2 - two
#   got: 'a'
#   expected: 'b'
ok 3 - three
not ok 4 - four
#   command failed (exit 1): false
# x
1..4" "tap: output"
out=$(CI='' bash -c '. "$1/tap.sh"; skip_all "no tool"' _ "$lib") && rc=0 || rc=$?
is "$rc:$out" "0:1..0 # SKIP no tool" "tap: skip_all skips"
out=$(CI=true bash -c '. "$1/tap.sh"; skip_all "no tool"' _ "$lib") && rc=0 || rc=$?
is "$rc:$out" "1:Bail out! no tool (CI=true: a skip is a failure)" "tap: skip_all under CI=true bails out"
out=$(bash -c '. "$1/tap.sh"; set -eu; tmp=$(mktemp -d); ph_on_exit rmdir "$tmp"; ph_on_exit echo never-shown;
	echo "$tmp"; ok "fine" true; false; echo not reached' _ "$lib") && rc=0 || rc=$?
is "$rc" 1 "tap: set -e death keeps its exit status"
like "$out" "Bail out! _ died after 1 tests \(exit status 1\); last failing command: .*: false" \
	"tap: a death is a Bail out! naming the command"
ok "tap: cleanups ran on the death" test ! -e "$(printf '%s\n' "$out" | head -n 1)"
out=$(bash -c '. "$1/tap.sh"; tap_plan 2; ok a true; tap_done' _ "$lib") && rc=0 || rc=$?
is "$rc:$out" "1:1..2
ok 1 - a
# planned 2 tests but ran 1" "tap: a plan that was not met fails"

# --- PostgreSQL -------------------------------------------------------------------
pg_start
is "$(psql_q 'select 1')" "1" "pg: psql_q select 1"
is "$(psql_q "select 1, 'a'")" "1|a" "pg: psql_q separates fields with |"
is "$(psql_q 'select current_database()')" "payhook_test" "pg: the test database"
like "$PH_TEST_CONNINFO" "^host=/tmp/payhook-pg\.[^ ]+/sock port=[0-9]+ user=postgres dbname=payhook_test$" \
	"pg: PH_TEST_CONNINFO"
is "$(psql "$PH_TEST_CONNINFO" -XAtc 'show fsync')" "off" "pg: PH_TEST_CONNINFO connects; fsync off"
psql_q 'select nope' >/dev/null 2>&1 && rc=0 || rc=$?
is "$rc" "1" "pg: psql_q exits 1 on an SQL error"
fail_at pg

# --- lighttpd + a FastCGI program ---------------------------------------------
work=$(mktemp -d /tmp/payhook-selftest.XXXXXX)
ph_on_exit rm -rf "$work"
chmod 0755 "$work"
cat >"$work/hello.c" <<'C'
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>

static const char *or_none(const char *s) { return s ? s : "(none)"; }

int main(void)
{
	FCGX_Request r;

	if (FCGX_IsCGI()) {
		/* Plain CGI: FCGX_Accept_r would fail, answer on stdout. */
		fprintf(stderr, "selftest-cgi: %s %s\n",
		    or_none(getenv("REQUEST_METHOD")), or_none(getenv("CONTENT_LENGTH")));
		printf("Status: 200\r\nContent-Type: text/plain\r\n"
		    "X-Env: %s\r\n\r\nhello", or_none(getenv("SELFTEST_ENV")));
		return 0;
	}
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		fprintf(stderr, "selftest-fcgi: request\n");
		fflush(stderr);
		FCGX_FPrintF(r.out, "Status: 200\r\nContent-Type: text/plain\r\n"
		    "X-Env: %s\r\nX-Param: %s\r\nX-PGHOST: %s\r\n\r\nhello",
		    or_none(getenv("SELFTEST_ENV")),
		    or_none(FCGX_GetParam("SELFTEST_PARAM", r.envp)),
		    or_none(getenv("PGHOST")));
		FCGX_Finish_r(&r);
	}
	return 0;
}
C
gcc -Wall -o "$work/hello.fcgi" "$work/hello.c" -lfcgi
printf '{"a":1}' >"$work/body.json"

lighttpd_start "$work/hello.fcgi" /hello SELFTEST_ENV='in "env"' param:SELFTEST_PARAM=p1
like "$LIGHTTPD_URL" '^http://127\.0\.0\.1:[0-9]+$' "lighttpd: LIGHTTPD_URL"
http_post "$LIGHTTPD_URL/hello" application/json "$work/body.json"
is "$HTTP_STATUS" 200 "lighttpd: 200"
is "$HTTP_BODY" hello "lighttpd: body hello"
like "$HTTP_HEADERS" 'X-Env: in "env"' "lighttpd: bin-environment reaches the process"
like "$HTTP_HEADERS" "X-Param: p1" "lighttpd: param: arrives as a FastCGI parameter"
like "$HTTP_HEADERS" "X-PGHOST: \(none\)" "lighttpd: the test's environment does not leak into the handler"
ok "lighttpd: handler stderr reaches LIGHTTPD_ERRORLOG" grep -q 'selftest-fcgi: request' "$LIGHTTPD_ERRORLOG"
for _ in $(seq 1 20); do http_post "$LIGHTTPD_URL/hello" application/json "$work/body.json"; done
is "$HTTP_BODY" hello "lighttpd: 20 more requests"
http_post "$LIGHTTPD_URL/nothing-here" application/json "$work/body.json"
is "$HTTP_STATUS" 404 "lighttpd: other paths 404"
fail_at lighttpd

# --- the same program as plain CGI ---------------------------------------------
export PAYHOOK_SELFTEST=passed-through
cgi_run "$work/hello.fcgi" POST application/json "$work/body.json" "a=1"
is "$CGI_EXIT" 0 "cgi: exit 0"
is "$CGI_STATUS" 200 "cgi: status"
is "$CGI_BODY" hello "cgi: body"
like "$CGI_HEADERS" "Content-Type: text/plain" "cgi: headers"
is "$CGI_STDERR" "selftest-cgi: POST 7" "cgi: stderr and CONTENT_LENGTH"
CGI_CONTENT_LENGTH=500 cgi_run "$work/hello.fcgi" POST application/json "$work/body.json"
is "$CGI_STDERR" "selftest-cgi: POST 500" "cgi: CGI_CONTENT_LENGTH overrides"
CGI_CONTENT_LENGTH=none cgi_run "$work/hello.fcgi" POST application/json "$work/body.json"
is "$CGI_STDERR" "selftest-cgi: POST (none)" "cgi: CGI_CONTENT_LENGTH=none unsets it"
cat >"$work/env.sh" <<'SH'
#!/bin/sh
printf 'Status: 418 teapot\n\n'
env | sort
cat
exit 3
SH
chmod +x "$work/env.sh"
cgi_run "$work/env.sh" PUT "" "$work/body.json" q=1 >/dev/null
is "$CGI_EXIT" 3 "cgi: CGI_EXIT"
is "$CGI_STATUS" "exit-3" "cgi: a failing handler's status is exit-N"
like "$CGI_BODY" "PAYHOOK_SELFTEST=passed-through" "cgi: PAYHOOK_* passed through"
like "$CGI_BODY" "QUERY_STRING=q=1" "cgi: QUERY_STRING"
ok "cgi: nothing else of the environment (no PGHOST)" sh -c '! grep -q "^PGHOST=" "$1"' _ "$CGI_STDOUT_FILE"
ok "cgi: no CONTENT_TYPE when empty" sh -c '! grep -q "^CONTENT_TYPE=" "$1"' _ "$CGI_STDOUT_FILE"
like "$CGI_BODY" '\{"a":1\}$' "cgi: stdin is the body file"
printf 'Content-Type: text/plain\r\nStatus: 401 No\r\n\r\nline1\r\n\r\nline3' >"$work/reply"
printf '#!/bin/sh\ncat %s\n' "$work/reply" >"$work/reply.sh"
chmod +x "$work/reply.sh"
cgi_run "$work/reply.sh" POST "" "$work/body.json"
is "$CGI_STATUS" 401 "cgi: Status after another header"
is "$CGI_BODY" $'line1\r\n\r\nline3' "cgi: the body starts after the first empty line"
unset PAYHOOK_SELFTEST

# --- database down and back -------------------------------------------------------
pg_stop
pg_isready -q -h "$PGHOST" -p "$PGPORT" -t 2 && rc=0 || rc=$?
ok "pg: pg_isready fails once stopped ($rc)" test "$rc" != 0
pg_restart
is "$(psql_q 'select 2')" "2" "pg: back after pg_restart"
pg_restart
is "$(psql_q 'select 3')" "3" "pg: pg_restart of a running server"
pg_stop
lighttpd_stop
ok "lighttpd: stopped" sh -c '! curl -q -s --noproxy "*" --max-time 2 "$1"' _ "$LIGHTTPD_URL/hello"
fail_at end

tap_done
