#!/bin/bash
# README's "psql cookbook" against the demo's data: the three handlers
# under a real lighttpd, demo/send's deliveries, then every SQL statement
# of the cookbook section, taken from README.md itself, run with psql.
# None may fail, and where README shows a statement's output the result
# must be the same: same rows, same values, times and dates aside (the
# demo's times are relative to when it runs).
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"

readme=$top_srcdir/README.md
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
chmod 0755 "$work"

# cookbook_split README DIR: DIR/N.sql for the N-th statement of the
# section "## psql cookbook", DIR/N.want for the output README shows
# after it: a fenced block without a language right after the ```sql
# block, the output of that block's last statement.
cookbook_split() {
	python3 - "$1" "$2" <<'PY'
import re, sys
readme, out = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().split("\n")
try:
    start = lines.index("## psql cookbook") + 1
except ValueError:
    sys.exit("no section '## psql cookbook' in " + readme)
end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
n, i, last_sql = 0, start, None
while i < end:
    fence = re.match(r"^```(\w*)\s*$", lines[i])
    if not fence:
        if lines[i].strip():
            last_sql = None      # prose between a query and an output block
        i += 1
        continue
    j = i + 1
    while j < end and lines[j].strip() != "```":
        j += 1
    body = lines[i + 1:j]
    if fence.group(1) == "sql":
        stmt = []
        for line in body:
            code = re.sub(r"--.*$", "", line).rstrip()
            if code.strip():
                stmt.append(code)
            if code.endswith(";"):
                n += 1
                open("%s/%d.sql" % (out, n), "w", encoding="utf-8").write("\n".join(stmt) + "\n")
                stmt = []
        if stmt:
            sys.exit("statement without a final ';' in the cookbook: " + " ".join(stmt))
        last_sql = n
    elif last_sql:
        open("%s/%d.want" % (out, last_sql), "w", encoding="utf-8").write("\n".join(body) + "\n")
        last_sql = None
    i = j + 1
print(n)
PY
}

# cookbook_norm FILE: psql's aligned output, alignment and times aside:
# cells trimmed, timestamps and dates as <time>, intervals as <interval>.
cookbook_norm() {
	python3 - "$1" <<'PY'
import re, sys
ts = re.compile(r"\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d(\.\d+)?)?([+-]\d\d(:\d\d)?)?")
interval = re.compile(r"^(-?\d+ days? ?)?(-?\d\d:\d\d:\d\d(\.\d+)?)?$")
for line in open(sys.argv[1], encoding="utf-8").read().strip("\n").split("\n"):
    if re.fullmatch(r"\s*-+(\+-+)*\s*", line):
        print("---")
        continue
    cells = []
    for cell in line.split("|"):
        cell = ts.sub("<time>", cell.strip())
        if cell and interval.fullmatch(cell):
            cell = "<interval>"
        cells.append(cell)
    print(" | ".join(cells))
PY
}

# cookbook_run DIR N: runs DIR/N.sql after the SET statements before it
# (SET TIME ZONE), as a merchant's psql session would, into DIR/N.got.
cookbook_run() {
	local dir=$1 n=$2 k
	local -a pre=()
	for k in $(seq 1 $((n - 1))); do
		grep -qi '^SET ' "$dir/$k.sql" && pre+=(-c "$(cat "$dir/$k.sql")")
	done
	psql -X -q -P pager=off -v ON_ERROR_STOP=1 -d payhook_test "${pre[@]}" \
		-c "$(cat "$dir/$n.sql")" >"$dir/$n.got" 2>&1
}

# cookbook_check DIR COUNT: for each statement: it runs, and matches
# README's output where README shows one. Prints the failures and
# returns 1 when there is one.
cookbook_check() {
	local dir=$1 count=$2 n bad=0
	for n in $(seq 1 "$count"); do
		if ! cookbook_run "$dir" "$n"; then
			echo "statement $n failed: $(tr '\n' ' ' <"$dir/$n.sql")"
			sed 's/^/    /' "$dir/$n.got"
			bad=1
			continue
		fi
		[ -f "$dir/$n.want" ] || continue
		if ! diff -u <(cookbook_norm "$dir/$n.want") <(cookbook_norm "$dir/$n.got") \
			>"$dir/$n.diff"; then
			echo "statement $n: output differs from README (- README, + psql): $(tr '\n' ' ' <"$dir/$n.sql")"
			sed 's/^/    /' "$dir/$n.diff"
			bad=1
		fi
	done
	return "$bad"
}

# --- the demo's deliveries through lighttpd ---------------------------------------
pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
# The demo's made-up keys, as demo/run configures them.
cat >"$work/payhook.conf" <<CONF
database = $PH_TEST_CONNINFO
steppay_v1_token = demo-token
steppay_v2_secret = demo-steppay-v2-key-not-a-secret
nicepay_secret_key = demo-nicepay-key-not-a-secret
CONF
chmod 0640 "$work/payhook.conf"
lighttpd_start "$top_builddir/cgi-bin/steppay-v1.fcgi" /payhook/steppay-v1 \
	handler:/payhook/steppay-v2="$top_builddir/cgi-bin/steppay-v2.fcgi" \
	handler:/payhook/nicepay="$top_builddir/cgi-bin/nicepay.fcgi" \
	PAYHOOK_CONFIG="$work/payhook.conf" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"

env -u DEMO_STEPPAY_V1_TOKEN -u DEMO_STEPPAY_V2_SECRET -u DEMO_NICEPAY_SECRET_KEY \
	"$top_srcdir/demo/send" "$LIGHTTPD_URL/payhook" >"$work/send.out" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "demo/send: every delivery answered as expected"
[ "$rc" = 0 ] || diag "$(cat "$work/send.out")"

# --- the cookbook -------------------------------------------------------------------
mkdir "$work/readme"
count=$(cookbook_split "$readme" "$work/readme")
like "$count" '^[0-9]+$' "README's cookbook section parsed"
count=${count//[^0-9]/}
ok "README's cookbook has at least 10 statements ($count)" test "${count:-0}" -ge 10
shown=$(find "$work/readme" -name '*.want' | wc -l)
ok "README shows the output of at least 10 of them ($shown)" test "$shown" -ge 10
if cookbook_check "$work/readme" "$count" >"$work/check.out"; then
	tap_result 0 "every cookbook statement runs and gives README's output"
else
	tap_result 1 "every cookbook statement runs and gives README's output"
	diag "$(cat "$work/check.out")"
fi

# --- the comparison can fail ---------------------------------------------------------
# README with one amount of a shown output changed: the check must say so.
mkdir "$work/wrong"
: >"$work/wrong.out"
python3 - "$readme" "$work/README-wrong.md" <<'PY' && rc=0 || rc=$?
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
head, sep, tail = text.partition("## psql cookbook")
# The NicePay card payment's amount, 27500, in the first output block
# (a fence without a language) that shows it.
lines, lang, done = tail.split("\n"), None, False
for i, line in enumerate(lines):
    if line.startswith("```"):
        lang = line[3:].strip() if lang is None else None
    elif lang == "" and not done and re.search(r"\b27500\b", line):
        lines[i] = re.sub(r"\b27500\b", "27600", line, count=1)
        done = True
if not done:
    sys.exit("no amount 27500 in the cookbook's outputs")
tail = "\n".join(lines)
open(sys.argv[2], "w", encoding="utf-8").write(head + sep + tail)
PY
is "$rc" 0 "README's cookbook shows the NicePay card payment's amount, 27500"
count_wrong=$(cookbook_split "$work/README-wrong.md" "$work/wrong") || count_wrong=0
if [ "$rc" != 0 ] || cookbook_check "$work/wrong" "$count_wrong" >"$work/wrong.out"; then
	tap_result 1 "a README output with a wrong amount fails the check"
else
	tap_result 0 "a README output with a wrong amount fails the check"
fi
like "$(cat "$work/wrong.out")" 'output differs from README' "... and names the difference"

tap_done
