#!/bin/bash
# Debian 12 packages bench/run needs beyond tests/lib/install-deps.sh (the
# build, PostgreSQL, lighttpd, valgrind). Run as root. Only the benchmark
# needs these; the test suite does not.
#
#   wrk                      the HTTP load generator (LuaJIT scripting)
#   postgresql (pgbench comes with postgresql-client; pg_stat_statements
#                            with the server package) for the ceiling and round trips
#   pgbouncer                the scale-out measurement (transaction pooling)
#   php-fpm php-cgi php-pgsql the PHP peer (PDO pgsql), as FastCGI and CGI
#   gnuplot-nox              the throughput plot (PNG)
set -eu
pkgs="wrk pgbouncer php-fpm php-cgi php-pgsql gnuplot-nox valgrind lighttpd
	postgresql postgresql-client openssl coreutils"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -n "$missing" ] || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# The packaged services are not used (bench/run starts its own); do not
# leave them running on the machine.
for s in php8.2-fpm pgbouncer; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$s" >/dev/null 2>&1 || true
	fi
	service "$s" stop >/dev/null 2>&1 || true
done
