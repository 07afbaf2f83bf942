#!/bin/bash
# Manual pages are well formed, --help texts name every command, and
# payhook(7) documents every table, view and column that the migrations
# create.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"

for page in doc/payhook.1 doc/payhook.conf.5 doc/payhook.7; do
	out=$(mandoc -Tlint -W warning "$top_srcdir/$page" 2>&1) && rc=0 || rc=$?
	is "$rc:$out" "0:" "mandoc -Tlint finds no warning in $page"
done

help=$("$top_builddir/bin/payhook" --help)
# The commands --help lists (two-space indent under "commands:").
cmds=$(printf '%s\n' "$help" | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
like "$cmds" "replay" "the command list is read from payhook --help"
for cmd in $cmds; do
	[ "$cmd" != help ] || continue
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

# The other pages point to payhook(7).
for page in doc/payhook.1 doc/payhook.conf.5; do
	ok "$page refers to payhook(7)" grep -q '^\.Xr payhook 7' "$top_srcdir/$page"
done

# Every table and view of schema payhook, after all migrations, has a
# subsection ".Ss payhook.NAME" in payhook(7), and every one of its
# columns an ".It Li COLUMN" there (or in "State columns", when the
# subsection refers to it with ".Sx State columns").
page7=$top_srcdir/doc/payhook.7
section() { # HEADING: the lines of that subsection, heading excluded
	awk -v h=".Ss $1" '/^\.S[hs] /{ins = ($0 == h); next} ins' "$page7"
}
has_item() { # COLUMN (text on stdin)
	grep -Eq "^\.It Li $1( |\$)"
}
undocumented() { # sets MISSING (what is not documented) and NCOLS
	local r c sec state cols
	state=$(section "State columns")
	MISSING=
	NCOLS=0
	for r in $(psql_q "SELECT relname FROM pg_catalog.pg_class
	    WHERE relnamespace = 'payhook'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'f')
	    ORDER BY relname"); do
		sec=$(section "payhook.$r")
		if [ -z "$sec" ]; then
			MISSING="$MISSING $r"
			continue
		fi
		cols=$(psql_q "SELECT attname FROM pg_catalog.pg_attribute
		    WHERE attrelid = 'payhook.$r'::regclass AND attnum > 0 AND NOT attisdropped
		    ORDER BY attnum")
		for c in $cols; do
			NCOLS=$((NCOLS + 1))
			has_item "$c" <<<"$sec" && continue
			if grep -q '^\.Sx State columns' <<<"$sec" && has_item "$c" <<<"$state"; then
				continue
			fi
			MISSING="$MISSING $r.$c"
		done
	done
}
pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
undocumented
ok "checked the columns of the tables and views ($NCOLS)" test "$NCOLS" -ge 300
is "$MISSING" "" "payhook(7) documents every table, view and column of schema payhook"

# Nor does it document what is not there.
stale=
for r in $(sed -n 's/^\.Ss payhook\.\([a-z0-9_]*\)$/\1/p' "$page7"); do
	[ "$(psql_q "SELECT to_regclass('payhook.$r') IS NOT NULL")" = t ] || stale="$stale $r"
done
is "$stale" "" "every table and view in payhook(7) exists"

# The check sees a column that a migration adds without documenting it.
psql_q "ALTER TABLE payhook.orders ADD COLUMN undocumented_column text" >/dev/null
psql_q "CREATE VIEW payhook.undocumented_view AS SELECT 1 AS one" >/dev/null
undocumented
is "$MISSING" " orders.undocumented_column undocumented_view" \
	"an undocumented column or view is found"

set +e
"$top_builddir/bin/payhook" no-such-command >/dev/null 2>&1
rc=$?
set -e
is "$rc" "2" "an unknown command exits 2"
tap_done
