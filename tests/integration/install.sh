#!/bin/bash
# `make install`: where each file lands, that an existing payhook.conf is
# left alone, and that the installed payhook finds the installed
# migrations. A fresh configure --prefix=<temporary directory> builds a
# copy of payhook (no DESTDIR, so that the compiled-in paths are the
# installed ones); then the same tree is installed again with DESTDIR to
# check the staged layout packagers use.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"

if [ -f "$top_srcdir/config.status" ]; then
	skip_all "the source tree is configured in place; an out-of-tree build needs a clean one"
fi

work=$(mktemp -d /tmp/payhook-install.XXXXXX)
ph_on_exit rm -rf "$work"
chmod 0755 "$work"
prefix=$work/prefix
build=$work/build
mkdir "$build"

# Not part of the calling make: its jobserver and flags stay out.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEFILES
(
	cd "$build"
	"$top_srcdir/configure" -q --prefix="$prefix" >"$work/configure.log" 2>&1
	make -j2 >"$work/make.log" 2>&1
	make install >"$work/install.log" 2>&1
) || {
	diag "$(tail -n 40 "$work"/*.log)"
	bail_out "configure, make or make install failed"
}

# --- the layout ------------------------------------------------------------------
for f in bin/payhook libexec/payhook/steppay-v1.fcgi libexec/payhook/steppay-v2.fcgi \
	libexec/payhook/nicepay.fcgi; do
	ok "installed and executable: $f" test -x "$prefix/$f"
done
for f in 001_init.sql 002_payment_cancels.sql 003_steppay_v2.sql 004_nicepay.sql; do
	ok "migration installed: share/payhook/sql/$f" cmp "$top_srcdir/sql/$f" "$prefix/share/payhook/sql/$f"
done
is "$(cd "$prefix/share/payhook/sql" && ls | tr '\n' ' ')" "$(cd "$top_srcdir/sql" && ls ./*.sql | sed 's#^\./##' | tr '\n' ' ')" \
	"every migration of sql/ is installed, nothing else"
ok "example configuration in etc/" cmp "$top_srcdir/conf/payhook.conf.example" "$prefix/etc/payhook.conf.example"
ok "no payhook.conf is written" test ! -e "$prefix/etc/payhook.conf"
ok "payhook(1) installed" test -f "$prefix/share/man/man1/payhook.1"
ok "payhook.conf(5) installed" test -f "$prefix/share/man/man5/payhook.conf.5"
for f in apache/htaccess apache/payhook-fcgid.conf \
	apache/payhook-proxy-fcgi.conf nginx/payhook.conf nginx/site.conf \
	nginx/payhook-fcgi@.service lighttpd/payhook.conf; do
	ok "web server example: share/doc/payhook/examples/$f" \
		cmp "$top_srcdir/conf/$f" "$prefix/share/doc/payhook/examples/$f"
done
for f in README.md NEWS SECURITY.md; do
	ok "share/doc/payhook/$f" test -s "$prefix/share/doc/payhook/$f"
done
is "$(find "$prefix/share/doc/payhook/examples" -type f | wc -l)" \
	"$(find "$top_srcdir/conf/apache" "$top_srcdir/conf/nginx" "$top_srcdir/conf/lighttpd" -type f | wc -l)" \
	"every file of conf/apache, conf/nginx and conf/lighttpd is installed"

# --- the installed programs work from where they are --------------------------------
pg_start
out=$("$prefix/bin/payhook" migrate --database "$PH_TEST_CONNINFO" 2>&1) || true
like "$out" "applied 004_nicepay.sql" "installed payhook migrate finds the installed migrations"
is "$(psql_q "SELECT count(*) FROM payhook.schema_migrations")" \
	"$(find "$top_srcdir/sql" -name '*.sql' | wc -l)" "and applies all of them"
like "$("$prefix/bin/payhook" migrate --database "$PH_TEST_CONNINFO" 2>&1)" "up to date" \
	"a second migrate changes nothing"
like "$("$prefix/bin/payhook" --help 2>&1)" "migrate" "installed payhook --help"
: >"$work/empty.json"
printf 'database = %s\n' "$PH_TEST_CONNINFO" >"$work/payhook.conf"
chmod 0640 "$work/payhook.conf"
PAYHOOK_CONFIG=$work/payhook.conf cgi_run "$prefix/libexec/payhook/nicepay.fcgi" GET "" "$work/empty.json"
is "$CGI_STATUS" "405" "the installed handler answers as plain CGI"
like "$("$prefix/libexec/payhook/steppay-v2.fcgi" --help 2>&1)" "$prefix/etc/payhook.conf" \
	"the installed handler's default configuration is in the installed etc/"

# --- DESTDIR: the staged layout; an existing payhook.conf survives ------------------
dest=$work/dest
mkdir -p "$dest$prefix/etc"
printf '# mine\n' >"$dest$prefix/etc/payhook.conf"
printf '# old example\n' >"$dest$prefix/etc/payhook.conf.example"
(cd "$build" && make install DESTDIR="$dest" >"$work/install-destdir.log" 2>&1) ||
	diag "$(tail -n 20 "$work/install-destdir.log")"
is "$(cat "$dest$prefix/etc/payhook.conf")" "# mine" "make install DESTDIR=... leaves payhook.conf alone"
ok "and updates the example" cmp "$top_srcdir/conf/payhook.conf.example" "$dest$prefix/etc/payhook.conf.example"
is "$(cd "$dest$prefix" && find . -type f ! -path ./etc/payhook.conf | sort)" \
	"$(cd "$prefix" && find . -type f | sort)" "DESTDIR holds the same files under the prefix"
is "$(find "$dest" -type f | grep -v "^$dest$prefix/" || true)" "" "nothing outside DESTDIR's prefix"

tap_done
