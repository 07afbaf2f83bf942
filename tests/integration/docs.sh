#!/bin/bash
# Manual pages are well formed, and --help texts name every command.
set -eu
. "$top_srcdir/tests/lib/tap.sh"

for page in doc/payhook.1 doc/payhook.conf.5; do
	out=$(mandoc -Tlint -W warning "$top_srcdir/$page" 2>&1) && rc=0 || rc=$?
	is "$rc:$out" "0:" "mandoc -Tlint finds no warning in $page"
done

help=$("$top_builddir/bin/payhook" --help)
for cmd in migrate check-config rebuild; do
	like "$help" "  $cmd " "payhook --help lists $cmd"
	ok "payhook(1) documents $cmd" grep -q "^\.It Cm $cmd" "$top_srcdir/doc/payhook.1"
done

# Every handler has --help and an entry in payhook(1).
for h in "$top_builddir"/cgi-bin/*.fcgi; do
	name=${h##*/}
	like "$("$h" --help)" "usage: .*$name" "$name --help"
	ok "payhook(1) documents $name" grep -q "^\.It Nm $name" "$top_srcdir/doc/payhook.1"
done

# Every configuration key is in payhook.conf(5) and the example file.
keys=$(sed -n 's/^\t\[PH_CONF_[A-Z0-9_]*\] = {"\([a-z0-9_]*\)".*/\1/p' "$top_srcdir/lib/conf.c")
n=$(echo "$keys" | wc -l)
ok "found the configuration keys in conf.c ($n)" test "$n" -ge 15
missing=
for k in $keys; do
	grep -q "$k" "$top_srcdir/doc/payhook.conf.5" || missing="$missing $k(man)"
	grep -q "^#\?$k = \|^#$k =" "$top_srcdir/conf/payhook.conf.example" || missing="$missing $k(example)"
done
is "$missing" "" "every key documented in payhook.conf(5) and payhook.conf.example"

set +e
"$top_builddir/bin/payhook" no-such-command >/dev/null 2>&1
rc=$?
set -e
is "$rc" "2" "an unknown command exits 2"
tap_done
